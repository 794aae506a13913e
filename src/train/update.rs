//! The one update rule every trainer uses.

use super::schedule::{LearningRateSchedule, MomentumSchedule};
use super::{FitConfig, StepContext};
use crate::params::{BlockKind, Parameters};
use crate::{Error, Float, Result};

/// Gradient descent with classic momentum and weight decay, checked.
///
/// For every parameter θ with loss gradient g:
///
/// ```text
/// g'       = g + λ₂·θ + λ₁·sign(θ)      (decay terms on weight blocks only, unless decay_biases)
/// velocity ← μ·velocity − ε·g'
/// θ        ← θ + velocity
/// ```
///
/// ε and μ may follow a [`LearningRateSchedule`] and a [`MomentumSchedule`]
/// (`FitConfig::learning_rate_schedule`, `momentum_schedule`): the driver hands each step the
/// rule [`at`](Self::at) that step, so trainers see plain values.
///
/// The update is all-or-nothing: if any new parameter would be NaN or infinite, no parameter is
/// changed and [`Error::Diverged`] names the epoch, batch and block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateRule<T: Float> {
    learning_rate: T,
    momentum: T,
    weight_decay: T,
    l1: T,
    decay_biases: bool,
    schedule: Schedule,
}

/// The schedules of a rule and what they are evaluated from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Schedule {
    learning_rate: f64,
    momentum: f64,
    lr: LearningRateSchedule,
    mu: MomentumSchedule,
    total_steps: u64,
}

impl<T: Float> UpdateRule<T> {
    /// The rule configured by `config` (checked).
    ///
    /// The values are checked both as given (`f64`) and after rounding to `T`, so that, say, a
    /// learning rate that rounds to 0 or ∞ in `f32`, or a momentum that rounds to 1, is
    /// rejected rather than silently changing the run.
    pub fn from_config(config: &FitConfig) -> Result<Self> {
        config.check()?;
        let rule = Self {
            learning_rate: T::of_f64(config.learning_rate),
            momentum: T::of_f64(config.momentum),
            weight_decay: T::of_f64(config.weight_decay),
            l1: T::of_f64(config.l1),
            decay_biases: config.decay_biases,
            schedule: Schedule {
                learning_rate: config.learning_rate,
                momentum: config.momentum,
                lr: config.learning_rate_schedule,
                mu: config.momentum_schedule,
                total_steps: 0,
            },
        };
        if !(rule.learning_rate.finite() && rule.learning_rate > T::zero()) {
            return Err(Error::InvalidLearningRate(config.learning_rate));
        }
        if rule.momentum >= T::one() {
            return Err(Error::InvalidMomentum(config.momentum));
        }
        if let MomentumSchedule::Switch { initial, .. } = config.momentum_schedule {
            if T::of_f64(initial) >= T::one() {
                return Err(Error::InvalidMomentum(initial));
            }
        }
        for (name, value, rounded) in [
            ("weight_decay", config.weight_decay, rule.weight_decay),
            ("l1", config.l1, rule.l1),
        ] {
            if !rounded.finite() {
                return Err(Error::InvalidPenalty { name, value });
            }
        }
        Ok(rule)
    }

    /// The rule with its schedules evaluated at step `step` (counted from 0 over the whole run)
    /// of epoch `epoch`: the learning rate and momentum that step uses. A rule without
    /// schedules is returned as it is.
    pub fn at(&self, epoch: usize, step: u64) -> Self {
        let s = &self.schedule;
        if s.lr == LearningRateSchedule::Constant && s.mu == MomentumSchedule::Constant {
            return *self;
        }
        Self {
            learning_rate: T::of_f64(s.learning_rate * s.lr.factor(epoch, step, s.total_steps)),
            momentum: T::of_f64(s.mu.momentum(s.momentum, epoch)),
            ..*self
        }
    }

    /// The number of steps in the run, for [`LearningRateSchedule::LinearToZero`].
    pub(crate) fn with_total_steps(mut self, total_steps: u64) -> Self {
        self.schedule.total_steps = total_steps;
        self
    }

    /// Whether a schedule needs the run's length.
    pub(crate) fn needs_total_steps(&self) -> bool {
        self.schedule.lr == LearningRateSchedule::LinearToZero
    }

    /// The learning rate (of this step, after [`at`](Self::at)).
    pub fn learning_rate(&self) -> T {
        self.learning_rate
    }

    /// The momentum (of this step, after [`at`](Self::at)).
    pub fn momentum(&self) -> T {
        self.momentum
    }

    /// The rule's coefficients for a block of kind `kind`.
    pub(crate) fn block_rule(&self, kind: BlockKind) -> BlockRule<T> {
        let decay = kind == BlockKind::Weights || self.decay_biases;
        let (l2, l1) = if decay {
            (self.weight_decay, self.l1)
        } else {
            (T::zero(), T::zero())
        };
        BlockRule {
            lr: self.learning_rate,
            mu: self.momentum,
            l2,
            l1,
        }
    }

    /// Applies the update for `grad` to `params`, carrying `velocity` (same shapes).
    pub fn apply<P: Parameters<Scalar = T>>(
        &self,
        params: &mut P,
        grad: &P,
        velocity: &mut P,
        ctx: StepContext,
    ) -> Result<()> {
        for b in 0..params.n_blocks() {
            let rule = self.block_rule(params.block_kind(b));
            let theta = params.block(b);
            let ok =
                crate::kernels::velocity_block(&rule, theta, grad.block(b), velocity.block_mut(b));
            if !ok {
                return Err(Error::Diverged {
                    epoch: ctx.epoch,
                    batch: ctx.batch,
                    block: params.block_name(b),
                });
            }
        }
        params.add_assign(velocity);
        Ok(())
    }
}

/// The coefficients of an [`UpdateRule`] for one parameter block (decay already resolved).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockRule<T> {
    lr: T,
    mu: T,
    l2: T,
    l1: T,
}

impl<T: Float> BlockRule<T> {
    /// One parameter: `vel ← μ·vel − ε·(g + λ₂θ + λ₁ sign θ)`; returns the new value θ + vel.
    #[inline(always)]
    pub(crate) fn step(&self, th: T, g: T, vel: &mut T) -> T {
        let mut g = g + self.l2 * th;
        if self.l1 != T::zero() && th != T::zero() {
            g += if th > T::zero() { self.l1 } else { -self.l1 };
        }
        *vel = self.mu * *vel - self.lr * g;
        th + *vel
    }

    /// The velocity of [`step`](Self::step) over a block (θ and the gradient only read).
    /// Returns `false` if any new value θ + vel is NaN or infinite.
    #[inline(always)]
    pub(crate) fn velocity_block(&self, theta: &[T], grad: &[T], vel: &mut [T]) -> bool {
        let mut ok = true;
        let values = vel.iter_mut().zip(grad).zip(theta);
        if self.l1 == T::zero() {
            // `step` without its L1 term, which adds nothing then: a loop without branches.
            let (lr, mu, l2) = (self.lr, self.mu, self.l2);
            for ((v, &g), &th) in values {
                *v = mu * *v - lr * (g + l2 * th);
                ok &= (th + *v).finite();
            }
        } else {
            for ((v, &g), &th) in values {
                ok &= self.step(th, g, v).finite();
            }
        }
        ok
    }

    /// [`step`](Self::step) over a block: `grad_then_new` holds the gradient on entry and the
    /// new values on return. Returns `false` if any new value is NaN or infinite.
    #[inline(always)]
    pub(crate) fn step_block(&self, theta: &[T], grad_then_new: &mut [T], vel: &mut [T]) -> bool {
        let mut ok = true;
        let values = grad_then_new.iter_mut().zip(vel.iter_mut()).zip(theta);
        if self.l1 == T::zero() {
            // `step` without its L1 term, which adds nothing then: a loop without branches.
            let (lr, mu, l2) = (self.lr, self.mu, self.l2);
            for ((g, v), &th) in values {
                *v = mu * *v - lr * (*g + l2 * th);
                *g = th + *v;
                ok &= g.finite();
            }
        } else {
            for ((g, v), &th) in values {
                *g = self.step(th, *g, v);
                ok &= g.finite();
            }
        }
        ok
    }
}

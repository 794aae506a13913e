//! Learning-rate and momentum schedules (Hinton 2010, "A practical guide to training RBMs",
//! §§4, 9; Tieleman 2008 for the linear decay to zero).
//!
//! A schedule is a pure function of where the step sits in the run — its epoch and its index
//! among all the run's steps, both counted from 0 — so a run resumed from a checkpoint (which
//! records both) takes exactly the steps of the uninterrupted run.

use crate::{Error, Result};

/// How the learning rate ε of [`FitConfig::learning_rate`](crate::FitConfig::learning_rate)
/// changes over a run: step `s` of epoch `e` uses ε·factor(e, s).
///
/// ```
/// use rbms::train::LearningRateSchedule;
/// let total = 100; // steps in the run
/// assert_eq!(LearningRateSchedule::Constant.factor(7, 70, total), 1.0);
/// assert_eq!(LearningRateSchedule::LinearToZero.factor(5, 75, total), 0.25);
/// assert_eq!(LearningRateSchedule::Exponential { gamma: 0.5 }.factor(3, 30, total), 0.125);
/// let step = LearningRateSchedule::Step { every: 4, factor: 0.1 };
/// assert_eq!((step.factor(3, 0, total), step.factor(4, 0, total)), (1.0, 0.1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum LearningRateSchedule {
    /// ε throughout (the default).
    #[default]
    Constant,
    /// ε·(1 − s/S) at step s of a run of S steps (`epochs` × minibatches per epoch): down to
    /// ε/S at the last step, as in Tieleman's PCD experiments. Needs the run's length, so
    /// [`OnlineFit`](crate::OnlineFit) refuses it. S comes from `FitConfig::epochs`: a
    /// resumed run continues the same decay when given the same number of epochs.
    LinearToZero,
    /// ε·γᵉ in epoch e; γ in (0, 1].
    Exponential {
        /// Factor per epoch.
        gamma: f64,
    },
    /// ε·factor^⌊e / every⌋: multiplied by `factor` ∈ (0, 1] every `every` epochs.
    Step {
        /// Epochs between changes (≥ 1).
        every: usize,
        /// Factor at each change (finite, > 0).
        factor: f64,
    },
}

impl LearningRateSchedule {
    /// The factor at step `step` (of `total_steps`) in epoch `epoch`.
    pub fn factor(&self, epoch: usize, step: u64, total_steps: u64) -> f64 {
        match *self {
            Self::Constant => 1.0,
            Self::LinearToZero => {
                if total_steps == 0 {
                    1.0
                } else {
                    // (S − s)/S rather than 1 − s/S: exact at the last step, ε/S
                    total_steps.saturating_sub(step) as f64 / total_steps as f64
                }
            }
            Self::Exponential { gamma } => gamma.powi(epoch.min(i32::MAX as usize) as i32),
            Self::Step { every, factor } => {
                factor.powi((epoch / every.max(1)).min(i32::MAX as usize) as i32)
            }
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::InvalidParameter {
                name: "learning_rate_schedule",
                reason,
            })
        };
        match *self {
            Self::Exponential { gamma } if !(gamma > 0.0 && gamma <= 1.0) => {
                bad(format!("gamma must lie in (0, 1] (a decay), got {gamma}"))
            }
            Self::Step { every: 0, .. } => bad("every must be >= 1, got 0".into()),
            Self::Step { factor, .. } if !(factor > 0.0 && factor <= 1.0) => {
                bad(format!("factor must lie in (0, 1] (a decay), got {factor}"))
            }
            _ => Ok(()),
        }
    }
}

/// How the momentum μ of [`FitConfig::momentum`](crate::FitConfig::momentum) changes over a
/// run.
///
/// ```
/// use rbms::train::MomentumSchedule;
/// // Hinton's guide: 0.5 for the first epochs, then 0.9 (the configured momentum)
/// let m = MomentumSchedule::Switch { initial: 0.5, epochs: 5 };
/// assert_eq!((m.momentum(0.9, 4), m.momentum(0.9, 5)), (0.5, 0.9));
/// assert_eq!(MomentumSchedule::Constant.momentum(0.9, 0), 0.9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum MomentumSchedule {
    /// μ throughout (the default).
    #[default]
    Constant,
    /// `initial` in epochs `0 .. epochs`, then μ.
    Switch {
        /// The momentum of the first epochs, in `[0, 1)`.
        initial: f64,
        /// How many epochs use `initial`.
        epochs: usize,
    },
}

impl MomentumSchedule {
    /// The momentum in epoch `epoch`, given the configured final momentum.
    pub fn momentum(&self, momentum: f64, epoch: usize) -> f64 {
        match *self {
            Self::Constant => momentum,
            Self::Switch { initial, epochs } => {
                if epoch < epochs {
                    initial
                } else {
                    momentum
                }
            }
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        match *self {
            Self::Switch { initial, .. } if !(0.0..1.0).contains(&initial) => {
                Err(Error::InvalidMomentum(initial))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_decay_reaches_lr_over_total_at_the_last_step() {
        let s = LearningRateSchedule::LinearToZero;
        assert_eq!(s.factor(0, 0, 50), 1.0);
        assert_eq!(s.factor(9, 49, 50), 1.0 / 50.0);
        assert_eq!(s.factor(10, 60, 50), 0.0);
    }

    #[test]
    fn bad_schedules_are_refused() {
        for s in [
            LearningRateSchedule::Exponential { gamma: 0.0 },
            LearningRateSchedule::Exponential { gamma: f64::NAN },
            LearningRateSchedule::Step {
                every: 0,
                factor: 0.5,
            },
            LearningRateSchedule::Step {
                every: 2,
                factor: -1.0,
            },
        ] {
            assert!(s.check().is_err(), "{s:?}");
        }
        assert!(MomentumSchedule::Switch {
            initial: 1.0,
            epochs: 2
        }
        .check()
        .is_err());
    }
}

//! A sparsity target for the hidden units of an energy model, for any trainer (Hinton 2010,
//! "A practical guide to training RBMs", §11).
//!
//! [`Sparse`] wraps a trainer. Each step it first updates a moving average of each hidden
//! unit's activation on the minibatch, q ← λ·q + (1 − λ)·mean_n p(hⱼ = 1 | vₙ), then lets the
//! wrapped trainer take its step, then moves the hidden biases and the weights down the
//! gradient of the penalty, whose derivative with respect to unit j's total input is
//! cost·(qⱼ − target):
//!
//! ```text
//! cⱼ   ← cⱼ   − ε·cost·(qⱼ − target)
//! Wⱼᵢ  ← Wⱼᵢ  − ε·cost·(qⱼ − target)·mean_n vᵢₙ
//! ```
//!
//! with ε the step's learning rate (after any schedule), without momentum. The guide suggests
//! λ between 0.9 and 0.99 and a target of 0.01 to 0.1; pair it with
//! [`HiddenBiasInit::FromTarget`](crate::train::HiddenBiasInit) to start the hidden biases at
//! logit(target).

use super::{Resumable, RunRng, StepContext, Trainer, UpdateRule};
use crate::energy::EnergyModel;
use crate::params::{LayerParams, Model};
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView, DVector};
use num_traits::{One, Zero};

/// The settings of a hidden-unit sparsity target.
///
/// The target is for the mean of the hidden units, E\[h\]: for binary units a probability of
/// being on; for [`Spin`](crate::units::Spin) units a mean spin in (−1, 1) would be needed,
/// and a target in (0, 1) does not make them sparse (nor does
/// [`HiddenBiasInit::FromTarget`](crate::train::HiddenBiasInit), a logit, suit them): use the
/// sparsity target with binary hidden units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HiddenSparsity {
    /// The target activation p, in `(0, 1)`.
    pub target: f64,
    /// The penalty's weight (finite, ≥ 0).
    pub cost: f64,
    /// λ of the moving average, in `[0, 1)`. Default 0.95.
    pub decay: f64,
}

impl HiddenSparsity {
    /// A target `target` with weight `cost` and λ = 0.95.
    pub fn new(target: f64, cost: f64) -> Self {
        Self {
            target,
            cost,
            decay: 0.95,
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !(self.target > 0.0 && self.target < 1.0) {
            return bad(
                "sparsity.target",
                format!("must lie in (0, 1), got {}", self.target),
            );
        }
        if !(self.cost.is_finite() && self.cost >= 0.0) {
            return bad(
                "sparsity.cost",
                format!("must be finite and >= 0, got {}", self.cost),
            );
        }
        if !(0.0..1.0).contains(&self.decay) {
            return bad(
                "sparsity.decay",
                format!("must lie in [0, 1), got {}", self.decay),
            );
        }
        Ok(())
    }
}

/// A trainer with a hidden sparsity target (see the [module docs](self)).
///
/// ```
/// use rbms::train::{HiddenSparsity, Sparse};
/// use rbms::{datasets, FitConfig, MetricsConfig, PersistentCd, Rbm};
/// let data = datasets::digits_scaled::<f32>().head(200)?;
/// let sparse = Sparse::new(PersistentCd::new(1, 10), HiddenSparsity::new(0.05, 1.0));
/// let mut rbm = Rbm::<f32>::new(64, 32)?;
/// let config = FitConfig::default().epochs(2).metrics(MetricsConfig::none());
/// let report = rbm.fit(&data, &sparse, &config)?;
/// assert!(report.trainer.starts_with("PCD-1 (10 chains) + sparsity"));
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sparse<Tr> {
    /// The wrapped trainer.
    pub trainer: Tr,
    /// The target.
    pub sparsity: HiddenSparsity,
}

impl<Tr> Sparse<Tr> {
    /// `trainer` with a sparsity target.
    pub fn new(trainer: Tr, sparsity: HiddenSparsity) -> Self {
        Self { trainer, sparsity }
    }
}

/// State of [`Sparse`]: the wrapped trainer's state, the moving averages q and a workspace.
#[derive(Debug, Clone)]
pub struct SparseState<S, T: Float> {
    inner: S,
    activity: DVector<T>,
    hidden: DMatrix<T>,
}

impl<S, T: Float> SparseState<S, T> {
    /// The wrapped trainer's state.
    pub fn inner(&self) -> &S {
        &self.inner
    }
    /// The moving averages q of the hidden activations (length `n_hidden`).
    pub fn mean_activity(&self) -> &DVector<T> {
        &self.activity
    }
    /// A state from its parts; the workspace is allocated at the first step.
    #[cfg(feature = "serde")]
    pub(crate) fn from_parts(inner: S, activity: DVector<T>) -> Self {
        Self {
            inner,
            activity,
            hidden: DMatrix::zeros(0, 0),
        }
    }
}

impl<M, Tr> Trainer<M> for Sparse<Tr>
where
    M: EnergyModel<Params = LayerParams<<M as Model>::Scalar>>,
    Tr: Trainer<M>,
{
    type State = SparseState<Tr::State, M::Scalar>;

    fn name(&self) -> String {
        let s = &self.sparsity;
        format!(
            "{} + sparsity (target {}, cost {}, decay {})",
            self.trainer.name(),
            s.target,
            s.cost,
            s.decay
        )
    }

    fn check(&self) -> Result<()> {
        self.sparsity.check()?;
        self.trainer.check()
    }

    /// The wrapped trainer's state, then q = the mean of p(h | v) over `data` (no draw from
    /// `rng` besides the wrapped trainer's).
    fn init_state(
        &self,
        model: &M,
        data: &Dataset<M::Scalar>,
        batch_size: usize,
        rng: &mut RunRng,
    ) -> Result<Self::State> {
        let inner = self.trainer.init_state(model, data, batch_size, rng)?;
        let h = model.hidden_probabilities(data.samples())?;
        let n = M::Scalar::of_usize(h.ncols());
        let activity = DVector::from_iterator(h.nrows(), h.row_iter().map(|r| r.sum() / n));
        Ok(SparseState {
            inner,
            activity,
            hidden: DMatrix::zeros(model.n_hidden(), batch_size),
        })
    }

    fn step(
        &self,
        model: &mut M,
        batch: DMatrixView<'_, M::Scalar>,
        state: &mut Self::State,
        rule: &UpdateRule<M::Scalar>,
        rng: &mut RunRng,
        ctx: StepContext,
    ) -> Result<Option<f64>> {
        type S<M> = <M as Model>::Scalar;
        let b = batch.ncols();
        let nh = model.n_hidden();
        if state.hidden.nrows() != nh || state.hidden.ncols() < b {
            state.hidden = DMatrix::zeros(nh, b);
        }
        if state.activity.len() != nh {
            return Err(Error::ShapeMismatch {
                what: "sparsity moving averages",
                expected: (nh, 1),
                found: (state.activity.len(), 1),
            });
        }
        model.hidden_probabilities_into(batch, state.hidden.columns_mut(0, b))?;
        let lambda = S::<M>::of_f64(self.sparsity.decay);
        let keep = S::<M>::one() - lambda;
        let inv_b = S::<M>::one() / S::<M>::of_usize(b);
        for (j, q) in state.activity.iter_mut().enumerate() {
            let mut s = S::<M>::zero();
            for k in 0..b {
                s += state.hidden[(j, k)];
            }
            *q = lambda * *q + keep * (s * inv_b);
        }
        let loss = self
            .trainer
            .step(model, batch, &mut state.inner, rule, rng, ctx)?;
        if self.sparsity.cost == 0.0 {
            return Ok(loss);
        }
        let step = rule.learning_rate() * S::<M>::of_f64(self.sparsity.cost);
        let target = S::<M>::of_f64(self.sparsity.target);
        let nv = model.n_visible();
        let p = model.params_mut();
        // All or nothing: check every new value before writing any.
        let delta = |j: usize| step * (state.activity[j] - target);
        let mean_v = |i: usize| {
            let mut s = S::<M>::zero();
            for k in 0..b {
                s += batch[(i, k)];
            }
            s * inv_b
        };
        let mut finite = true;
        for j in 0..nh {
            finite &= (p.hidden_bias[j] - delta(j)).finite();
        }
        for i in 0..nv {
            let m = mean_v(i);
            for j in 0..nh {
                finite &= (p.weights[(j, i)] - delta(j) * m).finite();
            }
        }
        if !finite {
            return Err(Error::Diverged {
                epoch: ctx.epoch,
                batch: ctx.batch,
                block: "sparsity penalty",
            });
        }
        for j in 0..nh {
            p.hidden_bias[j] -= delta(j);
        }
        for i in 0..nv {
            let m = mean_v(i);
            for j in 0..nh {
                p.weights[(j, i)] -= delta(j) * m;
            }
        }
        Ok(loss)
    }

    fn diagnostics(&self, state: &Self::State) -> Vec<(String, f64)> {
        let mut d = self.trainer.diagnostics(&state.inner);
        let q = &state.activity;
        if !q.is_empty() {
            let mean = q.iter().map(|x| x.as_f64()).sum::<f64>() / q.len() as f64;
            d.push(("mean_hidden_activity".into(), mean));
        }
        d
    }
}

impl<M, Tr> Resumable<M> for Sparse<Tr>
where
    M: EnergyModel<Params = LayerParams<<M as Model>::Scalar>>,
    Tr: Resumable<M>,
{
    fn check_state(&self, model: &M, state: &Self::State) -> Result<()> {
        self.trainer.check_state(model, &state.inner)?;
        if state.activity.len() != model.n_hidden() {
            return Err(Error::ResumeMismatch {
                what: "sparsity moving averages",
                reason: format!(
                    "{} values for {} hidden units",
                    state.activity.len(),
                    model.n_hidden()
                ),
            });
        }
        Ok(())
    }
}

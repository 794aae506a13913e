//! Stochastic gradient descent on an autoencoder's reconstruction objective.

use super::{RunRng, StepContext, Trainer, UpdateRule};
use crate::autoencoder::{Autoencoder, Noise, Penalties, Sparsity};
use crate::params::Parameters;
use crate::{Dataset, Error, Result};
use nalgebra::{DMatrix, DMatrixView};

/// Minibatch gradient descent on an [`Autoencoder`]'s objective: the mean reconstruction loss
/// plus optional [`Penalties`], with optional input corruption ([`Noise`]) for denoising.
///
/// Each step corrupts the minibatch (if noise is on, drawing from the run's RNG), computes the
/// objective against the clean minibatch and its gradient, and hands the gradient to the
/// [`UpdateRule`] shared with every trainer: learning rate, momentum, weight decay and L1 come
/// from [`FitConfig`](crate::FitConfig), exactly as for the RBM trainers. The step reports the
/// objective, so each epoch's [`train_loss`](crate::train::EpochReport::train_loss) is its
/// mean. A non-finite objective stops the run with [`Error::Diverged`] (block `"objective"`).
///
/// `Sgd` trains autoencoders only: an [`Rbm`](crate::Rbm) has no reconstruction loss to
/// descend (it is not trained to reconstruct: p(v | h) is a distribution, not a fitted
/// output), so `rbm.fit(&data, &Sgd::new(), ..)` does not
/// compile; see [`crate::autoencoder`].
///
/// ```
/// use rbms::{Noise, Sgd};
/// let sgd = Sgd::new()
///     .noise(Noise::Masking { fraction: 0.3 })
///     .contractive(0.1)
///     .sparsity(0.05, 0.5);
/// assert_eq!(sgd.penalties.contractive, 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sgd {
    /// Input corruption. Default none.
    pub noise: Noise,
    /// Penalties added to the loss. Default none.
    pub penalties: Penalties,
}

impl Sgd {
    /// Plain SGD on the reconstruction loss: no noise, no penalty.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the input corruption.
    pub fn noise(mut self, noise: Noise) -> Self {
        self.noise = noise;
        self
    }
    /// Sets the contractive penalty weight λ.
    pub fn contractive(mut self, lambda: f64) -> Self {
        self.penalties.contractive = lambda;
        self
    }
    /// Sets the sparsity penalty: target mean activation ρ and weight β.
    pub fn sparsity(mut self, target: f64, weight: f64) -> Self {
        self.penalties.sparsity = Some(Sparsity { target, weight });
        self
    }
}

/// State of [`Sgd`]: velocity, gradient, the corrupted minibatch and the model's workspace.
#[derive(Debug, Clone)]
pub struct SgdState<P: Parameters, W> {
    velocity: P,
    grad: P,
    corrupted: DMatrix<P::Scalar>,
    workspace: W,
}

impl<P: Parameters, W> SgdState<P, W> {
    /// The momentum velocity carried between steps.
    pub fn velocity(&self) -> &P {
        &self.velocity
    }
}

impl<M: Autoencoder> Trainer<M> for Sgd {
    type State = SgdState<M::Params, M::Workspace>;

    fn name(&self) -> String {
        let mut name = "SGD".to_string();
        match self.noise {
            Noise::None => {}
            Noise::Masking { fraction } => name += &format!(", masking {fraction}"),
            Noise::Gaussian { std } => name += &format!(", Gaussian noise {std}"),
            Noise::SaltAndPepper { fraction } => name += &format!(", salt-and-pepper {fraction}"),
        }
        if self.penalties.contractive != 0.0 {
            name += &format!(", contractive {}", self.penalties.contractive);
        }
        if let Some(s) = self.penalties.sparsity {
            name += &format!(", sparsity {} (weight {})", s.target, s.weight);
        }
        name
    }

    fn check(&self) -> Result<()> {
        self.noise.check()?;
        self.penalties.checked::<M::Scalar>().map(|_| ())
    }

    fn init_state(
        &self,
        model: &M,
        data: &Dataset<M::Scalar>,
        batch_size: usize,
        _rng: &mut RunRng,
    ) -> Result<Self::State> {
        let corrupted = if self.noise.is_none() {
            DMatrix::zeros(0, 0)
        } else {
            DMatrix::zeros(data.n_features(), batch_size)
        };
        Ok(SgdState {
            velocity: model.params().zeros_like(),
            grad: model.params().zeros_like(),
            corrupted,
            workspace: model.workspace(batch_size),
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
        let b = batch.ncols();
        let input = if self.noise.is_none() {
            batch
        } else {
            if state.corrupted.nrows() != batch.nrows() || state.corrupted.ncols() < b {
                state.corrupted = DMatrix::zeros(batch.nrows(), b);
            }
            self.noise
                .corrupt_into(batch, state.corrupted.columns_mut(0, b), rng)?;
            state.corrupted.columns(0, b)
        };
        let objective = model.objective_gradient_into(
            input,
            batch,
            &self.penalties,
            &mut state.workspace,
            &mut state.grad,
        )?;
        let total = objective.total();
        if !total.is_finite() {
            return Err(Error::Diverged {
                epoch: ctx.epoch,
                batch: ctx.batch,
                block: "objective",
            });
        }
        rule.apply(model.params_mut(), &state.grad, &mut state.velocity, ctx)?;
        Ok(Some(total))
    }
}

impl<P: Parameters, W: Default> SgdState<P, W> {
    /// A state with this velocity; the buffers are allocated at the first step.
    #[cfg(feature = "serde")]
    pub(crate) fn from_velocity(velocity: P) -> Self {
        Self {
            grad: velocity.zeros_like(),
            velocity,
            corrupted: DMatrix::zeros(0, 0),
            workspace: W::default(),
        }
    }
}

//! Autoencoders: deterministic models trained to reconstruct their input by gradient descent
//! on a loss, with the [`Sgd`](crate::Sgd) trainer.
//!
//! # Autoencoder or RBM?
//!
//! An autoencoder maps an input x to a code h = σ(Wx + c) and back to a reconstruction
//! r = f(Wᵀh + b), and is trained to make r close to x: reconstruction is its objective, and r
//! is a deterministic output it was fitted to produce. An [`Rbm`](crate::Rbm) models the
//! distribution p(v); it is trained on the log-likelihood gradient, and what it "reconstructs"
//! is the conditional distribution p(v | h), a distribution over inputs rather than an output
//! fitted to them ([`Rbm::reconstruct`](crate::Rbm::reconstruct) reports its mean-field
//! summary). The trainers follow from that: [`Sgd`](crate::Sgd) needs a differentiable loss
//! (the [`Autoencoder`] capability) and CD/PCD need a free energy and Gibbs sampling (the
//! [`EnergyModel`](crate::EnergyModel) capability), so the wrong pairing does not compile.
//!
//! The right pairings compile and run:
//!
//! ```
//! use rbms::{datasets, ContrastiveDivergence, Decoder, FitConfig, Loss, Rbm, Sgd, TiedAutoencoder};
//! let data = datasets::digits_scaled::<f32>().head(100).unwrap();
//! let config = FitConfig::default().epochs(1);
//! let mut rbm = Rbm::<f32>::new(64, 16).unwrap();
//! rbm.fit(&data, &ContrastiveDivergence::new(1), &config).unwrap();
//! let mut ae = TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
//! ae.fit(&data, &Sgd::new(), &config).unwrap();
//! ```
//!
//! The two snippets below are that program with the trainers exchanged, and nothing else
//! changed, so they fail to compile only because of the pairing (error E0277: the trait bound
//! `Rbm<f32>: Autoencoder`, respectively `TiedAutoencoder<f32>: EnergyModel`, is not
//! satisfied). `Sgd` cannot train an `Rbm`:
//!
//! ```compile_fail,E0277
//! use rbms::{datasets, ContrastiveDivergence, Decoder, FitConfig, Loss, Rbm, Sgd, TiedAutoencoder};
//! let data = datasets::digits_scaled::<f32>().head(100).unwrap();
//! let config = FitConfig::default().epochs(1);
//! let mut rbm = Rbm::<f32>::new(64, 16).unwrap();
//! rbm.fit(&data, &Sgd::new(), &config).unwrap();
//! let mut ae = TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
//! ae.fit(&data, &Sgd::new(), &config).unwrap();
//! ```
//!
//! and contrastive divergence cannot train a `TiedAutoencoder`:
//!
//! ```compile_fail,E0277
//! use rbms::{datasets, ContrastiveDivergence, Decoder, FitConfig, Loss, Rbm, Sgd, TiedAutoencoder};
//! let data = datasets::digits_scaled::<f32>().head(100).unwrap();
//! let config = FitConfig::default().epochs(1);
//! let mut rbm = Rbm::<f32>::new(64, 16).unwrap();
//! rbm.fit(&data, &ContrastiveDivergence::new(1), &config).unwrap();
//! let mut ae = TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
//! ae.fit(&data, &ContrastiveDivergence::new(1), &config).unwrap();
//! ```

mod noise;
mod tied;

pub use noise::Noise;
pub use tied::{TiedAutoencoder, TiedWorkspace};

use crate::params::{Model, Parameters};
use crate::{Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};

/// The decoder's output activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Decoder {
    /// r = σ(z): outputs in (0, 1), for data in `[0, 1]`.
    Sigmoid,
    /// r = z: real-valued outputs, for real-valued (e.g. standardised) data.
    Identity,
}

/// The per-sample reconstruction loss, summed over features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Loss {
    /// Σᵢ (rᵢ − xᵢ)².
    SquaredError,
    /// Binary cross-entropy −Σᵢ [xᵢ log rᵢ + (1 − xᵢ) log(1 − rᵢ)] for a sigmoid decoder,
    /// computed from the pre-activation z as Σᵢ softplus(zᵢ) − xᵢzᵢ (no log 0, finite for every
    /// finite z). Needs targets in `[0, 1]` and [`Decoder::Sigmoid`].
    CrossEntropy,
}

/// A sparsity penalty: β·Σⱼ KL(ρ ‖ ρ̂ⱼ), where ρ̂ⱼ is hidden unit j's mean activation over the
/// minibatch and KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sparsity {
    /// The target mean activation ρ, in (0, 1).
    pub target: f64,
    /// The penalty weight β ≥ 0.
    pub weight: f64,
}

/// The optional penalties added to the mean reconstruction loss of a minibatch.
///
/// The objective of a minibatch X of b samples (encoder input X̃, the corrupted X when noise is
/// on) is
///
/// ```text
/// J = (1/b)·Σₙ loss(xₙ, r(x̃ₙ))  +  λ·(1/b)·Σₙ ‖∂h/∂x (x̃ₙ)‖²_F  +  β·Σⱼ KL(ρ ‖ ρ̂ⱼ)
/// ```
///
/// L2 weight decay is not here: it belongs to the update rule shared with every trainer
/// ([`FitConfig::weight_decay`](crate::FitConfig::weight_decay), which adds λ₂W to the
/// gradient of the weights, the gradient of (λ₂/2)‖W‖²).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Penalties {
    /// The contractive weight λ ≥ 0 (Rifai et al. 2011). For a sigmoid encoder,
    /// ‖∂h/∂x‖²_F = Σⱼ (hⱼ(1 − hⱼ))² Σᵢ Wⱼᵢ², in closed form. Default 0 (off).
    pub contractive: f64,
    /// The sparsity penalty, if any. Default `None`.
    pub sparsity: Option<Sparsity>,
}

/// The penalties as checked values of the model's scalar type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedPenalties<T> {
    pub(crate) contractive: T,
    /// (ρ, β) when on.
    pub(crate) sparsity: Option<(T, T)>,
}

impl Penalties {
    /// Checks the settings: weights finite and ≥ 0, sparsity target in (0, 1).
    pub fn check(&self) -> Result<()> {
        self.checked::<f64>().map(|_| ())
    }

    /// The values in `T`, checked both as given and after rounding (so that, say, a target of
    /// 1 − 1e−10 that rounds to 1 in `f32` is rejected).
    pub(crate) fn checked<T: Float>(&self) -> Result<CheckedPenalties<T>> {
        let weight = |name: &'static str, value: f64| {
            // 2λ enters the gradient: it must be finite in `T` too.
            if value.is_finite() && value >= 0.0 && T::of_f64(2.0 * value).finite() {
                Ok(T::of_f64(value))
            } else {
                Err(Error::InvalidPenalty { name, value })
            }
        };
        let contractive = weight("contractive", self.contractive)?;
        let sparsity = match self.sparsity {
            None => None,
            Some(Sparsity { target, weight: w }) => {
                let rho = T::of_f64(target);
                if !(target > 0.0 && target < 1.0 && rho > T::zero() && rho < T::one()) {
                    return Err(Error::InvalidParameter {
                        name: "sparsity target",
                        reason: format!("must lie in (0, 1) in {}, got {target}", T::NAME),
                    });
                }
                Some((rho, weight("sparsity weight", w)?))
            }
        };
        Ok(CheckedPenalties {
            contractive,
            sparsity,
        })
    }
}

/// The value of a minibatch objective, by part (see [`Penalties`]); all in `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Objective {
    /// Mean reconstruction loss per sample, against the clean target.
    pub loss: f64,
    /// The contractive term λ·(1/b)·Σₙ ‖∂h/∂x‖²_F (0 when off).
    pub contractive: f64,
    /// The sparsity term β·Σⱼ KL(ρ ‖ ρ̂ⱼ) (0 when off).
    pub sparsity: f64,
}

impl Objective {
    /// The whole objective: loss plus penalties.
    pub fn total(&self) -> f64 {
        self.loss + self.contractive + self.sparsity
    }
}

/// A model that reconstructs its input and has a differentiable reconstruction loss: what the
/// [`Sgd`](crate::Sgd) trainer needs.
///
/// Matrices hold **one sample per column**, as everywhere in the crate. The `_into` methods
/// write into caller-provided buffers and check shapes only; the allocating methods also check
/// values.
pub trait Autoencoder: Model {
    /// Buffers the gradient computation reuses from step to step.
    type Workspace: Send;

    /// Input (and reconstruction) size.
    fn n_visible(&self) -> usize;
    /// Code size.
    fn n_hidden(&self) -> usize;
    /// The reconstruction loss the model is trained on.
    fn loss_kind(&self) -> Loss;
    /// Checks that `v` (`n_visible × n`) can be encoded: the right shape, not empty, finite.
    /// (Corrupted inputs may leave the data's range, so no range is required.)
    fn check_input(&self, v: &DMatrix<Self::Scalar>) -> Result<()>;
    /// Checks that `v` can be a reconstruction target: [`check_input`](Self::check_input) and
    /// the domain the loss needs (`[0, 1]` for cross-entropy). Training data must pass this.
    fn check_target(&self, v: &DMatrix<Self::Scalar>) -> Result<()>;

    /// Writes the code h(v) of each column of `v` into `out` (`n_hidden × n`).
    fn encode_into(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        out: DMatrixViewMut<'_, Self::Scalar>,
    ) -> Result<()>;
    /// Writes the decoder's output for each column of `h` into `out` (`n_visible × n`).
    fn decode_into(
        &self,
        h: DMatrixView<'_, Self::Scalar>,
        out: DMatrixViewMut<'_, Self::Scalar>,
    ) -> Result<()>;

    /// Fresh buffers for minibatches of up to `batch` samples (they grow if needed).
    fn workspace(&self, batch: usize) -> Self::Workspace;

    /// Computes the minibatch objective J (see [`Penalties`]) of encoding `input` and
    /// reconstructing `target` (both `n_visible × b`; `target` is the clean data, `input` is
    /// what the encoder sees), and writes ∇_θ J into `grad` (overwriting it).
    ///
    /// Checks shapes only. With extreme parameters the objective or the gradient can overflow;
    /// the result then holds infinities or NaN, which [`Sgd`](crate::Sgd) turns into
    /// [`Error::Diverged`] and
    /// [`objective_gradient`](Self::objective_gradient) into
    /// [`Error::NonFinite`].
    fn objective_gradient_into(
        &self,
        input: DMatrixView<'_, Self::Scalar>,
        target: DMatrixView<'_, Self::Scalar>,
        penalties: &Penalties,
        workspace: &mut Self::Workspace,
        grad: &mut Self::Params,
    ) -> Result<Objective>;

    /// The loss of reconstructing each column of `v` from itself (no noise, no penalty), in
    /// `f64` (allocating; checks `v`).
    fn loss_per_sample(&self, v: &DMatrix<Self::Scalar>) -> Result<DVector<f64>>;

    /// The code h(v) of each column of `v` (allocating; checks `v`).
    fn encode(&self, v: &DMatrix<Self::Scalar>) -> Result<DMatrix<Self::Scalar>> {
        self.check_input(v)?;
        let mut out = DMatrix::zeros(self.n_hidden(), v.ncols());
        self.encode_into(v.as_view(), out.as_view_mut())?;
        Ok(out)
    }

    /// The decoder's output for each column of `h` (allocating; checks that `h` is finite).
    fn decode(&self, h: &DMatrix<Self::Scalar>) -> Result<DMatrix<Self::Scalar>> {
        crate::data::check_finite("codes", h.as_slice(), h.nrows())?;
        let mut out = DMatrix::zeros(self.n_visible(), h.ncols());
        self.decode_into(h.as_view(), out.as_view_mut())?;
        Ok(out)
    }

    /// The reconstruction decode(encode(v)) of each column of `v` (allocating; checks `v`).
    fn reconstruct(&self, v: &DMatrix<Self::Scalar>) -> Result<DMatrix<Self::Scalar>> {
        let h = self.encode(v)?;
        let mut out = DMatrix::zeros(self.n_visible(), v.ncols());
        self.decode_into(h.as_view(), out.as_view_mut())?;
        Ok(out)
    }

    /// The objective and its gradient for `input` and `target` (allocating; checks both).
    /// This is the function to finite-difference when checking a gradient.
    fn objective_gradient(
        &self,
        input: &DMatrix<Self::Scalar>,
        target: &DMatrix<Self::Scalar>,
        penalties: &Penalties,
    ) -> Result<(Objective, Self::Params)> {
        self.check_input(input)?;
        self.check_target(target)?;
        let mut ws = self.workspace(input.ncols());
        let mut grad = self.params().zeros_like();
        let objective = self.objective_gradient_into(
            input.as_view(),
            target.as_view(),
            penalties,
            &mut ws,
            &mut grad,
        )?;
        let total = objective.total();
        if !total.is_finite() {
            return Err(Error::NonFinite {
                what: "objective (the parameters are too extreme for the scalar type)",
                sample: 0,
                feature: 0,
                value: total,
            });
        }
        if let Some(block) = grad.first_non_finite_block() {
            return Err(Error::NonFinite {
                what: block,
                sample: 0,
                feature: 0,
                value: f64::NAN,
            });
        }
        Ok((objective, grad))
    }
}

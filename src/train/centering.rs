//! Centering (Montavon & Müller 2012; Melchior, Fischer & Wiskott 2016).
//!
//! A centered RBM has the energy
//!
//! ```text
//! E_c(v, h) = −bᵀ(v − μ) − cᵀ(h − λ) − (h − λ)ᵀ W (v − μ)
//! ```
//!
//! with offsets μ (visible) and λ (hidden). Expanding it gives a plain RBM with the same W and
//! biases b − Wᵀλ and c − Wμ, plus a constant that cancels in Z: the two define the same p(v)
//! ([`CenteredParams::to_plain`], [`CenteredParams::from_plain`]). What changes is the
//! gradient: taken with respect to the centered parameters it is
//!
//! ```text
//! ∇W = ⟨(h − λ)(v − μ)ᵀ⟩_data − ⟨(h − λ)(v − μ)ᵀ⟩_model,   ∇b = ⟨v⟩_d − ⟨v⟩_m,   ∇c = ⟨h⟩_d − ⟨h⟩_m
//! ```
//!
//! which is better conditioned when μ and λ are the units' means (Melchior et al. 2016,
//! Algorithm 1, with μ the data mean and λ a moving average of the hidden means on the data).
//! The model itself stays a plain RBM: [`centered_update`] takes the step in centered
//! coordinates and writes the equivalent change of the plain parameters.

use super::{StepContext, UpdateRule};
use crate::energy::{EnergyModel, GradientTerm};
use crate::params::{LayerParams, Parameters};
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView, DVector};
use num_traits::{One, Zero};

/// Centering settings of a trainer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Centering {
    /// Rate ν of the hidden offset's moving average, in `(0, 1]`:
    /// λ ← (1 − ν)·λ + ν·mean(p(h | v_batch)) after each update. Default 0.01.
    pub hidden_rate: f64,
}

impl Default for Centering {
    fn default() -> Self {
        Self { hidden_rate: 0.01 }
    }
}

impl Centering {
    pub(crate) fn check(&self) -> Result<()> {
        if !(self.hidden_rate > 0.0 && self.hidden_rate <= 1.0) {
            return Err(Error::InvalidParameter {
                name: "centering.hidden_rate",
                reason: format!("must lie in (0, 1], got {}", self.hidden_rate),
            });
        }
        Ok(())
    }
}

/// The offsets μ (visible, length `n_visible`) and λ (hidden, length `n_hidden`) of a
/// centered model.
#[derive(Debug, Clone, PartialEq)]
pub struct Offsets<T: Float> {
    pub(crate) visible: DVector<T>,
    pub(crate) hidden: DVector<T>,
}

impl<T: Float> Offsets<T> {
    /// Offsets from given values (finite).
    pub fn new(visible: DVector<T>, hidden: DVector<T>) -> Result<Self> {
        crate::data::check_finite("visible offset", visible.as_slice(), visible.len())?;
        crate::data::check_finite("hidden offset", hidden.as_slice(), hidden.len())?;
        Ok(Self { visible, hidden })
    }

    /// μ = the mean of the data, λ = the mean of p(h | v) over the data.
    pub fn from_data<M: EnergyModel<Scalar = T>>(model: &M, data: &Dataset<T>) -> Result<Self> {
        let h = model.hidden_probabilities(data.samples())?;
        let n = T::of_usize(h.ncols());
        let hidden = DVector::from_iterator(h.nrows(), h.row_iter().map(|r| r.sum() / n));
        Ok(Self {
            visible: data.feature_means(),
            hidden,
        })
    }

    /// The visible offset μ.
    pub fn visible(&self) -> &DVector<T> {
        &self.visible
    }

    /// The hidden offset λ.
    pub fn hidden(&self) -> &DVector<T> {
        &self.hidden
    }

    /// λ ← (1 − ν)·λ + ν·(mean over the columns of `hidden`).
    pub(crate) fn update_hidden(&mut self, hidden: DMatrixView<'_, T>, rate: f64) {
        let nu = T::of_f64(rate);
        let keep = T::one() - nu;
        let n = T::of_usize(hidden.ncols());
        for (j, l) in self.hidden.iter_mut().enumerate() {
            let mut s = T::zero();
            for k in 0..hidden.ncols() {
                s += hidden[(j, k)];
            }
            *l = keep * *l + nu * (s / n);
        }
    }

    fn check_against(&self, nv: usize, nh: usize) -> Result<()> {
        if self.visible.len() != nv {
            return Err(Error::ShapeMismatch {
                what: "visible offset",
                expected: (nv, 1),
                found: (self.visible.len(), 1),
            });
        }
        if self.hidden.len() != nh {
            return Err(Error::ShapeMismatch {
                what: "hidden offset",
                expected: (nh, 1),
                found: (self.hidden.len(), 1),
            });
        }
        Ok(())
    }
}

/// The parameters of a centered RBM (see the [module docs](self)).
///
/// ```
/// use rbms::train::{CenteredParams, Offsets};
/// use rbms::Rbm;
/// use nalgebra::{DMatrix, DVector};
/// let rbm = Rbm::<f64>::from_parameters(
///     DMatrix::from_row_slice(1, 2, &[1.0, -2.0]),
///     DVector::from_vec(vec![0.5, 0.0]),
///     DVector::from_vec(vec![0.25]),
/// )?;
/// let offsets = Offsets::new(DVector::from_vec(vec![0.5, 0.5]), DVector::from_vec(vec![0.3]))?;
/// let centered = CenteredParams::from_plain(&rbm, offsets)?;
/// // c_centered = c + Wμ = 0.25 + (0.5 − 1.0)
/// assert!((centered.hidden_bias()[0] - (-0.25)).abs() < 1e-15);
/// let back = centered.to_plain()?;
/// assert!((back.visible_bias() - rbm.visible_bias()).norm() < 1e-15);
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CenteredParams<T: Float> {
    weights: DMatrix<T>,
    visible_bias: DVector<T>,
    hidden_bias: DVector<T>,
    offsets: Offsets<T>,
}

impl<T: Float> CenteredParams<T> {
    /// Centered parameters from their values: `weights` is `n_hidden × n_visible`, the biases
    /// and offsets have the layers' lengths; all finite.
    pub fn new(
        weights: DMatrix<T>,
        visible_bias: DVector<T>,
        hidden_bias: DVector<T>,
        offsets: Offsets<T>,
    ) -> Result<Self> {
        let checked = LayerParams::new(weights, visible_bias, hidden_bias)?;
        offsets.check_against(checked.weights.ncols(), checked.weights.nrows())?;
        Ok(Self {
            weights: checked.weights,
            visible_bias: checked.visible_bias,
            hidden_bias: checked.hidden_bias,
            offsets,
        })
    }

    /// The centered model with these offsets and the same p(v) as `model`:
    /// W, b + Wᵀλ, c + Wμ.
    pub fn from_plain(model: &crate::Rbm<T>, offsets: Offsets<T>) -> Result<Self> {
        let w = model.weights();
        offsets.check_against(w.ncols(), w.nrows())?;
        let visible_bias = model.visible_bias() + w.transpose() * &offsets.hidden;
        let hidden_bias = model.hidden_bias() + w * &offsets.visible;
        Self::new(w.clone(), visible_bias, hidden_bias, offsets)
    }

    /// The plain model with the same p(v): W, b − Wᵀλ, c − Wμ.
    pub fn to_plain(&self) -> Result<crate::Rbm<T>> {
        let w = &self.weights;
        let visible_bias = &self.visible_bias - w.transpose() * &self.offsets.hidden;
        let hidden_bias = &self.hidden_bias - w * &self.offsets.visible;
        crate::Rbm::from_parameters(w.clone(), visible_bias, hidden_bias)
    }

    /// E_c(v, h) = −bᵀ(v − μ) − cᵀ(h − λ) − (h − λ)ᵀW(v − μ).
    pub fn energy(&self, v: &DVector<T>, h: &DVector<T>) -> Result<T> {
        let (nh, nv) = self.weights.shape();
        for (what, len, expected) in [
            ("visible state", v.len(), nv),
            ("hidden state", h.len(), nh),
        ] {
            if len != expected {
                return Err(Error::ShapeMismatch {
                    what,
                    expected: (expected, 1),
                    found: (len, 1),
                });
            }
        }
        let dv = v - &self.offsets.visible;
        let dh = h - &self.offsets.hidden;
        Ok(-self.visible_bias.dot(&dv) - self.hidden_bias.dot(&dh) - dh.dot(&(&self.weights * dv)))
    }

    /// Weights W (`n_hidden × n_visible`).
    pub fn weights(&self) -> &DMatrix<T> {
        &self.weights
    }
    /// Centered visible biases b.
    pub fn visible_bias(&self) -> &DVector<T> {
        &self.visible_bias
    }
    /// Centered hidden biases c.
    pub fn hidden_bias(&self) -> &DVector<T> {
        &self.hidden_bias
    }
    /// The offsets.
    pub fn offsets(&self) -> &Offsets<T> {
        &self.offsets
    }
}

/// One centered update of a plain model (see the [module docs](self)).
///
/// With g the plain loss gradient of the two terms (as in
/// [`EnergyModel::contrastive_update`]), the centered gradient is
/// g_W − λ g_bᵀ − g_c μᵀ for the weights and g_b, g_c for the biases; `rule` turns it into a
/// velocity V in centered coordinates (momentum, and decay computed on W and on the plain
/// biases), and the plain parameters move by W += V_W, b += V_b − V_Wᵀλ, c += V_c − V_W μ,
/// which is the centered step with the offsets held fixed. All or nothing: if a new parameter
/// is not finite, [`Error::Diverged`] names the block and the model is unchanged.
///
/// The gradient comes from the model's
/// [`free_energy_gradient_into`](EnergyModel::free_energy_gradient_into); for an
/// [`Rbm`](crate::Rbm) its products go through `matrixmultiply`, which allocates a packing
/// buffer per product (the plain, fused update of small models does not).
#[allow(clippy::too_many_arguments)]
pub fn centered_update<M>(
    model: &mut M,
    a: GradientTerm<'_, M::Scalar>,
    b: GradientTerm<'_, M::Scalar>,
    offsets: &Offsets<M::Scalar>,
    rule: &UpdateRule<M::Scalar>,
    velocity: &mut LayerParams<M::Scalar>,
    scratch: &mut LayerParams<M::Scalar>,
    ctx: StepContext,
) -> Result<()>
where
    M: EnergyModel<Params = LayerParams<<M as crate::params::Model>::Scalar>>,
{
    type S<M> = <M as crate::params::Model>::Scalar;
    let (nv, nh) = (model.n_visible(), model.n_hidden());
    offsets.check_against(nv, nh)?;
    for (what, shape) in [
        ("velocity weights", velocity.weights.shape()),
        ("gradient weights", scratch.weights.shape()),
    ] {
        if shape != (nh, nv) {
            return Err(Error::ShapeMismatch {
                what,
                expected: (nh, nv),
                found: shape,
            });
        }
    }
    model.free_energy_gradient_into(a.visible, a.hidden, a.scale, S::<M>::zero(), scratch)?;
    model.free_energy_gradient_into(b.visible, b.hidden, b.scale, S::<M>::one(), scratch)?;
    let (mu, lambda) = (&offsets.visible, &offsets.hidden);
    {
        let LayerParams {
            weights,
            visible_bias,
            hidden_bias,
        } = scratch;
        for i in 0..nv {
            for j in 0..nh {
                weights[(j, i)] -= lambda[j] * visible_bias[i] + hidden_bias[j] * mu[i];
            }
        }
    }
    let params = model.params();
    for block in 0..params.n_blocks() {
        let r = rule.block_rule(params.block_kind(block));
        for ((vel, &g), &th) in velocity
            .block_mut(block)
            .iter_mut()
            .zip(scratch.block(block))
            .zip(params.block(block))
        {
            r.step(th, g, vel);
        }
    }
    let vw = &velocity.weights;
    for (k, new) in scratch.weights.iter_mut().enumerate() {
        *new = params.weights[k] + vw[k];
    }
    for i in 0..nv {
        let mut s = S::<M>::zero();
        for j in 0..nh {
            s += vw[(j, i)] * lambda[j];
        }
        scratch.visible_bias[i] = params.visible_bias[i] + velocity.visible_bias[i] - s;
    }
    for j in 0..nh {
        let mut s = S::<M>::zero();
        for i in 0..nv {
            s += vw[(j, i)] * mu[i];
        }
        scratch.hidden_bias[j] = params.hidden_bias[j] + velocity.hidden_bias[j] - s;
    }
    for block in 0..scratch.n_blocks() {
        if !scratch.block(block).iter().all(|x| x.finite()) {
            return Err(Error::Diverged {
                epoch: ctx.epoch,
                batch: ctx.batch,
                block: params.block_name(block),
            });
        }
    }
    std::mem::swap(model.params_mut(), scratch);
    Ok(())
}

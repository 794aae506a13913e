//! The [`EnergyModel`] trait: what contrastive-divergence trainers need from a model.

use crate::params::{Model, Parameters};
use crate::train::{StepContext, UpdateRule};
use crate::{Float, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};
use num_traits::{One, Zero};
use rand::Rng;

/// A model of p(v) = (1/Z) Σ_h exp(−E(v, h)) with a tractable free energy
/// F(v) = −log Σ_h exp(−E(v, h)), so that p(v) = exp(−F(v)) / Z, and factorial conditionals
/// p(h | v) and p(v | h) that can be sampled (block Gibbs sampling).
///
/// # The gradient identity
///
/// For a parameter θ, the gradient of the mean log-likelihood of data 𝒟 is
///
/// ```text
/// ∂/∂θ ⟨log p(v)⟩_𝒟 = −⟨∂F(v)/∂θ⟩_𝒟 + ⟨∂F(v)/∂θ⟩_p(v)
/// ```
///
/// (differentiate log p(v) = −F(v) − log Z and use ∂ log Z/∂θ = −⟨∂F/∂θ⟩ under the model).
/// Trainers therefore need only the gradient of the free energy, evaluated on data (the
/// positive phase) and on samples from the model (the negative phase): CD-k takes those
/// samples from k Gibbs steps started at the data, PCD from chains that persist across
/// updates. The trainers minimise the *loss* ⟨F⟩_𝒟 − ⟨F⟩_model, whose gradient is the
/// negative of the above.
///
/// # Layout and checking
///
/// Every matrix holds **one sample per column**: visible states are `n_visible × batch`,
/// hidden states `n_hidden × batch`. The `_into` methods write into caller-provided buffers
/// (the training loop allocates nothing) and check shapes, returning
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch); they do not scan values, which a
/// [`Dataset`](crate::Dataset) has already checked. The allocating convenience methods check
/// values too.
pub trait EnergyModel: Model {
    /// Number of visible units.
    fn n_visible(&self) -> usize;
    /// Number of hidden units.
    fn n_hidden(&self) -> usize;
    /// Checks that `v` (`n_visible × n`) has the right shape, is finite, and lies in the domain of
    /// the visible units.
    fn check_visible(&self, v: &DMatrix<Self::Scalar>) -> Result<()>;

    /// Whether `x` is a value the hidden units can take (a state or a conditional mean):
    /// `[0, 1]` for binary {0, 1} units, which this default assumes. Used to check restored
    /// persistent chains.
    fn hidden_value_in_domain(&self, x: Self::Scalar) -> bool {
        x >= Self::Scalar::zero() && x <= Self::Scalar::one()
    }

    /// Energy E(v, h) of each pair of columns of `v` and `h`.
    fn energy(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        h: DMatrixView<'_, Self::Scalar>,
    ) -> Result<DVector<Self::Scalar>>;

    /// Free energy F(v) = −log Σ_h exp(−E(v, h)) of each column of `v`.
    fn free_energy(&self, v: DMatrixView<'_, Self::Scalar>) -> Result<DVector<Self::Scalar>>;

    /// Writes E[h | v] (for binary hidden units, p(h = 1 | v)) for each column of `v` into `out`.
    fn hidden_probabilities_into(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        out: DMatrixViewMut<'_, Self::Scalar>,
    ) -> Result<()>;

    /// Writes E[v | h] (for binary visible units, p(v = 1 | h)) for each column of `h` into `out`.
    fn visible_probabilities_into(
        &self,
        h: DMatrixView<'_, Self::Scalar>,
        out: DMatrixViewMut<'_, Self::Scalar>,
    ) -> Result<()>;

    /// Samples h ~ p(h | v): writes the conditional means into `probs` and a sample into `states`.
    fn sample_hidden_into<R: Rng + ?Sized>(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        probs: DMatrixViewMut<'_, Self::Scalar>,
        states: DMatrixViewMut<'_, Self::Scalar>,
        rng: &mut R,
    ) -> Result<()>;

    /// Samples v ~ p(v | h): writes the conditional means into `probs` and a sample into `states`.
    fn sample_visible_into<R: Rng + ?Sized>(
        &self,
        h: DMatrixView<'_, Self::Scalar>,
        probs: DMatrixViewMut<'_, Self::Scalar>,
        states: DMatrixViewMut<'_, Self::Scalar>,
        rng: &mut R,
    ) -> Result<()>;

    /// Accumulates the gradient of the free energy summed over the columns of `v`:
    /// `grad ← beta·grad + scale · Σ_n ∇_θ F(v_n)`, where `hidden` must hold E[h | v]
    /// for the same columns (as computed by
    /// [`hidden_probabilities_into`](Self::hidden_probabilities_into)), so that the
    /// trainer's conditional means are reused rather than recomputed.
    ///
    /// With `scale = 1/n` this is the gradient of the mean free energy. `beta = 0` overwrites.
    fn free_energy_gradient_into(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        hidden: DMatrixView<'_, Self::Scalar>,
        scale: Self::Scalar,
        beta: Self::Scalar,
        grad: &mut Self::Params,
    ) -> Result<()>;

    /// One step of `rule` along the loss gradient
    /// `g = a.scale · Σ_n ∇_θ F(a.visible[:, n]) + b.scale · Σ_n ∇_θ F(b.visible[:, n])`:
    /// the contrastive-divergence update, with `a` the positive phase (data, scale `1/b`) and
    /// `b` the negative phase (model samples, scale `−1/m`).
    ///
    /// `velocity` is the rule's momentum; `scratch` is a workspace of the parameters' shape,
    /// whose contents on return are unspecified (it may even be exchanged with the
    /// parameters). The result is that of [`free_energy_gradient_into`] for `a` (with
    /// `beta = 0`), then for `b` (with `beta = 1`), into `scratch`, then
    /// [`UpdateRule::apply`], up to the order in which the products are summed; in
    /// particular the update is all-or-nothing, as `apply`'s. This default does exactly
    /// that; models may override it with a fused computation.
    ///
    /// [`free_energy_gradient_into`]: Self::free_energy_gradient_into
    fn contrastive_update(
        &mut self,
        a: GradientTerm<'_, Self::Scalar>,
        b: GradientTerm<'_, Self::Scalar>,
        rule: &UpdateRule<Self::Scalar>,
        velocity: &mut Self::Params,
        scratch: &mut Self::Params,
        ctx: StepContext,
    ) -> Result<()> {
        contrastive_update_unfused(self, a, b, rule, velocity, scratch, ctx)
    }

    /// Adds `delta` to the parameters: θ ← θ + δ.
    fn apply_update(&mut self, delta: &Self::Params) {
        self.params_mut().add_assign(delta);
    }

    /// E[h | v] for each column of `v` (allocating; checks `v`).
    fn hidden_probabilities(&self, v: &DMatrix<Self::Scalar>) -> Result<DMatrix<Self::Scalar>> {
        self.check_visible(v)?;
        let mut out = DMatrix::zeros(self.n_hidden(), v.ncols());
        self.hidden_probabilities_into(v.as_view(), out.as_view_mut())?;
        Ok(out)
    }

    /// E[v | h] for each column of `h` (allocating; checks that `h` is finite).
    fn visible_probabilities(&self, h: &DMatrix<Self::Scalar>) -> Result<DMatrix<Self::Scalar>> {
        crate::data::check_finite("hidden states", h.as_slice(), h.nrows())?;
        let mut out = DMatrix::zeros(self.n_visible(), h.ncols());
        self.visible_probabilities_into(h.as_view(), out.as_view_mut())?;
        Ok(out)
    }

    /// The gradient of the **mean** free energy over the columns of `v`,
    /// ∇_θ (1/n) Σ_n F(v_n) (allocating; checks `v`).
    fn free_energy_gradient(&self, v: &DMatrix<Self::Scalar>) -> Result<Self::Params> {
        self.check_visible(v)?;
        let hidden = self.hidden_probabilities(v)?;
        let mut grad = self.params().zeros_like();
        let scale = Self::Scalar::one() / Self::Scalar::of_usize(v.ncols());
        self.free_energy_gradient_into(
            v.as_view(),
            hidden.as_view(),
            scale,
            Self::Scalar::zero(),
            &mut grad,
        )?;
        Ok(grad)
    }
}

/// One term `scale · Σ_n ∇_θ F(visible[:, n])` of a loss gradient (see
/// [`EnergyModel::contrastive_update`]).
#[derive(Debug, Clone, Copy)]
pub struct GradientTerm<'a, T: Float> {
    /// The visible states, one per column.
    pub visible: DMatrixView<'a, T>,
    /// E[h | v] for the same columns (as computed by
    /// [`EnergyModel::hidden_probabilities_into`]).
    pub hidden: DMatrixView<'a, T>,
    /// The scale of the summed gradient.
    pub scale: T,
}

/// The default [`EnergyModel::contrastive_update`]: two gradient accumulations, then the rule.
pub(crate) fn contrastive_update_unfused<M: EnergyModel + ?Sized>(
    model: &mut M,
    a: GradientTerm<'_, M::Scalar>,
    b: GradientTerm<'_, M::Scalar>,
    rule: &UpdateRule<M::Scalar>,
    velocity: &mut M::Params,
    scratch: &mut M::Params,
    ctx: StepContext,
) -> Result<()> {
    let (zero, one) = (M::Scalar::zero(), M::Scalar::one());
    model.free_energy_gradient_into(a.visible, a.hidden, a.scale, zero, scratch)?;
    model.free_energy_gradient_into(b.visible, b.hidden, b.scale, one, scratch)?;
    rule.apply(model.params_mut(), scratch, velocity, ctx)
}

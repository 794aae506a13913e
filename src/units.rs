//! Unit kinds as types: an [`Rbm<T, V, H>`](crate::Rbm) has visible units of kind `V` and
//! hidden units of kind `H`, and everything generic in the crate (CD-k and PCD-k, the fit
//! driver, the observers, Gibbs sampling, the gradient checks) works for every combination
//! through these traits, by static dispatch (no per-element dynamic calls).
//! [`ParallelTempering`](crate::train::ParallelTempering) and
//! [`Sparse`](crate::train::Sparse) need parameters of the [`LayerParams`] kind: every
//! combination but learned σ ([`GaussianSigma`]), whose tempered conditionals exist
//! ([`Tempered`](crate::train::Tempered)) but which neither trains.
//!
//! | kind | layer | values | E[x \| input] | parameters |
//! | --- | --- | --- | --- | --- |
//! | [`Bernoulli`] | visible, hidden | {0, 1} (visible data may be probabilities in [0, 1]) | σ(input) | bias |
//! | [`Gaussian`] | visible | ℝ, unit variance (standardise the data) | bias + input | bias |
//! | [`GaussianSigma`] | visible | ℝ, learned per-unit σ, stored as log σ | bias + σ·input | bias, log σ |
//! | [`Spin`] | hidden | {−1, +1} | tanh(input) | bias |
//!
//! # The energy
//!
//! With σᵢ = 1 for Bernoulli and [`Gaussian`] units and σᵢ = exp(zᵢ) for [`GaussianSigma`]
//! (zᵢ = log σᵢ is the parameter, so σ stays positive whatever the update), the energy is
//!
//! ```text
//! E(v, h) = E_V(v) − cᵀh − Σᵢⱼ (vᵢ/σᵢ) Wⱼᵢ hⱼ,
//! E_V(v)  = −bᵀv                      (Bernoulli)
//!         = Σᵢ (vᵢ − bᵢ)² / (2σᵢ²)    (Gaussian, GaussianSigma)
//! ```
//!
//! so that p(hⱼ = 1 | v) = σ(cⱼ + Wⱼ·(v/σ)) and, for Gaussian units,
//! p(vᵢ | h) = N(bᵢ + σᵢ (Wᵀh)ᵢ, σᵢ²). The free energy sums the hidden layer out in closed
//! form: F(v) = E_V(v) − Σⱼ log Σ_{hⱼ} exp(xⱼhⱼ) with xⱼ = cⱼ + Wⱼ·(v/σ): softplus(xⱼ) for
//! Bernoulli hidden units, log(2 cosh xⱼ) for [`Spin`] units.
//!
//! The exact log Z and AIS exist for every combination (for [`Spin`] hidden units through
//! the binary-hidden model with the same p(v), `Rbm::to_binary_hidden`), the
//! pseudo-likelihood for Bernoulli visible units; CD-k, PCD-k, the fit driver, Gibbs
//! sampling, the free-energy gap and the gradient checks work for every combination.
//!
//! # Learning rates
//!
//! Gaussian visible units have unbounded values and a quadratic energy: the gradient with
//! respect to the weights grows with |v|, and the negative phase can run away. Use learning
//! rates about 10–100 times smaller than for Bernoulli units (e.g. 0.001–0.005 where a
//! Bernoulli RBM uses 0.05–0.1) on standardised data (see
//! [`Standardizer`](crate::Standardizer)); [`GaussianSigma`] is more fragile still (a σ that
//! shrinks makes v/σ large). A rate that is too large ends the run with
//! [`Error::Diverged`], keeping the last finite parameters.

use crate::data::check_unit_interval;
use crate::math::{gemm_at_b, logit_clipped, softplus};
use crate::params::{BlockKind, LayerParams, Parameters};
use crate::rbm::{add_bias_sigmoid, sample_bernoulli};
use crate::{Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt::Debug;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Bernoulli {}
    impl Sealed for super::Gaussian {}
    impl Sealed for super::GaussianSigma {}
    impl Sealed for super::Spin {}
    impl<T: crate::Float> Sealed for crate::params::LayerParams<T> {}
    impl<T: crate::Float> Sealed for super::GaussianParams<T> {}
}

/// Gaussian visible units ([`Gaussian`], [`GaussianSigma`]): the kinds for which the exact
/// log Z and the Gaussian AIS of [`crate::rbm::gaussian`] are defined. Sealed.
pub trait GaussianUnits<T: Float>: VisibleUnits<T> {}
impl<T: Float> GaussianUnits<T> for Gaussian {}
impl<T: Float> GaussianUnits<T> for GaussianSigma {}

/// Binary units with values in {0, 1}: E[x | input] = σ(input). As visible units they accept
/// data in `[0, 1]` (probabilities, e.g. grey levels).
///
/// A state is sampled as 1 when a uniform draw on a grid of step 2⁻²⁴ (`f32`) or 2⁻⁵² (`f64`)
/// in `[0, 1)` is below its probability, so a probability p is sampled with a frequency within
/// one step of p: any 0 < p < 2⁻²⁴ ≈ 6·10⁻⁸ gives 1 at the rate 2⁻²⁴ in `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bernoulli;

/// Binary hidden units with values in {−1, +1}: E[h | x] = tanh(x), p(h = +1 | x) = σ(2x),
/// log Σ_h exp(xh) = log(2 cosh x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spin;

/// Real-valued visible units with unit variance: p(vᵢ | h) = N(bᵢ + (Wᵀh)ᵢ, 1). The data
/// should be standardised (zero mean, unit variance per feature; see
/// [`Standardizer`](crate::Standardizer)). Any finite value is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gaussian;

/// Real-valued visible units with a learned standard deviation per unit:
/// p(vᵢ | h) = N(bᵢ + σᵢ (Wᵀh)ᵢ, σᵢ²), σᵢ = exp(zᵢ) with zᵢ = log σᵢ the parameter (block
/// `log_sigma`). Any finite value is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GaussianSigma;

/// The parameter set of an RBM whose visible units are of some kind: the layer's weights and
/// biases ([`LayerParams`]) and, for [`GaussianSigma`], the log standard deviations.
/// Sealed: implemented by [`LayerParams`] and [`GaussianParams`].
pub trait UnitParams<T: Float>:
    Parameters<Scalar = T> + Debug + PartialEq + sealed::Sealed + 'static
{
    /// All-zero parameters (σ = 1) for `n_visible` visible and `n_hidden` hidden units.
    fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self>;
    /// Weights `W` and biases `b`, `c`.
    fn layer(&self) -> &LayerParams<T>;
    /// Weights `W` and biases `b`, `c`, mutably.
    fn layer_mut(&mut self) -> &mut LayerParams<T>;
    /// log σ per visible unit, when learned.
    fn log_sigma(&self) -> Option<&DVector<T>>;
}

impl<T: Float> UnitParams<T> for LayerParams<T> {
    fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self> {
        LayerParams::zeros(n_visible, n_hidden)
    }
    fn layer(&self) -> &LayerParams<T> {
        self
    }
    fn layer_mut(&mut self) -> &mut LayerParams<T> {
        self
    }
    fn log_sigma(&self) -> Option<&DVector<T>> {
        None
    }
}

/// The parameters of an RBM with [`GaussianSigma`] visible units: the layer (`weights`,
/// `visible_bias`, `hidden_bias`) and `log_sigma` (log σ per visible unit), in that block
/// order. The `log_sigma` block is a [`BlockKind::Bias`]: weight decay does not apply to it
/// unless biases decay too.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianParams<T: Float> {
    pub(crate) layer: LayerParams<T>,
    pub(crate) log_sigma: DVector<T>,
}

impl<T: Float> GaussianParams<T> {
    /// Checked parameters: `layer` as [`LayerParams::new`] checks it and `log_sigma` of length
    /// `n_visible`, finite.
    pub fn new(layer: LayerParams<T>, log_sigma: DVector<T>) -> Result<Self> {
        let nv = layer.weights.ncols();
        if log_sigma.len() != nv {
            return Err(Error::ShapeMismatch {
                what: "log_sigma (n_visible)",
                expected: (nv, 1),
                found: (log_sigma.len(), 1),
            });
        }
        crate::data::check_finite("log_sigma", log_sigma.as_slice(), nv)?;
        Ok(Self { layer, log_sigma })
    }
    /// The layer's weights and biases.
    pub fn layer(&self) -> &LayerParams<T> {
        &self.layer
    }
    /// log σ per visible unit.
    pub fn log_sigma(&self) -> &DVector<T> {
        &self.log_sigma
    }
}

impl<T: Float> Parameters for GaussianParams<T> {
    type Scalar = T;
    fn n_blocks(&self) -> usize {
        4
    }
    fn block_name(&self, i: usize) -> &'static str {
        ["weights", "visible_bias", "hidden_bias", "log_sigma"][i]
    }
    fn block_kind(&self, i: usize) -> BlockKind {
        if i == 0 {
            BlockKind::Weights
        } else {
            BlockKind::Bias
        }
    }
    fn block(&self, i: usize) -> &[T] {
        match i {
            3 => self.log_sigma.as_slice(),
            _ => self.layer.block(i),
        }
    }
    fn block_mut(&mut self, i: usize) -> &mut [T] {
        match i {
            3 => self.log_sigma.as_mut_slice(),
            _ => self.layer.block_mut(i),
        }
    }
    fn zeros_like(&self) -> Self {
        Self {
            layer: self.layer.zeros_like(),
            log_sigma: DVector::zeros(self.log_sigma.len()),
        }
    }
}

impl<T: Float> UnitParams<T> for GaussianParams<T> {
    fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self> {
        Ok(Self {
            layer: LayerParams::zeros(n_visible, n_hidden)?,
            log_sigma: DVector::zeros(n_visible),
        })
    }
    fn layer(&self) -> &LayerParams<T> {
        &self.layer
    }
    fn layer_mut(&mut self) -> &mut LayerParams<T> {
        &mut self.layer
    }
    fn log_sigma(&self) -> Option<&DVector<T>> {
        Some(&self.log_sigma)
    }
}

/// A kind of visible unit: its domain, its part E_V(v) of the energy, its conditional given
/// the hidden layer, and the gradients of its own parameters. Sealed. See the
/// [module docs](self) for the energy these functions implement.
pub trait VisibleUnits<T: Float>:
    Debug + Clone + Copy + PartialEq + Default + Send + Sync + sealed::Sealed + 'static
{
    /// The model's parameter set.
    type Params: UnitParams<T>;
    /// A short name, e.g. `"bernoulli"`.
    const NAME: &'static str;
    /// `true` for binary {0, 1} units: pseudo-likelihood is defined, the base-rate AIS and
    /// exact enumeration of the visible layer apply.
    const BINARY: bool;

    /// Checks that every value of `v` lies in the units' domain (finiteness is checked
    /// elsewhere): `[0, 1]` for Bernoulli units, anything for Gaussian ones.
    fn check_domain(what: &'static str, v: &DMatrix<T>) -> Result<()>;

    /// 1/σ per visible unit when σ is not 1 (the hidden layer sees v/σ), else `None`.
    fn inverse_sigma(params: &Self::Params) -> Option<DVector<T>>;

    /// The visible part E_V(v) of the energy of sample (column) `n` of `v`.
    fn energy(v: &DMatrixView<'_, T>, n: usize, params: &Self::Params) -> T;

    /// Turns `out`, holding Wᵀh, into E[v | h] in place.
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, params: &Self::Params);

    /// Samples v ~ p(v | h) given the conditional means `means` (from
    /// [`mean_in_place`](Self::mean_in_place)) into `states`.
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        states: DMatrixViewMut<'_, T>,
        params: &Self::Params,
        rng: &mut R,
    ) -> Result<()>;

    /// Accumulates the gradient of Σₙ F(vₙ) with respect to the visible parameters (the
    /// visible biases, and log σ if learned): `g ← beta·g + scale·Σₙ ∂F(vₙ)/∂θ`, with `hidden`
    /// holding E[h | vₙ].
    fn gradient_into(
        v: &DMatrixView<'_, T>,
        hidden: &DMatrixView<'_, T>,
        scale: T,
        beta: T,
        params: &Self::Params,
        grad: &mut Self::Params,
    );

    /// Initial visible biases (and σ) from the feature means and standard deviations of the
    /// training data.
    fn initialize_from_data(params: &mut Self::Params, means: &DVector<T>, stds: &DVector<T>);

    /// A value to start a Gibbs chain from noise: 0 or 1 with probability ½ for Bernoulli
    /// units, a standard normal draw for Gaussian ones.
    fn noise<R: Rng + ?Sized>(rng: &mut R) -> T;
}

/// A kind of hidden unit: E[h | input] and its log-partition log Σ_h exp(input·h), whose
/// derivative is that mean. Sealed: [`Bernoulli`] and [`Spin`].
pub trait HiddenUnits<T: Float>:
    Debug + Clone + Copy + PartialEq + Default + Send + Sync + sealed::Sealed + 'static
{
    /// A short name, e.g. `"bernoulli"`.
    const NAME: &'static str;
    /// `true` when E[h | input] = σ(input) (the crate's fused sigmoid kernels apply).
    const SIGMOID: bool;
    /// Whether `x` lies in the range of the unit's states (`[0, 1]` for Bernoulli units,
    /// `[−1, 1]` for spins): what a state or a conditional mean can be.
    fn in_domain(x: T) -> bool;
    /// log Σ_h exp(x·h) over the unit's states (softplus(x) for Bernoulli units).
    fn log_partition(x: T) -> T;
    /// x ← E[h | x + bias], column by column.
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, bias: &DVector<T>);
    /// Samples h given its conditional means.
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        states: DMatrixViewMut<'_, T>,
        rng: &mut R,
    ) -> Result<()>;
}

impl<T: Float> HiddenUnits<T> for Bernoulli {
    const NAME: &'static str = "bernoulli";
    const SIGMOID: bool = true;
    fn in_domain(x: T) -> bool {
        x >= T::zero() && x <= T::one()
    }
    #[inline]
    fn log_partition(x: T) -> T {
        softplus(x)
    }
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, bias: &DVector<T>) {
        add_bias_sigmoid(out, bias);
    }
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        states: DMatrixViewMut<'_, T>,
        rng: &mut R,
    ) -> Result<()> {
        sample_bernoulli(means, states, rng)
    }
}

impl<T: Float> HiddenUnits<T> for Spin {
    const NAME: &'static str = "spin";
    const SIGMOID: bool = false;
    fn in_domain(x: T) -> bool {
        x >= -T::one() && x <= T::one()
    }
    /// log(e^x + e^−x) = |x| + log1p(e^{−2|x|}).
    #[inline]
    fn log_partition(x: T) -> T {
        let a = x.abs();
        a + (-(a + a)).exp().ln_1p()
    }
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, bias: &DVector<T>) {
        for mut col in out.column_iter_mut() {
            for (x, &c) in col.iter_mut().zip(bias.iter()) {
                *x = (*x + c).tanh();
            }
        }
    }
    /// +1 when a uniform draw is `< (1 + m)/2` (m the mean), else −1; one draw per value in
    /// column-major order.
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        mut states: DMatrixViewMut<'_, T>,
        rng: &mut R,
    ) -> Result<()> {
        if means.shape() != states.shape() {
            return Err(Error::ShapeMismatch {
                what: "sample buffer",
                expected: means.shape(),
                found: states.shape(),
            });
        }
        let half = T::of_f64(0.5);
        for (mc, mut sc) in means.column_iter().zip(states.column_iter_mut()) {
            for (&m, s) in mc.iter().zip(sc.iter_mut()) {
                *s = if T::uniform01(rng) < half * (T::one() + m) {
                    T::one()
                } else {
                    -T::one()
                };
            }
        }
        Ok(())
    }
}

impl<T: Float> VisibleUnits<T> for Bernoulli {
    type Params = LayerParams<T>;
    const NAME: &'static str = "bernoulli";
    const BINARY: bool = true;

    fn check_domain(what: &'static str, v: &DMatrix<T>) -> Result<()> {
        check_unit_interval(what, v)
    }
    fn inverse_sigma(_: &LayerParams<T>) -> Option<DVector<T>> {
        None
    }
    fn energy(v: &DMatrixView<'_, T>, n: usize, params: &LayerParams<T>) -> T {
        -params.visible_bias.dot(&v.column(n))
    }
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, params: &LayerParams<T>) {
        add_bias_sigmoid(out, &params.visible_bias);
    }
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        states: DMatrixViewMut<'_, T>,
        _: &LayerParams<T>,
        rng: &mut R,
    ) -> Result<()> {
        sample_bernoulli(means, states, rng)
    }
    /// ∂F/∂b = −v.
    fn gradient_into(
        v: &DMatrixView<'_, T>,
        _: &DMatrixView<'_, T>,
        scale: T,
        beta: T,
        _: &LayerParams<T>,
        grad: &mut LayerParams<T>,
    ) {
        crate::math::row_sums_into(v, -scale, beta, &mut grad.visible_bias);
    }
    /// b = logit(p̄) with p̄ clipped to [1e-3, 1 − 1e-3].
    fn initialize_from_data(params: &mut LayerParams<T>, means: &DVector<T>, _: &DVector<T>) {
        let eps = T::of_f64(1e-3);
        for (b, m) in params.visible_bias.iter_mut().zip(means.iter()) {
            *b = logit_clipped(*m, eps);
        }
    }
    fn noise<R: Rng + ?Sized>(rng: &mut R) -> T {
        crate::data::bernoulli(T::of_f64(0.5), rng)
    }
}

/// states ← means + σ ⊙ z with z standard normal (drawn as `f64` from `rng`, one per value in
/// column-major order, then rounded to `T`).
fn sample_normal<T: Float, R: Rng + ?Sized>(
    means: DMatrixView<'_, T>,
    mut states: DMatrixViewMut<'_, T>,
    sigma: Option<&DVector<T>>,
    rng: &mut R,
) -> Result<()> {
    if means.shape() != states.shape() {
        return Err(Error::ShapeMismatch {
            what: "sample buffer",
            expected: means.shape(),
            found: states.shape(),
        });
    }
    for (mc, mut sc) in means.column_iter().zip(states.column_iter_mut()) {
        for (i, (&m, s)) in mc.iter().zip(sc.iter_mut()).enumerate() {
            let z: f64 = StandardNormal.sample(rng);
            let sd = sigma.map_or(T::one(), |s| s[i]);
            *s = m + sd * T::of_f64(z);
        }
    }
    Ok(())
}

impl<T: Float> VisibleUnits<T> for Gaussian {
    type Params = LayerParams<T>;
    const NAME: &'static str = "gaussian";
    const BINARY: bool = false;

    fn check_domain(_: &'static str, _: &DMatrix<T>) -> Result<()> {
        Ok(())
    }
    fn inverse_sigma(_: &LayerParams<T>) -> Option<DVector<T>> {
        None
    }
    /// Σᵢ (vᵢ − bᵢ)²/2.
    fn energy(v: &DMatrixView<'_, T>, n: usize, params: &LayerParams<T>) -> T {
        let half = T::of_f64(0.5);
        v.column(n)
            .iter()
            .zip(params.visible_bias.iter())
            .fold(T::zero(), |acc, (&x, &b)| acc + half * (x - b) * (x - b))
    }
    /// E[vᵢ | h] = bᵢ + (Wᵀh)ᵢ.
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, params: &LayerParams<T>) {
        for mut col in out.column_iter_mut() {
            for (x, &b) in col.iter_mut().zip(params.visible_bias.iter()) {
                *x += b;
            }
        }
    }
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        states: DMatrixViewMut<'_, T>,
        _: &LayerParams<T>,
        rng: &mut R,
    ) -> Result<()> {
        sample_normal(means, states, None, rng)
    }
    /// ∂F/∂bᵢ = −(vᵢ − bᵢ).
    fn gradient_into(
        v: &DMatrixView<'_, T>,
        _: &DMatrixView<'_, T>,
        scale: T,
        beta: T,
        params: &LayerParams<T>,
        grad: &mut LayerParams<T>,
    ) {
        let b = &params.visible_bias;
        scale_or_clear(&mut grad.visible_bias, beta);
        for col in v.column_iter() {
            for ((g, &x), &bi) in grad.visible_bias.iter_mut().zip(col.iter()).zip(b.iter()) {
                *g -= scale * (x - bi);
            }
        }
    }
    /// b = the feature means.
    fn initialize_from_data(params: &mut LayerParams<T>, means: &DVector<T>, _: &DVector<T>) {
        params.visible_bias.copy_from(means);
    }
    fn noise<R: Rng + ?Sized>(rng: &mut R) -> T {
        let z: f64 = StandardNormal.sample(rng);
        T::of_f64(z)
    }
}

/// g ← beta·g (0 when beta = 0, so that NaN in the buffer is cleared).
fn scale_or_clear<T: Float>(g: &mut DVector<T>, beta: T) {
    if beta == T::zero() {
        g.fill(T::zero());
    } else if beta != T::one() {
        *g *= beta;
    }
}

impl<T: Float> VisibleUnits<T> for GaussianSigma {
    type Params = GaussianParams<T>;
    const NAME: &'static str = "gaussian_sigma";
    const BINARY: bool = false;

    fn check_domain(_: &'static str, _: &DMatrix<T>) -> Result<()> {
        Ok(())
    }
    fn inverse_sigma(params: &GaussianParams<T>) -> Option<DVector<T>> {
        Some(params.log_sigma.map(|z| (-z).exp()))
    }
    /// Σᵢ (vᵢ − bᵢ)²/(2σᵢ²), with 1/σᵢ² = exp(−2zᵢ).
    fn energy(v: &DMatrixView<'_, T>, n: usize, params: &GaussianParams<T>) -> T {
        let half = T::of_f64(0.5);
        let two = T::of_f64(2.0);
        v.column(n)
            .iter()
            .zip(params.layer.visible_bias.iter())
            .zip(params.log_sigma.iter())
            .fold(T::zero(), |acc, ((&x, &b), &z)| {
                acc + half * (x - b) * (x - b) * (-two * z).exp()
            })
    }
    /// E[vᵢ | h] = bᵢ + σᵢ (Wᵀh)ᵢ.
    fn mean_in_place(out: &mut DMatrixViewMut<'_, T>, params: &GaussianParams<T>) {
        let sigma = params.log_sigma.map(|z| z.exp());
        for mut col in out.column_iter_mut() {
            for ((x, &b), &s) in col
                .iter_mut()
                .zip(params.layer.visible_bias.iter())
                .zip(sigma.iter())
            {
                *x = b + s * *x;
            }
        }
    }
    fn sample<R: Rng + ?Sized>(
        means: DMatrixView<'_, T>,
        states: DMatrixViewMut<'_, T>,
        params: &GaussianParams<T>,
        rng: &mut R,
    ) -> Result<()> {
        let sigma = params.log_sigma.map(|z| z.exp());
        sample_normal(means, states, Some(&sigma), rng)
    }
    /// ∂F/∂bᵢ = −(vᵢ − bᵢ)/σᵢ² and ∂F/∂zᵢ = −(vᵢ − bᵢ)²/σᵢ² + (vᵢ/σᵢ)(Wᵀ E[h | v])ᵢ.
    fn gradient_into(
        v: &DMatrixView<'_, T>,
        hidden: &DMatrixView<'_, T>,
        scale: T,
        beta: T,
        params: &GaussianParams<T>,
        grad: &mut GaussianParams<T>,
    ) {
        let p = &params.layer;
        let inv_sigma = params.log_sigma.map(|z| (-z).exp());
        let mut wh = DMatrix::zeros(v.nrows(), v.ncols());
        let w = p.weights.as_view();
        gemm_at_b(&mut wh.as_view_mut(), T::one(), &w, hidden, T::zero());
        scale_or_clear(&mut grad.layer.visible_bias, beta);
        scale_or_clear(&mut grad.log_sigma, beta);
        for (col, whc) in v.column_iter().zip(wh.column_iter()) {
            for i in 0..col.len() {
                let d = (col[i] - p.visible_bias[i]) * inv_sigma[i];
                grad.layer.visible_bias[i] -= scale * d * inv_sigma[i];
                grad.log_sigma[i] += scale * (col[i] * inv_sigma[i] * whc[i] - d * d);
            }
        }
    }
    /// b = the feature means, log σ = log of the feature standard deviation (0 where it is 0).
    fn initialize_from_data(params: &mut GaussianParams<T>, means: &DVector<T>, stds: &DVector<T>) {
        params.layer.visible_bias.copy_from(means);
        for (z, &s) in params.log_sigma.iter_mut().zip(stds.iter()) {
            *z = if s > T::zero() { s.ln() } else { T::zero() };
        }
    }
    fn noise<R: Rng + ?Sized>(rng: &mut R) -> T {
        <Gaussian as VisibleUnits<T>>::noise(rng)
    }
}

//! Gradient checks: central finite differences of any function of a model's parameters, and
//! ready-made comparisons of the crate's analytic gradients against them.
//!
//! | what is checked | analytic side | differenced function |
//! | --- | --- | --- |
//! | [`check_free_energy_gradient`] | [`EnergyModel::free_energy_gradient`] | mean free energy ⟨F(v)⟩ |
//! | [`check_loss_gradient`] | [`Autoencoder::objective_gradient`] | loss plus penalties (the whole [`Objective`](crate::Objective)) |
//! | [`check_log_likelihood_gradient`] | [`log_likelihood_gradient_exact`] | mean exact log p(v) ([`Rbm::log_prob_exact`]) |
//!
//! Each returns a [`GradientReport`]: per parameter block (named by
//! [`Parameters::block_name`]), both gradients in `f64` and the largest absolute and relative
//! errors. [`central_difference`] and [`central_difference_model`] difference any other
//! function; [`GradientReport::compare`] compares any two gradients of the same shape (e.g. the
//! exact log-likelihood gradient against a CD estimate).
//!
//! ```
//! use nalgebra::{DMatrix, DVector};
//! use rbms::gradcheck::{check_free_energy_gradient, CheckConfig};
//! use rbms::Rbm;
//! let rbm = Rbm::<f64>::from_parameters(
//!     DMatrix::from_row_slice(2, 3, &[0.5, -1.0, 0.25, 1.5, 0.0, -0.75]),
//!     DVector::from_vec(vec![0.1, -0.2, 0.3]),
//!     DVector::from_vec(vec![-0.5, 0.5]),
//! )?;
//! let v = DMatrix::from_column_slice(3, 2, &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
//! let report = check_free_energy_gradient(&rbm, &v, &CheckConfig::default())?;
//! assert!(report.within(1e-8, 1e-6), "{report}");
//! # Ok::<(), rbms::Error>(())
//! ```
//!
//! # Step size and accuracy
//!
//! Parameter θᵢ is moved to θᵢ ± hᵢ with hᵢ = ε·max(|θᵢ|, 1), and ∂f/∂θᵢ is estimated as
//! (f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ). The perturbed values are rounded to the model's scalar
//! type; the quotient divides by the distance between the two *rounded* values, in `f64`, so
//! rounding θ ± h costs next to nothing (an asymmetry of at most half a unit in the last place
//! of θ on either side). The error of the estimate is about
//! hᵢ²·|f'''|/6 (truncation) plus u·|f|/hᵢ (u the relative precision in which f is evaluated),
//! smallest near ε = ∛u, the default ([`CheckConfig::step`] = `None`):
//!
//! - `f64` models: ε ≈ 6.1·10⁻⁶; absolute errors are typically below 10⁻¹⁰·(1 + |f|) for
//!   parameters of order 1 (measured on small RBMs and autoencoders).
//! - `f32` models: the free energy and the autoencoder objective are evaluated in `f32`, so
//!   ε ≈ 4.9·10⁻³ and the absolute errors are of order 10⁻⁵·(1 + |f|), dominated by the `f32`
//!   rounding of f (relative errors of small entries reach 10⁻²);
//!   compare with absolute tolerances of order 10⁻⁴·(1 + |f|) rather than the `f64` ones. The exact
//!   log-likelihood is evaluated in `f64` whatever the model, so
//!   [`check_log_likelihood_gradient`] uses the `f64` step for `f32` models too, and reaches
//!   about the `f64` accuracy.
//!
//! # Relative error
//!
//! For an analytic value a and a numerical value n, the absolute error is |a − n| and the
//! relative error is |a − n| / max(|a|, |n|, floor), where the floor
//! ([`CheckConfig::relative_floor`], default 10⁻³) keeps gradients near zero from dividing by
//! almost nothing: below the floor, the relative error is the absolute error over the floor.

use crate::autoencoder::{Autoencoder, Penalties};
use crate::energy::EnergyModel;
use crate::params::{Model, Parameters};
use crate::rbm::{Rbm, RbmParams};
use crate::{Dataset, Error, Float, Result};
use nalgebra::DMatrix;
use std::fmt;

pub use crate::rbm::MAX_EXACT_GRADIENT_UNITS;

/// Settings of a finite-difference check. Build with [`Default`] and the chainable setters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckConfig {
    /// The relative step ε: parameter θ moves by ±ε·max(|θ|, 1). `None` (the default) takes
    /// ∛u, with u the machine epsilon of the precision the differenced function is evaluated in
    /// (see the [module docs](self)). Must be finite and > 0 when given.
    pub step: Option<f64>,
    /// The floor of the relative error's denominator, |a − n| / max(|a|, |n|, floor).
    /// Default 10⁻³; must be finite and > 0.
    pub relative_floor: f64,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            step: None,
            relative_floor: 1e-3,
        }
    }
}

impl CheckConfig {
    /// Sets the relative step ε (see [`CheckConfig::step`]).
    pub fn step(mut self, step: f64) -> Self {
        self.step = Some(step);
        self
    }

    /// Sets the floor of the relative error's denominator.
    pub fn relative_floor(mut self, floor: f64) -> Self {
        self.relative_floor = floor;
        self
    }

    /// Checks the settings: a given step and the floor must be finite and > 0.
    pub fn check(&self) -> Result<()> {
        if let Some(step) = self.step {
            if !(step.is_finite() && step > 0.0) {
                return Err(Error::InvalidParameter {
                    name: "step",
                    reason: format!("must be finite and > 0, got {step}"),
                });
            }
        }
        check_floor(self.relative_floor)
    }

    /// The step for a function evaluated with the precision of `U`.
    fn step_for<U: Float>(&self) -> Result<f64> {
        self.check()?;
        Ok(self
            .step
            .unwrap_or_else(|| U::default_epsilon().as_f64().cbrt()))
    }
}

fn check_floor(floor: f64) -> Result<()> {
    if floor.is_finite() && floor > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "relative_floor",
            reason: format!("must be finite and > 0, got {floor}"),
        })
    }
}

/// Central finite differences of `f` at `params`: a value of the same type holding
/// ∂f/∂θ for every scalar θ, block by block.
///
/// The step is that of `config` (by default ∛u for the precision of `P::Scalar`; pass
/// [`CheckConfig::step`] when `f` is evaluated more precisely than the parameters, e.g. an
/// `f64` function of `f32` parameters, where `1e-5` suits). The quotients are computed in
/// `f64` and rounded to `P::Scalar` on return. `f` is called twice per scalar, with the
/// parameters moved by ±h one scalar at a time.
///
/// Errors: the settings ([`CheckConfig::check`]); any error of `f`; [`Error::NonFinite`] when
/// `f` returns a NaN or an infinity (`sample` is then the block, `feature` the index in the
/// block); [`Error::InvalidParameter`] when the step is too small to move a parameter in its
/// scalar type.
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use rbms::gradcheck::{central_difference, CheckConfig};
/// use rbms::{LayerParams, Parameters};
/// let p = LayerParams::new(
///     DMatrix::from_element(2, 2, 0.5f64),
///     DVector::from_vec(vec![1.0, -2.0]),
///     DVector::from_vec(vec![3.0, 0.0]),
/// )?;
/// // f = ½ Σ θ²: the gradient is θ itself.
/// let half_sq = |q: &LayerParams<f64>| {
///     Ok((0..q.n_blocks()).flat_map(|b| q.block(b)).map(|x| 0.5 * x * x).sum::<f64>())
/// };
/// let g = central_difference(&p, &CheckConfig::default(), half_sq)?;
/// for b in 0..p.n_blocks() {
///     for (gi, pi) in g.block(b).iter().zip(p.block(b)) {
///         assert!((gi - pi).abs() < 1e-9);
///     }
/// }
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn central_difference<P, F>(params: &P, config: &CheckConfig, mut f: F) -> Result<P>
where
    P: Parameters,
    F: FnMut(&P) -> Result<f64>,
{
    let step = config.step_for::<P::Scalar>()?;
    let blocks = differences(&mut BareParams(params.clone()), step, |b| f(&b.0))?;
    Ok(to_params(params, &blocks))
}

/// [`central_difference`] of a function of a whole model: `f` sees a copy of `model` whose
/// parameters are moved one scalar at a time. Returns ∂f/∂θ as a value of the model's
/// parameter type.
///
/// ```
/// use nalgebra::DMatrix;
/// use rbms::gradcheck::{central_difference_model, CheckConfig};
/// use rbms::{Dataset, EnergyModel, Parameters, Rbm};
/// let rbm = Rbm::<f64>::new(3, 2)?;
/// let v = DMatrix::from_column_slice(3, 1, &[1.0, 0.0, 1.0]);
/// let mean_f = |m: &Rbm<f64>| Ok(m.free_energy(v.as_view())?.mean());
/// let numerical = central_difference_model(&rbm, &Default::default(), mean_f)?;
/// let analytic = rbm.free_energy_gradient(&v)?;
/// for b in 0..analytic.n_blocks() {
///     for (a, n) in analytic.block(b).iter().zip(numerical.block(b)) {
///         assert!((a - n).abs() < 1e-9);
///     }
/// }
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn central_difference_model<M, F>(model: &M, config: &CheckConfig, f: F) -> Result<M::Params>
where
    M: Model + Clone,
    F: FnMut(&M) -> Result<f64>,
{
    let step = config.step_for::<M::Scalar>()?;
    let blocks = differences(&mut model.clone(), step, f)?;
    Ok(to_params(model.params(), &blocks))
}

/// Checks [`EnergyModel::free_energy_gradient`] of the mean free energy of the columns of `v`
/// against central differences of ⟨F(v)⟩ = (1/n) Σₙ F(vₙ) (each F in the model's scalar
/// type, the mean in `f64`). See the [module docs](self) for the step and the accuracy to
/// expect.
///
/// Errors: those of `free_energy_gradient` for a `v` that does not suit the model (shape,
/// values), of the settings, and of [`central_difference`].
pub fn check_free_energy_gradient<M>(
    model: &M,
    v: &DMatrix<M::Scalar>,
    config: &CheckConfig,
) -> Result<GradientReport>
where
    M: EnergyModel + Clone,
{
    let step = config.step_for::<M::Scalar>()?;
    let analytic = model.free_energy_gradient(v)?;
    let n = v.ncols() as f64;
    let numerical = differences(&mut model.clone(), step, |m| {
        Ok(m.free_energy(v.as_view())?
            .iter()
            .map(|f| f.as_f64())
            .sum::<f64>()
            / n)
    })?;
    GradientReport::from_blocks(
        &analytic,
        blocks_of(&analytic),
        numerical,
        config.relative_floor,
        Some(step),
    )
}

/// Checks [`Autoencoder::objective_gradient`] against central differences of the objective it
/// differentiates: the mean reconstruction loss of `target` from `input` plus the
/// `penalties` ([`Objective::total`](crate::Objective::total), see
/// [`Penalties`]). Pass the same matrix twice for a plain autoencoder, or a fixed corrupted
/// copy as `input` to check a denoising step (the noise itself is not differentiated).
///
/// Errors: those of `objective_gradient` (shapes, values, an objective that overflows), of
/// the settings, and of [`central_difference`].
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use rbms::gradcheck::{check_loss_gradient, CheckConfig};
/// use rbms::{Decoder, LayerParams, Loss, Penalties, Sparsity, TiedAutoencoder};
/// let params = LayerParams::new(
///     DMatrix::from_row_slice(2, 3, &[0.5, -1.0, 0.25, 1.5, 0.0, -0.75]),
///     DVector::from_vec(vec![0.1, -0.2, 0.3]),
///     DVector::from_vec(vec![-0.5, 0.5]),
/// )?;
/// let ae = TiedAutoencoder::from_parameters(params, Decoder::Sigmoid, Loss::CrossEntropy)?;
/// let x = DMatrix::from_column_slice(3, 2, &[1.0, 0.0, 0.5, 0.0, 1.0, 1.0]);
/// let penalties = Penalties {
///     contractive: 0.1,
///     sparsity: Some(Sparsity { target: 0.2, weight: 0.5 }),
/// };
/// let report = check_loss_gradient(&ae, &x, &x, &penalties, &CheckConfig::default())?;
/// assert!(report.within(1e-8, 1e-6), "{report}");
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn check_loss_gradient<M>(
    model: &M,
    input: &DMatrix<M::Scalar>,
    target: &DMatrix<M::Scalar>,
    penalties: &Penalties,
    config: &CheckConfig,
) -> Result<GradientReport>
where
    M: Autoencoder + Clone,
{
    let step = config.step_for::<M::Scalar>()?;
    let (_, analytic) = model.objective_gradient(input, target, penalties)?;
    let mut workspace = model.workspace(input.ncols());
    let mut scratch = analytic.zeros_like();
    let numerical = differences(&mut model.clone(), step, |m| {
        let objective = m.objective_gradient_into(
            input.as_view(),
            target.as_view(),
            penalties,
            &mut workspace,
            &mut scratch,
        )?;
        Ok(objective.total())
    })?;
    GradientReport::from_blocks(
        &analytic,
        blocks_of(&analytic),
        numerical,
        config.relative_floor,
        Some(step),
    )
}

/// The exact gradient of the mean log-likelihood of `data` for a tiny RBM, in `f64`: the same
/// as [`Rbm::log_likelihood_gradient_exact`], listed here with the other gradient tools.
///
/// ∇θ ⟨log p(v)⟩ = −⟨∇θ F(v)⟩_data + ⟨∇θ F(v)⟩_model, with the model expectation computed by
/// enumerating the smaller layer; fails with [`Error::TooLargeToEnumerate`] beyond
/// [`MAX_EXACT_GRADIENT_UNITS`] units.
///
/// ```
/// use nalgebra::DMatrix;
/// use rbms::gradcheck::log_likelihood_gradient_exact;
/// use rbms::{Dataset, Rbm};
/// // A model with all parameters zero is uniform; data all ones pull every bias up:
/// // ∂/∂b ⟨log p⟩ = ⟨v⟩_data − ⟨v⟩_model = 1 − ½.
/// let rbm = Rbm::<f32>::new(3, 2)?;
/// let data = Dataset::from_columns(DMatrix::from_element(3, 4, 1.0f32))?;
/// let g = log_likelihood_gradient_exact(&rbm, &data)?;
/// assert!(g.visible_bias().iter().all(|&x| (x - 0.5).abs() < 1e-12));
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn log_likelihood_gradient_exact<T: Float>(
    rbm: &Rbm<T>,
    data: &Dataset<T>,
) -> Result<RbmParams<f64>> {
    rbm.log_likelihood_gradient_exact(data)
}

/// Checks [`log_likelihood_gradient_exact`] against central differences of the mean exact
/// log-likelihood ⟨log p(v)⟩ over `data` ([`Rbm::log_prob_exact`], in `f64`).
///
/// Both sides are computed in `f64`, so the default step is the `f64` one (≈ 6.1·10⁻⁶) for
/// `f32` models too. Each evaluation enumerates 2^min(n_visible, n_hidden) states, twice per
/// parameter: meant for tiny models.
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use rbms::gradcheck::{check_log_likelihood_gradient, CheckConfig};
/// use rbms::{Dataset, Rbm};
/// let rbm = Rbm::<f32>::from_parameters(
///     DMatrix::from_row_slice(2, 3, &[0.5, -1.0, 0.25, 1.5, 0.0, -0.75]),
///     DVector::from_vec(vec![0.1, -0.2, 0.3]),
///     DVector::from_vec(vec![-0.5, 0.5]),
/// )?;
/// let data = Dataset::from_columns(DMatrix::from_column_slice(3, 2, &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]))?;
/// let report = check_log_likelihood_gradient(&rbm, &data, &CheckConfig::default())?;
/// assert!(report.within(1e-8, 1e-6), "{report}");
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn check_log_likelihood_gradient<T: Float>(
    rbm: &Rbm<T>,
    data: &Dataset<T>,
    config: &CheckConfig,
) -> Result<GradientReport> {
    let step = config.step_for::<f64>()?;
    let analytic = rbm.log_likelihood_gradient_exact(data)?;
    let numerical = differences(&mut rbm.clone(), step, |m| {
        Ok(m.log_prob_exact(data)?.mean())
    })?;
    GradientReport::from_blocks(
        &analytic,
        blocks_of(&analytic),
        numerical,
        config.relative_floor,
        Some(step),
    )
}

/// One parameter block of a [`GradientReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlockReport {
    /// The block's name ([`Parameters::block_name`]).
    pub name: &'static str,
    /// The analytic gradient, in `f64`.
    pub analytic: Vec<f64>,
    /// The numerical (or other reference) gradient, in `f64`.
    pub numerical: Vec<f64>,
    /// The largest absolute error |a − n| (NaN if any error is NaN; 0 for an empty block).
    pub max_abs: f64,
    /// The largest relative error |a − n| / max(|a|, |n|, floor) (NaN if any is NaN).
    pub max_rel: f64,
    /// The index of the largest absolute error (0 for an empty block).
    pub worst: usize,
}

impl BlockReport {
    fn new(name: &'static str, analytic: Vec<f64>, numerical: Vec<f64>, floor: f64) -> Self {
        let abs: Vec<f64> = analytic
            .iter()
            .zip(&numerical)
            .map(|(a, n)| (a - n).abs())
            .collect();
        let rel = analytic
            .iter()
            .zip(&numerical)
            .map(|(&a, &n)| relative_error(a, n, floor));
        // The first NaN, else the first largest error.
        let worst = abs.iter().position(|x| x.is_nan()).unwrap_or_else(|| {
            abs.iter()
                .enumerate()
                .fold(
                    (0, 0.0),
                    |(k, m), (i, &x)| if x > m { (i, x) } else { (k, m) },
                )
                .0
        });
        let max_abs = nan_max(abs.iter().copied());
        let max_rel = nan_max(rel);
        Self {
            name,
            analytic,
            numerical,
            max_abs,
            max_rel,
            worst,
        }
    }
}

fn relative_error(a: f64, n: f64, floor: f64) -> f64 {
    (a - n).abs() / a.abs().max(n.abs()).max(floor)
}

/// The outcome of a gradient check: one [`BlockReport`] per parameter block, in the
/// parameters' order.
///
/// Its [`Display`](fmt::Display) is one line per block with both maxima and the worst entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientReport {
    /// The blocks, in order.
    pub blocks: Vec<BlockReport>,
    /// The floor of the relative errors' denominators.
    pub relative_floor: f64,
    /// The relative step ε the differences used (`None` for [`compare`](Self::compare)).
    pub step: Option<f64>,
}

impl GradientReport {
    /// Compares two gradients of the same shape (same number of blocks, same block lengths)
    /// block by block; block names are taken from `analytic`. Fails with
    /// [`Error::ShapeMismatch`] for different shapes and [`Error::InvalidParameter`] for a
    /// floor that is not finite and > 0.
    ///
    /// ```
    /// use nalgebra::{DMatrix, DVector};
    /// use rbms::gradcheck::GradientReport;
    /// use rbms::LayerParams;
    /// let a = LayerParams::new(DMatrix::from_element(1, 2, 1.0), DVector::zeros(2), DVector::zeros(1))?;
    /// let b = LayerParams::new(DMatrix::from_element(1, 2, 1.001), DVector::zeros(2), DVector::zeros(1))?;
    /// let report = GradientReport::compare(&a, &b, 1e-3)?;
    /// assert!((report.max_abs() - 1e-3).abs() < 1e-12);
    /// assert!(report.within(1e-2, 0.0) && !report.within(1e-4, 1e-4));
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn compare<P: Parameters, Q: Parameters>(
        analytic: &P,
        numerical: &Q,
        relative_floor: f64,
    ) -> Result<Self> {
        check_floor(relative_floor)?;
        if analytic.n_blocks() != numerical.n_blocks() {
            return Err(Error::ShapeMismatch {
                what: "number of parameter blocks",
                expected: (analytic.n_blocks(), 1),
                found: (numerical.n_blocks(), 1),
            });
        }
        Self::from_blocks(
            analytic,
            blocks_of(analytic),
            blocks_of(numerical),
            relative_floor,
            None,
        )
    }

    fn from_blocks<P: Parameters>(
        names: &P,
        analytic: Vec<Vec<f64>>,
        numerical: Vec<Vec<f64>>,
        relative_floor: f64,
        step: Option<f64>,
    ) -> Result<Self> {
        let mut blocks = Vec::with_capacity(analytic.len());
        for (b, (a, n)) in analytic.into_iter().zip(numerical).enumerate() {
            if a.len() != n.len() {
                return Err(Error::ShapeMismatch {
                    what: names.block_name(b),
                    expected: (a.len(), 1),
                    found: (n.len(), 1),
                });
            }
            blocks.push(BlockReport::new(names.block_name(b), a, n, relative_floor));
        }
        Ok(Self {
            blocks,
            relative_floor,
            step,
        })
    }

    /// The largest absolute error over all blocks (NaN if any is NaN).
    pub fn max_abs(&self) -> f64 {
        nan_max(self.blocks.iter().map(|b| b.max_abs))
    }

    /// The largest relative error over all blocks (NaN if any is NaN).
    pub fn max_rel(&self) -> f64 {
        nan_max(self.blocks.iter().map(|b| b.max_rel))
    }

    /// `true` when every entry is close: its absolute error is at most `abs_tol` **or** its
    /// relative error at most `rel_tol`. NaN errors are never close.
    pub fn within(&self, abs_tol: f64, rel_tol: f64) -> bool {
        self.blocks.iter().all(|b| {
            b.analytic.iter().zip(&b.numerical).all(|(&a, &n)| {
                (a - n).abs() <= abs_tol || relative_error(a, n, self.relative_floor) <= rel_tol
            })
        })
    }

    /// The block named `name`, if any.
    pub fn block(&self, name: &str) -> Option<&BlockReport> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

fn nan_max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |acc: f64, x| {
        if acc.is_nan() || x.is_nan() {
            f64::NAN
        } else {
            acc.max(x)
        }
    })
}

impl fmt::Display for GradientReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gradient check (")?;
        if let Some(step) = self.step {
            write!(f, "step {step:.2e}, ")?;
        }
        writeln!(
            f,
            "relative error floor {:.1e}): max abs {:.3e}, max rel {:.3e}",
            self.relative_floor,
            self.max_abs(),
            self.max_rel()
        )?;
        for b in &self.blocks {
            write!(
                f,
                "  {}: {} values, max abs {:.3e}, max rel {:.3e}",
                b.name,
                b.analytic.len(),
                b.max_abs,
                b.max_rel
            )?;
            if let (Some(a), Some(n)) = (b.analytic.get(b.worst), b.numerical.get(b.worst)) {
                write!(
                    f,
                    " (worst [{}]: analytic {a:.9e}, numerical {n:.9e})",
                    b.worst
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A parameter set seen as a model, so that one differencing loop serves both
/// [`central_difference`] and [`central_difference_model`].
#[derive(Clone)]
struct BareParams<P>(P);

impl<P: Parameters> Model for BareParams<P> {
    type Scalar = P::Scalar;
    type Params = P;
    fn params(&self) -> &P {
        &self.0
    }
    fn params_mut(&mut self) -> &mut P {
        &mut self.0
    }
}

/// The values of every block of `p`, in `f64`.
fn blocks_of<P: Parameters>(p: &P) -> Vec<Vec<f64>> {
    (0..p.n_blocks())
        .map(|b| p.block(b).iter().map(|x| x.as_f64()).collect())
        .collect()
}

/// `blocks` rounded into a value shaped like `like`.
fn to_params<P: Parameters>(like: &P, blocks: &[Vec<f64>]) -> P {
    let mut out = like.zeros_like();
    for (b, values) in blocks.iter().enumerate() {
        for (x, &v) in out.block_mut(b).iter_mut().zip(values) {
            *x = P::Scalar::of_f64(v);
        }
    }
    out
}

/// Central differences of `f` with respect to every scalar of `work`'s parameters, which are
/// moved one at a time and restored exactly.
fn differences<M, F>(work: &mut M, step: f64, mut f: F) -> Result<Vec<Vec<f64>>>
where
    M: Model,
    F: FnMut(&M) -> Result<f64>,
{
    let n_blocks = work.params().n_blocks();
    let mut out = Vec::with_capacity(n_blocks);
    for b in 0..n_blocks {
        let len = work.params().block(b).len();
        let mut grad = Vec::with_capacity(len);
        for i in 0..len {
            let theta = work.params().block(b)[i];
            let t = theta.as_f64();
            let h = step * t.abs().max(1.0);
            let (plus, minus) = (M::Scalar::of_f64(t + h), M::Scalar::of_f64(t - h));
            let width = plus.as_f64() - minus.as_f64();
            // `!(width > 0)` also catches NaN from an overflowing step.
            if !(width > 0.0 && width.is_finite()) {
                return Err(Error::InvalidParameter {
                    name: "step",
                    reason: format!(
                        "{step} cannot move parameter {i} of block {} (value {t}) in {}",
                        work.params().block_name(b),
                        M::Scalar::NAME
                    ),
                });
            }
            work.params_mut().block_mut(b)[i] = plus;
            let up = f(work);
            work.params_mut().block_mut(b)[i] = minus;
            let down = f(work);
            work.params_mut().block_mut(b)[i] = theta;
            let (up, down) = (up?, down?);
            for value in [up, down] {
                if !value.is_finite() {
                    return Err(Error::NonFinite {
                        what: "function value at a perturbed parameter (sample = block, \
                               feature = index in the block)",
                        sample: b,
                        feature: i,
                        value,
                    });
                }
            }
            grad.push((up - down) / width);
        }
        out.push(grad);
    }
    Ok(out)
}

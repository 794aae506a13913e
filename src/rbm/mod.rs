//! Restricted Boltzmann machines: [`Rbm<T, V, H>`](Rbm) with visible units of kind `V` and
//! hidden units of kind `H` (see [`crate::units`]); `Rbm<T>` is the Bernoulli–Bernoulli model.

pub mod ais;
mod exact;
pub mod gaussian;
mod pseudo_likelihood;
mod sampling;
pub mod spin;

pub use ais::{
    AisBase, AisConfig, AisDirection, AisEstimate, AisSchedule, LikelihoodEstimate, AIS_BLOCK,
};
pub use exact::{MAX_EXACT_GRADIENT_UNITS, MAX_EXACT_UNITS};
pub use gaussian::GaussianAisBase;
pub use sampling::{GibbsConfig, GibbsSamples, GibbsStart};

/// The parameters of an [`Rbm`]: weights `W` (`n_hidden × n_visible`), visible biases `b`,
/// hidden biases `c` (blocks `weights`, `visible_bias`, `hidden_bias`).
pub type RbmParams<T> = LayerParams<T>;

use crate::data::check_finite;
use crate::energy::{contrastive_update_unfused, EnergyModel, GradientTerm};
use crate::kernels;
use crate::math::{gemm_a_bt, gemm_at_b, mean_squared_difference, row_sums_into, sigmoid};
use crate::observe::Observer;
use crate::parallel;
use crate::params::{LayerParams, Model, Parameters};
use crate::sparse;
use crate::train::{
    FitConfig, FitModel, FitReport, Init, Metrics, MetricsConfig, StepContext, Trainer, UpdateRule,
    VisibleBiasInit,
};
use crate::units::{Bernoulli, HiddenUnits, UnitParams, VisibleUnits};
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};
use rand::Rng;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A restricted Boltzmann machine with visible units of kind `V` and hidden units of kind `H`
/// (see [`crate::units`]); by default, and as `Rbm<T>`, binary (Bernoulli) visible and hidden
/// units. [`GaussianRbm`](gaussian::GaussianRbm) and
/// [`GaussianSigmaRbm`](gaussian::GaussianSigmaRbm) name the Gaussian–Bernoulli models.
///
/// The Bernoulli–Bernoulli model has energy E(v, h) = −bᵀv − cᵀh − hᵀWv; free energy
/// F(v) = −bᵀv − Σⱼ softplus(cⱼ + Wⱼ·v); conditionals p(hⱼ = 1 | v) = σ(cⱼ + Wⱼ·v) and
/// p(vᵢ = 1 | h) = σ(bᵢ + W·ᵢᵀh). Visible inputs may be probabilities in `[0, 1]` (e.g. grey
/// levels), as in scikit-learn's `BernoulliRBM`.
///
/// Matrices hold one sample per column (see [`EnergyModel`]). The energy of the other kinds
/// is in the [`units`](crate::units) module docs.
///
/// ```
/// use rbms::{datasets, ContrastiveDivergence, FitConfig, Rbm};
/// let data = datasets::digits_scaled::<f32>();
/// let mut rbm = Rbm::<f32>::new(64, 32)?;
/// let config = FitConfig::default().epochs(2).learning_rate(0.05).seed(7);
/// let report = rbm.fit(&data, &ContrastiveDivergence::new(1), &config)?;
/// assert_eq!(report.epochs.len(), 2);
/// let features = rbm.transform(&data)?; // p(h | v), 32 × 1797
/// assert_eq!(features.shape(), (32, 1797));
/// # Ok::<(), rbms::Error>(())
/// ```
pub struct Rbm<T: Float, V: VisibleUnits<T> = Bernoulli, H: HiddenUnits<T> = Bernoulli> {
    params: V::Params,
    /// `Wᵀ` for the sparse product `Wᵀ·H` of sampled hidden states (see
    /// [`TransposedWeights`]).
    transposed: TransposedWeights<T>,
    units: PhantomData<fn() -> (V, H)>,
}

/// A copy of `Wᵀ` (`n_visible × n_hidden`, column-major: its columns are the rows of `W`), so
/// that `Wᵀ·H` for sampled, mostly-zero hidden states reads whole contiguous columns (see
/// [`crate::sparse`]).
///
/// The first such product after a change of the weights makes the copy (once per training
/// step); every change of the parameters marks it stale. Whether a product is sparse depends
/// only on `H`, never on whether a copy exists, so equal models (a clone, a loaded model, a
/// resumed run) give the same bits.
///
/// The lock is held only to look at the copy, take it or put it back, never while the copy is
/// made or read, so that no parallel work runs under it.
#[derive(Debug, Default)]
struct TransposedWeights<T: Float> {
    cache: Mutex<Cache<T>>,
}

#[derive(Debug, Default)]
struct Cache<T> {
    /// The last copy made (its buffer is reused by the next one).
    copy: Option<Arc<Vec<T>>>,
    /// `copy` holds the current weights.
    fresh: bool,
}

impl<T: Float> TransposedWeights<T> {
    fn lock(&self) -> MutexGuard<'_, Cache<T>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The parameters are about to change.
    fn invalidate(&mut self) {
        self.cache
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .fresh = false;
    }

    /// Runs `f` on `Wᵀ` for the weights `w` (`nh × nv`), making the copy first if it is stale.
    fn with<R>(&self, w: &DMatrix<T>, f: impl FnOnce(&[T]) -> R) -> R {
        // One look under the lock: a fresh copy to share, or the stale one's buffer to reuse.
        let stale = {
            let mut c = self.lock();
            match c.copy.as_ref() {
                Some(copy) if c.fresh => Ok(Arc::clone(copy)),
                _ => Err(c.copy.take()),
            }
        };
        let old = match stale {
            Ok(copy) => return f(&copy),
            Err(old) => old,
        };
        // The old buffer when no other thread still reads it (always, but for concurrent
        // products on one model), else a new one; never a copy of stale values.
        let mut copy = old
            .filter(|a| Arc::strong_count(a) == 1 && Arc::weak_count(a) == 0)
            .unwrap_or_default();
        let (nh, nv) = w.shape();
        if let Some(buf) = Arc::get_mut(&mut copy) {
            if buf.len() != nh * nv {
                buf.clear();
                buf.resize(nh * nv, T::zero());
            }
            crate::math::transpose_into(w.as_slice(), nh, nv, buf);
        } else {
            let mut buf = vec![T::zero(); nh * nv];
            crate::math::transpose_into(w.as_slice(), nh, nv, &mut buf);
            copy = Arc::new(buf);
        }
        {
            let mut c = self.lock();
            c.copy = Some(Arc::clone(&copy));
            c.fresh = true;
        }
        f(&copy)
    }
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> std::fmt::Debug for Rbm<T, V, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rbm")
            .field("visible", &V::NAME)
            .field("hidden", &H::NAME)
            .field("params", &self.params)
            .finish()
    }
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Clone for Rbm<T, V, H> {
    fn clone(&self) -> Self {
        Self::from_params(self.params.clone())
    }
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> PartialEq for Rbm<T, V, H> {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

impl<T: Float> Rbm<T> {
    /// A model with all parameters zero (p(v) uniform). Both sizes must be ≥ 1.
    ///
    /// [`fit`](Self::fit) initialises the parameters from its seed unless
    /// [`FitConfig::warm_start`] is set.
    pub fn new(n_visible: usize, n_hidden: usize) -> Result<Self> {
        Self::zeros(n_visible, n_hidden)
    }

    /// A model from given parameters: `weights` is `n_hidden × n_visible`, `visible_bias` has
    /// length `n_visible`, `hidden_bias` length `n_hidden`; all finite.
    pub fn from_parameters(
        weights: DMatrix<T>,
        visible_bias: DVector<T>,
        hidden_bias: DVector<T>,
    ) -> Result<Self> {
        Ok(Self::from_params(LayerParams::new(
            weights,
            visible_bias,
            hidden_bias,
        )?))
    }
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Rbm<T, V, H> {
    /// A model of any unit kinds with all parameters zero (σ = 1 for Gaussian units). Both
    /// sizes must be ≥ 1. (`Rbm::new` is this for the Bernoulli–Bernoulli model.)
    ///
    /// ```
    /// use rbms::units::{Bernoulli, Gaussian};
    /// use rbms::{EnergyModel, Rbm};
    /// let gb = Rbm::<f64, Gaussian, Bernoulli>::zeros(4, 3)?;
    /// assert_eq!((gb.n_visible(), gb.n_hidden()), (4, 3));
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self> {
        Ok(Self::from_params(V::Params::zeros(n_visible, n_hidden)?))
    }

    /// A model of any unit kinds from a parameter set, which its own constructor has checked
    /// ([`LayerParams::new`], [`GaussianParams::new`](crate::units::GaussianParams::new)).
    pub fn with_params(params: V::Params) -> Self {
        Self::from_params(params)
    }

    pub(crate) fn from_params(params: V::Params) -> Self {
        Self {
            params,
            transposed: TransposedWeights::default(),
            units: PhantomData,
        }
    }

    /// Weights `W`, `n_hidden × n_visible`: row `j` is the filter of hidden unit `j`.
    pub fn weights(&self) -> &DMatrix<T> {
        &self.layer().weights
    }
    /// Visible biases `b`.
    pub fn visible_bias(&self) -> &DVector<T> {
        &self.layer().visible_bias
    }
    /// Hidden biases `c`.
    pub fn hidden_bias(&self) -> &DVector<T> {
        &self.layer().hidden_bias
    }

    fn layer(&self) -> &LayerParams<T> {
        self.params.layer()
    }

    /// The same model as an `Rbm<T>` when both layers are Bernoulli (the unit traits are
    /// sealed, so the parameters are exactly an `Rbm<T>`'s), for what only that model has
    /// (the pseudo-likelihood).
    pub(crate) fn as_bernoulli(&self) -> Option<Rbm<T>> {
        (V::BINARY && H::SIGMOID && self.params.n_blocks() == 3)
            .then(|| Rbm::<T>::from_params(self.layer().clone()))
    }

    /// Initialises the parameters: W ~ N(0, `weight_std`²) (drawn as `f64` standard normals
    /// from `rng`, one per weight in column-major order, then scaled and rounded to `T`),
    /// hidden biases 0 or, with [`HiddenBiasInit::FromTarget`](crate::train::HiddenBiasInit),
    /// logit of a sparsity target, visible biases 0 (and σ = 1) or, with
    /// [`VisibleBiasInit::FromData`], from the data, which is then needed: for Bernoulli units
    /// logit(p̄ᵢ) with the feature mean p̄ᵢ clipped to `[1e-3, 1 − 1e-3]` (Hinton's practical
    /// guide, §8); for Gaussian units the feature mean, and for
    /// [`GaussianSigma`](crate::units::GaussianSigma) units σᵢ = the feature's standard
    /// deviation (1 where it is 0).
    pub fn initialize<R: Rng + ?Sized>(
        &mut self,
        init: &Init,
        data: Option<&Dataset<T>>,
        rng: &mut R,
    ) -> Result<()> {
        init.check()?;
        let weights = self.layer().random_weights(init.weight_std, rng)?;
        if init.visible_bias == VisibleBiasInit::FromData {
            match data {
                Some(d) => self.check_visible(d.samples())?,
                None => {
                    return Err(Error::InvalidParameter {
                        name: "visible_bias",
                        reason: "initialising visible biases from data needs a data set".into(),
                    })
                }
            }
        }
        let mut params = V::Params::zeros(self.n_visible(), self.n_hidden())?;
        params.layer_mut().weights = weights;
        params
            .layer_mut()
            .hidden_bias
            .fill(T::of_f64(init.hidden_bias.value()));
        if init.visible_bias == VisibleBiasInit::FromData {
            // Checked above: `data` is present and suits the model.
            let Some(data) = data else { return Ok(()) };
            let means = data.feature_means();
            let stds = if V::BINARY {
                DVector::zeros(0)
            } else {
                crate::standardize::feature_stds(data)
            };
            V::initialize_from_data(&mut params, &means, &stds);
        }
        self.params = params;
        self.transposed.invalidate();
        Ok(())
    }

    /// Trains the model on `data` with `trainer` and `config`; see
    /// [`fit_observed`](Self::fit_observed).
    pub fn fit<Tr: Trainer<Self>>(
        &mut self,
        data: &Dataset<T>,
        trainer: &Tr,
        config: &FitConfig,
    ) -> Result<FitReport> {
        crate::train::fit(self, data, trainer, config, &mut ())
    }

    /// Trains the model, calling `observer` after every epoch (and step, if it asks).
    ///
    /// Unless `config.warm_start` is set, the parameters are first re-initialised from
    /// `config.seed` as in [`initialize`](Self::initialize) with `config.init`. The run is
    /// then fully determined by the seed: see [`crate::train`] for the reproducibility
    /// contract. On error (including divergence) the model keeps the parameters of its last
    /// successful update.
    pub fn fit_observed<Tr: Trainer<Self>, O: Observer<Self>>(
        &mut self,
        data: &Dataset<T>,
        trainer: &Tr,
        config: &FitConfig,
        observer: &mut O,
    ) -> Result<FitReport> {
        crate::train::fit(self, data, trainer, config, observer)
    }

    /// Hidden features E[h | v] (p(h = 1 | v) for Bernoulli units) of every sample: an
    /// `n_hidden × n_samples` matrix.
    pub fn transform(&self, data: &Dataset<T>) -> Result<DMatrix<T>> {
        self.hidden_probabilities(data.samples())
    }

    /// Mean-field reconstructions E[v | h = E[h | v]] of every sample (`n_visible × n_samples`).
    /// Deterministic: the hidden layer is represented by its probabilities, not a sample.
    pub fn reconstruct(&self, data: &Dataset<T>) -> Result<DMatrix<T>> {
        let h = self.transform(data)?;
        let mut out = DMatrix::zeros(self.n_visible(), h.ncols());
        self.visible_probabilities_into(h.as_view(), out.as_view_mut())?;
        Ok(out)
    }

    /// Mean squared error between the data and [`reconstruct`](Self::reconstruct), averaged
    /// over samples and features.
    pub fn reconstruction_error(&self, data: &Dataset<T>) -> Result<f64> {
        let r = self.reconstruct(data)?;
        Ok(mean_squared_difference(
            r.as_slice(),
            data.samples().as_slice(),
        ))
    }

    fn check_shape(
        &self,
        what: &'static str,
        rows: usize,
        expected: usize,
        cols: usize,
    ) -> Result<()> {
        if rows != expected {
            return Err(Error::ShapeMismatch {
                what,
                expected: (expected, cols),
                found: (rows, cols),
            });
        }
        Ok(())
    }
}

/// Rejects NaN/∞ in a view whose columns are samples.
fn check_finite_view<T: Float>(what: &'static str, m: &DMatrixView<'_, T>) -> Result<()> {
    for (sample, col) in m.column_iter().enumerate() {
        check_finite(what, col.as_slice(), col.len()).map_err(|e| match e {
            Error::NonFinite {
                what,
                feature,
                value,
                ..
            } => Error::NonFinite {
                what,
                sample,
                feature,
                value,
            },
            other => other,
        })?;
    }
    Ok(())
}

fn check_same_shape(
    what: &'static str,
    expected: (usize, usize),
    found: (usize, usize),
) -> Result<()> {
    if expected != found {
        return Err(Error::ShapeMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Model for Rbm<T, V, H> {
    type Scalar = T;
    type Params = V::Params;
    fn params(&self) -> &V::Params {
        &self.params
    }
    fn params_mut(&mut self) -> &mut V::Params {
        self.transposed.invalidate();
        &mut self.params
    }
}

/// `v/σ` column by column when σ is not 1, else `v` itself (what the hidden layer sees).
fn scaled_visible<'a, T: Float>(
    v: DMatrixView<'a, T>,
    inv_sigma: Option<&DVector<T>>,
) -> Scaled<'a, T> {
    match inv_sigma {
        None => Scaled::Borrowed(v),
        Some(s) => {
            let mut x = v.into_owned();
            for mut col in x.column_iter_mut() {
                col.component_mul_assign(s);
            }
            Scaled::Owned(x)
        }
    }
}

/// The visible states as the hidden layer sees them: borrowed when σ = 1, else scaled.
enum Scaled<'a, T: Float> {
    Borrowed(DMatrixView<'a, T>),
    Owned(DMatrix<T>),
}

impl<T: Float> Scaled<'_, T> {
    fn view(&self) -> DMatrixView<'_, T> {
        match self {
            Scaled::Borrowed(v) => v.as_view(),
            Scaled::Owned(m) => m.as_view(),
        }
    }
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> EnergyModel for Rbm<T, V, H> {
    fn n_visible(&self) -> usize {
        self.layer().weights.ncols()
    }

    fn n_hidden(&self) -> usize {
        self.layer().weights.nrows()
    }

    fn hidden_value_in_domain(&self, x: T) -> bool {
        H::in_domain(x)
    }

    fn check_visible(&self, v: &DMatrix<T>) -> Result<()> {
        self.check_shape(
            "visible states (n_visible × n)",
            v.nrows(),
            self.n_visible(),
            v.ncols(),
        )?;
        if v.ncols() == 0 {
            return Err(Error::EmptyData {
                what: "visible states",
            });
        }
        check_finite("visible states", v.as_slice(), v.nrows())?;
        V::check_domain("visible states (Bernoulli units)", v)
    }

    fn energy(&self, v: DMatrixView<'_, T>, h: DMatrixView<'_, T>) -> Result<DVector<T>> {
        self.check_shape(
            "visible states (n_visible × n)",
            v.nrows(),
            self.n_visible(),
            v.ncols(),
        )?;
        check_same_shape(
            "hidden states (n_hidden × n)",
            (self.n_hidden(), v.ncols()),
            h.shape(),
        )?;
        check_finite_view("visible states", &v)?;
        check_finite_view("hidden states", &h)?;
        let inv_sigma = V::inverse_sigma(&self.params);
        let x = scaled_visible(v, inv_sigma.as_ref());
        let wv = &self.layer().weights * x.view();
        let mut out = DVector::zeros(v.ncols());
        for n in 0..v.ncols() {
            let e = V::energy(&v, n, &self.params)
                - self.layer().hidden_bias.dot(&h.column(n))
                - h.column(n).dot(&wv.column(n));
            out[n] = e;
        }
        Ok(out)
    }

    fn free_energy(&self, v: DMatrixView<'_, T>) -> Result<DVector<T>> {
        self.check_shape(
            "visible states (n_visible × n)",
            v.nrows(),
            self.n_visible(),
            v.ncols(),
        )?;
        check_finite_view("visible states", &v)?;
        let inv_sigma = V::inverse_sigma(&self.params);
        let scaled = scaled_visible(v, inv_sigma.as_ref());
        let mut x = DMatrix::zeros(self.n_hidden(), v.ncols());
        crate::math::weights_times(&self.layer().weights, &scaled.view(), &mut x.as_view_mut());
        let c = &self.layer().hidden_bias;
        let mut out = DVector::zeros(v.ncols());
        for n in 0..v.ncols() {
            let sp = x
                .column(n)
                .iter()
                .zip(c.iter())
                .fold(T::zero(), |acc, (&xj, &cj)| acc + H::log_partition(xj + cj));
            out[n] = V::energy(&v, n, &self.params) - sp;
        }
        // Finite parameters and data can still overflow (σ near 0, values near 1e200), and
        // parameters set by hand may be non-finite: an error, never a silent NaN or infinity.
        if let Some(n) = out.iter().position(|f| !f.finite()) {
            return Err(Error::NonFinite {
                what: "free energy (an overflow, or a non-finite parameter)",
                sample: n,
                feature: 0,
                value: out[n].as_f64(),
            });
        }
        Ok(out)
    }

    fn hidden_probabilities_into(
        &self,
        v: DMatrixView<'_, T>,
        mut out: DMatrixViewMut<'_, T>,
    ) -> Result<()> {
        self.check_shape(
            "visible states (n_visible × n)",
            v.nrows(),
            self.n_visible(),
            v.ncols(),
        )?;
        check_same_shape(
            "hidden output buffer",
            (self.n_hidden(), v.ncols()),
            out.shape(),
        )?;
        let inv_sigma = V::inverse_sigma(&self.params);
        let scaled = scaled_visible(v, inv_sigma.as_ref());
        let v = scaled.view();
        let (nh, nv) = (self.n_hidden(), self.n_visible());
        if H::SIGMOID && kernels::small_layers(nh, nv) {
            if let (Some(x), Some(o)) = (kernels::contiguous(&v), kernels::contiguous_mut(&mut out))
            {
                let p = self.layer();
                kernels::affine_sigmoid(
                    p.weights.as_slice(),
                    p.hidden_bias.as_slice(),
                    x,
                    o,
                    nh,
                    nv,
                );
                return Ok(());
            }
        }
        crate::math::weights_times(&self.layer().weights, &v, &mut out);
        H::mean_in_place(&mut out, &self.layer().hidden_bias);
        Ok(())
    }

    fn visible_probabilities_into(
        &self,
        h: DMatrixView<'_, T>,
        mut out: DMatrixViewMut<'_, T>,
    ) -> Result<()> {
        self.check_shape(
            "hidden states (n_hidden × n)",
            h.nrows(),
            self.n_hidden(),
            h.ncols(),
        )?;
        check_same_shape(
            "visible output buffer",
            (self.n_visible(), h.ncols()),
            out.shape(),
        )?;
        let (nh, nv) = (self.n_hidden(), self.n_visible());
        if kernels::small_layers(nh, nv) {
            if let (Some(x), Some(o)) = (kernels::contiguous(&h), kernels::contiguous_mut(&mut out))
            {
                let p = self.layer();
                if V::BINARY {
                    kernels::transposed_affine_sigmoid(
                        p.weights.as_slice(),
                        p.visible_bias.as_slice(),
                        x,
                        o,
                        nv,
                        nh,
                    );
                } else {
                    kernels::transposed_product(p.weights.as_slice(), x, o, nv, nh);
                    V::mean_in_place(&mut out, &self.params);
                }
                return Ok(());
            }
        }
        let sparse_h = kernels::contiguous(&h)
            .filter(|hs| sparse::worth_it(nh, nv, hs.len() / nh) && sparse::sparse_enough(hs));
        if let Some(hs) = sparse_h {
            if let Some(o) = kernels::contiguous_mut(&mut out) {
                let w = &self.layer().weights;
                self.transposed
                    .with(w, |w_t| sparse::sparse_product(w_t, hs, o, nv, nh));
                V::mean_in_place(&mut out, &self.params);
                return Ok(());
            }
        }
        let w: DMatrixView<'_, T> = self.layer().weights.as_view();
        gemm_at_b(&mut out, T::one(), &w, &h, T::zero());
        V::mean_in_place(&mut out, &self.params);
        Ok(())
    }

    fn sample_hidden_into<R: Rng + ?Sized>(
        &self,
        v: DMatrixView<'_, T>,
        mut probs: DMatrixViewMut<'_, T>,
        states: DMatrixViewMut<'_, T>,
        rng: &mut R,
    ) -> Result<()> {
        self.hidden_probabilities_into(v, probs.as_view_mut())?;
        H::sample(probs.as_view(), states, rng)
    }

    fn sample_visible_into<R: Rng + ?Sized>(
        &self,
        h: DMatrixView<'_, T>,
        mut probs: DMatrixViewMut<'_, T>,
        states: DMatrixViewMut<'_, T>,
        rng: &mut R,
    ) -> Result<()> {
        self.visible_probabilities_into(h, probs.as_view_mut())?;
        V::sample(probs.as_view(), states, &self.params, rng)
    }

    /// ∂F/∂W = −E[h|v] (v/σ)ᵀ, ∂F/∂c = −E[h|v], and the visible parameters' gradients (for
    /// Bernoulli units ∂F/∂b = −v; see [`VisibleUnits::gradient_into`]), summed over columns
    /// and scaled.
    fn free_energy_gradient_into(
        &self,
        v: DMatrixView<'_, T>,
        hidden: DMatrixView<'_, T>,
        scale: T,
        beta: T,
        grad: &mut V::Params,
    ) -> Result<()> {
        self.check_shape(
            "visible states (n_visible × n)",
            v.nrows(),
            self.n_visible(),
            v.ncols(),
        )?;
        check_same_shape(
            "hidden probabilities",
            (self.n_hidden(), v.ncols()),
            hidden.shape(),
        )?;
        self.check_params_shape(
            [
                "gradient weights",
                "gradient visible_bias",
                "gradient hidden_bias",
            ],
            grad,
        )?;
        let inv_sigma = V::inverse_sigma(&self.params);
        let scaled = scaled_visible(v, inv_sigma.as_ref());
        let g = grad.layer_mut();
        gemm_a_bt(
            &mut g.weights.as_view_mut(),
            -scale,
            &hidden,
            &scaled.view(),
            beta,
        );
        V::gradient_into(&v, &hidden, scale, beta, &self.params, grad);
        row_sums_into(&hidden, -scale, beta, &mut grad.layer_mut().hidden_bias);
        Ok(())
    }

    /// For layers without a σ block (Bernoulli or unit-variance Gaussian visible units) and
    /// contiguous inputs, computes the weight gradient `−a.scale·Hₐ·Vₐᵀ − b.scale·H_b·V_bᵀ` in
    /// one pass when the layers are small enough for the crate's small-matrix kernels (each
    /// product summed over its columns in order, then scaled) or when both visible terms are
    /// mostly zeros (the sparse product, which scales each term before summing it), then
    /// applies the rule block by block, writing the new parameters into `scratch` and
    /// exchanging it with the parameters once every block is known to be finite. Otherwise,
    /// the default computation.
    fn contrastive_update(
        &mut self,
        a: GradientTerm<'_, T>,
        b: GradientTerm<'_, T>,
        rule: &UpdateRule<T>,
        velocity: &mut V::Params,
        scratch: &mut V::Params,
        ctx: StepContext,
    ) -> Result<()> {
        self.check_term(&a)?;
        self.check_term(&b)?;
        self.check_params_shape(
            [
                "gradient weights",
                "gradient visible_bias",
                "gradient hidden_bias",
            ],
            scratch,
        )?;
        self.check_params_shape(
            [
                "velocity weights",
                "velocity visible_bias",
                "velocity hidden_bias",
            ],
            velocity,
        )?;
        let (nh, nv) = (self.n_hidden(), self.n_visible());
        let slices = (
            kernels::contiguous(&a.visible),
            kernels::contiguous(&a.hidden),
            kernels::contiguous(&b.visible),
            kernels::contiguous(&b.hidden),
        );
        let (Some(av), Some(ah), Some(bv), Some(bh)) = slices else {
            return contrastive_update_unfused(self, a, b, rule, velocity, scratch, ctx);
        };
        // The fused path computes ∂F/∂W = −E[h|v] vᵀ and ∂F/∂c = −E[h|v] with unscaled v:
        // visible units without a σ block (Bernoulli, unit-variance Gaussian).
        let fused = self.params.n_blocks() == 3;
        let small = kernels::small_layers(nh, nv);
        // Larger layers: the sparse weight gradient when both visible terms are mostly zeros.
        let sparse = !small
            && crate::sparse::worth_it(nh, nv, a.visible.ncols() + b.visible.ncols())
            && crate::sparse::sparse_enough(av)
            && crate::sparse::sparse_enough(bv);
        if !(fused && (small || sparse)) {
            return contrastive_update_unfused(self, a, b, rule, velocity, scratch, ctx);
        }
        let terms = [
            kernels::Term {
                h: ah,
                v: av,
                alpha: -a.scale,
            },
            kernels::Term {
                h: bh,
                v: bv,
                alpha: -b.scale,
            },
        ];
        let s = scratch.layer_mut();
        if small {
            kernels::weight_gradient(terms, s.weights.as_mut_slice(), nh, nv);
        } else {
            crate::sparse::sparse_weight_gradient(terms, s.weights.as_mut_slice(), nh, nv);
        }
        if V::BINARY {
            bias_gradient_into(
                s.visible_bias.as_mut_slice(),
                [(av, -a.scale), (bv, -b.scale)],
            );
        }
        bias_gradient_into(
            s.hidden_bias.as_mut_slice(),
            [(ah, -a.scale), (bh, -b.scale)],
        );
        if !V::BINARY {
            let (zero, one) = (T::zero(), T::one());
            V::gradient_into(&a.visible, &a.hidden, a.scale, zero, &self.params, scratch);
            V::gradient_into(&b.visible, &b.hidden, b.scale, one, &self.params, scratch);
        }
        for block in 0..self.params.n_blocks() {
            let r = rule.block_rule(self.params.block_kind(block));
            let theta = self.params.block(block);
            if !kernels::update_block(
                &r,
                theta,
                scratch.block_mut(block),
                velocity.block_mut(block),
            ) {
                return Err(Error::Diverged {
                    epoch: ctx.epoch,
                    batch: ctx.batch,
                    block: self.params.block_name(block),
                });
            }
        }
        std::mem::swap(&mut self.params, scratch);
        self.transposed.invalidate();
        Ok(())
    }
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Rbm<T, V, H> {
    /// Checks the shapes of a gradient term.
    fn check_term(&self, t: &GradientTerm<'_, T>) -> Result<()> {
        self.check_shape(
            "visible states (n_visible × n)",
            t.visible.nrows(),
            self.n_visible(),
            t.visible.ncols(),
        )?;
        check_same_shape(
            "hidden probabilities",
            (self.n_hidden(), t.visible.ncols()),
            t.hidden.shape(),
        )
    }

    /// Checks that `p` has the shapes of the parameters.
    fn check_params_shape(&self, what: [&'static str; 3], p: &V::Params) -> Result<()> {
        let (l, q) = (self.layer(), p.layer());
        check_same_shape(what[0], l.weights.shape(), q.weights.shape())?;
        check_same_shape(what[1], (self.n_visible(), 1), q.visible_bias.shape())?;
        check_same_shape(what[2], (self.n_hidden(), 1), q.hidden_bias.shape())?;
        match (self.params.log_sigma(), p.log_sigma()) {
            (Some(s), Some(t)) => check_same_shape("log_sigma", s.shape(), t.shape()),
            _ => Ok(()),
        }
    }
}

/// `out ← Σ_terms scale · (row sums of m)`, element by element as [`row_sums_into`] with
/// `beta = 0` for the first term and `beta = 1` for the second.
fn bias_gradient_into<T: Float>(out: &mut [T], terms: [(&[T], T); 2]) {
    let rows = out.len();
    if rows == 0 {
        return;
    }
    let work = terms[0].0.len() + terms[1].0.len();
    // Parts of the rows in parallel: each element's sum keeps its order.
    parallel::for_each_part(out, work, |start, part| {
        part.fill(T::zero());
        for (m, scale) in terms {
            for col in m.chunks_exact(rows) {
                for (acc, &x) in part.iter_mut().zip(&col[start..]) {
                    *acc += scale * x;
                }
            }
        }
    });
}

/// x ← σ(x + bias) column by column, over blocks of columns in parallel with `threading`.
pub(crate) fn add_bias_sigmoid<T: Float>(out: &mut DMatrixViewMut<'_, T>, bias: &DVector<T>) {
    let b = bias.as_slice();
    let rows = out.nrows();
    if let Some(o) = kernels::contiguous_mut(out) {
        // σ(1·x + b) = σ(x + b) exactly, through the vectorised kernel.
        parallel::for_each_column_block(o, rows, |_, _, block| {
            kernels::scale_bias_sigmoid(block, T::one(), b)
        });
        return;
    }
    for mut col in out.column_iter_mut() {
        for (x, &bj) in col.as_mut_slice().iter_mut().zip(b) {
            *x = sigmoid(*x + bj);
        }
    }
}

/// states ← Bernoulli(probs), column by column (see [`crate::bernoulli::fill`]): one word is
/// drawn from `rng`, and each block of [`parallel::COLUMN_BLOCK`] columns samples from its own
/// generators derived from it (see [`crate::parallel`]), in parallel with `threading`.
pub(crate) fn sample_bernoulli<T: Float, R: Rng + ?Sized>(
    probs: DMatrixView<'_, T>,
    mut states: DMatrixViewMut<'_, T>,
    rng: &mut R,
) -> Result<()> {
    check_same_shape("sample buffer", probs.shape(), states.shape())?;
    let word = parallel::draw_word(rng);
    let rows = probs.nrows();
    if let (Some(p), Some(s)) = (
        kernels::contiguous(&probs),
        kernels::contiguous_mut(&mut states),
    ) {
        parallel::for_each_column_block_pair(p, rows, s, rows, |b, p, s| {
            let mut r = parallel::block_rng(word, b);
            for (pc, sc) in p.chunks_exact(rows).zip(s.chunks_exact_mut(rows)) {
                crate::bernoulli::fill(pc, sc, &mut r);
            }
        });
        return Ok(());
    }
    let mut r = parallel::block_rng(word, 0);
    for (c, (mut s, p)) in states
        .column_iter_mut()
        .zip(probs.column_iter())
        .enumerate()
    {
        if c > 0 && c % parallel::COLUMN_BLOCK == 0 {
            r = parallel::block_rng(word, c / parallel::COLUMN_BLOCK);
        }
        crate::bernoulli::fill(p.as_slice(), s.as_mut_slice(), &mut r);
    }
    Ok(())
}

/// Metrics: the reconstruction error for every kind; the pseudo-likelihoods only for
/// Bernoulli–Bernoulli models (they are not defined for real-valued visible units, and are
/// left `None` there).
impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> FitModel for Rbm<T, V, H> {
    fn check_data(&self, data: &Dataset<T>) -> Result<()> {
        self.check_shape(
            "training data (n_features must equal n_visible)",
            data.n_features(),
            self.n_visible(),
            data.n_samples(),
        )?;
        V::check_domain("training data (Bernoulli units)", data.samples())
    }

    fn initialize_for_fit(
        &mut self,
        data: &Dataset<T>,
        init: &Init,
        rng: &mut crate::train::RunRng,
    ) -> Result<()> {
        self.initialize(init, Some(data), rng)
    }

    fn evaluate(
        &self,
        data: &Dataset<T>,
        config: &MetricsConfig,
        rng: &mut crate::train::RunRng,
    ) -> Result<Metrics> {
        let mut m = Metrics::default();
        if config.reconstruction {
            m.recon_mse = Some(self.reconstruction_error(data)?);
        }
        if !(config.pseudo_likelihood || config.pseudo_likelihood_exact) {
            return Ok(m);
        }
        let Some(bb) = self.as_bernoulli() else {
            return Ok(m);
        };
        if config.pseudo_likelihood {
            m.pseudo_likelihood = Some(mean(&bb.pseudo_likelihood(data, rng)?));
        }
        if config.pseudo_likelihood_exact {
            m.pseudo_likelihood_exact = Some(mean(&bb.pseudo_likelihood_exact(data)?));
        }
        Ok(m)
    }
}

fn mean(v: &DVector<f64>) -> f64 {
    v.sum() / v.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbm_is_send_sync() {
        fn is<T: Send + Sync>() {}
        is::<Rbm<f32>>();
        is::<Rbm<f64>>();
    }

    #[test]
    fn row_sums_accumulate() {
        let m = DMatrix::from_row_slice(2, 2, &[1.0f64, 2.0, 3.0, 4.0]);
        let mut out = DVector::from_vec(vec![10.0, 20.0]);
        row_sums_into(&m.as_view(), 2.0, 0.5, &mut out);
        assert_eq!(out.as_slice(), &[5.0 + 6.0, 10.0 + 14.0]);
    }
}

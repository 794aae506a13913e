//! Parallel tempering (PT): persistent chains at several inverse temperatures, with swaps.
//!
//! A tempered model p_β(v, h) ∝ exp(−β·E(v, h)) is flatter for β < 1 (uniform at β = 0), so
//! its Gibbs chains mix faster. Parallel tempering (Swendsen & Wang 1986; Geyer 1991; for
//! RBMs Desjardins et al. 2010 and Cho, Raiko & Ilin 2010) runs persistent chains at a ladder
//! 1 = β₀ > β₁ > … > β_{T−1} ≥ 0 and, after each Gibbs sweep, proposes to exchange the states
//! x_a of temperature t and x_b of temperature t + 1, accepted with the Metropolis probability
//!
//! ```text
//! min(1, exp((β_t − β_{t+1}) · (E(x_a) − E(x_b))))
//! ```
//!
//! which leaves the product Π_t p_{β_t} invariant. The β = 1 chains are the negative phase, as
//! PCD's chains are; the hot chains feed them states from other modes.
//!
//! PT needs tempered conditionals ([`Tempered`]), which an autoencoder does not have:
//!
//! ```compile_fail,E0277
//! use rbms::{datasets, Decoder, FitConfig, Loss, ParallelTempering, TiedAutoencoder};
//! let data = datasets::digits_scaled::<f32>().head(100).unwrap();
//! let mut ae = TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
//! ae.fit(&data, &ParallelTempering::new(1, 10, 4), &FitConfig::default()).unwrap();
//! ```

use super::centering::{centered_update, Centering, Offsets};
use super::checkpoint::check_same_shape;
use super::{Resumable, RunRng, StepContext, Trainer, UpdateRule};
use crate::energy::{EnergyModel, GradientTerm};
use crate::math::{gemm_at_b, sigmoid};
use crate::params::Model;
use crate::params::{LayerParams, Parameters};
use crate::units::{Bernoulli, Gaussian, GaussianSigma, HiddenUnits, Spin, VisibleUnits};
use crate::{Dataset, Error, Float, Rbm, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use num_traits::{One, Zero};
use rand::Rng;

/// An energy model whose tempered distributions p_β(v, h) ∝ exp(−β·E(v, h)) can be sampled
/// by block Gibbs sampling: what [`ParallelTempering`] needs beyond [`EnergyModel`].
///
/// At β = 1 the conditionals are the model's own ([`EnergyModel::sample_hidden_into`] and
/// [`EnergyModel::sample_visible_into`]). Matrices hold one sample per column.
///
/// ```
/// use rbms::train::Tempered;
/// use rbms::Rbm;
/// use nalgebra::{DMatrix, DVector};
/// use rand::SeedableRng;
/// let rbm = Rbm::<f64>::from_parameters(
///     DMatrix::from_row_slice(1, 2, &[1.0, -2.0]), DVector::from_vec(vec![0.5, 0.0]),
///     DVector::from_vec(vec![0.25]))?;
/// let v = DMatrix::from_column_slice(2, 1, &[1.0, 1.0]);
/// let (mut p, mut h) = (DMatrix::zeros(1, 1), DMatrix::zeros(1, 1));
/// let mut rng = rbms::RunRng::seed_from_u64(0);
/// rbm.sample_hidden_tempered_into(v.as_view(), 0.5, p.as_view_mut(), h.as_view_mut(), &mut rng)?;
/// let expected = 1.0 / (1.0 + (-(0.5f64 * (0.25 + 1.0 - 2.0))).exp()); // σ(β(c + Wv))
/// assert!((p[(0, 0)] - expected).abs() < 1e-15);
/// # Ok::<(), rbms::Error>(())
/// ```
pub trait Tempered: EnergyModel {
    /// Samples h ~ p_β(h | v): writes the conditional means into `probs` and a sample into
    /// `states` (both `n_hidden × n`).
    fn sample_hidden_tempered_into<R: Rng + ?Sized>(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        beta: Self::Scalar,
        probs: DMatrixViewMut<'_, Self::Scalar>,
        states: DMatrixViewMut<'_, Self::Scalar>,
        rng: &mut R,
    ) -> Result<()>;

    /// Samples v ~ p_β(v | h): writes the conditional means into `probs` and a sample into
    /// `states` (both `n_visible × n`).
    fn sample_visible_tempered_into<R: Rng + ?Sized>(
        &self,
        h: DMatrixView<'_, Self::Scalar>,
        beta: Self::Scalar,
        probs: DMatrixViewMut<'_, Self::Scalar>,
        states: DMatrixViewMut<'_, Self::Scalar>,
        rng: &mut R,
    ) -> Result<()>;

    /// Writes the energy E(v, h) of each pair of columns into `out` (length `n`), using
    /// `workspace` (`n_hidden × n`), without allocating.
    fn energy_into(
        &self,
        v: DMatrixView<'_, Self::Scalar>,
        h: DMatrixView<'_, Self::Scalar>,
        workspace: DMatrixViewMut<'_, Self::Scalar>,
        out: &mut [Self::Scalar],
    ) -> Result<()>;
}

fn check_shape(what: &'static str, expected: (usize, usize), found: (usize, usize)) -> Result<()> {
    if expected != found {
        return Err(Error::ShapeMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

/// `out ← W·x`. Small layers (those of the crate's own kernels) take a plain loop, which
/// allocates nothing; larger ones `gemm`.
fn product_into<T: Float>(w: &DMatrix<T>, x: DMatrixView<'_, T>, out: &mut DMatrixViewMut<'_, T>) {
    let (nh, nv) = w.shape();
    if !crate::kernels::small_layers(nh, nv) {
        crate::math::weights_times(w, &x, out);
        return;
    }
    let w = w.as_slice();
    for n in 0..x.ncols() {
        let mut o = out.column_mut(n);
        let o = o.as_mut_slice();
        o.fill(T::zero());
        for (i, wi) in w.chunks_exact(nh).enumerate() {
            let xi = x[(i, n)];
            if xi != T::zero() {
                for (oj, &wji) in o.iter_mut().zip(wi) {
                    *oj += wji * xi;
                }
            }
        }
    }
}

/// `out ← Wᵀ·h`, like [`product_into`].
fn transposed_product_into<T: Float>(
    w: &DMatrix<T>,
    h: DMatrixView<'_, T>,
    out: &mut DMatrixViewMut<'_, T>,
) {
    let (nh, nv) = w.shape();
    if !crate::kernels::small_layers(nh, nv) {
        gemm_at_b(out, T::one(), &w.as_view(), &h, T::zero());
        return;
    }
    let w = w.as_slice();
    for n in 0..h.ncols() {
        let hn = h.column(n);
        let hn = hn.as_slice();
        let mut o = out.column_mut(n);
        for (oi, wi) in o.iter_mut().zip(w.chunks_exact(nh)) {
            let mut acc = T::zero();
            for (&wji, &hj) in wi.iter().zip(hn) {
                acc += wji * hj;
            }
            *oi = acc;
        }
    }
}

/// `out ← σ(β·(out + bias))` column by column, then a Bernoulli sample of it into `states`.
fn tempered_sigmoid_sample<T: Float, R: Rng + ?Sized>(
    mut probs: DMatrixViewMut<'_, T>,
    bias: &[T],
    beta: T,
    mut states: DMatrixViewMut<'_, T>,
    rng: &mut R,
) {
    for (mut p, mut s) in probs.column_iter_mut().zip(states.column_iter_mut()) {
        for (x, &b) in p.iter_mut().zip(bias) {
            *x = sigmoid(beta * (*x + b));
        }
        T::bernoulli_fill(p.as_slice(), s.as_mut_slice(), rng);
    }
}

/// v ⊙ σ⁻¹ when the visible units have a learned σ (the hidden units see v/σ), else `None`.
fn scaled_visible<T: Float, V: VisibleUnits<T>>(
    v: DMatrixView<'_, T>,
    params: &V::Params,
) -> Option<DMatrix<T>> {
    V::inverse_sigma(params).map(|inv| {
        let mut x = v.clone_owned();
        for mut col in x.column_iter_mut() {
            col.component_mul_assign(&inv);
        }
        x
    })
}

/// p_β(h | v) for any unit kinds: means f(β(c + W·(v/σ))) with f the hidden units' mean
/// (logistic or tanh), then a sample of the hidden units.
fn hidden_tempered<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>, R: Rng + ?Sized>(
    m: &Rbm<T, V, H>,
    v: DMatrixView<'_, T>,
    beta: T,
    mut probs: DMatrixViewMut<'_, T>,
    states: DMatrixViewMut<'_, T>,
    rng: &mut R,
) -> Result<()> {
    let (nh, nv) = m.weights().shape();
    check_shape("visible states (n_visible × n)", (nv, v.ncols()), v.shape())?;
    check_shape("hidden probabilities", (nh, v.ncols()), probs.shape())?;
    check_shape("hidden states", (nh, v.ncols()), states.shape())?;
    match scaled_visible::<T, V>(v, m.params()) {
        Some(x) => product_into(m.weights(), x.as_view(), &mut probs),
        None => product_into(m.weights(), v, &mut probs),
    }
    let c = m.hidden_bias();
    if H::SIGMOID {
        tempered_sigmoid_sample(probs, c.as_slice(), beta, states, rng);
        return Ok(());
    }
    for mut col in probs.column_iter_mut() {
        for (x, &cj) in col.iter_mut().zip(c.iter()) {
            *x = (beta * (*x + cj)).tanh();
        }
    }
    H::sample(probs.as_view(), states, rng)
}

/// p_β(v | h) for any unit kinds: binary units σ(β(b + Wᵀh)); Gaussian units their mean
/// b + σ⊙(Wᵀh) and variance σ²/β.
fn visible_tempered<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>, R: Rng + ?Sized>(
    m: &Rbm<T, V, H>,
    h: DMatrixView<'_, T>,
    beta: T,
    mut probs: DMatrixViewMut<'_, T>,
    mut states: DMatrixViewMut<'_, T>,
    rng: &mut R,
) -> Result<()> {
    let (nh, nv) = m.weights().shape();
    check_shape("hidden states (n_hidden × n)", (nh, h.ncols()), h.shape())?;
    check_shape("visible probabilities", (nv, h.ncols()), probs.shape())?;
    check_shape("visible states", (nv, h.ncols()), states.shape())?;
    transposed_product_into(m.weights(), h, &mut probs);
    if V::BINARY {
        tempered_sigmoid_sample(probs, m.visible_bias().as_slice(), beta, states, rng);
        return Ok(());
    }
    V::mean_in_place(&mut probs, m.params());
    let inv = V::inverse_sigma(m.params());
    let spread = T::one() / beta.sqrt();
    for (pc, mut sc) in probs.column_iter().zip(states.column_iter_mut()) {
        for (i, (&mean, s)) in pc.iter().zip(sc.iter_mut()).enumerate() {
            let sigma = inv.as_ref().map_or(T::one(), |inv| T::one() / inv[i]);
            *s = mean + sigma * spread * V::noise(rng);
        }
    }
    Ok(())
}

/// E(v, h) = E_V(v) − Σⱼ hⱼ (cⱼ + (W·(v/σ))ⱼ) for any unit kinds.
fn energy_generic<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>>(
    m: &Rbm<T, V, H>,
    v: DMatrixView<'_, T>,
    h: DMatrixView<'_, T>,
    mut workspace: DMatrixViewMut<'_, T>,
    out: &mut [T],
) -> Result<()> {
    let (nh, nv) = m.weights().shape();
    let n = v.ncols();
    check_shape("visible states (n_visible × n)", (nv, n), v.shape())?;
    check_shape("hidden states (n_hidden × n)", (nh, n), h.shape())?;
    check_shape("energy workspace", (nh, n), workspace.shape())?;
    check_shape("energies", (n, 1), (out.len(), 1))?;
    match scaled_visible::<T, V>(v, m.params()) {
        Some(x) => product_into(m.weights(), x.as_view(), &mut workspace),
        None => product_into(m.weights(), v, &mut workspace),
    }
    let c = m.hidden_bias();
    for (k, e) in out.iter_mut().enumerate() {
        let mut acc = -V::energy(&v, k, m.params());
        for ((&hj, &cj), &xj) in h.column(k).iter().zip(c.iter()).zip(workspace.column(k)) {
            acc += hj * (cj + xj);
        }
        *e = -acc;
    }
    Ok(())
}

/// Tempering for every unit combination: p_β ∝ exp(−β E) with β scaling every term of the
/// energy: binary units σ(β·input), spins tanh(β·input), Gaussian visible units the variance
/// σ²/β; E(v, h) = E_V(v) − cᵀh − hᵀW(v/σ). Through the public accessors only.
macro_rules! tempered_units {
    ($($v:ty, $h:ty);* $(;)?) => {$(
        impl<T: Float> Tempered for Rbm<T, $v, $h> {
            fn sample_hidden_tempered_into<R: Rng + ?Sized>(
                &self,
                v: DMatrixView<'_, T>,
                beta: T,
                probs: DMatrixViewMut<'_, T>,
                states: DMatrixViewMut<'_, T>,
                rng: &mut R,
            ) -> Result<()> {
                hidden_tempered(self, v, beta, probs, states, rng)
            }

            fn sample_visible_tempered_into<R: Rng + ?Sized>(
                &self,
                h: DMatrixView<'_, T>,
                beta: T,
                probs: DMatrixViewMut<'_, T>,
                states: DMatrixViewMut<'_, T>,
                rng: &mut R,
            ) -> Result<()> {
                visible_tempered(self, h, beta, probs, states, rng)
            }

            fn energy_into(
                &self,
                v: DMatrixView<'_, T>,
                h: DMatrixView<'_, T>,
                workspace: DMatrixViewMut<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                energy_generic(self, v, h, workspace, out)
            }
        }
    )*};
}

tempered_units!(
    Bernoulli, Bernoulli;
    Bernoulli, Spin;
    Gaussian, Bernoulli;
    Gaussian, Spin;
    GaussianSigma, Bernoulli;
    GaussianSigma, Spin;
);

/// The inverse temperatures of [`ParallelTempering`].
#[derive(Debug, Clone, PartialEq)]
pub enum Ladder {
    /// `temperatures` values from 1 down to `min_beta`, in geometric progression:
    /// β_t = min_beta^(t / (temperatures − 1)). One temperature is β = 1 alone (PCD).
    Geometric {
        /// Number of temperatures (≥ 1).
        temperatures: usize,
        /// The smallest inverse temperature, in `(0, 1]` (< 1 when `temperatures` ≥ 2).
        min_beta: f64,
    },
    /// Given values: strictly decreasing, the first exactly 1, all in `(0, 1]`.
    Betas(Vec<f64>),
}

impl Ladder {
    /// The inverse temperatures, from 1 down, checked.
    ///
    /// ```
    /// use rbms::train::Ladder;
    /// let betas = Ladder::Geometric { temperatures: 3, min_beta: 0.25 }.betas()?;
    /// assert_eq!(betas, vec![1.0, 0.5, 0.25]);
    /// assert!(Ladder::Betas(vec![1.0, 0.5, 0.5]).betas().is_err()); // not strictly decreasing
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn betas(&self) -> Result<Vec<f64>> {
        let bad = |reason: String| Error::InvalidParameter {
            name: "ladder",
            reason,
        };
        let betas = match self {
            Self::Geometric {
                temperatures,
                min_beta,
            } => {
                let n = *temperatures;
                if n == 0 {
                    return Err(bad("needs at least one temperature, got 0".into()));
                }
                if !(min_beta.is_finite() && *min_beta > 0.0 && *min_beta <= 1.0) {
                    return Err(bad(format!("min_beta must lie in (0, 1], got {min_beta}")));
                }
                if n == 1 {
                    vec![1.0]
                } else {
                    (0..n)
                        .map(|t| min_beta.powf(t as f64 / (n - 1) as f64))
                        .collect()
                }
            }
            Self::Betas(b) => b.clone(),
        };
        if betas.first() != Some(&1.0) {
            return Err(bad(format!(
                "the first inverse temperature must be 1, got {betas:?}"
            )));
        }
        for w in betas.windows(2) {
            if !(w[1] < w[0] && w[1] > 0.0) {
                return Err(bad(format!(
                    "inverse temperatures must decrease strictly within (0, 1], got {betas:?}"
                )));
            }
        }
        Ok(betas)
    }
}

/// Parallel tempering (see the [module docs](self)): `chains` persistent chains at each
/// inverse temperature of `ladder`; each update runs `k` sweeps, each sweep one block-Gibbs
/// step (v ~ p_β(v | h), h ~ p_β(h | v)) at every temperature followed by swap proposals
/// between neighbours t ↔ t + 1 for t = 0, 1, …, T − 2 in that order, chain `i` of one
/// temperature with chain `i` of the next.
///
/// The loss gradient for a batch V₀ of b samples is (1/b)·Σ ∇F(V₀) − (1/chains)·Σ ∇F(V),
/// with V the visible states of the β = 1 chains after the sweeps. With one temperature this
/// is PCD-k exactly in distribution (not in bits: the sampling order differs).
///
/// Swap acceptance rates are kept in the state ([`PtState::swap_acceptance_rates`]) and
/// reported in [`FitReport::diagnostics`](crate::train::FitReport::diagnostics). With
/// [`centering`](Self::centering) the update is the centered one of
/// [`centered_update`].
///
/// ```
/// use rbms::train::ParallelTempering;
/// use rbms::{datasets, FitConfig, MetricsConfig, Rbm};
/// let data = datasets::bars_and_stripes::<f64>(3)?;
/// let pt = ParallelTempering::new(1, 4, 5);
/// let mut rbm = Rbm::<f64>::new(9, 8)?;
/// let config = FitConfig::default().epochs(2).batch_size(4).metrics(MetricsConfig::none());
/// let report = rbm.fit(&data, &pt, &config)?;
/// assert_eq!(report.diagnostics.len(), 4); // one acceptance rate per neighbouring pair
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelTempering {
    /// Sweeps per update (≥ 1).
    pub k: usize,
    /// Chains per temperature (≥ 1).
    pub chains: usize,
    /// The inverse temperatures.
    pub ladder: Ladder,
    /// Centered updates (Montavon & Müller 2012), if set.
    pub centering: Option<Centering>,
}

impl ParallelTempering {
    /// The default smallest inverse temperature of [`new`](Self::new)'s geometric ladder.
    pub const DEFAULT_MIN_BETA: f64 = 0.1;

    /// `k` sweeps per update, `chains` chains at each of `temperatures` inverse temperatures in
    /// geometric progression from 1 down to [`DEFAULT_MIN_BETA`](Self::DEFAULT_MIN_BETA).
    pub fn new(k: usize, chains: usize, temperatures: usize) -> Self {
        Self {
            k,
            chains,
            ladder: Ladder::Geometric {
                temperatures,
                min_beta: Self::DEFAULT_MIN_BETA,
            },
            centering: None,
        }
    }

    /// Sets the [`ladder`](Self::ladder).
    pub fn ladder(mut self, ladder: Ladder) -> Self {
        self.ladder = ladder;
        self
    }

    /// Sets [`centering`](Self::centering).
    pub fn centering(mut self, centering: Option<Centering>) -> Self {
        self.centering = centering;
        self
    }

    /// Runs `sweeps` sweeps (Gibbs steps at every temperature, then the swap proposals, as in
    /// a training step) without changing the model: a sampler for p(v, h) at every β of the
    /// ladder. The state must come from this trainer's
    /// [`init_state`](Trainer::init_state) for `model` (a checkpoint's state is checked by
    /// [`resume`](crate::train::resume)); [`Error::ShapeMismatch`] otherwise.
    ///
    /// ```
    /// use rbms::train::{ParallelTempering, Trainer};
    /// use rbms::{datasets, Rbm, RunRng};
    /// use rand::SeedableRng;
    /// let data = datasets::bars_and_stripes::<f64>(2)?;
    /// let rbm = Rbm::<f64>::new(4, 3)?; // uniform p(v): every swap is accepted
    /// let pt = ParallelTempering::new(1, 5, 3);
    /// let mut rng = RunRng::seed_from_u64(1);
    /// let mut state = pt.init_state(&rbm, &data, 1, &mut rng)?;
    /// pt.run_chains(&rbm, &mut state, 10, &mut rng)?;
    /// assert_eq!(state.swap_acceptance_rates(), vec![Some(1.0), Some(1.0)]);
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn run_chains<M: Tempered>(
        &self,
        model: &M,
        state: &mut PtState<M::Params>,
        sweeps: usize,
        rng: &mut RunRng,
    ) -> Result<()> {
        let cols = state.betas.len() * state.chains;
        let (nv, nh) = (model.n_visible(), model.n_hidden());
        check_shape("chain visible states", (nv, cols), state.v_states.shape())?;
        check_shape("chain hidden states", (nh, cols), state.h_states.shape())?;
        for _ in 0..sweeps {
            sweep(model, state, rng)?;
        }
        Ok(())
    }
}

/// State of [`ParallelTempering`]: velocity, workspaces, the chains of every temperature,
/// swap counts and, when centering, the offsets.
///
/// Chain `i` of temperature `t` is column `t·chains + i` of the state matrices.
#[derive(Debug, Clone)]
pub struct PtState<P: Parameters> {
    velocity: P,
    scratch: P,
    /// Positive-phase hidden probabilities (`n_hidden × batch_size`).
    positive: DMatrix<P::Scalar>,
    betas: Vec<f64>,
    chains: usize,
    v_states: DMatrix<P::Scalar>,
    v_probs: DMatrix<P::Scalar>,
    h_states: DMatrix<P::Scalar>,
    h_probs: DMatrix<P::Scalar>,
    /// p(h | v) of the β = 1 chains, for the negative phase (`n_hidden × chains`).
    negative: DMatrix<P::Scalar>,
    workspace: DMatrix<P::Scalar>,
    energies: Vec<P::Scalar>,
    accepted: Vec<u64>,
    attempted: Vec<u64>,
    offsets: Option<Offsets<P::Scalar>>,
}

impl<P: Parameters> PtState<P> {
    /// The momentum velocity carried between steps.
    pub fn velocity(&self) -> &P {
        &self.velocity
    }
    /// The inverse temperatures, from 1 down.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }
    /// Chains per temperature.
    pub fn chains_per_temperature(&self) -> usize {
        self.chains
    }
    /// Visible states of every chain (`n_visible × temperatures·chains`; temperature `t`'s
    /// chains are columns `t·chains ..`).
    pub fn chain_visible_states(&self) -> &DMatrix<P::Scalar> {
        &self.v_states
    }
    /// Hidden states of every chain, laid out as [`chain_visible_states`](Self::chain_visible_states).
    pub fn chain_hidden_states(&self) -> &DMatrix<P::Scalar> {
        &self.h_states
    }
    /// Accepted swaps between temperatures t and t + 1, for each t (length T − 1).
    pub fn swaps_accepted(&self) -> &[u64] {
        &self.accepted
    }
    /// Proposed swaps between temperatures t and t + 1, for each t.
    pub fn swaps_attempted(&self) -> &[u64] {
        &self.attempted
    }
    /// Accepted / proposed swaps for each neighbouring pair (t, t + 1); `None` before any
    /// proposal.
    pub fn swap_acceptance_rates(&self) -> Vec<Option<f64>> {
        self.accepted
            .iter()
            .zip(&self.attempted)
            .map(|(&a, &n)| (n > 0).then(|| a as f64 / n as f64))
            .collect()
    }
    /// The centering offsets, when centering.
    pub fn offsets(&self) -> Option<&Offsets<P::Scalar>> {
        self.offsets.as_ref()
    }
}

impl<T: Float> PtState<LayerParams<T>> {
    /// A state from its persistent parts; workspaces are allocated here or at the first step.
    /// Used when loading a checkpoint.
    #[cfg(feature = "serde")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        velocity: LayerParams<T>,
        betas: Vec<f64>,
        chains: usize,
        v_states: DMatrix<T>,
        h_states: DMatrix<T>,
        accepted: Vec<u64>,
        attempted: Vec<u64>,
        offsets: Option<Offsets<T>>,
    ) -> Self {
        let (nv, nh, cols) = (v_states.nrows(), h_states.nrows(), v_states.ncols());
        Self {
            scratch: velocity.zeros_like(),
            velocity,
            positive: DMatrix::zeros(nh, 0),
            betas,
            chains,
            v_probs: DMatrix::zeros(nv, cols),
            h_probs: DMatrix::zeros(nh, cols),
            v_states,
            h_states,
            negative: DMatrix::zeros(nh, chains),
            workspace: DMatrix::zeros(nh, cols),
            energies: vec![T::zero(); cols],
            accepted,
            attempted,
            offsets,
        }
    }
}

impl<M> Trainer<M> for ParallelTempering
where
    M: Tempered<Params = LayerParams<<M as crate::params::Model>::Scalar>>,
{
    type State = PtState<M::Params>;

    fn name(&self) -> String {
        let betas = self
            .ladder
            .betas()
            .map(|b| format!("{b:?}"))
            .unwrap_or_else(|_| "invalid ladder".into());
        let centered = if self.centering.is_some() {
            ", centered"
        } else {
            ""
        };
        format!(
            "PT-{} ({} chains at betas {betas}{centered})",
            self.k, self.chains
        )
    }

    fn check(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::ZeroGibbsSteps);
        }
        if self.chains == 0 {
            return Err(Error::ZeroChains);
        }
        if let Some(c) = &self.centering {
            c.check()?;
        }
        self.ladder.betas().map(|_| ())
    }

    /// Every chain starts at h ~ p_β(h | v) for a training sample v drawn uniformly (with
    /// replacement) with the run's RNG: first all the picks, then the hidden samples,
    /// temperature by temperature.
    fn init_state(
        &self,
        model: &M,
        data: &Dataset<M::Scalar>,
        batch_size: usize,
        rng: &mut RunRng,
    ) -> Result<Self::State> {
        let betas = self.ladder.betas()?;
        let (nv, nh) = (model.n_visible(), model.n_hidden());
        let cols = betas
            .len()
            .checked_mul(self.chains)
            .ok_or_else(|| Error::InvalidParameter {
                name: "chains",
                reason: "temperatures × chains overflows usize".into(),
            })?;
        let picks: Vec<usize> = (0..cols)
            .map(|_| crate::data::bounded(rng, data.n_samples() as u64) as usize)
            .collect();
        let mut v_states = DMatrix::zeros(nv, cols);
        data.gather_into(&picks, &mut v_states)?;
        let mut h_probs = DMatrix::zeros(nh, cols);
        let mut h_states = DMatrix::zeros(nh, cols);
        for (t, &beta) in betas.iter().enumerate() {
            let c = t * self.chains;
            model.sample_hidden_tempered_into(
                v_states.columns(c, self.chains),
                M::Scalar::of_f64(beta),
                h_probs.columns_mut(c, self.chains),
                h_states.columns_mut(c, self.chains),
                rng,
            )?;
        }
        let offsets = match &self.centering {
            Some(_) => Some(Offsets::from_data(model, data)?),
            None => None,
        };
        let pairs = betas.len() - 1;
        Ok(PtState {
            velocity: model.params().zeros_like(),
            scratch: model.params().zeros_like(),
            positive: DMatrix::zeros(nh, batch_size),
            betas,
            chains: self.chains,
            v_probs: DMatrix::zeros(nv, cols),
            v_states,
            h_probs,
            h_states,
            negative: DMatrix::zeros(nh, self.chains),
            workspace: DMatrix::zeros(nh, cols),
            energies: vec![M::Scalar::zero(); cols],
            accepted: vec![0; pairs],
            attempted: vec![0; pairs],
            offsets,
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
        if b > state.positive.ncols() {
            state.positive = DMatrix::zeros(model.n_hidden(), b);
        }
        model.hidden_probabilities_into(batch, state.positive.columns_mut(0, b))?;
        for _ in 0..self.k {
            sweep(model, state, rng)?;
        }
        let m = state.chains;
        model.hidden_probabilities_into(
            state.v_states.columns(0, m),
            state.negative.as_view_mut(),
        )?;
        let one = M::Scalar::one();
        let a = GradientTerm {
            visible: batch,
            hidden: state.positive.columns(0, b),
            scale: one / M::Scalar::of_usize(b),
        };
        let neg = GradientTerm {
            visible: state.v_states.columns(0, m),
            hidden: state.negative.as_view(),
            scale: -one / M::Scalar::of_usize(m),
        };
        match (&self.centering, &mut state.offsets) {
            (Some(c), Some(offsets)) => {
                centered_update(
                    model,
                    a,
                    neg,
                    offsets,
                    rule,
                    &mut state.velocity,
                    &mut state.scratch,
                    ctx,
                )?;
                offsets.update_hidden(state.positive.columns(0, b), c.hidden_rate);
            }
            (None, _) => model.contrastive_update(
                a,
                neg,
                rule,
                &mut state.velocity,
                &mut state.scratch,
                ctx,
            )?,
            (Some(_), None) => {
                return Err(Error::ResumeMismatch {
                    what: "centering offsets",
                    reason: "the trainer centers but its state has no offsets".into(),
                })
            }
        }
        Ok(None)
    }

    fn diagnostics(&self, state: &Self::State) -> Vec<(String, f64)> {
        state
            .swap_acceptance_rates()
            .iter()
            .enumerate()
            .map(|(t, r)| (format!("swap_acceptance_{t}_{}", t + 1), r.unwrap_or(0.0)))
            .collect()
    }
}

impl<M> Resumable<M> for ParallelTempering
where
    M: Tempered<Params = LayerParams<<M as crate::params::Model>::Scalar>>,
{
    /// Checks the velocity's shape, the ladder and number of chains against these settings,
    /// the chains' shapes against the model, and the offsets against `centering`.
    fn check_state(&self, model: &M, state: &PtState<M::Params>) -> Result<()> {
        let mismatch = |what, reason: String| Err(Error::ResumeMismatch { what, reason });
        check_same_shape("velocity", state.velocity(), model.params())?;
        let betas = self.ladder.betas()?;
        if betas != state.betas || self.chains != state.chains {
            return mismatch(
                "ladder",
                format!(
                    "checkpoint of {} chains at betas {:?}, settings {} chains at {betas:?}",
                    state.chains, state.betas, self.chains
                ),
            );
        }
        let cols = betas.len() * self.chains;
        let (nv, nh) = (model.n_visible(), model.n_hidden());
        for (what, found, expected) in [
            ("chain visible states", state.v_states.shape(), (nv, cols)),
            ("chain hidden states", state.h_states.shape(), (nh, cols)),
        ] {
            if found != expected {
                return mismatch(what, format!("shape {found:?}, expected {expected:?}"));
            }
        }
        match (&self.centering, &state.offsets) {
            (None, None) => Ok(()),
            (Some(_), Some(o)) if o.visible().len() == nv && o.hidden().len() == nh => Ok(()),
            (Some(_), Some(_)) => mismatch(
                "centering offsets",
                "the offsets do not have the layers' lengths".into(),
            ),
            (Some(_), None) => mismatch(
                "centering offsets",
                "the trainer centers, the checkpoint has no offsets".into(),
            ),
            (None, Some(_)) => mismatch(
                "centering offsets",
                "the checkpoint has offsets, the trainer does not center".into(),
            ),
        }
    }
}

/// One Gibbs step at every temperature, then the swap proposals.
fn sweep<M: Tempered>(model: &M, s: &mut PtState<M::Params>, rng: &mut RunRng) -> Result<()> {
    let m = s.chains;
    for (t, &beta) in s.betas.iter().enumerate() {
        let (c, beta) = (t * m, M::Scalar::of_f64(beta));
        model.sample_visible_tempered_into(
            s.h_states.columns(c, m),
            beta,
            s.v_probs.columns_mut(c, m),
            s.v_states.columns_mut(c, m),
            rng,
        )?;
        model.sample_hidden_tempered_into(
            s.v_states.columns(c, m),
            beta,
            s.h_probs.columns_mut(c, m),
            s.h_states.columns_mut(c, m),
            rng,
        )?;
    }
    if s.betas.len() < 2 {
        return Ok(());
    }
    model.energy_into(
        s.v_states.as_view(),
        s.h_states.as_view(),
        s.workspace.as_view_mut(),
        &mut s.energies,
    )?;
    for t in 0..s.betas.len() - 1 {
        let d_beta = s.betas[t] - s.betas[t + 1];
        for i in 0..m {
            let (x, y) = (t * m + i, (t + 1) * m + i);
            let log_r = d_beta * (s.energies[x].as_f64() - s.energies[y].as_f64());
            let u = <f64 as Float>::uniform01(rng);
            s.attempted[t] += 1;
            // u < exp(log r), with u in [0, 1): always true for log r ≥ 0.
            if log_r >= 0.0 || u < log_r.exp() {
                s.accepted[t] += 1;
                s.v_states.swap_columns(x, y);
                s.h_states.swap_columns(x, y);
                s.energies.swap(x, y);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_ladder_ends_at_min_beta() {
        let b = Ladder::Geometric {
            temperatures: 5,
            min_beta: 0.01,
        }
        .betas()
        .unwrap();
        assert_eq!(b.len(), 5);
        assert_eq!(b[0], 1.0);
        assert!((b[4] - 0.01).abs() < 1e-15);
        assert!((b[1] / b[0] - b[2] / b[1]).abs() < 1e-12);
    }

    #[test]
    fn bad_ladders_are_refused() {
        for l in [
            Ladder::Geometric {
                temperatures: 0,
                min_beta: 0.5,
            },
            Ladder::Geometric {
                temperatures: 3,
                min_beta: 0.0,
            },
            Ladder::Geometric {
                temperatures: 3,
                min_beta: f64::NAN,
            },
            Ladder::Betas(vec![]),
            Ladder::Betas(vec![0.9, 0.5]),
            Ladder::Betas(vec![1.0, 0.5, 0.7]),
            Ladder::Betas(vec![1.0, -0.5]),
            Ladder::Betas(vec![1.0, f64::NAN]),
        ] {
            assert!(
                matches!(
                    l.betas(),
                    Err(Error::InvalidParameter { name: "ladder", .. })
                ),
                "{l:?}"
            );
        }
        // β = 0 is refused (an improper distribution for Gaussian units)
        assert!(Ladder::Betas(vec![1.0, 0.0]).betas().is_err());
        assert_eq!(
            Ladder::Betas(vec![1.0, 1e-3]).betas().unwrap(),
            vec![1.0, 1e-3]
        );
    }
}

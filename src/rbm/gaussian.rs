//! Gaussian–Bernoulli RBMs: real-valued visible units, binary hidden units.
//!
//! # The model
//!
//! With σᵢ > 0 (σᵢ = 1 for [`GaussianRbm`]; σᵢ = exp(zᵢ), zᵢ learned, for
//! [`GaussianSigmaRbm`]), the energy is
//!
//! ```text
//! E(v, h) = Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) − Σⱼ cⱼhⱼ − Σᵢⱼ (vᵢ/σᵢ) Wⱼᵢ hⱼ
//! ```
//!
//! (the convention of Cho, Ilin & Raiko 2011 and of Hinton's practical guide, §13.2, with the
//! hidden layer seeing v/σ), so that
//!
//! - p(hⱼ = 1 | v) = σ(cⱼ + Wⱼ·(v/σ));
//! - p(vᵢ | h) = N(bᵢ + σᵢ (Wᵀh)ᵢ, σᵢ²);
//! - F(v) = Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) − Σⱼ softplus(cⱼ + Wⱼ·(v/σ)), with ∫ exp(−F(v)) dv = Z
//!   (a density over ℝⁿ, so log p(v) can be positive).
//!
//! # The partition function
//!
//! Summing over h last, the Gaussian integral over v is done in closed form: with
//! aᵢ(h) = (Wᵀh)ᵢ,
//!
//! ```text
//! log Z = Σᵢ log(√(2π) σᵢ) + log Σ_h exp(cᵀh + Σᵢ (bᵢaᵢ/σᵢ + aᵢ²/2)),
//! ```
//!
//! which [`Rbm::log_partition_exact`] evaluates by enumerating the 2^n_hidden hidden states
//! in `f64` with log-sum-exp (up to [`MAX_EXACT_UNITS`] hidden units;
//! the cost does not grow with the number of visible units beyond a factor n_visible).
//!
//! # AIS
//!
//! [`Rbm::ais`] anneals from a base model with independent Gaussian visible units
//! p_A(v) = Πᵢ N(vᵢ; μᵢ, sᵢ²) ([`GaussianAisBase`]; hidden units uncoupled, so
//! Z_A = 2^n_hidden Πᵢ √(2π) sᵢ) to the model, through
//!
//! ```text
//! log p*_β(v) = −(1 − β) Σᵢ (vᵢ − μᵢ)²/(2sᵢ²) − β Σᵢ (vᵢ − bᵢ)²/(2σᵢ²)
//!               + Σⱼ softplus(β (cⱼ + Wⱼ·(v/σ))),
//! ```
//!
//! the marginal of a Gaussian–Bernoulli RBM at every β, sampled by block Gibbs sweeps: hⱼ given v
//! with probability σ(β (cⱼ + Wⱼ·(v/σ))), then vᵢ given h from the normal with precision
//! λᵢ = (1 − β)/sᵢ² + β/σᵢ² and mean ((1 − β) μᵢ/sᵢ² + β bᵢ/σᵢ² + β (Wᵀh)ᵢ/σᵢ)/λᵢ. The
//! estimate and its error bars are those of the Bernoulli AIS ([`super::ais`]): Ẑ is unbiased
//! for Z, so log Ẑ tends to be low.

use super::ais::{
    choose_columns, invalid, run_blocks, AisConfig, AisDirection, AisEstimate, LikelihoodEstimate,
    AIS_BLOCK,
};
use super::{Rbm, MAX_EXACT_UNITS};
use crate::energy::EnergyModel;
use crate::params::Model;
use crate::train::RunRng;
use crate::units::{Bernoulli, Gaussian, GaussianSigma, GaussianUnits, UnitParams};
use crate::{Dataset, Error, Float, Result, Standardizer};
use nalgebra::{DMatrix, DVector};
use rand_distr::{Distribution, StandardNormal};

/// A Gaussian–Bernoulli RBM with unit-variance visible units (standardise the data with
/// [`Standardizer`]). Train it with learning rates 10–100 times smaller than a Bernoulli RBM's
/// (0.001–0.005 on standardised digits; see [`crate::units`]); too large a rate ends the run
/// with [`Error::Diverged`] and the last finite parameters.
///
/// Build one with [`Rbm::zeros`] or [`Rbm::with_params`] (`Rbm::new` and
/// `Rbm::from_parameters` name the Bernoulli–Bernoulli model's constructors).
///
/// ```
/// use rbms::{EnergyModel, GaussianRbm, LayerParams};
/// use nalgebra::{DMatrix, DVector};
/// let gb = GaussianRbm::<f32>::zeros(64, 100)?;
/// assert_eq!(gb.n_visible(), 64);
/// let params = LayerParams::new(DMatrix::zeros(2, 3), DVector::zeros(3), DVector::zeros(2))?;
/// let gb = GaussianRbm::<f64>::with_params(params);
/// assert_eq!(gb.n_hidden(), 2);
/// # Ok::<(), rbms::Error>(())
/// ```
pub type GaussianRbm<T> = Rbm<T, Gaussian, Bernoulli>;

/// A Gaussian–Bernoulli RBM with a learned standard deviation per visible unit (as log σ,
/// block `log_sigma` of [`GaussianParams`](crate::units::GaussianParams)).
///
/// ```
/// use rbms::units::GaussianParams;
/// use rbms::{GaussianSigmaRbm, LayerParams};
/// use nalgebra::{DMatrix, DVector};
/// let layer = LayerParams::new(DMatrix::zeros(2, 3), DVector::zeros(3), DVector::zeros(2))?;
/// let log_sigma = DVector::from_vec(vec![0.0, 2f64.ln(), -1.0]);
/// let gb = GaussianSigmaRbm::<f64>::with_params(GaussianParams::new(layer, log_sigma)?);
/// assert!((gb.sigma()[1] - 2.0).abs() < 1e-15);
/// # Ok::<(), rbms::Error>(())
/// ```
pub type GaussianSigmaRbm<T> = Rbm<T, GaussianSigma, Bernoulli>;

impl<T: Float> Rbm<T, GaussianSigma, Bernoulli> {
    /// log σ per visible unit.
    pub fn log_sigma(&self) -> &DVector<T> {
        &self.params.log_sigma
    }

    /// σ per visible unit.
    pub fn sigma(&self) -> DVector<T> {
        self.params.log_sigma.map(|z| z.exp())
    }
}

/// The parameters in `f64`, with σ explicit.
struct Gb64 {
    /// `n_hidden × n_visible`.
    w: DMatrix<f64>,
    b: DVector<f64>,
    c: DVector<f64>,
    sigma: DVector<f64>,
}

impl Gb64 {
    fn of<T: Float, V: GaussianUnits<T>>(rbm: &Rbm<T, V, Bernoulli>) -> Self {
        let to64 = |x: &T| x.as_f64();
        let sigma = match V::inverse_sigma(rbm.params()) {
            Some(inv) => inv.map(|s| 1.0 / s.as_f64()),
            None => DVector::from_element(rbm.n_visible(), 1.0),
        };
        let sigma = match rbm.params().log_sigma() {
            // exp(z) directly, rather than 1/exp(−z), for the last bit.
            Some(z) => z.map(|z| z.as_f64().exp()),
            None => sigma,
        };
        Self {
            w: rbm.weights().map(|x| to64(&x)),
            b: rbm.visible_bias().map(|x| to64(&x)),
            c: rbm.hidden_bias().map(|x| to64(&x)),
            sigma,
        }
    }

    /// F(v) of one sample, in `f64`.
    fn free_energy(&self, v: &[f64], x: &mut DVector<f64>) -> f64 {
        let mut quad = 0.0;
        let mut scaled = DVector::zeros(v.len());
        for i in 0..v.len() {
            let d = (v[i] - self.b[i]) / self.sigma[i];
            quad += 0.5 * d * d;
            scaled[i] = v[i] / self.sigma[i];
        }
        x.gemv(1.0, &self.w, &scaled, 0.0);
        quad - x
            .iter()
            .zip(self.c.iter())
            .map(|(&xj, &cj)| softplus64(xj + cj))
            .sum::<f64>()
    }

    /// log Z by enumeration of the hidden layer (see the module docs).
    fn log_partition(&self) -> f64 {
        let (nh, nv) = self.w.shape();
        let gauss: f64 = self
            .sigma
            .iter()
            .map(|s| 0.5 * (2.0 * std::f64::consts::PI).ln() + s.ln())
            .sum();
        // b/σ, the coefficient of a in the exponent.
        let b_over_s = self.b.component_div(&self.sigma);
        // Low bits: a table of Wᵀh and cᵀh for every state of the first `low` units.
        let low = nh.min(10);
        let n_low = 1usize << low;
        let mut a_low = DMatrix::zeros(nv, n_low);
        let mut c_low = vec![0.0; n_low];
        for s in 1..n_low {
            let j = s.trailing_zeros() as usize;
            let prev = s & (s - 1);
            let (col_prev, w_j) = (a_low.column(prev).into_owned(), self.w.row(j).transpose());
            a_low.column_mut(s).copy_from(&(col_prev + w_j));
            c_low[s] = c_low[prev] + self.c[j];
        }
        let high = nh - low;
        let mut a_high = DVector::zeros(nv);
        let mut acc = LogSumExp::default();
        for t in 0..(1u64 << high) {
            a_high.fill(0.0);
            let mut c_high = 0.0;
            for k in 0..high {
                if t >> k & 1 == 1 {
                    a_high += self.w.row(low + k).transpose();
                    c_high += self.c[low + k];
                }
            }
            for (col, &c_s) in a_low.column_iter().zip(&c_low) {
                let mut e = c_high + c_s;
                for i in 0..nv {
                    let a = col[i] + a_high[i];
                    e += b_over_s[i] * a + 0.5 * a * a;
                }
                acc.push(e);
            }
        }
        gauss + acc.value()
    }
}

/// A running log Σ exp(xₖ) (max-shifted).
struct LogSumExp {
    max: f64,
    sum: f64,
}

impl Default for LogSumExp {
    fn default() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }
}

impl LogSumExp {
    fn push(&mut self, x: f64) {
        if x > self.max {
            self.sum = self.sum * (self.max - x).exp() + 1.0;
            self.max = x;
        } else {
            self.sum += (x - self.max).exp();
        }
    }
    fn value(&self) -> f64 {
        self.max + self.sum.ln()
    }
}

fn softplus64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The base model of Gaussian AIS: independent normal visible units N(μᵢ, sᵢ²) (hidden units
/// uncoupled), Z_A = 2^n_hidden Πᵢ √(2π) sᵢ.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianAisBase {
    mean: DVector<f64>,
    std: DVector<f64>,
}

impl GaussianAisBase {
    /// Means `mean` and standard deviations `std` (same length, finite, `std > 0`).
    pub fn new(mean: DVector<f64>, std: DVector<f64>) -> Result<Self> {
        if mean.len() != std.len() {
            return Err(Error::ShapeMismatch {
                what: "Gaussian AIS base (std)",
                expected: (mean.len(), 1),
                found: (std.len(), 1),
            });
        }
        if let Some(i) = mean.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                what: "Gaussian AIS base means",
                sample: 0,
                feature: i,
                value: mean[i],
            });
        }
        if let Some(i) = std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(invalid(
                "Gaussian AIS base",
                format!(
                    "standard deviations must be finite and > 0, got {} at {i}",
                    std[i]
                ),
            ));
        }
        Ok(Self { mean, std })
    }

    /// The standard normal on `n_visible` units (right for standardised data).
    pub fn standard(n_visible: usize) -> Self {
        Self {
            mean: DVector::zeros(n_visible),
            std: DVector::from_element(n_visible, 1.0),
        }
    }

    /// The feature means and standard deviations of `data` (1 for a zero-variance feature):
    /// the base-rate model of real-valued data.
    pub fn from_data<T: Float>(data: &Dataset<T>) -> Result<Self> {
        let st = Standardizer::fit(data)?;
        Self::new(
            st.mean().map(|x| x.as_f64()),
            st.scale().map(|x| x.as_f64()),
        )
    }

    /// log Z_A for `n_hidden` hidden units.
    pub fn log_partition(&self, n_hidden: usize) -> f64 {
        n_hidden as f64 * std::f64::consts::LN_2
            + self
                .std
                .iter()
                .map(|s| 0.5 * (2.0 * std::f64::consts::PI).ln() + s.ln())
                .sum::<f64>()
    }
}

fn log_partition_exact<T: Float, V: GaussianUnits<T>>(rbm: &Rbm<T, V, Bernoulli>) -> Result<f64> {
    if rbm.n_hidden() > MAX_EXACT_UNITS {
        return Err(Error::TooLargeToEnumerate {
            units: rbm.n_hidden(),
            limit: MAX_EXACT_UNITS,
        });
    }
    let log_z = Gb64::of(rbm).log_partition();
    if !log_z.is_finite() {
        return Err(Error::NonFinite {
            what: "log Z (overflow of finite parameters: σ too small or too large)",
            sample: 0,
            feature: 0,
            value: log_z,
        });
    }
    Ok(log_z)
}

fn log_prob_with<T: Float, V: GaussianUnits<T>>(
    rbm: &Rbm<T, V, Bernoulli>,
    data: &Dataset<T>,
    log_z: f64,
) -> Result<DVector<f64>> {
    rbm.check_visible(data.samples())?;
    let m = Gb64::of(rbm);
    let mut x = DVector::zeros(rbm.n_hidden());
    let v = data.samples();
    let out = DVector::from_iterator(
        v.ncols(),
        v.column_iter().map(|col| {
            let v64: Vec<f64> = col.iter().map(|x| x.as_f64()).collect();
            -m.free_energy(&v64, &mut x) - log_z
        }),
    );
    if let Some(n) = out.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: "log p(v) (overflow of finite parameters or data)",
            sample: n,
            feature: 0,
            value: out[n],
        });
    }
    Ok(out)
}

/// Forward AIS from `base` (`data` = None) or reverse AIS from samples of `data`.
fn ais<T: Float, V: GaussianUnits<T>>(
    rbm: &Rbm<T, V, Bernoulli>,
    data: Option<&Dataset<T>>,
    base: &GaussianAisBase,
    config: &AisConfig,
) -> Result<AisEstimate> {
    config.check()?;
    if base.mean.len() != rbm.n_visible() {
        return Err(Error::ShapeMismatch {
            what: "Gaussian AIS base (n_visible)",
            expected: (rbm.n_visible(), 1),
            found: (base.mean.len(), 1),
        });
    }
    let starts = match data {
        Some(d) => {
            rbm.check_visible(d.samples())?;
            Some(choose_columns(d.samples(), config.runs, config.seed).map(|x| x.as_f64()))
        }
        None => None,
    };
    let direction = if data.is_some() {
        AisDirection::Reverse
    } else {
        AisDirection::Forward
    };
    let m = Gb64::of(rbm);
    let runs = config.runs;
    let lw = run_blocks(config, |i, rng| {
        let start = i * AIS_BLOCK;
        let n = AIS_BLOCK.min(runs - start);
        let v = match &starts {
            Some(s) => s.columns(start, n).into_owned(),
            None => DMatrix::from_fn(rbm.n_visible(), n, |i, _| {
                let z: f64 = StandardNormal.sample(rng);
                base.mean[i] + base.std[i] * z
            }),
        };
        anneal_block(&m, base, v, config.schedule.betas(), direction, rng)
    });
    if let Some(i) = lw.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: "AIS log-weights",
            sample: i,
            feature: 0,
            value: lw[i],
        });
    }
    Ok(AisEstimate::from_log_weights(
        direction,
        lw,
        base.log_partition(rbm.n_hidden()),
        config.schedule.steps(),
    ))
}

/// The likelihood methods of a Gaussian–Bernoulli model, for each Gaussian kind (inherent
/// methods of two concrete types, so that they can share the Bernoulli model's names).
macro_rules! gaussian_likelihood {
    ($units:ty) => {
        impl<T: Float> Rbm<T, $units, Bernoulli> {
            /// Exact log Z by enumerating the 2^n_hidden hidden states with the Gaussian
            /// integral over v in closed form (see the [module docs](self)), in `f64`. Up to
            /// [`MAX_EXACT_UNITS`] hidden units ([`Error::TooLargeToEnumerate`] beyond).
            ///
            /// ```
            /// use rbms::GaussianRbm;
            /// // No weights: Z = 2^n_hidden · (2π)^(n_visible/2).
            /// let gb = GaussianRbm::<f64>::zeros(3, 2)?;
            /// let expect = 2.0 * 2f64.ln() + 1.5 * (2.0 * std::f64::consts::PI).ln();
            /// assert!((gb.log_partition_exact()? - expect).abs() < 1e-12);
            /// # Ok::<(), rbms::Error>(())
            /// ```
            pub fn log_partition_exact(&self) -> Result<f64> {
                log_partition_exact(self)
            }

            /// Exact log p(v) = −F(v) − log Z of each sample (a log-density; in `f64`).
            pub fn log_prob_exact(&self, data: &Dataset<T>) -> Result<DVector<f64>> {
                log_prob_with(self, data, log_partition_exact(self)?)
            }

            /// −F(v) − `log_z` of each sample, F in `f64`: log p(v) given an estimate of
            /// log Z.
            pub fn log_prob_with(&self, data: &Dataset<T>, log_z: f64) -> Result<DVector<f64>> {
                log_prob_with(self, data, log_z)
            }

            /// Forward AIS estimate of log Z from the Gaussian `base` (see the
            /// [module docs](self)); `config.base` (a Bernoulli base) is ignored. The runs are
            /// split into blocks of [`AIS_BLOCK`] chains, block `i` drawing from [`RunRng`]
            /// seeded with `config.seed` and jumped `i + 1` times, on up to `config.threads`
            /// threads (the result is bit-identical for any number); all arithmetic is in
            /// `f64`.
            ///
            /// ```
            /// use rbms::rbm::{AisConfig, AisSchedule, GaussianAisBase};
            /// use rbms::GaussianRbm;
            /// use nalgebra::{DMatrix, DVector};
            /// let params = rbms::LayerParams::new(
            ///     DMatrix::from_fn(4, 3, |i, j| ((i * 3 + j) as f64 * 0.7).sin() * 0.5),
            ///     DVector::from_element(3, 0.2),
            ///     DVector::from_element(4, -0.1),
            /// )?;
            /// let gb = GaussianRbm::<f64>::with_params(params);
            /// let config = AisConfig::default().schedule(AisSchedule::linear(500)?).seed(3);
            /// let ais = gb.ais(&GaussianAisBase::standard(3), &config)?;
            /// let exact = gb.log_partition_exact()?;
            /// assert!((ais.log_z - exact).abs() < 3.0 * ais.stderr + 0.02);
            /// # Ok::<(), rbms::Error>(())
            /// ```
            pub fn ais(&self, base: &GaussianAisBase, config: &AisConfig) -> Result<AisEstimate> {
                ais(self, None, base, config)
            }

            /// Reverse AIS estimate of log Z (see [`crate::rbm::ais`] for what the direction
            /// means), annealing from `config.runs` samples of `data` (chosen without
            /// replacement by the seed, or all samples in turn when there are fewer) back to
            /// the Gaussian `base`; its log Ẑ tends to be *high* when the start states are
            /// model samples. Blocks and streams as [`ais`](Self::ais).
            pub fn reverse_ais(
                &self,
                data: &Dataset<T>,
                base: &GaussianAisBase,
                config: &AisConfig,
            ) -> Result<AisEstimate> {
                ais(self, Some(data), base, config)
            }

            /// Mean log p(v) of `data` from forward AIS and from reverse AIS started at
            /// samples of `data`, as [`Rbm::log_likelihood`](crate::Rbm::log_likelihood)
            /// gives for the Bernoulli model (log-densities here).
            pub fn log_likelihood(
                &self,
                data: &Dataset<T>,
                base: &GaussianAisBase,
                config: &AisConfig,
            ) -> Result<LikelihoodEstimate> {
                let reverse = self.reverse_ais(data, base, config)?;
                let forward = self.ais(base, config)?;
                Ok(LikelihoodEstimate {
                    n_samples: data.n_samples(),
                    mean_free_energy: -log_prob_with(self, data, 0.0)?.mean(),
                    forward,
                    reverse,
                })
            }
        }
    };
}

gaussian_likelihood!(Gaussian);
gaussian_likelihood!(GaussianSigma);

/// AIS log-weights of the chains starting at the columns of `v` (base samples forward, model
/// samples in reverse).
fn anneal_block(
    m: &Gb64,
    base: &GaussianAisBase,
    mut v: DMatrix<f64>,
    betas: &[f64],
    direction: AisDirection,
    rng: &mut RunRng,
) -> Vec<f64> {
    let (nh, nv) = m.w.shape();
    let n = v.ncols();
    let normal = |rng: &mut RunRng| -> f64 { StandardNormal.sample(rng) };
    let mut scaled = DMatrix::zeros(nv, n);
    let mut x = DMatrix::zeros(nh, n);
    let mut h = DMatrix::zeros(nh, n);
    let mut wh = DMatrix::zeros(nv, n);
    let mut lw = vec![0.0; n];
    // Per chain: the base's and the model's quadratic terms, and x = c + W(v/σ).
    let mut q_a = vec![0.0; n];
    let mut q = vec![0.0; n];
    let log_p = |beta: f64, q_a: f64, q: f64, x: &[f64]| -> f64 {
        -(1.0 - beta) * q_a - beta * q + x.iter().map(|&xj| softplus64(beta * xj)).sum::<f64>()
    };
    let kk = betas.len() - 1;
    // (β the weight moves to, β it moves from, β of the transition that follows, if any).
    let steps: Vec<(f64, f64, Option<f64>)> = match direction {
        AisDirection::Forward => (1..=kk)
            .map(|k| (betas[k], betas[k - 1], (k < kk).then(|| betas[k])))
            .collect(),
        AisDirection::Reverse => (1..=kk)
            .rev()
            .map(|k| (betas[k - 1], betas[k], (k > 1).then(|| betas[k - 1])))
            .collect(),
    };
    for (to, from, next) in steps {
        for s in 0..n {
            let (mut qa, mut qm) = (0.0, 0.0);
            for i in 0..nv {
                let vi = v[(i, s)];
                let da = (vi - base.mean[i]) / base.std[i];
                let dm = (vi - m.b[i]) / m.sigma[i];
                qa += 0.5 * da * da;
                qm += 0.5 * dm * dm;
                scaled[(i, s)] = vi / m.sigma[i];
            }
            q_a[s] = qa;
            q[s] = qm;
        }
        x.gemm(1.0, &m.w, &scaled, 0.0);
        for mut col in x.column_iter_mut() {
            col += &m.c;
        }
        for s in 0..n {
            let xs = x.column(s);
            lw[s] +=
                log_p(to, q_a[s], q[s], xs.as_slice()) - log_p(from, q_a[s], q[s], xs.as_slice());
        }
        let Some(beta) = next else { break };
        // One Gibbs sweep at β: h | v, then v | h.
        for (hv, &xv) in h.iter_mut().zip(x.iter()) {
            let p = 1.0 / (1.0 + (-beta * xv).exp());
            *hv = if f64::uniform01(rng) < p { 1.0 } else { 0.0 };
        }
        crate::math::gemm_at_b(
            &mut wh.as_view_mut(),
            1.0,
            &m.w.as_view(),
            &h.as_view(),
            0.0,
        );
        for s in 0..n {
            for i in 0..nv {
                let (sa, sm) = (base.std[i], m.sigma[i]);
                let lambda = (1.0 - beta) / (sa * sa) + beta / (sm * sm);
                let mean = ((1.0 - beta) * base.mean[i] / (sa * sa)
                    + beta * m.b[i] / (sm * sm)
                    + beta * wh[(i, s)] / sm)
                    / lambda;
                v[(i, s)] = mean + normal(rng) / lambda.sqrt();
            }
        }
    }
    lw
}

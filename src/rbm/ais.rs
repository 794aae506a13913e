//! Annealed importance sampling (AIS) of log Z, forward from a base model and in reverse from
//! data (Salakhutdinov & Murray 2008, "On the quantitative analysis of deep belief networks";
//! Burda, Grosse & Salakhutdinov 2015 for the reverse direction).
//!
//! # The annealing path
//!
//! The base model A has visible biases `b_A` and no connections: p_A(v) ∝ exp(b_Aᵀv), with
//! Z_A = 2^n_hidden · Πᵢ (1 + e^{b_A,i}) (its hidden units are kept, uncoupled, so that both
//! ends have the same state space). The intermediate distributions, for
//! 0 = β₀ < β₁ < … < β_K = 1, are
//!
//! ```text
//! log p*_k(v) = (1 − β_k) b_Aᵀv + β_k bᵀv + Σⱼ softplus(β_k (cⱼ + Wⱼ·v)),
//! ```
//!
//! the marginal of an RBM with weights β_k W, hidden biases β_k c and visible biases
//! (1 − β_k) b_A + β_k b; at β = 1 it is exp(−F(v)) of the model. The transition at step k is
//! one Gibbs sweep (h | v, then v | h) of that RBM, which leaves p_k invariant.
//!
//! **Forward AIS**: v₁ ~ p_A; for k = 1..K, log w += log p*_k(v_k) − log p*_{k−1}(v_k), then
//! v_{k+1} ~ T_k(v_k). Each weight has E\[w\] = Z/Z_A, so Ẑ = Z_A · mean(w) is unbiased for Z
//! and, by Jensen's inequality, **E[log Ẑ] ≤ log Z**: forward AIS tends to underestimate log Z,
//! hence to *overestimate* the log-likelihood −F(v) − log Ẑ.
//!
//! **Reverse AIS**: start from states v_K and run the chain the other way:
//! log w += log p*_{k−1}(v_k) − log p*_k(v_k), then v_{k−1} ~ T_{k−1}(v_k), for k = K..1. If
//! v_K were exact samples of the model, E\[w\] = Z_A/Z, so Ẑ = Z_A / mean(w) has E\[1/Ẑ\] = 1/Z and
//! **E[log Ẑ] ≥ log Z**: reverse AIS tends to *overestimate* log Z, hence to underestimate the
//! log-likelihood (a conservative estimate). Exact model samples are not available, so the
//! chains start from data instead; for a model that fits its data well this is close to a
//! model sample and the two estimates bracket log Z; when they disagree by more than their
//! error bars, the schedule is too short or the model and data differ, and neither number
//! should be trusted.
//!
//! # Error bars
//!
//! The weights of AIS are heavy-tailed, and their logarithm, not the weights, is what is
//! reported, so the error bars are computed on the weights and then mapped to log space:
//! with r̂ = mean(w) and s = sd(w)/√runs its standard error,
//!
//! - `stderr` = s / r̂ (the delta method: the standard error of log r̂ for small s/r̂);
//! - `interval` = the image of r̂ ± 3s under the map to log Z (Salakhutdinov & Murray's
//!   log(Ẑ ± 3σ̂)); it is asymmetric, and one end is infinite when r̂ − 3s ≤ 0, which is the
//!   honest statement that the weights do not pin that side down;
//! - `effective_sample_size` = (Σw)²/Σw²: when it is a small fraction of the runs, a few
//!   weights dominate, the sample standard deviation itself is unreliable, and the interval is
//!   too narrow; use more runs or a longer schedule.
//!
//! # Reproducibility and threads
//!
//! The runs are split into blocks of [`AIS_BLOCK`] chains; block `i` draws from
//! [`RunRng`] seeded with the configured seed and jumped `i + 1` times. The blocks run on up
//! to `threads` threads; the result is bit-identical for any number of threads. Chains run in
//! the model's scalar type (the matrix products dominate the cost); log-weights are accumulated
//! in `f64`.

use super::exact::sum_softplus_of_sum;
use super::Rbm;
use crate::energy::EnergyModel;
use crate::kernels;
use crate::math::{sigmoid_in_place, softplus};
use crate::train::RunRng;
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Chains per block: the unit of work given to a thread, with its own random stream.
pub const AIS_BLOCK: usize = 25;

/// The inverse temperatures 0 = β₀ < β₁ < … < β_K = 1 of an AIS run.
#[derive(Debug, Clone, PartialEq)]
pub struct AisSchedule {
    betas: Vec<f64>,
}

impl Default for AisSchedule {
    /// Salakhutdinov & Murray's schedule: 500 steps evenly spaced on [0, 0.5], 4,000 on
    /// [0.5, 0.9] and 10,000 on [0.9, 1] (14,500 transitions).
    fn default() -> Self {
        Self::piecewise(&[(0.5, 500), (0.9, 4_000), (1.0, 10_000)])
            .expect("the default schedule is valid")
    }
}

impl AisSchedule {
    /// Evenly spaced steps on consecutive segments starting at 0: `(end, steps)` pairs, each
    /// `end` larger than the previous one, the last one 1, every `steps ≥ 1`.
    ///
    /// ```
    /// use rbms::rbm::AisSchedule;
    /// let s = AisSchedule::piecewise(&[(0.5, 2), (1.0, 1)])?;
    /// assert_eq!(s.betas(), &[0.0, 0.25, 0.5, 1.0]);
    /// assert_eq!(AisSchedule::default().steps(), 14_500);
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn piecewise(segments: &[(f64, usize)]) -> Result<Self> {
        let mut betas = vec![0.0];
        let mut start = 0.0;
        for &(end, steps) in segments {
            if steps == 0 {
                return Err(invalid("AIS schedule", "every segment needs ≥ 1 step"));
            }
            if !(end.is_finite() && end > start && end <= 1.0) {
                return Err(invalid(
                    "AIS schedule",
                    format!("segment ends must increase within (0, 1], got {end} after {start}"),
                ));
            }
            for i in 1..=steps {
                betas.push(if i == steps {
                    end
                } else {
                    start + (end - start) * i as f64 / steps as f64
                });
            }
            start = end;
        }
        Self::from_betas(betas)
    }

    /// `steps` evenly spaced steps on [0, 1].
    pub fn linear(steps: usize) -> Result<Self> {
        Self::piecewise(&[(1.0, steps)])
    }

    /// Given inverse temperatures: strictly increasing, from exactly 0 to exactly 1, at least
    /// two values.
    pub fn from_betas(betas: Vec<f64>) -> Result<Self> {
        if betas.len() < 2 || betas[0] != 0.0 || betas[betas.len() - 1] != 1.0 {
            return Err(invalid(
                "AIS schedule",
                "β must start at 0 and end at 1 (at least one step)",
            ));
        }
        if let Some(w) = betas
            .windows(2)
            .find(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
        {
            return Err(invalid(
                "AIS schedule",
                format!("β must increase strictly, found {} then {}", w[0], w[1]),
            ));
        }
        Ok(Self { betas })
    }

    /// The inverse temperatures, from 0 to 1.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// The number of steps K (one fewer than the number of temperatures).
    pub fn steps(&self) -> usize {
        self.betas.len() - 1
    }
}

/// The base model at β = 0.
#[derive(Debug, Clone, PartialEq)]
pub enum AisBase {
    /// All parameters zero: the uniform distribution, Z_A = 2^(n_visible + n_hidden).
    Uniform,
    /// Given visible biases (length n_visible, finite), weights and hidden biases zero.
    VisibleBias(DVector<f64>),
}

impl AisBase {
    /// The base-rate model of a data set (Salakhutdinov & Murray): visible biases
    /// logit((p̄ᵢ + 0.05) / 1.05) from the feature means p̄ᵢ, which keeps every unit's
    /// probability at least 0.05/1.05. A feature that is 1 in every sample would get an
    /// infinite bias, so the probability is also capped at 1/1.05 (the same margin from 1);
    /// the cap changes nothing for features with p̄ᵢ ≤ 0.95. The data must lie in [0, 1].
    pub fn from_data<T: Float>(data: &Dataset<T>) -> Result<Self> {
        data.check_unit_interval("AIS base-rate data")?;
        let means = data.feature_means();
        let hi = 1.0 / 1.05;
        Ok(Self::VisibleBias(means.map(|m| {
            let q = ((m.as_f64() + 0.05) / 1.05).min(hi);
            q.ln() - (1.0 - q).ln()
        })))
    }

    fn visible_bias(&self, n_visible: usize) -> Result<DVector<f64>> {
        match self {
            Self::Uniform => Ok(DVector::zeros(n_visible)),
            Self::VisibleBias(b) => {
                if b.len() != n_visible {
                    return Err(Error::ShapeMismatch {
                        what: "AIS base visible biases",
                        expected: (n_visible, 1),
                        found: (b.len(), 1),
                    });
                }
                if let Some(i) = b.iter().position(|x| !x.is_finite()) {
                    return Err(Error::NonFinite {
                        what: "AIS base visible biases",
                        sample: 0,
                        feature: i,
                        value: b[i],
                    });
                }
                Ok(b.clone())
            }
        }
    }

    /// The base model's log partition function for a model of this size.
    pub fn log_partition(&self, n_visible: usize, n_hidden: usize) -> Result<f64> {
        let b = self.visible_bias(n_visible)?;
        Ok(n_hidden as f64 * std::f64::consts::LN_2 + b.iter().map(|&x| softplus(x)).sum::<f64>())
    }

    /// The base-rate model's log-probability of each sample (the reference a trained model
    /// should beat): log p_A(v) = b_Aᵀv − Σᵢ softplus(b_A,i).
    pub fn log_prob<T: Float>(&self, data: &Dataset<T>) -> Result<DVector<f64>> {
        let nv = data.n_features();
        let b = self.visible_bias(nv)?;
        let log_z = b.iter().map(|&x| softplus(x)).sum::<f64>();
        let v = data.samples();
        Ok(DVector::from_fn(v.ncols(), |s, _| {
            v.column(s)
                .iter()
                .zip(b.iter())
                .map(|(x, b)| x.as_f64() * b)
                .sum::<f64>()
                - log_z
        }))
    }
}

/// Settings of an AIS run.
#[derive(Debug, Clone, PartialEq)]
pub struct AisConfig {
    /// The inverse temperatures. Default: [`AisSchedule::default`] (14,500 steps).
    pub schedule: AisSchedule,
    /// Independent runs (chains), ≥ 2. Default 100.
    pub runs: usize,
    /// Seed of the random streams. Default 0.
    pub seed: u64,
    /// The base model. Default [`AisBase::Uniform`]; prefer [`AisBase::from_data`] with the
    /// training data, which makes the path much shorter.
    pub base: AisBase,
    /// Threads to use (`None`: all available). The result does not depend on it.
    pub threads: Option<usize>,
}

impl Default for AisConfig {
    fn default() -> Self {
        Self {
            schedule: AisSchedule::default(),
            runs: 100,
            seed: 0,
            base: AisBase::Uniform,
            threads: None,
        }
    }
}

impl AisConfig {
    /// Sets the schedule.
    pub fn schedule(mut self, schedule: AisSchedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// Sets the number of runs.
    pub fn runs(mut self, runs: usize) -> Self {
        self.runs = runs;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the base model.
    pub fn base(mut self, base: AisBase) -> Self {
        self.base = base;
        self
    }
    /// Sets the number of threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.runs < 2 {
            return Err(invalid(
                "AIS runs",
                format!("need ≥ 2 runs for a standard error, got {}", self.runs),
            ));
        }
        if self.threads == Some(0) {
            return Err(invalid("AIS threads", "must be ≥ 1"));
        }
        // One log-weight per run is kept: refuse a count whose weights cannot be allocated
        // (instead of aborting the process later).
        let mut probe: Vec<f64> = Vec::new();
        if probe.try_reserve_exact(self.runs).is_err() {
            return Err(invalid(
                "AIS runs",
                format!("{} runs: their log-weights cannot be allocated", self.runs),
            ));
        }
        Ok(())
    }
}

/// Which way the chains were annealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AisDirection {
    /// From the base model to the model: E[log Ẑ] ≤ log Z.
    Forward,
    /// From data (approximate model samples) to the base model: E[log Ẑ] ≥ log Z when the
    /// start states are model samples.
    Reverse,
}

/// An AIS estimate of log Z (see the [module documentation](self) for how the error bars are
/// computed).
#[derive(Debug, Clone, PartialEq)]
pub struct AisEstimate {
    /// Forward or reverse.
    pub direction: AisDirection,
    /// The estimate of log Z.
    pub log_z: f64,
    /// Standard error of `log_z` (delta method).
    pub stderr: f64,
    /// log Z from mean(w) ± 3 standard errors; an end is infinite when mean(w) − 3·se ≤ 0.
    pub interval: (f64, f64),
    /// (Σw)²/Σw², between 1 and `runs`.
    pub effective_sample_size: f64,
    /// log Z of the base model.
    pub log_z_base: f64,
    /// The log-weight of each run, in run order.
    pub log_weights: Vec<f64>,
    /// Steps per run.
    pub steps: usize,
}

impl AisEstimate {
    pub(crate) fn from_log_weights(
        direction: AisDirection,
        log_weights: Vec<f64>,
        log_z_base: f64,
        steps: usize,
    ) -> Self {
        let n = log_weights.len() as f64;
        let m = log_weights
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = log_weights.iter().map(|&l| (l - m).exp()).collect();
        let sum: f64 = w.iter().sum();
        let mean = sum / n;
        let var = w.iter().map(|&x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        let se = (var / n).sqrt();
        let log_mean = m + mean.ln();
        let lo = if mean - 3.0 * se > 0.0 {
            m + (mean - 3.0 * se).ln()
        } else {
            f64::NEG_INFINITY
        };
        let hi = m + (mean + 3.0 * se).ln();
        let (log_z, interval) = match direction {
            AisDirection::Forward => (log_z_base + log_mean, (log_z_base + lo, log_z_base + hi)),
            AisDirection::Reverse => (log_z_base - log_mean, (log_z_base - hi, log_z_base - lo)),
        };
        Self {
            direction,
            log_z,
            stderr: se / mean,
            interval,
            effective_sample_size: sum * sum / w.iter().map(|x| x * x).sum::<f64>(),
            log_z_base,
            log_weights,
            steps,
        }
    }
}

/// Mean log-probability of a data set from forward and reverse AIS.
#[derive(Debug, Clone, PartialEq)]
pub struct LikelihoodEstimate {
    /// Samples in the data set.
    pub n_samples: usize,
    /// Mean free energy of the data set (`f64`).
    pub mean_free_energy: f64,
    /// Forward AIS from the base model.
    pub forward: AisEstimate,
    /// Reverse AIS from samples of the data set.
    pub reverse: AisEstimate,
}

impl LikelihoodEstimate {
    /// −mean F − forward log Ẑ: tends to be optimistic (too high).
    pub fn forward_log_prob(&self) -> f64 {
        -self.mean_free_energy - self.forward.log_z
    }
    /// −mean F − reverse log Ẑ: tends to be conservative (too low).
    pub fn reverse_log_prob(&self) -> f64 {
        -self.mean_free_energy - self.reverse.log_z
    }
}

impl<T: Float> Rbm<T> {
    /// Forward AIS estimate of log Z (see [`crate::rbm::ais`]).
    ///
    /// ```
    /// use rbms::rbm::{AisConfig, AisSchedule};
    /// use rbms::Rbm;
    /// use nalgebra::{DMatrix, DVector};
    /// let rbm = Rbm::<f64>::from_parameters(
    ///     DMatrix::from_fn(6, 10, |i, j| ((i * 10 + j) as f64 * 0.37).sin()),
    ///     DVector::from_element(10, -0.5),
    ///     DVector::from_element(6, 0.2),
    /// )?;
    /// let config = AisConfig::default().schedule(AisSchedule::linear(2_000)?).seed(1);
    /// let ais = rbm.ais(&config)?;
    /// let exact = rbm.log_partition_exact()?;
    /// assert!((ais.log_z - exact).abs() < 3.0 * ais.stderr + 0.01);
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn ais(&self, config: &AisConfig) -> Result<AisEstimate> {
        config.check()?;
        let b_a = config.base.visible_bias(self.n_visible())?;
        let log_z_base = config
            .base
            .log_partition(self.n_visible(), self.n_hidden())?;
        let lw = self.anneal(AisDirection::Forward, None, &b_a, config)?;
        Ok(AisEstimate::from_log_weights(
            AisDirection::Forward,
            lw,
            log_z_base,
            config.schedule.steps(),
        ))
    }

    /// Reverse AIS estimate of log Z, with `config.runs` chains starting from samples of
    /// `data` (chosen without replacement by the seed, or all samples in turn when there are
    /// fewer than `runs`). The data must be binary (0 or 1), as the states of the chain are.
    pub fn reverse_ais(&self, data: &Dataset<T>, config: &AisConfig) -> Result<AisEstimate> {
        config.check()?;
        self.check_visible(data.samples())?;
        if let Some((s, f, x)) = data.samples().column_iter().enumerate().find_map(|(s, c)| {
            c.iter()
                .position(|&x| x != T::zero() && x != T::one())
                .map(|f| (s, f, c[f]))
        }) {
            return Err(invalid(
                "reverse AIS start states",
                format!(
                    "must be binary; sample {s}, feature {f} is {} (binarize the data first)",
                    x.as_f64()
                ),
            ));
        }
        let b_a = config.base.visible_bias(self.n_visible())?;
        let log_z_base = config
            .base
            .log_partition(self.n_visible(), self.n_hidden())?;
        let starts = choose_columns(data.samples(), config.runs, config.seed);
        let lw = self.anneal(AisDirection::Reverse, Some(&starts), &b_a, config)?;
        Ok(AisEstimate::from_log_weights(
            AisDirection::Reverse,
            lw,
            log_z_base,
            config.schedule.steps(),
        ))
    }

    /// Mean log p(v) of `data` from forward AIS and from reverse AIS started at samples of
    /// `data` (binary). The true value lies, in expectation, between
    /// [`reverse_log_prob`](LikelihoodEstimate::reverse_log_prob) and
    /// [`forward_log_prob`](LikelihoodEstimate::forward_log_prob) when the schedule is long
    /// enough for the two to agree.
    pub fn log_likelihood(
        &self,
        data: &Dataset<T>,
        config: &AisConfig,
    ) -> Result<LikelihoodEstimate> {
        let reverse = self.reverse_ais(data, config)?;
        let forward = self.ais(config)?;
        let model = self.cast::<f64>();
        let v = data.samples().map(|x| x.as_f64());
        let f = model.free_energy(v.as_view())?;
        Ok(LikelihoodEstimate {
            n_samples: data.n_samples(),
            mean_free_energy: f.iter().sum::<f64>() / f.len() as f64,
            forward,
            reverse,
        })
    }

    /// Log-weights of every run, blocks spread over threads.
    fn anneal(
        &self,
        direction: AisDirection,
        starts: Option<&DMatrix<T>>,
        b_a: &DVector<f64>,
        config: &AisConfig,
    ) -> Result<Vec<f64>> {
        let runs = config.runs;
        let w_t = self.params.weights.transpose();
        let lw = run_blocks(config, |i, rng| {
            let range = i * AIS_BLOCK..((i + 1) * AIS_BLOCK).min(runs);
            let start = starts.map(|s| s.columns(range.start, range.len()).into_owned());
            Block::new(self, &w_t, b_a, range.len()).run(
                direction,
                start,
                config.schedule.betas(),
                rng,
            )
        });
        if let Some(i) = lw.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                what: "AIS log-weights (parameters too large for the scalar type?)",
                sample: i,
                feature: 0,
                value: lw[i],
            });
        }
        debug_assert_eq!(lw.len(), runs);
        Ok(lw)
    }
}

/// The log-weights of every run: `block(i, rng)` for each block `i` of [`AIS_BLOCK`] chains,
/// with `rng` the [`RunRng`] seeded with `config.seed` and jumped `i + 1` times, spread over up
/// to `config.threads` threads and concatenated in block order (so the result does not depend
/// on the number of threads).
pub(crate) fn run_blocks<F>(config: &AisConfig, block: F) -> Vec<f64>
where
    F: Fn(usize, &mut RunRng) -> Vec<f64> + Sync,
{
    let blocks = config.runs.div_ceil(AIS_BLOCK);
    let threads = config
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .min(blocks);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Vec<f64>>> = Mutex::new(vec![Vec::new(); blocks]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= blocks {
                    break;
                }
                let mut rng = RunRng::seed_from_u64(config.seed);
                for _ in 0..=i {
                    rng.jump();
                }
                let lw = block(i, &mut rng);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = lw;
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .concat()
}

/// Picks `n` columns of `m`: a seeded partial shuffle when `m` has at least `n` columns, else
/// every column in turn.
pub(crate) fn choose_columns<T: Float>(m: &DMatrix<T>, n: usize, seed: u64) -> DMatrix<T> {
    let total = m.ncols();
    let picks: Vec<usize> = if total >= n {
        let mut rng = RunRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..total).collect();
        for i in 0..n {
            let j = i + crate::data::bounded(&mut rng, (total - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(n);
        idx
    } else {
        (0..n).map(|i| i % total).collect()
    };
    DMatrix::from_fn(m.nrows(), n, |r, c| m[(r, picks[c])])
}

/// The workspaces of one block of chains.
struct Block<'a, T: Float> {
    rbm: &'a Rbm<T>,
    /// Wᵀ (`n_visible × n_hidden`, column-major), so that row j of W is contiguous.
    w_t: &'a DMatrix<T>,
    /// b_A in f64, and b − b_A.
    b_a: &'a DVector<f64>,
    db: DVector<f64>,
    v: DMatrix<T>,
    a: DMatrix<T>,
    h: DMatrix<T>,
    p: DMatrix<T>,
    mix: DVector<T>,
    zeros_h: Vec<T>,
    scaled: Vec<f64>,
    zeros: Vec<f64>,
    log_w: Vec<f64>,
}

impl<'a, T: Float> Block<'a, T> {
    fn new(rbm: &'a Rbm<T>, w_t: &'a DMatrix<T>, b_a: &'a DVector<f64>, n: usize) -> Self {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let db = DVector::from_fn(nv, |i, _| rbm.params.visible_bias[i].as_f64() - b_a[i]);
        Self {
            rbm,
            w_t,
            b_a,
            db,
            v: DMatrix::zeros(nv, n),
            a: DMatrix::zeros(nh, n),
            h: DMatrix::zeros(nh, n),
            p: DMatrix::zeros(nv, n),
            mix: DVector::zeros(nv),
            zeros_h: vec![T::zero(); nh],
            scaled: vec![0.0; nh],
            zeros: vec![0.0; nh],
            log_w: vec![0.0; n],
        }
    }

    fn run(
        mut self,
        direction: AisDirection,
        start: Option<DMatrix<T>>,
        betas: &[f64],
        rng: &mut RunRng,
    ) -> Vec<f64> {
        let k_max = betas.len() - 1;
        match start {
            Some(s) => self.v = s,
            None => {
                // v ~ p_A: independent units with p = σ(b_A).
                for mut col in self.p.column_iter_mut() {
                    for (x, &b) in col.iter_mut().zip(self.b_a.iter()) {
                        *x = T::of_f64(b);
                    }
                }
                sigmoid_in_place(self.p.as_mut_slice());
                T::bernoulli_fill(self.p.as_slice(), self.v.as_mut_slice(), rng);
            }
        }
        for step in 0..k_max {
            let (k, sign, transition) = match direction {
                AisDirection::Forward => (step + 1, 1.0, (step + 1 < k_max).then_some(step + 1)),
                AisDirection::Reverse => (
                    k_max - step,
                    -1.0,
                    (k_max - step > 1).then_some(k_max - step - 1),
                ),
            };
            self.accumulate(betas[k], betas[k - 1], sign);
            if let Some(t) = transition {
                self.gibbs(betas[t], rng);
            }
        }
        self.log_w
    }

    /// a ← W v + c, and log w += sign · (log p*_k(v) − log p*_{k−1}(v)).
    fn accumulate(&mut self, beta_k: f64, beta_prev: f64, sign: f64) {
        let params = &self.rbm.params;
        product(&params.weights, &self.v, &mut self.a);
        for mut col in self.a.column_iter_mut() {
            col += &params.hidden_bias;
        }
        let d_beta = beta_k - beta_prev;
        for (s, lw) in self.log_w.iter_mut().enumerate() {
            let vis: f64 = self
                .v
                .column(s)
                .iter()
                .zip(self.db.iter())
                .map(|(x, d)| x.as_f64() * d)
                .sum();
            let a = self.a.column(s);
            for (o, x) in self.scaled.iter_mut().zip(a.iter()) {
                *o = beta_k * x.as_f64();
            }
            let hk = sum_softplus_of_sum(&self.scaled, &self.zeros);
            for (o, x) in self.scaled.iter_mut().zip(a.iter()) {
                *o = beta_prev * x.as_f64();
            }
            let hp = sum_softplus_of_sum(&self.scaled, &self.zeros);
            *lw += sign * (d_beta * vis + (hk - hp));
        }
    }

    /// One Gibbs sweep at β, from the pre-activations `a` = W v + c of the current `v`.
    fn gibbs(&mut self, beta: f64, rng: &mut RunRng) {
        let bt = T::of_f64(beta);
        kernels::scale_bias_sigmoid(self.a.as_mut_slice(), bt, &self.zeros_h);
        T::bernoulli_fill(self.a.as_slice(), self.h.as_mut_slice(), rng);
        let params = &self.rbm.params;
        for (m, (&b, &ba)) in self
            .mix
            .iter_mut()
            .zip(params.visible_bias.iter().zip(self.b_a.iter()))
        {
            *m = T::of_f64(beta * b.as_f64() + (1.0 - beta) * ba);
        }
        product(self.w_t, &self.h, &mut self.p);
        kernels::scale_bias_sigmoid(self.p.as_mut_slice(), bt, self.mix.as_slice());
        T::bernoulli_fill(self.p.as_slice(), self.v.as_mut_slice(), rng);
    }
}

/// Output rows from which [`product`] skips zeros (below, the per-column overhead outweighs
/// the skipped zeros).
const SPARSE_MIN_ROWS: usize = 64;

/// `out ← m·x` for the binary states `x`: the sparse product for layers of at least
/// [`SPARSE_MIN_ROWS`] output rows whatever the density (sampled states are mostly zeros on
/// real data, and about half ones at β ≈ 0, where the dense product, run inside a block that is
/// itself one of several in parallel, is no faster), `gemm` otherwise.
fn product<T: Float>(m: &DMatrix<T>, x: &DMatrix<T>, out: &mut DMatrix<T>) {
    let (nr, nk) = m.shape();
    if nr >= SPARSE_MIN_ROWS && u32::try_from(nk).is_ok() {
        crate::sparse::sparse_product(m.as_slice(), x.as_slice(), out.as_mut_slice(), nr, nk);
    } else {
        out.gemm(T::one(), m, x, T::zero());
    }
}

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter {
        name,
        reason: reason.into(),
    }
}

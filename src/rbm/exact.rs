//! Exact likelihood computations by enumerating the smaller layer, in `f64`.

use super::Rbm;
use crate::energy::EnergyModel;
use crate::math::{log_sum_exp, sigmoid};
use crate::params::LayerParams;
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DVector};

/// The largest smaller-layer size [`Rbm::log_partition_exact`] and
/// [`Rbm::log_prob_exact`] enumerate (2³² states).
pub const MAX_EXACT_UNITS: usize = 32;

/// The largest smaller-layer size [`Rbm::log_likelihood_gradient_exact`] enumerates (2²⁰
/// states): it is meant for tiny models in tests.
pub const MAX_EXACT_GRADIENT_UNITS: usize = 20;

/// Bits of the enumerated layer handled by the precomputed inner table.
const INNER_BITS: usize = 10;

/// The enumerated layer and the other one, as `f64`: the unnormalised log-probability of a state
/// u of the enumerated layer is aᵀu + Σᵢ softplus(dᵢ + (M u)ᵢ).
struct Enumeration {
    /// Biases of the enumerated layer (length k).
    a: Vec<f64>,
    /// Biases of the other layer (length m).
    d: Vec<f64>,
    /// Column j of M (length m) for each enumerated unit j.
    cols: Vec<Vec<f64>>,
}

impl Enumeration {
    fn of<T: Float>(params: &LayerParams<T>) -> Self {
        let w = params.weights.map(|x| x.as_f64());
        let b: Vec<f64> = params.visible_bias.iter().map(|x| x.as_f64()).collect();
        let c: Vec<f64> = params.hidden_bias.iter().map(|x| x.as_f64()).collect();
        let (nh, nv) = w.shape();
        if nh <= nv {
            // Enumerate h: aᵀh = cᵀh, other layer v with d = b and M = Wᵀ (column j = row j of W).
            Self {
                a: c,
                d: b,
                cols: (0..nh)
                    .map(|j| w.row(j).iter().cloned().collect())
                    .collect(),
            }
        } else {
            // Enumerate v: a = b, d = c, M = W (column i of W).
            Self {
                a: b,
                d: c,
                cols: (0..nv)
                    .map(|i| w.column(i).iter().cloned().collect())
                    .collect(),
            }
        }
    }

    fn units(&self) -> usize {
        self.a.len()
    }

    /// Σ over the bits of `state` (starting at unit `offset`) of the columns, added to `base`,
    /// and of the biases.
    fn accumulate(&self, state: usize, offset: usize, bits: usize, base: &mut [f64]) -> f64 {
        let mut bias = 0.0;
        for j in 0..bits {
            if state >> j & 1 == 1 {
                bias += self.a[offset + j];
                for (x, &w) in base.iter_mut().zip(&self.cols[offset + j]) {
                    *x += w;
                }
            }
        }
        bias
    }

    /// log Σ_u exp(aᵀu + Σᵢ softplus(dᵢ + (M u)ᵢ)) over all 2ᵏ states u.
    ///
    /// The k units split into `lo` inner bits, whose 2^lo partial sums M u_lo are tabulated once,
    /// and the outer bits; for each outer state the inner states are summed with log-sum-exp,
    /// and the outer values are combined in order, so the result does not depend on the number
    /// of threads.
    fn log_partition(&self) -> f64 {
        let k = self.units();
        let m = self.d.len();
        let lo = k.min(INNER_BITS);
        let hi = k - lo;
        let inner: Vec<(f64, Vec<f64>)> = (0..1usize << lo)
            .map(|s| {
                let mut v = vec![0.0; m];
                let bias = self.accumulate(s, 0, lo, &mut v);
                (bias, v)
            })
            .collect();
        let outer_states = 1usize << hi;
        let mut outer = vec![0.0; outer_states];
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(outer_states);
        let per = outer_states.div_ceil(threads);
        std::thread::scope(|scope| {
            for (t, chunk) in outer.chunks_mut(per).enumerate() {
                let inner = &inner;
                scope.spawn(move || {
                    let mut base = vec![0.0; m];
                    let mut values = vec![0.0; inner.len()];
                    for (i, out) in chunk.iter_mut().enumerate() {
                        let g = t * per + i;
                        base.copy_from_slice(&self.d);
                        let bias = self.accumulate(g, lo, hi, &mut base);
                        for (v, (inner_bias, p)) in values.iter_mut().zip(inner) {
                            *v = bias + inner_bias + sum_softplus_of_sum(&base, p);
                        }
                        *out = log_sum_exp(&values);
                    }
                });
            }
        });
        log_sum_exp(&outer)
    }
}

impl<T: Float> Rbm<T> {
    fn check_enumerable(&self, limit: usize) -> Result<()> {
        let k = self.n_visible().min(self.n_hidden());
        if k > limit {
            return Err(Error::TooLargeToEnumerate { units: k, limit });
        }
        Ok(())
    }

    /// The exact log partition function log Z = log Σ_{v,h} exp(−E(v, h)), in `f64` whatever
    /// `T`, by enumerating the 2^min(n_visible, n_hidden) states of the smaller layer with the
    /// other one summed out in closed form:
    ///
    /// ```text
    /// log Z = log Σ_h exp(cᵀh + Σᵢ softplus(bᵢ + (Wᵀh)ᵢ))     (enumerating h)
    ///       = log Σ_v exp(−F(v))                               (enumerating v)
    /// ```
    ///
    /// Uses all available cores (the result is the same for any number). Fails with
    /// [`Error::TooLargeToEnumerate`] when the smaller layer has more than
    /// [`MAX_EXACT_UNITS`] units.
    ///
    /// ```
    /// use rbms::Rbm;
    /// // All parameters zero: Z = 2^(n_visible + n_hidden).
    /// let rbm = Rbm::<f64>::new(5, 3)?;
    /// assert!((rbm.log_partition_exact()? - 8.0 * 2f64.ln()).abs() < 1e-12);
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn log_partition_exact(&self) -> Result<f64> {
        self.check_enumerable(MAX_EXACT_UNITS)?;
        Ok(Enumeration::of(&self.params).log_partition())
    }

    /// Exact log p(v) = −F(v) − log Z of each sample, in `f64` (the free energy evaluated with
    /// the parameters converted to `f64`). Same limits as
    /// [`log_partition_exact`](Self::log_partition_exact); pass a precomputed `log_z` with
    /// [`log_prob_with`](Self::log_prob_with) to avoid recomputing it.
    pub fn log_prob_exact(&self, data: &Dataset<T>) -> Result<DVector<f64>> {
        self.check_visible(data.samples())?;
        let log_z = self.log_partition_exact()?;
        self.log_prob_with(data, log_z)
    }

    /// log p(v) = −F(v) − `log_z` of each sample, in `f64`, for a given (exact or estimated)
    /// log partition function.
    pub fn log_prob_with(&self, data: &Dataset<T>, log_z: f64) -> Result<DVector<f64>> {
        self.check_visible(data.samples())?;
        if !log_z.is_finite() {
            return Err(Error::InvalidParameter {
                name: "log_z",
                reason: format!("must be finite, got {log_z}"),
            });
        }
        let model = self.cast::<f64>();
        let v = data.samples().map(|x| x.as_f64());
        let f = model.free_energy(v.as_view())?;
        Ok(f.map(|f| -f - log_z))
    }

    /// The exact gradient of the mean log-likelihood of `data`,
    /// ∇θ ⟨log p(v)⟩ = −⟨∇θ F(v)⟩_data + ⟨∇θ F(v)⟩_model, in `f64`, with the model expectation
    /// computed by enumerating the smaller layer (at most [`MAX_EXACT_GRADIENT_UNITS`] units).
    /// Block by block it is ⟨h vᵀ⟩_data − ⟨h vᵀ⟩_model for the weights (h the conditional
    /// means), ⟨v⟩_data − ⟨v⟩_model and ⟨h⟩_data − ⟨h⟩_model for the biases.
    pub fn log_likelihood_gradient_exact(&self, data: &Dataset<T>) -> Result<LayerParams<f64>> {
        self.check_visible(data.samples())?;
        self.check_enumerable(MAX_EXACT_GRADIENT_UNITS)?;
        let model = self.cast::<f64>();
        let (nv, nh) = (self.n_visible(), self.n_hidden());
        let v = data.samples().map(|x| x.as_f64());
        // Data term: −⟨∇F⟩_data = ⟨h vᵀ⟩, ⟨v⟩, ⟨h⟩.
        let mut grad = model.free_energy_gradient(&v)?;
        grad.weights.neg_mut();
        grad.visible_bias.neg_mut();
        grad.hidden_bias.neg_mut();
        // Model term by enumeration: p(state) for every state of the smaller layer.
        let log_z = Enumeration::of(&model.params).log_partition();
        let p = &model.params;
        let (mut e_hv, mut e_v, mut e_h) = (
            DMatrix::<f64>::zeros(nh, nv),
            DVector::<f64>::zeros(nv),
            DVector::<f64>::zeros(nh),
        );
        let k = nv.min(nh);
        for s in 0..1usize << k {
            let u = DVector::from_fn(k, |j, _| (s >> j & 1) as f64);
            // (v, E[h | v]) or (E[v | h], h) with the state's probability.
            let (vs, hs, log_weight) = if nh <= nv {
                let pre = p.weights.tr_mul(&u) + &p.visible_bias;
                let lw = p.hidden_bias.dot(&u) + pre.iter().map(|&x| softplus64(x)).sum::<f64>();
                (pre.map(sigmoid), u, lw)
            } else {
                let pre = &p.weights * &u + &p.hidden_bias;
                let lw = p.visible_bias.dot(&u) + pre.iter().map(|&x| softplus64(x)).sum::<f64>();
                (u, pre.map(sigmoid), lw)
            };
            let w = (log_weight - log_z).exp();
            e_hv.ger(w, &hs, &vs, 1.0);
            e_v.axpy(w, &vs, 1.0);
            e_h.axpy(w, &hs, 1.0);
        }
        grad.weights -= e_hv;
        grad.visible_bias -= e_v;
        grad.hidden_bias -= e_h;
        Ok(grad)
    }

    /// The same model with its parameters converted to another scalar type (exact from `f32`
    /// to `f64`).
    pub(crate) fn cast<U: Float>(&self) -> Rbm<U> {
        Rbm::from_params(LayerParams {
            weights: self.params.weights.map(|x| U::of_f64(x.as_f64())),
            visible_bias: self.params.visible_bias.map(|x| U::of_f64(x.as_f64())),
            hidden_bias: self.params.hidden_bias.map(|x| U::of_f64(x.as_f64())),
        })
    }
}

fn softplus64(x: f64) -> f64 {
    crate::math::softplus(x)
}

/// Σᵢ softplus(xᵢ + yᵢ) in `f64`, the inner loop of the enumeration.
///
/// softplus(z) = max(z, 0) + log(1 + e^−|z|), and the logarithms are summed as the logarithm of
/// a product: each factor 1 + e^−|z| lies in [1, 2], so a product of [`PRODUCT_CHUNK`] of them
/// stays below 2^512 and one `ln` serves a whole chunk. e^−|z| comes from [`exp_nonpositive`],
/// written so that the compiler vectorises it; the AVX2 build gives the same bits as the
/// baseline (no fused multiply-adds, same operation order), so the result does not depend on
/// the processor.
pub(crate) fn sum_softplus_of_sum(x: &[f64], y: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2 (checked just above).
        return unsafe { sum_softplus_of_sum_avx2(x, y) };
    }
    sum_softplus_of_sum_impl(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_softplus_of_sum_avx2(x: &[f64], y: &[f64]) -> f64 {
    sum_softplus_of_sum_impl(x, y)
}

/// Factors multiplied before one logarithm (≤ 2^512 < `f64::MAX`).
const PRODUCT_CHUNK: usize = 512;
/// Independent accumulators, so that the loop vectorises without reassociating sums.
const LANES: usize = 16;

#[inline(always)]
fn sum_softplus_of_sum_impl(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut total = 0.0;
    for (xc, yc) in x.chunks(PRODUCT_CHUNK).zip(y.chunks(PRODUCT_CHUNK)) {
        let mut pos = [0.0f64; LANES];
        let mut prod = [1.0f64; LANES];
        let xs = xc.chunks_exact(LANES);
        let ys = yc.chunks_exact(LANES);
        let (xr, yr) = (xs.remainder(), ys.remainder());
        for (xl, yl) in xs.zip(ys) {
            for l in 0..LANES {
                let z = xl[l] + yl[l];
                pos[l] += z.max(0.0);
                prod[l] *= 1.0 + exp_nonpositive(-z.abs());
            }
        }
        for (l, (&a, &b)) in xr.iter().zip(yr).enumerate() {
            let z = a + b;
            pos[l] += z.max(0.0);
            prod[l] *= 1.0 + exp_nonpositive(-z.abs());
        }
        let p = prod.iter().fold(1.0, |a, &b| a * b);
        total += pos.iter().sum::<f64>() + p.ln();
    }
    total
}

/// e^x for x ≤ 0 (finite), to within a few ulp, branch-free so that it vectorises.
///
/// x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor series to degree 12 (truncation below
/// 2·10⁻¹⁶ relative), 2ⁿ built from its exponent bits. Arguments below −60 are raised to −60:
/// then e^x < 10⁻²⁶, and 1 + e^x, the only use here, is exactly 1 either way.
#[inline(always)]
fn exp_nonpositive(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that n·LN2_HI is exact for |n| < 2^11.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 1.5·2^52: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let x = x.max(-60.0);
    let t = x * LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2ⁿ: n is in [−87, 0], held in the low bits of t's mantissa.
    let n_int = (t.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    let scale = f64::from_bits(((n_int + 1023) as u64) << 52);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_matches_std() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -60.0 * i as f64 / 200_000.0;
            let (a, b) = (exp_nonpositive(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 4e-16, "worst relative error {worst:e}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e300) < 1e-26);
    }

    #[test]
    fn sum_softplus_matches_direct_sum() {
        // Lengths around the lane and chunk sizes, values over a wide range.
        for n in [1usize, 7, 8, 9, 511, 512, 513, 1500] {
            let x: Vec<f64> = (0..n)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) * 0.7)
                .collect();
            let y: Vec<f64> = (0..n).map(|i| ((i * 11 % 13) as f64 - 6.0) * 0.3).collect();
            let direct: f64 = x.iter().zip(&y).map(|(a, b)| softplus64(a + b)).sum();
            let fast = sum_softplus_of_sum(&x, &y);
            assert!(
                (fast - direct).abs() <= 1e-12 * direct.abs().max(1.0),
                "n = {n}: {fast} vs {direct}"
            );
            assert_eq!(
                fast,
                sum_softplus_of_sum_impl(&x, &y),
                "AVX2 and baseline differ"
            );
        }
    }
}

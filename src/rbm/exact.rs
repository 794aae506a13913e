//! Exact likelihood computations by enumerating the smaller layer, in `f64`.

use super::Rbm;
use crate::energy::EnergyModel;
use crate::math::{log_sum_exp, sigmoid, sum_softplus_shifted};
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
                            *v = bias + inner_bias + sum_softplus_shifted(&base, p, 1.0);
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
        Rbm {
            params: LayerParams {
                weights: self.params.weights.map(|x| U::of_f64(x.as_f64())),
                visible_bias: self.params.visible_bias.map(|x| U::of_f64(x.as_f64())),
                hidden_bias: self.params.hidden_bias.map(|x| U::of_f64(x.as_f64())),
            },
        }
    }
}

fn softplus64(x: f64) -> f64 {
    crate::math::softplus(x)
}

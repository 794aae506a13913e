//! Pseudo-likelihood of a Bernoulli RBM, in scikit-learn's stochastic one-flip form and exactly.

use super::Rbm;
use crate::data::bounded;
use crate::energy::EnergyModel;
use crate::math::{log_sigmoid, sum_softplus_shifted};
use crate::{Dataset, Float, Result};
use nalgebra::{DMatrix, DVector};
use rand::Rng;

/// Samples per block when the work is split to bound the size of the `n_hidden × block`
/// pre-activation buffer.
const BLOCK: usize = 256;

impl<T: Float> Rbm<T> {
    /// Stochastic pseudo-likelihood of each sample, with scikit-learn's semantics
    /// (`BernoulliRBM.score_samples`): for each sample v one site i is drawn uniformly (one
    /// bounded draw from `rng` per sample, so calls advance the RNG and differ), ṽ is v with
    /// vᵢ replaced by 1 − vᵢ, and the value is
    ///
    /// ```text
    /// n_visible · log σ(F(ṽ) − F(v))
    /// ```
    ///
    /// an unbiased estimate of the exact pseudo-likelihood
    /// ([`pseudo_likelihood_exact`](Self::pseudo_likelihood_exact)). Returned in `f64`.
    pub fn pseudo_likelihood<R: Rng + ?Sized>(
        &self,
        data: &Dataset<T>,
        rng: &mut R,
    ) -> Result<DVector<f64>> {
        self.check_visible(data.samples())?;
        let nv = self.n_visible();
        let sites: Vec<usize> = (0..data.n_samples())
            .map(|_| bounded(rng, nv as u64) as usize)
            .collect();
        let mut out = DVector::zeros(data.n_samples());
        self.for_each_block(data, |start, x, v| {
            for n in 0..x.ncols() {
                let i = sites[start + n];
                let xn = x.column(n);
                let base = sum_softplus_shifted(xn.as_slice(), xn.as_slice(), T::zero());
                let d = self.flip_delta(xn.as_slice(), base, v.column(n)[i], i);
                out[start + n] = nv as f64 * log_sigmoid(d).as_f64();
            }
        })?;
        Ok(out)
    }

    /// Exact pseudo-likelihood of each sample, Σᵢ log p(vᵢ | v₋ᵢ) = Σᵢ log σ(F(ṽ⁽ⁱ⁾) − F(v)),
    /// summing over all `n_visible` sites (so it is on the same scale as the one-flip estimate:
    /// the mean over sites times `n_visible`). Costs `n_visible × n_hidden` softplus evaluations
    /// per sample. Returned in `f64`.
    pub fn pseudo_likelihood_exact(&self, data: &Dataset<T>) -> Result<DVector<f64>> {
        self.check_visible(data.samples())?;
        let nv = self.n_visible();
        let mut out = DVector::zeros(data.n_samples());
        self.for_each_block(data, |start, x, v| {
            for n in 0..x.ncols() {
                let xn = x.column(n);
                let vn = v.column(n);
                let base = sum_softplus_shifted(xn.as_slice(), xn.as_slice(), T::zero());
                let mut total = 0.0f64;
                for i in 0..nv {
                    let d = self.flip_delta(xn.as_slice(), base, vn[i], i);
                    total += log_sigmoid(d).as_f64();
                }
                out[start + n] = total;
            }
        })?;
        Ok(out)
    }

    /// Calls `f(start, X, V)` for blocks of samples, with X = W·V + c (pre-activations,
    /// `n_hidden × block`) and V the block of samples.
    fn for_each_block(
        &self,
        data: &Dataset<T>,
        mut f: impl FnMut(usize, &DMatrix<T>, &DMatrix<T>),
    ) -> Result<()> {
        let n = data.n_samples();
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            let v = data.samples().columns(start, len).into_owned();
            let mut x = DMatrix::zeros(self.n_hidden(), len);
            crate::math::weights_times(self.weights(), &v.as_view(), &mut x.as_view_mut());
            for mut col in x.column_iter_mut() {
                col += self.hidden_bias();
            }
            f(start, &x, &v);
            start += len;
        }
        Ok(())
    }

    /// F(ṽ) − F(v) for the flip of site `i` (vᵢ → 1 − vᵢ, a change Δ = 1 − 2vᵢ), given the
    /// pre-activations x = Wv + c of v:
    /// −bᵢΔ − Σⱼ [softplus(xⱼ + ΔWⱼᵢ) − softplus(xⱼ)].
    /// `base` is Σⱼ softplus(xⱼ).
    fn flip_delta(&self, x: &[T], base: T, vi: T, i: usize) -> T {
        let delta = T::one() - vi - vi;
        let nh = self.n_hidden();
        let wi = &self.weights().as_slice()[i * nh..(i + 1) * nh];
        -self.visible_bias()[i] * delta - (sum_softplus_shifted(x, wi, delta) - base)
    }
}

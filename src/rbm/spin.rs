//! Likelihoods of models with ±1 ([`Spin`]) hidden units, through the binary-hidden model with
//! the same p(v).
//!
//! # The change of variables
//!
//! With h = 2h′ − 1 (h′ ∈ {0, 1}) and sᵢ = Σⱼ Wⱼᵢ, the energy of a spin model
//!
//! ```text
//! E(v, h) = E_V(v; b) − cᵀh − Σᵢⱼ (vᵢ/σᵢ) Wⱼᵢ hⱼ      (σᵢ = 1 unless learned)
//! ```
//!
//! becomes that of a model with Bernoulli hidden units h′, weights 2W, hidden biases 2c and
//! visible biases b′ = b − σ∘s, plus a constant: E(v, h) = E′(v, h′) + Σⱼ cⱼ + K, where K = 0
//! for Bernoulli visible units (their energy is linear in v) and K = Σᵢ (bᵢ² − b′ᵢ²)/(2σᵢ²)
//! for Gaussian ones (completing the square). Both models give every v the same probability;
//! their partition functions differ by that constant: log Z = log Z′ − Σⱼ cⱼ − K. The exact
//! log Z, AIS and pseudo-likelihood of a spin model are those of the binary-hidden model,
//! shifted. The converted parameters are rounded to the model's scalar type once (doubling is
//! exact; b′ is one rounding of an `f64` value); the shift is computed in `f64` from the
//! rounded b′.

use super::ais::{AisConfig, AisEstimate, LikelihoodEstimate};
use super::gaussian::GaussianAisBase;
use super::Rbm;
use crate::params::Model;
use crate::units::{Bernoulli, Gaussian, GaussianSigma, Spin, UnitParams, VisibleUnits};
use crate::{Dataset, Float, Result};
use nalgebra::DVector;

impl<T: Float, V: VisibleUnits<T>> Rbm<T, V, Spin> {
    /// The model with Bernoulli hidden units and the same p(v) (see the
    /// [module docs](self)), and the shift `δ` with log Z = log Z′ + δ (and F(v) = F′(v) − δ).
    ///
    /// ```
    /// use rbms::units::{Bernoulli, Spin};
    /// use rbms::{LayerParams, Rbm};
    /// use nalgebra::{DMatrix, DVector};
    /// let params = LayerParams::new(
    ///     DMatrix::from_row_slice(2, 3, &[0.5, -1.0, 0.25, 1.5, 0.0, -0.75]),
    ///     DVector::from_vec(vec![0.1, -0.2, 0.3]),
    ///     DVector::from_vec(vec![0.4, -0.6]),
    /// )?;
    /// let spin = Rbm::<f64, Bernoulli, Spin>::with_params(params);
    /// let (binary, shift) = spin.to_binary_hidden();
    /// assert_eq!(binary.weights()[(0, 0)], 1.0); // 2W
    /// assert!((shift - 0.2).abs() < 1e-15); // −Σc
    /// // the same p(v) for every v of {0, 1}³
    /// let all = rbms::Dataset::from_row_major(8, 3, &(0..24).map(|k| ((k / 3) >> (k % 3) & 1) as f64).collect::<Vec<_>>())?;
    /// let (a, b) = (spin.log_prob_exact(&all)?, binary.log_prob_exact(&all)?);
    /// assert!((a - b).amax() < 1e-12);
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn to_binary_hidden(&self) -> (Rbm<T, V, Bernoulli>, f64) {
        let mut params = self.params().clone();
        let sigma: Vec<f64> = match params.log_sigma() {
            Some(z) => z.iter().map(|z| z.as_f64().exp()).collect(),
            None => vec![1.0; self.weights().ncols()],
        };
        let layer = params.layer_mut();
        let (nh, nv) = layer.weights.shape();
        let mut k = 0.0;
        for (i, &sg) in sigma.iter().enumerate().take(nv) {
            let s: f64 = (0..nh).map(|j| layer.weights[(j, i)].as_f64()).sum();
            let b = layer.visible_bias[i].as_f64();
            let b_new = T::of_f64(b - sg * s);
            if !V::BINARY {
                let bn = b_new.as_f64();
                k += (b * b - bn * bn) / (2.0 * sg * sg);
            }
            layer.visible_bias[i] = b_new;
        }
        let two = T::of_f64(2.0);
        let sum_c: f64 = layer.hidden_bias.iter().map(|c| c.as_f64()).sum();
        layer.weights.iter_mut().for_each(|w| *w *= two);
        layer.hidden_bias.iter_mut().for_each(|c| *c *= two);
        (Rbm::with_params(params), -sum_c - k)
    }
}

/// An AIS estimate of the binary-hidden model as one of the spin model: every log Z shifted.
fn shifted(mut e: AisEstimate, shift: f64) -> AisEstimate {
    e.log_z += shift;
    e.log_z_base += shift;
    e.interval = (e.interval.0 + shift, e.interval.1 + shift);
    e
}

fn shifted_likelihood(mut l: LikelihoodEstimate, shift: f64) -> LikelihoodEstimate {
    l.mean_free_energy -= shift;
    l.forward = shifted(l.forward, shift);
    l.reverse = shifted(l.reverse, shift);
    l
}

macro_rules! spin_exact {
    ($units:ty) => {
        impl<T: Float> Rbm<T, $units, Spin> {
            /// Exact log Z, through [`to_binary_hidden`](Self::to_binary_hidden) (the
            /// enumeration of the binary-hidden model, in `f64`, shifted).
            pub fn log_partition_exact(&self) -> Result<f64> {
                let (binary, shift) = self.to_binary_hidden();
                Ok(binary.log_partition_exact()? + shift)
            }

            /// Exact log p(v) of each sample (the binary-hidden model's, which is the same).
            pub fn log_prob_exact(&self, data: &Dataset<T>) -> Result<DVector<f64>> {
                self.to_binary_hidden().0.log_prob_exact(data)
            }
        }
    };
}

spin_exact!(Bernoulli);
spin_exact!(Gaussian);
spin_exact!(GaussianSigma);

impl<T: Float> Rbm<T, Bernoulli, Spin> {
    /// Forward AIS estimate of log Z (of the binary-hidden model, shifted; see
    /// [`Rbm::ais`](crate::Rbm::ais)).
    pub fn ais(&self, config: &AisConfig) -> Result<AisEstimate> {
        let (binary, shift) = self.to_binary_hidden();
        Ok(shifted(binary.ais(config)?, shift))
    }

    /// Reverse AIS estimate of log Z from samples of `data` (see
    /// [`Rbm::reverse_ais`](crate::Rbm::reverse_ais)).
    pub fn reverse_ais(&self, data: &Dataset<T>, config: &AisConfig) -> Result<AisEstimate> {
        let (binary, shift) = self.to_binary_hidden();
        Ok(shifted(binary.reverse_ais(data, config)?, shift))
    }

    /// Mean log p(v) of `data` from forward and reverse AIS (see
    /// [`Rbm::log_likelihood`](crate::Rbm::log_likelihood)).
    pub fn log_likelihood(
        &self,
        data: &Dataset<T>,
        config: &AisConfig,
    ) -> Result<LikelihoodEstimate> {
        let (binary, shift) = self.to_binary_hidden();
        Ok(shifted_likelihood(
            binary.log_likelihood(data, config)?,
            shift,
        ))
    }

    /// The exact pseudo-likelihood of each sample (see
    /// [`Rbm::pseudo_likelihood_exact`](crate::Rbm::pseudo_likelihood_exact)); it depends on
    /// p(v) only.
    pub fn pseudo_likelihood_exact(&self, data: &Dataset<T>) -> Result<DVector<f64>> {
        self.to_binary_hidden().0.pseudo_likelihood_exact(data)
    }
}

macro_rules! spin_gaussian_ais {
    ($units:ty) => {
        impl<T: Float> Rbm<T, $units, Spin> {
            /// Forward AIS estimate of log Z from the Gaussian `base` (of the binary-hidden
            /// model, shifted).
            pub fn ais(&self, base: &GaussianAisBase, config: &AisConfig) -> Result<AisEstimate> {
                let (binary, shift) = self.to_binary_hidden();
                Ok(shifted(binary.ais(base, config)?, shift))
            }

            /// Reverse AIS estimate of log Z from samples of `data` back to `base`.
            pub fn reverse_ais(
                &self,
                data: &Dataset<T>,
                base: &GaussianAisBase,
                config: &AisConfig,
            ) -> Result<AisEstimate> {
                let (binary, shift) = self.to_binary_hidden();
                Ok(shifted(binary.reverse_ais(data, base, config)?, shift))
            }

            /// Mean log p(v) of `data` from forward and reverse AIS.
            pub fn log_likelihood(
                &self,
                data: &Dataset<T>,
                base: &GaussianAisBase,
                config: &AisConfig,
            ) -> Result<LikelihoodEstimate> {
                let (binary, shift) = self.to_binary_hidden();
                Ok(shifted_likelihood(
                    binary.log_likelihood(data, base, config)?,
                    shift,
                ))
            }
        }
    };
}

spin_gaussian_ais!(Gaussian);
spin_gaussian_ais!(GaussianSigma);

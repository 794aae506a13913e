//! Drawing samples from an RBM by block Gibbs sampling.

use super::Rbm;
use crate::energy::EnergyModel;
use crate::params::try_zeros;
use crate::units::{HiddenUnits, VisibleUnits};
use crate::{Error, Float, Result};
use nalgebra::DMatrix;
use rand::Rng;

/// Where Gibbs chains start.
#[derive(Debug, Clone, PartialEq)]
pub enum GibbsStart<T: Float> {
    /// Each visible unit independently 0 or 1 with probability ½ (Bernoulli units), or a
    /// standard normal draw (Gaussian units).
    Noise,
    /// From the given visible states, one chain per column (`n_visible × chains`; values in
    /// the units' domain, `[0, 1]` for Bernoulli units). The number of chains is the number of
    /// columns.
    From(DMatrix<T>),
}

/// How to run Gibbs chains: `burn_in` full steps (v → h → v) are discarded, then
/// `samples_per_chain` states are recorded, one every `thinning` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct GibbsConfig<T: Float> {
    /// Number of independent chains (ignored with [`GibbsStart::From`], which fixes it).
    pub chains: usize,
    /// Steps run before the first recorded state.
    pub burn_in: usize,
    /// Steps between recorded states (≥ 1).
    pub thinning: usize,
    /// States recorded per chain (≥ 1).
    pub samples_per_chain: usize,
    /// Initial states.
    pub start: GibbsStart<T>,
}

impl<T: Float> Default for GibbsConfig<T> {
    /// 10 chains from noise, 1000 burn-in steps, one sample each.
    fn default() -> Self {
        Self {
            chains: 10,
            burn_in: 1000,
            thinning: 1,
            samples_per_chain: 1,
            start: GibbsStart::Noise,
        }
    }
}

/// Recorded Gibbs states. Column `s · chains + c` is the `s`-th recorded state of chain `c`.
#[derive(Debug, Clone, PartialEq)]
pub struct GibbsSamples<T: Float> {
    /// Visible states (`n_visible × chains·samples_per_chain`), binary for Bernoulli units.
    pub states: DMatrix<T>,
    /// E[v | h] (p(v = 1 | h) for Bernoulli units) at the same steps: the mean image behind
    /// each state, better for display.
    pub probabilities: DMatrix<T>,
    /// Number of chains.
    pub chains: usize,
}

impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Rbm<T, V, H> {
    /// Runs block Gibbs chains (h ~ p(h|v), then v ~ p(v|h), per step) and records states.
    ///
    /// ```
    /// use rbms::{GibbsConfig, Rbm};
    /// use rand::SeedableRng;
    /// let rbm = Rbm::<f64>::new(6, 3)?;
    /// let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
    /// let config = GibbsConfig { chains: 4, burn_in: 10, thinning: 2, samples_per_chain: 3, ..Default::default() };
    /// let s = rbm.sample(&config, &mut rng)?;
    /// assert_eq!(s.states.shape(), (6, 12));
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn sample<R: Rng + ?Sized>(
        &self,
        config: &GibbsConfig<T>,
        rng: &mut R,
    ) -> Result<GibbsSamples<T>> {
        if config.thinning == 0 {
            return Err(Error::InvalidParameter {
                name: "thinning",
                reason: "must be >= 1, got 0".into(),
            });
        }
        if config.samples_per_chain == 0 {
            return Err(Error::InvalidParameter {
                name: "samples_per_chain",
                reason: "must be >= 1, got 0".into(),
            });
        }
        let nv = self.n_visible();
        let mut v = match &config.start {
            GibbsStart::Noise => {
                if config.chains == 0 {
                    return Err(Error::ZeroChains);
                }
                let mut v = try_zeros("chains (visible states)", nv, config.chains)?;
                v.iter_mut().for_each(|x| *x = V::noise(rng));
                v
            }
            GibbsStart::From(v0) => {
                self.check_visible(v0)?;
                v0.clone()
            }
        };
        let chains = v.ncols();
        let total = config.samples_per_chain;
        let recorded = chains
            .checked_mul(total)
            .ok_or_else(|| Error::InvalidParameter {
                name: "chains × samples_per_chain",
                reason: format!("{chains} × {total} samples: the count overflows usize"),
            })?;
        let mut hp = try_zeros("chains (hidden probabilities)", self.n_hidden(), chains)?;
        let mut h = try_zeros("chains (hidden states)", self.n_hidden(), chains)?;
        let mut vp = try_zeros("chains (visible probabilities)", nv, chains)?;
        let mut states = try_zeros("samples (states)", nv, recorded)?;
        let mut probabilities = try_zeros("samples (probabilities)", nv, recorded)?;
        let steps = (total - 1)
            .checked_mul(config.thinning)
            .and_then(|n| n.checked_add(config.burn_in))
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| Error::InvalidParameter {
                name: "burn_in + (samples_per_chain − 1) × thinning",
                reason: "the number of Gibbs steps overflows usize".into(),
            })?;
        let mut recorded = 0;
        for step in 1..=steps {
            self.sample_hidden_into(v.as_view(), hp.as_view_mut(), h.as_view_mut(), rng)?;
            self.sample_visible_into(h.as_view(), vp.as_view_mut(), v.as_view_mut(), rng)?;
            if step > config.burn_in && (step - config.burn_in - 1).is_multiple_of(config.thinning)
            {
                states.columns_mut(recorded * chains, chains).copy_from(&v);
                probabilities
                    .columns_mut(recorded * chains, chains)
                    .copy_from(&vp);
                recorded += 1;
            }
        }
        Ok(GibbsSamples {
            states,
            probabilities,
            chains,
        })
    }
}

//! Contrastive divergence (CD-k) and persistent contrastive divergence (PCD-k).

use super::{RunRng, StepContext, Trainer, UpdateRule};
use crate::energy::{EnergyModel, GradientTerm};
use crate::params::{try_zeros, Parameters};
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView};
use num_traits::One;

/// CD-k (Hinton 2002): the negative phase runs `k` block-Gibbs steps from the minibatch itself.
///
/// Each step, for a batch V₀ of b samples: H₀ ~ p(h | V₀); then k times V ~ p(v | H),
/// H ~ p(h | V), ending at V_k. The loss gradient is
/// (1/b)·[Σ ∇F(V₀) − Σ ∇F(V_k)], with hidden *probabilities* in both phases and the
/// negative statistics taken from the final state V_k, then passed to the [`UpdateRule`].
///
/// ```
/// use rbms::ContrastiveDivergence;
/// let cd1 = ContrastiveDivergence::new(1);
/// assert_eq!(cd1.k, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContrastiveDivergence {
    /// Gibbs steps per update (≥ 1).
    pub k: usize,
}

impl ContrastiveDivergence {
    /// CD-k.
    pub fn new(k: usize) -> Self {
        Self { k }
    }
}

/// PCD-k (Tieleman 2008): the negative phase advances `chains` persistent Gibbs chains by `k`
/// steps per update. The chains are independent of the batch size and persist across batches
/// and epochs; they start from hidden states sampled given randomly chosen training samples.
///
/// The loss gradient for a batch V₀ of b samples and chain states V_k is
/// (1/b)·Σ ∇F(V₀) − (1/chains)·Σ ∇F(V_k): each phase is averaged over its own size.
///
/// ```
/// use rbms::PersistentCd;
/// let pcd = PersistentCd::new(1, 100);
/// assert_eq!((pcd.k, pcd.chains), (1, 100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistentCd {
    /// Gibbs steps per update (≥ 1).
    pub k: usize,
    /// Number of persistent chains (≥ 1).
    pub chains: usize,
}

impl PersistentCd {
    /// PCD-k with the given number of chains.
    pub fn new(k: usize, chains: usize) -> Self {
        Self { k, chains }
    }
}

/// Buffers of a Gibbs phase over up to `cols` columns.
#[derive(Debug, Clone)]
struct Phase<T: Float> {
    h_probs: DMatrix<T>,
    h_states: DMatrix<T>,
    v_probs: DMatrix<T>,
    v_states: DMatrix<T>,
}

impl<T: Float> Phase<T> {
    fn new(n_visible: usize, n_hidden: usize, cols: usize) -> Self {
        Self {
            h_probs: DMatrix::zeros(n_hidden, cols),
            h_states: DMatrix::zeros(n_hidden, cols),
            v_probs: DMatrix::zeros(n_visible, cols),
            v_states: DMatrix::zeros(n_visible, cols),
        }
    }

    /// `k` steps of v ~ p(v | h), h ~ p(h | v) on the first `b` columns, starting from
    /// `h_states`; ends with V_k in `v_states` and p(h | V_k) in `h_probs`.
    fn gibbs<M: EnergyModel<Scalar = T>>(
        &mut self,
        model: &M,
        k: usize,
        b: usize,
        rng: &mut RunRng,
    ) -> Result<()> {
        for _ in 0..k {
            model.sample_visible_into(
                self.h_states.columns(0, b),
                self.v_probs.columns_mut(0, b),
                self.v_states.columns_mut(0, b),
                rng,
            )?;
            model.sample_hidden_into(
                self.v_states.columns(0, b),
                self.h_probs.columns_mut(0, b),
                self.h_states.columns_mut(0, b),
                rng,
            )?;
        }
        Ok(())
    }
}

/// State of [`ContrastiveDivergence`]: velocity, workspace and Gibbs buffers.
#[derive(Debug, Clone)]
pub struct CdState<P: Parameters> {
    velocity: P,
    /// Workspace of the update (see [`EnergyModel::contrastive_update`]).
    scratch: P,
    /// Positive-phase hidden probabilities (`n_hidden × batch_size`).
    positive: DMatrix<P::Scalar>,
    phase: Phase<P::Scalar>,
}

impl<P: Parameters> CdState<P> {
    /// The momentum velocity carried between steps.
    pub fn velocity(&self) -> &P {
        &self.velocity
    }
}

/// State of [`PersistentCd`]: velocity, workspace, buffers and the persistent chains.
#[derive(Debug, Clone)]
pub struct PcdState<P: Parameters> {
    velocity: P,
    /// Workspace of the update (see [`EnergyModel::contrastive_update`]).
    scratch: P,
    /// Positive-phase hidden probabilities (`n_hidden × batch_size`).
    positive: DMatrix<P::Scalar>,
    /// The chains; `phase.h_states` holds their hidden states between steps.
    phase: Phase<P::Scalar>,
}

impl<P: Parameters> PcdState<P> {
    /// The momentum velocity carried between steps.
    pub fn velocity(&self) -> &P {
        &self.velocity
    }
    /// The current hidden states of the persistent chains (`n_hidden × chains`).
    pub fn chain_hidden_states(&self) -> &DMatrix<P::Scalar> {
        &self.phase.h_states
    }
    /// The visible states of the chains after the last step (`n_visible × chains`).
    pub fn chain_visible_states(&self) -> &DMatrix<P::Scalar> {
        &self.phase.v_states
    }
}

fn check_k(k: usize) -> Result<()> {
    if k == 0 {
        Err(Error::ZeroGibbsSteps)
    } else {
        Ok(())
    }
}

impl<M: EnergyModel> Trainer<M> for ContrastiveDivergence {
    type State = CdState<M::Params>;

    fn name(&self) -> String {
        format!("CD-{}", self.k)
    }

    fn check(&self) -> Result<()> {
        check_k(self.k)
    }

    fn init_state(
        &self,
        model: &M,
        _data: &Dataset<M::Scalar>,
        batch_size: usize,
        _rng: &mut RunRng,
    ) -> Result<Self::State> {
        Ok(CdState {
            velocity: model.params().zeros_like(),
            scratch: model.params().zeros_like(),
            positive: DMatrix::zeros(model.n_hidden(), batch_size),
            phase: Phase::new(model.n_visible(), model.n_hidden(), batch_size),
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
        let p = &mut state.phase;
        if b > p.h_probs.ncols() {
            *p = Phase::new(model.n_visible(), model.n_hidden(), b);
        }
        let scale = M::Scalar::one() / M::Scalar::of_usize(b);
        // Positive phase: p(h | V₀) and a sample H₀ to start the chain.
        model.sample_hidden_into(
            batch,
            state.positive.columns_mut(0, b),
            p.h_states.columns_mut(0, b),
            rng,
        )?;
        // Negative phase from the final state of k Gibbs steps.
        p.gibbs(model, self.k, b, rng)?;
        model.contrastive_update(
            GradientTerm {
                visible: batch,
                hidden: state.positive.columns(0, b),
                scale,
            },
            GradientTerm {
                visible: p.v_states.columns(0, b),
                hidden: p.h_probs.columns(0, b),
                scale: -scale,
            },
            rule,
            &mut state.velocity,
            &mut state.scratch,
            ctx,
        )?;
        Ok(None)
    }
}

impl<M: EnergyModel> Trainer<M> for PersistentCd {
    type State = PcdState<M::Params>;

    fn name(&self) -> String {
        format!("PCD-{} ({} chains)", self.k, self.chains)
    }

    fn check(&self) -> Result<()> {
        check_k(self.k)?;
        if self.chains == 0 {
            return Err(Error::ZeroChains);
        }
        Ok(())
    }

    /// Chains start at h ~ p(h | v) for `chains` training samples drawn uniformly (with
    /// replacement) with the run's RNG.
    fn init_state(
        &self,
        model: &M,
        data: &Dataset<M::Scalar>,
        batch_size: usize,
        rng: &mut RunRng,
    ) -> Result<Self::State> {
        let (nv, nh) = (model.n_visible(), model.n_hidden());
        // The chains are the only buffers whose size the user sets freely: allocate them
        // checked (an error, not an abort, for a count too large for memory).
        let mut phase = Phase {
            h_probs: try_zeros("chains (hidden probabilities)", nh, self.chains)?,
            h_states: try_zeros("chains (hidden states)", nh, self.chains)?,
            v_probs: try_zeros("chains (visible probabilities)", nv, self.chains)?,
            v_states: try_zeros("chains (visible states)", nv, self.chains)?,
        };
        let picks: Vec<usize> = (0..self.chains)
            .map(|_| crate::data::bounded(rng, data.n_samples() as u64) as usize)
            .collect();
        data.gather_into(&picks, &mut phase.v_states)?;
        model.sample_hidden_into(
            phase.v_states.as_view(),
            phase.h_probs.as_view_mut(),
            phase.h_states.as_view_mut(),
            rng,
        )?;
        Ok(PcdState {
            velocity: model.params().zeros_like(),
            scratch: model.params().zeros_like(),
            positive: DMatrix::zeros(nh, batch_size),
            phase,
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
        let m = self.chains;
        let p = &mut state.phase;
        p.gibbs(model, self.k, m, rng)?;
        model.contrastive_update(
            GradientTerm {
                visible: batch,
                hidden: state.positive.columns(0, b),
                scale: M::Scalar::one() / M::Scalar::of_usize(b),
            },
            GradientTerm {
                visible: p.v_states.as_view(),
                hidden: p.h_probs.as_view(),
                scale: -M::Scalar::one() / M::Scalar::of_usize(m),
            },
            rule,
            &mut state.velocity,
            &mut state.scratch,
            ctx,
        )?;
        Ok(None)
    }
}

impl<P: Parameters> CdState<P> {
    /// A state with this velocity; the buffers are allocated at the first step.
    #[cfg(feature = "serde")]
    pub(crate) fn from_velocity(velocity: P) -> Self {
        Self {
            scratch: velocity.zeros_like(),
            velocity,
            positive: DMatrix::zeros(0, 0),
            phase: Phase::new(0, 0, 0),
        }
    }
}

impl<P: Parameters> PcdState<P> {
    /// A state with this velocity and these chains (`hidden` is `n_hidden × chains`, `visible`
    /// `n_visible × chains`); the other buffers are allocated here or at the first step.
    #[cfg(feature = "serde")]
    pub(crate) fn from_chains(
        velocity: P,
        hidden: DMatrix<P::Scalar>,
        visible: DMatrix<P::Scalar>,
    ) -> Self {
        let mut phase = Phase::new(visible.nrows(), hidden.nrows(), hidden.ncols());
        phase.h_states = hidden;
        phase.v_states = visible;
        Self {
            scratch: velocity.zeros_like(),
            velocity,
            positive: DMatrix::zeros(0, 0),
            phase,
        }
    }
}

//! Checkpoints: everything a run needs to continue bit for bit.

use super::{
    CdState, ContrastiveDivergence, PcdState, PersistentCd, Resumable, RunRng, Sgd, SgdState,
};
use crate::autoencoder::Autoencoder;
use crate::data::Minibatches;
use crate::energy::EnergyModel;
use crate::params::Parameters;
use crate::{Error, Float, Result};

/// The whole state of a run at an epoch boundary: the model, the trainer's state (velocity,
/// persistent chains), both generators (the run's stream and the metrics stream), the
/// minibatch order (each epoch reshuffles the *current* order, so it is part of the state),
/// the epoch and step counters and the metric subset.
///
/// [`fit_checkpointed`](super::fit_checkpointed) produces them (as [`CheckpointRef`]s, borrowed
/// from the running state); [`resume`](super::resume) continues from one. Workspaces are not
/// part of a checkpoint: the trainer rebuilds them at its first step. With the `serde` feature
/// a checkpoint implements `Serialize` and `Deserialize` (through the same checked
/// constructors as the models), and `rbms::persist` reads and writes it as JSON.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Checkpoint<M, S> {
    pub(crate) model: M,
    pub(crate) trainer: String,
    pub(crate) state: S,
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::persist::checked_rng")
    )]
    pub(crate) rng: RunRng,
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::persist::checked_rng")
    )]
    pub(crate) metric_rng: RunRng,
    pub(crate) batches: Minibatches,
    pub(crate) epochs_done: usize,
    pub(crate) steps_done: u64,
    pub(crate) metric_indices: Option<Vec<usize>>,
}

impl<M, S> Checkpoint<M, S> {
    /// The model's parameters at the checkpoint.
    pub fn model(&self) -> &M {
        &self.model
    }
    /// The model, consuming the checkpoint.
    pub fn into_model(self) -> M {
        self.model
    }
    /// The trainer's state.
    pub fn state(&self) -> &S {
        &self.state
    }
    /// The [name](super::Trainer::name) of the trainer that produced the checkpoint.
    pub fn trainer(&self) -> &str {
        &self.trainer
    }
    /// Epochs completed.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }
    /// Minibatch steps taken since the start of the run.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }
    /// The run's generator, as it is after the last step.
    pub fn rng(&self) -> &RunRng {
        &self.rng
    }
    /// The metrics stream.
    pub fn metric_rng(&self) -> &RunRng {
        &self.metric_rng
    }
    /// The minibatches and their current order.
    pub fn batches(&self) -> &Minibatches {
        &self.batches
    }
    /// The training samples metrics are computed on, when a subset (`None`: all of them).
    pub fn metric_indices(&self) -> Option<&[usize]> {
        self.metric_indices.as_deref()
    }
}

/// The checkpoint type of a run of trainer `Tr` on model `M`, e.g.
/// `CheckpointOf<Rbm<f32>, PersistentCd>` (to name the type to load).
pub type CheckpointOf<M, Tr> = Checkpoint<M, <Tr as super::Trainer<M>>::State>;

/// A [`Checkpoint`] borrowed from a running fit: what
/// [`fit_checkpointed`](super::fit_checkpointed) hands to its sink. It serialises exactly as
/// the owned checkpoint does (with the `serde` feature), so saving copies nothing;
/// [`to_checkpoint`](Self::to_checkpoint) makes an owned [`Checkpoint`].
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CheckpointRef<'a, M, S> {
    pub(crate) model: &'a M,
    pub(crate) trainer: &'a str,
    pub(crate) state: &'a S,
    pub(crate) rng: &'a RunRng,
    pub(crate) metric_rng: &'a RunRng,
    pub(crate) batches: &'a Minibatches,
    pub(crate) epochs_done: usize,
    pub(crate) steps_done: u64,
    pub(crate) metric_indices: Option<&'a [usize]>,
}

impl<M: Clone, S: Clone> CheckpointRef<'_, M, S> {
    /// An owned copy.
    pub fn to_checkpoint(&self) -> Checkpoint<M, S> {
        Checkpoint {
            model: self.model.clone(),
            trainer: self.trainer.to_string(),
            state: self.state.clone(),
            rng: self.rng.clone(),
            metric_rng: self.metric_rng.clone(),
            batches: self.batches.clone(),
            epochs_done: self.epochs_done,
            steps_done: self.steps_done,
            metric_indices: self.metric_indices.map(<[usize]>::to_vec),
        }
    }
}

impl<M, S> CheckpointRef<'_, M, S> {
    /// The model.
    pub fn model(&self) -> &M {
        self.model
    }
    /// Epochs completed.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }
    /// Minibatch steps taken since the start of the run.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }
}

impl<M, S> Checkpoint<M, S> {
    /// The checkpoint, borrowed.
    pub fn as_ref(&self) -> CheckpointRef<'_, M, S> {
        CheckpointRef {
            model: &self.model,
            trainer: &self.trainer,
            state: &self.state,
            rng: &self.rng,
            metric_rng: &self.metric_rng,
            batches: &self.batches,
            epochs_done: self.epochs_done,
            steps_done: self.steps_done,
            metric_indices: self.metric_indices.as_deref(),
        }
    }
}

/// Checks that `state` has the shape of `params`, block by block.
pub(crate) fn check_same_shape<P: Parameters>(
    what: &'static str,
    state: &P,
    params: &P,
) -> Result<()> {
    let shape = |p: &P| {
        (0..p.n_blocks())
            .map(|b| p.block(b).len())
            .collect::<Vec<_>>()
    };
    let (found, expected) = (shape(state), shape(params));
    if found != expected {
        return Err(Error::ResumeMismatch {
            what,
            reason: format!("block lengths {found:?}, the model's are {expected:?}"),
        });
    }
    Ok(())
}

fn check_chains(what: &'static str, found: (usize, usize), expected: (usize, usize)) -> Result<()> {
    if found != expected {
        return Err(Error::ResumeMismatch {
            what,
            reason: format!("shape {found:?}, expected {expected:?} (units, chains)"),
        });
    }
    Ok(())
}

impl<M: EnergyModel> Resumable<M> for ContrastiveDivergence {
    fn check_state(&self, model: &M, state: &CdState<M::Params>) -> Result<()> {
        check_same_shape("velocity", state.velocity(), model.params())
    }
}

impl<M: EnergyModel> Resumable<M> for PersistentCd {
    fn check_state(&self, model: &M, state: &PcdState<M::Params>) -> Result<()> {
        check_same_shape("velocity", state.velocity(), model.params())?;
        let (h, v) = (state.chain_hidden_states(), state.chain_visible_states());
        check_chains(
            "chain hidden states",
            h.shape(),
            (model.n_hidden(), self.chains),
        )?;
        check_chains(
            "chain visible states",
            v.shape(),
            (model.n_visible(), self.chains),
        )?;
        // The chains' states must be states of the model's units (for Bernoulli units, in
        // [0, 1]; the sampler writes 0 or 1).
        model.check_visible(v)?;
        if let Some(bad) = h.iter().find(|&&x| !model.hidden_value_in_domain(x)) {
            return Err(Error::ResumeMismatch {
                what: "chain hidden states",
                reason: format!("{} is not a state of the hidden units", bad.as_f64()),
            });
        }
        Ok(())
    }
}

impl<M: Autoencoder> Resumable<M> for Sgd {
    fn check_state(&self, model: &M, state: &SgdState<M::Params, M::Workspace>) -> Result<()> {
        check_same_shape("velocity", state.velocity(), model.params())
    }
}

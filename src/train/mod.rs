//! Trainers and the driver loop behind `fit`.
//!
//! A [`Trainer`] says how to take one step from a minibatch; [`fit`] drives the epochs:
//! shuffling, minibatches, metrics, observers, early stopping and errors.
//!
//! # Capabilities
//!
//! [`ContrastiveDivergence`] and [`PersistentCd`] implement `Trainer<M>` for every
//! `M: EnergyModel`: they need the free-energy gradient and Gibbs sampling, nothing else.
//! [`Sgd`] implements it for every `M: Autoencoder`: it needs a differentiable loss. Pairing
//! an RBM with `Sgd`, or an autoencoder with CD, is a compile-time error (see
//! [`crate::autoencoder`] for why, with `compile_fail` examples).
//!
//! # Reproducibility contract
//!
//! A run is determined by `FitConfig::seed`, the crate version, the scalar type and the inputs
//! (data, model if `warm_start`, trainer, settings): the same values give bit-identical
//! parameters and metrics, on any platform with IEEE-754 arithmetic and the same
//! matrix-multiply kernels. (Models whose weights fit the crate's small-layer kernels, such as
//! 64 → 100 on the digits, use those, which give the same bits with and without AVX2; larger
//! ones use `matrixmultiply`, whose kernels depend on the processor.) The generator is [`RunRng`] = Xoshiro256++ (`rand_xoshiro`), a
//! named, portable algorithm, seeded with `seed_from_u64(seed)`. Its stream is consumed, in
//! order, by: the weight initialisation (one `f64` standard normal per weight), the trainer's
//! state (e.g. PCD's chains), then per epoch the shuffle and each step's sampling. Metrics draw
//! from a second stream, the same generator after one `jump()` (2¹²⁸ draws ahead), so turning
//! metrics on or off never changes the trained parameters. Wall-clock times are, of course,
//! not reproducible.

mod cd;
mod checkpoint;
mod config;
mod online;
mod sgd;
mod update;

pub use cd::{CdState, ContrastiveDivergence, PcdState, PersistentCd};
pub use checkpoint::{Checkpoint, CheckpointOf, CheckpointRef};
pub use config::{FitConfig, Init, MetricsConfig, VisibleBiasInit};
pub use online::{Chunk, ChunkReport, OnlineCheckpoint, OnlineFit};
pub use sgd::{Sgd, SgdState};
pub(crate) use update::BlockRule;
pub use update::UpdateRule;

use crate::observe::{Control, Observer, StepReport};
use crate::params::Model;
use crate::{Dataset, Result};
use nalgebra::{DMatrix, DMatrixView};
use rand::SeedableRng;
use std::time::Instant;

/// The run's random number generator: Xoshiro256++ (see the reproducibility contract above).
pub type RunRng = rand_xoshiro::Xoshiro256PlusPlus;

/// Where a step sits in the run, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepContext {
    /// Epoch, from 0.
    pub epoch: usize,
    /// Minibatch within the epoch, from 0.
    pub batch: usize,
}

/// A training algorithm for models of type `M`: builds its state, then takes one step per
/// minibatch. Implemented only for the models that have what the algorithm needs.
pub trait Trainer<M: Model> {
    /// Everything the trainer carries between steps (velocity, chains, workspaces). Kept apart
    /// from the trainer's settings so that a run can be checkpointed and resumed.
    type State: Send;

    /// A short name, e.g. `"CD-1"` or `"PCD-5 (100 chains)"`.
    fn name(&self) -> String;

    /// Checks the trainer's own settings.
    fn check(&self) -> Result<()>;

    /// The state for training `model` on `data` in batches of at most `batch_size`.
    fn init_state(
        &self,
        model: &M,
        data: &Dataset<M::Scalar>,
        batch_size: usize,
        rng: &mut RunRng,
    ) -> Result<Self::State>;

    /// One update from `batch` (one sample per column), through `rule`.
    ///
    /// Returns the minibatch's mean training objective before the update, for trainers that
    /// compute one as a by-product (e.g. [`Sgd`]'s loss plus penalties), else `None`.
    fn step(
        &self,
        model: &mut M,
        batch: DMatrixView<'_, M::Scalar>,
        state: &mut Self::State,
        rule: &UpdateRule<M::Scalar>,
        rng: &mut RunRng,
        ctx: StepContext,
    ) -> Result<Option<f64>>;
}

/// Metrics measured after an epoch; a field is `None` when not computed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct Metrics {
    /// Mean reconstruction loss per sample on clean inputs, penalties excluded (autoencoders).
    pub loss: Option<f64>,
    /// Mean squared reconstruction error (mean-field reconstruction).
    pub recon_mse: Option<f64>,
    /// Mean stochastic one-flip pseudo-likelihood (scikit-learn's estimate).
    pub pseudo_likelihood: Option<f64>,
    /// Mean exact pseudo-likelihood (all sites).
    pub pseudo_likelihood_exact: Option<f64>,
}

/// What the driver needs from a model besides its trainer: data checks, initialisation and
/// metrics.
pub trait FitModel: Model + Sized {
    /// Checks that `data` suits the model (shape, value domain).
    fn check_data(&self, data: &Dataset<Self::Scalar>) -> Result<()>;
    /// (Re-)initialises the parameters for a fresh run.
    fn initialize_for_fit(
        &mut self,
        data: &Dataset<Self::Scalar>,
        init: &Init,
        rng: &mut RunRng,
    ) -> Result<()>;
    /// Computes the metrics `config` asks for on `data`.
    fn evaluate(
        &self,
        data: &Dataset<Self::Scalar>,
        config: &MetricsConfig,
        rng: &mut RunRng,
    ) -> Result<Metrics>;
}

/// One epoch of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct EpochReport {
    /// Epoch, from 0.
    pub epoch: usize,
    /// Seconds spent training (shuffling, gathering and steps), metrics excluded.
    pub seconds: f64,
    /// Seconds spent computing metrics.
    pub metric_seconds: f64,
    /// Mean over the epoch's minibatches (weighted by size) of the training objective the
    /// trainer reported before each update, if it reports one (see [`Trainer::step`]). It is
    /// measured on the training inputs as the trainer sees them (e.g. corrupted, with penalties),
    /// while the parameters move; [`Metrics::loss`] is the clean figure after the epoch.
    pub train_loss: Option<f64>,
    /// The metrics, when computed this epoch.
    pub metrics: Metrics,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FitReport {
    /// The trainer's name.
    pub trainer: String,
    /// One entry per epoch run.
    pub epochs: Vec<EpochReport>,
    /// Number of training samples the metrics were computed on.
    pub metric_samples: usize,
    /// `true` when that is a fixed random subset rather than all the training data.
    pub metrics_subsampled: bool,
    /// `true` when an observer stopped the run before `epochs`.
    pub stopped_early: bool,
}

impl FitReport {
    /// Total training seconds (metrics excluded).
    pub fn train_seconds(&self) -> f64 {
        self.epochs.iter().map(|e| e.seconds).sum()
    }
    /// Total seconds spent on metrics.
    pub fn metric_seconds(&self) -> f64 {
        self.epochs.iter().map(|e| e.metric_seconds).sum()
    }
    /// The last metrics computed, if any.
    pub fn final_metrics(&self) -> Option<Metrics> {
        self.epochs
            .iter()
            .rev()
            .map(|e| e.metrics)
            .find(|m| *m != Metrics::default())
    }
}

/// A trainer whose state can be checked against a model and the trainer's settings: what
/// [`resume`] needs of a state that comes from a [`Checkpoint`] (for instance one read from a
/// file, whose parts are each valid but may not fit together).
pub trait Resumable<M: Model>: Trainer<M> {
    /// Checks that `state` suits `model` and these settings: the velocity has the shape of the
    /// model's parameters, persistent chains the model's layer sizes and the trainer's number
    /// of chains ([`Error::ResumeMismatch`] otherwise).
    ///
    /// [`Error::ResumeMismatch`]: crate::Error::ResumeMismatch
    fn check_state(&self, model: &M, state: &Self::State) -> Result<()>;
}

/// Trains `model` on `data`: the loop behind `Rbm::fit`.
///
/// Checks everything first (settings, trainer, data against the model), then, unless
/// `config.warm_start`, initialises the model from the seed; then for each epoch shuffles
/// (unless `config.shuffle` is off), steps through the minibatches, computes metrics and calls
/// the observer, which may stop the run. On any error the model keeps its last good
/// parameters.
pub fn fit<M, Tr, O>(
    model: &mut M,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
    observer: &mut O,
) -> Result<FitReport>
where
    M: FitModel,
    Tr: Trainer<M>,
    O: Observer<M>,
{
    let (run, rule) = start(model, data, trainer, config)?;
    drive(model, data, trainer, config, observer, run, &rule, None)
}

/// [`fit`], saving a [`Checkpoint`] through `save` after every `every` epochs (after epochs
/// `every − 1`, `2·every − 1`, ... counting from 0) and after the run's last epoch, so that a
/// run can be continued with [`resume`]. Checkpoints are taken at epoch boundaries only: when
/// an observer stops the run in the middle of an epoch (from
/// [`Observer::on_step`]), that epoch leaves no checkpoint, and the
/// last one saved is the run's latest resumable state.
///
/// `save` receives a borrowed [`CheckpointRef`] (nothing is copied); with the `serde` feature,
/// [`crate::persist::json_checkpoints`] writes each one to a JSON file. An error from `save`
/// ends the run with that error (the model keeps its trained parameters). `every` must be ≥ 1
/// ([`Error::InvalidParameter`](crate::Error::InvalidParameter) named `"every"`).
///
/// ```
/// use rbms::train::{fit_checkpointed, resume, CheckpointRef};
/// use rbms::{datasets, ContrastiveDivergence, FitConfig, MetricsConfig, Rbm};
/// let data = datasets::digits_scaled::<f32>().head(200)?;
/// let cd = ContrastiveDivergence::new(1);
/// let six = FitConfig::default().epochs(6).metrics(MetricsConfig::none()).seed(3);
/// let mut full = Rbm::<f32>::new(64, 16)?;
/// full.fit(&data, &cd, &six)?;
///
/// // The same run in two halves: 3 epochs, keep the checkpoint, then resume to 6.
/// let mut saved = None;
/// let mut half = Rbm::<f32>::new(64, 16)?;
/// fit_checkpointed(&mut half, &data, &cd, &six.clone().epochs(3), &mut (), 3,
///     |c: &CheckpointRef<'_, Rbm<f32>, _>| { saved = Some(c.to_checkpoint()); Ok(()) })?;
/// let mut resumed = Rbm::<f32>::new(64, 16)?; // overwritten by the checkpoint's model
/// resume(&mut resumed, saved.unwrap(), &data, &cd, &six, &mut ())?;
/// assert_eq!(resumed, full); // bit for bit
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn fit_checkpointed<M, Tr, O, F>(
    model: &mut M,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
    observer: &mut O,
    every: usize,
    mut save: F,
) -> Result<FitReport>
where
    M: FitModel,
    Tr: Trainer<M>,
    O: Observer<M>,
    F: FnMut(&CheckpointRef<'_, M, Tr::State>) -> Result<()>,
{
    check_every(every)?;
    let (run, rule) = start(model, data, trainer, config)?;
    drive(
        model,
        data,
        trainer,
        config,
        observer,
        run,
        &rule,
        Some((every, &mut save)),
    )
}

/// Continues a run from `checkpoint` up to `config.epochs` epochs in all, so that the result is
/// bit-identical to a run that was never interrupted (same seed, data, trainer and settings).
///
/// `*model` is replaced by the checkpoint's model, then trained from epoch
/// [`Checkpoint::epochs_done`]; the report lists the epochs run now (numbered from the start
/// of the run). `config.seed`, `init` and `warm_start` are ignored: the generators, parameters
/// and trainer state come from the checkpoint. The other settings apply as given (a different
/// learning rate, say, continues the run with it); the trainer (its
/// [`name`](Trainer::name)), `batch_size`, `drop_last` and the number of samples must be those
/// of the checkpoint, and its state must suit its model ([`Error::ResumeMismatch`] otherwise).
/// Observers start afresh. If the checkpoint has `config.epochs` epochs or more, nothing is
/// trained.
///
/// On an error before the first step, `*model` is left as it was.
///
/// [`Error::ResumeMismatch`]: crate::Error::ResumeMismatch
pub fn resume<M, Tr, O>(
    model: &mut M,
    checkpoint: Checkpoint<M, Tr::State>,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
    observer: &mut O,
) -> Result<FitReport>
where
    M: FitModel,
    Tr: Resumable<M>,
    O: Observer<M>,
{
    let (run, rule) = restart(model, checkpoint, data, trainer, config)?;
    drive(model, data, trainer, config, observer, run, &rule, None)
}

/// [`resume`], saving checkpoints as [`fit_checkpointed`] does (`every` counts epochs from the
/// start of the run).
#[allow(clippy::too_many_arguments)]
pub fn resume_checkpointed<M, Tr, O, F>(
    model: &mut M,
    checkpoint: Checkpoint<M, Tr::State>,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
    observer: &mut O,
    every: usize,
    mut save: F,
) -> Result<FitReport>
where
    M: FitModel,
    Tr: Resumable<M>,
    O: Observer<M>,
    F: FnMut(&CheckpointRef<'_, M, Tr::State>) -> Result<()>,
{
    check_every(every)?;
    let (run, rule) = restart(model, checkpoint, data, trainer, config)?;
    drive(
        model,
        data,
        trainer,
        config,
        observer,
        run,
        &rule,
        Some((every, &mut save)),
    )
}

fn check_every(every: usize) -> Result<()> {
    if every == 0 {
        return Err(crate::Error::InvalidParameter {
            name: "every",
            reason: "checkpoints must be saved every n >= 1 epochs, got 0".into(),
        });
    }
    Ok(())
}

/// Everything of a run but the model: what a [`Checkpoint`] adds to it.
struct Run<S> {
    state: S,
    rng: RunRng,
    metric_rng: RunRng,
    batches: crate::data::Minibatches,
    epochs_done: usize,
    steps_done: u64,
    metric_indices: Option<Vec<usize>>,
}

/// A run ready to train, and its update rule.
type Started<M, S> = (Run<S>, UpdateRule<<M as Model>::Scalar>);

/// Checks, seeds and initialises a fresh run.
fn start<M, Tr>(
    model: &mut M,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
) -> Result<Started<M, Tr::State>>
where
    M: FitModel,
    Tr: Trainer<M>,
{
    let rule = UpdateRule::from_config(config)?;
    trainer.check()?;
    model.check_data(data)?;
    let batches =
        crate::data::Minibatches::new(data.n_samples(), config.batch_size, config.drop_last)?;

    let (mut rng, mut metric_rng) = run_rngs(config.seed);
    let state = initialize(model, data, trainer, config, &mut rng)?;

    let n = data.n_samples();
    let metric_indices = if config.metrics.every > 0 && n > config.metrics.max_samples {
        let mut order = crate::data::Minibatches::new(n, n, false)?;
        order.shuffle(&mut metric_rng);
        let mut idx = order.order().to_vec();
        idx.truncate(config.metrics.max_samples);
        idx.sort_unstable();
        Some(idx)
    } else {
        None
    };
    let run = Run {
        state,
        rng,
        metric_rng,
        batches,
        epochs_done: 0,
        steps_done: 0,
        metric_indices,
    };
    Ok((run, rule))
}

/// The run's generator from `seed`, and the metrics stream: the same generator after one
/// `jump()`.
fn run_rngs(seed: u64) -> (RunRng, RunRng) {
    let rng = RunRng::seed_from_u64(seed);
    let mut metric_rng = rng.clone();
    metric_rng.jump();
    (rng, metric_rng)
}

/// Initialises the model (unless `warm_start`) and the trainer's state from `rng`; on error the
/// model is left as given.
fn initialize<M: FitModel, Tr: Trainer<M>>(
    model: &mut M,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
    rng: &mut RunRng,
) -> Result<Tr::State> {
    // Nothing has been trained yet: a failure before the first step leaves the model as given.
    let given = model.params().clone();
    if config.warm_start {
        trainer.init_state(model, data, config.batch_size, rng)
    } else {
        model
            .initialize_for_fit(data, &config.init, rng)
            .and_then(|()| trainer.init_state(model, data, config.batch_size, rng))
    }
    .inspect_err(|_| *model.params_mut() = given)
}

/// Checks a checkpoint against the run it continues and unpacks it.
fn restart<M, Tr>(
    model: &mut M,
    checkpoint: Checkpoint<M, Tr::State>,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
) -> Result<Started<M, Tr::State>>
where
    M: FitModel,
    Tr: Resumable<M>,
{
    use crate::Error::ResumeMismatch;
    let rule = UpdateRule::from_config(config)?;
    trainer.check()?;
    let c = checkpoint;
    if c.trainer != trainer.name() {
        return Err(ResumeMismatch {
            what: "trainer",
            reason: format!(
                "checkpoint of {:?}, resumed with {:?}",
                c.trainer,
                trainer.name()
            ),
        });
    }
    c.model.check_data(data)?;
    let n = data.n_samples();
    if c.batches.order().len() != n {
        return Err(ResumeMismatch {
            what: "number of samples",
            reason: format!(
                "checkpoint of a run on {} samples, resumed on {n}",
                c.batches.order().len()
            ),
        });
    }
    if (c.batches.batch_size(), c.batches.drop_last()) != (config.batch_size, config.drop_last) {
        return Err(ResumeMismatch {
            what: "batch_size, drop_last",
            reason: format!(
                "checkpoint ({}, {}), settings ({}, {})",
                c.batches.batch_size(),
                c.batches.drop_last(),
                config.batch_size,
                config.drop_last
            ),
        });
    }
    trainer.check_state(&c.model, &c.state)?;
    if let Some(&bad) = c.metric_indices.iter().flatten().find(|&&i| i >= n) {
        return Err(ResumeMismatch {
            what: "metric subset",
            reason: format!("sample {bad} is out of range for {n} samples"),
        });
    }
    if let Some(w) = c
        .metric_indices
        .iter()
        .flat_map(|i| i.windows(2))
        .find(|w| w[0] >= w[1])
    {
        return Err(ResumeMismatch {
            what: "metric subset",
            reason: format!(
                "indices must be strictly increasing (as fit draws them), found {} then {}",
                w[0], w[1]
            ),
        });
    }
    // Checkpoints are taken at epoch boundaries: every epoch so far took all its batches.
    let per_epoch = c.batches.batches().count() as u64;
    if (c.epochs_done as u64).checked_mul(per_epoch) != Some(c.steps_done) {
        return Err(ResumeMismatch {
            what: "epoch and step counters",
            reason: format!(
                "{} epochs of {per_epoch} batches are not {} steps",
                c.epochs_done, c.steps_done
            ),
        });
    }
    *model = c.model;
    let run = Run {
        state: c.state,
        rng: c.rng,
        metric_rng: c.metric_rng,
        batches: c.batches,
        epochs_done: c.epochs_done,
        steps_done: c.steps_done,
        metric_indices: c.metric_indices,
    };
    Ok((run, rule))
}

/// What one pass over some minibatches did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pass {
    /// Whether an observer asked to stop.
    pub(crate) stopped: bool,
    /// Σ (objective · batch size) over the batches whose step reported one.
    pub(crate) loss_sum: f64,
    /// Σ batch size over those batches.
    pub(crate) loss_count: usize,
    /// Minibatches trained on.
    pub(crate) batches: usize,
    /// Samples trained on.
    pub(crate) samples: usize,
}

/// The step loop shared by [`fit`] (one call per epoch, over the shuffled order) and
/// [`OnlineFit::partial_fit`] (one call per chunk, in order): gathers each minibatch into
/// `buffer` and takes one trainer step on it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step_batches<'i, M, Tr, O>(
    model: &mut M,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    rule: &UpdateRule<M::Scalar>,
    state: &mut Tr::State,
    rng: &mut RunRng,
    buffer: &mut DMatrix<M::Scalar>,
    epoch: usize,
    batches: impl Iterator<Item = &'i [usize]>,
    observer: &mut O,
    steps_done: &mut u64,
) -> Result<Pass>
where
    M: Model,
    Tr: Trainer<M>,
    O: Observer<M>,
{
    let wants_steps = observer.wants_steps();
    let mut pass = Pass::default();
    for (batch, indices) in batches.enumerate() {
        data.gather_into(indices, buffer)?;
        let ctx = StepContext { epoch, batch };
        let loss = trainer.step(
            model,
            buffer.columns(0, indices.len()),
            state,
            rule,
            rng,
            ctx,
        )?;
        *steps_done = steps_done.saturating_add(1);
        pass.batches += 1;
        pass.samples += indices.len();
        if let Some(loss) = loss {
            pass.loss_sum += loss * indices.len() as f64;
            pass.loss_count += indices.len();
        }
        if wants_steps {
            let step = StepReport {
                epoch,
                batch,
                batch_size: indices.len(),
            };
            if observer.on_step(model, &step) == Control::Stop {
                pass.stopped = true;
                break;
            }
        }
    }
    Ok(pass)
}

/// A checkpoint sink and its cadence.
type Sink<'s, M, S> = Option<(
    usize,
    &'s mut dyn FnMut(&CheckpointRef<'_, M, S>) -> Result<()>,
)>;

/// The epoch loop, from `run.epochs_done` to `config.epochs`.
#[allow(clippy::too_many_arguments)]
fn drive<M, Tr, O>(
    model: &mut M,
    data: &Dataset<M::Scalar>,
    trainer: &Tr,
    config: &FitConfig,
    observer: &mut O,
    mut run: Run<Tr::State>,
    rule: &UpdateRule<M::Scalar>,
    mut sink: Sink<'_, M, Tr::State>,
) -> Result<FitReport>
where
    M: FitModel,
    Tr: Trainer<M>,
    O: Observer<M>,
{
    let metrics_on = config.metrics.every > 0;
    let metric_data = match &run.metric_indices {
        Some(idx) => Some(data.select(idx)?),
        None => None,
    };
    let metric_data = metric_data.as_ref().unwrap_or(data);

    let mut buffer = DMatrix::zeros(data.n_features(), config.batch_size);
    let mut report = FitReport {
        trainer: trainer.name(),
        // a hint only: `epochs` may be huge when an observer is meant to stop the run
        epochs: Vec::with_capacity(config.epochs.saturating_sub(run.epochs_done).min(1024)),
        metric_samples: if metrics_on {
            metric_data.n_samples()
        } else {
            0
        },
        metrics_subsampled: metrics_on && run.metric_indices.is_some(),
        stopped_early: false,
    };
    for epoch in run.epochs_done..config.epochs {
        let start = Instant::now();
        if config.shuffle {
            run.batches.shuffle(&mut run.rng);
        }
        let pass = step_batches(
            model,
            data,
            trainer,
            rule,
            &mut run.state,
            &mut run.rng,
            &mut buffer,
            epoch,
            run.batches.batches(),
            observer,
            &mut run.steps_done,
        )?;
        let mut stop = pass.stopped;
        let seconds = start.elapsed().as_secs_f64();
        let last = epoch + 1 == config.epochs || stop;
        let due = metrics_on && ((epoch + 1) % config.metrics.every == 0 || last);
        let start = Instant::now();
        let metrics = if due {
            model.evaluate(metric_data, &config.metrics, &mut run.metric_rng)?
        } else {
            Metrics::default()
        };
        let epoch_report = EpochReport {
            epoch,
            seconds,
            metric_seconds: start.elapsed().as_secs_f64(),
            train_loss: (pass.loss_count > 0).then(|| pass.loss_sum / pass.loss_count as f64),
            metrics,
        };
        report.epochs.push(epoch_report);
        if observer.on_epoch(model, &epoch_report) == Control::Stop {
            stop = true;
        }
        run.epochs_done = epoch + 1;
        // A checkpoint is taken at an epoch boundary only: an epoch cut short by a step
        // observer leaves none (its state is inside the epoch, which a checkpoint cannot say).
        if let (Some((every, save)), false) = (sink.as_mut(), pass.stopped) {
            if run.epochs_done.is_multiple_of(*every) || stop || run.epochs_done == config.epochs {
                save(&CheckpointRef {
                    model,
                    trainer: &report.trainer,
                    state: &run.state,
                    rng: &run.rng,
                    metric_rng: &run.metric_rng,
                    batches: &run.batches,
                    epochs_done: run.epochs_done,
                    steps_done: run.steps_done,
                    metric_indices: run.metric_indices.as_deref(),
                })?;
            }
        }
        if stop {
            report.stopped_early = epoch + 1 < config.epochs;
            break;
        }
    }
    Ok(report)
}

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
mod config;
mod sgd;
mod update;

pub use cd::{CdState, ContrastiveDivergence, PcdState, PersistentCd};
pub use config::{FitConfig, Init, MetricsConfig, VisibleBiasInit};
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

/// Trains `model` on `data`: the loop behind `Rbm::fit`.
///
/// Checks everything first (settings, trainer, data against the model), then, unless
/// `config.warm_start`, initialises the model from the seed; then for each epoch shuffles,
/// steps through the minibatches, computes metrics and calls the observer, which may stop the
/// run. On any error the model keeps its last good parameters.
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
    let rule = UpdateRule::from_config(config)?;
    trainer.check()?;
    model.check_data(data)?;
    let mut batches =
        crate::data::Minibatches::new(data.n_samples(), config.batch_size, config.drop_last)?;

    let mut rng = RunRng::seed_from_u64(config.seed);
    let mut metric_rng = rng.clone();
    metric_rng.jump();

    // Nothing has been trained yet: a failure before the first step leaves the model as given.
    let given = model.params().clone();
    let mut state = if config.warm_start {
        trainer.init_state(model, data, config.batch_size, &mut rng)
    } else {
        model
            .initialize_for_fit(data, &config.init, &mut rng)
            .and_then(|()| trainer.init_state(model, data, config.batch_size, &mut rng))
    }
    .inspect_err(|_| *model.params_mut() = given)?;

    let metrics_on = config.metrics.every > 0;
    let n = data.n_samples();
    let subsampled = metrics_on && n > config.metrics.max_samples;
    let metric_data = if subsampled {
        let mut order = crate::data::Minibatches::new(n, n, false)?;
        order.shuffle(&mut metric_rng);
        let mut idx = order.batches().next().unwrap_or(&[]).to_vec();
        idx.truncate(config.metrics.max_samples);
        idx.sort_unstable();
        Some(data.select(&idx)?)
    } else {
        None
    };
    let metric_data = metric_data.as_ref().unwrap_or(data);

    let mut buffer = DMatrix::zeros(data.n_features(), config.batch_size);
    let mut report = FitReport {
        trainer: trainer.name(),
        epochs: Vec::with_capacity(config.epochs),
        metric_samples: if metrics_on {
            metric_data.n_samples()
        } else {
            0
        },
        metrics_subsampled: subsampled,
        stopped_early: false,
    };
    let wants_steps = observer.wants_steps();
    for epoch in 0..config.epochs {
        let start = Instant::now();
        batches.shuffle(&mut rng);
        let mut stop = false;
        let (mut loss_sum, mut loss_count) = (0.0, 0usize);
        for (batch, indices) in batches.batches().enumerate() {
            data.gather_into(indices, &mut buffer)?;
            let ctx = StepContext { epoch, batch };
            let loss = trainer.step(
                model,
                buffer.columns(0, indices.len()),
                &mut state,
                &rule,
                &mut rng,
                ctx,
            )?;
            if let Some(loss) = loss {
                loss_sum += loss * indices.len() as f64;
                loss_count += indices.len();
            }
            if wants_steps {
                let step = StepReport {
                    epoch,
                    batch,
                    batch_size: indices.len(),
                };
                if observer.on_step(model, &step) == Control::Stop {
                    stop = true;
                    break;
                }
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let last = epoch + 1 == config.epochs || stop;
        let due = metrics_on && ((epoch + 1) % config.metrics.every == 0 || last);
        let start = Instant::now();
        let metrics = if due {
            model.evaluate(metric_data, &config.metrics, &mut metric_rng)?
        } else {
            Metrics::default()
        };
        let epoch_report = EpochReport {
            epoch,
            seconds,
            metric_seconds: start.elapsed().as_secs_f64(),
            train_loss: (loss_count > 0).then(|| loss_sum / loss_count as f64),
            metrics,
        };
        report.epochs.push(epoch_report);
        if observer.on_epoch(model, &epoch_report) == Control::Stop {
            stop = true;
        }
        if stop {
            report.stopped_early = epoch + 1 < config.epochs;
            break;
        }
    }
    Ok(report)
}

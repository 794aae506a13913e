//! Training from data that arrives in chunks.

use super::{
    initialize, run_rngs, step_batches, Checkpoint, FitConfig, FitModel, Resumable, RunRng,
    Trainer, UpdateRule,
};
use crate::Error;
use crate::{Dataset, Float, Result};
use nalgebra::DMatrix;
use std::time::Instant;

/// A training session that updates a model from one chunk of data at a time, carrying the
/// trainer's state (velocity, persistent chains), the run's generator and the counters from
/// chunk to chunk.
///
/// [`partial_fit`](Self::partial_fit) splits a chunk into consecutive minibatches of
/// `config.batch_size` samples in the chunk's order (the last one shorter, or skipped with
/// `drop_last`) and takes one trainer step on each; a chunk smaller than the batch size is one
/// short batch. PCD's chains are independent of both the batch and the chunk size.
///
/// # Equivalence with `fit`
///
/// [`fit`](super::fit) runs each epoch through the same step loop. With
/// [`FitConfig::shuffle`] off, `fit` for `E` epochs on `data` gives the same bits as
/// `OnlineFit::new(&mut model, &data, trainer, &config)` followed by `E` calls of
/// `partial_fit(&mut model, &data)`; and `partial_fit` on consecutive chunks whose sizes
/// (but the last) are multiples of the batch size gives the same bits as `partial_fit` on
/// their concatenation. (With shuffling on, `fit` draws each epoch's order from the run's
/// generator before the steps, which `partial_fit` does not.) Metrics and observers are
/// `fit`'s business: a session computes neither.
///
/// ```
/// use rbms::train::OnlineFit;
/// use rbms::{datasets, FitConfig, PersistentCd, Rbm};
/// let data = datasets::digits_scaled::<f32>();
/// let config = FitConfig::default().batch_size(10).seed(5).shuffle(false);
/// let mut rbm = Rbm::<f32>::new(64, 32)?;
/// // initialise from the first 500 samples, then learn from chunks as they come
/// let first = data.head(500)?;
/// let mut session = OnlineFit::new(&mut rbm, &first, PersistentCd::new(1, 20), &config)?;
/// session.partial_fit(&mut rbm, &first)?;
/// let rest = data.select(&(500..1797).collect::<Vec<_>>())?;
/// let report = session.partial_fit(&mut rbm, &rest)?;
/// assert_eq!(report.batches, 130); // 1297 samples: 129 batches of 10 and one of 7
/// assert_eq!(session.steps_done(), 50 + 130);
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug)]
pub struct OnlineFit<M: FitModel, Tr: Trainer<M>> {
    trainer: Tr,
    rule: UpdateRule<M::Scalar>,
    batch_size: usize,
    drop_last: bool,
    state: Tr::State,
    rng: RunRng,
    chunks_done: usize,
    steps_done: u64,
    buffer: DMatrix<M::Scalar>,
}

/// The whole state of an [`OnlineFit`] session between chunks: the model, the trainer's name
/// and state (velocity, persistent chains), the run's generator, the batch settings and the
/// counters. [`OnlineFit::checkpoint`] takes one; [`OnlineFit::resume`] continues from it, and
/// the continued session gives the same bits as one never interrupted. With the `serde`
/// feature it serialises, and [`crate::persist`] saves it as JSON (format
/// `"rbms-online-checkpoint"`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct OnlineCheckpoint<M, S> {
    model: M,
    trainer: String,
    state: S,
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::persist::checked_rng")
    )]
    rng: RunRng,
    batch_size: usize,
    drop_last: bool,
    chunks_done: usize,
    steps_done: u64,
}

impl<M, S> OnlineCheckpoint<M, S> {
    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }
    /// The trainer's state.
    pub fn state(&self) -> &S {
        &self.state
    }
    /// The name of the trainer that made it.
    pub fn trainer(&self) -> &str {
        &self.trainer
    }
    /// Chunks trained on before it.
    pub fn chunks_done(&self) -> usize {
        self.chunks_done
    }
    /// Minibatch steps taken before it.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }
}

/// An item of a stream for [`OnlineFit::fit_stream`]: a data set, or the `Result` of reading
/// one.
pub trait Chunk<T: Float> {
    /// The chunk's data, or the error that reading it gave.
    fn into_chunk(self) -> Result<Dataset<T>>;
}

impl<T: Float> Chunk<T> for Dataset<T> {
    fn into_chunk(self) -> Result<Dataset<T>> {
        Ok(self)
    }
}

impl<T: Float> Chunk<T> for Result<Dataset<T>> {
    fn into_chunk(self) -> Result<Dataset<T>> {
        self
    }
}

/// What one [`OnlineFit::partial_fit`] (or a whole [`OnlineFit::fit_stream`]) did.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ChunkReport {
    /// Samples trained on.
    pub samples: usize,
    /// Minibatch steps taken.
    pub batches: usize,
    /// Mean training objective over the steps, weighted by batch size, for trainers that
    /// report one (see [`Trainer::step`]).
    pub train_loss: Option<f64>,
    /// Seconds spent.
    pub seconds: f64,
}

impl<M: FitModel, Tr: Trainer<M>> OnlineFit<M, Tr> {
    /// Starts a session exactly as [`fit`](super::fit) starts a run on `init_data`: checks the
    /// settings, the trainer and the data, seeds the run's generator from `config.seed`,
    /// initialises `model` from it (unless `config.warm_start`; the visible biases may come
    /// from `init_data`) and builds the trainer's state (PCD's chains start from samples of
    /// `init_data`). `config.epochs`, `shuffle` and `metrics` are not used. On error `model`
    /// is left as it was.
    pub fn new(
        model: &mut M,
        init_data: &Dataset<M::Scalar>,
        trainer: Tr,
        config: &FitConfig,
    ) -> Result<Self> {
        let rule = UpdateRule::from_config(config)?;
        trainer.check()?;
        model.check_data(init_data)?;
        // The same checks of the batch size as `fit` makes.
        crate::data::Minibatches::new(init_data.n_samples(), config.batch_size, config.drop_last)?;
        let (mut rng, _) = run_rngs(config.seed);
        let state = initialize(model, init_data, &trainer, config, &mut rng)?;
        Ok(Self {
            trainer,
            rule,
            batch_size: config.batch_size,
            drop_last: config.drop_last,
            state,
            rng,
            chunks_done: 0,
            steps_done: 0,
            buffer: DMatrix::zeros(init_data.n_features(), config.batch_size),
        })
    }

    /// Updates `model` from `chunk`: one step per minibatch of the chunk, in order (see the
    /// type's docs). The chunk is checked against the model first. On error the model keeps the
    /// parameters of its last successful step.
    pub fn partial_fit(
        &mut self,
        model: &mut M,
        chunk: &Dataset<M::Scalar>,
    ) -> Result<ChunkReport> {
        let start = Instant::now();
        model.check_data(chunk)?;
        let n = chunk.n_samples();
        let indices: Vec<usize> = (0..n).collect();
        if self.buffer.nrows() != chunk.n_features() {
            // first chunk of a resumed session (the model's data checks ensure the width)
            self.buffer = DMatrix::zeros(chunk.n_features(), self.batch_size);
        }
        let end = if self.drop_last {
            n / self.batch_size * self.batch_size
        } else {
            n
        };
        let pass = step_batches(
            model,
            chunk,
            &self.trainer,
            &self.rule,
            &mut self.state,
            &mut self.rng,
            &mut self.buffer,
            self.chunks_done,
            indices[..end].chunks(self.batch_size),
            &mut (),
            &mut self.steps_done,
        )?;
        self.chunks_done += 1;
        Ok(ChunkReport {
            samples: pass.samples,
            batches: pass.batches,
            train_loss: (pass.loss_count > 0).then(|| pass.loss_sum / pass.loss_count as f64),
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Trains on every chunk of `chunks` in turn ([`partial_fit`](Self::partial_fit) on each)
    /// and returns the totals.
    ///
    /// Memory is bounded by one chunk at a time: each chunk is dropped once trained on, and
    /// the session itself holds only the trainer's state (the size of the model, plus PCD's
    /// chains) and one minibatch buffer. A reader producing chunks lazily (say, 10,000 rows of
    /// a file at a time) therefore trains on data of any length in constant memory.
    ///
    /// The items are data sets or `Result`s of data sets (as a file reader such as
    /// [`idx_image_chunks`](crate::datasets::idx_image_chunks) yields them); the first error
    /// stops training and is returned; the model keeps the updates of the chunks before it.
    pub fn fit_stream<I>(&mut self, model: &mut M, chunks: I) -> Result<ChunkReport>
    where
        I: IntoIterator,
        I::Item: Chunk<M::Scalar>,
    {
        let start = Instant::now();
        let mut total = ChunkReport {
            samples: 0,
            batches: 0,
            train_loss: None,
            seconds: 0.0,
        };
        let (mut loss_sum, mut loss_count) = (0.0, 0usize);
        for chunk in chunks {
            let r = self.partial_fit(model, &chunk.into_chunk()?)?;
            total.samples += r.samples;
            total.batches += r.batches;
            if let Some(loss) = r.train_loss {
                loss_sum += loss * r.samples as f64;
                loss_count += r.samples;
            }
        }
        total.train_loss = (loss_count > 0).then(|| loss_sum / loss_count as f64);
        total.seconds = start.elapsed().as_secs_f64();
        Ok(total)
    }

    /// The session's state with a copy of `model`, to continue later with
    /// [`resume`](Self::resume) (in this process or, with the `serde` feature, another one).
    pub fn checkpoint(&self, model: &M) -> OnlineCheckpoint<M, Tr::State>
    where
        M: Clone,
        Tr::State: Clone,
    {
        OnlineCheckpoint {
            model: model.clone(),
            trainer: self.trainer.name(),
            state: self.state.clone(),
            rng: self.rng.clone(),
            batch_size: self.batch_size,
            drop_last: self.drop_last,
            chunks_done: self.chunks_done,
            steps_done: self.steps_done,
        }
    }

    /// Continues a session from `checkpoint`: `model` becomes the checkpoint's model, and
    /// training on the next chunks gives the bits the uninterrupted session would have given.
    ///
    /// `trainer` and `config` (learning rate, momentum, penalties, batch size, `drop_last`)
    /// must be those of the checkpointed session: the trainer's name, the batch settings and
    /// the state's shapes are checked ([`Error::ResumeMismatch`]); the update settings cannot
    /// be, and are the caller's to keep. On error `model` is left as it was.
    pub fn resume(
        model: &mut M,
        checkpoint: OnlineCheckpoint<M, Tr::State>,
        trainer: Tr,
        config: &FitConfig,
    ) -> Result<Self>
    where
        Tr: Resumable<M>,
    {
        let c = checkpoint;
        let rule = check_continuation(&trainer, &c.trainer, &c.model, &c.state, config)?;
        if (c.batch_size, c.drop_last) != (config.batch_size, config.drop_last) {
            return Err(Error::ResumeMismatch {
                what: "batch_size, drop_last",
                reason: format!(
                    "checkpoint ({}, {}), settings ({}, {})",
                    c.batch_size, c.drop_last, config.batch_size, config.drop_last
                ),
            });
        }
        *model = c.model;
        Ok(Self {
            trainer,
            rule,
            batch_size: c.batch_size,
            drop_last: c.drop_last,
            state: c.state,
            rng: c.rng,
            chunks_done: c.chunks_done,
            steps_done: c.steps_done,
            buffer: DMatrix::zeros(0, 0),
        })
    }

    /// Continues a [`fit`](super::fit) run online: a session whose trainer state (velocity,
    /// persistent chains), generator and step counter are those of `checkpoint` (from
    /// [`fit_checkpointed`](super::fit_checkpointed)), so that `fit` for E epochs followed by
    /// `partial_fit` on the data set, without shuffling, equals `fit` for E + 1 epochs. The
    /// metrics generator and minibatch order of the checkpoint are not used. Checks as
    /// [`resume`](Self::resume); `model` becomes the checkpoint's model.
    pub fn from_fit_checkpoint(
        model: &mut M,
        checkpoint: Checkpoint<M, Tr::State>,
        trainer: Tr,
        config: &FitConfig,
    ) -> Result<Self>
    where
        Tr: Resumable<M>,
    {
        let c = checkpoint;
        let rule = check_continuation(&trainer, &c.trainer, &c.model, &c.state, config)?;
        *model = c.model;
        Ok(Self {
            trainer,
            rule,
            batch_size: config.batch_size,
            drop_last: config.drop_last,
            state: c.state,
            rng: c.rng,
            chunks_done: 0,
            steps_done: c.steps_done,
            buffer: DMatrix::zeros(0, 0),
        })
    }

    /// The trainer's state.
    pub fn state(&self) -> &Tr::State {
        &self.state
    }
    /// The trainer.
    pub fn trainer(&self) -> &Tr {
        &self.trainer
    }
    /// Chunks trained on so far.
    pub fn chunks_done(&self) -> usize {
        self.chunks_done
    }
    /// Minibatch steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }
}

/// The checks of a continued session: settings, trainer, the trainer's name and state.
fn check_continuation<M: FitModel, Tr: Resumable<M>>(
    trainer: &Tr,
    name: &str,
    model: &M,
    state: &Tr::State,
    config: &FitConfig,
) -> Result<UpdateRule<M::Scalar>> {
    let rule = UpdateRule::from_config(config)?;
    trainer.check()?;
    if config.batch_size == 0 {
        return Err(Error::ZeroBatchSize);
    }
    if name != trainer.name() {
        return Err(Error::ResumeMismatch {
            what: "trainer",
            reason: format!("checkpoint of {name:?}, resumed with {:?}", trainer.name()),
        });
    }
    trainer.check_state(model, state)?;
    Ok(rule)
}

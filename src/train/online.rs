//! Training from data that arrives in chunks.

use super::{initialize, run_rngs, step_batches, FitConfig, FitModel, RunRng, Trainer, UpdateRule};
use crate::{Dataset, Result};
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
        if rule.needs_total_steps() {
            return Err(crate::Error::InvalidParameter {
                name: "learning_rate_schedule",
                reason:
                    "LinearToZero needs the run's length, which an online session does not have"
                        .into(),
            });
        }
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
    pub fn fit_stream<I>(&mut self, model: &mut M, chunks: I) -> Result<ChunkReport>
    where
        I: IntoIterator<Item = Dataset<M::Scalar>>,
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
            let r = self.partial_fit(model, &chunk)?;
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

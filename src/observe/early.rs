//! Early stopping on a validation metric, keeping the best parameters.

use super::{Control, Observer};
use crate::params::{Model, Parameters};
use crate::train::{EpochReport, FitModel};
use crate::units::{HiddenUnits, VisibleUnits};
use crate::{Dataset, Error, Float, Rbm, Result, TiedAutoencoder};

/// What [`EarlyStopping`] measures on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationMetric {
    /// Mean squared reconstruction error (mean-field for an RBM): lower is better. Every model.
    ReconstructionError,
    /// Mean exact pseudo-likelihood (all sites): higher is better. Energy models ([`Rbm`]).
    PseudoLikelihood,
    /// Mean reconstruction loss (no noise, no penalty): lower is better. Autoencoders.
    Loss,
}

impl ValidationMetric {
    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        self == Self::PseudoLikelihood
    }
}

/// A model that can be scored on a validation set by a [`ValidationMetric`].
pub trait Validate: FitModel {
    /// The metric's value on `data`, or [`Error::InvalidParameter`] (named `"metric"`) for a
    /// metric the model does not have.
    fn validation_metric(
        &self,
        metric: ValidationMetric,
        data: &Dataset<Self::Scalar>,
    ) -> Result<f64>;
}

fn no_metric(metric: ValidationMetric, model: &str) -> Error {
    Error::InvalidParameter {
        name: "metric",
        reason: format!("{model} has no {metric:?} metric"),
    }
}

/// Every unit kind has the reconstruction error; the pseudo-likelihood is defined for
/// Bernoulli–Bernoulli models only (an error for real-valued visible units).
impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Validate for Rbm<T, V, H> {
    fn validation_metric(&self, metric: ValidationMetric, data: &Dataset<T>) -> Result<f64> {
        match metric {
            ValidationMetric::ReconstructionError => self.reconstruction_error(data),
            ValidationMetric::PseudoLikelihood => match self.as_bernoulli() {
                Some(bb) => {
                    let pl = bb.pseudo_likelihood_exact(data)?;
                    Ok(pl.sum() / pl.len() as f64)
                }
                None => Err(no_metric(metric, "an RBM with non-binary units")),
            },
            ValidationMetric::Loss => Err(no_metric(metric, "an RBM")),
        }
    }
}

impl<T: Float> Validate for TiedAutoencoder<T> {
    fn validation_metric(&self, metric: ValidationMetric, data: &Dataset<T>) -> Result<f64> {
        match metric {
            ValidationMetric::ReconstructionError => self.reconstruction_error(data),
            ValidationMetric::Loss => self.mean_loss(data),
            ValidationMetric::PseudoLikelihood => Err(no_metric(metric, "an autoencoder")),
        }
    }
}

/// An observer that stops training when a validation metric stops improving, and keeps a copy
/// of the parameters at its best.
///
/// After every epoch it measures the [`ValidationMetric`] on the validation set. A
/// measurement *improves* when it beats the best so far by more than `min_delta` (lower by
/// more than `min_delta`, or higher for the pseudo-likelihood); the parameters are then
/// copied. After `patience` measurements in a row without improvement it stops training
/// ([`Control::Stop`]). An observer cannot change the model, so the run ends with the last
/// parameters; [`restore_best`](Self::restore_best) puts the best ones back (or
/// [`best_params`](Self::best_params) reads them).
///
/// The set is checked against the model, and the metric computed once, when the monitor is
/// built. If a measurement fails later (say, the parameters overflow), the monitor keeps the
/// error ([`error`](Self::error)) and stops training.
///
/// ```
/// use rbms::observe::{EarlyStopping, ValidationMetric};
/// use rbms::{datasets, FitConfig, MetricsConfig, PersistentCd, Rbm};
/// let digits = datasets::digits_scaled::<f32>();
/// let train = digits.head(300)?;
/// let valid = digits.select(&(1000..1200).collect::<Vec<_>>())?;
/// let mut rbm = Rbm::<f32>::new(64, 32)?;
/// // a learning rate far too high: the validation error soon stops improving
/// let config = FitConfig::default().epochs(30).learning_rate(2.0).metrics(MetricsConfig::none());
/// let mut early = EarlyStopping::new(&rbm, valid.clone(), ValidationMetric::ReconstructionError, 2)?;
/// let report = rbm.fit_observed(&train, &PersistentCd::new(1, 10), &config, &mut early)?;
/// let best = early.best_epoch().unwrap();
/// assert!(report.stopped_early);
/// assert_eq!(early.stopped_at(), Some(best + 2));
/// early.restore_best(&mut rbm)?;
/// assert_eq!(rbm.reconstruction_error(&valid)?, early.best_score().unwrap());
/// # Ok::<(), rbms::Error>(())
/// ```
pub struct EarlyStopping<M: Model> {
    valid: Dataset<M::Scalar>,
    metric: ValidationMetric,
    patience: usize,
    min_delta: f64,
    history: Vec<(usize, f64)>,
    best: Option<(usize, f64, M::Params)>,
    waited: usize,
    stopped_at: Option<usize>,
    error: Option<Error>,
}

impl<M: Model> std::fmt::Debug for EarlyStopping<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarlyStopping")
            .field("metric", &self.metric)
            .field("patience", &self.patience)
            .field("min_delta", &self.min_delta)
            .field("history", &self.history)
            .field("best_epoch", &self.best_epoch())
            .field("stopped_at", &self.stopped_at)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<M: Validate> EarlyStopping<M> {
    /// A monitor of `metric` on `valid` that stops after `patience` (≥ 1) epochs without
    /// improvement, with `min_delta` 0. `valid` must suit `model` (as training data does) and
    /// `model` must have the metric.
    pub fn new(
        model: &M,
        valid: Dataset<M::Scalar>,
        metric: ValidationMetric,
        patience: usize,
    ) -> Result<Self> {
        if patience == 0 {
            return Err(Error::InvalidParameter {
                name: "patience",
                reason: "early stopping needs a patience of at least 1 epoch, got 0".into(),
            });
        }
        model.check_data(&valid)?;
        model.validation_metric(metric, &valid)?;
        Ok(Self {
            valid,
            metric,
            patience,
            min_delta: 0.0,
            history: Vec::new(),
            best: None,
            waited: 0,
            stopped_at: None,
            error: None,
        })
    }

    /// Sets the smallest change that counts as an improvement (finite, ≥ 0;
    /// [`Error::InvalidParameter`] named `"min_delta"` otherwise).
    pub fn min_delta(mut self, min_delta: f64) -> Result<Self> {
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "min_delta",
                reason: format!("must be finite and >= 0, got {min_delta}"),
            });
        }
        self.min_delta = min_delta;
        Ok(self)
    }
}

impl<M: Model> EarlyStopping<M> {
    /// The measurements so far, as (epoch, value).
    pub fn history(&self) -> &[(usize, f64)] {
        &self.history
    }
    /// The epoch (from 0) of the best measurement, if any.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.as_ref().map(|b| b.0)
    }
    /// The best measurement, if any.
    pub fn best_score(&self) -> Option<f64> {
        self.best.as_ref().map(|b| b.1)
    }
    /// A copy of the parameters after the best epoch, if any.
    pub fn best_params(&self) -> Option<&M::Params> {
        self.best.as_ref().map(|b| &b.2)
    }
    /// The epoch after which the monitor asked training to stop, if it did.
    pub fn stopped_at(&self) -> Option<usize> {
        self.stopped_at
    }
    /// The error that stopped the monitor, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
    /// The metric watched.
    pub fn metric(&self) -> ValidationMetric {
        self.metric
    }

    /// Puts the best parameters back into `model`. Returns `false` (and leaves the model) when
    /// nothing was measured yet; [`Error::ShapeMismatch`] if `model` has parameters of another
    /// shape than the watched one.
    pub fn restore_best(&self, model: &mut M) -> Result<bool> {
        let Some((_, _, best)) = &self.best else {
            return Ok(false);
        };
        let current = model.params();
        for b in 0..best.n_blocks() {
            if best.block(b).len() != current.block(b).len() {
                return Err(Error::ShapeMismatch {
                    what: best.block_name(b),
                    expected: (best.block(b).len(), 1),
                    found: (current.block(b).len(), 1),
                });
            }
        }
        *model.params_mut() = best.clone();
        Ok(true)
    }
}

impl<M: Validate> Observer<M> for EarlyStopping<M> {
    fn on_epoch(&mut self, model: &M, report: &EpochReport) -> Control {
        if self.error.is_some() {
            return Control::Stop;
        }
        let measured = model
            .validation_metric(self.metric, &self.valid)
            .and_then(|value| {
                if value.is_finite() {
                    Ok(value)
                } else {
                    Err(Error::NonFinite {
                        what: "validation metric",
                        sample: 0,
                        feature: 0,
                        value,
                    })
                }
            });
        let value = match measured {
            Ok(value) => value,
            Err(e) => {
                self.error = Some(e);
                self.stopped_at = Some(report.epoch);
                return Control::Stop;
            }
        };
        self.history.push((report.epoch, value));
        // Compare as "lower is better".
        let sign = if self.metric.higher_is_better() {
            -1.0
        } else {
            1.0
        };
        let improved = self
            .best
            .as_ref()
            .is_none_or(|(_, best, _)| sign * value < sign * best - self.min_delta);
        if improved {
            self.best = Some((report.epoch, value, model.params().clone()));
            self.waited = 0;
            return Control::Continue;
        }
        self.waited += 1;
        if self.waited >= self.patience {
            self.stopped_at = Some(report.epoch);
            return Control::Stop;
        }
        Control::Continue
    }
}

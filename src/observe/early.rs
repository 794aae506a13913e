//! Early stopping on a validation metric, keeping the best parameters.

use super::gap::mean_free_energy;
use super::{Control, Observer};
use crate::params::{Model, Parameters};
use crate::rbm::AisConfig;
use crate::train::{EpochReport, FitModel};
use crate::units::{HiddenUnits, VisibleUnits};
use crate::{Dataset, Error, Float, Rbm, Result, TiedAutoencoder};

/// What [`EarlyStopping`] measures on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationMetric {
    /// Mean squared reconstruction error (mean-field for an RBM): lower is better. Every model.
    ReconstructionError,
    /// Mean exact pseudo-likelihood (all sites): higher is better. Energy models ([`Rbm`]).
    PseudoLikelihood,
    /// Mean reconstruction loss (no noise, no penalty): lower is better. Autoencoders.
    Loss,
    /// Mean free energy of the validation set minus that of a fixed subset of the training
    /// data (Hinton's overfitting measure; see [`FreeEnergyGap`](super::FreeEnergyGap)): lower
    /// is better. Energy models; build the monitor with
    /// [`EarlyStopping::free_energy_gap`].
    FreeEnergyGap,
    /// Mean log-probability of the validation set, −F(v) − log Ẑ with log Ẑ from forward AIS
    /// ([`Rbm::ais`], seeded, so every measurement uses the same random numbers): higher is
    /// better. RBMs; build the monitor with [`EarlyStopping::ais`], usually with a measurement
    /// every few epochs, as AIS costs far more than an epoch.
    AisLogLikelihood,
}

impl ValidationMetric {
    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Self::PseudoLikelihood | Self::AisLogLikelihood)
    }
}

/// What some metrics need beside the validation set: the training subset of
/// [`ValidationMetric::FreeEnergyGap`] and the AIS settings of
/// [`ValidationMetric::AisLogLikelihood`].
#[derive(Debug, Clone)]
pub struct ValidationContext<T: Float> {
    /// The fixed training subset the gap is measured against.
    pub reference: Option<Dataset<T>>,
    /// The AIS settings (schedule, runs, seed, base model).
    pub ais: AisConfig,
}

impl<T: Float> Default for ValidationContext<T> {
    fn default() -> Self {
        Self {
            reference: None,
            ais: AisConfig::default(),
        }
    }
}

/// A model that can be scored on a validation set by a [`ValidationMetric`].
pub trait Validate: FitModel {
    /// The metric's value on `data`, or [`Error::InvalidParameter`] (named `"metric"`) for a
    /// metric the model does not have (or whose context is missing).
    fn validation_metric(
        &self,
        metric: ValidationMetric,
        data: &Dataset<Self::Scalar>,
        context: &ValidationContext<Self::Scalar>,
    ) -> Result<f64>;
}

/// A data check's error, naming the set it was about.
fn as_validation_error(e: Error, what: &'static str) -> Error {
    match e {
        Error::ShapeMismatch {
            expected, found, ..
        } => Error::ShapeMismatch {
            what,
            expected,
            found,
        },
        Error::OutsideUnitInterval {
            sample,
            feature,
            value,
            ..
        } => Error::OutsideUnitInterval {
            what,
            sample,
            feature,
            value,
        },
        other => other,
    }
}

fn no_metric(metric: ValidationMetric, model: &str) -> Error {
    Error::InvalidParameter {
        name: "metric",
        reason: format!("{model} has no {metric:?} metric"),
    }
}

/// Every unit kind has the reconstruction error and the free-energy gap; the
/// pseudo-likelihood and the AIS log-likelihood are those of Bernoulli–Bernoulli models (an
/// error for other unit kinds).
impl<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>> Validate for Rbm<T, V, H> {
    fn validation_metric(
        &self,
        metric: ValidationMetric,
        data: &Dataset<T>,
        context: &ValidationContext<T>,
    ) -> Result<f64> {
        match metric {
            ValidationMetric::ReconstructionError => self.reconstruction_error(data),
            ValidationMetric::PseudoLikelihood => {
                let bb = self
                    .as_bernoulli()
                    .ok_or_else(|| no_metric(metric, "an RBM with non-binary units"))?;
                let pl = bb.pseudo_likelihood_exact(data)?;
                Ok(pl.sum() / pl.len() as f64)
            }
            ValidationMetric::FreeEnergyGap => {
                let Some(reference) = &context.reference else {
                    return Err(Error::InvalidParameter {
                        name: "metric",
                        reason: "the free-energy gap needs a training subset \
                                 (EarlyStopping::free_energy_gap)"
                            .into(),
                    });
                };
                let valid = mean_free_energy(self, data, "mean free energy of the validation set")?;
                let train =
                    mean_free_energy(self, reference, "mean free energy of the training subset")?;
                Ok(valid - train)
            }
            ValidationMetric::AisLogLikelihood => {
                let bb = self
                    .as_bernoulli()
                    .ok_or_else(|| no_metric(metric, "an RBM with non-binary units"))?;
                let log_z = bb.ais(&context.ais)?.log_z;
                let f = mean_free_energy(self, data, "mean free energy of the validation set")?;
                Ok(-f - log_z)
            }
            ValidationMetric::Loss => Err(no_metric(metric, "an RBM")),
        }
    }
}

impl<T: Float> Validate for TiedAutoencoder<T> {
    fn validation_metric(
        &self,
        metric: ValidationMetric,
        data: &Dataset<T>,
        _context: &ValidationContext<T>,
    ) -> Result<f64> {
        match metric {
            ValidationMetric::ReconstructionError => self.reconstruction_error(data),
            ValidationMetric::Loss => self.mean_loss(data),
            _ => Err(no_metric(metric, "an autoencoder")),
        }
    }
}

/// An observer that stops training when a validation metric stops improving, and keeps a copy
/// of the parameters at its best.
///
/// After every epoch (or every `every`-th, [`every`](Self::every)) it measures the
/// [`ValidationMetric`] on the validation set. A measurement *improves* when it beats the best
/// so far by more than `min_delta` (lower by more than `min_delta`, or higher for the
/// pseudo-likelihood and the AIS log-likelihood); the parameters are then copied. After
/// `patience` measurements in a row without improvement it stops training ([`Control::Stop`]). An observer cannot change the model, so the run ends with the last
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
    context: ValidationContext<M::Scalar>,
    every: usize,
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
            .field("every", &self.every)
            .field("history", &self.history)
            .field("best_epoch", &self.best_epoch())
            .field("stopped_at", &self.stopped_at)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<M: Validate> EarlyStopping<M> {
    /// A monitor of `metric` on `valid` that stops after `patience` (≥ 1) measurements without
    /// improvement, with `min_delta` 0. `valid` must suit `model` (as training data does) and
    /// `model` must have the metric.
    pub fn new(
        model: &M,
        valid: Dataset<M::Scalar>,
        metric: ValidationMetric,
        patience: usize,
    ) -> Result<Self> {
        Self::with_context(model, valid, metric, patience, ValidationContext::default())
    }

    /// A monitor of [`ValidationMetric::FreeEnergyGap`]: the mean free energy of `valid` minus
    /// that of `train_subset` (a fixed part of the training data, about the size of `valid`),
    /// stopping after `patience` measurements without the gap shrinking.
    pub fn free_energy_gap(
        model: &M,
        train_subset: Dataset<M::Scalar>,
        valid: Dataset<M::Scalar>,
        patience: usize,
    ) -> Result<Self> {
        model
            .check_data(&train_subset)
            .map_err(|e| as_validation_error(e, "training subset of the gap"))?;
        let context = ValidationContext {
            reference: Some(train_subset),
            ..ValidationContext::default()
        };
        Self::with_context(
            model,
            valid,
            ValidationMetric::FreeEnergyGap,
            patience,
            context,
        )
    }

    /// A monitor of [`ValidationMetric::AisLogLikelihood`] with AIS configured by `ais` (give
    /// it a base model from the training data, [`AisBase::from_data`](crate::rbm::AisBase::from_data),
    /// and combine with [`every`](Self::every): AIS is expensive).
    pub fn ais(
        model: &M,
        valid: Dataset<M::Scalar>,
        ais: AisConfig,
        patience: usize,
    ) -> Result<Self> {
        let context = ValidationContext {
            ais,
            ..ValidationContext::default()
        };
        Self::with_context(
            model,
            valid,
            ValidationMetric::AisLogLikelihood,
            patience,
            context,
        )
    }

    /// A monitor of `metric` with an explicit [`ValidationContext`].
    pub fn with_context(
        model: &M,
        valid: Dataset<M::Scalar>,
        metric: ValidationMetric,
        patience: usize,
        context: ValidationContext<M::Scalar>,
    ) -> Result<Self> {
        if patience == 0 {
            return Err(Error::InvalidParameter {
                name: "patience",
                reason: "early stopping needs a patience of at least 1 epoch, got 0".into(),
            });
        }
        model
            .check_data(&valid)
            .map_err(|e| as_validation_error(e, "validation set"))?;
        model.validation_metric(metric, &valid, &context)?;
        Ok(Self {
            valid,
            context,
            every: 1,
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

    /// Measures after every `every`-th epoch only (epochs `every − 1`, `2·every − 1`, … from 0);
    /// the patience then counts measurements, not epochs. A last epoch that is not a multiple
    /// of `every` is not measured (the monitor does not know the run's length): choose an
    /// epoch count that is a multiple of `every` to have the final parameters scored. [`Error::InvalidParameter`] named
    /// `"every"` for 0.
    pub fn every(mut self, every: usize) -> Result<Self> {
        if every == 0 {
            return Err(Error::InvalidParameter {
                name: "every",
                reason: "must be at least 1, got 0".into(),
            });
        }
        self.every = every;
        Ok(self)
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
        if !(report.epoch + 1).is_multiple_of(self.every) {
            return Control::Continue;
        }
        let measured = model
            .validation_metric(self.metric, &self.valid, &self.context)
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

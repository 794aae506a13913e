//! The free-energy gap between training and validation data: a running measure of
//! overfitting for energy models.

use super::{Control, Observer};
use crate::energy::EnergyModel;
use crate::train::EpochReport;
use crate::{Dataset, Error, Float, Result};

/// One measurement of a [`FreeEnergyGap`] monitor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GapRecord {
    /// The epoch (from 0) after which it was measured.
    pub epoch: usize,
    /// Mean free energy ⟨F(v)⟩ of the training subset.
    pub train: f64,
    /// Mean free energy ⟨F(v)⟩ of the validation set.
    pub valid: f64,
    /// `valid − train`: how much more probable the model finds the training subset than the
    /// validation set, in nats per sample.
    pub gap: f64,
}

/// An observer that watches for overfitting through the free-energy gap, following Hinton's
/// practical guide to training RBMs (Hinton 2010, *A Practical Guide to Training Restricted
/// Boltzmann Machines*, UTML TR 2010-003, §6 "Monitoring the overfitting").
///
/// Every `every` epochs it computes the mean free energy ⟨F⟩ of a fixed subset of the training
/// data and of a validation set, and records `gap = ⟨F⟩_valid − ⟨F⟩_train`
/// ([`GapRecord`]). Since log p(v) = −F(v) − log Z, the gap equals
/// ⟨log p⟩_train − ⟨log p⟩_valid exactly: the unknown log Z cancels. The free energies on their
/// own are not meaningful, because log Z changes as the model trains; their difference is.
/// A model that does not overfit gives both sets about the same free energy; as it starts to
/// overfit, the validation free energy rises relative to the training one, and **a growing
/// gap means overfitting**. The training subset should be representative of the training
/// data; of the same size as the validation set, it makes both means about equally noisy.
///
/// With [`stop_after_growth`](Self::stop_after_growth) it also stops training
/// ([`Control::Stop`]) once the gap has grown (strictly) at that many consecutive
/// measurements. The model is not restored to an earlier state.
///
/// Free energies are computed in the model's scalar type and averaged in `f64`. The sets are
/// checked against the model when the monitor is built; if it then watches a model of another
/// shape, the first measurement fails: the monitor keeps the error ([`error`](Self::error)) and
/// stops training (an observer cannot return an error).
///
/// ```
/// use rbms::{datasets, ContrastiveDivergence, FitConfig, FreeEnergyGap, MetricsConfig, Rbm};
/// let digits = datasets::digits_scaled::<f32>().binarize(0.5);
/// let train = digits.head(200)?;
/// let valid = digits.select(&(1000..1200).collect::<Vec<_>>())?;
/// let mut rbm = Rbm::<f32>::new(64, 32)?;
/// // measure every 2 epochs; stop once the gap has grown 3 times in a row
/// let mut gap = FreeEnergyGap::new(&rbm, train.clone(), valid, 2)?.stop_after_growth(3)?;
/// let config = FitConfig::default().epochs(6).metrics(MetricsConfig::none());
/// rbm.fit_observed(&train, &ContrastiveDivergence::new(1), &config, &mut gap)?;
/// assert_eq!(gap.history().len(), 3); // after epochs 1, 3, 5 (from 0)
/// for r in gap.history() {
///     println!("epoch {}: train {:.2}, valid {:.2}, gap {:.3}", r.epoch, r.train, r.valid, r.gap);
/// }
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug)]
pub struct FreeEnergyGap<T: Float> {
    train: Dataset<T>,
    valid: Dataset<T>,
    every: usize,
    patience: Option<usize>,
    history: Vec<GapRecord>,
    streak: usize,
    stopped_at: Option<usize>,
    error: Option<Error>,
}

impl<T: Float> FreeEnergyGap<T> {
    /// A monitor measuring `train` (a fixed subset of the training data) and `valid` after
    /// every `every` epochs (after epochs `every − 1`, `2·every − 1`, ... counting from 0).
    ///
    /// `model` is used only to check the sets: both must suit it
    /// ([`EnergyModel::check_visible`]: shape, finite values, the units' domain), and
    /// `every` must be ≥ 1 ([`Error::InvalidParameter`] named `"every"`).
    pub fn new<M: EnergyModel<Scalar = T>>(
        model: &M,
        train: Dataset<T>,
        valid: Dataset<T>,
        every: usize,
    ) -> Result<Self> {
        if every == 0 {
            return Err(Error::InvalidParameter {
                name: "every",
                reason: "the free-energy gap must be measured every n >= 1 epochs, got 0".into(),
            });
        }
        model.check_visible(train.samples())?;
        model.check_visible(valid.samples())?;
        Ok(Self {
            train,
            valid,
            every,
            patience: None,
            history: Vec::new(),
            streak: 0,
            stopped_at: None,
            error: None,
        })
    }

    /// Stops training once the gap has grown at `patience` consecutive measurements (each
    /// strictly larger than the one before). `patience` must be ≥ 1
    /// ([`Error::InvalidParameter`] named `"patience"`).
    pub fn stop_after_growth(mut self, patience: usize) -> Result<Self> {
        if patience == 0 {
            return Err(Error::InvalidParameter {
                name: "patience",
                reason: "stopping needs at least 1 growing measurement, got 0".into(),
            });
        }
        self.patience = Some(patience);
        Ok(self)
    }

    /// The measurements so far, in order.
    pub fn history(&self) -> &[GapRecord] {
        &self.history
    }

    /// The measurements, consuming the monitor.
    pub fn into_history(self) -> Vec<GapRecord> {
        self.history
    }

    /// The cadence, in epochs.
    pub fn every(&self) -> usize {
        self.every
    }

    /// The patience set by [`stop_after_growth`](Self::stop_after_growth), if any.
    pub fn patience(&self) -> Option<usize> {
        self.patience
    }

    /// How many of the latest measurements in a row each grew the gap (0 after a measurement
    /// that did not).
    pub fn growth_streak(&self) -> usize {
        self.streak
    }

    /// The epoch after which the monitor asked training to stop, if it did (because of growth
    /// or of an [`error`](Self::error)).
    pub fn stopped_at(&self) -> Option<usize> {
        self.stopped_at
    }

    /// The error that stopped the monitor, if any (e.g. a model of another shape than the one
    /// the sets were checked against).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The mean free energies (⟨F⟩_train, ⟨F⟩_valid) of `model` now, without recording them.
    /// Fails if the sets do not suit `model`, or with [`Error::NonFinite`] if a mean is not
    /// finite.
    pub fn measure<M: EnergyModel<Scalar = T>>(&self, model: &M) -> Result<(f64, f64)> {
        Ok((
            mean_free_energy(
                model,
                &self.train,
                "mean free energy of the training subset",
            )?,
            mean_free_energy(model, &self.valid, "mean free energy of the validation set")?,
        ))
    }
}

pub(crate) fn mean_free_energy<M: EnergyModel>(
    model: &M,
    data: &Dataset<M::Scalar>,
    what: &'static str,
) -> Result<f64> {
    let f = model.free_energy(data.samples().as_view())?;
    let mean = f.iter().map(|x| x.as_f64()).sum::<f64>() / f.len() as f64;
    if !mean.is_finite() {
        return Err(Error::NonFinite {
            what,
            sample: 0,
            feature: 0,
            value: mean,
        });
    }
    Ok(mean)
}

impl<T: Float, M: EnergyModel<Scalar = T>> Observer<M> for FreeEnergyGap<T> {
    fn on_epoch(&mut self, model: &M, report: &EpochReport) -> Control {
        if self.error.is_some() {
            return Control::Stop;
        }
        if !(report.epoch + 1).is_multiple_of(self.every) {
            return Control::Continue;
        }
        let (train, valid) = match self.measure(model) {
            Ok(means) => means,
            Err(e) => {
                self.error = Some(e);
                self.stopped_at = Some(report.epoch);
                return Control::Stop;
            }
        };
        let gap = valid - train;
        let grew = self.history.last().is_some_and(|last| gap > last.gap);
        self.streak = if grew { self.streak + 1 } else { 0 };
        self.history.push(GapRecord {
            epoch: report.epoch,
            train,
            valid,
            gap,
        });
        if self.patience.is_some_and(|p| self.streak >= p) {
            self.stopped_at = Some(report.epoch);
            return Control::Stop;
        }
        Control::Continue
    }
}

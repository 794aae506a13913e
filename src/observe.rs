//! Observers: the one place a run reports progress, records history or stops early.
//!
//! The library never prints; attach [`Progress`] to get one line per epoch on stderr,
//! [`FreeEnergyGap`] to watch an energy model for overfitting, [`EarlyStopping`] to stop when a
//! validation metric stops improving (keeping the best parameters), and [`History`] to record
//! every epoch (and export it as CSV or, with the `serde` feature, JSON).

mod early;
mod gap;

pub use early::{EarlyStopping, Validate, ValidationContext, ValidationMetric};
pub use gap::{FreeEnergyGap, GapRecord};

use crate::train::EpochReport;
use std::io::Write;

/// Whether training goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop after this step or epoch (the report says `stopped_early`).
    Stop,
}

/// Where a step sits in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// Epoch, from 0.
    pub epoch: usize,
    /// Minibatch within the epoch, from 0.
    pub batch: usize,
    /// Samples in this minibatch.
    pub batch_size: usize,
}

/// Watches a run of a model of type `M`.
pub trait Observer<M> {
    /// Called after every epoch (after its metrics).
    fn on_epoch(&mut self, model: &M, report: &EpochReport) -> Control;
    /// Called after every step, but only if [`wants_steps`](Self::wants_steps) is `true`.
    fn on_step(&mut self, _model: &M, _step: &StepReport) -> Control {
        Control::Continue
    }
    /// Whether [`on_step`](Self::on_step) should be called. Default `false`.
    fn wants_steps(&self) -> bool {
        false
    }
}

/// The no-op observer.
impl<M> Observer<M> for () {
    fn on_epoch(&mut self, _: &M, _: &EpochReport) -> Control {
        Control::Continue
    }
}

impl<M, O: Observer<M> + ?Sized> Observer<M> for &mut O {
    fn on_epoch(&mut self, model: &M, report: &EpochReport) -> Control {
        (**self).on_epoch(model, report)
    }
    fn on_step(&mut self, model: &M, step: &StepReport) -> Control {
        (**self).on_step(model, step)
    }
    fn wants_steps(&self) -> bool {
        (**self).wants_steps()
    }
}

/// Both observers see every event; the run stops if either asks.
impl<M, A: Observer<M>, B: Observer<M>> Observer<M> for (A, B) {
    fn on_epoch(&mut self, model: &M, report: &EpochReport) -> Control {
        let a = self.0.on_epoch(model, report);
        let b = self.1.on_epoch(model, report);
        if a == Control::Stop || b == Control::Stop {
            Control::Stop
        } else {
            Control::Continue
        }
    }
    fn on_step(&mut self, model: &M, step: &StepReport) -> Control {
        let a = if self.0.wants_steps() {
            self.0.on_step(model, step)
        } else {
            Control::Continue
        };
        let b = if self.1.wants_steps() {
            self.1.on_step(model, step)
        } else {
            Control::Continue
        };
        if a == Control::Stop || b == Control::Stop {
            Control::Stop
        } else {
            Control::Continue
        }
    }
    fn wants_steps(&self) -> bool {
        self.0.wants_steps() || self.1.wants_steps()
    }
}

/// Records every epoch report.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct History {
    /// The reports, in order.
    pub epochs: Vec<EpochReport>,
}

impl History {
    /// The columns of [`to_csv`](Self::to_csv).
    pub const CSV_HEADER: &'static str = "epoch,seconds,metric_seconds,train_loss,loss,recon_mse,pseudo_likelihood,pseudo_likelihood_exact";

    /// The history as CSV: the header [`CSV_HEADER`](Self::CSV_HEADER), then one row per epoch.
    /// A value not computed that epoch is an empty cell; numbers are written in their shortest
    /// form that reads back to the same `f64`.
    ///
    /// ```
    /// use rbms::{datasets, ContrastiveDivergence, FitConfig, History, Rbm};
    /// let data = datasets::digits_scaled::<f32>().head(100)?;
    /// let mut history = History::default();
    /// let config = FitConfig::default().epochs(3);
    /// Rbm::<f32>::new(64, 8)?.fit_observed(&data, &ContrastiveDivergence::new(1), &config, &mut history)?;
    /// let csv = history.to_csv();
    /// let lines: Vec<&str> = csv.lines().collect();
    /// assert_eq!(lines.len(), 1 + 3);
    /// assert_eq!(lines[0], History::CSV_HEADER);
    /// assert!(lines[3].starts_with("2,"));
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn to_csv(&self) -> String {
        fn cell(x: Option<f64>) -> String {
            x.map(|x| x.to_string()).unwrap_or_default()
        }
        let mut out = String::from(Self::CSV_HEADER);
        out.push('\n');
        for e in &self.epochs {
            let m = &e.metrics;
            let row = [
                e.epoch.to_string(),
                e.seconds.to_string(),
                e.metric_seconds.to_string(),
                cell(e.train_loss),
                cell(m.loss),
                cell(m.recon_mse),
                cell(m.pseudo_likelihood),
                cell(m.pseudo_likelihood_exact),
            ];
            out += &row.join(",");
            out.push('\n');
        }
        out
    }
}

impl<M> Observer<M> for History {
    fn on_epoch(&mut self, _: &M, report: &EpochReport) -> Control {
        self.epochs.push(*report);
        Control::Continue
    }
}

/// Writes one line per epoch to stderr: epoch, seconds and the metrics computed.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Total epochs, shown as `epoch i/total` when set.
    pub total_epochs: Option<usize>,
}

impl Progress {
    /// A progress observer for a run of `total_epochs`.
    pub fn new(total_epochs: usize) -> Self {
        Self {
            total_epochs: Some(total_epochs),
        }
    }

    /// The line written for `report`.
    pub fn line(&self, report: &EpochReport) -> String {
        let mut s = match self.total_epochs {
            Some(t) => format!("epoch {}/{}", report.epoch + 1, t),
            None => format!("epoch {}", report.epoch + 1),
        };
        s += &format!(" train {:.3}s", report.seconds);
        if let Some(x) = report.train_loss {
            s += &format!(" train_loss {x:.5}");
        }
        let m = &report.metrics;
        if let Some(x) = m.loss {
            s += &format!(" loss {x:.5}");
        }
        if let Some(x) = m.recon_mse {
            s += &format!(" recon_mse {x:.5}");
        }
        if let Some(x) = m.pseudo_likelihood {
            s += &format!(" pl {x:.3}");
        }
        if let Some(x) = m.pseudo_likelihood_exact {
            s += &format!(" pl_exact {x:.3}");
        }
        if report.metric_seconds > 0.0 {
            s += &format!(" (metrics {:.3}s)", report.metric_seconds);
        }
        s
    }
}

impl<M> Observer<M> for Progress {
    fn on_epoch(&mut self, _: &M, report: &EpochReport) -> Control {
        let _ = writeln!(std::io::stderr().lock(), "{}", self.line(report));
        Control::Continue
    }
}

/// An observer from a closure called after each epoch.
///
/// ```
/// use rbms::observe::{Control, FnObserver};
/// // stop after the third epoch
/// let mut stop_at_3 = FnObserver(|_: &rbms::Rbm<f64>, r: &rbms::train::EpochReport| {
///     if r.epoch + 1 >= 3 { Control::Stop } else { Control::Continue }
/// });
/// # let _ = &mut stop_at_3;
/// ```
#[derive(Debug, Clone)]
pub struct FnObserver<F>(pub F);

impl<M, F: FnMut(&M, &EpochReport) -> Control> Observer<M> for FnObserver<F> {
    fn on_epoch(&mut self, model: &M, report: &EpochReport) -> Control {
        (self.0)(model, report)
    }
}

//! Observers: the one place a run reports progress, records history or stops early.
//!
//! The library never prints; attach [`Progress`] to get one line per epoch on stderr, and
//! [`FreeEnergyGap`] to watch an energy model for overfitting.

mod gap;

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
pub struct History {
    /// The reports, in order.
    pub epochs: Vec<EpochReport>,
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

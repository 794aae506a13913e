//! Settings of a training run, checked once.

use super::schedule::{LearningRateSchedule, MomentumSchedule};
use crate::{Error, Result};

/// How [`fit`](crate::Rbm::fit) initialises the parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Init {
    /// Standard deviation of the initial weights (W ~ N(0, σ²)). Default 0.01.
    pub weight_std: f64,
    /// Initial visible biases. Default [`VisibleBiasInit::FromData`].
    pub visible_bias: VisibleBiasInit,
    /// Initial hidden biases. Default [`HiddenBiasInit::Zero`].
    pub hidden_bias: HiddenBiasInit,
}

impl Default for Init {
    fn default() -> Self {
        Self {
            weight_std: 0.01,
            visible_bias: VisibleBiasInit::FromData,
            hidden_bias: HiddenBiasInit::Zero,
        }
    }
}

impl Init {
    pub(crate) fn check(&self) -> Result<()> {
        if !(self.weight_std.is_finite() && self.weight_std >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "weight_std",
                reason: format!("must be finite and >= 0, got {}", self.weight_std),
            });
        }
        self.hidden_bias.check()
    }
}

/// Initial visible biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibleBiasInit {
    /// All zero.
    Zero,
    /// logit of each feature's mean over the training data, clipped (Hinton's practical guide).
    FromData,
}

/// Initial hidden biases.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum HiddenBiasInit {
    /// All zero (the default).
    #[default]
    Zero,
    /// logit(target) for a sparsity target in `(0, 1)`, so that the hidden units start at
    /// that activation when the weights are small (Hinton's practical guide, §§8, 11; pairs
    /// with [`HiddenSparsity`](crate::train::HiddenSparsity)).
    FromTarget(f64),
}

impl HiddenBiasInit {
    /// The initial value of every hidden bias: 0, or ln(p / (1 − p)).
    ///
    /// ```
    /// use rbms::train::HiddenBiasInit;
    /// assert_eq!(HiddenBiasInit::Zero.value(), 0.0);
    /// assert!((HiddenBiasInit::FromTarget(0.1).value() - (0.1f64 / 0.9).ln()).abs() < 1e-15);
    /// ```
    pub fn value(&self) -> f64 {
        match *self {
            Self::Zero => 0.0,
            Self::FromTarget(p) => (p / (1.0 - p)).ln(),
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        match *self {
            Self::FromTarget(p) if !(p > 0.0 && p < 1.0) => Err(Error::InvalidParameter {
                name: "hidden_bias",
                reason: format!("the target activation must lie in (0, 1), got {p}"),
            }),
            _ => Ok(()),
        }
    }
}

/// Which metrics [`fit`](crate::Rbm::fit) computes after each epoch, and on how many samples.
///
/// Metrics run on a fixed subset of the training data: all of it when it has at most
/// `max_samples` samples, otherwise `max_samples` samples drawn once, without replacement,
/// from the run's metrics stream (see [`crate::train`]). [`FitReport::metric_samples`](crate::train::FitReport)
/// says how many were used. Their time is reported apart from training time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Compute metrics every this many epochs (and always after the last); 0 disables them.
    pub every: usize,
    /// Largest number of training samples metrics are computed on.
    pub max_samples: usize,
    /// Mean squared reconstruction error.
    pub reconstruction: bool,
    /// The model's own reconstruction loss (autoencoders; ignored by energy models).
    pub loss: bool,
    /// The stochastic one-flip pseudo-likelihood (scikit-learn's estimate).
    pub pseudo_likelihood: bool,
    /// The exact pseudo-likelihood (all sites; `n_visible` times dearer).
    pub pseudo_likelihood_exact: bool,
}

impl Default for MetricsConfig {
    /// Every epoch, up to 2,000 samples, all metrics.
    fn default() -> Self {
        Self {
            every: 1,
            max_samples: 2000,
            reconstruction: true,
            loss: true,
            pseudo_likelihood: true,
            pseudo_likelihood_exact: true,
        }
    }
}

impl MetricsConfig {
    /// No metrics at all (the fastest training).
    pub fn none() -> Self {
        Self {
            every: 0,
            ..Self::default()
        }
    }
}

/// Settings of a training run: the shared update rule (learning rate, momentum, decay), the
/// minibatch schedule, initialisation, the seed and metrics.
///
/// Build with [`Default`] and the chainable setters; everything is checked once when training
/// starts, each broken rule with its own [`Error`] variant.
///
/// ```
/// use rbms::FitConfig;
/// let c = FitConfig::default().epochs(20).batch_size(10).learning_rate(0.06).momentum(0.5).seed(42);
/// assert_eq!(c.epochs, 20);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FitConfig {
    /// Passes over the data. Default 10.
    pub epochs: usize,
    /// Samples per minibatch (≥ 1, ≤ the number of samples). Default 10.
    pub batch_size: usize,
    /// Skip the short last batch of each epoch. Default `false`.
    pub drop_last: bool,
    /// Reshuffle the minibatch order at the start of every epoch. Default `true`. When
    /// `false`, every epoch visits the samples in their order in the data set, draws nothing
    /// from the run's RNG for the order, and equals one
    /// [`OnlineFit::partial_fit`](crate::train::OnlineFit::partial_fit) over the whole data set.
    pub shuffle: bool,
    /// The one seed that determines the run. Default 0.
    pub seed: u64,
    /// Learning rate ε (finite, > 0). Default 0.05.
    pub learning_rate: f64,
    /// Classic momentum μ in `[0, 1)`: velocity ← μ·velocity − ε·gradient. Default 0.5.
    pub momentum: f64,
    /// How the learning rate changes over the run. Default constant.
    pub learning_rate_schedule: LearningRateSchedule,
    /// How the momentum changes over the run. Default constant.
    pub momentum_schedule: MomentumSchedule,
    /// L2 weight decay λ₂ ≥ 0 (adds λ₂θ to the gradient of weights). Default 0.
    pub weight_decay: f64,
    /// L1 penalty λ₁ ≥ 0 (adds λ₁·sign(θ) to the gradient of weights). Default 0.
    pub l1: f64,
    /// Apply the decays to biases too. Default `false`.
    pub decay_biases: bool,
    /// Initialisation. Ignored when `warm_start` is set.
    pub init: Init,
    /// Continue from the model's current parameters instead of re-initialising. Default `false`.
    pub warm_start: bool,
    /// Metrics after each epoch.
    pub metrics: MetricsConfig,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 10,
            drop_last: false,
            shuffle: true,
            seed: 0,
            learning_rate: 0.05,
            momentum: 0.5,
            learning_rate_schedule: LearningRateSchedule::Constant,
            momentum_schedule: MomentumSchedule::Constant,
            weight_decay: 0.0,
            l1: 0.0,
            decay_biases: false,
            init: Init::default(),
            warm_start: false,
            metrics: MetricsConfig::default(),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        impl FitConfig {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $name: $ty) -> Self {
                    self.$name = $name;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets [`epochs`](FitConfig::epochs).
    epochs: usize,
    /// Sets [`batch_size`](FitConfig::batch_size).
    batch_size: usize,
    /// Sets [`drop_last`](FitConfig::drop_last).
    drop_last: bool,
    /// Sets [`shuffle`](FitConfig::shuffle).
    shuffle: bool,
    /// Sets [`seed`](FitConfig::seed).
    seed: u64,
    /// Sets [`learning_rate`](FitConfig::learning_rate).
    learning_rate: f64,
    /// Sets [`momentum`](FitConfig::momentum).
    momentum: f64,
    /// Sets [`learning_rate_schedule`](FitConfig::learning_rate_schedule).
    learning_rate_schedule: LearningRateSchedule,
    /// Sets [`momentum_schedule`](FitConfig::momentum_schedule).
    momentum_schedule: MomentumSchedule,
    /// Sets [`weight_decay`](FitConfig::weight_decay).
    weight_decay: f64,
    /// Sets [`l1`](FitConfig::l1).
    l1: f64,
    /// Sets [`decay_biases`](FitConfig::decay_biases).
    decay_biases: bool,
    /// Sets [`init`](FitConfig::init).
    init: Init,
    /// Sets [`warm_start`](FitConfig::warm_start).
    warm_start: bool,
    /// Sets [`metrics`](FitConfig::metrics).
    metrics: MetricsConfig,
}

impl FitConfig {
    /// Checks the settings that do not depend on the data.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidParameter {
                name: "epochs",
                reason: "must be >= 1, got 0".into(),
            });
        }
        if self.batch_size == 0 {
            return Err(Error::ZeroBatchSize);
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::InvalidLearningRate(self.learning_rate));
        }
        if !(self.momentum >= 0.0 && self.momentum < 1.0) {
            return Err(Error::InvalidMomentum(self.momentum));
        }
        self.learning_rate_schedule.check()?;
        self.momentum_schedule.check()?;
        for (name, value) in [("weight_decay", self.weight_decay), ("l1", self.l1)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::InvalidPenalty { name, value });
            }
        }
        if self.metrics.every > 0 && self.metrics.max_samples == 0 {
            return Err(Error::InvalidParameter {
                name: "metrics.max_samples",
                reason: "must be >= 1 when metrics are on, got 0".into(),
            });
        }
        self.init.check()
    }
}

#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod autoencoder;
mod bernoulli;
pub mod data;
pub mod datasets;
pub mod energy;
pub mod error;
pub mod gradcheck;
mod kernels;
pub mod math;
pub mod observe;
pub mod parallel;
pub mod params;
#[cfg(feature = "serde")]
pub mod persist;
pub mod rbm;
pub mod scalar;
mod sparse;
pub mod standardize;
#[cfg(feature = "proptest")]
pub mod strategies;
#[cfg(feature = "threading")]
mod team;
pub mod train;
pub mod units;

pub use autoencoder::{
    Autoencoder, Decoder, Loss, Noise, Objective, Penalties, Sparsity, TiedAutoencoder,
};
pub use data::{Dataset, Minibatches};
pub use energy::{EnergyModel, GradientTerm};
pub use error::{Error, Result};
pub use observe::{
    Control, EarlyStopping, FreeEnergyGap, GapRecord, History, Observer, Progress, ValidationMetric,
};
pub use params::{BlockKind, LayerParams, Model, Parameters};
#[cfg(feature = "serde")]
pub use persist::Persist;
pub use rbm::gaussian::{GaussianRbm, GaussianSigmaRbm};
pub use rbm::{GibbsConfig, GibbsSamples, GibbsStart, Rbm, RbmParams};
pub use scalar::Float;
pub use standardize::Standardizer;
pub use train::{
    fit_checkpointed, resume, Checkpoint, ContrastiveDivergence, FitConfig, FitReport,
    HiddenBiasInit, Init, LearningRateSchedule, MetricsConfig, MomentumSchedule, OnlineFit,
    ParallelTempering, PersistentCd, RunRng, Sgd, Trainer, VisibleBiasInit,
};

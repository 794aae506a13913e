#![deny(missing_docs)]
//! Restricted Boltzmann Machines.

pub mod data;
pub mod error;
pub mod math;
pub mod scalar;

pub use data::{Dataset, Minibatches};
pub use error::{Error, Result};
pub use scalar::Float;

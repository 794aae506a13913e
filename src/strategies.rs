//! [Proptest](https://docs.rs/proptest) strategies for small models and matching data, so that
//! downstream crates can property-test code built on `rbms` (enabled by the cargo feature
//! `proptest`).
//!
//! Every strategy here makes `f64` values: models small enough to check gradients and
//! likelihoods exactly (see [`crate::gradcheck`]), with parameters drawn uniformly from
//! `[−scale, scale]`, and data sets that suit them. Sizes are given as anything proptest
//! accepts as a [`SizeRange`] (`3`, `1..5`, `1..=4`); they must be ≥ 1. The constructors check
//! their arguments and return [`Error::InvalidParameter`] rather than a strategy that would
//! panic while generating.
//!
//! A property test in a downstream crate (`Cargo.toml`: `rbms = { version = "…", features =
//! ["proptest"] }` and `proptest` as a dev-dependency):
//!
//! ```
//! use proptest::prelude::*;
//! use rbms::gradcheck::{check_free_energy_gradient, CheckConfig};
//! use rbms::strategies::rbm_and_data;
//!
//! proptest! {
//!     # /*
//!     #[test]
//!     # */
//!     fn free_energy_gradient_is_right((rbm, data) in rbm_and_data(1..=4, 1..=4, 1..=8, 1.0).unwrap()) {
//!         let report = check_free_energy_gradient(&rbm, data.samples(), &CheckConfig::default()).unwrap();
//!         prop_assert!(report.within(1e-6, 1e-5), "{}", report);
//!     }
//! }
//! # free_energy_gradient_is_right();
//! ```
//!
//! (`unwrap` turns a bad size range or scale into a test failure at once.)

use crate::autoencoder::{Decoder, Loss, Penalties, Sparsity, TiedAutoencoder};
use crate::params::LayerParams;
use crate::units::GaussianParams;
use crate::{Dataset, Error, GaussianSigmaRbm, Rbm, Result};
use nalgebra::{DMatrix, DVector};
use proptest::collection::{vec, SizeRange};
use proptest::prelude::*;
use std::ops::{Range, RangeInclusive};

/// A size range as an inclusive range of sizes ≥ 1, or an error naming `name`.
fn sizes(name: &'static str, range: impl Into<SizeRange>) -> Result<RangeInclusive<usize>> {
    let r: Range<usize> = range.into().into();
    if r.start == 0 || r.end <= r.start {
        return Err(Error::InvalidParameter {
            name,
            reason: format!(
                "must be a non-empty range of sizes >= 1, got {}..{} (end exclusive)",
                r.start, r.end
            ),
        });
    }
    Ok(r.start..=r.end - 1)
}

fn check_scale(scale: f64) -> Result<()> {
    if scale.is_finite() && scale >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "scale",
            reason: format!("must be finite and >= 0, got {scale}"),
        })
    }
}

/// The layer sizes and scale, checked; the largest weight matrix must be allocatable.
fn layer_sizes(
    visible: impl Into<SizeRange>,
    hidden: impl Into<SizeRange>,
    scale: f64,
) -> Result<(RangeInclusive<usize>, RangeInclusive<usize>)> {
    let visible = sizes("visible", visible)?;
    let hidden = sizes("hidden", hidden)?;
    check_scale(scale)?;
    if visible
        .end()
        .checked_mul(*hidden.end())
        .is_none_or(|n| n > isize::MAX as usize / 8)
    {
        return Err(Error::InvalidParameter {
            name: "visible × hidden",
            reason: format!(
                "{} × {} weights cannot be allocated",
                visible.end(),
                hidden.end()
            ),
        });
    }
    Ok((visible, hidden))
}

/// Parameters of an `n_visible`–`n_hidden` layer, uniform in `[−scale, scale]`.
fn layer(nv: usize, nh: usize, scale: f64) -> impl Strategy<Value = LayerParams<f64>> {
    let unit = || -1.0..=1.0f64;
    (vec(unit(), nh * nv), vec(unit(), nv), vec(unit(), nh)).prop_filter_map(
        "finite parameters",
        move |(w, b, c)| {
            LayerParams::new(
                DMatrix::from_vec(nh, nv, w) * scale,
                DVector::from_vec(b) * scale,
                DVector::from_vec(c) * scale,
            )
            .ok()
        },
    )
}

fn rbm_of(nv: usize, nh: usize, scale: f64) -> impl Strategy<Value = Rbm<f64>> {
    layer(nv, nh, scale).prop_filter_map("valid parameters", |p| {
        Rbm::from_parameters(
            p.weights().clone(),
            p.visible_bias().clone(),
            p.hidden_bias().clone(),
        )
        .ok()
    })
}

fn binary_of(nv: usize, samples: RangeInclusive<usize>) -> impl Strategy<Value = Dataset<f64>> {
    samples.prop_flat_map(move |n| {
        vec(any::<bool>(), nv * n).prop_filter_map("a non-empty data set", move |bits| {
            Dataset::from_columns(DMatrix::from_iterator(
                nv,
                n,
                bits.into_iter().map(|x| if x { 1.0 } else { 0.0 }),
            ))
            .ok()
        })
    })
}

/// Small Bernoulli RBMs: `visible` and `hidden` units (sizes drawn from the ranges), weights
/// and biases uniform in `[−scale, scale]`.
///
/// Errors: an empty size range or one that admits 0; a `scale` that is negative or not
/// finite; sizes whose weights cannot be allocated.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use rbms::{EnergyModel, strategies};
/// let mut runner = TestRunner::deterministic();
/// let rbm = strategies::rbm(2..=3, 4, 0.5)?.new_tree(&mut runner).unwrap().current();
/// assert!((2..=3).contains(&rbm.n_visible()) && rbm.n_hidden() == 4);
/// assert!(rbm.weights().iter().all(|w| w.abs() <= 0.5));
/// assert!(strategies::rbm(0..=3, 4, 0.5).is_err());
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn rbm(
    visible: impl Into<SizeRange>,
    hidden: impl Into<SizeRange>,
    scale: f64,
) -> Result<impl Strategy<Value = Rbm<f64>>> {
    let (visible, hidden) = layer_sizes(visible, hidden, scale)?;
    Ok((visible, hidden).prop_flat_map(move |(nv, nh)| rbm_of(nv, nh, scale)))
}

/// Binary data sets (every value 0 or 1) of `n_features` features and a number of samples
/// drawn from `samples`. Errors: `n_features` = 0, or a bad `samples` range.
pub fn binary_data(
    n_features: usize,
    samples: impl Into<SizeRange>,
) -> Result<impl Strategy<Value = Dataset<f64>>> {
    sizes("n_features", n_features)?;
    let samples = sizes("samples", samples)?;
    Ok(binary_of(n_features, samples))
}

/// A small RBM (as [`rbm`]) with a binary data set of matching width (as [`binary_data`]).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use rbms::{EnergyModel, strategies};
/// let mut runner = TestRunner::deterministic();
/// let (rbm, data) = strategies::rbm_and_data(1..=4, 1..=4, 1..=8, 1.0)?
///     .new_tree(&mut runner)
///     .unwrap()
///     .current();
/// assert_eq!(data.n_features(), rbm.n_visible());
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn rbm_and_data(
    visible: impl Into<SizeRange>,
    hidden: impl Into<SizeRange>,
    samples: impl Into<SizeRange>,
    scale: f64,
) -> Result<impl Strategy<Value = (Rbm<f64>, Dataset<f64>)>> {
    let (visible, hidden) = layer_sizes(visible, hidden, scale)?;
    let samples = sizes("samples", samples)?;
    Ok((visible, hidden)
        .prop_flat_map(move |(nv, nh)| (rbm_of(nv, nh, scale), binary_of(nv, samples.clone()))))
}

/// A small Gaussian–Bernoulli RBM with a learned σ per visible unit (layer parameters uniform
/// in `[−scale, scale]`, log σ uniform in `[−scale/2, scale/2]`) and a real-valued data set of
/// matching width (values uniform in `[−3, 3]`). A [`GaussianRbm`](crate::GaussianRbm) has the
/// same layer: `GaussianRbm::with_params(model.params().layer().clone())`. Errors as for
/// [`rbm_and_data`].
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use rbms::gradcheck::{check_free_energy_gradient, CheckConfig};
/// use rbms::{strategies, EnergyModel};
/// let mut runner = TestRunner::deterministic();
/// let (gb, data) = strategies::gaussian_rbm_and_data(1..=4, 1..=4, 1..=8, 1.0)?
///     .new_tree(&mut runner)
///     .unwrap()
///     .current();
/// assert_eq!(data.n_features(), gb.n_visible());
/// let report = check_free_energy_gradient(&gb, data.samples(), &CheckConfig::default())?;
/// assert!(report.within(1e-6, 1e-5), "{report}");
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn gaussian_rbm_and_data(
    visible: impl Into<SizeRange>,
    hidden: impl Into<SizeRange>,
    samples: impl Into<SizeRange>,
    scale: f64,
) -> Result<impl Strategy<Value = (GaussianSigmaRbm<f64>, Dataset<f64>)>> {
    let (visible, hidden) = layer_sizes(visible, hidden, scale)?;
    let samples = sizes("samples", samples)?;
    Ok((visible, hidden).prop_flat_map(move |(nv, nh)| {
        let model = (layer(nv, nh, scale), vec(-0.5..=0.5f64, nv)).prop_filter_map(
            "valid parameters",
            move |(p, z)| {
                let z = DVector::from_vec(z) * scale;
                GaussianParams::new(p, z)
                    .ok()
                    .map(GaussianSigmaRbm::with_params)
            },
        );
        let data = samples.clone().prop_flat_map(move |n| {
            vec(-3.0..=3.0f64, nv * n).prop_filter_map("a non-empty data set", move |x| {
                Dataset::from_columns(DMatrix::from_vec(nv, n, x)).ok()
            })
        });
        (model, data)
    }))
}

/// The three valid decoder × loss pairings: sigmoid with cross-entropy, sigmoid with squared
/// error, identity with squared error.
pub fn autoencoder_kind() -> impl Strategy<Value = (Decoder, Loss)> {
    prop_oneof![
        Just((Decoder::Sigmoid, Loss::CrossEntropy)),
        Just((Decoder::Sigmoid, Loss::SquaredError)),
        Just((Decoder::Identity, Loss::SquaredError)),
    ]
}

fn autoencoder_of(nv: usize, nh: usize, scale: f64) -> impl Strategy<Value = TiedAutoencoder<f64>> {
    (layer(nv, nh, scale), autoencoder_kind())
        .prop_filter_map("a valid pairing", |(p, (decoder, loss))| {
            TiedAutoencoder::from_parameters(p, decoder, loss).ok()
        })
}

/// Small tied autoencoders: sizes from the ranges, parameters uniform in `[−scale, scale]`,
/// and one of the valid decoder × loss pairings ([`autoencoder_kind`]). Errors as for
/// [`rbm`].
pub fn tied_autoencoder(
    visible: impl Into<SizeRange>,
    hidden: impl Into<SizeRange>,
    scale: f64,
) -> Result<impl Strategy<Value = TiedAutoencoder<f64>>> {
    let (visible, hidden) = layer_sizes(visible, hidden, scale)?;
    Ok((visible, hidden).prop_flat_map(move |(nv, nh)| autoencoder_of(nv, nh, scale)))
}

/// A small tied autoencoder (as [`tied_autoencoder`]) with data it can be trained on: for a
/// sigmoid decoder, values in `[0, 1]` (0, 1 or a fraction); for an identity decoder, values
/// in `[−2, 2]`.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use rbms::{Autoencoder, strategies};
/// let mut runner = TestRunner::deterministic();
/// let (ae, data) = strategies::autoencoder_and_data(1..=5, 1..=3, 1..=4, 1.0)?
///     .new_tree(&mut runner)
///     .unwrap()
///     .current();
/// assert!(ae.check_target(data.samples()).is_ok());
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn autoencoder_and_data(
    visible: impl Into<SizeRange>,
    hidden: impl Into<SizeRange>,
    samples: impl Into<SizeRange>,
    scale: f64,
) -> Result<impl Strategy<Value = (TiedAutoencoder<f64>, Dataset<f64>)>> {
    let (visible, hidden) = layer_sizes(visible, hidden, scale)?;
    let samples = sizes("samples", samples)?;
    Ok(
        (visible, hidden, samples).prop_flat_map(move |(nv, nh, n)| {
            autoencoder_of(nv, nh, scale).prop_flat_map(move |ae| {
                let value = match ae.decoder() {
                    Decoder::Sigmoid => prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64].boxed(),
                    Decoder::Identity => (-2.0..=2.0f64).boxed(),
                };
                vec(value, nv * n).prop_filter_map("a non-empty data set", move |x| {
                    let data = Dataset::from_columns(DMatrix::from_vec(nv, n, x)).ok()?;
                    Some((ae.clone(), data))
                })
            })
        }),
    )
}

/// Autoencoder penalties: off, contractive only, sparsity only, or both, with weights in
/// `[0, 1]` and sparsity targets in `[0.05, 0.95]`.
pub fn penalties() -> impl Strategy<Value = Penalties> {
    let contractive = prop_oneof![Just(0.0), 0.0..=1.0f64];
    let sparsity = prop::option::of(
        (0.05..=0.95f64, 0.0..=1.0f64).prop_map(|(target, weight)| Sparsity { target, weight }),
    );
    (contractive, sparsity).prop_map(|(contractive, sparsity)| Penalties {
        contractive,
        sparsity,
    })
}

//! Bad input: every case must return its specific `rbms::Error` variant (never panic), and a
//! failed `fit` must leave the model as it was (or, after divergence, at its last good
//! parameters).

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rbms::datasets::digits_scaled;
use rbms::observe::StepReport;
use rbms::train::{EpochReport, StepContext, UpdateRule};
use rbms::{
    ContrastiveDivergence, Control, Dataset, EnergyModel, Error, FitConfig, Float, GibbsConfig,
    GibbsStart, Init, MetricsConfig, Minibatches, Model, Observer, Parameters, PersistentCd, Rbm,
    RunRng, Trainer,
};

// ---------------------------------------------------------------------------------------------
// helpers

/// 20 samples × 4 features in [0, 1].
fn good_data() -> Dataset<f64> {
    Dataset::from_columns(DMatrix::from_fn(4, 20, |i, n| {
        ((i + 2 * n) % 5) as f64 / 4.0
    }))
    .unwrap()
}

fn good_config() -> FitConfig {
    FitConfig::default()
        .epochs(2)
        .batch_size(5)
        .seed(1)
        .metrics(MetricsConfig::none())
}

/// A model with non-trivial parameters, so "unchanged" is a meaningful check.
fn model() -> Rbm<f64> {
    Rbm::from_parameters(
        DMatrix::from_fn(3, 4, |j, i| 0.1 * (j as f64) - 0.05 * (i as f64)),
        DVector::from_vec(vec![0.1, -0.2, 0.3, 0.0]),
        DVector::from_vec(vec![0.5, -0.5, 0.25]),
    )
    .unwrap()
}

/// Fits a copy of `model()` with CD-1 and `config`, returning the error and checking the
/// model was left untouched.
fn fit_err(data: &Dataset<f64>, config: &FitConfig) -> Error {
    fit_err_with(data, &ContrastiveDivergence::new(1), config)
}

fn fit_err_with<Tr: Trainer<Rbm<f64>>>(
    data: &Dataset<f64>,
    trainer: &Tr,
    config: &FitConfig,
) -> Error {
    let mut rbm = model();
    let err = rbm
        .fit(data, trainer, config)
        .expect_err("fit should have failed");
    assert!(
        rbm == model(),
        "a fit rejected up front changed the model ({err})"
    );
    err
}

// ---------------------------------------------------------------------------------------------
// data sets

#[test]
fn non_finite_data_is_located() {
    // row-major input: row = sample
    let mut rows = DMatrix::from_element(5, 3, 0.5f64);
    rows[(3, 2)] = f64::NAN;
    let err = Dataset::from_rows(&rows).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { sample: 3, feature: 2, value, .. } if value.is_nan()),
        "{err:?}"
    );
    // column input: column = sample
    let mut cols = DMatrix::from_element(3, 5, 0.5f64);
    cols[(1, 4)] = f64::INFINITY;
    let err = Dataset::from_columns(cols).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { sample: 4, feature: 1, value, .. } if value == f64::INFINITY),
        "{err:?}"
    );
    // row-major slice
    let mut values = vec![0.0f32; 12];
    values[2 * 4 + 3] = f32::NEG_INFINITY; // sample 2, feature 3
    let err = Dataset::from_row_major(3, 4, &values).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { sample: 2, feature: 3, value, .. } if value == f64::NEG_INFINITY),
        "{err:?}"
    );
    // the first offending value is reported
    let mut cols = DMatrix::from_element(3, 5, 0.5f64);
    cols[(2, 1)] = f64::NAN;
    cols[(0, 3)] = f64::NAN;
    assert!(matches!(
        Dataset::from_columns(cols).unwrap_err(),
        Error::NonFinite {
            sample: 1,
            feature: 2,
            ..
        }
    ));
    // scaling into overflow
    let d = Dataset::from_columns(DMatrix::from_element(2, 2, 2.0f32)).unwrap();
    assert!(matches!(
        d.scaled(f32::MAX).unwrap_err(),
        Error::NonFinite { .. }
    ));
}

#[test]
fn empty_data_is_rejected() {
    for (r, c) in [(0, 0), (3, 0), (0, 3)] {
        assert!(matches!(
            Dataset::<f64>::from_columns(DMatrix::zeros(r, c)).unwrap_err(),
            Error::EmptyData { .. }
        ));
        assert!(matches!(
            Dataset::<f64>::from_rows(&DMatrix::zeros(r, c)).unwrap_err(),
            Error::EmptyData { .. }
        ));
    }
    assert!(matches!(
        Dataset::<f64>::from_row_major(0, 3, &[]).unwrap_err(),
        Error::EmptyData { .. }
    ));
    assert!(matches!(
        Dataset::<f64>::from_row_major(2, 3, &[0.0; 5]).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    assert!(matches!(
        Dataset::<f64>::from_row_major(usize::MAX, 3, &[0.0; 3]).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let d = good_data();
    assert!(matches!(
        d.select(&[]).unwrap_err(),
        Error::EmptyData { .. }
    ));
    assert!(matches!(d.head(0).unwrap_err(), Error::EmptyData { .. }));
    assert!(matches!(
        d.select(&[0, 20]).unwrap_err(),
        Error::InvalidParameter { .. }
    ));
    assert!(matches!(
        d.clone().with_labels(vec![0; 19]).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let mut small = DMatrix::zeros(4, 1);
    assert!(matches!(
        d.gather_into(&[0, 1], &mut small).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let mut wrong_rows = DMatrix::zeros(3, 2);
    assert!(matches!(
        d.gather_into(&[0, 1], &mut wrong_rows).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
}

#[test]
fn data_outside_the_unit_interval_is_rejected_by_fit() {
    for bad in [1.5, -0.25, 1.0 + 1e-12] {
        let mut m = good_data().into_samples();
        m[(2, 7)] = bad;
        let data = Dataset::from_columns(m).unwrap();
        let err = fit_err(&data, &good_config());
        assert!(
            matches!(err, Error::OutsideUnitInterval { sample: 7, feature: 2, value, .. } if value == bad),
            "{bad}: {err:?}"
        );
        // the same check guards the other entry points taking visible data
        let rbm = model();
        assert!(matches!(
            rbm.transform(&data).unwrap_err(),
            Error::OutsideUnitInterval { .. }
        ));
        assert!(matches!(
            rbm.pseudo_likelihood_exact(&data).unwrap_err(),
            Error::OutsideUnitInterval { .. }
        ));
        assert!(matches!(
            rbm.pseudo_likelihood(&data, &mut RunRng::seed_from_u64(0))
                .unwrap_err(),
            Error::OutsideUnitInterval { .. }
        ));
        assert!(matches!(
            rbm.free_energy_gradient(data.samples()).unwrap_err(),
            Error::OutsideUnitInterval { .. }
        ));
        assert!(matches!(
            data.binarize_stochastic(3).unwrap_err(),
            Error::OutsideUnitInterval { .. }
        ));
        let mut rbm = Rbm::<f64>::new(4, 3).unwrap();
        assert!(matches!(
            rbm.initialize(&Init::default(), Some(&data), &mut RunRng::seed_from_u64(0))
                .unwrap_err(),
            Error::OutsideUnitInterval { .. }
        ));
    }
}

#[test]
fn shape_mismatches_are_reported() {
    let rbm = model(); // 4 visible, 3 hidden
    let five = Dataset::from_columns(DMatrix::from_element(5, 10, 0.5)).unwrap();
    let err = fit_err(&five, &good_config());
    assert!(
        matches!(
            err,
            Error::ShapeMismatch {
                expected: (4, _),
                found: (5, _),
                ..
            }
        ),
        "{err:?}"
    );
    for e in [
        rbm.transform(&five).unwrap_err(),
        rbm.reconstruct(&five).unwrap_err(),
        rbm.reconstruction_error(&five).unwrap_err(),
        rbm.pseudo_likelihood_exact(&five).unwrap_err(),
        rbm.pseudo_likelihood(&five, &mut RunRng::seed_from_u64(0))
            .unwrap_err(),
        rbm.hidden_probabilities(five.samples()).unwrap_err(),
        rbm.free_energy_gradient(five.samples()).unwrap_err(),
        rbm.free_energy(five.samples().as_view()).unwrap_err(),
        rbm.visible_probabilities(&DMatrix::zeros(2, 3))
            .unwrap_err(),
        rbm.energy(
            DMatrix::zeros(4, 2).as_view(),
            DMatrix::zeros(3, 3).as_view(),
        )
        .unwrap_err(),
        rbm.energy(
            DMatrix::zeros(5, 2).as_view(),
            DMatrix::zeros(3, 2).as_view(),
        )
        .unwrap_err(),
    ] {
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    }
    // the `_into` methods check their buffers
    let v = DMatrix::from_element(4, 2, 0.5);
    let mut hp = DMatrix::zeros(3, 3);
    let mut hs = DMatrix::zeros(3, 2);
    let mut rng = RunRng::seed_from_u64(0);
    assert!(matches!(
        rbm.hidden_probabilities_into(v.as_view(), hp.as_view_mut())
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    assert!(matches!(
        rbm.sample_hidden_into(v.as_view(), hp.as_view_mut(), hs.as_view_mut(), &mut rng)
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let mut hp = DMatrix::zeros(3, 2);
    let mut hs_wrong = DMatrix::zeros(2, 2);
    assert!(matches!(
        rbm.sample_hidden_into(
            v.as_view(),
            hp.as_view_mut(),
            hs_wrong.as_view_mut(),
            &mut rng
        )
        .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let h = DMatrix::from_element(3, 2, 1.0);
    let mut vp = DMatrix::zeros(4, 1);
    let mut vs = DMatrix::zeros(4, 2);
    assert!(matches!(
        rbm.sample_visible_into(h.as_view(), vp.as_view_mut(), vs.as_view_mut(), &mut rng)
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let mut wrong_grad = Rbm::<f64>::new(4, 2).unwrap().params().clone();
    let hidden = rbm.hidden_probabilities(&v).unwrap();
    assert!(matches!(
        rbm.free_energy_gradient_into(v.as_view(), hidden.as_view(), 1.0, 0.0, &mut wrong_grad)
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let mut grad = rbm.params().zeros_like();
    assert!(matches!(
        rbm.free_energy_gradient_into(v.as_view(), hidden.columns(0, 1), 1.0, 0.0, &mut grad)
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    // a trainer step with a batch of the wrong height
    let cd = ContrastiveDivergence::new(1);
    let pcd = PersistentCd::new(1, 3);
    let rule = UpdateRule::<f64>::from_config(&good_config()).unwrap();
    let ctx = StepContext { epoch: 0, batch: 0 };
    let data = good_data();
    let bad_batch = DMatrix::from_element(5, 2, 0.5);
    let mut m = model();
    let mut st = cd.init_state(&m, &data, 5, &mut rng).unwrap();
    assert!(matches!(
        cd.step(&mut m, bad_batch.as_view(), &mut st, &rule, &mut rng, ctx)
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let mut st = pcd.init_state(&m, &data, 5, &mut rng).unwrap();
    assert!(matches!(
        pcd.step(&mut m, bad_batch.as_view(), &mut st, &rule, &mut rng, ctx)
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    assert!(m == model());
    // PCD chains initialised from data of the wrong width
    assert!(matches!(
        pcd.init_state(&m, &five, 5, &mut rng).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// hyper-parameters

#[test]
fn invalid_learning_rates() {
    let data = good_data();
    for lr in [0.0, -0.0, -0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = fit_err(&data, &good_config().learning_rate(lr));
        assert!(
            matches!(err, Error::InvalidLearningRate(x) if x.to_bits() == lr.to_bits()),
            "{lr}: {err:?}"
        );
        assert!(matches!(
            UpdateRule::<f32>::from_config(&good_config().learning_rate(lr)).unwrap_err(),
            Error::InvalidLearningRate(_)
        ));
    }
}

#[test]
fn invalid_trainers() {
    let data = good_data();
    assert!(matches!(
        fit_err_with(&data, &ContrastiveDivergence::new(0), &good_config()),
        Error::ZeroGibbsSteps
    ));
    assert!(matches!(
        fit_err_with(&data, &PersistentCd::new(0, 5), &good_config()),
        Error::ZeroGibbsSteps
    ));
    assert!(matches!(
        fit_err_with(&data, &PersistentCd::new(1, 0), &good_config()),
        Error::ZeroChains
    ));
}

#[test]
fn invalid_batch_sizes() {
    let data = good_data();
    assert!(matches!(
        fit_err(&data, &good_config().batch_size(0)),
        Error::ZeroBatchSize
    ));
    assert!(matches!(
        fit_err(&data, &good_config().batch_size(21)),
        Error::BatchLargerThanData {
            batch_size: 21,
            n_samples: 20
        }
    ));
    // batch = n is fine
    let mut rbm = model();
    rbm.fit(
        &data,
        &ContrastiveDivergence::new(1),
        &good_config().batch_size(20),
    )
    .unwrap();
    assert!(matches!(
        Minibatches::new(5, 0, false).unwrap_err(),
        Error::ZeroBatchSize
    ));
    assert!(matches!(
        Minibatches::new(0, 1, false).unwrap_err(),
        Error::EmptyData { .. }
    ));
    assert!(matches!(
        Minibatches::new(3, 5, true).unwrap_err(),
        Error::BatchLargerThanData {
            batch_size: 5,
            n_samples: 3
        }
    ));
}

#[test]
fn invalid_momentum_and_penalties() {
    let data = good_data();
    for mu in [-0.1, 1.0, 1.5, f64::NAN] {
        let err = fit_err(&data, &good_config().momentum(mu));
        assert!(
            matches!(err, Error::InvalidMomentum(x) if x.to_bits() == mu.to_bits()),
            "{mu}: {err:?}"
        );
    }
    // 0 and just below 1 are valid
    assert!(UpdateRule::<f64>::from_config(&good_config().momentum(0.0)).is_ok());
    assert!(UpdateRule::<f64>::from_config(&good_config().momentum(0.999)).is_ok());
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        let err = fit_err(&data, &good_config().weight_decay(bad));
        assert!(
            matches!(err, Error::InvalidPenalty { name: "weight_decay", value } if value.to_bits() == bad.to_bits()),
            "{bad}: {err:?}"
        );
        let err = fit_err(&data, &good_config().l1(bad));
        assert!(
            matches!(err, Error::InvalidPenalty { name: "l1", value } if value.to_bits() == bad.to_bits()),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn other_invalid_settings() {
    let data = good_data();
    assert!(matches!(
        fit_err(&data, &good_config().epochs(0)),
        Error::InvalidParameter { name: "epochs", .. }
    ));
    let metrics = MetricsConfig {
        max_samples: 0,
        ..MetricsConfig::default()
    };
    assert!(matches!(
        fit_err(&data, &good_config().metrics(metrics)),
        Error::InvalidParameter { .. }
    ));
    for std in [-1.0, f64::NAN, f64::INFINITY] {
        let init = Init {
            weight_std: std,
            ..Init::default()
        };
        assert!(matches!(
            fit_err(&data, &good_config().init(init)),
            Error::InvalidParameter {
                name: "weight_std",
                ..
            }
        ));
    }
    // initialising visible biases from data needs data
    let mut rbm = model();
    assert!(matches!(
        rbm.initialize(&Init::default(), None, &mut RunRng::seed_from_u64(0))
            .unwrap_err(),
        Error::InvalidParameter { .. }
    ));
    // Gibbs sampling settings
    let gibbs = |chains, thinning, samples_per_chain| GibbsConfig::<f64> {
        chains,
        burn_in: 1,
        thinning,
        samples_per_chain,
        start: GibbsStart::Noise,
    };
    let mut rng = RunRng::seed_from_u64(0);
    assert!(matches!(
        rbm.sample(&gibbs(0, 1, 1), &mut rng).unwrap_err(),
        Error::ZeroChains
    ));
    assert!(matches!(
        rbm.sample(&gibbs(2, 0, 1), &mut rng).unwrap_err(),
        Error::InvalidParameter {
            name: "thinning",
            ..
        }
    ));
    assert!(matches!(
        rbm.sample(&gibbs(2, 1, 0), &mut rng).unwrap_err(),
        Error::InvalidParameter {
            name: "samples_per_chain",
            ..
        }
    ));
    for start in [
        DMatrix::from_element(5, 2, 0.5),
        DMatrix::zeros(4, 0),
        DMatrix::from_element(4, 2, f64::NAN),
        DMatrix::from_element(4, 2, 2.0),
    ] {
        let config = GibbsConfig {
            start: GibbsStart::From(start),
            ..gibbs(1, 1, 1)
        };
        let err = rbm.sample(&config, &mut rng).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ShapeMismatch { .. }
                    | Error::EmptyData { .. }
                    | Error::NonFinite { .. }
                    | Error::OutsideUnitInterval { .. }
            ),
            "{err:?}"
        );
    }
    assert!(matches!(
        rbm.visible_probabilities(&DMatrix::from_element(3, 1, f64::NAN))
            .unwrap_err(),
        Error::NonFinite { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// model construction

#[test]
fn invalid_models() {
    for (nv, nh) in [(0, 3), (3, 0), (0, 0)] {
        assert!(matches!(
            Rbm::<f64>::new(nv, nh).unwrap_err(),
            Error::EmptyData { .. }
        ));
    }
    let w = DMatrix::from_element(3, 4, 0.1f64);
    let b = DVector::zeros(4);
    let c = DVector::zeros(3);
    assert!(matches!(
        Rbm::from_parameters(w.clone(), DVector::zeros(3), c.clone()).unwrap_err(),
        Error::ShapeMismatch {
            expected: (4, 1),
            found: (3, 1),
            ..
        }
    ));
    assert!(matches!(
        Rbm::from_parameters(w.clone(), b.clone(), DVector::zeros(4)).unwrap_err(),
        Error::ShapeMismatch {
            expected: (3, 1),
            found: (4, 1),
            ..
        }
    ));
    assert!(matches!(
        Rbm::from_parameters(DMatrix::zeros(0, 4), b.clone(), DVector::zeros(0)).unwrap_err(),
        Error::EmptyData { .. }
    ));
    let mut w_nan = w.clone();
    w_nan[(1, 2)] = f64::NAN;
    assert!(matches!(
        Rbm::from_parameters(w_nan, b.clone(), c.clone()).unwrap_err(),
        Error::NonFinite { what: "weights", value, .. } if value.is_nan()
    ));
    let mut b_inf = b.clone();
    b_inf[3] = f64::INFINITY;
    assert!(matches!(
        Rbm::from_parameters(w.clone(), b_inf, c.clone()).unwrap_err(),
        Error::NonFinite {
            what: "visible_bias",
            ..
        }
    ));
    let mut c_nan = c.clone();
    c_nan[0] = f64::NAN;
    assert!(matches!(
        Rbm::from_parameters(w, b, c_nan).unwrap_err(),
        Error::NonFinite {
            what: "hidden_bias",
            ..
        }
    ));
}

// ---------------------------------------------------------------------------------------------
// divergence

/// Stops the run after a given step.
struct StopAfter(usize, usize);

impl<T: Float> Observer<Rbm<T>> for StopAfter {
    fn on_epoch(&mut self, _: &Rbm<T>, _: &EpochReport) -> Control {
        Control::Continue
    }
    fn on_step(&mut self, _: &Rbm<T>, s: &StepReport) -> Control {
        if (s.epoch, s.batch) == (self.0, self.1) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
    fn wants_steps(&self) -> bool {
        true
    }
}

/// With ε = 1e30 and L2 decay λ₂ = 1 in f32, the first step sets |W| ~ 1e30 (finite); the
/// second multiplies the decay term by ε again (~1e60 = ∞ in f32). The run must stop with
/// `Diverged` at epoch 0, batch 1, block "weights", keeping exactly the parameters after the
/// first step (compared with a run stopped by an observer after that step).
#[test]
fn divergence_keeps_the_last_good_parameters() {
    let data = digits_scaled::<f32>().head(40).unwrap();
    let config = FitConfig::default()
        .epochs(3)
        .batch_size(10)
        .learning_rate(1e30)
        .momentum(0.0)
        .weight_decay(1.0)
        .seed(9);
    for pcd in [false, true] {
        let mut diverged = Rbm::<f32>::new(64, 16).unwrap();
        let mut stopped = diverged.clone();
        let (err, report) = if pcd {
            let t = PersistentCd::new(1, 5);
            (
                diverged.fit(&data, &t, &config).unwrap_err(),
                stopped.fit_observed(&data, &t, &config, &mut StopAfter(0, 0)),
            )
        } else {
            let t = ContrastiveDivergence::new(1);
            (
                diverged.fit(&data, &t, &config).unwrap_err(),
                stopped.fit_observed(&data, &t, &config, &mut StopAfter(0, 0)),
            )
        };
        assert!(
            matches!(
                err,
                Error::Diverged {
                    epoch: 0,
                    batch: 1,
                    block: "weights"
                }
            ),
            "pcd = {pcd}: {err:?}"
        );
        let report = report.unwrap();
        assert!(report.stopped_early);
        assert!(
            diverged.params().first_non_finite_block().is_none(),
            "non-finite parameters kept"
        );
        assert!(diverged.weights().iter().all(|w| w.is_finite()));
        // the parameters are those after exactly one step, and that step did happen
        assert!(
            diverged == stopped,
            "pcd = {pcd}: not the last good parameters"
        );
        assert!(diverged.weights().amax() > 1e20);
        // the model is still usable
        assert!(diverged.transform(&data).is_ok());
        assert!(diverged.free_energy(data.samples().as_view()).is_ok());
    }
}

/// A learning rate that is finite in f64 but not in f32 (1e39 > f32::MAX): the run must end
/// in an error, never with non-finite parameters.
#[test]
fn learning_rate_overflowing_f32_is_an_error() {
    let data = digits_scaled::<f32>().head(20).unwrap();
    let mut rbm = Rbm::<f32>::new(64, 4).unwrap();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(10)
        .learning_rate(1e39)
        .metrics(MetricsConfig::none());
    let err = rbm
        .fit(&data, &ContrastiveDivergence::new(1), &config)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidLearningRate(_)
                | Error::Diverged {
                    epoch: 0,
                    batch: 0,
                    ..
                }
        ),
        "{err:?}"
    );
    assert!(rbm.weights().iter().all(|w| w.is_finite()));
}

// ---------------------------------------------------------------------------------------------
// arithmetic edge cases

/// An initial weight scale that is finite as an `f64` but makes z·σ overflow the scalar type
/// (σ = 1e39 in f32, σ = f64::MAX in f64) must be an error, not a model with infinite weights.
#[test]
fn huge_initial_weight_scale_is_an_error() {
    let init = |weight_std| Init {
        weight_std,
        visible_bias: rbms::VisibleBiasInit::Zero,
        ..Init::default()
    };
    let mut rng = RunRng::seed_from_u64(0);
    let mut r32 = Rbm::<f32>::new(4, 3).unwrap();
    let res = r32.initialize(&init(1e39), None, &mut rng);
    assert!(
        matches!(
            res,
            Err(Error::InvalidParameter {
                name: "weight_std",
                ..
            })
        ),
        "{res:?}; weights {:?}",
        r32.weights().as_slice()
    );
    assert!(r32.weights().iter().all(|w| w.is_finite()));
    // f64::MAX·z overflows for every |z| > 1: certain among 1024 weights
    let mut r64 = Rbm::<f64>::new(64, 16).unwrap();
    let res = r64.initialize(&init(f64::MAX), None, &mut rng);
    assert!(
        matches!(
            res,
            Err(Error::InvalidParameter {
                name: "weight_std",
                ..
            })
        ),
        "{res:?}; {} non-finite weights",
        r64.weights().iter().filter(|w| !w.is_finite()).count()
    );
    assert!(r64.weights().iter().all(|w| w.is_finite()));
    // through fit: an error, and never non-finite parameters
    let data = digits_scaled::<f32>().head(20).unwrap();
    let mut r32 = Rbm::<f32>::new(64, 4).unwrap();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(10)
        .init(init(1e39))
        .metrics(MetricsConfig::none());
    let res = r32.fit(&data, &ContrastiveDivergence::new(1), &config);
    assert!(
        matches!(
            res,
            Err(Error::InvalidParameter {
                name: "weight_std",
                ..
            })
        ),
        "{res:?}"
    );
    assert!(
        r32.params().first_non_finite_block().is_none(),
        "fit left non-finite parameters"
    );
}

/// Gibbs settings whose step count overflows `usize` must be an error: in a debug build the
/// overflow panics, in a release build it wraps and the chains never reach a recorded step
/// (the result would be all zeros).
#[test]
fn gibbs_step_count_overflow_is_an_error() {
    let rbm = model();
    let config = GibbsConfig::<f64> {
        chains: 1,
        burn_in: 0,
        thinning: usize::MAX,
        samples_per_chain: 2,
        start: GibbsStart::Noise,
    };
    let res = std::panic::catch_unwind(|| rbm.sample(&config, &mut RunRng::seed_from_u64(0)));
    match res {
        Ok(Err(Error::InvalidParameter { .. })) => {}
        Ok(other) => panic!("expected InvalidParameter, got {other:?}"),
        Err(_) => panic!("Rbm::sample panicked on an overflowing step count"),
    }
}

/// `FitConfig::check` validates in f64, but an `UpdateRule<f32>` runs on the values rounded to
/// f32. Values valid in f64 that round out of range in f32 must be rejected with the same
/// variants: a learning rate of 1e39 (∞ in f32) or 1e-50 (0 in f32: training would silently do
/// nothing), a momentum of 1 − 1e-10 (1.0 in f32: the velocity never decays), a decay of 1e39.
#[test]
fn f32_update_rule_rejects_values_that_round_out_of_range() {
    let base = good_config();
    for lr in [1e39, 1e-50] {
        let res = UpdateRule::<f32>::from_config(&base.clone().learning_rate(lr));
        assert!(
            matches!(res, Err(Error::InvalidLearningRate(_))),
            "learning rate {lr}: {res:?}"
        );
    }
    let mu = 1.0 - 1e-10;
    assert!((mu as f32) == 1.0f32);
    let res = UpdateRule::<f32>::from_config(&base.clone().momentum(mu));
    assert!(
        matches!(res, Err(Error::InvalidMomentum(_))),
        "momentum {mu}: {res:?}"
    );
    let res = UpdateRule::<f32>::from_config(&base.clone().weight_decay(1e39));
    assert!(
        matches!(
            res,
            Err(Error::InvalidPenalty {
                name: "weight_decay",
                ..
            })
        ),
        "weight decay 1e39: {res:?}"
    );
    // the same values are fine in f64
    assert!(UpdateRule::<f64>::from_config(&base.clone().learning_rate(1e39)).is_ok());
    assert!(UpdateRule::<f64>::from_config(&base.clone().momentum(mu)).is_ok());
}

/// Gibbs sampling with more chains or samples than memory holds, or a count that overflows,
/// is an error, not an abort or a panic; AIS likewise for its runs. A value that does not fit
/// the type a data set is cast to is an error, not an infinite value.
#[test]
fn gibbs_sizes_too_large_for_memory_are_errors() {
    let rbm = Rbm::<f32>::new(64, 10).unwrap();
    let cases = [
        (1usize << 40, 1usize),
        (usize::MAX / 2, 1),
        (1, 1 << 40),
        (4, usize::MAX / 2),
    ];
    for (chains, samples_per_chain) in cases {
        let config = GibbsConfig::<f32> {
            chains,
            burn_in: 1,
            thinning: 1,
            samples_per_chain,
            start: GibbsStart::Noise,
        };
        let res = std::panic::catch_unwind(|| rbm.sample(&config, &mut RunRng::seed_from_u64(0)));
        match res {
            Ok(Err(Error::InvalidParameter { .. })) => {}
            Ok(other) => panic!("{chains} × {samples_per_chain}: got {other:?}"),
            Err(_) => panic!("{chains} × {samples_per_chain}: Rbm::sample panicked"),
        }
    }
    let data = digits_scaled::<f32>().head(20).unwrap();
    let config = rbms::rbm::ais::AisConfig::default().runs(usize::MAX);
    assert!(matches!(
        rbm.log_likelihood(&data, &config),
        Err(Error::InvalidParameter { .. })
    ));
    let wide = rbms::Dataset::from_row_major(1, 2, &[1e39f64, 0.5]).unwrap();
    assert!(matches!(wide.cast::<f32>(), Err(Error::NonFinite { .. })));
}

/// Sizes too large for memory are errors, not aborts: a model of 2^40 weights, 2^40 or
/// usize::MAX persistent chains; and a run of usize::MAX epochs that an observer stops trains
/// normally (no allocation sized by the epoch count).
#[test]
fn sizes_too_large_for_memory_are_errors() {
    use rbms::observe::FnObserver;
    assert!(matches!(
        Rbm::<f32>::new(1 << 20, 1 << 20),
        Err(Error::InvalidParameter { .. })
    ));
    let data = rbms::datasets::digits_scaled::<f32>().head(50).unwrap();
    let config = FitConfig::default()
        .epochs(2)
        .metrics(rbms::MetricsConfig::none());
    for chains in [usize::MAX, 1 << 40] {
        let mut rbm = Rbm::<f32>::new(64, 8).unwrap();
        let err = rbm
            .fit(&data, &PersistentCd::new(1, chains), &config)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { .. }),
            "{chains}: {err:?}"
        );
    }
    for epochs in [usize::MAX, 1 << 40] {
        let mut rbm = Rbm::<f32>::new(64, 8).unwrap();
        let mut stop = FnObserver(|_: &Rbm<f32>, r: &rbms::train::EpochReport| {
            if r.epoch == 1 {
                Control::Stop
            } else {
                Control::Continue
            }
        });
        let report = rbm
            .fit_observed(
                &data,
                &PersistentCd::new(1, 5),
                &config.clone().epochs(epochs),
                &mut stop,
            )
            .unwrap();
        assert_eq!(report.epochs.len(), 2);
        assert!(report.stopped_early);
    }
}

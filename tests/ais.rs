//! Annealed importance sampling against exact log Z: forward within its standard error on
//! random 20-hidden models, forward and reverse (from exact model samples) bracketing the exact
//! value, a base equal to the model giving the exact answer with zero variance, thread-count
//! invariance, the base-rate model, and bad settings.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use rand::SeedableRng;
use rbms::rbm::{AisBase, AisConfig, AisDirection, AisSchedule};
use rbms::{Dataset, Error, Rbm, RunRng};

fn model(nv: usize, nh: usize, values: &[f64], scale: f64) -> Rbm<f64> {
    let mut it = values.iter().cycle().map(|x| x * scale);
    Rbm::from_parameters(
        DMatrix::from_fn(nh, nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nh, |_, _| it.next().unwrap()),
    )
    .unwrap()
}

fn all_binary(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, 1 << n, |i, k| ((k >> i) & 1) as f64)
}

/// `n` exact samples of p(v), by inverse CDF over every visible state.
fn exact_samples(rbm: &Rbm<f64>, n: usize, seed: u64) -> Dataset<f64> {
    let states = all_binary(rbm.weights().ncols());
    let p = rbm
        .log_prob_exact(&Dataset::from_columns(states.clone()).unwrap())
        .unwrap()
        .map(f64::exp);
    let mut rng = RunRng::seed_from_u64(seed);
    let cols: Vec<usize> = (0..n)
        .map(|_| {
            let u = rand::Rng::next_u64(&mut rng) as f64 / u64::MAX as f64;
            let mut acc = 0.0;
            p.iter()
                .position(|&x| {
                    acc += x;
                    acc >= u
                })
                .unwrap_or(p.len() - 1)
        })
        .collect();
    Dataset::from_columns(DMatrix::from_fn(states.nrows(), n, |i, j| {
        states[(i, cols[j])]
    }))
    .unwrap()
}

proptest! {
    // A fixed seed: the AIS statements below are statistical, so the cases are pinned.
    #![proptest_config(ProptestConfig {
        cases: 6,
        rng_seed: RngSeed::Fixed(20081),
        ..ProptestConfig::default()
    })]

    /// Forward AIS with the default schedule and 100 runs lands within 3 of its standard errors
    /// (plus 0.005 nat for the bias of the log of a mean) of the exact log Z.
    #[test]
    fn forward_ais_is_within_three_standard_errors_on_20_hidden_models(
        nv in 6usize..=14,
        values in prop::collection::vec(-1.0..1.0f64, 97),
        scale in 0.3..1.2f64,
        seed in 0u64..1000,
    ) {
        let rbm = model(nv, 20, &values, scale);
        let exact = rbm.log_partition_exact().unwrap();
        let ais = rbm.ais(&AisConfig::default().seed(seed)).unwrap();
        prop_assert_eq!(ais.direction, AisDirection::Forward);
        prop_assert!(
            (ais.log_z - exact).abs() <= 3.0 * ais.stderr + 0.005,
            "AIS {} ± {} vs exact {}", ais.log_z, ais.stderr, exact
        );
        prop_assert!(ais.interval.0 <= exact && exact <= ais.interval.1,
            "exact {} outside {:?}", exact, ais.interval);
        prop_assert!(ais.effective_sample_size > 1.0 && ais.effective_sample_size <= 100.0);
    }
}

/// Reverse AIS started at exact model samples and forward AIS bracket the exact value within
/// their error bars, on models whose chains mix slowly enough for the two to differ.
#[test]
fn forward_and_reverse_bracket_the_exact_value() {
    let values: Vec<f64> = (0..300)
        .map(|k| ((k * 7919 % 211) as f64 / 105.0) - 1.0)
        .collect();
    for (nv, nh, scale) in [(10, 20, 1.5), (12, 8, 2.5)] {
        let rbm = model(nv, nh, &values, scale);
        let exact = rbm.log_partition_exact().unwrap();
        let config = AisConfig::default()
            .schedule(AisSchedule::linear(300).unwrap())
            .seed(5);
        let fwd = rbm.ais(&config).unwrap();
        let rev = rbm
            .reverse_ais(&exact_samples(&rbm, 400, 9), &config)
            .unwrap();
        assert_eq!(rev.direction, AisDirection::Reverse);
        let (lo, hi) = (fwd.log_z.min(rev.log_z), fwd.log_z.max(rev.log_z));
        let se = fwd.stderr.max(rev.stderr);
        assert!(
            lo - 3.0 * se <= exact && exact <= hi + 3.0 * se,
            "{nv}x{nh}: forward {} ± {}, reverse {} ± {}, exact {exact}",
            fwd.log_z,
            fwd.stderr,
            rev.log_z,
            rev.stderr
        );
        assert!(
            rev.interval.0 <= exact && exact <= rev.interval.1,
            "reverse interval {:?} misses {exact}",
            rev.interval
        );
    }
}

/// When the base model is the model itself (W = 0, c = 0, b = b_A) every log-weight is exactly
/// 0: the estimate is exact with zero variance, forward and reverse.
#[test]
fn base_equal_to_model_gives_the_exact_answer() {
    let b = DVector::from_fn(7, |i, _| i as f64 * 0.3 - 1.0);
    let rbm = Rbm::from_parameters(DMatrix::zeros(5, 7), b.clone(), DVector::zeros(5)).unwrap();
    let exact = rbm.log_partition_exact().unwrap();
    let config = AisConfig::default()
        .schedule(AisSchedule::linear(50).unwrap())
        .base(AisBase::VisibleBias(b));
    let data = Dataset::from_columns(all_binary(7)).unwrap();
    for est in [
        rbm.ais(&config).unwrap(),
        rbm.reverse_ais(&data, &config).unwrap(),
    ] {
        assert!(est.log_weights.iter().all(|&w| w == 0.0));
        assert!(
            (est.log_z - exact).abs() < 1e-12,
            "{} vs {exact}",
            est.log_z
        );
        assert_eq!(est.stderr, 0.0);
        assert_eq!(est.effective_sample_size, 100.0);
    }
}

/// The same seed gives the same bits with 1, 2 or 3 threads; another seed gives other bits.
#[test]
fn results_do_not_depend_on_threads() {
    let values: Vec<f64> = (0..100)
        .map(|k| ((k * 37 % 23) as f64 / 11.0) - 1.0)
        .collect();
    let rbm = model(70, 80, &values, 0.3).clone();
    let rbm32 = Rbm::<f32>::from_parameters(
        rbm.weights().map(|x| x as f32),
        rbm.visible_bias().map(|x| x as f32),
        rbm.hidden_bias().map(|x| x as f32),
    )
    .unwrap();
    let config = AisConfig::default()
        .schedule(AisSchedule::linear(40).unwrap())
        .runs(60)
        .seed(11);
    let one = rbm32.ais(&config.clone().threads(1)).unwrap();
    for t in [2, 3] {
        assert_eq!(one, rbm32.ais(&config.clone().threads(t)).unwrap());
    }
    let data = Dataset::from_columns(all_binary(7).resize(70, 128, 1.0)).unwrap();
    let r1 = rbm.reverse_ais(&data, &config.clone().threads(1)).unwrap();
    assert_eq!(
        r1,
        rbm.reverse_ais(&data, &config.clone().threads(2)).unwrap()
    );
    assert_ne!(
        one.log_weights,
        rbm32.ais(&config.seed(12)).unwrap().log_weights
    );
}

/// Base-rate biases are logit((p̄ + 0.05)/1.05), capped for features that are always on, and
/// the base model's log p normalises.
#[test]
fn base_rate_model() {
    // Feature means 0, 0.25, 1.
    let data = Dataset::from_columns(DMatrix::from_row_slice(
        3,
        4,
        &[0., 0., 0., 0., 1., 0., 0., 0., 1., 1., 1., 1.],
    ))
    .unwrap();
    let AisBase::VisibleBias(b) = AisBase::from_data(&data).unwrap() else {
        panic!("expected visible biases")
    };
    let logit = |q: f64| (q / (1.0 - q)).ln();
    let want = [logit(0.05 / 1.05), logit(0.3 / 1.05), logit(1.0 / 1.05)];
    for (g, w) in b.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    let base = AisBase::VisibleBias(b);
    let all = Dataset::from_columns(all_binary(3)).unwrap();
    let total: f64 = base.log_prob(&all).unwrap().iter().map(|l| l.exp()).sum();
    assert!((total - 1.0).abs() < 1e-12, "Σ p_A(v) = {total}");
    // Z_A = 2^n_hidden Π (1 + e^b).
    let z: f64 = base.log_partition(3, 4).unwrap();
    let want: f64 = 4.0 * 2f64.ln() + want.iter().map(|&x| (1.0 + x.exp()).ln()).sum::<f64>();
    assert!((z - want).abs() < 1e-12);
}

#[test]
fn bad_settings_are_errors() {
    let rbm = Rbm::<f64>::new(4, 3).unwrap();
    let invalid = |e: Error| matches!(e, Error::InvalidParameter { .. });
    assert!(invalid(
        AisSchedule::from_betas(vec![0.0, 0.5, 0.5, 1.0]).unwrap_err()
    ));
    assert!(invalid(
        AisSchedule::from_betas(vec![0.1, 1.0]).unwrap_err()
    ));
    assert!(invalid(
        AisSchedule::from_betas(vec![0.0, f64::NAN, 1.0]).unwrap_err()
    ));
    assert!(invalid(
        AisSchedule::piecewise(&[(0.5, 10), (0.9, 0), (1.0, 5)]).unwrap_err()
    ));
    assert!(invalid(AisSchedule::piecewise(&[(0.5, 10)]).unwrap_err()));
    assert!(invalid(AisSchedule::linear(0).unwrap_err()));
    assert!(invalid(rbm.ais(&AisConfig::default().runs(1)).unwrap_err()));
    assert!(invalid(
        rbm.ais(&AisConfig::default().threads(0)).unwrap_err()
    ));
    let e = rbm
        .ais(&AisConfig::default().base(AisBase::VisibleBias(DVector::zeros(5))))
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = rbm
        .ais(
            &AisConfig::default().base(AisBase::VisibleBias(DVector::from_element(
                4,
                f64::INFINITY,
            ))),
        )
        .unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    // Reverse chains start from binary states only; shapes are checked.
    let grey = Dataset::from_columns(DMatrix::from_element(4, 3, 0.5)).unwrap();
    let e = rbm.reverse_ais(&grey, &AisConfig::default()).unwrap_err();
    assert!(e.to_string().contains("binary"), "{e}");
    let wrong = Dataset::from_columns(DMatrix::zeros(5, 3)).unwrap();
    assert!(matches!(
        rbm.reverse_ais(&wrong, &AisConfig::default()).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    let e = AisBase::from_data(&grey.scaled(3.0).unwrap()).unwrap_err();
    assert!(matches!(e, Error::OutsideUnitInterval { .. }), "{e}");
}

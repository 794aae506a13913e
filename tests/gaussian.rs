//! Gaussian–Bernoulli RBMs (unit variance and learned σ): free-energy gradients against finite
//! differences, F(v) against the enumeration of h, exact log Z against numeric integration,
//! AIS against the exact log Z, the conditionals and the sampler against their closed forms,
//! standardisation, validation per unit kind, and training through the shared trainers
//! (metrics, the free-energy gap, divergence).

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::SeedableRng;
use rbms::energy::GradientTerm;
use rbms::gradcheck::{check_free_energy_gradient, CheckConfig};
use rbms::rbm::{AisConfig, AisSchedule, GaussianAisBase};
use rbms::train::{StepContext, UpdateRule};
use rbms::units::{Bernoulli, Gaussian, GaussianParams, GaussianSigma};
use rbms::{
    datasets, ContrastiveDivergence, Dataset, EnergyModel, Error, FitConfig, FreeEnergyGap,
    GaussianRbm, GaussianSigmaRbm, GibbsConfig, Init, LayerParams, Model, Parameters, PersistentCd,
    Rbm, RunRng, Standardizer,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn layer(nv: usize, nh: usize, values: &[f64]) -> LayerParams<f64> {
    let mut it = values.iter().cycle().copied();
    LayerParams::new(
        DMatrix::from_fn(nh, nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nh, |_, _| it.next().unwrap()),
    )
    .unwrap()
}

fn gb(nv: usize, nh: usize, values: &[f64]) -> GaussianRbm<f64> {
    GaussianRbm::with_params(layer(nv, nh, values))
}

fn gbs(nv: usize, nh: usize, values: &[f64], log_sigma: &[f64]) -> GaussianSigmaRbm<f64> {
    let z = DVector::from_fn(nv, |i, _| log_sigma[i % log_sigma.len()]);
    GaussianSigmaRbm::with_params(GaussianParams::new(layer(nv, nh, values), z).unwrap())
}

const VALUES: [f64; 11] = [0.7, -1.3, 0.2, 1.9, -0.4, 0.05, -2.1, 1.1, -0.6, 0.9, 1.4];

fn real_data(nv: usize, n: usize, seed: usize) -> DMatrix<f64> {
    DMatrix::from_fn(nv, n, |i, j| {
        (((i * 7 + j * 3 + seed) as f64) * 0.913).sin() * 2.0 - 0.3
    })
}

/// All 2^nh binary hidden states, one per column.
fn hidden_states(nh: usize) -> DMatrix<f64> {
    DMatrix::from_fn(nh, 1 << nh, |j, s| ((s >> j) & 1) as f64)
}

/// −log Σ_h exp(−E(v, h)) by enumerating h, with the model's `energy`.
fn free_energy_by_enumeration<M: EnergyModel<Scalar = f64>>(m: &M, v: &DMatrix<f64>) -> Vec<f64> {
    let hs = hidden_states(m.n_hidden());
    (0..v.ncols())
        .map(|n| {
            let vn = DMatrix::from_fn(v.nrows(), hs.ncols(), |i, _| v[(i, n)]);
            let e = m.energy(vn.as_view(), hs.as_view()).unwrap();
            let max = e.iter().map(|&x| -x).fold(f64::NEG_INFINITY, f64::max);
            -(max + e.iter().map(|&x| (-x - max).exp()).sum::<f64>().ln())
        })
        .collect()
}

fn standardized_digits(n: usize) -> Dataset<f64> {
    let data = datasets::digits_scaled::<f64>().head(n).unwrap();
    Standardizer::fit(&data).unwrap().transform(&data).unwrap()
}

// ---------------------------------------------------------------------------------------------
// free-energy gradients by finite differences (proptest over shapes, parameters, data)

fn params_strategy() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1usize..5, 1usize..5).prop_flat_map(|(nv, nh)| {
        (
            Just(nv),
            Just(nh),
            proptest::collection::vec(-1.5..1.5f64, nh * nv + nv + nh),
            proptest::collection::vec(-0.7..0.7f64, nv),
            proptest::collection::vec(-3.0..3.0f64, nv * 3),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(6), ..ProptestConfig::default() })]

    #[test]
    fn gaussian_free_energy_gradient_matches_differences(
        (nv, nh, values, _z, data) in params_strategy()
    ) {
        let m = gb(nv, nh, &values);
        let v = DMatrix::from_vec(nv, 3, data);
        let report = check_free_energy_gradient(&m, &v, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-7, 1e-6), "{report}");
    }

    #[test]
    fn gaussian_sigma_free_energy_gradient_matches_differences(
        (nv, nh, values, z, data) in params_strategy()
    ) {
        let m = gbs(nv, nh, &values, &z);
        let v = DMatrix::from_vec(nv, 3, data);
        let report = check_free_energy_gradient(&m, &v, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-7, 1e-6), "{report}");
        // The log σ block is really there and really checked.
        let g = m.free_energy_gradient(&v).unwrap();
        prop_assert_eq!(g.n_blocks(), 4);
        prop_assert_eq!(g.block_name(3), "log_sigma");
        prop_assert!(report.block("log_sigma").is_some());
    }

    #[test]
    fn free_energy_is_minus_log_sum_over_hidden_states(
        (nv, nh, values, z, data) in params_strategy()
    ) {
        let v = DMatrix::from_vec(nv, 3, data);
        let m = gb(nv, nh, &values);
        let f = m.free_energy(v.as_view()).unwrap();
        for (a, b) in f.iter().zip(free_energy_by_enumeration(&m, &v)) {
            prop_assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let m = gbs(nv, nh, &values, &z);
        let f = m.free_energy(v.as_view()).unwrap();
        for (a, b) in f.iter().zip(free_energy_by_enumeration(&m, &v)) {
            prop_assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

/// A wrong σ convention (e.g. v·σ instead of v/σ in one place) would break this identity; the
/// log σ gradient is checked at a point where every term matters.
#[test]
fn log_sigma_gradient_at_a_fixed_point() {
    let m = gbs(3, 2, &VALUES, &[0.4, -0.3, 0.9]);
    let v = real_data(3, 4, 1);
    let report = check_free_energy_gradient(&m, &v, &CheckConfig::default()).unwrap();
    assert!(report.within(1e-8, 1e-7), "{report}");
    assert!(report.block("log_sigma").unwrap().max_abs < 1e-8);
}

// ---------------------------------------------------------------------------------------------
// conditionals

#[test]
fn conditionals_have_their_closed_forms() {
    let z = [0.3, -0.5, 0.8];
    let m = gbs(3, 2, &VALUES, &z);
    let sigma: Vec<f64> = z.iter().map(|z: &f64| z.exp()).collect();
    let (w, b, c) = (m.weights(), m.visible_bias(), m.hidden_bias());
    let v = real_data(3, 2, 4);
    let ph = m.hidden_probabilities(&v).unwrap();
    for n in 0..2 {
        for j in 0..2 {
            let x: f64 = c[j]
                + (0..3)
                    .map(|i| w[(j, i)] * v[(i, n)] / sigma[i])
                    .sum::<f64>();
            assert!((ph[(j, n)] - 1.0 / (1.0 + (-x).exp())).abs() < 1e-14);
        }
    }
    let h = DMatrix::from_column_slice(2, 2, &[1.0, 0.0, 1.0, 1.0]);
    let mv = m.visible_probabilities(&h).unwrap();
    for n in 0..2 {
        for i in 0..3 {
            let a: f64 = (0..2).map(|j| w[(j, i)] * h[(j, n)]).sum();
            assert!((mv[(i, n)] - (b[i] + sigma[i] * a)).abs() < 1e-14);
        }
    }
}

/// With no weights, v ~ N(b, σ²) exactly: the sampler's mean and variance per unit.
#[test]
fn gibbs_samples_of_a_disconnected_model_are_normal() {
    let nv = 3;
    let params = GaussianParams::new(
        LayerParams::new(
            DMatrix::zeros(2, nv),
            DVector::from_vec(vec![1.5, -0.5, 0.0]),
            DVector::zeros(2),
        )
        .unwrap(),
        DVector::from_vec(vec![0.0, 2f64.ln(), -1.0]),
    )
    .unwrap();
    let m = GaussianSigmaRbm::with_params(params);
    let mut rng = RunRng::seed_from_u64(3);
    let config = GibbsConfig {
        chains: 2000,
        burn_in: 1,
        thinning: 1,
        samples_per_chain: 5,
        ..Default::default()
    };
    let s = m.sample(&config, &mut rng).unwrap();
    let n = s.states.ncols() as f64;
    for (i, (mu, sd)) in [(1.5, 1.0), (-0.5, 2.0), (0.0, (-1.0f64).exp())]
        .into_iter()
        .enumerate()
    {
        let row = s.states.row(i);
        let mean = row.sum() / n;
        let var = row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // 10,000 draws: the mean within 4 standard errors, the variance within 5%.
        assert!(
            (mean - mu).abs() < 4.0 * sd / n.sqrt(),
            "unit {i}: mean {mean}"
        );
        assert!((var / (sd * sd) - 1.0).abs() < 0.05, "unit {i}: var {var}");
    }
}

// ---------------------------------------------------------------------------------------------
// the partition function

/// Z = ∫ exp(−F(v)) dv by the trapezoid rule on a fine grid over a wide range.
fn log_z_by_integration<M: EnergyModel<Scalar = f64>>(m: &M, lo: f64, hi: f64, n: usize) -> f64 {
    let h = (hi - lo) / (n - 1) as f64;
    let grid: Vec<f64> = (0..n).map(|k| lo + k as f64 * h).collect();
    let weight = |k: usize| if k == 0 || k == n - 1 { 0.5 } else { 1.0 };
    let mut total = 0.0;
    match m.n_visible() {
        1 => {
            let v = DMatrix::from_row_slice(1, n, &grid);
            let f = m.free_energy(v.as_view()).unwrap();
            for k in 0..n {
                total += weight(k) * (-f[k]).exp() * h;
            }
        }
        2 => {
            for (a, &x) in grid.iter().enumerate() {
                let v = DMatrix::from_fn(2, n, |i, k| if i == 0 { x } else { grid[k] });
                let f = m.free_energy(v.as_view()).unwrap();
                for k in 0..n {
                    total += weight(a) * weight(k) * (-f[k]).exp() * h * h;
                }
            }
        }
        _ => unreachable!(),
    }
    total.ln()
}

#[test]
fn exact_log_z_matches_numeric_integration_one_visible_unit() {
    for (nh, z) in [(1, 0.0), (3, 0.5), (4, -0.7)] {
        let m = gb(1, nh, &VALUES);
        let exact = m.log_partition_exact().unwrap();
        let numeric = log_z_by_integration(&m, -30.0, 30.0, 20_001);
        assert!(
            (exact - numeric).abs() < 1e-9,
            "nh {nh}: {exact} vs {numeric}"
        );
        let m = gbs(1, nh, &VALUES, &[z]);
        let exact = m.log_partition_exact().unwrap();
        let numeric = log_z_by_integration(&m, -30.0, 30.0, 20_001);
        assert!(
            (exact - numeric).abs() < 1e-9,
            "σ nh {nh}: {exact} vs {numeric}"
        );
    }
}

#[test]
fn exact_log_z_matches_numeric_integration_two_visible_units() {
    let m = gb(2, 3, &VALUES);
    let exact = m.log_partition_exact().unwrap();
    let numeric = log_z_by_integration(&m, -25.0, 25.0, 1_201);
    assert!((exact - numeric).abs() < 1e-8, "{exact} vs {numeric}");
    let m = gbs(2, 2, &VALUES, &[0.4, -0.6]);
    let exact = m.log_partition_exact().unwrap();
    let numeric = log_z_by_integration(&m, -25.0, 25.0, 1_201);
    assert!((exact - numeric).abs() < 1e-8, "σ: {exact} vs {numeric}");
}

/// The enumeration splits the hidden layer into a table of 10 units and an outer loop: a model
/// with more than 10 hidden units exercises both, against the sum over the hidden states of
/// the closed-form Gaussian integral computed independently here.
#[test]
fn exact_log_z_with_more_than_ten_hidden_units() {
    let (nv, nh) = (3, 12);
    let values: Vec<f64> = (0..nv * nh + nv + nh)
        .map(|k| (k as f64 * 1.37).sin() * 0.4)
        .collect();
    let m = gbs(nv, nh, &values, &[0.2, -0.1, 0.3]);
    let sigma: Vec<f64> = [0.2f64, -0.1, 0.3].iter().map(|z| z.exp()).collect();
    let (w, b, c) = (m.weights(), m.visible_bias(), m.hidden_bias());
    let mut terms = Vec::new();
    for s in 0..1usize << nh {
        let h: Vec<f64> = (0..nh).map(|j| ((s >> j) & 1) as f64).collect();
        let mut e: f64 = (0..nh).map(|j| c[j] * h[j]).sum();
        for i in 0..nv {
            let a: f64 = (0..nh).map(|j| w[(j, i)] * h[j]).sum();
            e += b[i] * a / sigma[i] + 0.5 * a * a;
            e += (sigma[i] * (2.0 * std::f64::consts::PI).sqrt()).ln();
        }
        terms.push(e);
    }
    let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let direct = max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
    let exact = m.log_partition_exact().unwrap();
    assert!((exact - direct).abs() < 1e-10, "{exact} vs {direct}");
}

#[test]
fn log_prob_exact_integrates_to_one() {
    let m = gbs(1, 3, &VALUES, &[0.3]);
    let n = 20_001;
    let grid = DMatrix::from_fn(1, n, |_, k| -30.0 + 60.0 * k as f64 / (n - 1) as f64);
    let lp = m
        .log_prob_exact(&Dataset::from_columns(grid).unwrap())
        .unwrap();
    let h = 60.0 / (n - 1) as f64;
    let total: f64 = lp
        .iter()
        .enumerate()
        .map(|(k, l)| if k == 0 || k == n - 1 { 0.5 } else { 1.0 } * l.exp() * h)
        .sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
}

#[test]
fn exact_log_z_refuses_too_many_hidden_units() {
    let m = GaussianRbm::<f64>::zeros(2, 33).unwrap();
    assert!(matches!(
        m.log_partition_exact(),
        Err(Error::TooLargeToEnumerate {
            units: 33,
            limit: 32
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// AIS

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    /// Forward AIS from the standard-normal base lands within 3 standard errors (plus a small
    /// slack for the finite schedule's bias) of the exact log Z on random small models.
    #[test]
    fn ais_agrees_with_exact_log_z(
        nv in 2usize..6,
        nh in 2usize..8,
        seed in 0u64..1000,
        learned in any::<bool>(),
    ) {
        let values: Vec<f64> = (0..nv * nh + nv + nh)
            .map(|k| ((k as f64 + seed as f64) * 0.731).sin() * 0.6)
            .collect();
        let config = AisConfig::default()
            .schedule(AisSchedule::linear(2_000).unwrap())
            .runs(100)
            .seed(seed);
        let base = GaussianAisBase::standard(nv);
        let (ais, exact) = if learned {
            let z: Vec<f64> = (0..nv).map(|i| ((i as f64 + 1.0) * 0.9).cos() * 0.4).collect();
            let m = gbs(nv, nh, &values, &z);
            (m.ais(&base, &config).unwrap(), m.log_partition_exact().unwrap())
        } else {
            let m = gb(nv, nh, &values);
            (m.ais(&base, &config).unwrap(), m.log_partition_exact().unwrap())
        };
        prop_assert!(
            (ais.log_z - exact).abs() < 3.0 * ais.stderr + 0.01,
            "AIS {} ± {} vs exact {}", ais.log_z, ais.stderr, exact
        );
        prop_assert!(ais.stderr > 0.0 && ais.stderr < 0.2, "stderr {}", ais.stderr);
    }
}

/// When the base is the model itself (no weights, same mean and σ), every log-weight is 0 and
/// the estimate is exact.
#[test]
fn ais_from_the_model_itself_is_exact() {
    let params = GaussianParams::new(
        LayerParams::new(
            DMatrix::zeros(3, 2),
            DVector::from_vec(vec![0.5, -1.0]),
            DVector::zeros(3),
        )
        .unwrap(),
        DVector::from_vec(vec![0.2, -0.4]),
    )
    .unwrap();
    let m = GaussianSigmaRbm::with_params(params);
    let base = GaussianAisBase::new(
        DVector::from_vec(vec![0.5, -1.0]),
        DVector::from_vec(vec![0.2f64.exp(), (-0.4f64).exp()]),
    )
    .unwrap();
    let config = AisConfig::default()
        .schedule(AisSchedule::linear(50).unwrap())
        .runs(30);
    let ais = m.ais(&base, &config).unwrap();
    assert!(ais.log_weights.iter().all(|w| w.abs() < 1e-12));
    assert!((ais.log_z - m.log_partition_exact().unwrap()).abs() < 1e-12);
}

#[test]
fn ais_rejects_a_base_of_the_wrong_size_and_bad_bases() {
    let m = GaussianRbm::<f64>::zeros(3, 2).unwrap();
    let config = AisConfig::default().schedule(AisSchedule::linear(10).unwrap());
    assert!(matches!(
        m.ais(&GaussianAisBase::standard(4), &config),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(GaussianAisBase::new(DVector::zeros(2), DVector::from_vec(vec![1.0, 0.0])).is_err());
    assert!(GaussianAisBase::new(
        DVector::from_vec(vec![f64::NAN]),
        DVector::from_vec(vec![1.0])
    )
    .is_err());
}

// ---------------------------------------------------------------------------------------------
// standardisation

#[test]
fn standardisation_round_trip_and_moments() {
    let x = real_data(5, 40, 2);
    let data = Dataset::from_columns(x.clone()).unwrap();
    let st = Standardizer::fit(&data).unwrap();
    let z = st.transform(&data).unwrap();
    for row in z.samples().row_iter() {
        let mean = row.sum() / 40.0;
        let var = row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 40.0;
        assert!(
            mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12,
            "{mean} {var}"
        );
    }
    let back = st.inverse_transform(&z).unwrap();
    assert!((back.samples() - &x).amax() < 1e-12);
    // New data uses the training statistics, not its own.
    let new = Dataset::from_columns(DMatrix::from_element(5, 1, 1.0)).unwrap();
    let zn = st.transform(&new).unwrap();
    for i in 0..5 {
        let expect = (1.0 - st.mean()[i]) / st.std()[i];
        assert!((zn.samples()[(i, 0)] - expect).abs() < 1e-12);
    }
}

#[test]
fn zero_variance_features_are_centred_not_scaled() {
    let mut x = real_data(3, 20, 0);
    x.row_mut(1).fill(0.7);
    let data = Dataset::from_columns(x.clone()).unwrap();
    let st = Standardizer::fit(&data).unwrap();
    assert_eq!(st.std()[1], 0.0);
    assert_eq!(st.scale()[1], 1.0);
    let z = st.transform(&data).unwrap();
    assert!(z.samples().iter().all(|v| v.is_finite()));
    assert!(z.samples().row(1).iter().all(|&v| v.abs() < 1e-15));
    let new = Dataset::from_columns(DMatrix::from_element(3, 1, 1.7)).unwrap();
    assert!((st.transform(&new).unwrap().samples()[(1, 0)] - 1.0).abs() < 1e-12);
    let back = st.inverse_transform(&z).unwrap();
    assert!((back.samples() - &x).amax() < 1e-12);
    // The wrong number of features is an error.
    let wrong = Dataset::from_columns(DMatrix::zeros(4, 2)).unwrap();
    assert!(matches!(
        st.transform(&wrong),
        Err(Error::ShapeMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// validation per unit kind

#[test]
fn validation_depends_on_the_unit_kind() {
    let v = DMatrix::from_column_slice(2, 2, &[1.5, -3.0, 0.2, 40.0]);
    let bb = Rbm::<f64>::new(2, 2).unwrap();
    assert!(matches!(
        bb.check_visible(&v),
        Err(Error::OutsideUnitInterval { .. })
    ));
    let g = GaussianRbm::<f64>::zeros(2, 2).unwrap();
    g.check_visible(&v).unwrap();
    let s = GaussianSigmaRbm::<f64>::zeros(2, 2).unwrap();
    s.check_visible(&v).unwrap();
    let mut nan = v.clone();
    nan[(1, 1)] = f64::NAN;
    assert!(matches!(
        g.check_visible(&nan),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        s.check_visible(&nan),
        Err(Error::NonFinite { .. })
    ));
    // fit checks the data for the kind: Bernoulli refuses real values, Gaussian takes them.
    let data = Dataset::from_columns(v).unwrap();
    let config = FitConfig::default().epochs(1).batch_size(2);
    let cd = ContrastiveDivergence::new(1);
    assert!(matches!(
        Rbm::<f64>::new(2, 2).unwrap().fit(&data, &cd, &config),
        Err(Error::OutsideUnitInterval { .. })
    ));
    GaussianRbm::<f64>::zeros(2, 2)
        .unwrap()
        .fit(&data, &cd, &config.clone().learning_rate(0.001))
        .unwrap();
    // log σ must be finite and of length n_visible.
    let l = layer(2, 2, &VALUES);
    assert!(GaussianParams::new(l.clone(), DVector::zeros(3)).is_err());
    assert!(GaussianParams::new(l, DVector::from_vec(vec![0.0, f64::INFINITY])).is_err());
}

// ---------------------------------------------------------------------------------------------
// training through the shared trainers

#[test]
fn cd_and_pcd_train_gaussian_models_on_standardised_digits() {
    let data = standardized_digits(1797);
    let config = FitConfig::default()
        .epochs(10)
        .learning_rate(0.005)
        .batch_size(10)
        .momentum(0.5)
        .seed(5);
    let mut before = GaussianRbm::<f64>::zeros(64, 16).unwrap();
    before
        .initialize(&Init::default(), Some(&data), &mut RunRng::seed_from_u64(5))
        .unwrap();
    let start = before.reconstruction_error(&data).unwrap();
    let mut cd = GaussianRbm::<f64>::zeros(64, 16).unwrap();
    let report = cd
        .fit(&data, &ContrastiveDivergence::new(1), &config)
        .unwrap();
    let m = report.final_metrics().unwrap();
    assert!(m.pseudo_likelihood.is_none() && m.pseudo_likelihood_exact.is_none());
    let end = m.recon_mse.unwrap();
    assert!(end < 0.7 * start, "CD-1 reconstruction {start} → {end}");
    // Exact log-likelihood improves over the initial model's.
    let ll = |m: &GaussianRbm<f64>| m.log_prob_exact(&data).unwrap().mean();
    let (ll_start, ll_end) = (ll(&before), ll(&cd));
    assert!(ll_end > ll_start + 5.0, "log p {ll_start} → {ll_end}");

    let mut pcd = GaussianSigmaRbm::<f64>::zeros(64, 16).unwrap();
    let report = pcd
        .fit(
            &data,
            &PersistentCd::new(1, 10),
            &config.clone().learning_rate(0.001),
        )
        .unwrap();
    let m = report.final_metrics().unwrap();
    assert!(m.recon_mse.unwrap().is_finite() && m.pseudo_likelihood.is_none());
    assert!(pcd.params().first_non_finite_block().is_none());
    assert!(pcd.log_sigma().iter().any(|&z| z != 0.0), "σ is learned");
}

#[test]
fn same_seed_same_gaussian_run() {
    let data = standardized_digits(200)
        .cast::<f32>()
        .expect("digits fit f32");
    let config = FitConfig::default()
        .epochs(2)
        .learning_rate(0.002)
        .batch_size(20)
        .seed(9);
    let run = || {
        let mut m = GaussianSigmaRbm::<f32>::zeros(64, 8).unwrap();
        m.fit(&data, &PersistentCd::new(1, 10), &config).unwrap();
        m
    };
    assert_eq!(run(), run());
}

#[test]
fn a_huge_learning_rate_diverges_with_finite_parameters() {
    let data = standardized_digits(200);
    for lr in [1e6, 1e12] {
        let config = FitConfig::default()
            .epochs(50)
            .learning_rate(lr)
            .batch_size(10)
            .seed(1);
        let mut g = GaussianRbm::<f64>::zeros(64, 16).unwrap();
        let err = g
            .fit(&data, &ContrastiveDivergence::new(1), &config)
            .unwrap_err();
        assert!(matches!(err, Error::Diverged { .. }), "{err}");
        assert!(g.params().first_non_finite_block().is_none());
        let mut s = GaussianSigmaRbm::<f64>::zeros(64, 16).unwrap();
        let err = s
            .fit(&data, &PersistentCd::new(1, 10), &config)
            .unwrap_err();
        assert!(matches!(err, Error::Diverged { .. }), "{err}");
        assert!(s.params().first_non_finite_block().is_none());
    }
}

#[test]
fn free_energy_gap_monitors_a_gaussian_model() {
    let data = standardized_digits(600);
    let train = data.head(300).unwrap();
    let valid = data.select(&(300..600).collect::<Vec<_>>()).unwrap();
    let mut m = GaussianRbm::<f64>::zeros(64, 16).unwrap();
    let mut gap = FreeEnergyGap::new(&m, train.head(100).unwrap(), valid, 1).unwrap();
    let config = FitConfig::default()
        .epochs(3)
        .learning_rate(0.002)
        .batch_size(10)
        .seed(2);
    m.fit_observed(&train, &ContrastiveDivergence::new(1), &config, &mut gap)
        .unwrap();
    assert_eq!(gap.history().len(), 3);
    let last = gap.history()[2];
    let (t, v) = gap.measure(&m).unwrap();
    assert_eq!((t, v), (last.train, last.valid));
    assert!((last.gap - (v - t)).abs() < 1e-12);
}

/// The generic type names the same model as the aliases.
#[test]
fn aliases_name_the_generic_types() {
    let a: Rbm<f64, Gaussian, Bernoulli> = GaussianRbm::<f64>::zeros(2, 1).unwrap();
    let b: Rbm<f64, GaussianSigma, Bernoulli> = GaussianSigmaRbm::<f64>::zeros(2, 1).unwrap();
    assert_eq!(a.n_visible(), b.n_visible());
    assert_eq!(b.sigma().as_slice(), &[1.0, 1.0]);
}

/// The fused update (small layers, no σ block) equals two gradient accumulations and the rule;
/// the learned-σ model takes the unfused path and must agree with it too.
#[test]
fn contrastive_update_equals_two_gradients_and_the_rule() {
    fn check<M>(mut m: M, data: &Dataset<f64>)
    where
        M: EnergyModel<Scalar = f64> + rbms::train::FitModel + Clone,
    {
        let mut rng = RunRng::seed_from_u64(8);
        m.initialize_for_fit(data, &Init::default(), &mut rng)
            .unwrap();
        // Move off the symmetric start so that every block has a gradient.
        let mut p = m.params().clone();
        for b in 0..p.n_blocks() {
            for (k, x) in p.block_mut(b).iter_mut().enumerate() {
                *x += ((k as f64 + 1.0) * 0.61 + b as f64).sin() * 0.05;
            }
        }
        *m.params_mut() = p;
        let av = data.samples().columns(0, 10).into_owned();
        let bv = data.samples().columns(10, 10).into_owned();
        let ah = m.hidden_probabilities(&av).unwrap();
        let bh = m.hidden_probabilities(&bv).unwrap();
        let config = FitConfig::default()
            .learning_rate(0.01)
            .momentum(0.5)
            .weight_decay(1e-3);
        let rule = UpdateRule::<f64>::from_config(&config).unwrap();
        let ctx = StepContext { epoch: 0, batch: 0 };
        let zeros = m.params().zeros_like();

        let mut g = zeros.clone();
        m.free_energy_gradient_into(av.as_view(), ah.as_view(), 0.1, 0.0, &mut g)
            .unwrap();
        m.free_energy_gradient_into(bv.as_view(), bh.as_view(), -0.1, 1.0, &mut g)
            .unwrap();
        let mut expected = m.clone();
        let mut velocity = zeros.clone();
        let mut start = zeros.clone();
        for b in 0..start.n_blocks() {
            start.block_mut(b).fill(0.01);
        }
        velocity.add_assign(&start);
        let mut v2 = velocity.clone();
        rule.apply(expected.params_mut(), &g, &mut velocity, ctx)
            .unwrap();

        let mut actual = m.clone();
        let mut scratch = zeros.clone();
        actual
            .contrastive_update(
                GradientTerm {
                    visible: av.as_view(),
                    hidden: ah.as_view(),
                    scale: 0.1,
                },
                GradientTerm {
                    visible: bv.as_view(),
                    hidden: bh.as_view(),
                    scale: -0.1,
                },
                &rule,
                &mut v2,
                &mut scratch,
                ctx,
            )
            .unwrap();
        for b in 0..g.n_blocks() {
            let (e, a) = (expected.params().block(b), actual.params().block(b));
            let moved = e.iter().zip(m.params().block(b)).any(|(x, y)| x != y);
            assert!(moved, "block {b} moved");
            for (x, y) in e.iter().zip(a) {
                assert!((x - y).abs() < 1e-13, "block {b}: {x} vs {y}");
            }
            for (x, y) in velocity.block(b).iter().zip(v2.block(b)) {
                assert!((x - y).abs() < 1e-13, "velocity block {b}: {x} vs {y}");
            }
        }
    }
    let data = standardized_digits(40);
    check(GaussianRbm::<f64>::zeros(64, 16).unwrap(), &data);
    check(GaussianSigmaRbm::<f64>::zeros(64, 16).unwrap(), &data);
    let bits = datasets::digits_scaled::<f64>().head(40).unwrap();
    check(Rbm::<f64>::new(64, 16).unwrap(), &bits);
}

#[test]
fn early_stopping_on_reconstruction_error_and_no_pseudo_likelihood() {
    use rbms::{EarlyStopping, ValidationMetric};
    let data = standardized_digits(400);
    let train = data.head(300).unwrap();
    let valid = data.select(&(300..400).collect::<Vec<_>>()).unwrap();
    let mut m = GaussianRbm::<f64>::zeros(64, 16).unwrap();
    assert!(matches!(
        EarlyStopping::new(&m, valid.clone(), ValidationMetric::PseudoLikelihood, 2),
        Err(Error::InvalidParameter { name: "metric", .. })
    ));
    let mut early =
        EarlyStopping::new(&m, valid.clone(), ValidationMetric::ReconstructionError, 2).unwrap();
    let config = FitConfig::default()
        .epochs(4)
        .learning_rate(0.005)
        .batch_size(10)
        .seed(4);
    m.fit_observed(&train, &ContrastiveDivergence::new(1), &config, &mut early)
        .unwrap();
    let history = early.history().to_vec();
    assert_eq!(history.len(), 4);
    let best = early.best_score().unwrap();
    assert!(history.iter().all(|&(_, x)| x >= best));
    // The monitor measured what the model's own metric gives, and restores the best epoch.
    assert_eq!(history[3].1, m.reconstruction_error(&valid).unwrap());
    early.restore_best(&mut m).unwrap();
    assert_eq!(m.reconstruction_error(&valid).unwrap(), best);
}

/// Reverse AIS started at (near-exact) model samples lands within 3 standard errors of the
/// exact log Z, and `log_likelihood` brackets the exact mean log-density.
#[test]
fn reverse_ais_from_model_samples_agrees_with_exact_log_z() {
    for (learned, seed) in [(false, 1u64), (true, 2), (false, 3)] {
        let (nv, nh) = (4, 5);
        let values: Vec<f64> = (0..nv * nh + nv + nh)
            .map(|k| ((k as f64 + seed as f64 * 7.0) * 0.731).sin() * 0.6)
            .collect();
        let z = [0.3, -0.2, 0.1, -0.35];
        let (a, b) = (gb(nv, nh, &values), gbs(nv, nh, &values, &z));
        let mut rng = RunRng::seed_from_u64(seed);
        let gibbs = GibbsConfig {
            chains: 100,
            burn_in: 500,
            ..Default::default()
        };
        let config = AisConfig::default()
            .schedule(AisSchedule::linear(2_000).unwrap())
            .runs(100)
            .seed(seed);
        let base = GaussianAisBase::standard(nv);
        let (reverse, ll, exact, exact_lp) = if learned {
            let data = Dataset::from_columns(b.sample(&gibbs, &mut rng).unwrap().states).unwrap();
            (
                b.reverse_ais(&data, &base, &config).unwrap(),
                b.log_likelihood(&data, &base, &config).unwrap(),
                b.log_partition_exact().unwrap(),
                b.log_prob_exact(&data).unwrap().mean(),
            )
        } else {
            let data = Dataset::from_columns(a.sample(&gibbs, &mut rng).unwrap().states).unwrap();
            (
                a.reverse_ais(&data, &base, &config).unwrap(),
                a.log_likelihood(&data, &base, &config).unwrap(),
                a.log_partition_exact().unwrap(),
                a.log_prob_exact(&data).unwrap().mean(),
            )
        };
        assert_eq!(reverse.direction, rbms::rbm::AisDirection::Reverse);
        assert!(
            (reverse.log_z - exact).abs() < 3.0 * reverse.stderr + 0.01,
            "reverse {} ± {} vs exact {exact}",
            reverse.log_z,
            reverse.stderr
        );
        let slack = 3.0 * (ll.forward.stderr + ll.reverse.stderr) + 0.02;
        assert!((ll.forward_log_prob() - exact_lp).abs() < slack);
        assert!((ll.reverse_log_prob() - exact_lp).abs() < slack);
    }
}

/// Early stopping on the free-energy gap works for a Gaussian model (the gap is generic); the
/// AIS log-likelihood metric is that of Bernoulli models and is refused.
#[test]
fn early_stopping_on_the_free_energy_gap() {
    use rbms::rbm::AisConfig as Ais;
    use rbms::EarlyStopping;
    let data = standardized_digits(400);
    let train = data.head(300).unwrap();
    let valid = data.select(&(300..400).collect::<Vec<_>>()).unwrap();
    let mut m = GaussianRbm::<f64>::zeros(64, 16).unwrap();
    assert!(matches!(
        EarlyStopping::ais(&m, valid.clone(), Ais::default(), 2),
        Err(Error::InvalidParameter { name: "metric", .. })
    ));
    let subset = train.head(100).unwrap();
    let mut early = EarlyStopping::free_energy_gap(&m, subset.clone(), valid.clone(), 5).unwrap();
    let config = FitConfig::default()
        .epochs(3)
        .learning_rate(0.005)
        .batch_size(10)
        .seed(4);
    m.fit_observed(&train, &ContrastiveDivergence::new(1), &config, &mut early)
        .unwrap();
    let (_, last) = *early.history().last().unwrap();
    let mean_f = |d: &Dataset<f64>| m.free_energy(d.samples().as_view()).unwrap().mean();
    assert!((last - (mean_f(&valid) - mean_f(&subset))).abs() < 1e-9);
}

/// The log-weights do not depend on the number of threads (each block has its own stream),
/// forward and reverse.
#[test]
fn gaussian_ais_is_the_same_on_any_number_of_threads() {
    let m = gbs(3, 4, &VALUES, &[0.2, -0.1, 0.3]);
    let data = Dataset::from_columns(real_data(3, 30, 5)).unwrap();
    let base = GaussianAisBase::from_data(&data).unwrap();
    let config = AisConfig::default()
        .schedule(AisSchedule::linear(100).unwrap())
        .runs(90) // 4 blocks, the last one short
        .seed(7);
    let one = m.ais(&base, &config.clone().threads(1)).unwrap();
    let three = m.ais(&base, &config.clone().threads(3)).unwrap();
    assert_eq!(one.log_weights.len(), 90);
    assert_eq!(one, three);
    let r1 = m
        .reverse_ais(&data, &base, &config.clone().threads(1))
        .unwrap();
    let r2 = m.reverse_ais(&data, &base, &config.threads(2)).unwrap();
    assert_eq!(r1, r2);
    assert_ne!(one.log_weights, r1.log_weights);
}

/// Finite parameters or data that overflow (σ = e^−800 or e^800, values near 1e200) give
/// NonFinite errors from the free energy, log Z and log p, never a silent NaN or infinity;
/// the standardiser refuses non-finite values in a bare matrix too.
#[test]
fn overflowing_finite_values_are_errors() {
    let layer = LayerParams::new(
        DMatrix::from_element(2, 2, 0.1),
        DVector::from_element(2, 0.0),
        DVector::from_element(2, 0.0),
    )
    .unwrap();
    let v = DMatrix::from_element(2, 3, 0.5);
    for z in [-800.0, 800.0] {
        let m = rbms::GaussianSigmaRbm::<f64>::with_params(
            GaussianParams::new(layer.clone(), DVector::from_element(2, z)).unwrap(),
        );
        let fe = m.free_energy(v.as_view());
        assert!(
            matches!(fe, Err(Error::NonFinite { .. }))
                || fe.as_ref().is_ok_and(|f| f.iter().all(|x| x.is_finite())),
            "log sigma {z}: {fe:?}"
        );
        assert!(
            matches!(m.log_partition_exact(), Err(Error::NonFinite { .. })),
            "log sigma {z}"
        );
    }
    let g = rbms::GaussianRbm::<f64>::with_params(layer);
    let huge = DMatrix::from_element(2, 2, 1e200);
    assert!(matches!(
        g.free_energy(huge.as_view()),
        Err(Error::NonFinite { .. })
    ));
    let data = Dataset::from_columns(huge).unwrap();
    assert!(matches!(
        g.log_prob_exact(&data),
        Err(Error::NonFinite { .. })
    ));
    let s = rbms::Standardizer::fit(&Dataset::from_columns(v.clone()).unwrap()).unwrap();
    assert!(s
        .transform_matrix(&DMatrix::from_element(2, 1, f64::NAN))
        .is_err());
    assert!(s
        .inverse_transform_matrix(&DMatrix::from_element(2, 1, f64::INFINITY))
        .is_err());
}

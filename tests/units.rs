//! Hidden units of another kind through the same generic model: ±1 spins
//! (`Rbm<T, V, Spin>`), checked against their closed forms, the enumeration of h, finite
//! differences, and training with the shared trainers.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::SeedableRng;
use rbms::gradcheck::{check_free_energy_gradient, CheckConfig};
use rbms::units::{Bernoulli, Gaussian, Spin};
use rbms::{
    datasets, ContrastiveDivergence, EnergyModel, FitConfig, LayerParams, PersistentCd, Rbm, RunRng,
};

type SpinRbm = Rbm<f64, Bernoulli, Spin>;
type GaussianSpinRbm = Rbm<f64, Gaussian, Spin>;

fn layer(nv: usize, nh: usize, values: &[f64]) -> LayerParams<f64> {
    let mut it = values.iter().cycle().copied();
    LayerParams::new(
        DMatrix::from_fn(nh, nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nh, |_, _| it.next().unwrap()),
    )
    .unwrap()
}

/// −log Σ_h exp(−E(v, h)) over h ∈ {−1, +1}^n_hidden, with the model's `energy`.
fn free_energy_over_spins<M: EnergyModel<Scalar = f64>>(m: &M, v: &DMatrix<f64>) -> Vec<f64> {
    let nh = m.n_hidden();
    let hs = DMatrix::from_fn(
        nh,
        1 << nh,
        |j, s| {
            if (s >> j) & 1 == 1 {
                1.0
            } else {
                -1.0
            }
        },
    );
    (0..v.ncols())
        .map(|n| {
            let vn = DMatrix::from_fn(v.nrows(), hs.ncols(), |i, _| v[(i, n)]);
            let e = m.energy(vn.as_view(), hs.as_view()).unwrap();
            let max = e.iter().map(|&x| -x).fold(f64::NEG_INFINITY, f64::max);
            -(max + e.iter().map(|&x| (-x - max).exp()).sum::<f64>().ln())
        })
        .collect()
}

fn strategy() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<bool>, Vec<f64>)> {
    (1usize..5, 1usize..5).prop_flat_map(|(nv, nh)| {
        (
            Just(nv),
            Just(nh),
            proptest::collection::vec(-1.5..1.5f64, nh * nv + nv + nh),
            proptest::collection::vec(any::<bool>(), nv * 3),
            proptest::collection::vec(-3.0..3.0f64, nv * 3),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(4), ..ProptestConfig::default() })]

    #[test]
    fn spin_free_energy_and_gradient((nv, nh, values, bits, real) in strategy()) {
        let binary = DMatrix::from_iterator(nv, 3, bits.iter().map(|&b| b as u8 as f64));
        let m = SpinRbm::with_params(layer(nv, nh, &values));
        let f = m.free_energy(binary.as_view()).unwrap();
        for (a, b) in f.iter().zip(free_energy_over_spins(&m, &binary)) {
            prop_assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let report = check_free_energy_gradient(&m, &binary, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-7, 1e-6), "{report}");

        let real = DMatrix::from_vec(nv, 3, real);
        let g = GaussianSpinRbm::with_params(layer(nv, nh, &values));
        let f = g.free_energy(real.as_view()).unwrap();
        for (a, b) in f.iter().zip(free_energy_over_spins(&g, &real)) {
            prop_assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let report = check_free_energy_gradient(&g, &real, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-7, 1e-6), "{report}");
    }
}

#[test]
fn spin_conditional_is_tanh_and_samples_match_it() {
    let values = [0.7, -1.3, 0.2, 1.9, -0.4, 0.05, -2.1];
    let m = SpinRbm::with_params(layer(3, 2, &values));
    let v = DMatrix::from_column_slice(3, 2, &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
    let mean = m.hidden_probabilities(&v).unwrap();
    for n in 0..2 {
        for j in 0..2 {
            let x: f64 =
                m.hidden_bias()[j] + (0..3).map(|i| m.weights()[(j, i)] * v[(i, n)]).sum::<f64>();
            assert!((mean[(j, n)] - x.tanh()).abs() < 1e-14);
        }
    }
    // 20,000 draws per unit: the sample mean is within 4 standard errors of tanh(x).
    let n = 20_000;
    let vs = DMatrix::from_fn(3, n, |i, k| v[(i, k % 2)]);
    let mut probs = DMatrix::zeros(2, n);
    let mut states = DMatrix::zeros(2, n);
    let mut rng = RunRng::seed_from_u64(1);
    m.sample_hidden_into(
        vs.as_view(),
        probs.as_view_mut(),
        states.as_view_mut(),
        &mut rng,
    )
    .unwrap();
    assert!(states.iter().all(|&s| s == 1.0 || s == -1.0));
    for c in 0..2 {
        for j in 0..2 {
            let cols: Vec<f64> = (c..n).step_by(2).map(|k| states[(j, k)]).collect();
            let avg = cols.iter().sum::<f64>() / cols.len() as f64;
            let t = mean[(j, c)];
            let se = ((1.0 - t * t) / cols.len() as f64).sqrt();
            assert!((avg - t).abs() < 4.0 * se + 1e-12, "{avg} vs {t}");
        }
    }
}

#[test]
fn spin_hidden_units_train_with_cd_and_pcd() {
    let data = datasets::digits_scaled::<f64>().head(500).unwrap();
    let config = FitConfig::default()
        .epochs(5)
        .learning_rate(0.05)
        .batch_size(10)
        .seed(3);
    let mut start = SpinRbm::zeros(64, 32).unwrap();
    start
        .initialize(
            &Default::default(),
            Some(&data),
            &mut RunRng::seed_from_u64(3),
        )
        .unwrap();
    let before = start.reconstruction_error(&data).unwrap();
    for pcd in [false, true] {
        let mut m = SpinRbm::zeros(64, 32).unwrap();
        let report = if pcd {
            m.fit(&data, &PersistentCd::new(1, 10), &config)
        } else {
            m.fit(&data, &ContrastiveDivergence::new(1), &config)
        }
        .unwrap();
        let metrics = report.final_metrics().unwrap();
        // The pseudo-likelihood is that of Bernoulli hidden units: not reported for spins.
        assert!(metrics.pseudo_likelihood.is_none());
        let after = metrics.recon_mse.unwrap();
        assert!(after < 0.75 * before, "pcd={pcd}: {before} → {after}");
    }
}

/// Restored persistent chains are checked against the model's hidden units: −1 is a state of
/// a spin, not of a Bernoulli unit.
#[test]
fn persistent_chains_of_spins_are_checked_as_spins() {
    use rbms::train::{Resumable, StepContext, UpdateRule};
    use rbms::Trainer;
    let data = datasets::digits_scaled::<f64>().head(100).unwrap();
    let pcd = PersistentCd::new(1, 10);
    let mut m = SpinRbm::zeros(64, 8).unwrap();
    let mut rng = RunRng::seed_from_u64(2);
    m.initialize(&Default::default(), Some(&data), &mut rng)
        .unwrap();
    let mut state = pcd.init_state(&m, &data, 10, &mut rng).unwrap();
    let rule = UpdateRule::<f64>::from_config(&FitConfig::default()).unwrap();
    let ctx = StepContext { epoch: 0, batch: 0 };
    for s in 0..5 {
        let batch = data.samples().columns(s * 10, 10).into_owned();
        pcd.step(&mut m, batch.as_view(), &mut state, &rule, &mut rng, ctx)
            .unwrap();
    }
    assert!(state.chain_hidden_states().iter().any(|&h| h == -1.0));
    pcd.check_state(&m, &state).unwrap();
    let bernoulli = Rbm::<f64>::with_params(rbms::Model::params(&m).clone());
    assert!(matches!(
        pcd.check_state(&bernoulli, &state),
        Err(rbms::Error::ResumeMismatch {
            what: "chain hidden states",
            ..
        })
    ));
}

/// log of Σ exp(xᵢ), stably.
fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Exact log Z of spin models against brute force: Σ over every (v, h) of exp(−E) for binary
/// visibles; for a Gaussian visible unit, a fine trapezoid rule over v of exp(−F(v)) with F
/// from the enumeration of h. log p(v) then sums to 1 over all v.
#[test]
fn spin_models_have_exact_log_z_and_ais() {
    use rbms::rbm::{AisConfig, AisSchedule, GaussianAisBase};
    for (nv, nh, seed) in [(3usize, 2usize, 0.3f64), (4, 3, 1.1), (2, 4, -0.7)] {
        let values: Vec<f64> = (0..40)
            .map(|k| ((k as f64) * seed + 0.5).sin() * 1.2)
            .collect();
        let m = SpinRbm::with_params(layer(nv, nh, &values));
        let all = DMatrix::from_fn(nv, 1 << nv, |i, s| ((s >> i) & 1) as f64);
        let f = free_energy_over_spins(&m, &all);
        let brute = log_sum_exp(&f.iter().map(|x| -x).collect::<Vec<_>>());
        let exact = m.log_partition_exact().unwrap();
        assert!(
            (exact - brute).abs() < 1e-10,
            "{nv}×{nh}: {exact} vs {brute}"
        );
        let data = rbms::Dataset::from_columns(all.clone()).unwrap();
        let total: f64 = m
            .log_prob_exact(&data)
            .unwrap()
            .iter()
            .map(|x| x.exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-10, "{total}");
        let config = AisConfig::default()
            .schedule(AisSchedule::linear(1000).unwrap())
            .runs(100)
            .seed(4);
        let ais = m.ais(&config).unwrap();
        assert!(
            (ais.log_z - exact).abs() < 3.0 * ais.stderr + 0.02,
            "{ais:?} vs {exact}"
        );
        assert!(ais.interval.0 <= ais.log_z && ais.log_z <= ais.interval.1);
        let ll = m.log_likelihood(&data, &config).unwrap();
        let mean_exact = m.log_prob_exact(&data).unwrap().mean();
        assert!((ll.forward_log_prob() - mean_exact).abs() < 0.05);
    }
    // one Gaussian visible unit, three spin hidden units: ∫ exp(−F(v)) dv by the trapezoid rule
    let values = [0.8, -0.5, 1.1, 0.3, -0.4, 0.2, 0.6];
    let g = GaussianSpinRbm::with_params(layer(1, 3, &values));
    let (lo, hi, n) = (-40.0, 40.0, 200_000);
    let step = (hi - lo) / n as f64;
    let grid = DMatrix::from_fn(1, n + 1, |_, k| lo + k as f64 * step);
    let neg_f: Vec<f64> = free_energy_over_spins(&g, &grid)
        .iter()
        .map(|x| -x)
        .collect();
    let mut terms = neg_f.clone();
    terms[0] -= std::f64::consts::LN_2;
    terms[n] -= std::f64::consts::LN_2;
    let numeric = log_sum_exp(&terms) + step.ln();
    let exact = g.log_partition_exact().unwrap();
    assert!((exact - numeric).abs() < 1e-8, "{exact} vs {numeric}");
    let config = AisConfig::default()
        .schedule(AisSchedule::linear(2000).unwrap())
        .runs(100)
        .seed(5);
    let ais = g.ais(&GaussianAisBase::standard(1), &config).unwrap();
    assert!(
        (ais.log_z - exact).abs() < 3.0 * ais.stderr + 0.05,
        "{ais:?} vs {exact}"
    );
}

//! Exact likelihood: log Z against brute-force enumeration of both layers, swap invariance,
//! normalisation of exact log p, the exact log-likelihood gradient against finite differences,
//! the gradient identity with the model expectation by enumeration, CD-k against the exact
//! gradient, and the size limit.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rbms::gradcheck::{check_log_likelihood_gradient, CheckConfig};
use rbms::{Dataset, EnergyModel, Error, Model, Parameters, Rbm};

/// log Σ exp(xᵢ), independent of the crate.
fn lse(xs: &[f64]) -> f64 {
    let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + xs.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
}

fn all_binary(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, 1 << n, |i, k| ((k >> i) & 1) as f64)
}

/// log Z = log Σ_{v,h} exp(−E(v, h)) over every joint state, straight from the energy.
fn brute_force_log_z(rbm: &Rbm<f64>) -> f64 {
    let vs = all_binary(rbm.n_visible());
    let hs = all_binary(rbm.n_hidden());
    let mut neg_e = Vec::new();
    for a in 0..vs.ncols() {
        let v = DMatrix::from_fn(vs.nrows(), hs.ncols(), |i, _| vs[(i, a)]);
        let e = rbm.energy(v.as_view(), hs.as_view()).unwrap();
        neg_e.extend(e.iter().map(|x| -x));
    }
    lse(&neg_e)
}

fn model(nv: usize, nh: usize, values: &[f64], scale: f64) -> Rbm<f64> {
    let mut it = values.iter().cycle().map(|x| x * scale);
    Rbm::from_parameters(
        DMatrix::from_fn(nh, nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nh, |_, _| it.next().unwrap()),
    )
    .unwrap()
}

/// The model with the layers exchanged: W → Wᵀ, b ↔ c. Same Z.
fn swapped(rbm: &Rbm<f64>) -> Rbm<f64> {
    Rbm::from_parameters(
        rbm.weights().transpose(),
        rbm.hidden_bias().clone(),
        rbm.visible_bias().clone(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn log_z_matches_brute_force_and_is_swap_invariant(
        nv in 1usize..=6,
        nh in 1usize..=6,
        values in prop::collection::vec(-1.0..1.0f64, 64),
        scale in prop_oneof![Just(0.5), Just(2.0), Just(6.0)],
    ) {
        let rbm = model(nv, nh, &values, scale);
        let exact = rbm.log_partition_exact().unwrap();
        let brute = brute_force_log_z(&rbm);
        prop_assert!((exact - brute).abs() <= 1e-10 * (1.0 + brute.abs()), "{} vs {}", exact, brute);
        let swap = swapped(&rbm).log_partition_exact().unwrap();
        prop_assert!((exact - swap).abs() <= 1e-10 * (1.0 + brute.abs()), "{} vs swapped {}", exact, swap);
    }

    /// ∇ log p from enumeration equals central differences of the exact mean log p.
    #[test]
    fn exact_gradient_matches_finite_differences_of_exact_log_p(
        nv in 1usize..=5,
        nh in 1usize..=5,
        values in prop::collection::vec(-1.0..1.0f64, 48),
        data in prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64], 15),
        n in 1usize..=3,
    ) {
        let rbm = model(nv, nh, &values, 1.5);
        let v = Dataset::from_columns(DMatrix::from_fn(nv, n, |i, j| data[(j * nv + i) % data.len()])).unwrap();
        let report = check_log_likelihood_gradient(&rbm, &v, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-6, 1e-6), "{}", report);
    }
}

/// Models large enough for the inner/outer split (more than 10 enumerated units) against an
/// independent sum of exp(−F(v)) over every visible state, enumerating each layer in turn.
#[test]
fn log_z_with_split_enumeration_matches_sum_over_visible_states() {
    let values: Vec<f64> = (0..500)
        .map(|k| ((k * 7919 % 211) as f64 / 105.0) - 1.0)
        .collect();
    for (nv, nh) in [(13, 11), (12, 14)] {
        let rbm = model(nv, nh, &values, 0.8);
        let vs = all_binary(nv);
        let f = rbm.free_energy(vs.as_view()).unwrap();
        let want = lse(&f.iter().map(|x| -x).collect::<Vec<_>>());
        let got = rbm.log_partition_exact().unwrap();
        assert!(
            (got - want).abs() < 1e-9 * want.abs(),
            "{nv}x{nh}: {got} vs {want}"
        );
        // log p over all visible states sums to one.
        let all = Dataset::from_columns(vs).unwrap();
        let total: f64 = rbm
            .log_prob_exact(&all)
            .unwrap()
            .iter()
            .map(|l| l.exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{nv}x{nh}: Σ p(v) = {total}");
    }
}

#[test]
fn f32_models_are_evaluated_in_f64() {
    let values: Vec<f64> = (0..200)
        .map(|k| ((k * 31 % 17) as f64 / 8.0) - 1.0)
        .collect();
    let rbm64 = model(9, 7, &values, 1.0);
    let rbm32 = Rbm::<f32>::from_parameters(
        rbm64.weights().map(|x| x as f32),
        rbm64.visible_bias().map(|x| x as f32),
        rbm64.hidden_bias().map(|x| x as f32),
    )
    .unwrap();
    // The same f32-representable parameters give the same f64 log Z to f64 precision.
    let back = Rbm::<f64>::from_parameters(
        rbm32.weights().map(|x| x as f64),
        rbm32.visible_bias().map(|x| x as f64),
        rbm32.hidden_bias().map(|x| x as f64),
    )
    .unwrap();
    let a = rbm32.log_partition_exact().unwrap();
    let b = brute_force_log_z(&back);
    assert!((a - b).abs() < 1e-10 * b.abs(), "{a} vs {b}");
}

#[test]
fn models_too_large_to_enumerate_are_an_error() {
    let rbm = Rbm::<f32>::new(784, 500).unwrap();
    let e = rbm.log_partition_exact().unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLargeToEnumerate {
                units: 500,
                limit: 32
            }
        ),
        "{e}"
    );
    let rbm = Rbm::<f64>::new(30, 21).unwrap();
    let data = Dataset::from_columns(DMatrix::zeros(30, 2)).unwrap();
    let e = rbm.log_likelihood_gradient_exact(&data).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLargeToEnumerate {
                units: 21,
                limit: 20
            }
        ),
        "{e}"
    );
    let e = Rbm::<f64>::new(4, 3)
        .unwrap()
        .log_prob_with(
            &Dataset::from_columns(DMatrix::zeros(4, 1)).unwrap(),
            f64::NAN,
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "log_z", .. }),
        "{e}"
    );
}

/// ∇θ ⟨log p(v)⟩ = −⟨∇θ F(v)⟩_data + E_model[∇θ F(v)], with the model expectation computed
/// here by enumerating every visible state and weighting ∇F(v) by the exact p(v). The crate's
/// exact gradient enumerates the smaller layer (the hidden one for these shapes), so the two
/// sides are computed along different paths.
#[test]
fn log_likelihood_gradient_identity_with_model_expectation_by_enumeration() {
    let values: Vec<f64> = (0..300)
        .map(|k| ((k * 7919 % 211) as f64 / 105.0) - 1.0)
        .collect();
    for (nv, nh) in [(7, 3), (5, 5), (4, 6)] {
        let rbm = model(nv, nh, &values, 1.3);
        let data = Dataset::from_columns(DMatrix::from_fn(nv, 3, |i, j| {
            ((i * 3 + j * 5) % 4 == 0) as u8 as f64
        }))
        .unwrap();
        let states = all_binary(nv);
        let p = rbm
            .log_prob_exact(&Dataset::from_columns(states.clone()).unwrap())
            .unwrap()
            .map(f64::exp);
        // E_model[∇F] = Σ_v p(v) ∇F(v).
        let mut expectation = rbm.params().zeros_like();
        for s in 0..states.ncols() {
            let g = rbm
                .free_energy_gradient(&states.columns(s, 1).into_owned())
                .unwrap();
            for b in 0..g.n_blocks() {
                for (e, x) in expectation.block_mut(b).iter_mut().zip(g.block(b)) {
                    *e += p[s] * x;
                }
            }
        }
        let data_term = rbm.free_energy_gradient(data.samples()).unwrap();
        let exact = rbm.log_likelihood_gradient_exact(&data).unwrap();
        for b in 0..exact.n_blocks() {
            for k in 0..exact.block(b).len() {
                let want = -data_term.block(b)[k] + expectation.block(b)[k];
                let got = exact.block(b)[k];
                assert!(
                    (got - want).abs() < 1e-12,
                    "{nv}x{nh} {} [{k}]: {got} vs {want}",
                    exact.block_name(b)
                );
            }
        }
    }
}

/// The CD-k estimate −⟨∇F⟩_data + ⟨∇F(v_k)⟩, v_k after k Gibbs sweeps started at the data,
/// approaches the exact gradient as k grows. 40,000 chains (each data vector repeated): every
/// component of ∇F lies in [−1, 0], so the Monte Carlo standard error of a component is at
/// most 0.5/√40000 = 0.0025, and the tolerance for k = 200 is 0.015 (6 standard errors,
/// for the maximum over the 30 components). The model's weights are large enough that CD-1
/// is far off (its error must exceed 0.05, twenty standard errors) and CD-3 still visibly so.
#[test]
fn cd_k_gradient_approaches_the_exact_gradient_as_k_grows() {
    use rand::SeedableRng;
    use rbms::RunRng;
    let values: Vec<f64> = (0..300)
        .map(|k| ((k * 7919 % 211) as f64 / 105.0) - 1.0)
        .collect();
    let (nv, nh) = (6, 3);
    let rbm = model(nv, nh, &values, 2.5);
    let data = DMatrix::from_fn(nv, 4, |i, j| ((i + j) % 3 == 0) as u8 as f64);
    let exact = rbm
        .log_likelihood_gradient_exact(&Dataset::from_columns(data.clone()).unwrap())
        .unwrap();
    let data_term = rbm.free_energy_gradient(&data).unwrap();
    let chains = 40_000;
    let mut v = DMatrix::from_fn(nv, chains, |i, j| data[(i, j % 4)]);
    let mut h = DMatrix::zeros(nh, chains);
    let (mut ph, mut pv) = (DMatrix::zeros(nh, chains), DMatrix::zeros(nv, chains));
    let mut rng = RunRng::seed_from_u64(3);
    let mut done = 0;
    let mut errors = Vec::new();
    for k in [1usize, 3, 10, 200] {
        while done < k {
            rbm.sample_hidden_into(v.as_view(), ph.as_view_mut(), h.as_view_mut(), &mut rng)
                .unwrap();
            rbm.sample_visible_into(h.as_view(), pv.as_view_mut(), v.as_view_mut(), &mut rng)
                .unwrap();
            done += 1;
        }
        let model_term = rbm.free_energy_gradient(&v).unwrap();
        let mut worst = 0.0f64;
        for b in 0..exact.n_blocks() {
            for i in 0..exact.block(b).len() {
                let cd = -data_term.block(b)[i] + model_term.block(b)[i];
                worst = worst.max((cd - exact.block(b)[i]).abs());
            }
        }
        errors.push((k, worst));
    }
    let err = |k: usize| errors.iter().find(|e| e.0 == k).unwrap().1;
    assert!(
        err(1) > 0.05,
        "CD-1 should be visibly biased here: {errors:?}"
    );
    assert!(
        err(200) < 0.015,
        "CD-200 should match the exact gradient: {errors:?}"
    );
    // CD-1 and CD-3 are biased by more than the noise (0.015), CD-3 less so; from k = 10 on
    // the bias is below the noise, so comparing CD-10 with CD-200 would compare noise.
    assert!(err(3) > 0.015 && err(3) < err(1), "{errors:?}");
    assert!(err(10) < 0.015, "{errors:?}");
}

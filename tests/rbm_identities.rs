//! Mathematical identities of the Bernoulli RBM, checked against brute-force enumeration and
//! finite differences: free energy, conditionals, free-energy gradient, the log-likelihood
//! gradient identity, the pseudo-likelihood, the scalar helpers and Gibbs sampling.
//!
//! Conventions: matrices hold one sample per column; `W` is `n_hidden × n_visible`;
//! E(v, h) = −bᵀv − cᵀh − hᵀWv; F(v) = −bᵀv − Σⱼ softplus(cⱼ + Wⱼ·v).

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::SeedableRng;
use rbms::gradcheck::{central_difference_model, check_free_energy_gradient, CheckConfig};
use rbms::math::{log_sigmoid, sigmoid, softplus};
use rbms::{Dataset, EnergyModel, Float, GibbsConfig, GibbsStart, Model, Parameters, Rbm, RunRng};

// ---------------------------------------------------------------------------------------------
// helpers

/// All 2ⁿ binary vectors as the columns of an `n × 2ⁿ` matrix; column `k` holds the bits of `k`.
fn all_binary(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, 1 << n, |i, k| ((k >> i) & 1) as f64)
}

/// log Σ exp(xᵢ), written out here so that the reference does not depend on the crate.
fn lse(xs: &[f64]) -> f64 {
    let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + xs.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
}

/// `count` copies of column `col` of `m`.
fn repeat_column(m: &DMatrix<f64>, col: usize, count: usize) -> DMatrix<f64> {
    DMatrix::from_fn(m.nrows(), count, |i, _| m[(i, col)])
}

/// Energies E(v, h_k) of one visible vector against every column h_k of `hs`.
fn energies_against(rbm: &Rbm<f64>, v: &DMatrix<f64>, col: usize, hs: &DMatrix<f64>) -> Vec<f64> {
    let vs = repeat_column(v, col, hs.ncols());
    rbm.energy(vs.as_view(), hs.as_view())
        .unwrap()
        .iter()
        .cloned()
        .collect()
}

/// Energies E(v_k, h) of every column v_k of `vs` against one hidden vector.
fn energies_against_h(rbm: &Rbm<f64>, vs: &DMatrix<f64>, h: &DMatrix<f64>, col: usize) -> Vec<f64> {
    let hs = repeat_column(h, col, vs.ncols());
    rbm.energy(vs.as_view(), hs.as_view())
        .unwrap()
        .iter()
        .cloned()
        .collect()
}

/// Normalised weights exp(−Eₖ) / Σ exp(−E).
fn boltzmann(energies: &[f64]) -> Vec<f64> {
    let neg: Vec<f64> = energies.iter().map(|e| -e).collect();
    let z = lse(&neg);
    neg.iter().map(|x| (x - z).exp()).collect()
}

/// Every parameter of `p`, block after block.
fn flat<P: Parameters<Scalar = f64>>(p: &P) -> Vec<f64> {
    (0..p.n_blocks())
        .flat_map(|b| p.block(b).to_vec())
        .collect()
}

fn close(a: f64, b: f64, abs: f64, rel: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// A visible (or hidden) value: binary most of the time, sometimes a fraction in [0, 1].
fn unit_value() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64]
}

/// A model with weights and biases uniform in ±`scale`·√3 (standard deviation `scale`), and
/// `n` visible vectors.
fn model_and_data(
    visible: std::ops::RangeInclusive<usize>,
    hidden: std::ops::RangeInclusive<usize>,
    samples: std::ops::RangeInclusive<usize>,
    scale: f64,
) -> impl Strategy<Value = (Rbm<f64>, DMatrix<f64>)> {
    let r = scale * 3f64.sqrt();
    (visible, hidden, samples).prop_flat_map(move |(nv, nh, n)| {
        (
            prop::collection::vec(-r..r, nh * nv),
            prop::collection::vec(-r..r, nv),
            prop::collection::vec(-r..r, nh),
            prop::collection::vec(unit_value(), nv * n),
        )
            .prop_map(move |(w, b, c, v)| {
                let rbm = Rbm::from_parameters(
                    DMatrix::from_vec(nh, nv, w),
                    DVector::from_vec(b),
                    DVector::from_vec(c),
                )
                .unwrap();
                (rbm, DMatrix::from_vec(nv, n, v))
            })
    })
}

// ---------------------------------------------------------------------------------------------
// 1. free energy by enumeration over h

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// F(v) = −log Σ_h exp(−E(v, h)), summing over all 2^n_hidden binary h.
    #[test]
    fn free_energy_is_minus_log_sum_over_hidden_states(
        (rbm, v) in model_and_data(1..=6, 1..=5, 1..=4, 2.0)
    ) {
        let hs = all_binary(rbm.n_hidden());
        let f = rbm.free_energy(v.as_view()).unwrap();
        prop_assert_eq!(f.len(), v.ncols());
        for n in 0..v.ncols() {
            let neg_e: Vec<f64> = energies_against(&rbm, &v, n, &hs).iter().map(|e| -e).collect();
            let want = -lse(&neg_e);
            prop_assert!(close(f[n], want, 1e-10, 1e-12), "column {}: F = {}, enumeration {}", n, f[n], want);
        }
    }

    /// p(h_j = 1 | v) = Σ_{h: h_j = 1} e^{−E} / Σ_h e^{−E}, and p(v_i = 1 | h) likewise by
    /// enumerating v, for binary and fractional conditioning vectors.
    #[test]
    fn conditionals_match_ratios_of_boltzmann_weights(
        (rbm, v) in model_and_data(1..=6, 1..=5, 1..=4, 2.0),
        frac_h in prop::collection::vec(0.0..=1.0f64, 5 * 2),
    ) {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        // p(h | v)
        let hs = all_binary(nh);
        let hp = rbm.hidden_probabilities(&v).unwrap();
        prop_assert_eq!(hp.shape(), (nh, v.ncols()));
        for n in 0..v.ncols() {
            let p = boltzmann(&energies_against(&rbm, &v, n, &hs));
            for j in 0..nh {
                let want: f64 = (0..hs.ncols()).filter(|&k| hs[(j, k)] == 1.0).map(|k| p[k]).sum();
                prop_assert!(close(hp[(j, n)], want, 1e-12, 1e-10),
                    "p(h_{} | v_{}) = {}, enumeration {}", j, n, hp[(j, n)], want);
            }
        }
        // p(v | h): every binary h, plus two fractional h (E is linear in h, so the ratio
        // formula holds for them too)
        let vs = all_binary(nv);
        let mut h = DMatrix::zeros(nh, hs.ncols() + 2);
        h.columns_mut(0, hs.ncols()).copy_from(&hs);
        for c in 0..2 {
            for j in 0..nh {
                h[(j, hs.ncols() + c)] = frac_h[c * 5 + j];
            }
        }
        let vp = rbm.visible_probabilities(&h).unwrap();
        prop_assert_eq!(vp.shape(), (nv, h.ncols()));
        for n in 0..h.ncols() {
            let p = boltzmann(&energies_against_h(&rbm, &vs, &h, n));
            for i in 0..nv {
                let want: f64 = (0..vs.ncols()).filter(|&k| vs[(i, k)] == 1.0).map(|k| p[k]).sum();
                prop_assert!(close(vp[(i, n)], want, 1e-12, 1e-10),
                    "p(v_{} | h_{}) = {}, enumeration {}", i, n, vp[(i, n)], want);
            }
        }
    }

    /// ∇ of the mean free energy (block 0 = column-major W, 1 = b, 2 = c) against central
    /// finite differences of the mean free energy, for every parameter.
    #[test]
    fn free_energy_gradient_matches_finite_differences(
        (rbm, v) in model_and_data(1..=7, 1..=7, 1..=5, 2.0)
    ) {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let grad = rbm.free_energy_gradient(&v).unwrap();
        // layout: three blocks of the documented lengths, block 0 = W column-major
        prop_assert_eq!(grad.n_blocks(), 3);
        prop_assert_eq!(grad.block(0).len(), nh * nv);
        prop_assert_eq!(grad.block(1).len(), nv);
        prop_assert_eq!(grad.block(2).len(), nh);
        prop_assert_eq!(grad.block(0), grad.weights().as_slice());
        prop_assert_eq!(rbm.params().block(0)[nh * (nv - 1) + (nh - 1)], rbm.weights()[(nh - 1, nv - 1)]);
        let report = check_free_energy_gradient(&rbm, &v, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-6, 1e-6), "{}", report);
        for (b, block) in report.blocks.iter().enumerate() {
            prop_assert_eq!(block.name, grad.block_name(b));
            prop_assert_eq!(&block.analytic[..], grad.block(b));
        }
    }

    /// ∇⟨log p(v)⟩_data computed three ways on a tiny model:
    /// (a) from sufficient statistics of the exact joint p(v, h), enumerated with `energy` only;
    /// (b) as −⟨∇F⟩_data + Σ_v p(v) ∇F(v) with `free_energy_gradient` and exact p(v);
    /// (c) by central finite differences of the exact mean log-likelihood.
    #[test]
    fn log_likelihood_gradient_identity(
        (rbm, data) in model_and_data(1..=4, 1..=3, 1..=4, 1.5)
    ) {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let all_v = all_binary(nv);
        let all_h = all_binary(nh);

        // exact log-likelihood via log Z = log Σ_v exp(−F(v))
        let mean_ll = |m: &Rbm<f64>| -> f64 {
            let f_all = m.free_energy(all_v.as_view()).unwrap();
            let neg: Vec<f64> = f_all.iter().map(|f| -f).collect();
            let log_z = lse(&neg);
            -m.free_energy(data.as_view()).unwrap().mean() - log_z
        };

        // (a) joint enumeration: ∂ log p(v)/∂θ = E_{h|v}[s] − E_{v,h}[s], with sufficient
        // statistics s = (h vᵀ, v, h).
        let stats = |v: &[f64], h: &[f64]| -> Vec<f64> {
            let mut s = Vec::with_capacity(nh * nv + nv + nh);
            for &vi in v {
                for &hj in h {
                    s.push(hj * vi);
                }
            }
            s.extend_from_slice(v);
            s.extend_from_slice(h);
            s
        };
        let n_par = nh * nv + nv + nh;
        let mut joint = vec![0.0; n_par];
        {
            let mut energies = Vec::new();
            let mut pairs = Vec::new();
            for a in 0..all_v.ncols() {
                for (k, e) in energies_against(&rbm, &all_v, a, &all_h).into_iter().enumerate() {
                    energies.push(e);
                    pairs.push((a, k));
                }
            }
            let p = boltzmann(&energies);
            for (&(a, k), &pk) in pairs.iter().zip(&p) {
                let s = stats(all_v.column(a).as_slice(), all_h.column(k).as_slice());
                for (acc, x) in joint.iter_mut().zip(s) {
                    *acc += pk * x;
                }
            }
        }
        let mut lhs = vec![0.0; n_par];
        for n in 0..data.ncols() {
            let q = boltzmann(&energies_against(&rbm, &data, n, &all_h));
            for (k, &qk) in q.iter().enumerate() {
                let s = stats(data.column(n).as_slice(), all_h.column(k).as_slice());
                for (acc, x) in lhs.iter_mut().zip(s) {
                    *acc += qk * x / data.ncols() as f64;
                }
            }
        }
        for (l, j) in lhs.iter_mut().zip(&joint) {
            *l -= j;
        }

        // (b) the identity with the crate's free-energy gradient
        let f_all = rbm.free_energy(all_v.as_view()).unwrap();
        let p_v = boltzmann(f_all.as_slice());
        let mut rhs: Vec<f64> = flat(&rbm.free_energy_gradient(&data).unwrap()).iter().map(|g| -g).collect();
        for (a, &pa) in p_v.iter().enumerate() {
            let col = all_v.columns(a, 1).into_owned();
            for (r, g) in rhs.iter_mut().zip(flat(&rbm.free_energy_gradient(&col).unwrap())) {
                *r += pa * g;
            }
        }
        for k in 0..n_par {
            prop_assert!(close(lhs[k], rhs[k], 1e-10, 1e-9),
                "parameter {}: joint enumeration {}, identity {}", k, lhs[k], rhs[k]);
        }

        // (c) finite differences of the exact mean log-likelihood, every parameter
        let fd = central_difference_model(&rbm, &CheckConfig::default(), |m| Ok(mean_ll(m))).unwrap();
        for (k, (&d, &r)) in flat(&fd).iter().zip(&rhs).enumerate() {
            prop_assert!(close(d, r, 1e-6, 1e-6),
                "parameter {}: finite difference {}, identity {}", k, d, r);
        }
    }

    /// The exact pseudo-likelihood of binary v equals Σᵢ log p(vᵢ | v₋ᵢ) with the
    /// conditionals taken from the enumerated p(v); every stochastic one-flip value is
    /// n_visible times one of those terms.
    #[test]
    fn pseudo_likelihood_matches_enumerated_conditionals(
        (rbm, _v) in model_and_data(1..=6, 1..=5, 1..=1, 2.0),
        seed in any::<u64>(),
    ) {
        let nv = rbm.n_visible();
        let all_v = all_binary(nv);
        let neg_f: Vec<f64> = rbm.free_energy(all_v.as_view()).unwrap().iter().map(|f| -f).collect();
        let data = Dataset::from_columns(all_v.clone()).unwrap();
        let exact = rbm.pseudo_likelihood_exact(&data).unwrap();
        let mut rng = RunRng::seed_from_u64(seed);
        let stochastic = rbm.pseudo_likelihood(&data, &mut rng).unwrap();
        for a in 0..all_v.ncols() {
            // log p(v_i | v_-i) = −F(v) − log(e^{−F(v)} + e^{−F(v with bit i flipped)})
            let terms: Vec<f64> = (0..nv)
                .map(|i| neg_f[a] - lse(&[neg_f[a], neg_f[a ^ (1 << i)]]))
                .collect();
            let want: f64 = terms.iter().sum();
            prop_assert!(close(exact[a], want, 1e-9, 1e-10), "state {}: {} vs {}", a, exact[a], want);
            prop_assert!(
                terms.iter().any(|t| close(stochastic[a], nv as f64 * t, 1e-9, 1e-10)),
                "state {}: stochastic value {} is not n_visible × any site term {:?}", a, stochastic[a], terms
            );
        }
    }
}

/// p(v = 1 | h) = σ(b + Wᵀh) and p(h = 1 | v) = σ(c + Wv), computed directly, for every small
/// shape (1..=7 visible, hidden and columns), in f64 and f32. Small shapes send nalgebra's
/// `gemm` down its non-`matrixmultiply` path (any dimension ≤ 5).
#[test]
fn conditionals_of_small_shapes_match_direct_formulas() {
    fn check<T: Float>(tol: f64) {
        for nv in 1..=7 {
            for nh in 1..=7 {
                for n in 1..=7 {
                    let w = DMatrix::from_fn(nh, nv, |j, i| {
                        T::of_f64(0.3 * (j as f64 + 1.0) - 0.2 * (i as f64))
                    });
                    let b = DVector::from_fn(nv, |i, _| T::of_f64(0.1 * i as f64 - 0.3));
                    let c = DVector::from_fn(nh, |j, _| T::of_f64(0.2 - 0.05 * j as f64));
                    let rbm = Rbm::from_parameters(w.clone(), b.clone(), c.clone()).unwrap();
                    let h =
                        DMatrix::from_fn(nh, n, |j, k| T::of_f64(((j + 2 * k) % 3) as f64 / 2.0));
                    let v = DMatrix::from_fn(nv, n, |i, k| T::of_f64(((i + k) % 4) as f64 / 3.0));
                    let vp = rbm.visible_probabilities(&h).unwrap();
                    let hp = rbm.hidden_probabilities(&v).unwrap();
                    for k in 0..n {
                        for i in 0..nv {
                            let a: f64 = b[i].as_f64()
                                + (0..nh)
                                    .map(|j| w[(j, i)].as_f64() * h[(j, k)].as_f64())
                                    .sum::<f64>();
                            let want = 1.0 / (1.0 + (-a).exp());
                            assert!(
                                (vp[(i, k)].as_f64() - want).abs() < tol,
                                "{} nv {nv} nh {nh} n {n}: p(v_{i} | h_{k}) = {} vs {want}",
                                T::NAME,
                                vp[(i, k)]
                            );
                        }
                        for j in 0..nh {
                            let a: f64 = c[j].as_f64()
                                + (0..nv)
                                    .map(|i| w[(j, i)].as_f64() * v[(i, k)].as_f64())
                                    .sum::<f64>();
                            let want = 1.0 / (1.0 + (-a).exp());
                            assert!(
                                (hp[(j, k)].as_f64() - want).abs() < tol,
                                "{} nv {nv} nh {nh} n {n}: p(h_{j} | v_{k}) = {} vs {want}",
                                T::NAME,
                                hp[(j, k)]
                            );
                        }
                    }
                }
            }
        }
    }
    check::<f64>(1e-14);
    check::<f32>(1e-6);
}

// ---------------------------------------------------------------------------------------------
// 5. scalar functions

#[test]
fn scalar_functions_at_plus_minus_1e4() {
    for &x in &[1e4f64, -1e4] {
        // f64
        let (s, sp, ls) = (sigmoid(x), softplus(x), log_sigmoid(x));
        assert!(
            s.is_finite() && sp.is_finite() && ls.is_finite(),
            "f64 at {x}"
        );
        // f32
        let x32 = x as f32;
        let (s32, sp32, ls32) = (sigmoid(x32), softplus(x32), log_sigmoid(x32));
        assert!(
            s32.is_finite() && sp32.is_finite() && ls32.is_finite(),
            "f32 at {x}"
        );
    }
    // exact limits (e^{−1e4} underflows to 0 in both types)
    assert_eq!(sigmoid(1e4f64), 1.0);
    assert_eq!(sigmoid(-1e4f64), 0.0);
    assert_eq!(softplus(1e4f64), 1e4);
    assert_eq!(softplus(-1e4f64), 0.0);
    assert_eq!(log_sigmoid(1e4f64), 0.0);
    assert_eq!(log_sigmoid(-1e4f64), -1e4);
    assert_eq!(sigmoid(1e4f32), 1.0);
    assert_eq!(sigmoid(-1e4f32), 0.0);
    assert_eq!(softplus(1e4f32), 1e4);
    assert_eq!(softplus(-1e4f32), 0.0);
    assert_eq!(log_sigmoid(1e4f32), 0.0);
    assert_eq!(log_sigmoid(-1e4f32), -1e4);
    // far tails keep relative precision: sigmoid(−700) ≈ e^{−700} in f64, e^{−80} in f32
    let t = (-700f64).exp();
    assert!(((sigmoid(-700f64) - t) / t).abs() < 1e-12);
    assert!(((softplus(-700f64) - t) / t).abs() < 1e-12);
    let t32 = (-80f64).exp();
    assert!(((sigmoid(-80f32) as f64 - t32) / t32).abs() < 1e-5);
    assert!(((softplus(-80f32) as f64 - t32) / t32).abs() < 1e-5);
}

#[test]
fn scalar_function_identities_on_a_grid() {
    // x from −60 to 60 in steps of 0.01, plus a few large values
    let mut xs: Vec<f64> = (-6000..=6000).map(|i| i as f64 * 0.01).collect();
    xs.extend([-1e4, -1e3, -745.0, -100.0, 100.0, 745.0, 1e3, 1e4]);
    for &x in &xs {
        // f64: identities
        let d = softplus(x) - softplus(-x);
        assert!(
            (d - x).abs() <= 1e-13 * x.abs().max(1.0),
            "f64 softplus({x}) − softplus(−x) = {d}"
        );
        let s = sigmoid(x) + sigmoid(-x);
        assert!(
            (s - 1.0).abs() <= 2.0 * f64::EPSILON,
            "f64 σ({x}) + σ(−x) = {s}"
        );
        // f64: against reference formulas in their stable ranges (the crate's exp flushes
        // results below the normal range, e^-708, to 0: hence the tiny absolute tolerance)
        let sig_ref = if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        };
        assert!(
            close(sigmoid(x), sig_ref, 1e-300, 1e-14),
            "σ({x}) = {} vs {sig_ref}",
            sigmoid(x)
        );
        let sp_ref = x.max(0.0) + (-x.abs()).exp().ln_1p();
        assert!(
            close(softplus(x), sp_ref, 1e-300, 1e-14),
            "softplus({x}) = {} vs {sp_ref}",
            softplus(x)
        );
        let ls_ref = -((-x).max(0.0) + (-x.abs()).exp().ln_1p());
        assert!(
            close(log_sigmoid(x), ls_ref, 1e-300, 1e-14),
            "log σ({x}) = {} vs {ls_ref}",
            log_sigmoid(x)
        );
        // ln of the reference σ loses relative precision near σ = 1, hence the absolute term
        if x > -700.0 {
            assert!(
                close(log_sigmoid(x), sig_ref.ln(), 1e-15, 1e-13),
                "log σ({x}) = {} vs ln σ = {}",
                log_sigmoid(x),
                sig_ref.ln()
            );
        }

        // f32
        let x32 = x as f32;
        let xr = x32 as f64;
        let d32 = (softplus(x32) - softplus(-x32)) as f64;
        assert!(
            (d32 - xr).abs() <= 2e-6 * xr.abs().max(1.0),
            "f32 softplus({x}) − softplus(−x) = {d32}"
        );
        let s32 = (sigmoid(x32) + sigmoid(-x32)) as f64;
        assert!(
            (s32 - 1.0).abs() <= 2.0 * f32::EPSILON as f64,
            "f32 σ({x}) + σ(−x) = {s32}"
        );
        let sig_ref32 = if xr >= 0.0 {
            1.0 / (1.0 + (-xr).exp())
        } else {
            xr.exp() / (1.0 + xr.exp())
        };
        assert!(
            close(sigmoid(x32) as f64, sig_ref32, 1e-38, 1e-6),
            "f32 σ({x}) = {} vs {sig_ref32}",
            sigmoid(x32)
        );
        let sp_ref32 = xr.max(0.0) + (-xr.abs()).exp().ln_1p();
        assert!(
            close(softplus(x32) as f64, sp_ref32, 1e-38, 1e-6),
            "f32 softplus({x}) = {} vs {sp_ref32}",
            softplus(x32)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Gibbs sampling against the exact distribution

/// Exact p(v) over the 2^n_visible states (column k of `all_binary`) by joint enumeration.
fn exact_visible_distribution(rbm: &Rbm<f64>) -> Vec<f64> {
    let all_v = all_binary(rbm.n_visible());
    let all_h = all_binary(rbm.n_hidden());
    let mut e = Vec::new();
    for a in 0..all_v.ncols() {
        e.extend(energies_against(rbm, &all_v, a, &all_h));
    }
    let p = boltzmann(&e);
    p.chunks(all_h.ncols()).map(|c| c.iter().sum()).collect()
}

fn chi_square(counts: &[usize], p: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .zip(p)
        .map(|(&o, &pk)| {
            let e = pk * n as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

#[test]
fn gibbs_samples_follow_the_exact_distribution() {
    let w = DMatrix::from_row_slice(2, 3, &[1.5, -1.0, 1.0, -1.0, 1.5, -1.5]);
    let b = DVector::from_vec(vec![-0.5, 0.3, 0.2]);
    let c = DVector::from_vec(vec![0.5, -1.0]);
    let rbm = Rbm::from_parameters(w.clone(), b.clone(), c.clone()).unwrap();
    let p = exact_visible_distribution(&rbm);
    // cross-check p(v) ∝ exp(−F(v))
    let f = rbm.free_energy(all_binary(3).as_view()).unwrap();
    let pf = boltzmann(f.as_slice());
    for k in 0..8 {
        assert!((p[k] - pf[k]).abs() < 1e-12);
    }

    let config = GibbsConfig {
        chains: 20_000,
        burn_in: 20,
        thinning: 3,
        samples_per_chain: 5,
        start: GibbsStart::Noise,
    };
    let mut rng = RunRng::seed_from_u64(2024);
    let s = rbm.sample(&config, &mut rng).unwrap();
    assert_eq!(s.states.shape(), (3, 100_000));
    assert_eq!(s.probabilities.shape(), (3, 100_000));
    assert_eq!(s.chains, 20_000);
    let mut counts = [0usize; 8];
    for col in s.states.column_iter() {
        let mut k = 0;
        for (i, &x) in col.iter().enumerate() {
            assert!(x == 0.0 || x == 1.0, "non-binary state {x}");
            k |= (x as usize) << i;
        }
        counts[k] += 1;
    }
    // 7 degrees of freedom: the 99.99% quantile is 29.9; samples within a chain are only
    // three steps apart, so allow some correlation. The fixed seed makes this deterministic.
    let chi2 = chi_square(&counts, &p);
    assert!(chi2 < 40.0, "χ² = {chi2}, counts {counts:?}, p {p:?}");

    // power: plausible wrong samplers (biases ignored, W used with the wrong sign, or the
    // uniform distribution) would be rejected by a wide margin
    let no_bias = Rbm::from_parameters(w.clone(), DVector::zeros(3), DVector::zeros(2)).unwrap();
    let neg_w = Rbm::from_parameters(-w.clone(), b.clone(), c.clone()).unwrap();
    for (name, q) in [
        ("no biases", exact_visible_distribution(&no_bias)),
        ("−W", exact_visible_distribution(&neg_w)),
        ("uniform", vec![1.0 / 8.0; 8]),
    ] {
        let chi2_wrong = chi_square(&counts, &q);
        assert!(
            chi2_wrong > 500.0,
            "{name}: χ² = {chi2_wrong} (test lacks power)"
        );
    }

    // the recorded probabilities are p(v | h): their mean estimates the marginals p(v_i = 1)
    for i in 0..3 {
        let marginal: f64 = (0..8).filter(|k| (k >> i) & 1 == 1).map(|k| p[k]).sum();
        let mean_prob = s.probabilities.row(i).mean();
        let mean_state = s.states.row(i).mean();
        assert!(
            (mean_prob - marginal).abs() < 0.01,
            "unit {i}: mean p {mean_prob} vs {marginal}"
        );
        assert!(
            (mean_state - marginal).abs() < 0.01,
            "unit {i}: mean state {mean_state} vs {marginal}"
        );
    }
}

#[test]
fn gibbs_from_given_states_uses_one_chain_per_column() {
    let rbm = Rbm::from_parameters(
        DMatrix::from_row_slice(2, 3, &[1.5, -1.0, 1.0, -1.0, 1.5, -1.5]),
        DVector::from_vec(vec![-0.5, 0.3, 0.2]),
        DVector::from_vec(vec![0.5, -1.0]),
    )
    .unwrap();
    let start = all_binary(3);
    let config = GibbsConfig {
        chains: 1, // ignored with GibbsStart::From
        burn_in: 0,
        thinning: 2,
        samples_per_chain: 3,
        start: GibbsStart::From(start),
    };
    let s = rbm.sample(&config, &mut RunRng::seed_from_u64(1)).unwrap();
    assert_eq!(s.chains, 8);
    assert_eq!(s.states.shape(), (3, 24));
}

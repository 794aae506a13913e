//! Parallel tempering: tempered conditionals, detailed balance (chi-square against exact
//! enumeration), the Metropolis swap rate, reproducibility, bad settings; centering: the
//! parameter transformation keeps p(v), and the centered update is the gradient step in
//! centered coordinates (finite differences).

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rbms::train::{
    centered_update, CenteredParams, Centering, Ladder, Offsets, ParallelTempering, StepContext,
    Tempered, Trainer, UpdateRule,
};
use rbms::{
    datasets, Dataset, EnergyModel, Error, FitConfig, GradientTerm, MetricsConfig, Model,
    Parameters, Rbm, RunRng,
};

/// A 3 × 2 model with strong weights, so that p(v, h) has separated modes.
fn tiny_rbm() -> Rbm<f64> {
    Rbm::from_parameters(
        DMatrix::from_row_slice(2, 3, &[3.0, -2.5, 2.0, -3.0, 2.0, 2.5]),
        DVector::from_vec(vec![-1.0, 0.5, -1.5]),
        DVector::from_vec(vec![-1.0, -0.5]),
    )
    .unwrap()
}

/// Every binary vector of length n, as the columns of an n × 2^n matrix (bit i of column k).
fn all_states(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, 1 << n, |i, k| ((k >> i) & 1) as f64)
}

fn index_of(col: nalgebra::DVectorView<'_, f64>) -> usize {
    col.iter()
        .enumerate()
        .map(|(i, &x)| (x as usize) << i)
        .sum()
}

/// Exact p_β(v, h) ∝ exp(−β E(v, h)) over the 2^(nv+nh) joint states, indexed v + 2^nv·h.
fn exact_joint(rbm: &Rbm<f64>, beta: f64) -> Vec<f64> {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let (vs, hs) = (all_states(nv), all_states(nh));
    let mut p = vec![0.0; 1 << (nv + nh)];
    for h in 0..hs.ncols() {
        let e = rbm
            .energy(
                vs.as_view(),
                DMatrix::from_fn(nh, vs.ncols(), |j, _| hs[(j, h)]).as_view(),
            )
            .unwrap();
        for v in 0..vs.ncols() {
            p[v + (h << nv)] = (-beta * e[v]).exp();
        }
    }
    let z: f64 = p.iter().sum();
    p.iter().map(|x| x / z).collect()
}

fn some_data(nv: usize) -> Dataset<f64> {
    Dataset::from_columns(all_states(nv)).unwrap()
}

#[test]
fn tempered_conditionals_at_beta_one_are_the_models() {
    let rbm = tiny_rbm();
    let v = all_states(3);
    let h = all_states(2);
    let mut rng = RunRng::seed_from_u64(3);
    let (mut p, mut s) = (DMatrix::zeros(2, 8), DMatrix::zeros(2, 8));
    rbm.sample_hidden_tempered_into(v.as_view(), 1.0, p.as_view_mut(), s.as_view_mut(), &mut rng)
        .unwrap();
    let want = rbm.hidden_probabilities(&v).unwrap();
    assert!((&p - &want).amax() < 1e-15);
    let (mut p, mut s) = (DMatrix::zeros(3, 4), DMatrix::zeros(3, 4));
    rbm.sample_visible_tempered_into(h.as_view(), 1.0, p.as_view_mut(), s.as_view_mut(), &mut rng)
        .unwrap();
    let want = rbm.visible_probabilities(&h).unwrap();
    assert!((&p - &want).amax() < 1e-15);
    // at β = 0.3: σ(0.3 (b + Wᵀh)) by hand for h = (1, 1)
    rbm.sample_visible_tempered_into(h.as_view(), 0.3, p.as_view_mut(), s.as_view_mut(), &mut rng)
        .unwrap();
    let input: [f64; 3] = [-1.0 + 3.0 - 3.0, 0.5 - 2.5 + 2.0, -1.5 + 2.0 + 2.5];
    for (i, x) in input.iter().enumerate() {
        let want = 1.0 / (1.0 + (-0.3 * x).exp());
        assert!((p[(i, 3)] - want).abs() < 1e-15, "unit {i}");
    }
    // energies without allocation agree with EnergyModel::energy
    let hh = DMatrix::from_fn(2, 8, |j, k| ((k + j) % 2) as f64);
    let mut out = vec![0.0; 8];
    let mut work = DMatrix::zeros(2, 8);
    rbm.energy_into(v.as_view(), hh.as_view(), work.as_view_mut(), &mut out)
        .unwrap();
    let want = rbm.energy(v.as_view(), hh.as_view()).unwrap();
    for k in 0..8 {
        assert!((out[k] - want[k]).abs() < 1e-13);
    }
    // shapes are checked
    let bad = rbm.energy_into(v.as_view(), hh.as_view(), work.as_view_mut(), &mut out[..7]);
    assert!(matches!(bad, Err(Error::ShapeMismatch { .. })));
}

/// Pearson's chi-square statistic of `counts` against probabilities `p` (cells with an
/// expected count below 5 are pooled into one).
fn chi_square(counts: &[u64], p: &[f64]) -> (f64, usize) {
    let n: u64 = counts.iter().sum();
    let n = n as f64;
    let (mut stat, mut cells) = (0.0, 0usize);
    let (mut pooled_o, mut pooled_e) = (0.0, 0.0);
    for (&o, &q) in counts.iter().zip(p) {
        let e = n * q;
        if e < 5.0 {
            pooled_o += o as f64;
            pooled_e += e;
        } else {
            stat += (o as f64 - e).powi(2) / e;
            cells += 1;
        }
    }
    if pooled_e > 0.0 {
        stat += (pooled_o - pooled_e).powi(2) / pooled_e.max(1e-300);
        cells += 1;
    }
    (stat, cells - 1)
}

/// Upper 0.1% point of the chi-square distribution (Wilson–Hilferty approximation, which is
/// within 1% of the exact quantile for these degrees of freedom).
fn chi_square_critical_0_001(dof: usize) -> f64 {
    let k = dof as f64;
    let z = 3.090_232; // standard normal upper 0.1% point
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// Joint-state frequencies of the chains at temperatures 0 and T − 1 of a long PT run, thinned.
fn pt_frequencies(
    rbm: &Rbm<f64>,
    pt: &ParallelTempering,
    seed: u64,
    recorded: usize,
    thinning: usize,
) -> (Vec<u64>, Vec<u64>) {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let mut rng = RunRng::seed_from_u64(seed);
    let mut state = pt.init_state(rbm, &some_data(nv), 1, &mut rng).unwrap();
    pt.run_chains(rbm, &mut state, 200, &mut rng).unwrap();
    let chains = pt.chains;
    let last = state.betas().len() - 1;
    let mut cold = vec![0u64; 1 << (nv + nh)];
    let mut hot = vec![0u64; 1 << (nv + nh)];
    for _ in 0..recorded {
        pt.run_chains(rbm, &mut state, thinning, &mut rng).unwrap();
        let (v, h) = (state.chain_visible_states(), state.chain_hidden_states());
        for (counts, t) in [(&mut cold, 0), (&mut hot, last)] {
            for i in 0..chains {
                let c = t * chains + i;
                counts[index_of(v.column(c)) + (index_of(h.column(c)) << nv)] += 1;
            }
        }
    }
    (cold, hot)
}

/// Detailed balance: the β = 1 chains sample p(v, h) and the hottest chains p_β(v, h), checked
/// with Pearson's chi-square test at significance level 0.001 on 32 joint states.
/// (Recording every 4th sweep of 20 chains; a swap rule with the wrong sign, or swaps
/// always accepted, puts hot states into the cold chains and fails by a wide margin.)
#[test]
fn pt_samples_the_exact_tempered_distributions() {
    let rbm = tiny_rbm();
    let pt = ParallelTempering::new(1, 20, 3).ladder(Ladder::Betas(vec![1.0, 0.6, 0.3]));
    let (cold, hot) = pt_frequencies(&rbm, &pt, 17, 2500, 4);
    for (counts, beta) in [(&cold, 1.0), (&hot, 0.3)] {
        let p = exact_joint(&rbm, beta);
        let (stat, dof) = chi_square(counts, &p);
        let crit = chi_square_critical_0_001(dof);
        assert!(
            stat < crit,
            "beta {beta}: chi-square {stat:.1} on {dof} dof, 0.1% critical value {crit:.1}"
        );
    }
    // The test has power: the cold chains' frequencies are far from the hot distribution.
    let (stat, dof) = chi_square(&cold, &exact_joint(&rbm, 0.3));
    assert!(stat > 10.0 * chi_square_critical_0_001(dof), "{stat}");
}

/// With two temperatures at stationarity the swap acceptance rate is
/// Σ_{x, y} p₁(x) p_β(y) min(1, exp((1 − β)(E(x) − E(y)))), computed by enumeration.
#[test]
fn swap_acceptance_is_the_metropolis_rate() {
    let rbm = tiny_rbm();
    let beta = 0.4;
    let (p1, pb) = (exact_joint(&rbm, 1.0), exact_joint(&rbm, beta));
    let (nv, nh) = (3, 2);
    let (vs, hs) = (all_states(nv), all_states(nh));
    let mut energy = vec![0.0; 32];
    for h in 0..4 {
        let hm = DMatrix::from_fn(nh, 8, |j, _| hs[(j, h)]);
        let e = rbm.energy(vs.as_view(), hm.as_view()).unwrap();
        for v in 0..8 {
            energy[v + (h << nv)] = e[v];
        }
    }
    let mut expected = 0.0;
    for x in 0..32 {
        for y in 0..32 {
            let r = ((1.0 - beta) * (energy[x] - energy[y])).exp().min(1.0);
            expected += p1[x] * pb[y] * r;
        }
    }
    let pt = ParallelTempering::new(1, 50, 2).ladder(Ladder::Betas(vec![1.0, beta]));
    let mut rng = RunRng::seed_from_u64(5);
    let mut state = pt.init_state(&rbm, &some_data(nv), 1, &mut rng).unwrap();
    pt.run_chains(&rbm, &mut state, 100, &mut rng).unwrap();
    let (a0, n0) = (state.swaps_accepted()[0], state.swaps_attempted()[0]);
    pt.run_chains(&rbm, &mut state, 2000, &mut rng).unwrap();
    let (a, n) = (
        state.swaps_accepted()[0] - a0,
        state.swaps_attempted()[0] - n0,
    );
    assert_eq!(n, 2000 * 50);
    let rate = a as f64 / n as f64;
    // Binomial s.e. with 10^5 proposals is about 0.0015; allow for correlation between sweeps.
    assert!(
        (rate - expected).abs() < 0.01,
        "rate {rate}, Metropolis expectation {expected}"
    );
    // A wrong rule would be visible: always accepting gives 1, the reversed sign gives
    // the complementary expectation.
    assert!(expected < 0.9, "{expected}");
}

#[test]
fn pt_runs_are_reproducible_and_report_swap_rates() {
    let data = datasets::bars_and_stripes::<f32>(3).unwrap();
    let pt = ParallelTempering::new(1, 5, 4);
    let config = FitConfig::default()
        .epochs(3)
        .batch_size(4)
        .learning_rate(0.1)
        .metrics(MetricsConfig::none())
        .seed(9);
    let run = |seed| {
        let mut rbm = Rbm::<f32>::new(9, 6).unwrap();
        let report = rbm.fit(&data, &pt, &config.clone().seed(seed)).unwrap();
        (rbm, report)
    };
    let (a, ra) = run(9);
    let (b, rb) = run(9);
    let (c, _) = run(10);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(ra.diagnostics, rb.diagnostics);
    assert_eq!(ra.diagnostics.len(), 3);
    for (name, rate) in &ra.diagnostics {
        assert!(name.starts_with("swap_acceptance_"), "{name}");
        assert!((0.0..=1.0).contains(rate) && *rate > 0.0, "{name} = {rate}");
    }
    assert!(
        ra.trainer.starts_with("PT-1 (5 chains at betas [1.0,"),
        "{}",
        ra.trainer
    );
}

#[test]
fn pt_with_one_temperature_learns_like_pcd() {
    // one temperature: no swaps, the negative phase is PCD's
    let data = datasets::digits_scaled::<f64>()
        .binarize(0.5)
        .head(300)
        .unwrap();
    let config = FitConfig::default()
        .epochs(5)
        .batch_size(10)
        .learning_rate(0.05)
        .metrics(MetricsConfig::none())
        .seed(1);
    let mut rbm = Rbm::<f64>::new(64, 16).unwrap();
    let pt = ParallelTempering::new(1, 10, 1);
    let report = rbm.fit(&data, &pt, &config).unwrap();
    assert!(report.diagnostics.is_empty());
    let mut pcd = Rbm::<f64>::new(64, 16).unwrap();
    pcd.fit(&data, &rbms::PersistentCd::new(1, 10), &config)
        .unwrap();
    let (lz, lz_pcd) = (
        rbm.log_partition_exact().unwrap(),
        pcd.log_partition_exact().unwrap(),
    );
    let ll = rbm.log_prob_with(&data, lz).unwrap().mean();
    let ll_pcd = pcd.log_prob_with(&data, lz_pcd).unwrap().mean();
    let base = Rbm::<f64>::new(64, 16).unwrap();
    let ll0 = base.log_prob_exact(&data).unwrap().mean(); // 64·log ½ = −44.4
    assert!(ll > ll0 + 10.0, "PT-1 {ll}, untrained {ll0}");
    assert!((ll - ll_pcd).abs() < 3.0, "PT-1 {ll}, PCD-1 {ll_pcd}");
}

#[test]
fn bad_pt_settings_are_typed_errors() {
    let data = datasets::bars_and_stripes::<f64>(2).unwrap();
    let config = FitConfig::default()
        .epochs(1)
        .metrics(MetricsConfig::none());
    let mut rbm = Rbm::<f64>::new(4, 2).unwrap();
    let fit = |pt: ParallelTempering, rbm: &mut Rbm<f64>| rbm.fit(&data, &pt, &config);
    assert!(matches!(
        fit(ParallelTempering::new(0, 2, 2), &mut rbm),
        Err(Error::ZeroGibbsSteps)
    ));
    assert!(matches!(
        fit(ParallelTempering::new(1, 0, 2), &mut rbm),
        Err(Error::ZeroChains)
    ));
    assert!(matches!(
        fit(ParallelTempering::new(1, 2, 0), &mut rbm),
        Err(Error::InvalidParameter { name: "ladder", .. })
    ));
    let centered = ParallelTempering::new(1, 2, 2).centering(Some(Centering { hidden_rate: 0.0 }));
    assert!(matches!(
        fit(centered, &mut rbm),
        Err(Error::InvalidParameter {
            name: "centering.hidden_rate",
            ..
        })
    ));
    assert_eq!(
        rbm,
        Rbm::<f64>::new(4, 2).unwrap(),
        "failed runs leave the model"
    );
}

// ---------------------------------------------------------------------------------------------
// centering

/// log p_c(v) of a centered model by enumerating its energy over every (v, h).
fn centered_log_probs(c: &CenteredParams<f64>) -> Vec<f64> {
    let (nh, nv) = c.weights().shape();
    let (vs, hs) = (all_states(nv), all_states(nh));
    let un: Vec<f64> = (0..vs.ncols())
        .map(|v| {
            let terms: Vec<f64> = (0..hs.ncols())
                .map(|h| {
                    -c.energy(&vs.column(v).into_owned(), &hs.column(h).into_owned())
                        .unwrap()
                })
                .collect();
            rbms::math::log_sum_exp(&terms)
        })
        .collect();
    let log_z = rbms::math::log_sum_exp(&un);
    un.iter().map(|u| u - log_z).collect()
}

#[test]
fn centering_transform_keeps_log_p_exactly() {
    let plain = tiny_rbm();
    let offsets = Offsets::new(
        DVector::from_vec(vec![0.2, 0.7, 0.45]),
        DVector::from_vec(vec![0.6, 0.1]),
    )
    .unwrap();
    let centered = CenteredParams::from_plain(&plain, offsets.clone()).unwrap();
    // The biases did change (so the check below is not trivial) ...
    assert!((centered.visible_bias() - plain.visible_bias()).amax() > 0.5);
    // ... but p(v) did not: the centered energy, enumerated, against the plain exact log p.
    let all = some_data(3);
    let want = plain.log_prob_exact(&all).unwrap();
    let got = centered_log_probs(&centered);
    for v in 0..8 {
        assert!(
            (got[v] - want[v]).abs() < 1e-12,
            "v = {v}: {} vs {}",
            got[v],
            want[v]
        );
    }
    // round trip
    let back = centered.to_plain().unwrap();
    assert!((back.weights() - plain.weights()).amax() == 0.0);
    assert!((back.visible_bias() - plain.visible_bias()).amax() < 1e-14);
    assert!((back.hidden_bias() - plain.hidden_bias()).amax() < 1e-14);
    // a centered model given directly: its plain form has the same p(v)
    let c = CenteredParams::new(
        DMatrix::from_row_slice(2, 3, &[1.0, -0.5, 2.0, 0.3, 1.5, -2.0]),
        DVector::from_vec(vec![0.4, -0.2, 0.1]),
        DVector::from_vec(vec![-0.3, 0.8]),
        offsets,
    )
    .unwrap();
    let got = centered_log_probs(&c);
    let want = c.to_plain().unwrap().log_prob_exact(&all).unwrap();
    for v in 0..8 {
        assert!((got[v] - want[v]).abs() < 1e-12, "v = {v}");
    }
    // offsets of the wrong length are refused
    let short = Offsets::new(
        DVector::from_vec(vec![0.5]),
        DVector::from_vec(vec![0.5, 0.5]),
    );
    assert!(matches!(
        CenteredParams::from_plain(&plain, short.unwrap()),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// The centered update is θ_c ← θ_c − ε ∇_{θ_c} L with L = ⟨F⟩_a − ⟨F⟩_b evaluated through
/// `to_plain`, checked by central differences in centered coordinates.
#[test]
fn centered_update_is_the_centered_gradient_step() {
    let rbm = tiny_rbm();
    let offsets = Offsets::new(
        DVector::from_vec(vec![0.3, 0.6, 0.5]),
        DVector::from_vec(vec![0.4, 0.2]),
    )
    .unwrap();
    let va = DMatrix::from_column_slice(3, 3, &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    let vb = DMatrix::from_column_slice(3, 2, &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    let loss = |c: &CenteredParams<f64>| {
        let p = c.to_plain().unwrap();
        p.free_energy(va.as_view()).unwrap().mean() - p.free_energy(vb.as_view()).unwrap().mean()
    };
    let centered = CenteredParams::from_plain(&rbm, offsets.clone()).unwrap();
    let eps = 0.1;
    let h = 1e-5;
    let mut blocks = [
        centered.weights().as_slice().to_vec(),
        centered.visible_bias().as_slice().to_vec(),
        centered.hidden_bias().as_slice().to_vec(),
    ];
    let rebuild = |b: &[Vec<f64>; 3]| {
        CenteredParams::new(
            DMatrix::from_column_slice(2, 3, &b[0]),
            DVector::from_column_slice(&b[1]),
            DVector::from_column_slice(&b[2]),
            offsets.clone(),
        )
        .unwrap()
    };
    let mut stepped = blocks.clone();
    for blk in 0..3 {
        for k in 0..blocks[blk].len() {
            let x = blocks[blk][k];
            blocks[blk][k] = x + h;
            let up = loss(&rebuild(&blocks));
            blocks[blk][k] = x - h;
            let down = loss(&rebuild(&blocks));
            blocks[blk][k] = x;
            stepped[blk][k] = x - eps * (up - down) / (2.0 * h);
        }
    }
    let want = rebuild(&stepped).to_plain().unwrap();

    let mut model = rbm.clone();
    let (ha, hb) = (
        rbm.hidden_probabilities(&va).unwrap(),
        rbm.hidden_probabilities(&vb).unwrap(),
    );
    let rule =
        UpdateRule::<f64>::from_config(&FitConfig::default().learning_rate(eps).momentum(0.0))
            .unwrap();
    let mut velocity = rbm.params().zeros_like();
    let mut scratch = rbm.params().zeros_like();
    centered_update(
        &mut model,
        GradientTerm {
            visible: va.as_view(),
            hidden: ha.as_view(),
            scale: 1.0 / 3.0,
        },
        GradientTerm {
            visible: vb.as_view(),
            hidden: hb.as_view(),
            scale: -1.0 / 2.0,
        },
        &offsets,
        &rule,
        &mut velocity,
        &mut scratch,
        StepContext { epoch: 0, batch: 0 },
    )
    .unwrap();
    for b in 0..3 {
        for (g, w) in model.params().block(b).iter().zip(want.params().block(b)) {
            assert!((g - w).abs() < 1e-8, "block {b}: {g} vs {w}");
        }
    }
    // and it differs from the plain step when the offsets are not zero
    let mut plain = rbm.clone();
    let mut velocity = rbm.params().zeros_like();
    plain
        .contrastive_update(
            GradientTerm {
                visible: va.as_view(),
                hidden: ha.as_view(),
                scale: 1.0 / 3.0,
            },
            GradientTerm {
                visible: vb.as_view(),
                hidden: hb.as_view(),
                scale: -1.0 / 2.0,
            },
            &rule,
            &mut velocity,
            &mut scratch,
            StepContext { epoch: 0, batch: 0 },
        )
        .unwrap();
    assert!((plain.visible_bias() - model.visible_bias()).amax() > 1e-3);
}

/// PT on other unit kinds. Spin hidden units: the visible states of the β = 1 chains and of
/// the hottest chains follow the exact p_β(v) (enumeration of h ∈ {−1, 1}², chi-square at
/// 0.001). Gaussian visible units: p_β(v | h) has mean b + Wᵀh and standard deviation 1/√β;
/// and PT trains a Gaussian–Bernoulli model on standardised digits to finite parameters.
#[test]
fn pt_for_spin_and_gaussian_units() {
    use rbms::units::{Bernoulli, Gaussian, Spin};
    let p = tiny_rbm().params().clone();
    let spin = Rbm::<f64, Bernoulli, Spin>::with_params(p.clone());
    let pt = ParallelTempering::new(1, 20, 3).ladder(Ladder::Betas(vec![1.0, 0.6, 0.3]));
    let mut rng = RunRng::seed_from_u64(23);
    let mut state = pt.init_state(&spin, &some_data(3), 1, &mut rng).unwrap();
    pt.run_chains(&spin, &mut state, 200, &mut rng).unwrap();
    let (mut cold, mut hot) = (vec![0u64; 8], vec![0u64; 8]);
    for _ in 0..2500 {
        pt.run_chains(&spin, &mut state, 4, &mut rng).unwrap();
        let v = state.chain_visible_states();
        for i in 0..20 {
            cold[index_of(v.column(i))] += 1;
            hot[index_of(v.column(2 * 20 + i))] += 1;
        }
    }
    let (vs, hs) = (
        all_states(3),
        DMatrix::from_fn(2, 4, |j, k| if (k >> j) & 1 == 1 { 1.0 } else { -1.0 }),
    );
    let marginal = |beta: f64| -> Vec<f64> {
        let mut w = [0.0; 8];
        for k in 0..4 {
            let hm = DMatrix::from_fn(2, 8, |j, _| hs[(j, k)]);
            let e = spin.energy(vs.as_view(), hm.as_view()).unwrap();
            for v in 0..8 {
                w[v] += (-beta * e[v]).exp();
            }
        }
        let z: f64 = w.iter().sum();
        w.iter().map(|x| x / z).collect()
    };
    for (counts, beta) in [(&cold, 1.0), (&hot, 0.3)] {
        let (stat, dof) = chi_square(counts, &marginal(beta));
        let crit = chi_square_critical_0_001(dof);
        assert!(
            stat < crit,
            "spin, beta {beta}: chi-square {stat:.1} > {crit:.1}"
        );
    }
    let (stat, dof) = chi_square(&cold, &marginal(0.3));
    assert!(stat > 10.0 * chi_square_critical_0_001(dof), "{stat}");

    // Gaussian visible units at β = 0.25: mean b + Wᵀh, standard deviation 2
    let g = Rbm::<f64, Gaussian, Bernoulli>::with_params(p);
    let n = 20_000;
    let h = DMatrix::from_fn(2, n, |j, _| if j == 0 { 1.0 } else { 0.0 });
    let (mut means, mut states) = (DMatrix::zeros(3, n), DMatrix::zeros(3, n));
    g.sample_visible_tempered_into(
        h.as_view(),
        0.25,
        means.as_view_mut(),
        states.as_view_mut(),
        &mut rng,
    )
    .unwrap();
    for i in 0..3 {
        let expect = g.visible_bias()[i] + g.weights()[(0, i)];
        let row: Vec<f64> = states.row(i).iter().copied().collect();
        let mean = row.iter().sum::<f64>() / n as f64;
        let sd = (row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((means[(i, 0)] - expect).abs() < 1e-12);
        assert!(
            (mean - expect).abs() < 4.0 * 2.0 / (n as f64).sqrt(),
            "{mean} vs {expect}"
        );
        assert!((sd - 2.0).abs() < 0.05, "sd {sd}");
    }
    let pixels = datasets::digits_scaled::<f64>();
    let data = rbms::Standardizer::fit(&pixels)
        .unwrap()
        .transform(&pixels)
        .unwrap();
    let mut gb = rbms::GaussianRbm::<f64>::zeros(64, 16).unwrap();
    let config = FitConfig::default()
        .epochs(2)
        .learning_rate(0.002)
        .seed(3)
        .metrics(MetricsConfig::none());
    gb.fit(&data, &ParallelTempering::new(1, 10, 4), &config)
        .unwrap();
    assert!(gb.weights().iter().all(|w| w.is_finite()));
    assert!(gb.weights().iter().any(|&w| w != 0.0));
}

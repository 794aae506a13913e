//! The tied autoencoder and `Sgd`: gradients against central finite differences for every
//! loss × penalty combination, the tied gradient against the untied model's, numerical
//! extremes, noise statistics, reproducibility, training on digits, and bad input.
//!
//! Conventions: one sample per column; `W` is `n_hidden × n_visible`; h = σ(W x + c),
//! z = Wᵀ h + b, r = f(z).

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::SeedableRng;
use rbms::gradcheck::{check_loss_gradient, CheckConfig};
use rbms::observe::{Control, FnObserver, Observer, StepReport};
use rbms::train::EpochReport;
use rbms::{
    datasets, Autoencoder, Dataset, Decoder, Error, FitConfig, Float, LayerParams, Loss,
    MetricsConfig, Model, Noise, Parameters, Penalties, RunRng, Sgd, Sparsity, TiedAutoencoder,
};

// ---------------------------------------------------------------------------------------------
// helpers

const KINDS: [(Decoder, Loss); 3] = [
    (Decoder::Sigmoid, Loss::CrossEntropy),
    (Decoder::Sigmoid, Loss::SquaredError),
    (Decoder::Identity, Loss::SquaredError),
];

fn penalty_sets() -> Vec<Penalties> {
    let sparsity = Some(Sparsity {
        target: 0.2,
        weight: 0.7,
    });
    vec![
        Penalties::default(),
        Penalties {
            contractive: 0.3,
            sparsity: None,
        },
        Penalties {
            contractive: 0.0,
            sparsity,
        },
        Penalties {
            contractive: 0.3,
            sparsity,
        },
    ]
}

fn model(
    nv: usize,
    nh: usize,
    values: &[f64],
    decoder: Decoder,
    loss: Loss,
) -> TiedAutoencoder<f64> {
    let mut it = values.iter().cycle().cloned();
    let w = DMatrix::from_fn(nh, nv, |_, _| it.next().unwrap());
    let b = DVector::from_fn(nv, |_, _| it.next().unwrap());
    let c = DVector::from_fn(nh, |_, _| it.next().unwrap());
    TiedAutoencoder::from_parameters(LayerParams::new(w, b, c).unwrap(), decoder, loss).unwrap()
}

fn data_for(decoder: Decoder, nv: usize, b: usize, values: &[f64]) -> DMatrix<f64> {
    let mut it = values.iter().cycle().cloned();
    DMatrix::from_fn(nv, b, |_, _| {
        let u = it.next().unwrap();
        match decoder {
            Decoder::Sigmoid => u,
            Decoder::Identity => 4.0 * u - 2.0,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// gradients

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every loss × penalty combination (noise off): the analytic gradient matches central
    /// finite differences of the objective.
    #[test]
    fn objective_gradient_matches_finite_differences(
        nv in 1usize..=6,
        nh in 1usize..=5,
        b in 1usize..=4,
        params in prop::collection::vec(-1.5..1.5f64, 64),
        xs in prop::collection::vec(0.0..=1.0f64, 24),
    ) {
        for (decoder, loss) in KINDS {
            let ae = model(nv, nh, &params, decoder, loss);
            let x = data_for(decoder, nv, b, &xs);
            for pen in penalty_sets() {
                let report = check_loss_gradient(&ae, &x, &x, &pen, &CheckConfig::default()).unwrap();
                prop_assert!(report.within(1e-6, 1e-6), "{:?}/{:?} {:?}: {}", decoder, loss, pen, report);
            }
        }
    }

    /// The tied gradient of W is the sum of the untied model's two weight gradients at
    /// V = Wᵀ: ∂J/∂W_enc + (∂J/∂V_dec)ᵀ, both computed here by finite differences of an
    /// independent untied implementation.
    #[test]
    fn tied_gradient_is_sum_of_untied_gradients(
        nv in 1usize..=5,
        nh in 1usize..=4,
        b in 1usize..=3,
        params in prop::collection::vec(-1.5..1.5f64, 48),
        xs in prop::collection::vec(0.0..=1.0f64, 15),
    ) {
        for (decoder, loss) in KINDS {
            let ae = model(nv, nh, &params, decoder, loss);
            let x = data_for(decoder, nv, b, &xs);
            let (_, grad) = ae.objective_gradient(&x, &x, &Penalties::default()).unwrap();
            let w = ae.weights().clone();
            let v = w.transpose();
            let (bv, bh) = (ae.visible_bias().clone(), ae.hidden_bias().clone());
            let untied = |we: &DMatrix<f64>, vd: &DMatrix<f64>| {
                untied_loss(we, vd, &bv, &bh, &x, decoder, loss)
            };
            let e = 1e-5;
            for j in 0..nh {
                for i in 0..nv {
                    let (mut wp, mut wm) = (w.clone(), w.clone());
                    wp[(j, i)] += e;
                    wm[(j, i)] -= e;
                    let d_enc = (untied(&wp, &v) - untied(&wm, &v)) / (2.0 * e);
                    let (mut vp, mut vm) = (v.clone(), v.clone());
                    vp[(i, j)] += e;
                    vm[(i, j)] -= e;
                    let d_dec = (untied(&w, &vp) - untied(&w, &vm)) / (2.0 * e);
                    let tied = grad.weights()[(j, i)];
                    prop_assert!(
                        (tied - (d_enc + d_dec)).abs() <= 1e-6 * (1.0 + tied.abs()),
                        "{:?}/{:?} W[{},{}]: tied {} vs encoder {} + decoder {}",
                        decoder, loss, j, i, tied, d_enc, d_dec
                    );
                }
            }
        }
    }
}

/// Mean loss of an untied autoencoder: h = σ(W_enc x + c), z = V_dec h + b.
fn untied_loss(
    w_enc: &DMatrix<f64>,
    v_dec: &DMatrix<f64>,
    bv: &DVector<f64>,
    bh: &DVector<f64>,
    x: &DMatrix<f64>,
    decoder: Decoder,
    loss: Loss,
) -> f64 {
    let sig = |t: f64| 1.0 / (1.0 + (-t).exp());
    let mut total = 0.0;
    for n in 0..x.ncols() {
        let xc = x.column(n);
        let h = (w_enc * xc + bh).map(sig);
        let z = v_dec * h + bv;
        for i in 0..z.len() {
            total += match (decoder, loss) {
                (Decoder::Sigmoid, Loss::CrossEntropy) => {
                    let r = sig(z[i]);
                    -(xc[i] * r.ln() + (1.0 - xc[i]) * (1.0 - r).ln())
                }
                (Decoder::Sigmoid, Loss::SquaredError) => (sig(z[i]) - xc[i]).powi(2),
                (Decoder::Identity, _) => (z[i] - xc[i]).powi(2),
            };
        }
    }
    total / x.ncols() as f64
}

/// The penalty values themselves, against direct formulas on a small model.
#[test]
fn penalty_values_match_their_definitions() {
    let params: Vec<f64> = (0..40)
        .map(|k| ((k * 37 % 23) as f64 - 11.0) / 9.0)
        .collect();
    let (nv, nh, b) = (4, 3, 5);
    let ae = model(nv, nh, &params, Decoder::Sigmoid, Loss::CrossEntropy);
    let x = DMatrix::from_fn(nv, b, |i, n| ((i * 7 + n * 3) % 5) as f64 / 4.0);
    let (lambda, rho, beta) = (0.4, 0.3, 0.9);
    let pen = Penalties {
        contractive: lambda,
        sparsity: Some(Sparsity {
            target: rho,
            weight: beta,
        }),
    };
    let (obj, _) = ae.objective_gradient(&x, &x, &pen).unwrap();
    let h = ae.encode(&x).unwrap();
    let w = ae.weights();
    // ‖∂h/∂x‖²_F with the Jacobian built explicitly: J_ji = h_j(1 − h_j) W_ji.
    let mut frob = 0.0;
    for n in 0..b {
        for j in 0..nh {
            for i in 0..nv {
                let jac = h[(j, n)] * (1.0 - h[(j, n)]) * w[(j, i)];
                frob += jac * jac;
            }
        }
    }
    assert!((obj.contractive - lambda * frob / b as f64).abs() < 1e-12);
    let mut kl = 0.0;
    for j in 0..nh {
        let m = h.row(j).mean();
        kl += rho * (rho / m).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - m)).ln();
    }
    assert!((obj.sparsity - beta * kl).abs() < 1e-12);
    let recon = ae.reconstruct(&x).unwrap();
    let mut ce = 0.0;
    for (r, t) in recon.iter().zip(x.iter()) {
        ce -= t * r.ln() + (1.0 - t) * (1.0 - r).ln();
    }
    assert!((obj.loss - ce / b as f64).abs() < 1e-12);
    assert!((obj.total() - obj.loss - obj.contractive - obj.sparsity).abs() < 1e-15);
}

// ---------------------------------------------------------------------------------------------
// numerical extremes

fn saturated<T: Float>() {
    // Visible pre-activations of ±1e4 (visible biases), weights zero.
    let w = DMatrix::<T>::zeros(2, 4);
    let b = DVector::from_vec(
        vec![1e4, -1e4, 1e4, -1e4]
            .into_iter()
            .map(T::of_f64)
            .collect(),
    );
    let c = DVector::zeros(2);
    let ae = TiedAutoencoder::from_parameters(
        LayerParams::new(w, b, c).unwrap(),
        Decoder::Sigmoid,
        Loss::CrossEntropy,
    )
    .unwrap();
    // Targets: agree, agree, disagree, disagree.
    let x = DMatrix::from_vec(4, 1, vec![T::one(), T::zero(), T::zero(), T::one()]);
    let loss = ae.loss_per_sample(&x).unwrap();
    assert_eq!(loss[0], 2e4, "{}: CE of two confident mistakes", T::NAME);
    let (obj, grad) = ae
        .objective_gradient(&x, &x, &Penalties::default())
        .unwrap();
    assert_eq!(obj.loss, 2e4);
    for block in 0..grad.n_blocks() {
        assert!(grad.block(block).iter().all(|g| g.finite()), "{}", T::NAME);
    }
    // δz = r − x: 0, 0, 1, −1.
    let want = [0.0, 0.0, 1.0, -1.0];
    for (g, w) in grad.visible_bias().iter().zip(want) {
        assert_eq!(g.as_f64(), w);
    }
}

#[test]
fn cross_entropy_is_finite_for_saturated_preactivations() {
    saturated::<f32>();
    saturated::<f64>();
}

// ---------------------------------------------------------------------------------------------
// noise

fn noise_statistics<T: Float>() {
    let (rows, cols) = (200, 250);
    let n = (rows * cols) as f64;
    let clean = DMatrix::<T>::from_fn(rows, cols, |i, j| {
        T::of_f64(((i + j) % 9 + 1) as f64 / 10.0)
    });
    let mut out = DMatrix::zeros(rows, cols);
    let mut rng = RunRng::seed_from_u64(3);
    for p in [0.1, 0.3, 0.5] {
        Noise::Masking { fraction: p }
            .corrupt_into(clean.as_view(), out.as_view_mut(), &mut rng)
            .unwrap();
        let zeros = out.iter().filter(|x| **x == T::zero()).count() as f64;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!(
            (zeros - n * p).abs() < 4.0 * sd,
            "masking {p}: {zeros} zeros of {n}"
        );
        for (o, c) in out.iter().zip(clean.iter()) {
            assert!(*o == T::zero() || o == c);
        }

        Noise::SaltAndPepper { fraction: p }
            .corrupt_into(clean.as_view(), out.as_view_mut(), &mut rng)
            .unwrap();
        let zeros = out.iter().filter(|x| **x == T::zero()).count() as f64;
        let ones = out.iter().filter(|x| **x == T::one()).count() as f64;
        let sd = (n * p / 2.0 * (1.0 - p / 2.0)).sqrt();
        assert!(
            (zeros - n * p / 2.0).abs() < 4.0 * sd,
            "salt-and-pepper {p}: {zeros} zeros"
        );
        assert!(
            (ones - n * p / 2.0).abs() < 4.0 * sd,
            "salt-and-pepper {p}: {ones} ones"
        );
    }
    let std = 0.25;
    Noise::Gaussian { std }
        .corrupt_into(clean.as_view(), out.as_view_mut(), &mut rng)
        .unwrap();
    let d: Vec<f64> = out
        .iter()
        .zip(clean.iter())
        .map(|(o, c)| (*o - *c).as_f64())
        .collect();
    let mean = d.iter().sum::<f64>() / n;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 4.0 * std / n.sqrt(), "Gaussian mean {mean}");
    assert!(
        (var.sqrt() - std).abs() < 0.01,
        "Gaussian std {}",
        var.sqrt()
    );
}

#[test]
fn noise_corrupts_the_stated_fraction_in_expectation() {
    noise_statistics::<f32>();
    noise_statistics::<f64>();
}

// ---------------------------------------------------------------------------------------------
// training

fn digits_config(epochs: usize, seed: u64) -> FitConfig {
    FitConfig::default()
        .epochs(epochs)
        .batch_size(20)
        .learning_rate(0.1)
        .momentum(0.9)
        .seed(seed)
        .metrics(MetricsConfig {
            max_samples: 500,
            ..MetricsConfig::default()
        })
}

#[test]
fn seeded_runs_are_bit_reproducible_and_seeds_differ() {
    let data = datasets::digits_scaled::<f32>().head(300).unwrap();
    let sgd = Sgd::new()
        .noise(Noise::Masking { fraction: 0.25 })
        .contractive(0.05)
        .sparsity(0.1, 0.1);
    let run = |seed| {
        let mut ae =
            TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
        let report = ae.fit(&data, &sgd, &digits_config(3, seed)).unwrap();
        (
            ae,
            report
                .epochs
                .iter()
                .map(|e| e.train_loss)
                .collect::<Vec<_>>(),
        )
    };
    let (a, la) = run(5);
    let (b, lb) = run(5);
    let (c, _) = run(6);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    assert_ne!(a.weights(), c.weights());
}

#[test]
fn training_reduces_the_loss_on_digits_by_a_wide_margin() {
    let data = datasets::digits_scaled::<f32>();
    for (decoder, loss) in KINDS {
        let mut ae = TiedAutoencoder::<f32>::new(64, 32, decoder, loss).unwrap();
        let config = digits_config(8, 1).learning_rate(match loss {
            Loss::CrossEntropy => 0.1,
            Loss::SquaredError => 0.05,
        });
        // The initial loss: the same initialisation fit uses.
        let mut init = ae.clone();
        init.initialize(&config.init, Some(&data), &mut RunRng::seed_from_u64(1))
            .unwrap();
        let before = init.mean_loss(&data).unwrap();
        let report = ae.fit(&data, &Sgd::new(), &config).unwrap();
        let after = ae.mean_loss(&data).unwrap();
        let last = report.final_metrics().unwrap();
        assert!(last.loss.is_some() && last.recon_mse.is_some());
        assert_eq!(last.pseudo_likelihood, None);
        assert_eq!(report.metric_samples, 500);
        assert!(
            after < 0.6 * before,
            "{decoder:?}/{loss:?}: loss {before} -> {after}"
        );
        assert!(report.epochs.iter().all(|e| e.train_loss.is_some()));
    }
}

// ---------------------------------------------------------------------------------------------
// bad input

fn small_ae(loss: Loss, decoder: Decoder) -> TiedAutoencoder<f32> {
    TiedAutoencoder::new(64, 8, decoder, loss).unwrap()
}

fn fit_err(sgd: Sgd) -> Error {
    let data = datasets::digits_scaled::<f32>().head(50).unwrap();
    let mut ae = small_ae(Loss::CrossEntropy, Decoder::Sigmoid);
    let before = ae.clone();
    let err = ae
        .fit(&data, &sgd, &FitConfig::default().epochs(1))
        .unwrap_err();
    assert_eq!(ae, before, "a rejected run must not touch the model");
    err
}

#[test]
fn invalid_noise_and_penalties_are_typed_errors() {
    for fraction in [1.0, 1.5, -0.1, f64::NAN] {
        for noise in [
            Noise::Masking { fraction },
            Noise::SaltAndPepper { fraction },
        ] {
            let e = fit_err(Sgd::new().noise(noise));
            assert!(
                matches!(
                    e,
                    Error::InvalidParameter {
                        name: "noise fraction",
                        ..
                    }
                ),
                "{noise:?}: {e}"
            );
        }
    }
    for std in [-1.0, f64::INFINITY, f64::NAN] {
        let e = fit_err(Sgd::new().noise(Noise::Gaussian { std }));
        assert!(
            matches!(
                e,
                Error::InvalidParameter {
                    name: "noise std",
                    ..
                }
            ),
            "{e}"
        );
    }
    for lambda in [-0.1, f64::NAN, f64::INFINITY, 1e300] {
        // 1e300 is finite in f64 but overflows f32.
        let e = fit_err(Sgd::new().contractive(lambda));
        assert!(
            matches!(
                e,
                Error::InvalidPenalty {
                    name: "contractive",
                    ..
                }
            ),
            "{lambda}: {e}"
        );
    }
    for target in [0.0, 1.0, -0.5, f64::NAN, 1.0 - 1e-10] {
        // 1 − 1e−10 lies in (0, 1) but rounds to 1 in f32.
        let e = fit_err(Sgd::new().sparsity(target, 0.1));
        assert!(
            matches!(
                e,
                Error::InvalidParameter {
                    name: "sparsity target",
                    ..
                }
            ),
            "{target}: {e}"
        );
    }
    let e = fit_err(Sgd::new().sparsity(0.1, -1.0));
    assert!(
        matches!(
            e,
            Error::InvalidPenalty {
                name: "sparsity weight",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn cross_entropy_needs_a_sigmoid_decoder_and_unit_interval_data() {
    let e = TiedAutoencoder::<f64>::new(4, 2, Decoder::Identity, Loss::CrossEntropy).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "loss", .. }),
        "{e}"
    );

    let data = Dataset::from_columns(DMatrix::from_fn(4, 6, |i, j| (i + j) as f64 / 4.0)).unwrap();
    let mut ae = TiedAutoencoder::<f64>::new(4, 2, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let e = ae
        .fit(&data, &Sgd::new(), &FitConfig::default().batch_size(2))
        .unwrap_err();
    assert!(
        matches!(e, Error::OutsideUnitInterval { sample: 2, feature: 3, value, .. } if value == 1.25),
        "{e}"
    );
    // Squared error with an identity decoder takes any finite data.
    let mut ae = TiedAutoencoder::<f64>::new(4, 2, Decoder::Identity, Loss::SquaredError).unwrap();
    ae.fit(
        &data,
        &Sgd::new(),
        &FitConfig::default()
            .batch_size(2)
            .epochs(1)
            .learning_rate(0.01),
    )
    .unwrap();
    // Wrong shapes.
    let wrong = Dataset::from_columns(DMatrix::<f64>::zeros(5, 3)).unwrap();
    let e = ae
        .fit(&wrong, &Sgd::new(), &FitConfig::default().batch_size(2))
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = ae.encode(&DMatrix::zeros(3, 2)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                expected: (4, 2),
                found: (3, 2),
                ..
            }
        ),
        "{e}"
    );
    let mut nan = DMatrix::zeros(4, 2);
    nan[(2, 1)] = f64::NAN;
    let e = ae.reconstruct(&nan).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                sample: 1,
                feature: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = ae.decode(&DMatrix::zeros(3, 2)).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

/// Records the parameters after every step, so a failing run can be compared with its last
/// good state.
struct LastGood(Option<TiedAutoencoder<f64>>);

impl Observer<TiedAutoencoder<f64>> for LastGood {
    fn on_epoch(&mut self, _: &TiedAutoencoder<f64>, _: &EpochReport) -> Control {
        Control::Continue
    }
    fn on_step(&mut self, model: &TiedAutoencoder<f64>, _: &StepReport) -> Control {
        self.0 = Some(model.clone());
        Control::Continue
    }
    fn wants_steps(&self) -> bool {
        true
    }
}

#[test]
fn divergence_names_epoch_and_batch_and_keeps_the_last_good_parameters() {
    // Real-valued data, identity decoder, a learning rate far too large: the weights blow up.
    let data = Dataset::from_columns(DMatrix::from_fn(8, 40, |i, j| {
        ((i * 13 + j * 7) % 11) as f64 * 30.0 - 150.0
    }))
    .unwrap();
    let mut ae = TiedAutoencoder::<f64>::new(8, 4, Decoder::Identity, Loss::SquaredError).unwrap();
    let mut last = LastGood(None);
    let config = FitConfig::default()
        .batch_size(5)
        .learning_rate(10.0)
        .epochs(50);
    let e = ae
        .fit_observed(&data, &Sgd::new(), &config, &mut last)
        .unwrap_err();
    let Error::Diverged { epoch, batch, .. } = e else {
        panic!("expected Diverged, got {e}");
    };
    assert!(epoch < 50 && batch < 8, "{e}");
    let good = last.0.expect("at least one good step");
    assert_eq!(ae, good);
    for b in 0..ae.params().n_blocks() {
        assert!(ae.params().block(b).iter().all(|x| x.is_finite()));
    }
    assert!(e
        .to_string()
        .contains(&format!("epoch {epoch}, batch {batch}")));
}

#[test]
fn weight_decay_from_the_shared_rule_is_the_gradient_of_half_l2() {
    // One step, no momentum: θ' = θ − ε(∇J + λ₂·W) on weights, θ − ε∇J on biases.
    let data = datasets::digits_scaled::<f64>().head(10).unwrap();
    let (eps, l2) = (0.1, 0.3);
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(10)
        .momentum(0.0)
        .learning_rate(eps)
        .weight_decay(l2)
        .metrics(MetricsConfig::none());
    let mut ae = TiedAutoencoder::<f64>::new(64, 5, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    ae.fit(&data, &Sgd::new(), &config).unwrap();
    let trained = ae.clone();
    let mut start =
        TiedAutoencoder::<f64>::new(64, 5, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    start
        .initialize(
            &config.init,
            Some(&data),
            &mut RunRng::seed_from_u64(config.seed),
        )
        .unwrap();
    let x = data.samples();
    // The batch is the whole (shuffled) data: the mean gradient does not depend on the order.
    let (_, g) = start
        .objective_gradient(x, x, &Penalties::default())
        .unwrap();
    let want_w = start.weights() - (g.weights() + start.weights() * l2) * eps;
    let want_b = start.visible_bias() - g.visible_bias() * eps;
    assert!((trained.weights() - want_w).amax() < 1e-12);
    assert!((trained.visible_bias() - want_b).amax() < 1e-12);
}

#[test]
fn an_observer_can_stop_training_early() {
    let data = datasets::digits_scaled::<f32>().head(100).unwrap();
    let mut ae = small_ae(Loss::CrossEntropy, Decoder::Sigmoid);
    let mut stop = FnObserver(|_: &TiedAutoencoder<f32>, r: &EpochReport| {
        if r.epoch == 1 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let report = ae
        .fit_observed(
            &data,
            &Sgd::new(),
            &FitConfig::default().epochs(10),
            &mut stop,
        )
        .unwrap();
    assert_eq!(report.epochs.len(), 2);
    assert!(report.stopped_early);
    assert!(report.trainer.starts_with("SGD"));
}

#[test]
fn overflowing_sparsity_penalty_is_divergence_not_a_data_error() {
    let data = datasets::digits_scaled::<f32>().head(50).unwrap();
    for lr in [1e3, 1e6, 1e20] {
        let mut ae = small_ae(Loss::CrossEntropy, Decoder::Sigmoid);
        let e = ae
            .fit(
                &data,
                &Sgd::new().sparsity(0.05, 1.0),
                &FitConfig::default().epochs(5).learning_rate(lr),
            )
            .unwrap_err();
        assert!(matches!(e, Error::Diverged { .. }), "lr {lr}: {e}");
        for b in 0..ae.params().n_blocks() {
            assert!(ae.params().block(b).iter().all(|x| x.is_finite()));
        }
    }
}

#[test]
fn penalty_weights_are_checked_where_they_enter_the_gradient() {
    // 3e38 is finite in f32, but the gradient uses 2λ, which is not.
    let e = fit_err(Sgd::new().contractive(3e38));
    assert!(
        matches!(
            e,
            Error::InvalidPenalty {
                name: "contractive",
                ..
            }
        ),
        "{e}"
    );
    // A zero sparsity weight is no penalty, even where the KL term would be infinite.
    let w = DMatrix::<f64>::zeros(2, 3);
    let params = LayerParams::new(w, DVector::zeros(3), DVector::from_element(2, -800.0)).unwrap();
    let ae =
        TiedAutoencoder::from_parameters(params, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let x = DMatrix::from_element(3, 2, 0.5);
    let off = Penalties {
        contractive: 0.0,
        sparsity: Some(Sparsity {
            target: 0.1,
            weight: 0.0,
        }),
    };
    let (obj, _) = ae.objective_gradient(&x, &x, &off).unwrap();
    assert_eq!(obj.sparsity, 0.0);
    // With a weight, the same model's penalty is infinite: an error, not a silent ∞.
    let on = Penalties {
        contractive: 0.0,
        sparsity: Some(Sparsity {
            target: 0.1,
            weight: 1.0,
        }),
    };
    let e = ae.objective_gradient(&x, &x, &on).unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
}

#[test]
fn corrupted_inputs_outside_the_target_range_can_be_encoded() {
    let ae = TiedAutoencoder::<f64>::new(3, 2, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let noisy = DMatrix::from_vec(3, 1, vec![-0.4, 1.7, 0.5]);
    assert!(ae.encode(&noisy).is_ok());
    assert!(ae.reconstruct(&noisy).is_ok());
    // ... but cannot be a cross-entropy target.
    let e = ae.loss_per_sample(&noisy).unwrap_err();
    assert!(
        matches!(e, Error::OutsideUnitInterval { feature: 0, .. }),
        "{e}"
    );
    let clean = DMatrix::from_vec(3, 1, vec![0.0, 1.0, 0.5]);
    assert!(ae
        .objective_gradient(&noisy, &clean, &Penalties::default())
        .is_ok());
}

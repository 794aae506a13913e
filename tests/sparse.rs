//! Training on mostly-zero visible and hidden states takes the sparse products (`W·V`, `Wᵀ·H`
//! through a transposed copy of `W`, and the weight gradient): they agree with the dense
//! formulas, never read a stale copy of the weights, and learn.

use nalgebra::DMatrix;
use rand::SeedableRng;
use rbms::train::{HiddenBiasInit, Init};
use rbms::{
    math::sigmoid, ContrastiveDivergence, Dataset, EnergyModel, FitConfig, Float, MetricsConfig,
    Model, Parameters, PersistentCd, Rbm, RunRng,
};

/// `n` binary columns of `rows` values, each 1 with probability `density`, fixed by `seed`.
fn binary(rows: usize, n: usize, density: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = RunRng::seed_from_u64(seed);
    DMatrix::from_fn(rows, n, |_, _| {
        if f64::uniform01(&mut rng) < density {
            1.0
        } else {
            0.0
        }
    })
}

/// A 784 × 300 model trained for one epoch on 1,000 samples of density 0.1, with hidden biases
/// set for an activation of 0.1: both layers' states stay mostly zeros, so every product of the
/// run but the first downward ones is sparse, and the run ends with a fresh transposed copy.
fn trained(trainer_pcd: bool) -> (Rbm<f64>, Dataset<f64>) {
    let data = Dataset::from_columns(binary(784, 1000, 0.1, 1)).unwrap();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(100)
        .learning_rate(0.05)
        .seed(2)
        .metrics(MetricsConfig::none())
        .init(Init {
            hidden_bias: HiddenBiasInit::FromTarget(0.1),
            ..Init::default()
        });
    let mut rbm = Rbm::<f64>::new(784, 300).unwrap();
    if trainer_pcd {
        rbm.fit(&data, &PersistentCd::new(1, 100), &config).unwrap();
    } else {
        rbm.fit(&data, &ContrastiveDivergence::new(1), &config)
            .unwrap();
    }
    (rbm, data)
}

/// σ(Wᵀ·h + b) by the defining formula, with nalgebra's own product.
fn visible_means_by_formula(rbm: &Rbm<f64>, h: &DMatrix<f64>) -> DMatrix<f64> {
    let mut x = rbm.weights().transpose() * h;
    for mut col in x.column_iter_mut() {
        col += rbm.visible_bias();
        col.apply(|v| *v = sigmoid(*v));
    }
    x
}

/// σ(W·v + c) by the defining formula.
fn hidden_means_by_formula(rbm: &Rbm<f64>, v: &DMatrix<f64>) -> DMatrix<f64> {
    let mut x = rbm.weights() * v;
    for mut col in x.column_iter_mut() {
        col += rbm.hidden_bias();
        col.apply(|v| *v = sigmoid(*v));
    }
    x
}

fn max_abs_difference(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn sparse_conditionals_agree_with_the_formulas_and_follow_every_change_of_the_weights() {
    for pcd in [false, true] {
        let (mut rbm, data) = trained(pcd);
        // Mostly-zero hidden states: the transposed copy that the last update left serves them.
        let h = binary(300, 100, 0.1, 3);
        let got = rbm.visible_probabilities(&h).unwrap();
        assert!(max_abs_difference(&got, &visible_means_by_formula(&rbm, &h)) < 1e-12);
        let v = data.samples().columns(0, 100).into_owned();
        let got = rbm.hidden_probabilities(&v).unwrap();
        assert!(max_abs_difference(&got, &hidden_means_by_formula(&rbm, &v)) < 1e-12);

        // Any change through params_mut makes the copy stale: the next product must see it.
        let before = rbm.visible_probabilities(&h).unwrap();
        for w in rbm.params_mut().block_mut(0) {
            *w *= 3.0;
        }
        let after = rbm.visible_probabilities(&h).unwrap();
        let want = visible_means_by_formula(&rbm, &h);
        assert!(
            max_abs_difference(&after, &want) < 1e-12,
            "stale Wᵀ (pcd {pcd})"
        );
        assert!(
            max_abs_difference(&after, &before) > 1e-3,
            "the change must show"
        );

        // A clone starts without a copy and gives the same values.
        let again = rbm.clone().visible_probabilities(&h).unwrap();
        assert!(max_abs_difference(&again, &want) < 1e-12);
    }
}

/// 1,000 noisy copies of 10 random prototypes of density 0.1 (each pixel flipped with
/// probability 0.02): mostly zeros, with structure a model can learn.
fn prototypes() -> DMatrix<f64> {
    let protos = binary(784, 10, 0.1, 6);
    let flips = binary(784, 1000, 0.02, 7);
    DMatrix::from_fn(784, 1000, |i, n| {
        let p = protos[(i, n % 10)];
        if flips[(i, n)] == 1.0 {
            1.0 - p
        } else {
            p
        }
    })
}

#[test]
fn sparse_training_learns_the_prototypes() {
    // Density 0.12: the run's products are the sparse ones. It must learn the prototypes: a
    // reconstruction error far below that of predicting each pixel by its mean (0.094), near
    // the flip noise. (The same run took 0.0230 with the dense products before they existed.)
    let data = Dataset::from_columns(prototypes()).unwrap();
    let baseline = data
        .feature_means()
        .iter()
        .map(|p| p * (1.0 - p))
        .sum::<f64>()
        / 784.0;
    let config = FitConfig::default()
        .epochs(10)
        .batch_size(50)
        .learning_rate(0.1)
        .seed(5)
        .metrics(MetricsConfig {
            loss: false,
            pseudo_likelihood: false,
            pseudo_likelihood_exact: false,
            ..MetricsConfig::default()
        });
    let mut rbm = Rbm::<f64>::new(784, 200).unwrap();
    let report = rbm.fit(&data, &PersistentCd::new(1, 100), &config).unwrap();
    let mse = report.epochs.last().unwrap().metrics.recon_mse.unwrap();
    assert!(mse < 0.3 * baseline, "mse {mse} vs baseline {baseline}");
}

#[test]
fn equal_models_give_the_same_bits_with_or_without_a_copy_of_the_transposed_weights() {
    // f32, 600 hidden units: past matrixmultiply's inner blocking, where a dense Wᵀ·H would
    // sum in another order than the sparse one and differ in the last bits.
    let m = binary(784, 1000, 0.1, 8).map(|x| x as f32);
    let data = Dataset::from_columns(m).unwrap();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(100)
        .learning_rate(0.05)
        .seed(9)
        .metrics(MetricsConfig::none())
        .init(Init {
            hidden_bias: HiddenBiasInit::FromTarget(0.1),
            ..Init::default()
        });
    let mut rbm = Rbm::<f32>::new(784, 600).unwrap();
    rbm.fit(&data, &PersistentCd::new(1, 100), &config).unwrap();
    let h = binary(600, 100, 0.1, 10).map(|x| x as f32);
    let bits = |m: &DMatrix<f32>| m.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let trained = bits(&rbm.visible_probabilities(&h).unwrap());
    // A clone, a model built from the parameters, the model after a change that changes
    // nothing: none holds a copy yet.
    let clone = rbm.clone();
    assert_eq!(bits(&clone.visible_probabilities(&h).unwrap()), trained);
    let rebuilt = Rbm::<f32>::with_params(rbm.params().clone());
    assert_eq!(bits(&rebuilt.visible_probabilities(&h).unwrap()), trained);
    let _ = rbm.params_mut();
    assert_eq!(bits(&rbm.visible_probabilities(&h).unwrap()), trained);
}

#[test]
fn concurrent_products_on_one_model_see_the_current_weights() {
    // Four threads at once on one model whose copy of Wᵀ is stale, round after round of
    // changes: every result must be that of the current weights.
    let (mut rbm, _) = trained(true);
    let h = binary(300, 100, 0.1, 11);
    for round in 0..6 {
        for w in rbm.params_mut().block_mut(0) {
            *w *= if round % 2 == 0 { 1.5 } else { -0.5 };
        }
        let want = visible_means_by_formula(&rbm, &h);
        let model = &rbm;
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| model.visible_probabilities(&h).unwrap()))
                .collect();
            for r in runs {
                let got = r.join().unwrap();
                assert!(max_abs_difference(&got, &want) < 1e-12, "round {round}");
            }
        });
    }
}

//! The public gradient-check toolkit (`rbms::gradcheck`): central differences against known
//! derivatives, the report's arithmetic, the three model checks passing on correct gradients
//! and catching deliberately wrong ones in the right block, and bad settings.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};
use proptest::prelude::*;
use rand::Rng;
use rbms::gradcheck::{
    central_difference, central_difference_model, check_free_energy_gradient,
    check_log_likelihood_gradient, check_loss_gradient, log_likelihood_gradient_exact, CheckConfig,
    GradientReport,
};
use rbms::{
    Autoencoder, Dataset, Decoder, EnergyModel, Error, LayerParams, Loss, Model, Objective,
    Parameters, Penalties, Rbm, Sparsity, TiedAutoencoder,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn layer<T: rbms::Float>(nv: usize, nh: usize, values: &[f64]) -> LayerParams<T> {
    let mut it = values.iter().cycle().map(|&x| T::of_f64(x));
    LayerParams::new(
        DMatrix::from_fn(nh, nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nv, |_, _| it.next().unwrap()),
        DVector::from_fn(nh, |_, _| it.next().unwrap()),
    )
    .unwrap()
}

fn rbm<T: rbms::Float>(nv: usize, nh: usize, values: &[f64]) -> Rbm<T> {
    let p = layer::<T>(nv, nh, values);
    Rbm::from_parameters(
        p.weights().clone(),
        p.visible_bias().clone(),
        p.hidden_bias().clone(),
    )
    .unwrap()
}

const VALUES: [f64; 11] = [0.7, -1.3, 0.2, 1.9, -0.4, 0.05, -2.1, 1.1, -0.6, 0.9, 1.4];

fn binary(nv: usize, n: usize, seed: usize) -> DMatrix<f64> {
    DMatrix::from_fn(nv, n, |i, j| ((i * 7 + j * 3 + seed) % 5 < 2) as u8 as f64)
}

/// An RBM whose free-energy gradient is deliberately wrong in one way.
#[derive(Clone)]
struct WrongRbm {
    inner: Rbm<f64>,
    bug: Bug,
}

#[derive(Clone, Copy)]
enum Bug {
    /// Block `0` scaled by `1`.
    Scale(usize, f64),
    /// The weight gradient transposed (square models only).
    TransposedWeights,
}

impl Model for WrongRbm {
    type Scalar = f64;
    type Params = LayerParams<f64>;
    fn params(&self) -> &LayerParams<f64> {
        self.inner.params()
    }
    fn params_mut(&mut self) -> &mut LayerParams<f64> {
        self.inner.params_mut()
    }
}

impl EnergyModel for WrongRbm {
    fn n_visible(&self) -> usize {
        self.inner.n_visible()
    }
    fn n_hidden(&self) -> usize {
        self.inner.n_hidden()
    }
    fn check_visible(&self, v: &DMatrix<f64>) -> rbms::Result<()> {
        self.inner.check_visible(v)
    }
    fn energy(
        &self,
        v: DMatrixView<'_, f64>,
        h: DMatrixView<'_, f64>,
    ) -> rbms::Result<DVector<f64>> {
        self.inner.energy(v, h)
    }
    fn free_energy(&self, v: DMatrixView<'_, f64>) -> rbms::Result<DVector<f64>> {
        self.inner.free_energy(v)
    }
    fn hidden_probabilities_into(
        &self,
        v: DMatrixView<'_, f64>,
        out: DMatrixViewMut<'_, f64>,
    ) -> rbms::Result<()> {
        self.inner.hidden_probabilities_into(v, out)
    }
    fn visible_probabilities_into(
        &self,
        h: DMatrixView<'_, f64>,
        out: DMatrixViewMut<'_, f64>,
    ) -> rbms::Result<()> {
        self.inner.visible_probabilities_into(h, out)
    }
    fn sample_hidden_into<R: Rng + ?Sized>(
        &self,
        v: DMatrixView<'_, f64>,
        probs: DMatrixViewMut<'_, f64>,
        states: DMatrixViewMut<'_, f64>,
        rng: &mut R,
    ) -> rbms::Result<()> {
        self.inner.sample_hidden_into(v, probs, states, rng)
    }
    fn sample_visible_into<R: Rng + ?Sized>(
        &self,
        h: DMatrixView<'_, f64>,
        probs: DMatrixViewMut<'_, f64>,
        states: DMatrixViewMut<'_, f64>,
        rng: &mut R,
    ) -> rbms::Result<()> {
        self.inner.sample_visible_into(h, probs, states, rng)
    }
    fn free_energy_gradient_into(
        &self,
        v: DMatrixView<'_, f64>,
        hidden: DMatrixView<'_, f64>,
        scale: f64,
        beta: f64,
        grad: &mut LayerParams<f64>,
    ) -> rbms::Result<()> {
        self.inner
            .free_energy_gradient_into(v, hidden, scale, beta, grad)?;
        match self.bug {
            Bug::Scale(block, factor) => {
                grad.block_mut(block).iter_mut().for_each(|g| *g *= factor)
            }
            Bug::TransposedWeights => {
                let n = self.n_visible();
                let w = grad.block(0).to_vec();
                for i in 0..n {
                    for j in 0..n {
                        grad.block_mut(0)[i * n + j] = w[j * n + i];
                    }
                }
            }
        }
        Ok(())
    }
}

/// A tied autoencoder whose gradient forgets the contractive penalty (the objective keeps it).
#[derive(Clone)]
struct NoContractiveGradient(TiedAutoencoder<f64>);

impl Model for NoContractiveGradient {
    type Scalar = f64;
    type Params = LayerParams<f64>;
    fn params(&self) -> &LayerParams<f64> {
        self.0.params()
    }
    fn params_mut(&mut self) -> &mut LayerParams<f64> {
        self.0.params_mut()
    }
}

impl Autoencoder for NoContractiveGradient {
    type Workspace = <TiedAutoencoder<f64> as Autoencoder>::Workspace;
    fn n_visible(&self) -> usize {
        Autoencoder::n_visible(&self.0)
    }
    fn n_hidden(&self) -> usize {
        Autoencoder::n_hidden(&self.0)
    }
    fn loss_kind(&self) -> Loss {
        self.0.loss_kind()
    }
    fn check_input(&self, v: &DMatrix<f64>) -> rbms::Result<()> {
        self.0.check_input(v)
    }
    fn check_target(&self, v: &DMatrix<f64>) -> rbms::Result<()> {
        self.0.check_target(v)
    }
    fn encode_into(
        &self,
        v: DMatrixView<'_, f64>,
        out: DMatrixViewMut<'_, f64>,
    ) -> rbms::Result<()> {
        self.0.encode_into(v, out)
    }
    fn decode_into(
        &self,
        h: DMatrixView<'_, f64>,
        out: DMatrixViewMut<'_, f64>,
    ) -> rbms::Result<()> {
        self.0.decode_into(h, out)
    }
    fn workspace(&self, batch: usize) -> Self::Workspace {
        self.0.workspace(batch)
    }
    fn objective_gradient_into(
        &self,
        input: DMatrixView<'_, f64>,
        target: DMatrixView<'_, f64>,
        penalties: &Penalties,
        workspace: &mut Self::Workspace,
        grad: &mut LayerParams<f64>,
    ) -> rbms::Result<Objective> {
        let objective = self
            .0
            .objective_gradient_into(input, target, penalties, workspace, grad)?;
        let without = Penalties {
            contractive: 0.0,
            ..*penalties
        };
        self.0
            .objective_gradient_into(input, target, &without, workspace, grad)?;
        Ok(objective)
    }
    fn loss_per_sample(&self, v: &DMatrix<f64>) -> rbms::Result<DVector<f64>> {
        self.0.loss_per_sample(v)
    }
}

// ---------------------------------------------------------------------------------------------
// central differences

/// f(θ) = Σₖ (k + 1)·sin(θₖ) + (Σₖ θₖ)² over every scalar, block after block: ∂f/∂θₖ =
/// (k + 1)·cos(θₖ) + 2·Σθ.
fn wavy(p: &LayerParams<f64>) -> (f64, Vec<f64>) {
    let flat: Vec<f64> = (0..3).flat_map(|b| p.block(b).to_vec()).collect();
    let s: f64 = flat.iter().sum();
    let value = flat
        .iter()
        .enumerate()
        .map(|(k, x)| (k + 1) as f64 * x.sin())
        .sum::<f64>()
        + s * s;
    let grad = flat
        .iter()
        .enumerate()
        .map(|(k, x)| (k + 1) as f64 * x.cos() + 2.0 * s)
        .collect();
    (value, grad)
}

#[test]
fn central_difference_recovers_a_known_gradient_in_f64_and_f32() {
    let p = layer::<f64>(3, 2, &VALUES);
    let (_, want) = wavy(&p);
    let got = central_difference(&p, &CheckConfig::default(), |q| Ok(wavy(q).0)).unwrap();
    let got: Vec<f64> = (0..3).flat_map(|b| got.block(b).to_vec()).collect();
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() < 1e-8 * (1.0 + w.abs()), "[{k}] {g} vs {w}");
    }

    // f32 parameters, the function evaluated in f64: with an f64-sized step the quotient over
    // the rounded step is accurate well beyond f32's precision before the final rounding.
    let p32 = layer::<f32>(3, 2, &VALUES);
    let as64 = |q: &LayerParams<f32>| {
        LayerParams::new(
            q.weights().map(|x| x as f64),
            q.visible_bias().map(|x| x as f64),
            q.hidden_bias().map(|x| x as f64),
        )
        .unwrap()
    };
    let (_, want) = wavy(&as64(&p32));
    let config = CheckConfig::default().step(1e-5);
    let got = central_difference(&p32, &config, |q| Ok(wavy(&as64(q)).0)).unwrap();
    let got: Vec<f64> = (0..3)
        .flat_map(|b| got.block(b).iter().map(|&x| x as f64).collect::<Vec<_>>())
        .collect();
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() < 2e-6 * (1.0 + w.abs()),
            "f32 [{k}] {g} vs {w}"
        );
    }
    // The default f32 step (∛ε ≈ 4.9e-3) is much coarser: truncation error shows.
    let coarse =
        central_difference(&p32, &CheckConfig::default(), |q| Ok(wavy(&as64(q)).0)).unwrap();
    let worst = (0..3)
        .flat_map(|b| coarse.block(b).to_vec())
        .zip(&want)
        .map(|(g, w)| (g as f64 - w).abs())
        .fold(0.0, f64::max);
    assert!(worst > 1e-6 && worst < 1e-3, "{worst}");
}

#[test]
fn central_difference_model_moves_one_parameter_at_a_time_and_restores_it() {
    let rbm = rbm::<f64>(2, 2, &VALUES);
    let original = rbm.params().clone();
    let mut calls = 0;
    // f = the model's weight (1, 0) cubed plus the second visible bias: only those two
    // derivatives are nonzero.
    let g = central_difference_model(&rbm, &CheckConfig::default(), |m: &Rbm<f64>| {
        calls += 1;
        // every other parameter is at its original value
        let moved: usize = (0..3)
            .map(|b| {
                m.params()
                    .block(b)
                    .iter()
                    .zip(original.block(b))
                    .filter(|(x, y)| x != y)
                    .count()
            })
            .sum();
        assert_eq!(moved, 1);
        Ok(m.weights()[(1, 0)].powi(3) + m.visible_bias()[1])
    })
    .unwrap();
    assert_eq!(calls, 2 * original.n_values());
    let w10 = original.weights()[(1, 0)];
    for b in 0..3 {
        for (k, &x) in g.block(b).iter().enumerate() {
            let want = match (b, k) {
                (0, 1) => 3.0 * w10 * w10, // column-major: W[(1, 0)] is index 1
                (1, 1) => 1.0,
                _ => 0.0,
            };
            assert!((x - want).abs() < 1e-9, "block {b} [{k}]: {x} vs {want}");
        }
    }
}

#[test]
fn central_difference_errors_are_typed() {
    let p = layer::<f64>(2, 2, &VALUES);
    for bad in [0.0, -1e-5, f64::NAN, f64::INFINITY] {
        let e = central_difference(&p, &CheckConfig::default().step(bad), |_| Ok(0.0)).unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "step", .. }),
            "{e}"
        );
    }
    for bad in [0.0, -1.0, f64::NAN] {
        let e = check_free_energy_gradient(
            &rbm::<f64>(2, 2, &VALUES),
            &binary(2, 2, 0),
            &CheckConfig::default().relative_floor(bad),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidParameter {
                    name: "relative_floor",
                    ..
                }
            ),
            "{e}"
        );
    }
    // A step below f32's resolution cannot move an f32 parameter.
    let p32 = layer::<f32>(2, 2, &VALUES);
    let e = central_difference(&p32, &CheckConfig::default().step(1e-12), |_| Ok(0.0)).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "step", .. }),
        "{e}"
    );
    // A step that overflows f32.
    let e = central_difference(&p32, &CheckConfig::default().step(1e300), |_| Ok(0.0)).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "step", .. }),
        "{e}"
    );
    // Non-finite values name the parameter; the function's own errors pass through.
    let e = central_difference(&p, &CheckConfig::default(), |q| {
        Ok(if q.hidden_bias()[0] > p.hidden_bias()[0] {
            f64::INFINITY
        } else {
            0.0
        })
    })
    .unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { sample: 2, feature: 0, value, .. } if value == f64::INFINITY),
        "{e}"
    );
    let e = central_difference(&p, &CheckConfig::default(), |q| {
        Ok(if q.visible_bias()[1] != p.visible_bias()[1] {
            f64::NAN
        } else {
            0.0
        })
    })
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                sample: 1,
                feature: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = central_difference(&p, &CheckConfig::default(), |_| {
        Err(Error::EmptyData { what: "marker" })
    })
    .unwrap_err();
    assert!(matches!(e, Error::EmptyData { what: "marker" }), "{e}");
}

// ---------------------------------------------------------------------------------------------
// the report

#[test]
fn report_errors_floor_and_tolerances_follow_their_definitions() {
    let a = LayerParams::new(
        DMatrix::from_row_slice(1, 2, &[2.0, -4.0]),
        DVector::from_vec(vec![1e-6, 0.0]),
        DVector::from_vec(vec![0.5]),
    )
    .unwrap();
    let n = LayerParams::new(
        DMatrix::from_row_slice(1, 2, &[2.002, -4.0]),
        DVector::from_vec(vec![3e-6, 0.0]),
        DVector::from_vec(vec![0.5]),
    )
    .unwrap();
    let r = GradientReport::compare(&a, &n, 1e-3).unwrap();
    assert_eq!(r.step, None);
    let w = r.block("weights").unwrap();
    assert!((w.max_abs - 2e-3).abs() < 1e-12);
    assert!((w.max_rel - 2e-3 / 2.002).abs() < 1e-12);
    assert_eq!(w.worst, 0);
    assert_eq!(w.analytic, vec![2.0, -4.0]);
    assert_eq!(w.numerical, vec![2.002, -4.0]);
    // below the floor: relative error = absolute error / floor
    let b = r.block("visible_bias").unwrap();
    assert!((b.max_abs - 2e-6).abs() < 1e-15);
    assert!((b.max_rel - 2e-3).abs() < 1e-12);
    assert_eq!(r.block("hidden_bias").unwrap().max_abs, 0.0);
    assert!((r.max_abs() - 2e-3).abs() < 1e-12);
    assert!((r.max_rel() - 2e-3).abs() < 1e-12); // the bias entry: 2e-6 / 1e-3
                                                 // An entry is close if either tolerance holds.
    assert!(r.within(2.1e-3, 0.0));
    assert!(r.within(0.0, 2.1e-3));
    assert!(r.within(3e-6, 1e-3)); // weights by rel (≈ 1e-3), bias by abs
    assert!(!r.within(3e-6, 9e-4));
    assert!(!r.within(1e-6, 1e-3));
    // A smaller floor makes the tiny bias entry's relative error large.
    let r2 = GradientReport::compare(&a, &n, 1e-9).unwrap();
    assert!((r2.block("visible_bias").unwrap().max_rel - 2.0 / 3.0).abs() < 1e-9);
    // Display: a header and one line per block, by name.
    let text = r.to_string();
    assert_eq!(text.lines().count(), 4, "{text}");
    for name in ["weights", "visible_bias", "hidden_bias"] {
        assert!(text.contains(name), "{text}");
    }
    // NaN is never close and shows in the maxima.
    let mut nan = n.clone();
    nan.block_mut(2)[0] = f64::NAN;
    let r3 = GradientReport::compare(&a, &nan, 1e-3).unwrap();
    assert!(r3.max_abs().is_nan() && r3.max_rel().is_nan());
    assert!(!r3.within(f64::INFINITY, f64::INFINITY));
    // Shapes must agree.
    let e =
        GradientReport::compare(&a, &LayerParams::<f64>::zeros(2, 2).unwrap(), 1e-3).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "weights",
                ..
            }
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// free energy

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn free_energy_check_passes_in_f64_and_f32(
        nv in 1usize..=6,
        nh in 1usize..=6,
        n in 1usize..=5,
        values in prop::collection::vec(-2.0..2.0f64, 48),
        data in prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64], 30),
    ) {
        let v = DMatrix::from_fn(nv, n, |i, j| data[j * nv + i]);
        let report = check_free_energy_gradient(&rbm::<f64>(nv, nh, &values), &v, &CheckConfig::default()).unwrap();
        prop_assert!(report.within(1e-8, 1e-7), "{}", report);
        prop_assert_eq!(report.blocks.len(), 3);
        prop_assert_eq!(report.blocks[0].analytic.len(), nh * nv);
        // f32: the documented accuracy, about 1e-4·(1 + |F|)
        let v32 = v.map(|x| x as f32);
        let r32 = check_free_energy_gradient(&rbm::<f32>(nv, nh, &values), &v32, &CheckConfig::default()).unwrap();
        prop_assert!(r32.within(2e-3, 2e-3), "{}", r32);
    }
}

#[test]
fn a_wrong_free_energy_gradient_is_caught_in_its_block() {
    let v = binary(4, 3, 1);
    for block in 0..3 {
        let wrong = WrongRbm {
            inner: rbm(4, 3, &VALUES),
            bug: Bug::Scale(block, 1.001),
        };
        let r = check_free_energy_gradient(&wrong, &v, &CheckConfig::default()).unwrap();
        assert!(!r.within(1e-6, 1e-5), "{r}");
        for (b, rb) in r.blocks.iter().enumerate() {
            if b == block {
                // a 0.1% error in every entry: relative error 1e-3 on the entries above the floor
                assert!(rb.max_rel > 9e-4 && rb.max_rel < 1.1e-3, "{r}");
            } else {
                assert!(rb.max_abs < 1e-9, "{r}");
            }
        }
    }
    let wrong = WrongRbm {
        inner: rbm(3, 3, &VALUES),
        bug: Bug::TransposedWeights,
    };
    let r = check_free_energy_gradient(&wrong, &binary(3, 4, 2), &CheckConfig::default()).unwrap();
    assert!(r.block("weights").unwrap().max_abs > 1e-2, "{r}");
    assert!(r.block("visible_bias").unwrap().max_abs < 1e-9, "{r}");
    // the same model, correct, passes
    let right = WrongRbm {
        inner: rbm(3, 3, &VALUES),
        bug: Bug::Scale(0, 1.0),
    };
    assert!(
        check_free_energy_gradient(&right, &binary(3, 4, 2), &CheckConfig::default())
            .unwrap()
            .within(1e-8, 1e-7)
    );
}

#[test]
fn free_energy_check_rejects_data_that_does_not_suit_the_model() {
    let m = rbm::<f64>(3, 2, &VALUES);
    let e = check_free_energy_gradient(&m, &binary(4, 2, 0), &CheckConfig::default()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = check_free_energy_gradient(
        &m,
        &DMatrix::from_element(3, 2, 1.5),
        &CheckConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::OutsideUnitInterval { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------------
// autoencoder objective

fn penalty_sets() -> [Penalties; 3] {
    let sparsity = Some(Sparsity {
        target: 0.2,
        weight: 0.7,
    });
    [
        Penalties::default(),
        Penalties {
            contractive: 0.3,
            sparsity: None,
        },
        Penalties {
            contractive: 0.3,
            sparsity,
        },
    ]
}

#[test]
fn loss_check_passes_for_every_kind_and_penalty() {
    for (decoder, loss) in [
        (Decoder::Sigmoid, Loss::CrossEntropy),
        (Decoder::Sigmoid, Loss::SquaredError),
        (Decoder::Identity, Loss::SquaredError),
    ] {
        let ae = TiedAutoencoder::from_parameters(layer(5, 3, &VALUES), decoder, loss).unwrap();
        let x = binary(5, 4, 3).map(|x| 0.1 + 0.8 * x);
        let noisy = binary(5, 4, 1);
        for pen in penalty_sets() {
            for input in [&x, &noisy] {
                let r = check_loss_gradient(&ae, input, &x, &pen, &CheckConfig::default()).unwrap();
                assert!(r.within(1e-8, 1e-7), "{decoder:?}/{loss:?} {pen:?}\n{r}");
            }
        }
        let ae32 =
            TiedAutoencoder::<f32>::from_parameters(layer(5, 3, &VALUES), decoder, loss).unwrap();
        let x32 = x.map(|x| x as f32);
        let r = check_loss_gradient(
            &ae32,
            &x32,
            &x32,
            &penalty_sets()[2],
            &CheckConfig::default(),
        )
        .unwrap();
        assert!(r.within(2e-3, 2e-3), "f32 {decoder:?}/{loss:?}\n{r}");
    }
}

#[test]
fn a_gradient_missing_a_penalty_is_caught() {
    let ae = TiedAutoencoder::from_parameters(
        layer(5, 3, &VALUES),
        Decoder::Sigmoid,
        Loss::CrossEntropy,
    )
    .unwrap();
    let wrong = NoContractiveGradient(ae);
    let x = binary(5, 4, 3);
    // without the penalty the bug is invisible...
    let r = check_loss_gradient(
        &wrong,
        &x,
        &x,
        &Penalties::default(),
        &CheckConfig::default(),
    )
    .unwrap();
    assert!(r.within(1e-8, 1e-7), "{r}");
    // ...with it, the weights and hidden biases (which the penalty depends on) are wrong, the
    // visible biases (which it does not) are right.
    let pen = Penalties {
        contractive: 0.3,
        sparsity: None,
    };
    let r = check_loss_gradient(&wrong, &x, &x, &pen, &CheckConfig::default()).unwrap();
    assert!(!r.within(1e-6, 1e-5), "{r}");
    assert!(r.block("weights").unwrap().max_abs > 1e-3, "{r}");
    assert!(r.block("hidden_bias").unwrap().max_abs > 1e-4, "{r}");
    assert!(r.block("visible_bias").unwrap().max_abs < 1e-9, "{r}");
}

// ---------------------------------------------------------------------------------------------
// exact log-likelihood

#[test]
fn log_likelihood_check_compares_the_exact_gradient_with_differences_of_log_p() {
    let m = rbm::<f64>(4, 3, &VALUES);
    let data = Dataset::from_columns(binary(4, 3, 2)).unwrap();
    let r = check_log_likelihood_gradient(&m, &data, &CheckConfig::default()).unwrap();
    assert!(r.within(1e-8, 1e-7), "{r}");
    // the analytic side is the exact gradient, bit for bit
    let exact = log_likelihood_gradient_exact(&m, &data).unwrap();
    assert_eq!(exact, m.log_likelihood_gradient_exact(&data).unwrap());
    for b in 0..3 {
        assert_eq!(r.blocks[b].analytic, exact.block(b).to_vec());
    }
    // the numerical side is a central difference of the mean exact log p with the step
    // ε·max(|θ|, 1)
    let eps = r.step.unwrap();
    assert!((eps - f64::EPSILON.cbrt()).abs() < 1e-18);
    let (b, k) = (0, 5);
    let theta = m.params().block(b)[k];
    let h = eps * theta.abs().max(1.0);
    let at = |delta: f64| {
        let mut p = m.clone();
        p.params_mut().block_mut(b)[k] = theta + delta;
        p.log_prob_exact(&data).unwrap().mean()
    };
    let want = (at(h) - at(-h)) / ((theta + h) - (theta - h));
    assert!((r.blocks[b].numerical[k] - want).abs() < 1e-12);

    // f32 models: log p is evaluated in f64, so the check keeps f64 accuracy.
    let m32 = rbm::<f32>(4, 3, &VALUES);
    let data32 = data.cast::<f32>().expect("fits f32");
    let r32 = check_log_likelihood_gradient(&m32, &data32, &CheckConfig::default()).unwrap();
    assert!(r32.within(1e-8, 1e-7), "{r32}");
    assert_eq!(r32.step, r.step);
}

#[test]
fn log_likelihood_check_refuses_models_too_large_to_enumerate() {
    let m = Rbm::<f64>::new(21, 22).unwrap();
    let data = Dataset::from_columns(DMatrix::zeros(21, 1)).unwrap();
    let e = check_log_likelihood_gradient(&m, &data, &CheckConfig::default()).unwrap_err();
    assert!(
        matches!(e, Error::TooLargeToEnumerate { units: 21, .. }),
        "{e}"
    );
    let wrong_shape = Dataset::from_columns(DMatrix::zeros(20, 1)).unwrap();
    let e = check_log_likelihood_gradient(&m, &wrong_shape, &CheckConfig::default()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

//! The hidden sparsity target: it pulls the mean activation toward the target on the digits,
//! changes nothing at cost 0, initialises hidden biases at logit(target), checks its settings
//! and resumes bit for bit.

use rbms::train::{
    fit_checkpointed, resume, CheckpointRef, HiddenBiasInit, HiddenSparsity, ParallelTempering,
    Sparse,
};
use rbms::{
    datasets, ContrastiveDivergence, EnergyModel, Error, FitConfig, Init, MetricsConfig,
    PersistentCd, Rbm,
};

fn config() -> FitConfig {
    FitConfig::default()
        .epochs(5)
        .batch_size(10)
        .learning_rate(0.05)
        .momentum(0.5)
        .metrics(MetricsConfig::none())
        .seed(2)
}

fn mean_activation(rbm: &Rbm<f32>, data: &rbms::Dataset<f32>) -> f64 {
    let h = rbm.transform(data).unwrap();
    h.iter().map(|&x| x as f64).sum::<f64>() / h.len() as f64
}

#[test]
fn sparsity_pulls_the_mean_activation_to_the_target_on_digits() {
    let data = datasets::digits_scaled::<f32>();
    let target = 0.05;
    let pcd = PersistentCd::new(1, 20);
    let mut plain = Rbm::<f32>::new(64, 50).unwrap();
    plain.fit(&data, &pcd, &config()).unwrap();
    let m0 = mean_activation(&plain, &data);

    let sparse = Sparse::new(pcd, HiddenSparsity::new(target, 2.0));
    let mut rbm = Rbm::<f32>::new(64, 50).unwrap();
    let report = rbm.fit(&data, &sparse, &config()).unwrap();
    let m1 = mean_activation(&rbm, &data);
    eprintln!("mean activation: plain {m0:.4}, sparse {m1:.4}, target {target}");
    assert!(
        (m0 - target).abs() > 0.1,
        "plain PCD is not sparse already: {m0}"
    );
    assert!(
        (m1 - target).abs() < 0.25 * (m0 - target).abs(),
        "sparse {m1}, plain {m0}, target {target}"
    );
    assert!((m1 - target).abs() < 0.05, "{m1}");
    // the moving average is reported and agrees with the measured activation
    let q = report
        .diagnostics
        .iter()
        .find(|d| d.0 == "mean_hidden_activity")
        .unwrap()
        .1;
    assert!((q - m1).abs() < 0.05, "q {q}, measured {m1}");
}

#[test]
fn zero_cost_changes_nothing_and_a_cost_changes_the_run() {
    let data = datasets::digits_scaled::<f32>().head(300).unwrap();
    for cost in [0.0, 0.5] {
        let cd = ContrastiveDivergence::new(1);
        let mut plain = Rbm::<f32>::new(64, 16).unwrap();
        plain.fit(&data, &cd, &config()).unwrap();
        let mut sparse = Rbm::<f32>::new(64, 16).unwrap();
        sparse
            .fit(
                &data,
                &Sparse::new(cd, HiddenSparsity::new(0.1, cost)),
                &config(),
            )
            .unwrap();
        assert_eq!(plain == sparse, cost == 0.0, "cost {cost}");
    }
}

#[test]
fn hidden_biases_start_at_the_logit_of_the_target() {
    let data = datasets::digits_scaled::<f64>().head(50).unwrap();
    let init = Init {
        hidden_bias: HiddenBiasInit::FromTarget(0.1),
        ..Init::default()
    };
    let mut rbm = Rbm::<f64>::new(64, 8).unwrap();
    let mut rng = <rbms::RunRng as rand::SeedableRng>::seed_from_u64(0);
    rbm.initialize(&init, Some(&data), &mut rng).unwrap();
    let want = (0.1f64 / 0.9).ln();
    assert!(rbm.hidden_bias().iter().all(|&c| c == want));
    // with small weights the units start near the target activation
    let h = rbm.hidden_probabilities(data.samples()).unwrap();
    let mean = h.mean();
    assert!((mean - 0.1).abs() < 0.01, "{mean}");
    for bad in [0.0, 1.0, f64::NAN, -0.5] {
        let init = Init {
            hidden_bias: HiddenBiasInit::FromTarget(bad),
            ..Init::default()
        };
        assert!(matches!(
            rbm.initialize(&init, Some(&data), &mut rng),
            Err(Error::InvalidParameter {
                name: "hidden_bias",
                ..
            })
        ));
    }
}

#[test]
fn bad_sparsity_settings_are_typed_errors() {
    let data = datasets::digits_scaled::<f64>().head(50).unwrap();
    let mut rbm = Rbm::<f64>::new(64, 8).unwrap();
    let cd = ContrastiveDivergence::new(1);
    for (s, name) in [
        (HiddenSparsity::new(0.0, 1.0), "sparsity.target"),
        (HiddenSparsity::new(1.0, 1.0), "sparsity.target"),
        (HiddenSparsity::new(0.1, -1.0), "sparsity.cost"),
        (HiddenSparsity::new(0.1, f64::INFINITY), "sparsity.cost"),
        (
            HiddenSparsity {
                decay: 1.0,
                ..HiddenSparsity::new(0.1, 1.0)
            },
            "sparsity.decay",
        ),
    ] {
        let r = rbm.fit(&data, &Sparse::new(cd, s), &config());
        assert!(
            matches!(r, Err(Error::InvalidParameter { name: n, .. }) if n == name),
            "{s:?}: {r:?}"
        );
    }
}

/// 6 epochs in one go against 3 + 3 through a checkpoint, with the target on.
fn check_resume<Tr>(trainer: &Tr)
where
    Tr: rbms::train::Resumable<Rbm<f32>>,
    Tr::State: Clone,
{
    let data = datasets::digits_scaled::<f32>().head(95).unwrap();
    let cfg = config().epochs(6);
    let mut full = Rbm::<f32>::new(64, 12).unwrap();
    full.fit(&data, trainer, &cfg).unwrap();
    let mut saved = None;
    let mut half = Rbm::<f32>::new(64, 12).unwrap();
    fit_checkpointed(
        &mut half,
        &data,
        trainer,
        &cfg.clone().epochs(3),
        &mut (),
        3,
        |c: &CheckpointRef<'_, Rbm<f32>, Tr::State>| {
            saved = Some(c.to_checkpoint());
            Ok(())
        },
    )
    .unwrap();
    let mut resumed = Rbm::<f32>::new(1, 1).unwrap();
    resume(&mut resumed, saved.unwrap(), &data, trainer, &cfg, &mut ()).unwrap();
    assert!(resumed == full, "{}", trainer.name());
}

#[test]
fn sparse_runs_resume_bit_identically() {
    let s = HiddenSparsity::new(0.05, 1.0);
    check_resume(&Sparse::new(PersistentCd::new(1, 10), s));
    check_resume(&Sparse::new(ParallelTempering::new(1, 4, 3), s));
}

#[cfg(feature = "serde")]
#[test]
fn sparse_states_resume_through_json() {
    use rbms::persist::Persist;
    use rbms::train::CheckpointOf;
    let data = datasets::digits_scaled::<f64>().head(95).unwrap();
    let trainer = Sparse::new(PersistentCd::new(1, 10), HiddenSparsity::new(0.05, 1.0));
    let cfg = config().epochs(4);
    let mut full = Rbm::<f64>::new(64, 12).unwrap();
    full.fit(&data, &trainer, &cfg).unwrap();
    let mut json = None;
    let mut half = Rbm::<f64>::new(64, 12).unwrap();
    fit_checkpointed(
        &mut half,
        &data,
        &trainer,
        &cfg.clone().epochs(2),
        &mut (),
        2,
        |c| {
            json = Some(c.to_json_string()?);
            Ok(())
        },
    )
    .unwrap();
    let checkpoint =
        CheckpointOf::<Rbm<f64>, Sparse<PersistentCd>>::from_json_str(&json.unwrap()).unwrap();
    assert_eq!(checkpoint.state().mean_activity().len(), 12);
    let mut resumed = Rbm::<f64>::new(1, 1).unwrap();
    resume(&mut resumed, checkpoint, &data, &trainer, &cfg, &mut ()).unwrap();
    assert!(resumed == full);
}

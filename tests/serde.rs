//! The `serde` feature: bit-exact round trips, checkpoint and resume through JSON, typed errors
//! for bad files, and loaders that never panic.
#![cfg(feature = "serde")]

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rbms::datasets::digits_scaled;
use rbms::persist::{json_checkpoints, Persist, FORMAT_VERSION};
use rbms::train::{
    fit, fit_checkpointed, resume, CheckpointOf, FitModel, ParallelTempering, Resumable,
};
use rbms::Autoencoder;
use rbms::{
    ContrastiveDivergence, Dataset, Decoder, Error, FitConfig, Float, History, LayerParams, Loss,
    MetricsConfig, Model, Noise, Parameters, PersistentCd, Rbm, Sgd, TiedAutoencoder,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Debug;

// ---------------------------------------------------------------------------------------------
// helpers

/// Every parameter's bits, block after block (`f32` widened exactly to `f64`).
fn bits<M: Model>(model: &M) -> Vec<u64> {
    let p = model.params();
    (0..p.n_blocks())
        .flat_map(|b| p.block(b).iter().map(|x| x.as_f64().to_bits()))
        .collect()
}

fn rbm_from<T: Float>(nv: usize, nh: usize, values: &[T]) -> Rbm<T> {
    let (w, rest) = values.split_at(nv * nh);
    let (b, c) = rest.split_at(nv);
    Rbm::from_parameters(
        DMatrix::from_column_slice(nh, nv, w),
        DVector::from_column_slice(b),
        DVector::from_column_slice(c),
    )
    .unwrap()
}

fn value_of<T: Persist>(x: &T) -> Value {
    serde_json::from_str(&x.to_json_string().unwrap()).unwrap()
}

/// Small binary data: 20 samples of 6 features from a fixed linear congruential sequence.
fn small_data<T: Float>() -> Dataset<T> {
    let mut state = 12345u64;
    let values: Vec<T> = (0..20 * 6)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            T::of_f64((state >> 63) as f64)
        })
        .collect();
    Dataset::from_row_major(20, 6, &values).unwrap()
}

fn small_config() -> FitConfig {
    FitConfig::default()
        .epochs(2)
        .batch_size(6)
        .seed(11)
        .metrics(MetricsConfig {
            max_samples: 8,
            ..MetricsConfig::default()
        })
}

/// The JSON of a checkpoint after 2 epochs of a small run.
fn small_checkpoint<M, Tr>(mut model: M, trainer: &Tr) -> String
where
    M: FitModel,
    Tr: Resumable<M>,
    M: Serialize,
    Tr::State: Serialize,
{
    let mut json = None;
    fit_checkpointed(
        &mut model,
        &small_data(),
        trainer,
        &small_config(),
        &mut (),
        2,
        |c: &rbms::train::CheckpointRef<'_, M, Tr::State>| {
            json = Some(c.to_json_string()?);
            Ok(())
        },
    )
    .unwrap();
    json.unwrap()
}

// ---------------------------------------------------------------------------------------------
// bit-exact round trips

fn special_f32() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1e30,
        -1e30,
        f32::from_bits(1),            // smallest subnormal
        -f32::from_bits(0x007f_ffff), // largest subnormal
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        0.1,
        1.0 / 3.0,
        f32::EPSILON,
        -f32::from_bits(5), // a small negative subnormal
        16_777_217.0,
    ]
}

fn special_f64() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        1e30,
        -1e30,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        0.1,
        1.0 / 3.0,
        f64::EPSILON,
        5e-324,
        9_007_199_254_740_993.0,
    ]
}

fn assert_round_trip<T: Float>(values: &[T]) {
    // 4 visible × 2 hidden: 8 weights, 4 visible and 2 hidden biases = 14 values
    assert_eq!(values.len(), 14);
    let rbm = rbm_from(4, 2, values);
    let back = Rbm::<T>::from_json_str(&rbm.to_json_string().unwrap()).unwrap();
    assert_eq!(bits(&back), bits(&rbm), "{} {values:?}", T::NAME);
    let ae = TiedAutoencoder::from_parameters(
        rbm.params().clone(),
        Decoder::Identity,
        Loss::SquaredError,
    )
    .unwrap();
    let back = TiedAutoencoder::<T>::from_json_str(&ae.to_json_string().unwrap()).unwrap();
    assert_eq!(bits(&back), bits(&ae));
    assert_eq!(
        (back.decoder(), back.loss_kind()),
        (Decoder::Identity, Loss::SquaredError)
    );
}

#[test]
fn special_values_round_trip_bit_exactly() {
    assert_round_trip::<f32>(&special_f32());
    assert_round_trip::<f64>(&special_f64());
    // -0.0 keeps its sign, subnormals their last bit
    let rbm = rbm_from(4, 2, &special_f32());
    let back = Rbm::<f32>::from_json_str(&rbm.to_json_string().unwrap()).unwrap();
    assert_eq!(back.weights()[1].to_bits(), 0x8000_0000);
    assert_eq!(back.weights()[4].to_bits(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn random_f32_bits_round_trip(raw in prop::collection::vec(any::<u32>(), 14)) {
        let values: Vec<f32> = raw
            .iter()
            .map(|&b| f32::from_bits(b))
            .map(|x| if x.is_finite() { x } else { 1.5 })
            .collect();
        assert_round_trip(&values);
    }

    #[test]
    fn random_f64_bits_round_trip(raw in prop::collection::vec(any::<u64>(), 14)) {
        let values: Vec<f64> = raw
            .iter()
            .map(|&b| f64::from_bits(b))
            .map(|x| if x.is_finite() { x } else { 1.5 })
            .collect();
        assert_round_trip(&values);
    }
}

#[test]
fn trained_model_and_history_round_trip() {
    let data = digits_scaled::<f32>().head(100).unwrap();
    let mut rbm = Rbm::<f32>::new(64, 16).unwrap();
    let mut history = History::default();
    rbm.fit_observed(
        &data,
        &ContrastiveDivergence::new(1),
        &FitConfig::default().epochs(2),
        &mut history,
    )
    .unwrap();
    let back = Rbm::<f32>::from_json_str(&rbm.to_json_string().unwrap()).unwrap();
    assert_eq!(bits(&back), bits(&rbm));
    let h = History::from_json_str(&history.to_json().unwrap()).unwrap();
    assert_eq!(h, history);
    assert!(h.epochs[1].metrics.pseudo_likelihood_exact.is_some());

    let dir = std::env::temp_dir().join(format!("rbms-serde-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.json");
    rbm.save_json(&path).unwrap();
    assert_eq!(Rbm::<f32>::load_json(&path).unwrap(), rbm);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        Rbm::<f32>::load_json(&path),
        Err(Error::Io { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// checkpoint and resume, bit for bit

/// 6 epochs in one run against 3 epochs, a checkpoint through a JSON string, and 3 more epochs
/// resumed in fresh values: every parameter and every metric bit for bit.
fn check_resume<M, Tr>(make: impl Fn() -> M, data: &Dataset<M::Scalar>, trainer: &Tr)
where
    M: FitModel + Persist + Debug + Clone,
    Tr: Resumable<M>,
    Tr::State: Serialize + DeserializeOwned,
{
    let name = format!("{} {}", <M::Scalar as Float>::NAME, trainer.name());
    let config = FitConfig::default()
        .epochs(6)
        .batch_size(10)
        .momentum(0.5)
        .seed(21)
        .metrics(MetricsConfig {
            max_samples: 60, // a fixed random subset, drawn once from the metrics stream
            ..MetricsConfig::default()
        });
    let mut full = make();
    let full_report = fit(&mut full, data, trainer, &config, &mut ()).unwrap();

    let mut first = make();
    let mut json = None;
    fit_checkpointed(
        &mut first,
        data,
        trainer,
        &config.clone().epochs(3),
        &mut (),
        3,
        |c: &rbms::train::CheckpointRef<'_, M, Tr::State>| {
            json = Some(c.to_json_string()?);
            Ok(())
        },
    )
    .unwrap();
    let json = json.expect("a checkpoint after epoch 3");
    drop(first);

    let checkpoint = CheckpointOf::<M, Tr>::from_json_str(&json).unwrap();
    assert_eq!(checkpoint.epochs_done(), 3, "{name}");
    let batches = data.n_samples().div_ceil(10) as u64;
    assert_eq!(checkpoint.steps_done(), 3 * batches, "{name}");
    assert_eq!(checkpoint.metric_indices().map(<[usize]>::len), Some(60));
    // the owned checkpoint writes the same bytes as the borrowed one did
    assert_eq!(checkpoint.to_json_string().unwrap(), json, "{name}");

    // naive continuation (warm start, a fresh generator) is another run: the test can tell
    let mut naive = checkpoint.model().clone();
    fit(
        &mut naive,
        data,
        trainer,
        &config.clone().epochs(3).warm_start(true),
        &mut (),
    )
    .unwrap();
    assert_ne!(bits(&naive), bits(&full), "{name}: naive continuation");

    let mut resumed = make(); // replaced by the checkpoint's model
    let report = resume(&mut resumed, checkpoint, data, trainer, &config, &mut ()).unwrap();
    assert_eq!(
        bits(&resumed),
        bits(&full),
        "{name}: parameters after resuming"
    );
    let epochs: Vec<usize> = report.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, vec![3, 4, 5], "{name}");
    for (r, f) in report.epochs.iter().zip(&full_report.epochs[3..]) {
        assert_eq!(r.metrics, f.metrics, "{name}: metrics of epoch {}", r.epoch);
        assert_eq!(
            r.train_loss.map(f64::to_bits),
            f.train_loss.map(f64::to_bits)
        );
    }
    assert_eq!(report.metric_samples, 60);
}

fn rbm_data<T: Float>() -> Dataset<T> {
    digits_scaled::<T>().head(205).unwrap() // a short last batch of 5
}

#[test]
fn cd_resumes_bit_identically() {
    check_resume(
        || Rbm::<f32>::new(64, 16).unwrap(),
        &rbm_data(),
        &ContrastiveDivergence::new(1),
    );
    check_resume(
        || Rbm::<f64>::new(64, 16).unwrap(),
        &rbm_data(),
        &ContrastiveDivergence::new(2),
    );
}

#[test]
fn pcd_resumes_bit_identically() {
    check_resume(
        || Rbm::<f32>::new(64, 16).unwrap(),
        &rbm_data(),
        &PersistentCd::new(1, 7),
    );
    check_resume(
        || Rbm::<f64>::new(64, 16).unwrap(),
        &rbm_data(),
        &PersistentCd::new(2, 12),
    );
}

#[test]
fn pt_resumes_bit_identically() {
    use rbms::train::{Centering, Ladder};
    check_resume(
        || Rbm::<f32>::new(64, 16).unwrap(),
        &rbm_data(),
        &ParallelTempering::new(1, 4, 3),
    );
    let centered = ParallelTempering::new(2, 3, 2)
        .ladder(Ladder::Betas(vec![1.0, 0.4]))
        .centering(Some(Centering::default()));
    check_resume(|| Rbm::<f64>::new(64, 16).unwrap(), &rbm_data(), &centered);
    // the swap counts are part of the state: the resumed run reports the uninterrupted rates
    let data = rbm_data::<f64>();
    let pt = ParallelTempering::new(1, 4, 3);
    let config = small_config().epochs(4);
    let mut full = Rbm::<f64>::new(64, 16).unwrap();
    let full_report = fit(&mut full, &data, &pt, &config, &mut ()).unwrap();
    let mut saved = None;
    let mut half = Rbm::<f64>::new(64, 16).unwrap();
    fit_checkpointed(
        &mut half,
        &data,
        &pt,
        &config.clone().epochs(2),
        &mut (),
        2,
        |c| {
            saved = Some(c.to_json_string()?);
            Ok(())
        },
    )
    .unwrap();
    let checkpoint =
        CheckpointOf::<Rbm<f64>, ParallelTempering>::from_json_str(&saved.unwrap()).unwrap();
    let mut resumed = Rbm::<f64>::new(1, 1).unwrap();
    let report = resume(&mut resumed, checkpoint, &data, &pt, &config, &mut ()).unwrap();
    assert_eq!(bits(&resumed), bits(&full));
    assert_eq!(report.diagnostics, full_report.diagnostics);
    // another ladder is refused
    let mut json: Value = {
        let mut j = None;
        fit_checkpointed(
            &mut half,
            &data,
            &pt,
            &config.clone().epochs(1),
            &mut (),
            1,
            |c| {
                j = Some(c.to_json_string()?);
                Ok(())
            },
        )
        .unwrap();
        serde_json::from_str(&j.unwrap()).unwrap()
    };
    let other = ParallelTempering::new(1, 4, 3).ladder(Ladder::Geometric {
        temperatures: 3,
        min_beta: 0.5,
    });
    let text = json.to_string();
    let c = CheckpointOf::<Rbm<f64>, ParallelTempering>::from_json_str(&text).unwrap();
    let r = resume(&mut resumed, c, &data, &other, &config, &mut ());
    assert!(matches!(r, Err(Error::ResumeMismatch { .. })), "{r:?}");
    // and a state with more accepted than attempted swaps does not load
    let state = find_key(&mut json, "swaps_accepted").expect("swap counts in the file");
    *state = json!([1_000_000_000u64, 0]);
    let r = CheckpointOf::<Rbm<f64>, ParallelTempering>::from_json_str(&json.to_string());
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
}

/// The first value under `key`, anywhere in `v`.
fn find_key<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match v {
        Value::Object(map) => {
            if map.contains_key(key) {
                return map.get_mut(key);
            }
            map.values_mut().find_map(|x| find_key(x, key))
        }
        Value::Array(items) => items.iter_mut().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

#[test]
fn sgd_resumes_bit_identically() {
    let sgd = Sgd::new()
        .noise(Noise::Masking { fraction: 0.25 })
        .sparsity(0.1, 0.2);
    check_resume(
        || TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap(),
        &rbm_data(),
        &sgd,
    );
    let sgd = Sgd::new().noise(Noise::Gaussian { std: 0.1 });
    check_resume(
        || TiedAutoencoder::<f64>::new(64, 16, Decoder::Identity, Loss::SquaredError).unwrap(),
        &rbm_data(),
        &sgd,
    );
}

#[test]
fn json_checkpoint_files_resume_bit_identically() {
    let data = rbm_data::<f32>();
    let pcd = PersistentCd::new(1, 10);
    let config = FitConfig::default()
        .epochs(5)
        .metrics(MetricsConfig::none())
        .seed(2);
    let mut full = Rbm::<f32>::new(64, 16).unwrap();
    full.fit(&data, &pcd, &config).unwrap();

    let dir = std::env::temp_dir().join(format!("rbms-ckpt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.json");
    let mut model = Rbm::<f32>::new(64, 16).unwrap();
    // every 2 epochs, stopping after 3: the file holds the checkpoint after the last epoch
    fit_checkpointed(
        &mut model,
        &data,
        &pcd,
        &config.clone().epochs(3),
        &mut (),
        2,
        json_checkpoints(&path),
    )
    .unwrap();
    let checkpoint = CheckpointOf::<Rbm<f32>, PersistentCd>::load_json(&path).unwrap();
    assert_eq!(checkpoint.epochs_done(), 3);
    assert_eq!(checkpoint.model(), &model);
    let mut resumed = Rbm::<f32>::new(1, 1).unwrap();
    resume(&mut resumed, checkpoint, &data, &pcd, &config, &mut ()).unwrap();
    assert_eq!(bits(&resumed), bits(&full));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// typed errors

fn rbm_json_value() -> Value {
    // weights 3 × 4 (3 hidden, 4 visible)
    let values: Vec<f32> = (0..12 + 4 + 3).map(|i| i as f32 * 0.25 - 1.0).collect();
    value_of(&rbm_from(4, 3, &values))
}

fn load_rbm(v: &Value) -> rbms::Result<Rbm<f32>> {
    Rbm::<f32>::from_json_str(&v.to_string())
}

#[test]
fn wrong_header_gives_format_and_version_errors() {
    let good = rbm_json_value();
    assert!(load_rbm(&good).is_ok());
    let mut v = good.clone();
    v["format"] = json!("rbms-checkpoint");
    assert!(
        matches!(load_rbm(&v), Err(Error::Format { ref found, .. }) if found == "rbms-checkpoint")
    );
    // an autoencoder's file is not an RBM's, even with the header edited
    let ae = TiedAutoencoder::<f32>::new(4, 3, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let mut v = value_of(&ae);
    assert!(matches!(load_rbm(&v), Err(Error::Format { .. })));
    v["format"] = json!("rbms-rbm");
    assert!(matches!(load_rbm(&v), Err(Error::Corrupt { .. })));
    let mut v = good.clone();
    v["version"] = json!(FORMAT_VERSION + 1);
    assert!(matches!(
        load_rbm(&v),
        Err(Error::VersionMismatch {
            found: 2,
            expected: 1,
            ..
        })
    ));
    // a newer version is refused before its payload is looked at
    let v = json!({"format": "rbms-rbm", "version": 7, "scalar": "f32", "payload": {"new": 1}});
    assert!(matches!(
        load_rbm(&v),
        Err(Error::VersionMismatch { found: 7, .. })
    ));
    let mut v = good.clone();
    v["scalar"] = json!("f64");
    assert!(matches!(load_rbm(&v), Err(Error::Format { .. })));
    // the f32 file read as f64 is refused too (values would be re-rounded)
    assert!(matches!(
        Rbm::<f64>::from_json_str(&good.to_string()),
        Err(Error::Format { .. })
    ));
    // a model file is not a checkpoint
    assert!(matches!(
        CheckpointOf::<Rbm<f32>, ContrastiveDivergence>::from_json_str(&good.to_string()),
        Err(Error::Format { .. })
    ));
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("version");
    assert!(matches!(load_rbm(&v), Err(Error::Corrupt { .. })));
}

#[test]
fn inconsistent_shapes_give_shape_errors() {
    let good = rbm_json_value();
    // weights 3 × 4 with a visible bias of length 5
    let mut v = good.clone();
    v["payload"]["params"]["visible_bias"] = json!([0.0, 0.0, 0.0, 0.0, 0.0]);
    match load_rbm(&v) {
        Err(Error::ShapeMismatch {
            what,
            expected,
            found,
        }) => {
            assert!(what.starts_with("visible_bias"), "{what}");
            assert_eq!((expected, found), ((4, 1), (5, 1)));
        }
        other => panic!("{other:?}"),
    }
    let mut v = good.clone();
    v["payload"]["params"]["hidden_bias"] = json!([0.5]);
    assert!(matches!(
        load_rbm(&v),
        Err(Error::ShapeMismatch {
            expected: (3, 1),
            found: (1, 1),
            ..
        })
    ));
    // 11 weights for 3 × 4
    let mut v = good.clone();
    v["payload"]["params"]["weights"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert!(matches!(
        load_rbm(&v),
        Err(Error::ShapeMismatch {
            expected: (3, 4),
            found: (11, 1),
            ..
        })
    ));
    // n_visible × n_hidden overflowing is a shape error, not an allocation
    let mut v = good.clone();
    v["payload"]["params"]["n_visible"] = json!(u64::MAX);
    assert!(matches!(load_rbm(&v), Err(Error::ShapeMismatch { .. })));
    let mut v = good;
    v["payload"]["params"]["n_visible"] = json!(0);
    v["payload"]["params"]["weights"] = json!([]);
    v["payload"]["params"]["visible_bias"] = json!([]);
    assert!(matches!(load_rbm(&v), Err(Error::EmptyData { .. })));
}

#[test]
fn non_finite_values_give_typed_errors() {
    let good = rbm_json_value();
    // serde_json writes NaN and infinities as null: read back, they are non-finite values
    let mut v = good.clone();
    v["payload"]["params"]["weights"][5] = Value::Null;
    match load_rbm(&v) {
        Err(Error::NonFinite {
            what,
            value,
            sample,
            feature,
        }) => {
            assert_eq!(what, "weights");
            assert!(value.is_nan());
            // column-major 3 × 4: value 5 is row 2 of column 1
            assert_eq!((sample, feature), (1, 2));
        }
        other => panic!("{other:?}"),
    }
    let mut v = good.clone();
    v["payload"]["params"]["hidden_bias"][2] = Value::Null;
    assert!(matches!(
        load_rbm(&v),
        Err(Error::NonFinite {
            what: "hidden_bias",
            ..
        })
    ));
    let mut v = good.clone();
    v["payload"]["params"]["visible_bias"][0] = Value::Null;
    let t64 = v
        .to_string()
        .replace("\"scalar\":\"f32\"", "\"scalar\":\"f64\"");
    assert!(matches!(
        Rbm::<f64>::from_json_str(&t64),
        Err(Error::NonFinite {
            what: "visible_bias",
            ..
        })
    ));
    // not JSON (NaN, Infinity), out of range (1e39 in f32, 1e400) or a string: corrupt
    let text = good.to_string();
    let first_weight = "\"weights\":[-1.0";
    assert!(text.contains(first_weight), "{text}");
    let t = text.replace(first_weight, "\"weights\":[1e39");
    assert!(matches!(
        Rbm::<f32>::from_json_str(&t),
        Err(Error::Corrupt { .. })
    ));
    for bad in ["NaN", "Infinity", "1e400", "-1e400", "\"NaN\""] {
        let t = text.replace(first_weight, &format!("\"weights\":[{bad}"));
        assert!(
            matches!(Rbm::<f32>::from_json_str(&t), Err(Error::Corrupt { .. })),
            "{bad}"
        );
        let t64 = t.replace("\"scalar\":\"f32\"", "\"scalar\":\"f64\"");
        assert!(
            matches!(Rbm::<f64>::from_json_str(&t64), Err(Error::Corrupt { .. })),
            "{bad}"
        );
    }
    // a value in a checkpoint's chains, too
    let ckpt = small_checkpoint(Rbm::<f32>::new(6, 4).unwrap(), &PersistentCd::new(1, 3));
    let mut v: Value = serde_json::from_str(&ckpt).unwrap();
    v["payload"]["state"]["chain_hidden"]["data"][0] = Value::Null;
    assert!(matches!(
        CheckpointOf::<Rbm<f32>, PersistentCd>::from_json_str(&v.to_string()),
        Err(Error::NonFinite {
            what: "chain_hidden",
            ..
        })
    ));
}

#[test]
fn bad_checkpoints_give_typed_errors() {
    type Pcd = CheckpointOf<Rbm<f32>, PersistentCd>;
    let pcd = PersistentCd::new(1, 3);
    let json = small_checkpoint(Rbm::<f32>::new(6, 4).unwrap(), &pcd);
    let good: Value = serde_json::from_str(&json).unwrap();
    assert!(Pcd::from_json_str(&json).is_ok());

    // an order that is not a permutation
    let mut v = good.clone();
    let order = v["payload"]["batches"]["order"].as_array_mut().unwrap();
    order[0] = order[1].clone();
    assert!(matches!(
        Pcd::from_json_str(&v.to_string()),
        Err(Error::InvalidParameter {
            name: "minibatch order",
            ..
        })
    ));
    // chains of inconsistent shapes
    let mut v = good.clone();
    v["payload"]["state"]["chain_visible"]["cols"] = json!(2);
    assert!(matches!(
        Pcd::from_json_str(&v.to_string()),
        Err(Error::ShapeMismatch { .. })
    ));
    // a batch size of 0
    let mut v = good.clone();
    v["payload"]["batches"]["batch_size"] = json!(0);
    assert!(matches!(
        Pcd::from_json_str(&v.to_string()),
        Err(Error::ZeroBatchSize)
    ));
    // a generator state that is not four words
    let mut v = good.clone();
    v["payload"]["rng"] = json!({"s": [1, 2, 3]});
    assert!(matches!(
        Pcd::from_json_str(&v.to_string()),
        Err(Error::Corrupt { .. })
    ));

    // valid parts that do not fit the run
    let data = small_data::<f32>();
    let config = small_config().epochs(4);
    let resume_with =
        |v: &Value, trainer: &PersistentCd, data: &Dataset<f32>, config: &FitConfig| {
            let checkpoint = Pcd::from_json_str(&v.to_string())?;
            let mut model = Rbm::<f32>::new(6, 4).unwrap();
            let before = model.clone();
            let r = resume(&mut model, checkpoint, data, trainer, config, &mut ());
            if r.is_err() {
                assert_eq!(model, before, "a failed resume leaves the model as it was");
            }
            r
        };
    assert!(resume_with(&good, &pcd, &data, &config).is_ok());
    assert!(matches!(
        resume_with(&good, &PersistentCd::new(1, 5), &data, &config),
        Err(Error::ResumeMismatch {
            what: "trainer",
            ..
        })
    ));
    // the name edited to match: the chains' shape still tells
    let mut v = good.clone();
    v["payload"]["trainer"] = json!("PCD-1 (5 chains)");
    assert!(matches!(
        resume_with(&v, &PersistentCd::new(1, 5), &data, &config),
        Err(Error::ResumeMismatch {
            what: "chain hidden states",
            ..
        })
    ));
    assert!(matches!(
        resume_with(&good, &pcd, &data.head(19).unwrap(), &config),
        Err(Error::ResumeMismatch {
            what: "number of samples",
            ..
        })
    ));
    assert!(matches!(
        resume_with(&good, &pcd, &data, &config.clone().batch_size(5)),
        Err(Error::ResumeMismatch {
            what: "batch_size, drop_last",
            ..
        })
    ));
    // a velocity of another (valid) shape
    let mut v = good.clone();
    v["payload"]["state"]["velocity"] =
        value_of(&Rbm::<f32>::new(6, 3).unwrap())["payload"]["params"].clone();
    assert!(matches!(
        resume_with(&v, &pcd, &data, &config),
        Err(Error::ResumeMismatch {
            what: "velocity",
            ..
        })
    ));
    // a metric subset out of range
    let mut v = good.clone();
    v["payload"]["metric_indices"] = json!([0, 25]);
    assert!(matches!(
        resume_with(&v, &pcd, &data, &config),
        Err(Error::ResumeMismatch {
            what: "metric subset",
            ..
        })
    ));
    // data the checkpoint's model does not accept
    let wide = Dataset::from_row_major(20, 7, &[0.0f32; 140]).unwrap();
    assert!(matches!(
        resume_with(&good, &pcd, &wide, &config),
        Err(Error::ShapeMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// no panics: random bytes, truncations, mutations

/// Every loader on `text`: each returns a result (a panic fails the test).
fn load_all(text: &str) -> Vec<bool> {
    vec![
        Rbm::<f32>::from_json_str(text).is_ok(),
        Rbm::<f64>::from_json_str(text).is_ok(),
        TiedAutoencoder::<f32>::from_json_str(text).is_ok(),
        TiedAutoencoder::<f64>::from_json_str(text).is_ok(),
        CheckpointOf::<Rbm<f32>, ContrastiveDivergence>::from_json_str(text).is_ok(),
        CheckpointOf::<Rbm<f64>, PersistentCd>::from_json_str(text).is_ok(),
        CheckpointOf::<TiedAutoencoder<f32>, Sgd>::from_json_str(text).is_ok(),
        CheckpointOf::<Rbm<f64>, ParallelTempering>::from_json_str(text).is_ok(),
        History::from_json_str(text).is_ok(),
        rbms::train::OnlineCheckpoint::<Rbm<f64>, rbms::train::PcdState<rbms::RbmParams<f64>>>::from_json_str(text).is_ok(),
    ]
}

/// Valid files of every kind, small.
fn valid_files() -> Vec<String> {
    let rbm32 = rbm_from(
        4,
        3,
        &(0..19).map(|i| i as f32 * 0.3 - 2.0).collect::<Vec<_>>(),
    );
    let rbm64 = rbm_from(
        4,
        3,
        &(0..19).map(|i| i as f64 * 0.3 - 2.0).collect::<Vec<_>>(),
    );
    let ae = TiedAutoencoder::<f32>::new(6, 3, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let mut history = History::default();
    Rbm::<f64>::new(6, 3)
        .unwrap()
        .fit_observed(
            &small_data(),
            &ContrastiveDivergence::new(1),
            &small_config(),
            &mut history,
        )
        .unwrap();
    vec![
        rbm32.to_json_string().unwrap(),
        rbm64.to_json_string().unwrap(),
        ae.to_json_string().unwrap(),
        small_checkpoint(
            Rbm::<f32>::new(6, 3).unwrap(),
            &ContrastiveDivergence::new(1),
        ),
        small_checkpoint(Rbm::<f64>::new(6, 3).unwrap(), &PersistentCd::new(1, 4)),
        small_checkpoint(Rbm::<f64>::new(6, 3).unwrap(), &small_pt()),
        small_checkpoint(
            TiedAutoencoder::<f32>::new(6, 3, Decoder::Sigmoid, Loss::CrossEntropy).unwrap(),
            &Sgd::new().noise(Noise::Masking { fraction: 0.5 }),
        ),
        history.to_json().unwrap(),
        {
            let data = small_data::<f64>();
            let config = FitConfig::default().batch_size(6).seed(2);
            let mut rbm = Rbm::<f64>::new(6, 3).unwrap();
            let mut s =
                rbms::train::OnlineFit::new(&mut rbm, &data, PersistentCd::new(1, 2), &config)
                    .unwrap();
            s.partial_fit(&mut rbm, &data).unwrap();
            s.checkpoint(&rbm).to_json_string().unwrap()
        },
    ]
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error() {
    for file in valid_files() {
        let ok = load_all(&file);
        assert_eq!(
            ok.iter().filter(|&&x| x).count(),
            1,
            "exactly one loader reads {file}"
        );
        // every proper prefix (at character boundaries) fails in every loader
        for (end, _) in file.char_indices().skip(1) {
            assert!(
                load_all(&file[..end]).iter().all(|&x| !x),
                "{}",
                &file[..end]
            );
        }
    }
}

/// A small centered PT: 2 chains at each of 3 temperatures.
fn small_pt() -> ParallelTempering {
    ParallelTempering::new(1, 2, 3).centering(Some(rbms::train::Centering::default()))
}

/// Resumes a loaded checkpoint on the small data (for mutated files: must not panic).
fn try_resume(text: &str) {
    let data = small_data::<f64>();
    let config = small_config().epochs(3);
    if let Ok(c) = CheckpointOf::<Rbm<f64>, ParallelTempering>::from_json_str(text) {
        let mut model = Rbm::<f64>::new(6, 3).unwrap();
        let _ = resume(&mut model, c, &data, &small_pt(), &config, &mut ());
    }
    if let Ok(c) = CheckpointOf::<Rbm<f64>, PersistentCd>::from_json_str(text) {
        let mut model = Rbm::<f64>::new(6, 3).unwrap();
        let _ = resume(
            &mut model,
            c,
            &data,
            &PersistentCd::new(1, 4),
            &config,
            &mut (),
        );
    }
    let data = small_data::<f32>();
    if let Ok(c) = CheckpointOf::<Rbm<f32>, ContrastiveDivergence>::from_json_str(text) {
        let mut model = Rbm::<f32>::new(6, 3).unwrap();
        let _ = resume(
            &mut model,
            c,
            &data,
            &ContrastiveDivergence::new(1),
            &config,
            &mut (),
        );
    }
    if let Ok(c) = CheckpointOf::<TiedAutoencoder<f32>, Sgd>::from_json_str(text) {
        let mut model =
            TiedAutoencoder::<f32>::new(6, 3, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
        let sgd = Sgd::new().noise(Noise::Masking { fraction: 0.5 });
        let _ = resume(&mut model, c, &data, &sgd, &config, &mut ());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_errors(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(load_all(&text).iter().all(|&ok| !ok));
    }

    #[test]
    fn random_json_like_text_is_an_error(text in "[{}\\[\\]\",:0-9a-z.eE+ -]{0,300}") {
        prop_assert!(load_all(&text).iter().all(|&ok| !ok));
    }

    /// Up to three characters of a valid file replaced: decoding, and resuming what decodes,
    /// returns a result.
    #[test]
    fn mutated_files_never_panic(
        which in 0usize..7,
        edits in prop::collection::vec((any::<prop::sample::Index>(), "[-0-9.eE,:\\[\\]{}\"a-z ]"), 1..4),
    ) {
        let files = valid_files_cached();
        let mut chars: Vec<char> = files[which].chars().collect();
        for (at, with) in &edits {
            let i = at.index(chars.len());
            chars[i] = with.chars().next().unwrap();
        }
        let text: String = chars.into_iter().collect();
        load_all(&text);
        try_resume(&text);
    }
}

fn valid_files_cached() -> &'static [String] {
    static FILES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FILES.get_or_init(valid_files)
}

#[test]
fn loaded_models_keep_their_invariants() {
    // an accepted file always gives a consistent model (the checked constructor ran)
    let files = valid_files_cached();
    let rbm = Rbm::<f32>::from_json_str(&files[0]).unwrap();
    assert_eq!(rbm.weights().shape(), (3, 4));
    assert_eq!(rbm.visible_bias().len(), 4);
    assert_eq!(rbm.hidden_bias().len(), 3);
    let expected = LayerParams::new(
        DMatrix::from_fn(3, 4, |i, j| (i + 3 * j) as f32 * 0.3 - 2.0),
        DVector::from_fn(4, |i, _| (12 + i) as f32 * 0.3 - 2.0),
        DVector::from_fn(3, |i, _| (16 + i) as f32 * 0.3 - 2.0),
    )
    .unwrap();
    assert_eq!(rbm.params(), &expected);
}

/// The mutation test reaches deep: some mutated checkpoints still decode and are resumed, some
/// are refused by a checked constructor rather than by the JSON parser.
#[test]
fn mutations_reach_the_checks_and_the_resume() {
    let files = valid_files_cached();
    let alphabet: Vec<char> = "-0123456789.eE,:[]{}\"az ".chars().collect();
    let mut state = 7u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    let (mut decoded, mut typed) = (0, 0);
    for _ in 0..400 {
        let mut chars: Vec<char> = files[4].chars().collect(); // the f64 PCD checkpoint
        let i = next(chars.len());
        chars[i] = alphabet[next(alphabet.len())];
        let text: String = chars.into_iter().collect();
        match CheckpointOf::<Rbm<f64>, PersistentCd>::from_json_str(&text) {
            Ok(_) => decoded += 1,
            Err(Error::Corrupt { .. }) => {}
            Err(_) => typed += 1,
        }
        try_resume(&text);
    }
    assert!(decoded > 20, "{decoded} mutated files decoded");
    assert!(typed > 0, "{typed} mutated files refused by a rule");
}

// ---------------------------------------------------------------------------------------------
// Gaussian–Bernoulli models

fn gaussian_data<T: Float>() -> Dataset<T> {
    let data = digits_scaled::<T>().head(205).unwrap();
    rbms::Standardizer::fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap()
}

#[test]
fn gaussian_models_round_trip_bit_for_bit_under_their_own_formats() {
    use rbms::units::GaussianParams;
    use rbms::{GaussianRbm, GaussianSigmaRbm};
    let layer = LayerParams::new(
        DMatrix::from_fn(3, 4, |i, j| ((i * 4 + j) as f64 * 0.37).sin() / 3.0),
        DVector::from_fn(4, |i, _| 1e-310 * i as f64), // subnormals survive
        DVector::from_vec(vec![-1e30, 0.1, 1.0 / 3.0]),
    )
    .unwrap();
    let g = GaussianRbm::<f64>::with_params(layer.clone());
    let json = g.to_json_string().unwrap();
    assert!(json.contains("\"rbms-gaussian-rbm\""), "{json}");
    assert_eq!(
        bits(&GaussianRbm::<f64>::from_json_str(&json).unwrap()),
        bits(&g)
    );
    let z = DVector::from_vec(vec![0.25, -1.0 / 7.0, 2.0, -3.5]);
    let s = GaussianSigmaRbm::<f64>::with_params(GaussianParams::new(layer, z).unwrap());
    let json_s = s.to_json_string().unwrap();
    assert!(json_s.contains("\"rbms-gaussian-sigma-rbm\""));
    let back = GaussianSigmaRbm::<f64>::from_json_str(&json_s).unwrap();
    assert_eq!(bits(&back), bits(&s));
    assert_eq!(back, s);
    // Each format loads only as its own model.
    assert!(matches!(
        Rbm::<f64>::from_json_str(&json),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        GaussianSigmaRbm::<f64>::from_json_str(&json),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        GaussianRbm::<f64>::from_json_str(&json_s),
        Err(Error::Format { .. })
    ));
    // A non-finite log σ is refused on load.
    let bad = json_s.replacen("-3.5", "null", 1);
    assert!(GaussianSigmaRbm::<f64>::from_json_str(&bad).is_err());
}

#[test]
fn gaussian_models_resume_bit_identically() {
    check_resume(
        || rbms::GaussianRbm::<f32>::zeros(64, 16).unwrap(),
        &gaussian_data(),
        &ContrastiveDivergence::new(1),
    );
    check_resume(
        || rbms::GaussianSigmaRbm::<f64>::zeros(64, 16).unwrap(),
        &gaussian_data(),
        &PersistentCd::new(1, 7),
    );
}

/// A generator state of all zeros, unknown fields anywhere, chain states that no sampler
/// writes, an unsorted metric subset and counters that disagree are refused: at load (the
/// first two) or at resume (the rest), never a hang or a silently different run.
#[test]
fn hostile_checkpoints_are_refused() {
    type Pcd = CheckpointOf<Rbm<f32>, PersistentCd>;
    let pcd = PersistentCd::new(1, 3);
    let json = small_checkpoint(Rbm::<f32>::new(6, 4).unwrap(), &pcd);
    let good: Value = serde_json::from_str(&json).unwrap();
    let load = |v: &Value| Pcd::from_json_str(&v.to_string());

    for field in ["rng", "metric_rng"] {
        let mut v = good.clone();
        v["payload"][field] = json!({"s": [0, 0, 0, 0]});
        assert!(
            matches!(load(&v), Err(Error::Corrupt { reason, .. }) if reason.contains("all zeros")),
            "{field}"
        );
        let mut v = good.clone();
        v["payload"][field]["extra"] = json!(1);
        assert!(
            matches!(load(&v), Err(Error::Corrupt { .. })),
            "{field} extra"
        );
    }
    // a state read back is the state written: the loaded generator continues the stream
    let c = load(&good).unwrap();
    assert_eq!(
        serde_json::to_value(c.rng()).unwrap(),
        good["payload"]["rng"]
    );
    for path in [
        &["extra"][..],
        &["payload", "extra"],
        &["payload", "state", "extra"],
    ] {
        let mut v = good.clone();
        let mut at = &mut v;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = json!(0);
        assert!(matches!(load(&v), Err(Error::Corrupt { .. })), "{path:?}");
    }

    let data = small_data::<f32>();
    let config = small_config().epochs(4);
    let resume_err = |v: &Value| {
        let checkpoint = load(v).unwrap();
        let mut model = Rbm::<f32>::new(6, 4).unwrap();
        resume(&mut model, checkpoint, &data, &pcd, &config, &mut ()).unwrap_err()
    };
    for (chain, value) in [
        ("chain_visible", 5.0),
        ("chain_visible", -1e30),
        ("chain_hidden", 2.0),
    ] {
        let mut v = good.clone();
        v["payload"]["state"][chain]["data"][0] = json!(value);
        let err = resume_err(&v);
        assert!(
            matches!(
                err,
                Error::OutsideUnitInterval { .. } | Error::ResumeMismatch { .. }
            ),
            "{chain} {value}: {err:?}"
        );
    }
    let mut v = good.clone();
    let idx = v["payload"]["metric_indices"].as_array_mut().unwrap();
    idx.swap(0, 1);
    assert!(matches!(
        resume_err(&v),
        Error::ResumeMismatch {
            what: "metric subset",
            ..
        }
    ));
    let mut v = good.clone();
    v["payload"]["steps_done"] = json!(5);
    assert!(matches!(
        resume_err(&v),
        Error::ResumeMismatch {
            what: "epoch and step counters",
            ..
        }
    ));
    // bytes that are not UTF-8 are a corrupt file, not an I/O failure
    let path = std::env::temp_dir().join(format!("rbms-serde-utf8-{}.json", std::process::id()));
    std::fs::write(&path, [0x7b, 0xff, 0xfe, 0x7d]).unwrap();
    assert!(matches!(
        Rbm::<f32>::load_json(&path),
        Err(Error::Corrupt { .. })
    ));
    std::fs::remove_file(&path).ok();
}

/// A run stopped by a step observer in the middle of an epoch leaves no checkpoint for that
/// epoch: the last one saved is at the boundary before, and resuming from it is the
/// uninterrupted run.
#[test]
fn a_mid_epoch_stop_leaves_no_checkpoint_of_its_epoch() {
    use rbms::observe::StepReport;
    use rbms::{Control, Observer};
    struct StopAt(usize, usize);
    impl Observer<Rbm<f64>> for StopAt {
        fn on_epoch(&mut self, _: &Rbm<f64>, _: &rbms::train::EpochReport) -> Control {
            Control::Continue
        }
        fn on_step(&mut self, _: &Rbm<f64>, _: &StepReport) -> Control {
            self.1 += 1;
            if self.1 == self.0 {
                Control::Stop
            } else {
                Control::Continue
            }
        }
        fn wants_steps(&self) -> bool {
            true
        }
    }
    let data = small_data::<f64>(); // 20 samples, batch 6: 4 steps per epoch
    let cd = ContrastiveDivergence::new(1);
    let config = small_config().epochs(3);
    let mut full = Rbm::<f64>::new(6, 4).unwrap();
    fit(&mut full, &data, &cd, &config, &mut ()).unwrap();

    let mut saved = Vec::new();
    let mut model = Rbm::<f64>::new(6, 4).unwrap();
    fit_checkpointed(
        &mut model,
        &data,
        &cd,
        &config,
        &mut StopAt(6, 0),
        1,
        |c: &rbms::train::CheckpointRef<'_, Rbm<f64>, _>| {
            saved.push(c.to_checkpoint());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(saved.len(), 1, "only epoch 0 completed");
    let last = saved.pop().unwrap();
    assert_eq!((last.epochs_done(), last.steps_done()), (1, 4));
    let mut resumed = Rbm::<f64>::new(6, 4).unwrap();
    resume(&mut resumed, last, &data, &cd, &config, &mut ()).unwrap();
    assert_eq!(bits(&resumed), bits(&full));
}

/// An online session checkpointed after two chunks, saved as JSON, loaded and resumed, gives
/// the bits of the uninterrupted session (CD, PCD, Sgd; f32 and f64); a fit run continued
/// online from its checkpoint equals a longer fit.
#[test]
fn online_sessions_resume_bit_identically() {
    use rbms::train::{OnlineCheckpoint, OnlineFit};
    fn check<M, Tr>(make: impl Fn() -> M, data: &Dataset<M::Scalar>, trainer: Tr)
    where
        M: FitModel + Clone + Serialize + DeserializeOwned + Debug,
        Tr: Resumable<M> + Clone,
        Tr::State: Clone + Serialize + DeserializeOwned,
    {
        let config = FitConfig::default()
            .batch_size(7)
            .momentum(0.5)
            .seed(5)
            .shuffle(false);
        let n = data.n_samples();
        let chunks: Vec<Dataset<M::Scalar>> = [(0, 5), (5, 12), (12, 13), (13, n)]
            .iter()
            .map(|&(a, b)| data.select(&(a..b).collect::<Vec<_>>()).unwrap())
            .collect();
        let mut straight = make();
        let mut s = OnlineFit::new(&mut straight, data, trainer.clone(), &config).unwrap();
        for c in &chunks {
            s.partial_fit(&mut straight, c).unwrap();
        }
        let mut first = make();
        let mut s = OnlineFit::new(&mut first, data, trainer.clone(), &config).unwrap();
        for c in &chunks[..2] {
            s.partial_fit(&mut first, c).unwrap();
        }
        let json = s.checkpoint(&first).to_json_string().unwrap();
        drop(s);
        let loaded = OnlineCheckpoint::<M, Tr::State>::from_json_str(&json).unwrap();
        assert_eq!(loaded.chunks_done(), 2);
        let mut resumed = make();
        let mut s = OnlineFit::resume(&mut resumed, loaded, trainer.clone(), &config).unwrap();
        for c in &chunks[2..] {
            s.partial_fit(&mut resumed, c).unwrap();
        }
        assert_eq!(bits(&resumed), bits(&straight), "{}", trainer.name());
        assert_eq!(s.chunks_done(), 4);
        // another batch size is refused, the model untouched
        let loaded = OnlineCheckpoint::<M, Tr::State>::from_json_str(&json).unwrap();
        let mut other = make();
        let before = bits(&other);
        assert!(matches!(
            OnlineFit::resume(
                &mut other,
                loaded,
                trainer.clone(),
                &config.clone().batch_size(8)
            ),
            Err(Error::ResumeMismatch { .. })
        ));
        assert_eq!(bits(&other), before);

        // fit for 2 epochs, continued online by one pass = fit for 3 epochs
        let fit_config = config.clone().metrics(MetricsConfig::none());
        let mut three = make();
        fit(
            &mut three,
            data,
            &trainer,
            &fit_config.clone().epochs(3),
            &mut (),
        )
        .unwrap();
        let mut saved = None;
        let mut two = make();
        fit_checkpointed(
            &mut two,
            data,
            &trainer,
            &fit_config.clone().epochs(2),
            &mut (),
            2,
            |c: &rbms::train::CheckpointRef<'_, M, Tr::State>| {
                saved = Some(c.to_checkpoint());
                Ok(())
            },
        )
        .unwrap();
        let mut s =
            OnlineFit::from_fit_checkpoint(&mut two, saved.unwrap(), trainer.clone(), &config)
                .unwrap();
        s.partial_fit(&mut two, data).unwrap();
        assert_eq!(
            bits(&two),
            bits(&three),
            "{} fit then online",
            trainer.name()
        );
    }
    let d32 = small_data::<f32>();
    let d64 = small_data::<f64>();
    check(
        || Rbm::<f32>::new(6, 4).unwrap(),
        &d32,
        ContrastiveDivergence::new(2),
    );
    check(
        || Rbm::<f64>::new(6, 4).unwrap(),
        &d64,
        PersistentCd::new(1, 5),
    );
    check(
        || TiedAutoencoder::<f64>::new(6, 3, Decoder::Sigmoid, Loss::CrossEntropy).unwrap(),
        &d64,
        Sgd::new().noise(Noise::Masking { fraction: 0.2 }),
    );
}

/// A save that cannot be renamed into place (the target is a directory) is an error and leaves
/// no temporary file behind; a save over an existing file replaces it.
#[test]
fn failed_saves_leave_no_temporary_file() {
    let dir = std::env::temp_dir().join(format!("rbms-serde-save-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("target")).unwrap();
    let rbm = Rbm::<f32>::new(3, 2).unwrap();
    assert!(matches!(
        rbm.save_json(dir.join("target")),
        Err(Error::Write { .. })
    ));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("target")]);
    let file = dir.join("model.json");
    rbm.save_json(&file).unwrap();
    let other = rbm_from(3, 2, &[0.5f32; 11]);
    other.save_json(&file).unwrap();
    assert_eq!(Rbm::<f32>::load_json(&file).unwrap(), other);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

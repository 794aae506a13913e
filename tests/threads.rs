//! With the `threading` feature, the number of threads never changes a bit of a run: neither
//! the element-wise threads (set in process) nor the matrix-multiply threads (read from
//! `MATMUL_NUM_THREADS` once per process, so compared across child processes).
#![cfg(feature = "threading")]

use rand::SeedableRng;
use rbms::train::{HiddenBiasInit, Init};
use rbms::{ContrastiveDivergence, Dataset, FitConfig, Float, PersistentCd, Rbm, RunRng};
use std::process::Command;

/// 400 binary samples of 784 pixels (about 20% ones), fixed.
fn data() -> Dataset<f32> {
    let mut rng = RunRng::seed_from_u64(9);
    let m = nalgebra::DMatrix::from_fn(784, 400, |_, _| {
        if f32::uniform01(&mut rng) < 0.2 {
            1.0
        } else {
            0.0
        }
    });
    Dataset::from_columns(m).unwrap()
}

/// FNV-1a of the parameters' bits after one epoch of CD-1 and one of PCD-1 (100 chains) on a
/// 784 × 120 model: past the small-layer kernels, so the products go through matrixmultiply
/// or the sparse products (the data has 20% ones), and the element-wise work over column
/// blocks; and one more epoch of PCD-1 with hidden biases set for an activation of 0.1, whose
/// every product is sparse (`Wᵀ·H` through the transposed weights).
fn fingerprint() -> u64 {
    let data = data();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(100)
        .learning_rate(0.1)
        .momentum(0.5)
        .seed(3)
        .metrics(rbms::MetricsConfig::none());
    let mut cd = Rbm::<f32>::new(784, 120).unwrap();
    cd.fit(&data, &ContrastiveDivergence::new(1), &config)
        .unwrap();
    let mut pcd = Rbm::<f32>::new(784, 120).unwrap();
    pcd.fit(&data, &PersistentCd::new(1, 100), &config).unwrap();
    let sparse_hidden = config.clone().init(Init {
        hidden_bias: HiddenBiasInit::FromTarget(0.1),
        ..Init::default()
    });
    let mut sparse = Rbm::<f32>::new(784, 120).unwrap();
    sparse
        .fit(&data, &PersistentCd::new(1, 100), &sparse_hidden)
        .unwrap();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for rbm in [&cd, &pcd, &sparse] {
        let all = rbm
            .weights()
            .iter()
            .chain(rbm.visible_bias().iter())
            .chain(rbm.hidden_bias().iter());
        for x in all {
            for byte in x.to_bits().to_le_bytes() {
                h ^= byte as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    h
}

#[test]
fn element_wise_threads_do_not_change_bits() {
    rbms::parallel::set_threads(1).unwrap();
    let one = fingerprint();
    rbms::parallel::set_threads(2).unwrap();
    assert_eq!(rbms::parallel::threads(), 2);
    let two = fingerprint();
    rbms::parallel::set_threads(4).unwrap();
    let four = fingerprint();
    assert_eq!(one, two, "1 vs 2 element-wise threads");
    assert_eq!(one, four, "1 vs 4 element-wise threads");
    assert!(rbms::parallel::set_threads(0).is_err());
}

/// Run by `matrix_multiply_threads_do_not_change_bits` in child processes: prints the
/// fingerprint (and, run on its own, checks that a run repeats itself).
#[test]
fn child_fingerprint() {
    let a = fingerprint();
    println!("fingerprint={a:016x}");
    if std::env::var_os("RBMS_FINGERPRINT_CHILD").is_none() {
        assert_eq!(a, fingerprint(), "a run must repeat itself");
    }
}

#[test]
fn matrix_multiply_threads_do_not_change_bits() {
    let exe = std::env::current_exe().unwrap();
    let run = |threads: &str| {
        let out = Command::new(&exe)
            .args([
                "--exact",
                "child_fingerprint",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MATMUL_NUM_THREADS", threads)
            .env("RBMS_FINGERPRINT_CHILD", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "child with {threads} threads failed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let at = text
            .find("fingerprint=")
            .unwrap_or_else(|| panic!("no fingerprint in {text:?}"));
        text[at + "fingerprint=".len()..][..16].to_owned()
    };
    let one = run("1");
    assert_eq!(one, run("2"), "1 vs 2 matrix-multiply threads");
    assert_eq!(one, run("3"), "1 vs 3 matrix-multiply threads");
}

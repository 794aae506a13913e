//! Trains a Bernoulli RBM on MNIST (binarized at pixel > 127) and reports train and test
//! pseudo-likelihood and reconstruction error, seconds per epoch, and filter/sample images.
//!
//! cargo run --release --example mnist -- --data DIR [--hidden 500] [--epochs 1]
//!     [--lr 0.05] [--batch 100] [--momentum 0.5] [--trainer cd1|cd<k>|pcd<k>] [--chains 100]
//!     [--seed 0] [--dtype f32|f64] [--train-limit N] [--test-limit N] [--out DIR]
//!
//! DIR must hold the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
//! t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), gzip-compressed (.gz) or raw.

#[path = "common/mod.rs"]
mod common;

use common::{fmt, parse_trainer, Args, Choice};
use rand::SeedableRng;
use rbms::{datasets, FitConfig, FitReport, Float, MetricsConfig, Progress, Rbm, RunRng};
use std::time::Instant;

const USAGE: &str = "usage: mnist --data DIR [--hidden N] [--epochs N] [--lr X] [--batch N] \
[--momentum X] [--trainer cd1|cd<k>|pcd<k>] [--chains N] [--seed N] [--dtype f32|f64] \
[--train-limit N] [--test-limit N] [--out DIR]
DIR must hold the four MNIST IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or with a .gz suffix).";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse(
        USAGE,
        &[
            "data",
            "hidden",
            "epochs",
            "lr",
            "batch",
            "momentum",
            "trainer",
            "chains",
            "seed",
            "dtype",
            "train-limit",
            "test-limit",
            "out",
        ],
    )?;
    match args.string("dtype", "f32").as_str() {
        "f32" => train::<f32>(&args),
        "f64" => train::<f64>(&args),
        other => Err(format!("--dtype must be f32 or f64, got {other:?}")),
    }
}

fn train<T: Float>(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let dir = common::mnist_dir(args)?;
    let hidden: usize = args.get("hidden", 500)?;
    let chains: usize = args.get("chains", 100)?;
    let trainer_name = args.string("trainer", "cd1");
    let trainer = parse_trainer(&trainer_name, chains)?;
    let train_limit: usize = args.get("train-limit", usize::MAX)?;
    let test_limit: usize = args.get("test-limit", 1000)?;
    let config = FitConfig::default()
        .epochs(args.get("epochs", 1)?)
        .learning_rate(args.get("lr", 0.05)?)
        .batch_size(args.get("batch", 100)?)
        .momentum(args.get("momentum", 0.5)?)
        .seed(args.get("seed", 0)?)
        .metrics(MetricsConfig {
            max_samples: 1000,
            ..MetricsConfig::default()
        });
    let out = common::out_dir(args, "mnist");
    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;

    let t = Instant::now();
    let mnist = datasets::mnist::<T>(&dir).map_err(|e| e.to_string())?;
    let train = mnist
        .train
        .head(train_limit)
        .map_err(|e| e.to_string())?
        .binarize(T::of_f64(0.5));
    let test = mnist
        .test
        .head(test_limit)
        .map_err(|e| e.to_string())?
        .binarize(T::of_f64(0.5));
    eprintln!(
        "mnist: loaded in {:.2}s; training on {} samples, testing on {}; {hidden} hidden, {trainer_name}, {}",
        t.elapsed().as_secs_f64(),
        train.n_samples(),
        test.n_samples(),
        T::NAME
    );

    let mut rbm = Rbm::<T>::new(train.n_features(), hidden).map_err(|e| e.to_string())?;
    let mut progress = Progress::new(config.epochs);
    let report: FitReport = match trainer {
        Choice::Cd(t) => rbm.fit_observed(&train, &t, &config, &mut progress),
        Choice::Pcd(t) => rbm.fit_observed(&train, &t, &config, &mut progress),
    }
    .map_err(|e| e.to_string())?;
    let train_metrics = report.final_metrics().unwrap_or_default();

    let t = Instant::now();
    let mut rng = RunRng::seed_from_u64(config.seed ^ 0x7e57);
    let test_pl = rbm
        .pseudo_likelihood(&test, &mut rng)
        .map_err(|e| e.to_string())?
        .mean();
    let test_pl_exact = rbm
        .pseudo_likelihood_exact(&test)
        .map_err(|e| e.to_string())?
        .mean();
    let test_mse = rbm.reconstruction_error(&test).map_err(|e| e.to_string())?;
    let test_seconds = t.elapsed().as_secs_f64();
    eprintln!(
        "test ({} samples, {test_seconds:.2}s): pl {test_pl:.3} pl_exact {test_pl_exact:.3} recon_mse {test_mse:.5}",
        test.n_samples()
    );

    let filters = common::filter_tiles(rbm.weights(), 100);
    common::write_tiles(&out.join("filters.png"), &filters, 28, 28, 10, 2, true)?;
    let samples = common::sample_tiles(&rbm, 100, 1000, &mut rng).map_err(|e| e.to_string())?;
    common::write_tiles(&out.join("samples.png"), &samples, 28, 28, 10, 2, false)?;
    eprintln!("wrote filters.png and samples.png in {}", out.display());

    let epochs = report.epochs.len().max(1);
    println!(
        "summary: dataset=mnist dtype={} hidden={hidden} trainer={trainer_name} epochs={} \
         train_samples={} train_seconds={:.3} seconds_per_epoch={:.3} metric_seconds={:.3} \
         seconds={:.3} train_pseudo_likelihood={} train_pseudo_likelihood_exact={} \
         train_recon_mse={} metric_samples={} test_samples={} test_pseudo_likelihood={:.4} \
         test_pseudo_likelihood_exact={:.4} test_recon_mse={:.5} images=2",
        T::NAME,
        report.epochs.len(),
        train.n_samples(),
        report.train_seconds(),
        report.train_seconds() / epochs as f64,
        report.metric_seconds(),
        started.elapsed().as_secs_f64(),
        fmt(train_metrics.pseudo_likelihood),
        fmt(train_metrics.pseudo_likelihood_exact),
        fmt(train_metrics.recon_mse),
        report.metric_samples,
        test.n_samples(),
        test_pl,
        test_pl_exact,
        test_mse,
    );
    Ok(())
}

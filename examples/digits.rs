//! Trains a Bernoulli RBM on the embedded digits (1797 × 8×8, scaled to [0, 1]) and writes
//! its filters and samples as PNG images.
//!
//! cargo run --release --example digits -- [--hidden 100] [--epochs 20] [--lr 0.06]
//!     [--batch 10] [--momentum 0.5] [--trainer cd1|cd<k>|pcd<k>] [--chains 10] [--seed 0]
//!     [--dtype f32|f64] [--out DIR]

#[path = "common/mod.rs"]
mod common;

use common::{fmt, parse_trainer, Args};
use rand::SeedableRng;
use rbms::{datasets, Float, Progress, Rbm, RunRng};
use std::time::Instant;

const USAGE: &str = "usage: digits [--hidden N] [--epochs N] [--lr X] [--batch N] [--momentum X] \
[--trainer cd1|cd<k>|pcd<k>] [--chains N] [--seed N] [--dtype f32|f64] [--out DIR]";

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
            "hidden", "epochs", "lr", "batch", "momentum", "trainer", "chains", "seed", "dtype",
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
    let hidden: usize = args.get("hidden", 100)?;
    let chains: usize = args.get("chains", 10)?;
    let trainer_name = args.string("trainer", "pcd1");
    let trainer = parse_trainer(&trainer_name, chains)?;
    let config = common::digits_fit_config(args, 0.06)?;
    let out = common::out_dir(args, "digits");
    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;

    let data = datasets::digits_scaled::<T>();
    eprintln!(
        "digits: {} samples x {} features, {hidden} hidden, {trainer_name}, {}",
        data.n_samples(),
        data.n_features(),
        T::NAME
    );
    let mut rbm = Rbm::<T>::new(data.n_features(), hidden).map_err(|e| e.to_string())?;
    let mut progress = Progress::new(config.epochs);
    let report = trainer
        .fit(&mut rbm, &data, &config, &mut progress)
        .map_err(|e| e.to_string())?;
    let metrics = report.final_metrics().unwrap_or_default();

    let filters = common::filter_tiles(rbm.weights(), 100);
    let filters_path = out.join("filters.png");
    common::write_tiles(&filters_path, &filters, 8, 8, 10, 4, true)?;
    let mut rng = RunRng::seed_from_u64(config.seed ^ 0x5eed);
    let samples = common::sample_tiles(&rbm, 100, 1000, &mut rng).map_err(|e| e.to_string())?;
    let samples_path = out.join("samples.png");
    common::write_tiles(&samples_path, &samples, 8, 8, 10, 4, false)?;
    eprintln!(
        "wrote {} and {}",
        filters_path.display(),
        samples_path.display()
    );

    println!(
        "summary: dataset=digits dtype={} hidden={hidden} trainer={trainer_name} epochs={} \
         train_seconds={:.4} seconds_per_epoch={:.5} metric_seconds={:.3} seconds={:.3} \
         pseudo_likelihood={} pseudo_likelihood_exact={} recon_mse={} metric_samples={} images=2",
        T::NAME,
        report.epochs.len(),
        report.train_seconds(),
        report.train_seconds() / report.epochs.len().max(1) as f64,
        report.metric_seconds(),
        started.elapsed().as_secs_f64(),
        fmt(metrics.pseudo_likelihood),
        fmt(metrics.pseudo_likelihood_exact),
        fmt(metrics.recon_mse),
        report.metric_samples,
    );
    Ok(())
}

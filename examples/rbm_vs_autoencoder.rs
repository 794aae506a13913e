//! An RBM and a tied autoencoder side by side on the embedded digits: same data, hidden size,
//! epochs and minibatches. The autoencoder optimises reconstruction and wins at it; the RBM
//! models p(v), so it also has a pseudo-likelihood and can draw new digits, which the
//! autoencoder cannot.
//!
//! cargo run --release --example rbm_vs_autoencoder -- [--hidden 100] [--epochs 20]
//!     [--batch 10] [--rbm-lr 0.06] [--ae-lr 0.1] [--ae-noise 0] [--seed 0] [--out DIR]
//!
//! Writes, under `--out`: `reconstructions.png` (rows of 10: originals, RBM reconstructions,
//! autoencoder reconstructions, repeated), `rbm_samples.png` (fresh samples from the RBM),
//! `rbm_filters.png` and `ae_filters.png`.

#[path = "common/mod.rs"]
mod common;

use common::{column_tiles, fmt, Args};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rbms::{
    datasets, Autoencoder, Decoder, FitConfig, Loss, Noise, PersistentCd, Progress, Rbm, RunRng,
    Sgd, TiedAutoencoder,
};
use std::time::Instant;

const USAGE: &str = "usage: rbm_vs_autoencoder [--hidden N] [--epochs N] [--batch N] \
[--rbm-lr X] [--ae-lr X] [--ae-noise FRACTION] [--seed N] [--out DIR]";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    let args = Args::parse(
        USAGE,
        &[
            "hidden", "epochs", "batch", "rbm-lr", "ae-lr", "ae-noise", "seed", "out",
        ],
    )?;
    let hidden: usize = args.get("hidden", 100)?;
    let epochs: usize = args.get("epochs", 20)?;
    let batch: usize = args.get("batch", 10)?;
    let seed: u64 = args.get("seed", 0)?;
    let noise: f64 = args.get("ae-noise", 0.0)?;
    let sgd = if noise == 0.0 {
        Sgd::new()
    } else {
        Sgd::new().noise(Noise::Masking { fraction: noise })
    };
    sgd.noise.check().map_err(|e| format!("--ae-noise: {e}"))?;
    let out = common::out_dir(&args, "rbm_vs_autoencoder");
    let err = |e: rbms::Error| e.to_string();

    let data = datasets::digits_scaled::<f32>();
    let base = FitConfig::default()
        .epochs(epochs)
        .batch_size(batch)
        .seed(seed);

    eprintln!("RBM: {hidden} hidden, PCD-1 (10 chains)");
    let rbm_config = base.clone().learning_rate(args.get("rbm-lr", 0.06)?);
    let mut rbm = Rbm::<f32>::new(64, hidden).map_err(err)?;
    let rbm_report = rbm
        .fit_observed(
            &data,
            &PersistentCd::new(1, 10),
            &rbm_config,
            &mut Progress::new(epochs),
        )
        .map_err(err)?;

    eprintln!("autoencoder: {hidden} hidden, tied weights, cross-entropy, {sgd:?}");
    let ae_config = base
        .clone()
        .learning_rate(args.get("ae-lr", 0.1)?)
        .momentum(0.9);
    let mut ae = TiedAutoencoder::<f32>::new(64, hidden, Decoder::Sigmoid, Loss::CrossEntropy)
        .map_err(err)?;
    let ae_report = ae
        .fit_observed(&data, &sgd, &ae_config, &mut Progress::new(epochs))
        .map_err(err)?;

    // Both measured the same way on all 1797 digits.
    let rbm_mse = rbm.reconstruction_error(&data).map_err(err)?;
    let ae_mse = ae.reconstruction_error(&data).map_err(err)?;
    let ae_loss = ae.mean_loss(&data).map_err(err)?;
    let pl = rbm.pseudo_likelihood_exact(&data).map_err(err)?;
    let rbm_pl = pl.sum() / pl.len() as f64;
    eprintln!();
    eprintln!("                      RBM (PCD-1)   tied autoencoder (SGD)");
    eprintln!("recon MSE             {rbm_mse:<13.5} {ae_mse:.5}");
    eprintln!("pseudo-likelihood     {rbm_pl:<13.3} (no model of p(v))");
    eprintln!("cross-entropy         {:<13} {ae_loss:.3}", "-");
    eprintln!(
        "train seconds         {:<13.3} {:.3}",
        rbm_report.train_seconds(),
        ae_report.train_seconds()
    );
    eprintln!("can sample new digits yes           no");

    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;
    // Rows of 10: originals, RBM reconstructions, autoencoder reconstructions (×3 blocks).
    let picks: Vec<usize> = (0..30).map(|k| k * 59).collect();
    let originals = data.select(&picks).map_err(err)?;
    let rbm_recon = rbm.reconstruct(&originals).map_err(err)?;
    let ae_recon = ae.reconstruct(originals.samples()).map_err(err)?;
    let mut tiles = Vec::new();
    for block in 0..3 {
        for m in [originals.samples(), &rbm_recon, &ae_recon] {
            let cols: Vec<usize> = (block * 10..block * 10 + 10).collect();
            let part = DMatrix::from_fn(64, 10, |i, j| m[(i, cols[j])]);
            tiles.extend(column_tiles(&part, 10));
        }
    }
    let recon_path = out.join("reconstructions.png");
    common::write_tiles(&recon_path, &tiles, 8, 8, 10, 4, false)?;
    let mut rng = RunRng::seed_from_u64(seed ^ 0x5eed);
    let samples = common::sample_tiles(&rbm, 100, 1000, &mut rng).map_err(err)?;
    common::write_tiles(&out.join("rbm_samples.png"), &samples, 8, 8, 10, 4, false)?;
    let rbm_filters = common::filter_tiles(rbm.weights(), 100);
    common::write_tiles(
        &out.join("rbm_filters.png"),
        &rbm_filters,
        8,
        8,
        10,
        4,
        true,
    )?;
    let ae_filters = common::filter_tiles(ae.weights(), 100);
    common::write_tiles(&out.join("ae_filters.png"), &ae_filters, 8, 8, 10, 4, true)?;
    eprintln!("wrote 4 images under {}", out.display());

    println!(
        "summary: dataset=digits hidden={hidden} epochs={epochs} batch={batch} \
         ae_recon_mse={ae_mse:.5} rbm_recon_mse={rbm_mse:.5} rbm_pseudo_likelihood_exact={rbm_pl:.4} \
         rbm_pseudo_likelihood={} ae_cross_entropy={ae_loss:.4} ae_noise={noise} \
         rbm_train_seconds={:.4} ae_train_seconds={:.4} seconds={:.3} images=4",
        fmt(rbm_report
            .final_metrics()
            .and_then(|m| m.pseudo_likelihood)),
        rbm_report.train_seconds(),
        ae_report.train_seconds(),
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

//! A denoising tied autoencoder on MNIST (grey levels scaled to [0, 1]): masking noise,
//! cross-entropy, and the clean-input reconstruction cross-entropy on the test set after every
//! epoch. Writes the learned filters as a PNG; with `--compare 1` also trains a plain
//! (noise-free) autoencoder with the same settings and writes its filters beside them:
//! denoising filters look like local strokes, plain ones like noise.
//!
//! cargo run --release --example denoising_mnist -- --data DIR [--hidden 500] [--epochs 5]
//!     [--lr 0.02] [--momentum 0.9] [--batch 20] [--noise 0.3] [--compare 0|1] [--seed 0]
//!     [--train-limit N] [--test-limit N] [--out DIR]
//!
//! DIR must hold the four MNIST IDX files (raw or .gz), as for the `mnist` example.

#[path = "common/mod.rs"]
mod common;

use common::Args;
use rbms::observe::{Control, FnObserver};
use rbms::train::EpochReport;
use rbms::{
    datasets, Dataset, Decoder, FitConfig, FitReport, Loss, MetricsConfig, Noise, Sgd,
    TiedAutoencoder,
};
use std::time::Instant;

const USAGE: &str = "usage: denoising_mnist --data DIR [--hidden N] [--epochs N] [--lr X] \
[--momentum X] [--batch N] [--noise FRACTION] [--compare 0|1] [--seed N] [--train-limit N] \
[--test-limit N] [--out DIR]
DIR must hold the four MNIST IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or with a .gz suffix).";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

struct Run {
    model: TiedAutoencoder<f32>,
    report: FitReport,
    test_ce: Vec<f64>,
}

fn train(
    name: &str,
    noise: f64,
    hidden: usize,
    train: &Dataset<f32>,
    test: &Dataset<f32>,
    config: &FitConfig,
) -> Result<Run, String> {
    let sgd = Sgd::new().noise(if noise == 0.0 {
        Noise::None
    } else {
        Noise::Masking { fraction: noise }
    });
    let mut model = TiedAutoencoder::<f32>::new(
        train.n_features(),
        hidden,
        Decoder::Sigmoid,
        Loss::CrossEntropy,
    )
    .map_err(|e| e.to_string())?;
    let mut test_ce = Vec::new();
    let mut failure = None;
    let mut observer = FnObserver(|m: &TiedAutoencoder<f32>, r: &EpochReport| {
        match m.mean_loss(test) {
            Ok(ce) => {
                eprintln!(
                    "{name}: epoch {}/{} train {:.2}s train_objective {:.3} test_cross_entropy {ce:.3}",
                    r.epoch + 1,
                    config.epochs,
                    r.seconds,
                    r.train_loss.unwrap_or(f64::NAN),
                );
                test_ce.push(ce);
                Control::Continue
            }
            Err(e) => {
                failure = Some(e.to_string());
                Control::Stop
            }
        }
    });
    let report = model
        .fit_observed(train, &sgd, config, &mut observer)
        .map_err(|e| e.to_string())?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Run {
        model,
        report,
        test_ce,
    })
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    let args = Args::parse(
        USAGE,
        &[
            "data",
            "hidden",
            "epochs",
            "lr",
            "momentum",
            "batch",
            "noise",
            "compare",
            "seed",
            "train-limit",
            "test-limit",
            "out",
        ],
    )?;
    let dir = common::mnist_dir(&args)?;
    let hidden: usize = args.get("hidden", 500)?;
    let noise: f64 = args.get("noise", 0.3)?;
    let compare: u8 = args.get("compare", 0)?;
    Noise::Masking { fraction: noise }
        .check()
        .map_err(|e| format!("--noise: {e}"))?;
    let train_limit: usize = args.get("train-limit", usize::MAX)?;
    let test_limit: usize = args.get("test-limit", 10_000)?;
    let config = FitConfig::default()
        .epochs(args.get("epochs", 5)?)
        .learning_rate(args.get("lr", 0.02)?)
        .momentum(args.get("momentum", 0.9)?)
        .batch_size(args.get("batch", 20)?)
        .seed(args.get("seed", 0)?)
        .metrics(MetricsConfig::none());
    let out = common::out_dir(&args, "denoising_mnist");
    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;

    let t = Instant::now();
    let mnist = datasets::mnist::<f32>(&dir).map_err(|e| e.to_string())?;
    let train_set = mnist.train.head(train_limit).map_err(|e| e.to_string())?;
    let test_set = mnist.test.head(test_limit).map_err(|e| e.to_string())?;
    eprintln!(
        "mnist: loaded in {:.2}s; {} training and {} test images (grey levels in [0, 1]); \
         {hidden} hidden, masking noise {noise}",
        t.elapsed().as_secs_f64(),
        train_set.n_samples(),
        test_set.n_samples(),
    );

    let denoising = train("denoising", noise, hidden, &train_set, &test_set, &config)?;
    let filters = common::filter_tiles(denoising.model.weights(), 100);
    let side = (train_set.n_features() as f64).sqrt() as usize;
    common::write_tiles(&out.join("filters.png"), &filters, side, side, 10, 2, true)?;
    let mut images = 1;
    let mut plain_ce = None;
    if compare != 0 {
        let plain = train("plain", 0.0, hidden, &train_set, &test_set, &config)?;
        let filters = common::filter_tiles(plain.model.weights(), 100);
        common::write_tiles(
            &out.join("filters_plain.png"),
            &filters,
            side,
            side,
            10,
            2,
            true,
        )?;
        plain_ce = plain.test_ce.last().copied();
        images += 1;
    }
    eprintln!("wrote {images} image(s) under {}", out.display());

    let epochs = denoising.report.epochs.len();
    let test_mse = denoising
        .model
        .reconstruction_error(&test_set)
        .map_err(|e| e.to_string())?;
    println!(
        "summary: dataset=mnist hidden={hidden} noise={noise} epochs={epochs} train_samples={} \
         test_samples={} test_cross_entropy={} test_recon_mse={test_mse:.5} \
         plain_test_cross_entropy={} train_seconds={:.3} seconds_per_epoch={:.3} seconds={:.3} \
         images={images}",
        train_set.n_samples(),
        test_set.n_samples(),
        common::fmt(denoising.test_ce.last().copied()),
        common::fmt(plain_ce),
        denoising.report.train_seconds(),
        denoising.report.train_seconds() / epochs.max(1) as f64,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

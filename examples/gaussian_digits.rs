//! Trains a Gaussian–Bernoulli RBM on the embedded digits, standardised per pixel (zero mean,
//! unit variance; constant pixels only centred), and writes its filters and samples as PNG
//! images (samples mapped back to pixel values).
//!
//! cargo run --release --example gaussian_digits -- [--hidden 16] [--epochs 20] [--lr 0.005, 0.001 with learned σ]
//!     [--batch 10] [--momentum 0.5] [--trainer cd1|cd<k>|pcd<k>] [--chains 10]
//!     [--sigma fixed|learned] [--seed 0] [--dtype f32|f64] [--out DIR]
//!
//! The summary's `log_prob` is the mean log-density of the standardised training digits
//! (nats per sample): exact (enumerating the hidden layer) up to 20 hidden units, otherwise
//! forward AIS from the data's Gaussian base model (`log_prob_method` says which);
//! `baseline_log_prob` is that of independent standard normal pixels, which the model should
//! beat (`beats_baseline`).
//!
//! Learned σ (`--sigma learned`) wants a smaller rate, its default 0.001: some edge pixels are non-zero
//! in a handful of digits and standardise to values near 40, and their σ can jump.

#[path = "common/mod.rs"]
mod common;

use common::{fmt, parse_trainer, Args};
use rand::SeedableRng;
use rbms::rbm::{AisConfig, AisSchedule, GaussianAisBase};
use rbms::units::{Bernoulli, Gaussian, GaussianSigma, GaussianUnits, VisibleUnits};
use rbms::{datasets, Dataset, Float, Progress, Rbm, RunRng, Standardizer};
use std::time::Instant;

const USAGE: &str = "usage: gaussian_digits [--hidden N] [--epochs N] [--lr X] [--batch N] \
[--momentum X] [--trainer cd1|cd<k>|pcd<k>] [--chains N] [--sigma fixed|learned] [--seed N] \
[--dtype f32|f64] [--out DIR]";

/// Largest hidden layer whose log-likelihood is computed exactly (2^20 states).
const MAX_EXACT_HIDDEN: usize = 20;

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
            "hidden", "epochs", "lr", "batch", "momentum", "trainer", "chains", "sigma", "seed",
            "dtype", "out",
        ],
    )?;
    let sigma = args.string("sigma", "fixed");
    match (args.string("dtype", "f32").as_str(), sigma.as_str()) {
        ("f32", "fixed") => train::<f32, Gaussian>(&args),
        ("f64", "fixed") => train::<f64, Gaussian>(&args),
        ("f32", "learned") => train::<f32, GaussianSigma>(&args),
        ("f64", "learned") => train::<f64, GaussianSigma>(&args),
        (d, s) => Err(format!(
            "--dtype must be f32 or f64 and --sigma fixed or learned, got {d:?} and {s:?}"
        )),
    }
}

/// What the example needs of either Gaussian model beyond the shared traits.
trait GaussianModel<T: Float> {
    fn log_prob(&self, data: &Dataset<T>, seed: u64) -> rbms::Result<(f64, &'static str)>;
}

macro_rules! gaussian_model {
    ($units:ty) => {
        impl<T: Float> GaussianModel<T> for Rbm<T, $units, Bernoulli> {
            fn log_prob(&self, data: &Dataset<T>, seed: u64) -> rbms::Result<(f64, &'static str)> {
                use rbms::EnergyModel;
                if self.n_hidden() <= MAX_EXACT_HIDDEN {
                    return Ok((self.log_prob_exact(data)?.mean(), "exact"));
                }
                let config = AisConfig::default()
                    .schedule(AisSchedule::linear(5_000)?)
                    .runs(100)
                    .seed(seed);
                let ais = self.ais(&GaussianAisBase::from_data(data)?, &config)?;
                Ok((self.log_prob_with(data, ais.log_z)?.mean(), "ais"))
            }
        }
    };
}
gaussian_model!(Gaussian);
gaussian_model!(GaussianSigma);

fn train<T: Float, V: GaussianUnits<T>>(args: &Args) -> Result<(), String>
where
    Rbm<T, V, Bernoulli>: GaussianModel<T>,
{
    let started = Instant::now();
    let hidden: usize = args.get("hidden", 16)?;
    let chains: usize = args.get("chains", 10)?;
    let trainer_name = args.string("trainer", "pcd1");
    let trainer = parse_trainer(&trainer_name, chains)?;
    // learned σ needs a 5× smaller rate: σ of a nearly constant pixel runs away at 0.005
    let default_lr = if args.string("sigma", "fixed") == "learned" {
        0.001
    } else {
        0.005
    };
    let config = common::digits_fit_config(args, default_lr)?;
    let out = common::out_dir(args, "gaussian_digits");
    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;

    let pixels = datasets::digits_scaled::<T>();
    let standardizer = Standardizer::fit(&pixels).map_err(|e| e.to_string())?;
    let data = standardizer.transform(&pixels).map_err(|e| e.to_string())?;
    eprintln!(
        "gaussian_digits: {} samples x {} features (standardised), {hidden} hidden, {} visible \
         units, {trainer_name}, {}",
        data.n_samples(),
        data.n_features(),
        <V as VisibleUnits<T>>::NAME,
        T::NAME
    );
    let mut rbm =
        Rbm::<T, V, Bernoulli>::zeros(data.n_features(), hidden).map_err(|e| e.to_string())?;
    let mut progress = Progress::new(config.epochs);
    let report = trainer
        .fit(&mut rbm, &data, &config, &mut progress)
        .map_err(|e| e.to_string())?;
    let metrics = report.final_metrics().unwrap_or_default();
    let (log_prob, method) = rbm
        .log_prob(&data, config.seed)
        .map_err(|e| e.to_string())?;
    // The reference a model should beat: independent standard normal pixels (the standardised
    // data's own mean and variance), log N(z; 0, 1) summed over pixels.
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let baseline = data
        .samples()
        .column_iter()
        .map(|c| {
            c.iter()
                .map(|z| -0.5 * z.as_f64().powi(2) - half_log_2pi)
                .sum::<f64>()
        })
        .sum::<f64>()
        / data.n_samples() as f64;

    let filters = common::filter_tiles(rbm.weights(), 100);
    let filters_path = out.join("filters.png");
    common::write_tiles(&filters_path, &filters, 8, 8, 10, 4, true)?;
    let mut rng = RunRng::seed_from_u64(config.seed ^ 0x5eed);
    let samples = common::sample_tiles(&rbm, 100, 1000, &mut rng).map_err(|e| e.to_string())?;
    // Back to pixel values in [0, 1] for display.
    let means = nalgebra::DMatrix::from_fn(data.n_features(), samples.len(), |i, c| {
        T::of_f64(samples[c][i])
    });
    let pixels_out = standardizer
        .inverse_transform_matrix(&means)
        .map_err(|e| e.to_string())?;
    let tiles = common::column_tiles(&pixels_out, 100);
    let finite =
        tiles.iter().flatten().all(|x| x.is_finite()) && rbm.weights().iter().all(|w| w.finite());
    if !finite {
        return Err("non-finite parameters or samples".into());
    }
    let samples_path = out.join("samples.png");
    common::write_tiles(&samples_path, &tiles, 8, 8, 10, 4, false)?;
    eprintln!(
        "wrote {} and {}",
        filters_path.display(),
        samples_path.display()
    );

    println!(
        "summary: dataset=digits_standardised dtype={} hidden={hidden} visible={} \
         trainer={trainer_name} epochs={} lr={} train_seconds={:.4} seconds_per_epoch={:.5} \
         seconds={:.3} recon_mse={} log_prob={log_prob:.4} log_prob_method={method} \
         baseline_log_prob={baseline:.4} beats_baseline={} finite={finite} images=2",
        T::NAME,
        <V as VisibleUnits<T>>::NAME,
        report.epochs.len(),
        config.learning_rate,
        report.train_seconds(),
        report.train_seconds() / report.epochs.len().max(1) as f64,
        started.elapsed().as_secs_f64(),
        fmt(metrics.recon_mse),
        log_prob > baseline,
    );
    Ok(())
}

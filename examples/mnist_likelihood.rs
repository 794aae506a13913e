//! Trains an RBM on stochastically binarized MNIST and reports the mean log-probability of the
//! training and test sets: exact when the hidden layer can be enumerated (≤ 30 units), with
//! forward and reverse AIS beside it for comparison, and from forward and reverse AIS otherwise
//! (Salakhutdinov & Murray 2008's evaluation).
//!
//! cargo run --release --example mnist_likelihood -- --data DIR [--hidden 500] [--trainer cd1]
//!     [--epochs 10] [--seed 0] [--lr 0.05] [--batch 100] [--momentum 0.5] [--decay 0.0002]
//!     [--chains 100] [--dtype f32|f64] [--train-limit N] [--test-limit N]
//!     [--ais-runs 100] [--ais-steps default|N] [--threads N]
//!
//! Binarization: every pixel, scaled to p/255 by the loader, becomes 1 with that probability, drawn once per data set
//! with fixed seeds (training set `Dataset::binarize_stochastic(1)`, test set
//! `binarize_stochastic(2)`), whatever `--seed` is, so that every run is scored on the same
//! test set. The AIS base model is the training set's base-rate model; its own test
//! log-probability is reported as `base_rate_test_log_prob`.
//!
//! `test_log_prob` and `train_log_prob` use the exact log Z when it was computed, else the
//! forward AIS estimate (as in the paper); `test_log_prob_reverse` uses the reverse estimate,
//! which tends to be lower (conservative). Progress goes to stderr; the last line is the
//! summary.

#[path = "common/mod.rs"]
mod common;

use common::{parse_trainer, Args, Choice};
use rbms::rbm::{AisBase, AisConfig, AisEstimate, AisSchedule};
use rbms::{datasets, Dataset, FitConfig, Float, MetricsConfig, Progress, Rbm};
use std::time::Instant;

const USAGE: &str = "usage: mnist_likelihood --data DIR [--hidden N] [--trainer cd1|cd<k>|pcd<k>] \
[--epochs N] [--seed N] [--lr X] [--batch N] [--momentum X] [--decay X] [--chains N] \
[--dtype f32|f64] [--train-limit N] [--test-limit N] [--ais-runs N] [--ais-steps default|N] \
[--threads N]
DIR must hold the four MNIST IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or with a .gz suffix).";

/// Largest hidden layer whose 2^n states are enumerated for the exact log Z.
const EXACT_MAX_HIDDEN: usize = 30;

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
            "trainer",
            "epochs",
            "seed",
            "lr",
            "batch",
            "momentum",
            "decay",
            "chains",
            "dtype",
            "train-limit",
            "test-limit",
            "ais-runs",
            "ais-steps",
            "threads",
        ],
    )?;
    match args.string("dtype", "f32").as_str() {
        "f32" => evaluate::<f32>(&args),
        "f64" => evaluate::<f64>(&args),
        other => Err(format!("--dtype must be f32 or f64, got {other:?}")),
    }
}

fn evaluate<T: Float>(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let err = |e: rbms::Error| e.to_string();
    let dir = common::mnist_dir(args)?;
    let hidden: usize = args.get("hidden", 500)?;
    let trainer_name = args.string("trainer", "cd1");
    let trainer = parse_trainer(&trainer_name, args.get("chains", 100)?)?;
    let config = FitConfig::default()
        .epochs(args.get("epochs", 10)?)
        .learning_rate(args.get("lr", 0.05)?)
        .batch_size(args.get("batch", 100)?)
        .momentum(args.get("momentum", 0.5)?)
        .weight_decay(args.get("decay", 0.0002)?)
        .seed(args.get("seed", 0)?)
        .metrics(MetricsConfig::none());
    let schedule = match args.string("ais-steps", "default").as_str() {
        "default" => AisSchedule::default(),
        n => AisSchedule::linear(
            n.parse()
                .map_err(|_| format!("--ais-steps must be `default` or a number, got {n:?}"))?,
        )
        .map_err(err)?,
    };

    let t = Instant::now();
    let mnist = datasets::mnist::<T>(&dir).map_err(err)?;
    let train = mnist
        .train
        .head(args.get("train-limit", usize::MAX)?)
        .and_then(|d| d.binarize_stochastic(1))
        .map_err(err)?;
    let test = mnist
        .test
        .head(args.get("test-limit", usize::MAX)?)
        .and_then(|d| d.binarize_stochastic(2))
        .map_err(err)?;
    eprintln!(
        "mnist_likelihood: loaded in {:.2}s; {} training and {} test samples, binarized \
         stochastically; {hidden} hidden, {trainer_name}, {} epochs, {}",
        t.elapsed().as_secs_f64(),
        train.n_samples(),
        test.n_samples(),
        config.epochs,
        T::NAME
    );

    let mut rbm = Rbm::<T>::new(train.n_features(), hidden).map_err(err)?;
    let mut progress = Progress::new(config.epochs);
    let report = match trainer {
        Choice::Cd(t) => rbm.fit_observed(&train, &t, &config, &mut progress),
        Choice::Pcd(t) => rbm.fit_observed(&train, &t, &config, &mut progress),
    }
    .map_err(err)?;
    let train_seconds = report.train_seconds();

    let t = Instant::now();
    let base = AisBase::from_data(&train).map_err(err)?;
    let mut ais_config = AisConfig::default()
        .schedule(schedule)
        .runs(args.get("ais-runs", 100)?)
        .seed(args.get("seed", 0)?)
        .base(base.clone());
    let threads: usize = args.get("threads", 0)?;
    if threads > 0 {
        ais_config = ais_config.threads(threads);
    }
    let base_rate = base.log_prob(&test).map_err(err)?.mean();
    let forward = rbm.ais(&ais_config).map_err(err)?;
    report_ais("forward AIS", &forward);
    let reverse = rbm.reverse_ais(&test, &ais_config).map_err(err)?;
    report_ais("reverse AIS", &reverse);
    let ais_seconds = t.elapsed().as_secs_f64();

    let (exact_log_z, exact_seconds) = if hidden <= EXACT_MAX_HIDDEN {
        let t = Instant::now();
        let z = rbm.log_partition_exact().map_err(err)?;
        let s = t.elapsed().as_secs_f64();
        eprintln!("exact log Z = {z:.4} ({s:.2}s)");
        (Some(z), s)
    } else {
        (None, 0.0)
    };
    let log_z = exact_log_z.unwrap_or(forward.log_z);
    let train_f = mean_free_energy(&rbm, &train)?;
    let test_f = mean_free_energy(&rbm, &test)?;
    let test_log_prob = -test_f - log_z;
    let train_log_prob = -train_f - log_z;
    eprintln!(
        "test log p {test_log_prob:.3} (reverse AIS {:.3}), train log p {train_log_prob:.3}, \
         base-rate model {base_rate:.3}",
        -test_f - reverse.log_z
    );

    let mut summary = format!(
        "summary: dataset=mnist dtype={} hidden={hidden} trainer={trainer_name} epochs={} \
         train_samples={} test_samples={} test_log_prob={test_log_prob:.4} \
         train_log_prob={train_log_prob:.4} test_log_prob_reverse={:.4} \
         base_rate_test_log_prob={base_rate:.4} log_z={log_z:.4} log_z_stderr={:.4} \
         ais_log_z={:.4} ais_log_z_stderr={:.4} ais_log_z_low={:.4} ais_log_z_high={:.4} \
         ais_ess={:.1} reverse_log_z={:.4} reverse_log_z_stderr={:.4} ais_runs={} ais_steps={} \
         train_seconds={train_seconds:.3} ais_seconds={ais_seconds:.3} \
         exact_seconds={exact_seconds:.3}",
        T::NAME,
        report.epochs.len(),
        train.n_samples(),
        test.n_samples(),
        -test_f - reverse.log_z,
        if exact_log_z.is_some() {
            0.0
        } else {
            forward.stderr
        },
        forward.log_z,
        forward.stderr,
        forward.interval.0,
        forward.interval.1,
        forward.effective_sample_size,
        reverse.log_z,
        reverse.stderr,
        forward.log_weights.len(),
        forward.steps,
    );
    if let Some(z) = exact_log_z {
        summary += &format!(
            " exact_log_z={z:.4} ais_minus_exact={:.4}",
            forward.log_z - z
        );
    }
    summary += &format!(" seconds={:.3}", started.elapsed().as_secs_f64());
    println!("{summary}");
    Ok(())
}

fn report_ais(name: &str, e: &AisEstimate) {
    eprintln!(
        "{name}: log Z = {:.4} ± {:.4} (3 s.e. interval {:.4} .. {:.4}, effective sample size \
         {:.1} of {})",
        e.log_z,
        e.stderr,
        e.interval.0,
        e.interval.1,
        e.effective_sample_size,
        e.log_weights.len()
    );
}

/// Mean free energy in `f64` (log p with log Z = 0), over blocks of samples so that the whole
/// set is never copied.
fn mean_free_energy<T: Float>(rbm: &Rbm<T>, data: &Dataset<T>) -> Result<f64, String> {
    let n = data.n_samples();
    let mut total = 0.0;
    for start in (0..n).step_by(5000) {
        let idx: Vec<usize> = (start..n.min(start + 5000)).collect();
        let block = data.select(&idx).map_err(|e| e.to_string())?;
        total -= rbm
            .log_prob_with(&block, 0.0)
            .map_err(|e| e.to_string())?
            .sum();
    }
    Ok(total / n as f64)
}

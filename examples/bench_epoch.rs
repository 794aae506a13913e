//! Seconds per training epoch, measured the way ../shared/peer/side_by_side.py measures the
//! peers: one JSON line per measured epoch on stdout, then a `summary:` line.
//!
//! cargo run --release [--features threading] --example bench_epoch -- [--workload mnist_mnist]
//!     [--data DIR] [--algo cd1|pcd1] [--dtype float32|float64] [--threads N] [--epochs 3]
//!     [--hidden N] [--batch N] [--lr X] [--limit N] [--seed 0]
//!
//! Workloads (as the peer scripts define them):
//! - `mnist_mnist`: the 60,000 MNIST training images in DIR (`train-images-idx3-ubyte`, raw or
//!   `.gz`), binarized at pixel ≥ 128; 500 hidden units, batch 100, learning rate 0.1;
//! - `mnist_synthetic`: the same sizes on the matrix `side_by_side.py export-synthetic --out DIR`
//!   writes (DIR/train-images-idx3-ubyte, pixels 0 or 255);
//! - `digits`: the embedded 1797 digits scaled to [0, 1]; 100 hidden, batch 10, rate 0.06.
//!
//! `pcd1` uses as many persistent chains as the batch size (scikit-learn's choice). Momentum
//! is 0 and weight decay 0, as in scikit-learn. Each epoch's time is the training time the
//! fit reports (shuffling, gathering and steps; no metrics). With the `threading` feature,
//! `--threads N` sets the element-wise threads; the matrix products take theirs from
//! `MATMUL_NUM_THREADS` (set both to the same N, as side_by_side.py's template does). The
//! summary's `fingerprint` (FNV-1a of the parameters' bits) is the same for every thread count.

#[path = "common/mod.rs"]
mod common;

use common::{parse_trainer, Args, Choice};
use rbms::observe::FnObserver;
use rbms::train::EpochReport;
use rbms::{datasets, Control, Dataset, FitConfig, Float, MetricsConfig, Model, Parameters, Rbm};
use std::path::Path;
use std::time::Instant;

const USAGE: &str = "usage: bench_epoch [--workload mnist_mnist|mnist_synthetic|digits] \
[--data DIR] [--algo cd1|pcd1|cd<k>|pcd<k>] [--dtype float32|float64] [--threads N] \
[--epochs N] [--hidden N] [--batch N] [--lr X] [--limit N] [--seed N]";

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
            "workload", "data", "algo", "dtype", "threads", "epochs", "hidden", "batch", "lr",
            "limit", "seed",
        ],
    )?;
    let threads: usize = args.get("threads", rbms::parallel::threads())?;
    set_threads(threads)?;
    match args.string("dtype", "float32").as_str() {
        "float32" | "f32" => bench::<f32>(&args),
        "float64" | "f64" => bench::<f64>(&args),
        other => Err(format!("--dtype must be float32 or float64, got {other:?}")),
    }
}

#[cfg(feature = "threading")]
fn set_threads(n: usize) -> Result<(), String> {
    rbms::parallel::set_threads(n).map_err(|e| e.to_string())
}

#[cfg(not(feature = "threading"))]
fn set_threads(n: usize) -> Result<(), String> {
    if n != 1 {
        return Err(format!(
            "--threads {n}: built without the `threading` feature (add --features threading)"
        ));
    }
    Ok(())
}

/// The training images of `dir`, raw or gzipped, scaled to [0, 1].
fn idx_images<T: Float>(dir: &Path) -> Result<Dataset<T>, String> {
    let raw = dir.join("train-images-idx3-ubyte");
    let gz = dir.join("train-images-idx3-ubyte.gz");
    let path = if raw.is_file() { raw } else { gz };
    if !path.is_file() {
        return Err(format!(
            "{} holds no train-images-idx3-ubyte[.gz]: pass --data with the MNIST files or the \
             directory `side_by_side.py export-synthetic --out DIR` wrote",
            dir.display()
        ));
    }
    datasets::read_idx_images::<T>(&path).map_err(|e| e.to_string())
}

fn bench<T: Float>(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let workload = args.string("workload", "mnist_mnist");
    let algo = args.string("algo", "cd1");
    let digits = workload == "digits";
    let (hidden, batch, lr) = if digits {
        (100, 10, 0.06)
    } else {
        (500, 100, 0.1)
    };
    let hidden: usize = args.get("hidden", hidden)?;
    let batch: usize = args.get("batch", batch)?;
    let trainer = parse_trainer(&algo, batch)?;
    let data = match workload.as_str() {
        "digits" => datasets::digits_scaled::<T>(),
        // pixel ≥ 128 ⇔ pixel / 255 > 0.5
        "mnist_mnist" | "mnist_synthetic" => {
            idx_images::<T>(Path::new(&args.string("data", "../shared/data")))?
                .binarize(T::of_f64(0.5))
        }
        other => {
            return Err(format!(
                "--workload must be mnist_mnist, mnist_synthetic or digits, got {other:?}"
            ))
        }
    };
    let data = data
        .head(args.get("limit", usize::MAX)?)
        .map_err(|e| e.to_string())?;
    let epochs: usize = args.get("epochs", 3)?;
    let config = FitConfig::default()
        .epochs(epochs)
        .learning_rate(args.get("lr", lr)?)
        .batch_size(batch)
        .momentum(0.0)
        .seed(args.get("seed", 0)?)
        .metrics(MetricsConfig::none());
    let dtype = if T::NAME == "f32" {
        "float32"
    } else {
        "float64"
    };
    let threads = rbms::parallel::threads();
    eprintln!(
        "bench_epoch: {workload} ({} × {}), {hidden} hidden, batch {batch}, {algo}, {dtype}, \
         {threads} thread(s), {epochs} epoch(s)",
        data.n_samples(),
        data.n_features()
    );

    let mut rbm = Rbm::<T>::new(data.n_features(), hidden).map_err(|e| e.to_string())?;
    let mut seconds = Vec::new();
    let mut observer = FnObserver(|_: &Rbm<T>, e: &EpochReport| {
        println!(
            "{{\"impl\": \"rbms\", \"workload\": \"{workload}\", \"algo\": \"{algo}\", \
             \"dtype\": \"{dtype}\", \"threads\": {threads}, \"epoch\": {}, \
             \"samples\": {}, \"hidden\": {hidden}, \"batch\": {batch}, \
             \"seconds_per_epoch\": {:.5}}}",
            e.epoch,
            data.n_samples(),
            e.seconds
        );
        eprintln!("epoch {}/{epochs}: {:.4} s", e.epoch + 1, e.seconds);
        seconds.push(e.seconds);
        Control::Continue
    });
    match trainer {
        Choice::Cd(t) => rbm.fit_observed(&data, &t, &config, &mut observer),
        Choice::Pcd(t) => rbm.fit_observed(&data, &t, &config, &mut observer),
    }
    .map_err(|e| e.to_string())?;

    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    // The middle epoch, or the mean of the middle two for an even count.
    let n = sorted.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    };
    println!(
        "summary: workload={workload} algo={algo} dtype={dtype} threads={threads} \
         epochs={epochs} samples={} hidden={hidden} batch={batch} \
         median_seconds_per_epoch={median:.5} min_seconds_per_epoch={:.5} \
         fingerprint={:016x} seconds={:.3}",
        data.n_samples(),
        sorted.first().copied().unwrap_or(f64::NAN),
        fingerprint(rbm.params()),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// FNV-1a over the bits of every parameter, block by block.
fn fingerprint<P: Parameters>(p: &P) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in 0..p.n_blocks() {
        for x in p.block(b) {
            for byte in x.as_f64().to_bits().to_le_bytes() {
                h ^= byte as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    h
}

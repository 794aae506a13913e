//! Checkpoint and resume, bit for bit: trains an RBM on the digits for N epochs in one go, then
//! again with a checkpoint saved to a JSON file at N/2, reloaded into fresh values and resumed
//! to N, and checks that both runs end with the same bits.
//!
//! cargo run --release --features serde --example resume -- [--epochs 10] [--hidden 100]
//!     [--chains 10] [--seed 0] [--out DIR]
//!
//! Ends with one line on stdout:
//! `summary: bit_identical=true epochs=10 fingerprint_full=<hex> fingerprint_resumed=<hex>
//! checkpoint_bytes=<n> seconds=<s>`; exits with 1 if the runs differ.

#[path = "common/mod.rs"]
mod common;

use common::Args;
use rbms::persist::{json_checkpoints, Persist};
use rbms::train::{fit_checkpointed, resume, CheckpointOf};
use rbms::{datasets, FitConfig, Model, Parameters, PersistentCd, Progress, Rbm};
use std::time::Instant;

const USAGE: &str = "usage: resume [--epochs N] [--hidden N] [--chains N] [--seed N] [--out DIR]";

fn main() {
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// FNV-1a over the bits of every parameter, block after block.
fn fingerprint(model: &Rbm<f32>) -> u64 {
    let p = model.params();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in 0..p.n_blocks() {
        for x in p.block(b) {
            for byte in x.to_bits().to_le_bytes() {
                h ^= u64::from(byte);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    h
}

fn run() -> Result<bool, String> {
    let started = Instant::now();
    let args = Args::parse(USAGE, &["epochs", "hidden", "chains", "seed", "out"])?;
    let epochs: usize = args.get("epochs", 10)?;
    if epochs < 2 {
        return Err(format!(
            "--epochs must be >= 2 (to stop half-way), got {epochs}"
        ));
    }
    let hidden: usize = args.get("hidden", 100)?;
    let pcd = PersistentCd::new(1, args.get("chains", 10)?);
    let config = FitConfig::default()
        .epochs(epochs)
        .learning_rate(0.06)
        .batch_size(10)
        .momentum(0.5)
        .seed(args.get("seed", 0)?);
    let out = common::out_dir(&args, "resume");
    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;
    let path = out.join("checkpoint.json");
    let data = datasets::digits_scaled::<f32>();
    let e = |e: rbms::Error| e.to_string();

    eprintln!("run 1: {epochs} epochs in one go");
    let mut full = Rbm::<f32>::new(data.n_features(), hidden).map_err(e)?;
    full.fit_observed(&data, &pcd, &config, &mut Progress::new(epochs))
        .map_err(e)?;

    let half = epochs / 2;
    eprintln!("run 2: {half} epochs, checkpoint to {}", path.display());
    let mut first = Rbm::<f32>::new(data.n_features(), hidden).map_err(e)?;
    fit_checkpointed(
        &mut first,
        &data,
        &pcd,
        &config.clone().epochs(half),
        &mut Progress::new(epochs),
        half,
        json_checkpoints(&path),
    )
    .map_err(e)?;
    drop(first);
    let checkpoint_bytes = std::fs::metadata(&path)
        .map_err(|err| format!("{}: {err}", path.display()))?
        .len();

    eprintln!("run 2: reload the checkpoint ({checkpoint_bytes} bytes) and resume to {epochs}");
    let checkpoint = CheckpointOf::<Rbm<f32>, PersistentCd>::load_json(&path).map_err(e)?;
    let mut resumed = Rbm::<f32>::new(data.n_features(), hidden).map_err(e)?;
    resume(
        &mut resumed,
        checkpoint,
        &data,
        &pcd,
        &config,
        &mut Progress::new(epochs),
    )
    .map_err(e)?;

    let (a, b) = (fingerprint(&full), fingerprint(&resumed));
    let identical = a == b && full == resumed;
    if !identical {
        eprintln!("the resumed run differs from the uninterrupted one");
    }
    println!(
        "summary: bit_identical={identical} epochs={epochs} fingerprint_full={a:016x} \
         fingerprint_resumed={b:016x} checkpoint_bytes={checkpoint_bytes} seconds={:.3}",
        started.elapsed().as_secs_f64()
    );
    Ok(identical)
}

//! Bars and stripes 4×4 with 16 hidden units: parallel tempering reaches an exact mean
//! log-likelihood ≥ −4.0 nats per pattern (log Z by enumeration) and beats CD-1 on the same
//! budget; the optimum is computed from the pattern counts.

use rbms::train::{Centering, Ladder, ParallelTempering};
use rbms::{
    datasets, ContrastiveDivergence, FitConfig, LearningRateSchedule, MetricsConfig, Rbm, Trainer,
};
use std::collections::HashMap;
use std::time::Instant;

#[test]
fn the_patterns_and_the_optimum() {
    let data = datasets::bars_and_stripes::<f64>(4).unwrap();
    assert_eq!((data.n_samples(), data.n_features()), (32, 16));
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for k in 0..32 {
        let key: Vec<u8> = data.sample(k).unwrap().iter().map(|&x| x as u8).collect();
        *counts.entry(key).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 30, "30 distinct patterns");
    let twice: Vec<usize> = counts
        .iter()
        .filter(|(_, &c)| c == 2)
        .map(|(k, _)| k.iter().map(|&x| x as usize).sum())
        .collect();
    let mut twice = twice;
    twice.sort_unstable();
    assert_eq!(
        twice,
        vec![0, 16],
        "the blank and the full image, twice each"
    );
    let optimum = ll_optimum(&counts);
    assert!((optimum - (-3.379)).abs() < 5e-4, "{optimum}");
    assert!((datasets::empirical_log_likelihood(&data) - optimum).abs() < 1e-12);
}

/// (1/n) Σ_patterns count · log(count / n): the mean log-probability of the data under their
/// empirical distribution.
fn ll_optimum(counts: &HashMap<Vec<u8>, usize>) -> f64 {
    let n: usize = counts.values().sum();
    counts
        .values()
        .map(|&c| c as f64 * (c as f64 / n as f64).ln())
        .sum::<f64>()
        / n as f64
}

fn exact_ll<Tr: Trainer<Rbm<f64>>>(trainer: &Tr, config: &FitConfig) -> f64 {
    let data = datasets::bars_and_stripes::<f64>(4).unwrap();
    let mut rbm = Rbm::<f64>::new(16, 16).unwrap();
    rbm.fit(&data, trainer, config).unwrap();
    rbm.log_prob_exact(&data).unwrap().mean()
}

#[test]
fn parallel_tempering_nearly_reaches_the_optimum_and_beats_cd1() {
    let data = datasets::bars_and_stripes::<f64>(4).unwrap();
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for k in 0..32 {
        let key = data.sample(k).unwrap().iter().map(|&x| x as u8).collect();
        *counts.entry(key).or_insert(0) += 1;
    }
    let optimum = ll_optimum(&counts);
    // The budget: 4000 epochs of 4 updates, lr 0.05 decaying linearly to 0, momentum 0.5.
    let config = FitConfig::default()
        .epochs(4000)
        .batch_size(8)
        .learning_rate(0.05)
        .momentum(0.5)
        .learning_rate_schedule(LearningRateSchedule::LinearToZero)
        .metrics(MetricsConfig::none())
        .seed(0);
    let start = Instant::now();
    let pt = ParallelTempering::new(1, 8, 8).ladder(Ladder::Geometric {
        temperatures: 8,
        min_beta: 0.2,
    });
    let ll_pt = exact_ll(&pt, &config);
    let ll_cd1 = exact_ll(&ContrastiveDivergence::new(1), &config);
    eprintln!(
        "ll_pt {ll_pt:.4}, ll_cd1 {ll_cd1:.4}, ll_optimum {optimum:.4} ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    assert!(
        ll_pt <= optimum + 1e-9,
        "no model beats the empirical distribution"
    );
    assert!(ll_pt >= -4.0, "PT: {ll_pt}");
    assert!(ll_pt > ll_cd1 + 0.5, "PT {ll_pt} against CD-1 {ll_cd1}");
    // centered PT on the same budget reaches the threshold too
    let ll_centered = exact_ll(&pt.centering(Some(Centering::default())), &config);
    eprintln!("ll_pt (centered) {ll_centered:.4}");
    assert!(ll_centered >= -4.0, "centered PT: {ll_centered}");
}

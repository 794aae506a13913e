//! One CD-1 step at MNIST size (batch 100, 784 → 500) in f32 and f64, and one digits epoch
//! (1797 × 64 → 100, batch 10, PCD-1) in f32 and f64; AIS at MNIST size (100 runs, 100 steps)
//! and exact log Z of a 784 × 16 model (2¹⁶ hidden states).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rbms::rbm::{AisConfig, AisSchedule};
use rbms::train::{StepContext, UpdateRule};
use rbms::{
    datasets, ContrastiveDivergence, Dataset, FitConfig, Float, MetricsConfig, PersistentCd, Rbm,
    RunRng, Trainer,
};
use std::hint::black_box;

/// A synthetic binary batch with MNIST's sparsity (about 13% ones).
fn mnist_like_batch<T: Float>(n: usize, rng: &mut RunRng) -> DMatrix<T> {
    DMatrix::from_fn(784, n, |_, _| {
        if T::uniform01(rng) < T::of_f64(0.13) {
            T::one()
        } else {
            T::zero()
        }
    })
}

fn cd1_step<T: Float>(c: &mut Criterion) {
    let mut rng = RunRng::seed_from_u64(1);
    let batch = mnist_like_batch::<T>(100, &mut rng);
    let data = Dataset::from_columns(batch.clone()).unwrap();
    let mut rbm = Rbm::<T>::new(784, 500).unwrap();
    rbm.initialize(&Default::default(), Some(&data), &mut rng)
        .unwrap();
    let trainer = ContrastiveDivergence::new(1);
    let config = FitConfig::default().learning_rate(0.01);
    let rule = UpdateRule::<T>::from_config(&config).unwrap();
    let mut state = trainer.init_state(&rbm, &data, 100, &mut rng).unwrap();
    let ctx = StepContext { epoch: 0, batch: 0 };
    c.bench_function(&format!("cd1_step_784x500_batch100_{}", T::NAME), |b| {
        b.iter(|| {
            trainer
                .step(&mut rbm, batch.as_view(), &mut state, &rule, &mut rng, ctx)
                .unwrap();
            black_box(&rbm);
        })
    });
}

fn digits_epoch<T: Float>(c: &mut Criterion) {
    let data = datasets::digits_scaled::<T>();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(10)
        .learning_rate(0.06)
        .metrics(MetricsConfig::none());
    let mut group = c.benchmark_group("digits_epoch_100_hidden_batch10");
    group.bench_with_input(BenchmarkId::new("pcd1", T::NAME), &data, |b, data| {
        b.iter(|| {
            let mut rbm = Rbm::<T>::new(64, 100).unwrap();
            rbm.fit(data, &PersistentCd::new(1, 10), &config).unwrap();
            black_box(rbm)
        })
    });
    group.finish();
}

/// A 784 × n_hidden model with small random weights and base-rate visible biases.
fn mnist_like_model<T: Float>(n_hidden: usize, rng: &mut RunRng) -> Rbm<T> {
    let batch = mnist_like_batch::<T>(1000, rng);
    let data = Dataset::from_columns(batch).unwrap();
    let mut rbm = Rbm::<T>::new(784, n_hidden).unwrap();
    rbm.initialize(&Default::default(), Some(&data), rng)
        .unwrap();
    let scaled = rbm.weights().map(|w| w * T::of_f64(5.0));
    Rbm::from_parameters(
        scaled,
        rbm.visible_bias().clone(),
        rbm.hidden_bias().clone(),
    )
    .unwrap()
}

fn ais_steps<T: Float>(c: &mut Criterion) {
    let mut rng = RunRng::seed_from_u64(2);
    let rbm = mnist_like_model::<T>(500, &mut rng);
    let config = AisConfig::default()
        .schedule(AisSchedule::linear(100).unwrap())
        .runs(100);
    let mut group = c.benchmark_group("ais_784x500_100runs_100steps");
    // One "element" is one chain-step: a Gibbs sweep plus the weight update of one run.
    group.throughput(Throughput::Elements(100 * 100));
    group.bench_function(T::NAME, |b| b.iter(|| black_box(rbm.ais(&config).unwrap())));
    group.finish();
}

fn exact_log_z(c: &mut Criterion) {
    let mut rng = RunRng::seed_from_u64(3);
    let rbm = mnist_like_model::<f64>(16, &mut rng);
    let mut group = c.benchmark_group("exact_log_z_784x16");
    group.throughput(Throughput::Elements(1 << 16));
    group.bench_function("f64", |b| {
        b.iter(|| black_box(rbm.log_partition_exact().unwrap()))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    cd1_step::<f32>(c);
    cd1_step::<f64>(c);
    digits_epoch::<f32>(c);
    digits_epoch::<f64>(c);
    ais_steps::<f32>(c);
    ais_steps::<f64>(c);
    exact_log_z(c);
}

criterion_group! {
    name = training;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(training);

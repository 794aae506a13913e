//! One CD-1 and one PCD-1 step at MNIST size (batch 100, 784 → 500; FLOP/s), CD-k for k = 1,
//! 2, 4, 8 (FLOP/s: constant when the cost is linear in k), the free energy
//! of a batch (samples/s), one digits epoch (1797 × 64 → 100, batch 10, PCD-1; samples/s), in
//! f32 and f64; AIS at MNIST size (100 runs, 100 steps; chain-steps/s) and exact log Z of a
//! 784 × 16 model (2¹⁶ hidden states; states/s).
//!
//! The MNIST-size batches have MNIST's density (13% ones), so the steps take the crate's sparse
//! products; their FLOP/s count the five dense products' 392 MFLOP per step (a figure above
//! the machine's peak is the zeros skipped).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rbms::rbm::{AisConfig, AisSchedule};
use rbms::train::{StepContext, UpdateRule};
use rbms::{
    datasets, ContrastiveDivergence, Dataset, EnergyModel, FitConfig, Float, MetricsConfig,
    PersistentCd, Rbm, RunRng, Trainer,
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

/// Floating-point operations of one CD-1 or PCD-1 step at MNIST size with batch = chains =
/// 100: five products of 2 · 100 · 784 · 500.
const MNIST_STEP_FLOP: u64 = 5 * 2 * 100 * 784 * 500;

/// One step of `trainer` at MNIST size (batch 100, 784 → 500); throughput in FLOP/s (shown
/// as elements/s: one element is one floating-point operation of the five products).
fn mnist_step<T: Float, Tr: Trainer<Rbm<T>>>(c: &mut Criterion, name: &str, trainer: Tr) {
    let mut rng = RunRng::seed_from_u64(1);
    let batch = mnist_like_batch::<T>(100, &mut rng);
    let data = Dataset::from_columns(batch.clone()).unwrap();
    let mut rbm = Rbm::<T>::new(784, 500).unwrap();
    rbm.initialize(&Default::default(), Some(&data), &mut rng)
        .unwrap();
    let config = FitConfig::default().learning_rate(0.01);
    let rule = UpdateRule::<T>::from_config(&config).unwrap();
    let mut state = trainer.init_state(&rbm, &data, 100, &mut rng).unwrap();
    let ctx = StepContext { epoch: 0, batch: 0 };
    let mut group = c.benchmark_group(format!("{name}_step_784x500_batch100_flop"));
    group.throughput(Throughput::Elements(MNIST_STEP_FLOP));
    group.bench_function(T::NAME, |b| {
        b.iter(|| {
            trainer
                .step(&mut rbm, batch.as_view(), &mut state, &rule, &mut rng, ctx)
                .unwrap();
            black_box(&rbm);
        })
    });
    group.finish();
}

/// CD-k steps at MNIST size for k = 1, 2, 4, 8, with the throughput of the (3 + 2k) products
/// of each: a constant FLOP/s across k shows the cost growing linearly in k.
fn cdk_steps(c: &mut Criterion) {
    let mut rng = RunRng::seed_from_u64(2);
    let batch = mnist_like_batch::<f32>(100, &mut rng);
    let data = Dataset::from_columns(batch.clone()).unwrap();
    let mut rbm = Rbm::<f32>::new(784, 500).unwrap();
    rbm.initialize(&Default::default(), Some(&data), &mut rng)
        .unwrap();
    let rule = UpdateRule::<f32>::from_config(&FitConfig::default().learning_rate(0.01)).unwrap();
    let ctx = StepContext { epoch: 0, batch: 0 };
    let mut group = c.benchmark_group("cdk_step_784x500_batch100_flop");
    for k in [1usize, 2, 4, 8] {
        let trainer = ContrastiveDivergence::new(k);
        let mut state = trainer.init_state(&rbm, &data, 100, &mut rng).unwrap();
        group.throughput(Throughput::Elements(
            (3 + 2 * k as u64) * 2 * 100 * 784 * 500,
        ));
        group.bench_with_input(BenchmarkId::new("f32", k), &k, |b, _| {
            b.iter(|| {
                trainer
                    .step(&mut rbm, batch.as_view(), &mut state, &rule, &mut rng, ctx)
                    .unwrap();
                black_box(&rbm);
            })
        });
    }
    group.finish();
}

/// Free energy of a batch of 1000 MNIST-like samples under a 784 × 500 model; throughput in
/// samples/s.
fn free_energy_batch<T: Float>(c: &mut Criterion) {
    let mut rng = RunRng::seed_from_u64(4);
    let rbm = mnist_like_model::<T>(500, &mut rng);
    let batch = mnist_like_batch::<T>(1000, &mut rng);
    let mut group = c.benchmark_group("free_energy_784x500_samples");
    group.throughput(Throughput::Elements(1000));
    group.bench_function(T::NAME, |b| {
        b.iter(|| black_box(rbm.free_energy(batch.as_view()).unwrap()))
    });
    group.finish();
}

fn digits_epoch<T: Float>(c: &mut Criterion) {
    let data = datasets::digits_scaled::<T>();
    let config = FitConfig::default()
        .epochs(1)
        .batch_size(10)
        .learning_rate(0.06)
        .metrics(MetricsConfig::none());
    let mut group = c.benchmark_group("digits_epoch_100_hidden_batch10_samples");
    group.throughput(Throughput::Elements(data.n_samples() as u64));
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
    mnist_step::<f32, _>(c, "cd1", ContrastiveDivergence::new(1));
    mnist_step::<f64, _>(c, "cd1", ContrastiveDivergence::new(1));
    mnist_step::<f32, _>(c, "pcd1", PersistentCd::new(1, 100));
    mnist_step::<f64, _>(c, "pcd1", PersistentCd::new(1, 100));
    cdk_steps(c);
    free_energy_batch::<f32>(c);
    free_energy_batch::<f64>(c);
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

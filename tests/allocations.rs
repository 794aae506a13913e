//! Steady-state training steps allocate nothing on the heap: a counting global allocator in
//! this test binary of its own counts every allocation made while a trainer steps.
//!
//! Pinned for models whose weights fit the crate's small-layer kernels (the digits: 64 × 100,
//! batch 10), and for larger models (784 × 200, batch 100) trained on mostly-zero data with
//! mostly-zero hidden states, whose products are the crate's sparse ones: in both cases every
//! product is the crate's own code. A dense product of a larger model goes through
//! `matrixmultiply`, which allocates its packing buffer inside each product. Gaussian visible
//! units with unit variance take the same paths; with a learned σ ([`rbms::GaussianSigmaRbm`])
//! each step allocates the v/σ copies, and is not pinned.

use nalgebra::DMatrix;
use rand::SeedableRng;
use rbms::train::{
    HiddenBiasInit, HiddenSparsity, Init, ParallelTempering, Sparse, StepContext, UpdateRule,
};
use rbms::units::{HiddenUnits, VisibleUnits};
use rbms::{
    datasets, ContrastiveDivergence, Dataset, FitConfig, Float, GaussianRbm, PersistentCd, Rbm,
    RunRng, Standardizer, Trainer,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `steps` steps of `trainer` after `warmup` steps, on the digits.
fn allocations_per_run<T: Float, Tr: Trainer<Rbm<T>> + Sync>(trainer: &Tr, steps: usize) -> usize {
    let data = datasets::digits_scaled::<T>();
    let rate = FitConfig::default().learning_rate;
    let rbm = Rbm::<T>::new(64, 100).unwrap();
    allocations_of(rbm, &data, &Init::default(), 10, trainer, steps, rate)
}

/// Allocations made by `steps` steps of `trainer` on a 784 × 200 model, batch 100, trained on
/// binary data of density 0.1 with hidden biases set for an activation of 0.1.
fn allocations_sparse<T: Float, Tr: Trainer<Rbm<T>> + Sync>(trainer: &Tr, steps: usize) -> usize {
    let mut rng = RunRng::seed_from_u64(11);
    let m = DMatrix::from_fn(784, 1000, |_, _| {
        if f64::uniform01(&mut rng) < 0.1 {
            T::one()
        } else {
            T::zero()
        }
    });
    let data = Dataset::from_columns(m).unwrap();
    let init = Init {
        hidden_bias: HiddenBiasInit::FromTarget(0.1),
        ..Init::default()
    };
    let rbm = Rbm::<T>::new(784, 200).unwrap();
    allocations_of(rbm, &data, &init, 100, trainer, steps, 0.05)
}

/// Allocations made by `steps` steps of `trainer` on `rbm` (initialised with `init`, batches of
/// `batch` columns) after three warm-up steps.
fn allocations_of<T, V, H, Tr>(
    mut rbm: Rbm<T, V, H>,
    data: &Dataset<T>,
    init: &Init,
    batch: usize,
    trainer: &Tr,
    steps: usize,
    learning_rate: f64,
) -> usize
where
    T: Float,
    V: VisibleUnits<T>,
    H: HiddenUnits<T>,
    Tr: Trainer<Rbm<T, V, H>> + Sync,
    Tr::State: Send,
{
    let mut rng = RunRng::seed_from_u64(5);
    rbm.initialize(init, Some(data), &mut rng).unwrap();
    let config = FitConfig::default()
        .learning_rate(learning_rate)
        .momentum(0.5)
        .weight_decay(1e-4);
    let rule = UpdateRule::<T>::from_config(&config).unwrap();
    let mut state = trainer.init_state(&rbm, data, batch, &mut rng).unwrap();
    let n = data.n_samples();
    let batches: Vec<DMatrix<T>> = (0..steps)
        .map(|s| {
            data.samples()
                .columns((s * batch) % (n - batch), batch)
                .into_owned()
        })
        .collect();
    let ctx = StepContext { epoch: 0, batch: 0 };
    // warm-up: the first steps may size buffers
    for b in batches.iter().take(3) {
        trainer
            .step(&mut rbm, b.as_view(), &mut state, &rule, &mut rng, ctx)
            .unwrap();
    }
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for b in &batches {
        trainer
            .step(&mut rbm, b.as_view(), &mut state, &rule, &mut rng, ctx)
            .unwrap();
    }
    COUNTING.store(false, Ordering::SeqCst);
    let n = ALLOCATIONS.load(Ordering::SeqCst);
    // the steps did train: the model is finite and moved
    assert!(rbm.weights().iter().all(|w| w.finite()));
    n
}

#[test]
fn training_steps_allocate_nothing() {
    // One test function, so that no other test runs (and allocates) while counting.
    // First a run whose parallel regions (with `threading`) reach every helper thread, so that
    // no helper is still starting up (and allocating its own state) while counting.
    allocations_sparse::<f32, _>(&PersistentCd::new(1, 100), 10);
    assert_eq!(
        allocations_per_run::<f32, _>(&ContrastiveDivergence::new(1), 100),
        0
    );
    assert_eq!(
        allocations_per_run::<f64, _>(&ContrastiveDivergence::new(3), 100),
        0
    );
    assert_eq!(
        allocations_per_run::<f32, _>(&PersistentCd::new(1, 10), 100),
        0
    );
    assert_eq!(
        allocations_per_run::<f64, _>(&PersistentCd::new(2, 25), 100),
        0
    );
    // chains over several column blocks (in parallel with `threading`)
    assert_eq!(
        allocations_per_run::<f32, _>(&PersistentCd::new(1, 100), 100),
        0
    );
    // parallel tempering: 5 chains at each of 4 temperatures (the centered update goes through
    // `free_energy_gradient_into`, whose products use `matrixmultiply`: not pinned)
    assert_eq!(
        allocations_per_run::<f32, _>(&ParallelTempering::new(1, 5, 4), 100),
        0
    );
    assert_eq!(
        allocations_per_run::<f64, _>(&ParallelTempering::new(2, 3, 2), 100),
        0
    );
    // a sparsity target on top of PCD
    let sparse = Sparse::new(PersistentCd::new(1, 10), HiddenSparsity::new(0.05, 1.0));
    assert_eq!(allocations_per_run::<f32, _>(&sparse, 100), 0);
    // Gaussian–Bernoulli with unit variance: the same kernels, no workspace either
    let pixels = datasets::digits_scaled::<f32>();
    let data = Standardizer::fit(&pixels)
        .unwrap()
        .transform(&pixels)
        .unwrap();
    let gb = || GaussianRbm::<f32>::zeros(64, 100).unwrap();
    assert_eq!(
        allocations_of(
            gb(),
            &data,
            &Init::default(),
            10,
            &ContrastiveDivergence::new(1),
            100,
            0.005
        ),
        0
    );
    assert_eq!(
        allocations_of(
            gb(),
            &data,
            &Init::default(),
            10,
            &PersistentCd::new(1, 10),
            100,
            0.005
        ),
        0
    );
    // larger layers on mostly-zero states: the sparse products, the transposed weights
    assert_eq!(
        allocations_sparse::<f32, _>(&ContrastiveDivergence::new(1), 20),
        0
    );
    assert_eq!(
        allocations_sparse::<f64, _>(&PersistentCd::new(1, 100), 20),
        0
    );
    // the counter counts: building a matrix while counting is seen
    COUNTING.store(true, Ordering::SeqCst);
    let m = DMatrix::<f64>::zeros(3, 3);
    COUNTING.store(false, Ordering::SeqCst);
    assert!(ALLOCATIONS.load(Ordering::SeqCst) > 0, "{m}");
}

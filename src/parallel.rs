//! Threads for training: how many, and how work is split so that their number never changes
//! the results.
//!
//! # What runs in parallel
//!
//! Without the cargo feature `threading` everything runs on the calling thread. With it:
//!
//! - the large matrix products go through `matrixmultiply` with its `threading` feature: it
//!   splits the output into blocks, each summed in the same order as on one thread;
//! - the element-wise work of training (the logistic function applied to a product, Bernoulli
//!   sampling) is split over fixed blocks of [`COLUMN_BLOCK`] samples (columns) when the matrix
//!   is large enough for that to pay (32,768 elements or more); the parameter update, the bias
//!   gradients and the gather of a minibatch into one part per thread;
//! - the products with a mostly-zero operand (binary data, sampled states), which the crate
//!   computes itself, are split into one part of whole output columns per thread, and the
//!   weight gradient into blocks of [`COLUMN_BLOCK`] columns.
//!
//! This work runs on a team of `n` threads: the thread that calls into the crate (it works on
//! the parts itself) and `n − 1` helper threads named `rbms-1`, `rbms-2`, … A helper keeps
//! checking for the next region for 300 µs after each, so that the next region of a training
//! step finds it awake, then sleeps until there is work; so give the crate no more threads
//! than the cores it can have to itself. Before a dense product of training, which
//! matrixmultiply runs on threads of its own, the helpers go to sleep at once, leaving it the
//! cores. Calls from several threads at once, or from inside a
//! part, run their parts on their own thread. Nothing is allocated per region.
//!
//! # Determinism
//!
//! Each output column of a product is summed by one thread in an order that depends on neither
//! the split nor the number of threads. The element-wise blocks are fixed by the data's shape,
//! never by the number of threads, and sampling
//! draws each block's uniforms from its own generator: one `u64` is drawn from the caller's
//! generator per sampled matrix, and block `i` uses four Xoshiro256++ streams stepped together
//! (the lanes of one vector register), seeded by SplitMix64 from a mix of that word and `i`
//! ([`block_seed`]); within a block, each column starts on fresh words of the four streams and
//! takes two 24-bit uniforms (`f32`) or one 52-bit uniform (`f64`) from each word. The caller's generator therefore advances by exactly one word per
//! sampled matrix whatever the number of blocks, and every bit of a run is the same for 1, 2 or
//! 4 threads, and with or without the feature.
//!
//! # Choosing the number of threads
//!
//! The thread count is read once from the environment variable `MATMUL_NUM_THREADS` (the
//! variable `matrixmultiply` reads for its products; default: the CPUs available to the
//! process, at most 4, where `matrixmultiply` takes the physical cores) and can be lowered or
//! raised for the element-wise work and the crate's own sparse products with `set_threads`
//! (feature `threading`); the dense products keep `matrixmultiply`'s count, so set the
//! variable to choose both. Two threads pay off
//! for layers of a few hundred units and batches of 100 or more (an MNIST-sized model:
//! 784 × 500, batch 100); for small models (the digits, 64 × 100,
//! batch 10) a step takes microseconds and one thread is fastest, and the crate's small-layer
//! kernels never split their work.
//!
//! # Choosing the scalar type
//!
//! `f32` trains about twice as fast as `f64` (an MNIST PCD-1 epoch, 784 × 500, batch 100:
//! 1.35 s against 2.75 s on one thread of the machine of the README's table) and is accurate enough for
//! training: the exact log Z, the AIS log-weights and the reported metrics are accumulated in
//! `f64` whatever the model's type. Use `f64` for finite-difference gradient checks, property
//! tests and comparisons with closed forms, where `f32`'s rounding would swamp the differences.

use rand::Rng;

/// Columns (samples) per block of element-wise work, and per random stream of sampling.
pub const COLUMN_BLOCK: usize = 32;

/// Fewest elements for which element-wise work is spread over threads: below it, handing the
/// blocks to the helper threads costs more than it saves (a 500 × 100 batch has 50,000).
const PARALLEL_MIN: usize = 32 * 1024;

/// The seed of block `block`'s generator for a matrix whose draw from the caller's generator
/// was `word`: the finaliser of SplitMix64 applied to `word` plus `block` times an odd
/// constant, so that the blocks' Xoshiro256++ states share no seed words.
pub fn block_seed(word: u64, block: usize) -> u64 {
    let mut z = word ^ (block as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generators of block `block` (see [`block_seed`]): four Xoshiro256++ streams stepped
/// together, seeded from SplitMix64 started at the block's seed.
pub(crate) fn block_rng(word: u64, block: usize) -> crate::bernoulli::LaneRng {
    crate::bernoulli::LaneRng::new(block_seed(word, block))
}

/// One word from `rng` for the block generators of a matrix.
pub(crate) fn draw_word<R: Rng + ?Sized>(rng: &mut R) -> u64 {
    rng.next_u64()
}

/// Number of threads the crate's training work uses: 1 without the feature `threading`.
pub fn threads() -> usize {
    imp::threads()
}

/// Sets the number of threads for the element-wise work of training and for the crate's own
/// products (the sparse ones; feature `threading`): starts `n − 1` helper threads, and the
/// previous helpers end once the work they are part of is done. The dense products of large layers go
/// through `matrixmultiply`, which keeps the count it read from `MATMUL_NUM_THREADS` at its
/// first use. Results do not depend on either count.
///
/// ```
/// # #[cfg(feature = "threading")]
/// # {
/// rbms::parallel::set_threads(2)?;
/// assert_eq!(rbms::parallel::threads(), 2);
/// assert!(rbms::parallel::set_threads(0).is_err());
/// # }
/// # Ok::<(), rbms::Error>(())
/// ```
#[cfg(feature = "threading")]
pub fn set_threads(n: usize) -> crate::Result<()> {
    imp::set_threads(n)
}

/// Runs `f(block, first_column, slice)` for each block of [`COLUMN_BLOCK`] columns of a
/// column-major matrix with `rows` rows stored in `data`; in parallel with `threading`.
pub(crate) fn for_each_column_block<T, F>(data: &mut [T], rows: usize, f: F)
where
    T: Send,
    F: Fn(usize, usize, &mut [T]) + Sync,
{
    if rows == 0 || data.is_empty() {
        return;
    }
    let chunk = rows * COLUMN_BLOCK;
    if data.len() <= chunk || data.len() < PARALLEL_MIN || imp::threads() == 1 {
        for (b, block) in data.chunks_mut(chunk).enumerate() {
            f(b, b * COLUMN_BLOCK, block);
        }
        return;
    }
    imp::for_each_chunk(data, chunk, &|b, block| f(b, b * COLUMN_BLOCK, block));
}

/// Runs `f(first_column, slice)` on consecutive parts of whole columns of a column-major
/// matrix with `rows` rows stored in `data`: one part per thread (with `threading`, for
/// matrices of at least [`PARALLEL_MIN`] elements), else one part. For work whose result does
/// not depend on how the columns are split.
pub(crate) fn for_each_column_part<T, F>(data: &mut [T], rows: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    if rows == 0 || data.is_empty() {
        return;
    }
    let cols = data.len() / rows;
    let threads = imp::threads();
    if threads == 1 || data.len() < PARALLEL_MIN || cols < 2 {
        f(0, data);
        return;
    }
    let per_part = cols.div_ceil(threads);
    imp::for_each_chunk(data, rows * per_part, &|i, part| f(i * per_part, part));
}

/// As [`for_each_column_block`], over the matching blocks of two matrices with the same
/// number of columns (`a` with `rows_a` rows, read; `b` with `rows_b` rows, written).
pub(crate) fn for_each_column_block_pair<T, U, F>(
    a: &[T],
    rows_a: usize,
    b: &mut [U],
    rows_b: usize,
    f: F,
) where
    T: Sync,
    U: Send,
    F: Fn(usize, &[T], &mut [U]) + Sync,
{
    if rows_a == 0 || rows_b == 0 || b.is_empty() {
        return;
    }
    let (ca, cb) = (rows_a * COLUMN_BLOCK, rows_b * COLUMN_BLOCK);
    if b.len() <= cb || b.len().max(a.len()) < PARALLEL_MIN || imp::threads() == 1 {
        for (i, (x, y)) in a.chunks(ca).zip(b.chunks_mut(cb)).enumerate() {
            f(i, x, y);
        }
        return;
    }
    imp::for_each_chunk(b, cb, &|i, y| {
        let start = (i * ca).min(a.len());
        f(i, &a[start..(start + ca).min(a.len())], y)
    });
}

/// Runs `f(start, part)` on consecutive parts of `data`: one part per thread (with
/// `threading`) when `work`, the caller's measure of the cost in element operations, is at
/// least [`PARALLEL_MIN`]; else one part. For work whose result does not depend on the split.
pub(crate) fn for_each_part<T, F>(data: &mut [T], work: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let threads = imp::threads();
    if threads == 1 || work < PARALLEL_MIN || data.len() < 2 * threads {
        f(0, data);
        return;
    }
    let per = data.len().div_ceil(threads);
    imp::for_each_chunk(data, per, &|i, part| f(i * per, part));
}

/// Work on chunk `i` of two slices.
type PairFn<'a, T, U> = dyn Fn(usize, &mut [T], &mut [U]) + Sync + 'a;

/// Runs `f(start, a_part, b_part)` on matching consecutive parts of two slices of the same
/// length: one part per thread (with `threading`, for slices of at least [`PARALLEL_MIN`]
/// elements), else one part. For element-wise work, whose result does not depend on the split.
pub(crate) fn for_each_part_pair<T, U, F>(a: &mut [T], b: &mut [U], f: F)
where
    T: Send,
    U: Send,
    F: Fn(usize, &mut [T], &mut [U]) + Sync,
{
    assert_eq!(a.len(), b.len());
    let threads = imp::threads();
    if threads == 1 || a.len() < PARALLEL_MIN {
        f(0, a, b);
        return;
    }
    // Whole cache lines a part.
    let per = a.len().div_ceil(threads).next_multiple_of(64);
    imp::for_each_chunk_pair(a, b, per, &|i, x, y| f(i * per, x, y));
}

/// Before a dense product, which runs on matrixmultiply's own threads: sends the team's
/// spinning helpers to sleep at once, so that those threads have the cores (a helper spinning
/// beside them took a sixth of a dense epoch's time on two cores). The next region wakes them.
pub(crate) fn park_helpers() {
    imp::park_helpers()
}

#[cfg(not(feature = "threading"))]
mod imp {
    pub(super) fn threads() -> usize {
        1
    }

    pub(super) fn park_helpers() {}

    pub(super) fn for_each_chunk<T: Send>(
        data: &mut [T],
        chunk: usize,
        f: &(dyn Fn(usize, &mut [T]) + Sync),
    ) {
        for (i, c) in data.chunks_mut(chunk).enumerate() {
            f(i, c);
        }
    }

    pub(super) fn for_each_chunk_pair<T: Send, U: Send>(
        a: &mut [T],
        b: &mut [U],
        chunk: usize,
        f: &super::PairFn<'_, T, U>,
    ) {
        for (i, (x, y)) in a.chunks_mut(chunk).zip(b.chunks_mut(chunk)).enumerate() {
            f(i, x, y);
        }
    }
}

#[cfg(feature = "threading")]
mod imp {
    use crate::team::Team;
    use std::sync::{Arc, OnceLock, RwLock};

    /// The team and its size; replaced by `set_threads`.
    static TEAM: OnceLock<RwLock<(usize, Option<Arc<Team>>)>> = OnceLock::new();

    /// `MATMUL_NUM_THREADS` as `matrixmultiply` reads it: a number, clamped to 1..=4; the
    /// physical cores when unset.
    fn from_env() -> usize {
        let n = match std::env::var("MATMUL_NUM_THREADS") {
            Ok(s) if !s.is_empty() => s.trim().parse().unwrap_or(1),
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        n.clamp(1, 4)
    }

    fn build(n: usize) -> Option<Arc<Team>> {
        if n <= 1 {
            return None;
        }
        Team::new(n).map(Arc::new)
    }

    fn team() -> &'static RwLock<(usize, Option<Arc<Team>>)> {
        TEAM.get_or_init(|| {
            let n = from_env();
            let t = build(n);
            RwLock::new((if t.is_some() { n } else { 1 }, t))
        })
    }

    pub(super) fn threads() -> usize {
        team().read().map_or(1, |g| g.0)
    }

    pub(super) fn set_threads(n: usize) -> crate::Result<()> {
        if n == 0 {
            return Err(crate::Error::InvalidParameter {
                name: "threads",
                reason: "must be ≥ 1".into(),
            });
        }
        let t = build(n);
        if n > 1 && t.is_none() {
            return Err(crate::Error::InvalidParameter {
                name: "threads",
                reason: format!("could not start {} helper threads", n - 1),
            });
        }
        let mut g = team().write().unwrap_or_else(|e| e.into_inner());
        *g = (n, t);
        Ok(())
    }

    /// Parks the current team's helpers, if there is a team.
    pub(super) fn park_helpers() {
        if let Some(t) = team().read().unwrap_or_else(|e| e.into_inner()).1.as_ref() {
            t.park();
        }
    }

    /// The current team, if more than one thread (the lock is not held while it works, so
    /// that `set_threads` never waits for a run).
    fn current() -> Option<Arc<Team>> {
        team().read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// The chunks of one slice, shared by the team's threads.
    struct Chunks<T> {
        ptr: *mut T,
        len: usize,
        chunk: usize,
    }

    // SAFETY: each chunk is handed out once (the team runs each part index once), so the
    // threads get disjoint `&mut [T]`, which needs `T: Send`.
    unsafe impl<T: Send> Sync for Chunks<T> {}

    impl<T> Chunks<T> {
        fn new(data: &mut [T], chunk: usize) -> Self {
            Chunks {
                ptr: data.as_mut_ptr(),
                len: data.len(),
                chunk,
            }
        }

        /// Chunk `i` of the slice.
        ///
        /// # Safety
        /// `i < len.div_ceil(chunk)`, the slice is still borrowed, and no other `&mut` to
        /// chunk `i` is alive (each index is taken once).
        #[allow(clippy::mut_from_ref)]
        unsafe fn take(&self, i: usize) -> &mut [T] {
            let start = i * self.chunk;
            // SAFETY: `start + n ≤ len`, inside the borrowed slice; disjoint from the others.
            unsafe {
                std::slice::from_raw_parts_mut(
                    self.ptr.add(start),
                    self.chunk.min(self.len - start),
                )
            }
        }
    }

    pub(super) fn for_each_chunk<T: Send>(
        data: &mut [T],
        chunk: usize,
        f: &(dyn Fn(usize, &mut [T]) + Sync),
    ) {
        match current() {
            Some(t) => {
                let parts = data.len().div_ceil(chunk);
                let c = Chunks::new(data, chunk);
                // SAFETY: the team calls this once for each `i < parts`, before `run` returns.
                t.run(parts, &|i| f(i, unsafe { c.take(i) }));
            }
            None => {
                for (i, c) in data.chunks_mut(chunk).enumerate() {
                    f(i, c);
                }
            }
        }
    }

    pub(super) fn for_each_chunk_pair<T: Send, U: Send>(
        a: &mut [T],
        b: &mut [U],
        chunk: usize,
        f: &super::PairFn<'_, T, U>,
    ) {
        assert_eq!(a.len(), b.len());
        match current() {
            Some(t) => {
                let parts = a.len().div_ceil(chunk);
                let (x, y) = (Chunks::new(a, chunk), Chunks::new(b, chunk));
                // SAFETY: as in `for_each_chunk`; the slices have the same length.
                t.run(parts, &|i| f(i, unsafe { x.take(i) }, unsafe { y.take(i) }));
            }
            None => {
                for (i, (x, y)) in a.chunks_mut(chunk).zip(b.chunks_mut(chunk)).enumerate() {
                    f(i, x, y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_seeds_differ_and_are_stable() {
        // value-stability: these are part of the reproducibility contract
        let s: Vec<u64> = (0..3).map(|b| block_seed(42, b)).collect();
        assert!(s[0] != s[1] && s[1] != s[2] && s[0] != s[2]);
        assert_eq!(block_seed(42, 1), block_seed(42, 1));
        assert_ne!(block_seed(42, 0), block_seed(43, 0));
    }

    #[test]
    fn blocks_cover_every_column_once_in_order() {
        for (rows, cols) in [
            (3, 0),
            (3, 1),
            (3, 31),
            (3, 32),
            (3, 33),
            (3, 100),
            (1000, 70),
        ] {
            let mut data = vec![0usize; rows * cols];
            for_each_column_block(&mut data, rows, |b, first, block| {
                assert_eq!(first, b * COLUMN_BLOCK);
                for (k, x) in block.iter_mut().enumerate() {
                    *x += first * rows + k + 1;
                }
            });
            let want: Vec<usize> = (1..=rows * cols).collect();
            assert_eq!(data, want, "{rows} × {cols}");
        }
    }
}

//! Products with a mostly-zero operand: the visible side of training on binary or sparse data.
//!
//! Binarized MNIST has 13% of its pixels on, and a Bernoulli RBM's sampled visible states have
//! about the data's density once it has learned anything. Three of the five matrix products of
//! a CD-1 step have such a matrix of visible states as an operand: the hidden pre-activations
//! of the data and of the reconstruction, `W·V`, and the weight gradient `Σ_t α_t·H_t·V_tᵀ`.
//! Skipping its zeros reads only the columns of the other operand that a nonzero multiplies, so
//! the cost falls with the density; below [`MAX_DENSITY`] it beats the dense product, whose
//! kernels run at the processor's peak (measured on 784 × 500 × 100, f32, one thread: 0.32 ms
//! against 0.90 ms for `W·V` at density 0.13, 0.82 against 1.49 ms for the gradient). The
//! fourth product, `Wᵀ·H` with sampled hidden states (about 20% ones once a model has
//! trained), takes the same kernel through a transposed copy of `W` kept by the model (see
//! `TransposedWeights` in `rbm`).
//!
//! # Determinism
//!
//! Every output element is a sum taken in one fixed order: starting from zero, the products
//! `x·w` of its nonzero terms in increasing index order (for the gradient, the first term's
//! samples and then the second's), each product rounded and then added, without fused
//! multiply-adds. So the result does not depend on the vector width (the portable and the AVX2
//! builds agree bit for bit), on how the columns are blocked, or on the number of threads. It
//! differs from the dense product's rounding, which sums in the order of its kernel's blocking;
//! a zero operand contributes nothing, where the dense product would add `0·w` (the same
//! value for the finite weights training keeps; a non-finite weight set by hand is read only
//! where its input is nonzero).
//!
//! Whether a product takes this path depends on its whole operand (the density of the batch,
//! and whether it is stored contiguously), so the last bits of one sample's result can differ
//! with its batch-mates or when it is passed as a strided view. Runs stay reproducible: the
//! same inputs make the same choice.

use crate::kernels::{run, Isa, Kernel, Term};
use crate::parallel;
use crate::Float;

/// Largest fraction of nonzeros for which the sparse products are used: about where they
/// break even with the dense kernels on the shapes of the MNIST benchmark (`W·V`, f32, one
/// thread: 0.88 against 0.94 ms at density 0.3, 1.77 against 0.90 ms at 0.5).
pub(crate) const MAX_DENSITY: f64 = 0.3;

/// Fewest dense multiply-adds (`rows × inner × columns`) worth the sparse path: below it the
/// products are a few microseconds either way and the small-layer kernels handle them.
const MIN_WORK: usize = 1 << 20;

/// Indices gathered per pass: a stack buffer, so the products allocate nothing.
const SEGMENT: usize = 256;

/// `true` when at most [`MAX_DENSITY`] of `x`'s values are nonzero.
pub(crate) fn sparse_enough<T: Float>(x: &[T]) -> bool {
    // A sum of 0/1 rather than `filter().count()`, so that the loop vectorises.
    let nonzero: usize = x.iter().map(|&v| usize::from(v != T::zero())).sum();
    (nonzero as f64) <= MAX_DENSITY * x.len() as f64
}

/// `true` when a product of `rows × inner × columns` multiply-adds is large enough for the
/// sparse path to pay for its density count, and every dimension fits the `u32` indices the
/// kernels gather.
pub(crate) fn worth_it(rows: usize, inner: usize, columns: usize) -> bool {
    let fits = [rows, inner, columns]
        .iter()
        .all(|&n| u32::try_from(n).is_ok());
    fits && rows.saturating_mul(inner).saturating_mul(columns) >= MIN_WORK
}

/// `out[:, n] ← Σ_k x[k, n]·w[:, k]` over the nonzero `x[k, n]`, `k` increasing, for `w`
/// `nr × nk` and `x` `nk × nc` (`out` `nr × nc`), all column-major and contiguous. With
/// `threading` the columns are split into one part per thread.
pub(crate) fn sparse_product<T: Float>(w: &[T], x: &[T], out: &mut [T], nr: usize, nk: usize) {
    assert!(nr > 0 && nk > 0 && w.len() == nr * nk);
    assert!(x.len().is_multiple_of(nk) && out.len() == nr * (x.len() / nk));
    parallel::for_each_column_part(out, nr, |first, part| {
        let cols = part.len() / nr;
        run(&mut Product {
            w,
            x: &x[first * nk..(first + cols) * nk],
            out: part,
            nr,
            nk,
        })
    });
}

struct Product<'a, T> {
    w: &'a [T],
    x: &'a [T],
    out: &'a mut [T],
    nr: usize,
    nk: usize,
}

impl<T: Float> Kernel for Product<'_, T> {
    #[inline(always)]
    fn run(&mut self, _isa: Isa) {
        let (nr, nk) = (self.nr, self.nk);
        let mut idx = [0u32; SEGMENT];
        let mut val = [T::zero(); SEGMENT];
        // Whole columns of `w` per pass: reading them from end to end lets the processor
        // prefetch them (a band of rows at a time, kept in cache, measured slower).
        for (xc, oc) in self.x.chunks_exact(nk).zip(self.out.chunks_exact_mut(nr)) {
            oc.fill(T::zero());
            for (s, seg) in xc.chunks(SEGMENT).enumerate() {
                let cnt = gather(
                    seg.iter().copied(),
                    s * SEGMENT,
                    T::one(),
                    &mut idx,
                    &mut val,
                );
                accumulate(self.w, nr, 0, &idx[..cnt], |t| val[t], oc);
            }
        }
    }
}

/// `g[:, j] ← Σ_t Σ_n (α_t·V_t[j, n])·H_t[:, n]` over the nonzero `V_t[j, n]`, the first term's
/// samples and then the second's, `n` increasing: the weight gradient `Σ_t α_t·H_t·V_tᵀ` (`g`
/// `nh × nv`; each `h` `nh × n_t`, each `v` `nv × n_t`; column-major, contiguous). Blocks of
/// columns of `g` run in parallel with `threading`.
pub(crate) fn sparse_weight_gradient<T: Float>(
    terms: [Term<'_, T>; 2],
    g: &mut [T],
    nh: usize,
    nv: usize,
) {
    assert!(nh > 0 && nv > 0 && g.len() == nh * nv);
    for t in &terms {
        assert!(t.v.len().is_multiple_of(nv) && t.h.len() == nh * (t.v.len() / nv));
    }
    let terms = &terms;
    parallel::for_each_column_block(g, nh, |_, first, block| {
        run(&mut Gradient {
            terms,
            g: block,
            first,
            nh,
            nv,
        })
    });
}

struct Gradient<'a, 'b, T> {
    terms: &'a [Term<'b, T>; 2],
    g: &'a mut [T],
    /// The visible index of the first column of `g`.
    first: usize,
    nh: usize,
    nv: usize,
}

impl<T: Float> Kernel for Gradient<'_, '_, T> {
    #[inline(always)]
    fn run(&mut self, _isa: Isa) {
        let (nh, nv) = (self.nh, self.nv);
        let mut idx = [0u32; SEGMENT];
        let mut val = [T::zero(); SEGMENT];
        for (c, gc) in self.g.chunks_exact_mut(nh).enumerate() {
            let j = self.first + c;
            gc.fill(T::zero());
            for t in self.terms {
                let n = t.v.len() / nv;
                let mut n0 = 0;
                while n0 < n {
                    let n1 = (n0 + SEGMENT).min(n);
                    let row = (n0..n1).map(|s| t.v[j + s * nv]);
                    let cnt = gather(row, n0, t.alpha, &mut idx, &mut val);
                    accumulate(t.h, nh, 0, &idx[..cnt], |i| val[i], gc);
                    n0 = n1;
                }
            }
        }
    }
}

/// Writes the offsets (plus `base`) and values times `scale` of the nonzero items of `values`
/// (at most [`SEGMENT`]) to the front of `idx` and `val`; returns how many there are.
#[inline(always)]
fn gather<T: Float>(
    values: impl Iterator<Item = T>,
    base: usize,
    scale: T,
    idx: &mut [u32; SEGMENT],
    val: &mut [T; SEGMENT],
) -> usize {
    let mut cnt = 0;
    for (i, x) in values.enumerate() {
        // Without a branch: every item is written, and the count moves past the nonzero ones.
        idx[cnt] = (base + i) as u32;
        val[cnt] = scale * x;
        cnt += usize::from(x != T::zero());
    }
    cnt
}

/// `out ← out + Σ_t value(t)·src[r0.., idx[t]]`, `t` increasing, each product rounded and
/// added in turn, where `src` has `nr` rows and `out` holds rows `r0..r0 + out.len()`. Four
/// columns go through each pass over `out`, which keeps the order of the sums.
#[inline(always)]
fn accumulate<T: Float>(
    src: &[T],
    nr: usize,
    r0: usize,
    idx: &[u32],
    value: impl Fn(usize) -> T,
    out: &mut [T],
) {
    let rows = out.len();
    let col = |t: usize| {
        let start = idx[t] as usize * nr + r0;
        &src[start..start + rows]
    };
    let mut quads = idx.len() / 4;
    let mut t = 0;
    while quads > 0 {
        let (a, b, c, d) = (col(t), col(t + 1), col(t + 2), col(t + 3));
        let (va, vb, vc, vd) = (value(t), value(t + 1), value(t + 2), value(t + 3));
        for r in 0..rows {
            out[r] = out[r] + va * a[r] + vb * b[r] + vc * c[r] + vd * d[r];
        }
        t += 4;
        quads -= 1;
    }
    while t < idx.len() {
        let (a, va) = (col(t), value(t));
        for r in 0..rows {
            out[r] += va * a[r];
        }
        t += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The defining sum, in the documented order, element by element.
    fn reference_product(w: &[f64], x: &[f64], nr: usize, nk: usize) -> Vec<f64> {
        let nc = x.len() / nk;
        let mut out = vec![0.0; nr * nc];
        for n in 0..nc {
            for r in 0..nr {
                let mut acc = 0.0;
                for k in 0..nk {
                    let v = x[k + n * nk];
                    if v != 0.0 {
                        acc += v * w[r + k * nr];
                    }
                }
                out[r + n * nr] = acc;
            }
        }
        out
    }

    fn sparse_matrix(rng: &mut crate::RunRng, len: usize, density: f64, binary: bool) -> Vec<f64> {
        (0..len)
            .map(|_| {
                if f64::uniform01(rng) < density {
                    if binary {
                        1.0
                    } else {
                        f64::uniform01(rng) * 2.0 - 1.0
                    }
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn product_matches_the_defining_sum_bit_for_bit() {
        let mut rng = crate::RunRng::seed_from_u64(7);
        // Row counts around the vector widths, inner sizes across a segment boundary.
        for &(nr, nk, nc) in &[
            (1, 1, 1),
            (7, 300, 5),
            (33, 513, 3),
            (64, 256, 40),
            (5, 2, 70),
        ] {
            for &binary in &[true, false] {
                let w: Vec<f64> = (0..nr * nk)
                    .map(|_| f64::uniform01(&mut rng) - 0.5)
                    .collect();
                let x = sparse_matrix(&mut rng, nk * nc, 0.2, binary);
                let mut out = vec![f64::NAN; nr * nc];
                sparse_product(&w, &x, &mut out, nr, nk);
                assert_eq!(out, reference_product(&w, &x, nr, nk), "{nr}x{nk}x{nc}");
            }
        }
    }

    #[test]
    fn product_is_close_to_the_dense_product_in_f32() {
        let mut rng = crate::RunRng::seed_from_u64(8);
        let (nr, nk, nc) = (50, 80, 9);
        let w: Vec<f32> = (0..nr * nk)
            .map(|_| f32::uniform01(&mut rng) - 0.5)
            .collect();
        let x: Vec<f32> = sparse_matrix(&mut rng, nk * nc, 0.3, false)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let mut out = vec![0f32; nr * nc];
        sparse_product(&w, &x, &mut out, nr, nk);
        let wm = nalgebra::DMatrix::from_column_slice(nr, nk, &w);
        let xm = nalgebra::DMatrix::from_column_slice(nk, nc, &x);
        let dense = &wm * &xm;
        for (a, b) in out.iter().zip(dense.as_slice()) {
            assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn gradient_matches_the_defining_sum_bit_for_bit() {
        let mut rng = crate::RunRng::seed_from_u64(9);
        for &(nh, nv, na, nb) in &[(3, 4, 1, 2), (40, 70, 300, 20), (17, 33, 10, 600)] {
            let ha: Vec<f64> = (0..nh * na).map(|_| f64::uniform01(&mut rng)).collect();
            let hb: Vec<f64> = (0..nh * nb).map(|_| f64::uniform01(&mut rng)).collect();
            let va = sparse_matrix(&mut rng, nv * na, 0.15, false);
            let vb = sparse_matrix(&mut rng, nv * nb, 0.25, true);
            let (alpha_a, alpha_b) = (-1.0 / na as f64, 1.0 / nb as f64);
            let mut g = vec![f64::NAN; nh * nv];
            let terms = [
                Term {
                    h: &ha,
                    v: &va,
                    alpha: alpha_a,
                },
                Term {
                    h: &hb,
                    v: &vb,
                    alpha: alpha_b,
                },
            ];
            sparse_weight_gradient(terms, &mut g, nh, nv);
            for j in 0..nv {
                for i in 0..nh {
                    let mut acc = 0.0;
                    for (h, v, alpha, n) in [(&ha, &va, alpha_a, na), (&hb, &vb, alpha_b, nb)] {
                        for s in 0..n {
                            let x = v[j + s * nv];
                            if x != 0.0 {
                                acc += (alpha * x) * h[i + s * nh];
                            }
                        }
                    }
                    assert_eq!(g[i + j * nh], acc, "({i}, {j}) of {nh}x{nv}");
                }
            }
        }
    }

    #[test]
    fn density_threshold() {
        let mut x = vec![0f32; 100];
        let at_most = (MAX_DENSITY * 100.0).round() as usize;
        x[..at_most].fill(1.0);
        assert!(sparse_enough(&x));
        x[at_most] = -2.0;
        assert!(!sparse_enough(&x));
        x[at_most] = f32::NAN;
        assert!(!sparse_enough(&x), "NaN counts as nonzero");
        assert!(sparse_enough::<f64>(&[]));
        assert!(worth_it(500, 784, 100) && !worth_it(100, 64, 10));
    }
}

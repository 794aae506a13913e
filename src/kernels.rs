//! Kernels for the products of small layers: the training hot path of models whose weights fit
//! in the first cache levels, trained on small batches.
//!
//! For such sizes a general matrix multiply spends about as long packing its operands as
//! multiplying them. These kernels read the operands in place (every matrix column-major and
//! contiguous) and keep a block of the result in registers.
//!
//! # Determinism
//!
//! Every sum is taken in an order fixed here, independent of the blocking and of the vector
//! width. Each kernel has a portable form and, on x86-64 processors with AVX2 (detected at run
//! time), an explicitly vectorised one, whose axpy-shaped kernels (every lane its own sum) run
//! on 512-bit registers when the processor also has AVX-512F; none uses fused multiply-adds, so
//! all give the same bits. The unit tests check that they agree exactly.

use crate::math::sigmoid;
use crate::train::BlockRule;
use crate::Float;
use nalgebra::{DMatrixView, DMatrixViewMut};
use std::any::TypeId;

/// Largest number of weights (`n_hidden × n_visible`) for which [`small_layers`] holds: 64 KiB of
/// `f32` or 128 KiB of `f64`, within the first two cache levels, where streaming the weights once
/// per group of columns costs less than packing them.
const SMALL_WEIGHTS: usize = 16 * 1024;

/// `true` when products of a layer pair with `n_hidden × n_visible` weights should use these
/// kernels.
#[inline]
pub(crate) fn small_layers(n_hidden: usize, n_visible: usize) -> bool {
    n_hidden.saturating_mul(n_visible) <= SMALL_WEIGHTS
}

/// The elements of `m` as one slice, column-major, when they are contiguous in memory (the
/// columns follow each other without a gap, as in a block of whole columns of a matrix).
pub(crate) fn contiguous<'b, T: Float>(m: &'b DMatrixView<'_, T>) -> Option<&'b [T]> {
    let (nr, nc) = m.shape();
    if nr == 0 || nc == 0 {
        return Some(&[]);
    }
    if nc > 1 && m.strides().1 != nr {
        return None;
    }
    // SAFETY: rows have unit stride (the view type says so) and consecutive columns start `nr`
    // elements apart (checked), so the view's elements are exactly the `nr · nc` consecutive
    // values from its first element; `m` borrows them for 'b.
    Some(unsafe { std::slice::from_raw_parts(m.as_ptr(), nr * nc) })
}

/// The elements of `m` as one mutable slice, as [`contiguous`].
pub(crate) fn contiguous_mut<'b, T: Float>(
    m: &'b mut DMatrixViewMut<'_, T>,
) -> Option<&'b mut [T]> {
    let (nr, nc) = m.shape();
    if nr == 0 || nc == 0 {
        return Some(&mut []);
    }
    if nc > 1 && m.strides().1 != nr {
        return None;
    }
    // SAFETY: as in `contiguous`; `m` borrows the elements exclusively for 'b.
    Some(unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr(), nr * nc) })
}

/// `s` as a slice of `U` when `T` is `U`.
pub(crate) fn cast<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    // SAFETY: `T` and `U` are the same type.
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| unsafe { &*(s as *const [T] as *const [U]) })
}

/// `s` as a mutable slice of `U` when `T` is `U`.
pub(crate) fn cast_mut<T: 'static, U: 'static>(s: &mut [T]) -> Option<&mut [U]> {
    // SAFETY: `T` and `U` are the same type.
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| unsafe { &mut *(s as *mut [T] as *mut [U]) })
}

/// `value` as a `U` when `T` is `U`.
fn cast_value<T: Copy + 'static, U: Copy + 'static>(value: T) -> Option<U> {
    cast::<T, U>(std::slice::from_ref(&value)).map(|s| s[0])
}

/// Lanes of the partial sums of a dot product: one 256-bit register of either scalar type.
const fn dot_lanes<T>() -> usize {
    32 / std::mem::size_of::<T>()
}

/// The instruction set a kernel build targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Baseline x86-64 (or any other architecture).
    Portable,
    /// AVX2, 256-bit registers.
    Avx2,
    /// AVX2 and AVX-512F: the axpy-shaped kernels on 512-bit registers.
    Avx512,
}

impl Isa {
    /// The widest one the processor has.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return if std::is_x86_feature_detected!("avx512f") {
                Isa::Avx512
            } else {
                Isa::Avx2
            };
        }
        Isa::Portable
    }
}

/// A kernel call; [`run`] compiles it three times.
pub(crate) trait Kernel {
    /// Does the work; `isa` says which build this is, and that the processor has it (always
    /// inlined into the entry points of [`run`]).
    fn run(&mut self, isa: Isa);
}

/// Runs `kernel` through its build for the widest instruction set the processor has.
pub(crate) fn run<K: Kernel>(kernel: &mut K) {
    run_as(kernel, Isa::detect())
}

/// Runs `kernel` through its build for `isa`, which the processor must have (as
/// [`Isa::detect`] or a narrower one).
pub(crate) fn run_as<K: Kernel>(kernel: &mut K, isa: Isa) {
    match isa {
        // SAFETY: the processor has AVX2 and AVX-512F (the caller's contract).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { run_avx512(kernel) },
        // SAFETY: the processor has AVX2 (the caller's contract).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_avx2(kernel) },
        _ => kernel.run(Isa::Portable),
    }
}

/// Every build the processor can run, narrowest first (for tests that compare them).
#[cfg(test)]
pub(crate) fn tests_levels() -> Vec<Isa> {
    match Isa::detect() {
        Isa::Portable => vec![Isa::Portable],
        Isa::Avx2 => vec![Isa::Portable, Isa::Avx2],
        Isa::Avx512 => vec![Isa::Portable, Isa::Avx2, Isa::Avx512],
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2<K: Kernel>(kernel: &mut K) {
    kernel.run(Isa::Avx2)
}

/// The AVX2 build with 512-bit vectors for the loops the compiler vectorises itself. Every
/// loop it vectorises is element-wise (no sum is reassociated and no multiply-add fused), so
/// this build gives the same bits as the others.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f")]
fn run_avx512<K: Kernel>(kernel: &mut K) {
    kernel.run(Isa::Avx512)
}

/// `out[:, n] ← σ(bias + W·x[:, n])` for every column `n`, where `W` is `nr × nk`.
///
/// `w`: `W` column-major (`nr · nk` values); `x`: `nk × nc`; `out`: `nr × nc`; all column-major.
/// Each pre-activation is summed over `k` in increasing order.
pub(crate) fn affine_sigmoid<T: Float>(
    w: &[T],
    bias: &[T],
    x: &[T],
    out: &mut [T],
    nr: usize,
    nk: usize,
) {
    assert!(nr > 0 && w.len() == nr * nk && bias.len() == nr && out.len().is_multiple_of(nr));
    assert_eq!(x.len(), nk * (out.len() / nr));
    run(&mut AffineSigmoid {
        w,
        bias,
        x,
        out,
        nr,
        nk,
    })
}

struct AffineSigmoid<'a, T> {
    w: &'a [T],
    bias: &'a [T],
    x: &'a [T],
    out: &'a mut [T],
    nr: usize,
    nk: usize,
}

impl<T: Float> Kernel for AffineSigmoid<'_, T> {
    #[inline(always)]
    fn run(&mut self, isa: Isa) {
        let (nr, nk) = (self.nr, self.nk);
        if !(isa != Isa::Portable && x86::affine(self.w, self.x, self.out, nr, nk, isa)) {
            portable::affine(self.w, self.x, self.out, nr, nk);
        }
        add_bias_sigmoid(self.out, self.bias);
    }
}

/// `out[:, n] ← σ(bias + Wᵀ·h[:, n])` for every column `n`, where `W` is `nk × nr`.
///
/// `w`: `W` column-major (`nk · nr` values); `h`: `nk × nc`; `out`: `nr × nc`. Each
/// pre-activation is the dot product of a column of `W` and a column of `h`, summed in
/// [`dot_lanes`] interleaved partial sums (lane `l` takes the products `k ≡ l` mod the number of
/// lanes, in increasing order), which are then added pairwise, lane `l` with lane `l + L/2`,
/// halving.
pub(crate) fn transposed_affine_sigmoid<T: Float>(
    w: &[T],
    bias: &[T],
    h: &[T],
    out: &mut [T],
    nr: usize,
    nk: usize,
) {
    assert!(nr > 0 && w.len() == nr * nk && bias.len() == nr && out.len().is_multiple_of(nr));
    assert_eq!(h.len(), nk * (out.len() / nr));
    run(&mut TransposedAffineSigmoid {
        w,
        bias,
        h,
        out,
        nr,
        nk,
    })
}

struct TransposedAffineSigmoid<'a, T> {
    w: &'a [T],
    bias: &'a [T],
    h: &'a [T],
    out: &'a mut [T],
    nr: usize,
    nk: usize,
}

impl<T: Float> Kernel for TransposedAffineSigmoid<'_, T> {
    #[inline(always)]
    fn run(&mut self, isa: Isa) {
        let (nr, nk) = (self.nr, self.nk);
        if !(isa != Isa::Portable && x86::dot(self.w, self.h, self.out, nr, nk)) {
            portable::dot(self.w, self.h, self.out, nr, nk);
        }
        add_bias_sigmoid(self.out, self.bias);
    }
}

/// `out[:, n] ← Wᵀ·h[:, n]` for every column `n`, summed as in
/// [`transposed_affine_sigmoid`] (the same products in the same order), without the bias or
/// the sigmoid: the visible pre-activation of units whose mean is not a sigmoid.
pub(crate) fn transposed_product<T: Float>(w: &[T], h: &[T], out: &mut [T], nr: usize, nk: usize) {
    assert!(nr > 0 && w.len() == nr * nk && out.len().is_multiple_of(nr));
    assert_eq!(h.len(), nk * (out.len() / nr));
    run(&mut TransposedProduct { w, h, out, nr, nk })
}

struct TransposedProduct<'a, T> {
    w: &'a [T],
    h: &'a [T],
    out: &'a mut [T],
    nr: usize,
    nk: usize,
}

impl<T: Float> Kernel for TransposedProduct<'_, T> {
    #[inline(always)]
    fn run(&mut self, isa: Isa) {
        let (nr, nk) = (self.nr, self.nk);
        if !(isa != Isa::Portable && x86::dot(self.w, self.h, self.out, nr, nk)) {
            portable::dot(self.w, self.h, self.out, nr, nk);
        }
    }
}

/// `x ← σ(scale·x + bias)` for each column of `out` (columns of `bias.len()` values).
pub(crate) fn scale_bias_sigmoid<T: Float>(out: &mut [T], scale: T, bias: &[T]) {
    struct K<'a, T> {
        out: &'a mut [T],
        scale: T,
        bias: &'a [T],
    }
    impl<T: Float> Kernel for K<'_, T> {
        #[inline(always)]
        fn run(&mut self, _isa: Isa) {
            for col in self.out.chunks_exact_mut(self.bias.len()) {
                for (x, &b) in col.iter_mut().zip(self.bias) {
                    *x = sigmoid(self.scale * *x + b);
                }
            }
        }
    }
    run(&mut K { out, scale, bias });
}

/// `x ← σ(x + bias)`, column by column.
#[inline(always)]
fn add_bias_sigmoid<T: Float>(out: &mut [T], bias: &[T]) {
    for col in out.chunks_exact_mut(bias.len()) {
        for (x, &b) in col.iter_mut().zip(bias) {
            *x = sigmoid(*x + b);
        }
    }
}

/// One term `alpha · H·Vᵀ` of a weight gradient: `h` is `nh × n`, `v` is `nv × n`.
#[derive(Clone, Copy)]
pub(crate) struct Term<'a, T> {
    pub(crate) h: &'a [T],
    pub(crate) v: &'a [T],
    pub(crate) alpha: T,
}

/// `g ← a₀·(H₀·V₀ᵀ) + a₁·(H₁·V₁ᵀ)` (`nh × nv`, column-major), each product summed over its
/// columns in increasing order, then scaled; the second scaled product is added to the first.
pub(crate) fn weight_gradient<T: Float>(
    terms: [Term<'_, T>; 2],
    g: &mut [T],
    nh: usize,
    nv: usize,
) {
    assert!(nh > 0 && nv > 0 && g.len() == nh * nv);
    for t in &terms {
        assert!(t.h.len() % nh == 0 && t.v.len() == t.h.len() / nh * nv);
    }
    run(&mut WeightGradient { terms, g, nh, nv })
}

struct WeightGradient<'a, 'b, T> {
    terms: [Term<'a, T>; 2],
    g: &'b mut [T],
    nh: usize,
    nv: usize,
}

impl<T: Float> Kernel for WeightGradient<'_, '_, T> {
    #[inline(always)]
    fn run(&mut self, isa: Isa) {
        if !(isa != Isa::Portable && x86::gradient(self.terms, self.g, self.nh, self.nv, isa)) {
            portable::gradient(self.terms, self.g, self.nh, self.nv);
        }
    }
}

/// [`BlockRule::step_block`], vectorised like the kernels: `grad_then_new` holds the gradient
/// on entry and the new parameters on return. Returns `false` if any is NaN or infinite.
pub(crate) fn update_block<T: Float>(
    rule: &BlockRule<T>,
    theta: &[T],
    grad_then_new: &mut [T],
    vel: &mut [T],
) -> bool {
    assert!(theta.len() == grad_then_new.len() && theta.len() == vel.len());
    let ok = std::sync::atomic::AtomicBool::new(true);
    crate::parallel::for_each_part_pair(grad_then_new, vel, |start, g, v| {
        let mut k = UpdateBlock {
            rule,
            theta: &theta[start..start + g.len()],
            grad_then_new: g,
            vel: v,
            ok: false,
        };
        run(&mut k);
        if !k.ok {
            ok.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    });
    ok.into_inner()
}

/// [`BlockRule::velocity_block`], vectorised like the kernels and split over threads for large
/// blocks: `vel` receives the new velocity. Returns `false` if any new value θ + vel is NaN or
/// infinite.
pub(crate) fn velocity_block<T: Float>(
    rule: &BlockRule<T>,
    theta: &[T],
    grad: &[T],
    vel: &mut [T],
) -> bool {
    assert!(theta.len() == vel.len() && grad.len() == vel.len());
    let ok = std::sync::atomic::AtomicBool::new(true);
    crate::parallel::for_each_part(vel, theta.len(), |start, v| {
        let n = v.len();
        let mut k = VelocityBlock {
            rule,
            theta: &theta[start..start + n],
            grad: &grad[start..start + n],
            vel: v,
            ok: false,
        };
        run(&mut k);
        if !k.ok {
            ok.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    });
    ok.into_inner()
}

struct VelocityBlock<'a, T> {
    rule: &'a BlockRule<T>,
    theta: &'a [T],
    grad: &'a [T],
    vel: &'a mut [T],
    ok: bool,
}

impl<T: Float> Kernel for VelocityBlock<'_, T> {
    #[inline(always)]
    fn run(&mut self, _isa: Isa) {
        self.ok = self.rule.velocity_block(self.theta, self.grad, self.vel);
    }
}

struct UpdateBlock<'a, T> {
    rule: &'a BlockRule<T>,
    theta: &'a [T],
    grad_then_new: &'a mut [T],
    vel: &'a mut [T],
    ok: bool,
}

impl<T: Float> Kernel for UpdateBlock<'_, T> {
    #[inline(always)]
    fn run(&mut self, _isa: Isa) {
        self.ok = self
            .rule
            .step_block(self.theta, self.grad_then_new, self.vel);
    }
}

/// The portable kernels: the reference for the order of every sum.
mod portable {
    use super::{dot_lanes, Term};
    use crate::Float;

    /// `out[r + c·nr] = Σ_k w[r + k·nr]·x[k + c·nk]`, `k` increasing.
    #[inline(always)]
    pub(super) fn affine<T: Float>(w: &[T], x: &[T], out: &mut [T], nr: usize, nk: usize) {
        const R: usize = 16;
        for (xc, oc) in x.chunks_exact(nk.max(1)).zip(out.chunks_exact_mut(nr)) {
            let mut r0 = 0;
            while r0 < nr {
                let rn = R.min(nr - r0);
                let mut acc = [T::zero(); R];
                for (k, &xv) in xc.iter().enumerate() {
                    let wk = &w[k * nr + r0..][..rn];
                    for (a, &wv) in acc.iter_mut().zip(wk) {
                        *a += wv * xv;
                    }
                }
                oc[r0..r0 + rn].copy_from_slice(&acc[..rn]);
                r0 += rn;
            }
        }
        if nk == 0 {
            out.fill(T::zero());
        }
    }

    /// `out[r + c·nr] = w[:, r] · h[:, c]` (columns of length `nk`) in lanes.
    #[inline(always)]
    pub(super) fn dot<T: Float>(w: &[T], h: &[T], out: &mut [T], nr: usize, nk: usize) {
        if dot_lanes::<T>() == 8 {
            dot_lanes_n::<T, 8>(w, h, out, nr, nk)
        } else {
            dot_lanes_n::<T, 4>(w, h, out, nr, nk)
        }
    }

    #[inline(always)]
    fn dot_lanes_n<T: Float, const L: usize>(
        w: &[T],
        h: &[T],
        out: &mut [T],
        nr: usize,
        nk: usize,
    ) {
        let nc = out.len() / nr;
        for c in 0..nc {
            let hc = &h[c * nk..][..nk];
            for r in 0..nr {
                let wr = &w[r * nk..][..nk];
                let mut acc = [T::zero(); L];
                let (wf, wt) = wr.split_at(nk / L * L);
                let (hf, ht) = hc.split_at(nk / L * L);
                for (wc, hc) in wf.chunks_exact(L).zip(hf.chunks_exact(L)) {
                    for l in 0..L {
                        acc[l] += wc[l] * hc[l];
                    }
                }
                // The last partial group as if padded with zeros, as the vector code does.
                if !wt.is_empty() {
                    for (l, acc) in acc.iter_mut().enumerate() {
                        let a = wt.get(l).copied().unwrap_or(T::zero());
                        let b = ht.get(l).copied().unwrap_or(T::zero());
                        *acc += a * b;
                    }
                }
                out[c * nr + r] = lane_sum(acc);
            }
        }
    }

    /// The sum of `L` lanes (4 or 8), added pairwise: lane `l` with lane `l + L/2`, halving.
    #[inline(always)]
    pub(super) fn lane_sum<T: Float, const L: usize>(a: [T; L]) -> T {
        let mut a = a;
        let mut len = L;
        while len > 1 {
            len /= 2;
            for l in 0..len {
                a[l] += a[l + len];
            }
        }
        a[0]
    }

    /// `g = a₀·(Σ_n h₀[:, n]·v₀[:, n]ᵀ) + a₁·(Σ_n h₁[:, n]·v₁[:, n]ᵀ)`, `n` increasing.
    #[inline(always)]
    pub(super) fn gradient<T: Float>(terms: [Term<'_, T>; 2], g: &mut [T], nh: usize, nv: usize) {
        const R: usize = 16;
        for (i, gc) in g.chunks_exact_mut(nh).enumerate() {
            let mut r0 = 0;
            while r0 < nh {
                let rn = R.min(nh - r0);
                let mut sums = [[T::zero(); R]; 2];
                for (t, acc) in terms.iter().zip(sums.iter_mut()) {
                    let hs = t.h.chunks_exact(nh);
                    let vs = t.v.chunks_exact(nv);
                    for (hn, vn) in hs.zip(vs) {
                        let x = vn[i];
                        for (a, &hv) in acc.iter_mut().zip(&hn[r0..r0 + rn]) {
                            *a += hv * x;
                        }
                    }
                }
                let (a0, a1) = (terms[0].alpha, terms[1].alpha);
                for (l, out) in gc[r0..r0 + rn].iter_mut().enumerate() {
                    *out = a0 * sums[0][l] + a1 * sums[1][l];
                }
                r0 += rn;
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::{Isa, Term};
    pub(super) fn affine<T>(_: &[T], _: &[T], _: &mut [T], _: usize, _: usize, _: Isa) -> bool {
        false
    }
    pub(super) fn dot<T>(_: &[T], _: &[T], _: &mut [T], _: usize, _: usize) -> bool {
        false
    }
    pub(super) fn gradient<T>(
        _: [Term<'_, T>; 2],
        _: &mut [T],
        _: usize,
        _: usize,
        _: Isa,
    ) -> bool {
        false
    }
}

/// The AVX2 kernels. The entry points return `false` (doing nothing) for a scalar type without
/// a vector form; they may only be called from the AVX2 build of a [`Kernel`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // register blocks read best with explicit indices
mod x86 {
    use super::{cast, cast_mut, cast_value, Isa, Term};
    use crate::Float;
    use std::arch::x86_64::*;

    /// One vector register of elements `E`: a 256-bit AVX2 register (implemented by the scalar
    /// types themselves) or a 512-bit AVX-512 one ([`Z32`], [`Z64`]).
    trait Simd: Copy + 'static {
        type E: Copy + 'static;
        type V: Copy;
        /// A mask of lanes.
        type M: Copy;
        const L: usize;
        unsafe fn zero() -> Self::V;
        unsafe fn splat(x: Self::E) -> Self::V;
        unsafe fn load(p: *const Self::E) -> Self::V;
        unsafe fn store(p: *mut Self::E, v: Self::V);
        /// A mask of the first `n` lanes (`n < L`).
        unsafe fn mask(n: usize) -> Self::M;
        unsafe fn load_part(p: *const Self::E, m: Self::M) -> Self::V;
        unsafe fn store_part(p: *mut Self::E, m: Self::M, v: Self::V);
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    }

    /// The 256-bit registers, whose lanes the dot-product kernel sums.
    trait Lanes: Simd<E = Self> {
        /// The lanes added pairwise, lane `l` with lane `l + L/2`, halving (as
        /// `portable::lane_sum`).
        unsafe fn lane_sum(v: Self::V) -> Self;
        /// The 512-bit register of the same scalar type.
        type Z: Simd<E = Self>;
    }

    /// 16 `f32` lanes of an AVX-512 register.
    #[derive(Clone, Copy)]
    struct Z32;
    /// 8 `f64` lanes of an AVX-512 register.
    #[derive(Clone, Copy)]
    struct Z64;

    static MASK32: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    static MASK64: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];

    impl Simd for f32 {
        type E = f32;
        type V = __m256;
        type M = __m256i;
        const L: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> __m256i {
            _mm256_loadu_si256(MASK32.as_ptr().add(8 - n) as *const __m256i)
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, m: __m256i) -> __m256 {
            _mm256_maskload_ps(p, m)
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, m: __m256i, v: __m256) {
            _mm256_maskstore_ps(p, m, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
    }

    impl Simd for f64 {
        type E = f64;
        type V = __m256d;
        type M = __m256i;
        const L: usize = 4;
        #[inline(always)]
        unsafe fn zero() -> __m256d {
            _mm256_setzero_pd()
        }
        #[inline(always)]
        unsafe fn splat(x: f64) -> __m256d {
            _mm256_set1_pd(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> __m256d {
            _mm256_loadu_pd(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f64, v: __m256d) {
            _mm256_storeu_pd(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> __m256i {
            _mm256_loadu_si256(MASK64.as_ptr().add(4 - n) as *const __m256i)
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f64, m: __m256i) -> __m256d {
            _mm256_maskload_pd(p, m)
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f64, m: __m256i, v: __m256d) {
            _mm256_maskstore_pd(p, m, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
            _mm256_add_pd(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
            _mm256_mul_pd(a, b)
        }
    }

    impl Lanes for f32 {
        type Z = Z32;
        #[inline(always)]
        unsafe fn lane_sum(v: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let u = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)))
        }
    }

    impl Lanes for f64 {
        type Z = Z64;
        #[inline(always)]
        unsafe fn lane_sum(v: __m256d) -> f64 {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }

    impl Simd for Z32 {
        type E = f32;
        type V = __m512;
        type M = __mmask16;
        const L: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> __mmask16 {
            ((1u32 << n) - 1) as __mmask16
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, m: __mmask16) -> __m512 {
            _mm512_maskz_loadu_ps(m, p)
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, m: __mmask16, v: __m512) {
            _mm512_mask_storeu_ps(p, m, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            _mm512_mul_ps(a, b)
        }
    }

    impl Simd for Z64 {
        type E = f64;
        type V = __m512d;
        type M = __mmask8;
        const L: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m512d {
            _mm512_setzero_pd()
        }
        #[inline(always)]
        unsafe fn splat(x: f64) -> __m512d {
            _mm512_set1_pd(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> __m512d {
            _mm512_loadu_pd(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f64, v: __m512d) {
            _mm512_storeu_pd(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> __mmask8 {
            ((1u32 << n) - 1) as __mmask8
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f64, m: __mmask8) -> __m512d {
            _mm512_maskz_loadu_pd(m, p)
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f64, m: __mmask8, v: __m512d) {
            _mm512_mask_storeu_pd(p, m, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
            _mm512_add_pd(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
            _mm512_mul_pd(a, b)
        }
    }

    /// Calls `$f::<f32>` or `$f::<f64>` with the slices cast, or evaluates to `false`.
    macro_rules! by_type {
        ($f:ident, $T:ty, ($($s:ident),*), ($($m:ident),*), ($($rest:expr),*)) => {{
            if let ($(Some($s),)* $(Some($m),)*) = ($(cast::<$T, f32>($s),)* $(cast_mut::<$T, f32>($m),)*) {
                // SAFETY: only called from the AVX2 build of a kernel.
                unsafe { $f::<f32>($($s,)* $($m,)* $($rest),*) };
                true
            } else if let ($(Some($s),)* $(Some($m),)*) = ($(cast::<$T, f64>($s),)* $(cast_mut::<$T, f64>($m),)*) {
                // SAFETY: as above.
                unsafe { $f::<f64>($($s,)* $($m,)* $($rest),*) };
                true
            } else {
                false
            }
        }};
    }

    #[inline(always)]
    pub(super) fn affine<T: Float>(
        w: &[T],
        x: &[T],
        out: &mut [T],
        nr: usize,
        nk: usize,
        isa: Isa,
    ) -> bool {
        by_type!(affine_any, T, (w, x), (out), (nr, nk, isa))
    }

    #[inline(always)]
    pub(super) fn dot<T: Float>(w: &[T], h: &[T], out: &mut [T], nr: usize, nk: usize) -> bool {
        by_type!(dot_impl, T, (w, h), (out), (nr, nk))
    }

    #[inline(always)]
    pub(super) fn gradient<T: Float>(
        terms: [Term<'_, T>; 2],
        g: &mut [T],
        nh: usize,
        nv: usize,
        isa: Isa,
    ) -> bool {
        fn term<'a, T: 'static + Copy, U: 'static + Copy>(t: &Term<'a, T>) -> Option<Term<'a, U>> {
            Some(Term {
                h: cast(t.h)?,
                v: cast(t.v)?,
                alpha: cast_value(t.alpha)?,
            })
        }
        if let (Some(t0), Some(t1), Some(g)) = (term(&terms[0]), term(&terms[1]), cast_mut(g)) {
            // SAFETY: only called from the AVX2 build of a kernel.
            unsafe { gradient_any::<f32>([t0, t1], g, nh, nv, isa) };
            true
        } else if let (Some(t0), Some(t1), Some(g)) =
            (term(&terms[0]), term(&terms[1]), cast_mut(g))
        {
            // SAFETY: as above.
            unsafe { gradient_any::<f64>([t0, t1], g, nh, nv, isa) };
            true
        } else {
            false
        }
    }

    /// Sums `acc[c][v] = Σ_k a[k·lda + v·L ..][..L] · b[k·bk + c·bc]` over `k < nk`; with
    /// `PART`, the last of the `V` vectors is loaded under `mask`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn axpy<S: Simd, const V: usize, const C: usize, const PART: bool>(
        a: *const S::E,
        lda: usize,
        b: *const S::E,
        bk: usize,
        bc: usize,
        nk: usize,
        mask: S::M,
    ) -> [[S::V; V]; C] {
        let mut acc = [[S::zero(); V]; C];
        for k in 0..nk {
            let ak = a.add(k * lda);
            let mut av = [S::zero(); V];
            for (v, av) in av.iter_mut().enumerate() {
                *av = if PART && v + 1 == V {
                    S::load_part(ak.add(v * S::L), mask)
                } else {
                    S::load(ak.add(v * S::L))
                };
            }
            let bp = b.add(k * bk);
            for (c, acc) in acc.iter_mut().enumerate() {
                let x = S::splat(*bp.add(c * bc));
                for v in 0..V {
                    acc[v] = S::add(acc[v], S::mul(av[v], x));
                }
            }
        }
        acc
    }

    /// Stores `acc[c][v]` at `out[c·ldo + v·L ..]`, the last vector under `mask` with `PART`.
    #[inline(always)]
    unsafe fn store_block<S: Simd, const V: usize, const C: usize, const PART: bool>(
        out: *mut S::E,
        ldo: usize,
        acc: &[[S::V; V]; C],
        mask: S::M,
    ) {
        for (c, acc) in acc.iter().enumerate() {
            for (v, &x) in acc.iter().enumerate() {
                let p = out.add(c * ldo + v * S::L);
                if PART && v + 1 == V {
                    S::store_part(p, mask, x)
                } else {
                    S::store(p, x)
                }
            }
        }
    }

    /// Columns per group in the axpy kernels (12 accumulators of two vectors each... of one
    /// register each: two vectors × 6 columns).
    const AXPY_COLUMNS: usize = 6;

    /// Runs `$body` with `const C` bound to the size of the column group (1 to 6).
    macro_rules! with_columns {
        ($n:expr, $C:ident, $body:block) => {
            match $n {
                6 => {
                    const $C: usize = 6;
                    $body
                }
                5 => {
                    const $C: usize = 5;
                    $body
                }
                4 => {
                    const $C: usize = 4;
                    $body
                }
                3 => {
                    const $C: usize = 3;
                    $body
                }
                2 => {
                    const $C: usize = 2;
                    $body
                }
                1 => {
                    const $C: usize = 1;
                    $body
                }
                _ => unreachable!(),
            }
        };
    }

    /// `affine` on 256-bit registers, or on 512-bit ones in the AVX-512 build (the axpy
    /// kernels: every lane its own sum, so the same bits at any width).
    unsafe fn affine_any<S: Lanes>(
        w: &[S],
        x: &[S],
        out: &mut [S],
        nr: usize,
        nk: usize,
        isa: Isa,
    ) {
        if isa == Isa::Avx512 {
            affine_512::<S::Z>(w, x, out, nr, nk)
        } else {
            affine_256::<S>(w, x, out, nr, nk)
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn affine_256<S: Simd>(w: &[S::E], x: &[S::E], out: &mut [S::E], nr: usize, nk: usize) {
        affine_impl::<S>(w, x, out, nr, nk)
    }

    #[target_feature(enable = "avx2,avx512f")]
    unsafe fn affine_512<S: Simd>(w: &[S::E], x: &[S::E], out: &mut [S::E], nr: usize, nk: usize) {
        affine_impl::<S>(w, x, out, nr, nk)
    }

    #[inline(always)]
    unsafe fn affine_impl<S: Simd>(w: &[S::E], x: &[S::E], out: &mut [S::E], nr: usize, nk: usize) {
        let nc = out.len() / nr;
        let (w, x, o) = (w.as_ptr(), x.as_ptr(), out.as_mut_ptr());
        let l = S::L;
        let tail = S::mask((nr % l).max(1));
        let mut c0 = 0;
        while c0 < nc {
            let cn = AXPY_COLUMNS.min(nc - c0);
            with_columns!(cn, C, {
                let xb = x.add(c0 * nk);
                let ob = o.add(c0 * nr);
                let mut r0 = 0;
                while r0 + 2 * l <= nr {
                    let acc = axpy::<S, 2, C, false>(w.add(r0), nr, xb, 1, nk, nk, tail);
                    store_block::<S, 2, C, false>(ob.add(r0), nr, &acc, tail);
                    r0 += 2 * l;
                }
                if r0 + l <= nr {
                    let acc = axpy::<S, 1, C, false>(w.add(r0), nr, xb, 1, nk, nk, tail);
                    store_block::<S, 1, C, false>(ob.add(r0), nr, &acc, tail);
                    r0 += l;
                }
                if r0 < nr {
                    let acc = axpy::<S, 1, C, true>(w.add(r0), nr, xb, 1, nk, nk, tail);
                    store_block::<S, 1, C, true>(ob.add(r0), nr, &acc, tail);
                }
            });
            c0 += cn;
        }
    }

    /// `gradient` on 256-bit registers, or on 512-bit ones in the AVX-512 build.
    unsafe fn gradient_any<S: Lanes>(
        terms: [Term<'_, S>; 2],
        g: &mut [S],
        nh: usize,
        nv: usize,
        isa: Isa,
    ) {
        if isa == Isa::Avx512 {
            gradient_512::<S::Z>(terms, g, nh, nv)
        } else {
            gradient_256::<S>(terms, g, nh, nv)
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn gradient_256<S: Simd>(
        terms: [Term<'_, S::E>; 2],
        g: &mut [S::E],
        nh: usize,
        nv: usize,
    ) {
        gradient_impl::<S>(terms, g, nh, nv)
    }

    #[target_feature(enable = "avx2,avx512f")]
    unsafe fn gradient_512<S: Simd>(
        terms: [Term<'_, S::E>; 2],
        g: &mut [S::E],
        nh: usize,
        nv: usize,
    ) {
        gradient_impl::<S>(terms, g, nh, nv)
    }

    #[inline(always)]
    unsafe fn gradient_impl<S: Simd>(
        terms: [Term<'_, S::E>; 2],
        g: &mut [S::E],
        nh: usize,
        nv: usize,
    ) {
        let l = S::L;
        let tail = S::mask((nh % l).max(1));
        let go = g.as_mut_ptr();
        let mut i0 = 0;
        while i0 < nv {
            let cn = AXPY_COLUMNS.min(nv - i0);
            with_columns!(cn, C, {
                let mut r0 = 0;
                while r0 < nh {
                    let ob = go.add(i0 * nh + r0);
                    macro_rules! block {
                        ($V:literal, $PART:literal) => {{
                            let [t0, t1] = &terms;
                            let (h0, v0, n0) = (t0.h.as_ptr(), t0.v.as_ptr(), t0.h.len() / nh);
                            let (h1, v1, n1) = (t1.h.as_ptr(), t1.v.as_ptr(), t1.h.len() / nh);
                            let mut sum = axpy::<S, $V, C, $PART>(
                                h0.add(r0),
                                nh,
                                v0.add(i0),
                                nv,
                                1,
                                n0,
                                tail,
                            );
                            let acc = axpy::<S, $V, C, $PART>(
                                h1.add(r0),
                                nh,
                                v1.add(i0),
                                nv,
                                1,
                                n1,
                                tail,
                            );
                            let (a0, a1) = (S::splat(t0.alpha), S::splat(t1.alpha));
                            for c in 0..C {
                                for v in 0..$V {
                                    sum[c][v] =
                                        S::add(S::mul(a0, sum[c][v]), S::mul(a1, acc[c][v]));
                                }
                            }
                            store_block::<S, $V, C, $PART>(ob, nh, &sum, tail);
                        }};
                    }
                    if r0 + 2 * l <= nh {
                        block!(2, false);
                        r0 += 2 * l;
                    } else if r0 + l <= nh {
                        block!(1, false);
                        r0 += l;
                    } else {
                        block!(1, true);
                        r0 = nh;
                    }
                }
            });
            i0 += cn;
        }
    }

    /// Columns of `W` (outputs) per block of the dot-product kernel.
    const DOT_ROWS: usize = 4;
    /// Columns of `h` per block of the dot-product kernel.
    const DOT_COLUMNS: usize = 2;

    #[inline(always)]
    unsafe fn dot_block<S: Lanes, const R: usize, const C: usize>(
        w: *const S,
        h: *const S,
        nk: usize,
        out: *mut S,
        nr: usize,
        tail: S::M,
    ) {
        let l = S::L;
        let full = nk / l * l;
        let mut acc = [[S::zero(); C]; R];
        let mut k = 0;
        while k < full {
            let mut wv = [S::zero(); R];
            for (r, wv) in wv.iter_mut().enumerate() {
                *wv = S::load(w.add(r * nk + k));
            }
            for c in 0..C {
                let hv = S::load(h.add(c * nk + k));
                for r in 0..R {
                    acc[r][c] = S::add(acc[r][c], S::mul(wv[r], hv));
                }
            }
            k += l;
        }
        if full < nk {
            let mut wv = [S::zero(); R];
            for (r, wv) in wv.iter_mut().enumerate() {
                *wv = S::load_part(w.add(r * nk + k), tail);
            }
            for c in 0..C {
                let hv = S::load_part(h.add(c * nk + k), tail);
                for r in 0..R {
                    acc[r][c] = S::add(acc[r][c], S::mul(wv[r], hv));
                }
            }
        }
        for c in 0..C {
            for (r, acc) in acc.iter().enumerate() {
                *out.add(c * nr + r) = S::lane_sum(acc[c]);
            }
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn dot_impl<S: Lanes>(w: &[S], h: &[S], out: &mut [S], nr: usize, nk: usize) {
        let nc = out.len() / nr;
        let tail = S::mask((nk % S::L).max(1));
        let (w, h, o) = (w.as_ptr(), h.as_ptr(), out.as_mut_ptr());
        let mut c0 = 0;
        while c0 < nc {
            let two = c0 + DOT_COLUMNS <= nc;
            let mut r0 = 0;
            while r0 < nr {
                let (wb, hb, ob) = (w.add(r0 * nk), h.add(c0 * nk), o.add(c0 * nr + r0));
                match (nr - r0 >= DOT_ROWS, two) {
                    (true, true) => dot_block::<S, DOT_ROWS, DOT_COLUMNS>(wb, hb, nk, ob, nr, tail),
                    (true, false) => dot_block::<S, DOT_ROWS, 1>(wb, hb, nk, ob, nr, tail),
                    (false, true) => dot_block::<S, 1, DOT_COLUMNS>(wb, hb, nk, ob, nr, tail),
                    (false, false) => dot_block::<S, 1, 1>(wb, hb, nk, ob, nr, tail),
                }
                r0 += if nr - r0 >= DOT_ROWS { DOT_ROWS } else { 1 };
            }
            c0 += if two { DOT_COLUMNS } else { 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f64 / 500.0 - 1.0) * 0.7)
            .collect()
    }

    fn affine_ref(w: &[f64], bias: &[f64], x: &[f64], nr: usize, nk: usize) -> Vec<f64> {
        let nc = x.len() / nk;
        let mut out = vec![0.0; nr * nc];
        for n in 0..nc {
            for r in 0..nr {
                let s: f64 = (0..nk).map(|k| w[r + k * nr] * x[k + n * nk]).sum();
                out[r + n * nr] = 1.0 / (1.0 + (-(s + bias[r])).exp());
            }
        }
        out
    }

    const SIZES: [(usize, usize, usize); 8] = [
        (1, 1, 1),
        (3, 5, 2),
        (17, 9, 7),
        (100, 64, 10),
        (64, 100, 11),
        (21, 33, 4),
        (8, 16, 13),
        (37, 3, 20),
    ];

    /// The builds this processor can run: the portable one, and AVX2 and AVX-512 where it has
    /// them.
    fn levels() -> Vec<Isa> {
        tests_levels()
    }

    /// Every kernel against a plain reference, and every build this processor has against the
    /// one `run` chooses, bit for bit.
    fn check<T: Float>(tol: f64) {
        let to = |v: &[f64]| v.iter().map(|&x| T::of_f64(x)).collect::<Vec<T>>();
        for &(nr, nk, nc) in &SIZES {
            let w = to(&values(nr * nk, 1));
            let bias = to(&values(nr, 2));
            let x = to(&values(nk * nc, 3));
            let back = |v: &[T]| v.iter().map(|x| x.as_f64()).collect::<Vec<f64>>();
            let want = affine_ref(&back(&w), &back(&bias), &back(&x), nr, nk);
            let mut out = vec![T::zero(); nr * nc];
            affine_sigmoid(&w, &bias, &x, &mut out, nr, nk);
            for (a, b) in out.iter().zip(&want) {
                assert!((a.as_f64() - b).abs() < tol, "affine {nr}x{nk}x{nc}");
            }
            for isa in levels() {
                let mut each = vec![T::zero(); nr * nc];
                let mut k = AffineSigmoid {
                    w: &w,
                    bias: &bias,
                    x: &x,
                    out: &mut each,
                    nr,
                    nk,
                };
                run_as(&mut k, isa);
                assert_eq!(out, each, "affine {nr}x{nk}x{nc}: {isa:?} build");
            }

            // Wᵀ: column r of `wt` (length nk) is row r of W.
            let wt: Vec<T> = (0..nk * nr).map(|i| w[(i % nk) * nr + i / nk]).collect();
            let mut out = vec![T::zero(); nr * nc];
            transposed_affine_sigmoid(&wt, &bias, &x, &mut out, nr, nk);
            for (a, b) in out.iter().zip(&want) {
                assert!((a.as_f64() - b).abs() < tol, "transposed {nr}x{nk}x{nc}");
            }
            for isa in levels() {
                let mut each = vec![T::zero(); nr * nc];
                let mut k = TransposedAffineSigmoid {
                    w: &wt,
                    bias: &bias,
                    h: &x,
                    out: &mut each,
                    nr,
                    nk,
                };
                run_as(&mut k, isa);
                assert_eq!(out, each, "transposed {nr}x{nk}x{nc}: {isa:?} build");
            }

            // gradient: nh = nr, nv = nk, two terms of nc and nc + 3 columns
            let (nh, nv) = (nr, nk);
            let h0 = to(&values(nh * nc, 4));
            let v0 = to(&values(nv * nc, 5));
            let h1 = to(&values(nh * (nc + 3), 6));
            let v1 = to(&values(nv * (nc + 3), 7));
            let (a0, a1) = (T::of_f64(-0.1), T::of_f64(1.0 / 3.0));
            let terms = [
                Term {
                    h: &h0,
                    v: &v0,
                    alpha: a0,
                },
                Term {
                    h: &h1,
                    v: &v1,
                    alpha: a1,
                },
            ];
            let mut g = vec![T::zero(); nh * nv];
            weight_gradient(terms, &mut g, nh, nv);
            for i in 0..nv {
                for r in 0..nh {
                    let s0: f64 = (0..nc)
                        .map(|n| h0[r + n * nh].as_f64() * v0[i + n * nv].as_f64())
                        .sum();
                    let s1: f64 = (0..nc + 3)
                        .map(|n| h1[r + n * nh].as_f64() * v1[i + n * nv].as_f64())
                        .sum();
                    let want = a0.as_f64() * s0 + a1.as_f64() * s1;
                    assert!((g[r + i * nh].as_f64() - want).abs() < tol, "gradient");
                }
            }
            for isa in levels() {
                let mut each = vec![T::zero(); nh * nv];
                let mut k = WeightGradient {
                    terms,
                    g: &mut each,
                    nh,
                    nv,
                };
                run_as(&mut k, isa);
                assert_eq!(g, each, "gradient {nh}x{nv}: {isa:?} build");
            }
        }
    }

    #[test]
    fn kernels_match_a_reference_and_their_portable_form() {
        check::<f64>(1e-13);
        check::<f32>(1e-5);
    }
}

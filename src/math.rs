//! Numerically stable scalar functions and the matrix helpers the models share.
//!
//! All functions are finite for every finite input, including |x| = 1e4 in `f32`.

use crate::Float;
use nalgebra::storage::RawStorage;
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector, Dim, Dyn, Matrix, ViewStorage};

/// The logistic sigmoid σ(x) = 1 / (1 + e^(−x)), computed without overflow.
///
/// Uses e = exp(−|x|) ≤ 1, then 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, so that neither branch
/// overflows and small results keep their relative precision.
///
/// ```
/// use rbms::math::sigmoid;
/// assert_eq!(sigmoid(0.0f64), 0.5);
/// assert_eq!(sigmoid(1e4f32), 1.0);
/// assert_eq!(sigmoid(-1e4f32), 0.0);
/// ```
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    let one = T::one();
    let e = (-x.abs()).exp_nonpositive();
    let num = if x >= T::zero() { one } else { e };
    num / (one + e)
}

/// softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^(−|x|)).
///
/// ```
/// use rbms::math::softplus;
/// assert!((softplus(0.0f64) - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(softplus(1e4f32), 1e4);
/// assert_eq!(softplus(-1e4f64), 0.0);
/// ```
#[inline]
pub fn softplus<T: Float>(x: T) -> T {
    let zero = T::zero();
    let m = if x > zero { x } else { zero };
    m + (-x.abs()).exp_nonpositive().ln_1p_unit()
}

/// log σ(x) = −softplus(−x), finite for every finite x.
///
/// ```
/// use rbms::math::log_sigmoid;
/// assert_eq!(log_sigmoid(-1e4f64), -1e4);
/// assert!((log_sigmoid(0.0f64) + 2f64.ln()).abs() < 1e-15);
/// ```
#[inline]
pub fn log_sigmoid<T: Float>(x: T) -> T {
    -softplus(-x)
}

/// log(p / (1 − p)) with p first clipped to `[eps, 1 − eps]`, so that a probability of exactly
/// 0 or 1 gives a large finite value instead of ±∞ (as Hinton's practical guide advises for
/// initialising visible biases from data).
///
/// ```
/// use rbms::math::logit_clipped;
/// assert_eq!(logit_clipped(0.5f64, 1e-3), 0.0);
/// assert!((logit_clipped(0.0f64, 1e-3) - (1e-3f64 / (1.0 - 1e-3)).ln()).abs() < 1e-12);
/// ```
#[inline]
pub fn logit_clipped<T: Float>(p: T, eps: T) -> T {
    let one = T::one();
    let p = if p < eps {
        eps
    } else if p > one - eps {
        one - eps
    } else {
        p
    };
    (p / (one - p)).ln()
}

/// log Σ exp(xᵢ), with the maximum subtracted first. Returns −∞ for an empty slice.
///
/// ```
/// use rbms::math::log_sum_exp;
/// let v = [1000.0f64, 1000.0];
/// assert!((log_sum_exp(&v) - (1000.0 + 2f64.ln())).abs() < 1e-12);
/// ```
pub fn log_sum_exp<T: Float>(xs: &[T]) -> T {
    let mut m = T::min_value().unwrap_or_else(|| T::of_f64(f64::MIN));
    if xs.is_empty() {
        return T::of_f64(f64::NEG_INFINITY);
    }
    for &x in xs {
        if x > m {
            m = x;
        }
    }
    if !m.finite() {
        return m;
    }
    let mut s = T::zero();
    for &x in xs {
        s += (x - m).exp();
    }
    m + s.ln()
}

/// Σⱼ softplus(xⱼ + δ·wⱼ) over the common length of `x` and `w`.
///
/// Evaluates the softplus terms chunk by chunk into a stack buffer (a map loop, which the
/// compiler vectorises), then sums each chunk in eight lanes (a single running sum would
/// serialise on the additions).
#[inline]
pub fn sum_softplus_shifted<T: Float>(x: &[T], w: &[T], delta: T) -> T {
    const CHUNK: usize = 64;
    const LANES: usize = 8;
    let mut buf = [T::zero(); CHUNK];
    let mut acc = [T::zero(); LANES];
    for (xs, ws) in x.chunks(CHUNK).zip(w.chunks(CHUNK)) {
        let len = xs.len().min(ws.len());
        let out = &mut buf[..len];
        for ((o, &xj), &wj) in out.iter_mut().zip(xs).zip(ws) {
            *o = softplus(xj + delta * wj);
        }
        let lanes = out.chunks_exact(LANES);
        for &r in lanes.remainder() {
            acc[0] += r;
        }
        for c in lanes {
            for l in 0..LANES {
                acc[l] += c[l];
            }
        }
    }
    acc.iter().fold(T::zero(), |a, &b| a + b)
}

/// Applies [`sigmoid`] to every element.
#[inline]
pub fn sigmoid_in_place<T: Float>(xs: &mut [T]) {
    for x in xs {
        *x = sigmoid(*x);
    }
}

/// out ← beta·out + scale·(row sums of m).
pub(crate) fn row_sums_into<T: Float>(
    m: &DMatrixView<'_, T>,
    scale: T,
    beta: T,
    out: &mut DVector<T>,
) {
    if beta == T::zero() {
        out.fill(T::zero());
    } else if beta != T::one() {
        *out *= beta;
    }
    let o = out.as_mut_slice();
    for col in m.column_iter() {
        for (acc, &x) in o.iter_mut().zip(col.as_slice()) {
            *acc += scale * x;
        }
    }
}

/// Mean of (aᵢ − bᵢ)² in `f64` (0 for empty slices).
pub(crate) fn mean_squared_difference<T: Float>(a: &[T], b: &[T]) -> f64 {
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = (x - y).as_f64();
            d * d
        })
        .sum();
    sum / a.len().max(1) as f64
}

/// Dimensions up to which nalgebra's `gemm` takes its own small-matrix path, which assumes
/// unit row strides and so must not be given a transposed view.
const SMALL_DIM: usize = 5;

/// `out ← alpha·aᵀ·b + beta·out`, through the fast matrix-multiply kernels (a transposed view
/// of `a`, no copy) when every dimension is large enough for them, and through a copied
/// transpose otherwise.
pub(crate) fn gemm_at_b<T: Float>(
    out: &mut DMatrixViewMut<'_, T>,
    alpha: T,
    a: &DMatrixView<'_, T>,
    b: &DMatrixView<'_, T>,
    beta: T,
) {
    park_for(out.nrows(), a.nrows(), out.ncols());
    if [out.nrows(), out.ncols(), a.nrows(), a.ncols(), b.ncols()]
        .iter()
        .all(|&d| d > SMALL_DIM)
    {
        out.gemm(alpha, &transpose_view(a), b, beta);
    } else {
        out.gemm(alpha, &a.transpose(), b, beta);
    }
}

/// `out ← alpha·a·bᵀ + beta·out`, like [`gemm_at_b`].
pub(crate) fn gemm_a_bt<T: Float>(
    out: &mut DMatrixViewMut<'_, T>,
    alpha: T,
    a: &DMatrixView<'_, T>,
    b: &DMatrixView<'_, T>,
    beta: T,
) {
    park_for(out.nrows(), a.ncols(), out.ncols());
    if [out.nrows(), out.ncols(), a.nrows(), a.ncols(), b.nrows()]
        .iter()
        .all(|&d| d > SMALL_DIM)
    {
        out.gemm(alpha, a, &transpose_view(b), beta);
    } else {
        out.gemm(alpha, a, &b.transpose(), beta);
    }
}

/// `out ← w·x`: through the sparse product of [`crate::sparse`] when `x` is mostly zeros
/// (binary or sparse data, sampled binary states) and the product is large, through `gemm`
/// otherwise.
pub(crate) fn weights_times<T: Float>(
    w: &DMatrix<T>,
    x: &DMatrixView<'_, T>,
    out: &mut DMatrixViewMut<'_, T>,
) {
    let (nr, nk) = w.shape();
    let sparse_x = crate::sparse::worth_it(nr, nk, x.ncols())
        .then(|| crate::kernels::contiguous(x))
        .flatten()
        .filter(|xs| crate::sparse::sparse_enough(xs));
    if let Some(xs) = sparse_x {
        if let Some(o) = crate::kernels::contiguous_mut(out) {
            crate::sparse::sparse_product(w.as_slice(), xs, o, nr, nk);
            return;
        }
    }
    park_for(nr, nk, x.ncols());
    out.gemm(T::one(), w, x, T::zero());
}

/// Before an `m × k` by `k × n` product through `gemm`: parks the team's helpers when the
/// product is large enough for matrixmultiply to run it on several threads (its rule:
/// `m·k + k·n ≥ 2¹⁵`), so that its threads have the cores.
pub(crate) fn park_for(m: usize, k: usize, n: usize) {
    if m.saturating_mul(k).saturating_add(k.saturating_mul(n)) >= 1 << 15 {
        crate::parallel::park_helpers();
    }
}

/// `dst ← srcᵀ` for `src` `rows × cols` and `dst` `cols × rows`, both column-major; over parts
/// of `dst`'s columns in parallel with `threading`.
///
/// A cache line of `dst` at a time: a run of [`transpose_run`] consecutive `dst` values comes
/// from as many columns of `src`, each read from end to end.
pub(crate) fn transpose_into<T: Float>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    assert!(src.len() == rows * cols && dst.len() == rows * cols);
    if rows == 0 || cols == 0 {
        return;
    }
    // Column `i` of `dst` is row `i` of `src`.
    crate::parallel::for_each_column_part(dst, cols, |first, part| {
        let n = part.len() / cols;
        let run = transpose_run::<T>();
        let mut j0 = 0;
        while j0 < cols {
            let width = run.min(cols - j0);
            let columns = |q: usize| &src[first + (j0 + q) * rows..first + (j0 + q) * rows + n];
            if width == run && run == 16 {
                let c: [&[T]; 16] = std::array::from_fn(columns);
                for (i, d) in part.chunks_exact_mut(cols).enumerate() {
                    let d = &mut d[j0..j0 + 16];
                    for q in 0..16 {
                        d[q] = c[q][i];
                    }
                }
            } else if width == run && run == 8 {
                let c: [&[T]; 8] = std::array::from_fn(columns);
                for (i, d) in part.chunks_exact_mut(cols).enumerate() {
                    let d = &mut d[j0..j0 + 8];
                    for q in 0..8 {
                        d[q] = c[q][i];
                    }
                }
            } else {
                for q in 0..width {
                    for (i, &x) in columns(q).iter().enumerate() {
                        part[j0 + q + i * cols] = x;
                    }
                }
            }
            j0 += width;
        }
    });
}

/// Values of `T` per 64-byte cache line: 16 for `f32`, 8 for `f64`.
fn transpose_run<T>() -> usize {
    64 / std::mem::size_of::<T>()
}

/// A transposed view of a matrix view, without copying: the strides are swapped.
///
/// nalgebra's `tr_mul`/`gemm_tr` do not reach the fast matrix-multiply kernels; `gemm` with a
/// view like this one does (the strides are passed through), so hot paths use it.
fn transpose_view<'a, T: Float, RS: Dim, CS: Dim>(
    m: &Matrix<T, Dyn, Dyn, ViewStorage<'a, T, Dyn, Dyn, RS, CS>>,
) -> DMatrixView<'a, T, Dyn, Dyn> {
    let (rows, cols) = m.shape();
    let (rs, cs) = m.strides();
    // SAFETY: the new view addresses exactly the elements of `m` (element (j, i) of the result
    // is element (i, j) of `m`), through the same pointer, for the same lifetime 'a.
    let storage = unsafe {
        ViewStorage::from_raw_parts(m.data.ptr(), (Dyn(cols), Dyn(rows)), (Dyn(cs), Dyn(rs)))
    };
    Matrix::from_data(storage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn sigmoid_and_softplus_extremes_f32_f64() {
        for &x in &[1e4f64, -1e4, 50.0, -50.0, 0.0] {
            let s64 = sigmoid(x);
            let s32 = sigmoid(x as f32);
            assert!(s64.is_finite() && s32.is_finite());
            assert!((0.0..=1.0).contains(&s64));
            let sp = softplus(x);
            assert!(sp.is_finite() && softplus(x as f32).is_finite());
            // softplus(x) - softplus(-x) = x
            assert!((sp - softplus(-x) - x).abs() <= 1e-12 * x.abs().max(1.0));
        }
        // relative precision in the tail: sigmoid(-30) = e^-30 / (1 + e^-30)
        let expect = (-30f64).exp() / (1.0 + (-30f64).exp());
        assert!((sigmoid(-30f64) - expect).abs() / expect < 1e-14);
        assert!((softplus(-30f64) - (-30f64).exp()).abs() / (-30f64).exp() < 1e-12);
        assert_eq!(softplus(1e4f32), 1e4f32);
        assert_eq!(log_sigmoid(-1e4f32), -1e4f32);
    }

    #[test]
    fn transposed_view_matches_transpose() {
        let m = nalgebra::DMatrix::<f64>::from_fn(3, 4, |i, j| (i * 10 + j) as f64);
        let view: nalgebra::DMatrixView<'_, f64> = m.as_view();
        let t = transpose_view(&view);
        assert_eq!(t.into_owned(), m.transpose());
        // first two columns only (a column block of a larger buffer)
        let t2 = transpose_view(&m.columns(0, 2));
        assert_eq!(t2.into_owned(), m.columns(0, 2).transpose());
    }

    #[test]
    fn transposed_products_agree_small_and_large() {
        // Sizes on both sides of nalgebra's small-matrix threshold, including a column block
        // of a larger buffer (as minibatch views are).
        for &(m, k, n) in &[(3usize, 2usize, 4usize), (7, 9, 8), (20, 3, 11), (8, 8, 2)] {
            let a = DMatrix::<f64>::from_fn(k, m + 1, |i, j| (i * 7 + j * 3) as f64 * 0.1 - 1.0);
            let b = DMatrix::<f64>::from_fn(k, n, |i, j| (i + 2 * j) as f64 * 0.05);
            let a_view = a.columns(0, m);
            let mut out = DMatrix::<f64>::from_element(m, n, 1.0);
            gemm_at_b(&mut out.as_view_mut(), 2.0, &a_view, &b.as_view(), 0.5);
            let want = a_view.transpose() * &b * 2.0 + DMatrix::from_element(m, n, 0.5);
            assert!((out - want).amax() < 1e-12, "at_b {m}x{k}x{n}");

            let c = DMatrix::<f64>::from_fn(n, k, |i, j| (i * 2 + j) as f64 * 0.1);
            let mut out = DMatrix::<f64>::zeros(m, n);
            let at = a_view.transpose();
            gemm_a_bt(
                &mut out.as_view_mut(),
                1.0,
                &at.as_view(),
                &c.as_view(),
                0.0,
            );
            let want = &at * c.transpose();
            assert!((out - want).amax() < 1e-12, "a_bt {m}x{k}x{n}");
        }
    }
}

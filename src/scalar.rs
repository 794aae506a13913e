//! The scalar types the crate is generic over: `f32` and `f64`.

use nalgebra::RealField;
use rand::Rng;
use std::fmt::{Debug, Display};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}

    /// `Serialize + Deserialize` with the `serde` feature, nothing without it: models and
    /// states generic over the scalar then (de)serialise without extra bounds.
    #[cfg(feature = "serde")]
    pub trait MaybeSerde: serde::Serialize + serde::de::DeserializeOwned {}
    #[cfg(feature = "serde")]
    impl<T: serde::Serialize + serde::de::DeserializeOwned> MaybeSerde for T {}
    #[cfg(not(feature = "serde"))]
    pub trait MaybeSerde {}
    #[cfg(not(feature = "serde"))]
    impl<T> MaybeSerde for T {}
}

/// A floating-point scalar usable by every model in the crate: implemented for `f32` and `f64` only.
///
/// The trait is sealed. Its supertrait is nalgebra's [`RealField`], which supplies `exp`, `ln_1p`,
/// `sqrt` and the rest as methods. It deliberately does **not** also require `num_traits::Float`:
/// both traits define `exp`, `ln`, `max`, ... and having both in scope makes every such call
/// ambiguous (error E0034). Conversions get their own names (`of_f64`, `as_f64`) for the same reason.
/// With the `serde` feature it also requires `serde::Serialize` and `serde::Deserialize`.
///
/// ```
/// use rbms::Float;
/// fn half<T: Float>() -> T { T::of_f64(0.5) }
/// assert_eq!(half::<f32>(), 0.5f32);
/// assert_eq!(<f64 as Float>::NAME, "f64");
/// ```
pub trait Float:
    RealField
    + Copy
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + 'static
    + sealed::Sealed
    + sealed::MaybeSerde
{
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// Converts from `f64` (rounding to nearest for `f32`).
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn as_f64(self) -> f64;
    /// Converts a count to this type.
    fn of_usize(n: usize) -> Self {
        Self::of_f64(n as f64)
    }
    /// A uniform draw from `[0, 1)` built from the top mantissa-width bits of one RNG word.
    ///
    /// `f32` takes the top 24 bits of `next_u32`, `f64` the top 53 bits of `next_u64`; this is
    /// part of the crate's reproducibility contract.
    fn uniform01<R: Rng + ?Sized>(rng: &mut R) -> Self;
    /// Writes a Bernoulli sample of each probability: `out[i] = 1` if a uniform draw is
    /// `< probs[i]`, else 0. `f64` uses [`uniform01`](Self::uniform01) per value; `f32`
    /// takes two 24-bit uniforms from each `next_u64` (bits 40..64, then 8..32), the last odd
    /// value from one more word. Part of the reproducibility contract.
    fn bernoulli_fill<R: Rng + ?Sized>(probs: &[Self], out: &mut [Self], rng: &mut R);
    /// `true` unless NaN or infinite. (Named to avoid clashing with `f32::is_finite`.)
    fn finite(self) -> bool {
        self.as_f64().is_finite()
    }
    /// e^x for x ≤ 0 (NaN propagates), branch-free so that loops over it vectorise; 0 below
    /// the normal range. Cephes' `expf` polynomial (f32) and Padé form (f64), within a few ulp.
    fn exp_nonpositive(self) -> Self;
    /// log(1 + y) for y in `[0, 1]`, branch-free: 2·atanh(s) with s = y / (2 + y) ≤ 1/3, summed
    /// as an odd series to the type's precision (within a few ulp).
    fn ln_1p_unit(self) -> Self;
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn bernoulli_fill<R: Rng + ?Sized>(probs: &[Self], out: &mut [Self], rng: &mut R) {
        const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
        let mut pairs_p = probs.chunks_exact(2);
        let mut pairs_o = out.chunks_exact_mut(2);
        for (p, o) in (&mut pairs_p).zip(&mut pairs_o) {
            let w = rng.next_u64();
            let u0 = (w >> 40) as f32 * SCALE;
            let u1 = ((w >> 8) & 0xff_ffff) as f32 * SCALE;
            o[0] = if u0 < p[0] { 1.0 } else { 0.0 };
            o[1] = if u1 < p[1] { 1.0 } else { 0.0 };
        }
        if let (Some(p), Some(o)) = (
            pairs_p.remainder().first(),
            pairs_o.into_remainder().first_mut(),
        ) {
            let u = (rng.next_u64() >> 40) as f32 * SCALE;
            *o = if u < *p { 1.0 } else { 0.0 };
        }
    }
    #[inline]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn uniform01<R: Rng + ?Sized>(rng: &mut R) -> Self {
        (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }
    #[inline]
    fn finite(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn exp_nonpositive(self) -> Self {
        const LO: f32 = -87.3;
        let x = if self < LO { LO } else { self };
        const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
        let t = x * std::f32::consts::LOG2_E + MAGIC;
        let fx = t - MAGIC;
        let r = x - fx * 0.693_359_4 - fx * -2.121_944_4e-4;
        let z = r * r;
        let p = ((((1.987_569_1e-4f32 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r
            + 4.166_579_6e-2)
            * r
            + 1.666_666_5e-1)
            * r
            + 0.5;
        let y = p * z + r + 1.0;
        // n = fx as an integer, read from the mantissa of t (no float-to-int conversion, which
        // would not vectorise); t and MAGIC share a binade, so their bit patterns differ by n.
        let n = t.to_bits().wrapping_sub(MAGIC.to_bits());
        let scale = f32::from_bits(n.wrapping_add(127) << 23);
        if self < LO {
            0.0
        } else {
            y * scale
        }
    }
    #[inline(always)]
    fn ln_1p_unit(self) -> Self {
        let s = self / (2.0 + self);
        let s2 = s * s;
        let mut acc = 1.0f32 / 13.0;
        for k in [11.0f32, 9.0, 7.0, 5.0, 3.0] {
            acc = acc * s2 + 1.0 / k;
        }
        2.0 * s * (acc * s2 + 1.0)
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn bernoulli_fill<R: Rng + ?Sized>(probs: &[Self], out: &mut [Self], rng: &mut R) {
        for (o, &p) in out.iter_mut().zip(probs) {
            *o = if Self::uniform01(rng) < p { 1.0 } else { 0.0 };
        }
    }
    #[inline]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn uniform01<R: Rng + ?Sized>(rng: &mut R) -> Self {
        (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    #[inline]
    fn finite(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn exp_nonpositive(self) -> Self {
        const LO: f64 = -708.0;
        let x = if self < LO { LO } else { self };
        const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
        let t = x * std::f64::consts::LOG2_E + MAGIC;
        let fx = t - MAGIC;
        let r = x - fx * 6.931_457_519_531_25e-1 - fx * 1.428_606_820_309_417_2e-6;
        let xx = r * r;
        let px = r * ((1.261_771_930_748_105_9e-4 * xx + 3.029_944_077_074_419_6e-2) * xx + 1.0);
        let q = ((3.001_985_051_386_644_5e-6 * xx + 2.524_483_403_496_841e-3) * xx
            + 2.272_655_482_081_550_3e-1)
            * xx
            + 2.0;
        let y = 1.0 + 2.0 * (px / (q - px));
        let n = t.to_bits().wrapping_sub(MAGIC.to_bits());
        let scale = f64::from_bits(n.wrapping_add(1023) << 52);
        if self < LO {
            0.0
        } else {
            y * scale
        }
    }
    #[inline(always)]
    fn ln_1p_unit(self) -> Self {
        let s = self / (2.0 + self);
        let s2 = s * s;
        let mut acc = 1.0f64 / 33.0;
        for k in [
            31.0f64, 29.0, 27.0, 25.0, 23.0, 21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0,
        ] {
            acc = acc * s2 + 1.0 / k;
        }
        2.0 * s * (acc * s2 + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Float;

    fn check<T: Float>(tol_exp: f64, tol_ln: f64) {
        let mut worst = (0.0f64, 0.0f64);
        for i in 0..=200_000 {
            let x = -750.0 * i as f64 / 200_000.0;
            let got = T::of_f64(x).exp_nonpositive().as_f64();
            let want = T::of_f64(T::of_f64(x).as_f64().exp()).as_f64();
            if want > 1e-30 {
                worst.0 = worst.0.max(((got - want) / want).abs());
            } else {
                assert!(got <= 1e-30, "exp({x}) = {got}");
            }
            let y = i as f64 / 200_000.0;
            let got = T::of_f64(y).ln_1p_unit().as_f64();
            let want = T::of_f64(y).as_f64().ln_1p();
            if want > 0.0 {
                worst.1 = worst.1.max(((got - want) / want).abs());
            } else {
                assert_eq!(got, 0.0);
            }
        }
        assert!(
            worst.0 < tol_exp && worst.1 < tol_ln,
            "{} worst relative errors {worst:?}",
            T::NAME
        );
        assert_eq!(T::of_f64(0.0).exp_nonpositive(), T::one());
        assert_eq!(T::of_f64(-1e4).exp_nonpositive(), T::zero());
    }

    #[test]
    fn fast_exp_and_ln_1p_match_libm() {
        check::<f32>(4.0 * f32::EPSILON as f64, 4.0 * f32::EPSILON as f64);
        check::<f64>(4.0 * f64::EPSILON, 4.0 * f64::EPSILON);
    }
}

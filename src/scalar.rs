//! The scalar types the crate is generic over: `f32` and `f64`.

use nalgebra::RealField;
use rand::Rng;
use std::fmt::{Debug, Display};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar usable by every model in the crate: implemented for `f32` and `f64` only.
///
/// The trait is sealed. Its supertrait is nalgebra's [`RealField`], which supplies `exp`, `ln_1p`,
/// `sqrt` and the rest as methods. It deliberately does **not** also require `num_traits::Float`:
/// both traits define `exp`, `ln`, `max`, ... and having both in scope makes every such call
/// ambiguous (error E0034). Conversions get their own names (`of_f64`, `as_f64`) for the same reason.
///
/// ```
/// use rbms::Float;
/// fn half<T: Float>() -> T { T::of_f64(0.5) }
/// assert_eq!(half::<f32>(), 0.5f32);
/// assert_eq!(<f64 as Float>::NAME, "f64");
/// ```
pub trait Float:
    RealField + Copy + Debug + Display + Default + Send + Sync + 'static + sealed::Sealed
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
    /// `true` unless NaN or infinite. (Named to avoid clashing with `f32::is_finite`.)
    fn finite(self) -> bool {
        self.as_f64().is_finite()
    }
}

impl Float for f32 {
    const NAME: &'static str = "f32";
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
}

impl Float for f64 {
    const NAME: &'static str = "f64";
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
}

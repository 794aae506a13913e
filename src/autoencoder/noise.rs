//! Input corruption for denoising autoencoders.

use crate::{Error, Float, Result};
use nalgebra::{DMatrixView, DMatrixViewMut};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// How [`Sgd`](crate::Sgd) corrupts each minibatch before encoding it (denoising
/// autoencoders, Vincent et al. 2008). The loss is always measured against the **clean**
/// input, so the model learns to undo the corruption.
///
/// Every element is corrupted independently, with fresh draws from the run's RNG each step:
///
/// | variant | each input x becomes |
/// | --- | --- |
/// | `None` | x |
/// | `Masking { fraction: p }` | 0 with probability p, else x |
/// | `Gaussian { std: σ }` | x + σ·z, z ~ N(0, 1) (an `f64` draw, rounded to the scalar type) |
/// | `SaltAndPepper { fraction: p }` | with probability p, 0 or 1 with equal odds; else x |
///
/// Fractions must lie in `[0, 1)` and `std` must be finite and ≥ 0; otherwise training stops
/// before it starts with [`Error::InvalidParameter`].
///
/// ```
/// use rbms::Noise;
/// use nalgebra::DMatrix;
/// use rand::SeedableRng;
/// let clean = DMatrix::<f64>::from_element(100, 100, 1.0);
/// let mut noisy = DMatrix::zeros(100, 100);
/// let mut rng = rbms::RunRng::seed_from_u64(0);
/// Noise::Masking { fraction: 0.3 }.corrupt_into(clean.as_view(), noisy.as_view_mut(), &mut rng)?;
/// let zeroed = noisy.iter().filter(|&&x| x == 0.0).count() as f64 / 1e4;
/// assert!((zeroed - 0.3).abs() < 0.02);
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Noise {
    /// No corruption (a plain autoencoder).
    #[default]
    None,
    /// Sets each input to 0 with probability `fraction`.
    Masking {
        /// Probability in `[0, 1)` of zeroing each input.
        fraction: f64,
    },
    /// Adds independent N(0, `std`²) noise to each input.
    Gaussian {
        /// Standard deviation (finite, ≥ 0).
        std: f64,
    },
    /// Sets each input, with probability `fraction`, to 0 or 1 with equal probability.
    SaltAndPepper {
        /// Probability in `[0, 1)` of corrupting each input.
        fraction: f64,
    },
}

impl Noise {
    /// Checks the settings (see the type's documentation).
    pub fn check(&self) -> Result<()> {
        let fraction = |f: f64| {
            if (0.0..1.0).contains(&f) {
                Ok(())
            } else {
                Err(Error::InvalidParameter {
                    name: "noise fraction",
                    reason: format!("must lie in [0, 1), got {f}"),
                })
            }
        };
        match *self {
            Noise::None => Ok(()),
            Noise::Masking { fraction: f } | Noise::SaltAndPepper { fraction: f } => fraction(f),
            Noise::Gaussian { std } if std.is_finite() && std >= 0.0 => Ok(()),
            Noise::Gaussian { std } => Err(Error::InvalidParameter {
                name: "noise std",
                reason: format!("must be finite and >= 0, got {std}"),
            }),
        }
    }

    /// Whether this corrupts anything at all.
    pub fn is_none(&self) -> bool {
        matches!(self, Noise::None)
    }

    /// Writes a corrupted copy of `clean` into `out` (same shape), drawing from `rng` element by
    /// element in column-major order.
    ///
    /// Fails with [`Error::ShapeMismatch`] when the shapes differ, [`Error::InvalidParameter`]
    /// for invalid settings, and [`Error::NonFinite`] if Gaussian noise overflows the scalar
    /// type.
    pub fn corrupt_into<T: Float, R: Rng + ?Sized>(
        &self,
        clean: DMatrixView<'_, T>,
        mut out: DMatrixViewMut<'_, T>,
        rng: &mut R,
    ) -> Result<()> {
        self.check()?;
        if clean.shape() != out.shape() {
            return Err(Error::ShapeMismatch {
                what: "corrupted copy of the input",
                expected: clean.shape(),
                found: out.shape(),
            });
        }
        for (mut o, c) in out.column_iter_mut().zip(clean.column_iter()) {
            for (o, &x) in o.iter_mut().zip(c.iter()) {
                *o = match *self {
                    Noise::None => x,
                    Noise::Masking { fraction } => {
                        if T::uniform01(rng).as_f64() < fraction {
                            T::zero()
                        } else {
                            x
                        }
                    }
                    Noise::Gaussian { std } => {
                        let z: f64 = StandardNormal.sample(rng);
                        x + T::of_f64(std * z)
                    }
                    Noise::SaltAndPepper { fraction } => {
                        if T::uniform01(rng).as_f64() < fraction {
                            if rng.next_u32() & 1 == 0 {
                                T::zero()
                            } else {
                                T::one()
                            }
                        } else {
                            x
                        }
                    }
                };
            }
        }
        if let Noise::Gaussian { .. } = self {
            for (sample, col) in out.column_iter().enumerate() {
                if let Some((feature, &value)) = col.iter().enumerate().find(|(_, x)| !x.finite()) {
                    return Err(Error::NonFinite {
                        what: "input after Gaussian noise",
                        sample,
                        feature,
                        value: value.as_f64(),
                    });
                }
            }
        }
        Ok(())
    }
}

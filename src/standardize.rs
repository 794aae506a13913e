//! Standardisation of real-valued data for Gaussian visible units: [`Standardizer`].

use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DVector};

/// Per-feature standardisation x ↦ (x − μ)/s, fitted on training data and applied to new data
/// (and inverted, e.g. to show a Gaussian RBM's samples in the data's units).
///
/// μ is the feature mean and s its population standard deviation (both computed in `f64`).
/// A feature with zero variance (s ≤ 1e-10·max(1, |μ|), which absorbs rounding in the mean of
/// a constant column) is centred but **left unscaled** (s = 1): it is never divided by 0, and
/// it standardises to exactly 0 on the training data.
///
/// ```
/// use rbms::{Dataset, Standardizer};
/// let data = Dataset::from_rows(&nalgebra::DMatrix::from_row_slice(
///     3, 2, &[1.0f64, 5.0, 2.0, 5.0, 3.0, 5.0],
/// ))?; // feature 1 is constant
/// let st = Standardizer::fit(&data)?;
/// assert_eq!(st.mean().as_slice(), &[2.0, 5.0]);
/// assert_eq!(st.scale()[1], 1.0); // zero variance: left unscaled
/// let z = st.transform(&data)?;
/// assert!((z.samples()[(0, 0)] + 1.224744871391589).abs() < 1e-12);
/// assert_eq!(z.samples()[(1, 2)], 0.0);
/// let back = st.inverse_transform(&z)?;
/// assert!((back.samples() - data.samples()).amax() < 1e-12);
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<T: Float> {
    mean: DVector<T>,
    std: DVector<T>,
    scale: DVector<T>,
}

/// Relative threshold below which a feature's standard deviation counts as zero.
const ZERO_VARIANCE: f64 = 1e-10;

/// Mean and population standard deviation of each feature, in `f64` (two passes).
fn moments<T: Float>(data: &Dataset<T>) -> (Vec<f64>, Vec<f64>) {
    let n = data.n_samples() as f64;
    let m = data.samples();
    let mut means = vec![0.0; data.n_features()];
    let mut stds = vec![0.0; data.n_features()];
    for (i, row) in m.row_iter().enumerate() {
        let mu = row.iter().map(|x| x.as_f64()).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|x| {
                let d = x.as_f64() - mu;
                d * d
            })
            .sum::<f64>()
            / n;
        means[i] = mu;
        stds[i] = var.sqrt();
    }
    (means, stds)
}

fn is_zero_variance(mean: f64, std: f64) -> bool {
    std <= ZERO_VARIANCE * mean.abs().max(1.0)
}

/// The standard deviation of each feature, 0 for zero-variance features (as [`Standardizer`]
/// decides them).
pub(crate) fn feature_stds<T: Float>(data: &Dataset<T>) -> DVector<T> {
    let (means, stds) = moments(data);
    DVector::from_iterator(
        stds.len(),
        means.iter().zip(&stds).map(|(&m, &s)| {
            if is_zero_variance(m, s) {
                T::zero()
            } else {
                T::of_f64(s)
            }
        }),
    )
}

impl<T: Float> Standardizer<T> {
    /// Fits the means and standard deviations of `data`'s features.
    pub fn fit(data: &Dataset<T>) -> Result<Self> {
        let (means, stds) = moments(data);
        let nf = means.len();
        let mean = DVector::from_iterator(nf, means.iter().map(|&m| T::of_f64(m)));
        let std = DVector::from_iterator(
            nf,
            means.iter().zip(&stds).map(|(&m, &s)| {
                if is_zero_variance(m, s) {
                    T::zero()
                } else {
                    T::of_f64(s)
                }
            }),
        );
        let scale = DVector::from_iterator(
            nf,
            means.iter().zip(&stds).map(|(&m, &s)| {
                if is_zero_variance(m, s) {
                    T::one()
                } else {
                    T::of_f64(s)
                }
            }),
        );
        if let Some(i) = scale.iter().position(|s| !s.finite() || *s <= T::zero()) {
            return Err(Error::InvalidParameter {
                name: "standardisation",
                reason: format!("feature {i}'s standard deviation is not representable"),
            });
        }
        Ok(Self { mean, std, scale })
    }

    /// The training means μ.
    pub fn mean(&self) -> &DVector<T> {
        &self.mean
    }
    /// The training standard deviations (0 for zero-variance features).
    pub fn std(&self) -> &DVector<T> {
        &self.std
    }
    /// The divisors s: the standard deviations, 1 for zero-variance features.
    pub fn scale(&self) -> &DVector<T> {
        &self.scale
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn check(&self, what: &'static str, rows: usize, cols: usize) -> Result<()> {
        if rows != self.n_features() {
            return Err(Error::ShapeMismatch {
                what,
                expected: (self.n_features(), cols),
                found: (rows, cols),
            });
        }
        Ok(())
    }

    /// (x − μ)/s for each feature of each sample.
    pub fn transform(&self, data: &Dataset<T>) -> Result<Dataset<T>> {
        Dataset::from_columns(self.transform_matrix(data.samples())?)
    }

    /// (x − μ)/s for each feature (row) of each column of `m`.
    pub fn transform_matrix(&self, m: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.check("data to standardise (n_features)", m.nrows(), m.ncols())?;
        crate::data::check_finite("data to standardise", m.as_slice(), m.nrows())?;
        let mut out = m.clone();
        for mut col in out.column_iter_mut() {
            for ((x, &mu), &s) in col.iter_mut().zip(self.mean.iter()).zip(self.scale.iter()) {
                *x = (*x - mu) / s;
            }
        }
        Ok(out)
    }

    /// μ + s·z for each feature of each sample: the inverse of [`transform`](Self::transform).
    pub fn inverse_transform(&self, data: &Dataset<T>) -> Result<Dataset<T>> {
        Dataset::from_columns(self.inverse_transform_matrix(data.samples())?)
    }

    /// μ + s·z for each feature (row) of each column of `m`.
    pub fn inverse_transform_matrix(&self, m: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.check(
            "standardised data to map back (n_features)",
            m.nrows(),
            m.ncols(),
        )?;
        crate::data::check_finite("standardised data to map back", m.as_slice(), m.nrows())?;
        let mut out = m.clone();
        for mut col in out.column_iter_mut() {
            for ((x, &mu), &s) in col.iter_mut().zip(self.mean.iter()).zip(self.scale.iter()) {
                *x = mu + s * *x;
            }
        }
        Ok(out)
    }
}

//! Data sets and minibatches.
//!
//! A [`Dataset`] stores **one sample per column** of a column-major [`DMatrix`]
//! (`n_features × n_samples`): gathering a shuffled minibatch is then a copy of contiguous
//! columns. Most data arrive one sample per row (CSV files, scikit-learn); build those with
//! [`Dataset::from_rows`] or [`Dataset::from_row_major`], and columns with
//! [`Dataset::from_columns`]. Every constructor rejects empty and non-finite data, so a
//! `Dataset` is always finite.

use crate::{Error, Float, Result};
use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A finite data set of `n_samples` samples with `n_features` features each, stored one sample
/// per column, with optional integer labels.
///
/// ```
/// use nalgebra::DMatrix;
/// use rbms::Dataset;
/// // two samples (rows) of three features
/// let rows = DMatrix::from_row_slice(2, 3, &[0.0, 0.5, 1.0, 1.0, 0.0, 0.25]);
/// let data = Dataset::from_rows(&rows)?;
/// assert_eq!((data.n_samples(), data.n_features()), (2, 3));
/// assert_eq!(data.sample(1).unwrap().as_slice(), &[1.0, 0.0, 0.25]);
/// assert!(data.sample(2).is_none());
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T: Float> {
    samples: DMatrix<T>,
    labels: Option<Vec<u32>>,
}

impl<T: Float> Dataset<T> {
    /// Builds a data set from a matrix with one sample per **column** (`n_features × n_samples`).
    pub fn from_columns(samples: DMatrix<T>) -> Result<Self> {
        check_matrix("data set", &samples)?;
        Ok(Self {
            samples,
            labels: None,
        })
    }

    /// Builds a data set from a matrix with one sample per **row** (`n_samples × n_features`),
    /// the layout of CSV files and scikit-learn.
    pub fn from_rows(rows: &DMatrix<T>) -> Result<Self> {
        check_rows("data set", rows)?;
        Ok(Self {
            samples: rows.transpose(),
            labels: None,
        })
    }

    /// Builds a data set from a row-major slice: sample `i` is `values[i*n_features..(i+1)*n_features]`.
    pub fn from_row_major(n_samples: usize, n_features: usize, values: &[T]) -> Result<Self> {
        if n_samples.checked_mul(n_features) != Some(values.len()) {
            return Err(Error::ShapeMismatch {
                what: "row-major values (n_samples, n_features)",
                expected: (n_samples, n_features),
                found: (values.len(), 1),
            });
        }
        // Row-major n_samples × n_features is column-major n_features × n_samples.
        Self::from_columns(DMatrix::from_column_slice(n_features, n_samples, values))
    }

    /// Attaches one label per sample.
    pub fn with_labels(mut self, labels: Vec<u32>) -> Result<Self> {
        if labels.len() != self.n_samples() {
            return Err(Error::ShapeMismatch {
                what: "labels (one per sample)",
                expected: (self.n_samples(), 1),
                found: (labels.len(), 1),
            });
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.samples.ncols()
    }

    /// Number of features per sample.
    pub fn n_features(&self) -> usize {
        self.samples.nrows()
    }

    /// The samples, one per column (`n_features × n_samples`).
    pub fn samples(&self) -> &DMatrix<T> {
        &self.samples
    }

    /// Consumes the data set, returning the `n_features × n_samples` matrix.
    pub fn into_samples(self) -> DMatrix<T> {
        self.samples
    }

    /// The samples as a `n_samples × n_features` matrix (one sample per row; a copy).
    pub fn to_rows(&self) -> DMatrix<T> {
        self.samples.transpose()
    }

    /// Sample `i` as a column view, or `None` if `i >= n_samples()`.
    pub fn sample(&self, i: usize) -> Option<nalgebra::DVectorView<'_, T>> {
        (i < self.n_samples()).then(|| self.samples.column(i))
    }

    /// The labels, if any.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref()
    }

    /// Copies the samples `indices` into the first `indices.len()` columns of `out`.
    ///
    /// `out` must have `n_features` rows and at least `indices.len()` columns; every index must
    /// be `< n_samples()`.
    pub fn gather_into(&self, indices: &[usize], out: &mut DMatrix<T>) -> Result<()> {
        if out.nrows() != self.n_features() || out.ncols() < indices.len() {
            return Err(Error::ShapeMismatch {
                what: "minibatch buffer",
                expected: (self.n_features(), indices.len()),
                found: out.shape(),
            });
        }
        let n = self.n_samples();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::InvalidParameter {
                name: "sample index",
                reason: format!("{bad} is out of range for {n} samples"),
            });
        }
        let d = self.n_features();
        let src = self.samples.as_slice();
        if d == 0 {
            return Ok(());
        }
        let dst = &mut out.as_mut_slice()[..indices.len() * d];
        crate::parallel::for_each_column_part(dst, d, |first, part| {
            for (slot, &i) in part.chunks_exact_mut(d).zip(&indices[first..]) {
                slot.copy_from_slice(&src[i * d..(i + 1) * d]);
            }
        });
        Ok(())
    }

    /// A new data set holding the samples `indices` (and their labels), in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if indices.is_empty() {
            return Err(Error::EmptyData {
                what: "selection of samples",
            });
        }
        let mut out = DMatrix::zeros(self.n_features(), indices.len());
        self.gather_into(indices, &mut out)?;
        Ok(Self {
            samples: out,
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
        })
    }

    /// The first `n` samples (all of them if `n >= n_samples()`).
    pub fn head(&self, n: usize) -> Result<Self> {
        let n = n.min(self.n_samples());
        self.select(&(0..n).collect::<Vec<_>>())
    }

    /// Multiplies every value by `factor` (for example `1/16` for the digits, `1/255` for pixels).
    pub fn scaled(&self, factor: T) -> Result<Self> {
        let out = Self {
            samples: self.samples.map(|x| x * factor),
            labels: self.labels.clone(),
        };
        check_matrix("scaled data set", &out.samples)?;
        Ok(out)
    }

    /// Converts to another scalar type, or [`Error::NonFinite`] (naming the sample and feature)
    /// when a value does not fit it (an `f64` beyond `f32::MAX` would become infinite).
    ///
    /// ```
    /// use rbms::Dataset;
    /// let d = Dataset::from_row_major(1, 2, &[0.25f64, 0.5])?;
    /// assert_eq!(d.cast::<f32>()?.samples().as_slice(), &[0.25f32, 0.5]);
    /// assert!(Dataset::from_row_major(1, 2, &[1e39f64, 0.5])?.cast::<f32>().is_err());
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn cast<U: Float>(&self) -> Result<Dataset<U>> {
        let out = Dataset {
            samples: self.samples.map(|x| U::of_f64(x.as_f64())),
            labels: self.labels.clone(),
        };
        check_matrix("data set cast to another scalar type", &out.samples)?;
        Ok(out)
    }

    /// Deterministic binarization: 1 where the value is `> threshold`, else 0.
    ///
    /// ```
    /// use rbms::Dataset;
    /// let d = Dataset::from_row_major(1, 3, &[0.2f64, 0.5, 0.9])?.binarize(0.5);
    /// assert_eq!(d.samples().as_slice(), &[0.0, 0.0, 1.0]);
    /// # Ok::<(), rbms::Error>(())
    /// ```
    pub fn binarize(&self, threshold: T) -> Self {
        Self {
            samples: self
                .samples
                .map(|x| if x > threshold { T::one() } else { T::zero() }),
            labels: self.labels.clone(),
        }
    }

    /// Stochastic binarization: each value `p` (which must lie in `[0, 1]`) becomes 1 with
    /// probability `p`, using a Xoshiro256++ generator seeded with `seed`. Same seed, same bits.
    pub fn binarize_stochastic(&self, seed: u64) -> Result<Self> {
        self.check_unit_interval("data to binarize")?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Ok(Self {
            samples: self.samples.map(|p| bernoulli(p, &mut rng)),
            labels: self.labels.clone(),
        })
    }

    /// Checks that every value lies in `[0, 1]` (what Bernoulli units accept).
    pub fn check_unit_interval(&self, what: &'static str) -> Result<()> {
        check_unit_interval(what, &self.samples)
    }

    /// The mean of each feature over the samples.
    pub fn feature_means(&self) -> DVector<T> {
        let n = T::of_usize(self.n_samples());
        DVector::from_iterator(
            self.n_features(),
            self.samples.row_iter().map(|r| r.sum() / n),
        )
    }
}

/// 1 with probability `p`, else 0, from one uniform draw.
#[inline]
pub(crate) fn bernoulli<T: Float, R: Rng + ?Sized>(p: T, rng: &mut R) -> T {
    if T::uniform01(rng) < p {
        T::one()
    } else {
        T::zero()
    }
}

/// Rejects an empty matrix or one holding NaN/∞ (samples are columns).
pub(crate) fn check_matrix<T: Float>(what: &'static str, m: &DMatrix<T>) -> Result<()> {
    if m.is_empty() {
        return Err(Error::EmptyData { what });
    }
    check_finite(what, m.as_slice(), m.nrows())
}

/// Like [`check_matrix`], but for a matrix with one sample per row.
fn check_rows<T: Float>(what: &'static str, m: &DMatrix<T>) -> Result<()> {
    if m.is_empty() {
        return Err(Error::EmptyData { what });
    }
    for (idx, &x) in m.as_slice().iter().enumerate() {
        if !x.finite() {
            return Err(Error::NonFinite {
                what,
                sample: idx % m.nrows(),
                feature: idx / m.nrows(),
                value: x.as_f64(),
            });
        }
    }
    Ok(())
}

/// Rejects NaN/∞ in a column-major buffer whose columns (of length `rows`) are samples.
pub(crate) fn check_finite<T: Float>(what: &'static str, values: &[T], rows: usize) -> Result<()> {
    match values.iter().position(|x| !x.finite()) {
        None => Ok(()),
        Some(idx) => Err(Error::NonFinite {
            what,
            sample: idx / rows.max(1),
            feature: idx % rows.max(1),
            value: values[idx].as_f64(),
        }),
    }
}

/// Rejects values outside `[0, 1]` (samples are columns).
pub(crate) fn check_unit_interval<T: Float>(what: &'static str, m: &DMatrix<T>) -> Result<()> {
    let rows = m.nrows().max(1);
    match m
        .as_slice()
        .iter()
        .position(|&x| !(x >= T::zero() && x <= T::one()))
    {
        None => Ok(()),
        Some(idx) => Err(Error::OutsideUnitInterval {
            what,
            sample: idx / rows,
            feature: idx % rows,
            value: m.as_slice()[idx].as_f64(),
        }),
    }
}

/// Splits `0..n_samples` into shuffled minibatches, epoch after epoch.
///
/// Each call to [`shuffle`](Minibatches::shuffle) draws a fresh permutation (Fisher–Yates) from
/// the caller's RNG; [`batches`](Minibatches::batches) then yields consecutive slices of it, so
/// every sample is visited exactly once per epoch. When `batch_size` does not divide the number
/// of samples, the last batch is shorter (13 samples, batch 10 → 10 + 3), unless `drop_last` is
/// set, in which case the short batch is skipped (and a different set of samples is skipped each
/// epoch, since the order is reshuffled).
///
/// A batch size of 0, or one larger than the data set, is an error
/// ([`Error::ZeroBatchSize`], [`Error::BatchLargerThanData`]) rather than a silent single batch.
///
/// ```
/// use rbms::data::Minibatches;
/// use rand::SeedableRng;
/// let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
/// let mut mb = Minibatches::new(13, 10, false)?;
/// mb.shuffle(&mut rng);
/// let sizes: Vec<usize> = mb.batches().map(|b| b.len()).collect();
/// assert_eq!(sizes, vec![10, 3]);
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minibatches {
    order: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
}

impl Minibatches {
    /// Minibatches over `n_samples` samples. The order is the identity until the first shuffle.
    pub fn new(n_samples: usize, batch_size: usize, drop_last: bool) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::ZeroBatchSize);
        }
        if n_samples == 0 {
            return Err(Error::EmptyData {
                what: "data set to split into minibatches",
            });
        }
        if batch_size > n_samples {
            return Err(Error::BatchLargerThanData {
                batch_size,
                n_samples,
            });
        }
        Ok(Self {
            order: (0..n_samples).collect(),
            batch_size,
            drop_last,
        })
    }

    /// Minibatches over a given order of the samples `0..order.len()` (e.g. a saved one), which
    /// must be a permutation; the other rules are those of [`new`](Self::new).
    pub fn from_order(order: Vec<usize>, batch_size: usize, drop_last: bool) -> Result<Self> {
        let mut batches = Self::new(order.len(), batch_size, drop_last)?;
        let n = order.len();
        let mut seen = vec![false; n];
        for (position, &i) in order.iter().enumerate() {
            if i >= n || std::mem::replace(&mut seen[i], true) {
                return Err(Error::InvalidParameter {
                    name: "minibatch order",
                    reason: format!(
                        "not a permutation of 0..{n}: {i} at position {position} is out of range or repeated"
                    ),
                });
            }
        }
        batches.order = order;
        Ok(batches)
    }

    /// The current order of the samples: the batches are its consecutive slices.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Whether the short last batch is skipped.
    pub fn drop_last(&self) -> bool {
        self.drop_last
    }

    /// Reshuffles the order (Fisher–Yates, drawing `n − 1` bounded integers from `rng`).
    pub fn shuffle<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for i in (1..self.order.len()).rev() {
            let j = bounded(rng, i as u64 + 1) as usize;
            self.order.swap(i, j);
        }
    }

    /// The batches of the current order, as slices of sample indices.
    pub fn batches(&self) -> impl Iterator<Item = &[usize]> + '_ {
        let full = self.order.len() / self.batch_size * self.batch_size;
        let end = if self.drop_last {
            full
        } else {
            self.order.len()
        };
        self.order[..end].chunks(self.batch_size)
    }

    /// Number of batches per epoch.
    pub fn n_batches(&self) -> usize {
        let n = self.order.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}

/// An unbiased integer in `0..n` (Lemire's multiply-and-reject), written out here so that the
/// shuffle's use of the RNG is fixed by this crate, not by a dependency's version.
pub(crate) fn bounded<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    debug_assert!(n > 0);
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = (rng.next_u64() as u128) * (n as u128);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_is_in_range_and_covers() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[bounded(&mut rng, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
    }

    #[test]
    fn rows_and_columns_agree() {
        let rows = DMatrix::from_row_slice(2, 3, &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let a = Dataset::from_rows(&rows).unwrap();
        let b = Dataset::from_row_major(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let c = Dataset::from_columns(rows.transpose()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_rows(), rows);
        assert_eq!(a.feature_means().as_slice(), &[2.5, 3.5, 4.5]);
    }

    #[test]
    fn non_finite_position_is_reported_in_sample_feature_terms() {
        let rows = DMatrix::from_row_slice(2, 3, &[1.0f64, 2.0, 3.0, 4.0, f64::NAN, 6.0]);
        match Dataset::from_rows(&rows) {
            Err(Error::NonFinite {
                sample, feature, ..
            }) => assert_eq!((sample, feature), (1, 1)),
            other => panic!("{other:?}"),
        }
        match Dataset::from_row_major(2, 3, &[1.0f64, 2.0, 3.0, 4.0, 5.0, f64::INFINITY]) {
            Err(Error::NonFinite {
                sample, feature, ..
            }) => assert_eq!((sample, feature), (1, 2)),
            other => panic!("{other:?}"),
        }
    }
}

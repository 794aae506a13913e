//! The bars-and-stripes patterns (MacKay 2003), the classic small test of whether an RBM's
//! sampler explores every mode.

use crate::{Dataset, Error, Float, Result};
use nalgebra::DMatrix;
use std::collections::HashMap;

/// The largest side [`bars_and_stripes`] builds (2¹⁷ patterns of 256 pixels).
pub const MAX_BARS_AND_STRIPES_SIDE: usize = 16;

/// Every bars-and-stripes pattern of a `side × side` image: the 2^side *stripe* patterns
/// (each row all on or all off, by the bits of a mask: pixel (r, c) = bit r) followed by the
/// 2^side *bar* patterns (each column all on or off: pixel (r, c) = bit c), in mask order.
///
/// That is 2^(side+1) samples of side² features (feature `side·r + c` is pixel (r, c)), with
/// the all-off and all-on images present twice, once as stripes and once as bars: for side 4,
/// 32 samples, 30 distinct. `side` must lie in `1..=16`.
///
/// ```
/// let d = rbms::datasets::bars_and_stripes::<f64>(4)?;
/// assert_eq!((d.n_samples(), d.n_features()), (32, 16));
/// // stripes mask 0b0001: the first row on
/// assert_eq!(&d.sample(1).unwrap().as_slice()[..5], &[1.0, 1.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn bars_and_stripes<T: Float>(side: usize) -> Result<Dataset<T>> {
    if side == 0 || side > MAX_BARS_AND_STRIPES_SIDE {
        return Err(Error::InvalidParameter {
            name: "side",
            reason: format!("must lie in 1..={MAX_BARS_AND_STRIPES_SIDE}, got {side}"),
        });
    }
    let per_kind = 1usize << side;
    let mut m = DMatrix::zeros(side * side, 2 * per_kind);
    for mask in 0..per_kind {
        for r in 0..side {
            for c in 0..side {
                let on = |bit: usize| T::of_f64(((mask >> bit) & 1) as f64);
                m[(side * r + c, mask)] = on(r);
                m[(side * r + c, per_kind + mask)] = on(c);
            }
        }
    }
    Dataset::from_columns(m)
}

/// The mean log-probability of the samples under their own empirical distribution,
/// (1/n)·Σ_n log(count(v_n)/n), in nats: the highest mean log-likelihood any model can reach
/// on these data (for bars and stripes of side 4, (28·log(1/32) + 4·log(2/32))/32 ≈ −3.379).
/// Samples are the same when their values are bit for bit equal.
///
/// ```
/// let d = rbms::datasets::bars_and_stripes::<f64>(4)?;
/// let optimum = rbms::datasets::empirical_log_likelihood(&d);
/// let expected = (28.0 * (1.0f64 / 32.0).ln() + 4.0 * (2.0f64 / 32.0).ln()) / 32.0;
/// assert!((optimum - expected).abs() < 1e-12);
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn empirical_log_likelihood<T: Float>(data: &Dataset<T>) -> f64 {
    let key = |n: usize| -> Vec<u64> {
        data.samples()
            .column(n)
            .iter()
            .map(|x| x.as_f64().to_bits())
            .collect()
    };
    let n = data.n_samples();
    let mut counts: HashMap<Vec<u64>, usize> = HashMap::new();
    for k in 0..n {
        *counts.entry(key(k)).or_insert(0) += 1;
    }
    (0..n)
        .map(|k| (counts[&key(k)] as f64 / n as f64).ln())
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_bars_or_stripes() {
        let d = bars_and_stripes::<f32>(3).unwrap();
        assert_eq!((d.n_samples(), d.n_features()), (16, 9));
        for k in 0..16 {
            let x = d.sample(k).unwrap();
            let px = |r: usize, c: usize| x[3 * r + c];
            let stripes = (0..3).all(|r| (0..3).all(|c| px(r, c) == px(r, 0)));
            let bars = (0..3).all(|c| (0..3).all(|r| px(r, c) == px(0, c)));
            assert_eq!(stripes, k <= 8 || k == 15, "sample {k}");
            assert_eq!(bars, k >= 8 || k == 0 || k == 7, "sample {k}");
        }
        assert!(bars_and_stripes::<f64>(0).is_err());
        assert!(bars_and_stripes::<f64>(17).is_err());
    }
}

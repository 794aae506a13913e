//! Parameter sets as ordered, named blocks, so that one update rule, one divergence check and
//! one finite-difference tool serve every model.

use crate::data::check_finite;
use crate::{Error, Float, Result};
use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// What a parameter block is, which decides whether weight decay applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Connection weights: L2/L1 decay applies.
    Weights,
    /// Biases: decay applies only when asked (`FitConfig::decay_biases`).
    Bias,
}

/// A model's parameters (or a gradient or update of the same shape) as a fixed, ordered list of
/// named blocks of scalars.
///
/// A gradient has the same type as the parameters it differentiates, so that block `i` of a
/// gradient always matches block `i` of the model.
pub trait Parameters: Clone + Send + Sync {
    /// The scalar type.
    type Scalar: Float;
    /// Number of blocks.
    fn n_blocks(&self) -> usize;
    /// Name of block `i` (for errors and reports), e.g. `"weights"`.
    fn block_name(&self, i: usize) -> &'static str;
    /// Kind of block `i`.
    fn block_kind(&self, i: usize) -> BlockKind;
    /// The values of block `i`.
    fn block(&self, i: usize) -> &[Self::Scalar];
    /// The values of block `i`, mutably (the block's length cannot change).
    fn block_mut(&mut self, i: usize) -> &mut [Self::Scalar];
    /// A value of the same shape filled with zeros.
    fn zeros_like(&self) -> Self;

    /// Total number of scalars.
    fn n_values(&self) -> usize {
        (0..self.n_blocks()).map(|i| self.block(i).len()).sum()
    }
    /// Adds `delta` block by block: `self += delta`.
    fn add_assign(&mut self, delta: &Self) {
        for b in 0..self.n_blocks() {
            for (x, &d) in self.block_mut(b).iter_mut().zip(delta.block(b)) {
                *x += d;
            }
        }
    }
    /// Name of the first block holding a NaN or infinity, if any.
    fn first_non_finite_block(&self) -> Option<&'static str> {
        (0..self.n_blocks())
            .find(|&b| self.block(b).iter().any(|x| !x.finite()))
            .map(|b| self.block_name(b))
    }
}

/// A model with a parameter set: the part common to energy models and autoencoders, through
/// which the shared update rule reaches the parameters.
pub trait Model: Send + Sync {
    /// The scalar type.
    type Scalar: Float;
    /// The parameter set; gradients and updates have the same type.
    type Params: Parameters<Scalar = Self::Scalar>;
    /// The parameters.
    fn params(&self) -> &Self::Params;
    /// The parameters, mutably. Parameters of another shape assigned through this give the
    /// model their layer sizes.
    fn params_mut(&mut self) -> &mut Self::Params;
}

/// The parameters of a two-layer model with one weight matrix: weights `W`
/// (`n_hidden × n_visible`), visible biases `b` and hidden biases `c`. Used by
/// [`Rbm`](crate::Rbm) (as [`RbmParams`](crate::RbmParams)) and by
/// [`TiedAutoencoder`](crate::TiedAutoencoder), whose decoder uses `Wᵀ`. Gradients and updates
/// have this type too.
///
/// Blocks, in order: `weights` (column-major `W`), `visible_bias`, `hidden_bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams<T: Float> {
    pub(crate) weights: DMatrix<T>,
    pub(crate) visible_bias: DVector<T>,
    pub(crate) hidden_bias: DVector<T>,
}

impl<T: Float> LayerParams<T> {
    /// All-zero parameters for `n_visible` visible and `n_hidden` hidden units (both ≥ 1).
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self> {
        if n_visible == 0 {
            return Err(Error::EmptyData {
                what: "visible layer (n_visible = 0)",
            });
        }
        if n_hidden == 0 {
            return Err(Error::EmptyData {
                what: "hidden layer (n_hidden = 0)",
            });
        }
        if n_visible
            .checked_mul(n_hidden)
            .is_none_or(|n| n > isize::MAX as usize / 8)
        {
            return Err(Error::InvalidParameter {
                name: "n_visible × n_hidden",
                reason: format!("{n_visible} × {n_hidden} weights cannot be allocated"),
            });
        }
        Ok(Self {
            weights: try_zeros("n_visible × n_hidden weights", n_hidden, n_visible)?,
            visible_bias: DVector::zeros(n_visible),
            hidden_bias: DVector::zeros(n_hidden),
        })
    }

    /// Checked parameters: `weights` is `n_hidden × n_visible` (both ≥ 1), `visible_bias` has
    /// length `n_visible`, `hidden_bias` length `n_hidden`; all finite.
    pub fn new(
        weights: DMatrix<T>,
        visible_bias: DVector<T>,
        hidden_bias: DVector<T>,
    ) -> Result<Self> {
        let (nh, nv) = weights.shape();
        if nh == 0 || nv == 0 {
            return Err(Error::EmptyData { what: "weights" });
        }
        if visible_bias.len() != nv {
            return Err(Error::ShapeMismatch {
                what: "visible_bias (n_visible)",
                expected: (nv, 1),
                found: (visible_bias.len(), 1),
            });
        }
        if hidden_bias.len() != nh {
            return Err(Error::ShapeMismatch {
                what: "hidden_bias (n_hidden)",
                expected: (nh, 1),
                found: (hidden_bias.len(), 1),
            });
        }
        check_finite("weights", weights.as_slice(), nh)?;
        check_finite("visible_bias", visible_bias.as_slice(), nv)?;
        check_finite("hidden_bias", hidden_bias.as_slice(), nh)?;
        Ok(Self {
            weights,
            visible_bias,
            hidden_bias,
        })
    }

    /// Weights N(0, `std`²) of this shape, drawn as `f64` standard normals from `rng`, one per
    /// weight in column-major order, then scaled and rounded to `T`. An error, not infinities,
    /// when `std` overflows `T`.
    pub(crate) fn random_weights<R: Rng + ?Sized>(
        &self,
        std: f64,
        rng: &mut R,
    ) -> Result<DMatrix<T>> {
        let mut weights = self.weights.clone();
        for w in weights.iter_mut() {
            let z: f64 = StandardNormal.sample(rng);
            *w = T::of_f64(z * std);
        }
        if weights.iter().any(|w| !w.finite()) {
            return Err(Error::InvalidParameter {
                name: "weight_std",
                reason: format!("{std} overflows {} for some initial weights", T::NAME),
            });
        }
        Ok(weights)
    }

    /// Weights `W`, `n_hidden × n_visible`: row `j` is the filter of hidden unit `j`.
    pub fn weights(&self) -> &DMatrix<T> {
        &self.weights
    }
    /// Visible biases `b` (length `n_visible`).
    pub fn visible_bias(&self) -> &DVector<T> {
        &self.visible_bias
    }
    /// Hidden biases `c` (length `n_hidden`).
    pub fn hidden_bias(&self) -> &DVector<T> {
        &self.hidden_bias
    }
}

impl<T: Float> Parameters for LayerParams<T> {
    type Scalar = T;
    fn n_blocks(&self) -> usize {
        3
    }
    fn block_name(&self, i: usize) -> &'static str {
        ["weights", "visible_bias", "hidden_bias"][i]
    }
    fn block_kind(&self, i: usize) -> BlockKind {
        if i == 0 {
            BlockKind::Weights
        } else {
            BlockKind::Bias
        }
    }
    fn block(&self, i: usize) -> &[T] {
        match i {
            0 => self.weights.as_slice(),
            1 => self.visible_bias.as_slice(),
            _ => self.hidden_bias.as_slice(),
        }
    }
    fn block_mut(&mut self, i: usize) -> &mut [T] {
        match i {
            0 => self.weights.as_mut_slice(),
            1 => self.visible_bias.as_mut_slice(),
            _ => self.hidden_bias.as_mut_slice(),
        }
    }
    fn zeros_like(&self) -> Self {
        Self {
            weights: DMatrix::zeros(self.weights.nrows(), self.weights.ncols()),
            visible_bias: DVector::zeros(self.visible_bias.len()),
            hidden_bias: DVector::zeros(self.hidden_bias.len()),
        }
    }
}

/// A `rows × cols` zero matrix, or [`Error::InvalidParameter`] named `what` when its size
/// overflows or the allocator refuses the memory (instead of aborting the process).
pub(crate) fn try_zeros<T: Float>(
    what: &'static str,
    rows: usize,
    cols: usize,
) -> Result<DMatrix<T>> {
    let refuse = |detail: String| Error::InvalidParameter {
        name: what,
        reason: format!("a {rows} × {cols} matrix cannot be allocated: {detail}"),
    };
    let n = rows
        .checked_mul(cols)
        .filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<T>())
        .ok_or_else(|| refuse("its size overflows".into()))?;
    let mut probe: Vec<T> = Vec::new();
    probe
        .try_reserve_exact(n)
        .map_err(|e| refuse(format!("{e}")))?;
    drop(probe);
    Ok(DMatrix::zeros(rows, cols))
}

//! Parameter sets as ordered, named blocks, so that one update rule, one divergence check and
//! one finite-difference tool serve every model.

use crate::Float;

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
    /// The parameters, mutably (their shapes cannot change through this).
    fn params_mut(&mut self) -> &mut Self::Params;
}

//! The crate's one error type.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `rbms`.
///
/// Every public function that takes user input returns one of these instead of panicking.
/// The enum is `#[non_exhaustive]`: new variants may be added in minor releases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A matrix or vector had the wrong shape.
    #[error("shape mismatch for {what}: expected {expected:?}, found {found:?} (rows, columns)")]
    ShapeMismatch {
        /// What was being checked.
        what: &'static str,
        /// The shape that was required, as (rows, columns).
        expected: (usize, usize),
        /// The shape that was given, as (rows, columns).
        found: (usize, usize),
    },
    /// A data set, matrix or model dimension was empty.
    #[error("empty input: {what}")]
    EmptyData {
        /// What was empty.
        what: &'static str,
    },
    /// A value was NaN or infinite.
    #[error("non-finite value {value} in {what} at sample {sample}, feature {feature}")]
    NonFinite {
        /// What held the value.
        what: &'static str,
        /// Index of the sample (column of the sample matrix; row of a row-major input).
        sample: usize,
        /// Index of the feature within the sample.
        feature: usize,
        /// The offending value.
        value: f64,
    },
    /// A value outside `[0, 1]` where probabilities are needed (Bernoulli units,
    /// cross-entropy targets).
    #[error("{what} must lie in [0, 1], found {value} at sample {sample}, feature {feature}")]
    OutsideUnitInterval {
        /// What held the value.
        what: &'static str,
        /// Index of the sample.
        sample: usize,
        /// Index of the feature within the sample.
        feature: usize,
        /// The offending value.
        value: f64,
    },
    /// Learning rate not finite or not strictly positive.
    #[error("learning rate must be finite and > 0, got {0}")]
    InvalidLearningRate(f64),
    /// Momentum outside `[0, 1)`.
    #[error("momentum must lie in [0, 1), got {0}")]
    InvalidMomentum(f64),
    /// A decay or penalty weight that is negative or not finite.
    #[error("{name} must be finite and >= 0, got {value}")]
    InvalidPenalty {
        /// Which penalty (`weight_decay`, `l1`, ...).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The number of Gibbs steps `k` of CD-k / PCD-k was zero.
    #[error("the number of Gibbs steps k must be >= 1, got 0")]
    ZeroGibbsSteps,
    /// The number of persistent chains was zero.
    #[error("the number of persistent chains must be >= 1, got 0")]
    ZeroChains,
    /// The minibatch size was zero.
    #[error("batch size must be >= 1, got 0")]
    ZeroBatchSize,
    /// The minibatch size exceeds the number of samples.
    #[error("batch size {batch_size} is larger than the data set ({n_samples} samples)")]
    BatchLargerThanData {
        /// The batch size asked for.
        batch_size: usize,
        /// The number of samples available.
        n_samples: usize,
    },
    /// Some other hyper-parameter broke its rule.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The rule it broke, with the value.
        reason: String,
    },
    /// Training produced a non-finite update (or, for [`Sgd`](crate::Sgd), a non-finite
    /// objective, `block = "objective"`). The model keeps its last finite parameters. Only
    /// overflow is detected: a run whose parameters grow large but stay finite is not stopped;
    /// watch the metrics (or an observer) for that.
    #[error("training diverged at epoch {epoch}, batch {batch}: non-finite {block}; the model keeps its last good parameters")]
    Diverged {
        /// Epoch (0-based) at which the update failed.
        epoch: usize,
        /// Minibatch (0-based, within the epoch) at which the update failed.
        batch: usize,
        /// The parameter block whose update was not finite.
        block: &'static str,
    },
    /// An exact computation would enumerate too many states.
    #[error("exact enumeration of 2^{units} states (the smaller layer has {units} units) is beyond the limit of {limit} units; use an estimate such as AIS")]
    TooLargeToEnumerate {
        /// Units in the smaller layer.
        units: usize,
        /// The largest number accepted.
        limit: usize,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An IDX file did not start with the expected magic number.
    #[error("{path}: bad IDX magic number {found:#010x} (expected {expected:#010x})")]
    IdxMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number required.
        expected: u32,
    },
    /// An IDX file ended before the data its header announces.
    #[error(
        "{path}: truncated IDX file: header announces {expected} bytes of data, found {found}"
    )]
    IdxTruncated {
        /// The file.
        path: PathBuf,
        /// Bytes of payload announced by the header.
        expected: usize,
        /// Bytes of payload present.
        found: usize,
    },
    /// An IDX file had dimensions other than those required.
    #[error("{path}: unexpected IDX dimensions {found:?}: {reason}")]
    IdxDimensions {
        /// The file.
        path: PathBuf,
        /// The dimensions read from the header.
        found: Vec<usize>,
        /// What was required.
        reason: String,
    },
    /// A text data file could not be parsed.
    #[error("cannot parse {what} at line {line}: {reason}")]
    Parse {
        /// Which data.
        what: &'static str,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A saved file is not of the kind expected: its `format` field names another kind of
    /// file (e.g. a model where a checkpoint was expected), or the scalar type differs.
    #[error("not a {expected} file: found {found:?}")]
    Format {
        /// The format required, e.g. `"rbms-rbm"` or `"rbms-rbm (f32)"`.
        expected: String,
        /// The format name found.
        found: String,
    },
    /// A saved file has a format version this crate version does not read.
    #[error(
        "{format} version {found} is not supported (this version of rbms reads version {expected})"
    )]
    VersionMismatch {
        /// The format.
        format: &'static str,
        /// The version in the file.
        found: u64,
        /// The version this crate reads and writes.
        expected: u32,
    },
    /// A saved file could not be decoded: not valid JSON, truncated, or a field of the wrong
    /// type or missing. (Values that decode but break a rule, such as inconsistent shapes or
    /// non-finite parameters, give the rule's own variant, e.g. [`Error::ShapeMismatch`] or
    /// [`Error::NonFinite`].)
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// The format being decoded, e.g. `"rbms-checkpoint"`.
        what: &'static str,
        /// What was wrong, with the position when known.
        reason: String,
    },
    /// A checkpoint does not fit the run it is resumed in (another trainer, batch size, data
    /// set size or model shape).
    #[error("checkpoint does not match the run: {what}: {reason}")]
    ResumeMismatch {
        /// What differs, e.g. `"trainer"`.
        what: &'static str,
        /// The values that differ.
        reason: String,
    },
}

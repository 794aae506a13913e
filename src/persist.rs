//! Saving and loading models, checkpoints and histories (cargo feature `serde`).
//!
//! # The file format
//!
//! A file is a JSON object, an *envelope*:
//!
//! ```text
//! {"format": "rbms-rbm", "version": 1, "scalar": "f32", "payload": { ... }}
//! ```
//!
//! `format` says what the payload is ([`RBM_FORMAT`], [`TIED_AUTOENCODER_FORMAT`],
//! [`CHECKPOINT_FORMAT`], [`ONLINE_CHECKPOINT_FORMAT`], [`HISTORY_FORMAT`]), `version` is the layout's version ([`FORMAT_VERSION`]), `scalar` the
//! model's scalar type. The loaders check all three before decoding the payload: a file of
//! another kind or scalar type is [`Error::Format`], another version
//! [`Error::VersionMismatch`]. Invalid JSON, a truncated file or a field of the wrong type is
//! [`Error::Corrupt`], and so are an unknown field and a number out of the scalar type's range
//! (1e39 in an `f32` file); values that decode but break a rule (weights 3 × 4 with 5 visible
//! biases, a `null` where a number belongs — what `serde_json` writes for NaN and infinities —,
//! an order that is not a permutation) give the rule's own error ([`Error::ShapeMismatch`],
//! [`Error::NonFinite`], ...), because decoding goes through the
//! same checked constructors as the rest of the API: no invalid model or state can be built
//! from a file. No loader panics, whatever the bytes.
//!
//! Parameters are stored as flat arrays of numbers: `weights` is W (`n_hidden × n_visible`)
//! in column-major order, so `weights[i + j·n_hidden] = W[i, j]`, next to `n_visible`,
//! `n_hidden`, `visible_bias` and `hidden_bias`. A checkpoint holds the model, the trainer's
//! name and state (velocity; persistent chains), both generators' 256-bit states, the
//! minibatch order, the epoch and step counters and the metric subset.
//!
//! # Why JSON
//!
//! It is human-readable (a file can be inspected and diffed) and every language reads it; and
//! it round-trips floating-point values exactly: `serde_json` writes each `f32` and `f64` in
//! its shortest decimal form that reads back to the same value, and this crate enables its
//! `float_roundtrip` feature so that reading is correctly rounded too. Every bit of every
//! parameter survives a save and a load, subnormals and ±1e30 included (the crate's tests pin
//! it), which is what bit-exact resumption needs. NaN and infinities cannot be written (they
//! are never in a checked model).
//!
//! # Other formats
//!
//! Every saved type implements `serde::Serialize` and `serde::Deserialize`, so any serde
//! format works: serialise [`Persist::to_envelope`] with it, deserialise an
//! [`Envelope`] and pass it to [`Persist::from_envelope`], which checks the header. (Errors
//! then come as that format's error type, carrying the checked constructor's message.)
//!
//! ```
//! use rbms::persist::Persist;
//! use rbms::{datasets, ContrastiveDivergence, FitConfig, Rbm};
//! let data = datasets::digits_scaled::<f32>().head(100)?;
//! let mut rbm = Rbm::<f32>::new(64, 16)?;
//! rbm.fit(&data, &ContrastiveDivergence::new(1), &FitConfig::default().epochs(1))?;
//! let json = rbm.to_json_string()?;
//! assert!(json.starts_with(r#"{"format":"rbms-rbm","version":1,"scalar":"f32""#));
//! assert_eq!(Rbm::<f32>::from_json_str(&json)?, rbm); // bit for bit
//! // an f32 model is not an f64 one
//! assert!(matches!(Rbm::<f64>::from_json_str(&json), Err(rbms::Error::Format { .. })));
//! # Ok::<(), rbms::Error>(())
//! ```

use crate::autoencoder::{Autoencoder, Decoder, Loss};
use crate::data::{check_finite, Minibatches};
use crate::observe::History;
use crate::params::{LayerParams, Model, Parameters};
use crate::train::{
    CdState, Checkpoint, CheckpointRef, Offsets, OnlineCheckpoint, PcdState, PtState, SgdState,
    SparseState,
};
use crate::units::GaussianParams;
use crate::{Error, Float, GaussianRbm, GaussianSigmaRbm, Rbm, Result, TiedAutoencoder};
use nalgebra::{DMatrix, DVector};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// The `format` of a saved [`Rbm`].
pub const RBM_FORMAT: &str = "rbms-rbm";
/// The `format` of a saved [`GaussianRbm`].
pub const GAUSSIAN_RBM_FORMAT: &str = "rbms-gaussian-rbm";
/// The `format` of a saved [`GaussianSigmaRbm`].
pub const GAUSSIAN_SIGMA_RBM_FORMAT: &str = "rbms-gaussian-sigma-rbm";
/// The `format` of a saved [`TiedAutoencoder`].
pub const TIED_AUTOENCODER_FORMAT: &str = "rbms-tied-autoencoder";
/// The `format` of a saved checkpoint.
pub const CHECKPOINT_FORMAT: &str = "rbms-checkpoint";
/// The `format` of a saved [`OnlineCheckpoint`].
pub const ONLINE_CHECKPOINT_FORMAT: &str = "rbms-online-checkpoint";
/// The `format` of a saved [`History`].
pub const HISTORY_FORMAT: &str = "rbms-history";
/// The layout version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The on-disk form of a saved value: a header and the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<T> {
    /// What the payload is, e.g. [`RBM_FORMAT`].
    pub format: String,
    /// The layout version, [`FORMAT_VERSION`] when written by this crate.
    pub version: u64,
    /// The scalar type, `"f32"` or `"f64"`.
    pub scalar: String,
    /// The value.
    pub payload: T,
}

/// The header alone (the payload is parsed but ignored).
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u64,
    scalar: String,
}

/// A value that can be saved and loaded with its [`Envelope`]: models, checkpoints and
/// histories. The provided methods read and write JSON; see the [module docs](self).
pub trait Persist: Serialize + DeserializeOwned {
    /// The envelope's `format`.
    const FORMAT: &'static str;
    /// The envelope's `scalar`.
    fn scalar() -> &'static str;

    /// The value in its envelope, borrowed, ready for any serde serialiser.
    fn to_envelope(&self) -> Envelope<&Self> {
        Envelope {
            format: Self::FORMAT.to_string(),
            version: FORMAT_VERSION.into(),
            scalar: Self::scalar().to_string(),
            payload: self,
        }
    }

    /// The value of an envelope decoded by any serde deserialiser, after checking its header
    /// ([`Error::Format`], [`Error::VersionMismatch`]).
    fn from_envelope(envelope: Envelope<Self>) -> Result<Self> {
        check_header(
            &envelope.format,
            envelope.version,
            &envelope.scalar,
            Self::FORMAT,
            Self::scalar(),
        )?;
        Ok(envelope.payload)
    }

    /// The value as a JSON string (compact).
    fn to_json_string(&self) -> Result<String> {
        to_json(&self.to_envelope(), Self::FORMAT)
    }

    /// Reads a value from a JSON string written by [`to_json_string`](Self::to_json_string).
    /// Errors as described in the [module docs](self); never panics.
    fn from_json_str(json: &str) -> Result<Self> {
        from_json(json, Self::FORMAT, Self::scalar())
    }

    /// Writes the value to a JSON file: through a temporary file in the same directory, synced
    /// to disk and renamed into place, so that an interrupted save leaves any previous file
    /// intact (and no temporary file when the save fails).
    fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), &self.to_json_string()?)
    }

    /// Reads a value from a JSON file written by [`save_json`](Self::save_json).
    fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_json_str(&read_file(path.as_ref())?)
    }
}

impl<T: Float> Persist for Rbm<T> {
    const FORMAT: &'static str = RBM_FORMAT;
    fn scalar() -> &'static str {
        T::NAME
    }
}

impl<T: Float> Persist for GaussianRbm<T> {
    const FORMAT: &'static str = GAUSSIAN_RBM_FORMAT;
    fn scalar() -> &'static str {
        T::NAME
    }
}

impl<T: Float> Persist for GaussianSigmaRbm<T> {
    const FORMAT: &'static str = GAUSSIAN_SIGMA_RBM_FORMAT;
    fn scalar() -> &'static str {
        T::NAME
    }
}

impl<T: Float> Persist for TiedAutoencoder<T> {
    const FORMAT: &'static str = TIED_AUTOENCODER_FORMAT;
    fn scalar() -> &'static str {
        T::NAME
    }
}

impl<M, S> Persist for Checkpoint<M, S>
where
    M: Model + Serialize + DeserializeOwned,
    S: Serialize + DeserializeOwned,
{
    const FORMAT: &'static str = CHECKPOINT_FORMAT;
    fn scalar() -> &'static str {
        <M::Scalar as Float>::NAME
    }
}

impl<M, S> Persist for OnlineCheckpoint<M, S>
where
    M: Model + Serialize + DeserializeOwned,
    S: Serialize + DeserializeOwned,
{
    const FORMAT: &'static str = ONLINE_CHECKPOINT_FORMAT;
    fn scalar() -> &'static str {
        <M::Scalar as Float>::NAME
    }
}

/// Metrics are `f64` whatever the model's scalar type.
impl Persist for History {
    const FORMAT: &'static str = HISTORY_FORMAT;
    fn scalar() -> &'static str {
        "f64"
    }
}

/// Serialised as its [`CheckpointRef`].
impl<M: Serialize, S: Serialize> Serialize for Checkpoint<M, S> {
    fn serialize<Se: Serializer>(&self, serializer: Se) -> std::result::Result<Se::Ok, Se::Error> {
        self.as_ref().serialize(serializer)
    }
}

impl<M: Model + Serialize, S: Serialize> CheckpointRef<'_, M, S> {
    /// The checkpoint as a JSON string, identical to what
    /// [`Checkpoint::to_json_string`](Persist::to_json_string) gives for the owned copy.
    pub fn to_json_string(&self) -> Result<String> {
        let envelope = Envelope {
            format: CHECKPOINT_FORMAT.to_string(),
            version: FORMAT_VERSION.into(),
            scalar: <M::Scalar as Float>::NAME.to_string(),
            payload: self,
        };
        to_json(&envelope, CHECKPOINT_FORMAT)
    }

    /// Writes the checkpoint to a JSON file, as [`Persist::save_json`] does; read it back with
    /// [`Checkpoint::load_json`](Persist::load_json).
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), &self.to_json_string()?)
    }
}

/// A checkpoint sink for [`fit_checkpointed`](crate::train::fit_checkpointed) that writes each
/// checkpoint to the JSON file `path` (replacing the previous one).
///
/// ```
/// use rbms::persist::{json_checkpoints, Persist};
/// use rbms::train::{fit_checkpointed, resume, CheckpointOf};
/// use rbms::{datasets, ContrastiveDivergence, FitConfig, MetricsConfig, Rbm};
/// let data = datasets::digits_scaled::<f64>().head(100)?;
/// let cd = ContrastiveDivergence::new(1);
/// let config = FitConfig::default().epochs(4).metrics(MetricsConfig::none());
/// let path = std::env::temp_dir().join(format!("rbms-doc-{}.json", std::process::id()));
/// let mut rbm = Rbm::<f64>::new(64, 8)?;
/// fit_checkpointed(&mut rbm, &data, &cd, &config.clone().epochs(2), &mut (), 2, json_checkpoints(&path))?;
/// let checkpoint = CheckpointOf::<Rbm<f64>, ContrastiveDivergence>::load_json(&path)?;
/// assert_eq!(checkpoint.epochs_done(), 2);
/// resume(&mut rbm, checkpoint, &data, &cd, &config, &mut ())?; // epochs 2 and 3
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn json_checkpoints<M, S>(
    path: impl Into<PathBuf>,
) -> impl FnMut(&CheckpointRef<'_, M, S>) -> Result<()>
where
    M: Model + Serialize,
    S: Serialize,
{
    let path = path.into();
    move |checkpoint| checkpoint.save_json(&path)
}

fn check_header(
    format: &str,
    version: u64,
    scalar: &str,
    expected: &'static str,
    expected_scalar: &'static str,
) -> Result<()> {
    if format != expected {
        return Err(Error::Format {
            expected: expected.to_string(),
            found: format.to_string(),
        });
    }
    if version != u64::from(FORMAT_VERSION) {
        return Err(Error::VersionMismatch {
            format: expected,
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    if scalar != expected_scalar {
        return Err(Error::Format {
            expected: format!("{expected} ({expected_scalar})"),
            found: format!("{format} ({scalar})"),
        });
    }
    Ok(())
}

fn to_json<T: Serialize + ?Sized>(value: &T, what: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Corrupt {
        what,
        reason: format!("cannot encode: {e}"),
    })
}

fn from_json<T: DeserializeOwned>(
    json: &str,
    format: &'static str,
    scalar: &'static str,
) -> Result<T> {
    let corrupt = |e: serde_json::Error| Error::Corrupt {
        what: format,
        reason: e.to_string(),
    };
    let header: Header = serde_json::from_str(json).map_err(corrupt)?;
    check_header(
        &header.format,
        header.version,
        &header.scalar,
        format,
        scalar,
    )?;
    CHECK_ERROR.with(|c| c.borrow_mut().take());
    let envelope = serde_json::from_str::<Envelope<T>>(json);
    let rule_broken = CHECK_ERROR.with(|c| c.borrow_mut().take());
    match (envelope, rule_broken) {
        (Ok(envelope), _) => Ok(envelope.payload),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(corrupt(e)),
    }
}

fn read_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| Error::Corrupt {
        what: "file",
        reason: format!("{} is not UTF-8 text (JSON): {e}", path.display()),
    })
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SAVES: AtomicU64 = AtomicU64::new(0);
    // A temporary name of this process and save, in the target's directory (so the rename
    // stays on one file system); written, synced to disk, then renamed over the target.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = PathBuf::from(tmp);
    let write_error = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(contents.as_bytes())?;
        f.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result.map_err(write_error)
}

thread_local! {
    /// The first rule a value broke while being decoded on this thread. serde's errors carry
    /// only a message, so the checked constructors leave their typed error here for
    /// [`from_json`] to return.
    static CHECK_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// A checked constructor's result as a deserialiser's result, keeping the typed error.
fn checked<T, E: serde::de::Error>(result: Result<T>) -> std::result::Result<T, E> {
    result.map_err(|e| {
        let message = e.to_string();
        CHECK_ERROR.with(|c| {
            c.borrow_mut().get_or_insert(e);
        });
        E::custom(message)
    })
}

// ---- generators ----------------------------------------------------------------------------

/// The 256-bit state of a [`RunRng`](crate::train::RunRng), as `rand_xoshiro` writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRng {
    s: [u64; 4],
}

/// Reads a generator's state, refusing the all-zero state (Xoshiro's only invalid one: it
/// would output 0 for ever, and a shuffle drawing from it would never end).
pub(crate) fn checked_rng<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<crate::train::RunRng, D::Error> {
    use rand::SeedableRng;
    let raw = RawRng::deserialize(deserializer)?;
    if raw.s == [0; 4] {
        return checked(Err(Error::Corrupt {
            what: CHECKPOINT_FORMAT,
            reason: "a generator state of all zeros (Xoshiro256++ cannot leave it)".into(),
        }));
    }
    let mut seed = [0u8; 32];
    for (chunk, word) in seed.chunks_exact_mut(8).zip(raw.s) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    // `from_seed` takes the state as four little-endian words, as is (it replaces only the
    // all-zero seed, refused above).
    Ok(crate::train::RunRng::from_seed(seed))
}

// ---- matrices -------------------------------------------------------------------------------

/// A matrix as rows, columns and column-major values.
#[derive(Serialize)]
struct MatrixRef<'a, T> {
    rows: usize,
    cols: usize,
    data: &'a [T],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<Option<T>>,
}

/// Numbers as read: `null` (what `serde_json` writes for NaN and infinities) becomes NaN, for
/// the checked constructor to refuse as [`Error::NonFinite`].
fn numbers<T: Float>(raw: Vec<Option<T>>) -> Vec<T> {
    raw.into_iter()
        .map(|x| x.unwrap_or_else(|| T::of_f64(f64::NAN)))
        .collect()
}

impl<'a, T: Float> MatrixRef<'a, T> {
    fn of(m: &'a DMatrix<T>) -> Self {
        Self {
            rows: m.nrows(),
            cols: m.ncols(),
            data: m.as_slice(),
        }
    }
}

/// Checks the length and finiteness of a matrix's values.
fn matrix<T: Float>(what: &'static str, raw: RawMatrix<T>) -> Result<DMatrix<T>> {
    let (rows, cols) = (raw.rows, raw.cols);
    if rows.checked_mul(cols) != Some(raw.data.len()) {
        return Err(Error::ShapeMismatch {
            what,
            expected: (rows, cols),
            found: (raw.data.len(), 1),
        });
    }
    let data = numbers(raw.data);
    check_finite(what, &data, rows)?;
    Ok(DMatrix::from_vec(rows, cols, data))
}

// ---- parameters and models -----------------------------------------------------------------

#[derive(Serialize)]
struct LayerParamsRef<'a, T> {
    n_visible: usize,
    n_hidden: usize,
    weights: &'a [T],
    visible_bias: &'a [T],
    hidden_bias: &'a [T],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayerParams<T> {
    n_visible: usize,
    n_hidden: usize,
    weights: Vec<Option<T>>,
    visible_bias: Vec<Option<T>>,
    hidden_bias: Vec<Option<T>>,
}

impl<T: Float> Serialize for LayerParams<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        LayerParamsRef {
            n_visible: self.weights.ncols(),
            n_hidden: self.weights.nrows(),
            weights: self.weights.as_slice(),
            visible_bias: self.visible_bias.as_slice(),
            hidden_bias: self.hidden_bias.as_slice(),
        }
        .serialize(serializer)
    }
}

impl<T: Float> RawLayerParams<T> {
    /// Through [`LayerParams::new`]: shapes consistent, values finite.
    fn check(self) -> Result<LayerParams<T>> {
        let (nv, nh) = (self.n_visible, self.n_hidden);
        if nh.checked_mul(nv) != Some(self.weights.len()) {
            return Err(Error::ShapeMismatch {
                what: "weights (n_hidden × n_visible)",
                expected: (nh, nv),
                found: (self.weights.len(), 1),
            });
        }
        LayerParams::new(
            DMatrix::from_vec(nh, nv, numbers(self.weights)),
            DVector::from_vec(numbers(self.visible_bias)),
            DVector::from_vec(numbers(self.hidden_bias)),
        )
    }
}

impl<'de, T: Float> Deserialize<'de> for LayerParams<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        checked(RawLayerParams::<T>::deserialize(deserializer)?.check())
    }
}

#[derive(Serialize)]
#[serde(bound = "")]
struct RbmRef<'a, T: Float> {
    params: &'a LayerParams<T>,
}

#[derive(Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
struct RawRbm<T: Float> {
    params: LayerParams<T>,
}

impl<T: Float> Serialize for Rbm<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        RbmRef {
            params: self.params(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for Rbm<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let p = RawRbm::<T>::deserialize(deserializer)?.params;
        checked(Rbm::from_parameters(
            p.weights,
            p.visible_bias,
            p.hidden_bias,
        ))
    }
}

#[derive(Serialize)]
#[serde(bound = "")]
struct GaussianParamsRef<'a, T: Float> {
    layer: &'a LayerParams<T>,
    log_sigma: &'a [T],
}

#[derive(Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
struct RawGaussianParams<T: Float> {
    layer: LayerParams<T>,
    log_sigma: Vec<Option<T>>,
}

/// `{"layer": <LayerParams>, "log_sigma": [...]}`.
impl<T: Float> Serialize for GaussianParams<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        GaussianParamsRef {
            layer: self.layer(),
            log_sigma: self.log_sigma().as_slice(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for GaussianParams<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawGaussianParams::<T>::deserialize(deserializer)?;
        checked(GaussianParams::new(
            raw.layer,
            DVector::from_vec(numbers(raw.log_sigma)),
        ))
    }
}

#[derive(Serialize)]
struct GaussianRbmRef<'a, P> {
    params: &'a P,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGaussianRbm<P> {
    params: P,
}

/// `{"params": <LayerParams>}`, as [`Rbm`]'s payload (the envelope's format tells them apart).
impl<T: Float> Serialize for GaussianRbm<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        GaussianRbmRef {
            params: self.params(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for GaussianRbm<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawGaussianRbm::<LayerParams<T>>::deserialize(deserializer)?;
        Ok(GaussianRbm::with_params(raw.params))
    }
}

/// `{"params": <GaussianParams>}`.
impl<T: Float> Serialize for GaussianSigmaRbm<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        GaussianRbmRef {
            params: self.params(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for GaussianSigmaRbm<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawGaussianRbm::<GaussianParams<T>>::deserialize(deserializer)?;
        Ok(GaussianSigmaRbm::with_params(raw.params))
    }
}

#[derive(Serialize)]
#[serde(bound = "")]
struct TiedRef<'a, T: Float> {
    params: &'a LayerParams<T>,
    decoder: Decoder,
    loss: Loss,
}

#[derive(Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
struct RawTied<T: Float> {
    params: LayerParams<T>,
    decoder: Decoder,
    loss: Loss,
}

impl<T: Float> Serialize for TiedAutoencoder<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        TiedRef {
            params: self.params(),
            decoder: self.decoder(),
            loss: self.loss_kind(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for TiedAutoencoder<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawTied::<T>::deserialize(deserializer)?;
        checked(TiedAutoencoder::from_parameters(
            raw.params,
            raw.decoder,
            raw.loss,
        ))
    }
}

// ---- minibatches ----------------------------------------------------------------------------

#[derive(Serialize)]
struct MinibatchesRef<'a> {
    order: &'a [usize],
    batch_size: usize,
    drop_last: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMinibatches {
    order: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
}

impl Serialize for Minibatches {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        MinibatchesRef {
            order: self.order(),
            batch_size: self.batch_size(),
            drop_last: self.drop_last(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Minibatches {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawMinibatches::deserialize(deserializer)?;
        checked(Minibatches::from_order(
            raw.order,
            raw.batch_size,
            raw.drop_last,
        ))
    }
}

// ---- trainer states -------------------------------------------------------------------------

#[derive(Serialize)]
struct VelocityRef<'a, P> {
    velocity: &'a P,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVelocity<P> {
    velocity: P,
}

/// Velocity only: the other buffers are workspaces, rebuilt at the first step.
impl<P: Parameters + Serialize> Serialize for CdState<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        VelocityRef {
            velocity: self.velocity(),
        }
        .serialize(serializer)
    }
}

impl<'de, P: Parameters + Deserialize<'de>> Deserialize<'de> for CdState<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawVelocity::<P>::deserialize(deserializer)?;
        Ok(CdState::from_velocity(raw.velocity))
    }
}

#[derive(Serialize)]
struct PcdRef<'a, P, T> {
    velocity: &'a P,
    chain_hidden: MatrixRef<'a, T>,
    chain_visible: MatrixRef<'a, T>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPcd<P, T> {
    velocity: P,
    chain_hidden: RawMatrix<T>,
    chain_visible: RawMatrix<T>,
}

/// Velocity and the chains' hidden and visible states.
impl<P: Parameters + Serialize> Serialize for PcdState<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        PcdRef {
            velocity: self.velocity(),
            chain_hidden: MatrixRef::of(self.chain_hidden_states()),
            chain_visible: MatrixRef::of(self.chain_visible_states()),
        }
        .serialize(serializer)
    }
}

impl<'de, P: Parameters + Deserialize<'de>> Deserialize<'de> for PcdState<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawPcd::<P, P::Scalar>::deserialize(deserializer)?;
        let hidden = checked(matrix("chain_hidden", raw.chain_hidden))?;
        let visible = checked(matrix("chain_visible", raw.chain_visible))?;
        if hidden.ncols() != visible.ncols() {
            return checked(Err(Error::ShapeMismatch {
                what: "chain_visible (one column per chain)",
                expected: (visible.nrows(), hidden.ncols()),
                found: visible.shape(),
            }));
        }
        Ok(PcdState::from_chains(raw.velocity, hidden, visible))
    }
}

/// Velocity only: the gradient, corrupted batch and workspace are rebuilt at the first step.
impl<P: Parameters + Serialize, W> Serialize for SgdState<P, W> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        VelocityRef {
            velocity: self.velocity(),
        }
        .serialize(serializer)
    }
}

impl<'de, P: Parameters + Deserialize<'de>, W: Default> Deserialize<'de> for SgdState<P, W> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawVelocity::<P>::deserialize(deserializer)?;
        Ok(SgdState::from_velocity(raw.velocity))
    }
}

#[derive(Serialize)]
struct PtRef<'a, P, T> {
    velocity: &'a P,
    betas: &'a [f64],
    chains: usize,
    chain_visible: MatrixRef<'a, T>,
    chain_hidden: MatrixRef<'a, T>,
    swaps_accepted: &'a [u64],
    swaps_attempted: &'a [u64],
    visible_offset: Option<&'a [T]>,
    hidden_offset: Option<&'a [T]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPt<P, T> {
    velocity: P,
    betas: Vec<f64>,
    chains: usize,
    chain_visible: RawMatrix<T>,
    chain_hidden: RawMatrix<T>,
    swaps_accepted: Vec<u64>,
    swaps_attempted: Vec<u64>,
    visible_offset: Option<Vec<Option<T>>>,
    hidden_offset: Option<Vec<Option<T>>>,
}

/// Velocity, ladder, every chain's visible and hidden states, swap counts and the centering
/// offsets; the workspaces are rebuilt.
impl<T: Float> Serialize for PtState<LayerParams<T>> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        PtRef {
            velocity: self.velocity(),
            betas: self.betas(),
            chains: self.chains_per_temperature(),
            chain_visible: MatrixRef::of(self.chain_visible_states()),
            chain_hidden: MatrixRef::of(self.chain_hidden_states()),
            swaps_accepted: self.swaps_accepted(),
            swaps_attempted: self.swaps_attempted(),
            visible_offset: self.offsets().map(|o| o.visible().as_slice()),
            hidden_offset: self.offsets().map(|o| o.hidden().as_slice()),
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for PtState<LayerParams<T>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawPt::<LayerParams<T>, T>::deserialize(deserializer)?;
        let betas = checked(crate::train::Ladder::Betas(raw.betas).betas())?;
        let visible = checked(matrix("chain_visible", raw.chain_visible))?;
        let hidden = checked(matrix("chain_hidden", raw.chain_hidden))?;
        let cols = betas.len().checked_mul(raw.chains);
        for (what, m) in [
            ("chain_visible (temperatures × chains columns)", &visible),
            ("chain_hidden (temperatures × chains columns)", &hidden),
        ] {
            if Some(m.ncols()) != cols {
                return checked(Err(Error::ShapeMismatch {
                    what,
                    expected: (m.nrows(), cols.unwrap_or(usize::MAX)),
                    found: m.shape(),
                }));
            }
        }
        for (what, counts) in [
            ("swaps_accepted", &raw.swaps_accepted),
            ("swaps_attempted", &raw.swaps_attempted),
        ] {
            if counts.len() != betas.len() - 1 {
                return checked(Err(Error::ShapeMismatch {
                    what,
                    expected: (betas.len() - 1, 1),
                    found: (counts.len(), 1),
                }));
            }
        }
        if raw
            .swaps_accepted
            .iter()
            .zip(&raw.swaps_attempted)
            .any(|(a, n)| a > n)
        {
            return checked(Err(Error::Corrupt {
                what: "parallel-tempering state",
                reason: "swaps_accepted: more swaps accepted than attempted".into(),
            }));
        }
        let offsets = match (raw.visible_offset, raw.hidden_offset) {
            (None, None) => None,
            (Some(v), Some(h)) => Some(checked(Offsets::new(
                DVector::from_vec(numbers(v)),
                DVector::from_vec(numbers(h)),
            ))?),
            _ => {
                return checked(Err(Error::Corrupt {
                    what: "parallel-tempering state",
                    reason: "visible_offset and hidden_offset must be both present or both absent"
                        .into(),
                }))
            }
        };
        Ok(PtState::from_parts(
            raw.velocity,
            betas,
            raw.chains,
            visible,
            hidden,
            raw.swaps_accepted,
            raw.swaps_attempted,
            offsets,
        ))
    }
}

#[derive(Serialize)]
struct SparseRef<'a, S, T> {
    inner: &'a S,
    mean_activity: &'a [T],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSparse<S, T> {
    inner: S,
    mean_activity: Vec<Option<T>>,
}

/// The wrapped trainer's state and the moving averages of the hidden activations.
impl<S: Serialize, T: Float> Serialize for SparseState<S, T> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> std::result::Result<Z::Ok, Z::Error> {
        SparseRef {
            inner: self.inner(),
            mean_activity: self.mean_activity().as_slice(),
        }
        .serialize(serializer)
    }
}

impl<'de, S: Deserialize<'de>, T: Float> Deserialize<'de> for SparseState<S, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawSparse::<S, T>::deserialize(deserializer)?;
        let q = numbers(raw.mean_activity);
        checked(check_finite("mean_activity", &q, q.len()))?;
        Ok(SparseState::from_parts(raw.inner, DVector::from_vec(q)))
    }
}

impl History {
    /// The history as JSON, in its [`Envelope`] (see [`Persist`]).
    pub fn to_json(&self) -> Result<String> {
        self.to_json_string()
    }
}

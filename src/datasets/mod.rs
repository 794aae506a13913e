//! Ready-made data sets: the embedded 8×8 digits and a reader for IDX files such as MNIST.
//!
//! * [`digits`] / [`digits_scaled`]: 1797 handwritten digits of 8×8 = 64 features, embedded in
//!   the crate, so they need no file and no network. Labels 0..9 are attached.
//! * [`mnist`]: the 60 000 + 10 000 MNIST images of 28×28 pixels, read from a directory holding
//!   the four standard IDX files (gzip-compressed or not).
//! * [`read_idx`] / [`parse_idx`]: the IDX container itself (unsigned-byte arrays of any rank),
//!   with [`read_idx_images`] and [`read_idx_labels`] for the 3-d image / 1-d label layouts.
//! * [`idx_image_chunks`]: the images of an IDX file a chunk at a time, in memory bounded by
//!   one chunk, for training on files larger than memory.
//!
//! Every loader returns samples as [`Dataset`]s, one sample per column.
//!
//! ```
//! use rbms::datasets;
//! let digits = datasets::digits_scaled::<f32>();
//! assert_eq!((digits.n_samples(), digits.n_features()), (1797, 64));
//! assert_eq!(digits.labels().map(|l| l[0]), Some(0));
//! ```
//!
//! # Attribution of the digits data
//!
//! The digits are the data set "Optical Recognition of Handwritten Digits" of the
//! UCI Machine Learning Repository, created by E. Alpaydin and C. Kaynak, Bogazici University,
//! 1998, and licensed under the Creative Commons Attribution 4.0 International license
//! (CC BY 4.0, <https://creativecommons.org/licenses/by/4.0/>). The embedded file
//! `digits.csv.gz` is the copy distributed with scikit-learn (its `load_digits` set, copied
//! byte for byte from scikit-learn 1.9.1, which is licensed BSD-3-Clause); scikit-learn
//! describes it as a copy of the test set of the UCI data. Each value is the number of set
//! pixels in a 4×4 block of a 32×32 binary bitmap, hence 0..=16. See also
//! `src/datasets/DIGITS_ATTRIBUTION.md`.
//!
//! MNIST is not embedded; [`mnist`] reads files the user supplies.

use crate::{Dataset, Error, Float, Result};
use flate2::read::MultiGzDecoder;
use nalgebra::DMatrix;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

mod stream;
pub use stream::{idx_image_chunks, IdxImageChunks};

/// The gzip-compressed CSV of the digits (1797 lines of 64 features and a label).
const DIGITS_GZ: &[u8] = include_bytes!("digits.csv.gz");
/// The name used for the embedded file in error messages.
const DIGITS_NAME: &str = "<embedded digits.csv.gz>";
/// Features per digit (8×8).
const DIGITS_FEATURES: usize = 64;
/// Largest feature value of the digits (a count of pixels in a 4×4 block).
const DIGITS_MAX: u8 = 16;

/// The UCI optical digits (scikit-learn's `load_digits`): 1797 samples of 64 features with raw
/// values `0..=16` (not scaled), labels `0..=9` attached.
///
/// Sample `i` is line `i` of the data file; feature `8 * row + col` is pixel (`row`, `col`) of
/// the 8×8 image. The data are embedded in the crate and decompressed on every call (a few
/// milliseconds); keep the result if you need it more than once. See the
/// [module documentation](self) for the attribution (CC BY 4.0).
///
/// ```
/// let d = rbms::datasets::digits::<f64>();
/// assert_eq!((d.n_samples(), d.n_features()), (1797, 64));
/// assert_eq!(&d.sample(0).unwrap().as_slice()[..6], &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0]);
/// assert_eq!(d.samples().max(), 16.0);
/// assert_eq!(d.labels().unwrap().len(), 1797);
/// ```
pub fn digits<T: Float>() -> Dataset<T> {
    embedded_digits(1.0)
}

/// The digits of [`digits`] divided by 16, so that every value lies in `[0, 1]` (ready for
/// Bernoulli visible units). Labels are attached.
///
/// ```
/// let d = rbms::datasets::digits_scaled::<f32>();
/// assert_eq!(d.samples().max(), 1.0);
/// assert!(d.check_unit_interval("digits").is_ok());
/// ```
pub fn digits_scaled<T: Float>() -> Dataset<T> {
    embedded_digits(1.0 / DIGITS_MAX as f64)
}

/// The embedded digits with every value multiplied by `scale`.
fn embedded_digits<T: Float>(scale: f64) -> Dataset<T> {
    // The embedded file is fixed at compile time; the unit test `embedded_digits_parse`
    // proves that it parses, so this cannot fail at run time.
    try_digits(scale).expect("the embedded digits.csv.gz is valid")
}

/// Decompresses and parses the embedded digits.
fn try_digits<T: Float>(scale: f64) -> Result<Dataset<T>> {
    let text = gunzip(DIGITS_GZ, Path::new(DIGITS_NAME))?;
    let text = std::str::from_utf8(&text).map_err(|e| Error::Parse {
        what: "digits.csv",
        line: 1 + text[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        reason: format!("not UTF-8: {e}"),
    })?;
    let (values, labels) = parse_digits_csv(text)?;
    let lut: Vec<T> = (0..=DIGITS_MAX)
        .map(|v| T::of_f64(f64::from(v) * scale))
        .collect();
    let values: Vec<T> = values.iter().map(|&v| lut[usize::from(v)]).collect();
    // Row-major n_samples × 64 is column-major 64 × n_samples: one sample per column.
    Dataset::from_columns(DMatrix::from_vec(DIGITS_FEATURES, labels.len(), values))?
        .with_labels(labels)
}

/// Parses the digits CSV: lines of 64 features in `0..=16` and a label in `0..=9`, separated by
/// commas. Blank lines and surrounding whitespace (including `\r`) are ignored; a value may be
/// written as an integer (`5`) or an integral decimal (`5.0`). Returns the features row-major
/// (sample after sample) and the labels.
fn parse_digits_csv(text: &str) -> Result<(Vec<u8>, Vec<u32>)> {
    let mut values = Vec::with_capacity(1797 * DIGITS_FEATURES);
    let mut labels = Vec::with_capacity(1797);
    let err = |line: usize, reason: String| Error::Parse {
        what: "digits.csv",
        line,
        reason,
    };
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut n_fields = 0;
        for (col, field) in line.split(',').enumerate() {
            n_fields += 1;
            if col > DIGITS_FEATURES {
                continue; // counted, reported below
            }
            let max = if col < DIGITS_FEATURES { DIGITS_MAX } else { 9 };
            let v = parse_small_int(field.trim(), max)
                .map_err(|reason| err(line_no, format!("column {col}: {reason}")))?;
            if col < DIGITS_FEATURES {
                values.push(v);
            } else {
                labels.push(u32::from(v));
            }
        }
        if n_fields != DIGITS_FEATURES + 1 {
            return Err(err(
                line_no,
                format!(
                    "expected {} comma-separated values (64 features and a label), found {n_fields}",
                    DIGITS_FEATURES + 1
                ),
            ));
        }
    }
    if labels.is_empty() {
        return Err(err(1, "no samples".to_string()));
    }
    Ok((values, labels))
}

/// Parses an integer in `0..=max`, written as `7` or `7.0`.
fn parse_small_int(s: &str, max: u8) -> std::result::Result<u8, String> {
    let v = match s.parse::<u8>() {
        Ok(v) => v,
        Err(_) => match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x.fract() == 0.0 && (0.0..=255.0).contains(&x) => x as u8,
            Ok(x) => return Err(format!("{x} is not an integer in 0..={max}")),
            Err(_) => return Err(format!("{s:?} is not a number")),
        },
    };
    if v > max {
        return Err(format!("{v} is outside 0..={max}"));
    }
    Ok(v)
}

/// An n-dimensional array of unsigned bytes read from an IDX file.
///
/// `data` holds the elements in row-major order (last index fastest), as stored in the file;
/// `dims.iter().product() == data.len()`, every dimension is at least 1, and there is at least
/// one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first (for MNIST images: `[n_images, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// The IDX magic number of an unsigned-byte array with `n_dims` dimensions: `0x0000_08NN`.
fn ubyte_magic(n_dims: usize) -> u32 {
    0x0000_0800 | (n_dims as u32 & 0xff)
}

/// Reads an IDX file of unsigned bytes (element type `0x08`), gzip-compressed or not.
///
/// Compression is detected from the content (the gzip magic bytes `1f 8b`), not from the file
/// name, so `train-images-idx3-ubyte` and `train-images-idx3-ubyte.gz` both work whatever they
/// hold. The file must follow the IDX layout: the big-endian magic number `0x0000_08NN`
/// (`NN` = number of dimensions), `NN` big-endian `u32` dimension sizes, then exactly their
/// product of bytes.
///
/// # Errors
///
/// * [`Error::Io`]: the file cannot be read, or its gzip stream is corrupt.
/// * [`Error::IdxMagic`]: the first two bytes are not zero, or the element type is not `0x08`.
///   Other IDX element types (`0x09` i8, `0x0B` i16, `0x0C` i32, `0x0D` f32, `0x0E` f64) are not
///   supported and are reported this way; `expected` is then `0x0000_08NN` with the file's `NN`.
/// * [`Error::IdxTruncated`]: the file ends inside the header (then `expected` and `found` count
///   the bytes of the whole header and of the whole file) or inside the payload (then they count
///   payload bytes).
/// * [`Error::IdxDimensions`]: zero dimensions, a dimension of size 0, a product of dimensions
///   that overflows `usize`, or bytes left over after the payload.
///
/// ```
/// use rbms::{datasets::read_idx, Error};
/// let err = read_idx("no/such/file-idx3-ubyte").unwrap_err();
/// assert!(matches!(err, Error::Io { .. }));
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_idx_owned(bytes, path)
}

/// Parses the bytes of an IDX file (gzip-compressed or not), as [`read_idx`] does;
/// `path_for_errors` only labels the errors.
///
/// ```
/// use rbms::datasets::parse_idx;
/// use std::path::Path;
/// // magic 0x00000803 (unsigned bytes, 3 dimensions), dimensions 2 × 2 × 3, then 12 bytes
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
/// bytes.extend(0..12u8);
/// let a = parse_idx(&bytes, Path::new("example"))?;
/// assert_eq!(a.dims, vec![2, 2, 3]);
/// assert_eq!(a.data, (0..12).collect::<Vec<u8>>());
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn parse_idx(bytes: &[u8], path_for_errors: &Path) -> Result<IdxArray> {
    if is_gzip(bytes) {
        let raw = gunzip(bytes, path_for_errors)?;
        parse_raw_idx(raw, path_for_errors)
    } else {
        let (dims, start) = check_idx_header(bytes, path_for_errors)?;
        Ok(IdxArray {
            dims,
            data: bytes[start..].to_vec(),
        })
    }
}

/// [`parse_idx`] on an owned buffer, reusing it for the payload of an uncompressed file.
fn parse_idx_owned(bytes: Vec<u8>, path: &Path) -> Result<IdxArray> {
    if is_gzip(&bytes) {
        let raw = gunzip(&bytes, path)?;
        drop(bytes);
        parse_raw_idx(raw, path)
    } else {
        parse_raw_idx(bytes, path)
    }
}

/// Parses an uncompressed IDX buffer, keeping the buffer as the payload.
fn parse_raw_idx(mut bytes: Vec<u8>, path: &Path) -> Result<IdxArray> {
    let (dims, start) = check_idx_header(&bytes, path)?;
    bytes.drain(..start);
    Ok(IdxArray { dims, data: bytes })
}

/// Validates an uncompressed IDX buffer; returns the dimensions and the payload's offset.
fn check_idx_header(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, usize)> {
    let truncated = |expected: usize, found: usize| Error::IdxTruncated {
        path: path.to_path_buf(),
        expected,
        found,
    };
    let bad_dims = |found: Vec<usize>, reason: String| Error::IdxDimensions {
        path: path.to_path_buf(),
        found,
        reason,
    };
    if bytes.len() < 4 {
        return Err(truncated(4, bytes.len()));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let n_dims = usize::from(bytes[3]);
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(Error::IdxMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: ubyte_magic(n_dims),
        });
    }
    if n_dims == 0 {
        return Err(bad_dims(
            Vec::new(),
            "the header declares 0 dimensions".to_string(),
        ));
    }
    let header_len = 4 + 4 * n_dims;
    if bytes.len() < header_len {
        return Err(truncated(header_len, bytes.len()));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if let Some(k) = dims.iter().position(|&d| d == 0) {
        return Err(bad_dims(dims, format!("dimension {k} is 0 (empty array)")));
    }
    let Some(n_elements) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        return Err(bad_dims(
            dims,
            "the number of elements overflows usize".to_string(),
        ));
    };
    let payload = bytes.len() - header_len;
    if payload < n_elements {
        return Err(truncated(n_elements, payload));
    }
    if payload > n_elements {
        return Err(bad_dims(
            dims,
            format!(
                "the file holds {} bytes after the {n_elements} bytes the header announces",
                payload - n_elements
            ),
        ));
    }
    Ok((dims, header_len))
}

/// `true` if `bytes` start with the gzip magic number.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses a gzip stream (all members); a corrupt stream is an [`Error::Io`] on `path`.
fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    // The gzip trailer's ISIZE (uncompressed size mod 2^32) sizes the buffer; it is only a
    // hint, capped by deflate's maximum ratio (~1032:1) so that a corrupt trailer cannot
    // trigger a huge allocation.
    let hint = match bytes.len() {
        n if n >= 18 => {
            let t = &bytes[n - 4..];
            (u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize).min(n.saturating_mul(1032))
        }
        n => n,
    };
    let mut out = Vec::with_capacity(hint);
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: io::Error::new(e.kind(), format!("corrupt gzip data: {e}")),
        })?;
    Ok(out)
}

/// Reads an IDX file of images: 3-d, unsigned bytes (magic `0x0000_0803`), `n × rows × cols`.
///
/// Image `i` becomes sample (column) `i`; pixel (`row`, `col`) becomes feature
/// `row * cols + col`, scaled from `0..=255` to `[0, 1]` by dividing by 255.
///
/// # Errors
///
/// Those of [`read_idx`]; an array that is not 3-d is an [`Error::IdxMagic`] (expected
/// `0x0000_0803`).
pub fn read_idx_images<T: Float>(path: impl AsRef<Path>) -> Result<Dataset<T>> {
    let path = path.as_ref();
    let array = read_idx(path)?;
    check_rank(&array, 3, path)?;
    images_to_dataset(array)
}

/// Reads an IDX file of labels: 1-d, unsigned bytes (magic `0x0000_0801`).
///
/// # Errors
///
/// Those of [`read_idx`]; an array that is not 1-d is an [`Error::IdxMagic`] (expected
/// `0x0000_0801`).
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u32>> {
    let path = path.as_ref();
    let array = read_idx(path)?;
    check_rank(&array, 1, path)?;
    Ok(labels_of(array))
}

/// Rejects an array whose rank is not `rank`, as a magic-number mismatch.
fn check_rank(array: &IdxArray, rank: usize, path: &Path) -> Result<()> {
    if array.dims.len() == rank {
        Ok(())
    } else {
        Err(Error::IdxMagic {
            path: path.to_path_buf(),
            found: ubyte_magic(array.dims.len()),
            expected: ubyte_magic(rank),
        })
    }
}

/// Converts a checked 3-d array to a data set with one image per column, scaled by 1/255.
fn images_to_dataset<T: Float>(array: IdxArray) -> Result<Dataset<T>> {
    let n_images = array.dims[0];
    let n_pixels = array.dims[1] * array.dims[2]; // cannot overflow: the product was checked
    let lut: Vec<T> = (0..=255u8)
        .map(|b| T::of_f64(f64::from(b) / 255.0))
        .collect();
    // Row-major n_images × n_pixels is column-major n_pixels × n_images: one image per column.
    let values: Vec<T> = array.data.iter().map(|&b| lut[usize::from(b)]).collect();
    Dataset::from_columns(DMatrix::from_vec(n_pixels, n_images, values))
}

/// The bytes of a checked 1-d array as labels.
fn labels_of(array: IdxArray) -> Vec<u32> {
    array.data.into_iter().map(u32::from).collect()
}

/// The MNIST database of handwritten digits: 60 000 training and 10 000 test images of 28×28
/// pixels, one image per column, pixels scaled to `[0, 1]`, labels `0..=9` attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist<T: Float> {
    /// The training set (`train-*` files).
    pub train: Dataset<T>,
    /// The test set (`t10k-*` files).
    pub test: Dataset<T>,
}

/// Loads MNIST from the directory `dir`.
///
/// `dir` must hold the four IDX files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each either gzip-compressed with a
/// `.gz` suffix (as downloaded) or uncompressed; the dotted spelling `train-images.idx3-ubyte`
/// is accepted too. For each file the names are tried in the order `X-idx3-ubyte.gz`,
/// `X-idx3-ubyte`, `X.idx3-ubyte.gz`, `X.idx3-ubyte`. Compression is detected from the content.
///
/// Images may have any `rows × cols` (feature `row * cols + col`), but train and test must
/// agree, and each image file must hold as many images as its label file holds labels.
/// Pixels are divided by 255 (see [`read_idx_images`]).
///
/// # Errors
///
/// * [`Error::Io`]: `dir` is not a directory, a file is missing (the error names the first
///   name tried and lists the others), or a file cannot be read or decompressed.
/// * [`Error::IdxMagic`]: an image file is not `0x0000_0803` (3-d unsigned bytes) or a label file
///   not `0x0000_0801` (1-d unsigned bytes).
/// * [`Error::IdxTruncated`], [`Error::IdxDimensions`]: as for [`read_idx`]; `IdxDimensions` also
///   when image and label counts differ, or train and test images differ in size.
///
/// ```
/// use rbms::datasets::mnist;
/// match mnist::<f32>("path/to/mnist") {
///     Ok(m) => {
///         assert_eq!(m.train.n_samples(), 60_000);
///         assert_eq!(m.test.n_features(), 784);
///     }
///     // The message names the file that is missing.
///     Err(e) => assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}"),
/// }
/// ```
pub fn mnist<T: Float>(dir: impl AsRef<Path>) -> Result<Mnist<T>> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::Io {
            path: dir.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "MNIST directory not found (it should hold train-images-idx3-ubyte[.gz], \
                 train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and \
                 t10k-labels-idx1-ubyte[.gz])",
            ),
        });
    }
    let (train, train_dims, _) = load_mnist_split(dir, "train")?;
    let (test, test_dims, test_path) = load_mnist_split(dir, "t10k")?;
    if train_dims[1..] != test_dims[1..] {
        return Err(Error::IdxDimensions {
            path: test_path,
            found: test_dims.clone(),
            reason: format!(
                "test images are {}×{} but training images are {}×{}",
                test_dims[1], test_dims[2], train_dims[1], train_dims[2]
            ),
        });
    }
    Ok(Mnist { train, test })
}

/// Loads one split (`"train"` or `"t10k"`): the data set, the image dimensions and the image
/// file's path.
fn load_mnist_split<T: Float>(
    dir: &Path,
    split: &str,
) -> Result<(Dataset<T>, Vec<usize>, PathBuf)> {
    let (image_path, image_bytes) = find_mnist_file(dir, split, "images", 3)?;
    let images = parse_idx_owned(image_bytes, &image_path)?;
    check_rank(&images, 3, &image_path)?;
    let (label_path, label_bytes) = find_mnist_file(dir, split, "labels", 1)?;
    let labels = parse_idx_owned(label_bytes, &label_path)?;
    check_rank(&labels, 1, &label_path)?;
    let (n_images, n_labels) = (images.dims[0], labels.dims[0]);
    if n_images != n_labels {
        return Err(Error::IdxDimensions {
            path: label_path.clone(),
            found: labels.dims.clone(),
            reason: format!(
                "{} holds {n_labels} labels but {} holds {n_images} images; the counts must match",
                label_path.display(),
                image_path.display()
            ),
        });
    }
    let dims = images.dims.clone();
    let data = images_to_dataset(images)?.with_labels(labels_of(labels))?;
    Ok((data, dims, image_path))
}

/// Finds and reads `{split}-{kind}-idx{rank}-ubyte` in `dir`, trying the `.gz` and dotted
/// spellings; returns the path found and the file's bytes.
fn find_mnist_file(dir: &Path, split: &str, kind: &str, rank: usize) -> Result<(PathBuf, Vec<u8>)> {
    let names = [
        format!("{split}-{kind}-idx{rank}-ubyte.gz"),
        format!("{split}-{kind}-idx{rank}-ubyte"),
        format!("{split}-{kind}.idx{rank}-ubyte.gz"),
        format!("{split}-{kind}.idx{rank}-ubyte"),
    ];
    for name in &names {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => return Ok((path, bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path, source }),
        }
    }
    Err(Error::Io {
        path: dir.join(&names[0]),
        source: io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "MNIST file not found: expected {} in {} (also tried {})",
                names[0],
                dir.display(),
                names[1..].join(", ")
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_digits_parse() {
        let d = try_digits::<f64>(1.0).expect("embedded digits parse");
        assert_eq!((d.n_samples(), d.n_features()), (1797, 64));
        assert_eq!(d.labels().map(<[u32]>::len), Some(1797));
        let s = try_digits::<f32>(1.0 / 16.0).expect("embedded digits parse");
        assert_eq!(s.samples().max(), 1.0);
    }

    #[test]
    fn csv_parser_is_tolerant_but_strict_about_values() {
        let mut line: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
        line.push("3".into());
        let good = line.join(",");
        let text = format!("\n{good}\r\n  \n{}\n", good.replace(",3", ", 3.0 "));
        let (values, labels) = parse_digits_csv(&text).unwrap();
        assert_eq!(labels, vec![3, 3]);
        assert_eq!(values.len(), 128);
        assert_eq!(values[16], 16);

        let short = line[1..].join(",");
        match parse_digits_csv(&format!("{good}\n{short}\n")) {
            Err(Error::Parse {
                line: 2, reason, ..
            }) => assert!(reason.contains("found 64")),
            other => panic!("{other:?}"),
        }
        let long = format!("{good},1");
        assert!(matches!(
            parse_digits_csv(&long),
            Err(Error::Parse { line: 1, .. })
        ));
        let big = good.replacen("16", "17", 1);
        assert!(matches!(
            parse_digits_csv(&big),
            Err(Error::Parse { line: 1, .. })
        ));
        let bad_label = good.replace(",3", ",10");
        assert!(matches!(
            parse_digits_csv(&bad_label),
            Err(Error::Parse { .. })
        ));
        let frac = good.replacen("1,", "1.5,", 1);
        assert!(matches!(parse_digits_csv(&frac), Err(Error::Parse { .. })));
        assert!(matches!(parse_digits_csv("\n\n"), Err(Error::Parse { .. })));
    }

    #[test]
    fn header_errors() {
        let p = Path::new("t");
        assert!(matches!(
            check_idx_header(&[0, 0, 8], p),
            Err(Error::IdxTruncated {
                expected: 4,
                found: 3,
                ..
            })
        ));
        match check_idx_header(&[0, 0, 0x0d, 3, 0, 0], p) {
            Err(Error::IdxMagic {
                found, expected, ..
            }) => assert_eq!((found, expected), (0x0000_0d03, 0x0000_0803)),
            other => panic!("{other:?}"),
        }
        let overflow = [
            0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(matches!(
            check_idx_header(&overflow, p),
            Err(Error::IdxDimensions { .. })
        ));
        let extra = [0, 0, 8, 1, 0, 0, 0, 1, 7, 8];
        assert!(matches!(
            check_idx_header(&extra, p),
            Err(Error::IdxDimensions { .. })
        ));
        let ok = [0, 0, 8, 1, 0, 0, 0, 1, 7];
        assert_eq!(check_idx_header(&ok, p).unwrap(), (vec![1], 8));
    }
}

//! Integration tests of `rbms::datasets`: the embedded digits, the IDX reader and MNIST.

use flate2::write::GzEncoder;
use flate2::Compression;
use rbms::datasets::{
    digits, digits_scaled, mnist, parse_idx, read_idx, read_idx_images, read_idx_labels, IdxArray,
};
use rbms::{Dataset, Error};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------
// helpers

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "rbms-datasets-test-{}-{tag}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An IDX file of unsigned bytes: magic 0x000008NN, big-endian dimensions, then `data`.
fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The pixel of image `i` at (`r`, `c`) in the synthetic image files (`cols` = 4): all distinct
/// for up to 10 images of 3 × 4 and different in every position.
fn pixel(i: usize, r: usize, c: usize) -> u8 {
    (i * 12 + r * 4 + c) as u8 * 2 + 1
}

fn images(n: usize, rows: usize, cols: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..n {
        for r in 0..rows {
            for c in 0..cols {
                data.push(pixel(i, r, c));
            }
        }
    }
    idx_bytes(&[n as u32, rows as u32, cols as u32], &data)
}

fn labels(n: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
    idx_bytes(&[n as u32], &data)
}

/// Writes a synthetic MNIST directory (3 × 4 images).
fn write_mnist(dir: &TempDir, n_train: usize, n_train_labels: usize, gz: bool, dotted: bool) {
    let files = [
        ("train-images", "idx3", images(n_train, 3, 4)),
        ("train-labels", "idx1", labels(n_train_labels)),
        ("t10k-images", "idx3", images(2, 3, 4)),
        ("t10k-labels", "idx1", labels(2)),
    ];
    for (stem, kind, bytes) in files {
        let sep = if dotted { '.' } else { '-' };
        let name = format!("{stem}{sep}{kind}-ubyte{}", if gz { ".gz" } else { "" });
        dir.write(&name, &if gz { gzip(&bytes) } else { bytes });
    }
}

fn label_counts(labels: &[u32]) -> [usize; 10] {
    let mut counts = [0; 10];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

fn mean<T: rbms::Float>(d: &Dataset<T>) -> f64 {
    let s = d.samples().as_slice();
    s.iter().map(|x| x.as_f64()).sum::<f64>() / s.len() as f64
}

// ---------------------------------------------------------------------------------------------
// digits

#[test]
fn digits_shape_labels_mean_and_first_sample() {
    let d = digits::<f64>();
    assert_eq!((d.n_samples(), d.n_features()), (1797, 64));
    let labels = d.labels().expect("labels attached");
    assert_eq!(
        label_counts(labels),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert_eq!(&labels[..5], &[0, 1, 2, 3, 4]);
    let m = mean(&d);
    assert!((m - 4.884).abs() < 1e-3, "mean feature value {m}");
    // The first line of digits.csv.gz: 64 features, then the label 0.
    let first: [f64; 64] = [
        0., 0., 5., 13., 9., 1., 0., 0., 0., 0., 13., 15., 10., 15., 5., 0., 0., 3., 15., 2., 0.,
        11., 8., 0., 0., 4., 12., 0., 0., 8., 8., 0., 0., 5., 8., 0., 0., 9., 8., 0., 0., 4., 11.,
        0., 1., 12., 7., 0., 0., 2., 14., 5., 10., 12., 0., 0., 0., 0., 6., 13., 10., 0., 0., 0.,
    ];
    assert_eq!(d.sample(0).unwrap().as_slice(), &first[..]);
    // Second line starts 0,0,0,12,13,5 (checks that samples are columns, not rows).
    assert_eq!(
        &d.sample(1).unwrap().as_slice()[..6],
        &[0., 0., 0., 12., 13., 5.]
    );
    // Raw values are integers in 0..=16, not scaled.
    assert!(d
        .samples()
        .iter()
        .all(|&x| x.fract() == 0.0 && (0.0..=16.0).contains(&x)));
    assert_eq!(d.samples().max(), 16.0);
    // f32 gives the same values.
    assert_eq!(digits::<f32>().cast::<f64>().expect("f32 fits f64"), d);
}

#[test]
fn digits_scaled_is_digits_over_16() {
    let s = digits_scaled::<f64>();
    assert_eq!(s.samples().max(), 1.0);
    assert_eq!(s.samples().min(), 0.0);
    let d = digits::<f64>();
    assert_eq!(s.labels(), d.labels());
    assert_eq!(s.samples(), &d.samples().map(|x| x / 16.0));
    assert_eq!(digits_scaled::<f32>().samples().max(), 1.0f32);
}

// ---------------------------------------------------------------------------------------------
// IDX

#[test]
fn idx_round_trip_and_pixel_placement() {
    let (n, rows, cols) = (3usize, 3usize, 4usize);
    let bytes = images(n, rows, cols);
    let a = parse_idx(&bytes, Path::new("mem")).unwrap();
    assert_eq!(a.dims, vec![n, rows, cols]);
    assert_eq!(a.data, bytes[16..].to_vec());

    let dir = TempDir::new("roundtrip");
    let raw = dir.write("imgs-idx3-ubyte", &bytes);
    let gz = dir.write("imgs-idx3-ubyte.gz", &gzip(&bytes));
    // Compression is detected from content, not from the name.
    let gz_no_suffix = dir.write("imgs-gz-without-suffix", &gzip(&bytes));
    let raw_with_suffix = dir.write("imgs-raw-with-suffix.gz", &bytes);
    for p in [&raw, &gz, &gz_no_suffix, &raw_with_suffix] {
        assert_eq!(read_idx(p).unwrap(), a, "{}", p.display());
    }
    assert_eq!(parse_idx(&gzip(&bytes), Path::new("mem.gz")).unwrap(), a);

    let d = read_idx_images::<f64>(&raw).unwrap();
    assert_eq!((d.n_samples(), d.n_features()), (n, rows * cols));
    assert!(d.labels().is_none());
    for i in 0..n {
        for r in 0..rows {
            for c in 0..cols {
                let expected = f64::from(pixel(i, r, c)) / 255.0;
                assert_eq!(
                    d.samples()[(r * cols + c, i)],
                    expected,
                    "image {i} ({r}, {c})"
                );
                assert_eq!(d.sample(i).unwrap()[r * cols + c], expected);
            }
        }
    }
    assert_eq!(read_idx_images::<f64>(&gz).unwrap(), d);
    let f = read_idx_images::<f32>(&gz).unwrap();
    assert_eq!(
        f.samples()[(5, 2)],
        (f64::from(pixel(2, 1, 1)) / 255.0) as f32
    );
}

#[test]
fn idx_labels_raw_and_gzip() {
    let dir = TempDir::new("labels");
    let bytes = labels(13);
    let raw = dir.write("l-idx1-ubyte", &bytes);
    let gz = dir.write("l-idx1-ubyte.gz", &gzip(&bytes));
    let expected: Vec<u32> = (0..13).map(|i| (i * 7 % 10) as u32).collect();
    assert_eq!(read_idx_labels(&raw).unwrap(), expected);
    assert_eq!(read_idx_labels(&gz).unwrap(), expected);
}

#[test]
fn idx_full_pixel_range_scales_to_unit_interval() {
    let data: Vec<u8> = (0..=255).collect();
    let bytes = idx_bytes(&[1, 16, 16], &data);
    let d = parse_idx(&bytes, Path::new("mem")).unwrap();
    assert_eq!(d.data, data);
    let dir = TempDir::new("range");
    let p = dir.write("x-idx3-ubyte", &bytes);
    let img = read_idx_images::<f32>(&p).unwrap();
    assert_eq!(img.samples().min(), 0.0);
    assert_eq!(img.samples().max(), 1.0);
    assert_eq!(img.samples()[(128, 0)], 128.0f32 / 255.0);
}

#[test]
fn idx_wrong_magic() {
    let mut bytes = images(2, 3, 4);
    bytes[2] = 0x0d; // float elements: unsupported
    match parse_idx(&bytes, Path::new("f")) {
        Err(Error::IdxMagic {
            found, expected, ..
        }) => assert_eq!((found, expected), (0x0000_0d03, 0x0000_0803)),
        other => panic!("{other:?}"),
    }
    // Not an IDX file at all (a PNG signature).
    let png = b"\x89PNG\r\n\x1a\n0123456789";
    let dir = TempDir::new("magic");
    let p = dir.write("png-idx3-ubyte", png);
    match read_idx(&p) {
        Err(Error::IdxMagic { path, .. }) => assert_eq!(path, p),
        other => panic!("{other:?}"),
    }
    // Same through gzip.
    let pg = dir.write("png-idx3-ubyte.gz", &gzip(png));
    assert!(matches!(read_idx(&pg), Err(Error::IdxMagic { .. })));
    // A label file read as images, and images read as labels: wrong rank.
    let l = dir.write("l-idx1-ubyte", &labels(3));
    match read_idx_images::<f32>(&l) {
        Err(Error::IdxMagic {
            found, expected, ..
        }) => assert_eq!((found, expected), (0x801, 0x803)),
        other => panic!("{other:?}"),
    }
    let i = dir.write("i-idx3-ubyte", &images(3, 3, 4));
    match read_idx_labels(&i) {
        Err(Error::IdxMagic {
            found, expected, ..
        }) => assert_eq!((found, expected), (0x803, 0x801)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn idx_truncated_header() {
    let bytes = images(2, 3, 4);
    let p = Path::new("t");
    for len in [0, 1, 3] {
        assert!(
            matches!(
                parse_idx(&bytes[..len], p),
                Err(Error::IdxTruncated { expected: 4, found, .. }) if found == len
            ),
            "len {len}"
        );
    }
    // Magic complete, dimensions cut: header is 4 + 3*4 = 16 bytes.
    for len in [4, 9, 15] {
        assert!(
            matches!(
                parse_idx(&bytes[..len], p),
                Err(Error::IdxTruncated { expected: 16, found, .. }) if found == len
            ),
            "len {len}"
        );
    }
    let dir = TempDir::new("trunc-header");
    let f = dir.write("x.gz", &gzip(&bytes[..10]));
    assert!(matches!(read_idx(&f), Err(Error::IdxTruncated { .. })));
}

#[test]
fn idx_truncated_payload() {
    let bytes = images(2, 3, 4); // payload 24 bytes
    let cut = &bytes[..bytes.len() - 5];
    match parse_idx(cut, Path::new("t")) {
        Err(Error::IdxTruncated {
            expected, found, ..
        }) => assert_eq!((expected, found), (24, 19)),
        other => panic!("{other:?}"),
    }
    // Header only.
    assert!(matches!(
        parse_idx(&bytes[..16], Path::new("t")),
        Err(Error::IdxTruncated {
            expected: 24,
            found: 0,
            ..
        })
    ));
    let dir = TempDir::new("trunc-payload");
    let raw = dir.write("x", cut);
    let gz = dir.write("x.gz", &gzip(cut));
    for p in [raw, gz] {
        match read_idx(&p) {
            Err(Error::IdxTruncated {
                path,
                expected: 24,
                found: 19,
            }) => assert_eq!(path, p),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn idx_bad_dimensions() {
    let p = Path::new("d");
    // Zero dimensions.
    assert!(matches!(
        parse_idx(&[0, 0, 8, 0], p),
        Err(Error::IdxDimensions { .. })
    ));
    // A dimension of size zero.
    match parse_idx(&idx_bytes(&[0, 28, 28], &[]), p) {
        Err(Error::IdxDimensions { found, .. }) => assert_eq!(found, vec![0, 28, 28]),
        other => panic!("{other:?}"),
    }
    // Overflowing product.
    assert!(matches!(
        parse_idx(&idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]), p),
        Err(Error::IdxDimensions { .. })
    ));
    // Trailing bytes after the payload.
    let mut extra = labels(4);
    extra.push(9);
    assert!(matches!(
        parse_idx(&extra, p),
        Err(Error::IdxDimensions { .. })
    ));
}

#[test]
fn corrupt_gzip_and_missing_file_are_io_errors() {
    let dir = TempDir::new("io");
    let mut gz = gzip(&images(2, 3, 4));
    let mid = gz.len() / 2;
    for b in &mut gz[12..mid] {
        *b ^= 0x5a;
    }
    let p = dir.write("bad.gz", &gz);
    match read_idx(&p) {
        Err(Error::Io { path, .. }) => assert_eq!(path, p),
        other => panic!("{other:?}"),
    }
    // A gzip stream cut short.
    let good = gzip(&images(2, 3, 4));
    let p2 = dir.write("short.gz", &good[..good.len() / 2]);
    assert!(matches!(read_idx(&p2), Err(Error::Io { .. })));
    let missing = dir.0.join("nope");
    assert!(matches!(read_idx(&missing), Err(Error::Io { path, .. }) if path == missing));
}

// ---------------------------------------------------------------------------------------------
// MNIST directory handling (synthetic files)

#[test]
fn mnist_synthetic_raw_gzip_and_dotted_agree() {
    let mut loaded = Vec::new();
    for (gz, dotted) in [(true, false), (false, false), (true, true), (false, true)] {
        let dir = TempDir::new("mnist-ok");
        write_mnist(&dir, 5, 5, gz, dotted);
        loaded.push(mnist::<f64>(&dir.0).unwrap());
    }
    let m = &loaded[0];
    for other in &loaded[1..] {
        assert_eq!(other, m);
    }
    assert_eq!((m.train.n_samples(), m.train.n_features()), (5, 12));
    assert_eq!((m.test.n_samples(), m.test.n_features()), (2, 12));
    assert_eq!(m.train.labels(), Some(&[0, 7, 4, 1, 8][..]));
    assert_eq!(m.test.labels(), Some(&[0, 7][..]));
    assert_eq!(
        m.train.samples()[(2 * 4 + 3, 4)],
        f64::from(pixel(4, 2, 3)) / 255.0
    );
}

#[test]
fn mnist_label_image_count_mismatch() {
    let dir = TempDir::new("mnist-mismatch");
    write_mnist(&dir, 5, 4, true, false);
    match mnist::<f32>(&dir.0) {
        Err(e @ Error::IdxDimensions { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("4 labels") && msg.contains("5 images"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mnist_train_test_size_mismatch() {
    let dir = TempDir::new("mnist-size");
    write_mnist(&dir, 3, 3, false, false);
    dir.write("t10k-images-idx3-ubyte", &images(2, 4, 3));
    assert!(matches!(
        mnist::<f32>(&dir.0),
        Err(Error::IdxDimensions { .. })
    ));
}

#[test]
fn mnist_wrong_file_kind_is_magic_error() {
    let dir = TempDir::new("mnist-kind");
    write_mnist(&dir, 3, 3, false, false);
    // labels where images are expected
    dir.write("train-images-idx3-ubyte", &labels(3));
    assert!(matches!(
        mnist::<f32>(&dir.0),
        Err(Error::IdxMagic {
            expected: 0x803,
            ..
        })
    ));
}

#[test]
fn mnist_missing_file_names_it() {
    let dir = TempDir::new("mnist-missing");
    write_mnist(&dir, 3, 3, true, false);
    std::fs::remove_file(dir.0.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    match mnist::<f32>(&dir.0) {
        Err(e @ Error::Io { .. }) => {
            let Error::Io { path, .. } = &e else {
                unreachable!()
            };
            assert_eq!(path, &dir.0.join("t10k-labels-idx1-ubyte.gz"));
            let msg = e.to_string();
            assert!(msg.contains("t10k-labels-idx1-ubyte"), "{msg}");
            assert!(msg.contains("not found"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let absent = dir.0.join("no-such-dir");
    match mnist::<f32>(&absent) {
        Err(e @ Error::Io { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// real MNIST

#[test]
fn mnist_real_data() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
    if !dir.join("train-images-idx3-ubyte.gz").exists() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let start = std::time::Instant::now();
    let m = mnist::<f32>(dir).unwrap();
    eprintln!("mnist::<f32> loaded in {:?}", start.elapsed());
    assert_eq!((m.train.n_samples(), m.train.n_features()), (60_000, 784));
    assert_eq!((m.test.n_samples(), m.test.n_features()), (10_000, 784));
    let train_labels = m.train.labels().unwrap();
    let test_labels = m.test.labels().unwrap();
    assert_eq!(
        label_counts(train_labels),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        label_counts(test_labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!((train_labels[0], test_labels[0]), (5, 7));
    for (d, expected) in [(&m.train, 33.318), (&m.test, 33.791)] {
        let mean = mean(d) * 255.0;
        assert!(
            ((mean - expected) / expected).abs() < 1e-3,
            "pixel mean {mean}, expected {expected}"
        );
    }
    assert_eq!(m.train.samples().max(), 1.0);
    assert_eq!(m.train.samples().min(), 0.0);
    // The raw reader agrees on placement: byte `i*784 + r*28 + c` is feature r*28+c of sample i.
    let raw: IdxArray = read_idx(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(raw.dims, vec![10_000, 28, 28]);
    for i in [0, 1, 9_999] {
        let expected: Vec<f32> = raw.data[i * 784..(i + 1) * 784]
            .iter()
            .map(|&b| (f64::from(b) / 255.0) as f32)
            .collect();
        assert_eq!(
            m.test.sample(i).unwrap().as_slice(),
            &expected[..],
            "test image {i}"
        );
    }
}

//! `OnlineFit`: partial_fit and fit_stream against fit, bit for bit; chunks and batches.

use rbms::datasets::digits_scaled;
use rbms::train::{fit, FitModel, OnlineFit};
use rbms::{
    ContrastiveDivergence, Dataset, Decoder, Error, FitConfig, Float, Loss, MetricsConfig, Model,
    Noise, Parameters, PersistentCd, Rbm, Sgd, TiedAutoencoder, Trainer,
};

fn bits<M: Model>(model: &M) -> Vec<u64> {
    let p = model.params();
    (0..p.n_blocks())
        .flat_map(|b| p.block(b).iter().map(|x| x.as_f64().to_bits()))
        .collect()
}

fn range<T: Float>(data: &Dataset<T>, from: usize, to: usize) -> Dataset<T> {
    data.select(&(from..to).collect::<Vec<_>>()).unwrap()
}

fn config() -> FitConfig {
    FitConfig::default()
        .batch_size(10)
        .momentum(0.5)
        .seed(8)
        .shuffle(false)
        .metrics(MetricsConfig::none())
}

/// `fit` for `epochs` epochs without shuffling equals `epochs` calls of `partial_fit` on the
/// whole data set, and chunks split at multiples of the batch size equal the whole.
fn check_equivalence<M, Tr>(make: impl Fn() -> M, data: &Dataset<M::Scalar>, trainer: Tr)
where
    M: FitModel + Clone,
    Tr: Trainer<M> + Clone,
{
    let name = format!("{} {}", <M::Scalar as Float>::NAME, trainer.name());
    let n = data.n_samples();
    for epochs in [1, 3] {
        let mut by_fit = make();
        fit(
            &mut by_fit,
            data,
            &trainer,
            &config().epochs(epochs),
            &mut (),
        )
        .unwrap();
        let mut online = make();
        let mut session = OnlineFit::new(&mut online, data, trainer.clone(), &config()).unwrap();
        for _ in 0..epochs {
            let r = session.partial_fit(&mut online, data).unwrap();
            assert_eq!((r.samples, r.batches), (n, n.div_ceil(10)), "{name}");
        }
        assert_eq!(bits(&online), bits(&by_fit), "{name}: {epochs} epochs");
        assert_eq!(session.steps_done(), (epochs * n.div_ceil(10)) as u64);
        assert_eq!(session.chunks_done(), epochs);
    }

    // chunks at multiples of the batch size: the same steps
    let mut whole = make();
    let mut s = OnlineFit::new(&mut whole, data, trainer.clone(), &config()).unwrap();
    s.partial_fit(&mut whole, data).unwrap();
    let mut chunked = make();
    let mut s = OnlineFit::new(&mut chunked, data, trainer.clone(), &config()).unwrap();
    s.partial_fit(&mut chunked, &range(data, 0, 100)).unwrap();
    s.partial_fit(&mut chunked, &range(data, 100, 130)).unwrap();
    s.partial_fit(&mut chunked, &range(data, 130, n)).unwrap();
    assert_eq!(bits(&chunked), bits(&whole), "{name}: chunks");
    // fit_stream is the same sequence of partial_fit calls
    let mut streamed = make();
    let mut s = OnlineFit::new(&mut streamed, data, trainer.clone(), &config()).unwrap();
    let chunks = [(0, 100), (100, 130), (130, n)].map(|(a, b)| range(data, a, b));
    let total = s.fit_stream(&mut streamed, chunks).unwrap();
    assert_eq!((total.samples, total.batches), (n, n.div_ceil(10)));
    assert_eq!(bits(&streamed), bits(&whole), "{name}: stream");
    // a split that is not at a multiple of the batch size makes other batches: other bits
    let mut split = make();
    let mut s = OnlineFit::new(&mut split, data, trainer.clone(), &config()).unwrap();
    s.partial_fit(&mut split, &range(data, 0, 95)).unwrap();
    s.partial_fit(&mut split, &range(data, 95, n)).unwrap();
    assert_ne!(bits(&split), bits(&whole), "{name}: split at 95");
    // and shuffling changes the run
    let mut shuffled = make();
    fit(
        &mut shuffled,
        data,
        &trainer,
        &config().epochs(1).shuffle(true),
        &mut (),
    )
    .unwrap();
    assert_ne!(bits(&shuffled), bits(&whole), "{name}: shuffled");
}

#[test]
fn partial_fit_equals_fit_for_cd_and_pcd() {
    let data = digits_scaled::<f32>().head(205).unwrap();
    check_equivalence(
        || Rbm::<f32>::new(64, 16).unwrap(),
        &data,
        ContrastiveDivergence::new(1),
    );
    check_equivalence(
        || Rbm::<f32>::new(64, 16).unwrap(),
        &data,
        PersistentCd::new(1, 7),
    );
    let data = digits_scaled::<f64>().head(205).unwrap();
    check_equivalence(
        || Rbm::<f64>::new(64, 16).unwrap(),
        &data,
        PersistentCd::new(2, 13),
    );
}

#[test]
fn partial_fit_equals_fit_for_sgd() {
    let data = digits_scaled::<f32>().head(205).unwrap();
    let make =
        || TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    check_equivalence(
        make,
        &data,
        Sgd::new().noise(Noise::Masking { fraction: 0.3 }),
    );
    let data = digits_scaled::<f64>().head(205).unwrap();
    let make =
        || TiedAutoencoder::<f64>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    check_equivalence(make, &data, Sgd::new().contractive(0.05));
}

#[test]
fn chunks_smaller_than_a_batch_and_pcd_chains() {
    let data = digits_scaled::<f64>().head(50).unwrap();
    let mut rbm = Rbm::<f64>::new(64, 8).unwrap();
    let pcd = PersistentCd::new(1, 9);
    let mut s = OnlineFit::new(&mut rbm, &data, pcd, &config()).unwrap();
    assert_eq!(s.state().chain_hidden_states().shape(), (8, 9));
    // 3 samples with a batch size of 10: one short batch
    let before = rbm.clone();
    let r = s.partial_fit(&mut rbm, &data.head(3).unwrap()).unwrap();
    assert_eq!((r.samples, r.batches), (3, 1));
    assert_ne!(rbm, before);
    // 23 samples: 10 + 10 + 3; the chains stay 9 whatever the batch and chunk sizes
    let r = s.partial_fit(&mut rbm, &data.head(23).unwrap()).unwrap();
    assert_eq!((r.samples, r.batches), (23, 3));
    assert_eq!(s.state().chain_hidden_states().shape(), (8, 9));
    assert_eq!(s.steps_done(), 4);

    // with drop_last the short batches are skipped: a 3-sample chunk trains nothing
    let mut rbm = Rbm::<f64>::new(64, 8).unwrap();
    let mut s = OnlineFit::new(&mut rbm, &data, pcd, &config().drop_last(true)).unwrap();
    let before = rbm.clone();
    let r = s.partial_fit(&mut rbm, &data.head(3).unwrap()).unwrap();
    assert_eq!((r.samples, r.batches), (0, 0));
    assert_eq!(rbm, before);
    let r = s.partial_fit(&mut rbm, &data.head(23).unwrap()).unwrap();
    assert_eq!((r.samples, r.batches), (20, 2));
}

#[test]
fn partial_fit_checks_its_chunk_and_reports_the_loss() {
    let data = digits_scaled::<f32>().head(40).unwrap();
    let mut rbm = Rbm::<f32>::new(64, 8).unwrap();
    let mut s = OnlineFit::new(&mut rbm, &data, ContrastiveDivergence::new(1), &config()).unwrap();
    let before = rbm.clone();
    let wide = Dataset::from_row_major(2, 65, &[0.0f32; 130]).unwrap();
    assert!(matches!(
        s.partial_fit(&mut rbm, &wide),
        Err(Error::ShapeMismatch { .. })
    ));
    let big = Dataset::from_row_major(1, 64, &[2.0f32; 64]).unwrap();
    assert!(matches!(
        s.partial_fit(&mut rbm, &big),
        Err(Error::OutsideUnitInterval { .. })
    ));
    assert_eq!(rbm, before);
    assert_eq!(s.steps_done(), 0);
    // a bad setting is refused when the session starts, leaving the model as it was
    let mut fresh = Rbm::<f32>::new(64, 8).unwrap();
    assert!(matches!(
        OnlineFit::new(&mut fresh, &data, ContrastiveDivergence::new(0), &config()),
        Err(Error::ZeroGibbsSteps)
    ));
    assert!(matches!(
        OnlineFit::new(
            &mut fresh,
            &data,
            ContrastiveDivergence::new(1),
            &config().batch_size(41)
        ),
        Err(Error::BatchLargerThanData { .. })
    ));
    assert_eq!(fresh, Rbm::<f32>::new(64, 8).unwrap());

    // Sgd reports its objective: the chunk's mean equals fit's epoch train_loss
    let mut ae = TiedAutoencoder::<f32>::new(64, 8, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let mut s = OnlineFit::new(&mut ae, &data, Sgd::new(), &config()).unwrap();
    let r = s.partial_fit(&mut ae, &data).unwrap();
    let mut by_fit =
        TiedAutoencoder::<f32>::new(64, 8, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let report = fit(
        &mut by_fit,
        &data,
        &Sgd::new(),
        &config().epochs(1),
        &mut (),
    )
    .unwrap();
    assert_eq!(r.train_loss, report.epochs[0].train_loss);
    assert!(r.train_loss.unwrap() > 0.0);
}

/// An IDX image file (`n × rows × cols`) holding `pixels` (row-major, one image after another).
fn idx_bytes(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        b.extend(d.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rbms-online-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The digits as 8 × 8 bytes (0..=16 scaled to 0..=255), one image after another.
fn digit_pixels() -> Vec<u8> {
    let d = rbms::datasets::digits::<f64>();
    let m = d.samples();
    (0..m.ncols())
        .flat_map(|j| (0..64).map(move |i| (m[(i, j)] * 255.0 / 16.0).round() as u8))
        .collect()
}

/// Training from `idx_image_chunks` (raw and gzip) gives the same bits as one `partial_fit` on
/// the whole file read by `read_idx_images`, and the chunks have the announced sizes.
#[test]
fn idx_chunks_stream_equals_whole_file() {
    let pixels = digit_pixels();
    let raw = idx_bytes(1797, 8, 8, &pixels);
    let whole: Dataset<f32> =
        rbms::datasets::read_idx_images(temp_file("whole-idx3-ubyte", &raw)).unwrap();
    let make = || Rbm::<f32>::new(64, 16).unwrap();
    let trainer = PersistentCd::new(1, 7);
    let mut reference = make();
    let mut s = OnlineFit::new(&mut reference, &whole, trainer, &config()).unwrap();
    s.partial_fit(&mut reference, &whole).unwrap();
    for (name, bytes) in [
        ("raw-idx3-ubyte", raw.clone()),
        ("gz-idx3-ubyte", gzip(&raw)),
    ] {
        let path = temp_file(name, &bytes);
        let sizes: Vec<usize> = rbms::datasets::idx_image_chunks::<f32>(&path, 500)
            .unwrap()
            .map(|c| c.unwrap().n_samples())
            .collect();
        assert_eq!(sizes, vec![500, 500, 500, 297], "{name}");
        let chunks = rbms::datasets::idx_image_chunks::<f32>(&path, 500).unwrap();
        assert_eq!((chunks.n_images(), chunks.n_pixels()), (1797, 64));
        let mut streamed = make();
        let mut s = OnlineFit::new(&mut streamed, &whole, trainer, &config()).unwrap();
        let report = s.fit_stream(&mut streamed, chunks).unwrap();
        assert_eq!(report.samples, 1797);
        assert_eq!(bits(&streamed), bits(&reference), "{name}");
    }
}

/// A truncated file, bytes after the payload, a wrong magic number, a corrupt gzip stream and a
/// zero chunk size are typed errors; `fit_stream` stops at the bad chunk and returns its error.
#[test]
fn idx_chunks_bad_files() {
    use rbms::datasets::idx_image_chunks;
    let pixels: Vec<u8> = (0..10 * 4).map(|i| (i * 6) as u8).collect();
    let good = idx_bytes(10, 2, 2, &pixels);
    // truncated in the third chunk of 4 images: 36 of 40 payload bytes
    let cut = temp_file("cut-idx3-ubyte", &good[..good.len() - 4]);
    let items: Vec<_> = idx_image_chunks::<f64>(&cut, 4).unwrap().collect();
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    match &items[2] {
        Err(Error::IdxTruncated {
            expected, found, ..
        }) => assert_eq!((*expected, *found), (40, 36)),
        other => panic!("expected IdxTruncated, got {other:?}"),
    }
    // the same through gzip
    let cut_gz = temp_file("cut-gz-idx3-ubyte", &gzip(&good[..good.len() - 4]));
    let last = idx_image_chunks::<f64>(&cut_gz, 4).unwrap().last().unwrap();
    assert!(
        matches!(
            last,
            Err(Error::IdxTruncated {
                expected: 40,
                found: 36,
                ..
            })
        ),
        "{last:?}"
    );
    // bytes left over
    let mut long = good.clone();
    long.push(7);
    let long = temp_file("long-idx3-ubyte", &long);
    let items: Vec<_> = idx_image_chunks::<f64>(&long, 5).unwrap().collect();
    assert_eq!(items.len(), 3);
    assert!(
        matches!(items[2], Err(Error::IdxDimensions { .. })),
        "{:?}",
        items[2]
    );
    // wrong magic (labels file, 1-d) and header cut short
    let labels = temp_file("labels-idx1-ubyte", &[0, 0, 8, 1, 0, 0, 0, 2, 3, 4]);
    assert!(matches!(
        idx_image_chunks::<f64>(&labels, 4).unwrap_err(),
        Error::IdxMagic {
            found: 0x0801,
            expected: 0x0803,
            ..
        }
    ));
    let short = temp_file("short-idx3-ubyte", &good[..9]);
    assert!(matches!(
        idx_image_chunks::<f64>(&short, 4).unwrap_err(),
        Error::IdxTruncated {
            expected: 16,
            found: 9,
            ..
        }
    ));
    let zero = temp_file("zero-idx3-ubyte", &idx_bytes(0, 2, 2, &[]));
    assert!(matches!(
        idx_image_chunks::<f64>(&zero, 4).unwrap_err(),
        Error::IdxDimensions { .. }
    ));
    assert!(matches!(
        idx_image_chunks::<f64>(&cut, 0).unwrap_err(),
        Error::InvalidParameter {
            name: "chunk_size",
            ..
        }
    ));
    // corrupt gzip: flip bytes in the deflate stream
    let mut bad_gz = gzip(&good);
    let mid = bad_gz.len() / 2;
    for b in &mut bad_gz[12..mid] {
        *b ^= 0x5a;
    }
    let bad_gz = temp_file("bad-gz-idx3-ubyte", &bad_gz);
    let any_err = match idx_image_chunks::<f64>(&bad_gz, 4) {
        Err(e) => Some(e),
        Ok(it) => it.filter_map(|c| c.err()).next(),
    };
    assert!(
        matches!(
            any_err,
            Some(Error::Io { .. })
                | Some(Error::IdxMagic { .. })
                | Some(Error::IdxTruncated { .. })
                | Some(Error::IdxDimensions { .. })
        ),
        "{any_err:?}"
    );
    // fit_stream stops at the first bad chunk and returns its error
    let data = Dataset::<f64>::from_columns(nalgebra::DMatrix::from_element(4, 16, 0.5)).unwrap();
    let mut rbm = Rbm::<f64>::new(4, 3).unwrap();
    let mut s = OnlineFit::new(&mut rbm, &data, ContrastiveDivergence::new(1), &config()).unwrap();
    let err = s
        .fit_stream(&mut rbm, idx_image_chunks::<f64>(&cut, 4).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::IdxTruncated { .. }));
    assert_eq!(s.chunks_done(), 2);
}

/// A header announcing far more than the file holds is a truncation error once the data run
/// out, without allocating what the header claims (4 GB, or a size that overflows).
#[test]
fn idx_chunks_huge_headers_are_bounded() {
    use rbms::datasets::idx_image_chunks;
    for (dims, chunk) in [
        ([1u32, 65535, 65535], 1usize),
        ([u32::MAX, u32::MAX, u32::MAX], 1),
        ([u32::MAX, 1, u32::MAX], 1_000_000),
    ] {
        let path = temp_file(
            "huge-idx3-ubyte",
            &idx_bytes(dims[0], dims[1], dims[2], &[1, 2, 3]),
        );
        let result = idx_image_chunks::<f32>(&path, chunk).map(|mut it| it.next());
        match result {
            Err(Error::IdxDimensions { .. }) => {}
            Ok(Some(Err(Error::IdxTruncated { found: 3, .. }))) => {}
            other => panic!("{dims:?} chunk {chunk}: {other:?}"),
        }
    }
}

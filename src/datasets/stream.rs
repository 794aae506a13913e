//! Reading the images of an IDX file a chunk at a time, for data larger than memory.

use super::{is_gzip, ubyte_magic};
use crate::{Dataset, Error, Float, Result};
use flate2::read::MultiGzDecoder;
use nalgebra::DMatrix;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// An iterator over the images of an IDX file, `chunk_size` images at a time, each chunk a
/// [`Dataset`] with one image per column scaled to `[0, 1]` as in
/// [`read_idx_images`](super::read_idx_images). Made by [`idx_image_chunks`].
///
/// Memory is bounded by one chunk: the reader keeps a byte buffer of `chunk_size` images and
/// hands out one data set at a time (plus the decompressor's window for a gzip file), whatever
/// the file's length. Feed it to [`OnlineFit::fit_stream`](crate::train::OnlineFit::fit_stream)
/// to train on a file that does not fit in memory.
///
/// Items are `Result`s: a file that ends early gives [`Error::IdxTruncated`] (counting payload
/// bytes: those the header announces and those present), bytes after the announced payload give
/// [`Error::IdxDimensions`], a corrupt gzip stream or a failing read gives [`Error::Io`]; after
/// an error the iterator ends.
#[derive(Debug)]
pub struct IdxImageChunks<T> {
    reader: Source,
    path: PathBuf,
    n_images: usize,
    n_pixels: usize,
    next_image: usize,
    chunk_size: usize,
    buffer: Vec<u8>,
    done: bool,
    _scalar: PhantomData<T>,
}

/// The byte source: a raw file or a gzip stream of one.
enum Source {
    Raw(BufReader<File>),
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Raw(_) => "Raw",
            Source::Gzip(_) => "Gzip",
        })
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Raw(r) => r.read(buf),
            Source::Gzip(r) => r.read(buf),
        }
    }
}

/// Reads as many bytes as fit in `buf` or as remain; returns how many were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens an IDX file of images (3-d unsigned bytes, `n × rows × cols`, raw or gzip-compressed,
/// detected from the content) and reads only its header; the images come `chunk_size` at a
/// time from the returned iterator.
///
/// # Errors
///
/// [`Error::InvalidParameter`] (`chunk_size`) if `chunk_size` is 0; [`Error::Io`] if the file cannot be opened
/// or read; [`Error::IdxMagic`] for a wrong magic number or an array that is not 3-d;
/// [`Error::IdxTruncated`] if the file ends inside the header; [`Error::IdxDimensions`] for a
/// dimension of size 0 or a size that overflows.
///
/// ```
/// use rbms::datasets::idx_image_chunks;
/// # let dir = std::env::temp_dir().join(format!("rbms-doc-chunks-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("images-idx3-ubyte");
/// // 5 images of 2 × 2 pixels
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2];
/// bytes.extend((0..20u8).map(|b| b * 10));
/// std::fs::write(&path, &bytes).unwrap();
/// let sizes: Vec<usize> = idx_image_chunks::<f32>(&path, 2)?
///     .map(|chunk| chunk.map(|c| c.n_samples()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(sizes, vec![2, 2, 1]);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), rbms::Error>(())
/// ```
pub fn idx_image_chunks<T: Float>(
    path: impl AsRef<Path>,
    chunk_size: usize,
) -> Result<IdxImageChunks<T>> {
    let path = path.as_ref().to_path_buf();
    if chunk_size == 0 {
        return Err(Error::InvalidParameter {
            name: "chunk_size",
            reason: "must be at least 1, got 0".to_string(),
        });
    }
    let io_err = |source: io::Error| Error::Io {
        path: path.clone(),
        source,
    };
    let file = File::open(&path).map_err(io_err)?;
    let mut raw = BufReader::new(file);
    let gzip = is_gzip(raw.fill_buf().map_err(io_err)?);
    let mut reader = if gzip {
        Source::Gzip(Box::new(MultiGzDecoder::new(raw)))
    } else {
        Source::Raw(raw)
    };
    let mut header = [0u8; 16];
    let got = read_full(&mut reader, &mut header[..4]).map_err(io_err)?;
    if got < 4 {
        return Err(Error::IdxTruncated {
            path,
            expected: 4,
            found: got,
        });
    }
    let n_dims = usize::from(header[3]);
    if header[0] != 0 || header[1] != 0 || header[2] != 0x08 || n_dims != 3 {
        return Err(Error::IdxMagic {
            path,
            found: u32::from_be_bytes([header[0], header[1], header[2], header[3]]),
            expected: ubyte_magic(3),
        });
    }
    let got = read_full(&mut reader, &mut header[4..16]).map_err(io_err)?;
    if got < 12 {
        return Err(Error::IdxTruncated {
            path,
            expected: 16,
            found: 4 + got,
        });
    }
    let dims: Vec<usize> = header[4..16]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if let Some(k) = dims.iter().position(|&d| d == 0) {
        return Err(Error::IdxDimensions {
            path,
            found: dims,
            reason: format!("dimension {k} is 0 (empty array)"),
        });
    }
    let n_pixels = dims[1].checked_mul(dims[2]);
    let chunk_bytes = n_pixels.and_then(|p| p.checked_mul(chunk_size.min(dims[0])));
    let (Some(n_pixels), Some(_)) = (n_pixels, chunk_bytes) else {
        return Err(Error::IdxDimensions {
            path,
            found: dims,
            reason: "the size of a chunk overflows usize".to_string(),
        });
    };
    Ok(IdxImageChunks {
        reader,
        path,
        n_images: dims[0],
        n_pixels,
        next_image: 0,
        chunk_size,
        buffer: Vec::new(),
        done: false,
        _scalar: PhantomData,
    })
}

impl<T: Float> IdxImageChunks<T> {
    /// The number of images the header announces.
    pub fn n_images(&self) -> usize {
        self.n_images
    }

    /// Pixels per image (features of every chunk).
    pub fn n_pixels(&self) -> usize {
        self.n_pixels
    }

    fn io_error(&self, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn next_chunk(&mut self) -> Result<Option<Dataset<T>>> {
        let n = self.chunk_size.min(self.n_images - self.next_image);
        if n == 0 {
            // All announced images read: the file must end here.
            let mut probe = [0u8; 1];
            let extra = read_full(&mut self.reader, &mut probe).map_err(|e| self.io_error(e))?;
            if extra > 0 {
                return Err(Error::IdxDimensions {
                    path: self.path.clone(),
                    found: vec![self.n_images, self.n_pixels],
                    reason: "the file holds bytes after the payload the header announces"
                        .to_string(),
                });
            }
            return Ok(None);
        }
        let bytes = n * self.n_pixels;
        // Read in pieces, growing the buffer only as data arrives: a header announcing more
        // than the file holds costs no more memory than the file (never an allocation of what
        // the header claims).
        self.buffer.clear();
        let got = (&mut self.reader)
            .take(bytes as u64)
            .read_to_end(&mut self.buffer)
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: io::Error::new(e.kind(), format!("corrupt or unreadable data: {e}")),
            })?;
        if got < bytes {
            let before = self.next_image * self.n_pixels;
            return Err(Error::IdxTruncated {
                path: self.path.clone(),
                expected: self.n_images.saturating_mul(self.n_pixels),
                found: before + got,
            });
        }
        self.next_image += n;
        // The same values as `read_idx_images`: b / 255 rounded once from f64.
        let values: Vec<T> = self
            .buffer
            .iter()
            .map(|&b| T::of_f64(f64::from(b) / 255.0))
            .collect();
        Dataset::from_columns(DMatrix::from_vec(self.n_pixels, n, values)).map(Some)
    }
}

impl<T: Float> Iterator for IdxImageChunks<T> {
    type Item = Result<Dataset<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(chunk)) => Some(Ok(chunk)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

//! Shared by the examples: a small flag parser, trainer selection and PNG output.
#![allow(dead_code)]

use rbms::train::FitModel;
use rbms::units::{HiddenUnits, VisibleUnits};
use rbms::{
    ContrastiveDivergence, EnergyModel, FitConfig, FitReport, Float, Observer, PersistentCd, Rbm,
    RunRng,
};
use std::collections::HashMap;
use std::path::Path;

/// `--name value` pairs; `--help` prints `usage` and exits.
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    pub fn parse(usage: &str, known: &[&str]) -> Result<Args, String> {
        let mut values = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--help" || flag == "-h" {
                eprintln!("{usage}");
                std::process::exit(0);
            }
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {flag:?}\n{usage}"))?;
            if !known.contains(&name) {
                return Err(format!("unknown flag --{name}\n{usage}"));
            }
            let value = it
                .next()
                .ok_or_else(|| format!("flag --{name} needs a value"))?;
            values.insert(name.to_string(), value);
        }
        Ok(Args { values })
    }

    pub fn get<V: std::str::FromStr>(&self, name: &str, default: V) -> Result<V, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(s) => s
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {s:?}")),
        }
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

/// A trainer chosen on the command line: `cd1`, `cd<k>`, `pcd<k>`.
#[derive(Clone, Copy, Debug)]
pub enum Choice {
    Cd(ContrastiveDivergence),
    Pcd(PersistentCd),
}

impl Choice {
    /// Trains `model` with the chosen trainer (see [`rbms::train::fit`]).
    pub fn fit<M, O>(
        &self,
        model: &mut M,
        data: &rbms::Dataset<M::Scalar>,
        config: &FitConfig,
        observer: &mut O,
    ) -> rbms::Result<FitReport>
    where
        M: EnergyModel + FitModel,
        O: Observer<M>,
    {
        match self {
            Choice::Cd(t) => rbms::train::fit(model, data, t, config, observer),
            Choice::Pcd(t) => rbms::train::fit(model, data, t, config, observer),
        }
    }
}

/// The training settings of the digits examples from `--epochs` (default 20), `--lr`
/// (default `lr`), `--batch` (10), `--momentum` (0.5) and `--seed` (0).
pub fn digits_fit_config(args: &Args, lr: f64) -> Result<FitConfig, String> {
    Ok(FitConfig::default()
        .epochs(args.get("epochs", 20)?)
        .learning_rate(args.get("lr", lr)?)
        .batch_size(args.get("batch", 10)?)
        .momentum(args.get("momentum", 0.5)?)
        .seed(args.get("seed", 0)?))
}

pub fn parse_trainer(s: &str, chains: usize) -> Result<Choice, String> {
    let bad = || format!("--trainer must be cd<k> or pcd<k> (e.g. cd1, pcd5), got {s:?}");
    if let Some(k) = s.strip_prefix("pcd") {
        let k = k.parse().map_err(|_| bad())?;
        Ok(Choice::Pcd(PersistentCd::new(k, chains)))
    } else if let Some(k) = s.strip_prefix("cd") {
        let k = k.parse().map_err(|_| bad())?;
        Ok(Choice::Cd(ContrastiveDivergence::new(k)))
    } else {
        Err(bad())
    }
}

/// Writes grey-level images (each `rows × cols` values, row-major, in any range) as one PNG
/// grid of `grid_cols` tiles per row, each tile scaled to `[0, 255]` by `normalize`, enlarged
/// `zoom` times, with a 1-pixel border.
pub fn write_tiles(
    path: &Path,
    tiles: &[Vec<f64>],
    rows: usize,
    cols: usize,
    grid_cols: usize,
    zoom: usize,
    per_tile_range: bool,
) -> Result<(), String> {
    let n = tiles.len().max(1);
    let grid_rows = n.div_ceil(grid_cols);
    let tile_h = rows * zoom + 1;
    let tile_w = cols * zoom + 1;
    let height = grid_rows * tile_h + 1;
    let width = grid_cols * tile_w + 1;
    let mut img = vec![64u8; width * height];
    for (t, tile) in tiles.iter().enumerate() {
        let (lo, hi) = if per_tile_range {
            let lo = tile.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = tile.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let span = if hi > lo { hi - lo } else { 1.0 };
        let (gy, gx) = (t / grid_cols, t % grid_cols);
        for r in 0..rows {
            for c in 0..cols {
                let v = ((tile[r * cols + c] - lo) / span).clamp(0.0, 1.0);
                let px = (v * 255.0).round() as u8;
                for dy in 0..zoom {
                    for dx in 0..zoom {
                        let y = 1 + gy * tile_h + r * zoom + dy;
                        let x = 1 + gx * tile_w + c * zoom + dx;
                        img[y * width + x] = px;
                    }
                }
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .write_image_data(&img)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

/// Filters (row j of W for each hidden unit, at most `max`), one tile each.
pub fn filter_tiles<T: Float>(w: &nalgebra::DMatrix<T>, max: usize) -> Vec<Vec<f64>> {
    (0..w.nrows().min(max))
        .map(|j| w.row(j).iter().map(|x| x.as_f64()).collect())
        .collect()
}

/// Samples from the model: `chains` Gibbs chains started from noise (uniform bits, or standard
/// normal values for Gaussian units), run for `steps` steps each; the tiles are E[v|h] at the
/// final step.
pub fn sample_tiles<T: Float, V: VisibleUnits<T>, H: HiddenUnits<T>>(
    rbm: &Rbm<T, V, H>,
    chains: usize,
    steps: usize,
    rng: &mut RunRng,
) -> Result<Vec<Vec<f64>>, rbms::Error> {
    let config = rbms::GibbsConfig {
        chains,
        burn_in: steps.saturating_sub(1),
        thinning: 1,
        samples_per_chain: 1,
        start: rbms::GibbsStart::Noise,
    };
    let s = rbm.sample(&config, rng)?;
    let nv = rbm.n_visible();
    Ok((0..s.probabilities.ncols())
        .map(|c| (0..nv).map(|i| s.probabilities[(i, c)].as_f64()).collect())
        .collect())
}

/// The first `max` columns of `m` (one image per column), one tile each.
pub fn column_tiles<T: Float>(m: &nalgebra::DMatrix<T>, max: usize) -> Vec<Vec<f64>> {
    (0..m.ncols().min(max))
        .map(|c| m.column(c).iter().map(|x| x.as_f64()).collect())
        .collect()
}

/// The MNIST directory from `--data` (default `../shared/data`), or a message saying what to
/// put there.
pub fn mnist_dir(args: &Args) -> Result<std::path::PathBuf, String> {
    let dir = std::path::PathBuf::from(args.string("data", "../shared/data"));
    if !dir.is_dir() {
        return Err(format!(
            "MNIST directory {} not found.\nPut the four MNIST IDX files there \
             (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
             t10k-labels-idx1-ubyte; raw or .gz) and pass it with --data DIR.",
            dir.display()
        ));
    }
    Ok(dir)
}

/// Output directory: `--out`, or `target/rbms-examples/<name>` under the crate.
pub fn out_dir(args: &Args, name: &str) -> std::path::PathBuf {
    let default = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("rbms-examples")
        .join(name);
    match args.values.get("out") {
        Some(s) => s.into(),
        None => default,
    }
}

/// Formats `Option<f64>` for the summary line.
pub fn fmt(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "nan".into())
}

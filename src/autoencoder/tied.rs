//! The tied-weight autoencoder.

use super::{Autoencoder, Decoder, Loss, Objective, Penalties};
use crate::data::check_unit_interval;
use crate::math::{
    gemm_a_bt, gemm_at_b, logit_clipped, mean_squared_difference, row_sums_into, sigmoid, softplus,
};
use crate::observe::Observer;
use crate::params::{LayerParams, Model};
use crate::train::{
    FitConfig, FitModel, FitReport, Init, Metrics, MetricsConfig, RunRng, Trainer, VisibleBiasInit,
};
use crate::{Dataset, Error, Float, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};
use rand::Rng;

/// An autoencoder whose decoder uses the transpose of the encoder's weights.
///
/// With weights `W` (`n_hidden × n_visible`), hidden biases `c` and visible biases `b`:
///
/// ```text
/// encoder  a = W x̃ + c,   h = σ(a)
/// decoder  z = Wᵀ h + b,  r = f(z)       f = σ (Decoder::Sigmoid) or the identity
/// ```
///
/// # The tied gradient
///
/// With δz = ∂J/∂z for each sample (cross-entropy with a sigmoid decoder: r − x; squared error:
/// 2(r − x)·f′(z)) and δa = (W δz) ⊙ h ⊙ (1 − h) (plus the penalty terms), the gradient of
/// the minibatch objective J over b samples is
///
/// ```text
/// ∂J/∂W = (1/b)·Σₙ [ hₙ δzₙᵀ  +  δaₙ x̃ₙᵀ ]      decoder path (transposed) + encoder path
/// ∂J/∂b = (1/b)·Σₙ δzₙ
/// ∂J/∂c = (1/b)·Σₙ δaₙ
/// ```
///
/// that is, the sum of the two gradients of the untied model (decoder weights `V`, encoder
/// weights `W`) evaluated at `V = Wᵀ`: the decoder's ∂J/∂V = δz hᵀ enters transposed.
///
/// The contractive penalty λ·(1/b)Σₙ Σⱼ sⱼₙ² qⱼ, with sⱼₙ = hⱼₙ(1 − hⱼₙ) and
/// qⱼ = Σᵢ Wⱼᵢ², adds 2λ·(1/b)(Σₙ sⱼₙ²)·Wⱼ to row j of ∂J/∂W and 2λ qⱼ sⱼₙ²(1 − 2hⱼₙ) to
/// δaⱼₙ. The sparsity penalty β Σⱼ KL(ρ ‖ ρ̂ⱼ) adds β(−ρ/ρ̂ⱼ + (1 − ρ)/(1 − ρ̂ⱼ))·sⱼₙ to δaⱼₙ;
/// ρ̂ⱼ and 1 − ρ̂ⱼ are computed in `f64` as the batch means of σ(aⱼₙ) and σ(−aⱼₙ), so that a
/// unit near saturation keeps its precision.
///
/// ```
/// use rbms::{datasets, Decoder, FitConfig, Loss, Noise, Sgd, TiedAutoencoder};
/// let data = datasets::digits_scaled::<f32>();
/// let mut ae = TiedAutoencoder::<f32>::new(64, 32, Decoder::Sigmoid, Loss::CrossEntropy)?;
/// let sgd = Sgd::new().noise(Noise::Masking { fraction: 0.2 });
/// let config = FitConfig::default().epochs(3).learning_rate(0.05).seed(1);
/// let report = ae.fit(&data, &sgd, &config)?;
/// let first = report.epochs[0].metrics.loss.unwrap();
/// let last = report.epochs[2].metrics.loss.unwrap();
/// assert!(last < first);
/// let codes = ae.transform(&data)?; // 32 × 1797
/// assert_eq!(codes.shape(), (32, 1797));
/// # Ok::<(), rbms::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TiedAutoencoder<T: Float> {
    params: LayerParams<T>,
    decoder: Decoder,
    loss: Loss,
}

/// The buffers of [`TiedAutoencoder`]'s gradient computation.
#[derive(Debug, Clone)]
pub struct TiedWorkspace<T: Float> {
    /// a, then h (`n_hidden × b`).
    hidden: DMatrix<T>,
    /// z (`n_visible × b`).
    output: DMatrix<T>,
    /// δz (`n_visible × b`).
    delta_out: DMatrix<T>,
    /// δh, then δa (`n_hidden × b`).
    delta_hidden: DMatrix<T>,
    /// Per hidden unit: qⱼ = ‖Wⱼ‖², Σₙ sⱼₙ², and the sparsity factor.
    row_sq: Vec<T>,
    s2_sum: Vec<T>,
    kl_factor: Vec<T>,
}

/// Empty buffers, which the first gradient computation sizes.
impl<T: Float> Default for TiedWorkspace<T> {
    fn default() -> Self {
        Self::new(0, 0, 0)
    }
}

impl<T: Float> TiedWorkspace<T> {
    fn new(n_visible: usize, n_hidden: usize, batch: usize) -> Self {
        Self {
            hidden: DMatrix::zeros(n_hidden, batch),
            output: DMatrix::zeros(n_visible, batch),
            delta_out: DMatrix::zeros(n_visible, batch),
            delta_hidden: DMatrix::zeros(n_hidden, batch),
            row_sq: vec![T::zero(); n_hidden],
            s2_sum: vec![T::zero(); n_hidden],
            kl_factor: vec![T::zero(); n_hidden],
        }
    }
}

impl<T: Float> TiedAutoencoder<T> {
    /// A model with all parameters zero. Both sizes must be ≥ 1, and
    /// [`Loss::CrossEntropy`] needs [`Decoder::Sigmoid`] (its outputs must be probabilities).
    ///
    /// [`fit`](Self::fit) initialises the parameters from its seed unless
    /// [`FitConfig::warm_start`] is set. Do not warm-start from these zeros: with all weights
    /// equal, every code unit receives the same gradient and they stay identical; call
    /// [`initialize`](Self::initialize) first.
    pub fn new(n_visible: usize, n_hidden: usize, decoder: Decoder, loss: Loss) -> Result<Self> {
        Self::from_parameters(LayerParams::zeros(n_visible, n_hidden)?, decoder, loss)
    }

    /// A model from given (checked) parameters.
    pub fn from_parameters(params: LayerParams<T>, decoder: Decoder, loss: Loss) -> Result<Self> {
        if loss == Loss::CrossEntropy && decoder != Decoder::Sigmoid {
            return Err(Error::InvalidParameter {
                name: "loss",
                reason: "cross-entropy needs a sigmoid decoder (outputs in (0, 1)); use \
                         squared error with an identity decoder"
                    .into(),
            });
        }
        Ok(Self {
            params,
            decoder,
            loss,
        })
    }

    /// The decoder's activation.
    pub fn decoder(&self) -> Decoder {
        self.decoder
    }
    /// Weights `W`, `n_hidden × n_visible`: row `j` is the filter of code unit `j`.
    pub fn weights(&self) -> &DMatrix<T> {
        &self.params.weights
    }
    /// Visible (decoder) biases `b`.
    pub fn visible_bias(&self) -> &DVector<T> {
        &self.params.visible_bias
    }
    /// Hidden (encoder) biases `c`.
    pub fn hidden_bias(&self) -> &DVector<T> {
        &self.params.hidden_bias
    }

    /// Initialises the parameters: W ~ N(0, `weight_std`²) drawn exactly as for
    /// [`Rbm::initialize`](crate::Rbm::initialize), hidden biases 0, visible biases 0 or from
    /// `data`: logit of each feature's mean, clipped, for a sigmoid decoder, the mean itself for
    /// an identity decoder. On error the parameters are unchanged.
    pub fn initialize<R: Rng + ?Sized>(
        &mut self,
        init: &Init,
        data: Option<&Dataset<T>>,
        rng: &mut R,
    ) -> Result<()> {
        init.check()?;
        let weights = self.params.random_weights(init.weight_std, rng)?;
        let visible_bias = match (init.visible_bias, data) {
            (VisibleBiasInit::Zero, _) => DVector::zeros(self.n_visible()),
            (VisibleBiasInit::FromData, None) => {
                return Err(Error::InvalidParameter {
                    name: "visible_bias",
                    reason: "initialising visible biases from data needs a data set".into(),
                })
            }
            (VisibleBiasInit::FromData, Some(d)) => {
                self.check_target(d.samples())?;
                let means = d.feature_means();
                match self.decoder {
                    Decoder::Sigmoid => means.map(|m| logit_clipped(m, T::of_f64(1e-3))),
                    Decoder::Identity => means,
                }
            }
        };
        self.params.weights = weights;
        self.params.visible_bias = visible_bias;
        self.params.hidden_bias.fill(T::zero());
        Ok(())
    }

    /// Trains the model on `data` with `trainer` and `config`; see
    /// [`fit_observed`](Self::fit_observed).
    pub fn fit<Tr: Trainer<Self>>(
        &mut self,
        data: &Dataset<T>,
        trainer: &Tr,
        config: &FitConfig,
    ) -> Result<FitReport> {
        crate::train::fit(self, data, trainer, config, &mut ())
    }

    /// Trains the model, calling `observer` after every epoch (and step, if it asks): the same
    /// driver, settings, seed contract, reports and errors as
    /// [`Rbm::fit_observed`](crate::Rbm::fit_observed). Metrics are the clean reconstruction
    /// loss ([`Metrics::loss`]) and mean squared error; each epoch also reports the mean
    /// training objective ([`EpochReport::train_loss`](crate::train::EpochReport)).
    pub fn fit_observed<Tr: Trainer<Self>, O: Observer<Self>>(
        &mut self,
        data: &Dataset<T>,
        trainer: &Tr,
        config: &FitConfig,
        observer: &mut O,
    ) -> Result<FitReport> {
        crate::train::fit(self, data, trainer, config, observer)
    }

    /// The codes h(v) of every sample: an `n_hidden × n_samples` matrix.
    pub fn transform(&self, data: &Dataset<T>) -> Result<DMatrix<T>> {
        self.encode(data.samples())
    }

    /// Mean reconstruction loss per sample over `data` (no noise, no penalty).
    pub fn mean_loss(&self, data: &Dataset<T>) -> Result<f64> {
        let l = self.loss_per_sample(data.samples())?;
        Ok(l.sum() / l.len() as f64)
    }

    /// Mean squared error between the data and its reconstruction, averaged over samples and
    /// features (the same measure as [`Rbm::reconstruction_error`](crate::Rbm::reconstruction_error)).
    pub fn reconstruction_error(&self, data: &Dataset<T>) -> Result<f64> {
        let r = self.reconstruct(data.samples())?;
        Ok(mean_squared_difference(
            r.as_slice(),
            data.samples().as_slice(),
        ))
    }

    fn check_rows(&self, what: &'static str, shape: (usize, usize), rows: usize) -> Result<()> {
        if shape.0 != rows {
            return Err(Error::ShapeMismatch {
                what,
                expected: (rows, shape.1),
                found: shape,
            });
        }
        Ok(())
    }

    /// a = W v + c into `out`.
    fn encode_raw(&self, v: &DMatrixView<'_, T>, out: &mut DMatrixViewMut<'_, T>) {
        crate::math::weights_times(&self.params.weights, v, out);
        add_bias_columns(out, &self.params.hidden_bias);
    }

    /// z = Wᵀ h + b into `out`.
    fn decode_raw(&self, h: &DMatrixView<'_, T>, out: &mut DMatrixViewMut<'_, T>) {
        gemm_at_b(out, T::one(), &self.params.weights.as_view(), h, T::zero());
        add_bias_columns(out, &self.params.visible_bias);
    }

    /// Loss of reconstructing `x` from the decoder pre-activation `z`, and ∂loss/∂z.
    #[inline]
    fn loss_and_delta(&self, z: T, x: T) -> (T, T) {
        let two = T::one() + T::one();
        match (self.decoder, self.loss) {
            (Decoder::Sigmoid, Loss::CrossEntropy) => (softplus(z) - x * z, sigmoid(z) - x),
            (Decoder::Sigmoid, Loss::SquaredError) => {
                let r = sigmoid(z);
                let d = r - x;
                (d * d, two * d * r * (T::one() - r))
            }
            (Decoder::Identity, _) => {
                let d = z - x;
                (d * d, two * d)
            }
        }
    }
}

/// x ← x + bias, column by column.
fn add_bias_columns<T: Float>(m: &mut DMatrixViewMut<'_, T>, bias: &DVector<T>) {
    for mut col in m.column_iter_mut() {
        for (x, &b) in col.iter_mut().zip(bias.iter()) {
            *x += b;
        }
    }
}

impl<T: Float> Model for TiedAutoencoder<T> {
    type Scalar = T;
    type Params = LayerParams<T>;
    fn params(&self) -> &LayerParams<T> {
        &self.params
    }
    fn params_mut(&mut self) -> &mut LayerParams<T> {
        &mut self.params
    }
}

impl<T: Float> Autoencoder for TiedAutoencoder<T> {
    type Workspace = TiedWorkspace<T>;

    fn n_visible(&self) -> usize {
        self.params.weights.ncols()
    }
    fn n_hidden(&self) -> usize {
        self.params.weights.nrows()
    }
    fn loss_kind(&self) -> Loss {
        self.loss
    }

    fn check_input(&self, v: &DMatrix<T>) -> Result<()> {
        self.check_rows("input (n_visible × n)", v.shape(), self.n_visible())?;
        crate::data::check_matrix("input", v)
    }

    fn check_target(&self, v: &DMatrix<T>) -> Result<()> {
        self.check_input(v)?;
        if self.loss == Loss::CrossEntropy {
            check_unit_interval("input (cross-entropy targets)", v)?;
        }
        Ok(())
    }

    fn encode_into(&self, v: DMatrixView<'_, T>, mut out: DMatrixViewMut<'_, T>) -> Result<()> {
        self.check_rows("input (n_visible × n)", v.shape(), self.n_visible())?;
        self.check_rows("codes (n_hidden × n)", out.shape(), self.n_hidden())?;
        if out.ncols() != v.ncols() {
            return Err(shape_error(
                "codes",
                (self.n_hidden(), v.ncols()),
                out.shape(),
            ));
        }
        self.encode_raw(&v, &mut out);
        for x in out.iter_mut() {
            *x = sigmoid(*x);
        }
        Ok(())
    }

    fn decode_into(&self, h: DMatrixView<'_, T>, mut out: DMatrixViewMut<'_, T>) -> Result<()> {
        self.check_rows("codes (n_hidden × n)", h.shape(), self.n_hidden())?;
        if out.shape() != (self.n_visible(), h.ncols()) {
            return Err(shape_error(
                "reconstruction",
                (self.n_visible(), h.ncols()),
                out.shape(),
            ));
        }
        self.decode_raw(&h, &mut out);
        if self.decoder == Decoder::Sigmoid {
            for x in out.iter_mut() {
                *x = sigmoid(*x);
            }
        }
        Ok(())
    }

    fn workspace(&self, batch: usize) -> TiedWorkspace<T> {
        TiedWorkspace::new(self.n_visible(), self.n_hidden(), batch)
    }

    fn objective_gradient_into(
        &self,
        input: DMatrixView<'_, T>,
        target: DMatrixView<'_, T>,
        penalties: &Penalties,
        ws: &mut TiedWorkspace<T>,
        grad: &mut LayerParams<T>,
    ) -> Result<Objective> {
        let pen = penalties.checked::<T>()?;
        let (nv, nh, b) = (self.n_visible(), self.n_hidden(), input.ncols());
        self.check_rows("input (n_visible × b)", input.shape(), nv)?;
        if target.shape() != input.shape() {
            return Err(shape_error("target", input.shape(), target.shape()));
        }
        if b == 0 {
            return Err(Error::EmptyData { what: "minibatch" });
        }
        for (what, expected, found) in [
            ("gradient weights", (nh, nv), grad.weights.shape()),
            ("gradient visible_bias", (nv, 1), grad.visible_bias.shape()),
            ("gradient hidden_bias", (nh, 1), grad.hidden_bias.shape()),
        ] {
            if expected != found {
                return Err(shape_error(what, expected, found));
            }
        }
        if ws.hidden.ncols() < b || ws.hidden.nrows() != nh || ws.output.nrows() != nv {
            *ws = TiedWorkspace::new(nv, nh, b);
        }
        let scale = T::one() / T::of_usize(b);
        let w = &self.params.weights;
        let mut objective = Objective::default();

        // Encoder: a = W x̃ + c; the sparsity means need a, then h = σ(a).
        let mut h = ws.hidden.columns_mut(0, b);
        self.encode_raw(&input, &mut h);
        if let Some((rho, beta)) = pen.sparsity.filter(|&(_, beta)| beta != T::zero()) {
            let (rho, beta_f) = (rho.as_f64(), beta.as_f64());
            let mut kl = 0.0;
            for (j, factor) in ws.kl_factor.iter_mut().enumerate() {
                let (mut on, mut off) = (0.0f64, 0.0f64);
                for n in 0..b {
                    let a = h[(j, n)].as_f64();
                    on += sigmoid(a);
                    off += sigmoid(-a);
                }
                let (mean_on, mean_off) = (on / b as f64, off / b as f64);
                let term = rho * (rho / mean_on).ln() + (1.0 - rho) * ((1.0 - rho) / mean_off).ln();
                // Infinite when a unit saturates beyond the scalar type's range: reported through
                // the objective (see `Autoencoder::objective_gradient_into`).
                let d = beta_f * (-rho / mean_on + (1.0 - rho) / mean_off);
                kl += term;
                *factor = T::of_f64(d);
            }
            objective.sparsity = beta_f * kl;
        }
        for x in h.iter_mut() {
            *x = sigmoid(*x);
        }

        // Decoder: z = Wᵀ h + b; loss and δz against the clean target.
        let mut z = ws.output.columns_mut(0, b);
        self.decode_raw(&h.as_view(), &mut z);
        let mut dz = ws.delta_out.columns_mut(0, b);
        let mut loss = 0.0f64;
        for n in 0..b {
            let (zc, xc, mut dc) = (z.column(n), target.column(n), dz.column_mut(n));
            let mut sample = T::zero();
            for ((d, &zi), &xi) in dc.iter_mut().zip(zc.iter()).zip(xc.iter()) {
                let (l, delta) = self.loss_and_delta(zi, xi);
                sample += l;
                *d = delta;
            }
            loss += sample.as_f64();
        }
        objective.loss = loss / b as f64;

        // Encoder path: δh = W δz, δa = δh ⊙ s (+ penalties), s = h(1 − h).
        let mut da = ws.delta_hidden.columns_mut(0, b);
        crate::math::park_for(w.nrows(), w.ncols(), dz.ncols());
        da.gemm(T::one(), w, &dz, T::zero());
        let sparse = pen.sparsity.is_some_and(|(_, beta)| beta != T::zero());
        let lambda = pen.contractive;
        let contractive = lambda != T::zero();
        if contractive {
            for (j, q) in ws.row_sq.iter_mut().enumerate() {
                *q = w.row(j).iter().fold(T::zero(), |acc, &x| acc + x * x);
            }
            ws.s2_sum.iter_mut().for_each(|x| *x = T::zero());
        }
        let two = T::one() + T::one();
        let mut contractive_sum = 0.0f64;
        for n in 0..b {
            for j in 0..nh {
                let hj = h[(j, n)];
                let s = hj * (T::one() - hj);
                let mut d = da[(j, n)] * s;
                if contractive {
                    let s2 = s * s;
                    ws.s2_sum[j] += s2;
                    contractive_sum += (s2 * ws.row_sq[j]).as_f64();
                    d += two * lambda * ws.row_sq[j] * s2 * (T::one() - two * hj);
                }
                if sparse {
                    d += ws.kl_factor[j] * s;
                }
                da[(j, n)] = d;
            }
        }
        objective.contractive = lambda.as_f64() * contractive_sum / b as f64;

        // ∂J/∂W = (1/b)[h δzᵀ + δa x̃ᵀ] (+ contractive), ∂J/∂b, ∂J/∂c.
        let mut gw = grad.weights.as_view_mut();
        gemm_a_bt(&mut gw, scale, &h.as_view(), &dz.as_view(), T::zero());
        gemm_a_bt(&mut gw, scale, &da.as_view(), &input, T::one());
        if contractive {
            for j in 0..nh {
                let f = two * lambda * scale * ws.s2_sum[j];
                for i in 0..nv {
                    grad.weights[(j, i)] += f * w[(j, i)];
                }
            }
        }
        row_sums_into(&dz.as_view(), scale, T::zero(), &mut grad.visible_bias);
        row_sums_into(&da.as_view(), scale, T::zero(), &mut grad.hidden_bias);
        Ok(objective)
    }

    fn loss_per_sample(&self, v: &DMatrix<T>) -> Result<DVector<f64>> {
        self.check_target(v)?;
        let mut h = DMatrix::zeros(self.n_hidden(), v.ncols());
        self.encode_into(v.as_view(), h.as_view_mut())?;
        let mut z = DMatrix::zeros(self.n_visible(), v.ncols());
        self.decode_raw(&h.as_view(), &mut z.as_view_mut());
        Ok(DVector::from_iterator(
            v.ncols(),
            z.column_iter().zip(v.column_iter()).map(|(zc, xc)| {
                zc.iter()
                    .zip(xc.iter())
                    .map(|(&zi, &xi)| self.loss_and_delta(zi, xi).0.as_f64())
                    .sum::<f64>()
            }),
        ))
    }
}

fn shape_error(what: &'static str, expected: (usize, usize), found: (usize, usize)) -> Error {
    Error::ShapeMismatch {
        what,
        expected,
        found,
    }
}

impl<T: Float> FitModel for TiedAutoencoder<T> {
    fn check_data(&self, data: &Dataset<T>) -> Result<()> {
        self.check_target(data.samples())
    }

    fn initialize_for_fit(
        &mut self,
        data: &Dataset<T>,
        init: &Init,
        rng: &mut RunRng,
    ) -> Result<()> {
        self.initialize(init, Some(data), rng)
    }

    fn evaluate(
        &self,
        data: &Dataset<T>,
        config: &MetricsConfig,
        _rng: &mut RunRng,
    ) -> Result<Metrics> {
        let mut m = Metrics::default();
        if config.loss {
            m.loss = Some(self.mean_loss(data)?);
        }
        if config.reconstruction {
            m.recon_mse = Some(self.reconstruction_error(data)?);
        }
        Ok(m)
    }
}

//! Learning-rate and momentum schedules: the values every step of a run sees, their checks,
//! and bit-exact checkpoint/resume with schedules on.

use nalgebra::DMatrixView;
use rbms::train::{fit_checkpointed, resume, CheckpointRef, EpochReport, StepContext, UpdateRule};
use rbms::{
    datasets, ContrastiveDivergence, Dataset, Error, FitConfig, LearningRateSchedule,
    MetricsConfig, MomentumSchedule, OnlineFit, ParallelTempering, PersistentCd, Rbm, RunRng,
    Trainer,
};
use rbms::{Control, Observer};
use std::sync::Mutex;

/// A trainer that changes nothing and records (epoch, batch, learning rate, momentum).
#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, usize, f64, f64)>>);

impl Trainer<Rbm<f64>> for Recorder {
    type State = ();
    fn name(&self) -> String {
        "recorder".into()
    }
    fn check(&self) -> rbms::Result<()> {
        Ok(())
    }
    fn init_state(
        &self,
        _: &Rbm<f64>,
        _: &Dataset<f64>,
        _: usize,
        _: &mut RunRng,
    ) -> rbms::Result<()> {
        Ok(())
    }
    fn step(
        &self,
        _: &mut Rbm<f64>,
        _: DMatrixView<'_, f64>,
        _: &mut (),
        rule: &UpdateRule<f64>,
        _: &mut RunRng,
        ctx: StepContext,
    ) -> rbms::Result<Option<f64>> {
        self.0
            .lock()
            .unwrap()
            .push((ctx.epoch, ctx.batch, rule.learning_rate(), rule.momentum()));
        Ok(None)
    }
}

fn record(config: &FitConfig) -> Vec<(usize, usize, f64, f64)> {
    let data = datasets::bars_and_stripes::<f64>(2).unwrap(); // 8 samples
    let mut rbm = Rbm::<f64>::new(4, 2).unwrap();
    let rec = Recorder::default();
    rbm.fit(&data, &rec, config).unwrap();
    rec.0.into_inner().unwrap()
}

fn base() -> FitConfig {
    FitConfig::default()
        .epochs(5)
        .batch_size(3) // 3 steps per epoch: 3, 3, 2
        .learning_rate(0.2)
        .momentum(0.9)
        .metrics(MetricsConfig::none())
}

#[test]
fn every_step_sees_the_scheduled_values() {
    let steps = record(&base());
    assert_eq!(steps.len(), 15);
    assert!(steps.iter().all(|s| s.2 == 0.2 && s.3 == 0.9));

    let linear = record(&base().learning_rate_schedule(LearningRateSchedule::LinearToZero));
    for (s, &(_, _, lr, _)) in linear.iter().enumerate() {
        let want = 0.2 * (1.0 - s as f64 / 15.0);
        assert!((lr - want).abs() < 1e-15, "step {s}: {lr} vs {want}");
    }
    assert!((linear[14].2 - 0.2 / 15.0).abs() < 1e-15);

    let expo =
        record(&base().learning_rate_schedule(LearningRateSchedule::Exponential { gamma: 0.5 }));
    for &(e, _, lr, _) in &expo {
        assert_eq!(lr, 0.2 * 0.5f64.powi(e as i32), "epoch {e}");
    }
    let step = record(&base().learning_rate_schedule(LearningRateSchedule::Step {
        every: 2,
        factor: 0.1,
    }));
    let per_epoch: Vec<f64> = step.iter().step_by(3).map(|s| s.2).collect();
    let want = [0.2, 0.2, 0.2 * 0.1, 0.2 * 0.1, 0.2 * 0.1 * 0.1];
    for (g, w) in per_epoch.iter().zip(want) {
        assert!((g - w).abs() < 1e-15, "{per_epoch:?}");
    }

    let switch = record(&base().momentum_schedule(MomentumSchedule::Switch {
        initial: 0.5,
        epochs: 2,
    }));
    for &(e, _, lr, mu) in &switch {
        assert_eq!(lr, 0.2);
        assert_eq!(mu, if e < 2 { 0.5 } else { 0.9 }, "epoch {e}");
    }
}

#[test]
fn bad_schedules_are_typed_errors() {
    let data = datasets::bars_and_stripes::<f64>(2).unwrap();
    let mut rbm = Rbm::<f64>::new(4, 2).unwrap();
    let cd = ContrastiveDivergence::new(1);
    let r = rbm.fit(
        &data,
        &cd,
        &base().learning_rate_schedule(LearningRateSchedule::Step {
            every: 0,
            factor: 0.5,
        }),
    );
    assert!(matches!(
        r,
        Err(Error::InvalidParameter {
            name: "learning_rate_schedule",
            ..
        })
    ));
    let r = rbm.fit(
        &data,
        &cd,
        &base().momentum_schedule(MomentumSchedule::Switch {
            initial: 1.5,
            epochs: 1,
        }),
    );
    assert!(matches!(r, Err(Error::InvalidMomentum(m)) if m == 1.5));
    // f32: a momentum that rounds to 1 is refused too
    let mut small = Rbm::<f32>::new(4, 2).unwrap();
    let r = small.fit(
        &data.cast::<f32>().expect("fits f32"),
        &cd,
        &base().momentum_schedule(MomentumSchedule::Switch {
            initial: 1.0 - 1e-12,
            epochs: 1,
        }),
    );
    assert!(matches!(r, Err(Error::InvalidMomentum(_))));
    // an online session has no run length for the linear decay
    let r = OnlineFit::new(
        &mut rbm,
        &data,
        cd,
        &base().learning_rate_schedule(LearningRateSchedule::LinearToZero),
    );
    assert!(matches!(
        r,
        Err(Error::InvalidParameter {
            name: "learning_rate_schedule",
            ..
        })
    ));
}

/// 6 epochs in one go against 3 + 3 through a checkpoint, with every schedule on: bit for bit.
fn check_resume_with_schedules<Tr>(trainer: &Tr)
where
    Tr: rbms::train::Resumable<Rbm<f32>>,
    Tr::State: Clone,
{
    let data = datasets::digits_scaled::<f32>().head(95).unwrap();
    let config = FitConfig::default()
        .epochs(6)
        .batch_size(10)
        .learning_rate(0.1)
        .momentum(0.9)
        .learning_rate_schedule(LearningRateSchedule::LinearToZero)
        .momentum_schedule(MomentumSchedule::Switch {
            initial: 0.5,
            epochs: 4,
        })
        .metrics(MetricsConfig::none())
        .seed(4);
    let mut full = Rbm::<f32>::new(64, 12).unwrap();
    full.fit(&data, trainer, &config).unwrap();
    // The first part is the same run, interrupted after epoch 3 (here by an observer): the
    // linear decay is over the run's 6 epochs.
    let mut saved = None;
    let mut half = Rbm::<f32>::new(64, 12).unwrap();
    fit_checkpointed(
        &mut half,
        &data,
        trainer,
        &config,
        &mut StopAfter(3),
        3,
        |c: &CheckpointRef<'_, Rbm<f32>, Tr::State>| {
            saved = Some(c.to_checkpoint());
            Ok(())
        },
    )
    .unwrap();
    let mut resumed = Rbm::<f32>::new(1, 1).unwrap();
    resume(
        &mut resumed,
        saved.unwrap(),
        &data,
        trainer,
        &config,
        &mut (),
    )
    .unwrap();
    assert!(resumed == full, "{}: resumed run differs", trainer.name());
    // and the schedules matter: the constant run is another run
    let mut constant = Rbm::<f32>::new(64, 12).unwrap();
    constant
        .fit(
            &data,
            trainer,
            &config
                .clone()
                .learning_rate_schedule(LearningRateSchedule::Constant),
        )
        .unwrap();
    assert!(constant != full);
}

/// Stops the run after `n` epochs.
struct StopAfter(usize);

impl Observer<Rbm<f32>> for StopAfter {
    fn on_epoch(&mut self, _: &Rbm<f32>, e: &EpochReport) -> Control {
        if e.epoch + 1 == self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn runs_with_schedules_resume_bit_identically() {
    check_resume_with_schedules(&ContrastiveDivergence::new(1));
    check_resume_with_schedules(&PersistentCd::new(1, 10));
    check_resume_with_schedules(&ParallelTempering::new(1, 5, 3));
}

//! The free-energy gap monitor: its records against a direct computation, the gap as the
//! difference of exact mean log-likelihoods, overfitting on a tiny training set, stopping on
//! growth at the right epoch (scripted gaps), and bad input.

use nalgebra::{DMatrix, DMatrixView, DVector};
use rbms::observe::FnObserver;
use rbms::train::{EpochReport, StepContext, UpdateRule};
use rbms::{
    datasets, ContrastiveDivergence, Control, Dataset, EnergyModel, Error, FitConfig, Float,
    FreeEnergyGap, MetricsConfig, Rbm, RunRng, Trainer,
};

fn digits<T: Float>() -> Dataset<T> {
    datasets::digits_scaled::<T>().binarize(T::of_f64(0.5))
}

fn range(a: usize, b: usize) -> Vec<usize> {
    (a..b).collect()
}

/// ⟨F⟩ over the columns, each F in `T`, summed in `f64` in column order.
fn mean_fe<T: Float>(rbm: &Rbm<T>, data: &Dataset<T>) -> f64 {
    let f = rbm.free_energy(data.samples().as_view()).unwrap();
    f.iter().map(|x| x.as_f64()).sum::<f64>() / f.len() as f64
}

fn recorded_values_are_the_free_energies<T: Float>() {
    let data = digits::<T>();
    let train = data.head(100).unwrap();
    let subset = data.head(30).unwrap();
    let valid = data.select(&range(1500, 1530)).unwrap();
    let mut rbm = Rbm::<T>::new(64, 16).unwrap();
    let mut gap = FreeEnergyGap::new(&rbm, subset.clone(), valid.clone(), 2).unwrap();
    let mut snapshots = Vec::new();
    let mut snap = FnObserver(|m: &Rbm<T>, _: &EpochReport| {
        snapshots.push(m.clone());
        Control::Continue
    });
    let config = FitConfig::default()
        .epochs(7)
        .learning_rate(0.05)
        .metrics(MetricsConfig::none());
    let report = rbm
        .fit_observed(
            &train,
            &ContrastiveDivergence::new(1),
            &config,
            &mut (&mut gap, &mut snap),
        )
        .unwrap();
    assert!(!report.stopped_early);
    assert_eq!(snapshots.len(), 7);
    let epochs: Vec<usize> = gap.history().iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, vec![1, 3, 5], "{}", T::NAME);
    for r in gap.history() {
        let model = &snapshots[r.epoch];
        assert_eq!(
            r.train,
            mean_fe(model, &subset),
            "{} epoch {}",
            T::NAME,
            r.epoch
        );
        assert_eq!(
            r.valid,
            mean_fe(model, &valid),
            "{} epoch {}",
            T::NAME,
            r.epoch
        );
        assert_eq!(r.gap, r.valid - r.train);
        assert_eq!(gap.measure(model).unwrap(), (r.train, r.valid));
    }
    // the parameters moved between measurements, so the records differ
    assert_ne!(gap.history()[0].train, gap.history()[2].train);
    assert_eq!(gap.stopped_at(), None);
    assert!(gap.error().is_none());
}

#[test]
fn recorded_free_energies_equal_the_direct_computation() {
    recorded_values_are_the_free_energies::<f64>();
    recorded_values_are_the_free_energies::<f32>();
}

#[test]
fn the_gap_is_the_difference_of_exact_mean_log_likelihoods() {
    // log p = −F − log Z, so ⟨F⟩_valid − ⟨F⟩_train = ⟨log p⟩_train − ⟨log p⟩_valid.
    let values = [0.9, -1.7, 0.3, 1.2, -0.4, 2.2, -0.8, 0.1, 1.6, -1.1];
    let mut it = values.iter().cycle().cloned();
    let rbm = Rbm::<f64>::from_parameters(
        DMatrix::from_fn(4, 6, |_, _| it.next().unwrap()),
        DVector::from_fn(6, |_, _| it.next().unwrap()),
        DVector::from_fn(4, |_, _| it.next().unwrap()),
    )
    .unwrap();
    let train = Dataset::from_columns(DMatrix::from_fn(6, 5, |i, j| {
        ((i + 2 * j) % 3 == 0) as u8 as f64
    }))
    .unwrap();
    let valid =
        Dataset::from_columns(DMatrix::from_fn(6, 4, |i, j| ((i * j + 1) % 2) as f64)).unwrap();
    let gap = FreeEnergyGap::new(&rbm, train.clone(), valid.clone(), 1).unwrap();
    let (f_train, f_valid) = gap.measure(&rbm).unwrap();
    let ll_train = rbm.log_prob_exact(&train).unwrap().mean();
    let ll_valid = rbm.log_prob_exact(&valid).unwrap().mean();
    assert!(((f_valid - f_train) - (ll_train - ll_valid)).abs() < 1e-12);
    assert!(
        (f_valid - f_train).abs() > 0.1,
        "a trivial gap would prove nothing"
    );
}

fn overfitting<T: Float>() {
    // 20 digits, 64 hidden units, 400 epochs: the model memorises its training set.
    let data = digits::<T>();
    let tiny = data.head(20).unwrap();
    let subset = data.head(10).unwrap();
    let held_out = data.select(&range(1000, 1200)).unwrap();
    // control: the other 10 training samples, seen in training like the subset
    let seen = data.select(&range(10, 20)).unwrap();
    let mut rbm = Rbm::<T>::new(64, 64).unwrap();
    let mut gap = FreeEnergyGap::new(&rbm, subset.clone(), held_out, 20).unwrap();
    let mut control = FreeEnergyGap::new(&rbm, subset, seen, 20).unwrap();
    let config = FitConfig::default()
        .epochs(400)
        .batch_size(10)
        .learning_rate(0.1)
        .seed(3)
        .metrics(MetricsConfig::none());
    rbm.fit_observed(
        &tiny,
        &ContrastiveDivergence::new(1),
        &config,
        &mut (&mut gap, &mut control),
    )
    .unwrap();
    let gaps: Vec<f64> = gap.history().iter().map(|r| r.gap).collect();
    let controls: Vec<f64> = control.history().iter().map(|r| r.gap).collect();
    assert_eq!(gaps.len(), 20);
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (first, last) = (mean(&gaps[..5]), mean(&gaps[15..]));
    // the held-out gap grows steadily, by tens of nats per sample
    assert!(last > first + 15.0, "{} gaps {gaps:?}", T::NAME);
    let rises = gaps.windows(2).filter(|w| w[1] > w[0]).count();
    assert!(rises >= 15, "{} gaps {gaps:?}", T::NAME);
    // the training free energy itself drifts (log Z changes), which is why only the gap counts
    let trains: Vec<f64> = gap.history().iter().map(|r| r.train).collect();
    assert!((trains[19] - trains[0]).abs() > 20.0, "{trains:?}");
    // data the model was trained on show no such gap
    assert!(
        controls.iter().all(|g| g.abs() < 4.0),
        "{} controls {controls:?}",
        T::NAME
    );
    assert!(last > 5.0 * controls.iter().map(|g| g.abs()).fold(0.0, f64::max));
}

#[test]
fn the_gap_grows_when_a_model_overfits_a_tiny_training_set() {
    overfitting::<f64>();
    overfitting::<f32>();
}

/// A trainer that sets an Rbm(2 visible, 1 hidden) so that the monitor below sees the gap
/// `gaps[epoch]`: W = 0, c = 0, b = (−g/2, −g/2) give F(0, 0) = −log 2 and
/// F(1, 1) = g − log 2.
struct Scripted {
    gaps: Vec<f64>,
}

impl Trainer<Rbm<f64>> for Scripted {
    type State = ();
    fn name(&self) -> String {
        "scripted".into()
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
        model: &mut Rbm<f64>,
        _: DMatrixView<'_, f64>,
        _: &mut (),
        _: &UpdateRule<f64>,
        _: &mut RunRng,
        ctx: StepContext,
    ) -> rbms::Result<Option<f64>> {
        let g = self.gaps[ctx.epoch];
        *model = Rbm::from_parameters(
            DMatrix::zeros(1, 2),
            DVector::from_element(2, -g / 2.0),
            DVector::zeros(1),
        )?;
        Ok(None)
    }
}

/// Runs the script with the monitor measuring every `every` epochs; returns the epochs run,
/// whether the run stopped early, and the monitor.
fn run_script(
    gaps: &[f64],
    every: usize,
    patience: Option<usize>,
) -> (usize, bool, FreeEnergyGap<f64>) {
    let mut rbm = Rbm::<f64>::new(2, 1).unwrap();
    let zeros = Dataset::from_columns(DMatrix::zeros(2, 1)).unwrap();
    let ones = Dataset::from_columns(DMatrix::from_element(2, 1, 1.0)).unwrap();
    let mut gap = FreeEnergyGap::new(&rbm, zeros.clone(), ones, every).unwrap();
    if let Some(p) = patience {
        gap = gap.stop_after_growth(p).unwrap();
    }
    let config = FitConfig::default()
        .epochs(gaps.len())
        .batch_size(1)
        .metrics(MetricsConfig::none());
    let trainer = Scripted {
        gaps: gaps.to_vec(),
    };
    let report = rbm
        .fit_observed(&zeros, &trainer, &config, &mut gap)
        .unwrap();
    (report.epochs.len(), report.stopped_early, gap)
}

#[test]
fn stop_on_growth_stops_at_the_right_epoch() {
    //           epoch: 0    1    2    3    4    5    6    7    8    9
    let gaps = [1.0, 0.5, 0.8, 0.6, 0.9, 1.2, 1.5, 2.0, 2.5, 3.0];
    // every epoch, patience 3: growth at 2 (streak 1), not at 3 (0), at 4, 5, 6 (3) → stop at 6
    let (ran, early, gap) = run_script(&gaps, 1, Some(3));
    assert_eq!((ran, early), (7, true));
    assert_eq!(gap.stopped_at(), Some(6));
    assert_eq!(gap.growth_streak(), 3);
    assert_eq!((gap.every(), gap.patience()), (1, Some(3)));
    let got: Vec<f64> = gap.history().iter().map(|r| r.gap).collect();
    assert_eq!(got.len(), 7);
    for (g, want) in got.iter().zip(&gaps) {
        assert!((g - want).abs() < 1e-12, "{got:?}");
    }
    // patience 4 → stop at 7; patience 1 → at the first growth, epoch 2
    assert_eq!(run_script(&gaps, 1, Some(4)).2.stopped_at(), Some(7));
    let (ran, _, gap) = run_script(&gaps, 1, Some(1));
    assert_eq!((ran, gap.stopped_at()), (3, Some(2)));
    // every 2 epochs: measured after 1, 3, 5, 7, 9 → 0.5, 0.6, 1.2, 2.0, 3.0; patience 3 → 7
    let (ran, early, gap) = run_script(&gaps, 2, Some(3));
    assert_eq!((ran, early, gap.stopped_at()), (8, true, Some(7)));
    let epochs: Vec<usize> = gap.history().iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, vec![1, 3, 5, 7]);
    // without patience the run goes on to the end
    let (ran, early, gap) = run_script(&gaps, 1, None);
    assert_eq!((ran, early, gap.stopped_at()), (10, false, None));
    assert_eq!(gap.history().len(), 10);
    // a plateau is not growth: equal gaps reset the streak
    let flat = [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0];
    let (ran, _, gap) = run_script(&flat, 1, Some(2));
    assert_eq!((ran, gap.stopped_at()), (7, Some(6)));
}

#[test]
fn bad_settings_and_data_are_typed_errors() {
    let rbm = Rbm::<f64>::new(3, 2).unwrap();
    let ok = Dataset::from_columns(DMatrix::from_element(3, 2, 1.0)).unwrap();
    let e = FreeEnergyGap::new(&rbm, ok.clone(), ok.clone(), 0).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "every", .. }),
        "{e}"
    );
    let four = Dataset::from_columns(DMatrix::from_element(4, 2, 1.0)).unwrap();
    let e = FreeEnergyGap::new(&rbm, four.clone(), ok.clone(), 1).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = FreeEnergyGap::new(&rbm, ok.clone(), four, 1).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let outside = Dataset::from_columns(DMatrix::from_element(3, 2, 1.5)).unwrap();
    let e = FreeEnergyGap::new(&rbm, ok.clone(), outside, 1).unwrap_err();
    assert!(matches!(e, Error::OutsideUnitInterval { .. }), "{e}");
    let e = FreeEnergyGap::new(&rbm, ok.clone(), ok.clone(), 1)
        .unwrap()
        .stop_after_growth(0)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                name: "patience",
                ..
            }
        ),
        "{e}"
    );

    // Watching a model of another shape: the first measurement fails, the monitor keeps the
    // error and stops the run.
    let mut gap = FreeEnergyGap::new(&rbm, ok.clone(), ok, 1).unwrap();
    let mut other = Rbm::<f64>::new(4, 2).unwrap();
    let data = Dataset::from_columns(DMatrix::from_element(4, 5, 1.0)).unwrap();
    let config = FitConfig::default()
        .epochs(5)
        .batch_size(5)
        .metrics(MetricsConfig::none());
    let report = other
        .fit_observed(&data, &ContrastiveDivergence::new(1), &config, &mut gap)
        .unwrap();
    assert_eq!((report.epochs.len(), report.stopped_early), (1, true));
    assert!(
        matches!(gap.error(), Some(Error::ShapeMismatch { .. })),
        "{:?}",
        gap.error()
    );
    assert_eq!(gap.stopped_at(), Some(0));
    assert!(gap.history().is_empty());
    assert!(gap.measure(&other).is_err());
    assert!(gap.measure(&rbm).is_ok());
}

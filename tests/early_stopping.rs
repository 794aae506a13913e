//! `EarlyStopping` (patience, min_delta, best parameters) and `History::to_csv`.

use rbms::datasets::digits_scaled;
use rbms::observe::{EarlyStopping, FnObserver, ValidationMetric};
use rbms::train::EpochReport;
use rbms::{
    Control, Dataset, Decoder, Error, FitConfig, History, Loss, MetricsConfig, Model, Observer,
    PersistentCd, Rbm, RbmParams, Sgd, TiedAutoencoder,
};

fn sets() -> (Dataset<f32>, Dataset<f32>) {
    let digits = digits_scaled::<f32>();
    let train = digits.head(300).unwrap();
    let valid = digits.select(&(1000..1200).collect::<Vec<_>>()).unwrap();
    (train, valid)
}

/// The rule, written out independently: the first epoch is the best so far; a later one
/// replaces it when it beats it by more than `min_delta`; stop after `patience` epochs in a row
/// without improvement. Returns (best index, stop index).
fn expected(
    values: &[f64],
    patience: usize,
    min_delta: f64,
    higher: bool,
) -> (usize, Option<usize>) {
    let mut best = 0;
    let mut waited = 0;
    for i in 1..values.len() {
        let better = if higher {
            values[i] > values[best] + min_delta
        } else {
            values[i] < values[best] - min_delta
        };
        if better {
            best = i;
            waited = 0;
        } else {
            waited += 1;
            if waited == patience {
                return (best, Some(i));
            }
        }
    }
    (best, None)
}

/// Trains with `early` beside a recorder of the metric and the parameters after every epoch.
fn run(
    early: &mut EarlyStopping<Rbm<f32>>,
    metric: ValidationMetric,
    lr: f64,
    epochs: usize,
) -> (Rbm<f32>, Vec<f64>, Vec<RbmParams<f32>>, rbms::FitReport) {
    let (train, valid) = sets();
    let mut values = Vec::new();
    let mut snapshots = Vec::new();
    let mut recorder = FnObserver(|m: &Rbm<f32>, _: &EpochReport| {
        values.push(match metric {
            ValidationMetric::ReconstructionError => m.reconstruction_error(&valid).unwrap(),
            _ => {
                let pl = m.pseudo_likelihood_exact(&valid).unwrap();
                pl.sum() / pl.len() as f64
            }
        });
        snapshots.push(m.params().clone());
        Control::Continue
    });
    let mut rbm = Rbm::<f32>::new(64, 32).unwrap();
    let config = FitConfig::default()
        .epochs(epochs)
        .learning_rate(lr)
        .seed(4)
        .metrics(MetricsConfig::none());
    let report = rbm
        .fit_observed(
            &train,
            &PersistentCd::new(1, 10),
            &config,
            &mut (&mut recorder, &mut *early),
        )
        .unwrap();
    (rbm, values, snapshots, report)
}

#[test]
fn stops_after_patience_and_restores_the_best_parameters() {
    let (_, valid) = sets();
    let metric = ValidationMetric::ReconstructionError;
    let mut early = EarlyStopping::new(&Rbm::new(64, 32).unwrap(), valid, metric, 3).unwrap();
    // a learning rate far too high: the error soon stops improving
    let (mut rbm, values, snapshots, report) = run(&mut early, metric, 2.0, 40);
    let (best, stop) = expected(&values, 3, 0.0, false);
    let stop = stop.expect("the run stops early");
    assert!(report.stopped_early);
    assert_eq!(report.epochs.len(), stop + 1);
    assert_eq!(early.stopped_at(), Some(stop));
    assert_eq!(early.best_epoch(), Some(best));
    assert_eq!(early.best_score(), Some(values[best]));
    assert_eq!(
        early.history().iter().map(|h| h.1).collect::<Vec<_>>(),
        values
    );
    assert_eq!(early.best_params(), Some(&snapshots[best]));
    // the run ends with the last parameters; restore_best puts the best ones back
    assert_eq!(rbm.params(), &snapshots[stop]);
    assert_ne!(snapshots[stop], snapshots[best]);
    assert!(early.restore_best(&mut rbm).unwrap());
    assert_eq!(rbm.params(), &snapshots[best]);
}

#[test]
fn min_delta_and_higher_is_better() {
    let (_, valid) = sets();
    // no change of the error by more than 1.0 (it is ~0.1): the first epoch stays the best
    let metric = ValidationMetric::ReconstructionError;
    let mut early = EarlyStopping::new(&Rbm::new(64, 32).unwrap(), valid.clone(), metric, 2)
        .unwrap()
        .min_delta(1.0)
        .unwrap();
    let (_, values, _, report) = run(&mut early, metric, 0.05, 10);
    assert_eq!(values.len(), 3);
    assert_eq!((early.best_epoch(), early.stopped_at()), (Some(0), Some(2)));
    assert!(report.stopped_early);

    // the pseudo-likelihood rises while training goes well: higher is better
    let metric = ValidationMetric::PseudoLikelihood;
    let mut early = EarlyStopping::new(&Rbm::new(64, 32).unwrap(), valid, metric, 2)
        .unwrap()
        .min_delta(0.01)
        .unwrap();
    let (_, values, _, _) = run(&mut early, metric, 0.05, 8);
    let (best, stop) = expected(&values, 2, 0.01, true);
    assert_eq!(early.best_epoch(), Some(best));
    assert_eq!(early.stopped_at(), stop);
    assert!(values[best] > values[0], "{values:?}");
}

#[test]
fn autoencoders_stop_on_their_loss() {
    let (train, valid) = sets();
    let mut ae = TiedAutoencoder::<f32>::new(64, 16, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    let mut early = EarlyStopping::new(&ae, valid.clone(), ValidationMetric::Loss, 2).unwrap();
    let config = FitConfig::default()
        .epochs(5)
        .learning_rate(0.1)
        .metrics(MetricsConfig::none());
    ae.fit_observed(&train, &Sgd::new(), &config, &mut early)
        .unwrap();
    let best = early.best_score().unwrap();
    assert!(early.history().iter().all(|&(_, v)| v >= best));
    assert!(early.restore_best(&mut ae).unwrap());
    assert_eq!(ae.mean_loss(&valid).unwrap(), best);
}

#[test]
fn bad_settings_are_errors() {
    let (_, valid) = sets();
    let rbm = Rbm::<f32>::new(64, 8).unwrap();
    let m = ValidationMetric::ReconstructionError;
    assert!(matches!(
        EarlyStopping::new(&rbm, valid.clone(), m, 0),
        Err(Error::InvalidParameter {
            name: "patience",
            ..
        })
    ));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            EarlyStopping::new(&rbm, valid.clone(), m, 1)
                .unwrap()
                .min_delta(bad),
            Err(Error::InvalidParameter {
                name: "min_delta",
                ..
            })
        ));
    }
    assert!(matches!(
        EarlyStopping::new(&rbm, valid.clone(), ValidationMetric::Loss, 1),
        Err(Error::InvalidParameter { name: "metric", .. })
    ));
    let ae = TiedAutoencoder::<f32>::new(64, 8, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    assert!(matches!(
        EarlyStopping::new(&ae, valid.clone(), ValidationMetric::PseudoLikelihood, 1),
        Err(Error::InvalidParameter { name: "metric", .. })
    ));
    let narrow = Dataset::from_row_major(2, 10, &[0.0f32; 20]).unwrap();
    assert!(matches!(
        EarlyStopping::new(&rbm, narrow, m, 1),
        Err(Error::ShapeMismatch {
            what: "validation set",
            ..
        })
    ));
    // nothing measured: nothing to restore; another shape: an error
    let early = EarlyStopping::new(&rbm, valid.clone(), m, 1).unwrap();
    let mut other = Rbm::<f32>::new(64, 8).unwrap();
    assert!(!early.restore_best(&mut other).unwrap());
    let mut early = EarlyStopping::new(&rbm, valid, m, 1).unwrap();
    let (train, _) = sets();
    let mut model = Rbm::<f32>::new(64, 8).unwrap();
    model
        .fit_observed(
            &train,
            &PersistentCd::new(1, 5),
            &FitConfig::default().epochs(1),
            &mut early,
        )
        .unwrap();
    let mut wrong = Rbm::<f32>::new(64, 9).unwrap();
    assert!(matches!(
        early.restore_best(&mut wrong),
        Err(Error::ShapeMismatch { .. })
    ));
    // a model of another shape than the set: the monitor keeps the error and stops
    let mut early = EarlyStopping::new(&rbm, sets().1, m, 5).unwrap();
    let mut report = rbms::FitReport::clone(
        &Rbm::<f32>::new(64, 8)
            .unwrap()
            .fit(
                &train,
                &PersistentCd::new(1, 5),
                &FitConfig::default().epochs(1),
            )
            .unwrap(),
    );
    let epoch = report.epochs.remove(0);
    let small = Rbm::<f32>::new(10, 3).unwrap();
    assert_eq!(early.on_epoch(&small, &epoch), Control::Stop);
    assert!(matches!(early.error(), Some(Error::ShapeMismatch { .. })));
}

#[test]
fn history_exports_csv() {
    let (train, _) = sets();
    let mut history = History::default();
    let config = FitConfig::default().epochs(4).metrics(MetricsConfig {
        every: 2,
        ..MetricsConfig::default()
    });
    Rbm::<f32>::new(64, 8)
        .unwrap()
        .fit_observed(&train, &PersistentCd::new(1, 5), &config, &mut history)
        .unwrap();
    let csv = history.to_csv();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(History::CSV_HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    let parse = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().unwrap());
    for (row, e) in rows.iter().zip(&history.epochs) {
        assert_eq!(row.len(), 8);
        assert_eq!(row[0].parse::<usize>().unwrap(), e.epoch);
        // numbers read back to the same bits
        assert_eq!(
            row[1].parse::<f64>().unwrap().to_bits(),
            e.seconds.to_bits()
        );
        assert_eq!(parse(row[3]), e.train_loss);
        assert_eq!(parse(row[5]), e.metrics.recon_mse);
        assert_eq!(parse(row[6]), e.metrics.pseudo_likelihood);
        assert_eq!(parse(row[7]), e.metrics.pseudo_likelihood_exact);
    }
    // metrics every 2 epochs: empty cells after epochs 0 and 2, values after 1 and 3
    assert_eq!(rows[0][5], "");
    assert!(rows[1][5].parse::<f64>().unwrap() > 0.0);
    assert_eq!(rows[2][7], "");
    assert!(rows[3][7].parse::<f64>().unwrap() < 0.0);
}

/// The free-energy gap: each measurement is mean F(valid) − mean F(train subset), recomputed
/// here; training long on 100 samples overfits, the gap grows and the monitor stops.
#[test]
fn free_energy_gap_metric_stops_when_the_gap_grows() {
    use rbms::EnergyModel;
    let digits = digits_scaled::<f64>();
    let train = digits.head(100).unwrap();
    let valid = digits.select(&(1000..1100).collect::<Vec<_>>()).unwrap();
    let mean_f =
        |m: &Rbm<f64>, d: &Dataset<f64>| m.free_energy(d.samples().as_view()).unwrap().mean();
    let mut gaps = Vec::new();
    let mut recorder = FnObserver(|m: &Rbm<f64>, _: &EpochReport| {
        gaps.push(mean_f(m, &valid) - mean_f(m, &train));
        Control::Continue
    });
    let mut rbm = Rbm::<f64>::new(64, 100).unwrap();
    let mut early = EarlyStopping::free_energy_gap(&rbm, train.clone(), valid.clone(), 3).unwrap();
    let config = FitConfig::default()
        .epochs(200)
        .learning_rate(0.1)
        .batch_size(10)
        .seed(2)
        .metrics(MetricsConfig::none());
    let report = rbm
        .fit_observed(
            &train,
            &PersistentCd::new(1, 10),
            &config,
            &mut (&mut recorder, &mut early),
        )
        .unwrap();
    assert!(report.stopped_early, "the gap never grew 3 times: {gaps:?}");
    let recorded: Vec<f64> = early.history().iter().map(|h| h.1).collect();
    assert_eq!(recorded.len(), gaps.len());
    for (a, b) in recorded.iter().zip(&gaps) {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
    let (best, stop) = expected(&gaps, 3, 0.0, false);
    assert_eq!((early.best_epoch(), early.stopped_at()), (Some(best), stop));
    // overfitting: the last gap is well above the best one
    assert!(gaps[gaps.len() - 1] > gaps[best] + 0.1, "{gaps:?}");
}

/// The AIS log-likelihood, measured every 2 epochs: on a model small enough for the exact
/// log Z, each measurement is within a few standard errors of the exact mean log p.
#[test]
fn ais_metric_every_two_epochs_tracks_the_exact_log_likelihood() {
    use rbms::rbm::{AisBase, AisConfig, AisSchedule};
    let digits = digits_scaled::<f64>().binarize(0.5);
    let train = digits.head(500).unwrap();
    let valid = digits.select(&(1000..1200).collect::<Vec<_>>()).unwrap();
    let mut exact = Vec::new();
    let mut recorder = FnObserver(|m: &Rbm<f64>, r: &EpochReport| {
        if (r.epoch + 1).is_multiple_of(2) {
            exact.push(m.log_prob_exact(&valid).unwrap().mean());
        }
        Control::Continue
    });
    let mut rbm = Rbm::<f64>::new(64, 10).unwrap();
    let ais = AisConfig::default()
        .schedule(AisSchedule::linear(2_000).unwrap())
        .base(AisBase::from_data(&train).unwrap())
        .runs(100)
        .seed(7);
    let mut early = EarlyStopping::ais(&rbm, valid.clone(), ais, 100)
        .unwrap()
        .every(2)
        .unwrap();
    let config = FitConfig::default()
        .epochs(6)
        .learning_rate(0.05)
        .batch_size(10)
        .seed(3)
        .metrics(MetricsConfig::none());
    rbm.fit_observed(
        &train,
        &PersistentCd::new(1, 10),
        &config,
        &mut (&mut recorder, &mut early),
    )
    .unwrap();
    let epochs: Vec<usize> = early.history().iter().map(|h| h.0).collect();
    assert_eq!(epochs, vec![1, 3, 5]);
    for ((_, ais_ll), exact_ll) in early.history().iter().zip(&exact) {
        assert!(
            (ais_ll - exact_ll).abs() < 0.3,
            "AIS {ais_ll} vs exact {exact_ll}"
        );
    }
    // it is a log-likelihood: higher is better, and training improved it
    assert!(exact[2] > exact[0] + 0.1, "{exact:?}");
    let values: Vec<f64> = early.history().iter().map(|h| h.1).collect();
    let (best, _) = expected(&values, 100, 0.0, true);
    assert_eq!(early.best_epoch(), Some(epochs[best]));
    // bad settings and missing metrics are errors
    assert!(matches!(
        EarlyStopping::new(&rbm, valid.clone(), ValidationMetric::FreeEnergyGap, 1),
        Err(Error::InvalidParameter { name: "metric", .. })
    ));
    assert!(matches!(
        EarlyStopping::new(
            &rbm,
            valid.clone(),
            ValidationMetric::ReconstructionError,
            1
        )
        .unwrap()
        .every(0),
        Err(Error::InvalidParameter { name: "every", .. })
    ));
    let ae = TiedAutoencoder::<f64>::new(64, 8, Decoder::Sigmoid, Loss::CrossEntropy).unwrap();
    assert!(matches!(
        EarlyStopping::new(&ae, valid, ValidationMetric::AisLogLikelihood, 1),
        Err(Error::InvalidParameter { name: "metric", .. })
    ));
}

//! The exported proptest strategies (feature `proptest`): sizes, scales and data domains as
//! documented, the whole size range covered, the gradient checks passing on what they make,
//! and typed errors for bad arguments.
#![cfg(feature = "proptest")]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rbms::gradcheck::{
    check_free_energy_gradient, check_log_likelihood_gradient, check_loss_gradient, CheckConfig,
};
use rbms::strategies::{
    autoencoder_and_data, autoencoder_kind, binary_data, penalties, rbm, rbm_and_data,
    tied_autoencoder,
};
use rbms::{Autoencoder, Decoder, EnergyModel, Error, Model, Parameters};
use std::collections::BTreeSet;

fn all_params<P: Parameters<Scalar = f64>>(p: &P) -> Vec<f64> {
    (0..p.n_blocks())
        .flat_map(|b| p.block(b).to_vec())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rbms_and_data_respect_sizes_scale_and_domain(
        (m, data) in rbm_and_data(2..=5, 1..=3, 1..=6, 0.7).unwrap()
    ) {
        prop_assert!((2..=5).contains(&m.n_visible()));
        prop_assert!((1..=3).contains(&m.n_hidden()));
        prop_assert!(all_params(m.params()).iter().all(|x| x.abs() <= 0.7));
        prop_assert_eq!(data.n_features(), m.n_visible());
        prop_assert!((1..=6).contains(&data.n_samples()));
        prop_assert!(data.samples().iter().all(|&x| x == 0.0 || x == 1.0));
    }

    #[test]
    fn autoencoders_and_data_respect_sizes_scale_and_domain(
        (ae, data) in autoencoder_and_data(1..=5, 2..=4, 1..=3, 2.5).unwrap(),
        pen in penalties(),
    ) {
        prop_assert!((1..=5).contains(&Autoencoder::n_visible(&ae)));
        prop_assert!((2..=4).contains(&Autoencoder::n_hidden(&ae)));
        prop_assert!(all_params(ae.params()).iter().all(|x| x.abs() <= 2.5));
        prop_assert_eq!(data.n_features(), Autoencoder::n_visible(&ae));
        prop_assert!((1..=3).contains(&data.n_samples()));
        prop_assert!(ae.check_target(data.samples()).is_ok());
        if ae.decoder() == Decoder::Identity {
            prop_assert!(data.samples().iter().all(|x| x.abs() <= 2.0));
        }
        prop_assert!(pen.check().is_ok());
    }

    /// What the strategies make is what the gradient checks are for.
    #[test]
    fn gradient_checks_pass_on_generated_models(
        (m, data) in rbm_and_data(1..=5, 1..=4, 1..=6, 1.5).unwrap(),
        (ae, x) in autoencoder_and_data(1..=5, 1..=4, 1..=4, 1.5).unwrap(),
        pen in penalties(),
    ) {
        let config = CheckConfig::default();
        let r = check_free_energy_gradient(&m, data.samples(), &config).unwrap();
        prop_assert!(r.within(1e-7, 1e-6), "{}", r);
        let r = check_log_likelihood_gradient(&m, &data, &config).unwrap();
        prop_assert!(r.within(1e-7, 1e-6), "{}", r);
        let r = check_loss_gradient(&ae, x.samples(), x.samples(), &pen, &config).unwrap();
        prop_assert!(r.within(1e-7, 1e-6), "{:?}\n{}", pen, r);
    }
}

#[test]
fn sizes_kinds_and_scale_cover_their_ranges() {
    let mut runner = TestRunner::deterministic();
    let models = rbm(1..=4, 2..5, 1.0).unwrap();
    let (mut nv, mut nh, mut largest) = (BTreeSet::new(), BTreeSet::new(), 0.0f64);
    for _ in 0..300 {
        let m = models.new_tree(&mut runner).unwrap().current();
        nv.insert(m.n_visible());
        nh.insert(m.n_hidden());
        largest = all_params(m.params())
            .iter()
            .fold(largest, |a, x| a.max(x.abs()));
    }
    assert_eq!(nv.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(nh.into_iter().collect::<Vec<_>>(), vec![2, 3, 4]);
    assert!(largest > 0.9 && largest <= 1.0, "{largest}");

    let aes = tied_autoencoder(3, 2, 0.25).unwrap();
    let mut kinds = BTreeSet::new();
    for _ in 0..100 {
        let ae = aes.new_tree(&mut runner).unwrap().current();
        assert_eq!(
            (Autoencoder::n_visible(&ae), Autoencoder::n_hidden(&ae)),
            (3, 2)
        );
        kinds.insert(format!("{:?}/{:?}", ae.decoder(), ae.loss_kind()));
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let mut kinds = BTreeSet::new();
    for _ in 0..100 {
        kinds.insert(format!(
            "{:?}",
            autoencoder_kind().new_tree(&mut runner).unwrap().current()
        ));
    }
    assert_eq!(kinds.len(), 3);

    let data = binary_data(5, 2..=3).unwrap();
    let (mut ns, mut ones, mut total) = (BTreeSet::new(), 0usize, 0usize);
    for _ in 0..100 {
        let d = data.new_tree(&mut runner).unwrap().current();
        assert_eq!(d.n_features(), 5);
        ns.insert(d.n_samples());
        ones += d.samples().iter().filter(|&&x| x == 1.0).count();
        total += d.samples().len();
    }
    assert_eq!(ns.into_iter().collect::<Vec<_>>(), vec![2, 3]);
    // both values appear in roughly equal measure
    assert!(
        ones * 3 > total && ones * 3 < 2 * total,
        "{ones} of {total}"
    );

    let zero = rbm(2, 2, 0.0)
        .unwrap()
        .new_tree(&mut runner)
        .unwrap()
        .current();
    assert!(all_params(zero.params()).iter().all(|&x| x == 0.0));
}

#[test]
fn bad_arguments_are_typed_errors() {
    let invalid = |e: Option<Error>, want: &str| match e {
        Some(Error::InvalidParameter { name, .. }) => assert_eq!(name, want),
        other => panic!("expected InvalidParameter({want}), got {other:?}"),
    };
    invalid(rbm(0..=3, 2, 1.0).err(), "visible");
    invalid(rbm(3..3, 2, 1.0).err(), "visible");
    #[allow(clippy::reversed_empty_ranges)]
    invalid(rbm(2, 5..2, 1.0).err(), "hidden");
    invalid(rbm(2, 0, 1.0).err(), "hidden");
    for scale in [-1.0, f64::NAN, f64::INFINITY] {
        invalid(rbm(2, 2, scale).err(), "scale");
        invalid(rbm_and_data(2, 2, 2, scale).err(), "scale");
        invalid(tied_autoencoder(2, 2, scale).err(), "scale");
        invalid(autoencoder_and_data(2, 2, 2, scale).err(), "scale");
    }
    invalid(rbm(usize::MAX / 2, 4, 1.0).err(), "visible × hidden");
    invalid(binary_data(0, 2).err(), "n_features");
    invalid(binary_data(3, 0..=0).err(), "samples");
    invalid(rbm_and_data(2, 2, 0, 1.0).err(), "samples");
    invalid(autoencoder_and_data(2, 2, ..1, 1.0).err(), "samples");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Gaussian models and real data: shapes match, values in range, gradients check.
    #[test]
    fn gaussian_models_and_data_suit_each_other(
        (gb, data) in rbms::strategies::gaussian_rbm_and_data(1..=4, 1..=3, 1..=6, 0.8).unwrap()
    ) {
        prop_assert_eq!(data.n_features(), gb.n_visible());
        prop_assert!(gb.log_sigma().iter().all(|z| z.abs() <= 0.4));
        prop_assert!(data.samples().iter().all(|x| x.abs() <= 3.0));
        let report = rbms::gradcheck::check_free_energy_gradient(
            &gb,
            data.samples(),
            &rbms::gradcheck::CheckConfig::default(),
        )
        .unwrap();
        prop_assert!(report.within(1e-7, 1e-6), "{}", report);
    }
}

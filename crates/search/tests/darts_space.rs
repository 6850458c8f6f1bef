//! Every differentiable method on the DARTS space's search network (Zela et al.'s S2 and S3 and
//! the full op set), on random data at toy size, with a checkpoint resume between epochs: the
//! space plugs into the same search driver as NAS-Bench-201.

use sotl_nn::{DartsSupernet, Supernet};
use sotl_search::{DartsConfig, DartsMethod, DartsSearch, SearchSplits};
use sotl_space::{CellShape, DartsOp, DartsOpSet, SearchSpace};
use tch::{Device, Kind};

mod darts_common;
use darts_common::{net, source};

#[test]
fn every_differentiable_method_searches_the_darts_space() {
    tch::set_num_threads(1);
    let cfg = DartsConfig {
        epochs: 2,
        batch_size: 4,
        unroll_steps: 2,
        eigen_every: 1,
        eigen_batches: 1,
        drnas_partial_channels: vec![1],
        ..DartsConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    for (ops, method) in [
        (DartsOpSet::S2, DartsMethod::Darts1),
        (DartsOpSet::S2, DartsMethod::Sotl),
        (DartsOpSet::S2, DartsMethod::Darts2),
        (DartsOpSet::Full, DartsMethod::Drnas),
        (DartsOpSet::S3, DartsMethod::Sovl),
    ] {
        let n = net(ops);
        let (mut tr, mut va) = (source(1, 16), source(2, 8));
        let mut data = SearchSplits { train: &mut tr, val: Some(&mut va) };
        let mut s =
            DartsSearch::<DartsSupernet>::new(method, &cfg, &n, 5, Device::Cpu, Kind::Float)
                .unwrap();
        assert_eq!(s.alpha().size(), [28, ops.ops().len() as i64], "{method}");
        s.run_epoch(&mut data, &mut |_| {}).unwrap();
        let ck = dir.path().join(format!("{method}-{ops}.ckpt"));
        s.save(&ck).unwrap();
        let mut s = DartsSearch::<DartsSupernet>::resume(
            &ck,
            method,
            &cfg,
            &n,
            5,
            Device::Cpu,
            Kind::Float,
        )
        .unwrap();
        s.run_epoch(&mut data, &mut |_| {}).unwrap();
        let out = s.outcome().unwrap();
        assert_eq!(out.trajectory.len(), 2);
        for p in &out.trajectory {
            assert_eq!(p.op_weights.len(), 28);
            assert!(p.op_weights.iter().all(|r| r.len() == ops.ops().len()));
            assert_eq!(p.skip_connections, p.genotype.normal.count(DartsOp::SkipConnect));
            assert!(p.eigenvalue.is_some_and(f64::is_finite), "{method}");
        }
        let g = out.genotype;
        assert!(g.ops().all(|o| ops.cell_ops().contains(&o)), "{method}: {g}");
        assert!(g.depth() >= 1 && g.depth() <= 4);
        // The found cell pastes back in.
        assert_eq!(g.to_string().parse::<sotl_space::DartsGenotype>().unwrap(), g);
        assert_eq!(
            s.supernet()
                .space()
                .discretize(&vec![0.0; 28 * ops.ops().len()])
                .unwrap()
                .normal
                .edges
                .len(),
            8
        );
    }
}

#[test]
fn run_configs_name_darts_space_settings_that_cannot_apply() {
    use sotl_search::{DartsRunConfig, SpaceChoice};
    let s2 = DartsRunConfig { space: "darts-s2".parse().unwrap(), ..DartsRunConfig::default() };
    s2.validate().unwrap();
    // The op set is the space's: `[darts_net]` holds sizes only.
    let e = toml::from_str::<DartsRunConfig>("[darts_net]\nops = \"s2\"\n").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    let drnas = DartsRunConfig { methods: vec![DartsMethod::Drnas], ..s2 };
    let e = drnas.validate().unwrap_err().to_string();
    assert!(e.contains("drnas_progressive_keep"), "{e}");
    assert_eq!("darts-s3".parse::<SpaceChoice>().unwrap().to_string(), "darts-s3");
    assert!("darts-full".parse::<SpaceChoice>().is_err());
}

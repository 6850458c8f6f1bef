//! Forward passes checked value-for-value against AutoDL-Projects' NAS-Bench-201 networks.
//!
//! Golden logits come from running the reference modules (D-X-Y/AutoDL-Projects at commit
//! f46486e21b71ae6459a700be720d7648b5429569, loaded unmodified through the stub-package loader of
//! `../shared/bench/pytorch_nb201_reference.py`) in float64 with deterministic weights:
//!
//! ```python
//! def fill(params):   # parameter tensor i, flat element j
//!     for i, p in enumerate(params):
//!         j = torch.arange(p.numel(), dtype=torch.float64)
//!         p.copy_((0.5 * torch.sin(1.3 * i + 0.37 * j)).view_as(p))
//! x = torch.cos(0.11 * torch.arange(2 * 3 * 8 * 8, dtype=torch.float64)).view(2, 3, 8, 8)
//! C, N, K = 4, 1, 3
//! st = ref.TinyNetwork(C, N, Structure.str2structure(a), K).double().train(); fill(st.parameters())
//! train_logits = st(x)[1]; st.eval(); eval_logits = st(x)[1]   # eval after one running-stat update
//! sp = ref.TinyNetworkRANDOM(C, N, 4, K, space, False, False).double().train(); fill(sp.parameters())
//! sp.arch_cache = Structure.str2structure(a); path_logits = sp(x)[1]
//! sn = ref.TinyNetworkDarts(C, N, 4, K, space, False, False).double().train(); fill(sn.get_weights())
//! sn.arch_parameters.copy_(torch.sin(torch.arange(30.)).view(6, 5)); soft_logits = sn(x)[1]
//! ```
//! Matching these checks the op definitions, the cell wiring, the macro skeleton and that
//! `params()` lists weights in the reference order.

use sotl_nn::{EdgeMix, Nb201NetConfig, Nb201Network, Nb201Supernet};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// (arch, standalone train logits, standalone eval logits, supernet single-path logits), `[2, 3]`.
type GoldenRow = (&'static str, [f64; 6], [f64; 6], [f64; 6]);
const GOLDEN: &[GoldenRow] = &[
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", [3.299749361049e-01, 5.309288154938e-01, 6.627324535271e-01, 4.060628292132e-01, 5.664114426320e-01, 6.529807494588e-01], [3.635177221235e-01, 5.347666976861e-01, 6.363647415983e-01, 3.554600607467e-01, 5.333343863433e-01, 6.417446396959e-01], [6.190742492200e-01, 1.087749750140e+00, 1.413159439489e+00, 2.553611055134e-01, 8.135583794336e-01, 1.264260861142e+00]),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", [3.140585739743e-01, 4.078554396355e-01, 4.503769706160e-01, -5.992358609798e-01, -2.919172197677e-01, 5.541846143506e-02], [1.504610410709e+00, 1.056505434846e+00, 4.725022148503e-01, 1.552619779734e+00, 1.096345898222e+00, 4.989761838166e-01], [3.302093837174e-01, 8.224031333239e-01, 1.205948203702e+00, 5.174902131819e-01, 1.059021864429e+00, 1.461035545452e+00]),
    ("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", [-1.293153048959e-02, 3.424410655996e-01, 6.543001475131e-01, 8.553330219307e-02, 5.750608025837e-01, 9.907272067669e-01], [-2.217034157246e-02, 4.801608970829e-01, 9.210116857492e-01, -3.113849599538e-02, 4.702491218333e-01, 9.114493803468e-01], [8.835772936198e-02, 7.271268279235e-01, 1.269676998624e+00, 8.143844701796e-01, 1.196777605506e+00, 1.421681150028e+00]),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", [6.682212272519e-01, 1.103309505621e+00, 1.392151955692e+00, 6.682212272519e-01, 1.103309505621e+00, 1.392151955692e+00], [6.682212272519e-01, 1.103309505621e+00, 1.392151955692e+00, 6.682212272519e-01, 1.103309505621e+00, 1.392151955692e+00], [4.008667827920e-01, 9.136270909015e-01, 1.305837637907e+00, 4.008667827920e-01, 9.136270909015e-01, 1.305837637907e+00]),
];

/// Supernet logits with soft weights softmax(sin(0..30).view(6, 5)).
const GOLDEN_SOFT: [f64; 6] = [
    7.570069431725e-01,
    1.096075164973e+00,
    1.290791441185e+00,
    1.582530082541e-01,
    8.222991864505e-01,
    1.377710246333e+00,
];

fn cfg() -> Nb201NetConfig {
    Nb201NetConfig {
        channels: 4,
        cells_per_stage: 1,
        num_classes: 3,
        in_channels: 3,
        image_size: 8,
    }
}

fn f64_store() -> VarStore {
    let mut vs = VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    vs
}

fn fill(params: &[Tensor]) {
    tch::no_grad(|| {
        for (i, p) in params.iter().enumerate() {
            let j = Tensor::arange(p.numel() as i64, (Kind::Double, Device::Cpu));
            let v = ((j * 0.37 + 1.3 * i as f64).sin() * 0.5).view(p.size().as_slice());
            p.shallow_clone().copy_(&v);
        }
    });
}

fn input() -> Tensor {
    (Tensor::arange(2 * 3 * 8 * 8, (Kind::Double, Device::Cpu)) * 0.11).cos().view([2, 3, 8, 8])
}

fn assert_logits(got: &Tensor, want: &[f64; 6], what: &str) {
    let got: Vec<f64> = Vec::<f64>::try_from(got.flatten(0, -1)).unwrap();
    for (g, w) in got.iter().zip(want) {
        // Golden values carry 13 significant digits.
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what}: got {got:?}, want {want:?}");
    }
}

#[test]
fn standalone_matches_tiny_network() {
    for (s, train, eval, _) in GOLDEN {
        let arch: Nb201Arch = s.parse().unwrap();
        let vs = f64_store();
        let net = Nb201Network::new(&vs.root(), &arch, &cfg()).unwrap();
        fill(&net.params());
        assert_logits(&net.forward_t(&input(), true), train, &format!("train {s}"));
        assert_logits(&net.forward_t(&input(), false), eval, &format!("eval {s}"));
    }
}

#[test]
fn supernet_path_matches_forward_dynamic() {
    let vs = f64_store();
    let net = Nb201Supernet::new(&vs.root(), &cfg()).unwrap();
    fill(&net.params());
    for (s, _, _, path) in GOLDEN {
        let arch: Nb201Arch = s.parse().unwrap();
        assert_logits(&net.forward(&input(), &EdgeMix::Path(arch)), path, &format!("path {s}"));
    }
}

#[test]
fn supernet_soft_matches_darts_forward() {
    let vs = f64_store();
    let net = Nb201Supernet::new(&vs.root(), &cfg()).unwrap();
    fill(&net.params());
    let alpha = Tensor::arange(30, (Kind::Double, Device::Cpu)).sin().view([6, 5]);
    let logits = net.forward(&input(), &EdgeMix::Soft(alpha.softmax(-1, Kind::Double)));
    assert_logits(&logits, &GOLDEN_SOFT, "soft");
}

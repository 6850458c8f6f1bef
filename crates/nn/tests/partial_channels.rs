//! Partial channels (PC-DARTS, DrNAS): the channel shuffle by hand, the narrowed cell ops, and
//! widening between DrNAS' stages (net2wider copies, the same copies for state like momentum).

use sotl_nn::{channel_shuffle, EdgeMix, Nb201NetConfig, Nb201Supernet, NnError};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// C=4, N=1, three classes, 3x8x8 inputs.
fn cfg() -> Nb201NetConfig {
    let small = Nb201NetConfig { channels: 4, cells_per_stage: 1, ..Nb201NetConfig::default() };
    Nb201NetConfig { num_classes: 3, image_size: 8, ..small }
}

fn supernet(k: usize) -> (VarStore, Nb201Supernet) {
    let _lock = rng_lock();
    tch::manual_seed(5);
    let vs = VarStore::new(Device::Cpu);
    let net = Nb201Supernet::with_partial_channels(&vs.root(), &cfg(), k).unwrap();
    (vs, net)
}

/// Tests in this file seed libtorch's global generator; keep them from interleaving.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A seeded input batch (drawn under the lock: another test may be between its seed and its
/// draws).
fn input() -> Tensor {
    let _lock = rng_lock();
    tch::manual_seed(1);
    Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu))
}

fn soft() -> EdgeMix {
    EdgeMix::Soft(Tensor::full([6, 5], 0.2, (Kind::Float, Device::Cpu)))
}

#[test]
fn channel_shuffle_interleaves_the_groups() {
    // Six channels holding their own index, two groups [0 1 2] [3 4 5]: 0 3 1 4 2 5.
    let x = Tensor::arange(6, (Kind::Float, Device::Cpu)).view([1, 6, 1, 1]);
    let y = Vec::<f32>::try_from(channel_shuffle(&x, 2).view([-1])).unwrap();
    assert_eq!(y, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // Three groups [0 1] [2 3] [4 5]: 0 2 4 1 3 5.
    let y = Vec::<f32>::try_from(channel_shuffle(&x, 3).view([-1])).unwrap();
    assert_eq!(y, [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
}

#[test]
fn cell_ops_see_a_kth_of_the_channels() {
    let (_vs1, plain) = supernet(1);
    let (_vs4, pc) = supernet(4);
    // A cell conv of the first stage is C x C (4 x 4) plain and C/4 x C/4 with k = 4; the stem,
    // reductions and classifier keep their sizes.
    let conv = |n: &Nb201Supernet| {
        let i =
            n.param_names().iter().position(|s| s.contains("layer0.edge0.conv3x3.weight")).unwrap();
        n.params()[i].size()
    };
    assert_eq!(conv(&plain), [4, 4, 3, 3]);
    assert_eq!(conv(&pc), [1, 1, 3, 3]);
    assert_eq!(plain.params()[0].size(), pc.params()[0].size(), "the stem is shared");
    let x = input();
    let y = pc.forward(&x, &soft());
    assert_eq!(y.size(), [2, 3]);
    assert!(y.isfinite().all().int64_value(&[]) == 1);
    // k = 1 is the plain supernet, draw for draw.
    let (_vs, one) = {
        let _lock = rng_lock();
        tch::manual_seed(5);
        let vs = VarStore::new(Device::Cpu);
        let n = Nb201Supernet::new(&vs.root(), &cfg()).unwrap();
        (vs, n)
    };
    assert!(one.forward(&x, &soft()).equal(&plain.forward(&x, &soft())));
    assert_eq!(pc.partial_channels(), 4);
    let vs = VarStore::new(Device::Cpu);
    let e = Nb201Supernet::with_partial_channels(&vs.root(), &cfg(), 3).err().unwrap();
    assert!(matches!(e, NnError::InvalidConfig { field: "partial_channels", .. }), "{e}");
}

#[test]
fn widening_copies_chosen_channels_and_keeps_autograd_working() {
    let (_vs, mut net) = supernet(4);
    let names: Vec<String> = net.param_names().to_vec();
    let before: Vec<Tensor> = net.params().iter().map(|t| t.detach().copy()).collect();
    // A backward pass first, so the weights carry gradients of the old shapes.
    let x = input();
    net.forward(&x, &soft()).sum(Kind::Float).backward();
    let widened = {
        let _lock = rng_lock();
        tch::manual_seed(9);
        net.widen_partial_channels(2).unwrap()
    };
    assert_eq!(net.partial_channels(), 2);
    // Every cell conv weight and bias widened (6 edges x 2 convs x 2 tensors x 3 cells).
    assert_eq!(widened.len(), 72);
    let after = net.params();
    for w in &widened {
        let (old, new) = (&before[w.index], &after[w.index]);
        let s = old.size();
        if s.len() == 4 {
            assert_eq!(new.size(), [2 * s[0], 2 * s[1], s[2], s[3]], "{}", names[w.index]);
            // The original block is kept; added input channels copy the indexed ones, added
            // output channels (rows) copy the indexed rows of the input-widened weight.
            let (co, ci) = (s[0], s[1]);
            assert!(new.narrow(0, 0, co).narrow(1, 0, ci).equal(old));
            let in_idx = w.in_index.as_ref().unwrap();
            let out_idx = w.out_index.as_ref().unwrap();
            assert!(new.narrow(0, 0, co).narrow(1, ci, ci).equal(&old.index_select(1, in_idx)));
            let rows = new.narrow(0, 0, co).index_select(0, out_idx);
            assert!(new.narrow(0, co, co).equal(&rows));
        } else {
            assert_eq!(new.size(), [2 * s[0]]);
            let out_idx = w.out_index.as_ref().unwrap();
            assert!(new.narrow(0, s[0], s[0]).equal(&old.index_select(0, out_idx)));
        }
        // The same copies for state shaped like the weight.
        assert!(w.apply(old).equal(new));
        assert_eq!(new.grad().size(), new.size(), "gradient reset to the new shape");
    }
    // Weights not in a cell are untouched; forward and backward run at the new width.
    let changed: std::collections::HashSet<usize> = widened.iter().map(|w| w.index).collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if !changed.contains(&i) {
            assert!(b.equal(a), "{}", names[i]);
        }
    }
    net.forward(&x, &soft()).sum(Kind::Float).backward();
    assert!(net.widen_partial_channels(4).is_err(), "only widening, never narrowing");
}

use sotl_nn::*;
use tch::{nn::VarStore, Device, Kind, Tensor};
#[test]
fn dbg() {
    let vs = VarStore::new(Device::Cpu);
    let cfg = Nb201NetConfig { channels: 4, cells_per_stage: 1, num_classes: 3, in_channels: 3, image_size: 8 };
    let net = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    let a = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|".parse().unwrap();
    net.forward(&x, &EdgeMix::Path(a)).sum(Kind::Float).backward();
    for (p, n) in net.params().iter().zip(net.param_names()) {
        println!("{n} {}", p.grad().defined());
    }
    let w = Tensor::randn([4, 4, 3, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let y = Tensor::zeros([2, 4, 8, 8], (Kind::Float, Device::Cpu)).relu().conv2d(&w, None::<&Tensor>, [2, 2], [1, 1], [1, 1], 1);
    println!("{}", y.requires_grad());
}

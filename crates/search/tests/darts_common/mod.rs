//! Toy data and networks shared by the DARTS-space search tests.

use sotl_nn::DartsNetConfig;
use sotl_space::DartsOpSet;
use sotl_train::TensorBatches;
use tch::{Device, Kind, Tensor};

/// Random `[n, 3, 8, 8]` images with 3 classes in shuffled batches of 4.
pub fn source(seed: i64, n: i64) -> TensorBatches {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, 3, 8, 8], (Kind::Float, Device::Cpu));
    let y = Tensor::randint(3, [n], (Kind::Int64, Device::Cpu));
    TensorBatches::new(x, y, 4).unwrap().shuffled(seed as u64).drop_last(true).unwrap()
}

/// A toy DARTS search network: C=4, 3 cells, 3 classes, 8x8 images.
pub fn net(ops: DartsOpSet) -> DartsNetConfig {
    DartsNetConfig { channels: 4, layers: 3, num_classes: 3, in_channels: 3, image_size: 8, ops }
}

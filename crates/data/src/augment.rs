//! Device-side augmentation and normalization as batched tensor ops, plus resizing.
//!
//! Random choices (crop offsets, flips, Cutout centres) are drawn on the host from a seeded
//! [`ChaCha8Rng`], a few numbers per image, and the pixel work runs as a handful of batched ops on
//! the images' device: results depend only on the seed, never on libtorch's global generator or
//! the device.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::name::DatasetName;

/// Per-channel mean and standard deviation, on the 0..1 pixel scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// Channel means.
    pub mean: Vec<f64>,
    /// Channel standard deviations.
    pub std: Vec<f64>,
}

impl Normalization {
    /// CIFAR-10: mean (125.3, 123.0, 113.9)/255, std (63.0, 62.1, 66.7)/255, the constants of
    /// NAS-Bench-201's training code (AutoDL-Projects `get_dataset_with_transform.py`).
    pub fn cifar10() -> Self {
        Self::from_255(&[125.3, 123.0, 113.9], &[63.0, 62.1, 66.7])
    }

    /// CIFAR-100: mean (129.3, 124.1, 112.4)/255, std (68.2, 65.4, 70.4)/255 (same source).
    pub fn cifar100() -> Self {
        Self::from_255(&[129.3, 124.1, 112.4], &[68.2, 65.4, 70.4])
    }

    /// ImageNet16: mean (122.68, 116.66, 104.01)/255, std (63.22, 61.26, 65.09)/255 (same source).
    pub fn imagenet16() -> Self {
        Self::from_255(&[122.68, 116.66, 104.01], &[63.22, 61.26, 65.09])
    }

    /// MNIST: mean 0.1307, std 0.3081 (PyTorch's `examples/mnist`).
    pub fn mnist() -> Self {
        Normalization { mean: vec![0.1307], std: vec![0.3081] }
    }

    /// The synthetic dataset: its pixels are centred on 128 with a spread of about 64.
    pub fn synthetic() -> Self {
        Self::from_255(&[128.0; 3], &[64.0; 3])
    }

    /// The published constants for `name`.
    pub fn for_dataset(name: DatasetName) -> Self {
        match name {
            DatasetName::Cifar10 => Self::cifar10(),
            DatasetName::Cifar100 => Self::cifar100(),
            DatasetName::ImageNet16_120 => Self::imagenet16(),
            DatasetName::Mnist => Self::mnist(),
            DatasetName::Synthetic => Self::synthetic(),
        }
    }

    /// Constants given on the 0..255 scale.
    fn from_255(mean: &[f64], std: &[f64]) -> Self {
        Normalization {
            mean: mean.iter().map(|m| m / 255.0).collect(),
            std: std.iter().map(|s| s / 255.0).collect(),
        }
    }

    /// Measures the per-channel mean and population std of `data` (pixels scaled to `[0, 1]` in
    /// float32; the mean accumulated in float64).
    pub fn from_data(data: &Dataset) -> Self {
        let x = data.images.to_kind(Kind::Float) / 255.0;
        let c = x.size()[1];
        let flat = x.transpose(0, 1).reshape([c, -1]);
        let mean = Vec::<f64>::try_from(flat.mean_dim(1, false, Kind::Double)).unwrap_or_default();
        let std = Vec::<f64>::try_from(flat.std_correction(1, 0, false).to_kind(Kind::Double))
            .unwrap_or_default();
        Normalization { mean, std }
    }

    /// A black pixel after standardization (`-mean / std`), `[1, C, 1, 1]` float32.
    pub fn black(&self) -> Tensor {
        let mean = Tensor::from_slice(&self.mean).to_kind(Kind::Float).view([1, -1, 1, 1]);
        let std = Tensor::from_slice(&self.std).to_kind(Kind::Float).view([1, -1, 1, 1]);
        -mean / std
    }

    /// Checks one positive std per mean.
    pub fn validate(&self, channels: i64) -> Result<()> {
        if self.mean.len() != channels as usize || self.std.len() != channels as usize {
            return Err(DataError::invalid(
                "normalization",
                format!(
                    "{} means and {} stds for {channels}-channel images",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return Err(DataError::invalid(
                "normalization",
                format!("std must be positive and finite, got {:?}", self.std),
            ));
        }
        Ok(())
    }

    /// `(x / 255 - mean) / std` for uint8 `images` `[B, C, H, W]`, evaluated as written in
    /// floating-point `kind` (float32 for training data, float64 for the studies' exact
    /// hypergradients).
    pub fn standardize(&self, images: &Tensor, kind: Kind) -> Tensor {
        let dev = images.device();
        let c = self.mean.len() as i64;
        let mean = Tensor::from_slice(&self.mean).to_kind(kind).to_device(dev).view([1, c, 1, 1]);
        let std = Tensor::from_slice(&self.std).to_kind(kind).to_device(dev).view([1, c, 1, 1]);
        (images.to_kind(kind) / 255.0 - mean) / std
    }
}

/// Training-time augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Zero-pad by this many pixels per side, then crop back at a random offset (0 = no crop).
    pub crop_padding: i64,
    /// Flip horizontally with probability 1/2.
    pub flip: bool,
    /// Cutout (DeVries & Taylor 2017) square side, applied after normalization; `None` = off.
    pub cutout: Option<i64>,
}

impl Augment {
    /// No augmentation (evaluation).
    pub fn none() -> Self {
        Augment::default()
    }

    /// The standard CIFAR augmentation: pad 4, random 32x32 crop, horizontal flip.
    pub fn cifar() -> Self {
        Augment { crop_padding: 4, flip: true, cutout: None }
    }

    /// NAS-Bench-201's ImageNet16 augmentation: pad 2, random 16x16 crop, horizontal flip.
    pub fn imagenet16() -> Self {
        Augment { crop_padding: 2, flip: true, cutout: None }
    }

    /// The usual training augmentation for `name` (MNIST: none).
    pub fn for_dataset(name: DatasetName) -> Self {
        match name {
            DatasetName::Cifar10 | DatasetName::Cifar100 | DatasetName::Synthetic => Self::cifar(),
            DatasetName::ImageNet16_120 => Self::imagenet16(),
            DatasetName::Mnist => Self::none(),
        }
    }

    /// Checks the sizes against images of `h` x `w`.
    pub fn validate(&self, h: i64, w: i64) -> Result<()> {
        if self.crop_padding < 0 || self.crop_padding > h.min(w) {
            return Err(DataError::invalid(
                "crop padding",
                format!("{}, expected 0..={}", self.crop_padding, h.min(w)),
            ));
        }
        if let Some(c) = self.cutout {
            if c <= 0 || c > h.max(w) {
                return Err(DataError::invalid(
                    "cutout length",
                    format!("{c}, expected 1..={}", h.max(w)),
                ));
            }
        }
        Ok(())
    }

    /// Augments standardized images `x`: crop after padding with `black` (a black pixel after
    /// standardization, what the reference pipelines pad raw images with), flip, then Cutout
    /// (zeroes in standardized units, as the reference applies it after normalizing). Every
    /// random choice comes from `rng`, in that order.
    ///
    /// # Shapes
    /// `x`: float `[B, C, H, W]`; `black`: `[1, C, 1, 1]`; result: same as `x`.
    pub fn apply(&self, x: &Tensor, black: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
        let x = if self.crop_padding > 0 || self.flip {
            // Shift so that black is 0, pad with zeros, shift back.
            random_crop_flip(&(x - black), self.crop_padding, self.flip, rng) + black
        } else {
            x.shallow_clone()
        };
        match self.cutout {
            Some(len) => cutout(&x, len, rng),
            None => x,
        }
    }

    /// Whether this changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Augment::none()
    }
}

/// Random crop after zero padding, and random horizontal flips, in one gather.
///
/// Every image gets offsets `oy, ox` uniform in `0..=2 * pad` and a fair coin for the flip; the
/// output pixel `(i, j)` reads padded pixel `(oy + i, ox + j')` with `j' = W - 1 - j` when flipped.
/// The flat index of that pixel is computed for the whole batch and gathered at once, instead
/// of cropping image by image.
///
/// # Shapes
/// `images`: `[B, C, H, W]` (any kind); result: same shape and kind.
pub fn random_crop_flip(images: &Tensor, pad: i64, flip: bool, rng: &mut ChaCha8Rng) -> Tensor {
    let (b, c, h, w) = images.size4().expect("images must be [B, C, H, W]");
    let dev = images.device();
    let (hp, wp) = (h + 2 * pad, w + 2 * pad);
    let mut oy = Vec::with_capacity(b as usize);
    let mut ox = Vec::with_capacity(b as usize);
    let mut fl = Vec::with_capacity(b as usize);
    for _ in 0..b {
        oy.push(rng.gen_range(0..=2 * pad));
        ox.push(rng.gen_range(0..=2 * pad));
        fl.push(i64::from(flip && rng.gen_bool(0.5)));
    }
    let opts = (Kind::Int64, dev);
    let oy = Tensor::from_slice(&oy).to_device(dev).view([b, 1, 1]);
    let ox = Tensor::from_slice(&ox).to_device(dev).view([b, 1, 1]);
    let fl = Tensor::from_slice(&fl).to_device(dev).view([b, 1, 1]);
    let i = Tensor::arange(h, opts).view([1, h, 1]);
    let j = Tensor::arange(w, opts).view([1, 1, w]);
    // j' = j + flip * (W - 1 - 2j)
    let jj: Tensor = &j + &fl * (&j * -2 + (w - 1));
    let idx: Tensor = (oy + i) * wp + ox + jj; // [B, H, W]
    let idx = idx.view([b, 1, h * w]).expand([b, c, h * w], false);
    let padded =
        if pad > 0 { images.constant_pad_nd([pad, pad, pad, pad]) } else { images.shallow_clone() };
    padded.view([b, c, hp * wp]).gather(2, &idx, false).view([b, c, h, w])
}

/// Cutout (DeVries & Taylor 2017): zeroes one square per image, centre uniform over the image,
/// rows `cy - len/2 .. cy + len/2` (integer halves, clipped to the image) and likewise for columns,
/// exactly as the DARTS and NAS-Bench-201 training code cut it (so an odd `len` cuts `len - 1`).
///
/// # Shapes
/// `x`: float `[B, C, H, W]`; result: same.
pub fn cutout(x: &Tensor, len: i64, rng: &mut ChaCha8Rng) -> Tensor {
    let (b, _, h, w) = x.size4().expect("images must be [B, C, H, W]");
    let dev = x.device();
    let half = len / 2;
    let mut box_ = Vec::with_capacity(4 * b as usize);
    for _ in 0..b {
        let cy = rng.gen_range(0..h);
        let cx = rng.gen_range(0..w);
        box_.extend_from_slice(&[
            (cy - half).clamp(0, h),
            (cy + half).clamp(0, h),
            (cx - half).clamp(0, w),
            (cx + half).clamp(0, w),
        ]);
    }
    let bx = Tensor::from_slice(&box_).to_device(dev).view([b, 4, 1, 1]);
    let i = Tensor::arange(h, (Kind::Int64, dev)).view([1, h, 1]);
    let j = Tensor::arange(w, (Kind::Int64, dev)).view([1, 1, w]);
    // Row and column masks are built separately and multiplied: two small ops instead of four
    // comparisons over every pixel.
    let rows = i.ge_tensor(&bx.select(1, 0)).logical_and(&i.lt_tensor(&bx.select(1, 1))); // [B, H, 1]
    let cols = j.ge_tensor(&bx.select(1, 2)).logical_and(&j.lt_tensor(&bx.select(1, 3))); // [B, 1, W]
    let cut = rows.to_kind(x.kind()) * cols.to_kind(x.kind()); // [B, H, W], 1 inside the square
    x * (cut.unsqueeze(1) * -1.0 + 1.0)
}

/// How [`resize`] interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// Bilinear (`upsample_bilinear2d`, half-pixel centres): for enlarging or mild shrinking.
    Bilinear,
    /// Area averaging (`adaptive_avg_pool2d`): for shrinking, e.g. 32x32 -> 16x16 proxies,
    /// where it averages each 2x2 block instead of aliasing.
    Area,
}

/// Resizes every image once (at load), rounding back to uint8; works in chunks to bound memory.
pub fn resize(data: &Dataset, h: i64, w: i64, mode: ResizeMode) -> Result<Dataset> {
    if h <= 0 || w <= 0 {
        return Err(DataError::invalid("resize", format!("{h}x{w}: sides must be positive")));
    }
    let n = data.len() as i64;
    let chunk = 2048;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let x = data.images.narrow(0, start, len).to_kind(Kind::Float);
        let y = match mode {
            ResizeMode::Bilinear => x.upsample_bilinear2d([h, w], false, None, None),
            ResizeMode::Area => x.adaptive_avg_pool2d([h, w]),
        };
        parts.push(y.round().clamp(0.0, 255.0).to_kind(Kind::Uint8));
        start += len;
    }
    let images = if parts.is_empty() {
        Tensor::zeros([0, data.image_shape()[0], h, w], (Kind::Uint8, data.device()))
    } else {
        Tensor::cat(&parts, 0)
    };
    Dataset::new(
        format!("{}@{h}x{w}", data.name),
        images,
        data.labels.shallow_clone(),
        data.classes.clone(),
    )
}

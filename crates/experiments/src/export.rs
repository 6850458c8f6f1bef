//! Found networks into PyTorch: the NAS-Bench-201 network of a `sotl-nas train` run as a
//! safetensors file under the parameter names of AutoDL-Projects' `TinyNetwork`, and the
//! network's logits on given images.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_nn::{Nb201NetConfig, Nb201Network};
use sotl_space::Nb201Arch;
use sotl_train::TrainRunConfig;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::RunDir;

/// What [`export_nb201`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The cell, as a NAS-Bench-201 arch string.
    pub arch: String,
    /// Channels of the first stage (`C`, `TinyNetwork`'s first argument).
    pub channels: i64,
    /// Cells per stage (`N`).
    pub cells_per_stage: usize,
    /// Classes of the classifier.
    pub num_classes: i64,
    /// Entries written (weights and BN buffers).
    pub tensors: usize,
    /// Trainable weights among them.
    pub param_count: i64,
    /// Training steps behind the weights.
    pub steps: usize,
    /// The file written.
    pub out: String,
}

impl ExportSummary {
    /// The human summary, with the PyTorch lines that load the file.
    pub fn to_text(&self) -> String {
        format!(
            "arch     {}\nnetwork  TinyNetwork(C={}, N={}, num_classes={}), {} weights, {} tensors, {} training steps\nwritten  {}\nload it  net = TinyNetwork({}, {}, CellStructure.str2structure(arch), {})\n         net.load_state_dict(safetensors.torch.load_file(path))\n",
            self.arch,
            self.channels,
            self.cells_per_stage,
            self.num_classes,
            self.param_count,
            self.tensors,
            self.steps,
            self.out,
            self.channels,
            self.cells_per_stage,
            self.num_classes
        )
    }
}

/// A trained NAS-Bench-201 network read back from a run folder.
pub struct TrainedNb201 {
    /// The network, weights and running statistics as trained.
    pub net: Nb201Network,
    /// The training steps its checkpoint had run.
    pub steps: usize,
    /// The run's config.
    pub config: TrainRunConfig,
    _vs: VarStore,
}

/// Reads the network of a `sotl-nas train --out RUN` folder (its `config.json` and
/// `checkpoint.ot`) onto `device`.
pub fn load_trained_nb201(run: &Path, device: Device) -> Result<TrainedNb201> {
    let dir = RunDir::open(run);
    let cfg_path = dir.path("config.json");
    let ck_path = dir.path("checkpoint.ot");
    if !cfg_path.is_file() || !ck_path.is_file() {
        bail!(
            "{} holds no config.json and checkpoint.ot: give the folder of a `sotl-nas train --out` run",
            run.display()
        );
    }
    let cfg: TrainRunConfig = dir
        .read_json("config.json")
        .with_context(|| format!("{} is not a `sotl-nas train` config", cfg_path.display()))?;
    let Some(arch) = cfg.arch.as_deref().filter(|a| !a.trim().is_empty()) else {
        bail!(
            "the run in {} trained a DARTS-space genotype; export writes NAS-Bench-201 networks \
             (TinyNetwork) only",
            run.display()
        );
    };
    let arch: Nb201Arch =
        arch.trim().parse().with_context(|| format!("bad arch in {}", cfg_path.display()))?;
    let (model, steps) = sotl_train::read_trained_model(&ck_path, device)?;
    let model: HashMap<String, Tensor> = model.into_iter().collect();
    let dim = |name: &str, d: usize| -> Result<i64> {
        let t = model.get(name).with_context(|| {
            format!("{} has no {name}: not a NAS-Bench-201 network", ck_path.display())
        })?;
        t.size().get(d).copied().with_context(|| format!("{name} has too few dimensions"))
    };
    // Classes and input channels follow the dataset the run used; the checkpoint's shapes say
    // them without reading the dataset again.
    let net_cfg = Nb201NetConfig {
        channels: cfg.channels,
        cells_per_stage: cfg.cells_per_stage,
        num_classes: dim("classifier.bias", 0)?,
        in_channels: dim("stem.conv.weight", 1)?,
        image_size: cfg.resize.unwrap_or(32),
    };
    let vs = VarStore::new(device);
    let net = Nb201Network::new(&vs.root(), &arch, &net_cfg)?;
    tch::no_grad(|| -> Result<()> {
        for (name, var) in vs.variables() {
            let src = model.get(&name).with_context(|| {
                format!("{} lacks {name}: it was written for another network", ck_path.display())
            })?;
            if src.size() != var.size() {
                bail!(
                    "{}: {name} has shape {:?}, the network {:?}",
                    ck_path.display(),
                    src.size(),
                    var.size()
                );
            }
            var.shallow_clone().f_copy_(src)?;
        }
        Ok(())
    })?;
    Ok(TrainedNb201 { net, steps, config: cfg, _vs: vs })
}

/// Writes the network of the `sotl-nas train` run in `run` to `out` (atomically) as
/// safetensors under `TinyNetwork`'s parameter names, every BN's running statistics included;
/// the header's metadata holds the arch string, `C`, `N` and the class count.
pub fn export_nb201(run: &Path, out: &Path) -> Result<ExportSummary> {
    let trained = load_trained_nb201(run, Device::Cpu)?;
    let net = &trained.net;
    let cfg = net.config();
    if cfg.in_channels != 3 {
        bail!(
            "the run in {} trained on {}-channel images, but TinyNetwork's stem takes 3 channels \
             (Conv2d(3, C)); export networks trained on a 3-channel dataset (cifar10, cifar100, \
             imagenet16-120)",
            run.display(),
            cfg.in_channels
        );
    }
    let entries = net.tiny_network_state_dict(trained.steps as i64);
    let mut data: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> =
        Vec::with_capacity(entries.len());
    for (name, t) in &entries {
        let t = t.detach().to_device(Device::Cpu).contiguous();
        let dtype = match t.kind() {
            Kind::Float => safetensors::Dtype::F32,
            Kind::Double => safetensors::Dtype::F64,
            Kind::Int64 => safetensors::Dtype::I64,
            k => bail!("{name} has kind {k:?}, which export does not write"),
        };
        let shape = t.size().iter().map(|&d| d as usize).collect();
        let bytes = Vec::<u8>::try_from(t.reshape([-1]).view_dtype(Kind::Uint8))?;
        data.push((name.clone(), dtype, shape, bytes));
    }
    let views = data
        .iter()
        .map(|(n, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (n.as_str(), v))
                .map_err(|e| anyhow::anyhow!("{n}: {e:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let arch = net.arch().to_string();
    let metadata: HashMap<String, String> = [
        ("format", "pt".to_string()),
        ("arch", arch.clone()),
        ("C", cfg.channels.to_string()),
        ("N", cfg.cells_per_stage.to_string()),
        ("num_classes", cfg.num_classes.to_string()),
        ("steps", trained.steps.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bytes = safetensors::tensor::serialize(views, &Some(metadata))
        .map_err(|e| anyhow::anyhow!("cannot serialize the weights: {e:?}"))?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    sotl_report::write_atomic(out, &bytes)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(ExportSummary {
        arch,
        channels: cfg.channels,
        cells_per_stage: cfg.cells_per_stage,
        num_classes: cfg.num_classes,
        tensors: entries.len(),
        param_count: net.param_count(),
        steps: trained.steps,
        out: out.display().to_string(),
    })
}

/// Eval-mode logits (running BN statistics) of the network of the `sotl-nas train` run in
/// `run` on `images` (`[B, C, H, W]`, normalised as in training).
pub fn nb201_logits(run: &Path, images: &Tensor, device: Device) -> Result<Tensor> {
    let trained = load_trained_nb201(run, device)?;
    let size = images.size();
    let want = trained.net.config().in_channels;
    if size.len() != 4 || size[1] != want {
        bail!("images must be [batch, {want}, height, width]; got {size:?}");
    }
    let x = images.to_device(device).to_kind(Kind::Float);
    Ok(tch::no_grad(|| trained.net.forward_t(&x, false)))
}

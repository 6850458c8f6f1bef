//! SGD with momentum and weight decay over explicit, per-step gradient lists.

use tch::Tensor;

/// SGD with (Nesterov) momentum and L2 weight decay, in PyTorch's formulation:
/// `d = g + wd * w`, `b = m * b + d` (`b = d` on a buffer's first use), then
/// `w -= lr * (nesterov ? d + m * b : b)`.
///
/// Gradients are passed per step as `Option`s, one per weight: a weight whose gradient is `None`
/// (off the sampled path) gets no update at all in that step: no weight decay, no momentum, and
/// its momentum buffer keeps its value. This is exactly what `torch.optim.SGD` does for
/// parameters whose `.grad` is `None`, which is how the PyTorch references (AutoDL-Projects'
/// RANDOM-NAS, TSE) train single-path supernets.
///
/// Buffers are allocated once and reset in place ([`PathSgd::reset`]), so finetuning many
/// candidates allocates no optimizer memory per candidate.
#[derive(Debug)]
pub struct PathSgd {
    /// Momentum factor `m`.
    pub momentum: f64,
    /// Use Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay `wd`.
    pub weight_decay: f64,
    buffers: Vec<Tensor>,
    started: Vec<bool>,
}

impl PathSgd {
    /// An optimizer for `weights` (buffers shaped like them, zeroed, on their devices).
    pub fn new(weights: &[Tensor], momentum: f64, nesterov: bool, weight_decay: f64) -> Self {
        let buffers = if momentum != 0.0 {
            weights.iter().map(|w| w.zeros_like().detach()).collect()
        } else {
            Vec::new()
        };
        PathSgd { momentum, nesterov, weight_decay, buffers, started: vec![false; weights.len()] }
    }

    /// Forgets all momentum in place (no reallocation).
    pub fn reset(&mut self) {
        for (b, s) in self.buffers.iter_mut().zip(self.started.iter_mut()) {
            if *s {
                let _ = b.zero_();
                *s = false;
            }
        }
    }

    /// Applies one step with learning rate `lr`; `grads[i]` belongs to `weights[i]`.
    pub fn step(&mut self, weights: &[Tensor], grads: &[Option<Tensor>], lr: f64) {
        debug_assert_eq!(weights.len(), grads.len());
        tch::no_grad(|| {
            for (i, (w, g)) in weights.iter().zip(grads).enumerate() {
                let Some(g) = g else { continue };
                if !g.defined() {
                    continue;
                }
                let mut d = if self.weight_decay != 0.0 {
                    g + w * self.weight_decay
                } else {
                    g.shallow_clone()
                };
                if self.momentum != 0.0 {
                    let b = &mut self.buffers[i];
                    if self.started[i] {
                        let _ = b.g_mul_scalar_(self.momentum).g_add_(&d);
                    } else {
                        b.copy_(&d);
                        self.started[i] = true;
                    }
                    d = if self.nesterov { d + &*b * self.momentum } else { b.shallow_clone() };
                }
                let _ = w.shallow_clone().g_sub_(&(d * lr));
            }
        });
    }

    /// The momentum buffers and which of them are in use (for checkpoints).
    pub fn state(&self) -> (&[Tensor], &[bool]) {
        (&self.buffers, &self.started)
    }

    /// Restores what [`PathSgd::state`] returned, copying into the existing buffers.
    pub fn load_state(&mut self, buffers: &[Tensor], started: &[bool]) -> Result<(), String> {
        if started.len() != self.started.len() || buffers.len() != self.buffers.len() {
            return Err(format!(
                "optimizer state has {} buffers for {} weights; expected {} for {}",
                buffers.len(),
                started.len(),
                self.buffers.len(),
                self.started.len()
            ));
        }
        for (dst, src) in self.buffers.iter_mut().zip(buffers) {
            if dst.size() != src.size() {
                return Err(format!("momentum buffer shape {:?} != {:?}", src.size(), dst.size()));
            }
            tch::no_grad(|| dst.copy_(src));
        }
        self.started.copy_from_slice(started);
        Ok(())
    }
}

/// Scales `grads` in place so that their joint L2 norm is at most `max_norm`
/// (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [Option<Tensor>], max_norm: f64) -> f64 {
    let norm_sq: f64 = grads
        .iter()
        .flatten()
        .filter(|g| g.defined())
        .map(|g| g.square().sum(tch::Kind::Double).double_value(&[]))
        .sum();
    let norm = norm_sq.sqrt();
    // PyTorch's 1e-6 keeps the factor finite for a zero gradient.
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut().flatten() {
            *g = &*g * coef;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double)
    }

    #[test]
    fn momentum_and_decay_match_hand_computation() {
        // w0 = 1, g = 0.5, wd = 0.1, m = 0.9, lr = 0.1:
        // step 1: d = 0.5 + 0.1 = 0.6, b = 0.6, w = 1 - 0.06 = 0.94
        // step 2: d = 0.5 + 0.094 = 0.594, b = 0.54 + 0.594 = 1.134, w = 0.94 - 0.1134 = 0.8266
        let w = vec![t(&[1.0])];
        let mut opt = PathSgd::new(&w, 0.9, false, 0.1);
        opt.step(&w, &[Some(t(&[0.5]))], 0.1);
        assert!((w[0].double_value(&[0]) - 0.94).abs() < 1e-12);
        opt.step(&w, &[Some(t(&[0.5]))], 0.1);
        assert!((w[0].double_value(&[0]) - 0.8266).abs() < 1e-12);
    }

    #[test]
    fn none_gradient_means_no_update_and_frozen_buffer() {
        let w = vec![t(&[1.0]), t(&[2.0])];
        let mut opt = PathSgd::new(&w, 0.9, true, 0.5);
        opt.step(&w, &[Some(t(&[1.0])), Some(t(&[1.0]))], 0.1);
        let before = w[1].copy();
        let buf_before = opt.state().0[1].copy();
        opt.step(&w, &[Some(t(&[1.0])), None], 0.1);
        assert!(w[1].equal(&before), "off-path weight moved");
        assert!(opt.state().0[1].equal(&buf_before), "off-path momentum changed");
        opt.reset();
        assert_eq!(opt.state().0[0].abs().sum(Kind::Double).double_value(&[]), 0.0);
        let _ = Device::Cpu;
    }

    #[test]
    fn clipping_scales_to_max_norm() {
        let mut g = vec![Some(t(&[3.0])), None, Some(t(&[4.0]))];
        let n = clip_grad_norm(&mut g, 1.0);
        assert!((n - 5.0).abs() < 1e-12);
        let a = g[0].as_ref().unwrap().double_value(&[0]);
        let b = g[2].as_ref().unwrap().double_value(&[0]);
        assert!(((a * a + b * b).sqrt() - 1.0).abs() < 1e-5);
    }
}

//! One-shot trainers, finetune-and-rank, differentiable NAS and hypergradients.

pub mod differentiable;
pub mod hypergrad;
pub mod oneshot;
mod space_choice;

pub use differentiable::*;
pub use hypergrad::{
    approx_sotl_grad, darts_second_order_grad, exact_sotl_grad, SotlGrad, UnrolledGrad, VirtualStep,
};
pub use oneshot::*;
pub use space_choice::{SizeFlags, SpaceChoice};

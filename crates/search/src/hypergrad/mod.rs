//! Architecture hypergradients through unrolled weight updates (thesis Section 3.3).
//!
//! Model-agnostic: every function takes the objective as a closure `loss(weights, alpha, batch)`
//! over explicit, possibly non-leaf weights (for the NAS-Bench-201 supernet, its `forward_with`),
//! so the same code differentiates a tiny test model and a supernet.

mod autograd;
mod sotl_exact;
mod unrolled;

pub use autograd::{cross_entropy, global_norm, grads, leaves};
pub use sotl_exact::{approx_sotl_grad, exact_sotl_grad, SotlGrad};
pub use unrolled::{
    darts_second_order_grad, mixed_hvp_exact, mixed_hvp_fd, unrolled_objective_grad, HvpMethod,
    UnrolledGrad, VirtualStep, DARTS_FD_RADIUS,
};

//! One-shot trainers, finetune-and-rank, differentiable NAS and hypergradients.

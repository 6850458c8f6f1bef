//! Architecture-Hessian eigenvalues and search trajectories.

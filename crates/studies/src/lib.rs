//! SoTL hypergradient studies: online learning-rate tuning, weight-sharing Fourier model.

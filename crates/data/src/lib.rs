//! Dataset readers, NAS splits, device-side augmentation and loaders.

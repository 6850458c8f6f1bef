//! An in-memory image classification dataset.

use tch::{Device, Kind, Tensor};

use crate::error::{DataError, Result};

/// An image classification dataset held as tensors.
///
/// Images are `uint8`, shape `[N, C, H, W]`; labels are `int64`, shape `[N]`. Keeping uint8 on
/// the training device means a whole CIFAR-10 is 150 MB and augmentation runs there in batches.
#[derive(Debug)]
pub struct Dataset {
    /// A short name, e.g. `cifar10/train`.
    pub name: String,
    /// `uint8` images, `[N, C, H, W]`.
    pub images: Tensor,
    /// `int64` labels, `[N]`.
    pub labels: Tensor,
    /// Class names, index = label.
    pub classes: Vec<String>,
}

impl Dataset {
    /// Builds a dataset and checks it with [`Dataset::validate`].
    pub fn new(
        name: impl Into<String>,
        images: Tensor,
        labels: Tensor,
        classes: Vec<String>,
    ) -> Result<Self> {
        let d = Dataset { name: name.into(), images, labels, classes };
        d.validate()?;
        Ok(d)
    }

    /// Checks kinds, shapes and that every label indexes `classes`.
    pub fn validate(&self) -> Result<()> {
        let bad = |p: String| Err(DataError::invalid("dataset", format!("{}: {p}", self.name)));
        if self.images.kind() != Kind::Uint8 || self.images.dim() != 4 {
            return bad(format!(
                "images must be uint8 [N, C, H, W], got {:?} {:?}",
                self.images.kind(),
                self.images.size()
            ));
        }
        if self.labels.kind() != Kind::Int64 || self.labels.dim() != 1 {
            return bad(format!(
                "labels must be int64 [N], got {:?} {:?}",
                self.labels.kind(),
                self.labels.size()
            ));
        }
        if self.images.size()[0] != self.labels.size()[0] {
            return bad(format!(
                "{} images but {} labels",
                self.images.size()[0],
                self.labels.size()[0]
            ));
        }
        if self.classes.is_empty() {
            return bad("no class names".into());
        }
        if !self.is_empty() {
            let (lo, hi) = (self.labels.min().int64_value(&[]), self.labels.max().int64_value(&[]));
            if lo < 0 || hi >= self.classes.len() as i64 {
                return bad(format!(
                    "labels span {lo}..={hi} but there are {} classes",
                    self.classes.len()
                ));
            }
        }
        Ok(())
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// `[C, H, W]` of one image.
    pub fn image_shape(&self) -> [i64; 3] {
        let s = self.images.size();
        [s[1], s[2], s[3]]
    }

    /// The device the tensors live on.
    pub fn device(&self) -> Device {
        self.images.device()
    }

    /// The labels copied to the host.
    pub fn labels_vec(&self) -> Vec<i64> {
        Vec::<i64>::try_from(self.labels.to_device(Device::Cpu).contiguous()).unwrap_or_default()
    }

    /// Number of examples of each class, index = label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.classes.len()];
        for l in self.labels_vec() {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// The examples at `indices` (in that order), as a new dataset named `<name>[suffix]`.
    pub fn subset(&self, indices: &[i64], suffix: &str) -> Result<Dataset> {
        let n = self.len() as i64;
        if let Some(&bad) = indices.iter().find(|&&i| i < 0 || i >= n) {
            return Err(DataError::invalid(
                "subset",
                format!("index {bad} outside 0..{n} of {}", self.name),
            ));
        }
        let idx = Tensor::from_slice(indices).to_device(self.device());
        Ok(Dataset {
            name: format!("{}{suffix}", self.name),
            images: self.images.index_select(0, &idx),
            labels: self.labels.index_select(0, &idx),
            classes: self.classes.clone(),
        })
    }

    /// A copy on `device` (the tensors are shared when already there).
    pub fn to_device(&self, device: Device) -> Dataset {
        Dataset {
            name: self.name.clone(),
            images: self.images.to_device(device),
            labels: self.labels.to_device(device),
            classes: self.classes.clone(),
        }
    }

    /// A second handle on the same tensors.
    pub fn shallow_clone(&self) -> Dataset {
        Dataset {
            name: self.name.clone(),
            images: self.images.shallow_clone(),
            labels: self.labels.shallow_clone(),
            classes: self.classes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        let images = Tensor::arange(4 * 3 * 2 * 2, (Kind::Uint8, Device::Cpu)).view([4, 3, 2, 2]);
        let labels = Tensor::from_slice(&[1i64, 0, 1, 1]);
        Dataset::new("t", images, labels, vec!["a".into(), "b".into()]).unwrap()
    }

    #[test]
    fn counts_and_subset() {
        let d = tiny();
        assert_eq!(d.len(), 4);
        assert_eq!(d.class_counts(), vec![1, 3]);
        let s = d.subset(&[3, 1], "/x").unwrap();
        assert_eq!(s.name, "t/x");
        assert_eq!(s.labels_vec(), vec![1, 0]);
        // Image 3 starts at element 3*12 = 36.
        assert_eq!(s.images.get(0).flatten(0, -1).int64_value(&[0]), 36);
        assert!(d.subset(&[4], "").is_err());
    }

    #[test]
    fn validate_rejects_bad_labels_and_kinds() {
        let images = Tensor::zeros([2, 1, 2, 2], (Kind::Uint8, Device::Cpu));
        let e = Dataset::new(
            "t",
            images.shallow_clone(),
            Tensor::from_slice(&[0i64, 2]),
            vec!["a".into(), "b".into()],
        );
        assert!(e.unwrap_err().to_string().contains("labels span 0..=2"));
        let e = Dataset::new(
            "t",
            images.to_kind(Kind::Float),
            Tensor::from_slice(&[0i64, 1]),
            vec!["a".into(), "b".into()],
        );
        assert!(e.unwrap_err().to_string().contains("uint8"));
    }
}

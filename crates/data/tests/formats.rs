//! Every reader on small files written here, including truncated and corrupt variants.

use std::io::Write;
use std::path::Path;

use sotl_data::{
    detect_format, read_cifar100_bin, read_cifar10_bin, read_dataset_dir, read_image_folder,
    read_imagenet16, read_mnist, Cifar100Labels, DataError, DataRoot, DatasetFormat, DatasetName,
    ImageFolderOptions, ReadOptions, SizeCheck,
};
use tch::Kind;

/// One CIFAR record: label bytes then a 3x32x32 image whose R plane is `r`, G `g`, B `b`.
fn cifar_record(labels: &[u8], r: u8, g: u8, b: u8) -> Vec<u8> {
    let mut v = labels.to_vec();
    for c in [r, g, b] {
        v.extend(std::iter::repeat_n(c, 1024));
    }
    v
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn cifar10_dir(dir: &Path) {
    for i in 1..=5u8 {
        let recs: Vec<u8> =
            [cifar_record(&[i], 10 * i, 1, 2), cifar_record(&[9], 0, 255, 3)].concat();
        write(&dir.join(format!("data_batch_{i}.bin")), &recs);
    }
    write(&dir.join("test_batch.bin"), &cifar_record(&[7], 5, 6, 7));
}

#[test]
fn cifar10_binary_reads_planes_and_labels() {
    let t = tempfile::tempdir().unwrap();
    cifar10_dir(t.path());
    let (train, test) = read_cifar10_bin(t.path(), SizeCheck::Any).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(train.labels_vec(), vec![1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    assert_eq!(train.classes[9], "truck");
    // Record 2 (batch 2, first) has R = 20, G = 1, B = 2 everywhere: channel-major layout.
    let img = train.images.get(2);
    assert_eq!(img.get(0).int64_value(&[31, 31]), 20);
    assert_eq!(img.get(1).int64_value(&[0, 0]), 1);
    assert_eq!(img.get(2).int64_value(&[16, 3]), 2);
    assert_eq!(test.labels_vec(), vec![7]);
    // The official-size check rejects these small batches, naming the file.
    let e = read_cifar10_bin(t.path(), SizeCheck::Official).unwrap_err().to_string();
    assert!(e.contains("data_batch_1.bin") && e.contains("expected 10000"), "{e}");
}

#[test]
fn cifar10_binary_errors_name_the_file() {
    let t = tempfile::tempdir().unwrap();
    cifar10_dir(t.path());
    // Truncated mid-record.
    let p = t.path().join("data_batch_3.bin");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    let e = read_cifar10_bin(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("data_batch_3.bin") && e.contains("truncated"), "{e}");
    // Label out of range.
    std::fs::write(&p, cifar_record(&[10], 0, 0, 0)).unwrap();
    let e = read_cifar10_bin(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("data_batch_3.bin") && e.contains("label byte 0 = 10"), "{e}");
    // Missing file: where it was looked for and how to get it.
    std::fs::remove_file(&p).unwrap();
    let e = read_cifar10_bin(t.path(), SizeCheck::Any).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }));
    let e = e.to_string();
    assert!(e.contains("data_batch_3.bin") && e.contains("cifar.html"), "{e}");
    // A class-name file with the wrong count.
    cifar10_dir(t.path());
    write(&t.path().join("batches.meta.txt"), b"a\nb\n\n");
    let e = read_cifar10_bin(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("batches.meta.txt") && e.contains("2 class names, expected 10"), "{e}");
}

#[test]
fn cifar100_binary_fine_and_coarse() {
    let t = tempfile::tempdir().unwrap();
    write(
        &t.path().join("train.bin"),
        &[cifar_record(&[3, 99], 1, 2, 3), cifar_record(&[19, 0], 4, 5, 6)].concat(),
    );
    write(&t.path().join("test.bin"), &cifar_record(&[0, 42], 7, 8, 9));
    assert_eq!(detect_format(t.path()), Some(DatasetFormat::Cifar100Bin));
    let (train, test) = read_cifar100_bin(t.path(), Cifar100Labels::Fine, SizeCheck::Any).unwrap();
    assert_eq!(train.labels_vec(), vec![99, 0]);
    assert_eq!(train.classes.len(), 100);
    assert_eq!(train.classes[99], "worm");
    assert_eq!(test.labels_vec(), vec![42]);
    assert_eq!(train.images.get(1).get(2).int64_value(&[5, 5]), 6);
    let (train, _) = read_cifar100_bin(t.path(), Cifar100Labels::Coarse, SizeCheck::Any).unwrap();
    assert_eq!(train.labels_vec(), vec![3, 19]);
    assert_eq!(train.classes.len(), 20);
    // A coarse byte of 20 is corrupt even when fine labels are asked for.
    write(&t.path().join("test.bin"), &cifar_record(&[20, 1], 0, 0, 0));
    let e =
        read_cifar100_bin(t.path(), Cifar100Labels::Fine, SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("test.bin") && e.contains("label byte 0 = 20"), "{e}");
}

/// An IDX file of unsigned bytes.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn mnist_dir(dir: &Path, gzip: bool) {
    let img: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
    let files = [
        ("train-images-idx3-ubyte", idx(&[3, 4, 5], &img)),
        ("train-labels-idx1-ubyte", idx(&[3], &[5, 0, 4])),
        ("t10k-images-idx3-ubyte", idx(&[1, 4, 5], &img[..20])),
        ("t10k-labels-idx1-ubyte", idx(&[1], &[7])),
    ];
    for (n, b) in files {
        if gzip {
            write(&dir.join(format!("{n}.gz")), &gz(&b));
        } else {
            write(&dir.join(n), &b);
        }
    }
}

#[test]
fn mnist_idx_plain_and_gzipped() {
    for gzip in [false, true] {
        let t = tempfile::tempdir().unwrap();
        mnist_dir(t.path(), gzip);
        assert_eq!(detect_format(t.path()), Some(DatasetFormat::MnistIdx));
        let (train, test) = read_mnist(t.path(), SizeCheck::Any).unwrap();
        assert_eq!(train.images.size(), vec![3, 1, 4, 5]);
        assert_eq!(train.labels_vec(), vec![5, 0, 4]);
        // Image 1, row 2, column 3 = byte 20 + 2*5 + 3.
        assert_eq!(train.images.int64_value(&[1, 0, 2, 3]), 33);
        assert_eq!(test.labels_vec(), vec![7]);
        assert!(read_mnist(t.path(), SizeCheck::Official)
            .unwrap_err()
            .to_string()
            .contains("expected [60000, 28, 28]"));
    }
}

#[test]
fn mnist_idx_errors() {
    let t = tempfile::tempdir().unwrap();
    mnist_dir(t.path(), false);
    let p = t.path().join("train-images-idx3-ubyte");
    let good = std::fs::read(&p).unwrap();
    // Truncated data.
    std::fs::write(&p, &good[..good.len() - 1]).unwrap();
    let e = read_mnist(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("train-images-idx3-ubyte") && e.contains("truncated"), "{e}");
    // Wrong magic (a label file where images belong).
    std::fs::write(&p, idx(&[3], &[1, 2, 3])).unwrap();
    let e = read_mnist(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("magic"), "{e}");
    // Image and label counts disagree.
    std::fs::write(&p, idx(&[2, 4, 5], &good[16..56])).unwrap();
    let e = read_mnist(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("3 labels for 2 images"), "{e}");
    // A damaged gzip stream.
    std::fs::remove_file(&p).unwrap();
    let g = gz(&good);
    write(&t.path().join("train-images-idx3-ubyte.gz"), &g[..g.len() / 2]);
    let e = read_mnist(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"), "{e}");
    // A label that is not a digit.
    mnist_dir(t.path(), false);
    std::fs::remove_file(t.path().join("train-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(t.path().join("train-labels-idx1-ubyte"), idx(&[3], &[5, 10, 4])).unwrap();
    let e = read_mnist(t.path(), SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("label 1 is 10"), "{e}");
}

/// A Python-2-style protocol-2 pickle of `{'data': uint8 ndarray [n, 3*s*s], 'labels': [...]}`,
/// opcode for opcode what `cPickle.dump(d, f, 2)` writes for a NumPy array (BINSTRING for the
/// raw bytes, as Python 2 `str`); the Python 3 layouts are covered by the unit tests in `pickle`.
fn np_pickle(pixels: &[u8], n: usize, row: usize, labels: &[i64]) -> Vec<u8> {
    let int = |v: &mut Vec<u8>, x: i64| {
        if (0..256).contains(&x) {
            v.extend_from_slice(&[b'K', x as u8]);
        } else {
            v.push(b'J');
            v.extend_from_slice(&(x as i32).to_le_bytes());
        }
    };
    let s = |v: &mut Vec<u8>, t: &[u8]| {
        v.extend_from_slice(&[b'U', t.len() as u8]);
        v.extend_from_slice(t);
    };
    let mut v = b"\x80\x02}q\x00(".to_vec();
    s(&mut v, b"data");
    v.extend_from_slice(
        b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85",
    );
    s(&mut v, b"b");
    v.extend_from_slice(b"\x87Rq\x03(K\x01");
    int(&mut v, n as i64);
    int(&mut v, row as i64);
    v.extend_from_slice(b"\x86cnumpy\ndtype\nq\x04");
    s(&mut v, b"u1");
    v.extend_from_slice(b"K\x00K\x01\x87Rq\x05(K\x03");
    s(&mut v, b"|");
    v.extend_from_slice(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T");
    v.extend_from_slice(&(pixels.len() as u32).to_le_bytes());
    v.extend_from_slice(pixels);
    v.extend_from_slice(b"tb");
    s(&mut v, b"labels");
    v.extend_from_slice(b"](");
    for &l in labels {
        int(&mut v, l);
    }
    v.extend_from_slice(b"eu.");
    v
}

fn imagenet16_dir(dir: &Path) {
    // Batch i holds images with labels 1 (kept), 121 (dropped: outside 1..=120) and 120 (kept).
    for i in 1..=10u8 {
        let px: Vec<u8> = [vec![i; 768], vec![200; 768], vec![i + 100; 768]].concat();
        write(&dir.join(format!("train_data_batch_{i}")), &np_pickle(&px, 3, 768, &[1, 121, 120]));
    }
    let px: Vec<u8> = (0..768).map(|k| (k % 256) as u8).collect();
    write(&dir.join("val_data"), &np_pickle(&px, 1, 768, &[5]));
}

#[test]
fn imagenet16_pickles_keep_120_classes() {
    let t = tempfile::tempdir().unwrap();
    imagenet16_dir(t.path());
    assert_eq!(detect_format(t.path()), Some(DatasetFormat::ImageNet16));
    let (train, test) = read_imagenet16(t.path(), 120, SizeCheck::Any).unwrap();
    assert_eq!(train.len(), 20);
    assert_eq!(train.images.size(), vec![20, 3, 16, 16]);
    assert_eq!(&train.labels_vec()[..4], &[0, 119, 0, 119]);
    assert_eq!(train.classes.len(), 120);
    assert_eq!(train.images.int64_value(&[3, 2, 15, 15]), 102);
    // Planar layout: byte 256 of the row is the first green pixel.
    assert_eq!(test.images.int64_value(&[0, 1, 0, 0]), 0);
    assert_eq!(test.images.int64_value(&[0, 0, 0, 1]), 1);
    assert_eq!(test.labels_vec(), vec![4]);
    let e = read_imagenet16(t.path(), 120, SizeCheck::Official).unwrap_err().to_string();
    assert!(e.contains("expected 151700"), "{e}");
}

#[test]
fn imagenet16_errors() {
    let t = tempfile::tempdir().unwrap();
    imagenet16_dir(t.path());
    let p = t.path().join("train_data_batch_4");
    let good = std::fs::read(&p).unwrap();
    std::fs::write(&p, &good[..good.len() - 40]).unwrap();
    let e = read_imagenet16(t.path(), 120, SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("train_data_batch_4") && e.contains("pickle"), "{e}");
    std::fs::write(&p, b"not a pickle at all").unwrap();
    let e = read_imagenet16(t.path(), 120, SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("train_data_batch_4") && e.contains("opcode"), "{e}");
    std::fs::write(&p, np_pickle(&[0; 768], 1, 768, &[1, 2])).unwrap();
    let e = read_imagenet16(t.path(), 120, SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("2 labels for 1 images"), "{e}");
    std::fs::write(&p, np_pickle(&[0; 768], 1, 768, &[0])).unwrap();
    let e = read_imagenet16(t.path(), 120, SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("1-based"), "{e}");
    std::fs::remove_file(&p).unwrap();
    let e = read_imagenet16(t.path(), 120, SizeCheck::Any).unwrap_err().to_string();
    assert!(e.contains("train_data_batch_4") && e.contains("not found"), "{e}");
}

/// Writes a `w` x `h` image of one colour.
fn save_img(p: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb)).save(p).unwrap();
}

fn folder(dir: &Path) {
    for (split, n) in [("train", 3), ("test", 1)] {
        for (k, class) in ["zebra", "apple"].iter().enumerate() {
            for i in 0..n {
                let ext = if i % 2 == 0 { "png" } else { "JPG" };
                save_img(
                    &dir.join(split).join(class).join(format!("{i}.{ext}")),
                    6,
                    4,
                    [40 * k as u8, 100, 200],
                );
            }
        }
    }
    write(&dir.join("train/apple/notes.txt"), b"not an image");
}

#[test]
fn image_folder_sorted_classes_and_cache() {
    let t = tempfile::tempdir().unwrap();
    folder(t.path());
    assert_eq!(detect_format(t.path()), Some(DatasetFormat::ImageFolder));
    let cache = tempfile::tempdir().unwrap();
    let opts = ImageFolderOptions { cache_dir: Some(cache.path().to_path_buf()), threads: 2 };
    let d = read_image_folder(t.path(), "train", &opts).unwrap();
    assert_eq!(d.classes, vec!["apple", "zebra"]);
    assert_eq!(d.labels_vec(), vec![0, 0, 0, 1, 1, 1]);
    assert_eq!(d.images.size(), vec![6, 3, 4, 6]);
    // PNG pixels are exact: zebra (k = 0) has R = 0, G = 100, B = 200.
    assert_eq!(d.images.int64_value(&[3, 0, 0, 0]), 0);
    assert_eq!(d.images.int64_value(&[3, 2, 3, 5]), 200);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    // Second read comes from the cache and is identical.
    let d2 = read_image_folder(t.path(), "train", &opts).unwrap();
    assert!(d.images.equal(&d2.images));
    // A changed listing invalidates the cache; a differently sized image is an error naming it.
    save_img(&t.path().join("train/zebra/9.png"), 5, 4, [0, 0, 0]);
    let e = read_image_folder(t.path(), "train", &opts).unwrap_err().to_string();
    assert!(e.contains("9.png") && e.contains("5x4"), "{e}");
    std::fs::remove_file(t.path().join("train/zebra/9.png")).unwrap();
    // A corrupt image names the file.
    write(&t.path().join("train/zebra/1.JPG"), b"garbage");
    let e = read_image_folder(t.path(), "train", &opts).unwrap_err().to_string();
    assert!(e.contains("1.JPG") && e.contains("decode"), "{e}");
    // An empty class folder is an error.
    std::fs::create_dir_all(t.path().join("test/empty")).unwrap();
    let e = read_image_folder(t.path(), "test", &opts).unwrap_err().to_string();
    assert!(e.contains("empty") && e.contains("no .jpg"), "{e}");
}

#[test]
fn image_folder_damaged_cache_is_rebuilt() {
    let t = tempfile::tempdir().unwrap();
    folder(t.path());
    let cache = tempfile::tempdir().unwrap();
    let opts = ImageFolderOptions { cache_dir: Some(cache.path().to_path_buf()), threads: 1 };
    let d = read_image_folder(t.path(), "train", &opts).unwrap();
    let f = std::fs::read_dir(cache.path()).unwrap().next().unwrap().unwrap().path();
    let b = std::fs::read(&f).unwrap();
    std::fs::write(&f, &b[..b.len() - 7]).unwrap();
    let d2 = read_image_folder(t.path(), "train", &opts).unwrap();
    assert!(d.images.equal(&d2.images));
    assert_eq!(std::fs::read(&f).unwrap().len(), b.len());
}

#[test]
fn data_root_picks_the_present_format() {
    let t = tempfile::tempdir().unwrap();
    let root = DataRoot::new(t.path());
    let e = root.load(DatasetName::Cifar10).unwrap_err().to_string();
    assert!(
        e.contains("cifar-10-batches-bin") && e.contains("cifar10-jpeg") && e.contains("synthetic"),
        "{e}"
    );
    // Image folders with the wrong class count are refused for a named dataset.
    folder(&t.path().join("datasets/cifar10-jpeg"));
    let e = root.load(DatasetName::Cifar10).unwrap_err().to_string();
    assert!(e.contains("2 classes found, cifar10 has 10"), "{e}");
    // The binary release wins when both are present.
    cifar10_dir(&t.path().join("datasets/cifar-10-batches-bin"));
    let mut root = root;
    root.options.size_check = SizeCheck::Any;
    let loc = root.locate(DatasetName::Cifar10).unwrap();
    assert_eq!(loc.format, DatasetFormat::Cifar10Bin);
    let (train, test) = root.load(DatasetName::Cifar10).unwrap();
    assert_eq!((train.name.as_str(), train.len(), test.len()), ("cifar10/train", 10, 1));
    mnist_dir(&t.path().join("datasets/mnist"), true);
    assert_eq!(root.load(DatasetName::Mnist).unwrap().0.len(), 3);
    let (s, _) = root.load(DatasetName::Synthetic).unwrap();
    assert_eq!(s.images.kind(), Kind::Uint8);
    let opts = ReadOptions { size_check: SizeCheck::Any, ..ReadOptions::default() };
    let (tr, te) =
        read_dataset_dir(&t.path().join("datasets/mnist"), DatasetFormat::MnistIdx, &opts).unwrap();
    assert_eq!((tr.len(), te.len()), (3, 1));
}

//! The image-folder reader (CIFAR-10 JPEG folders): a fuzzed file as the only image of a class.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_data::{read_image_folder, ImageFolderOptions};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("train").join("cat");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::write(class.join("0.jpg"), data).unwrap();
    let opts = ImageFolderOptions { cache_dir: None, threads: 1 };
    if let Ok(d) = read_image_folder(dir.path(), "train", &opts) {
        assert_eq!(d.len(), 1);
    }
});

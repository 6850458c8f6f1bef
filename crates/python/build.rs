//! Links libtorch. The module is installed beside PyTorch in site-packages, so it looks for
//! libtorch in `../torch/lib` first (the user's torch; `import torch` has loaded it already in
//! practice), then where it was built (see `sotl-build`).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../torch/lib");
    }
    sotl_build::link_libtorch();
}

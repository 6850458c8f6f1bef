//! Links libtorch with an rpath (and its CUDA part when present); see `sotl-build`.
fn main() {
    sotl_build::link_libtorch();
}

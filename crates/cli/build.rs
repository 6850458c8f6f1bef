//! Links libtorch with an rpath (and its CUDA part when present); see `sotl-build`. Links the
//! malloc settings of `native/malloc_tuning.c` into the binary as a whole archive: nothing calls
//! its constructor, which the linker would otherwise drop.
fn main() {
    sotl_build::link_libtorch();
    println!("cargo:rerun-if-changed=native/malloc_tuning.c");
    cc::Build::new()
        .file("native/malloc_tuning.c")
        .link_lib_modifier("+whole-archive")
        .compile("sotl_nas_malloc_tuning");
}

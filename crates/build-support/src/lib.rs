//! Build-script helper shared by every crate that links libtorch.
//!
//! torch-sys tells its direct dependents where libtorch lives (`DEP_TCH_LIBTORCH_LIB`). From a
//! build script, [`link_libtorch`] turns that into
//! - an rpath, so binaries and test executables find libtorch with nothing exported by the user
//!   (`LD_LIBRARY_PATH` still overrides it, which is how a binary is pointed at another machine's
//!   torch);
//! - a forced link of `libtorch_cuda` when the install has it: no symbol of it is referenced, so
//!   the linker would drop it and CUDA would then report unavailable even on a GPU machine.

use std::path::Path;

/// Emits the cargo link arguments for libtorch; call it from `build.rs` of a crate that depends
/// on `torch-sys` directly.
pub fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch folder; no rpath added");
        return;
    };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}

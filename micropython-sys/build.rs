//! Generates the bindings to `mod/mpcoap.h` for the target being built.
//!
//! The header uses only `<stdint.h>`, `<stddef.h>` and `<stdbool.h>` types, so
//! clang needs no MicroPython or ESP-IDF headers and the bindings come out the
//! same for every port; only the target's data layout matters (see lib.rs).

use std::env;
use std::path::PathBuf;

/// The triple clang parses the header for. Rust targets that clang does not
/// know are mapped to one with the same C data layout.
fn clang_target(rust_target: &str) -> String {
    if rust_target.starts_with("xtensa-") || rust_target.starts_with("riscv32") {
        // Xtensa (esp32, -s2, -s3) and RV32 are both ILP32 with natural
        // alignment: char 1, short 2, int/long/pointer/size_t 4, long long 8
        // aligned to 8. clang without Espressif's patches has no xtensa target.
        "riscv32-unknown-elf".to_string()
    } else {
        rust_target.to_string()
    }
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let header = manifest.join("../mod/mpcoap.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-changed=build.rs");

    let target = env::var("TARGET").expect("cargo sets TARGET");
    let host = env::var("HOST").expect("cargo sets HOST");
    let mut clang_args = vec![format!("--target={}", clang_target(&target))];
    if target != host {
        // Bare-metal targets: clang's own freestanding stdint/stddef/stdbool.
        clang_args.push("-ffreestanding".to_string());
    }

    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_args(&clang_args)
        .use_core()
        .size_t_is_usize(true)
        .layout_tests(true)
        .allowlist_function("mpcoap_.*")
        .allowlist_type("mpcoap_.*")
        .allowlist_var("MPCOAP_.*")
        .generate_comments(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen could not generate bindings for mod/mpcoap.h");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("bindings.rs");
    bindings.write_to_file(&out).expect("could not write bindings.rs");
}

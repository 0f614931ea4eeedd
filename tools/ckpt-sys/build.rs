// SPDX-License-Identifier: GPL-2.0

//! Generates the ABI structs and constants from the UAPI header, the one source of truth that
//! the kernel module is generated from too.

use std::{env, path::PathBuf};

fn main() {
    let header = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include/uapi/linux/ckpt.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .allowlist_type("ckpt_.*")
        .allowlist_var("CKPT_.*")
        .derive_default(true)
        .prepend_enum_name(false)
        .generate_comments(false)
        .layout_tests(true)
        .generate()
        .expect("bindgen failed on include/uapi/linux/ckpt.h");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("uapi_generated.rs");
    bindings
        .write_to_file(out)
        .expect("writing the generated bindings");
}

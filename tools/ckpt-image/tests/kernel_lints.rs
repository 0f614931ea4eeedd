// SPDX-License-Identifier: GPL-2.0

//! Compiles `src/image/` the way the kernel module does (a `core`-only submodule of a no_std
//! crate) with the kernel's rustc lints as errors, so a change that would break or warn in
//! the kernel build fails `make check` even where no kernel tree is at hand.

use std::path::PathBuf;
use std::process::Command;

/// The kernel's `rust_common_flags` lints that apply to plain code (see the kernel Makefile).
const KERNEL_LINTS: &[&str] = &[
    "-Dnon_ascii_idents",
    "-Dunsafe_op_in_unsafe_fn",
    "-Dmissing_docs",
    "-Drust_2018_idioms",
    "-Dunreachable_pub",
    "-Dwarnings",
];

const KERNEL_CLIPPY_LINTS: &[&str] = &[
    "-Dclippy::all",
    "-Dclippy::as_underscore",
    "-Dclippy::cast_lossless",
    "-Dclippy::ignored_unit_patterns",
    "-Dclippy::mut_mut",
    "-Dclippy::needless_bitwise_bool",
    "-Aclippy::needless_lifetimes",
    "-Dclippy::ptr_as_ptr",
    "-Dclippy::float_arithmetic",
    "-Dclippy::undocumented_unsafe_blocks",
];

fn compile(tool: &str, extra: &[&str]) -> Option<std::process::Output> {
    let image = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../src/image/mod.rs");
    let dir = std::env::temp_dir().join(format!("ckpt-kernel-lints-{}-{tool}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wrapper = dir.join("wrapper.rs");
    std::fs::write(
        &wrapper,
        format!(
            "//! Stand-in for the module crate root.\n#![no_std]\n/// The codec.\n#[path = {:?}]\npub mod image;\n",
            image.canonicalize().unwrap()
        ),
    )
    .unwrap();
    let output = Command::new(tool)
        .args([
            "--edition=2021",
            "--crate-type=rlib",
            "--emit=metadata",
            "--crate-name=ckpt",
        ])
        .args(["-Coverflow-checks=on", "-Cdebug-assertions=on"])
        .args(KERNEL_LINTS)
        .args(extra)
        .arg("--out-dir")
        .arg(&dir)
        .arg(&wrapper)
        .output()
        .ok();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

#[test]
fn codec_builds_under_kernel_rustc_lints() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = compile(&rustc, &[]).expect("rustc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn codec_is_clean_under_kernel_clippy_lints() {
    // clippy-driver comes with the clippy component (setup-host installs it): a lint check
    // that cannot run has not passed. CLIPPY_DRIVER names another one.
    let driver = std::env::var("CLIPPY_DRIVER").unwrap_or_else(|_| "clippy-driver".into());
    let out = compile(&driver, KERNEL_CLIPPY_LINTS).unwrap_or_else(|| {
        panic!("{driver} not found: install the clippy component (tools/testing/setup-host)")
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

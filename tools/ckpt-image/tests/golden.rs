// SPDX-License-Identifier: GPL-2.0

//! Golden vectors: images in `tools/testdata/` whose bytes are pinned. Each is rebuilt here by
//! code and compared byte for byte, so an accidental format change fails. After a deliberate
//! change, rewrite them with `CKPT_BLESS=1 cargo test --manifest-path tools/Cargo.toml` (and
//! say why in the commit: images in the wild keep the old bytes).

mod common;

use std::path::PathBuf;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// The golden images and how each is built.
fn golden() -> Vec<(&'static str, Vec<u8>)> {
    let full = common::full_image();
    let truncated = full[..full.len() - 10].to_vec();
    let mut corrupt = full.clone();
    // Flip one byte in the middle of the first file's path: only the checksum can tell.
    let at = corrupt
        .windows(13)
        .position(|w| w == b"/etc/hostname")
        .unwrap();
    corrupt[at + 5] ^= 0x20;
    vec![
        ("minimal.img", common::minimal_image()),
        ("full.img", full),
        ("truncated.img", truncated),
        ("corrupt.img", corrupt),
        ("process.img", common::process_image()),
    ]
}

#[test]
fn golden_vectors_are_unchanged() {
    let bless = common::bless();
    for (name, bytes) in golden() {
        let path = testdata(name);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let pinned = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CKPT_BLESS=1 creates it)", path.display()));
        if pinned != bytes {
            let first = pinned.iter().zip(&bytes).position(|(a, b)| a != b);
            panic!(
                "{name}: encoder output differs from the pinned golden vector (first difference \
                 at byte {first:?}, lengths {} vs {}). If the format change is deliberate, rerun \
                 with CKPT_BLESS=1.",
                pinned.len(),
                bytes.len()
            );
        }
    }
}

#[test]
fn golden_vectors_decode_as_expected() {
    let dir = testdata("");
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    common::decode_all(&read("minimal.img")).unwrap();
    common::decode_all(&read("full.img")).unwrap();
    common::decode_all(&read("process.img")).unwrap();
    assert_eq!(
        common::decode_error(&read("truncated.img")).kind,
        ckpt_image::FormatErrorKind::Truncated
    );
    assert!(matches!(
        common::decode_error(&read("corrupt.img")).kind,
        ckpt_image::FormatErrorKind::ChecksumMismatch { .. }
    ));
}

// SPDX-License-Identifier: GPL-2.0

//! Replays the committed fuzz corpus (`tools/fuzz/corpus/<target>/`) through the same entry
//! points the fuzz targets call, so `make check` catches regressions on stable Rust without
//! running the fuzzer. `CKPT_BLESS=1` (re)writes the seed inputs, which are built from code.

mod common;

use std::path::PathBuf;

use ckpt_image::fuzzing::{fuzz_check, fuzz_decode};

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Seeds for the decoder: the sample images, whole and damaged.
fn decode_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let full = common::full_image();
    let mut flipped = full.clone();
    flipped[400] ^= 1;
    vec![
        ("seed-minimal", common::minimal_image()),
        ("seed-full", full.clone()),
        ("seed-truncated", full[..full.len() / 2].to_vec()),
        ("seed-flipped", flipped),
        ("seed-process", common::process_image()),
        ("seed-sigstate", common::sigstate_image()),
    ]
}

/// Seeds for the checker: where to split (`u16`), then two bare vectors.
fn check_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let env = common::env_payload();
    let mut task = Vec::new();
    ckpt_image::encode_env_payload(&mut task, common::sample_task_env).unwrap();
    let pair = |a: &[u8], b: &[u8]| {
        let mut v = u16::try_from(a.len()).unwrap().to_le_bytes().to_vec();
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        v
    };
    vec![
        ("seed-same", pair(&env, &env)),
        ("seed-task-vs-env", pair(&task, &env)),
        ("seed-env-vs-task", pair(&env, &task)),
    ]
}

fn replay(target: &str, seeds: Vec<(&'static str, Vec<u8>)>, run: fn(&[u8])) -> usize {
    let dir = corpus(target);
    if common::bless() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (name, _) in &seeds {
        assert!(
            dir.join(name).exists(),
            "seed {name} missing (CKPT_BLESS=1 writes it)"
        );
    }
    for f in &files {
        let data = std::fs::read(f).unwrap();
        // A panic names the file, which is all one needs to reproduce it.
        eprintln!("replaying {}", f.display());
        run(&data);
    }
    files.len()
}

#[test]
fn decode_corpus_replays_cleanly() {
    assert!(replay("decode", decode_seeds(), fuzz_decode) >= 4);
}

#[test]
fn check_corpus_replays_cleanly() {
    assert!(replay("check", check_seeds(), fuzz_check) >= 3);
}

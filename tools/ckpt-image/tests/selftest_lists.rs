// SPDX-License-Identifier: GPL-2.0

//! The record types the kselftests write by number, checked against the codec: the hostile
//! restart test's `unassigned_types` (types no reader knows, for the unknown-record tests) and
//! its `T_*` names. Assigning one of the "unassigned" types, or renumbering a type, fails here
//! until the C list is updated, instead of turning an unknown-record test into a test of a
//! known record with a wrong payload.

use ckpt_image::RecordType;

const HOSTILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testing/selftests/ckpt/ckpt_restart_hostile_test.c"
);

fn source() -> String {
    std::fs::read_to_string(HOSTILE).unwrap_or_else(|e| panic!("{HOSTILE}: {e}"))
}

fn number(tok: &str) -> u16 {
    let tok = tok.trim();
    let v = match tok.strip_prefix("0x") {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => tok.parse(),
    };
    v.unwrap_or_else(|e| panic!("{HOSTILE}: {tok:?} is not a 16-bit number: {e}"))
}

/// The numbers of the initializer `static const uint16_t <name>[] = { ... };`.
fn c_array(src: &str, name: &str) -> Vec<u16> {
    let decl = format!("static const uint16_t {name}[] = {{");
    let start = src
        .find(&decl)
        .unwrap_or_else(|| panic!("{HOSTILE}: no `{decl}`"))
        + decl.len();
    let end = start + src[start..].find("};").expect("the initializer ends");
    src[start..end]
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(number)
        .collect()
}

/// The value of `#define <name> <number>`.
fn c_define(src: &str, name: &str) -> u16 {
    let line = src
        .lines()
        .find(|l| l.split_whitespace().take(2).eq(["#define", name]))
        .unwrap_or_else(|| panic!("{HOSTILE}: no #define {name}"));
    number(line.split_whitespace().nth(2).expect("a value"))
}

#[test]
fn unassigned_types_are_unknown_to_the_codec() {
    let types = c_array(&source(), "unassigned_types");
    assert!(types.len() >= 10, "the list shrank: {types:x?}");
    for t in &types {
        let t = RecordType(*t);
        assert!(
            !t.is_known() && !RecordType::KNOWN.contains(&t),
            "{HOSTILE}: unassigned_types has {:#06x}, which the codec knows as {:?}: replace \
             it with a type Documentation/image-format.rst leaves unassigned",
            t.0,
            t.name()
        );
    }
    let mut sorted = types.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), types.len(), "duplicates in {types:x?}");
}

#[test]
fn named_types_match_the_codec() {
    let src = source();
    for (name, t) in [
        ("T_TERM", RecordType::TERMINATOR),
        ("T_ENV", RecordType::ENV_VECTOR),
        ("T_TASKVEC", RecordType::TASK_VECTOR),
        ("T_TASK", RecordType::TASK),
        ("T_TABLE", RecordType::FILE_TABLE),
        ("T_FILE", RecordType::FILE),
    ] {
        assert_eq!(c_define(&src, name), t.0, "{HOSTILE}: {name}");
    }
}

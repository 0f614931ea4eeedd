// SPDX-License-Identifier: GPL-2.0

//! Pins the name tables of `src/image/cpu_names.rs` to the kernel headers they were generated
//! from (by `tools/testing/gen-cpu-names`): this test re-derives them with its own parser and
//! fails when the tables and the headers drift apart (a kernel update, a hand edit).
//!
//! The headers are read from the test kernel's source tree: `$CKPT_KERNEL_SRC`, or
//! `$CKPT_CACHE/src/tree` (default `~/.cache/ckpt/src/tree`, unpacked by
//! `tools/testing/build-kernel`; no network here). Without a tree the header comparison is
//! skipped with a note, unless `CKPT_REQUIRE_KERNEL_SRC=1` makes that a failure. The
//! guest half of the pin is `tools/testing/cpu-model-guest`, which compares the names with
//! the running kernel's `/proc/cpuinfo` and boot log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ckpt_image::cpu_names::{SOURCE_RELEASE, X86_CAP_FLAGS, X86_CAP_WORDS, XFEATURES};
use ckpt_image::{bit_name, keys};

fn kernel_source() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let candidates = [
        env("CKPT_KERNEL_SRC").map(PathBuf::from),
        env("CKPT_CACHE").map(|c| PathBuf::from(c).join("src/tree")),
        env("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("ckpt/src/tree")),
        env("HOME").map(|h| PathBuf::from(h).join(".cache/ckpt/src/tree")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("arch/x86/include/asm/cpufeatures.h").is_file());
    if found.is_none() {
        let required = std::env::var_os("CKPT_REQUIRE_KERNEL_SRC").is_some_and(|v| v == "1");
        assert!(
            !required,
            "no kernel source tree (set CKPT_KERNEL_SRC, or run tools/testing/build-kernel)"
        );
        eprintln!("note: no kernel source tree; the name tables are not compared with it");
    }
    found
}

fn read(src: &Path, path: &str) -> String {
    std::fs::read_to_string(src.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `#define X86_FEATURE_<M> ( W*32+ B) /* "name" ...`, by mkcapflags.sh's rule: a comment
/// that starts with a quoted string names the bit (lower-cased); others leave it unnamed.
/// Returns (word, bit) -> Some(name) or None, and NCAPINTS.
fn parse_cpufeatures(text: &str) -> (BTreeMap<(u8, u8), Option<String>>, u32) {
    let mut bits = BTreeMap::new();
    let mut ncapints = None;
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("define") else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(n) = rest.strip_prefix("NCAPINTS") {
            let n = n.split_whitespace().next().unwrap();
            ncapints = Some(n.parse().unwrap());
            continue;
        }
        let Some(rest) = rest.strip_prefix("X86_FEATURE_") else {
            continue;
        };
        let (macro_name, rest) = rest.split_once(|c: char| c.is_whitespace()).unwrap();
        let open = rest
            .find('(')
            .unwrap_or_else(|| panic!("{macro_name}: {line}"));
        let close = rest.find(')').unwrap();
        let expr: String = rest[open + 1..close]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let (word, bit) = expr.split_once("*32+").unwrap_or_else(|| panic!("{line}"));
        let key = (word.parse().unwrap(), bit.parse().unwrap());
        let comment = rest[close + 1..].trim_start();
        let name = comment
            .strip_prefix("/*")
            .map(str::trim_start)
            .and_then(|c| c.strip_prefix('"'))
            .and_then(|c| c.split_once('"'))
            .map(|(name, _)| name.to_lowercase())
            .filter(|name| !name.is_empty());
        assert!(
            bits.insert(key, name).is_none(),
            "{macro_name}: two features on one bit"
        );
    }
    (bits, ncapints.expect("NCAPINTS"))
}

/// bit -> (XFEATURE_MASK_<NAME> lower-cased, xfeature_names[bit]) for every component with a
/// mask; the enum gives the bit numbers.
fn parse_xfeatures(types: &str, xstate: &str) -> BTreeMap<u8, (String, String)> {
    let body = types
        .split_once("enum xfeature {")
        .expect("enum xfeature")
        .1
        .split_once('}')
        .unwrap()
        .0;
    let mut enum_bits = BTreeMap::new();
    let mut n = 0u8;
    for line in body.lines() {
        let line = line
            .split("/*")
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(',');
        if line.starts_with("XFEATURE_") && line != "XFEATURE_MAX" {
            enum_bits.insert(line.to_owned(), n);
            n += 1;
        }
    }
    let names = xstate
        .split_once("xfeature_names[] =")
        .expect("xfeature_names")
        .1
        .split_once("};")
        .unwrap()
        .0;
    let descriptions: Vec<&str> = names
        .lines()
        .filter_map(|l| l.split_once('"').map(|(_, r)| r.split_once('"').unwrap().0))
        .collect();
    let mut out = BTreeMap::new();
    for line in types.lines() {
        let Some(rest) = line.strip_prefix("#define XFEATURE_MASK_") else {
            continue;
        };
        let (mask, value) = rest.split_once(|c: char| c.is_whitespace()).unwrap();
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(feature) = value.strip_prefix("(1<<").and_then(|v| v.strip_suffix(')')) else {
            continue; // a combination such as XFEATURE_MASK_AVX512
        };
        let bit = enum_bits[feature];
        let description = descriptions[usize::from(bit)].to_owned();
        assert!(out
            .insert(bit, (mask.to_lowercase(), description))
            .is_none());
    }
    out
}

#[test]
fn tables_are_sorted_and_within_ncapints() {
    for pair in X86_CAP_FLAGS.windows(2) {
        assert!(
            (pair[0].word, pair[0].bit) < (pair[1].word, pair[1].bit),
            "{pair:?}"
        );
    }
    for f in X86_CAP_FLAGS {
        assert!(u32::from(f.word) < X86_CAP_WORDS && f.bit < 32, "{f:?}");
        assert!(
            !f.name.is_empty() && f.name == f.name.to_lowercase(),
            "{f:?}"
        );
    }
    for pair in XFEATURES.windows(2) {
        assert!(pair[0].bit < pair[1].bit, "{pair:?}");
    }
    for x in XFEATURES {
        assert!(x.bit < 64, "{x:?}");
    }
}

#[test]
fn bit_name_reads_the_tables() {
    let cap = |word: u32, bit: u32| bit_name(keys::X86_CAPABILITY, word * 32 + bit);
    // Spot checks a reader can verify against /proc/cpuinfo and cpufeatures.h.
    assert_eq!(cap(0, 25), Some("sse"));
    assert_eq!(cap(4, 20), Some("sse4_2"));
    assert_eq!(cap(9, 5), Some("avx2"));
    assert_eq!(cap(9, 16), Some("avx512f"));
    assert_eq!(cap(0, 10), None); // no feature on that bit
    assert_eq!(cap(X86_CAP_WORDS, 0), None);
    assert_eq!(bit_name(keys::X86_CAPABILITY, u32::MAX), None);
    let xf = |bit| bit_name(keys::XSAVE_FEATURES, bit);
    assert_eq!(xf(2), Some("ymm"));
    assert_eq!(xf(9), Some("pkru"));
    assert_eq!(xf(18), Some("xtile_data"));
    assert_eq!(xf(13), None); // reserved
    assert_eq!(bit_name(keys::USER_ABIS, 1), Some("ia32"));
    assert_eq!(bit_name(keys::CPU_MODEL, 0), None);
    for f in X86_CAP_FLAGS {
        assert_eq!(cap(f.word.into(), f.bit.into()), Some(f.name));
    }
}

#[test]
fn capability_names_match_cpufeatures_h() {
    let Some(src) = kernel_source() else {
        return;
    };
    let makefile = read(&src, "Makefile");
    let field = |name: &str| {
        makefile
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap()
    };
    let release = format!(
        "{}.{}.{}",
        field("VERSION = "),
        field("PATCHLEVEL = "),
        field("SUBLEVEL = ")
    );
    let (bits, ncapints) = parse_cpufeatures(&read(&src, "arch/x86/include/asm/cpufeatures.h"));
    let regenerate = "rerun tools/testing/gen-cpu-names";
    assert_eq!(ncapints, X86_CAP_WORDS, "NCAPINTS changed: {regenerate}");
    let expected: Vec<(u8, u8, &str)> = bits
        .iter()
        .filter_map(|(&(w, b), name)| name.as_deref().map(|n| (w, b, n)))
        .collect();
    let actual: Vec<(u8, u8, &str)> = X86_CAP_FLAGS
        .iter()
        .map(|f| (f.word, f.bit, f.name))
        .collect();
    for e in &expected {
        assert!(
            actual.contains(e),
            "{e:?} is in the header of {release}, not in the table: {regenerate}"
        );
    }
    for a in &actual {
        assert!(
            expected.contains(a),
            "{a:?} is in the table, not in the header of {release}: {regenerate}"
        );
    }
    // Bits the header defines without a name stay unnamed.
    for (&(w, b), name) in &bits {
        if name.is_none() {
            assert_eq!(
                bit_name(keys::X86_CAPABILITY, u32::from(w) * 32 + u32::from(b)),
                None
            );
        }
    }
    assert!(expected.len() > 200, "only {} names parsed", expected.len());
    assert_eq!(
        release, SOURCE_RELEASE,
        "tables taken from another kernel: {regenerate}"
    );
}

#[test]
fn xsave_names_match_fpu_types_h_and_xstate_c() {
    let Some(src) = kernel_source() else {
        return;
    };
    let expected = parse_xfeatures(
        &read(&src, "arch/x86/include/asm/fpu/types.h"),
        &read(&src, "arch/x86/kernel/fpu/xstate.c"),
    );
    let actual: BTreeMap<u8, (String, String)> = XFEATURES
        .iter()
        .map(|x| (x.bit, (x.name.to_owned(), x.description.to_owned())))
        .collect();
    assert_eq!(actual, expected, "rerun tools/testing/gen-cpu-names");
    assert_eq!(expected[&0].0, "fp");
    assert_eq!(expected[&2], ("ymm".to_owned(), "AVX registers".to_owned()));
}

// SPDX-License-Identifier: GPL-2.0

//! The compatibility checker applies each entry's rule, reports every mismatch, and counts
//! critical ones separately from advisory ones.

mod common;

use ckpt_image::*;

fn vector(build: impl FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>) -> Vec<u8> {
    let mut v = Vec::new();
    encode_env_payload(&mut v, build).unwrap();
    v
}

/// Runs the checker and returns the mismatches as (key, reason, critical).
fn mismatches(image: &[u8], host: &[u8]) -> (Vec<(u32, MismatchReason, bool)>, CheckSummary) {
    let image = EnvVector::parse(image).unwrap();
    let host = EnvVector::parse(host).unwrap();
    let mut found = Vec::new();
    let summary = check_env(&image, &host, |m| found.push((m.key, m.reason, m.critical)));
    (found, summary)
}

const C: u16 = ENV_FLAG_CRITICAL;

#[test]
fn identical_environments_are_compatible() {
    let env = common::env_payload();
    let (found, summary) = mismatches(&env, &env);
    assert!(found.is_empty());
    assert!(summary.is_compatible());
    assert_eq!(summary.checked, 14); // 16 entries, 2 informational
}

#[test]
fn each_rule_is_applied() {
    let image = vector(|w| {
        w.put(1, Rule::EQUAL, C, EnvValue::U32(5))?;
        w.put(2, Rule::SUBSET, C, EnvValue::Bitmap32(&[0b0110, 0, 1]))?;
        w.put(3, Rule::AT_MOST, 0, EnvValue::U32(10))?;
        w.put(4, Rule::EQUAL, C, EnvValue::Str(b"GenuineIntel"))?;
        w.put(5, Rule::INFO, C, EnvValue::U32(1))?;
        w.put(6, Rule::SUBSET, C, EnvValue::U64(0b11))?;
        w.put(7, Rule::EQUAL, C, EnvValue::Bitmap64(&[1, 0, 0]))?;
        w.put(8, Rule::EQUAL, C, EnvValue::U32(1))?;
        w.put(9, Rule(9), 0, EnvValue::U32(1))?;
        w.put(10, Rule::AT_MOST, C, EnvValue::Raw(ValueType(42), b"zz"))?;
        w.put(11, Rule::EQUAL, C, EnvValue::Raw(ValueType(42), b"zz"))
    });
    let host = vector(|w| {
        w.put(1, Rule::EQUAL, C, EnvValue::U32(6))?;
        // Missing host words count as 0, so image word 2 (value 1) is not covered.
        w.put(2, Rule::SUBSET, C, EnvValue::Bitmap32(&[0b1110]))?;
        w.put(3, Rule::AT_MOST, 0, EnvValue::U32(9))?;
        w.put(4, Rule::EQUAL, C, EnvValue::Str(b"AuthenticAMD"))?;
        w.put(5, Rule::INFO, C, EnvValue::U32(2))?;
        w.put(6, Rule::SUBSET, C, EnvValue::U64(0b111))?;
        // Trailing zero words do not make bitmaps differ.
        w.put(7, Rule::EQUAL, C, EnvValue::Bitmap64(&[1]))?;
        w.put(8, Rule::EQUAL, C, EnvValue::U64(1))?;
        w.put(10, Rule::AT_MOST, C, EnvValue::Raw(ValueType(42), b"zz"))?;
        w.put(11, Rule::EQUAL, C, EnvValue::Raw(ValueType(42), b"zz"))
    });
    let (found, summary) = mismatches(&image, &host);
    assert_eq!(
        found,
        vec![
            (1, MismatchReason::NotEqual, true),
            (2, MismatchReason::NotSubset, true),
            (3, MismatchReason::Greater, false),
            (4, MismatchReason::NotEqual, true),
            (8, MismatchReason::TypeDiffers, true),
            (9, MismatchReason::UnknownRule, false),
            (10, MismatchReason::UnknownType, true),
        ]
    );
    assert_eq!(
        summary,
        CheckSummary {
            checked: 10,
            critical: 5,
            advisory: 2
        }
    );
    assert!(!summary.is_compatible());
}

#[test]
fn missing_host_keys_and_extra_host_keys() {
    let image = vector(|w| {
        w.put(2, Rule::EQUAL, C, EnvValue::U32(1))?;
        w.put(4, Rule::EQUAL, 0, EnvValue::U32(1))?;
        w.put(9, Rule::INFO, C, EnvValue::U32(1))
    });
    let host = vector(|w| {
        w.put(1, Rule::EQUAL, C, EnvValue::U32(1))?;
        w.put(3, Rule::EQUAL, C, EnvValue::U32(1))?;
        w.put(5, Rule::EQUAL, C, EnvValue::U32(1))
    });
    let (found, summary) = mismatches(&image, &host);
    assert_eq!(
        found,
        vec![
            (2, MismatchReason::MissingOnHost, true),
            (4, MismatchReason::MissingOnHost, false)
        ]
    );
    assert_eq!((summary.critical, summary.advisory), (1, 1));
}

#[test]
fn mismatch_carries_both_values() {
    let image = vector(|w| w.put(keys::XSAVE_SIZE, Rule::AT_MOST, C, EnvValue::U32(4000)));
    let host = vector(|w| w.put(keys::XSAVE_SIZE, Rule::AT_MOST, C, EnvValue::U32(2696)));
    let (image, host) = (
        EnvVector::parse(&image).unwrap(),
        EnvVector::parse(&host).unwrap(),
    );
    let mut seen = 0;
    check_env(&image, &host, |m| {
        seen += 1;
        assert_eq!(m.image.word(0), 4000);
        assert_eq!(m.host.unwrap().word(0), 2696);
        assert_eq!(m.rule, Rule::AT_MOST);
    });
    assert_eq!(seen, 1);
}

#[test]
fn registry_is_sorted_and_consistent() {
    let mut last = 0;
    for k in keys::KNOWN_KEYS {
        assert!(k.key > last, "{} out of order", k.name);
        last = k.key;
        assert_eq!(keys::lookup_name(k.name).unwrap().key, k.key);
        // Every registry default must be a combination writers are allowed to emit.
        let value = match k.vtype {
            ValueType::U32 => EnvValue::U32(0),
            ValueType::U64 => EnvValue::U64(0),
            ValueType::BITMAP32 => EnvValue::Bitmap32(&[0]),
            t => EnvValue::Raw(t, b"x"),
        };
        measure_env_payload(|w| w.put(k.key, k.rule, 0, value)).unwrap();
    }
    assert!(last < keys::PRIVATE_FIRST);
}

#[test]
fn registered_keys_take_rule_and_criticality_from_the_registry() {
    let v = vector(|w| {
        w.put_registered(keys::ARCH, EnvValue::U32(1))?;
        w.put_registered(keys::CPU_FAMILY, EnvValue::U32(6))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(832))
    });
    let v = EnvVector::parse(&v).unwrap();
    let e: Vec<_> = v.iter().map(|e| (e.key, e.rule, e.is_critical())).collect();
    assert_eq!(
        e,
        [
            (keys::ARCH, Rule::EQUAL, true),
            (keys::CPU_FAMILY, Rule::EQUAL, false),
            (keys::XSAVE_SIZE, Rule::AT_MOST, true)
        ]
    );
    assert_eq!(
        measure_env_payload(|w| w.put_registered(0x7777, EnvValue::U32(1))),
        Err(EncodeError::Invalid(FormatErrorKind::EnvKeyUnregistered(
            0x7777
        )))
    );
    assert_eq!(
        measure_env_payload(|w| w.put_registered(keys::ARCH, EnvValue::U64(1))),
        Err(EncodeError::Invalid(FormatErrorKind::EnvTypeMismatch(
            keys::ARCH
        )))
    );
}

// SPDX-License-Identifier: GPL-2.0

//! The words of an environment mismatch, as restart's refusal and `ckpt check` print them:
//! features by the kernel's names, unnamed bits as `word N bit M`, critical before advisory,
//! and one line of advice. Expected texts are written out by hand from cpufeatures.h.

use ckpt_image::*;

const C: u16 = ENV_FLAG_CRITICAL;

fn vector(build: impl FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>) -> Vec<u8> {
    let mut v = Vec::new();
    encode_env_payload(&mut v, build).unwrap();
    v
}

/// word 4 bit 20 sse4_2, word 9 bit 5 avx2, word 9 bit 16 avx512f; word 0 bit 10 and word 3
/// bit 21 have no name.
fn caps(extra: bool) -> [u32; 10] {
    let mut w = [0u32; 10];
    w[0] = 1 << 25; // sse
    if extra {
        w[0] |= 1 << 10;
        w[3] |= 1 << 21; // X86_FEATURE_ALWAYS, unnamed
        w[4] |= 1 << 20;
        w[9] |= (1 << 5) | (1 << 16);
    }
    w
}

fn image_vector() -> Vec<u8> {
    vector(|w| {
        w.put_registered(keys::CPU_VENDOR, EnvValue::Str(b"GenuineIntel"))?;
        w.put_registered(keys::CPU_MODEL, EnvValue::U32(85))?;
        w.put_registered(keys::X86_CAPABILITY, EnvValue::Bitmap32(&caps(true)))?;
        // fp, sse, ymm, opmask, zmm_hi256, hi16_zmm, pkru, and reserved bit 13
        w.put_registered(keys::XSAVE_FEATURES, EnvValue::U64(0x22e7 | 1 << 13))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(2696))
    })
}

fn host_vector() -> Vec<u8> {
    vector(|w| {
        w.put_registered(keys::CPU_VENDOR, EnvValue::Str(b"GenuineIntel"))?;
        w.put_registered(keys::CPU_MODEL, EnvValue::U32(6))?;
        w.put_registered(keys::X86_CAPABILITY, EnvValue::Bitmap32(&caps(false)))?;
        w.put_registered(keys::XSAVE_FEATURES, EnvValue::U64(0x3))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(576))
    })
}

fn task_vector() -> Vec<u8> {
    vector(|w| {
        w.put_registered(keys::XSAVE_FEATURES, EnvValue::U64(0x7))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(832))
    })
}

#[test]
fn missing_bits_are_named_or_numbered() {
    let (image, host) = (image_vector(), host_vector());
    let image = EnvVector::parse(&image).unwrap();
    let host = EnvVector::parse(&host).unwrap();
    let mut texts = Vec::new();
    let mut bits = Vec::new();
    check_env(&image, &host, |m| {
        texts.push(m.text(usize::MAX).to_string());
        bits.extend(m.missing_bits().map(|b| (b.key, b.word, b.bit, b.name())));
    });
    assert_eq!(
        texts,
        [
            "cpu_model: values differ (image 85, host 6)",
            "x86_capability: the host lacks sse4_2, avx2, avx512f, word 0 bit 10, word 3 bit 21",
            "xsave_features: the host lacks ymm, opmask, zmm_hi256, hi16_zmm, pkru, bit 13",
            "xsave_size: image value exceeds host value (image 2696, host 576)",
        ]
    );
    let cap = keys::X86_CAPABILITY;
    assert_eq!(
        bits[..5],
        [
            (cap, 0, 10, None),
            (cap, 3, 21, None),
            (cap, 4, 20, Some("sse4_2")),
            (cap, 9, 5, Some("avx2")),
            (cap, 9, 16, Some("avx512f")),
        ]
    );
}

#[test]
fn names_are_cut_after_max_names() {
    let (image, host) = (image_vector(), host_vector());
    let image = EnvVector::parse(&image).unwrap();
    let host = EnvVector::parse(&host).unwrap();
    let mut texts = Vec::new();
    check_env(&image, &host, |m| texts.push(m.text(2).to_string()));
    assert_eq!(
        texts[1],
        "x86_capability: the host lacks sse4_2, avx2 and 3 more"
    );
    check_env(&image, &host, |m| texts.push(m.text(0).to_string()));
    assert_eq!(texts[5], "x86_capability: the host lacks 5 bits");
}

#[test]
fn report_lists_critical_first_then_advisory_with_advice() {
    let (image, host, task) = (image_vector(), host_vector(), task_vector());
    let scopes = [
        Scope {
            label: "",
            image: EnvVector::parse(&image).unwrap(),
        },
        Scope {
            label: "task",
            image: EnvVector::parse(&task).unwrap(),
        },
    ];
    let report = EnvReport::new(&scopes, EnvVector::parse(&host).unwrap());
    assert_eq!(report.summary().critical, 5);
    assert_eq!(report.summary().advisory, 1);
    assert_eq!(report.advice(), Some(Advice::Features));
    assert_eq!(report.first_scope(), Some(0));
    assert_eq!(
        report.line(3).to_string(),
        "environment mismatch (5 critical, 1 advisory). critical: x86_capability: the host \
         lacks sse4_2, avx2, avx512f and 2 more; xsave_features: the host lacks ymm, opmask, \
         zmm_hi256 and 3 more; xsave_size: image value exceeds host value (image 2696, host \
         576); task xsave_features: the host lacks ymm; task xsave_size: image value exceeds \
         host value (image 832, host 576). advisory: cpu_model: values differ (image 85, host \
         6). Advice: restart on a host with these features, or checkpoint on a host that \
         lacks them"
    );
    assert_eq!(
        report.lines().to_string(),
        "environment mismatch (5 critical, 1 advisory)\n\
         critical (restart is refused):\n\
         \x20 x86_capability: the host lacks sse4_2, avx2, avx512f, word 0 bit 10, word 3 bit 21\n\
         \x20 xsave_features: the host lacks ymm, opmask, zmm_hi256, hi16_zmm, pkru, bit 13\n\
         \x20 xsave_size: image value exceeds host value (image 2696, host 576)\n\
         \x20 task xsave_features: the host lacks ymm\n\
         \x20 task xsave_size: image value exceeds host value (image 832, host 576)\n\
         advisory (restart is refused unless accepted):\n\
         \x20 cpu_model: values differ (image 85, host 6)\n\
         advice: restart on a host with these features, or checkpoint on a host that lacks them\n"
    );
}

#[test]
fn advice_follows_the_most_important_mismatch() {
    let host = host_vector();
    let host = EnvVector::parse(&host).unwrap();
    let report_of = |image: &[u8]| {
        let scopes = [Scope {
            label: "",
            image: EnvVector::parse(image).unwrap(),
        }];
        let report = EnvReport::new(&scopes, host);
        (report.advice(), report.line(8).to_string())
    };
    let advisory = vector(|w| w.put_registered(keys::CPU_MODEL, EnvValue::U32(85)));
    assert_eq!(
        report_of(&advisory),
        (
            Some(Advice::Advisory),
            "environment mismatch (0 critical, 1 advisory). advisory: cpu_model: values differ \
             (image 85, host 6). Advice: restart anyway if these do not matter: ckpt restore \
             --accept-advisory (CKPT_RESTART_ACCEPT_ADVISORY)"
                .to_owned()
        )
    );
    let vendor = vector(|w| {
        w.put_registered(keys::CPU_VENDOR, EnvValue::Str(b"Authentic\x01AMD"))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(4096))
    });
    let (advice, line) = report_of(&vendor);
    assert_eq!(advice, Some(Advice::Differ));
    assert!(
        line.starts_with(
            "environment mismatch (2 critical, 0 advisory). critical: cpu_vendor: values \
             differ (image \"Authentic\\x01AMD\", host \"GenuineIntel\"); xsave_size: "
        ),
        "{line}"
    );
    let missing = vector(|w| {
        w.put(
            0x8000_0001,
            Rule::SUBSET,
            C,
            EnvValue::Bitmap32(&[0, 1 << 3]),
        )?;
        w.put(0x8000_0002, Rule(9), C, EnvValue::U32(1))
    });
    let (advice, line) = report_of(&missing);
    assert_eq!(advice, Some(Advice::Differ));
    assert!(
        line.contains(
            "critical: key 0x80000001: missing on host; key 0x80000002: unknown rule, cannot \
             decide. Advice: restart on a host where these match"
        ),
        "{line}"
    );
    let same = vector(|w| w.put_registered(keys::CPU_MODEL, EnvValue::U32(6)));
    assert_eq!(report_of(&same), (None, String::new()));
}

#[test]
fn unknown_bitmap_keys_number_their_bits() {
    let image = vector(|w| {
        w.put(
            0x8000_0001,
            Rule::SUBSET,
            C,
            EnvValue::Bitmap64(&[0, 1 << 40]),
        )
    });
    let host = vector(|w| w.put(0x8000_0001, Rule::SUBSET, C, EnvValue::Bitmap64(&[1])));
    let (image, host) = (
        EnvVector::parse(&image).unwrap(),
        EnvVector::parse(&host).unwrap(),
    );
    let mut texts = Vec::new();
    check_env(&image, &host, |m| texts.push(m.text(8).to_string()));
    assert_eq!(texts, ["key 0x80000001: the host lacks word 1 bit 40"]);
}

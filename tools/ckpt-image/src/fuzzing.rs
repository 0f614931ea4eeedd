// SPDX-License-Identifier: GPL-2.0

//! Fuzz entry points, shared by the fuzz targets (`tools/fuzz`) and the corpus replay test, so
//! `make check` replays the corpus through exactly the code the fuzzer exercised.
//!
//! Each function must return normally on every input; any panic is a bug. They also assert
//! properties: whatever decodes re-encodes to the same bytes, and the checker's totals agree
//! with the mismatches it reports.

use crate::{check_env, Body, Decoder, Encoder, EnvVector, Record};

/// Read buffer for decoding: larger than any fuzz input, smaller than the biggest record, so
/// the "record exceeds buffer" path is reachable too.
const BUF_LEN: usize = 64 * 1024;

/// Decodes `data` as an image through the streaming decoder; on success re-encodes every
/// record and asserts the result is byte-identical.
#[allow(clippy::panic, clippy::indexing_slicing)] // asserting is the point of a fuzz target
pub fn fuzz_decode(data: &[u8]) {
    let mut buf = alloc::vec![0u8; BUF_LEN];
    let mut out = alloc::vec::Vec::with_capacity(data.len());
    let Ok(mut dec) = Decoder::new(data) else {
        return;
    };
    let header = *dec.header();
    let mut enc = match Encoder::new(&mut out, &header) {
        Ok(enc) => enc,
        Err(e) => panic!("decoded header does not re-encode: {e:?}"),
    };
    let mut skipped = false;
    let mut headers = alloc::vec::Vec::new();
    // Restart's file contents rules must decide any decodable image without panicking.
    let mut contents = crate::ContentsCheck::new();
    loop {
        match dec.next_record(&mut buf) {
            Ok(Some(record)) => {
                let _ = contents.next(record.header.id, &record.body);
                headers.push((record.offset, record.header));
                // Unknown records skipped without their payload cannot be re-encoded.
                skipped |= matches!(record.body, Body::Unknown(None));
                if let Err(e) = reencode(&mut enc, &record) {
                    panic!("decoded record does not re-encode: {e:?} {record:?}");
                }
            }
            Ok(None) => break,
            Err(_) => return,
        }
    }
    if dec.expect_end().is_err() || skipped {
        return;
    }
    // Everything decoded: the terminator re-encodes too, and the bytes are the input's.
    if let Err(e) = enc.finish() {
        panic!("decoded image does not re-encode its terminator: {e:?}");
    }
    assert_eq!(out.as_slice(), data, "re-encoded image differs");
    // A decoder passing over the data checks less: it takes the same image, record for record.
    let mut dec = match Decoder::new(data) {
        Ok(dec) => dec.skipping_data(),
        Err(e) => panic!("the header decoded once only: {e:?}"),
    };
    let mut at = 0;
    loop {
        match dec.next_record(&mut buf) {
            Ok(Some(record)) => {
                assert_eq!(headers.get(at), Some(&(record.offset, record.header)));
                let data_record = matches!(
                    record.header.rtype,
                    crate::RecordType::PAGES | crate::RecordType::FILE_DATA
                );
                assert_eq!(matches!(record.body, Body::Skipped { .. }), data_record);
                at = at.saturating_add(1);
            }
            Ok(None) => break,
            Err(e) => panic!("refused when skipping data: {e:?}"),
        }
    }
    assert_eq!(at, headers.len(), "records missed when skipping data");
}

/// Writes a decoded record again through the typed encoder API.
fn reencode(
    enc: &mut Encoder<&mut alloc::vec::Vec<u8>>,
    record: &Record<'_>,
) -> Result<(), crate::EncodeError<core::convert::Infallible>> {
    let id = record.header.id;
    match record.body {
        Body::EnvVector(v) => {
            enc.write_env_vector(id, |w| v.iter().try_for_each(|e| w.put_entry(&e)))
        }
        Body::TaskVector(tv) => enc.write_task_vector(id, tv.task, |w| {
            tv.entries.iter().try_for_each(|e| w.put_entry(&e))
        }),
        Body::Task(t) => enc.write_task(id, &t),
        Body::FileTable(ft) => {
            let entries: alloc::vec::Vec<_> = ft.iter().collect();
            enc.write_file_table(id, &entries)
        }
        Body::File(f) => {
            // The restart policy must decide any decodable file without panicking.
            let _ = crate::check_restorable(&f);
            enc.write_file(id, &f)
        }
        Body::Mm(m) => enc.write_mm(id, &m),
        Body::Vma(v) => enc.write_vma(id, &v),
        Body::Pages(p) => enc.write_pages(id, &p),
        Body::Regset(r) => enc.write_regset(id, &r),
        Body::Signals(s) => enc.write_signals(id, &s),
        Body::TaskState(t) => enc.write_task_state(id, &t),
        Body::FileData(d) => enc.write_file_data(id, &d),
        Body::Unknown(Some(payload)) => {
            enc.write_raw_record(record.header.rtype, record.header.flags, id, payload)
        }
        // Never met: this decoder reads every payload.
        Body::Unknown(None) | Body::Skipped { .. } | Body::Terminator(_) => Ok(()),
    }
}

/// Splits `data` into two bare environment payloads (the first two bytes, little-endian, say
/// where) and, if both parse, checks one against the other, asserting the totals match the
/// visits and that a vector satisfies itself.
#[allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn fuzz_check(data: &[u8]) {
    let Some((split, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*split)) % (rest.len() + 1);
    let (a, b) = rest.split_at(at);
    let (Ok(image), Ok(host)) = (EnvVector::parse(a), EnvVector::parse(b)) else {
        return;
    };
    let (mut critical, mut advisory) = (0u32, 0u32);
    let summary = check_env(&image, &host, |m| {
        if m.critical {
            critical += 1;
        } else {
            advisory += 1;
        }
        assert_eq!(m.image.key, m.key);
        if let Some(h) = m.host {
            assert_eq!(h.key, m.key);
        }
        // The bits a subset mismatch names are set in the image and clear on the host.
        let mut named = 0usize;
        for b in m.missing_bits() {
            let word = b.word as usize;
            let mask = 1u64 << b.bit;
            assert!(m.image.word(word) & mask != 0, "{b:?}");
            assert!(m.host.map_or(0, |h| h.word(word)) & mask == 0, "{b:?}");
            named += 1;
        }
        assert_eq!(named > 0, m.reason == crate::MismatchReason::NotSubset);
    });
    // The words for the mismatches: the counts they start with are the checker's.
    let scopes = [crate::Scope {
        label: "task",
        image,
    }];
    let report = crate::EnvReport::new(&scopes, host);
    assert_eq!(report.summary(), summary);
    let text = alloc::format!("{}", report.line(16));
    let lines = alloc::format!("{}", report.lines());
    if critical + advisory == 0 {
        assert!(text.is_empty() && lines.is_empty());
    } else {
        let head =
            alloc::format!("environment mismatch ({critical} critical, {advisory} advisory)");
        assert!(
            text.starts_with(&head) && lines.starts_with(&head),
            "{text}"
        );
    }
    assert_eq!((summary.critical, summary.advisory), (critical, advisory));
    assert!(summary.checked >= critical + advisory);
    // A vector always satisfies itself, except for rules and types nobody can decide.
    let itself = check_env(&image, &image, |m| {
        assert!(
            matches!(
                m.reason,
                crate::MismatchReason::UnknownRule | crate::MismatchReason::UnknownType
            ),
            "vector does not satisfy itself: {m:?}"
        );
    });
    assert_eq!(itself.critical + itself.advisory, undecidable(&image));
}

/// Entries of `v` a checker cannot decide even against themselves.
fn undecidable(v: &EnvVector<'_>) -> u32 {
    let mut n = 0u32;
    check_env(v, &EnvVector::empty(), |m| {
        let known_rule = m.rule.name().is_some();
        let numeric_rule = m.rule == crate::Rule::SUBSET || m.rule == crate::Rule::AT_MOST;
        if !known_rule || (numeric_rule && m.image.vtype.name().is_none()) {
            n = n.saturating_add(1);
        }
    });
    n
}

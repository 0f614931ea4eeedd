// SPDX-License-Identifier: GPL-2.0

//! MM, VMA and PAGES records: round trips, the rules the encoder and decoder both enforce,
//! and per-record page checksums that catch corruption before the terminator.

mod common;

use ckpt_image::*;
use common::{assemble, decode_error, process_image, sample_vmas};

/// Every record of an image, decoded: (header, owned payload).
fn records(image: &[u8]) -> Vec<(RecordHeader, Vec<u8>)> {
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = Decoder::new(image).unwrap();
    let mut out = Vec::new();
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        if r.header.rtype != RecordType::TERMINATOR {
            out.push((r.header, r.payload.to_vec()));
        }
    }
    dec.expect_end().unwrap();
    out
}

fn env_record() -> Vec<u8> {
    common::env_payload()
}

#[test]
fn process_image_round_trips() {
    let recs = records(&process_image());
    let mut vmas = Vec::new();
    let mut pages = Vec::new();
    let mut mm_seen = false;
    for (h, payload) in &recs {
        match parse_body(h, payload).unwrap() {
            Body::Mm(m) => {
                mm_seen = true;
                assert_eq!(m.exe_file, 10);
                assert_eq!(m.brk, 0x40_6000);
                assert_eq!(m.vdso_len, 0x2000);
                let auxv: Vec<_> = m.auxv().map(|e| (e.key, e.value)).collect();
                assert_eq!(
                    auxv,
                    [(6, 4096), (25, 0x7ffd_0000_1000), (33, 0x7ffd_f000_0000)]
                );
            }
            Body::Vma(v) => vmas.push(v),
            Body::Pages(p) => pages.push((p.vma, p.start, p.count(), p.data().to_vec())),
            _ => {}
        }
    }
    assert!(mm_seen);
    assert_eq!(vmas, sample_vmas());
    assert_eq!(pages.len(), 5);
    assert_eq!(pages[1].0, 32);
    assert_eq!(pages[1].2, 2);
    assert_eq!(&pages[1].3[..4096], &[0xaa; 4096][..]);
    assert_eq!(&pages[1].3[4096..], &[0x55; 4096][..]);
    // Which mappings the image holds pages of.
    let dumped: Vec<bool> = vmas.iter().map(Vma::is_dumped).collect();
    assert_eq!(dumped, [true, false, true, true, true, false, false]);
}

#[test]
fn memory_records_are_optional() {
    // Old readers (a v1 restart that restores a file table) skip them: flags are 0.
    for (h, _) in records(&process_image()) {
        if [RecordType::MM, RecordType::VMA, RecordType::PAGES].contains(&h.rtype) {
            assert_eq!(h.flags, 0, "{}", h.rtype);
            assert!(!h.is_critical());
        }
    }
    // And a known type with flags other than its defined ones is corruption.
    let vma = sample_vmas()[2];
    let mut payload = Vec::new();
    let mut enc = Encoder::new(&mut payload, &common::header()).unwrap();
    enc.write_env_vector(1, common::sample_env).unwrap();
    enc.write_vma(2, &vma).unwrap();
    let img = enc.finish().unwrap().clone();
    let recs = records(&img);
    let vma_payload = recs[1].1.clone();
    let env = env_record();
    let bad = assemble(&[(2, 1, 1, &env), (0x31, 1, 2, &vma_payload)]);
    assert_eq!(decode_error(&bad).kind, FormatErrorKind::BadRecordFlags(1));
    let good = assemble(&[(2, 1, 1, &env), (0x31, 0, 2, &vma_payload)]);
    common::decode_all(&good).unwrap();
}

#[test]
fn a_flipped_page_byte_fails_at_its_own_record() {
    let img = process_image();
    let at = img.windows(64).position(|w| w == [0x55; 64]).unwrap();
    let mut bad = img.clone();
    bad[at + 100] ^= 0x01;
    let e = decode_error(&bad);
    assert!(
        matches!(e.kind, FormatErrorKind::PageChecksumMismatch { .. }),
        "{e}"
    );
    assert_eq!(e.record.unwrap().rtype, RecordType::PAGES);
    assert_eq!(e.record.unwrap().id, 51);
    assert!(e.offset < at as u64, "reported at the record's crc field");
}

fn encode_err(
    f: impl FnOnce(&mut Encoder<Vec<u8>>) -> Result<(), EncodeError<std::convert::Infallible>>,
) -> FormatErrorKind {
    let mut enc = Encoder::new(Vec::new(), &common::header()).unwrap();
    enc.write_env_vector(1, common::sample_env).unwrap();
    enc.write_file(2, &common::file(b"/tmp/f", FileVariant::Regular))
        .unwrap();
    match f(&mut enc) {
        Err(EncodeError::Invalid(k)) => k,
        other => panic!("expected an invalid record, got {other:?}"),
    }
}

#[test]
fn encoder_refuses_bad_vmas() {
    let anon = sample_vmas()[2];
    let file = sample_vmas()[0];
    let cases = [
        (
            Vma {
                start: anon.end,
                ..anon
            },
            FormatErrorKind::BadRange,
        ),
        (
            Vma {
                start: anon.start + 1,
                ..anon
            },
            FormatErrorKind::BadRange,
        ),
        (Vma { prot: 8, ..anon }, FormatErrorKind::UnknownVmaFlags),
        (
            Vma {
                flags: 1 << 20,
                ..anon
            },
            FormatErrorKind::UnknownVmaFlags,
        ),
        (
            Vma {
                kind: VmaKind(9),
                ..anon
            },
            FormatErrorKind::UnknownVmaKind(9),
        ),
        (Vma { file: 2, ..anon }, FormatErrorKind::BadReference(2)),
        (Vma { file: 0, ..file }, FormatErrorKind::BadReference(0)),
        (Vma { file: 10, ..file }, FormatErrorKind::BadReference(10)),
        (
            Vma {
                offset: 0x800,
                file: 2,
                ..file
            },
            FormatErrorKind::BadRange,
        ),
        (
            Vma {
                flags: VMA_SHARED,
                ..anon
            },
            FormatErrorKind::UnknownVmaFlags,
        ),
    ];
    for (vma, kind) in cases {
        assert_eq!(encode_err(|e| e.write_vma(5, &vma)), kind, "{vma:?}");
    }
}

#[test]
fn encoder_refuses_bad_mm_and_pages() {
    let mm = Mm::new([0; 11], 0, (0, 0, 0), 0);
    let reversed = Mm::new([2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, (0, 0, 0), 0);
    assert_eq!(
        encode_err(|e| e.write_mm(5, &reversed)),
        FormatErrorKind::BadRange
    );
    let forward = Mm::new([0; 11], 7, (0, 0, 0), 0);
    assert_eq!(
        encode_err(|e| e.write_mm(5, &forward)),
        FormatErrorKind::BadReference(7)
    );
    let vdso = Mm::new([0; 11], 0, (0x1000, 0, 0), 0);
    assert_eq!(
        encode_err(|e| e.write_mm(5, &vdso)),
        FormatErrorKind::BadRange
    );
    let null = [0u8; 16];
    assert_eq!(
        encode_err(|e| e.write_mm(5, &mm.with_auxv(&null))),
        FormatErrorKind::BadAuxv
    );
    let big = vec![1u8; 16 * (AUXV_MAX as usize + 1)];
    assert_eq!(
        encode_err(|e| e.write_mm(5, &mm.with_auxv(&big))),
        FormatErrorKind::TooManyEntries
    );

    let page = vec![0u8; 8192];
    assert_eq!(
        encode_err(|e| e.write_pages(5, &Pages::new(2, 0x2000, 8192, &page))),
        FormatErrorKind::PageSizeMismatch(8192)
    );
    assert_eq!(
        encode_err(|e| e.write_pages(5, &Pages::new(7, 0x2000, 4096, &page))),
        FormatErrorKind::BadReference(7)
    );
    assert_eq!(
        encode_err(|e| e.write_pages(5, &Pages::new(2, 0x2800, 4096, &page))),
        FormatErrorKind::BadRange
    );
    assert_eq!(
        encode_err(|e| e.write_pages(5, &Pages::new(2, 0x2000, 4096, &[]))),
        FormatErrorKind::BadPageData
    );
    let mut p = Pages::new(2, 0x2000, 4096, &page);
    p.crc ^= 1;
    assert!(matches!(
        encode_err(|e| e.write_pages(5, &p)),
        FormatErrorKind::PageChecksumMismatch { .. }
    ));
}

#[test]
fn decoder_checks_alignment_against_the_header_page_size() {
    // A VMA aligned to 4 KiB but not to the image's 64 KiB pages.
    let mut header = common::header();
    header.page_size = 65536;
    let mut enc = Encoder::new(Vec::new(), &header).unwrap();
    enc.write_env_vector(1, common::sample_env).unwrap();
    let vma = Vma {
        start: 0x10000,
        end: 0x20000,
        ..sample_vmas()[2]
    };
    enc.write_vma(2, &vma).unwrap();
    let img = enc.finish().unwrap();
    common::decode_all(&img).unwrap();
    // Patch the end to 0x21000 and fix the checksum by reassembling: refused.
    let recs = records(&img);
    let mut payload = recs[1].1.clone();
    payload[8..16].copy_from_slice(&0x21000u64.to_le_bytes());
    let env = env_record();
    let mut bad = assemble(&[(2, 1, 1, &env), (0x31, 0, 2, &payload)]);
    bad[16..20].copy_from_slice(&65536u32.to_le_bytes());
    // The header changed, so rebuild the terminator checksum.
    let n = bad.len();
    let crc = Crc32c::new().update(&bad[..n - 4]).value();
    bad[n - 4..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(decode_error(&bad).kind, FormatErrorKind::BadRange);
}

#[test]
fn truncated_memory_payloads_are_refused() {
    let recs = records(&process_image());
    let env = env_record();
    for (h, payload) in &recs {
        if ![RecordType::MM, RecordType::VMA, RecordType::PAGES].contains(&h.rtype) {
            continue;
        }
        for cut in [1usize, 4, 17] {
            if cut > payload.len() {
                continue;
            }
            let short = &payload[..payload.len() - cut];
            // Ids: references in the records name 10, 11, 30..; use a high own id.
            let img = assemble(&[(2, 1, 1, &env), (h.rtype.0, 0, 1000, short)]);
            assert!(common::decode_all(&img).is_err(), "{} cut {cut}", h.rtype);
        }
    }
}

#[test]
fn regsets_have_the_lengths_of_their_notes() {
    let regs = vec![0u8; X86_64_PRSTATUS_LEN as usize];
    let short = vec![0u8; X86_64_PRSTATUS_LEN as usize - 8];
    let xsave = vec![0u8; 576];
    let odd = vec![0u8; 600];
    let ok = |note, data: &[u8]| {
        let mut enc = Encoder::new(Vec::new(), &common::header()).unwrap();
        enc.write_env_vector(1, common::sample_env).unwrap();
        enc.write_regset(2, &Regset { note, data }).map(drop)
    };
    ok(NT_PRSTATUS, &regs).unwrap();
    ok(NT_X86_XSTATE, &xsave).unwrap();
    ok(0x4711, &short).unwrap(); // unknown notes are only bounded
    for (note, data) in [
        (NT_PRSTATUS, &short),
        (NT_X86_XSTATE, &odd),
        (NT_X86_XSTATE, &regs),
    ] {
        assert_eq!(
            ok(note, data),
            Err(EncodeError::Invalid(FormatErrorKind::BadRegset)),
            "{note:#x} {}",
            data.len()
        );
    }
    // The decoder checks the same against the header's architecture.
    let env = env_record();
    let mut payload = NT_PRSTATUS.to_le_bytes().to_vec();
    payload.extend_from_slice(&(short.len() as u32).to_le_bytes());
    payload.extend_from_slice(&short);
    let bad = assemble(&[(2, 1, 1, &env), (0x11, 0, 2, &payload)]);
    assert_eq!(decode_error(&bad).kind, FormatErrorKind::BadRegset);
    // The sample image's xstate says which components are in use.
    let recs = records(&process_image());
    let x = recs
        .iter()
        .find_map(|(h, p)| match parse_body(h, p).unwrap() {
            Body::Regset(r) if r.note == NT_X86_XSTATE => r.xstate_bv(),
            _ => None,
        });
    assert_eq!(x, Some(7));
}

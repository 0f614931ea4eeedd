// SPDX-License-Identifier: GPL-2.0

//! The decoder refuses every malformed image with the right error, and the encoder refuses to
//! write one.

mod common;

use ckpt_image::*;
use common::*;

#[test]
fn crc32c_check_value() {
    assert_eq!(Crc32c::new().update(b"123456789").value(), 0xE306_9283);
}

#[test]
fn sample_images_decode() {
    assert_eq!(decode_all(&minimal_image()).unwrap().len(), 3);
    let full = decode_all(&full_image()).unwrap();
    // header, env, 5 files, table, task, task vector, unknown, task, task vector, terminator
    assert_eq!(full.len(), 14);
    assert!(full.iter().any(|r| r.contains("Unknown(Some([102, 117")));
}

#[test]
fn every_truncation_is_detected() {
    let img = full_image();
    for len in 0..img.len() {
        let e = decode_error(&img[..len]);
        assert!(
            matches!(e.kind, FormatErrorKind::Truncated),
            "prefix of {len} bytes gave {e}"
        );
    }
}

#[test]
fn every_byte_flip_is_detected() {
    let img = full_image();
    for at in 0..img.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = img.clone();
            bad[at] ^= mask;
            assert!(
                decode_all(&bad).is_err(),
                "flip {mask:#x} at {at} not detected"
            );
        }
    }
}

#[test]
fn checksum_mismatch_is_reported_as_such() {
    let mut img = minimal_image();
    // A byte inside an env value: the structure stays valid, only the checksum can tell.
    let at = img.len() - 40;
    img[at] ^= 0x10;
    let e = decode_error(&img);
    assert!(
        matches!(e.kind, FormatErrorKind::ChecksumMismatch { .. }),
        "{e}"
    );
}

#[test]
fn trailing_data_is_refused() {
    let mut img = minimal_image();
    img.push(0);
    assert_eq!(decode_error(&img).kind, FormatErrorKind::TrailingData);
}

#[test]
fn bad_magic_and_version() {
    let mut img = minimal_image();
    img[0] = b'X';
    assert_eq!(decode_error(&img).kind, FormatErrorKind::BadMagic);
    let mut img = minimal_image();
    patch_u32(&mut img, 8, 2);
    let e = decode_error(&img);
    assert_eq!(
        (e.kind, e.offset),
        (FormatErrorKind::UnsupportedVersion(2), 8)
    );
}

#[test]
fn unknown_optional_record_is_skipped_even_if_larger_than_buffer() {
    let env = env_payload();
    let big = vec![7u8; 5000];
    let img = assemble(&[(2, 1, 1, &env), (0x7001, 0, 2, &big)]);
    let mut buf = vec![0u8; 1024];
    let mut dec = Decoder::new(img.as_slice()).unwrap();
    assert!(matches!(
        dec.next_record(&mut buf).unwrap().unwrap().body,
        Body::EnvVector(_)
    ));
    let r = dec.next_record(&mut buf).unwrap().unwrap();
    assert_eq!(r.body, Body::Unknown(None));
    assert!(matches!(
        dec.next_record(&mut buf).unwrap().unwrap().body,
        Body::Terminator(_)
    ));
    assert!(dec.next_record(&mut buf).unwrap().is_none());
    dec.expect_end().unwrap();
}

#[test]
fn unknown_critical_record_is_refused() {
    let env = env_payload();
    let img = assemble(&[(2, 1, 1, &env), (0x7001, RECORD_FLAG_CRITICAL, 2, b"x")]);
    let e = decode_error(&img);
    assert_eq!(e.kind, FormatErrorKind::UnknownCriticalRecord(0x7001));
    assert_eq!(e.record.unwrap().id, 2);
}

#[test]
fn known_record_larger_than_buffer_is_refused() {
    let img = minimal_image();
    let mut buf = [0u8; 16];
    let mut dec = Decoder::new(img.as_slice()).unwrap();
    match dec.next_record(&mut buf) {
        Err(DecodeError::Format(e)) => {
            assert!(matches!(e.kind, FormatErrorKind::RecordExceedsBuffer(_)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ordering_rules_are_enforced_by_the_decoder() {
    let env = env_payload();
    let opt: &[u8] = b"";
    let cases: Vec<(Vec<RawRecord<'_>>, FormatErrorKind)> = vec![
        (vec![], FormatErrorKind::EnvVectorMissing),
        (vec![(0x7001, 0, 1, opt)], FormatErrorKind::EnvVectorMissing),
        (
            vec![(2, 1, 1, &env), (2, 1, 2, &env)],
            FormatErrorKind::EnvVectorDuplicate,
        ),
        (vec![(2, 1, 0, &env)], FormatErrorKind::IdNotIncreasing(0)),
        (
            vec![(2, 1, 5, &env), (0x7001, 0, 5, opt)],
            FormatErrorKind::IdNotIncreasing(5),
        ),
    ];
    for (records, kind) in cases {
        assert_eq!(decode_error(&assemble(&records)).kind, kind);
    }
}

#[test]
fn task_vector_must_follow_its_task() {
    let env = env_payload();
    let mut task_bytes = Vec::new();
    {
        let mut enc = Encoder::new(&mut task_bytes, &header()).unwrap();
        enc.write_env_vector(1, |_| Ok(())).unwrap();
        enc.write_task(2, &task(5, 0)).unwrap();
    }
    let task_payload = task_bytes[HEADER_LEN + 24 + RECORD_HEADER_LEN..].to_vec();
    let mut tv = 2u64.to_le_bytes().to_vec();
    tv.extend_from_slice(&[0; 8]);
    let ok = assemble(&[(2, 1, 1, &env), (0x10, 1, 2, &task_payload), (3, 1, 3, &tv)]);
    decode_all(&ok).unwrap();
    let orphan = assemble(&[
        (2, 1, 1, &env),
        (0x10, 1, 2, &task_payload),
        (0x7001, 0, 3, b""),
        (3, 1, 4, &tv),
    ]);
    assert_eq!(
        decode_error(&orphan).kind,
        FormatErrorKind::TaskVectorOrphan(2)
    );
}

#[test]
fn references_must_point_backwards() {
    let env = env_payload();
    let mut table = Vec::new();
    table.extend_from_slice(&1u32.to_le_bytes());
    table.extend_from_slice(&0u32.to_le_bytes());
    table.extend_from_slice(&0u32.to_le_bytes());
    table.extend_from_slice(&0u32.to_le_bytes());
    table.extend_from_slice(&9u64.to_le_bytes());
    let img = assemble(&[(2, 1, 1, &env), (0x20, 1, 5, &table)]);
    let e = decode_error(&img);
    assert_eq!(e.kind, FormatErrorKind::BadReference(9));
    // Header 304, env record, then the table's header (16) and its first entry's file id.
    assert_eq!(e.offset as usize, img.len() - 36 - 8);
}

#[test]
fn encoder_refuses_invalid_records_and_stays_usable() {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    assert_eq!(
        enc.write_task(1, &task(1, 0)),
        Err(EncodeError::Invalid(FormatErrorKind::EnvVectorMissing))
    );
    enc.write_env_vector(1, sample_env).unwrap();
    let mut bad = task(1, 0);
    bad.comm = [b'x'; COMM_LEN];
    assert_eq!(
        enc.write_task(2, &bad),
        Err(EncodeError::Invalid(FormatErrorKind::BadFixedString))
    );
    assert_eq!(
        enc.write_task(2, &task(1, 2)),
        Err(EncodeError::Invalid(FormatErrorKind::BadReference(2)))
    );
    let long_path = vec![b'a'; PATH_MAX + 1];
    let mut t = task(1, 0);
    t.cwd = &long_path;
    assert_eq!(
        enc.write_task(2, &t),
        Err(EncodeError::Invalid(FormatErrorKind::PathTooLong))
    );
    assert_eq!(
        enc.write_task_vector(2, 1, |_| Ok(())),
        Err(EncodeError::Invalid(FormatErrorKind::TaskVectorOrphan(1)))
    );
    let dup = [
        FdEntry {
            fd: 1,
            flags: 0,
            file: 1,
        },
        FdEntry {
            fd: 1,
            flags: 0,
            file: 1,
        },
    ];
    assert_eq!(
        enc.write_file_table(2, &dup),
        Err(EncodeError::Invalid(FormatErrorKind::FdNotIncreasing(1)))
    );
    let unsorted = |w: &mut EnvWriter<'_>| {
        w.put(2, Rule::EQUAL, 0, EnvValue::U32(1))?;
        w.put(1, Rule::EQUAL, 0, EnvValue::U32(1))
    };
    assert_eq!(
        enc.write_task(2, &task(1, 0))
            .and_then(|()| enc.write_task_vector(3, 2, unsorted)),
        Err(EncodeError::Invalid(FormatErrorKind::EnvKeyNotIncreasing(
            1
        )))
    );
    let subset_of_string = |w: &mut EnvWriter<'_>| w.put(1, Rule::SUBSET, 0, EnvValue::Str(b"x"));
    assert_eq!(
        enc.write_task_vector(3, 2, subset_of_string),
        Err(EncodeError::Invalid(FormatErrorKind::EnvRuleMismatch(1)))
    );
    assert_eq!(
        enc.write_task(2, &task(1, 0)),
        Err(EncodeError::Invalid(FormatErrorKind::IdNotIncreasing(2)))
    );
    let img = enc.finish().unwrap();
    assert_eq!(decode_all(&img).unwrap().len(), 4); // header, env, task, terminator
}

#[test]
fn nondeterministic_builder_is_caught() {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    let mut calls = 0;
    let r = enc.write_env_vector(1, |w| {
        calls += 1;
        w.put(1, Rule::EQUAL, 0, EnvValue::U32(calls))?;
        if calls > 1 {
            w.put(2, Rule::EQUAL, 0, EnvValue::U32(calls))?;
        }
        Ok(())
    });
    assert_eq!(r, Err(EncodeError::Inconsistent));
    assert_eq!(
        enc.write_env_vector(2, sample_env),
        Err(EncodeError::Poisoned)
    );
}

#[test]
fn sink_errors_are_returned_and_poison_the_encoder() {
    let mut buf = [0u8; HEADER_LEN + 20];
    let mut enc = Encoder::new(SliceSink::new(&mut buf), &header()).unwrap();
    assert_eq!(
        enc.write_env_vector(1, sample_env),
        Err(EncodeError::Sink(SliceFull))
    );
    assert_eq!(
        enc.write_env_vector(2, sample_env),
        Err(EncodeError::Poisoned)
    );
    assert!(matches!(enc.finish(), Err(EncodeError::Poisoned)));
}

#[test]
fn builder_abort_is_reported() {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    assert_eq!(
        enc.write_env_vector(1, |_| Err(EnvStop)),
        Err(EncodeError::Aborted)
    );
    enc.write_env_vector(1, sample_env).unwrap();
}

#[test]
fn bare_env_payload_round_trips_and_measures() {
    let payload = env_payload();
    let (count, len) = measure_env_payload(sample_env).unwrap();
    assert_eq!(len, payload.len());
    let v = EnvVector::parse(&payload).unwrap();
    assert_eq!(v.len(), count);
    assert_eq!(v.get(keys::CPU_VENDOR).unwrap().value, b"GenuineIntel");
    let mut small = [0u8; 10];
    assert_eq!(
        encode_env_payload(SliceSink::new(&mut small), sample_env),
        Err(EncodeError::Sink(SliceFull))
    );
}

#[test]
fn header_validation() {
    let mut h = header();
    h.page_size = 3000;
    assert!(Encoder::new(Vec::new(), &h).is_err());
    let mut h = header();
    h.flags = 1;
    assert_eq!(
        Encoder::new(Vec::new(), &h).err(),
        Some(EncodeError::Invalid(FormatErrorKind::UnknownHeaderFlags(1)))
    );
    let mut img = minimal_image();
    img[40 + 64] = b'x'; // sysname's last byte: no NUL left
    assert_eq!(decode_error(&img).kind, FormatErrorKind::BadFixedString);
    assert!(Utsname::new(&[b'a'; 65], b"", b"", b"").is_err());
}

#[test]
fn encoded_len_matches_output() {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    enc.write_env_vector(1, sample_env).unwrap();
    let mut id = 2;
    for f in sample_files() {
        let before = enc.bytes_written();
        enc.write_file(id, &f).unwrap();
        assert_eq!((enc.bytes_written() - before) as usize, f.encoded_len());
        id += 1;
    }
    let t = task(1, 0);
    let before = enc.bytes_written();
    enc.write_task(id, &t).unwrap();
    assert_eq!((enc.bytes_written() - before) as usize, t.encoded_len());
    let img = enc.finish().unwrap();
    assert_eq!(
        img.len() as u64,
        decode_all(&img).map(|_| img.len() as u64).unwrap()
    );
}

/// The slicing-by-8 checksum equals the bytewise definition for every length and alignment
/// and any split of the input.
#[test]
fn crc32c_slicing_matches_bytewise() {
    let bytewise = |d: &[u8]| !crc32c_bitwise(!0, d);
    let data: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..9 {
        for end in start..data.len() {
            let d = &data[start..end];
            assert_eq!(
                Crc32c::new().update(d).value(),
                bytewise(d),
                "{start}..{end}"
            );
            let mid = d.len() / 3;
            let split = Crc32c::new().update(&d[..mid]).update(&d[mid..]).value();
            assert_eq!(split, bytewise(d), "split {start}..{end}");
        }
    }
}

/// CRC-32C by its definition, a bit at a time: an implementation independent of the codec's
/// tables, standing in for the kernel's `crc32c()` (no initial or final inversion).
fn crc32c_bitwise(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An encoder whose sink names another CRC-32C implementation writes the same bytes, and
/// really uses it: with a wrong one, the decoder (tables) refuses the running checksum and the
/// page checksums; a source naming a wrong one refuses a good image.
#[test]
fn crc32c_engine_of_sink_and_source() {
    let reference = process_image();
    assert_eq!(process_image_with(crc32c_bitwise), reference);
    fn wrong(crc: u32, data: &[u8]) -> u32 {
        crc32c_tables(crc, data) ^ u32::from(!data.is_empty())
    }
    let bad = process_image_with(wrong);
    assert_eq!(bad.len(), reference.len());
    assert!(matches!(
        decode_error(&bad).kind,
        FormatErrorKind::PageChecksumMismatch { .. } | FormatErrorKind::ChecksumMismatch { .. }
    ));
    struct WrongSource<'a>(&'a [u8]);
    impl Source for WrongSource<'_> {
        type Error = std::convert::Infallible;
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            self.0.read(buf)
        }
        fn crc32c(&self) -> Crc32cFn {
            wrong
        }
    }
    // The first error decoding `image` through a source naming the wrong engine.
    fn first_error(image: &[u8]) -> DecodeError<std::convert::Infallible> {
        let mut dec = Decoder::new(WrongSource(image)).unwrap();
        let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
        loop {
            match dec.next_record(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a wrong checksum implementation went unnoticed"),
                Err(e) => break e,
            }
        }
    }
    let err = first_error(&reference);
    // The first PAGES record is refused by its own checksum, which the source's engine
    // computed (the tables would have passed it).
    assert!(
        matches!(err, DecodeError::Format(ref f) if matches!(f.kind, FormatErrorKind::PageChecksumMismatch { .. })),
        "{err:?}"
    );
    // An image without pages: the running checksum, with the source's engine, refuses it.
    let err = first_error(&minimal_image());
    assert!(
        matches!(err, DecodeError::Format(ref f) if matches!(f.kind, FormatErrorKind::ChecksumMismatch { .. })),
        "{err:?}"
    );
    // Every PAGES record of the image with the bitwise engine checks with the tables.
    assert_eq!(
        decode_all(&process_image_with(crc32c_bitwise)).unwrap(),
        decode_all(&reference).unwrap()
    );
}

/// `crc32c_shift` is the register after that many zero bytes; `Crc32c::append` of a run's own
/// register equals feeding the run, for every split; shifts compose for lengths no buffer
/// could hold.
#[test]
fn crc32c_shift_and_append() {
    let zeros = vec![0u8; 600];
    for state in [0u32, 1, 0x8000_0000, 0xFFFF_FFFF, 0x1234_5678] {
        for n in 0..zeros.len() {
            assert_eq!(
                crc32c_shift(state, n as u64),
                crc32c_bitwise(state, &zeros[..n]),
                "state {state:#x}, {n} zero bytes"
            );
        }
    }
    let data: Vec<u8> = (0..700u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    for split in (0..data.len()).step_by(7) {
        let (a, b) = data.split_at(split);
        let whole = Crc32c::new().update(&data).value();
        let appended = Crc32c::new()
            .update(a)
            .append(crc32c_bitwise(0, b), b.len() as u64)
            .value();
        assert_eq!(appended, whole, "split at {split}");
    }
    let (a, b) = (3u64 << 40, (1u64 << 62) + 12345);
    for state in [1u32, 0xDEAD_BEEF] {
        assert_eq!(
            crc32c_shift(crc32c_shift(state, a), b),
            crc32c_shift(state, a + b)
        );
        // Shifting is invertible (x is a unit modulo the polynomial): nothing collapses to 0.
        assert_ne!(crc32c_shift(state, u64::MAX), 0);
    }
}

/// The records of `image` as (offset, type, id, skipped), decoded by a decoder that reads
/// every payload, or one [skipping data](Decoder::skipping_data) through `src`.
fn skeleton<S: Source>(src: S, skipping: bool) -> Result<Vec<(u64, u16, u64, bool)>, String>
where
    S::Error: std::fmt::Debug,
{
    let mut dec = Decoder::new(src).map_err(|e| format!("{e:?}"))?;
    if skipping {
        dec = dec.skipping_data();
    }
    let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
    let mut out = Vec::new();
    while let Some(r) = dec.next_record(&mut buf).map_err(|e| format!("{e:?}"))? {
        let skipped =
            matches!(r.body, Body::Skipped { len } if len == r.header.payload_len() as u64);
        out.push((r.offset, r.header.rtype.0, r.header.id, skipped));
    }
    assert_eq!(dec.data_skipped(), skipping && out.iter().any(|r| r.3));
    Ok(out)
}

/// A source that cannot skip: the decoder reads the data it passes over.
struct NoSkip<'a>(&'a [u8]);
impl Source for NoSkip<'_> {
    type Error = std::convert::Infallible;
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf)
    }
}

/// A decoder skipping data passes over the payload of every PAGES and FILE_DATA record and
/// of no other, whether the source skips or is read; it takes an image whose data is corrupt
/// (the kernel, reading it, refuses it), refuses an image cut inside the data, and still
/// verifies the running checksum of an image that has no data.
#[test]
fn skipping_data_passes_over_pages_and_file_contents() {
    let mut enc = Encoder::new(Vec::new(), &header()).unwrap();
    enc.write_env_vector(1, sample_env).unwrap();
    let contents = b"unlinked contents";
    let variant = FileVariant::Unlinked {
        data_len: contents.len() as u64,
    };
    enc.write_file(10, &file(b"/tmp/gone", variant)).unwrap();
    let run = FileData {
        file: 10,
        offset: 0,
        data: contents,
    };
    enc.write_file_data(11, &run).unwrap();
    let with_contents = enc.finish().unwrap();

    for image in [process_image(), with_contents] {
        let full = skeleton(image.as_slice(), false).unwrap();
        let skipping = skeleton(image.as_slice(), true).unwrap();
        assert_eq!(skipping, skeleton(NoSkip(&image), true).unwrap());
        let data = [RecordType::PAGES.0, RecordType::FILE_DATA.0];
        assert!(skipping.iter().any(|r| r.3), "no data record in the sample");
        for (f, s) in full.iter().zip(&skipping) {
            assert_eq!((f.0, f.1, f.2), (s.0, s.1, s.2));
            assert_eq!(s.3, data.contains(&s.1), "{s:?}");
        }
        assert_eq!(full.len(), skipping.len());

        // The last byte of the first data record's payload flipped.
        let (at, rtype, id, _) = *skipping.iter().find(|r| r.3).unwrap();
        let next = skipping.iter().find(|r| r.0 > at).unwrap().0 as usize;
        let mut bad = image.clone();
        bad[next - 1] ^= 0x40;
        let refused = skeleton(bad.as_slice(), false).unwrap_err();
        assert!(refused.contains("ChecksumMismatch"), "{refused}");
        assert_eq!(skeleton(bad.as_slice(), true).unwrap(), skipping);

        // Cut inside that data: truncated, found by both ways of passing over it.
        let cut = &image[..next - 1];
        for refused in [
            skeleton(cut, true).unwrap_err(),
            skeleton(NoSkip(cut), true).unwrap_err(),
        ] {
            assert!(refused.contains("Truncated"), "{rtype:#x} {id}: {refused}");
        }
    }

    // Nothing to skip: the checksum is verified as ever.
    let mut plain = minimal_image();
    let last = plain.len() - 1;
    plain[last] ^= 1;
    let refused = skeleton(plain.as_slice(), true).unwrap_err();
    assert!(refused.contains("ChecksumMismatch"), "{refused}");
}

// SPDX-License-Identifier: GPL-2.0

//! An oracle independent of the codec: the image format as `Documentation/image-format.rst`
//! states it, written from that document alone (no type, constant or function of `ckpt_image`
//! is used to build or read bytes here). It ties the golden vectors to the document, so a
//! change that the codec and its own golden vectors would agree on, but the document does not
//! describe, fails:
//!
//! - `minimal.img` is written here byte by byte from the document's tables and the sample
//!   values (`common/mod.rs`), with a bitwise CRC-32C, and must equal the pinned file;
//! - a small decoder walks every golden vector and checks every rule the document lists;
//! - the codec's decoder must see the same records (offsets, types, ids, lengths) in them.

mod common;

use std::path::PathBuf;

fn testdata(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// CRC-32C, bit by bit: reflected polynomial 0x82F63B78, initial value and final xor
/// 0xFFFFFFFF ("Terminator").
fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

// ---- writing, from the tables of the document ----

/// The 304-byte header ("Header").
#[allow(clippy::too_many_arguments)]
fn header(arch: u16, page: u32, flags: u32, sec: i64, nsec: u32, uts: [&[u8]; 4]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"LinuxC/R"); // 0: magic
    h.extend_from_slice(&1u32.to_le_bytes()); // 8: version
    h.extend_from_slice(&arch.to_le_bytes()); // 12: arch
    h.extend_from_slice(&[0, 0]); // 14: reserved
    h.extend_from_slice(&page.to_le_bytes()); // 16: page_size
    h.extend_from_slice(&flags.to_le_bytes()); // 20: flags
    h.extend_from_slice(&sec.to_le_bytes()); // 24: created_sec
    h.extend_from_slice(&nsec.to_le_bytes()); // 32: created_nsec
    h.extend_from_slice(&[0; 4]); // 36: reserved
    for s in uts {
        // 40, 105, 170, 235: utsname fields, NUL-terminated and NUL-padded to 65
        let mut f = [0u8; 65];
        f[..s.len()].copy_from_slice(s);
        h.extend_from_slice(&f);
    }
    h.extend_from_slice(&[0; 4]); // 300: reserved
    assert_eq!(h.len(), 304);
    h
}

/// A record: the 16-byte record header ("Records"), then the payload.
fn record(out: &mut Vec<u8>, rtype: u16, flags: u16, id: u64, payload: &[u8]) {
    out.extend_from_slice(&rtype.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(16 + payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Value types and rules ("Environment vector"), and the CRITICAL flag.
const U32: u8 = 1;
const U64: u8 = 2;
const BYTES: u8 = 3;
const STRING: u8 = 4;
const BITMAP32: u8 = 5;
const INFO: u8 = 0;
const EQUAL: u8 = 1;
const SUBSET: u8 = 2;
const AT_MOST: u8 = 3;
const CRIT: u16 = 1;

/// A vector payload: count, reserved, entries (key, type, rule, flags, len, value).
fn vector(entries: &[(u32, u8, u8, u16, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    for (key, ty, rule, flags, value) in entries {
        v.extend_from_slice(&key.to_le_bytes());
        v.push(*ty);
        v.push(*rule);
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
    }
    v
}

/// The terminator ("Terminator"): type 1, flags 1, len 36, id 0; count, length, CRC-32C of
/// everything before the checksum field.
fn terminate(mut img: Vec<u8>, records: u64) -> Vec<u8> {
    let before = img.len() as u64;
    img.extend_from_slice(&1u16.to_le_bytes());
    img.extend_from_slice(&1u16.to_le_bytes());
    img.extend_from_slice(&36u32.to_le_bytes());
    img.extend_from_slice(&0u64.to_le_bytes());
    img.extend_from_slice(&records.to_le_bytes());
    img.extend_from_slice(&before.to_le_bytes());
    let crc = crc32c(&img);
    img.extend_from_slice(&crc.to_le_bytes());
    img
}

/// The sample environment (`common::sample_env`), entry by entry with the registry's keys.
fn sample_env_by_hand() -> Vec<u8> {
    let u32v = |v: u32| v.to_le_bytes().to_vec();
    let caps: Vec<u8> = [0x178b_fbffu32, 0x7ed8_320b, 0x2c10_0800, 0x0000_0121]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    vector(&[
        (0x0000_0001, U32, EQUAL, CRIT, u32v(1)),    // arch
        (0x0000_0002, U32, EQUAL, CRIT, u32v(4096)), // page_size
        (0x0000_0003, STRING, INFO, 0, b"6.12.0-ckpt".into()), // kernel_release
        (0x0000_0010, BYTES, EQUAL, 0, vec![0xde, 0xad, 0xbe, 0xef]), // kconfig_digest
        (0x0000_0011, BITMAP32, SUBSET, CRIT, u32v(0b011)), // user_abis
        (0x0000_0012, U32, EQUAL, CRIT, u32v(1)),    // vdso_mode
        (0x0001_0001, STRING, EQUAL, CRIT, b"GenuineIntel".into()), // cpu_vendor
        (0x0001_0002, U32, EQUAL, 0, u32v(6)),       // cpu_family
        (0x0001_0003, U32, EQUAL, 0, u32v(0x8c)),    // cpu_model
        (0x0001_0004, U32, INFO, 0, u32v(1)),        // cpu_stepping
        (0x0001_0010, BITMAP32, SUBSET, CRIT, caps), // x86_capability
        (
            0x0001_0011,
            U64,
            SUBSET,
            CRIT,
            0x2e7u64.to_le_bytes().into(),
        ), // xsave_features
        (0x0001_0012, U32, AT_MOST, CRIT, u32v(2696)), // xsave_size
        (0x0002_0001, U32, SUBSET, CRIT, u32v(1)),   // config_ia32_emulation
        (0x0003_0003, U32, EQUAL, CRIT, u32v(1)),    // boot_vsyscall
        (0x8000_0001, U64, AT_MOST, 0, 3u64.to_le_bytes().into()), // private
    ])
}

#[test]
fn minimal_image_is_what_the_document_says() {
    let mut img = header(
        1,
        4096,
        1 << 16, // SYNTHETIC
        1_700_000_000,
        123_456_789,
        [
            b"Linux",
            b"6.12.0-ckpt",
            b"#1 SMP PREEMPT_DYNAMIC",
            b"x86_64",
        ],
    );
    record(&mut img, 0x0002, 1, 1, &sample_env_by_hand());
    let img = terminate(img, 1);
    let pinned = testdata("minimal.img");
    let first = img.iter().zip(&pinned).position(|(a, b)| a != b);
    assert!(
        img == pinned,
        "minimal.img differs from the document (first difference at {first:?}, lengths {} \
         and {})",
        img.len(),
        pinned.len()
    );
    // and the codec's encoder writes the same bytes
    assert_eq!(common::minimal_image(), img);
}

// ---- reading: every rule of the document ----

/// What the oracle saw of one record.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    offset: usize,
    rtype: u16,
    id: u64,
    len: u32,
}

/// Why the oracle refuses an image.
#[derive(Debug, PartialEq)]
enum Bad {
    Incomplete,
    Checksum,
    Rule(String),
}

struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cur<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Bad> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or_else(|| Bad::Rule(format!("field past the record end at +{}", self.at)))?;
        self.at += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, Bad> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, Bad> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, Bad> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn path(&mut self) -> Result<Vec<u8>, Bad> {
        let n = self.u16()? as usize;
        let p = self.take(n)?.to_vec();
        rule(
            n <= 4096 && !p.contains(&0),
            "path: over PATH_MAX or with a NUL",
        )?;
        Ok(p)
    }
    fn done(&self) -> Result<(), Bad> {
        rule(self.at == self.b.len(), "bytes left over in a record")
    }
}

fn rule(ok: bool, what: &str) -> Result<(), Bad> {
    if ok {
        Ok(())
    } else {
        Err(Bad::Rule(what.into()))
    }
}

/// A vector payload ("Environment vector"): count <= 4096, reserved 0, keys strictly
/// increasing and not 0, values <= 4096 bytes, lengths fitting their type.
fn check_vector(c: &mut Cur<'_>) -> Result<u32, Bad> {
    let count = c.u32()?;
    rule(count <= 4096, "more than 4096 entries")?;
    rule(c.u32()? == 0, "vector reserved not 0")?;
    let mut last = 0;
    for _ in 0..count {
        let key = c.u32()?;
        let (ty, rule_) = (c.take(1)?[0], c.take(1)?[0]);
        let _flags = c.u16()?;
        let len = c.u32()?;
        rule(key > last, "env keys not strictly increasing (or 0)")?;
        rule(len <= 4096, "env value over 4096 bytes")?;
        match ty {
            1 => rule(len == 4, "u32 of another length")?,
            2 => rule(len == 8, "u64 of another length")?,
            5 => rule(len % 4 == 0, "bitmap32 length")?,
            6 => rule(len % 8 == 0, "bitmap64 length")?,
            _ => {}
        }
        if matches!(ty, 3 | 4) {
            rule(
                matches!(rule_, 0 | 1),
                "subset/at_most of bytes or a string",
            )?;
        }
        c.take(len as usize)?;
        last = key;
    }
    Ok(count)
}

/// Decodes `img` by the document; the records it saw, or why it refuses.
fn spec_decode(img: &[u8]) -> Result<Vec<Seen>, Bad> {
    if img.len() < 304 {
        return Err(Bad::Incomplete);
    }
    let mut h = Cur {
        b: &img[..304],
        at: 0,
    };
    rule(h.take(8)? == b"LinuxC/R", "magic")?;
    rule(h.u32()? == 1, "version")?;
    let _arch = h.u16()?;
    rule(h.u16()? == 0, "header reserved at 14")?;
    let page = h.u32()?;
    rule(
        page.is_power_of_two() && (4096..=1 << 20).contains(&page),
        "page size",
    )?;
    rule(h.u32()? & 0xffff == 0, "a must-understand header flag")?;
    let _sec = h.u64()?;
    rule(h.u32()? < 1_000_000_000, "created_nsec")?;
    rule(h.u32()? == 0, "header reserved at 36")?;
    for _ in 0..4 {
        let f = h.take(65)?;
        let nul = f.iter().position(|&b| b == 0);
        rule(
            nul.is_some_and(|n| f[n..].iter().all(|&b| b == 0)),
            "utsname not NUL-terminated and NUL-padded",
        )?;
    }
    rule(h.u32()? == 0, "header reserved at 300")?;

    let mut seen: Vec<Seen> = Vec::new();
    let mut files = Vec::new();
    let mut prev_type = 0u16;
    let mut at = 304;
    loop {
        let Some(rh) = img.get(at..at + 16) else {
            return Err(Bad::Incomplete);
        };
        let mut c = Cur { b: rh, at: 0 };
        let (rtype, flags, len, id) = (c.u16()?, c.u16()?, c.u32()?, c.u64()?);
        rule((16..=1 << 24).contains(&len), "record length")?;
        let Some(payload) = img.get(at + 16..at + len as usize) else {
            return Err(Bad::Incomplete);
        };
        if rtype == 0x0001 {
            rule(flags == 1 && len == 36 && id == 0, "terminator header")?;
            let mut t = Cur { b: payload, at: 0 };
            let (count, image_len, sum) = (t.u64()?, t.u64()?, t.u32()?);
            rule(count == seen.len() as u64, "terminator record_count")?;
            rule(image_len == at as u64, "terminator image_len")?;
            if sum != crc32c(&img[..at + 32]) {
                return Err(Bad::Checksum);
            }
            rule(img.len() == at + 36, "bytes after the terminator")?;
            return Ok(seen);
        }
        let known = matches!(rtype, 0x0002 | 0x0003 | 0x0010 | 0x0020 | 0x0021 | 0x0023);
        let optional = matches!(rtype, 0x0012 | 0x0013);
        if known {
            rule(flags == 1, "a v1 record's flags must be exactly CRITICAL")?;
        } else if optional {
            rule(flags == 0, "a process state record's flags must be 0")?;
        } else {
            rule(flags & 1 == 0, "unknown critical record")?;
        }
        rule(rtype != 0, "record type 0")?;
        rule(id > seen.last().map_or(0, |s| s.id), "ids not increasing")?;
        rule(
            (rtype == 0x0002) == seen.is_empty(),
            "env vector not first, or twice",
        )?;
        rule(
            (rtype == 0x0003) == (prev_type == 0x0010),
            "a task vector not right after a task",
        )?;
        let earlier = |r: u64, ty: u16| seen.iter().any(|s| s.id == r && s.rtype == ty);
        let mut p = Cur { b: payload, at: 0 };
        match rtype {
            0x0002 => {
                check_vector(&mut p)?;
            }
            0x0003 => {
                let task = p.u64()?;
                rule(task == seen.last().unwrap().id, "task vector's task")?;
                check_vector(&mut p)?;
            }
            0x0010 => {
                p.take(12)?; // pid, tgid, ppid
                rule(p.u32()? == 0, "task reserved")?;
                p.take(32 + 16)?; // ids, comm
                let table = p.u64()?;
                rule(table == 0 || earlier(table, 0x0020), "task's file table")?;
                p.path()?;
                p.path()?;
            }
            0x0020 => {
                let n = p.u32()?;
                rule(p.u32()? == 0, "file table reserved")?;
                let mut last_fd: Option<u32> = None;
                for _ in 0..n {
                    let (fd, fl, file) = (p.u32()?, p.u32()?, p.u64()?);
                    rule(last_fd.is_none_or(|l| fd > l), "fds not increasing")?;
                    rule(fl & !1 == 0, "fd flags other than close-on-exec")?;
                    rule(files.contains(&file), "table entry names no earlier file")?;
                    last_fd = Some(fd);
                }
            }
            0x0021 => {
                let kind = p.u16()?;
                rule(p.u16()? == 0, "file reserved")?;
                p.take(4 + 4 + 4 + 8 + 8 + 8 + 8 + 8)?; // f_flags .. mtime_sec
                rule(p.u32()? < 1_000_000_000, "mtime_nsec")?;
                p.take(8)?;
                rule(p.u32()? < 1_000_000_000, "ctime_nsec")?;
                p.path()?;
                let handle = |p: &mut Cur<'_>| -> Result<(), Bad> {
                    p.take(8)?; // generation, handle type
                    let n = p.u16()? as usize;
                    rule(n <= 128, "handle over 128 bytes")?;
                    p.take(n).map(drop)
                };
                let cookie = |p: &mut Cur<'_>| rule(matches!(p.u32()?, 32 | 64), "cookie mode");
                match kind {
                    1 => {}
                    2 => handle(&mut p)?,
                    3 => cookie(&mut p)?,
                    4 => p.take(8).map(drop)?,
                    5 => p.take(4).map(drop)?,
                    6 => {
                        handle(&mut p)?;
                        cookie(&mut p)?;
                    }
                    7 => p.take(8).map(drop)?, // data_len
                    8 => {
                        p.take(4)?; // seals
                        rule(p.u32()? == 0, "memfd reserved")?;
                        p.take(8)?; // data_len
                        let n = p.u16()? as usize;
                        rule(n <= 249, "memfd name over 249 bytes")?;
                        rule(!p.take(n)?.contains(&0), "NUL in a memfd name")?;
                    }
                    _ => return Err(Bad::Rule(format!("file kind {kind}"))),
                }
                files.push(id);
            }
            0x0012 => spec_signals(&mut p)?,
            0x0013 => spec_task_state(&mut p)?,
            0x0023 => {
                let file = p.u64()?;
                rule(file != 0 && file < id, "file data names no earlier record")?;
                let offset = p.u64()?;
                let n = payload.len() - 16;
                rule(n > 0, "empty file data")?;
                rule(
                    offset
                        .checked_add(n as u64)
                        .is_some_and(|end| end <= i64::MAX as u64),
                    "file data past the largest offset",
                )?;
                p.take(n)?;
            }
            _ => p.at = payload.len(), // unknown optional: skipped by its length
        }
        p.done()?;
        seen.push(Seen {
            offset: at,
            rtype,
            id,
            len,
        });
        prev_type = rtype;
        at += len as usize;
    }
}

/// A signals payload ("Signals"): blocked, altstack sp, size, flags, nsig 64, then 64
/// actions of handler, flags, restorer, mask.
fn spec_signals(p: &mut Cur<'_>) -> Result<(), Bad> {
    const KILL: u64 = 1 << 8;
    const STOP: u64 = 1 << 18;
    let blocked = p.u64()?;
    rule(blocked & (KILL | STOP) == 0, "SIGKILL or SIGSTOP blocked")?;
    let (sp, size, flags) = (p.u64()?, p.u64()?, p.u32()?);
    rule(flags & !(2 | 0x8000_0000) == 0, "altstack flags")?;
    rule(
        (flags & 2 != 0) == (size == 0),
        "SS_DISABLE exactly when size is 0",
    )?;
    rule(flags & 2 == 0 || sp == 0, "a disabled altstack with an sp")?;
    rule(p.u32()? == 64, "nsig")?;
    for sig in 1..=64 {
        let (handler, fl, restorer, mask) = (p.u64()?, p.u64()?, p.u64()?, p.u64()?);
        rule(
            mask & (KILL | STOP) == 0,
            "an action's mask with SIGKILL or SIGSTOP",
        )?;
        if sig == 9 || sig == 19 {
            rule(
                handler == 0 && fl == 0 && restorer == 0 && mask == 0,
                "an action for SIGKILL or SIGSTOP",
            )?;
        }
    }
    Ok(())
}

/// A task state payload ("Task state").
fn spec_task_state(p: &mut Cur<'_>) -> Result<(), Bad> {
    let (rseq, len, sig) = (p.u64()?, p.u32()?, p.u32()?);
    rule(
        if rseq == 0 {
            len == 0 && sig == 0
        } else {
            len >= 32
        },
        "rseq length and signature",
    )?;
    let (robust, robust_len) = (p.u64()?, p.u64()?);
    rule((robust == 0) == (robust_len == 0), "robust list length")?;
    let _clear_child_tid = p.u64()?;
    rule(p.u32()? <= 0o777, "umask")?;
    rule(p.u32()? <= 64, "pdeath_signal")?;
    rule(p.u32()? == 16, "nlimits")?;
    rule(p.u32()? == 0, "task state reserved")?;
    for _ in 0..16 {
        let (soft, hard) = (p.u64()?, p.u64()?);
        rule(soft <= hard, "a soft limit above its hard limit")?;
    }
    Ok(())
}

/// The records the codec's decoder returns, as the oracle lists them.
fn codec_records(img: &[u8]) -> Vec<Seen> {
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = ckpt_image::Decoder::new(img).unwrap();
    let mut out = Vec::new();
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        if r.header.rtype.0 == 0x0001 {
            continue; // the terminator: the oracle checks it apart
        }
        out.push(Seen {
            offset: r.offset as usize,
            rtype: r.header.rtype.0,
            id: r.header.id,
            len: r.header.len,
        });
    }
    out
}

#[test]
fn golden_vectors_follow_the_document() {
    for name in ["minimal.img", "full.img"] {
        let img = testdata(name);
        let seen = spec_decode(&img).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            seen,
            codec_records(&img),
            "{name}: the codec sees other records"
        );
    }
    // full.img has one record of each kind the document lists, and an unknown optional one
    let seen = spec_decode(&testdata("full.img")).unwrap();
    let types: Vec<u16> = seen.iter().map(|s| s.rtype).collect();
    assert_eq!(
        types,
        [2, 0x21, 0x21, 0x21, 0x21, 0x21, 0x20, 0x10, 3, 0x7f00, 0x10, 3]
    );
    assert_eq!(
        spec_decode(&testdata("truncated.img")),
        Err(Bad::Incomplete)
    );
    assert_eq!(spec_decode(&testdata("corrupt.img")), Err(Bad::Checksum));
}

#[test]
fn oracle_catches_what_the_document_forbids() {
    // the oracle is not a yes-machine: each edit, checksum recomputed, breaks one rule
    let full = testdata("full.img");
    let reseal = |mut b: Vec<u8>| {
        let n = b.len();
        let crc = crc32c(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let at = |b: &[u8], needle: &[u8]| b.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut b = full.clone();
    b[14] = 1;
    cases.push(("header reserved", b));
    let mut b = full.clone();
    b[20] |= 1;
    cases.push(("must-understand flag", b));
    let mut b = full.clone();
    b[304 + 2] = 0; // the env vector's flags
    cases.push(("known record not CRITICAL", b));
    let mut b = full.clone();
    let p = at(&b, b"/etc/hostname");
    b[p + 4] = 0;
    cases.push(("NUL in a path", b));
    for (what, b) in cases {
        assert!(
            matches!(spec_decode(&reseal(b)), Err(Bad::Rule(_))),
            "oracle accepts: {what}"
        );
    }
}

/// The sample signal and task state (`common::sample_signals`, `sample_task_state`), byte by
/// byte from the tables "Signals" and "Task state".
fn sigstate_records_by_hand() -> (Vec<u8>, Vec<u8>) {
    let mut sig = Vec::new();
    sig.extend_from_slice(&((1u64 << 11) | (1 << 34)).to_le_bytes()); // blocked: USR2, RTMIN+3
    sig.extend_from_slice(&0x7f00_1000_0000u64.to_le_bytes()); // altstack_sp
    sig.extend_from_slice(&0x4000u64.to_le_bytes()); // altstack_size
    sig.extend_from_slice(&0x8000_0000u32.to_le_bytes()); // SS_AUTODISARM
    sig.extend_from_slice(&64u32.to_le_bytes()); // nsig
    for signal in 1..=64u32 {
        let (handler, flags, restorer, mask): (u64, u64, u64, u64) = match signal {
            // SA_RESTART | SA_ONSTACK | SA_RESTORER | SA_SIGINFO, masking USR2 and RTMIN+1
            10 => (0x40_1234, 0x1c00_0004, 0x40_5678, (1 << 11) | (1 << 32)),
            13 => (1, 0, 0, 0),                           // SIG_IGN
            34 => (0x40_2000, 0x0400_0000, 0x40_5678, 0), // SA_RESTORER
            _ => (0, 0, 0, 0),
        };
        for v in [handler, flags, restorer, mask] {
            sig.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut st = Vec::new();
    st.extend_from_slice(&0x4c_9fe0u64.to_le_bytes()); // rseq
    st.extend_from_slice(&32u32.to_le_bytes()); // rseq_len
    st.extend_from_slice(&0x5305_3053u32.to_le_bytes()); // rseq_sig
    st.extend_from_slice(&0x4c_9a20u64.to_le_bytes()); // robust_list
    st.extend_from_slice(&24u64.to_le_bytes()); // robust_list_len
    st.extend_from_slice(&0x4c_9a10u64.to_le_bytes()); // clear_child_tid
    st.extend_from_slice(&0o027u32.to_le_bytes()); // umask
    st.extend_from_slice(&15u32.to_le_bytes()); // pdeath_signal: SIGTERM
    st.extend_from_slice(&16u32.to_le_bytes()); // nlimits
    st.extend_from_slice(&0u32.to_le_bytes()); // reserved
    for resource in 0..16 {
        let (soft, hard) = match resource {
            3 => (8 << 20, u64::MAX), // stack
            4 => (4096, 1 << 20),     // core
            7 => (64, 1024),          // nofile
            _ => (u64::MAX, u64::MAX),
        };
        st.extend_from_slice(&soft.to_le_bytes());
        st.extend_from_slice(&hard.to_le_bytes());
    }
    (sig, st)
}

#[test]
fn signal_and_task_state_records_are_what_the_document_says() {
    let img = common::sigstate_image();
    let seen = spec_decode(&img).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(seen, codec_records(&img));
    let types: Vec<u16> = seen.iter().map(|s| s.rtype).collect();
    assert_eq!(types, [2, 0x10, 3, 0x12, 0x13]);
    // the codec's bytes are the document's
    let (sig, st) = sigstate_records_by_hand();
    let (s, t) = (&seen[3], &seen[4]);
    let mut expect = Vec::new();
    record(&mut expect, 0x0012, 0, 4, &sig);
    record(&mut expect, 0x0013, 0, 5, &st);
    assert_eq!(&img[s.offset..t.offset + t.len as usize], &expect[..]);

    // and the oracle refuses what the document forbids, each edit resealed
    let reseal = |mut b: Vec<u8>| {
        let n = b.len();
        let crc = crc32c(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let sp = s.offset + 16;
    let tp = t.offset + 16;
    let edits: [(&str, usize, &[u8]); 8] = [
        ("SIGKILL blocked", sp + 1, &[0x09]),
        ("SS_ONSTACK", sp + 24, &[1]),
        ("nsig", sp + 28, &[63]),
        ("a SIGSTOP handler", sp + 32 + 18 * 32, &[1]),
        ("rseq of 16 bytes", tp + 8, &[16]),
        ("umask 01000", tp + 41, &[2]),
        ("nlimits", tp + 48, &[15]),
        ("soft over hard", tp + 56 + 4 * 16 + 3, &[0x7f]),
    ];
    for (what, at, bytes) in edits {
        let mut b = img.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        assert!(
            matches!(spec_decode(&reseal(b.clone())), Err(Bad::Rule(_))),
            "oracle accepts: {what}"
        );
        assert!(
            ckpt_image::Decoder::new(&reseal(b)[..])
                .and_then(|mut d| {
                    let mut buf = vec![0u8; 1 << 16];
                    while d.next_record(&mut buf)?.is_some() {}
                    Ok(())
                })
                .is_err(),
            "codec accepts: {what}"
        );
    }
}

/// A file record of kind 7 (unlinked) with `data_len`, by the document's table.
fn unlinked_file_payload(path: &[u8], size: i64, data_len: u64) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&7u16.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&2u32.to_le_bytes()); // O_RDWR
    p.extend_from_slice(&3u32.to_le_bytes()); // f_mode
    p.extend_from_slice(&0o100600u32.to_le_bytes());
    p.extend_from_slice(&5i64.to_le_bytes()); // pos
    p.extend_from_slice(&0x23u64.to_le_bytes()); // dev
    p.extend_from_slice(&12u64.to_le_bytes()); // ino
    p.extend_from_slice(&size.to_le_bytes());
    p.extend_from_slice(&[0; 12]); // mtime
    p.extend_from_slice(&[0; 12]); // ctime
    p.extend_from_slice(&(path.len() as u16).to_le_bytes());
    p.extend_from_slice(path);
    p.extend_from_slice(&data_len.to_le_bytes());
    p
}

/// A file_data record payload, by the document's table.
fn file_data_payload(file: u64, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&file.to_le_bytes());
    p.extend_from_slice(&offset.to_le_bytes());
    p.extend_from_slice(data);
    p
}

/// An image by hand: an unlinked file with two runs of data around a hole, and a memfd.
fn contents_image(edit: impl Fn(u64, &mut Vec<u8>)) -> Vec<u8> {
    let mut img = header(1, 4096, 0, 1, 2, [b"Linux", b"7", b"#1", b"x86_64"]);
    let mut payloads: Vec<(u16, u64, Vec<u8>)> = vec![
        (0x0002, 1, sample_env_by_hand()),
        (0x0021, 2, unlinked_file_payload(b"/tmp/gone", 8192 + 3, 6)),
        (0x0023, 3, file_data_payload(2, 0, b"abc")),
        (0x0023, 4, file_data_payload(2, 8192, b"xyz")),
    ];
    let mut memfd = unlinked_file_payload(b"", 4, 0);
    memfd[0] = 8;
    memfd.truncate(memfd.len() - 8);
    memfd.extend_from_slice(&0x9u32.to_le_bytes()); // F_SEAL_SEAL | F_SEAL_WRITE
    memfd.extend_from_slice(&0u32.to_le_bytes());
    memfd.extend_from_slice(&4u64.to_le_bytes());
    memfd.extend_from_slice(&3u16.to_le_bytes());
    memfd.extend_from_slice(b"buf");
    payloads.push((0x0021, 5, memfd));
    payloads.push((0x0023, 6, file_data_payload(5, 0, b"data")));
    for (_, id, p) in payloads.iter_mut() {
        edit(*id, p);
    }
    let n = payloads.len() as u64;
    for (t, id, p) in payloads {
        record(&mut img, t, 1, id, &p);
    }
    terminate(img, n)
}

#[test]
fn file_contents_follow_the_document() {
    let img = contents_image(|_, _| {});
    let seen = spec_decode(&img).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(seen, codec_records(&img), "the codec sees other records");
    // and what the codec decodes is what was written
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = ckpt_image::Decoder::new(&img[..]).unwrap();
    let mut runs = Vec::new();
    let mut variants = Vec::new();
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        match r.body {
            ckpt_image::Body::FileData(d) => runs.push((d.file, d.offset, d.data.to_vec())),
            ckpt_image::Body::File(f) => variants.push(format!("{:?}", f.variant)),
            _ => {}
        }
    }
    assert_eq!(
        runs,
        [
            (2, 0, b"abc".to_vec()),
            (2, 8192, b"xyz".to_vec()),
            (5, 0, b"data".to_vec())
        ]
    );
    assert_eq!(
        variants,
        [
            "Unlinked { data_len: 6 }",
            "Memfd { seals: 9, data_len: 4, name: [98, 117, 102] }"
        ]
    );

    // each edit breaks one rule: the oracle and the codec both refuse
    type Edit = Box<dyn Fn(u64, &mut Vec<u8>)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "file data names a later record",
            Box::new(|id, p| {
                if id == 3 {
                    p[..8].copy_from_slice(&9u64.to_le_bytes());
                }
            }),
        ),
        (
            "empty file data",
            Box::new(|id, p| {
                if id == 4 {
                    p.truncate(16);
                }
            }),
        ),
        (
            "file data past the largest offset",
            Box::new(|id, p| {
                if id == 4 {
                    p[8..16].copy_from_slice(&(i64::MAX as u64 - 1).to_le_bytes());
                }
            }),
        ),
        (
            "memfd name with a NUL",
            Box::new(|id, p| {
                if id == 5 {
                    let n = p.len();
                    p[n - 2] = 0;
                }
            }),
        ),
    ];
    for (what, edit) in cases {
        let img = contents_image(edit);
        assert!(
            matches!(spec_decode(&img), Err(Bad::Rule(_))),
            "oracle accepts: {what}"
        );
        let mut buf = vec![0u8; 1 << 16];
        let mut dec = ckpt_image::Decoder::new(&img[..]).unwrap();
        let refused = loop {
            match dec.next_record(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        assert!(refused, "codec accepts: {what}");
    }
}

/// The document's rules for a restarter on file contents, by hand: runs directly follow
/// their file record (kind 7 or 8), increase without overlap, end within its size, and sum
/// to its data_len.
fn spec_contents(img: &[u8]) -> Result<(), String> {
    let mut at = 304;
    // (file id, size, data_len, kind, bytes held, end of last run)
    let mut cur: Option<(u64, i64, u64, u16, u64, u64)> = None;
    let close = |cur: &Option<(u64, i64, u64, u16, u64, u64)>| match cur {
        Some((id, _, said, _, held, _)) if held != said => {
            Err(format!("file {id}: {held} bytes held, {said} said"))
        }
        _ => Ok(()),
    };
    while at + 16 <= img.len() {
        let rtype = u16::from_le_bytes([img[at], img[at + 1]]);
        let len = u32::from_le_bytes(img[at + 4..at + 8].try_into().unwrap()) as usize;
        let id = u64::from_le_bytes(img[at + 8..at + 16].try_into().unwrap());
        let p = &img[at + 16..at + len];
        let u64_at = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().unwrap());
        match rtype {
            0x0021 => {
                close(&cur)?;
                let kind = u16::from_le_bytes([p[0], p[1]]);
                let path_len = u16::from_le_bytes([p[72], p[73]]) as usize;
                let data_len = match kind {
                    7 => u64_at(74 + path_len),
                    8 => u64_at(74 + path_len + 8),
                    _ => 0,
                };
                cur = Some((id, u64_at(40) as i64, data_len, kind, 0, 0));
            }
            0x0023 => {
                let (file, off, n) = (u64_at(0), u64_at(8), (len - 32) as u64);
                let Some(c) = cur.as_mut().filter(|c| c.0 == file) else {
                    return Err(format!("record {id}: not right after file {file}"));
                };
                if c.3 != 7 && c.3 != 8 {
                    return Err(format!("record {id}: data of a kind {} file", c.3));
                }
                if off < c.5 {
                    return Err(format!("record {id}: overlap"));
                }
                if c.1 < 0 || off + n > c.1 as u64 {
                    return Err(format!("record {id}: past the size"));
                }
                c.4 += n;
                c.5 = off + n;
            }
            _ => {
                close(&cur)?;
                cur = None;
            }
        }
        at += len;
    }
    close(&cur)
}

/// What the codec's ContentsCheck says of an image.
fn codec_contents(img: &[u8]) -> Result<(), ckpt_image::ContentsError> {
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = ckpt_image::Decoder::new(img).unwrap();
    let mut check = ckpt_image::ContentsCheck::new();
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        check.next(r.header.id, &r.body)?;
    }
    check.finish()
}

/// The same, fed as the module's restart feeds it: FILE_DATA records by their fields alone
/// (`ContentsCheck::run`), their data streamed elsewhere.
fn codec_contents_streamed(img: &[u8]) -> Result<(), ckpt_image::ContentsError> {
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = ckpt_image::Decoder::new(img).unwrap();
    let mut check = ckpt_image::ContentsCheck::new();
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        match r.body {
            ckpt_image::Body::FileData(d) => check.run(d.file, d.offset, d.data.len() as u64)?,
            body => check.next(r.header.id, &body)?,
        }
    }
    check.finish()
}

#[test]
fn wrong_content_lengths_are_refused() {
    assert_eq!(spec_contents(&contents_image(|_, _| {})), Ok(()));
    assert_eq!(codec_contents(&contents_image(|_, _| {})), Ok(()));
    assert_eq!(codec_contents_streamed(&contents_image(|_, _| {})), Ok(()));
    type Edit = Box<dyn Fn(u64, &mut Vec<u8>)>;
    let data_len_at = |p: &Vec<u8>| p.len() - 8;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "data_len one more than the runs hold",
            Box::new(move |id, p| {
                if id == 2 {
                    let at = data_len_at(p);
                    p[at] += 1;
                }
            }),
        ),
        (
            "data_len one less",
            Box::new(move |id, p| {
                if id == 2 {
                    let at = data_len_at(p);
                    p[at] -= 1;
                }
            }),
        ),
        (
            "a run dropped (the last chunk of the memfd)",
            Box::new(|id, p| {
                if id == 6 {
                    // turn it into a run of the unlinked file, out of place
                    p[..8].copy_from_slice(&2u64.to_le_bytes());
                }
            }),
        ),
        (
            "a run past the size",
            Box::new(|id, p| {
                if id == 2 {
                    p[40..48].copy_from_slice(&8000i64.to_le_bytes());
                }
            }),
        ),
        (
            "runs overlapping",
            Box::new(|id, p| {
                if id == 4 {
                    p[8..16].copy_from_slice(&1u64.to_le_bytes());
                }
            }),
        ),
        (
            "memfd data_len wrong",
            Box::new(|id, p| {
                if id == 5 {
                    let at = p.len() - 2 - 3 - 8;
                    p[at] = 5;
                }
            }),
        ),
    ];
    for (what, edit) in cases {
        let img = contents_image(edit);
        // still well-formed record by record: only the contents rules catch it
        assert!(
            spec_decode(&img).is_ok(),
            "{what}: the edit broke the framing"
        );
        assert!(spec_contents(&img).is_err(), "oracle accepts: {what}");
        assert!(codec_contents(&img).is_err(), "codec accepts: {what}");
        assert_eq!(
            codec_contents_streamed(&img),
            codec_contents(&img),
            "streamed runs judged otherwise: {what}"
        );
    }
}

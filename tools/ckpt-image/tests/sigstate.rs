// SPDX-License-Identifier: GPL-2.0

//! SIGNALS and TASK_STATE records: round trips, names, and every rule the decoder enforces on
//! hostile payloads (the kernel's own invariants), checked at the offending byte.

mod common;

use ckpt_image::*;
use common::{assemble, decode_error, sample_actions, sample_signals, sample_task_state};

/// The payloads of the sample records.
fn payloads() -> (Vec<u8>, Vec<u8>) {
    let img = common::sigstate_image();
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = Decoder::new(&img[..]).unwrap();
    let (mut sig, mut st) = (None, None);
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        match r.header.rtype {
            RecordType::SIGNALS => sig = Some(r.payload.to_vec()),
            RecordType::TASK_STATE => st = Some(r.payload.to_vec()),
            _ => {}
        }
    }
    (sig.unwrap(), st.unwrap())
}

#[test]
fn records_round_trip() {
    let img = common::sigstate_image();
    let mut buf = vec![0u8; 1 << 16];
    let mut dec = Decoder::new(&img[..]).unwrap();
    let actions = sample_actions();
    let mut seen = 0;
    while let Some(r) = dec.next_record(&mut buf).unwrap() {
        match r.body {
            Body::Signals(s) => {
                assert_eq!(r.header.flags, 0, "optional record");
                assert_eq!(r.header.len as usize, RECORD_HEADER_LEN + SIGNALS_LEN);
                assert_eq!(s, sample_signals(&actions));
                let usr1 = s.action(10).unwrap();
                assert_eq!(usr1.handler, 0x40_1234);
                assert_eq!(usr1.flags, 0x1c00_0004);
                assert_eq!(usr1.restorer, 0x40_5678);
                assert_eq!(usr1.mask, (1 << 11) | (1 << 32));
                assert_eq!(s.action(0), None);
                assert_eq!(s.action(65), None);
                assert_eq!(s.ignored(), 1 << 12);
                assert_eq!(s.handled(), (1 << 9) | (1 << 33));
                assert_eq!(s.actions().count(), 64);
                seen += 1;
            }
            Body::TaskState(t) => {
                assert_eq!(r.header.flags, 0, "optional record");
                assert_eq!(r.header.len as usize, RECORD_HEADER_LEN + TASK_STATE_LEN);
                assert_eq!(t, sample_task_state());
                seen += 1;
            }
            _ => {}
        }
    }
    dec.expect_end().unwrap();
    assert_eq!(seen, 2);
}

#[test]
fn payload_layout_is_the_documented_one() {
    let (sig, st) = payloads();
    assert_eq!(sig.len(), 32 + 64 * 32);
    assert_eq!(&sig[0..8], &((1u64 << 11) | (1 << 34)).to_le_bytes());
    assert_eq!(&sig[8..16], &0x7f00_1000_0000u64.to_le_bytes());
    assert_eq!(&sig[16..24], &0x4000u64.to_le_bytes());
    assert_eq!(&sig[24..28], &(1u32 << 31).to_le_bytes());
    assert_eq!(&sig[28..32], &64u32.to_le_bytes());
    let usr1 = 32 + 9 * 32;
    assert_eq!(&sig[usr1..usr1 + 8], &0x40_1234u64.to_le_bytes());
    assert_eq!(
        &sig[usr1 + 24..usr1 + 32],
        &((1u64 << 11) | (1 << 32)).to_le_bytes()
    );
    assert_eq!(st.len(), 56 + 16 * 16);
    assert_eq!(&st[0..8], &0x4c_9fe0u64.to_le_bytes());
    assert_eq!(&st[8..12], &32u32.to_le_bytes());
    assert_eq!(&st[12..16], &0x5305_3053u32.to_le_bytes());
    assert_eq!(&st[40..44], &0o027u32.to_le_bytes());
    assert_eq!(&st[44..48], &15u32.to_le_bytes());
    assert_eq!(&st[48..52], &16u32.to_le_bytes());
    let nofile = 56 + 7 * 16;
    assert_eq!(
        &st[nofile..nofile + 16],
        &[64u64.to_le_bytes(), 1024u64.to_le_bytes()].concat()[..]
    );
}

/// Decodes an image of `rtype` with `payload` (after the env vector); the error kind and
/// its offset within the payload.
fn refuse(rtype: u16, payload: &[u8]) -> (FormatErrorKind, u64) {
    let env = common::env_payload();
    let img = assemble(&[(2, 1, 1, &env), (rtype, 0, 2, payload)]);
    let payload_at = (HEADER_LEN + RECORD_HEADER_LEN + env.len() + RECORD_HEADER_LEN) as u64;
    let e = decode_error(&img);
    assert_eq!(e.record.map(|r| r.rtype.0), Some(rtype));
    (e.kind, e.offset - payload_at)
}

fn with_u64(p: &[u8], at: usize, v: u64) -> Vec<u8> {
    let mut p = p.to_vec();
    p[at..at + 8].copy_from_slice(&v.to_le_bytes());
    p
}

fn with_u32(p: &[u8], at: usize, v: u32) -> Vec<u8> {
    let mut p = p.to_vec();
    p[at..at + 4].copy_from_slice(&v.to_le_bytes());
    p
}

#[test]
fn malformed_signals_are_refused_at_the_field() {
    let (sig, _) = payloads();
    let t = RecordType::SIGNALS.0;
    let bad = FormatErrorKind::BadSignals;
    let blocked = u64::from_le_bytes(sig[0..8].try_into().unwrap());
    let kill_mask = 32 + 8 * 32 + 24;
    let usr1 = 32 + 9 * 32;
    let cases: Vec<(&str, Vec<u8>, FormatErrorKind, u64)> = vec![
        (
            "SIGKILL blocked",
            with_u64(&sig, 0, blocked | 1 << 8),
            bad,
            0,
        ),
        (
            "SIGSTOP blocked",
            with_u64(&sig, 0, blocked | 1 << 18),
            bad,
            0,
        ),
        ("unknown altstack flag", with_u32(&sig, 24, 1), bad, 24),
        (
            "SS_ONSTACK recorded",
            with_u32(&sig, 24, 1 | 1 << 31),
            bad,
            24,
        ),
        (
            "disabled altstack with a size",
            with_u32(&sig, 24, 2),
            bad,
            24,
        ),
        (
            "enabled altstack of size 0",
            with_u64(&with_u64(&sig, 16, 0), 8, 0),
            bad,
            24,
        ),
        (
            "disabled altstack with an sp",
            with_u32(&with_u64(&sig, 16, 0), 24, 2),
            bad,
            24,
        ),
        ("63 signals", with_u32(&sig, 28, 63), bad, 28),
        (
            "a SIGKILL handler",
            with_u64(&sig, 32 + 8 * 32, 0x40_1000),
            bad,
            32 + 8 * 32,
        ),
        (
            "SIGSTOP ignored",
            with_u64(&sig, 32 + 18 * 32, 1),
            bad,
            32 + 18 * 32,
        ),
        (
            "SIGKILL flags",
            with_u64(&sig, kill_mask - 16, 4),
            bad,
            32 + 8 * 32,
        ),
        (
            "an action masking SIGKILL",
            with_u64(&sig, usr1 + 24, 1 << 8),
            bad,
            usr1 as u64 + 24,
        ),
        (
            "truncated",
            sig[..sig.len() - 1].to_vec(),
            FormatErrorKind::PayloadTruncated,
            32,
        ),
        (
            "a byte more",
            [&sig[..], &[0]].concat(),
            FormatErrorKind::TrailingBytes,
            sig.len() as u64,
        ),
        ("empty", Vec::new(), FormatErrorKind::PayloadTruncated, 0),
    ];
    for (what, payload, kind, at) in cases {
        assert_eq!(refuse(t, &payload), (kind, at), "{what}");
    }
    // the disabled altstack the kernel writes is fine, with or without SS_AUTODISARM
    for flags in [2u32, 2 | 1 << 31] {
        let p = with_u32(&with_u64(&with_u64(&sig, 16, 0), 8, 0), 24, flags);
        let s = Signals::parse(&p).unwrap();
        assert_eq!(s.altstack_flags, flags);
    }
}

#[test]
fn malformed_task_state_is_refused_at_the_field() {
    let (_, st) = payloads();
    let t = RecordType::TASK_STATE.0;
    let bad = FormatErrorKind::BadTaskState;
    let core = 56 + 4 * 16;
    let cases: Vec<(&str, Vec<u8>, FormatErrorKind, u64)> = vec![
        ("no rseq but a length", with_u64(&st, 0, 0), bad, 8),
        ("rseq of 31 bytes", with_u32(&st, 8, 31), bad, 8),
        (
            "no rseq but a signature",
            with_u32(&with_u32(&with_u64(&st, 0, 0), 8, 0), 12, 1),
            bad,
            8,
        ),
        ("robust list without length", with_u64(&st, 24, 0), bad, 24),
        ("robust length without list", with_u64(&st, 16, 0), bad, 24),
        ("umask 01000", with_u32(&st, 40, 0o1000), bad, 40),
        ("pdeath signal 65", with_u32(&st, 44, 65), bad, 44),
        ("15 rlimits", with_u32(&st, 48, 15), bad, 48),
        (
            "reserved",
            with_u32(&st, 52, 1),
            FormatErrorKind::ReservedNotZero,
            52,
        ),
        (
            "soft above hard",
            with_u64(&st, core, 2 << 20),
            bad,
            core as u64,
        ),
        (
            "truncated",
            st[..st.len() - 8].to_vec(),
            FormatErrorKind::PayloadTruncated,
            st.len() as u64 - 8,
        ),
        (
            "a byte more",
            [&st[..], &[0]].concat(),
            FormatErrorKind::TrailingBytes,
            st.len() as u64,
        ),
    ];
    for (what, payload, kind, at) in cases {
        assert_eq!(refuse(t, &payload), (kind, at), "{what}");
    }
    // no rseq, no robust list, pdeath signal 64, soft == hard: all fine
    let p = with_u32(&with_u32(&with_u64(&st, 0, 0), 8, 0), 12, 0);
    let p = with_u64(&with_u64(&p, 16, 0), 24, 0);
    let p = with_u64(&with_u32(&p, 44, 64), core, 1 << 20);
    let s = TaskState::parse(&p).unwrap();
    assert_eq!((s.rseq, s.robust_list, s.pdeath_signal), (0, 0, 64));
}

#[test]
fn critical_flag_is_corruption_and_unknown_readers_may_skip() {
    let (sig, st) = payloads();
    let env = common::env_payload();
    for (t, p) in [
        (RecordType::SIGNALS.0, &sig),
        (RecordType::TASK_STATE.0, &st),
    ] {
        let img = assemble(&[(2, 1, 1, &env), (t, 1, 2, p)]);
        assert_eq!(decode_error(&img).kind, FormatErrorKind::BadRecordFlags(1));
    }
}

#[test]
fn encoder_refuses_what_the_decoder_refuses() {
    let actions = sample_actions();
    let mut enc = Encoder::new(Vec::new(), &common::header()).unwrap();
    enc.write_env_vector(1, common::sample_env).unwrap();
    let mut s = sample_signals(&actions);
    s.blocked |= SIG_KILL_STOP_MASK;
    assert_eq!(
        enc.write_signals(2, &s),
        Err(EncodeError::Invalid(FormatErrorKind::BadSignals))
    );
    let short = Signals::new(0, (0, 0, SS_DISABLE), &actions[..32]);
    assert_eq!(
        enc.write_signals(2, &short),
        Err(EncodeError::Invalid(FormatErrorKind::BadSignals))
    );
    let mut t = sample_task_state();
    t.umask = 0o7777;
    assert_eq!(
        enc.write_task_state(2, &t),
        Err(EncodeError::Invalid(FormatErrorKind::BadTaskState))
    );
    // the encoder is still usable
    enc.write_task_state(2, &sample_task_state()).unwrap();
    enc.finish().unwrap();
}

#[test]
fn signal_names() {
    let names: Vec<String> = [1, 9, 10, 19, 31, 32, 34, 64, 0, 65]
        .iter()
        .map(|&s| SigName(s).to_string())
        .collect();
    assert_eq!(
        names,
        [
            "SIGHUP",
            "SIGKILL",
            "SIGUSR1",
            "SIGSTOP",
            "SIGSYS",
            "SIGRTMIN",
            "SIGRTMIN+2",
            "SIGRTMIN+32",
            "signal 0",
            "signal 65"
        ]
    );
    for s in 1..=64 {
        assert_eq!(SigName::from_name(&SigName(s).to_string()), Some(s));
    }
    assert_eq!(SigName::from_name("USR2"), Some(12));
    assert_eq!(SigName::from_name("SIGRTMIN+33"), None);
    assert_eq!(
        signals_in((1 << 9) | (1 << 63)).collect::<Vec<_>>(),
        [10, 64]
    );
    assert_eq!(RLIMIT_NAMES[7], "nofile");
}

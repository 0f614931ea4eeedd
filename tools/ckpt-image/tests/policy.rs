// SPDX-License-Identifier: GPL-2.0

//! The restart policy (`check_restorable`): what the kernel refuses in a file record before it
//! opens anything, and what the tools refuse the same way.

mod common;

use ckpt_image::*;

fn with_mode(mut f: File<'static>, mode: u32) -> File<'static> {
    f.mode = mode;
    f
}

fn regular(path: &'static [u8]) -> File<'static> {
    common::file(path, FileVariant::Regular)
}

#[test]
fn what_checkpoint_writes_is_restorable() {
    let [reg, ext, dir, null, external] = common::sample_files();
    assert_eq!(check_restorable(&reg), Ok(()));
    assert_eq!(check_restorable(&ext), Ok(()));
    assert_eq!(check_restorable(&with_mode(dir, 0o040755)), Ok(()));
    assert_eq!(check_restorable(&with_mode(null, 0o020666)), Ok(()));
    assert_eq!(check_restorable(&external), Ok(()));
}

#[test]
fn paths_must_be_absolute_and_canonical() {
    for good in [&b"/"[..], b"/a", b"/a/b.c", b"/a/...", b"/.hidden/x"] {
        assert!(
            is_canonical_path(good),
            "{:?}",
            String::from_utf8_lossy(good)
        );
    }
    for bad in [
        &b""[..],
        b"a",
        b"a/b",
        b"//",
        b"/a//b",
        b"/a/",
        b"/.",
        b"/a/./b",
        b"/..",
        b"/a/../b",
        b"/a/..",
        b"./a",
    ] {
        assert!(
            !is_canonical_path(bad),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(
            check_restorable(&regular(Box::leak(bad.to_vec().into_boxed_slice()))),
            Err(PolicyError::PathNotCanonical)
        );
    }
}

#[test]
fn unknown_flags_and_bad_access_mode_are_refused() {
    // O_CREAT, O_TRUNC, O_EXCL, O_NOCTTY never stay in f_flags; O_PATH files are not written.
    for bit in [0o100u32, 0o1000, 0o200, 0o400, 0o10000000, 1 << 31] {
        let mut f = regular(b"/x");
        f.f_flags |= bit;
        assert_eq!(check_restorable(&f), Err(PolicyError::UnknownFlags(bit)));
    }
    let mut f = regular(b"/x");
    f.f_flags = (f.f_flags & !3) | 3;
    assert_eq!(check_restorable(&f), Err(PolicyError::BadAccessMode));
    let mut f = regular(b"/x");
    f.f_flags = KNOWN_F_FLAGS & !3;
    assert_eq!(check_restorable(&f), Ok(()));
}

#[test]
fn only_stateless_char_devices() {
    for rdev in RESTORABLE_CHAR_DEVICES {
        let f = common::file(b"/dev/x", FileVariant::CharDevice { rdev: *rdev });
        assert_eq!(check_restorable(&with_mode(f, 0o020666)), Ok(()));
    }
    // 8:0 (sda), 4:1 (tty1), 1:1 (mem), 10:130 (watchdog)
    for rdev in [0x800u64, 0x401, 0x101, 0xa82] {
        let f = common::file(b"/dev/null", FileVariant::CharDevice { rdev });
        assert_eq!(
            check_restorable(&with_mode(f, 0o020666)),
            Err(PolicyError::DeviceNotRestorable(rdev))
        );
    }
}

#[test]
fn the_file_type_must_match_the_kind() {
    let dir = common::file(
        b"/d",
        FileVariant::Directory {
            cookie: DirCookieMode::Hash64,
        },
    );
    assert_eq!(
        check_restorable(&dir),
        Err(PolicyError::ModeMismatch(0o100644))
    );
    for mode in [0o010644, 0o140777, 0o060600, 0o120777, 0o040755] {
        assert_eq!(
            check_restorable(&with_mode(regular(b"/f"), mode)),
            Err(PolicyError::ModeMismatch(mode))
        );
    }
    let null = common::file(b"/dev/null", FileVariant::CharDevice { rdev: 0x103 });
    assert_eq!(
        check_restorable(&null),
        Err(PolicyError::ModeMismatch(0o100644))
    );
}

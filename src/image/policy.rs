// SPDX-License-Identifier: GPL-2.0

//! What restart accepts of a FILE record beyond the format itself: known open flags, a valid
//! access mode, a canonical absolute path, a file type matching the kind, and only stateless
//! character devices.
//!
//! The kernel applies this before it opens anything; the tools apply the very same code, so
//! `ckpt check` and `ckpt restore` refuse exactly what the kernel would, and the host tests and
//! fuzzers exercise it.

use core::fmt;

use super::file::{File, FileVariant};

/// `O_ACCMODE`.
const O_ACCMODE: u32 = 0o3;
/// `O_APPEND`.
const O_APPEND: u32 = 0o2000;
/// `O_NONBLOCK`.
const O_NONBLOCK: u32 = 0o4000;
/// `O_DSYNC`.
const O_DSYNC: u32 = 0o10000;
/// `O_DIRECT`.
const O_DIRECT: u32 = 0o40000;
/// `O_LARGEFILE`.
const O_LARGEFILE: u32 = 0o100000;
/// `O_DIRECTORY`.
const O_DIRECTORY: u32 = 0o200000;
/// `O_NOFOLLOW`.
const O_NOFOLLOW: u32 = 0o400000;
/// `O_NOATIME`.
const O_NOATIME: u32 = 0o1000000;
/// `O_CLOEXEC`.
const O_CLOEXEC: u32 = 0o2000000;
/// `__O_SYNC` (`O_SYNC` is `__O_SYNC | O_DSYNC`).
const O_SYNC_BIT: u32 = 0o4000000;

/// The `f_flags` an image may carry: what `open(2)` keeps in `f_flags` (x86-64 values, which
/// the image format uses).
pub const KNOWN_F_FLAGS: u32 = O_ACCMODE
    | O_APPEND
    | O_NONBLOCK
    | O_DSYNC
    | O_SYNC_BIT
    | O_DIRECT
    | O_LARGEFILE
    | O_DIRECTORY
    | O_NOFOLLOW
    | O_NOATIME
    | O_CLOEXEC;

/// Character devices restart reopens, as `huge_encode_dev` numbers: 1:3 null, 1:5 zero,
/// 1:7 full, 1:8 random, 1:9 urandom. Stateless, so opening them has no effect.
pub const RESTORABLE_CHAR_DEVICES: &[u64] = &[0x103, 0x105, 0x107, 0x108, 0x109];

/// `S_IFMT` and the file types kinds map to.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;

/// Why restart would refuse a file record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// `f_flags` has bits outside [`KNOWN_F_FLAGS`].
    UnknownFlags(u32),
    /// The access mode is `O_ACCMODE` (no such mode).
    BadAccessMode,
    /// The path is not absolute, or has an empty, `.` or `..` component.
    PathNotCanonical,
    /// A character device restart does not reopen.
    DeviceNotRestorable(u64),
    /// The file type of `mode` does not match the record's kind.
    ModeMismatch(u32),
    /// memfd seals outside [`MEMFD_SEALS_ALL`](super::MEMFD_SEALS_ALL).
    UnknownSeals(u32),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::UnknownFlags(bits) => write!(f, "unknown file flags {bits:#o}"),
            PolicyError::BadAccessMode => f.write_str("invalid access mode"),
            PolicyError::PathNotCanonical => f.write_str("path is not absolute and canonical"),
            PolicyError::DeviceNotRestorable(rdev) => {
                write!(f, "char device {rdev:#x} is not one restart reopens")
            }
            PolicyError::ModeMismatch(mode) => {
                write!(f, "mode {mode:o} does not match the file's kind")
            }
            PolicyError::UnknownSeals(seals) => write!(f, "unknown memfd seals {seals:#x}"),
        }
    }
}

/// An absolute path with no empty, `.` or `..` component: what `d_path()` produces. Restart
/// opens nothing else, so an image cannot make it walk anywhere a checkpoint would not record.
pub fn is_canonical_path(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/") else {
        return false;
    };
    rest.is_empty()
        || rest
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Checks what restart requires of `file` before opening it. External fds are not opened, so
/// anything goes for them.
pub fn check_restorable(file: &File<'_>) -> Result<(), PolicyError> {
    let expected = match file.variant {
        FileVariant::External { .. } => return Ok(()),
        FileVariant::Regular | FileVariant::Ext { .. } | FileVariant::Unlinked { .. } => S_IFREG,
        FileVariant::Memfd { seals, .. } => {
            if seals & !super::MEMFD_SEALS_ALL != 0 {
                return Err(PolicyError::UnknownSeals(seals));
            }
            S_IFREG
        }
        FileVariant::Directory { .. } | FileVariant::ExtDirectory { .. } => S_IFDIR,
        FileVariant::CharDevice { rdev } => {
            if !RESTORABLE_CHAR_DEVICES.contains(&rdev) {
                return Err(PolicyError::DeviceNotRestorable(rdev));
            }
            S_IFCHR
        }
    };
    if file.f_flags & !KNOWN_F_FLAGS != 0 {
        return Err(PolicyError::UnknownFlags(file.f_flags & !KNOWN_F_FLAGS));
    }
    if file.f_flags & O_ACCMODE == O_ACCMODE {
        return Err(PolicyError::BadAccessMode);
    }
    // A memfd has no path: it is created anew, by name.
    let named = !matches!(file.variant, FileVariant::Memfd { .. });
    if named && !is_canonical_path(file.path) {
        return Err(PolicyError::PathNotCanonical);
    }
    if file.mode & S_IFMT != expected {
        return Err(PolicyError::ModeMismatch(file.mode));
    }
    Ok(())
}

// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `/dev/ckpt`, as declared in `include/uapi/linux/ckpt.h`.
//!
//! The structs are generated from that header by bindgen at build time (see `Kbuild`), so they
//! cannot drift from what user space compiles against. The ioctl numbers are computed here from
//! the generated struct sizes with the same `_IOWR` encoding as the C macros.
//!
//! Every argument struct is extensible: the size user space was built with travels in the
//! `_IOC_SIZE` bits of the command, and [`read_ext`]/[`write_ext`] implement the
//! `copy_struct_from_user()`/`copy_struct_to_user()` rules on it.

use kernel::{
    ioctl::{_IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE, _IOWR},
    prelude::*,
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice},
};

#[allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    unreachable_pub,
    clippy::all
)]
mod generated {
    include!("uapi_generated.rs");
}

pub(crate) use generated::{
    ckpt_checkpoint, CKPT_CHECKPOINT_SIZE_VER0, CKPT_MAX_EXTERNAL_FDS, CKPT_REASON_BAD_ARGUMENT,
    CKPT_REASON_INTERRUPTED, CKPT_REASON_NONE, CKPT_REASON_OUTPUT, CKPT_REASON_PATH_UNREACHABLE,
    CKPT_REASON_TARGET, CKPT_REASON_TOO_LARGE, CKPT_REASON_UNLINKED_FILE,
    CKPT_REASON_UNSUPPORTED_FILE,
};
pub(crate) use generated::{
    ckpt_env, ckpt_version, CKPT_ABI_VERSION, CKPT_ENV_SIZE_VER0, CKPT_MODULE_VERSION_LEN,
    CKPT_VERSION_SIZE_VER0,
};
pub(crate) use generated::{
    ckpt_restart, CKPT_REASON_BAD_IMAGE, CKPT_REASON_ENV_MISMATCH, CKPT_REASON_EXTERNAL_MISSING,
    CKPT_REASON_FD_BUSY, CKPT_REASON_FILE_ACCESS, CKPT_REASON_FILE_CHANGED,
    CKPT_REASON_FILE_MISSING, CKPT_REASON_FILE_REPLACED, CKPT_REASON_IMAGE_VERSION,
    CKPT_REASON_INPUT, CKPT_RESTART_ACCEPT_ADVISORY, CKPT_RESTART_FLAGS_ALL,
    CKPT_RESTART_IGNORE_CONTENT, CKPT_RESTART_MAX_IMAGE, CKPT_RESTART_REPLACE_FDS,
    CKPT_RESTART_SIZE_VER0,
};
pub(crate) use generated::{
    ckpt_restart_commit, CKPT_RESTART_AS_CALLER, CKPT_RESTART_COMMIT_SIZE_VER0,
    CKPT_RESTART_PROCESS, CKPT_RESTART_PROCESS_FLAGS,
};
pub(crate) use generated::{CKPT_CHECKPOINT_CONTENTS_UNLIMITED, CKPT_CHECKPOINT_FILE_CONTENTS};
pub(crate) use generated::{
    CKPT_CHECKPOINT_FLAGS_ALL, CKPT_CHECKPOINT_PROCESS, CKPT_REASON_UNSUPPORTED_MEMORY,
    CKPT_REASON_UNSUPPORTED_STATE,
};

// SAFETY: `ckpt_version` is a `repr(C)` struct of integers and a byte array with no padding
// (checked below), so every bit pattern is valid and all of its bytes are initialised.
unsafe impl FromBytes for ckpt_version {}
// SAFETY: See the `FromBytes` impl above.
unsafe impl AsBytes for ckpt_version {}

// No implicit padding: the sum of the fields is the size of the struct.
const _: () = assert!(
    core::mem::size_of::<ckpt_version>() == 8 + 4 * 4 + generated::CKPT_MODULE_VERSION_LEN as usize
);
const _: () = assert!(core::mem::size_of::<ckpt_version>() >= CKPT_VERSION_SIZE_VER0 as usize);

// SAFETY: `ckpt_env` is a `repr(C)` struct of integers with no padding (checked below), so every
// bit pattern is valid and all of its bytes are initialised.
unsafe impl FromBytes for ckpt_env {}
// SAFETY: See the `FromBytes` impl above.
unsafe impl AsBytes for ckpt_env {}

// No implicit padding: the sum of the fields is the size of the struct.
const _: () = assert!(core::mem::size_of::<ckpt_env>() == 8 + 8 + 4 + 4);
const _: () = assert!(core::mem::size_of::<ckpt_env>() >= CKPT_ENV_SIZE_VER0 as usize);

// SAFETY: `ckpt_checkpoint` is a `repr(C)` struct of integers with no padding (checked below), so
// every bit pattern is valid and all of its bytes are initialised.
unsafe impl FromBytes for ckpt_checkpoint {}
// SAFETY: See the `FromBytes` impl above.
unsafe impl AsBytes for ckpt_checkpoint {}

// No implicit padding: the sum of the fields is the size of the struct.
const _: () =
    assert!(core::mem::size_of::<ckpt_checkpoint>() == 8 + 4 + 4 + 8 + 4 + 4 + 8 * 3 + 4 + 4);
const _: () =
    assert!(core::mem::size_of::<ckpt_checkpoint>() >= CKPT_CHECKPOINT_SIZE_VER0 as usize);

// SAFETY: `ckpt_restart` is a `repr(C)` struct of integers with no padding (checked below), so
// every bit pattern is valid and all of its bytes are initialised.
unsafe impl FromBytes for ckpt_restart {}
// SAFETY: See the `FromBytes` impl above.
unsafe impl AsBytes for ckpt_restart {}

// No implicit padding: the sum of the fields is the size of the struct.
const _: () = assert!(core::mem::size_of::<ckpt_restart>() == 8 + 4 + 4 + 8 * 3 + 4 * 4);
const _: () = assert!(core::mem::size_of::<ckpt_restart>() >= CKPT_RESTART_SIZE_VER0 as usize);

// SAFETY: `ckpt_restart_commit` is a `repr(C)` struct of integers with no padding (checked
// below), so every bit pattern is valid and all of its bytes are initialised.
unsafe impl FromBytes for ckpt_restart_commit {}
// SAFETY: See the `FromBytes` impl above.
unsafe impl AsBytes for ckpt_restart_commit {}

// No implicit padding: the sum of the fields is the size of the struct.
const _: () = assert!(core::mem::size_of::<ckpt_restart_commit>() == 8 + 8 + 4 + 4);
const _: () =
    assert!(core::mem::size_of::<ckpt_restart_commit>() >= CKPT_RESTART_COMMIT_SIZE_VER0 as usize);

/// The ioctl type byte of `/dev/ckpt`.
const MAGIC: u32 = generated::CKPT_IOC_MAGIC;

/// `CKPT_IOC_VERSION`, with the size of the struct this module was built with.
pub(crate) const CKPT_IOC_VERSION: u32 = _IOWR::<ckpt_version>(MAGIC, 0x00);

/// `CKPT_IOC_ENV`, with the size of the struct this module was built with.
pub(crate) const CKPT_IOC_ENV: u32 = _IOWR::<ckpt_env>(MAGIC, 0x01);

/// `CKPT_IOC_CHECKPOINT`, with the size of the struct this module was built with.
pub(crate) const CKPT_IOC_CHECKPOINT: u32 = _IOWR::<ckpt_checkpoint>(MAGIC, 0x02);

/// `CKPT_IOC_RESTART`, with the size of the struct this module was built with.
pub(crate) const CKPT_IOC_RESTART: u32 = _IOWR::<ckpt_restart>(MAGIC, 0x03);

/// `CKPT_IOC_RESTART_COMMIT`, with the size of the struct this module was built with.
pub(crate) const CKPT_IOC_RESTART_COMMIT: u32 = _IOWR::<ckpt_restart_commit>(MAGIC, 0x04);

/// An ioctl command of `/dev/ckpt`, decoded from the command number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `CKPT_IOC_VERSION`.
    Version,
    /// `CKPT_IOC_ENV`.
    Env,
    /// `CKPT_IOC_CHECKPOINT`.
    Checkpoint,
    /// `CKPT_IOC_RESTART`.
    Restart,
    /// `CKPT_IOC_RESTART_COMMIT`.
    RestartCommit,
}

/// A decoded ioctl: which command, and the struct size user space passed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ioctl {
    /// The command.
    pub(crate) command: Command,
    /// `_IOC_SIZE` of the command number: the size of user space's struct.
    pub(crate) user_size: usize,
}

impl Ioctl {
    /// Decodes `cmd`, ignoring the size bits so that older and newer user space match.
    ///
    /// Returns `None` for a command this module does not implement (the caller answers
    /// `ENOTTY`).
    pub(crate) fn decode(cmd: u32) -> Option<Self> {
        let same = |known: u32| {
            _IOC_TYPE(cmd) == _IOC_TYPE(known)
                && _IOC_NR(cmd) == _IOC_NR(known)
                && _IOC_DIR(cmd) == _IOC_DIR(known)
        };
        let command = if same(CKPT_IOC_VERSION) {
            Command::Version
        } else if same(CKPT_IOC_ENV) {
            Command::Env
        } else if same(CKPT_IOC_CHECKPOINT) {
            Command::Checkpoint
        } else if same(CKPT_IOC_RESTART) {
            Command::Restart
        } else if same(CKPT_IOC_RESTART_COMMIT) {
            Command::RestartCommit
        } else {
            return None;
        };
        Some(Self {
            command,
            user_size: _IOC_SIZE(cmd),
        })
    }
}

/// Size of the bounce buffer used to check that unknown trailing bytes are zero.
const ZERO_CHECK_CHUNK: usize = 64;

/// Reads an extensible struct of `user_size` bytes from `arg` (`copy_struct_from_user()`).
///
/// - `user_size < ver0`: `EINVAL` (older than the first published struct);
/// - `user_size > size_of::<T>()`: `E2BIG` unless every byte past `T` is zero;
/// - fields user space does not know keep their `Default` (zero) value.
pub(crate) fn read_ext<T>(arg: usize, user_size: usize, ver0: usize) -> Result<T>
where
    T: FromBytes + AsBytes + Default,
{
    if user_size < ver0 {
        return Err(EINVAL);
    }
    let mut value = T::default();
    let known = core::mem::size_of::<T>();
    let mut reader = UserSlice::new(UserPtr::from_addr(arg), user_size).reader();
    let common = known.min(user_size);
    reader.read_slice(&mut value.as_bytes_mut()[..common])?;

    let mut chunk = [0u8; ZERO_CHECK_CHUNK];
    while !reader.is_empty() {
        let n = reader.len().min(ZERO_CHECK_CHUNK);
        reader.read_slice(&mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Err(E2BIG);
        }
    }
    Ok(value)
}

/// Writes `value` back to an extensible struct of `user_size` bytes (`copy_struct_to_user()`).
///
/// Writes `min(user_size, size_of::<T>())` bytes and zeroes user bytes past `T`.
pub(crate) fn write_ext<T: AsBytes>(arg: usize, user_size: usize, value: &T) -> Result {
    let bytes = value.as_bytes();
    let mut writer = UserSlice::new(UserPtr::from_addr(arg), user_size).writer();
    writer.write_slice(&bytes[..bytes.len().min(user_size)])?;
    let zeros = [0u8; ZERO_CHECK_CHUNK];
    while !writer.is_empty() {
        let n = writer.len().min(ZERO_CHECK_CHUNK);
        writer.write_slice(&zeros[..n])?;
    }
    Ok(())
}

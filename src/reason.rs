// SPDX-License-Identifier: GPL-2.0

//! `enum ckpt_reason` of `include/uapi/linux/ckpt.h`: why `CKPT_IOC_CHECKPOINT` or
//! `CKPT_IOC_RESTART` failed, with the errnos `Documentation/checkpoint.rst` and
//! `Documentation/restart.rst` pair each reason with.
//!
//! Plain `core` Rust, compiled into the module (`src/error.rs` builds every error from it) and
//! into `tools/ckpt-sys` (reason names; host tests check this table against the header and
//! against the two documentation tables). Both builds check the values against the generated
//! constants.

/// Errno numbers (asm-generic, as on x86-64 and arm64), checked against the kernel's in the
/// module and against libc's in `ckpt-sys`. Named as in `errno(3)`.
#[allow(missing_docs)]
pub mod errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const EINTR: i32 = 4;
    pub const ENOEXEC: i32 = 8;
    pub const EBADF: i32 = 9;
    pub const EBUSY: i32 = 16;
    pub const EXDEV: i32 = 18;
    pub const EINVAL: i32 = 22;
    pub const EMFILE: i32 = 24;
    pub const EFBIG: i32 = 27;
    pub const E2BIG: i32 = 7;
    pub const ENAMETOOLONG: i32 = 36;
    pub const EBADMSG: i32 = 74;
    pub const EOPNOTSUPP: i32 = 95;
    pub const ESTALE: i32 = 116;
}

use errno::*;

/// A `CKPT_REASON_*` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// Success, or the errno says it all (`EFAULT`, `ENOMEM`).
    None = 0,
    /// A field of the ioctl's struct is invalid.
    BadArgument = 1,
    /// The pid is not found, not traced by the caller, or not stopped.
    Target = 2,
    /// No checkpoint implementation claims `err_fd`.
    UnsupportedFile = 3,
    /// `err_fd` is open on a deleted file.
    UnlinkedFile = 4,
    /// `err_fd`'s path (or the task's cwd or root) is outside the task's root.
    PathUnreachable = 5,
    /// A path, handle, table or image exceeds a limit.
    TooLarge = 6,
    /// Writing the image failed.
    Output = 7,
    /// A fatal signal arrived while writing or reading.
    Interrupted = 8,
    /// Restart: a malformed or inconsistent image.
    BadImage = 9,
    /// Restart: an image format version this module does not read.
    ImageVersion = 10,
    /// Restart: the environment or task vector does not match the running kernel.
    EnvMismatch = 11,
    /// Restart: `err_fd`'s file no longer exists.
    FileMissing = 12,
    /// Restart: another file is at `err_fd`'s path.
    FileReplaced = 13,
    /// Restart: `err_fd`'s file changed size or mtime.
    FileChanged = 14,
    /// Restart: opening `err_fd`'s file failed.
    FileAccess = 15,
    /// Restart: `err_fd` is open in the caller.
    FdBusy = 16,
    /// Restart: an external `err_fd` is not open in the caller.
    ExternalMissing = 17,
    /// Restart: reading the image failed.
    Input = 18,
    /// Checkpoint of a whole process: a mapping of a kind not supported yet.
    UnsupportedMemory = 19,
    /// Checkpoint of a whole process: process state not supported yet.
    UnsupportedState = 20,
}

/// Which errnos a reason comes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errnos {
    /// Those of the operation that failed (the write, the read, the open), or any.
    Passed,
    /// Exactly these.
    Only(&'static [i32]),
}

impl Reason {
    /// Every reason, in value order: `ALL[n] as u32 == n`.
    pub const ALL: [Reason; 21] = [
        Reason::None,
        Reason::BadArgument,
        Reason::Target,
        Reason::UnsupportedFile,
        Reason::UnlinkedFile,
        Reason::PathUnreachable,
        Reason::TooLarge,
        Reason::Output,
        Reason::Interrupted,
        Reason::BadImage,
        Reason::ImageVersion,
        Reason::EnvMismatch,
        Reason::FileMissing,
        Reason::FileReplaced,
        Reason::FileChanged,
        Reason::FileAccess,
        Reason::FdBusy,
        Reason::ExternalMissing,
        Reason::Input,
        Reason::UnsupportedMemory,
        Reason::UnsupportedState,
    ];

    /// The reason of a `reason` field, `None` for a value this table does not know.
    pub fn from_u32(value: u32) -> Option<Reason> {
        Self::ALL.get(usize::try_from(value).ok()?).copied()
    }

    /// The name the CLI prints: the constant's name after `CKPT_REASON_`, lower case.
    pub const fn name(self) -> &'static str {
        match self {
            Reason::None => "none",
            Reason::BadArgument => "bad_argument",
            Reason::Target => "target",
            Reason::UnsupportedFile => "unsupported_file",
            Reason::UnlinkedFile => "unlinked_file",
            Reason::PathUnreachable => "path_unreachable",
            Reason::TooLarge => "too_large",
            Reason::Output => "output",
            Reason::Interrupted => "interrupted",
            Reason::BadImage => "bad_image",
            Reason::ImageVersion => "image_version",
            Reason::EnvMismatch => "env_mismatch",
            Reason::FileMissing => "file_missing",
            Reason::FileReplaced => "file_replaced",
            Reason::FileChanged => "file_changed",
            Reason::FileAccess => "file_access",
            Reason::FdBusy => "fd_busy",
            Reason::ExternalMissing => "external_missing",
            Reason::Input => "input",
            Reason::UnsupportedMemory => "unsupported_memory",
            Reason::UnsupportedState => "unsupported_state",
        }
    }

    /// The errnos the documentation pairs with this reason (both ioctls together).
    pub const fn errnos(self) -> Errnos {
        match self {
            Reason::None | Reason::Output | Reason::FileAccess | Reason::Input => Errnos::Passed,
            Reason::BadArgument => Errnos::Only(&[EINVAL, EBADF]),
            Reason::Target => Errnos::Only(&[ESRCH, EPERM, EBUSY]),
            Reason::UnsupportedFile
            | Reason::UnlinkedFile
            | Reason::UnsupportedMemory
            | Reason::UnsupportedState => Errnos::Only(&[EOPNOTSUPP]),
            Reason::PathUnreachable => Errnos::Only(&[EXDEV]),
            Reason::TooLarge => Errnos::Only(&[E2BIG, ENAMETOOLONG, EFBIG, EMFILE]),
            Reason::Interrupted => Errnos::Only(&[EINTR]),
            Reason::BadImage => Errnos::Only(&[EBADMSG, EOPNOTSUPP, EINVAL]),
            Reason::ImageVersion | Reason::EnvMismatch => Errnos::Only(&[ENOEXEC]),
            Reason::FileMissing => Errnos::Only(&[ENOENT, ESTALE]),
            Reason::FileReplaced | Reason::FileChanged => Errnos::Only(&[ESTALE]),
            Reason::FdBusy => Errnos::Only(&[EBUSY]),
            Reason::ExternalMissing => Errnos::Only(&[EBADF]),
        }
    }

    /// Whether the documentation pairs `errno` (positive) with this reason.
    pub const fn allows(self, errno: i32) -> bool {
        match self.errnos() {
            Errnos::Passed => true,
            Errnos::Only(list) => {
                let mut i = 0;
                while i < list.len() {
                    if list[i] == errno {
                        return true;
                    }
                    i += 1;
                }
                false
            }
        }
    }
}

// `ALL` is in value order, with no gap.
const _: () = {
    let mut i = 0;
    while i < Reason::ALL.len() {
        assert!(Reason::ALL[i] as usize == i);
        i += 1;
    }
};

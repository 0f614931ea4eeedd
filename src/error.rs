// SPDX-License-Identifier: GPL-2.0

//! The domain error of checkpoint and restart: an errno for the syscall, plus what user space
//! needs to act on it: a reason code, the fd (and for restart the image record) at fault, and a
//! one-line message.

use core::fmt::{self, Write};

use kernel::{
    bindings,
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use crate::{reason::Reason, uapi};

/// Longest message kept; longer ones are cut (the user's buffer may be shorter still).
pub(crate) const MESSAGE_LEN: usize = 1024;

/// A one-line message in a fixed buffer: no allocation on error paths.
pub(crate) struct Message {
    buf: [u8; MESSAGE_LEN],
    len: usize,
}

impl Message {
    /// An empty message.
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; MESSAGE_LEN],
            len: 0,
        }
    }

    /// The message's bytes (no NUL).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Appends raw bytes, replacing anything that is not printable ASCII.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let b = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Truncation is not an error: the message is advisory.
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

/// Why checkpoint or restart failed.
///
/// Built only through the named constructors below, one per [`Reason`], each with an errno the
/// documentation pairs with that reason (`Reason::errnos`, the table host tests check against
/// `Documentation/checkpoint.rst` and `Documentation/restart.rst`).
pub(crate) struct CkptError {
    /// What the ioctl returns.
    pub(crate) errno: Error,
    /// `enum ckpt_reason`.
    pub(crate) reason: Reason,
    /// The target's (checkpoint) or the image's (restart) fd at fault, or -1.
    pub(crate) fd: i32,
    /// Restart: object id of the image record at fault, or 0.
    pub(crate) record: u64,
    /// One line for people; boxed to keep `Result`s small, `None` if memory ran out.
    message: Option<KBox<Message>>,
}

// The shared table's values are the header's, and its errno numbers the kernel's.
const _: () = {
    use crate::reason::errno;
    let header = [
        uapi::CKPT_REASON_NONE,
        uapi::CKPT_REASON_BAD_ARGUMENT,
        uapi::CKPT_REASON_TARGET,
        uapi::CKPT_REASON_UNSUPPORTED_FILE,
        uapi::CKPT_REASON_UNLINKED_FILE,
        uapi::CKPT_REASON_PATH_UNREACHABLE,
        uapi::CKPT_REASON_TOO_LARGE,
        uapi::CKPT_REASON_OUTPUT,
        uapi::CKPT_REASON_INTERRUPTED,
        uapi::CKPT_REASON_BAD_IMAGE,
        uapi::CKPT_REASON_IMAGE_VERSION,
        uapi::CKPT_REASON_ENV_MISMATCH,
        uapi::CKPT_REASON_FILE_MISSING,
        uapi::CKPT_REASON_FILE_REPLACED,
        uapi::CKPT_REASON_FILE_CHANGED,
        uapi::CKPT_REASON_FILE_ACCESS,
        uapi::CKPT_REASON_FD_BUSY,
        uapi::CKPT_REASON_EXTERNAL_MISSING,
        uapi::CKPT_REASON_INPUT,
        uapi::CKPT_REASON_UNSUPPORTED_MEMORY,
        uapi::CKPT_REASON_UNSUPPORTED_STATE,
    ];
    assert!(header.len() == Reason::ALL.len());
    let mut i = 0;
    while i < header.len() {
        assert!(header[i] == Reason::ALL[i] as u32);
        i += 1;
    }
    let pairs = [
        (errno::EPERM, bindings::EPERM),
        (errno::ENOENT, bindings::ENOENT),
        (errno::ESRCH, bindings::ESRCH),
        (errno::EINTR, bindings::EINTR),
        (errno::ENOEXEC, bindings::ENOEXEC),
        (errno::EBADF, bindings::EBADF),
        (errno::EBUSY, bindings::EBUSY),
        (errno::EXDEV, bindings::EXDEV),
        (errno::EINVAL, bindings::EINVAL),
        (errno::EMFILE, bindings::EMFILE),
        (errno::EFBIG, bindings::EFBIG),
        (errno::E2BIG, bindings::E2BIG),
        (errno::ENAMETOOLONG, bindings::ENAMETOOLONG),
        (errno::EBADMSG, bindings::EBADMSG),
        (errno::EOPNOTSUPP, bindings::EOPNOTSUPP),
        (errno::ESTALE, bindings::ESTALE),
    ];
    let mut i = 0;
    while i < pairs.len() {
        assert!(pairs[i].0 as u32 == pairs[i].1);
        i += 1;
    }
};

/// Formats `args` into a message; `None` if memory ran out (the message is advisory).
fn message(args: fmt::Arguments<'_>) -> Option<KBox<Message>> {
    KBox::new(Message::new(), GFP_KERNEL).ok().map(|mut m| {
        let _ = m.write_fmt(args);
        m
    })
}

impl CkptError {
    /// An error of `reason` with `errno`, which the documentation must pair with it.
    fn with(reason: Reason, errno: Error, args: fmt::Arguments<'_>) -> Self {
        // A pairing the documentation does not promise is a bug of this module.
        kernel::warn_on!(!reason.allows(-errno.to_errno()));
        Self {
            errno,
            reason,
            fd: -1,
            record: 0,
            message: message(args),
        }
    }

    /// The same error, blamed on the target's or the image's `fd`; the message is prefixed
    /// with "fd N: ".
    pub(crate) fn at_fd(mut self, fd: u32) -> Self {
        self.fd = i32::try_from(fd).unwrap_or(i32::MAX);
        if let Some(prefixed) = message(format_args!("fd {}: {self}", self.fd)) {
            self.message = Some(prefixed);
        }
        self
    }

    /// The same error, its message prefixed with `what` (e.g. "mapping 1000-2000: ").
    pub(crate) fn about(mut self, what: fmt::Arguments<'_>) -> Self {
        if let Some(prefixed) = message(format_args!("{what}: {self}")) {
            self.message = Some(prefixed);
        }
        self
    }

    /// The same error, blamed on image record `id`.
    pub(crate) fn in_record(mut self, id: u64) -> Self {
        self.record = id;
        self
    }

    /// The message's bytes (empty if it could not be allocated).
    pub(crate) fn message(&self) -> &[u8] {
        self.message.as_deref().map_or(&[], Message::as_bytes)
    }

    /// `CKPT_REASON_NONE`: the errno says it all (`EFAULT`, `ENOMEM`...).
    pub(crate) fn other(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::None, errno, args)
    }

    /// `CKPT_REASON_BAD_ARGUMENT`, `EINVAL`: a field of the struct is invalid.
    pub(crate) fn bad_argument(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::BadArgument, EINVAL, args)
    }

    /// `CKPT_REASON_BAD_ARGUMENT`, `EBADF`: an fd of the struct is not usable.
    pub(crate) fn bad_fd(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::BadArgument, EBADF, args)
    }

    /// `CKPT_REASON_TARGET`: `ESRCH` no such task, `EPERM` not traced by the caller, `EBUSY`
    /// traced but running, or multi-threaded.
    pub(crate) fn target(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::Target, errno, args)
    }

    /// `CKPT_REASON_UNSUPPORTED_FILE`, `EOPNOTSUPP`: no implementation claims the file.
    pub(crate) fn unsupported_file(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::UnsupportedFile, EOPNOTSUPP, args)
    }

    /// `CKPT_REASON_UNLINKED_FILE`, `EOPNOTSUPP`: the file was deleted.
    pub(crate) fn unlinked_file(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::UnlinkedFile, EOPNOTSUPP, args)
    }

    /// `CKPT_REASON_PATH_UNREACHABLE`, `EXDEV`: outside the task's root.
    pub(crate) fn path_unreachable(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::PathUnreachable, EXDEV, args)
    }

    /// `CKPT_REASON_TOO_LARGE`: `E2BIG` (a record or handle too large for the image format),
    /// `ENAMETOOLONG` (a path over `PATH_MAX`), `EFBIG` (an image over
    /// `CKPT_RESTART_MAX_IMAGE`), `EMFILE` (an fd not below `RLIMIT_NOFILE`).
    pub(crate) fn too_large(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::TooLarge, errno, args)
    }

    /// `CKPT_REASON_OUTPUT`, the write's errno.
    pub(crate) fn output(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::Output, errno, args)
    }

    /// `CKPT_REASON_INTERRUPTED`, `EINTR`: a fatal signal.
    pub(crate) fn interrupted(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::Interrupted, EINTR, args)
    }

    /// `CKPT_REASON_BAD_IMAGE`, `EBADMSG`: malformed or inconsistent.
    pub(crate) fn bad_image(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::BadImage, EBADMSG, args)
    }

    /// `CKPT_REASON_BAD_IMAGE`, `EOPNOTSUPP`: well formed, but not restartable yet.
    pub(crate) fn unsupported_image(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::BadImage, EOPNOTSUPP, args)
    }

    /// `CKPT_REASON_BAD_IMAGE`, `EINVAL`: a file position the file system refuses.
    pub(crate) fn bad_position(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::BadImage, EINVAL, args)
    }

    /// `CKPT_REASON_IMAGE_VERSION`, `ENOEXEC`.
    pub(crate) fn image_version(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::ImageVersion, ENOEXEC, args)
    }

    /// `CKPT_REASON_ENV_MISMATCH`, `ENOEXEC`.
    pub(crate) fn env_mismatch(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::EnvMismatch, ENOEXEC, args)
    }

    /// `CKPT_REASON_FILE_MISSING`: `ENOENT` nothing at the path, `ESTALE` the file handle
    /// finds no inode.
    pub(crate) fn file_missing(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::FileMissing, errno, args)
    }

    /// `CKPT_REASON_FILE_REPLACED`, `ESTALE`: another file is there.
    pub(crate) fn file_replaced(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::FileReplaced, ESTALE, args)
    }

    /// `CKPT_REASON_FILE_CHANGED`, `ESTALE`: size or mtime differ.
    pub(crate) fn file_changed(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::FileChanged, ESTALE, args)
    }

    /// `CKPT_REASON_FILE_ACCESS`, the open's (or lookup's) errno.
    pub(crate) fn file_access(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::FileAccess, errno, args)
    }

    /// `CKPT_REASON_FD_BUSY`, `EBUSY`: the fd is open in the caller.
    pub(crate) fn fd_busy(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::FdBusy, EBUSY, args)
    }

    /// `CKPT_REASON_EXTERNAL_MISSING`, `EBADF`: an external fd is not open in the caller.
    pub(crate) fn external_missing(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::ExternalMissing, EBADF, args)
    }

    /// `CKPT_REASON_INPUT`, the read's errno.
    pub(crate) fn input(errno: Error, args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::Input, errno, args)
    }

    /// `CKPT_REASON_UNSUPPORTED_MEMORY`, `EOPNOTSUPP`: a mapping of a kind not supported yet.
    pub(crate) fn unsupported_memory(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::UnsupportedMemory, EOPNOTSUPP, args)
    }

    /// `CKPT_REASON_UNSUPPORTED_STATE`, `EOPNOTSUPP`: process state not supported yet.
    pub(crate) fn unsupported_state(args: fmt::Arguments<'_>) -> Self {
        Self::with(Reason::UnsupportedState, EOPNOTSUPP, args)
    }
}

impl From<kernel::alloc::AllocError> for CkptError {
    fn from(e: kernel::alloc::AllocError) -> Self {
        Error::from(e).into()
    }
}

impl fmt::Display for CkptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(core::str::from_utf8(self.message()).unwrap_or("?"))
    }
}

impl From<Error> for CkptError {
    fn from(errno: Error) -> Self {
        Self::other(errno, format_args!("{errno:?}"))
    }
}

/// The fields of an ioctl's struct that report a failure.
pub(crate) trait Report: AsBytes {
    /// The user's log buffer: address and size.
    fn log(&self) -> (u64, u32);
    /// Sets `err_fd`, `reason` and (restart) `err_record`; `None` on success.
    fn set_error(&mut self, error: Option<&CkptError>);
}

/// Writes the outcome of checkpoint or restart back to user space, the one way both ioctls
/// report: the error fields (cleared on success), the message into the user's log buffer on
/// failure, then the struct itself (`write_ext`), also on failure. Returns the ioctl's result.
pub(crate) fn report<T: Report>(
    arg: usize,
    user_size: usize,
    args: &mut T,
    outcome: CkptResult,
) -> Result {
    args.set_error(outcome.as_ref().err());
    if let Err(e) = &outcome {
        let (buf, size) = args.log();
        copy_to_log(buf, size, e.message())?;
    }
    uapi::write_ext(arg, user_size, args)?;
    outcome.map_err(|e| e.errno)
}

/// Copies `message` and a NUL into a user's log buffer of `size` bytes at `buf` (0: none),
/// cut to fit.
fn copy_to_log(buf: u64, size: u32, message: &[u8]) -> Result {
    let size = size as usize;
    if buf == 0 || size == 0 {
        return Ok(());
    }
    let len = message.len().min(size - 1);
    let ptr = UserPtr::from_addr(usize::try_from(buf).map_err(|_| EFAULT)?);
    let mut writer = UserSlice::new(ptr, len + 1).writer();
    writer.write_slice(&message[..len])?;
    writer.write_slice(&[0])
}

/// `Result` of checkpoint code.
pub(crate) type CkptResult<T = ()> = core::result::Result<T, CkptError>;

// SPDX-License-Identifier: GPL-2.0

//! The domain error of checkpoint and restart: an errno for the syscall, plus what user space
//! needs to act on it: a reason code, the fd (and for restart the image record) at fault, and a
//! one-line message.

use core::fmt::{self, Write};

use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

use crate::uapi;

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
pub(crate) struct CkptError {
    /// What the ioctl returns.
    pub(crate) errno: Error,
    /// `enum ckpt_reason`.
    pub(crate) reason: u32,
    /// The target's (checkpoint) or the image's (restart) fd at fault, or -1.
    pub(crate) fd: i32,
    /// Restart: object id of the image record at fault, or 0.
    pub(crate) record: u64,
    /// One line for people; boxed to keep `Result`s small, `None` if memory ran out.
    message: Option<KBox<Message>>,
}

impl CkptError {
    /// An error with a formatted message.
    pub(crate) fn new(errno: Error, reason: u32, fd: i32, args: fmt::Arguments<'_>) -> Self {
        let message = KBox::new(Message::new(), GFP_KERNEL).ok().map(|mut m| {
            let _ = m.write_fmt(args);
            m
        });
        Self {
            errno,
            reason,
            fd,
            record: 0,
            message,
        }
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

    /// An error about the target's `fd`; the message starts with "fd N: ".
    pub(crate) fn fd(errno: Error, reason: u32, fd: u32, args: fmt::Arguments<'_>) -> Self {
        let fd = i32::try_from(fd).unwrap_or(i32::MAX);
        Self::new(errno, reason, fd, format_args!("fd {fd}: {args}"))
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
        Self::new(errno, uapi::CKPT_REASON_NONE, -1, format_args!("{errno:?}"))
    }
}

/// Copies `message` and a NUL into a user's log buffer of `size` bytes at `buf` (0: none),
/// cut to fit.
pub(crate) fn copy_to_log(buf: u64, size: u32, message: &[u8]) -> Result {
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

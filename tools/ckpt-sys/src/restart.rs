// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_RESTART`: restore an image's file table into the calling process.

use std::{
    ops::BitOr,
    os::fd::{AsRawFd, BorrowedFd},
};

use crate::{abi, ioc, Device, IoctlError, IOC_READ_WRITE};

/// `CKPT_IOC_RESTART`.
pub const CKPT_IOC_RESTART: u32 = ioc(
    IOC_READ_WRITE,
    abi::CKPT_IOC_MAGIC,
    0x03,
    std::mem::size_of::<abi::ckpt_restart>(),
);

/// Size of the buffer that receives the kernel's message on failure: an environment mismatch
/// lists every mismatching entry.
const LOG_SIZE: usize = 4096;

/// `ckpt_restart.flags`: a set of `CKPT_RESTART_*` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartFlags(pub u64);

impl RestartFlags {
    /// No flag: refuse busy fds, changed files and any environment mismatch.
    pub const NONE: Self = Self(0);
    /// `CKPT_RESTART_REPLACE_FDS`: close the caller's fds at the image's numbers.
    pub const REPLACE_FDS: Self = Self(abi::CKPT_RESTART_REPLACE_FDS as u64);
    /// `CKPT_RESTART_IGNORE_CONTENT`: accept files whose size or mtime changed.
    pub const IGNORE_CONTENT: Self = Self(abi::CKPT_RESTART_IGNORE_CONTENT as u64);
    /// `CKPT_RESTART_ACCEPT_ADVISORY`: accept advisory environment mismatches.
    pub const ACCEPT_ADVISORY: Self = Self(abi::CKPT_RESTART_ACCEPT_ADVISORY as u64);

    /// `self` with `other`'s bits too if `on`.
    pub fn with(self, other: Self, on: bool) -> Self {
        if on {
            self | other
        } else {
            self
        }
    }
}

impl BitOr for RestartFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// What a restart did (on failure: how far it read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartStats {
    /// Bytes of image read.
    pub bytes: u64,
    /// Fds installed in the caller (external fds excluded).
    pub nr_fds: u32,
    /// External fds of the image, kept from the caller.
    pub nr_external: u32,
}

impl Device {
    /// Restores the file table of the image read from `image` into the calling process: every
    /// file of the image is installed at its fd number, or, on failure, nothing changes.
    ///
    /// `image` is read sequentially from its current offset up to the image's terminator.
    /// Neither `image` nor this device may sit at an fd number the image restores (they would
    /// be busy, or replaced with [`RestartFlags::REPLACE_FDS`]).
    pub fn restart(
        &self,
        image: BorrowedFd<'_>,
        flags: RestartFlags,
    ) -> Result<RestartStats, IoctlError<RestartStats>> {
        let mut log = vec![0u8; LOG_SIZE];
        let mut args = abi::ckpt_restart {
            flags: flags.0,
            fd: image.as_raw_fd(),
            log_size: LOG_SIZE as u32,
            log_buf: log.as_mut_ptr() as u64,
            err_fd: -1,
            ..Default::default()
        };
        // SAFETY: `args` is a live, writable `ckpt_restart` of the size encoded in the command;
        // `args.log_buf` points to `log`, valid for writes of `log_size` bytes and outliving
        // the call. The kernel touches no other user memory.
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                CKPT_IOC_RESTART as _,
                &mut args as *mut abi::ckpt_restart,
            )
        };
        let stats = RestartStats {
            bytes: args.bytes,
            nr_fds: args.nr_fds,
            nr_external: args.nr_external,
        };
        if rc < 0 {
            return Err(IoctlError::from_kernel(
                args.reason,
                args.err_fd,
                args.err_record,
                &log,
                stats,
            ));
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_struct_and_number() {
        assert_eq!(std::mem::size_of::<abi::ckpt_restart>(), 56);
        assert_eq!(
            abi::CKPT_RESTART_SIZE_VER0 as usize,
            std::mem::size_of::<abi::ckpt_restart>()
        );
        // _IOWR(0xC7, 0x03, struct ckpt_restart) with a 56-byte struct.
        assert_eq!(CKPT_IOC_RESTART, 0xC038_C703);
    }

    #[test]
    fn flags_are_the_header_bits() {
        let all = RestartFlags::REPLACE_FDS | RestartFlags::IGNORE_CONTENT;
        let all = all.with(RestartFlags::ACCEPT_ADVISORY, true);
        assert_eq!(all.0, u64::from(abi::CKPT_RESTART_FLAGS_ALL));
        assert_eq!(
            RestartFlags::NONE.with(RestartFlags::REPLACE_FDS, false),
            RestartFlags::NONE
        );
        assert_eq!(RestartFlags::default(), RestartFlags::NONE);
    }
}

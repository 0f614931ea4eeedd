// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_CHECKPOINT`: checkpoint a task into a file descriptor.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{abi, ioc, Device, IoctlError, IOC_READ_WRITE};

/// `CKPT_IOC_CHECKPOINT`.
pub const CKPT_IOC_CHECKPOINT: u32 = ioc(
    IOC_READ_WRITE,
    abi::CKPT_IOC_MAGIC,
    0x02,
    std::mem::size_of::<abi::ckpt_checkpoint>(),
);

/// Size of the buffer that receives the kernel's message on failure.
const LOG_SIZE: usize = 512;

/// What a successful checkpoint wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Bytes of image written.
    pub bytes: u64,
    /// Records written, the terminator included.
    pub records: u64,
}

impl Device {
    /// Checkpoints `pid` (0: the caller) into `out`. `external` lists the target's fds that
    /// the restorer will supply itself; `flags` are `CKPT_CHECKPOINT_*` flags.
    pub fn checkpoint(
        &self,
        out: BorrowedFd<'_>,
        pid: i32,
        external: &[i32],
        flags: u64,
    ) -> Result<CheckpointStats, IoctlError<CheckpointStats>> {
        let mut log = vec![0u8; LOG_SIZE];
        let mut args = abi::ckpt_checkpoint {
            flags,
            fd: out.as_raw_fd(),
            pid,
            external_fds: external.as_ptr() as u64,
            nr_external_fds: external.len() as u32,
            log_size: LOG_SIZE as u32,
            log_buf: log.as_mut_ptr() as u64,
            ..Default::default()
        };
        // SAFETY: `args` is a live `ckpt_checkpoint` of the size encoded in the command; the
        // pointers in it name `external` and `log`, which outlive the call, with their sizes.
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                CKPT_IOC_CHECKPOINT as _,
                &mut args as *mut abi::ckpt_checkpoint,
            )
        };
        let stats = CheckpointStats {
            bytes: args.bytes,
            records: args.records,
        };
        if rc < 0 {
            return Err(IoctlError::from_kernel(
                args.reason,
                args.err_fd,
                0,
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
    fn checkpoint_struct_and_number() {
        assert_eq!(std::mem::size_of::<abi::ckpt_checkpoint>(), 64);
        assert_eq!(
            abi::CKPT_CHECKPOINT_SIZE_VER0 as usize,
            std::mem::size_of::<abi::ckpt_checkpoint>()
        );
        assert_eq!(CKPT_IOC_CHECKPOINT, 0xC040_C702);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! User-space side of the `/dev/ckpt` ioctl ABI.
//!
//! The structs and constants are generated at build time from `include/uapi/linux/ckpt.h`,
//! the header the kernel module is generated from, and the ioctl numbers are computed from the
//! generated struct sizes with the kernel's `_IOC` encoding. [`Device`] wraps the ioctls in a
//! safe API; [`fd`] has the few descriptor primitives a restorer needs (memfd, moving an fd out
//! of the way of the image's fd numbers).

use std::{
    ffi::CStr,
    fs::{File, OpenOptions},
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd},
    path::Path,
};

mod checkpoint;
mod error;
pub mod fd;
#[path = "../../../src/reason.rs"]
mod reason;
mod restart;

pub use checkpoint::{CheckpointStats, CKPT_IOC_CHECKPOINT};
pub use error::{reason_name, IoctlError};
pub use reason::{errno, Errnos, Reason};
pub use restart::{RestartFlags, RestartStats, CKPT_IOC_RESTART};

/// The generated ABI: structs and constants of `include/uapi/linux/ckpt.h`.
#[allow(non_camel_case_types, non_upper_case_globals, dead_code, clippy::all)]
pub mod abi {
    include!(concat!(env!("OUT_DIR"), "/uapi_generated.rs"));
}

/// `_IOC_WRITE | _IOC_READ` in the `_IOC` encoding of x86, arm64 and most architectures.
const IOC_READ_WRITE: u32 = 3;

/// `_IOC(dir, type, nr, size)`, as in `include/uapi/asm-generic/ioctl.h`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// `CKPT_IOC_VERSION`.
pub const CKPT_IOC_VERSION: u32 = ioc(
    IOC_READ_WRITE,
    abi::CKPT_IOC_MAGIC,
    0x00,
    std::mem::size_of::<abi::ckpt_version>(),
);

/// `CKPT_IOC_ENV`.
pub const CKPT_IOC_ENV: u32 = ioc(
    IOC_READ_WRITE,
    abi::CKPT_IOC_MAGIC,
    0x01,
    std::mem::size_of::<abi::ckpt_env>(),
);

/// What `CKPT_IOC_VERSION` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// ABI version of the running module.
    pub abi: u32,
    /// Image format version checkpoint writes.
    pub image: u32,
    /// Oldest image format version restart reads.
    pub image_min: u32,
    /// Newest image format version restart reads.
    pub image_max: u32,
    /// The module's version string.
    pub module: String,
}

/// An open `/dev/ckpt`.
pub struct Device {
    file: File,
}

/// The device's descriptor, e.g. to move it with [`fd::dup_cloexec_from`].
impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The device's descriptor, to move it with [`fd::dup_cloexec_from`] (then close this one).
impl From<Device> for OwnedFd {
    fn from(device: Device) -> Self {
        device.file.into()
    }
}

/// A descriptor of `/dev/ckpt` (a duplicate of [`Device::as_fd`], say).
impl From<OwnedFd> for Device {
    fn from(fd: OwnedFd) -> Self {
        Self {
            file: File::from(fd),
        }
    }
}

impl Device {
    /// The device node the module registers.
    pub const PATH: &'static str = "/dev/ckpt";

    /// Opens `/dev/ckpt`.
    pub fn open() -> io::Result<Self> {
        Self::open_path(Path::new(Self::PATH))
    }

    /// Opens the device at `path`.
    pub fn open_path(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self { file })
    }

    /// `CKPT_IOC_VERSION`.
    pub fn version(&self) -> io::Result<Version> {
        let mut v = abi::ckpt_version::default();
        // SAFETY: `v` is a live, writable `ckpt_version` whose size is the one encoded in the
        // command number, which is all the kernel reads and writes.
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                CKPT_IOC_VERSION as _,
                &mut v as *mut abi::ckpt_version,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // `c_char` is `i8` on x86: the version string is ASCII.
        let bytes = v.module_version.map(|c| c as u8);
        let module = CStr::from_bytes_until_nul(&bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "module_version lacks a NUL"))?
            .to_string_lossy()
            .into_owned();
        Ok(Version {
            abi: v.abi_version,
            image: v.image_version,
            image_min: v.image_version_min,
            image_max: v.image_version_max,
            module,
        })
    }

    /// `CKPT_IOC_ENV`: the running kernel's environment vector, as a bare vector payload
    /// (decode it with `ckpt_image::EnvVector::parse`).
    ///
    /// Asks for the size first, then fetches; if the vector grew in between (`ENOSPC`), retries
    /// with the new size a few times.
    pub fn env(&self) -> io::Result<Vec<u8>> {
        let mut buf: Vec<u8> = Vec::new();
        for _ in 0..8 {
            let mut e = abi::ckpt_env {
                flags: 0,
                buf: if buf.is_empty() {
                    0
                } else {
                    buf.as_mut_ptr() as u64
                },
                buf_size: u32::try_from(buf.len())
                    .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
                len: 0,
            };
            // SAFETY: `e` is a live, writable `ckpt_env` whose size is the one encoded in the
            // command number; `e.buf` is null with `e.buf_size` 0, or points to `buf`, which is
            // valid for writes of `e.buf_size` bytes and outlives the call.
            let rc = unsafe {
                libc::ioctl(
                    self.file.as_raw_fd(),
                    CKPT_IOC_ENV as _,
                    &mut e as *mut abi::ckpt_env,
                )
            };
            let len = e.len as usize;
            if rc == 0 && !buf.is_empty() {
                buf.truncate(len);
                return Ok(buf);
            }
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::ENOSPC) {
                    return Err(err);
                }
            }
            if len == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "CKPT_IOC_ENV reported an empty vector",
                ));
            }
            buf = vec![0; len];
        }
        Err(io::Error::other(
            "CKPT_IOC_ENV: the environment kept changing size",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_c_macros() {
        // _IOWR(0xC7, 0x00, struct ckpt_version) with a 56-byte struct, as the C compiler
        // computes it (checked against the header by the kselftests too).
        assert_eq!(std::mem::size_of::<abi::ckpt_version>(), 56);
        assert_eq!(CKPT_IOC_VERSION, 0xC038_C700);
    }

    #[test]
    fn env_ioctl_number_matches_the_c_macro() {
        // _IOWR(0xC7, 0x01, struct ckpt_env) with a 24-byte struct.
        assert_eq!(std::mem::size_of::<abi::ckpt_env>(), 24);
        assert_eq!(abi::CKPT_ENV_SIZE_VER0, 24);
        assert_eq!(CKPT_IOC_ENV, 0xC018_C701);
    }

    #[test]
    fn every_reason_has_a_name() {
        for reason in abi::CKPT_REASON_NONE..=abi::CKPT_REASON_UNSUPPORTED_STATE {
            assert_ne!(reason_name(reason), "unknown", "reason {reason}");
        }
        assert_eq!(
            reason_name(abi::CKPT_REASON_UNSUPPORTED_STATE + 1),
            "unknown"
        );
        assert_eq!(reason_name(abi::CKPT_REASON_FD_BUSY), "fd_busy");
    }

    #[test]
    fn ver0_size_is_the_struct_size() {
        assert_eq!(
            abi::CKPT_VERSION_SIZE_VER0 as usize,
            std::mem::size_of::<abi::ckpt_version>()
        );
    }
}

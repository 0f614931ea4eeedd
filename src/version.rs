// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_VERSION`: which ABI and image format versions this module speaks.

use kernel::prelude::*;

use crate::{
    image,
    uapi::{self, ckpt_version},
};

/// The module's version, reported in `ckpt_version.module_version`.
const MODULE_VERSION: &[u8] = b"0.1.0";

/// The image format version checkpoint writes.
const IMAGE_VERSION: u32 = image::VERSION;
/// The oldest image format version restart reads (older images: `ckpt convert`).
const IMAGE_VERSION_MIN: u32 = image::VERSION;
/// The newest image format version restart reads.
const IMAGE_VERSION_MAX: u32 = image::VERSION;

// The version string and its NUL must fit the UAPI field.
const _: () = assert!(MODULE_VERSION.len() < uapi::CKPT_MODULE_VERSION_LEN as usize);

/// Handles `CKPT_IOC_VERSION`: `flags` must be zero; fills in every output field.
pub(crate) fn ioctl(arg: usize, user_size: usize) -> Result {
    let mut v: ckpt_version =
        uapi::read_ext(arg, user_size, uapi::CKPT_VERSION_SIZE_VER0 as usize)?;
    if v.flags != 0 {
        return Err(EINVAL);
    }
    v.abi_version = uapi::CKPT_ABI_VERSION;
    v.image_version = IMAGE_VERSION;
    v.image_version_min = IMAGE_VERSION_MIN;
    v.image_version_max = IMAGE_VERSION_MAX;
    v.module_version = [0; uapi::CKPT_MODULE_VERSION_LEN as usize];
    for (dst, &src) in v.module_version.iter_mut().zip(MODULE_VERSION) {
        // `c_char` is `i8` on x86: the version string is ASCII.
        *dst = src as core::ffi::c_char;
    }
    uapi::write_ext(arg, user_size, &v)
}

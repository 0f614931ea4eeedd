// SPDX-License-Identifier: GPL-2.0

//! ckpt: checkpoint/restart of Linux processes.
//!
//! The module registers the misc device `/dev/ckpt`. Its ioctls (declared in
//! `include/uapi/linux/ckpt.h`) checkpoint a process into a user-supplied file descriptor and
//! restart from one. See `Documentation/` for the design, the image format and the ABI.
//!
//! Layout: `image` is the image format codec (plain `core` Rust, shared with the tools);
//! `uapi` is the ioctl ABI (generated structs, command decoding, extensible-struct copies);
//! `version` answers `CKPT_IOC_VERSION`; `env` gathers the environment vectors (the host's and
//! a task's) and answers `CKPT_IOC_ENV`; `checkpoint` (with `files`, the checkpoint trait, and
//! `glue`) writes images; `restart` (with `vfs` and `fdtable`) reads them back.

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

mod checkpoint;
mod env;
mod error;
mod fdtable;
mod files;
mod glue;
// The image codec is shared, source for source, with the user-space tools (`tools/ckpt-image`),
// where it is public API: here the module uses only part of it.
#[allow(dead_code, unreachable_pub, unused_imports)]
mod image;
mod process;
mod restart;
mod uapi;
mod version;
mod vfs;

module! {
    type: CkptModule,
    name: "ckpt",
    authors: ["The ckpt developers"],
    description: "Checkpoint/restart of Linux processes",
    license: "GPL",
}

/// The module: owns the registration of `/dev/ckpt`; dropping it deregisters the device.
#[pin_data]
struct CkptModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<CkptDevice>,
}

impl kernel::InPlaceModule for CkptModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"ckpt" }),
        })
    }
}

/// An open file of `/dev/ckpt`. It has no state of its own: every ioctl is self-contained.
struct CkptDevice;

#[vtable]
impl MiscDevice for CkptDevice {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(CkptDevice, GFP_KERNEL)?)
    }

    fn ioctl(_me: &CkptDevice, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let Some(ioctl) = uapi::Ioctl::decode(cmd) else {
            return Err(ENOTTY);
        };
        match ioctl.command {
            uapi::Command::Version => version::ioctl(arg, ioctl.user_size)?,
            uapi::Command::Env => env::ioctl(arg, ioctl.user_size)?,
            uapi::Command::Checkpoint => checkpoint::ioctl(arg, ioctl.user_size)?,
            uapi::Command::Restart => restart::ioctl(arg, ioctl.user_size)?,
        }
        Ok(0)
    }
}

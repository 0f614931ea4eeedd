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
    bindings,
    error::to_result,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    types::Opaque,
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
    params: {
        mode: u16 {
            default: 0o600,
            description: "Mode of the /dev/ckpt node devtmpfs creates, 0 to 0777 (default 0600; \
                          0666 lets every user open it: what each may checkpoint or restart is \
                          ptrace's rule, see Documentation/checkpoint.rst)",
        },
    },
}

/// The module: owns the registration of `/dev/ckpt`; dropping it deregisters the device.
#[pin_data]
struct CkptModule {
    #[pin]
    _miscdev: Registration,
}

impl kernel::InPlaceModule for CkptModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let mode = module_parameters::mode.value();
        try_pin_init!(Self {
            _miscdev <- Registration::register(mode),
        })
    }
}

/// The registration of `/dev/ckpt` with the node mode of the `mode` parameter.
///
/// The kernel crate's [`MiscDeviceRegistration`] cannot set `miscdevice.mode`, which devtmpfs
/// reads once, when `misc_register()` creates the node. So this registers the `struct
/// miscdevice` that [`MiscDeviceOptions::into_raw`] builds (the kernel crate's file operations
/// for [`CkptDevice`], owned by this module: an open file pins it) with the mode set. It has the
/// layout of [`MiscDeviceRegistration`] (both are a transparent `Opaque<miscdevice>`), which the
/// file operations' `open` takes the registration to be.
///
/// # Invariants
///
/// `inner` is registered with `misc_register()` from its initialisation until drop.
#[repr(transparent)]
#[pin_data(PinnedDrop)]
struct Registration {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
}

// SAFETY: `misc_deregister()` may be called from any thread.
unsafe impl Send for Registration {}
// SAFETY: No `&self` method touches `inner`: only the misc core does, under its own lock.
unsafe impl Sync for Registration {}

impl Registration {
    fn register(mode: u16) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                if mode > 0o777 {
                    pr_err!("mode={mode:#o}: not a file mode (0 to 0777)\n");
                    return Err(EINVAL);
                }
                let mut raw = MiscDeviceOptions { name: c"ckpt" }.into_raw::<CkptDevice>();
                raw.mode = mode;
                // SAFETY: The initializer may write to `slot`.
                unsafe { slot.write(raw) };
                // SAFETY: `slot` holds a valid `miscdevice` whose memory is pinned and stays
                // valid until `drop` deregisters it.
                // INVARIANT: On success `inner` is registered.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Registration {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `inner` is registered.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

// The file operations' `open` casts the `miscdevice` pointer to the kernel crate's type.
const _: () = assert!(
    core::mem::size_of::<Registration>()
        == core::mem::size_of::<MiscDeviceRegistration<CkptDevice>>()
        && core::mem::align_of::<Registration>()
            == core::mem::align_of::<MiscDeviceRegistration<CkptDevice>>()
);

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

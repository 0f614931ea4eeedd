// SPDX-License-Identifier: GPL-2.0

//! Environment vectors generated in the kernel, and `CKPT_IOC_ENV`.
//!
//! [`HostEnv`] is what the running kernel and CPU offer (the image-wide vector checkpoint writes
//! and the vector restart checks images against); [`TaskEnv`] is what one task depends on (its
//! per-task vector). Both are snapshots: gathered once (which may sleep), then emitted as often
//! as the encoder asks, always identically. Every key comes from the registry in
//! [`image::keys`] with the rule and criticality it assigns. `Documentation/ioctl-abi.rst` lists
//! each entry and where its value comes from.
//!
//! Raw accesses are wrapped in small safe functions below: `boot_cpu_data`, `init_uts_ns` and
//! exported functions through `kernel::bindings`, and what bindgen cannot express (static
//! inlines, macros, structs it sees as opaque) through the C glue ([`crate::ffi`]).

use core::ptr::addr_of;

use kernel::{
    alloc::AllocError,
    bindings,
    prelude::*,
    task::Task,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    ffi,
    image::{self, keys, EnvStop, EnvValue, EnvWriter},
    uapi::{self, ckpt_env},
    vfs::NewFile,
};

/// Constants generated from the kernel configuration by `Kbuild`.
#[allow(dead_code, clippy::all)]
mod kconfig {
    include!("kconfig_generated.rs");
}

/// `user_abis` bit: x86-64.
const ABI_X86_64: u32 = 1 << 0;
/// `user_abis` bit: ia32 compat.
const ABI_IA32: u32 = 1 << 1;
/// `user_abis` bit: x32.
const ABI_X32: u32 = 1 << 2;

/// `boot_vsyscall` values.
const VSYSCALL_NONE: u32 = 0;
const VSYSCALL_XONLY: u32 = 1;
const VSYSCALL_EMULATE: u32 = 2;

/// Legacy x87 and SSE state: the xsave features of a CPU without XSAVE (FXSAVE format).
const XFEATURES_FPSSE: u64 = 0x3;
/// Size of the FXSAVE area.
const FXSAVE_SIZE: u32 = 512;

/// Number of capability words (`x86_capability[]` also holds the bug words after them).
const NCAPINTS: usize = bindings::NCAPINTS as usize;

/// Length of a utsname field without its NUL (`__NEW_UTS_LEN`).
const UTS_LEN: usize = 64;

/// Room for the kernel command line (`COMMAND_LINE_SIZE` is 2048 on x86).
const CMDLINE_MAX: usize = 4096;
/// Room for a sysctl value.
const SYSCTL_MAX: usize = 32;

/// A short string copied out of the kernel.
#[derive(Clone, Copy)]
struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    fn new(bytes: &[u8]) -> Self {
        let mut buf = [0u8; N];
        let len = bytes.len().min(N);
        buf[..len].copy_from_slice(&bytes[..len]);
        Self { buf, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `&init_uts_ns.name`. bindgen leaves `struct uts_namespace` opaque; `name` is its first
/// member (glue_c.c asserts `offsetof(struct uts_namespace, name) == 0`).
fn init_utsname() -> *const ffi::new_utsname {
    addr_of!(bindings::init_uts_ns).cast()
}

/// `utsname()->release` of the initial UTS namespace (`uname -r`).
fn uts_release() -> Text<UTS_LEN> {
    // SAFETY: `init_utsname()` points at `init_uts_ns.name`, which lives as long as the kernel.
    // Its `release` and `version` are set at build time and never written afterwards (only
    // nodename and domainname are, under `uts_sem`), so only they are borrowed.
    let field = unsafe { &*addr_of!((*init_utsname()).release) };
    Text::new(crate::vfs::until_nul(field))
}

/// `utsname()->version` of the initial UTS namespace (`uname -v`).
fn uts_version() -> Text<UTS_LEN> {
    // SAFETY: As in `uts_release`.
    let field = unsafe { &*addr_of!((*init_utsname()).version) };
    Text::new(crate::vfs::until_nul(field))
}

/// `CPUID(leaf, subleaf)` on this CPU: eax, ebx, ecx, edx.
fn cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let mut out = [0u32; 4];
    // SAFETY: `out` has room for the four words the helper writes; CPUID has no side effects.
    unsafe { ffi::ckpt_glue_cpuid_count(leaf, subleaf, out.as_mut_ptr()) };
    out
}

/// XCR0, if the kernel enabled XSAVE (`X86_FEATURE_OSXSAVE`); XGETBV faults otherwise.
fn xcr0(caps: &[u32; NCAPINTS]) -> Option<u64> {
    let bit = bindings::X86_FEATURE_OSXSAVE as usize;
    let word = caps.get(bit / 32)?;
    if word & (1 << (bit % 32)) == 0 {
        return None;
    }
    let (lo, hi): (u32, u32);
    // SAFETY: CR4.OSXSAVE is set (the kernel sets `X86_FEATURE_OSXSAVE` only then), so XGETBV
    // with ECX=0 (XCR0) is valid; it reads a register and has no side effects, as the kernel's
    // `xgetbv()`.
    unsafe {
        core::arch::asm!(
            "xgetbv",
            in("ecx") 0u32,
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack, preserves_flags)
        )
    };
    Some(u64::from(hi) << 32 | u64::from(lo))
}

/// The boot CPU's identification, as the kernel recorded it.
struct BootCpu {
    vendor: Text<16>,
    family: u32,
    model: u32,
    stepping: u32,
    caps: [u32; NCAPINTS],
}

/// Reads `boot_cpu_data`.
fn boot_cpu() -> BootCpu {
    let p = &raw const bindings::boot_cpu_data;
    // SAFETY: `boot_cpu_data` is an exported static that exists for the kernel's lifetime and
    // is filled in during boot, before modules load. Its identification fields are not written
    // afterwards; capability bits may rarely be set or cleared at run time (e.g. late
    // microcode loading), so each word is read once, volatile, like `READ_ONCE()`: a
    // concurrent update yields the old or the new word. The unions are plain integers, so
    // every bit pattern is valid.
    unsafe {
        let vendor_id = (*p).x86_vendor_id;
        let ids = (*p).__bindgen_anon_1.__bindgen_anon_1;
        let mut caps = [0u32; NCAPINTS];
        let words = &raw const (*p).__bindgen_anon_3.x86_capability;
        for (i, cap) in caps.iter_mut().enumerate() {
            *cap = core::ptr::read_volatile(words.cast::<u32>().add(i));
        }
        let len = vendor_id
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(vendor_id.len());
        BootCpu {
            vendor: Text::new(&vendor_id[..len]),
            family: ids.x86.into(),
            model: ids.x86_model.into(),
            stepping: (*p).x86_stepping.into(),
            caps,
        }
    }
}

// `NCAPINTS` words fit `x86_capability[]`.
const _: () = assert!(NCAPINTS * 4 <= core::mem::size_of::<bindings::cpuinfo_x86__bindgen_ty_3>());

/// Reads the file at `path` (procfs, resolved in the caller's mount namespace) into a new
/// buffer of at most `max` bytes, or `None` if it cannot be read (e.g. without procfs on
/// `/proc`). Used for `/proc/cmdline` (`saved_command_line` is not exported to modules) and for
/// sysctls whose variables are not exported. Running out of memory is an error, not an absent
/// file: the vector must not depend on a transient failure.
fn read_file(path: &CStr, max: usize) -> Result<Option<KVec<u8>>> {
    let oom = |e: Error| if e == ENOMEM { Err(e) } else { Ok(None) };
    let file = match NewFile::open(path, bindings::O_RDONLY) {
        Ok(file) => file,
        Err(e) => return oom(e),
    };
    let mut buf = KVec::from_elem(0u8, max, GFP_KERNEL)?;
    let (mut len, mut pos) = (0, 0);
    while len < max {
        match file.read_at(&mut buf[len..], &mut pos) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) => return oom(e),
        }
    }
    buf.truncate(len);
    Ok(Some(buf))
}

/// `simple_strtoul(s, NULL, 0)`: the value of the leading number (base by prefix), saturating.
fn strtoul(s: &[u8]) -> u64 {
    let (base, digits) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest),
        [b'0', rest @ ..] => (8, rest),
        _ => (10, s),
    };
    let mut value = 0u64;
    for &b in digits {
        let Some(d) = (b as char).to_digit(base) else {
            break;
        };
        value = value
            .saturating_mul(u64::from(base))
            .saturating_add(u64::from(d));
    }
    value
}

/// `kstrtobool()`: `None` if `s` is not a boolean.
fn strtobool(s: &[u8]) -> Option<bool> {
    match s {
        [b'y' | b'Y' | b'1', ..] | [b'o' | b'O', b'n' | b'N', ..] => Some(true),
        [b'n' | b'N' | b'0', ..] | [b'o' | b'O', b'f' | b'F', ..] => Some(false),
        _ => None,
    }
}

/// Whether a parameter name matches, with `-` and `_` equal (as `parameq()`).
fn param_eq(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| norm(x) == norm(y))
}

/// Splits a command line into `(name, value)` pairs as `next_arg()` does, up to a bare `--`
/// (what follows is for init). Double quotes may wrap a value or a whole argument.
fn for_each_param(cmdline: &[u8], mut f: impl FnMut(&[u8], Option<&[u8]>)) {
    let mut rest = cmdline;
    loop {
        while let [b' ' | b'\t' | b'\n' | b'\0', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return;
        }
        let mut in_quote = false;
        let mut end = 0;
        while let Some(&c) = rest.get(end) {
            if c == b'"' {
                in_quote = !in_quote;
            } else if !in_quote && matches!(c, b' ' | b'\t' | b'\n' | b'\0') {
                break;
            }
            end += 1;
        }
        let (arg, tail) = rest.split_at(end);
        rest = tail;
        let arg = arg.strip_prefix(b"\"").unwrap_or(arg);
        if arg == b"--" {
            return;
        }
        let (name, value) = match arg.iter().position(|&c| c == b'=') {
            Some(eq) => {
                let value = &arg[eq + 1..];
                let value = value.strip_prefix(b"\"").unwrap_or(value);
                let value = value.strip_suffix(b"\"").unwrap_or(value);
                (&arg[..eq], Some(value))
            }
            None => (arg.strip_suffix(b"\"").unwrap_or(arg), None),
        };
        f(name, value);
    }
}

/// The boot parameters that matter, as the kernel applied them (defaults from the
/// configuration, overridden by the command line; the last occurrence wins, as at boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BootParams {
    /// `vdso=` (x86-64 and x32 vDSO): 0 or 1.
    vdso: u32,
    /// `vdso32=`: 0 or 1 (2 is an alias of 0).
    vdso32: u32,
    /// `vsyscall=`: [`VSYSCALL_NONE`], [`VSYSCALL_XONLY`] or [`VSYSCALL_EMULATE`].
    vsyscall: u32,
    /// `ia32_emulation=`.
    ia32_emulation: bool,
}

impl BootParams {
    fn parse(cmdline: &[u8]) -> Self {
        let mut p = BootParams {
            vdso: 1,
            vdso32: u32::from(!kconfig::CONFIG_COMPAT_VDSO),
            vsyscall: if kconfig::CONFIG_LEGACY_VSYSCALL_NONE {
                VSYSCALL_NONE
            } else {
                VSYSCALL_XONLY
            },
            ia32_emulation: !kconfig::CONFIG_IA32_EMULATION_DEFAULT_DISABLED,
        };
        for_each_param(cmdline, |name, value| {
            let Some(value) = value else {
                return;
            };
            if param_eq(name, b"vdso") {
                p.vdso = u32::from(strtoul(value) != 0);
            } else if param_eq(name, b"vdso32") {
                p.vdso32 = u32::from(strtoul(value) == 1);
            } else if param_eq(name, b"vsyscall") {
                p.vsyscall = match value {
                    b"emulate" => VSYSCALL_EMULATE,
                    b"xonly" => VSYSCALL_XONLY,
                    b"none" => VSYSCALL_NONE,
                    _ => p.vsyscall,
                };
            } else if param_eq(name, b"ia32_emulation") {
                p.ia32_emulation = strtobool(value).unwrap_or(p.ia32_emulation);
            }
        });
        p
    }
}

/// The effective `vdso32` setting: the `abi.vsyscall32` sysctl (which overrides `vdso32=` at
/// run time) if it can be read, else the boot parameter; 0 without a 32-bit vDSO.
fn vdso32_effective(boot: Option<&BootParams>) -> Result<Option<u32>> {
    if !kconfig::CONFIG_IA32_EMULATION {
        return Ok(Some(0));
    }
    Ok(match read_file(c"/proc/sys/abi/vsyscall32", SYSCTL_MAX)? {
        Some(text) => Some(u32::from(strtoul(text.trim_ascii()) == 1)),
        None => boot.map(|b| b.vdso32),
    })
}

/// A snapshot of the running kernel's and CPU's environment, gathered once.
///
/// Emitted as the image-wide environment vector by checkpoint and returned by
/// `CKPT_IOC_ENV`; restart checks images against a fresh one.
pub(crate) struct HostEnv {
    page_size: u32,
    release: Text<UTS_LEN>,
    version: Text<UTS_LEN>,
    cpu: BootCpu,
    xsave_features: u64,
    xsave_size: u32,
    user_abis: u32,
    /// `None` if `/proc/cmdline` could not be read: the boot entries are then left out, so
    /// images that depend on them are refused rather than wrongly accepted.
    boot: Option<BootParams>,
    vdso32: Option<u32>,
}

impl HostEnv {
    /// Gathers the host environment. May sleep.
    pub(crate) fn snapshot() -> Result<KBox<HostEnv>> {
        let cpu = boot_cpu();
        let (xsave_features, xsave_size) = match xcr0(&cpu.caps) {
            // CPUID.(EAX=0xD, ECX=0).EBX: the XSAVE area size of the features enabled in XCR0.
            Some(xcr0) => (xcr0, cpuid(0xd, 0)[1]),
            None => (XFEATURES_FPSSE, FXSAVE_SIZE),
        };
        let boot = read_file(c"/proc/cmdline", CMDLINE_MAX)?.map(|c| BootParams::parse(&c));
        let mut user_abis = ABI_X86_64;
        if kconfig::CONFIG_IA32_EMULATION && boot.is_some_and(|b| b.ia32_emulation) {
            user_abis |= ABI_IA32;
        }
        if kconfig::CONFIG_X86_X32_ABI {
            user_abis |= ABI_X32;
        }
        let vdso32 = vdso32_effective(boot.as_ref())?;
        Ok(KBox::new(
            HostEnv {
                page_size: u32::try_from(kernel::page::PAGE_SIZE).map_err(|_| EINVAL)?,
                release: uts_release(),
                version: uts_version(),
                cpu,
                xsave_features,
                xsave_size,
                user_abis,
                boot,
                vdso32,
            },
            GFP_KERNEL,
        )?)
    }

    /// Emits the host vector. Pure: the same entries every time.
    pub(crate) fn emit(&self, w: &mut EnvWriter<'_>) -> Result<(), EnvStop> {
        let arch = u32::from(image::Arch::X86_64.0);
        w.put_registered(keys::ARCH, EnvValue::U32(arch))?;
        w.put_registered(keys::PAGE_SIZE, EnvValue::U32(self.page_size))?;
        w.put_registered(keys::KERNEL_RELEASE, EnvValue::Str(self.release.as_bytes()))?;
        w.put_registered(keys::KERNEL_VERSION, EnvValue::Str(self.version.as_bytes()))?;
        w.put_registered(
            keys::KCONFIG_DIGEST,
            EnvValue::Bytes(kconfig::KCONFIG_SHA256),
        )?;
        w.put_registered(keys::USER_ABIS, EnvValue::Bitmap32(&[self.user_abis]))?;
        if let Some(boot) = &self.boot {
            w.put_registered(keys::VDSO_MODE, EnvValue::U32(boot.vdso))?;
        }
        w.put_registered(keys::CPU_VENDOR, EnvValue::Str(self.cpu.vendor.as_bytes()))?;
        w.put_registered(keys::CPU_FAMILY, EnvValue::U32(self.cpu.family))?;
        w.put_registered(keys::CPU_MODEL, EnvValue::U32(self.cpu.model))?;
        w.put_registered(keys::CPU_STEPPING, EnvValue::U32(self.cpu.stepping))?;
        w.put_registered(keys::X86_CAPABILITY, EnvValue::Bitmap32(&self.cpu.caps))?;
        w.put_registered(keys::XSAVE_FEATURES, EnvValue::U64(self.xsave_features))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(self.xsave_size))?;
        let flag = |on: bool| EnvValue::U32(u32::from(on));
        w.put_registered(
            keys::CONFIG_IA32_EMULATION,
            flag(kconfig::CONFIG_IA32_EMULATION),
        )?;
        w.put_registered(keys::CONFIG_X86_X32_ABI, flag(kconfig::CONFIG_X86_X32_ABI))?;
        // The option was dropped in 6.16, when 5-level paging support became unconditional.
        w.put_registered(
            keys::CONFIG_X86_5LEVEL,
            flag(kconfig::CONFIG_X86_5LEVEL || kconfig::CONFIG_PGTABLE_LEVELS >= 5),
        )?;
        w.put_registered(keys::CONFIG_HZ, EnvValue::U32(kconfig::CONFIG_HZ))?;
        if let Some(boot) = &self.boot {
            w.put_registered(keys::BOOT_VDSO, EnvValue::U32(boot.vdso))?;
        }
        if let Some(vdso32) = self.vdso32 {
            w.put_registered(keys::BOOT_VDSO32, EnvValue::U32(vdso32))?;
        }
        if let Some(boot) = &self.boot {
            w.put_registered(keys::BOOT_VSYSCALL, EnvValue::U32(boot.vsyscall))?;
        }
        Ok(())
    }
}

/// What one task actually depends on (the per-task vector).
pub(crate) struct TaskEnv {
    /// The ABIs the task runs (`user_abis` bits; exactly [`ABI_IA32`] for an ia32 process).
    user_abis: u32,
    /// Whether the task has a vDSO mapped.
    vdso: bool,
    /// The user xsave features the task may use.
    xsave_features: u64,
    /// Size of its xsave state in the standard format.
    xsave_size: u32,
}

impl TaskEnv {
    /// Gathers the environment `task` depends on. `task` must be a user task that is stopped
    /// (ptrace-stopped or frozen) or current, so that its saved registers and FPU state are
    /// stable. May sleep. `EINVAL` for a kernel thread, `ESRCH` if it has no mm.
    pub(crate) fn snapshot(task: &Task) -> Result<TaskEnv> {
        let t = task.as_ptr();
        // SAFETY: `t` is a valid task for the lifetime of `task`; the glue reads its flags,
        // thread flags and saved user registers, which the caller keeps stable.
        let abis = unsafe { ffi::ckpt_glue_task_abis(t) };
        let user_abis = u32::try_from(abis).map_err(|_| Error::from_errno(abis))?;
        let vdso = vdso_mapped(task)?;
        let mut xsave_features = 0u64;
        let mut xsave_size = 0u32;
        // SAFETY: `t` is valid and stopped or current, so its `fpstate` is not replaced while
        // the glue reads it; the out pointers are valid for writes.
        kernel::error::to_result(unsafe {
            ffi::ckpt_glue_task_fpu(t, &mut xsave_features, &mut xsave_size)
        })?;
        Ok(TaskEnv {
            user_abis,
            vdso,
            xsave_features,
            xsave_size,
        })
    }

    /// Emits the task vector. Pure: the same entries every time.
    pub(crate) fn emit(&self, w: &mut EnvWriter<'_>) -> Result<(), EnvStop> {
        let vdso32 = self.user_abis == ABI_IA32;
        w.put_registered(keys::USER_ABIS, EnvValue::Bitmap32(&[self.user_abis]))?;
        // Only a dependency is recorded: a task without a vDSO runs on any host.
        if self.vdso && !vdso32 {
            w.put_registered(keys::VDSO_MODE, EnvValue::U32(1))?;
        }
        w.put_registered(keys::XSAVE_FEATURES, EnvValue::U64(self.xsave_features))?;
        w.put_registered(keys::XSAVE_SIZE, EnvValue::U32(self.xsave_size))?;
        if self.vdso && vdso32 {
            w.put_registered(keys::BOOT_VDSO32, EnvValue::U32(1))?;
        }
        Ok(())
    }
}

/// Whether `task`'s mm has a vDSO mapped; `ESRCH` without an mm.
fn vdso_mapped(task: &Task) -> Result<bool> {
    // SAFETY: `task` is valid for the borrow; the glue takes and drops its own mm reference.
    match unsafe { ffi::ckpt_glue_task_vdso_mapped(task.as_ptr()) } {
        0 => Ok(false),
        1 => Ok(true),
        e => Err(Error::from_errno(e)),
    }
}

/// A sink appending to a kernel vector whose capacity was reserved beforehand.
struct KVecSink<'a>(&'a mut KVec<u8>);

impl image::Sink for KVecSink<'_> {
    type Error = AllocError;

    fn write(&mut self, data: &[u8]) -> Result<(), AllocError> {
        self.0.extend_from_slice(data, GFP_KERNEL)
    }

    fn crc32c(&self) -> image::Crc32cFn {
        crate::checksum::crc32c
    }
}

/// The running kernel's environment vector, encoded as an env_vector record's payload (what
/// `CKPT_IOC_ENV` returns and restart checks images against).
pub(crate) fn host_payload() -> Result<KVec<u8>> {
    let host = HostEnv::snapshot()?;
    let (_, len) = image::measure_env_payload(|w| host.emit(w)).map_err(|_| EIO)?;
    let mut payload = KVec::with_capacity(len, GFP_KERNEL)?;
    let written =
        image::encode_env_payload(KVecSink(&mut payload), |w| host.emit(w)).map_err(|_| EIO)?;
    if written != len || payload.len() != len {
        return Err(EIO);
    }
    Ok(payload)
}

/// Handles `CKPT_IOC_ENV`: returns the host's environment vector payload.
///
/// `flags` must be zero. `buf == 0 && buf_size == 0` only reports `len`. If `len` exceeds
/// `buf_size`, `len` is written back and the ioctl fails with `ENOSPC`, `buf` untouched.
pub(crate) fn ioctl(arg: usize, user_size: usize) -> Result {
    let mut e: ckpt_env = uapi::read_ext(arg, user_size, uapi::CKPT_ENV_SIZE_VER0 as usize)?;
    if e.flags != 0 {
        return Err(EINVAL);
    }
    let payload = host_payload()?;
    let len = payload.len();
    e.len = u32::try_from(len).map_err(|_| EOVERFLOW)?;
    if e.buf == 0 && e.buf_size == 0 {
        return uapi::write_ext(arg, user_size, &e);
    }
    if len > e.buf_size as usize {
        uapi::write_ext(arg, user_size, &e)?;
        return Err(ENOSPC);
    }
    let buf = usize::try_from(e.buf).map_err(|_| EFAULT)?;
    UserSlice::new(UserPtr::from_addr(buf), len)
        .writer()
        .write_slice(&payload)?;
    uapi::write_ext(arg, user_size, &e)
}

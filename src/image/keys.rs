// SPDX-License-Identifier: GPL-2.0

//! Registry of environment keys.
//!
//! Key ranges: `0x0000_xxxx` kernel-wide facts, `0x0001_xxxx` CPU, `0x0002_xxxx` kernel
//! configuration options, `0x0003_xxxx` boot parameters, `0x8000_0000..=0xFFFF_FFFF` private
//! to a distribution or vendor (never assigned here, so nobody needs to ask mainline for bits).
//! Per-task vectors reuse these keys with the task's own value (e.g. the xsave features the
//! task has in use), so they are checked against the host's vector the same way.
//!
//! The rule and criticality listed are what writers should use; readers never rely on this
//! table, because every entry carries its rule and flags.

use super::env::{Rule, ValueType};

/// `u32` [`Arch`](super::Arch) number of the kernel. Equal, critical.
pub const ARCH: u32 = 0x0000_0001;
/// `u32` page size in bytes. Equal, critical.
pub const PAGE_SIZE: u32 = 0x0000_0002;
/// String, utsname release (`uname -r`). Informational.
pub const KERNEL_RELEASE: u32 = 0x0000_0003;
/// String, utsname version (`uname -v`). Informational.
pub const KERNEL_VERSION: u32 = 0x0000_0004;
/// Bytes, digest of the kernel configuration (algorithm chosen by the writer). Equal, advisory.
pub const KCONFIG_DIGEST: u32 = 0x0000_0010;
/// Bitmap32 of user ABIs: bit 0 x86-64, bit 1 ia32 compat, bit 2 x32. Subset, critical.
pub const USER_ABIS: u32 = 0x0000_0011;
/// `u32` vDSO mode: 0 none, 1 mapped. Equal, critical (a task holds pointers into it).
pub const VDSO_MODE: u32 = 0x0000_0012;

/// String, CPU vendor id (`GenuineIntel`, `AuthenticAMD`). Equal, critical.
pub const CPU_VENDOR: u32 = 0x0001_0001;
/// `u32` CPU family. Equal, advisory.
pub const CPU_FAMILY: u32 = 0x0001_0002;
/// `u32` CPU model. Equal, advisory.
pub const CPU_MODEL: u32 = 0x0001_0003;
/// `u32` CPU stepping. Informational.
pub const CPU_STEPPING: u32 = 0x0001_0004;
/// Bitmap32, the kernel's x86 capability words (`x86_capability[]`). Subset, critical.
pub const X86_CAPABILITY: u32 = 0x0001_0010;
/// `u64` xsave feature mask (XCR0 features the kernel enables). Subset, critical.
pub const XSAVE_FEATURES: u32 = 0x0001_0011;
/// `u32` xsave buffer size the state needs. At most, critical.
pub const XSAVE_SIZE: u32 = 0x0001_0012;

/// `u32` 1 if `CONFIG_IA32_EMULATION=y`. Subset, critical.
pub const CONFIG_IA32_EMULATION: u32 = 0x0002_0001;
/// `u32` 1 if `CONFIG_X86_X32_ABI=y`. Subset, critical.
pub const CONFIG_X86_X32_ABI: u32 = 0x0002_0002;
/// `u32` 1 if `CONFIG_X86_5LEVEL=y` (5-level paging possible; since 6.16, where the option is
/// gone, `CONFIG_PGTABLE_LEVELS >= 5`). Subset, critical.
pub const CONFIG_X86_5LEVEL: u32 = 0x0002_0003;
/// `u32` `CONFIG_HZ`. Informational.
pub const CONFIG_HZ: u32 = 0x0002_0004;

/// `u32` `vdso=` boot parameter (0 or 1). Equal, critical.
pub const BOOT_VDSO: u32 = 0x0003_0001;
/// `u32` `vdso32=` boot parameter (0, 1 or 2 compat). Equal, critical.
pub const BOOT_VDSO32: u32 = 0x0003_0002;
/// `u32` `vsyscall=` boot parameter: 0 none, 1 xonly, 2 emulate. Equal, critical.
pub const BOOT_VSYSCALL: u32 = 0x0003_0003;

/// First key private to a distribution or vendor.
pub const PRIVATE_FIRST: u32 = 0x8000_0000;

/// What the registry says about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key.
    pub key: u32,
    /// Short stable name (used by `ckpt show` and the JSON schema).
    pub name: &'static str,
    /// Value type writers use.
    pub vtype: ValueType,
    /// Rule writers use.
    pub rule: Rule,
    /// Whether writers mark it critical.
    pub critical: bool,
}

const fn info(
    key: u32,
    name: &'static str,
    vtype: ValueType,
    rule: Rule,
    critical: bool,
) -> KeyInfo {
    KeyInfo {
        key,
        name,
        vtype,
        rule,
        critical,
    }
}

/// Every assigned key, in increasing order.
pub const KNOWN_KEYS: &[KeyInfo] = &[
    info(ARCH, "arch", ValueType::U32, Rule::EQUAL, true),
    info(PAGE_SIZE, "page_size", ValueType::U32, Rule::EQUAL, true),
    info(
        KERNEL_RELEASE,
        "kernel_release",
        ValueType::STRING,
        Rule::INFO,
        false,
    ),
    info(
        KERNEL_VERSION,
        "kernel_version",
        ValueType::STRING,
        Rule::INFO,
        false,
    ),
    info(
        KCONFIG_DIGEST,
        "kconfig_digest",
        ValueType::BYTES,
        Rule::EQUAL,
        false,
    ),
    info(
        USER_ABIS,
        "user_abis",
        ValueType::BITMAP32,
        Rule::SUBSET,
        true,
    ),
    info(VDSO_MODE, "vdso_mode", ValueType::U32, Rule::EQUAL, true),
    info(
        CPU_VENDOR,
        "cpu_vendor",
        ValueType::STRING,
        Rule::EQUAL,
        true,
    ),
    info(CPU_FAMILY, "cpu_family", ValueType::U32, Rule::EQUAL, false),
    info(CPU_MODEL, "cpu_model", ValueType::U32, Rule::EQUAL, false),
    info(
        CPU_STEPPING,
        "cpu_stepping",
        ValueType::U32,
        Rule::INFO,
        false,
    ),
    info(
        X86_CAPABILITY,
        "x86_capability",
        ValueType::BITMAP32,
        Rule::SUBSET,
        true,
    ),
    info(
        XSAVE_FEATURES,
        "xsave_features",
        ValueType::U64,
        Rule::SUBSET,
        true,
    ),
    info(
        XSAVE_SIZE,
        "xsave_size",
        ValueType::U32,
        Rule::AT_MOST,
        true,
    ),
    info(
        CONFIG_IA32_EMULATION,
        "config_ia32_emulation",
        ValueType::U32,
        Rule::SUBSET,
        true,
    ),
    info(
        CONFIG_X86_X32_ABI,
        "config_x86_x32_abi",
        ValueType::U32,
        Rule::SUBSET,
        true,
    ),
    info(
        CONFIG_X86_5LEVEL,
        "config_x86_5level",
        ValueType::U32,
        Rule::SUBSET,
        true,
    ),
    info(CONFIG_HZ, "config_hz", ValueType::U32, Rule::INFO, false),
    info(BOOT_VDSO, "boot_vdso", ValueType::U32, Rule::EQUAL, true),
    info(
        BOOT_VDSO32,
        "boot_vdso32",
        ValueType::U32,
        Rule::EQUAL,
        true,
    ),
    info(
        BOOT_VSYSCALL,
        "boot_vsyscall",
        ValueType::U32,
        Rule::EQUAL,
        true,
    ),
];

/// Registry entry of `key`, if assigned.
pub fn lookup(key: u32) -> Option<&'static KeyInfo> {
    KNOWN_KEYS.iter().find(|k| k.key == key)
}

/// Registry entry named `name`, if any.
pub fn lookup_name(name: &str) -> Option<&'static KeyInfo> {
    KNOWN_KEYS.iter().find(|k| k.name == name)
}

// SPDX-License-Identifier: GPL-2.0

//! The image header: an immutable part (magic, version) that never changes, and a mutable part
//! whose layout the version decides (v1: arch, page size, flags, creation time, utsname).

use core::fmt;

use super::error::{FieldError, FormatErrorKind};
use super::wire::{check_fixed_string, to_fixed, ByteOut, Reader, Stop};

/// The eight magic bytes every image starts with.
pub const MAGIC: [u8; 8] = *b"LinuxC/R";

/// The image version this codec reads and writes.
pub const VERSION: u32 = 1;

/// Length of the immutable header: magic and `__le32` version.
pub const IMMUTABLE_HEADER_LEN: usize = 12;

/// Length of the whole v1 header (immutable and mutable parts).
pub const HEADER_LEN: usize = 304;

/// Length of each utsname field, as in the kernel's `struct new_utsname`.
pub const UTS_FIELD_LEN: usize = 65;

/// Header flags in the low 16 bits must be understood by a reader, which refuses unknown ones.
pub const HEADER_FLAGS_MUST_UNDERSTAND: u32 = 0x0000_FFFF;

/// Informational header flag: the image was produced by a user-space tool, not the kernel.
pub const HEADER_FLAG_SYNTHETIC: u32 = 1 << 16;

/// Architecture of the kernel that wrote the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arch(pub u16);

impl Arch {
    /// x86-64 (the only architecture v1 writers produce so far).
    pub const X86_64: Arch = Arch(1);

    /// Registry name, if the number is assigned.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("x86_64"),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "arch#{}", self.0),
        }
    }
}

/// Seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds (may be negative, as `time64_t`).
    pub sec: i64,
    /// Nanoseconds, below 1 000 000 000.
    pub nsec: u32,
}

impl Timestamp {
    pub(super) fn check(&self) -> Result<(), FormatErrorKind> {
        if self.nsec < 1_000_000_000 {
            Ok(())
        } else {
            Err(FormatErrorKind::BadTimestamp)
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let at = r.pos();
        let t = Timestamp {
            sec: r.i64()?,
            nsec: r.u32()?,
        };
        t.check().map_err(|kind| FieldError { kind, at })?;
        Ok(t)
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_i64(self.sec)?;
        out.put_u32(self.nsec)
    }
}

/// The kernel's utsname as fixed 65-byte NUL-padded fields (like `struct new_utsname`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utsname {
    /// e.g. `Linux`.
    pub sysname: [u8; UTS_FIELD_LEN],
    /// e.g. `6.12.0-1-amd64`: what distributions key their compatibility code on.
    pub release: [u8; UTS_FIELD_LEN],
    /// e.g. `#1 SMP PREEMPT_DYNAMIC Debian 6.12.1-1`.
    pub version: [u8; UTS_FIELD_LEN],
    /// e.g. `x86_64`.
    pub machine: [u8; UTS_FIELD_LEN],
}

impl Utsname {
    /// Builds the fields from byte strings of at most 64 bytes each, without NULs.
    pub fn new(
        sysname: &[u8],
        release: &[u8],
        version: &[u8],
        machine: &[u8],
    ) -> Result<Self, FormatErrorKind> {
        Ok(Utsname {
            sysname: to_fixed(sysname)?,
            release: to_fixed(release)?,
            version: to_fixed(version)?,
            machine: to_fixed(machine)?,
        })
    }

    fn fields(&self) -> [&[u8; UTS_FIELD_LEN]; 4] {
        [&self.sysname, &self.release, &self.version, &self.machine]
    }
}

/// The decoded v1 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Architecture of the writing kernel.
    pub arch: Arch,
    /// Page size of the writing kernel.
    pub page_size: u32,
    /// Header flags: low 16 bits must-understand (none defined in v1), high 16 informational.
    pub flags: u32,
    /// When the checkpoint was taken.
    pub created: Timestamp,
    /// The writing kernel's utsname.
    pub utsname: Utsname,
}

impl Header {
    /// Validates every field (the same checks the decoder applies).
    pub fn check(&self) -> Result<(), FormatErrorKind> {
        if self.arch.0 == 0 {
            return Err(FormatErrorKind::BadArch);
        }
        if !self.page_size.is_power_of_two() || !(4096..=1 << 20).contains(&self.page_size) {
            return Err(FormatErrorKind::BadPageSize(self.page_size));
        }
        if self.flags & HEADER_FLAGS_MUST_UNDERSTAND != 0 {
            return Err(FormatErrorKind::UnknownHeaderFlags(self.flags));
        }
        self.created.check()?;
        for field in self.utsname.fields() {
            check_fixed_string(field)?;
        }
        Ok(())
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put(&MAGIC)?;
        out.put_u32(VERSION)?;
        out.put_u16(self.arch.0)?;
        out.put_u16(0)?;
        out.put_u32(self.page_size)?;
        out.put_u32(self.flags)?;
        self.created.write(out)?;
        out.put_u32(0)?;
        for field in self.utsname.fields() {
            out.put(field)?;
        }
        out.put_u32(0)
    }
}

/// Parses the immutable header and returns the image version (which is not checked here).
pub fn parse_immutable_header(bytes: &[u8]) -> Result<u32, FieldError> {
    let mut r = Reader::new(bytes);
    if r.array::<8>()? != MAGIC {
        return Err(FieldError {
            kind: FormatErrorKind::BadMagic,
            at: 0,
        });
    }
    r.u32()
}

/// Parses and validates a whole v1 header of exactly [`HEADER_LEN`] bytes.
pub fn parse_header(bytes: &[u8]) -> Result<Header, FieldError> {
    let version = parse_immutable_header(bytes)?;
    if version != VERSION {
        return Err(FieldError {
            kind: FormatErrorKind::UnsupportedVersion(version),
            at: 8,
        });
    }
    let mut r = Reader::new(bytes.get(IMMUTABLE_HEADER_LEN..).unwrap_or_default());
    // Field offsets below are relative to the mutable part; shift errors back to the header.
    let shift = |e: FieldError| FieldError {
        kind: e.kind,
        at: e.at.saturating_add(IMMUTABLE_HEADER_LEN),
    };
    let parse = |r: &mut Reader<'_>| -> Result<Header, FieldError> {
        let arch = Arch(r.u16()?);
        if arch.0 == 0 {
            return Err(FieldError {
                kind: FormatErrorKind::BadArch,
                at: 0,
            });
        }
        r.reserved16()?;
        let page_at = r.pos();
        let page_size = r.u32()?;
        let flags_at = r.pos();
        let flags = r.u32()?;
        let created = Timestamp::read(r)?;
        r.reserved32()?;
        let mut fields = [[0u8; UTS_FIELD_LEN]; 4];
        for field in &mut fields {
            let at = r.pos();
            *field = r.array()?;
            check_fixed_string(field).map_err(|kind| FieldError { kind, at })?;
        }
        r.reserved32()?;
        r.finish()?;
        let [sysname, release, version, machine] = fields;
        let header = Header {
            arch,
            page_size,
            flags,
            created,
            utsname: Utsname {
                sysname,
                release,
                version,
                machine,
            },
        };
        // Remaining checks are value checks; point them at their fields.
        header.check().map_err(|kind| FieldError {
            kind,
            at: match kind {
                FormatErrorKind::BadPageSize(_) => page_at,
                _ => flags_at,
            },
        })?;
        Ok(header)
    };
    parse(&mut r).map_err(shift)
}

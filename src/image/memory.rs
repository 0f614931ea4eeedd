// SPDX-License-Identifier: GPL-2.0

//! Memory records of a process: MM (the address space's layout facts), VMA (one mapping) and
//! PAGES (the contents of a run of present pages of one mapping, with its own checksum).
//!
//! A writer emits every MM and VMA record before the first PAGES record, so that a restarter
//! can validate the whole layout before its point of no return and then stream page data,
//! checking each PAGES record's checksum as it arrives.

use super::crc32c::{crc32c_tables, Crc32c, Crc32cFn};
use super::error::{FieldError, FormatErrorKind};
use super::wire::{ByteOut, Reader, Stop};

/// Most auxiliary vector entries (type, value pairs) an MM record holds. The kernel keeps at
/// most `AT_VECTOR_SIZE / 2` (26 on x86_64, the terminating `AT_NULL` included).
pub const AUXV_MAX: u32 = 64;

/// Fixed part of an MM payload, before the auxiliary vector entries.
pub const MM_FIXED_LEN: usize = 128;

/// Length of a VMA payload.
pub const VMA_LEN: usize = 48;

/// Fixed part of a PAGES payload, before the page data.
pub const PAGES_FIXED_LEN: usize = 24;

/// VMA protection bit: readable.
pub const PROT_READ: u32 = 1;
/// VMA protection bit: writable.
pub const PROT_WRITE: u32 = 2;
/// VMA protection bit: executable.
pub const PROT_EXEC: u32 = 4;
/// Every protection bit.
pub const PROT_ALL: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// VMA flag: a shared mapping (`MAP_SHARED`; `VM_SHARED`/`VM_MAYSHARE`).
pub const VMA_SHARED: u32 = 1 << 0;
/// VMA flag: grows down (`VM_GROWSDOWN`, a stack).
pub const VMA_GROWSDOWN: u32 = 1 << 1;
/// VMA flag: locked in memory (`VM_LOCKED`).
pub const VMA_LOCKED: u32 = 1 << 2;
/// VMA flag: locked on fault (`VM_LOCKONFAULT`).
pub const VMA_LOCKONFAULT: u32 = 1 << 3;
/// VMA flag: no swap reservation (`VM_NORESERVE`).
pub const VMA_NORESERVE: u32 = 1 << 4;
/// VMA flag: not inherited by fork (`MADV_DONTFORK`, `VM_DONTCOPY`).
pub const VMA_DONTCOPY: u32 = 1 << 5;
/// VMA flag: excluded from core dumps (`MADV_DONTDUMP`, `VM_DONTDUMP`); still checkpointed.
pub const VMA_DONTDUMP: u32 = 1 << 6;
/// VMA flag: wiped in the child on fork (`MADV_WIPEONFORK`).
pub const VMA_WIPEONFORK: u32 = 1 << 7;
/// VMA flag: `MADV_HUGEPAGE`.
pub const VMA_HUGEPAGE: u32 = 1 << 8;
/// VMA flag: `MADV_NOHUGEPAGE`.
pub const VMA_NOHUGEPAGE: u32 = 1 << 9;
/// VMA flag: `MADV_SEQUENTIAL`.
pub const VMA_SEQ_READ: u32 = 1 << 10;
/// VMA flag: `MADV_RANDOM`.
pub const VMA_RAND_READ: u32 = 1 << 11;
/// VMA flag: may be made writable by `mprotect` (`VM_MAYWRITE`).
pub const VMA_MAYWRITE: u32 = 1 << 12;
/// VMA flag: may be made executable by `mprotect` (`VM_MAYEXEC`).
pub const VMA_MAYEXEC: u32 = 1 << 13;
/// Every VMA flag v1 defines.
pub const VMA_FLAGS_ALL: u32 = (1 << 14) - 1;

/// Names of the VMA flags, bit 0 first (for tools).
pub const VMA_FLAG_NAMES: [&str; 14] = [
    "shared",
    "growsdown",
    "locked",
    "lockonfault",
    "noreserve",
    "dontcopy",
    "dontdump",
    "wipeonfork",
    "hugepage",
    "nohugepage",
    "seq_read",
    "rand_read",
    "maywrite",
    "mayexec",
];

/// What a mapping is, and so what the image holds of its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VmaKind(pub u16);

impl VmaKind {
    /// Anonymous private memory: every present page is in the image.
    pub const ANON: VmaKind = VmaKind(1);
    /// A file mapping: private ones have their modified (copied-on-write) pages in the image,
    /// shared ones none (their contents live in the file).
    pub const FILE: VmaKind = VmaKind(2);
    /// The heap (`brk`): anonymous, every present page in the image.
    pub const HEAP: VmaKind = VmaKind(3);
    /// The initial stack: anonymous, every present page in the image.
    pub const STACK: VmaKind = VmaKind(4);
    /// The vDSO: not dumped; restart keeps its own and checks its identity (MM record).
    pub const VDSO: VmaKind = VmaKind(5);
    /// The vDSO's data pages (`[vvar]`, `[vvar_vclock]`): not dumped.
    pub const VVAR: VmaKind = VmaKind(6);

    /// Registry name, if the number is assigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            VmaKind::ANON => "anon",
            VmaKind::FILE => "file",
            VmaKind::HEAP => "heap",
            VmaKind::STACK => "stack",
            VmaKind::VDSO => "vdso",
            VmaKind::VVAR => "vvar",
            _ => return None,
        })
    }

    /// Looks a kind up by name.
    pub fn from_name(name: &str) -> Option<VmaKind> {
        (1..=6).map(VmaKind).find(|k| k.name() == Some(name))
    }
}

/// One auxiliary vector entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuxvEntry {
    /// `AT_*` type (never `AT_NULL`, 0: the vector's end is implied by the count).
    pub key: u64,
    /// The value.
    pub value: u64,
}

/// The MM record: where the kernel-known parts of the address space are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mm<'a> {
    /// Start of the text (`mm->start_code`).
    pub start_code: u64,
    /// End of the text.
    pub end_code: u64,
    /// Start of the initialized data.
    pub start_data: u64,
    /// End of the initialized data.
    pub end_data: u64,
    /// Start of the heap (`mm->start_brk`).
    pub start_brk: u64,
    /// Current program break (`mm->brk`).
    pub brk: u64,
    /// Initial stack pointer region (`mm->start_stack`).
    pub start_stack: u64,
    /// Start of the argument strings.
    pub arg_start: u64,
    /// End of the argument strings.
    pub arg_end: u64,
    /// Start of the environment strings.
    pub env_start: u64,
    /// End of the environment strings.
    pub env_end: u64,
    /// Object id of the FILE record of the executable (earlier in the image), 0 if none.
    pub exe_file: u64,
    /// Start of the vDSO, 0 if none is mapped.
    pub vdso_start: u64,
    /// Length of the vDSO in bytes (0 if none).
    pub vdso_len: u32,
    /// CRC-32C of the vDSO's bytes: restart refuses a different vDSO.
    pub vdso_crc: u32,
    /// `personality(2)` flags.
    pub personality: u32,
    /// The auxiliary vector, `AT_NULL` excluded: raw pairs of `__le64`.
    auxv: &'a [u8],
}

impl<'a> Mm<'a> {
    /// An MM record with no auxiliary vector; set it with [`Mm::with_auxv`].
    pub fn new(layout: [u64; 11], exe_file: u64, vdso: (u64, u32, u32), personality: u32) -> Self {
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            layout;
        Mm {
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack,
            arg_start,
            arg_end,
            env_start,
            env_end,
            exe_file,
            vdso_start: vdso.0,
            vdso_len: vdso.1,
            vdso_crc: vdso.2,
            personality,
            auxv: &[],
        }
    }

    /// The same record with `auxv`: `(type, value)` pairs as little-endian `u64`s, 16 bytes
    /// an entry, `AT_NULL` excluded (checked by [`Mm::check`]).
    pub fn with_auxv(mut self, auxv: &'a [u8]) -> Self {
        self.auxv = auxv;
        self
    }

    /// The eleven layout addresses, in record order (code, data, brk, stack, args, env).
    pub fn layout(&self) -> [u64; 11] {
        [
            self.start_code,
            self.end_code,
            self.start_data,
            self.end_data,
            self.start_brk,
            self.brk,
            self.start_stack,
            self.arg_start,
            self.arg_end,
            self.env_start,
            self.env_end,
        ]
    }

    /// Number of auxiliary vector entries.
    pub fn auxv_len(&self) -> usize {
        self.auxv.len().checked_div(16).unwrap_or(0)
    }

    /// The auxiliary vector entries.
    pub fn auxv(&self) -> impl Iterator<Item = AuxvEntry> + 'a {
        self.auxv.chunks_exact(16).map(|c| {
            let mut r = Reader::new(c);
            AuxvEntry {
                key: r.u64().unwrap_or(0),
                value: r.u64().unwrap_or(0),
            }
        })
    }

    /// Validates every field; `own_id` is the record's id.
    pub fn check(&self, own_id: u64) -> Result<(), FormatErrorKind> {
        let ranges = [
            (self.start_code, self.end_code),
            (self.start_data, self.end_data),
            (self.start_brk, self.brk),
            (self.arg_start, self.arg_end),
            (self.env_start, self.env_end),
        ];
        if ranges.iter().any(|(a, b)| a > b) {
            return Err(FormatErrorKind::BadRange);
        }
        if self.exe_file >= own_id {
            return Err(FormatErrorKind::BadReference(self.exe_file));
        }
        if (self.vdso_start == 0) != (self.vdso_len == 0)
            || self
                .vdso_start
                .checked_add(u64::from(self.vdso_len))
                .is_none()
        {
            return Err(FormatErrorKind::BadRange);
        }
        if !self.auxv.len().is_multiple_of(16) || self.auxv_len() > AUXV_MAX as usize {
            return Err(FormatErrorKind::TooManyEntries);
        }
        if self.auxv().any(|e| e.key == 0) {
            return Err(FormatErrorKind::BadAuxv);
        }
        Ok(())
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        for v in self.layout() {
            out.put_u64(v)?;
        }
        out.put_u64(self.exe_file)?;
        out.put_u64(self.vdso_start)?;
        out.put_u32(self.vdso_len)?;
        out.put_u32(self.vdso_crc)?;
        out.put_u32(self.personality)?;
        out.put_u32(u32::try_from(self.auxv_len()).map_err(|_| Stop)?)?;
        out.put(self.auxv)
    }

    /// Parses an MM payload of record `own_id`.
    pub fn parse(payload: &'a [u8], own_id: u64) -> Result<Mm<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let mut layout = [0u64; 11];
        for v in layout.iter_mut() {
            *v = r.u64()?;
        }
        let exe_at = r.pos();
        let exe_file = r.u64()?;
        let vdso_start = r.u64()?;
        let vdso_len = r.u32()?;
        let vdso_crc = r.u32()?;
        let personality = r.u32()?;
        let count_at = r.pos();
        let count = r.u32()?;
        if count > AUXV_MAX {
            return Err(FieldError {
                kind: FormatErrorKind::TooManyEntries,
                at: count_at,
            });
        }
        let auxv_at = r.pos();
        let auxv = r.bytes(
            usize::try_from(count)
                .unwrap_or(usize::MAX)
                .saturating_mul(16),
        )?;
        r.finish()?;
        let mm = Mm::new(
            layout,
            exe_file,
            (vdso_start, vdso_len, vdso_crc),
            personality,
        )
        .with_auxv(auxv);
        mm.check(own_id).map_err(|kind| FieldError {
            kind,
            at: match kind {
                FormatErrorKind::BadReference(_) => exe_at,
                FormatErrorKind::BadAuxv => auxv_at,
                _ => 0,
            },
        })?;
        Ok(mm)
    }
}

/// The VMA record: one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First address (page aligned).
    pub start: u64,
    /// Address after the last byte (page aligned, above `start`).
    pub end: u64,
    /// Offset in the file of `start`, in bytes (page aligned; 0 unless a file mapping).
    pub offset: u64,
    /// Object id of the FILE record mapped (earlier in the image); 0 unless a file mapping.
    pub file: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// `VMA_*` flags.
    pub flags: u32,
    /// What it is.
    pub kind: VmaKind,
}

impl Vma {
    /// Whether the image holds pages of this mapping: anonymous private memory, and the
    /// modified pages of private file mappings. Shared file mappings, the vDSO and vvar not.
    pub fn is_dumped(&self) -> bool {
        match self.kind {
            VmaKind::ANON | VmaKind::HEAP | VmaKind::STACK => true,
            VmaKind::FILE => self.flags & VMA_SHARED == 0,
            _ => false,
        }
    }

    /// Number of pages of `page_size` bytes the mapping spans.
    pub fn pages(&self, page_size: u32) -> u64 {
        self.end
            .saturating_sub(self.start)
            .checked_div(u64::from(page_size))
            .unwrap_or(0)
    }

    /// Validates every field against the page size the writer uses and the record id.
    pub fn check(&self, own_id: u64, page_size: u32) -> Result<(), FormatErrorKind> {
        let mask = u64::from(page_size).saturating_sub(1);
        if self.start >= self.end || (self.start | self.end | self.offset) & mask != 0 {
            return Err(FormatErrorKind::BadRange);
        }
        if self.prot & !PROT_ALL != 0 || self.flags & !VMA_FLAGS_ALL != 0 {
            return Err(FormatErrorKind::UnknownVmaFlags);
        }
        let is_file = self.kind == VmaKind::FILE;
        if self.kind.name().is_none() {
            return Err(FormatErrorKind::UnknownVmaKind(self.kind.0));
        }
        if is_file && (self.file == 0 || self.file >= own_id) {
            return Err(FormatErrorKind::BadReference(self.file));
        }
        if !is_file && (self.file != 0 || self.offset != 0) {
            return Err(FormatErrorKind::BadReference(self.file));
        }
        // Shared memory not backed by a file is refused at checkpoint in v1.
        if !is_file && self.flags & VMA_SHARED != 0 && self.is_dumped() {
            return Err(FormatErrorKind::UnknownVmaFlags);
        }
        Ok(())
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u64(self.start)?;
        out.put_u64(self.end)?;
        out.put_u64(self.offset)?;
        out.put_u64(self.file)?;
        out.put_u32(self.prot)?;
        out.put_u32(self.flags)?;
        out.put_u16(self.kind.0)?;
        out.put_u16(0)?;
        out.put_u32(0)
    }

    /// Parses a VMA payload of record `own_id`. The page size alignment is checked with the
    /// smallest page size (4 KiB); the [`Decoder`](super::Decoder) checks the header's.
    pub fn parse(payload: &[u8], own_id: u64) -> Result<Vma, FieldError> {
        let mut r = Reader::new(payload);
        let vma = Vma {
            start: r.u64()?,
            end: r.u64()?,
            offset: r.u64()?,
            file: r.u64()?,
            prot: r.u32()?,
            flags: r.u32()?,
            kind: VmaKind(r.u16()?),
        };
        r.reserved16()?;
        r.reserved32()?;
        r.finish()?;
        vma.check(own_id, 4096).map_err(|kind| FieldError {
            kind,
            at: match kind {
                FormatErrorKind::BadReference(_) => 24,
                FormatErrorKind::UnknownVmaFlags => 32,
                FormatErrorKind::UnknownVmaKind(_) => 40,
                _ => 0,
            },
        })?;
        Ok(vma)
    }
}

/// The PAGES record: the contents of `count` consecutive present pages of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages<'a> {
    /// Object id of the VMA record the pages belong to (earlier in the image).
    pub vma: u64,
    /// Address of the first page.
    pub start: u64,
    /// CRC-32C of the record's payload with this field left out: each chunk of page data
    /// can be checked as it streams in, before the terminator.
    pub crc: u32,
    /// The pages' bytes: `count * page_size`.
    data: &'a [u8],
    count: u32,
    /// The CRC-32C register after `data` from 0: the checksums over `data` (this record's,
    /// the image's) follow from it without reading the bytes again.
    data_state: u32,
}

impl<'a> Pages<'a> {
    /// A PAGES record of `data.len() / page_size` pages at `start` of mapping `vma`, with its
    /// checksum computed.
    pub fn new(vma: u64, start: u64, page_size: u32, data: &'a [u8]) -> Self {
        Self::new_with(crc32c_tables, vma, start, page_size, data)
    }

    /// [`Pages::new`], reading the data with `engine` (see [`Crc32cFn`]).
    pub fn new_with(
        engine: Crc32cFn,
        vma: u64,
        start: u64,
        page_size: u32,
        data: &'a [u8],
    ) -> Self {
        let count = usize::try_from(page_size)
            .ok()
            .and_then(|ps| data.len().checked_div(ps))
            .unwrap_or(0);
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        // INVARIANT: `data_state` is `data`'s register from 0, and `data` is private.
        let mut p = Pages {
            vma,
            start,
            crc: 0,
            data,
            count,
            data_state: engine(0, data),
        };
        p.crc = p.checksum();
        p
    }

    /// The pages' bytes: `count * page_size`.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Number of pages.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Page size the record's data implies (`data.len() / count`).
    pub fn page_size(&self) -> u32 {
        match usize::try_from(self.count) {
            Ok(n) => self
                .data
                .len()
                .checked_div(n)
                .and_then(|ps| u32::try_from(ps).ok())
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// Address after the last page.
    pub fn end(&self) -> u64 {
        let len = u64::try_from(self.data.len()).unwrap_or(u64::MAX);
        self.start.saturating_add(len)
    }

    /// The checksum the `crc` field must hold (without reading the data again).
    pub fn checksum(&self) -> u32 {
        let len = u64::try_from(self.data.len()).unwrap_or(u64::MAX);
        Crc32c::new()
            .update(&self.vma.to_le_bytes())
            .update(&self.start.to_le_bytes())
            .update(&self.count.to_le_bytes())
            .append(self.data_state, len)
            .value()
    }

    /// Validates every field; `own_id` is the record's id.
    pub fn check(&self, own_id: u64) -> Result<(), FormatErrorKind> {
        if self.vma == 0 || self.vma >= own_id {
            return Err(FormatErrorKind::BadReference(self.vma));
        }
        let ps = self.page_size();
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        if self.count == 0
            || !ps.is_power_of_two()
            || !(4096..=1 << 20).contains(&ps)
            || usize::try_from(ps).map_or(true, |ps| ps.saturating_mul(count) != self.data.len())
        {
            return Err(FormatErrorKind::BadPageData);
        }
        let len = u64::try_from(self.data.len()).unwrap_or(u64::MAX);
        if self.start & u64::from(ps.saturating_sub(1)) != 0
            || self.start.checked_add(len).is_none()
        {
            return Err(FormatErrorKind::BadRange);
        }
        let computed = self.checksum();
        if self.crc != computed {
            return Err(FormatErrorKind::PageChecksumMismatch {
                stored: self.crc,
                computed,
            });
        }
        Ok(())
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u64(self.vma)?;
        out.put_u64(self.start)?;
        out.put_u32(self.count)?;
        out.put_u32(self.crc)?;
        out.put_known(self.data, self.data_state)
    }

    /// Parses a PAGES payload of record `own_id`, verifying its checksum.
    pub fn parse(payload: &'a [u8], own_id: u64) -> Result<Pages<'a>, FieldError> {
        let data = payload.get(PAGES_FIXED_LEN..).unwrap_or_default();
        Self::parse_known(payload, own_id, crc32c_tables(0, data))
    }

    /// [`Pages::parse`] given the register from 0 of the data (the payload after the first
    /// [`PAGES_FIXED_LEN`] bytes), which a reader checksumming the stream already has.
    pub(super) fn parse_known(
        payload: &'a [u8],
        own_id: u64,
        data_state: u32,
    ) -> Result<Pages<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let (vma, start, count, crc) = (r.u64()?, r.u64()?, r.u32()?, r.u32()?);
        // INVARIANT: `data_state` is `data`'s register from 0 (the caller's word for it).
        let p = Pages {
            vma,
            start,
            count,
            crc,
            data: r.rest(),
            data_state,
        };
        p.check(own_id).map_err(|kind| FieldError {
            kind,
            at: match kind {
                FormatErrorKind::BadRange => 8,
                FormatErrorKind::BadPageData => 16,
                FormatErrorKind::PageChecksumMismatch { .. } => 20,
                _ => 0,
            },
        })?;
        Ok(p)
    }
}

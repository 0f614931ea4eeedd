// SPDX-License-Identifier: GPL-2.0

//! The common record header every object starts with, and the registry of record types.

use core::fmt;

use super::error::{FieldError, FormatErrorKind};
use super::wire::{ByteOut, Reader, Stop};

/// Length of the common record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Largest record, header included (16 MiB): bounds what a reader must buffer.
pub const RECORD_MAX_LEN: u32 = 1 << 24;

/// Record flag: a reader that does not know the record type must refuse the image.
pub const RECORD_FLAG_CRITICAL: u16 = 1;

/// A record type number. Unknown numbers are representable so they can be skipped or reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordType(pub u16);

impl RecordType {
    /// Last record: count, length and checksum of everything before it.
    pub const TERMINATOR: RecordType = RecordType(0x0001);
    /// What the image needs from the kernel and hardware (first record).
    pub const ENV_VECTOR: RecordType = RecordType(0x0002);
    /// What one task actually uses; follows its task record.
    pub const TASK_VECTOR: RecordType = RecordType(0x0003);
    /// A task: ids, credentials, comm, cwd and root.
    pub const TASK: RecordType = RecordType(0x0010);
    /// A file descriptor table: fd number, fd flags, file object id.
    pub const FILE_TABLE: RecordType = RecordType(0x0020);
    /// An open file (regular, ext, directory, char device, external fd).
    pub const FILE: RecordType = RecordType(0x0021);
    /// One register set of a task (general registers, XSAVE area...).
    pub const REGSET: RecordType = RecordType(0x0011);
    /// A process's address space layout: code, data, brk, stack, args, env, auxv, exe, vDSO.
    pub const MM: RecordType = RecordType(0x0030);
    /// One mapping of the address space.
    pub const VMA: RecordType = RecordType(0x0031);
    /// The contents of consecutive present pages of one mapping.
    pub const PAGES: RecordType = RecordType(0x0032);
    /// A task's signal state: blocked mask, actions, alternate stack.
    pub const SIGNALS: RecordType = RecordType(0x0012);
    /// A task's other state: rseq, robust list, clear_child_tid, umask, rlimits...
    pub const TASK_STATE: RecordType = RecordType(0x0013);

    /// A run of the saved contents of a file (unlinked file, memfd).
    pub const FILE_DATA: RecordType = RecordType(0x0023);

    /// Every type this codec knows.
    pub const KNOWN: [RecordType; 13] = [
        RecordType::TERMINATOR,
        RecordType::ENV_VECTOR,
        RecordType::TASK_VECTOR,
        RecordType::TASK,
        RecordType::FILE_TABLE,
        RecordType::FILE,
        RecordType::MM,
        RecordType::VMA,
        RecordType::PAGES,
        RecordType::REGSET,
        RecordType::SIGNALS,
        RecordType::TASK_STATE,
        RecordType::FILE_DATA,
    ];

    /// The record flags a known type is written with and must have: [`RECORD_FLAG_CRITICAL`]
    /// for the image structure, the task and its files; 0 for the process state records
    /// (memory, ...), which a reader that only restores a file table may skip.
    pub fn defined_flags(self) -> u16 {
        match self {
            RecordType::MM
            | RecordType::VMA
            | RecordType::PAGES
            | RecordType::REGSET
            | RecordType::SIGNALS
            | RecordType::TASK_STATE => 0,
            _ => RECORD_FLAG_CRITICAL,
        }
    }

    /// Registry name, if the number is assigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            RecordType::TERMINATOR => "terminator",
            RecordType::ENV_VECTOR => "env_vector",
            RecordType::TASK_VECTOR => "task_vector",
            RecordType::TASK => "task",
            RecordType::FILE_TABLE => "file_table",
            RecordType::FILE => "file",
            RecordType::MM => "mm",
            RecordType::VMA => "vma",
            RecordType::PAGES => "pages",
            RecordType::REGSET => "regset",
            RecordType::SIGNALS => "signals",
            RecordType::TASK_STATE => "task_state",
            RecordType::FILE_DATA => "file_data",
            _ => return None,
        })
    }

    /// Looks a type up by its registry name.
    pub fn from_name(name: &str) -> Option<RecordType> {
        RecordType::KNOWN
            .into_iter()
            .find(|t| t.name() == Some(name))
    }

    /// Whether this codec can decode records of this type.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "type#{:#06x}", self.0),
        }
    }
}

/// The common record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Record type.
    pub rtype: RecordType,
    /// Flags: exactly [`RecordType::defined_flags`] for the known types; for unknown types
    /// only [`RECORD_FLAG_CRITICAL`] is interpreted.
    pub flags: u16,
    /// Total length, this header included, so readers can skip what they do not know.
    pub len: u32,
    /// Object id: unique in the image, strictly increasing; 0 only for the terminator.
    pub id: u64,
}

impl RecordHeader {
    /// Whether the critical flag is set.
    pub fn is_critical(&self) -> bool {
        self.flags & RECORD_FLAG_CRITICAL != 0
    }

    /// Length of the payload following the header (0 if the length is invalid).
    pub fn payload_len(&self) -> usize {
        usize::try_from(self.len)
            .unwrap_or(0)
            .saturating_sub(RECORD_HEADER_LEN)
    }

    /// Parses a header; checks only that the length is within bounds and the type is not 0.
    pub fn parse(bytes: &[u8]) -> Result<RecordHeader, FieldError> {
        let mut r = Reader::new(bytes);
        let rtype = RecordType(r.u16()?);
        let flags = r.u16()?;
        let len_at = r.pos();
        let len = r.u32()?;
        let id = r.u64()?;
        if rtype.0 == 0 {
            return Err(FieldError {
                kind: FormatErrorKind::ReservedRecordType,
                at: 0,
            });
        }
        if !(RECORD_HEADER_LEN as u64..=u64::from(RECORD_MAX_LEN)).contains(&u64::from(len)) {
            return Err(FieldError {
                kind: FormatErrorKind::BadRecordLength(len),
                at: len_at,
            });
        }
        Ok(RecordHeader {
            rtype,
            flags,
            len,
            id,
        })
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u16(self.rtype.0)?;
        out.put_u16(self.flags)?;
        out.put_u32(self.len)?;
        out.put_u64(self.id)
    }
}

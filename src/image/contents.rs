// SPDX-License-Identifier: GPL-2.0

//! FILE_DATA records: the saved contents of a file that restart cannot reopen by name (an
//! unlinked file, a memfd). Each holds one run of data at an offset of the file; the runs of
//! one file follow its FILE record in increasing, non-overlapping order, and what lies between
//! them is a hole. The FILE record's variant says how many bytes the runs hold in all.

use super::error::{FieldError, FormatErrorKind};
use super::wire::{ByteOut, Reader, Stop};

/// Length of the FILE_DATA payload before the data.
pub const FILE_DATA_FIXED_LEN: usize = 16;

/// Most data bytes in one FILE_DATA record: what fits a record of maximum length.
pub const FILE_DATA_MAX: usize =
    super::RECORD_MAX_LEN as usize - super::RECORD_HEADER_LEN - FILE_DATA_FIXED_LEN;

/// Longest memfd name in bytes (`MFD_NAME_MAX_LEN`: 249, the `memfd:` prefix excluded).
pub const MEMFD_NAME_MAX: usize = 249;

/// memfd seals (`F_SEAL_*`) the format knows.
pub const MEMFD_SEALS_ALL: u32 = 0x3f;

/// One run of a file's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileData<'a> {
    /// Object id of the FILE record (earlier in the image).
    pub file: u64,
    /// Offset of the first byte in the file.
    pub offset: u64,
    /// The bytes.
    pub data: &'a [u8],
}

impl<'a> FileData<'a> {
    /// Offset after the last byte.
    pub fn end(&self) -> u64 {
        let len = u64::try_from(self.data.len()).unwrap_or(u64::MAX);
        self.offset.saturating_add(len)
    }

    /// Validates every field; `own_id` is the record's id.
    pub fn check(&self, own_id: u64) -> Result<(), FormatErrorKind> {
        if self.file == 0 || self.file >= own_id {
            return Err(FormatErrorKind::BadReference(self.file));
        }
        let len = u64::try_from(self.data.len()).unwrap_or(u64::MAX);
        // File offsets are `loff_t`: the run must end at or below `i64::MAX`.
        if self.data.is_empty()
            || self.data.len() > FILE_DATA_MAX
            || self
                .offset
                .checked_add(len)
                .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(FormatErrorKind::BadRange);
        }
        Ok(())
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u64(self.file)?;
        out.put_u64(self.offset)?;
        out.put(self.data)
    }

    /// Parses a FILE_DATA payload of record `own_id`.
    pub fn parse(payload: &'a [u8], own_id: u64) -> Result<FileData<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let d = FileData {
            file: r.u64()?,
            offset: r.u64()?,
            data: r.rest(),
        };
        d.check(own_id).map_err(|kind| FieldError {
            kind,
            at: match kind {
                FormatErrorKind::BadRange => 8,
                _ => 0,
            },
        })?;
        Ok(d)
    }
}

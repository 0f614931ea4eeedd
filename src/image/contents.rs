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
        let len = u64::try_from(self.data.len()).unwrap_or(u64::MAX);
        Self::check_fields(self.file, self.offset, len, own_id)
    }

    /// Validates the fields of a run of `len` bytes: what [`FileData::check`] checks, for a
    /// reader that streams the data instead of holding it.
    pub fn check_fields(
        file: u64,
        offset: u64,
        len: u64,
        own_id: u64,
    ) -> Result<(), FormatErrorKind> {
        if file == 0 || file >= own_id {
            return Err(FormatErrorKind::BadReference(file));
        }
        // File offsets are `loff_t`: the run must end at or below `i64::MAX`.
        if len == 0
            || len > FILE_DATA_MAX as u64
            || offset
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

/// Why the FILE_DATA records of an image do not match their file records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentsError {
    /// A FILE_DATA record does not directly follow its file record (or that file's earlier
    /// runs).
    NotFollowing {
        /// The file record it names.
        file: u64,
    },
    /// A FILE_DATA record after a file record of a kind without contents.
    NoContents {
        /// The kind's wire number.
        kind: u16,
    },
    /// A run starts before the end of the previous one.
    Overlap {
        /// Its offset.
        offset: u64,
    },
    /// A run ends past the file's size.
    PastSize {
        /// Where it ends.
        end: u64,
        /// The file's size.
        size: i64,
    },
    /// The runs of a file hold another number of bytes than its record says.
    LengthMismatch {
        /// The file record.
        file: u64,
        /// Bytes in its runs.
        held: u64,
        /// Its `data_len`.
        said: u64,
    },
}

impl core::fmt::Display for ContentsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ContentsError::NotFollowing { file } => {
                write!(f, "file data of record {file} does not directly follow it")
            }
            ContentsError::NoContents { kind } => write!(f, "file data of a file of kind {kind}"),
            ContentsError::Overlap { offset } => {
                write!(f, "file data at {offset} overlaps or precedes earlier data")
            }
            ContentsError::PastSize { end, size } => {
                write!(f, "file data up to {end} past the file's size {size}")
            }
            ContentsError::LengthMismatch { file, held, said } => write!(
                f,
                "the contents of file {file} hold {held} bytes, its record says {said}"
            ),
        }
    }
}

/// Checks, record by record, what a restarter requires of FILE_DATA records beyond the
/// codec's per-record checks: they directly follow their file record (a kind with
/// contents), in increasing order without overlap, within its size, and hold exactly its
/// `data_len` bytes. Feed it every record in image order ([`ContentsCheck::next`]), then
/// call [`ContentsCheck::finish`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ContentsCheck {
    /// The file record whose runs may follow: id, size, data_len, kind.
    file: Option<(u64, i64, u64, u16)>,
    /// Bytes seen in its runs, and where the last one ended.
    held: u64,
    end: u64,
    /// Whether the last record was that file or one of its runs.
    adjacent: bool,
}

impl ContentsCheck {
    /// A checker at the start of an image.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next record of the image, decoded, with its id.
    pub fn next(&mut self, id: u64, body: &super::Body<'_>) -> Result<(), ContentsError> {
        match body {
            super::Body::FileData(d) => {
                let len = u64::try_from(d.data.len()).unwrap_or(u64::MAX);
                self.run(d.file, d.offset, len)
            }
            super::Body::File(f) => {
                self.close()?;
                self.file = Some((id, f.size, f.variant.data_len(), f.variant.kind()));
                self.adjacent = true;
                Ok(())
            }
            _ => {
                self.close()?;
                self.file = None;
                Ok(())
            }
        }
    }

    /// Takes the next record of the image when it is a FILE_DATA record whose data the
    /// caller did not keep: a run of `len` bytes at `offset` of file record `file`.
    pub fn run(&mut self, file: u64, offset: u64, len: u64) -> Result<(), ContentsError> {
        let Some((current, size, _, kind)) = self.file.filter(|f| f.0 == file) else {
            return Err(ContentsError::NotFollowing { file });
        };
        if !self.adjacent {
            return Err(ContentsError::NotFollowing { file: current });
        }
        if kind != 7 && kind != 8 {
            return Err(ContentsError::NoContents { kind });
        }
        if offset < self.end {
            return Err(ContentsError::Overlap { offset });
        }
        let end = offset.saturating_add(len);
        if size < 0 || end > size as u64 {
            return Err(ContentsError::PastSize { end, size });
        }
        self.held = self.held.saturating_add(len);
        self.end = end;
        Ok(())
    }

    /// The end of the image: the last file's runs must be complete.
    pub fn finish(&mut self) -> Result<(), ContentsError> {
        self.close()?;
        self.file = None;
        Ok(())
    }

    /// The runs of the current file are over.
    fn close(&mut self) -> Result<(), ContentsError> {
        if let Some((file, _, said, _)) = self.file {
            if self.held != said {
                return Err(ContentsError::LengthMismatch {
                    file,
                    held: self.held,
                    said,
                });
            }
        }
        self.held = 0;
        self.end = 0;
        self.adjacent = false;
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Errors: each one says what is wrong and where, so a tool can print it on one line and the
//! kernel can log it before refusing a restart.

use core::fmt;

use super::record::RecordType;

/// What is wrong with an image, or with a record that was about to be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatErrorKind {
    /// The first eight bytes are not `LinuxC/R`.
    BadMagic,
    /// The image version is not one this codec reads (v1 only; `ckpt convert` upgrades).
    UnsupportedVersion(u32),
    /// The stream ended before the terminator record: the image is incomplete.
    Truncated,
    /// A reserved field is not zero.
    ReservedNotZero,
    /// The architecture number is 0 (reserved).
    BadArch,
    /// The page size is not a power of two between 4 KiB and 1 MiB.
    BadPageSize(u32),
    /// The header sets a must-understand flag this codec does not know.
    UnknownHeaderFlags(u32),
    /// A utsname or comm field is not NUL terminated and NUL padded.
    BadFixedString,
    /// A nanoseconds field is 1e9 or more.
    BadTimestamp,
    /// A record length is below the record header size or above the maximum.
    BadRecordLength(u32),
    /// A record is larger than the buffer the caller gave to the decoder.
    RecordExceedsBuffer(u32),
    /// Record type 0 is reserved.
    ReservedRecordType,
    /// A record of a v1 type whose flags are not exactly [`RECORD_FLAG_CRITICAL`].
    ///
    /// [`RECORD_FLAG_CRITICAL`]: super::RECORD_FLAG_CRITICAL
    BadRecordFlags(u16),
    /// A critical record of a type this codec does not know: refusing is the only safe choice.
    UnknownCriticalRecord(u16),
    /// Object ids must be non-zero and strictly increasing through the image.
    IdNotIncreasing(u64),
    /// The first record must be the environment vector.
    EnvVectorMissing,
    /// Only one environment vector is allowed.
    EnvVectorDuplicate,
    /// A task vector must directly follow the task record it names.
    TaskVectorOrphan(u64),
    /// A reference names id 0 or an object that is not earlier in the image.
    BadReference(u64),
    /// A field runs past the end of its record.
    PayloadTruncated,
    /// A record has bytes after its last field.
    TrailingBytes,
    /// A path is longer than [`PATH_MAX`](super::PATH_MAX) bytes.
    PathTooLong,
    /// A path contains a NUL byte.
    NulInPath,
    /// A file handle is longer than [`FILE_HANDLE_MAX`](super::FILE_HANDLE_MAX) bytes.
    HandleTooLong,
    /// A file kind this codec does not know.
    UnknownFileKind(u16),
    /// A directory hash cookie mode other than 32 or 64 bit.
    BadDirCookieMode(u32),
    /// File table fd numbers must be strictly increasing.
    FdNotIncreasing(u32),
    /// File table fd flags other than close-on-exec.
    UnknownFdFlags(u32),
    /// Too many entries in a file table or vector.
    TooManyEntries,
    /// Environment key 0 is reserved.
    EnvKeyZero,
    /// Environment keys must be strictly increasing within a vector.
    EnvKeyNotIncreasing(u32),
    /// An environment value's length does not fit its type or exceeds the maximum.
    EnvValueLength(u32),
    /// An environment rule that cannot apply to the value type (e.g. subset of a string).
    EnvRuleMismatch(u32),
    /// [`EnvWriter::put_registered`](super::EnvWriter::put_registered) with a key missing
    /// from the registry.
    EnvKeyUnregistered(u32),
    /// [`EnvWriter::put_registered`](super::EnvWriter::put_registered) with a value whose
    /// type differs from the registry's.
    EnvTypeMismatch(u32),
    /// The terminator's header is malformed (flags, id or length).
    BadTerminator,
    /// The terminator's record count differs from the records read.
    RecordCountMismatch {
        /// Count stored in the terminator.
        stored: u64,
        /// Records actually read.
        actual: u64,
    },
    /// The terminator's image length differs from the bytes read.
    ImageLengthMismatch {
        /// Length stored in the terminator.
        stored: u64,
        /// Bytes actually read before the terminator.
        actual: u64,
    },
    /// The checksum does not match: the image is corrupt.
    ChecksumMismatch {
        /// Checksum stored in the terminator.
        stored: u32,
        /// Checksum computed over the bytes read.
        computed: u32,
    },
    /// There are bytes after the terminator.
    TrailingData,
    /// A record was written after the terminator, or before the header.
    OutOfOrder,
    /// An address range is empty, reversed, unaligned or wraps around.
    BadRange,
    /// An auxiliary vector entry of type 0 (`AT_NULL` ends the vector and is not stored).
    BadAuxv,
    /// VMA protection or flag bits this codec does not know.
    UnknownVmaFlags,
    /// A VMA kind this codec does not know.
    UnknownVmaKind(u16),
    /// A PAGES record's data is not a whole, non-zero number of pages.
    BadPageData,
    /// A PAGES record's data does not match its own checksum.
    PageChecksumMismatch {
        /// Checksum stored in the record.
        stored: u32,
        /// Checksum computed over the record.
        computed: u32,
    },
    /// A PAGES record's page size differs from the header's.
    PageSizeMismatch(u32),
    /// A register set of a length its note type does not have.
    BadRegset,
    /// A SIGNALS record the kernel could not have written (a blocked or masked SIGKILL or
    /// SIGSTOP, an action for them, an inconsistent alternate stack, another signal count).
    BadSignals,
    /// A TASK_STATE record the kernel could not have written (rseq or robust list fields
    /// inconsistent, umask over 0777, a soft limit above its hard limit, ...).
    BadTaskState,
}

impl fmt::Display for FormatErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FormatErrorKind as K;
        match *self {
            K::BadMagic => f.write_str("bad magic (not a LinuxC/R image)"),
            K::UnsupportedVersion(v) => write!(f, "unsupported image version {v}"),
            K::Truncated => f.write_str("image truncated (no terminator)"),
            K::ReservedNotZero => f.write_str("reserved field is not zero"),
            K::BadArch => f.write_str("architecture 0 is reserved"),
            K::BadPageSize(s) => write!(f, "bad page size {s}"),
            K::UnknownHeaderFlags(x) => write!(f, "unknown must-understand header flags {x:#x}"),
            K::BadFixedString => f.write_str("fixed-size string is not NUL terminated and padded"),
            K::BadTimestamp => f.write_str("nanoseconds out of range"),
            K::BadRecordLength(l) => write!(f, "bad record length {l}"),
            K::RecordExceedsBuffer(l) => write!(f, "record length {l} exceeds the read buffer"),
            K::ReservedRecordType => f.write_str("record type 0 is reserved"),
            K::BadRecordFlags(x) => write!(f, "bad record flags {x:#06x}"),
            K::UnknownCriticalRecord(t) => write!(f, "unknown critical record type {t:#06x}"),
            K::IdNotIncreasing(id) => write!(f, "object id {id} is zero or not increasing"),
            K::EnvVectorMissing => f.write_str("first record is not the environment vector"),
            K::EnvVectorDuplicate => f.write_str("second environment vector"),
            K::TaskVectorOrphan(t) => {
                write!(f, "task vector for task {t} does not follow that task")
            }
            K::BadReference(id) => write!(f, "reference to id {id} is not an earlier object"),
            K::PayloadTruncated => f.write_str("field runs past the end of the record"),
            K::TrailingBytes => f.write_str("unexpected bytes at the end of the record"),
            K::PathTooLong => f.write_str("path too long"),
            K::NulInPath => f.write_str("NUL byte in path"),
            K::HandleTooLong => f.write_str("file handle too long"),
            K::UnknownFileKind(k) => write!(f, "unknown file kind {k}"),
            K::BadDirCookieMode(m) => write!(f, "bad directory cookie mode {m}"),
            K::FdNotIncreasing(fd) => write!(f, "fd {fd} is not increasing"),
            K::UnknownFdFlags(x) => write!(f, "unknown fd flags {x:#x}"),
            K::TooManyEntries => f.write_str("too many entries"),
            K::EnvKeyZero => f.write_str("environment key 0 is reserved"),
            K::EnvKeyNotIncreasing(k) => write!(f, "environment key {k:#010x} is not increasing"),
            K::EnvValueLength(k) => {
                write!(f, "environment key {k:#010x}: value length does not fit its type")
            }
            K::EnvRuleMismatch(k) => {
                write!(f, "environment key {k:#010x}: rule does not apply to its value type")
            }
            K::EnvKeyUnregistered(k) => write!(f, "environment key {k:#010x} is not registered"),
            K::EnvTypeMismatch(k) => {
                write!(f, "environment key {k:#010x}: value type differs from the registry")
            }
            K::BadTerminator => f.write_str("malformed terminator record"),
            K::RecordCountMismatch { stored, actual } => {
                write!(f, "terminator counts {stored} records, image has {actual}")
            }
            K::ImageLengthMismatch { stored, actual } => {
                write!(f, "terminator says {stored} bytes precede it, image has {actual}")
            }
            K::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): image is corrupt"
            ),
            K::TrailingData => f.write_str("data after the terminator"),
            K::OutOfOrder => f.write_str("record out of order"),
            K::BadRange => f.write_str("empty, reversed, unaligned or wrapping address range"),
            K::BadAuxv => f.write_str("auxiliary vector entry of type 0"),
            K::UnknownVmaFlags => f.write_str("unknown mapping protection or flags"),
            K::UnknownVmaKind(k) => write!(f, "unknown mapping kind {k}"),
            K::BadPageData => f.write_str("page data is not a whole number of pages"),
            K::PageChecksumMismatch { stored, computed } => write!(
                f,
                "page checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): image is corrupt"
            ),
            K::BadRegset => f.write_str("register set of a wrong length for its note type"),
            K::PageSizeMismatch(s) => write!(f, "pages of {s} bytes in an image of another page size"),
            K::BadSignals => f.write_str("signal state the kernel cannot have"),
            K::BadTaskState => f.write_str("task state the kernel cannot have"),
        }
    }
}

/// An error found by a pure-slice parser: what, and at which byte of the parsed slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: FormatErrorKind,
    /// Byte offset of the offending field within the parsed slice.
    pub at: usize,
}

/// Names a record in an error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef {
    /// The record's type.
    pub rtype: RecordType,
    /// The record's object id.
    pub id: u64,
}

/// A malformed image: what is wrong, the absolute byte offset, and the record if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// What is wrong.
    pub kind: FormatErrorKind,
    /// Absolute byte offset in the image of the offending field.
    pub offset: u64,
    /// The record being decoded, if the error is inside one.
    pub record: Option<RecordRef>,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.kind, self.offset)?;
        if let Some(r) = self.record {
            write!(f, " ({} record id {})", r.rtype, r.id)?;
        }
        Ok(())
    }
}

/// Error of a [`Decoder`](super::Decoder): the source failed, or the image is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError<E> {
    /// The [`Source`](super::Source) returned an error.
    Source(E),
    /// The image is malformed, truncated or corrupt.
    Format(FormatError),
}

impl<E: fmt::Display> fmt::Display for DecodeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Source(e) => write!(f, "read error: {e}"),
            DecodeError::Format(e) => e.fmt(f),
        }
    }
}

/// Error of an [`Encoder`](super::Encoder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError<E> {
    /// The [`Sink`](super::Sink) returned an error; the image is unusable.
    Sink(E),
    /// The record is invalid (nothing of it was written; the encoder is still usable).
    Invalid(FormatErrorKind),
    /// A builder callback returned [`EnvStop`](super::EnvStop) on its own account.
    Aborted,
    /// A builder callback produced different entries on its measuring and writing passes.
    Inconsistent,
    /// An earlier error left a partial record in the stream; nothing more can be written.
    Poisoned,
}

impl<E: fmt::Display> fmt::Display for EncodeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Sink(e) => write!(f, "write error: {e}"),
            EncodeError::Invalid(k) => write!(f, "invalid record: {k}"),
            EncodeError::Aborted => f.write_str("builder aborted"),
            EncodeError::Inconsistent => f.write_str("builder was not deterministic"),
            EncodeError::Poisoned => f.write_str("encoder failed earlier"),
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Reading images: a streaming [`Decoder`] over any [`Source`] (restart reads from pipes), and
//! [`parse_body`], the pure-slice parser of one record's payload.

use super::contents::FileData;
use super::crc32c::{crc32c_tables, Crc32c, Crc32cFn};
use super::env::EnvVector;
use super::error::{DecodeError, FieldError, FormatError, FormatErrorKind, RecordRef};
use super::file::{File, FileTable};
use super::header::{
    parse_header, parse_immutable_header, Header, HEADER_LEN, IMMUTABLE_HEADER_LEN,
};
use super::memory::{Mm, Pages, Vma, PAGES_FIXED_LEN};
use super::record::{RecordHeader, RecordType, RECORD_HEADER_LEN};
use super::regs::Regset;
use super::sigstate::{Signals, TaskState};
use super::task::{Task, TaskVector};
use super::terminator::{Terminator, TERMINATOR_PAYLOAD_LEN};

/// Where a decoder reads from. The kernel implements it over `kernel_read()`, tools over
/// `std::io::Read`; `&[u8]` implements it too.
pub trait Source {
    /// Error of a failed read.
    type Error;

    /// Reads up to `buf.len()` bytes, returning how many; 0 means end of stream.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;

    /// The CRC-32C implementation the decoder checks with: the codec's tables, unless the
    /// source's environment has a faster one that computes the same (the kernel's).
    fn crc32c(&self) -> Crc32cFn {
        crc32c_tables
    }

    /// Moves up to `len` bytes ahead without reading them, if the source can (a file):
    /// `Some(n)`, fewer than `len` only at the end of the stream. `None` (the default): it
    /// cannot, and a decoder [skipping data](Decoder::skipping_data) reads and drops them.
    fn skip(&mut self, len: u64) -> Result<Option<u64>, Self::Error> {
        let _ = len;
        Ok(None)
    }
}

impl Source for &[u8] {
    type Error = core::convert::Infallible;

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.len());
        let (head, tail) = self.split_at(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(head);
        }
        *self = tail;
        Ok(n)
    }

    fn skip(&mut self, len: u64) -> Result<Option<u64>, Self::Error> {
        let n = usize::try_from(len).unwrap_or(usize::MAX).min(self.len());
        *self = self.get(n..).unwrap_or_default();
        Ok(Some(n as u64))
    }
}

impl<R: Source + ?Sized> Source for &mut R {
    type Error = R::Error;

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, R::Error> {
        (**self).read(buf)
    }

    fn crc32c(&self) -> Crc32cFn {
        (**self).crc32c()
    }

    fn skip(&mut self, len: u64) -> Result<Option<u64>, R::Error> {
        (**self).skip(len)
    }
}

/// The decoded payload of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// The environment vector.
    EnvVector(EnvVector<'a>),
    /// A task vector.
    TaskVector(TaskVector<'a>),
    /// A task.
    Task(Task<'a>),
    /// A file table.
    FileTable(FileTable<'a>),
    /// A file.
    File(File<'a>),
    /// A process's address space layout.
    Mm(Mm<'a>),
    /// One mapping.
    Vma(Vma),
    /// Contents of present pages of one mapping.
    Pages(Pages<'a>),
    /// One register set of a task.
    Regset(Regset<'a>),
    /// A task's signal state.
    Signals(Signals<'a>),
    /// A task's other state (rseq, robust list, umask, rlimits...).
    TaskState(TaskState),
    /// A run of a file's saved contents.
    FileData(FileData<'a>),
    /// The terminator (already verified when returned by a [`Decoder`]).
    Terminator(Terminator),
    /// A PAGES or FILE_DATA record whose payload a decoder [skipping
    /// data](Decoder::skipping_data) passed over unread: `len` bytes.
    Skipped {
        /// The payload's length.
        len: u64,
    },
    /// An optional record of an unknown type; its payload if it fit the buffer.
    Unknown(Option<&'a [u8]>),
}

/// Parses the payload of a record of a known type (an unknown type gives [`Body::Unknown`]).
/// Checks everything that needs no other record; ordering is the [`Decoder`]'s job.
pub fn parse_body<'a>(header: &RecordHeader, payload: &'a [u8]) -> Result<Body<'a>, FieldError> {
    Ok(match header.rtype {
        RecordType::ENV_VECTOR => Body::EnvVector(EnvVector::parse(payload)?),
        RecordType::TASK_VECTOR => Body::TaskVector(TaskVector::parse(payload)?),
        RecordType::TASK => Body::Task(Task::parse(payload, header.id)?),
        RecordType::FILE_TABLE => Body::FileTable(FileTable::parse(payload, header.id)?),
        RecordType::FILE => Body::File(File::parse(payload)?),
        RecordType::MM => Body::Mm(Mm::parse(payload, header.id)?),
        RecordType::VMA => Body::Vma(Vma::parse(payload, header.id)?),
        RecordType::PAGES => Body::Pages(Pages::parse(payload, header.id)?),
        RecordType::REGSET => Body::Regset(Regset::parse(payload)?),
        RecordType::SIGNALS => Body::Signals(Signals::parse(payload)?),
        RecordType::TASK_STATE => Body::TaskState(TaskState::parse(payload)?),
        RecordType::FILE_DATA => Body::FileData(FileData::parse(payload, header.id)?),
        RecordType::TERMINATOR => Body::Terminator(Terminator::parse(payload)?),
        _ => Body::Unknown(Some(payload)),
    })
}

/// One decoded record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Byte offset of the record in the image.
    pub offset: u64,
    /// The common header.
    pub header: RecordHeader,
    /// The raw payload (empty for an unknown record that was skipped).
    pub payload: &'a [u8],
    /// The decoded payload.
    pub body: Body<'a>,
}

/// Reads one image record by record, validating everything as it goes: lengths, bounds, id
/// order, references, record order, and finally count, length and checksum.
///
/// Nothing is trusted before the terminator verifies: a consumer acting on records as they
/// arrive (the kernel restarting) must be able to abort when a later error shows up.
pub struct Decoder<R: Source> {
    src: R,
    header: Header,
    crc: Crc32c,
    offset: u64,
    records: u64,
    last_id: u64,
    last_type: RecordType,
    done: bool,
    /// Pass over the payload of PAGES and FILE_DATA records (see [`Decoder::skipping_data`]).
    skip_data: bool,
    /// Some data was passed over: the running checksum cannot be verified.
    skipped: bool,
}

/// Scratch space for skipping unknown records that do not fit the caller's buffer.
const SKIP_CHUNK: usize = 256;

impl<R: Source> Decoder<R> {
    /// Reads and validates the header.
    pub fn new(src: R) -> Result<Self, DecodeError<R::Error>> {
        let mut dec = Decoder {
            src,
            header: Header {
                arch: super::Arch(0),
                page_size: 0,
                flags: 0,
                created: super::Timestamp::default(),
                utsname: super::Utsname {
                    sysname: [0; super::UTS_FIELD_LEN],
                    release: [0; super::UTS_FIELD_LEN],
                    version: [0; super::UTS_FIELD_LEN],
                    machine: [0; super::UTS_FIELD_LEN],
                },
            },
            crc: Crc32c::new(),
            offset: 0,
            records: 0,
            last_id: 0,
            last_type: RecordType(0),
            done: false,
            skip_data: false,
            skipped: false,
        };
        let mut bytes = [0u8; HEADER_LEN];
        let (immutable, _) = bytes.split_at_mut(IMMUTABLE_HEADER_LEN);
        dec.read_exact(immutable, true)?;
        // Check magic and version before reading further: a v2 image may be shorter than v1.
        parse_immutable_header(immutable)
            .and_then(|v| match v {
                super::VERSION => Ok(()),
                v => Err(FieldError {
                    kind: FormatErrorKind::UnsupportedVersion(v),
                    at: 8,
                }),
            })
            .map_err(|e| dec.field_error(0, e, None))?;
        let (_, mutable) = bytes.split_at_mut(IMMUTABLE_HEADER_LEN);
        dec.read_exact(mutable, true)?;
        dec.header = parse_header(&bytes).map_err(|e| dec.field_error(0, e, None))?;
        Ok(dec)
    }

    /// Passes over the payload of PAGES and FILE_DATA records, unread where the source can
    /// [skip](Source::skip), and returns them as [`Body::Skipped`] (their header checked,
    /// their fields skipped with their data): for a reader that needs the image's structure
    /// but not its bulk (a tool that hands the image to the kernel, which checks everything
    /// again as it reads it). Every other record is checked as usual; the image's running
    /// checksum is not once data was skipped, as it covers the data.
    pub fn skipping_data(mut self) -> Self {
        self.skip_data = true;
        self
    }

    /// The image header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether data was passed over ([`Decoder::skipping_data`]): then the terminator's
    /// checksum was not verified.
    pub fn data_skipped(&self) -> bool {
        self.skipped
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn error(
        &self,
        kind: FormatErrorKind,
        offset: u64,
        record: Option<RecordRef>,
    ) -> DecodeError<R::Error> {
        DecodeError::Format(FormatError {
            kind,
            offset,
            record,
        })
    }

    /// Converts an error at byte `e.at` of a slice starting at `base`.
    fn field_error(
        &self,
        base: u64,
        e: FieldError,
        record: Option<RecordRef>,
    ) -> DecodeError<R::Error> {
        let at = u64::try_from(e.at).unwrap_or(u64::MAX);
        self.error(e.kind, base.saturating_add(at), record)
    }

    /// Fills `buf` completely; end of stream first is truncation.
    fn read_exact(&mut self, buf: &mut [u8], hash: bool) -> Result<(), DecodeError<R::Error>> {
        let mut filled = 0usize;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            let n = self.src.read(rest).map_err(DecodeError::Source)?;
            if n == 0 {
                let at = self
                    .offset
                    .saturating_add(u64::try_from(filled).unwrap_or(0));
                return Err(self.error(FormatErrorKind::Truncated, at, None));
            }
            filled = filled.saturating_add(n.min(rest.len()));
        }
        if hash {
            self.crc = self.crc.update_with(self.src.crc32c(), buf);
        }
        self.offset = self
            .offset
            .saturating_add(u64::try_from(buf.len()).unwrap_or(u64::MAX));
        Ok(())
    }

    /// Reads the next record into `buf`. Returns `None` once the terminator has been read
    /// and verified. Records longer than `buf` are an error unless unknown and optional (those
    /// are skipped). `buf` of [`RECORD_MAX_LEN`](super::RECORD_MAX_LEN) bytes fits any record.
    pub fn next_record<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<Record<'b>>, DecodeError<R::Error>> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let mut raw = [0u8; RECORD_HEADER_LEN];
        self.read_exact(&mut raw, true)?;
        let header = RecordHeader::parse(&raw).map_err(|e| self.field_error(start, e, None))?;
        let here = Some(RecordRef {
            rtype: header.rtype,
            id: header.id,
        });
        let payload_at = start.saturating_add(RECORD_HEADER_LEN as u64);
        let payload_len = header.payload_len();

        if header.rtype == RecordType::TERMINATOR {
            return self.read_terminator(start, header).map(Some);
        }
        self.check_order(&header, start)?;

        if self.skip_data && matches!(header.rtype, RecordType::PAGES | RecordType::FILE_DATA) {
            if header.flags != header.rtype.defined_flags() {
                let kind = FormatErrorKind::BadRecordFlags(header.flags);
                return Err(self.error(kind, start.saturating_add(2), here));
            }
            self.pass_over(payload_len, buf)?;
            self.skipped = true;
            let len = u64::try_from(payload_len).unwrap_or(u64::MAX);
            return Ok(Some(self.accept(start, header, &[], Body::Skipped { len })));
        }
        let fits = buf.len() >= payload_len;
        if !header.rtype.is_known() {
            if header.is_critical() {
                return Err(self.error(
                    FormatErrorKind::UnknownCriticalRecord(header.rtype.0),
                    start,
                    here,
                ));
            }
            if !fits {
                self.skip(payload_len)?;
                return Ok(Some(self.accept(start, header, &[], Body::Unknown(None))));
            }
            let payload = buf.get_mut(..payload_len).unwrap_or_default();
            self.read_exact(payload, true)?;
            let payload: &'b [u8] = payload;
            return Ok(Some(self.accept(
                start,
                header,
                payload,
                Body::Unknown(Some(payload)),
            )));
        }
        // Every known type has exactly its defined flags: anything else is corruption.
        if header.flags != header.rtype.defined_flags() {
            let kind = FormatErrorKind::BadRecordFlags(header.flags);
            return Err(self.error(kind, start.saturating_add(2), here));
        }
        if !fits {
            return Err(self.error(
                FormatErrorKind::RecordExceedsBuffer(header.len),
                start,
                here,
            ));
        }
        let payload = buf.get_mut(..payload_len).unwrap_or_default();
        let pages = header.rtype == RecordType::PAGES;
        self.read_exact(payload, !pages)?;
        let payload: &'b [u8] = payload;
        let body = if pages {
            // Page data is read once: its register gives both the running checksum and the
            // record's own.
            let engine = self.src.crc32c();
            let (fixed, data) = payload.split_at(payload.len().min(PAGES_FIXED_LEN));
            let data_state = engine(0, data);
            let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
            self.crc = self.crc.update_with(engine, fixed).append(data_state, len);
            Pages::parse_known(payload, header.id, data_state).map(Body::Pages)
        } else {
            parse_body(&header, payload)
        }
        .map_err(|e| self.field_error(payload_at, e, here))?;
        if let Body::TaskVector(tv) = body {
            if self.last_type != RecordType::TASK || self.last_id != tv.task {
                return Err(self.error(
                    FormatErrorKind::TaskVectorOrphan(tv.task),
                    payload_at,
                    here,
                ));
            }
        }
        let page_size = self.header.page_size;
        let page_error = match body {
            Body::Pages(p) if p.page_size() != page_size => {
                Some((FormatErrorKind::PageSizeMismatch(p.page_size()), 16))
            }
            Body::Vma(v) => v.check(header.id, page_size).err().map(|k| (k, 0)),
            Body::Regset(r) => r
                .check(self.header.arch == super::Arch::X86_64)
                .err()
                .map(|k| (k, 4)),
            _ => None,
        };
        if let Some((kind, at)) = page_error {
            return Err(self.error(kind, payload_at.saturating_add(at), here));
        }
        Ok(Some(self.accept(start, header, payload, body)))
    }

    /// Checks id order and the place of the environment vector.
    fn check_order(&self, header: &RecordHeader, start: u64) -> Result<(), DecodeError<R::Error>> {
        let here = Some(RecordRef {
            rtype: header.rtype,
            id: header.id,
        });
        let is_env = header.rtype == RecordType::ENV_VECTOR;
        if self.records == 0 && !is_env {
            return Err(self.error(FormatErrorKind::EnvVectorMissing, start, here));
        }
        if self.records != 0 && is_env {
            return Err(self.error(FormatErrorKind::EnvVectorDuplicate, start, here));
        }
        if header.id <= self.last_id {
            let id_at = start.saturating_add(8);
            return Err(self.error(FormatErrorKind::IdNotIncreasing(header.id), id_at, here));
        }
        Ok(())
    }

    fn accept<'b>(
        &mut self,
        offset: u64,
        header: RecordHeader,
        payload: &'b [u8],
        body: Body<'b>,
    ) -> Record<'b> {
        self.records = self.records.saturating_add(1);
        self.last_id = header.id;
        self.last_type = header.rtype;
        Record {
            offset,
            header,
            payload,
            body,
        }
    }

    fn skip(&mut self, mut len: usize) -> Result<(), DecodeError<R::Error>> {
        let mut chunk = [0u8; SKIP_CHUNK];
        while len > 0 {
            let n = len.min(SKIP_CHUNK);
            let part = chunk.get_mut(..n).unwrap_or_default();
            self.read_exact(part, true)?;
            len = len.saturating_sub(n);
        }
        Ok(())
    }

    /// Passes over `len` bytes without checksumming them: unread if the source can skip, else
    /// read into `scratch` (or a small buffer of its own if `scratch` is empty) and dropped.
    fn pass_over(&mut self, len: usize, scratch: &mut [u8]) -> Result<(), DecodeError<R::Error>> {
        let want = u64::try_from(len).unwrap_or(u64::MAX);
        match self.src.skip(want).map_err(DecodeError::Source)? {
            Some(n) => {
                let at = self.offset.saturating_add(n.min(want));
                if n < want {
                    return Err(self.error(FormatErrorKind::Truncated, at, None));
                }
                self.offset = at;
                Ok(())
            }
            None => {
                let mut chunk = [0u8; SKIP_CHUNK];
                let scratch = if scratch.is_empty() {
                    &mut chunk[..]
                } else {
                    scratch
                };
                let mut left = len;
                while left > 0 {
                    let part = scratch
                        .get_mut(..left.min(scratch.len()))
                        .unwrap_or_default();
                    self.read_exact(part, false)?;
                    left = left.saturating_sub(part.len());
                }
                Ok(())
            }
        }
    }

    fn read_terminator(
        &mut self,
        start: u64,
        header: RecordHeader,
    ) -> Result<Record<'static>, DecodeError<R::Error>> {
        let here = Some(RecordRef {
            rtype: header.rtype,
            id: header.id,
        });
        Terminator::check_header(&header).map_err(|k| self.error(k, start, here))?;
        if self.records == 0 {
            return Err(self.error(FormatErrorKind::EnvVectorMissing, start, here));
        }
        let mut payload = [0u8; TERMINATOR_PAYLOAD_LEN];
        let (counted, checksum) = payload.split_at_mut(TERMINATOR_PAYLOAD_LEN - 4);
        self.read_exact(counted, true)?;
        let computed = self.crc.value();
        self.read_exact(checksum, false)?;
        let t = Terminator::parse(&payload).map_err(|e| self.field_error(start, e, here))?;
        let payload_at = start.saturating_add(RECORD_HEADER_LEN as u64);
        if t.record_count != self.records {
            let kind = FormatErrorKind::RecordCountMismatch {
                stored: t.record_count,
                actual: self.records,
            };
            return Err(self.error(kind, payload_at, here));
        }
        if t.image_len != start {
            let kind = FormatErrorKind::ImageLengthMismatch {
                stored: t.image_len,
                actual: start,
            };
            return Err(self.error(kind, payload_at.saturating_add(8), here));
        }
        if t.checksum != computed && !self.skipped {
            let kind = FormatErrorKind::ChecksumMismatch {
                stored: t.checksum,
                computed,
            };
            return Err(self.error(kind, payload_at.saturating_add(16), here));
        }
        self.done = true;
        Ok(Record {
            offset: start,
            header,
            payload: &[],
            body: Body::Terminator(t),
        })
    }

    /// After the terminator: checks that the stream ends there. Tools call it; the kernel may
    /// skip it when reading from a pipe whose writer stays open.
    pub fn expect_end(&mut self) -> Result<(), DecodeError<R::Error>> {
        if !self.done {
            return Err(self.error(FormatErrorKind::Truncated, self.offset, None));
        }
        let mut byte = [0u8; 1];
        match self.src.read(&mut byte).map_err(DecodeError::Source)? {
            0 => Ok(()),
            _ => Err(self.error(FormatErrorKind::TrailingData, self.offset, None)),
        }
    }

    /// Gives the source back.
    pub fn into_source(self) -> R {
        self.src
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Writing images: a streaming [`Encoder`] over any [`Sink`].
//!
//! The encoder writes strictly front to back (images must go through pipes) and never patches
//! anything: every record's length is computed before its header is written. It enforces the
//! same ordering rules the decoder checks, so it cannot produce an image the decoder refuses.

use super::contents::{FileData, FILE_DATA_FIXED_LEN};
use super::crc32c::{crc32c_tables, Crc32c, Crc32cFn};
use super::env::{run_env_builder, EnvPassError, EnvStop, EnvWriter, ENV_PAYLOAD_HEADER_LEN};
use super::error::{EncodeError, FormatErrorKind};
use super::file::{check_fd_entries, write_fd_entries, FdEntry, File, FileTable};
use super::header::Header;
use super::memory::{Mm, Pages, Vma, PAGES_FIXED_LEN, VMA_LEN};
use super::record::{
    RecordHeader, RecordType, RECORD_FLAG_CRITICAL, RECORD_HEADER_LEN, RECORD_MAX_LEN,
};
use super::regs::{Regset, REGSET_FIXED_LEN};
use super::sigstate::{Signals, TaskState, SIGNALS_LEN, TASK_STATE_LEN};
use super::task::Task;
use super::terminator::TERMINATOR_LEN;
use super::wire::{measure, ByteOut, Stop};

/// Where an encoder writes. The kernel implements it over `kernel_write()`, tools over a
/// `Vec<u8>`. The encoder issues many small writes, so implementations should buffer.
pub trait Sink {
    /// Error of a failed write.
    type Error;

    /// Writes all of `data` or fails.
    fn write(&mut self, data: &[u8]) -> Result<(), Self::Error>;

    /// The CRC-32C implementation the encoder checksums with: the codec's tables, unless the
    /// sink's environment has a faster one that computes the same (the kernel's).
    fn crc32c(&self) -> Crc32cFn {
        crc32c_tables
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    type Error = S::Error;

    fn write(&mut self, data: &[u8]) -> Result<(), S::Error> {
        (**self).write(data)
    }

    fn crc32c(&self) -> Crc32cFn {
        (**self).crc32c()
    }
}

/// Error of a [`SliceSink`]: the buffer is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceFull;

impl core::fmt::Display for SliceFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("buffer full")
    }
}

/// A sink filling a caller-provided buffer.
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    /// A sink writing to the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Sink for SliceSink<'_> {
    type Error = SliceFull;

    fn write(&mut self, data: &[u8]) -> Result<(), SliceFull> {
        let end = self.len.checked_add(data.len()).ok_or(SliceFull)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(SliceFull)?;
        dst.copy_from_slice(data);
        self.len = end;
        Ok(())
    }
}

/// A sink with a running checksum and byte count; keeps the sink's error for the caller.
struct Tracked<S: Sink> {
    sink: S,
    crc: Crc32c,
    offset: u64,
    error: Option<S::Error>,
}

impl<S: Sink> Tracked<S> {
    fn put_unhashed(&mut self, data: &[u8]) -> Result<(), Stop> {
        match self.sink.write(data) {
            Ok(()) => {
                let len = u64::try_from(data.len()).map_err(|_| Stop)?;
                self.offset = self.offset.checked_add(len).ok_or(Stop)?;
                Ok(())
            }
            Err(e) => {
                self.error = Some(e);
                Err(Stop)
            }
        }
    }
}

impl<S: Sink> ByteOut for Tracked<S> {
    fn put(&mut self, data: &[u8]) -> Result<(), Stop> {
        self.put_unhashed(data)?;
        self.crc = self.crc.update_with(self.sink.crc32c(), data);
        Ok(())
    }

    fn put_known(&mut self, data: &[u8], data_state: u32) -> Result<(), Stop> {
        self.put_unhashed(data)?;
        let len = u64::try_from(data.len()).map_err(|_| Stop)?;
        self.crc = self.crc.append(data_state, len);
        Ok(())
    }
}

/// Encoder states, in the order they occur.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Header written; the environment vector must come next.
    ExpectEnv,
    /// Writing objects.
    Objects,
    /// A write failed half-way; the stream is unusable.
    Poisoned,
}

/// Writes one image: header on creation, then records, then the terminator on [`finish`].
///
/// Object ids are chosen by the caller and must be non-zero and strictly increasing
/// ([`Encoder::next_id`] gives the smallest acceptable one); references must name earlier
/// objects. A record failing validation is not written at all and the encoder stays usable;
/// a sink error poisons it.
///
/// [`finish`]: Encoder::finish
pub struct Encoder<S: Sink> {
    out: Tracked<S>,
    state: State,
    records: u64,
    last_id: u64,
    last_type: RecordType,
    page_size: u32,
    x86_64: bool,
}

impl<S: Sink> Encoder<S> {
    /// Validates and writes the header.
    pub fn new(sink: S, header: &Header) -> Result<Self, EncodeError<S::Error>> {
        header.check().map_err(EncodeError::Invalid)?;
        let mut enc = Encoder {
            out: Tracked {
                sink,
                crc: Crc32c::new(),
                offset: 0,
                error: None,
            },
            state: State::ExpectEnv,
            records: 0,
            last_id: 0,
            last_type: RecordType(0),
            page_size: header.page_size,
            x86_64: header.arch == super::header::Arch::X86_64,
        };
        if header.write(&mut enc.out).is_err() {
            return Err(enc.sink_failure());
        }
        Ok(enc)
    }

    /// The smallest id the next record may have.
    pub fn next_id(&self) -> u64 {
        self.last_id.saturating_add(1)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.out.offset
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.records
    }

    fn sink_failure(&mut self) -> EncodeError<S::Error> {
        self.state = State::Poisoned;
        match self.out.error.take() {
            Some(e) => EncodeError::Sink(e),
            None => EncodeError::Poisoned,
        }
    }

    /// Checks that a record of `rtype`, `id` and payload length may be written now.
    fn admit(
        &self,
        rtype: RecordType,
        id: u64,
        payload_len: usize,
    ) -> Result<u32, EncodeError<S::Error>> {
        let invalid = |k| Err(EncodeError::Invalid(k));
        match self.state {
            State::Poisoned => return Err(EncodeError::Poisoned),
            State::ExpectEnv if rtype != RecordType::ENV_VECTOR => {
                return invalid(FormatErrorKind::EnvVectorMissing)
            }
            State::Objects if rtype == RecordType::ENV_VECTOR => {
                return invalid(FormatErrorKind::EnvVectorDuplicate)
            }
            _ => {}
        }
        if rtype.0 == 0 {
            return invalid(FormatErrorKind::ReservedRecordType);
        }
        if rtype == RecordType::TERMINATOR {
            return invalid(FormatErrorKind::OutOfOrder);
        }
        if id <= self.last_id {
            return invalid(FormatErrorKind::IdNotIncreasing(id));
        }
        let total = payload_len.saturating_add(RECORD_HEADER_LEN);
        match u32::try_from(total) {
            Ok(len) if len <= RECORD_MAX_LEN => Ok(len),
            _ => invalid(FormatErrorKind::BadRecordLength(
                u32::try_from(total).unwrap_or(u32::MAX),
            )),
        }
    }

    /// Writes a record whose payload `body` writes exactly `payload_len` bytes.
    fn emit(
        &mut self,
        rtype: RecordType,
        flags: u16,
        id: u64,
        payload_len: usize,
        body: impl FnOnce(&mut dyn ByteOut) -> Result<(), Stop>,
    ) -> Result<(), EncodeError<S::Error>> {
        let len = self.admit(rtype, id, payload_len)?;
        let header = RecordHeader {
            rtype,
            flags,
            len,
            id,
        };
        let start = self.out.offset;
        if header.write(&mut self.out).is_err() || body(&mut self.out).is_err() {
            return Err(self.sink_failure());
        }
        let written = self.out.offset.saturating_sub(start);
        if written != u64::from(len) {
            self.state = State::Poisoned;
            return Err(EncodeError::Inconsistent);
        }
        self.state = State::Objects;
        self.records = self.records.saturating_add(1);
        self.last_id = id;
        self.last_type = rtype;
        Ok(())
    }

    /// Writes a record with an arbitrary type and payload. For tools and tests (e.g. records
    /// of types this codec does not know); the kernel uses the typed writers.
    pub fn write_raw_record(
        &mut self,
        rtype: RecordType,
        flags: u16,
        id: u64,
        payload: &[u8],
    ) -> Result<(), EncodeError<S::Error>> {
        self.emit(rtype, flags, id, payload.len(), |out| out.put(payload))
    }

    /// Writes an environment-style vector record: `prefix` bytes (the task id for a task
    /// vector) then the entries `build` emits. `build` runs twice (measure, then write).
    fn write_vector<F>(
        &mut self,
        rtype: RecordType,
        id: u64,
        prefix: &[u8],
        mut build: F,
    ) -> Result<(), EncodeError<S::Error>>
    where
        F: FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>,
    {
        let mut m = super::wire::Measure::default();
        let pass = run_env_builder(&mut m, &mut build).map_err(|e| match e {
            EnvPassError::Invalid(k) => EncodeError::Invalid(k),
            EnvPassError::Aborted | EnvPassError::Output => EncodeError::Aborted,
        })?;
        let payload_len = pass
            .len
            .saturating_add(ENV_PAYLOAD_HEADER_LEN)
            .saturating_add(prefix.len());
        let mut second = None;
        let result = self.emit(rtype, RECORD_FLAG_CRITICAL, id, payload_len, |out| {
            out.put(prefix)?;
            out.put_u32(pass.count)?;
            out.put_u32(0)?;
            match run_env_builder(out, &mut build) {
                Ok(p) => {
                    second = Some(p);
                    Ok(())
                }
                Err(EnvPassError::Output) => Err(Stop),
                // Validation passed the first time, so a failure now means the callback
                // changed its mind: the length check in `emit` reports it.
                Err(_) => Ok(()),
            }
        });
        result?;
        if second != Some(pass) {
            self.state = State::Poisoned;
            return Err(EncodeError::Inconsistent);
        }
        Ok(())
    }

    /// Writes the environment vector, which must be the first record.
    ///
    /// `build` emits the entries in increasing key order; it is called twice and must emit
    /// the same entries both times.
    pub fn write_env_vector<F>(&mut self, id: u64, build: F) -> Result<(), EncodeError<S::Error>>
    where
        F: FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>,
    {
        self.write_vector(RecordType::ENV_VECTOR, id, &[], build)
    }

    /// Writes the task vector of task `task`, which must be the record just written.
    pub fn write_task_vector<F>(
        &mut self,
        id: u64,
        task: u64,
        build: F,
    ) -> Result<(), EncodeError<S::Error>>
    where
        F: FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>,
    {
        if self.last_type != RecordType::TASK || self.last_id != task {
            return Err(EncodeError::Invalid(FormatErrorKind::TaskVectorOrphan(
                task,
            )));
        }
        self.write_vector(RecordType::TASK_VECTOR, id, &task.to_le_bytes(), build)
    }

    /// Writes a task.
    pub fn write_task(&mut self, id: u64, task: &Task<'_>) -> Result<(), EncodeError<S::Error>> {
        task.check(id).map_err(EncodeError::Invalid)?;
        let len = measure(|out| task.write(out));
        self.emit(RecordType::TASK, RECORD_FLAG_CRITICAL, id, len, |out| {
            task.write(out)
        })
    }

    /// Writes a file table; entries must be in increasing fd order and name earlier files.
    pub fn write_file_table(
        &mut self,
        id: u64,
        entries: &[FdEntry],
    ) -> Result<(), EncodeError<S::Error>> {
        check_fd_entries(entries, id).map_err(EncodeError::Invalid)?;
        let len = FileTable::encoded_len(entries.len()).saturating_sub(RECORD_HEADER_LEN);
        self.emit(
            RecordType::FILE_TABLE,
            RECORD_FLAG_CRITICAL,
            id,
            len,
            |out| write_fd_entries(entries, out),
        )
    }

    /// Writes a file.
    pub fn write_file(&mut self, id: u64, file: &File<'_>) -> Result<(), EncodeError<S::Error>> {
        file.check().map_err(EncodeError::Invalid)?;
        let len = measure(|out| file.write(out));
        self.emit(RecordType::FILE, RECORD_FLAG_CRITICAL, id, len, |out| {
            file.write(out)
        })
    }

    /// Writes a FILE_DATA record: a run of the contents of file `data.file`.
    pub fn write_file_data(
        &mut self,
        id: u64,
        data: &FileData<'_>,
    ) -> Result<(), EncodeError<S::Error>> {
        data.check(id).map_err(EncodeError::Invalid)?;
        let len = FILE_DATA_FIXED_LEN.saturating_add(data.data.len());
        let flags = RecordType::FILE_DATA.defined_flags();
        self.emit(RecordType::FILE_DATA, flags, id, len, |out| data.write(out))
    }

    /// Writes a process's MM record.
    pub fn write_mm(&mut self, id: u64, mm: &Mm<'_>) -> Result<(), EncodeError<S::Error>> {
        mm.check(id).map_err(EncodeError::Invalid)?;
        let len = measure(|out| mm.write(out));
        let flags = RecordType::MM.defined_flags();
        self.emit(RecordType::MM, flags, id, len, |out| mm.write(out))
    }

    /// Writes a VMA record; `page_size` is the header's.
    pub fn write_vma(&mut self, id: u64, vma: &Vma) -> Result<(), EncodeError<S::Error>> {
        vma.check(id, self.page_size)
            .map_err(EncodeError::Invalid)?;
        let flags = RecordType::VMA.defined_flags();
        self.emit(RecordType::VMA, flags, id, VMA_LEN, |out| vma.write(out))
    }

    /// Writes a REGSET record of the task written last.
    pub fn write_regset(
        &mut self,
        id: u64,
        regs: &Regset<'_>,
    ) -> Result<(), EncodeError<S::Error>> {
        regs.check(self.x86_64).map_err(EncodeError::Invalid)?;
        let len = REGSET_FIXED_LEN.saturating_add(regs.data.len());
        let flags = RecordType::REGSET.defined_flags();
        self.emit(RecordType::REGSET, flags, id, len, |out| regs.write(out))
    }

    /// Writes the SIGNALS record of the task written last.
    pub fn write_signals(
        &mut self,
        id: u64,
        signals: &Signals<'_>,
    ) -> Result<(), EncodeError<S::Error>> {
        signals.check().map_err(EncodeError::Invalid)?;
        let flags = RecordType::SIGNALS.defined_flags();
        self.emit(RecordType::SIGNALS, flags, id, SIGNALS_LEN, |out| {
            signals.write(out)
        })
    }

    /// Writes the TASK_STATE record of the task written last.
    pub fn write_task_state(
        &mut self,
        id: u64,
        state: &TaskState,
    ) -> Result<(), EncodeError<S::Error>> {
        state.check().map_err(EncodeError::Invalid)?;
        let flags = RecordType::TASK_STATE.defined_flags();
        self.emit(RecordType::TASK_STATE, flags, id, TASK_STATE_LEN, |out| {
            state.write(out)
        })
    }

    /// Writes a PAGES record (build it with [`Pages::new`], which computes its checksum). The
    /// data is read once, by `Pages::new`: checking the record and the running checksum reuse
    /// its register.
    pub fn write_pages(&mut self, id: u64, pages: &Pages<'_>) -> Result<(), EncodeError<S::Error>> {
        pages.check(id).map_err(EncodeError::Invalid)?;
        if pages.page_size() != self.page_size {
            return Err(EncodeError::Invalid(FormatErrorKind::PageSizeMismatch(
                pages.page_size(),
            )));
        }
        let len = PAGES_FIXED_LEN.saturating_add(pages.data().len());
        let flags = RecordType::PAGES.defined_flags();
        self.emit(RecordType::PAGES, flags, id, len, |out| pages.write(out))
    }

    /// Writes the terminator and returns the sink. Without it the image is incomplete.
    pub fn finish(mut self) -> Result<S, EncodeError<S::Error>> {
        match self.state {
            State::Poisoned => return Err(EncodeError::Poisoned),
            State::ExpectEnv => {
                return Err(EncodeError::Invalid(FormatErrorKind::EnvVectorMissing))
            }
            State::Objects => {}
        }
        let header = RecordHeader {
            rtype: RecordType::TERMINATOR,
            flags: RECORD_FLAG_CRITICAL,
            len: TERMINATOR_LEN,
            id: 0,
        };
        let image_len = self.out.offset;
        let records = self.records;
        let hashed = header
            .write(&mut self.out)
            .and_then(|()| self.out.put_u64(records))
            .and_then(|()| self.out.put_u64(image_len));
        // The checksum covers everything up to here, so it is written unhashed.
        let checksum = self.out.crc.value();
        if hashed
            .and_then(|()| self.out.put_unhashed(&checksum.to_le_bytes()))
            .is_err()
        {
            return Err(self.sink_failure());
        }
        Ok(self.out.sink)
    }
}

/// Measures what `build` emits as a bare vector payload: (entry count, payload length).
pub fn measure_env_payload<F>(
    mut build: F,
) -> Result<(u32, usize), EncodeError<core::convert::Infallible>>
where
    F: FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>,
{
    let mut m = super::wire::Measure::default();
    match run_env_builder(&mut m, &mut build) {
        Ok(p) => Ok((p.count, p.len.saturating_add(ENV_PAYLOAD_HEADER_LEN))),
        Err(EnvPassError::Invalid(k)) => Err(EncodeError::Invalid(k)),
        Err(EnvPassError::Aborted | EnvPassError::Output) => Err(EncodeError::Aborted),
    }
}

/// Writes a bare vector payload (count, reserved word, entries) to `sink`, as the kernel
/// returns its environment to user space. Returns the number of bytes written.
/// `build` runs twice (count, then write) and must emit the same entries both times.
pub fn encode_env_payload<S, F>(sink: S, mut build: F) -> Result<usize, EncodeError<S::Error>>
where
    S: Sink,
    F: FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>,
{
    let mut m = super::wire::Measure::default();
    let pass = run_env_builder(&mut m, &mut build).map_err(|e| match e {
        EnvPassError::Invalid(k) => EncodeError::Invalid(k),
        EnvPassError::Aborted | EnvPassError::Output => EncodeError::Aborted,
    })?;
    let mut out = Tracked {
        sink,
        crc: Crc32c::new(),
        offset: 0,
        error: None,
    };
    let written = out
        .put_u32(pass.count)
        .and_then(|()| out.put_u32(0))
        .map_err(|Stop| ())
        .and_then(|()| match run_env_builder(&mut out, &mut build) {
            Ok(p) if p == pass => Ok(()),
            _ => Err(()),
        });
    match (written, out.error) {
        (Ok(()), _) => Ok(pass.len.saturating_add(ENV_PAYLOAD_HEADER_LEN)),
        (Err(()), Some(e)) => Err(EncodeError::Sink(e)),
        (Err(()), None) => Err(EncodeError::Inconsistent),
    }
}

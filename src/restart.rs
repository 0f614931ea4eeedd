// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_RESTART`: restore an image's file table into the calling process.
//!
//! The image is hostile input. Restart runs in phases and acts only after every check passed:
//!
//! 1. **Read** the image from the fd, sequentially, up to its terminator and never past it,
//!    into memory bounded by `CKPT_RESTART_MAX_IMAGE`; page data and file contents are checked
//!    as they pass and go to a [`Spool`] instead (not counted in that bound; page data only
//!    for a whole-process restart, a file-table restart drops it).
//! 2. **Validate** all of it with the codec's [`Decoder`] (lengths, ids, order, references,
//!    count, length, CRC-32C), then what the codec cannot know: one task with one file table,
//!    every file referenced, known flags, canonical absolute paths, allowed devices, fd numbers
//!    below `RLIMIT_NOFILE`.
//! 3. **Check the environment**: the image's environment vector and task vector against the
//!    running kernel's, with the checker `ckpt check` uses.
//! 4. **Reopen** every file with the caller's credentials, through the kind that restores its
//!    record (`src/files/`), checking identity and content.
//! 5. **Install** them at their fd numbers ([`Reservation`]): all or nothing.

use kernel::{bindings, prelude::*, sync::Mutex};

use crate::{
    checksum, env,
    error::{self, CkptError, CkptResult, Report},
    fdtable::{self, Reservation, Slot},
    files::{self, FileRecord, Printable, ReopenContext},
    image::{
        self, Arch, Body, ContentsCheck, DecodeError, Decoder, EnvReport, EnvVector, FileData,
        FileTable, FileVariant, FormatError, RecordHeader, RecordType, Scope, Task, HEADER_LEN,
        IMMUTABLE_HEADER_LEN, PATH_MAX, RECORD_HEADER_LEN,
    },
    process::{self, Prepared},
    reason::Reason,
    uapi::{self, ckpt_restart},
    vfs::{self, Access, CallerFile, FsContext, NewFile},
};

/// Largest read from the input at once.
const READ_CHUNK: usize = 64 * 1024;

/// Features named per environment mismatch in a refusal (the message holds 1024 bytes);
/// `ckpt check` names them all.
const NAMES_IN_MESSAGE: usize = 16;

// The codec's policy (`image::check_restorable`) spells the open flags with x86-64 values.
const _: () = assert!(
    image::KNOWN_F_FLAGS
        == bindings::O_ACCMODE
            | bindings::O_APPEND
            | bindings::O_NONBLOCK
            | bindings::O_DSYNC
            | bindings::__O_SYNC
            | bindings::O_DIRECT
            | bindings::O_LARGEFILE
            | bindings::O_DIRECTORY
            | bindings::O_NOFOLLOW
            | bindings::O_NOATIME
            | bindings::O_CLOEXEC
);

/// Handles `CKPT_IOC_RESTART`; a whole-process restart keeps its plan in `prepared`.
pub(crate) fn ioctl(
    arg: usize,
    user_size: usize,
    prepared: &Mutex<Option<KBox<Prepared>>>,
) -> Result {
    let mut args: ckpt_restart =
        uapi::read_ext(arg, user_size, uapi::CKPT_RESTART_SIZE_VER0 as usize)?;
    let mut out = Outcome::default();
    let outcome = restart(&args, &mut out, prepared);
    args.bytes = out.bytes;
    args.nr_fds = out.nr_fds;
    args.nr_external = out.nr_external;
    error::report(arg, user_size, &mut args, outcome)
}

impl Report for ckpt_restart {
    fn log(&self) -> (u64, u32) {
        (self.log_buf, self.log_size)
    }

    fn set_error(&mut self, error: Option<&CkptError>) {
        self.err_fd = error.map_or(-1, |e| e.fd);
        self.err_record = error.map_or(0, |e| e.record);
        self.reason = error.map_or(Reason::None, |e| e.reason) as u32;
        if error.is_some() {
            self.nr_fds = 0;
        }
    }
}

/// What restart reports, on success and on failure.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) bytes: u64,
    pub(crate) nr_fds: u32,
    pub(crate) nr_external: u32,
}

fn restart(
    args: &ckpt_restart,
    out: &mut Outcome,
    prepared: &Mutex<Option<KBox<Prepared>>>,
) -> CkptResult {
    let known = u64::from(uapi::CKPT_RESTART_FLAGS_ALL | uapi::CKPT_RESTART_PROCESS_FLAGS);
    if args.flags & !known != 0 {
        return Err(CkptError::bad_argument(format_args!(
            "unknown flags {:#x}",
            args.flags
        )));
    }
    if args.flags & u64::from(uapi::CKPT_RESTART_AS_CALLER) != 0
        && args.flags & u64::from(uapi::CKPT_RESTART_PROCESS) == 0
    {
        return Err(CkptError::bad_argument(format_args!(
            "CKPT_RESTART_AS_CALLER needs CKPT_RESTART_PROCESS"
        )));
    }
    let input = CallerFile::from_fd(args.fd, Access::Read).map_err(|_| {
        CkptError::bad_fd(format_args!("image fd {}: not open for reading", args.fd))
    })?;
    if args.flags & u64::from(uapi::CKPT_RESTART_PROCESS_FLAGS) != 0 {
        // A whole process: validated and kept for CKPT_IOC_RESTART_COMMIT (crate::process).
        // A new attempt replaces an earlier plan (and frees its spool) first.
        *prepared.lock() = None;
        let mut spool = Spool::new(true);
        let (image, max_payload) = read_image(&input, out, &mut spool)?;
        return process::prepare(image, max_payload, spool, args.flags, out, prepared);
    }
    // A process image's page data is checked and dropped; file contents are spooled.
    let mut spool = Spool::new(false);
    let (image, max_payload) = read_image(&input, out, &mut spool)?;
    let mut plan = Plan::parse(&image, max_payload, &spool.file_data)?;
    check_environment(&plan, args.flags)?;
    let fds = plan.fd_table()?;
    out.nr_external = plan.check_fds(&fds, args.flags)?;
    let files = plan.reopen(&fds, args.flags, &spool)?;
    out.nr_fds = install(&plan, &fds, &files, args.flags)?;
    Ok(())
}

// ---- phase 1: read ----

/// Where the data of PAGES and FILE_DATA records goes while an image is read: a private shmem
/// file of the module, charged to the caller's memory cgroup, never kernel memory. Each such
/// record is checked (its fields; a PAGES record's own CRC-32C) as it passes, its data written
/// here and the record left out of the image kept in memory, whose terminator is rewritten once
/// the original's is verified (record count, length, CRC-32C over every byte). The file is made
/// when the first data arrives: an image without any costs nothing.
pub(crate) struct Spool {
    file: Option<NewFile>,
    /// PAGES records, in image order (for a whole-process restart; a file-table restart checks
    /// them and drops their data).
    pub(crate) pages: KVVec<SpoolRun>,
    /// FILE_DATA records, in image order.
    pub(crate) file_data: KVVec<DataRun>,
    /// Bytes written to the file.
    len: u64,
    /// Most bytes the file may hold, known once it is made: the caller's soft `RLIMIT_AS`,
    /// or its soft `RLIMIT_FSIZE` if lower (shmem enforces that one on the spool's writes,
    /// with `SIGXFSZ`), and that limit's name.
    limit: u64,
    limit_name: &'static str,
    keep_pages: bool,
}

/// A PAGES record moved to the [`Spool`]: its fields, and where its data is in the file.
pub(crate) struct SpoolRun {
    pub(crate) id: u64,
    pub(crate) vma: u64,
    pub(crate) addr: u64,
    pub(crate) len: u64,
    /// Offset of the data in the spool file.
    pub(crate) at: u64,
}

/// A FILE_DATA record moved to the [`Spool`]: `len` bytes at `offset` of file record `file`,
/// at `at` in the spool.
#[derive(Clone, Copy)]
pub(crate) struct DataRun {
    pub(crate) id: u64,
    pub(crate) file: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) at: u64,
}

impl Spool {
    /// An empty spool; `keep_pages`: page data is kept (a whole-process restart), not dropped.
    pub(crate) fn new(keep_pages: bool) -> Self {
        Self {
            file: None,
            pages: KVVec::new(),
            file_data: KVVec::new(),
            len: 0,
            limit: 0,
            limit_name: "RLIMIT_AS",
            keep_pages,
        }
    }

    /// Makes room for `len` more bytes: creates the file on first use, refuses past the limit.
    fn reserve(&mut self, len: u64, id: u64) -> CkptResult {
        if self.file.is_none() {
            let memory = process::caller_soft_limit(bindings::RLIMIT_AS)?;
            let fsize = process::caller_soft_limit(bindings::RLIMIT_FSIZE)?;
            (self.limit, self.limit_name) = if fsize < memory {
                (fsize, "RLIMIT_FSIZE")
            } else {
                (memory, "RLIMIT_AS")
            };
            let file = NewFile::memfd(c"memfd:ckpt-restart-spool").map_err(|e| {
                CkptError::other(
                    spool_errno(e),
                    format_args!("cannot create the restart spool"),
                )
            })?;
            self.file = Some(file);
        }
        if self.len.saturating_add(len) > self.limit {
            return Err(CkptError::too_large(
                EFBIG,
                format_args!(
                    "the image's page data and file contents exceed this process's {} ({} \
                     bytes)",
                    self.limit_name, self.limit
                ),
            )
            .in_record(id));
        }
        Ok(())
    }

    /// Appends `data` (room made by [`Spool::reserve`]).
    fn append(&mut self, data: &[u8], id: u64) -> CkptResult {
        let file = self.file.as_ref().ok_or(EINVAL)?;
        let mut pos = self.len as i64;
        file.write_all_at(data, &mut pos).map_err(|e| {
            if e == EINTR || e == ERESTARTSYS {
                // shmem stops a write when a fatal signal arrives
                CkptError::interrupted(format_args!("interrupted while filling the restart spool"))
            } else {
                CkptError::other(
                    spool_errno(e),
                    format_args!("writing to the restart spool failed"),
                )
            }
            .in_record(id)
        })?;
        self.len = pos as u64;
        Ok(())
    }

    /// Copies `len` spooled bytes at `at` to `*pos` of `file` (inside the kernel), advancing
    /// `*pos`.
    pub(crate) fn copy_to(&self, file: &NewFile, at: u64, pos: &mut i64, len: u64) -> Result {
        let spool = self.file.as_ref().ok_or(EIO)?;
        let mut from = i64::try_from(at).map_err(|_| EIO)?;
        file.copy_from(spool, &mut from, pos, len)
    }

    /// Fills `buf` with the spooled bytes at `at`.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], at: u64) -> Result {
        let file = self.file.as_ref().ok_or(EIO)?;
        let mut pos = i64::try_from(at).map_err(|_| EIO)?;
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], &mut pos)? {
                0 => return Err(EIO),
                n => got += n,
            }
        }
        Ok(())
    }
}

/// shmem says `ENOSPC` when it cannot get memory for a page or an inode; the spool has no
/// size of its own, so that is running out of memory.
fn spool_errno(e: Error) -> Error {
    if e == ENOSPC {
        ENOMEM
    } else {
        e
    }
}

/// A record being read: what errors about it name (its type and id, and offsets in the input).
struct RecordCtx {
    here: Option<image::RecordRef>,
    /// Input offset of its header.
    offset: u64,
}

impl RecordCtx {
    fn new(header: &RecordHeader, offset: u64) -> Self {
        Self {
            here: Some(image::RecordRef {
                rtype: header.rtype,
                id: header.id,
            }),
            offset,
        }
    }

    /// A malformed-image error at `at` bytes into the record (its header included).
    fn error(&self, kind: image::FormatErrorKind, at: u64) -> CkptError {
        bad_image(FormatError {
            kind,
            offset: self.offset + at,
            record: self.here,
        })
    }

    /// A malformed-image error at `at` bytes into the record's payload.
    fn payload_error(&self, kind: image::FormatErrorKind, at: u64) -> CkptError {
        self.error(kind, RECORD_HEADER_LEN as u64 + at)
    }
}

/// Reading state: the image kept in memory and what checks the original stream.
struct Reader<'s> {
    image: KVVec<u8>,
    /// Bytes consumed from the input.
    consumed: u64,
    /// CRC-32C of every byte consumed (the original image's).
    crc: image::Crc32c,
    records: u64,
    /// Records left out of `image` (their data went to the spool, or was dropped).
    streamed: u64,
    /// What the spool's lists of those records take in memory, counted against
    /// `CKPT_RESTART_MAX_IMAGE` with `image`: a stream of tiny records is bounded too.
    run_bytes: usize,
    last_id: u64,
    /// The type of the last record read if it was left out of `image`.
    last_streamed: Option<RecordType>,
    page_size: u32,
    spool: &'s mut Spool,
    /// Buffer for streamed data, allocated on first use.
    chunk: KVVec<u8>,
}

/// Reads one image, up to its terminator, into memory. Returns it and its longest record
/// payload (the decoder's scratch size). Only the framing is looked at here, and the PAGES
/// and FILE_DATA records, whose data goes to `spool` instead (see [`Spool`]).
pub(crate) fn read_image(
    input: &CallerFile,
    out: &mut Outcome,
    spool: &mut Spool,
) -> CkptResult<(KVVec<u8>, usize)> {
    let mut r = Reader {
        image: KVVec::new(),
        consumed: 0,
        crc: image::Crc32c::new(),
        records: 0,
        streamed: 0,
        run_bytes: 0,
        last_id: 0,
        last_streamed: None,
        page_size: 0,
        spool,
        chunk: KVVec::new(),
    };
    r.read_more(input, IMMUTABLE_HEADER_LEN, out)?;
    // An unknown version may frame records differently: refuse it before reading on.
    let version = image::parse_immutable_header(&r.image).map_err(|e| {
        bad_image(FormatError {
            kind: e.kind,
            offset: e.at as u64,
            record: None,
        })
    })?;
    if version != image::VERSION {
        return Err(CkptError::image_version(format_args!(
            "image format version {version} is not supported (this module reads version \
                 {}); `ckpt convert` may convert it",
            image::VERSION
        )));
    }
    r.read_more(input, HEADER_LEN - IMMUTABLE_HEADER_LEN, out)?;
    // The decoder checks the header again; only a valid page size matters here.
    r.page_size = image::parse_header(&r.image)
        .map(|h| h.page_size)
        .unwrap_or(0);
    let mut max_payload = 0;
    loop {
        let start = r.image.len();
        let offset = r.consumed;
        r.read_more(input, RECORD_HEADER_LEN, out)?;
        let header = RecordHeader::parse(&r.image[start..]).map_err(|e| {
            bad_image(FormatError {
                kind: e.kind,
                offset: offset + e.at as u64,
                record: None,
            })
        })?;
        let cx = RecordCtx::new(&header, offset);
        if header.rtype == RecordType::TERMINATOR {
            image::Terminator::check_header(&header).map_err(|kind| cx.error(kind, 0))?;
            // The checksum covers every byte before its own field.
            r.read_more(input, image::TERMINATOR_PAYLOAD_LEN - 4, out)?;
            let computed = r.crc.value();
            r.read_more(input, 4, out)?;
            r.terminator(start, &cx, computed)?;
            return Ok((r.image, max_payload.max(image::TERMINATOR_PAYLOAD_LEN)));
        }
        // What the decoder checks of every record, for those it will not see.
        if header.id <= r.last_id {
            return Err(cx.error(image::FormatErrorKind::IdNotIncreasing(header.id), 8));
        }
        // Records that must follow another one, after a record the decoder will not see: a
        // task vector follows its task record, file data its file record or that file's data
        // (which [`Plan::parse`] puts back in place; page data it does not).
        let out_of_order = matches!(
            (header.rtype, r.last_streamed),
            (RecordType::TASK_VECTOR, Some(_)) | (RecordType::FILE_DATA, Some(RecordType::PAGES))
        );
        if out_of_order {
            return Err(cx.error(image::FormatErrorKind::OutOfOrder, 0));
        }
        r.records += 1;
        r.last_id = header.id;
        let streamed = header.rtype == RecordType::PAGES || header.rtype == RecordType::FILE_DATA;
        r.last_streamed = streamed.then_some(header.rtype);
        if streamed {
            if r.records == 1 {
                return Err(cx.error(image::FormatErrorKind::EnvVectorMissing, 0));
            }
            if header.flags != header.rtype.defined_flags() {
                return Err(cx.error(image::FormatErrorKind::BadRecordFlags(header.flags), 2));
            }
            r.image.truncate(start);
            r.streamed += 1;
            r.run_bytes = r
                .run_bytes
                .saturating_add(if header.rtype == RecordType::PAGES {
                    size_of::<SpoolRun>()
                } else {
                    size_of::<DataRun>()
                });
            r.within_bound(0)?;
            if header.rtype == RecordType::PAGES {
                r.stream_pages(input, &header, &cx, out)?;
            } else {
                r.stream_file_data(input, &header, &cx, out)?;
            }
            continue;
        }
        let len = header.payload_len();
        max_payload = max_payload.max(len);
        r.read_more(input, len, out)?;
    }
}

impl Reader<'_> {
    /// Refuses an image that would need more than `CKPT_RESTART_MAX_IMAGE` bytes of memory
    /// with `len` more bytes: the image kept, and the spool's lists of records left out.
    fn within_bound(&self, len: usize) -> CkptResult {
        let max = uapi::CKPT_RESTART_MAX_IMAGE as usize;
        let need = self
            .image
            .len()
            .saturating_add(self.run_bytes)
            .saturating_add(len);
        if need > max {
            return Err(CkptError::too_large(
                EFBIG,
                format_args!(
                    "the image without its page data and file contents exceeds {max} bytes \
                     (counting {} bytes for each PAGES or FILE_DATA record)",
                    size_of::<DataRun>().max(size_of::<SpoolRun>())
                ),
            ));
        }
        Ok(())
    }

    /// Appends exactly `len` more bytes of the input to the image.
    fn read_more(&mut self, input: &CallerFile, len: usize, out: &mut Outcome) -> CkptResult {
        self.within_bound(len)?;
        let end = self.image.len().saturating_add(len);
        // Grown as data arrives: a record header is not trusted with an allocation.
        while self.image.len() < end {
            let from = self.image.len();
            let to = end.min(from + READ_CHUNK);
            self.image.resize(to, 0, GFP_KERNEL)?;
            let result = read_exact(input, &mut self.image[from..to], self.consumed, out);
            if let Err(e) = result {
                self.image.truncate(from);
                return Err(e);
            }
            self.crc = self
                .crc
                .update_with(checksum::crc32c, &self.image[from..to]);
            self.consumed += (to - from) as u64;
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes of a streamed record (not kept in the image) into the
    /// image's running checksum; returns their CRC-32C register (from 0), so that a record's
    /// own checksum can follow from it without reading them again.
    fn read_streamed(
        &mut self,
        input: &CallerFile,
        buf: &mut [u8],
        out: &mut Outcome,
    ) -> CkptResult<u32> {
        read_exact(input, buf, self.consumed, out)?;
        self.consumed += buf.len() as u64;
        let state = checksum::crc32c(0, buf);
        self.crc = self.crc.append(state, buf.len() as u64);
        Ok(state)
    }

    /// Streams `len` bytes of record `id`'s data through `record_crc` (if the record has its
    /// own checksum) into the spool, or drops them (`keep` false).
    fn stream_data(
        &mut self,
        input: &CallerFile,
        len: u64,
        id: u64,
        keep: bool,
        mut record_crc: Option<&mut image::Crc32c>,
        out: &mut Outcome,
    ) -> CkptResult {
        if keep {
            self.spool.reserve(len, id)?;
        }
        if self.chunk.is_empty() && len > 0 {
            self.chunk = KVVec::from_elem(0u8, READ_CHUNK, GFP_KERNEL)?;
        }
        let mut chunk = core::mem::take(&mut self.chunk);
        let mut left = len;
        let result = (|| {
            while left > 0 {
                let buf = &mut chunk[..(left as usize).min(READ_CHUNK)];
                // The bytes are checksummed once: the image's running checksum and the
                // record's own both follow from their register.
                let state = self.read_streamed(input, buf, out)?;
                if let Some(crc) = record_crc.as_deref_mut() {
                    *crc = crc.append(state, buf.len() as u64);
                }
                if keep {
                    self.spool.append(buf, id)?;
                }
                left -= buf.len() as u64;
            }
            Ok(())
        })();
        self.chunk = chunk;
        result
    }

    /// Reads a PAGES record's payload (its header read and taken out of the image), checks
    /// it as the codec's `Pages::check` does and moves its data to the spool (or drops it).
    fn stream_pages(
        &mut self,
        input: &CallerFile,
        header: &RecordHeader,
        cx: &RecordCtx,
        out: &mut Outcome,
    ) -> CkptResult {
        use image::FormatErrorKind as K;
        let len = header.payload_len();
        if len < image::PAGES_FIXED_LEN {
            return Err(cx.payload_error(K::PayloadTruncated, 0));
        }
        let mut fixed = [0u8; image::PAGES_FIXED_LEN];
        self.read_streamed(input, &mut fixed, out)?;
        let (vma, addr) = (le_u64(&fixed[0..8]), le_u64(&fixed[8..16]));
        let count = u32::from_le_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]);
        let stored = u32::from_le_bytes([fixed[20], fixed[21], fixed[22], fixed[23]]);
        let data_len = (len - image::PAGES_FIXED_LEN) as u64;
        if vma == 0 || vma >= header.id {
            return Err(cx.payload_error(K::BadReference(vma), 0));
        }
        let ps = u64::from(self.page_size);
        if count == 0 || ps == 0 || u64::from(count) * ps != data_len {
            return Err(cx.payload_error(K::BadPageData, 16));
        }
        if addr & (ps - 1) != 0 || addr.checked_add(data_len).is_none() {
            return Err(cx.payload_error(K::BadRange, 8));
        }
        let at = self.spool.len;
        let keep = self.spool.keep_pages;
        let mut record_crc = image::Crc32c::new().update_with(checksum::crc32c, &fixed[..20]);
        self.stream_data(input, data_len, header.id, keep, Some(&mut record_crc), out)?;
        let computed = record_crc.value();
        if computed != stored {
            return Err(cx.payload_error(K::PageChecksumMismatch { stored, computed }, 20));
        }
        if keep {
            let run = SpoolRun {
                id: header.id,
                vma,
                addr,
                len: data_len,
                at,
            };
            self.spool.pages.push(run, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Reads a FILE_DATA record's payload (its header read and taken out of the image), checks
    /// its fields as the codec's `FileData::check` does and moves its data to the spool. How
    /// the runs fit their file records is checked with the rest of the image
    /// ([`Plan::parse`]).
    fn stream_file_data(
        &mut self,
        input: &CallerFile,
        header: &RecordHeader,
        cx: &RecordCtx,
        out: &mut Outcome,
    ) -> CkptResult {
        let len = header.payload_len();
        if len < image::FILE_DATA_FIXED_LEN {
            return Err(cx.payload_error(image::FormatErrorKind::PayloadTruncated, 0));
        }
        let mut fixed = [0u8; image::FILE_DATA_FIXED_LEN];
        self.read_streamed(input, &mut fixed, out)?;
        let (file, offset) = (le_u64(&fixed[0..8]), le_u64(&fixed[8..16]));
        let data_len = (len - image::FILE_DATA_FIXED_LEN) as u64;
        FileData::check_fields(file, offset, data_len, header.id).map_err(|kind| {
            let at = if matches!(kind, image::FormatErrorKind::BadRange) {
                8
            } else {
                0
            };
            cx.payload_error(kind, at)
        })?;
        let at = self.spool.len;
        self.stream_data(input, data_len, header.id, true, None, out)?;
        let run = DataRun {
            id: header.id,
            file,
            offset,
            len: data_len,
            at,
        };
        self.spool.file_data.push(run, GFP_KERNEL)?;
        Ok(())
    }

    /// Verifies the original image's terminator (read at `start` of the image), then rewrites
    /// it for the image kept in memory.
    fn terminator(&mut self, start: usize, cx: &RecordCtx, computed: u32) -> CkptResult {
        use image::FormatErrorKind as K;
        let payload_start = start + RECORD_HEADER_LEN;
        let sum_at = payload_start + image::TERMINATOR_PAYLOAD_LEN - 4;
        let t = image::Terminator::parse(&self.image[payload_start..])
            .map_err(|e| cx.payload_error(e.kind, e.at as u64))?;
        if t.record_count != self.records {
            let kind = K::RecordCountMismatch {
                stored: t.record_count,
                actual: self.records,
            };
            return Err(cx.payload_error(kind, 0));
        }
        if t.image_len != cx.offset {
            let kind = K::ImageLengthMismatch {
                stored: t.image_len,
                actual: cx.offset,
            };
            return Err(cx.payload_error(kind, 8));
        }
        if t.checksum != computed {
            let kind = K::ChecksumMismatch {
                stored: t.checksum,
                computed,
            };
            return Err(cx.payload_error(kind, 16));
        }
        // The image kept: its own count, length and checksum.
        let kept = self.records - self.streamed;
        self.image[payload_start..payload_start + 8].copy_from_slice(&kept.to_le_bytes());
        self.image[payload_start + 8..payload_start + 16]
            .copy_from_slice(&(start as u64).to_le_bytes());
        let sum = image::Crc32c::new()
            .update_with(checksum::crc32c, &self.image[..sum_at])
            .value();
        self.image[sum_at..sum_at + 4].copy_from_slice(&sum.to_le_bytes());
        Ok(())
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(w)
}

/// Fills `buf` from the input (`at` bytes were read before it).
fn read_exact(input: &CallerFile, buf: &mut [u8], at: u64, out: &mut Outcome) -> CkptResult {
    let mut filled = 0;
    while filled < buf.len() {
        if vfs::fatal_signal_pending() {
            return Err(CkptError::interrupted(format_args!(
                "interrupted by a fatal signal after {} bytes",
                at + filled as u64
            )));
        }
        let want = (buf.len() - filled).min(READ_CHUNK);
        let result = input.read(&mut buf[filled..filled + want]);
        let got = *result.as_ref().unwrap_or(&0);
        filled += got;
        out.bytes = at + filled as u64;
        match result {
            Ok(0) => {
                return Err(bad_image(FormatError {
                    kind: image::FormatErrorKind::Truncated,
                    offset: at + filled as u64,
                    record: None,
                }))
            }
            Ok(_) => {}
            Err(e) => {
                // A signal interrupted a sleeping read: part of a pipe's data is consumed,
                // so the call must not be restarted.
                let e = if e == ERESTARTSYS { EINTR } else { e };
                return Err(CkptError::input(
                    e,
                    format_args!(
                        "reading the image failed after {} bytes",
                        at + filled as u64
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn bad_image(e: FormatError) -> CkptError {
    let err = CkptError::bad_image(format_args!("malformed image: {e}"));
    match e.record {
        Some(r) => err.in_record(r.id),
        None => err,
    }
}

/// A malformed-image error about record `id`.
fn inconsistent(id: u64, args: core::fmt::Arguments<'_>) -> CkptError {
    CkptError::bad_image(args).in_record(id)
}

// ---- phase 2: validate ----

/// A validated image, borrowing from its bytes.
pub(crate) struct Plan<'a> {
    header: image::Header,
    env_id: u64,
    env: EnvVector<'a>,
    task_vector: Option<EnvVector<'a>>,
    pub(crate) task_id: u64,
    table_id: u64,
    table: FileTable<'a>,
    pub(crate) files: KVVec<FileRecord<'a>>,
    /// The spooled FILE_DATA records: runs of the contents of `files` (each file's `runs`).
    runs: &'a [DataRun],
    /// Sorted ids of the file records mappings use (a whole-process restart sets them): they
    /// need no fd.
    pub(crate) mapped: KVVec<u64>,
}

impl<'a> Plan<'a> {
    /// Decodes and validates `image`, which [`read_image`] framed, with the FILE_DATA records
    /// it moved to the spool (`runs`), which go back in place by id.
    pub(crate) fn parse(
        image: &'a [u8],
        max_payload: usize,
        runs: &'a [DataRun],
    ) -> CkptResult<Self> {
        let mut scratch = KVVec::from_elem(0u8, max_payload, GFP_KERNEL)?;
        let mut dec = Decoder::new(image).map_err(decode_error)?;
        let header = *dec.header();
        let mut env = None;
        let mut task: Option<(u64, Task<'a>)> = None;
        let mut task_vector = None;
        let mut table: Option<(u64, FileTable<'a>)> = None;
        let mut files: KVVec<FileRecord<'a>> = KVVec::new();
        let mut several_tasks = None;
        // What restart requires of file contents beyond each record (shared with the tools).
        let mut contents = ContentsCheck::new();
        let mut bad_contents = None;
        // The spooled runs before record `id`, in image order: each to the file record before.
        let mut next_run = 0;
        let mut runs_before = |id: u64,
                               files: &mut KVVec<FileRecord<'a>>,
                               contents: &mut ContentsCheck,
                               bad: &mut Option<CkptError>| {
            while let Some(run) = runs.get(next_run).filter(|r| r.id < id) {
                if let Err(e) = contents.run(run.file, run.offset, run.len) {
                    bad.get_or_insert(contents_error(run.id, e));
                }
                // `contents` checked that it follows the last file record.
                if let Some(rec) = files.last_mut() {
                    rec.runs.end = next_run + 1;
                }
                next_run += 1;
            }
            next_run
        };
        while let Some(record) = dec.next_record(&mut scratch).map_err(decode_error)? {
            let id = record.header.id;
            // The terminator's id is 0: every run left comes before it.
            let upto = if matches!(record.body, Body::Terminator(_)) {
                u64::MAX
            } else {
                id
            };
            let run_index = runs_before(upto, &mut files, &mut contents, &mut bad_contents);
            // Reported once the whole image verified, like several tasks.
            if let Err(e) = contents.next(id, &record.body) {
                bad_contents.get_or_insert(contents_error(id, e));
            }
            let (offset, len) = (record.offset as usize, record.header.len as usize);
            // Re-parse from the image itself, so that what we keep borrows from it.
            let payload = image
                .get(offset + RECORD_HEADER_LEN..offset + len)
                .unwrap_or_default();
            let body = match record.body {
                // Process state (memory...) is for a whole-process restart; skipped here.
                Body::Unknown(_)
                | Body::Terminator(_)
                | Body::Mm(_)
                | Body::Vma(_)
                | Body::Pages(_)
                | Body::Regset(_)
                | Body::Signals(_)
                | Body::TaskState(_) => continue,
                _ => image::parse_body(&record.header, payload).map_err(|e| {
                    bad_image(FormatError {
                        kind: e.kind,
                        offset: (offset + RECORD_HEADER_LEN + e.at) as u64,
                        record: None,
                    })
                    .in_record(id)
                })?,
            };
            match body {
                Body::EnvVector(v) => env = Some((id, v)),
                Body::Task(t) => {
                    // Reported once the whole image verified: a corrupt image is corrupt first.
                    if task.is_some() {
                        several_tasks.get_or_insert(id);
                    }
                    task.get_or_insert((id, t));
                }
                Body::TaskVector(tv) => task_vector = Some(tv.entries),
                Body::FileTable(t) => {
                    if table.is_some() {
                        return Err(inconsistent(id, format_args!("second file table")));
                    }
                    table = Some((id, t));
                }
                Body::File(file) => files.push(
                    FileRecord {
                        id,
                        file,
                        first_fd: u32::MAX,
                        runs: run_index..run_index,
                    },
                    GFP_KERNEL,
                )?,
                // read_image() moved every FILE_DATA record to the spool (`runs`).
                Body::FileData(_) => {
                    return Err(inconsistent(
                        id,
                        format_args!("unexpected FILE_DATA record"),
                    ))
                }
                // Skipped: only a decoder skipping data makes it, not parse_body().
                Body::Unknown(_)
                | Body::Skipped { .. }
                | Body::Terminator(_)
                | Body::Mm(_)
                | Body::Vma(_)
                | Body::Pages(_)
                | Body::Regset(_)
                | Body::Signals(_)
                | Body::TaskState(_) => {}
            }
        }
        runs_before(u64::MAX, &mut files, &mut contents, &mut bad_contents);
        if let Err(e) = contents.finish() {
            bad_contents.get_or_insert(contents_error(0, e));
        }
        if let Some(e) = bad_contents {
            return Err(e);
        }
        if let Some(id) = several_tasks {
            return Err(CkptError::unsupported_image(format_args!(
                "images of several tasks cannot be restarted yet"
            ))
            .in_record(id));
        }
        let (env_id, env) = env.ok_or_else(|| inconsistent(0, format_args!("no environment")))?;
        let (task_id, task) =
            task.ok_or_else(|| inconsistent(0, format_args!("no task record")))?;
        let (table_id, table) =
            table.ok_or_else(|| inconsistent(task_id, format_args!("no file table")))?;
        if task.file_table != table_id {
            return Err(inconsistent(
                task_id,
                format_args!("the task refers to file table {}", task.file_table),
            ));
        }
        Ok(Self {
            header,
            env_id,
            env,
            task_vector,
            task_id,
            table_id,
            table,
            files,
            runs,
            mapped: KVVec::new(),
        })
    }

    /// The file table as slots, with each entry's index into `files`; checks fd limits and
    /// references, and that every file record is used.
    pub(crate) fn fd_table(&self) -> CkptResult<KVVec<FdUse>> {
        let limit = fdtable::nofile_limit();
        let mut fds = KVVec::with_capacity(self.table.len() as usize, GFP_KERNEL)?;
        for e in self.table.iter() {
            if u64::from(e.fd) >= limit {
                return Err(CkptError::too_large(
                    EMFILE,
                    format_args!("not below RLIMIT_NOFILE ({limit})"),
                )
                .at_fd(e.fd)
                .in_record(self.table_id));
            }
            let index = self
                .files
                .binary_search_by_key(&e.file, |f| f.id)
                .map_err(|_| {
                    CkptError::bad_image(format_args!("record {} is not a file", e.file))
                        .at_fd(e.fd)
                        .in_record(self.table_id)
                })?;
            fds.push(
                FdUse {
                    slot: Slot {
                        fd: e.fd,
                        cloexec: e.flags & image::FD_FLAG_CLOEXEC != 0,
                    },
                    file: index,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(fds)
    }

    /// Checks each file record on its own, marks which fds use it, and checks the caller's
    /// table: external fds must be open, the others free (unless replaced). Returns the number
    /// of external fds.
    pub(crate) fn check_fds(&mut self, fds: &[FdUse], flags: u64) -> CkptResult<u32> {
        for u in fds {
            let rec = &mut self.files[u.file];
            rec.first_fd = rec.first_fd.min(u.slot.fd);
        }
        let unused = |r: &&FileRecord<'_>| {
            r.first_fd == u32::MAX && self.mapped.binary_search(&r.id).is_err()
        };
        if let Some(rec) = self.files.iter().find(unused) {
            return Err(inconsistent(
                rec.id,
                format_args!("file record {} is not in the file table", rec.id),
            ));
        }
        for rec in self.files.iter() {
            check_file(rec)?;
        }
        let mut external = 0u32;
        for u in fds {
            let rec = &self.files[u.file];
            let fd = u.slot.fd;
            let open = fdtable::is_open(fd);
            if matches!(rec.file.variant, FileVariant::External { .. }) {
                if !open {
                    return Err(CkptError::external_missing(format_args!(
                        "external fd is not open in the restoring process"
                    ))
                    .at_fd(fd)
                    .in_record(rec.id));
                }
                external += 1;
            } else if open && flags & u64::from(uapi::CKPT_RESTART_REPLACE_FDS) == 0 {
                return Err(CkptError::fd_busy(format_args!(
                    "already open in the restoring process"
                ))
                .at_fd(fd)
                .in_record(rec.id));
            }
        }
        Ok(external)
    }
}

/// One fd of the image's table: where it goes and which file record fills it.
pub(crate) struct FdUse {
    pub(crate) slot: Slot,
    pub(crate) file: usize,
}

fn decode_error(e: DecodeError<core::convert::Infallible>) -> CkptError {
    match e {
        DecodeError::Format(f)
            if matches!(f.kind, image::FormatErrorKind::UnsupportedVersion(_)) =>
        {
            CkptError::image_version(format_args!("{}; `ckpt convert` may convert it", f.kind))
        }
        DecodeError::Format(f) => bad_image(f),
        DecodeError::Source(never) => match never {},
    }
}

/// What restart requires of a file record before opening it (the codec's policy, shared with
/// the tools): known flags, canonical path, kind matching mode, a stateless device.
fn check_file(rec: &FileRecord<'_>) -> CkptResult {
    image::check_restorable(&rec.file).map_err(|e| {
        let path = Printable(rec.file.path);
        rec.blame(CkptError::bad_image(format_args!("{e}: {path}")))
    })
}

/// A malformed-contents error, blamed on the FILE_DATA record `id`, or for a wrong total on
/// the file record.
fn contents_error(id: u64, e: image::ContentsError) -> CkptError {
    let id = match e {
        image::ContentsError::LengthMismatch { file, .. } => file,
        _ => id,
    };
    inconsistent(id, format_args!("{e}"))
}

// ---- phase 3: environment ----

pub(crate) fn check_environment(plan: &Plan<'_>, flags: u64) -> CkptResult {
    let page_size = kernel::page::PAGE_SIZE as u32;
    if plan.header.arch != Arch::X86_64 || plan.header.page_size != page_size {
        return Err(CkptError::env_mismatch(format_args!(
            "image of arch {} with {}-byte pages; this kernel is x86_64 with {page_size}",
            plan.header.arch, plan.header.page_size
        )));
    }
    let host = env::host_payload()?;
    let host = EnvVector::parse(&host).map_err(|_| EIO)?;
    // The words `ckpt check` prints too: critical first, features by name, one line of advice.
    let scopes = [
        Scope {
            label: "",
            image: plan.env,
        },
        Scope {
            label: "task",
            image: plan.task_vector.unwrap_or(EnvVector::empty()),
        },
    ];
    let report = EnvReport::new(&scopes, host);
    let total = report.summary();
    let accept_advisory = flags & u64::from(uapi::CKPT_RESTART_ACCEPT_ADVISORY) != 0;
    if total.critical == 0 && (total.advisory == 0 || accept_advisory) {
        return Ok(());
    }
    let record = match report.first_scope() {
        Some(1) => plan.task_id,
        _ => plan.env_id,
    };
    Err(
        CkptError::env_mismatch(format_args!("{}", report.line(NAMES_IN_MESSAGE)))
            .in_record(record),
    )
}

// ---- phase 4: reopen ----

impl Plan<'_> {
    /// Opens every file record through the kind that restores it (`None` for external
    /// ones, which the caller supplies), in record order; file contents come from `spool`.
    pub(crate) fn reopen(
        &self,
        _fds: &[FdUse],
        flags: u64,
        spool: &Spool,
    ) -> CkptResult<KVVec<Option<NewFile>>> {
        let root = FsContext::current()?.root;
        let mut names = KVec::from_elem(0u8, 2 * (PATH_MAX + 1), GFP_KERNEL)?;
        let mut cx = ReopenContext {
            root: &root,
            names: &mut names,
            flags,
            runs: self.runs,
            spool,
        };
        let mut files = KVVec::with_capacity(self.files.len(), GFP_KERNEL)?;
        for rec in self.files.iter() {
            let kind = files::restorer(&rec.file.variant).ok_or_else(|| {
                rec.blame(inconsistent(
                    rec.id,
                    format_args!("no kind restores this file record"),
                ))
            })?;
            files.push(kind.reopen(rec, &mut cx)?, GFP_KERNEL)?;
        }
        Ok(files)
    }
}

// ---- phase 5: install ----

fn install(
    plan: &Plan<'_>,
    fds: &[FdUse],
    files: &[Option<NewFile>],
    flags: u64,
) -> CkptResult<u32> {
    let replace = flags & u64::from(uapi::CKPT_RESTART_REPLACE_FDS) != 0;
    let mut slots = KVVec::with_capacity(fds.len(), GFP_KERNEL)?;
    let mut chosen: KVVec<&NewFile> = KVVec::with_capacity(fds.len(), GFP_KERNEL)?;
    let mut occupied = KVVec::new();
    for u in fds {
        let Some(file) = &files[u.file] else {
            continue; // external: the caller's own file stays
        };
        if replace && fdtable::is_open(u.slot.fd) {
            occupied.push(u.slot.fd, GFP_KERNEL)?;
        }
        slots.push(u.slot, GFP_KERNEL)?;
        chosen.push(file, GFP_KERNEL)?;
    }
    let fail = |e: fdtable::ReserveError| {
        let error = if e.errno == EBUSY {
            CkptError::fd_busy(format_args!("taken while restarting"))
        } else if e.errno == EMFILE {
            CkptError::too_large(EMFILE, format_args!("not below RLIMIT_NOFILE"))
        } else {
            CkptError::other(e.errno, format_args!("cannot be reserved in the fd table"))
        };
        match e.fd {
            Some(fd) => error.at_fd(fd),
            None => error,
        }
        .in_record(plan.table_id)
    };
    let reservation = Reservation::new(&slots, &occupied).map_err(fail)?;
    reservation
        .commit(&slots, &chosen, &occupied)
        .map_err(fail)?;
    Ok(u32::try_from(slots.len()).unwrap_or(u32::MAX))
}

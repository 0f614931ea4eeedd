// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_RESTART`: restore an image's file table into the calling process.
//!
//! The image is hostile input. Restart runs in phases and acts only after every check passed:
//!
//! 1. **Read** the image from the fd, sequentially, up to its terminator and never past it,
//!    into memory bounded by `CKPT_RESTART_MAX_IMAGE`.
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
    env,
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
    let (image, max_payload) = read_image(&input, out)?;
    if args.flags & u64::from(uapi::CKPT_RESTART_PROCESS_FLAGS) != 0 {
        // A whole process: validated and kept for CKPT_IOC_RESTART_COMMIT (crate::process).
        return process::prepare(image, max_payload, args.flags, out, prepared);
    }
    let mut plan = Plan::parse(&image, max_payload)?;
    check_environment(&plan, args.flags)?;
    let fds = plan.fd_table()?;
    out.nr_external = plan.check_fds(&fds, args.flags)?;
    let files = plan.reopen(&fds, args.flags)?;
    out.nr_fds = install(&plan, &fds, &files, args.flags)?;
    Ok(())
}

// ---- phase 1: read ----

/// Reads one image, up to its terminator, into memory. Returns it and its longest record
/// payload (the decoder's scratch size). Only the framing is looked at here.
pub(crate) fn read_image(input: &CallerFile, out: &mut Outcome) -> CkptResult<(KVVec<u8>, usize)> {
    let mut image = KVVec::new();
    read_more(input, &mut image, IMMUTABLE_HEADER_LEN, out)?;
    // An unknown version may frame records differently: refuse it before reading on.
    let version = image::parse_immutable_header(&image).map_err(|e| {
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
    read_more(input, &mut image, HEADER_LEN - IMMUTABLE_HEADER_LEN, out)?;
    let mut max_payload = 0;
    loop {
        let start = image.len();
        read_more(input, &mut image, RECORD_HEADER_LEN, out)?;
        let header = RecordHeader::parse(&image[start..]).map_err(|e| {
            bad_image(FormatError {
                kind: e.kind,
                offset: (start + e.at) as u64,
                record: None,
            })
        })?;
        let len = header.payload_len();
        max_payload = max_payload.max(len);
        read_more(input, &mut image, len, out)?;
        if header.rtype == RecordType::TERMINATOR {
            return Ok((image, max_payload));
        }
    }
}

/// Appends exactly `len` more bytes of the input to `image`.
fn read_more(
    input: &CallerFile,
    image: &mut KVVec<u8>,
    len: usize,
    out: &mut Outcome,
) -> CkptResult {
    let max = uapi::CKPT_RESTART_MAX_IMAGE as usize;
    let end = image.len().saturating_add(len);
    if end > max {
        return Err(CkptError::too_large(
            EFBIG,
            format_args!("the image exceeds {max} bytes"),
        ));
    }
    while image.len() < end {
        if vfs::fatal_signal_pending() {
            return Err(CkptError::interrupted(format_args!(
                "interrupted by a fatal signal after {} bytes",
                image.len()
            )));
        }
        let filled = image.len();
        let want = (end - filled).min(READ_CHUNK);
        image.resize(filled + want, 0, GFP_KERNEL)?;
        let result = input.read(&mut image[filled..]);
        let got = *result.as_ref().unwrap_or(&0);
        image.truncate(filled + got);
        out.bytes = image.len() as u64;
        match result {
            Ok(0) => {
                return Err(bad_image(FormatError {
                    kind: image::FormatErrorKind::Truncated,
                    offset: filled as u64,
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
                    format_args!("reading the image failed after {filled} bytes"),
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
    /// FILE_DATA records: runs of the contents of `files` (each file's `runs`).
    runs: KVVec<FileData<'a>>,
    /// Sorted ids of the file records mappings use (a whole-process restart sets them): they
    /// need no fd.
    pub(crate) mapped: KVVec<u64>,
}

impl<'a> Plan<'a> {
    /// Decodes and validates `image`, which [`read_image`] framed.
    pub(crate) fn parse(image: &'a [u8], max_payload: usize) -> CkptResult<Self> {
        let mut scratch = KVVec::from_elem(0u8, max_payload, GFP_KERNEL)?;
        let mut dec = Decoder::new(image).map_err(decode_error)?;
        let header = *dec.header();
        let mut env = None;
        let mut task: Option<(u64, Task<'a>)> = None;
        let mut task_vector = None;
        let mut table: Option<(u64, FileTable<'a>)> = None;
        let mut files: KVVec<FileRecord<'a>> = KVVec::new();
        let mut runs: KVVec<FileData<'a>> = KVVec::new();
        let mut several_tasks = None;
        // What restart requires of file contents beyond each record (shared with the tools).
        let mut contents = ContentsCheck::new();
        let mut bad_contents = None;
        while let Some(record) = dec.next_record(&mut scratch).map_err(decode_error)? {
            let id = record.header.id;
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
                        runs: runs.len()..runs.len(),
                    },
                    GFP_KERNEL,
                )?,
                Body::FileData(run) => {
                    // `contents` checked that it follows the last file record.
                    if let Some(rec) = files.last_mut() {
                        rec.runs.end += 1;
                    }
                    runs.push(run, GFP_KERNEL)?;
                }
                Body::Unknown(_)
                | Body::Terminator(_)
                | Body::Mm(_)
                | Body::Vma(_)
                | Body::Pages(_)
                | Body::Regset(_)
                | Body::Signals(_)
                | Body::TaskState(_) => {}
            }
        }
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
    /// ones, which the caller supplies), in record order.
    pub(crate) fn reopen(&self, _fds: &[FdUse], flags: u64) -> CkptResult<KVVec<Option<NewFile>>> {
        let root = FsContext::current()?.root;
        let mut names = KVec::from_elem(0u8, 2 * (PATH_MAX + 1), GFP_KERNEL)?;
        let mut cx = ReopenContext {
            root: &root,
            names: &mut names,
            flags,
            runs: &self.runs,
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

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
//! 4. **Reopen** every file with the caller's credentials, checking identity and content.
//! 5. **Install** them at their fd numbers ([`Reservation`]): all or nothing.

use core::fmt::Write;

use kernel::{bindings, prelude::*, sync::Mutex};

use crate::{
    env,
    error::{self, CkptError, CkptResult, Report},
    fdtable::{self, Reservation, Slot},
    image::{
        self, Arch, Body, DecodeError, Decoder, DirCookieMode, EnvReport, EnvVector, File,
        FileTable, FileVariant, FormatError, RecordHeader, RecordType, Scope, Task, HEADER_LEN,
        IMMUTABLE_HEADER_LEN, PATH_MAX, RECORD_HEADER_LEN,
    },
    process::{self, Prepared},
    reason::Reason,
    uapi::{self, ckpt_restart},
    vfs::{self, Access, CallerFile, FsContext, InodeFacts, KPath, NewFile},
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

/// The `f_flags` restart passes to `open()` as recorded (`O_NONBLOCK` is restored after).
const REOPEN_F_FLAGS: u32 = bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_DSYNC
    | bindings::__O_SYNC
    | bindings::O_DIRECT
    | bindings::O_NOATIME;

/// The `f_flags` restart opens with whatever the image says, then sets as recorded.
const OPEN_ONLY_F_FLAGS: u32 = bindings::O_NONBLOCK | bindings::O_NOFOLLOW | bindings::O_DIRECTORY;

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

/// A FILE record of the image.
pub(crate) struct FileRecord<'a> {
    pub(crate) id: u64,
    pub(crate) file: File<'a>,
    /// Lowest fd using it (what errors name), `u32::MAX` while unreferenced.
    first_fd: u32,
}

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
        let mut files = KVVec::new();
        let mut several_tasks = None;
        while let Some(record) = dec.next_record(&mut scratch).map_err(decode_error)? {
            let id = record.header.id;
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
                | Body::Regset(_) => continue,
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
                    },
                    GFP_KERNEL,
                )?,
                Body::Unknown(_)
                | Body::Terminator(_)
                | Body::Mm(_)
                | Body::Vma(_)
                | Body::Pages(_)
                | Body::Regset(_) => {}
            }
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
        CkptError::bad_image(format_args!("{e}: {path}"))
            .at_fd(rec.first_fd)
            .in_record(rec.id)
    })
}

/// Bytes for messages (non-printable ones as `?`, cut to fit).
struct Printable<'a>(&'a [u8]);

impl core::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0.iter().take(200) {
            let c = if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            };
            f.write_char(c)?;
        }
        if self.0.len() > 200 {
            f.write_str("...")?;
        }
        Ok(())
    }
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
    /// Opens every file record but the external ones (`None` there), in record order.
    pub(crate) fn reopen(&self, _fds: &[FdUse], flags: u64) -> CkptResult<KVVec<Option<NewFile>>> {
        let root = FsContext::current()?.root;
        let mut names = KVec::from_elem(0u8, 2 * (PATH_MAX + 1), GFP_KERNEL)?;
        let mut files = KVVec::with_capacity(self.files.len(), GFP_KERNEL)?;
        for rec in self.files.iter() {
            let file = match rec.file.variant {
                FileVariant::External { .. } => None,
                _ => Some(reopen(rec, &root, &mut names, flags)?),
            };
            files.push(file, GFP_KERNEL)?;
        }
        Ok(files)
    }
}

/// An error about the file of `rec`, made by `error` (a [`CkptError`] constructor) from a
/// message that starts with the recorded path; blamed on its lowest fd and its record.
fn file_error(
    rec: &FileRecord<'_>,
    error: impl FnOnce(core::fmt::Arguments<'_>) -> CkptError,
    args: core::fmt::Arguments<'_>,
) -> CkptError {
    error(format_args!("{}: {args}", Printable(rec.file.path)))
        .at_fd(rec.first_fd)
        .in_record(rec.id)
}

/// Writes `bytes` and a NUL into `buf` and returns it as a C string.
fn c_path<'b>(bytes: &[u8], buf: &'b mut [u8]) -> Result<&'b CStr> {
    let with_nul = buf.get_mut(..bytes.len() + 1).ok_or(ENAMETOOLONG)?;
    with_nul[..bytes.len()].copy_from_slice(bytes);
    with_nul[bytes.len()] = 0;
    CStr::from_bytes_with_nul(with_nul).map_err(|_| EINVAL)
}

/// Reopens one file with the caller's credentials and restores its state.
fn reopen(rec: &FileRecord<'_>, root: &KPath, names: &mut [u8], flags: u64) -> CkptResult<NewFile> {
    let f = &rec.file;
    let (path_buf, found_buf) = names.split_at_mut(PATH_MAX + 1);
    let recorded = c_path(f.path, path_buf)?;

    // Where the file is now: its recorded path if that still names it, else (ext) wherever
    // its file handle says. Checked before opening, so that nothing else is ever opened.
    let ext_handle = match f.variant {
        FileVariant::Ext {
            handle,
            handle_type,
            ..
        }
        | FileVariant::ExtDirectory {
            handle,
            handle_type,
            ..
        } => Some((handle, handle_type)),
        _ => None,
    };
    let found = match (KPath::lookup(recorded), ext_handle) {
        (Ok(p), handle) => {
            let facts = p.facts().map_err(|e| lookup_error(rec, e))?;
            match (identity(f, &facts), handle) {
                (Ok(()), _) => Found::Name(recorded),
                (Err(_), Some((h, t))) => locate_by_handle(rec, h, t, root, found_buf)?,
                (Err(why), None) => return Err(replaced(rec, why)),
            }
        }
        (Err(e), Some((h, t))) if e == ENOENT => locate_by_handle(rec, h, t, root, found_buf)?,
        (Err(e), _) => return Err(lookup_error(rec, e)),
    };

    let is_dir = f.mode & bindings::S_IFMT == bindings::S_IFDIR;
    // O_NONBLOCK: nothing may block in open (a FIFO swapped in would); restored below.
    let mut open_flags = (f.f_flags & REOPEN_F_FLAGS)
        | bindings::O_NONBLOCK
        | bindings::O_NOFOLLOW
        | bindings::O_NOCTTY
        | bindings::O_LARGEFILE;
    if is_dir {
        open_flags |= bindings::O_DIRECTORY;
    }
    let file = match &found {
        Found::Name(name) => NewFile::open(name, open_flags),
        Found::Dentry(path) => NewFile::open_path(path, open_flags),
    }
    .map_err(|e| open_error(rec, e))?;

    // Check again what was opened: the path may have changed since the lookup.
    let facts = file.facts().map_err(|e| open_error(rec, e))?;
    identity(f, &facts).map_err(|why| replaced(rec, why))?;
    if flags & u64::from(uapi::CKPT_RESTART_IGNORE_CONTENT) == 0 {
        content(rec, &facts)?;
    }

    let hash_bits = match f.variant {
        FileVariant::ExtDirectory { cookie, .. } => match cookie {
            DirCookieMode::Hash32 => 32,
            DirCookieMode::Hash64 => 64,
        },
        _ => 0,
    };
    file.set_restored_flags(f.f_flags, OPEN_ONLY_F_FLAGS, hash_bits);
    if !matches!(f.variant, FileVariant::CharDevice { .. }) {
        match file.seek(f.pos) {
            Ok(pos) if pos == f.pos => {}
            Ok(pos) => {
                return Err(file_error(
                    rec,
                    CkptError::bad_position,
                    format_args!("position {} restored as {pos}", f.pos),
                ))
            }
            Err(e) => {
                return Err(file_error(
                    rec,
                    CkptError::bad_position,
                    format_args!("cannot restore position {} ({e:?})", f.pos),
                ))
            }
        }
    }
    Ok(file)
}

/// Where restart found a file.
enum Found<'b> {
    /// A path, opened as `open(2)` would (every directory on the way searched).
    Name(&'b CStr),
    /// A dentry found by file handle that no path reaches (it left the dcache, and ext
    /// handles name no parent): opened as `open_by_handle_at(2)` would.
    Dentry(KPath),
}

/// Finds an ext file by its handle, on the file system mounted at the nearest existing
/// ancestor of its recorded path: its current path (written into `buf`) if a path reaches
/// it, else, for a caller who may open files by handle, the dentry itself.
fn locate_by_handle<'b>(
    rec: &FileRecord<'_>,
    handle: &[u8],
    handle_type: u32,
    root: &KPath,
    buf: &'b mut [u8],
) -> CkptResult<Found<'b>> {
    let f = &rec.file;
    // ENOENT, ESTALE (and EINVAL: a handle the file system no longer accepts) say the file is
    // gone; any other errno (ENOMEM...) says nothing about the file.
    let missing = |e: Error| {
        if e == ENOENT || e == ESTALE || e == EINVAL {
            let e = if e == EINVAL { ESTALE } else { e };
            file_error(
                rec,
                |a| CkptError::file_missing(e, a),
                format_args!("no longer exists (neither at its path nor by file handle)"),
            )
        } else {
            file_error(rec, |a| CkptError::other(e, a), format_args!("{e:?}"))
        }
    };
    // The file system: the nearest ancestor of the path that exists and is on device `dev`.
    let mut prefix = f.path;
    let mount = loop {
        let cut = prefix.iter().rposition(|&b| b == b'/').unwrap_or(0);
        prefix = &f.path[..cut.max(1)];
        let dir = c_path(prefix, buf)?;
        if let Ok(p) = KPath::lookup(dir) {
            if p.facts().is_ok_and(|facts| facts.dev == f.dev) {
                break p;
            }
        }
        if cut == 0 {
            return Err(missing(ENOENT));
        }
    };
    let check = |found: &KPath| -> CkptResult {
        let facts = found.facts().map_err(missing)?;
        if facts.unlinked != 0 {
            return Err(missing(ESTALE));
        }
        identity(f, &facts).map_err(|why| replaced(rec, why))
    };
    let Ok(found) = mount.decode_handle(handle, handle_type, false) else {
        // No connected dentry: the inode may still exist, with no path to it in the dcache.
        let found = mount
            .decode_handle(handle, handle_type, true)
            .map_err(missing)?;
        check(&found)?;
        if !vfs::may_open_by_handle() {
            return Err(file_error(
                rec,
                |a| CkptError::file_access(EACCES, a),
                format_args!(
                    "found by file handle, but no path reaches it; opening it by handle \
                     needs CAP_DAC_READ_SEARCH"
                ),
            ));
        }
        return Ok(Found::Dentry(found));
    };
    check(&found)?;
    let len = found
        .name_under(root, &mut buf[..PATH_MAX])
        .map_err(|e| {
            file_error(
                rec,
                |a| CkptError::file_access(e, a),
                format_args!("found by handle, but not reachable from the caller's root"),
            )
        })?
        .len();
    // `name_under` wrote the path at the start of `buf`: NUL-terminate it in place.
    buf[len] = 0;
    let name = CStr::from_bytes_with_nul(&buf[..=len]).map_err(|_| EINVAL)?;
    Ok(Found::Name(name))
}

/// Which identity field differs, if any.
fn identity(f: &File<'_>, facts: &InodeFacts) -> Result<(), &'static str> {
    if facts.mode & bindings::S_IFMT != f.mode & bindings::S_IFMT {
        return Err("file type");
    }
    if let FileVariant::CharDevice { rdev } = f.variant {
        // Device nodes are found by number: their inode may differ after a reboot.
        return if facts.rdev == rdev {
            Ok(())
        } else {
            Err("device number")
        };
    }
    if facts.dev != f.dev {
        return Err("device");
    }
    if facts.ino != f.ino {
        return Err("inode");
    }
    match f.variant {
        FileVariant::Ext { generation, .. } | FileVariant::ExtDirectory { generation, .. }
            if facts.generation != generation =>
        {
            Err("inode generation")
        }
        _ => Ok(()),
    }
}

fn replaced(rec: &FileRecord<'_>, why: &str) -> CkptError {
    file_error(
        rec,
        CkptError::file_replaced,
        format_args!("another file is there ({why} differs)"),
    )
}

/// Size and mtime must be as at checkpoint (ctime is not compared: rename and chmod change it).
fn content(rec: &FileRecord<'_>, facts: &InodeFacts) -> CkptResult {
    let f = &rec.file;
    if matches!(f.variant, FileVariant::CharDevice { .. }) {
        return Ok(());
    }
    if facts.size != f.size {
        return Err(file_error(
            rec,
            CkptError::file_changed,
            format_args!("size changed ({} -> {})", f.size, facts.size),
        ));
    }
    if facts.mtime_sec != f.mtime.sec || facts.mtime_nsec != f.mtime.nsec {
        return Err(file_error(
            rec,
            CkptError::file_changed,
            format_args!("modified since the checkpoint (mtime differs)"),
        ));
    }
    Ok(())
}

fn lookup_error(rec: &FileRecord<'_>, e: Error) -> CkptError {
    if e == ENOENT {
        file_error(
            rec,
            |a| CkptError::file_missing(e, a),
            format_args!("no such file"),
        )
    } else {
        file_error(
            rec,
            |a| CkptError::file_access(e, a),
            format_args!("lookup failed ({e:?})"),
        )
    }
}

fn open_error(rec: &FileRecord<'_>, e: Error) -> CkptError {
    if e == ENOENT {
        return lookup_error(rec, e);
    }
    if e == ELOOP || e == ENOTDIR {
        return replaced(rec, "file type");
    }
    file_error(
        rec,
        |a| CkptError::file_access(e, a),
        format_args!("cannot open ({e:?})"),
    )
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

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

use kernel::{bindings, prelude::*};

use crate::{
    env,
    error::{self, CkptError, CkptResult, Message},
    fdtable::{self, Reservation, Slot},
    glue::FileFacts,
    image::{
        self, check_env, Arch, Body, DecodeError, Decoder, DirCookieMode, EnvVector, File,
        FileTable, FileVariant, FormatError, RecordHeader, RecordType, Task, HEADER_LEN,
        IMMUTABLE_HEADER_LEN, PATH_MAX, RECORD_HEADER_LEN,
    },
    uapi::{self, ckpt_restart},
    vfs::{self, Input, KPath, NewFile},
};

/// Largest read from the input at once.
const READ_CHUNK: usize = 64 * 1024;

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

/// Handles `CKPT_IOC_RESTART`.
pub(crate) fn ioctl(arg: usize, user_size: usize) -> Result {
    let mut args: ckpt_restart =
        uapi::read_ext(arg, user_size, uapi::CKPT_RESTART_SIZE_VER0 as usize)?;
    let mut out = Outcome::default();
    let result = restart(&args, &mut out);
    args.bytes = out.bytes;
    args.nr_fds = out.nr_fds;
    args.nr_external = out.nr_external;
    args.err_fd = -1;
    args.err_record = 0;
    args.reason = uapi::CKPT_REASON_NONE;
    match result {
        Ok(()) => uapi::write_ext(arg, user_size, &args),
        Err(e) => {
            args.nr_fds = 0;
            args.err_fd = e.fd;
            args.err_record = e.record;
            args.reason = e.reason;
            error::copy_to_log(args.log_buf, args.log_size, e.message())?;
            uapi::write_ext(arg, user_size, &args)?;
            Err(e.errno)
        }
    }
}

/// What restart reports, on success and on failure.
#[derive(Default)]
struct Outcome {
    bytes: u64,
    nr_fds: u32,
    nr_external: u32,
}

fn restart(args: &ckpt_restart, out: &mut Outcome) -> CkptResult {
    if args.flags & !u64::from(uapi::CKPT_RESTART_FLAGS_ALL) != 0 {
        return Err(CkptError::new(
            EINVAL,
            uapi::CKPT_REASON_BAD_ARGUMENT,
            -1,
            format_args!("unknown flags {:#x}", args.flags),
        ));
    }
    let input = Input::from_fd(args.fd).map_err(|e| {
        CkptError::new(
            e,
            uapi::CKPT_REASON_BAD_ARGUMENT,
            -1,
            format_args!("image fd {}: not open for reading", args.fd),
        )
    })?;
    let (image, max_payload) = read_image(&input, out)?;
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
fn read_image(input: &Input, out: &mut Outcome) -> CkptResult<(KVVec<u8>, usize)> {
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
        return Err(CkptError::new(
            ENOEXEC,
            uapi::CKPT_REASON_IMAGE_VERSION,
            -1,
            format_args!(
                "image format version {version} is not supported (this module reads version \
                 {}); `ckpt convert` may convert it",
                image::VERSION
            ),
        ));
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
fn read_more(input: &Input, image: &mut KVVec<u8>, len: usize, out: &mut Outcome) -> CkptResult {
    let max = uapi::CKPT_RESTART_MAX_IMAGE as usize;
    let end = image.len().checked_add(len).ok_or(EFBIG)?;
    if end > max {
        return Err(CkptError::new(
            EFBIG,
            uapi::CKPT_REASON_TOO_LARGE,
            -1,
            format_args!("the image exceeds {max} bytes"),
        ));
    }
    while image.len() < end {
        if crate::glue::fatal_signal_pending() {
            return Err(CkptError::new(
                EINTR,
                uapi::CKPT_REASON_INTERRUPTED,
                -1,
                format_args!("interrupted by a fatal signal after {} bytes", image.len()),
            ));
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
                return Err(CkptError::new(
                    e,
                    uapi::CKPT_REASON_INPUT,
                    -1,
                    format_args!("reading the image failed after {filled} bytes"),
                ));
            }
        }
    }
    Ok(())
}

fn bad_image(e: FormatError) -> CkptError {
    let err = CkptError::new(
        EBADMSG,
        uapi::CKPT_REASON_BAD_IMAGE,
        -1,
        format_args!("malformed image: {e}"),
    );
    match e.record {
        Some(r) => err.in_record(r.id),
        None => err,
    }
}

/// A malformed-image error about record `id` (and the image fd `fd`, or -1).
fn inconsistent(id: u64, fd: i32, args: core::fmt::Arguments<'_>) -> CkptError {
    CkptError::new(EBADMSG, uapi::CKPT_REASON_BAD_IMAGE, fd, args).in_record(id)
}

// ---- phase 2: validate ----

/// A FILE record of the image.
struct FileRecord<'a> {
    id: u64,
    file: File<'a>,
    /// Lowest fd using it (what errors name), `u32::MAX` while unreferenced.
    first_fd: u32,
}

/// A validated image, borrowing from its bytes.
struct Plan<'a> {
    header: image::Header,
    env_id: u64,
    env: EnvVector<'a>,
    task_vector: Option<EnvVector<'a>>,
    task_id: u64,
    table_id: u64,
    table: FileTable<'a>,
    files: KVVec<FileRecord<'a>>,
}

impl<'a> Plan<'a> {
    /// Decodes and validates `image`, which [`read_image`] framed.
    fn parse(image: &'a [u8], max_payload: usize) -> CkptResult<Self> {
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
                        return Err(inconsistent(id, -1, format_args!("second file table")));
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
            return Err(CkptError::new(
                EOPNOTSUPP,
                uapi::CKPT_REASON_BAD_IMAGE,
                -1,
                format_args!("images of several tasks cannot be restarted yet"),
            )
            .in_record(id));
        }
        let (env_id, env) =
            env.ok_or_else(|| inconsistent(0, -1, format_args!("no environment")))?;
        let (task_id, task) =
            task.ok_or_else(|| inconsistent(0, -1, format_args!("no task record")))?;
        let (table_id, table) =
            table.ok_or_else(|| inconsistent(task_id, -1, format_args!("no file table")))?;
        if task.file_table != table_id {
            return Err(inconsistent(
                task_id,
                -1,
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
        })
    }

    /// The file table as slots, with each entry's index into `files`; checks fd limits and
    /// references, and that every file record is used.
    fn fd_table(&self) -> CkptResult<KVVec<FdUse>> {
        let limit = fdtable::nofile_limit();
        let mut fds = KVVec::with_capacity(self.table.len() as usize, GFP_KERNEL)?;
        for e in self.table.iter() {
            let fd = i32::try_from(e.fd).unwrap_or(i32::MAX);
            if u64::from(e.fd) >= limit {
                return Err(CkptError::fd(
                    EMFILE,
                    uapi::CKPT_REASON_TOO_LARGE,
                    e.fd,
                    format_args!("not below RLIMIT_NOFILE ({limit})"),
                )
                .in_record(self.table_id));
            }
            let index = self
                .files
                .binary_search_by_key(&e.file, |f| f.id)
                .map_err(|_| {
                    inconsistent(
                        self.table_id,
                        fd,
                        format_args!("fd {fd}: record {} is not a file", e.file),
                    )
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
    fn check_fds(&mut self, fds: &[FdUse], flags: u64) -> CkptResult<u32> {
        for u in fds {
            let rec = &mut self.files[u.file];
            rec.first_fd = rec.first_fd.min(u.slot.fd);
        }
        if let Some(rec) = self.files.iter().find(|r| r.first_fd == u32::MAX) {
            return Err(inconsistent(
                rec.id,
                -1,
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
                    return Err(CkptError::fd(
                        EBADF,
                        uapi::CKPT_REASON_EXTERNAL_MISSING,
                        fd,
                        format_args!("external fd is not open in the restoring process"),
                    )
                    .in_record(rec.id));
                }
                external += 1;
            } else if open && flags & u64::from(uapi::CKPT_RESTART_REPLACE_FDS) == 0 {
                return Err(CkptError::fd(
                    EBUSY,
                    uapi::CKPT_REASON_FD_BUSY,
                    fd,
                    format_args!("already open in the restoring process"),
                )
                .in_record(rec.id));
            }
        }
        Ok(external)
    }
}

/// One fd of the image's table: where it goes and which file record fills it.
struct FdUse {
    slot: Slot,
    file: usize,
}

fn decode_error(e: DecodeError<core::convert::Infallible>) -> CkptError {
    match e {
        DecodeError::Format(f)
            if matches!(f.kind, image::FormatErrorKind::UnsupportedVersion(_)) =>
        {
            CkptError::new(
                ENOEXEC,
                uapi::CKPT_REASON_IMAGE_VERSION,
                -1,
                format_args!("{}; `ckpt convert` may convert it", f.kind),
            )
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
        CkptError::fd(
            EBADMSG,
            uapi::CKPT_REASON_BAD_IMAGE,
            rec.first_fd,
            format_args!("{e}: {path}"),
        )
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

fn check_environment(plan: &Plan<'_>, flags: u64) -> CkptResult {
    let page_size = kernel::page::PAGE_SIZE as u32;
    if plan.header.arch != Arch::X86_64 || plan.header.page_size != page_size {
        return Err(CkptError::new(
            ENOEXEC,
            uapi::CKPT_REASON_ENV_MISMATCH,
            -1,
            format_args!(
                "image of arch {} with {}-byte pages; this kernel is x86_64 with {page_size}",
                plan.header.arch, plan.header.page_size
            ),
        ));
    }
    let host = env::host_payload()?;
    let host = EnvVector::parse(&host).map_err(|_| EIO)?;
    let mut message = KBox::new(Message::new(), GFP_KERNEL)?;
    let mut first_record = 0;
    let mut report = |scope: &str, id: u64, m: &image::Mismatch<'_>| {
        if first_record == 0 {
            first_record = id;
        }
        if !message.as_bytes().is_empty() {
            let _ = message.write_str("; ");
        }
        let severity = if m.critical { "" } else { " (advisory)" };
        let _ = match image::keys::lookup(m.key) {
            Some(k) => write!(message, "{scope}{}: {}{severity}", k.name, m.reason),
            None => write!(message, "{scope}key {:#x}: {}{severity}", m.key, m.reason),
        };
        if m.reason == image::MismatchReason::NotSubset {
            // Name the bits: for CPU capability words, which feature is missing.
            for i in 0..m.image.word_count() {
                let host = m.host.map_or(0, |h| h.word(i));
                let missing = m.image.word(i) & !host;
                if missing != 0 {
                    let _ = write!(message, " [word {i}: {missing:#x}]");
                }
            }
        }
    };
    let mut total = check_env(&plan.env, &host, |m| report("", plan.env_id, m));
    if let Some(tv) = &plan.task_vector {
        total.add(&check_env(tv, &host, |m| report("task ", plan.task_id, m)));
    }
    let accept_advisory = flags & u64::from(uapi::CKPT_RESTART_ACCEPT_ADVISORY) != 0;
    if total.critical == 0 && (total.advisory == 0 || accept_advisory) {
        return Ok(());
    }
    Err(CkptError::new(
        ENOEXEC,
        uapi::CKPT_REASON_ENV_MISMATCH,
        -1,
        format_args!(
            "environment mismatch ({} critical, {} advisory): {}",
            total.critical,
            total.advisory,
            core::str::from_utf8(message.as_bytes()).unwrap_or("?")
        ),
    )
    .in_record(first_record))
}

// ---- phase 4: reopen ----

impl Plan<'_> {
    /// Opens every file record but the external ones (`None` there), in record order.
    fn reopen(&self, _fds: &[FdUse], flags: u64) -> CkptResult<KVVec<Option<NewFile>>> {
        let root = KPath::current_root();
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

/// An error about the file of `rec`.
fn file_error(
    rec: &FileRecord<'_>,
    errno: Error,
    reason: u32,
    args: core::fmt::Arguments<'_>,
) -> CkptError {
    CkptError::fd(
        errno,
        reason,
        rec.first_fd,
        format_args!("{}: {args}", Printable(rec.file.path)),
    )
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
                    EINVAL,
                    uapi::CKPT_REASON_BAD_IMAGE,
                    format_args!("position {} restored as {pos}", f.pos),
                ))
            }
            Err(e) => {
                return Err(file_error(
                    rec,
                    e,
                    uapi::CKPT_REASON_BAD_IMAGE,
                    format_args!("cannot restore position {}", f.pos),
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
    let missing = |e: Error| {
        file_error(
            rec,
            e,
            uapi::CKPT_REASON_FILE_MISSING,
            format_args!("no longer exists (neither at its path nor by file handle)"),
        )
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
    let stale = |e: Error| if e == EINVAL { ESTALE } else { e };
    let Ok(found) = mount.decode_handle(handle, handle_type, false) else {
        // No connected dentry: the inode may still exist, with no path to it in the dcache.
        let found = mount
            .decode_handle(handle, handle_type, true)
            .map_err(|e| missing(stale(e)))?;
        check(&found)?;
        if !vfs::may_open_by_handle() {
            return Err(file_error(
                rec,
                EACCES,
                uapi::CKPT_REASON_FILE_ACCESS,
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
                e,
                uapi::CKPT_REASON_FILE_ACCESS,
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
fn identity(f: &File<'_>, facts: &FileFacts) -> Result<(), &'static str> {
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
        ESTALE,
        uapi::CKPT_REASON_FILE_REPLACED,
        format_args!("another file is there ({why} differs)"),
    )
}

/// Size and mtime must be as at checkpoint (ctime is not compared: rename and chmod change it).
fn content(rec: &FileRecord<'_>, facts: &FileFacts) -> CkptResult {
    let f = &rec.file;
    if matches!(f.variant, FileVariant::CharDevice { .. }) {
        return Ok(());
    }
    if facts.size != f.size {
        return Err(file_error(
            rec,
            ESTALE,
            uapi::CKPT_REASON_FILE_CHANGED,
            format_args!("size changed ({} -> {})", f.size, facts.size),
        ));
    }
    if facts.mtime_sec != f.mtime.sec || facts.mtime_nsec != f.mtime.nsec {
        return Err(file_error(
            rec,
            ESTALE,
            uapi::CKPT_REASON_FILE_CHANGED,
            format_args!("modified since the checkpoint (mtime differs)"),
        ));
    }
    Ok(())
}

fn lookup_error(rec: &FileRecord<'_>, e: Error) -> CkptError {
    if e == ENOENT {
        file_error(
            rec,
            e,
            uapi::CKPT_REASON_FILE_MISSING,
            format_args!("no such file"),
        )
    } else {
        file_error(
            rec,
            e,
            uapi::CKPT_REASON_FILE_ACCESS,
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
        e,
        uapi::CKPT_REASON_FILE_ACCESS,
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
        let (reason, why) = if e.errno == EBUSY {
            (uapi::CKPT_REASON_FD_BUSY, "taken while restarting")
        } else if e.errno == EMFILE {
            (uapi::CKPT_REASON_TOO_LARGE, "not below RLIMIT_NOFILE")
        } else {
            (uapi::CKPT_REASON_NONE, "cannot be reserved")
        };
        match e.fd {
            Some(fd) => CkptError::fd(e.errno, reason, fd, format_args!("{why}")),
            None => CkptError::new(e.errno, reason, -1, format_args!("fd table: {why}")),
        }
        .in_record(plan.table_id)
    };
    let reservation = Reservation::new(&slots, &occupied).map_err(fail)?;
    reservation
        .commit(&slots, &chosen, &occupied)
        .map_err(fail)?;
    Ok(u32::try_from(slots.len()).unwrap_or(u32::MAX))
}

// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_CHECKPOINT`: stream a task's image into a file descriptor.
//!
//! Order of the image (each record refers only to earlier ones): header, environment vector,
//! one file record per open file description (dup'd fds share one), the file table, the task,
//! its task vector, the terminator. It is written as it is produced through a small buffer;
//! nothing is held locked while writing, and a fatal signal stops the writing (the image then
//! has no terminator and restart refuses it).

use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    checksum,
    env::{HostEnv, TaskEnv},
    error::{self, CkptError, CkptResult, Report},
    files::{self, Kind, SaveOptions, Scratch},
    glue::{OpenFile, Target},
    image::{
        self, Arch, EncodeError, Encoder, FdEntry, File, FileData, FileVariant, Header, Timestamp,
        Utsname, FD_FLAG_CLOEXEC, PATH_MAX,
    },
    reason::Reason,
    uapi::{self, ckpt_checkpoint},
    vfs::{self, Access, CallerFile, FileFacts, FsContext},
};

/// Bytes buffered before a write to the output file.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// Handles `CKPT_IOC_CHECKPOINT`.
pub(crate) fn ioctl(arg: usize, user_size: usize) -> Result {
    let mut args: ckpt_checkpoint =
        uapi::read_ext(arg, user_size, uapi::CKPT_CHECKPOINT_SIZE_VER0 as usize)?;
    let mut stats = Stats::default();
    let outcome = checkpoint(&args, &mut stats);
    args.bytes = stats.bytes;
    args.records = stats.records;
    error::report(arg, user_size, &mut args, outcome)
}

impl Report for ckpt_checkpoint {
    fn log(&self) -> (u64, u32) {
        (self.log_buf, self.log_size)
    }

    fn set_error(&mut self, error: Option<&CkptError>) {
        self.err_fd = error.map_or(-1, |e| e.fd);
        self.reason = error.map_or(Reason::None, |e| e.reason) as u32;
    }
}

/// What was written, reported on success and on failure.
#[derive(Default, Clone, Copy)]
struct Stats {
    bytes: u64,
    records: u64,
}

fn checkpoint(args: &ckpt_checkpoint, stats: &mut Stats) -> CkptResult {
    if args.flags & !u64::from(uapi::CKPT_CHECKPOINT_FLAGS_ALL) != 0 {
        return Err(CkptError::bad_argument(format_args!(
            "unknown flags {:#x}",
            args.flags
        )));
    }
    let external = read_external_fds(args)?;
    let output = CallerFile::from_fd(args.fd, Access::Write).map_err(|_| {
        CkptError::bad_fd(format_args!("output fd {}: not open for writing", args.fd))
    })?;
    let target = Target::get(args.pid).map_err(|e| target_error(e, args.pid))?;
    if target.threads() != 1 {
        return Err(CkptError::target(
            EBUSY,
            format_args!(
                "pid {}: multi-threaded processes are not supported yet",
                args.pid
            ),
        ));
    }
    if target.files_shared() {
        return Err(CkptError::target(
            EBUSY,
            format_args!(
                "pid {}: another process shares its fd table (clone(CLONE_FILES)) and could \
                 change it; not supported",
                args.pid
            ),
        ));
    }

    let mut sink = ImageSink::new(output)?;
    let process = args.flags & u64::from(uapi::CKPT_CHECKPOINT_PROCESS) != 0;
    let opts = SaveOptions {
        contents: args.flags & u64::from(uapi::CKPT_CHECKPOINT_FILE_CONTENTS) != 0,
        contents_max: if args.flags & u64::from(uapi::CKPT_CHECKPOINT_CONTENTS_UNLIMITED) != 0 {
            u64::MAX
        } else {
            files::CONTENTS_MAX_DEFAULT
        },
    };
    let result = write_image(
        &target,
        &external,
        process,
        &opts,
        &mut sink,
        &mut stats.records,
    );
    stats.bytes = sink.bytes;
    result
}

fn target_error(e: Error, pid: i32) -> CkptError {
    let why = if e == ESRCH {
        "no such process"
    } else if e == EPERM {
        "not ptrace-attached by the caller (attach and stop it first)"
    } else if e == EBUSY {
        "traced by the caller but not stopped"
    } else {
        return CkptError::bad_argument(format_args!("pid {pid}: not a process id"));
    };
    CkptError::target(e, format_args!("pid {pid}: {why}"))
}

/// The fds the caller declared external, sorted.
fn read_external_fds(args: &ckpt_checkpoint) -> CkptResult<KVec<u32>> {
    let n = args.nr_external_fds as usize;
    if n > uapi::CKPT_MAX_EXTERNAL_FDS as usize {
        return Err(CkptError::bad_argument(format_args!(
            "{n} external fds (at most {})",
            uapi::CKPT_MAX_EXTERNAL_FDS
        )));
    }
    let mut fds = KVec::with_capacity(n, GFP_KERNEL)?;
    if n == 0 {
        return Ok(fds);
    }
    let ptr = UserPtr::from_addr(usize::try_from(args.external_fds).map_err(|_| EFAULT)?);
    let mut reader = UserSlice::new(ptr, n * core::mem::size_of::<i32>()).reader();
    for _ in 0..n {
        let fd: i32 = reader.read()?;
        let fd = u32::try_from(fd)
            .map_err(|_| CkptError::bad_argument(format_args!("external fd {fd} is negative")))?;
        fds.push(fd, GFP_KERNEL)?;
    }
    fds.sort_unstable();
    Ok(fds)
}

/// Writes the whole image of `target`; `records` follows the records written.
fn write_image(
    target: &Target,
    external: &[u32],
    process: bool,
    opts: &SaveOptions,
    sink: &mut ImageSink,
    records: &mut u64,
) -> CkptResult {
    let host = HostEnv::snapshot()?;
    let task_env = TaskEnv::snapshot(target.task())?;
    let fs = target.fs().map_err(|e| {
        if e == EXDEV {
            CkptError::path_unreachable(format_args!(
                "the task's root directory is not the caller's"
            ))
        } else {
            CkptError::target(ESRCH, format_args!("the task is exiting (it has no fs)"))
        }
    })?;

    let mut enc = Encoder::new(&mut *sink, &header(target)?).map_err(encode_error)?;
    let env_id = enc.next_id();
    enc.write_env_vector(env_id, |w| host.emit(w))
        .map_err(encode_error)?;
    *records = enc.records_written();

    let table = write_files(target, &fs, external, opts, &mut enc, records)?;

    let mut paths = KVec::from_elem(0u8, 2 * PATH_MAX, GFP_KERNEL)?;
    let (cwd_buf, root_buf) = paths.split_at_mut(PATH_MAX);
    let cwd = fs.cwd(cwd_buf).map_err(|e| {
        if e == ENAMETOOLONG {
            CkptError::too_large(e, format_args!("the task's cwd is longer than PATH_MAX"))
        } else {
            CkptError::path_unreachable(format_args!(
                "the task's cwd is not reachable from its root"
            ))
        }
    })?;
    let root_len = 1;
    root_buf[0] = b'/';
    let ids = target.ids();
    let task = image::Task {
        pid: ids.pid as u32,
        tgid: ids.tgid as u32,
        ppid: ids.ppid as u32,
        uid: ids.uid,
        gid: ids.gid,
        euid: ids.euid,
        egid: ids.egid,
        suid: ids.suid,
        sgid: ids.sgid,
        fsuid: ids.fsuid,
        fsgid: ids.fsgid,
        comm: ids.comm,
        file_table: table,
        cwd,
        root: &root_buf[..root_len],
    };
    let task_id = enc.next_id();
    enc.write_task(task_id, &task).map_err(encode_error)?;
    let vector_id = enc.next_id();
    enc.write_task_vector(vector_id, task_id, |w| task_env.emit(w))
        .map_err(encode_error)?;
    if process {
        // The process state: mapped files, mm, VMAs, pages (src/process/).
        crate::process::checkpoint(target.task(), &fs, &mut enc, records)?;
    }
    *records = enc.records_written() + 1; // and the terminator
    enc.finish().map_err(encode_error)?;
    sink.flush()
}

/// The header: architecture, page size, creation time, the task's utsname.
fn header(target: &Target) -> CkptResult<Header> {
    let uts = target.utsname()?;
    let field = |f: &[u8; 65]| -> CkptResult<[u8; image::UTS_FIELD_LEN]> {
        // The kernel keeps these NUL-terminated; the image format requires it.
        if f[64] != 0 {
            return Err(EINVAL.into());
        }
        Ok(*f)
    };
    let utsname = Utsname {
        sysname: field(&uts.sysname)?,
        release: field(&uts.release)?,
        version: field(&uts.version)?,
        machine: field(&uts.machine)?,
    };
    let (sec, nsec) = vfs::real_time();
    Ok(Header {
        arch: Arch::X86_64,
        page_size: kernel::page::PAGE_SIZE as u32,
        flags: 0,
        created: Timestamp { sec, nsec },
        utsname,
    })
}

/// One open fd of the target, with the image id of its file once written.
struct Slot {
    file: OpenFile,
    /// Index of the lowest fd sharing this open file description (itself if none lower).
    owner: usize,
    id: u64,
}

/// Writes a file record per open file description and the file table; returns the table's
/// id. Dup'd fds share the record of their lowest fd.
fn write_files(
    target: &Target,
    fs: &FsContext,
    external: &[u32],
    opts: &SaveOptions,
    enc: &mut Encoder<&mut ImageSink>,
    records: &mut u64,
) -> CkptResult<u64> {
    // Pass 1: take a reference on every open file.
    let mut slots: KVec<Slot> = KVec::new();
    let mut next = 0u32;
    while let Some(file) = target.next_file(next) {
        next = file.fd.checked_add(1).ok_or(EOVERFLOW)?;
        let owner = slots.len();
        slots.push(Slot { file, owner, id: 0 }, GFP_KERNEL)?;
    }
    for &fd in external {
        if slots.binary_search_by_key(&fd, |s| s.file.fd).is_err() {
            return Err(
                CkptError::bad_fd(format_args!("declared external but not open")).at_fd(fd),
            );
        }
    }

    // Find the dups: sort (file, index) pairs and point each at its group's first index.
    let mut order: KVec<(usize, usize)> = KVec::with_capacity(slots.len(), GFP_KERNEL)?;
    for (i, s) in slots.iter().enumerate() {
        order.push((s.file.key(), i), GFP_KERNEL)?;
    }
    order.sort_unstable();
    for pair in order.windows(2) {
        if let [(a_key, a), (b_key, b)] = *pair {
            if a_key == b_key {
                let owner = slots[a].owner.min(a);
                slots[b].owner = owner;
            }
        }
    }

    // Pass 2: write each owner's record, in fd order.
    let mut path = KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?;
    let mut scratch: Scratch = [0; image::FILE_HANDLE_MAX];
    let mut entries: KVec<FdEntry> = KVec::with_capacity(slots.len(), GFP_KERNEL)?;
    for i in 0..slots.len() {
        let owner = slots[i].owner;
        let id = if owner == i {
            let file = &slots[i].file;
            let id = enc.next_id();
            if external.binary_search(&file.fd).is_ok() {
                write_external(file, id, enc)?;
            } else {
                write_file_record_with(file, fs, &mut path, &mut scratch, id, enc, opts)
                    .map_err(|e| e.at_fd(file.fd))?;
            }
            *records = enc.records_written();
            id
        } else {
            slots[owner].id
        };
        slots[i].id = id;
        let s = &slots[i];
        let flags = if s.file.cloexec { FD_FLAG_CLOEXEC } else { 0 };
        entries.push(
            FdEntry {
                fd: s.file.fd,
                flags,
                file: id,
            },
            GFP_KERNEL,
        )?;
    }
    let table = enc.next_id();
    enc.write_file_table(table, &entries)
        .map_err(encode_error)?;
    *records = enc.records_written();
    Ok(table)
}

/// Writes the record of an external fd: only its kind; errors name the fd.
fn write_external(file: &OpenFile, id: u64, enc: &mut Encoder<&mut ImageSink>) -> CkptResult {
    let fd = file.fd;
    let facts = file.facts()?;
    let fd_kind = files::external_kind(&facts);
    let record = file_record(&facts, &[], FileVariant::External { fd_kind });
    enc.write_file(id, &record)
        .map_err(|e| record_error("external fd", e).at_fd(fd))
}

/// Writes the FILE record of `file` (an fd's or a mapping's) through the kind that claims it
/// (deny by default, files without a name refused unless a kind saves them otherwise), the
/// path relative to the task's root. The caller says whose file it is in the errors.
pub(crate) fn write_file_record<S: image::Sink<Error = CkptError>>(
    file: &OpenFile,
    fs: &FsContext,
    path_buf: &mut [u8],
    scratch: &mut Scratch,
    id: u64,
    enc: &mut Encoder<S>,
) -> CkptResult {
    write_file_record_with(
        file,
        fs,
        path_buf,
        scratch,
        id,
        enc,
        &SaveOptions::default(),
    )
}

/// [`write_file_record`], with the caller's options.
fn write_file_record_with<S: image::Sink<Error = CkptError>>(
    file: &OpenFile,
    fs: &FsContext,
    path_buf: &mut [u8],
    scratch: &mut Scratch,
    id: u64,
    enc: &mut Encoder<S>,
    opts: &SaveOptions,
) -> CkptResult {
    let facts = file.facts()?;
    let kind = files::lookup(file, &facts, opts)?;
    let path = if kind.records_path() {
        let path = fs.file_path(file, path_buf).map_err(|e| {
            let kind = Kind(&facts);
            if e == ENAMETOOLONG {
                CkptError::too_large(e, format_args!("{kind}: path longer than PATH_MAX"))
            } else {
                CkptError::path_unreachable(format_args!(
                    "{kind}: path not reachable from the task's root"
                ))
            }
        })?;
        // d_path() names a file that lost its name "NAME (deleted)": record the name it had.
        match path.strip_suffix(b" (deleted)") {
            Some(name) if facts.unlinked != 0 => name,
            _ => path,
        }
    } else {
        &[]
    };
    let variant = kind.variant(file, &facts, scratch)?;
    let data_len = variant.data_len();
    if data_len > opts.contents_max {
        return Err(CkptError::too_large(
            EFBIG,
            format_args!(
                "{}: {data_len} bytes of data, more than the {} the checkpoint saves of one \
                 file (CKPT_CHECKPOINT_CONTENTS_UNLIMITED lifts the limit; restart reads images \
                 of at most {} bytes)",
                Kind(&facts),
                opts.contents_max,
                uapi::CKPT_RESTART_MAX_IMAGE
            ),
        ));
    }
    let record = file_record(&facts, path, variant);
    enc.write_file(id, &record)
        .map_err(|e| record_error(kind.name(), e))?;
    // The contents, if the kind saves them: FILE_DATA records right after the file record.
    kind.save_contents(file, &facts, data_len, &mut |offset, bytes| {
        for (i, chunk) in bytes.chunks(image::FILE_DATA_MAX).enumerate() {
            let data = FileData {
                file: id,
                offset: offset + (i * image::FILE_DATA_MAX) as u64,
                data: chunk,
            };
            let run = enc.next_id();
            enc.write_file_data(run, &data)
                .map_err(|e| record_error(kind.name(), e))?;
        }
        Ok(())
    })
}

/// The FILE record of an open file with these facts.
fn file_record<'a>(facts: &FileFacts, path: &'a [u8], variant: FileVariant<'a>) -> File<'a> {
    File {
        f_flags: facts.f_flags,
        // Only the access mode bits have a stable meaning outside this kernel.
        f_mode: facts.f_mode & 0x3,
        mode: facts.mode,
        pos: facts.pos,
        dev: facts.dev,
        ino: facts.ino,
        size: facts.size,
        mtime: Timestamp {
            sec: facts.mtime_sec,
            nsec: facts.mtime_nsec,
        },
        ctime: Timestamp {
            sec: facts.ctime_sec,
            nsec: facts.ctime_nsec,
        },
        path,
        variant,
    }
}

/// Maps an encoder error of a FILE record written by implementation `name`.
fn record_error(name: &str, e: EncodeError<CkptError>) -> CkptError {
    match e {
        EncodeError::Invalid(kind) => CkptError::too_large(
            E2BIG,
            format_args!("{name}: does not fit the image format: {kind}"),
        ),
        other => encode_error(other),
    }
}

/// Maps an encoder error: the sink's own error, or a bug-like inconsistency.
pub(crate) fn encode_error(e: EncodeError<CkptError>) -> CkptError {
    match e {
        EncodeError::Sink(e) => e,
        EncodeError::Invalid(kind) => CkptError::too_large(
            E2BIG,
            format_args!("record does not fit the image format: {kind}"),
        ),
        other => CkptError::output(EIO, format_args!("image encoder: {other}")),
    }
}

/// The encoder's sink: buffers [`OUTPUT_CHUNK`] bytes, then writes them to the output file,
/// looping over short writes; a piece of at least that size (page data, file contents) is
/// written from where it is. Counts bytes and records for the caller.
struct ImageSink {
    output: CallerFile,
    buf: KVec<u8>,
    bytes: u64,
}

impl ImageSink {
    fn new(output: CallerFile) -> Result<Self> {
        Ok(Self {
            output,
            buf: KVec::with_capacity(OUTPUT_CHUNK, GFP_KERNEL)?,
            bytes: 0,
        })
    }

    /// Writes out everything buffered.
    fn flush(&mut self) -> CkptResult {
        write_all(&self.output, &mut self.bytes, &self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// Writes all of `data` to `output`, looping over short writes; counts what was written in
/// `bytes`.
fn write_all(output: &CallerFile, bytes: &mut u64, data: &[u8]) -> CkptResult {
    let mut done = 0;
    while done < data.len() {
        if vfs::fatal_signal_pending() {
            return Err(CkptError::interrupted(format_args!(
                "interrupted by a fatal signal after {bytes} bytes"
            )));
        }
        match output.write(&data[done..]) {
            Ok(0) => {
                return Err(CkptError::output(
                    EIO,
                    format_args!("the output accepted no data after {bytes} bytes"),
                ))
            }
            Ok(n) => {
                done += n;
                *bytes += n as u64;
            }
            Err(e) => {
                // A signal interrupted a sleeping write: the image is cut, do not restart.
                let e = if e == ERESTARTSYS { EINTR } else { e };
                return Err(CkptError::output(
                    e,
                    format_args!("writing the image failed after {bytes} bytes"),
                ));
            }
        }
    }
    Ok(())
}

impl image::Sink for ImageSink {
    type Error = CkptError;

    fn write(&mut self, data: &[u8]) -> CkptResult {
        let mut rest = data;
        while !rest.is_empty() {
            if rest.len() >= OUTPUT_CHUNK {
                // Bulk data (page data, file contents) goes out as it is, after what is
                // buffered, without a copy.
                self.flush()?;
                return write_all(&self.output, &mut self.bytes, rest);
            }
            let room = OUTPUT_CHUNK - self.buf.len();
            let (now, later) = rest.split_at(rest.len().min(room));
            self.buf.extend_from_slice(now, GFP_KERNEL)?;
            rest = later;
            if self.buf.len() == OUTPUT_CHUNK {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn crc32c(&self) -> image::Crc32cFn {
        checksum::crc32c
    }
}

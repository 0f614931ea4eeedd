// SPDX-License-Identifier: GPL-2.0

//! `ckpt restore`: restore an image's file table into this process (`CKPT_IOC_RESTART`), then
//! exec a command, which starts with the checkpointed fds (close-on-exec ones excepted). A
//! process image (one with memory records) given no command is restored whole: this process
//! becomes the checkpointed one (see [`crate::resume`]).
//!
//! The image is read first, up to its terminator and never past it (the rest of a pipe is
//! left to the command), and decoded with the codec, which refuses a malformed image with a
//! precise message before the kernel sees it and tells which fd numbers the image restores.
//! The codec passes over page data and file contents (`Decoder::skipping_data`; unread in a
//! regular file): the kernel checks them as it reads them, and reading them twice would
//! double the cost of restoring a large image. The kernel then reads the image from a memfd; that memfd, `/dev/ckpt` and a copy
//! of stderr (for this command's last words, should the image restore fd 2) are moved to fd
//! numbers the image does not use, close-on-exec, so neither they nor the kernel's view of
//! this process's fd table get in each other's way.

use std::{
    cell::Cell,
    collections::BTreeSet,
    ffi::OsString,
    fs::File,
    io::{self, Read, Seek, Write},
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::process::CommandExt,
    },
    process::Command,
};

use ckpt_image::{
    Body, DecodeError, Decoder, RecordType, Source, VmaKind, FILE_DATA_FIXED_LEN, NT_PRSTATUS,
    NT_X86_XSTATE, PAGES_FIXED_LEN, RECORD_MAX_LEN,
};
use ckpt_sys::{abi, fd, Device, RestartFlags};

use crate::{resume, Failure};

/// The most image bytes restart reads (`CKPT_RESTART_MAX_IMAGE`).
const MAX_IMAGE: usize = abi::CKPT_RESTART_MAX_IMAGE as usize;

/// Buffer for reading an image file ahead (a pipe is read exactly, never past the image):
/// enough for many small records a system call, small against the page data and file
/// contents it passes over (a read after a skip fills it again).
const READ_BUFFER: usize = 64 << 10;

/// Exit status when the command cannot be found (as shells do).
const EXIT_NOT_FOUND: u8 = 127;
/// Exit status when the command was found but could not be executed.
const EXIT_NOT_EXECUTABLE: u8 = 126;

/// The lowest fd number this command moves its own descriptors to: 0-2 stay stdio.
const FIRST_PRIVATE_FD: u32 = 3;

#[derive(clap::Args)]
pub struct Args {
    /// The image: a file, or `-` for standard input (read up to the image's end, not further).
    #[arg(long, short)]
    image: String,
    /// Close this process's fds at the image's fd numbers instead of refusing (fd_busy).
    #[arg(long)]
    replace: bool,
    /// Accept files whose size or mtime changed since the checkpoint (identity is still checked).
    #[arg(long)]
    ignore_content: bool,
    /// Accept advisory environment mismatches (critical ones always refuse).
    #[arg(long)]
    accept_advisory: bool,
    /// Restore a process image whose recorded uid/gid differ from this process's, as this
    /// process's (it never gains privilege).
    #[arg(long)]
    as_caller: bool,
    /// Do not report how many fds were restored.
    #[arg(long, short)]
    quiet: bool,
    /// Do not decode the image first: read the input to its end and let the kernel judge it.
    #[arg(long, hide = true)]
    no_precheck: bool,
    /// The command to exec with the restored fds (default: $SHELL, else /bin/sh).
    #[arg(last = true)]
    command: Vec<OsString>,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let name = if args.image == "-" {
        "standard input"
    } else {
        args.image.as_str()
    };
    let image = read_image(&args.image, !args.no_precheck)
        .map_err(|e| Failure::unreadable(format!("restore: {name}: {e}")))?;

    // Each original is closed once moved: it may sit at one of the image's numbers.
    let moved = |what: &str, fd: OwnedFd| {
        move_out(fd, &image.fds).map_err(|e| {
            Failure::device(format!(
                "restore: no free fd number for {what} outside the image's: {e}"
            ))
        })
    };
    let device = Device::open().map_err(|e| Failure::device(format!("{}: {e}", Device::PATH)))?;
    let device = Device::from(moved(Device::PATH, device.into())?);
    let memfd = moved("the image", image.file.into())?;
    // stderr may be restored over: keep the original for what this command still has to say.
    let mut stderr = relocate(io::stderr().as_fd(), &image.fds)
        .ok()
        .map(File::from);

    let flags = RestartFlags::NONE
        .with(RestartFlags::REPLACE_FDS, args.replace)
        .with(RestartFlags::IGNORE_CONTENT, args.ignore_content)
        .with(RestartFlags::ACCEPT_ADVISORY, args.accept_advisory);
    if let Some(regs) = &image.process {
        if !args.command.is_empty() {
            return Err(Failure::device(
                "restore: a process image restores the whole process; give no command",
            ));
        }
        let flags = flags.with(
            RestartFlags(ckpt_sys::abi::CKPT_RESTART_AS_CALLER as u64),
            args.as_caller,
        );
        // Returns only on a refusal.
        return Err(resume::run(&device, memfd.as_fd(), flags, regs));
    }
    let stats = device.restart(memfd.as_fd(), flags).map_err(|e| {
        let message = if e.message.is_empty() {
            e.errno.to_string()
        } else {
            e.message.clone()
        };
        let mut at = format!("reason {}", e.reason_name());
        if let Some(fd) = e.fd {
            at.push_str(&format!(", fd {fd}"));
        }
        if let Some(record) = e.record {
            at.push_str(&format!(", record {record}"));
        }
        Failure::device(format!("restore: {message} ({at})"))
    })?;
    drop(memfd);
    drop(device);

    let argv = command_line(&args.command, std::env::var_os("SHELL"));
    let mut say = |line: String| {
        // Nowhere left to report to if the original stderr is gone.
        let _ = match stderr.as_mut() {
            Some(f) => writeln!(f, "{line}"),
            None => writeln!(io::stderr(), "{line}"),
        };
    };
    if !args.quiet {
        say(format!(
            "ckpt: restore: {} {} restored, {} external kept ({} bytes of image); exec {}",
            stats.nr_fds,
            if stats.nr_fds == 1 { "fd" } else { "fds" },
            stats.nr_external,
            stats.bytes,
            argv[0].to_string_lossy()
        ));
    }
    // Only returns on failure; the copy of stderr is close-on-exec.
    let err = Command::new(&argv[0]).args(&argv[1..]).exec();
    say(format!(
        "ckpt: restore: exec {}: {err}",
        argv[0].to_string_lossy()
    ));
    Ok(if err.kind() == io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_NOT_EXECUTABLE
    })
}

/// `command`, or the user's shell, or `/bin/sh`.
fn command_line(command: &[OsString], shell: Option<OsString>) -> Vec<OsString> {
    if !command.is_empty() {
        return command.to_vec();
    }
    vec![shell
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| OsString::from("/bin/sh"))]
}

/// An image for the kernel and the fd numbers its file tables restore.
struct Image {
    /// Positioned at the image's start: the input itself if it is a regular file, else a
    /// memfd copy.
    file: File,
    fds: BTreeSet<u32>,
    /// A process image's registers (it has an MM record).
    process: Option<resume::ProcessRegs>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("file", &self.file)
            .field("fds", &self.fds)
            .field("process", &self.process.is_some())
            .finish()
    }
}

/// What [`scan`] learns of an image.
#[derive(Default)]
struct Scanned {
    fds: BTreeSet<u32>,
    has_mm: bool,
    prstatus: Option<Vec<u8>>,
    xstate: Option<Vec<u8>>,
    specials: Vec<resume::Special>,
}

impl Scanned {
    fn process(self) -> (BTreeSet<u32>, Option<resume::ProcessRegs>) {
        let process = match (self.has_mm, self.prstatus) {
            (true, Some(prstatus)) => Some(resume::ProcessRegs {
                prstatus,
                xstate: self.xstate,
                specials: self.specials,
            }),
            _ => None,
        };
        (self.fds, process)
    }
}

/// Reads the image at `path` (`-`: standard input). `checked`: up to its terminator, with the
/// codec's checks; otherwise everything up to the end of input (one byte beyond the restart
/// limit at most, so the kernel sees an image that is too long), learning what it can of the
/// fd numbers.
fn read_image(path: &str, checked: bool) -> Result<Image, String> {
    // Unbuffered, so that nothing past the image is consumed from a pipe.
    let input = if path == "-" {
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| e.to_string())?
    } else {
        File::open(path).map_err(|e| e.to_string())?
    };
    if !checked {
        return read_unchecked(input, MAX_IMAGE).map_err(|e| e.to_string());
    }
    // A regular file is read again by the kernel, from where the image starts (a process
    // image's page data may be larger than memory should hold twice); anything else, a pipe,
    // is copied into a memfd as it is decoded.
    let mut input = input;
    if input.metadata().map(|m| m.is_file()).unwrap_or(false) {
        let start = input.stream_position().map_err(|e| e.to_string())?;
        // Buffered: reading past the terminator does no harm here (the file is rewound for the
        // kernel), and record-by-record reads cost two system calls a record.
        let end = input.metadata().map_err(|e| e.to_string())?.len();
        let (fds, process, _) = read_checked(read_ahead(&mut input), Some(end), None, MAX_IMAGE)?;
        input
            .seek(io::SeekFrom::Start(start))
            .map_err(|e| e.to_string())?;
        return Ok(Image {
            file: input,
            fds,
            process,
        });
    }
    let copy = fd::memfd(c"ckpt-restore-image").map_err(|e| format!("memfd: {e}"))?;
    let (fds, process, copy) = read_checked(input, None, Some(copy), MAX_IMAGE)?;
    Ok(Image {
        file: copy.ok_or("no copy")?,
        fds,
        process,
    })
}

/// An image file, read ahead by [`READ_BUFFER`] bytes.
fn read_ahead<R: Read>(file: R) -> io::BufReader<R> {
    io::BufReader::with_capacity(READ_BUFFER, file)
}

/// Reads and decodes an image up to its terminator, writing its bytes to `copy` (then
/// rewound); at most `limit` bytes besides the data of PAGES and FILE_DATA records (which the
/// kernel does not keep in memory either). `end`: `input` is a regular file of that length,
/// whose data is skipped unread.
type Checked = (BTreeSet<u32>, Option<resume::ProcessRegs>, Option<File>);

fn read_checked(
    input: impl Read + Seek,
    end: Option<u64>,
    copy: Option<File>,
    limit: usize,
) -> Result<Checked, String> {
    let exempt = Cell::new(0u64);
    let mut src = Capture {
        inner: input,
        end,
        copy,
        total: 0,
        exempt: &exempt,
        limit,
    };
    let mut found = Scanned::default();
    scan(&mut src, &mut found, &exempt).map_err(|e| e.to_string())?;
    if src.total - exempt.get() > limit as u64 {
        return Err(too_long(limit).to_string());
    }
    let (fds, process) = found.process();
    let copy = match src.copy {
        Some(mut f) => {
            f.rewind().map_err(|e| e.to_string())?;
            Some(f)
        }
        None => None,
    };
    Ok((fds, process, copy))
}

/// Reads everything (at most `limit + 1` bytes) and collects the fd numbers of the file tables
/// the codec gets to before any error.
fn read_unchecked(input: impl Read, limit: usize) -> io::Result<Image> {
    let mut bytes = Vec::new();
    input.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    let mut found = Scanned::default();
    let _ = scan(bytes.as_slice(), &mut found, &Cell::new(0));
    let (fds, _) = found.process();
    Ok(Image {
        file: memfd_with(&bytes)?,
        fds,
        process: None,
    })
}

fn too_long(limit: usize) -> io::Error {
    io::Error::other(format!(
        "longer than {limit} bytes besides page data and file contents, the most restart \
         holds in memory"
    ))
}

/// Decodes records up to the terminator, adding the fd numbers of every file table to `found`,
/// and noting a process image's MM record and registers.
/// The payloads of PAGES and FILE_DATA records are passed over (the kernel checks them) and
/// added to `exempt` (restart streams them to a spool instead of holding them).
fn scan<S: Source>(
    src: S,
    found: &mut Scanned,
    exempt: &Cell<u64>,
) -> Result<(), DecodeError<S::Error>> {
    let mut dec = Decoder::new(src)?.skipping_data();
    let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
    while let Some(record) = dec.next_record(&mut buf)? {
        match record.body {
            Body::FileTable(table) => found.fds.extend(table.iter().map(|e| e.fd)),
            Body::Mm(_) => found.has_mm = true,
            Body::Skipped { len } => {
                // The bytes of page data or file contents, as before they were skipped.
                let fixed = if record.header.rtype == RecordType::PAGES {
                    PAGES_FIXED_LEN
                } else {
                    FILE_DATA_FIXED_LEN
                };
                exempt.set(exempt.get() + len.saturating_sub(fixed as u64))
            }
            Body::Vma(v) if v.kind == VmaKind::VDSO || v.kind == VmaKind::VVAR => {
                found.specials.push(resume::Special {
                    start: v.start,
                    end: v.end,
                    vdso: v.kind == VmaKind::VDSO,
                })
            }
            Body::Regset(r) if r.note == NT_PRSTATUS => found.prstatus = Some(r.data.to_vec()),
            Body::Regset(r) if r.note == NT_X86_XSTATE => found.xstate = Some(r.data.to_vec()),
            _ => {}
        }
    }
    Ok(())
}

/// A [`Source`] that keeps what it reads and refuses to read more than `limit` bytes.
struct Capture<'a, R> {
    inner: R,
    /// The length of `inner` if it is a regular file (it can skip), else `None` (a pipe).
    end: Option<u64>,
    /// Where what is read is copied, if anywhere.
    copy: Option<File>,
    /// Bytes read.
    total: u64,
    /// Bytes of page data and file contents among them (the decoder's caller adds each PAGES
    /// and FILE_DATA record's).
    exempt: &'a Cell<u64>,
    limit: usize,
}

impl<R: Read + Seek> Source for Capture<'_, R> {
    type Error = io::Error;

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One record's data may be in flight before it is known to be page data.
        let bound = self.limit as u64 + u64::from(RECORD_MAX_LEN);
        let counted = self.total - self.exempt.get();
        let room = usize::try_from(bound.saturating_sub(counted)).unwrap_or(usize::MAX);
        if room == 0 && !buf.is_empty() {
            return Err(too_long(self.limit));
        }
        let want = buf.len().min(room);
        let got = loop {
            match self.inner.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if let Some(f) = self.copy.as_mut() {
            f.write_all(&buf[..got])?;
        }
        self.total += got as u64;
        Ok(got)
    }

    fn skip(&mut self, len: u64) -> io::Result<Option<u64>> {
        let Some(end) = self.end else {
            return Ok(None);
        };
        let at = self.inner.stream_position()?;
        let n = len.min(end.saturating_sub(at));
        let by = i64::try_from(n).map_err(io::Error::other)?;
        // Relative: a read-ahead buffer keeps what it holds beyond the skip.
        self.inner.seek_relative(by)?;
        self.total += n;
        Ok(Some(n))
    }
}

/// A close-on-exec memfd holding `bytes`, positioned at its start.
fn memfd_with(bytes: &[u8]) -> io::Result<File> {
    let mut f = fd::memfd(c"ckpt-restore-image")?;
    f.write_all(bytes)?;
    f.rewind()?;
    Ok(f)
}

/// The smallest number at least `from` that is not in `used`.
fn next_unused(used: &BTreeSet<u32>, from: u32) -> u32 {
    let mut n = from;
    for &u in used.range(from..) {
        if u != n {
            break;
        }
        n = n.saturating_add(1);
    }
    n
}

/// Moves `fd` to a number that is not in `used`, close-on-exec (see [`relocate`]), and closes
/// the original.
fn move_out(fd: OwnedFd, used: &BTreeSet<u32>) -> io::Result<OwnedFd> {
    relocate(fd.as_fd(), used)
}

/// A close-on-exec duplicate of `fd` at a number that is not in `used` (nor below
/// [`FIRST_PRIVATE_FD`]): the lowest free one in a gap of `used` or above it. The original is
/// left to the caller to close.
fn relocate(fd: BorrowedFd<'_>, used: &BTreeSet<u32>) -> io::Result<OwnedFd> {
    let mut from = FIRST_PRIVATE_FD;
    loop {
        let candidate = next_unused(used, from);
        let dup = fd::dup_cloexec_from(fd, candidate)?;
        let got = u32::try_from(std::os::fd::AsRawFd::as_raw_fd(&dup))
            .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        if !used.contains(&got) {
            return Ok(dup);
        }
        // The gap at `candidate` is taken by our own open fds: try the next one.
        from = got.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn testdata(name: &str) -> Vec<u8> {
        let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn next_unused_finds_gaps_and_the_end() {
        let used: BTreeSet<u32> = [0, 1, 2, 3, 4, 7, 8, 100].into();
        assert_eq!(next_unused(&used, 0), 5);
        assert_eq!(next_unused(&used, 3), 5);
        assert_eq!(next_unused(&used, 5), 5);
        assert_eq!(next_unused(&used, 7), 9);
        assert_eq!(next_unused(&used, 99), 99);
        assert_eq!(next_unused(&used, 100), 101);
        assert_eq!(next_unused(&BTreeSet::new(), 3), 3);
        let top: BTreeSet<u32> = [u32::MAX].into();
        assert_eq!(next_unused(&top, u32::MAX), u32::MAX);
    }

    #[test]
    fn relocate_avoids_the_image_fds() {
        let f = fd::memfd(c"ckpt-test").unwrap();
        // A dense block: the duplicate lands above it.
        let dense: BTreeSet<u32> = (0..=300).collect();
        let d = relocate(f.as_fd(), &dense).unwrap();
        assert!(d.as_raw_fd() > 300);
        // Every other number taken: the duplicate lands in a gap, never on a used number,
        // whatever this test process already has open.
        let odd: BTreeSet<u32> = (0..400).filter(|n| n % 2 == 1).collect();
        let mut dups = Vec::new();
        for _ in 0..20 {
            let d = relocate(f.as_fd(), &odd).unwrap();
            let n = d.as_raw_fd() as u32;
            assert!(n >= FIRST_PRIVATE_FD && !odd.contains(&n), "fd {n}");
            dups.push(d);
        }
    }

    #[test]
    fn move_out_leaves_nothing_at_the_image_numbers() {
        // Open a few fds, then move each out of the way of all of their numbers: whatever
        // this process has open, none of the moved fds is at one of them.
        let originals: Vec<OwnedFd> = (0..4)
            .map(|_| fd::memfd(c"ckpt-test").unwrap().into())
            .collect();
        let used: BTreeSet<u32> = originals.iter().map(|f| f.as_raw_fd() as u32).collect();
        let moved: Vec<OwnedFd> = originals
            .into_iter()
            .map(|f| move_out(f, &used).unwrap())
            .collect();
        for m in &moved {
            assert!(!used.contains(&(m.as_raw_fd() as u32)));
        }
    }

    #[test]
    fn relocate_reports_no_room() {
        let f = fd::memfd(c"ckpt-test").unwrap();
        let all: BTreeSet<u32> = (0..=1 << 21).collect();
        assert!(relocate(f.as_fd(), &all).is_err());
    }

    #[test]
    fn checked_read_collects_the_table_and_stops_at_the_terminator() {
        let img = testdata("full.img");
        let mut input = img.clone();
        input.extend_from_slice(b"left for the command");
        let mut reader = io::Cursor::new(input.as_slice());
        let copy = fd::memfd(c"ckpt-test").unwrap();
        let (fds, _, copy) = read_checked(&mut reader, None, Some(copy), MAX_IMAGE).unwrap();
        let mut back = Vec::new();
        copy.unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, img);
        assert_eq!(fds, [0, 1, 2, 3, 4, 7].into());
        assert_eq!(reader.position(), img.len() as u64);
    }

    /// Counts the bytes read through it.
    struct Counting<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Counting<R> {
        fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
            self.inner.seek(to)
        }
    }

    /// Page data is left to the kernel: unread in a file (a flipped byte goes unnoticed here),
    /// copied unchecked from a pipe.
    #[test]
    fn checked_read_passes_over_page_data() {
        let mut img = testdata("process.img");
        let mut dec = Decoder::new(img.as_slice()).unwrap();
        let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
        let (mut page_bytes, mut last) = (0, 0);
        while let Some(r) = dec.next_record(&mut buf).unwrap() {
            if let Body::Pages(p) = r.body {
                page_bytes += p.data().len();
                // The last byte of this record's page data.
                last = r.offset as usize + ckpt_image::RECORD_HEADER_LEN + r.payload.len() - 1;
            }
        }
        assert!(page_bytes >= 4096, "{page_bytes}");
        img[last] ^= 0x10;
        assert!(read_checked(io::Cursor::new(&img), None, None, MAX_IMAGE).is_ok());
        let mut file = Counting {
            inner: io::Cursor::new(&img),
            read: 0,
        };
        let (_, process, _) =
            read_checked(&mut file, Some(img.len() as u64), None, MAX_IMAGE).unwrap();
        assert!(process.is_some());
        assert!(
            file.read <= (img.len() - page_bytes) as u64,
            "{} of {} bytes read, {page_bytes} of them page data",
            file.read,
            img.len()
        );
        let copy = fd::memfd(c"ckpt-test").unwrap();
        let (_, _, copy) =
            read_checked(io::Cursor::new(&img), None, Some(copy), MAX_IMAGE).unwrap();
        let mut back = Vec::new();
        copy.unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, img);
    }

    #[test]
    fn checked_read_refuses_damage_with_the_codecs_message() {
        let read = |img: &[u8]| read_checked(io::Cursor::new(img), None, None, MAX_IMAGE);
        let err = read(&testdata("corrupt.img")).unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");
        let err = read(&testdata("truncated.img")).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let err = read(b"not an image").unwrap_err();
        assert!(!err.is_empty());
    }

    /// An image file with 8 MiB of file contents in 1 MiB runs: decoding it reads at most an
    /// eighth of it (the records around the data, and what is read ahead).
    #[test]
    fn checked_read_of_a_file_leaves_the_contents_unread() {
        let minimal = testdata("minimal.img");
        let mut dec = Decoder::new(minimal.as_slice()).unwrap();
        let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
        let Some(Body::EnvVector(env)) = dec.next_record(&mut buf).unwrap().map(|r| r.body) else {
            panic!("minimal.img starts without its environment");
        };
        const RUN: usize = 1 << 20;
        let mut enc = ckpt_image::Encoder::new(Vec::new(), dec.header()).unwrap();
        enc.write_env_vector(1, |w| env.iter().try_for_each(|e| w.put_entry(&e)))
            .unwrap();
        let file = ckpt_image::File {
            f_flags: 2,
            f_mode: 3,
            mode: 0o100600,
            pos: 0,
            dev: 1,
            ino: 2,
            size: 8 * RUN as i64,
            mtime: Default::default(),
            ctime: Default::default(),
            path: b"/tmp/gone",
            variant: ckpt_image::FileVariant::Unlinked {
                data_len: 8 * RUN as u64,
            },
        };
        enc.write_file(2, &file).unwrap();
        let run = vec![0x5a; RUN];
        for i in 0..8 {
            let data = ckpt_image::FileData {
                file: 2,
                offset: (i * RUN) as u64,
                data: &run,
            };
            enc.write_file_data(3 + i as u64, &data).unwrap();
        }
        let img = enc.finish().unwrap();
        let mut counting = Counting {
            inner: io::Cursor::new(&img),
            read: 0,
        };
        read_checked(
            read_ahead(&mut counting),
            Some(img.len() as u64),
            None,
            MAX_IMAGE,
        )
        .unwrap();
        assert!(
            counting.read <= RUN as u64,
            "{} of {} bytes read",
            counting.read,
            img.len()
        );
    }

    #[test]
    fn checked_read_is_bounded() {
        let img = testdata("full.img");
        let read = |limit| read_checked(io::Cursor::new(&img), None, None, limit);
        let err = read(img.len() - 1).unwrap_err();
        assert!(err.contains("the most restart holds in memory"), "{err}");
        assert!(read(img.len()).is_ok());
    }

    #[test]
    fn checked_read_does_not_count_page_data() {
        let img = testdata("process.img");
        let mut dec = Decoder::new(img.as_slice()).unwrap();
        let mut buf = vec![0u8; RECORD_MAX_LEN as usize];
        let mut pages = 0;
        while let Some(r) = dec.next_record(&mut buf).unwrap() {
            if let Body::Pages(p) = r.body {
                pages += p.data().len();
            }
        }
        assert!(pages > 0);
        let meta = img.len() - pages;
        let read = |limit| read_checked(io::Cursor::new(&img), None, None, limit);
        let (_, process, _) = read(meta).unwrap();
        assert!(process.is_some());
        let err = read(meta - 1).unwrap_err();
        assert!(err.contains("besides page data"), "{err}");
    }

    #[test]
    fn unchecked_read_takes_everything_and_learns_what_it_can() {
        // A corrupt checksum is only found at the end: the table was seen before.
        let img = testdata("corrupt.img");
        let mut image = read_unchecked(img.as_slice(), MAX_IMAGE).unwrap();
        let mut back = Vec::new();
        image.file.read_to_end(&mut back).unwrap();
        assert_eq!(back, img);
        assert_eq!(image.fds, [0, 1, 2, 3, 4, 7].into());
        // Too long: one byte past the limit, so the kernel refuses it as such.
        let image = read_unchecked(img.as_slice(), 100).unwrap();
        assert_eq!(image.file.metadata().unwrap().len(), 101);
        assert!(image.fds.is_empty());
    }

    #[test]
    fn memfd_holds_the_image_from_its_start() {
        let mut f = memfd_with(b"image bytes").unwrap();
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"image bytes");
    }

    #[test]
    fn command_defaults_to_the_shell() {
        let cmd = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            command_line(&cmd(&["cat", "-n"]), Some("/bin/zsh".into())),
            cmd(&["cat", "-n"])
        );
        assert_eq!(
            command_line(&[], Some("/bin/zsh".into())),
            cmd(&["/bin/zsh"])
        );
        assert_eq!(command_line(&[], Some("".into())), cmd(&["/bin/sh"]));
        assert_eq!(command_line(&[], None), cmd(&["/bin/sh"]));
    }
}

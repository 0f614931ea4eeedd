// SPDX-License-Identifier: GPL-2.0

//! `ckpt dump`: checkpoint a process into a file or standard output.
//!
//! The kernel lets a caller checkpoint itself or a process it has ptrace-attached and that is
//! stopped, so this command seizes and interrupts the target (`--pid`), or starts a command
//! under ptrace and waits until it stops itself with SIGSTOP (`-- CMD ARGS...`), checkpoints
//! it, then detaches (the target runs on) or kills it (`--kill`).

use std::{
    fs::File,
    io,
    os::{
        fd::{AsFd, BorrowedFd},
        unix::{fs::FileTypeExt, process::CommandExt},
    },
    process::Command,
};

use ckpt_sys::Device;

use crate::{Failure, EXIT_OK};

/// Exit status: the kernel refused or failed the checkpoint.
const EXIT_REFUSED: u8 = 1;

#[derive(clap::Args)]
pub struct Args {
    /// The process to checkpoint; it keeps running afterwards unless --kill.
    #[arg(long, required_unless_present = "command")]
    pid: Option<i32>,
    /// Where to write the image: a file, or `-` for standard output.
    #[arg(long, short)]
    output: String,
    /// Also treat this fd of the target as external (repeatable).
    #[arg(long = "external", value_name = "FD")]
    external: Vec<i32>,
    /// Do not treat fds 0, 1 and 2 as external when they are pipes, sockets or terminals.
    #[arg(long)]
    strict: bool,
    /// Also write the process state: mapped files, memory map, registers, signal and task
    /// state, pages.
    #[arg(long)]
    process: bool,
    /// Save the contents of unlinked files and memfds instead of refusing them.
    #[arg(long)]
    file_contents: bool,
    /// With --file-contents: no limit on the data saved of one file (default 64 MiB).
    #[arg(long, requires = "file_contents")]
    no_contents_limit: bool,
    /// Kill the target after the checkpoint instead of letting it continue.
    #[arg(long)]
    kill: bool,
    /// Start this command under ptrace, wait until it stops itself (SIGSTOP), dump it.
    #[arg(last = true, conflicts_with = "pid")]
    command: Vec<String>,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let device = Device::open().map_err(|e| Failure::device(format!("{}: {e}", Device::PATH)))?;
    let file;
    let stdout = io::stdout();
    let out: BorrowedFd<'_> = if args.output == "-" {
        stdout.as_fd()
    } else {
        file = File::create(&args.output)
            .map_err(|e| Failure::unreadable(format!("{}: {e}", args.output)))?;
        file.as_fd()
    };

    let target = if args.command.is_empty() {
        Tracee::seize(args.pid.unwrap_or_default())?
    } else {
        Tracee::spawn_until_stopped(&args.command)?
    };

    let mut external = args.external.clone();
    if !args.strict {
        for fd in 0..3 {
            if let Some(kind) = stdio_kind(target.pid, fd) {
                if !external.contains(&fd) {
                    eprintln!("ckpt: fd {fd} of pid {} is a {kind}: external", target.pid);
                    external.push(fd);
                }
            }
        }
    }

    let flag = |on: bool, bit: u32| if on { u64::from(bit) } else { 0 };
    let flags = flag(args.process, ckpt_sys::abi::CKPT_CHECKPOINT_PROCESS)
        | flag(
            args.file_contents,
            ckpt_sys::abi::CKPT_CHECKPOINT_FILE_CONTENTS,
        )
        | flag(
            args.no_contents_limit,
            ckpt_sys::abi::CKPT_CHECKPOINT_CONTENTS_UNLIMITED,
        );
    // A regular file is read back for its page count; anything else (a pipe, a socket, a
    // terminal) gets the image through a pipe of ours that a thread copies on while it decodes.
    let regular = File::from(
        out.try_clone_to_owned()
            .map_err(|e| Failure::device(e.to_string()))?,
    )
    .metadata()
    .is_ok_and(|m| m.file_type().is_file());
    let tee = if args.process && !(regular && args.output != "-") {
        Some(Tee::start(out).map_err(|e| Failure::device(format!("pipe: {e}")))?)
    } else {
        None
    };
    let result = match &tee {
        Some(t) => device.checkpoint(t.input(), target.pid, &external, flags),
        None => device.checkpoint(out, target.pid, &external, flags),
    };
    let counted = tee.map(Tee::finish);
    let finish = if args.kill {
        target.kill()
    } else {
        target.detach()
    };
    match result {
        Ok(stats) => {
            finish.map_err(|e| Failure::device(format!("after the checkpoint: {e}")))?;
            let pages = match counted {
                Some(Ok(n)) => format!(", {n} pages"),
                Some(Err(e)) => {
                    return Err(Failure::device(format!("{}: {e}", args.output)));
                }
                None if args.process => format!(", {} pages", count_pages(&args.output)),
                None => String::new(),
            };
            eprintln!(
                "ckpt: pid {}: {} bytes, {} records{pages}",
                target.pid, stats.bytes, stats.records
            );
            Ok(EXIT_OK)
        }
        Err(e) => Err(Failure {
            status: EXIT_REFUSED,
            message: format!(
                "checkpoint of pid {} refused: {e} [reason {}]",
                target.pid,
                e.reason_name()
            ),
        }),
    }
}

/// "pipe", "socket" or "terminal" if the target's `fd` is one (the kinds `ckpt dump` treats
/// as external by default).
fn stdio_kind(pid: i32, fd: i32) -> Option<&'static str> {
    let meta = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let ft = meta.file_type();
    if ft.is_fifo() {
        Some("pipe")
    } else if ft.is_socket() {
        Some("socket")
    } else if ft.is_char_device() {
        use std::os::unix::fs::MetadataExt;
        let major = libc::major(meta.rdev());
        matches!(major, 4 | 5 | 136..=143).then_some("terminal")
    } else {
        None
    }
}

/// A process this command traces and that is in a ptrace stop.
struct Tracee {
    pid: i32,
    /// A signal that stopped it and must be delivered on detach (0: none).
    pending: i32,
}

fn errno(what: &str) -> Failure {
    Failure {
        status: EXIT_REFUSED,
        message: format!("{what}: {}", io::Error::last_os_error()),
    }
}

impl Tracee {
    /// Attaches to `pid` with PTRACE_SEIZE and stops it with PTRACE_INTERRUPT.
    fn seize(pid: i32) -> Result<Self, Failure> {
        // SAFETY: PTRACE_SEIZE takes no pointers.
        if unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) } < 0 {
            return Err(errno(&format!("ptrace(PTRACE_SEIZE, {pid})")));
        }
        // SAFETY: PTRACE_INTERRUPT takes no pointers.
        if unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) } < 0 {
            return Err(errno(&format!("ptrace(PTRACE_INTERRUPT, {pid})")));
        }
        let mut status = 0;
        // SAFETY: `status` is writable.
        if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } < 0 {
            return Err(errno(&format!("waitpid({pid})")));
        }
        if !libc::WIFSTOPPED(status) {
            return Err(Failure {
                status: EXIT_REFUSED,
                message: format!("pid {pid} exited while being stopped"),
            });
        }
        // A PTRACE_EVENT_STOP is our interrupt; any other stop is a signal to hand back.
        let event = (status >> 16) & 0xff;
        let pending = if event == libc::PTRACE_EVENT_STOP {
            0
        } else {
            libc::WSTOPSIG(status)
        };
        Ok(Self { pid, pending })
    }

    /// Starts `argv` traced from its first instruction and lets it run until it stops itself
    /// with SIGSTOP; other signals are delivered as usual.
    fn spawn_until_stopped(argv: &[String]) -> Result<Self, Failure> {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        // SAFETY: The closure only calls ptrace(PTRACE_TRACEME), which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| Failure {
            status: EXIT_REFUSED,
            message: format!("{}: {e}", argv[0]),
        })?;
        let pid = child.id() as i32;
        loop {
            let mut status = 0;
            // SAFETY: `status` is writable.
            if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } < 0 {
                return Err(errno(&format!("waitpid({pid})")));
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                return Err(Failure {
                    status: EXIT_REFUSED,
                    message: format!("{} ended before stopping itself with SIGSTOP", argv[0]),
                });
            }
            let sig = libc::WSTOPSIG(status);
            if sig == libc::SIGSTOP {
                // Swallow the SIGSTOP on detach: the command continues.
                return Ok(Self { pid, pending: 0 });
            }
            // The exec's SIGTRAP is ours; any other signal goes to the command.
            let deliver = if sig == libc::SIGTRAP { 0 } else { sig };
            // SAFETY: PTRACE_CONT takes no pointers.
            if unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, deliver) } < 0 {
                return Err(errno(&format!("ptrace(PTRACE_CONT, {pid})")));
            }
        }
    }

    /// Lets the process run on.
    fn detach(&self) -> io::Result<()> {
        // SAFETY: PTRACE_DETACH takes no pointers.
        if unsafe { libc::ptrace(libc::PTRACE_DETACH, self.pid, 0, self.pending) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Kills the process and reaps it if it is our child.
    fn kill(&self) -> io::Result<()> {
        // SAFETY: kill() takes no pointers.
        if unsafe { libc::kill(self.pid, libc::SIGKILL) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut status = 0;
        // SAFETY: `status` is writable. ECHILD (not our child) is fine.
        unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL) };
        Ok(())
    }
}

/// A pipe the kernel writes the image into, and a thread that copies it on to the real
/// output while decoding it, to count its pages.
struct Tee {
    input: std::os::fd::OwnedFd,
    thread: std::thread::JoinHandle<io::Result<u64>>,
}

/// Reads from the pipe and writes every byte read on to the output.
struct TeeSource {
    pipe: File,
    out: File,
}

impl ckpt_image::Source for TeeSource {
    type Error = io::Error;

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::{Read, Write};
        let n = self.pipe.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

impl Tee {
    fn start(out: BorrowedFd<'_>) -> io::Result<Self> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is writable for two ints.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2() just returned these two fds, owned by nobody else.
        let (read, input) = unsafe {
            use std::os::fd::FromRawFd;
            (
                File::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        let out = File::from(out.try_clone_to_owned()?);
        let thread = std::thread::spawn(move || {
            use std::io::Read;
            let mut src = TeeSource { pipe: read, out };
            let mut pages = 0u64;
            // Decode what can be decoded; the kernel's own status says whether it succeeded.
            if let Ok(mut dec) = ckpt_image::Decoder::new(&mut src) {
                let mut buf = vec![0u8; ckpt_image::RECORD_MAX_LEN as usize];
                while let Ok(Some(r)) = dec.next_record(&mut buf) {
                    if let ckpt_image::Body::Pages(p) = r.body {
                        pages += u64::from(p.count());
                    }
                }
            }
            // Copy whatever follows (nothing, for a complete image) until the kernel is done.
            let mut rest = [0u8; 1 << 16];
            loop {
                let n = src.pipe.read(&mut rest)?;
                if n == 0 {
                    break;
                }
                std::io::Write::write_all(&mut src.out, &rest[..n])?;
            }
            Ok(pages)
        });
        Ok(Tee { input, thread })
    }

    /// The pipe's write end, for the kernel.
    fn input(&self) -> BorrowedFd<'_> {
        self.input.as_fd()
    }

    /// Closes the write end and waits for the copy: the pages counted.
    fn finish(self) -> io::Result<u64> {
        drop(self.input);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the copying thread panicked")))
    }
}

/// Pages in the image just written to `path`, read back cheaply: the kernel wrote it and
/// reported success, so only the record headers are walked and each PAGES record's count read;
/// the page data is skipped (decoding the whole image again read and checksummed every page a
/// second time, seconds for a large process).
fn count_pages(path: &str) -> u64 {
    use ckpt_image::{RecordHeader, RecordType, HEADER_LEN, RECORD_HEADER_LEN};
    use std::io::{Read, Seek, SeekFrom};

    let Ok(mut file) = File::open(path) else {
        return 0;
    };
    let mut at = HEADER_LEN as u64;
    let mut pages = 0u64;
    // A PAGES payload starts with the VMA id (u64), the address (u64), the count (u32).
    const COUNT_AT: usize = RECORD_HEADER_LEN + 16;
    let mut head = [0u8; COUNT_AT + 4];
    loop {
        let (record, payload) = head.split_at_mut(RECORD_HEADER_LEN);
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(record).is_err() {
            break;
        }
        let Ok(header) = RecordHeader::parse(record) else {
            break;
        };
        if header.rtype == RecordType::TERMINATOR {
            break;
        }
        if header.rtype == RecordType::PAGES && file.read_exact(payload).is_ok() {
            let mut count = [0u8; 4];
            count.copy_from_slice(&payload[COUNT_AT - RECORD_HEADER_LEN..]);
            pages += u64::from(u32::from_le_bytes(count));
        }
        at += u64::from(header.len);
    }
    pages
}

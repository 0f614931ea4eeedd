// SPDX-License-Identifier: GPL-2.0

//! `ckpt show`: list an image, as text or as JSON (schema in Documentation/image-format.rst).

use std::collections::HashMap;
use std::io::Write;

use ckpt_image::{
    fixed_str, Body, EnvVector, FileVariant, Header, Regset, VmaKind, FD_FLAG_CLOEXEC,
    HEADER_FLAG_SYNTHETIC, NT_PRSTATUS, NT_X86_XSTATE, VMA_SHARED,
};
use ckpt_image::{
    SigAction, SigName, Signals, TaskState, RLIMIT_NAMES, RLIM_INFINITY, SS_AUTODISARM, SS_DISABLE,
};

use crate::display;
use crate::input::{self, LoadedImage, OwnedRecord};
use crate::{convert, Failure, EXIT_OK};

#[derive(clap::Args)]
pub struct Args {
    /// Image file, or `-` for standard input.
    image: String,
    /// Print JSON (schema ckpt-image-v1) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let reader = input::open(&args.image)
        .map_err(|e| Failure::unreadable(format!("{}: {e}", args.image)))?;
    let image = input::load(reader);
    let fail = |err: &str| Failure::unreadable(format!("{}: {err}", args.image));
    if args.json {
        // JSON is all or nothing: a consumer must never mistake a partial image for a whole.
        if let Some(err) = &image.error {
            return Err(fail(err));
        }
        let json = serde_json::to_string_pretty(&convert::image_to_json(&image))
            .map_err(|e| fail(&e.to_string()))?;
        println!("{json}");
        return Ok(EXIT_OK);
    }
    // Text shows whatever was readable, then the error: useful to see where an image broke.
    let mut out = std::io::stdout().lock();
    let _ = print_text(&mut out, &image);
    let _ = out.flush();
    match &image.error {
        Some(err) => Err(fail(err)),
        None => Ok(EXIT_OK),
    }
}

fn print_text(out: &mut impl Write, image: &LoadedImage) -> std::io::Result<()> {
    if let Some(h) = &image.header {
        print_header(out, h)?;
    }
    let mut records = image.records.iter();
    if let Some(env) = image.environment() {
        records.next();
        if let Body::EnvVector(v) = env.body() {
            writeln!(
                out,
                "environment (record id {}, {} entries)",
                env.header.id,
                v.len()
            )?;
            print_entries(out, "  ", &v)?;
        }
    }
    if image.records.len() > 1 {
        writeln!(out, "records")?;
    }
    let ctx = Context::new(image);
    for r in records {
        print_record(out, r, &ctx)?;
    }
    if let Some((offset, t)) = image.terminator {
        writeln!(
            out,
            "terminator @{offset}: {} records, {} bytes, crc32c {:#010x} verified",
            t.record_count, t.image_len, t.checksum
        )?;
    }
    Ok(())
}

fn print_header(out: &mut impl Write, h: &Header) -> std::io::Result<()> {
    let synthetic = if h.flags & HEADER_FLAG_SYNTHETIC != 0 {
        " (synthetic)"
    } else {
        ""
    };
    writeln!(out, "header")?;
    writeln!(out, "  version    {}", ckpt_image::VERSION)?;
    writeln!(out, "  arch       {}", h.arch)?;
    writeln!(out, "  page size  {}", h.page_size)?;
    writeln!(out, "  flags      {:#010x}{synthetic}", h.flags)?;
    writeln!(out, "  created    {}", display::time(h.created))?;
    let uts = &h.utsname;
    for (name, field) in [
        ("sysname", &uts.sysname),
        ("release", &uts.release),
        ("version", &uts.version),
        ("machine", &uts.machine),
    ] {
        writeln!(out, "  {name:<10} {}", display::text(fixed_str(field)))?;
    }
    Ok(())
}

/// Lists a vector's entries, one per line, each behind `indent`.
pub(crate) fn print_entries(
    out: &mut impl Write,
    indent: &str,
    v: &EnvVector<'_>,
) -> std::io::Result<()> {
    for e in v.iter() {
        let criticality = if e.is_critical() {
            "critical"
        } else {
            "advisory"
        };
        writeln!(
            out,
            "{indent}{:<38} {:<8} {:<8} {criticality:<8} {}",
            display::key(e.key),
            e.vtype.to_string(),
            e.rule.to_string(),
            display::value(&e)
        )?;
    }
    Ok(())
}

/// What record lines need from other records: pages per mapping, paths of files.
struct Context {
    pages: HashMap<u64, u64>,
    paths: HashMap<u64, String>,
}

impl Context {
    fn new(image: &LoadedImage) -> Self {
        let mut pages = HashMap::new();
        let mut paths = HashMap::new();
        for r in &image.records {
            match r.body() {
                Body::Pages(p) => *pages.entry(p.vma).or_insert(0) += u64::from(p.count()),
                Body::File(f) => {
                    paths.insert(r.header.id, display::text(f.path).to_string());
                }
                _ => {}
            }
        }
        Context { pages, paths }
    }
}

fn print_record(out: &mut impl Write, r: &OwnedRecord, ctx: &Context) -> std::io::Result<()> {
    let h = &r.header;
    write!(
        out,
        "  @{} {} id {} ({} bytes)",
        r.offset, h.rtype, h.id, h.len
    )?;
    match r.body() {
        Body::Task(t) => {
            writeln!(
                out,
                ": pid {} tgid {} ppid {} comm \"{}\"",
                t.pid,
                t.tgid,
                t.ppid,
                display::text(fixed_str(&t.comm))
            )?;
            writeln!(
                out,
                "      uid {} gid {} euid {} egid {} suid {} sgid {} fsuid {} fsgid {}",
                t.uid, t.gid, t.euid, t.egid, t.suid, t.sgid, t.fsuid, t.fsgid
            )?;
            writeln!(
                out,
                "      cwd {} root {} file table {}",
                display::text(t.cwd),
                display::text(t.root),
                t.file_table
            )
        }
        Body::TaskVector(tv) => {
            writeln!(out, ": task {}, {} entries", tv.task, tv.entries.len())?;
            print_entries(out, "      ", &tv.entries)
        }
        Body::FileTable(ft) => {
            writeln!(out, ": {} descriptors", ft.len())?;
            for e in ft.iter() {
                let cloexec = if e.flags & FD_FLAG_CLOEXEC != 0 {
                    " cloexec"
                } else {
                    ""
                };
                writeln!(out, "      fd {} -> file {}{cloexec}", e.fd, e.file)?;
            }
            Ok(())
        }
        Body::File(f) => {
            writeln!(out, ": {} {}", f.variant.kind_name(), display::text(f.path))?;
            writeln!(
                out,
                "      f_flags {:#o} f_mode {:#x} mode {:#o} pos {} size {} dev {:#x} ino {}",
                f.f_flags, f.f_mode, f.mode, f.pos, f.size, f.dev, f.ino
            )?;
            write!(
                out,
                "      mtime {} ctime {}",
                display::time(f.mtime),
                display::time(f.ctime)
            )?;
            match f.variant {
                FileVariant::Regular => writeln!(out),
                FileVariant::Ext {
                    generation,
                    handle_type,
                    handle,
                } => writeln!(
                    out,
                    " generation {generation:#x} handle type {handle_type} handle {}",
                    crate::json::hex(handle)
                ),
                FileVariant::Directory { cookie } => writeln!(out, " cookies {cookie}"),
                FileVariant::ExtDirectory {
                    generation,
                    handle_type,
                    handle,
                    cookie,
                } => writeln!(
                    out,
                    " generation {generation:#x} handle type {handle_type} handle {} cookies {cookie}",
                    crate::json::hex(handle)
                ),
                FileVariant::CharDevice { rdev } => writeln!(out, " rdev {rdev:#x}"),
                FileVariant::External { fd_kind } => match fd_kind.name() {
                    Some(name) => writeln!(out, " fd kind {name}"),
                    None => writeln!(out, " fd kind {}", fd_kind.0),
                },
                FileVariant::Unlinked { data_len } => writeln!(out, " data {data_len} bytes"),
                FileVariant::Memfd {
                    seals,
                    data_len,
                    name,
                } => writeln!(
                    out,
                    " memfd name {:?} seals {seals:#x} data {data_len} bytes",
                    String::from_utf8_lossy(name)
                ),
            }
        }
        Body::Mm(m) => {
            let exe = match m.exe_file {
                0 => String::new(),
                id => format!(" exe file {id} {}", ctx.paths.get(&id).map_or("", |p| p)),
            };
            writeln!(out, ": personality {:#x}{exe}", m.personality)?;
            writeln!(
                out,
                "      code {:#x}-{:#x} data {:#x}-{:#x} brk {:#x}-{:#x} stack {:#x}",
                m.start_code,
                m.end_code,
                m.start_data,
                m.end_data,
                m.start_brk,
                m.brk,
                m.start_stack
            )?;
            writeln!(
                out,
                "      args {:#x}-{:#x} env {:#x}-{:#x}",
                m.arg_start, m.arg_end, m.env_start, m.env_end
            )?;
            if m.vdso_start != 0 {
                writeln!(
                    out,
                    "      vdso {:#x}-{:#x} crc32c {:#010x}",
                    m.vdso_start,
                    m.vdso_start.saturating_add(u64::from(m.vdso_len)),
                    m.vdso_crc
                )?;
            }
            let auxv: Vec<String> = m
                .auxv()
                .map(|e| format!("{}={:#x}", e.key, e.value))
                .collect();
            writeln!(out, "      auxv {}", auxv.join(" "))
        }
        Body::Vma(v) => {
            // The /proc/PID/maps line, then kind, page count and flags.
            let shared = if v.flags & VMA_SHARED != 0 { 's' } else { 'p' };
            let what = match v.kind {
                VmaKind::FILE => format!(
                    "file {} {}",
                    v.file,
                    ctx.paths.get(&v.file).map_or("", |p| p)
                ),
                VmaKind::HEAP => "[heap]".to_owned(),
                VmaKind::STACK => "[stack]".to_owned(),
                VmaKind::VDSO => "[vdso]".to_owned(),
                VmaKind::VVAR => "[vvar]".to_owned(),
                k => k.name().unwrap_or("?").to_owned(),
            };
            let pages = match (v.is_dumped(), ctx.pages.get(&r.header.id)) {
                (false, _) => "not dumped".to_owned(),
                (true, n) => format!("{} pages", n.copied().unwrap_or(0)),
            };
            let flags = convert::vma_flag_names(v.flags & !VMA_SHARED).join(",");
            writeln!(
                out,
                ":\n      {:x}-{:x} {}{shared} {:08x} {what}  ({pages}){}{flags}",
                v.start,
                v.end,
                convert::prot_string(v.prot),
                v.offset,
                if flags.is_empty() { "" } else { " " }
            )
        }
        Body::Pages(p) => writeln!(
            out,
            ": vma {} {:x}-{:x} {} pages crc32c {:#010x} verified",
            p.vma,
            p.start,
            p.end(),
            p.count(),
            p.crc
        ),
        Body::Regset(g) => print_regset(out, &g),
        Body::Signals(s) => print_signals(out, &s),
        Body::TaskState(t) => print_task_state(out, &t),
        Body::FileData(d) => writeln!(
            out,
            ": file {} bytes {}-{} ({} bytes)",
            d.file,
            d.offset,
            d.end(),
            d.data.len()
        ),
        Body::Unknown(_) => writeln!(out, ": unknown optional record, skipped"),
        Body::Skipped { len } => writeln!(out, ": {len} bytes, not read"),
        Body::EnvVector(_) | Body::Terminator(_) => writeln!(out),
    }
}

/// x86_64 `user_regs_struct`, in order.
const X86_64_REGS: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

/// The registers of a REGSET record: x86_64 general registers by name; for an XSAVE area the
/// components in use, MXCSR and the non-zero XMM registers.
fn print_regset(out: &mut impl Write, g: &Regset<'_>) -> std::io::Result<()> {
    let name = g.note_name().unwrap_or("note");
    writeln!(out, ": {name} ({:#x}), {} bytes", g.note, g.data.len())?;
    let word = |i: usize| -> u64 {
        g.data
            .get(i * 8..i * 8 + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    match g.note {
        NT_PRSTATUS if g.data.len() == X86_64_REGS.len() * 8 => {
            for (row, names) in X86_64_REGS.chunks(4).enumerate() {
                let line: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{n:>8} {:#018x}", word(row * 4 + i)))
                    .collect();
                writeln!(out, "     {}", line.join(" "))?;
            }
            Ok(())
        }
        NT_X86_XSTATE => {
            let mxcsr = g
                .data
                .get(24..28)
                .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])));
            writeln!(
                out,
                "      xstate_bv {:#x} xcomp_bv {:#x} mxcsr {mxcsr:#x}",
                g.xstate_bv().unwrap_or(0),
                word(65),
            )?;
            for i in 0..16 {
                let (lo, hi) = (word(20 + 2 * i), word(21 + 2 * i));
                if lo != 0 || hi != 0 {
                    writeln!(out, "      xmm{i:<2} {hi:016x}{lo:016x}")?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Signal names of a mask, space separated, or `-`.
fn signal_list(mask: u64) -> String {
    let names = convert::signal_names(mask);
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(" ")
    }
}

/// `SA_*` flag names of x86_64 (`include/uapi/asm-generic/signal-defs.h` and the arch's).
const SA_FLAGS: [(u64, &str); 9] = [
    (0x0000_0001, "NOCLDSTOP"),
    (0x0000_0002, "NOCLDWAIT"),
    (0x0000_0004, "SIGINFO"),
    (0x0000_0400, "UNSUPPORTED"),
    (0x0000_0800, "EXPOSE_TAGBITS"),
    (0x0400_0000, "RESTORER"),
    (0x0800_0000, "ONSTACK"),
    (0x1000_0000, "RESTART"),
    (0x4000_0000, "NODEFER"),
];
const SA_RESETHAND: u64 = 0x8000_0000;

fn sa_flag_names(flags: u64) -> String {
    let mut names: Vec<String> = SA_FLAGS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect();
    if flags & SA_RESETHAND != 0 {
        names.push("RESETHAND".to_owned());
    }
    let known = SA_FLAGS.iter().fold(SA_RESETHAND, |m, (b, _)| m | b);
    if flags & !known != 0 {
        names.push(format!("{:#x}", flags & !known));
    }
    if names.is_empty() {
        "0".to_owned()
    } else {
        names.join("|")
    }
}

/// The signal state: blocked, ignored and handled signals by name, each handler, the
/// alternate stack.
fn print_signals(out: &mut impl Write, s: &Signals<'_>) -> std::io::Result<()> {
    writeln!(out, ": blocked {:#018x}", s.blocked)?;
    writeln!(out, "      blocked  {}", signal_list(s.blocked))?;
    writeln!(out, "      ignored  {}", signal_list(s.ignored()))?;
    writeln!(out, "      handled  {}", signal_list(s.handled()))?;
    for (sig, a) in s.actions() {
        if a == SigAction::default() || a.is_ignored() && a.flags == 0 && a.mask == 0 {
            continue;
        }
        let handler = match a.handler {
            SigAction::DFL => "default".to_owned(),
            SigAction::IGN => "ignore".to_owned(),
            h => format!("{h:#x}"),
        };
        writeln!(
            out,
            "      {:<12} handler {handler} flags {} restorer {:#x} mask {}",
            SigName(sig).to_string(),
            sa_flag_names(a.flags),
            a.restorer,
            signal_list(a.mask)
        )?;
    }
    if s.altstack_flags & SS_DISABLE != 0 {
        writeln!(out, "      altstack none")
    } else {
        let autodisarm = if s.altstack_flags & SS_AUTODISARM != 0 {
            " autodisarm"
        } else {
            ""
        };
        writeln!(
            out,
            "      altstack {:#x}-{:#x} ({} bytes){autodisarm}",
            s.altstack_sp,
            s.altstack_sp.saturating_add(s.altstack_size),
            s.altstack_size
        )
    }
}

fn rlim(v: u64) -> String {
    if v == RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        v.to_string()
    }
}

/// rseq, robust list, clear_child_tid, umask, parent-death signal, resource limits.
fn print_task_state(out: &mut impl Write, t: &TaskState) -> std::io::Result<()> {
    writeln!(out, ": umask {:04o}", t.umask)?;
    if t.rseq != 0 {
        writeln!(
            out,
            "      rseq {:#x} ({} bytes) signature {:#010x}",
            t.rseq, t.rseq_len, t.rseq_sig
        )?;
    } else {
        writeln!(out, "      rseq none")?;
    }
    if t.robust_list != 0 {
        writeln!(
            out,
            "      robust list {:#x} ({} bytes)",
            t.robust_list, t.robust_list_len
        )?;
    } else {
        writeln!(out, "      robust list none")?;
    }
    writeln!(out, "      clear_child_tid {:#x}", t.clear_child_tid)?;
    match t.pdeath_signal {
        0 => writeln!(out, "      parent death signal none")?,
        s => writeln!(out, "      parent death signal {}", SigName(s))?,
    }
    writeln!(out, "      {:<12} {:>20} {:>20}", "rlimit", "soft", "hard")?;
    for (l, name) in t.rlimits.iter().zip(RLIMIT_NAMES) {
        writeln!(
            out,
            "      {name:<12} {:>20} {:>20}",
            rlim(l.cur),
            rlim(l.max)
        )?;
    }
    Ok(())
}

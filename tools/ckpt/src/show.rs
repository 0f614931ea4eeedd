// SPDX-License-Identifier: GPL-2.0

//! `ckpt show`: list an image, as text or as JSON (schema in Documentation/image-format.rst).

use std::io::Write;

use ckpt_image::{
    fixed_str, Body, EnvVector, FileVariant, Header, FD_FLAG_CLOEXEC, HEADER_FLAG_SYNTHETIC,
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
    for r in records {
        print_record(out, r)?;
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

fn print_record(out: &mut impl Write, r: &OwnedRecord) -> std::io::Result<()> {
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
            }
        }
        Body::Unknown(_) => writeln!(out, ": unknown optional record, skipped"),
        Body::EnvVector(_) | Body::Terminator(_) => writeln!(out),
    }
}

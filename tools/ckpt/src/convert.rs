// SPDX-License-Identifier: GPL-2.0

//! Conversions between decoded images and the JSON model, both ways.

use ckpt_image::{
    fixed_str, keys, Arch, Body, DirCookieMode, Encoder, EnvEntry, EnvValue, EnvVector,
    ExternalFdKind, FdEntry, File, FileData, FileVariant, Header, Mm, Pages, RecordType, Regset,
    Rule, Task, Timestamp, Utsname, ValueType, Vma, VmaKind, COMM_LEN, ENV_FLAG_CRITICAL,
    FD_FLAG_CLOEXEC, HEADER_FLAG_SYNTHETIC, PROT_EXEC, PROT_READ, PROT_WRITE, VERSION,
    VMA_FLAG_NAMES,
};
use ckpt_image::{
    signals_in, Rlimit, SigAction, SigName, Signals, TaskState, NSIG, RLIMIT_NAMES, RLIM_INFINITY,
    RLIM_NLIMITS, SIGACTIONS_LEN, SIGACTION_LEN,
};
use serde_json::{json, Value};

use crate::input::{LoadedImage, OwnedRecord};
use crate::json::*;

// ---- decoded image -> JSON ----

pub fn image_to_json(image: &LoadedImage) -> ImageJson {
    let header = image.header.as_ref().map(header_to_json);
    let environment = match image.environment() {
        Some(r) => match r.body() {
            Body::EnvVector(v) => EnvJson {
                id: Some(r.header.id),
                entries: entries_to_json(&v),
            },
            _ => unreachable!("environment() returns an env vector"),
        },
        None => EnvJson {
            id: None,
            entries: Vec::new(),
        },
    };
    ImageJson {
        schema: SCHEMA.to_owned(),
        header: header.expect("a loaded image without error has a header"),
        environment,
        records: image.records.iter().skip(1).map(record_to_json).collect(),
        terminator: image.terminator.map(|(offset, t)| TerminatorJson {
            offset,
            record_count: t.record_count,
            image_length: t.image_len,
            checksum: format!("{:#010x}", t.checksum),
        }),
    }
}

fn header_to_json(h: &Header) -> HeaderJson {
    HeaderJson {
        version: VERSION,
        arch: match h.arch.name() {
            Some(n) => NameOr::Name(n.to_owned()),
            None => NameOr::Number(h.arch.0),
        },
        page_size: h.page_size,
        flags: h.flags,
        created: time_to_json(h.created),
        utsname: UtsnameJson {
            sysname: Text::from_bytes(fixed_str(&h.utsname.sysname)),
            release: Text::from_bytes(fixed_str(&h.utsname.release)),
            version: Text::from_bytes(fixed_str(&h.utsname.version)),
            machine: Text::from_bytes(fixed_str(&h.utsname.machine)),
        },
    }
}

fn time_to_json(t: Timestamp) -> TimeJson {
    TimeJson {
        sec: t.sec,
        nsec: t.nsec,
    }
}

pub fn entries_to_json(v: &EnvVector<'_>) -> Vec<EntryJson> {
    v.iter().map(|e| entry_to_json(&e)).collect()
}

fn name_or<T>(name: Option<&str>, n: T) -> NameOr<T> {
    match name {
        Some(name) => NameOr::Name(name.to_owned()),
        None => NameOr::Number(n),
    }
}

fn entry_to_json(e: &EnvEntry<'_>) -> EntryJson {
    let critical = e.is_critical();
    EntryJson {
        key: json!(e.key),
        name: keys::lookup(e.key).map(|k| k.name.to_owned()),
        vtype: name_or(e.vtype.name(), e.vtype.0),
        rule: name_or(e.rule.name(), e.rule.0),
        critical,
        // Only worth showing when bits beyond "critical" are set.
        flags: (e.flags & !ENV_FLAG_CRITICAL != 0).then_some(e.flags),
        value: value_to_json(e),
        names: None,
    }
}

/// JSON form of a value; see the `json` module for the conventions.
pub fn value_to_json(e: &EnvEntry<'_>) -> Value {
    let words = |width: usize| -> Value {
        (0..e.word_count())
            .map(|i| json!(format!("{:#0w$x}", e.word(i), w = width + 2)))
            .collect()
    };
    match e.vtype {
        ValueType::U32 => json!(e.word(0)),
        ValueType::U64 => json!(format!("{:#018x}", e.word(0))),
        ValueType::STRING => serde_json::to_value(Text::from_bytes(e.value)).unwrap_or_default(),
        ValueType::BITMAP32 => words(8),
        ValueType::BITMAP64 => words(16),
        _ => json!(hex(e.value)),
    }
}

fn record_to_json(r: &OwnedRecord) -> RecordJson {
    let body = match r.body() {
        Body::TaskVector(tv) => BodyJson::TaskVector {
            task: tv.task,
            entries: entries_to_json(&tv.entries),
        },
        Body::Task(t) => BodyJson::Task(TaskJson {
            pid: t.pid,
            tgid: t.tgid,
            ppid: t.ppid,
            uid: t.uid,
            gid: t.gid,
            euid: t.euid,
            egid: t.egid,
            suid: t.suid,
            sgid: t.sgid,
            fsuid: t.fsuid,
            fsgid: t.fsgid,
            comm: Text::from_bytes(fixed_str(&t.comm)),
            file_table: t.file_table,
            cwd: Text::from_bytes(t.cwd),
            root: Text::from_bytes(t.root),
        }),
        Body::FileTable(ft) => BodyJson::FileTable {
            entries: ft
                .iter()
                .map(|e| FdJson {
                    fd: e.fd,
                    cloexec: e.flags & FD_FLAG_CLOEXEC != 0,
                    file: e.file,
                })
                .collect(),
        },
        Body::File(f) => BodyJson::File(file_to_json(&f)),
        Body::Mm(m) => BodyJson::Mm(mm_to_json(&m)),
        Body::Vma(v) => BodyJson::Vma(VmaJson {
            start: v.start,
            end: v.end,
            file_offset: v.offset,
            file: v.file,
            prot: prot_string(v.prot),
            flags: vma_flag_names(v.flags),
            kind: name_or(v.kind.name(), v.kind.0),
        }),
        Body::Pages(p) => BodyJson::Pages(PagesJson {
            vma: p.vma,
            start: p.start,
            count: p.count(),
            crc: Some(format!("{:#010x}", p.crc)),
            data: hex(p.data()),
        }),
        Body::Regset(g) => BodyJson::Regset(RegsetJson {
            note: name_or(g.note_name(), g.note),
            data: hex(g.data),
        }),
        Body::Signals(s) => BodyJson::Signals(signals_to_json(&s)),
        Body::TaskState(t) => BodyJson::TaskState(task_state_to_json(&t)),
        Body::FileData(d) => BodyJson::FileData(FileDataJson {
            file: d.file,
            file_offset: d.offset,
            data: hex(d.data),
        }),
        Body::Unknown(payload) => BodyJson::Unknown {
            type_id: r.header.rtype.0,
            flags: r.header.flags,
            payload: payload.map(hex),
        },
        Body::EnvVector(_) | Body::Terminator(_) => unreachable!("not in the record list"),
        Body::Skipped { .. } => unreachable!("parse_body() reads every payload"),
    };
    RecordJson {
        offset: Some(r.offset),
        length: Some(r.header.len),
        id: r.header.id,
        body,
    }
}

/// Names of the signals of a mask (`SIGUSR1`...).
pub fn signal_names(mask: u64) -> Vec<String> {
    signals_in(mask).map(|s| SigName(s).to_string()).collect()
}

fn signals_to_json(s: &Signals<'_>) -> SignalsJson {
    SignalsJson {
        blocked: format!("{:#x}", s.blocked),
        blocked_names: Some(signal_names(s.blocked)),
        altstack: AltstackJson {
            sp: s.altstack_sp,
            size: s.altstack_size,
            flags: format!("{:#x}", s.altstack_flags),
        },
        actions: s
            .actions()
            .filter(|(_, a)| *a != SigAction::default())
            .map(|(sig, a)| SigActionJson {
                signal: sig,
                name: Some(SigName(sig).to_string()),
                handler: match a.handler {
                    SigAction::DFL => NameOr::Name("default".to_owned()),
                    SigAction::IGN => NameOr::Name("ignore".to_owned()),
                    h => NameOr::Number(h),
                },
                flags: format!("{:#x}", a.flags),
                restorer: a.restorer,
                mask: format!("{:#x}", a.mask),
            })
            .collect(),
    }
}

/// A resource limit value as JSON: a number or `"unlimited"`.
fn rlim_to_json(v: u64) -> NameOr<u64> {
    if v == RLIM_INFINITY {
        NameOr::Name("unlimited".to_owned())
    } else {
        NameOr::Number(v)
    }
}

fn task_state_to_json(t: &TaskState) -> TaskStateJson {
    TaskStateJson {
        rseq: t.rseq,
        rseq_len: t.rseq_len,
        rseq_sig: format!("{:#x}", t.rseq_sig),
        robust_list: t.robust_list,
        robust_list_len: t.robust_list_len,
        clear_child_tid: t.clear_child_tid,
        umask: format!("{:04o}", t.umask),
        pdeath_signal: t.pdeath_signal,
        rlimits: t
            .rlimits
            .iter()
            .zip(RLIMIT_NAMES)
            .map(|(l, name)| RlimitJson {
                resource: name.to_owned(),
                cur: rlim_to_json(l.cur),
                max: rlim_to_json(l.max),
            })
            .collect(),
    }
}

fn mm_to_json(m: &Mm<'_>) -> MmJson {
    MmJson {
        start_code: m.start_code,
        end_code: m.end_code,
        start_data: m.start_data,
        end_data: m.end_data,
        start_brk: m.start_brk,
        brk: m.brk,
        start_stack: m.start_stack,
        arg_start: m.arg_start,
        arg_end: m.arg_end,
        env_start: m.env_start,
        env_end: m.env_end,
        exe_file: m.exe_file,
        vdso_start: m.vdso_start,
        vdso_len: m.vdso_len,
        vdso_crc: format!("{:#010x}", m.vdso_crc),
        personality: m.personality,
        auxv: m
            .auxv()
            .map(|e| (e.key, format!("{:#x}", e.value)))
            .collect(),
    }
}

/// `PROT_*` bits as /proc/PID/maps shows them (without the shared/private column).
pub fn prot_string(prot: u32) -> String {
    [(PROT_READ, 'r'), (PROT_WRITE, 'w'), (PROT_EXEC, 'x')]
        .iter()
        .map(|&(bit, c)| if prot & bit != 0 { c } else { '-' })
        .collect()
}

/// Names of the set VMA flags.
pub fn vma_flag_names(flags: u32) -> Vec<String> {
    VMA_FLAG_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| flags & (1 << i) != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

fn file_to_json(f: &File<'_>) -> FileJson {
    let variant = match f.variant {
        FileVariant::Regular => FileVariantJson::Regular,
        FileVariant::Ext {
            generation,
            handle_type,
            handle,
        } => FileVariantJson::Ext {
            generation,
            handle_type,
            handle: hex(handle),
        },
        FileVariant::Directory { cookie } => FileVariantJson::Directory {
            cookie: cookie.to_string(),
        },
        FileVariant::ExtDirectory {
            generation,
            handle_type,
            handle,
            cookie,
        } => FileVariantJson::ExtDirectory {
            generation,
            handle_type,
            handle: hex(handle),
            cookie: cookie.to_string(),
        },
        FileVariant::CharDevice { rdev } => FileVariantJson::CharDevice { rdev },
        FileVariant::External { fd_kind } => FileVariantJson::External {
            fd_kind: name_or(fd_kind.name(), fd_kind.0),
        },
        FileVariant::Unlinked { data_len } => FileVariantJson::Unlinked { data_len },
        FileVariant::Memfd {
            seals,
            data_len,
            name,
        } => FileVariantJson::Memfd {
            seals,
            data_len,
            name: Text::from_bytes(name),
        },
    };
    FileJson {
        f_flags: f.f_flags,
        f_mode: f.f_mode,
        mode: f.mode,
        pos: f.pos,
        dev: f.dev,
        ino: f.ino,
        size: f.size,
        mtime: time_to_json(f.mtime),
        ctime: time_to_json(f.ctime),
        path: Text::from_bytes(f.path),
        variant,
    }
}

// ---- JSON -> binary ----

/// An entry with its value encoded, ready for the codec's `EnvWriter`.
pub struct OwnedEntry {
    pub key: u32,
    pub vtype: ValueType,
    pub rule: Rule,
    pub flags: u16,
    pub value: Vec<u8>,
}

fn parse_u64(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{what}: {n} is not a u64")),
        Value::String(s) => {
            let parsed = match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            };
            parsed.map_err(|_| format!("{what}: bad number {s:?}"))
        }
        other => Err(format!("{what}: expected a number, got {other}")),
    }
}

fn parse_key(v: &Value) -> Result<u32, String> {
    if let Value::String(s) = v {
        if let Some(k) = keys::lookup_name(s) {
            return Ok(k.key);
        }
    }
    let k = parse_u64(v, "key")?;
    u32::try_from(k).map_err(|_| format!("key {k} does not fit 32 bits"))
}

fn resolve<T: Copy>(
    v: &NameOr<T>,
    what: &str,
    lookup: impl Fn(&str) -> Option<T>,
) -> Result<T, String> {
    match v {
        NameOr::Number(n) => Ok(*n),
        NameOr::Name(name) => lookup(name).ok_or_else(|| format!("unknown {what} {name:?}")),
    }
}

pub fn entry_from_json(e: &EntryJson) -> Result<OwnedEntry, String> {
    let key = parse_key(&e.key)?;
    let vtype = ValueType(resolve(&e.vtype, "type", |n| {
        ValueType::from_name(n).map(|t| t.0)
    })?);
    let rule = Rule(resolve(&e.rule, "rule", |n| {
        Rule::from_name(n).map(|r| r.0)
    })?);
    let ctx = |m: String| format!("key {key:#010x}: {m}");
    let words = |width: usize| -> Result<Vec<u8>, String> {
        let Value::Array(items) = &e.value else {
            return Err(ctx("bitmap value must be an array".into()));
        };
        let mut out = Vec::new();
        for item in items {
            let w = parse_u64(item, "bitmap word").map_err(ctx)?;
            if width == 4 {
                let w =
                    u32::try_from(w).map_err(|_| ctx(format!("word {w:#x} exceeds 32 bits")))?;
                out.extend_from_slice(&w.to_le_bytes());
            } else {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        Ok(out)
    };
    let value = match vtype {
        ValueType::U32 => {
            let v = parse_u64(&e.value, "value").map_err(ctx)?;
            u32::try_from(v)
                .map_err(|_| ctx(format!("{v} exceeds 32 bits")))?
                .to_le_bytes()
                .to_vec()
        }
        ValueType::U64 => parse_u64(&e.value, "value")
            .map_err(ctx)?
            .to_le_bytes()
            .to_vec(),
        ValueType::STRING => serde_json::from_value::<Text>(e.value.clone())
            .map_err(|err| ctx(err.to_string()))?
            .to_bytes()
            .map_err(ctx)?,
        ValueType::BITMAP32 => words(4)?,
        ValueType::BITMAP64 => words(8)?,
        _ => match &e.value {
            Value::String(s) => unhex(s).map_err(ctx)?,
            other => return Err(ctx(format!("expected a hex string, got {other}"))),
        },
    };
    let flags = e
        .flags
        .unwrap_or(if e.critical { ENV_FLAG_CRITICAL } else { 0 });
    Ok(OwnedEntry {
        key,
        vtype,
        rule,
        flags,
        value,
    })
}

pub fn entries_from_json(entries: &[EntryJson]) -> Result<Vec<OwnedEntry>, String> {
    let mut out: Vec<OwnedEntry> = entries
        .iter()
        .map(entry_from_json)
        .collect::<Result<_, _>>()?;
    // Vectors are sorted by key; accept hand-written files in any order.
    out.sort_by_key(|e| e.key);
    Ok(out)
}

/// The bare binary vector payload for `entries` (validated by the codec).
pub fn env_payload(entries: &[OwnedEntry]) -> Result<Vec<u8>, String> {
    let mut payload = Vec::new();
    ckpt_image::encode_env_payload(&mut payload, put_entries(entries))
        .map_err(|e| e.to_string())?;
    Ok(payload)
}

pub fn put_entries(
    entries: &[OwnedEntry],
) -> impl FnMut(&mut ckpt_image::EnvWriter<'_>) -> Result<(), ckpt_image::EnvStop> + '_ {
    move |w| {
        entries
            .iter()
            .try_for_each(|e| w.put(e.key, e.rule, e.flags, EnvValue::Raw(e.vtype, &e.value)))
    }
}

fn header_from_json(h: &HeaderJson) -> Result<Header, String> {
    if h.version != VERSION {
        return Err(format!("header.version {} is not {VERSION}", h.version));
    }
    let arch = resolve(&h.arch, "arch", |n| {
        (n == "x86_64").then_some(Arch::X86_64.0)
    })?;
    let uts = &h.utsname;
    let utsname = Utsname::new(
        &uts.sysname.to_bytes()?,
        &uts.release.to_bytes()?,
        &uts.version.to_bytes()?,
        &uts.machine.to_bytes()?,
    )
    .map_err(|e| format!("utsname: {e}"))?;
    Ok(Header {
        arch: Arch(arch),
        page_size: h.page_size,
        flags: h.flags,
        created: Timestamp {
            sec: h.created.sec,
            nsec: h.created.nsec,
        },
        utsname,
    })
}

fn time_from_json(t: TimeJson) -> Timestamp {
    Timestamp {
        sec: t.sec,
        nsec: t.nsec,
    }
}

/// Builds an image from its JSON description. Records are written in the order given, with
/// the ids given; the codec's encoder enforces every rule, so the result always decodes.
/// `synthetic` sets the header flag saying a tool, not the kernel, made the image.
pub fn image_from_json(image: &ImageJson, synthetic: bool) -> Result<Vec<u8>, String> {
    let mut header = header_from_json(&image.header)?;
    if synthetic {
        header.flags |= HEADER_FLAG_SYNTHETIC;
    }
    let mut enc = Encoder::new(Vec::new(), &header).map_err(|e| format!("header: {e}"))?;
    let env =
        entries_from_json(&image.environment.entries).map_err(|e| format!("environment: {e}"))?;
    let env_id = image.environment.id.unwrap_or(1);
    enc.write_env_vector(env_id, put_entries(&env))
        .map_err(|e| format!("environment: {e}"))?;
    for (i, r) in image.records.iter().enumerate() {
        write_record(&mut enc, r).map_err(|e| format!("records[{i}] (id {}): {e}", r.id))?;
    }
    enc.finish().map_err(|e| format!("terminator: {e}"))
}

fn write_record(enc: &mut Encoder<Vec<u8>>, r: &RecordJson) -> Result<(), String> {
    let id = r.id;
    match &r.body {
        BodyJson::TaskVector { task, entries } => {
            let entries = entries_from_json(entries)?;
            enc.write_task_vector(id, *task, put_entries(&entries))
        }
        BodyJson::Task(t) => {
            let comm = t.comm.to_bytes()?;
            if comm.len() >= COMM_LEN {
                return Err(format!("comm is longer than {} bytes", COMM_LEN - 1));
            }
            let mut fixed = [0u8; COMM_LEN];
            fixed[..comm.len()].copy_from_slice(&comm);
            let (cwd, root) = (t.cwd.to_bytes()?, t.root.to_bytes()?);
            enc.write_task(
                id,
                &Task {
                    pid: t.pid,
                    tgid: t.tgid,
                    ppid: t.ppid,
                    uid: t.uid,
                    gid: t.gid,
                    euid: t.euid,
                    egid: t.egid,
                    suid: t.suid,
                    sgid: t.sgid,
                    fsuid: t.fsuid,
                    fsgid: t.fsgid,
                    comm: fixed,
                    file_table: t.file_table,
                    cwd: &cwd,
                    root: &root,
                },
            )
        }
        BodyJson::FileTable { entries } => {
            let entries: Vec<FdEntry> = entries
                .iter()
                .map(|e| FdEntry {
                    fd: e.fd,
                    flags: if e.cloexec { FD_FLAG_CLOEXEC } else { 0 },
                    file: e.file,
                })
                .collect();
            enc.write_file_table(id, &entries)
        }
        BodyJson::File(f) => {
            let path = f.path.to_bytes()?;
            let handle;
            let variant = match &f.variant {
                FileVariantJson::Regular => FileVariant::Regular,
                FileVariantJson::Ext {
                    generation,
                    handle_type,
                    handle: h,
                } => {
                    handle = unhex(h)?;
                    FileVariant::Ext {
                        generation: *generation,
                        handle_type: *handle_type,
                        handle: &handle,
                    }
                }
                FileVariantJson::Directory { cookie } => FileVariant::Directory {
                    cookie: cookie_mode(cookie)?,
                },
                FileVariantJson::ExtDirectory {
                    generation,
                    handle_type,
                    handle: h,
                    cookie,
                } => {
                    handle = unhex(h)?;
                    FileVariant::ExtDirectory {
                        generation: *generation,
                        handle_type: *handle_type,
                        handle: &handle,
                        cookie: cookie_mode(cookie)?,
                    }
                }
                FileVariantJson::CharDevice { rdev } => FileVariant::CharDevice { rdev: *rdev },
                FileVariantJson::External { fd_kind } => FileVariant::External {
                    fd_kind: ExternalFdKind(resolve(fd_kind, "fd kind", |n| {
                        (0..4)
                            .map(ExternalFdKind)
                            .find(|k| k.name() == Some(n))
                            .map(|k| k.0)
                    })?),
                },
                FileVariantJson::Unlinked { data_len } => FileVariant::Unlinked {
                    data_len: *data_len,
                },
                FileVariantJson::Memfd {
                    seals,
                    data_len,
                    name: n,
                } => {
                    handle = n.to_bytes()?;
                    FileVariant::Memfd {
                        seals: *seals,
                        data_len: *data_len,
                        name: &handle,
                    }
                }
            };
            enc.write_file(
                id,
                &File {
                    f_flags: f.f_flags,
                    f_mode: f.f_mode,
                    mode: f.mode,
                    pos: f.pos,
                    dev: f.dev,
                    ino: f.ino,
                    size: f.size,
                    mtime: time_from_json(f.mtime),
                    ctime: time_from_json(f.ctime),
                    path: &path,
                    variant,
                },
            )
        }
        BodyJson::Mm(m) => {
            let mut auxv = Vec::with_capacity(m.auxv.len() * 16);
            for (key, value) in &m.auxv {
                auxv.extend_from_slice(&key.to_le_bytes());
                auxv.extend_from_slice(&parse_u64(&json!(value), "auxv value")?.to_le_bytes());
            }
            let layout = [
                m.start_code,
                m.end_code,
                m.start_data,
                m.end_data,
                m.start_brk,
                m.brk,
                m.start_stack,
                m.arg_start,
                m.arg_end,
                m.env_start,
                m.env_end,
            ];
            let crc = u32::try_from(parse_u64(&json!(m.vdso_crc), "vdso_crc")?)
                .map_err(|_| "vdso_crc exceeds 32 bits".to_owned())?;
            let mm = Mm::new(
                layout,
                m.exe_file,
                (m.vdso_start, m.vdso_len, crc),
                m.personality,
            )
            .with_auxv(&auxv);
            enc.write_mm(id, &mm)
        }
        BodyJson::Vma(v) => {
            let mut prot = 0;
            for (i, c) in v.prot.chars().enumerate() {
                prot |= match (i, c) {
                    (_, '-') => 0,
                    (0, 'r') => PROT_READ,
                    (1, 'w') => PROT_WRITE,
                    (2, 'x') => PROT_EXEC,
                    _ => return Err(format!("bad prot {:?} (e.g. \"r-x\")", v.prot)),
                };
            }
            let mut flags = 0;
            for name in &v.flags {
                let bit = VMA_FLAG_NAMES
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| format!("unknown vma flag {name:?}"))?;
                flags |= 1 << bit;
            }
            let kind = VmaKind(resolve(&v.kind, "vma kind", |n| {
                VmaKind::from_name(n).map(|k| k.0)
            })?);
            enc.write_vma(
                id,
                &Vma {
                    start: v.start,
                    end: v.end,
                    offset: v.file_offset,
                    file: v.file,
                    prot,
                    flags,
                    kind,
                },
            )
        }
        BodyJson::Pages(p) => {
            let data = unhex(&p.data)?;
            let page_size = u32::try_from(data.len() / (p.count.max(1) as usize))
                .map_err(|_| "page data too long".to_owned())?;
            enc.write_pages(id, &Pages::new(p.vma, p.start, page_size, &data))
        }
        BodyJson::FileData(d) => {
            let data = unhex(&d.data)?;
            enc.write_file_data(
                id,
                &FileData {
                    file: d.file,
                    offset: d.file_offset,
                    data: &data,
                },
            )
        }
        BodyJson::Regset(g) => {
            let data = unhex(&g.data)?;
            let note = resolve(&g.note, "note", Regset::note_from_name)?;
            enc.write_regset(id, &Regset { note, data: &data })
        }
        BodyJson::Signals(s) => {
            let mut actions = vec![0u8; SIGACTIONS_LEN];
            let mut last = 0;
            for a in &s.actions {
                if a.signal <= last || a.signal > NSIG {
                    return Err(format!(
                        "action of signal {}: signals must be increasing, 1 to {NSIG}",
                        a.signal
                    ));
                }
                last = a.signal;
                let handler = resolve(&a.handler, "handler", |n| match n {
                    "default" => Some(SigAction::DFL),
                    "ignore" => Some(SigAction::IGN),
                    _ => None,
                })?;
                let action = SigAction {
                    handler,
                    flags: parse_u64(&json!(a.flags), "action flags")?,
                    restorer: a.restorer,
                    mask: parse_u64(&json!(a.mask), "action mask")?,
                };
                let at = (a.signal as usize - 1) * SIGACTION_LEN;
                action.encode(&mut actions[at..at + SIGACTION_LEN]);
            }
            let flags = u32::try_from(parse_u64(&json!(s.altstack.flags), "altstack flags")?)
                .map_err(|_| "altstack flags exceed 32 bits".to_owned())?;
            let signals = Signals::new(
                parse_u64(&json!(s.blocked), "blocked")?,
                (s.altstack.sp, s.altstack.size, flags),
                &actions,
            );
            enc.write_signals(id, &signals)
        }
        BodyJson::TaskState(t) => {
            if t.rlimits.len() != RLIM_NLIMITS as usize {
                return Err(format!(
                    "{} rlimits (all {RLIM_NLIMITS} are needed)",
                    t.rlimits.len()
                ));
            }
            let mut rlimits = [Rlimit::default(); RLIM_NLIMITS as usize];
            for ((l, j), name) in rlimits.iter_mut().zip(&t.rlimits).zip(RLIMIT_NAMES) {
                if j.resource != name {
                    return Err(format!("rlimit {:?} where {name:?} belongs", j.resource));
                }
                let value = |v: &NameOr<u64>| {
                    resolve(v, "rlimit", |n| (n == "unlimited").then_some(RLIM_INFINITY))
                };
                l.cur = value(&j.cur)?;
                l.max = value(&j.max)?;
            }
            let umask = u32::from_str_radix(&t.umask, 8)
                .map_err(|_| format!("bad umask {:?} (octal, e.g. \"0022\")", t.umask))?;
            let rseq_sig = u32::try_from(parse_u64(&json!(t.rseq_sig), "rseq_sig")?)
                .map_err(|_| "rseq_sig exceeds 32 bits".to_owned())?;
            let state = TaskState {
                rseq: t.rseq,
                rseq_len: t.rseq_len,
                rseq_sig,
                robust_list: t.robust_list,
                robust_list_len: t.robust_list_len,
                clear_child_tid: t.clear_child_tid,
                umask,
                pdeath_signal: t.pdeath_signal,
                rlimits,
            };
            enc.write_task_state(id, &state)
        }
        BodyJson::Unknown {
            type_id,
            flags,
            payload,
        } => {
            let rtype = RecordType(*type_id);
            if rtype.is_known() {
                return Err(format!(
                    "type_id {type_id:#06x} is {rtype}: use its own type"
                ));
            }
            let payload = unhex(payload.as_deref().unwrap_or(""))?;
            enc.write_raw_record(rtype, *flags, id, &payload)
        }
    }
    .map_err(|e| e.to_string())
}

/// Parses a directory hash cookie mode as `ckpt show --json` prints it.
fn cookie_mode(name: &str) -> Result<DirCookieMode, String> {
    match name {
        "hash32" => Ok(DirCookieMode::Hash32),
        "hash64" => Ok(DirCookieMode::Hash64),
        other => Err(format!("unknown cookie mode {other:?}")),
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Phase A of a whole-process restart (`CKPT_IOC_RESTART` with `CKPT_RESTART_PROCESS`):
//! validate a process image against the caller and keep the plan, touching nothing of the
//! caller.
//!
//! What is checked, in order: the caller runs alone (one thread, its address space, fd table
//! and signal handlers not shared); the file part as a file-table restart checks it (framing,
//! every record's CRC, the environment and task vectors, fd limits) with the mapped files
//! allowed to have no fd; the recorded credentials against the caller's; the memory records
//! (one MM, ordered disjoint VMAs below `TASK_SIZE_MAX`, none over the caller's vDSO or vvar,
//! PAGES inside a dumped VMA of their own); the registers (64-bit user segments, null data
//! selectors, canonical user ip, sp, fs and gs base; an XSAVE header `XRSTOR` accepts, with
//! components the caller's FPU state has). Then every file, mapped ones included, is reopened
//! with the caller's credentials and identity-checked. The plan ([`Prepared`]) keeps the image
//! bytes (page data is copied from them at commit: the image stays bounded by
//! `CKPT_RESTART_MAX_IMAGE`), the reopened files, the fd slots, the mappings and the registers.

use kernel::{prelude::*, sync::Mutex};

use super::ffi;
use crate::{
    error::{CkptError, CkptResult},
    fdtable::Slot,
    glue::Target,
    image::{
        self, Body, Decoder, FileVariant, Mm, Regset, Signals, TaskState, Vma, VmaKind,
        NT_PRSTATUS, NT_X86_XSTATE, RECORD_HEADER_LEN, RLIMIT_NAMES, RLIM_INFINITY, VMA_GROWSDOWN,
        VMA_NORESERVE, VMA_SHARED,
    },
    restart::{self, Outcome, Plan, Spool},
    uapi,
    vfs::NewFile,
};

/// The end of user space on x86-64 with 4-level page tables (`TASK_SIZE_MAX`): every address
/// of the image (mappings, ip, sp, fs and gs base) must be below it.
pub(crate) const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;

/// Indices of `struct user_regs_struct` (NT_PRSTATUS) fields.
pub(crate) mod reg {
    pub(crate) const RAX: usize = 10;
    pub(crate) const ORIG_RAX: usize = 15;
    pub(crate) const RIP: usize = 16;
    pub(crate) const CS: usize = 17;
    pub(crate) const RSP: usize = 19;
    pub(crate) const SS: usize = 20;
    pub(crate) const FS_BASE: usize = 21;
    pub(crate) const GS_BASE: usize = 22;
    pub(crate) const DS: usize = 23;
    pub(crate) const GS: usize = 26;
    /// Number of registers.
    pub(crate) const COUNT: usize = 27;
}

/// Mapping `start`-`end` of the image overlaps the caller's vDSO or vvar at `s`-`e`.
pub(crate) fn overlap(start: u64, end: u64, s: u64, e: u64) -> CkptError {
    CkptError::other(
        EBUSY,
        format_args!(
            "mapping {start:x}-{end:x} of the image overlaps this process's vDSO or vvar at \
             {s:x}-{e:x} (address space randomisation): retry"
        ),
    )
}

/// `__FMODE_EXEC`, which `open_exec()` puts in `f_flags`.
const FMODE_EXEC_FLAG: u32 = 0o40;

/// `__USER_CS` and `__USER_DS` of x86-64.
const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;

/// One mapping to create at commit.
pub(crate) struct MapPlan {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// `PROT_*`.
    pub(crate) prot: u32,
    /// `ffi::restore_bits`.
    pub(crate) bits: u32,
    /// Index into [`Prepared::files`] of the mapped file.
    pub(crate) file: Option<usize>,
    /// Offset in the file, in bytes.
    pub(crate) offset: u64,
}

/// A run of page data: `len` bytes of the spool at `at`, for address `addr`.
pub(crate) struct PageRun {
    pub(crate) addr: u64,
    pub(crate) at: u64,
    pub(crate) len: u64,
}

/// A validated whole-process restart, kept in the open file of `/dev/ckpt` until
/// `CKPT_IOC_RESTART_COMMIT` (or close).
pub(crate) struct Prepared {
    /// The page data; [`PageRun`]s point into it.
    pub(crate) spool: Spool,
    /// The tgid that validated it: only that process may commit it.
    pub(crate) owner: i32,
    /// The image's fds the module fills, sorted by number, and each one's index in `files`.
    pub(crate) slots: KVVec<Slot>,
    pub(crate) slot_files: KVVec<usize>,
    /// External fds of the image: the caller's files at those numbers stay.
    pub(crate) external: KVVec<u32>,
    /// Every file record reopened, in record order (`None`: external).
    pub(crate) files: KVVec<Option<NewFile>>,
    pub(crate) maps: KVVec<MapPlan>,
    pub(crate) pages: KVVec<PageRun>,
    /// NT_PRSTATUS.
    pub(crate) regs: [u64; reg::COUNT],
    /// The MM record's layout.
    pub(crate) layout: [u64; 11],
    /// The SIGNALS record (`None`: the image has none, the reset defaults stay).
    pub(crate) signals: Option<KBox<ffi::ProcSignals>>,
    /// The TASK_STATE record (`None`: the image has none, the reset defaults stay).
    pub(crate) task_state: Option<KBox<ffi::ProcTaskState>>,
}

/// Refuses unless the caller runs alone: what restart replaces must not be in use elsewhere.
pub(crate) fn check_alone() -> CkptResult<i32> {
    let me = Target::get(0)?;
    if me.threads() != 1 {
        return Err(CkptError::other(
            EBUSY,
            format_args!("the restoring process has other threads"),
        ));
    }
    if me.files_shared() {
        return Err(CkptError::other(
            EBUSY,
            format_args!("another process shares the restoring process's fd table"),
        ));
    }
    // SAFETY: Reads the caller's own task and mm.
    let why = match unsafe { ffi::ckpt_proc_restore_alone() } {
        0 => return Ok(me.ids().tgid),
        2 => "another process shares the restoring process's address space",
        3 => "another process shares the restoring process's signal handlers",
        _ => "the restoring process has other threads",
    };
    Err(CkptError::other(EBUSY, format_args!("{why}")))
}

/// Phase A: validates `image` (framed by the caller) as a process image to restore into the
/// caller, reopens its files and keeps the plan in `prepared`.
pub(crate) fn prepare(
    image: KVVec<u8>,
    max_payload: usize,
    spool: Spool,
    flags: u64,
    out: &mut Outcome,
    prepared: &Mutex<Option<KBox<Prepared>>>,
) -> CkptResult {
    // restart::restart() refused CKPT_RESTART_AS_CALLER without CKPT_RESTART_PROCESS.
    debug_assert!(flags & u64::from(uapi::CKPT_RESTART_PROCESS) != 0);
    // restart::restart() dropped any earlier plan before reading the image.
    let owner = check_alone()?;
    let special = caller_special()?;
    let plan = validate(&image, max_payload, &spool, flags, out, &special)?;
    // The metadata is no longer needed: only the spool and the plan stay.
    drop(image);
    let plan = KBox::new(
        Prepared {
            spool,
            owner,
            slots: plan.slots,
            slot_files: plan.slot_files,
            external: plan.external,
            files: plan.files,
            maps: plan.maps,
            pages: plan.pages,
            regs: plan.regs,
            layout: plan.layout,
            signals: plan.signals,
            task_state: plan.task_state,
        },
        GFP_KERNEL,
    )?;
    *prepared.lock() = Some(plan);
    Ok(())
}

/// [`Prepared`] but the image.
struct Parts {
    slots: KVVec<Slot>,
    slot_files: KVVec<usize>,
    external: KVVec<u32>,
    files: KVVec<Option<NewFile>>,
    maps: KVVec<MapPlan>,
    pages: KVVec<PageRun>,
    regs: [u64; reg::COUNT],
    layout: [u64; 11],
    signals: Option<KBox<ffi::ProcSignals>>,
    task_state: Option<KBox<ffi::ProcTaskState>>,
}

/// The caller's `[vdso]` and `[vvar*]` ranges.
pub(crate) fn caller_special() -> CkptResult<KVec<(u64, u64)>> {
    let mut raw = [0u64; 2 * ffi::RESTORE_SPECIAL_MAX];
    // SAFETY: `raw` has room for `RESTORE_SPECIAL_MAX` pairs.
    let n = unsafe {
        ffi::ckpt_proc_restore_special(raw.as_mut_ptr(), ffi::RESTORE_SPECIAL_MAX as u32)
    };
    if n < 0 {
        return Err(CkptError::interrupted(format_args!(
            "interrupted by a fatal signal while reading the caller's map"
        )));
    }
    let mut ranges = KVec::new();
    for pair in raw.chunks_exact(2).take(n as usize) {
        ranges.push((pair[0], pair[1]), GFP_KERNEL)?;
    }
    Ok(ranges)
}

/// The memory and register records of an image, borrowing from it.
struct Memory<'a> {
    task_id: u64,
    creds: [u32; 8],
    mm: Option<(u64, Mm<'a>)>,
    vmas: KVVec<(u64, Vma)>,
    prstatus: Option<(u64, &'a [u8])>,
    xstate: Option<(u64, &'a [u8])>,
    pages: KVVec<PageRun>,
    signals: Option<(u64, Signals<'a>)>,
    task_state: Option<(u64, TaskState)>,
}

fn validate(
    image: &[u8],
    max_payload: usize,
    spool: &Spool,
    flags: u64,
    out: &mut Outcome,
    special: &[(u64, u64)],
) -> CkptResult<Parts> {
    let mut plan = Plan::parse(image, max_payload, &spool.file_data)?;
    restart::check_environment(&plan, flags)?;
    let mut mem = memory_records(image, max_payload)?;
    mem.pages = page_runs(spool, &mem.vmas)?;
    check_credentials(&mem, flags)?;
    let (mm_id, mm) = mem
        .mm
        .ok_or_else(|| CkptError::bad_image(format_args!("not a process image: no MM record")))?;
    check_layout(mm_id, &mm)?;
    check_data_limit(mm_id, &mm)?;
    if mm.exe_file != 0
        && plan
            .files
            .binary_search_by_key(&mm.exe_file, |f| f.id)
            .is_err()
    {
        return Err(CkptError::bad_image(format_args!(
            "the executable, record {}, is not a file",
            mm.exe_file
        ))
        .in_record(mm_id));
    }
    check_vdso_vma(mm_id, &mm, &mem.vmas)?;
    check_vdso(mm_id, &mm)?;
    let regs = check_regs(&mem)?;
    let signals = mem
        .signals
        .map(|(id, s)| signals_plan(id, &s))
        .transpose()?;
    let task_state = mem
        .task_state
        .map(|(id, t)| task_state_plan(id, &t, &mem.vmas))
        .transpose()?;

    // The mapped files need no fd; they are reopened with the others.
    let mut mapped: KVVec<u64> = KVVec::new();
    for (_, v) in mem.vmas.iter() {
        if v.kind == VmaKind::FILE {
            mapped.push(v.file, GFP_KERNEL)?;
        }
    }
    if mm.exe_file != 0 {
        mapped.push(mm.exe_file, GFP_KERNEL)?;
    }
    mapped.sort_unstable();
    // A file the kernel opened for exec carries `__FMODE_EXEC` in its `f_flags`: not an open
    // flag, and reopening does not need it.
    for rec in plan.files.iter_mut() {
        if mapped.binary_search(&rec.id).is_ok() {
            rec.file.f_flags &= !FMODE_EXEC_FLAG;
        }
    }
    plan.mapped = mapped;
    let fds = plan.fd_table()?;
    // Every fd of the caller is replaced or closed: none is busy.
    let check_flags = flags | u64::from(uapi::CKPT_RESTART_REPLACE_FDS);
    out.nr_external = plan.check_fds(&fds, check_flags)?;

    let maps = plan_maps(&plan, &mem, special)?;
    // Every file's content is checked (size, mtime): a mapped file that changed would put other
    // bytes under the restored program's code and data. CKPT_RESTART_IGNORE_CONTENT is for
    // file-table restarts only.
    let files = plan.reopen(
        &fds,
        flags & !u64::from(uapi::CKPT_RESTART_IGNORE_CONTENT),
        spool,
    )?;
    for m in maps.iter() {
        if let Some(i) = m.file {
            if files[i].is_none() {
                return Err(CkptError::bad_image(format_args!(
                    "mapping {:x}-{:x}: an external file cannot be mapped",
                    m.start, m.end
                ))
                .in_record(plan.files[i].id));
            }
        }
    }

    let mut slots = KVVec::with_capacity(fds.len(), GFP_KERNEL)?;
    let mut slot_files = KVVec::with_capacity(fds.len(), GFP_KERNEL)?;
    let mut external = KVVec::new();
    for u in fds.iter() {
        if files[u.file].is_some() {
            slots.push(u.slot, GFP_KERNEL)?;
            slot_files.push(u.file, GFP_KERNEL)?;
        } else {
            external.push(u.slot.fd, GFP_KERNEL)?;
        }
    }
    out.nr_fds = u32::try_from(slots.len()).unwrap_or(u32::MAX);
    let pages = core::mem::take(&mut mem.pages);
    Ok(Parts {
        slots,
        slot_files,
        external,
        files,
        maps,
        pages,
        regs,
        layout: mm.layout(),
        signals,
        task_state,
    })
}

/// Decodes the image a second time (the file part checked it already) for the task's
/// credentials and the memory and register records.
fn memory_records(image: &[u8], max_payload: usize) -> CkptResult<Memory<'_>> {
    let mut scratch = KVVec::from_elem(0u8, max_payload, GFP_KERNEL)?;
    let mut dec = Decoder::new(image).map_err(|_| EINVAL)?;
    let mut mem = Memory {
        task_id: 0,
        creds: [0; 8],
        mm: None,
        vmas: KVVec::new(),
        prstatus: None,
        xstate: None,
        pages: KVVec::new(),
        signals: None,
        task_state: None,
    };
    let malformed = |id: u64, what: core::fmt::Arguments<'_>| {
        CkptError::bad_image(format_args!("{what}")).in_record(id)
    };
    while let Some(record) = dec
        .next_record(&mut scratch)
        .map_err(|_| CkptError::bad_image(format_args!("malformed image")))?
    {
        let id = record.header.id;
        let at = record.offset as usize + RECORD_HEADER_LEN;
        let payload = image
            .get(at..record.offset as usize + record.header.len as usize)
            .unwrap_or_default();
        match record.body {
            Body::Task(t) if mem.task_id == 0 => {
                mem.task_id = id;
                mem.creds = [
                    t.uid, t.gid, t.euid, t.egid, t.suid, t.sgid, t.fsuid, t.fsgid,
                ];
            }
            Body::Mm(_) => {
                if mem.mm.is_some() {
                    return Err(malformed(id, format_args!("second MM record")));
                }
                let mm = Mm::parse(payload, id).map_err(|_| EINVAL)?;
                mem.mm = Some((id, mm));
            }
            Body::Vma(v) => mem.vmas.push((id, v), GFP_KERNEL)?,
            Body::Signals(_) => {
                if mem.signals.is_some() {
                    return Err(malformed(id, format_args!("second SIGNALS record")));
                }
                // Borrowed from the image, not from the decoder's scratch buffer.
                let s = Signals::parse(payload).map_err(|_| EINVAL)?;
                mem.signals = Some((id, s));
            }
            Body::TaskState(t) => {
                if mem.task_state.is_some() {
                    return Err(malformed(id, format_args!("second TASK_STATE record")));
                }
                mem.task_state = Some((id, t));
            }
            Body::Regset(_) => {
                let r = Regset::parse(payload).map_err(|_| EINVAL)?;
                let slot = match r.note {
                    NT_PRSTATUS => &mut mem.prstatus,
                    NT_X86_XSTATE => &mut mem.xstate,
                    _ => continue,
                };
                if slot.is_some() {
                    return Err(malformed(
                        id,
                        format_args!("second register set {:#x}", r.note),
                    ));
                }
                *slot = Some((id, r.data));
            }
            // Phase 1 moved every PAGES record to the spool (`page_runs`).
            Body::Pages(_) => return Err(malformed(id, format_args!("unexpected PAGES record"))),
            _ => {}
        }
    }
    Ok(mem)
}

/// The spooled PAGES records as runs to write at commit: each inside a dumped mapping of its
/// own (an earlier record: phase 1 checked the reference), no page given twice.
fn page_runs(spool: &Spool, vmas: &[(u64, Vma)]) -> CkptResult<KVVec<PageRun>> {
    let malformed = |id: u64, what: core::fmt::Arguments<'_>| {
        CkptError::bad_image(format_args!("{what}")).in_record(id)
    };
    let mut runs = KVVec::with_capacity(spool.pages.len(), GFP_KERNEL)?;
    let mut order: KVVec<(u64, u64, u64)> = KVVec::with_capacity(spool.pages.len(), GFP_KERNEL)?;
    for p in spool.pages.iter() {
        let end = p.addr.saturating_add(p.len);
        let index = vmas
            .binary_search_by_key(&p.vma, |(vid, _)| *vid)
            .map_err(|_| malformed(p.id, format_args!("pages of record {}", p.vma)))?;
        let v = &vmas[index].1;
        if !v.is_dumped() || p.addr < v.start || end > v.end {
            return Err(malformed(
                p.id,
                format_args!(
                    "pages {:x}-{:x} outside their mapping {:x}-{:x}",
                    p.addr, end, v.start, v.end
                ),
            ));
        }
        runs.push(
            PageRun {
                addr: p.addr,
                at: p.at,
                len: p.len,
            },
            GFP_KERNEL,
        )?;
        order.push((p.addr, end, p.id), GFP_KERNEL)?;
    }
    order.sort_unstable();
    for w in order.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(malformed(
                w[1].2.max(w[0].2),
                format_args!(
                    "pages {:x}-{:x} given twice (records {} and {})",
                    w[1].0,
                    w[0].1.min(w[1].1),
                    w[0].2.min(w[1].2),
                    w[0].2.max(w[1].2)
                ),
            ));
        }
    }
    Ok(runs)
}

/// The recorded uid/gid set must be the caller's, unless restoring as the caller was asked.
fn check_credentials(mem: &Memory<'_>, flags: u64) -> CkptResult {
    if flags & u64::from(uapi::CKPT_RESTART_AS_CALLER) != 0 {
        return Ok(());
    }
    let ids = Target::get(0)?.ids();
    let mine = [
        ids.uid, ids.gid, ids.euid, ids.egid, ids.suid, ids.sgid, ids.fsuid, ids.fsgid,
    ];
    if mine == mem.creds {
        return Ok(());
    }
    let c = &mem.creds;
    Err(CkptError::other(
        EPERM,
        format_args!(
            "the image's credentials (uid {} gid {}, effective {} {}) are not the restoring \
             process's (uid {} gid {}, effective {} {}); CKPT_RESTART_AS_CALLER (ckpt restore \
             --as-caller) restores it with the caller's",
            c[0], c[1], c[2], c[3], mine[0], mine[1], mine[2], mine[3]
        ),
    )
    .in_record(mem.task_id))
}

/// The caller's vDSO must be the image's, byte for byte (the restored program calls into it):
/// same length and CRC-32C. `ckpt restore` moves it to the image's address before the commit.
fn check_vdso(id: u64, mm: &Mm<'_>) -> CkptResult {
    if mm.vdso_len == 0 {
        return Ok(());
    }
    let mut len = 0u64;
    // SAFETY: Reads the caller's own mm; `len` is writable.
    let start = unsafe { ffi::ckpt_proc_restore_vdso(&mut len) };
    let mismatch = |why: core::fmt::Arguments<'_>| {
        CkptError::env_mismatch(format_args!("vDSO: {why}")).in_record(id)
    };
    if start == 0 || len != u64::from(mm.vdso_len) {
        return Err(mismatch(format_args!(
            "the image's has {} bytes, this process's {len}",
            mm.vdso_len
        )));
    }
    let mut buf = KVVec::from_elem(0u8, len as usize, GFP_KERNEL)?;
    let ptr = kernel::uaccess::UserPtr::from_addr(start as usize);
    kernel::uaccess::UserSlice::new(ptr, len as usize)
        .reader()
        .read_slice(&mut buf)?;
    let crc = image::Crc32c::new()
        .update_with(crate::checksum::crc32c, &buf)
        .value();
    if crc != mm.vdso_crc {
        return Err(mismatch(format_args!(
            "its contents differ from the image's (another kernel or CPU features)"
        )));
    }
    Ok(())
}

/// The MM record's vDSO is the image's vDSO mapping: same start and length, or neither (the
/// restored process gets the caller's vDSO, checked against the MM record's, at that mapping's
/// place).
fn check_vdso_vma(id: u64, mm: &Mm<'_>, vmas: &[(u64, Vma)]) -> CkptResult {
    let mut vdso = vmas.iter().filter(|(_, v)| v.kind == VmaKind::VDSO);
    let first = vdso.next();
    if let Some((second, _)) = vdso.next() {
        return Err(CkptError::bad_image(format_args!("a second vDSO mapping")).in_record(*second));
    }
    let ok = match first {
        None => mm.vdso_len == 0,
        Some((_, v)) => v.start == mm.vdso_start && v.end - v.start == u64::from(mm.vdso_len),
    };
    if ok {
        return Ok(());
    }
    let (s, e) = first.map_or((0, 0), |(_, v)| (v.start, v.end));
    Err(CkptError::bad_image(format_args!(
        "the MM record's vDSO ({:x}, {} bytes) is not the image's vDSO mapping ({s:x}-{e:x})",
        mm.vdso_start, mm.vdso_len
    ))
    .in_record(id))
}

/// The MM record's addresses are user addresses.
fn check_layout(id: u64, mm: &Mm<'_>) -> CkptResult {
    if let Some(a) = mm.layout().iter().find(|&&a| a > TASK_SIZE_MAX) {
        return Err(CkptError::bad_image(format_args!(
            "address {a:#x} of the MM record is not a user address"
        ))
        .in_record(id));
    }
    Ok(())
}

/// The heap and data must fit the caller's `RLIMIT_DATA` as phase B's `check_data_rlimit()`
/// computes it (`brk - start_brk + end_data - start_data`, wrapping as there): past the point
/// of no return, that check failing would kill the caller.
fn check_data_limit(id: u64, mm: &Mm<'_>) -> CkptResult {
    let limit = super::caller_soft_limit(kernel::bindings::RLIMIT_DATA)?;
    let l = mm.layout();
    let need = l[5]
        .wrapping_sub(l[4])
        .wrapping_add(l[3].wrapping_sub(l[2]));
    if limit != u64::MAX && need > limit {
        return Err(CkptError::too_large(
            EFBIG,
            format_args!(
                "the image's heap and data ({need} bytes) exceed this process's RLIMIT_DATA \
                 ({limit})"
            ),
        )
        .in_record(id));
    }
    Ok(())
}

/// The registers: 64-bit user code, the ones `IRET` and `XRSTOR` accept.
fn check_regs(mem: &Memory<'_>) -> CkptResult<[u64; reg::COUNT]> {
    let (id, data) = mem.prstatus.ok_or_else(|| {
        CkptError::bad_image(format_args!(
            "not a process image: no NT_PRSTATUS registers"
        ))
    })?;
    let bad = |what: core::fmt::Arguments<'_>| CkptError::bad_image(what).in_record(id);
    if data.len() != reg::COUNT * 8 {
        return Err(bad(format_args!("NT_PRSTATUS of {} bytes", data.len())));
    }
    let mut regs = [0u64; reg::COUNT];
    for (i, r) in regs.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&data[i * 8..i * 8 + 8]);
        *r = u64::from_le_bytes(w);
    }
    if regs[reg::CS] != USER_CS || regs[reg::SS] != USER_DS {
        return Err(bad(format_args!(
            "cs {:#x}, ss {:#x}: not a 64-bit user task",
            regs[reg::CS],
            regs[reg::SS]
        )));
    }
    if regs[reg::DS..=reg::GS].iter().any(|&s| s != 0) {
        return Err(bad(format_args!(
            "data segment selectors are not null (ds, es, fs, gs)"
        )));
    }
    for (name, i) in [
        ("ip", reg::RIP),
        ("sp", reg::RSP),
        ("fs base", reg::FS_BASE),
        ("gs base", reg::GS_BASE),
    ] {
        if regs[i] >= TASK_SIZE_MAX {
            return Err(bad(format_args!(
                "{name} {:#x} is not a user address",
                regs[i]
            )));
        }
    }
    if let Some((xid, xs)) = mem.xstate {
        check_xstate(xs)
            .map_err(|why| CkptError::bad_image(format_args!("{why}")).in_record(xid))?;
    }
    Ok(regs)
}

/// An XSAVE area in the UABI (standard) layout that `XRSTOR` accepts, with components the
/// caller's FPU state has.
fn check_xstate(xs: &[u8]) -> Result<(), &'static str> {
    let u64_at = |at: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&xs[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if xs.len() < image::XSTATE_MIN_LEN as usize {
        return Err("the XSAVE area is too short");
    }
    let mxcsr = u64_at(24) & 0xffff_ffff;
    if mxcsr >> 16 != 0 {
        return Err("MXCSR has reserved bits set");
    }
    if u64_at(520) != 0 || (528..576).any(|i| xs[i] != 0) {
        return Err("the XSAVE header is compacted or has reserved bytes set");
    }
    let (mut user, mut size) = (0u64, 0u32);
    // SAFETY: `current` is a user task running this ioctl; the outputs are writable.
    let ret = unsafe {
        crate::ffi::ckpt_glue_task_fpu(kernel::task::Task::current_raw(), &mut user, &mut size)
    };
    if ret != 0 {
        return Err("the restoring process has no FPU state");
    }
    if u64_at(512) & !user != 0 {
        return Err("the XSAVE area has components this CPU or kernel does not enable");
    }
    Ok(())
}

/// The mappings to create: ordered, disjoint, user addresses, none over the caller's vDSO or
/// vvar (which the restored process keeps) unless the image has its own (user space moves the
/// caller's there before the commit, which checks again); the image's vDSO and vvar are not
/// mapped.
fn plan_maps(
    plan: &Plan<'_>,
    mem: &Memory<'_>,
    special: &[(u64, u64)],
) -> CkptResult<KVVec<MapPlan>> {
    let mut maps = KVVec::with_capacity(mem.vmas.len(), GFP_KERNEL)?;
    let mut prev_end = 0u64;
    let own_special = mem
        .vmas
        .iter()
        .any(|(_, v)| v.kind == VmaKind::VDSO || v.kind == VmaKind::VVAR);
    let special = if own_special { &[][..] } else { special };
    for &(id, v) in mem.vmas.iter() {
        let bad = |what: core::fmt::Arguments<'_>| CkptError::bad_image(what).in_record(id);
        if v.start < prev_end || v.end > TASK_SIZE_MAX {
            return Err(bad(format_args!(
                "mapping {:x}-{:x} overlaps the previous one or is not in user space",
                v.start, v.end
            )));
        }
        prev_end = v.end;
        if v.kind == VmaKind::VDSO || v.kind == VmaKind::VVAR {
            continue;
        }
        if let Some(&(s, e)) = special.iter().find(|&&(s, e)| v.start < e && s < v.end) {
            return Err(overlap(v.start, v.end, s, e).in_record(id));
        }
        let mut bits = 0;
        if v.flags & VMA_SHARED != 0 {
            bits |= ffi::restore_bits::SHARED;
        }
        if v.flags & VMA_GROWSDOWN != 0 {
            bits |= ffi::restore_bits::GROWSDOWN;
        }
        if v.flags & VMA_NORESERVE != 0 {
            bits |= ffi::restore_bits::NORESERVE;
        }
        let file = if v.kind == VmaKind::FILE {
            let i = plan
                .files
                .binary_search_by_key(&v.file, |f| f.id)
                .map_err(|_| bad(format_args!("record {} is not a file", v.file)))?;
            let f = &plan.files[i].file;
            if matches!(f.variant, FileVariant::External { .. }) {
                return Err(bad(format_args!("an external file cannot be mapped")));
            }
            // Only regular files are mapped (mmap of a device or a directory would fail, or
            // do something else, after the point of no return).
            if !matches!(
                f.variant,
                FileVariant::Regular
                    | FileVariant::Ext { .. }
                    | FileVariant::Unlinked { .. }
                    | FileVariant::Memfd { .. }
            ) {
                return Err(bad(format_args!(
                    "record {} is not a regular file and cannot be mapped",
                    v.file
                )));
            }
            let writable = f.f_flags & kernel::bindings::O_ACCMODE != kernel::bindings::O_RDONLY;
            if v.flags & VMA_SHARED != 0 && v.prot & image::PROT_WRITE != 0 && !writable {
                return Err(bad(format_args!(
                    "a writable shared mapping of a file opened read-only"
                )));
            }
            Some(i)
        } else {
            None
        };
        maps.push(
            MapPlan {
                start: v.start,
                end: v.end,
                prot: v.prot,
                bits,
                file,
                offset: if file.is_some() { v.offset } else { 0 },
            },
            GFP_KERNEL,
        )?;
    }
    if maps.is_empty() {
        return Err(CkptError::bad_image(format_args!(
            "not a process image: no mapping"
        )));
    }
    Ok(maps)
}

/// The SIGNALS record as the restore helper takes it. The codec checked it already (SIGKILL and
/// SIGSTOP never blocked, in a handler's mask, or with an action; a consistent altstack).
/// Action flags other than those `sigaction(2)` keeps are refused: checkpoint records none.
fn signals_plan(id: u64, s: &Signals<'_>) -> CkptResult<KBox<ffi::ProcSignals>> {
    // SAFETY: Returns a constant.
    let known = unsafe { ffi::ckpt_proc_restore_sa_flags() };
    if let Some((sig, a)) = s.actions().find(|(_, a)| a.flags & !known != 0) {
        return Err(CkptError::bad_image(format_args!(
            "{}: action flags {:#x} that sigaction(2) does not know",
            image::SigName(sig),
            a.flags & !known
        ))
        .in_record(id));
    }
    let mut out = zeroed_box::<ffi::ProcSignals>()?;
    out.blocked = s.blocked;
    out.altstack_sp = s.altstack_sp;
    out.altstack_size = s.altstack_size;
    out.altstack_flags = s.altstack_flags;
    for ((_, a), slot) in s.actions().zip(out.action.iter_mut()) {
        slot.handler = a.handler;
        slot.flags = a.flags;
        slot.restorer = a.restorer;
        slot.mask = a.mask;
    }
    Ok(out)
}

/// The TASK_STATE record as the restore helper takes it, refused if restart cannot restore it
/// into the caller: a resource limit above the caller's hard limit (restart never raises one),
/// a finite `RLIMIT_CPU` soft limit other than the caller's (its timer cannot be armed from a
/// module), an rseq area `rseq(2)` would refuse or outside a writable mapping of the image.
fn task_state_plan(
    id: u64,
    t: &TaskState,
    vmas: &[(u64, Vma)],
) -> CkptResult<KBox<ffi::ProcTaskState>> {
    let mut mine = zeroed_box::<ffi::ProcTaskState>()?;
    // SAFETY: `current` is valid; the helper writes only `*mine`.
    let ret = unsafe { ffi::ckpt_proc_task_state(kernel::task::Task::current_raw(), &mut *mine) };
    if ret < 0 {
        return Err(Error::from_errno(ret).into());
    }
    for (i, (l, name)) in t.rlimits.iter().zip(RLIMIT_NAMES).enumerate() {
        let [cur, max] = mine.rlim[i];
        if l.max > max {
            return Err(CkptError::other(
                EPERM,
                format_args!(
                    "resource limit {name}: the image's hard limit {} is above this process's                      {}; restart never raises a limit (raise it before restoring)",
                    Limit(l.max),
                    Limit(max)
                ),
            )
            .in_record(id));
        }
        if i == 0 && l.cur != cur && l.cur != RLIM_INFINITY {
            return Err(CkptError::unsupported_state(format_args!(
                "resource limit cpu: the image's soft limit {} is not this process's {};                  restore under `ulimit -S -t {}`",
                Limit(l.cur),
                Limit(cur),
                Limit(l.cur)
            ))
            .in_record(id));
        }
    }
    if t.rseq != 0 {
        let end = t.rseq.saturating_add(u64::from(t.rseq_len));
        // SAFETY: Pure computation on its arguments.
        let valid = unsafe { ffi::ckpt_proc_restore_rseq_valid(t.rseq, t.rseq_len) } != 0;
        let mapped = vmas.iter().any(|(_, v)| {
            v.start <= t.rseq
                && end <= v.end
                && v.prot & image::PROT_WRITE != 0
                && !matches!(v.kind, VmaKind::VDSO | VmaKind::VVAR)
        });
        if !valid || !mapped {
            return Err(CkptError::unsupported_state(format_args!(
                "rseq area {:#x} of {} bytes: {}",
                t.rseq,
                t.rseq_len,
                if valid {
                    "not in a writable mapping of the image"
                } else {
                    "this kernel refuses it (alignment, length, or no CONFIG_RSEQ)"
                }
            ))
            .in_record(id));
        }
    }
    let mut out = zeroed_box::<ffi::ProcTaskState>()?;
    out.rseq = t.rseq;
    out.rseq_len = t.rseq_len;
    out.rseq_sig = t.rseq_sig;
    out.robust_list = t.robust_list;
    out.robust_list_len = t.robust_list_len;
    out.clear_child_tid = t.clear_child_tid;
    out.umask = t.umask;
    out.pdeath_signal = t.pdeath_signal;
    for (dst, l) in out.rlim.iter_mut().zip(t.rlimits.iter()) {
        *dst = [l.cur, l.max];
    }
    Ok(out)
}

/// A resource limit as `prlimit(1)` shows it.
struct Limit(u64);

impl core::fmt::Display for Limit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == RLIM_INFINITY {
            f.write_str("unlimited")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// A zeroed `T` on the heap.
fn zeroed_box<T: Zeroable>() -> CkptResult<KBox<T>> {
    Ok(KBox::init(T::init_zeroed(), GFP_KERNEL)?)
}

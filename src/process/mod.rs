// SPDX-License-Identifier: GPL-2.0

//! Checkpoint of a whole process's state, beyond its file table: its memory and registers.
//!
//! After the task record and its task vector, [`checkpoint`] writes, in this order (see
//! `Documentation/image-format.rst`, *Process state*): the file records of mapped files (the
//! executable, libraries, data files), the MM record, one VMA record per mapping, the REGSET
//! records, the SIGNALS and TASK_STATE records, and last the PAGES records, so that everything
//! a restarter validates precedes the page data.
//!
//! Layout: `ffi` declares the C helpers of `src/process_c.c`; `mm` wraps an address space
//! (every read takes and drops the mmap lock); `vma` decides what a mapping is or why it is
//! refused; `regs` reads the register sets; `sigstate` the signal and task state; `pages`
//! streams page contents in bounded batches.
//!
//! Restart of a whole process into the caller: `restore_prepare` is phase A (validate, keep the
//! plan in the open file), `restore_commit` phase B (the caller becomes the image's process).

mod ffi;
mod mm;
mod pages;
mod regs;
mod restore_commit;
mod restore_prepare;
mod sigstate;
mod vma;

pub(crate) use self::restore_commit::commit;
pub(crate) use self::restore_prepare::{prepare, Prepared};
pub(crate) use self::sigstate::caller_soft_limit;

use core::fmt;

use kernel::{prelude::*, task::Task};

use crate::{
    checkpoint::{self, encode_error},
    checksum,
    error::{CkptError, CkptResult},
    files,
    glue::OpenFile,
    image::{self, Crc32c, Encoder, Mm, VmaKind, PATH_MAX},
    vfs::FsContext,
};

use self::mm::{MmRef, VmaInfo};

/// `TMPFS_MAGIC`: shmem, which also backs shared anonymous memory and SysV segments.
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// Most mappings a process may have here (the default `vm.max_map_count` is 65530).
const MAX_VMAS: usize = 1 << 17;

/// Writes the memory of `task` (mapped files, MM, VMAs, pages) through `enc`; `fs` is the
/// task's root and cwd, `records` follows the records written. Returns the number of pages.
pub(crate) fn checkpoint<S: image::Sink<Error = CkptError>>(
    task: &Task,
    fs: &FsContext,
    enc: &mut Encoder<S>,
    records: &mut u64,
) -> CkptResult<u64> {
    refuse_state(task)?;
    let mm = MmRef::of(task).ok_or_else(|| {
        CkptError::target(
            ESRCH,
            format_args!("the task has no address space (exiting?)"),
        )
    })?;
    let info = mm.info().map_err(interrupted)?;

    // Pass 1: every mapping, each classified (or refused) before anything is written.
    let mut maps: KVVec<(VmaInfo, vma::Plan)> = KVVec::new();
    let mut addr = 0;
    while let Some(v) = mm.next_vma(addr).map_err(interrupted)? {
        addr = v.end;
        if maps.len() >= MAX_VMAS {
            return Err(CkptError::too_large(
                E2BIG,
                format_args!("more than {MAX_VMAS} mappings"),
            ));
        }
        let plan = vma::plan(&v, &info)?;
        maps.push((v, plan), GFP_KERNEL)?;
    }

    // The mapped files, each open file description once, the executable first.
    let mut written: KVVec<(usize, u64)> = KVVec::new();
    let mut path = KVVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?;
    let mut scratch: files::Scratch = [0; image::FILE_HANDLE_MAX];
    let mut file_id = |file: &OpenFile,
                       what: fmt::Arguments<'_>,
                       enc: &mut Encoder<S>,
                       records: &mut u64|
     -> CkptResult<u64> {
        if let Some(&(_, id)) = written.iter().find(|(k, _)| *k == file.key()) {
            return Ok(id);
        }
        let id = enc.next_id();
        write_mapped_file(file, what, fs, &mut path, &mut scratch, id, enc)?;
        *records = enc.records_written();
        written.push((file.key(), id), GFP_KERNEL)?;
        Ok(id)
    };
    let exe_file = match &info.exe_file {
        Some(f) => file_id(f, format_args!("executable"), enc, records)?,
        None => 0,
    };
    for (v, plan) in maps.iter_mut() {
        if plan.vma.kind == VmaKind::FILE {
            if let Some(f) = &v.file {
                let what = format_args!("mapping {:x}-{:x}", v.start, v.end);
                plan.vma.file = file_id(f, what, enc, records)?;
            }
        }
    }

    // The MM record, with the vDSO's identity.
    let mut buf = KVVec::from_elem(0u8, ffi::BATCH * kernel::page::PAGE_SIZE, GFP_KERNEL)?;
    let vdso = match maps.iter().find(|(_, p)| p.vma.kind == VmaKind::VDSO) {
        Some((v, _)) => vdso_identity(&mm, v, &mut buf)?,
        None => (0, 0, 0),
    };
    let mut auxv = [0u8; ffi::AUXV_WORDS * 8];
    for (dst, word) in auxv
        .chunks_exact_mut(8)
        .zip(info.auxv.iter().take(info.auxv_words))
    {
        dst.copy_from_slice(&word.to_le_bytes());
    }
    let auxv = &auxv[..info.auxv_words * 8];
    let record = Mm::new(info.layout, exe_file, vdso, task_personality(task)).with_auxv(auxv);
    let mm_id = enc.next_id();
    enc.write_mm(mm_id, &record).map_err(encode_error)?;

    // One VMA record per mapping.
    let mut ids: KVVec<u64> = KVVec::with_capacity(maps.len(), GFP_KERNEL)?;
    for (_, plan) in maps.iter() {
        let id = enc.next_id();
        enc.write_vma(id, &plan.vma).map_err(encode_error)?;
        ids.push(id, GFP_KERNEL)?;
    }
    *records = enc.records_written();

    // The registers.
    regs::write(task, enc)?;
    *records = enc.records_written();

    // The signal and task state.
    sigstate::write(task, enc)?;
    *records = enc.records_written();

    // Last, the pages.
    let mut pages = 0;
    for ((_, plan), &id) in maps.iter().zip(ids.iter()) {
        if let Some(mode) = plan.pages {
            pages += pages::write(&mm, &plan.vma, id, mode, &mut buf, enc, records)?;
        }
    }
    Ok(pages)
}

/// Refuses, naming it, process state that is not saved yet (deny by default).
fn refuse_state(task: &Task) -> CkptResult {
    // SAFETY: `task` is valid (the caller holds a reference) and is the caller or stopped.
    let bits = unsafe { ffi::ckpt_proc_state(task.as_ptr()) };
    match ffi::STATE_REFUSALS.iter().find(|(bit, _)| bits & bit != 0) {
        Some((_, why)) => Err(CkptError::unsupported_state(format_args!("{why}"))),
        None => Ok(()),
    }
}

/// `task->personality`.
fn task_personality(task: &Task) -> u32 {
    // SAFETY: `task` is valid (the caller holds a reference); the helper reads one integer.
    unsafe { ffi::ckpt_proc_personality(task.as_ptr()) }
}

/// Start, length and CRC-32C of the vDSO's bytes.
fn vdso_identity(mm: &MmRef, v: &VmaInfo, buf: &mut [u8]) -> CkptResult<(u64, u32, u32)> {
    let len = usize::try_from(v.end - v.start).map_err(|_| EOVERFLOW)?;
    let data = buf.get_mut(..len).ok_or_else(|| {
        CkptError::unsupported_memory(format_args!("vDSO of {len} bytes is larger than expected"))
    })?;
    let present = mm
        .copy_pages(v.start, ffi::mode::FORCE, data)
        .map_err(interrupted)?;
    let pages = len / kernel::page::PAGE_SIZE;
    if present != u64::MAX >> (64 - pages) {
        return Err(CkptError::other(
            EIO,
            format_args!("the vDSO at {:x} could not be read", v.start),
        ));
    }
    let crc = Crc32c::new().update_with(checksum::crc32c, data).value();
    Ok((v.start, len as u32, crc))
}

/// Writes the FILE record of a mapped file through the file checkpoint implementations: the
/// same deny-by-default registry and identity data as descriptors.
fn write_mapped_file<S: image::Sink<Error = CkptError>>(
    file: &OpenFile,
    what: fmt::Arguments<'_>,
    fs: &FsContext,
    path_buf: &mut [u8],
    scratch: &mut files::Scratch,
    id: u64,
    enc: &mut Encoder<S>,
) -> CkptResult {
    let facts = file.facts()?;
    // shmem backs shared anonymous memory and SysV segments with unlinked files: name them
    // for what they are rather than "unlinked file".
    if facts.s_magic == TMPFS_MAGIC && facts.unlinked != 0 {
        let name = facts.name();
        if name.starts_with(b"SYSV") {
            return Err(CkptError::unsupported_memory(format_args!(
                "{what}: SysV shared memory segments are not supported yet"
            )));
        }
        if name == b"dev/zero" {
            return Err(CkptError::unsupported_memory(format_args!(
                "{what}: shared anonymous memory is not supported yet"
            )));
        }
    }
    checkpoint::write_file_record(file, fs, path_buf, scratch, id, enc).map_err(|e| e.about(what))
}

/// A failed read of the address space: a fatal signal, or out of memory.
fn interrupted(e: Error) -> CkptError {
    if e == EINTR {
        CkptError::interrupted(format_args!(
            "interrupted by a fatal signal while reading memory"
        ))
    } else {
        CkptError::other(e, format_args!("reading the task's memory failed ({e:?})"))
    }
}

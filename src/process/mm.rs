// SPDX-License-Identifier: GPL-2.0

//! A reference to a task's address space and the three reads checkpoint makes of it: its
//! layout facts, its mappings one by one, and page contents in bounded batches. Each read
//! takes the mmap lock for reading and drops it before returning (in `src/process_c.c`), so
//! the image is never written with the lock held.

use core::ptr::NonNull;

use kernel::{bindings, prelude::*, task::Task};

use super::ffi::{self, ProcMm, ProcVma, AUXV_WORDS, BATCH};
use crate::glue::OpenFile;

/// A counted reference to an `mm_struct` (`mmget`), released with `mmput`.
///
/// # Invariants
///
/// `mm` is a valid mm whose user count this value holds one of.
pub(crate) struct MmRef {
    mm: NonNull<bindings::mm_struct>,
}

/// What [`MmRef::info`] reads.
pub(crate) struct MmInfo {
    /// Layout: code, data, brk, stack, args, env, as in the MM record.
    pub(crate) layout: [u64; 11],
    /// Swapped-out anonymous pages.
    pub(crate) swapents: u64,
    /// `saved_auxv`, up to and excluding `AT_NULL`.
    pub(crate) auxv: [u64; AUXV_WORDS],
    /// Words of `auxv` in use (even).
    pub(crate) auxv_words: usize,
    /// The executable.
    pub(crate) exe_file: Option<OpenFile>,
}

/// One mapping, as [`MmRef::next_vma`] reads it.
pub(crate) struct VmaInfo {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// Offset of `start` in the file, in pages.
    pub(crate) pgoff: u64,
    /// `CKPT_PROC_*` bits.
    pub(crate) bits: u32,
    /// Special mapping name (`[vdso]`), empty if none.
    pub(crate) name: [u8; 32],
    /// The mapped file.
    pub(crate) file: Option<OpenFile>,
}

impl VmaInfo {
    /// The special mapping name's bytes.
    pub(crate) fn name(&self) -> &[u8] {
        crate::vfs::until_nul(&self.name)
    }
}

/// Takes ownership of a file reference the helpers took, if any.
fn own_file(file: *mut bindings::file) -> Option<OpenFile> {
    // SAFETY: The helpers return either NULL or a valid file with a reference taken for us.
    NonNull::new(file).map(|f| unsafe { OpenFile::from_raw(f) })
}

impl MmRef {
    /// The address space of `task`; `None` for a kernel thread or an exiting task.
    pub(crate) fn of(task: &Task) -> Option<Self> {
        // SAFETY: `task` is valid for the duration of the call (we hold a reference to it);
        // `get_task_mm` returns NULL or an mm with its user count raised.
        let mm = unsafe { bindings::get_task_mm(task.as_ptr()) };
        // INVARIANT: A non-null result carries the user count we now own.
        NonNull::new(mm).map(|mm| Self { mm })
    }

    /// Reads the layout facts, the auxiliary vector and the executable.
    pub(crate) fn info(&self) -> Result<MmInfo> {
        let mut raw = ProcMm {
            start_code: 0,
            end_code: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            vdso: 0,
            swapents: 0,
            auxv: [0; AUXV_WORDS],
            exe_file: core::ptr::null_mut(),
        };
        // SAFETY: `self.mm` is valid by the type invariant; `raw` is writable.
        let ret = unsafe { ffi::ckpt_proc_mm_info(self.mm.as_ptr(), &mut raw) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        let exe_file = own_file(raw.exe_file);
        let auxv_words = raw
            .auxv
            .chunks_exact(2)
            .position(|pair| pair[0] == 0)
            .unwrap_or(AUXV_WORDS / 2)
            * 2;
        Ok(MmInfo {
            layout: [
                raw.start_code,
                raw.end_code,
                raw.start_data,
                raw.end_data,
                raw.start_brk,
                raw.brk,
                raw.start_stack,
                raw.arg_start,
                raw.arg_end,
                raw.env_start,
                raw.env_end,
            ],
            swapents: raw.swapents,
            auxv: raw.auxv,
            auxv_words,
            exe_file,
        })
    }

    /// The first mapping ending above `addr`, or `None` past the last one.
    pub(crate) fn next_vma(&self, addr: u64) -> Result<Option<VmaInfo>> {
        let mut raw = ProcVma::zeroed();
        // SAFETY: `self.mm` is valid by the type invariant; `raw` is writable.
        let ret = unsafe { ffi::ckpt_proc_next_vma(self.mm.as_ptr(), addr, &mut raw) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        if ret > 0 {
            return Ok(None);
        }
        Ok(Some(VmaInfo {
            start: raw.start,
            end: raw.end,
            pgoff: raw.pgoff,
            bits: raw.bits,
            name: raw.name,
            file: own_file(raw.file),
        }))
    }

    /// Copies the present pages of `buf.len() / PAGE_SIZE` pages at `start` (at most
    /// [`BATCH`], inside one mapping) into `buf`; returns the bitmap of pages copied.
    /// `EAGAIN` if the mapping changed.
    pub(crate) fn copy_pages(&self, start: u64, mode: u32, buf: &mut [u8]) -> Result<u64> {
        let nr = buf.len() / kernel::page::PAGE_SIZE;
        if nr == 0 || nr > BATCH || buf.len() % kernel::page::PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let mut present = 0u64;
        // SAFETY: `self.mm` is valid by the type invariant; `buf` is writable for `nr` pages,
        // which is all the helper writes; `present` is writable.
        let ret = unsafe {
            ffi::ckpt_proc_copy_pages(
                self.mm.as_ptr(),
                start,
                nr as u32,
                mode,
                buf.as_mut_ptr(),
                &mut present,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(present)
    }
}

impl Drop for MmRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold one user count of `self.mm`.
        unsafe { bindings::mmput(self.mm.as_ptr()) };
    }
}

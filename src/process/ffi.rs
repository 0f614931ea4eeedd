// SPDX-License-Identifier: GPL-2.0

//! The C helpers of `src/process_c.c` as the process modules name them. Their declarations and
//! structs are bindgen's, generated from `src/process_c.h` with the rest of the glue (see
//! [`crate::ffi`]); this module only re-exports them and gives the `CKPT_PROC_*` constants Rust
//! names. A `ckpt_proc_*` function added to the header is reachable here without a line of Rust.

pub(crate) use crate::ffi::*;

/// `CKPT_PROC_AUXV_WORDS`: `saved_auxv` words copied.
pub(crate) const AUXV_WORDS: usize = CKPT_PROC_AUXV_WORDS as usize;

/// `CKPT_PROC_BATCH`: most pages one [`ckpt_proc_copy_pages`] call copies.
pub(crate) const BATCH: usize = CKPT_PROC_BATCH as usize;

/// `struct ckpt_proc_mm`.
pub(crate) type ProcMm = ckpt_proc_mm;

/// `struct ckpt_proc_vma`.
pub(crate) type ProcVma = ckpt_proc_vma;

/// `CKPT_PROC_*` bits of [`ProcVma::bits`].
pub(crate) mod bits {
    pub(crate) use crate::ffi::{
        CKPT_PROC_ANON as ANON, CKPT_PROC_DONTCOPY as DONTCOPY, CKPT_PROC_DONTDUMP as DONTDUMP,
        CKPT_PROC_EXEC as EXEC, CKPT_PROC_GROWSDOWN as GROWSDOWN, CKPT_PROC_HUGEPAGE as HUGEPAGE,
        CKPT_PROC_HUGETLB as HUGETLB, CKPT_PROC_IO as IO, CKPT_PROC_LOCKED as LOCKED,
        CKPT_PROC_LOCKONFAULT as LOCKONFAULT, CKPT_PROC_MAYEXEC as MAYEXEC,
        CKPT_PROC_MAYWRITE as MAYWRITE, CKPT_PROC_NOHUGEPAGE as NOHUGEPAGE,
        CKPT_PROC_NORESERVE as NORESERVE, CKPT_PROC_RAND_READ as RAND_READ, CKPT_PROC_READ as READ,
        CKPT_PROC_SEQ_READ as SEQ_READ, CKPT_PROC_SHADOW_STACK as SHADOW_STACK,
        CKPT_PROC_SHARED as SHARED, CKPT_PROC_UFFD as UFFD, CKPT_PROC_WIPEONFORK as WIPEONFORK,
        CKPT_PROC_WRITE as WRITE,
    };
}

/// `CKPT_PROC_ST_*` bits of `ckpt_proc_state()`, with what the refusal says.
pub(crate) const STATE_REFUSALS: [(u32, &str); 5] = [
    (
        CKPT_PROC_ST_SECCOMP,
        "seccomp filters are not supported yet",
    ),
    (
        CKPT_PROC_ST_POSIX_TIMERS,
        "POSIX timers (timer_create) are not supported yet",
    ),
    (
        CKPT_PROC_ST_ITIMERS,
        "interval timers (setitimer) are not supported yet",
    ),
    (
        CKPT_PROC_ST_LDT,
        "a local descriptor table (modify_ldt) is not supported yet",
    ),
    (
        CKPT_PROC_ST_IO_URING,
        "io_uring instances are not supported yet",
    ),
];

/// `ckpt_proc_copy_pages()` modes (`CKPT_PROC_PAGES_*`).
pub(crate) mod mode {
    /// Anonymous VMA: every present page.
    pub(crate) use crate::ffi::CKPT_PROC_PAGES_ALL as ALL;
    /// Private file VMA: only anonymous (copied-on-write) pages, without faulting.
    pub(crate) use crate::ffi::CKPT_PROC_PAGES_ANON as ANON;
    /// The same, faulting in swapped-out pages (and so page cache pages too).
    pub(crate) use crate::ffi::CKPT_PROC_PAGES_ANON_SWAP as ANON_SWAP;
    /// Every page, faulting it in (the vDSO).
    pub(crate) use crate::ffi::CKPT_PROC_PAGES_FORCE as FORCE;
}

/// `struct ckpt_proc_signals`: signal state (SIGNALS record).
pub(crate) type ProcSignals = ckpt_proc_signals;

/// `struct ckpt_proc_task_state`: per-task state (TASK_STATE record).
pub(crate) type ProcTaskState = ckpt_proc_task_state;

/// `CKPT_PROC_RESTORE_*` bits of [`ckpt_proc_restore_map`].
pub(crate) mod restore_bits {
    pub(crate) const SHARED: u32 = super::CKPT_PROC_RESTORE_SHARED;
    pub(crate) const GROWSDOWN: u32 = super::CKPT_PROC_RESTORE_GROWSDOWN;
    pub(crate) const NORESERVE: u32 = super::CKPT_PROC_RESTORE_NORESERVE;
}

/// `CKPT_PROC_RESTORE_SPECIAL_MAX`: most `[vdso]`/`[vvar*]` ranges
/// [`ckpt_proc_restore_special`] reports.
pub(crate) const RESTORE_SPECIAL_MAX: usize = CKPT_PROC_RESTORE_SPECIAL_MAX as usize;

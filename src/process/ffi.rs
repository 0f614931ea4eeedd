// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `src/process_c.c` (mirroring `src/process_c.h`), with the
//! structs they fill. Only pointers to kernel structs cross the boundary; the structs here hold
//! fixed-size fields, and both sides assert their sizes.

use kernel::bindings;

/// `CKPT_PROC_AUXV_WORDS`: `saved_auxv` words copied.
pub(crate) const AUXV_WORDS: usize = 64;

/// `CKPT_PROC_BATCH`: most pages one [`ckpt_proc_copy_pages`] call copies.
pub(crate) const BATCH: usize = 64;

/// `struct ckpt_proc_mm`.
#[repr(C)]
pub(crate) struct ProcMm {
    pub(crate) start_code: u64,
    pub(crate) end_code: u64,
    pub(crate) start_data: u64,
    pub(crate) end_data: u64,
    pub(crate) start_brk: u64,
    pub(crate) brk: u64,
    pub(crate) start_stack: u64,
    pub(crate) arg_start: u64,
    pub(crate) arg_end: u64,
    pub(crate) env_start: u64,
    pub(crate) env_end: u64,
    pub(crate) vdso: u64,
    pub(crate) swapents: u64,
    pub(crate) auxv: [u64; AUXV_WORDS],
    pub(crate) exe_file: *mut bindings::file,
}

/// `struct ckpt_proc_vma`.
#[repr(C)]
pub(crate) struct ProcVma {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) pgoff: u64,
    pub(crate) file: *mut bindings::file,
    pub(crate) bits: u32,
    reserved: u32,
    pub(crate) name: [u8; 32],
}

impl ProcVma {
    /// All fields zero, for the helper to fill in.
    pub(crate) fn zeroed() -> Self {
        Self {
            start: 0,
            end: 0,
            pgoff: 0,
            file: core::ptr::null_mut(),
            bits: 0,
            reserved: 0,
            name: [0; 32],
        }
    }
}

const _: () = assert!(core::mem::size_of::<ProcVma>() == 72);
const _: () = assert!(core::mem::size_of::<ProcMm>() == 13 * 8 + AUXV_WORDS * 8 + 8);

/// `CKPT_PROC_*` bits of [`ProcVma::bits`].
pub(crate) mod bits {
    pub(crate) const READ: u32 = 1 << 0;
    pub(crate) const WRITE: u32 = 1 << 1;
    pub(crate) const EXEC: u32 = 1 << 2;
    pub(crate) const SHARED: u32 = 1 << 3;
    pub(crate) const GROWSDOWN: u32 = 1 << 4;
    pub(crate) const LOCKED: u32 = 1 << 5;
    pub(crate) const LOCKONFAULT: u32 = 1 << 6;
    pub(crate) const NORESERVE: u32 = 1 << 7;
    pub(crate) const DONTCOPY: u32 = 1 << 8;
    pub(crate) const DONTDUMP: u32 = 1 << 9;
    pub(crate) const WIPEONFORK: u32 = 1 << 10;
    pub(crate) const HUGEPAGE: u32 = 1 << 11;
    pub(crate) const NOHUGEPAGE: u32 = 1 << 12;
    pub(crate) const SEQ_READ: u32 = 1 << 13;
    pub(crate) const RAND_READ: u32 = 1 << 14;
    pub(crate) const MAYWRITE: u32 = 1 << 15;
    pub(crate) const MAYEXEC: u32 = 1 << 16;
    pub(crate) const ANON: u32 = 1 << 17;
    pub(crate) const IO: u32 = 1 << 18;
    pub(crate) const HUGETLB: u32 = 1 << 19;
    pub(crate) const UFFD: u32 = 1 << 20;
    pub(crate) const SHADOW_STACK: u32 = 1 << 21;
}

/// `CKPT_PROC_ST_*` bits of `ckpt_proc_state()`, with what the refusal says.
pub(crate) const STATE_REFUSALS: [(u32, &str); 5] = [
    (1 << 0, "seccomp filters are not supported yet"),
    (1 << 1, "POSIX timers (timer_create) are not supported yet"),
    (1 << 2, "interval timers (setitimer) are not supported yet"),
    (
        1 << 3,
        "a local descriptor table (modify_ldt) is not supported yet",
    ),
    (1 << 4, "io_uring instances are not supported yet"),
];

/// `ckpt_proc_copy_pages()` modes.
pub(crate) mod mode {
    /// Anonymous VMA: every present page.
    pub(crate) const ALL: u32 = 0;
    /// Private file VMA: only anonymous (copied-on-write) pages, without faulting.
    pub(crate) const ANON: u32 = 1;
    /// The same, faulting in swapped-out pages (and so page cache pages too).
    pub(crate) const ANON_SWAP: u32 = 2;
    /// Every page, faulting it in (the vDSO).
    pub(crate) const FORCE: u32 = 3;
}

// Only pointers to kernel structs cross this boundary, never the structs themselves.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn ckpt_proc_mm_info(mm: *mut bindings::mm_struct, out: *mut ProcMm) -> i32;
    pub(crate) fn ckpt_proc_next_vma(
        mm: *mut bindings::mm_struct,
        addr: u64,
        out: *mut ProcVma,
    ) -> i32;
    pub(crate) fn ckpt_proc_state(task: *mut bindings::task_struct) -> u32;
    pub(crate) fn ckpt_proc_regset(
        task: *mut bindings::task_struct,
        note: u32,
        buf: *mut u8,
        size: u32,
    ) -> i32;
    pub(crate) fn ckpt_proc_personality(task: *mut bindings::task_struct) -> u32;
    pub(crate) fn ckpt_proc_copy_pages(
        mm: *mut bindings::mm_struct,
        start: u64,
        nr: u32,
        mode: u32,
        buf: *mut u8,
        present: *mut u64,
    ) -> isize;
}

// ---- restart: whole-process restart into the caller (`src/process_c.c`, `/* restart */`) ----

/// `CKPT_PROC_RESTORE_*` bits of [`ckpt_proc_restore_map`].
pub(crate) mod restore_bits {
    pub(crate) const SHARED: u32 = 1 << 0;
    pub(crate) const GROWSDOWN: u32 = 1 << 1;
    pub(crate) const NORESERVE: u32 = 1 << 2;
}

/// `CKPT_PROC_RESTORE_SPECIAL_MAX`.
pub(crate) const RESTORE_SPECIAL_MAX: usize = 4;

// Only pointers to kernel structs cross this boundary, never the structs themselves.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn ckpt_proc_restore_alone() -> i32;
    pub(crate) fn ckpt_proc_restore_special(ranges: *mut u64, max: u32) -> i32;
    pub(crate) fn ckpt_proc_restore_reset();
    pub(crate) fn ckpt_proc_restore_unmap() -> i32;
    pub(crate) fn ckpt_proc_restore_map(
        file: *mut bindings::file,
        start: u64,
        len: u64,
        prot: u32,
        bits: u32,
        offset: u64,
    ) -> i32;
    pub(crate) fn ckpt_proc_restore_fill(addr: u64, data: *const u8, len: u32) -> i32;
    pub(crate) fn ckpt_proc_restore_mm(layout: *const u64) -> i32;
    pub(crate) fn ckpt_proc_restore_regs(regs: *const u64) -> i32;
    pub(crate) fn ckpt_proc_restore_vdso(len: *mut u64) -> u64;
    pub(crate) fn ckpt_proc_restore_kill();
}

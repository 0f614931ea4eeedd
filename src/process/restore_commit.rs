// SPDX-License-Identifier: GPL-2.0

//! Phase B of a whole-process restart (`CKPT_IOC_RESTART_COMMIT`): the caller becomes the
//! process of the plan phase A kept.
//!
//! Before the point of no return only what is cheap to check is: a plan exists, made by this
//! process, which still runs alone. Then, in order: the image's fd table replaces the caller's
//! (every other fd of the caller closed, external ones kept; all or nothing, so a failure here
//! still returns an error); caller state the image does not replace is reset (rseq, robust
//! list, child tid pointers, altstack, signal actions and mask); every mapping but the vDSO
//! and vvar is unmapped; the image's mappings are created with their final protection and
//! their pages written; the mm's layout fields set; the image's signal actions, altstack and
//! blocked mask, rseq registration, robust list, `clear_child_tid`, umask, parent-death signal
//! and resource limits (only ever lowered) set; the user registers written. A failure
//! after the fd table is in place kills the caller (as a failed exec does), the reason logged.
//! On success the ioctl returns to the image's code, not to its caller's.

use kernel::{prelude::*, sync::Mutex};

use super::{
    ffi,
    restore_prepare::{self, reg, Prepared},
};
use crate::{
    error::{self, CkptError, CkptResult, Report},
    fdtable::{Reservation, Slot},
    glue::Target,
    uapi::{self, ckpt_restart_commit},
    vfs::NewFile,
};

/// `-ERESTARTSYS`, `-ERESTARTNOINTR`, `-ERESTARTNOHAND`, `-ERESTART_RESTARTBLOCK`.
const ERESTARTSYS: i64 = -512;
const ERESTARTNOINTR: i64 = -513;
const ERESTARTNOHAND: i64 = -514;
const ERESTART_RESTARTBLOCK: i64 = -516;
const EINTR: i64 = -4;

/// Most bytes written into the caller's memory at once.
const FILL_CHUNK: usize = 64 * 4096;

impl Report for ckpt_restart_commit {
    fn log(&self) -> (u64, u32) {
        (self.log_buf, self.log_size)
    }

    fn set_error(&mut self, _error: Option<&CkptError>) {}
}

/// Handles `CKPT_IOC_RESTART_COMMIT`.
pub(crate) fn commit(
    arg: usize,
    user_size: usize,
    prepared: &Mutex<Option<KBox<Prepared>>>,
) -> Result {
    let mut args: ckpt_restart_commit =
        uapi::read_ext(arg, user_size, uapi::CKPT_RESTART_COMMIT_SIZE_VER0 as usize)?;
    let plan = match take_plan(&args, prepared) {
        Ok(plan) => plan,
        Err(e) => return error::report(arg, user_size, &mut args, Err(e)),
    };
    // The vDSO and vvar stay: none of the image's mappings may be where they are now.
    if let Err(e) = check_special(&plan) {
        return error::report(arg, user_size, &mut args, Err(e));
    }
    // The bounce buffer for page data, allocated while a failure is still a refusal.
    let mut bounce = match KVVec::from_elem(0u8, FILL_CHUNK, GFP_KERNEL) {
        Ok(b) => b,
        Err(e) => return error::report(arg, user_size, &mut args, Err(e.into())),
    };
    // The fd table: all or nothing, still refusable.
    if let Err(e) = install_fds(&plan) {
        return error::report(arg, user_size, &mut args, Err(e));
    }
    // The point of no return: the caller's memory goes.
    match become_image(&plan, &mut bounce) {
        Ok(()) => Ok(()),
        Err((what, e)) => {
            pr_err!(
                "restart of a process into pid {}: {what} failed ({e:?}); killed\n",
                plan.owner
            );
            // SAFETY: Sends SIGKILL to the caller itself.
            unsafe { ffi::ckpt_proc_restore_kill() };
            Err(e)
        }
    }
}

/// The plan of this open file, if this process made it and still runs alone.
fn take_plan(
    args: &ckpt_restart_commit,
    prepared: &Mutex<Option<KBox<Prepared>>>,
) -> CkptResult<KBox<Prepared>> {
    if args.flags != 0 || args.reserved != 0 {
        return Err(CkptError::bad_argument(format_args!(
            "unknown flags {:#x}",
            args.flags
        )));
    }
    let owner = restore_prepare::check_alone()?;
    let mut guard = prepared.lock();
    match guard.as_ref() {
        None => Err(CkptError::bad_argument(format_args!(
            "no validated process image on this file: CKPT_IOC_RESTART with \
             CKPT_RESTART_PROCESS first"
        ))),
        Some(p) if p.owner != owner => Err(CkptError::bad_argument(format_args!(
            "the process image was validated by another process (pid {})",
            p.owner
        ))),
        Some(_) => guard.take().ok_or_else(|| EINVAL.into()),
    }
}

/// None of the image's mappings overlaps the caller's vDSO or vvar.
fn check_special(plan: &Prepared) -> CkptResult {
    let special = restore_prepare::caller_special()?;
    for m in plan.maps.iter() {
        if let Some(&(s, e)) = special.iter().find(|&&(s, e)| m.start < e && s < m.end) {
            return Err(restore_prepare::overlap(m.start, m.end, s, e));
        }
    }
    Ok(())
}

/// Installs the image's files at their fds and closes every other fd of the caller but the
/// external ones (taken out of the table now, released once the ioctl returns: this very
/// file is among them).
fn install_fds(plan: &Prepared) -> CkptResult {
    let me = Target::get(0)?;
    let mut occupied: KVVec<u32> = KVVec::new();
    let mut from = 0u32;
    while let Some(f) = me.next_file(from) {
        let fd = f.fd;
        if plan.external.binary_search(&fd).is_err() {
            occupied.push(fd, GFP_KERNEL)?;
        }
        from = match fd.checked_add(1) {
            Some(n) => n,
            None => break,
        };
    }
    let files: KVVec<&NewFile> = {
        let mut v = KVVec::with_capacity(plan.slots.len(), GFP_KERNEL)?;
        for &i in plan.slot_files.iter() {
            let f = plan.files[i]
                .as_ref()
                .ok_or_else(|| CkptError::other(EINVAL, format_args!("external slot")))?;
            v.push(f, GFP_KERNEL)?;
        }
        v
    };
    let slots: &[Slot] = &plan.slots;
    let fail = |e: crate::fdtable::ReserveError| {
        let err = CkptError::other(
            e.errno,
            format_args!("the image's fd table cannot be installed"),
        );
        match e.fd {
            Some(fd) => err.at_fd(fd),
            None => err,
        }
    };
    let reservation = Reservation::new(slots, &occupied).map_err(fail)?;
    reservation.commit(slots, &files, &occupied).map_err(fail)
}

/// Past the point of no return: replaces the caller's memory and registers with the image's.
/// Returns what failed.
fn become_image(plan: &Prepared, bounce: &mut [u8]) -> Result<(), (&'static str, Error)> {
    let check = |what: &'static str, ret: i32| {
        if ret == 0 {
            Ok(())
        } else {
            Err((what, Error::from_errno(ret)))
        }
    };
    // SAFETY: Resets the caller's own task state.
    unsafe { ffi::ckpt_proc_restore_reset() };
    // SAFETY: Unmaps the caller's own memory; no reference into it is held.
    check("unmapping the caller's memory", unsafe {
        ffi::ckpt_proc_restore_unmap()
    })?;
    for m in plan.maps.iter() {
        let file = m
            .file
            .and_then(|i| plan.files[i].as_ref())
            .map_or(core::ptr::null_mut(), |f| f.file().as_ptr());
        // SAFETY: `file` is null or a file we hold a reference to for the call.
        let ret = unsafe {
            ffi::ckpt_proc_restore_map(file, m.start, m.end - m.start, m.prot, m.bits, m.offset)
        };
        if ret != 0 {
            pr_err!("restart: mapping {:x}-{:x}: {ret}\n", m.start, m.end);
            return Err(("mapping the image", Error::from_errno(ret)));
        }
    }
    fill_pages(plan, bounce)?;
    // SAFETY: `layout` has the 11 words the helper reads.
    check("setting the mm layout", unsafe {
        ffi::ckpt_proc_restore_mm(plan.layout.as_ptr())
    })?;
    // The signal and task state, once the memory they point into (handlers, altstack, rseq
    // area) is in place; the reset above left defaults where the image has no record.
    if let Some(s) = &plan.signals {
        // SAFETY: `s` is a valid struct for the call; only `current` is changed.
        unsafe { ffi::ckpt_proc_restore_signals(&**s) };
    }
    if let Some(t) = &plan.task_state {
        // SAFETY: `t` is a valid struct for the call; only `current` is changed.
        check("restoring the task state (rseq, limits)", unsafe {
            ffi::ckpt_proc_restore_task(&**t)
        })?;
    }
    let regs = restart_rule(plan.regs);
    // SAFETY: `regs` has the 27 words the helper reads, validated in phase A.
    check("setting the registers", unsafe {
        ffi::ckpt_proc_restore_regs(regs.as_ptr())
    })
}

/// Writes the page data from the spool into the new mappings, through `bounce`.
fn fill_pages(plan: &Prepared, bounce: &mut [u8]) -> Result<(), (&'static str, Error)> {
    for run in plan.pages.iter() {
        let mut done = 0u64;
        while done < run.len {
            let n = (run.len - done).min(bounce.len() as u64) as usize;
            let buf = &mut bounce[..n];
            plan.spool
                .read_exact_at(buf, run.at + done)
                .map_err(|e| ("reading page data from the spool", e))?;
            // SAFETY: `buf` is readable for its length, at most `FILL_CHUNK` bytes.
            let ret =
                unsafe { ffi::ckpt_proc_restore_fill(run.addr + done, buf.as_ptr(), n as u32) };
            if ret != 0 {
                return Err(("writing page data", Error::from_errno(ret)));
            }
            done += n as u64;
        }
    }
    Ok(())
}

/// A process checkpointed in a system call resumes as after a signal without handler: the
/// call restarts (`-ERESTARTSYS`, `-ERESTARTNOINTR`, `-ERESTARTNOHAND`: back over the 2-byte
/// `syscall` instruction, with the call's number in rax), or returns `EINTR`
/// (`-ERESTART_RESTARTBLOCK`: its restart block did not survive).
fn restart_rule(mut regs: [u64; reg::COUNT]) -> [u64; reg::COUNT] {
    if (regs[reg::ORIG_RAX] as i64) < 0 {
        return regs;
    }
    match regs[reg::RAX] as i64 {
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
            regs[reg::RIP] = regs[reg::RIP].wrapping_sub(2);
            regs[reg::RAX] = regs[reg::ORIG_RAX];
        }
        ERESTART_RESTARTBLOCK => regs[reg::RAX] = EINTR as u64,
        _ => {}
    }
    regs
}

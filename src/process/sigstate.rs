// SPDX-License-Identifier: GPL-2.0

//! Signal and task state: the SIGNALS record (blocked mask, actions, alternate stack) and the
//! TASK_STATE record (rseq, robust futex list, `clear_child_tid`, umask, parent-death signal,
//! resource limits), read by the C helpers under the kernel's locks.
//!
//! Refused, by name (`CKPT_REASON_UNSUPPORTED_STATE`): pending signals other than `SIGSTOP`
//! (which only stops a task that is stopped already), a temporary signal mask (a task stopped
//! inside `sigsuspend`, `ppoll`, `pselect` or `epoll_pwait`), and a 32-bit robust futex list.

use core::fmt;

use kernel::{prelude::*, task::Task};

use super::{encode_error, ffi};
use crate::{
    error::{CkptError, CkptResult},
    image::{
        self, signal_bit, signals_in, Encoder, Rlimit, SigAction, SigName, Signals, TaskState,
        RLIM_NLIMITS, SIGACTIONS_LEN, SIGACTION_LEN, SIGSTOP,
    },
};

/// The signals of a mask by name, space separated.
struct SigList(u64);

impl fmt::Display for SigList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in signals_in(self.0).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}", SigName(s))?;
        }
        Ok(())
    }
}

fn exited(e: Error) -> CkptError {
    CkptError::target(e, format_args!("the task exited during the checkpoint"))
}

/// Writes the SIGNALS and TASK_STATE records of `task` (the caller, or stopped).
pub(super) fn write<S: image::Sink<Error = CkptError>>(
    task: &Task,
    enc: &mut Encoder<S>,
) -> CkptResult {
    let mut sig = KBox::<ffi::ProcSignals>::new_uninit(GFP_KERNEL)?;
    // SAFETY: `task` is valid (the caller holds a reference); the helper writes every byte of
    // `*sig` (it starts with a memset), whatever it returns.
    let ret = unsafe { ffi::ckpt_proc_signals(task.as_ptr(), sig.as_mut_ptr()) };
    // SAFETY: Initialized by the helper, above.
    let sig = unsafe { sig.assume_init() };
    if ret < 0 {
        return Err(exited(Error::from_errno(ret)));
    }
    let pending = sig.pending & !signal_bit(SIGSTOP);
    if pending != 0 {
        return Err(CkptError::unsupported_state(format_args!(
            "pending signals are not supported yet: {}",
            SigList(pending)
        )));
    }
    if sig.temp_mask != 0 {
        return Err(CkptError::unsupported_state(format_args!(
            "a temporary signal mask (stopped inside sigsuspend, ppoll, pselect or \
             epoll_pwait) is not supported yet"
        )));
    }
    let mut actions = KVVec::from_elem(0u8, SIGACTIONS_LEN, GFP_KERNEL)?;
    for (i, a) in sig.action.iter().enumerate() {
        let at = i * SIGACTION_LEN;
        let action = SigAction {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        };
        if let Some(raw) = actions.get_mut(at..at + SIGACTION_LEN) {
            action.encode(raw);
        }
    }
    let altstack = (sig.altstack_sp, sig.altstack_size, sig.altstack_flags);
    let signals = Signals::new(sig.blocked, altstack, &actions);
    let id = enc.next_id();
    enc.write_signals(id, &signals).map_err(encode_error)?;

    let mut st = KBox::<ffi::ProcTaskState>::new_uninit(GFP_KERNEL)?;
    // SAFETY: As above: the helper writes every byte of `*st`.
    let ret = unsafe { ffi::ckpt_proc_task_state(task.as_ptr(), st.as_mut_ptr()) };
    // SAFETY: Initialized by the helper, above.
    let st = unsafe { st.assume_init() };
    if ret < 0 {
        return Err(exited(Error::from_errno(ret)));
    }
    if st.compat_robust_list != 0 {
        return Err(CkptError::unsupported_state(format_args!(
            "a 32-bit (compat) robust futex list is not supported"
        )));
    }
    let rlimits: [Rlimit; RLIM_NLIMITS as usize] = core::array::from_fn(|i| Rlimit {
        cur: st.rlim[i][0],
        max: st.rlim[i][1],
    });
    let state = TaskState {
        rseq: st.rseq,
        rseq_len: st.rseq_len,
        rseq_sig: st.rseq_sig,
        robust_list: st.robust_list,
        robust_list_len: st.robust_list_len,
        clear_child_tid: st.clear_child_tid,
        umask: st.umask,
        pdeath_signal: st.pdeath_signal,
        rlimits,
    };
    let id = enc.next_id();
    enc.write_task_state(id, &state).map_err(encode_error)
}

/// The caller's soft limit of `resource` (an `RLIMIT_*`), `u64::MAX` for none.
pub(crate) fn caller_soft_limit(resource: u32) -> CkptResult<u64> {
    let mut st = ffi::ProcTaskState::zeroed();
    // SAFETY: `current` is a live task (the caller); `st` is writable.
    let ret = unsafe { ffi::ckpt_proc_task_state(Task::current_raw(), &mut st) };
    if ret < 0 {
        return Err(Error::from_errno(ret).into());
    }
    Ok(st
        .rlim
        .get(resource as usize)
        .map_or(u64::MAX, |limit| limit[0]))
}

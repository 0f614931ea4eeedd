// SPDX-License-Identifier: GPL-2.0

//! Registers: the task's register sets, read with `regset_get()` from its
//! `task_user_regset_view()` (what `PTRACE_GETREGSET` and core dumps use), so the image holds
//! them in the UABI layout: general registers with fs and gs base, and the XSAVE area.

use kernel::{prelude::*, task::Task};

use super::{encode_error, ffi};
use crate::{
    error::{CkptError, CkptResult},
    image::{self, Encoder, Regset, NT_PRSTATUS, NT_X86_XSTATE},
};

/// The register sets written, in order; the general registers are required.
const NOTES: [(u32, bool); 2] = [(NT_PRSTATUS, true), (NT_X86_XSTATE, false)];

/// Reads register set `note` of `task`; `None` if the task's view has none (or the CPU lacks
/// it, for optional ones).
fn read(task: &Task, note: u32) -> Result<Option<KVVec<u8>>> {
    // SAFETY: `task` is valid (the caller holds a reference) and stopped in a ptrace stop or
    // the caller itself; a null buffer asks for the size only.
    let size = unsafe { ffi::ckpt_proc_regset(task.as_ptr(), note, core::ptr::null_mut(), 0) };
    let size = u32::try_from(size).map_err(|_| EINVAL)?;
    if size == 0 {
        return Ok(None);
    }
    let mut buf = KVVec::from_elem(0u8, size as usize, GFP_KERNEL)?;
    // SAFETY: As above; `buf` is writable for `size` bytes, and the helper writes at most that.
    let got = unsafe { ffi::ckpt_proc_regset(task.as_ptr(), note, buf.as_mut_ptr(), size) };
    if got == -(kernel::bindings::ENODEV as i32) {
        return Ok(None);
    }
    if got < 0 {
        return Err(Error::from_errno(got));
    }
    buf.truncate(got as usize);
    Ok(Some(buf))
}

/// Writes the task's REGSET records.
pub(super) fn write<S: image::Sink<Error = CkptError>>(
    task: &Task,
    enc: &mut Encoder<S>,
) -> CkptResult {
    for (note, required) in NOTES {
        let data = read(task, note).map_err(|e| {
            CkptError::other(
                e,
                format_args!("reading register set {note:#x} failed ({e:?})"),
            )
        })?;
        match data {
            Some(data) => {
                let id = enc.next_id();
                enc.write_regset(id, &Regset { note, data: &data })
                    .map_err(encode_error)?;
            }
            None if required => {
                return Err(CkptError::unsupported_state(format_args!(
                    "the task has no register set {note:#x}"
                )))
            }
            None => {}
        }
    }
    Ok(())
}

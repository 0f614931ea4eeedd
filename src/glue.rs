// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers for checkpoint's view of the target task: looking it up, its ids and
//! utsname, and its open files.
//!
//! Every raw pointer is owned by a type here that releases it on drop (`ARef<Task>`,
//! `ARef<File>`), so the rest of the module never sees one.

use core::ptr::NonNull;

use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    fs::File,
    prelude::*,
    sync::aref::ARef,
    task::Task,
};

use crate::{
    ffi,
    vfs::{self, FileFacts, FsContext},
};

/// A task's pids (in the caller's pid namespace), credentials (in the caller's user
/// namespace) and comm: `struct ckpt_glue_ids`.
pub(crate) type Ids = ffi::ckpt_glue_ids;

/// The task being checkpointed: the caller, or a task the caller traces that was in a ptrace
/// stop when looked up.
pub(crate) struct Target {
    task: ARef<Task>,
}

impl Target {
    /// Looks up `pid` in the caller's pid namespace (0: the caller) and checks that the caller
    /// may checkpoint it: `ESRCH` no such task, `EPERM` not traced by the caller, `EBUSY`
    /// traced by the caller but running. Tracing is the permission: ptrace's access checks
    /// (credentials, LSMs, Yama) passed when the caller attached, and a task in a ptrace stop
    /// cannot change.
    pub(crate) fn get(pid: i32) -> Result<Self> {
        // SAFETY: The glue takes no pointers; it returns a referenced task or an ERR_PTR.
        let task = from_err_ptr(unsafe { ffi::ckpt_glue_get_target(pid) })?;
        let task = NonNull::new(task).ok_or(ESRCH)?;
        // SAFETY: The glue took a reference on the task, which `ARef` now owns and drops with
        // `put_task_struct`; `Task` is a transparent wrapper of `task_struct`.
        let task = unsafe { ARef::from_raw(task.cast::<Task>()) };
        Ok(Self { task })
    }

    /// The task, for the kernel crate's APIs.
    pub(crate) fn task(&self) -> &Task {
        &self.task
    }

    fn raw(&self) -> *mut bindings::task_struct {
        self.task.as_ptr()
    }

    /// Number of threads in the task's thread group (`get_nr_threads()`).
    pub(crate) fn threads(&self) -> i32 {
        // SAFETY: `self.task` is valid: we hold a reference.
        unsafe { ffi::ckpt_glue_task_threads(self.raw()) }
    }

    /// Whether another process shares the task's fd table (`CLONE_FILES` without
    /// `CLONE_THREAD`).
    pub(crate) fn files_shared(&self) -> bool {
        // SAFETY: `self.task` is valid: we hold a reference.
        unsafe { ffi::ckpt_glue_task_files_shared(self.raw()) != 0 }
    }

    /// Pids (in the caller's namespace), credentials (in the caller's user namespace), comm.
    pub(crate) fn ids(&self) -> Ids {
        let mut ids = Ids::zeroed();
        // SAFETY: `self.task` is valid: we hold a reference; `ids` is writable.
        unsafe { ffi::ckpt_glue_task_ids(self.raw(), &mut ids) };
        ids
    }

    /// The utsname of the task's UTS namespace.
    pub(crate) fn utsname(&self) -> Result<ffi::new_utsname> {
        let mut uts = ffi::new_utsname::zeroed();
        // SAFETY: `self.task` is valid: we hold a reference; `uts` is writable.
        to_result(unsafe { ffi::ckpt_glue_task_uts(self.raw(), &mut uts) })?;
        Ok(uts)
    }

    /// The task's root and cwd. `EXDEV` if its root is not the caller's: paths are then not
    /// expressible the way restart will resolve them.
    pub(crate) fn fs(&self) -> Result<FsContext> {
        let fs = FsContext::of(&self.task)?;
        if !fs.root.same(&FsContext::current()?.root) {
            return Err(EXDEV);
        }
        Ok(fs)
    }

    /// The task's next open file at or after `from`.
    pub(crate) fn next_file(&self, from: u32) -> Option<OpenFile> {
        let mut fd = from;
        // SAFETY: `self.task` is valid: we hold a reference; `fd` is writable.
        let file = NonNull::new(unsafe { bindings::fget_task_next(self.raw(), &mut fd) })?;
        // SAFETY: `fget_task_next` took a reference, which `ARef` now owns. `File`'s invariant
        // holds: `fdget_pos()` skips `f_pos_lock` only for a file nobody else references, and
        // while we hold this reference the target cannot be in such a call: it is the caller
        // (in this ioctl) or stopped in a ptrace stop, which no syscall holding `fdget_pos()`
        // enters, and it has one thread (checked before its files are read).
        let file = unsafe { ARef::from_raw(file.cast::<File>()) };
        // SAFETY: `self.task` is valid: we hold a reference.
        let cloexec = unsafe { ffi::ckpt_glue_fd_cloexec(self.raw(), fd) } != 0;
        Some(OpenFile { file, fd, cloexec })
    }
}

impl FsContext {
    /// The task's cwd, relative to its root.
    pub(crate) fn cwd<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        self.pwd.name_under(&self.root, buf)
    }

    /// The path of `file`, relative to the task's root.
    pub(crate) fn file_path<'b>(&self, file: &OpenFile, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // The path the user sees: for an overlayfs backing file (a mapping's), the overlay's.
        vfs::path_name(vfs::file_path(&file.file), &self.root, buf)
    }
}

/// One open file of the target, at fd number `fd`.
pub(crate) struct OpenFile {
    file: ARef<File>,
    /// The fd number in the target's table.
    pub(crate) fd: u32,
    /// Whether the fd is close-on-exec.
    pub(crate) cloexec: bool,
}

impl OpenFile {
    /// A file that is not in a descriptor table (a mapped file): `fd` is `u32::MAX`.
    ///
    /// # Safety
    ///
    /// `file` is a valid file, and the caller gives this value one reference to it.
    pub(crate) unsafe fn from_raw(file: NonNull<bindings::file>) -> Self {
        // SAFETY: The caller gave us a reference to a valid file, which `ARef` now owns. `File`'s
        // invariant holds for the same reason as in `Target::next_file`: the task whose mapping
        // holds the file is the caller or stopped, and has one thread.
        let file = unsafe { ARef::from_raw(file.cast::<File>()) };
        Self {
            file,
            fd: u32::MAX,
            cloexec: false,
        }
    }

    /// Identity of the open file description: equal for dup'd fds.
    pub(crate) fn key(&self) -> usize {
        self.file.as_ptr() as usize
    }

    /// Reads the facts checkpoint needs.
    pub(crate) fn facts(&self) -> Result<FileFacts> {
        FileFacts::of(&self.file)
    }

    /// The open file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Encodes an exportfs file handle into `buf`: `(handle type, handle bytes)`.
    pub(crate) fn file_handle<'b>(&self, buf: &'b mut [u8]) -> Result<(u32, &'b [u8])> {
        vfs::file_handle(&self.file, buf)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the C glue (`src/glue_c.c`): the target task, its credentials and fs
//! context, its open files, and writing to the output file.
//!
//! Every raw pointer from the glue is owned by a type here that releases it on drop, so the
//! rest of the module never sees one.

use core::{ffi::c_char, ptr::NonNull};

use kernel::{bindings, prelude::*, sync::aref::ARef, task::Task};

/// `struct ckpt_glue_ids` of `src/glue_c.h`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct Ids {
    pub(crate) pid: i32,
    pub(crate) tgid: i32,
    pub(crate) ppid: i32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    pub(crate) suid: u32,
    pub(crate) sgid: u32,
    pub(crate) fsuid: u32,
    pub(crate) fsgid: u32,
    pub(crate) comm: [u8; 16],
    reserved: u32,
}

/// `struct ckpt_glue_file_facts` of `src/glue_c.h`: what checkpoint needs to know of an open
/// file, read in one go.
#[repr(C)]
pub(crate) struct FileFacts {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) rdev: u64,
    pub(crate) size: i64,
    pub(crate) pos: i64,
    pub(crate) mtime_sec: i64,
    pub(crate) ctime_sec: i64,
    pub(crate) mtime_nsec: u32,
    pub(crate) ctime_nsec: u32,
    pub(crate) mode: u32,
    pub(crate) f_flags: u32,
    pub(crate) f_mode: u32,
    pub(crate) generation: u32,
    pub(crate) rdev_major: u32,
    pub(crate) rdev_minor: u32,
    pub(crate) s_magic: u64,
    pub(crate) fstype: [u8; 32],
    pub(crate) name: [u8; 48],
    pub(crate) unlinked: u8,
    pub(crate) o_path: u8,
    pub(crate) hash32: u8,
    pub(crate) hash64: u8,
    pub(crate) can_encode_fh: u8,
    reserved: [u8; 3],
}

impl FileFacts {
    /// All fields zero, for the glue to fill in.
    pub(crate) fn zeroed() -> Self {
        Self {
            dev: 0,
            ino: 0,
            rdev: 0,
            size: 0,
            pos: 0,
            mtime_sec: 0,
            ctime_sec: 0,
            mtime_nsec: 0,
            ctime_nsec: 0,
            mode: 0,
            f_flags: 0,
            f_mode: 0,
            generation: 0,
            rdev_major: 0,
            rdev_minor: 0,
            s_magic: 0,
            fstype: [0; 32],
            name: [0; 48],
            unlinked: 0,
            o_path: 0,
            hash32: 0,
            hash64: 0,
            can_encode_fh: 0,
            reserved: [0; 3],
        }
    }

    /// The file system type's name, e.g. `ext4`.
    pub(crate) fn fstype(&self) -> &[u8] {
        until_nul(&self.fstype)
    }

    /// The dentry's name, e.g. `[eventfd]` or `null` (for messages).
    pub(crate) fn name(&self) -> &[u8] {
        until_nul(&self.name)
    }

    /// The file type bits of `mode` (`S_IFMT`).
    pub(crate) fn file_type(&self) -> u32 {
        self.mode & bindings::S_IFMT
    }
}

/// The bytes of a NUL-padded C string.
pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes.get(..len).unwrap_or(bytes)
}

/// `struct new_utsname`: six NUL-terminated 65-byte fields.
#[repr(C)]
pub(crate) struct UtsName {
    pub(crate) sysname: [u8; 65],
    pub(crate) nodename: [u8; 65],
    pub(crate) release: [u8; 65],
    pub(crate) version: [u8; 65],
    pub(crate) machine: [u8; 65],
    pub(crate) domainname: [u8; 65],
}

// The C side asserts the same sizes (src/glue_c.h).
const _: () = assert!(core::mem::size_of::<Ids>() == 64);
const _: () = assert!(core::mem::size_of::<UtsName>() == 390);
const _: () = assert!(core::mem::size_of::<FileFacts>() == 184);

// Only pointers to kernel structs cross this boundary, never the structs themselves, so what
// `improper_ctypes` objects to (bindgen's opaque blobs inside them) does not matter here.
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_glue_get_target(nr: i32) -> *mut bindings::task_struct;
    fn ckpt_glue_task_threads(t: *mut bindings::task_struct) -> i32;
    fn ckpt_glue_task_files_shared(t: *mut bindings::task_struct) -> bool;
    fn ckpt_glue_task_ids(t: *mut bindings::task_struct, ids: *mut Ids);
    fn ckpt_glue_task_uts(t: *mut bindings::task_struct, out: *mut UtsName) -> i32;
    fn ckpt_glue_task_fs(
        t: *mut bindings::task_struct,
        root: *mut bindings::path,
        pwd: *mut bindings::path,
    ) -> i32;
    fn ckpt_glue_path_put(path: *mut bindings::path);
    fn ckpt_glue_path_string(
        path: *const bindings::path,
        root: *const bindings::path,
        buf: *mut c_char,
        size: i32,
    ) -> i32;
    fn ckpt_glue_next_file(
        t: *mut bindings::task_struct,
        fd: *mut u32,
        cloexec: *mut bool,
    ) -> *mut bindings::file;
    fn ckpt_glue_fput(file: *mut bindings::file);
    fn ckpt_glue_file_path(file: *mut bindings::file) -> *const bindings::path;
    fn ckpt_glue_file_facts(file: *mut bindings::file, facts: *mut FileFacts) -> i32;
    fn ckpt_glue_encode_fh(file: *mut bindings::file, buf: *mut u8, len: *mut i32) -> i32;
    fn ckpt_glue_write(file: *mut bindings::file, buf: *const u8, count: usize) -> isize;
    fn ckpt_glue_fatal_signal_pending() -> bool;
    fn ckpt_glue_real_time(sec: *mut i64, nsec: *mut u32);
}

/// Converts a kernel `ERR_PTR`-or-pointer into a `Result` of a non-null pointer.
pub(crate) fn from_err_ptr<T>(ptr: *mut T) -> Result<NonNull<T>> {
    let value = ptr as isize;
    // ERR_PTR values are the last page of the address space: -MAX_ERRNO..0.
    if (-4095..0).contains(&value) {
        return Err(Error::from_errno(value as i32));
    }
    NonNull::new(ptr).ok_or(EINVAL)
}

/// Converts a C return value (negative errno or a non-negative value) into a `Result`.
pub(crate) fn from_ret(ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret)
    }
}

/// The task being checkpointed: the caller, or a task the caller traces that was in a ptrace
/// stop when looked up.
pub(crate) struct Target {
    task: ARef<Task>,
}

impl Target {
    /// Looks up `pid` in the caller's pid namespace (0: the caller) and checks that the caller
    /// may checkpoint it: `ESRCH` no such task, `EPERM` not traced by the caller, `EBUSY`
    /// traced by the caller but running.
    pub(crate) fn get(pid: i32) -> Result<Self> {
        // SAFETY: The glue takes no pointers; it returns a referenced task or an ERR_PTR.
        let task = from_err_ptr(unsafe { ckpt_glue_get_target(pid) })?;
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

    /// Number of threads in the task's thread group.
    pub(crate) fn threads(&self) -> i32 {
        // SAFETY: `self.task` is valid: we hold a reference.
        unsafe { ckpt_glue_task_threads(self.raw()) }
    }

    /// Whether another process shares the task's fd table (`CLONE_FILES` without
    /// `CLONE_THREAD`).
    pub(crate) fn files_shared(&self) -> bool {
        // SAFETY: `self.task` is valid: we hold a reference.
        unsafe { ckpt_glue_task_files_shared(self.raw()) }
    }

    /// Pids (in the caller's namespace), credentials (in the caller's user namespace), comm.
    pub(crate) fn ids(&self) -> Ids {
        let mut ids = Ids::default();
        // SAFETY: `self.task` is valid: we hold a reference; `ids` is writable.
        unsafe { ckpt_glue_task_ids(self.raw(), &mut ids) };
        ids
    }

    /// The utsname of the task's UTS namespace.
    pub(crate) fn utsname(&self) -> Result<UtsName> {
        let mut uts = UtsName {
            sysname: [0; 65],
            nodename: [0; 65],
            release: [0; 65],
            version: [0; 65],
            machine: [0; 65],
            domainname: [0; 65],
        };
        // SAFETY: `self.task` is valid: we hold a reference; `uts` is writable.
        from_ret(unsafe { ckpt_glue_task_uts(self.raw(), &mut uts) })?;
        Ok(uts)
    }

    /// The task's root and cwd. `EXDEV` if its root is not the caller's.
    pub(crate) fn fs(&self) -> Result<FsContext> {
        // SAFETY: All-zero bytes are a valid empty `struct path` (two null pointers).
        let mut root: bindings::path = unsafe { core::mem::zeroed() };
        // SAFETY: As above.
        let mut pwd: bindings::path = unsafe { core::mem::zeroed() };
        // SAFETY: `self.task` is valid: we hold a reference; both paths are writable.
        from_ret(unsafe { ckpt_glue_task_fs(self.raw(), &mut root, &mut pwd) })?;
        // INVARIANT: On success the glue took a reference on both paths.
        Ok(FsContext { root, pwd })
    }

    /// The task's next open file at or after `from`.
    pub(crate) fn next_file(&self, from: u32) -> Option<OpenFile> {
        let mut fd = from;
        let mut cloexec = false;
        // SAFETY: `self.task` is valid: we hold a reference; `fd` and `cloexec` are writable.
        let file = unsafe { ckpt_glue_next_file(self.raw(), &mut fd, &mut cloexec) };
        // INVARIANT: A non-null file comes with a reference the glue took for us.
        NonNull::new(file).map(|file| OpenFile { file, fd, cloexec })
    }
}

/// A task's root and working directory.
///
/// # Invariants
///
/// `root` and `pwd` are valid paths with references owned by this value.
pub(crate) struct FsContext {
    root: bindings::path,
    pwd: bindings::path,
}

impl FsContext {
    /// Writes the path of `path` relative to the task's root into `buf`, returning its bytes.
    /// `EXDEV`: not under the root; `ENAMETOOLONG`: longer than `buf`.
    fn path_of<'b>(&self, path: *const bindings::path, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let size = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `path` is valid (callers pass a path they hold a reference to), `self.root`
        // by the type invariant, and `buf` is writable for `size` bytes.
        let len = from_ret(unsafe {
            ckpt_glue_path_string(path, &self.root, buf.as_mut_ptr().cast(), size)
        })?;
        buf.get(..len as usize).ok_or(EINVAL)
    }

    /// The task's cwd, relative to its root.
    pub(crate) fn cwd<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        self.path_of(&self.pwd, buf)
    }

    /// The path of `file`, relative to the task's root.
    pub(crate) fn file_path<'b>(&self, file: &OpenFile, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // SAFETY: `file.file` is valid by `OpenFile`'s invariant; its `f_path` lives as long
        // as the file.
        let path = unsafe { ckpt_glue_file_path(file.file.as_ptr()) };
        self.path_of(path, buf)
    }
}

impl Drop for FsContext {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to both paths.
        unsafe {
            ckpt_glue_path_put(&mut self.root);
            ckpt_glue_path_put(&mut self.pwd);
        }
    }
}

/// One open file of the target, at fd number `fd`.
///
/// # Invariants
///
/// `file` is a valid file with a reference owned by this value.
pub(crate) struct OpenFile {
    file: NonNull<bindings::file>,
    /// The fd number in the target's table.
    pub(crate) fd: u32,
    /// Whether the fd is close-on-exec.
    pub(crate) cloexec: bool,
}

impl OpenFile {
    /// Identity of the open file description: equal for dup'd fds.
    pub(crate) fn key(&self) -> usize {
        self.file.as_ptr() as usize
    }

    /// Reads the facts checkpoint needs.
    pub(crate) fn facts(&self) -> Result<FileFacts> {
        let mut facts = FileFacts::zeroed();
        // SAFETY: `self.file` is valid by the type invariant; `facts` is writable.
        from_ret(unsafe { ckpt_glue_file_facts(self.file.as_ptr(), &mut facts) })?;
        Ok(facts)
    }

    /// Encodes an exportfs file handle into `buf`: `(handle type, handle bytes)`.
    pub(crate) fn file_handle<'b>(&self, buf: &'b mut [u8]) -> Result<(u32, &'b [u8])> {
        let mut len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `self.file` is valid by the type invariant; `buf` is writable for `len`
        // bytes, and the glue writes at most that many.
        let ty = from_ret(unsafe {
            ckpt_glue_encode_fh(self.file.as_ptr(), buf.as_mut_ptr(), &mut len)
        })?;
        let bytes = buf.get(..len as usize).ok_or(EOVERFLOW)?;
        Ok((ty as u32, bytes))
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to `self.file`.
        unsafe { ckpt_glue_fput(self.file.as_ptr()) };
    }
}

/// The file the image is written to.
pub(crate) struct Output {
    file: ARef<kernel::fs::File>,
}

impl Output {
    /// Takes the caller's `fd`, which must be open for writing (`EBADF` otherwise).
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let local = kernel::fs::LocalFile::fget(fd)?;
        // SAFETY: The file is only used from this ioctl, which does not call `fdget_pos`.
        let file = unsafe { kernel::fs::LocalFile::assume_no_fdget_pos(local) };
        if file.flags() & bindings::O_ACCMODE == bindings::O_RDONLY {
            return Err(EBADF);
        }
        Ok(Self { file })
    }

    /// Writes part of `data` at the file's position; returns how much was written.
    pub(crate) fn write(&self, data: &[u8]) -> Result<usize> {
        // SAFETY: The file is valid (`ARef` holds a reference) and `data` is readable.
        let ret = unsafe { ckpt_glue_write(self.file.as_ptr(), data.as_ptr(), data.len()) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret as usize)
    }
}

/// Whether the current task has a fatal signal pending.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's state only.
    unsafe { ckpt_glue_fatal_signal_pending() }
}

/// The real-time clock: seconds and nanoseconds since the epoch.
pub(crate) fn real_time() -> (i64, u32) {
    let (mut sec, mut nsec) = (0i64, 0u32);
    // SAFETY: Both outputs are writable.
    unsafe { ckpt_glue_real_time(&mut sec, &mut nsec) };
    (sec, nsec)
}

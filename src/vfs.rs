// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the C glue restart uses to find and open files: the image input, looked
//! up paths, file handles, and freshly opened files that are not installed yet.
//!
//! Every lookup and open runs with the caller's credentials, root and cwd, as `open(2)` would:
//! an image can never grant access the caller does not have.

use core::{ffi::c_char, ptr::NonNull};

use kernel::{bindings, prelude::*, str::CStr, sync::aref::ARef};

use crate::glue::{from_err_ptr, from_ret, FileFacts};

// Only pointers to kernel structs cross this boundary (see glue.rs).
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_glue_read(file: *mut bindings::file, buf: *mut u8, count: usize) -> isize;
    fn ckpt_glue_file_readable(file: *mut bindings::file) -> bool;
    fn ckpt_glue_lookup(name: *const kernel::ffi::c_char, out: *mut bindings::path) -> i32;
    fn ckpt_glue_open(name: *const kernel::ffi::c_char, flags: i32) -> *mut bindings::file;
    fn ckpt_glue_decode_fh(
        mnt: *const bindings::path,
        handle: *const u8,
        len: i32,
        ty: i32,
        any: bool,
        out: *mut bindings::path,
    ) -> i32;
    fn ckpt_glue_may_open_by_handle() -> bool;
    fn ckpt_glue_open_path(path: *const bindings::path, flags: i32) -> *mut bindings::file;
    fn ckpt_glue_current_root(root: *mut bindings::path);
    fn ckpt_glue_path_put(path: *mut bindings::path);
    fn ckpt_glue_path_facts(path: *const bindings::path, facts: *mut FileFacts) -> i32;
    fn ckpt_glue_file_facts(file: *mut bindings::file, facts: *mut FileFacts) -> i32;
    fn ckpt_glue_path_string(
        path: *const bindings::path,
        root: *const bindings::path,
        buf: *mut c_char,
        size: i32,
    ) -> i32;
    fn ckpt_glue_llseek(file: *mut bindings::file, pos: i64) -> i64;
    fn ckpt_glue_set_restored_flags(
        file: *mut bindings::file,
        flags: u32,
        mask: u32,
        hash_bits: i32,
    );
    fn ckpt_glue_fput(file: *mut bindings::file);
}

/// The file an image is read from.
pub(crate) struct Input {
    file: ARef<kernel::fs::File>,
}

impl Input {
    /// Takes the caller's `fd`, which must be open for reading (`EBADF` otherwise).
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let local = kernel::fs::LocalFile::fget(fd)?;
        // SAFETY: The file is only used from this ioctl, which does not call `fdget_pos`.
        let file = unsafe { kernel::fs::LocalFile::assume_no_fdget_pos(local) };
        // SAFETY: The file is valid: `ARef` holds a reference.
        if !unsafe { ckpt_glue_file_readable(file.as_ptr()) } {
            return Err(EBADF);
        }
        Ok(Self { file })
    }

    /// Reads into `buf` at the file's position; returns how much was read (0: end of file).
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: The file is valid (`ARef` holds a reference) and `buf` is writable.
        let ret = unsafe { ckpt_glue_read(self.file.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret as usize)
    }
}

/// A looked-up path (mount and dentry).
///
/// # Invariants
///
/// `path` holds a reference to a valid mount and dentry, owned by this value.
pub(crate) struct KPath {
    path: bindings::path,
}

impl KPath {
    /// Looks `name` up from the caller as `open(2)` would, without following a symbolic link
    /// in the last component.
    pub(crate) fn lookup(name: &CStr) -> Result<Self> {
        // SAFETY: All-zero bytes are a valid empty `struct path`.
        let mut path: bindings::path = unsafe { core::mem::zeroed() };
        // SAFETY: `name` is NUL-terminated; `path` is writable.
        from_ret(unsafe { ckpt_glue_lookup(name.as_char_ptr(), &mut path) })?;
        // INVARIANT: On success the glue took a reference on the path.
        Ok(Self { path })
    }

    /// The caller's root directory.
    pub(crate) fn current_root() -> Self {
        // SAFETY: All-zero bytes are a valid empty `struct path`.
        let mut path: bindings::path = unsafe { core::mem::zeroed() };
        // SAFETY: `path` is writable; the glue references the caller's root into it.
        unsafe { ckpt_glue_current_root(&mut path) };
        // INVARIANT: The glue took a reference on the root.
        Self { path }
    }

    /// What restart compares of the inode.
    pub(crate) fn facts(&self) -> Result<FileFacts> {
        let mut facts = FileFacts::zeroed();
        // SAFETY: `self.path` is valid by the type invariant; `facts` is writable.
        from_ret(unsafe { ckpt_glue_path_facts(&self.path, &mut facts) })?;
        Ok(facts)
    }

    /// Finds the inode of an exportfs handle on the file system mounted where `self` is,
    /// as a path of that mount: a connected dentry, or with `any` possibly a disconnected one
    /// (which has no path to walk to it). `ESTALE`: the inode no longer exists.
    pub(crate) fn decode_handle(&self, handle: &[u8], handle_type: u32, any: bool) -> Result<Self> {
        let len = i32::try_from(handle.len()).map_err(|_| EINVAL)?;
        let ty = i32::try_from(handle_type).map_err(|_| EINVAL)?;
        // SAFETY: All-zero bytes are a valid empty `struct path`.
        let mut path: bindings::path = unsafe { core::mem::zeroed() };
        // SAFETY: `self.path` is valid by the type invariant, `handle` is readable for `len`
        // bytes (the glue copies at most `MAX_HANDLE_SZ` after checking `len`), `path` is
        // writable.
        from_ret(unsafe {
            ckpt_glue_decode_fh(&self.path, handle.as_ptr(), len, ty, any, &mut path)
        })?;
        // INVARIANT: On success the glue took a reference on the mount and the dentry.
        Ok(Self { path })
    }

    /// The path of `self` as seen from `root`, written into `buf` (not NUL-terminated).
    /// `EXDEV`: not under `root`; `ENAMETOOLONG`: longer than `buf`.
    pub(crate) fn name_under<'b>(&self, root: &KPath, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let size = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: Both paths are valid by the type invariant, `buf` is writable for `size`.
        let len = from_ret(unsafe {
            ckpt_glue_path_string(&self.path, &root.path, buf.as_mut_ptr().cast(), size)
        })?;
        buf.get(..len as usize).ok_or(EINVAL)
    }
}

/// Whether the caller may open a file found by handle alone, without a path walk to it
/// (`CAP_DAC_READ_SEARCH`, as `open_by_handle_at(2)` requires).
pub(crate) fn may_open_by_handle() -> bool {
    // SAFETY: Checks the caller's capabilities only.
    unsafe { ckpt_glue_may_open_by_handle() }
}

impl Drop for KPath {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to the path.
        unsafe { ckpt_glue_path_put(&mut self.path) };
    }
}

/// A file restart opened, not installed in any fd table yet.
///
/// # Invariants
///
/// `file` is a valid file with a reference owned by this value.
pub(crate) struct NewFile {
    file: NonNull<bindings::file>,
}

impl NewFile {
    /// Opens `name` with the caller's credentials, as `open(2)` with `flags` would.
    pub(crate) fn open(name: &CStr, flags: u32) -> Result<Self> {
        let flags = i32::try_from(flags).map_err(|_| EINVAL)?;
        // SAFETY: `name` is NUL-terminated.
        let file = from_err_ptr(unsafe { ckpt_glue_open(name.as_char_ptr(), flags) })?;
        // INVARIANT: `filp_open` returned a new reference.
        Ok(Self { file })
    }

    /// Opens `path` itself with the caller's credentials, as `open_by_handle_at(2)` does: the
    /// file's own permission checks apply, no directory is searched.
    pub(crate) fn open_path(path: &KPath, flags: u32) -> Result<Self> {
        let flags = i32::try_from(flags).map_err(|_| EINVAL)?;
        // SAFETY: `path.path` is valid by `KPath`'s invariant.
        let file = from_err_ptr(unsafe { ckpt_glue_open_path(&path.path, flags) })?;
        // INVARIANT: `file_open_root` returned a new reference.
        Ok(Self { file })
    }

    /// The raw file, for the fd table wrapper (which takes its own reference).
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.file.as_ptr()
    }

    /// Identity of the open file description (equal for the same file).
    pub(crate) fn facts(&self) -> Result<FileFacts> {
        let mut facts = FileFacts::zeroed();
        // SAFETY: `self.file` is valid by the type invariant; `facts` is writable.
        from_ret(unsafe { ckpt_glue_file_facts(self.file.as_ptr(), &mut facts) })?;
        Ok(facts)
    }

    /// Sets the position as `lseek(SEEK_SET)` would; the file system validates it.
    pub(crate) fn seek(&self, pos: i64) -> Result<i64> {
        // SAFETY: `self.file` is valid by the type invariant and not shared with anyone yet.
        let ret = unsafe { ckpt_glue_llseek(self.file.as_ptr(), pos) };
        if ret < 0 {
            return Err(Error::from_errno(i32::try_from(ret).unwrap_or(-22)));
        }
        Ok(ret)
    }

    /// Sets the `mask` bits of `f_flags` to those of `flags` and, for hash-cookie directories,
    /// the cookie width (32 or 64; 0 leaves it).
    pub(crate) fn set_restored_flags(&self, flags: u32, mask: u32, hash_bits: i32) {
        // SAFETY: `self.file` is valid by the type invariant.
        unsafe { ckpt_glue_set_restored_flags(self.file.as_ptr(), flags, mask, hash_bits) };
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to `self.file`.
        unsafe { ckpt_glue_fput(self.file.as_ptr()) };
    }
}

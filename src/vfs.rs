// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the VFS, for checkpoint and restart: the caller's image file (read or
//! written under its position lock), looked-up paths, file handles, the facts both compare of
//! a file, and freshly opened files that are not installed yet.
//!
//! Every lookup and open runs with the caller's credentials, root and cwd, as `open(2)` would:
//! an image can never grant access the caller does not have.

use core::ptr::{addr_of, addr_of_mut};

use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    ffi::{c_int, c_void},
    fs::{File, LocalFile},
    prelude::*,
    str::CStr,
    sync::aref::ARef,
    task::Task,
};

use crate::ffi;

/// What the glue reads of an inode (`struct ckpt_glue_inode_facts`): identity, type, size,
/// times, and the file system's name and magic.
pub(crate) type InodeFacts = ffi::ckpt_glue_inode_facts;

impl InodeFacts {
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

/// What checkpoint and restart know of an open file: its inode's facts and the open file
/// description's own state.
pub(crate) struct FileFacts {
    /// The inode's facts.
    pub(crate) inode: InodeFacts,
    /// `f_flags`.
    pub(crate) f_flags: u32,
    /// `f_mode`.
    pub(crate) f_mode: u32,
    /// `f_pos`.
    pub(crate) pos: i64,
}

impl core::ops::Deref for FileFacts {
    type Target = InodeFacts;

    fn deref(&self) -> &InodeFacts {
        &self.inode
    }
}

impl FileFacts {
    /// Reads the facts of `file`. `f_flags`, `f_mode` and `f_pos` are read once each, as
    /// `/proc/PID/fdinfo` does: without the position lock, a concurrent `read(2)` of another
    /// sharer yields the old or the new value.
    pub(crate) fn of(file: &File) -> Result<Self> {
        let inode = path_facts(file_path(file))?;
        let f = file.as_ptr();
        // SAFETY: `file` is valid for the borrow; the fields are plain integers, read once like
        // `READ_ONCE()`.
        let (f_mode, pos) = unsafe {
            (
                addr_of!((*f).f_mode).read_volatile(),
                addr_of!((*f).f_pos).read_volatile(),
            )
        };
        Ok(Self {
            inode,
            f_flags: file.flags(),
            f_mode,
            pos,
        })
    }

    /// An `O_PATH` descriptor.
    pub(crate) fn o_path(&self) -> bool {
        self.f_mode & ffi::CKPT_FMODE_PATH != 0
    }

    /// A directory opened for 32-bit hash cookies only (`FMODE_32BITHASH` without
    /// `FMODE_64BITHASH`).
    pub(crate) fn hash32_only(&self) -> bool {
        self.f_mode & (ffi::CKPT_FMODE_32BITHASH | ffi::CKPT_FMODE_64BITHASH)
            == ffi::CKPT_FMODE_32BITHASH
    }
}

// The `kstat` fields `path_facts` reads, at the offsets glue_c.c asserts for the C layout.
const _: () = {
    use core::mem::{offset_of, size_of};
    use kernel::bindings::{kstat, timespec64};
    assert!(offset_of!(kstat, mode) == 4 && offset_of!(kstat, ino) == 32);
    assert!(offset_of!(kstat, dev) == 40 && offset_of!(kstat, rdev) == 44);
    assert!(offset_of!(kstat, size) == 56 && offset_of!(kstat, mtime) == 80);
    assert!(offset_of!(kstat, ctime) == 96 && size_of::<timespec64>() == 16);
};

/// `huge_encode_dev()`: a `dev_t` (major << 20 | minor) as `stat(2)`'s 64-bit encoding.
fn huge_encode_dev(dev: u32) -> u64 {
    let (major, minor) = (dev >> 20, dev & 0xfffff);
    u64::from((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

/// The inode facts of a path: the glue's dentry, super block and inode fields, then what
/// `vfs_getattr_nosec()` says (as `stat(2)` would, without a permission check: the caller
/// holds the path already).
fn path_facts(path: &bindings::path) -> Result<InodeFacts> {
    let mut facts = InodeFacts::zeroed();
    // SAFETY: `path` is a valid, referenced path for the borrow; `facts` is writable.
    to_result(unsafe { ffi::ckpt_glue_inode_facts(path, &mut facts) })?;
    let mut st = bindings::kstat::default();
    // SAFETY: `path` is a valid, referenced path for the borrow; `st` is writable.
    to_result(unsafe {
        bindings::vfs_getattr_nosec(
            path,
            &mut st,
            bindings::STATX_BASIC_STATS,
            bindings::AT_STATX_SYNC_AS_STAT,
        )
    })?;
    facts.mode = st.mode.into();
    facts.dev = huge_encode_dev(st.dev);
    facts.ino = st.ino;
    facts.rdev = huge_encode_dev(st.rdev);
    facts.rdev_major = st.rdev >> 20;
    facts.rdev_minor = st.rdev & 0xfffff;
    facts.size = st.size;
    facts.mtime_sec = st.mtime.tv_sec;
    facts.mtime_nsec = st.mtime.tv_nsec as u32;
    facts.ctime_sec = st.ctime.tv_sec;
    facts.ctime_nsec = st.ctime.tv_nsec as u32;
    Ok(facts)
}

/// The path a user sees for `file` (`file_user_path()`): `file->f_path`, or for an overlayfs
/// backing file (the `vm_file` of a mapping of a file on overlayfs) the overlay path it was
/// opened by. Lives (and does not change) as long as the file.
pub(crate) fn file_path(file: &File) -> &bindings::path {
    // SAFETY: `file` is valid for the borrow; the glue returns `&file->f_path` or the user path
    // a backing file keeps, both set before the file is opened and never changed afterwards.
    unsafe { &*ffi::ckpt_glue_file_user_path(file.as_ptr()).cast::<bindings::path>() }
}

/// The seals and name (without `memfd:`, written into `name`) of a memfd; `EINVAL` if `file`
/// is not one.
pub(crate) fn memfd_info<'b>(file: &File, name: &'b mut [u8]) -> Result<(u32, &'b [u8])> {
    let mut seals = 0u32;
    let size = c_int::try_from(name.len()).map_err(|_| EINVAL)?;
    // SAFETY: `file` is valid for the borrow; `name` is writable for `size` bytes and the glue
    // writes a NUL-terminated string of at most that many.
    to_result(unsafe {
        ffi::ckpt_glue_memfd_info(file.as_ptr(), &mut seals, name.as_mut_ptr().cast(), size)
    })?;
    Ok((seals, until_nul(name)))
}

/// `FILEID_INVALID` (`<linux/exportfs.h>`): the handle did not fit, or cannot be encoded.
const FILEID_INVALID: c_int = 0xff;

/// Encodes an exportfs file handle of `file`'s inode into `buf`: `(handle type, handle bytes)`.
/// `EOVERFLOW` if it does not fit in `buf` or the file system cannot encode one.
pub(crate) fn file_handle<'b>(file: &File, buf: &'b mut [u8]) -> Result<(u32, &'b [u8])> {
    let mut words = c_int::try_from(buf.len() / 4).map_err(|_| EINVAL)?;
    // SAFETY: The dentry is valid as long as the file; `buf` is writable for `words` 32-bit
    // words and `exportfs_encode_fh` writes at most that many (it says how many it needs).
    let ty = unsafe {
        ffi::exportfs_encode_fh(
            file_path(file).dentry,
            buf.as_mut_ptr().cast(),
            &mut words,
            0,
        )
    };
    let len = usize::try_from(words).map_err(|_| EOVERFLOW)? * 4;
    if ty == FILEID_INVALID || len > buf.len() {
        return Err(EOVERFLOW);
    }
    to_result(ty)?;
    Ok((ty as u32, &buf[..len]))
}

/// Writes the name of `path` as seen from `root` into `buf` (not NUL-terminated) and returns
/// it. `EXDEV`: not under `root`; `ENAMETOOLONG`: longer than `buf`.
pub(crate) fn path_name<'b>(
    path: &bindings::path,
    root: &KPath,
    buf: &'b mut [u8],
) -> Result<&'b [u8]> {
    // SAFETY: Both paths are valid and referenced for the borrows.
    if !unsafe { bindings::path_is_under(path, &root.path) } {
        return Err(EXDEV);
    }
    let size = c_int::try_from(buf.len()).map_err(|_| EINVAL)?;
    // SAFETY: `path` is valid; `buf` is writable for `size` bytes, and `d_path` writes the name
    // and a NUL at the end of it, returning where the name starts.
    let start = from_err_ptr(unsafe { bindings::d_path(path, buf.as_mut_ptr(), size) })?;
    let start = (start as usize).wrapping_sub(buf.as_ptr() as usize);
    let end = buf.len().checked_sub(1).ok_or(ENAMETOOLONG)?;
    if start > end {
        return Err(EINVAL);
    }
    buf.copy_within(start..end, 0);
    Ok(&buf[..end - start])
}

/// Whether the caller may open a file found by handle alone, without a path walk to it
/// (`CAP_DAC_READ_SEARCH`, as `open_by_handle_at(2)` requires).
pub(crate) fn may_open_by_handle() -> bool {
    // SAFETY: Checks the caller's capabilities only.
    unsafe { bindings::capable(bindings::CAP_DAC_READ_SEARCH as c_int) }
}

/// Whether the current task has a fatal signal pending.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's signal state only.
    unsafe { ffi::ckpt_glue_fatal_signal_pending() != 0 }
}

/// The real-time clock: seconds and nanoseconds since the epoch.
pub(crate) fn real_time() -> (i64, u32) {
    let mut ts = bindings::timespec64::default();
    // SAFETY: `ts` is writable.
    unsafe { bindings::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec, ts.tv_nsec as u32)
}

/// A file of the caller that an image is read from or written to, at its position, as
/// `read(2)` and `write(2)` do.
pub(crate) struct CallerFile {
    file: ARef<File>,
}

/// Which way a [`CallerFile`] is used.
#[derive(Clone, Copy)]
pub(crate) enum Access {
    Read,
    Write,
}

impl CallerFile {
    /// Takes the caller's `fd`, which must be open for `access` (`EBADF` otherwise).
    pub(crate) fn from_fd(fd: i32, access: Access) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let local = LocalFile::fget(fd)?;
        // SAFETY: This thread is in an ioctl of `/dev/ckpt`, which takes no `fdget_pos` (the
        // ioctl syscall takes `fdget` of the device's fd only).
        let file = unsafe { LocalFile::assume_no_fdget_pos(local) };
        let want = match access {
            Access::Read => ffi::CKPT_FMODE_READ,
            Access::Write => ffi::CKPT_FMODE_WRITE,
        };
        if f_mode(&file) & want == 0 {
            return Err(EBADF);
        }
        Ok(Self { file })
    }

    /// Reads into `buf` at the file's position; returns how much was read (0: end of file).
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let f = self.file.as_ptr();
        let (ptr, len) = (buf.as_mut_ptr().cast::<c_void>(), buf.len());
        self.with_pos(|pos| {
            // SAFETY: The file is valid (`ARef`), `buf` is writable for `len` bytes, `pos` is
            // writable or null (streams).
            unsafe { bindings::kernel_read(f, ptr, len, pos) }
        })
    }

    /// Writes part of `data` at the file's position; returns how much was written.
    pub(crate) fn write(&self, data: &[u8]) -> Result<usize> {
        let f = self.file.as_ptr();
        let (ptr, len) = (data.as_ptr().cast::<c_void>(), data.len());
        self.with_pos(|pos| {
            // SAFETY: The file is valid (`ARef`), `data` is readable for `len` bytes, `pos` is
            // writable or null (streams).
            unsafe { bindings::kernel_write(f, ptr, len, pos) }
        })
    }

    /// Runs `io` at the file's position and advances it, as `read(2)` and `write(2)` do
    /// (`fdget_pos()`, `file_ppos()`, `fdput_pos()`): under `f_pos_lock` for files with
    /// `FMODE_ATOMIC_POS` (we hold a reference besides the fd table's, so the file counts as
    /// shared and the VFS would lock too), without a position for streams.
    fn with_pos(&self, io: impl FnOnce(*mut i64) -> isize) -> Result<usize> {
        let f = self.file.as_ptr();
        let mode = f_mode(&self.file);
        if mode & ffi::CKPT_FMODE_STREAM != 0 {
            let ret = io(core::ptr::null_mut());
            return usize::try_from(ret).map_err(|_| Error::from_errno(ret as i32));
        }
        let locked = mode & ffi::CKPT_FMODE_ATOMIC_POS != 0;
        // SAFETY: Files with `FMODE_ATOMIC_POS` (regular files, directories) use the union's
        // `f_pos_lock`, initialised at open; the file is valid (`ARef`).
        let lock = unsafe { addr_of_mut!((*f).__bindgen_anon_2.f_pos_lock) };
        if locked {
            // SAFETY: `lock` is a valid mutex (above); this thread holds no other file's
            // position lock, and sleeping is allowed in an ioctl.
            unsafe { bindings::mutex_lock(lock) };
        }
        // SAFETY: The file is valid; `f_pos` is protected by the lock we hold, or (without
        // `FMODE_ATOMIC_POS`) by nothing, as in `read(2)`.
        let mut pos = unsafe { addr_of!((*f).f_pos).read() };
        let ret = io(&mut pos);
        if ret > 0 {
            // SAFETY: As above.
            unsafe { addr_of_mut!((*f).f_pos).write(pos) };
        }
        if locked {
            // SAFETY: We locked it above.
            unsafe { bindings::mutex_unlock(lock) };
        }
        usize::try_from(ret).map_err(|_| Error::from_errno(ret as i32))
    }
}

/// `file->f_mode`, read once.
fn f_mode(file: &File) -> u32 {
    // SAFETY: `file` is valid for the borrow; `f_mode` is a plain integer, read like
    // `READ_ONCE()`.
    unsafe { addr_of!((*file.as_ptr()).f_mode).read_volatile() }
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
        let mut path = bindings::path::default();
        // SAFETY: `name` is NUL-terminated; `path` is writable. Flags 0: no `LOOKUP_FOLLOW`.
        to_result(unsafe { ffi::kern_path(name.as_char_ptr(), 0, &mut path) })?;
        // INVARIANT: On success `kern_path` took a reference on the path.
        Ok(Self { path })
    }

    /// Whether both are the same mount and dentry (`path_equal()`).
    pub(crate) fn same(&self, other: &KPath) -> bool {
        self.path.mnt == other.path.mnt && self.path.dentry == other.path.dentry
    }

    /// What restart compares of the inode.
    pub(crate) fn facts(&self) -> Result<InodeFacts> {
        path_facts(&self.path)
    }

    /// Finds the inode of an exportfs handle on the file system mounted where `self` is,
    /// as a path of that mount: a connected dentry, or with `any` possibly a disconnected one
    /// (which has no path to walk to it). `ESTALE`: the inode no longer exists.
    pub(crate) fn decode_handle(&self, handle: &[u8], handle_type: u32, any: bool) -> Result<Self> {
        let len = c_int::try_from(handle.len()).map_err(|_| EINVAL)?;
        let ty = c_int::try_from(handle_type).map_err(|_| EINVAL)?;
        let mut path = bindings::path::default();
        // SAFETY: `self.path` is valid by the type invariant, `handle` is readable for `len`
        // bytes (the glue copies at most `MAX_HANDLE_SZ` after checking `len`), `path` is
        // writable.
        to_result(unsafe {
            ffi::ckpt_glue_decode_fh(
                &self.path,
                handle.as_ptr().cast(),
                len,
                ty,
                c_int::from(any),
                &mut path,
            )
        })?;
        // INVARIANT: On success the glue took a reference on the mount and the dentry.
        Ok(Self { path })
    }

    /// The path of `self` as seen from `root`, written into `buf` (not NUL-terminated).
    /// `EXDEV`: not under `root`; `ENAMETOOLONG`: longer than `buf`.
    pub(crate) fn name_under<'b>(&self, root: &KPath, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        path_name(&self.path, root, buf)
    }
}

impl KPath {
    /// The path of an open file (`file->f_path`), with its own reference.
    pub(crate) fn of_file(file: &File) -> Self {
        let path = file_path(file);
        // SAFETY: `path` is valid for the borrow of `file`; `path_get` takes a reference.
        unsafe { bindings::path_get(path) };
        // INVARIANT: We took a reference on the mount and the dentry.
        Self { path: *path }
    }
}

impl Drop for KPath {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to the path.
        unsafe { bindings::path_put(&self.path) };
    }
}

/// A task's root and working directory.
pub(crate) struct FsContext {
    /// The root directory.
    pub(crate) root: KPath,
    /// The working directory.
    pub(crate) pwd: KPath,
}

impl FsContext {
    /// The root and cwd of `task`. `ESRCH` if it has none (it is exiting).
    pub(crate) fn of(task: &Task) -> Result<Self> {
        let mut root = bindings::path::default();
        let mut pwd = bindings::path::default();
        // SAFETY: `task` is valid for the borrow; both paths are writable.
        to_result(unsafe { ffi::ckpt_glue_task_fs(task.as_ptr(), &mut root, &mut pwd) })?;
        // INVARIANT: On success the glue took a reference on both paths.
        Ok(Self {
            root: KPath { path: root },
            pwd: KPath { path: pwd },
        })
    }

    /// The caller's root and cwd.
    pub(crate) fn current() -> Result<Self> {
        Self::of(kernel::current!())
    }
}

/// A file opened by the module, not installed in any fd table.
pub(crate) struct NewFile {
    file: ARef<File>,
}

impl NewFile {
    /// Opens `name` with the caller's credentials, as `open(2)` with `flags` would.
    pub(crate) fn open(name: &CStr, flags: u32) -> Result<Self> {
        let flags = c_int::try_from(flags).map_err(|_| EINVAL)?;
        // SAFETY: `name` is NUL-terminated.
        let file = from_err_ptr(unsafe { bindings::filp_open(name.as_char_ptr(), flags, 0) })?;
        Self::adopt(file)
    }

    /// Opens `path` itself with the caller's credentials, as `open_by_handle_at(2)` does: the
    /// file's own permission checks apply, no directory is searched.
    pub(crate) fn open_path(path: &KPath, flags: u32) -> Result<Self> {
        let flags = c_int::try_from(flags).map_err(|_| EINVAL)?;
        // SAFETY: `path.path` is valid by `KPath`'s invariant; the name is empty.
        let file = from_err_ptr(unsafe {
            bindings::file_open_root(&path.path, c"".as_char_ptr(), flags, 0)
        })?;
        Self::adopt(file)
    }

    /// Creates an unnamed regular file in directory `dir` as `open(dir, O_TMPFILE | flags,
    /// mode)` would, with the caller's credentials.
    pub(crate) fn create_tmpfile(dir: &CStr, flags: u32, mode: u32) -> Result<Self> {
        let flags = c_int::try_from(flags | bindings::__O_TMPFILE | bindings::O_DIRECTORY)
            .map_err(|_| EINVAL)?;
        let mode = u16::try_from(mode & 0o7777).map_err(|_| EINVAL)?;
        // SAFETY: `dir` is NUL-terminated.
        let file = from_err_ptr(unsafe { bindings::filp_open(dir.as_char_ptr(), flags, mode) })?;
        Self::adopt(file)
    }

    /// Creates a memfd named `name` (which includes the `memfd:` prefix), sealable, as
    /// `memfd_create(name, MFD_ALLOW_SEALING)` would.
    pub(crate) fn memfd(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; shmem copies it.
        let file = from_err_ptr(unsafe { ffi::ckpt_glue_memfd_create(name.as_char_ptr()) })?;
        Self::adopt(file)
    }

    /// Writes all of `data` at `*pos` and advances it.
    pub(crate) fn write_all_at(&self, mut data: &[u8], pos: &mut i64) -> Result {
        while !data.is_empty() {
            // SAFETY: The file is valid (`ARef`), `data` is readable for its length, `pos`
            // writable.
            let ret = unsafe {
                bindings::kernel_write(self.file.as_ptr(), data.as_ptr().cast(), data.len(), pos)
            };
            let n = usize::try_from(ret).map_err(|_| Error::from_errno(ret as i32))?;
            if n == 0 {
                return Err(EIO);
            }
            data = data.get(n..).ok_or(EIO)?;
        }
        Ok(())
    }

    /// Copies `len` bytes at `*from` of `src` to `*to` of this file, inside the kernel (a
    /// splice through the page cache, as `copy_file_range(2)` copies between file systems),
    /// and advances both; `EIO` if `src` ends first.
    pub(crate) fn copy_from(
        &self,
        src: &NewFile,
        from: &mut i64,
        to: &mut i64,
        len: u64,
    ) -> Result {
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX);
            // SAFETY: Both files are valid (`ARef`); the call checks their modes, types and
            // ranges itself and keeps no reference to either.
            let ret = unsafe {
                bindings::vfs_copy_file_range(
                    src.file.as_ptr(),
                    *from,
                    self.file.as_ptr(),
                    *to,
                    want,
                    bindings::COPY_FILE_SPLICE,
                )
            };
            let n = u64::try_from(ret).map_err(|_| Error::from_errno(ret as i32))?;
            if n == 0 {
                return Err(EIO);
            }
            let step = i64::try_from(n).map_err(|_| EIO)?;
            *from += step;
            *to += step;
            left = left.checked_sub(n).ok_or(EIO)?;
        }
        Ok(())
    }

    /// The start of the next run of data (`SEEK_DATA`) or hole (`SEEK_HOLE`) at or after
    /// `pos`; `ENXIO` past the last data. Moves this (private) file's position.
    pub(crate) fn seek_data_hole(&self, pos: i64, data: bool) -> Result<i64> {
        let whence = if data {
            bindings::SEEK_DATA
        } else {
            bindings::SEEK_HOLE
        };
        // SAFETY: The file is valid (`ARef`).
        let ret = unsafe { bindings::vfs_llseek(self.file.as_ptr(), pos, whence as c_int) };
        if ret < 0 {
            return Err(Error::from_errno(i32::try_from(ret).unwrap_or(-22)));
        }
        Ok(ret)
    }

    /// Sets the size and permission bits of a file restart created, as its owner.
    pub(crate) fn set_size_mode(&self, size: i64, mode: u32) -> Result {
        // SAFETY: The file is valid (`ARef`); the glue locks the inode.
        to_result(unsafe { ffi::ckpt_glue_set_size_mode(self.file.as_ptr(), size, mode) })
    }

    /// Sets the seals of a memfd made by [`NewFile::memfd`], as `F_ADD_SEALS` would.
    pub(crate) fn set_seals(&self, seals: u32) -> Result {
        // SAFETY: The file is valid (`ARef`); the glue checks it is a shmem file.
        to_result(unsafe { ffi::ckpt_glue_memfd_set_seals(self.file.as_ptr(), seals) })
    }

    /// The file's path, with its own reference.
    pub(crate) fn path(&self) -> KPath {
        KPath::of_file(&self.file)
    }

    /// Takes ownership of the reference an open returned.
    fn adopt(file: *mut bindings::file) -> Result<Self> {
        let file = core::ptr::NonNull::new(file).ok_or(EINVAL)?;
        // SAFETY: `file` is a new, valid file whose one reference we own; it is in no fd table,
        // so no `fdget_pos` can be active on it. `File` is a transparent wrapper of `file`.
        let file = unsafe { ARef::from_raw(file.cast()) };
        Ok(Self { file })
    }

    /// The file, for the fd table (which takes its own reference).
    pub(crate) fn file(&self) -> &ARef<File> {
        &self.file
    }

    /// What restart compares of the file.
    pub(crate) fn facts(&self) -> Result<FileFacts> {
        FileFacts::of(&self.file)
    }

    /// Reads into `buf` at `*pos` and advances it; returns how much was read.
    pub(crate) fn read_at(&self, buf: &mut [u8], pos: &mut i64) -> Result<usize> {
        // SAFETY: The file is valid (`ARef`), `buf` is writable for its length, `pos` writable.
        let ret = unsafe {
            bindings::kernel_read(self.file.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), pos)
        };
        usize::try_from(ret).map_err(|_| Error::from_errno(ret as i32))
    }

    /// Sets the position as `lseek(SEEK_SET)` would; the file system validates it. The file
    /// is not installed, so nobody else uses its position: no lock, as `lseek(2)` takes none
    /// for an unshared file.
    pub(crate) fn seek(&self, pos: i64) -> Result<i64> {
        // SAFETY: The file is valid (`ARef`).
        let ret =
            unsafe { bindings::vfs_llseek(self.file.as_ptr(), pos, bindings::SEEK_SET as c_int) };
        if ret < 0 {
            return Err(Error::from_errno(i32::try_from(ret).unwrap_or(-22)));
        }
        Ok(ret)
    }

    /// The file status flags restart restores after open: the `mask` bits of `f_flags` become
    /// those of `flags` (`O_NONBLOCK`: files are opened with it so that nothing blocks in open;
    /// `O_NOFOLLOW` and `O_DIRECTORY`: opened with them for safety, kept only if recorded)
    /// and, for directories on ext2/3/4, the width of the hash cookies `f_pos` holds (32 or
    /// 64; 0 leaves it), as nfsd sets it.
    pub(crate) fn set_restored_flags(&self, flags: u32, mask: u32, hash_bits: u32) {
        let f = self.file.as_ptr();
        // SAFETY: The file is valid (`ARef`). `f_flags` is written under `f_lock`, as
        // `fcntl(F_SETFL)` does. `f_mode` is written without a lock: the file is not installed
        // yet, so nobody else sees it.
        unsafe {
            bindings::spin_lock(addr_of_mut!((*f).f_lock));
            (*f).f_flags = ((*f).f_flags & !mask) | (flags & mask);
            bindings::spin_unlock(addr_of_mut!((*f).f_lock));
            let (h32, h64) = (ffi::CKPT_FMODE_32BITHASH, ffi::CKPT_FMODE_64BITHASH);
            match hash_bits {
                32 => (*f).f_mode = ((*f).f_mode & !h64) | h32,
                64 => (*f).f_mode = ((*f).f_mode & !h32) | h64,
                _ => {}
            }
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Regular files reopened by path (tmpfs, 9p, xfs, btrfs), and the reopen-by-path machinery the
//! kinds that find their file by name share: look the recorded path up, check identity before
//! and after opening, check content (size, mtime), restore flags and position.

use kernel::{bindings, prelude::*};

use super::{
    file_error, is_reg, FileKind, FileRecord, ReopenContext, Scratch, BTRFS_MAGIC, OVERLAYFS_MAGIC,
    TMPFS_MAGIC, V9FS_MAGIC, XFS_MAGIC,
};
use crate::{
    error::{CkptError, CkptResult},
    glue::OpenFile,
    image::{File, FileVariant, PATH_MAX},
    uapi,
    vfs::{FileFacts, InodeFacts, KPath, NewFile},
};

/// File systems whose directories are reopened by path, after checking identity and content
/// (their `f_pos` is an entry index).
pub(super) const REOPENABLE_BY_PATH: &[u64] = &[TMPFS_MAGIC];

/// File systems whose regular files are reopened by path: inode numbers that stay with the
/// file while it exists and modification times kept by the file system, so that device, inode
/// number, size and mtime tell the file checkpoint saw from another one or a changed one.
/// 9p (the test guest's and many VMs' root file system: ld.so and the libraries of a
/// dynamically linked program), overlayfs (containers; the test guest's `/usr`: identity as
/// `stat(2)` through the overlay reports it, a mapping's file by its overlay path), xfs and
/// btrfs (distributions' root file systems; not in the test kernel). Anything else (NFS, FUSE,
/// ...) is refused at checkpoint.
pub(super) const REGULAR_BY_PATH: &[u64] = &[
    TMPFS_MAGIC,
    V9FS_MAGIC,
    OVERLAYFS_MAGIC,
    XFS_MAGIC,
    BTRFS_MAGIC,
];

/// The `f_flags` restart passes to `open()` as recorded (`O_NONBLOCK` is restored after).
pub(super) const REOPEN_F_FLAGS: u32 = bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_DSYNC
    | bindings::__O_SYNC
    | bindings::O_DIRECT
    | bindings::O_NOATIME;

/// The `f_flags` restart opens with whatever the image says, then sets as recorded.
pub(super) const OPEN_ONLY_F_FLAGS: u32 =
    bindings::O_NONBLOCK | bindings::O_NOFOLLOW | bindings::O_DIRECTORY;

/// Regular files on file systems registered as reopenable by path ([`REGULAR_BY_PATH`]): path,
/// position, flags and what restart needs to check identity and content.
pub(super) struct GenericRegular;

impl FileKind for GenericRegular {
    fn name(&self) -> &'static str {
        "regular file"
    }

    fn claims(&self, _file: &OpenFile, facts: &FileFacts, _opts: &super::SaveOptions) -> bool {
        is_reg(facts) && REGULAR_BY_PATH.contains(&facts.s_magic)
    }

    fn variant<'s>(
        &self,
        _file: &OpenFile,
        _facts: &FileFacts,
        _scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        Ok(FileVariant::Regular)
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(variant, FileVariant::Regular)
    }

    /// File type, device, inode number, and a file system whose files this kind reopens (deny
    /// by default at restart too: an image cannot make restart open a file on procfs, sysfs,
    /// a FUSE mount... through a regular file record).
    fn identity(&self, f: &File<'_>, facts: &InodeFacts) -> Result<(), &'static str> {
        same_inode(f, facts)?;
        if !REGULAR_BY_PATH.contains(&facts.s_magic) {
            return Err("file system");
        }
        Ok(())
    }

    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        reopen_by_path(self, rec, cx, &ByPath::default()).map(Some)
    }
}

/// How a kind that finds its file by name reopens it.
#[derive(Default)]
pub(super) struct ByPath<'a> {
    /// An exportfs handle `(handle, type)` that finds the file if its path no longer does.
    pub(super) handle: Option<(&'a [u8], u32)>,
    /// Skip the content check (size, mtime): devices.
    pub(super) no_content: bool,
    /// Leave the position alone: devices.
    pub(super) no_seek: bool,
    /// Width of the directory hash cookies `f_pos` holds (32 or 64; 0 leaves it).
    pub(super) hash_bits: u32,
}

/// File type, device, inode number: the identity of a file on a file system.
pub(super) fn same_inode(f: &File<'_>, facts: &InodeFacts) -> Result<(), &'static str> {
    if facts.mode & bindings::S_IFMT != f.mode & bindings::S_IFMT {
        return Err("file type");
    }
    if facts.dev != f.dev {
        return Err("device");
    }
    if facts.ino != f.ino {
        return Err("inode");
    }
    Ok(())
}

/// Writes `bytes` and a NUL into `buf` and returns it as a C string.
pub(super) fn c_path<'b>(bytes: &[u8], buf: &'b mut [u8]) -> Result<&'b CStr> {
    let with_nul = buf.get_mut(..bytes.len() + 1).ok_or(ENAMETOOLONG)?;
    with_nul[..bytes.len()].copy_from_slice(bytes);
    with_nul[bytes.len()] = 0;
    CStr::from_bytes_with_nul(with_nul).map_err(|_| EINVAL)
}

/// Where restart found a file.
pub(super) enum Found<'b> {
    /// A path, opened as `open(2)` would (every directory on the way searched).
    Name(&'b CStr),
    /// A dentry found by file handle that no path reaches (it left the dcache, and ext
    /// handles name no parent): opened as `open_by_handle_at(2)` would.
    Dentry(KPath),
}

/// Reopens the file of `rec` by its recorded path (or `how.handle`) with the caller's
/// credentials, checks it is the same file, unchanged, and restores flags and position.
pub(super) fn reopen_by_path(
    kind: &dyn FileKind,
    rec: &FileRecord<'_>,
    cx: &mut ReopenContext<'_>,
    how: &ByPath<'_>,
) -> CkptResult<NewFile> {
    let f = &rec.file;
    let (path_buf, found_buf) = cx.names.split_at_mut(PATH_MAX + 1);
    let recorded = c_path(f.path, path_buf)?;

    // Where the file is now: its recorded path if that still names it, else (ext) wherever
    // its file handle says. Checked before opening, so that nothing else is ever opened.
    let found = match (KPath::lookup(recorded), how.handle) {
        (Ok(p), handle) => {
            let facts = p.facts().map_err(|e| lookup_error(rec, e))?;
            match (kind.identity(f, &facts), handle) {
                (Ok(()), _) => Found::Name(recorded),
                (Err(_), Some((h, t))) => {
                    super::ext::locate_by_handle(kind, rec, h, t, cx.root, found_buf)?
                }
                (Err(why), None) => return Err(replaced(rec, why)),
            }
        }
        (Err(e), Some((h, t))) if e == ENOENT => {
            super::ext::locate_by_handle(kind, rec, h, t, cx.root, found_buf)?
        }
        (Err(e), _) => return Err(lookup_error(rec, e)),
    };

    let is_dir = f.mode & bindings::S_IFMT == bindings::S_IFDIR;
    // O_NONBLOCK: nothing may block in open (a FIFO swapped in would); restored below.
    let mut open_flags = (f.f_flags & REOPEN_F_FLAGS)
        | bindings::O_NONBLOCK
        | bindings::O_NOFOLLOW
        | bindings::O_NOCTTY
        | bindings::O_LARGEFILE;
    if is_dir {
        open_flags |= bindings::O_DIRECTORY;
    }
    let file = match &found {
        Found::Name(name) => NewFile::open(name, open_flags),
        Found::Dentry(path) => NewFile::open_path(path, open_flags),
    }
    .map_err(|e| open_error(rec, e))?;

    // Check again what was opened: the path may have changed since the lookup.
    let facts = file.facts().map_err(|e| open_error(rec, e))?;
    kind.identity(f, &facts).map_err(|why| replaced(rec, why))?;
    if !how.no_content && cx.flags & u64::from(uapi::CKPT_RESTART_IGNORE_CONTENT) == 0 {
        content(rec, &facts)?;
    }

    file.set_restored_flags(f.f_flags, OPEN_ONLY_F_FLAGS, how.hash_bits);
    if !how.no_seek {
        restore_position(rec, &file)?;
    }
    Ok(file)
}

/// Sets the position of `file` to the recorded one; the file system validates it.
pub(super) fn restore_position(rec: &FileRecord<'_>, file: &NewFile) -> CkptResult {
    let pos = rec.file.pos;
    match file.seek(pos) {
        Ok(p) if p == pos => Ok(()),
        Ok(p) => Err(file_error(
            rec,
            CkptError::bad_position,
            format_args!("position {pos} restored as {p}"),
        )),
        Err(e) => Err(file_error(
            rec,
            CkptError::bad_position,
            format_args!("cannot restore position {pos} ({e:?})"),
        )),
    }
}

pub(super) fn replaced(rec: &FileRecord<'_>, why: &str) -> CkptError {
    file_error(
        rec,
        CkptError::file_replaced,
        format_args!("another file is there ({why} differs)"),
    )
}

/// Size and mtime must be as at checkpoint (ctime is not compared: rename and chmod change it).
fn content(rec: &FileRecord<'_>, facts: &InodeFacts) -> CkptResult {
    let f = &rec.file;
    if facts.size != f.size {
        return Err(file_error(
            rec,
            CkptError::file_changed,
            format_args!("size changed ({} -> {})", f.size, facts.size),
        ));
    }
    if facts.mtime_sec != f.mtime.sec || facts.mtime_nsec != f.mtime.nsec {
        return Err(file_error(
            rec,
            CkptError::file_changed,
            format_args!("modified since the checkpoint (mtime differs)"),
        ));
    }
    Ok(())
}

pub(super) fn lookup_error(rec: &FileRecord<'_>, e: Error) -> CkptError {
    if e == ENOENT {
        file_error(
            rec,
            |a| CkptError::file_missing(e, a),
            format_args!("no such file"),
        )
    } else {
        file_error(
            rec,
            |a| CkptError::file_access(e, a),
            format_args!("lookup failed ({e:?})"),
        )
    }
}

pub(super) fn open_error(rec: &FileRecord<'_>, e: Error) -> CkptError {
    if e == ENOENT {
        return lookup_error(rec, e);
    }
    if e == ELOOP || e == ENOTDIR {
        return replaced(rec, "file type");
    }
    file_error(
        rec,
        |a| CkptError::file_access(e, a),
        format_args!("cannot open ({e:?})"),
    )
}

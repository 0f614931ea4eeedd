// SPDX-License-Identifier: GPL-2.0

//! Regular files and directories on ext2/3/4: the generic data plus generation and exportfs
//! file handle, so restart reopens the very inode even after a rename and detects "same path,
//! another file"; for directories also the width of the htree hash cookies that `f_pos`
//! holds, so that the position means the same on restart.

use kernel::prelude::*;

use super::{
    file_error,
    generic::{c_path, reopen_by_path, replaced, ByPath, Found},
    is_dir, is_reg, FileKind, FileRecord, Kind, ReopenContext, SaveOptions, Scratch, EXT_MAGIC,
};
use crate::{
    error::{CkptError, CkptResult},
    glue::OpenFile,
    image::{DirCookieMode, File, FileVariant, PATH_MAX},
    vfs::{self, FileFacts, InodeFacts, KPath, NewFile},
};

pub(super) struct ExtFile;

impl FileKind for ExtFile {
    fn name(&self) -> &'static str {
        "ext file"
    }

    fn claims(&self, _file: &OpenFile, facts: &FileFacts, _opts: &SaveOptions) -> bool {
        facts.s_magic == EXT_MAGIC && (is_reg(facts) || is_dir(facts)) && facts.can_encode_fh != 0
    }

    fn variant<'s>(
        &self,
        file: &OpenFile,
        facts: &FileFacts,
        scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        let (generation, handle_type, handle) = ext_handle(file, facts, scratch)?;
        Ok(if is_dir(facts) {
            FileVariant::ExtDirectory {
                generation,
                handle_type,
                handle,
                cookie: dir_cookie(facts),
            }
        } else {
            FileVariant::Ext {
                generation,
                handle_type,
                handle,
            }
        })
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(
            variant,
            FileVariant::Ext { .. } | FileVariant::ExtDirectory { .. }
        )
    }

    fn identity(&self, f: &File<'_>, facts: &InodeFacts) -> Result<(), &'static str> {
        super::generic::same_inode(f, facts)?;
        match f.variant {
            FileVariant::Ext { generation, .. } | FileVariant::ExtDirectory { generation, .. }
                if facts.generation != generation =>
            {
                Err("inode generation")
            }
            _ => Ok(()),
        }
    }

    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        let how = match rec.file.variant {
            FileVariant::Ext {
                handle,
                handle_type,
                ..
            } => ByPath {
                handle: Some((handle, handle_type)),
                ..ByPath::default()
            },
            FileVariant::ExtDirectory {
                handle,
                handle_type,
                cookie,
                ..
            } => ByPath {
                handle: Some((handle, handle_type)),
                hash_bits: match cookie {
                    DirCookieMode::Hash32 => 32,
                    DirCookieMode::Hash64 => 64,
                },
                ..ByPath::default()
            },
            _ => return Err(EINVAL.into()),
        };
        reopen_by_path(self, rec, cx, &how).map(Some)
    }
}

/// The exportfs handle of an ext file, with its generation.
pub(super) fn ext_handle<'s>(
    file: &OpenFile,
    facts: &FileFacts,
    scratch: &'s mut Scratch,
) -> CkptResult<(u32, u32, &'s [u8])> {
    let (handle_type, handle) = file.file_handle(scratch).map_err(|e| {
        let kind = Kind(facts);
        if e == EOVERFLOW {
            CkptError::too_large(
                E2BIG,
                format_args!("{kind}: file handle larger than the image format allows"),
            )
        } else {
            CkptError::other(e, format_args!("{kind}: cannot encode a file handle"))
        }
        .at_fd(file.fd)
    })?;
    Ok((facts.generation, handle_type, handle))
}

/// ext4 gives 32-bit hash cookies to `FMODE_32BITHASH` opens (and to 32-bit callers),
/// 64-bit ones otherwise; the task vector records whether the task is 32-bit.
fn dir_cookie(facts: &FileFacts) -> DirCookieMode {
    if facts.hash32_only() {
        DirCookieMode::Hash32
    } else {
        DirCookieMode::Hash64
    }
}

/// Finds an ext file by its handle, on the file system mounted at the nearest existing
/// ancestor of its recorded path: its current path (written into `buf`) if a path reaches
/// it, else, for a caller who may open files by handle, the dentry itself.
pub(super) fn locate_by_handle<'b>(
    kind: &dyn FileKind,
    rec: &FileRecord<'_>,
    handle: &[u8],
    handle_type: u32,
    root: &KPath,
    buf: &'b mut [u8],
) -> CkptResult<Found<'b>> {
    let f = &rec.file;
    // ENOENT, ESTALE (and EINVAL: a handle the file system no longer accepts) say the file is
    // gone; any other errno (ENOMEM...) says nothing about the file.
    let missing = |e: Error| {
        if e == ENOENT || e == ESTALE || e == EINVAL {
            let e = if e == EINVAL { ESTALE } else { e };
            file_error(
                rec,
                |a| CkptError::file_missing(e, a),
                format_args!("no longer exists (neither at its path nor by file handle)"),
            )
        } else {
            file_error(rec, |a| CkptError::other(e, a), format_args!("{e:?}"))
        }
    };
    // The file system: the nearest ancestor of the path that exists and is on device `dev`.
    let mut prefix = f.path;
    let mount = loop {
        let cut = prefix.iter().rposition(|&b| b == b'/').unwrap_or(0);
        prefix = &f.path[..cut.max(1)];
        let dir = c_path(prefix, buf)?;
        if let Ok(p) = KPath::lookup(dir) {
            if p.facts().is_ok_and(|facts| facts.dev == f.dev) {
                break p;
            }
        }
        if cut == 0 {
            return Err(missing(ENOENT));
        }
    };
    let check = |found: &KPath| -> CkptResult {
        let facts = found.facts().map_err(missing)?;
        if facts.unlinked != 0 {
            return Err(missing(ESTALE));
        }
        kind.identity(f, &facts).map_err(|why| replaced(rec, why))
    };
    let Ok(found) = mount.decode_handle(handle, handle_type, false) else {
        // No connected dentry: the inode may still exist, with no path to it in the dcache.
        let found = mount
            .decode_handle(handle, handle_type, true)
            .map_err(missing)?;
        check(&found)?;
        if !vfs::may_open_by_handle() {
            return Err(file_error(
                rec,
                |a| CkptError::file_access(EACCES, a),
                format_args!(
                    "found by file handle, but no path reaches it; opening it by handle \
                     needs CAP_DAC_READ_SEARCH"
                ),
            ));
        }
        return Ok(Found::Dentry(found));
    };
    check(&found)?;
    let len = found
        .name_under(root, &mut buf[..PATH_MAX])
        .map_err(|e| {
            file_error(
                rec,
                |a| CkptError::file_access(e, a),
                format_args!("found by handle, but not reachable from the caller's root"),
            )
        })?
        .len();
    // `name_under` wrote the path at the start of `buf`: NUL-terminate it in place.
    buf[len] = 0;
    let name = CStr::from_bytes_with_nul(&buf[..=len]).map_err(|_| EINVAL)?;
    Ok(Found::Name(name))
}

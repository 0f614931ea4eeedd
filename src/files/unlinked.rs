// SPDX-License-Identifier: GPL-2.0

//! Regular files on tmpfs and ext2/3/4 whose name was removed while they were open
//! (temporary files; also the old file of a path whose file was replaced): with
//! `CKPT_CHECKPOINT_FILE_CONTENTS`, their data runs are saved in the image (holes kept),
//! and restart makes a new unnamed file (`O_TMPFILE`) in the directory the name was in, with
//! the same contents, size, mode, flags and position. Dup'd fds share it, as they shared
//! the original. Without the flag they stay refused as unlinked.

use kernel::{bindings, prelude::*};

use super::{
    contents::{self, Contents},
    file_error,
    generic::c_path,
    is_reg, FileKind, FileRecord, ReopenContext, SaveOptions, Scratch, EXT_MAGIC, TMPFS_MAGIC,
};
use crate::{
    error::{CkptError, CkptResult},
    glue::OpenFile,
    image::{FileVariant, PATH_MAX},
    vfs::{FileFacts, NewFile},
};

pub(super) struct Unlinked;

impl FileKind for Unlinked {
    fn name(&self) -> &'static str {
        "unlinked file"
    }

    fn claims(&self, _file: &OpenFile, facts: &FileFacts, opts: &SaveOptions) -> bool {
        opts.contents
            && facts.unlinked != 0
            && is_reg(facts)
            && matches!(facts.s_magic, TMPFS_MAGIC | EXT_MAGIC)
    }

    fn needs_name(&self) -> bool {
        false
    }

    fn variant<'s>(
        &self,
        file: &OpenFile,
        facts: &FileFacts,
        _scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        let data_len = Contents::open(file, facts)?.data_len(facts)?;
        Ok(FileVariant::Unlinked { data_len })
    }

    fn saves_contents(&self) -> bool {
        true
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(variant, FileVariant::Unlinked { .. })
    }

    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        let path = rec.file.path;
        let cut = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
        let dir = c_path(&path[..cut.max(1)], &mut cx.names[..PATH_MAX + 1])?;
        let made = NewFile::create_tmpfile(dir, bindings::O_RDWR | bindings::O_LARGEFILE, 0o600)
            .map_err(|e| {
                if e == ENOENT || e == ENOTDIR {
                    let what = format_args!(
                        "cannot create an unnamed file in its directory ({e:?}): the directory \
                         is gone; create it again (on a file system like the one it was on) \
                         and restart"
                    );
                    file_error(rec, |a| CkptError::file_missing(e, a), what)
                } else {
                    let what =
                        format_args!("cannot create an unnamed file in its directory ({e:?})");
                    file_error(rec, |a| CkptError::file_access(e, a), what)
                }
            })?;
        contents::restore(rec, cx, &made)?;
        contents::reopen_as_recorded(rec, &made).map(Some)
    }
}

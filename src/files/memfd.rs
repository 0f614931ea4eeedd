// SPDX-License-Identifier: GPL-2.0

//! memfds (`memfd_create(2)`): with `CKPT_CHECKPOINT_FILE_CONTENTS`, their name, seals
//! (`F_GET_SEALS`), size, mode and data runs (holes kept) are saved; restart makes a new
//! memfd of that name, writes the contents, sets size and mode, then the seals (so that a
//! `F_SEAL_WRITE` memfd refuses writes again), and opens it as recorded. hugetlbfs memfds
//! (`MFD_HUGETLB`) are not claimed: they stay refused.

use kernel::prelude::*;

use super::{
    contents::{self, Contents},
    file_error, is_reg, FileKind, FileRecord, Kind, ReopenContext, SaveOptions, Scratch,
    TMPFS_MAGIC,
};
use crate::{
    error::{CkptError, CkptResult},
    glue::OpenFile,
    image::{FileVariant, MEMFD_NAME_MAX},
    vfs::{self, FileFacts, NewFile},
};

pub(super) struct Memfd;

impl FileKind for Memfd {
    fn name(&self) -> &'static str {
        "memfd"
    }

    fn claims(&self, file: &OpenFile, facts: &FileFacts, opts: &SaveOptions) -> bool {
        let mut name = [0u8; MEMFD_NAME_MAX + 1];
        opts.contents
            && is_reg(facts)
            && facts.s_magic == TMPFS_MAGIC
            && vfs::memfd_info(file.file(), &mut name).is_ok()
    }

    fn needs_name(&self) -> bool {
        false
    }

    fn records_path(&self) -> bool {
        false
    }

    fn variant<'s>(
        &self,
        file: &OpenFile,
        facts: &FileFacts,
        scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        let mut name = [0u8; MEMFD_NAME_MAX + 1];
        let (seals, name) = vfs::memfd_info(file.file(), &mut name).map_err(|e| {
            CkptError::other(e, format_args!("{}: not a memfd any more", Kind(facts)))
        })?;
        let data_len = Contents::open(file, facts)?.data_len(facts)?;
        // Names are at most 249 bytes, the scratch space holds 128: longer ones are refused.
        let stored = scratch.get_mut(..name.len()).ok_or_else(|| {
            CkptError::too_large(
                ENAMETOOLONG,
                format_args!(
                    "{}: memfd name longer than {} bytes is not supported yet",
                    Kind(facts),
                    crate::image::FILE_HANDLE_MAX
                ),
            )
        })?;
        stored.copy_from_slice(name);
        Ok(FileVariant::Memfd {
            seals,
            data_len,
            name: stored,
        })
    }

    fn saves_contents(&self) -> bool {
        true
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(variant, FileVariant::Memfd { .. })
    }

    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        let FileVariant::Memfd { seals, name, .. } = rec.file.variant else {
            return Err(EINVAL.into());
        };
        // "memfd:NAME" and a NUL; the codec checked that the name has no NUL.
        let full = cx.names.get_mut(..name.len() + 7).ok_or(ENAMETOOLONG)?;
        full[..6].copy_from_slice(b"memfd:");
        full[6..6 + name.len()].copy_from_slice(name);
        full[6 + name.len()] = 0;
        let full = CStr::from_bytes_with_nul(full).map_err(|_| EINVAL)?;
        let made = NewFile::memfd(full).map_err(|e| {
            file_error(
                rec,
                |a| CkptError::file_access(e, a),
                format_args!("cannot create a memfd ({e:?})"),
            )
        })?;
        contents::restore(rec, cx, &made)?;
        made.set_seals(seals).map_err(|e| {
            file_error(
                rec,
                |a| CkptError::file_access(e, a),
                format_args!("cannot set the seals {seals:#x} ({e:?})"),
            )
        })?;
        contents::reopen_as_recorded(rec, &made).map(Some)
    }
}

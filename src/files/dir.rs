// SPDX-License-Identifier: GPL-2.0

//! Directories on file systems reopenable by path (tmpfs): path and position. Their `f_pos`
//! is an entry index, not a hash, so the cookie width is recorded as 64 and means nothing.

use super::{
    generic::{reopen_by_path, ByPath, REOPENABLE_BY_PATH},
    is_dir, FileKind, FileRecord, ReopenContext, SaveOptions, Scratch,
};
use crate::{
    error::CkptResult,
    glue::OpenFile,
    image::{DirCookieMode, FileVariant},
    vfs::{FileFacts, NewFile},
};

pub(super) struct GenericDirectory;

impl FileKind for GenericDirectory {
    fn name(&self) -> &'static str {
        "directory"
    }

    fn claims(&self, _file: &OpenFile, facts: &FileFacts, _opts: &SaveOptions) -> bool {
        is_dir(facts) && REOPENABLE_BY_PATH.contains(&facts.s_magic)
    }

    fn variant<'s>(
        &self,
        _file: &OpenFile,
        _facts: &FileFacts,
        _scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        Ok(FileVariant::Directory {
            cookie: DirCookieMode::Hash64,
        })
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(variant, FileVariant::Directory { .. })
    }

    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        reopen_by_path(self, rec, cx, &ByPath::default()).map(Some)
    }
}

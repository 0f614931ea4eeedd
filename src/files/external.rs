// SPDX-License-Identifier: GPL-2.0

//! External fds: the caller of checkpoint declares them, the image records their number and
//! kind only, and the restorer supplies them (its own fds at those numbers stay). Checkpoint
//! writes their records itself ([`super::external_kind`]): no file claims this kind.

use super::{FileKind, FileRecord, ReopenContext, SaveOptions, Scratch};
use crate::{
    error::CkptResult,
    glue::OpenFile,
    image::FileVariant,
    vfs::{FileFacts, NewFile},
};

pub(super) struct External;

impl FileKind for External {
    fn name(&self) -> &'static str {
        "external fd"
    }

    fn claims(&self, _file: &OpenFile, _facts: &FileFacts, _opts: &SaveOptions) -> bool {
        false
    }

    fn variant<'s>(
        &self,
        _file: &OpenFile,
        facts: &FileFacts,
        _scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        Ok(FileVariant::External {
            fd_kind: super::external_kind(facts),
        })
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(variant, FileVariant::External { .. })
    }

    fn reopen(
        &self,
        _rec: &FileRecord<'_>,
        _cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        Ok(None)
    }
}

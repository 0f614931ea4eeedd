// SPDX-License-Identifier: GPL-2.0

//! `/dev/null`, `/dev/zero`, `/dev/full`, `/dev/random`, `/dev/urandom`: no state, reopened
//! by path and found by device number. Every other character device stays denied.

use kernel::bindings;

use super::{
    generic::{reopen_by_path, ByPath},
    FileKind, FileRecord, ReopenContext, SaveOptions, Scratch,
};
use crate::{
    error::CkptResult,
    glue::OpenFile,
    image::{File, FileVariant},
    vfs::{FileFacts, InodeFacts, NewFile},
};

/// Character devices without state: `(major, minor)` of null, zero, full, random, urandom.
const STATELESS_CHAR_DEVICES: &[(u32, u32)] = &[(1, 3), (1, 5), (1, 7), (1, 8), (1, 9)];

pub(super) struct StatelessCharDevice;

impl FileKind for StatelessCharDevice {
    fn name(&self) -> &'static str {
        "stateless char device"
    }

    fn claims(&self, _file: &OpenFile, facts: &FileFacts, _opts: &SaveOptions) -> bool {
        facts.file_type() == bindings::S_IFCHR
            && STATELESS_CHAR_DEVICES.contains(&(facts.rdev_major, facts.rdev_minor))
    }

    fn variant<'s>(
        &self,
        _file: &OpenFile,
        facts: &FileFacts,
        _scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        Ok(FileVariant::CharDevice { rdev: facts.rdev })
    }

    fn restores(&self, variant: &FileVariant<'_>) -> bool {
        matches!(variant, FileVariant::CharDevice { .. })
    }

    /// Device nodes are found by number: their inode may differ after a reboot.
    fn identity(&self, f: &File<'_>, facts: &InodeFacts) -> Result<(), &'static str> {
        if facts.mode & bindings::S_IFMT != f.mode & bindings::S_IFMT {
            return Err("file type");
        }
        match f.variant {
            FileVariant::CharDevice { rdev } if facts.rdev == rdev => Ok(()),
            _ => Err("device number"),
        }
    }

    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>> {
        let how = ByPath {
            no_content: true,
            no_seek: true,
            ..ByPath::default()
        };
        reopen_by_path(self, rec, cx, &how).map(Some)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Open files, one kind per file: what checkpoint saves of them and how restart brings them
//! back, in both directions, as `file_operations` would.
//!
//! Each kind of open file implements [`FileKind`] in its own file of this directory: at
//! checkpoint whether it claims a file and what it saves of it (the kind-specific part of the
//! FILE record, and for some kinds records that follow it), at restart whether it restores a
//! record, how it checks the identity of what it finds and how it reopens it and restores its
//! state. The registry, [`KINDS`], picks the first kind that claims a file (more specific ones
//! first). A file no kind claims aborts the checkpoint: **deny by default**, with a message
//! naming the fd and what kind of file it is; a file that lost its name is refused as unlinked
//! unless a kind claims it without one.
//!
//! Adding a kind: one file here implementing [`FileKind`], its line in [`KINDS`], its tests
//! (a kselftest round trip, and host tests if it adds to the image format), and its section in
//! `Documentation/checkpoint.rst` and `restart.rst` (see "Adding a file kind" there).

use core::fmt;

use kernel::{bindings, prelude::*};

use crate::{
    error::{CkptError, CkptResult, Message},
    glue::OpenFile,
    image::{ExternalFdKind, File, FileVariant},
    restart::{DataRun, Spool},
    vfs::{FileFacts, InodeFacts, KPath, NewFile},
};

mod chardev;
mod contents;
mod dir;
mod ext;
mod external;
mod generic;
mod memfd;
mod unlinked;

/// `EXT4_SUPER_MAGIC`: ext2, ext3 and ext4 (all served by the ext4 driver here).
pub(crate) const EXT_MAGIC: u64 = 0xEF53;
/// `TMPFS_MAGIC`.
pub(crate) const TMPFS_MAGIC: u64 = 0x0102_1994;
/// `V9FS_MAGIC`.
const V9FS_MAGIC: u64 = 0x0102_1997;
/// `XFS_SUPER_MAGIC`.
const XFS_MAGIC: u64 = 0x5846_5342;
/// `BTRFS_SUPER_MAGIC`.
const BTRFS_MAGIC: u64 = 0x9123_683E;
/// `OVERLAYFS_SUPER_MAGIC`.
const OVERLAYFS_MAGIC: u64 = 0x794c_7630;
/// `ANON_INODE_FS_MAGIC`.
const ANON_INODE_MAGIC: u64 = 0x0904_1934;
/// `PROC_SUPER_MAGIC`.
const PROC_MAGIC: u64 = 0x9fa0;

/// Scratch space a kind may use for its variant's data (a file handle).
pub(crate) type Scratch = [u8; crate::image::FILE_HANDLE_MAX];

/// What the caller of a checkpoint asked for, as far as files are concerned.
#[derive(Clone, Copy)]
pub(crate) struct SaveOptions {
    /// Save the contents of files that cannot be reopened by name (unlinked files, memfds).
    pub(crate) contents: bool,
    /// The most bytes of data saved of one file.
    pub(crate) contents_max: u64,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            contents: false,
            contents_max: CONTENTS_MAX_DEFAULT,
        }
    }
}

/// The default limit on the data saved of one file (64 MiB).
pub(crate) const CONTENTS_MAX_DEFAULT: u64 = 64 << 20;

/// One kind of open file, in both directions.
pub(crate) trait FileKind: Sync {
    /// Short name, for messages.
    fn name(&self) -> &'static str;

    // ---- checkpoint ----

    /// Whether this kind handles `file`, whose facts are `facts`.
    fn claims(&self, file: &OpenFile, facts: &FileFacts, opts: &SaveOptions) -> bool;

    /// Whether restart finds the file by its name: then a file that lost its name (unlinked)
    /// is refused rather than saved under a name that means nothing.
    fn needs_name(&self) -> bool {
        true
    }

    /// Whether the record holds the file's path (relative to the task's root; for a file
    /// that lost its name, the name it had). A kind whose files have no path reachable from
    /// the task (memfds) records none.
    fn records_path(&self) -> bool {
        true
    }

    /// The kind-specific part of the file record; may use `scratch` for its bytes.
    fn variant<'s>(
        &self,
        file: &OpenFile,
        facts: &FileFacts,
        scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>>;

    /// Whether the image holds the file's contents (its data runs, holes kept, after the file
    /// record): kinds restart cannot reopen by name (unlinked files, memfds). Their variant
    /// announces the `data_len` that [`FileKind::save_contents`] then writes.
    fn saves_contents(&self) -> bool {
        false
    }

    /// Writes what follows the file record (its contents), through `emit(offset, bytes)`:
    /// exactly the `data_len` bytes its variant announced. By default, a kind that
    /// [`saves_contents`](FileKind::saves_contents) streams the file's data runs
    /// (`contents.rs`); other kinds save nothing more.
    fn save_contents(
        &self,
        file: &OpenFile,
        facts: &FileFacts,
        data_len: u64,
        emit: &mut dyn FnMut(u64, &[u8]) -> CkptResult,
    ) -> CkptResult {
        if !self.saves_contents() {
            return Ok(());
        }
        contents::Contents::open(file, facts)?.stream(facts, data_len, emit)
    }

    // ---- restart ----

    /// Whether this kind restores records of `variant`.
    fn restores(&self, variant: &FileVariant<'_>) -> bool;

    /// Which identity field of what restart found at the path differs from the record, if
    /// any: by default file type, device and inode number.
    fn identity(&self, f: &File<'_>, facts: &InodeFacts) -> Result<(), &'static str> {
        generic::same_inode(f, facts)
    }

    /// Reopens the file of `rec` with the caller's credentials and restores its state (flags,
    /// position...); `None` for a file the caller supplies itself (external).
    fn reopen(
        &self,
        rec: &FileRecord<'_>,
        cx: &mut ReopenContext<'_>,
    ) -> CkptResult<Option<NewFile>>;
}

/// The registry: the first kind that claims a file handles it; restart asks the first that
/// restores a record's variant.
pub(crate) static KINDS: &[&dyn FileKind] = &[
    &memfd::Memfd,
    &unlinked::Unlinked,
    &ext::ExtFile,
    &generic::GenericRegular,
    &dir::GenericDirectory,
    &chardev::StatelessCharDevice,
    &external::External,
];

/// Finds the kind that saves a file, or the deny-by-default error.
pub(crate) fn lookup(
    file: &OpenFile,
    facts: &FileFacts,
    opts: &SaveOptions,
) -> CkptResult<&'static dyn FileKind> {
    let kind = KINDS
        .iter()
        .copied()
        .find(|k| k.claims(file, facts, opts))
        .ok_or_else(|| {
            CkptError::unsupported_file(format_args!(
                "{}: no checkpoint implementation",
                Kind(facts)
            ))
        })?;
    if kind.needs_name() && facts.unlinked != 0 {
        let hint = if opts.contents || !is_reg(facts) {
            ""
        } else {
            "; CKPT_CHECKPOINT_FILE_CONTENTS saves the contents of unlinked files on tmpfs and \
             ext2/3/4 and of memfds"
        };
        return Err(CkptError::unlinked_file(format_args!(
            "unlinked file ({}){hint}",
            Kind(facts)
        )));
    }
    Ok(kind)
}

/// Finds the kind that restores a record (every variant the codec knows has one).
pub(crate) fn restorer(variant: &FileVariant<'_>) -> Option<&'static dyn FileKind> {
    KINDS.iter().copied().find(|k| k.restores(variant))
}

/// The kind of an external fd, from its file type.
pub(crate) fn external_kind(facts: &FileFacts) -> ExternalFdKind {
    match facts.file_type() {
        bindings::S_IFIFO => ExternalFdKind::PIPE,
        bindings::S_IFSOCK => ExternalFdKind::SOCKET,
        bindings::S_IFCHR if is_tty(facts) => ExternalFdKind::TTY,
        _ => ExternalFdKind::OTHER,
    }
}

/// Terminals: the console and virtual terminals (4, 5), pty slaves (136-143).
fn is_tty(facts: &FileFacts) -> bool {
    matches!(facts.rdev_major, 4 | 5 | 136..=143)
}

pub(crate) fn is_reg(facts: &InodeFacts) -> bool {
    facts.file_type() == bindings::S_IFREG
}

pub(crate) fn is_dir(facts: &InodeFacts) -> bool {
    facts.file_type() == bindings::S_IFDIR
}

// ---- restart ----

/// A FILE record of the image being restarted.
pub(crate) struct FileRecord<'a> {
    /// Its object id.
    pub(crate) id: u64,
    /// The record.
    pub(crate) file: File<'a>,
    /// Lowest fd using it (what errors name), `u32::MAX` while unreferenced.
    pub(crate) first_fd: u32,
    /// Its runs of contents, as indices into [`ReopenContext::runs`].
    pub(crate) runs: core::ops::Range<usize>,
}

/// What every reopen shares: the caller's root, buffers for two paths, the restart flags.
pub(crate) struct ReopenContext<'b> {
    /// The caller's root directory.
    pub(crate) root: &'b KPath,
    /// Room for two NUL-terminated paths (`2 * (PATH_MAX + 1)` bytes).
    pub(crate) names: &'b mut [u8],
    /// `ckpt_restart.flags`.
    pub(crate) flags: u64,
    /// The image's FILE_DATA records, validated, in image order.
    pub(crate) runs: &'b [DataRun],
    /// Where their data is.
    pub(crate) spool: &'b Spool,
}

/// An error about the file of `rec`, made by `error` (a [`CkptError`] constructor) from a
/// message that starts with the recorded path (a memfd has none: its name instead); blamed on
/// its lowest fd and its record.
pub(crate) fn file_error(
    rec: &FileRecord<'_>,
    error: impl FnOnce(fmt::Arguments<'_>) -> CkptError,
    args: fmt::Arguments<'_>,
) -> CkptError {
    if let FileVariant::Memfd { name, .. } = rec.file.variant {
        let name = Printable(name);
        return rec.blame(error(format_args!("memfd \"{name}\": {args}")));
    }
    rec.blame(error(format_args!("{}: {args}", Printable(rec.file.path))))
}

impl FileRecord<'_> {
    /// `err` blamed on this record and on its lowest fd, or, for a file only mapped (no fd
    /// uses it), prefixed with "mapped file".
    pub(crate) fn blame(&self, err: CkptError) -> CkptError {
        let err = if self.first_fd == u32::MAX {
            err.about(format_args!("mapped file"))
        } else {
            err.at_fd(self.first_fd)
        };
        err.in_record(self.id)
    }
}

/// Bytes for messages (non-printable ones as `?`, cut to fit).
pub(crate) struct Printable<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use core::fmt::Write;
        for &b in self.0.iter().take(200) {
            let c = if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            };
            f.write_char(c)?;
        }
        if self.0.len() > 200 {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// Describes a file's kind for people: "pipe", "anon inode [eventfd]", "char device 4:1
/// (tty1)", "regular file on ext4".
pub(crate) struct Kind<'a>(pub(crate) &'a FileFacts);

impl fmt::Display for Kind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = self.0;
        let mut name = Message::new();
        name.push_bytes(facts.name());
        let name = core::str::from_utf8(name.as_bytes()).unwrap_or("?");
        let mut fstype = Message::new();
        fstype.push_bytes(facts.fstype());
        let fstype = core::str::from_utf8(fstype.as_bytes()).unwrap_or("?");

        if facts.o_path() {
            return f.write_str("O_PATH descriptor");
        }
        match facts.s_magic {
            ANON_INODE_MAGIC => return write!(f, "anon inode {name}"),
            PROC_MAGIC => return write!(f, "procfs file {name}"),
            _ => {}
        }
        match facts.file_type() {
            bindings::S_IFIFO => f.write_str("pipe"),
            bindings::S_IFSOCK => f.write_str("socket"),
            bindings::S_IFCHR => write!(
                f,
                "char device {}:{} ({name})",
                facts.rdev_major, facts.rdev_minor
            ),
            bindings::S_IFBLK => write!(f, "block device ({name})"),
            bindings::S_IFDIR => write!(f, "directory on {fstype}"),
            bindings::S_IFREG => write!(f, "regular file on {fstype}"),
            _ => write!(f, "file of mode {:o} on {fstype}", facts.mode),
        }
    }
}

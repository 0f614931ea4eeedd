// SPDX-License-Identifier: GPL-2.0

//! The checkpoint trait for open files and its registry.
//!
//! [`FileCheckpoint`] plays the role the design gave `file_operations::checkpoint`: the code
//! that knows a kind of file decides what to save of it. The registry, [`IMPLEMENTATIONS`],
//! picks the first implementation that claims a file by file system and inode kind. A file
//! nobody claims aborts the checkpoint: **deny by default**, with a message naming the fd and
//! what kind of file it is.
//!
//! Adding an implementation: write a unit struct implementing [`FileCheckpoint`], add it to
//! [`IMPLEMENTATIONS`] (more specific ones first), teach restart to reopen it, and add a
//! kselftest that checkpoints such a file and decodes the record.

use core::fmt;

use kernel::{bindings, prelude::*};

use crate::{
    error::{CkptError, CkptResult, Message},
    glue::OpenFile,
    image::{DirCookieMode, ExternalFdKind, FileVariant},
    vfs::FileFacts,
};

/// `EXT4_SUPER_MAGIC`: ext2, ext3 and ext4 (all served by the ext4 driver here).
const EXT_MAGIC: u64 = 0xEF53;
/// `TMPFS_MAGIC`.
const TMPFS_MAGIC: u64 = 0x0102_1994;
/// `ANON_INODE_FS_MAGIC`.
const ANON_INODE_MAGIC: u64 = 0x0904_1934;
/// `PROC_SUPER_MAGIC`.
const PROC_MAGIC: u64 = 0x9fa0;

/// File systems whose regular files and directories are reopened by path, after checking
/// identity and content, by the generic implementations.
const REOPENABLE_BY_PATH: &[u64] = &[TMPFS_MAGIC];

/// Character devices without state: `(major, minor)` of null, zero, full, random, urandom.
const STATELESS_CHAR_DEVICES: &[(u32, u32)] = &[(1, 3), (1, 5), (1, 7), (1, 8), (1, 9)];

/// Scratch space an implementation may use for its variant's data (a file handle).
pub(crate) type Scratch = [u8; crate::image::FILE_HANDLE_MAX];

/// What a kind of open file saves at checkpoint.
pub(crate) trait FileCheckpoint: Sync {
    /// Short name, for messages.
    fn name(&self) -> &'static str;

    /// Whether this implementation handles `facts`' file.
    fn claims(&self, facts: &FileFacts) -> bool;

    /// The kind-specific part of the file record; may use `scratch` for its bytes.
    fn variant<'s>(
        &self,
        file: &OpenFile,
        facts: &FileFacts,
        scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>>;
}

/// The registry: the first implementation that claims a file handles it.
pub(crate) static IMPLEMENTATIONS: &[&dyn FileCheckpoint] = &[
    &ExtFile,
    &GenericRegular,
    &GenericDirectory,
    &StatelessCharDevice,
];

/// Finds the implementation for a file, or the deny-by-default error.
pub(crate) fn lookup(facts: &FileFacts) -> CkptResult<&'static dyn FileCheckpoint> {
    IMPLEMENTATIONS
        .iter()
        .copied()
        .find(|i| i.claims(facts))
        .ok_or_else(|| {
            CkptError::unsupported_file(format_args!(
                "{}: no checkpoint implementation",
                Kind(facts)
            ))
        })
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

fn is_reg(facts: &FileFacts) -> bool {
    facts.file_type() == bindings::S_IFREG
}

fn is_dir(facts: &FileFacts) -> bool {
    facts.file_type() == bindings::S_IFDIR
}

/// The exportfs handle of an ext file, with its generation.
fn ext_handle<'s>(
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

/// Regular files and directories on ext2/3/4: the generic data plus generation and file
/// handle, so restart reopens the very inode even after a rename and detects "same path,
/// another file"; for directories also the width of the htree hash cookies that `f_pos`
/// holds, so that the position means the same on restart.
struct ExtFile;

impl FileCheckpoint for ExtFile {
    fn name(&self) -> &'static str {
        "ext file"
    }

    fn claims(&self, facts: &FileFacts) -> bool {
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

/// Regular files on file systems registered as reopenable by path (tmpfs): path, position,
/// flags and what restart needs to check identity and content.
struct GenericRegular;

impl FileCheckpoint for GenericRegular {
    fn name(&self) -> &'static str {
        "regular file"
    }

    fn claims(&self, facts: &FileFacts) -> bool {
        is_reg(facts) && REOPENABLE_BY_PATH.contains(&facts.s_magic)
    }

    fn variant<'s>(
        &self,
        _file: &OpenFile,
        _facts: &FileFacts,
        _scratch: &'s mut Scratch,
    ) -> CkptResult<FileVariant<'s>> {
        Ok(FileVariant::Regular)
    }
}

/// Directories on file systems reopenable by path: path and position. Their `f_pos` is an
/// entry index, not a hash, so the cookie width is recorded as 64 and means nothing.
struct GenericDirectory;

impl FileCheckpoint for GenericDirectory {
    fn name(&self) -> &'static str {
        "directory"
    }

    fn claims(&self, facts: &FileFacts) -> bool {
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
}

/// `/dev/null`, `/dev/zero`, `/dev/full`, `/dev/random`, `/dev/urandom`: no state, reopened
/// by path. Every other character device stays denied.
struct StatelessCharDevice;

impl FileCheckpoint for StatelessCharDevice {
    fn name(&self) -> &'static str {
        "stateless char device"
    }

    fn claims(&self, facts: &FileFacts) -> bool {
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

// SPDX-License-Identifier: GPL-2.0

//! FILE records (an open file: common part plus a per-kind tail) and FILE_TABLE records
//! (a task's descriptors pointing at FILE objects by id).

use core::fmt;

use super::contents::MEMFD_NAME_MAX;
use super::error::{FieldError, FormatErrorKind};
use super::header::Timestamp;
use super::wire::{check_path, read_path, ByteOut, Reader, Stop};

/// Longest path in bytes (the kernel's `PATH_MAX`, NUL excluded).
pub const PATH_MAX: usize = 4096;

/// Longest exportfs file handle in bytes (`MAX_HANDLE_SZ`).
pub const FILE_HANDLE_MAX: usize = 128;

/// File table fd flag: close-on-exec.
pub const FD_FLAG_CLOEXEC: u32 = 1;

/// Length of one file table entry.
pub const FD_ENTRY_LEN: usize = 16;

/// Most entries in one file table: what fits in a record of maximum length,
/// `(RECORD_MAX_LEN - 16 - 8) / 16`.
pub const FILE_TABLE_MAX_ENTRIES: u32 = 1_048_574;

/// How a directory's `f_pos` hash cookies are sized (ext4 `dx_dir` hashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirCookieMode {
    /// 32-bit hash cookies (`FMODE_32BITHASH`).
    Hash32,
    /// 64-bit hash cookies (`FMODE_64BITHASH`).
    Hash64,
}

impl DirCookieMode {
    fn to_wire(self) -> u32 {
        match self {
            DirCookieMode::Hash32 => 32,
            DirCookieMode::Hash64 => 64,
        }
    }

    fn from_wire(v: u32) -> Option<Self> {
        match v {
            32 => Some(DirCookieMode::Hash32),
            64 => Some(DirCookieMode::Hash64),
            _ => None,
        }
    }
}

/// What an external fd is: the restarter must supply a descriptor of this kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternalFdKind(pub u32);

impl ExternalFdKind {
    /// Unspecified.
    pub const OTHER: ExternalFdKind = ExternalFdKind(0);
    /// A pipe or FIFO.
    pub const PIPE: ExternalFdKind = ExternalFdKind(1);
    /// A socket.
    pub const SOCKET: ExternalFdKind = ExternalFdKind(2);
    /// A terminal.
    pub const TTY: ExternalFdKind = ExternalFdKind(3);

    /// Registry name, if the number is assigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ExternalFdKind::OTHER => "other",
            ExternalFdKind::PIPE => "pipe",
            ExternalFdKind::SOCKET => "socket",
            ExternalFdKind::TTY => "tty",
            _ => return None,
        })
    }
}

/// The kind-specific part of a FILE record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileVariant<'a> {
    /// Regular file on any filesystem, reopened by path (kind 1).
    Regular,
    /// Regular file on ext2/3/4, reopenable by handle even if renamed (kind 2).
    Ext {
        /// `i_generation`, to detect a reused inode number.
        generation: u32,
        /// exportfs fid type.
        handle_type: u32,
        /// exportfs file handle, at most [`FILE_HANDLE_MAX`] bytes.
        handle: &'a [u8],
    },
    /// Directory (kind 3).
    Directory {
        /// Hash cookie size, needed to reinterpret `f_pos`.
        cookie: DirCookieMode,
    },
    /// Directory on ext2/3/4 (kind 6): reopenable by handle even if renamed, and with the hash
    /// cookie size that gives `f_pos` its meaning in an htree directory.
    ExtDirectory {
        /// `i_generation`, to detect a reused inode number.
        generation: u32,
        /// exportfs fid type.
        handle_type: u32,
        /// exportfs file handle, at most [`FILE_HANDLE_MAX`] bytes.
        handle: &'a [u8],
        /// Hash cookie size, needed to reinterpret `f_pos`.
        cookie: DirCookieMode,
    },
    /// Character device (kind 4).
    CharDevice {
        /// Device number (`huge_encode_dev`).
        rdev: u64,
    },
    /// Descriptor the restarter supplies from outside (kind 5).
    External {
        /// What kind of descriptor to supply.
        fd_kind: ExternalFdKind,
    },
    /// Regular file whose name was removed while it was open (kind 7): its contents follow in
    /// FILE_DATA records; `path` is the name it had, whose directory restart recreates it in.
    Unlinked {
        /// Bytes of data in its FILE_DATA records, in all.
        data_len: u64,
    },
    /// A memfd (kind 8): its contents follow in FILE_DATA records; `path` is empty.
    Memfd {
        /// `F_GET_SEALS`.
        seals: u32,
        /// Bytes of data in its FILE_DATA records, in all.
        data_len: u64,
        /// The name given to `memfd_create()`, at most [`MEMFD_NAME_MAX`] bytes.
        name: &'a [u8],
    },
}

impl FileVariant<'_> {
    /// The wire number of the kind.
    pub fn kind(&self) -> u16 {
        match self {
            FileVariant::Regular => 1,
            FileVariant::Ext { .. } => 2,
            FileVariant::Directory { .. } => 3,
            FileVariant::CharDevice { .. } => 4,
            FileVariant::External { .. } => 5,
            FileVariant::ExtDirectory { .. } => 6,
            FileVariant::Unlinked { .. } => 7,
            FileVariant::Memfd { .. } => 8,
        }
    }

    /// Bytes of contents that follow the record in FILE_DATA records (0: none may).
    pub fn data_len(&self) -> u64 {
        match self {
            FileVariant::Unlinked { data_len } | FileVariant::Memfd { data_len, .. } => *data_len,
            _ => 0,
        }
    }

    /// Whether FILE_DATA records may follow the record.
    pub fn has_contents(&self) -> bool {
        matches!(
            self,
            FileVariant::Unlinked { .. } | FileVariant::Memfd { .. }
        )
    }

    /// Registry name of the kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            FileVariant::Regular => "regular",
            FileVariant::Ext { .. } => "ext",
            FileVariant::Directory { .. } => "directory",
            FileVariant::CharDevice { .. } => "char_device",
            FileVariant::External { .. } => "external",
            FileVariant::ExtDirectory { .. } => "ext_directory",
            FileVariant::Unlinked { .. } => "unlinked",
            FileVariant::Memfd { .. } => "memfd",
        }
    }
}

/// An open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File<'a> {
    /// `f_flags` (`O_*`).
    pub f_flags: u32,
    /// `f_mode` (`FMODE_*`).
    pub f_mode: u32,
    /// `i_mode` (type and permissions).
    pub mode: u32,
    /// `f_pos`.
    pub pos: i64,
    /// Device of the filesystem (`huge_encode_dev(sb->s_dev)`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// `i_size`.
    pub size: i64,
    /// Modification time.
    pub mtime: Timestamp,
    /// Inode change time.
    pub ctime: Timestamp,
    /// Path at checkpoint time (for external fds, a description such as `pipe:[1234]`).
    pub path: &'a [u8],
    /// Kind-specific part.
    pub variant: FileVariant<'a>,
}

impl<'a> File<'a> {
    /// Validates every field.
    pub fn check(&self) -> Result<(), FormatErrorKind> {
        self.mtime.check()?;
        self.ctime.check()?;
        check_path(self.path)?;
        if let FileVariant::Ext { handle, .. } | FileVariant::ExtDirectory { handle, .. } =
            self.variant
        {
            if handle.len() > FILE_HANDLE_MAX {
                return Err(FormatErrorKind::HandleTooLong);
            }
        }
        if let FileVariant::Memfd { name, .. } = self.variant {
            if name.len() > MEMFD_NAME_MAX {
                return Err(FormatErrorKind::PathTooLong);
            }
            if name.contains(&0) {
                return Err(FormatErrorKind::NulInPath);
            }
        }
        Ok(())
    }

    /// Total record length (header included) of this file.
    pub fn encoded_len(&self) -> usize {
        super::wire::measure(|out| self.write(out)).saturating_add(super::RECORD_HEADER_LEN)
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u16(self.variant.kind())?;
        out.put_u16(0)?;
        out.put_u32(self.f_flags)?;
        out.put_u32(self.f_mode)?;
        out.put_u32(self.mode)?;
        out.put_i64(self.pos)?;
        out.put_u64(self.dev)?;
        out.put_u64(self.ino)?;
        out.put_i64(self.size)?;
        self.mtime.write(out)?;
        self.ctime.write(out)?;
        out.put_counted(self.path)?;
        match self.variant {
            FileVariant::Regular => Ok(()),
            FileVariant::Ext {
                generation,
                handle_type,
                handle,
            } => {
                out.put_u32(generation)?;
                out.put_u32(handle_type)?;
                out.put_counted(handle)
            }
            FileVariant::Directory { cookie } => out.put_u32(cookie.to_wire()),
            FileVariant::ExtDirectory {
                generation,
                handle_type,
                handle,
                cookie,
            } => {
                out.put_u32(generation)?;
                out.put_u32(handle_type)?;
                out.put_counted(handle)?;
                out.put_u32(cookie.to_wire())
            }
            FileVariant::CharDevice { rdev } => out.put_u64(rdev),
            FileVariant::External { fd_kind } => out.put_u32(fd_kind.0),
            FileVariant::Unlinked { data_len } => out.put_u64(data_len),
            FileVariant::Memfd {
                seals,
                data_len,
                name,
            } => {
                out.put_u32(seals)?;
                out.put_u32(0)?;
                out.put_u64(data_len)?;
                out.put_counted(name)
            }
        }
    }

    /// Parses a FILE payload.
    pub fn parse(payload: &'a [u8]) -> Result<File<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let kind_at = r.pos();
        let kind = r.u16()?;
        if !(1..=8).contains(&kind) {
            return Err(FieldError {
                kind: FormatErrorKind::UnknownFileKind(kind),
                at: kind_at,
            });
        }
        r.reserved16()?;
        let f_flags = r.u32()?;
        let f_mode = r.u32()?;
        let mode = r.u32()?;
        let pos = r.i64()?;
        let dev = r.u64()?;
        let ino = r.u64()?;
        let size = r.i64()?;
        let mtime = Timestamp::read(&mut r)?;
        let ctime = Timestamp::read(&mut r)?;
        let path = read_path(&mut r)?;
        let variant = match kind {
            1 => FileVariant::Regular,
            2 => FileVariant::Ext {
                generation: r.u32()?,
                handle_type: r.u32()?,
                handle: r.counted(FILE_HANDLE_MAX, FormatErrorKind::HandleTooLong)?,
            },
            3 => FileVariant::Directory {
                cookie: read_cookie(&mut r)?,
            },
            6 => FileVariant::ExtDirectory {
                generation: r.u32()?,
                handle_type: r.u32()?,
                handle: r.counted(FILE_HANDLE_MAX, FormatErrorKind::HandleTooLong)?,
                cookie: read_cookie(&mut r)?,
            },
            4 => FileVariant::CharDevice { rdev: r.u64()? },
            7 => FileVariant::Unlinked { data_len: r.u64()? },
            8 => {
                let seals = r.u32()?;
                r.reserved32()?;
                let data_len = r.u64()?;
                let at = r.pos();
                let name = r.counted(MEMFD_NAME_MAX, FormatErrorKind::PathTooLong)?;
                if name.contains(&0) {
                    return Err(FieldError {
                        kind: FormatErrorKind::NulInPath,
                        at,
                    });
                }
                FileVariant::Memfd {
                    seals,
                    data_len,
                    name,
                }
            }
            _ => FileVariant::External {
                fd_kind: ExternalFdKind(r.u32()?),
            },
        };
        r.finish()?;
        Ok(File {
            f_flags,
            f_mode,
            mode,
            pos,
            dev,
            ino,
            size,
            mtime,
            ctime,
            path,
            variant,
        })
    }
}

/// Reads a directory hash cookie mode (32 or 64).
fn read_cookie(r: &mut Reader<'_>) -> Result<DirCookieMode, FieldError> {
    let at = r.pos();
    let raw = r.u32()?;
    DirCookieMode::from_wire(raw).ok_or(FieldError {
        kind: FormatErrorKind::BadDirCookieMode(raw),
        at,
    })
}

impl fmt::Display for DirCookieMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DirCookieMode::Hash32 => "hash32",
            DirCookieMode::Hash64 => "hash64",
        })
    }
}

/// One descriptor of a file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// Descriptor number.
    pub fd: u32,
    /// Descriptor flags ([`FD_FLAG_CLOEXEC`]).
    pub flags: u32,
    /// Object id of the FILE record (earlier in the image).
    pub file: u64,
}

impl FdEntry {
    fn read(r: &mut Reader<'_>) -> Result<FdEntry, FieldError> {
        Ok(FdEntry {
            fd: r.u32()?,
            flags: r.u32()?,
            file: r.u64()?,
        })
    }
}

/// Checks entries in order: fds increasing, known flags, references to earlier objects.
fn check_fd_entry(prev_fd: Option<u32>, e: &FdEntry, own_id: u64) -> Result<(), FormatErrorKind> {
    if prev_fd.is_some_and(|p| e.fd <= p) {
        return Err(FormatErrorKind::FdNotIncreasing(e.fd));
    }
    if e.flags & !FD_FLAG_CLOEXEC != 0 {
        return Err(FormatErrorKind::UnknownFdFlags(e.flags));
    }
    if e.file == 0 || e.file >= own_id {
        return Err(FormatErrorKind::BadReference(e.file));
    }
    Ok(())
}

/// Validates file table entries to be written in record `own_id`.
pub(super) fn check_fd_entries(entries: &[FdEntry], own_id: u64) -> Result<(), FormatErrorKind> {
    if entries.len() > FILE_TABLE_MAX_ENTRIES as usize {
        return Err(FormatErrorKind::TooManyEntries);
    }
    let mut prev = None;
    for e in entries {
        check_fd_entry(prev, e, own_id)?;
        prev = Some(e.fd);
    }
    Ok(())
}

pub(super) fn write_fd_entries(entries: &[FdEntry], out: &mut dyn ByteOut) -> Result<(), Stop> {
    out.put_u32(u32::try_from(entries.len()).map_err(|_| Stop)?)?;
    out.put_u32(0)?;
    for e in entries {
        out.put_u32(e.fd)?;
        out.put_u32(e.flags)?;
        out.put_u64(e.file)?;
    }
    Ok(())
}

/// A validated file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileTable<'a> {
    entries: &'a [u8],
    count: u32,
}

impl<'a> FileTable<'a> {
    /// Parses a FILE_TABLE payload of record `own_id`.
    pub fn parse(payload: &'a [u8], own_id: u64) -> Result<FileTable<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let count_at = r.pos();
        let count = r.u32()?;
        if count > FILE_TABLE_MAX_ENTRIES {
            return Err(FieldError {
                kind: FormatErrorKind::TooManyEntries,
                at: count_at,
            });
        }
        r.reserved32()?;
        let entries = r.rest();
        let mut prev = None;
        for _ in 0..count {
            let at = r.pos();
            let e = FdEntry::read(&mut r)?;
            check_fd_entry(prev, &e, own_id).map_err(|kind| {
                // Point at the offending field of the entry.
                let field = match kind {
                    FormatErrorKind::UnknownFdFlags(_) => 4,
                    FormatErrorKind::BadReference(_) => 8,
                    _ => 0,
                };
                FieldError {
                    kind,
                    at: at.saturating_add(field),
                }
            })?;
            prev = Some(e.fd);
        }
        r.finish()?;
        Ok(FileTable { entries, count })
    }

    /// Number of descriptors.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether the table has no descriptors.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The descriptors, in increasing fd order.
    pub fn iter(&self) -> FdIter<'a> {
        FdIter {
            reader: Reader::new(self.entries),
        }
    }

    /// Total record length (header included) of a table with `count` entries.
    pub fn encoded_len(count: usize) -> usize {
        count
            .saturating_mul(FD_ENTRY_LEN)
            .saturating_add(8 + super::RECORD_HEADER_LEN)
    }
}

/// Iterator over the entries of a [`FileTable`].
pub struct FdIter<'a> {
    reader: Reader<'a>,
}

impl Iterator for FdIter<'_> {
    type Item = FdEntry;

    fn next(&mut self) -> Option<FdEntry> {
        if self.reader.remaining() == 0 {
            return None;
        }
        FdEntry::read(&mut self.reader).ok()
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The TASK record (one task's identity, credentials and fs context) and the TASK_VECTOR record
//! (what that task actually uses of the environment).

use super::env::EnvVector;
use super::error::{FieldError, FormatErrorKind};
use super::wire::{check_fixed_string, check_path, read_path, ByteOut, Reader, Stop};

/// Length of `comm`, as the kernel's `TASK_COMM_LEN`.
pub const COMM_LEN: usize = 16;

/// A task. Ids are as seen in the checkpointed pid namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task<'a> {
    /// Thread id.
    pub pid: u32,
    /// Thread group (process) id.
    pub tgid: u32,
    /// Parent's tgid (0 if the parent is outside the checkpoint).
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Saved user id.
    pub suid: u32,
    /// Saved group id.
    pub sgid: u32,
    /// Filesystem user id.
    pub fsuid: u32,
    /// Filesystem group id.
    pub fsgid: u32,
    /// Command name, NUL padded.
    pub comm: [u8; COMM_LEN],
    /// Object id of the task's FILE_TABLE record (earlier in the image), 0 if none.
    pub file_table: u64,
    /// Working directory path.
    pub cwd: &'a [u8],
    /// Root directory path.
    pub root: &'a [u8],
}

impl<'a> Task<'a> {
    /// Validates every field; `own_id` is the record's id (references must point before it).
    pub fn check(&self, own_id: u64) -> Result<(), FormatErrorKind> {
        check_fixed_string(&self.comm)?;
        if self.file_table >= own_id {
            return Err(FormatErrorKind::BadReference(self.file_table));
        }
        check_path(self.cwd)?;
        check_path(self.root)
    }

    /// Total record length (header included) of this task.
    pub fn encoded_len(&self) -> usize {
        super::wire::measure(|out| self.write(out)).saturating_add(super::RECORD_HEADER_LEN)
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        for v in [self.pid, self.tgid, self.ppid, 0] {
            out.put_u32(v)?;
        }
        let creds = [
            self.uid, self.gid, self.euid, self.egid, self.suid, self.sgid, self.fsuid, self.fsgid,
        ];
        for v in creds {
            out.put_u32(v)?;
        }
        out.put(&self.comm)?;
        out.put_u64(self.file_table)?;
        out.put_counted(self.cwd)?;
        out.put_counted(self.root)
    }

    /// Parses a TASK payload of record `own_id`.
    pub fn parse(payload: &'a [u8], own_id: u64) -> Result<Task<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let pid = r.u32()?;
        let tgid = r.u32()?;
        let ppid = r.u32()?;
        r.reserved32()?;
        let mut creds = [0u32; 8];
        for c in &mut creds {
            *c = r.u32()?;
        }
        let [uid, gid, euid, egid, suid, sgid, fsuid, fsgid] = creds;
        let comm_at = r.pos();
        let comm: [u8; COMM_LEN] = r.array()?;
        check_fixed_string(&comm).map_err(|kind| FieldError { kind, at: comm_at })?;
        let ft_at = r.pos();
        let file_table = r.u64()?;
        if file_table >= own_id {
            return Err(FieldError {
                kind: FormatErrorKind::BadReference(file_table),
                at: ft_at,
            });
        }
        let cwd = read_path(&mut r)?;
        let root = read_path(&mut r)?;
        r.finish()?;
        Ok(Task {
            pid,
            tgid,
            ppid,
            uid,
            gid,
            euid,
            egid,
            suid,
            sgid,
            fsuid,
            fsgid,
            comm,
            file_table,
            cwd,
            root,
        })
    }
}

/// A task vector: the id of the task it belongs to and that task's environment entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskVector<'a> {
    /// Object id of the TASK record this vector describes (the record just before it).
    pub task: u64,
    /// The entries.
    pub entries: EnvVector<'a>,
}

impl<'a> TaskVector<'a> {
    /// Parses a TASK_VECTOR payload.
    pub fn parse(payload: &'a [u8]) -> Result<TaskVector<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let task = r.u64()?;
        let entries = EnvVector::read(&mut r)?;
        r.finish()?;
        Ok(TaskVector { task, entries })
    }
}

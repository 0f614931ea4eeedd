// SPDX-License-Identifier: GPL-2.0

//! Contents of files restart cannot reopen by name (unlinked files, memfds): saved as runs
//! of data between holes at checkpoint, written back into a new file at restart.
//!
//! The data map comes from `SEEK_DATA`/`SEEK_HOLE` on a private read-only open of the file
//! (so the target's position does not move), made with the caller's credentials: checkpoint
//! never reads what the caller could not read itself. Holes stay holes: restart writes only
//! the runs and sets the size.

use kernel::{bindings, prelude::*};

use super::{file_error, FileRecord, Kind, ReopenContext};
use crate::{
    error::{CkptError, CkptResult},
    glue::OpenFile,
    vfs::{self, FileFacts, KPath, NewFile},
};

/// Bytes read from a file, or copied into one, at once (between checks for a fatal signal).
const READ_CHUNK: usize = 1 << 20;

/// A private read-only open of a file whose contents are saved.
pub(super) struct Contents {
    file: NewFile,
    size: i64,
}

impl Contents {
    /// Opens `file` again for reading, with the caller's credentials.
    pub(super) fn open(file: &OpenFile, facts: &FileFacts) -> CkptResult<Self> {
        let path = KPath::of_file(file.file());
        let flags = bindings::O_RDONLY | bindings::O_LARGEFILE | bindings::O_NOFOLLOW;
        let reader = NewFile::open_path(&path, flags).map_err(|e| {
            CkptError::other(
                e,
                format_args!(
                    "{}: cannot open it to read its contents ({e:?})",
                    Kind(facts)
                ),
            )
        })?;
        Ok(Self {
            file: reader,
            size: facts.size,
        })
    }

    /// The next run of data `[start, end)` at or after `pos`, within the size.
    fn next_run(&self, pos: i64) -> Result<Option<(i64, i64)>> {
        if pos >= self.size {
            return Ok(None);
        }
        let start = match self.file.seek_data_hole(pos, true) {
            Ok(start) if start < self.size => start,
            Ok(_) => return Ok(None),
            Err(e) if e == ENXIO => return Ok(None),
            Err(e) => return Err(e),
        };
        let end = self.file.seek_data_hole(start, false)?.min(self.size);
        Ok((end > start).then_some((start, end)))
    }

    /// Bytes of data (holes excluded): what [`Contents::stream`] will emit.
    pub(super) fn data_len(&self, facts: &FileFacts) -> CkptResult<u64> {
        let mut total = 0u64;
        let mut pos = 0;
        while let Some((start, end)) = self.next_run(pos).map_err(|e| map_error(facts, e))? {
            total += (end - start) as u64;
            pos = end;
        }
        Ok(total)
    }

    /// Streams every run through `emit(offset, bytes)`, in chunks; the data must be the
    /// `expected` bytes [`Contents::data_len`] counted (the file must not change meanwhile).
    pub(super) fn stream(
        &self,
        facts: &FileFacts,
        expected: u64,
        emit: &mut dyn FnMut(u64, &[u8]) -> CkptResult,
    ) -> CkptResult {
        let changed = || {
            CkptError::other(
                EAGAIN,
                format_args!("{}: changed while its contents were saved", Kind(facts)),
            )
        };
        let mut buf = KVVec::from_elem(0u8, READ_CHUNK, GFP_KERNEL)?;
        let mut total = 0u64;
        let mut pos = 0;
        while let Some((start, end)) = self.next_run(pos).map_err(|e| map_error(facts, e))? {
            let mut at = start;
            while at < end {
                if vfs::fatal_signal_pending() {
                    return Err(CkptError::interrupted(format_args!(
                        "{}: interrupted while saving its contents",
                        Kind(facts)
                    )));
                }
                let want = ((end - at) as usize).min(READ_CHUNK);
                let mut p = at;
                let got = self
                    .file
                    .read_at(&mut buf[..want], &mut p)
                    .map_err(|e| map_error(facts, e))?;
                if got == 0 {
                    return Err(changed());
                }
                total += got as u64;
                if total > expected {
                    return Err(changed());
                }
                emit(at as u64, &buf[..got])?;
                at += got as i64;
            }
            pos = end;
        }
        if total != expected {
            return Err(changed());
        }
        Ok(())
    }
}

fn map_error(facts: &FileFacts, e: Error) -> CkptError {
    CkptError::other(
        e,
        format_args!("{}: reading its contents failed ({e:?})", Kind(facts)),
    )
}

/// Writes the runs of `rec` (their data in `cx`'s spool) into `file`, which restart just
/// created, empty; then sets its size and permission bits as recorded.
pub(super) fn restore(rec: &FileRecord<'_>, cx: &ReopenContext<'_>, file: &NewFile) -> CkptResult {
    let fail = |e: Error, what: &str| {
        file_error(
            rec,
            |a| CkptError::file_access(e, a),
            format_args!("{what} ({e:?})"),
        )
    };
    let runs = cx.runs.get(rec.runs.clone()).ok_or(EINVAL)?;
    for run in runs {
        let mut done = 0u64;
        while done < run.len {
            if vfs::fatal_signal_pending() {
                return Err(rec.blame(CkptError::interrupted(format_args!(
                    "interrupted while restoring file contents"
                ))));
            }
            let len = (run.len - done).min(READ_CHUNK as u64);
            let mut pos = i64::try_from(run.offset + done).map_err(|_| EINVAL)?;
            // Spool to file inside the kernel, with no bounce buffer: what fails is the
            // write, the spool being the module's own memory.
            cx.spool
                .copy_to(file, run.at + done, &mut pos, len)
                .map_err(|e| fail(e, "cannot write its contents"))?;
            done += len;
        }
    }
    file.set_size_mode(rec.file.size, rec.file.mode)
        .map_err(|e| fail(e, "cannot set its size and mode"))
}

/// Opens the file restart made for `rec` again, as recorded (access mode, flags), and sets
/// its position: the file restart wrote is open read-write, which the original may not be.
pub(super) fn reopen_as_recorded(rec: &FileRecord<'_>, made: &NewFile) -> CkptResult<NewFile> {
    use super::generic::{restore_position, OPEN_ONLY_F_FLAGS, REOPEN_F_FLAGS};
    let f = &rec.file;
    let flags = (f.f_flags & REOPEN_F_FLAGS)
        | bindings::O_NONBLOCK
        | bindings::O_NOFOLLOW
        | bindings::O_LARGEFILE;
    let file = NewFile::open_path(&made.path(), flags).map_err(|e| {
        file_error(
            rec,
            |a| CkptError::file_access(e, a),
            format_args!("cannot open the restored file as recorded ({e:?})"),
        )
    })?;
    file.set_restored_flags(f.f_flags, OPEN_ONLY_F_FLAGS, 0);
    restore_position(rec, &file)?;
    Ok(file)
}

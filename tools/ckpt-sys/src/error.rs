// SPDX-License-Identifier: GPL-2.0

//! Why `CKPT_IOC_CHECKPOINT` or `CKPT_IOC_RESTART` failed, as the kernel reports it: both
//! ioctls write back the same error fields (`err_fd`, `reason`, restart's `err_record`) and a
//! message into the caller's log buffer.

use std::{fmt, io};

use crate::Reason;

/// A failed checkpoint or restart. `S` is how far it got ([`crate::CheckpointStats`] or
/// [`crate::RestartStats`]).
#[derive(Debug)]
pub struct IoctlError<S> {
    /// The errno of the ioctl.
    pub errno: io::Error,
    /// `enum ckpt_reason`.
    pub reason: u32,
    /// The fd at fault (the target's for checkpoint, the image's for restart), if any.
    pub fd: Option<i32>,
    /// Restart: the object id of the image record at fault, if any.
    pub record: Option<u64>,
    /// The kernel's message (may be empty).
    pub message: String,
    /// How far it got.
    pub stats: S,
}

impl<S> IoctlError<S> {
    /// Reads the error the kernel reported: the ioctl's errno (read right after the call),
    /// the error fields of its struct and the message in `log`.
    pub(crate) fn from_kernel(
        reason: u32,
        err_fd: i32,
        err_record: u64,
        log: &[u8],
        stats: S,
    ) -> Self {
        Self {
            errno: io::Error::last_os_error(),
            reason,
            fd: (err_fd >= 0).then_some(err_fd),
            record: (err_record != 0).then_some(err_record),
            message: log_message(log),
            stats,
        }
    }

    /// The symbolic name of [`Self::reason`] ("fd_busy"), "unknown" for a value this crate
    /// does not know.
    pub fn reason_name(&self) -> &'static str {
        reason_name(self.reason)
    }
}

impl<S> fmt::Display for IoctlError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.errno)
        } else {
            write!(f, "{} ({})", self.message, self.errno)
        }
    }
}

impl<S: fmt::Debug> std::error::Error for IoctlError<S> {}

/// The name of a `CKPT_REASON_*` code (`enum ckpt_reason`), as the CLI prints it.
pub fn reason_name(reason: u32) -> &'static str {
    Reason::from_u32(reason).map_or("unknown", Reason::name)
}

/// The NUL-terminated message the kernel left in a log buffer (empty if none).
fn log_message(log: &[u8]) -> String {
    let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    String::from_utf8_lossy(&log[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_message_stops_at_the_nul() {
        assert_eq!(log_message(b"fd 3: gone\0junk"), "fd 3: gone");
        assert_eq!(log_message(b"\0\0"), "");
        assert_eq!(log_message(b"no nul"), "no nul");
    }
}

/// The reason table (`src/reason.rs`, shared with the module) against its two independent
/// sources: the UAPI header's `enum ckpt_reason` and the "Reasons and errors" tables of the
/// documentation.
#[cfg(test)]
mod reason_table {
    use std::{collections::BTreeSet, path::PathBuf};

    use crate::{abi, errno, Errnos, Reason};

    fn repo_file(path: &str) -> String {
        let at = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path);
        std::fs::read_to_string(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()))
    }

    /// `(name, value)` of every `CKPT_REASON_*` enumerator of the header.
    fn header_reasons() -> Vec<(String, u32)> {
        let header = repo_file("include/uapi/linux/ckpt.h");
        let start = header.find("enum ckpt_reason {").expect("enum ckpt_reason");
        let body = &header[start..header[start..].find("};").unwrap() + start];
        body.lines()
            .filter_map(|l| {
                let l = l.trim();
                let (name, rest) = l.strip_prefix("CKPT_REASON_")?.split_once('=')?;
                let value = rest.trim().split(',').next()?.trim().parse().ok()?;
                Some((name.trim().to_lowercase(), value))
            })
            .collect()
    }

    #[test]
    fn the_table_is_the_headers_enum() {
        let header = header_reasons();
        let table: Vec<(String, u32)> = Reason::ALL
            .iter()
            .map(|&r| (r.name().to_string(), r as u32))
            .collect();
        assert_eq!(header, table);
        assert_eq!(Reason::Input as u32, abi::CKPT_REASON_INPUT);
        assert_eq!(Reason::from_u32(Reason::ALL.len() as u32), None);
        assert_eq!(super::reason_name(abi::CKPT_REASON_FD_BUSY), "fd_busy");
        assert_eq!(super::reason_name(999), "unknown");
    }

    #[test]
    fn errno_numbers_are_libcs() {
        let pairs = [
            (errno::EPERM, libc::EPERM),
            (errno::ENOENT, libc::ENOENT),
            (errno::ESRCH, libc::ESRCH),
            (errno::EINTR, libc::EINTR),
            (errno::ENOEXEC, libc::ENOEXEC),
            (errno::EBADF, libc::EBADF),
            (errno::EBUSY, libc::EBUSY),
            (errno::EXDEV, libc::EXDEV),
            (errno::EINVAL, libc::EINVAL),
            (errno::EMFILE, libc::EMFILE),
            (errno::EFBIG, libc::EFBIG),
            (errno::E2BIG, libc::E2BIG),
            (errno::ENAMETOOLONG, libc::ENAMETOOLONG),
            (errno::EBADMSG, libc::EBADMSG),
            (errno::EOPNOTSUPP, libc::EOPNOTSUPP),
            (errno::ESTALE, libc::ESTALE),
        ];
        for (ours, libc) in pairs {
            assert_eq!(ours, libc);
        }
    }

    /// The rows of a page's "Reasons and errors" table: reason name and the text of its errno
    /// column (continuation lines joined).
    fn doc_rows(page: &str) -> Vec<(String, String)> {
        let text = repo_file(page);
        let start = text.find("Reasons and errors").expect("a reasons table");
        let lines: Vec<&str> = text[start..].lines().collect();
        let rule = lines
            .iter()
            .position(|l| l.starts_with("====="))
            .expect("table");
        // Column bounds from the rule: "=====  =====  =====".
        let cols: Vec<(usize, usize)> = {
            let r = lines[rule];
            let mut v = Vec::new();
            let mut i = 0;
            while i < r.len() {
                if r.as_bytes()[i] == b'=' {
                    let s = i;
                    while i < r.len() && r.as_bytes()[i] == b'=' {
                        i += 1;
                    }
                    v.push((s, i));
                } else {
                    i += 1;
                }
            }
            v
        };
        let cell = |l: &str, c: usize| -> String {
            let (s, e) = cols[c];
            let e = if c + 1 < cols.len() {
                cols[c + 1].0
            } else {
                e.max(l.len())
            };
            l.get(s.min(l.len())..e.min(l.len()))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut rules = 0;
        for l in &lines[rule..] {
            if l.starts_with("=====") {
                rules += 1;
                if rules == 3 {
                    break;
                }
                continue;
            }
            let first = cell(l, 0);
            let errnos = cell(l, 1);
            if let Some(name) = first.strip_prefix("``CKPT_REASON_") {
                let name = name.trim_end_matches("``").to_lowercase();
                rows.push((name, errnos));
            } else if first.is_empty() {
                if let Some(last) = rows.last_mut() {
                    // "ENAMETOO-" / "LONG" is one word cut in two.
                    if last.1.ends_with('-') {
                        last.1.pop();
                    } else {
                        last.1.push(' ');
                    }
                    last.1.push_str(&errnos);
                }
            }
        }
        rows
    }

    fn errno_number(name: &str) -> i32 {
        match name {
            "EPERM" => errno::EPERM,
            "ENOENT" => errno::ENOENT,
            "ESRCH" => errno::ESRCH,
            "EINTR" => errno::EINTR,
            "ENOEXEC" => errno::ENOEXEC,
            "EBADF" => errno::EBADF,
            "EBUSY" => errno::EBUSY,
            "EXDEV" => errno::EXDEV,
            "EINVAL" => errno::EINVAL,
            "EMFILE" => errno::EMFILE,
            "EFBIG" => errno::EFBIG,
            "E2BIG" => errno::E2BIG,
            "ENAMETOOLONG" => errno::ENAMETOOLONG,
            "EBADMSG" => errno::EBADMSG,
            "EOPNOTSUPP" => errno::EOPNOTSUPP,
            "ESTALE" => errno::ESTALE,
            other => panic!("the documentation names {other}, which the table does not know"),
        }
    }

    #[test]
    fn the_table_is_the_documentations() {
        let mut documented: Vec<(String, Option<BTreeSet<i32>>)> = Vec::new();
        for page in ["Documentation/checkpoint.rst", "Documentation/restart.rst"] {
            let rows = doc_rows(page);
            assert!(rows.len() >= 9, "{page}: {rows:?}");
            for (name, column) in rows {
                let words: Vec<&str> = column
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect();
                // "any", "the write error", "the open's error": whatever the operation said.
                let set = if words.iter().all(|w| w.starts_with('E')) {
                    Some(
                        words
                            .iter()
                            .map(|w| errno_number(w))
                            .collect::<BTreeSet<i32>>(),
                    )
                } else {
                    None
                };
                match documented.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, Some(have))) => have.extend(set.unwrap_or_default()),
                    Some((_, None)) => assert!(set.is_none(), "{name}: documented both ways"),
                    None => documented.push((name, set)),
                }
            }
        }
        for r in Reason::ALL {
            let (_, doc) = documented
                .iter()
                .find(|(n, _)| n == r.name())
                .unwrap_or_else(|| panic!("{} is not documented", r.name()));
            let table = match r.errnos() {
                Errnos::Passed => None,
                Errnos::Only(list) => Some(list.iter().copied().collect::<BTreeSet<i32>>()),
            };
            assert_eq!(&table, doc, "errnos of {}", r.name());
        }
    }
}

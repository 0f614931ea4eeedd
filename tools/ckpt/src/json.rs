// SPDX-License-Identifier: GPL-2.0

//! The JSON schema of `ckpt show --json` (schema `ckpt-image-v1`), also read by `ckpt synth`
//! and, for its `environment` member, by `ckpt check --env`. Documented in
//! Documentation/image-format.rst; change it only compatibly (add optional members).
//!
//! Conventions: numbers up to 32 bits are JSON numbers; 64-bit environment values and bitmap
//! words are hex strings (`"0x..."`, exact through jq, which reads numbers as doubles);
//! record fields are plain JSON numbers. Byte strings (paths, comm, utsname, string values)
//! are JSON strings when valid UTF-8, otherwise `{"hex": "..."}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Schema name written by `ckpt show --json`.
pub const SCHEMA: &str = "ckpt-image-v1";

/// A whole image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageJson {
    pub schema: String,
    pub header: HeaderJson,
    pub environment: EnvJson,
    pub records: Vec<RecordJson>,
    /// Output only: the verified terminator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminator: Option<TerminatorJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderJson {
    pub version: u32,
    /// Registry name, or the number if unassigned.
    pub arch: NameOr<u16>,
    pub page_size: u32,
    pub flags: u32,
    pub created: TimeJson,
    pub utsname: UtsnameJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeJson {
    pub sec: i64,
    pub nsec: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtsnameJson {
    pub sysname: Text,
    pub release: Text,
    pub version: Text,
    pub machine: Text,
}

/// An environment vector: the image's, a task's, or a host's (`ckpt check --env`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvJson {
    /// Object id of the environment vector record (output; `ckpt synth` uses it if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub entries: Vec<EntryJson>,
}

/// One environment entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryJson {
    /// A number, a `"0x..."` string, or a registry name.
    pub key: Value,
    /// Output only: registry name of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub vtype: NameOr<u8>,
    pub rule: NameOr<u8>,
    pub critical: bool,
    /// Raw flags; when given, it overrides `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u16>,
    /// Encoding depends on `type`; see the module comment.
    pub value: Value,
    /// Output only (`ckpt env --json`): the kernel's names of the set bits that have one
    /// (CPU features as in /proc/cpuinfo, xsave components); `value` keeps every bit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
}

/// A record other than the environment vector and the terminator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordJson {
    /// Output only: byte offset in the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Output only: total record length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    pub id: u64,
    #[serde(flatten)]
    pub body: BodyJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BodyJson {
    TaskVector {
        task: u64,
        entries: Vec<EntryJson>,
    },
    Task(TaskJson),
    FileTable {
        entries: Vec<FdJson>,
    },
    File(FileJson),
    Mm(MmJson),
    Vma(VmaJson),
    Pages(PagesJson),
    Regset(RegsetJson),
    Signals(SignalsJson),
    TaskState(TaskStateJson),
    FileData(FileDataJson),
    /// A record of a type this tool does not know.
    Unknown {
        type_id: u16,
        flags: u16,
        /// Hex; absent if it was not kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
}

/// An MM record: addresses are plain numbers (user addresses fit a double exactly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmJson {
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub exe_file: u64,
    pub vdso_start: u64,
    pub vdso_len: u32,
    /// `"0x..."`.
    pub vdso_crc: String,
    pub personality: u32,
    /// `[type, value]` pairs, values as `"0x..."`.
    pub auxv: Vec<(u64, String)>,
}

/// A VMA record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmaJson {
    pub start: u64,
    pub end: u64,
    /// Offset in the file (`offset` is the record's own offset in the image).
    pub file_offset: u64,
    pub file: u64,
    /// `"rwx"`, `"r--"`... as in /proc/PID/maps.
    pub prot: String,
    /// Flag names.
    pub flags: Vec<String>,
    pub kind: NameOr<u16>,
}

/// A REGSET record: the note type and the registers as hex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegsetJson {
    pub note: NameOr<u32>,
    /// Hex, as `PTRACE_GETREGSET` returns them.
    pub data: String,
}

/// A SIGNALS record: masks and flags as `"0x..."`, addresses as numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalsJson {
    pub blocked: String,
    /// Output only: the blocked signals by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_names: Option<Vec<String>>,
    pub altstack: AltstackJson,
    /// The actions other than all-zero (`SIG_DFL`, no flags, no mask), signal order; an
    /// action not listed is all-zero.
    pub actions: Vec<SigActionJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AltstackJson {
    pub sp: u64,
    pub size: u64,
    /// `"0x..."`: `SS_DISABLE` 0x2, `SS_AUTODISARM` 0x80000000.
    pub flags: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigActionJson {
    pub signal: u32,
    /// Output only: `SIGUSR1`, `SIGRTMIN+2`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `"default"` (0), `"ignore"` (1) or the handler's address.
    pub handler: NameOr<u64>,
    /// `"0x..."`.
    pub flags: String,
    pub restorer: u64,
    /// `"0x..."`.
    pub mask: String,
}

/// A TASK_STATE record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStateJson {
    pub rseq: u64,
    pub rseq_len: u32,
    /// `"0x..."`.
    pub rseq_sig: String,
    pub robust_list: u64,
    pub robust_list_len: u64,
    pub clear_child_tid: u64,
    /// Octal, as a string: `"0022"`.
    pub umask: String,
    pub pdeath_signal: u32,
    /// All 16, `RLIMIT_CPU` first, each named.
    pub rlimits: Vec<RlimitJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlimitJson {
    /// `cpu`, `fsize`, ... `rttime` (checked against the position on input).
    pub resource: String,
    /// A number or `"unlimited"`.
    pub cur: NameOr<u64>,
    /// A number or `"unlimited"`.
    pub max: NameOr<u64>,
}

/// A FILE_DATA record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDataJson {
    pub file: u64,
    /// Offset of the run in the file (`offset` is the record's own offset in the image).
    pub file_offset: u64,
    /// Hex.
    pub data: String,
}

/// A PAGES record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagesJson {
    pub vma: u64,
    pub start: u64,
    pub count: u32,
    /// Output only (recomputed on input): `"0x..."`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc: Option<String>,
    /// Hex.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskJson {
    pub pid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    pub comm: Text,
    pub file_table: u64,
    pub cwd: Text,
    pub root: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdJson {
    pub fd: u32,
    pub cloexec: bool,
    pub file: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileJson {
    pub f_flags: u32,
    pub f_mode: u32,
    pub mode: u32,
    pub pos: i64,
    pub dev: u64,
    pub ino: u64,
    pub size: i64,
    pub mtime: TimeJson,
    pub ctime: TimeJson,
    pub path: Text,
    #[serde(flatten)]
    pub variant: FileVariantJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileVariantJson {
    Regular,
    Ext {
        generation: u32,
        handle_type: u32,
        /// Hex.
        handle: String,
    },
    Directory {
        /// `hash32` or `hash64`.
        cookie: String,
    },
    ExtDirectory {
        generation: u32,
        handle_type: u32,
        /// Hex.
        handle: String,
        /// `hash32` or `hash64`.
        cookie: String,
    },
    CharDevice {
        rdev: u64,
    },
    External {
        fd_kind: NameOr<u32>,
    },
    Unlinked {
        data_len: u64,
    },
    Memfd {
        seals: u32,
        data_len: u64,
        name: Text,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminatorJson {
    pub offset: u64,
    pub record_count: u64,
    pub image_length: u64,
    /// `"0x..."`.
    pub checksum: String,
}

/// A registry name, or the raw number when unassigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NameOr<T> {
    Number(T),
    Name(String),
}

/// Bytes: a string if valid UTF-8, else hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Utf8(String),
    Hex { hex: String },
}

impl Text {
    pub fn from_bytes(bytes: &[u8]) -> Text {
        match std::str::from_utf8(bytes) {
            Ok(s) => Text::Utf8(s.to_owned()),
            Err(_) => Text::Hex { hex: hex(bytes) },
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Text::Utf8(s) => Ok(s.as_bytes().to_vec()),
            Text::Hex { hex } => unhex(hex),
        }
    }
}

/// Lower-case hex without prefix.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex (an optional `0x` prefix, no separators).
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bad hex {s:?}"))
        })
        .collect()
}

// SPDX-License-Identifier: GPL-2.0

//! The checkpoint image format, v1: one codec shared by the kernel module and the tools.
//!
//! An image is a header, a stream of records and a terminator; see
//! `Documentation/image-format.rst` for the byte layout and the rules. This module is plain
//! `core`: no allocation, no `unsafe`, and no panics on any input (every read is bounds
//! checked, every computation on input values is checked or saturating), because the kernel
//! decodes untrusted images with it.
//!
//! Entry points: [`Encoder`] (writing, with [`EnvWriter`] for vectors), [`Decoder`] (reading
//! from a [`Source`]), [`parse_body`] and [`EnvVector::parse`] (pure-slice parsers), and
//! [`check_env`] (the compatibility checker restart and `ckpt check` share) with
//! [`EnvReport`] (its mismatches in words, CPU features by the kernel's names from
//! [`cpu_names`]), and
//! [`check_restorable`] (what restart accepts of a file record before opening it).

mod check;
mod contents;
pub mod cpu_names;
mod crc32c;
mod decoder;
mod encoder;
mod env;
mod error;
mod file;
mod header;
pub mod keys;
mod memory;
mod policy;
mod record;
mod regs;
mod sigstate;
mod task;
mod terminator;
mod wire;

pub use self::check::{
    bit_name, check_env, has_bit_names, Advice, BitDiff, CheckSummary, EnvReport, FeatureBit,
    Mismatch, MismatchReason, MismatchText, ReportText, Scope,
};
pub use self::contents::{
    ContentsCheck, ContentsError, FileData, FILE_DATA_FIXED_LEN, FILE_DATA_MAX, MEMFD_NAME_MAX,
    MEMFD_SEALS_ALL,
};
pub use self::crc32c::{crc32c_shift, crc32c_tables, Crc32c, Crc32cFn};
pub use self::decoder::{parse_body, Body, Decoder, Record, Source};
pub use self::encoder::{
    encode_env_payload, measure_env_payload, Encoder, Sink, SliceFull, SliceSink,
};
pub use self::env::{
    EnvEntry, EnvIter, EnvStop, EnvValue, EnvVector, EnvWriter, Rule, ValueType,
    ENV_ENTRY_HEADER_LEN, ENV_FLAG_CRITICAL, ENV_MAX_ENTRIES, ENV_PAYLOAD_HEADER_LEN,
    ENV_VALUE_MAX,
};
pub use self::error::{
    DecodeError, EncodeError, FieldError, FormatError, FormatErrorKind, RecordRef,
};
pub use self::file::{
    DirCookieMode, ExternalFdKind, FdEntry, FdIter, File, FileTable, FileVariant, FD_ENTRY_LEN,
    FD_FLAG_CLOEXEC, FILE_HANDLE_MAX, FILE_TABLE_MAX_ENTRIES, PATH_MAX,
};
pub use self::header::{
    parse_header, parse_immutable_header, Arch, Header, Timestamp, Utsname,
    HEADER_FLAGS_MUST_UNDERSTAND, HEADER_FLAG_SYNTHETIC, HEADER_LEN, IMMUTABLE_HEADER_LEN, MAGIC,
    UTS_FIELD_LEN, VERSION,
};
pub use self::memory::{
    AuxvEntry, Mm, Pages, Vma, VmaKind, AUXV_MAX, MM_FIXED_LEN, PAGES_FIXED_LEN, PROT_ALL,
    PROT_EXEC, PROT_READ, PROT_WRITE, VMA_DONTCOPY, VMA_DONTDUMP, VMA_FLAGS_ALL, VMA_FLAG_NAMES,
    VMA_GROWSDOWN, VMA_HUGEPAGE, VMA_LEN, VMA_LOCKED, VMA_LOCKONFAULT, VMA_MAYEXEC, VMA_MAYWRITE,
    VMA_NOHUGEPAGE, VMA_NORESERVE, VMA_RAND_READ, VMA_SEQ_READ, VMA_SHARED, VMA_WIPEONFORK,
};
pub use self::policy::{
    check_restorable, is_canonical_path, PolicyError, KNOWN_F_FLAGS, RESTORABLE_CHAR_DEVICES,
};
pub use self::record::{
    RecordHeader, RecordType, RECORD_FLAG_CRITICAL, RECORD_HEADER_LEN, RECORD_MAX_LEN,
};
pub use self::regs::{
    Regset, NT_PRFPREG, NT_PRSTATUS, NT_X86_XSTATE, REGSET_FIXED_LEN, REGSET_MAX_LEN,
    X86_64_PRSTATUS_LEN, XSTATE_MIN_LEN,
};
pub use self::sigstate::{
    bit as signal_bit, signals_in, Rlimit, SigAction, SigName, Signals, TaskState, NSIG,
    RLIMIT_NAMES, RLIM_INFINITY, RLIM_NLIMITS, RSEQ_MIN_LEN, SIGACTIONS_LEN, SIGACTION_LEN,
    SIGKILL, SIGNALS_FIXED_LEN, SIGNALS_LEN, SIGSTOP, SIG_KILL_STOP_MASK, SS_AUTODISARM,
    SS_DISABLE, TASK_STATE_FIXED_LEN, TASK_STATE_LEN,
};
pub use self::task::{Task, TaskVector, COMM_LEN};
pub use self::terminator::{Terminator, TERMINATOR_LEN, TERMINATOR_PAYLOAD_LEN};
pub use self::wire::fixed_str;

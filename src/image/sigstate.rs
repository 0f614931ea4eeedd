// SPDX-License-Identifier: GPL-2.0

//! Signal and task state of a process: the SIGNALS record (blocked mask, the 64 signal
//! actions, the alternate signal stack) and the TASK_STATE record (rseq registration, robust
//! futex list, `clear_child_tid`, umask, parent-death signal, resource limits).
//!
//! Both are optional records (flags 0), written after the REGSET records and before the PAGES
//! records of a whole-process checkpoint. Their values are as the kernel keeps them, which is
//! what the system calls that read them report (`sigprocmask`, `sigaction`, `sigaltstack`,
//! `rseq` via `PTRACE_GET_RSEQ_CONFIGURATION`, `get_robust_list`, `PR_GET_TID_ADDRESS`,
//! `umask`, `PR_GET_PDEATHSIG`, `prlimit`), and they obey the kernel's own invariants, which a
//! decoder checks.

use core::fmt;

use super::error::{FieldError, FormatErrorKind};
use super::wire::{ByteOut, Reader, Stop};

/// Number of signals (`_NSIG` on x86_64 and most architectures): actions in a SIGNALS record.
pub const NSIG: u32 = 64;
/// Length of one signal action in a SIGNALS record.
pub const SIGACTION_LEN: usize = 32;
/// Fixed part of a SIGNALS payload, before the actions.
pub const SIGNALS_FIXED_LEN: usize = 32;
/// Length of the actions of a SIGNALS payload.
pub const SIGACTIONS_LEN: usize = NSIG as usize * SIGACTION_LEN;
/// Length of a SIGNALS payload.
pub const SIGNALS_LEN: usize = SIGNALS_FIXED_LEN + SIGACTIONS_LEN;

/// `SIGKILL`.
pub const SIGKILL: u32 = 9;
/// `SIGSTOP`.
pub const SIGSTOP: u32 = 19;
/// The bits of `SIGKILL` and `SIGSTOP` in a mask: never blocked, never in an action's mask.
pub const SIG_KILL_STOP_MASK: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// Alternate signal stack flag: no alternate stack (`SS_DISABLE`).
pub const SS_DISABLE: u32 = 2;
/// Alternate signal stack flag: disarmed while a handler runs on it (`SS_AUTODISARM`).
pub const SS_AUTODISARM: u32 = 1 << 31;

/// Number of resource limits (`RLIM_NLIMITS`) in a TASK_STATE record.
pub const RLIM_NLIMITS: u32 = 16;
/// Fixed part of a TASK_STATE payload, before the resource limits.
pub const TASK_STATE_FIXED_LEN: usize = 56;
/// Length of a TASK_STATE payload.
pub const TASK_STATE_LEN: usize = TASK_STATE_FIXED_LEN + RLIM_NLIMITS as usize * 16;
/// Smallest rseq area a task can register (`ORIG_RSEQ_SIZE`).
pub const RSEQ_MIN_LEN: u32 = 32;
/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// Names of the resource limits, `RLIMIT_CPU` (0) first, as `prlimit(1)` spells them.
pub const RLIMIT_NAMES: [&str; RLIM_NLIMITS as usize] = [
    "cpu",
    "fsize",
    "data",
    "stack",
    "core",
    "rss",
    "nproc",
    "nofile",
    "memlock",
    "as",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "rttime",
];

/// Names of the classic signals 1 to 31, without the `SIG` prefix.
const SIGNAL_NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// A signal number, displayed by its name: `SIGUSR1`, `SIGRTMIN+2` (the kernel's `SIGRTMIN`
/// is 32), or `signal N` outside 1..=64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigName(pub u32);

impl SigName {
    /// The name of a classic signal (1 to 31) without the `SIG` prefix.
    pub fn classic(self) -> Option<&'static str> {
        let i = usize::try_from(self.0.checked_sub(1)?).ok()?;
        SIGNAL_NAMES.get(i).copied()
    }

    /// Looks a signal up by name (`USR1` or `SIGUSR1`, `RTMIN+3`, or a number).
    pub fn from_name(name: &str) -> Option<u32> {
        let name = name.strip_prefix("SIG").unwrap_or(name);
        if let Some(n) = name.strip_prefix("RTMIN+") {
            let n: u32 = n.parse().ok()?;
            return n.checked_add(32).filter(|&s| s <= NSIG);
        }
        if name == "RTMIN" {
            return Some(32);
        }
        if let Ok(n) = name.parse::<u32>() {
            return Some(n).filter(|s| (1..=NSIG).contains(s));
        }
        (1..32).find(|&s| SigName(s).classic() == Some(name))
    }
}

impl fmt::Display for SigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.classic() {
            Some(name) => write!(f, "SIG{name}"),
            None if self.0 == 32 => f.write_str("SIGRTMIN"),
            None if (33..=NSIG).contains(&self.0) => {
                write!(f, "SIGRTMIN+{}", self.0.saturating_sub(32))
            }
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// The signals of a mask (bit `n - 1` is signal `n`), in increasing order.
pub fn signals_in(mask: u64) -> impl Iterator<Item = u32> {
    (1..=NSIG).filter(move |&s| mask & bit(s) != 0)
}

/// The mask bit of signal `sig` (1 to 64); 0 outside that range.
pub fn bit(sig: u32) -> u64 {
    sig.checked_sub(1)
        .and_then(|n| 1u64.checked_shl(n))
        .unwrap_or(0)
}

/// One signal action, as `sigaction(2)` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// `sa_handler`: 0 `SIG_DFL`, 1 `SIG_IGN`, else the handler's address.
    pub handler: u64,
    /// `sa_flags` (the kernel's UAPI bits: `SA_RESTART`, `SA_ONSTACK`, `SA_SIGINFO`...).
    pub flags: u64,
    /// `sa_restorer` (meaningful with `SA_RESTORER`).
    pub restorer: u64,
    /// `sa_mask`: signals blocked while the handler runs.
    pub mask: u64,
}

impl SigAction {
    /// `SIG_DFL`.
    pub const DFL: u64 = 0;
    /// `SIG_IGN`.
    pub const IGN: u64 = 1;

    /// Whether the action is `SIG_IGN`.
    pub fn is_ignored(&self) -> bool {
        self.handler == Self::IGN
    }

    /// Whether the action is a handler (neither `SIG_DFL` nor `SIG_IGN`).
    pub fn is_handled(&self) -> bool {
        self.handler > Self::IGN
    }
}

/// The SIGNALS record: blocked mask, the actions of signals 1 to 64, the alternate stack.
/// Pending signals are not recorded: the kernel refuses to checkpoint a task that has any
/// (other than `SIGSTOP`); see `Documentation/image-format.rst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals<'a> {
    /// Blocked signals (bit `n - 1` is signal `n`).
    pub blocked: u64,
    /// `ss_sp` of the alternate signal stack (0 if none).
    pub altstack_sp: u64,
    /// `ss_size` of the alternate signal stack (0 if none).
    pub altstack_size: u64,
    /// `ss_flags` as `sigaltstack(2)` reports them off the stack: [`SS_DISABLE`] when there is
    /// none, [`SS_AUTODISARM`] if it was given.
    pub altstack_flags: u32,
    /// The 64 actions, [`SIGACTION_LEN`] bytes each (handler, flags, restorer, mask as
    /// `__le64`), signal 1 first.
    actions: &'a [u8],
}

impl<'a> Signals<'a> {
    /// A SIGNALS record over `actions`: [`NSIG`] actions of [`SIGACTION_LEN`] bytes, as
    /// [`SigAction::encode`] writes them (checked by [`Signals::check`]).
    pub fn new(blocked: u64, altstack: (u64, u64, u32), actions: &'a [u8]) -> Self {
        Signals {
            blocked,
            altstack_sp: altstack.0,
            altstack_size: altstack.1,
            altstack_flags: altstack.2,
            actions,
        }
    }

    /// The action of signal `sig` (1 to 64); `None` outside that range.
    pub fn action(&self, sig: u32) -> Option<SigAction> {
        let i = usize::try_from(sig.checked_sub(1)?).ok()?;
        let at = i.checked_mul(SIGACTION_LEN)?;
        let raw = self.actions.get(at..at.checked_add(SIGACTION_LEN)?)?;
        let mut r = Reader::new(raw);
        Some(SigAction {
            handler: r.u64().ok()?,
            flags: r.u64().ok()?,
            restorer: r.u64().ok()?,
            mask: r.u64().ok()?,
        })
    }

    /// Every action, signal 1 first, with its signal number.
    pub fn actions(&self) -> impl Iterator<Item = (u32, SigAction)> + '_ {
        (1..=NSIG).filter_map(move |s| self.action(s).map(|a| (s, a)))
    }

    /// Signals whose action is `SIG_IGN`, as a mask (what `/proc/PID/status` calls `SigIgn`).
    pub fn ignored(&self) -> u64 {
        self.mask_of(SigAction::is_ignored)
    }

    /// Signals with a handler, as a mask (`SigCgt` of `/proc/PID/status`).
    pub fn handled(&self) -> u64 {
        self.mask_of(SigAction::is_handled)
    }

    fn mask_of(&self, pred: impl Fn(&SigAction) -> bool) -> u64 {
        self.actions()
            .filter(|(_, a)| pred(a))
            .fold(0, |m, (s, _)| m | bit(s))
    }

    /// Validates every field against the kernel's invariants; returns the error and the
    /// offset of the offending field in the payload.
    pub fn check_at(&self) -> Result<(), (FormatErrorKind, usize)> {
        let bad = |at| Err((FormatErrorKind::BadSignals, at));
        if self.blocked & SIG_KILL_STOP_MASK != 0 {
            return bad(0);
        }
        let disabled = self.altstack_flags & SS_DISABLE != 0;
        if self.altstack_flags & !(SS_DISABLE | SS_AUTODISARM) != 0
            || disabled != (self.altstack_size == 0)
            || (disabled && self.altstack_sp != 0)
        {
            return bad(24);
        }
        if self.actions.len() != SIGACTIONS_LEN {
            return bad(28);
        }
        let mut at = SIGNALS_FIXED_LEN;
        for (sig, a) in self.actions() {
            if a.mask & SIG_KILL_STOP_MASK != 0 {
                return bad(at.saturating_add(24));
            }
            if (sig == SIGKILL || sig == SIGSTOP) && a != SigAction::default() {
                return bad(at);
            }
            at = at.saturating_add(SIGACTION_LEN);
        }
        Ok(())
    }

    /// Validates every field (see [`Signals::check_at`]).
    pub fn check(&self) -> Result<(), FormatErrorKind> {
        self.check_at().map_err(|(k, _)| k)
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u64(self.blocked)?;
        out.put_u64(self.altstack_sp)?;
        out.put_u64(self.altstack_size)?;
        out.put_u32(self.altstack_flags)?;
        out.put_u32(NSIG)?;
        out.put(self.actions)
    }

    /// Parses and validates a SIGNALS payload.
    pub fn parse(payload: &'a [u8]) -> Result<Signals<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let blocked = r.u64()?;
        let altstack_sp = r.u64()?;
        let altstack_size = r.u64()?;
        let altstack_flags = r.u32()?;
        let nsig_at = r.pos();
        if r.u32()? != NSIG {
            return Err(FieldError {
                kind: FormatErrorKind::BadSignals,
                at: nsig_at,
            });
        }
        let actions = r.bytes(SIGACTIONS_LEN)?;
        r.finish()?;
        let s = Signals::new(
            blocked,
            (altstack_sp, altstack_size, altstack_flags),
            actions,
        );
        s.check_at().map_err(|(kind, at)| FieldError { kind, at })?;
        Ok(s)
    }
}

impl SigAction {
    /// Writes the action's [`SIGACTION_LEN`] bytes into `out` (for building a [`Signals`]'s
    /// action table); `false` if `out` is not exactly that long.
    pub fn encode(&self, out: &mut [u8]) -> bool {
        if out.len() != SIGACTION_LEN {
            return false;
        }
        for (dst, v) in
            out.chunks_exact_mut(8)
                .zip([self.handler, self.flags, self.restorer, self.mask])
        {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        true
    }
}

/// One resource limit: soft and hard (`RLIM_INFINITY` is `u64::MAX`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimit {
    /// Soft limit (`rlim_cur`).
    pub cur: u64,
    /// Hard limit (`rlim_max`).
    pub max: u64,
}

/// The TASK_STATE record: what else the kernel keeps for a task that user space set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// Registered rseq area, 0 if none.
    pub rseq: u64,
    /// Its length (0 exactly when there is none).
    pub rseq_len: u32,
    /// Its signature (0 when there is none).
    pub rseq_sig: u32,
    /// Head of the robust futex list, 0 if none.
    pub robust_list: u64,
    /// Its length as `get_robust_list(2)` reports it (0 exactly when there is none).
    pub robust_list_len: u64,
    /// `clear_child_tid` (`set_tid_address(2)`), 0 if none.
    pub clear_child_tid: u64,
    /// The file mode creation mask.
    pub umask: u32,
    /// Parent-death signal (`PR_SET_PDEATHSIG`), 0 if none.
    pub pdeath_signal: u32,
    /// Resource limits, `RLIMIT_CPU` first.
    pub rlimits: [Rlimit; RLIM_NLIMITS as usize],
}

impl TaskState {
    /// Validates every field against the kernel's invariants; returns the error and the
    /// offset of the offending field in the payload.
    pub fn check_at(&self) -> Result<(), (FormatErrorKind, usize)> {
        let bad = |at| Err((FormatErrorKind::BadTaskState, at));
        if self.rseq == 0 && (self.rseq_len != 0 || self.rseq_sig != 0) {
            return bad(8);
        }
        if self.rseq != 0 && self.rseq_len < RSEQ_MIN_LEN {
            return bad(8);
        }
        if (self.robust_list == 0) != (self.robust_list_len == 0) {
            return bad(24);
        }
        if self.umask & !0o777 != 0 {
            return bad(40);
        }
        if self.pdeath_signal > NSIG {
            return bad(44);
        }
        let mut at = TASK_STATE_FIXED_LEN;
        for l in &self.rlimits {
            if l.cur > l.max {
                return bad(at);
            }
            at = at.saturating_add(16);
        }
        Ok(())
    }

    /// Validates every field (see [`TaskState::check_at`]).
    pub fn check(&self) -> Result<(), FormatErrorKind> {
        self.check_at().map_err(|(k, _)| k)
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u64(self.rseq)?;
        out.put_u32(self.rseq_len)?;
        out.put_u32(self.rseq_sig)?;
        out.put_u64(self.robust_list)?;
        out.put_u64(self.robust_list_len)?;
        out.put_u64(self.clear_child_tid)?;
        out.put_u32(self.umask)?;
        out.put_u32(self.pdeath_signal)?;
        out.put_u32(RLIM_NLIMITS)?;
        out.put_u32(0)?;
        for l in &self.rlimits {
            out.put_u64(l.cur)?;
            out.put_u64(l.max)?;
        }
        Ok(())
    }

    /// Parses and validates a TASK_STATE payload.
    pub fn parse(payload: &[u8]) -> Result<TaskState, FieldError> {
        let mut r = Reader::new(payload);
        let rseq = r.u64()?;
        let rseq_len = r.u32()?;
        let rseq_sig = r.u32()?;
        let robust_list = r.u64()?;
        let robust_list_len = r.u64()?;
        let clear_child_tid = r.u64()?;
        let umask = r.u32()?;
        let pdeath_signal = r.u32()?;
        let n_at = r.pos();
        if r.u32()? != RLIM_NLIMITS {
            return Err(FieldError {
                kind: FormatErrorKind::BadTaskState,
                at: n_at,
            });
        }
        r.reserved32()?;
        let mut rlimits = [Rlimit::default(); RLIM_NLIMITS as usize];
        for l in &mut rlimits {
            l.cur = r.u64()?;
            l.max = r.u64()?;
        }
        r.finish()?;
        let t = TaskState {
            rseq,
            rseq_len,
            rseq_sig,
            robust_list,
            robust_list_len,
            clear_child_tid,
            umask,
            pdeath_signal,
            rlimits,
        };
        t.check_at().map_err(|(kind, at)| FieldError { kind, at })?;
        Ok(t)
    }
}

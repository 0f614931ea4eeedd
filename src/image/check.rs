// SPDX-License-Identifier: GPL-2.0

//! The compatibility checker: may an image (its environment vector, or one task vector) run on
//! a host described by another environment vector?
//!
//! It lives in the codec so the kernel's restart and `ckpt check` decide identically. It
//! decides from each entry's rule and flags alone, so it handles keys it has never heard of.

use core::fmt;

use super::cpu_names;
use super::env::{EnvEntry, EnvVector, Rule, ValueType};
use super::keys;

/// Why an entry does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchReason {
    /// The host has no entry for the key.
    MissingOnHost,
    /// Image and host encode the key with different value types.
    TypeDiffers,
    /// Rule `equal`: the values differ.
    NotEqual,
    /// Rule `subset`: the image has bits the host lacks.
    NotSubset,
    /// Rule `at_most`: the image's value exceeds the host's.
    Greater,
    /// The rule is unknown to this checker, so it cannot decide.
    UnknownRule,
    /// The value type is unknown and the rule needs to interpret it.
    UnknownType,
}

impl fmt::Display for MismatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MismatchReason::MissingOnHost => "missing on host",
            MismatchReason::TypeDiffers => "value types differ",
            MismatchReason::NotEqual => "values differ",
            MismatchReason::NotSubset => "image has bits the host lacks",
            MismatchReason::Greater => "image value exceeds host value",
            MismatchReason::UnknownRule => "unknown rule, cannot decide",
            MismatchReason::UnknownType => "unknown value type, cannot decide",
        })
    }
}

/// One mismatch, handed to the caller's visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch<'a> {
    /// The key.
    pub key: u32,
    /// The image entry's rule.
    pub rule: Rule,
    /// Whether the image entry is critical (restart refused) or advisory.
    pub critical: bool,
    /// Why it does not match.
    pub reason: MismatchReason,
    /// The image's entry.
    pub image: EnvEntry<'a>,
    /// The host's entry, if any.
    pub host: Option<EnvEntry<'a>>,
}

/// Totals of one check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Entries compared (informational ones excluded).
    pub checked: u32,
    /// Critical mismatches: restart must be refused if non-zero.
    pub critical: u32,
    /// Advisory mismatches: worth a warning.
    pub advisory: u32,
}

impl CheckSummary {
    /// Whether restart may proceed.
    pub fn is_compatible(&self) -> bool {
        self.critical == 0
    }

    /// Adds another check's totals (e.g. the task vectors' to the environment's).
    pub fn add(&mut self, other: &CheckSummary) {
        self.checked = self.checked.saturating_add(other.checked);
        self.critical = self.critical.saturating_add(other.critical);
        self.advisory = self.advisory.saturating_add(other.advisory);
    }
}

/// Checks every entry of `image` against `host`, calling `on_mismatch` for each mismatch.
///
/// Host entries the image does not mention are irrelevant. Both vectors are sorted by key, so
/// this is a single merge pass.
pub fn check_env<'a, F>(
    image: &EnvVector<'a>,
    host: &EnvVector<'a>,
    mut on_mismatch: F,
) -> CheckSummary
where
    F: FnMut(&Mismatch<'a>),
{
    let mut summary = CheckSummary::default();
    let mut host_iter = host.iter().peekable();
    for entry in image.iter() {
        if entry.rule == Rule::INFO {
            continue;
        }
        while host_iter.next_if(|h| h.key < entry.key).is_some() {}
        let host_entry = host_iter.next_if(|h| h.key == entry.key);
        summary.checked = summary.checked.saturating_add(1);
        let Some(reason) = compare(&entry, host_entry.as_ref()) else {
            continue;
        };
        let critical = entry.is_critical();
        if critical {
            summary.critical = summary.critical.saturating_add(1);
        } else {
            summary.advisory = summary.advisory.saturating_add(1);
        }
        on_mismatch(&Mismatch {
            key: entry.key,
            rule: entry.rule,
            critical,
            reason,
            image: entry,
            host: host_entry,
        });
    }
    summary
}

/// Applies the image entry's rule; `None` means compatible.
fn compare(image: &EnvEntry<'_>, host: Option<&EnvEntry<'_>>) -> Option<MismatchReason> {
    if image.rule.name().is_none() {
        return Some(MismatchReason::UnknownRule);
    }
    let Some(host) = host else {
        return Some(MismatchReason::MissingOnHost);
    };
    if image.vtype != host.vtype {
        return Some(MismatchReason::TypeDiffers);
    }
    let words = image.word_count().max(host.word_count());
    let ok = match (image.rule, image.vtype.word_size()) {
        // Unknown types can still be compared byte for byte.
        (Rule::EQUAL, None) => image.value == host.value,
        (Rule::EQUAL, Some(_)) => (0..words).all(|i| image.word(i) == host.word(i)),
        (Rule::SUBSET, Some(_)) => (0..words).all(|i| image.word(i) & !host.word(i) == 0),
        (Rule::AT_MOST, Some(_)) if matches!(image.vtype, ValueType::U32 | ValueType::U64) => {
            image.word(0) <= host.word(0)
        }
        _ => return Some(MismatchReason::UnknownType),
    };
    if ok {
        None
    } else {
        Some(match image.rule {
            Rule::EQUAL => MismatchReason::NotEqual,
            Rule::SUBSET => MismatchReason::NotSubset,
            _ => MismatchReason::Greater,
        })
    }
}

// ---- Naming and formatting mismatches ----
//
// The kernel's refusal and `ckpt check` print mismatches with this code, so both say the same
// words: CPU features and xsave components by the names the kernel gives them (`avx2`,
// `ymm`), bits without a name as `word N bit M`, critical mismatches before advisory ones, and
// one line of advice.

/// Names of the `user_abis` bits (see [`keys::USER_ABIS`]).
const USER_ABI_NAMES: &[&str] = &["x86_64", "ia32", "x32"];

/// The name of bit `index` (bit `index % W` of word `index / W`, for words of W bits) of the
/// value of environment key `key`, spelled as the kernel spells it, if it has one.
pub fn bit_name(key: u32, index: u32) -> Option<&'static str> {
    match key {
        keys::X86_CAPABILITY => {
            let word = u8::try_from(index / 32).ok()?;
            let bit = u8::try_from(index % 32).ok()?;
            let flags = cpu_names::X86_CAP_FLAGS;
            let at = flags
                .binary_search_by(|f| (f.word, f.bit).cmp(&(word, bit)))
                .ok()?;
            flags.get(at).map(|f| f.name)
        }
        keys::XSAVE_FEATURES => cpu_names::XFEATURES
            .iter()
            .find(|x| u32::from(x.bit) == index)
            .map(|x| x.name),
        keys::USER_ABIS => USER_ABI_NAMES.get(usize::try_from(index).ok()?).copied(),
        _ => None,
    }
}

/// Whether the bits of `key`'s value have names (so listing them helps a reader).
pub fn has_bit_names(key: u32) -> bool {
    matches!(
        key,
        keys::X86_CAPABILITY | keys::XSAVE_FEATURES | keys::USER_ABIS
    )
}

/// One bit of an entry's value: its name if it has one, otherwise `word N bit M` (or `bit M`
/// for a single number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureBit {
    /// The entry's key.
    pub key: u32,
    /// Word of the value.
    pub word: u32,
    /// Bit within the word.
    pub bit: u32,
    /// Bits per word (32 or 64).
    pub word_bits: u32,
    /// Whether the value is a single number rather than a bitmap.
    pub scalar: bool,
}

impl FeatureBit {
    /// Bit number counted from bit 0 of word 0.
    pub fn index(&self) -> u32 {
        self.word
            .saturating_mul(self.word_bits)
            .saturating_add(self.bit)
    }

    /// The kernel's name for the bit, if it has one.
    pub fn name(&self) -> Option<&'static str> {
        bit_name(self.key, self.index())
    }
}

impl fmt::Display for FeatureBit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None if self.scalar => write!(f, "bit {}", self.bit),
            None => write!(f, "word {} bit {}", self.word, self.bit),
        }
    }
}

/// Iterator over the bits set in one value and clear in another, in word and bit order.
#[derive(Clone, Debug)]
pub struct BitDiff<'a> {
    ours: EnvEntry<'a>,
    theirs: Option<EnvEntry<'a>>,
    words: usize,
    next_word: usize,
    word: u32,
    pending: u64,
}

impl<'a> BitDiff<'a> {
    /// Bits set in `ours` and clear in `theirs` (all set bits if `theirs` is `None`); empty
    /// for values that are not numbers or bitmaps.
    pub fn new(ours: EnvEntry<'a>, theirs: Option<EnvEntry<'a>>) -> Self {
        BitDiff {
            ours,
            theirs,
            words: ours.word_count(),
            next_word: 0,
            word: 0,
            pending: 0,
        }
    }
}

impl Iterator for BitDiff<'_> {
    type Item = FeatureBit;

    fn next(&mut self) -> Option<FeatureBit> {
        while self.pending == 0 {
            if self.next_word >= self.words {
                return None;
            }
            let i = self.next_word;
            self.word = u32::try_from(i).unwrap_or(u32::MAX);
            self.next_word = i.saturating_add(1);
            self.pending = self.ours.word(i) & !self.theirs.map_or(0, |t| t.word(i));
        }
        let bit = self.pending.trailing_zeros();
        self.pending &= self.pending.wrapping_sub(1);
        let size = self.ours.vtype.word_size().unwrap_or(8);
        Some(FeatureBit {
            key: self.ours.key,
            word: self.word,
            bit,
            word_bits: u32::try_from(size.saturating_mul(8)).unwrap_or(64),
            scalar: matches!(self.ours.vtype, ValueType::U32 | ValueType::U64),
        })
    }
}

impl<'a> Mismatch<'a> {
    /// The bits the image needs and the host lacks (rule `subset`); empty for other reasons.
    pub fn missing_bits(&self) -> BitDiff<'a> {
        if self.reason == MismatchReason::NotSubset {
            BitDiff::new(self.image, self.host)
        } else {
            BitDiff::new(self.image, Some(self.image))
        }
    }

    /// The mismatch in words: `KEY: WHAT`, naming at most `max_names` bits (then `and N
    /// more`). Named bits come first, then unnamed ones.
    pub fn text(&self, max_names: usize) -> MismatchText<'_, 'a> {
        MismatchText {
            mismatch: self,
            max_names,
        }
    }
}

/// [`Mismatch::text`].
#[derive(Clone, Copy, Debug)]
pub struct MismatchText<'m, 'a> {
    mismatch: &'m Mismatch<'a>,
    max_names: usize,
}

/// A key by its registry name, or `key 0x...`.
struct KeyName(u32);

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match keys::lookup(self.0) {
            Some(k) => f.write_str(k.name),
            None => write!(f, "key {:#x}", self.0),
        }
    }
}

/// A short value for a message: numbers and strings; `None` for what is too long to show.
struct ShortValue<'a>(EnvEntry<'a>);

impl ShortValue<'_> {
    fn shown(&self) -> bool {
        matches!(
            self.0.vtype,
            ValueType::U32 | ValueType::U64 | ValueType::STRING
        ) && self.0.value.len() <= 64
    }
}

impl fmt::Display for ShortValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.vtype {
            ValueType::U32 => write!(f, "{}", self.0.word(0)),
            ValueType::U64 => write!(f, "{:#x}", self.0.word(0)),
            _ => write!(f, "\"{}\"", self.0.value.escape_ascii()),
        }
    }
}

impl fmt::Display for MismatchText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.mismatch;
        write!(f, "{}: ", KeyName(m.key))?;
        let total = m.missing_bits().count();
        if total > 0 {
            f.write_str("the host lacks ")?;
            let named = m.missing_bits().filter(|b| b.name().is_some());
            let unnamed = m.missing_bits().filter(|b| b.name().is_none());
            for (i, b) in named.chain(unnamed).take(self.max_names).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{b}")?;
            }
            let rest = total.saturating_sub(self.max_names);
            if rest == total {
                write!(f, "{total} bits")?;
            } else if rest > 0 {
                write!(f, " and {rest} more")?;
            }
            return Ok(());
        }
        write!(f, "{}", m.reason)?;
        match m.host {
            Some(host)
                if matches!(m.reason, MismatchReason::NotEqual | MismatchReason::Greater)
                    && ShortValue(m.image).shown()
                    && ShortValue(host).shown() =>
            {
                write!(
                    f,
                    " (image {}, host {})",
                    ShortValue(m.image),
                    ShortValue(host)
                )
            }
            _ => Ok(()),
        }
    }
}

/// One line of advice for a set of mismatches, chosen by the most important one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// The image needs features (or more of something) the host lacks.
    Features,
    /// Values that must be equal differ, or the host lacks an entry.
    Differ,
    /// This checker cannot decide an entry.
    Undecidable,
    /// Only advisory mismatches.
    Advisory,
}

impl Advice {
    /// The advice for mismatch `m`.
    pub fn for_mismatch(m: &Mismatch<'_>) -> Advice {
        if !m.critical {
            return Advice::Advisory;
        }
        match m.reason {
            MismatchReason::NotSubset | MismatchReason::Greater => Advice::Features,
            MismatchReason::MissingOnHost
            | MismatchReason::TypeDiffers
            | MismatchReason::NotEqual => Advice::Differ,
            MismatchReason::UnknownRule | MismatchReason::UnknownType => Advice::Undecidable,
        }
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Advice::Features => {
                "restart on a host with these features, or checkpoint on a host that lacks them"
            }
            Advice::Differ => {
                "restart on a host where these match the image, or checkpoint on one that \
                 matches the target"
            }
            Advice::Undecidable => {
                "a newer module and ckpt may decide these; until then restart on a host like \
                 the image's"
            }
            Advice::Advisory => {
                "restart anyway if these do not matter: ckpt restore --accept-advisory \
                 (CKPT_RESTART_ACCEPT_ADVISORY)"
            }
        })
    }
}

/// One vector of an image to check: the environment vector (label `""`) or a task vector
/// (label e.g. `task` or `task 30 (pid 100)`).
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// Printed before each of its mismatches, unless empty.
    pub label: &'a str,
    /// The image's vector.
    pub image: EnvVector<'a>,
}

/// Every mismatch of an image's vectors against a host, in order of importance: critical ones
/// first (environment vector, then task vectors, each in key order), then advisory ones.
#[derive(Clone, Copy, Debug)]
pub struct EnvReport<'s, 'a> {
    scopes: &'s [Scope<'a>],
    host: EnvVector<'a>,
    summary: CheckSummary,
}

impl<'s, 'a> EnvReport<'s, 'a> {
    /// Checks every scope against `host`.
    pub fn new(scopes: &'s [Scope<'a>], host: EnvVector<'a>) -> Self {
        let mut summary = CheckSummary::default();
        for s in scopes {
            summary.add(&check_env(&s.image, &host, |_| {}));
        }
        EnvReport {
            scopes,
            host,
            summary,
        }
    }

    /// The totals over all scopes.
    pub fn summary(&self) -> CheckSummary {
        self.summary
    }

    /// Calls `f` with each mismatch of the given severity and its scope's label, in order.
    pub fn for_each<F>(&self, critical: bool, mut f: F)
    where
        F: FnMut(&str, &Mismatch<'a>),
    {
        for s in self.scopes {
            check_env(&s.image, &self.host, |m| {
                if m.critical == critical {
                    f(s.label, m);
                }
            });
        }
    }

    /// Index in the scopes of the most important mismatch, if any.
    pub fn first_scope(&self) -> Option<usize> {
        let mut first = None;
        for critical in [true, false] {
            for (i, s) in self.scopes.iter().enumerate() {
                if first.is_none() {
                    check_env(&s.image, &self.host, |m| {
                        if m.critical == critical && first.is_none() {
                            first = Some(i);
                        }
                    });
                }
            }
        }
        first
    }

    /// The advice for the most important mismatch, if any.
    pub fn advice(&self) -> Option<Advice> {
        let mut advice = None;
        for critical in [true, false] {
            self.for_each(critical, |_, m| {
                advice.get_or_insert(Advice::for_mismatch(m));
            });
        }
        advice
    }

    /// The report on one line, naming at most `max_names` bits per mismatch:
    /// `environment mismatch (C critical, A advisory). critical: X; Y. advisory: Z. Advice: ...`
    pub fn line(&self, max_names: usize) -> ReportText<'_, 's, 'a> {
        ReportText {
            report: self,
            max_names,
            lines: false,
        }
    }

    /// The report as lines (each ending in a newline), naming every bit: a heading line, a
    /// `critical` and an `advisory` section with one indented mismatch per line, the advice.
    pub fn lines(&self) -> ReportText<'_, 's, 'a> {
        ReportText {
            report: self,
            max_names: usize::MAX,
            lines: true,
        }
    }
}

/// [`EnvReport::line`] and [`EnvReport::lines`]; prints nothing when there is no mismatch.
#[derive(Clone, Copy, Debug)]
pub struct ReportText<'r, 's, 'a> {
    report: &'r EnvReport<'s, 'a>,
    max_names: usize,
    lines: bool,
}

impl fmt::Display for ReportText<'_, '_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = self.report.summary;
        if summary.critical == 0 && summary.advisory == 0 {
            return Ok(());
        }
        write!(
            f,
            "environment mismatch ({} critical, {} advisory)",
            summary.critical, summary.advisory
        )?;
        if self.lines {
            f.write_str("\n")?;
        }
        let mut result = Ok(());
        for (critical, count) in [(true, summary.critical), (false, summary.advisory)] {
            if count == 0 {
                continue;
            }
            let section = match (critical, self.lines) {
                (true, false) => ". critical: ",
                (false, false) => ". advisory: ",
                (true, true) => "critical (restart is refused):\n",
                (false, true) => "advisory (restart is refused unless accepted):\n",
            };
            result = result.and_then(|()| f.write_str(section));
            let mut first = true;
            self.report.for_each(critical, |label, m| {
                let separator = match (self.lines, first) {
                    (true, _) => "  ",
                    (false, true) => "",
                    (false, false) => "; ",
                };
                first = false;
                let space = if label.is_empty() { "" } else { " " };
                result = result.and_then(|()| {
                    write!(f, "{separator}{label}{space}{}", m.text(self.max_names))
                });
                if self.lines {
                    result = result.and_then(|()| f.write_str("\n"));
                }
            });
        }
        result?;
        match self.report.advice() {
            Some(advice) if self.lines => writeln!(f, "advice: {advice}"),
            Some(advice) => write!(f, ". Advice: {advice}"),
            None => Ok(()),
        }
    }
}

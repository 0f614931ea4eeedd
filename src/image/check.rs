// SPDX-License-Identifier: GPL-2.0

//! The compatibility checker: may an image (its environment vector, or one task vector) run on
//! a host described by another environment vector?
//!
//! It lives in the codec so the kernel's restart and `ckpt check` decide identically. It
//! decides from each entry's rule and flags alone, so it handles keys it has never heard of.

use core::fmt;

use super::env::{EnvEntry, EnvVector, Rule, ValueType};

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

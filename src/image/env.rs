// SPDX-License-Identifier: GPL-2.0

//! Environment vectors: what an image depends on in the kernel and hardware (the image-wide
//! vector) or what one task actually uses (the per-task vector).
//!
//! Each entry carries its own compatibility [`Rule`] and a critical flag, so a checker decides
//! without knowing the key; new keys need no version bump. Entries are sorted by strictly
//! increasing key, which makes duplicates impossible and lets the checker merge two vectors
//! without allocating.

use core::fmt;

use super::error::{FieldError, FormatErrorKind};
use super::wire::{ByteOut, Reader, Stop};

/// Largest environment value in bytes.
pub const ENV_VALUE_MAX: usize = 4096;

/// Most entries in one vector.
pub const ENV_MAX_ENTRIES: u32 = 4096;

/// Length of an entry's header: key, type, rule, flags, value length.
pub const ENV_ENTRY_HEADER_LEN: usize = 12;

/// Length of a vector payload's header: entry count and a reserved word.
pub const ENV_PAYLOAD_HEADER_LEN: usize = 8;

/// Entry flag: a mismatch on this entry forbids restart (otherwise it is advisory).
pub const ENV_FLAG_CRITICAL: u16 = 1;

/// How an entry's value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueType(pub u8);

impl ValueType {
    /// `__le32`.
    pub const U32: ValueType = ValueType(1);
    /// `__le64`.
    pub const U64: ValueType = ValueType(2);
    /// Opaque bytes.
    pub const BYTES: ValueType = ValueType(3);
    /// Text bytes (no NUL terminator, not necessarily UTF-8).
    pub const STRING: ValueType = ValueType(4);
    /// Array of `__le32` words, bit `n` in word `n / 32`.
    pub const BITMAP32: ValueType = ValueType(5);
    /// Array of `__le64` words, bit `n` in word `n / 64`.
    pub const BITMAP64: ValueType = ValueType(6);

    /// Registry name, if the number is assigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ValueType::U32 => "u32",
            ValueType::U64 => "u64",
            ValueType::BYTES => "bytes",
            ValueType::STRING => "string",
            ValueType::BITMAP32 => "bitmap32",
            ValueType::BITMAP64 => "bitmap64",
            _ => return None,
        })
    }

    /// Looks a type up by its registry name.
    pub fn from_name(name: &str) -> Option<ValueType> {
        (1..=6).map(ValueType).find(|t| t.name() == Some(name))
    }

    /// Size of one word for numeric and bitmap types.
    pub fn word_size(self) -> Option<usize> {
        match self {
            ValueType::U32 | ValueType::BITMAP32 => Some(4),
            ValueType::U64 | ValueType::BITMAP64 => Some(8),
            _ => None,
        }
    }

    fn is_number(self) -> bool {
        matches!(self, ValueType::U32 | ValueType::U64)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "type#{}", self.0),
        }
    }
}

/// The compatibility rule of an entry: how the image's value must relate to the host's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule(pub u8);

impl Rule {
    /// Informational: never a mismatch.
    pub const INFO: Rule = Rule(0);
    /// Values must be equal (bitmaps word-wise, missing words are 0).
    pub const EQUAL: Rule = Rule(1);
    /// Every bit set in the image must be set on the host (numbers and bitmaps).
    pub const SUBSET: Rule = Rule(2);
    /// The image's number must be at most the host's.
    pub const AT_MOST: Rule = Rule(3);

    /// Registry name, if the number is assigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Rule::INFO => "info",
            Rule::EQUAL => "equal",
            Rule::SUBSET => "subset",
            Rule::AT_MOST => "at_most",
            _ => return None,
        })
    }

    /// Looks a rule up by its registry name.
    pub fn from_name(name: &str) -> Option<Rule> {
        (0..=3).map(Rule).find(|r| r.name() == Some(name))
    }

    /// Whether a known rule can apply to a known type; unknown ones are left to the checker.
    fn applies_to(self, vtype: ValueType) -> bool {
        match self {
            Rule::SUBSET => vtype.word_size().is_some(),
            Rule::AT_MOST => vtype.is_number() || vtype.name().is_none(),
            _ => true,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "rule#{}", self.0),
        }
    }
}

/// Validates an entry's shape; shared by the decoder and the builder so both accept the same.
fn check_entry(
    key: u32,
    vtype: ValueType,
    rule: Rule,
    value_len: usize,
) -> Result<(), FormatErrorKind> {
    if key == 0 {
        return Err(FormatErrorKind::EnvKeyZero);
    }
    let len_ok = value_len <= ENV_VALUE_MAX
        && match vtype {
            ValueType::U32 => value_len == 4,
            ValueType::U64 => value_len == 8,
            ValueType::BITMAP32 => value_len.is_multiple_of(4),
            ValueType::BITMAP64 => value_len.is_multiple_of(8),
            _ => true,
        };
    if !len_ok {
        return Err(FormatErrorKind::EnvValueLength(key));
    }
    if vtype.name().is_some() && !rule.applies_to(vtype) {
        return Err(FormatErrorKind::EnvRuleMismatch(key));
    }
    Ok(())
}

/// One decoded entry; the value is borrowed from the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvEntry<'a> {
    /// What the entry describes (see [`keys`](super::keys)).
    pub key: u32,
    /// How the value is encoded.
    pub vtype: ValueType,
    /// How a checker compares it.
    pub rule: Rule,
    /// Flags; bit 0 is [`ENV_FLAG_CRITICAL`], others are ignored by v1 readers.
    pub flags: u16,
    /// The raw little-endian value.
    pub value: &'a [u8],
}

impl<'a> EnvEntry<'a> {
    /// Whether a mismatch on this entry forbids restart.
    pub fn is_critical(&self) -> bool {
        self.flags & ENV_FLAG_CRITICAL != 0
    }

    /// Number of words of a numeric or bitmap value (0 for other types).
    pub fn word_count(&self) -> usize {
        match self.vtype.word_size() {
            Some(size) => self.value.len().checked_div(size).unwrap_or(0),
            None => 0,
        }
    }

    /// Word `index` of a numeric or bitmap value; words past the end read as 0.
    pub fn word(&self, index: usize) -> u64 {
        let Some(size) = self.vtype.word_size() else {
            return 0;
        };
        let Some(start) = index.checked_mul(size) else {
            return 0;
        };
        let bytes = start
            .checked_add(size)
            .and_then(|end| self.value.get(start..end));
        match bytes {
            Some(b) => {
                let mut le = [0u8; 8];
                if let Some(dst) = le.get_mut(..b.len()) {
                    dst.copy_from_slice(b);
                }
                u64::from_le_bytes(le)
            }
            None => 0,
        }
    }

    /// The value as something the [`EnvWriter`] can re-encode unchanged.
    pub fn to_value(self) -> EnvValue<'a> {
        EnvValue::Raw(self.vtype, self.value)
    }
}

fn read_entry<'a>(r: &mut Reader<'a>) -> Result<EnvEntry<'a>, FieldError> {
    let at = r.pos();
    let key = r.u32()?;
    let vtype = ValueType(r.u8()?);
    let rule = Rule(r.u8()?);
    let flags = r.u16()?;
    let len_at = r.pos();
    let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
    if len > ENV_VALUE_MAX {
        return Err(FieldError {
            kind: FormatErrorKind::EnvValueLength(key),
            at: len_at,
        });
    }
    let value = r.bytes(len)?;
    check_entry(key, vtype, rule, len).map_err(|kind| FieldError { kind, at })?;
    Ok(EnvEntry {
        key,
        vtype,
        rule,
        flags,
        value,
    })
}

/// A validated vector payload (count, reserved word, entries); iterate with [`EnvVector::iter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvVector<'a> {
    entries: &'a [u8],
    count: u32,
}

impl<'a> EnvVector<'a> {
    /// Parses and validates a bare vector payload: the body of an environment vector record,
    /// the tail of a task vector record, or what the kernel returns for `ckpt env`.
    pub fn parse(payload: &'a [u8]) -> Result<EnvVector<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let vector = Self::read(&mut r)?;
        r.finish()?;
        Ok(vector)
    }

    /// Reads and validates a vector from `r`.
    pub(super) fn read(r: &mut Reader<'a>) -> Result<EnvVector<'a>, FieldError> {
        let count_at = r.pos();
        let count = r.u32()?;
        if count > ENV_MAX_ENTRIES {
            return Err(FieldError {
                kind: FormatErrorKind::TooManyEntries,
                at: count_at,
            });
        }
        r.reserved32()?;
        let rest = r.rest();
        let before = r.remaining();
        let mut last_key = 0u32;
        for _ in 0..count {
            let at = r.pos();
            let entry = read_entry(r)?;
            if entry.key <= last_key {
                return Err(FieldError {
                    kind: FormatErrorKind::EnvKeyNotIncreasing(entry.key),
                    at,
                });
            }
            last_key = entry.key;
        }
        let used = before.saturating_sub(r.remaining());
        Ok(EnvVector {
            entries: rest.get(..used).unwrap_or_default(),
            count,
        })
    }

    /// An empty vector.
    pub const fn empty() -> EnvVector<'static> {
        EnvVector {
            entries: &[],
            count: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether the vector has no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries, in increasing key order.
    pub fn iter(&self) -> EnvIter<'a> {
        EnvIter {
            reader: Reader::new(self.entries),
        }
    }

    /// The entry for `key`, if present.
    pub fn get(&self, key: u32) -> Option<EnvEntry<'a>> {
        self.iter().find(|e| e.key == key)
    }
}

impl<'a> IntoIterator for &EnvVector<'a> {
    type Item = EnvEntry<'a>;
    type IntoIter = EnvIter<'a>;

    fn into_iter(self) -> EnvIter<'a> {
        self.iter()
    }
}

/// Iterator over the entries of an [`EnvVector`].
pub struct EnvIter<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for EnvIter<'a> {
    type Item = EnvEntry<'a>;

    fn next(&mut self) -> Option<EnvEntry<'a>> {
        if self.reader.remaining() == 0 {
            return None;
        }
        // The vector was validated when parsed, so this cannot fail; stop if it somehow does.
        read_entry(&mut self.reader).ok()
    }
}

/// A value to encode. Bitmaps are given as native words and written little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvValue<'a> {
    /// A `u32` ([`ValueType::U32`]).
    U32(u32),
    /// A `u64` ([`ValueType::U64`]).
    U64(u64),
    /// Opaque bytes ([`ValueType::BYTES`]).
    Bytes(&'a [u8]),
    /// Text ([`ValueType::STRING`]).
    Str(&'a [u8]),
    /// 32-bit words ([`ValueType::BITMAP32`]).
    Bitmap32(&'a [u32]),
    /// 64-bit words ([`ValueType::BITMAP64`]).
    Bitmap64(&'a [u64]),
    /// Already-encoded little-endian bytes of any type, e.g. copied from a decoded entry.
    Raw(ValueType, &'a [u8]),
}

impl EnvValue<'_> {
    /// The value's type.
    pub fn vtype(&self) -> ValueType {
        match self {
            EnvValue::U32(_) => ValueType::U32,
            EnvValue::U64(_) => ValueType::U64,
            EnvValue::Bytes(_) => ValueType::BYTES,
            EnvValue::Str(_) => ValueType::STRING,
            EnvValue::Bitmap32(_) => ValueType::BITMAP32,
            EnvValue::Bitmap64(_) => ValueType::BITMAP64,
            EnvValue::Raw(t, _) => *t,
        }
    }

    /// Encoded length of the value alone (saturating: huge values fail validation later).
    pub fn encoded_len(&self) -> usize {
        match self {
            EnvValue::U32(_) => 4,
            EnvValue::U64(_) => 8,
            EnvValue::Bytes(b) | EnvValue::Str(b) | EnvValue::Raw(_, b) => b.len(),
            EnvValue::Bitmap32(w) => w.len().saturating_mul(4),
            EnvValue::Bitmap64(w) => w.len().saturating_mul(8),
        }
    }

    fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        match self {
            EnvValue::U32(v) => out.put_u32(*v),
            EnvValue::U64(v) => out.put_u64(*v),
            EnvValue::Bytes(b) | EnvValue::Str(b) | EnvValue::Raw(_, b) => out.put(b),
            EnvValue::Bitmap32(words) => words.iter().try_for_each(|w| out.put_u32(*w)),
            EnvValue::Bitmap64(words) => words.iter().try_for_each(|w| out.put_u64(*w)),
        }
    }
}

/// Returned by an environment builder callback to stop building; the encoder then reports why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvStop;

/// Emits the entries of one vector, in strictly increasing key order.
///
/// Builder callbacks receive one of these twice: once to measure, once to write (the record
/// header needs the length up front, and nothing is ever patched afterwards). The callback
/// must therefore emit the same entries both times.
pub struct EnvWriter<'w> {
    out: &'w mut dyn ByteOut,
    count: u32,
    len: usize,
    last_key: u32,
    error: Option<FormatErrorKind>,
    output_failed: bool,
}

impl EnvWriter<'_> {
    /// Emits one entry. `flags` is [`ENV_FLAG_CRITICAL`] or 0 (advisory).
    pub fn put(
        &mut self,
        key: u32,
        rule: Rule,
        flags: u16,
        value: EnvValue<'_>,
    ) -> Result<(), EnvStop> {
        let vtype = value.vtype();
        let value_len = value.encoded_len();
        let checked = if key <= self.last_key && key != 0 {
            Err(FormatErrorKind::EnvKeyNotIncreasing(key))
        } else if self.count >= ENV_MAX_ENTRIES {
            Err(FormatErrorKind::TooManyEntries)
        } else {
            check_entry(key, vtype, rule, value_len)
        };
        if let Err(kind) = checked {
            self.error = Some(kind);
            return Err(EnvStop);
        }
        let len32 = u32::try_from(value_len).map_err(|_| EnvStop)?;
        let out = &mut *self.out;
        let written = out
            .put_u32(key)
            .and_then(|()| out.put_u8(vtype.0))
            .and_then(|()| out.put_u8(rule.0))
            .and_then(|()| out.put_u16(flags))
            .and_then(|()| out.put_u32(len32))
            .and_then(|()| value.write(out));
        if written.is_err() {
            self.output_failed = true;
            return Err(EnvStop);
        }
        self.last_key = key;
        self.count = self.count.saturating_add(1);
        self.len = self
            .len
            .saturating_add(ENV_ENTRY_HEADER_LEN)
            .saturating_add(value_len);
        Ok(())
    }

    /// Emits a registered key with the type, rule and criticality the registry
    /// ([`keys::KNOWN_KEYS`](super::keys::KNOWN_KEYS)) gives it: what the kernel uses, so the
    /// rules live in one place.
    pub fn put_registered(&mut self, key: u32, value: EnvValue<'_>) -> Result<(), EnvStop> {
        let Some(info) = super::keys::lookup(key) else {
            self.error = Some(FormatErrorKind::EnvKeyUnregistered(key));
            return Err(EnvStop);
        };
        if info.vtype != value.vtype() {
            self.error = Some(FormatErrorKind::EnvTypeMismatch(key));
            return Err(EnvStop);
        }
        let flags = if info.critical { ENV_FLAG_CRITICAL } else { 0 };
        self.put(key, info.rule, flags, value)
    }

    /// Copies a decoded entry unchanged.
    pub fn put_entry(&mut self, entry: &EnvEntry<'_>) -> Result<(), EnvStop> {
        self.put(entry.key, entry.rule, entry.flags, entry.to_value())
    }
}

/// Count and length (entries only) of what a builder emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EnvPass {
    pub(super) count: u32,
    pub(super) len: usize,
}

/// Why a builder pass failed.
pub(super) enum EnvPassError {
    /// An entry was invalid.
    Invalid(FormatErrorKind),
    /// The callback stopped on its own account.
    Aborted,
    /// The output failed (its owner knows why).
    Output,
}

/// Runs a builder callback once over `out`.
pub(super) fn run_env_builder<F>(
    out: &mut dyn ByteOut,
    build: &mut F,
) -> Result<EnvPass, EnvPassError>
where
    F: FnMut(&mut EnvWriter<'_>) -> Result<(), EnvStop>,
{
    let mut writer = EnvWriter {
        out,
        count: 0,
        len: 0,
        last_key: 0,
        error: None,
        output_failed: false,
    };
    match build(&mut writer) {
        Ok(()) => Ok(EnvPass {
            count: writer.count,
            len: writer.len,
        }),
        Err(EnvStop) => Err(match writer.error {
            Some(kind) => EnvPassError::Invalid(kind),
            None if writer.output_failed => EnvPassError::Output,
            None => EnvPassError::Aborted,
        }),
    }
}

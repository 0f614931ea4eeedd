// SPDX-License-Identifier: GPL-2.0

//! Field-level plumbing shared by every record: a bounds-checked little-endian reader, and the
//! byte output that encoders write through (a real sink, or a byte counter to measure lengths).

use super::error::{FieldError, FormatErrorKind};

/// Reads little-endian fields front to back; running off the end is an error, never a panic.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf, pos: 0 }
    }

    /// Offset of the next field within the slice given to [`Reader::new`].
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// An error located at the next field.
    pub(super) fn error(&self, kind: FormatErrorKind) -> FieldError {
        FieldError { kind, at: self.pos }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], FieldError> {
        let Some((head, tail)) = self.rest.split_at_checked(n) else {
            return Err(self.error(FormatErrorKind::PayloadTruncated));
        };
        self.rest = tail;
        self.pos = self.pos.saturating_add(n);
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], FieldError> {
        let at = self.pos;
        let head = self.bytes(N)?;
        head.try_into().map_err(|_| FieldError {
            kind: FormatErrorKind::PayloadTruncated,
            at,
        })
    }

    pub(super) fn u8(&mut self) -> Result<u8, FieldError> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    pub(super) fn u16(&mut self) -> Result<u16, FieldError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32, FieldError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, FieldError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64, FieldError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A reserved `u16` that must be zero.
    pub(super) fn reserved16(&mut self) -> Result<(), FieldError> {
        let at = self.pos;
        match self.u16()? {
            0 => Ok(()),
            _ => Err(FieldError {
                kind: FormatErrorKind::ReservedNotZero,
                at,
            }),
        }
    }

    /// A reserved `u32` that must be zero.
    pub(super) fn reserved32(&mut self) -> Result<(), FieldError> {
        let at = self.pos;
        match self.u32()? {
            0 => Ok(()),
            _ => Err(FieldError {
                kind: FormatErrorKind::ReservedNotZero,
                at,
            }),
        }
    }

    /// A `u16`-length-prefixed byte string of at most `max` bytes.
    pub(super) fn counted(
        &mut self,
        max: usize,
        too_long: FormatErrorKind,
    ) -> Result<&'a [u8], FieldError> {
        let at = self.pos;
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(FieldError { kind: too_long, at });
        }
        self.bytes(len)
    }

    /// The slice must be fully consumed.
    pub(super) fn finish(&self) -> Result<(), FieldError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.error(FormatErrorKind::TrailingBytes))
        }
    }
}

/// Returned by a [`ByteOut`] that failed; the cause is kept by the output itself.
pub(super) struct Stop;

/// Where encoders put bytes. Object safe, so builder callbacks need no generic parameter.
pub(super) trait ByteOut {
    fn put(&mut self, data: &[u8]) -> Result<(), Stop>;

    /// [`ByteOut::put`] of bytes whose CRC-32C register from 0 is `data_state` (see
    /// `Crc32c::append`): an output keeping a running checksum need not read them again.
    fn put_known(&mut self, data: &[u8], data_state: u32) -> Result<(), Stop> {
        let _ = data_state;
        self.put(data)
    }

    fn put_u8(&mut self, v: u8) -> Result<(), Stop> {
        self.put(&[v])
    }

    fn put_u16(&mut self, v: u16) -> Result<(), Stop> {
        self.put(&v.to_le_bytes())
    }

    fn put_u32(&mut self, v: u32) -> Result<(), Stop> {
        self.put(&v.to_le_bytes())
    }

    fn put_u64(&mut self, v: u64) -> Result<(), Stop> {
        self.put(&v.to_le_bytes())
    }

    fn put_i64(&mut self, v: i64) -> Result<(), Stop> {
        self.put(&v.to_le_bytes())
    }

    /// A `u16`-length-prefixed byte string; callers have checked its bound already.
    fn put_counted(&mut self, data: &[u8]) -> Result<(), Stop> {
        let len = u16::try_from(data.len()).map_err(|_| Stop)?;
        self.put_u16(len)?;
        self.put(data)
    }
}

/// Counts bytes instead of writing them: how encoders compute lengths before writing a header.
#[derive(Default)]
pub(super) struct Measure {
    pub(super) len: usize,
}

impl ByteOut for Measure {
    fn put(&mut self, data: &[u8]) -> Result<(), Stop> {
        self.len = self.len.checked_add(data.len()).ok_or(Stop)?;
        Ok(())
    }
}

/// Length in bytes of whatever `encode` writes.
pub(super) fn measure(encode: impl FnOnce(&mut dyn ByteOut) -> Result<(), Stop>) -> usize {
    let mut m = Measure::default();
    match encode(&mut m) {
        Ok(()) => m.len,
        Err(Stop) => usize::MAX,
    }
}

/// Checks that a NUL-padded fixed-size string has at least one NUL and only NULs after it.
pub(super) fn check_fixed_string(field: &[u8]) -> Result<(), FormatErrorKind> {
    let Some(nul) = field.iter().position(|&b| b == 0) else {
        return Err(FormatErrorKind::BadFixedString);
    };
    match field.get(nul..) {
        Some(tail) if tail.iter().all(|&b| b == 0) => Ok(()),
        _ => Err(FormatErrorKind::BadFixedString),
    }
}

/// The bytes of a NUL-padded fixed-size string up to its first NUL.
pub fn fixed_str(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or(field)
}

/// Copies `s` into a NUL-padded array of `N` bytes; it must leave room for one NUL.
pub(super) fn to_fixed<const N: usize>(s: &[u8]) -> Result<[u8; N], FormatErrorKind> {
    let mut out = [0u8; N];
    if s.len() >= N || s.contains(&0) {
        return Err(FormatErrorKind::BadFixedString);
    }
    let dst = out
        .get_mut(..s.len())
        .ok_or(FormatErrorKind::BadFixedString)?;
    dst.copy_from_slice(s);
    Ok(out)
}

/// Checks a path: bounded and NUL free.
pub(super) fn check_path(path: &[u8]) -> Result<(), FormatErrorKind> {
    if path.len() > super::PATH_MAX {
        Err(FormatErrorKind::PathTooLong)
    } else if path.contains(&0) {
        Err(FormatErrorKind::NulInPath)
    } else {
        Ok(())
    }
}

/// Reads a `u16`-length-prefixed path.
pub(super) fn read_path<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], FieldError> {
    let at = r.pos();
    let path = r.counted(super::PATH_MAX, FormatErrorKind::PathTooLong)?;
    check_path(path).map_err(|kind| FieldError { kind, at })?;
    Ok(path)
}

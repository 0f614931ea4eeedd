// SPDX-License-Identifier: GPL-2.0

//! The TERMINATOR record: proves the image is complete and intact.
//!
//! Its checksum covers every byte of the image before the checksum field itself, including the
//! terminator's own header, count and length, so any single corrupted byte is detected.

use super::error::{FieldError, FormatErrorKind};
use super::record::{RecordHeader, RECORD_FLAG_CRITICAL, RECORD_HEADER_LEN};
use super::wire::Reader;

/// Payload length of the terminator: record count, image length, checksum.
pub const TERMINATOR_PAYLOAD_LEN: usize = 20;

/// Total length of the terminator record.
pub const TERMINATOR_LEN: u32 = (RECORD_HEADER_LEN + TERMINATOR_PAYLOAD_LEN) as u32;

/// The decoded terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terminator {
    /// Number of records before the terminator.
    pub record_count: u64,
    /// Number of bytes before the terminator (header included).
    pub image_len: u64,
    /// CRC-32C of every byte before the checksum field.
    pub checksum: u32,
}

impl Terminator {
    /// Checks the fixed parts of the terminator's record header.
    pub fn check_header(header: &RecordHeader) -> Result<(), FormatErrorKind> {
        if header.flags != RECORD_FLAG_CRITICAL || header.id != 0 || header.len != TERMINATOR_LEN {
            Err(FormatErrorKind::BadTerminator)
        } else {
            Ok(())
        }
    }

    /// Parses a terminator payload (the stored values are not verified here).
    pub fn parse(payload: &[u8]) -> Result<Terminator, FieldError> {
        let mut r = Reader::new(payload);
        let t = Terminator {
            record_count: r.u64()?,
            image_len: r.u64()?,
            checksum: r.u32()?,
        };
        r.finish()?;
        Ok(t)
    }
}

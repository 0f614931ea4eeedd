// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the image checksum.
//!
//! Chosen because it detects every single-byte (indeed every burst up to 32 bits) error, is
//! the checksum ext4/btrfs/iSCSI already use (the kernel has an accelerated `crc32c()` should
//! this table version ever matter), and needs only a 1 KiB table computed at compile time.

/// Reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Byte-at-a-time lookup table, built by the compiler.
const TABLE: [u32; 256] = make_table();

#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // const eval: bounds are static
const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0usize;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Running CRC-32C: initial value and final xor `0xFFFF_FFFF`, reflected input and output.
///
/// `Crc32c::new().update(b"123456789").value() == 0xE306_9283` (the standard check value).
#[derive(Clone, Copy, Debug)]
pub struct Crc32c {
    state: u32,
}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32c {
    /// A checksum over zero bytes.
    pub const fn new() -> Self {
        Self { state: 0xFFFF_FFFF }
    }

    /// Feeds `data` into the checksum.
    pub fn update(mut self, data: &[u8]) -> Self {
        for &byte in data {
            let index = usize::from(self.state.to_le_bytes()[0] ^ byte);
            // `index` is a u8, so the lookup never misses; `unwrap_or` keeps the code panic-free.
            let entry = TABLE.get(index).copied().unwrap_or(0);
            self.state = (self.state >> 8) ^ entry;
        }
        self
    }

    /// The checksum of everything fed so far.
    pub const fn value(self) -> u32 {
        !self.state
    }
}

// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the image checksum.
//!
//! Chosen because it detects every single-byte (indeed every burst up to 32 bits) error, is
//! the checksum ext4/btrfs/iSCSI already use (the kernel has an accelerated `crc32c()` should
//! this table version ever matter), and needs only tables computed at compile time: "slicing by
//! 8" (8 KiB of tables, eight bytes per step), several times faster than a byte at a time, which
//! mattered once images held page data (every byte is checksummed when written and read).

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

/// Slicing-by-8 tables: `TABLES[0]` is [`TABLE`]; `TABLES[k][i]` is the CRC register after
/// byte `i` followed by `k` zero bytes.
const TABLES: [[u32; 256]; 8] = make_tables();

#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // const eval: bounds are static
const fn make_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    tables[0] = TABLE;
    let mut k = 1;
    while k < 8 {
        let mut i = 0usize;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ TABLE[(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// `TABLES[k][byte]`; `k` < 8 and `byte` < 256 always, so the lookup never misses (`unwrap_or`
/// keeps the code panic-free).
#[inline(always)]
fn lookup(k: usize, byte: u32) -> u32 {
    TABLES
        .get(k)
        .and_then(|t| t.get(usize::try_from(byte & 0xff).unwrap_or(0)))
        .copied()
        .unwrap_or(0)
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
        let mut words = data.chunks_exact(8);
        for word in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            let [b0, b1, b2, b3, b4, b5, b6, b7] = b;
            let lo = u32::from_le_bytes([b0, b1, b2, b3]) ^ self.state;
            let hi = u32::from_le_bytes([b4, b5, b6, b7]);
            self.state = lookup(7, lo)
                ^ lookup(6, lo >> 8)
                ^ lookup(5, lo >> 16)
                ^ lookup(4, lo >> 24)
                ^ lookup(3, hi)
                ^ lookup(2, hi >> 8)
                ^ lookup(1, hi >> 16)
                ^ lookup(0, hi >> 24);
        }
        for &byte in words.remainder() {
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

// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the image checksum.
//!
//! Chosen because it detects every single-byte (indeed every burst up to 32 bits) error, is
//! the checksum ext4/btrfs/iSCSI already use (the kernel has an accelerated `crc32c()` should
//! this table version ever matter), and needs only tables computed at compile time: "slicing by
//! 8" (8 KiB of tables, eight bytes per step), several times faster than a byte at a time, which
//! mattered once images held page data (every byte is checksummed when written and read).
//!
//! The tables are the codec's reference. Where a faster implementation of the same function
//! exists (the kernel's `crc32c()`: the CRC32 instruction and carry-less multiplication), the
//! image's [`Sink`](super::Sink) or [`Source`](super::Source) names it
//! ([`Sink::crc32c`](super::Sink::crc32c)), and the encoder and decoder advance their running
//! checksums with it: the module and the tools then compute one checksum two independent ways,
//! and every image one writes, the other checks.

/// An implementation of CRC-32C: the register after `data`, given the register before (no
/// initial or final inversion: that is [`Crc32c`]'s). [`crc32c_tables`] is the codec's.
pub type Crc32cFn = fn(u32, &[u8]) -> u32;

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

/// `a * b` modulo the polynomial, both polynomials in the register's reflected form (bit 31
/// is the coefficient of x^0, bit 0 that of x^31).
#[allow(clippy::arithmetic_side_effects)] // shifts by at most 31: `bit` < 32
const fn mul_mod(a: u32, mut b: u32) -> u32 {
    let mut product = 0u32;
    let mut bit = 0;
    while bit < 32 {
        // b is b0 * x^bit here.
        if a & (1 << (31 - bit)) != 0 {
            product ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        bit += 1;
    }
    product
}

/// `X2N[k]` is x^(2^k) modulo the polynomial: enough powers for a shift by any `u64` count of
/// bytes (x^(8 * 2^j) is `X2N[j + 3]`, j < 64).
const X2N: [u32; 67] = make_x2n();

#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // const eval: bounds are static
const fn make_x2n() -> [u32; 67] {
    let mut powers = [0u32; 67];
    powers[0] = 1 << 30; // x^1
    let mut k = 1;
    while k < 67 {
        powers[k] = mul_mod(powers[k - 1], powers[k - 1]);
        k += 1;
    }
    powers
}

/// The register after `len` zero bytes from `state`: `state * x^(8 * len)` modulo the
/// polynomial, in about 2 * log2(len) multiplications instead of `len` steps.
///
/// CRC-32C is linear: the register after data `d` from register `s` is
/// `crc32c_shift(s, d.len()) ^ (the register after d from 0)`, which [`Crc32c::append`] uses
/// to add a run whose own register is already known without reading its bytes again.
pub fn crc32c_shift(state: u32, len: u64) -> u32 {
    let mut result = state;
    let mut rest = len;
    for &power in X2N.iter().skip(3) {
        if rest == 0 {
            break;
        }
        if rest & 1 != 0 {
            result = mul_mod(power, result);
        }
        rest >>= 1;
    }
    result
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

    /// Feeds `data` into the checksum, with the codec's tables.
    pub fn update(self, data: &[u8]) -> Self {
        self.update_with(crc32c_tables, data)
    }

    /// Feeds `data` into the checksum with `engine`, which must compute what
    /// [`crc32c_tables`] does.
    pub fn update_with(self, engine: Crc32cFn, data: &[u8]) -> Self {
        Self {
            state: engine(self.state, data),
        }
    }

    /// Feeds `len` bytes whose own register from 0 (an engine's result for them from state 0)
    /// is `data_state`, without reading them: what [`Crc32c::update`] with those bytes gives.
    pub fn append(self, data_state: u32, len: u64) -> Self {
        Self {
            state: crc32c_shift(self.state, len) ^ data_state,
        }
    }

    /// The checksum of everything fed so far.
    pub const fn value(self) -> u32 {
        !self.state
    }
}

/// The codec's CRC-32C: slicing by 8 over the tables above.
pub fn crc32c_tables(mut state: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        let [b0, b1, b2, b3, b4, b5, b6, b7] = b;
        let lo = u32::from_le_bytes([b0, b1, b2, b3]) ^ state;
        let hi = u32::from_le_bytes([b4, b5, b6, b7]);
        state = lookup(7, lo)
            ^ lookup(6, lo >> 8)
            ^ lookup(5, lo >> 16)
            ^ lookup(4, lo >> 24)
            ^ lookup(3, hi)
            ^ lookup(2, hi >> 8)
            ^ lookup(1, hi >> 16)
            ^ lookup(0, hi >> 24);
    }
    for &byte in words.remainder() {
        let index = usize::from(state.to_le_bytes()[0] ^ byte);
        // `index` is a u8, so the lookup never misses; `unwrap_or` keeps the code panic-free.
        let entry = TABLE.get(index).copied().unwrap_or(0);
        state = (state >> 8) ^ entry;
    }
    state
}

// SPDX-License-Identifier: GPL-2.0

//! The module's CRC-32C: every byte of an image is checksummed when it is written and when it
//! is read, so the implementation decides much of what a checkpoint of memory or file contents
//! costs.
//!
//! Two implementations compute the same function: the codec's tables
//! ([`image::crc32c_tables`]) and the kernel's `crc32c()`, which uses the CPU's CRC32 and
//! carry-less multiply instructions when the kernel is built with `CONFIG_CRC_OPTIMIZATIONS`
//! (distribution kernels are), several times faster than the tables on hardware. Under
//! emulation (QEMU TCG) those instructions are slower than the tables, and without the option
//! the kernel's is a byte-at-a-time table. So, as the kernel picks its RAID-6 and XOR routines,
//! the module times both when it is loaded and uses the faster (the `crc32c` parameter can
//! name one instead; the choice is logged).
//!
//! Whichever runs, the tools check every image the module writes with the codec's tables, and
//! the host tests check those against a bitwise definition.

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::{
    prelude::*,
    time::{Instant, Monotonic},
};

use crate::{ffi, image};

/// Whether [`crc32c`] calls the kernel's `crc32c()`; set once, at load, by [`choose`].
static KERNEL_CRC32C: AtomicBool = AtomicBool::new(false);

/// CRC-32C of `data` from register `state` (no inversions): an [`image::Crc32cFn`].
pub(crate) fn crc32c(state: u32, data: &[u8]) -> u32 {
    if KERNEL_CRC32C.load(Ordering::Relaxed) {
        kernel_crc32c(state, data)
    } else {
        image::crc32c_tables(state, data)
    }
}

fn kernel_crc32c(state: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is valid for reads of `data.len()` bytes for the duration of the call;
    // `crc32c()` reads exactly those and keeps no pointer.
    unsafe { ffi::crc32c(state, data.as_ptr().cast(), data.len()) }
}

/// What the `crc32c` module parameter asks for.
const PARAM_AUTO: u8 = 0;
const PARAM_KERNEL: u8 = 1;
const PARAM_TABLES: u8 = 2;

/// Bytes each implementation checksums when they are timed at load.
const SAMPLE: usize = 64 * 1024;
/// Timed runs of each; the fastest counts (the first may fault the tables into the cache).
const RUNS: usize = 4;

/// Proof that [`choose`] ran: [`crc32c`] uses the implementation it picked.
pub(crate) struct Chosen;

/// Picks the implementation for `param` (the module parameter), after checking that the two
/// agree; logs the choice.
pub(crate) fn choose(param: u8) -> Result<Chosen> {
    if param > PARAM_TABLES {
        pr_err!("crc32c={param}: 0 (the faster, timed at load), 1 (the kernel's crc32c()) or 2 (the codec's tables)\n");
        return Err(EINVAL);
    }
    let mut sample = KVVec::from_elem(0u8, SAMPLE, GFP_KERNEL)?;
    let mut x = 0x9E37_79B9u32;
    for byte in sample.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x.to_le_bytes()[0];
    }
    let (kernel, tables) = (
        kernel_crc32c(!0, &sample),
        image::crc32c_tables(!0, &sample),
    );
    if kernel != tables {
        // Not the module's to fix; the tables are always right.
        pr_err!(
            "the kernel's crc32c() disagrees with CRC-32C ({kernel:#010x}, not {tables:#010x}): using the codec's tables\n"
        );
        if param == PARAM_KERNEL {
            return Err(EINVAL);
        }
        return Ok(Chosen);
    }
    let (kernel_ns, tables_ns) = (
        fastest(kernel_crc32c, &sample),
        fastest(image::crc32c_tables, &sample),
    );
    let use_kernel = match param {
        PARAM_KERNEL => true,
        PARAM_TABLES => false,
        _ => kernel_ns < tables_ns,
    };
    KERNEL_CRC32C.store(use_kernel, Ordering::Relaxed);
    let rate = |ns: i64| (SAMPLE as i64 * 1000).checked_div(ns).unwrap_or(0);
    let (kernel_rate, tables_rate) = (rate(kernel_ns), rate(tables_ns));
    let why = if param == PARAM_AUTO {
        "the faster here"
    } else {
        "as the crc32c parameter says"
    };
    if use_kernel {
        pr_info!("CRC-32C: the kernel's crc32c(), {why} ({kernel_rate} MB/s; the codec's tables {tables_rate} MB/s)\n");
    } else {
        pr_info!("CRC-32C: the codec's tables, {why} ({tables_rate} MB/s; the kernel's crc32c() {kernel_rate} MB/s)\n");
    }
    Ok(Chosen)
}

/// The fastest of [`RUNS`] timed runs of `engine` over `sample`, in nanoseconds (at least 1).
fn fastest(engine: image::Crc32cFn, sample: &[u8]) -> i64 {
    let mut best = i64::MAX;
    let mut sink = 0u32;
    for _ in 0..RUNS {
        let start = Instant::<Monotonic>::now();
        sink ^= engine(sink, sample);
        best = best.min((Instant::<Monotonic>::now() - start).as_nanos());
    }
    // `sink` keeps the runs from being optimised away.
    core::hint::black_box(sink);
    best.max(1)
}

// SPDX-License-Identifier: GPL-2.0

//! Page contents: read in batches of [`BATCH`](super::ffi::BATCH) pages (the mmap lock is held
//! only while one batch is copied), written as one PAGES record per run of present pages.

use kernel::{page::PAGE_SIZE, prelude::*};

use super::{encode_error, ffi::BATCH, interrupted, mm::MmRef};
use crate::{
    checksum,
    error::{CkptError, CkptResult},
    image::{self, Encoder, Pages, Vma},
};

/// Writes the present pages of `vma` (record `vma_id`), read in `mode`, using `buf` (at least
/// [`BATCH`] pages) as the bounce buffer. Returns the number of pages written.
pub(super) fn write<S: image::Sink<Error = CkptError>>(
    mm: &MmRef,
    vma: &Vma,
    vma_id: u64,
    mode: u32,
    buf: &mut [u8],
    enc: &mut Encoder<S>,
    records: &mut u64,
) -> CkptResult<u64> {
    let mut written = 0u64;
    let mut addr = vma.start;
    while addr < vma.end {
        let left = usize::try_from((vma.end - addr) / PAGE_SIZE as u64).unwrap_or(BATCH);
        let nr = left.min(BATCH);
        let batch = &mut buf[..nr * PAGE_SIZE];
        let present = mm.copy_pages(addr, mode, batch).map_err(|e| {
            if e == EAGAIN {
                CkptError::other(
                    EAGAIN,
                    format_args!("the memory map changed during the checkpoint"),
                )
            } else {
                interrupted(e)
            }
        })?;
        // One record per run of consecutive present pages.
        let mut i = 0;
        while i < nr {
            if present & (1 << i) == 0 {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < nr && present & (1 << j) != 0 {
                j += 1;
            }
            let start = addr + (i * PAGE_SIZE) as u64;
            let data = &batch[i * PAGE_SIZE..j * PAGE_SIZE];
            let pages = Pages::new_with(checksum::crc32c, vma_id, start, PAGE_SIZE as u32, data);
            enc.write_pages(enc.next_id(), &pages)
                .map_err(encode_error)?;
            written += (j - i) as u64;
            i = j;
        }
        *records = enc.records_written();
        addr += (nr * PAGE_SIZE) as u64;
    }
    Ok(written)
}

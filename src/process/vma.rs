// SPDX-License-Identifier: GPL-2.0

//! What a mapping is, for the image: its VMA record and how its pages are read, or the named
//! reason it cannot be checkpointed yet (deny by default: a mapping this code does not
//! recognise is refused).

use kernel::prelude::*;

use super::ffi::{bits, mode};
use super::mm::{MmInfo, VmaInfo};
use crate::{
    error::CkptError,
    image::{self, Vma, VmaKind},
};

/// How a mapping goes into the image.
pub(crate) struct Plan {
    /// The record, without its file reference (filled in once the file is written).
    pub(crate) vma: Vma,
    /// How its pages are read, `None` if none are dumped.
    pub(crate) pages: Option<u32>,
}

/// A mapping that cannot be checkpointed: `UNSUPPORTED_MEMORY`, naming it and why.
fn refuse(v: &VmaInfo, why: core::fmt::Arguments<'_>) -> CkptError {
    CkptError::unsupported_memory(format_args!("mapping {:x}-{:x}: {why}", v.start, v.end))
}

/// The image's flag bits for the helper's bits.
fn flags(b: u32) -> u32 {
    const MAP: [(u32, u32); 14] = [
        (bits::SHARED, image::VMA_SHARED),
        (bits::GROWSDOWN, image::VMA_GROWSDOWN),
        (bits::LOCKED, image::VMA_LOCKED),
        (bits::LOCKONFAULT, image::VMA_LOCKONFAULT),
        (bits::NORESERVE, image::VMA_NORESERVE),
        (bits::DONTCOPY, image::VMA_DONTCOPY),
        (bits::DONTDUMP, image::VMA_DONTDUMP),
        (bits::WIPEONFORK, image::VMA_WIPEONFORK),
        (bits::HUGEPAGE, image::VMA_HUGEPAGE),
        (bits::NOHUGEPAGE, image::VMA_NOHUGEPAGE),
        (bits::SEQ_READ, image::VMA_SEQ_READ),
        (bits::RAND_READ, image::VMA_RAND_READ),
        (bits::MAYWRITE, image::VMA_MAYWRITE),
        (bits::MAYEXEC, image::VMA_MAYEXEC),
    ];
    MAP.iter()
        .filter(|(k, _)| b & k != 0)
        .fold(0, |acc, (_, i)| acc | i)
}

/// Classifies one mapping of an address space described by `mm`.
pub(crate) fn plan(v: &VmaInfo, mm: &MmInfo) -> Result<Plan, CkptError> {
    let b = v.bits;
    let name = v.name();
    let kind = match name {
        b"[vdso]" => Some(VmaKind::VDSO),
        b"[vvar]" | b"[vvar_vclock]" => Some(VmaKind::VVAR),
        b"" => None,
        other => {
            let other = core::str::from_utf8(other).unwrap_or("?");
            return Err(refuse(
                v,
                format_args!("special mapping {other} is not supported yet"),
            ));
        }
    };
    if kind.is_none() {
        if b & bits::SHADOW_STACK != 0 {
            return Err(refuse(
                v,
                format_args!("shadow stacks are not supported yet"),
            ));
        }
        if b & bits::UFFD != 0 {
            return Err(refuse(
                v,
                format_args!("registered with a userfaultfd, which is not supported yet"),
            ));
        }
        if b & bits::HUGETLB != 0 {
            return Err(refuse(
                v,
                format_args!("hugetlbfs mappings are not supported yet"),
            ));
        }
        if b & bits::IO != 0 {
            return Err(refuse(
                v,
                format_args!("device memory (VM_IO/VM_PFNMAP) cannot be checkpointed"),
            ));
        }
    }
    let [_, _, _, _, start_brk, brk, start_stack, ..] = mm.layout;
    let anon = b & bits::ANON != 0;
    let kind = match kind {
        Some(k) => k,
        // A private mapping of /dev/zero is anonymous memory that keeps its file pointer.
        None if v.file.is_some() && !anon => VmaKind::FILE,
        None if b & bits::SHARED != 0 => {
            return Err(refuse(
                v,
                format_args!("shared anonymous memory is not supported yet"),
            ))
        }
        // As /proc/PID/maps decides [heap] and [stack].
        None if v.start < brk && v.end > start_brk => VmaKind::HEAP,
        None if v.start <= start_stack && v.end >= start_stack => VmaKind::STACK,
        None => VmaKind::ANON,
    };
    let prot = [
        (bits::READ, image::PROT_READ),
        (bits::WRITE, image::PROT_WRITE),
        (bits::EXEC, image::PROT_EXEC),
    ]
    .iter()
    .filter(|(k, _)| b & k != 0)
    .fold(0, |acc, (_, p)| acc | p);
    let is_file = kind == VmaKind::FILE;
    let offset = if is_file {
        v.pgoff
            .checked_mul(kernel::page::PAGE_SIZE as u64)
            .ok_or(EOVERFLOW)?
    } else {
        0
    };
    let vma = Vma {
        start: v.start,
        end: v.end,
        offset,
        file: 0,
        prot,
        // Only file mappings are recorded as shared (the vDSO is not).
        flags: flags(b) & if is_file { !0 } else { !image::VMA_SHARED },
        kind,
    };
    let pages = match kind {
        VmaKind::FILE if b & bits::SHARED != 0 => None,
        VmaKind::FILE if mm.swapents != 0 => Some(mode::ANON_SWAP),
        VmaKind::FILE => Some(mode::ANON),
        VmaKind::ANON | VmaKind::HEAP | VmaKind::STACK => Some(mode::ALL),
        _ => None,
    };
    Ok(Plan { vma, pages })
}

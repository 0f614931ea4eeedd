// SPDX-License-Identifier: GPL-2.0

//! `ckpt restore` of a process image: this process becomes the checkpointed process.
//!
//! Phase A (`CKPT_IOC_RESTART` with `CKPT_RESTART_PROCESS`) validates the image against this
//! process and keeps the plan in the open `/dev/ckpt`; nothing of this process changes, so a
//! refusal is reported as any other. Then the stub ([`jump`]), a few instructions with no libc
//! and no stack use, sets what only the process itself can set, in the order that keeps it
//! safe: fs and gs base (`arch_prctl`), the FPU/SSE/AVX state (`XRSTOR` of the image's XSAVE
//! area, checked here first so that it cannot fault), and calls `CKPT_IOC_RESTART_COMMIT`
//! (phase B), which replaces the fd table, the memory and the registers and returns into the
//! image's code. The kernel keeps the user FPU state loaded by `XRSTOR` across the system
//! call. The stub runs from this program's own text and stack: the commit never returns to it
//! (the kernel unmaps both before mapping the image), so it needs no mapping of its own.

use std::{
    alloc::{alloc_zeroed, Layout},
    arch::{asm, x86_64::__cpuid_count},
    os::fd::{AsRawFd, BorrowedFd},
};

use ckpt_sys::{abi, ioc, Device, RestartFlags};

use crate::Failure;

/// `struct user_regs_struct` indices of fs and gs base.
const FS_BASE: usize = 21;
const GS_BASE: usize = 22;
/// Registers in NT_PRSTATUS.
const NREGS: usize = 27;

/// XSAVE components that fault (#NM) until the process asks for them (`XFD`: AMX tile data).
const XFD_COMPONENTS: u64 = 1 << 18;

/// `_IOC_READ | _IOC_WRITE`.
const IOC_READ_WRITE: u32 = 3;

/// `CKPT_IOC_RESTART_COMMIT`.
pub const CKPT_IOC_RESTART_COMMIT: u32 = ioc(
    IOC_READ_WRITE,
    abi::CKPT_IOC_MAGIC,
    0x04,
    std::mem::size_of::<abi::ckpt_restart_commit>(),
);

/// What the stub reads, at fixed offsets (see [`jump`]).
#[repr(C)]
struct StubArgs {
    fs_base: u64,
    gs_base: u64,
    /// 64-byte aligned XSAVE area, or 0.
    xstate: u64,
    /// `XRSTOR`'s requested-feature bitmap (edx:eax).
    rfbm: u64,
    devfd: u64,
    cmd: u64,
    arg: u64,
    msg: u64,
    msg_len: u64,
}

const REFUSED: &[u8] = b"ckpt: restore: the kernel refused the commit (CKPT_IOC_RESTART_COMMIT)\n";

/// The registers of a process image, as `ckpt restore` decoded them.
#[derive(Debug)]
pub struct ProcessRegs {
    /// NT_PRSTATUS.
    pub prstatus: Vec<u8>,
    /// NT_X86_XSTATE, if recorded.
    pub xstate: Option<Vec<u8>>,
    /// The image's vDSO and vvar mappings, in address order.
    pub specials: Vec<Special>,
}

/// A `[vdso]` or `[vvar*]` mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Special {
    pub start: u64,
    pub end: u64,
    /// `[vdso]` (else a vvar).
    pub vdso: bool,
}

/// Validates the image in the kernel, then becomes it. Returns only on a refusal.
pub fn run(
    device: &Device,
    memfd: BorrowedFd<'_>,
    flags: RestartFlags,
    regs: &ProcessRegs,
) -> Failure {
    let flags = flags | RestartFlags(abi::CKPT_RESTART_PROCESS as u64);
    if let Err(e) = device.restart(memfd, flags) {
        let message = if e.message.is_empty() {
            e.errno.to_string()
        } else {
            e.message.clone()
        };
        let mut at = format!("reason {}", e.reason_name());
        if let Some(record) = e.record {
            at.push_str(&format!(", record {record}"));
        }
        return Failure::device(format!("restore: {message} ({at})"));
    }
    // After phase A: its refusals name what the image needs and this host lacks (CPU and
    // xsave features among them), where this one could only say that XRSTOR would fault.
    let prepared = match prepare_stub(regs) {
        Ok(p) => p,
        Err(e) => return Failure::device(format!("restore: {e}")),
    };
    // The restored program calls into the vDSO at the image's address (glibc keeps pointers
    // to it): move this process's (phase A checked it is the same) and its data pages there.
    // Nothing here calls the vDSO afterwards.
    if let Err(e) = move_specials(&regs.specials, &current_specials()) {
        return Failure::device(format!("restore: moving the vDSO: {e}"));
    }
    let (fs_base, gs_base, xstate, rfbm) = prepared;
    let commit = Box::new(abi::ckpt_restart_commit::default());
    let args = Box::new(StubArgs {
        fs_base,
        gs_base,
        xstate: xstate.map_or(0, |p| p as u64),
        rfbm,
        devfd: device.as_fd_raw() as u64,
        cmd: u64::from(CKPT_IOC_RESTART_COMMIT),
        arg: Box::into_raw(commit) as u64,
        msg: REFUSED.as_ptr() as u64,
        msg_len: REFUSED.len() as u64,
    });
    // SAFETY: `args` and what it points to are leaked, valid until the process is replaced or
    // exits; the XSAVE area was checked to be one `XRSTOR` loads without faulting.
    unsafe { jump(Box::into_raw(args)) }
}

/// `Device`'s raw fd.
trait RawFd {
    fn as_fd_raw(&self) -> i32;
}

impl RawFd for Device {
    fn as_fd_raw(&self) -> i32 {
        std::os::fd::AsFd::as_fd(self).as_raw_fd()
    }
}

/// fs base, gs base, the XSAVE area copied into a 64-byte aligned buffer (leaked) and the
/// `XRSTOR` mask; refuses what would make `XRSTOR` fault.
fn prepare_stub(regs: &ProcessRegs) -> Result<(u64, u64, Option<*mut u8>, u64), String> {
    if regs.prstatus.len() != NREGS * 8 {
        return Err(format!(
            "NT_PRSTATUS of {} bytes, expected {}",
            regs.prstatus.len(),
            NREGS * 8
        ));
    }
    let word =
        |i: usize| u64::from_le_bytes(regs.prstatus[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let (fs_base, gs_base) = (word(FS_BASE), word(GS_BASE));
    let Some(xs) = &regs.xstate else {
        return Ok((fs_base, gs_base, None, 0));
    };
    let xcr0 = xcr0().ok_or("this CPU or kernel has no XSAVE: the FPU state cannot be restored")?;
    let (rfbm, size) = check_xstate(xs, xcr0, mxcsr_mask(), &component_layout)?;
    let layout = Layout::from_size_align(size, 64).map_err(|e| e.to_string())?;
    // SAFETY: `layout` has a non-zero size (at least the 576-byte minimum).
    let buf = unsafe { alloc_zeroed(layout) };
    if buf.is_null() {
        return Err("out of memory for the XSAVE area".into());
    }
    // SAFETY: `buf` holds `size >= xs.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(xs.as_ptr(), buf, xs.len()) };
    Ok((fs_base, gs_base, Some(buf), rfbm))
}

/// This process's mappings from `/proc/self/maps`: `(start, end, special)`.
fn current_maps() -> Vec<(u64, u64, Option<bool>)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter_map(|line| {
            let range = line.split_whitespace().next()?;
            let (a, b) = range.split_once('-')?;
            let name = line.split_whitespace().nth(5).unwrap_or("");
            let special = if name == "[vdso]" {
                Some(true)
            } else if name.starts_with("[vvar") {
                Some(false)
            } else {
                None
            };
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
                special,
            ))
        })
        .collect()
}

/// This process's mappings, with its vDSO and vvar marked.
fn current_specials() -> Vec<(u64, u64, Option<bool>)> {
    current_maps()
}

/// Moves this process's vDSO and vvar mappings (`Some` in `maps`) onto the image's: the same
/// number of each, of the same lengths, in the same order; the image's ranges must be free of
/// this process's other mappings (else: retry, address space randomisation put something
/// there). Each is moved out of the way first (into one reservation), then to its place, so
/// that they may overlap each other's old places.
fn move_specials(image: &[Special], maps: &[(u64, u64, Option<bool>)]) -> Result<(), String> {
    if image.is_empty() {
        return Ok(());
    }
    let mine: Vec<Special> = maps
        .iter()
        .filter_map(|&(start, end, s)| s.map(|vdso| Special { start, end, vdso }))
        .collect();
    let same_shape = mine.len() == image.len()
        && mine
            .iter()
            .zip(image)
            .all(|(m, i)| m.vdso == i.vdso && m.end - m.start == i.end - i.start);
    if !same_shape {
        return Err(format!(
            "this process's vDSO and vvar ({mine:x?}) are not shaped as the image's ({image:x?})"
        ));
    }
    if mine == image {
        return Ok(());
    }
    for i in image {
        if let Some(&(s, e, _)) = maps
            .iter()
            .find(|&&(s, e, sp)| sp.is_none() && i.start < e && s < i.end)
        {
            return Err(format!(
                "the image's {:x}-{:x} is taken by this process's {s:x}-{e:x} \
                 (address space randomisation): retry",
                i.start, i.end
            ));
        }
    }
    let total: u64 = mine.iter().map(|m| m.end - m.start).sum();
    // SAFETY: A new anonymous reservation, touching no existing mapping.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            total as usize,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let mremap = |from: u64, len: u64, to: u64| {
        // SAFETY: Moves a special mapping of this process onto a range that is this process's
        // own reservation or was checked free of other mappings; nothing refers to the vDSO
        // from here on.
        let got = unsafe {
            libc::mremap(
                from as *mut libc::c_void,
                len as usize,
                len as usize,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                to as *mut libc::c_void,
            )
        };
        if got as u64 == to {
            Ok(())
        } else {
            Err(format!(
                "mremap {from:x} -> {to:x}: {}",
                std::io::Error::last_os_error()
            ))
        }
    };
    let mut at = base as u64;
    for m in &mine {
        mremap(m.start, m.end - m.start, at)?;
        at += m.end - m.start;
    }
    let mut at = base as u64;
    for (m, i) in mine.iter().zip(image) {
        mremap(at, m.end - m.start, i.start)?;
        at += m.end - m.start;
    }
    Ok(())
}

/// `(offset, size)` of XSAVE component `i` in the standard layout (CPUID leaf 0xd).
fn component_layout(i: u32) -> (usize, usize) {
    let r = __cpuid_count(0xd, i);
    (r.ebx as usize, r.eax as usize)
}

/// XCR0, if the OS enabled XSAVE (CPUID.1:ECX.OSXSAVE).
fn xcr0() -> Option<u64> {
    let leaf1 = __cpuid_count(1, 0);
    if leaf1.ecx & (1 << 27) == 0 {
        return None;
    }
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV with ecx 0 reads XCR0, allowed in user mode once OSXSAVE is set.
    unsafe { asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    Some(u64::from(hi) << 32 | u64::from(lo))
}

/// The MXCSR bits this CPU accepts (FXSAVE's MXCSR_MASK, 0xffbf when it reports 0).
fn mxcsr_mask() -> u32 {
    #[repr(C, align(16))]
    struct Area([u8; 512]);
    let mut area = Area([0; 512]);
    // SAFETY: FXSAVE writes 512 bytes to a 16-byte aligned area, which `area` is.
    unsafe { asm!("fxsave64 [{}]", in(reg) area.0.as_mut_ptr(), options(nostack)) };
    match u32::from_le_bytes(area.0[28..32].try_into().unwrap_or([0; 4])) {
        0 => 0xffbf,
        m => m,
    }
}

/// Checks an XSAVE area (UABI, standard layout) against what `XRSTOR` accepts here; returns
/// the mask to restore with (every enabled component but the XFD ones: those not in use are
/// put in their initial state) and the buffer size to allocate.
fn check_xstate(
    xs: &[u8],
    xcr0: u64,
    mxcsr_mask: u32,
    layout: &dyn Fn(u32) -> (usize, usize),
) -> Result<(u64, usize), String> {
    if xs.len() < 576 {
        return Err(format!(
            "the XSAVE area has {} bytes, fewer than 576",
            xs.len()
        ));
    }
    let u64_at = |at: usize| u64::from_le_bytes(xs[at..at + 8].try_into().unwrap_or([0; 8]));
    let mxcsr = u32::from_le_bytes(xs[24..28].try_into().unwrap_or([0; 4]));
    if mxcsr & !mxcsr_mask != 0 {
        return Err(format!(
            "the image's MXCSR {mxcsr:#x} has bits this CPU does not accept (mask {mxcsr_mask:#x})"
        ));
    }
    let xstate_bv = u64_at(512);
    if u64_at(520) != 0 || xs[528..576].iter().any(|&b| b != 0) {
        return Err("the image's XSAVE header is compacted or has reserved bytes set".into());
    }
    if xstate_bv & !xcr0 != 0 {
        return Err(format!(
            "the image uses XSAVE components {:#x} this CPU or kernel does not enable (XCR0 {xcr0:#x})",
            xstate_bv & !xcr0
        ));
    }
    if xstate_bv & XFD_COMPONENTS != 0 {
        return Err("the image uses AMX tile data, not supported yet".into());
    }
    let mut size = xs.len();
    for i in 2..64u32 {
        if xcr0 & (1 << i) == 0 {
            continue;
        }
        let (offset, len) = layout(i);
        size = size.max(offset + len);
        if xstate_bv & (1 << i) != 0 && offset + len > xs.len() {
            return Err(format!(
                "the image's XSAVE area ({} bytes) lacks component {i} (at {offset}, {len} bytes)",
                xs.len()
            ));
        }
    }
    Ok((xcr0 & !XFD_COMPONENTS, size.next_multiple_of(64)))
}

/// The stub: fs and gs base, `XRSTOR`, then the commit ioctl, which does not return on success.
/// On a refusal, writes a line to fd 2 and exits with status 3 (glibc's TLS is gone by then).
///
/// # Safety
///
/// `args` points to a valid [`StubArgs`] whose `xstate` is 0 or a 64-byte aligned XSAVE area
/// `XRSTOR` accepts with `rfbm`.
unsafe fn jump(args: *const StubArgs) -> ! {
    // SAFETY: The caller guarantees `args`; the code uses no stack and no libc.
    unsafe {
        asm!(
            "mov r12, rdi",
            // arch_prctl(ARCH_SET_FS, fs_base)
            "mov eax, 158",
            "mov edi, 0x1002",
            "mov rsi, [r12]",
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // arch_prctl(ARCH_SET_GS, gs_base)
            "mov eax, 158",
            "mov edi, 0x1001",
            "mov rsi, [r12 + 8]",
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // XRSTOR the image's XSAVE area
            "mov r13, [r12 + 16]",
            "test r13, r13",
            "jz 3f",
            "mov eax, [r12 + 24]",
            "mov edx, [r12 + 28]",
            "xrstor64 [r13]",
            "3:",
            // ioctl(devfd, CKPT_IOC_RESTART_COMMIT, arg): no return on success
            "mov eax, 16",
            "mov rdi, [r12 + 32]",
            "mov rsi, [r12 + 40]",
            "mov rdx, [r12 + 48]",
            "syscall",
            "2:",
            // write(2, msg, len); exit_group(3)
            "mov eax, 1",
            "mov edi, 2",
            "mov rsi, [r12 + 56]",
            "mov rdx, [r12 + 64]",
            "syscall",
            "mov eax, 231",
            "mov edi, 3",
            "syscall",
            "ud2",
            in("rdi") args,
            options(noreturn)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(xstate_bv: u64, len: usize) -> Vec<u8> {
        let mut xs = vec![0u8; len];
        xs[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        xs[512..520].copy_from_slice(&xstate_bv.to_le_bytes());
        xs
    }

    fn avx_layout(i: u32) -> (usize, usize) {
        match i {
            2 => (576, 256),
            _ => (0, 0),
        }
    }

    #[test]
    fn xstate_checks() {
        let ok = check_xstate(&area(7, 832), 7, 0xffff, &avx_layout).unwrap();
        assert_eq!(ok, (7, 832));
        // a component the CPU does not enable
        assert!(check_xstate(&area(0xf, 832), 7, 0xffff, &avx_layout).is_err());
        // too short for its AVX state
        assert!(check_xstate(&area(7, 576), 7, 0xffff, &avx_layout).is_err());
        // MXCSR reserved bits
        let mut xs = area(3, 832);
        xs[24..28].copy_from_slice(&0x1_0000u32.to_le_bytes());
        assert!(check_xstate(&xs, 7, 0xffff, &avx_layout).is_err());
        // compacted
        let mut xs = area(3, 832);
        xs[527] = 0x80;
        assert!(check_xstate(&xs, 7, 0xffff, &avx_layout).is_err());
        // header reserved bytes
        let mut xs = area(3, 832);
        xs[540] = 1;
        assert!(check_xstate(&xs, 7, 0xffff, &avx_layout).is_err());
        // AMX tile data
        assert!(check_xstate(&area(3 | 1 << 18, 832), 7 | 1 << 18, 0xffff, &avx_layout).is_err());
        // the buffer grows to the CPU's layout when the image's area is shorter
        assert_eq!(
            check_xstate(&area(3, 576), 7, 0xffff, &avx_layout).unwrap(),
            (7, 832)
        );
    }

    #[test]
    fn commit_number() {
        assert_eq!(std::mem::size_of::<abi::ckpt_restart_commit>(), 24);
        assert_eq!(CKPT_IOC_RESTART_COMMIT, 0xC018_C704);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! REGSET records: one register set of a task, in the layout `PTRACE_GETREGSET` returns for its
//! ELF note type (general registers `NT_PRSTATUS`, with fs and gs base on x86_64; the XSAVE
//! area `NT_X86_XSTATE`, in the UABI layout, whose header says which components are in use).

use super::error::{FieldError, FormatErrorKind};
use super::wire::{ByteOut, Reader, Stop};

/// ELF note type of the general registers.
pub const NT_PRSTATUS: u32 = 1;
/// ELF note type of the x86 FPU/SSE state (`user_fxsr_struct`).
pub const NT_PRFPREG: u32 = 2;
/// ELF note type of the x86 XSAVE area (UABI layout).
pub const NT_X86_XSTATE: u32 = 0x202;

/// Size of `struct user_regs_struct` on x86_64 (27 registers).
pub const X86_64_PRSTATUS_LEN: u32 = 27 * 8;
/// Smallest XSAVE area: the 512-byte legacy area and the 64-byte XSAVE header.
pub const XSTATE_MIN_LEN: u32 = 576;
/// Largest register set a record holds (1 MiB: far above any XSAVE area).
pub const REGSET_MAX_LEN: u32 = 1 << 20;

/// Fixed part of a REGSET payload.
pub const REGSET_FIXED_LEN: usize = 8;

/// A register set of the task the record follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regset<'a> {
    /// ELF note type (`NT_PRSTATUS`, `NT_X86_XSTATE`...).
    pub note: u32,
    /// The registers, as `PTRACE_GETREGSET` returns them.
    pub data: &'a [u8],
}

impl<'a> Regset<'a> {
    /// Registry name of the note type, if known.
    pub fn note_name(&self) -> Option<&'static str> {
        Some(match self.note {
            NT_PRSTATUS => "prstatus",
            NT_PRFPREG => "prfpreg",
            NT_X86_XSTATE => "x86_xstate",
            _ => return None,
        })
    }

    /// Looks a note type up by name.
    pub fn note_from_name(name: &str) -> Option<u32> {
        [NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE]
            .into_iter()
            .find(|&note| Regset { note, data: &[] }.note_name() == Some(name))
    }

    /// `xstate_bv` of an XSAVE area: the components in use (bytes 512..520).
    pub fn xstate_bv(&self) -> Option<u64> {
        if self.note != NT_X86_XSTATE {
            return None;
        }
        let bytes = self.data.get(512..520)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// Validates the lengths of the known note types on x86_64 (`x86_64`: the header's
    /// architecture is x86_64; other architectures are only bounded).
    pub fn check(&self, x86_64: bool) -> Result<(), FormatErrorKind> {
        let len = u32::try_from(self.data.len()).map_err(|_| FormatErrorKind::BadRegset)?;
        if len == 0 || len > REGSET_MAX_LEN || !len.is_multiple_of(4) {
            return Err(FormatErrorKind::BadRegset);
        }
        let ok = match (x86_64, self.note) {
            (true, NT_PRSTATUS) => len == X86_64_PRSTATUS_LEN,
            (true, NT_PRFPREG) => len == 512,
            (true, NT_X86_XSTATE) => len >= XSTATE_MIN_LEN && len.is_multiple_of(64),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(FormatErrorKind::BadRegset)
        }
    }

    pub(super) fn write(&self, out: &mut dyn ByteOut) -> Result<(), Stop> {
        out.put_u32(self.note)?;
        out.put_u32(u32::try_from(self.data.len()).map_err(|_| Stop)?)?;
        out.put(self.data)
    }

    /// Parses a REGSET payload; lengths of known notes are checked by [`Regset::check`].
    pub fn parse(payload: &'a [u8]) -> Result<Regset<'a>, FieldError> {
        let mut r = Reader::new(payload);
        let note = r.u32()?;
        let len_at = r.pos();
        let len = r.u32()?;
        if len > REGSET_MAX_LEN {
            return Err(FieldError {
                kind: FormatErrorKind::BadRegset,
                at: len_at,
            });
        }
        let data = r.bytes(usize::try_from(len).unwrap_or(usize::MAX))?;
        r.finish()?;
        Ok(Regset { note, data })
    }
}

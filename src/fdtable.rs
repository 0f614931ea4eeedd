// SPDX-License-Identifier: GPL-2.0

//! Installing restored files in the caller's fd table at given numbers: all or nothing.
//!
//! The kernel exports no "install at fd N" (`replace_fd()` is internal), only "reserve the
//! lowest free fd" and "install at a reserved fd". So [`Reservation::new`] reserves *every*
//! free fd up to the highest number the image needs: the ones the image needs become its slots,
//! the others are placeholders released at the end. Reserved fds are invisible to user space
//! (`fget()` sees nothing there) and cannot be taken by another thread, and reserving them grows
//! the table up front, so once every slot is reserved, installing cannot fail. Dropping a
//! reservation releases every fd it still holds: the table is then as before.

use kernel::{bindings, prelude::*};

use crate::vfs::NewFile;

// Only pointers to kernel structs cross this boundary (see glue.rs).
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_glue_nofile() -> core::ffi::c_ulong;
    fn ckpt_glue_fd_is_open(fd: u32) -> bool;
    fn ckpt_glue_reserve_fd(cloexec: bool) -> i32;
    fn ckpt_glue_unreserve_fd(fd: u32);
    fn ckpt_glue_install_fd(fd: u32, file: *mut bindings::file);
    fn ckpt_glue_take_fd(fd: u32) -> *mut bindings::file;
    fn ckpt_glue_close_taken(file: *mut bindings::file);
    fn ckpt_glue_fd_cloexec(fd: u32) -> bool;
    fn ckpt_glue_fput(file: *mut bindings::file);
}

/// The caller's `RLIMIT_NOFILE` soft limit: fd numbers must be below it.
pub(crate) fn nofile_limit() -> u64 {
    // SAFETY: Reads the caller's rlimit only.
    unsafe { ckpt_glue_nofile() }
}

/// Whether the caller has a file at `fd`.
pub(crate) fn is_open(fd: u32) -> bool {
    // SAFETY: Looks up the caller's own table; takes and drops a reference.
    unsafe { ckpt_glue_fd_is_open(fd) }
}

/// One fd to fill: its number and close-on-exec flag.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) fd: u32,
    pub(crate) cloexec: bool,
}

/// Fds reserved in the caller's table, not installed yet.
///
/// # Invariants
///
/// Every fd in `held` is reserved (by `get_unused_fd_flags`) and owned by this value: nobody
/// else installs or releases it.
pub(crate) struct Reservation {
    held: KVVec<u32>,
}

/// Why a reservation failed: the errno, and the fd that could not be reserved if one.
pub(crate) struct ReserveError {
    pub(crate) errno: Error,
    pub(crate) fd: Option<u32>,
}

impl Reservation {
    /// Reserves every slot of `slots` (sorted by fd, distinct) except those in `occupied`
    /// (open fds the caller asked to replace, handled by [`Reservation::commit`]).
    /// `EBUSY` with the fd if a slot is open.
    pub(crate) fn new(slots: &[Slot], occupied: &[u32]) -> Result<Self, ReserveError> {
        let mut me = Self { held: KVVec::new() };
        let Some(max) = slots.last().map(|s| s.fd) else {
            return Ok(me);
        };
        let mut stopped = None;
        loop {
            // SAFETY: Reserves in the caller's own table; we own what it returns.
            let ret = unsafe { ckpt_glue_reserve_fd(false) };
            let Ok(fd) = u32::try_from(ret) else {
                stopped = Some(Error::from_errno(ret));
                break;
            };
            if fd > max {
                // SAFETY: We reserved `fd` just above and own it.
                unsafe { ckpt_glue_unreserve_fd(fd) };
                break;
            }
            let cloexec = slots
                .binary_search_by_key(&fd, |s| s.fd)
                .is_ok_and(|i| slots[i].cloexec);
            if cloexec {
                // The cloexec bit is set at reservation: take it again, it is still the lowest.
                // SAFETY: We reserved `fd` just above and own it.
                unsafe { ckpt_glue_unreserve_fd(fd) };
                // SAFETY: As above.
                let again = unsafe { ckpt_glue_reserve_fd(true) };
                if again != ret {
                    if let Ok(other) = u32::try_from(again) {
                        // SAFETY: We own the fd the glue just reserved.
                        unsafe { ckpt_glue_unreserve_fd(other) };
                    }
                    return Err(ReserveError {
                        errno: EBUSY,
                        fd: Some(fd),
                    });
                }
            }
            // INVARIANT: `fd` is reserved and now owned by `me`.
            if let Err(e) = me.held.push(fd, GFP_KERNEL) {
                // SAFETY: We own `fd`; it is not in `held`, so drop will not release it again.
                unsafe { ckpt_glue_unreserve_fd(fd) };
                return Err(ReserveError {
                    errno: e.into(),
                    fd: None,
                });
            }
        }
        // Fds come out in increasing order, so `held` is sorted.
        for s in slots {
            if occupied.binary_search(&s.fd).is_ok() || me.holds(s.fd) {
                continue;
            }
            return Err(ReserveError {
                errno: stopped.unwrap_or(EBUSY),
                fd: Some(s.fd),
            });
        }
        Ok(me)
    }

    fn holds(&self, fd: u32) -> bool {
        self.held.binary_search(&fd).is_ok()
    }

    /// Reserves exactly `fd`, which must be free, by reserving upwards from the lowest free fd
    /// and releasing the extras.
    fn reserve_exact(&mut self, fd: u32, cloexec: bool) -> Result {
        let mut extra: KVVec<u32> = KVVec::new();
        let result = loop {
            // SAFETY: Reserves in the caller's own table; we own what it returns.
            let ret = unsafe { ckpt_glue_reserve_fd(cloexec) };
            let Ok(got) = u32::try_from(ret) else {
                break Err(Error::from_errno(ret));
            };
            if got == fd {
                break self.insert_held(fd);
            }
            if got > fd {
                // SAFETY: We own `got`.
                unsafe { ckpt_glue_unreserve_fd(got) };
                break Err(EBUSY);
            }
            if let Err(e) = extra.push(got, GFP_KERNEL) {
                // SAFETY: We own `got`.
                unsafe { ckpt_glue_unreserve_fd(got) };
                break Err(e.into());
            }
        };
        for &e in extra.iter() {
            // SAFETY: We reserved these above and own them.
            unsafe { ckpt_glue_unreserve_fd(e) };
        }
        result
    }

    /// Records a reserved fd in `held`, keeping it sorted; releases it if memory runs out.
    fn insert_held(&mut self, fd: u32) -> Result {
        let at = self.held.binary_search(&fd).unwrap_or_else(|i| i);
        if let Err(e) = self.held.push(fd, GFP_KERNEL) {
            // SAFETY: We own `fd`; it is not in `held`.
            unsafe { ckpt_glue_unreserve_fd(fd) };
            return Err(e.into());
        }
        // INVARIANT: `fd` is reserved and owned by `self`.
        self.held[at..].rotate_right(1);
        Ok(())
    }

    /// Releases the reserved `fd` (held by `self`).
    fn release(&mut self, fd: u32) {
        if let Ok(i) = self.held.binary_search(&fd) {
            let _ = self.held.remove(i);
            // SAFETY: `fd` was in `held`: reserved and owned by us; it no longer is.
            unsafe { ckpt_glue_unreserve_fd(fd) };
        }
    }

    /// Installs `files[i]` at `slots[i]` for every slot. Slots in `occupied` are first emptied:
    /// the caller's file there is taken out of the table (and closed once everything is in).
    /// Emptied slots are reserved again at once, and `held` has room for them beforehand, so
    /// nothing can fail once a file is out unless another thread of the caller takes the
    /// emptied fd number meanwhile (`EBUSY`): the files taken out are then put back, but for
    /// the one at that fd, which is closed, as that thread's `dup2()` would have closed it.
    pub(crate) fn commit(
        mut self,
        slots: &[Slot],
        files: &[&NewFile],
        occupied: &[u32],
    ) -> Result<(), ReserveError> {
        let no_memory = |e: kernel::alloc::AllocError| ReserveError {
            errno: e.into(),
            fd: None,
        };
        let mut taken: KVVec<TakenFile> = KVVec::new();
        taken
            .reserve(occupied.len(), GFP_KERNEL)
            .map_err(no_memory)?;
        self.held
            .reserve(occupied.len(), GFP_KERNEL)
            .map_err(no_memory)?;
        for &fd in occupied {
            let cloexec = slots
                .binary_search_by_key(&fd, |s| s.fd)
                .is_ok_and(|i| slots[i].cloexec);
            // SAFETY: Reads the caller's own table.
            let was_cloexec = unsafe { ckpt_glue_fd_cloexec(fd) };
            // SAFETY: Takes the caller's own file at `fd` out of its table, referenced.
            let old = unsafe { ckpt_glue_take_fd(fd) };
            if let Some(old) = core::ptr::NonNull::new(old) {
                // INVARIANT: `take_fd` handed us the table's reference.
                // Capacity was reserved above: this push does not allocate.
                let _ = taken.push(
                    TakenFile {
                        fd,
                        cloexec: was_cloexec,
                        file: old,
                    },
                    GFP_KERNEL,
                );
            }
            if let Err(errno) = self.reserve_exact(fd, cloexec) {
                self.put_back(&mut taken);
                return Err(ReserveError {
                    errno,
                    fd: Some(fd),
                });
            }
        }
        if let Some(s) = slots.iter().find(|s| !self.holds(s.fd)) {
            self.put_back(&mut taken);
            return Err(ReserveError {
                errno: EBUSY,
                fd: Some(s.fd),
            });
        }
        for (slot, file) in slots.iter().zip(files) {
            // SAFETY: `slot.fd` is reserved and owned by us (type invariant, checked above);
            // the file is valid (`NewFile` holds a reference) and the glue takes one for the
            // table.
            unsafe { ckpt_glue_install_fd(slot.fd, file.as_ptr()) };
        }
        // The installed fds now belong to the table: keep owning only the placeholders.
        self.held
            .retain(|fd| slots.binary_search_by_key(&*fd, |s| s.fd).is_err());
        // `taken` closes the replaced files, `self` releases the placeholders.
        drop(taken);
        Ok(())
    }

    /// Puts files taken out by a failed [`Reservation::commit`] back at their fds, with their
    /// own close-on-exec flags, where this reservation holds the fd; a file whose fd another
    /// thread took is closed.
    fn put_back(&mut self, taken: &mut KVVec<TakenFile>) {
        while let Some(t) = taken.pop() {
            if !self.holds(t.fd) {
                continue; // `t` is dropped: closed
            }
            // The fd was reserved with the image's flag: reserve it again with the file's own.
            self.release(t.fd);
            if self.reserve_exact(t.fd, t.cloexec).is_err() {
                continue;
            }
            // The fd leaves `held`: once installed it is the table's.
            if let Ok(i) = self.held.binary_search(&t.fd) {
                let _ = self.held.remove(i);
            }
            let (fd, file) = (t.fd, t.file.as_ptr());
            core::mem::forget(t);
            // SAFETY: `fd` is reserved by us and no longer in `held`; `file` is valid (we own
            // the reference `take_fd` gave us). The glue takes a reference for the table; ours
            // is dropped after it: the file stays open, held by the table.
            unsafe {
                ckpt_glue_install_fd(fd, file);
                ckpt_glue_fput(file);
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        for &fd in self.held.iter() {
            // SAFETY: By the type invariant we own every reserved fd in `held`.
            unsafe { ckpt_glue_unreserve_fd(fd) };
        }
    }
}

/// A file taken out of the caller's table by a replacing restart, closed on drop.
///
/// # Invariants
///
/// `file` is a valid file whose fd-table reference this value owns; it was at `fd`, with
/// close-on-exec `cloexec`.
struct TakenFile {
    fd: u32,
    cloexec: bool,
    file: core::ptr::NonNull<bindings::file>,
}

impl Drop for TakenFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the reference the fd table held.
        unsafe { ckpt_glue_close_taken(self.file.as_ptr()) };
    }
}

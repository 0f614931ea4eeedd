// SPDX-License-Identifier: GPL-2.0

//! Installing restored files in the caller's fd table at given numbers: all or nothing.
//!
//! The kernel exports no "install at fd N" (`replace_fd()` is internal), only "reserve the
//! lowest free fd" and "install at a reserved fd" ([`FileDescriptorReservation`]). So
//! [`Reservation::new`] reserves *every* free fd up to the highest number the image needs: the
//! ones the image needs become its slots, the others are placeholders released at the end.
//! Reserved fds are invisible to user space (`fget()` sees nothing there) and cannot be taken
//! by another thread, and reserving them grows the table up front, so once every slot is
//! reserved, installing cannot fail. Dropping a reservation releases every fd it still holds:
//! the table is then as before.
//!
//! Files a replacing restart takes out of the table are closed as `close(2)` would, but their
//! last reference is dropped only when the caller returns to user space ([`DeferredClose`]),
//! as Binder does: the ioctl's own file (`/dev/ckpt`) may be one of them, held by the ioctl
//! syscall through a borrowed (`fdget()`) reference that only the fd table's keeps alive.

use core::mem::MaybeUninit;

use kernel::{
    bindings,
    fs::{file::FileDescriptorReservation, File},
    prelude::*,
    sync::aref::ARef,
    task::Task,
};

use crate::{ffi, vfs::NewFile};

/// The caller's `RLIMIT_NOFILE` soft limit (`rlimit()`): fd numbers must be below it.
pub(crate) fn nofile_limit() -> u64 {
    // SAFETY: Reads the caller's rlimit only.
    unsafe { ffi::ckpt_glue_nofile() as u64 }
}

/// Whether the caller has a file at `fd` (`O_PATH` ones included).
pub(crate) fn is_open(fd: u32) -> bool {
    // SAFETY: Looks up the caller's own table; a non-null result is a reference we own.
    let file = unsafe { bindings::fget_raw(fd) };
    if file.is_null() {
        return false;
    }
    // SAFETY: We own the reference `fget_raw` took.
    unsafe { bindings::fput(file) };
    true
}

/// `ENOMEM` when the module's fault attribute says so (`/sys/kernel/debug/ckpt/fail_install/`,
/// with `CONFIG_FAULT_INJECTION_DEBUG_FS`): consulted at each step of a replacing install after
/// a file was taken out, which no allocation failure can reach (`KVVec` retries with vmalloc).
fn injected_failure() -> Result {
    // SAFETY: Consults the module's own fault attribute; no precondition.
    if unsafe { ffi::ckpt_glue_fail_install() } != 0 {
        return Err(ENOMEM);
    }
    Ok(())
}

/// Sets the close-on-exec flag of the fd `r` holds, keeping it reserved: releasing it and
/// reserving it again would let another thread's `open()` take it in between.
fn set_cloexec(r: &FileDescriptorReservation, cloexec: bool) {
    // SAFETY: `r` holds its fd reserved in the caller's own table (a reservation cannot leave
    // the task that made it): the slot exists, and nothing installs there but `r`.
    unsafe { ffi::ckpt_glue_set_reserved_cloexec(r.reserved_fd(), i32::from(cloexec)) };
}

/// One fd to fill: its number and close-on-exec flag.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) fd: u32,
    pub(crate) cloexec: bool,
}

/// `get_unused_fd_flags()` flags for a slot.
fn fd_flags(cloexec: bool) -> u32 {
    if cloexec {
        bindings::O_CLOEXEC
    } else {
        0
    }
}

/// Fds reserved in the caller's table, not installed yet, sorted by number.
pub(crate) struct Reservation {
    held: KVVec<FileDescriptorReservation>,
}

/// Why a reservation failed: the errno, and the fd that could not be reserved if one.
pub(crate) struct ReserveError {
    pub(crate) errno: Error,
    pub(crate) fd: Option<u32>,
}

impl ReserveError {
    fn at(fd: u32) -> impl FnOnce(Error) -> Self {
        move |errno| Self {
            errno,
            fd: Some(fd),
        }
    }
}

impl From<kernel::alloc::AllocError> for ReserveError {
    fn from(e: kernel::alloc::AllocError) -> Self {
        Self {
            errno: e.into(),
            fd: None,
        }
    }
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
            let r = match FileDescriptorReservation::get_unused_fd_flags(0) {
                Ok(r) => r,
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            };
            let fd = r.reserved_fd();
            if fd > max {
                break; // dropping `r` releases it
            }
            if slots
                .binary_search_by_key(&fd, |s| s.fd)
                .is_ok_and(|i| slots[i].cloexec)
            {
                set_cloexec(&r, true);
            }
            // Fds come out in increasing order, so `held` stays sorted.
            me.held.push(r, GFP_KERNEL)?;
        }
        for s in slots {
            if occupied.binary_search(&s.fd).is_ok() || me.holds(s.fd) {
                continue;
            }
            return Err(ReserveError::at(s.fd)(stopped.unwrap_or(EBUSY)));
        }
        Ok(me)
    }

    fn position(&self, fd: u32) -> Result<usize, usize> {
        self.held.binary_search_by_key(&fd, |r| r.reserved_fd())
    }

    fn holds(&self, fd: u32) -> bool {
        self.position(fd).is_ok()
    }

    /// Reserves exactly `fd`, which must be free, by reserving upwards from the lowest free fd
    /// and releasing the extras.
    fn reserve_exact(&mut self, fd: u32, cloexec: bool) -> Result {
        let mut extra: KVVec<FileDescriptorReservation> = KVVec::new();
        loop {
            let r = FileDescriptorReservation::get_unused_fd_flags(fd_flags(cloexec))?;
            let got = r.reserved_fd();
            if got == fd {
                let at = self.position(fd).unwrap_or_else(|i| i);
                self.held.reserve(1, GFP_KERNEL)?;
                // Capacity was reserved just above: this cannot fail.
                return self.held.insert_within_capacity(at, r).map_err(|_| ENOMEM);
            }
            if got > fd {
                return Err(EBUSY);
            }
            extra.push(r, GFP_KERNEL)?;
        }
        // `extra` releases the fds below `fd` when dropped.
    }

    /// Installs `files[i]` at `slots[i]` for every slot. Slots in `occupied` are first emptied:
    /// the caller's file there is taken out of the table (and closed once everything is in).
    /// Emptied slots are reserved again at once, and `held` and the closer have room for them
    /// beforehand, so nothing can fail once a file is out unless another thread of the caller
    /// takes the emptied fd number meanwhile (`EBUSY`): by `dup2()` onto it, or by `open()`
    /// when it is the lowest free fd, as it is during that step (the kernel exports no atomic
    /// replace). The files taken out are then put back, but for the one at that fd, which is
    /// closed, as that thread's `dup2()` would have. Put back files keep their reservations, so
    /// no other fd is exposed.
    pub(crate) fn commit(
        mut self,
        slots: &[Slot],
        files: &[&NewFile],
        occupied: &[u32],
    ) -> Result<(), ReserveError> {
        let mut closer = DeferredClose::new(occupied.len())?;
        self.held.reserve(occupied.len(), GFP_KERNEL)?;
        for &fd in occupied {
            let cloexec = slots
                .binary_search_by_key(&fd, |s| s.fd)
                .is_ok_and(|i| slots[i].cloexec);
            closer.take(fd);
            if let Err(e) = injected_failure().and_then(|()| self.reserve_exact(fd, cloexec)) {
                self.put_back(&mut closer);
                return Err(ReserveError::at(fd)(e));
            }
        }
        if let Some(s) = slots.iter().find(|s| !self.holds(s.fd)) {
            self.put_back(&mut closer);
            return Err(ReserveError::at(s.fd)(EBUSY));
        }
        if let Err(errno) = injected_failure() {
            self.put_back(&mut closer);
            return Err(ReserveError { errno, fd: None });
        }
        for r in self.held.drain_all() {
            match slots.binary_search_by_key(&r.reserved_fd(), |s| s.fd) {
                Ok(i) => r.fd_install(files[i].file().clone()),
                Err(_) => drop(r), // a placeholder: released
            }
        }
        Ok(())
    }

    /// Puts the files a failed [`Reservation::commit`] took out back at their fds, with their
    /// own close-on-exec flags; a file whose fd another thread took stays in `closer` and is
    /// closed.
    fn put_back(&mut self, closer: &mut DeferredClose) {
        let Some(inner) = closer.inner.as_mut() else {
            return;
        };
        let mut lost = 0;
        while let Some(t) = inner.files.get(lost) {
            let (fd, cloexec) = (t.fd, t.cloexec);
            // A slot reserved with the image's flag keeps its reservation and takes the file's
            // own flag; one not reserved yet (the failed step was reserving it) is reserved
            // now, unless another thread took the fd meanwhile.
            let held = match self.position(fd) {
                Ok(i) => {
                    set_cloexec(&self.held[i], cloexec);
                    Some(i)
                }
                Err(_) => self
                    .reserve_exact(fd, cloexec)
                    .ok()
                    .and_then(|()| self.position(fd).ok()),
            };
            let Some(i) = held else {
                lost += 1;
                continue;
            };
            let (Ok(r), Ok(t)) = (self.held.remove(i), inner.files.remove(lost)) else {
                lost += 1;
                continue;
            };
            // The table's reference goes back to the table; no close(2) happened.
            r.fd_install(t.file);
        }
    }
}

/// Files taken out of the caller's fd table, closed as `close(2)` would when this is dropped,
/// with one reference each kept until the caller returns to user space (a task work), the way
/// Binder's `DeferredFdCloser` does.
struct DeferredClose {
    /// `None` once handed to the task work queue.
    inner: Option<KBox<DeferredCloseInner>>,
}

/// A file taken out of the caller's table at `fd`, with that fd's close-on-exec flag.
struct Taken {
    fd: u32,
    cloexec: bool,
    file: ARef<File>,
}

/// The task work and what it releases; `twork` comes first so that a pointer to it is a
/// pointer to the whole.
#[repr(C)]
struct DeferredCloseInner {
    twork: MaybeUninit<bindings::callback_head>,
    /// The fd table's references of the files taken out.
    files: KVVec<Taken>,
}

impl DeferredClose {
    /// Room for `n` files, allocated up front: taking files out cannot fail afterwards.
    fn new(n: usize) -> Result<Self, kernel::alloc::AllocError> {
        let inner = DeferredCloseInner {
            twork: MaybeUninit::uninit(),
            files: KVVec::with_capacity(n, GFP_KERNEL)?,
        };
        Ok(Self {
            inner: Some(KBox::new(inner, GFP_KERNEL)?),
        })
    }

    /// Takes the caller's file at `fd` out of its table (nothing if `fd` is not open).
    fn take(&mut self, fd: u32) {
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        // SAFETY: Reads the caller's own table (`current` is valid while it runs).
        let cloexec = unsafe { ffi::ckpt_glue_fd_cloexec(Task::current_raw(), fd) } != 0;
        // SAFETY: Removes `fd` from the caller's own table; a non-null result is the table's
        // reference, now ours.
        let Some(file) = core::ptr::NonNull::new(unsafe { bindings::file_close_fd(fd) }) else {
            return;
        };
        // SAFETY: We own that reference. `File`'s invariant holds: `fdget_pos()` skips the
        // position lock only for a file no one else references, and the caller's thread is in
        // this ioctl, not in such a call.
        let file = unsafe { ARef::from_raw(file.cast::<File>()) };
        // `new` reserved room for every fd that can be taken: this does not fail.
        let _ = inner
            .files
            .push_within_capacity(Taken { fd, cloexec, file });
    }

    /// The task work: drops the references kept.
    ///
    /// # Safety
    ///
    /// `head` is the `twork` of a `DeferredCloseInner` leaked from a `KBox` and handed to
    /// `task_work_add()`, which passes ownership of the box back here.
    unsafe extern "C" fn run(head: *mut bindings::callback_head) {
        // SAFETY: By the function's contract we own the box; `twork` is its first field.
        drop(unsafe { KBox::from_raw(head.cast::<DeferredCloseInner>()) });
    }
}

impl Drop for DeferredClose {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if inner.files.is_empty() {
            return;
        }
        let current = Task::current_raw();
        for Taken { file, .. } in inner.files.iter() {
            // SAFETY: `filp_close()` flushes the file, removes the caller's POSIX locks on it
            // (the glue passes `current->files`, the table the file was taken from) and
            // consumes the second reference taken here. The table's one stays in `files`.
            unsafe { ffi::ckpt_glue_filp_close(ARef::into_raw(file.clone()).as_ptr().cast()) };
        }
        let inner = KBox::into_raw(inner);
        // SAFETY: `inner` is a valid, exclusively owned allocation; `twork` is its first field.
        unsafe { bindings::init_task_work(inner.cast(), Some(Self::run)) };
        // SAFETY: Hands the box to the caller's task work queue: on success it owns it until
        // `run`, which runs on this thread right before it returns to user space, after the
        // ioctl syscall dropped its borrowed reference to the device's file.
        let ret = unsafe {
            bindings::task_work_add(
                current,
                inner.cast(),
                bindings::task_work_notify_mode_TWA_RESUME,
            )
        };
        if ret != 0 {
            // No task work (the task is exiting): drop the references now.
            // SAFETY: The queue refused the box: it is still ours.
            drop(unsafe { KBox::from_raw(inner) });
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Descriptor primitives a restorer needs and `std` lacks: an anonymous memory file to hand an
//! image to `CKPT_IOC_RESTART`, and `F_DUPFD_CLOEXEC` to move a descriptor away from the fd
//! numbers the image restores.

use std::{
    ffi::CStr,
    fs::File,
    io,
    os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
};

/// `memfd_create(name, MFD_CLOEXEC)`: an anonymous, close-on-exec, read-write memory file.
pub fn memfd(name: &CStr) -> io::Result<File> {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate of `fd` at the lowest free
/// number that is at least `min` (`EINVAL` if `min` is not below `RLIMIT_NOFILE`, `EMFILE` if
/// no number is free).
pub fn dup_cloexec_from(fd: BorrowedFd<'_>, min: u32) -> io::Result<OwnedFd> {
    let min = libc::c_int::try_from(min).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and no pointer; `fd` is open.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    #[test]
    fn memfd_holds_bytes_and_is_cloexec() {
        let mut f = memfd(c"ckpt-test").unwrap();
        f.write_all(b"image").unwrap();
        f.rewind().unwrap();
        let mut back = String::new();
        f.read_to_string(&mut back).unwrap();
        assert_eq!(back, "image");
        let flags = fd_flags(f.as_fd());
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn dup_lands_at_or_above_min_and_is_cloexec() {
        let f = memfd(c"ckpt-test").unwrap();
        let d = dup_cloexec_from(f.as_fd(), 200).unwrap();
        assert!(d.as_raw_fd() >= 200);
        assert_ne!(fd_flags(d.as_fd()) & libc::FD_CLOEXEC, 0);
        let e = dup_cloexec_from(f.as_fd(), u32::MAX).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    fn fd_flags(fd: BorrowedFd<'_>) -> libc::c_int {
        // SAFETY: F_GETFD takes no argument.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) }
    }
}

//! Namespaces: joining by fd and unsharing.

use crate::cvt;
use std::io;
use std::os::fd::AsRawFd;

/// setns(2) into the namespace `fd` refers to; `nstype` is a CLONE_NEW* flag or 0.
pub fn setns(fd: &impl AsRawFd, nstype: i32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), nstype) })?;
    Ok(())
}

/// unshare(2) with CLONE_NEW* flags.
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::unshare(flags) })?;
    Ok(())
}

/// Opens a namespace file to join without blocking: a FIFO named in a config must not hang the
/// open (O_NONBLOCK), a terminal must not become ours (O_NOCTTY). `ns_type` then tells whether
/// it is a namespace at all.
pub fn open_ns(path: &std::path::Path) -> io::Result<std::os::fd::OwnedFd> {
    crate::fd::openat(
        None,
        path,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
        0,
    )
}

/// The CLONE_NEW* type of a namespace fd; ENOTTY for a file that is not a namespace.
pub fn ns_type(fd: &impl AsRawFd) -> io::Result<i32> {
    const NSIO: libc::c_ulong = 0xb7;
    const NS_GET_NSTYPE: libc::c_ulong = (NSIO << 8) | 3;
    // SAFETY: NS_GET_NSTYPE takes no argument and touches no memory of ours; on a file that is
    // not a namespace the kernel answers ENOTTY.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) })
}

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

//! The `linux` layer: thin, safe wrappers over the system calls that the container and sandbox
//! classes both use. Every `unsafe` block of bulkhead's isolation code lives in this crate, in a
//! small function that states the invariant it relies on; the layers above are safe Rust.

pub mod fd;
pub mod mount;
pub mod ns;
pub mod poll;
pub mod process;
pub mod pty;
pub mod resolve;
pub mod socket;

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Turns a C-style return value (negative means failure, errno set) into an `io::Result`.
pub(crate) fn cvt<T: Copy + PartialOrd + Default>(ret: T) -> io::Result<T> {
    if ret < T::default() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A path as a NUL-terminated C string; an interior NUL is an `InvalidInput` error.
pub fn cstr(path: impl AsRef<Path>) -> io::Result<CString> {
    CString::new(path.as_ref().as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// A string as a NUL-terminated C string.
pub fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string contains a NUL byte"))
}

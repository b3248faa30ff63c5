//! The `linux` layer: thin, safe wrappers over the system calls that the container and sandbox
//! classes both use. Every `unsafe` block of the runtime (crates container, runtime, shim, cli)
//! lives in this crate, in a small function that states the invariant it relies on; the layers
//! above are safe Rust. The sentry keeps its own host-call wrappers (sentry/src/host.rs,
//! confine.rs, the platform), written the same way.

pub mod bpf;
pub mod fd;
pub mod mount;
pub mod netlink;
pub mod ns;
pub mod poll;
pub mod process;
pub mod ptrace;
pub mod pty;
pub mod resolve;
pub mod seccomp;
pub mod shm;
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

/// Maps one page of machine code at `addr` (fixed, never replacing a mapping), readable and
/// executable, not writable. Used for the sentry's stub page.
pub fn mem_code_page(addr: u64, code: &[u8]) -> std::io::Result<()> {
    const PAGE: usize = 4096;
    if code.len() > PAGE {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so no memory of ours is
    // touched; the copy stays within the fresh page; then it is made read+exec only.
    unsafe {
        let p = libc::mmap(
            addr as *mut libc::c_void,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        std::ptr::copy_nonoverlapping(code.as_ptr(), p.cast::<u8>(), code.len());
        cvt(libc::mprotect(p, PAGE, libc::PROT_READ | libc::PROT_EXEC))?;
    }
    Ok(())
}

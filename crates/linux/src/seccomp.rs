//! Installing a compiled seccomp program with seccomp(2). libseccomp compiles the config's
//! profile; the kernel call is ours so that every filter flag the running kernel has can be
//! passed (Debian's libseccomp 2.5 cannot pass SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV).

use crate::cvt;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// One classic-BPF instruction as the kernel reads it (`struct sock_filter`, 8 bytes).
pub type Insn = libc::sock_filter;

/// Decodes the byte stream libseccomp exports (host-endian `struct sock_filter`s).
pub fn decode(bytes: &[u8]) -> io::Result<Vec<Insn>> {
    if bytes.is_empty() || !bytes.chunks_exact(8).remainder().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a seccomp program of {} bytes", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Installs `prog` on the calling thread (all threads with SECCOMP_FILTER_FLAG_TSYNC). With
/// SECCOMP_FILTER_FLAG_NEW_LISTENER in `flags` the kernel's answer is the notify fd, returned
/// here (the kernel creates it close-on-exec). The caller must have no_new_privs set or hold
/// CAP_SYS_ADMIN, as the kernel requires.
pub fn set_filter(prog: &[Insn], flags: libc::c_ulong) -> io::Result<Option<OwnedFd>> {
    let len = u16::try_from(prog.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `len` instructions borrowed from `prog`, alive for the call;
    // the kernel copies the program and does not keep the pointer.
    let ret = cvt(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    })?;
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER a non-negative return is a new fd that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }))
}

/// Whether the kernel knows every flag in `flags`: a filter call with no program fails with
/// EFAULT once the flags have passed the kernel's check, EINVAL before.
pub fn flags_known(flags: libc::c_ulong) -> bool {
    // SAFETY: a null program pointer; the kernel rejects the call without installing anything.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_reads_host_endian_instructions() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0x06u16.to_ne_bytes());
        bytes.extend_from_slice(&[1, 2]);
        bytes.extend_from_slice(&0x7fff_0000u32.to_ne_bytes());
        let p = decode(&bytes).unwrap();
        assert_eq!(
            (p[0].code, p[0].jt, p[0].jf, p[0].k),
            (6, 1, 2, 0x7fff_0000)
        );
        assert!(decode(&bytes[..7]).is_err());
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn flags_known_tells_known_from_unknown_flags() {
        assert!(flags_known(libc::SECCOMP_FILTER_FLAG_LOG));
        assert!(!flags_known(1 << 30));
    }
}

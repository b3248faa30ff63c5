//! Waiting on several fds at once, and signals as an fd (for the terminal proxy of `run`).

use crate::cvt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// poll(2) for readability on `fds`; returns which are readable or hung up, in order.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: the pointer and length describe `pfds`, which lives for the call.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if r >= 0 {
            return Ok(pfds.iter().map(|p| p.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// A signalfd for every signal; the caller must have blocked them (see block_all_signals).
pub fn signalfd_all() -> io::Result<OwnedFd> {
    // SAFETY: `set` is initialised by sigfillset; the returned fd is fresh and owned here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        let fd = cvt(libc::signalfd(-1, &set, libc::SFD_CLOEXEC))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Reads one signal number from a signalfd.
pub fn read_signal(fd: &impl AsRawFd) -> io::Result<i32> {
    read_signal_info(fd).map(|(sig, _)| sig)
}

/// Reads one signal from a signalfd: its number and si_code (SI_USER for kill(2), SI_KERNEL
/// for a terminal's ^C, ...).
pub fn read_signal_info(fd: &impl AsRawFd) -> io::Result<(i32, i32)> {
    // SAFETY: signalfd_siginfo is plain data and the read fills at most its size.
    unsafe {
        let mut info: libc::signalfd_siginfo = std::mem::zeroed();
        let n = libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            std::mem::size_of::<libc::signalfd_siginfo>(),
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((info.ssi_signo as i32, info.ssi_code))
    }
}

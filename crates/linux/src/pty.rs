//! Pseudo-terminals for `process.terminal`.

use crate::cvt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// Opens a new pty pair through `ptmx` (the container's /dev/ptmx, so the slave lives in the
/// container's devpts). Returns (master, slave).
pub fn open_pty(ptmx: &Path) -> io::Result<(OwnedFd, OwnedFd)> {
    let master = crate::fd::openat(None, ptmx, libc::O_RDWR | libc::O_NOCTTY, 0)?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int that lives for the call.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) })?;
    // TIOCGPTPEER opens the slave from the master without a path lookup (Linux 4.13).
    // SAFETY: the returned fd is fresh and owned by nobody else.
    let slave = cvt(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// Sets a terminal's window size.
pub fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize that lives for the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })?;
    Ok(())
}

/// Reads a terminal's window size.
pub fn get_winsize(fd: &impl AsRawFd) -> io::Result<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize that lives for the call.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Makes `fd` the controlling terminal of the calling session leader.
pub fn set_controlling_tty(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) })?;
    Ok(())
}

/// Puts a terminal in raw mode; returns the previous settings for `restore`.
pub fn make_raw(fd: &impl AsRawFd) -> io::Result<libc::termios> {
    // SAFETY: termios is plain data filled by tcgetattr; cfmakeraw edits our copy.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        cvt(libc::tcgetattr(fd.as_raw_fd(), &mut t))?;
        let old = t;
        libc::cfmakeraw(&mut t);
        cvt(libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t))?;
        Ok(old)
    }
}

/// Restores terminal settings saved by `make_raw`.
pub fn restore(fd: &impl AsRawFd, t: &libc::termios) -> io::Result<()> {
    // SAFETY: `t` is a valid termios.
    cvt(unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, t) })?;
    Ok(())
}

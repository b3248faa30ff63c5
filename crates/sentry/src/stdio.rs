//! The container's stdio on the host: the streams the application's stdin, stdout and stderr
//! (and an exec's) are served from. One sentry loop serves every process of the sandbox, so it
//! must never wait in a host read or write: a reader of the container's stdout that falls
//! behind would stop the whole sandbox, not only the writer, and an application's O_NONBLOCK
//! would mean nothing. The runtime hands the sentry descriptions of their own, non-blocking,
//! where it can (`bulkhead_linux::fd::reopen_nonblocking`: pipes, FIFOs, terminals of an
//! exec; `reopen_pty_slave`: the console); on any other stream (a socket) a call asks poll
//! first, and a write
//! gives no more at a time than PIPE_BUF, which a stream that polls writable takes whole.
//! Callers get EAGAIN where the host would have made them wait, and wait in the kernel's loop.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::RawFd;

/// What a write to a polled stream gives at a time: a pipe that polls writable has a free
/// page, and a write of at most PIPE_BUF either fits whole or waits; it never splits.
const PIPE_BUF: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// A regular file or a block device: never waits.
    File,
    /// A non-blocking description: EAGAIN when it would wait.
    NonBlocking,
    /// A blocking stream: poll before each read and each PIPE_BUF of a write.
    Polled,
}

thread_local! {
    /// The host fds of the container's own stdin, stdout and stderr.
    static CONTAINER: Cell<[RawFd; 3]> = const { Cell::new([0, 1, 2]) };
    /// The mode of every stream registered, by host fd.
    static MODES: RefCell<BTreeMap<RawFd, Mode>> = const { RefCell::new(BTreeMap::new()) };
}

/// The container's stdio is served from `fds` (the runtime's private copies, or 0, 1, 2).
pub fn set_container(fds: [RawFd; 3]) {
    CONTAINER.set(fds);
    fds.iter().for_each(|fd| register(*fd));
}

/// The host fd of the container's stdin (0), stdout (1) or stderr (2).
pub fn container(n: usize) -> RawFd {
    CONTAINER.get()[n.min(2)]
}

/// `fd` is served as a stdio stream from now on (an exec's stdio: fd numbers are reused, so
/// each new one is looked at again).
pub fn register(fd: RawFd) {
    MODES.with(|m| m.borrow_mut().insert(fd, mode_of(fd)));
}

fn mode_of(fd: RawFd) -> Mode {
    let regular = crate::host::fstat_raw(fd)
        .is_ok_and(|st| matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFBLK));
    let nonblocking = crate::host::status_flags(fd).is_ok_and(|f| f & libc::O_NONBLOCK != 0);
    if regular {
        Mode::File
    } else if nonblocking {
        Mode::NonBlocking
    } else {
        Mode::Polled
    }
}

fn mode(fd: RawFd) -> Mode {
    MODES.with(|m| m.borrow().get(&fd).copied().unwrap_or(Mode::Polled))
}

fn would_block() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// The events of host fd `fd` now among `events` (and POLLERR, POLLHUP, POLLNVAL), by a poll
/// that does not wait; None when the host cannot poll it.
pub fn poll_now(fd: RawFd, events: i16) -> Option<u32> {
    let mut p = [libc::pollfd {
        fd,
        events,
        revents: 0,
    }];
    crate::host::poll(&mut p, 0).ok()?;
    Some(p[0].revents as u16 as u32)
}

/// Whether the host stream has `events` (POLLIN, POLLOUT) now, or an error or hang-up that a
/// read or write then reports. An fd the host cannot poll counts as ready.
fn ready(fd: RawFd, events: i16) -> bool {
    poll_now(fd, events).is_none_or(|e| e != 0)
}

/// Reads what `fd` has now; EAGAIN when it has nothing yet.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    if mode(fd) == Mode::Polled && !ready(fd, libc::POLLIN) {
        return Err(would_block());
    }
    crate::host::read(fd, buf)
}

/// Writes what `fd` takes now: possibly less than `data`; EAGAIN when it takes nothing.
pub fn write(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    if mode(fd) != Mode::Polled {
        return crate::host::write(fd, data);
    }
    let mut done = 0;
    while done < data.len() && ready(fd, libc::POLLOUT) {
        let end = data.len().min(done + PIPE_BUF);
        match crate::host::write(fd, &data[done..end]) {
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break, // told at the next write
        }
    }
    if done == 0 && !data.is_empty() {
        return Err(would_block());
    }
    Ok(done)
}

/// What a write to `fd` surely takes whole now without waiting, or 0: for a caller that must
/// not consume its input (sendfile) before it knows the write will take it.
pub fn room(fd: RawFd) -> usize {
    match mode(fd) {
        Mode::File => usize::MAX,
        _ if !ready(fd, libc::POLLOUT) => 0,
        _ => PIPE_BUF,
    }
}

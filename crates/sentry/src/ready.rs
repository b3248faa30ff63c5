//! Readiness: what poll, select and epoll ask of an open file description, answered in one
//! place. A waiter that finds nothing ready blocks with a `Retry` wait (kernel/wait.rs): the
//! kernel's loop serves its call again whenever anything in the sandbox changes, and the host
//! fds named here (the container's stdio) end the wait when the host says they are ready.
//! Each description also has a generation that moves on every change of its state (a pipe
//! written or read, an eventfd counter changed), which edge-triggered epoll needs to tell a
//! new event from one it already reported.

use crate::vfs::{Node, OpenFile};
use std::os::fd::RawFd;

/// The readiness of one description now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// poll(2) events (POLLIN, POLLOUT, POLLHUP, POLLERR...).
    pub events: u32,
    /// Move when the description's state changes (0 where it never does): [0] when there
    /// is more to read (data arrived, the other side closed), [1] when there is more room to
    /// write.
    pub generation: [u64; 2],
    /// A host fd whose readiness a waiter must watch (the container's stdio).
    pub host: Option<RawFd>,
}

/// What a file that is always ready answers (Linux's DEFAULT_POLLMASK for files without a
/// poll method of their own: regular files, directories, /dev/null).
const ALWAYS: u32 = (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM) as u32;

thread_local! {
    /// The pending signals of the task that asks (a signalfd is readable by what its reader
    /// has pending, as on Linux).
    static READER_PENDING: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Sets whose pending signals signalfd readiness is about: the task calling poll, select or
/// epoll_wait.
pub fn set_reader(pending: u64) {
    READER_PENDING.with(|p| p.set(pending));
}

/// Nested epoll instances deeper than this answer "not ready" (epoll_ctl refuses to build
/// them; this only bounds the recursion).
const MAX_DEPTH: u32 = 5;

/// The readiness of `f` now. `depth` counts the epoll instances it is nested in.
pub fn of(f: &OpenFile, depth: u32) -> Ready {
    let now = |events: u32| Ready {
        events,
        ..Ready::default()
    };
    match &f.node {
        Node::Socket(sock, _) => Ready {
            events: sock.ready(),
            generation: sock.generation(),
            host: None,
        },
        Node::Pipe(end) => Ready {
            events: end.ready() as u16 as u32,
            generation: end.generation(),
            host: None,
        },
        Node::Stdio(h) => Ready {
            events: host_events(*h),
            generation: [0, 0],
            host: Some(*h),
        },
        Node::EventFd(c) => Ready {
            events: c.ready(),
            generation: c.generation(),
            host: None,
        },
        Node::Inotify(i) => Ready {
            events: i.ready(),
            generation: [i.generation(), 0],
            host: None,
        },
        Node::TimerFd(timer) => Ready {
            events: timer.ready(),
            generation: [timer.generation(), 0],
            host: None,
        },
        Node::SignalFd(mask) => {
            let pending = READER_PENDING.with(std::cell::Cell::get);
            Ready {
                events: if pending & mask.get() != 0 {
                    (libc::POLLIN | libc::POLLRDNORM) as u32
                } else {
                    0
                },
                generation: [pending & mask.get(), 0],
                host: None,
            }
        }
        Node::Epoll(e) if depth < MAX_DEPTH => now(if e.any_ready(depth + 1) {
            libc::POLLIN as u32
        } else {
            0
        }),
        Node::Epoll(_) => now(0),
        Node::Host(_) | Node::Null | Node::Zero | Node::Full | Node::Random => now(ALWAYS),
        Node::Data(_) | Node::Dir(_) => now(ALWAYS),
    }
}

/// Whether epoll can watch `f`: Linux refuses files without a poll method (EPERM): regular
/// files, directories, /dev/null, /dev/zero, /dev/full.
pub fn pollable(f: &OpenFile) -> bool {
    matches!(
        f.node,
        Node::Pipe(_)
            | Node::Stdio(_)
            | Node::EventFd(_)
            | Node::Epoll(_)
            | Node::TimerFd(_)
            | Node::SignalFd(_)
            | Node::Inotify(_)
            | Node::Socket(..)
            | Node::Random
    )
}

/// The events of host fd `fd` now (POLLIN, POLLOUT, POLLHUP...), by a poll that does not
/// wait; an fd the host cannot poll counts as ready (a read then answers for itself).
fn host_events(fd: RawFd) -> u32 {
    crate::stdio::poll_now(fd, libc::POLLIN | libc::POLLOUT | libc::POLLPRI).unwrap_or(ALWAYS)
}

//! How a task waits. A system call that cannot finish yet (a read of an empty pipe, wait4 with
//! children still running, a sleep) records a `Wait` and returns `WOULD_BLOCK`; the task's
//! stub then stays stopped in its system call, costing no CPU, and the kernel's loop finishes
//! the call later: at the deadline, when a host fd it watches is ready, when a signal interrupts
//! it, or — for `Retry` waits — by serving the call again after anything in the sandbox changed
//! (the epoch below moved). Serving it again from the start is safe because each call blocks
//! before it has any effect, or keeps its progress in the task (`Task::progress`).

use crate::mm::{Errno, FutexKey};
use std::cell::Cell;
use std::time::Instant;

/// Returned by a system call handler that recorded a wait: never seen by the application.
pub const WOULD_BLOCK: Errno = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitKind {
    /// Serve the call again when the sandbox changes (pipes, children, stdin).
    Retry,
    /// poll, select, epoll_wait: served again as Retry, but after a signal handler it fails
    /// with EINTR whatever SA_RESTART says (Linux's -ERESTARTNOHAND: it starts again only
    /// when no handler ran).
    Ready,
    /// A sleep: ends at the deadline. `rem`: where a relative sleep that a signal cuts short
    /// writes the time left (0: nowhere).
    Sleep { rem: u64 },
    /// pause, sigsuspend: only a signal ends it.
    Pause,
    /// rt_sigtimedwait for a signal of `set`: served again when a signal is sent; never
    /// restarted after a handler.
    SigWait { set: u64 },
    /// A vfork parent, until the child (this pid) execs or exits; then the call returns it.
    Vfork(i32),
    /// futex: woken by FUTEX_WAKE on the same word (its key) with a bit of `bitset` in common;
    /// `pi` for a FUTEX_LOCK_PI waiter, which an unlock hands the lock to.
    Futex {
        key: FutexKey,
        bitset: u32,
        pi: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Wait {
    pub kind: WaitKind,
    /// When the wait ends by itself, and the call's result then.
    pub deadline: Option<(Instant, i64)>,
    /// Host fds (the container's stdio) whose readiness also ends it: (fd, poll events).
    pub host_fds: Vec<(i32, i16)>,
}

impl Wait {
    pub fn retry() -> Wait {
        Wait {
            kind: WaitKind::Retry,
            deadline: None,
            host_fds: Vec::new(),
        }
    }

    /// Whether SA_RESTART makes the call start again after a handler (Linux's -ERESTARTSYS
    /// calls: reads, writes, wait4, a FUTEX_WAIT without a timeout), rather than fail with
    /// EINTR. (A timed FUTEX_WAIT fails with EINTR after a handler, as Linux's does.)
    pub fn restartable(&self) -> bool {
        match self.kind {
            WaitKind::Retry => true,
            WaitKind::Ready => false,
            WaitKind::Futex { pi: false, .. } => self.deadline.is_none(),
            _ => self.always_restarts(),
        }
    }

    /// Whether the call is served again when the sandbox changes.
    pub fn retried(&self) -> bool {
        matches!(self.kind, WaitKind::Retry | WaitKind::Ready)
    }

    /// Whether the call starts again after any handler (Linux's -ERESTARTNOINTR): taking a
    /// PI lock is not interrupted by signals.
    pub fn always_restarts(&self) -> bool {
        matches!(self.kind, WaitKind::Futex { pi: true, .. })
    }
}

thread_local! {
    static EPOCH: Cell<u64> = const { Cell::new(0) };
}

/// Something a waiting call may be waiting for changed (a pipe was written, read or closed, a
/// child changed state).
pub fn poke() {
    EPOCH.with(|e| e.set(e.get() + 1));
}

pub fn epoch() -> u64 {
    EPOCH.with(|e| e.get())
}

/// The instant `left` from now; a timeout too far away for the host clock (a sleep of
/// i64::MAX seconds, a pause container's `sleep 2147483647`) becomes "in a century", which no
/// sandbox outlives, instead of an overflow.
pub fn deadline_after(left: std::time::Duration) -> Instant {
    let now = Instant::now();
    let century = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(left.min(century)).unwrap_or(now)
}

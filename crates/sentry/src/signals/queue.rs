//! The pending signals of a task: a standard signal is pending once however often it is sent
//! (the first sender's siginfo kept), a real-time signal (SIGRTMIN..=64) is queued once per
//! send, up to a bound, and delivered in the order sent. `pending` mirrors the queue as a bit
//! set for the quick checks of the kernel's loop.

use super::{bit, Info};
use crate::kernel::Signals;

/// The first real-time signal (the kernel's SIGRTMIN; glibc reserves the first two).
pub const SIGRTMIN: i32 = 32;
/// Queued real-time signals per task (Linux bounds them by RLIMIT_SIGPENDING).
const QUEUE_MAX: usize = 1024;

impl Signals {
    /// Makes `sig` pending with `info`; false when it was not queued (a standard signal
    /// already pending, or the real-time queue full).
    pub fn enqueue(&mut self, sig: i32, info: Info) -> bool {
        let already = self.pending & bit(sig) != 0;
        if (sig < SIGRTMIN && already) || self.queue.len() >= QUEUE_MAX {
            return false;
        }
        self.queue.push((sig, info));
        self.pending |= bit(sig);
        true
    }

    /// Takes the first queued `sig`; its pending bit goes when none is left.
    pub fn dequeue(&mut self, sig: i32) -> Option<Info> {
        let i = self.queue.iter().position(|(s, _)| *s == sig)?;
        let (_, info) = self.queue.remove(i);
        if !self.queue.iter().any(|(s, _)| *s == sig) {
            self.pending &= !bit(sig);
            self.group &= !bit(sig);
        }
        Some(info)
    }

    /// Drops every pending signal of `mask` (SIGCONT drops pending stop signals and back).
    pub fn discard(&mut self, mask: u64) {
        self.queue.retain(|(s, _)| bit(*s) & mask == 0);
        self.pending &= !mask;
        self.group &= !mask;
    }

    /// Removes and returns every queued signal of `mask`, in order (to move them to another
    /// thread of the process).
    pub fn take_all(&mut self, mask: u64) -> Vec<(i32, Info)> {
        let (out, keep) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|(s, _)| bit(*s) & mask != 0);
        self.queue = keep;
        self.pending &= !mask;
        self.group &= !mask;
        out
    }

    /// The queued signal from POSIX timer `id` of `sig`, if one is still undelivered (a
    /// timer that expires again counts an overrun instead of queueing another).
    pub fn queued_timer(&mut self, sig: i32, id: i32) -> Option<&mut Info> {
        self.queue
            .iter_mut()
            .find(|(s, i)| *s == sig && i.code == super::SI_TIMER && i.pid == id)
            .map(|(_, i)| i)
    }
}

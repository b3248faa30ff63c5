//! Futexes: the waiters of a word are the tasks blocked with a `Futex` wait on its key (the
//! word's place in the memory file, so a word in shared memory is one futex for every process
//! that maps it). Wake, requeue and the PI hand-off finish those waits from the waker's call.

use super::task::{State, Task};
use super::wait::WaitKind;
use super::Kernel;
use crate::mm::{Errno, FutexKey};

pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

impl Kernel {
    /// The tids of the tasks waiting on `key` (PI waiters or not) whose bitset meets `bitset`.
    fn futex_waiters(&self, key: FutexKey, bitset: u32, want_pi: bool) -> Vec<i32> {
        self.tasks
            .values()
            .filter(|t| t.state == State::Blocked)
            .filter(|t| {
                matches!(t.wait.as_ref().map(|w| &w.kind),
                    Some(WaitKind::Futex { key: k, bitset: b, pi })
                        if *k == key && b & bitset != 0 && *pi == want_pi)
            })
            .map(|t| t.tid)
            .collect()
    }

    /// Finishes the futex wait of `tid` with `ret`.
    fn futex_release(&mut self, tid: i32, ret: i64) {
        if let Some(mut w) = self.tasks.remove(&tid) {
            w.wait = None;
            self.finish(&mut w, ret);
            self.put_back(w);
        }
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `n` waiters; returns how many.
    pub fn futex_wake(&mut self, key: FutexKey, n: u32, bitset: u32) -> i64 {
        let woken: Vec<i32> = self
            .futex_waiters(key, bitset, false)
            .into_iter()
            .take(n as usize)
            .collect();
        for tid in &woken {
            self.futex_release(*tid, 0);
        }
        woken.len() as i64
    }

    /// FUTEX_(CMP_)REQUEUE: wakes `n` waiters of `from`, moves up to `m` more to `to`.
    pub fn futex_requeue(&mut self, from: FutexKey, to: FutexKey, n: u32, m: u32) -> i64 {
        let waiters = self.futex_waiters(from, u32::MAX, false);
        let woken = waiters.len().min(n as usize);
        for tid in &waiters[..woken] {
            self.futex_release(*tid, 0);
        }
        let moved = &waiters[woken..waiters.len().min(woken + m as usize)];
        for tid in moved {
            if let Some(WaitKind::Futex { key, .. }) = self
                .tasks
                .get_mut(tid)
                .and_then(|t| t.wait.as_mut())
                .map(|w| &mut w.kind)
            {
                *key = to;
            }
        }
        (woken + moved.len()) as i64
    }

    /// FUTEX_LOCK_PI and TRYLOCK_PI by `t`: takes a free lock (the word 0, or only
    /// FUTEX_OWNER_DIED left by a dead owner); otherwise marks the word FUTEX_WAITERS and
    /// returns None for the caller to wait, as long as the owner exists. The word is changed by
    /// compare-and-swap: the application's threads lock and unlock in user space meanwhile.
    pub fn futex_lock_pi(
        &mut self,
        t: &Task,
        addr: u64,
        key: FutexKey,
        try_only: bool,
    ) -> Result<Option<i64>, Errno> {
        loop {
            let word = t.mm.read_u32(addr)?;
            let owner = word & FUTEX_TID_MASK;
            if owner == t.tid as u32 {
                return Err(libc::EDEADLK);
            }
            if owner == 0 {
                let waiters = !self.futex_waiters(key, u32::MAX, true).is_empty();
                let new = t.tid as u32
                    | (word & FUTEX_OWNER_DIED)
                    | if waiters { FUTEX_WAITERS } else { 0 };
                if t.mm.cmpxchg_u32(addr, word, new)? == word {
                    return Ok(Some(0));
                }
                continue;
            }
            if !self.tasks.contains_key(&(owner as i32)) {
                return Err(libc::ESRCH);
            }
            if try_only {
                return Err(libc::EAGAIN);
            }
            if word & FUTEX_WAITERS != 0
                || t.mm.cmpxchg_u32(addr, word, word | FUTEX_WAITERS)? == word
            {
                return Ok(None);
            }
        }
    }

    /// FUTEX_UNLOCK_PI by `t`: the lock goes to the first waiter (its tid in the word, with
    /// FUTEX_WAITERS while others remain), or the word becomes 0.
    pub fn futex_unlock_pi(&mut self, t: &Task, addr: u64, key: FutexKey) -> Result<i64, Errno> {
        loop {
            let word = t.mm.read_u32(addr)?;
            if word & FUTEX_TID_MASK != t.tid as u32 {
                return Err(libc::EPERM);
            }
            let waiters = self.futex_waiters(key, u32::MAX, true);
            let new = match waiters.first() {
                Some(&next) => next as u32 | if waiters.len() > 1 { FUTEX_WAITERS } else { 0 },
                None => 0,
            };
            if t.mm.cmpxchg_u32(addr, word, new)? != word {
                continue;
            }
            if let Some(&next) = waiters.first() {
                self.futex_release(next, 0);
            }
            return Ok(0);
        }
    }
}

/// At a thread's exit: each robust futex it still holds gets FUTEX_OWNER_DIED and one waiter
/// is woken, so the next locker learns the owner died (pthread's robust mutexes).
pub fn exit_robust_list(k: &mut Kernel, t: &Task) {
    if t.robust_list == 0 {
        return;
    }
    let head = t.robust_list;
    let (Ok(mut entry), Ok(offset), Ok(pending)) = (
        t.mm.read_u64(head),
        t.mm.read_u64(head + 8),
        t.mm.read_u64(head + 16),
    ) else {
        return;
    };
    let mut words = Vec::new();
    // Bounded, as Linux bounds it (ROBUST_LIST_LIMIT): a looping list cannot hang the sentry.
    for _ in 0..2048 {
        if entry == head || entry == 0 {
            break;
        }
        words.push((entry & !1).wrapping_add(offset));
        match t.mm.read_u64(entry & !1) {
            Ok(next) => entry = next,
            Err(_) => break,
        }
    }
    if pending != 0 {
        words.push((pending & !1).wrapping_add(offset));
    }
    for addr in words {
        let Ok(word) = t.mm.read_u32(addr) else {
            continue;
        };
        if word & FUTEX_TID_MASK != t.tid as u32 {
            continue;
        }
        let new = (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if t.mm.cmpxchg_u32(addr, word, new) != Ok(word) {
            continue;
        }
        let Ok(key) = t.mm.futex_key(addr, false) else {
            continue;
        };
        // A plain waiter is woken; with none, a PI waiter is handed the lock.
        if word & FUTEX_WAITERS != 0 && k.futex_wake(key, 1, u32::MAX) == 0 {
            let pi = k.futex_waiters(key, u32::MAX, true);
            if let Some(&next) = pi.first() {
                k.futex_release(next, 0);
            }
        }
    }
}

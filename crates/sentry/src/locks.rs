//! Record locks: POSIX locks (fcntl F_SETLK, F_SETLKW, F_GETLK), owned by a process, and open
//! file description locks (F_OFD_*), owned by an open file description. The sentry keeps them
//! itself, per file (device, inode): on the host every file is opened by the one sentry
//! process, whose own POSIX locks could never conflict with each other.
//!
//! As on Linux: a process's locks on a file go when it closes any descriptor of that file or
//! ends; a description's when its last descriptor closes; a lock replaces the owner's own locks
//! over its range, and adjacent or overlapping ranges of one owner and type merge.

use crate::mm::Errno;
use std::cell::RefCell;
use std::collections::HashMap;

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Process(i32),
    /// An open file description, by its address (stable while it lives).
    Description(usize),
}

/// A lock over [start, end) (end u64::MAX: to the end of the file, however it grows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub owner: Owner,
    pub write: bool,
    pub start: u64,
    pub end: u64,
}

thread_local! {
    static LOCKS: RefCell<HashMap<(u64, u64), Vec<Lock>>> = RefCell::new(HashMap::new());
}

/// Whether any lock is held at all (the close path's quick check).
pub fn any() -> bool {
    LOCKS.with(|l| !l.borrow().is_empty())
}

/// The lock of another owner on `file` that a lock `want` would conflict with, the one that
/// starts first (F_GETLK reports it).
pub fn conflict(file: (u64, u64), want: &Lock) -> Option<Lock> {
    LOCKS.with(|l| {
        l.borrow().get(&file).and_then(|locks| {
            locks
                .iter()
                .filter(|x| {
                    x.owner != want.owner
                        && (x.write || want.write)
                        && x.start < want.end
                        && want.start < x.end
                })
                .min_by_key(|x| x.start)
                .copied()
        })
    })
}

/// Sets (or with `write` None, removes) `owner`'s lock over [start, end) on `file`. The caller
/// checked for conflicts.
pub fn set(file: (u64, u64), owner: Owner, write: Option<bool>, start: u64, end: u64) {
    LOCKS.with(|l| {
        let mut all = l.borrow_mut();
        let locks = all.entry(file).or_default();
        // The owner's locks lose [start, end): cut, split or dropped.
        let mut kept = Vec::with_capacity(locks.len() + 1);
        for x in locks.drain(..) {
            if x.owner != owner || x.end <= start || end <= x.start {
                kept.push(x);
                continue;
            }
            if x.start < start {
                kept.push(Lock { end: start, ..x });
            }
            if end < x.end {
                kept.push(Lock { start: end, ..x });
            }
        }
        if let Some(write) = write {
            let mut new = Lock {
                owner,
                write,
                start,
                end,
            };
            // Neighbours of the same owner and type merge with it.
            kept.retain(|x| {
                let joins = x.owner == owner
                    && x.write == write
                    && x.start <= new.end
                    && new.start <= x.end;
                if joins {
                    new.start = new.start.min(x.start);
                    new.end = new.end.max(x.end);
                }
                !joins
            });
            kept.push(new);
        }
        *locks = kept;
        if locks.is_empty() {
            all.remove(&file);
        }
    });
    crate::kernel::wait::poke();
}

/// Drops every lock `owner` holds (on `file` only, when given); true when one went.
pub fn release(owner: Owner, file: Option<(u64, u64)>) -> bool {
    let gone = LOCKS.with(|l| {
        let mut all = l.borrow_mut();
        let mut gone = false;
        for (f, locks) in all.iter_mut() {
            if file.is_some_and(|k| k != *f) {
                continue;
            }
            let before = locks.len();
            locks.retain(|x| x.owner != owner);
            gone |= locks.len() != before;
        }
        all.retain(|_, locks| !locks.is_empty());
        gone
    });
    if gone {
        crate::kernel::wait::poke();
    }
    gone
}

/// The range a struct flock names, from its start (already made absolute) and l_len: a
/// negative length reaches back, 0 means to the end of the file.
pub fn range(start: i64, len: i64) -> Result<(u64, u64), Errno> {
    let (s, e) = match len {
        0 => (start, None),
        l if l > 0 => (start, start.checked_add(l)),
        l => (start.checked_add(l).ok_or(libc::EINVAL)?, Some(start)),
    };
    if s < 0 {
        return Err(libc::EINVAL);
    }
    Ok((s as u64, e.map_or(u64::MAX, |e| e as u64)))
}

//! epoll instances: the interest list of an epoll file description. An entry is keyed, as on
//! Linux, by the descriptor number it was added with and the open file description it named
//! then; it goes away when that description is closed for good (the entry holds it weakly).
//! Level-triggered entries report whatever is ready; edge-triggered ones report a change since
//! their last report (new events, or a new generation of the file's state in the direction
//! asked: data arrived, room appeared); one-shot entries are disarmed after one report until
//! EPOLL_CTL_MOD. Entries reported are passed over first next time, so a small `maxevents`
//! still gets round every ready file (Linux puts them back at the tail of its ready list).
//! Exclusive entries (EPOLLEXCLUSIVE) of several instances for one file: one instance takes
//! each event of the file (CLAIMS).

use crate::mm::Errno;
use crate::ready::{self, Ready};
use crate::vfs::{FileRef, Node, OpenFile};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};

pub const EPOLLIN: u32 = 0x1;
pub const EPOLLOUT: u32 = 0x4;
pub const EPOLLERR: u32 = 0x8;
pub const EPOLLHUP: u32 = 0x10;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;
/// The events an EPOLLEXCLUSIVE entry may ask for (Linux's EPOLLEXCLUSIVE_OK_BITS).
const EXCLUSIVE_OK: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// How deep epoll instances may nest (Linux's EPOLL_MAX_NESTS).
const MAX_NESTS: u32 = 4;
/// The readable side's events, and the writable side's: which of the file's generations an
/// edge-triggered entry follows.
const IN_SIDE: u32 = (libc::POLLIN | libc::POLLRDNORM | libc::POLLPRI | libc::POLLHUP) as u32;
const OUT_SIDE: u32 = (libc::POLLOUT | libc::POLLWRNORM | libc::POLLERR) as u32;

/// (descriptor number, the description's address).
type Key = (i32, usize);

thread_local! {
    /// EPOLLEXCLUSIVE: which instance took each file's latest event (by the file's state
    /// generation), so that the other instances with an exclusive entry for it are not woken
    /// by the same event. Linux wakes one exclusive waiter per wakeup of the file; a waiter
    /// here takes an event by reporting it first, and the others see the file again only when
    /// its state moves on (a new event).
    static CLAIMS: RefCell<BTreeMap<usize, ([u64; 2], usize)>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// Whether exclusive entry `e` of instance `me` may report readiness `r` of file `file`: its
/// event is not one another instance took. Files without a state generation (always the same
/// readiness) are not taken.
fn exclusive_free(e: &Entry, r: &Ready, file: usize, me: usize) -> bool {
    if e.events & EPOLLEXCLUSIVE == 0 || r.generation == [0, 0] {
        return true;
    }
    CLAIMS.with(|c| {
        c.borrow()
            .get(&file)
            .is_none_or(|(generation, by)| *by == me || *generation != r.generation)
    })
}

/// Instance `me` reported exclusive entry `e`'s event on `file`.
fn take_exclusive(e: &Entry, r: &Ready, file: usize, me: usize) {
    if e.events & EPOLLEXCLUSIVE != 0 && r.generation != [0, 0] {
        CLAIMS.with(|c| c.borrow_mut().insert(file, (r.generation, me)));
    }
}

struct Entry {
    file: Weak<RefCell<OpenFile>>,
    events: u32,
    data: u64,
    /// What an edge-triggered entry saw last: the events, and the generations.
    seen: (u32, [u64; 2]),
    /// A one-shot entry that reported: silent until EPOLL_CTL_MOD.
    disarmed: bool,
}

impl Entry {
    fn new(file: &FileRef, events: u32, data: u64) -> Entry {
        Entry {
            file: Rc::downgrade(file),
            events,
            data,
            seen: (0, [0, 0]),
            disarmed: false,
        }
    }

    /// The events to report of readiness `r`, if the entry reports now.
    fn due(&self, r: &Ready) -> Option<u32> {
        let got = r.events & (self.events | EPOLLERR | EPOLLHUP);
        if self.disarmed || got == 0 {
            return None;
        }
        if self.events & EPOLLET == 0 {
            return Some(got);
        }
        let (seen, generation) = self.seen;
        let moved = (got & IN_SIDE != 0 && r.generation[0] != generation[0])
            || (got & OUT_SIDE != 0 && r.generation[1] != generation[1]);
        (got & !seen != 0 || moved).then_some(got)
    }
}

/// What one scan of the interest list found.
pub struct Found {
    /// (events, the entry's data), at most the number asked for.
    pub events: Vec<(u32, u64)>,
    /// Host fds to watch while waiting, with their poll events.
    pub host: Vec<(RawFd, i16)>,
}

#[derive(Default)]
pub struct Interest {
    entries: RefCell<BTreeMap<Key, Entry>>,
    /// The last entry reported: the next scan starts after it.
    cursor: Cell<Option<Key>>,
}

/// The identity of a description, as entries key it.
pub fn id_of(file: &FileRef) -> usize {
    Rc::as_ptr(file) as usize
}

impl Interest {
    /// EPOLL_CTL_ADD of descriptor `fd` (naming `file`). `me` is the epoll description itself,
    /// for the loop check.
    pub fn add(&self, me: usize, fd: i32, file: &FileRef, events: u32, data: u64) -> R0 {
        let key = (fd, id_of(file));
        if self.entries.borrow().contains_key(&key) {
            return Err(libc::EEXIST);
        }
        if let Ok(f) = file.try_borrow() {
            if let Node::Epoll(inner) = &f.node {
                if events & EPOLLEXCLUSIVE != 0 {
                    return Err(libc::EINVAL);
                }
                if inner.reaches(me, 1)? {
                    return Err(libc::ELOOP);
                }
            }
        }
        self.entries
            .borrow_mut()
            .insert(key, Entry::new(file, events, data));
        crate::kernel::wait::poke();
        Ok(())
    }

    /// EPOLL_CTL_MOD: new events and data, re-armed; EINVAL for an exclusive entry.
    pub fn modify(&self, fd: i32, file: &FileRef, events: u32, data: u64) -> R0 {
        let mut entries = self.entries.borrow_mut();
        let e = entries.get_mut(&(fd, id_of(file))).ok_or(libc::ENOENT)?;
        if e.events & EPOLLEXCLUSIVE != 0 {
            return Err(libc::EINVAL);
        }
        *e = Entry::new(file, events, data);
        crate::kernel::wait::poke();
        Ok(())
    }

    pub fn delete(&self, fd: i32, file: &FileRef) -> R0 {
        let removed = self.entries.borrow_mut().remove(&(fd, id_of(file)));
        removed.map(|_| ()).ok_or(libc::ENOENT)
    }

    /// Whether the description `target` is this instance or is reachable from it through
    /// nested instances, or the nesting from here is deeper than Linux allows: ELOOP then.
    fn reaches(&self, target: usize, depth: u32) -> Result<bool, Errno> {
        if depth > MAX_NESTS {
            return Err(libc::ELOOP);
        }
        for e in self.entries.borrow().values() {
            let Some(file) = e.file.upgrade() else {
                continue;
            };
            if id_of(&file) == target {
                return Ok(true);
            }
            let Ok(f) = file.try_borrow() else {
                // Borrowed now: it is the instance being changed, i.e. `target`.
                return Ok(true);
            };
            if let Node::Epoll(inner) = &f.node {
                if inner.reaches(target, depth + 1)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The entries in scan order: those after the last one reported, then the rest.
    fn order(&self) -> Vec<Key> {
        let entries = self.entries.borrow();
        let after = self.cursor.get();
        let (mut late, early): (Vec<Key>, Vec<Key>) = entries
            .keys()
            .partition(|k| after.is_some_and(|c| **k <= c));
        let mut keys = early;
        keys.append(&mut late);
        keys
    }

    /// Takes up to `max` events that are due (updating edge-triggered and one-shot entries
    /// for what it reports), and the host fds a waiter must watch.
    pub fn collect(&self, max: usize, depth: u32) -> Found {
        self.entries.borrow_mut().retain(|k, e| {
            let live = e.file.strong_count() > 0;
            if !live && e.events & EPOLLEXCLUSIVE != 0 {
                CLAIMS.with(|c| c.borrow_mut().remove(&k.1));
            }
            live
        });
        let me = self as *const Interest as usize;
        let mut found = Found {
            events: Vec::new(),
            host: Vec::new(),
        };
        for key in self.order() {
            let Some(r) = self.readiness(&key, depth) else {
                continue;
            };
            let mut entries = self.entries.borrow_mut();
            let Some(e) = entries.get_mut(&key) else {
                continue;
            };
            if let Some(h) = r.host {
                let want = e.events & (EPOLLIN | EPOLLOUT | libc::POLLPRI as u32);
                found.host.push((h, want as i16));
            }
            let Some(got) = e.due(&r) else {
                // Events that went away are forgotten, so their return is an edge.
                e.seen.0 &= r.events;
                continue;
            };
            if found.events.len() == max || !exclusive_free(e, &r, key.1, me) {
                continue;
            }
            take_exclusive(e, &r, key.1, me);
            e.seen = (got, r.generation);
            e.disarmed = e.events & EPOLLONESHOT != 0;
            found.events.push((got, e.data));
            self.cursor.set(Some(key));
        }
        found
    }

    /// Whether any entry is due (what makes the epoll file itself readable); reports nothing.
    pub fn any_ready(&self, depth: u32) -> bool {
        let me = self as *const Interest as usize;
        let keys: Vec<Key> = self.entries.borrow().keys().copied().collect();
        keys.iter().any(|k| {
            self.readiness(k, depth).is_some_and(|r| {
                let entries = self.entries.borrow();
                entries
                    .get(k)
                    .is_some_and(|e| e.due(&r).is_some() && exclusive_free(e, &r, k.1, me))
            })
        })
    }

    /// The readiness of entry `key`'s file now (None once it is closed, or while it is
    /// borrowed, which only a loop epoll_ctl refused could cause).
    fn readiness(&self, key: &Key, depth: u32) -> Option<Ready> {
        let file = self.entries.borrow().get(key)?.file.upgrade()?;
        let f = file.try_borrow().ok()?;
        Some(ready::of(&f, depth))
    }

    /// The entries, for /proc/self/fdinfo: (fd, events, data).
    pub fn list(&self) -> Vec<(i32, u32, u64)> {
        let entries = self.entries.borrow();
        entries
            .iter()
            .filter(|(_, e)| e.file.strong_count() > 0)
            .map(|(k, e)| (k.0, e.events, e.data))
            .collect()
    }
}

/// Checks the events of an EPOLL_CTL_ADD or MOD as Linux does: EPOLLEXCLUSIVE only on ADD
/// and only with the bits it allows. EPOLLWAKEUP needs CAP_BLOCK_SUSPEND and is dropped.
pub fn check_events(add: bool, events: u32) -> Result<u32, Errno> {
    if events & EPOLLEXCLUSIVE != 0 && (!add || events & !EXCLUSIVE_OK != 0) {
        return Err(libc::EINVAL);
    }
    Ok(events & !EPOLLWAKEUP)
}

type R0 = Result<(), Errno>;

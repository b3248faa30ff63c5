//! inotify: watches on files and directories of the rootfs, told of what the sandbox's own
//! processes do to them (the sentry makes every change, so it knows; changes made from outside
//! the sandbox are not seen). A watch is on an inode (device, inode number), found by its path
//! when added; the sentry's file operations tell this module what happened to a path (and so
//! to the entry in its directory), which queues an event on every instance watching either.
//! Identical consecutive events are merged and a queue over its limit ends with IN_Q_OVERFLOW,
//! as on Linux. When no instance watches anything, the hooks cost nothing.

use crate::kernel::wait;
use crate::mm::Errno;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::{Rc, Weak};

pub const IN_ACCESS: u32 = 0x1;
pub const IN_MODIFY: u32 = 0x2;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_CLOSE_WRITE: u32 = 0x8;
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
pub const IN_OPEN: u32 = 0x20;
pub const IN_MOVED_FROM: u32 = 0x40;
pub const IN_MOVED_TO: u32 = 0x80;
pub const IN_CREATE: u32 = 0x100;
pub const IN_DELETE: u32 = 0x200;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;
const IN_Q_OVERFLOW: u32 = 0x4000;
const IN_IGNORED: u32 = 0x8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
const IN_EXCL_UNLINK: u32 = 0x0400_0000;
const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
const IN_ONESHOT: u32 = 0x8000_0000;
/// Every event a watch may ask for.
pub const IN_ALL_EVENTS: u32 = 0xfff;
/// Every flag inotify_add_watch knows.
pub const VALID: u32 = IN_ALL_EVENTS
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ONESHOT;
/// Events queued per instance (Linux's max_queued_events).
const QUEUE_MAX: usize = 16384;

type Id = (u64, u64);

struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

#[derive(Default)]
pub struct Inotify {
    /// wd -> (inode, mask).
    watches: RefCell<BTreeMap<i32, (Id, u32)>>,
    next_wd: Cell<i32>,
    queue: RefCell<VecDeque<Event>>,
    generation: Cell<u64>,
}

thread_local! {
    static ALL: RefCell<Vec<Weak<Inotify>>> = const { RefCell::new(Vec::new()) };
    static ROOT: RefCell<Option<Rc<OwnedFd>>> = const { RefCell::new(None) };
    static COOKIE: Cell<u32> = const { Cell::new(0) };
}

/// The rootfs fd paths are looked up in (set when the sandbox starts).
pub fn set_root(root: Rc<OwnedFd>) {
    ROOT.with(|r| *r.borrow_mut() = Some(root));
}

/// Whether any instance watches anything (the hooks do nothing otherwise).
pub fn active() -> bool {
    ALL.with(|a| {
        let mut a = a.borrow_mut();
        a.retain(|w| w.strong_count() > 0);
        a.iter()
            .filter_map(Weak::upgrade)
            .any(|i| !i.watches.borrow().is_empty())
    })
}

/// The inode `abs` names in the rootfs (None for the sentry's own files, or a missing one).
fn id_of(abs: &str, follow: bool) -> Option<(Id, bool)> {
    if abs == "/proc" || abs.starts_with("/proc/") || abs.starts_with("/dev/") {
        return None;
    }
    let root = ROOT.with(|r| r.borrow().clone())?;
    let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
    let fd =
        bulkhead_linux::resolve::open_in_root(&*root, std::path::Path::new(abs), flags, 0).ok()?;
    let st = crate::host::fstat_raw(fd.as_raw_fd()).ok()?;
    Some((
        (st.st_dev, st.st_ino),
        st.st_mode & libc::S_IFMT == libc::S_IFDIR,
    ))
}

fn split(abs: &str) -> (String, Vec<u8>) {
    match abs.trim_end_matches('/').rsplit_once('/') {
        Some(("", n)) => ("/".into(), n.as_bytes().to_vec()),
        Some((d, n)) => (d.into(), n.as_bytes().to_vec()),
        None => ("/".into(), Vec::new()),
    }
}

/// Where an event about a path goes: the inode itself, and its entry in its directory.
pub struct Target {
    file: Option<Id>,
    isdir: bool,
    dir: Option<Id>,
    name: Vec<u8>,
}

/// Finds what `abs` is now (before an unlink or rename: what it was).
pub fn target(abs: &str) -> Option<Target> {
    if !active() {
        return None;
    }
    let (dir, name) = split(abs);
    let file = id_of(abs, false);
    Some(Target {
        file: file.map(|(id, _)| id),
        isdir: file.is_some_and(|(_, d)| d),
        dir: id_of(&dir, true).map(|(id, _)| id),
        name,
    })
}

/// Tells every watcher of `t` (the inode: `self_mask`; its directory: `dir_mask`, with the
/// entry's name) of an event; 0 leaves one side out.
pub fn tell(t: &Target, self_mask: u32, dir_mask: u32, cookie: u32) {
    let dir_bit = if t.isdir { IN_ISDIR } else { 0 };
    let all: Vec<Rc<Inotify>> = ALL.with(|a| a.borrow().iter().filter_map(Weak::upgrade).collect());
    for i in all {
        let watches: Vec<(i32, Id, u32)> = i
            .watches
            .borrow()
            .iter()
            .map(|(w, (id, m))| (*w, *id, *m))
            .collect();
        for (wd, id, mask) in watches {
            if self_mask != 0 && t.file == Some(id) && mask & self_mask != 0 {
                i.push(wd, self_mask | dir_bit, cookie, Vec::new(), mask);
            }
            if dir_mask != 0 && t.dir == Some(id) && mask & dir_mask != 0 {
                i.push(wd, dir_mask | dir_bit, cookie, t.name.clone(), mask);
            }
            // A watched inode that is gone: its watch ends.
            if self_mask & IN_DELETE_SELF != 0 && t.file == Some(id) {
                i.remove(wd);
            }
        }
    }
}

/// An event on path `abs` now (open, access, modify, attrib, close, create): to the file's
/// watchers and its directory's.
pub fn on_path(abs: &str, mask: u32) {
    if let Some(t) = target(abs) {
        tell(&t, mask, mask, 0);
    }
}

/// A new cookie tying IN_MOVED_FROM to its IN_MOVED_TO.
pub fn cookie() -> u32 {
    COOKIE.with(|c| {
        c.set(c.get().wrapping_add(1).max(1));
        c.get()
    })
}

impl Inotify {
    pub fn new() -> Rc<Inotify> {
        let i = Rc::new(Inotify {
            next_wd: Cell::new(1),
            ..Default::default()
        });
        ALL.with(|a| a.borrow_mut().push(Rc::downgrade(&i)));
        i
    }

    fn push(&self, wd: i32, mask: u32, cookie: u32, name: Vec<u8>, watch_mask: u32) {
        {
            let mut q = self.queue.borrow_mut();
            let same = q.back().is_some_and(|e| {
                e.wd == wd && e.mask == mask && e.cookie == cookie && e.name == name
            });
            if same {
                return;
            }
            if q.len() >= QUEUE_MAX {
                if q.back().is_none_or(|e| e.mask != IN_Q_OVERFLOW) {
                    q.push_back(Event {
                        wd: -1,
                        mask: IN_Q_OVERFLOW,
                        cookie: 0,
                        name: Vec::new(),
                    });
                }
            } else {
                q.push_back(Event {
                    wd,
                    mask,
                    cookie,
                    name,
                });
            }
        }
        if watch_mask & IN_ONESHOT != 0 {
            self.remove(wd);
        }
        self.generation.set(self.generation.get() + 1);
        wait::poke();
    }

    /// Ends watch `wd` with IN_IGNORED; false if there is none.
    pub fn remove(&self, wd: i32) -> bool {
        if self.watches.borrow_mut().remove(&wd).is_none() {
            return false;
        }
        self.queue.borrow_mut().push_back(Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
        self.generation.set(self.generation.get() + 1);
        wait::poke();
        true
    }

    /// inotify_add_watch on `abs` with `mask` (checked by the caller): its wd (the same for
    /// the same inode, whose mask is replaced or, with IN_MASK_ADD, added to).
    pub fn add(&self, abs: &str, mask: u32) -> Result<i32, Errno> {
        let (id, isdir) = id_of(abs, mask & IN_DONT_FOLLOW == 0).ok_or(libc::ENOENT)?;
        if mask & IN_ONLYDIR != 0 && !isdir {
            return Err(libc::ENOTDIR);
        }
        let mut w = self.watches.borrow_mut();
        if let Some((wd, (_, m))) = w.iter_mut().find(|(_, (i, _))| *i == id) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(libc::EEXIST);
            }
            *m = if mask & IN_MASK_ADD != 0 {
                *m | mask
            } else {
                mask
            };
            return Ok(*wd);
        }
        let wd = self.next_wd.get();
        self.next_wd.set(wd + 1);
        w.insert(wd, (id, mask));
        Ok(wd)
    }

    /// Takes the events that fit in `max` bytes as struct inotify_event records (names padded
    /// to 16 bytes); EINVAL when even the first does not fit, EAGAIN when there is none.
    pub fn read(&self, max: usize) -> Result<Vec<u8>, Errno> {
        let mut q = self.queue.borrow_mut();
        if q.is_empty() {
            return Err(libc::EAGAIN);
        }
        let mut out = Vec::new();
        while let Some(e) = q.front() {
            let len = if e.name.is_empty() {
                0
            } else {
                (e.name.len() + 1).div_ceil(16) * 16
            };
            if out.len() + 16 + len > max {
                break;
            }
            out.extend_from_slice(&e.wd.to_le_bytes());
            out.extend_from_slice(&e.mask.to_le_bytes());
            out.extend_from_slice(&e.cookie.to_le_bytes());
            out.extend_from_slice(&(len as u32).to_le_bytes());
            let mut name = e.name.clone();
            name.resize(len, 0);
            out.extend(name);
            q.pop_front();
        }
        if out.is_empty() {
            return Err(libc::EINVAL);
        }
        self.generation.set(self.generation.get() + 1);
        Ok(out)
    }

    /// Bytes a read could take now (FIONREAD).
    pub fn queued_bytes(&self) -> usize {
        self.queue
            .borrow()
            .iter()
            .map(|e| {
                16 + if e.name.is_empty() {
                    0
                } else {
                    (e.name.len() + 1).div_ceil(16) * 16
                }
            })
            .sum()
    }

    pub fn ready(&self) -> u32 {
        if self.queue.borrow().is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.get()
    }
}

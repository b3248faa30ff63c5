//! Named pipes (FIFOs made in the rootfs with mknod or mkfifo). The file on the host is only a
//! name: the data goes through a pipe of the sentry's (pipe.rs), one per FIFO, keyed by the
//! file's device and inode and shared by every process of the sandbox that opens it. The host
//! never opens the FIFO, so no host open can block the sentry.
//!
//! open follows Linux: O_RDWR never waits; O_RDONLY waits until a writer has opened (at once
//! with O_NONBLOCK); O_WRONLY waits until a reader has opened, and with O_NONBLOCK fails with
//! ENXIO when there is none. A waiting open keeps its end (counted, so the other side's open
//! goes through) in the task's `Opening` while the kernel's loop serves the call again.

use crate::mm::Errno;
use crate::pipe::{self, End, Pipe};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

/// The pipe of each FIFO some end holds open, by (device, inode).
type Registry = HashMap<(u64, u64), Weak<RefCell<Pipe>>>;

thread_local! {
    static FIFOS: RefCell<Registry> = RefCell::new(HashMap::new());
}

/// An open of a FIFO that waits for the other side: its end, and the other side's open count
/// when it began.
pub struct Opening {
    end: End,
    seen: u64,
}

/// The pipe of FIFO `key` (device, inode), made when no open end holds one.
fn pipe_of(key: (u64, u64)) -> Rc<RefCell<Pipe>> {
    FIFOS.with(|f| {
        let mut map = f.borrow_mut();
        if let Some(p) = map.get(&key).and_then(Weak::upgrade) {
            return p;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let p = pipe::unopened(key.1);
        map.insert(key, Rc::downgrade(&p));
        p
    })
}

/// The other side's open count for an end, and whether the other side is open now.
fn other_side(end: &End) -> (u64, bool) {
    let p = end.pipe.borrow();
    if end.reads {
        (p.write_opens, p.writers > 0)
    } else {
        (p.read_opens, p.readers > 0)
    }
}

/// Opens FIFO `key` with open(2)'s `flags`: Some(end) when open, None when the open must wait
/// (then `pending` holds it; pass it back when the call is served again).
pub fn open(
    key: (u64, u64),
    flags: i32,
    pending: &mut Option<Opening>,
) -> Result<Option<End>, Errno> {
    let pipe = pipe_of(key);
    let (reads, writes) = match flags & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        libc::O_RDWR => (true, true),
        _ => return Err(libc::EINVAL),
    };
    if let Some(op) = pending.take() {
        if Rc::ptr_eq(&op.end.pipe, &pipe) && op.end.reads == reads && op.end.writes == writes {
            let (count, open_now) = other_side(&op.end);
            if open_now || count != op.seen {
                return Ok(Some(op.end));
            }
            *pending = Some(op);
            return Ok(None);
        }
    }
    let nonblock = flags & libc::O_NONBLOCK != 0;
    if writes && !reads && nonblock && pipe.borrow().readers == 0 {
        return Err(libc::ENXIO);
    }
    let end = End::attach(&pipe, reads, writes);
    let (seen, open_now) = other_side(&end);
    if (reads && writes) || nonblock || open_now {
        return Ok(Some(end));
    }
    *pending = Some(Opening { end, seen });
    Ok(None)
}

//! Pipes: a buffer in the sentry between the open file descriptions of its two ends. Readers
//! of an empty pipe and writers of a full one wait (kernel/wait.rs); the last writer's close is
//! EOF for the readers, the last reader's close is EPIPE (and SIGPIPE) for the writers. Writes
//! of at most PIPE_BUF bytes are never split, as POSIX requires.

use crate::kernel::wait;
use crate::mm::Errno;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

pub const PIPE_BUF: usize = 4096;
/// Linux's default pipe capacity (16 pages).
pub const DEFAULT_SIZE: usize = 65536;
/// /proc/sys/fs/pipe-max-size.
pub const MAX_SIZE: usize = 1 << 20;

pub struct Pipe {
    buf: VecDeque<u8>,
    pub capacity: usize,
    pub readers: usize,
    pub writers: usize,
    /// How many times each side was opened (a FIFO's open waits for the other's count to
    /// move, as Linux's r_counter and w_counter).
    pub read_opens: u64,
    pub write_opens: u64,
    /// Its inode number, for fstat and /proc/self/fd ("pipe:[N]").
    pub ino: u64,
    /// Packet mode (pipe2's O_DIRECT): the lengths of the packets in `buf`; each write of up
    /// to PIPE_BUF bytes is one packet, and each read takes at most one (discarding what of
    /// it does not fit).
    pub packets: Option<VecDeque<usize>>,
    /// Moved on every change: [0] for readers (data written, the last writer gone), [1] for
    /// writers (room made, the last reader gone); edge-triggered epoll follows them.
    pub generation: [u64; 2],
}

/// One end of a pipe, held by an open file description; dropping it closes that end. A FIFO
/// opened O_RDWR holds both.
pub struct End {
    pub pipe: Rc<RefCell<Pipe>>,
    pub reads: bool,
    pub writes: bool,
}

/// A new pipe: (read end, write end).
pub fn new() -> (End, End) {
    thread_local! {
        static NEXT_INO: std::cell::Cell<u64> = const { std::cell::Cell::new(1000) };
    }
    let ino = NEXT_INO.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let p = unopened(ino);
    (End::attach(&p, true, false), End::attach(&p, false, true))
}

/// A pipe no one has opened yet (a FIFO's, `ino` its inode).
pub fn unopened(ino: u64) -> Rc<RefCell<Pipe>> {
    Rc::new(RefCell::new(Pipe {
        buf: VecDeque::new(),
        capacity: DEFAULT_SIZE,
        readers: 0,
        writers: 0,
        read_opens: 0,
        write_opens: 0,
        ino,
        packets: None,
        generation: [0, 0],
    }))
}

impl Drop for End {
    fn drop(&mut self) {
        let mut p = self.pipe.borrow_mut();
        if self.writes {
            p.writers -= 1;
            p.generation[0] += 1;
        }
        if self.reads {
            p.readers -= 1;
            p.generation[1] += 1;
        }
        wait::poke();
    }
}

impl End {
    /// A new open of `pipe` for reading, writing or both (those waiting for the other side
    /// to open are woken).
    pub fn attach(pipe: &Rc<RefCell<Pipe>>, reads: bool, writes: bool) -> End {
        let mut p = pipe.borrow_mut();
        if reads {
            p.readers += 1;
            p.read_opens += 1;
        }
        if writes {
            p.writers += 1;
            p.write_opens += 1;
        }
        wait::poke();
        End {
            pipe: pipe.clone(),
            reads,
            writes,
        }
    }

    /// Reads up to `max` bytes: Ok(empty) at EOF, EAGAIN when it would have to wait.
    pub fn read(&self, max: usize) -> Result<Vec<u8>, Errno> {
        let mut p = self.pipe.borrow_mut();
        if p.buf.is_empty() {
            return if p.writers == 0 {
                Ok(Vec::new())
            } else {
                Err(libc::EAGAIN)
            };
        }
        let (n, packet) = match p.packets.as_mut().and_then(|q| q.pop_front()) {
            Some(len) => (max.min(len), len),
            None => (max.min(p.buf.len()), 0),
        };
        let out: Vec<u8> = p.buf.drain(..n).collect();
        if packet > n {
            // The rest of a packet that did not fit is gone, as on Linux.
            p.buf.drain(..packet - n);
        }
        p.generation[1] += 1;
        wait::poke();
        Ok(out)
    }

    /// Writes what fits of `data` (all or nothing for at most PIPE_BUF bytes): the count,
    /// EAGAIN when nothing could be written, EPIPE with no reader left.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let mut p = self.pipe.borrow_mut();
        if p.readers == 0 {
            return Err(libc::EPIPE);
        }
        let room = p.capacity.saturating_sub(p.buf.len());
        if room == 0 || (data.len() <= PIPE_BUF && room < data.len()) {
            return Err(libc::EAGAIN);
        }
        let n = room.min(data.len());
        p.buf.extend(&data[..n]);
        if let Some(q) = p.packets.as_mut() {
            q.extend(data[..n].chunks(PIPE_BUF).map(<[u8]>::len));
        }
        p.generation[0] += 1;
        wait::poke();
        Ok(n)
    }

    /// poll's events for this end.
    pub fn ready(&self) -> i16 {
        let p = self.pipe.borrow();
        let mut ev = 0;
        if self.writes {
            // Room is writable even with no reader left (the write then fails with EPIPE).
            if p.capacity - p.buf.len().min(p.capacity) >= PIPE_BUF {
                ev |= libc::POLLOUT | libc::POLLWRNORM;
            }
            if p.readers == 0 {
                ev |= libc::POLLERR;
            }
        }
        if self.reads {
            if !p.buf.is_empty() {
                ev |= libc::POLLIN | libc::POLLRDNORM;
            }
            if p.writers == 0 {
                ev |= libc::POLLHUP;
            }
        }
        ev
    }

    /// The pipe's generations (see `Pipe::generation`).
    pub fn generation(&self) -> [u64; 2] {
        self.pipe.borrow().generation
    }

    /// Bytes a write could add now without waiting; None when no reader is left.
    pub fn room(&self) -> Option<usize> {
        let p = self.pipe.borrow();
        (p.readers > 0).then(|| p.capacity.saturating_sub(p.buf.len()))
    }

    /// Bytes waiting to be read (FIONREAD).
    pub fn queued(&self) -> usize {
        self.pipe.borrow().buf.len()
    }

    /// F_SETPIPE_SZ: the new capacity (a power-of-two number of pages, at least what is queued).
    pub fn set_capacity(&self, want: usize) -> Result<usize, Errno> {
        if want > MAX_SIZE {
            return Err(libc::EPERM);
        }
        let size = want.max(4096).next_power_of_two();
        let mut p = self.pipe.borrow_mut();
        if size < p.buf.len() {
            return Err(libc::EBUSY);
        }
        p.capacity = size;
        Ok(size)
    }
}

//! eventfd: a 64-bit counter in the sentry. A write adds to it (waiting while the sum would
//! pass 2^64-2), a read takes it all, or one in semaphore mode (waiting while it is 0).

use crate::kernel::wait;
use crate::mm::Errno;
use std::cell::Cell;

/// The largest value the counter can hold.
const MAX: u64 = u64::MAX - 1;

pub struct Counter {
    count: Cell<u64>,
    semaphore: bool,
    generation: [Cell<u64>; 2],
}

impl Counter {
    pub fn new(initial: u64, semaphore: bool) -> Counter {
        Counter {
            count: Cell::new(initial),
            semaphore,
            generation: [Cell::new(0), Cell::new(0)],
        }
    }

    /// The count changed: `side` 0 when it grew (more to read), 1 when it shrank.
    fn changed(&self, side: usize) {
        let g = &self.generation[side];
        g.set(g.get() + 1);
        wait::poke();
    }

    /// A read: the whole count (or 1 in semaphore mode); EAGAIN while it is 0.
    pub fn read(&self) -> Result<u64, Errno> {
        let n = self.count.get();
        if n == 0 {
            return Err(libc::EAGAIN);
        }
        let taken = if self.semaphore { 1 } else { n };
        self.count.set(n - taken);
        self.changed(1);
        Ok(taken)
    }

    /// A write of `v`: EINVAL for 2^64-1, EAGAIN while the sum would pass the maximum.
    pub fn write(&self, v: u64) -> Result<(), Errno> {
        if v == u64::MAX {
            return Err(libc::EINVAL);
        }
        let n = self.count.get();
        if v > MAX - n {
            return Err(libc::EAGAIN);
        }
        if v > 0 {
            self.count.set(n + v);
            self.changed(0);
        }
        Ok(())
    }

    /// poll's events: readable while the count is not 0, writable while 1 more fits.
    pub fn ready(&self) -> u32 {
        let n = self.count.get();
        let mut ev = 0;
        if n > 0 {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if n < MAX {
            ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
        }
        ev
    }

    pub fn generation(&self) -> [u64; 2] {
        [self.generation[0].get(), self.generation[1].get()]
    }

    /// The count, for /proc/self/fdinfo.
    pub fn count(&self) -> u64 {
        self.count.get()
    }
}

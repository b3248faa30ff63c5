//! timerfd: a timer read through a file description. Its expiries are counted, not
//! signalled: a read takes the count (waiting while it is 0), and poll and epoll see it
//! readable while the count is not 0. Armed timers are listed here so the kernel's loop can
//! wake at the earliest expiry and move the sandbox's epoch then (kernel/wait.rs), which serves
//! the reads, polls and epoll_waits waiting for it again. Time is the host's monotonic clock;
//! an absolute CLOCK_REALTIME expiry is converted when it is set, as kernel/timers.rs does.

use crate::kernel::wait;
use crate::mm::Errno;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

pub struct TimerFd {
    pub clock: i32,
    next: Cell<Option<Instant>>,
    interval: Cell<Duration>,
    /// Expiries not yet read.
    ticks: Cell<u64>,
    generation: Cell<u64>,
}

thread_local! {
    /// The timerfds that are armed (dead ones are dropped as they are found).
    static ARMED: RefCell<Vec<Weak<TimerFd>>> = const { RefCell::new(Vec::new()) };
}

impl TimerFd {
    pub fn new(clock: i32) -> Rc<TimerFd> {
        Rc::new(TimerFd {
            clock,
            next: Cell::new(None),
            interval: Cell::new(Duration::ZERO),
            ticks: Cell::new(0),
            generation: Cell::new(0),
        })
    }

    /// Counts the expiries up to `now` and moves the next one past it; true when any.
    fn advance(&self, now: Instant) -> bool {
        let Some(next) = self.next.get().filter(|n| *n <= now) else {
            return false;
        };
        let (missed, step) =
            crate::kernel::timers::rearm(now.duration_since(next), self.interval.get());
        self.next.set(step.and_then(|s| next.checked_add(s)));
        self.ticks.set(self.ticks.get().saturating_add(missed + 1));
        self.generation.set(self.generation.get() + 1);
        true
    }

    /// Arms the timer (`value` zero disarms it) and returns what it was: (left, interval).
    /// Unread expiries are dropped, as Linux drops them.
    pub fn set(self: &Rc<Self>, value: Duration, interval: Duration) -> (Duration, Duration) {
        let before = self.get();
        self.ticks.set(0);
        if value.is_zero() {
            self.next.set(None);
            self.interval.set(Duration::ZERO);
        } else {
            self.next.set(Some(wait::deadline_after(value)));
            self.interval.set(interval);
            ARMED.with(|a| {
                let mut a = a.borrow_mut();
                if !a.iter().any(|w| std::ptr::eq(w.as_ptr(), Rc::as_ptr(self))) {
                    a.push(Rc::downgrade(self));
                }
            });
        }
        before
    }

    /// (time to the next expiry, interval); zero when disarmed.
    pub fn get(&self) -> (Duration, Duration) {
        self.advance(Instant::now());
        match self.next.get() {
            Some(at) => (
                at.saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1)),
                self.interval.get(),
            ),
            None => (Duration::ZERO, Duration::ZERO),
        }
    }

    /// A read: the expiries since the last one; EAGAIN while there are none.
    pub fn read(&self) -> Result<u64, Errno> {
        self.advance(Instant::now());
        match self.ticks.replace(0) {
            0 => Err(libc::EAGAIN),
            n => Ok(n),
        }
    }

    /// poll's events: readable while expiries are unread.
    pub fn ready(&self) -> u32 {
        self.advance(Instant::now());
        if self.ticks.get() > 0 {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        } else {
            0
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.get()
    }
}

/// The earliest expiry of any armed timerfd, for the kernel loop's sleep.
pub fn next_expiry() -> Option<Instant> {
    ARMED.with(|a| {
        let mut a = a.borrow_mut();
        a.retain(|w| w.upgrade().is_some_and(|t| t.next.get().is_some()));
        a.iter().filter_map(|w| w.upgrade()?.next.get()).min()
    })
}

/// Counts the expiries that are due; the sandbox changed (waiters are served again) if any.
pub fn fire_due() {
    let now = Instant::now();
    let due: Vec<Rc<TimerFd>> = ARMED.with(|a| {
        a.borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|t| t.next.get().is_some_and(|n| n <= now))
            .collect()
    });
    for t in due {
        if t.advance(now) {
            wait::poke();
        }
    }
}

//! Timers that send signals: each process's interval timers (alarm and setitimer) and its
//! POSIX timers (timer_create). They live in the kernel's loop: the earliest expiry bounds the
//! loop's poll, and an expired timer sends its signal to the process (or, with
//! SIGEV_THREAD_ID, the thread) and is re-armed by its interval. Time is the host's monotonic
//! clock; a CLOCK_REALTIME timer's absolute expiry is converted when it is set (the sandbox
//! cannot set the clock, so the two do not drift apart by its doing).
//!
//! ITIMER_VIRTUAL, ITIMER_PROF and POSIX timers on the CPU-time clocks count the process's
//! CPU time as the host measures it on its stub (user time, or user and system time). While
//! one is armed the loop looks at least every `CPU_TIMER_CHECK` (a process that computes makes
//! no system calls that would wake the sentry), so they expire within that of their time, as
//! Linux's within a scheduler tick.

use super::{receiver, Kernel};
use crate::signals::{self, Info, SI_KERNEL, SI_TIMER};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The ids under which a process's interval timers are kept, beside its POSIX timers (>= 0).
pub const ITIMER_REAL_ID: i32 = -1;
pub const ITIMER_VIRTUAL_ID: i32 = -2;
pub const ITIMER_PROF_ID: i32 = -3;
/// POSIX timers per process (Linux bounds them by RLIMIT_SIGPENDING).
const TIMERS_MAX: usize = 4096;
/// How often the loop checks CPU-time timers while any is armed.
pub const CPU_TIMER_CHECK: Duration = Duration::from_millis(5);

/// The CPU time a CPU-time timer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuTime {
    /// User time (ITIMER_VIRTUAL).
    User,
    /// User and system time (ITIMER_PROF, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID).
    Total,
}

impl CpuTime {
    /// This kind of time of a process whose user and system time are `cpu`.
    pub fn of(self, cpu: super::Cpu) -> Duration {
        match self {
            CpuTime::User => cpu.user,
            CpuTime::Total => cpu.user + cpu.system,
        }
    }
}

/// What an expiry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE: nothing; the timer is only read.
    Nothing,
    /// Sends `sig` with `value` to the process, or to thread `tid`.
    Signal {
        sig: i32,
        value: u64,
        tid: Option<i32>,
    },
}

#[derive(Debug, Clone)]
pub struct Timer {
    /// The next expiry, when armed.
    pub next: Option<Instant>,
    pub interval: Duration,
    pub notify: Notify,
    /// Expiries that found the previous signal still undelivered (timer_getoverrun).
    pub overrun: i32,
    /// A CPU-time timer: what it counts, and its next expiry in that time.
    pub cpu: Option<CpuTime>,
    pub cpu_next: Option<Duration>,
    /// A POSIX timer's clock (for TIMER_ABSTIME).
    pub clock: i32,
}

impl Timer {
    pub fn new(notify: Notify) -> Timer {
        Timer {
            next: None,
            interval: Duration::ZERO,
            notify,
            overrun: 0,
            cpu: None,
            cpu_next: None,
            clock: libc::CLOCK_MONOTONIC,
        }
    }

    /// Arms the timer to expire after `value` (disarms it for zero) and every `interval`
    /// after that.
    pub fn set(&mut self, value: Duration, interval: Duration) {
        if value.is_zero() {
            self.next = None;
            self.interval = Duration::ZERO;
        } else {
            self.next = Some(super::wait::deadline_after(value));
            self.interval = interval;
        }
        self.overrun = 0;
    }

    /// A CPU-time timer: arms it to expire when its process's CPU time, `now` at present,
    /// has grown by `value` (zero disarms it), and every `interval` of it after that.
    pub fn set_cpu(&mut self, now: Duration, value: Duration, interval: Duration) {
        if value.is_zero() {
            self.cpu_next = None;
            self.interval = Duration::ZERO;
        } else {
            self.cpu_next = Some(now + value);
            self.interval = interval;
        }
        self.overrun = 0;
    }

    /// A CPU-time timer's (CPU time left, interval) when the process's is `now`.
    pub fn get_cpu(&self, now: Duration) -> (Duration, Duration) {
        match self.cpu_next {
            Some(at) => (
                at.saturating_sub(now).max(Duration::from_nanos(1)),
                self.interval,
            ),
            None => (Duration::ZERO, Duration::ZERO),
        }
    }

    /// (time left, interval): zero for a disarmed timer.
    pub fn get(&self) -> (Duration, Duration) {
        match self.next {
            Some(at) => (at.saturating_duration_since(Instant::now()), self.interval),
            None => (Duration::ZERO, Duration::ZERO),
        }
    }
}

/// Every timer of the sandbox, by (process, timer id).
#[derive(Default)]
pub struct Timers {
    map: BTreeMap<(i32, i32), Timer>,
}

impl Timers {
    pub fn get(&self, pid: i32, id: i32) -> Option<&Timer> {
        self.map.get(&(pid, id))
    }

    pub fn get_mut(&mut self, pid: i32, id: i32) -> Option<&mut Timer> {
        self.map.get_mut(&(pid, id))
    }

    /// The interval timer `id` of `pid`, created disarmed on first use.
    pub fn itimer(&mut self, pid: i32, id: i32) -> &mut Timer {
        self.map.entry((pid, id)).or_insert_with(|| {
            let mut t = Timer::new(Notify::Signal {
                sig: match id {
                    ITIMER_VIRTUAL_ID => libc::SIGVTALRM,
                    ITIMER_PROF_ID => libc::SIGPROF,
                    _ => libc::SIGALRM,
                },
                value: 0,
                tid: None,
            });
            t.cpu = match id {
                ITIMER_VIRTUAL_ID => Some(CpuTime::User),
                ITIMER_PROF_ID => Some(CpuTime::Total),
                _ => None,
            };
            t
        })
    }

    /// Adds a POSIX timer to `pid` under the lowest free id; None when it has too many.
    pub fn create(&mut self, pid: i32, mut timer: Timer) -> Option<i32> {
        if self.map.range((pid, 0)..=(pid, i32::MAX)).count() >= TIMERS_MAX {
            return None;
        }
        let id = (0..i32::MAX).find(|n| !self.map.contains_key(&(pid, *n)))?;
        if let Notify::Signal { value, .. } = &mut timer.notify {
            // No sigevent: the signal's value is the timer's id.
            if *value == u64::MAX {
                *value = id as u64;
            }
        }
        self.map.insert((pid, id), timer);
        Some(id)
    }

    pub fn delete(&mut self, pid: i32, id: i32) -> bool {
        self.map.remove(&(pid, id)).is_some()
    }

    /// A process ended: its timers go. With `keep_itimers` (execve) only its POSIX timers.
    pub fn drop_process(&mut self, pid: i32, keep_itimers: bool) {
        self.map
            .retain(|(p, id), _| *p != pid || (keep_itimers && *id < 0));
    }

    /// The earliest expiry of any armed timer; for CPU-time timers, the next check.
    pub fn next_expiry(&self) -> Option<Instant> {
        let real = self.next_real();
        let cpu = self
            .map
            .values()
            .any(|t| t.cpu_next.is_some())
            .then(|| Instant::now() + CPU_TIMER_CHECK);
        real.into_iter().chain(cpu).min()
    }

    /// The earliest expiry of a timer on a clock (not CPU time).
    fn next_real(&self) -> Option<Instant> {
        self.map.values().filter_map(|t| t.next).min()
    }

    /// The processes with an armed CPU-time timer.
    fn cpu_armed(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .map
            .iter()
            .filter(|(_, t)| t.cpu_next.is_some())
            .map(|((pid, _), _)| *pid)
            .collect();
        pids.dedup();
        pids
    }

    /// Takes the CPU-time timers of `pid` due at its CPU time `cpu`, as `due` does.
    fn cpu_due(&mut self, pid: i32, cpu: super::Cpu) -> Vec<(i32, i32, Notify, i32)> {
        let mut out = Vec::new();
        for ((p, id), t) in self.map.range_mut((pid, i32::MIN)..=(pid, i32::MAX)) {
            let (Some(kind), Some(at)) = (t.cpu, t.cpu_next) else {
                continue;
            };
            let now = kind.of(cpu);
            if at > now {
                continue;
            }
            let (missed, step) = rearm(now - at, t.interval);
            t.cpu_next = step.and_then(|s| at.checked_add(s));
            out.push((*p, *id, t.notify, overruns(missed)));
        }
        out
    }

    /// Takes the timers due at `now`: re-arms the periodic ones (counting the periods missed
    /// as overruns) and disarms the rest; returns what each must send.
    fn due(&mut self, now: Instant) -> Vec<(i32, i32, Notify, i32)> {
        let mut out = Vec::new();
        for ((pid, id), t) in self.map.iter_mut() {
            let Some(at) = t.next.filter(|at| *at <= now) else {
                continue;
            };
            let (missed, step) = rearm(now.duration_since(at), t.interval);
            t.next = step.and_then(|s| at.checked_add(s));
            out.push((*pid, *id, t.notify, overruns(missed)));
        }
        out
    }
}

/// A timer that expired `late` ago: how many more periods of `interval` it missed, and the
/// step from that expiry to its next one (None: a one-shot timer, now disarmed). POSIX timers,
/// interval timers and timerfds all re-arm by it.
pub fn rearm(late: Duration, interval: Duration) -> (u64, Option<Duration>) {
    if interval.is_zero() {
        return (0, None);
    }
    let missed = u64::try_from(late.as_nanos() / interval.as_nanos()).unwrap_or(u64::MAX - 1);
    let step = interval.as_nanos().saturating_mul(u128::from(missed) + 1);
    (
        missed,
        Some(Duration::from_nanos(
            u64::try_from(step).unwrap_or(u64::MAX),
        )),
    )
}

/// Missed periods as timer_getoverrun counts them (an int).
fn overruns(missed: u64) -> i32 {
    missed.min(i32::MAX as u64) as i32
}

impl Kernel {
    /// Sends the signals of the timers that are due.
    pub(super) fn fire_timers(&mut self) {
        let now = Instant::now();
        let cpu_armed = self.timers.cpu_armed();
        let real_due = self.timers.next_real().is_some_and(|at| at <= now);
        if !real_due && cpu_armed.is_empty() {
            return;
        }
        let mut due = self.timers.due(now);
        for pid in cpu_armed {
            if let Some(cpu) = self.cpu_of(pid) {
                due.extend(self.timers.cpu_due(pid, cpu));
            }
        }
        for (pid, id, notify, missed) in due {
            self.send_timer(pid, id, notify, missed);
        }
    }

    /// The CPU time of process `pid` (None when it is gone).
    pub fn cpu_of(&self, pid: i32) -> Option<super::Cpu> {
        self.tasks
            .values()
            .find(|x| x.pid == pid)
            .map(|x| x.stub_cpu())
    }

    /// Sends the signal of timer `id` of `pid` that expired (`missed` periods late).
    fn send_timer(&mut self, pid: i32, id: i32, notify: Notify, missed: i32) {
        let Notify::Signal { sig, value, tid } = notify else {
            return;
        };
        let to = tid.or_else(|| receiver(self.tasks.values().map(|t| &**t), pid, sig));
        let Some(x) = to.and_then(|tid| self.tasks.get_mut(&tid)) else {
            return;
        };
        if id < 0 {
            // alarm and setitimer: a signal from the kernel.
            let info = Info {
                code: SI_KERNEL,
                ..Info::default()
            };
            signals::send_to_process(x, sig, info);
            return;
        }
        // Still undelivered from the last expiry: one more overrun instead of a second
        // signal, as Linux counts them.
        if let Some(queued) = x.signals.queued_timer(sig, id) {
            queued.uid = queued.uid.saturating_add(1 + missed as u32);
            return;
        }
        let info = Info {
            code: SI_TIMER,
            pid: id,
            uid: missed as u32,
            value,
            ..Info::default()
        };
        if let Some(t) = self.timers.get_mut(pid, id) {
            t.overrun = missed;
        }
        if tid.is_some() {
            signals::send_info(x, sig, info);
        } else {
            signals::send_to_process(x, sig, info);
        }
    }
}

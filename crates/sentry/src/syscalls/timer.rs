//! Timers: those that send signals (kernel/timers.rs keeps and fires them): alarm, setitimer
//! and getitimer, and the POSIX timer_* calls; and those read through a descriptor, timerfd_*
//! (timerfd.rs).

use super::*;
use crate::kernel::timers::{
    CpuTime, Notify, Timer, ITIMER_PROF_ID, ITIMER_REAL_ID, ITIMER_VIRTUAL_ID,
};
use std::time::Duration;

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;

/// alarm(secs): ITIMER_REAL set to `secs` without an interval; returns the seconds the old
/// alarm had left, rounded to the nearest and at least 1 if any time was left (as Linux).
pub(super) fn alarm(k: &mut Kernel, t: &mut Task, secs: u32) -> R {
    let timer = k.timers.itimer(t.pid, ITIMER_REAL_ID);
    let (left, _) = timer.get();
    timer.set(Duration::from_secs(u64::from(secs)), Duration::ZERO);
    let mut s = left.as_secs();
    if (s == 0 && !left.is_zero()) || left.subsec_micros() >= 500_000 {
        s += 1;
    }
    Ok(s as i64)
}

fn itimer_id(which: i32) -> Result<i32, Errno> {
    match which {
        ITIMER_REAL => Ok(ITIMER_REAL_ID),
        ITIMER_VIRTUAL => Ok(ITIMER_VIRTUAL_ID),
        ITIMER_PROF => Ok(ITIMER_PROF_ID),
        _ => Err(EINVAL),
    }
}

/// A struct timeval, checked as Linux checks setitimer's.
fn read_timeval(t: &Task, addr: u64) -> Result<Duration, Errno> {
    let (s, us) = (t.mm.read_u64(addr)? as i64, t.mm.read_u64(addr + 8)? as i64);
    if s < 0 || !(0..1_000_000).contains(&us) {
        return Err(EINVAL);
    }
    Ok(Duration::new(s as u64, us as u32 * 1000))
}

/// A struct itimerval (interval, value) as bytes; a value of less than a microsecond left
/// reads as one, so an armed timer never reads as disarmed.
fn itimerval_bytes((value, interval): (Duration, Duration)) -> Vec<u8> {
    let us = |d: Duration| {
        let mut us = d.subsec_micros() as i64;
        if d.as_secs() == 0 && us == 0 && !d.is_zero() {
            us = 1;
        }
        time::timespec_bytes(d.as_secs() as i64, us)
    };
    let mut b = us(interval);
    b.extend(us(value));
    b
}

/// A timer of `t`'s process: (time left, interval), on its clock or in the process's CPU
/// time (read from `t`'s stub: the task being served is not in the kernel's table).
fn timer_value(k: &mut Kernel, t: &Task, id: i32) -> Option<(Duration, Duration)> {
    let cpu = t.stub_cpu();
    let timer = k.timers.get(t.pid, id)?;
    Some(match timer.cpu {
        Some(kind) => timer.get_cpu(kind.of(cpu)),
        None => timer.get(),
    })
}

/// Arms timer `id` of `t`'s process for `value` (relative) and `interval`; returns what it
/// was.
fn arm(k: &mut Kernel, t: &Task, id: i32, value: Duration, interval: Duration) -> R2 {
    let before = timer_value(k, t, id).ok_or(EINVAL)?;
    let cpu = t.stub_cpu();
    let timer = k.timers.get_mut(t.pid, id).ok_or(EINVAL)?;
    match timer.cpu {
        Some(kind) => timer.set_cpu(kind.of(cpu), value, interval),
        None => timer.set(value, interval),
    }
    Ok(before)
}

type R2 = Result<(Duration, Duration), Errno>;

pub(super) fn getitimer(k: &mut Kernel, t: &mut Task, which: i32, cur: u64) -> R {
    let id = itimer_id(which)?;
    k.timers.itimer(t.pid, id);
    let v = timer_value(k, t, id).ok_or(EINVAL)?;
    put(t, cur, &itimerval_bytes(v)).map(|_| 0)
}

/// setitimer: a NULL new value disarms, as Linux still accepts it.
pub(super) fn setitimer(k: &mut Kernel, t: &mut Task, which: i32, new: u64, old: u64) -> R {
    let id = itimer_id(which)?;
    let (interval, value) = if new == 0 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (read_timeval(t, new)?, read_timeval(t, new + 16)?)
    };
    k.timers.itimer(t.pid, id);
    let before = arm(k, t, id, value, interval)?;
    if old != 0 {
        put(t, old, &itimerval_bytes(before))?;
    }
    Ok(0)
}

/// timer_create: CLOCK_REALTIME, MONOTONIC and BOOTTIME timers, and timers on the CPU-time
/// clocks, which count the process's CPU time (a thread's clock counts its process's).
pub(super) fn timer_create(k: &mut Kernel, t: &mut Task, clock: i32, sev: u64, id_out: u64) -> R {
    match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI => {}
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {}
        CLOCK_MONOTONIC_RAW | CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => {
            return Err(EOPNOTSUPP)
        }
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(EPERM),
        _ => return Err(EINVAL),
    }
    let notify = if sev == 0 {
        // The value u64::MAX stands for "the timer's id" until the id is known.
        Notify::Signal {
            sig: SIGALRM,
            value: u64::MAX,
            tid: None,
        }
    } else {
        read_sigevent(k, t, sev)?
    };
    let mut timer = Timer::new(notify);
    timer.clock = clock;
    if matches!(clock, CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID) {
        timer.cpu = Some(CpuTime::Total);
    }
    let id = k.timers.create(t.pid, timer).ok_or(EAGAIN)?;
    if let Err(e) = put(t, id_out, &id.to_le_bytes()) {
        k.timers.delete(t.pid, id);
        return Err(e);
    }
    Ok(0)
}

/// A struct sigevent: value (8), signo (4), notify (4), then the thread id.
fn read_sigevent(k: &mut Kernel, t: &mut Task, sev: u64) -> Result<Notify, Errno> {
    let b = t.mm.read_vec(sev, 20)?;
    let value = u64::from_le_bytes(b[0..8].try_into().map_err(|_| EFAULT)?);
    let sig = i32::from_le_bytes(b[8..12].try_into().map_err(|_| EFAULT)?);
    let how = i32::from_le_bytes(b[12..16].try_into().map_err(|_| EFAULT)?);
    let tid = i32::from_le_bytes(b[16..20].try_into().map_err(|_| EFAULT)?);
    let good_signal = (1..=64).contains(&sig);
    match how {
        SIGEV_NONE => Ok(Notify::Nothing),
        SIGEV_SIGNAL if good_signal => Ok(Notify::Signal {
            sig,
            value,
            tid: None,
        }),
        SIGEV_THREAD_ID if good_signal => {
            // The thread must be one of the caller's process.
            let pid = t.pid;
            let ours = k.task_mut(t, tid).is_some_and(|x| x.pid == pid);
            if tid <= 0 || !ours {
                return Err(EINVAL);
            }
            Ok(Notify::Signal {
                sig,
                value,
                tid: Some(tid),
            })
        }
        _ => Err(EINVAL),
    }
}

/// A struct itimerspec (interval, value) as bytes.
fn itimerspec_bytes((value, interval): (Duration, Duration)) -> Vec<u8> {
    let mut b = timespec_of(interval);
    b.extend(timespec_of(value));
    b
}

pub(super) fn timer_settime(
    k: &mut Kernel,
    t: &mut Task,
    id: i32,
    flags: i32,
    new: u64,
    old: u64,
) -> R {
    let timer = k.timers.get(t.pid, id).ok_or(EINVAL)?;
    let (clock, cpu) = (timer.clock, timer.cpu);
    if new == 0 {
        return Err(EINVAL);
    }
    let (is, ins) = time::read_timespec(t, new)?;
    let (vs, vns) = time::read_timespec(t, new + 16)?;
    let interval = Duration::new(is as u64, ins as u32);
    let mut value = Duration::new(vs as u64, vns as u32);
    if flags & TIMER_ABSTIME != 0 && !value.is_zero() {
        // Absolute on the timer's clock; a time already past expires at once.
        let left = match cpu {
            Some(kind) => value.saturating_sub(kind.of(t.stub_cpu())),
            None => time::until(clock, value)?,
        };
        value = left.max(Duration::from_nanos(1));
    }
    let before = arm(k, t, id, value, interval)?;
    if old != 0 {
        put(t, old, &itimerspec_bytes(before))?;
    }
    Ok(0)
}

pub(super) fn timer_gettime(k: &mut Kernel, t: &mut Task, id: i32, cur: u64) -> R {
    let v = timer_value(k, t, id).ok_or(EINVAL)?;
    put(t, cur, &itimerspec_bytes(v)).map(|_| 0)
}

pub(super) fn timer_getoverrun(k: &mut Kernel, t: &mut Task, id: i32) -> R {
    Ok(i64::from(k.timers.get(t.pid, id).ok_or(EINVAL)?.overrun))
}

pub(super) fn timer_delete(k: &mut Kernel, t: &mut Task, id: i32) -> R {
    if k.timers.delete(t.pid, id) {
        Ok(0)
    } else {
        Err(EINVAL)
    }
}

const TFD_TIMER_ABSTIME: i32 = 1;
const TFD_TIMER_CANCEL_ON_SET: i32 = 2;

/// timerfd_create: a timer on CLOCK_REALTIME, CLOCK_MONOTONIC or CLOCK_BOOTTIME (the _ALARM
/// clocks need CAP_WAKE_ALARM: EPERM); flags TFD_CLOEXEC and TFD_NONBLOCK.
pub(super) fn timerfd_create(t: &mut Task, clock: i32, flags: i32) -> R {
    if flags & !(TFD_CLOEXEC | TFD_NONBLOCK) != 0 {
        return Err(EINVAL);
    }
    match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(EPERM),
        _ => return Err(EINVAL),
    }
    let node = Node::TimerFd(crate::timerfd::TimerFd::new(clock));
    let f = wrap(node, O_RDWR | (flags & O_NONBLOCK), "anon_inode:[timerfd]");
    t.fds.install(f, flags & TFD_CLOEXEC != 0, 0).map(i64::from)
}

/// The timer of timerfd `fd`: EBADF when not open, EINVAL when not a timerfd.
fn timerfd_of(t: &Task, fd: i32) -> Result<std::rc::Rc<crate::timerfd::TimerFd>, Errno> {
    match &t.fds.get(fd)?.borrow().node {
        Node::TimerFd(timer) => Ok(timer.clone()),
        _ => Err(EINVAL),
    }
}

/// timerfd_settime: arms (relative, or absolute on the timer's clock with TFD_TIMER_ABSTIME)
/// or disarms the timer; the old setting goes to `old`. TFD_TIMER_CANCEL_ON_SET is accepted:
/// the sandbox cannot set the clock, so it never cancels.
pub(super) fn timerfd_settime(t: &mut Task, fd: i32, flags: i32, new: u64, old: u64) -> R {
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(EINVAL);
    }
    let timer = timerfd_of(t, fd)?;
    if new == 0 {
        return Err(EFAULT);
    }
    let (is, ins) = time::read_timespec(t, new)?;
    let (vs, vns) = time::read_timespec(t, new + 16)?;
    let interval = Duration::new(is as u64, ins as u32);
    let mut value = Duration::new(vs as u64, vns as u32);
    if flags & TFD_TIMER_ABSTIME != 0 && !value.is_zero() {
        // A time already past expires at once.
        value = time::until(timer.clock, value)?.max(Duration::from_nanos(1));
    }
    let before = timer.set(value, interval);
    if old != 0 {
        put(t, old, &itimerspec_bytes(before))?;
    }
    Ok(0)
}

pub(super) fn timerfd_gettime(t: &mut Task, fd: i32, cur: u64) -> R {
    let v = timerfd_of(t, fd)?.get();
    put(t, cur, &itimerspec_bytes(v)).map(|_| 0)
}

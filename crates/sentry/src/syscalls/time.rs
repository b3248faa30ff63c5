//! Clocks and sleeping.

use super::*;

pub(super) fn timespec_bytes(s: i64, ns: i64) -> Vec<u8> {
    let mut b = s.to_le_bytes().to_vec();
    b.extend_from_slice(&ns.to_le_bytes());
    b
}

/// clock_gettime: the host's clocks, and the CPU-time clocks of the calling process and
/// thread as measured on their stubs. Other processes' CPU clocks (negative ids) are EINVAL.
pub(super) fn clock_gettime(k: &mut Kernel, t: &mut Task, clock: i32, buf: u64) -> R {
    let d = match clock {
        CLOCK_PROCESS_CPUTIME_ID => total(k.process_cpu(t, false)),
        // A thread's own clock reads its process's (Task::stub_cpu says why).
        CLOCK_THREAD_CPUTIME_ID => total(t.stub_cpu()),
        c if c < 0 => return Err(EINVAL),
        c => clock_now(c)?,
    };
    put(t, buf, &timespec_of(d)).map(|_| 0)
}

/// clock_getres: 1 ns for every clock the sandbox has (as Linux's high-resolution clocks),
/// the coarse clocks' tick excepted.
pub(super) fn clock_getres(t: &mut Task, clock: i32, buf: u64) -> R {
    let ns = match clock {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => 4_000_000,
        CLOCK_REALTIME
        | CLOCK_MONOTONIC
        | CLOCK_MONOTONIC_RAW
        | CLOCK_BOOTTIME
        | CLOCK_TAI
        | CLOCK_PROCESS_CPUTIME_ID
        | CLOCK_THREAD_CPUTIME_ID => 1,
        _ => return Err(EINVAL),
    };
    if buf != 0 {
        put(t, buf, &timespec_bytes(0, ns))?;
    }
    Ok(0)
}

fn total(c: crate::kernel::Cpu) -> std::time::Duration {
    c.user + c.system
}

/// Clock ticks (USER_HZ, 100 a second), as times() counts.
fn ticks(d: std::time::Duration) -> i64 {
    (d.as_millis() / 10) as i64
}

/// times: the process's and its reaped children's CPU time in ticks; returns ticks since
/// boot.
pub(super) fn times(k: &mut Kernel, t: &mut Task, buf: u64) -> R {
    if buf != 0 {
        let (me, children) = (k.process_cpu(t, false), k.process_cpu(t, true));
        let mut b = Vec::with_capacity(32);
        for d in [me.user, me.system, children.user, children.system] {
            b.extend_from_slice(&ticks(d).to_le_bytes());
        }
        put(t, buf, &b)?;
    }
    Ok(ticks(clock_now(CLOCK_BOOTTIME)?))
}

/// getrusage: CPU time of the process, its reaped children or the thread, and the
/// process's resident memory.
pub(super) fn getrusage(k: &mut Kernel, t: &mut Task, who: i32, buf: u64) -> R {
    let cpu = match who {
        RUSAGE_SELF => k.process_cpu(t, false),
        RUSAGE_CHILDREN => k.process_cpu(t, true),
        RUSAGE_THREAD => t.stub_cpu(),
        _ => return Err(EINVAL),
    };
    let rss = if who == RUSAGE_CHILDREN {
        0
    } else {
        t.mm.resident() / 1024
    };
    put(t, buf, &process::rusage_bytes(cpu, rss)).map(|_| 0)
}

pub(super) fn gettimeofday(t: &mut Task, buf: u64) -> R {
    if buf != 0 {
        let (s, ns) = crate::host::clock_gettime(CLOCK_REALTIME).map_err(err)?;
        put(t, buf, &timespec_bytes(s, ns / 1000))?;
    }
    Ok(0)
}

pub(super) fn time(t: &mut Task, buf: u64) -> R {
    let (s, _) = crate::host::clock_gettime(CLOCK_REALTIME).map_err(err)?;
    if buf != 0 {
        put(t, buf, &s.to_le_bytes())?;
    }
    Ok(s)
}

/// `clock`'s time now, as a duration since its epoch.
pub(super) fn clock_now(clock: i32) -> Result<std::time::Duration, Errno> {
    let (s, ns) = crate::host::clock_gettime(clock).map_err(err)?;
    Ok(std::time::Duration::new(s.max(0) as u64, ns as u32))
}

/// How long until `when` on `clock`: zero once it has passed.
pub(super) fn until(clock: i32, when: std::time::Duration) -> Result<std::time::Duration, Errno> {
    Ok(when.saturating_sub(clock_now(clock)?))
}

/// A timespec argument, checked as the kernel checks it.
pub(super) fn read_timespec(t: &Task, addr: u64) -> Result<(i64, i64), Errno> {
    let (s, ns) = (t.mm.read_u64(addr)? as i64, t.mm.read_u64(addr + 8)? as i64);
    if !(0..1_000_000_000).contains(&ns) || s < 0 {
        return Err(EINVAL);
    }
    Ok((s, ns))
}

/// clock_nanosleep: relative, or with TIMER_ABSTIME until a deadline of `clock` (python's
/// time.sleep and glibc's sleep use it). The task waits in the kernel's loop (no host call, no
/// CPU); a handled signal ends the sleep with EINTR and, for a relative sleep, the time left
/// in `rem`. A CPU-time clock is refused (EINVAL) as
/// the container class's kernel refuses it for a thread's own clock; flag bits other than
/// TIMER_ABSTIME are ignored, as Linux ignores them.
pub(super) fn clock_nanosleep(t: &mut Task, clock: i32, flags: i32, req: u64, rem: u64) -> R {
    if !matches!(
        clock,
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI
    ) {
        return Err(EINVAL);
    }
    let (s, ns) = read_timespec(t, req)?;
    let want = std::time::Duration::new(s as u64, ns as u32);
    let left = if flags & TIMER_ABSTIME != 0 {
        until(clock, want)?
    } else {
        want
    };
    if left.is_zero() {
        return Ok(0);
    }
    let deadline = crate::kernel::wait::deadline_after(left);
    Err(t.block(crate::kernel::wait::Wait {
        // Linux writes the time left only for a relative sleep.
        kind: crate::kernel::wait::WaitKind::Sleep {
            rem: if flags & TIMER_ABSTIME != 0 { 0 } else { rem },
        },
        deadline: Some((deadline, 0)),
        host_fds: Vec::new(),
    }))
}

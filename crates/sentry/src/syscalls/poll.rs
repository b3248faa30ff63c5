//! Waiting for descriptors to be ready: poll, ppoll, select and pselect6, over one readiness
//! check. A call with nothing ready waits in the kernel's loop (served again when anything in
//! the sandbox changes, or when a watched stdio fd of the container is ready) until its
//! timeout.

use super::*;
use crate::kernel::wait::{deadline_after, Wait, WaitKind, WOULD_BLOCK};
use crate::ready;
use std::time::{Duration, Instant};

/// A descriptor and poll events: what is asked about, or a host fd to watch.
type FdEvents = (i32, i16);

/// The events of each (fd, wanted events) now, and the host fds (the container's stdio) to
/// watch while waiting (ready.rs). A negative fd is skipped; one that is not open is POLLNVAL.
fn readiness(t: &Task, want: &[FdEvents]) -> (Vec<i16>, Vec<FdEvents>) {
    ready::set_reader(t.signals.pending);
    let always = POLLHUP | POLLERR;
    let mut host = Vec::new();
    let out = want
        .iter()
        .map(|&(fd, events)| match t.fds.get(fd) {
            _ if fd < 0 => 0,
            Err(_) => POLLNVAL,
            Ok(f) => {
                let r = f.try_borrow().map(|f| ready::of(&f, 0)).unwrap_or_default();
                if let Some(h) = r.host {
                    host.push((h, events));
                }
                r.events as i16 & (events | always)
            }
        })
        .collect();
    (out, host)
}

/// Nothing is ready: wait (for `timeout_ms`, or without end when negative); the call
/// returns 0 when the time is up.
pub(super) fn wait(t: &mut Task, timeout_ms: i64, host_fds: Vec<FdEvents>) -> R {
    let deadline = (timeout_ms > 0).then(|| {
        *t.deadline
            .get_or_insert(deadline_after(Duration::from_millis(timeout_ms as u64)))
    });
    if deadline.is_some_and(|d| d <= Instant::now()) {
        return Ok(0);
    }
    Err(t.block(Wait {
        kind: WaitKind::Ready,
        deadline: deadline.map(|d| (d, 0)),
        host_fds,
    }))
}

pub(super) fn poll(t: &mut Task, fds: u64, n: u64, timeout_ms: i64) -> R {
    // Linux refuses more entries than RLIMIT_NOFILE allows descriptors.
    if n > t.fds.limit() {
        return Err(EINVAL);
    }
    let raw = t.mm.read_vec(fds, n as usize * 8)?;
    let want: Vec<FdEvents> = raw
        .chunks_exact(8)
        .map(|e| {
            let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            (fd, i16::from_le_bytes([e[4], e[5]]))
        })
        .collect();
    let (revents, host) = readiness(t, &want);
    let mut out = raw;
    for (i, r) in revents.iter().enumerate() {
        out[i * 8 + 6..i * 8 + 8].copy_from_slice(&r.to_le_bytes());
    }
    put(t, fds, &out)?;
    let ready = revents.iter().filter(|r| **r != 0).count() as i64;
    if ready > 0 || timeout_ms == 0 {
        return Ok(ready);
    }
    wait(t, timeout_ms, host)
}

/// ppoll: poll with a timespec timeout and a signal mask to wait with.
pub(super) fn ppoll(t: &mut Task, a: [u64; 6]) -> R {
    let timeout = timespec_ms(t, a[2])?;
    let mask = call_mask(t, a[3], a[4])?;
    let res = poll(t, a[0], a[1], timeout);
    with_mask(t, res, timeout, mask)
}

/// What ppoll and pselect6 answer, having found `res` with `timeout_ms`, when they wait with
/// `mask`: their wait takes the mask; and with a timeout of 0 and nothing ready they take it
/// too, for an instant, so that a pending signal it unblocks interrupts them (EINTR, the
/// handler runs), as on Linux.
fn with_mask(t: &mut Task, res: R, timeout_ms: i64, mask: Option<u64>) -> R {
    match res {
        Err(WOULD_BLOCK) => wait_with_mask(t, mask),
        Ok(0) if timeout_ms == 0 && mask.is_some() => {
            wait_with_mask(t, mask);
            return Err(t.block(Wait {
                kind: WaitKind::Ready,
                deadline: Some((Instant::now(), 0)),
                host_fds: Vec::new(),
            }));
        }
        _ => {}
    }
    res
}

/// A timespec timeout in milliseconds, rounded up (-1: none).
pub(super) fn timespec_ms(t: &mut Task, addr: u64) -> Result<i64, Errno> {
    if addr == 0 {
        return Ok(-1);
    }
    let (s, ns) = time::read_timespec(t, addr)?;
    Ok(s.saturating_mul(1000)
        .saturating_add((ns + 999_999) / 1_000_000))
}

/// The signal mask ppoll, pselect6 and epoll_pwait wait with: a sigset at `set` of `size`
/// bytes (None: the task's own). SIGKILL and SIGSTOP stay unblocked.
pub(super) fn call_mask(t: &mut Task, set: u64, size: u64) -> Result<Option<u64>, Errno> {
    if set == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(EINVAL);
    }
    let unblockable = (1u64 << (SIGKILL - 1)) | (1u64 << (SIGSTOP - 1));
    Ok(Some(t.mm.read_u64(set)? & !unblockable))
}

/// The call waits with `mask`; the old one is back when the call ends (signals/mod.rs).
pub(super) fn wait_with_mask(t: &mut Task, mask: Option<u64>) {
    if let Some(m) = mask {
        if t.saved_mask.is_none() {
            t.saved_mask = Some(t.signals.mask);
        }
        t.signals.mask = m;
    }
}

/// The readiness select asks about for each kind of set: read, write, exceptional.
const SELECT_IN: i16 = POLLIN | POLLRDNORM | POLLHUP | POLLERR;
const SELECT_OUT: i16 = POLLOUT | POLLWRNORM | POLLERR;
const SELECT_EX: i16 = POLLPRI;

/// select (timeval timeout) and pselect6 (timespec timeout, and a signal mask to wait with):
/// the three fd_sets of `nfds` bits, answered with the ready ones; EBADF for a descriptor
/// that is not open.
pub(super) fn select(t: &mut Task, a: [u64; 6], pselect: bool) -> R {
    let ptrs = [a[1], a[2], a[3]];
    if (a[0] as i32) < 0 {
        return Err(EINVAL);
    }
    // Linux looks no further than the descriptors the process can have.
    let nfds = (a[0] as i32).min(t.fds.limit().min(i32::MAX as u64) as i32);
    let timeout_ms = select_timeout(t, a[4], pselect)?;
    let mask = if pselect {
        pselect_mask(t, a[5])?
    } else {
        None
    };
    let words = (nfds as usize).div_ceil(64);
    let sets = match t.select_sets.take() {
        Some(s) => s,
        None => {
            let mut s: [Vec<u64>; 3] = Default::default();
            for (set, &p) in s.iter_mut().zip(&ptrs) {
                *set = vec![0u64; words];
                for (w, word) in set.iter_mut().enumerate().filter(|_| p != 0) {
                    *word = t.mm.read_u64(p + 8 * w as u64)?;
                }
            }
            s
        }
    };
    let bit = |set: &[u64], fd: i32| set[fd as usize / 64] & (1 << (fd % 64)) != 0;
    let mut want = Vec::new();
    for fd in 0..nfds {
        let mut ev = 0;
        for (set, kind) in sets.iter().zip([SELECT_IN, SELECT_OUT, SELECT_EX]) {
            if bit(set, fd) {
                ev |= kind & !(POLLHUP | POLLERR);
            }
        }
        if ev != 0 {
            t.fds.get(fd)?;
            want.push((fd, ev));
        }
    }
    let (revents, host) = readiness(t, &want);
    let mut out: [Vec<u64>; 3] = [vec![0; words], vec![0; words], vec![0; words]];
    let mut count = 0;
    for (&(fd, _), r) in want.iter().zip(&revents) {
        for ((set, o), kind) in sets
            .iter()
            .zip(out.iter_mut())
            .zip([SELECT_IN, SELECT_OUT, SELECT_EX])
        {
            if bit(set, fd) && r & kind != 0 {
                o[fd as usize / 64] |= 1 << (fd % 64);
                count += 1;
            }
        }
    }
    // The sets are written now, ready or not: a timeout leaves them empty.
    for (o, &p) in out.iter().zip(&ptrs).filter(|(_, p)| **p != 0) {
        let bytes: Vec<u8> = o.iter().flat_map(|w| w.to_le_bytes()).collect();
        put(t, p, &bytes)?;
    }
    if count > 0 || timeout_ms == 0 {
        return with_mask(t, Ok(count), timeout_ms, mask);
    }
    t.select_sets = Some(sets);
    wait_with_mask(t, mask);
    wait(t, timeout_ms, host)
}

/// select's struct timeval or pselect6's struct timespec, in milliseconds (-1: none).
fn select_timeout(t: &mut Task, addr: u64, pselect: bool) -> Result<i64, Errno> {
    if addr == 0 {
        return Ok(-1);
    }
    if pselect {
        return timespec_ms(t, addr);
    }
    let (s, us) = (t.mm.read_u64(addr)? as i64, t.mm.read_u64(addr + 8)? as i64);
    if s < 0 || us < 0 {
        return Err(EINVAL);
    }
    Ok(s.saturating_mul(1000).saturating_add((us + 999) / 1000))
}

/// pselect6's sixth argument: a pointer to {sigset pointer, its size}.
fn pselect_mask(t: &mut Task, addr: u64) -> Result<Option<u64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let (set, size) = (t.mm.read_u64(addr)?, t.mm.read_u64(addr + 8)?);
    call_mask(t, set, size)
}

//! Signal calls: dispositions, masks, sending, waiting for one (signals.rs delivers).

use super::*;

pub(super) fn sigaction(t: &mut Task, sig: usize, act: u64, old: u64) -> R {
    // Anyone may read SIGKILL's and SIGSTOP's disposition; no one may change it.
    let fixed = sig == SIGKILL as usize || sig == SIGSTOP as usize;
    if sig == 0 || sig > 64 || (fixed && act != 0) {
        return Err(EINVAL);
    }
    if old != 0 {
        let cur = t.signals.actions.borrow()[sig];
        put(t, old, &cur)?;
    }
    if act != 0 {
        let mut a = [0u8; 32];
        t.mm.read(act, &mut a)?;
        t.signals.actions.borrow_mut()[sig] = a;
    }
    Ok(0)
}

pub(super) fn sigprocmask(t: &mut Task, how: i32, set: u64, old: u64) -> R {
    if old != 0 {
        let m = t.signals.mask;
        put(t, old, &m.to_le_bytes())?;
    }
    if set != 0 {
        let s = t.mm.read_u64(set)? & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
        t.signals.mask = match how {
            SIG_BLOCK => t.signals.mask | s,
            SIG_UNBLOCK => t.signals.mask & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        };
    }
    Ok(0)
}

/// kill(pid, sig): one process, the caller's process group (0), every process but pid 1 and
/// the caller (-1), or process group -pid. Signal 0 only checks that there is a target.
pub(super) fn kill(k: &mut Kernel, t: &mut Task, pid: i32, sig: i32) -> R {
    // Linux finds the targets before it checks the signal: a bad signal to no one is ESRCH.
    let bad_signal = !(0..=64).contains(&sig);
    if pid == i32::MIN {
        return Err(ESRCH);
    }
    let me = t.pid;
    let mut targets: Vec<i32> = k
        .tasks
        .values()
        .filter(|x| x.tid == x.pid || !k.tasks.contains_key(&x.pid))
        .map(|x| (x.pid, x.pgid))
        .chain(std::iter::once((t.pid, t.pgid)))
        .filter(|(p, g)| match pid {
            p0 if p0 > 0 => *p == p0,
            0 => *g == t.pgid,
            -1 => *p != 1 && *p != me,
            n => *g == -n,
        })
        .map(|(p, _)| p)
        .collect();
    // A zombie can still be signalled (to no effect).
    if targets.is_empty() && pid > 0 && k.zombies.contains_key(&pid) {
        return if bad_signal { Err(EINVAL) } else { Ok(0) };
    }
    if targets.is_empty() {
        return Err(ESRCH);
    }
    if bad_signal {
        return Err(EINVAL);
    }
    targets.sort_unstable();
    targets.dedup();
    let info = crate::signals::Info {
        code: crate::signals::SI_USER,
        pid: me,
        uid: t.creds.uids.real,
        ..Default::default()
    };
    if sig != 0 {
        for p in targets {
            if let Some(x) = k.thread_for(t, p, sig) {
                crate::signals::send_to_process(x, sig, info);
            }
        }
    }
    Ok(0)
}

/// tgkill(tgid, tid, sig) / tkill(tid, sig, no tgid): one thread.
pub(super) fn tkill(k: &mut Kernel, t: &mut Task, tgid: Option<i32>, tid: i32, sig: i32) -> R {
    if tgid.is_some_and(|g| g <= 0) || tid <= 0 || !(0..=64).contains(&sig) {
        return Err(EINVAL);
    }
    let info = crate::signals::Info {
        code: SI_TKILL,
        pid: t.pid,
        uid: t.creds.uids.real,
        ..Default::default()
    };
    let x = k.task_mut(t, tid).ok_or(ESRCH)?;
    if tgid.is_some_and(|g| x.pid != g) {
        return Err(ESRCH);
    }
    if sig != 0 {
        crate::signals::send_info(x, sig, info);
    }
    Ok(0)
}

/// siginfo's si_code for tkill/tgkill.
const SI_TKILL: i32 = -6;

/// rt_sigsuspend: waits with `set` as the mask until a signal runs a handler or ends the task;
/// the handler returns to the old mask.
pub(super) fn sigsuspend(t: &mut Task, set: u64, size: u64) -> R {
    if size != 8 {
        return Err(EINVAL);
    }
    let new = t.mm.read_u64(set)? & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    if t.saved_mask.is_none() {
        t.saved_mask = Some(t.signals.mask);
    }
    t.signals.mask = new;
    Err(pause(t).unwrap_err())
}

pub(super) fn pause(t: &mut Task) -> R {
    Err(t.block(crate::kernel::wait::Wait {
        kind: crate::kernel::wait::WaitKind::Pause,
        deadline: None,
        host_fds: Vec::new(),
    }))
}

/// rt_sigpending: the blocked signals pending for the thread or for its process.
pub(super) fn sigpending(k: &mut Kernel, t: &mut Task, set: u64, size: u64) -> R {
    if size > 8 {
        return Err(EINVAL);
    }
    let process = k
        .tasks
        .values()
        .filter(|x| x.pid == t.pid)
        .fold(0, |acc, x| acc | (x.signals.group & x.signals.pending));
    let p = (t.signals.pending | process) & t.signals.mask;
    put(t, set, &p.to_le_bytes()[..size as usize]).map(|_| 0)
}

/// sigaltstack: the old stack is reported as seen from the caller's stack pointer; a new one
/// may not be set while running on the current one (EPERM), and is checked as Linux checks it.
pub(super) fn sigaltstack(t: &mut Task, ss: u64, old: u64) -> R {
    let rsp = t.regs.rsp;
    let before = t.signals.altstack;
    if ss != 0 {
        let b = t.mm.read_vec(ss, 24)?;
        if before.on(rsp) {
            return Err(EPERM);
        }
        t.signals.altstack = crate::signals::AltStack::parse(&b)?;
    }
    if old != 0 {
        put(t, old, &before.bytes(rsp))?;
    }
    Ok(0)
}

/// The first pending signal of `set` for `t`: its own, or one sent to its process that
/// another thread holds. Taken off the queue.
fn take_pending(k: &mut Kernel, t: &mut Task, set: u64) -> Option<(i32, crate::signals::Info)> {
    let own = t.signals.pending & set;
    let pid = t.pid;
    let others = k.tasks.values().filter(|x| x.pid == pid).fold(0, |acc, x| {
        acc | (x.signals.group & x.signals.pending & set)
    });
    let ready = own | others;
    if ready == 0 {
        return None;
    }
    let sig = ready.trailing_zeros() as i32 + 1;
    if own & (1 << (sig - 1)) != 0 {
        return t.signals.dequeue(sig).map(|i| (sig, i));
    }
    let x = k
        .tasks
        .values_mut()
        .find(|x| x.pid == pid && x.signals.group & (1 << (sig - 1)) != 0)?;
    x.signals.dequeue(sig).map(|i| (sig, i))
}

/// rt_sigtimedwait: takes a pending signal of `set` (blocked or not) without running its
/// handler, waiting for one up to the timeout (EAGAIN after it); a handled signal outside the
/// set interrupts it with EINTR, never a restart.
pub(super) fn sigtimedwait(k: &mut Kernel, t: &mut Task, a: [u64; 6]) -> R {
    let (set, info, timeout, size) = (a[0], a[1], a[2], a[3]);
    if size != 8 {
        return Err(EINVAL);
    }
    let set = t.mm.read_u64(set)? & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    let left = if timeout == 0 {
        None
    } else {
        let (s, ns) = time::read_timespec(t, timeout)?;
        Some(std::time::Duration::new(s as u64, ns as u32))
    };
    if let Some((sig, si)) = take_pending(k, t, set) {
        if info != 0 {
            put(t, info, &crate::signals::siginfo(sig, &si))?;
        }
        return Ok(i64::from(sig));
    }
    let now = std::time::Instant::now();
    let deadline = left.map(|d| {
        *t.deadline
            .get_or_insert(crate::kernel::wait::deadline_after(d))
    });
    if deadline.is_some_and(|d| d <= now) {
        return Err(EAGAIN);
    }
    Err(t.block(crate::kernel::wait::Wait {
        kind: crate::kernel::wait::WaitKind::SigWait { set },
        deadline: deadline.map(|d| (d, -i64::from(EAGAIN))),
        host_fds: Vec::new(),
    }))
}

/// The siginfo an application passes to rt_(tg)sigqueueinfo, with its signal: si_code, and
/// the pid, uid and value words. Codes of the kernel's own (>= 0) and SI_TKILL may only be
/// sent to oneself (`to_self`), as Linux refuses forging them to others.
fn queued_info(t: &Task, uinfo: u64, to_self: bool) -> Result<crate::signals::Info, Errno> {
    let b = t.mm.read_vec(uinfo, 32)?;
    let word = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let code = word(8) as i32;
    if (code >= 0 || code == SI_TKILL) && !to_self {
        return Err(EPERM);
    }
    Ok(crate::signals::Info {
        code,
        pid: word(16) as i32,
        uid: word(20),
        value: u64::from_le_bytes(b[24..32].try_into().unwrap_or([0; 8])),
        ..Default::default()
    })
}

/// rt_sigqueueinfo(pid, sig, info): like kill to one process, with the caller's siginfo;
/// a real-time signal that cannot be queued is EAGAIN.
pub(super) fn sigqueueinfo(k: &mut Kernel, t: &mut Task, pid: i32, sig: i32, uinfo: u64) -> R {
    let info = queued_info(t, uinfo, pid == t.tid)?;
    if !(0..=64).contains(&sig) {
        return Err(EINVAL);
    }
    let x = k.thread_for(t, pid, sig).ok_or(ESRCH)?;
    if sig != 0 && !crate::signals::send_to_process(x, sig, info) {
        return Err(EAGAIN);
    }
    Ok(0)
}

/// rt_tgsigqueueinfo(tgid, tid, sig, info): the same to one thread.
pub(super) fn tgsigqueueinfo(k: &mut Kernel, t: &mut Task, a: [u64; 6]) -> R {
    let (tgid, tid, sig, uinfo) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    let info = queued_info(t, uinfo, tid == t.tid)?;
    if tgid <= 0 || tid <= 0 || !(0..=64).contains(&sig) {
        return Err(EINVAL);
    }
    let x = k.task_mut(t, tid).filter(|x| x.pid == tgid).ok_or(ESRCH)?;
    if sig != 0 && !crate::signals::send_info(x, sig, info) {
        return Err(EAGAIN);
    }
    Ok(0)
}

/// The size of a struct signalfd_siginfo.
pub(super) const SIGNALFD_INFO: usize = 128;

/// signalfd and signalfd4: a new signalfd for the signals of `mask` (fd -1), or a new mask for
/// an existing one. SIGKILL and SIGSTOP are never taken.
pub(super) fn signalfd(t: &mut Task, fd: i32, mask: u64, size: u64, flags: i32) -> R {
    if flags & !(SFD_CLOEXEC | SFD_NONBLOCK) != 0 || size != 8 {
        return Err(EINVAL);
    }
    let set = t.mm.read_u64(mask)? & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    if fd != -1 {
        let f = t.fds.get(fd)?;
        let of = f.borrow();
        let Node::SignalFd(m) = &of.node else {
            return Err(EINVAL);
        };
        m.set(set);
        return Ok(i64::from(fd));
    }
    let node = Node::SignalFd(std::cell::Cell::new(set));
    let f = wrap(node, O_RDWR | (flags & O_NONBLOCK), "anon_inode:[signalfd]");
    t.fds.install(f, flags & SFD_CLOEXEC != 0, 0).map(i64::from)
}

/// A read of a signalfd: up to `max` of the reader's pending signals of `mask`, lowest first,
/// each taken as a handler would take it, as struct signalfd_siginfo; it waits while none is
/// pending (EAGAIN when non-blocking).
pub(super) fn signalfd_read(
    t: &mut Task,
    mask: u64,
    max: usize,
    nonblock: bool,
) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    while out.len() / SIGNALFD_INFO < max {
        let ready = t.signals.pending & mask;
        if ready == 0 {
            break;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        let info = t.signals.dequeue(sig).unwrap_or_default();
        out.extend(signalfd_siginfo(sig, &info));
    }
    if out.is_empty() {
        return Err(if nonblock {
            EAGAIN
        } else {
            t.block(crate::kernel::wait::Wait::retry())
        });
    }
    Ok(out)
}

/// struct signalfd_siginfo for `sig` sent with `info`.
fn signalfd_siginfo(sig: i32, info: &crate::signals::Info) -> Vec<u8> {
    let mut b = vec![0u8; SIGNALFD_INFO];
    let mut w32 = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    w32(0, sig as u32);
    w32(8, info.code as u32);
    w32(12, info.pid as u32);
    w32(16, info.uid);
    w32(40, info.status as u32);
    w32(44, info.value as u32);
    if info.code == crate::signals::SI_TIMER {
        // A timer's: its id (kept in pid) and overrun count (kept in uid).
        w32(24, info.pid as u32);
        w32(32, info.uid);
    }
    b[48..56].copy_from_slice(&info.value.to_le_bytes());
    b[72..80].copy_from_slice(&info.addr.to_le_bytes());
    b
}

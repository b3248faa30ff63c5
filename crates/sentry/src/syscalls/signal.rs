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
        uid: t.creds.uid,
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
        uid: t.creds.uid,
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

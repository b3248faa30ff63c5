//! Process calls: clone and its family, execve, wait4/waitid, process groups and sessions.
//! The kernel (kernel/fork.rs, kernel/exit.rs) does the work; these read the arguments.

use super::*;
use crate::kernel::fork::CloneArgs;
use crate::kernel::WaitQuery;

/// The most argv + envp bytes execve takes (Linux: a quarter of the stack limit; 2 MiB here).
const ARG_MAX: usize = 2 << 20;

pub(super) fn fork(k: &mut Kernel, t: &mut Task, flags: u64) -> R {
    clone_with(
        k,
        t,
        CloneArgs {
            flags: flags & !0xff,
            exit_signal: (flags & 0xff) as i32,
            ..Default::default()
        },
    )
}

/// clone(flags, stack, parent_tid, child_tid, tls): x86-64's argument order.
pub(super) fn clone(k: &mut Kernel, t: &mut Task, a: [u64; 6]) -> R {
    clone_with(
        k,
        t,
        CloneArgs {
            flags: a[0] & !0xff,
            exit_signal: (a[0] & 0xff) as i32,
            stack: a[1],
            parent_tid: a[2],
            child_tid: a[3],
            tls: a[4],
        },
    )
}

/// clone3(struct clone_args *, size): glibc 2.34+ tries it first.
pub(super) fn clone3(k: &mut Kernel, t: &mut Task, addr: u64, size: u64) -> R {
    // CLONE_ARGS_SIZE_VER0 is 64 bytes; later versions add set_tid and cgroup.
    if !(64..=4096).contains(&size) {
        return Err(EINVAL);
    }
    let raw = t.mm.read_vec(addr, size as usize)?;
    let word = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    // Fields this kernel does not know must be zero, as Linux requires (E2BIG otherwise).
    if raw[88.min(raw.len())..].iter().any(|b| *b != 0) {
        return Err(E2BIG);
    }
    let (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls) = (
        word(0),
        word(1),
        word(2),
        word(3),
        word(4),
        word(5),
        word(6),
        word(7),
    );
    let set_tid_size = if raw.len() >= 80 { word(9) } else { 0 };
    if exit_signal > 64 || flags & CLONE_PIDFD as u64 != 0 || set_tid_size != 0 {
        return Err(EINVAL);
    }
    let _ = pidfd;
    if (stack == 0) != (stack_size == 0) {
        return Err(EINVAL);
    }
    clone_with(
        k,
        t,
        CloneArgs {
            flags,
            exit_signal: exit_signal as i32,
            stack: if stack == 0 { 0 } else { stack + stack_size },
            parent_tid,
            child_tid,
            tls,
        },
    )
}

fn clone_with(k: &mut Kernel, t: &mut Task, a: CloneArgs) -> R {
    match k.clone_task(t, a) {
        Err(ENOSYS) => {
            // Threads are not served yet: count it under clone's name.
            *t.unimplemented
                .borrow_mut()
                .entry(SYS_clone as u64)
                .or_insert(0) += 1;
            Err(ENOSYS)
        }
        other => other,
    }
}

/// A NULL-terminated array of string pointers (argv, envp).
fn strings(t: &Task, mut addr: u64, budget: &mut usize) -> Result<Vec<String>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    loop {
        let p = t.mm.read_u64(addr)?;
        if p == 0 {
            return Ok(out);
        }
        let s = t.mm.read_cstr(p, (*budget).min(128 << 10)).map_err(|e| {
            if e == ENAMETOOLONG {
                E2BIG
            } else {
                e
            }
        })?;
        *budget = budget.checked_sub(s.len() + 1 + 8).ok_or(E2BIG)?;
        out.push(String::from_utf8_lossy(&s).into_owned());
        addr += 8;
    }
}

pub(super) fn execve(
    k: &mut Kernel,
    t: &mut Task,
    dirfd: i32,
    pathp: u64,
    argvp: u64,
    envp: u64,
    flags: i32,
) -> R {
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(EINVAL);
    }
    let raw = t.mm.read_cstr(pathp, PATH_MAX as usize)?;
    let abs = if raw.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
        t.fds.get(dirfd)?.borrow().path.clone()
    } else {
        at(t, dirfd, &String::from_utf8(raw).map_err(|_| EINVAL)?)?
    };
    // /proc/self/exe (busybox's sh runs its applets so) is the task's own program; the
    // process is still named for the path it was asked to run ("exe"), as on Linux.
    let asked = abs.clone();
    let abs = t.fs.follow_proc_link(&abs);
    // The program must be executable by the task (the loader checks it is a program).
    if t.fs.stat(&abs, true).is_ok() {
        crate::perm::access(&t.fs, &t.creds, &abs, crate::perm::X, true)?;
    }
    let mut budget = ARG_MAX;
    let argv = strings(t, argvp, &mut budget)?;
    let env = strings(t, envp, &mut budget)?;
    let r = k.exec(t, &abs, argv, &env)?;
    if asked != abs {
        t.fs.proc.comm = crate::loader::comm_of(&asked);
        t.refresh_proc();
    }
    Ok(r)
}

pub(super) fn wait4(k: &mut Kernel, t: &mut Task, pid: i32, status: u64, opts: i32, ru: u64) -> R {
    if opts & !(WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD) != 0 {
        return Err(EINVAL);
    }
    if pid == i32::MIN {
        return Err(ESRCH);
    }
    let q = WaitQuery {
        pid,
        exited: true,
        stopped: opts & WUNTRACED != 0,
        continued: opts & WCONTINUED != 0,
        keep: false,
    };
    match k.wait_child(t, q)? {
        Some((child, st, _, cpu)) => {
            if status != 0 {
                put(t, status, &st.to_le_bytes())?;
            }
            if ru != 0 {
                put(t, ru, &rusage_bytes(cpu, 0))?;
            }
            Ok(child as i64)
        }
        None if opts & WNOHANG != 0 => Ok(0),
        None => Err(t.block(crate::kernel::wait::Wait::retry())),
    }
}

pub(super) fn waitid(
    k: &mut Kernel,
    t: &mut Task,
    idtype: u32,
    id: i32,
    info: u64,
    opts: i32,
) -> R {
    let wanted = WEXITED | WSTOPPED | WCONTINUED;
    if opts & !(wanted | WNOHANG | WNOWAIT | __WALL | __WCLONE | __WNOTHREAD) != 0
        || opts & wanted == 0
    {
        return Err(EINVAL);
    }
    let pid = match idtype {
        P_ALL => -1,
        P_PID if id > 0 => id,
        P_PGID if id >= 0 => {
            if id == 0 {
                0
            } else {
                -id
            }
        }
        _ => return Err(EINVAL),
    };
    let q = WaitQuery {
        pid,
        exited: opts & WEXITED != 0,
        stopped: opts & WSTOPPED != 0,
        continued: opts & WCONTINUED != 0,
        keep: opts & WNOWAIT != 0,
    };
    match k.wait_child(t, q)? {
        Some((child, st, uid, _)) => {
            if info != 0 {
                put(t, info, &child_siginfo(child, st, uid))?;
            }
            Ok(0)
        }
        None if opts & WNOHANG != 0 => {
            if info != 0 {
                // No child ready: si_pid 0 (and the rest) tells the caller so.
                put(t, info, &[0u8; 128])?;
            }
            Ok(0)
        }
        None => Err(t.block(crate::kernel::wait::Wait::retry())),
    }
}

/// The siginfo waitid reports: SIGCHLD's for the child's state (CLD_* code, pid, uid, status).
fn child_siginfo(pid: i32, status: i32, uid: u32) -> [u8; 128] {
    crate::signals::siginfo(SIGCHLD, &crate::signals::Info::child(pid, uid, status))
}

/// A struct rusage with the CPU time `cpu` (user, system) and the maximum resident set in
/// KiB; Linux's other fields are 0 for the sandbox too.
pub(super) fn rusage_bytes(cpu: crate::kernel::Cpu, maxrss_kib: u64) -> [u8; 144] {
    let mut b = [0u8; 144];
    let tv =
        |d: std::time::Duration| time::timespec_bytes(d.as_secs() as i64, d.subsec_micros() as i64);
    b[0..16].copy_from_slice(&tv(cpu.user));
    b[16..32].copy_from_slice(&tv(cpu.system));
    b[32..40].copy_from_slice(&maxrss_kib.to_le_bytes());
    b
}

/// The process group or session of `pid` (0: the caller).
fn lookup(k: &mut Kernel, t: &mut Task, pid: i32, pick: fn(&Task) -> i32) -> R {
    if pid < 0 {
        return Err(ESRCH);
    }
    let pid = if pid == 0 { t.pid } else { pid };
    k.task_mut(t, pid).map(|x| pick(x) as i64).ok_or(ESRCH)
}

pub(super) fn getpgid(k: &mut Kernel, t: &mut Task, pid: i32) -> R {
    lookup(k, t, pid, |x| x.pgid)
}

pub(super) fn getsid(k: &mut Kernel, t: &mut Task, pid: i32) -> R {
    lookup(k, t, pid, |x| x.sid)
}

/// setpgid: the caller or a child of it (not yet exec'd, in its session) moves to a process
/// group of that session, or starts its own.
pub(super) fn setpgid(k: &mut Kernel, t: &mut Task, pid: i32, pgid: i32) -> R {
    if pgid < 0 {
        return Err(EINVAL);
    }
    let pid = if pid == 0 { t.pid } else { pid };
    let pgid = if pgid == 0 { pid } else { pgid };
    let (me, my_sid) = (t.pid, t.sid);
    let group_exists = pgid == pid
        || t.pgid == pgid && t.sid == my_sid
        || k.tasks.values().any(|x| x.pgid == pgid && x.sid == my_sid);
    let target = k.task_mut(t, pid).ok_or(ESRCH)?;
    if target.pid != me && target.ppid != me {
        return Err(ESRCH);
    }
    if target.sid != my_sid {
        return Err(EPERM);
    }
    if target.pid != me && target.execed {
        return Err(EACCES); // a child that has exec'd is out of its parent's hands
    }
    if target.sid == target.pid {
        return Err(EPERM); // a session leader stays in its group
    }
    if !group_exists {
        return Err(EPERM);
    }
    target.pgid = pgid;
    target.refresh_proc();
    Ok(0)
}

/// setsid: a new session and process group led by the caller, unless it leads a group.
/// The sandbox's pid 1 already leads its session (as it does in the container class, where
/// runc made it a session leader or left it alone): it gets its session id back.
pub(super) fn setsid(k: &mut Kernel, t: &mut Task) -> R {
    if t.pid == 1 {
        return Ok(t.sid as i64);
    }
    let leads = t.pgid == t.pid || k.tasks.values().any(|x| x.pgid == t.pid);
    if leads {
        return Err(EPERM);
    }
    t.sid = t.pid;
    t.pgid = t.pid;
    t.refresh_proc();
    Ok(t.pid as i64)
}

/// The tasks `which`/`who` name for getpriority and setpriority (`who` 0: the caller's own
/// thread, process group or user).
fn priority_targets(k: &Kernel, t: &Task, which: i32, who: i32) -> Result<Vec<i32>, Errno> {
    let who = if who < 0 { return Err(ESRCH) } else { who };
    let pick = |f: &dyn Fn(&Task) -> bool| -> Vec<i32> {
        let mut v: Vec<i32> = k.tasks.values().filter(|x| f(x)).map(|x| x.tid).collect();
        if f(t) {
            v.push(t.tid);
        }
        v
    };
    let v = match which as u32 {
        PRIO_PROCESS => {
            let tid = if who == 0 { t.tid } else { who };
            pick(&|x: &Task| x.tid == tid)
        }
        PRIO_PGRP => {
            let pg = if who == 0 { t.pgid } else { who };
            pick(&|x: &Task| x.pgid == pg)
        }
        PRIO_USER => {
            let uid = if who == 0 {
                t.creds.uids.real
            } else {
                who as u32
            };
            pick(&|x: &Task| x.creds.uids.real == uid)
        }
        _ => return Err(EINVAL),
    };
    if v.is_empty() {
        Err(ESRCH)
    } else {
        Ok(v)
    }
}

/// getpriority(2), as the system call answers it: 20 - nice of the highest-priority target
/// (glibc turns it back into a nice value).
pub(super) fn getpriority(k: &mut Kernel, t: &mut Task, which: i32, who: i32) -> R {
    let targets = priority_targets(k, t, which, who)?;
    let best = targets
        .iter()
        .map(|&tid| k.task_mut(t, tid).map_or(0, |x| x.nice))
        .min()
        .unwrap_or(0);
    Ok(i64::from(20 - best))
}

/// setpriority(2): the nice value, cut to -20..19, of every target. Another user's task needs
/// CAP_SYS_NICE (EPERM), and so does a lower value than the task has, beyond what
/// RLIMIT_NICE allows (EACCES), as Linux's set_one_prio.
pub(super) fn setpriority(k: &mut Kernel, t: &mut Task, which: i32, who: i32, prio: i32) -> R {
    let nice = prio.clamp(-20, 19);
    let targets = priority_targets(k, t, which, who)?;
    let nice_cap = t.creds.capable(crate::kernel::creds::CAP_SYS_NICE);
    let limit = t.rlimits.get()[RLIMIT_NICE as usize].0;
    let me = t.creds.uids.eff;
    for tid in targets {
        let x = k.task_mut(t, tid).ok_or(ESRCH)?;
        if x.creds.uids.real != me && x.creds.uids.eff != me && !nice_cap {
            return Err(EPERM);
        }
        if nice < x.nice && !nice_cap && (20 - nice) as u64 > limit {
            return Err(EACCES);
        }
        x.nice = nice;
    }
    Ok(0)
}

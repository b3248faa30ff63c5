//! The system and the process's own settings: uname, hostname, prctl, rlimits, sysinfo,
//! affinity, randomness.

use super::*;

pub(super) fn uname(t: &mut Task, buf: u64) -> R {
    let mut b = vec![0u8; 65 * 6];
    let release = host_release();
    for (i, v) in [
        "Linux",
        t.hostname.as_str(),
        release.as_str(),
        crate::procfs::UNAME_VERSION,
        "x86_64",
        "(none)",
    ]
    .iter()
    .enumerate()
    {
        let bytes = v.as_bytes();
        let n = bytes.len().min(64);
        b[i * 65..i * 65 + n].copy_from_slice(&bytes[..n]);
    }
    put(t, buf, &b).map(|_| 0)
}

/// The host kernel's release, read once before confinement (glibc checks it).
pub(super) fn host_release() -> String {
    crate::HOST_RELEASE
        .get()
        .cloned()
        .unwrap_or_else(|| "6.0.0".into())
}

pub(super) fn sethostname(t: &mut Task, addr: u64, len: u64) -> R {
    if len > 64 {
        return Err(EINVAL);
    }
    t.hostname = String::from_utf8_lossy(&t.mm.read_vec(addr, len as usize)?).into_owned();
    Ok(0)
}

pub(super) fn arch_prctl(t: &mut Task, code: i32, addr: u64) -> R {
    const ARCH_SET_GS: i32 = 0x1001;
    const ARCH_SET_FS: i32 = 0x1002;
    const ARCH_GET_FS: i32 = 0x1003;
    const ARCH_GET_GS: i32 = 0x1004;
    match code {
        ARCH_SET_FS => t.regs.fs_base = addr,
        ARCH_SET_GS => {
            // systrap keeps each thread's block in its gs base for patched call sites: a
            // process that takes gs for itself has them undone (patch.rs).
            if addr != 0 {
                t.mm.stop_patching();
            }
            t.regs.gs_base = addr
        }
        ARCH_GET_FS => put(t, addr, &t.regs.fs_base.to_le_bytes())?,
        ARCH_GET_GS => put(t, addr, &t.regs.gs_base.to_le_bytes())?,
        _ => return Err(EINVAL),
    }
    Ok(0)
}

/// prlimit64 (getrlimit and setrlimit are it with pid 0): the limits of the caller's process
/// or, as its own user's or with CAP_SYS_RESOURCE, another's.
pub(super) fn prlimit(k: &mut Kernel, t: &mut Task, pid: i32, res: u32, new: u64, old: u64) -> R {
    use crate::kernel::limits;
    let res = res as usize;
    if res >= limits::COUNT {
        return Err(EINVAL);
    }
    let new = match new {
        0 => None,
        a => Some((t.mm.read_u64(a)?, t.mm.read_u64(a + 8)?)),
    };
    let (cell, fds) = match pid {
        0 => (t.rlimits.clone(), t.fds.clone()),
        n if n < 0 => return Err(ESRCH),
        n => {
            let caller = t.creds.clone();
            let own = n == t.tid;
            let x = k.task_mut(t, n).ok_or(ESRCH)?;
            if !own && !limits::may_touch(&caller, &x.creds) {
                return Err(EPERM);
            }
            (x.rlimits.clone(), x.fds.clone())
        }
    };
    let mut l = cell.get();
    let cur = l[res];
    if let Some(v) = new {
        limits::set(&mut l, &t.creds, res, v)?;
        cell.set(l);
        fds.set_limit(limits::nofile(&l));
    }
    if old != 0 {
        let mut b = cur.0.to_le_bytes().to_vec();
        b.extend_from_slice(&cur.1.to_le_bytes());
        put(t, old, &b)?;
    }
    Ok(0)
}

pub(super) fn prctl(t: &mut Task, op: i32, arg: u64) -> R {
    match op {
        PR_SET_NAME => {
            let name =
                t.mm.read_cstr(arg, 16)
                    .or_else(|_| t.mm.read_vec(arg, 15))?;
            t.fs.proc.comm = String::from_utf8_lossy(&name).chars().take(15).collect();
            t.refresh_proc();
            Ok(0)
        }
        PR_GET_NAME => {
            if let Some(name) = crate::procfs::take_rename(t.tid) {
                t.fs.proc.comm = name;
            }
            let mut name = t.fs.proc.comm.clone().into_bytes();
            name.resize(16, 0);
            put(t, arg, &name).map(|_| 0)
        }
        PR_SET_PDEATHSIG => {
            if arg > 64 {
                return Err(EINVAL);
            }
            t.pdeathsig = arg as i32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => put(t, arg, &t.pdeathsig.to_le_bytes()).map(|_| 0),
        PR_SET_CHILD_SUBREAPER => {
            t.subreaper = arg != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => put(t, arg, &i32::from(t.subreaper).to_le_bytes()).map(|_| 0),
        PR_SET_DUMPABLE => Ok(0),
        PR_GET_DUMPABLE => Ok(1),
        _ => Err(EINVAL),
    }
}

/// The thread a sched_* call names: 0 for the caller.
fn sched_target(k: &mut Kernel, t: &mut Task, tid: i32) -> Result<(), Errno> {
    match tid {
        0 => Ok(()),
        n if n < 0 => Err(EINVAL),
        n => k.task_mut(t, n).map(|_| ()).ok_or(ESRCH),
    }
}

/// sched_getaffinity: every CPU the sandbox has (the mask of sched_setaffinity is not kept).
pub(super) fn sched_getaffinity(k: &mut Kernel, t: &mut Task, tid: i32, len: u64, mask: u64) -> R {
    sched_target(k, t, tid)?;
    if len < 8 || !len.is_multiple_of(8) {
        return Err(EINVAL);
    }
    let cpus = crate::CPUS.get().copied().unwrap_or(1).clamp(1, 64);
    let bits: u64 = if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    };
    put(t, mask, &bits.to_le_bytes())?;
    Ok(8)
}

pub(super) fn sysinfo(k: &mut Kernel, t: &mut Task, buf: u64) -> R {
    let mut b = vec![0u8; 112];
    let (up, _) = crate::host::clock_gettime(CLOCK_BOOTTIME).unwrap_or((0, 0));
    b[0..8].copy_from_slice(&up.to_le_bytes());
    let total = crate::MEM_TOTAL.get().copied().unwrap_or(1 << 30);
    b[32..40].copy_from_slice(&total.to_le_bytes());
    b[40..48].copy_from_slice(&total.saturating_sub(t.mm.resident()).to_le_bytes());
    let procs = (k.tasks.len() + 1).min(u16::MAX as usize) as u16;
    b[80..82].copy_from_slice(&procs.to_le_bytes()); // procs
    b[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    put(t, buf, &b).map(|_| 0)
}

pub(super) fn getrandom(t: &mut Task, buf: u64, len: u64, flags: u32) -> R {
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(EINVAL);
    }
    let mut b = vec![0u8; (len as usize).min(IO_CHUNK)];
    let n = crate::host::getrandom(&mut b).map_err(err)?;
    put(t, buf, &b[..n])?;
    Ok(n as i64)
}

pub(super) fn get_robust_list(k: &mut Kernel, t: &mut Task, tid: i32, head: u64, len: u64) -> R {
    let h = if tid == 0 {
        t.robust_list
    } else {
        k.task_mut(t, tid).map(|x| x.robust_list).ok_or(ESRCH)?
    };
    put(t, head, &h.to_le_bytes())?;
    put(t, len, &24u64.to_le_bytes())?;
    Ok(0)
}

/// getcpu: the sentry does not know which host CPU a thread last ran on; it answers CPU 0,
/// node 0 (a valid answer on any machine).
pub(super) fn getcpu(t: &mut Task, cpu: u64, node: u64) -> R {
    if cpu != 0 {
        put(t, cpu, &0u32.to_le_bytes())?;
    }
    if node != 0 {
        put(t, node, &0u32.to_le_bytes())?;
    }
    Ok(0)
}

/// sched_setaffinity: accepted when the mask names at least one of the sandbox's CPUs (the
/// host schedules the threads; the mask is not applied).
pub(super) fn sched_setaffinity(k: &mut Kernel, t: &mut Task, tid: i32, len: u64, mask: u64) -> R {
    sched_target(k, t, tid)?;
    if len == 0 {
        return Err(EINVAL);
    }
    let first = t.mm.read_vec(mask, (len as usize).min(128))?;
    let cpus = crate::CPUS.get().copied().unwrap_or(1).clamp(1, 64) as usize;
    let any = (0..cpus).any(|c| first.get(c / 8).is_some_and(|b| b & (1 << (c % 8)) != 0));
    if any {
        Ok(0)
    } else {
        Err(EINVAL)
    }
}

/// msync: the range must be page-aligned and mapped, the flags one of MS_ASYNC and MS_SYNC
/// with or without MS_INVALIDATE. (The sandbox's file mappings are copies: there is nothing
/// to write back yet.)
pub(super) fn msync(t: &mut Task, addr: u64, len: u64, flags: i32) -> R {
    if !addr.is_multiple_of(4096)
        || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC)
    {
        return Err(EINVAL);
    }
    let len = crate::mm::page_up(len);
    if len == 0 {
        return Ok(0);
    }
    if !t.mm.is_mapped(addr, len) {
        return Err(ENOMEM);
    }
    Ok(0)
}

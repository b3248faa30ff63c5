//! Resource limits (getrlimit, setrlimit, prlimit64, /proc/PID/limits). A process starts with
//! the limits the sentry itself was given (the config's process.rlimits over the host's, as the
//! container class's init has them); threads share them, fork copies them. The sandbox
//! enforces RLIMIT_NOFILE (its descriptor tables) and RLIMIT_STACK (the loader's stack); the
//! others are kept and reported.

use super::creds::{Creds, CAP_SYS_RESOURCE};
use crate::mm::Errno;

/// (soft, hard) of each of Linux's 16 resources, RLIM_INFINITY as u64::MAX.
pub type Limits = [(u64, u64); COUNT];

pub const COUNT: usize = 16;
const NOFILE: usize = libc::RLIMIT_NOFILE as usize;
/// fs.nr_open: no descriptor limit goes above it.
pub const NR_OPEN: u64 = 1 << 20;

/// The sentry's own limits, read before it confines itself: what the application starts with.
/// RLIMIT_NOFILE is capped at nr_open, which the descriptor tables enforce.
pub fn from_host() -> Limits {
    let mut l = [(u64::MAX, u64::MAX); COUNT];
    for (res, slot) in l.iter_mut().enumerate() {
        if let Ok(v) = bulkhead_linux::process::getrlimit(res as i32) {
            *slot = v;
        }
    }
    l[NOFILE] = (l[NOFILE].0.min(NR_OPEN), l[NOFILE].1.min(NR_OPEN));
    l
}

/// The soft descriptor limit, which the tables enforce.
pub fn nofile(l: &Limits) -> u64 {
    l[NOFILE].0
}

/// A new (soft, hard) for `res`, as prlimit64 checks it: soft above hard is EINVAL; raising
/// the hard limit takes CAP_SYS_RESOURCE; no descriptor limit above nr_open (EPERM).
pub fn set(l: &mut Limits, c: &Creds, res: usize, new: (u64, u64)) -> Result<(), Errno> {
    let (soft, hard) = new;
    if soft > hard {
        return Err(libc::EINVAL);
    }
    if res == NOFILE && hard > NR_OPEN {
        return Err(libc::EPERM);
    }
    if hard > l[res].1 && !c.capable(CAP_SYS_RESOURCE) {
        return Err(libc::EPERM);
    }
    l[res] = new;
    Ok(())
}

/// Whether `c` may read and change the limits of a process with credentials `target`: its
/// own user's processes (real, effective and saved ids all the caller's real id, and the same
/// for groups), or any with CAP_SYS_RESOURCE.
pub fn may_touch(c: &Creds, target: &Creds) -> bool {
    let u = c.uids.real;
    let g = c.gids.real;
    let t = (&target.uids, &target.gids);
    c.capable(CAP_SYS_RESOURCE)
        || ([t.0.real, t.0.eff, t.0.saved] == [u; 3] && [t.1.real, t.1.eff, t.1.saved] == [g; 3])
}

/// /proc/PID/limits, in Linux's columns.
pub fn text(l: &Limits) -> String {
    const ROWS: [(&str, &str); COUNT] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let show = |v: u64| {
        if v == u64::MAX {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    let mut s = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for ((name, unit), (soft, hard)) in ROWS.iter().zip(l) {
        s.push_str(&format!(
            "{name:<25} {:<20} {:<20} ",
            show(*soft),
            show(*hard)
        ));
        if unit.is_empty() {
            s.push('\n');
        } else {
            s.push_str(&format!("{unit:<10}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_text_has_linux_columns() {
        let mut l = [(u64::MAX, u64::MAX); COUNT];
        l[NOFILE] = (1024, 4096);
        let t = text(&l);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 17);
        assert_eq!(
            lines[0],
            "Limit                     Soft Limit           Hard Limit           Units     "
        );
        assert_eq!(
            lines[8],
            "Max open files            1024                 4096                 files     "
        );
        assert_eq!(
            lines[14],
            "Max nice priority         unlimited            unlimited            "
        );
    }

    #[test]
    fn raising_a_hard_limit_takes_cap_sys_resource() {
        let mut l = [(10, 20); COUNT];
        let c = Creds::new(1000, 1000, &[], Default::default(), false);
        assert_eq!(set(&mut l, &c, 3, (30, 20)), Err(libc::EINVAL));
        assert_eq!(set(&mut l, &c, 3, (5, 30)), Err(libc::EPERM));
        assert_eq!(set(&mut l, &c, 3, (20, 20)), Ok(()));
        assert_eq!(set(&mut l, &c, 3, (5, 15)), Ok(()));
        assert_eq!(set(&mut l, &c, 3, (5, 20)), Err(libc::EPERM));
        assert_eq!(l[3], (5, 15));
    }
}

//! Credential calls: the user and group ids, supplementary groups, capabilities (capget,
//! capset, and prctl's capability operations), keep-capabilities and no_new_privs, over each
//! task's credentials (kernel/creds.rs).

use super::*;
use crate::kernel::creds::{bit, CAP_LAST, CAP_SETGID, CAP_SETPCAP};

const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;
/// Linux's NGROUPS_MAX.
const NGROUPS_MAX: u64 = 65536;

fn put_ids(t: &mut Task, ptrs: [u64; 3], ids: [u32; 3]) -> R {
    for (p, id) in ptrs.into_iter().zip(ids) {
        put(t, p, &id.to_le_bytes())?;
    }
    Ok(0)
}

pub(super) fn getresuid(t: &mut Task, ptrs: [u64; 3]) -> R {
    let c = &t.creds;
    let ids = [c.uids.real, c.uids.eff, c.uids.saved];
    put_ids(t, ptrs, ids)
}

pub(super) fn getresgid(t: &mut Task, ptrs: [u64; 3]) -> R {
    let c = &t.creds;
    let ids = [c.gids.real, c.gids.eff, c.gids.saved];
    put_ids(t, ptrs, ids)
}

/// After a change of ids: /proc shows them.
fn changed(t: &mut Task, res: Result<(), Errno>) -> R {
    res?;
    t.refresh_proc();
    Ok(0)
}

pub(super) fn setuid(t: &mut Task, id: u32) -> R {
    let r = t.creds.setuid(id);
    changed(t, r)
}

pub(super) fn setgid(t: &mut Task, id: u32) -> R {
    let r = t.creds.setgid(id);
    changed(t, r)
}

pub(super) fn setreuid(t: &mut Task, r: u32, e: u32) -> R {
    let res = t.creds.setreuid(r, e);
    changed(t, res)
}

pub(super) fn setregid(t: &mut Task, r: u32, e: u32) -> R {
    let res = t.creds.setregid(r, e);
    changed(t, res)
}

pub(super) fn setresuid(t: &mut Task, ids: [u32; 3]) -> R {
    let res = t.creds.set_uids(ids[0], ids[1], ids[2]);
    changed(t, res)
}

pub(super) fn setresgid(t: &mut Task, ids: [u32; 3]) -> R {
    let res = t.creds.set_gids(ids[0], ids[1], ids[2]);
    changed(t, res)
}

pub(super) fn setfsuid(t: &mut Task, id: u32) -> R {
    let old = t.creds.setfsuid(id);
    t.refresh_proc();
    Ok(i64::from(old))
}

pub(super) fn setfsgid(t: &mut Task, id: u32) -> R {
    let old = t.creds.setfsgid(id);
    t.refresh_proc();
    Ok(i64::from(old))
}

/// getgroups: the count with a size of 0; EINVAL when they do not fit.
pub(super) fn getgroups(t: &mut Task, size: i32, list: u64) -> R {
    let groups = t.creds.groups.clone();
    if size < 0 {
        return Err(EINVAL);
    }
    if size == 0 {
        return Ok(groups.len() as i64);
    }
    if (size as usize) < groups.len() {
        return Err(EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    put(t, list, &bytes)?;
    Ok(groups.len() as i64)
}

/// setgroups: needs CAP_SETGID.
pub(super) fn setgroups(t: &mut Task, size: u64, list: u64) -> R {
    if size > NGROUPS_MAX {
        return Err(EINVAL);
    }
    if !t.creds.capable(CAP_SETGID) {
        return Err(EPERM);
    }
    let raw = t.mm.read_vec(list, size as usize * 4)?;
    let mut groups: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // -1 is no gid; Linux keeps the list sorted.
    if groups.contains(&u32::MAX) {
        return Err(EINVAL);
    }
    groups.sort_unstable();
    t.creds.groups = groups.into();
    t.refresh_proc();
    Ok(0)
}

/// The capability header: (number of 32-bit words per set, the pid it names); a version the
/// kernel does not know is answered with its own, and EINVAL.
fn cap_header(t: &mut Task, hdr: u64, data: u64) -> Result<Option<(usize, i32)>, Errno> {
    let version = t.mm.read_u32(hdr)?;
    let pid = t.mm.read_u32(hdr + 4)? as i32;
    let words = match version {
        CAP_V1 => 1,
        CAP_V2 | CAP_V3 => 2,
        _ => {
            put(t, hdr, &CAP_V3.to_le_bytes())?;
            return if data == 0 { Ok(None) } else { Err(EINVAL) };
        }
    };
    Ok(Some((words, pid)))
}

/// capget: the capability sets of the caller or of another task of the sandbox.
pub(super) fn capget(k: &mut Kernel, t: &mut Task, hdr: u64, data: u64) -> R {
    let Some((words, pid)) = cap_header(t, hdr, data)? else {
        return Ok(0);
    };
    if data == 0 {
        return Ok(0);
    }
    if pid < 0 {
        return Err(EINVAL);
    }
    let caps = if pid == 0 || pid == t.tid {
        t.creds.caps
    } else {
        k.task_mut(t, pid).ok_or(ESRCH)?.creds.caps
    };
    let mut b = Vec::with_capacity(24);
    for w in 0..words {
        for set in [caps.effective, caps.permitted, caps.inheritable] {
            b.extend_from_slice(&((set >> (32 * w)) as u32).to_le_bytes());
        }
    }
    put(t, data, &b).map(|_| 0)
}

/// capset: the caller's own sets only (another pid is EPERM), within the rules of
/// kernel/creds.rs.
pub(super) fn capset(t: &mut Task, hdr: u64, data: u64) -> R {
    let Some((words, pid)) = cap_header(t, hdr, data)? else {
        return Err(EINVAL);
    };
    if pid != 0 && pid != t.tid {
        return Err(EPERM);
    }
    let raw = t.mm.read_vec(data, words * 12)?;
    let word = |i: usize| {
        u64::from(u32::from_le_bytes([
            raw[i],
            raw[i + 1],
            raw[i + 2],
            raw[i + 3],
        ]))
    };
    let mut sets = [0u64; 3];
    for w in 0..words {
        for (s, set) in sets.iter_mut().enumerate() {
            *set |= word(w * 12 + s * 4) << (32 * w);
        }
    }
    let res = t.creds.capset(sets[0], sets[1], sets[2]);
    changed(t, res)
}

/// A capability number prctl takes: EINVAL past the last.
fn cap_arg(cap: u64) -> Result<u32, Errno> {
    if cap > u64::from(CAP_LAST) {
        Err(EINVAL)
    } else {
        Ok(cap as u32)
    }
}

/// prctl's capability and privilege operations: PR_CAPBSET_READ/DROP, PR_CAP_AMBIENT,
/// PR_GET/SET_KEEPCAPS, PR_GET/SET_NO_NEW_PRIVS, PR_GET_SECUREBITS. None for other
/// operations.
pub(super) fn prctl(t: &mut Task, a: [u64; 6]) -> Option<R> {
    let c = &mut t.creds;
    let res = match a[0] as i32 {
        PR_CAPBSET_READ => cap_arg(a[1]).map(|cap| i64::from(c.caps.bounding & bit(cap) != 0)),
        PR_CAPBSET_DROP => cap_arg(a[1]).and_then(|cap| {
            if !c.capable(CAP_SETPCAP) {
                return Err(EPERM);
            }
            c.caps.bounding &= !bit(cap);
            Ok(0)
        }),
        PR_CAP_AMBIENT => ambient(c, a),
        PR_GET_KEEPCAPS => Ok(i64::from(c.keepcaps)),
        PR_SET_KEEPCAPS if a[1] > 1 => Err(EINVAL),
        PR_SET_KEEPCAPS => {
            c.keepcaps = a[1] == 1;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS if a[1..5].iter().any(|x| *x != 0) => Err(EINVAL),
        PR_GET_NO_NEW_PRIVS => Ok(i64::from(c.no_new_privs)),
        // No securebits are set in the sandbox (and none can be: SECBIT_* need more than it
        // models).
        PR_GET_SECUREBITS => Ok(0),
        PR_SET_NO_NEW_PRIVS if a[1] != 1 || a[2..5].iter().any(|x| *x != 0) => Err(EINVAL),
        PR_SET_NO_NEW_PRIVS => {
            c.no_new_privs = true;
            Ok(0)
        }
        _ => return None,
    };
    if res.is_ok() {
        t.refresh_proc();
    }
    Some(res)
}

/// PR_CAP_AMBIENT: IS_SET, RAISE (the capability must be permitted and inheritable), LOWER,
/// CLEAR_ALL.
fn ambient(c: &mut crate::kernel::Creds, a: [u64; 6]) -> R {
    if a[3] != 0 || a[4] != 0 {
        return Err(EINVAL);
    }
    match a[1] as i32 {
        PR_CAP_AMBIENT_CLEAR_ALL if a[2] != 0 => Err(EINVAL),
        PR_CAP_AMBIENT_CLEAR_ALL => {
            c.caps.ambient = 0;
            Ok(0)
        }
        PR_CAP_AMBIENT_IS_SET => Ok(i64::from(c.caps.ambient & bit(cap_arg(a[2])?) != 0)),
        PR_CAP_AMBIENT_RAISE => {
            let b = bit(cap_arg(a[2])?);
            if c.caps.permitted & b == 0 || c.caps.inheritable & b == 0 {
                return Err(EPERM);
            }
            c.caps.ambient |= b;
            Ok(0)
        }
        PR_CAP_AMBIENT_LOWER => {
            c.caps.ambient &= !bit(cap_arg(a[2])?);
            Ok(0)
        }
        _ => Err(EINVAL),
    }
}

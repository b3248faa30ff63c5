//! futex(2): WAIT and WAKE with or without a bitset, REQUEUE, CMP_REQUEUE, WAKE_OP, and the PI
//! lock calls; private and shared alike (kernel/futex.rs keys both by the word's memory).

use super::*;
use crate::kernel::wait::{Wait, WaitKind};
use crate::mm::FutexKey;
use std::time::{Duration, Instant};

/// The deadline of a futex timeout: relative for FUTEX_WAIT, absolute on CLOCK_MONOTONIC (or
/// CLOCK_REALTIME with FUTEX_CLOCK_REALTIME) for the others.
fn deadline(t: &Task, addr: u64, absolute: bool, realtime: bool) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let (s, ns) = time::read_timespec(t, addr)?;
    let want = Duration::new(s as u64, ns as u32);
    let left = if absolute {
        let clock = if realtime {
            CLOCK_REALTIME
        } else {
            CLOCK_MONOTONIC
        };
        time::until(clock, want)?
    } else {
        want
    };
    Ok(Some(crate::kernel::wait::deadline_after(left)))
}

fn wait_on(t: &mut Task, key: FutexKey, bitset: u32, pi: bool, until: Option<Instant>) -> Errno {
    t.block(Wait {
        kind: WaitKind::Futex { key, bitset, pi },
        deadline: until.map(|d| (d, -(ETIMEDOUT as i64))),
        host_fds: Vec::new(),
    })
}

pub(super) fn futex(k: &mut Kernel, t: &mut Task, a: [u64; 6]) -> R {
    let (addr, op, val, tsp, addr2, val3) =
        (a[0], a[1] as i32, a[2] as u32, a[3], a[4], a[5] as u32);
    let cmd = op & FUTEX_CMD_MASK;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI2) {
        return Err(ENOSYS);
    }
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let key = t.mm.futex_key(addr, private)?;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { u32::MAX } else { val3 };
            if bitset == 0 {
                return Err(EINVAL);
            }
            let until = deadline(t, tsp, cmd == FUTEX_WAIT_BITSET, realtime)?;
            if t.mm.read_u32(addr)? != val {
                return Err(EAGAIN);
            }
            if until.is_some_and(|d| d <= Instant::now()) {
                return Err(ETIMEDOUT);
            }
            Err(wait_on(t, key, bitset, false, until))
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { u32::MAX } else { val3 };
            if bitset == 0 {
                return Err(EINVAL);
            }
            Ok(k.futex_wake(key, val, bitset))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let key2 = t.mm.futex_key(addr2, private)?;
            if cmd == FUTEX_CMP_REQUEUE && t.mm.read_u32(addr)? != val3 {
                return Err(EAGAIN);
            }
            if (val as i32) < 0 || (tsp as i32) < 0 {
                return Err(EINVAL);
            }
            Ok(k.futex_requeue(key, key2, val, tsp as u32))
        }
        FUTEX_WAKE_OP => wake_op(k, t, (key, private), addr2, val, tsp as u32, val3),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            // LOCK_PI's timeout is absolute on CLOCK_REALTIME; LOCK_PI2's on the chosen clock.
            let try_only = cmd == FUTEX_TRYLOCK_PI;
            let until = match try_only {
                true => None,
                false => deadline(t, tsp, true, cmd == FUTEX_LOCK_PI || realtime)?,
            };
            match k.futex_lock_pi(t, addr, key, try_only)? {
                Some(taken) => Ok(taken),
                None => Err(wait_on(t, key, u32::MAX, true, until)),
            }
        }
        FUTEX_UNLOCK_PI => k.futex_unlock_pi(t, addr, key),
        _ => Err(ENOSYS),
    }
}

/// FUTEX_WAKE_OP: *addr2 = op(*addr2, oparg); wake `n` on addr; if the old value of *addr2
/// compares true with cmparg, wake `n2` on addr2 too.
fn wake_op(
    k: &mut Kernel,
    t: &mut Task,
    (key, private): (FutexKey, bool),
    addr2: u64,
    n: u32,
    n2: u32,
    enc: u32,
) -> R {
    let key2 = t.mm.futex_key(addr2, private)?;
    let (op, cmp) = ((enc >> 28) & 0xf, (enc >> 24) & 0xf);
    let mut oparg = (enc >> 12) & 0xfff;
    let cmparg = enc & 0xfff;
    if op & 8 != 0 {
        // FUTEX_OP_OPARG_SHIFT
        if oparg > 31 {
            return Err(EINVAL);
        }
        oparg = 1 << oparg;
    }
    if op & 7 > 4 || cmp > 5 {
        return Err(ENOSYS);
    }
    // The operation is atomic against the application's threads, as Linux's is.
    let old = t.mm.update_u32(addr2, |old| match op & 7 {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        _ => old ^ oparg,
    })?;
    let mut woken = k.futex_wake(key, n, u32::MAX);
    let (o, c) = (old as i32, cmparg as i32);
    let hit = match cmp {
        0 => o == c,
        1 => o != c,
        2 => o < c,
        3 => o <= c,
        4 => o > c,
        _ => o >= c,
    };
    if hit {
        woken += k.futex_wake(key2, n2, u32::MAX);
    }
    Ok(woken)
}

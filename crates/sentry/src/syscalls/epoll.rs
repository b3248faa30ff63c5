//! epoll and eventfd: the system calls over the interest lists of epoll.rs and the counters
//! of eventfd.rs. epoll_wait with nothing due waits as poll does (poll.rs), watching the host
//! fds of its entries, and is served again whenever the sandbox changes.

use super::poll::{call_mask, timespec_ms, wait, wait_with_mask};
use super::*;
use crate::epoll::{self, Interest};
use crate::eventfd::Counter;
use crate::kernel::wait::WOULD_BLOCK;

/// Linux's EP_MAX_EVENTS: as many 12-byte events as fit in INT_MAX bytes.
const MAX_EVENTS: i32 = i32::MAX / 12;
const EFD_SEMAPHORE: i32 = 1;

/// epoll_create (size > 0, otherwise unused) and epoll_create1 (flags: EPOLL_CLOEXEC).
pub(super) fn create(t: &mut Task, flags: i32) -> R {
    if flags & !EPOLL_CLOEXEC != 0 {
        return Err(EINVAL);
    }
    let node = Node::Epoll(Interest::default());
    let f = wrap(node, O_RDWR, "anon_inode:[eventpoll]");
    t.fds
        .install(f, flags & EPOLL_CLOEXEC != 0, 0)
        .map(i64::from)
}

pub(super) fn create_sized(t: &mut Task, size: i32) -> R {
    if size <= 0 {
        return Err(EINVAL);
    }
    create(t, 0)
}

/// epoll_ctl: ADD, MOD or DEL the entry of `fd` in `epfd`'s interest list.
pub(super) fn ctl(t: &mut Task, epfd: i32, op: i32, fd: i32, event: u64) -> R {
    let (events, data) = if op == EPOLL_CTL_DEL {
        (0, 0)
    } else {
        let raw = t.mm.read_vec(event, 12)?;
        let events = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let mut data = [0u8; 8];
        data.copy_from_slice(&raw[4..12]);
        (events, u64::from_le_bytes(data))
    };
    let ep = t.fds.get(epfd)?;
    let target = t.fds.get(fd)?;
    if !target
        .try_borrow()
        .is_ok_and(|f| crate::ready::pollable(&f))
    {
        return Err(EPERM);
    }
    if epoll::id_of(&ep) == epoll::id_of(&target) {
        return Err(EINVAL);
    }
    let of = ep.borrow();
    let Node::Epoll(interest) = &of.node else {
        return Err(EINVAL);
    };
    match op {
        EPOLL_CTL_ADD => {
            let events = epoll::check_events(true, events)?;
            interest.add(epoll::id_of(&ep), fd, &target, events, data)?;
        }
        EPOLL_CTL_MOD => {
            let events = epoll::check_events(false, events)?;
            interest.modify(fd, &target, events, data)?;
        }
        EPOLL_CTL_DEL => interest.delete(fd, &target)?,
        _ => return Err(EINVAL),
    }
    Ok(0)
}

/// epoll_wait, epoll_pwait (a signal mask to wait with) and epoll_pwait2 (a timespec
/// timeout): up to `max` due events written at `events`; waits up to `timeout_ms` (negative:
/// without end) when none is due.
fn wait_events(t: &mut Task, epfd: i32, events: u64, max: i32, timeout_ms: i64) -> R {
    if max <= 0 || max > MAX_EVENTS {
        return Err(EINVAL);
    }
    let ep = t.fds.get(epfd)?;
    crate::ready::set_reader(t.signals.pending);
    let found = {
        let of = ep.borrow();
        let Node::Epoll(interest) = &of.node else {
            return Err(EINVAL);
        };
        interest.collect(max as usize, 0)
    };
    if found.events.is_empty() {
        if timeout_ms == 0 {
            return Ok(0);
        }
        return wait(t, timeout_ms, found.host);
    }
    let out: Vec<u8> = found
        .events
        .iter()
        .flat_map(|(ev, data)| ev.to_le_bytes().into_iter().chain(data.to_le_bytes()))
        .collect();
    put(t, events, &out)?;
    Ok(found.events.len() as i64)
}

pub(super) fn epoll_wait(t: &mut Task, a: [u64; 6]) -> R {
    wait_events(t, a[0] as i32, a[1], a[2] as i32, a[3] as i32 as i64)
}

/// epoll_pwait (`pwait2`: epoll_pwait2, whose timeout is a timespec pointer).
pub(super) fn epoll_pwait(t: &mut Task, a: [u64; 6], pwait2: bool) -> R {
    let timeout = if pwait2 {
        timespec_ms(t, a[3])?
    } else {
        a[3] as i32 as i64
    };
    let mask = call_mask(t, a[4], a[5])?;
    let res = wait_events(t, a[0] as i32, a[1], a[2] as i32, timeout);
    if res == Err(WOULD_BLOCK) {
        wait_with_mask(t, mask);
    }
    res
}

/// eventfd and eventfd2 (flags: EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE).
pub(super) fn eventfd(t: &mut Task, initial: u32, flags: i32) -> R {
    if flags & !(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(EINVAL);
    }
    let counter = Counter::new(u64::from(initial), flags & EFD_SEMAPHORE != 0);
    let status = O_RDWR | (flags & O_NONBLOCK);
    let f = wrap(Node::EventFd(counter), status, "anon_inode:[eventfd]");
    t.fds.install(f, flags & EFD_CLOEXEC != 0, 0).map(i64::from)
}

//! futex: with one thread per process, shared futexes between processes are what remains.

use super::*;

pub(super) fn futex(op: i32) -> R {
    match op & FUTEX_CMD_MASK {
        FUTEX_WAKE => Ok(0),
        FUTEX_WAIT | FUTEX_WAIT_BITSET => Err(EAGAIN),
        _ => Err(ENOSYS),
    }
}

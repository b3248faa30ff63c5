//! Timers and signal waits in the sandbox class: alarm, setitimer/getitimer, POSIX timers
//! (timer_create and friends), rt_sigtimedwait and the sigqueue calls with the queueing and
//! order of pending signals, and alternate signal stacks, as tests/programs/timers.c checks
//! them. Each area runs first in the container class, where the C program must pass (it is
//! checked against the real kernel), then in the sandbox, which must give the same exit code
//! and the same output.

mod common;
use common::*;

/// Runs `timers <area>` in both classes (timers.c built static as /bin/timers): the container
/// class passes every check, and the sandbox gives its exit code and output.
fn area(name: &str) {
    let mut b = Bundle::new(&["true"]);
    programs::build_static(&b, "timers");
    programs::area_in_both_classes(&mut b, "timers", name, |_| true);
}

#[test]
fn alarm() {
    area("alarm");
}

#[test]
fn interval_timers() {
    area("itimer");
}

#[test]
fn posix_timers() {
    area("posix_timers");
}

#[test]
fn signal_waits_and_queues() {
    area("sigwait");
}

#[test]
fn alternate_signal_stacks() {
    area("altstack");
}

//! Threads in the sandbox class: pthread mutexes and condition variables, raw futexes, PI and
//! robust futexes, the ways a thread group ends (exit, exit_group, the leader first, execve and
//! fork from a thread) and signals to threads, as tests/programs/threads.c checks them. Each area
//! runs first in the container class, where the C program must pass (it is checked against the
//! real kernel), then in the sandbox, which must give the same exit code and the same output.

mod common;
use common::*;

/// Runs `threads <area>` in both classes (threads.c built static as /bin/threads; its
/// `exit` area execs it again): the container class passes every check, and the sandbox
/// gives its exit code and output.
fn area(name: &str) {
    let mut b = Bundle::new(&["true"]);
    programs::build_static(&b, "threads");
    programs::area_in_both_classes(&mut b, "threads", name, |_| true);
}

#[test]
fn mutexes_and_condition_variables() {
    area("mutex");
}

#[test]
fn futexes() {
    area("futex");
}

#[test]
fn priority_inheritance_futexes() {
    area("pi");
}

#[test]
fn robust_mutexes() {
    area("robust");
}

#[test]
fn thread_group_exit_exec_and_fork() {
    area("exit");
}

#[test]
fn signals_to_threads() {
    area("signals");
}

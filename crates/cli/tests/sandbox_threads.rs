//! Threads in the sandbox class: pthread mutexes and condition variables, raw futexes, PI and
//! robust futexes, the ways a thread group ends (exit, exit_group, the leader first, execve and
//! fork from a thread) and signals to threads, as tests/programs/threads.c checks them, and a Go
//! program, whose runtime uses all of them. Each runs first in the container class, where it
//! must pass (it is checked against the real kernel), then in the sandbox, which must give the
//! same exit code and the same output.

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

/// A static Go program (tests/programs/goprog.go): goroutines over channels, a mutex contended
/// on every P, timers and tickers (the runtime's epoll netpoller), os/signal, a nil
/// dereference recovered from the runtime's SIGSEGV handler, and os/exec. The same output and
/// exit status (3) in both classes.
#[test]
fn go_program() {
    let mut b = Bundle::new(&["true"]);
    programs::build_go(&b, "goprog");
    let [(c_code, c_out, c_err), (s_code, s_out, s_err)] =
        programs::both_classes(&mut b, &["/bin/goprog"]);
    assert!(
        c_code == 3 && c_out.ends_with("go: ok\n") && programs::failures(&c_out).is_empty(),
        "goprog fails in the container class (exit {c_code}): the test is wrong\n{c_out}\n{c_err}"
    );
    assert_eq!(
        (s_code, s_out.as_str()),
        (c_code, c_out.as_str()),
        "the sandbox differs from the container class; sandbox stderr:\n{s_err}"
    );
}

/// CLONE_FS: the working directory and umask are shared by a process's threads, not by a
/// forked child.
#[test]
fn working_directory_shared_by_threads() {
    area("fs");
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

//! Processes in the sandbox class: fork, exec, wait, pipes, descriptors, signals, process
//! groups, orphans, sleeps and CPU time, as tests/programs/procs.c checks them. Each area runs first in
//! the container class, where the C program must pass (it is checked against the real kernel),
//! then in the sandbox, which must give the same exit code and the same output.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

/// A bundle whose rootfs holds procs.c built static as /bin/procs, and the files its `exec`
/// area runs: /notelf (executable, not a program) and /script.sh.
fn bundle() -> Bundle {
    let b = Bundle::new(&["true"]);
    programs::build_static(&b, "procs");
    for (name, text) in [
        ("notelf", "this is not a program\n"),
        ("script.sh", "#!/bin/sh\necho \"script $0 $1\"\n"),
    ] {
        let path = b.rootfs().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    b
}

/// Runs `procs <area>` in both classes: the container class passes every check, and the
/// sandbox gives its exit code and output.
fn area(name: &str) {
    programs::area_in_both_classes(&mut bundle(), "procs", name, |_| true);
}

#[test]
fn fork_and_wait() {
    area("fork");
}

#[test]
fn exec() {
    area("exec");
}

#[test]
fn pipes() {
    area("pipe");
}

#[test]
fn descriptors() {
    area("fds");
}

#[test]
fn signals() {
    area("signals");
}

#[test]
fn process_groups_and_sessions() {
    area("pgrp");
}

#[test]
fn orphans_go_to_pid_1() {
    area("orphans");
}

#[test]
fn sleeps() {
    area("sleep");
}

#[test]
fn cpu_time() {
    area("cputime");
}

/// File attributes on a writable rootfs: chmod, chown to the owner, file times, statfs,
/// capget and msync.
#[test]
fn file_attributes() {
    writable_area("attrs");
}

/// flock between processes of the sandbox.
#[test]
fn file_locks() {
    writable_area("locks");
}

/// FIFOs made in the rootfs, opened and used by processes of the sandbox.
#[test]
fn named_pipes() {
    writable_area("fifos");
}

/// fcntl record locks (POSIX and OFD) between processes of the sandbox.
#[test]
fn record_locks() {
    writable_area("rlocks");
}

/// An area that writes in /tmp of a writable rootfs.
fn writable_area(name: &str) {
    let mut b = bundle();
    b.set("/root/readonly", serde_json::json!(false));
    programs::area_in_both_classes(&mut b, "procs", name, |_| true);
}

#[test]
fn select_and_pselect() {
    area("select");
}

/// Read-only pages shared between processes (the sentry's file cache): a process that makes
/// its read-only data writable keeps its change to itself and its forks, a second exec and a
/// new mapping of a file written since see the file's bytes, MADV_DONTNEED keeps them.
#[test]
fn read_only_pages_shared_between_processes() {
    writable_area("mapcache");
}

/// A signal handler that uses the vector registers leaves the interrupted code's intact: the
/// whole XSAVE state (AVX's upper halves too) is saved and restored around it.
#[test]
fn vector_registers_survive_a_handler() {
    area("fpstate");
}

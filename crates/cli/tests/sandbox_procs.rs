//! Processes in the sandbox class: fork, exec, wait, pipes, descriptors, signals, process
//! groups, orphans and sleeps, as tests/programs/procs.c checks them. Each area runs first in
//! the container class, where the C program must pass (it is checked against the real kernel),
//! then in the sandbox, which must give the same exit code and the same output.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// (exit code, stdout, stderr) of `args` in the container class and in the sandbox class.
fn both(b: &mut Bundle, args: &[&str]) -> [(i32, String, String); 2] {
    let rt = Rt::new();
    b.set("/process/args", json!(args));
    b.set("/annotations", json!({}));
    let id = unique("procs-cls");
    let (c1, o1, e1) = rt.run(b, &id);
    rt.assert_clean(&id, b);
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    let id = unique("procs-sbx");
    let (c2, o2, e2) = rt.run(b, &id);
    rt.assert_clean(&id, b);
    assert!(!e2.contains("outside the allowlist"), "{args:?}: {e2}");
    [(c1, o1, e1), (c2, o2, e2)]
}

/// A bundle whose rootfs holds procs.c built static as /bin/procs, and the files its `exec`
/// area runs: /notelf (executable, not a program) and /script.sh.
fn bundle() -> Bundle {
    let b = Bundle::new(&["true"]);
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/procs.c");
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(b.rootfs().join("bin/procs"))
        .arg(src)
        .output()
        .expect("gcc (the CI installs it)");
    assert!(
        out.status.success(),
        "gcc -static procs.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// The FAIL lines of an output.
fn failures(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("FAIL")).collect()
}

/// Runs `procs <area>` in both classes: the container class passes every check, and the
/// sandbox gives its exit code and output.
fn area(name: &str) {
    let mut b = bundle();
    let [(c_code, c_out, c_err), (s_code, s_out, s_err)] = both(&mut b, &["/bin/procs", name]);
    assert!(
        c_code == 0 && failures(&c_out).is_empty(),
        "procs {name} fails in the container class (exit {c_code}): the test itself is wrong\n\
         {c_out}\nstderr: {c_err}"
    );
    assert!(
        c_out.ends_with(&format!("{name}: ok\n")),
        "procs {name} did not finish in the container class:\n{c_out}"
    );
    let sandbox_failures = failures(&s_out);
    assert!(
        s_code == c_code && s_out == c_out,
        "procs {name}: the sandbox (exit {s_code}) differs from the container class (exit \
         {c_code})\nsandbox failures:\n{}\nsandbox stdout:\n{s_out}\nsandbox stderr:\n{s_err}",
        sandbox_failures.join("\n")
    );
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

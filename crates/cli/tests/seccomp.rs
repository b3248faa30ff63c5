//! The config's seccomp profile: rules with errno, argument conditions (including masked
//! equality), applied to the init and to exec'd processes, and bad profiles refused.

mod common;
use common::*;
use serde_json::json;

fn profile() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            // chmod with all "other" bits set is refused (masked equality on the mode).
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 1, "value": 7, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 2, "value": 7, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]},
            {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            // Newer than Debian 12's libseccomp: skipped (a typo would be refused, see below).
            {"names": ["mseal"], "action": "SCMP_ACT_ERRNO"}
        ]
    })
}

#[test]
fn rules_return_their_errno_with_and_without_argument_conditions() {
    for nnp in [false, true] {
        let rt = Rt::new();
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "touch /tmp/f; chmod 777 /tmp/f 2>&1; chmod 700 /tmp/f && echo private-ok; kill -TERM $$ 2>&1; kill -0 $$ && echo signal0-ok; hostname x 2>&1; true",
        ]);
        b.set("/root/readonly", json!(false));
        b.set("/linux/seccomp", profile());
        b.set("/process/noNewPrivileges", json!(nnp));
        let id = unique("seccomp");
        let (code, out, err) = rt.run(&b, &id);
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].contains("Permission denied"),
            "masked-equality rule, nnp={nnp}: {out}"
        );
        assert_eq!(lines[1], "private-ok");
        assert!(
            lines[2].contains("Operation not permitted"),
            "equality rule: {out}"
        );
        assert_eq!(lines[3], "signal0-ok");
        assert!(
            lines[4].contains("Function not implemented"),
            "errnoRet 38: {out}"
        );
        rt.assert_clean(&id, &b);
    }
}

#[test]
fn exec_gets_the_containers_profile() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.set("/linux/seccomp", profile());
    let id = unique("seccomp-exec");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let out = rt.cmd(&["exec", &id, "hostname", "y"]);
    assert!(
        !out.status.success() && stderr(&out).contains("Function not implemented"),
        "{}",
        stderr(&out)
    );
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn bad_profiles_are_refused_with_the_field_named() {
    for (profile, want) in [
        (
            json!({"defaultAction": "SCMP_ACT_NOPE"}),
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}, {"names": ["mkdir", "mkdri"], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[1].names: unknown system call \"mkdri\"",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY",
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        b.set("/linux/seccomp", profile);
        create_fails(&b, &[want]);
    }
}

/// SCMP_ACT_NOTIFY: the runtime sends the notify fd and the container state to listenerPath;
/// the listener (here, the test) answers the call in place of the kernel.
#[test]
fn a_notify_listener_receives_the_fd_and_answers_a_call() {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use std::os::fd::AsRawFd;
    let rt = Rt::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "mkdir /tmp/notified && echo mkdir-said-ok; [ -d /tmp/notified ] || echo not-created",
    ]);
    b.set("/root/readonly", json!(false));
    let sock = b.dir().join("listener.sock");
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "from-the-test",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let server = std::thread::spawn(move || {
        let (fd, msg) = accept_notify_fd(&listener);
        // Answer the one call: "success", without creating anything.
        let req = ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
        ScmpNotifResp::new_val(req.id, 0, ScmpNotifRespFlags::empty())
            .respond(fd.as_raw_fd())
            .unwrap();
        (msg, req.pid)
    });
    let id = unique("notify");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    let (msg, caller) = server.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["mkdir-said-ok", "not-created"]
    );
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["metadata"], "from-the-test");
    assert_eq!(msg["state"]["id"], id.as_str());
    assert!(msg["pid"].as_i64().unwrap() > 0 && caller > 0, "{msg}");
    rt.assert_clean(&id, &b);
}

/// The listener's side of the handshake: the runtime's connection, the notify fd and the
/// JSON that comes with it. Bounded: a runtime that never connects fails the test instead of
/// hanging it.
fn accept_notify_fd(
    listener: &std::os::unix::net::UnixListener,
) -> (std::os::fd::OwnedFd, serde_json::Value) {
    listener.set_nonblocking(true).unwrap();
    let mut tries = 0;
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(_) if tries < 500 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("the runtime never connected to the listener: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let (fd, body) = bulkhead_linux::socket::recv_fd(&conn).unwrap();
    (fd, serde_json::from_slice(&body).unwrap())
}

/// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: once the listener has received a call, a signal
/// with a handler no longer interrupts it, so the listener's answer still reaches the caller.
/// Without the flag (the control run) the same signal withdraws the call and the answer is
/// refused: the test tells the two apart.
#[test]
fn wait_killable_recv_keeps_a_received_call_through_a_signal() {
    use libseccomp::{notify_id_valid, ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use std::os::fd::AsRawFd;
    for killable in [true, false] {
        let rt = Rt::new();
        // The shell's own umask call is the notified one (the runtime makes none with this
        // config: a notify filter is loaded before the init's own set-up calls); the trap
        // gives SIGUSR1 a handler.
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "trap 'echo got-usr1' USR1; umask 077; echo done",
        ]);
        let sock = b.dir().join("listener.sock");
        let flags: &[&str] = if killable {
            &["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
        } else {
            &[]
        };
        b.set(
            "/linux/seccomp",
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": sock,
                "flags": flags,
                "syscalls": [{"names": ["umask"], "action": "SCMP_ACT_NOTIFY"}]
            }),
        );
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (fd, _) = accept_notify_fd(&listener);
            let fd = fd.as_raw_fd();
            let first = ScmpNotifReq::receive(fd).unwrap();
            bulkhead_linux::process::kill(first.pid as i32, libc::SIGUSR1).unwrap();
            // Bounded wait for the kernel to withdraw the call (it does so at once without
            // the flag; with it, the call must still be pending after the whole wait).
            let mut withdrawn = false;
            for _ in 0..50 {
                if notify_id_valid(fd, first.id).is_err() {
                    withdrawn = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let answer =
                |id| ScmpNotifResp::new_error(id, -libc::EACCES, ScmpNotifRespFlags::empty());
            let answered = answer(first.id).respond(fd).is_ok();
            // A withdrawn call is restarted (or fails with EINTR): answer any repeat so the
            // container can finish. The fd hangs up when the container's processes are gone.
            while bulkhead_linux::poll::poll_readable(&[fd], 5000).unwrap()[0] {
                let Ok(again) = ScmpNotifReq::receive(fd) else {
                    break;
                };
                let _ = answer(again.id).respond(fd);
            }
            (withdrawn, answered)
        });
        let id = unique("waitkill");
        let (code, out, err) = rt.run(&b, &id);
        let (withdrawn, answered) = server.join().unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("got-usr1") && out.contains("done"), "{out}");
        if killable {
            assert!(
                !withdrawn && answered,
                "the signal withdrew the call: {out}"
            );
        } else {
            assert!(
                withdrawn && !answered,
                "control run: the call survived: {out}"
            );
        }
        rt.assert_clean(&id, &b);
    }
}

/// The calls the test program and the runtime's last steps before exec need.
const ALLOWED: &[&str] = &[
    "access",
    "arch_prctl",
    "brk",
    "capget",
    "capset",
    "chdir",
    "close",
    "close_range",
    "dup2",
    "dup3",
    "execve",
    "exit",
    "exit_group",
    "fchdir",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents64",
    "getpid",
    "getrandom",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "prctl",
    "prlimit64",
    "read",
    "readlink",
    "readlinkat",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rseq",
    "sched_yield",
    "set_robust_list",
    "set_tid_address",
    "setgid",
    "setgroups",
    "setresgid",
    "setresuid",
    "setuid",
    "statfs",
    "tgkill",
    "write",
];

/// An allow-list profile with defaultErrnoRet 22: an unlisted call (getppid, 110; clone3, 435,
/// older than close_range, 436, which the list names) gets EINVAL, a call newer than every call
/// the profile names (600) ENOSYS, as runc's stub gives it, for the architectures the profile
/// lists; with only SCMP_ARCH_X86 or SCMP_ARCH_X32 listed the rules apply to the native calls
/// too (libseccomp keeps the native architecture) and no native call gets the stub's ENOSYS.
/// Side by side with runc.
#[test]
fn unlisted_and_newer_calls_get_the_profiles_errno_as_runcs_do() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["/bin/rawcalls", "110", "435", "600"]);
    programs::build_static(&b, "rawcalls");
    b.set("/process/noNewPrivileges", json!(true));
    for (archs, want) in [
        (
            json!(["SCMP_ARCH_X86_64"]),
            "110 errno 22\n435 errno 22\n600 errno 38\n",
        ),
        (
            json!(["SCMP_ARCH_X86"]),
            "110 errno 22\n435 errno 22\n600 errno 22\n",
        ),
        (
            json!(["SCMP_ARCH_X32"]),
            "110 errno 22\n435 errno 22\n600 errno 22\n",
        ),
        (
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
            "110 errno 22\n435 errno 22\n600 errno 38\n",
        ),
        (json!([]), "110 errno 22\n435 errno 22\n600 errno 22\n"),
    ] {
        b.set(
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 22,
                   "architectures": archs,
                   "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]}),
        );
        let id = unique("seccomp-errno");
        let (code, ours, err) = rt.run(&b, &id);
        assert_eq!(code, 0, "{err}");
        rt.assert_clean(&id, &b);
        assert_eq!(ours, want, "{archs}");
        let args = [
            "run",
            "--bundle",
            b.dir().to_str().unwrap(),
            &unique("runc"),
        ];
        let runcs = rt.runc(&args);
        assert_eq!(stdout(&runcs), ours, "runc, {archs}: {}", stderr(&runcs));
    }
}

/// SCMP_ACT_NOTIFY on write is refused at create, naming the rule (runc refuses it too, at
/// start of the init: "SCMP_ACT_NOTIFY cannot be used for the write syscall").
#[test]
fn notify_on_write_is_refused_as_runc_refuses_it() {
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent.sock",
               "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["getppid", "write"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    create_fails(
        &b,
        &[
            "linux.seccomp.syscalls[1]",
            "SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ],
    );
    let rt = Rt::new();
    let out = rt.runc(&[
        "run",
        "--bundle",
        b.dir().to_str().unwrap(),
        &unique("runc"),
    ]);
    assert!(
        stderr(&out).contains("SCMP_ACT_NOTIFY cannot be used for the write syscall"),
        "{}",
        stderr(&out)
    );
}

//! `exec`: a process in a running container, from flags or a process.json.

mod common;
use common::*;
use serde_json::json;

fn running(rt: &Rt) -> (Bundle, String) {
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("exec");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    (b, id)
}

#[test]
fn exec_joins_the_container_and_returns_the_exit_code() {
    let rt = Rt::new();
    let (b, id) = running(&rt);
    let out = rt.cmd(&[
        "exec",
        "--env",
        "X=42",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $X; pwd; hostname; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["sleep 1000 ", "42", "/tmp", "bulkhead"]);
    // The process was in the container's cgroup while it ran, and is gone now.
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids.len(), 1);
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn exec_user_caps_detach_and_process_file() {
    let rt = Rt::new();
    let (b, id) = running(&rt);
    assert_eq!(
        rt.ok(&["exec", "--user", "1000:1000", &id, "id", "-u"])
            .trim(),
        "1000"
    );
    let caps = rt.ok(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    // The default set (KILL, NET_BIND_SERVICE, AUDIT_WRITE) plus SYS_ADMIN (bit 21).
    assert!(caps.trim().ends_with("0000000020200420"), "{caps}");
    let pid = rt.exec_detached(&b, &id, &["sleep", "999"]);
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");
    let pfile = b.dir().join("process.json");
    std::fs::write(&pfile, json!({"args": ["sh", "-c", "echo from-file $Y"], "env": ["Y=yes", "PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}).to_string()).unwrap();
    assert_eq!(
        rt.ok(&["exec", "--process", pfile.to_str().unwrap(), &id])
            .trim(),
        "from-file yes"
    );
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn exec_errors() {
    let rt = Rt::new();
    let (b, id) = running(&rt);
    let missing = rt.cmd(&["exec", &id, "nosuchprogram"]);
    assert!(!missing.status.success());
    assert_eq!(
        stderr(&missing).trim(),
        "exec: \"nosuchprogram\": executable file not found in $PATH"
    );
    let badfile = b.dir().join("bad.json");
    std::fs::write(&badfile, "{\"args\": \"not-a-list\"}").unwrap();
    let bad = rt.cmd(&["exec", "--process", badfile.to_str().unwrap(), &id]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("bad.json: args"),
        "{}",
        stderr(&bad)
    );
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    let stopped = rt.cmd(&["exec", &id, "true"]);
    assert!(
        !stopped.status.success() && stderr(&stopped).contains("stopped"),
        "{}",
        stderr(&stopped)
    );
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
}

/// Issue 17: an exec that fails (no such program, a cwd that is not there, no such container,
/// a process.json that cannot be read) exits 255, as runc's, so that a caller tells it from a
/// process that ran and exited 1; runc on the same container, side by side.
#[test]
fn a_failed_exec_exits_255_as_runcs_does() {
    let rt = Rt::new();
    let (b, id) = running(&rt);
    let theirs = unique("runcexec");
    let o = rt.runc(&["run", "-d", "-b", b.dir().to_str().unwrap(), &theirs]);
    assert!(o.status.success(), "runc: {}", stderr(&o));
    let cases: &[(&[&str], &[&str], i32)] = &[
        (&[], &["/nonexistent"], 255),
        (&["--cwd", "/nonexistent"], &["true"], 255),
        (&["--process", "/nonexistent.json"], &[], 255),
        (&[], &["sh", "-c", "exit 1"], 1),
    ];
    for (flags, command, code) in cases {
        for (who, cid) in [("bulkhead", id.as_str()), ("runc", theirs.as_str())] {
            let args = [&["exec"][..], flags, &[cid], command].concat();
            let o = if who == "runc" {
                rt.runc(&args)
            } else {
                rt.cmd(&args)
            };
            assert_eq!(
                o.status.code(),
                Some(*code),
                "{who} {args:?}: {}",
                stderr(&o)
            );
            if *code == 255 && who == "bulkhead" {
                assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
            }
        }
    }
    for who in ["bulkhead", "runc"] {
        let args = ["exec", "nosuch", "true"];
        let o = if who == "runc" {
            rt.runc(&args)
        } else {
            rt.cmd(&args)
        };
        assert_eq!(o.status.code(), Some(255), "{who}: {}", stderr(&o));
    }
    assert!(rt.runc(&["delete", "-f", &theirs]).status.success());
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

/// Issue 17: exec into a paused container is refused with runc's message and exit code; with
/// `--ignore-paused` it is let in, and its process runs once the container is resumed.
#[test]
fn exec_into_a_paused_container_needs_ignore_paused() {
    let rt = Rt::new();
    let (b, id) = running(&rt);
    let theirs = unique("runcpaused");
    let o = rt.runc(&["run", "-d", "-b", b.dir().to_str().unwrap(), &theirs]);
    assert!(o.status.success(), "runc: {}", stderr(&o));
    rt.ok(&["pause", &id]);
    assert!(rt.runc(&["pause", &theirs]).status.success());
    let ours = rt.cmd(&["exec", &id, "true"]);
    let runc = rt.runc(&["exec", &theirs, "true"]);
    assert_eq!(ours.status.code(), Some(255));
    assert_eq!(runc.status.code(), Some(255));
    let msg = "cannot exec in a paused container (use --ignore-paused to override)";
    assert_eq!(stderr(&ours).trim(), msg);
    assert!(stderr(&runc).contains(msg), "{}", stderr(&runc));
    assert!(rt.runc(&["resume", &theirs]).status.success());
    assert!(rt.runc(&["delete", "-f", &theirs]).status.success());

    let c = rt.command(&[
        "exec",
        "--ignore-paused",
        &id,
        "sh",
        "-c",
        "echo thawed; exit 3",
    ]);
    let waiter = std::thread::spawn(move || capture(c));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !waiter.is_finished(),
        "the process ran in a frozen container"
    );
    assert_eq!(rt.status(&id), "paused");
    rt.ok(&["resume", &id]);
    let o = waiter.join().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o), "thawed\n");
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

/// Issue 17: `exec --process` with no `user` runs as the container's user (runc 1.1.5 runs it
/// as root: bulkhead never grants root by omission); an explicit user, even `{}`, is taken as
/// written. `--user UID` without a gid keeps the container's gid, as runc's does.
#[test]
fn exec_process_without_user_takes_the_containers() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let id = unique("execuser");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let theirs = unique("runcexecuser");
    let o = rt.runc(&["run", "-d", "-b", b.dir().to_str().unwrap(), &theirs]);
    assert!(o.status.success(), "runc: {}", stderr(&o));
    let file = b.dir().join("p.json");
    let ids = |process: serde_json::Value, who: &str, cid: &str| {
        std::fs::write(&file, process.to_string()).unwrap();
        let args = ["exec", "--process", file.to_str().unwrap(), cid];
        let o = if who == "runc" {
            rt.runc(&args)
        } else {
            rt.cmd(&args)
        };
        assert!(o.status.success(), "{who}: {}", stderr(&o));
        stdout(&o)
    };
    let base =
        json!({"args": ["/bin/sh", "-c", "echo uid=$(/bin/id -u) gid=$(/bin/id -g)"], "cwd": "/"});
    assert_eq!(ids(base.clone(), "bulkhead", &id), "uid=1000 gid=1000\n");
    // runc 1.1.5 here: root.
    assert_eq!(ids(base.clone(), "runc", &theirs), "uid=0 gid=0\n");
    let mut explicit = base.clone();
    explicit["user"] = json!({"uid": 5});
    for (who, cid) in [("bulkhead", id.as_str()), ("runc", theirs.as_str())] {
        assert_eq!(ids(explicit.clone(), who, cid), "uid=5 gid=0\n", "{who}");
    }
    explicit["user"] = json!({});
    for (who, cid) in [("bulkhead", id.as_str()), ("runc", theirs.as_str())] {
        assert_eq!(ids(explicit.clone(), who, cid), "uid=0 gid=0\n", "{who}");
    }
    for (who, cid) in [("bulkhead", id.as_str()), ("runc", theirs.as_str())] {
        let args = [
            "exec",
            "--user",
            "7",
            cid,
            "sh",
            "-c",
            "echo uid=$(id -u) gid=$(id -g)",
        ];
        let o = if who == "runc" {
            rt.runc(&args)
        } else {
            rt.cmd(&args)
        };
        assert_eq!(stdout(&o), "uid=7 gid=1000\n", "{who}: {}", stderr(&o));
    }
    assert!(rt.runc(&["delete", "-f", &theirs]).status.success());
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

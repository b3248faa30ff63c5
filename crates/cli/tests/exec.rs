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

/// Issue 17: `exec --cgroup [CONTROLLER[,...]:]PATH` (runc 1.1): the process joins the named
/// sub-cgroup of the container's cgroup, one path for every hierarchy or per v1 controller
/// (repeatable). Side by side with runc: /proc/self/cgroup of the exec'd process, the container's
/// path blanked, and the exit code; a missing sub-cgroup, `..` out of the container's cgroup, an
/// unknown controller or a malformed flag fail in both (255), for bulkhead in one line and with
/// no process left. `ps` lists a process in a sub-cgroup, and `delete -f` kills it and removes
/// the sub-cgroups with the container's cgroup, as runc's.
#[test]
fn exec_cgroup_joins_a_sub_cgroup_as_runcs() {
    let rt = Rt::new();
    let top = unique("execcg");
    let mut b = Bundle::new(&["sleep", "1000"]);
    let bundle = b.dir().to_str().unwrap().to_string();
    let ours = unique("execcg-b");
    let theirs = unique("execcg-r");
    b.set("/linux/cgroupsPath", json!(format!("/{top}/{ours}")));
    let o = rt.cmd(&["run", "-d", "--bundle", &bundle, &ours]);
    b.set("/linux/cgroupsPath", json!(format!("/{top}/{theirs}")));
    let r = rt.runc(&["run", "-d", "--bundle", &bundle, &theirs]);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(o.status.success(), "ours: {}", stderr(&o));
        assert!(r.status.success(), "runc: {}", stderr(&r));
        // `s` in every hierarchy of both containers (a cpuset one filled in, or none may join
        // it), `m` in memory and pids only.
        for id in [&ours, &theirs] {
            for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
                let dir = h.path().join(&top).join(id);
                if !dir.is_dir() {
                    continue;
                }
                std::fs::create_dir(dir.join("s")).unwrap();
                if dir.join("cpuset.cpus").exists() {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = std::fs::read_to_string(dir.join(f)).unwrap();
                        std::fs::write(dir.join("s").join(f), v.trim()).unwrap();
                    }
                }
                let name = h.file_name();
                if name == "memory" || name == "pids" {
                    std::fs::create_dir(dir.join("m")).unwrap();
                }
                if name == "cpuset" {
                    // Made with a bare mkdir: no cpus, no mems, no process may join it.
                    std::fs::create_dir(dir.join("e")).unwrap();
                }
            }
        }
        let cases: &[(&[&str], bool)] = &[
            (&["--cgroup", "s"], true),
            (&["--cgroup", "memory:m"], true),
            (&["--cgroup", "memory,pids:m"], true),
            (&["--cgroup", "memory:m", "--cgroup", "pids:m"], true),
            (
                &["--cgroup", "memory:s", "--cgroup", "name=systemd:s"],
                true,
            ),
            (&["--cgroup", "memory:m/../m"], true),
            (&["--cgroup", "m"], false),
            (&["--cgroup", "memory:nope"], false),
            (&["--cgroup", "memory:.."], false),
            (&["--cgroup", "memory:../../../.."], false),
            (&["--cgroup", "nosuch:m"], false),
            (&["--cgroup", "a:b:c"], false),
            (&["--cgroup", "s", "--cgroup", "memory:m"], false),
            (&["--cgroup", "cpuset:e"], false),
        ];
        for (flags, ok) in cases {
            let run = |runc: bool, id: &str| {
                let mut args = vec!["exec"];
                args.extend_from_slice(flags);
                args.extend_from_slice(&[id, "cat", "/proc/self/cgroup"]);
                let out = if runc { rt.runc(&args) } else { rt.cmd(&args) };
                let text = stdout(&out).replace(&format!("/{top}/{id}"), "/C");
                (out.status.code(), text, stderr(&out))
            };
            let (rc, rtext, rerr) = run(true, &theirs);
            let (code, text, err) = run(false, &ours);
            assert_eq!(code, rc, "{flags:?}: ours {err} runc {rerr}");
            assert_eq!(code == Some(0), *ok, "{flags:?}: {err}");
            assert_eq!(text, rtext, "{flags:?}");
            if *ok {
                let joined = if flags.contains(&"s") || flags[1].ends_with(":s") {
                    "/C/s"
                } else {
                    "/C/m"
                };
                assert!(text.contains(joined), "{flags:?}: {text}");
            } else {
                assert_eq!(code, Some(255), "{flags:?}");
                assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: {err}");
                assert!(err.contains("--cgroup"), "{flags:?}: {err}");
                // Nothing of the failed exec: the init alone in ours.
                assert_eq!(rt.ok(&["ps", "--format", "json", &ours]).trim(), {
                    let pid = rt.state(&ours)["pid"].as_i64().unwrap();
                    format!("[{pid}]")
                });
            }
        }
        // A process in a sub-cgroup is the container's: `ps` lists it in both.
        for runc in [false, true] {
            let id = if runc { &theirs } else { &ours };
            let args = [
                "exec",
                "-d",
                "--cgroup",
                "memory,pids:m",
                id,
                "sleep",
                "999",
            ];
            let out = if runc { rt.runc(&args) } else { rt.cmd(&args) };
            assert!(out.status.success(), "{}", stderr(&out));
            let ps = if runc {
                rt.runc(&["ps", "--format", "json", id])
            } else {
                rt.cmd(&["ps", "--format", "json", id])
            };
            let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
            assert_eq!(pids.len(), 2, "runc {runc}: {pids:?}");
        }
    }));
    let r = rt.runc(&["delete", "-f", &theirs]);
    let d = rt.cmd(&["delete", "-f", &ours]);
    // What runc leaves of its parents, and our `top` if a step failed.
    let ours_left = find_cgroups(&ours);
    remove_cgroup_tree(&top);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
    assert!(r.status.success(), "runc: {}", stderr(&r));
    assert!(d.status.success(), "ours: {}", stderr(&d));
    assert!(ours_left.is_empty(), "left: {ours_left:?}");
    rt.assert_clean(&ours, &b);
}

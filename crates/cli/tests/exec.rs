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

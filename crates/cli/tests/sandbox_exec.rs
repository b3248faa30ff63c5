//! `bulkhead exec` into a running sandbox-class container: the process runs inside the sandbox
//! (served by the sentry), with the output, stdin, exit status and signal handling it has in
//! the container class; detached, a proxy on the host stands for it; bad requests fail with
//! one line and leave nothing in the sandbox.

mod common;
use common::clients::wait_for;
use common::*;
use serde_json::json;
use std::io::Write;
use std::process::Stdio;

/// A started `sleep 1000` container of `class`; returns its id.
fn running(rt: &Rt, b: &mut Bundle, class: &str) -> String {
    b.set("/process/args", json!(["sleep", "1000"]));
    if class == "sandbox" {
        b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    }
    let id = unique(&format!("exec-{class}"));
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    id
}

/// `exec ID args...` with `input` on stdin: (exit code, stdout, stderr).
fn exec(rt: &Rt, id: &str, args: &[&str], input: &str) -> (i32, String, String) {
    let mut all = vec!["exec", id];
    all.extend_from_slice(args);
    let mut c = rt.command(&all);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn bulkhead exec");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for bulkhead exec");
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

/// The host processes in the container's cgroup (for the sandbox: the sentry, its keeper
/// and a stub per process), once the sandbox has started: an exec answered means the sentry
/// serves, so the first process's stub exists.
fn settled_procs(rt: &Rt, id: &str) -> usize {
    let (code, _, err) = exec(rt, id, &["true"], "");
    assert_eq!(code, 0, "{err}");
    cgroup_procs(id)
}

fn cgroup_procs(id: &str) -> usize {
    find_cgroups(id)
        .iter()
        .filter_map(|cg| std::fs::read_to_string(cg.join("cgroup.procs")).ok())
        .map(|s| s.lines().count())
        .max()
        .unwrap_or(0)
}

fn stop(rt: &Rt, id: &str, b: &Bundle) {
    rt.ok(&["kill", id, "KILL"]);
    rt.wait_status(id, "stopped");
    rt.ok(&["delete", id]);
    rt.assert_clean(id, b);
}

/// Runs `f(class, id)` with a running container in each class (the container class first),
/// stopping each after; what `f` returned for each.
fn in_each_class<T>(rt: &Rt, f: impl Fn(&str, &str) -> T) -> Vec<T> {
    let mut seen = Vec::new();
    for class in ["container", "sandbox"] {
        let mut b = Bundle::new(&["true"]);
        let id = running(rt, &mut b, class);
        seen.push(f(class, &id));
        stop(rt, &id, &b);
    }
    seen
}

/// The same exec gives the same output and status in both classes: a pipeline with stdin,
/// an exit code, a missing program, the process's own name in /proc (the sandbox once gave
/// an exec'd process the first process's); in the sandbox the process is the sentry's (its
/// uname).
#[test]
fn exec_gives_the_container_class_output() {
    let rt = Rt::new();
    let seen = in_each_class(&rt, |class, id| {
        let script = "read -r line; echo \"got $line from $0\" | tr a-z A-Z; exit 7";
        let piped = exec(&rt, id, &["sh", "-c", script], "hello\n");
        let env = exec(
            &rt,
            id,
            &["sh", "-c", "echo $PATH; pwd; cat /proc/$$/comm"],
            "",
        );
        let missing = exec(&rt, id, &["no-such-program"], "");
        let kernel = exec(&rt, id, &["uname", "-v"], "");
        if class == "sandbox" {
            assert!(kernel.1.contains("bulkhead sentry"), "{kernel:?}");
            assert_eq!(missing.2.lines().count(), 1, "{missing:?}");
            assert!(missing.2.contains("no-such-program"), "{missing:?}");
        }
        (piped, env, missing.0 != 0)
    });
    assert_eq!(
        seen[0], seen[1],
        "container class (left) and sandbox (right)"
    );
    assert_eq!(seen[1].0 .0, 7);
    assert_eq!(seen[1].0 .1, "GOT HELLO FROM SH\n");
}

/// An exec'd process's /dev/stdout, /dev/stderr and /dev/stdin are its own stdio (the
/// `bulkhead exec`'s), as in the container class: not the container's first process's, where
/// the sandbox once sent them.
#[test]
fn exec_dev_stdout_is_the_execs_own() {
    let rt = Rt::new();
    let seen = in_each_class(&rt, |_, id| {
        let script = "echo out > /dev/stdout; echo err > /dev/stderr; cat /dev/stdin";
        exec(&rt, id, &["sh", "-c", script], "in\n")
    });
    let want = (0, "out\nin\n".to_string(), "err\n".to_string());
    assert_eq!(seen[0], want, "container class");
    assert_eq!(seen[1], want, "sandbox");
}

/// An exec without a terminal has no controlling terminal, whatever its stdin is: /dev/tty
/// answers ENXIO in both classes, also with /dev/null as stdin (a character device the
/// sandbox once took for the exec's terminal, so /dev/tty opened it).
#[test]
fn exec_without_a_terminal_has_no_dev_tty() {
    let rt = Rt::new();
    let seen = in_each_class(&rt, |_, id| {
        let script = "echo x > /dev/tty; echo status $?";
        let out = rt
            .command(&["exec", id, "sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    });
    assert_eq!(
        seen[0], seen[1],
        "container class (left) and sandbox (right)"
    );
    assert_eq!(seen[0].1, "status 1\n");
    assert!(
        seen[0].2.contains("No such device or address"),
        "{}",
        seen[0].2
    );
}

/// Signals sent to `bulkhead exec` reach the process (its trap runs), as in the container
/// class.
#[test]
fn exec_passes_signals_on() {
    let rt = Rt::new();
    for class in ["container", "sandbox"] {
        let mut b = Bundle::new(&["true"]);
        let id = running(&rt, &mut b, class);
        let script = "trap 'echo got TERM; exit 5' TERM; echo ready; sleep 100 >/dev/null & wait";
        let mut c = rt.command(&["exec", &id, "sh", "-c", script]);
        c.stdout(Stdio::piped());
        let mut child = c.spawn().expect("spawn bulkhead exec");
        let mut out = child.stdout.take().expect("stdout");
        let mut first = [0u8; 6];
        std::io::Read::read_exact(&mut out, &mut first).expect("ready");
        assert_eq!(&first, b"ready\n", "{class}");
        let _ = bulkhead_kill(child.id() as i32, libc::SIGTERM);
        let status = child.wait().expect("wait");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).expect("rest");
        assert_eq!(
            (status.code(), rest.as_str()),
            (Some(5), "got TERM\n"),
            "{class}"
        );
        stop(&rt, &id, &b);
    }
}

fn bulkhead_kill(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: integer arguments only.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `exec -d`: the pid file names a host process that stands for the sandboxed one; killing
/// it ends the process inside (its stub leaves the container's cgroup), and the container
/// goes on.
#[test]
fn detached_exec_has_a_host_proxy() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    let id = running(&rt, &mut b, "sandbox");
    let before = settled_procs(&rt, &id);
    let pid = rt.exec_detached(&b, &id, &["sleep", "100"]);
    wait_for(
        || cgroup_procs(&id) == before + 1,
        "the exec'd process's stub",
    );
    bulkhead_kill(pid as i32, libc::SIGKILL).expect("kill the proxy");
    wait_for(|| cgroup_procs(&id) == before, "the exec'd process to end");
    assert_eq!(rt.status(&id), "running");
    let (code, out, _) = exec(&rt, &id, &["echo", "still here"], "");
    assert_eq!((code, out.as_str()), (0, "still here\n"));
    stop(&rt, &id, &b);
}

/// Bad exec requests: a missing program, a bad cwd, a detached terminal with no console socket,
/// a created sandbox: a non-zero exit, one line naming what is wrong, and nothing left in the
/// sandbox.
#[test]
fn bad_exec_requests_fail_cleanly() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    let id = running(&rt, &mut b, "sandbox");
    let before = settled_procs(&rt, &id);
    for (args, mention) in [
        (vec!["exec", &id, "/no/such/program"], "/no/such/program"),
        (vec!["exec", "--cwd", "/nowhere", &id, "true"], "/nowhere"),
        (vec!["exec", "-d", "-t", &id, "true"], "console"),
    ] {
        let out = rt.cmd(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(mention), "{args:?}: {err}");
    }
    assert_eq!(cgroup_procs(&id), before, "a failed exec left a process");
    stop(&rt, &id, &b);
    // Created but not started: the sentry does not serve yet.
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    let id = unique("exec-created");
    rt.ok(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    let out = rt.cmd(&["exec", &id, "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("created"), "{}", stderr(&out));
    rt.ok(&["delete", "--force", &id]);
    rt.assert_clean(&id, &b);
}

/// `exec -t` in the foreground: an interactive shell on a terminal of the caller's size, typed
/// at and answering, its exit status returned; in both classes.
#[test]
fn exec_with_a_terminal() {
    let rt = Rt::new();
    for class in ["container", "sandbox"] {
        let mut b = Bundle::new(&["true"]);
        let id = running(&rt, &mut b, class);
        let cmd = format!(
            "{BIN} --root {} exec -t {id} sh; echo exec-exit-$?; sleep 30",
            rt.root.0.display()
        );
        let term = Tmux::start(&cmd, 90, 25);
        // ttyname(3) finds the terminal (the sandbox names it /dev/fd/0; stat of that once
        // gave the container's stdin, so `tty` said "not a tty").
        term.send_line("stty size; tty >/dev/null && echo typed-$((40+2))");
        term.wait_for("typed-42");
        assert!(
            term.screen().contains("25 90"),
            "{class}:\n{}",
            term.screen()
        );
        // The terminal's ^C and ^Z reach the foreground job inside (job control in the
        // exec'd shell), not the shell.
        term.send_line("sleep 50");
        std::thread::sleep(std::time::Duration::from_millis(300));
        term.send_key("C-c");
        term.send_line("echo after-int-$?");
        term.wait_for("after-int-130");
        term.send_line("sleep 40");
        std::thread::sleep(std::time::Duration::from_millis(300));
        term.send_key("C-z");
        term.wait_for("Stopped");
        term.send_line("fg");
        std::thread::sleep(std::time::Duration::from_millis(300));
        term.send_key("C-c");
        term.send_line("echo after-fg-$?");
        term.wait_for("after-fg-130");
        term.send_line("exit 6");
        term.wait_for("exec-exit-6");
        drop(term);
        stop(&rt, &id, &b);
    }
}

/// Operating a running container of either class the same way: `ps` lists its processes (in
/// the sandbox, the sandbox's own: pid 1 first, the pids inside), `pause` freezes it and
/// `resume` lets it go on (the sentry survives the freeze), `events --stats` and `update` work,
/// and `kill --all TERM` reaches every process, whose handlers run, in both classes alike.
#[test]
fn ps_pause_resume_update_and_kill_all() {
    let rt = Rt::new();
    let script = "trap 'echo sh TERM >> /tmp/log' TERM; \
                  sh -c 'trap \"echo child TERM >> /tmp/log; exit 3\" TERM; while :; do sleep 1; done' & c=$!; \
                  sleep 100 & s=$!; touch /tmp/ready; \
                  wait $c; wait $c; echo child=$? >> /tmp/log; wait $s; echo sleep=$? >> /tmp/log; \
                  echo done >> /tmp/log";
    let mut logs = Vec::new();
    for class in ["container", "sandbox"] {
        let mut b = Bundle::new(&["sh", "-c", script]);
        b.set("/root/readonly", json!(false));
        if class == "sandbox" {
            b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
        }
        let id = unique(&format!("ops-{class}"));
        rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
        let ready = b.rootfs().join("tmp/ready");
        wait_for(|| ready.exists(), "the script's children");
        let table = rt.ok(&["ps", &id]);
        assert!(
            table.starts_with("UID") && table.contains(" sleep 100\n"),
            "{class}: {table}"
        );
        let pids: Vec<i64> =
            serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
        assert!(pids.len() >= 4, "{class}: {pids:?}");
        if class == "sandbox" {
            assert_eq!(pids[..3], [1, 2, 3], "the sandbox's own pids");
            assert!(
                table.lines().nth(1).unwrap().contains(" 1       0 "),
                "{table}"
            );
        }
        rt.ok(&["pause", &id]);
        assert_eq!(rt.status(&id), "paused");
        rt.ok(&["resume", &id]);
        assert_eq!(rt.status(&id), "running");
        let stats = rt.ok(&["events", "--stats", &id]);
        assert!(stats.contains("\"cpu\""), "{class}: {stats}");
        rt.ok(&["update", "--memory", "200m", &id]);
        rt.ok(&["kill", "--all", &id, "TERM"]);
        rt.wait_status(&id, "stopped");
        rt.ok(&["delete", &id]);
        rt.assert_clean(&id, &b);
        let log = std::fs::read_to_string(b.rootfs().join("tmp/log")).unwrap_or_default();
        let mut lines: Vec<String> = log.lines().map(String::from).collect();
        lines.sort();
        logs.push(lines);
    }
    let want = ["child TERM", "child=3", "done", "sh TERM", "sleep=143"];
    assert_eq!(logs[0], want, "container class");
    assert_eq!(logs[1], logs[0], "sandbox (right: the container class)");
}

//! The container's process: args, env, cwd, user and groups, umask, rlimits, no_new_privs,
//! oomScoreAdj, capabilities, the terminal through --console-socket, and --preserve-fds.

mod common;
use common::*;
use serde_json::json;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;

fn run_ok(b: &Bundle) -> String {
    let rt = Rt::new();
    let id = unique("proc");
    let (code, out, err) = rt.run(b, &id);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    rt.assert_clean(&id, b);
    out
}

#[test]
fn args_env_cwd_and_identity() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo \"$GREETING\" $0; pwd; id -u; id -g; id -G; umask",
    ]);
    b.push("/process/env", json!("GREETING=hello world"));
    b.set("/process/cwd", json!("/tmp"));
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001], "umask": 23}),
    );
    let out = run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "hello world sh",
            "/tmp",
            "1000",
            "1001",
            "1001 2000 2001",
            "0027"
        ],
        "{out}"
    );
}

#[test]
fn rlimits_no_new_privs_and_oom_score() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj",
    ]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768}]),
    );
    b.set("/process/noNewPrivileges", json!(true));
    b.set("/process/oomScoreAdj", json!(300));
    let out = run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "512");
    assert_eq!(lines[1], "768");
    assert!(lines[2].ends_with('1'), "{out}");
    assert_eq!(lines[3], "300");
}

#[test]
fn capabilities_are_exactly_the_configured_sets() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status",
    ]);
    let caps = json!(["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    b.set("/process/capabilities", json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": ["CAP_NET_BIND_SERVICE"]}));
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let out = run_ok(&b);
    // CAP_CHOWN is bit 0, CAP_NET_BIND_SERVICE bit 10. As uid 1000, only the ambient
    // capability survives the exec into permitted and effective (capabilities(7)).
    for (set, mask) in [
        ("CapInh", "401"),
        ("CapPrm", "400"),
        ("CapEff", "400"),
        ("CapBnd", "401"),
        ("CapAmb", "400"),
    ] {
        let line = out.lines().find(|l| l.starts_with(set)).unwrap();
        assert!(line.ends_with(&format!("{mask:0>16}")), "{set}: {line}");
    }
}

#[test]
fn a_dropped_capability_really_fails() {
    let mut b = Bundle::new(&["sh", "-c", "chown 1000 /tmp && echo chowned || echo denied"]);
    b.set("/root/readonly", json!(false));
    let out = run_ok(&b);
    assert_eq!(out.trim(), "denied", "CAP_CHOWN is not in the default set");
}

#[test]
fn terminal_goes_through_the_console_socket() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh", "-c", "tty; stty size; echo done"]);
    b.set("/process/terminal", json!(true));
    b.set("/process/consoleSize", json!({"height": 33, "width": 101}));
    let sock = b.dir().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = unique("tty");
    let out = rt.cmd(&[
        "create",
        "--bundle",
        b.dir().to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (conn, _) = listener.accept().unwrap();
    let (master, name) = bulkhead_linux::socket::recv_fd(&conn).unwrap();
    assert!(
        String::from_utf8_lossy(&name).starts_with("/dev/pts/"),
        "{name:?}"
    );
    rt.ok(&["start", &id]);
    let mut f = std::fs::File::from(master);
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    // Read until the program is done; EIO means the slave side closed.
    while !text.contains("done") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("33 101"), "{text}");
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    b.set("/process/terminal", json!(true));
    let id = unique("notty");
    let out = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("console socket"), "{}", stderr(&out));
    rt.assert_clean(&id, &b);
}

#[test]
fn preserve_fds_and_listen_fds_reach_the_container_and_nothing_else_does() {
    let rt = Rt::new();
    let b = Bundle::new(&["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4"]);
    let (d3, d4) = (b.dir().join("data3"), b.dir().join("data4"));
    std::fs::write(&d3, "through fd 3\n").unwrap();
    std::fs::write(&d4, "through fd 4\n").unwrap();
    let id = unique("fds");
    let (f3, f4) = (
        std::fs::File::open(&d3).unwrap(),
        std::fs::File::open(&d4).unwrap(),
    );
    let extra = std::fs::File::open("/etc/hostname").unwrap();
    let (fd3, fd4, fd_extra) = (f3.as_raw_fd(), f4.as_raw_fd(), extra.as_raw_fd());
    // fd 3 comes by socket activation (LISTEN_FDS=1), fd 4 by --preserve-fds 1; fd 9 is handed
    // to bulkhead too but must not reach the container.
    let mut c = rt.command(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.dir().to_str().unwrap(),
        &id,
    ]);
    unsafe {
        c.pre_exec(move || {
            // Through high numbers first: a source fd may itself be 3, 4 or 9, and dup2 onto
            // itself would keep its close-on-exec flag.
            for (i, fd) in [fd3, fd4, fd_extra].into_iter().enumerate() {
                libc::dup2(fd, 100 + i as i32);
            }
            for (i, target) in [3, 4, 9].into_iter().enumerate() {
                libc::dup2(100 + i as i32, target);
                libc::close(100 + i as i32);
            }
            Ok(())
        });
    }
    c.env("LISTEN_FDS", "1");
    let out = capture(c);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // 0-2, the passed 3 and 4, and the one ls opens to read /proc/self/fd.
    let fds: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3", "4", "5"], "fds in the container");
    assert_eq!(&lines[1..], ["1 1", "through fd 3", "through fd 4"]);
    rt.assert_clean(&id, &b);
}

/// `run` and `exec -t` in the foreground without --console-socket carry the terminal themselves,
/// as runc does: driven through a real terminal (tmux).
#[test]
fn foreground_run_and_exec_carry_the_terminal() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh"]);
    b.set("/process/terminal", json!(true));
    let id = unique("fgtty");
    let bin_root = format!("{BIN} --root {}", rt.root.0.display());
    let run = Tmux::start(
        &format!(
            "{bin_root} run --bundle {} {id}; echo EXIT=$?; sleep 60",
            b.dir().display()
        ),
        80,
        24,
    );
    run.wait_for("/ #");
    // exec -t into the same container, from a second terminal.
    let exec = Tmux::start(
        &format!("{bin_root} exec -t {id} sh -c 'tty; stty size; exit 6'; echo EXEC=$?; sleep 60"),
        70,
        20,
    );
    exec.wait_for("EXEC=");
    let exec_screen = exec.screen();
    run.send_line("echo sum=$((6*7)); stty size; exit 4");
    run.wait_for("EXIT=");
    let run_screen = run.screen();
    assert!(
        exec_screen.contains("/dev/pts/1")
            && exec_screen.contains("20 70")
            && exec_screen.contains("EXEC=6"),
        "{exec_screen}"
    );
    assert!(
        run_screen.contains("sum=42")
            && run_screen.contains("24 80")
            && run_screen.contains("EXIT=4"),
        "{run_screen}"
    );
    rt.assert_clean(&id, &b);
}

/// Issue 17: a process.cwd the process's user may not enter (/root, mode 0700, as uid 1000)
/// works as with runc: the runtime enters it while still privileged, so the process starts
/// there (and may not list it); for the init and for exec alike, side by side with runc. A cwd
/// that is not there is still an error.
#[test]
fn a_cwd_the_user_cannot_enter_is_entered_before_the_user_switch() {
    use std::os::unix::fs::PermissionsExt;
    let rt = Rt::new();
    let script = "pwd; ls . >/dev/null 2>&1 && echo listed || echo not-listed; id -u";
    let mut b = Bundle::new(&["sh", "-c", script]);
    std::fs::set_permissions(
        b.rootfs().join("root"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.set("/process/cwd", json!("/root"));
    let expected = "/root\nnot-listed\n1000\n";
    let id = unique("cwd");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!((code, out.as_str()), (0, expected), "{err}");
    rt.assert_clean(&id, &b);
    let runc = rt.runc(&["run", "-b", b.dir().to_str().unwrap(), &unique("runccwd")]);
    assert_eq!(stdout(&runc), expected, "runc: {}", stderr(&runc));

    b.set("/process/args", json!(["sleep", "1000"]));
    let id = unique("cwdexec");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let o = rt.cmd(&["exec", &id, "sh", "-c", script]);
    assert_eq!(stdout(&o), expected, "{}", stderr(&o));
    let o = rt.cmd(&["exec", "--cwd", "/nonexistent", &id, "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(stderr(&o).contains("/nonexistent"), "{}", stderr(&o));
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

//! The real clients: podman (through conmon) and containerd (through its runc shim) drive
//! bulkhead exactly as they drive runc, and get the same output and exit codes.

mod common;
use common::clients::*;
use common::*;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// podman and containerd state is machine-wide: run these tests one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
/// This machine lacks CAP_SYS_RESOURCE: podman's default of raising RLIMIT_NOFILE fails.
const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:20000",
    "--ulimit",
    "nproc=1024:1024",
];

fn runtimes() -> [(&'static str, String); 2] {
    [("runc", which("runc")), ("bulkhead", BIN.to_string())]
}

fn podman(runtime: &str, args: &[&str]) -> Output {
    run(Command::new("podman")
        .args(["--runtime", runtime, "--cgroup-manager", "cgroupfs"])
        .args(args)
        .stdin(Stdio::null()))
}

fn podman_run(runtime: &str, args: &[&str]) -> Output {
    let mut all = vec!["run"];
    all.extend_from_slice(&ULIMITS);
    all.extend_from_slice(args);
    podman(runtime, &all)
}

#[test]
fn podman_drives_bulkhead_like_runc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    podman_image();
    let mut seen: Vec<Vec<(Option<i32>, String)>> = Vec::new();
    for (name, rt) in runtimes() {
        let mut results = Vec::new();
        let mut record = |what: &str, o: &Output, show_out: bool| {
            let text = if show_out { stdout(o) } else { String::new() };
            results.push((o.status.code(), format!("{what}: {text}")));
        };
        record(
            "echo",
            &podman_run(&rt, &["--rm", IMAGE, "echo", "hello"]),
            true,
        );
        record(
            "exit",
            &podman_run(&rt, &["--rm", IMAGE, "sh", "-c", "exit 42"]),
            true,
        );
        record(
            "missing",
            &podman_run(&rt, &["--rm", IMAGE, "no-such-cmd"]),
            true,
        );
        let d = podman_run(&rt, &["-d", IMAGE, "sleep", "1000"]);
        assert!(d.status.success(), "{name}: run -d: {}", stderr(&d));
        let cid = stdout(&d).trim().to_string();
        record(
            "exec",
            &podman(&rt, &["exec", &cid, "sh", "-c", "echo in; exit 5"]),
            true,
        );
        record("exec-missing", &podman(&rt, &["exec", &cid, "nope"]), false);
        record("stop", &podman(&rt, &["stop", "-t", "1", &cid]), false);
        let code = podman(
            &rt,
            &[
                "inspect",
                &cid,
                "--format",
                "{{.State.ExitCode}} {{.State.Status}}",
            ],
        );
        record("inspect", &code, true);
        record("rm", &podman(&rt, &["rm", &cid]), false);
        // Nothing of the container is left in bulkhead's state.
        if name == "bulkhead" {
            let left = podman(&rt, &["ps", "-a", "-q", "--filter", &format!("id={cid}")]);
            assert_eq!(stdout(&left).trim(), "", "podman still lists {cid}");
            assert!(
                find_cgroups(&format!("libpod-{cid}")).is_empty() && find_cgroups(&cid).is_empty(),
                "cgroup of {cid} left"
            );
        }
        seen.push(results);
    }
    assert_eq!(seen[0], seen[1], "runc (left) and bulkhead (right) differ");
    assert_eq!(seen[1][0], (Some(0), "echo: hello\n".to_string()));
    assert_eq!(seen[1][1].0, Some(42));
    assert_eq!(seen[1][2].0, Some(127));
    assert_eq!(seen[1][3], (Some(5), "exec: in\n".to_string()));
}

/// podman picks the sandbox class per container with an annotation; the output is the same as
/// runc's for the same command.
#[test]
fn podman_runs_the_sandbox_class_by_annotation() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    podman_image();
    // Builtins only: fork and exec come with the sandbox's step 2.
    let cmd = [
        "sh",
        "-c",
        "echo hello from $0; read -r line < /etc/os-release; echo \"$line\"; exit 3",
    ];
    let mut seen = Vec::new();
    for (name, rt) in runtimes() {
        let mut args = vec!["--rm"];
        if name == "bulkhead" {
            args.extend(["--annotation", "dev.bulkhead.class=sandbox"]);
        }
        args.push(IMAGE);
        args.extend(cmd);
        let o = podman_run(&rt, &args);
        seen.push((o.status.code(), stdout(&o), stderr(&o)));
    }
    assert_eq!(
        (seen[0].0, &seen[0].1),
        (seen[1].0, &seen[1].1),
        "runc (left) and the sandbox (right) differ: {}",
        seen[1].2
    );
    assert_eq!(seen[1].0, Some(3));
    assert!(seen[1].1.starts_with("hello from sh\n"), "{}", seen[1].1);
    assert_eq!(seen[1].2, "", "the sandbox wrote to the container's stderr");
}

/// podman exec into a sandbox-class container (through conmon and the runtime's detached
/// exec): the output and exit codes of runc's for the same execs, the process inside the
/// sandbox.
#[test]
fn podman_exec_into_the_sandbox_class() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    podman_image();
    let mut seen = Vec::new();
    for (name, rt) in runtimes() {
        let mut args = vec!["-d"];
        if name == "bulkhead" {
            args.extend(["--annotation", "dev.bulkhead.class=sandbox"]);
        }
        args.extend([IMAGE, "sleep", "1000"]);
        let d = podman_run(&rt, &args);
        assert!(d.status.success(), "{name}: run -d: {}", stderr(&d));
        let cid = stdout(&d).trim().to_string();
        let mut results = Vec::new();
        for cmd in [
            vec!["exec", &cid, "sh", "-c", "echo in $0; exit 5"],
            vec!["exec", &cid, "no-such-cmd"],
            vec!["exec", "--workdir", "/tmp", &cid, "pwd"],
        ] {
            let o = podman(&rt, &cmd);
            results.push((o.status.code(), stdout(&o)));
        }
        let kernel = podman(&rt, &["exec", &cid, "uname", "-v"]);
        if name == "bulkhead" {
            assert!(
                stdout(&kernel).contains("bulkhead sentry"),
                "{}",
                stdout(&kernel)
            );
        }
        let rm = podman(&rt, &["rm", "-f", "-t", "0", &cid]);
        assert!(rm.status.success(), "{name}: rm: {}", stderr(&rm));
        seen.push(results);
    }
    assert_eq!(
        seen[0], seen[1],
        "runc (left) and the sandbox (right) differ"
    );
    assert_eq!(seen[1][0], (Some(5), "in sh\n".to_string()));
    assert_eq!(seen[1][1].0, Some(127));
}

/// podman's resource flags, stats, pause/unpause and update reach the container's cgroups.
#[test]
fn podman_limits_stats_pause_and_update() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    podman_image();
    let rt = BIN.to_string();
    let d = podman_run(
        &rt,
        &[
            "-d",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            IMAGE,
            "sleep",
            "1000",
        ],
    );
    assert!(d.status.success(), "{}", stderr(&d));
    let cid = stdout(&d).trim().to_string();
    let pid = stdout(&podman(
        &rt,
        &["inspect", &cid, "--format", "{{.State.Pid}}"],
    ))
    .trim()
    .to_string();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = |ctrl: &str| {
        cgroups
            .lines()
            .find(|l| l.split(':').nth(1) == Some(ctrl))
            .map(|l| l.splitn(3, ':').nth(2).unwrap().to_string())
            .unwrap()
    };
    let read = |ctrl: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{}/{file}", path(ctrl)))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(read("pids", "pids.max"), "50");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    let stats = podman(
        &rt,
        &["stats", "--no-stream", "--format", "{{.MemUsage}}", &cid],
    );
    assert!(
        stats.status.success() && stdout(&stats).contains("67.11MB"),
        "{} {}",
        stdout(&stats),
        stderr(&stats)
    );
    assert!(podman(&rt, &["pause", &cid]).status.success());
    assert_eq!(
        stdout(&podman(
            &rt,
            &["inspect", &cid, "--format", "{{.State.Status}}"]
        ))
        .trim(),
        "paused"
    );
    assert_eq!(read("freezer", "freezer.state"), "FROZEN");
    assert!(podman(&rt, &["unpause", &cid]).status.success());
    assert_eq!(
        stdout(&podman(
            &rt,
            &["inspect", &cid, "--format", "{{.State.Status}}"]
        ))
        .trim(),
        "running"
    );
    let up = podman(&rt, &["update", "--memory", "96m", &cid]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (96u64 << 20).to_string()
    );
    assert!(podman(&rt, &["rm", "-f", "-t", "0", &cid]).status.success());
    assert!(
        find_cgroups(&format!("libpod-{cid}")).is_empty(),
        "cgroup left"
    );
}

/// `podman run -it` through a real terminal (tmux), as a person types it.
#[test]
fn podman_interactive_terminal() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    podman_image();
    let mut screens = Vec::new();
    for (_, rt) in runtimes() {
        let cmd = format!("podman --runtime {rt} --cgroup-manager cgroupfs run -it --rm {} {IMAGE} sh; echo EXIT=$?; sleep 60", ULIMITS.join(" "));
        let term = Tmux::start(&cmd, 100, 30);
        term.wait_for("/ #");
        term.send_line("echo tty=$(tty) sum=$((6*7)); stty size");
        term.wait_for("sum=42");
        term.send_line("exit 3");
        term.wait_for("EXIT=");
        let text = term.screen();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| {
                l.contains("tty=") && !l.contains("echo")
                    || l.starts_with("30 100")
                    || l.starts_with("EXIT=")
            })
            .map(String::from)
            .collect();
        screens.push(lines);
    }
    assert_eq!(
        screens[0], screens[1],
        "runc (left) and bulkhead (right) differ"
    );
    assert_eq!(screens[1], ["tty=/dev/pts/0 sum=42", "30 100", "EXIT=3"]);
}

#[test]
fn containerd_runc_shim_drives_bulkhead_like_runc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image("bulkhead-test");
    let image = "localhost/bulkhead-test:busybox";
    let mut seen = Vec::new();
    for (name, rt) in runtimes() {
        let mut results: Vec<(Option<i32>, String)> = Vec::new();
        let id = unique(&format!("ctr-{name}"));
        let o = c.ctr(&[
            "run",
            "--rm",
            "--runc-binary",
            &rt,
            image,
            &id,
            "sh",
            "-c",
            "echo hello; exit 4",
        ]);
        results.push((o.status.code(), stdout(&o)));
        let bg = unique(&format!("ctr-bg-{name}"));
        let o = c.ctr(&[
            "run",
            "-d",
            "--runc-binary",
            &rt,
            image,
            &bg,
            "sleep",
            "1000",
        ]);
        assert!(o.status.success(), "{name}: ctr run -d: {}", stderr(&o));
        let o = c.ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &bg,
            "sh",
            "-c",
            "echo in-exec; exit 6",
        ]);
        results.push((o.status.code(), stdout(&o)));
        let o = c.ctr(&["task", "ls"]);
        results.push((
            o.status.code(),
            stdout(&o)
                .lines()
                .filter(|l| l.contains(&bg))
                .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
                .collect(),
        ));
        let o = c.ctr(&["task", "kill", "-s", "SIGKILL", &bg]);
        results.push((o.status.code(), String::new()));
        wait_for(
            || {
                stdout(&c.ctr(&["task", "ls"]))
                    .lines()
                    .any(|l| l.contains(&bg) && l.contains("STOPPED"))
            },
            &format!("{name}: task to stop"),
        );
        let o = c.ctr(&["task", "delete", &bg]);
        results.push((o.status.code(), String::new()));
        let o = c.ctr(&["container", "delete", &bg]);
        results.push((o.status.code(), String::new()));
        assert!(find_cgroups(&bg).is_empty(), "{name}: cgroup of {bg} left");
        seen.push(results);
    }
    assert_eq!(seen[0], seen[1], "runc (left) and bulkhead (right) differ");
    assert_eq!(seen[1][0], (Some(4), "hello\n".to_string()));
    assert_eq!(seen[1][1], (Some(6), "in-exec\n".to_string()));
    assert_eq!(seen[1][2].1, "RUNNING");
}

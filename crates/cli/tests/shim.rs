//! bulkhead's containerd shim (`containerd-shim-bulkhead-v2`, runtime io.containerd.bulkhead.v2)
//! under Debian's containerd and ctr, side by side with containerd's runc shim.

mod common;
use common::clients::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// containerd state is machine-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());
const NS: &str = "bulkhead-test";
const OURS: &str = "io.containerd.bulkhead.v2";
const RUNC: &str = "io.containerd.runc.v2";

fn ok(c: &Containerd, args: &[&str]) -> String {
    let o = c.ctr(args);
    assert!(
        o.status.success(),
        "ctr {args:?}: {}{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// The status column of `ctr task ls` for `id`.
fn task_status(c: &Containerd, id: &str) -> String {
    ok(c, &["task", "ls"])
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("")
        .to_string()
}

/// Nothing of container `id` is left: runtime state, cgroup, rootfs mount.
fn assert_gone(c: &Containerd, ns: &str, id: &str) {
    let state = Path::new("/run/containerd/bulkhead").join(ns).join(id);
    assert!(!state.exists(), "{} left behind", state.display());
    assert_eq!(find_cgroups(id), Vec::<PathBuf>::new(), "cgroups left");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = c.dir.0.display().to_string();
    assert!(
        !mounts
            .lines()
            .any(|l| l.contains(&root) && l.contains(&format!("/{id}/rootfs"))),
        "rootfs of {id} still mounted"
    );
}

/// run (output, exit code), -d + exec, ps, pause/resume, metrics, kill, delete: the same
/// answers from both shims, and nothing left behind by ours.
#[test]
fn ctr_drives_the_bulkhead_shim_like_the_runc_shim() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    let mut seen = Vec::new();
    for rt in [RUNC, OURS] {
        let mut r: Vec<String> = Vec::new();
        let id = unique("shim-run");
        let o = c.ctr(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            IMAGE,
            &id,
            "sh",
            "-c",
            "echo hello; echo oops >&2; exit 4",
        ]);
        r.push(format!(
            "{:?} {:?} {:?}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        ));
        let bg = unique("shim-bg");
        ok(
            &c,
            &["run", "-d", "--runtime", rt, IMAGE, &bg, "sleep", "1000"],
        );
        r.push(task_status(&c, &bg));
        let o = c.ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &bg,
            "sh",
            "-c",
            "echo in exec; exit 3",
        ]);
        r.push(format!("{:?} {:?}", o.status.code(), stdout(&o)));
        r.push(format!(
            "{} processes",
            ok(&c, &["task", "ps", &bg]).lines().count() - 1
        ));
        ok(&c, &["task", "pause", &bg]);
        r.push(task_status(&c, &bg));
        ok(&c, &["task", "resume", &bg]);
        r.push(task_status(&c, &bg));
        let m = ok(&c, &["task", "metrics", &bg]);
        let pids = m
            .lines()
            .find(|l| l.starts_with("pids.current"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string());
        r.push(format!("pids.current {pids:?}"));
        ok(&c, &["task", "kill", "-s", "SIGKILL", &bg]);
        wait_for(|| task_status(&c, &bg) == "STOPPED", "the task to stop");
        ok(&c, &["task", "delete", &bg]);
        ok(&c, &["container", "delete", &bg]);
        if rt == OURS {
            assert_gone(&c, NS, &id);
            assert_gone(&c, NS, &bg);
            wait_for(|| c.bulkhead_shims().is_empty(), "the shims to exit");
        }
        seen.push(r);
    }
    assert_eq!(
        seen[0], seen[1],
        "runc shim (left) and bulkhead's (right) differ"
    );
    assert_eq!(seen[1][0], "Some(4) \"hello\\n\" \"oops\\n\"");
    assert_eq!(seen[1][2], "Some(3) \"in exec\\n\"");
}

/// Containers with the same pod annotation share one shim; another pod gets its own; each
/// shim leaves with its last container.
#[test]
fn one_shim_per_pod() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    let (pod_a, pod_b) = (unique("pod-a"), unique("pod-b"));
    let mut ids = Vec::new();
    for pod in [&pod_a, &pod_a, &pod_b] {
        let id = unique("pod-ctr");
        let ann = format!("io.kubernetes.cri.sandbox-id={pod}");
        ok(
            &c,
            &[
                "run",
                "-d",
                "--runtime",
                OURS,
                "--annotation",
                &ann,
                IMAGE,
                &id,
                "sleep",
                "1000",
            ],
        );
        ids.push(id);
    }
    let pids: Vec<String> = ids
        .iter()
        .map(|id| {
            let o = ok(&c, &["task", "ls"]);
            assert!(o.contains(id.as_str()), "{o}");
            std::fs::read_to_string(format!(
                "/proc/{}/status",
                o.lines()
                    .find(|l| l.starts_with(id.as_str()))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap()
            ))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("PPid:"))
            .unwrap()
            .to_string()
        })
        .collect();
    assert_eq!(pids[0], pids[1], "one pod, one shim (parent of both inits)");
    assert_ne!(pids[0], pids[2], "another pod, another shim");
    assert_eq!(c.bulkhead_shims().len(), 2);
    for id in &ids[..2] {
        ok(&c, &["task", "kill", "-s", "SIGKILL", id]);
        wait_for(|| task_status(&c, id) == "STOPPED", "the task to stop");
        ok(&c, &["task", "delete", id]);
        ok(&c, &["container", "delete", id]);
    }
    wait_for(|| c.bulkhead_shims().len() == 1, "pod A's shim to exit");
    ok(&c, &["task", "kill", "-s", "SIGKILL", &ids[2]]);
    wait_for(|| task_status(&c, &ids[2]) == "STOPPED", "the task to stop");
    ok(&c, &["task", "delete", &ids[2]]);
    ok(&c, &["container", "delete", &ids[2]]);
    wait_for(|| c.bulkhead_shims().is_empty(), "pod B's shim to exit");
    for id in &ids {
        assert_gone(&c, NS, id);
    }
}

/// The class from the runtime options (`--runtime-config-path`, what CRI sends for the
/// runtime entry's ConfigPath): the sandbox serves /proc itself (its /proc/version names the
/// sentry).
/// A bad class is one clear error and leaves nothing.
#[test]
fn sandbox_class_from_runtime_options() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    let cfg = c.dir.0.join("sandbox.toml");
    std::fs::write(&cfg, "# pods of untrusted code\nclass = \"sandbox\"\n").unwrap();
    let cfg = cfg.to_str().unwrap();
    let script = "echo hello from $0; grep -q 'bulkhead sentry' /proc/version \
                  && echo sentry kernel || echo host kernel; exit 3";
    let mut seen = Vec::new();
    for opts in [&[][..], &["--runtime-config-path", cfg][..]] {
        let id = unique("shim-class");
        let mut args = vec!["run", "--rm", "--runtime", OURS];
        args.extend(opts);
        args.extend([IMAGE, &id, "sh", "-c", script]);
        let o = c.ctr(&args);
        seen.push((o.status.code(), stdout(&o)));
        assert_gone(&c, NS, &id);
    }
    assert_eq!(
        seen[0],
        (Some(3), "hello from sh\nhost kernel\n".to_string())
    );
    assert_eq!(
        seen[1],
        (Some(3), "hello from sh\nsentry kernel\n".to_string())
    );

    let bad = c.dir.0.join("bad.toml");
    std::fs::write(&bad, "class = \"vm\"\n").unwrap();
    let id = unique("shim-bad");
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        OURS,
        "--runtime-config-path",
        bad.to_str().unwrap(),
        IMAGE,
        &id,
        "true",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("vm"), "{}", stderr(&o));
    let _ = c.ctr(&["container", "delete", &id]);
    assert_gone(&c, NS, &id);
    wait_for(|| c.bulkhead_shims().is_empty(), "the shim to exit");
}

/// `ctr run -t`: a terminal through the shim, same screen as with runc's shim.
#[test]
fn terminal_through_the_shim() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    let mut screens = Vec::new();
    for rt in [RUNC, OURS] {
        let id = unique("shim-tty");
        let cmd = format!(
            "ctr --address {} -n {NS} run -t --rm --runtime {rt} {IMAGE} {id} sh; echo EXIT=$?; sleep 100",
            c.sock().display()
        );
        let t = Tmux::start(&cmd, 80, 24);
        t.wait_for("/ #");
        // ctr sets the terminal's size just after the shell starts: a `stty size` typed
        // before it reads 0 0 (seen in CI), so the shell waits for the size to arrive.
        t.send_line(
            "tty; while [ \"$(stty size)\" != \"24 80\" ]; do sleep 0.1; done; stty size; \
             echo ready-$((1+1)); read x; echo got=$x; exit 3",
        );
        t.wait_for("ready-2");
        t.send_line("typed");
        t.wait_for("EXIT=");
        let lines: Vec<String> = t
            .screen()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim_end().to_string())
            .collect();
        screens.push(lines);
    }
    assert_eq!(
        screens[0], screens[1],
        "runc shim (left) and bulkhead's (right) differ"
    );
    assert!(
        screens[1].iter().any(|l| l == "got=typed"),
        "{:?}",
        screens[1]
    );
    assert!(screens[1].iter().any(|l| l == "EXIT=3"), "{:?}", screens[1]);
}

/// A shim killed mid-run: containerd's `delete` path (the shim binary's `delete` action)
/// removes the container's processes, state, cgroup and rootfs mount, and the next container
/// starts normally.
#[test]
fn killed_shim_is_cleaned_up() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    let id = unique("shim-killed");
    ok(
        &c,
        &["run", "-d", "--runtime", OURS, IMAGE, &id, "sleep", "1000"],
    );
    let init: i32 = ok(&c, &["task", "ls"])
        .lines()
        .find(|l| l.starts_with(id.as_str()))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap();
    let shim = c.bulkhead_shims();
    assert_eq!(shim.len(), 1);
    Command::new("kill")
        .args(["-9", &shim[0].to_string()])
        .status()
        .unwrap();
    wait_for(|| task_status(&c, &id) != "RUNNING", "containerd to notice");
    let _ = c.ctr(&["task", "delete", &id]);
    ok(&c, &["container", "delete", &id]);
    wait_for(|| ended(init), "the container's init to die");
    assert_gone(&c, NS, &id);
    let next = unique("shim-next");
    let o = c.ctr(&[
        "run",
        "--rm",
        "--runtime",
        OURS,
        IMAGE,
        &next,
        "echo",
        "fine",
    ]);
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(0), "fine\n".into()),
        "{}",
        stderr(&o)
    );
    assert_gone(&c, NS, &next);
}

/// An OOM kill in the container's memory cgroup reaches containerd as a /tasks/oom event, as
/// with runc's shim.
#[test]
fn oom_kills_become_events() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    let events = c.events(NS);
    let fill = "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; echo rc=$?";
    let mut seen = Vec::new();
    for rt in [RUNC, OURS] {
        let id = unique("shim-oom");
        let o = c.ctr(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--memory-limit",
            "33554432",
            IMAGE,
            &id,
            "sh",
            "-c",
            fill,
        ]);
        events.wait_for("/tasks/oom", &id);
        seen.push((o.status.code(), stdout(&o)));
    }
    drop(events);
    assert_eq!(
        seen[0], seen[1],
        "runc shim (left) and bulkhead's (right) differ"
    );
    assert_eq!(seen[1].1, "rc=137\n");
}

/// A create the runtime refuses (a relative process.cwd) fails as with runc's shim: one error
/// naming the field, and no state, cgroup, rootfs mount or shim left.
#[test]
fn refused_create_leaves_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_root();
    let c = Containerd::start();
    c.import_image(NS);
    for rt in [RUNC, OURS] {
        let id = unique("shim-refused");
        let o = c.ctr(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--cwd",
            "relative/dir",
            IMAGE,
            &id,
            "true",
        ]);
        assert!(!o.status.success(), "{rt}: a relative cwd was accepted");
        if rt == OURS {
            let err = stderr(&o);
            assert!(err.contains("process.cwd"), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
        let _ = c.ctr(&["container", "delete", &id]);
        assert_gone(&c, NS, &id);
    }
    wait_for(|| c.bulkhead_shims().is_empty(), "the shim to exit");
}

/// `-v` prints the version; `-info` (containerd 2.x asks it first) answers a RuntimeInfo
/// message naming the runtime, on stdout, exit 0.
#[test]
fn version_and_info() {
    let shim = Path::new(BIN).with_file_name("containerd-shim-bulkhead-v2");
    let v = Command::new(&shim).arg("-v").output().unwrap();
    assert!(v.status.success());
    assert!(stdout(&v).contains("Version: "), "{}", stdout(&v));
    let i = Command::new(&shim)
        .arg("-info")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(i.status.success(), "{}", stderr(&i));
    // Field 1 (name), length-delimited: 0x0a, length, then the name.
    let name = OURS.as_bytes();
    assert_eq!(i.stdout[0], 0x0a);
    assert_eq!(&i.stdout[2..2 + name.len()], name);
}

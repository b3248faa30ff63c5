//! Resource limits on this host's v1 controllers, each shown enforced, not just written; update,
//! pause and resume; and clear errors for what the host does not have.

mod common;
use common::*;
use serde_json::json;

use std::process::{Command, Stdio};
use std::time::Duration;

fn cgroup_file(id: &str, controller: &str, file: &str) -> String {
    let dir = find_cgroups(id)
        .into_iter()
        .find(|d| d.starts_with(format!("/sys/fs/cgroup/{controller}")))
        .unwrap_or_else(|| panic!("no {controller} cgroup for {id}"));
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_denied_device_cannot_be_opened() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh", "-c", "mknod /tmp/disk b 8 0 && head -c1 /tmp/disk > /dev/null 2>&1 && echo opened || echo denied; head -c1 /dev/zero | wc -c"]);
    b.set("/root/readonly", json!(false));
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    b.set(
        "/process/capabilities",
        json!({"bounding": caps, "effective": caps, "permitted": caps}),
    );
    b.set(
        "/linux/resources/devices",
        json!([{"allow": false, "access": "rwm"}]),
    );
    let id = unique("devices");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().map(str::trim).collect::<Vec<_>>(),
        ["denied", "1"],
        "{err}"
    );
    rt.assert_clean(&id, &b);
}

#[test]
fn a_memory_hog_is_oom_killed_at_its_limit() {
    let rt = Rt::new();
    let mut b = Bundle::new(&[
        "dd",
        "if=/dev/zero",
        "of=/dev/shm/fill",
        "bs=1M",
        "count=48",
    ]);
    b.set(
        "/linux/resources/memory",
        json!({"limit": 16 << 20, "swap": 16 << 20}),
    );
    let id = unique("oom");
    let (code, _, err) = rt.run(&b, &id);
    assert_eq!(code, 137, "dd should be OOM-killed (SIGKILL): {err}");
    rt.assert_clean(&id, &b);
}

#[test]
fn a_fork_loop_stops_at_the_pids_limit() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh", "-c", "for i in $(seq 30); do sleep 1 & done 2>&1 | head -1; wait; cat /sys/fs/cgroup/pids/pids.events"]);
    b.set("/linux/resources/pids", json!({"limit": 12}));
    let id = unique("pids");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("can't fork"), "{out}");
    // The kernel counts the forks it refused at the limit.
    let refused: u64 = out
        .lines()
        .last()
        .unwrap()
        .trim_start_matches("max ")
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(refused > 0, "{out}");
    rt.assert_clean(&id, &b);
}

#[test]
fn cpu_quota_caps_a_busy_loop() {
    let rt = Rt::new();
    // 20% of one CPU for one second of wall time: usage far below a second, with margins.
    let mut b = Bundle::new(&["sh", "-c", "timeout 1 sh -c 'while :; do :; done'; cat /sys/fs/cgroup/cpu,cpuacct/cpuacct.usage /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null | head -1"]);
    b.set(
        "/linux/resources/cpu",
        json!({"quota": 20000, "period": 100000}),
    );
    let id = unique("cpu");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    let ns: u64 = out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("cpuacct.usage: {out:?} {err}"));
    assert!(
        ns < 600_000_000,
        "used {ns} ns of CPU in 1 s under a 20% quota"
    );
    assert!(ns > 50_000_000, "the loop hardly ran ({ns} ns)");
    rt.assert_clean(&id, &b);
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("update");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    rt.ok(&[
        "update",
        "--pids-limit",
        "7",
        "--memory",
        "64m",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        &id,
    ]);
    assert_eq!(cgroup_file(&id, "pids", "pids.max"), "7");
    assert_eq!(
        cgroup_file(&id, "memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(cgroup_file(&id, "cpu", "cpu.cfs_quota_us"), "50000");
    let res = b.dir().join("res.json");
    std::fs::write(&res, json!({"pids": {"limit": 9}}).to_string()).unwrap();
    rt.ok(&["update", "--resources", res.to_str().unwrap(), &id]);
    assert_eq!(cgroup_file(&id, "pids", "pids.max"), "9");
    let bad = rt.cmd(&["update", "--memory", "lots", &id]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("--memory"),
        "{}",
        stderr(&bad)
    );
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

/// Issue 17: every numeric flag of `update` takes -1 as runc does: unlimited for the memory
/// limits, the CFS quota, the realtime runtime and pids; an error for the unsigned ones (periods,
/// shares) and the blkio weight. An unlimited memory with no swap given lifts the swap limit
/// too. runc and bulkhead, side by side: the same exit codes and the same cgroup files.
#[test]
fn update_takes_minus_one_as_runc_does() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    let ours = unique("upd1");
    let theirs = unique("runcupd1");
    b.set("/linux/cgroupsPath", json!(format!("/{theirs}")));
    let runc = |args: &[&str]| {
        std::process::Command::new("runc")
            .arg("--root")
            .arg(rt.root.0.join("runc"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(
        runc(&["run", "-d", "-b", b.dir().to_str().unwrap(), &theirs]),
        Some(0)
    );
    b.set("/linux/cgroupsPath", json!(format!("/{ours}")));
    rt.ok(&["run", "-d", "-b", b.dir().to_str().unwrap(), &ours]);
    let files = [
        ("memory", "memory.limit_in_bytes"),
        ("memory", "memory.memsw.limit_in_bytes"),
        ("memory", "memory.soft_limit_in_bytes"),
        ("cpu", "cpu.cfs_quota_us"),
        ("cpu", "cpu.rt_runtime_us"),
        ("pids", "pids.max"),
    ];
    let steps: &[(&[&str], bool)] = &[
        (&["--memory", "64m", "--memory-swap", "128m"], true),
        (&["--memory", "-1"], true),
        (&["--memory", "64m", "--memory-swap", "128m"], true),
        (&["--memory-swap", "-1"], true),
        (&["--memory-reservation", "32m"], true),
        (&["--memory-reservation", "-1"], true),
        (&["--cpu-quota", "50000"], true),
        (&["--cpu-quota", "-1"], true),
        (&["--pids-limit", "10"], true),
        (&["--pids-limit", "-1"], true),
        // The kernel refuses an unlimited realtime runtime below the root: both fail.
        (&["--cpu-rt-runtime", "-1"], false),
        (&["--cpu-period", "-1"], false),
        (&["--cpu-share", "-1"], false),
        (&["--cpu-rt-period", "-1"], false),
        (&["--blkio-weight", "-1"], false),
    ];
    for (flags, ok) in steps {
        let mut args = vec!["update"];
        args.extend_from_slice(flags);
        let theirs_code = runc(&[&args[..], &[theirs.as_str()]].concat());
        let o = rt.cmd(&[&args[..], &[ours.as_str()]].concat());
        assert_eq!(o.status.code(), theirs_code, "{flags:?}: {}", stderr(&o));
        assert_eq!(o.status.success(), *ok, "{flags:?}: {}", stderr(&o));
        if !ok {
            assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        }
        for (controller, file) in files {
            assert_eq!(
                cgroup_file(&ours, controller, file),
                cgroup_file(&theirs, controller, file),
                "{file} after {flags:?}"
            );
        }
    }
    // And unlimited really is unlimited: the kernel's maximum, not a number we chose.
    assert_eq!(cgroup_file(&ours, "pids", "pids.max"), "max");
    assert_eq!(cgroup_file(&ours, "cpu", "cpu.cfs_quota_us"), "-1");
    assert_eq!(runc(&["delete", "-f", &theirs]), Some(0));
    rt.ok(&["delete", "-f", &ours]);
    rt.assert_clean(&ours, &b);
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let rt = Rt::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done",
    ]);
    b.set("/root/readonly", json!(false));
    let id = unique("pause");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let count = || -> u64 {
        std::fs::read_to_string(b.rootfs().join("tmp/count"))
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
    };
    std::thread::sleep(Duration::from_millis(200));
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    let a = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), a, "the counter moved while paused");
    assert!(
        !rt.cmd(&["pause", &id]).status.success(),
        "pause of a paused container"
    );
    assert!(
        !rt.cmd(&["exec", &id, "true"]).status.success(),
        "exec into a paused container"
    );
    rt.ok(&["resume", &id]);
    assert_eq!(rt.status(&id), "running");
    // Bounded wait: on a loaded machine the thawed loop may take a while to run again.
    let moved = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        count() > a
    });
    assert!(moved, "the counter did not move within 5 s of resume");
    rt.ok(&["pause", &id]);
    rt.ok(&["delete", "--force", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn limits_the_host_lacks_are_clear_errors() {
    let rt = Rt::new();
    for (pointer, value, want) in [
        (
            "/linux/resources/hugepageLimits",
            json!([{"pageSize": "2MB", "limit": 1048576}]),
            "linux.resources.hugepageLimits: this host has no hugetlb cgroup controller",
        ),
        (
            "/linux/resources/memory",
            json!({"swappiness": 200}),
            "linux.resources.memory.swappiness",
        ),
        (
            "/linux/resources/network",
            json!({"classID": 7}),
            "linux.resources.network.classID",
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        b.set(pointer, value);
        let id = unique("badres");
        let out = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(want), "{want}: {}", stderr(&out));
        rt.assert_clean(&id, &b);
    }
}

#[test]
fn events_report_stats_and_oom_kills() {
    let rt = Rt::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "sleep 0.5; dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; sleep 1",
    ]);
    b.set(
        "/linux/resources/memory",
        json!({"limit": 16 << 20, "swap": 16 << 20}),
    );
    b.set("/linux/resources/pids", json!({"limit": 20}));
    let id = unique("events");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let stats: serde_json::Value =
        serde_json::from_str(rt.ok(&["events", "--stats", &id]).trim()).unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["id"], id.as_str());
    assert!(
        stats["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert_eq!(stats["data"]["memory"]["usage"]["limit"], 16u64 << 20);
    assert!(stats["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    assert_eq!(stats["data"]["pids"]["limit"], 20);
    assert!(stats["data"]["cpu"]["usage"]["total"].as_u64().is_some());
    // The stream runs until the container stops, with an OOM event for the killed dd.
    let out = rt.cmd(&["events", "--interval", "200ms", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["type"] == "oom"),
        "no oom event: {lines:?}"
    );
    assert!(lines.iter().any(|l| l["type"] == "stats"));
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
}

/// The init is in the container's cgroup in every hierarchy before it runs anything of the
/// container's: cloned into the v2 one (CLONE_INTO_CGROUP), it joins the v1 ones itself (or,
/// in a new user namespace, the runtime moves it). An exec'd process likewise.
#[test]
fn the_init_and_exec_start_in_their_cgroups() {
    for userns in [false, true] {
        let rt = Rt::new();
        let id = unique("cg-into");
        let mut b = Bundle::new(&["sleep", "10"]);
        b.set("/linux/cgroupsPath", json!(format!("/{id}")));
        if userns {
            b.push("/linux/namespaces", json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            b.set("/linux/uidMappings", map.clone());
            b.set("/linux/gidMappings", map);
        }
        b.write();
        rt.ok(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
        let init = rt.state(&id)["pid"].as_i64().unwrap();
        rt.ok(&["start", &id]);
        let exec = rt.exec_detached(&b, &id, &["sleep", "10"]);
        for pid in [init, exec] {
            let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
            // Only the hierarchies mounted here: a v1 hierarchy another mount namespace made
            // (systemd in tests/systemd_cgroup.rs's podman container mounts hugetlb,
            // perf_event, net_cls) outlives its mount, and no runtime can join it.
            let lines: Vec<&str> = cgroups.lines().filter(|l| mounted_here(l)).collect();
            assert!(lines.iter().any(|l| l.starts_with("0::")), "{cgroups}");
            for l in &lines {
                assert!(
                    l.ends_with(&format!("/{id}")),
                    "userns={userns}, pid {pid} not in its cgroup: {l}"
                );
            }
        }
        rt.ok(&["delete", "--force", &id]);
        rt.assert_clean(&id, &b);
    }
}

/// Whether the hierarchy of a /proc/PID/cgroup line ("7:blkio:/x", "0::/x") is mounted in this
/// mount namespace.
fn mounted_here(line: &str) -> bool {
    let ctrl = line.split(':').nth(1).unwrap_or("");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo.lines().any(|m| {
        let Some((_, post)) = m.split_once(" - ") else {
            return false;
        };
        let fields: Vec<&str> = post.split(' ').collect();
        match (fields.first(), ctrl) {
            (Some(&"cgroup2"), "") => true,
            (Some(&"cgroup"), c) if !c.is_empty() => {
                let opts: Vec<&str> = fields.get(2).unwrap_or(&"").split(',').collect();
                c.split(',').all(|c| opts.contains(&c))
            }
            _ => false,
        }
    })
}

/// A block device of this host that the host itself may open for reading, as (major, minor):
/// the first of /sys/block (loop devices included: an unbound one opens and reads 0 bytes).
fn a_block_device() -> (i64, i64) {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        if std::fs::File::open(format!("/dev/{n}")).is_err() {
            continue;
        }
        let dev = std::fs::read_to_string(format!("/sys/block/{n}/dev")).unwrap();
        let (a, b) = dev.trim().split_once(':').unwrap();
        return (a.parse().unwrap(), b.parse().unwrap());
    }
    panic!("no block device in /sys/block can be opened on this host");
}

/// Runs a script under device `rules` with /dev/kmsg and a block device (as /dev/disk0) listed in
/// linux.devices, in bulkhead and in runc; both must print `expected`.
fn devices_as_runc(rules: serde_json::Value, expected: &[&str]) {
    let rt = Rt::new();
    let (major, minor) = a_block_device();
    // No redirection to /dev/null: a rule set may deny it. Stderr is closed instead.
    let script = "(echo hi > /dev/kmsg) 2>&- && echo kmsg-written || echo kmsg-write-denied; \
                  (head -c1 /dev/disk0 > /tmp/out) 2>&- && echo disk-read || echo disk-denied; \
                  (head -c1 /dev/urandom > /tmp/out) 2>&- && echo urandom-read || echo urandom-denied";
    let mut b = Bundle::new(&["sh", "-c", script]);
    b.set("/root/readonly", json!(false));
    b.set(
        "/linux/devices",
        json!([
            {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11},
            {"path": "/dev/disk0", "type": "b", "major": major, "minor": minor},
        ]),
    );
    b.set("/linux/resources/devices", rules.clone());
    let id = unique("devrules");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{rules}: {err}");
    rt.assert_clean(&id, &b);
    let runc = std::process::Command::new("runc")
        .arg("--root")
        .arg(rt.root.0.join("runc"))
        .args([
            "run",
            "--bundle",
            b.dir().to_str().unwrap(),
            &unique("runcdev"),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&runc.stdout)
            .lines()
            .collect::<Vec<_>>(),
        expected,
        "runc with {rules}: {}",
        String::from_utf8_lossy(&runc.stderr)
    );
}

/// Issue 12, defect 5 (runc's own "device cgroup deny" test): a node listed in linux.devices is
/// created, but only linux.resources.devices decides whether it may be used: with everything
/// denied, /dev/kmsg cannot be written (bulkhead allowed every listed node). Wildcard rules
/// allow a whole char major or every block device, or deny every block device after an
/// allow-all; the default devices stay usable. runc, on the same bundle, agrees each time.
#[test]
fn listed_devices_obey_the_device_rules() {
    devices_as_runc(
        json!([{"allow": false, "access": "rwm"}]),
        &["kmsg-write-denied", "disk-denied", "urandom-read"],
    );
    devices_as_runc(
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "access": "w"},
            {"allow": true, "type": "b", "access": "r"},
        ]),
        &["kmsg-written", "disk-read", "urandom-read"],
    );
    devices_as_runc(
        json!([
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "b", "access": "rwm"},
        ]),
        &["kmsg-written", "disk-denied", "urandom-read"],
    );
}

/// A cgroupsPath that already holds a process: used, with runc's warning at create.
#[test]
fn a_non_empty_cgroup_is_used_with_runcs_warning() {
    let rt = Rt::new();
    let name = unique("busy-cgroup");
    let dirs: Vec<std::path::PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(&name))
        .filter(|d| std::fs::create_dir(d).is_ok())
        .collect();
    assert!(!dirs.is_empty());
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    for d in &dirs {
        let _ = std::fs::write(d.join("cgroup.procs"), sleeper.id().to_string());
    }
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/cgroupsPath", json!(format!("/{name}")));
    let warning = "level=warning msg=\"container's cgroup is not empty: 1 process(es) found\"";
    let runcs = rt.runc(&[
        "run",
        "--bundle",
        b.dir().to_str().unwrap(),
        &unique("runc"),
    ]);
    let id = unique("busy");
    let ours = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    for d in dirs.iter().rev() {
        for _ in 0..100 {
            if std::fs::remove_dir(d).is_ok() || !d.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    assert!(runcs.status.success(), "{}", stderr(&runcs));
    assert!(stderr(&runcs).contains(warning), "runc: {}", stderr(&runcs));
    assert!(ours.status.success(), "{}", stderr(&ours));
    assert!(stderr(&ours).contains(warning), "ours: {}", stderr(&ours));
    assert!(!rt.root.0.join(&id).exists());
}

/// Issue 17: a container whose cgroup already exists and is frozen is refused at create with
/// runc's message, instead of waiting forever for an init the freezer holds; nothing of it is
/// left, and the frozen cgroup that was there before stays as it was. runc 1.1.5 refuses it
/// too (side by side).
#[test]
fn a_frozen_cgroup_is_refused_not_waited_for() {
    let freezer = std::path::Path::new("/sys/fs/cgroup/freezer");
    if !freezer.join("freezer.state").exists() && !freezer.exists() {
        eprintln!("skipped: this host has no v1 freezer hierarchy");
        return;
    }
    let name = unique("frozen");
    let dir = freezer.join(&name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "100"]);
    b.set("/linux/cgroupsPath", json!(format!("/{name}")));
    let bundle = b.dir().to_str().unwrap().to_string();
    let id = unique("frozenct");
    let ours = within(rt.command(&["run", "-d", "--bundle", &bundle, &id]), 20);
    let mut runc = Command::new("runc");
    runc.arg("--root")
        .arg(b.dir().join("runc-root"))
        .args(["run", "-d", "--bundle", &bundle, &unique("frozenrunc")])
        .stdin(Stdio::null());
    let theirs = within(runc, 20);
    let state = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
    // Thaw before asserting, so a failure leaves no frozen process behind.
    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    for (who, out) in [("bulkhead", &ours), ("runc", &theirs)] {
        let (ok, err) = out.as_ref().unwrap_or_else(|| panic!("{who} run -d hung"));
        assert!(!ok, "{who} ran in a frozen cgroup");
        assert!(
            err.contains("container's cgroup unexpectedly frozen"),
            "{who}: {err}"
        );
    }
    let err = &ours.as_ref().unwrap().1;
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(
        state.trim(),
        "FROZEN",
        "the cgroup that was there was changed"
    );
    rt.assert_clean(&id, &b);
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let left = h.path().join(&name);
        if h.file_name() != "freezer" {
            assert!(!left.exists(), "{} left behind", left.display());
        }
    }
    let _ = std::fs::remove_dir(&dir);
}

/// Runs `cmd` for at most `secs`: (success, stderr), or None (killed) when it did not end.
fn within(mut cmd: Command, secs: u64) -> Option<(bool, String)> {
    let err = std::env::temp_dir().join(unique("within-stderr"));
    let file = std::fs::File::create(&err).unwrap();
    let mut child = cmd.stdout(Stdio::null()).stderr(file).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    status.map(|s| (s.success(), text))
}

/// Issue 17: on v1 a new cpuset cgroup has no cpus and no mems, and no process may join one
/// that has none (ENOSPC). As runc, every level of the container's cpuset cgroup, from the
/// hierarchy's root down, gets its parent's where it has none, whether the runtime made it or
/// someone else did (here a parent made with a bare mkdir, below one limited to CPU 0 and node
/// 0: bulkhead failed there with "No space left on device"). `update` of the cpuset within the
/// parent's works; beyond it (wider than the parent: EACCES, runc's "permission denied"; a CPU
/// or node the host lacks) it fails in both runtimes, in one line for bulkhead, and changes
/// nothing. A create asking for more than the parent has fails the same way and leaves nothing.
#[test]
fn cpusets_below_a_narrower_parent_as_runcs() {
    let rt = Rt::new();
    let top = unique("cpuset-top");
    let cs = std::path::Path::new("/sys/fs/cgroup/cpuset").join(&top);
    std::fs::create_dir(&cs).unwrap();
    std::fs::write(cs.join("cpuset.cpus"), "0").unwrap();
    std::fs::write(cs.join("cpuset.mems"), "0").unwrap();
    for who in ["ours", "runc"] {
        std::fs::create_dir(cs.join(format!("{who}-pre"))).unwrap();
    }
    let read = |p: &std::path::Path, f: &str| {
        std::fs::read_to_string(p.join(f))
            .unwrap_or_else(|e| panic!("{}/{f}: {e}", p.display()))
            .trim()
            .to_string()
    };
    let mut b = Bundle::new(&["sleep", "1000"]);
    let ours = unique("cs");
    let theirs = unique("runccs");
    let bundle = b.dir().to_str().unwrap().to_string();
    b.set(
        "/linux/cgroupsPath",
        json!(format!("/{top}/ours-pre/mid/{ours}")),
    );
    let o = rt.cmd(&["run", "-d", "--bundle", &bundle, &ours]);
    b.set(
        "/linux/cgroupsPath",
        json!(format!("/{top}/runc-pre/mid/{theirs}")),
    );
    let r = rt.runc(&["run", "-d", "--bundle", &bundle, &theirs]);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(o.status.success(), "ours: {}", stderr(&o));
        assert!(r.status.success(), "runc: {}", stderr(&r));
        for (who, id) in [("ours", &ours), ("runc", &theirs)] {
            for level in ["", "/mid", &format!("/mid/{id}")] {
                let d = cs.join(format!("{who}-pre{level}"));
                assert_eq!(read(&d, "cpuset.cpus"), "0", "{who}: {}", d.display());
                assert_eq!(read(&d, "cpuset.mems"), "0", "{who}: {}", d.display());
            }
        }
        let mine = cs.join(format!("ours-pre/mid/{ours}"));
        let two_cpus = read("/sys/devices/system/cpu".as_ref(), "online") != "0";
        let steps: &[(&[&str], bool)] = &[
            (&["--cpuset-cpus", "0"], true),
            (&["--cpuset-mems", "0"], true),
            (&["--cpuset-cpus", "0-1"], false),
            (&["--cpuset-mems", "0-1"], false),
            (&["--cpuset-cpus", "4095"], false),
        ];
        for (flags, ok) in steps {
            let mut args = vec!["update"];
            args.extend_from_slice(flags);
            let theirs_out = rt.runc(&[&args[..], &[theirs.as_str()]].concat());
            let o = rt.cmd(&[&args[..], &[ours.as_str()]].concat());
            let err = stderr(&o);
            assert_eq!(
                o.status.code(),
                theirs_out.status.code(),
                "{flags:?}: {err}"
            );
            assert_eq!(o.status.success(), *ok, "{flags:?}: {err}");
            if !ok {
                assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: {err}");
                assert!(err.contains("linux.resources.cpu."), "{flags:?}: {err}");
            }
            if flags[1] == "0-1" && flags[0] == "--cpuset-cpus" && two_cpus {
                assert!(err.contains("parent cgroup"), "{err}");
            }
            assert_eq!(read(&mine, "cpuset.cpus"), "0", "after {flags:?}");
            assert_eq!(read(&mine, "cpuset.mems"), "0", "after {flags:?}");
        }
        // The container's processes are where they should be and a new one may join.
        let e = rt.cmd(&["exec", &ours, "cat", "/proc/self/status"]);
        assert!(e.status.success(), "{}", stderr(&e));
        assert!(
            stdout(&e)
                .lines()
                .any(|l| l.starts_with("Cpus_allowed_list:") && l.ends_with("\t0")),
            "{}",
            stdout(&e)
        );
        // Asking for more than the parent has at create: one line, nothing left.
        let wide = unique("cswide");
        let mut wb = Bundle::new(&["true"]);
        wb.set("/linux/cgroupsPath", json!(format!("/{top}/{wide}")));
        wb.set("/linux/resources/cpu", json!({"cpus": "0-1", "mems": "0"}));
        let wbundle = wb.dir().to_str().unwrap();
        let w = rt.cmd(&["create", "--bundle", wbundle, &wide]);
        let err = stderr(&w);
        assert_eq!(w.status.code(), Some(1), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("linux.resources.cpu.cpus"), "{err}");
        rt.assert_clean(&wide, &wb);
        let runc_wide = rt.runc(&["create", "--bundle", wbundle, &unique("runcwide")]);
        assert!(!runc_wide.status.success(), "runc accepted cpus 0-1");
    }));
    let _ = rt.runc(&["delete", "-f", &theirs]);
    let d = rt.cmd(&["delete", "-f", &ours]);
    remove_cgroup_tree(&top);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
    assert!(d.status.success(), "{}", stderr(&d));
    rt.assert_clean(&ours, &b);
}

/// `exec` of a shell line in `id` under runc or bulkhead: its stdout, trimmed.
fn probe(rt: &Rt, runc: bool, id: &str, line: &str) -> String {
    let args = ["exec", id, "sh", "-c", line];
    let o = if runc { rt.runc(&args) } else { rt.cmd(&args) };
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// Issue 17: device rules in runc's syntax. runc reads a rule's access as the letters r, w and
/// m it holds ("rwa" is "rw"); the kernel's devices.allow refuses any other letter, and
/// bulkhead wrote "c 1:11 rwa" as it came (EINVAL). An access with none of the three is refused
/// at create by both. runc 1.1.5's `update` reads linux.resources.devices from the resources
/// JSON (file or stdin) and leaves the container's rules as created: so does bulkhead, and
/// /dev/kmsg stays writable after an update that denies it, in both.
#[test]
fn device_rules_in_runcs_syntax_at_create_and_update() {
    let rt = Rt::new();
    let kmsg = "(echo bulkhead-device-test > /dev/kmsg) 2>&- && echo written || echo denied";
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.set("/root/readonly", json!(false));
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]),
    );
    b.set(
        "/linux/resources/devices",
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rwa"},
        ]),
    );
    let bundle = b.dir().to_str().unwrap().to_string();
    let ours = unique("devupd");
    let theirs = unique("runcdevupd");
    rt.ok(&["run", "-d", "--bundle", &bundle, &ours]);
    let r = rt.runc(&["run", "-d", "--bundle", &bundle, &theirs]);
    assert!(r.status.success(), "runc: {}", stderr(&r));
    let list = || cgroup_file(&ours, "devices", "devices.list");
    assert!(list().lines().any(|l| l == "c 1:11 rw"), "{}", list());
    let before = list();
    for runc in [false, true] {
        let id = if runc { &theirs } else { &ours };
        assert_eq!(probe(&rt, runc, id, kmsg), "written", "runc: {runc}");
    }
    let deny = json!({"devices": [
        {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwm"},
    ]});
    let allow = json!({"devices": [
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rwa"},
    ]});
    let file = b.dir().join("resources.json");
    for res in [&deny, &allow] {
        std::fs::write(&file, res.to_string()).unwrap();
        let f = file.to_str().unwrap();
        for runc in [false, true] {
            let id = if runc { &theirs } else { &ours };
            let args = ["update", "-r", f, id];
            let o = if runc { rt.runc(&args) } else { rt.cmd(&args) };
            assert!(o.status.success(), "runc {runc} {res}: {}", stderr(&o));
            // The same by stdin.
            let mut c = if runc {
                let mut c = Command::new("runc");
                c.arg("--root").arg(rt.root.0.join("runc"));
                c
            } else {
                let mut c = Command::new(BIN);
                c.arg("--root").arg(&rt.root.0);
                c
            };
            let mut child = c
                .args(["update", "-r", "-", id])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(res.to_string().as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "runc {runc} -r - {res}: {}",
                stderr(&out)
            );
            assert_eq!(probe(&rt, runc, id, kmsg), "written", "runc {runc} {res}");
        }
        assert_eq!(list(), before, "{res}");
    }
    assert!(rt.runc(&["delete", "-f", &theirs]).status.success());
    rt.ok(&["delete", "-f", &ours]);
    rt.assert_clean(&ours, &b);
    // No r, w or m at all: refused at create by both, naming the rule.
    b.set(
        "/linux/resources/devices",
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "a"},
        ]),
    );
    create_fails(&b, &["linux.resources.devices[1].access"]);
    let r = rt.runc(&["run", "--bundle", &bundle, &unique("runcdevbad")]);
    assert!(!r.status.success(), "runc accepted access \"a\"");
}

/// An init in a new user namespace is in the container's cgroup in every hierarchy: it may not
/// open the host's cgroup files there, and moves itself into the v1 ones through the files the
/// runtime opened for it before the clone.
#[test]
fn an_init_in_a_user_namespace_joins_every_hierarchy() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.push("/linux/namespaces", json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    let id = unique("usercg");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    rt.ok(&["delete", "--force", &id]);
    assert!(cgroups.lines().count() > 1, "{cgroups}");
    for line in cgroups.lines() {
        assert!(line.ends_with(&format!("/{id}")), "{line} in\n{cgroups}");
    }
    rt.assert_clean(&id, &b);
}

//! Bad input: one clear line naming the file or field, a non-zero exit, nothing left behind.

mod common;
use common::*;
use serde_json::json;

#[test]
fn missing_and_malformed_config() {
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.dir().join("config.json")).unwrap();
    create_fails(&b, &["config.json", "no such file"]);
    std::fs::write(
        b.dir().join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": ",
    )
    .unwrap();
    create_fails(&b, &["config.json", "EOF"]);
}

#[test]
fn unknown_field_values_name_the_field() {
    let mut b = Bundle::new(&["true"]);
    b.push("/linux/namespaces", json!({"type": "bogus"}));
    create_fails(&b, &["config.json", "linux.namespaces[5].type"]);
    let mut b = Bundle::new(&["true"]);
    b.set("/process/capabilities/bounding", json!(["CAP_NOPE"]));
    create_fails(&b, &["process.capabilities.bounding"]);
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]),
    );
    create_fails(&b, &["process.rlimits[0].type"]);
    let mut b = Bundle::new(&["true"]);
    b.set("/process/args", json!([]));
    create_fails(&b, &["process.args"]);
    let mut b = Bundle::new(&["true"]);
    b.set("/process/cwd", json!("relative"));
    create_fails(&b, &["process.cwd"]);
    let mut b = Bundle::new(&["true"]);
    b.push("/linux/namespaces", json!({"type": "pid"}));
    create_fails(&b, &["linux.namespaces", "twice"]);
    let mut b = Bundle::new(&["true"]);
    b.push("/linux/namespaces", json!({"type": "user"}));
    create_fails(&b, &["linux.uidMappings"]);
    let mut b = Bundle::new(&["true"]);
    b.push(
        "/mounts",
        json!({"destination": "/x", "type": "bind", "source": "/no/such/dir", "options": ["bind"]}),
    );
    create_fails(&b, &["mounts[/x]", "/no/such/dir"]);
}

#[test]
fn missing_rootfs_and_missing_program() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/path", json!("nope"));
    create_fails(&b, &["root.path", "nope", "no such file"]);
    let b = Bundle::new(&["no-such-program"]);
    create_fails(&b, &["executable file not found in $PATH"]);
}

#[test]
fn duplicate_id_bad_id_and_bad_signal() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("dup");
    rt.ok(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].clone();
    let dup = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert_eq!(dup.status.code(), Some(1));
    assert_eq!(
        stderr(&dup).trim(),
        format!("container with id exists: {id}")
    );
    assert_eq!(
        rt.state(&id)["pid"],
        pid,
        "the failed create touched the existing container"
    );
    let sig = rt.cmd(&["kill", &id, "SIGNOPE"]);
    assert_eq!(sig.status.code(), Some(1));
    assert!(
        stderr(&sig).contains("unknown signal \"SIGNOPE\""),
        "{}",
        stderr(&sig)
    );
    assert_eq!(rt.status(&id), "created");
    let bad = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), "../escape"]);
    assert!(!bad.status.success() && stderr(&bad).contains("invalid container id"));
    assert!(!rt.root.0.parent().unwrap().join("escape").exists());
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
    let none = rt.cmd(&["state", "nosuch"]);
    assert!(!none.status.success() && stderr(&none).contains("does not exist"));
}

/// Issue 12, defect 2: linux.sysctl may set only what belongs to a namespace of the container's
/// own; a host-wide key or one that names a path is refused at create with one line naming it,
/// and the host's value does not change. Keys of the container's namespaces are still set.
#[test]
fn sysctls_outside_the_containers_namespaces_are_refused() {
    let host = |k: &str| std::fs::read_to_string(format!("/proc/sys/{k}")).unwrap();
    let swappiness = host("vm/swappiness");
    let other = if swappiness.trim() == "17" {
        "18"
    } else {
        "17"
    };
    for (key, mention) in [
        ("vm.swappiness", "not in a separate kernel namespace"),
        ("/proc/sys/vm/swappiness", "/proc/sys/vm/swappiness"),
        ("net/../vm/swappiness", "net/../vm/swappiness"),
        ("kernel.pid_max", "not in a separate kernel namespace"),
    ] {
        let mut b = Bundle::new(&["true"]);
        b.set("/linux/sysctl", json!({ key: other }));
        create_fails(&b, &["config.json", "linux.sysctl", mention]);
        assert_eq!(host("vm/swappiness"), swappiness, "{key} changed the host");
        if key == "vm.swappiness" {
            // runc refuses it too, with the same words.
            let root = TempDir::new("runc-root");
            let runc = std::process::Command::new("runc")
                .arg("--root")
                .arg(&root.0)
                .args([
                    "create",
                    "--bundle",
                    b.dir().to_str().unwrap(),
                    &unique("runcsysctl"),
                ])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(!runc.status.success());
            assert!(
                stderr(&runc).contains("not in a separate kernel namespace"),
                "runc: {}",
                stderr(&runc)
            );
        }
    }
    // A namespaced key without that namespace: the host's net namespace is not the container's.
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    b.write();
    create_fails(
        &b,
        &["linux.sysctl", "net.ipv4.ip_forward", "net namespace"],
    );
    // The container's own keys are set, in its namespaces only.
    let rt = Rt::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
    ]);
    b.set(
        "/linux/sysctl",
        json!({"net.ipv4.ip_forward": "1", "kernel/shmmni": "1234"}),
    );
    let id = unique("sysctl");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!((code, out.as_str()), (0, "1\n1234\n"), "{err}");
    assert_ne!(host("kernel/shmmni").trim(), "1234");
    rt.assert_clean(&id, &b);
}

/// Issue 12, defects 7 and 8: strings the kernel takes as C strings cannot hold NUL bytes, and
/// an argument list execve would refuse (E2BIG) is refused at create, each naming the field.
#[test]
fn nul_bytes_and_oversized_arguments_are_refused_at_create() {
    for (pointer, value, field) in [
        (
            "/process/args",
            json!(["echo", "a\u{0}b"]),
            "process.args[1]",
        ),
        (
            "/process/env",
            json!(["A=1", "B=x\u{0}y"]),
            "process.env[1]",
        ),
        ("/hostname", json!("host\u{0}name"), "hostname"),
        ("/process/cwd", json!("/tm\u{0}p"), "process.cwd"),
        (
            "/mounts/0/destination",
            json!("/pr\u{0}oc"),
            "mounts[0].destination",
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        *b.config.pointer_mut(pointer).unwrap() = value;
        b.write();
        let err = create_fails(&b, &["config.json", field]);
        assert!(err.contains("NUL"), "{err}");
    }
    let mut b = Bundle::new(&["true"]);
    b.set("/process/args", json!(["echo", "x".repeat(1 << 20)]));
    create_fails(&b, &["process.args[1]", "1048576 bytes"]);
    let mut b = Bundle::new(&["true"]);
    // 20 MB in strings each under the kernel's 128 KiB limit for one string.
    let big: Vec<String> = (0..160)
        .map(|i| format!("V{i}={}", "y".repeat(128_000)))
        .collect();
    b.set("/process/env", json!(big));
    create_fails(&b, &["process.env", "RLIMIT_STACK"]);
    // Under the limits, a large environment still works.
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh", "-c", "echo ${#BIG}"]);
    b.push(
        "/process/env",
        json!(format!("BIG={}", "z".repeat(100_000))),
    );
    let id = unique("bigenv");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!((code, out.trim()), (0, "100000"), "{err}");
}

/// Issue 12, defect 6: a namespace path that is a FIFO hung `create` forever (opening it waits
/// for a writer) and left state and cgroups; a FIFO, a plain file or a namespace of another
/// type is refused at once, with one line naming it.
#[test]
fn a_namespace_path_that_is_not_that_namespace_is_refused() {
    let dir = TempDir::new("nsfiles");
    let fifo = dir.0.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let plain = dir.0.join("plain");
    std::fs::write(&plain, "").unwrap();
    for (path, mention) in [
        (fifo.to_str().unwrap(), "not a namespace file"),
        (plain.to_str().unwrap(), "not a namespace file"),
        ("/proc/self/ns/uts", "is a uts namespace"),
        ("/no/such/ns", "No such file"),
    ] {
        let mut b = Bundle::new(&["true"]);
        let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "network", "path": path}));
        b.write();
        let started = std::time::Instant::now();
        create_fails(&b, &["linux.namespaces", "net namespace", path, mention]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{path}: create took {:?}",
            started.elapsed()
        );
    }
}

/// Issue 12, defect 8: cpu shares outside the kernel's 2..262144 are refused, at create and by
/// update, as runc refuses them (v1 would clamp them silently).
#[test]
fn cpu_shares_outside_the_kernels_range_are_refused() {
    for shares in [1u64, 262145, 1 << 40] {
        let mut b = Bundle::new(&["true"]);
        b.set("/linux/resources/cpu", json!({ "shares": shares }));
        create_fails(&b, &["config.json", "linux.resources.cpu.shares", "262144"]);
    }
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("shares");
    rt.ok(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    let out = rt.cmd(&["update", "--cpu-share", "1000000", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("linux.resources.cpu.shares"),
        "{}",
        stderr(&out)
    );
    rt.ok(&["update", "--cpu-share", "2048", &id]);
    rt.ok(&["delete", "--force", &id]);
    rt.assert_clean(&id, &b);
}

/// Found by the config fuzzer: a cgroupsPath that is a hierarchy's root or holds the runtime
/// itself ("/", ".", an ancestor of the runtime's own cgroup) would have `delete --force` kill
/// every process in it; it is refused. An empty one means "none given", as for runc. A path
/// thousands of levels deep kept create busy for minutes; it is refused at once.
#[test]
fn cgroups_paths_that_would_hold_the_runtime_are_refused() {
    for path in ["/", ".", "./"] {
        let mut b = Bundle::new(&["true"]);
        b.set("/linux/cgroupsPath", json!(path));
        create_fails(&b, &["linux.cgroupsPath", "where the runtime itself runs"]);
    }
    let deep = format!("/x/{}", "d/".repeat(5000));
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/cgroupsPath", json!(deep));
    create_fails(&b, &["linux.cgroupsPath", "too long"]);
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/cgroupsPath", json!(""));
    let id = unique("emptycg");
    let (code, _, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    rt.assert_clean(&id, &b);
}

/// Found by the config fuzzer: a FIFO as the program hung `create` (the init opened it to look
/// for a `#!` line); it is refused as execve refuses it.
#[test]
fn a_fifo_as_the_program_is_refused() {
    let b = Bundle::new(&["/fifo"]);
    let c = std::ffi::CString::new(b.rootfs().join("fifo").to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o755) }, 0);
    create_fails(&b, &["exec: \"/fifo\": permission denied"]);
}

/// Found by the config fuzzer: errors quote config values, which may hold line breaks; the error
/// stays one line. An init error too long for the set-up channel is cut, not lost.
#[test]
fn errors_stay_one_line_whatever_the_config_holds() {
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/process/capabilities/bounding",
        json!(["CAP_KILL\nCAP_KILL"]),
    );
    let err = create_fails(&b, &["process.capabilities.bounding"]);
    assert!(err.contains("\\n"), "{err}");
    let mut b = Bundle::new(&["true"]);
    let long = format!("/{}", "a/".repeat(100_000));
    b.push(
        "/mounts",
        json!({"destination": long, "type": "bind", "source": long, "options": ["bind"]}),
    );
    let err = create_fails(&b, &["mounts["]);
    assert!(err.len() < 10_000, "{} bytes", err.len());
}

/// Found by the config fuzzer: an RLIMIT_NOFILE that leaves the init no descriptor made it die
/// after `create` had returned, and `start` said only that the container had stopped.
#[test]
fn an_rlimit_nofile_too_low_for_the_init_is_refused_at_create() {
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1024}]),
    );
    create_fails(&b, &["process.rlimits", "RLIMIT_NOFILE"]);
}

/// Found by the config fuzzer: set-up failures with no field named. A memory limit too small
/// for the init got it OOM-killed ("container init exited during set-up"); a mount that left a
/// read-only /dev failed on its default links ("symlink /dev/fd"). Both now name what to change.
#[test]
fn set_up_failures_name_the_field_to_change() {
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/resources/memory", json!({"limit": 49}));
    create_fails(&b, &["linux.resources.memory.limit", "OOM-killed"]);
    // sysfs (read-only, and it has a dev directory) mounted over the root.
    let mut b = Bundle::new(&["true"]);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
    let sys = mounts
        .iter_mut()
        .find(|m| m["destination"] == "/sys")
        .unwrap();
    sys["destination"] = json!("/");
    b.write();
    create_fails(&b, &["mounts: /dev must be writable"]);
}

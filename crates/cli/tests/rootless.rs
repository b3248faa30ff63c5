//! Rootless: an ordinary user runs a container in a user namespace of its own, with no cgroup
//! writes it is not allowed.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const USER: &str = "bulkhead-rl";

/// `bulkhead run` of `b` as the test user, with its state under `root`.
fn run_as_user(root: &std::path::Path, b: &Bundle, id: &str) -> std::process::Output {
    let cmd = format!(
        "{BIN} --root {} run --bundle {} {id}",
        root.display(),
        b.dir().display()
    );
    Command::new("su")
        .args([USER, "-s", "/bin/sh", "-c", &cmd])
        .output()
        .unwrap()
}

/// The test user's uid and gid, creating the user if needed.
fn ensure_user() -> (u32, u32) {
    let id = |flag: &str| Command::new("id").args([flag, USER]).output().unwrap();
    if !id("-u").status.success() {
        let ok = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/bin/sh",
                USER,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "useradd {USER}");
    }
    let num = |flag: &str| {
        String::from_utf8_lossy(&id(flag).stdout)
            .trim()
            .parse()
            .unwrap()
    };
    (num("-u"), num("-g"))
}

#[test]
fn an_unprivileged_user_runs_a_container() {
    require_root();
    let (uid, gid) = ensure_user();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; hostname; touch /tmp/x && echo wrote",
    ]);
    // The spec `bulkhead spec --rootless` writes, for this user.
    b.set(
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": uid, "size": 1}]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": gid, "size": 1}]),
    );
    let ns: Vec<serde_json::Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network" && n["type"] != "cgroup")
        .cloned()
        .chain([json!({"type": "user"})])
        .collect();
    b.set("/linux/namespaces", json!(ns));
    b.set("/linux/resources", json!(null));
    b.set("/root/readonly", json!(false));
    // sysfs needs a network namespace of one's own; devpts a gid that is mapped.
    let mounts: Vec<serde_json::Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] != "cgroup")
        .map(|m| {
            let mut m = m.clone();
            if m["type"] == "devpts" {
                m["options"] = json!([
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620"
                ]);
            }
            m
        })
        .collect();
    b.set("/mounts", json!(mounts));
    // The user owns the rootfs's /tmp and a state directory.
    std::os::unix::fs::chown(b.rootfs().join("tmp"), Some(uid), Some(gid)).unwrap();
    let state = TempDir::new("rootless-state");
    std::os::unix::fs::chown(&state.0, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(b.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = unique("rootless");
    let out = run_as_user(&state.0, &b, &id);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<String> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0", &format!("0 {uid} 1"), "bulkhead", "wrote"],
        "{stderr}"
    );
    assert!(!state.0.join(&id).exists(), "state left behind");
    assert!(
        find_cgroups(&id).is_empty(),
        "a rootless container made a cgroup"
    );
    assert!(processes_with(&b.marker).is_empty());

    // An idmapped bind needs privilege the user does not have: one clear line, nothing left.
    let vol = TempDir::new("rootless-vol");
    b.push(
        "/mounts",
        json!({"destination": "/tmp", "type": "bind", "source": vol.0, "options": ["rbind", "idmap"]}),
    );
    b.write();
    let id = unique("rootless-idmap");
    let out = run_as_user(&state.0, &b, &id);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("mounts[/tmp]: idmapped mounts need a root runtime"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!state.0.join(&id).exists(), "state left behind");
    assert!(processes_with(&b.marker).is_empty());
}

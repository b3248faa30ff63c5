//! cgroup v2's core files for real, in this host's unified hierarchy: a process is frozen and
//! thawed with cgroup.freeze and killed with cgroup.kill.

use bulkhead_container::resources_v2;
use std::path::Path;
use std::time::Duration;

/// The host's cgroup2 hierarchy: a hybrid host's unified one, or the only one.
fn v2_root() -> &'static Path {
    let unified = Path::new("/sys/fs/cgroup/unified");
    if unified.join("cgroup.procs").exists() {
        unified
    } else {
        Path::new("/sys/fs/cgroup")
    }
}

#[test]
fn freeze_thaw_and_kill_through_the_v2_core_files() {
    let root = v2_root();
    assert!(
        root.join("cgroup.procs").exists(),
        "no cgroup2 hierarchy mounted"
    );
    let dir = root.join(format!("bulkhead-v2-core-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    resources_v2::freeze(&dir, true).unwrap();
    assert!(std::fs::read_to_string(dir.join("cgroup.events"))
        .unwrap()
        .contains("frozen 1"));
    resources_v2::freeze(&dir, false).unwrap();
    assert!(std::fs::read_to_string(dir.join("cgroup.events"))
        .unwrap()
        .contains("frozen 0"));
    assert!(
        resources_v2::kill_all(&dir).unwrap(),
        "this kernel has cgroup.kill"
    );
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for _ in 0..200 {
        if std::fs::remove_dir(&dir).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("cgroup {} could not be removed", dir.display());
}

/// The v2 device program for real: with "deny all, allow c 1:3 rwm, allow c 1:5 r" attached to
/// a cgroup in the unified hierarchy, a process in it opens /dev/null, reads but cannot write
/// /dev/zero, and cannot open /dev/urandom.
#[test]
fn device_program_allows_and_denies_in_the_unified_hierarchy() {
    use bulkhead_container::device_filter;
    let root = v2_root();
    let dir = root.join(format!("bulkhead-v2-devices-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let rules = [
        device_filter::parse("a *:* rwm", false).unwrap(),
        device_filter::parse("c 1:3 rwm", true).unwrap(),
        device_filter::parse("c 1:5 r", true).unwrap(),
    ];
    device_filter::apply(&dir, &rules).unwrap();
    let out = run_in_cgroup(
        &dir,
        "(: > /dev/null) 2>/dev/null && echo null-ok || echo null-denied; \
         (head -c1 /dev/zero > /dev/null) 2>/dev/null && echo zero-read || echo zero-denied; \
         (: > /dev/zero) 2>/dev/null && echo zero-written || echo zero-write-denied; \
         (head -c1 /dev/urandom > /dev/null) 2>/dev/null && echo urandom-ok || echo urandom-denied",
    );
    assert_eq!(
        out,
        "null-ok\nzero-read\nzero-write-denied\nurandom-denied\n"
    );
}

/// Issue 12, defect 5 on v2: the rules `resources::apply` compiles for a unified-only cgroup,
/// for real. A node the config lists in linux.devices (here /dev/kmsg and /dev/null) is not
/// allowed by being listed; the defaults that it does not name (/dev/zero) still are.
#[test]
fn v2_rules_deny_a_listed_device() {
    use bulkhead_container::cgroups::{Cgroup, Hierarchy};
    use bulkhead_container::resources;
    let root = v2_root();
    let dir = root.join(format!("bulkhead-v2-listed-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let cg = Cgroup {
        dirs: vec![(
            Hierarchy {
                mountpoint: root.to_path_buf(),
                root: "/".into(),
                controllers: Vec::new(),
            },
            dir.clone(),
        )],
        created: Vec::new(),
        systemd: None,
    };
    let r: oci_spec::runtime::LinuxResources = serde_json::from_value(serde_json::json!({
        "devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "access": "r"},
            {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwm"},
        ]
    }))
    .unwrap();
    resources::apply(&cg, &r, &["/dev/kmsg".into(), "/dev/null".into()]).unwrap();
    // /dev/null is denied here: no redirection to it (stderr is closed instead).
    let out = run_in_cgroup(
        &dir,
        "(: > /dev/kmsg) 2>&- && echo kmsg-written || echo kmsg-denied; \
         (: < /dev/kmsg) 2>&- && echo kmsg-read || echo kmsg-read-denied; \
         (: > /dev/null) 2>&- && echo null-written || echo null-write-denied; \
         (: > /dev/zero) 2>&- && echo zero-written || echo zero-denied",
    );
    assert_eq!(
        out,
        "kmsg-denied\nkmsg-read-denied\nnull-write-denied\nzero-written\n"
    );
}

/// Runs `script` in a shell that is moved into the cgroup `dir` before it starts; returns its
/// output, and removes `dir` (retrying while the exited shell still keeps it busy).
fn run_in_cgroup(dir: &Path, script: &str) -> String {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .args(["-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    for _ in 0..200 {
        if std::fs::remove_dir(dir).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

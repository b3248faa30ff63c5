//! Personality, I/O priority, scheduler and LSM labels of the container's process.

mod common;
use common::*;
use serde_json::json;

#[test]
fn personality_io_priority_and_scheduler_are_applied() {
    let rt = Rt::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "uname -m; ionice -p $$; cut -d' ' -f19,41 /proc/self/stat",
    ]);
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    b.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 3}),
    );
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 5}),
    );
    let id = unique("attrs");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "i686", "LINUX32 personality");
    assert_eq!(lines[1], "best-effort: prio 3");
    assert_eq!(lines[2], "5 3", "nice 5, policy SCHED_BATCH (3)");
    rt.assert_clean(&id, &b);
}

#[test]
fn lsm_labels_follow_runc_on_a_host_without_the_lsm() {
    let rt = Rt::new();
    if !std::path::Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        let mut b = Bundle::new(&["true"]);
        b.set("/process/apparmorProfile", json!("docker-default"));
        let id = unique("apparmor");
        let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("process.apparmorProfile")
                && stderr(&out).contains("not enabled"),
            "{}",
            stderr(&out)
        );
        rt.assert_clean(&id, &b);
    }
    if !std::path::Path::new("/sys/fs/selinux").exists() {
        let mut b = Bundle::new(&["echo", "labelled"]);
        b.set(
            "/process/selinuxLabel",
            json!("system_u:system_r:container_t:s0"),
        );
        let id = unique("selinux");
        let (code, out, err) = rt.run(&b, &id);
        assert_eq!((code, out.as_str()), (0, "labelled\n"), "{err}");
        rt.assert_clean(&id, &b);
    }
}

#[test]
fn bad_attribute_values_are_refused() {
    let rt = Rt::new();
    for (pointer, value, want) in [
        (
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_BE", "priority": 9}),
            "process.ioPriority.priority",
        ),
        (
            "/process/scheduler",
            json!({"policy": "SCHED_ISO"}),
            "process.scheduler.policy",
        ),
        (
            "/linux/personality",
            json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
            "linux.personality.flags",
        ),
    ] {
        let mut b = Bundle::new(&["true"]);
        b.set(pointer, value);
        let id = unique("badattr");
        let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(want), "{want}: {}", stderr(&out));
        rt.assert_clean(&id, &b);
    }
}

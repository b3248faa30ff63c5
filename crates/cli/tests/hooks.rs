//! Hooks: each kind at its moment and in its namespace, with the state on stdin; failures and
//! timeouts fail the operation and clean up, except poststop's, which only warn.

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A hook script that records its name, the state it got and its mount namespace.
fn hook_script(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(format!("hook-{name}.sh"));
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_str().unwrap().to_string()
}

fn recorder(dir: &Path, name: &str) -> Value {
    let log = dir.join("order.log");
    let out = dir.join(format!("{name}.json"));
    let body = format!(
        "echo {name} >> {log}\ncat > {out}\nreadlink /proc/self/ns/mnt > {out}.mnt",
        log = log.display(),
        out = out.display()
    );
    json!({"path": hook_script(dir, name, &body), "args": [name, "arg1"], "env": ["HOOK_ENV=1"]})
}

#[test]
fn every_hook_runs_at_its_moment_in_its_namespace() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    let d = b.dir().to_path_buf();
    b.set("/root/readonly", json!(false));
    // startContainer resolves inside the container: a busybox script in the rootfs.
    std::fs::write(
        b.rootfs().join("bin/start-hook"),
        "#!/bin/sh\ncat > /tmp/start.json\necho $HOOK_ENV > /tmp/start.env\n",
    )
    .unwrap();
    std::fs::set_permissions(
        b.rootfs().join("bin/start-hook"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    b.set(
        "/hooks",
        json!({
            "prestart": [recorder(&d, "prestart")],
            "createRuntime": [recorder(&d, "createRuntime")],
            "createContainer": [recorder(&d, "createContainer")],
            "startContainer": [{"path": "/bin/start-hook", "env": ["HOOK_ENV=inside"]}],
            "poststart": [recorder(&d, "poststart")],
            "poststop": [recorder(&d, "poststop")],
        }),
    );
    let id = unique("hooks");
    rt.ok(&["create", "--bundle", d.to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let order = || std::fs::read_to_string(d.join("order.log")).unwrap_or_default();
    assert_eq!(order(), "prestart\ncreateRuntime\ncreateContainer\n");
    rt.ok(&["start", &id]);
    assert_eq!(
        order(),
        "prestart\ncreateRuntime\ncreateContainer\npoststart\n"
    );
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    assert_eq!(
        order(),
        "prestart\ncreateRuntime\ncreateContainer\npoststart\npoststop\n"
    );

    let host_mnt = std::fs::read_link("/proc/self/ns/mnt")
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mnt = |n: &str| {
        std::fs::read_to_string(d.join(format!("{n}.json.mnt")))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        mnt("createRuntime"),
        host_mnt,
        "createRuntime runs in the runtime's namespace"
    );
    assert_ne!(
        mnt("createContainer"),
        host_mnt,
        "createContainer runs in the container's namespace"
    );
    let state = |n: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(format!("{n}.json"))).unwrap())
            .unwrap()
    };
    for (n, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = state(n);
        assert_eq!(s["id"], id.as_str(), "{n}");
        assert_eq!(s["status"], status, "{n}");
        assert_eq!(s["bundle"], d.to_str().unwrap(), "{n}");
    }
    assert_eq!(
        state("createRuntime")["pid"],
        pid,
        "the hook gets the init's host pid"
    );
    assert_eq!(state("createContainer")["pid"], pid);
    let start: Value =
        serde_json::from_str(&std::fs::read_to_string(b.rootfs().join("tmp/start.json")).unwrap())
            .unwrap();
    assert_eq!(start["status"], "created");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/start.env"))
            .unwrap()
            .trim(),
        "inside"
    );
    rt.assert_clean(&id, &b);
}

#[test]
fn a_failing_or_hanging_hook_fails_create_and_leaves_nothing() {
    for (kind, body, timeout, expect) in [
        (
            "createRuntime",
            "echo broken >&2; exit 3",
            None,
            "exit status: 3: broken",
        ),
        ("prestart", "sleep 30", Some(1), "timed out"),
        (
            "createContainer",
            "exit 1",
            None,
            "hooks.createContainer[0]",
        ),
    ] {
        let rt = Rt::new();
        let mut b = Bundle::new(&["true"]);
        let mut hook = json!({"path": hook_script(b.dir(), kind, body)});
        if let Some(t) = timeout {
            hook["timeout"] = json!(t);
        }
        b.set("/hooks", json!({ kind: [hook] }));
        let id = unique("badhook");
        let out = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
        assert!(!out.status.success(), "{kind}");
        let err = stderr(&out);
        assert!(
            err.contains(expect) && err.contains(&format!("hooks.{kind}[0]")),
            "{kind}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        rt.assert_clean(&id, &b);
    }
}

#[test]
fn a_failing_poststop_hook_only_warns() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/hooks",
        json!({"poststop": [{"path": hook_script(b.dir(), "poststop", "exit 9")}]}),
    );
    let id = unique("poststop");
    let (code, _, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning") && err.contains("hooks.poststop[0]"),
        "{err}"
    );
    rt.assert_clean(&id, &b);
}

#[test]
fn a_hook_that_is_not_executable_is_a_config_error() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    let p = b.dir().join("not-exec.sh");
    std::fs::write(&p, "#!/bin/sh\n").unwrap();
    b.set("/hooks", json!({"prestart": [{"path": p}]}));
    let id = unique("noexec");
    let out = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("hooks.prestart[0].path") && stderr(&out).contains("not executable"),
        "{}",
        stderr(&out)
    );
    rt.assert_clean(&id, &b);
}

/// Issue 17: a createContainer hook runs with the container's root filesystem as its working
/// directory (relative paths in it name the container's files), as runc's; side by side.
#[test]
fn create_container_hooks_run_in_the_rootfs() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    let d = b.dir().to_path_buf();
    let out = d.join("cwd.txt");
    let body = format!(
        "pwd >> {out}; test -x bin/busybox && echo relative-ok >> {out}",
        out = out.display()
    );
    b.set(
        "/hooks",
        json!({"createContainer": [{"path": hook_script(&d, "cwd", &body)}]}),
    );
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    let expected = format!("{}\nrelative-ok\n", rootfs.display());
    let id = unique("hookcwd");
    let (code, _, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
    rt.assert_clean(&id, &b);
    std::fs::remove_file(&out).unwrap();
    let runc = rt.runc(&["run", "-b", d.to_str().unwrap(), &unique("runchookcwd")]);
    assert!(runc.status.success(), "runc: {}", stderr(&runc));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected, "runc");
}

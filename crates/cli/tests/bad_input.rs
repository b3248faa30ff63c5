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
    create_fails(&b, &["config.json", "linux.namespaces[6].type"]);
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

//! `checkpoint` and `restore` on this host, side by side with runc. Debian's criu 3.17 fails
//! `criu check` on this kernel (vdso: "Unexpected rt vDSO area bounds"), so no dump or restore
//! of a real process can complete here: what is tested is that both runtimes fail, bulkhead in
//! one line naming CRIU and criu's own error, with the container untouched, and that bad input
//! is refused in one line naming the flag before anything is made. The requests themselves
//! are unit-tested against a fake criu (crates/runtime/src/criu/tests.rs).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Whether criu works on this host (`criu check`); these tests are for one where it does not.
fn criu_works() -> bool {
    Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn one_line(o: &std::process::Output) -> String {
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// A running container of each runtime, on one bundle.
fn run_both(rt: &Rt, b: &Bundle, id: &str) {
    rt.ok(&["run", "-d", "-b", b.dir().to_str().unwrap(), id]);
    let o = rt.runc(&["run", "-d", "-b", b.dir().to_str().unwrap(), id]);
    assert!(o.status.success(), "runc run: {}", stderr(&o));
    assert_eq!(rt.status(id), "running");
}

/// No state directory and no cgroup of `id` (its bundle's other containers still run).
fn assert_no_state(rt: &Rt, id: &str) {
    assert!(!rt.root.0.join(id).exists(), "state of {id} left behind");
    let cg = find_cgroups(id);
    assert!(cg.is_empty(), "cgroups of {id} left behind: {cg:?}");
}

fn runc_status(rt: &Rt, id: &str) -> String {
    let o = rt.runc(&["state", id]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_string()
}

fn delete_both(rt: &Rt, b: &Bundle, id: &str) {
    rt.ok(&["delete", "-f", id]);
    let o = rt.runc(&["delete", "-f", id]);
    assert!(o.status.success(), "runc delete: {}", stderr(&o));
    rt.assert_clean(id, b);
}

/// Both runtimes fail to checkpoint a running container here; bulkhead says why in one line
/// naming CRIU and criu's error, writes nothing (the image directory is made only once criu
/// is known to work), and the container runs on and is deleted as usual.
#[test]
fn checkpoint_fails_in_one_line_naming_criu_and_the_container_runs_on() {
    if criu_works() {
        eprintln!("criu works on this host: this test is for one where `criu check` fails");
        return;
    }
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("ck");
    run_both(&rt, &b, &id);
    let images = TempDir::new("images");
    let ours = images.0.join("bulkhead");
    let theirs = images.0.join("runc");
    let o = rt.cmd(&[
        "checkpoint",
        "--image-path",
        ours.to_str().unwrap(),
        "--leave-running",
        &id,
    ]);
    let r = rt.runc(&[
        "checkpoint",
        "--image-path",
        theirs.to_str().unwrap(),
        "--leave-running",
        &id,
    ]);
    assert_eq!(r.status.code(), Some(1), "runc: {}", stderr(&r));
    assert_eq!(o.status.code(), r.status.code());
    let err = one_line(&o);
    assert!(
        err.starts_with("checkpoint: CRIU is not usable on this host: criu check failed: "),
        "{err}"
    );
    // criu's own words, from its log.
    assert!(err.contains("vdso"), "{err}");
    assert!(
        !ours.exists(),
        "image directory made for a checkpoint that could not be"
    );
    // runc made its image directory and left criu's dump.log in it.
    assert!(theirs.join("dump.log").exists());
    assert_eq!(rt.status(&id), "running");
    assert_eq!(runc_status(&rt, &id), "running");
    // Without --leave-running too: the container is not ended.
    let o = rt.cmd(&["checkpoint", "--image-path", ours.to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(1));
    one_line(&o);
    assert_eq!(rt.status(&id), "running");
    let pid = rt.state(&id)["pid"].as_i64().unwrap() as i32;
    assert!(!ended(pid), "the init was ended");
    delete_both(&rt, &b, &id);
}

/// A criu binary that is not there: one line naming CRIU and the path, for both runtimes exit
/// 1, the container untouched.
#[test]
fn a_missing_criu_binary_is_one_line() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("ck");
    run_both(&rt, &b, &id);
    let images = TempDir::new("images");
    let ours = images.0.join("bulkhead");
    for criu in ["/nonexistent", "no-such-criu"] {
        let o = rt.cmd(&[
            "--criu",
            criu,
            "checkpoint",
            "--image-path",
            ours.to_str().unwrap(),
            &id,
        ]);
        let r = rt.runc(&[
            "--criu",
            criu,
            "checkpoint",
            "--image-path",
            images.0.join("runc").to_str().unwrap(),
            &id,
        ]);
        assert_eq!(r.status.code(), Some(1), "runc: {}", stderr(&r));
        assert_eq!(o.status.code(), Some(1));
        let err = one_line(&o);
        assert!(
            err.starts_with("checkpoint: CRIU is not usable on this host: "),
            "{err}"
        );
        assert!(err.contains(criu), "{err}");
        assert!(!ours.exists());
        assert_eq!(rt.status(&id), "running");
    }
    // The same for restore, before any state is made.
    let rid = unique("rs");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::write(
        ours.join("descriptors.json"),
        r#"["/dev/null","/dev/null","/dev/null"]"#,
    )
    .unwrap();
    let o = rt.cmd(&[
        "--criu",
        "/nonexistent",
        "restore",
        "-d",
        "-b",
        b.dir().to_str().unwrap(),
        "--image-path",
        ours.to_str().unwrap(),
        &rid,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = one_line(&o);
    assert!(
        err.contains("CRIU") && err.contains("/nonexistent"),
        "{err}"
    );
    assert_no_state(&rt, &rid);
    delete_both(&rt, &b, &id);
}

/// Bad input is refused in one line naming the flag or the field, exit 1 as runc's, before
/// criu is asked or anything is made; the container is left as it was.
#[test]
fn bad_checkpoint_input_is_one_line_naming_the_flag() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("ck");
    run_both(&rt, &b, &id);
    let images = TempDir::new("images");
    let img = images.0.join("img");
    let img_s = img.to_str().unwrap().to_string();
    let cases: &[(&[&str], &str, bool)] = &[
        // (flags, what our line names, runc fails too)
        (
            &["--manage-cgroups-mode", "bogus"],
            "--manage-cgroups-mode",
            true,
        ),
        (
            &["--manage-cgroups-mode", "ignore"],
            "--manage-cgroups-mode",
            true,
        ),
        (&["--empty-ns", "ipc"], "--empty-ns", true),
        (&["--page-server", "nocolon"], "--page-server", true),
        (&["--page-server", "host:port"], "--page-server", true),
        (&["--parent-path", "/abs"], "--parent-path", true),
        (&["--parent-path", "nosuch"], "--parent-path", true),
        (&["--pre-dump", "--lazy-pages"], "--lazy-pages", true),
        (&["--status-fd", "5"], "--status-fd", true),
        (&["--lazy-pages", "--status-fd", "250"], "--status-fd", true),
        (&["--status-fd", "x"], "--status-fd", false),
    ];
    for (flags, names, runc_fails) in cases {
        let mut args = vec!["checkpoint", "--image-path", &img_s];
        args.extend_from_slice(flags);
        args.push(&id);
        let o = rt.cmd(&args);
        assert_eq!(o.status.code(), Some(1), "{flags:?}: {}", stderr(&o));
        let err = one_line(&o);
        assert!(err.starts_with("checkpoint: "), "{err}");
        assert!(err.contains(names), "{flags:?}: {err}");
        assert!(!err.contains("CRIU"), "{flags:?}: criu asked first: {err}");
        assert!(!img.exists(), "{flags:?} left {img_s}");
        if *runc_fails {
            let mut args = vec!["checkpoint", "--image-path"];
            let theirs = images.0.join("runc");
            let theirs = theirs.to_str().unwrap();
            args.push(theirs);
            args.extend_from_slice(flags);
            args.push(&id);
            let r = rt.runc(&args);
            assert_eq!(r.status.code(), Some(1), "runc {flags:?}");
        }
        assert_eq!(rt.status(&id), "running");
    }
    // No such container; a container that is only created.
    let o = rt.cmd(&["checkpoint", "--image-path", &img_s, "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(one_line(&o).contains("container nosuch does not exist"));
    assert_eq!(rt.runc(&["checkpoint", "nosuch"]).status.code(), Some(1));
    let cid = unique("created");
    rt.ok(&["create", "-b", b.dir().to_str().unwrap(), &cid]);
    let o = rt.cmd(&["checkpoint", "--image-path", &img_s, &cid]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        one_line(&o).contains("cannot be checkpointed in created state"),
        "{}",
        stderr(&o)
    );
    assert!(!img.exists());
    assert_eq!(rt.status(&cid), "created");
    rt.ok(&["delete", "-f", &cid]);
    assert_no_state(&rt, &cid);
    delete_both(&rt, &b, &id);
}

/// restore from a directory that is not there, or holds no checkpoint: one line naming
/// --image-path, exit 1 as runc's, and nothing left: no state directory, no cgroup, no image
/// directory (runc 1.1.5 makes the image directory before failing).
#[test]
fn restore_without_images_leaves_nothing() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let images = TempDir::new("images");
    let missing = images.0.join("missing");
    let empty = images.0.join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (dir, says) in [
        (&missing, "no such directory"),
        (&empty, "not a checkpoint"),
    ] {
        let id = unique("rs");
        let d = dir.to_str().unwrap();
        let o = rt.cmd(&[
            "restore",
            "-d",
            "-b",
            b.dir().to_str().unwrap(),
            "--image-path",
            d,
            &id,
        ]);
        assert_eq!(o.status.code(), Some(1));
        let err = one_line(&o);
        assert!(err.starts_with("restore: --image-path "), "{err}");
        assert!(err.contains(d) && err.contains(says), "{err}");
        rt.assert_clean(&id, &b);
        assert_eq!(dir.exists(), dir == &empty, "bulkhead made {d}");
        let r = rt.runc(&[
            "restore",
            "-d",
            "-b",
            b.dir().to_str().unwrap(),
            "--image-path",
            d,
            &id,
        ]);
        assert_eq!(r.status.code(), Some(1), "runc: {}", stderr(&r));
        assert!(!rt.root.0.join("runc").join(&id).exists());
        // runc 1.1.5 made the missing image directory before failing; bulkhead did not.
        assert!(dir.exists());
        let _ = std::fs::remove_dir(&missing);
    }
}

/// restore with images that look like a checkpoint on a host where criu does not work: one
/// line naming CRIU, nothing left (no state, no cgroup); an id in use and a bad bundle are
/// refused before criu is asked.
#[test]
fn restore_fails_in_one_line_naming_criu_and_leaves_nothing() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let images = TempDir::new("images");
    std::fs::write(
        images.0.join("descriptors.json"),
        r#"["/dev/null","/dev/null","/dev/null"]"#,
    )
    .unwrap();
    let img = images.0.to_str().unwrap();
    let id = unique("rs");
    let restore = |id: &str, bundle: &Path| {
        rt.cmd(&[
            "restore",
            "-d",
            "-b",
            bundle.to_str().unwrap(),
            "--image-path",
            img,
            id,
        ])
    };
    if !criu_works() {
        let o = restore(&id, b.dir());
        assert_eq!(o.status.code(), Some(1));
        let err = one_line(&o);
        assert!(
            err.starts_with("restore: CRIU is not usable on this host: criu check failed: "),
            "{err}"
        );
        rt.assert_clean(&id, &b);
    }
    // An id in use.
    let live = unique("live");
    rt.ok(&["run", "-d", "-b", b.dir().to_str().unwrap(), &live]);
    let o = restore(&live, b.dir());
    assert_eq!(o.status.code(), Some(1));
    assert!(one_line(&o).contains("container with id exists"));
    assert_eq!(rt.status(&live), "running");
    rt.ok(&["delete", "-f", &live]);
    rt.assert_clean(&live, &b);
    // A bundle without config.json.
    let nob = TempDir::new("nobundle");
    let o = restore(&id, &nob.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(one_line(&o).contains("config.json"), "{}", stderr(&o));
    rt.assert_clean(&id, &b);
    // Bad flags.
    let o = rt.cmd(&[
        "restore",
        "-d",
        "-b",
        b.dir().to_str().unwrap(),
        "--image-path",
        img,
        "--manage-cgroups-mode",
        "bogus",
        &id,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(one_line(&o).contains("--manage-cgroups-mode"));
    rt.assert_clean(&id, &b);
}

/// `features` says checkpoint is built in, as runc's annotation does.
#[test]
fn features_say_checkpoint_is_built_in() {
    let rt = Rt::new();
    let ours: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(
        ours["annotations"]["dev.bulkhead.checkpoint.enabled"],
        "true"
    );
    let o = Command::new("runc").arg("features").output().unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        theirs["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
        "true"
    );
}

/// A fake criu (python3) for the paths criu cannot take here: it answers VERSION and CHECK;
/// records a DUMP request and fails it (with an error in dump.log) or says it is done; records
/// the RESTORE request and its own cgroup, and then either fails or "restores" a `sleep` it
/// starts, reporting it through the setup-namespaces and post-restore notifications and the
/// answer, as criu reports the restored init.
const FAKE_CRIU: &str = r#"#!/usr/bin/python3
import os, socket, subprocess, sys
out = os.environ["FAKE_CRIU_OUT"]
s = socket.socket(fileno=int(sys.argv[2]))
def varint(n):
    b = bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        if n: b.append(c | 0x80)
        else: b.append(c); return bytes(b)
def field(tag, body): return varint(tag << 3 | 2) + varint(len(body)) + body
req = s.recv(1 << 16)
if req[:2] == b"\x08\x0a":
    s.send(b"\x08\x0a\x10\x01" + field(10, b"\x08\x03\x10\x11"))
elif req[:2] == b"\x08\x03":
    s.send(b"\x08\x03\x10\x01")
elif req[:2] == b"\x08\x02":
    open(out + "/req.bin", "wb").write(req)
    open(out + "/cgroup", "w").write(open("/proc/self/cgroup").read())
    if os.environ["FAKE_CRIU_MODE"] == "fail":
        s.send(b"\x08\x02\x10\x00")
        sys.exit(0)
    p = subprocess.Popen(["sleep", "1000"], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for script in [b"setup-namespaces", b"post-restore"]:
        s.send(b"\x08\x06\x10\x01" + field(5, field(1, script) + b"\x10" + varint(p.pid)))
        ack = s.recv(1 << 16)
        assert ack == b"\x08\x06\x18\x01", ack
    s.send(b"\x08\x02\x10\x01" + field(4, b"\x08" + varint(p.pid)))
elif req[:2] == b"\x08\x01":
    open(out + "/dump.bin", "wb").write(req)
    if os.environ["FAKE_CRIU_MODE"] == "fail":
        with open(os.environ["FAKE_CRIU_IMAGES"] + "/dump.log", "w") as f:
            f.write("(00.000100) Error (criu/fake.c:1): fake: cannot dump\n")
        s.send(b"\x08\x01\x10\x00")
    else:
        s.send(b"\x08\x01\x10\x01")
"#;

fn fake_criu(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let criu = dir.join("criu");
    std::fs::write(&criu, FAKE_CRIU).unwrap();
    std::fs::set_permissions(&criu, std::fs::Permissions::from_mode(0o755)).unwrap();
    criu
}

fn protoc_decode_req(bytes: &[u8]) -> Option<String> {
    use std::io::Write;
    if !Path::new("/usr/include/criu/rpc.proto").exists() {
        return None;
    }
    let mut c = Command::new("protoc")
        .args([
            "--decode=criu_req",
            "--proto_path=/usr/include/criu",
            "/usr/include/criu/rpc.proto",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    c.stdin.take().unwrap().write_all(bytes).unwrap();
    let o = c.wait_with_output().unwrap();
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// restore's own steps, with a fake criu: the state directory and cgroup made, criu put in the
/// cgroup before it gets the request (so what it restores lands there), the request naming
/// the rootfs bound at a mount point of the state directory and the cgroup roots, the process
/// criu reports recorded as the running init (state, --pid-file), the bind gone afterwards,
/// and `delete` ending it all. A RESTORE that fails leaves nothing.
#[test]
fn restore_makes_the_container_criu_reports() {
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("no /usr/bin/python3 for the fake criu: skipped");
        return;
    }
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let work = TempDir::new("fakecriu");
    let criu = fake_criu(&work.0);
    let images = work.0.join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::write(
        images.join("descriptors.json"),
        r#"["/dev/null","/dev/null","/dev/null"]"#,
    )
    .unwrap();
    let pid_file = work.0.join("pid");
    let restore = |id: &str, mode: &str| {
        let mut c = rt.command(&[
            "--criu",
            criu.to_str().unwrap(),
            "restore",
            "-d",
            "-b",
            b.dir().to_str().unwrap(),
            "--image-path",
            images.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ]);
        c.env("FAKE_CRIU_OUT", &work.0).env("FAKE_CRIU_MODE", mode);
        capture(c)
    };
    let mounted = |id: &str| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&format!("/{id}/criu-root"))
    };
    // A RESTORE that fails: one line, nothing left.
    let id = unique("rs");
    let o = restore(&id, "fail");
    assert_eq!(o.status.code(), Some(1));
    let err = one_line(&o);
    assert!(err.starts_with("restore: criu failed: RESTORE: "), "{err}");
    assert_no_state(&rt, &id);
    assert!(!mounted(&id));
    assert!(std::fs::read_to_string(work.0.join("cgroup"))
        .unwrap()
        .contains(&id));
    // One that "works".
    let id = unique("rs");
    let o = restore(&id, "ok");
    assert!(o.status.success(), "{}", stderr(&o));
    let st = rt.state(&id);
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert_eq!(cmdline(pid).trim(), "sleep 1000");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().all(|l| l.ends_with(&format!("/{id}"))), "{own}");
    assert!(!mounted(&id), "the rootfs bind for criu is left mounted");
    if let Some(text) = protoc_decode_req(&std::fs::read(work.0.join("req.bin")).unwrap()) {
        let root = rt.root.0.join(&id).join("criu-root");
        for want in [
            "type: RESTORE".to_string(),
            format!("root: \"{}\"", root.display()),
            "rst_sibling: true".into(),
            "manage_cgroups: true".into(),
            "notify_scripts: true".into(),
            "log_file: \"restore.log\"".into(),
            format!("path: \"/{id}\""),
            "ctrl: \"pids\"".into(),
        ] {
            assert!(text.contains(&want), "{want:?} not in:\n{text}");
        }
    }
    rt.ok(&["delete", "-f", &id]);
    assert_no_state(&rt, &id);
    for _ in 0..100 {
        if ended(pid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(ended(pid), "the restored process outlived delete");
}

/// checkpoint's own steps, with a fake criu: the DUMP request names the init, the rootfs, the
/// freezer cgroup, the cgroup views and the masked files as external mounts; descriptors.json
/// is written; a failed DUMP is one line with criu's error from dump.log and the container runs
/// on; --leave-running keeps it; a DUMP without it deletes the container, as runc's does.
#[test]
fn checkpoint_sends_the_dump_request_and_ends_the_container() {
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("no /usr/bin/python3 for the fake criu: skipped");
        return;
    }
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("ck");
    rt.ok(&["run", "-d", "-b", b.dir().to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let work = TempDir::new("fakecriu");
    let criu = fake_criu(&work.0);
    let images = work.0.join("images");
    let checkpoint = |mode: &str, extra: &[&str]| {
        let mut args = vec![
            "--criu",
            criu.to_str().unwrap(),
            "checkpoint",
            "--image-path",
            images.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(&id);
        let mut c = rt.command(&args);
        c.env("FAKE_CRIU_OUT", &work.0)
            .env("FAKE_CRIU_MODE", mode)
            .env("FAKE_CRIU_IMAGES", &images);
        capture(c)
    };
    let o = checkpoint("fail", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = one_line(&o);
    assert_eq!(
        err.trim_end(),
        format!(
            "checkpoint: criu failed: DUMP: fake: cannot dump (log: {}/dump.log)",
            images.display()
        )
    );
    assert_eq!(rt.status(&id), "running");
    let names: Vec<String> =
        serde_json::from_slice(&std::fs::read(images.join("descriptors.json")).unwrap()).unwrap();
    assert_eq!(names.len(), 3);
    if let Some(text) = protoc_decode_req(&std::fs::read(work.0.join("dump.bin")).unwrap()) {
        for want in [
            "type: DUMP".to_string(),
            format!("pid: {pid}"),
            format!("root: \"{}\"", b.rootfs().display()),
            "leave_running: false".into(),
            "log_file: \"dump.log\"".into(),
            format!("freeze_cgroup: \"/sys/fs/cgroup/freezer/{id}\""),
            "key: \"/sys/fs/cgroup/pids\"".into(),
            "key: \"/proc/keys\"\n    val: \"/dev/null\"".into(),
            "manage_cgroups: true".into(),
            "orphan_pts_master: true".into(),
        ] {
            assert!(text.contains(&want), "{want:?} not in:\n{text}");
        }
    }
    let o = checkpoint("ok", &["--leave-running"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(rt.status(&id), "running");
    let o = checkpoint("ok", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    rt.assert_clean(&id, &b);
}

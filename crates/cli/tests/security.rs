//! Known runtime escapes, each as a regression test that a naive runtime fails.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

fn refused(rt: &Rt, b: &Bundle, what: &str) -> String {
    let id = unique("cve");
    let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert!(
        !out.status.success(),
        "{what}: the container ran: {}",
        stdout(&out)
    );
    rt.assert_clean(&id, b);
    stderr(&out)
}

#[test]
fn cve_2019_5736_the_runtime_binary_is_never_executed_in_the_container() {
    let rt = Rt::new();
    // The program itself.
    let b = Bundle::new(&["/proc/self/exe"]);
    let err = refused(&rt, &b, "args[0] = /proc/self/exe");
    assert!(err.contains("CVE-2019-5736"), "{err}");
    // A script whose interpreter is the runtime.
    let b = Bundle::new(&["/evil.sh"]);
    std::fs::write(b.rootfs().join("evil.sh"), "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("evil.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let err = refused(&rt, &b, "#!/proc/self/exe");
    assert!(err.contains("CVE-2019-5736"), "{err}");
    // A symlink in the rootfs to it.
    let b = Bundle::new(&["/bin/exe-link"]);
    std::os::unix::fs::symlink("/proc/self/exe", b.rootfs().join("bin/exe-link")).unwrap();
    assert!(refused(&rt, &b, "symlink").contains("CVE-2019-5736"));
}

#[test]
fn cve_2019_5736_the_waiting_init_cannot_be_opened_from_the_container() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("dumpable");
    rt.ok(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    // While the init is still the runtime, another process of the container tries to open its
    // executable (the first step of the exploit).
    let out = rt.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/1/exe > /dev/null 2>&1 && echo opened || echo denied",
    ]);
    assert_eq!(stdout(&out).trim(), "denied", "{}", stderr(&out));
    let exec_self = rt.cmd(&["exec", &id, "/proc/self/exe"]);
    assert!(
        !exec_self.status.success() && stderr(&exec_self).contains("CVE-2019-5736"),
        "{}",
        stderr(&exec_self)
    );
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn cve_2024_21626_no_runtime_fd_or_cwd_reaches_the_container() {
    let rt = Rt::new();
    for fd in 3..12 {
        let mut b = Bundle::new(&["sh", "-c", "pwd; ls .. | head -3"]);
        b.set("/process/cwd", json!(format!("/proc/self/fd/{fd}")));
        let id = unique("cwd");
        let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
        if out.status.success() {
            // Only acceptable if the directory is inside the container.
            let text = stdout(&out);
            assert!(
                text.starts_with('/') && !text.contains("(unreachable)"),
                "fd {fd}: {text}"
            );
        } else {
            let err = stderr(&out);
            assert!(err.contains("process.cwd"), "fd {fd}: {err}");
        }
        rt.assert_clean(&id, &b);
    }
    // The same through exec.
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("cwdexec");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    for fd in 3..12 {
        let out = rt.cmd(&["exec", "--cwd", &format!("/proc/self/fd/{fd}"), &id, "pwd"]);
        assert!(
            !out.status.success() || !stdout(&out).contains("unreachable"),
            "fd {fd}: {}",
            stdout(&out)
        );
    }
    let fds = rt.ok(&["exec", &id, "ls", "/proc/1/fd"]);
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "the init holds only stdio"
    );
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn masked_paths_cannot_be_unmasked_from_inside() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh", "-c", "umount /etc/secret 2>/dev/null; umount -l /etc/secret 2>/dev/null; cat /etc/secret; echo end"]);
    std::fs::write(b.rootfs().join("etc/secret"), "do-not-read").unwrap();
    b.push("/linux/maskedPaths", json!("/etc/secret"));
    let id = unique("mask");
    let (code, out, _) = rt.run(&b, &id);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "end", "{out}");
    rt.assert_clean(&id, &b);
}

/// Swaps two names in a directory atomically (renameat2 RENAME_EXCHANGE).
fn exchange(dir: &std::path::Path, a: &str, b: &str) -> bool {
    let c = |p: std::path::PathBuf| {
        std::ffi::CString::new(p.into_os_string().into_encoded_bytes()).unwrap()
    };
    let (pa, pb) = (c(dir.join(a)), c(dir.join(b)));
    // SAFETY: both are valid C strings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            pa.as_ptr(),
            libc::AT_FDCWD,
            pb.as_ptr(),
            libc::RENAME_EXCHANGE,
        ) == 0
    }
}

/// CVE-2021-30465: while the runtime sets up a bind mount at /mnt/<name>, another process
/// keeps swapping the rootfs's `mnt` between a directory and a symlink to /tmp. A runtime that
/// checks the target and then mounts on the path string can be raced into the host's /tmp
/// (creating and mounting on it there). bulkhead resolves every step inside the rootfs with
/// openat2 and mounts on the fd it got: across many runs the mount always lands in the
/// container (its own /mnt/<name> or /tmp/<name>), never on the host.
#[test]
fn cve_2021_30465_mount_target_symlink_race() {
    let name = unique("race-target");
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        &format!(
            "cat /mnt/{name}/marker 2>/dev/null && echo via-dir || (cat /tmp/{name}/marker && echo via-link)"
        ),
    ]);
    let vol = TempDir::new("race-volume");
    std::fs::write(vol.0.join("marker"), "inside\n").unwrap();
    b.push(
        "/mounts",
        json!({"destination": format!("/mnt/{name}"), "type": "bind", "source": vol.0, "options": ["rbind"]}),
    );
    b.set("/root/readonly", json!(false));
    b.write();
    let root = b.rootfs();
    std::fs::create_dir_all(root.join("mnt")).unwrap();
    std::os::unix::fs::symlink("/tmp", root.join("mnt.alt")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (stop, root) = (stop.clone(), root.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if exchange(&root, "mnt", "mnt.alt") {
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let rt = Rt::new();
    let host = std::path::Path::new("/tmp").join(&name);
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let id = unique("race");
        let (code, out, err) = rt.run(&b, &id);
        assert!(
            !host.exists(),
            "the mount target was created on the host: {}",
            host.display()
        );
        if code == 0 {
            assert!(out.starts_with("inside\nvia-"), "{out}");
            *seen.entry(out).or_insert(0) += 1;
        } else {
            // Lost the race mid-swap (the target vanished): one error, nothing left.
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
        rt.assert_clean(&id, &b);
    }
    eprintln!("outcomes: {seen:?}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 1000, "the race did not run ({swaps} swaps)");
    assert!(!seen.is_empty(), "no run mounted the volume at all");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&name),
        "a mount leaked to the host's namespace"
    );
}

//! The root filesystem: pivot_root and --no-pivot, the config's mounts, a read-only root,
//! masked and read-only paths, devices and /dev links, and mount targets that try to leave it.

mod common;
use common::*;
use serde_json::json;

fn run(b: &Bundle, extra: &[&str]) -> String {
    let rt = Rt::new();
    let id = unique("rootfs");
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--bundle", b.dir().to_str().unwrap(), &id]);
    let out = rt.cmd(&args);
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    rt.assert_clean(&id, b);
    stdout(&out)
}

#[test]
fn readonly_root_and_pivot() {
    let b = Bundle::new(&["sh", "-c", "touch /x 2>/dev/null && echo rw || echo ro; awk '$5 == \"/\"' /proc/self/mountinfo | wc -l; ls /"]);
    let out = run(&b, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "ro");
    assert_eq!(
        lines[1].trim(),
        "1",
        "exactly one root mount: the old root is gone"
    );
    assert!(
        !out.contains("old_root") && !out.contains("work"),
        "host root visible: {out}"
    );
    let mut b = Bundle::new(&["sh", "-c", "touch /x && echo rw"]);
    b.set("/root/readonly", json!(false));
    assert_eq!(run(&b, &["--no-pivot"]).trim(), "rw");
}

#[test]
fn bind_and_tmpfs_mounts_with_options() {
    let host = TempDir::new("hostdir");
    std::fs::write(host.0.join("file"), "from host\n").unwrap();
    let mut b = Bundle::new(&["sh", "-c", "cat /data/file; echo x > /data/new 2>/dev/null && echo data-rw || echo data-ro; cat /etc/single; grep ' /scratch ' /proc/self/mountinfo | grep -o 'size=[0-9]*k'; stat -c %a /scratch"]);
    b.push("/mounts", json!({"destination": "/data", "type": "bind", "source": host.0, "options": ["rbind", "ro", "rprivate"]}));
    b.push("/mounts", json!({"destination": "/etc/single", "type": "bind", "source": host.0.join("file"), "options": ["bind"]}));
    b.push("/mounts", json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1024k", "mode=1770"]}));
    let out = run(&b, &[]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["from host", "data-ro", "from host", "size=1024k", "1770"]
    );
    assert!(!host.0.join("new").exists());
}

#[test]
fn masked_and_readonly_paths() {
    let mut b = Bundle::new(&["sh", "-c", "wc -c < /etc/secret; ls /root | wc -l; echo h > /proc/sys/kernel/hostname 2>/dev/null && echo sys-rw || echo sys-ro"]);
    std::fs::write(b.rootfs().join("root/secret"), "s").unwrap();
    std::fs::write(b.rootfs().join("etc/secret"), "secret").unwrap();
    b.push("/linux/maskedPaths", json!("/root"));
    b.push("/linux/maskedPaths", json!("/etc/secret"));
    let out = run(&b, &[]);
    assert_eq!(
        out.lines().map(str::trim).collect::<Vec<_>>(),
        ["0", "0", "sys-ro"]
    );
}

#[test]
fn default_and_configured_devices_and_dev_links() {
    let mut b = Bundle::new(&["sh", "-c", "for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done; stat -c '%t:%T %a %u %g' /dev/mydev; for l in fd stdin ptmx; do readlink /dev/$l; done; head -c 4 /dev/zero | wc -c"]);
    b.set("/linux/devices", json!([{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 384, "uid": 1000, "gid": 1000}]));
    let out = run(&b, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..6],
        [
            "/dev/null 1:3 666",
            "/dev/zero 1:5 666",
            "/dev/full 1:7 666",
            "/dev/random 1:8 666",
            "/dev/urandom 1:9 666",
            "/dev/tty 5:0 666"
        ]
    );
    assert_eq!(lines[6], "1:3 600 1000 1000");
    assert_eq!(
        &lines[7..10],
        ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"]
    );
    assert_eq!(lines[10].trim(), "4");
}

#[test]
fn mount_targets_cannot_leave_the_rootfs_through_symlinks() {
    // A naive runtime follows rootfs/evil -> /etc to the host's /etc and mounts there (in its
    // mount namespace, where it is then lost with the old root); bulkhead resolves the link
    // inside the rootfs, so the container's own /etc gets the tmpfs.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ls /etc | wc -l; grep -c ' /etc ' /proc/self/mountinfo; ls /tmp/deep | wc -l",
    ]);
    std::os::unix::fs::symlink("/etc", b.rootfs().join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../tmp", b.rootfs().join("tmp/up")).unwrap();
    b.push(
        "/mounts",
        json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}),
    );
    b.push(
        "/mounts",
        json!({"destination": "/tmp/up/deep", "type": "tmpfs", "source": "tmpfs"}),
    );
    b.set("/root/readonly", json!(false));
    let out = run(&b, &[]);
    assert_eq!(
        out.lines().map(str::trim).collect::<Vec<_>>(),
        ["0", "1", "0"],
        "{out}"
    );
    assert!(
        !std::path::Path::new("/tmp/deep").exists(),
        "a directory was created on the host"
    );
}

#[test]
fn rootfs_propagation_is_applied_and_checked() {
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/rootfsPropagation", json!("private"));
    run(&b, &[]);
    b.set("/linux/rootfsPropagation", json!("sideways"));
    let rt = Rt::new();
    let id = unique("prop");
    let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("linux.rootfsPropagation"),
        "{}",
        stderr(&out)
    );
    rt.assert_clean(&id, &b);
}

/// An idmapped bind mount (the mount's uidMappings/gidMappings, runc 1.2's form): file owners
/// of the source appear through the mappings (containerID -> hostID, as in a user namespace
/// map), the source itself is untouched; mappings given half are one clear error.
#[test]
fn idmapped_bind_mounts_show_mapped_owners() {
    let vol = TempDir::new("idmap-volume");
    std::fs::write(vol.0.join("by-root"), "r\n").unwrap();
    std::fs::write(vol.0.join("by-1000"), "u\n").unwrap();
    std::os::unix::fs::chown(vol.0.join("by-1000"), Some(1000), Some(1000)).unwrap();
    let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    let mut b = Bundle::new(&["sh", "-c", "ls -ln /vol | sort -k9 | while read -r _ _ u g _; do echo $u:$g; done; ls -ln /plain/by-1000 | while read -r _ _ u g _; do echo plain $u:$g; done"]);
    b.push(
        "/mounts",
        json!({"destination": "/vol", "type": "bind", "source": vol.0, "options": ["rbind"],
               "uidMappings": map, "gidMappings": map}),
    );
    b.push(
        "/mounts",
        json!({"destination": "/plain", "type": "bind", "source": vol.0, "options": ["rbind"]}),
    );
    let out = run(&b, &[]);
    let lines: Vec<&str> = out.lines().collect();
    // ls -ln /vol lists "total", by-1000, by-root: disk 1000 is outside the map (overflow id),
    // disk 0 appears as 1000; the plain bind shows the disk's own 1000.
    assert!(lines.contains(&"65534:65534"), "{out}");
    assert!(lines.contains(&"1000:1000"), "{out}");
    assert!(lines.contains(&"plain 1000:1000"), "{out}");
    let meta = std::fs::metadata(vol.0.join("by-root")).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        0,
        "the source was chowned"
    );

    let mut half = Bundle::new(&["true"]);
    half.push(
        "/mounts",
        json!({"destination": "/vol", "type": "bind", "source": vol.0, "options": ["rbind"],
               "uidMappings": map}),
    );
    create_fails(
        &half,
        &["mounts[/vol]: uidMappings and gidMappings must both be given"],
    );
}

/// Idmapped binds in a container with its own user namespace (the runtime makes the idmapped
/// copy in the host's namespace; the init, already in the container's, attaches it), and the
/// `idmap` option alone, which takes the container's mappings: the volume's root-owned file
/// is root's inside, where a plain bind shows it as nobody.
#[test]
fn idmapped_binds_in_a_user_namespace_and_the_idmap_option() {
    let vol = TempDir::new("idmap-userns");
    std::fs::write(vol.0.join("by-root"), "r\n").unwrap();
    std::fs::write(vol.0.join("by-100000"), "u\n").unwrap();
    std::os::unix::fs::chown(vol.0.join("by-100000"), Some(100000), Some(100000)).unwrap();
    let script = "for d in vol plain own; do for f in by-root by-100000; do ls -ln /$d/$f | while read -r _ _ u g _; do echo $d $f $u:$g; done; done; done";
    let mut b = Bundle::new(&["sh", "-c", script]);
    b.push("/linux/namespaces", json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    let own = json!([{"containerID": 0, "hostID": 101000, "size": 1}]);
    for (dest, extra) in [
        ("/vol", json!({"options": ["rbind", "idmap"]})),
        ("/plain", json!({"options": ["rbind"]})),
        (
            "/own",
            json!({"options": ["rbind"], "uidMappings": own, "gidMappings": own}),
        ),
    ] {
        let mut m = json!({"destination": dest, "type": "bind", "source": vol.0});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        b.push("/mounts", m);
        // Container root (host 100000) may not create directories in the root-owned rootfs.
        std::fs::create_dir_all(b.rootfs().join(&dest[1..])).unwrap();
    }
    let out = run(&b, &[]);
    for want in [
        "vol by-root 0:0",
        "vol by-100000 65534:65534",
        "plain by-root 65534:65534",
        "plain by-100000 0:0",
        "own by-root 1000:1000",
    ] {
        assert!(out.lines().any(|l| l == want), "{want}: {out}");
    }

    // The option alone, with no mappings anywhere: one error naming the mount.
    let mut bad = Bundle::new(&["true"]);
    bad.push(
        "/mounts",
        json!({"destination": "/vol", "type": "bind", "source": vol.0, "options": ["rbind", "idmap"]}),
    );
    create_fails(&bad, &["mounts[/vol]: option idmap needs"]);
}

/// The optional fields (propagation) of the container's root in its mountinfo, or the error.
fn root_propagation(rt: &Rt, b: &Bundle, runc: bool) -> Result<String, String> {
    let id = unique("prop");
    let args = ["run", "--bundle", b.dir().to_str().unwrap(), &id];
    let out = if runc { rt.runc(&args) } else { rt.cmd(&args) };
    if !out.status.success() {
        return Err(stderr(&out));
    }
    if !runc {
        rt.assert_clean(&id, b);
    }
    Ok(stdout(&out).trim().to_string())
}

#[test]
fn every_rootfs_propagation_value_pivots_as_runcs_does() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) printf \"%s \", $i; print \"root\" }' /proc/self/mountinfo",
    ]);
    let rt = Rt::new();
    for value in [
        "shared", "slave", "private", "rshared", "rslave", "rprivate",
    ] {
        b.set("/linux/rootfsPropagation", json!(value));
        let ours = root_propagation(&rt, &b, false);
        let runcs = root_propagation(&rt, &b, true);
        assert_eq!(ours, runcs, "rootfsPropagation {value}");
        assert!(ours.is_ok(), "{value}: {ours:?}");
    }
    // runc 1.1.5 fails both with EINVAL (it makes "/" unbindable before it binds the rootfs
    // below it); bulkhead binds first and leaves the container's root unbindable.
    for value in ["unbindable", "runbindable"] {
        b.set("/linux/rootfsPropagation", json!(value));
        assert_eq!(
            root_propagation(&rt, &b, false).as_deref(),
            Ok("unbindable root"),
            "{value}"
        );
        let runcs = root_propagation(&rt, &b, true).unwrap_err();
        assert!(runcs.contains("invalid argument"), "{runcs}");
    }
}

/// /dev/pts as a mount destination on a read-only root with no /dev tmpfs: its mount point (and
/// /dev/ptmx's link) are made in the rootfs before the root is made read-only, as runc makes
/// them.
#[test]
fn dev_pts_on_a_read_only_root_without_a_dev_tmpfs() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep -c ' /dev/pts .* - devpts ' /proc/self/mountinfo; readlink /dev/ptmx; touch /x 2>/dev/null && echo rw || echo ro",
    ]);
    let mounts: Vec<serde_json::Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destination"] != "/dev")
        .cloned()
        .collect();
    b.set("/mounts", json!(mounts));
    b.set("/root/readonly", json!(true));
    for extra in [&["--no-pivot"][..], &[][..]] {
        std::fs::remove_dir_all(b.rootfs().join("dev")).unwrap();
        let ours = run(&b, extra);
        assert_eq!(ours.lines().collect::<Vec<_>>(), ["1", "pts/ptmx", "ro"]);
        assert!(b.rootfs().join("dev/pts").is_dir());
    }
    let ours = run(&b, &[]);
    std::fs::remove_dir_all(b.rootfs().join("dev")).unwrap();
    let rt = Rt::new();
    let out = rt.runc(&["run", "--bundle", b.dir().to_str().unwrap(), &unique("pts")]);
    assert_eq!(stdout(&out), ours, "runc: {}", stderr(&out));
}

/// A tmpfs mounted on the host beneath a test directory; unmounted on drop.
struct HostSubmount(std::path::PathBuf);

impl HostSubmount {
    fn new(path: std::path::PathBuf) -> HostSubmount {
        std::fs::create_dir_all(&path).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs on {}", path.display());
        HostSubmount(path)
    }
}

impl Drop for HostSubmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// `rro`, `rnosuid`, `rnoatime`... reach the mounts beneath a bind (mount_setattr with
/// AT_RECURSIVE), where a plain `ro` leaves a submount writable; side by side with runc 1.1.
#[test]
fn recursive_mount_options_reach_submounts() {
    let host = TempDir::new("hostrec");
    let _sub = HostSubmount::new(host.0.join("sub"));
    let script = "for d in /rec /plain; do \
                    touch $d/sub/f 2>&1 | grep -o 'Read-only file system' || echo written; \
                    awk -v d=$d/sub '$5 == d { print $6 }' /proc/self/mountinfo; \
                  done";
    let mut b = Bundle::new(&["sh", "-c", script]);
    b.push(
        "/mounts",
        json!({"destination": "/rec", "type": "bind", "source": host.0,
        "options": ["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"]}),
    );
    b.push(
        "/mounts",
        json!({"destination": "/plain", "type": "bind", "source": host.0, "options": ["rbind", "ro"]}),
    );
    let ours = run(&b, &[]);
    assert_eq!(
        ours.lines().collect::<Vec<_>>(),
        [
            "Read-only file system",
            "ro,nosuid,nodev,noexec,noatime",
            "written",
            "rw,relatime"
        ],
        "{ours}"
    );
    std::fs::remove_file(host.0.join("sub/f")).unwrap();
    let rt = Rt::new();
    let out = rt.runc(&["run", "--bundle", b.dir().to_str().unwrap(), &unique("rec")]);
    assert_eq!(stdout(&out), ours, "runc: {}", stderr(&out));
    // idmap with no mappings anywhere is still refused, naming the mount.
    b.set(
        "/mounts",
        json!([{"destination": "/rec", "type": "bind", "source": host.0,
        "options": ["rbind", "rro", "idmap"]}]),
    );
    create_fails(&b, &["mounts[/rec]", "idmap"]);
}

/// With `--no-pivot` the host's mounts stay in the container's mount namespace: a whole proc
/// among them would let the container's user make user, mount, pid and network namespaces
/// and mount a fresh proc or sysfs there without the masked paths (the kernel allows one where one
/// is already fully visible). As runc 1.1.5 does, the host's proc and sysfs are unmounted before
/// the move: the mount is refused with or without pivot_root, side by side with runc.
#[test]
fn no_pivot_leaves_no_unmasked_proc_to_mount_again() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "wc -c < /proc/keys; \
         unshare -Urmpfn sh -c 'mount -t proc proc /mnt 2>/dev/null && echo mounted || echo refused; \
                              mount -t sysfs sysfs /mnt 2>/dev/null && echo mounted || echo refused'",
    ]);
    std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let rt = Rt::new();
    for extra in [&[][..], &["--no-pivot"][..]] {
        let ours = run(&b, extra);
        assert_eq!(
            ours.lines().map(str::trim).collect::<Vec<_>>(),
            ["0", "refused", "refused"],
            "{extra:?}"
        );
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        let id = unique("nopivot");
        args.extend_from_slice(&["--bundle", b.dir().to_str().unwrap(), &id]);
        let out = rt.runc(&args);
        assert_eq!(stdout(&out), ours, "runc {extra:?}: {}", stderr(&out));
    }
}

/// Device nodes as runc makes them: in a user namespace with no /dev tmpfs the host's nodes are
/// bound into the image's /dev (so a masked file gets /dev/null over it), and into a /dev bound
/// from elsewhere nothing is made. Side by side with runc.
#[test]
fn device_nodes_without_a_dev_tmpfs_and_with_a_bound_dev() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ls -l /dev/null | cut -c1-10; wc -c < /proc/keys; echo x > /dev/null && echo null-ok",
    ]);
    let mounts: Vec<serde_json::Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destination"] != "/dev" && m["destination"] != "/sys/fs/cgroup")
        .cloned()
        .collect();
    b.set("/mounts", json!(mounts));
    b.push("/linux/namespaces", json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    let ours = run(&b, &[]);
    assert_eq!(ours, "crw-rw-rw-\n0\nnull-ok\n");
    std::fs::remove_dir_all(b.rootfs().join("dev")).unwrap();
    std::fs::create_dir(b.rootfs().join("dev")).unwrap();
    let rt = Rt::new();
    let out = rt.runc(&[
        "run",
        "--bundle",
        b.dir().to_str().unwrap(),
        &unique("devs"),
    ]);
    assert_eq!(stdout(&out), ours, "runc: {}", stderr(&out));

    // A /dev bound from a directory of the host's: no node or link is made in it (runc makes
    // none either, and then fails on the missing /dev/null).
    let hostdev = TempDir::new("hostdev");
    std::fs::write(hostdev.0.join("keep"), "").unwrap();
    let mut b = Bundle::new(&["ls", "/dev"]);
    let mounts: Vec<serde_json::Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["destination"].as_str().unwrap().starts_with("/dev"))
        .cloned()
        .chain([json!({"destination": "/dev", "type": "bind", "source": hostdev.0, "options": ["rbind"]})])
        .collect();
    b.set("/mounts", json!(mounts));
    b.set("/linux/maskedPaths", json!([]));
    assert_eq!(run(&b, &[]), "keep\n");
    let left: Vec<_> = std::fs::read_dir(&hostdev.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["keep"]);
}

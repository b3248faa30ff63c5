//! The systemd cgroup driver against a real systemd: this host has none as pid 1, so systemd
//! boots as pid 1 of a privileged podman container made from a Debian rootfs with systemd and
//! dbus (debootstrap, cached under ROOTFS), and bulkhead and runc run inside it, side by side.
//! The container shares the host's cgroup hierarchies (hybrid: v1 controllers, a v2 unified
//! hierarchy without controllers), so the test checks the cgroup files from the host.

mod common;
use common::clients::{podman_image, which, IMAGE};
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cached rootfs: made once by debootstrap, used read-only (podman overlays it).
const ROOTFS: &str = "/var/cache/bulkhead-test/systemd-rootfs";
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
/// This machine lacks CAP_SYS_RESOURCE: podman's default of raising RLIMIT_NOFILE fails.
const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:20000",
    "--ulimit",
    "nproc=4096:4096",
];
/// The unit properties runc and bulkhead must agree on (Description names the runtime).
const COMPARED: [&str; 12] = [
    "Slice",
    "Delegate",
    "DefaultDependencies",
    "MemoryLimit",
    "TasksMax",
    "CPUShares",
    "CPUQuotaPerSecUSec",
    "DevicePolicy",
    "MemoryAccounting",
    "TasksAccounting",
    // From the org.systemd.property.* annotations.
    "TimeoutStopUSec",
    "CollectMode",
];

/// One systemd container (and one rootfs build) at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The rootfs with systemd and dbus, made if it is not cached yet. None (the test is skipped)
/// only when debootstrap cannot reach Debian's archive.
fn systemd_rootfs() -> Option<PathBuf> {
    let root = PathBuf::from(ROOTFS);
    if root.join("lib/systemd/systemd").exists() && root.join("usr/bin/dbus-daemon").exists() {
        return Some(root);
    }
    let debootstrap = which("debootstrap");
    // Built beside the cache and renamed into place: a build cut short is never taken for one
    // (and is removed by the next run).
    let parent = root.parent().unwrap();
    std::fs::create_dir_all(parent).unwrap();
    for e in std::fs::read_dir(parent).unwrap().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with("systemd-rootfs.tmp-")
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let tmp = PathBuf::from(format!("{ROOTFS}.tmp-{}", std::process::id()));
    let t0 = Instant::now();
    let out = Command::new(debootstrap)
        .args(["--variant=minbase", "--include=systemd,dbus", SUITE])
        .arg(&tmp)
        .arg(MIRROR)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        let text = format!("{}{}", stdout(&out), stderr(&out));
        let _ = std::fs::remove_dir_all(&tmp);
        let unreachable = [
            "Failed getting release file",
            "Failed getting release signature",
            "Temporary failure resolving",
            "Could not resolve",
            "Connection refused",
            "Network is unreachable",
        ];
        if unreachable.iter().any(|u| text.contains(u)) {
            eprintln!(
                "SKIPPED: debootstrap cannot reach {MIRROR}: {}",
                text.lines().last().unwrap_or("")
            );
            return None;
        }
        panic!("debootstrap {SUITE} failed:\n{text}");
    }
    std::fs::rename(&tmp, &root).unwrap();
    eprintln!("systemd rootfs made in {:?}", t0.elapsed());
    Some(root)
}

/// A podman container running systemd as pid 1, removed on drop (also when the test fails).
struct SystemdBox {
    name: String,
}

impl SystemdBox {
    /// Boots it with `work` at /bh, and waits until systemd says it is up.
    fn boot(rootfs: &Path, work: &Path) -> SystemdBox {
        let name = unique("bulkhead-systemd");
        let b = SystemdBox { name };
        let out = capture({
            let mut c = Command::new("podman");
            c.args([
                "--cgroup-manager",
                "cgroupfs",
                "run",
                "-d",
                "--name",
                &b.name,
            ])
            .args(["--privileged", "--systemd=always"])
            .args(ULIMITS)
            .arg("-v")
            .arg(format!("{}:/bh", work.display()))
            .arg("--rootfs")
            .arg(format!("{}:O", rootfs.display()))
            .arg("/lib/systemd/systemd")
            .stdin(Stdio::null());
            c
        });
        assert!(out.status.success(), "podman run: {}", stderr(&out));
        b.wait_running();
        b
    }

    fn wait_running(&self) {
        let t0 = Instant::now();
        let mut last = String::new();
        while t0.elapsed() < Duration::from_secs(90) {
            let out = self.sh("systemctl is-system-running");
            last = format!("{}{}", stdout(&out), stderr(&out))
                .trim()
                .to_string();
            if last == "running" || last == "degraded" {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("systemd in {} did not come up: {last}", self.name);
    }

    /// `sh -c CMD` inside.
    fn sh(&self, cmd: &str) -> Output {
        capture({
            let mut c = Command::new("podman");
            c.args(["exec", &self.name, "sh", "-c", cmd])
                .stdin(Stdio::null());
            c
        })
    }

    /// `sh -c CMD` inside, which must succeed; its stdout.
    fn ok(&self, cmd: &str) -> String {
        let out = self.sh(cmd);
        assert!(
            out.status.success(),
            "{cmd}: exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// `systemctl show UNIT`: the properties asked for.
    fn show(&self, unit: &str, props: &[&str]) -> HashMap<String, String> {
        let args: Vec<String> = props.iter().map(|p| format!("-p {p}")).collect();
        self.ok(&format!("systemctl show {unit} {}", args.join(" ")))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for SystemdBox {
    fn drop(&mut self) {
        // runc 1.1.5 leaves the slice directories it made in the hierarchies systemd does not
        // manage (hugetlb, perf_event, net_cls mounted at the host's root): remove them while
        // empty, so no test run leaves cgroups on the host.
        let _ = self.sh("rmdir /sys/fs/cgroup/*/system.slice 2>/dev/null");
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// A work directory for /bh: the runtimes' binaries and the bundles.
fn work_dir() -> TempDir {
    let work = TempDir::new("systemd-work");
    std::fs::copy(BIN, work.0.join("bulkhead")).unwrap();
    std::fs::copy(which("runc"), work.0.join("runc")).unwrap();
    work
}

/// A busybox bundle at `work/name` whose process sleeps, with limits, in `cgroups_path`.
fn bundle(work: &Path, name: &str, cgroups_path: &str, cgroup_mount: bool) -> PathBuf {
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.set("/linux/cgroupsPath", json!(cgroups_path));
    b.set(
        "/linux/resources",
        json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 64 << 20},
            "pids": {"limit": 100},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000}
        }),
    );
    b.set(
        "/annotations",
        json!({
            "org.systemd.property.TimeoutStopUSec": "uint64 123456789",
            "org.systemd.property.CollectMode": "'inactive-or-failed'"
        }),
    );
    if !cgroup_mount {
        // runc 1.1.5 cannot mount cgroupfs in a container whose cgroup mounts have a root
        // other than "/" (it looks for the unit's directory at the wrong place).
        let mounts: Vec<_> = b.config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] != "cgroup")
            .cloned()
            .collect();
        b.set("/mounts", json!(mounts));
    }
    b.write();
    let dest = work.join(name);
    let out = Command::new("cp")
        .arg("-a")
        .arg(b.dir())
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", stderr(&out));
    dest
}

/// The lines of /proc/PID/cgroup (inside the box) as (controllers, path).
fn proc_cgroups(sd: &SystemdBox, pid: &str) -> Vec<(String, String)> {
    sd.ok(&format!("cat /proc/{pid}/cgroup"))
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((ctrl.to_string(), path.to_string()))
        })
        .collect()
}

/// The host's directory of a cgroup path in the v1 hierarchy mounted at /sys/fs/cgroup/NAME
/// (the box shares the host's cgroup namespace, so the paths are the host's).
fn host_dir(controller: &str, path: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(path.trim_start_matches('/'))
}

fn memory_path(cgroups: &[(String, String)]) -> String {
    cgroups
        .iter()
        .find(|(c, _)| c == "memory")
        .map(|(_, p)| p.clone())
        .expect("no memory line in /proc/PID/cgroup")
}

/// One runtime's whole flow: run -d, the unit and its properties, the processes in it, update,
/// delete. Returns the unit's properties (as first started) for the side by side comparison.
fn flow(sd: &SystemdBox, rt: &str, bundle: &str, id: &str, unit: &str) -> HashMap<String, String> {
    let rt = format!("/bh/{rt}");
    sd.ok(&format!(
        "{rt} --systemd-cgroup run -d --bundle /bh/{bundle} {id} </dev/null >/dev/null 2>&1"
    ));
    let mut props: Vec<&str> = COMPARED.to_vec();
    props.extend(["Id", "ActiveState", "ControlGroup", "Description"]);
    let shown = sd.show(unit, &props);
    eprintln!("{rt}: {unit}: {shown:?}");
    assert_eq!(shown["Id"], unit);
    assert_eq!(shown["ActiveState"], "active");
    assert_eq!(shown["Delegate"], "yes");
    assert_eq!(shown["MemoryLimit"], (64u64 << 20).to_string());
    assert_eq!(shown["TasksMax"], "100");
    assert_eq!(shown["TimeoutStopUSec"], "2min 3.456789s");
    assert_eq!(shown["CollectMode"], "inactive-or-failed");
    let state: serde_json::Value =
        serde_json::from_str(&sd.ok(&format!("{rt} state {id}"))).unwrap();
    let pid = state["pid"].to_string();
    let cgroups = proc_cgroups(sd, &pid);
    // systemd's own hierarchies: the init is in the unit's cgroup.
    for key in ["name=systemd", ""] {
        let (_, path) = cgroups
            .iter()
            .find(|(c, _)| c == key)
            .unwrap_or_else(|| panic!("no {key:?} line: {cgroups:?}"));
        assert_eq!(path, &shown["ControlGroup"], "{rt}: {cgroups:?}");
    }
    // And in the unit's directory of every other hierarchy (those systemd does not manage
    // made by the runtime).
    for (ctrl, path) in &cgroups {
        assert!(path.ends_with(&format!("/{unit}")), "{rt}: {ctrl}: {path}");
    }
    let mem = memory_path(&cgroups);
    assert!(mem.ends_with(&format!("/{unit}")), "{rt}: {cgroups:?}");
    let limit_file = host_dir("memory", &mem).join("memory.limit_in_bytes");
    let limit = || {
        std::fs::read_to_string(&limit_file)
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        limit(),
        (64u64 << 20).to_string(),
        "{}",
        limit_file.display()
    );
    // A process exec'd later joins the same cgroups.
    let exec_cgroups = sd.ok(&format!("{rt} exec {id} cat /proc/self/cgroup"));
    assert!(
        exec_cgroups.contains(&format!("name=systemd:{}\n", shown["ControlGroup"])),
        "{rt} exec: {exec_cgroups}"
    );
    sd.ok(&format!("{rt} pause {id}"));
    assert!(
        sd.ok(&format!("{rt} state {id}")).contains("\"paused\""),
        "{rt}"
    );
    sd.ok(&format!("{rt} resume {id}"));
    sd.ok(&format!("{rt} update --memory 128m --pids-limit 50 {id}"));
    let updated = sd.show(unit, &["MemoryLimit", "TasksMax"]);
    assert_eq!(updated["MemoryLimit"], (128u64 << 20).to_string(), "{rt}");
    assert_eq!(updated["TasksMax"], "50", "{rt}");
    assert_eq!(limit(), (128u64 << 20).to_string(), "{rt}");
    sd.ok(&format!("{rt} delete --force {id}"));
    let gone = sd.show(unit, &["LoadState", "ActiveState"]);
    assert_eq!(gone["LoadState"], "not-found", "{rt}: {gone:?}");
    assert!(
        !limit_file.exists(),
        "{rt}: {} is left",
        limit_file.display()
    );
    assert_eq!(sd.ok(&format!("{rt} list -q")).trim(), "");
    shown
}

/// A second container with the same cgroupsPath joins the running unit with runc's warning,
/// and its failed-create clean-up path is never taken; deleting both leaves no unit.
fn shared_unit(sd: &SystemdBox, rt: &str, bundle: &str, id: &str, unit: &str) {
    let rt = format!("/bh/{rt}");
    let run = |id: &str| {
        sd.sh(&format!(
            "{rt} --systemd-cgroup run -d --bundle /bh/{bundle} {id} </dev/null >/dev/null"
        ))
    };
    let (a, b) = (format!("{id}_a"), format!("{id}_b"));
    let first = run(&a);
    assert!(first.status.success(), "{rt}: {}", stderr(&first));
    let second = run(&b);
    assert!(second.status.success(), "{rt}: {}", stderr(&second));
    assert!(
        stderr(&second).contains("container's cgroup is not empty: 1 process(es) found"),
        "{rt}: {}",
        stderr(&second)
    );
    assert_eq!(sd.show(unit, &["ActiveState"])["ActiveState"], "active");
    sd.sh(&format!("{rt} delete --force {a}; {rt} delete --force {b}"));
    assert_eq!(sd.ok(&format!("{rt} list -q")).trim(), "", "{rt}");
    assert_eq!(
        sd.show(unit, &["LoadState"])["LoadState"],
        "not-found",
        "{rt}"
    );
}

#[test]
fn systemd_driver_makes_the_unit_runc_makes() {
    require_root();
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Without systemd on the host, the flag is refused in one line (and nothing is made).
    if !Path::new("/run/systemd/system").exists() {
        let b = Bundle::new(&["true"]);
        let id = unique("nosd");
        let out = capture({
            let mut c = Command::new(BIN);
            c.args(["--systemd-cgroup", "run", "--bundle"])
                .arg(b.dir())
                .arg(&id);
            c
        });
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).starts_with("--systemd-cgroup: systemd is not running"));
    }
    let features: serde_json::Value = serde_json::from_slice(
        &capture({
            let mut c = Command::new(BIN);
            c.arg("features");
            c
        })
        .stdout,
    )
    .unwrap();
    assert_eq!(features["linux"]["cgroup"]["systemd"], true);
    let Some(rootfs) = systemd_rootfs() else {
        return;
    };
    let work = work_dir();
    let id = unique("sd").replace('-', "_");
    // The same cgroupsPath for both, one after the other: the same unit name.
    let path = format!("system.slice:cmp:{id}");
    let unit = format!("cmp-{id}.scope");
    bundle(&work.0, "bulkhead-bundle", &path, true);
    bundle(&work.0, "runc-bundle", &path, false);
    let sd = SystemdBox::boot(&rootfs, &work.0);
    let ours = flow(&sd, "bulkhead", "bulkhead-bundle", &id, &unit);
    // The slice directories bulkhead made where systemd made none are gone too.
    let left = sd.ok("ls -d /sys/fs/cgroup/*/system.slice 2>/dev/null || true");
    assert_eq!(left.trim(), "", "left behind by bulkhead");
    let runc = flow(&sd, "runc", "runc-bundle", &id, &unit);
    for rt in ["bulkhead", "runc"] {
        let shared = format!("{id}_shared");
        bundle(
            &work.0,
            &format!("{rt}-shared"),
            &format!("system.slice:cmp:{shared}"),
            rt == "bulkhead",
        );
        shared_unit(
            &sd,
            rt,
            &format!("{rt}-shared"),
            &shared,
            &format!("cmp-{shared}.scope"),
        );
    }
    for p in COMPARED {
        assert_eq!(ours.get(p), runc.get(p), "{p}: bulkhead vs runc");
    }
    assert_eq!(ours["Description"], format!("bulkhead container {id}"));
    assert_eq!(runc["Description"], format!("libcontainer container {id}"));
}

/// Host cgroup directories whose name holds `token`.
fn host_cgroups_with(token: &str) -> String {
    let out = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name"])
        .arg(format!("*{token}*"))
        .output()
        .unwrap();
    stdout(&out)
}

#[test]
fn malformed_systemd_cgroups_paths_leave_nothing() {
    require_root();
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(rootfs) = systemd_rootfs() else {
        return;
    };
    let work = work_dir();
    // A token in every path, to look for anything left behind by it.
    let tok = unique("bad").replace('-', "_");
    let cases = [
        (
            format!("a:{tok}"),
            "is not of the form \"slice:prefix:name\"",
        ),
        (
            format!("a:b:{tok}:d"),
            "is not of the form \"slice:prefix:name\"",
        ),
        (
            format!("system.slice:bad name:{tok}"),
            "not allowed in systemd unit names",
        ),
        (
            format!("sys$tem.slice:p:{tok}"),
            "not allowed in systemd unit names",
        ),
        (format!("a--b.slice:p:{tok}"), "empty level"),
        (format!("notaslice:p:{tok}"), "does not end in .slice"),
        (
            format!("system.slice:p:{tok}/x"),
            "not allowed in systemd unit names",
        ),
    ];
    for (n, (path, _)) in cases.iter().enumerate() {
        bundle(&work.0, &format!("bad{n}"), path, true);
    }
    let sd = SystemdBox::boot(&rootfs, &work.0);
    for (n, (path, why)) in cases.iter().enumerate() {
        let id = format!("{tok}_{n}");
        let out = sd.sh(&format!(
            "/bh/bulkhead --systemd-cgroup run -d --bundle /bh/bad{n} {id} </dev/null"
        ));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{path}: {err}");
        assert!(err.starts_with("linux.cgroupsPath: "), "{path}: {err}");
        assert!(err.contains(why), "{path}: {err}");
        assert_eq!(sd.ok("/bh/bulkhead list -q").trim(), "", "{path}");
        assert!(
            !sd.sh(&format!("test -e /run/bulkhead/{id}"))
                .status
                .success(),
            "{path}: a state directory is left"
        );
    }
    // An org.systemd.property.* annotation bulkhead cannot read: one line naming it.
    let dir = bundle(
        &work.0,
        "bad-annotation",
        &format!("system.slice:p:{tok}"),
        true,
    );
    let config = dir.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    c["annotations"]["org.systemd.property.TimeoutStopUSec"] = json!("uint8 3");
    std::fs::write(&config, c.to_string()).unwrap();
    let out = sd.sh(&format!(
        "/bh/bulkhead --systemd-cgroup run -d --bundle /bh/bad-annotation {tok}_ann </dev/null"
    ));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("annotations: org.systemd.property.TimeoutStopUSec: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(sd.ok("/bh/bulkhead list -q").trim(), "");
    // Rootless: refused in one line (runc would ask the user's own systemd).
    let out = sd.sh(&format!(
        "setpriv --reuid 65534 --regid 65534 --clear-groups /bh/bulkhead --root /tmp/rootless \
         --systemd-cgroup run -d --bundle /bh/bad0 {tok} </dev/null"
    ));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("--systemd-cgroup: a rootless container cannot use"),
        "{}",
        stderr(&out)
    );
    let units = sd.ok("systemctl list-units --all --plain --no-legend --no-pager");
    assert!(!units.contains(&tok), "a unit is left:\n{units}");
    assert_eq!(host_cgroups_with(&tok), "", "cgroups are left");
}

/// containerd inside the box drives bulkhead's shim with `SystemdCgroup = true` (bulkhead's
/// runtime options; ctr sends runc's options only to the runc runtime): the task's cgroup is
/// the scope systemd made, and it goes with the task. containerd's runc shim is not compared
/// here: runc 1.1.5 fails to mount cgroupfs in this nested layout, and containerd's default
/// spec has that mount.
#[test]
fn the_shim_uses_the_systemd_driver_under_containerd() {
    require_root();
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(rootfs) = systemd_rootfs() else {
        return;
    };
    let work = work_dir();
    let bins = Path::new(BIN).parent().unwrap();
    let shim = bins.join("containerd-shim-bulkhead-v2");
    assert!(
        shim.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        shim.display()
    );
    for (from, to) in [
        (shim, "containerd-shim-bulkhead-v2".to_string()),
        (PathBuf::from(which("containerd")), "containerd".into()),
        (PathBuf::from(which("ctr")), "ctr".into()),
    ] {
        std::fs::copy(&from, work.0.join(to)).unwrap();
    }
    podman_image();
    let saved = capture({
        let mut c = Command::new("podman");
        c.args(["save", "--format", "oci-archive", "-o"])
            .arg(work.0.join("image.tar"))
            .arg(IMAGE);
        c
    });
    assert!(saved.status.success(), "podman save: {}", stderr(&saved));
    // The root on the box's tmpfs: overlayfs snapshots cannot sit on its overlaid rootfs.
    std::fs::write(
        work.0.join("containerd.toml"),
        "version = 2\nroot = \"/run/ctd/root\"\nstate = \"/run/ctd/state\"\n\
         [grpc]\n  address = \"/run/ctd/c.sock\"\n[ttrpc]\n  address = \"/run/ctd/c.sock.ttrpc\"\n\
         [metrics]\n  address = \"\"\n",
    )
    .unwrap();
    std::fs::write(work.0.join("bulkhead.toml"), "SystemdCgroup = true\n").unwrap();
    let sd = SystemdBox::boot(&rootfs, &work.0);
    sd.ok(
        "systemd-run --unit containerd-test --setenv=PATH=/bh:/usr/sbin:/usr/bin:/sbin:/bin \
         /bh/containerd --config /bh/containerd.toml",
    );
    let ctr = "/bh/ctr --address /run/ctd/c.sock --namespace bulkhead-test";
    let t0 = Instant::now();
    while !sd.sh(&format!("{ctr} version")).status.success() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "containerd did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let base = IMAGE.split(':').next().unwrap();
    sd.ok(&format!(
        "{ctr} images import --base-name {base} /bh/image.tar"
    ));
    // kubelet's systemd driver names a pod's slice and containerd the scope so.
    let id = unique("ctd").replace('-', "_");
    let pod_slice = format!("kubepods-besteffort-pod{id}.slice");
    let unit = format!("cri-containerd-{id}.scope");
    sd.ok(&format!(
        "{ctr} run -d --runtime io.containerd.bulkhead.v2 \
         --runtime-config-path /bh/bulkhead.toml --cgroup {pod_slice}:cri-containerd:{id} \
         --memory-limit 67108864 {IMAGE} {id} sleep 1000"
    ));
    let shown = sd.show(
        &unit,
        &[
            "ActiveState",
            "Delegate",
            "MemoryLimit",
            "ControlGroup",
            "Slice",
        ],
    );
    assert_eq!(shown["ActiveState"], "active", "{shown:?}");
    assert_eq!(shown["Slice"], pod_slice);
    assert!(
        shown["ControlGroup"].ends_with(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/{pod_slice}/{unit}"
        )),
        "{shown:?}"
    );
    assert_eq!(shown["Delegate"], "yes");
    assert_eq!(shown["MemoryLimit"], "67108864");
    let pid = sd
        .ok(&format!("{ctr} task ls"))
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id.as_str()))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .expect("the task is not listed");
    let cgroups = proc_cgroups(&sd, &pid);
    assert!(
        cgroups
            .iter()
            .any(|(c, p)| c == "name=systemd" && *p == shown["ControlGroup"]),
        "{cgroups:?}"
    );
    sd.ok(&format!("{ctr} task kill -s KILL {id}"));
    let t0 = Instant::now();
    while !sd.sh(&format!("{ctr} task rm {id}")).status.success() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the task did not stop"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    sd.ok(&format!("{ctr} containers rm {id}"));
    let gone = sd.show(&unit, &["LoadState"]);
    assert_eq!(gone["LoadState"], "not-found", "{gone:?}");
    // The slice directories bulkhead made where systemd made none are gone too.
    let left = sd.ok("ls -d /sys/fs/cgroup/*/kubepods.slice 2>/dev/null || true");
    assert_eq!(left.trim(), "", "left behind by bulkhead");
}

//! The real clients' side of the tests: a busybox image in podman's store and a private
//! containerd with it imported.

use super::*;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const IMAGE: &str = "localhost/bulkhead-test:busybox";

pub fn which(prog: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .unwrap();
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !p.is_empty(),
        "{prog} is not installed (the CI installs it)"
    );
    p
}

pub fn run(cmd: &mut Command) -> Output {
    capture(std::mem::replace(cmd, Command::new("true")))
}

/// Imports a busybox image into podman's store (once per test run).
pub fn podman_image() -> PathBuf {
    let dir = std::env::temp_dir().join("bulkhead-test-image");
    let tar = dir.join("rootfs.tar");
    if !tar.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        make_rootfs(&dir.join("rootfs"));
        let st = Command::new("tar")
            .arg("-C")
            .arg(dir.join("rootfs"))
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
    }
    let out = run(Command::new("podman")
        .args(["import", "-q", "-c", "ENV PATH=/bin"])
        .arg(&tar)
        .arg(IMAGE));
    assert!(out.status.success(), "podman import: {}", stderr(&out));
    dir
}

pub fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// A private containerd, stopped on drop.
pub struct Containerd {
    child: Child,
    pub dir: TempDir,
    /// Its PATH: where it finds `containerd-shim-bulkhead-v2`, first.
    path: String,
}

/// containerd's CRI plugin works in this namespace.
pub const CRI_NAMESPACE: &str = "k8s.io";

impl Containerd {
    /// A private containerd; `extra` is appended to its config. Its PATH starts with the
    /// directory of bulkhead's binaries, so it finds `containerd-shim-bulkhead-v2`.
    pub fn start_with(extra: &str) -> Containerd {
        Containerd::start_with_bins(extra, Path::new(BIN).parent().unwrap())
    }

    /// `start_with`, finding the shim in `bins` (an installed copy) first.
    pub fn start_with_bins(extra: &str, bins: &Path) -> Containerd {
        let dir = TempDir::new("containerd");
        let d = &dir.0;
        let config = format!(
            "version = 2\nroot = \"{r}/root\"\nstate = \"{r}/state\"\n[grpc]\n  address = \"{r}/c.sock\"\n[ttrpc]\n  address = \"{r}/c.sock.ttrpc\"\n[debug]\n  address = \"{r}/debug.sock\"\n[metrics]\n  address = \"\"\n{extra}",
            r = d.display()
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let path = format!(
            "{}:{}",
            bins.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Containerd::spawn(d, &path, &[]);
        let c = Containerd { child, dir, path };
        wait_for(
            || c.ctr(&["version"]).status.success(),
            "containerd to start",
        );
        c
    }

    /// `extra_env` is added to containerd's environment, which the shims it starts inherit.
    fn spawn(d: &Path, path: &str, extra_env: &[(&str, &str)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("log"))
            .unwrap();
        Command::new(which("containerd"))
            .arg("--config")
            .arg(d.join("config.toml"))
            .env("PATH", path)
            .envs(extra_env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// Kills containerd (SIGKILL: no clean-up of its own), leaving its shims running.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts containerd again on the same root, state and config (after `kill`).
    pub fn restart(&mut self) {
        self.restart_with_env(&[]);
    }

    /// `restart` with `env` added to containerd's environment: the shims it starts from then
    /// on inherit it (the reliability suite passes the runtime's pause point this way).
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.child = Containerd::spawn(&self.dir.0, &self.path, env);
        wait_for(
            || self.ctr(&["version"]).status.success(),
            "containerd to start again",
        );
    }

    pub fn start() -> Containerd {
        Containerd::start_with("")
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.0.join("c.sock")
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.ctr_in("bulkhead-test", args)
    }

    pub fn ctr_in(&self, namespace: &str, args: &[&str]) -> Output {
        run(Command::new("ctr")
            .arg("--address")
            .arg(self.sock())
            .args(["--namespace", namespace])
            .args(args)
            .stdin(Stdio::null()))
    }

    /// Imports the test image (podman's, saved as an OCI archive) into `namespace`.
    pub fn import_image(&self, namespace: &str) {
        podman_image();
        self.import(namespace, IMAGE);
    }

    /// Imports `image` from podman's store into `namespace`.
    pub fn import(&self, namespace: &str, image: &str) {
        let archive = self
            .dir
            .0
            .join(format!("{}.tar", image.replace(['/', ':'], "_")));
        if !archive.exists() {
            let saved = run(Command::new("podman")
                .args(["save", "--format", "oci-archive", "-o"])
                .arg(&archive)
                .arg(image));
            assert!(saved.status.success(), "podman save: {}", stderr(&saved));
        }
        let imp = self.ctr_in(
            namespace,
            &[
                "images",
                "import",
                "--base-name",
                image.split(':').next().unwrap_or(image),
                archive.to_str().unwrap(),
            ],
        );
        assert!(imp.status.success(), "ctr import: {}", stderr(&imp));
    }

    /// Live `containerd-shim-bulkhead-v2` processes of this containerd (its socket is in
    /// their arguments).
    pub fn bulkhead_shims(&self) -> Vec<i32> {
        let sock = self.sock().display().to_string();
        live_pids()
            .into_iter()
            .filter(|pid| {
                let cmd = cmdline(*pid);
                cmd.contains("containerd-shim-bulkhead-v2") && cmd.contains(&sock)
            })
            .collect()
    }

    /// containerd's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("log")).unwrap_or_default()
    }
}

impl Containerd {
    /// After a failed test: the shims of this containerd (bulkhead's and runc's) and the
    /// processes they parent, and bulkhead's state for containers of its bundles.
    fn kill_leftovers(&self) {
        let sock = self.sock().display().to_string();
        let pids = live_pids();
        let shims: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|pid| {
                let cmd = cmdline(*pid);
                cmd.contains("containerd-shim") && cmd.contains(&sock)
            })
            .collect();
        for pid in pids {
            let parent = proc_stat(pid).map_or(0, |s| s.ppid);
            if shims.contains(&parent) || shims.contains(&pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        let root = self.dir.0.display().to_string();
        for ns in ["bulkhead-test", CRI_NAMESPACE] {
            let store = Path::new("/run/containerd/bulkhead").join(ns);
            for e in std::fs::read_dir(&store).into_iter().flatten().flatten() {
                let state =
                    std::fs::read_to_string(e.path().join("state.json")).unwrap_or_default();
                if state.contains(&root) {
                    let _ = Command::new(BIN)
                        .arg("--root")
                        .arg(&store)
                        .args(["delete", "-f"])
                        .arg(e.file_name())
                        .output();
                }
            }
        }
    }
}

/// `ctr events` of one namespace, written to a file; stopped on drop.
pub struct EventLog {
    child: Child,
    path: PathBuf,
}

impl Containerd {
    /// Starts `ctr events` and returns once it listens (it subscribes asynchronously: an event
    /// of our own shows when it does). `IMAGE` must be in `namespace`.
    pub fn events(&self, namespace: &str) -> EventLog {
        let path = self.dir.0.join(format!("events-{}", unique("log")));
        let child = Command::new("ctr")
            .arg("--address")
            .arg(self.sock())
            .args(["-n", namespace, "events"])
            .stdout(std::fs::File::create(&path).unwrap())
            .spawn()
            .unwrap();
        let log = EventLog { child, path };
        let probe = unique("events-probe");
        let create = self.ctr_in(namespace, &["container", "create", IMAGE, &probe]);
        assert!(create.status.success(), "{}", stderr(&create));
        log.wait_for("/containers/create", &probe);
        self.ctr_in(namespace, &["container", "delete", &probe]);
        log
    }
}

impl EventLog {
    /// Waits (bounded) for an event of `topic` that names `id`.
    pub fn wait_for(&self, topic: &str, id: &str) {
        wait_for(
            || {
                std::fs::read_to_string(&self.path)
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.contains(topic) && l.contains(id))
            },
            &format!("a {topic} event for {id}"),
        );
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            self.kill_leftovers();
        }
        // containerd leaves its overlay snapshots mounted under its root.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let root = self.dir.0.to_string_lossy().into_owned();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

/// The body curl gets from `url`, asked again (100 times, 200 ms apart) while the server is
/// not up yet; empty when it never answered.
pub fn curl_until(url: &str) -> String {
    for _ in 0..100 {
        let o = Command::new("curl")
            .args(["-sS", "--max-time", "3", url])
            .output()
            .expect("curl");
        if o.status.success() {
            return String::from_utf8_lossy(&o.stdout).into_owned();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    String::new()
}

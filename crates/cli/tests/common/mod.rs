//! Helpers for the integration tests: real bundles on a busybox-static rootfs, a private
//! `--root` per test, and checks that nothing is left behind.
#![allow(dead_code)]

pub mod clients;
pub mod programs;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_bulkhead");
const BUSYBOX: &str = "/bin/busybox";
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test run.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn require_root() {
    assert_eq!(
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap()
            .split_whitespace()
            .nth(1),
        Some("0"),
        "the integration tests run as root (they create namespaces, mounts and cgroups)"
    );
    assert!(
        Path::new(BUSYBOX).exists(),
        "install busybox-static: the tests' rootfs is made from {BUSYBOX}"
    );
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds a busybox-static rootfs in `root`.
pub fn make_rootfs(root: &Path) {
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"busybox test rootfs\"\n",
    )
    .unwrap();
}

/// An OCI bundle: busybox rootfs plus the config that `bulkhead spec` writes, made
/// non-interactive, with a marker in the environment to find stray processes by.
pub struct Bundle {
    pub tmp: TempDir,
    pub config: Value,
    pub marker: String,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let tmp = TempDir::new("bundle");
        make_rootfs(&tmp.0.join("rootfs"));
        let out = Command::new(BIN)
            .args(["spec", "--bundle"])
            .arg(&tmp.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.0.join("config.json")).unwrap())
                .unwrap();
        let marker = unique("BULKHEAD_TEST_MARKER");
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("{marker}=1")));
        let b = Bundle {
            tmp,
            config,
            marker,
        };
        b.write();
        b
    }

    pub fn dir(&self) -> &Path {
        &self.tmp.0
    }

    pub fn rootfs(&self) -> PathBuf {
        self.tmp.0.join("rootfs")
    }

    /// Sets a value at a JSON pointer ("/process/cwd"), creating objects on the way.
    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        let mut cur = &mut self.config;
        let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur[*p] = value;
                break;
            }
            if cur.get(*p).is_none() {
                cur[*p] = json!({});
            }
            cur = cur.get_mut(*p).unwrap();
        }
        self.write();
        self
    }

    /// Appends to an array at a JSON pointer.
    pub fn push(&mut self, pointer: &str, value: Value) -> &mut Self {
        self.config
            .pointer_mut(pointer)
            .and_then(Value::as_array_mut)
            .expect(pointer)
            .push(value);
        self.write();
        self
    }

    pub fn write(&self) {
        std::fs::write(
            self.tmp.0.join("config.json"),
            serde_json::to_string_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}

/// A runtime with its own `--root`.
pub struct Rt {
    pub root: TempDir,
}

impl Rt {
    pub fn new() -> Rt {
        require_root();
        Rt {
            root: TempDir::new("root"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root.0).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs bulkhead with stdout and stderr in files, not pipes: a container started by
    /// `create` or `run -d` inherits them and keeps a pipe open long after bulkhead has exited.
    pub fn cmd(&self, args: &[&str]) -> Output {
        capture(self.command(args))
    }

    /// Runs Debian's runc, side by side, with its own root under this runtime's; output in
    /// files as `cmd` keeps it (a container's init inherits them).
    pub fn runc(&self, args: &[&str]) -> Output {
        let mut c = Command::new("runc");
        c.arg("--root")
            .arg(self.root.0.join("runc"))
            .args(args)
            .stdin(Stdio::null());
        capture(c)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "bulkhead {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `exec --detach` of `args` in `id`; returns the pid from the --pid-file (which, as runc
    /// writes it, holds the number alone).
    pub fn exec_detached(&self, b: &Bundle, id: &str, args: &[&str]) -> i64 {
        let pid_file = b.dir().join("exec.pid");
        let mut all = vec![
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ];
        all.extend_from_slice(args);
        self.ok(&all);
        std::fs::read_to_string(&pid_file).unwrap().parse().unwrap()
    }

    /// `run` in the foreground: (exit code, stdout, stderr). A run that hangs is killed by
    /// `capture`'s watchdog, and its container with it (the watchdog stops only bulkhead).
    pub fn run(&self, b: &Bundle, id: &str) -> (i32, String, String) {
        use std::os::unix::process::ExitStatusExt;
        let out = self.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), id]);
        if out.status.signal() == Some(libc::SIGKILL) {
            self.cmd(&["delete", "--force", id]);
        }
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The status field of `state`.
    pub fn status(&self, id: &str) -> String {
        let v: Value = serde_json::from_str(&self.ok(&["state", id])).unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// Waits (bounded) for a container to reach `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..500 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{id} never reached {status}, it is {}", self.status(id));
    }

    /// Asserts that container `id` left nothing behind: no state, no cgroup, no process.
    pub fn assert_clean(&self, id: &str, b: &Bundle) {
        assert!(
            !self.root.0.join(id).exists(),
            "state directory of {id} left behind"
        );
        let cg = find_cgroups(id);
        assert!(cg.is_empty(), "cgroups of {id} left behind: {cg:?}");
        // The kernel tears down killed processes asynchronously (a pid namespace's members after
        // its init): give a process that is on its way out a moment, bounded.
        let mut procs = processes_with(&b.marker);
        for _ in 0..100 {
            if procs.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            procs = processes_with(&b.marker);
        }
        let describe: Vec<String> = procs
            .iter()
            .map(|p| {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                format!(
                    "{p}: {:?} {}",
                    String::from_utf8_lossy(&cmd),
                    stat.split(')')
                        .nth(1)
                        .unwrap_or("")
                        .split_whitespace()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
            .collect();
        assert!(
            procs.is_empty(),
            "processes of {id} left behind: {describe:?}"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(b.dir().to_str().unwrap()),
            "mounts of {id} left in the host namespace"
        );
    }
}

/// Runs `c` with stdout/stderr going to temporary files; returns them as an Output.
/// Runs `create` on `b` and checks the failure: exit 1, one line on stderr naming each of
/// `must_mention`, nothing left behind. Returns stderr.
pub fn create_fails(b: &Bundle, must_mention: &[&str]) -> String {
    create_fails_in(&Rt::new(), b, must_mention)
}

/// `create_fails` with the runtime `rt` (its root holds other containers).
pub fn create_fails_in(rt: &Rt, b: &Bundle, must_mention: &[&str]) -> String {
    let id = unique("bad");
    let out = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for m in must_mention {
        assert!(err.contains(m), "{m:?} missing in: {err}");
    }
    rt.assert_clean(&id, b);
    err
}

pub fn capture(mut c: Command) -> Output {
    let dir = TempDir::new("out");
    let (o, e) = (dir.0.join("stdout"), dir.0.join("stderr"));
    c.stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    let mut child = c.spawn().unwrap();
    // Bounded: a command that hangs (a regression such as `create` blocking on a FIFO) is
    // killed after two minutes and fails its test instead of hanging the whole run.
    let pid = child.id() as i32;
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait
            .recv_timeout(std::time::Duration::from_secs(120))
            .is_err()
        {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let status = child.wait().unwrap();
    let _ = done.send(());
    let _ = watchdog.join();
    Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    }
}

/// Cgroup directories named `id` anywhere under /sys/fs/cgroup (depth-limited).
pub fn find_cgroups(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: u32, out: &mut Vec<PathBuf>) {
        if depth > 5 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if e.file_name() == id {
                    out.push(e.path());
                }
                walk(&e.path(), id, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 0, &mut out);
    out
}

/// Live (non-zombie) processes whose environment holds `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    live_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| String::from_utf8_lossy(&env).contains(marker))
        })
        .collect()
}

/// One process as /proc shows it: its state letter and parent, from /proc/<pid>/stat (the
/// fields after the command name, which may itself hold spaces and parentheses).
pub struct ProcStat {
    pub state: char,
    pub ppid: i32,
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat.rsplit(')').next()?.split_whitespace();
    Some(ProcStat {
        state: f.next()?.chars().next()?,
        ppid: f.next()?.parse().ok()?,
    })
}

/// Whether `pid` is gone or a zombie: its program has ended either way.
pub fn ended(pid: i32) -> bool {
    proc_stat(pid).is_none_or(|s| s.state == 'Z')
}

/// Every process that has not ended.
pub fn live_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| !ended(*pid))
        .collect()
}

/// A process's command line, arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmd).replace('\0', " ")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A program in a real terminal: a tmux session, killed on drop.
pub struct Tmux {
    pub session: String,
}

impl Tmux {
    pub fn start(cmd: &str, cols: u16, rows: u16) -> Tmux {
        let session = unique("bh-tmux");
        let (cols, rows) = (cols.to_string(), rows.to_string());
        // A tmux server still exiting after the previous test's last session refuses new
        // clients for a moment: try again, a bounded number of times.
        let mut last = String::new();
        for _ in 0..20 {
            let out = Command::new("tmux")
                .args([
                    "new-session",
                    "-d",
                    "-s",
                    &session,
                    "-x",
                    &cols,
                    "-y",
                    &rows,
                    cmd,
                ])
                .output()
                .expect("tmux (the CI installs it)");
            if out.status.success() {
                return Tmux { session };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("tmux new-session: {last}");
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (bounded) until the screen shows `what`.
    pub fn wait_for(&self, what: &str) {
        for _ in 0..300 {
            if self.screen().contains(what) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("never saw {what:?} on the screen:\n{}", self.screen());
    }

    /// Presses a key by tmux's name for it ("C-c", "C-z").
    pub fn send_key(&self, key: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.session, key])
            .status()
            .unwrap();
    }

    /// Types a line.
    pub fn send_line(&self, line: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.session, line, "Enter"])
            .status()
            .unwrap();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// Binds the host's /usr, /bin, /lib and /lib64 read-only into the bundle's rootfs (Debian's
/// programs: python3, bash, nginx, procps).
pub fn host_usr(b: &mut Bundle) {
    for d in ["/usr", "/bin", "/lib", "/lib64"] {
        std::fs::create_dir_all(b.rootfs().join(&d[1..])).unwrap();
        b.push(
            "/mounts",
            json!({"destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]}),
        );
    }
}

/// podman's default capabilities (bounding, effective and permitted).
pub fn podman_caps() -> Value {
    json!({
        "bounding": PODMAN_CAPS, "effective": PODMAN_CAPS, "permitted": PODMAN_CAPS,
        "inheritable": [], "ambient": []
    })
}

const PODMAN_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Removes the cgroup `/name` and every cgroup below it, deepest first, in every hierarchy
/// (a test's own parent cgroups, and what runc leaves of its parents). Bounded: a cgroup whose
/// last process is on its way out is busy for a moment.
pub fn remove_cgroup_tree(name: &str) {
    fn rmdir_tree(d: &Path) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    rmdir_tree(&e.path());
                }
            }
        }
        for _ in 0..200 {
            if std::fs::remove_dir(d).is_ok() || !d.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let top = h.path().join(name);
        if top.is_dir() {
            rmdir_tree(&top);
        }
    }
}

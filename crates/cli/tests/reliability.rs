//! The reliability suite: fault injection and load.
//!
//! Fault injection: a debug build of the runtime run with `BULKHEAD_TEST_PAUSE=<point>` stops at
//! that step, writes its pid to `BULKHEAD_TEST_PAUSE_FILE` and waits (crates/runtime/src/faults.rs).
//! Each trial stops one command at one point, SIGKILLs it there, and checks that `delete --force`
//! (in a process group of its own, bounded) and `list` recover: no state directory, cgroup, mount
//! or process of the container is left. Blocking hooks give further steps. The shim is killed at
//! the same points under containerd (the pause point reaches it through containerd's
//! environment), containerd is restarted and ctr deletes what is left.
//!
//! Load: 100 containers created and started 25 at a time, then force-deleted 25 at a time.

mod common;
use common::clients::*;
use common::*;
use serde_json::json;
use std::collections::HashSet;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a command may take to reach its pause point (a debug build, under load).
const PAUSE_WAIT: Duration = Duration::from_secs(20);
/// A `delete --force` still running after this is killed and counted as hung.
const DELETE_TIMEOUT: Duration = Duration::from_secs(30);
/// ... and one slower than this is not prompt.
const PROMPT: Duration = Duration::from_secs(10);
/// Any other command of the suite.
const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// Processes of a killed container may take a moment to be torn down by the kernel.
const GRACE: Duration = Duration::from_secs(3);

/// Polls `cond` every 20 ms until it holds (true) or `limit` has passed (false).
fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL to one process (`-PGID` for a process group).
fn kill9(target: &str) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", target])
        .stderr(Stdio::null())
        .status();
}

/// A command in a process group of its own, its output going to files; killed (with its group)
/// if still running when dropped.
struct Spawned {
    child: Child,
    out: TempDir,
    started: Instant,
    reaped: bool,
}

impl Spawned {
    fn new(mut c: Command) -> Spawned {
        let out = TempDir::new("rel-out");
        c.stdin(Stdio::null())
            .stdout(std::fs::File::create(out.0.join("stdout")).unwrap())
            .stderr(std::fs::File::create(out.0.join("stderr")).unwrap())
            .process_group(0);
        let child = c.spawn().expect("spawn");
        Spawned {
            child,
            out,
            started: Instant::now(),
            reaped: false,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn output(&self, status: std::process::ExitStatus) -> Output {
        Output {
            status,
            stdout: std::fs::read(self.out.0.join("stdout")).unwrap_or_default(),
            stderr: std::fs::read(self.out.0.join("stderr")).unwrap_or_default(),
        }
    }

    /// The output, if the command has ended.
    fn try_finish(&mut self) -> Option<Output> {
        let status = self.child.try_wait().ok().flatten()?;
        self.reaped = true;
        Some(self.output(status))
    }

    /// Waits (bounded) for the command; on timeout kills its process group and says so.
    fn finish(&mut self, limit: Duration) -> Result<(Output, Duration), String> {
        let mut out = None;
        wait_until(limit, || {
            out = self.try_finish();
            out.is_some()
        });
        match out {
            Some(o) => Ok((o, self.started.elapsed())),
            None => {
                kill9(&format!("-{}", self.pid()));
                let _ = self.child.kill();
                let status = self.child.wait().unwrap();
                self.reaped = true;
                let o = self.output(status);
                Err(format!(
                    "still running after {limit:?} (killed); stderr: {}",
                    stderr(&o).trim()
                ))
            }
        }
    }

    /// SIGKILL to the process alone (not its group, not its children), then reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if !self.reaped {
            kill9(&format!("-{}", self.pid()));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `c` in a process group of its own, bounded.
fn run_bounded(c: Command, limit: Duration) -> Result<(Output, Duration), String> {
    Spawned::new(c).finish(limit)
}

/// How a command ended, for messages: exit code or signal.
fn how(o: &Output) -> String {
    match (o.status.code(), o.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{:?}", o.status),
    }
}

/// A process, for messages: pid, parent, state and command line.
fn describe(pid: i32) -> String {
    let st = proc_stat(pid);
    format!(
        "{pid} (ppid {}, {}) {:?}",
        st.as_ref().map_or(0, |s| s.ppid),
        st.as_ref().map_or('?', |s| s.state),
        cmdline(pid).trim_end()
    )
}

/// Live processes (other than this one) that have one of `tokens` as a whole argument, or
/// `env_entry` as a whole environment entry.
fn processes_matching(tokens: &[&str], env_entry: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    live_pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            args.split(|&c| c == 0)
                .any(|a| tokens.iter().any(|t| a == t.as_bytes()))
                || env.split(|&c| c == 0).any(|e| e == env_entry.as_bytes())
        })
        .collect()
}

/// The same, after giving processes on their way out a moment (bounded).
fn lingering(tokens: &[&str], env_entry: &str) -> Vec<i32> {
    let mut procs = Vec::new();
    wait_until(GRACE, || {
        procs = processes_matching(tokens, env_entry);
        procs.is_empty()
    });
    procs
}

/// Cgroup directories named one of `names`, anywhere under /sys/fs/cgroup (one walk).
fn cgroups_named(names: &HashSet<String>) -> Vec<PathBuf> {
    fn walk(dir: &Path, names: &HashSet<String>, depth: u32, out: &mut Vec<PathBuf>) {
        if depth > 6 {
            return;
        }
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if names.contains(e.file_name().to_string_lossy().as_ref()) {
                    out.push(e.path());
                }
                walk(&e.path(), names, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), names, 0, &mut out);
    out
}

/// Mount points in this (the host's) mount namespace under `dir` or with `id` as a path
/// component.
fn mounts_of(dirs: &[&Path], id: &str) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| {
            dirs.iter().any(|d| Path::new(m).starts_with(d))
                || Path::new(m).components().any(|c| c.as_os_str() == id)
        })
        .map(str::to_string)
        .collect()
}

/// Removes leftover cgroup directories, deepest first (after their processes are gone).
fn remove_cgroups(mut dirs: Vec<PathBuf>) {
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(&d);
    }
}

/// One fault-injection trial on the command line: a private `--root`, a `sleep` bundle with a
/// marker in its environment, one container id. Whatever is left is removed on drop.
struct Trial {
    name: String,
    rt: Rt,
    b: Bundle,
    id: String,
    /// Hook scripts and the pause file: outside the bundle and the root, so that processes
    /// found by those paths are the runtime's, not the hooks'.
    tmp: TempDir,
    /// In the environment of the trial's hooks (and so of whatever they start).
    hook_marker: String,
}

impl Trial {
    fn new(name: &str) -> Trial {
        assert_built_here(Path::new(BIN));
        let rt = Rt::new();
        let b = Bundle::new(&["sleep", "1000"]);
        let slug: String = name
            .chars()
            .filter(|c| !"()".contains(*c))
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let id = unique(&format!("rel-{slug}"));
        Trial {
            name: name.to_string(),
            rt,
            b,
            id,
            tmp: TempDir::new("rel-trial"),
            // A shell passes on only variables whose names are identifiers.
            hook_marker: unique("BULKHEAD_TEST_HOOK").replace('-', "_"),
        }
    }

    fn bundle(&self) -> &str {
        self.b.dir().to_str().unwrap()
    }

    fn root(&self) -> &str {
        self.rt.root.0.to_str().unwrap()
    }

    /// Runs a bulkhead command that must succeed (bounded).
    fn must(&self, args: &[&str]) -> String {
        match run_bounded(self.rt.command(args), CMD_TIMEOUT) {
            Ok((o, _)) if o.status.success() => stdout(&o),
            Ok((o, _)) => panic!(
                "{}: setting up, `bulkhead {args:?}` failed ({}): {}",
                self.name,
                how(&o),
                stderr(&o).trim()
            ),
            Err(e) => panic!("{}: setting up, `bulkhead {args:?}` {e}", self.name),
        }
    }

    fn create(&self) {
        self.must(&["create", "--bundle", self.bundle(), &self.id]);
    }

    fn running(&self) {
        self.create();
        self.must(&["start", &self.id]);
    }

    fn stopped(&self) {
        self.running();
        self.must(&["kill", &self.id, "KILL"]);
        let ok = wait_until(CMD_TIMEOUT, || {
            self.must(&["state", &self.id]).contains("\"stopped\"")
        });
        assert!(ok, "{}: setting up, the container never stopped", self.name);
    }

    /// A hook of `kind` running `sh -c body`, with the hook marker in its environment.
    fn set_hook(&mut self, kind: &str, body: &str) {
        let hook = json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", body],
            "env": ["PATH=/usr/bin:/bin", format!("{}=1", self.hook_marker)],
        });
        self.b.set(&format!("/hooks/{kind}"), json!([hook]));
    }

    /// Starts `bulkhead args` in a process group of its own, with no pause point.
    fn spawn(&self, args: &[&str]) -> Spawned {
        Spawned::new(self.rt.command(args))
    }

    /// Runs `bulkhead args` with the pause at `point`, waits (bounded) until it stops there and
    /// SIGKILLs it.
    fn kill_at(&self, point: &str, args: &[&str]) {
        let pause = self.tmp.0.join("paused");
        let mut c = self.rt.command(args);
        c.env("BULKHEAD_TEST_PAUSE", point)
            .env("BULKHEAD_TEST_PAUSE_FILE", &pause);
        let mut s = Spawned::new(c);
        let mut ended = None;
        let mut paused = None;
        wait_until(PAUSE_WAIT, || {
            paused = std::fs::read_to_string(&pause)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok());
            if paused.is_none() {
                ended = s.try_finish();
            }
            paused.is_some() || ended.is_some()
        });
        if let Some(o) = ended {
            panic!(
                "{}: `bulkhead {args:?}` ended ({}) without reaching {point}: {}",
                self.name,
                how(&o),
                stderr(&o).trim()
            );
        }
        let Some(pid) = paused else {
            panic!(
                "{}: `bulkhead {args:?}` did not reach {point} within {PAUSE_WAIT:?}",
                self.name
            );
        };
        assert_eq!(
            pid,
            s.pid(),
            "{}: the process paused at {point} is not the runtime started",
            self.name
        );
        s.kill();
    }

    /// What recovery must do after a killed command: `delete --force` (own process group,
    /// bounded, prompt, exit 0), then `list` without the id, then nothing left. Returns the
    /// problems found.
    fn recover(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match run_bounded(
            self.rt.command(&["delete", "--force", &self.id]),
            DELETE_TIMEOUT,
        ) {
            Err(e) => problems.push(format!("delete --force hung: {e}")),
            Ok((o, took)) => {
                if !o.status.success() {
                    problems.push(format!(
                        "delete --force failed ({}{}): {}",
                        how(&o),
                        if o.status.signal().is_some() {
                            ", in its own process group: did it kill its group?"
                        } else {
                            ""
                        },
                        stderr(&o).trim()
                    ));
                }
                if took > PROMPT {
                    problems.push(format!("delete --force took {took:?}"));
                }
            }
        }
        problems.extend(self.list_problems());
        problems.extend(self.leaks());
        problems
    }

    /// `list` must succeed and not show the id.
    fn list_problems(&self) -> Vec<String> {
        match run_bounded(self.rt.command(&["list"]), CMD_TIMEOUT) {
            Err(e) => vec![format!("list hung: {e}")],
            Ok((o, _)) if !o.status.success() => {
                vec![format!("list failed ({}): {}", how(&o), stderr(&o).trim())]
            }
            Ok((o, _)) => stdout(&o)
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(self.id.as_str()))
                .map(|l| format!("list still shows it: {l:?}"))
                .collect(),
        }
    }

    /// Everything of the container still there: state, cgroups, mounts, processes (found by the
    /// root, bundle or id in their arguments, which covers the init before it executes the
    /// program, or by the bundle's marker in their environment).
    fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        let dir = self.rt.root.0.join(&self.id);
        if dir.exists() {
            let files: Vec<String> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            leaks.push(format!(
                "state directory {} left, holding {files:?}",
                dir.display()
            ));
        }
        let cg = find_cgroups(&self.id);
        if !cg.is_empty() {
            leaks.push(format!("cgroups left: {cg:?}"));
        }
        let m = mounts_of(&[self.b.dir(), &self.rt.root.0], &self.id);
        if !m.is_empty() {
            leaks.push(format!("mounts left: {m:?}"));
        }
        let procs = lingering(&self.tokens(), &self.marker_entry());
        if !procs.is_empty() {
            let d: Vec<String> = procs.into_iter().map(describe).collect();
            leaks.push(format!("processes left: {d:?}"));
        }
        leaks
    }

    fn tokens(&self) -> [&str; 3] {
        [self.root(), self.bundle(), &self.id]
    }

    fn marker_entry(&self) -> String {
        format!("{}=1", self.b.marker)
    }

    /// Hook processes still running, described (and killed: a failing trial cleans up too).
    fn end_hooks(&self) -> Vec<String> {
        let entry = format!("{}=1", self.hook_marker);
        // A hook killed by its parent's death goes a moment later: wait for that, bounded.
        wait_until(Duration::from_secs(2), || {
            processes_matching(&[], &entry).is_empty()
        });
        let procs = processes_matching(&[], &entry);
        let d = procs.iter().map(|&p| describe(p)).collect();
        for p in procs {
            kill9(&p.to_string());
        }
        d
    }

    /// Fails the trial if anything went wrong.
    fn check(&self, what: &str, problems: Vec<String>) {
        assert!(
            problems.is_empty(),
            "trial {} ({what}), container {}:\n  {}",
            self.name,
            self.id,
            problems.join("\n  ")
        );
    }
}

impl Drop for Trial {
    /// Clean-up, also after a failure: `delete --force` of everything under the root, then any
    /// process, hook and cgroup of the trial that is still there.
    fn drop(&mut self) {
        let ids: Vec<String> = std::fs::read_dir(&self.rt.root.0)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for id in ids {
            let _ = run_bounded(
                self.rt.command(&["delete", "--force", &id]),
                Duration::from_secs(15),
            );
        }
        for p in processes_matching(&self.tokens(), &self.marker_entry()) {
            kill9(&p.to_string());
        }
        self.end_hooks();
        wait_until(GRACE, || {
            processes_matching(&self.tokens(), &self.marker_entry()).is_empty()
        });
        remove_cgroups(find_cgroups(&self.id));
    }
}

/// Whether `bin` has the runtime's pause points. A release build compiles them out (the
/// binaries and this test are built with the same profile, so such a run skips the trials).
fn pause_points_built(bin: &Path) -> bool {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the runtime's pause points exist only in debug builds");
        return false;
    }
    assert_built_here(bin);
    true
}

/// In a debug test run, `bin` must be this tree's debug build: one without the pause points
/// was built from an older tree or with other flags into the shared target directory (another
/// worktree with the same CARGO_TARGET_DIR replaces target/<triple>/debug/bulkhead).
fn assert_built_here(bin: &Path) {
    if !cfg!(debug_assertions) {
        return;
    }
    let found = Command::new("grep")
        .args(["-qaF", "BULKHEAD_TEST_PAUSE"])
        .arg(bin)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{} has no pause points: it is not this tree's debug build (an older tree's, or one \
         built without debug assertions, into the same target directory); rebuild it: cargo \
         build -p bulkhead -p bulkhead-shim",
        bin.display()
    );
}

/// A container brought to the state `point` needs, the command stopped and SIGKILLed at
/// `point`, then recovery. `stopped`: a delete point's container has stopped and the killed
/// command is a plain `delete` (otherwise it runs and the command is `delete --force`).
fn pause_trial(point: &str, stopped: bool) {
    if !pause_points_built(Path::new(BIN)) {
        return;
    }
    let name = if stopped {
        format!("{point} (stopped container)")
    } else {
        point.to_string()
    };
    let t = Trial::new(&name);
    let (bundle, id) = (t.bundle().to_string(), t.id.clone());
    let args: Vec<&str> = match point.split(':').next().unwrap() {
        "create" => vec!["create", "--bundle", &bundle, &id],
        "start" => {
            t.create();
            vec!["start", &id]
        }
        "exec" => {
            t.running();
            vec!["exec", &id, "sleep", "1001"]
        }
        "delete" if stopped => {
            t.stopped();
            vec!["delete", &id]
        }
        "delete" => {
            t.running();
            vec!["delete", "--force", &id]
        }
        _ => panic!("no set-up for {point}"),
    };
    t.kill_at(point, &args);
    let problems = t.recover();
    t.check(
        &format!("SIGKILL at {point}, then delete --force"),
        problems,
    );
}

macro_rules! pause_trials {
    ($($name:ident: $point:literal, $stopped:literal;)*) => {
        $(
            #[test]
            fn $name() {
                pause_trial($point, $stopped);
            }
        )*
    };
}

pause_trials! {
    killed_at_create_locked: "create:locked", false;
    killed_at_create_saved: "create:saved", false;
    killed_at_create_cgroups: "create:cgroups", false;
    killed_at_create_cloned: "create:cloned", false;
    killed_at_create_launched: "create:launched", false;
    killed_at_create_done: "create:done", false;
    killed_at_start_signalled: "start:signalled", false;
    killed_at_start_saved: "start:saved", false;
    killed_at_exec_spawned: "exec:spawned", false;
    killed_at_delete_locked: "delete:locked", false;
    killed_at_delete_killed: "delete:killed", false;
    killed_at_delete_poststop: "delete:poststop", false;
    killed_at_delete_cgroups_removed: "delete:cgroups-removed", false;
    killed_at_delete_locked_of_a_stopped_container: "delete:locked", true;
    killed_at_delete_killed_of_a_stopped_container: "delete:killed", true;
    killed_at_delete_poststop_of_a_stopped_container: "delete:poststop", true;
    killed_at_delete_cgroups_removed_of_a_stopped_container: "delete:cgroups-removed", true;
}

/// `create` killed while its createRuntime hook runs (the init exists, the hook blocks).
#[test]
fn killed_while_a_create_runtime_hook_runs() {
    let mut t = Trial::new("createRuntime hook");
    let ran = t.tmp.0.join("hook-ran");
    t.set_hook(
        "createRuntime",
        &format!("touch {}; exec sleep 30", ran.display()),
    );
    let mut create = t.spawn(&["create", "--bundle", t.bundle(), &t.id]);
    assert!(
        wait_until(PAUSE_WAIT, || ran.exists()),
        "{}: the createRuntime hook never ran",
        t.name
    );
    create.kill();
    let mut problems = t.recover();
    // Hooks die with the runtime that ran them (PR_SET_PDEATHSIG).
    let hooks = t.end_hooks();
    if !hooks.is_empty() {
        problems.push(format!(
            "the hook outlived the killed create and the delete: {hooks:?}"
        ));
    }
    t.check(
        "SIGKILL while createRuntime ran, then delete --force",
        problems,
    );
}

/// `delete --force` killed while a poststop hook runs (the container's processes are gone,
/// its cgroups and state not yet); the next `delete --force` runs the hook again, which this
/// time returns at once.
#[test]
fn killed_while_a_poststop_hook_runs() {
    let mut t = Trial::new("poststop hook");
    let ran = t.tmp.0.join("hook-ran");
    t.set_hook(
        "poststop",
        &format!(
            "[ -e {r} ] && exit 0; touch {r}; exec sleep 30",
            r = ran.display()
        ),
    );
    t.running();
    let mut delete = t.spawn(&["delete", "--force", &t.id]);
    assert!(
        wait_until(PAUSE_WAIT, || ran.exists()),
        "{}: the poststop hook never ran",
        t.name
    );
    delete.kill();
    let mut problems = t.recover();
    // Hooks die with the runtime that ran them (PR_SET_PDEATHSIG).
    let hooks = t.end_hooks();
    if !hooks.is_empty() {
        problems.push(format!(
            "the hook outlived the killed delete and the next one: {hooks:?}"
        ));
    }
    t.check("SIGKILL while poststop ran, then delete --force", problems);
}

/// The issue's reproduction: a createRuntime hook sleeping 30 s, the create SIGKILLed after a
/// second; `delete --force` run from a shell in a session of its own must let the shell go on
/// (`after`), and leave nothing.
#[test]
fn issue_reproduction_delete_force_after_killed_create_lets_the_shell_go_on() {
    let mut t = Trial::new("issue reproduction");
    let hook = json!({
        "path": "/bin/sleep",
        "args": ["sleep", "30"],
        "env": [format!("{}=1", t.hook_marker)],
    });
    t.b.set("/hooks/createRuntime", json!([hook]));
    let t0 = Instant::now();
    let mut create = t.spawn(&["create", "--bundle", t.bundle(), &t.id]);
    let entry = format!("{}=1", t.hook_marker);
    assert!(
        wait_until(PAUSE_WAIT, || !processes_matching(&[], &entry).is_empty()),
        "{}: the createRuntime hook never ran",
        t.name
    );
    std::thread::sleep(Duration::from_secs(1).saturating_sub(t0.elapsed()));
    create.kill();
    let mut sh = Command::new("setsid");
    sh.args(["-w", "sh", "-c"]).arg(format!(
        "{BIN} --root {} delete --force {}; echo after",
        t.root(),
        t.id
    ));
    let mut problems = Vec::new();
    match run_bounded(sh, DELETE_TIMEOUT) {
        Err(e) => problems.push(format!("setsid -w sh -c 'delete --force; echo after' {e}")),
        Ok((o, _)) => {
            if !stdout(&o).contains("after") {
                problems.push(format!(
                    "the shell never printed `after` ({}): stdout {:?}, stderr {:?}",
                    how(&o),
                    stdout(&o),
                    stderr(&o)
                ));
            }
        }
    }
    problems.extend(t.list_problems());
    problems.extend(t.leaks());
    // Hooks die with the runtime that ran them (PR_SET_PDEATHSIG).
    let hooks = t.end_hooks();
    if !hooks.is_empty() {
        problems.push(format!(
            "the hook outlived the killed create and the delete: {hooks:?}"
        ));
    }
    t.check("kill -9 create after 1 s, setsid delete --force", problems);
}

/// Runs `job` on each of `ids` with `width` threads; returns the failures, by id.
fn in_parallel(
    ids: &[String],
    width: usize,
    job: impl Fn(&str) -> Result<(), String> + Sync,
) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..width {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(id) = ids.get(i) else { break };
                if let Err(e) = job(id) {
                    failures.lock().unwrap().push(format!("{id}: {e}"));
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// Runs bulkhead `args` under `rt` (bounded); Err describes a failure.
fn attempt(rt: &Rt, args: &[&str]) -> Result<(), String> {
    match run_bounded(rt.command(args), CMD_TIMEOUT) {
        Ok((o, _)) if o.status.success() => Ok(()),
        Ok((o, _)) => Err(format!("{args:?}: {}: {}", how(&o), stderr(&o).trim())),
        Err(e) => Err(format!("{args:?}: {e}")),
    }
}

/// Cleans up after the load test, also after a failure.
struct LoadGuard<'a> {
    rt: &'a Rt,
    b: &'a Bundle,
    ids: &'a [String],
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        in_parallel(self.ids, 25, |id| {
            attempt(self.rt, &["delete", "--force", id])
        });
        let root = self.rt.root.0.to_str().unwrap();
        for p in processes_matching(&[root], &format!("{}=1", self.b.marker)) {
            kill9(&p.to_string());
        }
        let names: HashSet<String> = self.ids.iter().cloned().collect();
        wait_until(GRACE, || {
            processes_matching(&[root], &format!("{}=1", self.b.marker)).is_empty()
        });
        remove_cgroups(cgroups_named(&names));
    }
}

/// 100 `sleep` containers created and started 25 at a time, all running, then deleted with
/// `delete --force` 25 at a time: no failure, nothing left, in bounded time.
#[test]
fn load_hundred_containers_25_at_a_time() {
    const N: usize = 100;
    const WIDTH: usize = 25;
    const LIMIT: Duration = Duration::from_secs(60);
    assert_built_here(Path::new(BIN));
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1002"]);
    let ids: Vec<String> = (0..N).map(|_| unique("rel-load")).collect();
    let _guard = LoadGuard {
        rt: &rt,
        b: &b,
        ids: &ids,
    };
    let bundle = b.dir().to_str().unwrap();
    let t0 = Instant::now();
    let failed = in_parallel(&ids, WIDTH, |id| {
        attempt(&rt, &["create", "--bundle", bundle, id])?;
        attempt(&rt, &["start", id])
    });
    let up = t0.elapsed();
    assert!(
        failed.is_empty(),
        "load: {} of {N} create+start failed (in {up:?}):\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
    let list = rt.ok(&["list"]);
    let running = list
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("running"))
        .count();
    assert_eq!(running, N, "load: not all running after start:\n{list}");

    let t1 = Instant::now();
    let failed = in_parallel(&ids, WIDTH, |id| attempt(&rt, &["delete", "--force", id]));
    let down = t1.elapsed();
    eprintln!("load: {N} containers created and started in {up:?}, deleted in {down:?} ({WIDTH} at a time)");
    assert!(
        failed.is_empty(),
        "load: {} of {N} delete --force failed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
    let mut leaks = Vec::new();
    let left: Vec<String> = std::fs::read_dir(&rt.root.0)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !left.is_empty() {
        leaks.push(format!("state directories left: {left:?}"));
    }
    let names: HashSet<String> = ids.iter().cloned().collect();
    let cg = cgroups_named(&names);
    if !cg.is_empty() {
        leaks.push(format!("{} cgroups left: {cg:?}", cg.len()));
    }
    let root = rt.root.0.to_str().unwrap();
    let procs = lingering(&[root, bundle], &format!("{}=1", b.marker));
    if !procs.is_empty() {
        let d: Vec<String> = procs.into_iter().map(describe).collect();
        leaks.push(format!("{} processes left: {d:?}", d.len()));
    }
    let m = mounts_of(&[b.dir(), &rt.root.0], "");
    if !m.is_empty() {
        leaks.push(format!("mounts left: {m:?}"));
    }
    assert!(leaks.is_empty(), "load: {}", leaks.join("\n  "));
    assert!(
        up + down < LIMIT,
        "load: took {:?} (limit {LIMIT:?})",
        up + down
    );
}

// The shim under containerd.

const NS: &str = "bulkhead-test";
const OURS: &str = "io.containerd.bulkhead.v2";
/// Where the shim keeps its containers' state (see crates/shim/src/service.rs).
const SHIM_ROOT: &str = "/run/containerd/bulkhead";

/// ctr against `c` in the test namespace, as a Command (for bounded runs).
fn ctr(c: &Containerd, args: &[&str]) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(c.sock())
        .args(["--namespace", NS])
        .args(args);
    cmd
}

/// Runs ctr (bounded); Ok(stdout) if it succeeded.
fn ctr_ok(c: &Containerd, args: &[&str]) -> Result<String, String> {
    match run_bounded(ctr(c, args), CMD_TIMEOUT) {
        Ok((o, _)) if o.status.success() => Ok(stdout(&o)),
        Ok((o, _)) => Err(format!(
            "ctr {args:?}: {}: {}{}",
            how(&o),
            stderr(&o).trim(),
            stdout(&o).trim()
        )),
        Err(e) => Err(format!("ctr {args:?}: {e}")),
    }
}

/// The shim daemons among `pids` (the shim's launchers, and inits not yet executed, have the
/// same command line: they are the ones whose parent is among them too).
fn shim_daemons(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|p| proc_stat(*p).is_some_and(|s| !pids.contains(&s.ppid)))
        .collect()
}

/// The socket a shim serves, from its command line (`-socket unix:///run/containerd/s/...`).
fn shim_socket(pid: i32) -> Option<String> {
    let args = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = args
        .split(|&c| c == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let i = args.iter().position(|a| a == "-socket")?;
    Some(args.get(i + 1)?.trim_start_matches("unix://").to_string())
}

/// Processes with an fd on a unix socket bound to `path` (/proc/net/unix, then their fds).
fn socket_holders(path: &str) -> Vec<i32> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    // Num RefCount Protocol Flags Type St Inode Path
    let inodes: HashSet<String> = table
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(7) == Some(path))
        .filter_map(|l| l.split_whitespace().nth(6))
        .map(|i| format!("socket:[{i}]"))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    live_pids()
        .into_iter()
        .filter(|p| {
            std::fs::read_dir(format!("/proc/{p}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| inodes.contains(l.to_string_lossy().as_ref()))
                })
        })
        .collect()
}

/// Removes what a shim trial left, also after a failure.
struct ShimGuard {
    id: String,
    marker_entry: String,
    /// The killed shim's socket file: containerd's clean-up leaves it (for runc's shim too).
    socket: Option<String>,
}

impl Drop for ShimGuard {
    fn drop(&mut self) {
        let _ = run_bounded(
            {
                let mut c = Command::new(BIN);
                c.arg("--root")
                    .arg(Path::new(SHIM_ROOT).join(NS))
                    .args(["delete", "--force", &self.id]);
                c
            },
            Duration::from_secs(15),
        );
        for p in processes_matching(&[&self.id], &self.marker_entry) {
            kill9(&p.to_string());
        }
        wait_until(GRACE, || {
            processes_matching(&[&self.id], &self.marker_entry).is_empty()
        });
        remove_cgroups(find_cgroups(&self.id));
        if let Some(s) = &self.socket {
            if socket_holders(s).is_empty() {
                let _ = std::fs::remove_file(s);
            }
        }
    }
}

/// One shim trial: containerd restarted with the pause point in its environment; a `ctr run`
/// (create points) or `ctr task delete` of a killed task (delete points) stopped at `point` in
/// the shim's launcher; containerd SIGKILLed, then the launcher and the shim daemon; containerd
/// restarted (without the pause) and ctr deletes the task and container. Returns the problems.
fn shim_trial(c: &mut Containerd, point: &str) -> Vec<String> {
    let id = unique(&format!("rel-shim-{}", point.replace(':', "-")));
    let marker = unique("BULKHEAD_TEST_SHIM");
    let marker_entry = format!("{marker}=1");
    let mut guard = ShimGuard {
        id: id.clone(),
        marker_entry: marker_entry.clone(),
        socket: None,
    };
    let pause = c.dir.0.join(format!("paused-{id}"));
    c.kill();
    c.restart_with_env(&[
        ("BULKHEAD_TEST_PAUSE", point),
        ("BULKHEAD_TEST_PAUSE_FILE", pause.to_str().unwrap()),
    ]);
    let mut problems = Vec::new();
    let run = [
        "run",
        "-d",
        "--runtime",
        OURS,
        "--env",
        &marker_entry,
        IMAGE,
        &id,
        "sleep",
        "1003",
    ];
    let mut op = if point.starts_with("delete") {
        if let Err(e) = ctr_ok(c, &run) {
            return vec![format!("setting up: {e}")];
        }
        if let Err(e) = ctr_ok(c, &["task", "kill", "-s", "SIGKILL", &id]) {
            return vec![format!("setting up: {e}")];
        }
        let stopped = wait_until(CMD_TIMEOUT, || {
            ctr_ok(c, &["task", "ls"]).is_ok_and(|o| {
                o.lines().any(|l| {
                    l.split_whitespace().next() == Some(id.as_str()) && l.contains("STOPPED")
                })
            })
        });
        if !stopped {
            return vec!["setting up: the task never stopped".into()];
        }
        Spawned::new(ctr(c, &["task", "delete", &id]))
    } else {
        Spawned::new(ctr(c, &run))
    };
    let mut paused = None;
    let mut ended = None;
    wait_until(PAUSE_WAIT, || {
        paused = std::fs::read_to_string(&pause)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if paused.is_none() {
            ended = op.try_finish();
        }
        paused.is_some() || ended.is_some()
    });
    let shims = c.bulkhead_shims();
    let daemons = shim_daemons(&shims);
    let socket = daemons.first().and_then(|&d| shim_socket(d));
    guard.socket = socket.clone();
    if paused.is_some() && daemons.len() != 1 {
        let d: Vec<String> = shims.iter().map(|&p| describe(p)).collect();
        problems.push(format!(
            "expected one shim daemon, found {daemons:?} among {d:?}"
        ));
    }
    match (paused, &ended) {
        (Some(pid), _) => {
            let parent = proc_stat(pid).map_or(0, |s| s.ppid);
            eprintln!(
                "shim trial {point}: paused in {} (its parent {parent}; shim daemons {daemons:?})",
                describe(pid)
            );
        }
        (None, Some(o)) => problems.push(format!(
            "the ctr command ended ({}) before the shim reached {point}: {}",
            how(o),
            stderr(o).trim()
        )),
        (None, None) => problems.push(format!(
            "the shim did not reach {point} within {PAUSE_WAIT:?} (did the pause env reach it?)"
        )),
    }
    // containerd first: alive, it would clean up after the dead shim at once, running
    // `containerd-shim-bulkhead-v2 delete` with the pause point still in its environment.
    c.kill();
    if let Some(pid) = paused {
        kill9(&pid.to_string());
    }
    for d in &daemons {
        kill9(&d.to_string());
    }
    let _ = op.finish(CMD_TIMEOUT);
    // The dead shim's socket must be closed: a restarted containerd that can still connect
    // waits for an answer before it takes the shim for dead.
    let mut holders = Vec::new();
    if let Some(s) = &socket {
        wait_until(GRACE, || {
            holders = socket_holders(s);
            holders.is_empty()
        });
    }
    // The container's init, if the state names one (before its start, it is still a fork of
    // the shim's launcher, holding what the shim held).
    let init = std::fs::read_to_string(Path::new(SHIM_ROOT).join(NS).join(&id).join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["pid"].as_i64())
        .unwrap_or(0);
    let held: Vec<String> = holders
        .into_iter()
        .map(|p| {
            let who = if i64::from(p) == init {
                "the container's init: "
            } else {
                ""
            };
            format!("{who}{}", describe(p))
        })
        .collect();
    let t = Instant::now();
    c.restart();
    let restart = t.elapsed();
    if !held.is_empty() {
        problems.push(format!(
            "the killed shim's socket {} is still open in {held:?} (fds inherited from the \
             shim); the restarted containerd connected to it and took {restart:?} to start",
            socket.as_deref().unwrap_or("")
        ));
    }
    // A restarted containerd finds the shim dead and runs the shim binary's `delete`; ctr then
    // removes what containerd still records (the task may be gone already).
    let _ = run_bounded(ctr(c, &["task", "delete", &id]), CMD_TIMEOUT);
    match run_bounded(ctr(c, &["container", "delete", &id]), CMD_TIMEOUT) {
        Err(e) => problems.push(format!("ctr container delete: {e}")),
        Ok((o, _)) if !o.status.success() && !stderr(&o).contains("not found") => problems.push(
            format!("ctr container delete: {}: {}", how(&o), stderr(&o).trim()),
        ),
        Ok(_) => {}
    }
    if let Ok(ls) = ctr_ok(c, &["container", "ls", "-q"]) {
        if ls.lines().any(|l| l.trim() == id) {
            problems.push("containerd still lists the container".into());
        }
    }
    if !wait_until(Duration::from_secs(10), || c.bulkhead_shims().is_empty()) {
        let d: Vec<String> = c.bulkhead_shims().into_iter().map(describe).collect();
        problems.push(format!("shim processes left: {d:?}"));
    }
    let state = Path::new(SHIM_ROOT).join(NS).join(&id);
    if state.exists() {
        problems.push(format!("shim state {} left", state.display()));
    }
    let task = c
        .dir
        .0
        .join("state/io.containerd.runtime.v2.task")
        .join(NS)
        .join(&id);
    if task.exists() {
        problems.push(format!("containerd's task bundle {} left", task.display()));
    }
    let cg = find_cgroups(&id);
    if !cg.is_empty() {
        problems.push(format!("cgroups left: {cg:?}"));
    }
    let m = mounts_of(&[], &id);
    if !m.is_empty() {
        problems.push(format!("mounts left: {m:?}"));
    }
    let procs = lingering(&[&id], &marker_entry);
    if !procs.is_empty() {
        let d: Vec<String> = procs.into_iter().map(describe).collect();
        problems.push(format!("processes left: {d:?}"));
    }
    problems
}

/// The shim SIGKILLed mid-create and mid-delete, containerd restarted: ctr deletes the task and
/// container, and nothing of it is left (shim state, containerd's bundle, cgroups, mounts,
/// processes, shims).
#[test]
fn shim_killed_mid_create_or_delete() {
    require_root();
    if !pause_points_built(&Path::new(BIN).with_file_name("containerd-shim-bulkhead-v2")) {
        return;
    }
    let t0 = Instant::now();
    let mut c = Containerd::start();
    c.import_image(NS);
    eprintln!("shim: containerd up, image imported in {:?}", t0.elapsed());
    let mut failures = Vec::new();
    for point in [
        "create:cgroups",
        "create:cloned",
        "create:launched",
        "delete:locked",
        "delete:killed",
        "delete:cgroups-removed",
    ] {
        let t = Instant::now();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shim_trial(&mut c, point)));
        match r {
            Ok(p) if p.is_empty() => {}
            Ok(p) => failures.push(format!("shim killed at {point}:\n    {}", p.join("\n    "))),
            Err(_) => failures.push(format!("shim killed at {point}: panicked (see above)")),
        }
        eprintln!("shim trial {point}: {:?}", t.elapsed());
    }
    eprintln!("shim: all trials in {:?}", t0.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n  "));
}

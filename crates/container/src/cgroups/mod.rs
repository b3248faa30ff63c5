//! Cgroups, as far as the lifecycle needs them: find the host's hierarchies, create the
//! container's cgroup in each, put its processes there, list and signal them, remove it again.
//! Resource limits are a later layer on top of this one.
//!
//! One interface, two drivers behind it: cgroupfs (the directories are ours to make, on v1, v2
//! or a hybrid of both) and systemd (`systemd.rs`: a transient unit systemd makes, reached over
//! D-Bus by `dbus.rs`). The lifecycle calls plan, claim, create, enter, set and remove in that
//! order and never asks which driver it has.

mod dbus;
mod properties;
pub mod systemd;

use crate::error::{Context, Error, Result};
use crate::mounts::{MountContext, Options};
use bulkhead_linux::{fd, mount as sys, resolve};
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hierarchy {
    /// Where it is mounted on the host.
    pub mountpoint: PathBuf,
    /// The cgroup the mount shows as its root (mountinfo's root field).
    pub root: PathBuf,
    /// v1 controllers and `name=` options; empty for the v2 unified hierarchy.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }

    /// The key of this hierarchy's line in /proc/<pid>/cgroup ("cpu,cpuacct", "name=systemd", "").
    fn key(&self) -> String {
        self.controllers.join(",")
    }

    /// A short name for the container's view under /sys/fs/cgroup.
    pub fn view_name(&self) -> String {
        if self.is_v2() {
            return "unified".into();
        }
        self.controllers
            .iter()
            .map(|c| c.strip_prefix("name=").unwrap_or(c))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The cgroup hierarchies mounted on this host, from /proc/self/mountinfo.
pub fn hierarchies() -> io::Result<Vec<Hierarchy>> {
    Ok(parse_mountinfo(&fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let controllers: Vec<String> = match post[0] {
            "cgroup2" => Vec::new(),
            "cgroup" => post[2]
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro" | "relatime" | "nosuid" | "nodev" | "noexec")
                        && !o.starts_with("release_agent")
                        && *o != "clone_children"
                        && *o != "xattr"
                })
                .map(String::from)
                .collect(),
            _ => continue,
        };
        let h = Hierarchy {
            mountpoint: PathBuf::from(pre[4]),
            root: PathBuf::from(pre[3]),
            controllers,
        };
        // One entry per hierarchy: a second mount of the same one elsewhere (e.g. a container's
        // view) is skipped, but one on the same mount point hides the first (podman's systemd
        // mode mounts the whole name=systemd hierarchy over the container's own view of it).
        match out.iter_mut().find(|o| o.controllers == h.controllers) {
            Some(o) if o.mountpoint == h.mountpoint => *o = h,
            Some(_) => {}
            None => out.push(h),
        }
    }
    out
}

/// The container's cgroup: one directory per hierarchy, and the ones we created for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    /// (hierarchy, directory on the host) pairs.
    pub dirs: Vec<(Hierarchy, PathBuf)>,
    /// Directories this runtime created, deepest first: exactly what `remove` deletes.
    pub created: Vec<PathBuf>,
    /// The systemd driver's unit; None with the cgroupfs driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
}

/// Who makes the container's cgroup (runc's `--systemd-cgroup`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Driver {
    /// The runtime makes the directories itself.
    #[default]
    Cgroupfs,
    /// systemd makes a transient unit for the container, and the runtime the rest.
    Systemd,
}

/// Where a cgroupsPath lands in each hierarchy. An absolute path is taken from the hierarchy's
/// root; a relative one (or the default, the container id) from the runtime's own cgroup, as
/// runc's cgroupfs driver does.
/// The deepest cgroupsPath accepted: each level is a directory in every hierarchy, and a path
/// thousands deep kept `create` busy for minutes before it failed.
const MAX_DEPTH: usize = 64;

/// `annotations`: the config's, for the systemd driver's `org.systemd.property.*`.
pub fn plan(
    cgroups_path: Option<&Path>,
    id: &str,
    driver: Driver,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Result<Cgroup> {
    if driver == Driver::Systemd {
        let path = cgroups_path.map(|p| p.to_string_lossy());
        let (unit, dirs) = systemd::plan(path.as_deref(), id, annotations)?;
        return Ok(Cgroup {
            dirs,
            created: Vec::new(),
            systemd: Some(unit),
        });
    }
    // An empty cgroupsPath is no cgroupsPath (runc's reading too).
    let path = cgroups_path
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(id));
    let bad = |why: &str| Error::Config(format!("linux.cgroupsPath: {path:?} {why}"));
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(bad("must not contain '..'"));
    }
    if path.as_os_str().len() > libc::PATH_MAX as usize || path.components().count() > MAX_DEPTH {
        return Err(bad(&format!(
            "is too long (at most {} bytes and {MAX_DEPTH} levels)",
            libc::PATH_MAX
        )));
    }
    let own = fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())?;
    let mut dirs = Vec::new();
    for h in hierarchies().ctx(|| "read /proc/self/mountinfo".into())? {
        let base = if path.is_absolute() {
            PathBuf::from("/")
        } else {
            own_path(&own, &h.key())
        };
        let rel = relative_to_mount(&base.join(&path), &h.root);
        // The container's cgroup is killed whole by `delete --force`: it must not be a
        // hierarchy's root or hold the runtime itself ("", ".", "/", or an ancestor of ours).
        let ours = relative_to_mount(&own_path(&own, &h.key()), &h.root);
        if ours.starts_with(&rel) {
            return Err(bad(&format!(
                "is the {} hierarchy's cgroup /{} or one of its parents, where the runtime itself \
                 runs: deleting the container would kill every process in it",
                h.view_name(),
                ours.display()
            )));
        }
        dirs.push((h.clone(), h.mountpoint.join(rel)));
    }
    Ok(Cgroup {
        dirs,
        created: Vec::new(),
        systemd: None,
    })
}

/// A cgroup path as seen from a mount whose root is `mount_root`: always relative, so joining it
/// to the mount point can never leave the hierarchy.
fn relative_to_mount(cgroup: &Path, mount_root: &Path) -> PathBuf {
    let inner = cgroup.strip_prefix(mount_root).unwrap_or(cgroup);
    inner
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// This process's cgroup in the hierarchy whose /proc/self/cgroup line has `key`.
fn own_path(proc_cgroup: &str, key: &str) -> PathBuf {
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
        );
        let mut a: Vec<&str> = ctrl.split(',').collect();
        let mut b: Vec<&str> = key.split(',').collect();
        a.sort_unstable();
        b.sort_unstable();
        if a == b {
            return PathBuf::from(path);
        }
    }
    PathBuf::from("/")
}

impl Cgroup {
    /// Rootless: a hierarchy this user may not write to is dropped instead of failing, as
    /// runc's rootless cgroup manager does; the container then runs in the caller's cgroups.
    pub fn drop_unwritable(&mut self) {
        self.dirs.retain(|(h, dir)| {
            let mut d = dir.as_path();
            while !d.exists() && d != h.mountpoint {
                d = d.parent().unwrap_or(&h.mountpoint);
            }
            bulkhead_linux::fd::writable(d)
        });
    }

    /// Creates the directories, recording the ones that did not exist yet. The systemd driver
    /// makes nothing yet: systemd starts a scope only with a process in it (`enter`).
    pub fn create(&mut self) -> Result<()> {
        if self.systemd.is_some() {
            return Ok(());
        }
        if self.created.is_empty() {
            self.claim();
        }
        let planned = std::mem::take(&mut self.created);
        // Shallowest first; `created` keeps what this call really made, deepest first.
        for m in planned.iter().rev() {
            match fs::create_dir(m) {
                Ok(()) => {}
                // Made meanwhile by someone else (a sibling container's shared parent): not ours.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).ctx(|| format!("create cgroup {}", m.display()));
                }
            }
            self.created.insert(0, m.clone());
        }
        self.fill_cpusets()
    }

    /// As runc: every level of the container's cpuset cgroup, from the hierarchy's root down,
    /// gets its parent's cpus and mems where it has none: a v1 cpuset cgroup starts empty, and
    /// a process cannot join one that is (ENOSPC). Levels made by others count too (a parent
    /// made with `mkdir` and never filled in).
    fn fill_cpusets(&self) -> Result<()> {
        for (h, dir) in &self.dirs {
            if h.controllers.iter().any(|c| c == "cpuset") {
                fill_cpuset(&h.mountpoint, dir)?;
            }
        }
        Ok(())
    }

    /// Records in `created` the directories `create` will make (the missing ones, deepest
    /// first), before any exists: a state saved now names every directory a runtime killed
    /// half-way through `create` may have left, so `delete` can remove them.
    pub fn claim(&mut self) {
        if self.systemd.is_some() {
            // The unit's directories are all the container's own: `remove` takes them all.
            return;
        }
        let mut claimed = Vec::new();
        for (h, dir) in &self.dirs {
            let mut d = dir.as_path();
            while !d.exists() && d != h.mountpoint {
                claimed.push(d.to_path_buf());
                d = match d.parent() {
                    Some(p) => p,
                    None => break,
                };
            }
        }
        self.created = claimed;
    }

    /// The container's directory in the v2 (unified) hierarchy, if it has one (a hybrid host's
    /// unified hierarchy, or the only one).
    pub fn v2_dir(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(h, _)| h.is_v2())
            .map(|(_, d)| d.as_path())
    }

    /// The directory when the container lives in the v2 hierarchy alone (a unified-only host).
    pub fn v2_only(&self) -> Option<&Path> {
        match self.dirs.as_slice() {
            [(h, d)] if h.is_v2() => Some(d),
            _ => None,
        }
    }

    /// The container's directory in the v1 hierarchy that has `controller`.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(h, _)| h.controllers.iter().any(|c| c == controller))
            .map(|(_, d)| d.as_path())
    }

    /// Clones a child (clone3 with `flags`) straight into the v2 directory, so it is never
    /// moved there: moving a task takes the kernel's cgroup_threadgroup_rwsem for writing, which
    /// can wait a whole RCU grace period. Kernels before 5.7 refuse CLONE_INTO_CGROUP: then a
    /// plain clone. Returns the clone's result and the directory the child was cloned into.
    /// Single-threaded callers only (sys::clone_fork).
    pub fn clone_into(
        &self,
        flags: u64,
    ) -> (io::Result<bulkhead_linux::process::Forked>, Option<&Path>) {
        use bulkhead_linux::process::clone_fork;
        let v2 = self
            .v2_dir()
            .and_then(|d| fd::openat(None, d, libc::O_RDONLY | libc::O_DIRECTORY, 0).ok());
        if let Some(dir) = &v2 {
            let forked = clone_fork(flags, Some(dir.as_raw_fd()));
            if forked.is_ok() {
                return (forked, self.v2_dir());
            }
        }
        (clone_fork(flags, None), None)
    }

    /// The directories but `joined` (the one a process was cloned into).
    fn others<'a>(
        &'a self,
        joined: Option<&'a Path>,
    ) -> impl Iterator<Item = &'a (Hierarchy, PathBuf)> {
        self.dirs
            .iter()
            .filter(move |(_, d)| Some(d.as_path()) != joined)
    }

    /// Moves `pid` into every directory but `joined` (the one it was cloned into).
    pub fn add_except(&self, pid: i32, joined: Option<&Path>) -> Result<()> {
        for (_, dir) in self.others(joined) {
            fs::write(dir.join("cgroup.procs"), pid.to_string()).ctx(|| join_what(dir))?;
        }
        Ok(())
    }

    /// Moves the calling process into every directory but `joined` (the one it was cloned
    /// into), by itself: "0" written to a v1 hierarchy's `tasks` file moves the writing thread
    /// without the kernel's global cgroup_threadgroup_rwsem, whose write side can wait a whole
    /// RCU grace period (~10 ms on a quiet host; every pid written to cgroup.procs takes it).
    /// The caller must be single-threaded (its one thread is the whole process) and still in
    /// the host user namespace (the files belong to host root). v2 has no such file.
    pub fn join_self_except(&self, joined: Option<&Path>) -> Result<()> {
        for (h, dir) in self.others(joined) {
            let file = if h.is_v2() { "cgroup.procs" } else { "tasks" };
            fs::write(dir.join(file), "0").ctx(|| join_what(dir))?;
        }
        Ok(())
    }

    /// The `tasks` file of every v1 hierarchy, opened for writing by the runtime (host root)
    /// for an init that enters a new user namespace at clone, where it may not open the host's
    /// cgroup files. The kernel checks a write by the credentials the file was opened with, so
    /// the init moves itself through them (`join_self_by`), without the rwsem that moving a pid
    /// from outside takes (see `join_self_except`). None under the systemd driver, whose
    /// directories exist only once the unit has started (`enter`): the runtime moves the pid.
    pub fn open_v1_tasks(&self) -> Result<Option<Vec<(PathBuf, fs::File)>>> {
        if self.systemd.is_some() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (_, dir) in self.dirs.iter().filter(|(h, _)| !h.is_v2()) {
            let f = fs::OpenOptions::new()
                .write(true)
                .open(dir.join("tasks"))
                .ctx(|| join_what(dir))?;
            out.push((dir.clone(), f));
        }
        Ok(Some(out))
    }

    /// Moves `pid` into the v2 directory unless it was cloned into it (`joined`); the v1
    /// hierarchies it joins itself through `open_v1_tasks`.
    pub fn add_v2_except(&self, pid: i32, joined: Option<&Path>) -> Result<()> {
        for (_, dir) in self.others(joined).filter(|(h, _)| h.is_v2()) {
            fs::write(dir.join("cgroup.procs"), pid.to_string()).ctx(|| join_what(dir))?;
        }
        Ok(())
    }

    /// The pids in the container's cgroup and in the sub-cgroups below it (`exec --cgroup`
    /// puts processes there), as runc lists them.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let Some(dir) = self
            .controller_dir("pids")
            .or(self.dirs.first().map(|(_, d)| d.as_path()))
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        pids_below(dir, &mut out, 0)?;
        Ok(out)
    }

    /// Sends `sig` to every process in the cgroup. SIGKILL goes through v2's cgroup.kill where
    /// the kernel has it: one write, and no process can fork away from it.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL {
            if let Some((_, d)) = self.dirs.iter().find(|(h, _)| h.is_v2()) {
                if crate::resources_v2::kill_all(d)? {
                    return Ok(());
                }
            }
        }
        for pid in self.pids()? {
            match bulkhead_linux::process::kill(pid, sig) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    return Err(e).ctx(|| format!("signal pid {pid}"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The cloned init (`pid`, waiting for the runtime's word) gets its cgroup and `r`'s
    /// limits, before it runs anything. cgroupfs: the directories exist; the limits are
    /// written. systemd: the unit is started with the init in it and the limits as properties;
    /// the directories systemd does not make (controllers it does not manage) are made, and the
    /// limits written to the files too.
    pub fn enter(
        &self,
        pid: i32,
        r: Option<&oci_spec::runtime::LinuxResources>,
        spec_devices: &[PathBuf],
    ) -> Result<()> {
        if let Some(unit) = &self.systemd {
            unit.start(pid, r, spec_devices)?;
            for (h, dir) in &self.dirs {
                self.make_dir(h, dir)?;
            }
        }
        match r {
            Some(r) => crate::resources::apply(self, r, spec_devices),
            None => Ok(()),
        }
    }

    /// New limits (`update`): the unit's properties first with the systemd driver (systemd
    /// applies them again whenever it touches the unit), then the cgroup files.
    pub fn set(
        &self,
        r: &oci_spec::runtime::LinuxResources,
        spec_devices: &[PathBuf],
    ) -> Result<()> {
        if let Some(unit) = &self.systemd {
            unit.set(r, spec_devices)?;
        }
        crate::resources::apply(self, r, spec_devices)
    }

    /// A directory of a systemd unit in a hierarchy where systemd made none, with its missing
    /// parents (shallowest first; a new cpuset cgroup copies its parent's cpus and mems).
    fn make_dir(&self, h: &Hierarchy, dir: &Path) -> Result<()> {
        let mut missing = Vec::new();
        let mut d = dir;
        while !d.exists() && d != h.mountpoint {
            missing.push(d.to_path_buf());
            d = match d.parent() {
                Some(p) => p,
                None => break,
            };
        }
        for m in missing.iter().rev() {
            match fs::create_dir(m) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(e).ctx(|| format!("create cgroup {}", m.display()));
                }
                _ => {}
            }
        }
        if h.controllers.iter().any(|c| c == "cpuset") {
            fill_cpuset(&h.mountpoint, dir)?;
        }
        Ok(())
    }

    /// Removes the directories this runtime created (and only those). Exiting processes keep a
    /// cgroup busy for a moment after they are gone, so EBUSY is retried briefly. The systemd
    /// driver stops the unit first (systemd removes what it made) and then removes the unit's
    /// directories that are left (the controllers systemd does not manage).
    pub fn remove(&self) -> Result<()> {
        if let Some(unit) = &self.systemd {
            unit.stop()?;
            if unit.foreign.get() {
                return Ok(());
            }
            for (h, dir) in &self.dirs {
                // Gone: systemd removed it with the unit. Left: the runtime made it.
                if !dir.exists() {
                    continue;
                }
                remove_tree(dir, 0).ctx(|| "remove cgroup".into())?;
                if !h.is_v2() && !h.controllers.iter().any(|c| c == "name=systemd") {
                    remove_empty_parents(dir, unit.parent_levels());
                }
            }
            return Ok(());
        }
        let mut first_err = None;
        for dir in &self.created {
            let own = self.dirs.iter().any(|(_, d)| d == dir);
            let res = if own {
                remove_tree(dir, 0)
            } else {
                // A parent we created may be shared by now (another container below it):
                // it goes when its last child does.
                match fs::remove_dir(dir) {
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EBUSY) | Some(libc::ENOTEMPTY)
                        ) =>
                    {
                        Ok(())
                    }
                    r => r,
                }
            };
            if let Err(e) = res {
                if e.kind() != io::ErrorKind::NotFound {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e).ctx(|| "remove cgroup".into()),
            None => Ok(()),
        }
    }
}

/// `exec --cgroup`: the sub-cgroup of the container's cgroup an exec'd process joins instead,
/// as runc 1.1 reads the flags: one `PATH` for every hierarchy, or `CONTROLLER[,...]:PATH`
/// (repeatable) for the v1 hierarchies of those controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubCgroups {
    /// The same path below the container's cgroup in every hierarchy (v2 included).
    All(PathBuf),
    /// (controller, path) pairs; the hierarchies not named keep the container's own cgroup.
    Controllers(Vec<(String, PathBuf)>),
}

impl SubCgroups {
    /// Parses the `--cgroup` arguments (none: None), with runc's rules: a path without a
    /// controller only when it is the one flag, at most one ':', an empty controller (":PATH")
    /// meaning every hierarchy.
    pub fn parse(args: &[String]) -> Result<Option<SubCgroups>> {
        if args.is_empty() {
            return Ok(None);
        }
        let mut per = Vec::new();
        for a in args {
            let bad = |why: &str| Error::Config(format!("exec --cgroup {a:?}: {why}"));
            match a.split_once(':') {
                None if args.len() == 1 => return Ok(Some(SubCgroups::All(PathBuf::from(a)))),
                None => {
                    return Err(bad(
                        "a path without a CONTROLLER: prefix must be the only --cgroup",
                    ))
                }
                Some((_, rest)) if rest.contains(':') => {
                    return Err(bad("not [CONTROLLER[,CONTROLLER...]:]PATH"))
                }
                Some((ctrls, path)) => {
                    for c in ctrls.split(',') {
                        per.retain(|(k, _): &(String, PathBuf)| k != c);
                        per.push((c.to_string(), PathBuf::from(path)));
                    }
                }
            }
        }
        // runc: an empty controller's path is every hierarchy's.
        if let Some((_, p)) = per.iter().find(|(c, _)| c.is_empty()) {
            return Ok(Some(SubCgroups::All(p.clone())));
        }
        Ok(Some(SubCgroups::Controllers(per)))
    }
}

/// `sub` below `dir`, `..` taken lexically; None when the result is not `dir` or below it.
fn join_below(dir: &Path, sub: &Path) -> Option<PathBuf> {
    let mut out = dir.to_path_buf();
    for c in sub.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out.starts_with(dir).then_some(out)
}

impl Cgroup {
    /// The container's cgroup with `sub`'s sub-cgroups in place of its own directories: where
    /// an exec'd process goes. Every sub-cgroup must exist (the runtime makes none) and lie
    /// below the container's cgroup.
    pub fn with_sub(&self, sub: &SubCgroups) -> Result<Cgroup> {
        if let SubCgroups::Controllers(per) = sub {
            for (c, _) in per {
                let known = self
                    .dirs
                    .iter()
                    .any(|(h, _)| h.controllers.iter().any(|k| k == c));
                if !known {
                    let mut have: Vec<&str> = self
                        .dirs
                        .iter()
                        .flat_map(|(h, _)| h.controllers.iter().map(String::as_str))
                        .collect();
                    have.sort_unstable();
                    return Err(Error::Config(format!(
                        "exec --cgroup {c}:...: the container has no cgroup of a controller \
                         {c:?} (it has {})",
                        if have.is_empty() {
                            "only the unified hierarchy".to_string()
                        } else {
                            have.join(", ")
                        }
                    )));
                }
            }
        }
        let mut out = self.clone();
        for (h, dir) in out.dirs.iter_mut() {
            let path = match sub {
                SubCgroups::All(p) => p,
                SubCgroups::Controllers(per) => {
                    let mut mine = per
                        .iter()
                        .filter(|(c, _)| h.controllers.iter().any(|k| k == c));
                    let Some((c, p)) = mine.next() else {
                        continue;
                    };
                    if let Some((c2, p2)) = mine.find(|(_, p2)| p2 != p) {
                        return Err(Error::Config(format!(
                            "exec --cgroup: {c} and {c2} share a hierarchy and cannot have \
                             two paths ({} and {})",
                            p.display(),
                            p2.display()
                        )));
                    }
                    p
                }
            };
            let target = join_below(dir, path).ok_or_else(|| {
                Error::Config(format!(
                    "exec --cgroup: {} is not a sub cgroup path: it leads out of the \
                     container's cgroup",
                    path.display()
                ))
            })?;
            if !target.is_dir() {
                return Err(Error::Config(format!(
                    "exec --cgroup: the container's cgroup has no sub-cgroup {} in the {} \
                     hierarchy ({} does not exist)",
                    path.display(),
                    h.view_name(),
                    target.display()
                )));
            }
            let empty = ["cpuset.cpus", "cpuset.mems"]
                .iter()
                .find(|f| fs::read_to_string(target.join(f)).is_ok_and(|v| v.trim().is_empty()));
            if let Some(f) = empty {
                return Err(Error::Config(format!(
                    "exec --cgroup: no process may join the sub-cgroup {} of the cpuset \
                     hierarchy: its {f} is empty",
                    path.display()
                )));
            }
            *dir = target;
        }
        Ok(out)
    }
}

/// What a failed join of `dir` was, with the reason a v1 cpuset cgroup refuses a process:
/// no cpus or no mems (ENOSPC), as a sub-cgroup made with a bare `mkdir` has.
/// Moves the calling, single-threaded process into the v1 hierarchies whose `tasks` files the
/// runtime opened for it (`Cgroup::open_v1_tasks`), and closes them.
pub fn join_self_by(tasks: Vec<(PathBuf, fs::File)>) -> Result<()> {
    for (dir, mut f) in tasks {
        io::Write::write_all(&mut f, b"0").ctx(|| join_what(&dir))?;
    }
    Ok(())
}

fn join_what(dir: &Path) -> String {
    let empty = ["cpuset.cpus", "cpuset.mems"]
        .iter()
        .any(|f| fs::read_to_string(dir.join(f)).is_ok_and(|v| v.trim().is_empty()));
    if empty {
        format!(
            "join cgroup {} (its cpuset.cpus or cpuset.mems is empty)",
            dir.display()
        )
    } else {
        format!("join cgroup {}", dir.display())
    }
}

/// The pids of `dir`'s cgroup.procs and of every cgroup below it; a cgroup gone meanwhile has
/// none. `depth` bounds the walk (a cgroup tree is at most a few dozen levels deep).
fn pids_below(dir: &Path, out: &mut Vec<i32>, depth: usize) -> Result<()> {
    match fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(t) => out.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("read {}/cgroup.procs", dir.display())),
    }
    if depth >= 4 * MAX_DEPTH {
        return Ok(());
    }
    for sub in sub_cgroups(dir) {
        pids_below(&sub, out, depth + 1)?;
    }
    Ok(())
}

/// The cgroups directly below `dir` (none when it cannot be read).
fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Removes the container's own cgroup `dir` and every cgroup below it, deepest first: runc
/// removes the sub-cgroups made in a container's cgroup (for `exec --cgroup`) with it.
fn remove_tree(dir: &Path, depth: usize) -> io::Result<()> {
    if depth < 4 * MAX_DEPTH {
        for sub in sub_cgroups(dir) {
            remove_tree(&sub, depth + 1)?;
        }
    }
    remove_dir_retrying(dir)
}

/// rmdir of a cgroup, retried for a while on EBUSY/ENOTEMPTY: the kernel releases a cgroup a
/// moment after its last process is reaped.
fn remove_dir_retrying(dir: &Path) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY))
                    && tries < 400 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        }
    }
}

/// The slice directories above a unit's directory that the runtime made in a hierarchy systemd
/// does not manage: removed while empty (a sibling container's keeps them, as a shared parent
/// in `remove`), up to systemd's root; systemd's own hierarchies are never touched.
fn remove_empty_parents(dir: &Path, levels: usize) {
    for parent in dir.ancestors().skip(1).take(levels) {
        if fs::remove_dir(parent).is_err() {
            break;
        }
    }
}

/// Fills `dir` and each of its parents below `mountpoint` (the cpuset hierarchy's) whose
/// cpuset.cpus or cpuset.mems is empty with its parent's value, shallowest first.
fn fill_cpuset(mountpoint: &Path, dir: &Path) -> Result<()> {
    let Ok(below) = dir.strip_prefix(mountpoint) else {
        return Ok(());
    };
    let mut parent = mountpoint.to_path_buf();
    for level in below.components() {
        let cur = parent.join(level);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = fs::read_to_string(cur.join(file))
                .ctx(|| format!("read {}/{file}", cur.display()))?;
            if !mine.trim().is_empty() {
                continue;
            }
            let theirs = fs::read_to_string(parent.join(file))
                .ctx(|| format!("read {}/{file}", parent.display()))?;
            fs::write(cur.join(file), theirs.trim())
                .ctx(|| format!("write {}/{file}", cur.display()))?;
        }
        parent = cur;
    }
    Ok(())
}

/// A `cgroup` mount in the config: the container sees its own cgroup of each hierarchy, bound
/// from the host (read-only when the mount says `ro`), under a tmpfs when the host is v1.
pub fn mount_cgroupfs(
    root: &impl AsRawFd,
    dest: &Path,
    opts: &Options,
    ctx: &MountContext,
) -> Result<()> {
    let Some(cg) = ctx.cgroup else { return Ok(()) };
    let ro = opts.flags & libc::MS_RDONLY;
    let base_flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let target = resolve::make_in_root(root, dest, resolve::Kind::Dir)
        .ctx(|| format!("mounts: create destination {}", dest.display()))?;
    if let Some(only) = cg.v2_only() {
        let t = PathBuf::from(fd::proc_fd_path(&target));
        sys::mount(Some(only), &t, None, libc::MS_BIND, None)
            .ctx(|| format!("mounts: bind cgroup2 on {}", dest.display()))?;
        return crate::mounts::remount(&t, base_flags | ro, dest);
    }
    let t = PathBuf::from(fd::proc_fd_path(&target));
    sys::mount(
        Some(Path::new("tmpfs")),
        &t,
        Some("tmpfs"),
        base_flags,
        Some("mode=755"),
    )
    .ctx(|| format!("mounts: tmpfs on {}", dest.display()))?;
    for (h, dir) in &cg.dirs {
        let sub = dest.join(h.view_name());
        let st = resolve::make_in_root(root, &sub, resolve::Kind::Dir)
            .ctx(|| format!("mounts: create {}", sub.display()))?;
        let sp = PathBuf::from(fd::proc_fd_path(&st));
        sys::mount(Some(dir), &sp, None, libc::MS_BIND, None)
            .ctx(|| format!("mounts: bind {} on {}", dir.display(), sub.display()))?;
        let again = resolve::open_in_root(root, &sub, libc::O_PATH, 0)
            .ctx(|| format!("mounts: reopen {}", sub.display()))?;
        crate::mounts::remount(
            &PathBuf::from(fd::proc_fd_path(&again)),
            base_flags | ro,
            &sub,
        )?;
    }
    if ro != 0 {
        let again = resolve::open_in_root(root, dest, libc::O_PATH, 0)
            .ctx(|| format!("mounts: reopen {}", dest.display()))?;
        sys::mount(
            None,
            &PathBuf::from(fd::proc_fd_path(&again)),
            None,
            libc::MS_REMOUNT | base_flags | libc::MS_RDONLY,
            Some("mode=755"),
        )
        .ctx(|| format!("mounts: remount {} read-only", dest.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_v1_and_unified_hierarchies() {
        let hs = parse_mountinfo(HYBRID);
        assert_eq!(hs.len(), 4);
        assert_eq!(hs[0].controllers, vec!["cpu"]);
        assert_eq!(hs[2].controllers, vec!["name=systemd"]);
        assert_eq!(hs[2].view_name(), "systemd");
        assert!(hs[3].is_v2());
    }

    #[test]
    fn a_mount_on_the_same_point_hides_the_first() {
        let text = "\
99 90 0:37 /libpod_parent/x /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
100 99 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
101 1 0:37 / /elsewhere rw,relatime - cgroup cgroup rw,name=systemd
";
        let hs = parse_mountinfo(text);
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].root, PathBuf::from("/"));
        assert_eq!(hs[0].mountpoint, PathBuf::from("/sys/fs/cgroup/systemd"));
    }

    #[test]
    fn cgroup_paths_stay_inside_the_mount() {
        assert_eq!(
            relative_to_mount(Path::new("/t1"), Path::new("/")),
            PathBuf::from("t1")
        );
        assert_eq!(
            relative_to_mount(Path::new("/a/b/t1"), Path::new("/a/b")),
            PathBuf::from("t1")
        );
        assert_eq!(
            relative_to_mount(Path::new("/x/t1"), Path::new("/a")),
            PathBuf::from("x/t1")
        );
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exec_cgroup_flags_parse_as_runcs() {
        assert_eq!(SubCgroups::parse(&[]).unwrap(), None);
        assert_eq!(
            SubCgroups::parse(&args(&["sub"])).unwrap(),
            Some(SubCgroups::All("sub".into()))
        );
        assert_eq!(
            SubCgroups::parse(&args(&["memory,pids:a", "cpu:b", "pids:c"])).unwrap(),
            Some(SubCgroups::Controllers(vec![
                ("memory".into(), "a".into()),
                ("cpu".into(), "b".into()),
                ("pids".into(), "c".into()),
            ]))
        );
        assert_eq!(
            SubCgroups::parse(&args(&[":x"])).unwrap(),
            Some(SubCgroups::All("x".into()))
        );
        assert!(SubCgroups::parse(&args(&["a:b:c"])).is_err());
        assert!(SubCgroups::parse(&args(&["sub", "memory:sub"])).is_err());
    }

    #[test]
    fn sub_cgroups_stay_below_the_containers() {
        let d = Path::new("/sys/fs/cgroup/memory/a/c");
        assert_eq!(join_below(d, "x/y".as_ref()), Some(d.join("x/y")));
        assert_eq!(join_below(d, "/x".as_ref()), Some(d.join("x")));
        assert_eq!(join_below(d, "x/../y".as_ref()), Some(d.join("y")));
        assert_eq!(join_below(d, "../c".as_ref()), Some(d.to_path_buf()));
        assert_eq!(join_below(d, "".as_ref()), Some(d.to_path_buf()));
        assert_eq!(join_below(d, "..".as_ref()), None);
        assert_eq!(join_below(d, "../csib".as_ref()), None);
        assert_eq!(join_below(d, "../../../../..".as_ref()), None);
    }

    #[test]
    fn own_path_matches_comounted_controllers_in_any_order() {
        let pc = "12:cpuacct,cpu:/a/b\n1:name=systemd:/sys\n0::/u\n";
        assert_eq!(own_path(pc, "cpu,cpuacct"), PathBuf::from("/a/b"));
        assert_eq!(own_path(pc, "name=systemd"), PathBuf::from("/sys"));
        assert_eq!(own_path(pc, ""), PathBuf::from("/u"));
    }
}

//! The state store: one directory per container under the runtime root, holding `state.json`
//! (written atomically: a temp file renamed over the old one) and the init's start socket.
//! Commands on one container serialize on an flock of its directory; commands on different
//! containers never wait on each other.

use anyhow::{anyhow, bail, Context, Result};
use bulkhead_container::cgroups::Cgroup;
use bulkhead_linux::{fd, process};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const START_SOCKET: &str = "start.sock";
pub const LOCK_FILE: &str = "lock";

/// Where the container is in its set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Creating,
    Created,
    Started,
}

/// The OCI status, derived from the phase and whether the init still lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What bulkhead keeps about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// The init's start time in clock ticks, to tell it from a process that reused its pid.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub phase: Phase,
    pub cgroup: Cgroup,
    pub config: Spec,
    /// Without a mount namespace of its own the container's mounts are in the runtime's: how
    /// many mounts the rootfs path had before (the ones above are the container's, unmounted
    /// by delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rootfs_mounts: Option<usize>,
}

/// The state as the OCI spec and runc print it (`state`, `list --format json`, hooks' stdin).
#[derive(Debug, Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(
        skip_serializing_if = "no_annotations",
        serialize_with = "sorted_annotations"
    )]
    pub annotations: Option<&'a HashMap<String, String>>,
    pub owner: &'a str,
}

/// runc leaves out an empty map (Go's omitempty), and prints a map's keys sorted.
fn no_annotations(a: &Option<&HashMap<String, String>>) -> bool {
    a.is_none_or(|m| m.is_empty())
}

fn sorted_annotations<S: serde::Serializer>(
    a: &Option<&HashMap<String, String>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let sorted: std::collections::BTreeMap<&String, &String> =
        a.iter().flat_map(|m| m.iter()).collect();
    serde::Serialize::serialize(&sorted, s)
}

impl State {
    /// The current status. A dead init (or a live process that merely reuses its pid) is stopped.
    pub fn status(&self, dir: &Path) -> Status {
        if self.pid <= 0 {
            return if self.phase == Phase::Creating {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        match process::start_time(self.pid) {
            Ok(t) if t == self.pid_start => {}
            _ => return Status::Stopped,
        }
        match self.phase {
            Phase::Creating => Status::Creating,
            Phase::Created if dir.join(START_SOCKET).exists() => Status::Created,
            _ if bulkhead_container::resources::is_frozen(&self.cgroup) => Status::Paused,
            _ => Status::Running,
        }
    }

    pub fn oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: self.config.version(),
            id: &self.id,
            // A stopped container has no pid any more (runc prints 0).
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: self.config.annotations().as_ref(),
            owner: &self.owner,
        }
    }
}

/// Container ids as runc accepts them: letters, digits and `_ + - .`, not "." or "..".
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if !ok {
        bail!("invalid container id {id:?}: use letters, digits and _ + - . only");
    }
    Ok(())
}

/// The runtime's root directory (`--root`).
pub struct Store {
    pub root: PathBuf,
}

/// A container's directory, locked for the life of this value.
pub struct Locked {
    pub dir: PathBuf,
    /// The directory, held open: the start socket is reached through it (see `start_socket`).
    pub handle: File,
    /// The lock file, held open for the lock.
    _lock: File,
}

/// Opens and locks `<dir>/lock`.
/// Takes the directory's lock. Only `create` makes the lock file: a command that finds it
/// gone (a racing delete removed the directory) must not put a new one into a directory being
/// removed, which would make that removal fail with "Directory not empty".
fn lock(dir: &Path, create: bool) -> std::io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    fd::lock_exclusive(&f)?;
    Ok(f)
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Creates a new container directory; fails if the id is taken.
    pub fn create(&self, id: &str) -> Result<Locked> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .with_context(|| format!("create root directory {}", self.root.display()))?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("container with id exists: {id}")
            }
            Err(e) => {
                return Err(e).with_context(|| format!("create state directory {}", dir.display()))
            }
        }
        let handle = fd::open_dir(&dir).with_context(|| format!("open {}", dir.display()))?;
        let lock = lock(&dir, true).with_context(|| format!("lock {}", dir.display()))?;
        Ok(Locked {
            dir,
            handle,
            _lock: lock,
        })
    }

    /// Locks an existing container's directory and loads its state.
    pub fn open(&self, id: &str) -> Result<(Locked, State)> {
        validate_id(id)?;
        let locked = self
            .lock(id)
            .map_err(|_| anyhow!("container {id} does not exist"))?;
        // The container may have been deleted while we waited for the lock.
        let state = load(&locked.dir).map_err(|_| anyhow!("container {id} does not exist"))?;
        Ok((locked, state))
    }

    /// Locks an existing container's directory, whatever its state; NotFound when the directory
    /// or its lock file does not exist.
    pub fn lock(&self, id: &str) -> std::io::Result<Locked> {
        let dir = self.dir(id);
        let handle = fd::open_dir(&dir)?;
        let lock = lock(&dir, false)?;
        Ok(Locked {
            dir,
            handle,
            _lock: lock,
        })
    }

    /// Ids of all containers, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(e).with_context(|| format!("read {}", self.root.display())),
        };
        for entry in rd.flatten() {
            if entry.path().join(STATE_FILE).exists() {
                ids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// Reads `state.json` of a container directory.
pub fn load(dir: &Path) -> Result<State> {
    let text = std::fs::read_to_string(dir.join(STATE_FILE))?;
    Ok(serde_json::from_str(&text)?)
}

impl Locked {
    /// Writes the state atomically: a reader sees the old or the new file, never a torn one.
    pub fn save(&self, state: &State) -> Result<()> {
        let tmp = self.dir.join(".state.json.tmp");
        // One write: serde_json writes token by token, which on an unbuffered file is
        // thousands of system calls for a config-sized state.
        let bytes = serde_json::to_vec(state)?;
        let mut f = File::create(&tmp).with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(&bytes)?;
        std::fs::rename(&tmp, self.dir.join(STATE_FILE)).context("replace state.json")?;
        Ok(())
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r.with_context(|| format!("remove {}", self.dir.display())),
        }
    }

    /// The start socket's path, short enough for sun_path however deep the root is.
    pub fn start_socket(&self) -> PathBuf {
        PathBuf::from(fd::proc_fd_path(&self.handle)).join(START_SOCKET)
    }

    /// The sandbox's entry socket (sandbox_exec.rs), as short.
    pub fn entry_socket(&self) -> PathBuf {
        PathBuf::from(fd::proc_fd_path(&self.handle)).join(crate::sandbox_exec::ENTRY_SOCKET)
    }
}

/// Writes a pid file atomically, as runc does (containerd and conmon read it right away).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = std::path::absolute(path)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write pid file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}

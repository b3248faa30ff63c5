//! The DUMP and RESTORE requests, built from the command's flags and the container's config as
//! runc builds them (libcontainer's Checkpoint and Restore): pure functions, so every field can
//! be checked without a working criu.

use super::proto::{
    CgMode, CgroupRoot, ExtMountMap, InheritFd, Opts, PageServerInfo, Req, ReqType,
};
use anyhow::{bail, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// criu's log level for dump and restore (runc's: 4, everything).
pub const LOG_LEVEL: i32 = 4;
pub const DUMP_LOG: &str = "dump.log";
pub const RESTORE_LOG: &str = "restore.log";
/// The annotation naming a criu configuration file (runc's); empty means none.
pub const CONFIG_ANNOTATION: &str = "org.criu.config";
/// criu reads this file (when it exists) for settings over the RPC's, as for runc.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/criu/runc.conf";
/// The key a network namespace given by path is known by in the images (runc's).
pub const NETNS_KEY: &str = "extRootNetNS";
/// The external id masked files are dumped as, and restored from.
pub const MASKED_FILE: &str = "/dev/null";

/// The flags both commands have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommonFlags {
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgMode>,
    /// CLONE_NEW* bits; the network namespace's is always there (as runc: the runtime does not
    /// manage network devices, so their configuration is not restored).
    pub empty_ns: u32,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// `checkpoint`'s flags, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckpointFlags {
    pub common: CommonFlags,
    pub leave_running: bool,
    pub pre_dump: bool,
    /// Relative to the image directory.
    pub parent_path: Option<String>,
    pub page_server: Option<(String, i32)>,
    pub status_fd: Option<i32>,
}

/// `restore`'s flags that go to criu, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreFlags {
    pub common: CommonFlags,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// `--manage-cgroups-mode`.
pub fn parse_cg_mode(s: &str) -> Result<CgMode> {
    Ok(match s {
        "soft" => CgMode::Soft,
        "full" => CgMode::Full,
        "strict" => CgMode::Strict,
        // runc 1.1.5 refuses "ignore" too (later runc takes it).
        _ => bail!("--manage-cgroups-mode: invalid value {s:?} (soft, full or strict)"),
    })
}

/// `--empty-ns`: the namespaces criu makes empty (only the network one, as runc).
pub fn parse_empty_ns(names: &[String]) -> Result<u32> {
    let mut mask = libc::CLONE_NEWNET as u32;
    for n in names {
        for n in n.split(',') {
            match n {
                "network" => mask |= libc::CLONE_NEWNET as u32,
                _ => bail!("--empty-ns: namespace {n:?} is not supported (only \"network\")"),
            }
        }
    }
    Ok(mask)
}

/// `--page-server ADDRESS:PORT` (an IPv6 address in brackets, as Go's SplitHostPort).
pub fn parse_page_server(s: &str) -> Result<(String, i32)> {
    let bad = || anyhow::anyhow!("--page-server: {s:?} is not ADDRESS:PORT");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    if host.is_empty() || port.is_empty() {
        return Err(bad());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| anyhow::anyhow!("--page-server: invalid port number {port:?}"))?;
    Ok((host.to_string(), i32::from(port)))
}

/// `--status-fd N`: -1 (runc's default) is none.
pub fn parse_status_fd(s: &str) -> Result<Option<i32>> {
    match s.parse::<i32>() {
        Ok(-1) => Ok(None),
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => bail!("--status-fd: {s:?} is not a file descriptor number"),
    }
}

/// The criu config file: the annotation's (empty: none), or runc's default.
fn config_file(spec: &Spec) -> Option<String> {
    match spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(CONFIG_ANNOTATION))
    {
        Some(f) if f.is_empty() => None,
        Some(f) => Some(f.clone()),
        None => Some(DEFAULT_CONFIG_FILE.into()),
    }
}

fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"))
}

/// The container's cgroup as its `cgroup` mounts show it: each hierarchy's directory name
/// under the mount (empty when the mount is the one v2 hierarchy itself) and the host directory.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupView {
    pub name: String,
    pub host_dir: PathBuf,
}

fn under(dest: &str, name: &str) -> String {
    if name.is_empty() {
        dest.to_string()
    } else {
        format!("{}/{name}", dest.trim_end_matches('/'))
    }
}

/// The mounts criu cannot dump by itself, as runc names them: bind mounts (their destination
/// on both sides at dump), the binds of each cgroup hierarchy under a `cgroup` mount, and the
/// masked paths that are files (/dev/null bound over them). On restore each is found from its
/// external id: a bind's source, the cgroup directory, /dev/null.
pub fn external_mounts(
    spec: &Spec,
    bundle: &Path,
    cgroups: &[CgroupView],
    masked_files: &[String],
    restore: bool,
) -> Vec<ExtMountMap> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        let dest = m.destination().to_string_lossy().into_owned();
        if m.typ().as_deref() == Some("cgroup") {
            for cg in cgroups {
                let key = under(&dest, &cg.name);
                let val = if restore {
                    cg.host_dir.to_string_lossy().into_owned()
                } else {
                    key.clone()
                };
                out.push(ExtMountMap { key, val });
            }
        } else if is_bind(m) {
            let val = if restore {
                let src = m.source().clone().unwrap_or_default();
                let src = if src.is_absolute() {
                    src
                } else {
                    bundle.join(src)
                };
                src.to_string_lossy().into_owned()
            } else {
                dest.clone()
            };
            out.push(ExtMountMap { key: dest, val });
        }
    }
    if restore {
        if !masked_files.is_empty() {
            out.push(ExtMountMap {
                key: MASKED_FILE.into(),
                val: MASKED_FILE.into(),
            });
        }
    } else {
        for p in masked_files {
            out.push(ExtMountMap {
                key: p.clone(),
                val: MASKED_FILE.into(),
            });
        }
    }
    out
}

/// The options both requests share.
fn common_opts(c: &CommonFlags, spec: &Spec) -> Opts {
    Opts {
        log_level: Some(LOG_LEVEL),
        shell_job: Some(c.shell_job),
        tcp_established: Some(c.tcp_established),
        ext_unix_sk: Some(c.ext_unix_sk),
        file_locks: Some(c.file_locks),
        empty_ns: Some(c.empty_ns),
        auto_dedup: Some(c.auto_dedup),
        lazy_pages: Some(c.lazy_pages),
        manage_cgroups: Some(true),
        manage_cgroups_mode: c.manage_cgroups_mode.map(|m| m as i32),
        notify_scripts: Some(true),
        orphan_pts_master: Some(true),
        config_file: config_file(spec),
        ..Default::default()
    }
}

/// What a dump needs to know of the container.
pub struct DumpTarget<'a> {
    pub pid: i32,
    pub images_dir_fd: i32,
    pub work_dir_fd: Option<i32>,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub spec: &'a Spec,
    /// The cgroup criu freezes the tasks with (v1's freezer directory, or the v2 one).
    pub freeze_cgroup: Option<String>,
    pub cgroups: Vec<CgroupView>,
    pub masked_files: Vec<String>,
    /// The inode of a network namespace the config names by path (joined, not owned).
    pub netns_inode: Option<u64>,
}

/// The DUMP (or PRE_DUMP) request.
pub fn dump_request(f: &CheckpointFlags, t: &DumpTarget) -> Req {
    let mut o = common_opts(&f.common, t.spec);
    o.images_dir_fd = t.images_dir_fd;
    o.work_dir_fd = t.work_dir_fd;
    o.pid = Some(t.pid);
    o.root = Some(t.rootfs.to_string_lossy().into_owned());
    o.log_file = Some(DUMP_LOG.into());
    o.leave_running = Some(f.leave_running || f.pre_dump);
    o.parent_img = f.parent_path.clone();
    o.track_mem = (f.pre_dump || f.parent_path.is_some()).then_some(true);
    o.freeze_cgroup = t.freeze_cgroup.clone();
    o.ps = f.page_server.as_ref().map(|(a, p)| PageServerInfo {
        address: Some(a.clone()),
        port: Some(*p),
        ..Default::default()
    });
    o.status_fd = f.status_fd;
    o.ext_mnt = external_mounts(t.spec, t.bundle, &t.cgroups, &t.masked_files, false);
    if let Some(ino) = t.netns_inode {
        o.external.push(format!("net[{ino}]:{NETNS_KEY}"));
    }
    Req {
        r#type: if f.pre_dump {
            ReqType::PreDump
        } else {
            ReqType::Dump
        } as i32,
        opts: Some(o),
        ..Default::default()
    }
}

/// What a restore needs to know.
pub struct RestoreTarget<'a> {
    pub images_dir_fd: i32,
    pub work_dir_fd: Option<i32>,
    /// The root criu restores into: a mount point (the rootfs bound on itself).
    pub root: &'a Path,
    pub bundle: &'a Path,
    pub spec: &'a Spec,
    pub cgroups: Vec<CgroupView>,
    pub masked_files: Vec<String>,
    /// criu's fd of the network namespace the config names by path.
    pub netns_fd: Option<i32>,
    /// The images' names of the init's stdio pipes, and criu's fds to give in their place.
    pub inherit: Vec<(String, i32)>,
    /// Where the restored tasks go: (controller, path as /proc/PID/cgroup shows it).
    pub cg_roots: Vec<(Option<String>, String)>,
}

/// The RESTORE request.
pub fn restore_request(f: &RestoreFlags, t: &RestoreTarget) -> Req {
    let mut o = common_opts(&f.common, t.spec);
    o.images_dir_fd = t.images_dir_fd;
    o.work_dir_fd = t.work_dir_fd;
    o.root = Some(t.root.to_string_lossy().into_owned());
    o.log_file = Some(RESTORE_LOG.into());
    o.evasive_devices = Some(true);
    o.rst_sibling = Some(true);
    o.lsm_profile = f.lsm_profile.clone();
    o.lsm_mount_context = f.lsm_mount_context.clone();
    o.ext_mnt = external_mounts(t.spec, t.bundle, &t.cgroups, &t.masked_files, true);
    if let Some(fd) = t.netns_fd {
        o.inherit_fd.push(InheritFd {
            key: NETNS_KEY.into(),
            fd,
        });
    }
    for (key, fd) in &t.inherit {
        o.inherit_fd.push(InheritFd {
            key: key.clone(),
            fd: *fd,
        });
    }
    o.cg_root = t
        .cg_roots
        .iter()
        .map(|(ctrl, path)| CgroupRoot {
            ctrl: ctrl.clone(),
            path: path.clone(),
        })
        .collect();
    Req {
        r#type: ReqType::Restore as i32,
        opts: Some(o),
        ..Default::default()
    }
}

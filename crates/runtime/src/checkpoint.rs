//! `checkpoint` and `restore` of the container class, through CRIU as runc drives it. Every
//! flag is checked and CRIU is asked whether it works here (VERSION, CHECK, FEATURE_CHECK)
//! before the container or the disk is touched: a host where criu cannot run gets one line
//! naming CRIU and criu's own error, and the container goes on running.

use crate::criu::proto::{Features, Notify};
use crate::criu::request::{
    self, CgroupView, CheckpointFlags, CommonFlags, DumpTarget, RestoreFlags, RestoreTarget,
};
use crate::criu::swrk::{self, Spawn};
use crate::criu::{self, Criu};
use crate::hooks::ContainerHooks;
use crate::state::{self, Locked, Phase, State, Status, Store};
use crate::{config, lifecycle, log};
use anyhow::{anyhow, bail, Context, Result};
use bulkhead_container::cgroups::{self, Cgroup};
use bulkhead_linux::{fd, process as sys};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The flags both commands share, as given.
#[derive(Debug, Clone, Default)]
pub struct CommonOpts {
    pub criu: Option<String>,
    pub image_path: Option<PathBuf>,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// `checkpoint`'s flags, as given.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOpts {
    pub id: String,
    pub common: CommonOpts,
    pub parent_path: Option<String>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub status_fd: Option<String>,
    pub page_server: Option<String>,
}

/// `restore`'s flags, as given.
#[derive(Debug, Clone, Default)]
pub struct RestoreOpts {
    pub id: String,
    pub common: CommonOpts,
    pub bundle: PathBuf,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    pub systemd_cgroup: bool,
}

fn common_flags(c: &CommonOpts) -> Result<CommonFlags> {
    Ok(CommonFlags {
        tcp_established: c.tcp_established,
        ext_unix_sk: c.ext_unix_sk,
        shell_job: c.shell_job,
        file_locks: c.file_locks,
        manage_cgroups_mode: c
            .manage_cgroups_mode
            .as_deref()
            .map(request::parse_cg_mode)
            .transpose()?,
        empty_ns: request::parse_empty_ns(&c.empty_ns)?,
        auto_dedup: c.auto_dedup,
        lazy_pages: c.lazy_pages,
    })
}

/// Checks `checkpoint`'s flags among themselves (nothing on disk).
pub fn checkpoint_flags(o: &CheckpointOpts) -> Result<CheckpointFlags> {
    let common = common_flags(&o.common)?;
    let status_fd = o
        .status_fd
        .as_deref()
        .map(request::parse_status_fd)
        .transpose()?
        .flatten();
    if let Some(fd) = status_fd {
        if !common.lazy_pages {
            bail!("--status-fd: only with --lazy-pages (criu reports there when lazy pages are ready)");
        }
        if fd::fstat(fd).is_err() {
            bail!("--status-fd: {fd} is not an open file descriptor");
        }
    }
    if o.pre_dump && common.lazy_pages {
        bail!("--lazy-pages: not with --pre-dump (a pre-dump copies memory and leaves the container running)");
    }
    if let Some(p) = &o.parent_path {
        if Path::new(p).is_absolute() {
            bail!("--parent-path: {p:?} must be relative (to --image-path)");
        }
    }
    Ok(CheckpointFlags {
        common,
        leave_running: o.leave_running,
        pre_dump: o.pre_dump,
        parent_path: o.parent_path.clone().filter(|p| !p.is_empty()),
        page_server: o
            .page_server
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(request::parse_page_server)
            .transpose()?,
        status_fd,
    })
}

/// `--image-path`, or `checkpoint` in the working directory (runc's default), absolute.
fn image_dir(c: &CommonOpts) -> Result<PathBuf> {
    let p = c
        .image_path
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("checkpoint"));
    std::path::absolute(&p).with_context(|| format!("--image-path {}", p.display()))
}

/// Directories made by this command, removed again unless `keep` is called.
#[derive(Default)]
struct Made(Vec<PathBuf>);

impl Made {
    /// Makes `dir` (and its missing parents, each recorded) with mode 0700.
    fn dir(&mut self, dir: &Path, flag: &str) -> Result<()> {
        let mut missing = Vec::new();
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.exists() {
                break;
            }
            missing.push(p.to_path_buf());
            d = p.parent();
        }
        for m in missing.into_iter().rev() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&m)
                .map_err(|e| anyhow!("{flag} {}: {}", m.display(), config::io_msg(&e)))?;
            self.0.push(m);
        }
        if !dir.is_dir() {
            bail!("{flag} {}: not a directory", dir.display());
        }
        Ok(())
    }

    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The CRIU check, worded for the command.
fn criu_usable(c: &CommonOpts, want: Features) -> Result<Criu> {
    criu::usable(c.criu.as_deref(), &want)
        .map_err(|e| anyhow!("CRIU is not usable on this host: {e:#}"))
}

/// How the container's `cgroup` mounts show its cgroup: a v2-only cgroup is the mount itself;
/// otherwise each hierarchy is bound at its view name under the mount.
fn cgroup_views(cg: &Cgroup) -> Vec<CgroupView> {
    if let Some(d) = cg.v2_only() {
        return vec![CgroupView {
            name: String::new(),
            host_dir: d.to_path_buf(),
        }];
    }
    cg.dirs
        .iter()
        .map(|(h, d)| CgroupView {
            name: h.view_name(),
            host_dir: d.clone(),
        })
        .collect()
}

fn masked_paths(spec: &Spec) -> &[String] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[])
}

/// The config's network namespace when it names one by path (joined, not the container's own).
fn netns_path(spec: &Spec) -> Option<PathBuf> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| {
            ns.iter()
                .find(|n| n.typ() == LinuxNamespaceType::Network)
                .and_then(|n| n.path().clone())
        })
}

/// `checkpoint`: dump a running (or paused) container to the image directory with criu; unless
/// `--leave-running` or `--pre-dump`, criu ends its processes and the container is deleted.
pub fn checkpoint(store: &Store, o: &CheckpointOpts) -> Result<()> {
    state::validate_id(&o.id)?;
    let flags = checkpoint_flags(o)?;
    let images = image_dir(&o.common)?;
    if let Some(p) = &flags.parent_path {
        let parent = images.join(p);
        if !parent.is_dir() {
            bail!("--parent-path: {} is not a directory", parent.display());
        }
    }
    let (locked, st) = store.open(&o.id)?;
    match st.status(&locked.dir) {
        Status::Running | Status::Paused => {}
        s => bail!("container {} cannot be checkpointed in {s} state", o.id),
    }
    if crate::sandbox_exec::is_sandbox(&locked.dir) {
        bail!(
            "container {} is of the sandbox class: its processes are the sentry's, which criu cannot dump",
            o.id
        );
    }
    let want = Features {
        lazy_pages: flags.common.lazy_pages.then_some(true),
        mem_track: (flags.pre_dump || flags.parent_path.is_some()).then_some(true),
        ..Default::default()
    };
    let criu = criu_usable(&o.common, want)?;
    let mut made = Made::default();
    made.dir(&images, "--image-path")?;
    let work = o
        .common
        .work_path
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(w) = &work {
        made.dir(w, "--work-path")?;
    }
    let images_fd = fd::open_dir(&images).with_context(|| format!("open {}", images.display()))?;
    let work_fd = work
        .as_ref()
        .map(|w| fd::open_dir(w).with_context(|| format!("open {}", w.display())))
        .transpose()?;
    write_descriptors(&images, st.pid)?;
    let masked_files = masked_paths(&st.config)
        .iter()
        .filter(|p| {
            std::fs::metadata(format!(
                "/proc/{}/root/{}",
                st.pid,
                p.trim_start_matches('/')
            ))
            .is_ok_and(|m| !m.is_dir())
        })
        .cloned()
        .collect();
    let netns_inode = match netns_path(&st.config) {
        Some(p) => Some(
            std::fs::metadata(&p)
                .map_err(|e| anyhow!("linux.namespaces: {}: {}", p.display(), config::io_msg(&e)))?
                .ino(),
        ),
        None => None,
    };
    let target = DumpTarget {
        pid: st.pid,
        images_dir_fd: images_fd.as_raw_fd(),
        work_dir_fd: work_fd.as_ref().map(|f| f.as_raw_fd()),
        rootfs: &st.rootfs,
        bundle: &st.bundle,
        spec: &st.config,
        freeze_cgroup: st
            .cgroup
            .controller_dir("freezer")
            .or(st.cgroup.v2_only())
            .map(|d| d.to_string_lossy().into_owned()),
        cgroups: cgroup_views(&st.cgroup),
        masked_files,
        netns_inode,
    };
    let req = request::dump_request(&flags, &target);
    log::debug(&format!(
        "checkpoint {}: {} of pid {} to {} with {}",
        o.id,
        swrk::type_name(req.r#type),
        st.pid,
        images.display(),
        criu.path.display()
    ));
    // From here the directories hold criu's log: kept, as runc keeps them.
    made.keep();
    let resp = swrk::call(&criu.path, Spawn::default(), &req, &mut |n: &Notify, _| {
        log::debug(&format!(
            "checkpoint {}: criu at {:?}",
            o.id,
            n.script.as_deref().unwrap_or("")
        ));
        Ok(())
    })?;
    if !resp.success {
        let log = work.as_ref().unwrap_or(&images).join(request::DUMP_LOG);
        bail!(
            "criu failed: {}: {}",
            swrk::type_name(req.r#type),
            criu::explain_log(&log)
        );
    }
    if !(flags.leave_running || flags.pre_dump) {
        // criu has ended the processes: what is left of the container goes, as runc's does.
        lifecycle::kill_all(&st)?;
        lifecycle::destroy(locked, &st)?;
    }
    Ok(())
}

/// Records what the init's stdio were (runc's descriptors.json): a restore gives new pipes in
/// place of the ones named there.
fn write_descriptors(images: &Path, pid: i32) -> Result<()> {
    let names: Vec<String> = (0..3)
        .map(|i| {
            std::fs::read_link(format!("/proc/{pid}/fd/{i}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "/dev/null".into())
        })
        .collect();
    let file = images.join(DESCRIPTORS);
    std::fs::write(&file, serde_json::to_vec(&names)?)
        .with_context(|| format!("write {}", file.display()))
}

pub const DESCRIPTORS: &str = "descriptors.json";

/// Checks `restore`'s flags among themselves (nothing on disk).
pub fn restore_flags(o: &RestoreOpts) -> Result<RestoreFlags> {
    Ok(RestoreFlags {
        common: common_flags(&o.common)?,
        lsm_profile: o.lsm_profile.clone().filter(|s| !s.is_empty()),
        lsm_mount_context: o.lsm_mount_context.clone().filter(|s| !s.is_empty()),
    })
}

/// The stdio names of descriptors.json whose fds are pipes: criu gives the restored process its
/// own stdio (ours) in their place.
pub fn inherited_pipes(descriptors: &[String]) -> Vec<(String, i32)> {
    descriptors
        .iter()
        .enumerate()
        .take(3)
        .filter(|(_, d)| d.starts_with("pipe:"))
        .map(|(i, d)| (d.clone(), i as i32))
        .collect()
}

/// The cgroup lines of /proc/PID/cgroup as criu's cgroup roots: each v1 hierarchy by its
/// controllers; the v2 one (controllers "") only when it is the only one.
pub fn cg_roots(proc_cgroup: &str) -> Vec<(Option<String>, String)> {
    let lines: Vec<(&str, &str)> = proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            Some((it.next()?, it.next()?))
        })
        .collect();
    let only_v2 = lines.iter().all(|(c, _)| c.is_empty());
    lines
        .into_iter()
        .filter(|(c, _)| only_v2 || !c.is_empty())
        .map(|(c, p)| ((!c.is_empty()).then(|| c.to_string()), p.to_string()))
        .collect()
}

/// `restore`: a new container `id` from the bundle's config and the images of a checkpoint.
/// Returns the exit status: 0 detached, the process's in the foreground.
pub fn restore(store: &Store, o: &RestoreOpts) -> Result<i32> {
    state::validate_id(&o.id)?;
    let flags = restore_flags(o)?;
    let images = image_dir(&o.common)?;
    if !images.is_dir() {
        bail!("--image-path {}: no such directory", images.display());
    }
    let desc_file = images.join(DESCRIPTORS);
    let descriptors: Vec<String> = match std::fs::read(&desc_file) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| anyhow!("--image-path: {}: {e}", desc_file.display()))?,
        Err(e) => bail!(
            "--image-path {}: not a checkpoint ({}: {})",
            images.display(),
            DESCRIPTORS,
            config::io_msg(&e)
        ),
    };
    let work = o
        .common
        .work_path
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(w) = &work {
        if !w.is_dir() {
            bail!("--work-path {}: no such directory", w.display());
        }
    }
    let cfg = config::load(&o.bundle)?;
    if crate::sandbox::class_of(&cfg.spec, None)? == crate::sandbox::Class::Sandbox {
        bail!("the sandbox class cannot be restored by criu (its processes are the sentry's)");
    }
    let terminal = cfg
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    lifecycle::console_rules(terminal, o.console_socket.is_some())?;
    if store.dir(&o.id).exists() {
        bail!("container with id exists: {}", o.id);
    }
    let criu = criu_usable(
        &o.common,
        Features {
            lazy_pages: flags.common.lazy_pages.then_some(true),
            ..Default::default()
        },
    )?;
    let console = lifecycle::connect_console(o.console_socket.as_deref())?;
    if !o.detach {
        // In the foreground the restored process (criu makes it our child: rst_sibling) is
        // waited for with its signals forwarded, as `run` does; criu starts with them unblocked.
        sys::set_child_subreaper().context("become a subreaper")?;
        sys::block_all_signals().context("block signals")?;
    }
    let locked = store.create(&o.id)?;
    let mut st = State {
        id: o.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: cfg.bundle.clone(),
        rootfs: cfg.rootfs.clone(),
        created: crate::time::now_rfc3339(),
        owner: String::new(),
        phase: Phase::Creating,
        cgroup: Cgroup::default(),
        config: cfg.spec.clone(),
        host_rootfs_mounts: None,
    };
    let criu_root = locked.dir.join("criu-root");
    let mut restored = None;
    let r = restore_locked(
        &locked,
        &mut st,
        o,
        &flags,
        &criu,
        &images,
        work.as_deref(),
        &descriptors,
        &criu_root,
        console,
        &mut restored,
    );
    let _ = bulkhead_linux::mount::umount(&criu_root, libc::MNT_DETACH);
    let _ = std::fs::remove_dir(&criu_root);
    let pid = match r {
        Ok(pid) => pid,
        Err(e) => {
            if st.pid > 0 || restored.is_some() {
                let _ = lifecycle::kill_all(&st);
            }
            let _ = st.cgroup.signal_all(libc::SIGKILL);
            if let Err(ce) = st.cgroup.remove() {
                log::warn(&format!("cleanup after failed restore: {ce}"));
            }
            let _ = locked.remove();
            return Err(e);
        }
    };
    drop(locked);
    if o.detach {
        return Ok(0);
    }
    let status = lifecycle::forward_and_wait(pid)?;
    lifecycle::delete(store, &o.id, true)?;
    Ok(status)
}

#[allow(clippy::too_many_arguments)]
fn restore_locked(
    locked: &Locked,
    st: &mut State,
    o: &RestoreOpts,
    flags: &RestoreFlags,
    criu: &Criu,
    images: &Path,
    work: Option<&Path>,
    descriptors: &[String],
    criu_root: &Path,
    console: Option<std::os::unix::net::UnixStream>,
    restored: &mut Option<i32>,
) -> Result<i32> {
    let driver = if o.systemd_cgroup {
        cgroups::Driver::Systemd
    } else {
        cgroups::Driver::Cgroupfs
    };
    let linux = st.config.linux().clone();
    st.cgroup = cgroups::plan(
        linux.as_ref().and_then(|l| l.cgroups_path().as_deref()),
        &o.id,
        driver,
        st.config.annotations().as_ref(),
    )?;
    st.cgroup.claim();
    locked.save(st)?;
    st.cgroup.create()?;
    locked.save(st)?;
    // criu wants the root to restore into to be a mount point.
    std::fs::create_dir(criu_root).with_context(|| format!("create {}", criu_root.display()))?;
    bulkhead_linux::mount::mount(
        Some(&st.rootfs),
        criu_root,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .with_context(|| format!("bind {} for criu", st.rootfs.display()))?;
    let images_fd = fd::open_dir(images).with_context(|| format!("open {}", images.display()))?;
    let work_fd = work
        .map(|w| fd::open_dir(w).with_context(|| format!("open {}", w.display())))
        .transpose()?;
    let netns = netns_path(&st.config)
        .map(|p| {
            std::fs::File::open(&p)
                .map_err(|e| anyhow!("linux.namespaces: {}: {}", p.display(), config::io_msg(&e)))
        })
        .transpose()?;
    let mut keep = Vec::new();
    if let Some(n) = &netns {
        keep.push(n.as_raw_fd());
    }
    // The restored process gets our stdio where its own were pipes (criu's fds 0-2 are ours).
    let swrk = swrk::Swrk::start(
        &criu.path,
        Spawn {
            stdio: Some([
                std::process::Stdio::inherit(),
                std::process::Stdio::inherit(),
                std::process::Stdio::inherit(),
            ]),
            keep,
        },
    )?;
    let criu_pid = swrk.pid();
    let devices = lifecycle::device_nodes(&st.config);
    let entered = st
        .cgroup
        .add_except(criu_pid, None)
        .and_then(|_| {
            st.cgroup.enter(
                criu_pid,
                linux.as_ref().and_then(|l| l.resources().as_ref()),
                &devices,
            )
        })
        .map_err(anyhow::Error::from);
    let proc_cgroup =
        std::fs::read_to_string(format!("/proc/{criu_pid}/cgroup")).unwrap_or_default();
    if let Err(e) = entered {
        let _ = swrk.finish();
        return Err(e.context("put criu in the container's cgroup"));
    }
    let target = RestoreTarget {
        images_dir_fd: images_fd.as_raw_fd(),
        work_dir_fd: work_fd.as_ref().map(|f| f.as_raw_fd()),
        root: criu_root,
        bundle: &st.bundle,
        spec: &st.config,
        cgroups: cgroup_views(&st.cgroup),
        masked_files: masked_paths(&st.config).to_vec(),
        netns_fd: netns.as_ref().map(|n| n.as_raw_fd()),
        inherit: inherited_pipes(descriptors),
        cg_roots: cg_roots(&proc_cgroup),
    };
    let req = request::restore_request(flags, &target);
    log::debug(&format!(
        "restore {}: RESTORE from {} with {} (pid {criu_pid})",
        o.id,
        images.display(),
        criu.path.display()
    ));
    let snapshot = st.clone();
    let mut on_notify = |n: &Notify, fds: Vec<OwnedFd>| -> Result<()> {
        let script = n.script.as_deref().unwrap_or("");
        log::debug(&format!("restore {}: criu at {script:?}", o.id));
        match script {
            "setup-namespaces" => {
                use bulkhead_container::launch::Hooks;
                let hooks = ContainerHooks {
                    hooks: snapshot.config.hooks().as_ref(),
                    state: &snapshot,
                };
                hooks
                    .create_runtime(n.pid.unwrap_or_default())
                    .map_err(|e| anyhow!(e))
            }
            "post-restore" => {
                *restored = n.pid;
                Ok(())
            }
            "orphan-pts-master" => {
                let Some(master) = fds.into_iter().next() else {
                    bail!("criu sent no terminal");
                };
                let Some(sock) = &console else {
                    bail!("the restored process has a terminal but no --console-socket was given");
                };
                bulkhead_linux::socket::send_fd(sock, b"", master.as_raw_fd())
                    .context("send the terminal to --console-socket")
            }
            _ => Ok(()),
        }
    };
    let resp = swrk::exchange(&swrk.ch, &req, &mut on_notify);
    let _ = swrk.finish();
    let resp = resp?;
    if !resp.success {
        let log = work.unwrap_or(images).join(request::RESTORE_LOG);
        bail!("criu failed: RESTORE: {}", criu::explain_log(&log));
    }
    let pid = resp
        .restore
        .as_ref()
        .map(|r| r.pid)
        .or(*restored)
        .filter(|p| *p > 0)
        .ok_or_else(|| anyhow!("criu restored no process"))?;
    *restored = Some(pid);
    st.pid = pid;
    st.pid_start = sys::start_time(pid).unwrap_or_default();
    st.phase = Phase::Started;
    locked.save(st)?;
    if let Some(p) = &o.pid_file {
        state::write_pid_file(p, pid)?;
    }
    Ok(pid)
}

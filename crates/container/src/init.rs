//! The container's init: a fork of the runtime that sets itself up inside its new namespaces,
//! waits for `start`, and becomes the container's program with exec. No second binary is
//! executed on the way (no re-exec, no copy of the runtime).

use crate::error::{Context, Error, Result};
use crate::launch::{Hooks, Launch};
use crate::mounts::MountContext;
use crate::namespaces;
use crate::process::{self, ProcessOpts};
use crate::rootfs;
use crate::sync::{self, Channel};
use crate::trace;
use bulkhead_linux::process as sys;
use oci_spec::runtime::LinuxNamespaceType as T;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The v1 `tasks` files the runtime opened for an init in a new user namespace, with their
/// directories (`Cgroup::open_v1_tasks`).
type Tasks = Option<Vec<(std::path::PathBuf, std::fs::File)>>;

/// Runs in the forked child; never returns.
/// `joined`: the cgroup directory the init was cloned into, and the `tasks` files it joins
/// the v1 hierarchies by when it is in a new user namespace.
pub fn run(
    l: &Launch,
    opened: &[(T, OwnedFd)],
    idmapped: &[Option<OwnedFd>],
    ch: Channel,
    hooks: &dyn Hooks,
    (joined, tasks): (Option<&Path>, Tasks),
) -> ! {
    let mut start_conn = None;
    let code = match set_up(
        l,
        opened,
        idmapped,
        &ch,
        hooks,
        (joined, tasks),
        &mut start_conn,
    ) {
        Ok(never) => match never {},
        Err(e) => {
            // Before `start` the runtime's create is listening; after it, `start` is.
            match start_conn {
                Some(mut c) => {
                    let _ = c.write_all(format!("error:{e}").as_bytes());
                }
                None => ch.send_error(&e.to_string()),
            }
            1
        }
    };
    sys::exit_now(code)
}

enum Never {}

fn set_up(
    l: &Launch,
    opened: &[(T, OwnedFd)],
    idmapped: &[Option<OwnedFd>],
    ch: &Channel,
    hooks: &dyn Hooks,
    (joined, tasks): (Option<&Path>, Tasks),
    start_conn: &mut Option<UnixStream>,
) -> Result<Never> {
    if let Some(tasks) = tasks {
        // In a new user namespace: into the v1 hierarchies at once, through the files the
        // runtime opened (before anything is charged to its cgroups; the files are closed).
        crate::cgroups::join_self_by(tasks)?;
    }
    // If the runtime dies during set-up, so do we; cleared once we are ready.
    sys::set_parent_death_signal(libc::SIGKILL).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    // The runtime writes our uid/gid maps first: while we are dumpable our /proc files belong
    // to our owner, which an unprivileged (rootless) runtime needs. Nothing else is in our new
    // namespaces yet to look at us.
    let host_pid = ch.expect_pid()?;
    trace::step(|| format!("init[{host_pid}]: child process in init()"));
    if !l.ns.creates(T::User) {
        // Before anything is charged to the runtime's cgroups (in a new user namespace the
        // runtime has moved us already).
        l.cgroup.join_self_except(joined)?;
    }
    // Until exec, no process of the container may open our /proc/<pid>/exe, mem or fds.
    sys::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    let userns = l.ns.has(T::User);
    if l.ns.creates(T::User) {
        sys::setresgid(0).ctx(|| "become root in the user namespace (gid)".into())?;
        sys::setresuid(0).ctx(|| "become root in the user namespace (uid)".into())?;
    }
    namespaces::join(opened)?;
    for (t, _) in opened {
        trace::step(|| {
            format!(
                "init[{host_pid}]: joined the {} namespace",
                namespaces::proc_name(*t)
            )
        });
    }
    if l.ns.new_cgroup {
        // Now that the runtime has put us in our cgroup, it becomes the namespace's root.
        bulkhead_linux::ns::unshare(libc::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace".into())?;
        trace::step(|| format!("init[{host_pid}]: unshared the cgroup namespace"));
    }
    set_identity(l)?;
    if l.ns.creates(T::Network) {
        // A new network namespace starts with `lo` down; runc brings it up (a joined one is
        // left as its owner set it).
        bulkhead_linux::socket::set_loopback_up()
            .ctx(|| "bring the loopback interface of the new network namespace up".into())?;
        trace::step(|| format!("init[{host_pid}]: loopback interface up"));
    }
    // Asked here: the container's root, after pivot_root, has no selinuxfs.
    let selinux = crate::attributes::selinux_enabled();
    let label = l
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.selinux_label().as_deref());
    if l.new_keyring {
        // The keyring gets the process's label, as runc gives it.
        crate::attributes::selinux_label("keycreate", label, selinux)?;
        sys::join_new_session_keyring().ctx(|| "join a new session keyring".into())?;
    }
    if l.runner.is_some() && !l.ns.has(T::Mount) {
        return Err(Error::Config(
            "linux.namespaces: the sandbox class needs a mount namespace".into(),
        ));
    }
    let proc_ = l
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("process: missing".into()))?;
    if let Some(adj) = proc_.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| format!("process.oomScoreAdj: set {adj}"))?;
    }
    let ctx = MountContext {
        bundle: &l.bundle,
        userns,
        mountns: l.ns.has(T::Mount),
        cgroupns: l.ns.has(T::Cgroup),
        netns: l.ns.has(T::Network),
        cgroup: Some(l.cgroup),
        idmapped,
        mount_label: l
            .spec
            .linux()
            .as_ref()
            .and_then(|x| x.mount_label().as_deref())
            .filter(|_| selinux),
        devices: l.runner.is_none(),
    };
    let root = rootfs::prepare(l.spec, &l.rootfs, &ctx)?;
    trace::step(|| {
        format!(
            "init[{host_pid}]: root filesystem {} prepared (mounts, devices)",
            l.rootfs.display()
        )
    });
    ch.send(sync::HOOKS)?;
    ch.expect(sync::GO)?;
    // createContainer hooks run in the container's mount namespace before pivot_root, with
    // the root filesystem as their working directory (as runc's do).
    sys::chdir(&l.rootfs).ctx(|| format!("chdir to the root filesystem {}", l.rootfs.display()))?;
    trace::step(|| format!("init[{host_pid}]: running createContainer hooks"));
    hooks.create_container(host_pid).map_err(Error::Child)?;
    drop(root);
    rootfs::pivot(&l.rootfs, l.no_pivot, l.ns.has(T::Mount))?;
    trace::step(|| {
        let how = if !l.ns.has(T::Mount) {
            "chroot"
        } else if l.no_pivot {
            "moved onto /"
        } else {
            "pivot_root"
        };
        format!("init[{host_pid}]: {how} into {}", l.rootfs.display())
    });
    rootfs::finish(l.spec, &l.ns)?;
    if let Some(p) = l
        .spec
        .linux()
        .as_ref()
        .and_then(|x| x.personality().as_ref())
    {
        crate::attributes::personality(p)?;
    }
    let opts = ProcessOpts {
        channel: ch.0.try_clone().ok().map(crate::sync::Channel),
        console: l.console.as_ref().and_then(|c| c.try_clone().ok()),
        setgroups_allowed: setgroups_allowed(userns),
        runtime: l.runtime,
        seccomp: l.spec.linux().as_ref().and_then(|x| x.seccomp().clone()),
        selinux,
    };
    process::setup_session(proc_, &opts)?;
    if let Some(runner) = l.runner {
        // The sandbox class: the program is found now, but run by the runner after `start`,
        // which confines itself; no host identity change and no exec here.
        let path = process::find_program(proc_)?;
        drop(opts);
        sys::set_parent_death_signal(0).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
        terminate_on_signals();
        fd_headroom(ch)?;
        ch.send(sync::READY)?;
        let conn = wait_for_start(l)?;
        *start_conn = Some(conn);
        hooks.start_container(host_pid).map_err(Error::Child)?;
        // `start` is told that the program runs by the end of its connection.
        drop(start_conn.take());
        sys::reset_signal_handlers();
        // Past this point the sync channel may be out of reach (the sentry confines itself):
        // a failure is told on stderr, as a program's own would be.
        match runner.run(&path, proc_) {
            Ok(status) => sys::exit_now(status),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{e}");
                sys::exit_now(1)
            }
        }
    }
    let prepared = process::prepare(proc_, &opts)?;
    drop(opts);
    sys::set_parent_death_signal(0).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    terminate_on_signals();
    fd_headroom(ch)?;
    trace::step(|| format!("init[{host_pid}]: set-up complete, waiting for start"));
    ch.send(sync::READY)?;
    *start_conn = Some(wait_for_start(l)?);
    trace::step(|| format!("init[{host_pid}]: start received, running startContainer hooks"));
    hooks.start_container(host_pid).map_err(Error::Child)?;
    trace::step(|| {
        format!(
            "init[{host_pid}]: about to exec {}",
            prepared.path.display()
        )
    });
    Err(process::exec(&prepared, l.preserve_fds))
}

/// As pid 1 of its namespace the waiting init would ignore every signal without a handler;
/// `kill` of a created container must still end it (runc's init behaves the same way), so the
/// usual terminating signals get a handler that exits. exec resets them.
fn terminate_on_signals() {
    for sig in [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        sys::exit_on_signal(sig);
    }
}

fn set_identity(l: &Launch) -> Result<()> {
    if let Some(h) = l.spec.hostname().as_deref() {
        if !l.ns.has(T::Uts) {
            return Err(Error::Config("hostname: needs a uts namespace".into()));
        }
        sys::sethostname(h).ctx(|| format!("hostname: set {h:?}"))?;
    }
    if let Some(d) = l.spec.domainname().as_deref() {
        if !l.ns.has(T::Uts) {
            return Err(Error::Config("domainname: needs a uts namespace".into()));
        }
        sys::setdomainname(d).ctx(|| format!("domainname: set {d:?}"))?;
    }
    Ok(())
}

fn setgroups_allowed(userns: bool) -> bool {
    !userns
        || std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() == "allow")
            .unwrap_or(true)
}

/// The init accepts `start`'s connection after `create` has returned, with the config's
/// RLIMIT_NOFILE already applied: a limit that leaves it no free descriptor would make it die
/// unheard then ("cannot start a container that has stopped"). Found out now, while `create` is
/// still listening, and refused there (runc also fails such a config at create).
fn fd_headroom(ch: &Channel) -> Result<()> {
    ch.0.try_clone().map(drop).map_err(|e| {
        Error::Config(format!(
            "process.rlimits: RLIMIT_NOFILE leaves the container's init no free file \
             descriptor to wait for start with ({e})"
        ))
    })
}

/// Blocks until `start` connects and sends its byte. The connection is returned and stays open
/// (close-on-exec): `start` reads it to learn whether the exec succeeded (end-of-file) or failed
/// (a message).
fn wait_for_start(l: &Launch) -> Result<UnixStream> {
    loop {
        let (mut conn, _) = l.start.accept().ctx(|| "wait for start".into())?;
        let mut b = [0u8; 1];
        if conn.read(&mut b).unwrap_or(0) == 1 {
            return Ok(conn);
        }
    }
}

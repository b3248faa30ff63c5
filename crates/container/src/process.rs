//! The last steps every container process takes, for the init and for `exec` alike: session and
//! terminal, rlimits, identity, environment, working directory, and the exec itself.

use crate::attributes;
use crate::credentials::{self, CapSets};
use crate::error::{Context, Error, Result};
use crate::exe;
use crate::seccomp;
use bulkhead_linux::{fd, process as sys, pty};
use oci_spec::runtime::{LinuxSeccomp, Process};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// A process, checked and ready to start.
pub struct Prepared {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// A seccomp filter to load as late as possible, right before exec (with no_new_privs).
    pub late_seccomp: Option<LinuxSeccomp>,
}

/// Options that come from the command line rather than the config.
#[derive(Default)]
pub struct ProcessOpts {
    /// Where to send the terminal's master, when `process.terminal` is set.
    pub console: Option<UnixStream>,
    /// Whether the process may call setgroups (false in a user namespace that denies it).
    pub setgroups_allowed: bool,
    /// The runtime binary's identity, to refuse executing it (CVE-2019-5736).
    pub runtime: (u64, u64),
    /// The container's `linux.seccomp`.
    pub seccomp: Option<LinuxSeccomp>,
    /// The channel to the runtime, for the seccomp notify fd.
    pub channel: Option<crate::sync::Channel>,
    /// Whether the host has SELinux (asked before pivot_root).
    pub selinux: bool,
}

/// Session, terminal and rlimits: done while still privileged.
pub fn setup_session(p: &Process, opts: &ProcessOpts) -> Result<()> {
    sys::setsid().ctx(|| "setsid".into())?;
    if p.terminal().unwrap_or(false) {
        let console = opts.console.as_ref().ok_or_else(|| {
            Error::Config("process.terminal is true but no console socket was given".into())
        })?;
        setup_terminal(p, console)?;
    }
    credentials::apply_rlimits(p.rlimits().as_deref().unwrap_or(&[]))?;
    // Attributes that need privilege: set before the capabilities go.
    attributes::io_priority(p)?;
    attributes::scheduler(p)?;
    attributes::apparmor(p)?;
    attributes::selinux_label("exec", p.selinux_label().as_deref(), opts.selinux)
}

fn setup_terminal(p: &Process, console: &UnixStream) -> Result<()> {
    let ptmx = if Path::new("/dev/pts/ptmx").exists() {
        "/dev/pts/ptmx"
    } else {
        "/dev/ptmx"
    };
    let (master, slave) =
        pty::open_pty(Path::new(ptmx)).ctx(|| format!("open terminal through {ptmx}"))?;
    if let Some(size) = p.console_size() {
        pty::set_winsize(&slave, size.height() as u16, size.width() as u16)
            .ctx(|| "process.consoleSize".into())?;
    }
    let name = std::fs::read_link(fd::proc_fd_path(&slave)).unwrap_or_default();
    for target in 0..3 {
        fd::dup2(slave.as_raw_fd(), target).ctx(|| "attach terminal to stdio".into())?;
    }
    pty::set_controlling_tty(&slave).ctx(|| "set controlling terminal".into())?;
    bulkhead_linux::socket::send_fd(
        console,
        name.as_os_str().as_encoded_bytes(),
        master.as_raw_fd(),
    )
    .ctx(|| "send terminal to the console socket".into())
}

/// Identity and environment: switch user, apply capabilities and no_new_privs, find the program.
pub fn prepare(p: &Process, opts: &ProcessOpts) -> Result<Prepared> {
    let caps = CapSets::from_config(p.capabilities().as_ref())?;
    let nnp = p.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
    // capabilities go (as runc does). With it, load it as late as possible (in `exec`), so the
    // runtime's own set-up calls are not filtered.
    // A profile with a notify rule is loaded now in any case: its fd must reach the runtime
    // (and from there the listener) before the process is reported ready.
    let notify = opts.seccomp.as_ref().is_some_and(seccomp::uses_notify);
    if nnp && notify {
        sys::set_no_new_privs().ctx(|| "process.noNewPrivileges".into())?;
    }
    if !nnp || notify {
        if let Some(s) = &opts.seccomp {
            if let Some(fd) = seccomp::load(s)? {
                let ch = opts.channel.as_ref().ok_or_else(|| {
                    Error::Config("linux.seccomp: no runtime to pass the notify fd to".into())
                })?;
                ch.send(crate::sync::SECCOMP)?;
                ch.send_fd("fd", &fd)?;
            }
        }
    }
    // The working directory, as runc enters it: first while still privileged, so that a cwd the
    // process's user may not enter (/root, mode 0700, for uid 1000) still works; on a
    // permission error again once the user is switched (a directory only that user may enter,
    // such as a volume chowned to it, under a runtime without CAP_DAC_OVERRIDE over it).
    let cwd = p.cwd();
    let chdir = || sys::chdir(cwd).ctx(|| format!("process.cwd: chdir to {}", cwd.display()));
    let mut entered = false;
    match sys::chdir(cwd) {
        Ok(()) => entered = true,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {}
        Err(_) => chdir()?,
    }
    credentials::switch_user(p.user(), &caps, opts.setgroups_allowed)?;
    if nnp {
        sys::set_no_new_privs().ctx(|| "process.noNewPrivileges".into())?;
    }
    if let Some(mask) = p.user().umask() {
        sys::umask(mask);
    }
    if !entered {
        chdir()?;
    }
    // CVE-2024-21626: a cwd like /proc/self/fd/N can name a directory of the host that the
    // runtime still has open. The kernel then cannot express the cwd inside our root, and getcwd
    // fails; refuse to run with a working directory outside the container.
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => {}
        _ => {
            return Err(Error::Config(format!(
                "process.cwd: {} is outside the container's root filesystem",
                cwd.display()
            )))
        }
    }
    let args = p.args().clone().unwrap_or_default();
    let Some(prog) = args.first() else {
        return Err(Error::Config("process.args: must not be empty".into()));
    };
    let env = env_with_home(p);
    let path = exe::resolve(prog, &env)?;
    exe::check_not_runtime(&path, opts.runtime)?;
    let late_seccomp = if nnp && !notify {
        opts.seccomp.clone()
    } else {
        None
    };
    Ok(Prepared {
        path,
        args,
        env,
        late_seccomp,
    })
}

/// The process's environment, with HOME from the user's passwd entry (read from the root
/// this process sees) when the config sets none, as runc does.
pub fn env_with_home(p: &Process) -> Vec<String> {
    let mut env = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(p.user().uid())));
    }
    env
}

/// The program of `p`, looked up in the container's PATH (for a runner that is not exec).
pub fn find_program(p: &Process) -> Result<PathBuf> {
    let args = p.args().clone().unwrap_or_default();
    let prog = args
        .first()
        .ok_or_else(|| Error::Config("process.args: must not be empty".into()))?;
    let env = p.env().clone().unwrap_or_default();
    let cwd = p.cwd();
    // A relative program name with a slash is relative to the process's cwd.
    if prog.contains('/') && !prog.starts_with('/') {
        return Ok(cwd.join(prog));
    }
    exe::resolve(prog, &env)
}

/// The home directory of `uid` from the container's /etc/passwd, or "/".
fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
        })
        .next()
        .unwrap_or_else(|| "/".into())
}

/// Makes every fd but stdio and the preserved ones close-on-exec, then execs. Returns only on
/// failure, with runc's wording for the error.
pub fn exec(prep: &Prepared, preserve_fds: u32) -> Error {
    if let Some(s) = &prep.late_seccomp {
        if let Err(e) = seccomp::load(s) {
            return e;
        }
    }
    if let Err(e) = fd::cloexec_from(3 + preserve_fds) {
        return Error::Sys {
            what: "mark fds close-on-exec".into(),
            err: e,
        };
    }
    sys::reset_signal_handlers();
    let err = sys::execve(&prep.path, &prep.args, &prep.env);
    Error::Child(format!("exec {:?}: {}", prep.path, err))
}

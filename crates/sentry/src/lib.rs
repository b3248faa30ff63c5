//! The sandbox class: bulkhead's user-space kernel, the sentry. The application's system calls
//! are caught by the platform and served here; the host kernel never runs them. The layout
//! follows the kernel's own: platform (where the application runs), mm (its memory), vfs and
//! procfs (its files), pipe, loader (exec), syscalls (the table, per subsystem), kernel
//! (tasks, blocking, fork/exec/exit), signals, confine (the sentry's own cage).

pub mod confine;
pub mod dcache;
pub mod epoll;
pub mod eventfd;
pub mod fifo;
pub mod filecache;
mod host;
pub mod inotify;
pub mod kernel;
pub mod loader;
pub mod locks;
pub mod mm;
pub mod net;
pub mod patch;
pub mod perm;
pub mod pipe;
pub mod platform;
pub mod procfs;
pub mod ready;
pub mod signals;
pub mod stdio;
pub mod syscalls;
pub mod timerfd;
pub mod vfs;

use kernel::{Creds, Task};
use std::cell::RefCell;
use std::os::fd::{OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::OnceLock;

static HOST_RELEASE: OnceLock<String> = OnceLock::new();
static CPUS: OnceLock<u32> = OnceLock::new();
static MEM_TOTAL: OnceLock<u64> = OnceLock::new();

/// What to run in the sandbox.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// The executable's path inside the sandbox (already looked up in PATH).
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub umask: u32,
    /// Supplementary groups (process.user.additionalGids).
    pub groups: Vec<u32>,
    pub hostname: String,
    /// Capability sets (effective, permitted, inheritable, bounding, ambient) as bit masks.
    pub caps: [u64; 5],
    /// process.noNewPrivileges.
    pub no_new_privs: bool,
    /// process.terminal: the sentry's stdin is the container's console, the controlling
    /// terminal of the program's session (/dev/tty there; ENXIO in any other session).
    pub terminal: bool,
    /// The host fds the container's stdin, stdout and stderr are served from, when not 0, 1
    /// and 2: the runtime's descriptions of them of the sentry's own (stdio.rs).
    pub stdio: Option<[RawFd; 3]>,
}

/// What the sandbox reports when the program is gone.
pub struct Outcome {
    pub status: i32,
    /// "name(nr)=count ..." of the system calls answered with ENOSYS.
    pub enosys: String,
}

/// What the sentry sets up while it can still reach the host: the host facts /proc reports,
/// the stub code page, the memory file, the SIGCHLD signalfd its loop waits on.
pub struct Prepared {
    proc_: procfs::Proc,
    /// The sentry's own resource limits: the application's to start with.
    limits: kernel::limits::Limits,
    memory: Rc<RefCell<mm::Memory>>,
    platform: platform::Platform,
    sigchld: OwnedFd,
    /// Other threads share the process (the sentry embedded in a test): SIGCHLD may go to
    /// one of them rather than to the signalfd, so the loop must not wait on it alone.
    shared_sigchld: bool,
}

impl Prepared {
    /// The memory file's fd, which `confine::confine` needs for its rule.
    pub fn mem_fd(&self) -> i32 {
        self.memory.borrow().fd()
    }
}

/// Facts about the host the sandbox reports (uname's release, CPUs, memory, the CPU model),
/// read by the runtime while it can see the host's /proc.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub release: String,
    pub cpus: u32,
    pub mem_total: u64,
    pub cpuinfo: String,
    /// The host's vDSO in this process: (start of its data pages, the vDSO's ELF header, end),
    /// from /proc/self/maps. The sentry's processes are forked from this one, so it is at the
    /// same place in them, and every stub keeps it (platform::Vdso).
    pub vdso: Option<(u64, u64, u64)>,
}

impl HostFacts {
    pub fn read() -> HostFacts {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let total_kb: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 20);
        HostFacts {
            release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            mem_total: total_kb * 1024,
            cpuinfo: std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
            vdso: std::fs::read_to_string("/proc/self/maps")
                .ok()
                .and_then(|m| platform::Vdso::find_in_maps(&m)),
        }
    }
}

/// Runs before `confine::confine`: the memory file and the platform (`kind`).
pub fn prepare(facts: &HostFacts, kind: platform::Kind) -> Result<Prepared, String> {
    host::tune_malloc();
    let _ = HOST_RELEASE.set(if facts.release.is_empty() {
        "6.0.0".into()
    } else {
        facts.release.clone()
    });
    let _ = CPUS.set(facts.cpus.max(1));
    let _ = MEM_TOTAL.set(facts.mem_total);
    let proc_ = procfs::Proc {
        pid: 1,
        cpuinfo: facts.cpuinfo.as_str().into(),
        mem_total: facts.mem_total,
        ..Default::default()
    };
    if let Some((start, ehdr, end)) = facts.vdso {
        platform::Vdso::keep(start, ehdr, end);
    }
    let memory = mm::Memory::new().map_err(|e| format!("sentry: memory file: {e}"))?;
    let platform = platform::Platform::new(kind, &memory)
        .map_err(|e| format!("sentry: platform {}: {e}", kind.name()))?;
    let sigchld = host::signal_fd().map_err(|e| format!("sentry: signalfd: {e}"))?;
    Ok(Prepared {
        proc_,
        limits: kernel::limits::from_host(),
        memory,
        platform,
        sigchld,
        // Without /proc to tell (the sandbox drops the proc mount) it is the runtime's
        // forked init: one thread.
        shared_sigchld: host::thread_count().is_some_and(|n| n > 1),
    })
}

/// Runs `prog` with the rootfs reached only through `root`. The caller has confined the
/// process already (or, in tests, chooses not to). `entry`, when given, is a listening socket
/// on which `bulkhead exec` asks for more processes (kernel/entry.rs).
pub fn run(
    root: OwnedFd,
    prep: Prepared,
    prog: &Program,
    entry: Option<OwnedFd>,
) -> Result<Outcome, String> {
    let Prepared {
        proc_,
        limits,
        memory,
        platform,
        sigchld,
        shared_sigchld,
    } = prep;
    let mut stub = platform
        .spawn()
        .map_err(|e| format!("sentry: platform: {e}"))?;
    let base = stub.base_regs();
    let mut fs = vfs::Fs::new(root, proc_);
    inotify::set_root(fs.root());
    fs.set_umask(prog.umask);
    fs.chdir(&vfs::normalize("/", &prog.cwd)).map_err(|e| {
        format!(
            "sentry: process.cwd {}: {}",
            prog.cwd,
            std::io::Error::from_raw_os_error(e)
        )
    })?;
    let mut mm = mm::Mm::new(&memory);
    // As the container class's init has them just before its execve, which applies to them
    // what an execve does.
    let creds = Creds::new(
        prog.uid,
        prog.gid,
        &prog.groups,
        kernel::creds::CapSets::from_masks(prog.caps),
        prog.no_new_privs,
    );
    let loaded = loader::load(
        &fs,
        &mut mm,
        stub.as_mut(),
        &base,
        &prog.path,
        prog.args.clone(),
        &prog.env,
        &creds,
    )
    .map_err(|e| {
        format!(
            "sentry: exec {:?}: {}",
            prog.path,
            std::io::Error::from_raw_os_error(e)
        )
    })?;
    syscalls::set_console(prog.terminal);
    stdio::set_container(prog.stdio.unwrap_or([0, 1, 2]));
    let fds = vfs::FdTable::default();
    for n in 0..3 {
        let host = vfs::Node::Stdio(stdio::container(n));
        fds.install_at(
            n as i32,
            vfs::wrap(host, libc::O_RDWR, &format!("/dev/fd/{n}")),
            false,
        );
    }
    let mut kernel = kernel::Kernel::new(memory, base, sigchld, Rc::new(platform));
    kernel.shared_sigchld = shared_sigchld;
    kernel.entry = entry.map(kernel::entry::Entry::new);
    let task = Task::new_process(kernel::task::NewProcess {
        pid: kernel.alloc_pid(),
        loaded,
        mm,
        asp: stub,
        fs,
        fds,
        hostname: prog.hostname.clone(),
        env: prog.env.clone(),
        unimplemented: Rc::new(RefCell::new(Default::default())),
        rlimits: limits,
    });
    let report = task.enosys_report_fn();
    kernel.insert(task);
    let status = kernel.run();
    Ok(Outcome {
        status,
        enosys: report(),
    })
}

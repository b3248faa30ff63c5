//! The command line, flag for flag as runc has it.

use bulkhead_runtime::checkpoint::{CheckpointOpts, CommonOpts, RestoreOpts};
use bulkhead_runtime::exec::ExecOpts;
use bulkhead_runtime::lifecycle::CreateOpts;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "bulkhead",
    about = "A secure container runtime (OCI, runc-compatible)",
    // runc's `-v`/`--version` (several lines, see main.rs) and its `help, h` command.
    disable_version_flag = true,
    disable_help_subcommand = true,
    after_help = "A container is made from a bundle: a directory holding config.json and a root\nfilesystem. `bulkhead spec` writes a default config.json; `bulkhead run -b BUNDLE ID` runs it."
)]
pub struct Cli {
    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Root directory for container state
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        default_value = "/run/bulkhead"
    )]
    pub root: String,
    /// Log file (default: stderr)
    #[arg(long, global = true, help_heading = "Global options")]
    pub log: Option<String>,
    /// Log format: text or json
    #[arg(
        long = "log-format",
        global = true,
        help_heading = "Global options",
        default_value = "text"
    )]
    pub log_format: String,
    /// Enable debug logging
    #[arg(long, global = true, help_heading = "Global options")]
    pub debug: bool,
    /// Use systemd to manage cgroups
    #[arg(
        long = "systemd-cgroup",
        global = true,
        help_heading = "Global options"
    )]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, global = true, help_heading = "Global options", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Path of the criu binary for checkpoint and restore (default: criu in PATH)
    #[arg(long, global = true, help_heading = "Global options")]
    pub criu: Option<String>,
    /// Isolation class when the config's dev.bulkhead.class annotation names none: container or sandbox
    #[arg(long, global = true, help_heading = "Global options")]
    pub class: Option<String>,
    /// Sandbox platform when the config's dev.bulkhead.sandbox.platform annotation names none: systrap (default) or ptrace
    #[arg(
        long = "sandbox-platform",
        global = true,
        help_heading = "Global options"
    )]
    pub sandbox_platform: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// AF_UNIX socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for a ramdisk root)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Number of extra fds (from 3) to pass to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Ignored (bulkhead does not make itself a subreaper)
    #[arg(long = "no-subreaper", hide = true)]
    pub no_subreaper: bool,
    pub id: String,
}

impl CreateArgs {
    pub fn to_opts(&self, detach: bool, class: Option<String>) -> CreateOpts {
        CreateOpts {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            console_socket: self.console_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            detach,
            class,
            sandbox_platform: None,
            systemd_cgroup: false,
        }
    }
}

#[derive(Args, Debug)]
#[command(mut_arg("no_subreaper", |a| a.hide(false)))]
pub struct RunArgs {
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// AF_UNIX socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables to set
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// process.json with the process to run
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Detach from the process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label (not applied yet)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile (not applied yet)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Number of extra fds (from 3) to pass to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in a sub-cgroup of the container's: [CONTROLLER:]PATH
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Exec even when the container is paused
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl From<&ExecArgs> for ExecOpts {
    fn from(e: &ExecArgs) -> ExecOpts {
        ExecOpts {
            id: e.id.clone(),
            process: e.process.clone(),
            args: e.command.clone(),
            detach: e.detach,
            pid_file: e.pid_file.clone(),
            console_socket: e.console_socket.clone(),
            tty: e.tty,
            cwd: e.cwd.clone(),
            env: e.env.clone(),
            user: e.user.clone(),
            additional_gids: e.additional_gids.clone(),
            caps: e.cap.clone(),
            preserve_fds: e.preserve_fds,
            no_new_privs: e.no_new_privs,
            ignore_paused: e.ignore_paused,
            process_spec: None,
            cgroup: e.cgroup.clone(),
        }
    }
}

/// The commands, in the order runc's help lists them.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Checkpoint a running container (with CRIU)
    Checkpoint(CheckpointArgs),
    /// Create a container (it waits for `start`)
    Create(CreateArgs),
    /// Delete a stopped container
    Delete {
        /// Kill the container first if it is running
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Stream a container's events (stats, OOM) as JSON lines
    Events {
        /// Print the stats once and exit
        #[arg(long)]
        stats: bool,
        /// Interval between stats (Go duration: 5s, 100ms)
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Run a process in a container
    Exec(ExecArgs),
    /// Send a signal to a container's init (default SIGTERM)
    Kill {
        /// Signal every process of the container
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// List containers
    List {
        /// table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Print only the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// List a container's processes
    Ps {
        /// table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1) (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Restore a container from a checkpoint (with CRIU)
    Restore(RestoreArgs),
    /// Thaw a paused container
    Resume { id: String },
    /// Create and start a container
    Run(RunArgs),
    /// Write a default config.json
    Spec {
        /// Bundle directory to write config.json into (`--rootless` makes a rootless spec)
        #[arg(short, long)]
        bundle: Option<PathBuf>,
    },
    /// Start a created container
    Start { id: String },
    /// Print a container's state as JSON
    State { id: String },
    /// Change a container's resource limits
    Update(UpdateArgs),
    /// Print the runtime's features as JSON
    Features,
    /// Print the help of bulkhead or of one command
    #[command(visible_alias = "h")]
    Help {
        /// The command to describe
        command: Option<String>,
    },
}

/// `checkpoint`'s flags, as runc has them.
#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Directory for the criu image files
    #[arg(long = "image-path")]
    pub image_path: Option<String>,
    /// Directory for criu's work files and logs
    #[arg(long = "work-path")]
    pub work_path: Option<String>,
    /// Directory of a previous pre-dump
    #[arg(long = "parent-path")]
    pub parent_path: Option<String>,
    /// Keep the container running after the checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Allow established TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Restore memory lazily with userfaultfd
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// FD criu writes \0 to when lazy pages are ready
    #[arg(long = "status-fd", allow_hyphen_values = true)]
    pub status_fd: Option<String>,
    /// ADDRESS:PORT of a page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Checkpoint file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Dump memory only and leave the container running
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// cgroups mode: soft, full or strict
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Namespace to create but not restore
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Deduplicate memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    pub id: String,
}

/// `restore`'s flags, as runc has them.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// AF_UNIX socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Directory of the criu image files
    #[arg(long = "image-path")]
    pub image_path: Option<String>,
    /// Directory for criu's work files and logs
    #[arg(long = "work-path")]
    pub work_path: Option<String>,
    /// Allow established TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Restore file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// cgroups mode: soft, full or strict
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Path to the bundle directory
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Ignored (bulkhead does not make itself a subreaper)
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted as runc's (criu restores the root the images name; no pivot_root is made)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Namespace to create but not restore
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Deduplicate memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Restore memory lazily with userfaultfd
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// LSM profile to restore with, TYPE:NAME
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// LSM mount context to restore with
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON file of linux.resources ("-" for stdin)
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with k/m/g), -1 for unlimited
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit, -1 for unlimited
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit, -1 for none
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", allow_hyphen_values = true)]
    pub cpu_share: Option<String>,
    /// CPU CFS period (microseconds)
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// CPU CFS quota (microseconds), -1 for unlimited
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU realtime period (microseconds)
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime runtime (microseconds), -1 for unlimited
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to run on
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes, -1 (or 0) for no limit
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Block IO weight (10..1000)
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
    /// Intel RDT L3 cache schema (this host has no Intel RDT)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (this host has no Intel RDT)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

/// runc (Go's flag parser) accepts long options with a single dash ("-bundle"). Rewrite those
/// to clap's double dash, for the option names we know, up to the first "--" or the command of
/// an `exec` (whose own arguments are not ours to touch).
pub fn normalize(args: Vec<OsString>) -> Vec<OsString> {
    const LONG: &[&str] = &[
        "root",
        "log",
        "log-format",
        "debug",
        "systemd-cgroup",
        "rootless",
        "bundle",
        "console-socket",
        "pid-file",
        "no-pivot",
        "no-new-keyring",
        "preserve-fds",
        "detach",
        "keep",
        "force",
        "all",
        "format",
        "process",
        "tty",
        "cwd",
        "env",
        "user",
        "cap",
        "no-new-privs",
        "additional-gids",
        "process-label",
        "apparmor",
        "quiet",
        "no-subreaper",
        "criu",
        "ignore-paused",
        "cgroup",
        "version",
        "help",
        "stats",
        "interval",
        "resources",
        "memory",
        "memory-swap",
        "memory-reservation",
        "cpu-share",
        "cpu-period",
        "cpu-quota",
        "cpu-rt-period",
        "cpu-rt-runtime",
        "cpuset-cpus",
        "cpuset-mems",
        "pids-limit",
        "blkio-weight",
        "l3-cache-schema",
        "mem-bw-schema",
    ];
    let mut out = Vec::with_capacity(args.len());
    let mut in_exec = false;
    let mut stop = false;
    for (i, a) in args.into_iter().enumerate() {
        let s = a.to_string_lossy().into_owned();
        if i == 0 || stop {
            out.push(a);
            continue;
        }
        if s == "--" {
            stop = true;
        } else if s == "exec" && !in_exec {
            in_exec = true;
        } else if in_exec
            && !s.starts_with('-')
            && !out
                .last()
                .is_some_and(|p: &OsString| takes_value(&p.to_string_lossy()))
        {
            stop = true; // the container id: what follows is the command
        }
        if let Some(rest) = s.strip_prefix('-').filter(|r| !r.starts_with('-')) {
            let name = rest.split('=').next().unwrap_or(rest);
            if LONG.contains(&name) && name.len() > 1 {
                out.push(OsString::from(format!("-{s}")));
                continue;
            }
        }
        out.push(a);
    }
    out
}

fn takes_value(flag: &str) -> bool {
    let f = flag.trim_start_matches('-');
    !f.contains('=')
        && matches!(
            f,
            "root"
                | "log"
                | "log-format"
                | "console-socket"
                | "pid-file"
                | "cwd"
                | "env"
                | "e"
                | "user"
                | "u"
                | "process"
                | "p"
                | "cap"
                | "c"
                | "additional-gids"
                | "g"
                | "process-label"
                | "apparmor"
                | "preserve-fds"
                | "bundle"
                | "b"
                | "cgroup"
        )
}

impl CheckpointArgs {
    pub fn to_opts(&self, criu: Option<String>) -> CheckpointOpts {
        CheckpointOpts {
            id: self.id.clone(),
            common: CommonOpts {
                criu,
                image_path: self.image_path.as_ref().map(PathBuf::from),
                work_path: self.work_path.as_ref().map(PathBuf::from),
                tcp_established: self.tcp_established,
                ext_unix_sk: self.ext_unix_sk,
                shell_job: self.shell_job,
                file_locks: self.file_locks,
                manage_cgroups_mode: self.manage_cgroups_mode.clone(),
                empty_ns: self.empty_ns.clone(),
                auto_dedup: self.auto_dedup,
                lazy_pages: self.lazy_pages,
            },
            parent_path: self.parent_path.clone(),
            leave_running: self.leave_running,
            pre_dump: self.pre_dump,
            status_fd: self.status_fd.clone(),
            page_server: self.page_server.clone(),
        }
    }
}

impl RestoreArgs {
    pub fn to_opts(&self, criu: Option<String>, systemd_cgroup: bool) -> RestoreOpts {
        RestoreOpts {
            id: self.id.clone(),
            common: CommonOpts {
                criu,
                image_path: self.image_path.as_ref().map(PathBuf::from),
                work_path: self.work_path.as_ref().map(PathBuf::from),
                tcp_established: self.tcp_established,
                ext_unix_sk: self.ext_unix_sk,
                shell_job: self.shell_job,
                file_locks: self.file_locks,
                manage_cgroups_mode: self.manage_cgroups_mode.clone(),
                empty_ns: self.empty_ns.clone(),
                auto_dedup: self.auto_dedup,
                lazy_pages: self.lazy_pages,
            },
            bundle: self.bundle.clone().unwrap_or_else(|| PathBuf::from(".")),
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            lsm_profile: self.lsm_profile.clone(),
            lsm_mount_context: self.lsm_mount_context.clone(),
            systemd_cgroup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &[&str]) -> Vec<String> {
        normalize(v.iter().map(OsString::from).collect())
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_long_options_become_double() {
        assert_eq!(
            n(&["bh", "-root", "/r", "create", "-bundle", "b", "id"]),
            ["bh", "--root", "/r", "create", "--bundle", "b", "id"]
        );
    }

    #[test]
    fn exec_command_is_left_alone() {
        assert_eq!(
            n(&["bh", "exec", "-tty", "--cwd", "/", "id", "ls", "-format"]),
            ["bh", "exec", "--tty", "--cwd", "/", "id", "ls", "-format"]
        );
    }
}

//! `bulkhead`: the runc-compatible command line. Flags, output and exit codes follow runc, so
//! podman (through conmon), containerd's runc shim and people at a shell drive it unchanged.

mod args;
mod features;
mod list;
mod spec;
mod update;

use anyhow::{bail, Context, Result};
use args::{Cli, Command};
use bulkhead_runtime::checkpoint;
use bulkhead_runtime::exec::{self, ExecOpts};
use bulkhead_runtime::lifecycle::{self, CreateOpts};
use bulkhead_runtime::outln;
use bulkhead_runtime::state::Store;
use bulkhead_runtime::{log, signal};
use clap::{CommandFactory, Parser};
use std::path::Path;

fn main() {
    let cli = match Cli::try_parse_from(args::normalize(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => print_clap(e),
    };
    if cli.version {
        print_version();
    }
    match &cli.command {
        None => help(None),
        Some(Command::Help { command }) => help(command.as_deref()),
        Some(_) => {}
    }
    let format = if cli.log_format == "json" {
        log::Format::Json
    } else {
        log::Format::Text
    };
    if let Err(e) = log::init(cli.log.as_deref(), format, cli.debug) {
        eprintln!("--log {}: {e}", cli.log.as_deref().unwrap_or(""));
        std::process::exit(1);
    }
    match dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: the whole chain of context, outermost first. A value from the config
            // may hold line breaks; they are escaped, never printed.
            let msg = format!("{e:#}").replace('\r', "\\r").replace('\n', "\\n");
            if log::has_file() {
                log::error(&msg);
            }
            eprintln!("{msg}");
            // runc's exec fails with 255, so that a caller tells a failed exec from a process
            // that ran and exited 1.
            let failed = match cli.command {
                Some(Command::Exec(_)) => 255,
                _ => 1,
            };
            std::process::exit(failed);
        }
    }
}

/// Help, usage errors and the like: clap's text, but a closed stdout ends us quietly by
/// SIGPIPE, as every other output does (see bulkhead_runtime::out).
fn print_clap(e: clap::Error) -> ! {
    if let Err(io) = e.print() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            bulkhead_linux::process::die_of_sigpipe();
        }
    }
    std::process::exit(e.exit_code());
}

/// `bulkhead help [COMMAND]` (and `h`), or no command at all: the help of bulkhead or of one
/// command, exit 0; an unknown command is runc's "No help topic" and exit 3.
fn help(command: Option<&str>) -> ! {
    let mut argv = vec!["bulkhead".to_string()];
    if let Some(name) = command {
        let known = Cli::command()
            .get_subcommands()
            .any(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name));
        if !known || name == "help" || name == "h" {
            if !known {
                eprintln!("No help topic for '{name}'");
                std::process::exit(3);
            }
            argv.truncate(1);
        } else {
            argv.push(name.to_string());
        }
    }
    argv.push("--help".to_string());
    match Cli::try_parse_from(argv) {
        Err(e) => print_clap(e),
        Ok(_) => std::process::exit(0),
    }
}

/// `-v`/`--version`: runc's lines, with the Rust compiler's version where runc names Go's.
fn print_version() -> ! {
    let text = format!(
        "bulkhead version {}\ncommit: {}\nspec: {}\nrustc: {}\nlibseccomp: {}",
        env!("CARGO_PKG_VERSION"),
        env!("BULKHEAD_COMMIT"),
        features::OCI_VERSION_MAX,
        env!("BULKHEAD_RUSTC"),
        bulkhead_container::seccomp::libseccomp_version()
    );
    let code = match outln!("{text}") {
        Ok(()) => 0,
        Err(_) => 1,
    };
    std::process::exit(code)
}

fn dispatch(cli: &Cli) -> Result<i32> {
    let store = Store::new(Path::new(&cli.root));
    if cli.log_format != "text" && cli.log_format != "json" {
        bail!(
            "--log-format: unknown format {:?} (text or json)",
            cli.log_format
        );
    }
    let Some(command) = &cli.command else {
        return Ok(0);
    };
    match command {
        Command::Create(c) => {
            check_systemd(cli)?;
            let opts = CreateOpts {
                sandbox_platform: cli.sandbox_platform.clone(),
                systemd_cgroup: cli.systemd_cgroup,
                ..c.to_opts(true, cli.class.clone())
            };
            lifecycle::create(&store, &opts)?;
            Ok(0)
        }
        Command::Run(r) => {
            check_systemd(cli)?;
            let opts = CreateOpts {
                detach: r.detach,
                sandbox_platform: cli.sandbox_platform.clone(),
                systemd_cgroup: cli.systemd_cgroup,
                ..r.create.to_opts(r.detach, cli.class.clone())
            };
            lifecycle::run(&store, &opts, r.keep)
        }
        Command::Start { id } => lifecycle::start(&store, id).map(|_| 0),
        Command::State { id } => {
            // runc writes the JSON without a final newline.
            bulkhead_runtime::out::print(&lifecycle::state_json(&store, id)?)?;
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let sig = signal::parse(signal.as_deref().unwrap_or("SIGTERM"))?;
            lifecycle::kill(&store, id, sig, *all).map(|_| 0)
        }
        Command::Delete { force, ids } => {
            for id in ids {
                lifecycle::delete(&store, id, *force)?;
            }
            Ok(0)
        }
        Command::List { format, quiet } => list::list(&store, format, *quiet).map(|_| 0),
        Command::Ps {
            format,
            id,
            ps_args,
        } => list::ps(&store, id, format, ps_args),
        Command::Exec(e) => exec::exec(&store, &ExecOpts::from(e)),
        Command::Spec { bundle, .. } => {
            let rootless = cli.rootless.as_deref().is_some_and(|v| v != "false");
            spec::write(bundle.as_deref(), rootless).map(|_| 0)
        }
        Command::Events {
            stats,
            interval,
            id,
        } => bulkhead_runtime::events::events(
            &store,
            id,
            *stats,
            bulkhead_runtime::events::parse_interval(interval)?,
        )
        .map(|_| 0),
        Command::Pause { id } => lifecycle::pause(&store, id).map(|_| 0),
        Command::Resume { id } => lifecycle::resume(&store, id).map(|_| 0),
        Command::Update(u) => lifecycle::update(&store, &u.id, &update::resources(u)?).map(|_| 0),
        Command::Features => {
            outln!("{}", features::json()?)?;
            Ok(0)
        }
        Command::Checkpoint(c) => checkpoint::checkpoint(&store, &c.to_opts(cli.criu.clone()))
            .context("checkpoint")
            .map(|_| 0),
        Command::Restore(r) => {
            check_systemd(cli)?;
            checkpoint::restore(&store, &r.to_opts(cli.criu.clone(), cli.systemd_cgroup))
                .context("restore")
        }
        Command::Help { .. } => Ok(0),
    }
}

/// `--systemd-cgroup`: systemd must be there to ask (sd_booted's test), and only root asks
/// the system instance (a rootless container would need the user's own systemd, not done).
fn check_systemd(cli: &Cli) -> Result<()> {
    if !cli.systemd_cgroup {
        return Ok(());
    }
    if !Path::new("/run/systemd/system").exists() {
        bail!("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver");
    }
    if bulkhead_linux::process::euid() != 0 {
        bail!("--systemd-cgroup: a rootless container cannot use the systemd cgroup driver yet (it needs the user's systemd instance); use the cgroupfs driver");
    }
    Ok(())
}

//! `bulkhead`: the runc-compatible command line. Flags, output and exit codes follow runc, so
//! podman (through conmon), containerd's runc shim and people at a shell drive it unchanged.

mod args;
mod features;
mod list;
mod spec;
mod update;

use anyhow::{bail, Result};
use args::{Cli, Command};
use bulkhead_runtime::exec::{self, ExecOpts};
use bulkhead_runtime::lifecycle::{self, CreateOpts};
use bulkhead_runtime::outln;
use bulkhead_runtime::state::Store;
use bulkhead_runtime::{log, signal};
use clap::Parser;
use std::path::Path;

fn main() {
    let cli = match Cli::try_parse_from(args::normalize(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            // Help, version and usage errors: clap's text, but a closed stdout ends us quietly
            // by SIGPIPE, as every other output does (see bulkhead_runtime::out).
            if let Err(io) = e.print() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    bulkhead_linux::process::die_of_sigpipe();
                }
            }
            std::process::exit(e.exit_code());
        }
    };
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
            std::process::exit(1);
        }
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    let store = Store::new(Path::new(&cli.root));
    if cli.log_format != "text" && cli.log_format != "json" {
        bail!(
            "--log-format: unknown format {:?} (text or json)",
            cli.log_format
        );
    }
    match &cli.command {
        Command::Create(c) => {
            check_systemd(cli)?;
            lifecycle::create(&store, &c.to_opts(true, cli.class.clone()))?;
            Ok(0)
        }
        Command::Run(r) => {
            check_systemd(cli)?;
            let opts = CreateOpts {
                detach: r.detach,
                ..r.create.to_opts(r.detach, cli.class.clone())
            };
            lifecycle::run(&store, &opts, r.keep)
        }
        Command::Start { id } => lifecycle::start(&store, id).map(|_| 0),
        Command::State { id } => {
            outln!("{}", lifecycle::state_json(&store, id)?)?;
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
        Command::Spec { bundle } => {
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
    }
}

/// `--systemd-cgroup`: accepted, but systemd must be there to ask.
fn check_systemd(cli: &Cli) -> Result<()> {
    if cli.systemd_cgroup && !Path::new("/run/systemd/system").exists() {
        bail!("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver");
    }
    Ok(())
}

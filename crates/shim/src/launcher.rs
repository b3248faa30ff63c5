//! Runtime operations that create processes run in a launcher: a fork of the shim that does
//! the one operation single-threaded (the container's init is cloned from it, hooks are
//! spawned and waited for in it) and reports back over a pipe. The shim itself runs ttrpc
//! threads, and a raw clone of a multi-threaded process may inherit a lock another thread
//! held. No exec happens: the launcher is the runtime library, already in memory.
//! Processes the launcher leaves running are re-parented to the shim (a subreaper).

use crate::reaper::Reaper;
use anyhow::{anyhow, bail, Context, Result};
use bulkhead_linux::{fd, process as sys};
use bulkhead_runtime::exec::{self, ExecOpts};
use bulkhead_runtime::lifecycle::{self, CreateOpts};
use bulkhead_runtime::state::Store;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// One operation for a launcher.
pub enum Op<'a> {
    Create(&'a CreateOpts),
    Start(&'a str),
    Exec(&'a ExecOpts),
    Delete(&'a str),
}

/// What the launched process reads and writes: fds placed at 0, 1 and 2 in the launcher (and
/// so inherited by the process it starts); `None` keeps the shim's /dev/null.
pub type Stdio<'a> = [Option<&'a OwnedFd>; 3];

/// Runs `op` in a launcher; returns the pid it reports (0 for start and delete).
pub fn run(reaper: &Reaper, store: &Store, op: Op<'_>, stdio: Stdio<'_>) -> Result<i32> {
    let t0 = std::time::Instant::now();
    let name = op.name();
    let r = launch(reaper, store, op, stdio);
    log::debug!("{name} in a launcher: {:?}", t0.elapsed());
    r
}

impl Op<'_> {
    fn name(&self) -> String {
        match self {
            Op::Create(o) => format!("create {}", o.id),
            Op::Start(id) => format!("start {id}"),
            Op::Exec(o) => format!("exec in {}", o.id),
            Op::Delete(id) => format!("delete {id}"),
        }
    }
}

fn launch(reaper: &Reaper, store: &Store, op: Op<'_>, stdio: Stdio<'_>) -> Result<i32> {
    let (mut rx, tx) = pipe()?;
    let guard = reaper.lock();
    match sys::fork_threaded().context("fork a launcher")? {
        sys::Forked::Child => {
            drop(rx);
            child(store, &op, stdio, tx)
        }
        sys::Forked::Parent(pid) => {
            reaper.forked(guard, pid);
            drop(tx);
            // One line: the processes the launcher started hold the pipe until they exec, so
            // end-of-file cannot mark the reply's end.
            let mut reply = String::new();
            BufReader::new(&mut rx)
                .read_line(&mut reply)
                .context("read the launcher's reply")?;
            parse(reply.trim_end())
        }
    }
}

fn parse(reply: &str) -> Result<i32> {
    if let Some(pid) = reply.strip_prefix("ok ") {
        return pid
            .trim()
            .parse()
            .map_err(|_| anyhow!("launcher: bad reply {reply:?}"));
    }
    match reply.strip_prefix("error ") {
        Some(e) => bail!("{e}"),
        None => bail!("launcher ended without a reply"),
    }
}

/// The launcher's side: never returns.
fn child(store: &Store, op: &Op<'_>, stdio: Stdio<'_>, mut tx: std::fs::File) -> ! {
    // The shim's sockets (its ttrpc listener, containerd's connections) are not ours: an init
    // cloned from here would hold them until it execs, and a containerd restarted after the
    // shim died would find the listener alive and wait for an answer that never comes.
    let result = place_stdio(stdio)
        .and_then(|()| {
            fd::null_sockets_from(3, &[tx.as_raw_fd()]).context("let go of the shim's sockets")
        })
        .and_then(|()| match op {
            Op::Create(o) => lifecycle::create(store, o),
            Op::Start(id) => lifecycle::start(store, id).map(|()| 0),
            Op::Exec(o) => exec::exec_detached(store, o),
            Op::Delete(id) => lifecycle::delete(store, id, true).map(|()| 0),
        });
    let reply = match result {
        Ok(pid) => format!("ok {pid}\n"),
        Err(e) => format!("error {}\n", format!("{e:#}").replace('\n', " ")),
    };
    let _ = tx.write_all(reply.as_bytes());
    sys::exit_now(0)
}

fn place_stdio(stdio: Stdio<'_>) -> Result<()> {
    for (target, f) in stdio.iter().enumerate() {
        if let Some(f) = f {
            fd::dup2(f.as_raw_fd(), target as i32).context("place the process's stdio")?;
        }
    }
    Ok(())
}

fn pipe() -> Result<(std::fs::File, std::fs::File)> {
    let (r, w) = fd::pipe().context("pipe")?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn replies_parse() {
        assert_eq!(parse("ok 42").unwrap(), 42);
        assert_eq!(
            parse("error container x exists").unwrap_err().to_string(),
            "container x exists"
        );
        assert!(parse("").is_err());
        assert!(parse("ok nope").is_err());
    }
}

//! The shim's only `waitpid`: every child of the shim (launchers, and the container processes
//! re-parented to it, the subreaper) is reaped here, so no exit is lost to a second waiter.
//! Exits of launchers are dropped; every other exit goes to the service's channel.

use bulkhead_linux::process::{self as sys, Exit};
use std::collections::HashSet;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[derive(Default)]
pub struct Children {
    /// Launchers not yet reaped: their exits mean nothing to containerd.
    pub launchers: HashSet<i32>,
    /// Forks so far: the reaping thread sleeps only while this does not move.
    forks: u64,
}

#[derive(Default)]
pub struct Reaper {
    children: Mutex<Children>,
    forked: Condvar,
}

impl Reaper {
    /// Starts the reaping thread; process exits (pid, runc-style status) go to `exits`.
    pub fn start(exits: Sender<(i32, i32)>) -> std::io::Result<Arc<Reaper>> {
        let reaper = Arc::new(Reaper::default());
        let r = reaper.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || r.run(&exits))?;
        Ok(reaper)
    }

    /// Held around a fork, so the child is registered before it can be reaped.
    pub fn lock(&self) -> MutexGuard<'_, Children> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the reaping thread after a fork.
    pub fn forked(&self, mut guard: MutexGuard<'_, Children>, launcher: i32) {
        guard.launchers.insert(launcher);
        guard.forks += 1;
        self.forked.notify_all();
    }

    fn run(&self, exits: &Sender<(i32, i32)>) {
        loop {
            let forks = self.lock().forks;
            match sys::wait_any() {
                Ok(Some((pid, exit))) => {
                    if self.lock().launchers.remove(&pid) {
                        continue;
                    }
                    let status = match exit {
                        Exit::Code(c) => c,
                        Exit::Signal(s) => 128 + s,
                    };
                    if exits.send((pid, status)).is_err() {
                        return;
                    }
                }
                // No child yet (or any more): sleep until a launcher is forked. Orphans are
                // re-parented to us only when a launcher, itself our child, exits.
                Ok(None) => {
                    let mut c = self.lock();
                    while c.forks == forks {
                        c = self.forked.wait(c).unwrap_or_else(|e| e.into_inner());
                    }
                }
                Err(e) => {
                    log::error!("waitpid: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
    }
}

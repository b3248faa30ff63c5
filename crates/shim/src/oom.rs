//! OOM kills in a container's v1 memory cgroup, as events: an eventfd registered on
//! memory.oom_control through cgroup.event_control wakes a thread, which tells containerd
//! (/tasks/oom). The kernel also signals the eventfd when the cgroup is removed; the thread
//! then finds the directory gone and ends.

use anyhow::{Context, Result};
use bulkhead_container::cgroups::Cgroup;
use bulkhead_linux::fd;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Watches the container's memory cgroup, if it has one (v1); `on_oom` runs per OOM event.
pub fn watch(cg: &Cgroup, on_oom: impl Fn() + Send + 'static) -> Result<()> {
    let Some(dir) = cg.controller_dir("memory").map(PathBuf::from) else {
        return Ok(());
    };
    let efd = fd::eventfd().context("eventfd")?;
    let control = File::open(dir.join("memory.oom_control"))
        .with_context(|| format!("{}/memory.oom_control", dir.display()))?;
    std::fs::write(
        dir.join("cgroup.event_control"),
        format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()),
    )
    .with_context(|| format!("{}/cgroup.event_control", dir.display()))?;
    let mut events = File::from(efd);
    std::thread::Builder::new()
        .name("oom".into())
        .spawn(move || {
            let _control = control;
            let mut count = [0u8; 8];
            while events.read_exact(&mut count).is_ok() {
                if !dir.exists() {
                    break;
                }
                on_oom();
            }
        })
        .context("start the OOM watcher")?;
    Ok(())
}

//! The rootfs containerd's snapshotter prepares (an overlay, or a bind of a directory), mounted
//! onto `<bundle>/rootfs` before create and taken off at delete.

use anyhow::{Context, Result};
use bulkhead_container::mounts::parse_options;
use bulkhead_linux::mount as sys;
use containerd_shim::protos::types::mount::Mount;
use std::path::Path;

/// Mounts each of `mounts` onto `<bundle>/rootfs`; true if anything was mounted.
pub fn mount(mounts: &[Mount], bundle: &Path) -> Result<bool> {
    let target = bundle.join("rootfs");
    for (i, m) in mounts.iter().enumerate() {
        if let Err(e) = mount_one(m, &target) {
            if i > 0 {
                unmount(bundle);
            }
            return Err(e.context(format!("mount rootfs {}", target.display())));
        }
    }
    Ok(!mounts.is_empty())
}

fn mount_one(m: &Mount, target: &Path) -> Result<()> {
    let o = parse_options(&m.options);
    let data = o.data.join(",");
    let source = Path::new(&m.source);
    let (fstype, flags) = if o.bind {
        (None, (o.flags & !libc::MS_RDONLY) | libc::MS_BIND)
    } else {
        (Some(m.type_.as_str()), o.flags)
    };
    sys::mount(Some(source), target, fstype, flags, Some(&data))
        .with_context(|| format!("{} {}", m.type_, m.source))?;
    // A read-only bind takes a second, remounting call.
    if o.bind && o.flags & libc::MS_RDONLY != 0 {
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        sys::mount(None, target, None, flags, None).context("remount read-only")?;
    }
    Ok(())
}

pub fn unmount(bundle: &Path) {
    let target = bundle.join("rootfs");
    if let Err(e) = sys::umount(&target, libc::MNT_DETACH) {
        log::warn!("unmount {}: {e}", target.display());
    }
}

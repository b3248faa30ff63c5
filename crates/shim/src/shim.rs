//! The shim binary's life outside the Task service: containerd's `start` (spawn the pod's shim,
//! or point at the one already serving the pod) and `delete` (clean up after a shim that died).

use crate::service::{store_for, Service};
use bulkhead_runtime::lifecycle;
use containerd_shim::api::DeleteResponse;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Config, ExitSignal, Flags, StartOpts};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The annotation containerd's CRI plugin puts on every container of a pod.
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

pub struct Bulkhead {
    namespace: String,
    id: String,
    bundle: PathBuf,
    exit: Arc<ExitSignal>,
}

/// The pod a bundle belongs to, from its config's annotations.
fn pod_of(bundle: &Path) -> Option<String> {
    let text = std::fs::read_to_string(bundle.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(v.get("annotations")?.get(SANDBOX_ID)?.as_str()?.to_string())
}

impl containerd_shim::Shim for Bulkhead {
    type T = Service;

    fn new(_runtime_id: &str, flags: &Flags, _config: &mut Config) -> Self {
        let bundle = if flags.bundle.is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            PathBuf::from(&flags.bundle)
        };
        Bulkhead {
            namespace: flags.namespace.clone(),
            id: flags.id.clone(),
            bundle,
            exit: Arc::new(ExitSignal::default()),
        }
    }

    /// One shim per pod: containers of the same pod get the same socket address, so the second
    /// one finds the first's shim listening and uses it.
    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        let grouping = pod_of(&self.bundle).unwrap_or_else(|| opts.id.clone());
        let (_pid, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        // A restarted containerd finds its running shims by this file in each bundle; without
        // it, it takes the shim for dead and cleans the container up.
        let tmp = self.bundle.join("address.tmp");
        std::fs::write(&tmp, &address)
            .and_then(|()| std::fs::rename(&tmp, self.bundle.join("address")))
            .map_err(|e| containerd_shim::Error::Other(format!("write the shim address: {e}")))?;
        Ok(address)
    }

    /// containerd runs `delete` when the shim is gone: kill and remove what the container left.
    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let store = store_for(&self.namespace);
        if let Err(e) = lifecycle::delete(&store, &self.id, true) {
            log::warn!("delete {}: {e:#}", self.id);
        }
        crate::rootfs::unmount(&self.bundle);
        Ok(DeleteResponse {
            exit_status: 128 + libc::SIGKILL as u32,
            exited_at: Some(crate::tasks::now()).into(),
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    /// The library's publisher goes unused: events.rs sends the events.
    fn create_task_service(&self, _library: RemotePublisher) -> Service {
        Service::new(&self.namespace, self.exit.clone())
    }
}

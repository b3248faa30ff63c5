//! The shim's record of its containers and their processes, and what changes it: launches
//! (stdio opened, then a launcher run), exits from the reaper, OOM kills. Every change is
//! published to containerd under the one lock, so events leave in the order containerd
//! expects: create, start, then exit (an exit found while `start` runs waits for it), delete.

use crate::launcher::{self, Op};
use crate::reaper::Reaper;
use crate::stdio::{self, Console, Io, Stdin};
use anyhow::Result;
use bulkhead_linux::process as sys;
use bulkhead_runtime::state::{self, Store};
use bulkhead_runtime::tty::OwnConsole;
use containerd_shim::protos::events::task::{TaskExit, TaskOOM};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageFull;
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc::{self, Code};
use containerd_shim::ExitSignal;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) type R<T> = ttrpc::Result<T>;

pub(crate) fn status(code: Code, msg: impl std::fmt::Display) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.to_string()))
}

/// A runtime error as containerd's errdefs read it: the message, code Unknown.
pub(crate) fn failed(e: anyhow::Error) -> ttrpc::Error {
    status(Code::UNKNOWN, format!("{e:#}"))
}

pub(crate) fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Default::default()
    }
}

/// A process of a container: its init or an exec'd one.
#[derive(Default)]
pub(crate) struct Proc {
    /// 0 until started (execs).
    pub(crate) pid: i32,
    pub(crate) io: Io,
    pub(crate) exited: Option<(u32, Timestamp)>,
    pub(crate) stdin: Option<Stdin>,
    pub(crate) console: Option<Console>,
    /// Held for as long as the process is recorded (stdio::Kept).
    pub(crate) kept: stdio::Kept,
    /// The exec's process, until it starts.
    pub(crate) spec: Option<oci_spec::runtime::Process>,
}

pub(crate) struct Container {
    pub(crate) bundle: PathBuf,
    pub(crate) rootfs_mounted: bool,
    pub(crate) init: Proc,
    pub(crate) execs: HashMap<String, Proc>,
}

impl Container {
    pub(crate) fn proc(&self, exec_id: &str) -> R<&Proc> {
        if exec_id.is_empty() {
            return Ok(&self.init);
        }
        self.execs
            .get(exec_id)
            .ok_or_else(|| status(Code::NOT_FOUND, format!("exec {exec_id} not found")))
    }
}

/// What one shim serves: the containers of a pod.
pub(crate) struct Pod {
    pub(crate) namespace: String,
    pub(crate) store: Store,
    pub(crate) publisher: crate::events::Publisher,
    pub(crate) exit: Arc<ExitSignal>,
    pub(crate) reaper: Arc<Reaper>,
    pub(crate) containers: Mutex<HashMap<String, Container>>,
    pub(crate) changed: Condvar,
}

impl Pod {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, Container>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn publish<M: MessageFull>(&self, topic: &str, event: M) {
        if let Err(e) = self.publisher.publish(topic, &self.namespace, event) {
            log::warn!("publish {topic}: {e}");
        }
    }

    /// Records exits and tells containerd; wakes Wait calls.
    pub(crate) fn exits(&self, rx: Receiver<(i32, i32)>) {
        for (pid, code) in rx {
            let mut all = self.lock();
            for (cid, c) in all.iter_mut() {
                let found = std::iter::once((cid.clone(), &mut c.init))
                    .chain(c.execs.iter_mut().map(|(e, p)| (e.clone(), p)))
                    .find(|(_, p)| p.pid == pid && p.exited.is_none());
                if let Some((id, p)) = found {
                    let at = now();
                    p.exited = Some((code as u32, at.clone()));
                    self.publish(
                        topics::TASK_EXIT_EVENT_TOPIC,
                        TaskExit {
                            container_id: cid.clone(),
                            id,
                            pid: pid as u32,
                            exit_status: code as u32,
                            exited_at: Some(at).into(),
                            ..Default::default()
                        },
                    );
                    break;
                }
            }
            self.changed.notify_all();
        }
    }

    /// Opens a process's stdio and runs `start` (a launcher) with it: `start` gets the console
    /// socket to hand the terminal to, or the fds for 0, 1 and 2.
    pub(crate) fn launch(
        &self,
        io: &Io,
        id: &str,
        start: impl FnOnce(Option<PathBuf>, launcher::Stdio<'_>) -> Result<i32>,
    ) -> Result<Proc> {
        let mut p = Proc {
            io: io.clone(),
            ..Default::default()
        };
        if io.terminal {
            let own = OwnConsole::new(id)?;
            p.pid = start(Some(own.path.clone()), [None, None, None])?;
            match own.receive().and_then(|m| stdio::attach(io, m)) {
                Ok((console, stdin, kept)) => {
                    (p.console, p.stdin, p.kept) = (Some(console), stdin, kept)
                }
                Err(e) => {
                    let _ = sys::kill(p.pid, libc::SIGKILL);
                    return Err(e);
                }
            }
            return Ok(p);
        }
        let ([a, b, c], stdin, kept) = stdio::open(io)?;
        match start(None, [a.as_ref(), b.as_ref(), c.as_ref()]) {
            Ok(pid) => p.pid = pid,
            Err(e) => {
                if let Some(s) = &stdin {
                    s.close();
                }
                return Err(e);
            }
        }
        p.stdin = stdin;
        p.kept = kept;
        Ok(p)
    }

    /// Publishes /tasks/oom for each OOM kill in the container's memory cgroup.
    pub(crate) fn watch_oom(self: &Arc<Self>, id: &str) {
        let Ok(st) = state::load(&self.store.dir(id)) else {
            return;
        };
        let me = Arc::downgrade(self);
        let cid = id.to_string();
        let watched = crate::oom::watch(&st.cgroup, move || {
            if let Some(me) = me.upgrade() {
                me.publish(
                    topics::TASK_OOM_EVENT_TOPIC,
                    TaskOOM {
                        container_id: cid.clone(),
                        ..Default::default()
                    },
                );
            }
        });
        if let Err(e) = watched {
            log::warn!("OOM events of {id}: {e:#}");
        }
    }

    pub(crate) fn run(&self, op: Op<'_>, stdio: launcher::Stdio<'_>) -> Result<i32> {
        launcher::run(&self.reaper, &self.store, op, stdio)
    }
}

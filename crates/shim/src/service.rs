//! containerd's Task service over the runtime library, in-process. One service per shim, so
//! per pod: every container of the pod is served here. Operations that start processes run
//! in a launcher (launcher.rs); the rest (state, kill, pause, stats, update, and start without
//! poststart hooks) run in place. The containers' record and the event order: tasks.rs.

use crate::launcher::Op;
use crate::metrics;
use crate::options;
use crate::reaper::Reaper;
use crate::rootfs;
use crate::stdio::Io;
use crate::tasks::{failed, now, status, Container, Pod, Proc, R};
use bulkhead_linux::process as sys;
use bulkhead_runtime::exec::ExecOpts;
use bulkhead_runtime::lifecycle::{self, CreateOpts};
use bulkhead_runtime::state::{self, Status, Store};
use containerd_shim::api::{self, *};
use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskIO, TaskPaused, TaskResumed,
    TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc::{self, Code};
use containerd_shim::protos::types::task::ProcessInfo;
use containerd_shim::{ExitSignal, Task, TtrpcContext};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

pub struct Service {
    inner: Arc<Pod>,
}

/// Where the shim keeps container state: per containerd namespace, as runc's shim does.
pub fn store_for(namespace: &str) -> Store {
    Store::new(&Path::new("/run/containerd/bulkhead").join(namespace))
}

impl Service {
    pub fn new(namespace: &str, exit: Arc<ExitSignal>) -> Service {
        let (tx, rx) = std::sync::mpsc::channel();
        let reaper = match Reaper::start(tx) {
            Ok(r) => r,
            Err(e) => {
                log::error!("start the reaper: {e}");
                std::process::exit(1);
            }
        };
        let inner = Arc::new(Pod {
            namespace: namespace.to_string(),
            store: store_for(namespace),
            publisher: crate::events::Publisher::new(),
            exit,
            reaper,
            containers: Mutex::new(HashMap::new()),
            changed: Condvar::new(),
        });
        let i = inner.clone();
        let spawned = std::thread::Builder::new()
            .name("exits".into())
            .spawn(move || i.exits(rx));
        if let Err(e) = spawned {
            log::error!("start the exit handler: {e}");
            std::process::exit(1);
        }
        Service { inner }
    }
}

fn io_of(stdin: &str, stdout: &str, stderr: &str, terminal: bool) -> Io {
    Io {
        stdin: stdin.into(),
        stdout: stdout.into(),
        stderr: stderr.into(),
        terminal,
    }
}

fn has_poststart_hooks(store: &Store, id: &str) -> bool {
    state::load(&store.dir(id)).map_or(true, |st| {
        st.config
            .hooks()
            .as_ref()
            .and_then(|h| h.poststart().as_ref())
            .is_some_and(|p| !p.is_empty())
    })
}

fn not_found(id: &str) -> ttrpc::Error {
    status(Code::NOT_FOUND, format!("container {id} not found"))
}

impl Task for Service {
    fn create(&self, _: &TtrpcContext, req: CreateTaskRequest) -> R<CreateTaskResponse> {
        let me = &self.inner;
        let mut all = me.lock();
        if all.contains_key(&req.id) {
            return Err(status(
                Code::ALREADY_EXISTS,
                format!("container {} exists", req.id),
            ));
        }
        let options::ShimOptions {
            class,
            systemd_cgroup,
        } = options::parse(req.options.as_ref())
            .map_err(|e| status(Code::INVALID_ARGUMENT, format!("{e:#}")))?;
        let bundle = PathBuf::from(&req.bundle);
        let mounted = rootfs::mount(&req.rootfs, &bundle).map_err(failed)?;
        let io = io_of(&req.stdin, &req.stdout, &req.stderr, req.terminal);
        let opts = CreateOpts {
            id: req.id.clone(),
            bundle: bundle.clone(),
            class,
            detach: true,
            systemd_cgroup,
            ..Default::default()
        };
        let launched = me.launch(&io, &req.id, |console, fds| {
            let o = CreateOpts {
                console_socket: console,
                ..opts.clone()
            };
            me.run(Op::Create(&o), fds)
        });
        let init = match launched {
            Ok(p) => p,
            Err(e) => {
                if mounted {
                    rootfs::unmount(&bundle);
                }
                return Err(failed(e));
            }
        };
        let pid = init.pid as u32;
        me.watch_oom(&req.id);
        all.insert(
            req.id.clone(),
            Container {
                bundle,
                rootfs_mounted: mounted,
                init,
                execs: HashMap::new(),
            },
        );
        me.publish(
            topics::TASK_CREATE_EVENT_TOPIC,
            TaskCreate {
                container_id: req.id.clone(),
                bundle: req.bundle.clone(),
                rootfs: req.rootfs.clone(),
                io: Some(TaskIO {
                    stdin: req.stdin.clone(),
                    stdout: req.stdout.clone(),
                    stderr: req.stderr.clone(),
                    terminal: req.terminal,
                    ..Default::default()
                })
                .into(),
                pid,
                ..Default::default()
            },
        );
        Ok(CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }

    fn start(&self, _: &TtrpcContext, req: StartRequest) -> R<StartResponse> {
        let me = &self.inner;
        let mut all = me.lock();
        let c = all.get_mut(&req.id).ok_or_else(|| not_found(&req.id))?;
        if req.exec_id.is_empty() {
            // Poststart hooks are processes to spawn and wait for: a launcher's job. Without
            // them, start is a message to the init, done in place.
            if has_poststart_hooks(&me.store, &req.id) {
                me.run(Op::Start(&req.id), [None, None, None])
            } else {
                lifecycle::start(&me.store, &req.id).map(|()| 0)
            }
            .map_err(failed)?;
            let pid = c.init.pid as u32;
            me.publish(
                topics::TASK_START_EVENT_TOPIC,
                TaskStart {
                    container_id: req.id.clone(),
                    pid,
                    ..Default::default()
                },
            );
            // The pod goes idle now: give back what create and start allocated.
            bulkhead_linux::process::malloc_trim();
            return Ok(StartResponse {
                pid,
                ..Default::default()
            });
        }
        let p = c
            .execs
            .get_mut(&req.exec_id)
            .ok_or_else(|| status(Code::NOT_FOUND, format!("exec {} not found", req.exec_id)))?;
        let spec = p.spec.take().ok_or_else(|| {
            status(
                Code::FAILED_PRECONDITION,
                format!("exec {} already started", req.exec_id),
            )
        })?;
        let opts = ExecOpts {
            id: req.id.clone(),
            process_spec: Some(spec),
            detach: true,
            ..Default::default()
        };
        let io = p.io.clone();
        let started = me.launch(&io, &req.exec_id, |console, fds| {
            let o = ExecOpts {
                console_socket: console,
                ..opts.clone()
            };
            me.run(Op::Exec(&o), fds)
        });
        let started = started.map_err(failed)?;
        let pid = started.pid as u32;
        *p = started;
        me.publish(
            topics::TASK_EXEC_STARTED_EVENT_TOPIC,
            TaskExecStarted {
                container_id: req.id.clone(),
                exec_id: req.exec_id.clone(),
                pid,
                ..Default::default()
            },
        );
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }

    fn exec(&self, _: &TtrpcContext, req: ExecProcessRequest) -> R<Empty> {
        let me = &self.inner;
        let mut all = me.lock();
        let c = all.get_mut(&req.id).ok_or_else(|| not_found(&req.id))?;
        if c.init.exited.is_some() {
            return Err(status(Code::FAILED_PRECONDITION, "container is stopped"));
        }
        if c.execs.contains_key(&req.exec_id) {
            return Err(status(
                Code::ALREADY_EXISTS,
                format!("exec {} exists", req.exec_id),
            ));
        }
        let mut spec: oci_spec::runtime::Process = serde_json::from_slice(&req.spec.value)
            .map_err(|e| status(Code::INVALID_ARGUMENT, format!("exec spec: {e}")))?;
        spec.set_terminal(Some(req.terminal));
        c.execs.insert(
            req.exec_id.clone(),
            Proc {
                io: io_of(&req.stdin, &req.stdout, &req.stderr, req.terminal),
                spec: Some(spec),
                ..Default::default()
            },
        );
        me.publish(
            topics::TASK_EXEC_ADDED_EVENT_TOPIC,
            TaskExecAdded {
                container_id: req.id.clone(),
                exec_id: req.exec_id.clone(),
                ..Default::default()
            },
        );
        Ok(Empty::new())
    }

    fn delete(&self, _: &TtrpcContext, req: DeleteRequest) -> R<DeleteResponse> {
        let me = &self.inner;
        let mut all = me.lock();
        let c = all.get_mut(&req.id).ok_or_else(|| not_found(&req.id))?;
        if !req.exec_id.is_empty() {
            let p = c.proc(&req.exec_id)?;
            if p.pid != 0 && p.exited.is_none() {
                return Err(status(
                    Code::FAILED_PRECONDITION,
                    format!("exec {} is running", req.exec_id),
                ));
            }
            let p = c.execs.remove(&req.exec_id).unwrap_or_default();
            if let Some(s) = &p.stdin {
                s.close();
            }
            let (code, at) = p.exited.unwrap_or_else(|| (0, now()));
            return Ok(DeleteResponse {
                pid: p.pid as u32,
                exit_status: code,
                exited_at: Some(at).into(),
                ..Default::default()
            });
        }
        me.run(Op::Delete(&req.id), [None, None, None])
            .map_err(failed)?;
        let Some(c) = all.remove(&req.id) else {
            return Err(not_found(&req.id));
        };
        for p in std::iter::once(&c.init).chain(c.execs.values()) {
            if let Some(s) = &p.stdin {
                s.close();
            }
        }
        if c.rootfs_mounted {
            rootfs::unmount(&c.bundle);
        }
        let (code, at) = c.init.exited.clone().unwrap_or_else(|| (128 + 9, now()));
        let pid = c.init.pid as u32;
        me.publish(
            topics::TASK_DELETE_EVENT_TOPIC,
            TaskDelete {
                container_id: req.id.clone(),
                id: req.id.clone(),
                pid,
                exit_status: code,
                exited_at: Some(at.clone()).into(),
                ..Default::default()
            },
        );
        bulkhead_linux::process::malloc_trim();
        Ok(DeleteResponse {
            pid,
            exit_status: code,
            exited_at: Some(at).into(),
            ..Default::default()
        })
    }

    fn state(&self, _: &TtrpcContext, req: StateRequest) -> R<StateResponse> {
        let me = &self.inner;
        let all = me.lock();
        let c = all.get(&req.id).ok_or_else(|| not_found(&req.id))?;
        let p = c.proc(&req.exec_id)?;
        let st = match (&p.exited, req.exec_id.is_empty(), p.pid) {
            (Some(_), _, _) => api::Status::STOPPED,
            (None, false, 0) => api::Status::CREATED,
            (None, false, _) => api::Status::RUNNING,
            (None, true, _) => {
                let dir = me.store.dir(&req.id);
                match state::load(&dir).map(|s| s.status(&dir)) {
                    Ok(Status::Created) => api::Status::CREATED,
                    Ok(Status::Running) => api::Status::RUNNING,
                    Ok(Status::Paused) => api::Status::PAUSED,
                    _ => api::Status::STOPPED,
                }
            }
        };
        let (code, at) = p.exited.clone().unzip();
        Ok(StateResponse {
            id: req.id.clone(),
            bundle: c.bundle.to_string_lossy().into_owned(),
            pid: p.pid as u32,
            status: st.into(),
            stdin: p.io.stdin.clone(),
            stdout: p.io.stdout.clone(),
            stderr: p.io.stderr.clone(),
            terminal: p.io.terminal,
            exit_status: code.unwrap_or(0),
            exited_at: at.into(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    fn pids(&self, _: &TtrpcContext, req: PidsRequest) -> R<PidsResponse> {
        let me = &self.inner;
        let _all = me.lock();
        let st = state::load(&me.store.dir(&req.id)).map_err(|_| not_found(&req.id))?;
        let pids = st.cgroup.pids().map_err(|e| failed(e.into()))?;
        Ok(PidsResponse {
            processes: pids
                .into_iter()
                .map(|pid| ProcessInfo {
                    pid: pid as u32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    fn pause(&self, _: &TtrpcContext, req: PauseRequest) -> R<Empty> {
        let me = &self.inner;
        let _all = me.lock();
        lifecycle::pause(&me.store, &req.id).map_err(failed)?;
        me.publish(
            topics::TASK_PAUSED_EVENT_TOPIC,
            TaskPaused {
                container_id: req.id.clone(),
                ..Default::default()
            },
        );
        Ok(Empty::new())
    }

    fn resume(&self, _: &TtrpcContext, req: ResumeRequest) -> R<Empty> {
        let me = &self.inner;
        let _all = me.lock();
        lifecycle::resume(&me.store, &req.id).map_err(failed)?;
        me.publish(
            topics::TASK_RESUMED_EVENT_TOPIC,
            TaskResumed {
                container_id: req.id.clone(),
                ..Default::default()
            },
        );
        Ok(Empty::new())
    }

    fn kill(&self, _: &TtrpcContext, req: KillRequest) -> R<Empty> {
        let me = &self.inner;
        let all = me.lock();
        let c = all.get(&req.id).ok_or_else(|| not_found(&req.id))?;
        let p = c.proc(&req.exec_id)?;
        if p.exited.is_some() || p.pid == 0 {
            return Err(status(Code::NOT_FOUND, "process already finished"));
        }
        let sig = req.signal as i32;
        if req.exec_id.is_empty() {
            lifecycle::kill(&me.store, &req.id, sig, req.all).map_err(failed)?;
        } else {
            sys::kill(p.pid, sig).map_err(|e| failed(e.into()))?;
        }
        Ok(Empty::new())
    }

    fn wait(&self, _: &TtrpcContext, req: WaitRequest) -> R<WaitResponse> {
        let me = &self.inner;
        let mut all = me.lock();
        loop {
            let c = all.get(&req.id).ok_or_else(|| not_found(&req.id))?;
            if let Some((code, at)) = &c.proc(&req.exec_id)?.exited {
                return Ok(WaitResponse {
                    exit_status: *code,
                    exited_at: Some(at.clone()).into(),
                    ..Default::default()
                });
            }
            all = me.changed.wait(all).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn stats(&self, _: &TtrpcContext, req: StatsRequest) -> R<StatsResponse> {
        let me = &self.inner;
        let dir = me.store.dir(&req.id);
        let st = state::load(&dir).map_err(|_| not_found(&req.id))?;
        let v = bulkhead_runtime::events::container_stats_json(&dir, &st.cgroup);
        let m = metrics::from_stats(&v);
        let value = m.write_to_bytes().map_err(|e| failed(e.into()))?;
        Ok(StatsResponse {
            stats: Some(Any {
                type_url: metrics::TYPE_URL.into(),
                value,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
    }

    fn update(&self, _: &TtrpcContext, req: UpdateTaskRequest) -> R<Empty> {
        let me = &self.inner;
        let _all = me.lock();
        let r: oci_spec::runtime::LinuxResources = serde_json::from_slice(&req.resources.value)
            .map_err(|e| status(Code::INVALID_ARGUMENT, format!("resources: {e}")))?;
        lifecycle::update(&me.store, &req.id, &r).map_err(failed)?;
        Ok(Empty::new())
    }

    fn close_io(&self, _: &TtrpcContext, req: CloseIORequest) -> R<Empty> {
        let me = &self.inner;
        let all = me.lock();
        let c = all.get(&req.id).ok_or_else(|| not_found(&req.id))?;
        if let Some(s) = &c.proc(&req.exec_id)?.stdin {
            s.close();
        }
        Ok(Empty::new())
    }

    fn resize_pty(&self, _: &TtrpcContext, req: ResizePtyRequest) -> R<Empty> {
        let me = &self.inner;
        let all = me.lock();
        let c = all.get(&req.id).ok_or_else(|| not_found(&req.id))?;
        match &c.proc(&req.exec_id)?.console {
            Some(con) => con.resize(req.width, req.height).map_err(failed)?,
            None => {
                return Err(status(
                    Code::FAILED_PRECONDITION,
                    "the process has no terminal",
                ))
            }
        }
        Ok(Empty::new())
    }

    fn connect(&self, _: &TtrpcContext, req: ConnectRequest) -> R<ConnectResponse> {
        let me = &self.inner;
        let all = me.lock();
        let task_pid = all.get(&req.id).map(|c| c.init.pid as u32).unwrap_or(0);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _: &TtrpcContext, _req: ShutdownRequest) -> R<Empty> {
        let me = &self.inner;
        // The pod's shim serves every container of the pod: it leaves with the last one.
        if me.lock().is_empty() {
            me.exit.signal();
        }
        Ok(Empty::new())
    }
}

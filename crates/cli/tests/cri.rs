//! Kubernetes' view: the test plays the kubelet, driving containerd's CRI gRPC API (runtime.v1)
//! with RuntimeClass handlers that map to bulkhead's shim. Pods get one shim each.

mod common;
use common::clients::*;
use common::*;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::Path;
use std::process::Command;
use tonic::transport::{Channel, Endpoint, Uri};

/// The pause image: the test rootfs with a command that waits.
const PAUSE: &str = "localhost/bulkhead-test:pause";

/// containerd with the CRI plugin: handler `bulkhead` is the container class, handler
/// `bulkhead-sandbox` the sandbox class (through the runtime options' ConfigPath), as
/// docs/kubernetes.md configures them.
fn containerd_with_cri() -> Containerd {
    containerd_with_cri_and("")
}

/// `containerd_with_cri` with more of the CRI plugin's configuration (a `cni` table).
fn containerd_with_cri_and(cri_extra: &str) -> Containerd {
    let dir = TempDir::new("cri-extra");
    let sandbox = dir.0.join("sandbox.toml");
    std::fs::write(&sandbox, "class = \"sandbox\"\n").unwrap();
    let extra = format!(
        r#"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # This machine lacks CAP_SYS_RESOURCE: the pause container's -998 cannot be set.
  restrict_oom_score_adj = true
{cri_extra}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "bulkhead"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bulkhead]
      runtime_type = "io.containerd.bulkhead.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bulkhead-sandbox]
      runtime_type = "io.containerd.bulkhead.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bulkhead-sandbox.options]
        TypeUrl = "io.containerd.bulkhead.v1.options"
        ConfigPath = "{}"
"#,
        sandbox.display()
    );
    let c = Containerd::start_with(&extra);
    std::mem::forget(dir);
    podman_image();
    let tar = std::env::temp_dir()
        .join("bulkhead-test-image")
        .join("rootfs.tar");
    let o = run(Command::new("podman")
        .args(["import", "-q", "-c", "ENV PATH=/bin", "-c"])
        .arg("CMD [\"sleep\", \"2147483647\"]")
        .arg(&tar)
        .arg(PAUSE));
    assert!(o.status.success(), "podman import: {}", stderr(&o));
    c.import(CRI_NAMESPACE, IMAGE);
    c.import(CRI_NAMESPACE, PAUSE);
    c
}

async fn connect(sock: &Path) -> RuntimeServiceClient<Channel> {
    let sock = sock.to_path_buf();
    let channel = Endpoint::try_from("http://[::]:0")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let sock = sock.clone();
            async move {
                let s = tokio::net::UnixStream::connect(sock).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
            }
        }))
        .await
        .expect("connect to containerd's CRI socket");
    RuntimeServiceClient::new(channel)
}

/// A pod in its own network namespace, which containerd makes and the CNI plugins configure.
fn pod_network_config(name: &str) -> PodSandboxConfig {
    let mut c = pod_config(name);
    c.linux = None;
    c
}

fn pod_config(name: &str) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.into(),
            uid: name.into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        // Host network: this machine has no CNI plugins.
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(name: &str, command: &[&str]) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: IMAGE.into(),
            ..Default::default()
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

struct Pod {
    id: String,
    config: PodSandboxConfig,
}

async fn run_pod(rt: &mut RuntimeServiceClient<Channel>, name: &str, handler: &str) -> Pod {
    run_pod_with(rt, pod_config(name), handler).await
}

async fn run_pod_with(
    rt: &mut RuntimeServiceClient<Channel>,
    config: PodSandboxConfig,
    handler: &str,
) -> Pod {
    let id = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: handler.into(),
        })
        .await
        .expect("RunPodSandbox")
        .into_inner()
        .pod_sandbox_id;
    Pod { id, config }
}

async fn start_container(
    rt: &mut RuntimeServiceClient<Channel>,
    pod: &Pod,
    name: &str,
    command: &[&str],
) -> String {
    let id = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod.id.clone(),
            config: Some(container_config(name, command)),
            sandbox_config: Some(pod.config.clone()),
        })
        .await
        .expect("CreateContainer")
        .into_inner()
        .container_id;
    rt.start_container(StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .expect("StartContainer");
    id
}

/// ExecSync of `cmd` in container `id`: (exit code, stdout).
async fn exec_sync(
    rt: &mut RuntimeServiceClient<Channel>,
    id: &str,
    cmd: &[&str],
) -> (i32, String) {
    let r = rt
        .exec_sync(ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.iter().map(|c| c.to_string()).collect(),
            timeout: 20,
        })
        .await
        .expect("ExecSync")
        .into_inner();
    (r.exit_code, String::from_utf8_lossy(&r.stdout).into_owned())
}

/// CRI ContainerStats of container `id` (what `kubectl top` and the kubelet read).
async fn container_stats(rt: &mut RuntimeServiceClient<Channel>, id: &str) -> ContainerStats {
    rt.container_stats(ContainerStatsRequest {
        container_id: id.to_string(),
    })
    .await
    .expect("ContainerStats")
    .into_inner()
    .stats
    .expect("stats")
}

async fn remove_pod(rt: &mut RuntimeServiceClient<Channel>, pod: &Pod) {
    rt.stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: pod.id.clone(),
    })
    .await
    .expect("StopPodSandbox");
    rt.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: pod.id.clone(),
    })
    .await
    .expect("RemovePodSandbox");
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// RunPodSandbox, CreateContainer, StartContainer, ExecSync, UpdateContainerResources,
/// ContainerStats, StopContainer, RemovePodSandbox
/// with the `bulkhead` handler: two containers of a pod share the pod's shim, a second pod gets
/// its own, and when the pods are gone so are their shims, state and cgroups.
#[test]
fn kubelet_style_pods_on_the_bulkhead_handler() {
    require_root();
    let c = containerd_with_cri();
    block_on(async {
        let mut rt = connect(&c.sock()).await;
        let a = run_pod(&mut rt, &unique("pod-a"), "bulkhead").await;
        let c1 = start_container(&mut rt, &a, "one", &["sleep", "1000"]).await;
        let c2 = start_container(&mut rt, &a, "two", &["sleep", "1000"]).await;
        assert_eq!(c.bulkhead_shims().len(), 1, "one pod, one shim");
        assert_eq!(
            exec_sync(&mut rt, &c1, &["sh", "-c", "echo hi from $0; exit 3"]).await,
            (3, "hi from sh\n".to_string())
        );
        // The kubelet's resource update (the shim's Update) and stats (the shim's Stats).
        rt.update_container_resources(UpdateContainerResourcesRequest {
            container_id: c1.clone(),
            linux: Some(LinuxContainerResources {
                memory_limit_in_bytes: 64 << 20,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("UpdateContainerResources");
        let limit = find_cgroups(&c1)
            .iter()
            .find_map(|d| std::fs::read_to_string(d.join("memory.limit_in_bytes")).ok())
            .expect("the container's memory cgroup");
        assert_eq!(limit.trim(), (64u64 << 20).to_string());
        let stats = container_stats(&mut rt, &c1).await;
        let usage = stats
            .memory
            .and_then(|m| m.usage_bytes)
            .map(|u| u.value)
            .unwrap_or(0);
        assert!(usage > 0, "memory usage {usage}");
        assert!(
            stats
                .cpu
                .and_then(|c| c.usage_core_nano_seconds)
                .is_some_and(|u| u.value > 0),
            "no cpu usage"
        );
        let b = run_pod(&mut rt, &unique("pod-b"), "bulkhead").await;
        let c3 = start_container(&mut rt, &b, "three", &["sleep", "1000"]).await;
        assert_eq!(c.bulkhead_shims().len(), 2, "a second pod, a second shim");
        let st = status(&mut rt, &c3, false).await.expect("ContainerStatus");
        assert_eq!(
            st.status.map(|s| s.state),
            Some(ContainerState::ContainerRunning as i32)
        );
        rt.stop_container(StopContainerRequest {
            container_id: c2.clone(),
            timeout: 2,
        })
        .await
        .expect("StopContainer");
        for pod in [&a, &b] {
            remove_pod(&mut rt, pod).await;
        }
        wait_for(|| c.bulkhead_shims().is_empty(), "the pods' shims to exit");
        for id in [&a.id, &b.id, &c1, &c2, &c3] {
            let state = Path::new("/run/containerd/bulkhead")
                .join(CRI_NAMESPACE)
                .join(id);
            assert!(!state.exists(), "{} left behind", state.display());
            assert!(find_cgroups(id).is_empty(), "cgroup of {id} left behind");
        }
    });
}

/// ContainerStatus of `id` (with containerd's info when `verbose`).
async fn status(
    rt: &mut RuntimeServiceClient<Channel>,
    id: &str,
    verbose: bool,
) -> Result<ContainerStatusResponse, tonic::Status> {
    let req = ContainerStatusRequest {
        container_id: id.into(),
        verbose,
    };
    Ok(rt.container_status(req).await?.into_inner())
}

/// The container's main process id, from ContainerStatus' verbose info (containerd's "pid").
async fn container_pid(rt: &mut RuntimeServiceClient<Channel>, id: &str) -> i32 {
    let st = status(rt, id, true).await.expect("ContainerStatus");
    let info: serde_json::Value =
        serde_json::from_str(st.info.get("info").expect("verbose info")).unwrap();
    info["pid"].as_i64().expect("pid in the info") as i32
}

/// The pod's sentry: the init of its pause container (`pod`), from bulkhead's state.
fn pod_sentry_pid(pod: &str) -> i32 {
    let state = Path::new("/run/containerd/bulkhead")
        .join(CRI_NAMESPACE)
        .join(pod)
        .join("state.json");
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    st["pid"].as_i64().expect("pid in the state") as i32
}

fn status_field(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// The `bulkhead-sandbox` handler (class from the runtime options' ConfigPath): the pod's
/// pause container and its containers run in the sandbox class: the pod's sentry (the pause
/// container's) in the sentry's cage (seccomp filter, no_new_privs, only its file
/// capabilities), an application container's host process, which stands for its process in
/// the pod's sentry, in the proxy's (seccomp filter, no_new_privs, no capability); the
/// `bulkhead` handler's containers are in neither. ExecSync answers alike in both. Both pods
/// go away cleanly.
#[test]
fn runtime_class_picks_the_sandbox() {
    require_root();
    let c = containerd_with_cri();
    block_on(async {
        let mut rt = connect(&c.sock()).await;
        let mut cages = Vec::new();
        let mut pods = Vec::new();
        for handler in ["bulkhead", "bulkhead-sandbox"] {
            let pod = run_pod(&mut rt, &unique("pod-class"), handler).await;
            let id = start_container(&mut rt, &pod, "app", &["sleep", "1000"]).await;
            let pid = container_pid(&mut rt, &id).await;
            let st = status(&mut rt, &id, false)
                .await
                .expect("ContainerStatus")
                .status
                .expect("status");
            assert_eq!(
                st.state,
                ContainerState::ContainerRunning as i32,
                "{handler}: exit {} {} {}\n{}",
                st.exit_code,
                st.reason,
                st.message,
                c.log()
            );
            if handler == "bulkhead-sandbox" {
                // The sentry confines itself just after start: wait for its filter (bounded).
                wait_for(|| status_field(pid, "Seccomp:") == "2", "the sentry's cage");
            }
            cages.push((
                status_field(pid, "Seccomp:"),
                status_field(pid, "NoNewPrivs:"),
                status_field(pid, "CapEff:"),
            ));
            pods.push((pod, id));
        }
        assert_eq!(
            cages[1],
            // The proxy keeps no capability at all.
            ("2".into(), "1".into(), "0000000000000000".into())
        );
        let sentry = pod_sentry_pid(&pods[1].0.id);
        assert_eq!(
            (
                status_field(sentry, "Seccomp:"),
                status_field(sentry, "NoNewPrivs:"),
                status_field(sentry, "CapEff:"),
            ),
            // The sentry keeps only its file capabilities, in its own user namespace.
            ("2".into(), "1".into(), "000000000000001f".into())
        );
        assert_ne!(
            cages[0], cages[1],
            "the container class is not caged as the sentry"
        );
        // ExecSync (kubectl exec, exec probes): the same answer from both classes, the
        // sandbox's process served by its sentry.
        for (_, id) in &pods {
            assert_eq!(
                exec_sync(&mut rt, id, &["sh", "-c", "echo hi from $0; exit 3"]).await,
                (3, "hi from sh\n".to_string())
            );
        }
        let (_, kernel) = exec_sync(&mut rt, &pods[1].1, &["uname", "-v"]).await;
        assert!(kernel.contains("bulkhead sentry"), "{kernel}");
        // ContainerStats (kubectl top, the kubelet's figures) counts what the container ran,
        // an ended exec's CPU too, in both classes: the sandbox's app container joined its
        // pod's sentry, so the sentry counts it (its own cgroup holds only its init).
        let burn = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
        for (_, id) in &pods {
            assert_eq!(exec_sync(&mut rt, id, &["sh", "-c", burn]).await.0, 0);
            let cpu = container_stats(&mut rt, id)
                .await
                .cpu
                .and_then(|c| c.usage_core_nano_seconds)
                .map_or(0, |u| u.value);
            assert!(cpu >= 100_000_000, "{id}: {cpu} ns of CPU after a burn");
        }
        for (pod, _) in &pods {
            remove_pod(&mut rt, pod).await;
        }
        wait_for(|| c.bulkhead_shims().is_empty(), "the pods' shims to exit");
        for (pod, id) in &pods {
            for x in [&pod.id, id] {
                let state = Path::new("/run/containerd/bulkhead")
                    .join(CRI_NAMESPACE)
                    .join(x);
                assert!(!state.exists(), "{} left behind", state.display());
            }
        }
    });
}

/// containerd restarted under a running pod (an upgrade, a crash): a container that keeps
/// writing to stdout must survive the time its log reader is gone, containerd must find it
/// running afterwards (the shim's `address` file in the bundle), and the shim's events must
/// reach the new containerd. (The process writes straight into containerd's FIFOs; with no
/// reader left, a write would end it with SIGPIPE.)
#[test]
fn containers_outlive_a_containerd_restart() {
    require_root();
    let mut c = containerd_with_cri();
    let (pod, id, pid) = block_on(async {
        let mut rt = connect(&c.sock()).await;
        let pod = run_pod(&mut rt, &unique("pod-restart"), "bulkhead").await;
        let id = start_container(
            &mut rt,
            &pod,
            "ticker",
            &[
                "sh",
                "-c",
                "while true; do echo tick; echo tock >&2; sleep 0.02; done",
            ],
        )
        .await;
        let pid = container_pid(&mut rt, &id).await;
        (pod, id, pid)
    });
    c.kill();
    // Long enough for many writes with no reader (each would be fatal without one).
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert!(!ended(pid), "the container died while containerd was away");
    assert_eq!(
        c.bulkhead_shims().len(),
        1,
        "the pod's shim died with containerd"
    );
    c.restart();
    block_on(async {
        let mut rt = connect(&c.sock()).await;
        // The CRI plugin answers "not initialized" until it has reloaded its pods (bounded).
        let mut state = None;
        for _ in 0..300 {
            match status(&mut rt, &id, false).await {
                Ok(st) => {
                    state = st.status.map(|s| s.state);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let log = c.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        assert_eq!(
            state,
            Some(ContainerState::ContainerRunning as i32),
            "containerd's log, newest first:\n{}",
            tail.join("\n")
        );
        assert!(!ended(pid), "the container died after containerd came back");
        // The shim's events reach the new containerd over a new connection: /tasks/paused
        // comes from the shim alone (containerd publishes some exit, exec and OOM events of
        // its own).
        let events = c.events(CRI_NAMESPACE);
        let paused = c.ctr_in(CRI_NAMESPACE, &["task", "pause", &id]);
        assert!(paused.status.success(), "{}", stderr(&paused));
        events.wait_for("/tasks/paused", &id);
        let resumed = c.ctr_in(CRI_NAMESPACE, &["task", "resume", &id]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        remove_pod(&mut rt, &pod).await;
    });
    wait_for(|| c.bulkhead_shims().is_empty(), "the pod's shim to exit");
    assert!(find_cgroups(&id).is_empty(), "cgroup of {id} left behind");
}

/// A pod with its own network (Debian's CNI plugins: a bridge, host-local addresses, loopback;
/// the kubelet's usual setup): the sandbox class's application container serves the pod's
/// interface with the sentry's stack, and a web server in it answers curl on the host at the
/// pod's address as the container class's does. The pause container (sandbox class too)
/// leaves the interface to it.
#[test]
fn a_pods_network_reaches_the_sandbox() {
    require_root();
    let net = TempDir::new("cni");
    let conf = net.0.join("net.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("10-bhtest.conflist"),
        r#"{"cniVersion": "1.0.0", "name": "bhtest", "plugins": [
  {"type": "bridge", "bridge": "bhcni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.214.0.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}]}"#,
    )
    .unwrap();
    let cni = format!(
        "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/usr/lib/cni\"\n    \
         conf_dir = \"{}\"\n",
        conf.display()
    );
    let c = containerd_with_cri_and(&cni);
    let script = "echo hello from the pod > /tmp/i.html; exec httpd -f -p 8080 -h /tmp";
    block_on(async {
        let mut rt = connect(&c.sock()).await;
        let mut pages = Vec::new();
        for handler in ["bulkhead", "bulkhead-sandbox"] {
            let pod = run_pod_with(&mut rt, pod_network_config(&unique("pod-net")), handler).await;
            let ip = rt
                .pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: pod.id.clone(),
                    verbose: false,
                })
                .await
                .expect("PodSandboxStatus")
                .into_inner()
                .status
                .and_then(|s| s.network)
                .map(|n| n.ip)
                .unwrap_or_default();
            assert!(
                ip.starts_with("10.214.0."),
                "{handler}: pod address {ip:?}\n{}",
                c.log()
            );
            let id = start_container(&mut rt, &pod, "web", &["sh", "-c", script]).await;
            let url = format!("http://{ip}:8080/i.html");
            let page = curl_until(&url);
            if handler == "bulkhead-sandbox" {
                let (_, shown) = exec_sync(&mut rt, &id, &["ip", "-4", "-o", "addr"]).await;
                assert!(
                    shown.contains(&format!("inet {ip}/24")),
                    "{shown}\n{}",
                    c.log()
                );
            }
            remove_pod(&mut rt, &pod).await;
            pages.push(page);
        }
        assert_eq!(
            pages[0], "hello from the pod\n",
            "the container class's pod"
        );
        assert_eq!(pages[1], pages[0], "the sandbox's pod");
        wait_for(|| c.bulkhead_shims().is_empty(), "the pods' shims to exit");
    });
    let _ = Command::new("ip").args(["link", "del", "bhcni0"]).status();
}

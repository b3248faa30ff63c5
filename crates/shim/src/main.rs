//! `containerd-shim-bulkhead-v2`: containerd's shim v2 for bulkhead, one process per pod.
//! containerd reaches it as runtime `io.containerd.bulkhead.v2`.

mod events;
mod launcher;
mod metrics;
mod oom;
mod options;
mod reaper;
mod rootfs;
mod service;
mod shim;
mod stdio;
mod tasks;

const RUNTIME_ID: &str = "io.containerd.bulkhead.v2";

fn main() {
    // A pod's shim lives as long as the pod with ~18 mostly idle threads: one heap for all
    // of them (see docs/performance.md, "idle pod memory").
    bulkhead_linux::process::malloc_one_arena();
    let version = std::env::args()
        .skip(1)
        .any(|a| matches!(a.as_str(), "-v" | "--v" | "-version" | "--version"));
    if std::env::args()
        .skip(1)
        .any(|a| a == "-info" || a == "--info")
    {
        // containerd 2.x asks before starting any shim; 1.6/1.7 never do. The library this
        // shim uses parses the flag but does not answer it.
        std::process::exit(match info() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{RUNTIME_ID}: info: {e}");
                1
            }
        });
    }
    if version {
        println!(
            "containerd-shim-bulkhead-v2:\n  Version: {}\n  Runtime: {RUNTIME_ID}",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    // containerd passes -debug when its own log level is debug: the runtime's per-phase
    // timings then reach containerd's log too.
    let debug = std::env::args().any(|a| a == "-debug" || a == "--debug");
    bulkhead_runtime::log::init_sink(runtime_log, debug);
    // The service reaps its own children (reaper.rs): the library's reaper would race it.
    let config = containerd_shim::Config {
        no_reaper: true,
        ..Default::default()
    };
    containerd_shim::run::<shim::Bulkhead>(RUNTIME_ID, Some(config));
}

/// The runtime library's messages go to the shim's log, which containerd collects.
fn runtime_log(level: &str, msg: &str) {
    match level {
        "error" => log::error!("{msg}"),
        "warning" => log::warn!("{msg}"),
        _ => log::debug!("{msg}"),
    }
}

/// The `-info` reply: a RuntimeInfo message with the runtime's name and version.
fn info() -> std::io::Result<()> {
    use containerd_shim::protos::protobuf::Message;
    use containerd_shim::protos::types::introspection::{RuntimeInfo, RuntimeVersion};
    use std::io::Write;
    let info = RuntimeInfo {
        name: RUNTIME_ID.into(),
        version: Some(RuntimeVersion {
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    let bytes = info.write_to_bytes().map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()
}

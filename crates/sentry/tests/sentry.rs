//! The sentry on its own (no container around it): real busybox-static programs run with every
//! system call served by the sentry.

use bulkhead_sentry::platform::Kind;
use bulkhead_sentry::{prepare, run, HostFacts, Program};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

fn rootfs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sentry-rootfs-{}", std::process::id()));
    if !dir.join("bin/busybox").exists() {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
        std::fs::write(dir.join("etc/os-release"), "NAME=sentry-test\n").unwrap();
    }
    dir
}

fn run_prog(args: &[&str]) -> i32 {
    let root: OwnedFd = std::fs::File::open(rootfs()).unwrap().into();
    let prog = Program {
        path: "/bin/busybox".into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        hostname: "sandbox".into(),
        ..Default::default()
    };
    let kind = std::env::var("BULKHEAD_SANDBOX_PLATFORM")
        .ok()
        .and_then(|k| Kind::parse(&k))
        .unwrap_or_default();
    let out = run(
        root,
        prepare(&HostFacts::read(), kind).unwrap(),
        &prog,
        None,
    )
    .unwrap();
    eprintln!("enosys: {}", out.enosys);
    out.status
}

#[test]
fn busybox_echo_and_exit_codes() {
    assert!(Path::new("/bin/busybox").exists());
    assert_eq!(run_prog(&["echo", "hello from the sentry"]), 0);
    assert_eq!(run_prog(&["sh", "-c", "exit 7"]), 7);
    assert_eq!(run_prog(&["cat", "/etc/os-release"]), 0);
}

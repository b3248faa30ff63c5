//! cgroup v2's core files for real, in this host's unified hierarchy: a process is frozen and
//! thawed with cgroup.freeze and killed with cgroup.kill.

use bulkhead_container::resources_v2;
use std::path::Path;
use std::time::Duration;

#[test]
fn freeze_thaw_and_kill_through_the_v2_core_files() {
    let unified = Path::new("/sys/fs/cgroup/unified");
    let root = if unified.join("cgroup.procs").exists() {
        unified
    } else {
        Path::new("/sys/fs/cgroup")
    };
    assert!(
        root.join("cgroup.procs").exists(),
        "no cgroup2 hierarchy mounted"
    );
    let dir = root.join(format!("bulkhead-v2-core-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    resources_v2::freeze(&dir, true).unwrap();
    assert!(std::fs::read_to_string(dir.join("cgroup.events"))
        .unwrap()
        .contains("frozen 1"));
    resources_v2::freeze(&dir, false).unwrap();
    assert!(std::fs::read_to_string(dir.join("cgroup.events"))
        .unwrap()
        .contains("frozen 0"));
    assert!(
        resources_v2::kill_all(&dir).unwrap(),
        "this kernel has cgroup.kill"
    );
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for _ in 0..200 {
        if std::fs::remove_dir(&dir).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("cgroup {} could not be removed", dir.display());
}

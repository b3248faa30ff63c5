//! Pause points for the fault-injection suite (crates/cli/tests/reliability.rs). A debug build
//! run with `BULKHEAD_TEST_PAUSE=<point>` stops when it reaches that point, says so by writing
//! its pid to the file named by `BULKHEAD_TEST_PAUSE_FILE`, and waits until the test kills it
//! or removes the file (at most a minute), then goes on. Release builds compile the check out:
//! `point` is empty there.

/// Marks a step of a command at which a SIGKILL must leave nothing a `delete --force` cannot
/// clean up.
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("BULKHEAD_TEST_PAUSE").is_ok_and(|p| p == name) {
        use std::time::{Duration, Instant};
        let Ok(file) = std::env::var("BULKHEAD_TEST_PAUSE_FILE") else {
            return;
        };
        if std::fs::write(&file, std::process::id().to_string()).is_err() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::path::Path::new(&file).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

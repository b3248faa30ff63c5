//! The steps of a container's set-up, for `--debug` (runc writes such debug lines to its log):
//! the runtime installs where they go, once, before it forks an init or an exec process, which
//! inherit it; without a sink the steps cost one atomic load and go nowhere.

use std::sync::OnceLock;

static SINK: OnceLock<fn(&str)> = OnceLock::new();

/// Sends every later step to `sink` (the runtime's debug log).
pub fn set_sink(sink: fn(&str)) {
    let _ = SINK.set(sink);
}

/// Records one step; `msg` is only formatted when someone listens.
pub fn step(msg: impl FnOnce() -> String) {
    if let Some(sink) = SINK.get() {
        sink(&msg());
    }
}

//! runc-compatible logging: `--log FILE` with `--log-format text|json`. containerd and conmon read
//! the JSON lines ({"level","msg","time"}) to report why a command failed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    /// Where a host process with a logger of its own (the shim) wants the messages.
    sink: Option<fn(&str, &str)>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Mutex<Logger>> = OnceLock::new();

/// Sets up the process-wide logger. Without a file, messages go to stderr.
pub fn init(path: Option<&str>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) if !p.is_empty() => Some(OpenOptions::new().create(true).append(true).open(p)?),
        _ => None,
    };
    let to_file = file.is_some();
    let _ = LOGGER.set(Mutex::new(Logger {
        file,
        sink: None,
        format,
        debug,
    }));
    if debug && to_file {
        // The container's set-up steps, from the init and exec processes too (forks of this
        // single-threaded command, which inherit the logger). Only into a log file: the
        // processes' stderr becomes the container's, where debug lines have no place.
        bulkhead_container::trace::set_sink(self::debug);
    }
    Ok(())
}

/// Sends every message to `sink(level, message)` instead of a file or stderr.
pub fn init_sink(sink: fn(&str, &str), debug: bool) {
    let _ = LOGGER.set(Mutex::new(Logger {
        file: None,
        sink: Some(sink),
        format: Format::Text,
        debug,
    }));
}

/// Whether a log file was given (errors then also go there, besides the one line on stderr).
pub fn has_file() -> bool {
    LOGGER
        .get()
        .and_then(|l| l.lock().ok())
        .map(|l| l.file.is_some())
        .unwrap_or(false)
}

fn write(level: &str, msg: &str) {
    let Some(lock) = LOGGER.get() else {
        // Never panic on a closed stderr (a sandbox's sentry must not die of its log).
        let _ = writeln!(std::io::stderr(), "{level}: {msg}");
        return;
    };
    let Ok(mut l) = lock.lock() else { return };
    if level == "debug" && !l.debug {
        return;
    }
    if let Some(sink) = l.sink {
        sink(level, msg);
        return;
    }
    let time = crate::time::now_rfc3339();
    let line = match l.format {
        Format::Json => serde_json::json!({"level": level, "msg": msg, "time": time}).to_string(),
        Format::Text => format!("time={time:?} level={level} msg={msg:?}"),
    };
    match l.file.as_mut() {
        Some(f) => {
            let _ = writeln!(f, "{line}");
        }
        None => {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}

pub fn error(msg: &str) {
    write("error", msg)
}

pub fn warn(msg: &str) {
    write("warning", msg)
}

pub fn debug(msg: &str) {
    write("debug", msg)
}

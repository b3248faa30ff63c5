//! The commands' standard output, written as runc's is: when the reader has gone (`bulkhead
//! list | head -1`, `bulkhead features | true`) the command ends the way a Go program writing
//! to a closed stdout does, by SIGPIPE (exit 141 in a shell), quietly: no panic, no message.
//! Every byte a command prints goes through `print`.

use anyhow::{Context, Result};
use std::io::Write;

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            bulkhead_linux::process::die_of_sigpipe()
        }
        r => r.context("write to stdout"),
    }
}

/// `println!` through `print`; evaluates to the write's `Result`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

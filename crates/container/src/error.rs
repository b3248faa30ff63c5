//! One error type for the container class: what failed, on what, and why.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed while doing `what`. The io::Error is part of the message, not a
    /// `source`: an error chain printed whole (`{:#}`) would name it twice.
    #[error("{what}: {err}")]
    Sys { what: String, err: io::Error },
    /// The config asks for something that cannot be done; names the field.
    #[error("{0}")]
    Config(String),
    /// The child reported a failure over the sync channel.
    #[error("{0}")]
    Child(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Adds "what was being done" to an io::Result.
pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| Error::Sys { what: what(), err })
    }
}

//! The runtime layer: the OCI lifecycle over the isolation classes. It parses and validates the
//! config once, keeps each container's state on disk under a per-container lock, runs the hooks
//! and writes the logs; the class crates below do the isolation.

pub mod checkpoint;
pub mod config;
pub mod criu;
pub mod events;
pub mod exec;
pub mod faults;
pub mod hooks;
pub mod lifecycle;
pub mod log;
pub mod out;
pub mod podnet;
pub mod sandbox;
pub mod sandbox_exec;
pub mod signal;
pub mod state;
pub mod time;
pub mod tty;

pub use anyhow::{Error, Result};

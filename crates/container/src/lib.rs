//! The container class: native Linux isolation, the class runc, crun and youki provide.
//!
//! The runtime layer hands this crate a parsed, validated OCI config; this crate turns it into a
//! process: `launch` forks the container's init with its namespaces and walks it through the
//! set-up (`init`), `exec` joins a running container. Nothing here parses JSON.

pub mod attributes;
pub mod cgroups;
pub mod credentials;
pub mod device_filter;
pub mod devices;
pub mod error;
pub mod exe;
pub mod exec;
pub mod idmap;
pub mod init;
pub mod launch;
pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod resources;
pub mod resources_v2;
pub mod rootfs;
pub mod seccomp;
pub mod sync;
pub mod sysctl;
pub mod trace;

pub use error::{Error, Result};

//! The sandbox's network: sockets served by the sentry itself. Unix domain sockets live here
//! entirely (unix.rs); the host never sees them.

pub mod frame;
pub mod inet;
pub mod neigh;
pub mod netlink;
pub mod ping;
pub mod pod;
pub mod procnet;
pub mod sockdiag;
pub mod sockstat;
pub mod unix;

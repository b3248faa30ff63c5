//! The sentry's cage, built before it runs any application code: new user, pid, mount,
//! network, ipc and uts namespaces, an empty root, no capabilities, no_new_privs, and a seccomp
//! allowlist of the host calls it needs.

//! The OCI config, read and checked once, here at the top. Every error names the file and the
//! field, in one line; the layers below get typed values and never see JSON.

use anyhow::{anyhow, bail, Context, Result};
use bulkhead_container::credentials::{self, CapSets};
use bulkhead_container::namespaces::{self, Plan};
use bulkhead_container::{devices, resources, rootfs, sysctl};
use oci_spec::runtime::{Hook, Process, Spec};
use serde::de::DeserializeOwned;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A validated container config.
pub struct Config {
    pub spec: Spec,
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    pub ns: Plan,
}

/// Parses JSON into `T`; an error names the file, the field path and the position.
pub fn parse_json<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            anyhow!("{}: {inner}", file.display())
        } else {
            anyhow!("{}: {path}: {inner}", file.display())
        }
    })
}

/// Reads and validates `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Config> {
    let bundle =
        std::path::absolute(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow!("open {}: {}", file.display(), io_msg(&e)))?;
    let spec: Spec = parse_json(&text, &file)?;
    validate(spec, bundle, &file)
}

fn validate(spec: Spec, bundle: PathBuf, file: &Path) -> Result<Config> {
    let f = file.display();
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| anyhow!("{f}: root: missing"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{f}: root.path: {} is not a directory", rootfs.display()),
        Err(e) => bail!("{f}: root.path: {}: {}", rootfs.display(), io_msg(&e)),
    }
    let rootfs = rootfs
        .canonicalize()
        .with_context(|| format!("{f}: root.path"))?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("{f}: process: missing"))?;
    validate_process(process).map_err(|e| anyhow!("{f}: {e}"))?;
    check_strings(&spec).map_err(|e| anyhow!("{f}: {e}"))?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| anyhow!("{f}: linux: missing"))?;
    let ns = namespaces::plan(linux.namespaces().as_deref().unwrap_or(&[]))
        .map_err(|e| anyhow!("{f}: {e}"))?;
    namespaces::open_joins(&ns).map_err(|e| anyhow!("{f}: {e}"))?;
    if !ns.has(oci_spec::runtime::LinuxNamespaceType::Mount) {
        if rootfs == Path::new("/") {
            // The container's mounts would be made in the runtime's mount namespace, over the
            // host's own /proc, /dev and /sys (runc makes them).
            bail!("{f}: root.path: \"/\" needs a private mount namespace (add {{\"type\": \"mount\"}} to linux.namespaces)");
        }
        // As runc: without a mount namespace of its own the container's mounts are made in the
        // runtime's, and a path masked or made read-only there would be so for the host.
        for (field, paths) in [
            ("linux.maskedPaths", linux.masked_paths()),
            ("linux.readonlyPaths", linux.readonly_paths()),
        ] {
            if paths.as_ref().is_some_and(|p| !p.is_empty()) {
                bail!("{f}: {field}: unable to restrict paths without a private mount namespace (add {{\"type\": \"mount\"}} to linux.namespaces)");
            }
        }
    }
    if let Some(sysctl) = linux.sysctl() {
        sysctl::check_all(sysctl, &ns).map_err(|e| anyhow!("{f}: {e}"))?;
    }
    if let Some(r) = linux.resources() {
        resources::check(r).map_err(|e| anyhow!("{f}: {e}"))?;
    }
    if linux.time_offsets().is_some() {
        bail!("{f}: linux.timeOffsets: not supported yet");
    }
    rootfs::propagation(linux.rootfs_propagation().as_deref()).map_err(|e| anyhow!("{f}: {e}"))?;
    if let Some(s) = linux.seccomp() {
        let built = bulkhead_container::seccomp::build(s).map_err(|e| anyhow!("{f}: {e}"))?;
        if !built.skipped.is_empty() {
            crate::log::debug(&format!(
                "{f}: linux.seccomp: skipping system calls newer than this libseccomp: {}",
                built.skipped.join(", ")
            ));
        }
    }
    for d in linux.devices().as_deref().unwrap_or(&[]) {
        devices::from_config(d).map_err(|e| anyhow!("{f}: {e}"))?;
    }
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !m.destination().is_absolute() {
            bail!(
                "{f}: mounts[{i}].destination: {:?} is not an absolute path",
                m.destination()
            );
        }
    }
    if let Some(hooks) = spec.hooks() {
        for (name, list) in [
            ("prestart", hooks.prestart()),
            ("createRuntime", hooks.create_runtime()),
            ("createContainer", hooks.create_container()),
            ("poststart", hooks.poststart()),
            ("poststop", hooks.poststop()),
        ] {
            for (i, h) in list.as_deref().unwrap_or(&[]).iter().enumerate() {
                check_hook(h).map_err(|e| anyhow!("{f}: hooks.{name}[{i}].path: {e}"))?;
            }
        }
        for (i, h) in hooks
            .start_container()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if !h.path().is_absolute() {
                bail!(
                    "{f}: hooks.startContainer[{i}].path: {:?} is not absolute",
                    h.path()
                );
            }
        }
    }
    Ok(Config {
        spec,
        bundle,
        rootfs,
        ns,
    })
}

/// Checks what can be checked of a process before anything is created.
pub fn validate_process(p: &Process) -> Result<()> {
    match p.args().as_deref() {
        None | Some([]) => bail!("process.args: must not be empty"),
        _ => {}
    }
    if !p.cwd().is_absolute() {
        bail!("process.cwd: {:?} is not an absolute path", p.cwd());
    }
    CapSets::from_config(p.capabilities().as_ref())?;
    for l in p.rlimits().as_deref().unwrap_or(&[]) {
        credentials::rlimit_resource(l.typ())?;
        if l.soft() > l.hard() {
            bail!(
                "process.rlimits: {} soft limit {} is above the hard limit {}",
                l.typ(),
                l.soft(),
                l.hard()
            );
        }
    }
    for (i, e) in p.env().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !e.contains('=') {
            bail!("process.env: {e:?} is not of the form KEY=value");
        }
        no_nul(&format!("process.env[{i}]"), e)?;
    }
    no_nul_each("process.args", p.args().as_deref().unwrap_or(&[]))?;
    no_nul("process.cwd", &p.cwd().to_string_lossy())?;
    check_exec_size(p)
}

/// A string handed to the kernel as a C string cannot hold a NUL byte: it would be cut there.
fn no_nul(field: &str, s: &str) -> Result<()> {
    match s.find('\0') {
        Some(at) => bail!("{field}: contains a NUL byte (at offset {at})"),
        None => Ok(()),
    }
}

/// `no_nul` on each item of a list, naming it `field[i]`.
fn no_nul_each(field: &str, items: &[String]) -> Result<()> {
    for (i, s) in items.iter().enumerate() {
        no_nul(&format!("{field}[{i}]"), s)?;
    }
    Ok(())
}

/// The kernel's limit on one argument or environment string (MAX_ARG_STRLEN, 32 pages).
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// execve refuses (E2BIG) what does not fit its limits; checked here so that a config the
/// program could never start with is refused at create, not at start. The kernel allows the
/// strings and their pointers a quarter of the stack limit, at most 6 MiB and at least 128 KiB
/// (fs/exec.c); the stack limit is the config's RLIMIT_STACK or, without one, ours, which the
/// init inherits.
fn check_exec_size(p: &Process) -> Result<()> {
    let args = p.args().as_deref().unwrap_or(&[]);
    let env = p.env().as_deref().unwrap_or(&[]);
    for (field, list) in [("process.args", args), ("process.env", env)] {
        for (i, s) in list.iter().enumerate() {
            if s.len() >= MAX_ARG_STRLEN {
                bail!(
                    "{field}[{i}]: {} bytes, above the kernel's limit of {} for one string",
                    s.len(),
                    MAX_ARG_STRLEN - 1
                );
            }
        }
    }
    let stack = p
        .rlimits()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|l| l.typ() == oci_spec::runtime::PosixRlimitType::RlimitStack)
        .map(|l| l.soft())
        .unwrap_or_else(bulkhead_linux::process::stack_limit);
    let limit = (stack / 4).clamp(32 * 4096, 6 << 20);
    let strings: u64 = args.iter().chain(env).map(|s| s.len() as u64 + 1).sum();
    let pointers = (args.len() + env.len()) as u64 * 8;
    if strings + pointers > limit {
        bail!(
            "process.args and process.env: {} bytes in all, above the kernel's limit of {limit} \
             for a stack limit of {stack} (process.rlimits RLIMIT_STACK)",
            strings + pointers
        );
    }
    Ok(())
}

/// NUL bytes in the other strings the kernel gets as C strings (names, paths, labels).
fn check_strings(spec: &Spec) -> Result<()> {
    let opt = |field: &str, s: &Option<String>| s.as_deref().map_or(Ok(()), |v| no_nul(field, v));
    opt("hostname", spec.hostname())?;
    opt("domainname", spec.domainname())?;
    if let Some(r) = spec.root() {
        no_nul("root.path", &r.path().to_string_lossy())?;
    }
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        no_nul(
            &format!("mounts[{i}].destination"),
            &m.destination().to_string_lossy(),
        )?;
        if let Some(src) = m.source() {
            no_nul(&format!("mounts[{i}].source"), &src.to_string_lossy())?;
        }
        opt(&format!("mounts[{i}].type"), m.typ())?;
        no_nul_each(
            &format!("mounts[{i}].options"),
            m.options().as_deref().unwrap_or(&[]),
        )?;
    }
    if let Some(p) = spec.process() {
        opt("process.apparmorProfile", p.apparmor_profile())?;
        opt("process.selinuxLabel", p.selinux_label())?;
    }
    if let Some(l) = spec.linux() {
        opt("linux.mountLabel", l.mount_label())?;
        no_nul_each(
            "linux.maskedPaths",
            l.masked_paths().as_deref().unwrap_or(&[]),
        )?;
        no_nul_each(
            "linux.readonlyPaths",
            l.readonly_paths().as_deref().unwrap_or(&[]),
        )?;
        if let Some(c) = l.cgroups_path() {
            no_nul("linux.cgroupsPath", &c.to_string_lossy())?;
        }
        for (i, n) in l.namespaces().as_deref().unwrap_or(&[]).iter().enumerate() {
            if let Some(path) = n.path() {
                no_nul(
                    &format!("linux.namespaces[{i}].path"),
                    &path.to_string_lossy(),
                )?;
            }
        }
        for (i, d) in l.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
            no_nul(
                &format!("linux.devices[{i}].path"),
                &d.path().to_string_lossy(),
            )?;
        }
    }
    Ok(())
}

fn check_hook(h: &Hook) -> Result<()> {
    let p = h.path();
    if !p.is_absolute() {
        bail!("{:?} is not absolute", p);
    }
    let m = std::fs::metadata(p).map_err(|e| anyhow!("{}: {}", p.display(), io_msg(&e)))?;
    if !m.is_file() || m.permissions().mode() & 0o111 == 0 {
        bail!("{} is not executable", p.display());
    }
    if let Some(t) = h.timeout() {
        if t <= 0 {
            bail!("timeout must be positive, got {t}");
        }
    }
    Ok(())
}

/// Reads a process.json for `exec --process`.
/// Reads and validates an `exec --process` file. A process without a `user` runs as
/// `default_user` (the container's own process user), never as root by omission.
pub fn load_process(file: &Path, default_user: &oci_spec::runtime::User) -> Result<Process> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow!("open {}: {}", file.display(), io_msg(&e)))?;
    // Syntax errors with their line and column first; then the fields, by path.
    let mut v: serde_json::Value = parse_json(&text, file)?;
    if let Some(obj) = v.as_object_mut() {
        if !obj.contains_key("user") {
            obj.insert("user".into(), serde_json::to_value(default_user)?);
        }
    }
    let p: Process = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            anyhow!("{}: {inner}", file.display())
        } else {
            anyhow!("{}: {path}: {inner}", file.display())
        }
    })?;
    validate_process(&p).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    Ok(p)
}

/// An io::Error as Go prints it ("no such file or directory"), for runc-compatible messages.
pub fn io_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

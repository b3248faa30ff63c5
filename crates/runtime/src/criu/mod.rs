//! CRIU, for `checkpoint` and `restore`: the RPC messages (proto), the swrk connection (swrk),
//! the requests built from the flags and the config (request), and the check that CRIU works
//! on this host before anything is touched.

pub mod proto;
pub mod request;
pub mod swrk;
#[cfg(test)]
mod tests;

use anyhow::{anyhow, bail, Context, Result};
use proto::{Features, Opts, Req, ReqType, Version};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use swrk::Spawn;

/// runc asks for CRIU 3.0 at least; so does bulkhead (the swrk RPC as used here).
const MIN_VERSION: i32 = 30000;

/// criu's version as one number (3.17.1 is 31701).
pub fn version_number(v: &Version) -> i32 {
    v.major_number * 10000 + v.minor_number * 100 + v.sublevel.unwrap_or(0)
}

/// A directory removed (with what is in it) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let p = std::env::temp_dir().join(format!(
            "bulkhead-criu-{what}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .with_context(|| format!("create {}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The errors criu logged ("(00.023380) Error (criu/vdso.c:381): vdso: Unexpected ..."), in
/// order, without their source positions, joined in one line: the first few, each once.
pub fn log_errors(log: &str) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("Error (") else {
            continue;
        };
        let rest = &line[at..];
        let msg = rest.find("): ").map_or(rest, |i| &rest[i + 3..]).trim();
        let msg = msg.trim_end_matches('.').to_string();
        if !msg.is_empty() && !seen.contains(&msg) {
            seen.push(msg);
        }
        if seen.len() == 4 {
            break;
        }
    }
    (!seen.is_empty()).then(|| seen.join("; "))
}

/// What a log file says went wrong, or where to look.
pub fn explain_log(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => match log_errors(&text) {
            Some(errors) => format!("{errors} (log: {})", path.display()),
            None => format!("see {}", path.display()),
        },
        Err(_) => "criu wrote no log".into(),
    }
}

/// What `usable` learnt.
pub struct Criu {
    pub path: PathBuf,
    pub version: i32,
}

/// Finds criu and asks it whether it works here: VERSION, then CHECK (criu's own `criu check`,
/// run by the swrk service with its log in a private directory), then FEATURE_CHECK for the
/// features the command needs. Nothing of the container is touched. Errors are criu's own.
pub fn usable(flag: Option<&str>, want: &Features) -> Result<Criu> {
    let path = swrk::find(flag)?;
    let resp = swrk::call(
        &path,
        Spawn::default(),
        &Req {
            r#type: ReqType::Version as i32,
            ..Default::default()
        },
        &mut swrk::ignore_notify,
    )
    .context("criu VERSION")?;
    let Some(v) = resp.version.clone().filter(|_| resp.success) else {
        bail!("criu VERSION failed: {}", errmsg(&resp));
    };
    let version = version_number(&v);
    if version < MIN_VERSION {
        bail!(
            "criu {}.{} is too old (3.0 or newer is needed)",
            v.major_number,
            v.minor_number
        );
    }
    let dir = TempDir::new("check")?;
    let dir_fd = bulkhead_linux::fd::open_dir(&dir.0)
        .with_context(|| format!("open {}", dir.0.display()))?;
    let resp = swrk::call(
        &path,
        Spawn::default(),
        &Req {
            r#type: ReqType::Check as i32,
            opts: Some(Opts {
                images_dir_fd: dir_fd.as_raw_fd(),
                log_file: Some("check.log".into()),
                log_level: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        },
        &mut swrk::ignore_notify,
    )
    .context("criu CHECK")?;
    if !resp.success {
        let log = std::fs::read_to_string(dir.0.join("check.log")).unwrap_or_default();
        let why = log_errors(&log).unwrap_or_else(|| errmsg(&resp));
        bail!("criu check failed: {why}");
    }
    if want.lazy_pages.is_some() || want.mem_track.is_some() {
        let resp = swrk::call(
            &path,
            Spawn::default(),
            &Req {
                r#type: ReqType::FeatureCheck as i32,
                features: Some(want.clone()),
                ..Default::default()
            },
            &mut swrk::ignore_notify,
        )
        .context("criu FEATURE_CHECK")?;
        let got = resp.features.clone().unwrap_or_default();
        if !resp.success {
            bail!("criu FEATURE_CHECK failed: {}", errmsg(&resp));
        }
        if want.lazy_pages == Some(true) && got.lazy_pages != Some(true) {
            bail!(
                "criu cannot do --lazy-pages here (its feature check says no userfaultfd support)"
            );
        }
        if want.mem_track == Some(true) && got.mem_track != Some(true) {
            bail!("criu cannot track memory here (needed by --pre-dump and --parent-path; its feature check says no soft-dirty support)");
        }
    }
    Ok(Criu { path, version })
}

/// criu's words for a failed request.
pub fn errmsg(resp: &proto::Resp) -> String {
    match (&resp.cr_errmsg, resp.cr_errno) {
        (Some(m), _) if !m.is_empty() => m.clone(),
        (_, Some(n)) if n != 0 => std::io::Error::from_raw_os_error(n).to_string(),
        _ => anyhow!("no reason given").to_string(),
    }
}

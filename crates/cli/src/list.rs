//! `list` and `ps` output, in runc's formats.

use anyhow::{bail, Context, Result};
use bulkhead_runtime::outln;
use bulkhead_runtime::sandbox_exec::{self, SandboxProcess};
use bulkhead_runtime::state::{self, OciState, Store};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

pub fn list(store: &Store, format: &str, quiet: bool) -> Result<()> {
    let mut loaded = Vec::new();
    for id in store.ids()? {
        let dir = store.dir(&id);
        let Ok(st) = state::load(&dir) else { continue };
        let status = st.status(&dir);
        let owner = owner_name(std::fs::metadata(&dir).map(|m| m.uid()).unwrap_or(0));
        loaded.push((st, status, owner));
    }
    // Typed rows serialize in runc's key order (ociVersion, id, pid, status, ...).
    let rows: Vec<OciState> = loaded
        .iter()
        .map(|(st, status, owner)| OciState {
            owner,
            ..st.oci(*status)
        })
        .collect();
    if quiet {
        for r in &rows {
            outln!("{}", r.id)?;
        }
        return Ok(());
    }
    match format {
        // runc encodes a nil slice when there is no container: `null`.
        "json" if rows.is_empty() => outln!("null")?,
        "json" => outln!("{}", serde_json::to_string(&rows)?)?,
        "table" => {
            let mut table = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for r in &rows {
                table.push(vec![
                    r.id.to_string(),
                    r.pid.to_string(),
                    r.status.to_string(),
                    r.bundle.display().to_string(),
                    r.created.to_string(),
                    r.owner.to_string(),
                ]);
            }
            bulkhead_runtime::out::print(&tabulate(&table))?;
        }
        other => bail!("--format: invalid format {other:?} (table or json)"),
    }
    Ok(())
}

/// Columns padded like Go's tabwriter with minwidth 12, padding 3 (runc's `list` layout).
fn tabulate(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.len() + 3))
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

fn owner_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| format!("#{uid}"))
}

/// `ps`: the pids of the container (json), or ps(1)'s lines for them (table).
pub fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<i32> {
    state::validate_id(id)?;
    let dir = store.dir(id);
    let st = state::load(&dir).map_err(|_| anyhow::anyhow!("container {id} does not exist"))?;
    let status = st.status(&dir);
    if status == state::Status::Running && sandbox_exec::is_sandbox(&dir) {
        return sandbox_ps(&dir, format, ps_args);
    }
    let pids = st.cgroup.pids()?;
    match format {
        "json" => {
            outln!("{}", serde_json::to_string(&pids)?)?;
            Ok(0)
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = Command::new("ps").args(&args).output().context("run ps")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .context("ps output has no PID column")?;
            outln!("{header}")?;
            for l in lines {
                if l.split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse().ok())
                    .is_some_and(|p: i32| pids.contains(&p))
                {
                    outln!("{l}")?;
                }
            }
            Ok(0)
        }
        other => bail!("--format: invalid format {other:?} (table or json)"),
    }
}

/// `ps` of a running sandbox: its processes as the sentry knows them (the host sees only the
/// sentry and its stubs): their pids inside (json), or lines in `ps -ef`'s columns.
fn sandbox_ps(dir: &std::path::Path, format: &str, ps_args: &[String]) -> Result<i32> {
    if !ps_args.is_empty() {
        bail!("ps: options for ps(1) do not apply to a sandbox-class container: it lists the sandbox's processes in ps -ef's columns");
    }
    let procs = sandbox_exec::processes(dir)?;
    match format {
        "json" => {
            let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
            outln!("{}", serde_json::to_string(&pids)?)?;
        }
        "table" => {
            outln!(
                "{}",
                ps_line(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"])
            )?;
            let boot = boot_time();
            for p in &procs {
                outln!("{}", sandbox_row(p, boot))?;
            }
        }
        other => bail!("--format: invalid format {other:?} (table or json)"),
    }
    Ok(0)
}

/// One line in `ps -ef`'s columns.
fn ps_line(f: [&str; 8]) -> String {
    format!(
        "{:<8} {:>7} {:>7} {:>2} {:>5} {:<8} {:>8} {}",
        f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
    )
}

fn sandbox_row(p: &SandboxProcess, boot: i64) -> String {
    let start = boot + (p.start_ticks / 100) as i64;
    let cpu = p.cpu_ticks / 100;
    ps_line([
        &user_in_sandbox(p.uid),
        &p.pid.to_string(),
        &p.ppid.to_string(),
        "0",
        &clock_of_day(start),
        "?",
        &format!("{:02}:{:02}:{:02}", cpu / 3600, cpu / 60 % 60, cpu % 60),
        &p.cmd,
    ])
}

/// A uid inside the sandbox: its number (the sandbox's names are in its own rootfs).
fn user_in_sandbox(uid: u32) -> String {
    if uid == 0 {
        "root".into()
    } else {
        uid.to_string()
    }
}

/// The host's boot time (seconds since the epoch), which start times in ticks count from.
fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// HH:MM (UTC) of a time in seconds since the epoch, as ps's STIME for today.
fn clock_of_day(secs: i64) -> String {
    let day = secs.rem_euclid(86400);
    format!("{:02}:{:02}", day / 3600, day / 60 % 60)
}

//! The few calls of systemd's D-Bus API (org.freedesktop.systemd1.Manager) the systemd cgroup
//! driver makes, over the system bus, with zbus. A job-making call (start, stop) returns once
//! systemd has finished the job: its JobRemoved signal, with the job's result.
//!
//! zbus starts threads of its own; every call here comes after the container's init was cloned
//! (or in `update`/`delete`), never before: the launch path forks single-threaded.

use crate::error::{Error, Result};
use std::sync::mpsc;
use std::time::Duration;
use zbus::blocking::{Connection, Proxy};
use zbus::zvariant::{self, OwnedObjectPath};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a start or stop job may take (systemd's own default job timeout is longer; a
/// scope's jobs are done in milliseconds unless systemd is stuck).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A unit property's value, in the D-Bus types systemd expects for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(String),
    /// "as" (Wants).
    Strs(Vec<String>),
    /// "au" (PIDs).
    U32s(Vec<u32>),
    /// "ay" (AllowedCPUs, AllowedMemoryNodes).
    Bytes(Vec<u8>),
    /// "a(ss)" (DeviceAllow: node, access).
    Devices(Vec<(String, String)>),
}

impl Value {
    fn to_zvariant(&self) -> zvariant::Value<'static> {
        match self {
            Value::Bool(b) => zvariant::Value::from(*b),
            Value::I32(n) => zvariant::Value::from(*n),
            Value::U32(n) => zvariant::Value::from(*n),
            Value::I64(n) => zvariant::Value::from(*n),
            Value::U64(n) => zvariant::Value::from(*n),
            Value::Str(s) => zvariant::Value::from(s.clone()),
            Value::Strs(v) => zvariant::Value::from(v.clone()),
            Value::U32s(v) => zvariant::Value::from(v.clone()),
            Value::Bytes(v) => zvariant::Value::from(v.clone()),
            Value::Devices(v) => zvariant::Value::from(v.clone()),
        }
    }
}

/// A connection to systemd on the system bus.
pub struct Systemd {
    conn: Connection,
}

impl Systemd {
    pub fn connect() -> Result<Systemd> {
        let conn = Connection::system().map_err(|e| {
            Error::Config(format!(
                "systemd cgroup driver: connect to the system bus: {}",
                Systemd::describe(&e)
            ))
        })?;
        let sd = Systemd { conn };
        // systemd sends job signals (JobRemoved) only while some client has subscribed; once
        // per connection (a second Subscribe is an error).
        sd.manager()
            .and_then(|m| m.call::<_, _, ()>("Subscribe", &()))
            .map_err(|e| {
                Error::Config(format!(
                    "systemd cgroup driver: subscribe to systemd's signals: {}",
                    Systemd::describe(&e)
                ))
            })?;
        Ok(sd)
    }

    /// The manager's proxy, without zbus's property cache: it would fetch every property of
    /// the manager (and watch them) for the one (Version) read here.
    fn manager(&self) -> zbus::Result<Proxy<'static>> {
        zbus::blocking::proxy::Builder::new(&self.conn)
            .destination(DEST)?
            .path(PATH)?
            .interface(MANAGER)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
    }

    /// systemd's version number (252 of "252.39-1~deb12u2"); 0 when it cannot be read, which
    /// leaves out the properties newer versions added.
    pub fn version(&self) -> u32 {
        self.manager()
            .and_then(|m| m.get_property::<String>("Version"))
            .ok()
            .and_then(|v| {
                let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .unwrap_or(0)
    }

    /// StartTransientUnit in "replace" mode, waiting for the job to finish.
    pub fn start_transient_unit(&self, name: &str, props: &[(&str, Value)]) -> zbus::Result<()> {
        let props = zvariant_props(props);
        let aux: Vec<(&str, Vec<(&str, zvariant::Value)>)> = Vec::new();
        self.job(name, "start", |m| {
            m.call("StartTransientUnit", &(name, "replace", &props, &aux))
        })
    }

    /// StopUnit, waiting for the job; a unit systemd does not know is stopped already.
    pub fn stop_unit(&self, name: &str) -> zbus::Result<()> {
        match self.job(name, "stop", |m| m.call("StopUnit", &(name, "replace"))) {
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.NoSuchUnit") => Ok(()),
            r => r,
        }
    }

    /// SetUnitProperties for the unit's runtime (not written to /etc).
    pub fn set_unit_properties(&self, name: &str, props: &[(&str, Value)]) -> zbus::Result<()> {
        let props = zvariant_props(props);
        self.manager()?
            .call::<_, _, ()>("SetUnitProperties", &(name, true, &props))
    }

    /// ResetFailedUnit, best effort: a unit that is not failed (or not there) is fine.
    pub fn reset_failed_unit(&self, name: &str) {
        if let Ok(m) = self.manager() {
            let _ = m.call::<_, _, ()>("ResetFailedUnit", &(name,));
        }
    }

    /// Runs a job-making call and waits for its JobRemoved signal. The signal is subscribed to
    /// before the call, so a job that finishes at once is not missed.
    fn job(
        &self,
        unit: &str,
        what: &str,
        call: impl FnOnce(&Proxy<'static>) -> zbus::Result<OwnedObjectPath>,
    ) -> zbus::Result<()> {
        let manager = self.manager()?;
        let signals = manager.receive_signal("JobRemoved")?;
        let job = call(&manager)?;
        let result = wait_job(signals, job.clone())?;
        if result == "done" {
            return Ok(());
        }
        Err(zbus::Error::Failure(format!(
            "the {what} job {} of {unit} ended with result {result:?}{}",
            job.as_str(),
            if result == "failed" {
                " (see journalctl -u for why)"
            } else {
                ""
            }
        )))
    }

    /// Whether systemd refused a start because a unit of that name is loaded.
    pub fn is_unit_exists(e: &zbus::Error) -> bool {
        error_name(e) == Some("org.freedesktop.systemd1.UnitExists")
    }

    /// One line for an error: systemd's message when it sent one.
    pub fn describe(e: &zbus::Error) -> String {
        match e {
            zbus::Error::MethodError(name, detail, _) => match detail {
                Some(d) => format!("{d} ({})", name.as_str()),
                None => name.as_str().to_string(),
            },
            other => other.to_string(),
        }
        .replace('\n', " ")
    }
}

fn error_name(e: &zbus::Error) -> Option<&str> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str()),
        _ => None,
    }
}

/// The properties as D-Bus's a(sv), with names of their own (the values are owned already).
fn zvariant_props(props: &[(&str, Value)]) -> Vec<(String, zvariant::Value<'static>)> {
    props
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_zvariant()))
        .collect()
}

/// Waits (at most JOB_TIMEOUT) for the JobRemoved signal of `job`; returns its result ("done",
/// "failed", "canceled", "timeout", "dependency", "skipped"). The signal iterator blocks without
/// a timeout of its own, so it runs on a thread that hands the result over.
fn wait_job(
    signals: zbus::blocking::proxy::SignalIterator<'static>,
    job: OwnedObjectPath,
) -> zbus::Result<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for msg in signals {
            let Ok((_, path, _, result)) = msg
                .body()
                .deserialize::<(u32, OwnedObjectPath, String, String)>()
            else {
                continue;
            };
            if path == job {
                let _ = tx.send(result);
                return;
            }
        }
    });
    rx.recv_timeout(JOB_TIMEOUT).map_err(|_| {
        zbus::Error::Failure(format!(
            "systemd did not finish the job within {}s",
            JOB_TIMEOUT.as_secs()
        ))
    })
}

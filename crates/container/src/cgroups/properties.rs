//! Unit properties from the config's annotations, as runc reads them: an annotation
//! `org.systemd.property.NAME` whose value is in GVariant's text form becomes the unit property
//! NAME, given at the unit's start after bulkhead's own (e.g. `"org.systemd.property.
//! TimeoutStopUSec": "uint64 123456789"`, `"org.systemd.property.CollectMode":
//! "'inactive-or-failed'"`). A time in seconds (`...Sec`) is given to systemd in µs (`...USec`).
//! Only the simple GVariant forms are read: true, false, a quoted string, and integers bare
//! (int32), or typed with int32, uint32, int64, uint64 (and a bare decimal for a time).

use super::dbus::Value;
use crate::error::{Error, Result};
use std::collections::HashMap;

const PREFIX: &str = "org.systemd.property.";

/// The unit properties the annotations ask for, in name order; an unreadable one is a config
/// error naming the annotation.
pub fn from_annotations(
    annotations: Option<&HashMap<String, String>>,
) -> Result<Vec<(String, Value)>> {
    let mut props = Vec::new();
    let Some(annotations) = annotations else {
        return Ok(props);
    };
    let mut keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    for key in keys {
        let name = &key[PREFIX.len()..];
        let bad = |why: String| Error::Config(format!("annotations: {key}: {why}"));
        if !valid_name(name) {
            return Err(bad(format!(
                "{name:?} is not a systemd property name (letters and digits, a capital first)"
            )));
        }
        let raw = &annotations[key];
        let value = parse(raw).ok_or_else(|| {
            bad(format!(
                "{raw:?} is not a GVariant value bulkhead reads (true, false, 'string', N, int32 N, uint32 N, int64 N, uint64 N)"
            ))
        })?;
        props.push(match seconds_name(name) {
            Some(usec_name) => {
                let usec = to_usec(raw, &value)
                    .ok_or_else(|| bad(format!("{raw:?} is not a number of seconds")))?;
                (usec_name, Value::U64(usec))
            }
            None => (name.to_string(), value),
        });
    }
    Ok(props)
}

/// D-Bus member-like names as systemd's properties are: ASCII letters and digits, a capital
/// first.
fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// "TimeoutStopSec" is "TimeoutStopUSec" over D-Bus. Only after a lower-case letter, as runc:
/// "TimeoutStopUSec" itself is a time in µs already.
fn seconds_name(name: &str) -> Option<String> {
    let stem = name.strip_suffix("Sec")?;
    stem.chars()
        .last()
        .filter(char::is_ascii_lowercase)
        .map(|_| format!("{stem}USec"))
}

/// A number of seconds (an integer of any form, or a bare decimal) in µs.
fn to_usec(raw: &str, value: &Value) -> Option<u64> {
    let secs = match value {
        Value::I32(n) => f64::from(*n),
        Value::U32(n) => f64::from(*n),
        Value::I64(n) => *n as f64,
        Value::U64(n) => *n as f64,
        Value::Str(_) => raw.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1e6).round() as u64)
}

/// The GVariant text forms read; a bare decimal (for `...Sec`) comes back as its text.
fn parse(raw: &str) -> Option<Value> {
    let v = raw.trim();
    match v {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    for q in ['\'', '"'] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return (!inner.contains(q)).then(|| Value::Str(inner.to_string()));
        }
    }
    if let Some((typ, num)) = v.split_once(' ') {
        let num = num.trim();
        return match typ {
            "int32" => num.parse().ok().map(Value::I32),
            "uint32" => num.parse().ok().map(Value::U32),
            "int64" => num.parse().ok().map(Value::I64),
            "uint64" => num.parse().ok().map(Value::U64),
            _ => None,
        };
    }
    if let Ok(n) = v.parse::<i32>() {
        return Some(Value::I32(n));
    }
    v.parse::<f64>().ok().map(|_| Value::Str(v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Result<Vec<(String, Value)>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
            .chain([("other".to_string(), "x".to_string())])
            .collect();
        from_annotations(Some(&map))
    }

    #[test]
    fn gvariant_forms_become_properties() {
        let got = props(&[
            ("TimeoutStopUSec", "uint64 123456789"),
            ("CollectMode", "'inactive-or-failed'"),
            ("IgnoreOnIsolate", "true"),
            ("CPUWeight", "uint64 50"),
            ("Nice", "-5"),
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("CPUWeight".to_string(), Value::U64(50)),
                (
                    "CollectMode".into(),
                    Value::Str("inactive-or-failed".into())
                ),
                ("IgnoreOnIsolate".into(), Value::Bool(true)),
                ("Nice".into(), Value::I32(-5)),
                ("TimeoutStopUSec".into(), Value::U64(123_456_789)),
            ]
        );
    }

    #[test]
    fn seconds_become_microseconds() {
        let got = props(&[("TimeoutStopSec", "2"), ("RuntimeMaxSec", "1.5")]).unwrap();
        assert_eq!(
            got,
            vec![
                ("RuntimeMaxUSec".to_string(), Value::U64(1_500_000)),
                ("TimeoutStopUSec".into(), Value::U64(2_000_000)),
            ]
        );
    }

    #[test]
    fn unreadable_ones_name_the_annotation() {
        for (name, value) in [
            ("TimeoutStopUSec", "uint8 3"),
            ("lower", "true"),
            ("Bad-Name", "true"),
            ("CollectMode", "'unterminated"),
            ("TimeoutStopSec", "'soon'"),
        ] {
            let e = props(&[(name, value)]).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("annotations: {PREFIX}{name}: ")),
                "{e}"
            );
        }
        assert!(from_annotations(None).unwrap().is_empty());
    }
}

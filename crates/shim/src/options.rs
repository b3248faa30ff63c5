//! The isolation class from containerd's runtime options. For a runtime that is not runc,
//! containerd's CRI plugin sends the runtime entry's `options` table as `runtimeoptions.v1.Options`
//! (`TypeUrl`, `ConfigPath`, `ConfigBody`); `ConfigPath`/`ConfigBody` hold bulkhead's shim
//! config, a small TOML file: `class = "sandbox"` or `class = "container"`, and
//! `SystemdCgroup = true` for the systemd cgroup driver (the key runc's options use).
//! (`ctr run --runtime-config-path FILE` sends the same message.)
//! runc's own options (`containerd.runc.v1.Options`, e.g. from `ctr run --runc-systemd-cgroup`)
//! are read too: of those, `SystemdCgroup = true` picks the systemd cgroup driver, as it makes
//! containerd's runc shim pass `--systemd-cgroup`.

use anyhow::{anyhow, bail, Context, Result};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::CodedInputStream;

/// What the options ask of the shim for one container.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShimOptions {
    /// The isolation class, when the options name one.
    pub class: Option<String>,
    /// The systemd cgroup driver (`SystemdCgroup = true`).
    pub systemd_cgroup: bool,
}

/// Reads bulkhead's runtime options or runc's.
pub fn parse(options: Option<&Any>) -> Result<ShimOptions> {
    match options {
        Some(any) if any.type_url.ends_with("runc.v1.Options") => Ok(ShimOptions {
            class: None,
            systemd_cgroup: decode_runc(&any.value).context("runc options")?,
        }),
        _ => config(options),
    }
}

/// containerd.runc.v1.Options: field 9 is `systemd_cgroup` (a bool, varint); the others (no
/// pivot, keyring, shim cgroup, io uid/gid, binary name, root, criu paths) are skipped.
fn decode_runc(bytes: &[u8]) -> Result<bool> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let mut systemd = false;
    while let Some(tag) = input.read_raw_tag_or_eof()? {
        match tag >> 3 {
            9 => systemd = input.read_bool()?,
            _ => input.skip_field(
                containerd_shim::protos::protobuf::rt::WireType::new(tag & 7)
                    .ok_or_else(|| anyhow!("bad wire type"))?,
            )?,
        }
    }
    Ok(systemd)
}

/// bulkhead's own config, from runtimeoptions.v1.Options (other options carry nothing).
fn config(options: Option<&Any>) -> Result<ShimOptions> {
    let none = ShimOptions::default();
    let Some(any) = options else { return Ok(none) };
    if !any.type_url.ends_with("runtimeoptions.v1.Options") {
        return Ok(none);
    }
    let (path, body) = decode(&any.value)?;
    let text = if !body.is_empty() {
        body
    } else if !path.is_empty() {
        std::fs::read_to_string(&path).with_context(|| format!("runtime options: {path}"))?
    } else {
        return Ok(none);
    };
    let origin = if path.is_empty() { "ConfigBody" } else { &path };
    parse_config(&text).with_context(|| format!("runtime options: {origin}"))
}

/// runtimeoptions.v1.Options: 1 type_url, 2 config_path, 3 config_body (all strings).
fn decode(bytes: &[u8]) -> Result<(String, String)> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let (mut path, mut body) = (String::new(), String::new());
    while let Some(tag) = input.read_raw_tag_or_eof()? {
        match tag >> 3 {
            2 => path = input.read_string()?,
            3 => body = input.read_string()?,
            _ => input.skip_field(
                containerd_shim::protos::protobuf::rt::WireType::new(tag & 7)
                    .ok_or_else(|| anyhow!("bad wire type"))?,
            )?,
        }
    }
    Ok((path, body))
}

/// `class = "..."` and `SystemdCgroup = true|false`; comments and blank lines allowed,
/// anything else is an error.
fn parse_config(text: &str) -> Result<ShimOptions> {
    let mut opts = ShimOptions::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| anyhow!("line {}: expected key = \"value\"", n + 1))?;
        let v = v.trim();
        match k.trim() {
            "class" => {
                opts.class =
                    Some(quoted(v).ok_or_else(|| {
                        anyhow!("line {}: the value must be a quoted string", n + 1)
                    })?)
            }
            "SystemdCgroup" => {
                opts.systemd_cgroup = v
                    .parse()
                    .map_err(|_| anyhow!("line {}: SystemdCgroup must be true or false", n + 1))?
            }
            other => bail!("line {}: unknown key {other:?}", n + 1),
        }
    }
    Ok(opts)
}

fn quoted(v: &str) -> Option<String> {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim::protos::protobuf::CodedOutputStream;

    fn options(path: &str, body: &str) -> Any {
        let mut value = Vec::new();
        {
            let mut out = CodedOutputStream::vec(&mut value);
            out.write_string(1, "io.containerd.bulkhead.v1.options")
                .unwrap();
            if !path.is_empty() {
                out.write_string(2, path).unwrap();
            }
            if !body.is_empty() {
                out.write_string(3, body).unwrap();
            }
            out.flush().unwrap();
        }
        Any {
            type_url: "runtimeoptions.v1.Options".into(),
            value,
            ..Default::default()
        }
    }

    #[test]
    fn class_from_body_and_file() {
        assert_eq!(parse(None).unwrap().class, None);
        let any = options("", "# pods\nclass = \"sandbox\"\n");
        assert_eq!(parse(Some(&any)).unwrap().class.as_deref(), Some("sandbox"));
        let f = std::env::temp_dir().join(format!("bulkhead-shim-opts-{}", std::process::id()));
        std::fs::write(&f, "class = \"container\"").unwrap();
        let any = options(f.to_str().unwrap(), "");
        assert_eq!(
            parse(Some(&any)).unwrap().class.as_deref(),
            Some("container")
        );
        let _ = std::fs::remove_file(&f);
    }

    fn runc_options(systemd: bool) -> Any {
        let mut value = Vec::new();
        {
            let mut out = CodedOutputStream::vec(&mut value);
            out.write_bool(1, true).unwrap();
            out.write_string(6, "runc").unwrap();
            out.write_bool(9, systemd).unwrap();
            out.write_string(10, "/tmp/criu").unwrap();
            out.flush().unwrap();
        }
        Any {
            type_url: "containerd.runc.v1.Options".into(),
            value,
            ..Default::default()
        }
    }

    #[test]
    fn systemd_cgroup_from_runc_options() {
        assert!(!parse(None).unwrap().systemd_cgroup);
        assert!(parse(Some(&runc_options(true))).unwrap().systemd_cgroup);
        assert!(!parse(Some(&runc_options(false))).unwrap().systemd_cgroup);
        // bulkhead's own options never ask for it.
        let own = parse(Some(&options(
            "",
            "class = \"sandbox\"\nSystemdCgroup = true",
        )))
        .unwrap();
        assert_eq!(
            own,
            ShimOptions {
                class: Some("sandbox".into()),
                systemd_cgroup: true
            }
        );
        let bad = options("", "SystemdCgroup = yes");
        let e = format!("{:#}", parse(Some(&bad)).unwrap_err());
        assert_eq!(
            e,
            "runtime options: ConfigBody: line 1: SystemdCgroup must be true or false"
        );
        let broken = Any {
            type_url: "containerd.runc.v1.Options".into(),
            value: vec![0x48],
            ..Default::default()
        };
        assert!(parse(Some(&broken)).is_err());
    }

    #[test]
    fn bad_config_is_named() {
        let any = options("", "klass = \"sandbox\"");
        let e = format!("{:#}", parse(Some(&any)).unwrap_err());
        assert_eq!(
            e,
            "runtime options: ConfigBody: line 1: unknown key \"klass\""
        );
        let any = options("/nonexistent/bulkhead.toml", "");
        let e = format!("{:#}", parse(Some(&any)).unwrap_err());
        assert!(
            e.starts_with("runtime options: /nonexistent/bulkhead.toml"),
            "{e}"
        );
    }
}

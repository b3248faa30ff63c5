//! The isolation class from containerd's runtime options. For a runtime that is not runc,
//! containerd's CRI plugin sends the runtime entry's `options` table as `runtimeoptions.v1.Options`
//! (`TypeUrl`, `ConfigPath`, `ConfigBody`); `ConfigPath`/`ConfigBody` hold bulkhead's shim
//! config, a small TOML file: `class = "sandbox"` or `class = "container"`.
//! (`ctr run --runtime-config-path FILE` sends the same message.)
//! A runtime entry of type io.containerd.runc.v2 sends runc's own options instead
//! (`containerd.runc.v1.Options`): of those, `SystemdCgroup = true` picks the systemd cgroup
//! driver, as it makes containerd's runc shim pass `--systemd-cgroup`.

use anyhow::{anyhow, bail, Context, Result};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::CodedInputStream;

/// Whether the options are runc's and ask for the systemd cgroup driver (`SystemdCgroup`).
pub fn systemd_cgroup(options: Option<&Any>) -> Result<bool> {
    let Some(any) = options else {
        return Ok(false);
    };
    if !any.type_url.ends_with("runc.v1.Options") {
        return Ok(false);
    }
    decode_runc(&any.value).context("runc options")
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

/// The class named by the options, if any.
pub fn class(options: Option<&Any>) -> Result<Option<String>> {
    let Some(any) = options else { return Ok(None) };
    if !any.type_url.ends_with("runtimeoptions.v1.Options") {
        // runc's options (io.containerd.runc.v1.Options) carry nothing bulkhead needs.
        return Ok(None);
    }
    let (path, body) = decode(&any.value)?;
    let text = if !body.is_empty() {
        body
    } else if !path.is_empty() {
        std::fs::read_to_string(&path).with_context(|| format!("runtime options: {path}"))?
    } else {
        return Ok(None);
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

/// `class = "..."`; comments and blank lines allowed, anything else is an error.
fn parse_config(text: &str) -> Result<Option<String>> {
    let mut class = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| anyhow!("line {}: expected key = \"value\"", n + 1))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| anyhow!("line {}: the value must be a quoted string", n + 1))?;
        match k.trim() {
            "class" => class = Some(v.to_string()),
            other => bail!("line {}: unknown key {other:?}", n + 1),
        }
    }
    Ok(class)
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
        assert_eq!(class(None).unwrap(), None);
        let any = options("", "# pods\nclass = \"sandbox\"\n");
        assert_eq!(class(Some(&any)).unwrap().as_deref(), Some("sandbox"));
        let f = std::env::temp_dir().join(format!("bulkhead-shim-opts-{}", std::process::id()));
        std::fs::write(&f, "class = \"container\"").unwrap();
        let any = options(f.to_str().unwrap(), "");
        assert_eq!(class(Some(&any)).unwrap().as_deref(), Some("container"));
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
        assert!(!systemd_cgroup(None).unwrap());
        assert!(systemd_cgroup(Some(&runc_options(true))).unwrap());
        assert!(!systemd_cgroup(Some(&runc_options(false))).unwrap());
        // bulkhead's own options never ask for it.
        assert!(!systemd_cgroup(Some(&options("", "class = \"sandbox\""))).unwrap());
        let broken = Any {
            type_url: "containerd.runc.v1.Options".into(),
            value: vec![0x48],
            ..Default::default()
        };
        assert!(systemd_cgroup(Some(&broken)).is_err());
    }

    #[test]
    fn bad_config_is_named() {
        let any = options("", "klass = \"sandbox\"");
        let e = format!("{:#}", class(Some(&any)).unwrap_err());
        assert_eq!(
            e,
            "runtime options: ConfigBody: line 1: unknown key \"klass\""
        );
        let any = options("/nonexistent/bulkhead.toml", "");
        let e = format!("{:#}", class(Some(&any)).unwrap_err());
        assert!(
            e.starts_with("runtime options: /nonexistent/bulkhead.toml"),
            "{e}"
        );
    }
}

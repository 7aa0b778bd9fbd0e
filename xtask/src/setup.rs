//! Installing what the project needs, idempotently: Debian packages through apt, tools through
//! `cargo install --locked` at pinned versions.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Run,
    Test,
    /// Building installer packages and testing them in a clean Debian root.
    Package,
}

impl Purpose {
    pub(crate) fn parse(s: &str) -> anyhow::Result<Purpose> {
        match s {
            "run" => Ok(Purpose::Run),
            "test" => Ok(Purpose::Test),
            "package" => Ok(Purpose::Package),
            other => bail!("unknown purpose {other:?}: use run, test or package"),
        }
    }
}

/// Debian packages needed to build and run the product: the GStreamer libraries the client
/// links (the WebRTC one comes from [`ensure_webrtc_dev`]) and the plugins a call uses
/// (webrtcbin, DTLS and SRTP from `-bad`, VP8/VP9 from `-good`, Opus from `-base`, libnice).
const APT_RUN: &[&str] = &[
    "pkg-config",
    "gcc",
    "libc6-dev",
    "libgstreamer1.0-dev",
    "libgstreamer-plugins-base1.0-dev",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-nice",
    // Microphones and speakers through cpal (its ALSA host links libasound; its PulseAudio host
    // speaks the protocol itself).
    "libasound2-dev",
    // Cameras through nokhwa: its Video4Linux bindings are generated with bindgen.
    "libclang-dev",
    // The window (X11; winit loads these at run time).
    "libx11-6",
    "libxcursor1",
    "libxi6",
    "libxrandr2",
    "libxkbcommon-x11-0",
];
/// Additional Debian packages the tests need: TURN, the kernel keyring tool, network
/// namespaces, for the window: a virtual display, window inspection, simulated input and
/// screenshots (on X11 and on a headless Wayland desktop), and for the sound benchmarks: a
/// sound server with null sinks, a speech synthesiser and `gst-launch-1.0`.
const APT_TEST: &[&str] = &[
    "coturn",
    "keyutils",
    "iproute2",
    "xvfb",
    "x11-utils",
    "xdotool",
    "imagemagick",
    "pulseaudio",
    "pulseaudio-utils",
    "espeak-ng",
    // The window on Wayland: a headless compositor, its screenshots and a virtual keyboard;
    // and screen sharing there: a session bus, PipeWire with its session manager, the desktop
    // portal with its wlroots backend, and GStreamer's PipeWire source.
    "sway",
    "grim",
    "wtype",
    "dbus-daemon",
    "pipewire",
    "wireplumber",
    "xdg-desktop-portal",
    "xdg-desktop-portal-wlr",
    "gstreamer1.0-pipewire",
    // The congestion benchmark's plot labels.
    "fonts-dejavu-core",
    "gstreamer1.0-tools",
];

/// Debian packages that build and check the installer packages: man pages, the Debian and RPM
/// checkers, the desktop entry and AppStream validators, and debootstrap for the clean root the
/// packages are installed into.
const APT_PACKAGE: &[&str] = &[
    "dpkg-dev",
    "help2man",
    "lintian",
    "desktop-file-utils",
    "appstream",
    "rpm",
    "debootstrap",
    "util-linux",
];

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
    // The S3 server the recording tests store into (built from crates.io).
    Tool {
        krate: "garage",
        version: "2.5.0",
        binary: "garage",
        probe: &["--version"],
    },
    Tool {
        krate: "cargo-fuzz",
        version: "0.13.2",
        binary: "cargo-fuzz",
        probe: &["fuzz", "--version"],
    },
];

/// The packaging tools from crates.io.
const TOOLS_PACKAGE: &[Tool] = &[
    Tool {
        krate: "cargo-deb",
        version: "3.8.0",
        binary: "cargo-deb",
        probe: &["deb", "--version"],
    },
    Tool {
        krate: "cargo-generate-rpm",
        version: "0.21.1",
        binary: "cargo-generate-rpm",
        probe: &["generate-rpm", "--version"],
    },
];

pub(crate) fn ensure(purpose: Purpose) -> anyhow::Result<()> {
    let mut apt: Vec<&str> = APT_RUN.to_vec();
    if purpose == Purpose::Test {
        apt.extend_from_slice(APT_TEST);
    }
    if matches!(purpose, Purpose::Test | Purpose::Package) {
        apt.extend_from_slice(APT_PACKAGE);
    }
    ensure_apt(&apt)?;
    ensure_webrtc_dev()?;
    if purpose == Purpose::Test {
        for tool in TOOLS_TEST {
            ensure_tool(tool)?;
        }
    }
    if matches!(purpose, Purpose::Test | Purpose::Package) {
        for tool in TOOLS_PACKAGE {
            ensure_tool(tool)?;
        }
    }
    Ok(())
}

/// The host's target triple (`rustc -vV`).
pub(crate) fn host_triple() -> anyhow::Result<String> {
    let out = output(Command::new("rustc").arg("-vV"))?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV names no host")
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

/// The Rust WebRTC bindings link `libgstwebrtc-1.0` through pkg-config, whose `.pc` file ships
/// in `libgstreamer-plugins-bad1.0-dev`; that package hard-depends on `libopencv-dev` (~570 MB)
/// that nothing here uses. So take the `.pc` file, the headers and the link-time symlink from the
/// package's archive into `/usr/local` (on pkg-config's default path), pointing at the runtime
/// library that `gstreamer1.0-plugins-bad` already installed.
fn ensure_webrtc_dev() -> anyhow::Result<()> {
    let exists = Command::new("pkg-config")
        .args(["--exists", "gstreamer-webrtc-1.0"])
        .status()
        .is_ok_and(|s| s.success());
    if exists {
        return Ok(());
    }
    eprintln!("xtask: installing the GStreamer WebRTC link files (without OpenCV)");
    let multiarch = output(Command::new("gcc").arg("-print-multiarch"))?;
    let work = std::env::temp_dir().join(format!("assent-webrtc-dev-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let download = || {
        let mut c = sudo_if_needed("apt-get");
        c.args(["download", "-q", "libgstreamer-plugins-bad1.0-dev"])
            .current_dir(&work);
        run_ok(c, "apt-get download libgstreamer-plugins-bad1.0-dev")
    };
    if download().is_err() {
        // Stale package lists: refresh once and retry.
        let mut update = sudo_if_needed("apt-get");
        update.args(["update", "-q"]);
        run_ok(update, "apt-get update")?;
        download()?;
    }
    let deb = std::fs::read_dir(&work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let tree = work.join("tree");
    let mut extract = Command::new("dpkg-deb");
    extract.arg("-x").arg(&deb).arg(&tree);
    run_ok(extract, "dpkg-deb -x")?;

    let pc = std::fs::read_to_string(tree.join(format!(
        "usr/lib/{multiarch}/pkgconfig/gstreamer-webrtc-1.0.pc"
    )))
    .context("the archive has no gstreamer-webrtc-1.0.pc")?;
    let pc = pc.replacen("prefix=/usr\n", "prefix=/usr/local\n", 1);
    let local_lib = std::path::PathBuf::from(format!("/usr/local/lib/{multiarch}"));
    let include = std::path::Path::new("/usr/local/include/gstreamer-1.0/gst");
    let mut install = sudo_if_needed("sh");
    install.arg("-c").arg(format!(
        "set -e; mkdir -p {lib}/pkgconfig {inc}; \
         cp -r {tree}/usr/include/gstreamer-1.0/gst/webrtc {inc}/; \
         ln -sf /usr/lib/{multiarch}/libgstwebrtc-1.0.so.0 {lib}/libgstwebrtc-1.0.so; \
         cat > {lib}/pkgconfig/gstreamer-webrtc-1.0.pc",
        lib = local_lib.display(),
        inc = include.display(),
        tree = tree.display(),
    ));
    install.stdin(Stdio::piped());
    let mut child = install.spawn().context("cannot run sh")?;
    std::io::Write::write_all(&mut child.stdin.take().context("stdin")?, pc.as_bytes())?;
    if !child.wait()?.success() {
        bail!("installing the WebRTC link files failed");
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn sudo_if_needed(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.arg(program);
        c
    }
}

fn run_ok(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let st = cmd.status().with_context(|| format!("cannot run {what}"))?;
    if !st.success() {
        bail!("{what} failed ({st})");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().context("cannot run a command")?;
    if !out.status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

//! Installer packages.
//!
//! - `cargo xtask package`: release binaries (thin LTO, stripped), their man pages and
//!   third-party license lists, then `.deb` (cargo-deb) and `.rpm` (cargo-generate-rpm) of the
//!   app and of the server in `target/packages/`; lintian, desktop-file-validate and appstreamcli
//!   check them.
//! - `cargo xtask test-packages`: the above, then a clean Debian 12 root made by debootstrap, the
//!   `.deb` files installed there by apt (so their dependencies resolve), and the installed
//!   programs run inside it: versions, the media self-check, a recording made and verified, the
//!   server's configuration check and a start as its service user, the link handler's
//!   registration, the unit's sandboxing score, and a purge.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};

use crate::cmd::{cargo, root, step, target_dir};
use crate::setup::{self, Purpose};

/// What the two packages are made of.
struct Pkg {
    /// The cargo package (and the Debian/RPM package name).
    name: &'static str,
    /// Its directory in the workspace.
    dir: &'static str,
    /// The binary and its man page section and one-line description.
    bin: &'static str,
    man_section: &'static str,
    man_name: &'static str,
}

const PKGS: [Pkg; 2] = [
    Pkg {
        name: "assent",
        dir: "client",
        bin: "assent",
        man_section: "1",
        man_name: "end-to-end encrypted video calls recorded only with everyone's consent",
    },
    Pkg {
        name: "assent-rendezvous",
        dir: "rendezvous",
        bin: "assent-rendezvous",
        man_section: "8",
        man_name: "Assent's rendezvous server: accounts, signaling, key directory",
    },
];

/// The packages made: `.deb` and `.rpm` per [`PKGS`] entry.
pub(crate) struct Built {
    debs: Vec<PathBuf>,
    rpms: Vec<PathBuf>,
}

pub(crate) fn package() -> anyhow::Result<Built> {
    setup::ensure(Purpose::Package)?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--locked",
        "--bin",
        "assent",
        "--bin",
        "assent-rendezvous",
    ]);
    step("cargo build --release (thin LTO, stripped)", build)?;
    let release = target_dir().join("release");
    let out = target_dir().join("packages");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;

    let mut built = Built {
        debs: Vec::new(),
        rpms: Vec::new(),
    };
    for p in &PKGS {
        let generated = root().join("packaging/generated").join(p.name);
        std::fs::create_dir_all(&generated)?;
        man_page(p, &release.join(p.bin), &generated)?;
        third_party_licenses(p, &generated.join("third-party-licenses.txt"))?;

        let mut deb = cargo();
        deb.args(["deb", "--no-build", "--locked", "-p", p.name, "-o"])
            .arg(&out);
        step(&format!("cargo deb -p {}", p.name), deb)?;
        let mut rpm = cargo();
        rpm.args(["generate-rpm", "-p", p.dir, "-o"])
            .arg(&out)
            .arg("--target-dir")
            .arg(target_dir());
        step(&format!("cargo generate-rpm -p {}", p.dir), rpm)?;
        built
            .debs
            .push(find(&out, &format!("{}_", p.name), ".deb")?);
        built
            .rpms
            .push(find(&out, &format!("{}-0", p.name), ".rpm")?);
    }
    lint(&built)?;
    for f in built.debs.iter().chain(&built.rpms) {
        let size = std::fs::metadata(f)?.len();
        eprintln!(
            "xtask: {} ({:.1} MB)",
            f.display(),
            size as f64 / 1_000_000.0
        );
    }
    Ok(built)
}

/// The package file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn find(dir: &Path, prefix: &str, suffix: &str) -> anyhow::Result<PathBuf> {
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .with_context(|| format!("no {prefix}*{suffix} in {}", dir.display()))
}

/// `help2man` over the binary's own `--help` and `--version`, gzipped reproducibly.
fn man_page(p: &Pkg, bin: &Path, generated: &Path) -> anyhow::Result<()> {
    let page = generated.join(format!("{}.{}", p.bin, p.man_section));
    let mut c = Command::new("help2man");
    c.args([
        "--no-info",
        "--section",
        p.man_section,
        "--name",
        p.man_name,
    ])
    .arg("--output")
    .arg(&page)
    .arg(bin);
    step(&format!("help2man {}", p.bin), c)?;
    let gz = std::fs::File::create(generated.join(format!("{}.{}.gz", p.bin, p.man_section)))?;
    let st = Command::new("gzip")
        .args(["-9n", "-c"])
        .arg(&page)
        .stdout(gz)
        .status()?;
    ensure!(st.success(), "gzip of the man page failed");
    Ok(())
}

/// Every crate linked into the package's binary (normal dependencies, transitively, on this
/// platform) with its version and license, for the package's documentation.
fn third_party_licenses(p: &Pkg, to: &Path) -> anyhow::Result<()> {
    let triple = crate::setup::host_triple()?;
    let mut c = cargo();
    c.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--filter-platform",
        &triple,
    ]);
    let out = c.stderr(Stdio::inherit()).output()?;
    ensure!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let packages: std::collections::HashMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .context("packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: std::collections::HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .context("resolve")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let start = packages
        .values()
        .find(|x| x["name"] == p.name && x["source"].is_null())
        .and_then(|x| x["id"].as_str())
        .context("the package itself")?;
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let linked = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            if linked && seen.insert(dep_id) {
                stack.push(dep_id);
            }
        }
    }
    let mut lines: Vec<String> = seen
        .iter()
        .filter_map(|id| packages.get(id))
        .filter(|x| !x["source"].is_null())
        .map(|x| {
            format!(
                "{} {}: {}",
                x["name"].as_str().unwrap_or("?"),
                x["version"].as_str().unwrap_or("?"),
                x["license"].as_str().unwrap_or("see the crate's files")
            )
        })
        .collect();
    lines.sort();
    ensure!(lines.len() > 20, "suspiciously few crates for {}", p.name);
    let text = format!(
        "Crates from crates.io linked into {} (crate version: license)\n\n{}\n",
        p.bin,
        lines.join("\n")
    );
    std::fs::write(to, text)?;
    Ok(())
}

/// lintian (errors fail), desktop-file-validate and appstreamcli on what the packages ship, and
/// the RPMs' file lists and dependencies.
fn lint(built: &Built) -> anyhow::Result<()> {
    let mut l = Command::new("lintian");
    l.args([
        "--fail-on",
        "error",
        "--display-level",
        ">=warning",
        "--tag-display-limit",
        "0",
    ])
    .args(&built.debs);
    step("lintian (no errors allowed)", l)?;
    let mut d = Command::new("desktop-file-validate");
    d.arg(root().join("packaging/app/assent.desktop"));
    step("desktop-file-validate", d)?;
    let mut a = Command::new("appstreamcli");
    a.args(["validate", "--no-net", "--explain"])
        .arg(root().join("packaging/app/app.assent.Assent.metainfo.xml"));
    step("appstreamcli validate", a)?;

    for (rpm, must) in built.rpms.iter().zip([
        &[
            "/usr/bin/assent",
            "/usr/share/applications/assent.desktop",
            "/usr/share/icons/hicolor/256x256/apps/assent.png",
            "/usr/share/metainfo/app.assent.Assent.metainfo.xml",
        ][..],
        &[
            "/usr/bin/assent-rendezvous",
            "/etc/assent-rendezvous/config.toml",
            "/usr/lib/systemd/system/assent-rendezvous.service",
        ][..],
    ]) {
        let files = output(Command::new("rpm").arg("-qlp").arg(rpm))?;
        for f in must {
            ensure!(
                files.lines().any(|l| l == *f),
                "{} lacks {f}",
                rpm.display()
            );
        }
        let requires = output(Command::new("rpm").arg("-qp").arg("--requires").arg(rpm))?;
        eprintln!(
            "xtask: {} requires: {}",
            rpm.file_name().unwrap_or_default().to_string_lossy(),
            requires.lines().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

fn output(c: &mut Command) -> anyhow::Result<String> {
    let out = c.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("{c:?} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Debian release the packages are built on and tested in.
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";

pub(crate) fn test_packages() -> anyhow::Result<()> {
    let built = package()?;
    let work = target_dir().join("package-test");
    std::fs::create_dir_all(&work)?;
    let base = base_root(&work)?;

    // A fresh copy of the clean root for every run; the downloaded archives are kept beside it
    // so a second run does not fetch them again.
    let root_dir = work.join("root");
    remove_root(&root_dir)?;
    let mut cp = Command::new("cp");
    cp.arg("-a").arg(&base).arg(&root_dir);
    step("copy the clean Debian root", cp)?;
    let chroot = Chroot::new(root_dir, work.join("apt-archives"))?;

    let inside = install_debs(&chroot, &built)?;
    check_programs(&chroot)?;
    check_desktop(&chroot)?;
    check_server(&chroot)?;
    check_upgrade(&chroot, &inside)?;
    check_purge(&chroot)?;
    rpm_scripts(&chroot, &built)?;
    remove_root(&chroot.root)?;
    eprintln!("xtask: the packages install, run and purge cleanly in a fresh Debian 12 root");
    Ok(())
}

/// The .deb files installed with apt in the root; their paths inside it.
fn install_debs(chroot: &Chroot, built: &Built) -> anyhow::Result<Vec<String>> {
    // Installed as a user would: apt resolves the dependencies from the Debian archive.
    // desktop-file-utils is what registers link handlers on a desktop; it comes first, as on
    // any desktop system, so the app's registration is seen.
    chroot.run("apt-get update", "apt-get -q update")?;
    chroot.run(
        "apt-get install desktop-file-utils",
        "DEBIAN_FRONTEND=noninteractive apt-get -q -y install desktop-file-utils",
    )?;
    let pkgs = chroot.path("tmp/pkgs");
    std::fs::create_dir_all(&pkgs)?;
    let mut inside = Vec::new();
    for deb in &built.debs {
        let name = deb.file_name().context("deb name")?;
        std::fs::copy(deb, pkgs.join(name))?;
        inside.push(format!("/tmp/pkgs/{}", name.to_string_lossy()));
    }
    chroot.run(
        "apt-get install the .deb files",
        &format!(
            "DEBIAN_FRONTEND=noninteractive apt-get -q -y install {}",
            inside.join(" ")
        ),
    )?;
    Ok(inside)
}

/// The installed programs run, find their GStreamer elements, and make and verify
/// recordings (one made on the build machine too).
fn check_programs(chroot: &Chroot) -> anyhow::Result<()> {
    // The programs.
    let version = chroot.output("assent --version")?;
    ensure!(
        version.trim() == format!("assent {}", env!("CARGO_PKG_VERSION")),
        "assent --version said {version:?}"
    );
    let version = chroot.output("assent-rendezvous --version")?;
    ensure!(version.starts_with("assent-rendezvous "), "{version:?}");
    // Every GStreamer element a call uses is there (the declared plugin dependencies).
    let devices = chroot.output("assent devices --json")?;
    ensure!(devices.trim_start().starts_with('['), "{devices:?}");
    // A recording made by the installed binary, and one made on the build machine, verify.
    let demo = chroot.output("assent demo --dir /tmp/demo")?;
    ensure!(demo.contains("VERDICT: intact"), "{demo}");
    let verify = chroot.output("assent recordings verify /tmp/demo/recording")?;
    ensure!(verify.contains("intact"), "{verify}");
    let sample = chroot.path("tmp/sample");
    let mut host_demo = Command::new(target_dir().join("release/assent"));
    host_demo.arg("demo").arg("--dir").arg(&sample);
    host_demo.stdout(Stdio::null());
    step("a sample recording made on the build machine", host_demo)?;
    let verify = chroot.output("assent recordings verify --json /tmp/sample/recording")?;
    let v: serde_json::Value = serde_json::from_str(&verify)?;
    ensure!(v["intact"] == true && v["complete"] == true, "{verify}");
    Ok(())
}

/// The desktop integration: the assent:// link handler and the icons.
fn check_desktop(chroot: &Chroot) -> anyhow::Result<()> {
    // The link handler: the desktop database maps assent:// to the app.
    let cache = std::fs::read_to_string(chroot.path("usr/share/applications/mimeinfo.cache"))?;
    ensure!(
        cache
            .lines()
            .any(|l| l == "x-scheme-handler/assent=assent.desktop;"),
        "assent:// is not registered:\n{cache}"
    );
    for size in ["16x16", "48x48", "256x256", "scalable"] {
        let ext = if size == "scalable" { "svg" } else { "png" };
        let icon = chroot.path(&format!("usr/share/icons/hicolor/{size}/apps/assent.{ext}"));
        ensure!(icon.exists(), "no icon {}", icon.display());
    }
    Ok(())
}

/// The server package: its user, its configuration readable by that user alone, the check,
/// a start as that user, its database and its systemd unit.
fn check_server(chroot: &Chroot) -> anyhow::Result<()> {
    // The server: its user, its configuration readable by that user alone, the check, and a
    // start as that user with the packaged configuration.
    let passwd = std::fs::read_to_string(chroot.path("etc/passwd"))?;
    ensure!(
        passwd.lines().any(|l| l.starts_with("assent-rendezvous:")),
        "no assent-rendezvous user"
    );
    let stat = chroot.output("stat -c '%U:%G %a' /etc/assent-rendezvous/config.toml")?;
    ensure!(
        stat.trim() == "root:assent-rendezvous 640",
        "config is {stat:?}"
    );
    let check = chroot.output(
        "runuser -u assent-rendezvous -- assent-rendezvous \
         --config /etc/assent-rendezvous/config.toml check-config",
    )?;
    ensure!(check.starts_with("configuration OK"), "{check}");
    serve_once(chroot)?;
    let db = chroot.output("stat -c '%U' /var/lib/assent-rendezvous/assent.sqlite3")?;
    ensure!(db.trim() == "assent-rendezvous", "database owned by {db:?}");
    unit_checks(chroot)?;
    Ok(())
}

/// A reinstall keeps the operator's configuration, its permissions and the state.
fn check_upgrade(chroot: &Chroot, inside: &[String]) -> anyhow::Result<()> {
    // An upgrade (the same version reinstalled runs the same scripts): the operator's edit of
    // the configuration survives, the user and permissions are kept, the state is untouched.
    let config = chroot.path("etc/assent-rendezvous/config.toml");
    let mut edited = std::fs::read_to_string(&config)?;
    edited.push_str("\n# edited by the operator\n");
    std::fs::write(&config, &edited)?;
    let server_deb = inside
        .iter()
        .find(|d| d.contains("assent-rendezvous_"))
        .context("the server's .deb")?;
    chroot.run(
        "reinstall the server",
        &format!(
            "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confold \
             install --reinstall {server_deb}"
        ),
    )?;
    ensure!(
        std::fs::read_to_string(&config)? == edited,
        "the reinstall overwrote the operator's configuration"
    );
    let stat = chroot.output("stat -c '%U:%G %a' /etc/assent-rendezvous/config.toml")?;
    ensure!(
        stat.trim() == "root:assent-rendezvous 640",
        "config is {stat:?}"
    );
    ensure!(
        chroot
            .path("var/lib/assent-rendezvous/assent.sqlite3")
            .exists(),
        "the reinstall lost the database"
    );
    Ok(())
}

/// Purging takes the programs, the server's state and its configuration.
fn check_purge(chroot: &Chroot) -> anyhow::Result<()> {
    // Removal: purging the server takes its state and the permission override with it.
    chroot.run(
        "apt-get purge",
        "DEBIAN_FRONTEND=noninteractive apt-get -q -y purge assent assent-rendezvous",
    )?;
    ensure!(
        !chroot.path("var/lib/assent-rendezvous").exists(),
        "purge left /var/lib/assent-rendezvous"
    );
    ensure!(
        !chroot.path("usr/bin/assent").exists() && !chroot.path("etc/assent-rendezvous").exists(),
        "purge left files behind"
    );
    Ok(())
}

/// The server's RPM in the same root, by the build machine's `rpm --root` (its scriptlets run
/// inside the root). Debian's package database knows none of the Fedora dependency names, so
/// dependencies are not checked here; what is checked is what the RPM itself does: its
/// pre-install script creates the service user, the configuration is root:assent-rendezvous
/// 0640 and a config file, the unit is where systemd looks, the binary runs, and erasing it
/// removes its files.
fn rpm_scripts(chroot: &Chroot, built: &Built) -> anyhow::Result<()> {
    let rpm = built
        .rpms
        .iter()
        .find(|r| r.to_string_lossy().contains("assent-rendezvous-"))
        .context("the server's RPM")?;
    // The user the .deb made is gone, so the RPM has to make it.
    chroot.run("userdel", "userdel assent-rendezvous")?;
    let root = format!("--root={}", chroot.root.display());
    let mut install = Command::new("rpm");
    install.args([&root, "-i", "--nodeps"]).arg(rpm);
    step("rpm -i (server) in the root", install)?;
    let passwd = std::fs::read_to_string(chroot.path("etc/passwd"))?;
    ensure!(
        passwd.lines().any(|l| l.starts_with("assent-rendezvous:")),
        "the RPM's pre-install script made no assent-rendezvous user"
    );
    let stat = chroot.output("stat -c '%U:%G %a' /etc/assent-rendezvous/config.toml")?;
    ensure!(
        stat.trim() == "root:assent-rendezvous 640",
        "config is {stat:?}"
    );
    let configs = output(Command::new("rpm").args([&root, "-qc", "assent-rendezvous"]))?;
    ensure!(
        configs
            .lines()
            .any(|l| l == "/etc/assent-rendezvous/config.toml"),
        "the configuration is not an RPM config file: {configs}"
    );
    ensure!(
        chroot
            .path("usr/lib/systemd/system/assent-rendezvous.service")
            .exists(),
        "no unit from the RPM"
    );
    let check = chroot.output(
        "runuser -u assent-rendezvous -- assent-rendezvous \
         --config /etc/assent-rendezvous/config.toml check-config",
    )?;
    ensure!(check.starts_with("configuration OK"), "{check}");
    let mut erase = Command::new("rpm");
    erase.args([&root, "-e", "assent-rendezvous"]);
    step("rpm -e (server) in the root", erase)?;
    ensure!(
        !chroot.path("usr/bin/assent-rendezvous").exists(),
        "rpm -e left the binary"
    );
    Ok(())
}

/// Start the installed server as its service user with the packaged configuration (on a free
/// loopback port), wait for it to listen, ask `/healthz`, and stop it.
fn serve_once(chroot: &Chroot) -> anyhow::Result<()> {
    let mut child = chroot
        .command(
            "exec setpriv --reuid assent-rendezvous --regid assent-rendezvous --init-groups \
             -- assent-rendezvous --config /etc/assent-rendezvous/config.toml \
             --listen 127.0.0.1:0 serve",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the server in the root")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let result = (|| -> anyhow::Result<()> {
        let addr = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(a) = l.strip_prefix("listening on ") {
                        break a.trim().to_string();
                    }
                }
                _ => bail!("the installed server stopped before listening"),
            }
        };
        let mut s = std::net::TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        std::io::Write::write_all(
            &mut s,
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )?;
        let mut reply = String::new();
        std::io::Read::read_to_string(&mut s, &mut reply)?;
        ensure!(
            reply.starts_with("HTTP/1.1 200"),
            "/healthz answered {:?}",
            reply.lines().next()
        );
        Ok(())
    })();
    // Every step to the server execs (no fork), so the child is the server itself; SIGTERM
    // asks it to shut down gracefully.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let st = child.wait()?;
    result?;
    ensure!(
        st.success(),
        "the server did not stop cleanly on SIGTERM ({st})"
    );
    Ok(())
}

/// The unit as installed: `systemd-analyze verify` finds nothing wrong, and its exposure score
/// (`systemd-analyze security`, 0 = locked down, 10 = exposed) stays in the "OK" band.
fn unit_checks(chroot: &Chroot) -> anyhow::Result<()> {
    let unit = chroot.path("lib/systemd/system/assent-rendezvous.service");
    ensure!(unit.exists(), "no unit at {}", unit.display());
    let mut verify = Command::new("systemd-analyze");
    verify
        .arg(format!("--root={}", chroot.root.display()))
        .args(["verify", "--man=no"])
        .arg(&unit);
    step("systemd-analyze verify", verify)?;
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--root={}", chroot.root.display()))
        .arg(&unit)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no exposure score in:\n{text}"))?;
    eprintln!("xtask: the server unit's exposure score: {score} (0 best, 10 worst)");
    ensure!(score <= 2.5, "the unit is too exposed ({score}):\n{text}");
    Ok(())
}

/// A debootstrapped Debian root, made once and kept as a pristine copy.
fn base_root(work: &Path) -> anyhow::Result<PathBuf> {
    let base = work.join(format!("base-{SUITE}"));
    let done = work.join(format!("base-{SUITE}.done"));
    if done.exists() && base.join("usr/bin/apt-get").exists() {
        return Ok(base);
    }
    remove_root(&base)?;
    let cache = work.join("debootstrap-cache");
    std::fs::create_dir_all(&cache)?;
    let mut d = Command::new("debootstrap");
    d.args(["--variant=minbase", "--cache-dir"])
        .arg(&cache)
        .arg(SUITE)
        .arg(&base)
        .arg(MIRROR);
    step(&format!("debootstrap {SUITE} (minbase)"), d)?;
    std::fs::write(&done, "")?;
    Ok(base)
}

/// Delete a root made here, refusing if anything is still mounted inside it.
fn remove_root(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let canonical = dir.canonicalize()?;
    let prefix = canonical.to_string_lossy().to_string();
    ensure!(
        !mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .any(|m| m.starts_with(&prefix)),
        "something is still mounted under {prefix}; not deleting it"
    );
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
}

/// Commands inside a root, each in its own mount namespace (so /proc and the archive cache are
/// mounted only for that command and vanish with it, whatever happens).
struct Chroot {
    root: PathBuf,
    archives: PathBuf,
}

impl Chroot {
    fn new(root: PathBuf, archives: PathBuf) -> anyhow::Result<Chroot> {
        std::fs::create_dir_all(archives.join("partial"))?;
        std::fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf"))
            .context("name resolution for apt in the root")?;
        // No service starts inside the root.
        let policy = root.join("usr/sbin/policy-rc.d");
        std::fs::write(&policy, "#!/bin/sh\nexit 101\n")?;
        std::fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(Chroot { root, archives })
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside)
    }

    fn command(&self, script: &str) -> Command {
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--", "sh", "-ec"])
            .arg(
                "mount -t proc proc \"$1/proc\"; \
                 mount --bind \"$2\" \"$1/var/cache/apt/archives\"; \
                 exec chroot \"$1\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                 HOME=/root LANG=C.UTF-8 sh -ec \"$3\"",
            )
            .arg("sh")
            .arg(&self.root)
            .arg(&self.archives)
            .arg(script);
        c
    }

    fn run(&self, what: &str, script: &str) -> anyhow::Result<()> {
        step(&format!("in the root: {what}"), self.command(script))
    }

    fn output(&self, script: &str) -> anyhow::Result<String> {
        eprintln!("xtask: in the root: {script}");
        output(&mut self.command(script))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every icon the packages install is a PNG of the size its directory names.
    #[test]
    fn icons_have_the_sizes_their_directories_name() {
        let dir = root().join("assets/icons/hicolor");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().to_string();
            let (w, h) = name.split_once('x').unwrap();
            let png = std::fs::read(entry.path().join("apps/assent.png")).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
            assert_eq!(&png[12..16], b"IHDR");
            let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
            let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
            assert_eq!((width, height), (w.parse().unwrap(), h.parse().unwrap()));
            seen += 1;
        }
        assert!(seen >= 8, "icons in {seen} sizes");
        // Each is packaged, in the .deb and in the .rpm.
        for manifest in ["client/Cargo.toml"] {
            let text = std::fs::read_to_string(root().join(manifest)).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let size = entry.unwrap().file_name().to_string_lossy().to_string();
                let path = format!("icons/hicolor/{size}/apps/assent.png");
                assert_eq!(text.matches(&path).count(), 3, "{path} in {manifest}");
            }
        }
    }
}

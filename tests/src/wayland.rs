//! A headless Wayland desktop for the window: `sway` on wlroots' headless backend with software
//! rendering and no XWayland, so only a native Wayland client can show a window there. Windows
//! are found by title through sway's IPC (`swaymsg`), keys typed through the virtual keyboard
//! protocol (`wtype`), screenshots taken through wlroots' screencopy (`grim`). Killed on drop.
//!
//! Sway refuses to start as root (it could not drop root after setuid), so under root it runs
//! as `nobody` in a runtime directory of its own; root's clients reach its socket all the same.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The user sway runs as under root: `nobody`.
const NOBODY: u32 = 65534;

pub struct Wayland {
    child: Child,
    /// A virtual keyboard that stays (see [`Wayland::start`]).
    keyboard: Option<Child>,
    /// With the portal: the session bus, PipeWire and WirePlumber.
    services: Vec<Child>,
    /// The session bus's address, with the portal.
    pub bus: Option<String>,
    /// The runtime directory: the Wayland and IPC sockets.
    dir: tempfile::TempDir,
    /// The Wayland socket's name in `dir` (`wayland-1`).
    pub socket: String,
    /// Sway's IPC socket.
    ipc: String,
}

impl Drop for Wayland {
    fn drop(&mut self) {
        for c in self.services.iter_mut().chain(self.keyboard.as_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Wayland {
    /// Start sway with one `width`x`height` output. Its configuration runs a command once it
    /// takes clients, which prints the sockets on sway's standard output: no waiting by time.
    pub fn start(width: u32, height: u32) -> Wayland {
        let dir = tempfile::tempdir().expect("a runtime directory");
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!(
                "output HEADLESS-1 resolution {width}x{height} background #000000 solid_color\n\
                 xwayland disable\n\
                 default_border none\n\
                 default_floating_border none\n\
                 exec echo \"ready $WAYLAND_DISPLAY $SWAYSOCK\"\n"
            ),
        )
        .expect("sway's configuration");
        // The process's own entry in /proc belongs to its effective user.
        let root = std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("runtime directory mode");
        let mut command = if root {
            for path in [dir.path(), config.as_path()] {
                std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY))
                    .expect("hand the runtime directory to nobody");
            }
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .arg("--clear-groups")
                .arg("sway");
            c
        } else {
            Command::new("sway")
        };
        let mut child = command
            .arg("-c")
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sway (cargo xtask setup installs it)");
        let line = first_line(&mut child, "sway's sockets");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("ready"), "sway did not start: {line:?}");
        let socket = words.next().expect("the Wayland socket").to_string();
        let ipc = words.next().expect("the IPC socket").to_string();
        let mut desktop = Wayland {
            child,
            keyboard: None,
            services: Vec::new(),
            bus: None,
            dir,
            socket,
            ipc,
        };
        // The seat has no keyboard (no devices here) until `wtype` makes a virtual one, and
        // each `wtype` takes its keyboard away as it exits: a window that had not bound the
        // keyboard by then missed the keys. One that does nothing for an hour keeps the seat's
        // keyboard there; the others' keys come through it as their own keymaps.
        desktop.keyboard = Some(
            desktop
                .tool("wtype")
                .args(["-s", "3600000"])
                .stdin(Stdio::null())
                .spawn()
                .expect("wtype (cargo xtask setup installs it)"),
        );
        let keyboard = desktop.until("input", Duration::from_secs(30), || {
            desktop.has_keyboard().then_some(())
        });
        assert!(keyboard.is_some(), "no keyboard on sway's seat");
        desktop
    }

    /// Wait for `check` to give an answer, asking it now and again after each of sway's
    /// events of `kind` (`window`, `input`), up to `timeout`; `None` if it never did.
    fn until<T>(
        &self,
        kind: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let mut events = self
            .tool("swaymsg")
            .args(["-m", "-r", "-t", "subscribe"])
            .arg(format!("[\"{kind}\", \"tick\"]"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("swaymsg (sway)");
        let (tx, rx) = std::sync::mpsc::channel();
        let out = events.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if line.is_err() || tx.send(()).is_err() {
                    return;
                }
            }
        });
        // Sway sends a tick to whoever subscribes to ticks: once it is here, no event is missed.
        let deadline = Instant::now() + timeout;
        let mut subscribed = rx.recv_timeout(timeout).is_ok();
        let found = loop {
            if subscribed && let Some(found) = check() {
                break Some(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(()) => subscribed = true,
                Err(_) => break check(),
            }
        };
        let _ = events.kill();
        let _ = events.wait();
        found
    }

    /// Whether sway's seat has a keyboard.
    fn has_keyboard(&self) -> bool {
        let out = self
            .tool("swaymsg")
            .args(["-r", "-t", "get_seats"])
            .output()
            .expect("swaymsg (sway)");
        let seats: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        // wl_seat capability 2: keyboard.
        seats
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["capabilities"].as_u64().is_some_and(|c| c & 2 != 0))
    }

    /// A desktop with what screen sharing needs: a private session bus on which the desktop
    /// portal (`xdg-desktop-portal`, started by the bus when first asked) answers through
    /// `backend`, PipeWire and WirePlumber.
    pub fn start_with_portal(width: u32, height: u32, backend: Backend) -> Wayland {
        let mut desktop = Wayland::start(width, height);
        let dir = desktop.dir.path().to_path_buf();
        let portals = dir.join("portals");
        match &backend {
            Backend::Wlr { output } => {
                let config = dir.join("xdg-config/xdg-desktop-portal-wlr");
                std::fs::create_dir_all(&config).expect("the portal's configuration");
                std::fs::write(
                    config.join("config"),
                    format!("[screencast]\nchooser_type=none\noutput_name={output}\n"),
                )
                .expect("the portal's configuration");
            }
            Backend::Test { .. } => {
                // The frontend reads its backends from this folder: only the stand-in.
                std::fs::create_dir_all(&portals).expect("the portals folder");
                std::fs::write(
                    portals.join("assenttest.portal"),
                    "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.assenttest\n\
                     Interfaces=org.freedesktop.impl.portal.ScreenCast;\nUseIn=sway\n",
                )
                .expect("the stand-in's portal file");
            }
        }
        let service = |program: &str| {
            let mut c = Command::new(program);
            c.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", &dir)
                .env("XDG_RUNTIME_DIR", &dir)
                .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
                .env("WAYLAND_DISPLAY", &desktop.socket)
                .env("XDG_CURRENT_DESKTOP", "sway")
                .stdin(Stdio::null())
                .stderr(Stdio::null());
            if matches!(backend, Backend::Test { .. }) {
                c.env("XDG_DESKTOP_PORTAL_DIR", &portals);
            }
            c
        };
        // The bus prints its address once it takes connections.
        let mut bus = service("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (cargo xtask setup installs it)");
        let address = first_line(&mut bus, "the session bus's address");
        assert!(address.starts_with("unix:"), "no session bus: {address:?}");
        desktop.services.push(bus);
        // PipeWire runs its `context.exec` programs once its modules are loaded and it takes
        // clients: one says so on its standard output.
        let drop_in = dir.join("xdg-config/pipewire/pipewire.conf.d");
        std::fs::create_dir_all(&drop_in).expect("PipeWire's configuration");
        std::fs::write(
            drop_in.join("ready.conf"),
            "context.exec = [ { path = \"/bin/echo\" args = \"ready\" } ]\n",
        )
        .expect("PipeWire's configuration");
        let mut pipewire = service("pipewire")
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::piped())
            .spawn()
            .expect("pipewire (cargo xtask setup installs it)");
        let ready = first_line(&mut pipewire, "PipeWire");
        assert_eq!(ready, "ready", "PipeWire did not start");
        desktop.services.push(pipewire);
        // WirePlumber links the portal's stream to its reader.
        let wireplumber = service("wireplumber")
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .spawn()
            .expect("wireplumber (cargo xtask setup installs it)");
        desktop.services.push(wireplumber);
        if let Backend::Test { program, colour } = &backend {
            // It says when it owns its name on the bus.
            let mut stand_in = service(program)
                .args(["assenttest", colour])
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .stdout(Stdio::piped())
                .spawn()
                .expect("the stand-in portal backend");
            let ready = first_line(&mut stand_in, "the stand-in portal backend");
            assert_eq!(ready, "ready", "the stand-in portal backend did not start");
            desktop.services.push(stand_in);
        }
        desktop.bus = Some(address);
        desktop
    }

    /// What a client needs to find this desktop (and no X display to fall back on), and its
    /// session bus when it has one.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "XDG_RUNTIME_DIR".into(),
                self.dir.path().display().to_string(),
            ),
            ("WAYLAND_DISPLAY".into(), self.socket.clone()),
        ];
        if let Some(bus) = &self.bus {
            env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.clone()));
        }
        env
    }

    fn tool(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_remove("DISPLAY")
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env("WAYLAND_DISPLAY", &self.socket)
            .env("SWAYSOCK", &self.ipc)
            .env("LC_ALL", "C.UTF-8");
        c
    }

    /// The windows sway manages: their title and how they talk to it (`xdg_shell` for a
    /// native Wayland client, `xwayland` for an X one).
    pub fn windows(&self) -> Vec<(String, String)> {
        let out = self
            .tool("swaymsg")
            .args(["-r", "-t", "get_tree"])
            .output()
            .expect("swaymsg (sway)");
        let tree: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let mut found = Vec::new();
        collect_views(&tree, &mut found);
        found
    }

    /// Wait until a window titled `title` exists (looking again at each of sway's window
    /// events, up to `timeout`); how it talks to sway.
    pub fn wait_for_window(&self, title: &str, timeout: Duration) -> String {
        let shell = self.until("window", timeout, || {
            let windows = self.windows();
            windows
                .into_iter()
                .find_map(|(t, shell)| (t == title).then_some(shell))
        });
        shell.unwrap_or_else(|| {
            panic!(
                "no window titled {title:?} within {timeout:?}; windows: {:?}",
                self.windows()
            )
        })
    }

    /// Type `text` into the focused window.
    pub fn type_text(&self, text: &str) {
        let st = self
            .tool("wtype")
            .arg("--")
            .arg(text)
            .status()
            .expect("wtype");
        assert!(st.success(), "wtype failed");
    }

    /// Press keys, each a key name (`Return`) or a chord (`ctrl+shift+l`), one after another.
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            let mut parts: Vec<&str> = key.split('+').collect();
            let last = parts.pop().expect("a key");
            let mut c = self.tool("wtype");
            for m in &parts {
                c.args(["-M", m]);
            }
            c.args(["-k", last]);
            for m in parts.iter().rev() {
                c.args(["-m", m]);
            }
            let st = c.status().expect("wtype");
            assert!(st.success(), "wtype {key} failed");
        }
    }

    /// A screenshot of the output as PNG; returns the number of distinct colours in it (a
    /// blank output has one).
    pub fn screenshot(&self, path: &Path) -> u64 {
        let st = self.tool("grim").arg(path).status().expect("grim");
        assert!(st.success(), "grim failed");
        crate::display::colours(path)
    }

    /// Take screenshots into `path` until the pixel at (`x`, `y`) is as `wanted` says, up to
    /// `timeout`; `what` names it for the failure message.
    pub fn wait_for_pixel(
        &self,
        path: &Path,
        at: (u32, u32),
        wanted: impl Fn((u8, u8, u8)) -> bool,
        what: &str,
        timeout: Duration,
    ) {
        crate::display::wait_for_pixel(|p| self.screenshot(p), path, at, wanted, what, timeout);
    }
}

/// The desktop portal's backend for screen sharing.
pub enum Backend {
    /// `xdg-desktop-portal-wlr`, the wlroots desktops' own, set to share the output named
    /// `output` without asking.
    Wlr { output: String },
    /// The tests' stand-in (`src/bin/assent-test-portal.rs`, `program` the built binary),
    /// sharing a picture of `colour` (`0xAARRGGBB`) without asking.
    Test { program: String, colour: String },
}

/// The first line `child` prints, without its line end; what follows is read and dropped
/// (the pipe stays open, so a later line does not fail).
fn first_line(child: &mut Child, what: &str) -> String {
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    line.trim().to_string()
}

/// The views (windows) in sway's tree: (title, shell).
fn collect_views(node: &Value, found: &mut Vec<(String, String)>) {
    if let (Some(name), Some(shell)) = (node["name"].as_str(), node["shell"].as_str()) {
        found.push((name.to_string(), shell.to_string()));
    }
    for key in ["nodes", "floating_nodes"] {
        if let Some(children) = node[key].as_array() {
            for child in children {
                collect_views(child, found);
            }
        }
    }
}

//! A virtual X display (Xvfb) for the desktop window: find windows by title, type on the
//! keyboard (xdotool), take screenshots (ImageMagick `import`). Killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Display {
    child: Child,
    /// `:N`
    pub name: String,
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Display {
    /// Start Xvfb at `width`x`height` on a free display number. Xvfb picks the number and
    /// prints it once it accepts clients (`-displayfd`), so no waiting by time is needed.
    pub fn start(width: u32, height: u32) -> Display {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0"])
            .arg(format!("{width}x{height}x24"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb (cargo xtask setup installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("Xvfb's display number");
        let n: u32 = line.trim().parse().expect("a display number");
        Display {
            child,
            name: format!(":{n}"),
        }
    }

    /// An X tool on this display. Its text (window titles like "Assent — sign in") is UTF-8
    /// whatever the caller's locale: with none set (`env -i`, a minimal container) the tools
    /// would convert titles to ASCII and fail on the dash.
    fn tool(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.name)
            .env("LC_ALL", "C.UTF-8")
            .env_remove("LANGUAGE");
        c
    }

    /// The titles of the top-level windows.
    pub fn window_titles(&self) -> Vec<String> {
        self.windows().into_iter().map(|(_, t)| t).collect()
    }

    /// The top-level windows: (id, title).
    fn windows(&self) -> Vec<(String, String)> {
        let out = self
            .tool("xwininfo")
            .args(["-root", "-children"])
            .output()
            .expect("xwininfo (x11-utils)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let id = l.split_whitespace().next()?.to_string();
                let start = l.find('"')? + 1;
                let end = start + l[start..].find('"')?;
                Some((id, l[start..end].to_string()))
            })
            .collect()
    }

    /// Wait until a window titled `title` exists (polling the X server, up to `timeout`).
    pub fn wait_for_window(&self, title: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let titles = self.window_titles();
            if titles.iter().any(|t| t == title) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no window titled {title:?} within {timeout:?}; windows: {titles:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Give the keyboard to the window titled `title` (there is no window manager to do it).
    /// A window that is not mapped yet cannot take it: retried until it can, up to 30 s.
    pub fn focus(&self, title: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let id = self
                .windows()
                .into_iter()
                .find(|(_, t)| t == title)
                .map(|(id, _)| id);
            if let Some(id) = id {
                let st = self
                    .tool("xdotool")
                    .args(["windowfocus", "--sync", &id])
                    .stderr(Stdio::null())
                    .status()
                    .expect("xdotool");
                if st.success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "cannot focus the window {title:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Move the window titled `title` to the top left corner and resize it (a person
    /// maximising it; there is no window manager to do it).
    pub fn resize(&self, title: &str, width: u32, height: u32) {
        let id = self
            .windows()
            .into_iter()
            .find(|(_, t)| t == title)
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("no window {title:?}"));
        let st = self
            .tool("xdotool")
            .args(["windowmove", "--sync", &id, "0", "0"])
            .status()
            .expect("xdotool");
        assert!(st.success(), "xdotool windowmove failed");
        let st = self
            .tool("xdotool")
            .args(["windowsize", "--sync", &id])
            .arg(width.to_string())
            .arg(height.to_string())
            .status()
            .expect("xdotool");
        assert!(st.success(), "xdotool windowsize failed");
    }

    /// Type `text` into the focused window.
    pub fn type_text(&self, text: &str) {
        let st = self
            .tool("xdotool")
            .args(["type", "--delay", "20", "--", text])
            .status()
            .expect("xdotool");
        assert!(st.success(), "xdotool type failed");
    }

    /// Press keys (xdotool names: `Tab`, `Return`, `F2`, …).
    pub fn keys(&self, keys: &[&str]) {
        let st = self
            .tool("xdotool")
            .args(["key", "--delay", "50"])
            .args(keys)
            .status()
            .expect("xdotool");
        assert!(st.success(), "xdotool key failed");
    }

    /// From the window just opened on its home screen into the meeting `code` (titled
    /// `title`), alone in it so far.
    pub fn enter_call(&self, code: &str, title: &str, timeout: Duration) {
        self.wait_for_window("Assent", timeout);
        self.focus("Assent");
        self.get_ready_for(code, title, timeout);
        self.keys(&["Return"]);
        self.wait_for_window(&format!("Assent — {title} — in call with 0"), timeout);
    }

    /// From Home (its join field having the keyboard): look the meeting `code` up by its link
    /// and go on to getting ready for it (the window titled after the meeting's `title`).
    pub fn get_ready_for(&self, code: &str, title: &str, timeout: Duration) {
        self.type_text(&format!("assent://join/{code}"));
        self.keys(&["Return"]);
        self.wait_for_window(&format!("Assent — {title}"), timeout);
        self.keys(&["Return"]);
        self.wait_for_window(&format!("Assent — {title} — getting ready"), timeout);
    }

    /// Take screenshots into `path` until the pixel at (`x`, `y`) is as `wanted` says (what a
    /// person would see once the window has drawn it), up to `timeout`; `what` names it for
    /// the failure message.
    pub fn wait_for_pixel(
        &self,
        path: &Path,
        at: (u32, u32),
        wanted: impl Fn((u8, u8, u8)) -> bool,
        what: &str,
        timeout: Duration,
    ) {
        wait_for_pixel(|p| self.screenshot(p), path, at, wanted, what, timeout);
    }

    /// The colour of one pixel of a screenshot, as (red, green, blue) from 0 to 255.
    pub fn pixel(path: &Path, x: u32, y: u32) -> (u8, u8, u8) {
        let out = Command::new("identify")
            .args(["-format", &format!("%[fx:int(255*p{{{x},{y}}}.r)],%[fx:int(255*p{{{x},{y}}}.g)],%[fx:int(255*p{{{x},{y}}}.b)]")])
            .arg(path)
            .output()
            .expect("identify (imagemagick)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: Vec<u8> = text
            .trim()
            .split(',')
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(v.len(), 3, "unreadable pixel {text:?}");
        (v[0], v[1], v[2])
    }

    /// One row of a screenshot, `y`, as (red, green, blue) from 0 to 255 per pixel.
    pub fn row(path: &Path, y: u32) -> Vec<(u8, u8, u8)> {
        let out = Command::new("convert")
            .arg(path)
            .args(["-crop", &format!("100000x1+0+{y}"), "-depth", "8", "rgb:-"])
            .output()
            .expect("convert (imagemagick)");
        assert!(out.status.success(), "convert could not read {path:?}");
        out.stdout
            .chunks_exact(3)
            .map(|p| (p[0], p[1], p[2]))
            .collect()
    }

    /// A screenshot of the whole display as PNG; returns the number of distinct colours in it
    /// (a blank or failed window has one or two).
    pub fn screenshot(&self, path: &Path) -> u64 {
        let st = self
            .tool("import")
            .args(["-window", "root"])
            .arg(path)
            .status()
            .expect("import (imagemagick)");
        assert!(st.success(), "import failed");
        colours(path)
    }
}

/// The number of distinct colours in an image (a blank or failed window has one or two).
pub fn colours(path: &Path) -> u64 {
    let out = Command::new("identify")
        .args(["-format", "%k"])
        .arg(path)
        .output()
        .expect("identify (imagemagick)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Take screenshots with `shoot` into `path` until the pixel at (`x`, `y`) is as `wanted` says,
/// up to `timeout`; `what` names it for the failure message.
pub fn wait_for_pixel(
    shoot: impl Fn(&Path) -> u64,
    path: &Path,
    (x, y): (u32, u32),
    wanted: impl Fn((u8, u8, u8)) -> bool,
    what: &str,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        shoot(path);
        let rgb = Display::pixel(path, x, y);
        if wanted(rgb) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: pixel ({x}, {y}) is {rgb:?}"
        );
    }
}

/// Where a test's screenshots go: `$ASSENT_SCREENSHOT_DIR` when set (kept, to look at), else
/// the test's temporary folder.
pub fn screenshot_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    let dir = std::env::var_os("ASSENT_SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

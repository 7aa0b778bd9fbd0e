//! Calls end to end: the real server (with a real SMTP listener, or its mail outbox), optional
//! coturn, and headless `assent` clients, each in its own profile and kernel keyring session,
//! driven through their JSON event lines and stdin commands. Every process is killed on drop.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::coturn::Coturn;
use crate::rendezvous::Rendezvous;
use crate::smtp::{Mail, SmtpSink};

/// Every test user's password.
pub const PASSWORD: &str = "a long and private passphrase";

/// Where the server runs and how mail reaches the test.
pub struct ServerOptions {
    /// Start coturn and hand out TURN credentials.
    pub turn: bool,
    /// Run the server (and the clients) inside network namespaces: the server in this one.
    pub netns: Option<String>,
    /// The address to listen on (loopback by default).
    pub listen_ip: String,
    /// Keep recordings in a real S3 server (Garage) instead of the server's own directory.
    pub s3: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            turn: false,
            netns: None,
            listen_ip: "127.0.0.1".into(),
            s3: false,
        }
    }
}

pub struct Server {
    pub rendezvous: Rendezvous,
    /// The real SMTP listener (absent in a namespace: mail goes to the outbox).
    pub smtp: Option<SmtpSink>,
    pub coturn: Option<Coturn>,
    pub garage: Option<crate::garage::Garage>,
    pub base: String,
    env: Vec<(&'static str, String)>,
    prefix: Vec<String>,
    dir: tempfile::TempDir,
}

fn netns_prefix(ns: &Option<String>) -> Vec<String> {
    match ns {
        Some(n) => vec!["ip".into(), "netns".into(), "exec".into(), n.clone()],
        None => vec![],
    }
}

impl Server {
    pub async fn start(opts: ServerOptions) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env: Vec<(&'static str, String)> = Vec::new();
        let garage = opts.s3.then(crate::garage::Garage::start);
        if let Some(g) = &garage {
            env.extend(g.env());
        }
        let smtp = match opts.netns {
            None => Some(SmtpSink::start().await),
            Some(_) => None,
        };
        if let Some(s) = &smtp {
            env.push(("ASSENT_SMTP_URL", s.url()));
        }
        let coturn = opts.turn.then(|| Coturn::start("assent-e2e-turn-secret"));
        if let Some(c) = &coturn {
            env.push(("ASSENT_TURN_URLS", format!("turn:{}?transport=udp", c.addr)));
            env.push(("ASSENT_TURN_SECRET", c.secret.clone()));
            env.push(("ASSENT_STUN_URLS", format!("stun:{}", c.addr)));
        }
        let rendezvous = Rendezvous::start_in(
            &netns_prefix(&opts.netns),
            &format!("{}:0", opts.listen_ip),
            &dir.path().join("server"),
            &env,
        );
        let base = format!("http://{}", rendezvous.addr);
        Server {
            rendezvous,
            smtp,
            coturn,
            garage,
            base,
            env,
            prefix: netns_prefix(&opts.netns),
            dir,
        }
    }

    /// Kill the server (SIGKILL).
    pub fn kill_rendezvous(&mut self) {
        self.rendezvous.kill();
    }

    /// Start the server again on the same address and data (after [`Self::kill_rendezvous`]).
    pub fn start_rendezvous(&mut self) {
        let listen = self.rendezvous.addr.to_string();
        let data = self.rendezvous.data_dir.clone();
        self.rendezvous = Rendezvous::start_in(&self.prefix, &listen, &data, &self.env);
    }

    /// The verification code mailed to `email`.
    async fn code_for(&self, email: &str) -> String {
        if let Some(smtp) = &self.smtp {
            return smtp
                .wait_for(email, 0, Duration::from_secs(20))
                .await
                .code()
                .expect("a code in the mail");
        }
        // The outbox: one .eml file a message.
        let outbox = self.rendezvous.data_dir.join("outbox");
        for _ in 0..200 {
            if let Ok(entries) = std::fs::read_dir(&outbox) {
                for e in entries.flatten() {
                    let data = std::fs::read_to_string(e.path()).unwrap_or_default();
                    if data.contains(email) {
                        let mail = Mail {
                            from: String::new(),
                            to: vec![email.into()],
                            data,
                        };
                        if let Some(code) = mail.code() {
                            return code;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no verification mail for {email} in {}", outbox.display());
    }

    /// Another device of `user`'s account: a profile of its own, signed in with the password.
    pub async fn device(&self, user: &User, label: &str) -> User {
        let other = user.with_profile_suffix(label);
        other.cli(&[
            "account",
            "signin",
            "--server",
            &self.base,
            "--email",
            &user.email,
            "--password-env",
            "ASSENT_TEST_PASSWORD",
            "--device",
            label,
        ]);
        other
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A profile with no account yet (for signing up in the window).
    pub fn newcomer(&self, name: &str) -> User {
        User {
            name: name.into(),
            email: format!("{}@example.org", name.to_lowercase()),
            profile: self
                .dir
                .path()
                .join(format!("profile-{}", name.to_lowercase())),
            prefix: Vec::new(),
        }
    }

    /// The verification code mailed to `email` (the first mail to it).
    pub async fn mailed_code(&self, email: &str) -> String {
        self.code_for(email).await
    }

    /// The code in the first mail to `email` whose text contains `about` (needs the SMTP
    /// listener, the default).
    pub async fn mailed_code_about(&self, email: &str, about: &str) -> String {
        let smtp = self.smtp.as_ref().expect("an SMTP listener");
        for nth in 0.. {
            let mail = smtp.wait_for(email, nth, Duration::from_secs(20)).await;
            if mail.data.contains(about) {
                return mail.code().expect("a code in the mail");
            }
        }
        unreachable!("wait_for panics when no mail comes")
    }

    /// A new account whose client talks to the server at `base` (e.g. a hostile proxy in
    /// front of this server): signed up, verified and signed in through it.
    pub async fn user_at(&self, name: &str, base: &str) -> User {
        self.user_with(name, None, base).await
    }

    /// A new account (signed up, verified, signed in) in its own profile directory; its
    /// commands run in `netns` when given.
    pub async fn user(&self, name: &str, netns: Option<String>) -> User {
        let base = self.base.clone();
        self.user_with(name, netns, &base).await
    }

    async fn user_with(&self, name: &str, netns: Option<String>, base: &str) -> User {
        let email = format!("{}@example.org", name.to_lowercase());
        let profile = self
            .dir
            .path()
            .join(format!("profile-{}", name.to_lowercase()));
        let user = User {
            name: name.into(),
            email: email.clone(),
            profile,
            prefix: netns_prefix(&netns),
        };
        user.cli(&[
            "account",
            "signup",
            "--server",
            base,
            "--email",
            &email,
            "--name",
            name,
            "--password-env",
            "ASSENT_TEST_PASSWORD",
            "--recovery-out",
            user.profile.with_extension("recovery").to_str().unwrap(),
        ]);
        let code = self.code_for(&email).await;
        user.cli(&["account", "verify", &code]);
        user.cli(&[
            "account",
            "signin",
            "--server",
            base,
            "--email",
            &email,
            "--password-env",
            "ASSENT_TEST_PASSWORD",
        ]);
        user
    }
}

/// The desktop window's process, killed on drop.
pub struct Window(std::process::Child);

impl Window {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One account with its profile.
pub struct User {
    pub name: String,
    pub email: String,
    pub profile: std::path::PathBuf,
    prefix: Vec<String>,
}

impl User {
    /// `[ip netns exec NS] keyctl session - assent --profile DIR`: a keyring session of its own,
    /// whose keys persist through the user's persistent keyring. Both wrappers exec, so the
    /// child's pid is the client's.
    /// The client's temporary directory (its `TMPDIR`), to check what it leaves there.
    pub fn tmp_dir(&self) -> std::path::PathBuf {
        self.profile.with_extension("tmp")
    }

    fn command(&self) -> Command {
        let tmp = self.tmp_dir();
        let _ = std::fs::create_dir_all(&tmp);
        let mut parts: Vec<String> = self.prefix.clone();
        parts.extend(["keyctl", "session", "-"].map(String::from));
        let mut c = Command::new(&parts[0]);
        c.args(&parts[1..])
            .arg(crate::bin("assent"))
            .arg("--profile")
            .arg(&self.profile)
            .env("ASSENT_KEYRING", "keyutils")
            .env("ASSENT_TEST_PASSWORD", PASSWORD)
            // The namespaced server is reached over plain http on the test's own veth link.
            .env("ASSENT_INSECURE_HTTP_HOSTS", crate::netem::ADDR_A)
            .env("TMPDIR", &tmp)
            .env(
                "ASSENT_LOG",
                std::env::var("ASSENT_E2E_LOG").unwrap_or_else(|_| "warn".into()),
            );
        c
    }

    /// Open the desktop window (no subcommand) on the X display `display`; closed on drop.
    /// Its calls use test media and loopback ICE only, like the headless clients.
    pub fn open_window(&self, display: &str) -> Window {
        self.open_window_env(display, &[])
    }

    /// The window, with more environment (e.g. `ASSENT_SERVER` for a fresh profile's form).
    pub fn open_window_env(&self, display: &str, env: &[(&str, &str)]) -> Window {
        let mut c = self.window_command();
        c.envs(env.iter().copied()).env("DISPLAY", display);
        Window(c.spawn().expect("start the window"))
    }

    /// The window on a Wayland desktop (`env` finds it), with no X display to fall back on.
    pub fn open_window_wayland(&self, env: &[(String, String)]) -> Window {
        let mut c = self.window_command();
        c.env_remove("DISPLAY")
            .envs(env.iter().map(|(k, v)| (k, v)));
        Window(c.spawn().expect("start the window"))
    }

    /// The window's command: test camera and microphone, loopback ICE.
    fn window_command(&self) -> Command {
        let mut c = self.command();
        c.env("ASSENT_VIDEO", "test")
            .env("ASSENT_AUDIO", "test")
            .env("ASSENT_ICE_ADDRESS", "127.0.0.1")
            .env("ASSENT_ICE_ALLOW", "127.0.0.0/8")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        c
    }

    /// `assent --profile P recordings verify --json DIR` as this user: compared with the chain
    /// heads this user witnessed during the call. The report and the exit status.
    pub fn verify_status(&self, dir: &std::path::Path) -> (Value, Option<i32>) {
        let out = self
            .command()
            .args(["recordings", "verify", "--json"])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run assent recordings verify");
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify output: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out.status.code())
    }

    /// Run a CLI command to completion; its stdout (fails the test on a non-zero exit).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run assent (is keyutils installed?): {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "assent {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Run a CLI command with extra environment variables: its stdout, or (on a non-zero exit)
    /// its stderr.
    pub fn try_cli_env(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
        let mut c = self.command();
        c.args(args).stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().map_err(|e| format!("cannot run assent: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The same person on another (empty) profile: a new device, not signed in yet.
    pub fn with_profile_suffix(&self, label: &str) -> User {
        User {
            name: self.name.clone(),
            email: self.email.clone(),
            profile: self.profile.with_file_name(format!(
                "{}-{label}",
                self.profile.file_name().unwrap().to_string_lossy()
            )),
            prefix: self.prefix.clone(),
        }
    }

    /// Run a CLI command to completion: whether it succeeded, and its stdout.
    pub fn run_cli(&self, args: &[&str]) -> (bool, String) {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run assent: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Run a CLI command to completion: its stdout, or (on a non-zero exit) its stderr.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run assent: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn create_meeting(&self, title: &str) -> String {
        let out = self.cli(&["meeting", "create", "--title", title, "--json"]);
        let v: Value = serde_json::from_str(out.trim()).expect("meeting JSON");
        v["code"].as_str().expect("code").to_string()
    }

    /// Join `code` headless with test media; extra arguments are appended.
    pub fn join(&self, code: &str, extra: &[&str]) -> Client {
        self.join_env(code, extra, &[])
    }

    /// [`User::join`] with more environment (e.g. `PULSE_SERVER` for a private sound server).
    pub fn join_env(&self, code: &str, extra: &[&str], env: &[(String, String)]) -> Client {
        let mut cmd = self.command();
        cmd.args(["call", code]).args(extra);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        Client::spawn(&self.name, cmd)
    }
}

/// Arguments that keep ICE on loopback only (no packet to any other host).
pub const LOOPBACK_ICE: &[&str] = &["--ice-address", "127.0.0.1", "--ice-allow", "127.0.0.0/8"];

/// A running `assent call`.
pub struct Client {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::UnboundedReceiver<Value>,
    /// Every event received so far.
    pub seen: Vec<Value>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    fn spawn(name: &str, mut cmd: Command) -> Client {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start assent call: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr");
        let keep = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(mut s) = keep.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Client {
            name: name.into(),
            stdin: child.stdin.take(),
            child,
            events,
            seen: Vec::new(),
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn context(&self) -> String {
        let events: Vec<String> = self.seen.iter().map(|v| v.to_string()).collect();
        format!(
            "{}'s events:\n{}\nstderr:\n{}",
            self.name,
            events.join("\n"),
            self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
        )
    }

    /// The client's thread stacks, when gdb is at hand (to see where a stuck client waits).
    fn stacks(&self) -> String {
        let pid = self.child.id();
        let out = std::process::Command::new("gdb")
            .args([
                "-p",
                &pid.to_string(),
                "-batch",
                "-ex",
                "thread apply all bt 30",
            ])
            .stdin(std::process::Stdio::null())
            .output();
        match out {
            Ok(o) => format!(
                "{}'s threads:\n{}",
                self.name,
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| l.starts_with('#') || l.starts_with("Thread"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            Err(_) => String::new(),
        }
    }

    /// Wait for the first new event that `pred` accepts (a timeout fails the test, showing
    /// everything this client said).
    pub async fn wait(
        &mut self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(v)) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Ok(None) => panic!(
                    "{} exited while waiting for {what}\n{}",
                    self.name,
                    self.context()
                ),
                Err(_) => panic!(
                    "{} did not see {what} within {within:?}\n{}\n{}",
                    self.name,
                    self.context(),
                    self.stacks()
                ),
            }
        }
    }

    /// Wait for an event of `kind`.
    pub async fn event(&mut self, kind: &str, within: Duration) -> Value {
        self.wait(kind, within, |v| v["event"] == kind).await
    }

    /// Events of `kind` seen so far.
    pub fn seen(&self, kind: &str) -> Vec<&Value> {
        self.seen.iter().filter(|v| v["event"] == kind).collect()
    }

    /// Send a command line (`chat hi`, `mute`, `stats`, `leave`).
    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the client");
        stdin.flush().expect("flush");
    }

    /// Current statistics.
    pub async fn stats(&mut self) -> Value {
        self.command("stats");
        self.event("stats", Duration::from_secs(15)).await["stats"].clone()
    }

    /// This client's statistics about the peer named `name`.
    pub async fn peer_stats(&mut self, name: &str) -> Option<Value> {
        let s = self.stats().await;
        s["peers"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
    }

    /// Wait until media from `name` has arrived: at least `frames` video frames and `audio_ms`
    /// of audio. Returns the last statistics.
    pub async fn wait_media(
        &mut self,
        name: &str,
        frames: u64,
        audio_ms: u64,
        within: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let s = self.peer_stats(name).await;
            if let Some(p) = &s
                && p["video_frames"].as_u64().unwrap_or(0) >= frames
                && p["audio_ms"].as_u64().unwrap_or(0) >= audio_ms
            {
                return p.clone();
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{} did not receive {frames} frames and {audio_ms} ms of audio from {name} \
                     within {within:?}: {s:?}\n{}\n{}",
                    self.name,
                    self.context(),
                    self.stacks()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Leave; the final statistics.
    pub async fn leave(&mut self) -> Value {
        self.command("leave");
        let v = self.event("final_stats", Duration::from_secs(20)).await;
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "{} exited with {status}\n{}",
            self.name,
            self.context()
        );
        v["stats"].clone()
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A recording's directory, from the recorder's `recording_started` event.
pub fn started_dir(user: &User, ev: &Value) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(ev["dir"].as_str().expect("dir"));
    if dir.is_absolute() {
        dir
    } else {
        user.profile.parent().expect("profile's parent").join(dir)
    }
}

/// `assent recordings verify --json DIR`: the report and the exit status (0 intact, 1
/// tampered, 2 incomplete).
pub fn verify_status(dir: &std::path::Path) -> (Value, Option<i32>) {
    let out = crate::run(
        "assent",
        &[
            "recordings",
            "verify",
            "--json",
            dir.to_str().expect("path"),
        ],
    );
    let v = serde_json::from_str(&crate::stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "verify output: {e}: {}{}",
            crate::stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code())
}

/// `assent recordings verify --json DIR`.
pub fn verify(dir: &std::path::Path) -> Value {
    let out = crate::run(
        "assent",
        &[
            "recordings",
            "verify",
            "--json",
            dir.to_str().expect("path"),
        ],
    );
    serde_json::from_str(&crate::stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "verify output: {e}: {}{}",
            crate::stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Export a recording with `user`'s own key: the track summary (stderr) on success.
pub fn export(user: &User, dir: &std::path::Path, out: &std::path::Path) -> Result<String, String> {
    let key = user.profile.with_extension("agekey");
    if !key.exists() {
        user.cli(&[
            "account",
            "export-identity",
            "--out",
            key.to_str().expect("path"),
        ]);
    }
    let o = crate::run(
        "assent",
        &[
            "recordings",
            "export",
            dir.to_str().expect("path"),
            "--identity",
            key.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() {
        Ok(err)
    } else {
        Err(err)
    }
}

/// Join `code` as each of `people` in turn (loopback ICE): each newcomer connects to everyone
/// already there; returns once every pair is connected, in the order given.
pub async fn join_all(code: &str, people: &[&User], within: Duration) -> Vec<Client> {
    let mut clients: Vec<Client> = Vec::new();
    for (i, u) in people.iter().enumerate() {
        let mut c = u.join(code, LOOPBACK_ICE);
        c.event("joined", within).await;
        for _ in 0..i {
            c.event("connected", within).await;
        }
        clients.push(c);
    }
    let n = clients.len();
    for (i, c) in clients.iter_mut().enumerate() {
        // The earlier ones connected to everyone who came after them.
        for _ in 0..n - 1 - i {
            c.event("connected", within).await;
        }
    }
    clients
}

//! A private PulseAudio sound server for tests and benchmarks: no sound card, only the null
//! sinks a test asks for (each with its `.monitor` source to record what is played to it),
//! reached through its own socket, stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PulseAudio {
    child: Child,
    dir: tempfile::TempDir,
}

impl PulseAudio {
    /// Start a sound server with a null sink for each name in `sinks`.
    pub fn start(sinks: &[&str]) -> PulseAudio {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("native");
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disable-shm=true",
            "--log-target=stderr",
        ])
        .arg("-L")
        .arg(format!(
            "module-native-protocol-unix socket={} auth-anonymous=1",
            socket.display()
        ));
        for sink in sinks {
            cmd.arg("-L").arg(format!(
                "module-null-sink sink_name={sink} rate=48000 channels=1"
            ));
        }
        let child = cmd
            .envs(env_for(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulseaudio (cargo xtask setup installs it)");
        let pulse = PulseAudio { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pulse.pactl(&["info"]).is_ok_and(|_| socket.exists()) {
            assert!(Instant::now() < deadline, "pulseaudio did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        pulse
    }

    /// `PULSE_SERVER` for clients of this server.
    pub fn server(&self) -> String {
        format!("unix:{}", self.dir.path().join("native").display())
    }

    /// The environment a client of this server needs.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = env_for(self.dir.path());
        env.push(("PULSE_SERVER".into(), self.server()));
        env
    }

    /// Run `pactl` against this server; its output.
    pub fn pactl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("pactl")
            .args(args)
            .envs(self.env())
            .output()
            .map_err(|e| format!("cannot run pactl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Play what reaches `from` (a sink's monitor or a source) into `to`, `latency_ms` later
    /// and at `volume_percent` (a room: the speaker heard again by the microphone).
    pub fn loopback(&self, from: &str, to: &str, latency_ms: u32, volume_percent: u32) {
        let module = self
            .pactl(&[
                "load-module",
                "module-loopback",
                &format!("source={from}"),
                &format!("sink={to}"),
                &format!("latency_msec={latency_ms}"),
                "source_dont_move=true",
                "sink_dont_move=true",
            ])
            .expect("load module-loopback");
        let module = module.trim();
        // The loopback's playback stream is the sink input that module owns.
        let inputs = self.pactl(&["list", "sink-inputs"]).expect("sink inputs");
        let mut current = None;
        let mut input = None;
        for line in inputs.lines().map(str::trim) {
            if let Some(n) = line.strip_prefix("Sink Input #") {
                current = Some(n.to_string());
            } else if line.strip_prefix("Owner Module: ") == Some(module) {
                input = current.clone();
            }
        }
        let input = input.unwrap_or_else(|| panic!("no sink input of module {module}: {inputs}"));
        self.pactl(&[
            "set-sink-input-volume",
            &input,
            &format!("{volume_percent}%"),
        ])
        .expect("set the loopback's volume");
    }

    /// Load a module; its index (to unload it).
    pub fn load_module(&self, args: &[&str]) -> String {
        let mut all = vec!["load-module"];
        all.extend_from_slice(args);
        self.pactl(&all)
            .unwrap_or_else(|e| panic!("load {args:?}: {e}"))
            .trim()
            .to_string()
    }

    /// A speaker: a null sink `name` (48 kHz mono, what the call plays), recorded from its
    /// monitor `{name}.monitor`. Returns its module, to unload it (unplugged).
    pub fn speaker(&self, name: &str) -> String {
        self.load_module(&[
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=48000",
            "channels=1",
        ])
    }

    /// A microphone that hears a sine of `freq` Hz: a null sink `name` that PulseAudio's
    /// `module-sine` plays into, whose monitor `{name}.monitor` is the microphone. Returns the
    /// modules, for [`PulseAudio::unplug`].
    pub fn tone_microphone(&self, name: &str, freq: u32) -> [String; 2] {
        let sink = self.speaker(name);
        let sine = self.load_module(&[
            "module-sine",
            &format!("sink={name}"),
            &format!("frequency={freq}"),
        ]);
        [sine, sink]
    }

    /// Unplug a microphone made by [`PulseAudio::tone_microphone`]: its tone first (or the
    /// server would move it to another sink), then its device.
    pub fn unplug(&self, modules: &[String; 2]) {
        for m in modules {
            self.pactl(&["unload-module", m])
                .unwrap_or_else(|e| panic!("unload module {m}: {e}"));
        }
    }

    /// Record `ms` milliseconds of `source` (48 kHz mono) with GStreamer's own client.
    pub fn record(&self, source: &str, ms: u32) -> Vec<f32> {
        let file = self.dir().join(format!("{source}.wav"));
        let out = Command::new("gst-launch-1.0")
            .args(["-q", "pulsesrc"])
            .arg(format!("device={source}"))
            .arg(format!("num-buffers={}", ms / 10))
            .args(["latency-time=10000", "!"])
            .arg("audio/x-raw,rate=48000,channels=1,format=S16LE")
            .args(["!", "wavenc", "!", "filesink"])
            .arg(format!("location={}", file.display()))
            .envs(self.env())
            .output()
            .expect("run gst-launch-1.0 (cargo xtask setup installs it)");
        assert!(
            out.status.success(),
            "recording {source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::sound::read_wav(&file)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Where the server keeps its state: all inside `dir`, nothing in the user's home.
fn env_for(dir: &Path) -> Vec<(String, String)> {
    let d = |s: &str| -> String { PathBuf::from(dir).join(s).display().to_string() };
    vec![
        ("PULSE_RUNTIME_PATH".into(), d("run")),
        ("PULSE_STATE_PATH".into(), d("state")),
        ("PULSE_CONFIG_PATH".into(), d("config")),
        ("HOME".into(), d("home")),
    ]
}

impl Drop for PulseAudio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

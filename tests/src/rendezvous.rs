//! The real `assent-rendezvous` binary, started on a free loopback port with a temporary data
//! directory; stopped (SIGKILL) on drop unless stopped gracefully first.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

pub struct Rendezvous {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Rendezvous {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Rendezvous {
    /// Start the server over `data_dir` with extra environment (e.g. `ASSENT_SMTP_URL`), and wait
    /// for the line in which it reports its address.
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> Rendezvous {
        Self::start_in(&[], "127.0.0.1:0", data_dir, env)
    }

    /// Start it behind a command prefix (e.g. `ip netns exec NS`, which execs, so the process
    /// killed on drop is the server itself) listening on `listen`.
    pub fn start_in(
        prefix: &[String],
        listen: &str,
        data_dir: &Path,
        env: &[(&str, String)],
    ) -> Rendezvous {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(crate::bin("assent-rendezvous"));
                c
            }
            None => Command::new(crate::bin("assent-rendezvous")),
        };
        cmd.args(["--listen", listen, "--data-dir"])
            .arg(data_dir)
            .arg("serve")
            .env("RUST_LOG", "warn")
            // Key directory epochs every 200 ms: a new account's key is provable almost at once
            // (production batches every 2 s).
            .env("ASSENT_KT_EPOCH_MS", "200")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start assent-rendezvous");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(a) = l.strip_prefix("listening on ") {
                        break a.trim().parse().expect("address");
                    }
                }
                _ => {
                    let st = child.wait();
                    panic!("assent-rendezvous exited before listening: {st:?}");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Rendezvous {
            addr,
            data_dir: data_dir.to_path_buf(),
            child: Some(child),
        }
    }

    /// SIGKILL (a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then wait for the process to exit.
    pub fn stop(mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().expect("wait")
    }
}

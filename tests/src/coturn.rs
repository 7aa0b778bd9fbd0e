//! Debian's coturn, started on loopback with a TURN REST API shared secret; stopped on drop.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::stun;

pub struct Coturn {
    pub addr: SocketAddr,
    pub secret: String,
    pub realm: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

impl Coturn {
    /// Start `turnserver` (Debian package `coturn`; `cargo xtask test` installs it).
    pub fn start(secret: &str) -> Coturn {
        for _attempt in 0..5 {
            if let Some(c) = Coturn::try_start(secret) {
                return c;
            }
            // The port may have been taken between choosing and binding it: try another.
        }
        panic!("turnserver did not become ready");
    }

    fn try_start(secret: &str) -> Option<Coturn> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_udp_port();
        let child = Command::new("turnserver")
            .args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                "--min-port=40000",
                "--max-port=40999",
                "--use-auth-secret",
                &format!("--static-auth-secret={secret}"),
                "--realm=assent.test",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--no-tcp-relay",
                "--allow-loopback-peers",
                "--fingerprint",
                "--log-file=stdout",
                "--simple-log",
                &format!("--db={}", dir.path().join("turndb").display()),
                &format!("--pidfile={}", dir.path().join("turn.pid").display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start turnserver ({e}); `cargo xtask test` installs coturn")
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut c = Coturn {
            addr,
            secret: secret.into(),
            realm: "assent.test".into(),
            child,
            _dir: dir,
        };
        // Ready when it answers a STUN binding request (each probe waits up to 200 ms).
        for _ in 0..50 {
            if let Ok(Some(_)) = c.child.try_wait() {
                return None;
            }
            if stun::binding(addr, Duration::from_millis(200)).is_ok() {
                return Some(c);
            }
        }
        None
    }
}

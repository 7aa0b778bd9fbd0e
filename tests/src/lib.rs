//! Harness for Assent's end-to-end tests: locating the real binaries, running them, and (as the
//! later issues add them) starting the real server, S3, TURN and SMTP, each stopped by a guard's
//! `Drop` even when a test fails.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The path of a workspace binary (`assent`, `assent-rendezvous`) built alongside the tests.
///
/// `cargo nextest run --workspace` (what `cargo xtask test` runs) builds every binary of the
/// workspace into the same directory as the test executables' parent.
pub fn bin(name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!(
        "ASSENT_BIN_{}",
        name.to_uppercase().replace('-', "_")
    )) {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build the workspace first (cargo xtask test does)",
        path.display()
    );
    path
}

/// Run a binary to completion with arguments.
pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(bin(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

/// Text of stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub mod bench;
pub mod call;
pub mod coturn;
pub mod display;
pub mod fakecam;
pub mod garage;
pub mod hostile;
pub mod netem;
pub mod pulse;
pub mod relay;
pub mod rendezvous;
pub mod smtp;
pub mod sound;
pub mod stun;
pub mod wayland;

/// An authenticator's code: RFC 6238 with the server's parameters (SHA-1, 30 s, 6 digits),
/// `offset` steps from now.
pub fn totp(secret_b32: &str, offset: i64) -> String {
    use hmac::{Hmac, Mac};
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.trim_end_matches('=').as_bytes())
        .expect("base32 secret");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let step = (now / 30 + offset) as u64;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&secret).unwrap();
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let v = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{v:06}")
}

//! Interoperability with the stock `rage` CLI (installed by `cargo xtask test`): a participant's
//! exported age identity decrypts a segment without Assent; a non-participant's does not; and
//! what `rage` encrypts to a participant's recipient string, Assent decrypts.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use assent_shared::container::{DirStore, segment, segment_name};
use secrecy::ExposeSecret;

fn rage() -> PathBuf {
    if let Some(p) = std::env::var_os("RAGE") {
        return p.into();
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/rage");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        PathBuf::from("rage")
    }
}

fn identity_file(dir: &std::path::Path, name: &str, id: &assent_shared::SecretIdentity) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    writeln!(f, "{}", id.to_age_identity().expose_secret()).unwrap();
    path
}

#[test]
fn rage_decrypts_a_segment_for_participants_only() {
    let f = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    f.record_finished(DirStore::open(&rec).unwrap(), 2);
    let seg = rec.join(segment_name(1));

    let participant = identity_file(dir.path(), "b.key", &f.ids[1]);
    let out = Command::new(rage())
        .arg("-d")
        .arg("-i")
        .arg(&participant)
        .arg(&seg)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run rage ({e}); `cargo xtask test` installs it, or set RAGE=/path/to/rage"
            )
        });
    assert!(
        out.status.success(),
        "rage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, common::plaintext(1));

    let outsider = identity_file(dir.path(), "d.key", &f.ids[3]);
    let out = Command::new(rage())
        .arg("-d")
        .arg("-i")
        .arg(&outsider)
        .arg(&seg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn assent_decrypts_what_rage_encrypts() {
    let f = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, b"made by rage").unwrap();
    let output = dir.path().join("out.age");
    let status = Command::new(rage())
        .arg("-e")
        .arg("-r")
        .arg(f.ids[0].public().encryption.to_age_recipient())
        .arg("-o")
        .arg(&output)
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let ct = std::fs::read(output).unwrap();
    let pt = segment::decrypt(&f.ids[0].age_identity().unwrap(), &ct).unwrap();
    assert_eq!(&pt[..], b"made by rage");
}

//! The `assent` binary end to end: the headless demo records, `recordings verify` checks,
//! `recordings export` decrypts, and tampering is reported with a failing exit status.

use assent_e2e::{run, stdout};

fn demo(dir: &std::path::Path) {
    let out = run("assent", &["demo", "--dir", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("VERDICT: intact"));
}

#[test]
fn demo_recording_verifies_and_exports_for_a_participant() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let rec = dir.path().join("recording");
    let out = run(
        "assent",
        &["recordings", "verify", "--json", rec.to_str().unwrap()],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(v["complete"], true);
    // Alice, Bob and Carol for epoch 0; all four again when Dave joined.
    assert_eq!(v["consents"].as_array().unwrap().len(), 7);
    assert_eq!(v["epochs"], 2);
    assert!(
        v["ending"]
            .as_str()
            .unwrap()
            .starts_with("consent withdrawn by "),
        "{v}"
    );
    assert!(v["segments"].as_u64().unwrap() >= 4);

    let exported = dir.path().join("bob.media");
    let key = dir.path().join("keys/bob.agekey");
    let out = run(
        "assent",
        &[
            "recordings",
            "export",
            rec.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DECRYPTED"));
    // Decrypted content is for this user only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&exported).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    assert!(!exported.with_extension("partial").exists());
    // An existing file is never overwritten, nor one a symlink points to.
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("link.media");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for to in [&target, &link] {
        let again = run(
            "assent",
            &[
                "recordings",
                "export",
                rec.to_str().unwrap(),
                "--identity",
                dir.path().join("keys/bob.agekey").to_str().unwrap(),
                "--out",
                to.to_str().unwrap(),
            ],
        );
        assert!(!again.status.success());
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("already exists"),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // One Matroska file, read back by the exporter: the demo's picture and tone, for the
    // whole time it was recorded.
    let media = std::fs::read(&exported).unwrap();
    assert!(
        media.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]),
        "a Matroska file"
    );
    for kind in ["video", "audio"] {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("track \"demo {kind}\"")))
            .unwrap_or_else(|| panic!("no {kind} track: {err}"));
        assert!(!line.contains(": 0 frames"), "{line}");
    }

    // Dave joined later: he cannot decrypt what was recorded before he agreed, and the failed
    // export leaves nothing behind.
    let dave = dir.path().join("keys/dave.agekey");
    let dave_out = dir.path().join("dave.media");
    let out = run(
        "assent",
        &[
            "recordings",
            "export",
            rec.to_str().unwrap(),
            "--identity",
            dave.to_str().unwrap(),
            "--out",
            dave_out.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be decrypted"));
    assert!(!dave_out.exists());
    assert!(!dave_out.with_extension("partial").exists());
}

#[test]
fn tampering_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let rec = dir.path().join("recording");
    let seg = rec.join("segment-000001.age");
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&seg, bytes).unwrap();
    let out = run("assent", &["recordings", "verify", rec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    // Sentences for people; the codes stay in --json.
    assert!(
        stdout(&out).contains(
            "problem: segment 1 was changed: its bytes are not the ones the recorder signed"
        ),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("SegmentCorrupt"), "{}", stdout(&out));
    assert!(stdout(&out).contains("NOT INTACT"));
    let out = run(
        "assent",
        &["recordings", "verify", "--json", rec.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["problems"][0]["code"], "segment_corrupt", "{v}");
    assert_eq!(v["verdict"], "tampered");

    let out = run(
        "assent",
        &[
            "recordings",
            "verify",
            dir.path().join("missing").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
}

//! kill -9 of a real process in the middle of writing a recording to disk: every segment the
//! manifest lists survives and verifies; the recording opens as incomplete.
//!
//! The writer runs in a child process: this same test binary, re-executed to run only
//! `crash_child_writer` with `ASSENT_CRASH_CHILD_DIR` set. Run normally, that helper returns at
//! once.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use assent_shared::container::{DirStore, Note, Track, decrypt_segment, verify};

fn big_plaintext(i: u32) -> Vec<u8> {
    let mut v = common::plaintext(i);
    v.resize(1 << 20, (i % 251) as u8);
    v
}

#[test]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os("ASSENT_CRASH_CHILD_DIR") else {
        return;
    };
    let f = common::fixture();
    let mut w = f.record(DirStore::open(dir).unwrap(), 0);
    // Bounded, so a parent that never kills it cannot fill the disk.
    for i in 0..64 {
        w.write_segment(
            Track::Media,
            &big_plaintext(i),
            &f.present(),
            u64::from(i) * 2000,
            2000,
        )
        .unwrap();
        println!("written {i}");
    }
}

#[test]
fn kill_dash_nine_at_random_points_loses_only_the_segment_in_progress() {
    let f = common::fixture();
    let reader = f.ids[2].age_identity().unwrap();
    // Ten runs, each killed after a different number of finished segments, mid-way into the next.
    let mut seed = std::process::id() as u64 | 1;
    for run in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = (seed % 6) as u32;
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ASSENT_CRASH_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = lines.next().expect("child ended early").unwrap();
            // libtest prints the test's name on the same line as the first output.
            if line.ends_with(&format!("written {kill_after}")) {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = DirStore::open(dir.path()).unwrap();
        let r = verify(&store).unwrap();
        assert_eq!(r.problems, vec![], "run {run}");
        assert_eq!(r.notes.first(), Some(&Note::Incomplete), "run {run}");
        let listed = r.manifest.segments.len() as u32;
        assert!(
            listed > kill_after,
            "run {run}: {listed} listed, {kill_after} reported written"
        );
        for i in 0..listed {
            let pt = decrypt_segment(&store, &r.manifest, i, &reader).unwrap();
            assert!(*pt == big_plaintext(i), "run {run} segment {i}");
        }
    }
}

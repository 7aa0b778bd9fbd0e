//! Consented recording in real calls: nothing is recorded before everyone's token, a newcomer
//! pauses it until everyone present agrees to go on with them, a withdrawal stops it within a
//! second, every participant can
//! decrypt the result (and nobody else), nothing but ciphertext reaches the disk, and a recorder
//! killed at any moment leaves a recording that opens as incomplete and verifies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assent_e2e::call::{
    Client, LOOPBACK_ICE, Server, ServerOptions, export, join_all, started_dir, verify,
    verify_status,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

async fn connected(c: &mut Client, n: usize) {
    for _ in 0..n {
        c.event("connected", WAIT).await;
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_party_recording_needs_every_token_and_everyone_can_decrypt_it() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let eve = server.user("Eve", None).await;
    let code = ann.create_meeting("Recorded");
    let [mut a, mut b, mut c]: [Client; 3] = join_all(&code, &[&ann, &bob, &cat], WAIT)
        .await
        .try_into()
        .unwrap_or_else(|v: Vec<Client>| panic!("{} clients", v.len()));
    a.wait_media("Cat", 10, 200, WAIT).await;

    a.command("record --cloud --days 7 Quarterly review");
    for x in [&mut b, &mut c] {
        let asked = x.event("consent_asked", WAIT).await;
        assert_eq!(asked["title"], "Quarterly review");
        assert_eq!(asked["proposer"], "Ann");
    }
    b.command("agree");
    a.wait("Bob's consent", WAIT, |v| {
        v["event"] == "recording" && v["agreed"].as_array().is_some_and(|x| x.len() == 2)
    })
    .await;
    // Two of three: nothing recorded, not a byte on disk.
    assert!(a.seen("recording_started").is_empty());
    let recordings = ann.profile.join("recordings");
    let mut files = Vec::new();
    files_under(&recordings, &mut files);
    assert!(files.is_empty(), "{files:?}");

    c.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let dir = started_dir(&ann, &started);
    for x in [&mut b, &mut c] {
        x.wait("the recording state", WAIT, |v| {
            v["event"] == "recording" && v["state"] == "recording"
        })
        .await;
    }
    a.wait("two media segments", WAIT, |v| {
        v["event"] == "segment_written" && v["index"] == 1
    })
    .await;
    b.command("chat said during the recording");
    a.wait("the chat", WAIT, |v| v["event"] == "chat").await;
    a.leave().await;
    let finished = a.seen("recording_finished");
    assert_eq!(finished.len(), 1, "{:?}", a.seen("recorder_failed"));

    let v = verify(&dir);
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["consents"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["title"], "Quarterly review");
    // Each participant decrypts a playable file with everyone's streams.
    let work = tempfile::tempdir().unwrap();
    for (user, name) in [(&ann, "ann"), (&bob, "bob"), (&cat, "cat")] {
        let out = work.path().join(format!("{name}.mkv"));
        let summary = export(user, &dir, &out).unwrap_or_else(|e| panic!("{name}: {e}"));
        for who in ["Ann", "Bob", "Cat"] {
            for kind in ["video", "audio"] {
                assert!(
                    summary
                        .lines()
                        .any(|l| l.contains(&format!("\"{who} <"))
                            && l.contains(&format!("> {kind}\""))),
                    "{name}'s export lacks {who}'s {kind}: {summary}"
                );
            }
        }
    }
    // Someone who was not in the call cannot.
    let out = work.path().join("eve.mkv");
    let err = export(&eve, &dir, &out).unwrap_err();
    assert!(err.contains("cannot be decrypted"), "{err}");
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_pauses_it_and_a_withdrawal_stops_it_within_a_second() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let code = ann.create_meeting("Pauses");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut b, 1).await;
    connected(&mut a, 1).await;
    a.command("record --local Pausing");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let dir = started_dir(&ann, &started);
    a.wait("a segment", WAIT, |v| v["event"] == "segment_written")
        .await;

    // Cat joins: the recording pauses until everyone present agrees to go on with her; each
    // is asked, seeing who joined and everyone it would be encrypted to.
    let mut c = cat.join(&code, LOOPBACK_ICE);
    let asked = c.event("consent_asked", WAIT).await;
    assert_eq!(asked["epoch"], 1, "the extended set");
    for x in [&mut a, &mut b] {
        let asked = x.event("consent_asked", WAIT).await;
        assert_eq!(asked["epoch"], 1, "{}: {asked}", x.name);
        assert_eq!(asked["joined"], serde_json::json!(["Cat"]), "{asked}");
        let emails: Vec<&str> = asked["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["email"].as_str().unwrap())
            .collect();
        for e in ["ann@example.org", "bob@example.org", "cat@example.org"] {
            assert!(emails.contains(&e), "{asked}");
        }
    }
    a.event("recording_paused", WAIT).await;
    assert!(b.seen("recording_ended").is_empty());
    c.command("agree");
    a.command("agree");
    // Two of three: still paused.
    a.wait("Ann's and Cat's yes", WAIT, |v| {
        v["event"] == "recording"
            && v["state"] == "paused"
            && v["agreed"].as_array().is_some_and(|x| x.len() == 2)
    })
    .await;
    assert!(a.seen("recording_resumed").is_empty());
    b.command("agree");
    a.event("recording_resumed", WAIT).await;
    a.wait("a segment with Cat", WAIT, |v| {
        v["event"] == "segment_written"
    })
    .await;

    // Bob withdraws: the recorder stops at once.
    b.command("withdraw");
    let withdrawn = b
        .wait("his withdrawal", WAIT, |v| v["event"] == "recording_ended")
        .await;
    let finished = a.event("recording_finished", WAIT).await;
    let took = finished["at"].as_u64().unwrap() - withdrawn["at"].as_u64().unwrap();
    assert!(took < 1000, "stopped {took} ms after the withdrawal");
    let v = verify(&dir);
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["epochs"], 2, "{v}");
    // Ann and Bob for the first set; Ann, Bob and Cat for the extended one.
    assert_eq!(v["consents"].as_array().unwrap().len(), 5, "{v}");
    assert!(
        v["ending"]
            .as_str()
            .unwrap()
            .starts_with("consent withdrawn by"),
        "{v}"
    );
    c.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_ciphertext_reaches_the_disk() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Disk");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut a, 1).await;
    a.command("record --local Scan");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    a.event("recording_started", WAIT).await;
    a.command("chat a secret said while recording");
    a.wait("three segments", WAIT, |v| {
        v["event"] == "segment_written" && v["index"] == 2
    })
    .await;
    a.leave().await;
    // Every file Ann's client wrote: its profile (store, recordings) and its temporary
    // directory. No Matroska or Opus header, no chat text.
    let mut files = Vec::new();
    files_under(ann.profile.as_path(), &mut files);
    files_under(&ann.tmp_dir(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "age"))
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (what, magic) in [
            ("Matroska", &[0x1a, 0x45, 0xdf, 0xa3][..]),
            ("Opus", b"OpusHead"),
            ("VP8 in Matroska", b"V_VP8"),
            ("chat", b"a secret said"),
        ] {
            assert!(
                !bytes.windows(magic.len()).any(|w| w == magic),
                "{what} plaintext in {}",
                f.display()
            );
        }
    }
}

/// The attack on a recording's ending: a server (or anyone holding the files) shows an earlier,
/// validly signed manifest and drops the segments after it. Every signature still verifies, so
/// the verdict must say what is missing: incomplete, may be truncated; never intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_manifest_with_the_tail_dropped_is_never_intact() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Truncated");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    a.event("connected", WAIT).await;
    a.command("record --local Truncated");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let dir = started_dir(&ann, &started);
    a.wait("the first segment", WAIT, |v| {
        v["event"] == "segment_written" && v["index"] == 0
    })
    .await;
    // An earlier version of the manifest, as a server keeps each uploaded one.
    let earlier = std::fs::read(dir.join("manifest.asm")).unwrap();
    a.wait("three segments", WAIT, |v| {
        v["event"] == "segment_written" && v["index"].as_u64().unwrap_or(0) >= 2
    })
    .await;
    // Bob's client keeps the chain heads Ann's recorder shows during the call.
    b.wait("a head of three segments", WAIT, |v| {
        v["event"] == "recording_head" && v["segments"].as_u64().unwrap_or(0) >= 3
    })
    .await;
    a.leave().await;
    let (whole, status) = verify_status(&dir);
    assert_eq!(
        (whole["verdict"].as_str(), status),
        (Some("intact"), Some(0)),
        "{whole}"
    );

    // What the attacker serves: the earlier manifest, and only the segments it lists.
    let served = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    for f in &files {
        std::fs::copy(f, served.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(served.path().join("manifest.asm"), &earlier).unwrap();
    let (v, _) = verify_status(served.path());
    for p in v["problems"].as_array().unwrap() {
        assert_eq!(p["code"], "extra_file", "{v}");
        let name = p["text"].as_str().unwrap().split(' ').next().unwrap();
        std::fs::remove_file(served.path().join(name)).unwrap();
    }
    let (v, status) = verify_status(served.path());
    assert!(
        v["segments"].as_u64() < whole["segments"].as_u64(),
        "the tail is gone: {v}"
    );
    assert_eq!(v["verifies"], true, "{v}");
    assert_eq!(
        (v["verdict"].as_str(), v["intact"].as_bool(), status),
        (Some("incomplete"), Some(false), Some(2)),
        "{v}"
    );
    // In words, for a person.
    let out = assent_e2e::run(
        "assent",
        &["recordings", "verify", served.path().to_str().unwrap()],
    );
    let text = assent_e2e::stdout(&out);
    assert!(
        text.contains("VERDICT: INCOMPLETE, MAY BE TRUNCATED"),
        "{text}"
    );
    assert!(!text.contains("VERDICT: intact"), "{text}");

    // Bob witnessed at least three segments during the call: against that, the cut copy is
    // not what was recorded (and the whole one agrees with it).
    b.leave().await;
    let (v, status) = bob.verify_status(served.path());
    assert_eq!(v["verdict"], "tampered", "{v}");
    assert_eq!(status, Some(1), "{v}");
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{v}");
    assert_eq!(problems[0]["code"], "cut_against_witness", "{v}");
    assert!(
        problems[0]["text"]
            .as_str()
            .unwrap()
            .contains("during the call the recorder showed you"),
        "{v}"
    );
    let (v, status) = bob.verify_status(&dir);
    assert_eq!(
        (v["verdict"].as_str(), status),
        (Some("intact"), Some(0)),
        "{v}"
    );
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("agrees with what the recorder showed you"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_killed_at_any_moment_loses_no_finished_segment() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Crash");
    let mut b = bob.join(&code, LOOPBACK_ICE);
    b.event("joined", WAIT).await;
    // Deterministic "random" moments spread over the first segments.
    let mut seed: u64 = 0x5eed;
    for run in 0..10 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after_ms = 300 + (seed >> 33) % 9000;
        let mut a = ann.join(&code, LOOPBACK_ICE);
        a.event("connected", WAIT).await;
        a.command(&format!("record --local Crash {run}"));
        b.event("consent_asked", WAIT).await;
        b.command("agree");
        let started = a.event("recording_started", WAIT).await;
        let dir = started_dir(&ann, &started);
        // Let it record for a while, collecting what it reports, then kill it.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(after_ms);
        while tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout_at(deadline, a.event("segment_written", WAIT)).await;
        }
        a.kill9();
        let written = a.seen("segment_written").len();
        // Every finished segment verifies, but with no signed ending it is never "intact":
        // incomplete, exit status 2 (not 1, tampered).
        let (v, status) = verify_status(&dir);
        assert_eq!(v["verifies"], true, "run {run} after {after_ms} ms: {v}");
        assert_eq!(
            (v["verdict"].as_str(), v["intact"].as_bool(), status),
            (Some("incomplete"), Some(false), Some(2)),
            "run {run}: {v}"
        );
        assert_eq!(
            v["complete"], false,
            "run {run}: the recorder never closed it"
        );
        assert!(
            v["segments"].as_u64().unwrap() as usize >= written,
            "run {run}: {written} segments reported, manifest lists {}",
            v["segments"]
        );
        // Bob sees Ann gone and the recording ended, and waits for the next try.
        b.wait("Ann gone", WAIT, |v| v["event"] == "participant_left")
            .await;
        b.wait("the recording ended", WAIT, |v| {
            v["event"] == "recording_ended"
        })
        .await;
    }
    // Ann's next start finds them: each interrupted recording is in her library as incomplete.
    let list = ann.cli(&["recordings", "list", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(rows.len(), 10, "{list}");
    for r in &rows {
        assert_eq!(r["state"], "incomplete", "{r}");
        assert!(r["title"].as_str().unwrap().starts_with("Crash "));
    }
}

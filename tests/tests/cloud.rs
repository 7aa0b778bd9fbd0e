//! The cloud copy of a consented recording, end to end with the real server and a real S3
//! server (Garage): segments upload while the call is recorded, the copy is complete when the
//! recorder leaves, every participant is mailed and downloads, verifies and decrypts it, an
//! outsider is refused, S3 holds only ciphertext, and an upload survives the server and the
//! storage going down in the middle of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assent_e2e::call::{
    Client, LOOPBACK_ICE, Server, ServerOptions, User, export, join_all, started_dir, verify,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

async fn connected(c: &mut Client, n: usize) {
    for _ in 0..n {
        c.event("connected", WAIT).await;
    }
}

/// `assent recordings cloud download ID --to DIR` as `user`: stdout, or the error.
fn download(user: &User, id: &str, to: &Path) -> Result<String, String> {
    user.try_cli(&[
        "recordings",
        "cloud",
        "download",
        id,
        "--to",
        to.to_str().unwrap(),
    ])
}

/// Shannon entropy of the bytes, bits per byte.
fn entropy(data: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &x in data {
        counts[x as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// The files of a recording directory, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A call of Ann and Bob on a server storing in S3, Ann recording it with a cloud copy.
struct Recorded {
    server: Server,
    ann: User,
    bob: User,
    a: Client,
    b: Client,
    id: String,
    dir: PathBuf,
}

async fn recorded_pair(title: &str) -> Recorded {
    let server = Server::start(ServerOptions {
        s3: true,
        ..ServerOptions::default()
    })
    .await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting(title);
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut b, 1).await;
    connected(&mut a, 1).await;
    a.command(&format!("record --cloud {title}"));
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let id = started["recording"].as_str().unwrap().to_string();
    let dir = started_dir(&ann, &started);
    Recorded {
        server,
        ann,
        bob,
        a,
        b,
        id,
        dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_participant_downloads_the_cloud_copy_and_s3_holds_only_ciphertext() {
    let server = Server::start(ServerOptions {
        s3: true,
        ..ServerOptions::default()
    })
    .await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let eve = server.user("Eve", None).await;
    let code = ann.create_meeting("Board");
    let [mut a, mut b, mut c]: [Client; 3] = join_all(&code, &[&ann, &bob, &cat], WAIT)
        .await
        .try_into()
        .unwrap_or_else(|v: Vec<Client>| panic!("{} clients", v.len()));

    a.command("record --cloud --days 7 Board meeting");
    for x in [&mut b, &mut c] {
        x.event("consent_asked", WAIT).await;
        x.command("agree");
    }
    let started = a.event("recording_started", WAIT).await;
    let id = started["recording"].as_str().unwrap().to_string();
    let dir = started_dir(&ann, &started);
    // Segments go up while the call is still being recorded.
    a.wait("a segment in the cloud", WAIT, |v| {
        v["event"] == "upload_progress" && v["uploaded"].as_u64().unwrap_or(0) > 0
    })
    .await;
    a.wait("two more segments", WAIT, |v| {
        v["event"] == "segment_written" && v["index"].as_u64().unwrap_or(0) >= 2
    })
    .await;
    a.leave().await;
    let complete = a.seen("upload_complete");
    assert_eq!(complete.len(), 1, "{:?}", a.seen("upload_failed"));
    assert_eq!(complete[0]["recording"], id.as_str());
    b.leave().await;
    c.leave().await;

    // Everyone in it is told by mail.
    let smtp = server.smtp.as_ref().unwrap();
    for who in [&bob, &cat] {
        let mail = smtp.wait_for(&who.email, 1, WAIT).await;
        assert!(
            mail.data.replace("=\r\n", "").contains("Board meeting"),
            "{}",
            mail.data
        );
    }

    // Bob and Cat download exactly what Ann recorded, verify it and decrypt it.
    let work = tempfile::tempdir().unwrap();
    let local = files(&dir);
    for (user, name) in [(&bob, "bob"), (&cat, "cat")] {
        let to = work.path().join(name);
        // Cat uses the short form of the command.
        let out = if name == "cat" {
            user.try_cli(&["recordings", "download", &id, "--to", to.to_str().unwrap()])
        } else {
            download(user, &id, &to)
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.contains("\"downloaded\""), "{out}");
        assert_eq!(files(&to), local, "{name}'s copy is byte-identical");
        let v = verify(&to);
        assert_eq!(v["intact"], true, "{v}");
        assert_eq!(v["complete"], true, "{v}");
        assert_eq!(v["consents"].as_array().unwrap().len(), 3, "{v}");
        let summary = export(user, &to, &work.path().join(format!("{name}.mkv")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(summary.contains("\"Ann <"), "{summary}");
    }
    // Eve was not in the call: refused, and nothing written.
    let to = work.path().join("eve");
    let err = download(&eve, &id, &to).unwrap_err();
    assert!(err.contains("forbidden"), "{err}");
    assert!(!to.exists() || std::fs::read_dir(&to).unwrap().next().is_none());
    // Had she got the bytes anyway, she could not decrypt them.
    let err = export(&eve, &work.path().join("bob"), &work.path().join("eve.mkv")).unwrap_err();
    assert!(err.contains("cannot be decrypted"), "{err}");
    assert!(!work.path().join("eve.mkv").exists());

    // Tags: Bob (a cloud copy only) tags it for everyone; Ann's retagging changes her local
    // copy and the cloud copy alike; Eve may not.
    assert_eq!(
        bob.cli(&["recordings", "tag", &id, "board", "#Q3", "board"])
            .trim(),
        "#board #Q3"
    );
    let cloud_tags = |who: &User| -> Value {
        let list: Value = serde_json::from_str(&who.cli(&["recordings", "cloud", "list"])).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap()["tags"]
            .clone()
    };
    assert_eq!(cloud_tags(&ann), serde_json::json!(["board", "Q3"]));
    assert_eq!(
        ann.cli(&["recordings", "tag", &id, "minutes, board"])
            .trim(),
        "#minutes #board"
    );
    assert_eq!(cloud_tags(&cat), serde_json::json!(["minutes", "board"]));
    let rows: Value = serde_json::from_str(&ann.cli(&["recordings", "list", "--json"])).unwrap();
    assert_eq!(rows[0]["tags"], serde_json::json!(["minutes", "board"]));
    assert!(
        ann.cli(&["recordings", "list"])
            .contains("tagged #minutes #board")
    );
    let err = eve
        .try_cli(&["recordings", "tag", &id, "mine"])
        .unwrap_err();
    assert!(err.contains("forbidden"), "{err}");
    assert_eq!(cloud_tags(&bob), serde_json::json!(["minutes", "board"]));

    // S3 holds age ciphertext only: no Matroska header, no plaintext media marker.
    let garage = server.garage.as_ref().unwrap();
    let blocks = garage.stored_blocks();
    let segments = local
        .iter()
        .filter(|(n, _)| n.starts_with("segment-"))
        .count();
    let age: Vec<&Vec<u8>> = blocks
        .iter()
        .filter(|b| b.starts_with(b"age-encryption.org/v1"))
        .collect();
    assert!(age.len() >= segments, "{} age objects", age.len());
    for b in &blocks {
        assert!(
            !b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]),
            "a Matroska file in S3"
        );
        // Ciphertext looks random: close to 8 bits of entropy per byte (media containers and
        // compressed video headers stay well below on blocks this size).
        if b.len() >= 16 * 1024 {
            let bits = entropy(b);
            assert!(
                bits > 7.95,
                "a block of {} bytes at {bits:.3} bits/byte",
                b.len()
            );
        }
        for marker in [&b"OpusHead"[..], b"webm", b"matroska", b"V_VP8"] {
            assert!(!b.windows(marker.len()).any(|w| w == marker), "media in S3");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_survives_the_server_and_the_storage_going_down() {
    let Recorded {
        mut server,
        ann: _,
        bob,
        mut a,
        mut b,
        id,
        dir,
    } = recorded_pair("Outage").await;
    a.wait("a segment in the cloud", WAIT, |v| {
        v["event"] == "upload_progress" && v["uploaded"].as_u64().unwrap_or(0) > 0
    })
    .await;

    // The server, then the storage, go down mid-upload; the recorder keeps recording and the
    // uploader retries.
    server.kill_rendezvous();
    server.garage.as_mut().unwrap().stop();
    a.wait("a failed attempt", WAIT, |v| {
        v["event"] == "upload_retrying"
    })
    .await;
    server.garage.as_mut().unwrap().restart();
    server.start_rendezvous();
    // Back: the call carries on (it is peer to peer) and the upload resumes.
    let before = a.seen("upload_progress").len();
    a.wait("progress again", Duration::from_secs(90), |v| {
        v["event"] == "upload_progress"
    })
    .await;
    assert!(a.seen("upload_progress").len() > before);
    a.leave().await;
    let uploads: Vec<&Value> = a
        .seen
        .iter()
        .filter(|v| {
            v["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("upload_"))
        })
        .collect();
    let tail: Vec<String> = a
        .seen
        .iter()
        .rev()
        .take(12)
        .map(|v| v.to_string())
        .collect();
    assert_eq!(
        a.seen("upload_complete").len(),
        1,
        "{uploads:#?}\nlast events: {tail:#?}"
    );
    b.leave().await;

    let work = tempfile::tempdir().unwrap();
    let to = work.path().join("bob");
    download(&bob, &id, &to).unwrap();
    assert_eq!(files(&to), files(&dir), "byte-identical after the outage");
    let v = verify(&to);
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["complete"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_cut_short_by_a_crash_is_uploaded_at_the_next_start() {
    // (The server lives to the end of the test: bound, not dropped.)
    let Recorded {
        server: _server,
        ann,
        bob,
        mut a,
        mut b,
        id,
        dir,
    } = recorded_pair("Crash").await;
    a.wait("two segments", WAIT, |v| {
        v["event"] == "segment_written" && v["index"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    a.kill9();

    // The next start: recovery marks it incomplete and the upload finishes what was written.
    let out = ann
        .try_cli(&["recordings", "cloud", "upload"])
        .unwrap_or_else(|e| panic!("upload: {e}"));
    assert!(out.contains("\"upload_complete\""), "{out}");
    let list = ann.cli(&["recordings", "list", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["state"], "incomplete");
    assert_eq!(rows[0]["cloud_state"], "complete");

    // Bob gets exactly what was on Ann's disk: it verifies, and is honestly incomplete.
    let work = tempfile::tempdir().unwrap();
    let to = work.path().join("bob");
    download(&bob, &id, &to).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(files(&to), files(&dir));
    let v = verify(&to);
    assert_eq!(v["verifies"], true, "{v}");
    assert_eq!(v["verdict"], "incomplete", "{v}");
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["complete"], false, "{v}");
    b.leave().await;
}

//! The rendezvous server as the adversary. A hostile proxy stands between a client and the real
//! server and rewrites what the server says; where an attack needs the server's own secrets
//! (its directory signing key, its database), the test uses them, as a malicious operator
//! would. Each attack fails with the error the user sees, and nothing is connected or
//! recorded that should not be.

use std::time::Duration;

use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions};
use assent_e2e::display::Display;
use assent_e2e::hostile::{HostileServer, server_directory_key};
use assent_shared::transparency::{self as kt, RootBody, SignedRoot};
use assent_shared::{SecretIdentity, Timestamp};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);

/// Neither side received a frame or an audio buffer from the other, nor connected.
async fn no_media(a: &mut Client, b: &mut Client) {
    for (c, other) in [(a, "Bob"), (b, "Ann")] {
        if let Some(p) = c.peer_stats(other).await {
            assert_eq!(p["video_frames"], 0, "{}: {p}", c.name);
            assert_eq!(p["audio_ms"], 0, "{}: {p}", c.name);
        }
        assert!(c.seen("connected").is_empty(), "{} connected", c.name);
    }
}

/// The directory keys the real server publishes (what evidence is checked against).
async fn directory_keys(server: &Server) -> kt::DirectoryKeys {
    reqwest::get(format!("{}/v1/kt/keys", server.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Replace `who`'s identity (and, with `fresh_id`, their user id) in every peer the server
/// describes.
fn substitute(frame: &str, email: &str, fake: &Value, fresh_id: bool) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(frame) else {
        return frame.to_string();
    };
    let mut swap = |p: &mut Value| {
        if p["email"] == email {
            p["identity"] = fake.clone();
            if fresh_id {
                p["user_id"] = json!("00112233445566778899aabbccddeeff");
            }
        }
    };
    if let Some(peers) = v.get_mut("peers").and_then(Value::as_array_mut) {
        peers.iter_mut().for_each(&mut swap);
    }
    if let Some(p) = v.get_mut("peer") {
        swap(p);
    }
    v.to_string()
}

async fn substituted_identity_is_refused(fresh_id: bool) {
    let server = Server::start(ServerOptions::default()).await;
    let hostile = HostileServer::start(server.base()).await;
    let ann = server.user_at("Ann", &hostile.base).await;
    let bob = server.user("Bob", None).await;
    // The server's own key for "Bob": a valid, self-signed bundle it holds the keys of.
    let mallory = SecretIdentity::generate(Timestamp::now());
    let fake = serde_json::to_value(mallory.public()).unwrap();
    hostile.on_frames(move |f| vec![substitute(f, "bob@example.org", &fake, fresh_id)]);
    let code = ann.create_meeting("Substituted");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    let failed = a.event("peer_failed", WAIT).await;
    assert_eq!(
        failed["reason"], "bob@example.org's key is not what the directory has published",
        "{failed}"
    );
    // Refused before anything: Ann never trusted the key nor negotiated with it.
    assert!(a.seen("key_trusted").is_empty());
    no_media(&mut a, &mut b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_identity_is_refused_before_any_media() {
    substituted_identity_is_refused(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_identity_under_a_fresh_user_id_is_refused_too() {
    substituted_identity_is_refused(true).await;
}

/// A rewrite of a lookup answer's body.
type Rewrite = Box<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// The server answers lookups against roots it should not: unsigned, stale (its own key,
/// dated back), or older than a root the client already saw (a replayed proof).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_against_bad_roots_are_refused() {
    let server = Server::start(ServerOptions::default()).await;
    let hostile = HostileServer::start(server.base()).await;
    let ann = server.user_at("Ann", &hostile.base).await;
    let bob = server.user("Bob", None).await;
    let key = server_directory_key(&server.rendezvous.data_dir);

    // Keep an honest lookup of Bob (an old proof, to replay later).
    let code = ann.create_meeting("Recorded lookups");
    let kept = std::sync::Arc::new(std::sync::Mutex::new(None::<Vec<u8>>));
    {
        let kept = kept.clone();
        hostile.on_http(move |path, status, body| {
            if path.starts_with("/v1/kt/lookup") && status == 200 {
                *kept.lock().unwrap() = Some(body.to_vec());
            }
            None
        });
    }
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    a.event("connected", WAIT).await;
    b.leave().await;
    a.leave().await;
    let old = kept.lock().unwrap().clone().expect("a lookup went through");

    // The directory moves on (new accounts), and Ann sees its newer root.
    let _cat = server.user("Cat", None).await;
    let _dan = server.user("Dan", None).await;
    ann.cli(&["account", "check-keys"]);

    let cases: Vec<(&str, Rewrite)> = vec![
        (
            "the directory root is not signed by this server's directory key",
            Box::new(|body: &[u8]| {
                let mut v: Value = serde_json::from_slice(body).unwrap();
                v["root"]["signature"] = json!(data_encoding::BASE64URL_NOPAD.encode(&[0u8; 64]));
                v.to_string().into_bytes()
            }),
        ),
        ("minutes old", {
            let key = key.clone();
            Box::new(move |body: &[u8]| {
                let mut v: Value = serde_json::from_slice(body).unwrap();
                let root: SignedRoot = serde_json::from_value(v["root"].clone()).unwrap();
                let stale = SignedRoot::sign(
                    &key,
                    RootBody {
                        time: Timestamp(Timestamp::now().0 - 10 * 60_000),
                        ..root.body
                    },
                );
                v["root"] = serde_json::to_value(stale).unwrap();
                v.to_string().into_bytes()
            })
        }),
        ("rolling the directory back", {
            let old = old.clone();
            Box::new(move |_: &[u8]| old.clone())
        }),
    ];
    for (expected, rewrite) in cases {
        hostile.on_http(move |path, status, body| {
            (path.starts_with("/v1/kt/lookup") && status == 200).then(|| (200, rewrite(body)))
        });
        let code = ann.create_meeting("Bad roots");
        let mut a = ann.join(&code, LOOPBACK_ICE);
        a.event("joined", WAIT).await;
        let mut b = bob.join(&code, LOOPBACK_ICE);
        let failed = a.event("peer_failed", WAIT).await;
        let reason = failed["reason"].as_str().unwrap();
        assert!(reason.contains(expected), "{reason} (expected: {expected})");
        no_media(&mut a, &mut b).await;
        drop((a, b));
    }
}

/// Two clients shown different directories for one epoch: their next call proves it (the two
/// signed roots are the evidence), and a recording in progress stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_roots_for_one_epoch_are_caught_in_the_next_call() {
    let server = Server::start(ServerOptions::default()).await;
    let hostile = HostileServer::start(server.base()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user_at("Cat", &hostile.base).await;
    let key = server_directory_key(&server.rendezvous.data_dir);
    // A newer epoch than any Cat has seen: Dan's key, published once his check says so.
    let dan = server.user("Dan", None).await;
    loop {
        let (_, out) = dan.run_cli(&["account", "check-keys", "--json"]);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}"));
        if v["published"] == true {
            break;
        }
    }
    // Cat checks her keys and is shown a forked directory: the newest epoch with another root,
    // validly signed by the server's directory key (and her key history withheld, so that
    // nothing shows the fork to her yet).
    hostile.on_http(move |path, status, body| {
        if path.starts_with("/v1/kt/history") {
            let missing = json!({"error": {"code": "not_in_directory", "message": "not yet"}});
            return Some((404, missing.to_string().into_bytes()));
        }
        (path.starts_with("/v1/kt/head") && status == 200).then(|| {
            let root: SignedRoot = serde_json::from_slice(body).unwrap();
            let mut fork = root.body;
            fork.root_hash.0[0] ^= 0xff;
            (
                200,
                serde_json::to_vec(&SignedRoot::sign(&key, fork)).unwrap(),
            )
        })
    });
    cat.cli(&["account", "check-keys"]);
    hostile.honest();

    // Ann and Bob record; Cat joins.
    let code = ann.create_meeting("Forked");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    a.event("connected", WAIT).await;
    a.command("record --local Forked");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    a.event("recording_started", WAIT).await;
    let mut c = cat.join(&code, LOOPBACK_ICE);
    for x in [&mut a, &mut b, &mut c] {
        let e = x.event("equivocation", WAIT).await;
        let evidence: kt::Equivocation = serde_json::from_value(e["evidence"].clone()).unwrap();
        let keys = directory_keys(&server).await;
        assert_eq!(evidence.check(&keys.signing), Ok(()), "{}", x.name);
    }
    // The recording stops (a withdrawal on the server's lie), for everyone.
    a.event("recording_finished", WAIT).await;
    for x in [&mut b, &mut c] {
        let ended = x.event("recording_ended", WAIT).await;
        assert!(
            ended["reason"].as_str().unwrap().contains("withdrew"),
            "{ended}"
        );
    }
    // Each kept the evidence as an alarm: their next check fails with it.
    drop((a, b, c));
    for u in [&ann, &bob, &cat] {
        let (ok, out) = u.run_cli(&["account", "check-keys", "--json"]);
        assert!(!ok, "{}: {out}", u.name);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert!(
            v["alarms"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["kind"] == "equivocation"),
            "{}: {v}",
            u.name
        );
    }
}

/// The server publishes a key of its own for Alice's email (straight into its database, as an
/// operator could): Alice's next check raises the alarm, and Bob refuses the old key she
/// still presents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_published_in_the_victims_name_raises_her_alarm() {
    let server = Server::start(ServerOptions::default()).await;
    let alice = server.user("Alice", None).await;
    let bob = server.user("Bob", None).await;
    let clean = alice.cli(&["account", "check-keys", "--json"]);
    let v: Value = serde_json::from_str(clean.trim()).unwrap();
    assert_eq!(v["alarms"], json!([]), "{v}");

    let mallory = SecretIdentity::generate(Timestamp::now());
    let db = rusqlite::Connection::open(server.rendezvous.data_dir.join("assent.sqlite3")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute(
        "INSERT INTO kt_pending (label, value, queued_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (label) DO UPDATE SET value = ?2",
        rusqlite::params![
            kt::label("alice@example.org").0,
            &kt::value(mallory.public()).0[..],
            Timestamp::now().0 as i64
        ],
    )
    .unwrap();
    // The publisher takes it in its next epoch (it looks at its queue at least every two
    // seconds here); Alice's checks pass until then, and fail with the alarm from then on.
    let deadline = tokio::time::Instant::now() + WAIT;
    let v = loop {
        let (ok, out) = alice.run_cli(&["account", "check-keys", "--json"]);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}"));
        if !ok {
            break v;
        }
        assert!(tokio::time::Instant::now() < deadline, "no alarm: {v}");
        assert_eq!(v["unknown_versions"], json!([]), "{v}");
        // Poll the directory again (each check is a real request; nothing here waits for
        // the publisher but the check itself).
    };
    assert_eq!(v["unknown_versions"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "unknown_key"
                && a["detail"].as_str().unwrap().contains("alice@example.org")),
        "{v}"
    );
    // Her window says so on its home screen (and in its title, for the task bar).
    let display = Display::start(1280, 720);
    let window = alice.open_window(&display.name);
    display.wait_for_window("Assent — key alarm", WAIT);
    let tmp = tempfile::tempdir().unwrap();
    let shots = std::env::var_os("ASSENT_SCREENSHOT_DIR")
        .map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    assert!(display.screenshot(&shots.join("key-alarm.png")) > 16);
    drop(window);
    // Bob meets Alice: the directory no longer proves the key she presents.
    let code = alice.create_meeting("After the swap");
    let mut a = alice.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    let failed = b.event("peer_failed", WAIT).await;
    assert_eq!(
        failed["reason"], "alice@example.org's key is not what the directory has published",
        "{failed}"
    );
    assert!(b.seen("connected").is_empty() && a.seen("connected").is_empty());
}

/// The server seats someone during a recording (here a real account it controls): the
/// recording pauses, and their own "yes" does not resume it; everyone present must agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ghost_seated_during_a_recording_needs_everyones_consent() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let ghost = server.user("Ghost", None).await;
    let code = ann.create_meeting("Private");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    a.event("connected", WAIT).await;
    a.command("record --local Private");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    a.event("recording_started", WAIT).await;
    a.wait("a segment", WAIT, |v| v["event"] == "segment_written")
        .await;

    let mut g = ghost.join(&code, LOOPBACK_ICE);
    // Everyone present is asked (the recorder too), naming who joined; the recording pauses.
    for x in [&mut a, &mut b] {
        let asked = x.event("consent_asked", WAIT).await;
        assert_eq!(asked["joined"], json!(["Ghost"]), "{asked}");
    }
    a.event("recording_paused", WAIT).await;
    let segments_before = a.seen("segment_written").len();
    g.event("consent_asked", WAIT).await;
    g.command("agree");
    // The recorder took the ghost's token and decided: still paused, waiting for Ann and Bob.
    let status = a
        .wait("the ghost's yes", WAIT, |v| {
            v["event"] == "recording" && v["agreed"].as_array().is_some_and(|x| x.len() == 1)
        })
        .await;
    assert_eq!(status["state"], "paused", "{status}");
    assert_eq!(
        status["waiting_for"].as_array().unwrap().len(),
        2,
        "{status}"
    );
    assert!(a.seen("recording_resumed").is_empty());
    // Bob says no: it ends for everyone, with nothing recorded while the ghost was there.
    b.command("decline");
    let finished = a.event("recording_finished", WAIT).await;
    assert_eq!(
        finished["segments"].as_u64().unwrap() as usize,
        segments_before,
        "{finished}"
    );
    g.event("recording_ended", WAIT).await;
}

/// Run `assent audit` through `base` with its state in `state`: (succeeded, its JSON).
fn audit(user: &assent_e2e::call::User, base: &str, state: &std::path::Path) -> (bool, Value) {
    let (ok, out) = user.run_cli(&[
        "audit",
        "--server",
        base,
        "--state",
        state.to_str().unwrap(),
        "--json",
    ]);
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}"));
    (ok, v)
}

/// Audit (honestly) until the directory has grown past epoch `past`: the epoch reached.
fn audit_past(
    user: &assent_e2e::call::User,
    base: &str,
    state: &std::path::Path,
    past: u64,
) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (ok, v) = audit(user, base, state);
        assert!(ok, "{v}");
        let reached = v["report"]["to_epoch"].as_u64().unwrap();
        if reached > past {
            return reached;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the directory stayed at epoch {reached}"
        );
    }
}

/// The roots the server lists, rewritten by `f`.
fn rewrite_roots(body: &[u8], f: impl Fn(Vec<SignedRoot>) -> Vec<SignedRoot>) -> Vec<u8> {
    let v: Value = serde_json::from_slice(body).unwrap();
    let roots: Vec<SignedRoot> = serde_json::from_value(v["roots"].clone()).unwrap();
    json!({ "roots": f(roots) }).to_string().into_bytes()
}

/// An auditor keeps the newest root it verified: the server can show it neither another past
/// (a different root for an epoch already audited, validly signed with its own key) nor a
/// history with an epoch left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_refuses_a_rewritten_past_or_a_gap() {
    let server = Server::start(ServerOptions::default()).await;
    let hostile = HostileServer::start(server.base()).await;
    let key = server_directory_key(&server.rendezvous.data_dir);
    let ann = server.user("Ann", None).await;
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("audit.json");

    // Honest: the first run verifies from epoch 0, the next one only what was added since.
    let first = audit_past(&ann, &hostile.base, &state, 0);
    let _bob = server.user("Bob", None).await;
    let second = audit_past(&ann, &hostile.base, &state, first);
    let (ok, v) = audit(&ann, &hostile.base, &state);
    assert!(ok, "{v}");
    assert_eq!(v["report"]["from_epoch"], second, "{v}");

    // The server rewrites the epoch the auditor holds (a root it signs with its real key).
    {
        let key = key.clone();
        hostile.on_http(move |path, status, body| {
            (path.starts_with("/v1/kt/roots") && status == 200).then(|| {
                let out = rewrite_roots(body, |roots| {
                    roots
                        .into_iter()
                        .map(|r| {
                            let mut fork = r.body;
                            fork.root_hash.0[0] ^= 0xff;
                            SignedRoot::sign(&key, fork)
                        })
                        .collect()
                });
                (200, out)
            })
        });
    }
    let (ok, v) = audit(&ann, &hostile.base, &state);
    assert!(!ok);
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("rewrote its past"), "{v}");
    // The two roots it printed are evidence anyone can check against the server's key.
    let evidence: kt::Equivocation = serde_json::from_value(v["evidence"].clone()).unwrap();
    let keys = directory_keys(&server).await;
    assert_eq!(evidence.check(&keys.signing), Ok(()));
    // The state it kept is still the audited one: honest again, it goes on from there.
    hostile.honest();
    let (ok, v) = audit(&ann, &hostile.base, &state);
    assert!(ok, "{v}");
    assert_eq!(v["report"]["from_epoch"], second, "{v}");

    // A new auditor is shown a history without epoch 1.
    hostile.on_http(move |path, status, body| {
        (path.starts_with("/v1/kt/roots") && status == 200).then(|| {
            let out = rewrite_roots(body, |roots| {
                roots.into_iter().filter(|r| r.epoch() != 1).collect()
            });
            (200, out)
        })
    });
    let fresh = work.path().join("fresh.json");
    let (ok, v) = audit(&ann, &hostile.base, &fresh);
    assert!(!ok);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("do not chain at epoch 2"),
        "{v}"
    );
}

/// A server that wants one dictionary for everyone tells a new device a salt of its choosing
/// and the weakest hashing it accepts. The device refuses weaker hashing before it sends any
/// secret, and never derives with the server's salt: its own, from the server's origin and the
/// email, is the only one that signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_chooses_neither_the_salt_nor_weaker_password_hashing() {
    let server = Server::start(ServerOptions::default()).await;
    let proxy = HostileServer::start(server.base()).await;
    let ann = server.user_at("Ann", &proxy.base).await;
    let phone = ann.with_profile_suffix("phone");
    let signin = || {
        phone.try_cli(&[
            "account",
            "signin",
            "--server",
            &proxy.base,
            "--email",
            &ann.email,
            "--password-env",
            "ASSENT_TEST_PASSWORD",
        ])
    };
    let rewrite_prelogin = |field: &'static str, value: Value| {
        move |path: &str, status: u16, body: &[u8]| {
            if !path.starts_with("/v1/prelogin") {
                return None;
            }
            let mut v: Value = serde_json::from_slice(body).ok()?;
            v[field] = value.clone();
            Some((status, serde_json::to_vec(&v).unwrap()))
        }
    };
    let sessions_before = proxy
        .requested()
        .iter()
        .filter(|p| p.starts_with("/v1/sessions"))
        .count();
    proxy.on_http(rewrite_prelogin(
        "kdf",
        json!({"memory_kib": 19 * 1024, "iterations": 2, "lanes": 1}),
    ));
    let err = signin().unwrap_err();
    assert!(err.contains("weaker password hashing"), "{err}");
    let sessions_after = proxy
        .requested()
        .iter()
        .filter(|p| p.starts_with("/v1/sessions"))
        .count();
    assert_eq!(sessions_before, sessions_after, "no secret was sent");

    proxy.on_http(rewrite_prelogin(
        "salt",
        serde_json::to_value(assent_shared::backup::Salt([0; 16])).unwrap(),
    ));
    signin().expect("the device derives its own salt and signs in");
}

/// A server that wants a downloading client to buffer without end, or to fetch from elsewhere
/// on its network in clear: a download reads at most what the signed manifest promises for each
/// segment, only from https:// (or this machine), and only from the server itself or the one
/// storage host pinned the first time the server named one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_takes_no_more_than_the_manifest_promises_nor_from_elsewhere() {
    let server = Server::start(ServerOptions::default()).await;
    let proxy = HostileServer::start(server.base()).await;
    let ann = server.user_at("Ann", &proxy.base).await;
    let bob = server.user_at("Bob", &proxy.base).await;
    let code = ann.create_meeting("Cloud");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    a.event("connected", WAIT).await;
    a.command("record --cloud Cloud");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let id = started["recording"].as_str().unwrap().to_string();
    a.wait("a segment in the cloud", WAIT, |v| {
        v["event"] == "upload_progress" && v["uploaded"].as_u64().unwrap_or(0) > 0
    })
    .await;
    a.leave().await;
    assert_eq!(
        a.seen("upload_complete").len(),
        1,
        "{:?}",
        a.seen("upload_failed")
    );
    b.leave().await;
    let work = tempfile::tempdir().unwrap();
    let download = |to: &str| {
        bob.try_cli(&[
            "recordings",
            "cloud",
            "download",
            &id,
            "--to",
            work.path().join(to).to_str().unwrap(),
        ])
    };
    let point_objects_at = |url: &'static str| {
        move |path: &str, status: u16, body: &[u8]| {
            if path == "/huge" {
                return Some((200, vec![0u8; 8 << 20]));
            }
            if !path.contains("/objects/") {
                return None;
            }
            let mut v: Value = serde_json::from_slice(body).ok()?;
            v["url"] = json!(url);
            Some((status, serde_json::to_vec(&v).unwrap()))
        }
    };
    // Another machine on the server's network, in clear: refused before connecting.
    proxy.on_http(point_objects_at("http://10.9.8.7/segment-000000.age"));
    let err = download("lan").unwrap_err();
    assert!(err.contains("refusing to fetch from 10.9.8.7"), "{err}");
    // 8 MiB where the manifest promises a segment's size: cut off.
    proxy.on_http(point_objects_at("/huge"));
    let err = download("huge").unwrap_err();
    assert!(
        err.contains("more than the") && err.contains("bytes the signed manifest promises"),
        "{err}"
    );
    // Honest again: the copy comes down.
    proxy.honest();
    let out = download("honest").unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("\"downloaded\""), "{out}");

    // The first storage host the server names (here the real server behind the proxy: another
    // origin) is pinned for it on this device...
    let storage = server.base().to_string();
    proxy.on_http(move |path: &str, status: u16, body: &[u8]| {
        if !path.contains("/objects/") {
            return None;
        }
        let mut v: Value = serde_json::from_slice(body).ok()?;
        let relative = v["url"].as_str()?.to_string();
        v["url"] = json!(format!("{storage}{relative}"));
        Some((status, serde_json::to_vec(&v).unwrap()))
    });
    let out = download("pinned").unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("\"downloaded\""), "{out}");
    // ...and a server that later names another host (on this machine, so only the pin stands in
    // its way) is refused before anything is fetched.
    proxy.on_http(point_objects_at("http://127.0.0.2:9/segment-000000.age"));
    let err = download("moved").unwrap_err();
    assert!(
        err.contains("refusing http://127.0.0.2:9")
            && err.contains("always been stored at")
            && err.contains(server.base()),
        "{err}"
    );
    assert!(
        !work
            .path()
            .join("moved")
            .join("segment-000000.age")
            .exists()
    );
}

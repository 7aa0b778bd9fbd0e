//! The recordings registry over the embedded storage: a recorder registers a signed manifest,
//! uploads ciphertext in resumable parts through presigned URLs and completes the cloud copy;
//! participants (and only they) download it; administrators see metadata only; retention
//! deletes it. Every refusal is checked for its status and code.

mod support;

use std::sync::Arc;

use assent_shared::Timestamp;
use assent_shared::consent::{ConsentToken, Proposal, Scope, Terms};
use assent_shared::container::{MANIFEST_NAME, MemStore, RecordingWriter, Store, Track};
use assent_shared::identity::SecretIdentity;
use assent_shared::ids::{CallId, DeviceId, RecordingId};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::{Client, T0, TestServer, code};
use tower::ServiceExt;

/// A recording made by `people[0]` with everyone's consent: its files (ciphertext segments and
/// the signed manifest, as the recorder's disk holds them).
struct Made {
    id: RecordingId,
    store: MemStore,
}

impl Made {
    fn manifest(&self) -> Vec<u8> {
        self.store.get(MANIFEST_NAME, 1 << 24).unwrap()
    }

    fn segment(&self, name: &str) -> Vec<u8> {
        self.store.get(name, 1 << 24).unwrap()
    }
}

fn copy(id: &SecretIdentity) -> Arc<SecretIdentity> {
    Arc::new(SecretIdentity::from_bytes(&id.to_bytes()).unwrap())
}

/// Record `segments` segments; `finish` closes the recording.
fn make(people: &[&Client], scope: Scope, segments: u32, finish: bool) -> Made {
    make_as(
        people,
        scope,
        segments,
        finish,
        RecordingId::random(),
        70_000,
    )
}

fn make_as(
    people: &[&Client],
    scope: Scope,
    segments: u32,
    finish: bool,
    id: RecordingId,
    plain_len: u32,
) -> Made {
    let recorder = copy(&people[0].identity);
    let terms = Terms {
        recording_id: id,
        call_id: CallId([0x22; 16]),
        proposer: recorder.key(),
        recorder_device: DeviceId([0x33; 16]),
        scope,
        retention_days: 30,
        title: "Quarterly review".into(),
        not_before: T0,
        not_after: T0.plus_millis(3_600_000),
    };
    let p = Proposal::new(
        terms,
        people.iter().map(|c| c.identity.public().clone()).collect(),
    )
    .unwrap();
    let tokens: Vec<ConsentToken> = people
        .iter()
        .map(|c| ConsentToken::sign(&c.identity, &p, T0.plus_millis(100)))
        .collect();
    let store = MemStore::new();
    let present: Vec<_> = people.iter().map(|c| c.identity.key()).collect();
    let mut w = RecordingWriter::create(
        &store,
        recorder,
        std::slice::from_ref(&p),
        &tokens,
        T0.plus_millis(200),
    )
    .unwrap();
    for i in 0..segments {
        // Large enough to need two parts of the smallest size the uploader uses in tests.
        let plain: Vec<u8> = (0..plain_len).map(|k| (k * 7 + i) as u8).collect();
        w.write_segment(Track::Media, &plain, &present, u64::from(i) * 2000, 2000)
            .unwrap();
    }
    if finish {
        w.finish(T0.plus_millis(10_000), None).unwrap();
    }
    Made {
        id: p.terms.recording_id,
        store,
    }
}

/// Send raw bytes to a server-relative URL (a presigned storage URL); the response's status,
/// body and ETag.
async fn fetch(
    s: &TestServer,
    method: Method,
    url: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>, Option<String>) {
    if url.starts_with("http://") {
        // A presigned URL of the S3 server.
        let r = reqwest::Client::new()
            .request(method, url)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        let etag = r
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string());
        return (status, r.bytes().await.unwrap().to_vec(), etag);
    }
    assert!(url.starts_with("/v1/storage/"), "a server-relative URL");
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 1))));
    let resp = s.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes, etag)
}

async fn register(s: &TestServer, who: &Client, manifest: Vec<u8>) -> (StatusCode, Value) {
    s.raw(
        Method::POST,
        "/v1/recordings",
        who.token(),
        Some("application/octet-stream"),
        manifest,
        [127, 0, 0, 1],
    )
    .await
}

async fn put_manifest(
    s: &TestServer,
    who: &Client,
    id: RecordingId,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    s.raw(
        Method::PUT,
        &format!("/v1/recordings/{id}/manifest"),
        who.token(),
        Some("application/octet-stream"),
        bytes,
        [127, 0, 0, 1],
    )
    .await
}

/// Upload one object in parts of 40,000 bytes (the embedded storage has no minimum part size).
async fn upload(s: &TestServer, who: &Client, id: RecordingId, name: &str, bytes: &[u8]) -> Value {
    upload_in(s, who, id, name, bytes, 40_000).await
}

/// Upload one object in parts of `part_size` bytes; the listed object.
async fn upload_in(
    s: &TestServer,
    who: &Client,
    id: RecordingId,
    name: &str,
    bytes: &[u8],
    part_size: usize,
) -> Value {
    let base = format!("/v1/recordings/{id}/objects/{name}/uploads");
    let (st, v) = s.call(Method::POST, &base, who.token(), None).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let upload = v["upload_id"].as_str().unwrap().to_string();
    let chunks: Vec<&[u8]> = bytes.chunks(part_size).collect();
    let numbers: Vec<u16> = (1..=chunks.len() as u16).collect();
    let (st, v) = s
        .call(
            Method::POST,
            &format!("{base}/{upload}/parts"),
            who.token(),
            Some(json!({"parts": numbers})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for (u, chunk) in v["urls"].as_array().unwrap().iter().zip(&chunks) {
        let (st, body, etag) =
            fetch(s, Method::PUT, u["url"].as_str().unwrap(), chunk.to_vec()).await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert!(etag.is_some());
    }
    // The ETags come from the listing, as when resuming after a crash.
    let parts = listed_tags(s, who, &format!("{base}/{upload}/parts")).await;
    assert_eq!(parts.len(), chunks.len());
    let (st, v) = s
        .call(
            Method::POST,
            &format!("{base}/{upload}/complete"),
            who.token(),
            Some(json!({ "parts": parts })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

async fn put_tags(s: &TestServer, who: &Client, id: RecordingId, tags: Value) -> StatusCode {
    let path = format!("/v1/recordings/{id}/tags");
    s.call(
        Method::PUT,
        &path,
        who.token(),
        Some(json!({ "tags": tags })),
    )
    .await
    .0
}

/// The stored parts of an upload as `{part, etag}` for completing it.
async fn listed_tags(s: &TestServer, who: &Client, parts: &str) -> Vec<Value> {
    let (st, v) = s.call(Method::GET, parts, who.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"part": p["part"], "etag": p["etag"]}))
        .collect()
}

/// Start an upload under `base` and get URLs for parts 1 and 2: the upload id, its parts path
/// and the two URLs.
async fn two_part_urls(
    s: &TestServer,
    who: &Client,
    base: &str,
) -> (String, String, String, String) {
    let (st, v) = s.call(Method::POST, base, who.token(), None).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let upload = v["upload_id"].as_str().unwrap().to_string();
    let parts = format!("{base}/{upload}/parts");
    let (st, v) = s
        .call(
            Method::POST,
            &parts,
            who.token(),
            Some(json!({"parts": [1, 2]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let url = |i: usize| v["urls"][i]["url"].as_str().unwrap().to_string();
    (upload, parts.clone(), url(0), url(1))
}

/// Download an object as `who`: the bytes, or the refusal.
async fn download(
    s: &TestServer,
    who: &Client,
    id: RecordingId,
    name: &str,
) -> Result<Vec<u8>, (StatusCode, Value)> {
    let (st, v) = s
        .call(
            Method::GET,
            &format!("/v1/recordings/{id}/objects/{name}"),
            who.token(),
            None,
        )
        .await;
    if st != StatusCode::OK {
        return Err((st, v));
    }
    let (st, body, _) = fetch(s, Method::GET, v["url"].as_str().unwrap(), vec![]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.len() as u64, v["size"].as_u64().unwrap());
    Ok(body)
}

async fn upload_all(s: &TestServer, who: &Client, made: &Made) {
    for name in made.store.list().unwrap() {
        if name != MANIFEST_NAME {
            upload(s, who, made.id, &name, &made.segment(&name)).await;
        }
    }
}

#[tokio::test]
async fn participants_download_the_ciphertext_and_outsiders_cannot() {
    let s = TestServer::start().await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let eve = Client::register("eve@example.org", &s).await;
    let made = make(&[&ann, &bob], Scope::LocalAndCloud, 3, true);

    let (st, v) = register(&s, &ann, made.manifest()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "uploading");
    assert_eq!(v["title"], "Quarterly review");
    // Registering again (a retry) is harmless.
    let (st, _) = register(&s, &ann, made.manifest()).await;
    assert_eq!(st, StatusCode::CREATED);

    // Completing before the segments are stored is refused, naming what is missing.
    let done = format!("/v1/recordings/{}/complete", made.id);
    let (st, v) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "objects_missing"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("segment-000000.age")
    );

    upload_all(&s, &ann, &made).await;
    let (st, v) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "complete");
    let until = v["retention_until"].as_u64().unwrap();
    assert_eq!(until, T0.0 + 30 * 86_400_000);
    // Bob is told by mail that it is there.
    let mail = s
        .smtp
        .wait_for("bob@example.org", 1, std::time::Duration::from_secs(10))
        .await;
    let text = mail.data.replace("=\r\n", "");
    assert!(text.contains("Quarterly review"), "{text}");

    // Bob lists it and downloads exactly the recorder's ciphertext and manifest.
    let (st, v) = s
        .call(Method::GET, "/v1/recordings", bob.token(), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let list = v["recordings"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], made.id.to_string());
    let names: Vec<&str> = list[0]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    for name in made.store.list().unwrap() {
        let got = download(&s, &bob, made.id, &name).await.unwrap();
        assert_eq!(got, made.store.get(&name, 1 << 24).unwrap(), "{name}");
    }

    // Eve, who was not in the call, does not see it listed and is refused everything.
    let (st, v) = s
        .call(Method::GET, "/v1/recordings", eve.token(), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["recordings"].as_array().unwrap().len(), 0);
    let (st, v) = download(&s, &eve, made.id, "segment-000000.age")
        .await
        .unwrap_err();
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let one = format!("/v1/recordings/{}", made.id);
    let (st, _) = s.call(Method::GET, &one, eve.token(), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s.call(Method::DELETE, &one, eve.token(), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        put_tags(&s, &eve, made.id, json!(["x"])).await,
        StatusCode::FORBIDDEN
    );
    // An unknown recording is simply not found.
    let unknown = format!("/v1/recordings/{}", RecordingId::random());
    let (st, _) = s.call(Method::GET, &unknown, bob.token(), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A participant may tag it but not delete it for everyone.
    let st = put_tags(&s, &bob, made.id, json!(["q3", " board ", "#Q3", ""])).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, v) = s.call(Method::GET, &one, bob.token(), None).await;
    assert_eq!(v["tags"], json!(["q3", "board"]), "trimmed, once each");
    // Too many or too long: refused, and the tags stay as they were.
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    for bad in [json!(many), json!(["x".repeat(41)]), json!(["a\u{7}b"])] {
        assert_eq!(
            put_tags(&s, &bob, made.id, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let (_, v) = s.call(Method::GET, &one, bob.token(), None).await;
    assert_eq!(v["tags"], json!(["q3", "board"]));
    assert!(v["manifest"].is_string(), "participants read the manifest");
    let (st, _) = s.call(Method::DELETE, &one, bob.token(), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Without a session: 401.
    let (st, _) = s.call(Method::GET, "/v1/recordings", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // The recorder deletes it: rows and objects go.
    let (st, _) = s.call(Method::DELETE, &one, ann.token(), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = download(&s, &bob, made.id, "segment-000000.age")
        .await
        .unwrap_err();
    assert_eq!(st, StatusCode::NOT_FOUND);
    let objects = s.dir.path().join("objects");
    assert_eq!(files_under(&objects), Vec::<String>::new());
}

/// Every file below `dir` except in-progress uploads.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name() == ".uploads" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn administrators_see_metadata_but_never_the_recording() {
    let s = TestServer::start().await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let admin = Client::register("admin@example.org", &s).await;
    s.state
        .db
        .run(|c| -> Result<usize, assent_rendezvous::db::DbError> {
            Ok(assent_rendezvous::admin::promote(c, "admin@example.org")?)
        })
        .await
        .unwrap();
    let made = make(&[&ann, &bob], Scope::LocalAndCloud, 1, true);
    register(&s, &ann, made.manifest()).await;
    upload_all(&s, &ann, &made).await;
    let done = format!("/v1/recordings/{}/complete", made.id);
    let (st, _) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!(st, StatusCode::OK);

    // A user may not ask for everything; the admin may, and sees titles, sizes and people.
    let (st, _) = s
        .call(Method::GET, "/v1/recordings?all=true", bob.token(), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = s
        .call(Method::GET, "/v1/recordings?all=true", admin.token(), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r = &v["recordings"][0];
    assert_eq!(r["title"], "Quarterly review");
    assert!(r["size"].as_u64().unwrap() > 0);
    // Not the manifest, not a download link, not tags.
    let one = format!("/v1/recordings/{}", made.id);
    let (st, v) = s.call(Method::GET, &one, admin.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v.get("manifest").is_none(), "{v}");
    let (st, _) = download(&s, &admin, made.id, "segment-000000.age")
        .await
        .unwrap_err();
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = download(&s, &admin, made.id, MANIFEST_NAME)
        .await
        .unwrap_err();
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        put_tags(&s, &admin, made.id, json!(["x"])).await,
        StatusCode::FORBIDDEN
    );
    // The admin may delete it (an organisation's data policy).
    let (st, _) = s.call(Method::DELETE, &one, admin.token(), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = s.call(Method::GET, &one, ann.token(), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manifests_are_checked_before_anything_is_stored() {
    let s = TestServer::start().await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;

    // Agreed to a local recording only: the server will not take it.
    let local = make(&[&ann, &bob], Scope::Local, 1, true);
    let (st, v) = register(&s, &ann, local.manifest()).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "scope_local"), "{v}");

    // Tampered bytes, garbage, and the wrong content type.
    let made = make(&[&ann, &bob], Scope::LocalAndCloud, 2, false);
    let mut bad = made.manifest();
    let n = bad.len();
    bad[n / 2] ^= 1;
    let (st, v) = register(&s, &ann, bad).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_manifest"),
        "{v}"
    );
    let (st, v) = register(&s, &ann, b"hello".to_vec()).await;
    assert_eq!(code(&v), "invalid_manifest", "{st} {v}");
    let (st, v) = s
        .call(Method::POST, "/v1/recordings", ann.token(), Some(json!({})))
        .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");

    // Only the recorder may register it, even though Bob is a participant.
    let (st, _) = register(&s, &bob, made.manifest()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let (st, v) = register(&s, &ann, made.manifest()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = made.id;

    // Not ended yet: it cannot be completed.
    upload_all(&s, &ann, &made).await;
    let done = format!("/v1/recordings/{id}/complete");
    let (st, v) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "recording_not_ended")
    );
    // Unless the recorder crashed: then it is completed as it is, as interrupted.
    let crashed = make(&[&ann, &bob], Scope::LocalAndCloud, 1, false);
    register(&s, &ann, crashed.manifest()).await;
    upload_all(&s, &ann, &crashed).await;
    let (st, v) = s
        .call(
            Method::POST,
            &format!("/v1/recordings/{}/complete?interrupted=true", crashed.id),
            ann.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "complete");
    assert_eq!(
        download(&s, &bob, crashed.id, MANIFEST_NAME).await.unwrap(),
        crashed.manifest()
    );

    // A manifest of another recording, or one that drops a segment, is refused.
    let other = make(&[&ann, &bob], Scope::LocalAndCloud, 2, true);
    let (st, v) = put_manifest(&s, &ann, id, other.manifest()).await;
    assert_eq!(code(&v), "invalid_manifest", "{st} {v}");
    let shorter = {
        // Re-sign the recording with one segment fewer: same consent, a rewritten history.
        let (mut m, _) = assent_shared::container::read_manifest(&made.store).unwrap();
        m.segments.pop();
        m.ended = Some(assent_shared::container::Ending {
            at: T0.plus_millis(5000),
            reason: None,
        });
        m.sign(&ann.identity)
    };
    let (st, v) = put_manifest(&s, &ann, id, shorter).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "manifest_rewritten"),
        "{v}"
    );

    // The recorder finishes: the final manifest extends the first and completes.
    let finished = {
        let (mut m, _) = assent_shared::container::read_manifest(&made.store).unwrap();
        m.ended = Some(assent_shared::container::Ending {
            at: T0.plus_millis(9000),
            reason: None,
        });
        m.sign(&ann.identity)
    };
    let (st, v) = put_manifest(&s, &ann, id, finished.clone()).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Complete means settled: no more manifests or uploads.
    let (st, v) = put_manifest(&s, &ann, id, finished).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "recording_complete"));
    let (st, v) = s
        .call(
            Method::POST,
            &format!("/v1/recordings/{id}/objects/segment-000009.age/uploads"),
            ann.token(),
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "recording_complete"));
    // A recording id taken by one recorder cannot be claimed by another.
    let squat = make_as(&[&bob, &ann], Scope::LocalAndCloud, 1, true, id, 70_000);
    let (st, v) = register(&s, &bob, squat.manifest()).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "recording_exists"),
        "{v}"
    );
}

#[tokio::test]
async fn uploads_resume_and_presigned_links_are_bound_and_expire() {
    let s = TestServer::start().await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let made = make(&[&ann, &bob], Scope::LocalAndCloud, 1, true);
    register(&s, &ann, made.manifest()).await;
    let seg = made.segment("segment-000000.age");
    let base = format!(
        "/v1/recordings/{}/objects/segment-000000.age/uploads",
        made.id
    );

    // Only the recorder uploads.
    let (st, _) = s.call(Method::POST, &base, bob.token(), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = s
        .call(
            Method::POST,
            &format!("/v1/recordings/{}/objects/..%2Fescape/uploads", made.id),
            ann.token(),
            None,
        )
        .await;
    assert_eq!(code(&v), "invalid_object", "{st} {v}");

    let (upload, parts, url1, url2) = two_part_urls(&s, &ann, &base).await;
    let (a, b) = seg.split_at(40_000);

    // Part 1 arrives; then "the app crashes". A fresh start lists what is stored.
    let (st, _, _) = fetch(&s, Method::PUT, &url1, a.to_vec()).await;
    assert_eq!(st, StatusCode::OK);
    let (_, v) = s.call(Method::GET, &parts, ann.token(), None).await;
    let stored = v["parts"].as_array().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["part"], 1);
    assert_eq!(stored[0]["size"], 40_000);

    // A link is bound to its object, part and method; a forged signature is refused.
    let tampered = url2.replace("part=2", "part=3");
    let (st, body, _) = fetch(&s, Method::PUT, &tampered, b.to_vec()).await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (st, _, _) = fetch(&s, Method::GET, &url2, vec![]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let forged = format!("{}AAAA", &url2[..url2.len() - 4]);
    let (st, _, _) = fetch(&s, Method::PUT, &forged, b.to_vec()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // After its lifetime it is refused too; asking again gives a fresh one.
    s.clock.advance_ms(16 * 60 * 1000);
    let (st, _, _) = fetch(&s, Method::PUT, &url2, b.to_vec()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, v) = s
        .call(
            Method::POST,
            &parts,
            ann.token(),
            Some(json!({"parts": [2]})),
        )
        .await;
    let fresh = v["urls"][0]["url"].as_str().unwrap().to_string();
    let (st, _, _) = fetch(&s, Method::PUT, &fresh, b.to_vec()).await;
    assert_eq!(st, StatusCode::OK);

    // Bad part lists are refused before storage is asked.
    for bad in [
        json!({"parts": []}),
        json!({"parts": [0]}),
        json!({"parts": [10001]}),
    ] {
        let (st, v) = s.call(Method::POST, &parts, ann.token(), Some(bad)).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_parts"),
            "{v}"
        );
    }
    let tags = listed_tags(&s, &ann, &parts).await;
    assert_eq!(tags.len(), 2);
    // A wrong ETag does not assemble a corrupt object.
    let (st, v) = s
        .call(
            Method::POST,
            &format!("{base}/{upload}/complete"),
            ann.token(),
            Some(json!({"parts": [{"part": 1, "etag": "\"nope\""}, tags[1]]})),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "invalid_parts"),
        "{v}"
    );
    let (st, v) = s
        .call(
            Method::POST,
            &format!("{base}/{upload}/complete"),
            ann.token(),
            Some(json!({"parts": [tags[1], tags[0]]})),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_parts"),
        "{v}"
    );
    let (st, v) = s
        .call(
            Method::POST,
            &format!("{base}/{upload}/complete"),
            ann.token(),
            Some(json!({ "parts": tags })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["size"], seg.len());
    // The upload is gone once complete.
    let (st, v) = s.call(Method::GET, &parts, ann.token(), None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "no_such_upload"));

    let done = format!("/v1/recordings/{}/complete", made.id);
    let (st, v) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        download(&s, &bob, made.id, "segment-000000.age")
            .await
            .unwrap(),
        seg
    );
}

#[tokio::test]
async fn retention_deletes_the_cloud_copy_when_it_is_due() {
    let s = TestServer::start().await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let made = make(&[&ann, &bob], Scope::LocalAndCloud, 2, true);
    register(&s, &ann, made.manifest()).await;
    upload_all(&s, &ann, &made).await;
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/v1/recordings/{}/complete", made.id),
            ann.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // An upload never completed is kept while its retention runs, then goes too.
    let open = make(&[&ann, &bob], Scope::LocalAndCloud, 1, false);
    register(&s, &ann, open.manifest()).await;

    let objects = s.dir.path().join("objects");
    assert_eq!(
        files_under(&objects).len(),
        3,
        "two segments and the manifest"
    );
    let expire = |at: Timestamp| assent_rendezvous::recordings::expire(&s.state, at);
    // A day early: kept.
    assert_eq!(expire(T0.plus_millis(29 * 86_400_000)).await.unwrap(), 0);
    assert!(
        download(&s, &bob, made.id, "segment-000001.age")
            .await
            .is_ok()
    );
    // Due: the objects and the registry entries go (the complete one and the abandoned upload).
    assert_eq!(expire(T0.plus_millis(30 * 86_400_000)).await.unwrap(), 2);
    assert_eq!(files_under(&objects), Vec::<String>::new());
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/v1/recordings/{}", made.id),
            bob.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, v) = s
        .call(Method::GET, "/v1/recordings", ann.token(), None)
        .await;
    let left: Vec<&str> = v["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Each account's recordings may use at most its storage quota in the cloud: a manifest that
/// would go past it is refused with a clear error, and deleting a cloud copy frees the room.
#[tokio::test]
async fn the_storage_quota_is_per_account() {
    let size = |m: &Made| -> u64 {
        let (manifest, _, _) = assent_shared::container::verify_manifest(&m.manifest()).unwrap();
        manifest.segments.iter().map(|s| s.size).sum()
    };
    let s0 = TestServer::start().await;
    let probe = Client::register("probe@example.org", &s0).await;
    let other = Client::register("other@example.org", &s0).await;
    // Room for a two-segment recording and a quarter more (sizes vary a little with names).
    let quota = size(&make(&[&probe, &other], Scope::LocalAndCloud, 2, true)) * 5 / 4;
    let s = TestServer::start_with(|c| c.storage.quota_bytes_per_user = Some(quota)).await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let first = make(&[&ann, &bob], Scope::LocalAndCloud, 2, true);
    let (st, v) = register(&s, &ann, first.manifest()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // A second recording does not fit; Bob's quota is his own.
    let second = make(&[&ann, &bob], Scope::LocalAndCloud, 1, true);
    let (st, v) = register(&s, &ann, second.manifest()).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("your cloud storage is full"),
        "{v}"
    );
    let bobs = make(&[&bob, &ann], Scope::LocalAndCloud, 1, true);
    assert_eq!(
        register(&s, &bob, bobs.manifest()).await.0,
        StatusCode::CREATED
    );
    // Deleting the first cloud copy makes room.
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/recordings/{}", first.id),
            ann.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        register(&s, &ann, second.manifest()).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn deleting_the_recorders_account_deletes_the_cloud_copy() {
    let s = TestServer::start().await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let made = make(&[&ann, &bob], Scope::LocalAndCloud, 2, true);
    register(&s, &ann, made.manifest()).await;
    upload_all(&s, &ann, &made).await;
    // An upload left half way, too.
    let base = format!(
        "/v1/recordings/{}/objects/segment-000007.age/uploads",
        made.id
    );
    let (st, _) = s.call(Method::POST, &base, ann.token(), None).await;
    assert_eq!(st, StatusCode::CREATED);
    let objects = s.dir.path().join("objects");
    assert_eq!(files_under(&objects).len(), 2);

    let (st, v) = s
        .call(
            Method::DELETE,
            "/v1/me",
            ann.token(),
            Some(json!({"auth_secret": support::auth(&ann.keys)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(files_under(&objects), Vec::<String>::new());
    let uploads: Vec<_> = std::fs::read_dir(objects.join(".uploads"))
        .unwrap()
        .collect();
    assert!(uploads.is_empty(), "unfinished uploads are aborted");
    let (_, v) = s
        .call(Method::GET, "/v1/recordings", bob.token(), None)
        .await;
    assert_eq!(v["recordings"].as_array().unwrap().len(), 0);
}

// ---- The same contract against a real S3 server (Garage) ----

#[tokio::test]
async fn against_s3_multipart_uploads_resume_and_retention_deletes_the_objects() {
    let mut garage = assent_e2e::garage::Garage::start();
    let s = TestServer::start_s3(&garage).await;
    let ann = Client::register("ann@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    // One segment large enough for two parts (S3's smallest part but the last is 5 MiB).
    let made = make_as(
        &[&ann, &bob],
        Scope::LocalAndCloud,
        1,
        true,
        RecordingId::random(),
        6 << 20,
    );
    let (st, v) = register(&s, &ann, made.manifest()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let seg = made.segment("segment-000000.age");
    let base = format!(
        "/v1/recordings/{}/objects/segment-000000.age/uploads",
        made.id
    );
    let (upload, parts, url1, url2) = two_part_urls(&s, &ann, &base).await;
    assert!(
        url1.starts_with(&garage.endpoint),
        "presigned for S3 itself"
    );
    let (a, b) = seg.split_at(5 << 20);
    let (st, body, _) = fetch(&s, Method::PUT, &url1, a.to_vec()).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    // The storage goes down: the server says so, and nothing is lost.
    garage.stop();
    let (st, v) = s.call(Method::GET, &parts, ann.token(), None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_GATEWAY, "storage_unavailable"),
        "{v}"
    );
    garage.restart();
    // Resume: S3 lists part 1; part 2 follows; the listing's ETags complete the object.
    let (st, v) = s.call(Method::GET, &parts, ann.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["parts"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["parts"][0]["size"], 5 << 20);
    let (st, body, _) = fetch(&s, Method::PUT, &url2, b.to_vec()).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let tags = listed_tags(&s, &ann, &parts).await;
    let (st, v) = s
        .call(
            Method::POST,
            &format!("{base}/{upload}/complete"),
            ann.token(),
            Some(json!({ "parts": tags })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["size"], seg.len());

    // An abandoned upload can be aborted.
    let other = format!(
        "/v1/recordings/{}/objects/segment-000001.age/uploads",
        made.id
    );
    let (_, v) = s.call(Method::POST, &other, ann.token(), None).await;
    let gone = v["upload_id"].as_str().unwrap().to_string();
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("{other}/{gone}"),
            ann.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    let done = format!("/v1/recordings/{}/complete", made.id);
    let (st, v) = s.call(Method::POST, &done, ann.token(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Bob downloads exactly the ciphertext, straight from S3, and the manifest.
    assert_eq!(
        download(&s, &bob, made.id, "segment-000000.age")
            .await
            .unwrap(),
        seg
    );
    assert_eq!(
        download(&s, &bob, made.id, MANIFEST_NAME).await.unwrap(),
        made.manifest()
    );
    // What S3 keeps on its disk is the age ciphertext: no run of the plaintext appears.
    let plain: Vec<u8> = (0..64u32).map(|k| (k * 7) as u8).collect();
    let blocks = garage.stored_blocks();
    assert!(!blocks.is_empty());
    assert!(
        blocks
            .iter()
            .any(|b| b.starts_with(b"age-encryption.org/v1")),
        "the segment's age header is in storage"
    );
    for b in &blocks {
        assert!(
            !b.windows(plain.len()).any(|w| w == plain),
            "plaintext in S3"
        );
    }

    // Retention: due, the objects leave S3 and the entry leaves the registry.
    let key = format!("recordings/{}/segment-000000.age", made.id);
    assert!(s.state.storage.head(&key).await.unwrap().is_some());
    let due = Timestamp(T0.0 + 30 * 86_400_000);
    assert_eq!(
        assent_rendezvous::recordings::expire(&s.state, due)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.state.storage.head(&key).await.unwrap(), None);
    let manifest_key = format!("recordings/{}/{MANIFEST_NAME}", made.id);
    assert_eq!(s.state.storage.head(&manifest_key).await.unwrap(), None);
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/v1/recordings/{}", made.id),
            bob.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Running it again is harmless.
    assert_eq!(
        assent_rendezvous::recordings::expire(&s.state, due)
            .await
            .unwrap(),
        0
    );
}

/// Another user cannot pass Alice's key off as theirs and then "own" her recording: the
/// directory refuses her bundle on Eve's account (no proof of possession for Eve's account,
/// and the key belongs to Alice), so registering Alice's manifest is refused.
#[tokio::test]
async fn another_user_cannot_publish_alices_key_and_register_her_recording() {
    let s = TestServer::start().await;
    let alice = Client::register("alice@example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    let eve = Client::register("eve@example.org", &s).await;
    let made = make(&[&alice, &bob], Scope::LocalAndCloud, 1, true);

    // Alice's bundle, with the only proof of possession there is (Alice's, for her account).
    let body = json!({
        "identity": alice.identity.public(),
        "possession": alice.possession(&alice.identity, &s),
    });
    let (st, v) = s
        .call(Method::PUT, "/v1/me/identity", eve.token(), Some(body))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "bad_possession"),
        "{v}"
    );
    let (st, v) = register(&s, &eve, made.manifest()).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    // Alice registers her own recording; Eve still may not touch it.
    let (st, v) = register(&s, &alice, made.manifest()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _) = s
        .call(
            Method::GET,
            &format!("/v1/recordings/{}", made.id),
            eve.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// The embedded object store checks a presigned PUT's signature before it reads a byte of the
/// body: a forged upload announcing 60 MB is refused at once, without the server waiting for
/// (or holding) the body.
#[tokio::test]
async fn a_forged_upload_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /v1/storage/recordings/x/segment-000000.age?upload=u&part=1&expires=99999999999&sig=forged HTTP/1.1\r\n\
         Host: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: 60000000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&[0u8; 4096]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("an answer without the rest of the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("invalid_signature"), "{answer}");
}

//! The recordings registry over the embedded storage: a recorder registers a signed manifest,
//! uploads ciphertext in resumable parts through presigned URLs and completes the cloud copy;
//! participants (and only they) download it; administrators see metadata only; retention
//! deletes it. Every refusal is checked for its status and code.

#[path = "../support/mod.rs"]
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

mod access;
mod lifecycle;
mod s3;
mod uploads;

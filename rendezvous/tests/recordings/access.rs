//! Who may fetch what: participants, outsiders, administrators, and forged uploads.

use super::*;

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

//! Against real S3 (Garage): multipart uploads resume and retention deletes the objects.

use super::*;

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
        assent_rendezvous::recordings::expire(&s.state.registry(), due)
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
        assent_rendezvous::recordings::expire(&s.state.registry(), due)
            .await
            .unwrap(),
        0
    );
}

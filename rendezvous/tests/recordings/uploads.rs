//! Registering a recording: the manifest checks, resumable uploads and presigned links.

use super::*;

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

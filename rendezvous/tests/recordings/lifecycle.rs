//! A cloud copy's life: retention, the storage quota, and the recorder's account deleted.

use super::*;

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
    let registry = s.state.registry();
    let expire = |at: Timestamp| assent_rendezvous::recordings::expire(&registry, at);
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

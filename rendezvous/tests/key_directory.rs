//! The key directory as a transparency log, over the real router and a real SQLite file: what
//! a verified account publishes is proven to clients (lookup and history proofs checked by the
//! client's own pure code against the pinned directory keys), epochs chain and only grow (the
//! auditor's check), and nobody publishes a key that is not theirs.

mod support;

use assent_shared::PublicIdentity;
use assent_shared::SecretIdentity;
use assent_shared::api::{KtAudit, KtHistory, KtLookup, KtRoots};
use assent_shared::transparency::{
    self as kt, Config, DirectoryKeys, KtError, MAX_ROOT_AGE_MS, SignedRoot,
};
use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Client, T0, TestServer, code};

async fn keys(s: &TestServer) -> DirectoryKeys {
    let (st, v) = s.call(Method::GET, "/v1/kt/keys", None, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    serde_json::from_value(v).unwrap()
}

async fn lookup(s: &TestServer, who: &Client, email: &str) -> (StatusCode, serde_json::Value) {
    s.call(
        Method::GET,
        &format!("/v1/kt/lookup?email={email}"),
        who.token(),
        None,
    )
    .await
}

/// Look `email` up and check the proof as a client does; the proven bundle.
async fn proven(s: &TestServer, keys: &DirectoryKeys, who: &Client, email: &str) -> PublicIdentity {
    let (st, v) = lookup(s, who, email).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let l: KtLookup = serde_json::from_value(v).unwrap();
    kt::check_root(keys, &l.root, s.state.now(), MAX_ROOT_AGE_MS, None).unwrap();
    let p = kt::verify_lookup(keys, &l.root, email, &l.proof.0).unwrap();
    let identity = l.identity.expect("the server names the bundle");
    p.check(&identity).unwrap();
    identity
}

#[tokio::test]
async fn verified_keys_are_proven_and_changes_are_visible_in_history() {
    let s = TestServer::start().await;
    let keys = keys(&s).await;
    assert_eq!(keys, s.state.kt.keys(), "the same keys on every call");
    let ann = Client::register("Ann@Example.org", &s).await;
    let bob = Client::register("bob@example.org", &s).await;
    // Not yet published: no proof to give (the client waits or fails, never trusts).
    let (st, v) = lookup(&s, &bob, "ann@example.org").await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_in_directory"));
    let root = s.state.kt.publish_pending().await.unwrap().unwrap();
    assert_eq!(root.epoch(), 1);
    assert_eq!(
        s.state.kt.publish_pending().await.unwrap(),
        None,
        "nothing queued, no epoch"
    );
    // Labels are the canonical email, whatever case it was typed in.
    assert_eq!(
        &proven(&s, &keys, &bob, "ann@example.org").await,
        ann.identity.public()
    );
    assert_eq!(
        &proven(&s, &keys, &bob, "ANN@example.ORG").await,
        ann.identity.public()
    );

    // A proof for Ann is not a proof for Bob: a server answering for another label fails.
    let (_, v) = lookup(&s, &bob, "ann@example.org").await;
    let l: KtLookup = serde_json::from_value(v).unwrap();
    assert!(matches!(
        kt::verify_lookup(&keys, &l.root, "bob@example.org", &l.proof.0),
        Err(KtError::BadProof(_))
    ));
    // Against another root (an older epoch's, or one not signed by the directory key).
    let mut unsigned = l.root;
    unsigned.signature = assent_shared::sign::Signature([0; 64]);
    assert_eq!(
        kt::verify_lookup(&keys, &unsigned, "ann@example.org", &l.proof.0),
        Err(KtError::BadRootSignature)
    );

    // Ann rotates her key: a new version, which Bob's lookups now prove, and Ann's own
    // history shows both versions, newest first.
    let fresh = SecretIdentity::generate(T0);
    let (st, v) = s
        .call(
            Method::PUT,
            "/v1/me/identity",
            ann.token(),
            Some(ann.publish_body(&fresh, &s)),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Until the next epoch, the directory still proves the old key.
    assert_eq!(
        &proven(&s, &keys, &bob, "ann@example.org").await,
        ann.identity.public()
    );
    s.state.kt.publish_pending().await.unwrap().unwrap();
    assert_eq!(
        &proven(&s, &keys, &bob, "ann@example.org").await,
        fresh.public()
    );
    // The old proof does not verify against the new root: a server replaying it fails.
    let (_, v) = lookup(&s, &bob, "ann@example.org").await;
    let new: KtLookup = serde_json::from_value(v).unwrap();
    assert!(kt::verify_lookup(&keys, &new.root, "ann@example.org", &l.proof.0).is_err());

    let (st, v) = s
        .call(Method::GET, "/v1/kt/history", ann.token(), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let h: KtHistory = serde_json::from_value(v).unwrap();
    let versions = kt::verify_history(&keys, &h.root, "ann@example.org", &h.proof.0).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].value, kt::value(fresh.public()));
    assert_eq!(versions[1].value, kt::value(ann.identity.public()));
    assert_eq!(h.identities.len(), 2);

    // The key that was replaced can never come back.
    let (st, v) = s
        .call(
            Method::PUT,
            "/v1/me/identity",
            ann.token(),
            Some(ann.publish_body(&ann.identity, &s)),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "key_replaced"));

    // A deleted account's email proves a tombstone, not its last key.
    let (st, _) = s
        .call(
            Method::DELETE,
            "/v1/me",
            bob.token(),
            Some(json!({"auth_secret": support::auth(&bob.keys)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    s.state.kt.publish_pending().await.unwrap().unwrap();
    let (st, v) = lookup(&s, &ann, "bob@example.org").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let l: KtLookup = serde_json::from_value(v).unwrap();
    assert!(l.identity.is_none());
    let p = kt::verify_lookup(&keys, &l.root, "bob@example.org", &l.proof.0).unwrap();
    assert_eq!(p.check(bob.identity.public()), Err(KtError::Deleted));
}

#[tokio::test]
async fn publishing_needs_possession_and_a_key_of_ones_own() {
    let s = TestServer::start().await;
    let alice = Client::register("alice@example.org", &s).await;
    let eve = Client::register("eve@example.org", &s).await;
    // Eve presents Alice's bundle with Alice's own proof (made for Alice's account): refused.
    let body = json!({"identity": alice.identity.public(), "possession": alice.possession(&alice.identity, &s)});
    let (st, v) = s
        .call(Method::PUT, "/v1/me/identity", eve.token(), Some(body))
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "bad_possession"));
    // A proof made for another server (another directory key) is refused too.
    let elsewhere = kt::KeyPossession::prove(
        &eve.identity,
        "eve@example.org",
        &kt::ServerKey([7; 32]),
        s.state.now(),
    );
    let fresh = SecretIdentity::generate(T0);
    let body = json!({"identity": fresh.public(), "possession": elsewhere});
    let (st, v) = s
        .call(Method::PUT, "/v1/me/identity", eve.token(), Some(body))
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "bad_possession"));
    // An old proof (replayed later) is refused.
    let old = eve.possession(&fresh, &s);
    s.clock.advance_ms(kt::POSSESSION_WINDOW_MS + 1);
    let body = json!({"identity": fresh.public(), "possession": old});
    let (st, v) = s
        .call(Method::PUT, "/v1/me/identity", eve.token(), Some(body))
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "bad_possession"));
    // Even holding Alice's private key (stolen), Eve cannot make it her account's key.
    let stolen = SecretIdentity::from_bytes(&alice.identity.to_bytes()).unwrap();
    let (st, v) = s
        .call(
            Method::PUT,
            "/v1/me/identity",
            eve.token(),
            Some(eve.publish_body(&stolen, &s)),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "key_taken"));
    // Nor sign up a new account with it.
    let mut mallory = Client::new("mallory@example.org", "a long enough passphrase");
    mallory.identity = SecretIdentity::from_bytes(&alice.identity.to_bytes()).unwrap();
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(mallory.signup_body(&s)),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "key_taken"));
}

#[tokio::test]
async fn epochs_chain_and_every_step_is_append_only() {
    let s = TestServer::start().await;
    let keys = keys(&s).await;
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(Client::register(&format!("p{i}@example.org"), &s).await);
        s.state.kt.publish_pending().await.unwrap().unwrap();
    }
    let (st, v) = s.call(Method::GET, "/v1/kt/roots?from=0", None, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let roots: KtRoots = serde_json::from_value(v).unwrap();
    assert_eq!(roots.roots.len(), 6, "epoch 0 (empty) and one per publish");
    for r in &roots.roots {
        r.verify(&keys.signing).unwrap();
    }
    for w in roots.roots.windows(2) {
        assert!(w[0].chains_to(&w[1]), "{:?} then {:?}", w[0], w[1]);
    }
    for start in 0..5u64 {
        let (st, v) = s
            .call(
                Method::GET,
                &format!("/v1/kt/audit?start={start}"),
                None,
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let a: KtAudit = serde_json::from_value(v).unwrap();
        assert_eq!(a.start, roots.roots[start as usize]);
        let proof = kt::decode_audit(&a.proof.0).unwrap();
        akd::auditor::audit_verify::<Config>(
            vec![a.start.body.root_hash.0, a.end.body.root_hash.0],
            proof.clone(),
        )
        .await
        .unwrap();
        // The same proof does not take the directory from any other root.
        let other = roots.roots[(start as usize + 2) % 6];
        assert!(
            akd::auditor::audit_verify::<Config>(
                vec![other.body.root_hash.0, a.end.body.root_hash.0],
                proof,
            )
            .await
            .is_err()
        );
    }
    let (st, v) = s
        .call(Method::GET, "/v1/kt/audit?start=5", None, None)
        .await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "no_such_epoch"));
    let (st, _) = s
        .call(Method::GET, "/v1/kt/audit?start=x", None, None)
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // The head vouches for the newest epoch with a fresh time, re-signed as time passes.
    let (_, v) = s.call(Method::GET, "/v1/kt/head", None, None).await;
    let head: SignedRoot = serde_json::from_value(v).unwrap();
    assert_eq!(head.epoch(), 5);
    assert!(!head.contradicts(&roots.roots[5]));
    s.clock.advance_ms(10 * 60_000);
    let (_, v) = s.call(Method::GET, "/v1/kt/head", None, None).await;
    let later: SignedRoot = serde_json::from_value(v).unwrap();
    assert_eq!(later.body.time, s.state.now());
    kt::check_root(&keys, &later, s.state.now(), MAX_ROOT_AGE_MS, Some(5)).unwrap();
    assert!(matches!(
        kt::check_root(&keys, &head, s.state.now(), MAX_ROOT_AGE_MS, None),
        Err(KtError::StaleRoot { .. })
    ));

    // Lookups and history need a session; the auditor's routes do not.
    let (st, _) = s
        .call(
            Method::GET,
            "/v1/kt/lookup?email=p0@example.org",
            None,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = s.call(Method::GET, "/v1/kt/history", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_directory_survives_a_restart_and_keeps_its_keys() {
    let mut s = TestServer::start().await;
    let keys = keys(&s).await;
    let a = Client::register("a@example.org", &s).await;
    s.state.kt.publish_pending().await.unwrap().unwrap();
    s.trust_proxies(vec![]);
    assert_eq!(self::keys(&s).await, keys);
    assert_eq!(
        &proven(&s, &keys, &a, "a@example.org").await,
        a.identity.public()
    );
    let (_, v) = s.call(Method::GET, "/v1/kt/roots?from=0", None, None).await;
    let roots: KtRoots = serde_json::from_value(v).unwrap();
    assert_eq!(roots.roots.len(), 2);
}

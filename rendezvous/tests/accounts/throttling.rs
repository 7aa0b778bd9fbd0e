//! Throttling: an attacker is slowed, the owner is not; behind a proxy; sign-ups.

use super::*;

#[tokio::test]
async fn throttling_slows_an_attacker_but_not_the_owner() {
    let s = TestServer::start().await;
    let a = Client::register("victim@example.org", &s).await;
    let mut wrong = a.signin_body();
    wrong["auth_secret"] = serde_json::to_value(AuthSecret([1; 32])).unwrap();
    let attacker = [203, 0, 113, 9];
    for _ in 0..5 {
        let (st, _) = s
            .call_from(
                Method::POST,
                "/v1/sessions",
                None,
                Some(wrong.clone()),
                attacker,
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, v) = s
        .call_from(
            Method::POST,
            "/v1/sessions",
            None,
            Some(wrong.clone()),
            attacker,
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "slow_down"));
    assert!(v["error"]["retry_after"].as_u64().unwrap() >= 1);
    // The owner, from another address, signs in at once.
    let (st, _) = s
        .call_from(
            Method::POST,
            "/v1/sessions",
            None,
            Some(a.signin_body()),
            [198, 51, 100, 7],
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    // The attacker may try again after waiting.
    s.clock
        .advance_ms(v["error"]["retry_after"].as_u64().unwrap() * 1000);
    let (st, _) = s
        .call_from(Method::POST, "/v1/sessions", None, Some(wrong), attacker)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

/// Behind a trusted reverse proxy, throttling counts the address the proxy forwarded for: an
/// attacker slowed down does not slow the owner coming through the same proxy. A peer that is
/// not a trusted proxy cannot pick its address by sending the header itself.
#[tokio::test]
async fn throttling_behind_a_trusted_proxy_counts_the_forwarded_address() {
    let mut s = TestServer::start().await;
    let a = Client::register("owner@example.org", &s).await;
    s.trust_proxies(vec!["127.0.0.1".parse().unwrap()]);
    let proxy = [127, 0, 0, 1];
    let mut wrong = a.signin_body();
    wrong["auth_secret"] = serde_json::to_value(AuthSecret([1; 32])).unwrap();
    // A spoofed header from the attacker is kept by the proxy on the left; the proxy appends
    // the real peer, which is what counts.
    let attacker = "10.9.9.9, 203.0.113.9";
    for _ in 0..5 {
        let (st, _) = s
            .call_forwarded(Method::POST, "/v1/sessions", wrong.clone(), proxy, attacker)
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, v) = s
        .call_forwarded(Method::POST, "/v1/sessions", wrong.clone(), proxy, attacker)
        .await;
    assert_eq!((st, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "slow_down"));
    // The same attacker behind another spoofed left-most address is still slowed down.
    let (st, _) = s
        .call_forwarded(
            Method::POST,
            "/v1/sessions",
            wrong.clone(),
            proxy,
            "198.51.100.7, 203.0.113.9",
        )
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // The owner, through the same proxy, signs in at once.
    let (st, _) = s
        .call_forwarded(
            Method::POST,
            "/v1/sessions",
            a.signin_body(),
            proxy,
            "198.51.100.7",
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    // An untrusted peer's header is ignored: its failures count against its own address.
    let direct = [192, 0, 2, 1];
    for _ in 0..5 {
        let (st, _) = s
            .call_forwarded(
                Method::POST,
                "/v1/sessions",
                wrong.clone(),
                direct,
                "198.51.100.7",
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, _) = s
        .call_forwarded(Method::POST, "/v1/sessions", wrong, direct, "198.51.100.7")
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let (st, _) = s
        .call_forwarded(
            Method::POST,
            "/v1/sessions",
            a.signin_body(),
            proxy,
            "198.51.100.7",
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "the owner's address was not charged"
    );
}

/// Sign-ups are throttled per email (5 an hour) and per address (20 an hour), before any
/// hashing or mail.
#[tokio::test]
async fn sign_ups_are_throttled_per_email_and_per_address() {
    let s = TestServer::start().await;
    let s = &s;
    let signup = |c: &Client| {
        let body = c.signup_body(s);
        async move { s.call(Method::POST, "/v1/accounts", None, Some(body)).await }
    };
    for n in 0..5 {
        let c = Client::new("again@example.org", "a long enough passphrase");
        let (st, v) = signup(&c).await;
        assert_eq!(st, StatusCode::CREATED, "try {n}: {v}");
    }
    let c = Client::new("again@example.org", "a long enough passphrase");
    let (st, v) = signup(&c).await;
    assert_eq!((st, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "slow_down"));
    // Other addresses from the same place, up to the hourly budget of 20 in all.
    for n in 5..20 {
        let c = Client::new(&format!("other{n}@example.org"), "a long enough passphrase");
        assert_eq!(signup(&c).await.0, StatusCode::CREATED, "sign-up {n}");
    }
    let c = Client::new("one-too-many@example.org", "a long enough passphrase");
    let (st, v) = signup(&c).await;
    assert_eq!((st, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "slow_down"));
    // An hour later, sign-ups go through again.
    s.clock.advance_ms(3_600_000);
    assert_eq!(signup(&c).await.0, StatusCode::CREATED);
}

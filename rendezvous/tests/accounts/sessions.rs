//! Signing up, in and out; sessions; email codes; deleting an account; what survives a restart.

use super::*;

#[tokio::test]
async fn signup_verify_signin_sessions_signout() {
    let s = TestServer::start().await;
    let mut alice = Client::new("alice@example.org", "correct horse battery staple");
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(alice.signup_body(&s)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Before verification, sign-in is refused with a precise code.
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            Some(alice.signin_body()),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "email_unverified"));
    let mail = s
        .smtp
        .wait_for("alice@example.org", 0, std::time::Duration::from_secs(10))
        .await;
    assert!(
        mail.data.contains("Subject: Your Assent verification code"),
        "{}",
        mail.data
    );
    let c = mail.code().unwrap();
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/accounts/verify",
            None,
            Some(json!({"email": "Alice@Example.org", "code": c})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    alice.signin(&s).await;

    let (st, me) = s.call(Method::GET, "/v1/me", alice.token(), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["email"], "alice@example.org");
    assert_eq!(me["totp_enabled"], false);

    // A second device; list; revoke the first from the second; sign out.
    let (_, v2) = s
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            Some(alice.signin_body()),
        )
        .await;
    let second = v2["token"].as_str().unwrap().to_string();
    let (_, list) = s
        .call(Method::GET, "/v1/sessions", Some(&second), None)
        .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first_id = list.iter().find(|x| x["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{first_id}"),
            Some(&second),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = s.call(Method::GET, "/v1/me", alice.token(), None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (st, _) = s
        .call(Method::DELETE, "/v1/sessions/current", Some(&second), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = s.call(Method::GET, "/v1/me", Some(&second), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_tokens_are_stored_hashed() {
    let s = TestServer::start().await;
    let a = Client::register("a@example.org", &s).await;
    let token = a.token().unwrap().to_string();
    let raw = std::fs::read(s.dir.path().join("assent.sqlite3")).unwrap();
    let wal = std::fs::read(s.dir.path().join("assent.sqlite3-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "token stored in clear"
        );
    }
}

#[tokio::test]
async fn wrong_or_unknown_credentials_and_prelogin() {
    let s = TestServer::start().await;
    let a = Client::register("a@example.org", &s).await;
    let mut wrong = a.signin_body();
    wrong["auth_secret"] = serde_json::to_value(AuthSecret([9; 32])).unwrap();
    let (st, v) = s
        .call(Method::POST, "/v1/sessions", None, Some(wrong))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let mut unknown = a.signin_body();
    unknown["email"] = json!("nobody@example.org");
    let (st, v) = s
        .call(Method::POST, "/v1/sessions", None, Some(unknown))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    // Known: the account's own salt. Unknown: a stable made-up one, same shape.
    let (_, known) = s
        .call(Method::GET, "/v1/prelogin?email=a@example.org", None, None)
        .await;
    assert_eq!(known["salt"], serde_json::to_value(a.salt).unwrap());
    let (_, x1) = s
        .call(
            Method::GET,
            "/v1/prelogin?email=ghost@example.org",
            None,
            None,
        )
        .await;
    let (_, x2) = s
        .call(
            Method::GET,
            "/v1/prelogin?email=ghost@example.org",
            None,
            None,
        )
        .await;
    assert_eq!(x1, x2);
    assert_eq!(x1["kdf"]["memory_kib"], 65536);
}

#[tokio::test]
async fn email_codes_expire_are_single_use_and_limited_to_five_tries() {
    let s = TestServer::start().await;
    let c = Client::new("b@example.org", "a long enough passphrase");
    s.call(Method::POST, "/v1/accounts", None, Some(c.signup_body(&s)))
        .await;
    let good = s.mail_code("b@example.org", 0).await;
    let bad = if good == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (st, v) = s
            .call(
                Method::POST,
                "/v1/accounts/verify",
                None,
                Some(json!({"email": "b@example.org", "code": bad})),
            )
            .await;
        assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_code"));
    }
    // The right code no longer works after five wrong ones (ip throttle allows the attempt).
    s.clock.advance_ms(3_600_000);
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/accounts/verify",
            None,
            Some(json!({"email": "b@example.org", "code": good})),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_code"));

    // A new code, expired after 15 minutes.
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/accounts/verify/resend",
            None,
            Some(json!({"email": "b@example.org"})),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let second = s.mail_code("b@example.org", 1).await;
    s.clock.advance_ms(15 * 60_000 + 1);
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/accounts/verify",
            None,
            Some(json!({"email": "b@example.org", "code": second})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // A fresh one works once.
    s.call(
        Method::POST,
        "/v1/accounts/verify/resend",
        None,
        Some(json!({"email": "b@example.org"})),
    )
    .await;
    let third = s.mail_code("b@example.org", 2).await;
    let body = json!({"email": "b@example.org", "code": third});
    assert_eq!(
        s.call(
            Method::POST,
            "/v1/accounts/verify",
            None,
            Some(body.clone())
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    // Verified already: a repeat is harmless.
    assert_eq!(
        s.call(Method::POST, "/v1/accounts/verify", None, Some(body))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // Resending to a verified (or unknown) address says the same and sends nothing.
    let before = s.smtp.all().len();
    assert_eq!(
        s.call(
            Method::POST,
            "/v1/accounts/verify/resend",
            None,
            Some(json!({"email": "b@example.org"}))
        )
        .await
        .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        s.call(
            Method::POST,
            "/v1/accounts/verify/resend",
            None,
            Some(json!({"email": "zz@example.org"}))
        )
        .await
        .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(s.smtp.all().len(), before);
}

#[tokio::test]
async fn delete_account() {
    let s = TestServer::start().await;
    let a = Client::register("d@example.org", &s).await;
    let b = Client::register("e@example.org", &s).await;
    let (st, v) = s
        .call(
            Method::DELETE,
            "/v1/me",
            a.token(),
            Some(json!({"auth_secret": AuthSecret([0; 32])})),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let (st, _) = s
        .call(
            Method::DELETE,
            "/v1/me",
            a.token(),
            Some(json!({"auth_secret": auth(&a.keys)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        s.call(Method::GET, "/v1/me", a.token(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.call(
            Method::GET,
            "/v1/directory?email=d@example.org",
            b.token(),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.user_count().await, 1);
}

#[tokio::test]
async fn state_survives_a_restart() {
    let mut s = TestServer::start().await;
    let a = Client::register("keep@example.org", &s).await;
    s.restart();
    assert_eq!(
        s.call(Method::GET, "/v1/me", a.token(), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
            .await
            .0,
        StatusCode::CREATED
    );
}

/// An address nobody verifies within a day is freed; verified accounts stay.
#[tokio::test]
async fn unverified_accounts_expire_after_a_day() {
    use assent_rendezvous::accounts::expire_unverified;
    let s = TestServer::start().await;
    let kept = Client::register("kept@example.org", &s).await;
    let squatter = Client::new("squat@example.org", "a long enough passphrase");
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(squatter.signup_body(&s)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    s.clock.advance_ms(23 * 3_600_000);
    assert_eq!(
        expire_unverified(&s.state.db, s.state.now()).await.unwrap(),
        0
    );
    s.clock.advance_ms(2 * 3_600_000);
    assert_eq!(
        expire_unverified(&s.state.db, s.state.now()).await.unwrap(),
        1
    );
    assert_eq!(s.user_count().await, 1);
    let (st, _) = s
        .call(Method::POST, "/v1/sessions", None, Some(kept.signin_body()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "the verified account stays");
}

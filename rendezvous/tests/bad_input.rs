//! Every kind of bad input gets its documented error code and changes nothing.

mod support;

use assent_shared::SecretIdentity;
use assent_shared::api::B64;
use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Client, T0, TestServer, code};

#[tokio::test]
async fn malformed_bodies() {
    let s = TestServer::start().await;
    let ip = [127, 0, 0, 1];
    let json = Some("application/json");
    let cases: Vec<(Vec<u8>, Option<&str>, StatusCode, &str)> = vec![
        (
            b"{not json".to_vec(),
            json,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            vec![0xff, 0xfe, b'{', b'}'],
            json,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            b"{}".to_vec(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            b"[]".to_vec(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            b"{\"email\": 5}".to_vec(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            b"{}".to_vec(),
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            b"{}".to_vec(),
            Some("text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            vec![b' '; 70 * 1024],
            json,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, ct, status, want) in cases {
        let (st, v) = s
            .raw(Method::POST, "/v1/accounts", None, ct, body, ip)
            .await;
        assert_eq!((st, code(&v)), (status, want), "{v}");
    }
    assert_eq!(s.user_count().await, 0);
}

#[tokio::test]
async fn unknown_and_mistyped_fields() {
    let s = TestServer::start().await;
    let c = Client::new("u@example.org", "a long enough passphrase");
    let mut extra = c.signup_body(&s);
    extra["admin"] = json!(true);
    let (st, v) = s
        .call(Method::POST, "/v1/accounts", None, Some(extra))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("admin"),
        "{v}"
    );
    let mut short_secret = c.signup_body(&s);
    short_secret["auth_secret"] = json!("AAAA");
    assert_eq!(
        code(
            &s.call(Method::POST, "/v1/accounts", None, Some(short_secret))
                .await
                .1
        ),
        "invalid_body"
    );
    assert_eq!(s.user_count().await, 0);
}

#[tokio::test]
async fn invalid_values() {
    let s = TestServer::start().await;
    let c = Client::new("v@example.org", "a long enough passphrase");
    let stranger = SecretIdentity::generate(T0);
    let mut forged_identity = c.identity.public().clone();
    forged_identity.encryption = stranger.public().encryption;
    let cases = vec![
        ("email", json!("not an email"), "invalid_email"),
        (
            "email",
            json!(format!("{}@example.org", "x".repeat(250))),
            "invalid_email",
        ),
        ("display_name", json!(""), "invalid_display_name"),
        ("display_name", json!("bell\u{7}"), "invalid_display_name"),
        (
            "display_name",
            json!("n".repeat(65)),
            "invalid_display_name",
        ),
        (
            "kdf",
            json!({"memory_kib": 1024, "iterations": 1, "lanes": 1}),
            "weak_kdf",
        ),
        (
            "key_backup",
            serde_json::to_value(B64(vec![1, 2, 3])).unwrap(),
            "invalid_key_backup",
        ),
        (
            "salt",
            serde_json::to_value(assent_shared::backup::Salt([0; 16])).unwrap(),
            "invalid_key_backup",
        ),
        (
            "identity",
            serde_json::to_value(&forged_identity).unwrap(),
            "invalid_identity",
        ),
    ];
    for (field, value, want) in cases {
        let mut body = c.signup_body(&s);
        body[field] = value;
        let (st, v) = s.call(Method::POST, "/v1/accounts", None, Some(body)).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, want),
            "{field}: {v}"
        );
    }
    assert_eq!(s.user_count().await, 0);
    // A duplicate email.
    let (st, _) = s
        .call(Method::POST, "/v1/accounts", None, Some(c.signup_body(&s)))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    // Nobody proved the address yet: whoever can read its mail may claim it. The second sign-up
    // replaces the unverified account.
    let again = Client::new("V@Example.org", "another good passphrase");
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(again.signup_body(&s)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(s.user_count().await, 1);
    let code_for_again = s.mail_code("V@Example.org", 1).await;
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/accounts/verify",
            None,
            Some(json!({"email": "V@Example.org", "code": code_for_again})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    // Verified, the address is taken.
    let third = Client::new("v@example.org", "yet another good passphrase");
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(third.signup_body(&s)),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "email_taken"));
    assert_eq!(s.user_count().await, 1);
}

#[tokio::test]
async fn protected_endpoints_need_a_session() {
    let s = TestServer::start().await;
    for (m, p) in [
        (Method::GET, "/v1/me"),
        (Method::DELETE, "/v1/me"),
        (Method::GET, "/v1/sessions"),
        (Method::DELETE, "/v1/sessions/current"),
        (Method::PUT, "/v1/me/password"),
        (Method::GET, "/v1/me/key-backup"),
        (Method::PUT, "/v1/me/identity"),
        (Method::POST, "/v1/me/totp"),
        (Method::GET, "/v1/directory?email=a@b.c"),
        (
            Method::GET,
            "/v1/directory/00000000000000000000000000000000",
        ),
    ] {
        for token in [None, Some("bogus"), Some(&*"x".repeat(500))] {
            let (st, v) = s.call(m.clone(), p, token, Some(json!({}))).await;
            assert_eq!(
                (st, code(&v)),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{m} {p}"
            );
        }
    }
    let (st, v) = s.call(Method::GET, "/v1/nowhere", None, None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn directory_publish_and_lookup() {
    let s = TestServer::start().await;
    let a = Client::register("dir-a@example.org", &s).await;
    let b = Client::register("dir-b@example.org", &s).await;
    // Unverified accounts are not listed.
    let u = Client::new("unverified@example.org", "a long enough passphrase");
    s.call(Method::POST, "/v1/accounts", None, Some(u.signup_body(&s)))
        .await;
    assert_eq!(
        s.call(
            Method::GET,
            "/v1/directory?email=unverified@example.org",
            a.token(),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let (st, d) = s
        .call(
            Method::GET,
            "/v1/directory?email=dir-b@example.org",
            a.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let id = d["user_id"].as_str().unwrap().to_string();
    let (_, by_id) = s
        .call(Method::GET, &format!("/v1/directory/{id}"), a.token(), None)
        .await;
    assert_eq!(by_id, d);
    assert_eq!(d["history"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.call(Method::GET, "/v1/directory/not-an-id", a.token(), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Republishing the same key changes nothing; a new key is appended; a forged one refused.
    let same = b.publish_body(&b.identity, &s);
    assert_eq!(
        s.call(Method::PUT, "/v1/me/identity", b.token(), Some(same))
            .await
            .1["changed"],
        false
    );
    let new = SecretIdentity::generate(T0);
    assert_eq!(
        s.call(
            Method::PUT,
            "/v1/me/identity",
            b.token(),
            Some(b.publish_body(&new, &s))
        )
        .await
        .1["changed"],
        true
    );
    let mut forged = new.public().clone();
    forged.created_at = T0.plus_millis(1);
    let (st, v) = s
        .call(
            Method::PUT,
            "/v1/me/identity",
            b.token(),
            Some(json!({"identity": forged, "possession": b.possession(&new, &s)})),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_identity")
    );
    let (_, d) = s
        .call(Method::GET, &format!("/v1/directory/{id}"), a.token(), None)
        .await;
    assert_eq!(d["history"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn health_and_policy() {
    let s = TestServer::start().await;
    let (st, v) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (_, p) = s.call(Method::GET, "/v1/password-policy", None, None).await;
    assert_eq!(p["min_chars"], 8);
    assert_eq!(p["max_chars"], 128);
    assert!(p["rules"].as_array().unwrap().contains(&json!("common")));
}

#[tokio::test]
async fn every_json_endpoint_refuses_malformed_and_unknown_input() {
    let s = TestServer::start().await;
    let a = Client::register("every@example.org", &s).await;
    let (_, m) = s
        .call(
            Method::POST,
            "/v1/meetings",
            a.token(),
            Some(json!({"kind": "instant", "title": "t"})),
        )
        .await;
    let code_ = m["code"].as_str().unwrap().to_string();
    let endpoints: Vec<(Method, String, bool)> = vec![
        (Method::POST, "/v1/accounts".into(), false),
        (Method::POST, "/v1/accounts/verify".into(), false),
        (Method::POST, "/v1/accounts/verify/resend".into(), false),
        (Method::POST, "/v1/sessions".into(), false),
        (Method::DELETE, "/v1/me".into(), true),
        (Method::PUT, "/v1/me/password".into(), true),
        (Method::PUT, "/v1/me/identity".into(), true),
        (Method::POST, "/v1/me/totp/confirm".into(), true),
        (Method::DELETE, "/v1/me/totp".into(), true),
        (Method::POST, "/v1/recovery".into(), false),
        (Method::POST, "/v1/recovery/verify".into(), false),
        (Method::POST, "/v1/recovery/complete".into(), false),
        (Method::POST, "/v1/meetings".into(), true),
        (Method::POST, format!("/v1/meetings/{code_}/lock"), true),
        (Method::POST, format!("/v1/meetings/{code_}/remove"), true),
        (Method::POST, format!("/v1/meetings/{code_}/role"), true),
        (
            Method::POST,
            "/v1/admin/users/00000000000000000000000000000000/disabled".into(),
            true,
        ),
    ];
    let before = s.user_count().await;
    for (m, p, auth) in endpoints {
        let token = if auth { a.token() } else { None };
        let ip = [127, 0, 0, 2];
        let (st, v) = s
            .raw(
                m.clone(),
                &p,
                token,
                Some("application/json"),
                b"{\"ema".to_vec(),
                ip,
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "malformed_json"),
            "{m} {p}"
        );
        let (st, v) = s
            .raw(
                m.clone(),
                &p,
                token,
                Some("application/json"),
                b"{\"unexpected\": 1}".to_vec(),
                ip,
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            "{m} {p}: {v}"
        );
        let (st, v) = s
            .raw(
                m.clone(),
                &p,
                token,
                Some("application/json"),
                vec![b'['; 80 * 1024],
                ip,
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "{m} {p}"
        );
    }
    assert_eq!(s.user_count().await, before);
    // The account still works exactly as before.
    assert_eq!(
        s.call(Method::GET, "/v1/me", a.token(), None).await.0,
        StatusCode::OK
    );
}

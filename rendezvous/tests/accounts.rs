//! Accounts over the real router, a real SQLite file and a real SMTP listener.

mod support;

use assent_shared::SecretIdentity;
use assent_shared::api::{AuthSecret, B64};
use assent_shared::backup::{KeyBackup, PasswordKeys, RecoveryCode, RecoveryHalf, Salt};
use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Client, KDF, T0, TestServer, auth, code};

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

/// The authenticator's code for `secret` at `t` (RFC 6238 with the server's parameters).
fn totp_at(secret: &[u8], t: assent_shared::Timestamp) -> String {
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    )
    .generate(t.0 / 1000)
}

/// Turn two-factor on for `a`; returns a code generator for its secret.
async fn enable_totp(
    s: &TestServer,
    a: &Client,
) -> impl Fn(assent_shared::Timestamp) -> String + use<> {
    let (_, e) = s.call(Method::POST, "/v1/me/totp", a.token(), None).await;
    let secret = data_encoding::BASE32_NOPAD
        .decode(e["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let totp_now = move |t: assent_shared::Timestamp| totp_at(&secret, t);
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/me/totp/confirm",
            a.token(),
            Some(json!({"code": totp_now(s.clock_now())})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    s.clock.advance_ms(30_000);
    totp_now
}

/// One TOTP code, two sign-ins at once: exactly one gets a session.
#[tokio::test]
async fn a_totp_code_signs_in_once_even_concurrently() {
    let s = TestServer::start().await;
    let a = Client::register("race@example.org", &s).await;
    let totp_now = enable_totp(&s, &a).await;
    for _ in 0..5 {
        let mut body = a.signin_body();
        body["totp"] = json!(totp_now(s.clock_now()));
        let (x, y, z) = tokio::join!(
            s.call(Method::POST, "/v1/sessions", None, Some(body.clone())),
            s.call(Method::POST, "/v1/sessions", None, Some(body.clone())),
            s.call(Method::POST, "/v1/sessions", None, Some(body.clone())),
        );
        let won = [&x, &y, &z]
            .iter()
            .filter(|(st, _)| *st == StatusCode::CREATED)
            .count();
        assert_eq!(won, 1, "{x:?} {y:?} {z:?}");
        for (st, v) in [x, y, z] {
            assert!(
                st == StatusCode::CREATED || code(&v) == "invalid_totp",
                "{v}"
            );
        }
        s.clock.advance_ms(30_000);
    }
}

/// With two-factor on, the mailbox is not enough to start a recovery.
#[tokio::test]
async fn recovery_needs_the_second_factor_when_it_is_on() {
    let s = TestServer::start().await;
    let a = Client::register("twofa@example.org", &s).await;
    let totp_now = enable_totp(&s, &a).await;
    assert_eq!(
        recovery_ticket(&s, &a, None).await.unwrap_err(),
        (StatusCode::UNAUTHORIZED, "totp_required".into())
    );
    // The mailed code was not used up by the refusal; a wrong TOTP code is refused.
    let mail = s
        .smtp
        .wait_for(&a.email, 1, std::time::Duration::from_secs(10))
        .await;
    let try_with =
        |totp: String| json!({"email": a.email, "code": mail.code().unwrap(), "totp": totp});
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/recovery/verify",
            None,
            Some(try_with("000000".into())),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "invalid_totp"));
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/recovery/verify",
            None,
            Some(try_with(totp_now(s.clock_now()))),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let b64: B64 = serde_json::from_value(v["recovery_half"].clone()).unwrap();
    let half = RecoveryHalf::from_bytes(&b64.0).unwrap();
    assert_eq!(
        half.open(&a.recovery).unwrap().public(),
        a.identity.public()
    );
}

#[tokio::test]
async fn totp_enrol_confirm_signin_replay_disable() {
    let s = TestServer::start().await;
    let mut a = Client::register("t@example.org", &s).await;
    let (st, e) = s.call(Method::POST, "/v1/me/totp", a.token(), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        e["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Assent:t%40example.org?secret=")
    );
    let secret = data_encoding::BASE32_NOPAD
        .decode(e["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let totp_code = |t: assent_shared::Timestamp| totp_at(&secret, t);
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/me/totp/confirm",
            a.token(),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "invalid_totp"));
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/me/totp/confirm",
            a.token(),
            Some(json!({"code": totp_code(s.clock_now())})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    let (st, v) = s
        .call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
        .await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "totp_required"));
    s.clock.advance_ms(30_000);
    let mut body = a.signin_body();
    body["totp"] = json!(totp_code(s.clock_now()));
    let (st, v) = s
        .call(Method::POST, "/v1/sessions", None, Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    a.token = Some(v["token"].as_str().unwrap().into());
    // The same code again is refused.
    let (st, v) = s.call(Method::POST, "/v1/sessions", None, Some(body)).await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "invalid_totp"));
    s.clock.advance_ms(30_000);
    let (st, _) = s
        .call(
            Method::DELETE,
            "/v1/me/totp",
            a.token(),
            Some(json!({"code": totp_code(s.clock_now())})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        s.call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
            .await
            .0,
        StatusCode::CREATED
    );
}

trait ClockNow {
    fn clock_now(&self) -> assent_shared::Timestamp;
}
impl ClockNow for TestServer {
    fn clock_now(&self) -> assent_shared::Timestamp {
        use assent_rendezvous::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn change_password_keeps_keys_and_signs_out_other_sessions() {
    let s = TestServer::start().await;
    let mut a = Client::register("p@example.org", &s).await;
    let (_, other) = s
        .call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
        .await;
    let other = other["token"].as_str().unwrap().to_string();

    let new_salt = Salt::random();
    let new_keys = PasswordKeys::derive("an even better passphrase", &new_salt, KDF).unwrap();
    let new_backup = a
        .backup
        .rewrap_password(&a.keys, &new_keys, KDF, new_salt)
        .unwrap();
    let body = json!({
        "auth_secret": auth(&a.keys), "new_auth_secret": auth(&new_keys), "new_salt": new_salt,
        "new_kdf": KDF, "new_key_backup": B64(new_backup.to_bytes()),
        "recovery_proof": AuthSecret(new_backup.recovery_proof(&new_keys).unwrap()),
    });
    let mut wrong = body.clone();
    wrong["auth_secret"] = serde_json::to_value(AuthSecret([3; 32])).unwrap();
    assert_eq!(
        code(
            &s.call(Method::PUT, "/v1/me/password", a.token(), Some(wrong))
                .await
                .1
        ),
        "invalid_credentials"
    );
    let (st, v) = s
        .call(Method::PUT, "/v1/me/password", a.token(), Some(body))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");

    assert_eq!(
        s.call(Method::GET, "/v1/me", Some(&other), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.call(Method::GET, "/v1/me", a.token(), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    a.keys = new_keys;
    a.signin(&s).await;
    // The stored backup opens with the new password and holds the same identity.
    let (_, kb) = s
        .call(Method::GET, "/v1/me/key-backup", a.token(), None)
        .await;
    let b64: B64 = serde_json::from_value(kb["key_backup"].clone()).unwrap();
    let opened = KeyBackup::from_bytes(&b64.0)
        .unwrap()
        .open_with_password(&a.keys)
        .unwrap();
    assert_eq!(opened.public(), a.identity.public());
}

/// Start a recovery and verify the mailed code (with `totp` when given): the ticket, or the
/// error's status and code.
async fn recovery_ticket(
    s: &TestServer,
    a: &Client,
    totp: Option<&str>,
) -> Result<(String, RecoveryHalf), (StatusCode, String)> {
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/recovery",
            None,
            Some(json!({"email": a.email})),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let mail = s
        .smtp
        .wait_for(&a.email, 1, std::time::Duration::from_secs(10))
        .await;
    assert!(mail.data.contains("recover"), "{}", mail.data);
    let (st, t) = s
        .call(
            Method::POST,
            "/v1/recovery/verify",
            None,
            Some(json!({"email": a.email, "code": mail.code().unwrap(), "totp": totp})),
        )
        .await;
    if st != StatusCode::OK {
        return Err((st, code(&t).to_string()));
    }
    // No password-wrapped backup in the answer: only the half the recovery code opens.
    assert!(t.get("key_backup").is_none(), "{t}");
    let b64: B64 = serde_json::from_value(t["recovery_half"].clone()).unwrap();
    Ok((
        t["ticket"].as_str().unwrap().to_string(),
        RecoveryHalf::from_bytes(&b64.0).unwrap(),
    ))
}

async fn recover(s: &TestServer, a: &Client) -> (String, RecoveryHalf) {
    recovery_ticket(s, a, None).await.unwrap()
}

#[tokio::test]
async fn forgot_password_with_recovery_code_keeps_the_keys() {
    let s = TestServer::start().await;
    let a = Client::register("r@example.org", &s).await;
    let (ticket, half) = recover(&s, &a).await;
    let code = RecoveryCode::parse(&a.recovery.display()).unwrap();
    let salt = Salt::random();
    let keys = PasswordKeys::derive("I remembered nothing", &salt, KDF).unwrap();
    let reset = half.reset_password(&code, &keys, KDF, salt).unwrap();
    let body = json!({"ticket": ticket, "device": "new laptop", "recovery_proof": AuthSecret(half.proof(&code).unwrap()),
        "new_auth_secret": auth(&keys), "new_salt": salt, "new_kdf": KDF, "new_key_backup": B64(reset.to_bytes())});
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/recovery/complete",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // The answer signs this device in.
    let recovered = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        s.call(Method::GET, "/v1/me", Some(&recovered), None)
            .await
            .0,
        StatusCode::OK
    );
    // The ticket is single-use; old sessions are gone.
    assert_eq!(
        code_of(
            &s.call(Method::POST, "/v1/recovery/complete", None, Some(body))
                .await
                .1
        ),
        "invalid_code"
    );
    assert_eq!(
        s.call(Method::GET, "/v1/me", a.token(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"email": a.email, "auth_secret": auth(&keys), "device": "d"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let token = v["token"].as_str().unwrap().to_string();
    let (_, kb) = s
        .call(Method::GET, "/v1/me/key-backup", Some(&token), None)
        .await;
    let b64: B64 = serde_json::from_value(kb["key_backup"].clone()).unwrap();
    assert_eq!(
        KeyBackup::from_bytes(&b64.0)
            .unwrap()
            .open_with_password(&keys)
            .unwrap()
            .public(),
        a.identity.public()
    );
}

fn code_of(v: &serde_json::Value) -> &str {
    code(v)
}

/// The attacker reads the victim's mailbox but has no recovery code: no password oracle, no new
/// password, no new key.
#[tokio::test]
async fn a_mailbox_alone_recovers_nothing() {
    let s = TestServer::start().await;
    let a = Client::register("victim@example.org", &s).await;
    let (ticket, half) = recover(&s, &a).await;
    // What was handed out does not depend on the password: an offline guess has nothing to test.
    assert_eq!(half, a.backup.recovery_half());
    let guess = RecoveryCode::generate();
    assert!(half.open(&guess).is_err());
    // A made-up proof: refused, and the third wrong one voids the ticket.
    let salt = Salt::random();
    let keys = PasswordKeys::derive("the attacker's password", &salt, KDF).unwrap();
    let fresh = SecretIdentity::generate(T0);
    let own = KeyBackup::create(&fresh, &keys, KDF, salt, &guess);
    let mut body = json!({"ticket": ticket, "device": "attacker", "recovery_proof": AuthSecret([7; 32]),
        "new_auth_secret": auth(&keys), "new_salt": salt, "new_kdf": KDF, "new_key_backup": B64(own.to_bytes())});
    for _ in 0..3 {
        let (st, v) = s
            .call(
                Method::POST,
                "/v1/recovery/complete",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "bad_recovery_proof")
        );
    }
    // Even the right proof (say, leaked) cannot swap the keys: the backup must seal the same.
    body["recovery_proof"] =
        serde_json::to_value(AuthSecret(a.backup.recovery_proof(&a.keys).unwrap())).unwrap();
    let (st, v) = s
        .call(
            Method::POST,
            "/v1/recovery/complete",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_code"),
        "void after 3"
    );
    let (ticket, _) = recover_again(&s, &a).await;
    body["ticket"] = json!(ticket);
    let (st, v) = s
        .call(Method::POST, "/v1/recovery/complete", None, Some(body))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_key_backup")
    );
    // The victim's password and key are untouched.
    let (st, _) = s
        .call(Method::POST, "/v1/sessions", None, Some(a.signin_body()))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, kb) = s
        .call(Method::GET, "/v1/me/key-backup", a.token(), None)
        .await;
    let b64: B64 = serde_json::from_value(kb["key_backup"].clone()).unwrap();
    assert_eq!(b64.0, a.backup.to_bytes());
}

/// A second recovery mail waits out the resend interval (the server's clock is the test's).
async fn recover_again(s: &TestServer, a: &Client) -> (String, RecoveryHalf) {
    s.clock.advance_ms(61_000);
    let (st, _) = s
        .call(
            Method::POST,
            "/v1/recovery",
            None,
            Some(json!({"email": a.email})),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let mail = s
        .smtp
        .wait_for(&a.email, 2, std::time::Duration::from_secs(10))
        .await;
    let (st, t) = s
        .call(
            Method::POST,
            "/v1/recovery/verify",
            None,
            Some(json!({"email": a.email, "code": mail.code().unwrap()})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let b64: B64 = serde_json::from_value(t["recovery_half"].clone()).unwrap();
    (
        t["ticket"].as_str().unwrap().to_string(),
        RecoveryHalf::from_bytes(&b64.0).unwrap(),
    )
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
    assert_eq!(expire_unverified(&s.state, s.state.now()).await.unwrap(), 0);
    s.clock.advance_ms(2 * 3_600_000);
    assert_eq!(expire_unverified(&s.state, s.state.now()).await.unwrap(), 1);
    assert_eq!(s.user_count().await, 1);
    let (st, _) = s
        .call(Method::POST, "/v1/sessions", None, Some(kept.signin_body()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "the verified account stays");
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

//! Accounts over the real router, a real SQLite file and a real SMTP listener.

#[path = "../support/mod.rs"]
mod support;

use assent_shared::SecretIdentity;
use assent_shared::api::{AuthSecret, B64};
use assent_shared::backup::{KeyBackup, PasswordKeys, RecoveryCode, RecoveryHalf, Salt};
use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Client, KDF, T0, TestServer, auth, code};

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

fn code_of(v: &serde_json::Value) -> &str {
    code(v)
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

mod recovery;

trait ClockNow {
    fn clock_now(&self) -> assent_shared::Timestamp;
}
impl ClockNow for TestServer {
    fn clock_now(&self) -> assent_shared::Timestamp {
        use assent_rendezvous::clock::Clock;
        self.clock.now()
    }
}

mod sessions;
mod throttling;
mod totp;

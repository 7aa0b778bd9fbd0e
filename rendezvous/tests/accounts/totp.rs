//! Two-factor sign-in: enrolment, single use, replay, and recovery with it on.

use super::*;

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

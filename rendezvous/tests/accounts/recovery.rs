//! Passwords: changing one keeps the keys; a forgotten one recovered with the recovery code, never with the mailbox alone.

use super::*;

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

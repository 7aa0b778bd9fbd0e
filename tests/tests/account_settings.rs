//! Account settings from the command line against the real server: sessions per device, a
//! password change that keeps the keys and signs the other devices out, two-factor sign-in,
//! and deleting the account.

use std::time::Duration;

use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions, export, started_dir};
use assent_e2e::totp;
use serde_json::Value;

fn sessions(json: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(json.trim())
        .expect("sessions JSON")
        .as_array()
        .expect("a list")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_keeps_the_keys_and_signs_other_devices_out() {
    let server = Server::start(ServerOptions::default()).await;
    let ada = server.user("Ada", None).await;
    // The profile is Ada's only: the directory 0700, the database 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ada.profile), 0o700);
    assert_eq!(mode(&ada.profile.join("profile.db")), 0o600);
    // An older profile left readable is tightened at the next start.
    std::fs::set_permissions(&ada.profile, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        ada.profile.join("profile.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    ada.cli(&["account", "show"]);
    assert_eq!(mode(&ada.profile), 0o700);
    assert_eq!(mode(&ada.profile.join("profile.db")), 0o600);
    let laptop = server.device(&ada, "laptop").await;
    let listed = sessions(&ada.cli(&["account", "sessions", "--json"]));
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed.iter().filter(|s| s["current"] == true).count(),
        1,
        "{listed:?}"
    );
    assert!(listed.iter().any(|s| s["device"] == "laptop"));
    let fingerprint = |u: &assent_e2e::call::User| -> String {
        let v: Value = serde_json::from_str(u.cli(&["account", "show", "--json"]).trim()).unwrap();
        v["fingerprint"]
            .as_str()
            .expect("keys on the device")
            .to_string()
    };
    let before = fingerprint(&ada);

    // A wrong current password changes nothing; a weak new one is refused before any request.
    let new = [("NEW_PASSWORD", "another long private passphrase")];
    let err = ada
        .try_cli_env(
            &[
                "account",
                "password",
                "--password-env",
                "NEW_PASSWORD",
                "--new-password-env",
                "NEW_PASSWORD",
            ],
            &new,
        )
        .unwrap_err();
    assert!(err.contains("current password is wrong"), "{err}");
    let err = ada
        .try_cli_env(
            &[
                "account",
                "password",
                "--password-env",
                "ASSENT_TEST_PASSWORD",
                "--new-password-env",
                "WEAK",
            ],
            &[("WEAK", "short")],
        )
        .unwrap_err();
    assert!(err.contains("not acceptable"), "{err}");
    assert_eq!(
        sessions(&ada.cli(&["account", "sessions", "--json"])).len(),
        2
    );

    // The change: this device stays signed in, the laptop is signed out.
    let out = ada
        .try_cli_env(
            &[
                "account",
                "password",
                "--password-env",
                "ASSENT_TEST_PASSWORD",
                "--new-password-env",
                "NEW_PASSWORD",
            ],
            &new,
        )
        .unwrap();
    assert!(out.contains("Password changed"), "{out}");
    assert_eq!(
        sessions(&ada.cli(&["account", "sessions", "--json"])).len(),
        1
    );
    let err = laptop
        .try_cli(&["account", "sessions", "--json"])
        .unwrap_err();
    assert!(!err.is_empty());

    // The old password no longer signs in; the new one does, on a new device whose keys come
    // from the backup re-sealed under the new password: the same identity.
    let phone = ada.with_profile_suffix("phone");
    let signin = |pw_var: &str| {
        phone.try_cli_env(
            &[
                "account",
                "signin",
                "--server",
                server.base(),
                "--email",
                &ada.email,
                "--password-env",
                pw_var,
            ],
            &new,
        )
    };
    assert!(signin("ASSENT_TEST_PASSWORD").is_err());
    signin("NEW_PASSWORD").unwrap();
    assert_eq!(fingerprint(&phone), before, "the keys did not change");
    assert_eq!(fingerprint(&ada), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_sign_in_sessions_revoke_and_delete() {
    let server = Server::start(ServerOptions::default()).await;
    let ada = server.user("Ada", None).await;
    let e: Value =
        serde_json::from_str(ada.cli(&["account", "totp", "enrol", "--json"]).trim()).unwrap();
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(e["uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    // Not active until confirmed: another device signs in without a code.
    let laptop = server.device(&ada, "laptop").await;
    let err = ada
        .try_cli(&["account", "totp", "confirm", "000000x"])
        .unwrap_err();
    assert!(!err.is_empty());
    ada.cli(&["account", "totp", "confirm", &totp(&secret, -1)]);

    // Now a sign-in needs the code.
    let phone = ada.with_profile_suffix("phone");
    let signin = |code: Option<String>| {
        let mut args = vec![
            "account".to_string(),
            "signin".into(),
            "--server".into(),
            server.base().into(),
            "--email".into(),
            ada.email.clone(),
            "--password-env".into(),
            "ASSENT_TEST_PASSWORD".into(),
            "--device".into(),
            "phone".into(),
        ];
        if let Some(c) = code {
            args.extend(["--totp".into(), c]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        phone.try_cli(&args)
    };
    let err = signin(None).unwrap_err();
    assert!(err.to_lowercase().contains("totp"), "{err}");
    signin(Some(totp(&secret, 0))).unwrap();
    // A wrong code does not turn it off.
    assert!(
        ada.try_cli(&["account", "totp", "disable", "123456x"])
            .is_err()
    );

    // Sessions: three devices; the laptop is signed out from this one.
    let listed = sessions(&ada.cli(&["account", "sessions", "--json"]));
    assert_eq!(listed.len(), 3, "{listed:?}");
    let laptop_id = listed
        .iter()
        .find(|s| s["device"] == "laptop")
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_string();
    ada.cli(&["account", "revoke", &laptop_id]);
    assert!(laptop.try_cli(&["account", "sessions", "--json"]).is_err());
    assert_eq!(
        sessions(&ada.cli(&["account", "sessions", "--json"])).len(),
        2
    );

    // Deleting the account: a wrong password is refused; the right one deletes it, and
    // neither device can use it any more.
    assert!(
        ada.try_cli_env(
            &["account", "delete", "--yes", "--password-env", "WRONG"],
            &[("WRONG", "not the password at all")]
        )
        .is_err()
    );
    let out = ada
        .try_cli(&[
            "account",
            "delete",
            "--yes",
            "--password-env",
            "ASSENT_TEST_PASSWORD",
        ])
        .unwrap();
    assert!(out.contains("Account deleted"), "{out}");
    assert!(phone.try_cli(&["account", "sessions", "--json"]).is_err());
    assert!(signin(Some(totp(&secret, 1))).is_err());
    // The keys stay on the device (they open its recordings).
    let v: Value = serde_json::from_str(ada.cli(&["account", "show", "--json"]).trim()).unwrap();
    assert!(v["fingerprint"].is_string());
    assert_eq!(v["signed_in"], false);
}

/// Bob forgot his password and lost his laptop. On a new device, the mailed code and his
/// recovery code set a new password; his keys come back, so a recording made before opens.
/// Without the recovery code, the mailbox alone gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_recovered_on_a_new_device_with_keys_and_recordings() {
    const WAIT: Duration = Duration::from_secs(45);
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Before the loss");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    for c in [&mut a, &mut b] {
        c.event("connected", WAIT).await;
    }
    a.command("record Before the loss");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let dir = started_dir(&ann, &started);
    a.wait("a segment", WAIT, |v| v["event"] == "segment_written")
        .await;
    a.leave().await;
    b.leave().await;
    let fingerprint = |u: &assent_e2e::call::User| -> Option<String> {
        let shown = u.try_cli(&["account", "show", "--json"]).ok()?;
        let v: Value = serde_json::from_str(shown.trim()).ok()?;
        v["fingerprint"].as_str().map(str::to_string)
    };
    let before = fingerprint(&bob).expect("Bob's keys");

    let phone = bob.with_profile_suffix("phone");
    let recovery_file = bob.profile.with_extension("recovery");
    let new = [("NEW_PASSWORD", "a fresh start with long words")];
    let recover = |code: &str, recovery: &std::path::Path| {
        phone.try_cli_env(
            &[
                "account",
                "recover",
                "--server",
                server.base(),
                "--email",
                &bob.email,
                "--code",
                code,
                "--recovery-code-file",
                recovery.to_str().unwrap(),
                "--new-password-env",
                "NEW_PASSWORD",
            ],
            &new,
        )
    };
    let send = phone
        .try_cli(&[
            "account",
            "recover",
            "--server",
            server.base(),
            "--email",
            &bob.email,
            "--send-code",
        ])
        .unwrap();
    assert!(send.contains("recovery code is on its way"), "{send}");
    let mailed = server.mailed_code_about(&bob.email, "recovery code").await;

    // Someone with the mailbox but a wrong recovery code: refused, nothing changes.
    let wrong = phone.tmp_dir().join("wrong.recovery");
    std::fs::create_dir_all(phone.tmp_dir()).unwrap();
    std::fs::write(&wrong, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH\n").unwrap();
    let err = recover(&mailed, &wrong).unwrap_err();
    assert!(
        err.contains("does not open this account's keys") || err.contains("recovery code is not"),
        "{err}"
    );
    assert_eq!(fingerprint(&phone), None, "no keys on the phone");
    // The old device is still signed in after the failed attempt.
    bob.cli(&["account", "sessions", "--json"]);

    // The same mailed code (not used up by a wrong recovery code) with the right one.
    let out = recover(&mailed, &recovery_file).unwrap();
    assert!(out.contains("your keys and recordings are kept"), "{out}");
    assert_eq!(fingerprint(&phone).as_deref(), Some(before.as_str()));
    // The laptop is signed out; the old password no longer works, the new one does.
    assert!(bob.try_cli(&["account", "sessions", "--json"]).is_err());
    let tablet = bob.with_profile_suffix("tablet");
    let signin = |var: &str| {
        tablet.try_cli_env(
            &[
                "account",
                "signin",
                "--server",
                server.base(),
                "--email",
                &bob.email,
                "--password-env",
                var,
            ],
            &new,
        )
    };
    assert!(signin("ASSENT_TEST_PASSWORD").is_err());
    signin("NEW_PASSWORD").unwrap();
    assert_eq!(fingerprint(&tablet).as_deref(), Some(before.as_str()));

    // The recording from before opens with the keys the phone recovered.
    let out = phone.tmp_dir().join("before.mkv");
    let tracks = export(&phone, &dir, &out).expect("the recovered keys open the recording");
    assert!(tracks.contains("video\": "), "{tracks}");
    assert!(std::fs::metadata(&out).unwrap().len() > 1000);
}

//! Account settings from the command line against the real server: sessions per device, a
//! password change that keeps the keys and signs the other devices out, two-factor sign-in,
//! and deleting the account.

use std::time::{SystemTime, UNIX_EPOCH};

use assent_e2e::call::{Server, ServerOptions};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;

/// RFC 6238 with the server's parameters (SHA-1, 30 s, 6 digits), `offset` steps from now.
fn totp(secret_b32: &str, offset: i64) -> String {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.trim_end_matches('=').as_bytes())
        .expect("base32 secret");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let step = (now / 30 + offset) as u64;
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&secret).unwrap();
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let v = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{v:06}")
}

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

//! The real `assent-rendezvous` binary: starts on its defaults, serves HTTP, sends mail over a
//! real SMTP connection, shuts down gracefully on SIGTERM, and keeps its state across restarts.

use assent_e2e::rendezvous::Rendezvous;
use assent_e2e::smtp::SmtpSink;
use assent_shared::SecretIdentity;
use assent_shared::api::{AuthSecret, B64, SignupRequest};
use assent_shared::backup::{KdfParams, KeyBackup, PasswordKeys, RecoveryCode, Salt};
use serde_json::{Value, json};

#[tokio::test]
async fn sign_up_restart_sign_in() {
    sign_up_restart_sign_in_behind(&[]).await;
}

/// Allowed a single CPU, the server runs a single-threaded scheduler: the same flow works
/// (Argon2 and SQLite on the blocking pool do not stall it) and it still stops gracefully.
#[tokio::test]
async fn sign_up_restart_sign_in_on_one_cpu() {
    sign_up_restart_sign_in_behind(&["taskset".into(), "-c".into(), "0".into()]).await;
}

async fn sign_up_restart_sign_in_behind(prefix: &[String]) {
    let smtp = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("ASSENT_SMTP_URL", smtp.url())];
    let start = || Rendezvous::start_in(prefix, "127.0.0.1:0", dir.path(), &env);
    let server = start();
    let http = reqwest::Client::new();
    let health: Value = http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    // A client: keys derived from the password, backup sealed, then sign-up.
    let id = SecretIdentity::generate(assent_shared::Timestamp::now());
    let salt = Salt::random();
    let keys =
        PasswordKeys::derive("a long enough passphrase", &salt, KdfParams::OWASP_MIN).unwrap();
    let backup = KeyBackup::create(
        &id,
        &keys,
        KdfParams::OWASP_MIN,
        salt,
        &RecoveryCode::generate(),
    );
    let directory: assent_shared::transparency::DirectoryKeys = http
        .get(server.url("/v1/kt/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let req = SignupRequest {
        possession: assent_shared::transparency::KeyPossession::prove(
            &id,
            "e2e@example.org",
            &directory.signing,
            assent_shared::Timestamp::now(),
        ),
        email: "e2e@example.org".into(),
        display_name: "E2E".into(),
        auth_secret: AuthSecret(*keys.auth_secret()),
        salt,
        kdf: KdfParams::OWASP_MIN,
        key_backup: B64(backup.to_bytes()),
        identity: id.public().clone(),
        recovery_proof: AuthSecret(backup.recovery_proof(&keys).unwrap()),
    };
    let r = http
        .post(server.url("/v1/accounts"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let code = smtp
        .wait_for("e2e@example.org", 0, std::time::Duration::from_secs(10))
        .await
        .code()
        .unwrap();
    let r = http
        .post(server.url("/v1/accounts/verify"))
        .json(&json!({"email": "e2e@example.org", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let signin = json!({"email": "e2e@example.org", "auth_secret": AuthSecret(*keys.auth_secret()), "device": "e2e"});
    let s: Value = http
        .post(server.url("/v1/sessions"))
        .json(&signin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = s["token"].as_str().unwrap().to_string();

    // Graceful shutdown on SIGTERM.
    let status = server.stop();
    assert!(status.success(), "{status:?}");

    // Restart over the same data: the session and the account are still there.
    let server = start();
    let me = http
        .get(server.url("/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["email"], "e2e@example.org");
    let r = http
        .post(server.url("/v1/sessions"))
        .json(&signin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[test]
fn check_config_reports_errors_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:7999\"\n[mail]\nfrom = \"Assent <a@example.org>\"\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:7999\"\nlisen = 3\n").unwrap();
    let run = |cfg: &std::path::Path| {
        assent_e2e::run(
            "assent-rendezvous",
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--data-dir",
                dir.path().to_str().unwrap(),
                "check-config",
            ],
        )
    };
    let ok = run(&good);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(assent_e2e::stdout(&ok).contains("configuration OK"));
    let fail = run(&bad);
    assert!(!fail.status.success());
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(err.contains("lisen"), "{err}");
}

/// The peak resident memory of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// 500 sign-ups at once (from 25 loopback addresses, within each address's hourly budget):
/// every one is answered, as created or as `busy` (try again), and the server's memory stays
/// bounded: Argon2 (19 MiB a hash) runs on a few slots, not on a thread per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_sign_ups_do_not_exhaust_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Rendezvous::start(dir.path(), &[]);
    let pid = server.pid().unwrap();
    let directory: assent_shared::transparency::DirectoryKeys =
        reqwest::get(server.url("/v1/kt/keys"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let before = peak_rss_kib(pid);
    // One password derivation for all (the bodies differ in email and keys).
    let salt = Salt::random();
    let keys =
        PasswordKeys::derive("a long enough passphrase", &salt, KdfParams::OWASP_MIN).unwrap();
    let bodies: Vec<(std::net::IpAddr, SignupRequest)> = (0..500)
        .map(|i| {
            let id = SecretIdentity::generate(assent_shared::Timestamp::now());
            let email = format!("load{i}@example.org");
            let backup = KeyBackup::create(
                &id,
                &keys,
                KdfParams::OWASP_MIN,
                salt,
                &RecoveryCode::generate(),
            );
            let ip = std::net::IpAddr::from([127, 0, 1, (i / 20) as u8 + 1]);
            let req = SignupRequest {
                possession: assent_shared::transparency::KeyPossession::prove(
                    &id,
                    &email,
                    &directory.signing,
                    assent_shared::Timestamp::now(),
                ),
                email,
                display_name: format!("Load {i}"),
                auth_secret: AuthSecret(*keys.auth_secret()),
                salt,
                kdf: KdfParams::OWASP_MIN,
                recovery_proof: AuthSecret(backup.recovery_proof(&keys).unwrap()),
                key_backup: B64(backup.to_bytes()),
                identity: id.public().clone(),
            };
            (ip, req)
        })
        .collect();
    let url = server.url("/v1/accounts");
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|(ip, req)| {
            let url = url.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .local_address(ip)
                    .build()
                    .unwrap();
                let r = http.post(&url).json(&req).send().await.unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                (
                    status,
                    v["error"]["code"].as_str().unwrap_or("").to_string(),
                )
            })
        })
        .collect();
    let mut created = 0;
    let mut busy = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, _) => created += 1,
            (503, code) if code == "busy" => busy += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(created + busy, 500);
    assert!(created >= 60, "{created} created, {busy} busy");
    let peak = peak_rss_kib(pid);
    // At most 8 Argon2 threads × 19 MiB on top of what the server used before (plus the
    // requests' own buffers): far below 500 × 19 MiB = 9.3 GiB.
    let grown_mib = (peak.saturating_sub(before)) / 1024;
    eprintln!(
        "peak RSS {} MiB (+{grown_mib} MiB); {created} created, {busy} busy",
        peak / 1024
    );
    assert!(
        grown_mib < 16 * 19 + 128,
        "the server grew by {grown_mib} MiB"
    );
    // Still answering.
    let health: Value = reqwest::get(server.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

//! Accounts: sign-up, email verification codes, the profile, password change, account deletion
//! and recovery. The server stores an Argon2id verifier of the client-derived authentication
//! secret and the sealed key backup; it never sees the password or any private key.

use assent_shared::api::ErrorCode;
use std::net::IpAddr;

use assent_shared::api::{
    AuthSecret, B64, ChangePassword, Confirm, EmailCode, EmailOnly, KeyBackupBody, Me, Prelogin,
    RecoveryComplete, RecoveryTicket, RecoveryVerify, SignupRequest, SignupResponse,
};
use assent_shared::backup::{KdfParams, KeyBackup, Salt, recovery_verifier};
use assent_shared::ids::UserId;
use assent_shared::{PublicIdentity, Timestamp};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Sha256;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::kt::KeyDirectory;
use crate::mail::Mailer;
use crate::recordings::Registry;
use crate::secrets;
use crate::sessions::Sessions;
use crate::signaling::LiveSockets;
use crate::throttle::Throttle;
use crate::users::{
    Account, by_email, by_id, check_display_name, check_email, check_identity, verify_secret,
};

pub const CODE_TTL_MS: u64 = 15 * 60_000;
pub const CODE_MAX_ATTEMPTS: i64 = 5;
pub const CODE_RESEND_MS: u64 = 60_000;
pub const CODE_MAX_PER_DAY: i64 = 10;
pub const TICKET_TTL_MS: u64 = 15 * 60_000;

pub const PURPOSE_VERIFY: &str = "verify";
pub const PURPOSE_RECOVERY: &str = "recovery";

fn check_kdf(kdf: KdfParams) -> ApiResult<KdfParams> {
    kdf.check().map_err(|_| {
        ApiError::new(
            ErrorCode::WeakKdf,
            "key derivation parameters below the minimum or out of range",
        )
    })
}

fn check_backup(bytes: &[u8], salt: Salt, kdf: KdfParams) -> ApiResult<()> {
    let b = KeyBackup::from_bytes(bytes)
        .map_err(|_| ApiError::new(ErrorCode::InvalidKeyBackup, "the key backup does not parse"))?;
    if b.salt != salt || b.kdf != kdf {
        return Err(ApiError::new(
            ErrorCode::InvalidKeyBackup,
            "the key backup was made with another salt or parameters",
        ));
    }
    Ok(())
}

async fn hash(secret: &AuthSecret) -> ApiResult<String> {
    let s = zeroize::Zeroizing::new(secret.0);
    secrets::argon_bounded(move || secrets::hash_verifier(s.as_ref())).await?
}

/// Store a fresh code for (user, purpose), respecting the resend limits; returns the code.
fn issue_code(
    c: &Connection,
    user: &UserId,
    purpose: &str,
    now: Timestamp,
) -> ApiResult<Option<String>> {
    let prev: Option<(i64, i64)> = c
        .query_row(
            "SELECT sent_at, sent_today FROM email_codes WHERE user_id = ?1 AND purpose = ?2",
            params![&user.0[..], purpose],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mut sent_today = 1;
    if let Some((sent_at, count)) = prev {
        let since = now.millis_since(Timestamp(sent_at as u64));
        if since < CODE_RESEND_MS {
            return Ok(None);
        }
        sent_today = if since < 24 * 3_600_000 { count + 1 } else { 1 };
        if sent_today > CODE_MAX_PER_DAY {
            return Ok(None);
        }
    }
    let code = secrets::new_code();
    c.execute(
        "INSERT INTO email_codes (user_id, purpose, code_hash, expires_at, attempts, sent_at, sent_today)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)
         ON CONFLICT (user_id, purpose) DO UPDATE SET code_hash = ?3, expires_at = ?4, attempts = 0, sent_at = ?5, sent_today = ?6",
        params![&user.0[..], purpose, secrets::code_hash(&user.0, purpose, &code), now.plus_millis(CODE_TTL_MS).0 as i64, now.0 as i64, sent_today],
    )?;
    Ok(Some(code))
}

/// Check a code: right, unexpired, fewer than five tries. A wrong try counts.
fn check_code(
    c: &Connection,
    user: &UserId,
    purpose: &str,
    code: &str,
    now: Timestamp,
) -> ApiResult<()> {
    let row: Option<(Vec<u8>, i64, i64)> = c
        .query_row(
            "SELECT code_hash, expires_at, attempts FROM email_codes WHERE user_id = ?1 AND purpose = ?2",
            params![&user.0[..], purpose],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((hash, expires_at, attempts)) = row else {
        return Err(ApiError::invalid_code());
    };
    if now.0 as i64 > expires_at || attempts >= CODE_MAX_ATTEMPTS {
        return Err(ApiError::invalid_code());
    }
    let given = secrets::code_hash(&user.0, purpose, code.trim());
    if !subtle_eq(&given, &hash) {
        c.execute(
            "UPDATE email_codes SET attempts = attempts + 1 WHERE user_id = ?1 AND purpose = ?2",
            params![&user.0[..], purpose],
        )?;
        return Err(ApiError::invalid_code());
    }
    Ok(())
}

/// Void a code that was used (the row stays, for the resend limits).
fn void_code(c: &Connection, user: &UserId, purpose: &str) -> ApiResult<()> {
    c.execute(
        "UPDATE email_codes SET attempts = ?3, expires_at = 0 WHERE user_id = ?1 AND purpose = ?2",
        params![&user.0[..], purpose, CODE_MAX_ATTEMPTS],
    )?;
    Ok(())
}

/// Consume a code: checked, then void (single use).
fn consume_code(
    c: &Connection,
    user: &UserId,
    purpose: &str,
    code: &str,
    now: Timestamp,
) -> ApiResult<()> {
    check_code(c, user, purpose, code, now)?;
    void_code(c, user, purpose)
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the account flows work with: the account rows, the time, the attempt throttle, the key
/// directory (told when keys change), mail (codes, with the server's address), and the
/// sessions and recordings registry they start or purge.
pub struct Accounts<'a> {
    pub db: &'a Db,
    pub clock: &'a dyn Clock,
    pub throttle: &'a Throttle,
    pub kt: &'a KeyDirectory,
    pub mailer: &'a Mailer,
    pub public_url: &'a str,
    pub sessions: Sessions<'a>,
    pub registry: Registry<'a>,
}

async fn send_code(cx: &Accounts<'_>, to: &str, purpose: &str, code: &str) {
    let (subject, what) = match purpose {
        PURPOSE_RECOVERY => ("Your Assent account recovery code", "recover your account"),
        _ => ("Your Assent verification code", "verify your email address"),
    };
    let text = format!(
        "Your code to {what} is {code}\n\nIt expires in 15 minutes and works once. If you did not ask for it, ignore this message.\n\n{}\n",
        cx.public_url
    );
    if let Err(e) = cx.mailer.send(to, subject, &text, &[]).await {
        tracing::warn!(error = %e, purpose, "could not send an email code");
    }
}

/// How long an account may wait for its email address to be verified.
pub const UNVERIFIED_TTL_MS: u64 = 24 * 3_600_000;

/// Delete accounts whose address was not verified within [`UNVERIFIED_TTL_MS`] (they were
/// never in the key directory and never signed in). Returns how many went.
pub async fn expire_unverified(db: &Db, now: Timestamp) -> ApiResult<usize> {
    let cutoff = now.0.saturating_sub(UNVERIFIED_TTL_MS) as i64;
    let n = db
        .run(move |c| -> ApiResult<usize> {
            Ok(c.execute(
                "DELETE FROM users WHERE email_verified = 0 AND created_at < ?1",
                [cutoff],
            )?)
        })
        .await?;
    if n > 0 {
        tracing::info!(accounts = n, "expired unverified accounts");
    }
    Ok(n)
}

/// `POST /v1/accounts`
/// Sign-ups one address may make in an hour, and sign-ups for one email in an hour.
pub const SIGNUPS_PER_IP_HOUR: u32 = 20;
pub const SIGNUPS_PER_EMAIL_HOUR: u32 = 5;

pub async fn signup(
    cx: &Accounts<'_>,
    ip: IpAddr,
    req: SignupRequest,
) -> ApiResult<SignupResponse> {
    let email = check_email(&req.email)?;

    let display_name = check_display_name(&req.display_name)?;
    let kdf = check_kdf(req.kdf)?;
    check_backup(&req.key_backup.0, req.salt, kdf)?;
    check_identity(&req.identity)?;
    let now = cx.clock.now();
    crate::directory::check_possession(
        &req.identity,
        &req.possession,
        &email,
        &cx.kt.keys().signing,
        now,
    )?;
    // Well-formed, before any hashing or mail: a flood of sign-ups from one address, or for
    // one email, waits.
    let spent = spend_signup_budget(cx.throttle, &email, ip, now)?;
    let verifier = match hash(&req.auth_secret).await {
        Ok(v) => v,
        // Nothing was done: a sign-up tried again (clients do) does not spend the budget twice.
        Err(e) => {
            for key in &spent {
                cx.throttle.refund(key);
            }
            return Err(e);
        }
    };
    let id = UserId::random();
    let to = email.clone();
    let row = NewAccount {
        id,
        email,
        display_name,
        verifier,
        salt: req.salt,
        kdf,
        backup: req.key_backup.0,
        recovery: recovery_verifier(&req.recovery_proof.0),
        identity: req.identity,
    };
    let code = cx.db.run(move |c| insert_account(c, &row, now)).await?;
    if let Some(code) = code {
        send_code(cx, &to, PURPOSE_VERIFY, &code).await;
    }
    tracing::info!(user = %id, "account created");
    Ok(SignupResponse { user_id: id })
}

/// Spend one sign-up from the email's and the address's hourly budgets (both or neither);
/// the keys spent, to refund if nothing comes of it.
fn spend_signup_budget(
    throttle: &Throttle,
    email: &str,
    ip: IpAddr,
    now: Timestamp,
) -> ApiResult<[String; 2]> {
    let slow = |retry_after_secs| ApiError::SlowDown { retry_after_secs };
    let by_email = format!("signup-email:{}", email.to_lowercase());
    let by_ip = format!("signup-ip:{ip}");
    throttle
        .budget(&by_email, SIGNUPS_PER_EMAIL_HOUR, 3_600_000, now)
        .map_err(slow)?;
    if let Err(e) = throttle.budget(&by_ip, SIGNUPS_PER_IP_HOUR, 3_600_000, now) {
        throttle.refund(&by_email);
        return Err(slow(e));
    }
    Ok([by_email, by_ip])
}

/// A new account's row, as sign-up stores it.
struct NewAccount {
    id: UserId,
    email: String,
    display_name: String,
    verifier: String,
    salt: assent_shared::backup::Salt,
    kdf: KdfParams,
    backup: Vec<u8>,
    recovery: [u8; 32],
    identity: PublicIdentity,
}

/// Store a new account with its identity and an email code (taking the address from an
/// unverified account that claimed it, never from a verified one).
fn insert_account(
    c: &mut Connection,
    row: &NewAccount,
    now: Timestamp,
) -> ApiResult<Option<String>> {
    let tx = c.transaction()?;
    let existing: Option<bool> = tx
        .query_row(
            "SELECT email_verified FROM users WHERE email = ?1",
            [&row.email],
            |r| r.get(0),
        )
        .optional()?;
    match existing {
        Some(true) => {
            return Err(ApiError::new(
                ErrorCode::EmailTaken,
                "an account with this email address exists",
            ));
        }
        // Nobody proved this address yet: whoever can read its mail may claim it. The
        // unverified account (never in the key directory) goes.
        Some(false) => {
            tx.execute(
                "DELETE FROM users WHERE email = ?1 AND email_verified = 0",
                [&row.email],
            )?;
        }
        None => {}
    }
    tx.execute(
        "INSERT INTO users (id, email, display_name, verifier, salt, kdf_memory_kib, kdf_iterations, kdf_lanes, key_backup, created_at, recovery_verifier)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![&row.id.0[..], row.email, row.display_name, row.verifier, &row.salt.0[..], row.kdf.memory_kib, row.kdf.iterations, row.kdf.lanes, row.backup, now.0 as i64, &row.recovery[..]],
    )?;
    crate::directory::append_identity(&tx, &row.id.0, &row.identity, now)?;
    let code = issue_code(&tx, &row.id, PURPOSE_VERIFY, now)?;
    tx.commit()?;
    Ok(code)
}

/// Throttle-check an email-code attempt.
fn code_throttle(cx: &Accounts<'_>, scope: &str, email: &str, ip: IpAddr) -> ApiResult<()> {
    cx.throttle
        .check(scope, email, ip, cx.clock.now())
        .map_err(|retry_after_secs| ApiError::SlowDown { retry_after_secs })
}

/// `POST /v1/accounts/verify`
pub async fn verify_email(cx: &Accounts<'_>, ip: IpAddr, req: EmailCode) -> ApiResult<()> {
    code_throttle(cx, "verify", &req.email, ip)?;
    let now = cx.clock.now();
    let email = req.email.clone();
    let result = cx
        .db
        .run(move |c| -> ApiResult<()> {
            let acct = by_email(c, &email)?.ok_or_else(ApiError::invalid_code)?;
            if acct.email_verified {
                return Ok(());
            }
            consume_code(c, &acct.id, PURPOSE_VERIFY, &req.code, now)?;
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE users SET email_verified = 1 WHERE id = ?1",
                [&acct.id.0[..]],
            )?;
            // The verified email now names the account's key in the transparency log.
            let bundle: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT bundle FROM identities WHERE user_id = ?1 ORDER BY seq DESC LIMIT 1",
                    [&acct.id.0[..]],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(identity) = bundle.and_then(|b| PublicIdentity::from_bytes(&b).ok()) {
                crate::kt::enqueue_identity(&tx, &acct.email, &identity, now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await;
    match &result {
        Ok(()) => cx.kt.changed(),
        Err(_) => cx.throttle.failure("verify", &req.email, ip, now),
    }
    result
}

/// Throttle, then issue and mail a fresh code to an eligible account. The response is the same
/// whether or not anything was sent, so it reveals nothing about which accounts exist.
async fn send_fresh_code(
    cx: &Accounts<'_>,
    ip: IpAddr,
    scope: &'static str,
    email: &str,
    purpose: &'static str,
    eligible: fn(&Account) -> bool,
) -> ApiResult<()> {
    code_throttle(cx, scope, email, ip)?;
    let now = cx.clock.now();
    cx.throttle.failure(scope, email, ip, now);
    let lookup = email.to_string();
    let code = cx
        .db
        .run(move |c| -> ApiResult<Option<(String, String)>> {
            let Some(acct) = by_email(c, &lookup)?.filter(eligible) else {
                return Ok(None);
            };
            Ok(issue_code(c, &acct.id, purpose, now)?.map(|code| (acct.email, code)))
        })
        .await?;
    if let Some((to, code)) = code {
        send_code(cx, &to, purpose, &code).await;
    }
    Ok(())
}

/// `POST /v1/accounts/verify/resend`: always 202 (does not reveal whether the account exists).
pub async fn resend_verification(cx: &Accounts<'_>, ip: IpAddr, req: EmailOnly) -> ApiResult<()> {
    send_fresh_code(cx, ip, "resend", &req.email, PURPOSE_VERIFY, |a| {
        !a.email_verified
    })
    .await
}

/// `GET /v1/prelogin?email=`
pub async fn prelogin(db: &Db, secret: &[u8; 32], email: String) -> ApiResult<Prelogin> {
    let lookup = email.clone();
    let found = db
        .run(move |c| -> ApiResult<Option<Account>> { Ok(by_email(c, &lookup)?) })
        .await?;
    Ok(match found {
        Some(a) => Prelogin {
            salt: a.salt,
            kdf: a.kdf,
        },
        None => {
            // A stable made-up salt, so unknown and known addresses look alike.
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .map_err(|_| ApiError::Internal("hmac key".into()))?;
            mac.update(b"assent/v1/fake-salt");
            mac.update(email.trim().to_lowercase().as_bytes());
            let out = mac.finalize().into_bytes();
            let mut salt = [0u8; 16];
            salt.copy_from_slice(&out[..16]);
            Prelogin {
                salt: Salt(salt),
                kdf: KdfParams::DEFAULT,
            }
        }
    })
}

pub fn me(a: &Account) -> Me {
    Me {
        user_id: a.id,
        email: a.email.clone(),
        display_name: a.display_name.clone(),
        role: a.role.clone(),
        totp_enabled: a.totp_enabled,
        created_at: a.created_at,
    }
}

/// `DELETE /v1/me`: needs the current authentication secret.
pub async fn delete_account(cx: &Accounts<'_>, user: UserId, req: Confirm) -> ApiResult<()> {
    let acct = cx
        .db
        .run(move |c| -> ApiResult<Option<Account>> { Ok(by_id(c, &user)?) })
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    if !verify_secret(Some(acct.verifier), &req.auth_secret).await? {
        return Err(ApiError::invalid_credentials());
    }
    // The cloud copies of recordings this account made go with it (their registry rows would
    // go by cascade; the objects must not be left behind).
    crate::recordings::purge_recorded_by(&cx.registry, user).await?;
    let now = cx.clock.now();
    cx.db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            // The email's entry in the transparency log says the account is gone.
            if acct.email_verified {
                crate::kt::enqueue(
                    &tx,
                    &acct.email,
                    assent_shared::transparency::deleted_value(),
                    now,
                )?;
            }
            tx.execute("DELETE FROM users WHERE id = ?1", [&user.0[..]])?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    cx.kt.changed();
    cx.sessions.sockets.close_user(user, None);
    tracing::info!(%user, "account deleted");
    Ok(())
}

/// `PUT /v1/me/password`: new verifier, salt, parameters and re-sealed backup; every other
/// session is signed out.
pub async fn change_password(
    db: &Db,
    sockets: &LiveSockets,
    user: UserId,
    session: Vec<u8>,
    req: ChangePassword,
) -> ApiResult<()> {
    let kdf = check_kdf(req.new_kdf)?;
    check_backup(&req.new_key_backup.0, req.new_salt, kdf)?;
    let acct = db
        .run(move |c| -> ApiResult<Option<Account>> { Ok(by_id(c, &user)?) })
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    if !verify_secret(Some(acct.verifier), &req.auth_secret).await? {
        return Err(ApiError::invalid_credentials());
    }
    let verifier = hash(&req.new_auth_secret).await?;
    let salt = req.new_salt;
    let backup = req.new_key_backup.0;
    let recovery = recovery_verifier(&req.recovery_proof.0);
    let keep = session.clone();
    db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE users SET verifier = ?2, salt = ?3, kdf_memory_kib = ?4, kdf_iterations = ?5, kdf_lanes = ?6, key_backup = ?7, recovery_verifier = ?8 WHERE id = ?1",
                params![&user.0[..], verifier, &salt.0[..], kdf.memory_kib, kdf.iterations, kdf.lanes, backup, &recovery[..]],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1 AND id != ?2", params![&user.0[..], session])?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    // The other devices are signed out: their live connections too.
    sockets.close_user(user, Some(&keep));
    Ok(())
}

/// `GET /v1/me/key-backup`
pub async fn key_backup(db: &Db, user: UserId) -> ApiResult<KeyBackupBody> {
    db.run(move |c| -> ApiResult<KeyBackupBody> {
        let b: Option<Vec<u8>> = c.query_row(
            "SELECT key_backup FROM users WHERE id = ?1",
            [&user.0[..]],
            |r| r.get(0),
        )?;
        Ok(KeyBackupBody {
            key_backup: b.map(B64),
        })
    })
    .await
}

/// `POST /v1/recovery`: send a recovery code to a verified account; always 202.
pub async fn start_recovery(cx: &Accounts<'_>, ip: IpAddr, req: EmailOnly) -> ApiResult<()> {
    send_fresh_code(
        cx,
        ip,
        "recovery-start",
        &req.email,
        PURPOSE_RECOVERY,
        |a| a.email_verified && !a.disabled,
    )
    .await
}

/// The error when the account cannot be recovered this way (made before recovery proofs).
fn recovery_unavailable() -> ApiError {
    ApiError::new(
        ErrorCode::RecoveryUnavailable,
        "this account has no recovery proof yet: sign in on a device that knows the password \
         and change the password once to turn recovery on",
    )
}

/// `POST /v1/recovery/verify`: the email code (and the TOTP code when two-factor is on) buys
/// a short-lived ticket and the backup's recovery half, which opens with the recovery code
/// only. The password-wrapped part is not handed out: it would let whoever reads the mailbox
/// guess the password offline.
pub async fn verify_recovery(
    cx: &Accounts<'_>,
    ip: IpAddr,
    req: RecoveryVerify,
) -> ApiResult<RecoveryTicket> {
    code_throttle(cx, "recovery", &req.email, ip)?;
    let now = cx.clock.now();
    let email = req.email.clone();
    let result = cx
        .db
        .run(move |c| -> ApiResult<RecoveryTicket> {
            let acct = by_email(c, &email)?
                .filter(|a| a.email_verified && !a.disabled)
                .ok_or_else(ApiError::invalid_code)?;
            check_code(c, &acct.id, PURPOSE_RECOVERY, &req.code, now)?;
            if acct.totp_enabled {
                let code = req.totp.as_deref().ok_or_else(crate::totp::required)?;
                crate::totp::consume(c, &acct, code, now)?;
            }
            let (backup, verifier) = recovery_material(c, &acct.id.0)?;
            let half = backup
                .and_then(|b| KeyBackup::from_bytes(&b).ok())
                .filter(|_| verifier.is_some())
                .ok_or_else(recovery_unavailable)?
                .recovery_half();
            // The code stays good until a recovery completes (a mistyped recovery code does
            // not cost the mail), but each ticket counts as one of its five tries.
            c.execute(
                "UPDATE email_codes SET attempts = attempts + 1 WHERE user_id = ?1 AND purpose = ?2",
                params![&acct.id.0[..], PURPOSE_RECOVERY],
            )?;
            let (ticket, hash) = secrets::new_token();
            c.execute(
                "INSERT INTO recovery_tickets (ticket_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![hash, &acct.id.0[..], now.plus_millis(TICKET_TTL_MS).0 as i64],
            )?;
            Ok(RecoveryTicket {
                ticket,
                recovery_half: B64(half.to_bytes()),
            })
        })
        .await;
    if result.is_err() {
        cx.throttle.failure("recovery", &req.email, ip, now);
    }
    result
}

/// An account's stored key backup and recovery verifier (either may be missing).
type RecoveryMaterial = (Option<Vec<u8>>, Option<Vec<u8>>);

fn recovery_material(c: &Connection, user: &[u8]) -> ApiResult<RecoveryMaterial> {
    Ok(c.query_row(
        "SELECT key_backup, recovery_verifier FROM users WHERE id = ?1",
        [user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Wrong recovery proofs a ticket allows before it is void.
pub const TICKET_MAX_PROOFS: i64 = 3;

/// A recovery's ticket (unexpired, tries left), proof (its account's recovery verifier, a
/// wrong one counted) and new backup (sealing the same keys): the account's id.
fn check_recovery(
    c: &mut Connection,
    ticket_hash: &[u8],
    proof: &[u8],
    new_backup: &KeyBackup,
    now: Timestamp,
) -> ApiResult<Vec<u8>> {
    let row: Option<(Vec<u8>, i64, i64)> = c
        .query_row(
            "SELECT user_id, expires_at, attempts FROM recovery_tickets WHERE ticket_hash = ?1",
            [ticket_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((user, _, _)) = row.filter(|(_, e, a)| now.0 as i64 <= *e && *a < TICKET_MAX_PROOFS)
    else {
        return Err(ApiError::invalid_code());
    };
    let (stored, verifier) = recovery_material(c, &user)?;
    let verifier = verifier.ok_or_else(recovery_unavailable)?;
    if !subtle_eq(&verifier, proof) {
        c.execute(
            "UPDATE recovery_tickets SET attempts = attempts + 1 WHERE ticket_hash = ?1",
            [ticket_hash],
        )?;
        return Err(ApiError::new(
            ErrorCode::BadRecoveryProof,
            "the recovery code does not belong to this account",
        ));
    }
    let same = stored
        .and_then(|b| KeyBackup::from_bytes(&b).ok())
        .is_some_and(|b| b.same_keys(new_backup));
    if !same {
        return Err(ApiError::new(
            ErrorCode::InvalidKeyBackup,
            "a recovery keeps the keys: the new backup must seal the same ones",
        ));
    }
    Ok(user)
}

/// `POST /v1/recovery/complete`: the recovery proof (which only the recovery code or the
/// password can make) and a new password whose backup holds the same keys. Every session is
/// signed out and every live connection of the account closed.
pub async fn complete_recovery(
    cx: &Accounts<'_>,
    req: RecoveryComplete,
) -> ApiResult<assent_shared::api::SigninResponse> {
    let device = crate::sessions::check_device(&req.device)?;
    let kdf = check_kdf(req.new_kdf)?;
    check_backup(&req.new_key_backup.0, req.new_salt, kdf)?;
    let new_backup = KeyBackup::from_bytes(&req.new_key_backup.0)
        .map_err(|_| ApiError::new(ErrorCode::InvalidKeyBackup, "the key backup does not parse"))?;
    let now = cx.clock.now();
    let ticket_hash = secrets::token_hash(&req.ticket);
    let proof = recovery_verifier(&req.recovery_proof.0);
    // The ticket and the proof first: the Argon2 work is only done for a caller who has both.
    let user = cx
        .db
        .run(move |c| check_recovery(c, &ticket_hash, &proof, &new_backup, now))
        .await?;
    let verifier = hash(&req.new_auth_secret).await?;
    let salt = req.new_salt;
    let backup = req.new_key_backup.0;
    let ticket_hash = secrets::token_hash(&req.ticket);
    let id = user.clone();
    cx
        .db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            // Single use: only the request that deletes the ticket goes on.
            if tx.execute("DELETE FROM recovery_tickets WHERE ticket_hash = ?1", [&ticket_hash])? != 1 {
                return Err(ApiError::invalid_code());
            }
            tx.execute(
                "UPDATE users SET verifier = ?2, salt = ?3, kdf_memory_kib = ?4, kdf_iterations = ?5, kdf_lanes = ?6, key_backup = ?7 WHERE id = ?1",
                params![id, verifier, &salt.0[..], kdf.memory_kib, kdf.iterations, kdf.lanes, backup],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&id])?;
            tx.execute("DELETE FROM recovery_tickets WHERE user_id = ?1", [&id])?;
            // The recovery code is used up with the recovery.
            if let Ok(arr) = <[u8; 16]>::try_from(id.as_slice()) {
                void_code(&tx, &UserId(arr), PURPOSE_RECOVERY)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    let user = UserId(
        <[u8; 16]>::try_from(user.as_slice()).map_err(|_| ApiError::Internal("user id".into()))?,
    );
    tracing::info!(%user, "account recovered");
    cx.sessions.sockets.close_user(user, None);
    crate::sessions::create(&cx.sessions, cx.clock.now(), user, device).await
}

#[cfg(test)]
mod tests;

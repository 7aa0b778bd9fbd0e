//! Accounts: sign-up, email verification codes, the profile, password change, account deletion
//! and recovery. The server stores an Argon2id verifier of the client-derived authentication
//! secret and the sealed key backup; it never sees the password or any private key. The
//! rows are `store.rs`'s.

pub mod store;

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
use rusqlite::Connection;
use sha2::Sha256;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::kt::KeyDirectory;
use crate::mail::Mailer;
use crate::recordings::Registry;
use crate::secrets;
use crate::sessions::{self, Sessions};
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
    let mut sent_today = 1;
    if let Some((sent_at, count)) = store::code_sent(c, *user, purpose)? {
        let since = now.millis_since(sent_at);
        if since < CODE_RESEND_MS {
            return Ok(None);
        }
        sent_today = if since < 24 * 3_600_000 { count + 1 } else { 1 };
        if sent_today > CODE_MAX_PER_DAY {
            return Ok(None);
        }
    }
    let code = secrets::new_code();
    let row = store::NewCode {
        user: *user,
        purpose,
        hash: secrets::code_hash(&user.0, purpose, &code),
        expires_at: now.plus_millis(CODE_TTL_MS),
        sent_at: now,
        sent_today,
    };
    store::put_code(c, &row)?;
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
    let Some(kept) = store::code(c, *user, purpose)? else {
        return Err(ApiError::invalid_code());
    };
    if now.0 as i64 > kept.expires_at || kept.attempts >= CODE_MAX_ATTEMPTS {
        return Err(ApiError::invalid_code());
    }
    let given = secrets::code_hash(&user.0, purpose, code.trim());
    if !subtle_eq(&given, &kept.hash) {
        store::count_code_try(c, *user, purpose)?;
        return Err(ApiError::invalid_code());
    }
    Ok(())
}

/// Void a code that was used (the row stays, for the resend limits).
fn void_code(c: &Connection, user: &UserId, purpose: &str) -> ApiResult<()> {
    Ok(store::void_code(c, *user, purpose, CODE_MAX_ATTEMPTS)?)
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
    let cutoff = Timestamp(now.0.saturating_sub(UNVERIFIED_TTL_MS));
    let n = db
        .run(move |c| -> ApiResult<usize> { Ok(store::delete_unverified_before(c, cutoff)?) })
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
    let row = store::NewAccount {
        id,
        email,
        display_name,
        verifier,
        salt: req.salt,
        kdf,
        backup: req.key_backup.0,
        recovery: recovery_verifier(&req.recovery_proof.0),
    };
    let identity = req.identity;
    let code = cx
        .db
        .run(move |c| insert_account(c, &row, &identity, now))
        .await?;
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

/// Store a new account with its identity and an email code (taking the address from an
/// unverified account that claimed it, never from a verified one).
fn insert_account(
    c: &mut Connection,
    row: &store::NewAccount,
    identity: &PublicIdentity,
    now: Timestamp,
) -> ApiResult<Option<String>> {
    let tx = c.transaction()?;
    match store::email_verified(&tx, &row.email)? {
        Some(true) => {
            return Err(ApiError::new(
                ErrorCode::EmailTaken,
                "an account with this email address exists",
            ));
        }
        // Nobody proved this address yet: whoever can read its mail may claim it. The
        // unverified account (never in the key directory) goes.
        Some(false) => store::delete_unverified(&tx, &row.email)?,
        None => {}
    }
    store::insert(&tx, row, now)?;
    crate::directory::append_identity(&tx, &row.id.0, identity, now)?;
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
            store::mark_verified(&tx, acct.id)?;
            // The verified email now names the account's key in the transparency log.
            let newest = crate::directory::store::latest(&tx, &acct.id.0)?;
            if let Some(identity) = newest.and_then(|(_, b)| PublicIdentity::from_bytes(&b).ok()) {
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
        role: a.role,
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
            store::delete(&tx, user)?;
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
    let password = store::NewPassword {
        verifier: hash(&req.new_auth_secret).await?,
        salt: req.new_salt,
        kdf,
        backup: req.new_key_backup.0,
    };
    let recovery = recovery_verifier(&req.recovery_proof.0);
    let keep = session.clone();
    db.run(move |c| -> ApiResult<()> {
        let tx = c.transaction()?;
        store::set_password(&tx, user, &password)?;
        store::set_recovery_verifier(&tx, user, &recovery)?;
        sessions::store::delete_others(&tx, user, &session)?;
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
        Ok(KeyBackupBody {
            key_backup: store::key_backup(c, user)?.map(B64),
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
            let (backup, verifier) = store::recovery_material(c, acct.id)?;
            let half = backup
                .and_then(|b| KeyBackup::from_bytes(&b).ok())
                .filter(|_| verifier.is_some())
                .ok_or_else(recovery_unavailable)?
                .recovery_half();
            // The code stays good until a recovery completes (a mistyped recovery code does
            // not cost the mail), but each ticket counts as one of its five tries.
            store::count_code_try(c, acct.id, PURPOSE_RECOVERY)?;
            let (ticket, hash) = secrets::new_token();
            store::insert_ticket(c, &hash, acct.id, now.plus_millis(TICKET_TTL_MS))?;
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
) -> ApiResult<UserId> {
    let ticket = store::ticket(c, ticket_hash)?
        .filter(|t| now.0 as i64 <= t.expires_at && t.attempts < TICKET_MAX_PROOFS);
    let Some(store::Ticket { user, .. }) = ticket else {
        return Err(ApiError::invalid_code());
    };
    let (stored, verifier) = store::recovery_material(c, user)?;
    let verifier = verifier.ok_or_else(recovery_unavailable)?;
    if !subtle_eq(&verifier, proof) {
        store::count_ticket_try(c, ticket_hash)?;
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
    let password = store::NewPassword {
        verifier: hash(&req.new_auth_secret).await?,
        salt: req.new_salt,
        kdf,
        backup: req.new_key_backup.0,
    };
    let ticket_hash = secrets::token_hash(&req.ticket);
    cx.db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            // Single use: only the request that deletes the ticket goes on.
            if !store::take_ticket(&tx, &ticket_hash)? {
                return Err(ApiError::invalid_code());
            }
            store::set_password(&tx, user, &password)?;
            sessions::store::delete_all(&tx, user)?;
            store::delete_tickets(&tx, user)?;
            // The recovery code is used up with the recovery.
            void_code(&tx, &user, PURPOSE_RECOVERY)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    tracing::info!(%user, "account recovered");
    cx.sessions.sockets.close_user(user, None);
    crate::sessions::create(&cx.sessions, cx.clock.now(), user, device).await
}

#[cfg(test)]
mod tests;

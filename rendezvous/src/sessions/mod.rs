//! Sign-in, session tokens (random, stored hashed, revocable) and who is asking. The rows
//! are `store.rs`'s.

pub mod store;

use assent_shared::api::ErrorCode;
use std::net::IpAddr;

use assent_shared::api::{AccountRole, SessionInfo, SigninRequest, SigninResponse};
use assent_shared::ids::UserId;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::secrets;
use crate::signaling::LiveSockets;
use crate::throttle::Throttle;
use crate::totp;
use crate::users::{self, Account};
use assent_shared::Timestamp;

/// Update `last_used_at` at most this often.
const TOUCH_EVERY_MS: u64 = 60_000;

/// What signing in and out works with: the sessions' rows, the attempt throttle, the live
/// signaling connections (ended with their session) and how long a session lasts.
pub struct Sessions<'a> {
    pub db: &'a Db,
    pub throttle: &'a Throttle,
    pub sockets: &'a LiveSockets,
    pub session_days: u64,
}

/// `POST /v1/sessions`
pub async fn signin(
    cx: &Sessions<'_>,
    now: Timestamp,
    ip: IpAddr,
    req: SigninRequest,
) -> ApiResult<SigninResponse> {
    let device = check_device(&req.device)?;
    cx.throttle
        .check("signin", &req.email, ip, now)
        .map_err(|retry_after_secs| ApiError::SlowDown { retry_after_secs })?;
    let email = req.email.clone();
    let acct = cx
        .db
        .run(move |c| -> ApiResult<Option<Account>> { Ok(users::by_email(c, &email)?) })
        .await?;
    let ok =
        users::verify_secret(acct.as_ref().map(|a| a.verifier.clone()), &req.auth_secret).await?;
    let acct = match acct {
        Some(a) if ok => a,
        _ => {
            cx.throttle.failure("signin", &req.email, ip, now);
            return Err(ApiError::invalid_credentials());
        }
    };
    if acct.disabled {
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "an administrator disabled this account",
        ));
    }
    if !acct.email_verified {
        return Err(ApiError::new(
            ErrorCode::EmailUnverified,
            "verify your email address first",
        ));
    }
    if acct.totp_enabled {
        let Some(code) = req.totp.clone() else {
            return Err(totp::required());
        };
        let a = acct.clone();
        let used = cx.db.run(move |c| totp::consume(c, &a, &code, now)).await;
        if let Err(e) = used {
            cx.throttle.failure("signin", &req.email, ip, now);
            return Err(e);
        }
    }
    cx.throttle.success("signin", &req.email, ip, now);
    let resp = create(cx, now, acct.id, device).await?;
    tracing::info!(user = %acct.id, "signed in");
    Ok(resp)
}

/// A device name: 1 to 64 characters, no control characters.
pub fn check_device(device: &str) -> ApiResult<String> {
    let device = device.trim().to_string();
    if device.is_empty() || device.chars().count() > 64 || device.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidDevice,
            "a device name has 1 to 64 characters",
        ));
    }
    Ok(device)
}

/// A new session for `user` on `device`.
pub async fn create(
    cx: &Sessions<'_>,
    now: Timestamp,
    user: UserId,
    device: String,
) -> ApiResult<SigninResponse> {
    let (token, hash) = secrets::new_token();
    let session_id = UserId::random();
    let expires_at = now.plus_millis(cx.session_days * 24 * 3_600_000);
    let row = store::NewSession {
        id: session_id,
        user,
        token_hash: hash,
        device,
        now,
        expires_at,
    };
    cx.db
        .run(move |c| -> ApiResult<()> { Ok(store::insert(c, &row)?) })
        .await?;
    Ok(SigninResponse {
        token,
        session_id: session_id.to_string(),
        user_id: user,
        expires_at: expires_at.0,
    })
}

/// The user behind a valid `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub session: Vec<u8>,
    pub role: AccountRole,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == AccountRole::Admin
    }

    /// Who is asking, as the services see it.
    pub fn caller(&self) -> Caller {
        Caller {
            id: self.id,
            admin: self.is_admin(),
        }
    }
}

/// Who is asking, for a service: the account and whether it administers the organisation
/// (how the request was authenticated is the HTTP layer's business).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub admin: bool,
}

/// Resolve a session token (also used by the signaling socket).
pub async fn authenticate(db: &Db, now: Timestamp, token: &str) -> ApiResult<AuthUser> {
    if token.len() > 128 {
        return Err(ApiError::unauthenticated());
    }
    let hash = secrets::token_hash(token);
    db.run(move |c| -> ApiResult<AuthUser> {
        let Some(row) = store::by_token(c, &hash)? else {
            return Err(ApiError::unauthenticated());
        };
        if row.disabled || now.0 as i64 > row.expires_at {
            return Err(ApiError::unauthenticated());
        }
        if now.0 as i64 - row.last_used_at > TOUCH_EVERY_MS as i64 {
            store::touch(c, &row.session, now)?;
        }
        let id = UserId(
            row.user
                .try_into()
                .map_err(|_| ApiError::Internal("bad user id".into()))?,
        );
        Ok(AuthUser {
            id,
            session: row.session,
            role: row.role,
        })
    })
    .await
}

/// `GET /v1/sessions`
pub async fn list(db: &Db, user: &AuthUser) -> ApiResult<Vec<SessionInfo>> {
    let (id, current) = (user.id, user.session.clone());
    db.run(move |c| -> ApiResult<Vec<SessionInfo>> { Ok(store::of_user(c, id, &current)?) })
        .await
}

/// `DELETE /v1/sessions/{id}` (`current` for this one): only the user's own sessions.
pub async fn revoke(cx: &Sessions<'_>, user: &AuthUser, which: &str) -> ApiResult<()> {
    let target = if which == "current" {
        user.session.clone()
    } else {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(which.as_bytes())
            .map_err(|_| ApiError::not_found())?
    };
    let id = user.id;
    let target_copy = target.clone();
    let found = cx
        .db
        .run(move |c| -> ApiResult<bool> { Ok(store::delete(c, &target, id)?) })
        .await?;
    if !found {
        Err(ApiError::not_found())
    } else {
        cx.sockets.close_session(user.id, &target_copy);
        Ok(())
    }
}

#[cfg(test)]
impl crate::testing::World {
    /// Signing in's view of the test world (sessions last 30 days).
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions {
            db: &self.db,
            throttle: &self.throttle,
            sockets: &self.sockets,
            session_days: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_checked_and_trimmed() {
        assert_eq!(check_device("  Ann's laptop ").unwrap(), "Ann's laptop");
        for bad in ["", "  ", "a\nb"] {
            assert!(
                matches!(
                    check_device(bad),
                    Err(ApiError::Refused {
                        code: ErrorCode::InvalidDevice,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(check_device(&"d".repeat(65)).is_err());
        assert!(check_device(&"d".repeat(64)).is_ok());
    }

    use crate::testing::{T0, World, user};

    const DAY: u64 = 86_400_000;

    fn code_of<T: std::fmt::Debug>(r: ApiResult<T>) -> ErrorCode {
        r.expect_err("refused").code()
    }

    /// A session's token works until the session's lifetime is over, and not after it is
    /// revoked; a session is revoked only by its own user.
    #[tokio::test]
    async fn a_session_lasts_its_lifetime_and_ends_when_revoked() {
        let world = World::new();
        let (db, cx) = (&world.db, world.sessions());
        let (ann, bob) = (user(db, "ann", "user").await, user(db, "bob", "user").await);
        let made = create(&cx, T0, ann, "laptop".into()).await.unwrap();
        assert_eq!(made.expires_at, T0.0 + 30 * DAY);
        let me = authenticate(db, Timestamp(T0.0 + DAY), &made.token)
            .await
            .unwrap();
        assert_eq!(me.id, ann);
        let late = authenticate(db, Timestamp(T0.0 + 31 * DAY), &made.token).await;
        assert_eq!(code_of(late), ErrorCode::Unauthenticated);
        assert_eq!(
            code_of(authenticate(db, T0, "not a token").await),
            ErrorCode::Unauthenticated
        );

        let listed = list(db, &me).await.unwrap();
        assert_eq!(listed.len(), 1);
        let bob_session = create(&cx, T0, bob, "phone".into()).await.unwrap();
        let bob_me = authenticate(db, T0, &bob_session.token).await.unwrap();
        let not_his = revoke(&cx, &bob_me, &listed[0].id).await;
        assert_eq!(code_of(not_his), ErrorCode::NotFound);
        authenticate(db, T0, &made.token).await.unwrap();

        revoke(&cx, &me, "current").await.unwrap();
        assert_eq!(
            code_of(authenticate(db, T0, &made.token).await),
            ErrorCode::Unauthenticated
        );
        authenticate(db, T0, &bob_session.token).await.unwrap();
    }
}

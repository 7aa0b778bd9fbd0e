//! Sign-in, session tokens (random, stored hashed, revocable) and the authenticated-user
//! extractor.

use assent_shared::api::ErrorCode;
use std::net::IpAddr;

use assent_shared::api::{SessionInfo, SigninRequest, SigninResponse};
use assent_shared::ids::UserId;
use rusqlite::{OptionalExtension, params};

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
    cx
        .db
        .run(move |c| -> ApiResult<()> {
            c.execute(
                "INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_used_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                params![&session_id.0[..], &user.0[..], hash, device, now.0 as i64, expires_at.0 as i64],
            )?;
            Ok(())
        })
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
    pub role: String,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
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

/// session id, user id, expires_at, last_used_at, role, disabled
type SessionRow = (Vec<u8>, Vec<u8>, i64, i64, String, bool);

/// Resolve a session token (also used by the signaling socket).
pub async fn authenticate(db: &Db, now: Timestamp, token: &str) -> ApiResult<AuthUser> {
    if token.len() > 128 {
        return Err(ApiError::unauthenticated());
    }
    let hash = secrets::token_hash(token);
    db.run(move |c| -> ApiResult<AuthUser> {
        let row: Option<SessionRow> = c
            .query_row(
                "SELECT s.id, s.user_id, s.expires_at, s.last_used_at, u.role, u.disabled
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
                [&hash],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((session, user, expires_at, last_used, role, disabled)) = row else {
            return Err(ApiError::unauthenticated());
        };
        if disabled || now.0 as i64 > expires_at {
            return Err(ApiError::unauthenticated());
        }
        if now.0 as i64 - last_used > TOUCH_EVERY_MS as i64 {
            c.execute(
                "UPDATE sessions SET last_used_at = ?2 WHERE id = ?1",
                params![session, now.0 as i64],
            )?;
        }
        let id = UserId(
            user.try_into()
                .map_err(|_| ApiError::Internal("bad user id".into()))?,
        );
        Ok(AuthUser { id, session, role })
    })
    .await
}

/// `GET /v1/sessions`
pub async fn list(db: &Db, user: &AuthUser) -> ApiResult<Vec<SessionInfo>> {
    let (id, current) = (user.id, user.session.clone());
    db
        .run(move |c| -> ApiResult<Vec<SessionInfo>> {
            let mut st = c.prepare(
                "SELECT id, device, created_at, last_used_at, expires_at FROM sessions WHERE user_id = ?1 ORDER BY created_at",
            )?;
            let rows = st.query_map([&id.0[..]], |r| {
                let sid: Vec<u8> = r.get(0)?;
                Ok(SessionInfo {
                    id: data_encoding::HEXLOWER.encode(&sid),
                    current: sid == current,
                    device: r.get(1)?,
                    created_at: r.get::<_, i64>(2)? as u64,
                    last_used_at: r.get::<_, i64>(3)? as u64,
                    expires_at: r.get::<_, i64>(4)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
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
    let n = cx
        .db
        .run(move |c| -> ApiResult<usize> {
            Ok(c.execute(
                "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
                params![target, &id.0[..]],
            )?)
        })
        .await?;
    if n == 0 {
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

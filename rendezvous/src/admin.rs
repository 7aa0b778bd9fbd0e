//! Organisation administration: list users, disable or re-enable them. An administrator can
//! never decrypt anything: the server holds no keys.

use assent_shared::api::AdminUser;
use assent_shared::ids::UserId;
use rusqlite::params;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::sessions::AuthUser;
use crate::signaling::LiveSockets;

fn require_admin(user: &AuthUser) -> ApiResult<()> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// `GET /v1/admin/users`
pub async fn list(db: &Db, user: &AuthUser) -> ApiResult<Vec<AdminUser>> {
    require_admin(user)?;
    db
        .run(|c| -> ApiResult<Vec<AdminUser>> {
            let mut st = c.prepare(
                "SELECT id, email, display_name, role, email_verified, disabled, created_at FROM users ORDER BY created_at",
            )?;
            let rows = st.query_map([], |r| {
                let id: Vec<u8> = r.get(0)?;
                Ok(AdminUser {
                    user_id: UserId(id.try_into().unwrap_or([0; 16])),
                    email: r.get(1)?,
                    display_name: r.get(2)?,
                    role: r.get(3)?,
                    email_verified: r.get(4)?,
                    disabled: r.get(5)?,
                    created_at: r.get::<_, i64>(6)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// `POST /v1/admin/users/{id}/disabled`: disabling also signs the user out everywhere.
pub async fn set_disabled(
    db: &Db,
    sockets: &LiveSockets,
    user: &AuthUser,
    target: UserId,
    disabled: bool,
) -> ApiResult<()> {
    require_admin(user)?;
    if target == user.id {
        return Err(ApiError::forbidden());
    }
    let n = db
        .run(move |c| -> ApiResult<usize> {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE users SET disabled = ?2 WHERE id = ?1",
                params![&target.0[..], disabled],
            )?;
            if disabled {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&target.0[..]])?;
            }
            tx.commit()?;
            Ok(n)
        })
        .await?;
    if n == 0 {
        Err(ApiError::not_found())
    } else {
        if disabled {
            sockets.close_user(target, None);
        }
        Ok(())
    }
}

/// Make an existing account an organisation administrator (the `admin promote` command).
pub fn promote(c: &rusqlite::Connection, email: &str) -> rusqlite::Result<usize> {
    c.execute(
        "UPDATE users SET role = 'admin' WHERE email = ?1",
        [email.trim()],
    )
}

#[cfg(test)]
mod tests {
    use assent_shared::api::ErrorCode;

    use super::*;
    use crate::sessions::{authenticate, create};
    use crate::testing::{T0, World};

    /// A signed-in user with `role` (a session of its own is not needed here).
    async fn user(db: &Db, name: &str, role: &str) -> AuthUser {
        AuthUser {
            id: crate::testing::user(db, name, role).await,
            session: vec![],
            role: role.into(),
        }
    }

    /// Only an administrator disables, never themself; disabling signs the user out and
    /// keeps them out until they are enabled again.
    #[tokio::test]
    async fn disabling_is_for_administrators_and_signs_out() {
        let world = World::new();
        let (db, sockets, cx) = (&world.db, &world.sockets, world.sessions());
        let admin = user(db, "admin", "admin").await;
        let ann = user(db, "ann", "user").await;
        let session = create(&cx, T0, ann.id, "laptop".into()).await.unwrap();

        let by_user = set_disabled(db, sockets, &ann, admin.id, true).await;
        assert_eq!(by_user.unwrap_err().code(), ErrorCode::Forbidden);
        let own = set_disabled(db, sockets, &admin, admin.id, true).await;
        assert_eq!(own.unwrap_err().code(), ErrorCode::Forbidden);
        assert_eq!(
            list(db, &ann).await.unwrap_err().code(),
            ErrorCode::Forbidden
        );

        set_disabled(db, sockets, &admin, ann.id, true)
            .await
            .unwrap();
        let listed = list(db, &admin).await.unwrap();
        assert!(listed.iter().any(|u| u.user_id == ann.id && u.disabled));
        let gone = authenticate(db, T0, &session.token).await;
        assert_eq!(gone.unwrap_err().code(), ErrorCode::Unauthenticated);

        set_disabled(db, sockets, &admin, ann.id, false)
            .await
            .unwrap();
        let again = create(&cx, T0, ann.id, "laptop".into()).await.unwrap();
        authenticate(db, T0, &again.token).await.unwrap();
        let nobody = set_disabled(db, sockets, &admin, UserId::random(), true).await;
        assert_eq!(nobody.unwrap_err().code(), ErrorCode::NotFound);
    }
}

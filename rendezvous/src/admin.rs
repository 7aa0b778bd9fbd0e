//! Organisation administration: list users, disable or re-enable them. An administrator can
//! never decrypt anything: the server holds no keys.

use assent_shared::api::AdminUser;
use assent_shared::ids::UserId;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::sessions::{self, AuthUser};
use crate::signaling::LiveSockets;
use crate::users;

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
    db.run(|c| -> ApiResult<Vec<AdminUser>> { Ok(users::store::all(c)?) })
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
    let found = db
        .run(move |c| -> ApiResult<bool> {
            let tx = c.transaction()?;
            let found = users::store::set_disabled(&tx, target, disabled)?;
            if disabled {
                sessions::store::delete_all(&tx, target)?;
            }
            tx.commit()?;
            Ok(found)
        })
        .await?;
    if !found {
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
    users::store::promote(c, email)
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
            role: assent_shared::api::AccountRole::parse(role),
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

//! For the services' unit tests: account rows and the sessions' parts on an in-memory
//! database (`Db::in_memory`).

use assent_shared::Timestamp;
use assent_shared::ids::UserId;
use rusqlite::{Connection, params};

use crate::db::Db;
use crate::error::ApiResult;
use crate::signaling::LiveSockets;
use crate::throttle::Throttle;

/// When the tests' accounts were made.
pub const T0: Timestamp = Timestamp(1_795_266_300_000);

/// An account row as sign-up stores it: `name@example.org`, called `name`, with `role`
/// ("user" or "admin"), its email verified or not.
pub fn insert_user(c: &Connection, name: &str, role: &str, verified: bool) -> UserId {
    let id = UserId::random();
    c.execute(
        "INSERT INTO users (id, email, display_name, verifier, salt, kdf_memory_kib,
           kdf_iterations, kdf_lanes, email_verified, role, created_at)
         VALUES (?1, ?2, ?3, 'v', ?4, 65536, 3, 1, ?5, ?6, ?7)",
        params![
            &id.0[..],
            format!("{name}@example.org"),
            name,
            &[0u8; 16][..],
            verified,
            role,
            T0.0 as i64
        ],
    )
    .expect("a user row");
    id
}

/// A verified account named `name` with `role`.
pub async fn user(db: &Db, name: &str, role: &str) -> UserId {
    let (name, role) = (name.to_string(), role.to_string());
    db.run(move |c| -> ApiResult<UserId> { Ok(insert_user(c, &name, &role, true)) })
        .await
        .expect("a user row")
}

/// A database in memory with what signing in works with (`sessions()`, in `sessions/mod.rs`,
/// gives sessions that last 30 days).
pub struct World {
    pub db: Db,
    pub throttle: Throttle,
    pub sockets: LiveSockets,
}

impl World {
    pub fn new() -> World {
        World {
            db: Db::in_memory(),
            throttle: Throttle::default(),
            sockets: LiveSockets::default(),
        }
    }
}

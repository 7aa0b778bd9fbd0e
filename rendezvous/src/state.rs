//! Shared server state.

use std::sync::Arc;

use assent_shared::Timestamp;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::mail::Mailer;
use crate::throttle::Throttle;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub mailer: Mailer,
    pub clock: Arc<dyn Clock>,
    pub throttle: Throttle,
    pub config: Config,
    pub hub: crate::signaling::HubHandle,
    /// Server-side secret for derived values that must not reveal whether an account exists.
    pub secret: Zeroizing<[u8; 32]>,
    /// Where recording ciphertext is kept.
    pub storage: crate::storage::Storage,
    /// The key directory (key transparency).
    pub kt: Arc<crate::kt::KeyDirectory>,
    /// Live signaling connections, to end those of a session that ends.
    pub sockets: crate::signaling::LiveSockets,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        db: Db,
        mailer: Mailer,
        clock: Arc<dyn Clock>,
        config: Config,
        hub: crate::signaling::HubHandle,
        secret: [u8; 32],
        storage: crate::storage::Storage,
    ) -> AppState {
        let kt = Arc::new(crate::kt::KeyDirectory::new(
            db.clone(),
            clock.clone(),
            &secret,
        ));
        AppState(Arc::new(Inner {
            db,
            mailer,
            clock,
            throttle: Throttle::default(),
            config,
            hub,
            secret: Zeroizing::new(secret),
            storage,
            kt,
            sockets: crate::signaling::LiveSockets::default(),
        }))
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The account flows' view of the server.
    pub fn accounts(&self) -> crate::accounts::Accounts<'_> {
        crate::accounts::Accounts {
            db: &self.db,
            clock: self.clock.as_ref(),
            throttle: &self.throttle,
            kt: &self.kt,
            mailer: &self.mailer,
            public_url: &self.config.public_url,
            sessions: self.sessions(),
            registry: self.registry(),
        }
    }

    /// Signing in and out's view of the server.
    pub fn sessions(&self) -> crate::sessions::Sessions<'_> {
        crate::sessions::Sessions {
            db: &self.db,
            throttle: &self.throttle,
            sockets: &self.sockets,
            session_days: self.config.limits.session_days,
        }
    }

    /// The recordings registry's view of the server: its rows, storage, quota and mail.
    pub fn registry(&self) -> crate::recordings::Registry<'_> {
        crate::recordings::Registry {
            db: &self.db,
            storage: &self.storage,
            quota: self
                .config
                .storage
                .quota_bytes_per_user
                .unwrap_or(crate::storage::DEFAULT_QUOTA_BYTES),
            mailer: &self.mailer,
            public_url: &self.config.public_url,
        }
    }
}

/// Load the server secret from `path`, creating it (mode 0600) on first start.
pub fn load_or_create_secret(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read(path) {
        Ok(b) => b.try_into().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "server secret file is not 32 bytes",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut s = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut s);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            f.write_all(&s)?;
            f.sync_all()?;
            Ok(s)
        }
        Err(e) => Err(e),
    }
}

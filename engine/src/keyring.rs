//! Secrets in the operating system's keyring: the identity keys and the session token of each
//! profile. The Secret Service (GNOME Keyring, KWallet) on a desktop; the kernel's keyutils
//! store headless (inside a `keyctl session`, or the user's session keyring).
//!
//! The keyring is a cache, not the only copy: the identity keys are also in the server's key
//! backup, sealed under a key derived from the password (and the recovery code), so a keyring
//! that forgot them (keyutils does at reboot) costs a sign-in, never a recording.

use std::sync::{Arc, OnceLock};

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroizing;

const SERVICE: &str = "assent";

/// Which keyring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    Keyutils,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "secret-service" => Ok(Backend::SecretService),
            "keyutils" => Ok(Backend::Keyutils),
            other => Err(format!(
                "unknown keyring {other:?}: use secret-service or keyutils"
            )),
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("no keyring is available: {0}")]
    Unavailable(String),
    #[error("the keyring refused: {0}")]
    Failed(String),
}

/// The keyring, opened once per process.
#[derive(Clone)]
pub struct Keyring {
    backend: Backend,
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({:?})", self.backend)
    }
}

static OPENED: OnceLock<Result<Keyring, KeyringError>> = OnceLock::new();

impl Keyring {
    /// Open the keyring: `ASSENT_KEYRING` (`secret-service` or `keyutils`) if set, otherwise the
    /// Secret Service when a session bus offers it, otherwise keyutils.
    pub fn open() -> Result<Keyring, KeyringError> {
        OPENED
            .get_or_init(|| {
                let chosen = std::env::var("ASSENT_KEYRING")
                    .ok()
                    .map(|v| v.parse::<Backend>())
                    .transpose()
                    .map_err(KeyringError::Unavailable)?;
                match chosen {
                    Some(b) => Self::open_backend(b),
                    None => Self::open_backend(Backend::SecretService)
                        .or_else(|_| Self::open_backend(Backend::Keyutils)),
                }
            })
            .clone()
    }

    fn open_backend(backend: Backend) -> Result<Keyring, KeyringError> {
        let unavailable = |e: keyring_core::Error| KeyringError::Unavailable(e.to_string());
        let store: Arc<CredentialStore> = match backend {
            Backend::SecretService => {
                if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
                    return Err(KeyringError::Unavailable(
                        "no session bus for the Secret Service".into(),
                    ));
                }
                zbus_secret_service_keyring_store::Store::new().map_err(unavailable)?
            }
            Backend::Keyutils => linux_keyutils_keyring_store::Store::new().map_err(unavailable)?,
        };
        Ok(Keyring { backend, store })
    }

    fn entry(&self, profile: &str, name: &str) -> Result<Entry, KeyringError> {
        self.store
            .build(SERVICE, &format!("{profile}/{name}"), None)
            .map_err(|e| self.failed(e))
    }

    fn failed(&self, e: keyring_core::Error) -> KeyringError {
        let mut why = e.to_string();
        if self.backend == Backend::Keyutils && why.contains("AccessDenied") {
            // Without a session keyring of its own (a service, a container shell), a process
            // may not link keys into the persistent keyring.
            why.push_str(
                " (the kernel keyring needs a login session: run inside `keyctl session`, or \
                 use the Secret Service)",
            );
        }
        KeyringError::Failed(why)
    }

    pub fn put(&self, profile: &str, name: &str, secret: &[u8]) -> Result<(), KeyringError> {
        self.entry(profile, name)?
            .set_secret(secret)
            .map_err(|e| self.failed(e))
    }

    /// The secret, or `None` when the keyring holds none under that name.
    pub fn get(
        &self,
        profile: &str,
        name: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        match self.entry(profile, name)?.get_secret() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    pub fn delete(&self, profile: &str, name: &str) -> Result<(), KeyringError> {
        match self.entry(profile, name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }
}

//! A profile (one account on one server, in one directory) and the account flows: sign up with
//! keys generated on this device, verify the email, sign in (restoring the keys from the sealed
//! backup when the keyring lacks them), sign out.

use std::path::{Path, PathBuf};

use assent_shared::api::{
    AuthSecret, B64, ChangePassword, Confirm, PublishIdentity, SigninRequest, SignupRequest,
};
use assent_shared::backup::{KdfParams, KeyBackup, PasswordKeys, RecoveryCode, Salt};
use assent_shared::ids::UserId;
use assent_shared::transparency::KeyPossession;
use assent_shared::{SecretIdentity, Timestamp};
use zeroize::Zeroizing;

use crate::api::{Api, ApiError};
use crate::keyring::{Keyring, KeyringError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use the profile directory {0}: {1}")]
    Dir(PathBuf, String),
    #[error("the password is not acceptable: {0}")]
    WeakPassword(String),
    #[error("{0}")]
    Keys(String),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("this profile has no account yet: run `assent account signup` or `signin`")]
    NoAccount,
    #[error("not signed in: run `assent account signin`")]
    SignedOut,
    #[error(
        "this device's keyring has no identity keys for the account: sign in again to restore \
         them from the key backup"
    )]
    NoKeys,
    #[error(transparent)]
    Directory(#[from] crate::transparency::DirectoryError),
}

pub type Result<T, E = AccountError> = std::result::Result<T, E>;

const IDENTITY: &str = "identity";
const SESSION: &str = "session";

/// The account a profile holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub server: String,
    pub email: String,
    pub user_id: UserId,
    pub display_name: String,
}

/// One profile directory: its store and its entries in the keyring.
pub struct Profile {
    dir: PathBuf,
    pub store: Store,
    keyring: Keyring,
    /// The keyring namespace of this profile (random, kept in the store).
    id: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Profile({})", self.dir.display())
    }
}

impl Profile {
    /// `$ASSENT_PROFILE`, else `$XDG_DATA_HOME/assent`, else `~/.local/share/assent`.
    pub fn default_dir() -> PathBuf {
        if let Some(p) = std::env::var_os("ASSENT_PROFILE") {
            return p.into();
        }
        if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
            return PathBuf::from(d).join("assent");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        PathBuf::from(home).join(".local/share/assent")
    }

    pub fn open(dir: &Path) -> Result<Profile> {
        std::fs::create_dir_all(dir).map_err(|e| AccountError::Dir(dir.into(), e.to_string()))?;
        let store = Store::open(&dir.join("profile.db"))?;
        let id = match store.setting("profile_id")? {
            Some(id) => id,
            None => {
                let id = assent_shared::DeviceId::random().to_string();
                store.set_setting("profile_id", &id)?;
                id
            }
        };
        Ok(Profile {
            dir: dir.to_path_buf(),
            store,
            keyring: Keyring::open()?,
            id,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This installation's device id (recordings proposed here are recorded here).
    pub fn device_id(&self) -> assent_shared::DeviceId {
        self.id.parse().unwrap_or(assent_shared::DeviceId([0; 16]))
    }

    pub fn account(&self) -> Result<Option<Account>> {
        let get = |k: &str| self.store.setting(k);
        let (Some(server), Some(email), Some(user), Some(name)) = (
            get("server")?,
            get("email")?,
            get("user_id")?,
            get("display_name")?,
        ) else {
            return Ok(None);
        };
        let user_id = user
            .parse()
            .map_err(|_| StoreError::Corrupt("user id".into()))?;
        Ok(Some(Account {
            server,
            email,
            user_id,
            display_name: name,
        }))
    }

    fn set_account(&self, a: &Account) -> Result<()> {
        self.store.set_setting("server", &a.server)?;
        self.store.set_setting("email", &a.email)?;
        self.store.set_setting("user_id", &a.user_id.to_string())?;
        self.store.set_setting("display_name", &a.display_name)?;
        Ok(())
    }

    /// The identity keys from the keyring.
    pub fn identity(&self) -> Result<SecretIdentity> {
        let bytes = self
            .keyring
            .get(&self.id, IDENTITY)?
            .ok_or(AccountError::NoKeys)?;
        SecretIdentity::from_bytes(&bytes).map_err(|e| AccountError::Keys(e.to_string()))
    }

    fn store_identity(&self, identity: &SecretIdentity) -> Result<()> {
        Ok(self.keyring.put(&self.id, IDENTITY, &identity.to_bytes())?)
    }

    /// An API client signed in as this profile's account.
    pub fn api(&self) -> Result<(Api, Account)> {
        let account = self.account()?.ok_or(AccountError::NoAccount)?;
        let token = self
            .keyring
            .get(&self.id, SESSION)?
            .ok_or(AccountError::SignedOut)?;
        let token =
            Zeroizing::new(String::from_utf8(token.to_vec()).map_err(|_| AccountError::SignedOut)?);
        Ok((Api::new(&account.server)?.with_token(token), account))
    }
}

/// What sign-up returns: the recovery code, to be shown once and kept by the user.
pub struct SignedUp {
    pub user_id: UserId,
    pub recovery_code: Zeroizing<String>,
}

impl std::fmt::Debug for SignedUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignedUp({}, recovery code: ..)", self.user_id)
    }
}

async fn derive(password: &str, salt: Salt, kdf: KdfParams) -> Result<PasswordKeys> {
    let password = Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || PasswordKeys::derive(&password, &salt, kdf))
        .await
        .map_err(|e| AccountError::Keys(e.to_string()))?
        .map_err(|e| AccountError::Keys(e.to_string()))
}

/// Create an account: keys are generated here; the server gets the public identity, an
/// authentication secret derived from the password, and the key backup sealed under keys it
/// cannot derive. The email still needs verifying ([`verify_email`]).
pub async fn signup(
    profile: &Profile,
    server: &str,
    email: &str,
    display_name: &str,
    password: &str,
) -> Result<SignedUp> {
    let broken = assent_shared::password::check(password, &[email, display_name]);
    if !broken.is_empty() {
        let why: Vec<&str> = broken.iter().map(|r| r.message()).collect();
        return Err(AccountError::WeakPassword(why.join(" ")));
    }
    let api = Api::new(server)?;
    // The server's key directory keys are pinned now; the new key proves its possession to
    // this server (by those keys) for this email.
    let directory = crate::transparency::server_keys(&api, None).await?;
    let identity = SecretIdentity::generate(Timestamp::now());
    let salt = Salt::random();
    let kdf = KdfParams::DEFAULT;
    let keys = derive(password, salt, kdf).await?;
    let recovery = RecoveryCode::generate();
    let backup = KeyBackup::create(&identity, &keys, kdf, salt, &recovery);
    let resp = api
        .signup(&SignupRequest {
            email: email.into(),
            display_name: display_name.into(),
            auth_secret: AuthSecret(*keys.auth_secret()),
            salt,
            kdf,
            key_backup: B64(backup.to_bytes()),
            identity: identity.public().clone(),
            possession: KeyPossession::prove(
                &identity,
                email,
                &directory.signing,
                Timestamp::now(),
            ),
        })
        .await?;
    profile.store_identity(&identity)?;
    // A new account on this profile: the previous account's directory knowledge goes.
    profile.store.forget_directory()?;
    profile.store.set_directory_keys(&directory)?;
    profile
        .store
        .add_own_key(identity.public(), Timestamp::now())?;
    profile.keyring.delete(&profile.id, SESSION)?;
    profile.set_account(&Account {
        server: api.base().to_string(),
        email: email.into(),
        user_id: resp.user_id,
        display_name: display_name.into(),
    })?;
    Ok(SignedUp {
        user_id: resp.user_id,
        recovery_code: recovery.display(),
    })
}

pub async fn verify_email(profile: &Profile, code: &str) -> Result<()> {
    let account = profile.account()?.ok_or(AccountError::NoAccount)?;
    Api::new(&account.server)?
        .verify_email(&account.email, code.trim())
        .await?;
    Ok(())
}

/// Sign in. The session token goes to the keyring; if the keyring lacks the identity keys (a
/// new device, or a keyring that forgot them), they are restored from the sealed backup.
pub async fn signin(
    profile: &Profile,
    server: &str,
    email: &str,
    password: &str,
    totp: Option<&str>,
    device: &str,
) -> Result<Account> {
    let api = Api::new(server)?;
    let pre = api.prelogin(email).await?;
    let kdf = pre
        .kdf
        .check()
        .map_err(|e| AccountError::Keys(e.to_string()))?;
    let keys = derive(password, pre.salt, kdf).await?;
    let resp = api
        .signin(&SigninRequest {
            email: email.into(),
            auth_secret: AuthSecret(*keys.auth_secret()),
            totp: totp.map(str::to_string),
            device: device.into(),
        })
        .await?;
    let token = Zeroizing::new(resp.token.clone());
    let api = api.with_token(token.clone());
    let me = api.me().await?;
    let account = Account {
        server: api.base().to_string(),
        email: me.email.clone(),
        user_id: resp.user_id,
        display_name: me.display_name.clone(),
    };
    // A profile switching accounts (or servers) forgets the previous account's keys and what
    // it knew of the previous directory.
    if profile
        .account()?
        .is_some_and(|a| a.user_id != account.user_id || a.server != account.server)
    {
        profile.keyring.delete(&profile.id, IDENTITY)?;
        profile.store.forget_directory()?;
    }
    // The server's directory keys: pinned the first time, checked every time after.
    let directory = crate::transparency::pin_server_keys(&api, &profile.store).await?;
    let have_keys = profile.identity().is_ok();
    if !have_keys {
        let backup = api
            .key_backup()
            .await?
            .key_backup
            .ok_or_else(|| AccountError::Keys("the server holds no key backup".into()))?;
        let backup =
            KeyBackup::from_bytes(&backup.0).map_err(|e| AccountError::Keys(e.to_string()))?;
        let identity = backup
            .open_with_password(&keys)
            .map_err(|e| AccountError::Keys(e.to_string()))?;
        profile.store_identity(&identity)?;
    }
    // The directory must hold the key this device signs with.
    let identity = profile.identity()?;
    let entry = api.directory(&account.user_id).await?;
    let republish = entry.identity != *identity.public();
    if republish {
        api.publish_identity(&PublishIdentity {
            identity: identity.public().clone(),
            possession: KeyPossession::prove(
                &identity,
                &account.email,
                &directory.signing,
                Timestamp::now(),
            ),
        })
        .await?;
    }
    profile
        .store
        .add_own_key(identity.public(), Timestamp::now())?;
    // Our own key's history, as far as the directory has it (a key just published waits for
    // the next check: it is not in an epoch yet).
    if !republish {
        use crate::transparency::{DirectoryError, check_own_keys};
        match check_own_keys(&api, &profile.store, &account.email).await {
            Ok(_) | Err(DirectoryError::NotPublished(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    profile
        .keyring
        .put(&profile.id, SESSION, token.as_bytes())?;
    profile.set_account(&account)?;
    Ok(account)
}

/// Sign out: the server revokes the session; the token leaves the keyring. The identity keys
/// stay (they decrypt this device's recordings).
pub async fn signout(profile: &Profile) -> Result<()> {
    if let Ok((api, _)) = profile.api() {
        match api.signout().await {
            Ok(()) => {}
            // Already revoked or expired: signing out locally is what is left to do.
            Err(ApiError::Server { status: 401, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    profile.keyring.delete(&profile.id, SESSION)?;
    Ok(())
}

/// Change the password. The key backup is re-sealed here under keys derived from the new
/// password (the identity keys do not change and the recovery code keeps working); the server
/// checks the current password and signs out every other session.
pub async fn change_password(profile: &Profile, current: &str, new: &str) -> Result<()> {
    let (api, account) = profile.api()?;
    let broken = assent_shared::password::check(new, &[&account.email, &account.display_name]);
    if !broken.is_empty() {
        let why: Vec<&str> = broken.iter().map(|r| r.message()).collect();
        return Err(AccountError::WeakPassword(why.join(" ")));
    }
    let pre = api.prelogin(&account.email).await?;
    let kdf = pre
        .kdf
        .check()
        .map_err(|e| AccountError::Keys(e.to_string()))?;
    let old_keys = derive(current, pre.salt, kdf).await?;
    let backup = api
        .key_backup()
        .await?
        .key_backup
        .ok_or_else(|| AccountError::Keys("the server holds no key backup".into()))?;
    let backup = KeyBackup::from_bytes(&backup.0).map_err(|e| AccountError::Keys(e.to_string()))?;
    let new_salt = Salt::random();
    let new_kdf = KdfParams::DEFAULT;
    let new_keys = derive(new, new_salt, new_kdf).await?;
    let resealed = backup
        .rewrap_password(&old_keys, &new_keys, new_kdf, new_salt)
        .map_err(|_| AccountError::WrongPassword)?;
    api.change_password(&ChangePassword {
        auth_secret: AuthSecret(*old_keys.auth_secret()),
        new_auth_secret: AuthSecret(*new_keys.auth_secret()),
        new_salt,
        new_kdf,
        new_key_backup: B64(resealed.to_bytes()),
    })
    .await?;
    Ok(())
}

/// Delete the account on the server (the password confirms it). The session leaves the
/// keyring; the identity keys stay, since they still open the recordings on this device.
pub async fn delete_account(profile: &Profile, password: &str) -> Result<()> {
    let (api, account) = profile.api()?;
    let pre = api.prelogin(&account.email).await?;
    let kdf = pre
        .kdf
        .check()
        .map_err(|e| AccountError::Keys(e.to_string()))?;
    let keys = derive(password, pre.salt, kdf).await?;
    api.delete_account(&Confirm {
        auth_secret: AuthSecret(*keys.auth_secret()),
    })
    .await?;
    profile.keyring.delete(&profile.id, SESSION)?;
    Ok(())
}

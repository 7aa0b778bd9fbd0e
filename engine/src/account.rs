//! A profile (one account on one server, in one directory) and the account flows: sign up with
//! keys generated on this device, verify the email, sign in (restoring the keys from the sealed
//! backup when the keyring lacks them), sign out.

use std::path::{Path, PathBuf};

use assent_shared::api::{
    AuthSecret, B64, ChangePassword, Confirm, PublishIdentity, RecoveryComplete, RecoveryVerify,
    SigninRequest, SignupRequest,
};
use assent_shared::backup::{KdfParams, KeyBackup, PasswordKeys, RecoveryCode, RecoveryHalf, Salt};
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
    #[error(
        "the server asks for weaker password hashing than this device uses for the account \
         ({offered}); refusing, since that would make the password cheaper to guess"
    )]
    WeakKdf { offered: String },
    #[error("that recovery code does not open this account's keys (check it and try again)")]
    WrongRecoveryCode,
    #[error("the recovery code is not 32 letters and digits (8 groups of 4)")]
    MalformedRecoveryCode,
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
        // The profile holds the account, contacts and recordings: this user's only (0700),
        // created so, and tightened if an older version left it open.
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            let err = |e: std::io::Error| AccountError::Dir(dir.into(), e.to_string());
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(err)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
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

    fn pin_key(origin: &str, email: &str) -> String {
        format!(
            "password_pin {} {}",
            origin.trim_end_matches('/').to_lowercase(),
            assent_shared::transparency::normalize_email(email)
        )
    }

    /// The salt and parameters this device derived the account's password keys with.
    pub fn password_pin(&self, origin: &str, email: &str) -> Result<Option<(Salt, KdfParams)>> {
        let Some(v) = self.store.setting(&Self::pin_key(origin, email))? else {
            return Ok(None);
        };
        let corrupt = || StoreError::Corrupt("password pin".into());
        let parts: Vec<&str> = v.split(' ').collect();
        let [salt, m, t, p] = parts[..] else {
            return Err(corrupt().into());
        };
        let bytes = (0..salt.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(salt.get(i..i + 2).unwrap_or("x"), 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .map_err(|_| corrupt())?;
        let salt = Salt(bytes.try_into().map_err(|_| corrupt())?);
        let num = |x: &str| x.parse::<u32>().map_err(|_| corrupt());
        let kdf = KdfParams {
            memory_kib: num(m)?,
            iterations: num(t)?,
            lanes: num(p)?,
        };
        Ok(Some((salt, kdf)))
    }

    fn set_password_pin(
        &self,
        origin: &str,
        email: &str,
        salt: Salt,
        kdf: KdfParams,
    ) -> Result<()> {
        let hex: String = salt.0.iter().map(|b| format!("{b:02x}")).collect();
        let v = format!("{hex} {} {} {}", kdf.memory_kib, kdf.iterations, kdf.lanes);
        Ok(self.store.set_setting(&Self::pin_key(origin, email), &v)?)
    }

    /// Did this profile hold the account (before password pins existed)?
    fn held_account(&self, origin: &str, email: &str) -> Result<bool> {
        Ok(self.account()?.is_some_and(|a| {
            a.server
                .trim_end_matches('/')
                .eq_ignore_ascii_case(origin.trim_end_matches('/'))
                && a.email.trim().eq_ignore_ascii_case(email.trim())
        }))
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
        let key = format!("storage_pin {}", account.server.trim_end_matches('/'));
        let db = self.dir.join("profile.db");
        let keep = {
            let key = key.clone();
            move |origin: &str| {
                let kept = Store::open(&db).and_then(|s| s.set_setting(&key, origin));
                if let Err(e) = kept {
                    tracing::warn!("cannot keep the storage pin: {e}");
                }
            }
        };
        let pin = crate::api::StoragePin::new(self.store.setting(&key)?, keep);
        let api = Api::new(&account.server)?
            .with_token(token)
            .with_storage_pin(pin);
        Ok((api, account))
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

/// The password derivation a device uses for an account: the salt is derived from the server's
/// origin and the email (never the server's choice), unless this device pinned an older
/// account's salt; the parameters are the server's, but never weaker than the pin or the desktop
/// minimum. Returns the salt and parameters to derive with.
async fn password_params(profile: &Profile, api: &Api, email: &str) -> Result<(Salt, KdfParams)> {
    let pre = api.prelogin(email).await?;
    let derived = Salt::derived(api.origin(), email);
    let pin = profile.password_pin(api.origin(), email)?;
    let floor = pin.map(|(_, k)| k).unwrap_or(KdfParams::DESKTOP_MIN);
    if !floor.accepts(pre.kdf) {
        return Err(AccountError::WeakKdf {
            offered: format!(
                "{} MiB, {} passes",
                pre.kdf.memory_kib / 1024,
                pre.kdf.iterations
            ),
        });
    }
    let salt = match pin {
        // An account from before derived salts, on a device that used it: its pinned salt,
        // until a password change moves it to the derived one.
        Some((pinned, _)) if pre.salt == pinned => pinned,
        // A profile that held this account before pins existed keeps what it used.
        None if pre.salt != derived && profile.held_account(api.origin(), email)? => pre.salt,
        // Everything else derives: whatever the server says.
        _ => derived,
    };
    Ok((salt, pre.kdf))
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
    let salt = Salt::derived(api.origin(), email);
    let kdf = KdfParams::DEFAULT;
    let keys = derive(password, salt, kdf).await?;
    let recovery = RecoveryCode::generate();
    let backup = KeyBackup::create(&identity, &keys, kdf, salt, &recovery);
    let recovery_proof = backup
        .recovery_proof(&keys)
        .map_err(|e| AccountError::Keys(e.to_string()))?;
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
            recovery_proof: AuthSecret(recovery_proof),
        })
        .await?;
    profile.store_identity(&identity)?;
    profile.set_password_pin(api.origin(), email, salt, kdf)?;
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
    let (salt, kdf) = password_params(profile, &api, email).await?;
    let keys = derive(password, salt, kdf).await?;
    let resp = api
        .signin(&SigninRequest {
            email: email.into(),
            auth_secret: AuthSecret(*keys.auth_secret()),
            totp: totp.map(str::to_string),
            device: device.into(),
        })
        .await?;
    let account = settle_in(profile, api, resp, Restore::Password(&keys)).await?;
    profile.set_password_pin(&account.server, email, salt, kdf)?;
    Ok(account)
}

/// Where a device without the identity keys gets them.
enum Restore<'a> {
    /// Open the server's backup with the password's keys.
    Password(&'a PasswordKeys),
    /// Already opened (by the recovery code).
    Opened(Box<SecretIdentity>),
}

/// After a session was granted: the profile takes the account, restores the keys if needed,
/// checks the server's directory keys and the account's own key in the directory, and keeps
/// the token.
async fn settle_in(
    profile: &Profile,
    api: Api,
    resp: assent_shared::api::SigninResponse,
    restore: Restore<'_>,
) -> Result<Account> {
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
    match restore {
        Restore::Opened(identity) => profile.store_identity(&identity)?,
        Restore::Password(keys) if profile.identity().is_err() => {
            let backup = api
                .key_backup()
                .await?
                .key_backup
                .ok_or_else(|| AccountError::Keys("the server holds no key backup".into()))?;
            let backup =
                KeyBackup::from_bytes(&backup.0).map_err(|e| AccountError::Keys(e.to_string()))?;
            let identity = backup
                .open_with_password(keys)
                .map_err(|e| AccountError::Keys(e.to_string()))?;
            profile.store_identity(&identity)?;
        }
        Restore::Password(_) => {}
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

/// Forgotten password, step 1: the server mails a recovery code to the address (if it belongs
/// to a verified account; the answer is the same either way).
pub async fn start_recovery(server: &str, email: &str) -> Result<()> {
    Api::new(server)?.start_recovery(email).await?;
    Ok(())
}

/// What a recovery needs from the person.
pub struct RecoveryInput<'a> {
    pub server: &'a str,
    pub email: &'a str,
    /// The code the server mailed.
    pub email_code: &'a str,
    /// The recovery code shown at sign-up.
    pub recovery_code: &'a str,
    /// The authenticator's code, when two-factor sign-in is on.
    pub totp: Option<&'a str>,
    pub new_password: &'a str,
    pub device: &'a str,
}

/// Forgotten password, step 2: the mailed code (and the TOTP code) buy the backup's recovery
/// half; the recovery code opens it here and proves itself to the server; the same keys are
/// sealed under the new password. The keys, and so every recording, are kept; this device is
/// signed in, every other one signed out.
pub async fn recover(profile: &Profile, input: RecoveryInput<'_>) -> Result<Account> {
    let broken = assent_shared::password::check(input.new_password, &[input.email]);
    if !broken.is_empty() {
        let why: Vec<&str> = broken.iter().map(|r| r.message()).collect();
        return Err(AccountError::WeakPassword(why.join(" ")));
    }
    let code = RecoveryCode::parse(input.recovery_code)
        .map_err(|_| AccountError::MalformedRecoveryCode)?;
    let api = Api::new(input.server)?;
    let ticket = api
        .verify_recovery(&RecoveryVerify {
            email: input.email.into(),
            code: input.email_code.trim().into(),
            totp: input.totp.map(|t| t.trim().to_string()),
        })
        .await?;
    let half = RecoveryHalf::from_bytes(&ticket.recovery_half.0)
        .map_err(|e| AccountError::Keys(e.to_string()))?;
    let proof = half
        .proof(&code)
        .map_err(|_| AccountError::WrongRecoveryCode)?;
    let identity = half
        .open(&code)
        .map_err(|_| AccountError::WrongRecoveryCode)?;
    let salt = Salt::derived(api.origin(), input.email);
    let kdf = KdfParams::DEFAULT;
    let keys = derive(input.new_password, salt, kdf).await?;
    let backup = half
        .reset_password(&code, &keys, kdf, salt)
        .map_err(|_| AccountError::WrongRecoveryCode)?;
    let resp = api
        .complete_recovery(&RecoveryComplete {
            ticket: ticket.ticket.clone(),
            device: input.device.into(),
            recovery_proof: AuthSecret(proof),
            new_auth_secret: AuthSecret(*keys.auth_secret()),
            new_salt: salt,
            new_kdf: kdf,
            new_key_backup: B64(backup.to_bytes()),
        })
        .await?;
    let account = settle_in(profile, api, resp, Restore::Opened(Box::new(identity))).await?;
    profile.set_password_pin(&account.server, input.email, salt, kdf)?;
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
    let (salt, kdf) = password_params(profile, &api, &account.email).await?;
    let old_keys = derive(current, salt, kdf).await?;
    let backup = api
        .key_backup()
        .await?
        .key_backup
        .ok_or_else(|| AccountError::Keys("the server holds no key backup".into()))?;
    let backup = KeyBackup::from_bytes(&backup.0).map_err(|e| AccountError::Keys(e.to_string()))?;
    // The new password moves the account to the derived salt (accounts made before derived
    // salts leave the server's choice behind here).
    let new_salt = Salt::derived(api.origin(), &account.email);
    let new_kdf = KdfParams::DEFAULT.max_with(kdf);
    let new_keys = derive(new, new_salt, new_kdf).await?;
    let resealed = backup
        .rewrap_password(&old_keys, &new_keys, new_kdf, new_salt)
        .map_err(|_| AccountError::WrongPassword)?;
    let proof = resealed
        .recovery_proof(&new_keys)
        .map_err(|e| AccountError::Keys(e.to_string()))?;
    api.change_password(&ChangePassword {
        auth_secret: AuthSecret(*old_keys.auth_secret()),
        new_auth_secret: AuthSecret(*new_keys.auth_secret()),
        new_salt,
        new_kdf,
        new_key_backup: B64(resealed.to_bytes()),
        recovery_proof: AuthSecret(proof),
    })
    .await?;
    profile.set_password_pin(api.origin(), &account.email, new_salt, new_kdf)?;
    Ok(())
}

/// Delete the account on the server (the password confirms it). The session leaves the
/// keyring; the identity keys stay, since they still open the recordings on this device.
pub async fn delete_account(profile: &Profile, password: &str) -> Result<()> {
    let (api, account) = profile.api()?;
    let (salt, kdf) = password_params(profile, &api, &account.email).await?;
    let keys = derive(password, salt, kdf).await?;
    api.delete_account(&Confirm {
        auth_secret: AuthSecret(*keys.auth_secret()),
    })
    .await?;
    profile.keyring.delete(&profile.id, SESSION)?;
    Ok(())
}

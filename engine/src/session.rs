//! The session: a profile on this device and the account it holds, as the app sees it. The
//! account flows are its methods (they live in `account`); the facade calls the type
//! `Session`.

use crate::account::{self, Account, AccountError, Profile, RecoveryInput, SignedUp};
use crate::api::Api;
use crate::call::{Call, CallError, CallOptions, Places};
use crate::store::Store;
use crate::transparency::{Checkup, DirectoryError};

impl Profile {
    /// Create an account (the email still needs verifying).
    pub async fn signup(
        &self,
        server: &str,
        email: &str,
        display_name: &str,
        password: &str,
    ) -> Result<SignedUp, AccountError> {
        account::signup(self, server, email, display_name, password).await
    }

    /// Verify the email with the mailed code.
    pub async fn verify_email(&self, code: &str) -> Result<(), AccountError> {
        account::verify_email(self, code).await
    }

    /// Sign in (restoring the identity keys from their backup when this device lacks them).
    pub async fn signin(
        &self,
        server: &str,
        email: &str,
        password: &str,
        totp: Option<&str>,
        device: &str,
    ) -> Result<Account, AccountError> {
        account::signin(self, server, email, password, totp, device).await
    }

    /// Forgotten password, step 1: the server mails a code (the same answer for any address).
    pub async fn start_recovery(server: &str, email: &str) -> Result<(), AccountError> {
        account::start_recovery(server, email).await
    }

    /// Forgotten password, step 2: a new password, the same keys.
    pub async fn recover(&self, input: RecoveryInput<'_>) -> Result<Account, AccountError> {
        account::recover(self, input).await
    }

    pub async fn signout(&self) -> Result<(), AccountError> {
        account::signout(self).await
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Result<(), AccountError> {
        account::change_password(self, current, new).await
    }

    pub async fn delete_account(&self, password: &str) -> Result<(), AccountError> {
        account::delete_account(self, password).await
    }

    /// Check the key directory from this device for the signed-in account (`api`, as
    /// [`Profile::api`] gives it): the server's keys, its newest root, this account's key
    /// history.
    pub async fn checkup(&self, api: &Api, email: &str) -> Result<Checkup, DirectoryError> {
        crate::transparency::checkup(api, &self.store, email).await
    }

    /// Join a meeting as this profile's account, with its keys, its store and its recordings
    /// directory.
    pub async fn join(&self, opts: CallOptions) -> Result<Call, CallError> {
        let (api, account) = self.api()?;
        let identity = self.identity()?;
        let places = Places {
            recordings: self.dir().join("recordings"),
            profile_db: self.dir().join("profile.db"),
        };
        let store = Store::open(&places.profile_db).map_err(AccountError::from)?;
        crate::call::start(api, account, identity, store, opts, places).await
    }
}

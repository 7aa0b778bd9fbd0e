//! Signing in and up, recovery, signing out, and the account's settings.

use super::*;

#[derive(Debug, Clone)]
pub enum SignInError {
    /// The account has two-factor authentication and no (or a wrong) code was given.
    TotpRequired,
    Other(String),
}

impl From<AccountError> for SignInError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Api(e) if e.code() == Some(ErrorCode::TotpRequired) => {
                SignInError::TotpRequired
            }
            e => SignInError::Other(e.to_string()),
        }
    }
}

pub async fn sign_in(
    dir: PathBuf,
    server: String,
    email: String,
    password: Zeroizing<String>,
    totp: Option<String>,
) -> Result<Account, SignInError> {
    async move {
        let profile = open(&dir).map_err(SignInError::Other)?;
        profile
            .signin(&server, &email, &password, totp.as_deref(), "desktop")
            .await
            .map_err(SignInError::from)
    }
    .await
}

/// Mail a recovery code.
pub async fn start_recovery(server: String, email: String) -> Result<(), String> {
    async move {
        assent_engine::Session::start_recovery(&server, &email)
            .await
            .map_err(|e| e.to_string())
    }
    .await
}

/// What the reset step carries.
#[derive(Debug)]
pub struct Recovery {
    pub server: String,
    pub email: String,
    pub email_code: String,
    pub recovery_code: Zeroizing<String>,
    pub totp: Option<String>,
    pub password: Zeroizing<String>,
}

/// Set a new password with the mailed code and the recovery code: signed in, keys kept.
pub async fn recover(dir: PathBuf, r: Recovery) -> Result<Account, SignInError> {
    async move {
        let profile = open(&dir).map_err(SignInError::Other)?;
        let input = assent_engine::RecoveryInput {
            server: &r.server,
            email: &r.email,
            email_code: &r.email_code,
            recovery_code: &r.recovery_code,
            totp: r.totp.as_deref(),
            new_password: &r.password,
            device: "desktop",
        };
        profile.recover(input).await.map_err(SignInError::from)
    }
    .await
}

pub async fn sign_up(
    dir: PathBuf,
    server: String,
    email: String,
    name: String,
    password: Zeroizing<String>,
) -> Result<Zeroizing<String>, String> {
    async move {
        let profile = open(&dir)?;
        profile
            .signup(&server, &email, &name, &password)
            .await
            .map(|s| s.recovery_code)
            .map_err(|e| e.to_string())
    }
    .await
}

pub async fn verify_email(dir: PathBuf, code: String) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        profile.verify_email(&code).await.map_err(|e| e.to_string())
    }
    .await
}

pub async fn resend_code(dir: PathBuf) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        let a = profile
            .account()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| AccountError::NoAccount.to_string())?;
        assent_engine::Api::new(&a.server)
            .map_err(|e| e.to_string())?
            .resend_code(&a.email)
            .await
            .map_err(|e: ApiError| e.to_string())
    }
    .await
}

pub async fn sign_out(dir: PathBuf) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        profile.signout().await.map_err(|e| e.to_string())
    }
    .await
}

/// What the settings screen shows from the server: two-factor state and the sessions.
pub async fn settings(dir: PathBuf) -> Result<settings::Loaded, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let me = api.me().await.map_err(|e| e.to_string())?;
        let sessions = api.sessions().await.map_err(|e| e.to_string())?;
        Ok(settings::Loaded {
            totp_enabled: me.totp_enabled,
            sessions,
            sounds: settings_of(&dir).is_ok_and(|s| s.sounds()),
            voice_processing: settings_of(&dir).is_ok_and(|s| s.voice_processing()),
            gain_control: settings_of(&dir).is_ok_and(|s| s.gain_control()),
        })
    }
    .await
}

pub async fn change_password(
    dir: PathBuf,
    current: Zeroizing<String>,
    new: Zeroizing<String>,
) -> Result<String, String> {
    async move {
        let profile = open(&dir)?;
        profile
            .change_password(&current, &new)
            .await
            .map_err(|e| e.to_string())?;
        Ok(
            "Password changed. Your keys and recovery code are unchanged; your other devices \
            were signed out."
                .to_string(),
        )
    }
    .await
}

/// Start two-factor enrolment: the secret and its `otpauth://` URI.
pub async fn enrol_totp(dir: PathBuf) -> Result<(Zeroizing<String>, String), String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let e = api.totp_enrol().await.map_err(|e| e.to_string())?;
        Ok((Zeroizing::new(e.secret.clone()), e.uri.clone()))
    }
    .await
}

pub async fn confirm_totp(dir: PathBuf, code: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.totp_confirm(&code).await.map_err(|e| e.to_string())?;
        Ok("Two-factor sign-in is on.".to_string())
    }
    .await
}

pub async fn disable_totp(dir: PathBuf, code: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.totp_disable(&code).await.map_err(|e| e.to_string())?;
        Ok("Two-factor sign-in is off.".to_string())
    }
    .await
}

pub async fn revoke_session(dir: PathBuf, id: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.revoke_session(&id).await.map_err(|e| e.to_string())?;
        Ok("That device is signed out.".to_string())
    }
    .await
}

pub async fn delete_account(dir: PathBuf, password: Zeroizing<String>) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        profile
            .delete_account(&password)
            .await
            .map_err(|e| e.to_string())
    }
    .await
}

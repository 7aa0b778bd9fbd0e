//! `assent account …`: sign up, verify the email, sign in and out, show the account.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use assent_engine::Session;
use assent_shared::Timestamp;
use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

#[derive(Subcommand, Debug)]
pub(crate) enum AccountCommand {
    /// Create an account: keys are made on this device; prints the recovery code once.
    Signup {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        /// The name others see.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Write the recovery code to this file (created, mode 600) instead of printing it.
        #[arg(long)]
        recovery_out: Option<PathBuf>,
    },
    /// Confirm the email address with the 6-digit code the server mailed.
    Verify { code: String },
    /// Mail a new verification code.
    Resend,
    /// Sign in on this device (restores the keys from the sealed backup if needed).
    Signin {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// The current code of your authenticator app, when two-factor sign-in is on.
        #[arg(long)]
        totp: Option<String>,
        /// A name for this device in your session list.
        #[arg(long)]
        device: Option<String>,
    },
    /// Forgot your password? With the code the server mails and your recovery code, set a new
    /// one: your keys, and so every recording, are kept; this device is signed in and every
    /// other one signed out. Run once without `--code` to get the mail (it asks for the code),
    /// or with `--send-code` only to send it.
    Recover(RecoverArgs),
    /// Sign out: the session is revoked; your keys stay on this device.
    Signout,
    /// Check the key directory from this device: the server's directory keys against the
    /// ones pinned, its newest root against those seen before, and your own key's history
    /// against the keys this device held. Exit status 1 when something is wrong (an alarm).
    CheckKeys {
        #[arg(long)]
        json: bool,
    },
    /// Who this profile is signed in as, and the identity fingerprint to compare.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change your password (the current one first). Your keys and your recovery code stay the
    /// same; every other device is signed out.
    Password {
        /// The current password.
        #[command(flatten)]
        password: PasswordArgs,
        /// Read the new password from this environment variable (otherwise it is asked twice).
        #[arg(long)]
        new_password_env: Option<String>,
    },
    /// Two-factor sign-in with an authenticator app (TOTP).
    #[command(subcommand)]
    Totp(TotpCommand),
    /// The devices signed in to your account.
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// Sign another device out (an id from `sessions`).
    Revoke { id: String },
    /// Delete your account on the server (the password confirms it). Recordings on this device
    /// stay, and so do the keys that open them.
    Delete {
        #[command(flatten)]
        password: PasswordArgs,
        /// Do not ask "are you sure".
        #[arg(long)]
        yes: bool,
    },
    /// Write your decryption key as an age identity (AGE-SECRET-KEY-1…), so that `assent
    /// recordings export` or the stock `age`/`rage` tools can decrypt recordings made for you.
    /// Keep the file private: it opens every recording you consented to.
    ExportIdentity {
        /// The file to create (mode 600; it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum TotpCommand {
    /// Start: prints the secret and the `otpauth://` URI to add to your authenticator app.
    /// Nothing changes until you confirm with a code.
    Enrol {
        #[arg(long)]
        json: bool,
    },
    /// Turn two-factor sign-in on with the app's current code.
    Confirm { code: String },
    /// Turn it off (needs a current code).
    Disable { code: String },
}

/// Where the password comes from (a prompt when none is given).
/// `account recover`: what a password reset needs.
#[derive(Args, Debug)]
pub(crate) struct RecoverArgs {
    #[arg(long)]
    server: String,
    #[arg(long)]
    email: String,
    /// Only mail the code, then stop.
    #[arg(long, conflicts_with = "code")]
    send_code: bool,
    /// The 6-digit code from the recovery mail (when you already have one).
    #[arg(long)]
    code: Option<String>,
    /// Read the recovery code from the first line of this file (otherwise it is asked).
    #[arg(long)]
    recovery_code_file: Option<PathBuf>,
    /// The current code of your authenticator app, when two-factor sign-in is on.
    #[arg(long)]
    totp: Option<String>,
    /// Read the new password from this environment variable (otherwise it is asked twice).
    #[arg(long)]
    new_password_env: Option<String>,
    /// A name for this device in your session list.
    #[arg(long)]
    device: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct PasswordArgs {
    /// Read the password from this environment variable.
    #[arg(long, conflicts_with = "password_file")]
    password_env: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

impl PasswordArgs {
    fn read(&self) -> anyhow::Result<Zeroizing<String>> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map(Zeroizing::new)
                .with_context(|| format!("environment variable {var} is not set"));
        }
        if let Some(path) = &self.password_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            return Ok(Zeroizing::new(
                text.lines().next().unwrap_or_default().to_string(),
            ));
        }
        rpassword::prompt_password("Password: ")
            .map(Zeroizing::new)
            .context("cannot read the password")
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    if host.is_empty() {
        "assent".into()
    } else {
        format!("assent on {host}")
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// A new password: from an environment variable, or asked twice.
fn new_password(env: Option<String>) -> anyhow::Result<Zeroizing<String>> {
    if let Some(var) = env {
        return std::env::var(&var)
            .map(Zeroizing::new)
            .with_context(|| format!("environment variable {var} is not set"));
    }
    let a = Zeroizing::new(
        rpassword::prompt_password("New password: ").context("cannot read the password")?,
    );
    let b = Zeroizing::new(
        rpassword::prompt_password("New password again: ").context("cannot read the password")?,
    );
    if a != b {
        bail!("the two new passwords differ; nothing changed");
    }
    Ok(a)
}

pub(crate) fn run(profile_dir: &Path, cmd: AccountCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let profile = Session::open(profile_dir)?;
    rt.block_on(async move {
        match cmd {
            AccountCommand::Signup {
                server,
                email,
                name,
                password,
                recovery_out,
            } => signup(&profile, &server, &email, &name, password, recovery_out).await?,
            AccountCommand::Verify { code } => {
                profile.verify_email(&code).await?;
                println!("Email verified: you can sign in.");
            }
            AccountCommand::Resend => {
                let a = profile
                    .account()?
                    .ok_or(assent_engine::AccountError::NoAccount)?;
                assent_engine::Api::new(&a.server)?
                    .resend_code(&a.email)
                    .await?;
                println!("If the address still needs verifying, a new code is on its way.");
            }
            AccountCommand::Signin {
                server,
                email,
                password,
                totp,
                device,
            } => {
                let pw = password.read()?;
                let device = device.unwrap_or_else(device_name);
                let totp = totp.as_deref();
                let a = profile.signin(&server, &email, &pw, totp, &device).await?;
                println!("Signed in as {} <{}>.", a.display_name, a.email);
            }
            AccountCommand::Recover(args) => return recover(&profile, args).await,
            AccountCommand::Signout => {
                profile.signout().await?;
                println!("Signed out.");
            }
            AccountCommand::ExportIdentity { out } => {
                use secrecy::ExposeSecret;
                let id = profile.identity()?;
                let text = id.to_age_identity();
                write_private(&out, &format!("{}\n", text.expose_secret()))?;
                println!(
                    "Wrote your age identity to {} (public key {}).",
                    out.display(),
                    id.public().encryption.to_age_recipient()
                );
            }
            AccountCommand::Password {
                password,
                new_password_env,
            } => {
                let current = password.read()?;
                let new = new_password(new_password_env)?;
                profile.change_password(&current, &new).await?;
                println!(
                    "Password changed. Your keys and recovery code are unchanged; your other \
                     devices were signed out."
                );
            }
            AccountCommand::Totp(c) => totp(&profile, c).await?,
            AccountCommand::Sessions { json } => sessions(&profile, json).await?,
            AccountCommand::Revoke { id } => {
                let (api, _) = profile.api()?;
                api.revoke_session(&id).await?;
                println!("That device is signed out.");
            }
            AccountCommand::Delete { password, yes } => delete(&profile, password, yes).await?,
            AccountCommand::CheckKeys { json } => return check_keys(&profile, json).await,
            AccountCommand::Show { json } => show(&profile, json)?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `account signup`: create the account; the recovery code is shown once or written to a file.
async fn signup(
    profile: &Session,
    server: &str,
    email: &str,
    name: &str,
    password: PasswordArgs,
    recovery_out: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let Some(p) = &recovery_out
        && p.exists()
    {
        bail!("{} already exists", p.display());
    }
    let pw = password.read()?;
    let done = profile.signup(server, email, name, &pw).await?;
    match recovery_out {
        Some(p) => {
            write_private(&p, &format!("{}\n", done.recovery_code.as_str()))?;
            println!(
                "Account created. Your recovery code is in {}: keep it safe and \
                 offline; with it a forgotten password does not cost your keys.",
                p.display()
            );
        }
        None => println!(
            "Account created.\n\nRecovery code (shown once, write it down and keep \
             it safe):\n\n    {}\n\nWith it, a forgotten password does not cost you \
             your keys or your recordings.",
            done.recovery_code.as_str()
        ),
    }
    println!("A 6-digit code was mailed to {email}: run `assent account verify CODE`.");
    Ok(())
}

/// `account recover`: a forgotten password reset with the mailed code and the recovery code.
async fn recover(profile: &Session, args: RecoverArgs) -> anyhow::Result<ExitCode> {
    let RecoverArgs {
        server,
        email,
        send_code,
        code,
        recovery_code_file,
        totp,
        new_password_env,
        device,
    } = args;
    let code = match code {
        Some(c) => c,
        None => {
            assent_engine::Session::start_recovery(&server, &email).await?;
            if send_code {
                println!(
                    "If {email} belongs to a verified account, a recovery code is on \
                     its way: run `assent account recover --code CODE …` with it."
                );
                return Ok(ExitCode::SUCCESS);
            }
            eprint!("The 6-digit code mailed to {email}: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_string()
        }
    };
    let recovery_code = match recovery_code_file {
        Some(p) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            );
            Zeroizing::new(text.lines().next().unwrap_or_default().to_string())
        }
        None => Zeroizing::new(
            rpassword::prompt_password("Recovery code: ")
                .context("cannot read the recovery code")?,
        ),
    };
    let new = new_password(new_password_env)?;
    let device = device.unwrap_or_else(device_name);
    let a = profile
        .recover(assent_engine::RecoveryInput {
            server: &server,
            email: &email,
            email_code: &code,
            recovery_code: &recovery_code,
            totp: totp.as_deref(),
            new_password: &new,
            device: &device,
        })
        .await?;
    println!(
        "Password reset for {} <{}>: your keys and recordings are kept, this device \
         is signed in and every other one was signed out. Your recovery code stays \
         the same.",
        a.display_name, a.email
    );
    Ok(ExitCode::SUCCESS)
}

/// `account totp enrol|confirm|disable`.
async fn totp(profile: &Session, c: TotpCommand) -> anyhow::Result<()> {
    let (api, _) = profile.api()?;
    match c {
        TotpCommand::Enrol { json } => {
            let e = api.totp_enrol().await?;
            if json {
                println!("{}", json!({"secret": e.secret, "uri": e.uri}));
            } else {
                println!(
                    "Add this to your authenticator app, then run `assent account \
                     totp confirm CODE` with the code it shows:\n\n    secret  {}\n    \
                     link    {}",
                    e.secret, e.uri
                );
            }
        }
        TotpCommand::Confirm { code } => {
            api.totp_confirm(code.trim()).await?;
            println!("Two-factor sign-in is on.");
        }
        TotpCommand::Disable { code } => {
            api.totp_disable(code.trim()).await?;
            println!("Two-factor sign-in is off.");
        }
    }
    Ok(())
}

/// `account sessions`: the devices signed in.
async fn sessions(profile: &Session, json: bool) -> anyhow::Result<()> {
    let (api, _) = profile.api()?;
    let sessions = api.sessions().await?;
    if json {
        println!("{}", serde_json::to_string(&sessions)?);
    } else {
        for s in sessions {
            println!(
                "{}  {}{}  signed in {}, last used {}",
                s.id,
                s.device,
                if s.current { " (this device)" } else { "" },
                Timestamp(s.created_at).to_rfc3339(),
                Timestamp(s.last_used_at).to_rfc3339(),
            );
        }
    }
    Ok(())
}

/// `account delete`, after the user typed DELETE (or passed `--yes`).
async fn delete(profile: &Session, password: PasswordArgs, yes: bool) -> anyhow::Result<()> {
    let a = profile
        .account()?
        .ok_or(assent_engine::AccountError::NoAccount)?;
    if !yes {
        eprint!(
            "Delete the account {} on {}? Meetings, contacts' view of your key and \
             cloud recordings you made go with it. Type DELETE to confirm: ",
            a.email, a.server
        );
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if line.trim() != "DELETE" {
            bail!("not deleted");
        }
    }
    let pw = password.read()?;
    profile.delete_account(&pw).await?;
    println!(
        "Account deleted. Recordings on this device and the keys that open them \
         are still here."
    );
    Ok(())
}

/// `account check-keys`: what the key directory holds for this account, and any alarm (an
/// alarm fails the command).
async fn check_keys(profile: &Session, json: bool) -> anyhow::Result<ExitCode> {
    let (api, a) = profile.api()?;
    let c = profile.checkup(&api, &a.email).await?;
    let unknown: Vec<_> = c
        .own
        .as_ref()
        .map(|o| {
            o.unknown
                .iter()
                .map(|v| json!({"version": v.version, "epoch": v.epoch}))
                .collect()
        })
        .unwrap_or_default();
    if json {
        let v = json!({
            "directory_keys": c.keys.fingerprint(),
            "epoch": c.head.epoch(),
            "published": c.own.is_some(),
            "versions": c.own.as_ref().map(|o| o.versions.len()).unwrap_or(0),
            "unknown_versions": unknown,
            "alarms": c.alarms.iter().map(|a| json!({"kind": a.kind, "detail": a.detail,
                "raised_at": a.raised_at})).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!("directory keys  {}", c.keys.fingerprint());
        println!("newest epoch    {}", c.head.epoch());
        match &c.own {
            Some(o) => println!(
                "your key        {} version(s) in the directory, {} you did not publish",
                o.versions.len(),
                o.unknown.len()
            ),
            None => {
                println!("your key        not in the directory yet (the next epoch publishes it)")
            }
        }
        if c.alarms.is_empty() {
            println!("alarms          none");
        }
        for a in &c.alarms {
            println!("ALARM ({}): {}", a.kind, a.detail);
        }
    }
    if !c.alarms.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `account show`.
fn show(profile: &Session, json: bool) -> anyhow::Result<()> {
    let a = profile
        .account()?
        .ok_or(assent_engine::AccountError::NoAccount)?;
    let fp = profile.identity().map(|i| i.public().fingerprint()).ok();
    let signed_in = profile.api().is_ok();
    if json {
        let v = json!({
            "server": a.server, "email": a.email, "user_id": a.user_id.to_string(),
            "display_name": a.display_name, "fingerprint": fp, "signed_in": signed_in,
        });
        println!("{v}");
    } else {
        println!("{} <{}> on {}", a.display_name, a.email, a.server);
        println!("user id      {}", a.user_id);
        println!(
            "fingerprint  {}",
            fp.as_deref().unwrap_or("(no keys on this device)")
        );
        println!("signed in    {}", if signed_in { "yes" } else { "no" });
    }
    Ok(())
}

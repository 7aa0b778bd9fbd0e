//! Configuration: a TOML file, then environment variables, then command-line flags.
//!
//! ```toml
//! listen = "127.0.0.1:7800"
//! data_dir = "/var/lib/assent"
//! public_url = "https://assent.example.org"
//!
//! [mail]                      # or leave out: mail goes to <data_dir>/outbox/*.eml
//! smtp_url = "smtp://127.0.0.1:25"   # smtps:// for TLS, smtp://…?tls=required for STARTTLS
//! from = "Assent <no-reply@example.org>"
//!
//! [directory]                 # the key directory (key transparency)
//! epoch_interval_ms = 2000    # changes are batched into one signed epoch at most this often
//!
//! [proxy]                     # a TLS reverse proxy on this machine sets X-Forwarded-For
//! trusted = ["127.0.0.1", "::1"]
//!
//! [storage]                   # or leave out: ciphertext goes to <data_dir>/objects/
//! s3_endpoint = "https://s3.eu-west-1.amazonaws.com"
//! s3_region = "eu-west-1"
//! s3_bucket = "assent-recordings"
//! s3_access_key = "…"
//! s3_secret_key = "…"
//! quota_bytes_per_user = 10737418240   # each account's recordings in the cloud (default 10 GiB)
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the database (and the outbox, when mail is not configured) live.
    pub data_dir: PathBuf,
    /// The server's public base URL, used in emails.
    pub public_url: String,
    pub mail: MailConfig,
    pub turn: crate::turn::TurnConfig,
    pub storage: crate::storage::StorageConfig,
    pub limits: Limits,
    pub proxy: ProxyConfig,
    pub directory: DirectoryConfig,
}

/// The key directory (key transparency).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// Changes are batched into one epoch at most this often, milliseconds (default 2000).
    pub epoch_interval_ms: u64,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            epoch_interval_ms: 2000,
        }
    }
}

/// Reverse proxies in front of the server (TLS terminators).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Peers whose `X-Forwarded-For` header is believed (exact addresses). Empty: the header is
    /// ignored and the TCP peer is the client.
    pub trusted: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, for a local relay), `smtp://host:port?tls=required`
    /// (STARTTLS) or `smtps://host:port`; credentials as `smtp://user:pass@host`. None: outbox.
    pub smtp_url: Option<String>,
    pub from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Session lifetime, days.
    pub session_days: u64,
    /// How long a dropped signaling connection keeps its seat, seconds.
    pub reconnect_grace_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7800)),
            data_dir: PathBuf::from("assent-data"),
            public_url: "http://127.0.0.1:7800".into(),
            mail: MailConfig::default(),
            turn: crate::turn::TurnConfig::default(),
            storage: crate::storage::StorageConfig::default(),
            limits: Limits::default(),
            proxy: ProxyConfig::default(),
            directory: DirectoryConfig::default(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            from: "Assent <no-reply@assent.invalid>".into(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            session_days: 30,
            reconnect_grace_secs: 15,
        }
    }
}

/// Why a configuration is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Load `path` (if given), then apply `ASSENT_*` environment overrides.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        c.validate()?;
        Ok(c)
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("ASSENT_LISTEN") {
            self.listen = v
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Env {
                    name: "ASSENT_LISTEN",
                    message: e.to_string(),
                })?;
        }
        if let Some(v) = get("ASSENT_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("ASSENT_PUBLIC_URL") {
            self.public_url = v;
        }
        if let Some(v) = get("ASSENT_SMTP_URL") {
            self.mail.smtp_url = Some(v);
        }
        if let Some(v) = get("ASSENT_MAIL_FROM") {
            self.mail.from = v;
        }
        let list = |v: String| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        if let Some(v) = get("ASSENT_STUN_URLS") {
            self.turn.stun_urls = list(v);
        }
        if let Some(v) = get("ASSENT_TURN_URLS") {
            self.turn.turn_urls = list(v);
        }
        if let Some(v) = get("ASSENT_TURN_SECRET") {
            self.turn.secret = Some(v);
        }
        for (name, slot) in [
            ("ASSENT_S3_ENDPOINT", &mut self.storage.s3_endpoint),
            ("ASSENT_S3_REGION", &mut self.storage.s3_region),
            ("ASSENT_S3_BUCKET", &mut self.storage.s3_bucket),
            ("ASSENT_S3_ACCESS_KEY", &mut self.storage.s3_access_key),
            ("ASSENT_S3_SECRET_KEY", &mut self.storage.s3_secret_key),
        ] {
            if let Some(v) = get(name) {
                *slot = Some(v);
            }
        }
        if let Some(v) = get("ASSENT_KT_EPOCH_MS") {
            self.directory.epoch_interval_ms =
                v.parse()
                    .map_err(|e: std::num::ParseIntError| ConfigError::Env {
                        name: "ASSENT_KT_EPOCH_MS",
                        message: e.to_string(),
                    })?;
        }
        if let Some(v) = get("ASSENT_RETENTION_INTERVAL_SECS") {
            self.storage.retention_interval_secs = Some(v.parse().map_err(
                |e: std::num::ParseIntError| ConfigError::Env {
                    name: "ASSENT_RETENTION_INTERVAL_SECS",
                    message: e.to_string(),
                },
            )?);
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid(
                "public_url must start with http:// or https://".into(),
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "mail.from is not a valid address: {}",
                self.mail.from
            )));
        }
        if let Some(url) = &self.mail.smtp_url {
            crate::mail::transport_from_url(url)
                .map_err(|e| ConfigError::Invalid(format!("mail.smtp_url: {e}")))?;
        }
        if !self.turn.turn_urls.is_empty()
            && self.turn.secret.as_deref().is_none_or(|s| s.len() < 16)
        {
            return Err(ConfigError::Invalid(
                "turn.secret (16+ characters) is needed with turn_urls".into(),
            ));
        }
        let bad_url = self
            .turn
            .stun_urls
            .iter()
            .any(|u| !u.starts_with("stun:") && !u.starts_with("stuns:"))
            || self
                .turn
                .turn_urls
                .iter()
                .any(|u| !u.starts_with("turn:") && !u.starts_with("turns:"));
        if bad_url {
            return Err(ConfigError::Invalid(
                "ICE server URLs must start with stun:, stuns:, turn: or turns:".into(),
            ));
        }
        if !(10..=3_600_000).contains(&self.directory.epoch_interval_ms) {
            return Err(ConfigError::Invalid(
                "directory.epoch_interval_ms must be 10 to 3600000".into(),
            ));
        }
        if self.limits.max_body_bytes < 1024 || self.limits.session_days == 0 {
            return Err(ConfigError::Invalid("limits are out of range".into()));
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("assent.sqlite3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration the packages install in /etc is valid, and its commented-out
    /// sections are valid too once uncommented (with their placeholders filled in).
    #[test]
    fn the_packaged_configuration_is_valid() {
        let text = include_str!("../../packaging/server/config.toml");
        let c: Config = toml::from_str(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/assent-rendezvous"));
        assert_eq!(c.proxy.trusted.len(), 2);
        let uncommented: String = text
            .lines()
            .map(|l| {
                let setting = |r: &&str| {
                    r.starts_with('[')
                        || r.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        })
                };
                l.strip_prefix("# ").filter(setting).unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c: Config = toml::from_str(&uncommented).unwrap();
        assert!(c.mail.smtp_url.is_some() && c.storage.s3_bucket.is_some());
        assert_eq!(c.turn.turn_urls.len(), 2);
        c.validate().unwrap();
    }

    #[test]
    fn parse_file_and_env() {
        let c: Config =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[mail]\nfrom = \"A <a@b.c>\"\n").unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(
            toml::from_str::<Config>("lisen = 1").is_err(),
            "unknown keys are refused"
        );
        let mut c = Config::default();
        c.apply_env(|k| (k == "ASSENT_LISTEN").then(|| "127.0.0.1:9100".to_string()))
            .unwrap();
        assert_eq!(c.listen.port(), 9100);
        let mut c = Config::default();
        assert!(
            c.apply_env(|k| (k == "ASSENT_LISTEN").then(|| "nonsense".to_string()))
                .is_err()
        );
        let mut bad = Config::default();
        bad.mail.smtp_url = Some("ftp://x".into());
        assert!(bad.validate().is_err());
    }
}

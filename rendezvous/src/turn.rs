//! ICE servers for clients: STUN, and TURN relays with short-lived credentials in the TURN REST
//! API scheme that coturn's `use-auth-secret` implements: the username is
//! `<expiry unix seconds>:<user id>`, the password base64(HMAC-SHA1(shared secret, username)).
//! The relay only ever sees DTLS-SRTP ciphertext.

use assent_shared::Timestamp;
pub use assent_shared::api::{IceServer, IceServers};
use assent_shared::ids::UserId;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

/// `[turn]` in the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// `stun:host:port` URLs.
    pub stun_urls: Vec<String>,
    /// `turn:host:port?transport=udp`, `turns:…` URLs.
    pub turn_urls: Vec<String>,
    /// The secret shared with coturn (`static-auth-secret`).
    pub secret: Option<String>,
    /// Credential lifetime, seconds (default 1 hour).
    pub ttl_secs: Option<u64>,
}

/// The TURN REST API credential for `user`, valid until `expires` (seconds).
pub fn credential(secret: &str, user: &UserId, expires_secs: u64) -> (String, String) {
    let username = format!("{expires_secs}:{user}");
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    let password = data_encoding::BASE64.encode(&mac.finalize().into_bytes());
    (username, password)
}

impl TurnConfig {
    pub fn ice_servers(&self, user: &UserId, now: Timestamp) -> IceServers {
        let ttl = self.ttl_secs.unwrap_or(3600).clamp(60, 86_400);
        let expires_secs = now.0 / 1000 + ttl;
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let (Some(secret), false) = (&self.secret, self.turn_urls.is_empty()) {
            let (username, password) = credential(secret, user, expires_secs);
            servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(password),
            });
        }
        IceServers {
            ice_servers: servers,
            expires_at: expires_secs * 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_api_credential_shape() {
        // The documented example of the TURN REST API draft uses HMAC-SHA1 over the username.
        let (u, p) = credential("north", &UserId([1; 16]), 1_700_000_000);
        assert_eq!(u, "1700000000:01010101010101010101010101010101");
        assert_eq!(
            data_encoding::BASE64.decode(p.as_bytes()).unwrap().len(),
            20
        );
        let c = TurnConfig {
            turn_urls: vec!["turn:127.0.0.1:3478".into()],
            secret: Some("s".into()),
            ..Default::default()
        };
        let s = c.ice_servers(&UserId([1; 16]), Timestamp(1_000_000));
        assert_eq!(s.expires_at, (1_000 + 3600) * 1000);
        assert_eq!(s.ice_servers.len(), 1);
    }
}

//! The rendezvous server's HTTP API: request and response bodies (JSON), shared by the server
//! and the client. Unknown fields are refused. Byte strings are unpadded base64url.

use serde::{Deserialize, Serialize};

use crate::backup::Salt;

mod accounts;
mod errors;
mod meetings;
mod recordings;

pub use accounts::*;
pub use errors::*;
pub use meetings::*;
pub use recordings::*;

/// A variable-length byte string, base64url in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct B64(pub Vec<u8>);

impl std::fmt::Debug for B64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "B64({} bytes)", self.0.len())
    }
}

impl Serialize for B64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::BASE64URL_NOPAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        data_encoding::BASE64URL_NOPAD
            .decode(s.as_bytes())
            .map(B64)
            .map_err(|_| serde::de::Error::custom("expected unpadded base64url"))
    }
}

/// 32 secret bytes (the client-derived authentication secret), base64url in JSON.
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct AuthSecret(pub [u8; 32]);
crate::bytes::serde_fixed!(AuthSecret, 32);

impl std::fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthSecret(..)")
    }
}

crate::bytes::serde_fixed!(Salt, 16);

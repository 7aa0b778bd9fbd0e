//! Serde support for fixed-size byte newtypes: raw bytes in binary formats (postcard), unpadded
//! base64url in human-readable ones (JSON), with the length checked on the way in.

use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use serde::de::{self, Visitor};

/// Serialize `bytes` as bytes or as base64url text, depending on the format.
pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&BASE64URL_NOPAD.encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

/// Deserialize exactly `N` bytes.
pub fn deserialize<'de, D: serde::Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<[u8; N], D::Error> {
    struct V<const N: usize>;
    impl<const N: usize> Visitor<'_> for V<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            v.try_into().map_err(|_| E::invalid_length(v.len(), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let raw = BASE64URL_NOPAD
                .decode(v.as_bytes())
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))?;
            self.visit_bytes(&raw)
        }
    }
    if d.is_human_readable() {
        d.deserialize_str(V::<N>)
    } else {
        d.deserialize_bytes(V::<N>)
    }
}

/// Implements `Serialize`/`Deserialize` for a tuple newtype over `[u8; N]`.
macro_rules! serde_fixed {
    ($t:ty, $n:expr) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::bytes::serialize(&self.0, s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::bytes::deserialize::<D, $n>(d).map(Self)
            }
        }
    };
}
pub(crate) use serde_fixed;

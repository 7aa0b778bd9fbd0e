//! Identifier newtypes. Ids are 16 random bytes, shown as 32 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

/// Error for an id that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind}: expected 32 hex digits")]
pub struct ParseIdError {
    kind: &'static str,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 16]);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                let mut b = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut b);
                Self(b)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = ParseIdError { kind: $kind };
                if s.len() != 32 {
                    return Err(err);
                }
                let raw = data_encoding::HEXLOWER_PERMISSIVE
                    .decode(s.as_bytes())
                    .map_err(|_| err.clone())?;
                raw.try_into().map(Self).map_err(|_| err)
            }
        }

        // Binary formats: 16 raw bytes. JSON: the same 32 hex digits as `Display`.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    $crate::bytes::deserialize::<D, 16>(d).map(Self)
                }
            }
        }
    };
}

id_type!(
    /// One recording (all its consent epochs and segments).
    RecordingId,
    "recording id"
);
id_type!(
    /// One call (a meeting session on the signaling server).
    CallId,
    "call id"
);
id_type!(
    /// One installation of the app on one machine.
    DeviceId,
    "device id"
);
id_type!(
    /// An account on the rendezvous server.
    UserId,
    "user id"
);
id_type!(
    /// A meeting (instant, scheduled or a personal room) on the rendezvous server.
    MeetingId,
    "meeting id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        let id = RecordingId::random();
        assert_eq!(id.to_string().parse::<RecordingId>(), Ok(id));
        assert_eq!(id.to_string().to_uppercase().parse::<RecordingId>(), Ok(id));
    }

    #[test]
    fn json_uses_hex_binary_uses_bytes() {
        let id = CallId([0xab; 16]);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{}\"", "ab".repeat(16))
        );
        assert_eq!(
            serde_json::from_str::<CallId>(&serde_json::to_string(&id).unwrap()).unwrap(),
            id
        );
        assert!(serde_json::from_str::<CallId>("\"xyz\"").is_err());
        assert_eq!(crate::codec::encode(&id).len(), 17);
    }

    #[test]
    fn bad_ids_are_errors() {
        for s in [
            "",
            "00",
            &"g".repeat(32),
            &"0".repeat(33),
            "é".repeat(16).as_str(),
        ] {
            assert!(s.parse::<CallId>().is_err(), "{s:?}");
        }
    }
}

//! Canonical binary encoding.
//!
//! Every signed or hashed structure is encoded with postcard (a stable, documented serde wire
//! format). Decoding is strict: the input must be consumed exactly and must re-encode to the very
//! same bytes, so each value has exactly one accepted byte string (no overlong varints, no
//! trailing data). Sizes are bounded before decoding.

use serde::{Serialize, de::DeserializeOwned};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CodecError {
    #[error("input is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("malformed encoding")]
    Malformed,
    #[error("trailing bytes after the encoded value")]
    Trailing,
    #[error("non-canonical encoding")]
    NonCanonical,
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u16),
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

pub type Result<T, E = CodecError> = std::result::Result<T, E>;

/// The canonical bytes of a value.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own types into a Vec cannot fail: none of them has a map with non-string
    // keys or a sequence of unknown length.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decode `bytes` (at most `max` long), accepting only the canonical encoding.
pub fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T> {
    if bytes.len() > max {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let (value, rest): (T, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|_| CodecError::Malformed)?;
    if !rest.is_empty() {
        return Err(CodecError::Trailing);
    }
    if encode(&value) != bytes {
        return Err(CodecError::NonCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_overlong_varint_and_trailing() {
        let v: u32 = 5;
        let good = encode(&v);
        assert_eq!(good, vec![5]);
        assert_eq!(decode::<u32>(&good, 16), Ok(5));
        // 5 as a two-byte varint: same value, other bytes.
        assert_eq!(
            decode::<u32>(&[0x85, 0x00], 16),
            Err(CodecError::NonCanonical)
        );
        assert_eq!(decode::<u32>(&[5, 0], 16), Err(CodecError::Trailing));
        assert_eq!(decode::<u32>(&[], 16), Err(CodecError::Malformed));
        assert_eq!(
            decode::<u32>(&[5; 17], 16),
            Err(CodecError::TooLarge { len: 17, max: 16 })
        );
    }
}

//! The uploader's decisions, kept pure so they are tested without a network: which objects
//! and parts are left, how much is already up, whether an error is worth retrying, and when.

use std::time::Duration;

use assent_shared::api::{RecordingObject, StoredPart};
use assent_shared::container::{Manifest, segment_name};

use crate::api::ApiError;

/// Bytes per part. S3 wants at least 5 MiB for every part but the last; a segment of a few
/// seconds is usually a single part.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;

/// At most this many part URLs per request (the server's limit).
pub const URLS_PER_REQUEST: usize = 100;

/// One part of an object: its number (from 1), offset and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartSpan {
    pub number: u16,
    pub offset: u64,
    pub len: u64,
}

/// The parts of an object of `size` bytes (an empty object is one empty part).
pub fn parts(size: u64, part_size: u64) -> Vec<PartSpan> {
    let part_size = part_size.max(1);
    let n = size.div_ceil(part_size).max(1);
    (0..n)
        .map(|i| {
            let offset = i * part_size;
            PartSpan {
                number: (i + 1) as u16,
                offset,
                len: (size - offset).min(part_size),
            }
        })
        .collect()
}

/// The segments the manifest lists that storage does not hold at their listed size.
pub fn missing_objects(manifest: &Manifest, stored: &[RecordingObject]) -> Vec<(String, u64)> {
    manifest
        .segments
        .iter()
        .map(|s| (segment_name(s.index), s.size))
        .filter(|(name, size)| !stored.iter().any(|o| &o.name == name && o.size == *size))
        .collect()
}

/// The parts still to send, given what storage holds (a part of the wrong size is sent again).
pub fn parts_to_send(spans: &[PartSpan], stored: &[StoredPart]) -> Vec<PartSpan> {
    spans
        .iter()
        .filter(|s| !stored.iter().any(|p| p.part == s.number && p.size == s.len))
        .copied()
        .collect()
}

/// Bytes of the recording already in storage: whole objects, plus the good parts of the one
/// being uploaded.
pub fn uploaded(manifest: &Manifest, stored: &[RecordingObject]) -> u64 {
    let missing = missing_objects(manifest, stored);
    manifest
        .segments
        .iter()
        .filter(|s| !missing.iter().any(|(n, _)| *n == segment_name(s.index)))
        .map(|s| s.size)
        .sum()
}

/// Whether trying again later can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The network, the server or the storage was unavailable, a link expired, a race: retry
    /// with backoff.
    Transient,
    /// The server refused for a reason that will not change (not the recorder, a local-only
    /// recording, a rewritten manifest): say so and stop.
    Permanent,
}

pub fn classify(e: &ApiError) -> Failure {
    match e {
        ApiError::Network(_) => Failure::Transient,
        ApiError::Protocol(_) => Failure::Transient,
        ApiError::Server { status, code, .. } => {
            use assent_shared::api::ErrorCode as C;
            let transient_code = matches!(
                C::parse(code),
                C::StorageUnavailable
                    | C::InvalidSignature
                    | C::NoSuchUpload
                    | C::InvalidParts
                    | C::ObjectsMissing
                    | C::SlowDown
                    | C::Unauthenticated
            );
            if *status >= 500 || *status == 408 || *status == 429 || transient_code {
                Failure::Transient
            } else {
                Failure::Permanent
            }
        }
    }
}

/// The wait before attempt `attempt` (1 = the first retry): 1 s doubling to at most 60 s,
/// scaled by `jitter` in [0.5, 1] so many clients do not retry in step.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = 1000u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(6));
    let ms = base.min(60_000) as f64 * jitter.clamp(0.5, 1.0);
    Duration::from_millis(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::container::SegmentEntry;

    fn manifest(sizes: &[u64]) -> Manifest {
        let mut m = fixture_manifest();
        m.segments = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| SegmentEntry {
                index: i as u32,
                size,
                ..m.segments[0].clone()
            })
            .collect();
        m
    }

    fn fixture_manifest() -> Manifest {
        use assent_shared::consent::ConsentToken;
        use assent_shared::consent::fixtures::{T0, identities, proposal};
        use assent_shared::container::{MemStore, RecordingWriter, Track};
        let ids = identities(2);
        let p = proposal(&ids);
        let tokens: Vec<_> = ids
            .iter()
            .map(|i| ConsentToken::sign(i, &p, T0.plus_millis(1)))
            .collect();
        let recorder = std::sync::Arc::new(
            assent_shared::SecretIdentity::from_bytes(&ids[0].to_bytes()).unwrap(),
        );
        let mut w = RecordingWriter::create(MemStore::new(), recorder, &[p], &tokens, T0).unwrap();
        let present: Vec<_> = ids.iter().map(|i| i.key()).collect();
        w.write_segment(Track::Media, b"x", &present, 0, 1).unwrap();
        w.manifest().clone()
    }

    #[test]
    fn parts_cover_the_object_exactly() {
        assert_eq!(
            parts(0, 10),
            [PartSpan {
                number: 1,
                offset: 0,
                len: 0
            }]
        );
        assert_eq!(parts(10, 10).len(), 1);
        let p = parts(25, 10);
        assert_eq!(p.iter().map(|s| s.len).collect::<Vec<_>>(), [10, 10, 5]);
        assert_eq!(p.iter().map(|s| s.number).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(p[2].offset, 20);
        for size in [1u64, 9, 10, 11, 99, 100, 101] {
            let p = parts(size, 10);
            assert_eq!(p.iter().map(|s| s.len).sum::<u64>(), size);
        }
    }

    #[test]
    fn what_is_left() {
        let m = manifest(&[100, 200, 300]);
        let stored = vec![
            RecordingObject {
                name: "segment-000000.age".into(),
                size: 100,
            },
            // A short object (an earlier, different upload) does not count.
            RecordingObject {
                name: "segment-000001.age".into(),
                size: 150,
            },
        ];
        assert_eq!(
            missing_objects(&m, &stored),
            [
                ("segment-000001.age".to_string(), 200),
                ("segment-000002.age".to_string(), 300)
            ]
        );
        assert_eq!(uploaded(&m, &stored), 100);

        let spans = parts(25, 10);
        let held = vec![
            StoredPart {
                part: 1,
                etag: "a".into(),
                size: 10,
            },
            StoredPart {
                part: 3,
                etag: "c".into(),
                size: 4,
            },
        ];
        let left: Vec<u16> = parts_to_send(&spans, &held)
            .iter()
            .map(|s| s.number)
            .collect();
        assert_eq!(left, [2, 3], "part 3 was cut short: sent again");
    }

    #[test]
    fn retry_or_give_up() {
        let server = |status: u16, code: &str| ApiError::Server {
            status,
            code: code.into(),
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(classify(&ApiError::Network("x".into())), Failure::Transient);
        assert_eq!(
            classify(&server(502, "storage_unavailable")),
            Failure::Transient
        );
        assert_eq!(classify(&server(503, "whatever")), Failure::Transient);
        assert_eq!(classify(&server(429, "slow_down")), Failure::Transient);
        assert_eq!(classify(&server(404, "no_such_upload")), Failure::Transient);
        assert_eq!(
            classify(&server(403, "invalid_signature")),
            Failure::Transient
        );
        assert_eq!(classify(&server(409, "scope_local")), Failure::Permanent);
        assert_eq!(classify(&server(403, "forbidden")), Failure::Permanent);
        assert_eq!(
            classify(&server(409, "manifest_rewritten")),
            Failure::Permanent
        );
        assert_eq!(
            classify(&server(422, "invalid_manifest")),
            Failure::Permanent
        );
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(30, 1.0), Duration::from_secs(60));
        assert_eq!(
            backoff(30, 0.0),
            Duration::from_secs(30),
            "jitter at least halves"
        );
        assert_eq!(backoff(0, 1.0), Duration::from_secs(1));
    }
}

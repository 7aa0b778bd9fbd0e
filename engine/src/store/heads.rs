//! The chain heads recorders showed this profile during calls ([`SignedHead`]): for each
//! recording and signer the most advanced one is kept, and `verify` compares any copy of the
//! recording with it. They outlive the local copy of a recording (that is when they matter).

use assent_shared::Timestamp;
use assent_shared::container::SignedHead;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

impl Store {
    /// Keep a head if it goes further than the one kept for its recording and signer. The
    /// signature is checked here too: only heads that open are stored.
    pub fn keep_head(&self, head: &SignedHead) -> Result<()> {
        let db = self.db();
        let (h, signer) = head
            .open()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = h.recording_id.to_string();
        let kept: Option<(u32, bool)> = db
            .query_row(
                "SELECT segments, sealed FROM recording_heads
                 WHERE recording_id = ?1 AND signer = ?2",
                params![id, &signer.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if kept.is_some_and(|k| k >= (h.segments, h.ended)) {
            return Ok(());
        }
        db.execute(
            "INSERT INTO recording_heads (recording_id, signer, head, segments, sealed, seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (recording_id, signer) DO UPDATE SET head = excluded.head,
               segments = excluded.segments, sealed = excluded.sealed, seen_at = excluded.seen_at",
            params![
                id,
                &signer.0[..],
                &head.0,
                h.segments,
                h.ended,
                Timestamp::now().0 as i64
            ],
        )?;
        Ok(())
    }

    /// Every head kept for a recording (one per signer).
    pub fn heads(&self, recording_id: &str) -> Result<Vec<SignedHead>> {
        let db = self.db();
        let mut st = db.prepare("SELECT head FROM recording_heads WHERE recording_id = ?1")?;
        let rows = st.query_map([recording_id], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(SignedHead)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::container::Head;
    use assent_shared::{CallId, Digest, RecordingId, SecretIdentity};

    fn head(id: RecordingId, segments: u32, ended: bool, by: &SecretIdentity) -> SignedHead {
        Head {
            recording_id: id,
            call_id: CallId([1; 16]),
            segments,
            chain: Digest([segments as u8; 32]),
            ended,
        }
        .sign(by)
    }

    #[test]
    fn the_most_advanced_head_per_signer_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let rec = SecretIdentity::from_seed([1; 32], Timestamp(1));
        let other = SecretIdentity::from_seed([2; 32], Timestamp(1));
        let id = RecordingId([3; 16]);
        store.keep_head(&head(id, 2, false, &rec)).unwrap();
        store.keep_head(&head(id, 5, false, &rec)).unwrap();
        // An older head arriving late does not replace a newer one.
        store.keep_head(&head(id, 3, false, &rec)).unwrap();
        store.keep_head(&head(id, 5, true, &rec)).unwrap();
        store.keep_head(&head(id, 1, false, &other)).unwrap();
        let mut kept: Vec<_> = store
            .heads(&id.to_string())
            .unwrap()
            .iter()
            .map(|h| h.open().unwrap())
            .map(|(h, s)| (h.segments, h.ended, s))
            .collect();
        kept.sort();
        assert_eq!(kept, vec![(1, false, other.key()), (5, true, rec.key())]);
        // A head whose signature fails is refused, not kept.
        let mut bad = head(id, 9, true, &rec);
        let n = bad.0.len();
        bad.0[n - 1] ^= 1;
        assert!(store.keep_head(&bad).is_err());
        assert_eq!(store.heads(&id.to_string()).unwrap().len(), 2);
    }
}

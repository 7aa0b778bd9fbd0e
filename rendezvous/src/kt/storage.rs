//! `akd`'s storage interface over the server's own database: the directory's tree, its value
//! states and its current epoch live in SQLite tables beside everything else (`kt_azks`,
//! `kt_nodes`, `kt_values`), behind the same [`Db`] handle, so another database can serve them
//! the day the server moves.
//!
//! Tree nodes are kept in an encoding of our own (canonical postcard of [`NodeRepr`]), not in
//! `akd`'s serde form, so a stored directory does not depend on a library's internal layout.
//! A transaction's records arrive in one `batch_set` and are written in one SQLite
//! transaction: an epoch is stored whole or not at all.

use std::collections::HashMap;

use akd::errors::StorageError;
use akd::storage::types::{DbRecord, KeyData, StorageType, ValueState, ValueStateRetrievalFlag};
use akd::storage::{Database, DbSetState, Storable};
use akd::tree_node::{TreeNode, TreeNodeWithPreviousValue};
use akd::{AkdLabel, AkdValue, NodeLabel};
use assent_shared::codec;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError};

/// The directory's records in the server database.
#[derive(Clone)]
pub struct SqliteDirectory {
    db: Db,
}

impl SqliteDirectory {
    pub fn new(db: Db) -> SqliteDirectory {
        SqliteDirectory { db }
    }
}

/// Errors inside a storage call (database errors become `akd` storage errors at the edge).
enum Fail {
    Db(DbError),
    Akd(StorageError),
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        Fail::Db(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Db(DbError::Sqlite(e))
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Akd(e)
    }
}

fn akd_error(f: Fail) -> StorageError {
    match f {
        Fail::Akd(e) => e,
        // Details stay in the server log; akd only needs to know the call failed.
        Fail::Db(e) => {
            tracing::error!(error = %e, "key directory storage");
            StorageError::Connection("database error".into())
        }
    }
}

fn label_key(l: &NodeLabel) -> Vec<u8> {
    let mut k = Vec::with_capacity(36);
    k.extend_from_slice(&l.label_len.to_be_bytes());
    k.extend_from_slice(&l.label_val);
    k
}

type Label = ([u8; 32], u32);

fn pack(l: &NodeLabel) -> Label {
    (l.label_val, l.label_len)
}

fn unpack(l: Label) -> NodeLabel {
    NodeLabel::new(l.0, l.1)
}

/// One tree node as stored.
#[derive(Serialize, Deserialize)]
struct NodeRepr {
    last_epoch: u64,
    min_descendant_epoch: u64,
    parent: Label,
    node_type: u8,
    left: Option<Label>,
    right: Option<Label>,
    hash: [u8; 32],
}

impl NodeRepr {
    fn of(n: &TreeNode) -> NodeRepr {
        NodeRepr {
            last_epoch: n.last_epoch,
            min_descendant_epoch: n.min_descendant_epoch,
            parent: pack(&n.parent),
            node_type: n.node_type as u8,
            left: n.left_child.as_ref().map(pack),
            right: n.right_child.as_ref().map(pack),
            hash: n.hash.0,
        }
    }
}

/// A tree node with the version before its latest change (what `akd` keeps).
#[derive(Serialize, Deserialize)]
struct NodeRow {
    version: u8,
    latest: NodeRepr,
    previous: Option<NodeRepr>,
}

const NODE_VERSION: u8 = 1;
const MAX_NODE_BYTES: usize = 1024;

fn encode_node(n: &TreeNodeWithPreviousValue) -> Vec<u8> {
    codec::encode(&NodeRow {
        version: NODE_VERSION,
        latest: NodeRepr::of(&n.latest_node),
        previous: n.previous_node.as_ref().map(NodeRepr::of),
    })
}

fn decode_node(label: NodeLabel, bytes: &[u8]) -> Result<TreeNodeWithPreviousValue, StorageError> {
    let row: NodeRow = codec::decode(bytes, MAX_NODE_BYTES)
        .map_err(|e| StorageError::Other(format!("stored tree node: {e}")))?;
    if row.version != NODE_VERSION {
        return Err(StorageError::Other("stored tree node version".into()));
    }
    let l = row.latest;
    let p = row.previous;
    Ok(DbRecord::build_tree_node_with_previous_value(
        label.label_val,
        label.label_len,
        l.last_epoch,
        l.min_descendant_epoch,
        l.parent.0,
        l.parent.1,
        l.node_type,
        l.left.map(unpack),
        l.right.map(unpack),
        l.hash,
        p.as_ref().map(|p| p.last_epoch),
        p.as_ref().map(|p| p.min_descendant_epoch),
        p.as_ref().map(|p| p.parent.0),
        p.as_ref().map(|p| p.parent.1),
        p.as_ref().map(|p| p.node_type),
        p.as_ref().and_then(|p| p.left.map(unpack)),
        p.as_ref().and_then(|p| p.right.map(unpack)),
        p.as_ref().map(|p| p.hash),
    ))
}

fn write(c: &Connection, record: &DbRecord) -> rusqlite::Result<()> {
    match record {
        DbRecord::Azks(a) => {
            c.prepare_cached(
                "INSERT INTO kt_azks (id, latest_epoch, num_nodes) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET latest_epoch = ?1, num_nodes = ?2",
            )?
            .execute(params![a.latest_epoch as i64, a.num_nodes as i64])?;
        }
        DbRecord::TreeNode(n) => {
            c.prepare_cached(
                "INSERT INTO kt_nodes (label, node) VALUES (?1, ?2)
                 ON CONFLICT (label) DO UPDATE SET node = ?2",
            )?
            .execute(params![label_key(&n.label), encode_node(n)])?;
        }
        DbRecord::ValueState(v) => {
            c.prepare_cached(
                "INSERT INTO kt_values (username, epoch, version, node_label, value)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (username, epoch) DO UPDATE SET version = ?3, node_label = ?4,
                   value = ?5",
            )?
            .execute(params![
                v.username.0,
                v.epoch as i64,
                v.version as i64,
                label_key(&v.label),
                v.value.0
            ])?;
        }
    }
    Ok(())
}

fn node_label_from_key(k: &[u8]) -> Option<NodeLabel> {
    let len = u32::from_be_bytes(k.get(..4)?.try_into().ok()?);
    let val: [u8; 32] = k.get(4..36)?.try_into().ok()?;
    Some(NodeLabel::new(val, len))
}

fn value_state(username: &[u8], row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<ValueState>> {
    let epoch: i64 = row.get(0)?;
    let version: i64 = row.get(1)?;
    let label: Vec<u8> = row.get(2)?;
    let value: Vec<u8> = row.get(3)?;
    Ok(node_label_from_key(&label).map(|l| {
        DbRecord::build_user_state(
            username.to_vec(),
            value,
            version as u64,
            l.label_len,
            l.label_val,
            epoch as u64,
        )
    }))
}

const STATE_COLUMNS: &str = "epoch, version, node_label, value";

fn user_state(
    c: &Connection,
    username: &[u8],
    flag: ValueStateRetrievalFlag,
) -> Result<Option<ValueState>, Fail> {
    let (sql, arg): (String, Option<i64>) = match flag {
        ValueStateRetrievalFlag::SpecificVersion(v) => (
            format!(
                "SELECT {STATE_COLUMNS} FROM kt_values WHERE username = ?1 AND version = ?2 ORDER BY epoch DESC LIMIT 1"
            ),
            Some(v as i64),
        ),
        ValueStateRetrievalFlag::SpecificEpoch(e) => (
            format!("SELECT {STATE_COLUMNS} FROM kt_values WHERE username = ?1 AND epoch = ?2"),
            Some(e as i64),
        ),
        ValueStateRetrievalFlag::LeqEpoch(e) => (
            format!(
                "SELECT {STATE_COLUMNS} FROM kt_values WHERE username = ?1 AND epoch <= ?2 ORDER BY epoch DESC LIMIT 1"
            ),
            Some(e as i64),
        ),
        ValueStateRetrievalFlag::MaxEpoch => (
            format!(
                "SELECT {STATE_COLUMNS} FROM kt_values WHERE username = ?1 ORDER BY epoch DESC LIMIT 1"
            ),
            None,
        ),
        ValueStateRetrievalFlag::MinEpoch => (
            format!(
                "SELECT {STATE_COLUMNS} FROM kt_values WHERE username = ?1 ORDER BY epoch ASC LIMIT 1"
            ),
            None,
        ),
    };
    let mut st = c.prepare_cached(&sql)?;
    let found = match arg {
        Some(a) => st
            .query_row(params![username, a], |r| value_state(username, r))
            .optional()?,
        None => st
            .query_row(params![username], |r| value_state(username, r))
            .optional()?,
    };
    Ok(found.flatten())
}

fn get_one(c: &Connection, ty: StorageType, bin: &[u8]) -> Result<Option<DbRecord>, Fail> {
    Ok(match ty {
        StorageType::Azks => c
            .prepare_cached("SELECT latest_epoch, num_nodes FROM kt_azks WHERE id = 1")?
            .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .optional()?
            .map(|(e, n)| DbRecord::Azks(DbRecord::build_azks(e as u64, n as u64))),
        StorageType::TreeNode => {
            let key = TreeNodeWithPreviousValue::key_from_full_binary(bin)
                .map_err(StorageError::Other)?;
            let node: Option<Vec<u8>> = c
                .prepare_cached("SELECT node FROM kt_nodes WHERE label = ?1")?
                .query_row([label_key(&key.0)], |r| r.get(0))
                .optional()?;
            match node {
                Some(b) => Some(DbRecord::TreeNode(decode_node(key.0, &b)?)),
                None => None,
            }
        }
        StorageType::ValueState => {
            let key = ValueState::key_from_full_binary(bin).map_err(StorageError::Other)?;
            user_state(c, &key.0, ValueStateRetrievalFlag::SpecificEpoch(key.1))?
                .map(DbRecord::ValueState)
        }
    })
}

impl SqliteDirectory {
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, Fail> + Send + 'static,
    ) -> Result<T, StorageError> {
        self.db.run(f).await.map_err(akd_error)
    }
}

#[async_trait]
impl Database for SqliteDirectory {
    async fn set(&self, record: DbRecord) -> Result<(), StorageError> {
        self.batch_set(vec![record], DbSetState::General).await
    }

    async fn batch_set(
        &self,
        records: Vec<DbRecord>,
        _state: DbSetState,
    ) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        self.run(move |c| {
            let tx = c.transaction()?;
            for r in &records {
                write(&tx, r)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get<St: Storable>(&self, id: &St::StorageKey) -> Result<DbRecord, StorageError> {
        let bin = St::get_full_binary_key_id(id);
        let ty = St::data_type();
        let what = format!("{ty:?} {id:?}");
        self.run(move |c| get_one(c, ty, &bin)?.ok_or(Fail::Akd(StorageError::NotFound(what))))
            .await
    }

    async fn batch_get<St: Storable>(
        &self,
        ids: &[St::StorageKey],
    ) -> Result<Vec<DbRecord>, StorageError> {
        let bins: Vec<Vec<u8>> = ids.iter().map(St::get_full_binary_key_id).collect();
        let ty = St::data_type();
        self.run(move |c| {
            let mut out = Vec::with_capacity(bins.len());
            for b in &bins {
                // Missing records are skipped, as akd expects.
                if let Some(r) = get_one(c, ty, b)? {
                    out.push(r);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn get_user_data(&self, username: &AkdLabel) -> Result<KeyData, StorageError> {
        let user = username.0.clone();
        let states = self
            .run(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {STATE_COLUMNS} FROM kt_values WHERE username = ?1 ORDER BY epoch"
                ))?;
                let rows = st.query_map([&user], |r| value_state(&user, r))?;
                let mut out = Vec::new();
                for r in rows {
                    if let Some(s) = r? {
                        out.push(s);
                    }
                }
                Ok(out)
            })
            .await?;
        if states.is_empty() {
            return Err(StorageError::NotFound("value states of a label".into()));
        }
        Ok(KeyData { states })
    }

    async fn get_user_state(
        &self,
        username: &AkdLabel,
        flag: ValueStateRetrievalFlag,
    ) -> Result<ValueState, StorageError> {
        let user = username.0.clone();
        self.run(move |c| {
            user_state(c, &user, flag)?.ok_or(Fail::Akd(StorageError::NotFound(
                "value state of a label".into(),
            )))
        })
        .await
    }

    async fn get_user_state_versions(
        &self,
        usernames: &[AkdLabel],
        flag: ValueStateRetrievalFlag,
    ) -> Result<HashMap<AkdLabel, (u64, AkdValue)>, StorageError> {
        let users: Vec<AkdLabel> = usernames.to_vec();
        self.run(move |c| {
            let mut map = HashMap::new();
            for u in users {
                if let Some(s) = user_state(c, &u.0, flag)? {
                    map.insert(u, (s.version, s.value));
                }
            }
            Ok(map)
        })
        .await
    }
}

/// `NodeKey` is how akd names a tree node; kept here so the key layout is checked in tests.
#[cfg(test)]
fn node_bin(l: NodeLabel) -> Vec<u8> {
    TreeNodeWithPreviousValue::get_full_binary_key_id(&akd::tree_node::NodeKey(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use akd::storage::StorageManager;
    use akd::tree_node::NodeKey;

    fn db() -> (tempfile::TempDir, SqliteDirectory) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        (dir, SqliteDirectory::new(db))
    }

    #[tokio::test]
    async fn records_round_trip() {
        let (_d, s) = db();
        let label = NodeLabel::new([7; 32], 200);
        let node = DbRecord::build_tree_node_with_previous_value(
            [7; 32],
            200,
            5,
            3,
            [1; 32],
            8,
            3,
            Some(NodeLabel::new([2; 32], 201)),
            None,
            [9; 32],
            Some(4),
            Some(2),
            Some([1; 32]),
            Some(8),
            Some(1),
            None,
            Some(NodeLabel::new([3; 32], 256)),
            Some([8; 32]),
        );
        let state = DbRecord::build_user_state(
            b"ann@example.org".to_vec(),
            vec![4; 32],
            2,
            256,
            [6; 32],
            7,
        );
        s.batch_set(
            vec![
                DbRecord::Azks(DbRecord::build_azks(7, 12)),
                DbRecord::TreeNode(node.clone()),
                DbRecord::ValueState(state.clone()),
            ],
            DbSetState::TransactionCommit,
        )
        .await
        .unwrap();
        assert_eq!(
            s.get::<TreeNodeWithPreviousValue>(&NodeKey(label))
                .await
                .unwrap(),
            DbRecord::TreeNode(node)
        );
        assert_eq!(
            s.get::<akd::Azks>(&1u8).await.unwrap(),
            DbRecord::Azks(DbRecord::build_azks(7, 12))
        );
        let user = AkdLabel(b"ann@example.org".to_vec());
        assert_eq!(
            s.get_user_state(&user, ValueStateRetrievalFlag::LeqEpoch(9))
                .await
                .unwrap(),
            state
        );
        assert!(
            s.get_user_state(&user, ValueStateRetrievalFlag::LeqEpoch(6))
                .await
                .is_err()
        );
        assert_eq!(
            s.get_user_state(&user, ValueStateRetrievalFlag::SpecificVersion(2))
                .await
                .unwrap(),
            state
        );
        let missing = NodeKey(NodeLabel::new([0; 32], 1));
        assert!(matches!(
            s.get::<TreeNodeWithPreviousValue>(&missing).await,
            Err(StorageError::NotFound(_))
        ));
        assert_eq!(
            s.batch_get::<TreeNodeWithPreviousValue>(&[missing, NodeKey(label)])
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(node_bin(label)[0], StorageType::TreeNode as u8);
    }

    /// The whole directory over SQLite: publish, look up, history, audit, verified by the
    /// client's pure code.
    #[tokio::test]
    async fn a_directory_over_sqlite_proves_what_it_holds() {
        use assent_shared::transparency::{self as kt, Config};
        let (_d, s) = db();
        let vrf = super::super::VrfSecret::from_seed([3; 32]);
        let dir = akd::Directory::<Config, _, _>::new(
            StorageManager::new_no_cache(s),
            vrf.clone(),
            akd::AzksParallelismConfig::disabled(),
        )
        .await
        .unwrap();
        let ann = kt::label("ann@example.org");
        let bob = kt::label("bob@example.org");
        let e1 = dir
            .publish(vec![
                (ann.clone(), akd::AkdValue(vec![1; 32])),
                (bob.clone(), akd::AkdValue(vec![2; 32])),
            ])
            .await
            .unwrap();
        let e2 = dir
            .publish(vec![(ann.clone(), akd::AkdValue(vec![3; 32]))])
            .await
            .unwrap();
        assert_eq!((e1.0, e2.0), (1, 2));
        let (proof, at) = dir.lookup(ann.clone()).await.unwrap();
        assert_eq!(at.0, 2);
        let vrf_pk = dir.get_public_key().await.unwrap().to_bytes();
        let r =
            akd::verify::lookup_verify::<Config>(&vrf_pk, at.1, at.0, ann.clone(), proof).unwrap();
        assert_eq!((r.version, r.value.0.clone()), (2, vec![3; 32]));
        let (hist, at) = dir
            .key_history(&ann, akd::HistoryParams::Complete)
            .await
            .unwrap();
        let versions = akd::verify::key_history_verify::<Config>(
            &vrf_pk,
            at.1,
            at.0,
            ann,
            hist,
            akd::HistoryVerificationParams::default(),
        )
        .unwrap();
        assert_eq!(versions.len(), 2);
        let audit = dir.audit(1, 2).await.unwrap();
        akd::auditor::audit_verify::<Config>(vec![e1.1, e2.1], audit)
            .await
            .unwrap();
    }
}

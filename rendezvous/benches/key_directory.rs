//! Key directory benchmark: the server's own `KeyDirectory` over a real SQLite file, and the
//! client's verification code.
//!
//! `cargo bench -p assent-rendezvous --bench key_directory -- [--accounts 10000,100000]
//! [--out FILE]`. For each directory size N it reports:
//! - the first epoch publishing N accounts at once, then epochs of 1 and 100 changes on top;
//! - a lookup proof: its size, the server's time to make it and the client's to verify it;
//! - a key history proof (two versions): size, make, verify;
//! - the append-only proof of a 100-change epoch: size and the auditor's time to verify it;
//! - the database's size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use assent_rendezvous::clock::SystemClock;
use assent_rendezvous::db::Db;
use assent_rendezvous::kt::{self, KeyDirectory};
use assent_shared::transparency::{self as t, Config};
use assent_shared::{Digest, Timestamp};
use serde_json::json;

fn value(i: u64, version: u8) -> Digest {
    Digest::of("bench", &[&i.to_be_bytes(), &[version]])
}

fn email(i: u64) -> String {
    format!("user{i}@example.org")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Queue `changes` in one transaction.
async fn enqueue(db: &Db, changes: Vec<(String, Digest)>) {
    db.run(move |c| -> Result<(), assent_rendezvous::db::DbError> {
        let tx = c.transaction()?;
        for (e, v) in &changes {
            kt::enqueue(&tx, e, *v, Timestamp::now())?;
        }
        tx.commit()?;
        Ok(())
    })
    .await
    .expect("enqueue");
}

/// Lookups of `samples` accounts spread over the `n`: the time to make and to verify their
/// proofs, and the proofs' bytes (totals).
async fn lookups(
    kt: &KeyDirectory,
    keys: &assent_shared::transparency::DirectoryKeys,
    n: u64,
    samples: u64,
    epoch: u64,
) -> (Duration, Duration, usize) {
    let mut make = Duration::ZERO;
    let mut verify = Duration::ZERO;
    let mut size = 0usize;
    for k in 0..samples {
        let i = (k * 7919) % n;
        let start = Instant::now();
        let (r, proof, _) = kt.lookup(&email(i)).await.expect("lookup");
        make += start.elapsed();
        size += proof.len();
        let start = Instant::now();
        let proven = t::verify_lookup(keys, &r, &email(i), &proof).expect("verifies");
        verify += start.elapsed();
        assert_eq!(proven.epoch, epoch);
    }
    (make, verify, size)
}

async fn one_size(n: u64) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.sqlite3");
    let db = Db::open(&path).expect("database");
    let kt = KeyDirectory::new(db.clone(), Arc::new(SystemClock), &[7; 32]);
    let keys = kt.keys();

    enqueue(&db, (0..n).map(|i| (email(i), value(i, 1))).collect()).await;
    let start = Instant::now();
    kt.publish_pending()
        .await
        .expect("publish")
        .expect("an epoch");
    let first_publish = start.elapsed();
    eprintln!(
        "{n}: first epoch of {n} accounts in {:.1} s",
        first_publish.as_secs_f64()
    );

    enqueue(&db, vec![(email(1), value(1, 2))]).await;
    let start = Instant::now();
    kt.publish_pending().await.expect("publish");
    let publish_1 = start.elapsed();

    enqueue(&db, (100..200).map(|i| (email(i), value(i, 2))).collect()).await;
    let start = Instant::now();
    let root = kt
        .publish_pending()
        .await
        .expect("publish")
        .expect("an epoch");
    let publish_100 = start.elapsed();

    let samples = 50u64;
    let (make, verify, size) = lookups(&kt, &keys, n, samples, root.epoch()).await;
    // History of an account with two versions.
    let start = Instant::now();
    let (hr, hproof, _) = kt.history(&email(150)).await.expect("history");
    let history_make = start.elapsed();
    let start = Instant::now();
    let versions = t::verify_history(&keys, &hr, &email(150), &hproof).expect("verifies");
    let history_verify = start.elapsed();
    assert_eq!(versions.len(), 2);
    // The audit of the 100-change epoch.
    let (a, b, aproof) = kt.audit(root.epoch() - 1).await.expect("audit");
    let start = Instant::now();
    let decoded = t::decode_audit(&aproof).expect("decodes");
    akd::auditor::audit_verify::<Config>(vec![a.body.root_hash.0, b.body.root_hash.0], decoded)
        .await
        .expect("append-only");
    let audit_verify = start.elapsed();
    let db_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("sqlite3-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    let out = json!({
        "accounts": n,
        "first_epoch_publish_s": first_publish.as_secs_f64(),
        "epoch_publish_1_change_ms": ms(publish_1),
        "epoch_publish_100_changes_ms": ms(publish_100),
        "lookup_proof_bytes": size as u64 / samples,
        "lookup_make_ms": ms(make) / samples as f64,
        "lookup_verify_ms": ms(verify) / samples as f64,
        "history_proof_bytes_2_versions": hproof.len(),
        "history_make_ms": ms(history_make),
        "history_verify_ms": ms(history_verify),
        "audit_proof_bytes_100_changes": aproof.len(),
        "audit_verify_ms": ms(audit_verify),
        "database_bytes": db_bytes,
    });
    eprintln!("{out:#}");
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut sizes = vec![10_000u64, 100_000];
    let mut out_file = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--accounts" => {
                sizes = args[i + 1]
                    .split(',')
                    .map(|s| s.trim().parse().expect("a number"))
                    .collect();
                i += 1;
            }
            "--out" => {
                out_file = Some(args[i + 1].clone());
                i += 1;
            }
            // `cargo bench` passes `--bench`.
            _ => {}
        }
        i += 1;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results: Vec<serde_json::Value> = sizes.iter().map(|&n| rt.block_on(one_size(n))).collect();
    let report = json!({"cpus": cpus, "results": results});
    println!("{report:#}");
    if let Some(f) = out_file {
        std::fs::write(&f, format!("{report:#}\n")).expect("write the results");
        println!("results written to {f}");
    }
}

//! Segment encryption and decryption throughput on 256 MiB, three recipients.
//!
//! `cargo bench -p assent-shared --bench segment` (or `cargo xtask bench`, which also times the
//! stock `rage` CLI on the same data and writes the ratio to `target/bench-results/`).

use assent_shared::consent::fixtures::identities;
use assent_shared::container::segment;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIZE: usize = 256 * 1024 * 1024;

fn bench(c: &mut Criterion) {
    let ids = identities(3);
    let recipients: Vec<_> = ids.iter().map(|i| i.public().encryption).collect();
    let plaintext: Vec<u8> = (0..SIZE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect();
    let ciphertext = segment::encrypt(&recipients, &plaintext).unwrap();
    let identity = ids[1].age_identity().unwrap();

    let mut g = c.benchmark_group("segment");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(SIZE as u64));
    // Like the recorder: one output buffer reused for every segment.
    let mut out = Vec::new();
    g.bench_function("encrypt_256MiB", |b| {
        b.iter(|| segment::encrypt_into(&recipients, &plaintext, &mut out).unwrap())
    });
    // Like an export or a player: plaintext streamed to a sink (rage is timed writing to /dev/null).
    g.bench_function("decrypt_256MiB", |b| {
        b.iter(|| segment::decrypt_to(&identity, &ciphertext, std::io::sink()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

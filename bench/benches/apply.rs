//! Criterion micro-benchmarks of what every node does for one replicated record change, on the
//! zone `raft_write` writes to (100 TXT names): the state machine's apply (plan, validation,
//! content hash, version store, one RocksDB batch, unsynced), a run of 16 such changes made one
//! version, and the data plane's compile of the new version from the served one, then the
//! pieces one by one. Run with
//! `cargo bench -p nebula-bench --bench apply` (`-- --test` for a one-iteration smoke run).

// A benchmark, not a server path: a failed setup or a refused write stops it loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use nebula_store::canonical::{content_hash, HashFormat};
use nebula_store::db::Db;
use nebula_store::diff::diff;
use nebula_store::snapshot::ZoneSnapshot;
use nebula_store::state::{Applied, Stamped, ZoneStore};
use nebula_store::validate::validate;
use serde_json::json;

const ZONE: &str = "bench.test.";
const KEYS: u64 = 100;

fn stamped(n: u64, command: serde_json::Value) -> Stamped {
    serde_json::from_value(
        json!({"time_ms": 1_795_694_400_000u64 + n, "author": "bench", "hash_format": HashFormat::CURRENT, "command": command}),
    )
    .unwrap()
}

fn change(n: u64) -> Stamped {
    stamped(
        n,
        json!({"op": "change_records", "zone": ZONE, "changes": [{"action": "replace", "name": format!("k{}", n % KEYS), "type": "TXT", "ttl": 60, "data": format!("\"{:0>100}\"", n)}]}),
    )
}

fn apply(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&dir.path().join("db")).unwrap());
    let mut store = ZoneStore::open(db).unwrap();
    let body =
        "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";
    let put = stamped(
        0,
        json!({"op": "put_zone", "zone": ZONE, "body": body, "policy": null, "create_only": false}),
    );
    let mut n = 1;
    let apply = |store: &mut ZoneStore, stamped: &Stamped| {
        let (result, changes) = store.apply(stamped, &[], false).unwrap();
        if let Err(rejection) = result {
            panic!("refused: {}", rejection.message);
        }
        changes
    };
    let mut step = |store: &mut ZoneStore| {
        n += 1;
        apply(store, &change(n))
    };
    apply(&mut store, &put);
    for _ in 0..KEYS {
        step(&mut store);
    }
    c.bench_function("apply/change_one_rrset", |b| {
        b.iter(|| black_box(step(&mut store)))
    });
    // 16 writes to distinct names in one coalesced entry: one version for the run (ADR 0016).
    let mut m = 1_000_000;
    c.bench_function("apply/run_of_16_changes", |b| {
        b.iter(|| {
            let db = Arc::clone(store.db());
            let mut batch = db.batch();
            let mut answers = 0;
            for _ in 0..16 {
                m += 1;
                let applied = store.apply_into(&change(m), &[], &mut batch, true).unwrap();
                answers += applied.results.len();
            }
            let mut applied = Applied::default();
            store.end_run(&mut batch, &mut applied).unwrap();
            db.write(batch, false).unwrap();
            black_box(answers + applied.results.len())
        })
    });
    // What a node does per write when writes come one at a time: apply, then compile the new
    // version from the served one (the state machine's publish).
    let mut served = ZoneSnapshot::compile_next(store.served().next().unwrap(), None);
    c.bench_function("apply/change_and_compile", |b| {
        b.iter(|| {
            for change in &step(&mut store) {
                if let Some(zone) = &change.zone {
                    served = ZoneSnapshot::compile_next(zone, Some(&served));
                }
            }
            black_box(served.serial())
        })
    });
    let zone = store.served().next().cloned().unwrap();
    let changes = step(&mut store);
    let next = changes[0].zone.clone().unwrap();
    c.bench_function("apply/compile", |b| {
        b.iter(|| ZoneSnapshot::compile(black_box(&zone)))
    });
    let compiled = ZoneSnapshot::compile_next(&zone, None);
    c.bench_function("apply/compile_next", |b| {
        b.iter(|| ZoneSnapshot::compile_next(black_box(&next), Some(&compiled)))
    });
    c.bench_function("apply/validate", |b| {
        b.iter(|| validate(black_box(&zone), None))
    });
    c.bench_function("apply/content_hash_full", |b| {
        b.iter(|| content_hash(HashFormat::CURRENT, black_box(&zone)))
    });
    c.bench_function("apply/diff", |b| {
        b.iter(|| diff(black_box(&zone), black_box(&next)))
    });
    c.bench_function("apply/clone_zone", |b| {
        b.iter(|| black_box(&zone).as_ref().clone())
    });
}

criterion_group!(benches, apply);
criterion_main!(benches);

//! Criterion micro-benchmarks of the wire codec on real traffic: decode and encode of a
//! typical query and response (EDNS, name compression), and the data plane's allocation-free
//! `QueryView::parse`. Run with `cargo bench -p nebula-bench --bench wire` (`-- --test` for a
//! one-iteration smoke run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nebula_bench::{REFERRAL_RESPONSE, TYPICAL_QUERY, TYPICAL_RESPONSE};
use nebula_wire::{Message, QueryView};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, bytes) in [
        ("query", TYPICAL_QUERY),
        ("response", TYPICAL_RESPONSE),
        ("referral", REFERRAL_RESPONSE),
    ] {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| Message::decode(black_box(bytes))));
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, bytes) in [
        ("query", TYPICAL_QUERY),
        ("response", TYPICAL_RESPONSE),
        ("referral", REFERRAL_RESPONSE),
    ] {
        let Ok(message) = Message::decode(bytes) else {
            eprintln!("sample {name} does not decode: skipped");
            continue;
        };
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| black_box(&message).encode()));
    }
    group.finish();
}

fn query_view(c: &mut Criterion) {
    let mut group = c.benchmark_group("query_view");
    group.throughput(Throughput::Bytes(TYPICAL_QUERY.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| QueryView::parse(black_box(TYPICAL_QUERY)))
    });
    group.finish();
}

criterion_group!(benches, decode, encode, query_view);
criterion_main!(benches);

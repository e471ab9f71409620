//! `QueryView::parse` of a typical query performs zero heap allocations: the data plane's
//! decoder must not touch the allocator (DESIGN.md performance targets).
//!
//! A counting global allocator (stats_alloc, which keeps its unsafe to itself) counts every
//! allocation of the process. The tests of this file hold one lock so they never measure each
//! other; the harness's own threads may still allocate at any moment, so each check takes the
//! minimum over several runs: a parse that allocates shows at least one allocation in every
//! run, so the test still fails for it.
#![allow(clippy::unwrap_used)] // Tests may unwrap (house rules).

use std::alloc::System;
use std::hint::black_box;
use std::sync::Mutex;

use nebula_bench::{TYPICAL_QUERY, TYPICAL_RESPONSE};
use nebula_wire::{Message, QueryView};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Held by each test for its whole run (std's Mutex does not allocate).
static ONE_TEST_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The fewest allocations (plus reallocations) `work` made over a few runs.
fn fewest_allocations(mut work: impl FnMut()) -> usize {
    (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            work();
            let change = region.change();
            change.allocations + change.reallocations
        })
        .min()
        .unwrap()
}

#[test]
fn query_view_parse_does_not_allocate() {
    let _serial = ONE_TEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // The counter works: the owning decoder allocates (names on the heap, vectors).
    let owning = fewest_allocations(|| {
        black_box(Message::decode(black_box(TYPICAL_QUERY)).unwrap());
    });
    assert!(
        owning > 0,
        "the counting allocator saw nothing: is it installed?"
    );

    let view = fewest_allocations(|| {
        let view = QueryView::parse(black_box(TYPICAL_QUERY)).unwrap();
        black_box(view);
    });
    assert_eq!(
        view, 0,
        "QueryView::parse allocated {view} times on a typical query"
    );
}

#[test]
fn query_view_refusal_does_not_allocate() {
    let _serial = ONE_TEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // A response (QR set, two answers) still parses as a view; a cut packet is refused. Neither
    // may allocate, including the error path.
    let cut = &TYPICAL_QUERY[..TYPICAL_QUERY.len() - 3];
    let allocations = fewest_allocations(|| {
        black_box(QueryView::parse(black_box(cut)).is_err());
        black_box(QueryView::parse(black_box(TYPICAL_RESPONSE)).is_ok());
    });
    assert_eq!(
        allocations, 0,
        "QueryView::parse allocated on a refused or odd packet"
    );
}

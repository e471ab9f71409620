//! The answer path does not allocate in steady state (DESIGN.md performance targets): after a
//! warm-up, `Responder::answer` on typical queries — positive, negative, CNAME, referral, with
//! EDNS and a cookie — makes zero heap allocations.
//!
//! A counting global allocator (stats_alloc, which keeps its unsafe to itself) sees every
//! allocation of the process; each check takes the fewest over several runs so that the test
//! harness's own threads cannot make it flaky, while an answer path that allocates still shows
//! at least one allocation in every run.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use nebula_node::answer::{EngineConfig, Identity, Responder, Transport, DEFAULT_EDNS_PAYLOAD};
use nebula_node::cookie::CookieSecret;
use nebula_store::snapshot::{Catalog, ZoneSnapshot};
use nebula_wire::rdata::{Cookie, Edns, EdnsOption};
use nebula_wire::{Class, Header, Message, Name, Question, RType};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn catalog() -> Catalog {
    let origin: Name = "example.com.".parse().unwrap();
    let text = nebula_node::zones::EXAMPLE_ZONE.to_owned() + "sub NS ns.sub\nns.sub A 192.0.2.99\n";
    let parsed = nebula_store::master::parse_str(&text, &origin, "example").unwrap();
    Catalog::new([Arc::new(ZoneSnapshot::compile(&parsed.zone))])
}

fn query(name: &str, qtype: RType) -> Vec<u8> {
    let cookie = EdnsOption::Cookie(Cookie::new([1, 2, 3, 4, 5, 6, 7, 8], &[]).unwrap());
    let options = [cookie];
    let edns = Edns {
        udp_payload_size: 1232,
        extended_rcode: 0,
        version: 0,
        dnssec_ok: true,
        z: 0,
        options: &options,
    };
    Message {
        header: Header {
            id: 7,
            rd: true,
            ..Header::default()
        },
        questions: vec![Question {
            name: name.parse().unwrap(),
            qtype,
            qclass: Class::IN,
        }],
        additional: vec![edns.to_record()],
        ..Message::default()
    }
    .encode()
    .unwrap()
}

#[test]
fn answering_typical_queries_does_not_allocate() {
    let catalog = catalog();
    let mut responder = Responder::new(EngineConfig {
        identity: Identity::default(),
        cookie_secret: CookieSecret::new([9; 16]),
        edns_payload: DEFAULT_EDNS_PAYLOAD,
        transfer_allow: nebula_node::transfer::loopback().into(),
    });
    let client: IpAddr = "127.0.0.1".parse().unwrap();
    let queries = [
        query("www.example.com.", RType::A),
        query("WWW.EXAMPLE.COM.", RType::AAAA),
        query("nope.example.com.", RType::A),
        query("www.example.com.", RType::MX),
        query("ftp.example.com.", RType::A),
        query("example.com.", RType::MX),
        query("host.sub.example.com.", RType::A),
        query("x.apps.example.com.", RType::A),
        query("example.org.", RType::A),
    ];
    let mut out = Vec::with_capacity(4096);
    // Warm-up: buffers and tables reach their working size.
    for q in &queries {
        responder.answer(q, client, Transport::Udp, &catalog, 1_700_000_000, &mut out);
        assert!(Message::decode(&out).is_ok());
    }
    let fewest = (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for q in &queries {
                black_box(responder.answer(
                    black_box(q),
                    client,
                    Transport::Udp,
                    &catalog,
                    1_700_000_000,
                    &mut out,
                ));
            }
            let change = region.change();
            change.allocations + change.reallocations
        })
        .min()
        .unwrap();
    assert_eq!(
        fewest,
        0,
        "answering {} queries allocated {fewest} times",
        queries.len()
    );
    // The counter works: decoding an owned message allocates.
    let region = Region::new(GLOBAL);
    black_box(Message::decode(&out).unwrap());
    assert!(
        region.change().allocations > 0,
        "the counting allocator saw nothing"
    );
}

//! Test fixtures shared by the store's unit tests: names, a few RDATA and zones built from
//! `(owner, ttl, rdata)` triples.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use nebula_wire::rdata::Soa;
use nebula_wire::{Class, Name, RData};

use crate::zone::Zone;

/// An absolute name from text.
pub(crate) fn name(text: &str) -> Name {
    Name::from_text(text, None).unwrap()
}

/// The SOA every fixture zone uses, with the given serial.
pub(crate) fn soa(serial: u32) -> RData {
    RData::Soa(Box::new(Soa {
        mname: name("ns1.example.com."),
        rname: name("hostmaster.example.com."),
        serial,
        refresh: 7200,
        retry: 3600,
        expire: 1_209_600,
        minimum: 300,
    }))
}

/// An address in 192.0.2.0/24 (RFC 5737).
pub(crate) fn a(last: u8) -> RData {
    RData::A(Ipv4Addr::new(192, 0, 2, last))
}

/// The zone `example.com.` holding `records`, inserted in the given order.
pub(crate) fn zone(records: &[(&str, u32, RData)]) -> Zone {
    let mut zone = Zone::new(name("example.com."), Class::IN);
    for (owner, ttl, rdata) in records {
        zone.insert(name(owner), *ttl, rdata.clone());
    }
    zone
}

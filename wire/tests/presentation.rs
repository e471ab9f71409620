//! Presentation format against BIND: every record of `golden/presentation.zone`, parsed and
//! printed by nebula-wire, must read exactly as BIND 9.18 printed it in
//! `golden/presentation.bind.txt` (`named-compilezone -s full`, one record per line), except
//! for the differences listed in [`DELIBERATE_DIFFERENCES`] with their reasons.
//!
//! BIND sorts records (RRsets by owner, RDATA in canonical order), so each BIND line is matched
//! to the input record with the same owner, type and RDATA, then the two texts are compared.
//! To regenerate the BIND side after editing the zone, run the command in the zone's header.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nebula_wire::text::tokenize;
use nebula_wire::{Class, Name, RData, RType};

const ZONE: &str = include_str!("golden/presentation.zone");
const BIND: &str = include_str!("golden/presentation.bind.txt");

/// `(owner and type, BIND's text, ours)`: where our printing differs from BIND's on purpose.
const DELIBERATE_DIFFERENCES: &[(&str, &str, &str)] = &[
    // RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5). BIND prints the date closest to
    // its own clock, so 4000000000 (2096-10-02) read in 2026 is more than 68 years ahead and
    // prints as 1960. nebula-wire is pure and has no clock: it prints the plain reading, 1970 to
    // 2106. Both texts parse back to the same 32-bit value.
    ("far.example.com. RRSIG", "19600827003824", "20961002070640"),
];

/// One record: owner, TTL, class and RDATA (the type is the RDATA's).
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    owner: Name,
    ttl: u32,
    class: Class,
    rdata: RData,
}

impl Entry {
    /// The record as one line, fields separated by single spaces.
    fn line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.owner,
            self.ttl,
            self.class,
            self.rdata.rtype(),
            self.rdata
        )
    }
}

/// The first `n` whitespace-separated fields of `line` and the rest, unchanged, after them.
fn split_fields(line: &str, n: usize) -> (Vec<&str>, &str) {
    let mut fields = Vec::new();
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (fields, rest.trim_end())
}

/// A tiny master-file reader for the golden zone: `$ORIGIN` and one full record per line.
fn zone_entries() -> Vec<Entry> {
    let mut origin = Name::root();
    let mut entries = Vec::new();
    for line in ZONE.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix("$ORIGIN") {
            origin = Name::from_text(name.trim(), None).unwrap();
            continue;
        }
        let tokens = tokenize(line).unwrap();
        let owner = match tokens[0].text {
            "@" => origin.clone(),
            text => Name::from_text(text, Some(&origin)).unwrap(),
        };
        let rtype = RType::from_text(tokens[3].text).unwrap();
        let rdata = RData::from_tokens(rtype, &tokens[4..], Some(&origin))
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        entries.push(Entry {
            owner,
            ttl: tokens[1].text.parse().unwrap(),
            class: Class::from_text(tokens[2].text).unwrap(),
            rdata,
        });
    }
    entries
}

/// BIND's lines: the parsed record and the line with its column padding collapsed (the RDATA
/// text itself is kept exactly).
fn bind_entries() -> Vec<(Entry, String)> {
    BIND.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(';'))
        .map(|line| {
            let (fields, rdata_text) = split_fields(line, 4);
            let rtype = RType::from_text(fields[3]).unwrap();
            let rdata = RData::from_tokens(rtype, &tokenize(rdata_text).unwrap(), None)
                .unwrap_or_else(|e| panic!("BIND line {line}: {e}"));
            let entry = Entry {
                owner: Name::from_text(fields[0], None).unwrap(),
                ttl: fields[1].parse().unwrap(),
                class: Class::from_text(fields[2]).unwrap(),
                rdata,
            };
            (
                entry,
                format!(
                    "{} {} {} {} {}",
                    fields[0], fields[1], fields[2], fields[3], rdata_text
                ),
            )
        })
        .collect()
}

#[test]
fn printing_matches_bind_line_for_line() {
    let mut ours = zone_entries();
    let bind = bind_entries();
    assert_eq!(
        ours.len(),
        bind.len(),
        "BIND printed a different number of records"
    );
    let mut differences = Vec::new();
    for (theirs, bind_line) in &bind {
        let Some(at) = ours.iter().position(|e| e == theirs) else {
            differences.push(format!("no input record for BIND's line\n  {bind_line}"));
            continue;
        };
        let our_line = ours.swap_remove(at).line();
        let key = format!("{} {}", theirs.owner, theirs.rdata.rtype());
        let expected = DELIBERATE_DIFFERENCES
            .iter()
            .filter(|(which, _, _)| *which == key)
            .fold(bind_line.clone(), |line, (_, bind_text, our_text)| {
                line.replace(bind_text, our_text)
            });
        if our_line != expected {
            differences.push(format!("BIND: {bind_line}\nours: {our_line}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n\n")
    );
    assert!(ours.is_empty(), "records BIND did not print: {ours:?}");
}

#[test]
fn deliberate_differences_are_still_needed() {
    // Each listed difference must still occur, or the list would hide a regression.
    for (key, bind_text, our_text) in DELIBERATE_DIFFERENCES {
        let (entry, line) = bind_entries()
            .into_iter()
            .find(|(e, _)| format!("{} {}", e.owner, e.rdata.rtype()) == *key)
            .unwrap();
        assert!(line.contains(bind_text), "{line}");
        assert!(entry.line().contains(our_text), "{}", entry.line());
    }
}

#[test]
fn every_record_round_trips_through_text_and_wire() {
    for entry in zone_entries() {
        let rtype = entry.rdata.rtype();
        let text = entry.rdata.to_string();
        let reparsed = RData::from_tokens(rtype, &tokenize(&text).unwrap(), None).unwrap();
        assert_eq!(reparsed, entry.rdata, "{text}");
        let wire = entry.rdata.to_wire();
        assert_eq!(
            RData::decode_standalone(rtype, &wire).unwrap(),
            entry.rdata,
            "{text}"
        );
        // The RFC 3597 generic form of every record parses back to the structured one.
        let generic = entry.rdata.to_generic_text();
        assert_eq!(
            RData::from_tokens(rtype, &tokenize(&generic).unwrap(), None).unwrap(),
            entry.rdata,
            "{generic}"
        );
    }
}

#[test]
fn golden_zone_covers_every_structured_type() {
    let present: Vec<RType> = zone_entries().iter().map(|e| e.rdata.rtype()).collect();
    // OPT and TSIG are not zone data; tests/golden_wire.rs covers them with real messages.
    for rtype in [
        RType::A,
        RType::AAAA,
        RType::NS,
        RType::CNAME,
        RType::PTR,
        RType::DNAME,
        RType::SOA,
        RType::MX,
        RType::TXT,
        RType::SRV,
        RType::NAPTR,
        RType::DS,
        RType::CDS,
        RType::SSHFP,
        RType::RRSIG,
        RType::NSEC,
        RType::DNSKEY,
        RType::CDNSKEY,
        RType::NSEC3,
        RType::NSEC3PARAM,
        RType::TLSA,
        RType::SVCB,
        RType::HTTPS,
        RType::CAA,
        RType(65280),
    ] {
        assert!(present.contains(&rtype), "no {rtype} in the golden zone");
    }
}

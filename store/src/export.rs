//! Export of a zone as an RFC 1035 §5 master file that BIND, Knot, NSD and our own parser read
//! back to the same zone.
//!
//! Layout, chosen to be diffable and unambiguous rather than short:
//!
//! ```text
//! ; example.com. IN, 42 records, content hash 3f9c…
//! $ORIGIN example.com.
//! $TTL 3600
//! @  3600  IN  SOA  ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
//! @  3600  IN  NS  ns1.example.com.
//! www  300  IN  A  192.0.2.1
//! ```
//!
//! - `$ORIGIN` is the zone's origin (RFC 1035 §5.1); owner names below it are written relative
//!   to it (`@` for the apex), others absolute. Names inside RDATA are always absolute.
//! - `$TTL` (RFC 2308 §4) is the SOA's TTL; every record still carries its own TTL, so the
//!   directive only serves lines someone adds by hand.
//! - The apex SOA comes first, then every other RRset in canonical order (RFC 4034 §6.1 owner
//!   order, then type), records inside an RRset in canonical RDATA order (RFC 4034 §6.3).
//! - One record per line: `owner TTL class type RDATA`, tab separated (spaces above), RDATA
//!   in the presentation form `dig` prints ([`nebula_wire::RData`]'s `Display`, RFC 3597 `\#`
//!   for types without a structured form).

use std::io;

use nebula_wire::{RType, Record};

use crate::canonical::{canonical_rrsets, content_hash, CanonicalRrset, HashFormat};
use crate::zone::Zone;

/// Writes `zone` as a master file to `out` (buffer `out` for large zones: one write per record).
pub fn write_master_file<W: io::Write>(zone: &Zone, out: &mut W) -> io::Result<()> {
    write_hashed(
        zone,
        &content_hash(HashFormat::CURRENT, zone).to_string(),
        out,
    )
}

/// [`write_master_file`] of a zone whose content hash the caller knows already.
fn write_hashed<W: io::Write>(zone: &Zone, hash: &str, out: &mut W) -> io::Result<()> {
    writeln!(
        out,
        "; {} {}, {} records, content hash {hash}",
        zone.origin,
        zone.class,
        zone.record_count(),
    )?;
    write_body(zone, out)
}

/// The master file without its comment line: `$ORIGIN`, `$TTL` (when the zone has an apex SOA)
/// and the records. Also the form of the RRsets a stored delta version carries.
pub fn write_body<W: io::Write>(zone: &Zone, out: &mut W) -> io::Result<()> {
    writeln!(out, "$ORIGIN {}", zone.origin)?;
    let is_apex_soa =
        |set: &CanonicalRrset<'_>| set.rtype == RType::SOA && *set.owner == zone.origin;
    let apex_soa = canonical_rrsets(zone).find(is_apex_soa);
    if let Some(soa) = &apex_soa {
        writeln!(out, "$TTL {}", soa.ttl)?;
        write_rrset(zone, soa, out)?;
    }
    for set in canonical_rrsets(zone).filter(|set| !is_apex_soa(set)) {
        write_rrset(zone, &set, out)?;
    }
    Ok(())
}

/// The master file as a string. Its comment line gives the content hash a zone created with
/// this content gets ([`HashFormat::CURRENT`]).
pub fn to_master_file(zone: &Zone) -> String {
    to_master_file_hashed(zone, &content_hash(HashFormat::CURRENT, zone).to_string())
}

/// [`to_master_file`] of a zone whose content hash (`hash`) the caller knows already: a stored
/// version, whose id (in its zone's format) the hash is.
pub fn to_master_file_hashed(zone: &Zone, hash: &str) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every piece written is UTF-8 text.
    let _ = write_hashed(zone, hash, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn write_rrset<W: io::Write>(zone: &Zone, set: &CanonicalRrset<'_>, out: &mut W) -> io::Result<()> {
    let owner = set.owner.to_relative_text(&zone.origin);
    for data in &set.rdatas {
        writeln!(
            out,
            "{owner}\t{}\t{}\t{}\t{}",
            set.ttl, zone.class, set.rtype, data.rdata
        )?;
    }
    Ok(())
}

/// The records of an exported file in the order they are written, for callers that stream a
/// zone (AXFR builds its own framing; this is the order of the text form).
pub fn export_order(zone: &Zone) -> Vec<Record> {
    let is_apex_soa =
        |set: &CanonicalRrset<'_>| set.rtype == RType::SOA && *set.owner == zone.origin;
    let (soa, rest): (Vec<_>, Vec<_>) = canonical_rrsets(zone).partition(is_apex_soa);
    soa.iter()
        .chain(&rest)
        .flat_map(|set| {
            set.rdatas.iter().map(|data| Record {
                name: set.owner.clone(),
                class: zone.class,
                ttl: set.ttl,
                rdata: data.rdata.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::canonical::normalize;
    use nebula_wire::text::tokenize;
    use nebula_wire::{Class, Name, RData};

    fn name(text: &str) -> Name {
        Name::from_text(text, None).unwrap()
    }

    /// Parses the exported layout line by line with the wire crate's tokenizer: the export
    /// stays readable by the simplest line-oriented reader, not only by our full parser.
    fn parse_back(text: &str) -> Zone {
        let mut zone: Option<Zone> = None;
        for line in text.lines() {
            let tokens = tokenize(line).unwrap();
            let Some(first) = tokens.first() else {
                continue;
            };
            match first.text {
                "$ORIGIN" => zone = Some(Zone::new(name(tokens[1].text), Class::IN)),
                "$TTL" => assert!(tokens[1].text.parse::<u32>().is_ok()),
                owner => {
                    let zone = zone.as_mut().unwrap();
                    let owner = if owner == "@" {
                        zone.origin.clone()
                    } else {
                        Name::from_text(owner, Some(&zone.origin)).unwrap()
                    };
                    let ttl: u32 = tokens[1].text.parse().unwrap();
                    let class = Class::from_text(tokens[2].text).unwrap();
                    zone.class = class;
                    let rtype = RType::from_text(tokens[3].text).unwrap();
                    let rdata =
                        RData::from_tokens(rtype, &tokens[4..], Some(&zone.origin)).unwrap();
                    zone.insert(owner, ttl, rdata);
                }
            }
        }
        zone.unwrap()
    }

    fn rdata(rtype: RType, text: &str) -> RData {
        RData::from_tokens(rtype, &tokenize(text).unwrap(), None).unwrap()
    }

    fn sample() -> Zone {
        let mut zone = Zone::new(name("example.com."), Class::IN);
        let records: &[(&str, u32, RType, &str)] = &[
            ("www.example.com.", 300, RType::A, "192.0.2.2"),
            ("www.example.com.", 300, RType::A, "192.0.2.1"),
            ("example.com.", 3600, RType::NS, "ns1.example.com."),
            ("example.com.", 3600, RType::NS, "ns.other.net."),
            ("example.com.", 300, RType::MX, "10 mail.example.com."),
            (
                "example.com.",
                300,
                RType::TXT,
                r#""v=spf1 -all" "semi;colon" "quote\"d" "\255""#,
            ),
            ("mail.example.com.", 300, RType::AAAA, "2001:db8::25"),
            (
                "_sip._tcp.example.com.",
                300,
                RType::SRV,
                "0 5 5060 sip.example.com.",
            ),
            ("alias.example.com.", 300, RType::CNAME, "www.example.com."),
            ("sub.example.com.", 86400, RType::NS, "ns1.sub.example.com."),
            ("ns1.sub.example.com.", 86400, RType::A, "192.0.2.53"),
            ("*.wild.example.com.", 60, RType::A, "192.0.2.99"),
            ("a\\@b\\$c.example.com.", 60, RType::A, "192.0.2.100"),
            ("\\$origin.example.com.", 60, RType::A, "192.0.2.101"),
            ("odd.example.com.", 60, RType(65534), "\\# 3 ABCDEF"),
            ("empty.example.com.", 60, RType(65535), "\\# 0"),
            (
                "example.com.",
                3600,
                RType::SOA,
                "ns1.example.com. hostmaster.example.com. 7 7200 3600 1209600 300",
            ),
        ];
        for (owner, ttl, rtype, text) in records {
            zone.insert(name(owner), *ttl, rdata(*rtype, text));
        }
        zone
    }

    #[test]
    fn layout_is_soa_first_then_canonical_and_relative() {
        let text = to_master_file(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("; example.com. IN, 17 records, content hash "),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "$ORIGIN example.com.");
        assert_eq!(lines[2], "$TTL 3600");
        assert_eq!(
            lines[3],
            "@\t3600\tIN\tSOA\tns1.example.com. hostmaster.example.com. 7 7200 3600 1209600 300"
        );
        let owners_and_types: Vec<String> = lines[4..]
            .iter()
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                format!("{} {}", fields[0], fields[3])
            })
            .collect();
        assert_eq!(
            owners_and_types,
            [
                "@ NS",
                "@ NS",
                "@ MX",
                "@ TXT",
                "\\$origin A",
                "_sip._tcp SRV",
                "a\\@b\\$c A",
                "alias CNAME",
                "empty TYPE65535",
                "mail AAAA",
                "odd TYPE65534",
                "sub NS",
                "ns1.sub A",
                "*.wild A",
                "www A",
                "www A",
            ]
        );
        // Records of one RRset in canonical RDATA order.
        assert!(
            text.contains("@\t3600\tIN\tNS\tns.other.net.\n@\t3600\tIN\tNS\tns1.example.com.\n")
        );
        assert!(text.contains("www\t300\tIN\tA\t192.0.2.1\nwww\t300\tIN\tA\t192.0.2.2\n"));
        assert_eq!(export_order(&sample()).len(), 17);
        assert_eq!(export_order(&sample())[0].rtype(), RType::SOA);
    }

    #[test]
    fn export_parses_back_to_the_same_zone() {
        let zone = sample();
        let text = to_master_file(&zone);
        let back = parse_back(&text);
        assert_eq!(normalize(&back), normalize(&zone));
        assert_eq!(to_master_file(&back), text, "export is a fixed point");
    }

    #[test]
    fn export_parses_back_with_the_master_parser() {
        let zone = sample();
        let text = to_master_file(&zone);
        let parsed = crate::master::parse_str(&text, &zone.origin, "export").unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(normalize(&parsed.zone), normalize(&zone));
        assert_eq!(to_master_file(&parsed.zone), text);
    }

    #[test]
    fn names_outside_the_origin_stay_absolute() {
        let mut zone = Zone::new(name("example.com."), Class::IN);
        zone.insert(name("example.org."), 60, rdata(RType::A, "192.0.2.1"));
        let text = to_master_file(&zone);
        assert!(
            text.ends_with("$ORIGIN example.com.\nexample.org.\t60\tIN\tA\t192.0.2.1\n"),
            "{text}"
        );
        assert!(!text.contains("$TTL"), "no SOA, no default TTL");
    }
}

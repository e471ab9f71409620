//! Real-peer round trip of the wire codec: BIND 9.18, Knot DNS and NSD serve
//! `tests/data/all-types.zone` (every record type `nebula-wire` models, plus RFC 3597 unknown
//! types), and every message they send us must survive `nebula-wire`.
//!
//! For each server: an AXFR over TCP (our query, QDCOUNT = 1), then for every owner and type of
//! the zone one UDP and one TCP query with EDNS, the DO bit and a client cookie. Each response
//! must decode strictly, re-encode, and decode again to the same message, with every owner and
//! RDATA byte-identical in uncompressed form (names compare without case, so the bytes are
//! compared too); each record's presentation text must parse back to the same RDATA. The records
//! of the transfers must equal each other and the zone file as `named-compilezone` prints it,
//! parsed with `nebula_wire::text`. A TSIG-signed AXFR (HMAC-SHA256) is checked the same way and
//! its MACs verified; peers serving as secondaries must transfer the same records.
//!
//! Last, no record of a type with a mnemonic may have decoded as opaque [`RData::Unknown`]: the
//! test covers every type only once the codec models them all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nebula_wire::text::tokenize;
use nebula_wire::{Class, Message, Name, RData, RType, Record};

use support::exchange::{query, tcp_exchange, tcp_transfer, udp_exchange, Edns, EXCHANGE_TIMEOUT};
use support::peers::{find_binary, Peer, PeerKind, ZoneConfig};
use support::tsig::{hmac_sha256, sign_request, ResponseVerifier, TsigKey};

const ORIGIN: &str = "interop.test.";

/// The client cookie of every query (RFC 7873 §4.1: 8 octets chosen by the client).
const CLIENT_COOKIE: [u8; 8] = *b"nebula01";

/// Types the zone file must contain, so the test keeps covering all of them.
const ZONE_TYPES: [RType; 24] = [
    RType::A,
    RType::AAAA,
    RType::NS,
    RType::CNAME,
    RType::DNAME,
    RType::SOA,
    RType::MX,
    RType::TXT,
    RType::PTR,
    RType::SRV,
    RType::CAA,
    RType::NAPTR,
    RType::SSHFP,
    RType::TLSA,
    RType::SVCB,
    RType::HTTPS,
    RType::DS,
    RType::DNSKEY,
    RType::RRSIG,
    RType::NSEC,
    RType::NSEC3,
    RType::NSEC3PARAM,
    RType::CDS,
    RType::CDNSKEY,
];

fn zone_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/all-types.zone")
}

fn origin() -> Name {
    Name::from_text(ORIGIN, None).unwrap()
}

fn transfer_key() -> TsigKey {
    TsigKey::new(
        "transfer-key.interop.test.",
        b"a shared secret of thirty-two!!!",
    )
}

/// How long a secondary may take to transfer the zone from its primary.
const SECONDARY_TIMEOUT: Duration = Duration::from_secs(10);

fn start(kind: PeerKind, zone: ZoneConfig) -> Peer {
    Peer::start(kind, &[zone]).unwrap_or_else(|e| panic!("{e}"))
}

/// What the responses of one peer showed.
#[derive(Debug, Default)]
struct Observed {
    messages: usize,
    records: usize,
    types: BTreeSet<RType>,
    /// Records of a type with a mnemonic that decoded as opaque RDATA, by type.
    opaque_known: BTreeMap<RType, usize>,
    /// Re-encodings that came out byte-identical to what the peer sent (informational).
    identical_reencodings: usize,
    problems: Vec<String>,
}

impl Observed {
    /// Decodes `bytes` strictly, re-encodes and decodes again, and checks every record; returns
    /// the first decoding, or `None` (with a problem noted) if the bytes did not decode.
    fn round_trip(&mut self, context: &str, bytes: &[u8]) -> Option<Message> {
        let first = match Message::decode(bytes) {
            Ok(message) => message,
            Err(e) => {
                self.problems
                    .push(format!("{context}: strict decode failed: {e}"));
                return None;
            }
        };
        self.messages += 1;
        match first.encode() {
            Err(e) => self
                .problems
                .push(format!("{context}: re-encoding failed: {e}")),
            Ok(reencoded) => {
                if reencoded == bytes {
                    self.identical_reencodings += 1;
                }
                match Message::decode(&reencoded) {
                    Err(e) => self.problems.push(format!(
                        "{context}: re-encoded message does not decode: {e}"
                    )),
                    Ok(second) => self.compare(context, &first, &second),
                }
            }
        }
        for record in sections(&first) {
            self.check_record(context, record);
        }
        Some(first)
    }

    /// The decoded re-encoding must equal the original decoding, section by section, with
    /// owners and RDATA byte-identical in uncompressed form.
    fn compare(&mut self, context: &str, first: &Message, second: &Message) {
        if first.header != second.header || first.questions != second.questions {
            self.problems.push(format!(
                "{context}: header or question changed in the round trip"
            ));
        }
        for (name, a, b) in [
            ("answer", &first.answers, &second.answers),
            ("authority", &first.authority, &second.authority),
            ("additional", &first.additional, &second.additional),
        ] {
            if a.len() != b.len() {
                self.problems.push(format!(
                    "{context}: {name} section has {} records, then {}",
                    a.len(),
                    b.len()
                ));
                continue;
            }
            for (x, y) in a.iter().zip(b) {
                let same = x == y
                    && x.name.as_wire() == y.name.as_wire()
                    && x.rdata.to_wire() == y.rdata.to_wire();
                if !same {
                    self.problems.push(format!(
                        "{context}: {name} record changed in the round trip:\n  {x}\n  {y}"
                    ));
                }
            }
        }
        if first != second {
            self.problems
                .push(format!("{context}: message differs after the round trip"));
        }
    }

    fn check_record(&mut self, context: &str, record: &Record) {
        let rtype = record.rtype();
        self.records += 1;
        self.types.insert(rtype);
        if matches!(record.rdata, RData::Unknown { .. }) && rtype.mnemonic().is_some() {
            *self.opaque_known.entry(rtype).or_default() += 1;
        }
        if rtype.is_meta() {
            return;
        }
        // Presentation text must parse back to the same RDATA (RFC 1035 §5.1, RFC 3597 §5).
        let text = record.rdata.to_string();
        let parsed = tokenize(&text)
            .map_err(|e| e.to_string())
            .and_then(|tokens| RData::from_tokens(rtype, &tokens, None).map_err(|e| e.to_string()));
        match parsed {
            Ok(rdata) if rdata == record.rdata && rdata.to_wire() == record.rdata.to_wire() => {}
            Ok(rdata) => self.problems.push(format!(
                "{context}: {rtype} text {text:?} parses to {rdata}"
            )),
            Err(e) => self.problems.push(format!(
                "{context}: {rtype} text {text:?} does not parse: {e}"
            )),
        }
    }

    fn summary(&self, label: &str) -> String {
        let types: Vec<String> = self.types.iter().map(RType::to_string).collect();
        format!(
            "{label}: {} messages ({} re-encoded byte-identical), {} records, {} types: {}",
            self.messages,
            self.identical_reencodings,
            self.records,
            self.types.len(),
            types.join(" ")
        )
    }
}

fn sections(message: &Message) -> impl Iterator<Item = &Record> {
    message
        .answers
        .iter()
        .chain(&message.authority)
        .chain(&message.additional)
}

/// A message ID unique within this test binary.
fn next_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Checks the response echoes the query: same ID, QR set, the one question.
fn check_echo(observed: &mut Observed, context: &str, query: &Message, response: &Message) {
    if response.header.id != query.header.id
        || !response.header.qr
        || response.questions != query.questions
    {
        observed.problems.push(format!(
            "{context}: response does not echo the query:\n{response}"
        ));
    }
}

/// Transfers the zone with `request` and returns the records between the opening and closing
/// SOA, plus the opening SOA. Every message is round-tripped into `observed`; `verifier` checks
/// the MACs of a signed transfer.
fn transfer(
    observed: &mut Observed,
    label: &str,
    server: SocketAddr,
    request: &Message,
    request_bytes: &[u8],
    mut verifier: Option<&mut ResponseVerifier>,
) -> Vec<Record> {
    // NSD restarts its server processes after loading a transferred zone: a connection made
    // at that moment is reset before any answer. Such a reset is retried, nothing else.
    let mut resets = 0;
    let result = loop {
        match tcp_transfer(server, request_bytes, EXCHANGE_TIMEOUT) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && resets < 3 => {
                resets += 1;
                thread::sleep(Duration::from_millis(200));
            }
            other => break other,
        }
    };
    let messages = match result {
        Ok(messages) => messages,
        Err(e) => {
            observed.problems.push(format!("{label} AXFR: {e}"));
            return Vec::new();
        }
    };
    let mut records = Vec::new();
    for (i, bytes) in messages.iter().enumerate() {
        let context = format!("{label} AXFR message {i}");
        if let Some(verifier) = verifier.as_deref_mut() {
            if let Err(e) = verifier.verify(bytes) {
                observed.problems.push(format!("{context}: TSIG: {e}"));
            }
        }
        let Some(message) = observed.round_trip(&context, bytes) else {
            continue;
        };
        if message.header.rcode != 0 {
            observed
                .problems
                .push(format!("{context}: RCODE {}", message.header.rcode));
        }
        if i == 0 {
            check_echo(observed, &context, request, &message);
        }
        records.extend(message.answers);
    }
    let opens = records.first().map(Record::rtype) == Some(RType::SOA);
    let closes = records.len() > 1 && records.last().map(Record::rtype) == Some(RType::SOA);
    if !opens || !closes {
        observed.problems.push(format!(
            "{label} AXFR: not framed by SOA records ({} records)",
            records.len()
        ));
        return records;
    }
    records.pop();
    records
}

/// Queries every owner and type of `records` once over UDP and once over TCP, with EDNS, DO and
/// a client cookie, and round-trips every response.
fn query_each_rrset(observed: &mut Observed, label: &str, server: SocketAddr, records: &[Record]) {
    let edns = Edns {
        udp_payload_size: 1232,
        dnssec_ok: true,
        client_cookie: Some(CLIENT_COOKIE),
    };
    let rrsets: BTreeSet<(Name, RType)> = records
        .iter()
        .map(|r| (r.name.clone(), r.rtype()))
        .collect();
    for (owner, rtype) in rrsets {
        for transport in ["UDP", "TCP"] {
            let context = format!("{label} {transport} {owner} {rtype}");
            let request = query(next_id(), &owner, rtype, Some(&edns));
            let bytes = request.encode().unwrap();
            let reply = if transport == "UDP" {
                udp_exchange(server, &bytes, EXCHANGE_TIMEOUT)
            } else {
                tcp_exchange(server, &bytes, EXCHANGE_TIMEOUT)
            };
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) => {
                    observed.problems.push(format!("{context}: {e}"));
                    continue;
                }
            };
            let Some(response) = observed.round_trip(&context, &reply) else {
                continue;
            };
            check_echo(observed, &context, &request, &response);
            // NXDOMAIN is a fair answer for an NSEC3 owner, which the servers keep apart from
            // the zone tree; anything else means the query itself was not understood.
            if !matches!(response.header.rcode, 0 | 3) {
                observed
                    .problems
                    .push(format!("{context}: RCODE {}", response.header.rcode));
            }
            if response.opt().is_none() {
                observed
                    .problems
                    .push(format!("{context}: EDNS query answered without OPT"));
            }
        }
    }
}

/// The zone file as `named-compilezone` prints it (one record per line, fully qualified),
/// parsed with `nebula_wire::text`: the records that parsed, the types named on any line, and a
/// problem for each line that did not parse.
struct Reference {
    records: Vec<Record>,
    types: BTreeSet<RType>,
    problems: Vec<String>,
}

fn reference() -> Reference {
    let tool = find_binary("named-compilezone", "bind9-utils").unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new(tool)
        .args([
            "-q", "-f", "text", "-F", "text", "-s", "full", "-o", "-", ORIGIN,
        ])
        .arg(zone_file())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "named-compilezone: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let mut reference = Reference {
        records: Vec::new(),
        types: BTreeSet::new(),
        problems: Vec::new(),
    };
    for line in text.lines() {
        let tokens = tokenize(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        if tokens.is_empty() {
            continue;
        }
        assert!(
            tokens.len() >= 4,
            "short line from named-compilezone: {line}"
        );
        let owner = Name::from_text(tokens[0].text, None).unwrap();
        let ttl: u32 = tokens[1].text.parse().unwrap();
        let class = Class::from_text(tokens[2].text).unwrap();
        let rtype = RType::from_text(tokens[3].text).unwrap();
        reference.types.insert(rtype);
        match RData::from_tokens(rtype, &tokens[4..], None) {
            Ok(rdata) => reference.records.push(Record {
                name: owner,
                class,
                ttl,
                rdata,
            }),
            Err(e) => reference.problems.push(format!(
                "named-compilezone line does not parse: {line}\n  {e}"
            )),
        }
    }
    reference.records = sorted(reference.records);
    reference
}

/// Sorts records into a canonical order (owner, type, RDATA bytes) for set comparison.
fn sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| {
        (&a.name, a.rtype(), a.rdata.to_wire(), a.ttl).cmp(&(
            &b.name,
            b.rtype(),
            b.rdata.to_wire(),
            b.ttl,
        ))
    });
    records
}

/// Describes how two record sets differ, or `None` if they are equal: owners without case (servers
/// may store them lower-cased), RDATA byte for byte.
fn difference(
    left_label: &str,
    left: &[Record],
    right_label: &str,
    right: &[Record],
) -> Option<String> {
    let key = |r: &Record| {
        (
            r.name.to_lowercase().as_wire().to_vec(),
            r.rtype(),
            r.class,
            r.ttl,
            r.rdata.to_wire(),
        )
    };
    let left_keys: BTreeSet<_> = left.iter().map(key).collect();
    let right_keys: BTreeSet<_> = right.iter().map(key).collect();
    let mut out = String::new();
    for r in left.iter().filter(|r| !right_keys.contains(&key(r))) {
        out.push_str(&format!("\n  only in {left_label}: {r}"));
    }
    for r in right.iter().filter(|r| !left_keys.contains(&key(r))) {
        out.push_str(&format!("\n  only in {right_label}: {r}"));
    }
    if left.len() != right.len() {
        out.push_str(&format!(
            "\n  {left_label} has {} records, {right_label} {}",
            left.len(),
            right.len()
        ));
    }
    (!out.is_empty()).then(|| format!("{left_label} and {right_label} differ:{out}"))
}

/// One peer's part of the main test: plain AXFR, then a query per owner and type.
fn exercise(kind: PeerKind) -> (Observed, Vec<Record>) {
    let peer = start(kind, ZoneConfig::primary(ORIGIN, zone_file()));
    let mut observed = Observed::default();
    let label = kind.to_string();
    let request = query(next_id(), &origin(), RType::AXFR, None);
    let bytes = request.encode().unwrap();
    let records = transfer(
        &mut observed,
        &label,
        peer.address(),
        &request,
        &bytes,
        None,
    );
    query_each_rrset(&mut observed, &label, peer.address(), &records);
    if !observed.problems.is_empty() {
        observed
            .problems
            .push(format!("{label} log:\n{}", peer.log()));
    }
    (observed, sorted(records))
}

#[test]
fn bind_knot_and_nsd_responses_round_trip_and_transfer_the_zone_file() {
    let Reference {
        records: reference,
        types,
        mut problems,
    } = reference();
    let missing: Vec<RType> = ZONE_TYPES
        .iter()
        .copied()
        .filter(|t| !types.contains(t))
        .collect();
    assert!(missing.is_empty(), "all-types.zone lacks {missing:?}");
    assert!(
        types.iter().any(|t| t.mnemonic().is_none()),
        "all-types.zone has no unknown type"
    );

    let results: Vec<(PeerKind, Observed, Vec<Record>)> = thread::scope(|scope| {
        let handles: Vec<_> = PeerKind::ALL
            .into_iter()
            .map(|kind| scope.spawn(move || (kind, exercise(kind))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .map(|(kind, (o, r))| (kind, o, r))
            .collect()
    });

    let mut opaque_known: BTreeMap<RType, usize> = BTreeMap::new();
    for (kind, observed, records) in &results {
        println!("{}", observed.summary(&kind.to_string()));
        problems.extend(observed.problems.iter().cloned());
        if let Some(diff) = difference(
            "named-compilezone",
            &reference,
            &format!("{kind} AXFR"),
            records,
        ) {
            problems.push(diff);
        }
        for (rtype, count) in &observed.opaque_known {
            *opaque_known.entry(*rtype).or_default() += count;
        }
    }
    for pair in results.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if let Some(diff) = difference(
            &format!("{} AXFR", a.0),
            &a.2,
            &format!("{} AXFR", b.0),
            &b.2,
        ) {
            problems.push(diff);
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        opaque_known.is_empty(),
        "records of known types decoded as opaque RDATA (the codec does not model them yet): {opaque_known:?}"
    );
}

#[test]
fn signed_transfers_verify_and_round_trip() {
    let reference = reference().records;
    let key = transfer_key();
    let results: Vec<(PeerKind, Observed)> = thread::scope(|scope| {
        let handles: Vec<_> = PeerKind::ALL
            .into_iter()
            .map(|kind| {
                let (key, reference) = (&key, &reference);
                scope.spawn(move || (kind, signed_transfer(kind, key, reference)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut problems = Vec::new();
    for (kind, observed) in &results {
        println!("{}", observed.summary(&format!("{kind} (TSIG)")));
        problems.extend(observed.problems.iter().cloned());
        if !observed.types.contains(&RType::TSIG) {
            problems.push(format!("{kind}: no TSIG record in the signed transfer"));
        }
        if let Some(n) = observed.opaque_known.get(&RType::TSIG) {
            problems.push(format!("{kind}: {n} TSIG records decoded as opaque RDATA"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A peer that requires TSIG for transfers: an unsigned AXFR is refused, a signed one is
/// answered with verifiable MACs and the zone's records.
fn signed_transfer(kind: PeerKind, key: &TsigKey, reference: &[Record]) -> Observed {
    let peer = start(
        kind,
        ZoneConfig::primary(ORIGIN, zone_file()).with_key(key.clone()),
    );
    let label = format!("{kind} (TSIG)");
    let mut observed = Observed::default();

    let unsigned = query(next_id(), &origin(), RType::AXFR, None);
    // A closed connection (an error here) is also a refusal.
    if let Ok(messages) = tcp_transfer(
        peer.address(),
        &unsigned.encode().unwrap(),
        EXCHANGE_TIMEOUT,
    ) {
        let refused = messages.len() == 1
            && observed
                .round_trip(&format!("{label} unsigned AXFR"), &messages[0])
                .is_some_and(|m| m.header.rcode != 0 && m.answers.is_empty());
        if !refused {
            observed
                .problems
                .push(format!("{label}: unsigned AXFR was not refused"));
        }
    }

    let request = query(next_id(), &origin(), RType::AXFR, None);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = sign_request(&request, key, now).unwrap();
    let mut verifier = ResponseVerifier::new(key, &signed);
    let records = transfer(
        &mut observed,
        &label,
        peer.address(),
        &request,
        &signed.bytes,
        Some(&mut verifier),
    );
    if verifier.signed_messages == 0 {
        observed
            .problems
            .push(format!("{label}: no signed message verified"));
    }
    if let Some(diff) = difference("named-compilezone", reference, &label, &sorted(records)) {
        observed.problems.push(diff);
    }
    if !observed.problems.is_empty() {
        observed
            .problems
            .push(format!("{label} log:\n{}", peer.log()));
    }
    observed
}

#[test]
fn each_peer_serves_as_a_secondary_with_tsig() {
    let reference = reference().records;
    let key = transfer_key();
    // The primary also NOTIFYs an address nobody listens on: that configuration must load too.
    let nobody = SocketAddr::from(([127, 0, 0, 1], support::peers::free_port().unwrap()));
    let primary_zone = ZoneConfig::primary(ORIGIN, zone_file())
        .with_key(key.clone())
        .with_notify(nobody);
    let primary = start(PeerKind::Knot, primary_zone);
    let problems: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = PeerKind::ALL
            .into_iter()
            .map(|kind| {
                let zone = ZoneConfig::secondary(ORIGIN, primary.address()).with_key(key.clone());
                let (key, reference) = (&key, &reference);
                scope.spawn(move || {
                    let secondary = start(kind, zone);
                    let label = format!("{kind} secondary");
                    let mut observed = Observed::default();
                    // A secondary answers before its first transfer is in (NSD with NOTAUTH).
                    if let Err(e) = secondary.wait_for_zone(ORIGIN, SECONDARY_TIMEOUT) {
                        return vec![format!("{label}: {e}")];
                    }
                    let request = query(next_id(), &origin(), RType::AXFR, None);
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let signed = sign_request(&request, key, now).unwrap();
                    let mut verifier = ResponseVerifier::new(key, &signed);
                    let address = secondary.address();
                    let records = transfer(
                        &mut observed,
                        &label,
                        address,
                        &request,
                        &signed.bytes,
                        Some(&mut verifier),
                    );
                    if let Some(diff) =
                        difference("named-compilezone", reference, &label, &sorted(records))
                    {
                        observed.problems.push(diff);
                    }
                    println!("{}", observed.summary(&label));
                    observed.problems
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        primary.soa_serial(ORIGIN).is_some(),
        "the primary stopped serving"
    );
}

#[test]
fn hmac_sha256_matches_rfc_4231_test_case_2() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

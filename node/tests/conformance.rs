//! Differential conformance suite (issue 3): the zones of `tests/data/conformance/` are served
//! alike by NSD, by Knot DNS (Debian's packages, started on loopback by the test) and by our
//! `nebuladns`; every query goes to all three and the responses are compared section by section.
//! Two more tests here check malformed input (FORMERR or drop, never a crash, and the reason
//! counters at `/metrics`) and that `dig` and `kdig` read our answers.
//!
//! The queries are the hand-written `queries.txt` (one line per answer rule, each asked over UDP
//! without EDNS, UDP with EDNS and TCP) and generated ones: every owner of the zones × a set of
//! types, ANY, random-case (0x20) variants and non-existent children (over UDP with and without
//! EDNS, a fifth of them over TCP too).
//!
//! Each response is decoded with [`Message::decode`] and normalised ([`normalise`]): the message
//! ID, the order of records (sections compare as multisets), the case of names (RFC 4343) and the
//! EDNS details (payload size, cookies, NSID, padding: only the presence of an OPT record counts)
//! are taken out, and so is the content of a truncated response (RFC 2181 §9: the client ignores
//! it and retries over TCP, where the whole answer is compared). What is compared: RCODE
//! (extended), QR/OPCODE/AA/TC/RD/RA/AD/CD, the question, OPT presence, and the answer, authority
//! and additional sections. Our question must also echo the query's name byte for byte, case
//! included.
//!
//! # The reference
//!
//! When NSD and Knot agree, we must answer exactly as they do. When they disagree, the rules of
//! [`PEER_DISAGREEMENTS`] rewrite the side that departs from the RFC-following behaviour, each
//! touching only what it describes; afterwards the two must be equal and that is the reference.
//! A disagreement no rule explains fails the test, and so does a rule no query needed.
//!
//! | id | NSD | Knot | reference and why |
//! |---|---|---|---|
//! | `nsd-chases-into-other-zones` | follows a CNAME/DNAME chain into another zone it serves (that zone's records, NS, SOA and RCODE) | stops at the zone's edge | Knot: a resolver discards answer data outside the queried zone's bailiwick (RFC 2181 §5.4.1 credibility) and asks again, so chasing only adds size |
//! | `nsd-authority-ns` | adds the zone's NS RRset to the authority section of positive answers, their addresses as additional data (its `minimal-responses: no` default) | minimal | Knot: the NS RRset of a positive answer is optional (RFC 1034 §4.3.2 step 6, RFC 2181 §6.1) |
//! | `knot-glue-as-additional` | no additional data for an MX/SRV target that is glue below a zone cut | the glue addresses | NSD: glue is not authoritative data and serves referrals only (RFC 1034 §4.2.1) |
//! | `any-rrset-choice` | ANY at an apex: the SOA | ANY: the RRset of the lowest type | Knot: RFC 8482 §4.1 lets the responder pick any one RRset; we pick the lowest type too |
//! | `nsd-error-without-question` | REFUSED (class NONE) and NOTIMP (opcode) without the question or OPT | both echoed | Knot: the question lets the client match the response (RFC 1035 §7.3), OPT answers OPT (RFC 6891 §7) |
//! | `update-not-implemented` | UPDATE: NOTIMP | NOTAUTH | NOTIMP: we implement no UPDATE (RFC 1035 §4.1.1, RFC 2136 §3); NOTAUTH is Knot refusing an UPDATE it implements |
//! | `transfer-refusal` | transfer not allowed: REFUSED | NOTAUTH | NSD: refusal by policy is REFUSED (RFC 1035 §4.1.1); NOTAUTH belongs to TSIG failures (RFC 8945 §5.3) |
//! | `class-any-aa` | QCLASS ANY: class IN data, AA clear | AA set | NSD: a server authoritative for one class cannot vouch for all (RFC 6895 §3.2) |
//!
//! # Our intentional differences
//!
//! Where we differ from the reference on purpose, [`INTENTIONAL_DIFFERENCES`] says so, and the
//! test asserts the documented behaviour instead of equality. A row no query needed fails the
//! test (it is stale).
//!
//! | id | we answer | the reference | why |
//! |---|---|---|---|
//! | `qtype-opt-formerr` | QTYPE OPT: FORMERR | NODATA | OPT is a Meta-TYPE that exists only inside one message (RFC 6891 §6.1.1, RFC 6895 §3.1); FORMERR as RFC 9824 §3.5 asks for explicit queries of a Meta-TYPE |
//! | `transfers-refused` | AXFR over UDP: REFUSED | NOTIMP | a transfer over UDP is refused by policy (RFC 1035 §4.1.1): RFC 5936 §4.2 leaves AXFR over UDP undefined; this test's servers all refuse transfers (`[transfer] allow = []` for us), so IXFR over UDP, which allowed clients get answered with the SOA alone, is refused too |
//! | `class-any-refused` | QCLASS ANY: REFUSED | class IN data, AA clear | we serve class IN only and an answer for "all classes" cannot be authoritative (RFC 6895 §3.2), so we refuse it by policy (RFC 1035 §4.1.1) |
//!
//! Fixed in the answer engine because of this suite (each with a unit test in `answer.rs`):
//! repeated CNAME loops, the referral after a CNAME into a delegation, a DNAME-synthesised CNAME
//! answering a CNAME query, additional data for minimal ANY, glue as additional data of MX/SRV,
//! and DS at the apex of a served child zone answered from the served parent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nebula_wire::query::QueryView;
use nebula_wire::{Class, Message, Name, RType, Rcode, Record};

use support::exchange::{
    connect_tcp, query, read_framed, tcp_exchange, udp_exchange, write_framed, Edns,
    EXCHANGE_TIMEOUT,
};
use support::nebula::Nebula;
use support::peers::{find_binary, Peer, PeerKind, ZoneConfig};

/// The served zones; each file is `tests/data/conformance/<origin>zone`.
const ZONES: [&str; 3] = ["example.test.", "rfc4592.test.", "subdel.rfc4592.test."];

/// The suite must not shrink unnoticed: at least this many distinct queries.
const MIN_QUERIES: usize = 600;

/// How long a UDP query may wait for its reply (loopback: a reply comes in microseconds).
const UDP_TIMEOUT: Duration = Duration::from_secs(2);

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance")
}

/// The zones as every server loads them; transfers are refused everywhere (they are tested with
/// real secondaries in `tests/transfer.rs`; see `transfers-refused`).
fn zone_configs() -> Vec<ZoneConfig> {
    ZONES
        .iter()
        .map(|origin| {
            ZoneConfig::primary(origin, data_dir().join(format!("{origin}zone"))).without_transfer()
        })
        .collect()
}

fn start_ours() -> Nebula {
    Nebula::start_with(
        env!("CARGO_BIN_EXE_nebuladns"),
        &zone_configs(),
        "[transfer]\nallow = []\n",
    )
    .unwrap_or_else(|e| panic!("starting nebuladns: {e}"))
}

fn start_peer(kind: PeerKind) -> Peer {
    Peer::start(kind, &zone_configs()).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/// How a query travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    /// UDP without an OPT record: 512-octet responses (RFC 1035 §4.2.1).
    Udp,
    /// UDP with EDNS, payload 1232 (RFC 6891 §6.2.5).
    UdpEdns,
    /// TCP with EDNS (RFC 7766).
    Tcp,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Udp => "udp",
            Mode::UdpEdns => "udp+edns",
            Mode::Tcp => "tcp",
        })
    }
}

const ALL_MODES: [Mode; 3] = [Mode::Udp, Mode::UdpEdns, Mode::Tcp];

/// One query of the suite.
#[derive(Debug, Clone)]
struct Case {
    /// The rule it exercises (`queries.txt`), or `gen-…` for generated queries.
    rule: String,
    qname: Name,
    qtype: RType,
    class: Class,
    opcode: u8,
    rd: bool,
    /// With EDNS: the DO bit (RFC 3225), a client cookie (RFC 7873) and the EDNS version.
    dnssec_ok: bool,
    cookie: bool,
    edns_version: u8,
    modes: Vec<Mode>,
}

impl Case {
    fn new(rule: impl Into<String>, qname: Name, qtype: RType, modes: &[Mode]) -> Case {
        Case {
            rule: rule.into(),
            qname,
            qtype,
            class: Class::IN,
            opcode: 0,
            rd: false,
            dnssec_ok: false,
            cookie: false,
            edns_version: 0,
            modes: modes.to_vec(),
        }
    }

    /// The query packet; the same bytes go to every server.
    fn packet(&self, mode: Mode, id: u16) -> Vec<u8> {
        let edns = Edns {
            dnssec_ok: self.dnssec_ok,
            client_cookie: self.cookie.then_some(*b"conform3"),
            ..Edns::default()
        };
        let mut message = query(
            id,
            &self.qname,
            self.qtype,
            (mode != Mode::Udp).then_some(&edns),
        );
        if let Some(opt) = message.additional.first_mut() {
            // The OPT TTL: extended RCODE, VERSION, flags (RFC 6891 §6.1.3).
            opt.ttl |= u32::from(self.edns_version) << 16;
        }
        message.questions[0].qclass = self.class;
        message.header.opcode = self.opcode;
        message.header.rd = self.rd;
        message.encode().unwrap()
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} {} {}",
            self.rule, self.qname, self.class, self.qtype
        )?;
        if self.opcode != 0 {
            write!(f, " opcode={}", self.opcode)?;
        }
        for (set, flag) in [
            (self.rd, " +rd"),
            (self.dnssec_ok, " +do"),
            (self.cookie, " +cookie"),
        ] {
            if set {
                f.write_str(flag)?;
            }
        }
        if self.edns_version != 0 {
            write!(f, " edns-version={}", self.edns_version)?;
        }
        Ok(())
    }
}

/// `queries.txt`: `rule qname qtype [class=X] [opcode=N] [rd]`, `#` comments.
fn hand_written_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data_dir().join("queries.txt")).unwrap();
    let mut cases: Vec<Case> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let context = format!("queries.txt:{}", number + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.len() >= 3, "{context}: need rule, qname and qtype");
        let qname =
            Name::from_text(words[1], None).unwrap_or_else(|e| panic!("{context}: qname: {e}"));
        let qtype = RType::from_text(words[2]).unwrap_or_else(|| panic!("{context}: bad qtype"));
        let mut case = Case::new(words[0], qname, qtype, &ALL_MODES);
        for option in &words[3..] {
            match option.split_once('=') {
                Some(("class", class)) => {
                    case.class =
                        Class::from_text(class).unwrap_or_else(|| panic!("{context}: bad class"));
                }
                Some(("opcode", opcode)) => {
                    case.opcode = opcode
                        .parse()
                        .ok()
                        .filter(|o| *o < 16)
                        .unwrap_or_else(|| panic!("{context}: bad opcode"));
                }
                Some(("edns-version", version)) => {
                    case.edns_version = version
                        .parse()
                        .unwrap_or_else(|_| panic!("{context}: bad EDNS version"));
                }
                None if *option == "rd" => case.rd = true,
                None if *option == "do" => case.dnssec_ok = true,
                None if *option == "cookie" => case.cookie = true,
                _ => panic!("{context}: unknown option {option}"),
            }
        }
        assert!(
            !cases.iter().any(|c| c.rule == case.rule),
            "{context}: rule {} twice",
            case.rule
        );
        cases.push(case);
    }
    cases
}

/// A small deterministic generator (xorshift64*): the generated queries are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// The types every owner is asked for: the zone's types, DS (answered at a cut by the parent),
/// DNAME and a type no record has.
const GENERATED_TYPES: [RType; 13] = [
    RType::A,
    RType::AAAA,
    RType::NS,
    RType::SOA,
    RType::MX,
    RType::TXT,
    RType::CNAME,
    RType::SRV,
    RType::DS,
    RType::PTR,
    RType::DNAME,
    RType::CAA,
    RType(65280),
];

/// The name with each letter's case chosen at random (DNS 0x20, RFC 4343).
fn random_case(name: &Name, rng: &mut Rng) -> Name {
    let mut wire = name.as_wire().to_vec();
    let mut at = 0usize;
    while at < wire.len() && wire[at] != 0 {
        let len = usize::from(wire[at]);
        for byte in &mut wire[at + 1..at + 1 + len] {
            if rng.next() & 1 == 1 {
                *byte = byte.to_ascii_uppercase();
            }
        }
        at += len + 1;
    }
    Name::from_wire(&wire).unwrap()
}

/// Every owner of both zones × [`GENERATED_TYPES`] and ANY, two random-case variants and a
/// non-existent child per owner.
fn generated_cases() -> Vec<Case> {
    let mut rng = Rng(0x6e65_6275_6c61_0003);
    let mut cases = Vec::new();
    let udp = [Mode::Udp, Mode::UdpEdns];
    for origin in ZONES {
        let origin_name = Name::from_text(origin, None).unwrap();
        let text = std::fs::read_to_string(data_dir().join(format!("{origin}zone"))).unwrap();
        let parsed = nebula_store::master::parse_str(&text, &origin_name, origin).unwrap();
        let owners: BTreeSet<Name> = parsed.zone.rrsets().map(|(o, _, _)| o.clone()).collect();
        for (index, owner) in owners.iter().enumerate() {
            for (offset, qtype) in GENERATED_TYPES.iter().enumerate() {
                let modes: &[Mode] = if (index + offset) % 5 == 0 {
                    &ALL_MODES
                } else {
                    &udp
                };
                cases.push(Case::new(
                    format!("gen-type-{qtype}"),
                    owner.clone(),
                    *qtype,
                    modes,
                ));
            }
            cases.push(Case::new("gen-any", owner.clone(), RType::ANY, &udp));
            for qtype in [RType::A, RType::TXT] {
                let mut case = Case::new("gen-0x20", random_case(owner, &mut rng), qtype, &udp);
                case.rd = rng.next() & 1 == 1;
                cases.push(case);
            }
            let child = format!("nx{}", rng.below(1000));
            // The longest owner has no room for a child (RFC 1035 §2.3.4).
            if let Ok(name) = owner.prepend_label(child.as_bytes()) {
                for qtype in [RType::A, RType::MX] {
                    cases.push(Case::new("gen-child", name.clone(), qtype, &udp));
                }
            }
        }
    }
    cases
}

// ---------------------------------------------------------------------------------------------
// Normalised responses
// ---------------------------------------------------------------------------------------------

/// What one server sent back to one query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Normal(Normal),
    /// No reply in time.
    Silent,
    /// Bytes our codec refuses.
    Undecodable(String),
}

/// A response with what may legitimately differ taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Normal {
    qr: bool,
    opcode: u8,
    aa: bool,
    tc: bool,
    rd: bool,
    ra: bool,
    ad: bool,
    cd: bool,
    /// The whole RCODE, header and OPT bits together (RFC 6891 §6.1.3).
    rcode: Rcode,
    /// `name class type`, name lower-cased.
    question: Vec<String>,
    /// An OPT record is present (its payload size and options are not compared).
    edns: bool,
    /// Records as `owner ttl class type rdata`, owner (and names inside RDATA) lower-cased,
    /// sorted: sections compare as multisets.
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
}

/// Types whose RDATA holds domain names, compared without case (RFC 4343 §3).
fn rdata_has_names(rtype: RType) -> bool {
    matches!(
        rtype,
        RType::CNAME
            | RType::DNAME
            | RType::NS
            | RType::MX
            | RType::SRV
            | RType::PTR
            | RType::SOA
            | RType::NAPTR
    )
}

fn record_line(record: &Record) -> String {
    let rdata = record.rdata.to_string();
    format!(
        "{} {} {} {} {}",
        record.name.to_string().to_ascii_lowercase(),
        record.ttl,
        record.class,
        record.rtype(),
        if rdata_has_names(record.rtype()) {
            rdata.to_ascii_lowercase()
        } else {
            rdata
        }
    )
}

fn section(records: &[Record]) -> Vec<String> {
    let mut lines: Vec<String> = records
        .iter()
        .filter(|r| r.rtype() != RType::OPT)
        .map(record_line)
        .collect();
    lines.sort();
    lines
}

fn normalise(message: &Message) -> Normal {
    let h = &message.header;
    let mut normal = Normal {
        qr: h.qr,
        opcode: h.opcode,
        aa: h.aa,
        tc: h.tc,
        rd: h.rd,
        ra: h.ra,
        ad: h.ad,
        cd: h.cd,
        rcode: message.rcode(),
        question: message
            .questions
            .iter()
            .map(|q| {
                format!(
                    "{} {} {}",
                    q.name.to_string().to_ascii_lowercase(),
                    q.qclass,
                    q.qtype
                )
            })
            .collect(),
        edns: message.opt().is_some(),
        answer: section(&message.answers),
        authority: section(&message.authority),
        additional: section(&message.additional),
    };
    if normal.tc {
        // RFC 2181 §9: a truncated response's sections hold whatever fitted; the client retries
        // over TCP, where the whole answer is compared.
        normal.answer.clear();
        normal.authority.clear();
        normal.additional.clear();
    }
    normal
}

/// One parsed record line of a normalised section.
struct Line<'a> {
    owner: &'a str,
    rtype: &'a str,
    rdata: &'a str,
}

fn parse_line(line: &str) -> Line<'_> {
    let mut parts = line.splitn(5, ' ');
    let owner = parts.next().unwrap_or("");
    let _ttl = parts.next();
    let _class = parts.next();
    let rtype = parts.next().unwrap_or("");
    let rdata = parts.next().unwrap_or("");
    Line {
        owner,
        rtype,
        rdata,
    }
}

/// The distinct (owner, type) RRsets of a section.
fn rrsets(lines: &[String]) -> BTreeSet<(String, String)> {
    lines
        .iter()
        .map(|l| {
            let line = parse_line(l);
            (line.owner.to_owned(), line.rtype.to_owned())
        })
        .collect()
}

fn is_zone_apex(owner: &str) -> bool {
    ZONES.contains(&owner)
}

/// Field-by-field differences of `ours` from `reference`, empty if equal.
fn differences(ours: &Normal, reference: &Normal) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! field {
        ($name:ident) => {
            if ours.$name != reference.$name {
                out.push(format!(
                    "{}: ours {:?}, reference {:?}",
                    stringify!($name),
                    ours.$name,
                    reference.$name
                ));
            }
        };
    }
    field!(rcode);
    field!(qr);
    field!(opcode);
    field!(aa);
    field!(tc);
    field!(rd);
    field!(ra);
    field!(ad);
    field!(cd);
    field!(question);
    field!(edns);
    for (title, a, b) in [
        ("answer", &ours.answer, &reference.answer),
        ("authority", &ours.authority, &reference.authority),
        ("additional", &ours.additional, &reference.additional),
    ] {
        let (extra, missing) = multiset_difference(a, b);
        for line in extra {
            out.push(format!("{title}: extra   {line}"));
        }
        for line in missing {
            out.push(format!("{title}: missing {line}"));
        }
    }
    out
}

/// Lines of `a` not matched in `b`, and lines of `b` not matched in `a` (multisets).
fn multiset_difference<'a>(a: &'a [String], b: &'a [String]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut counts: BTreeMap<&str, isize> = BTreeMap::new();
    for line in a {
        *counts.entry(line).or_default() += 1;
    }
    for line in b {
        *counts.entry(line).or_default() -= 1;
    }
    let mut extra = Vec::new();
    let mut missing = Vec::new();
    for (line, count) in counts {
        for _ in 0..count.max(0) {
            extra.push(line);
        }
        for _ in 0..(-count).max(0) {
            missing.push(line);
        }
    }
    (extra, missing)
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Silent => "    (no reply)\n".into(),
        Reply::Undecodable(e) => format!("    (undecodable: {e})\n"),
        Reply::Normal(n) => {
            let mut s = format!(
                "    {} aa={} tc={} rd={} ra={} ad={} cd={} qr={} opcode={} edns={} question={:?}\n",
                n.rcode, n.aa, n.tc, n.rd, n.ra, n.ad, n.cd, n.qr, n.opcode, n.edns, n.question
            );
            for (title, lines) in [
                ("an", &n.answer),
                ("ns", &n.authority),
                ("ar", &n.additional),
            ] {
                for line in lines {
                    s.push_str(&format!("    {title} {line}\n"));
                }
            }
            s
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Where NSD and Knot disagree
// ---------------------------------------------------------------------------------------------

/// A documented disagreement between NSD and Knot: `settle` rewrites the side that departs from
/// the RFC-following behaviour into that behaviour, touching only what the rule describes, and
/// returns true if it changed anything. After every rule has had its turn the two must be equal;
/// the result is the reference.
struct PeerDisagreement {
    id: &'static str,
    settle: fn(&Case, &mut Normal, &mut Normal) -> bool,
}

/// See the table in the module documentation. Applied in this order.
const PEER_DISAGREEMENTS: [PeerDisagreement; 8] = [
    PeerDisagreement {
        id: "nsd-chases-into-other-zones",
        settle: nsd_chases_into_other_zones,
    },
    PeerDisagreement {
        id: "nsd-authority-ns",
        settle: nsd_authority_ns,
    },
    PeerDisagreement {
        id: "knot-glue-as-additional",
        settle: knot_glue_as_additional,
    },
    PeerDisagreement {
        id: "any-rrset-choice",
        settle: any_rrset_choice,
    },
    PeerDisagreement {
        id: "nsd-error-without-question",
        settle: nsd_error_without_question,
    },
    PeerDisagreement {
        id: "update-not-implemented",
        settle: update_not_implemented,
    },
    PeerDisagreement {
        id: "transfer-refusal",
        settle: transfer_refusal,
    },
    PeerDisagreement {
        id: "class-any-aa",
        settle: class_any_aa,
    },
];

/// The served zone a lower-cased absolute name belongs to (longest origin suffix).
fn zone_of(name: &str) -> Option<&'static str> {
    ZONES
        .iter()
        .copied()
        .filter(|origin| name == *origin || name.ends_with(&format!(".{origin}")))
        .max_by_key(|origin| origin.len())
}

/// The zone cuts of the served zones (owners of NS RRsets other than an apex), lower-cased.
fn zone_cuts() -> &'static BTreeSet<String> {
    static CUTS: OnceLock<BTreeSet<String>> = OnceLock::new();
    CUTS.get_or_init(|| {
        let mut cuts = BTreeSet::new();
        for origin in ZONES {
            let origin_name = Name::from_text(origin, None).unwrap();
            let text = std::fs::read_to_string(data_dir().join(format!("{origin}zone"))).unwrap();
            let parsed = nebula_store::master::parse_str(&text, &origin_name, origin).unwrap();
            for (owner, rtype, _) in parsed.zone.rrsets() {
                if rtype == RType::NS && *owner != origin_name {
                    cuts.insert(owner.to_string().to_ascii_lowercase());
                }
            }
        }
        cuts
    })
}

/// True if a lower-cased name is at or below a zone cut (glue or occluded data).
fn below_cut(name: &str) -> bool {
    zone_cuts()
        .iter()
        .any(|cut| name == cut || name.ends_with(&format!(".{cut}")))
}

/// Removes from `lines` the ones `predicate` selects that `other` does not have as often
/// (multiset difference), returning whether any went.
fn remove_unmatched(
    lines: &mut Vec<String>,
    other: &[String],
    predicate: impl Fn(&Line<'_>) -> bool,
) -> bool {
    let (_, only_here) = multiset_difference(other, lines);
    let mut remove: Vec<String> = only_here
        .into_iter()
        .filter(|l| predicate(&parse_line(l)))
        .map(str::to_owned)
        .collect();
    let before = lines.len();
    lines.retain(|l| match remove.iter().position(|r| r == l) {
        Some(at) => {
            remove.swap_remove(at);
            false
        }
        None => true,
    });
    lines.len() != before
}

/// `nsd-chases-into-other-zones`: a CNAME or DNAME chain that leaves the zone for another zone
/// NSD also serves is followed there by NSD (records of the other zone in the answer, its NS in
/// the authority section, its additional data); Knot stops at the zone's edge. Reference: Knot.
fn nsd_chases_into_other_zones(case: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    let qname = case.qname.to_string().to_ascii_lowercase();
    let Some(zone) = zone_of(&qname) else {
        return false;
    };
    let leaves = knot.answer.iter().any(|l| {
        let line = parse_line(l);
        matches!(line.rtype, "CNAME" | "DNAME")
            && zone_of(line.rdata.rsplit(' ').next().unwrap_or("")) != Some(zone)
    });
    if !leaves {
        return false;
    }
    let outside = |line: &Line<'_>| zone_of(line.owner) != Some(zone);
    let other_zone_negative = nsd.authority.iter().any(|l| {
        let line = parse_line(l);
        line.rtype == "SOA" && outside(&line)
    });
    let answer = remove_unmatched(&mut nsd.answer, &knot.answer, outside);
    let authority = remove_unmatched(&mut nsd.authority, &knot.authority, outside);
    let additional = remove_unmatched(&mut nsd.additional, &knot.additional, outside);
    // The RCODE of a negative answer found in the other zone (RFC 6604 §3) goes with it.
    if other_zone_negative {
        nsd.rcode = knot.rcode;
    }
    answer || authority || additional
}

/// `nsd-authority-ns`: NSD's positive answers also carry a zone's NS RRset in the authority
/// section and those servers' addresses as additional data. Reference: Knot (minimal).
fn nsd_authority_ns(_: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    if nsd.answer.is_empty() || knot.authority.iter().any(|l| parse_line(l).rtype == "NS") {
        return false;
    }
    let servers: BTreeSet<String> = nsd
        .authority
        .iter()
        .map(|l| parse_line(l))
        .filter(|l| l.rtype == "NS" && is_zone_apex(l.owner))
        .map(|l| l.rdata.to_owned())
        .collect();
    let apex_ns = |line: &Line<'_>| line.rtype == "NS" && is_zone_apex(line.owner);
    if !remove_unmatched(&mut nsd.authority, &knot.authority, apex_ns) {
        return false;
    }
    remove_unmatched(&mut nsd.additional, &knot.additional, |line| {
        servers.contains(line.owner) && matches!(line.rtype, "A" | "AAAA")
    });
    true
}

/// `knot-glue-as-additional`: for an MX or SRV whose target lies below a zone cut, Knot adds the
/// glue addresses as additional data. Reference: NSD (glue serves referrals only).
fn knot_glue_as_additional(_: &Case, _: &mut Normal, knot: &mut Normal) -> bool {
    let exchanges: BTreeSet<String> = knot
        .answer
        .iter()
        .map(|l| parse_line(l))
        .filter(|l| matches!(l.rtype, "MX" | "SRV"))
        .filter_map(|l| l.rdata.rsplit(' ').next().map(str::to_owned))
        .collect();
    let mut without = knot.additional.clone();
    without.retain(|l| {
        let line = parse_line(l);
        !(exchanges.contains(line.owner) && below_cut(line.owner))
    });
    let changed = without.len() != knot.additional.len();
    knot.additional = without;
    changed
}

/// `any-rrset-choice`: both answer ANY with a single RRset, but pick different ones.
/// Reference: Knot (the lowest type, as we do).
fn any_rrset_choice(case: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    let single = |n: &Normal| rrsets(&n.answer).len() == 1;
    if case.qtype != RType::ANY || !single(nsd) || !single(knot) || nsd.answer == knot.answer {
        return false;
    }
    nsd.answer = knot.answer.clone();
    nsd.additional = knot.additional.clone();
    true
}

/// `nsd-error-without-question`: NSD's REFUSED and NOTIMP responses leave out the question and
/// the OPT record. Reference: Knot, which echoes the question and, to an EDNS query, answers with
/// OPT (RFC 6891 §7).
fn nsd_error_without_question(_: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    if !matches!(nsd.rcode, Rcode::REFUSED | Rcode::NOTIMP)
        || !nsd.question.is_empty()
        || knot.question.is_empty()
    {
        return false;
    }
    nsd.question = knot.question.clone();
    nsd.edns = knot.edns;
    true
}

/// `update-not-implemented`: UPDATE gets NOTIMP from NSD, NOTAUTH from Knot. Reference: NOTIMP.
fn update_not_implemented(case: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    if case.opcode != 5 || nsd.rcode != Rcode::NOTIMP || knot.rcode != Rcode::NOTAUTH {
        return false;
    }
    knot.rcode = Rcode::NOTIMP;
    true
}

/// `transfer-refusal`: a transfer the zone does not allow is REFUSED by NSD, NOTAUTH by Knot.
/// Reference: REFUSED.
fn transfer_refusal(case: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    if !matches!(case.qtype, RType::AXFR | RType::IXFR)
        || nsd.rcode != Rcode::REFUSED
        || knot.rcode != Rcode::NOTAUTH
    {
        return false;
    }
    knot.rcode = Rcode::REFUSED;
    true
}

/// `class-any-aa`: QCLASS ANY is answered from class IN, by NSD with AA clear, by Knot with AA
/// set. Reference: AA clear.
fn class_any_aa(case: &Case, nsd: &mut Normal, knot: &mut Normal) -> bool {
    if case.class != Class::ANY || nsd.aa || !knot.aa {
        return false;
    }
    knot.aa = false;
    true
}

// ---------------------------------------------------------------------------------------------
// Where we differ on purpose
// ---------------------------------------------------------------------------------------------

/// A documented difference of ours from the reference: when `applies`, `check` asserts our
/// documented behaviour instead of equality.
struct IntentionalDifference {
    id: &'static str,
    applies: fn(&Case) -> bool,
    check: fn(&Case, Mode, &Normal, &Normal) -> Result<(), String>,
}

/// See the table in the module documentation.
const INTENTIONAL_DIFFERENCES: [IntentionalDifference; 3] = [
    IntentionalDifference {
        id: "qtype-opt-formerr",
        applies: |case| case.qtype == RType::OPT,
        check: |case, mode, ours, _| bare_error(case, mode, ours, Rcode::FORMERR),
    },
    IntentionalDifference {
        id: "transfers-refused",
        applies: |case| matches!(case.qtype, RType::AXFR | RType::IXFR),
        check: |case, mode, ours, _| bare_error(case, mode, ours, Rcode::REFUSED),
    },
    IntentionalDifference {
        id: "class-any-refused",
        applies: |case| case.class == Class::ANY,
        check: |case, mode, ours, _| bare_error(case, mode, ours, Rcode::REFUSED),
    },
];

/// An error response as we send it: the RCODE, no records, AA clear, the question echoed, OPT
/// present exactly when the query had one (RFC 6891 §7).
fn bare_error(case: &Case, mode: Mode, ours: &Normal, rcode: Rcode) -> Result<(), String> {
    let question = vec![format!(
        "{} {} {}",
        case.qname.to_string().to_ascii_lowercase(),
        case.class,
        case.qtype
    )];
    let mut problems = Vec::new();
    if ours.rcode != rcode {
        problems.push(format!("rcode {} instead of {rcode}", ours.rcode));
    }
    if ours.aa || ours.tc || !ours.qr {
        problems.push("flags: want QR, no AA, no TC".to_owned());
    }
    if ours.question != question {
        problems.push(format!("question {:?}", ours.question));
    }
    if ours.edns != (mode != Mode::Udp) {
        problems.push("OPT presence does not follow the query".to_owned());
    }
    if !(ours.answer.is_empty() && ours.authority.is_empty() && ours.additional.is_empty()) {
        problems.push("records in an error response".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------
// The differential test
// ---------------------------------------------------------------------------------------------

fn ask(server: SocketAddr, packet: &[u8], mode: Mode) -> (Reply, Option<Message>) {
    let result = match mode {
        Mode::Tcp => tcp_exchange(server, packet, EXCHANGE_TIMEOUT),
        Mode::Udp | Mode::UdpEdns => udp_exchange(server, packet, UDP_TIMEOUT),
    };
    match result {
        Err(_) => (Reply::Silent, None),
        Ok(bytes) => match Message::decode(&bytes) {
            Ok(message) => (Reply::Normal(normalise(&message)), Some(message)),
            Err(e) => (Reply::Undecodable(e.to_string()), None),
        },
    }
}

/// Usage counts of the documentation tables, for the final report and the staleness check.
#[derive(Default)]
struct Tally {
    exchanges: usize,
    agreed: usize,
    disagreements: BTreeMap<&'static str, usize>,
    differences: BTreeMap<&'static str, usize>,
}

#[test]
fn nebuladns_answers_as_nsd_and_knot() {
    let started = Instant::now();
    let nsd = start_peer(PeerKind::Nsd);
    let knot = start_peer(PeerKind::Knot);
    let ours = start_ours();
    let mut cases = hand_written_cases();
    let hand_written = cases.len();
    cases.extend(generated_cases());
    assert!(
        cases.len() >= MIN_QUERIES,
        "only {} queries: the suite shrank",
        cases.len()
    );

    let mut tally = Tally::default();
    let mut failures: Vec<String> = Vec::new();
    let mut id = 0x1000u16;
    for case in &cases {
        for &mode in &case.modes {
            id = id.wrapping_add(1);
            tally.exchanges += 1;
            let packet = case.packet(mode, id);
            let (from_nsd, _) = ask(nsd.address(), &packet, mode);
            let (from_knot, _) = ask(knot.address(), &packet, mode);
            let (from_ours, ours_message) = ask(ours.dns(), &packet, mode);
            let report = |why: String| {
                format!(
                    "{case} over {mode}: {why}\n  NSD:\n{}  Knot:\n{}  ours:\n{}",
                    describe(&from_nsd),
                    describe(&from_knot),
                    describe(&from_ours)
                )
            };
            // The question comes back exactly as asked, case included (RFC 1035 §4.1.2, 0x20).
            if let Some(message) = &ours_message {
                if let Some(question) = message.questions.first() {
                    if question.name.as_wire() != case.qname.as_wire() {
                        failures.push(report(format!(
                            "question name {} does not echo {}",
                            question.name, case.qname
                        )));
                    }
                }
            }
            // The reference: what NSD and Knot agree on, or the RFC-following side of a
            // documented disagreement.
            let reference = match (&from_nsd, &from_knot) {
                (Reply::Normal(n), Reply::Normal(k)) if n == k => {
                    tally.agreed += 1;
                    n.clone()
                }
                (Reply::Normal(n), Reply::Normal(k)) => {
                    let (mut n, mut k) = (n.clone(), k.clone());
                    let settled: Vec<&'static str> = PEER_DISAGREEMENTS
                        .iter()
                        .filter(|d| (d.settle)(case, &mut n, &mut k))
                        .map(|d| d.id)
                        .collect();
                    if n != k {
                        failures.push(report(format!(
                            "NSD and Knot disagree and the documented rules {settled:?} do not \
                             explain it all:\n    {}",
                            differences(&n, &k).join("\n    ")
                        )));
                        continue;
                    }
                    for rule in settled {
                        *tally.disagreements.entry(rule).or_default() += 1;
                    }
                    k
                }
                _ => {
                    failures.push(report("a peer sent no usable reply".into()));
                    continue;
                }
            };
            let Reply::Normal(ours_normal) = &from_ours else {
                failures.push(report("we sent no usable reply".into()));
                continue;
            };
            if let Some(difference) = INTENTIONAL_DIFFERENCES.iter().find(|d| (d.applies)(case)) {
                if *ours_normal != reference {
                    *tally.differences.entry(difference.id).or_default() += 1;
                }
                if let Err(why) = (difference.check)(case, mode, ours_normal, &reference) {
                    failures.push(report(format!(
                        "documented difference {} not as documented: {why}",
                        difference.id
                    )));
                }
                continue;
            }
            let found = differences(ours_normal, &reference);
            if !found.is_empty() {
                failures.push(report(format!(
                    "differs from the reference:\n    {}",
                    found.join("\n    ")
                )));
            }
        }
    }

    println!(
        "{} queries ({hand_written} hand-written), {} exchanges per server, NSD and Knot agreed \
         on {}; disagreements {:?}; our documented differences {:?}; {:?}",
        cases.len(),
        tally.exchanges,
        tally.agreed,
        tally.disagreements,
        tally.differences,
        started.elapsed()
    );
    for rule in PEER_DISAGREEMENTS.iter().map(|d| d.id) {
        if !tally.disagreements.contains_key(rule) {
            failures.push(format!(
                "peer disagreement {rule} is documented but no query showed it: remove the row"
            ));
        }
    }
    for rule in INTENTIONAL_DIFFERENCES.iter().map(|d| d.id) {
        if !tally.differences.contains_key(rule) {
            failures.push(format!(
                "intentional difference {rule} is documented but no query showed it: remove the row"
            ));
        }
    }
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(40).collect();
        panic!(
            "{} conformance failures (first {} shown):\n\n{}",
            failures.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

/// What the server must do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// No response; `nebula_dns_dropped_total{reason}` counts it.
    Dropped(&'static str),
    /// A header-only FORMERR; `nebula_dns_formerr_total{reason}` counts it.
    FormErr(&'static str),
    /// A well-formed query: some response.
    Answered,
}

/// The rules the server applies, written from the specification rather than from its code: too
/// short for a header → drop (nothing to answer to, RFC 1035 §4.1.1); QR set → drop (a response
/// is never answered, which would let two servers loop); undecodable → FORMERR with the decoding
/// error as the reason; a malformed COOKIE option → FORMERR (RFC 7873 §5.2.2, reason `bad_rdata`).
fn expected_outcome(packet: &[u8]) -> Expected {
    if packet.len() < 12 {
        return Expected::Dropped("too_short");
    }
    if packet[2] & 0x80 != 0 {
        return Expected::Dropped("response");
    }
    match QueryView::parse(packet) {
        Err(e) => Expected::FormErr(e.kind().as_str()),
        Ok(view) if view.edns.is_some_and(|e| e.malformed_cookie) => Expected::FormErr("bad_rdata"),
        Ok(_) => Expected::Answered,
    }
}

/// A header: ID 0, flags (QR clear, opcode QUERY), and the four counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut p = vec![0, 0, 0, 0];
    for count in [qd, an, ns, ar] {
        p.extend_from_slice(&count.to_be_bytes());
    }
    p
}

/// `www.example.test. IN A`, uncompressed.
const QUESTION: &[u8] = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01";

/// An OPT record (RFC 6891 §6.1.2) with the given owner and RDATA.
fn opt(owner: &[u8], rdata: &[u8]) -> Vec<u8> {
    let mut p = owner.to_vec();
    p.extend_from_slice(&[0, 41, 0x04, 0xD0, 0, 0, 0, 0]);
    p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    p.extend_from_slice(rdata);
    p
}

/// Hand-made malformed packets, each with the outcome it must have (checked against
/// [`expected_outcome`] too, so the rules and the list cannot drift apart).
fn crafted_packets() -> Vec<(&'static str, Vec<u8>, Expected)> {
    let valid = [header(1, 0, 0, 0), QUESTION.to_vec()].concat();
    let mut out = vec![
        ("empty datagram", Vec::new(), Expected::Dropped("too_short")),
        ("one octet", vec![0x42], Expected::Dropped("too_short")),
        (
            "eleven octets",
            valid[..11].to_vec(),
            Expected::Dropped("too_short"),
        ),
        (
            "header only, QDCOUNT 1",
            header(1, 0, 0, 0),
            Expected::FormErr("truncated"),
        ),
        (
            "cut inside the qname",
            valid[..18].to_vec(),
            Expected::FormErr("truncated"),
        ),
        (
            "no QTYPE/QCLASS",
            valid[..valid.len() - 4].to_vec(),
            Expected::FormErr("truncated"),
        ),
        (
            "QDCOUNT 0",
            [header(0, 0, 0, 0), QUESTION.to_vec()].concat(),
            Expected::FormErr("qdcount_mismatch"),
        ),
        (
            "QDCOUNT 2",
            [header(2, 0, 0, 0), QUESTION.to_vec(), QUESTION.to_vec()].concat(),
            Expected::FormErr("qdcount_mismatch"),
        ),
        (
            "qname pointing at itself",
            [header(1, 0, 0, 0), vec![0xC0, 12, 0, 1, 0, 1]].concat(),
            Expected::FormErr("pointer_loop"),
        ),
        (
            "qname label then a pointer back to it",
            [header(1, 0, 0, 0), vec![1, b'a', 0xC0, 12, 0, 1, 0, 1]].concat(),
            Expected::FormErr("pointer_loop"),
        ),
        (
            "qname with a forward pointer",
            [header(1, 0, 0, 0), vec![0xC0, 18, 0, 1, 0, 1, 0]].concat(),
            Expected::FormErr("forward_pointer"),
        ),
        (
            "label type 01 (RFC 6891 §5: extended labels are gone)",
            [header(1, 0, 0, 0), vec![0x41, b'a', 0, 0, 1, 0, 1]].concat(),
            Expected::FormErr("bad_label_type"),
        ),
        (
            "qname of 320 octets",
            {
                let mut p = header(1, 0, 0, 0);
                for _ in 0..5 {
                    p.push(63);
                    p.extend_from_slice(&[b'x'; 63]);
                }
                p.extend_from_slice(&[0, 0, 1, 0, 1]);
                p
            },
            Expected::FormErr("name_too_long"),
        ),
        (
            "600 octets without EDNS: the question and trailing garbage",
            {
                let mut p = valid.clone();
                p.resize(600, 0xAB);
                p
            },
            Expected::FormErr("trailing_bytes"),
        ),
        (
            "two OPT records",
            [
                header(1, 0, 0, 2),
                QUESTION.to_vec(),
                opt(&[0], &[]),
                opt(&[0], &[]),
            ]
            .concat(),
            Expected::FormErr("bad_opt"),
        ),
        (
            "OPT owned by a name other than the root",
            [
                header(1, 0, 0, 1),
                QUESTION.to_vec(),
                opt(b"\x01a\x00", &[]),
            ]
            .concat(),
            Expected::FormErr("bad_opt"),
        ),
        (
            "OPT in the answer section",
            [header(1, 1, 0, 0), QUESTION.to_vec(), opt(&[0], &[])].concat(),
            Expected::FormErr("bad_opt"),
        ),
        (
            "RDLENGTH past the end",
            {
                let mut p = [header(1, 0, 0, 1), QUESTION.to_vec(), opt(&[0], &[])].concat();
                let at = p.len() - 2;
                p[at..].copy_from_slice(&200u16.to_be_bytes());
                p
            },
            Expected::FormErr("truncated"),
        ),
        (
            "COOKIE option of 5 octets",
            [
                header(1, 0, 0, 1),
                QUESTION.to_vec(),
                opt(&[0], &[0, 10, 0, 5, 1, 2, 3, 4, 5]),
            ]
            .concat(),
            Expected::FormErr("bad_rdata"),
        ),
        (
            "a response (QR set)",
            {
                let mut p = valid.clone();
                p[2] |= 0x80;
                p
            },
            Expected::Dropped("response"),
        ),
        (
            // RFC 1035 §4.2.1 limits what a UDP message may carry, but neither NSD nor Knot (nor
            // we) refuse a well-formed query over it: the response obeys the limit instead.
            "well-formed 679-octet query without EDNS (three extra records)",
            {
                let mut p = [header(1, 0, 0, 3), QUESTION.to_vec()].concat();
                for i in 0..3u8 {
                    p.extend_from_slice(&[1, b'x' + i, 0, 0xFF, 0x01, 0, 1, 0, 0, 0, 0, 0, 200]);
                    p.extend_from_slice(&[i; 200]);
                }
                p
            },
            Expected::Answered,
        ),
    ];
    // The largest UDP payload: random octets, so its outcome is whatever the rules say of it.
    let mut rng = Rng(0x6d61_6c66_6f72_6d65);
    let mut big: Vec<u8> = (0..65_507).map(|_| rng.next() as u8).collect();
    big[2] &= 0x7F;
    let expected = expected_outcome(&big);
    assert_ne!(
        expected,
        Expected::Answered,
        "random octets should not parse"
    );
    out.push(("65507 random octets, QR clear", big, expected));
    out
}

/// Valid queries with random damage (bytes changed, cut short) and random datagrams.
fn fuzzed_packets(rng: &mut Rng) -> Vec<Vec<u8>> {
    let base: Vec<Vec<u8>> = hand_written_cases()
        .iter()
        .take(40)
        .flat_map(|case| [case.packet(Mode::Udp, 0), case.packet(Mode::UdpEdns, 0)])
        .collect();
    let mut out = Vec::new();
    for i in 0..400 {
        let mut packet = base[i % base.len()].clone();
        match rng.below(3) {
            0 => packet.truncate(rng.below(packet.len() + 1)),
            1 => {
                for _ in 0..=rng.below(4) {
                    let at = rng.below(packet.len());
                    packet[at] = rng.next() as u8;
                }
            }
            _ => {
                let at = 12 + rng.below(packet.len() - 12);
                packet[at] = 0xC0 | (rng.next() as u8 & 0x3F);
            }
        }
        out.push(packet);
    }
    for _ in 0..200 {
        let len = rng.below(600);
        out.push((0..len).map(|_| rng.next() as u8).collect());
    }
    out
}

/// Sends `packets` over UDP in batches, each closed by a valid query whose answer proves every
/// earlier packet of the batch was handled (one worker answers in order); returns the replies by
/// message ID.
fn send_udp_batches(server: SocketAddr, packets: &[Vec<u8>]) -> BTreeMap<u16, Vec<Message>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.connect(server).unwrap();
    socket.set_read_timeout(Some(UDP_TIMEOUT)).unwrap();
    let mut replies: BTreeMap<u16, Vec<Message>> = BTreeMap::new();
    let mut buffer = vec![0u8; 65_535];
    for (batch, chunk) in packets.chunks(20).enumerate() {
        for packet in chunk {
            socket.send(packet).unwrap();
        }
        let sync_id = 0xF000 + batch as u16;
        let sync = Case::new(
            "sync",
            Name::from_text("www.example.test.", None).unwrap(),
            RType::A,
            &[Mode::Udp],
        )
        .packet(Mode::Udp, sync_id);
        socket.send(&sync).unwrap();
        loop {
            let len = socket
                .recv(&mut buffer)
                .unwrap_or_else(|e| panic!("batch {batch}: no answer to the closing query: {e}"));
            let message = Message::decode(&buffer[..len])
                .unwrap_or_else(|e| panic!("batch {batch}: undecodable reply: {e}"));
            if message.header.id == sync_id {
                break;
            }
            replies.entry(message.header.id).or_default().push(message);
        }
    }
    replies
}

/// The counter values of `nebula_dns_{formerr,dropped}_total` by reason.
fn reason_counters(server: &Nebula) -> BTreeMap<String, f64> {
    let text = server.metrics_text().unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("nebula_dns_formerr_total{") || l.starts_with("nebula_dns_dropped_total{")
        })
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn series(expected: Expected) -> Option<String> {
    match expected {
        Expected::Dropped(reason) => {
            Some(format!("nebula_dns_dropped_total{{reason=\"{reason}\"}}"))
        }
        Expected::FormErr(reason) => {
            Some(format!("nebula_dns_formerr_total{{reason=\"{reason}\"}}"))
        }
        Expected::Answered => None,
    }
}

/// Asserts the server answers a normal query over UDP and TCP.
fn assert_still_answers(server: SocketAddr) {
    let case = Case::new(
        "alive",
        Name::from_text("www.example.test.", None).unwrap(),
        RType::A,
        &ALL_MODES,
    );
    for mode in ALL_MODES {
        let (reply, _) = ask(server, &case.packet(mode, 0x7777), mode);
        let Reply::Normal(normal) = reply else {
            panic!("no answer over {mode} after the malformed input: {reply:?}");
        };
        assert_eq!(normal.rcode, Rcode::NOERROR, "over {mode}");
        assert_eq!(
            normal.answer,
            ["www.example.test. 3600 IN A 192.0.2.80"],
            "over {mode}"
        );
    }
}

#[test]
fn malformed_input_gets_formerr_or_is_dropped_and_is_counted() {
    let mut server = start_ours();
    let before = reason_counters(&server);
    assert!(
        before.contains_key("nebula_dns_formerr_total{reason=\"pointer_loop\"}")
            && before.contains_key("nebula_dns_dropped_total{reason=\"response\"}"),
        "the reason series are registered at start: {before:?}"
    );

    let crafted = crafted_packets();
    let mut expected_deltas: BTreeMap<String, f64> = BTreeMap::new();
    let mut packets: Vec<(String, Vec<u8>, Expected)> = Vec::new();
    for (what, packet, expected) in crafted {
        assert_eq!(
            expected_outcome(&packet),
            expected,
            "{what}: the decoder classifies it differently"
        );
        packets.push((what.to_owned(), packet, expected));
    }
    let mut rng = Rng(0x6675_7a7a_0000_0003);
    for (i, packet) in fuzzed_packets(&mut rng).into_iter().enumerate() {
        let expected = expected_outcome(&packet);
        packets.push((format!("fuzzed packet {i}"), packet, expected));
    }
    // Unique IDs, so every reply can be traced to its packet (the ID is never validated).
    for (i, (_, packet, _)) in packets.iter_mut().enumerate() {
        if packet.len() >= 2 {
            packet[..2].copy_from_slice(&(0x0100 + i as u16).to_be_bytes());
        }
    }
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (_, _, expected) in &packets {
        if let Some(series) = series(*expected) {
            *expected_deltas.entry(series).or_default() += 1.0;
        }
        let kind = match expected {
            Expected::Dropped(_) => "dropped",
            Expected::FormErr(_) => "formerr",
            Expected::Answered => "answered",
        };
        *outcomes.entry(kind).or_default() += 1;
    }
    let bytes: Vec<Vec<u8>> = packets.iter().map(|(_, p, _)| p.clone()).collect();
    let replies = send_udp_batches(server.dns(), &bytes);

    let mut problems = Vec::new();
    for (i, (what, packet, expected)) in packets.iter().enumerate() {
        let id = 0x0100 + i as u16;
        let got = if packet.len() >= 2 {
            replies.get(&id).map(Vec::as_slice).unwrap_or(&[])
        } else {
            &[]
        };
        match expected {
            Expected::Dropped(_) if !got.is_empty() => problems.push(format!(
                "{what}: must be dropped, got {} replies",
                got.len()
            )),
            Expected::FormErr(reason) => match got {
                [reply] if reply.header.qr && reply.rcode() == Rcode::FORMERR => {}
                _ => problems.push(format!("{what}: want one FORMERR ({reason}), got {got:?}")),
            },
            Expected::Answered if got.len() != 1 => {
                problems.push(format!("{what}: want one reply, got {}", got.len()))
            }
            _ => {}
        }
    }
    let known: BTreeSet<u16> = (0..packets.len()).map(|i| 0x0100 + i as u16).collect();
    for id in replies.keys().filter(|id| !known.contains(id)) {
        problems.push(format!("a reply with unknown ID {id:#06x}"));
    }

    // The same over TCP, on one connection: FORMERR comes back, a dropped message gets nothing
    // and the connection stays usable.
    let mut stream = connect_tcp(server.dns(), EXCHANGE_TIMEOUT).unwrap();
    let qdcount_2 = [header(2, 0, 0, 0), QUESTION.to_vec(), QUESTION.to_vec()].concat();
    let mut response = [header(1, 0, 0, 0), QUESTION.to_vec()].concat();
    response[2] |= 0x80;
    let short = vec![0u8; 5];
    let valid = Case::new(
        "tcp",
        Name::from_text("www.example.test.", None).unwrap(),
        RType::A,
        &[Mode::Tcp],
    )
    .packet(Mode::Tcp, 0x0042);
    for message in [&qdcount_2, &response, &short, &valid] {
        write_framed(&mut stream, message).unwrap();
    }
    let first = Message::decode(&read_framed(&mut stream).unwrap()).unwrap();
    assert_eq!(first.rcode(), Rcode::FORMERR, "QDCOUNT 2 over TCP");
    let second = Message::decode(&read_framed(&mut stream).unwrap()).unwrap();
    assert_eq!(
        (second.header.id, second.rcode(), second.answers.len()),
        (0x0042, Rcode::NOERROR, 1),
        "the dropped messages got nothing and the connection still answers"
    );
    for expected in [
        Expected::FormErr("qdcount_mismatch"),
        Expected::Dropped("response"),
        Expected::Dropped("too_short"),
    ] {
        *expected_deltas
            .entry(series(expected).unwrap())
            .or_default() += 1.0;
    }

    assert!(
        server.is_running(),
        "nebuladns died; its log:\n{}",
        server.log()
    );
    assert_still_answers(server.dns());
    let after = reason_counters(&server);
    for (series, value) in &after {
        let delta = value - before.get(series).copied().unwrap_or(0.0);
        let want = expected_deltas.get(series).copied().unwrap_or(0.0);
        if delta != want {
            problems.push(format!("{series}: counted {delta}, expected {want}"));
        }
    }
    for series in expected_deltas.keys().filter(|s| !after.contains_key(*s)) {
        problems.push(format!("{series} is not exposed"));
    }
    println!(
        "{} malformed or random packets: {outcomes:?}; counters {expected_deltas:?}",
        packets.len()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// dig and kdig
// ---------------------------------------------------------------------------------------------

/// Runs a DNS client with its arguments and returns its standard output.
fn run_client(binary: &'static str, package: &'static str, args: &[String]) -> String {
    let path = find_binary(binary, package).unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new(path).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{binary} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The text with runs of white space made one space, so record lines compare whatever the tabs.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The header flags dig (`;; flags: qr aa;`) or kdig (`;; Flags: qr aa;`) printed.
fn printed_flags(output: &str) -> String {
    output
        .lines()
        .find_map(|l| {
            l.strip_prefix(";; flags: ")
                .or_else(|| l.strip_prefix(";; Flags: "))
        })
        .and_then(|rest| rest.split(';').next())
        .unwrap_or("")
        .trim()
        .to_owned()
}

#[test]
fn dig_and_kdig_read_our_answers() {
    let server = start_ours();
    let port = server.dns().port().to_string();
    let at = "@127.0.0.1".to_owned();
    for (client, package, once) in [
        ("dig", "bind9-dnsutils", "+tries=1"),
        ("kdig", "knot-dnsutils", "+retry=0"),
    ] {
        let common = |extra: &[&str]| -> Vec<String> {
            let mut args = vec![
                at.clone(),
                "-p".to_owned(),
                port.clone(),
                "+norecurse".to_owned(),
                "+time=2".to_owned(),
                once.to_owned(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        for transport in ["+notcp", "+tcp"] {
            let context = format!("{client} {transport}");
            let out = run_client(
                client,
                package,
                &common(&[transport, "www.example.test", "A"]),
            );
            assert!(out.contains("status: NOERROR"), "{context}:\n{out}");
            assert_eq!(printed_flags(&out), "qr aa", "{context}:\n{out}");
            assert!(
                squeeze(&out).contains("www.example.test. 3600 IN A 192.0.2.80"),
                "{context}: answer line missing:\n{out}"
            );

            let out = run_client(
                client,
                package,
                &common(&[transport, "nope.example.test", "A"]),
            );
            assert!(out.contains("status: NXDOMAIN"), "{context}:\n{out}");
            assert!(
                squeeze(&out).contains(
                    "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. \
                     2024010101 7200 900 1209600 300"
                ),
                "{context}: negative SOA missing:\n{out}"
            );

            let out = run_client(
                client,
                package,
                &common(&[transport, "host.deleg.example.test", "A"]),
            );
            assert!(out.contains("status: NOERROR"), "{context}:\n{out}");
            assert_eq!(
                printed_flags(&out),
                "qr",
                "{context}: a referral is not authoritative:\n{out}"
            );
            assert!(
                squeeze(&out).contains("deleg.example.test. 3600 IN NS ns1.deleg.example.test.")
                    && squeeze(&out).contains("ns1.deleg.example.test. 3600 IN A 192.0.2.201"),
                "{context}: referral with glue:\n{out}"
            );

            let out = run_client(
                client,
                package,
                &common(&[transport, "www.example.net", "A"]),
            );
            assert!(out.contains("status: REFUSED"), "{context}:\n{out}");
        }
        // Over 512 octets without EDNS: TC over UDP (+ignore keeps the truncated answer) ...
        let out = run_client(
            client,
            package,
            &common(&["+noedns", "+ignore", "big.example.test", "TXT"]),
        );
        assert_eq!(printed_flags(&out), "qr aa tc", "{client}:\n{out}");
        // ... and the client's retry over TCP gets the whole record.
        let out = run_client(
            client,
            package,
            &common(&["+noedns", "big.example.test", "TXT"]),
        );
        let last_string = format!("\"{}\"", "3".repeat(200));
        assert!(
            squeeze(&out).contains("big.example.test. 3600 IN TXT")
                && out.contains(&last_string)
                && out.contains("(TCP)"),
            "{client}: the whole TXT record after the retry over TCP:\n{out}"
        );
    }
}

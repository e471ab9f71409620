//! The answer engine: query bytes + catalog snapshot → response bytes. Pure: no sockets, no
//! clock (the caller passes the time), no logging; the data plane and the tests drive it alike.
//!
//! Follows RFC 1034 §4.3.2 (with the lookup decisions made by [`ZoneSnapshot::lookup`]): exact
//! answers, in-zone CNAME chains (bounded), DNAME synthesis (RFC 6672), wildcards (RFC 4592),
//! referrals with glue, negative answers with the SOA (RFC 2308), REFUSED outside served zones,
//! minimal ANY (RFC 8482), CHAOS identity queries, EDNS (RFC 6891) with server cookies
//! (RFC 7873/9018), and truncation for UDP.
//!
//! A [`Responder`] belongs to one worker and reuses its buffers: in steady state answering a
//! query does not allocate.

use std::net::IpAddr;
use std::sync::Arc;

use nebula_store::snapshot::{Catalog, Lookup, Node, SnapshotRrset, ZoneSnapshot};
use nebula_wire::codec::{NameKind, Writer};
use nebula_wire::name::MAX_NAME_LEN;
use nebula_wire::query::{EdnsView, QueryView, OPTION_COOKIE};
use nebula_wire::{Class, DecodeErrorKind, Header, Name, Opcode, RData, RType, Rcode};
use smallvec::SmallVec;

use crate::cookie::{CookieCheck, CookieSecret};
use crate::transfer::IpPrefix;

/// Longest CNAME/DNAME chain followed inside a zone before answering with what we have.
const MAX_CHAIN: usize = 8;
/// Our EDNS UDP payload size: the DNS Flag Day 2020 value, safe from fragmentation.
pub const DEFAULT_EDNS_PAYLOAD: u16 = 1232;
/// Classic DNS UDP limit without EDNS (RFC 1035 §4.2.1).
const PLAIN_UDP_LIMIT: usize = 512;

/// How the query arrived; decides size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Answers to CHAOS-class identity queries; `None` turns one off (REFUSED).
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `version.bind` / `version.server`.
    pub version: Option<String>,
    /// `hostname.bind` / `id.server` (RFC 4892).
    pub hostname: Option<String>,
}

/// Per-server settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub identity: Identity,
    pub cookie_secret: CookieSecret,
    /// Largest UDP response we send with EDNS.
    pub edns_payload: u16,
    /// Clients that may transfer zones (`[transfer] allow`); here, for IXFR over UDP.
    pub transfer_allow: Arc<[IpPrefix]>,
}

/// Why a packet got no response at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than a header: nothing to answer to.
    TooShort,
    /// QR set: a response, never answered (prevents reflection loops).
    Response,
}

impl DropReason {
    pub const ALL: [DropReason; 2] = [DropReason::TooShort, DropReason::Response];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::Response => "response",
        }
    }
}

/// What happened, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answered {
        rcode: Rcode,
        qtype: RType,
        truncated: bool,
        /// The query carried a TSIG record: the caller verifies it and signs the answer, which
        /// may be at most this long (RFC 8945; the engine itself holds no keys).
        signed: Option<usize>,
    },
    FormErr {
        reason: DecodeErrorKind,
    },
    Dropped(DropReason),
}

/// One worker's answering state: a reusable response writer.
#[derive(Debug)]
pub struct Responder {
    config: EngineConfig,
    writer: Writer,
}

/// The parts of a response being built, before encoding.
struct Building<'a> {
    rcode: Rcode,
    aa: bool,
    answer: Section<'a>,
    authority: Section<'a>,
    additional: Section<'a>,
    /// Glue that must fit or the response is truncated (RFC 9471).
    required_glue: usize,
}

/// RRsets of one section; inline up to a size that covers nearly every answer, so the common
/// case does not allocate.
type Section<'a> = SmallVec<[Entry<'a>; 8]>;

/// One RRset to write, with the owner to write it under.
#[derive(Clone, Copy)]
struct Entry<'a> {
    owner: Owner<'a>,
    rrset: EntryData<'a>,
}

#[derive(Clone, Copy)]
enum Owner<'a> {
    Qname,
    Name(&'a Name),
    /// A synthesised name kept in the chain buffer.
    Chain(usize),
}

#[derive(Clone, Copy)]
enum EntryData<'a> {
    Rrset(&'a SnapshotRrset),
    /// A CNAME synthesised from a DNAME: the target is in the chain buffer at the index.
    SynthesizedCname {
        ttl: u32,
        target: usize,
    },
    /// The apex SOA with the negative TTL (RFC 2308 §3).
    NegativeSoa {
        rrset: &'a SnapshotRrset,
        ttl: u32,
    },
    ChaosTxt(&'a str),
}

impl Responder {
    pub fn new(config: EngineConfig) -> Responder {
        Responder {
            config,
            writer: Writer::message(4096),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Answers one packet into `out` (cleared first). `now` is seconds since the epoch, for cookies.
    pub fn answer(
        &mut self,
        packet: &[u8],
        client: IpAddr,
        transport: Transport,
        catalog: &Catalog,
        now: u32,
        out: &mut Vec<u8>,
    ) -> Outcome {
        out.clear();
        if packet.len() < Header::LEN {
            return Outcome::Dropped(DropReason::TooShort);
        }
        let header = Header::from_flags(
            u16::from_be_bytes([packet[0], packet[1]]),
            u16::from_be_bytes([packet[2], packet[3]]),
        );
        if header.qr {
            return Outcome::Dropped(DropReason::Response);
        }
        let query = match QueryView::parse(packet) {
            Ok(q) => q,
            Err(e) => {
                self.error_response(&header, Rcode::FORMERR, out);
                return Outcome::FormErr { reason: e.kind() };
            }
        };
        let mut edns = query.edns;
        if edns.is_some_and(|e| e.malformed_cookie) {
            // RFC 7873 §5.2.2: a malformed COOKIE option is a FORMERR.
            self.error_response(&header, Rcode::FORMERR, out);
            return Outcome::FormErr {
                reason: DecodeErrorKind::BadRdata,
            };
        }
        let mut chain = ChainNames::default();
        let mut building = Building {
            rcode: Rcode::NOERROR,
            aa: false,
            answer: Section::new(),
            authority: Section::new(),
            additional: Section::new(),
            required_glue: 0,
        };
        if let Some(e) = edns.filter(|e| e.version > 0) {
            // RFC 6891 §6.1.3: unsupported version → BADVERS, with our OPT (version 0).
            building.rcode = Rcode::BADVERS;
            edns = Some(EdnsView { version: 0, ..e });
        } else if query.header.opcode() != Opcode::QUERY {
            building.rcode = Rcode::NOTIMP;
        } else if query.qtype == RType::OPT || query.qtype == RType::TSIG {
            // Meta types only live in the additional section (RFC 6891 §6.1.1, RFC 8945 §5).
            building.rcode = Rcode::FORMERR;
        } else {
            match query.qclass {
                Class::IN
                    if query.qtype == RType::IXFR
                        && self
                            .config
                            .transfer_allow
                            .iter()
                            .any(|p| p.contains(client)) =>
                {
                    ixfr_soa(catalog, &query, &mut building);
                }
                Class::IN => resolve(catalog, &query, &mut building, &mut chain),
                Class::CH => chaos(&self.config.identity, &query, &mut building),
                Class::ANY => building.rcode = Rcode::REFUSED,
                _ => building.rcode = Rcode::REFUSED,
            }
        }
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => match edns {
                Some(e) => usize::from(e.udp_payload_size.clamp(512, self.config.edns_payload)),
                None => PLAIN_UDP_LIMIT,
            },
        };
        let cookie = edns.and_then(|e| e.cookie).map(|c| {
            let check = self
                .config
                .cookie_secret
                .check(&c.client, c.server(), client, now);
            let server =
                if check == CookieCheck::Valid && !CookieSecret::needs_refresh(c.server(), now) {
                    let mut kept = [0u8; 16];
                    kept.copy_from_slice(&c.server()[..16]);
                    kept
                } else {
                    self.config.cookie_secret.issue(&c.client, client, now)
                };
            (c.client, server)
        });
        let truncated = encode(
            &mut self.writer,
            self.config.edns_payload,
            &query,
            &building,
            &chain,
            edns,
            cookie,
            limit,
            out,
        );
        Outcome::Answered {
            rcode: building.rcode,
            qtype: query.qtype,
            truncated,
            signed: query.has_tsig.then_some(limit),
        }
    }

    /// A header-only error response (FORMERR, or a query we could not parse further).
    fn error_response(&mut self, header: &Header, rcode: Rcode, out: &mut Vec<u8>) {
        let response = Header {
            qr: true,
            aa: false,
            tc: false,
            ra: false,
            z: false,
            ad: false,
            rcode: rcode.0 as u8,
            ..*header
        };
        out.extend_from_slice(&response.id.to_be_bytes());
        out.extend_from_slice(&response.flags().to_be_bytes());
        out.extend_from_slice(&[0u8; 8]);
    }
}

/// RFC 4892 and BIND's CHAOS conventions: TXT for `version.bind`, `version.server`,
/// `hostname.bind`, `id.server`; everything else in CH is REFUSED.
fn chaos<'a>(identity: &'a Identity, query: &QueryView, building: &mut Building<'a>) {
    let wire = query.qname.as_wire();
    let mut lower = [0u8; MAX_NAME_LEN];
    let lower = lowercase_into(wire, &mut lower);
    let text = match lower {
        b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => identity.version.as_deref(),
        b"\x08hostname\x04bind\x00" | b"\x02id\x06server\x00" => identity.hostname.as_deref(),
        _ => None,
    };
    match text {
        Some(text) if query.qtype == RType::TXT || query.qtype == RType::ANY => {
            building.aa = true;
            building.answer.push(Entry {
                owner: Owner::Qname,
                rrset: EntryData::ChaosTxt(text),
            });
        }
        Some(_) => building.aa = true,
        None => building.rcode = Rcode::REFUSED,
    }
}

/// Writes the response; returns true if it had to be truncated.
#[allow(clippy::too_many_arguments)]
fn encode(
    w: &mut Writer,
    edns_payload: u16,
    query: &QueryView,
    building: &Building<'_>,
    chain: &ChainNames,
    edns: Option<EdnsView>,
    cookie: Option<([u8; 8], [u8; 16])>,
    limit: usize,
    out: &mut Vec<u8>,
) -> bool {
    let opt_len = if edns.is_some() {
        11 + if cookie.is_some() { 28 } else { 0 }
    } else {
        0
    };
    let budget = limit.saturating_sub(opt_len);
    w.reset();
    let mut header = Header {
        id: query.header.id,
        qr: true,
        opcode: query.header.opcode,
        aa: building.aa,
        tc: false,
        rd: query.header.rd,
        ra: false,
        z: false,
        ad: false,
        cd: query.header.cd,
        rcode: (building.rcode.0 & 0x0F) as u8,
    };
    // Header placeholder; counts patched at the end.
    w.bytes(&[0u8; 12]);
    w.name(query.qname.as_wire(), NameKind::Compressible);
    w.u16(query.qtype.0);
    w.u16(query.qclass.0);
    let question_end = w.len();
    let mut counts = [0u16; 3];
    let mut truncated = false;
    let sections = [&building.answer, &building.authority, &building.additional];
    'sections: for (index, section) in sections.into_iter().enumerate() {
        for (entry_index, entry) in section.iter().enumerate() {
            let mark = w.len();
            let written = write_entry(w, query, chain, entry);
            if w.len() > budget {
                w.truncate(mark);
                // Additional data beyond required glue may be dropped silently (RFC 2181 §9).
                if index == 2 && entry_index >= building.required_glue {
                    break 'sections;
                }
                truncated = true;
                break 'sections;
            }
            counts[index] += written;
        }
    }
    if truncated {
        // RFC 2181 §9 / RFC 1035 §4.2.1: set TC and send only what is complete: the question.
        w.truncate(question_end);
        counts = [0, 0, 0];
        header.tc = true;
    }
    let mut additional = counts[2];
    if let Some(e) = edns {
        write_opt(w, building.rcode, e, cookie, edns_payload);
        additional += 1;
    }
    out.extend_from_slice(w.as_bytes());
    out[0..2].copy_from_slice(&header.id.to_be_bytes());
    out[2..4].copy_from_slice(&header.flags().to_be_bytes());
    out[4..6].copy_from_slice(&1u16.to_be_bytes());
    out[6..8].copy_from_slice(&counts[0].to_be_bytes());
    out[8..10].copy_from_slice(&counts[1].to_be_bytes());
    out[10..12].copy_from_slice(&additional.to_be_bytes());
    truncated
}

/// IXFR that reaches the answer engine (over UDP; TCP transfers are answered by
/// [`crate::transfer`]): the zone's SOA alone, which tells a client that is behind to ask again
/// over TCP and one that is current that nothing changed (RFC 1995 §2, as BIND and Knot answer).
fn ixfr_soa<'a>(catalog: &'a Catalog, query: &QueryView, building: &mut Building<'a>) {
    let mut lower_buf = [0u8; MAX_NAME_LEN];
    let qname_lower = lowercase_into(query.qname.as_wire(), &mut lower_buf);
    match catalog
        .get(qname_lower)
        .and_then(|zone| zone.apex())
        .and_then(|apex| apex.rrset(RType::SOA))
    {
        Some(soa) => {
            building.aa = true;
            building.answer.push(Entry {
                owner: Owner::Qname,
                rrset: EntryData::Rrset(soa),
            });
        }
        None => building.rcode = Rcode::NOTAUTH,
    }
}

/// Names synthesised during a DNAME chain (allocated only when a DNAME is followed).
#[derive(Default)]
struct ChainNames {
    names: Vec<Name>,
}

/// The lookup part: fills `building` from the catalog for an IN-class query.
fn resolve<'a>(
    catalog: &'a Catalog,
    query: &QueryView,
    building: &mut Building<'a>,
    chain: &mut ChainNames,
) {
    let mut lower_buf = [0u8; MAX_NAME_LEN];
    let qname_lower = lowercase_into(query.qname.as_wire(), &mut lower_buf);
    let Some(zone) = zone_for(catalog, qname_lower, query.qtype) else {
        building.rcode = Rcode::REFUSED;
        return;
    };
    if matches!(query.qtype, RType::AXFR | RType::IXFR) {
        // Over TCP the transfer module answers these before the responder sees them
        // (crate::transfer); over UDP, AXFR is not allowed (RFC 5936 §4.2), and IXFR reaches
        // here only from clients outside `[transfer] allow` (see `ixfr_soa`).
        building.rcode = Rcode::REFUSED;
        return;
    }
    building.aa = true;
    let mut current = [0u8; MAX_NAME_LEN];
    let mut current_len = qname_lower.len();
    current[..current_len].copy_from_slice(qname_lower);
    let mut owner = Owner::Qname;
    for _ in 0..=MAX_CHAIN {
        let name = &current[..current_len];
        // A chain may leave the zone: then we stop and answer with what we have (RFC 1034 §4.3.2 step 3a).
        if !nebula_wire::name::is_subdomain_wire(name, zone.origin_key()) {
            return;
        }
        // A name that already owns a CNAME of the answer closes a loop (RFC 1034 §3.6.2): each
        // record of the loop is sent once, as NSD and Knot do, not repeated up to MAX_CHAIN.
        if answered_alias(query, chain, &building.answer, name) {
            return;
        }
        match zone.lookup(name, query.qtype) {
            Lookup::Answer { rrset, .. } => {
                building.answer.push(Entry {
                    owner,
                    rrset: EntryData::Rrset(rrset),
                });
                additional_for(zone, rrset, building);
                return;
            }
            Lookup::Any { node, .. } => {
                // RFC 8482 §4.1: answer ANY with one RRset: the lowest type present, with the
                // additional data its type calls for, as for any answer (RFC 1034 §4.3.2 step 6).
                match node.rrsets.iter().find(|s| s.rtype != RType::RRSIG) {
                    Some(rrset) => {
                        building.answer.push(Entry {
                            owner,
                            rrset: EntryData::Rrset(rrset),
                        });
                        additional_for(zone, rrset, building);
                    }
                    None => negative(zone, building, Rcode::NOERROR),
                }
                return;
            }
            Lookup::Cname { rrset, .. } => {
                building.answer.push(Entry {
                    owner,
                    rrset: EntryData::Rrset(rrset),
                });
                let Some(RData::Cname(target)) = rrset.rdatas.first() else {
                    return;
                };
                current_len = lowercase_into(target.as_wire(), &mut current).len();
                owner = Owner::Name(target);
                if building.answer.len() > MAX_CHAIN {
                    return;
                }
            }
            Lookup::Dname { node, rrset } => {
                building.answer.push(Entry {
                    owner: Owner::Name(&node.owner),
                    rrset: EntryData::Rrset(rrset),
                });
                let Some(RData::Dname(target)) = rrset.rdatas.first() else {
                    return;
                };
                let Ok(from) = Name::from_wire(&current[..current_len]) else {
                    return;
                };
                match from.replace_suffix(&node.owner, target) {
                    Ok(synthesized) => {
                        let index = chain.names.len();
                        current_len = lowercase_into(synthesized.as_wire(), &mut current).len();
                        chain.names.push(synthesized);
                        building.answer.push(Entry {
                            owner,
                            rrset: EntryData::SynthesizedCname {
                                ttl: rrset.ttl,
                                target: index,
                            },
                        });
                        owner = Owner::Chain(index);
                        // The synthesised CNAME is itself the answer to a CNAME query
                        // (RFC 6672 §3.2, RFC 1034 §4.3.2 step 3a: restart only when QTYPE
                        // does not match CNAME).
                        if query.qtype == RType::CNAME {
                            return;
                        }
                    }
                    Err(_) => {
                        // RFC 6672 §2.2: the substituted name is too long.
                        building.rcode = Rcode::YXDOMAIN;
                        return;
                    }
                }
            }
            Lookup::Referral { cut, ns } => {
                // RFC 1034 §4.3.2 step 3b: the child's NS in the authority section and their
                // addresses as additional data — also after a CNAME chain led here, when the
                // answer (the chain) stays authoritative.
                if building.answer.is_empty() {
                    building.aa = false;
                }
                building.authority.push(Entry {
                    owner: Owner::Name(&cut.owner),
                    rrset: EntryData::Rrset(ns),
                });
                glue_for(zone, cut, ns, building);
                return;
            }
            Lookup::NoData { .. } => {
                negative(zone, building, Rcode::NOERROR);
                return;
            }
            Lookup::NxDomain => {
                // RFC 6604 §3: after a chain the RCODE describes the last name.
                negative(zone, building, Rcode::NXDOMAIN);
                return;
            }
        }
    }
}

/// The zone that answers: the most specific one holding the name, except that DS at the apex of
/// a zone whose parent we also serve is the parent's data (RFC 4035 §3.1.4.1, RFC 4034 §5).
fn zone_for<'a>(
    catalog: &'a Catalog,
    qname_lower: &[u8],
    qtype: RType,
) -> Option<&'a ZoneSnapshot> {
    let zone = catalog.find(qname_lower)?;
    if qtype == RType::DS && zone.origin_key() == qname_lower {
        if let Some(&label_len) = qname_lower.first().filter(|&&len| len > 0) {
            let parent = &qname_lower[usize::from(label_len) + 1..];
            if let Some(parent_zone) = catalog.find(parent) {
                return Some(parent_zone);
            }
        }
    }
    Some(zone)
}

/// True if `name` (lower-cased wire form) owns a CNAME, real or synthesised, already in the
/// answer.
fn answered_alias(
    query: &QueryView,
    chain: &ChainNames,
    answer: &Section<'_>,
    name: &[u8],
) -> bool {
    answer.iter().any(|entry| {
        let is_alias = match entry.rrset {
            EntryData::Rrset(rrset) => rrset.rtype == RType::CNAME,
            EntryData::SynthesizedCname { .. } => true,
            EntryData::NegativeSoa { .. } | EntryData::ChaosTxt(_) => false,
        };
        let owner: &[u8] = match entry.owner {
            Owner::Qname => query.qname.as_wire(),
            Owner::Name(owner) => owner.as_wire(),
            Owner::Chain(i) => chain.names.get(i).map_or(&[][..], Name::as_wire),
        };
        is_alias && owner.eq_ignore_ascii_case(name)
    })
}

/// RFC 2308 §3: the apex SOA in the authority section, TTL = min(SOA TTL, MINIMUM).
fn negative<'a>(zone: &'a ZoneSnapshot, building: &mut Building<'a>, rcode: Rcode) {
    building.rcode = rcode;
    if let Some(soa) = zone.apex().and_then(|apex| apex.rrset(RType::SOA)) {
        building.authority.push(Entry {
            owner: Owner::Name(zone.origin()),
            rrset: EntryData::NegativeSoa {
                rrset: soa,
                ttl: zone.negative_ttl(),
            },
        });
    }
}

/// RFC 1034 §4.3.2 step 6 / RFC 1035 §3.3: addresses of NS, MX and SRV targets held in the zone.
fn additional_for<'a>(
    zone: &'a ZoneSnapshot,
    rrset: &'a SnapshotRrset,
    building: &mut Building<'a>,
) {
    for rdata in rrset.rdatas.iter() {
        let (target, glue_allowed) = match rdata {
            RData::Ns(name) => (name, true),
            RData::Mx { exchange, .. } => (exchange, false),
            RData::Srv(srv) => (&srv.target, false),
            _ => continue,
        };
        // A mail or service host at or below a zone cut has only glue here, which is not
        // authoritative data (RFC 1034 §4.2.1) and serves referrals only: no additional data
        // for it, as NSD (the child's servers give the real addresses).
        if !glue_allowed && at_or_below_cut(zone, target) {
            continue;
        }
        push_addresses(zone, target, building, false);
    }
}

/// True if `target`, a name of this zone, is at or below one of its zone cuts.
fn at_or_below_cut(zone: &ZoneSnapshot, target: &Name) -> bool {
    let mut lower = [0u8; MAX_NAME_LEN];
    let key = lowercase_into(target.as_wire(), &mut lower);
    nebula_wire::name::is_subdomain_wire(key, zone.origin_key())
        && matches!(zone.lookup(key, RType::A), Lookup::Referral { .. })
}

/// Glue for a referral: addresses of NS targets inside this zone, occluded or not (RFC 9471).
fn glue_for<'a>(
    zone: &'a ZoneSnapshot,
    cut: &'a Node,
    ns: &'a SnapshotRrset,
    building: &mut Building<'a>,
) {
    for rdata in ns.rdatas.iter() {
        if let RData::Ns(target) = rdata {
            let required = target.is_subdomain_of(&cut.owner);
            push_addresses(zone, target, building, required);
        }
    }
}

fn push_addresses<'a>(
    zone: &'a ZoneSnapshot,
    target: &Name,
    building: &mut Building<'a>,
    required: bool,
) {
    let mut lower = [0u8; MAX_NAME_LEN];
    let key = lowercase_into(target.as_wire(), &mut lower);
    if !nebula_wire::name::is_subdomain_wire(key, zone.origin_key()) {
        return;
    }
    let Some(node) = zone.node(key) else { return };
    for rtype in [RType::A, RType::AAAA] {
        if let Some(rrset) = node.rrset(rtype) {
            let entry = Entry {
                owner: Owner::Name(&node.owner),
                rrset: EntryData::Rrset(rrset),
            };
            if required {
                // Required glue goes first so truncation logic can tell it apart.
                building.additional.insert(building.required_glue, entry);
                building.required_glue += 1;
            } else {
                building.additional.push(entry);
            }
        }
    }
}

/// Writes one entry (an RRset: one record per RDATA); returns the number of records written.
fn write_entry(w: &mut Writer, query: &QueryView, chain: &ChainNames, entry: &Entry<'_>) -> u16 {
    let owner: &[u8] = match entry.owner {
        Owner::Qname => query.qname.as_wire(),
        Owner::Name(name) => name.as_wire(),
        Owner::Chain(i) => chain.names.get(i).map_or(&[0u8][..], Name::as_wire),
    };
    let mut count = 0u16;
    let mut record =
        |w: &mut Writer, rtype: RType, class: Class, ttl: u32, body: &dyn Fn(&mut Writer)| {
            w.name(owner, NameKind::Compressible);
            w.u16(rtype.0);
            w.u16(class.0);
            w.u32(ttl);
            let len_at = w.len();
            w.u16(0);
            body(w);
            let rdlength = w.len() - len_at - 2;
            w.patch_u16(len_at, rdlength as u16);
            count += 1;
        };
    match entry.rrset {
        EntryData::Rrset(rrset) => {
            for rdata in rrset.rdatas.iter() {
                record(w, rrset.rtype, Class::IN, rrset.ttl, &|w| rdata.encode(w));
            }
        }
        EntryData::NegativeSoa { rrset, ttl } => {
            for rdata in rrset.rdatas.iter() {
                record(w, rrset.rtype, Class::IN, ttl, &|w| rdata.encode(w));
            }
        }
        EntryData::SynthesizedCname { ttl, target } => {
            if let Some(target) = chain.names.get(target) {
                record(w, RType::CNAME, Class::IN, ttl, &|w| {
                    w.name(target.as_wire(), NameKind::Compressible)
                });
            }
        }
        EntryData::ChaosTxt(text) => {
            let bytes = text.as_bytes();
            let bytes = &bytes[..bytes.len().min(255)];
            record(w, RType::TXT, Class::CH, 0, &|w| {
                w.u8(bytes.len() as u8);
                w.bytes(bytes);
            });
        }
    }
    count
}

/// The OPT record of a response (RFC 6891 §6.1.2), with a server cookie when the client sent one.
fn write_opt(
    w: &mut Writer,
    rcode: Rcode,
    edns: EdnsView,
    cookie: Option<([u8; 8], [u8; 16])>,
    payload: u16,
) {
    w.u8(0);
    w.u16(RType::OPT.0);
    w.u16(payload);
    let extended = (rcode.0 >> 4) as u8;
    let flags: u16 = if edns.dnssec_ok { 0x8000 } else { 0 };
    w.u8(extended);
    w.u8(0);
    w.u16(flags);
    match cookie {
        Some((client, server)) => {
            w.u16(4 + 8 + 16);
            w.u16(OPTION_COOKIE);
            w.u16(8 + 16);
            w.bytes(&client);
            w.bytes(&server);
        }
        None => w.u16(0),
    }
}

/// Lower-cases a wire name into `buf`, returning the used part.
fn lowercase_into<'b>(wire: &[u8], buf: &'b mut [u8; MAX_NAME_LEN]) -> &'b [u8] {
    let len = wire.len().min(MAX_NAME_LEN);
    for (dst, src) in buf[..len].iter_mut().zip(wire) {
        *dst = src.to_ascii_lowercase();
    }
    &buf[..len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use nebula_wire::rdata::Edns;
    use nebula_wire::{Message, Question, Record};

    const ZONE: &str = "$ORIGIN example.\n$TTL 3600\n\
        @ SOA ns.example. admin.example. 7 3600 900 604800 300\n\
        @ NS ns.example.\n\
        @ MX 10 mail\n\
        ns A 192.0.2.1\n\
        mail A 192.0.2.25\n\
        www A 192.0.2.2\n\
        alias CNAME www\n\
        loop1 CNAME loop2\n\
        loop2 CNAME loop1\n\
        out CNAME www.example.net.\n\
        todeleg CNAME host.sub\n\
        mxglue MX 10 ns.sub\n\
        sub NS ns.sub\n\
        sub NS ns.other.\n\
        ns.sub A 192.0.2.3\n\
        *.wild TXT \"w\"\n\
        dn DNAME example.net.\n\
        big TXT \"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n\
        big TXT \"1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n\
        big TXT \"2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n\
        big TXT \"3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n\
        big TXT \"4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n\
        big TXT \"5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n";

    fn catalog() -> Catalog {
        let origin: Name = "example.".parse().unwrap();
        let parsed = nebula_store::master::parse_str(ZONE, &origin, "test").unwrap();
        Catalog::new([Arc::new(ZoneSnapshot::compile(&parsed.zone))])
    }

    fn responder() -> Responder {
        Responder::new(EngineConfig {
            identity: Identity {
                version: Some("test 1".into()),
                hostname: None,
            },
            cookie_secret: CookieSecret::new([7; 16]),
            edns_payload: DEFAULT_EDNS_PAYLOAD,
            transfer_allow: crate::transfer::loopback().into(),
        })
    }

    fn query(name: &str, qtype: RType, class: Class, edns: bool) -> Vec<u8> {
        let mut msg = Message {
            header: Header {
                id: 0x4242,
                rd: true,
                ..Header::default()
            },
            questions: vec![Question {
                name: name.parse().unwrap(),
                qtype,
                qclass: class,
            }],
            ..Message::default()
        };
        if edns {
            msg.additional.push(
                Edns {
                    udp_payload_size: 1232,
                    extended_rcode: 0,
                    version: 0,
                    dnssec_ok: false,
                    z: 0,
                    options: &[],
                }
                .to_record(),
            );
        }
        msg.encode().unwrap()
    }

    fn ask(name: &str, qtype: RType) -> Message {
        ask_with(&query(name, qtype, Class::IN, false), Transport::Udp)
    }

    fn ask_with(packet: &[u8], transport: Transport) -> Message {
        let mut out = Vec::new();
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        responder().answer(
            packet,
            client,
            transport,
            &catalog(),
            1_700_000_000,
            &mut out,
        );
        Message::decode(&out).unwrap()
    }

    fn lines(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| r.to_string().replace('\t', " "))
            .collect()
    }

    #[test]
    fn ixfr_over_udp_is_the_soa_alone_for_allowed_clients() {
        let m = ask("EXAMPLE.", RType::IXFR);
        assert_eq!((m.header.rcode, m.header.aa), (0, true));
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].rtype(), RType::SOA);
        assert_eq!(
            ask("www.example.", RType::IXFR).header.rcode,
            Rcode::NOTAUTH.0 as u8
        );
        let mut out = Vec::new();
        let outsider: IpAddr = "192.0.2.9".parse().unwrap();
        let packet = query("example.", RType::IXFR, Class::IN, false);
        responder().answer(
            &packet,
            outsider,
            Transport::Udp,
            &catalog(),
            1_700_000_000,
            &mut out,
        );
        let m = Message::decode(&out).unwrap();
        assert_eq!(
            (m.header.rcode, m.answers.len()),
            (Rcode::REFUSED.0 as u8, 0)
        );
        assert_eq!(
            ask("example.", RType::AXFR).header.rcode,
            Rcode::REFUSED.0 as u8
        );
    }

    #[test]
    fn exact_answer_with_additional() {
        let m = ask("Www.Example.", RType::A);
        assert!(m.header.aa && m.header.qr && m.header.rd && !m.header.ra);
        assert_eq!(m.header.rcode, 0);
        assert_eq!(
            m.questions[0].name.to_string(),
            "Www.Example.",
            "question case kept"
        );
        assert_eq!(lines(&m.answers), ["Www.Example. 3600 IN A 192.0.2.2"]);
        let m = ask("example.", RType::MX);
        assert_eq!(lines(&m.additional), ["mail.example. 3600 IN A 192.0.2.25"]);
    }

    #[test]
    fn cname_chains_and_loops() {
        let m = ask("alias.example.", RType::A);
        assert_eq!(
            lines(&m.answers),
            [
                "alias.example. 3600 IN CNAME www.example.",
                "www.example. 3600 IN A 192.0.2.2"
            ]
        );
        let m = ask("loop1.example.", RType::A);
        assert!(m.answers.len() <= MAX_CHAIN + 1, "bounded chain");
        let m = ask("out.example.", RType::A);
        assert_eq!(
            lines(&m.answers),
            ["out.example. 3600 IN CNAME www.example.net."]
        );
        assert_eq!(m.header.rcode, 0);
    }

    #[test]
    fn cname_loop_records_are_sent_once() {
        for (qname, qtype) in [("loop1.example.", RType::A), ("LOOP2.example.", RType::TXT)] {
            let m = ask(qname, qtype);
            // Compression may point the targets at the question's spelling: compare without case.
            let mut got: Vec<String> = lines(&m.answers)
                .iter()
                .map(|l| l.to_ascii_lowercase())
                .collect();
            got.sort();
            assert_eq!(
                got,
                [
                    "loop1.example. 3600 in cname loop2.example.",
                    "loop2.example. 3600 in cname loop1.example."
                ],
                "{qname}"
            );
            assert_eq!(m.header.rcode, 0);
        }
    }

    #[test]
    fn cname_into_a_delegation_adds_the_referral() {
        let m = ask("todeleg.example.", RType::A);
        assert!(m.header.aa, "the CNAME is authoritative data");
        assert_eq!(
            lines(&m.answers),
            ["todeleg.example. 3600 IN CNAME host.sub.example."]
        );
        assert_eq!(m.authority.len(), 2, "the child's NS RRset");
        assert_eq!(
            lines(&m.additional),
            ["ns.sub.example. 3600 IN A 192.0.2.3"]
        );
    }

    #[test]
    fn synthesised_cname_answers_a_cname_query() {
        let m = ask("a.dn.example.", RType::CNAME);
        assert_eq!(
            lines(&m.answers),
            [
                "dn.example. 3600 IN DNAME example.net.",
                "a.dn.example. 3600 IN CNAME a.example.net."
            ]
        );
        assert!(
            m.authority.is_empty(),
            "no negative SOA: the CNAME is the answer"
        );
    }

    #[test]
    fn minimal_any_keeps_additional_processing() {
        let m = ask("example.", RType::ANY);
        assert_eq!(
            lines(&m.answers),
            ["example. 3600 IN NS ns.example."],
            "one RRset: the lowest type present"
        );
        assert_eq!(lines(&m.additional), ["ns.example. 3600 IN A 192.0.2.1"]);
    }

    #[test]
    fn no_additional_glue_for_mail_hosts_below_a_cut() {
        let m = ask("mxglue.example.", RType::MX);
        assert_eq!(
            lines(&m.answers),
            ["mxglue.example. 3600 IN MX 10 ns.sub.example."]
        );
        assert!(m.additional.is_empty(), "ns.sub's address is glue");
        let m = ask("host.sub.example.", RType::A);
        assert_eq!(
            lines(&m.additional),
            ["ns.sub.example. 3600 IN A 192.0.2.3"],
            "glue still goes with referrals"
        );
    }

    #[test]
    fn ds_at_a_child_apex_comes_from_the_parent() {
        let mut child = nebula_store::zone::Zone::new("sub.example.".parse().unwrap(), Class::IN);
        child.insert(
            "sub.example.".parse().unwrap(),
            60,
            RData::from_tokens(
                RType::SOA,
                &nebula_wire::text::tokenize("ns.sub.example. admin.sub.example. 1 2 3 4 60")
                    .unwrap(),
                None,
            )
            .unwrap(),
        );
        let catalog = catalog().with_zone(Arc::new(ZoneSnapshot::compile(&child)));
        let ask_both = |qname: &str, qtype: RType| {
            let mut out = Vec::new();
            responder().answer(
                &query(qname, qtype, Class::IN, false),
                "127.0.0.1".parse().unwrap(),
                Transport::Udp,
                &catalog,
                0,
                &mut out,
            );
            Message::decode(&out).unwrap()
        };
        let m = ask_both("SUB.example.", RType::DS);
        assert!(m.header.aa);
        assert_eq!(
            lines(&m.authority),
            ["example. 300 IN SOA ns.example. admin.example. 7 3600 900 604800 300"],
            "the parent's negative answer"
        );
        let m = ask_both("sub.example.", RType::SOA);
        assert_eq!(
            lines(&m.answers),
            ["sub.example. 60 IN SOA ns.sub.example. admin.sub.example. 1 2 3 4 60"],
            "everything else from the child"
        );
    }

    #[test]
    fn negative_answers_carry_the_soa() {
        let m = ask("nope.example.", RType::A);
        assert_eq!(m.header.rcode, Rcode::NXDOMAIN.0 as u8);
        assert_eq!(
            lines(&m.authority),
            ["example. 300 IN SOA ns.example. admin.example. 7 3600 900 604800 300"]
        );
        let m = ask("www.example.", RType::AAAA);
        assert_eq!(m.header.rcode, 0);
        assert!(m.answers.is_empty() && m.authority.len() == 1);
    }

    #[test]
    fn referral_with_glue_and_no_aa() {
        let m = ask("host.sub.example.", RType::A);
        assert!(!m.header.aa);
        assert_eq!(m.authority.len(), 2);
        assert_eq!(
            lines(&m.additional),
            ["ns.sub.example. 3600 IN A 192.0.2.3"]
        );
    }

    #[test]
    fn wildcard_and_dname() {
        let m = ask("x.WILD.example.", RType::TXT);
        assert_eq!(lines(&m.answers), ["x.WILD.example. 3600 IN TXT \"w\""]);
        let m = ask("a.dn.example.", RType::A);
        assert_eq!(
            lines(&m.answers),
            [
                "dn.example. 3600 IN DNAME example.net.",
                "a.dn.example. 3600 IN CNAME a.example.net."
            ]
        );
    }

    #[test]
    fn refused_notimp_formerr_chaos() {
        let m = ask("example.org.", RType::A);
        assert_eq!(m.header.rcode, Rcode::REFUSED.0 as u8);
        assert!(!m.header.aa);
        let m = ask_with(
            &query("version.bind.", RType::TXT, Class::CH, false),
            Transport::Udp,
        );
        assert_eq!(lines(&m.answers), ["version.bind. 0 CH TXT \"test 1\""]);
        let m = ask_with(
            &query("hostname.bind.", RType::TXT, Class::CH, false),
            Transport::Udp,
        );
        assert_eq!(m.header.rcode, Rcode::REFUSED.0 as u8, "turned off");
        let mut notify = query("example.", RType::SOA, Class::IN, false);
        notify[2] |= 0x28; // opcode 5 (UPDATE)
        assert_eq!(
            ask_with(&notify, Transport::Udp).header.rcode,
            Rcode::NOTIMP.0 as u8
        );
        let mut bad = query("example.", RType::SOA, Class::IN, false);
        bad[5] = 2; // QDCOUNT 2
        let mut out = Vec::new();
        let outcome = responder().answer(
            &bad,
            "127.0.0.1".parse().unwrap(),
            Transport::Udp,
            &catalog(),
            0,
            &mut out,
        );
        assert_eq!(
            outcome,
            Outcome::FormErr {
                reason: DecodeErrorKind::QdCountMismatch
            }
        );
        assert_eq!(Message::decode(&out).unwrap().header.rcode, 1);
        let mut response = query("example.", RType::SOA, Class::IN, false);
        response[2] |= 0x80;
        assert_eq!(
            responder().answer(
                &response,
                "127.0.0.1".parse().unwrap(),
                Transport::Udp,
                &catalog(),
                0,
                &mut out
            ),
            Outcome::Dropped(DropReason::Response)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn edns_badvers_and_truncation() {
        let mut q = query("big.example.", RType::TXT, Class::IN, false);
        let m = ask_with(&q, Transport::Udp);
        assert!(
            m.header.tc && m.answers.is_empty(),
            "600 octets do not fit in 512"
        );
        let m = ask_with(&q, Transport::Tcp);
        assert!(!m.header.tc && m.answers.len() == 6);
        q = query("big.example.", RType::TXT, Class::IN, true);
        let m = ask_with(&q, Transport::Udp);
        assert!(!m.header.tc && m.answers.len() == 6, "EDNS 1232 fits");
        assert!(m.opt().is_some());
        let mut q = query("www.example.", RType::A, Class::IN, true);
        let ttl_at = q.len() - 6; // OPT TTL: ext-rcode, version, flags
        q[ttl_at + 1] = 1; // version 1
        let m = ask_with(&q, Transport::Udp);
        assert_eq!(
            m.edns().unwrap().extended_rcode,
            1,
            "BADVERS = 16 → upper bits 1"
        );
        assert!(m.answers.is_empty());
    }
}

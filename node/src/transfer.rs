//! Zone transfers out over TCP: AXFR (RFC 5936) and IXFR (RFC 1995).
//!
//! IXFR: a client whose serial is current (or newer) gets the SOA alone; a client at a serial
//! the version history still holds gets one condensed difference sequence from its version to
//! the current one (current SOA, old SOA, deleted records, current SOA, added records, current
//! SOA; RFC 1995 §4); otherwise, or for zones without history (files), the whole zone in AXFR
//! form, which RFC 1995 §4 allows.
//!
//! A transfer streams the zone snapshot the catalog held when the request arrived (immutable,
//! so every message belongs to one version): the SOA first, every other record, the SOA last
//! (RFC 5936 §2.2), in messages of about [`MESSAGE_TARGET`] octets, each carrying the question
//! (QDCOUNT = 1, RFC 5936 §2.2.1) and compressed names. Only one message is ever built at a
//! time, and each is written before the next is started, so memory stays flat whatever the
//! zone's size and a slow reader slows the stream instead of growing a buffer.
//!
//! Who may transfer: clients whose address falls in `[transfer] allow` (address prefixes;
//! loopback only by default), those a `[[transfer.rule]]` admits (zones, address prefixes, TSIG
//! keys), and each declared secondary for its zones from its address (with its key, when it
//! has one). Others get REFUSED; a zone this server does not serve gets NOTAUTH (RFC 5936
//! §2.2.1). A signed request is verified first (RFC 8945 §5.2): an unknown key is BADKEY, a
//! wrong MAC BADSIG (both answered NOTAUTH with an unsigned TSIG record), a time outside the
//! fudge BADTIME (signed); a verified request gets every message of its answer signed.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nebula_store::records::TransferNote;
use nebula_store::serial::serial_gt;
use nebula_store::snapshot::ZoneSnapshot;
use nebula_wire::codec::{NameKind, Writer};
use nebula_wire::message::encode_record;
use nebula_wire::tsig::Key;
use nebula_wire::{
    Class, Counts, Header, Message, Name, QueryView, Question, RData, RType, Rcode, Record,
};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::peers::Peers;
use crate::tsig::{authenticate, unix_now, Signing};
use crate::udp::Shared;

/// A message is closed once it reaches this size. Larger messages mean fewer of them (BIND and
/// Knot fill up to 64 KiB); this size keeps a record that does not fit rare and cheap to move.
const MESSAGE_TARGET: usize = 16 * 1024;

/// Finished messages are written to the socket in batches of about this size: fewer system
/// calls and wake-ups, and still a bounded buffer.
const WRITE_BATCH: usize = 64 * 1024;

/// The largest DNS message over TCP (RFC 1035 §4.2.2: a two-octet length), less the 11 octets
/// of the OPT record the first message may still need and room for a TSIG record (key and
/// algorithm names of at most 255 octets each, a 64-octet MAC, the fixed fields).
const MESSAGE_MAX: usize = 65_535 - 11 - 620;

/// An address prefix such as `192.0.2.0/24` or `2001:db8::/32` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// True if `ip` is inside the prefix; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(ip)), self.len, 32) == u128::from(u32::from(net))
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(ip), self.len, 128) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// `bits` (an address of `width` bits) with everything past the first `len` bits cleared.
fn masked(bits: u128, len: u8, width: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let keep = u32::from(width - len);
    (bits >> keep) << keep
}

impl FromStr for IpPrefix {
    type Err = String;

    fn from_str(text: &str) -> Result<IpPrefix, String> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            format!(
                "{text:?} is not an address prefix such as \"192.0.2.0/24\" or \"2001:db8::/32\""
            )
        })?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len_text {
            None => width,
            Some(len) => len
                .parse::<u8>()
                .ok()
                .filter(|&len| len <= width)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {width}"))?,
        };
        let bits = match addr {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        if masked(bits, len, width) != bits {
            return Err(format!(
                "{text:?} has address bits set past the /{len}; write the network address"
            ));
        }
        Ok(IpPrefix { addr, len })
    }
}

impl TryFrom<String> for IpPrefix {
    type Error = String;

    fn try_from(text: String) -> Result<IpPrefix, String> {
        text.parse()
    }
}

impl From<IpPrefix> for String {
    fn from(prefix: IpPrefix) -> String {
        prefix.to_string()
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The loopback networks: the default `[transfer] allow`.
pub fn loopback() -> Vec<IpPrefix> {
    vec![
        IpPrefix {
            addr: IpAddr::from([127, 0, 0, 0]),
            len: 8,
        },
        IpPrefix {
            addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            len: 128,
        },
    ]
}

/// `[[transfer.rule]]`: transfers of `zones` (all when empty) from `address` (anywhere when
/// empty), signed with one of `keys` (unsigned too when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub zones: Vec<String>,
    #[serde(default)]
    pub address: Vec<IpPrefix>,
    #[serde(default)]
    pub keys: Vec<String>,
}

/// Whether `names` (zone or key names as written) is empty or holds `name` (lower-case).
fn names_hold(names: &[String], name: &Name) -> bool {
    names.is_empty()
        || names.iter().any(|n| {
            Name::from_text(n, Some(&Name::root())).is_ok_and(|n| n.to_lowercase() == *name)
        })
}

impl Rule {
    fn matches(&self, peer: IpAddr, zone: &Name, key: Option<&Name>) -> bool {
        names_hold(&self.zones, zone)
            && (self.address.is_empty() || self.address.iter().any(|p| p.contains(peer)))
            && (self.keys.is_empty() || key.is_some_and(|key| names_hold(&self.keys, key)))
    }
}

/// What a node knows about transfers: who may ask, the secondaries, and the replicated store
/// (set once it is open).
pub struct Policy {
    /// Unsigned (or signed) transfers of every zone from these prefixes.
    pub allow: Vec<IpPrefix>,
    pub rules: Vec<Rule>,
    /// Declared secondaries: each may transfer the zones it takes from its address, with its
    /// key when it has one; they also name peers in metrics.
    pub peers: Arc<Peers>,
    pub store: OnceLock<Arc<dyn Store>>,
    /// Where transfers to (or refused to) declared secondaries are reported, for the
    /// propagation verifier (set once the replicated store is open).
    pub notes: OnceLock<NoteSink>,
    /// Wakes the refresher of a zone taken from external primaries (a NOTIFY came).
    pub kicks: OnceLock<Box<dyn Fn(String) + Send + Sync>>,
}

/// Takes a [`TransferNote`]; must not block (it runs on the transfer's task).
pub type NoteSink = Box<dyn Fn(TransferNote) + Send + Sync>;

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("allow", &self.allow)
            .field("rules", &self.rules)
            .field("store", &self.store.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A TSIG key by name (as configuration writes it).
    pub fn key(&self, name: &str) -> Option<Key> {
        let name = Name::from_text(name, Some(&Name::root())).ok()?;
        self.store.get()?.tsig_key(&name)
    }

    /// Whether `peer` may transfer `zone` (lower-case), having signed with `key` (verified).
    fn allows(&self, peer: IpAddr, zone: &Name, key: Option<&Name>) -> bool {
        let zone_text = zone.to_string();
        self.allow.iter().any(|prefix| prefix.contains(peer))
            || self.rules.iter().any(|rule| rule.matches(peer, zone, key))
            || self.peers.load().list.iter().any(|s| {
                s.address.0.ip().to_canonical() == peer.to_canonical()
                    && s.takes(&zone_text)
                    && s.key.as_ref().is_none_or(|k| {
                        key.is_some_and(|key| names_hold(std::slice::from_ref(k), key))
                    })
            })
    }
}

/// What transfers and NOTIFY need from the replicated store.
pub trait Store: Send + Sync {
    /// The change from the version of `zone` with SOA serial `from` to the current one, as RFC
    /// 1995 difference halves (deleted records led by the old SOA, added ones led by the new),
    /// or None when the history does not reach back to `from`.
    fn difference(&self, zone: &Name, from: u32) -> Option<(Vec<Record>, Vec<Record>)>;
    /// A TSIG key by (lower-case) name.
    fn tsig_key(&self, name: &Name) -> Option<Key>;
}

/// A transfer request: AXFR or IXFR, opcode QUERY, exactly one question.
#[derive(Debug)]
pub struct Request {
    header: Header,
    question: Question,
    /// The request as received, when it carries a TSIG record (its MAC covers these bytes).
    signed: Option<Vec<u8>>,
    /// IXFR: the serial of the client's SOA in the authority section (RFC 1995 §3).
    client_serial: Option<u32>,
    /// The query had an OPT record: the first message of the answer carries one (RFC 6891 §7).
    edns: bool,
}

/// Recognises a transfer request; anything else (including undecodable bytes) is left to the
/// ordinary responder, which answers it or says why not.
pub fn recognise(query: &[u8]) -> Option<Request> {
    // The allocation-free view first: every TCP query passes here.
    let view = QueryView::parse(query).ok()?;
    if view.header.qr
        || view.header.opcode != 0
        || view.counts.qd != 1
        || !matches!(view.qtype, RType::AXFR | RType::IXFR)
    {
        return None;
    }
    let message = Message::decode(query).ok()?;
    let client_serial = message.authority.iter().find_map(|r| match &r.rdata {
        RData::Soa(soa) => Some(soa.serial),
        _ => None,
    });
    let question = message.questions.into_iter().next()?;
    Some(Request {
        header: view.header,
        question,
        signed: view.has_tsig.then(|| query.to_vec()),
        client_serial,
        edns: view.edns.is_some(),
    })
}

/// Builds one message of a transfer at a time in a reused buffer.
struct Messages<'a> {
    writer: Writer,
    request: &'a Request,
    count: u16,
    /// The UDP payload size our OPT record announces, until the first message has carried it.
    opt: Option<u16>,
    signing: Signing,
}

impl Messages<'_> {
    fn start(&mut self, rcode: Rcode) {
        self.writer.reset();
        let header = Header {
            id: self.request.header.id,
            qr: true,
            opcode: 0,
            aa: rcode == Rcode::NOERROR,
            tc: false,
            rd: self.request.header.rd,
            ra: false,
            z: false,
            ad: false,
            cd: false,
            rcode: rcode.0 as u8,
        };
        let counts = Counts {
            qd: 1,
            ..Counts::default()
        };
        header.encode(counts, &mut self.writer);
        let question = &self.request.question;
        self.writer
            .name(question.name.as_wire(), NameKind::Compressible);
        self.writer.u16(question.qtype.0);
        self.writer.u16(question.qclass.0);
        self.count = 0;
    }

    /// Appends the finished message to `out`, with its length prefix and answer count filled in.
    fn frame_into(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.writer.patch_u16(6, self.count);
        if let Some(payload) = self.opt.take() {
            // OPT (RFC 6891 §6.1.2): root owner, type 41, the payload size as class, no flags.
            self.writer.u8(0);
            self.writer.u16(RType::OPT.0);
            self.writer.u16(payload);
            self.writer.u32(0);
            self.writer.u16(0);
            self.writer.patch_u16(10, 1);
        }
        let signed;
        let bytes = if matches!(self.signing, Signing::None) {
            self.writer.as_bytes()
        } else {
            let mut message = self.writer.as_bytes().to_vec();
            self.signing.apply(&mut message, unix_now());
            signed = message;
            &signed
        };
        let len = u16::try_from(bytes.len())
            .map_err(|_| io::Error::other("a transfer message exceeded 65535 octets"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
        Ok(())
    }
}

/// What a finished transfer did, for the log.
#[derive(Default)]
struct Sent {
    records: u64,
    messages: u64,
    bytes: u64,
}

/// Answers a transfer request on `stream`.
pub async fn serve(
    stream: &mut TcpStream,
    request: Request,
    peer: IpAddr,
    shared: &Shared,
    idle: Duration,
) -> io::Result<()> {
    let policy = &*shared.policy;
    let kind = request.question.qtype;
    let zone_name = request.question.name.to_string();
    let mut refusal = None;
    let mut signing = Signing::None;
    let mut key_name = None;
    // The key the request names, verified or not: it tells secondaries on one address apart.
    let mut claimed_key = None;
    if let Some(raw) = &request.signed {
        match authenticate(raw, policy, unix_now()) {
            Ok((chain, name)) => {
                signing = chain;
                claimed_key = Some(name.clone());
                key_name = Some(name);
            }
            Err(failed) => {
                signing = failed.signing;
                claimed_key = failed.key_name;
                refusal = Some((failed.rcode, failed.why, failed.failure));
            }
        }
    }
    let mut out = Out {
        stream,
        messages: Messages {
            writer: Writer::message(MESSAGE_TARGET + 1024),
            request: &request,
            count: 0,
            opt: request.edns.then_some(shared.engine.edns_payload),
            signing,
        },
        sent: Sent::default(),
        pending: Vec::with_capacity(WRITE_BATCH + MESSAGE_TARGET + 1024),
        idle,
    };
    let zone_lower = request.question.name.to_lowercase();
    if refusal.is_none() && request.question.qclass != Class::IN {
        refusal = Some((Rcode::NOTAUTH, "not class IN".to_owned(), "notauth"));
    } else if refusal.is_none() && !policy.allows(peer, &zone_lower, key_name.as_ref()) {
        let why = match &key_name {
            Some(key) => format!("no [transfer] allow prefix, [[transfer.rule]] or secondary admits this address with TSIG key {key}"),
            None => "no [transfer] allow prefix, [[transfer.rule]] or secondary admits this address without a TSIG key".to_owned(),
        };
        refusal = Some((Rcode::REFUSED, why, "refused"));
    }
    // Metric labels: a declared secondary's name and a served zone, else `other`.
    let served = shared.catalog.load().get(zone_lower.as_wire()).cloned();
    let zone_label = served.as_ref().map_or_else(
        || "other".to_owned(),
        |z| z.origin().to_lowercase().to_string(),
    );
    let peers = policy.peers.load();
    let declared = peers.at(peer, claimed_key.as_ref());
    let peer_label = declared.map_or("other", |s| s.name.as_str());
    let note = |result: &str, reason: String, serial: Option<u32>, bytes: u64| {
        if let (Some(secondary), Some(notes)) = (declared, policy.notes.get()) {
            notes(TransferNote {
                peer: secondary.name.clone(),
                zone: zone_label.clone(),
                node: 0,
                time_ms: unix_now() * 1000,
                kind: kind.to_string(),
                result: result.to_owned(),
                serial,
                bytes,
                reason,
            });
        }
    };
    let count = |result| {
        shared
            .metrics
            .count_transfer(peer_label, &zone_label, "out", result);
    };
    let zone = if refusal.is_some() { None } else { served };
    let Some(zone) = zone else {
        let (rcode, why, result) = refusal.unwrap_or((
            Rcode::NOTAUTH,
            "this server does not serve the zone".to_owned(),
            "notauth",
        ));
        tracing::info!(%peer, zone = %zone_name, kind = %kind, rcode = %rcode, "zone transfer refused: {why}");
        count(result);
        note(result, format!("{rcode}: {why}"), None, 0);
        out.messages.start(rcode);
        out.send().await?;
        return out.write_pending().await;
    };
    let started = Instant::now();
    out.messages.start(Rcode::NOERROR);
    let streamed = async {
        let form = match incremental(&request, &zone, policy).await {
            Some(records) => {
                for record in &records {
                    out.add(&record.name, record.ttl, &record.rdata).await?;
                }
                if records.len() == 1 {
                    "up to date"
                } else {
                    "incremental"
                }
            }
            None => {
                out.whole_zone(&zone).await?;
                "full"
            }
        };
        out.finish().await.map(|()| form)
    }
    .await;
    let form = match streamed {
        Ok(form) => form,
        Err(e) => {
            count("error");
            note("error", e.to_string(), Some(zone.serial()), out.sent.bytes);
            return Err(e);
        }
    };
    count("ok");
    if form != "up to date" {
        note("ok", form.to_owned(), Some(zone.serial()), out.sent.bytes);
    }
    tracing::info!(
        %peer,
        zone = %zone_name,
        kind = %kind,
        form,
        from = ?request.client_serial,
        serial = zone.serial(),
        tsig = ?key_name.as_ref().map(ToString::to_string),
        records = out.sent.records,
        messages = out.sent.messages,
        bytes = out.sent.bytes,
        ms = started.elapsed().as_millis() as u64,
        "zone transfer served"
    );
    Ok(())
}

/// The records of an IXFR answer that is not the whole zone: the current SOA alone for a
/// client that is up to date, or one difference sequence from the client's version.
async fn incremental(
    request: &Request,
    zone: &ZoneSnapshot,
    policy: &Policy,
) -> Option<Vec<Record>> {
    let from = request
        .client_serial
        .filter(|_| request.question.qtype == RType::IXFR)?;
    let soa = |set: &nebula_store::snapshot::SnapshotRrset| {
        set.rdatas
            .first()
            .map(|rdata| Record::new(zone.origin().clone(), set.ttl, rdata.clone()))
    };
    let current = zone
        .apex()
        .and_then(|apex| apex.rrset(RType::SOA))
        .and_then(soa)?;
    if !serial_gt(zone.serial(), from) {
        return Some(vec![current]);
    }
    // Reading two versions of a large zone and diffing them is blocking work.
    let store = Arc::clone(policy.store.get()?);
    let origin = zone.origin().clone();
    let (deleted, added) = tokio::task::spawn_blocking(move || store.difference(&origin, from))
        .await
        .ok()??;
    // The history's newest version may be newer than this snapshot: its SOA closes the answer.
    let newest = added.first().filter(|r| r.rtype() == RType::SOA)?.clone();
    let mut records = Vec::with_capacity(deleted.len() + added.len() + 2);
    records.push(newest.clone());
    records.extend(deleted);
    records.extend(added);
    records.push(newest);
    Some(records)
}

/// A transfer in progress: the connection, the message being built, and what went out.
struct Out<'a> {
    stream: &'a mut TcpStream,
    messages: Messages<'a>,
    sent: Sent,
    /// Finished messages not yet written, with their length prefixes.
    pending: Vec<u8>,
    /// How long one batch may take to write before the client counts as gone.
    idle: Duration,
}

impl Out<'_> {
    /// Adds the zone's records: SOA, every other record, SOA.
    async fn whole_zone(&mut self, zone: &ZoneSnapshot) -> io::Result<()> {
        let (ttl, soa) = zone
            .apex()
            .and_then(|apex| apex.rrset(RType::SOA))
            .and_then(|set| set.rdatas.first().map(|rdata| (set.ttl, rdata)))
            .ok_or_else(|| io::Error::other("the zone has no SOA"))?;
        let origin = zone.origin();
        self.add(origin, ttl, soa).await?;
        for node in zone.nodes() {
            for set in node.rrsets.iter() {
                if set.rtype == RType::SOA && node.owner == *origin {
                    continue;
                }
                for rdata in set.rdatas.iter() {
                    self.add(&node.owner, set.ttl, rdata).await?;
                }
            }
        }
        self.add(origin, ttl, soa).await
    }

    /// Appends one record, writing the message first when it is full.
    async fn add(&mut self, owner: &Name, ttl: u32, rdata: &RData) -> io::Result<()> {
        let before = self.messages.writer.len();
        encode_record(&mut self.messages.writer, owner, Class::IN, ttl, rdata);
        if self.messages.writer.len() > MESSAGE_MAX {
            // This record does not fit: close the message without it and start the next.
            self.messages.writer.truncate(before);
            self.send().await?;
            self.messages.start(Rcode::NOERROR);
            encode_record(&mut self.messages.writer, owner, Class::IN, ttl, rdata);
        }
        self.messages.count += 1;
        self.sent.records += 1;
        if self.messages.writer.len() >= MESSAGE_TARGET {
            self.send().await?;
            self.messages.start(Rcode::NOERROR);
        }
        Ok(())
    }

    /// Sends the last message, unless it is empty, and writes everything still pending.
    async fn finish(&mut self) -> io::Result<()> {
        if self.messages.count > 0 {
            self.send().await?;
        }
        self.write_pending().await
    }

    /// Queues the message being built; writes the queue once it holds a batch.
    async fn send(&mut self) -> io::Result<()> {
        let before = self.pending.len();
        self.messages.frame_into(&mut self.pending)?;
        self.sent.messages += 1;
        self.sent.bytes += (self.pending.len() - before) as u64;
        if self.pending.len() >= WRITE_BATCH {
            self.write_pending().await?;
        }
        Ok(())
    }

    /// Writes the queued messages.
    async fn write_pending(&mut self) -> io::Result<()> {
        tokio::time::timeout(self.idle, self.stream.write_all(&self.pending))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))??;
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_strictly_and_match() {
        let net: IpPrefix = "192.0.2.0/24".parse().unwrap();
        assert!(net.contains("192.0.2.77".parse().unwrap()));
        assert!(
            net.contains("::ffff:192.0.2.1".parse().unwrap()),
            "IPv4-mapped"
        );
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        let host: IpPrefix = "::1".parse().unwrap();
        assert_eq!(host.to_string(), "::1/128");
        assert!(host.contains("::1".parse().unwrap()));
        let all: IpPrefix = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let v6: IpPrefix = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        for (bad, why) in [
            ("10.1.2.3/8", "bits set past the /8"),
            ("10.0.0.0/33", "0 to 32"),
            ("example.com", "not an address prefix"),
        ] {
            let err = bad.parse::<IpPrefix>().unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}

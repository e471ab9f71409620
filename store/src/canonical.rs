//! The canonical form of a zone and its content hash, the identity of a zone version.
//!
//! The canonical form lists a zone's records RRset by RRset in RFC 4034 §6.1 order (owner names
//! in canonical name order, then type number), the records of each RRset sorted by their
//! canonical RDATA (RFC 4034 §6.3: RDATA as left-justified unsigned octet strings), duplicates
//! dropped, each record written in the RFC 4034 §6.2 canonical wire form by
//! [`Record::encode_canonical`] (owner and embedded names lowered where §6.2 says, no
//! compression, the RRset's TTL, the zone's class).
//!
//! [`content_hash`] is SHA-256 over that form with one deliberate change: **the SOA serial is
//! hashed as zero**. The version system stamps serials itself (`max(old + 1, policy)`), so a
//! change of serial alone is not a change of content, and submitting the same content twice
//! yields the same hash and therefore no new version. Every other SOA field is covered.
//!
//! There are two formats ([`HashFormat`]); a zone keeps the one it was created with. Exactly
//! what each covers, as bytes fed to SHA-256:
//!
//! ```text
//! format 1 (zones created before format 2 existed)
//! "nebuladns-zone-content-v1\0"        format tag
//! origin in wire form, lower-cased     RFC 4034 §6.2 rule 3
//! class, 2 octets big-endian
//! then for each record in canonical order (above):
//!   owner | type | class | TTL | RDLENGTH | RDATA   RFC 4034 §6.2 canonical RR, SOA serial = 0
//!
//! format 2 (new zones)
//! "nebuladns-zone-content-v2\0"        format tag
//! origin and class as in format 1
//! then for each RRset in canonical order:
//!   SHA-256 of the RRset's canonical RRs (exactly the bytes format 1 feeds for them), 32 octets
//! ```
//!
//! Every canonical RR is self-delimiting (names end with the root label, RDATA carries its
//! length), so the concatenation is unambiguous; format 2's digests are fixed-size. Format 2
//! lets a new version hash only what changed plus 32 bytes per RRset after the first change,
//! where format 1 re-reads the records themselves (see [`content_hash_cached`]; ADR 0014).
//!
//! What the hash does not depend on: the order records were inserted in, the case of owner
//! names and of the names RFC 4034 §6.2 lowers inside RDATA (NS, CNAME, SOA, MX, PTR, SRV,
//! DNAME, ...), duplicate records, and the SOA serial. What it does depend on: the origin, the
//! class, every TTL, every RDATA octet in canonical form, and the case of names RFC 6840 §5.1
//! keeps verbatim (such as the NSEC next owner name). A [`Zone`] keeps one TTL per RRset
//! (RFC 2181 §5.2); when a parser met records of one RRset with different TTLs the first one
//! won and was reported, and that kept TTL is what is hashed.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use nebula_wire::codec::Writer;
use nebula_wire::{Class, Name, RData, RType, Record};

use serde::{Deserialize, Serialize};

use crate::sha256::Sha256;
use crate::zone::{Rrset, Zone};

/// How a zone's content hash is computed (see the module documentation). A zone keeps the
/// format it was created with for its whole life, so its version ids stay comparable; stored
/// records without one are format 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum HashFormat {
    /// SHA-256 over the canonical records.
    #[default]
    V1,
    /// SHA-256 over each RRset's SHA-256 of its canonical records.
    V2,
}

impl HashFormat {
    /// The format a zone created now takes.
    pub const CURRENT: HashFormat = HashFormat::V2;

    /// Tag hashed first, so no two layouts can ever collide.
    fn tag(self) -> &'static [u8] {
        match self {
            HashFormat::V1 => b"nebuladns-zone-content-v1\0",
            HashFormat::V2 => b"nebuladns-zone-content-v2\0",
        }
    }
}

impl From<HashFormat> for u8 {
    fn from(format: HashFormat) -> u8 {
        match format {
            HashFormat::V1 => 1,
            HashFormat::V2 => 2,
        }
    }
}

impl TryFrom<u8> for HashFormat {
    type Error = String;

    fn try_from(number: u8) -> Result<HashFormat, String> {
        match number {
            1 => Ok(HashFormat::V1),
            2 => Ok(HashFormat::V2),
            _ => Err(format!(
                "content hash format {number} is unknown to this version of nebuladns (it knows 1 and 2); upgrade it"
            )),
        }
    }
}

/// Hex digits shown by [`ContentHash::short`]: 48 bits, plenty to tell one zone's versions apart.
pub const SHORT_HASH_LEN: usize = 12;

/// One record's data with its canonical wire form (RFC 4034 §6.2), the sort key of §6.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRdata<'a> {
    pub rdata: &'a RData,
    pub wire: Vec<u8>,
}

/// One RRset in canonical form: distinct RDATA sorted by canonical wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRrset<'a> {
    pub owner: &'a Name,
    pub rtype: RType,
    pub ttl: u32,
    pub rdatas: Vec<CanonicalRdata<'a>>,
}

/// The RDATA of `rrset` sorted by canonical wire form (RFC 4034 §6.3), duplicates dropped.
///
/// Two RDATA with the same canonical form are the same record (RFC 4034 §6.3: "RRs with
/// identical canonical RDATA are duplicates"), even when they differ in the case of a name.
pub fn sorted_rdatas(rrset: &Rrset) -> Vec<CanonicalRdata<'_>> {
    let mut sorted: Vec<CanonicalRdata<'_>> = rrset
        .rdatas
        .iter()
        .map(|rdata| CanonicalRdata {
            rdata,
            wire: rdata.to_canonical_wire(),
        })
        .collect();
    // Vec<u8> orders as RFC 4034 §6.3 asks: octet by octet, a missing octet before any octet.
    sorted.sort_by(|a, b| a.wire.cmp(&b.wire));
    sorted.dedup_by(|a, b| a.wire == b.wire);
    sorted
}

/// The zone's RRsets in canonical order (RFC 4034 §6.1 owner order, then type number), each
/// with its records in canonical RDATA order.
pub fn canonical_rrsets(zone: &Zone) -> impl Iterator<Item = CanonicalRrset<'_>> {
    // The zone's map is keyed in exactly this order already; only the records need sorting.
    zone.rrsets().map(|(owner, rtype, rrset)| CanonicalRrset {
        owner,
        rtype,
        ttl: rrset.ttl,
        rdatas: sorted_rdatas(rrset),
    })
}

/// Every record of the zone in canonical order, duplicates dropped.
pub fn canonical_records(zone: &Zone) -> Vec<Record> {
    let mut records = Vec::with_capacity(zone.record_count());
    for set in canonical_rrsets(zone) {
        for data in set.rdatas {
            records.push(Record {
                name: set.owner.clone(),
                class: zone.class,
                ttl: set.ttl,
                rdata: data.rdata.clone(),
            });
        }
    }
    records
}

/// The canonical form as one byte string: every record's RFC 4034 §6.2 form, in canonical
/// order, SOA serial as stored. Two zones hold the same data exactly when, besides origin and
/// class, these bytes are equal.
pub fn canonical_wire(zone: &Zone) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical_records(zone, false, &mut |bytes| out.extend_from_slice(bytes));
    out
}

/// True when two zones hold the same data: same origin, class and canonical form (the SOA
/// serial included). Insertion order and name case do not matter.
pub fn same_content(a: &Zone, b: &Zone) -> bool {
    a.origin == b.origin && a.class == b.class && canonical_wire(a) == canonical_wire(b)
}

/// A copy of the zone whose RRsets hold their RDATA in canonical order without duplicates:
/// zones with the same content normalise to `==` zones.
pub fn normalize(zone: &Zone) -> Zone {
    let mut out = Zone::new(zone.origin.clone(), zone.class);
    for set in canonical_rrsets(zone) {
        let rdatas = set
            .rdatas
            .into_iter()
            .map(|data| data.rdata.clone())
            .collect();
        out.replace_rrset(
            set.owner.clone(),
            set.rtype,
            Some(Rrset {
                ttl: set.ttl,
                rdatas,
            }),
        );
    }
    out
}

/// Reused buffers for writing canonical records.
#[derive(Default)]
struct Buffers {
    rdata_wire: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    record: Vec<u8>,
}

/// Feeds every canonical record to `sink`, one call per record; with `zero_soa_serial` the SOA
/// serial is written as 0 (the content-hash rule above).
///
/// Works in three reused buffers and clones nothing: hashing a million-record zone must not cost
/// a million allocations. The bytes are exactly [`Record::encode_canonical`]'s, records in the
/// order of [`canonical_rrsets`].
fn write_canonical_records(zone: &Zone, zero_soa_serial: bool, sink: &mut dyn FnMut(&[u8])) {
    let mut buffers = Buffers::default();
    for (owner, rtype, rrset) in zone.rrsets() {
        write_canonical_rrset(
            (owner, rtype, rrset),
            zone.class,
            zero_soa_serial,
            &mut buffers,
            sink,
        );
    }
}

/// [`write_canonical_records`] for one RRset.
fn write_canonical_rrset(
    (owner, rtype, rrset): (&Name, RType, &Rrset),
    class: Class,
    zero_soa_serial: bool,
    buffers: &mut Buffers,
    sink: &mut dyn FnMut(&[u8]),
) {
    let Buffers {
        rdata_wire,
        ranges,
        record,
    } = buffers;
    rdata_wire.clear();
    ranges.clear();
    for rdata in &rrset.rdatas {
        let start = rdata_wire.len();
        let mut writer = Writer::canonical(std::mem::take(rdata_wire));
        rdata.encode(&mut writer);
        *rdata_wire = writer.into_bytes();
        if let (true, RData::Soa(soa)) = (zero_soa_serial, rdata) {
            // RFC 1035 §3.3.13: the serial follows MNAME and RNAME (uncompressed here).
            let at = start + soa.mname.wire_len() + soa.rname.wire_len();
            rdata_wire[at..at + 4].fill(0);
        }
        ranges.push((start, rdata_wire.len()));
    }
    if ranges.len() > 1 {
        // RFC 4034 §6.3: octet order of the canonical RDATA; identical ones are duplicates.
        ranges.sort_by(|a, b| rdata_wire[a.0..a.1].cmp(&rdata_wire[b.0..b.1]));
        ranges.dedup_by(|a, b| rdata_wire[a.0..a.1] == rdata_wire[b.0..b.1]);
    }
    for &(start, end) in ranges.iter() {
        record.clear();
        record.extend(owner.as_wire().iter().map(u8::to_ascii_lowercase));
        record.extend_from_slice(&rtype.0.to_be_bytes());
        record.extend_from_slice(&class.0.to_be_bytes());
        record.extend_from_slice(&rrset.ttl.to_be_bytes());
        // RDATA built from a valid zone is at most 65535 octets (wire's constructors check).
        record.extend_from_slice(&u16::try_from(end - start).unwrap_or(u16::MAX).to_be_bytes());
        record.extend_from_slice(&rdata_wire[start..end]);
        sink(record);
    }
}

/// Whether two RRsets at `owner`/`rtype` (None: absent) count as the same content to the
/// content hash, in either format: the same canonical records, SOA serial aside.
pub fn same_rrset_content(
    (owner, rtype): (&Name, RType),
    class: Class,
    a: Option<&Rrset>,
    b: Option<&Rrset>,
) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let mut buffers = Buffers::default();
            let mut records = |rrset: &Rrset| {
                let mut bytes = Vec::new();
                write_canonical_rrset((owner, rtype, rrset), class, true, &mut buffers, &mut |r| {
                    bytes.extend_from_slice(r)
                });
                bytes
            };
            std::ptr::eq(a, b) || records(a) == records(b)
        }
        _ => false,
    }
}

/// `rrset` of type `rtype` with any SOA serial set to zero, as hashed (and as stored, the serial
/// living in the history row).
pub(crate) fn unstamped(mut rrset: Rrset, rtype: RType) -> Rrset {
    if rtype == RType::SOA {
        for rdata in &mut rrset.rdatas {
            if let RData::Soa(soa) = rdata {
                soa.serial = 0;
            }
        }
    }
    rrset
}

fn hasher_for(format: HashFormat, zone: &Zone) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(format.tag());
    hasher.update(zone.origin.to_lowercase().as_wire());
    hasher.update(zone.class.0.to_be_bytes());
    hasher
}

/// The SHA-256 content hash of a zone in `format`: the id of a zone version. See the module
/// documentation for exactly which bytes it covers; notably the SOA serial is hashed as zero.
pub fn content_hash(format: HashFormat, zone: &Zone) -> ContentHash {
    let mut hasher = hasher_for(format, zone);
    match format {
        HashFormat::V1 => write_canonical_records(zone, true, &mut |bytes| hasher.update(bytes)),
        HashFormat::V2 => {
            let mut buffers = Buffers::default();
            for rrset in zone.rrsets() {
                hasher.update(rrset_digest(rrset, zone.class, &mut buffers));
            }
        }
    }
    ContentHash(hasher.finalize())
}

/// Format 2's input for one RRset: SHA-256 of its canonical records (SOA serial 0).
fn rrset_digest(rrset: (&Name, RType, &Rrset), class: Class, buffers: &mut Buffers) -> [u8; 32] {
    let mut hasher = Sha256::new();
    write_canonical_rrset(rrset, class, true, buffers, &mut |record| {
        hasher.update(record)
    });
    hasher.finalize()
}

/// What the content hash read for each RRset of one zone version (format 1: its records in
/// content-hash form, SOA serial 0; format 2: their SHA-256), kept beside the zone so that the
/// next version's [`content_hash_cached`] encodes only the RRsets a change touched. A copy of a
/// zone shares its untouched RRsets (`Arc`) with the original, and an RRset whose allocation is
/// the one cached has the cached bytes: the cache holds that allocation, so its address cannot
/// be reused for other data.
///
/// It also keeps the SHA-256 state at points about [`CHECKPOINT_BYTES`] apart, so the next
/// version resumes hashing at the last such point before its first change instead of hashing
/// the whole zone again: a change hashes the zone from where it is to the end (on average half
/// the zone) and not the part in front of it.
#[derive(Debug, Clone)]
pub struct HashCache {
    format: HashFormat,
    class: Class,
    /// The origin in hashed form (wire, lower-cased): the checkpoints began with it.
    origin: Vec<u8>,
    /// In the zone's (canonical) order.
    entries: Vec<Arc<CachedRrset>>,
    /// `(i, state)`, `i` ascending: the hasher's state just before the bytes of `entries[i]`.
    checkpoints: Vec<(usize, Sha256)>,
}

impl HashCache {
    /// The cache of `zone`, the cached version with only its SOA serial changed (as
    /// [`crate::state::with_serial`] does): serials are hashed as zero, so every byte and saved
    /// state stays valid; the apex SOA entry takes the new RRset, so the next version made from
    /// `zone` finds it unchanged and resumes after it. An apex SOA that differs in more than its
    /// serial is left out of the cache (the next hash encodes it again), never mislabelled.
    pub fn restamped(mut self, zone: &Zone) -> HashCache {
        let stamped = zone.shared_rrset(&zone.origin, RType::SOA);
        let apex = self
            .entries
            .iter_mut()
            .find(|e| e.rtype == RType::SOA && e.owner == zone.origin);
        let serial_only = |old: &Rrset, new: &Rrset| {
            unstamped(old.clone(), RType::SOA) == unstamped(new.clone(), RType::SOA)
        };
        if let (Some(rrset), Some(entry)) = (stamped, apex) {
            if !serial_only(&entry.rrset, rrset) {
                return self;
            }
            *entry = Arc::new(CachedRrset {
                owner: entry.owner.clone(),
                rtype: RType::SOA,
                rrset: Arc::clone(rrset),
                fed: entry.fed.clone(),
            });
        }
        self
    }

    /// Whether the cached apex SOA is `zone`'s own RRset (what [`HashCache::restamped`] ensures).
    #[cfg(test)]
    pub(crate) fn follows_serial_of(&self, zone: &Zone) -> bool {
        let soa = zone.shared_rrset(&zone.origin, RType::SOA);
        self.entries
            .iter()
            .any(|e| soa.is_some_and(|soa| Arc::ptr_eq(&e.rrset, soa)))
    }
}

#[derive(Debug)]
struct CachedRrset {
    owner: Name,
    rtype: RType,
    rrset: Arc<Rrset>,
    /// What the hash read for it.
    fed: Fed,
}

/// What the content hash reads for one RRset: format 1 its records, format 2 their SHA-256
/// (kept inline: no allocation per RRset).
#[derive(Debug, Clone)]
enum Fed {
    Records(Vec<u8>),
    Digest([u8; 32]),
}

impl Fed {
    fn bytes(&self) -> &[u8] {
        match self {
            Fed::Records(bytes) => bytes,
            Fed::Digest(digest) => digest,
        }
    }
}

/// Zones with more RRsets than this are hashed without a cache: in format 1 it would hold a
/// second copy of the zone's data in memory.
pub const HASH_CACHE_MAX_RRSETS: usize = 200_000;

/// Hashed bytes between two saved hasher states in a [`HashCache`]. A state is ~110 bytes, so
/// the checkpoints cost about a tenth of the cached bytes; a resumed hash re-reads at most this
/// many bytes in front of the change.
pub const CHECKPOINT_BYTES: usize = 1024;

/// [`content_hash`], reusing the bytes of RRsets unchanged since `previous` (the cache of an
/// earlier version of this zone) and its hasher state up to the first RRset that differs;
/// returns the cache for this version (None for a zone over [`HASH_CACHE_MAX_RRSETS`]). Equal
/// to `content_hash(format, zone)` whatever `previous` holds.
pub fn content_hash_cached(
    format: HashFormat,
    zone: &Zone,
    previous: Option<&HashCache>,
) -> (ContentHash, Option<HashCache>) {
    if zone.rrset_count() > HASH_CACHE_MAX_RRSETS {
        return (content_hash(format, zone), None);
    }
    let origin = zone.origin.to_lowercase().as_wire().to_vec();
    let previous = previous.filter(|cache| {
        cache.format == format && cache.class == zone.class && cache.origin == origin
    });
    let (old_entries, old_checkpoints) = previous.map_or((&[][..], &[][..]), |cache| {
        (&cache.entries[..], &cache.checkpoints[..])
    });
    let mut old = old_entries.iter().peekable();
    let mut buffers = Buffers::default();
    let mut entries: Vec<Arc<CachedRrset>> = Vec::with_capacity(zone.rrset_count());
    // Until the first RRset that differs from `previous`, nothing is hashed: the saved states
    // cover that prefix.
    let mut hashing: Option<Resumed> = None;
    for (owner, rtype, rrset) in zone.shared_rrsets() {
        // The common case, an untouched RRset at the same place in both: no name ordering.
        let same = |e: &&Arc<CachedRrset>| {
            Arc::ptr_eq(&e.rrset, rrset) && e.rtype == rtype && e.owner.as_wire() == owner.as_wire()
        };
        let hit = match old.next_if(same) {
            Some(cached) => Some(cached),
            None => {
                if hashing.is_none() {
                    hashing = Some(Resumed::at(format, zone, old_checkpoints, &entries));
                }
                while old
                    .next_if(|e| (&e.owner, e.rtype) < (owner, rtype))
                    .is_some()
                {}
                old.next_if(|e| e.owner == *owner && e.rtype == rtype)
                    .filter(|cached| Arc::ptr_eq(&cached.rrset, rrset))
            }
        };
        let entry = match hit {
            Some(cached) => Arc::clone(cached),
            _ => {
                let fed = match format {
                    HashFormat::V1 => {
                        let mut bytes = Vec::new();
                        write_canonical_rrset(
                            (owner, rtype, rrset),
                            zone.class,
                            true,
                            &mut buffers,
                            &mut |record| bytes.extend_from_slice(record),
                        );
                        Fed::Records(bytes)
                    }
                    HashFormat::V2 => Fed::Digest(rrset_digest(
                        (owner, rtype, rrset),
                        zone.class,
                        &mut buffers,
                    )),
                };
                Arc::new(CachedRrset {
                    owner: owner.clone(),
                    rtype,
                    rrset: Arc::clone(rrset),
                    fed,
                })
            }
        };
        if let Some(hashing) = &mut hashing {
            hashing.feed(entries.len(), &entry);
        }
        entries.push(entry);
    }
    // Fewer RRsets than before (the tail removed), or none changed: resume at the end.
    let hashing = match hashing {
        Some(hashing) => hashing,
        None => Resumed::at(format, zone, old_checkpoints, &entries),
    };
    let Resumed {
        hasher,
        checkpoints,
        ..
    } = hashing;
    (
        ContentHash(hasher.finalize()),
        Some(HashCache {
            format,
            class: zone.class,
            origin,
            entries,
            checkpoints,
        }),
    )
}

/// A content hash under way, resumed from a saved state and saving new ones as it goes.
struct Resumed {
    hasher: Sha256,
    checkpoints: Vec<(usize, Sha256)>,
    /// Bytes hashed since the last saved state.
    since: usize,
}

impl Resumed {
    /// Resumes after `prefix`, RRsets equal to the first ones of the version whose saved states
    /// are `saved`: from the last state within the prefix (or the start), re-hashing the
    /// prefix's RRsets after it.
    fn at(
        format: HashFormat,
        zone: &Zone,
        saved: &[(usize, Sha256)],
        prefix: &[Arc<CachedRrset>],
    ) -> Resumed {
        let kept = saved.partition_point(|(index, _)| *index <= prefix.len());
        let (from, hasher) = match kept.checked_sub(1).and_then(|last| saved.get(last)) {
            Some((index, state)) => (*index, state.clone()),
            None => (0, hasher_for(format, zone)),
        };
        let mut resumed = Resumed {
            hasher,
            checkpoints: saved[..kept].to_vec(),
            since: 0,
        };
        for (index, entry) in prefix.iter().enumerate().skip(from) {
            resumed.feed(index, entry);
        }
        resumed
    }

    /// Hashes `entry`, the `index`th RRset, saving the state before it when due.
    fn feed(&mut self, index: usize, entry: &CachedRrset) {
        if self.since >= CHECKPOINT_BYTES {
            self.checkpoints.push((index, self.hasher.clone()));
            self.since = 0;
        }
        let bytes = entry.fed.bytes();
        self.hasher.update(bytes);
        self.since += bytes.len();
    }
}

/// A zone's SHA-256 content hash. Prints as 64 lowercase hex digits and parses back from them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    pub fn from_bytes(bytes: [u8; 32]) -> ContentHash {
        ContentHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether this is `zone`'s content hash in either format: what a stored version named by
    /// it must rebuild to, whichever format its zone uses.
    pub fn is_hash_of(&self, zone: &Zone) -> bool {
        [HashFormat::V2, HashFormat::V1]
            .into_iter()
            .any(|format| content_hash(format, zone) == *self)
    }

    /// The first [`SHORT_HASH_LEN`] hex digits, for logs and command output (like a short git id).
    pub fn short(&self) -> String {
        let mut text = self.to_string();
        text.truncate(SHORT_HASH_LEN);
        text
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

impl FromStr for ContentHash {
    type Err = BadContentHash;

    /// Parses exactly 64 hex digits (either case).
    fn from_str(text: &str) -> Result<ContentHash, BadContentHash> {
        let bad = || BadContentHash {
            text: text.chars().take(80).collect(),
        };
        if text.len() != 64 {
            return Err(bad());
        }
        let decoded = nebula_wire::text::decode_hex(text).ok_or_else(bad)?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|_| bad())?;
        Ok(ContentHash(bytes))
    }
}

/// Text that is not a content hash (64 hex digits), e.g. a version id typed by a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a zone content hash (64 hexadecimal digits): {text:?}")]
pub struct BadContentHash {
    /// The rejected text, cut to 80 characters.
    pub text: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::fixtures::{a, name, soa, zone};
    use nebula_wire::Class;
    use std::net::Ipv4Addr;

    fn base() -> Vec<(&'static str, u32, RData)> {
        vec![
            ("example.com.", 3600, soa(1)),
            ("example.com.", 3600, RData::Ns(name("ns1.example.com."))),
            ("www.example.com.", 300, a(2)),
            ("www.example.com.", 300, a(1)),
            (
                "mail.example.com.",
                300,
                RData::Mx {
                    preference: 10,
                    exchange: name("mx.example.com."),
                },
            ),
        ]
    }

    /// A zone of `count` A RRsets, `host-NNN.example.com.`, plus the apex SOA and NS.
    fn hosts(count: u8) -> Zone {
        let mut records = base();
        let owners: Vec<String> = (0..count)
            .map(|i| format!("host-{i:03}.example.com."))
            .collect();
        for (i, owner) in owners.iter().enumerate() {
            records.push((owner.as_str(), 300, a(i as u8)));
        }
        zone(&records)
    }

    #[test]
    fn resumed_hashes_equal_the_full_hash_wherever_the_change_is() {
        for format in [HashFormat::V1, HashFormat::V2] {
            resumed_hashes_equal_the_full_hash_wherever_the_change_is_in(format);
        }
    }

    fn resumed_hashes_equal_the_full_hash_wherever_the_change_is_in(format: HashFormat) {
        let mut current = hosts(200);
        let (first, mut cache) = content_hash_cached(format, &current, None);
        assert_eq!(first, content_hash(format, &current));
        let saved = cache.as_ref().unwrap().checkpoints.len();
        assert!(saved >= 5, "a ~7 KB zone keeps several states, not {saved}");
        type Step = Box<dyn Fn(&mut Zone)>;
        let ttl = |owner: &'static str, ttl: u32| -> Step {
            Box::new(move |z: &mut Zone| {
                if let Some(set) = z.rrset_mut(&name(owner), RType::A) {
                    set.ttl = ttl;
                }
            })
        };
        let steps: Vec<Step> = vec![
            ttl("host-100.example.com.", 60),
            ttl("example.com.", 7),
            ttl("host-000.example.com.", 61),
            ttl("host-199.example.com.", 62),
            // Nothing changed: the same hash from the last state.
            Box::new(|_| {}),
            // Added before, inside and after the saved states.
            Box::new(|z| {
                z.insert(name("aaa.example.com."), 300, a(1));
            }),
            Box::new(|z| {
                z.insert(name("host-150a.example.com."), 300, a(2));
            }),
            Box::new(|z| {
                z.insert(name("zzz.example.com."), 300, a(3));
            }),
            // The tail removed: the new version is a prefix of the old one.
            Box::new(|z| {
                z.replace_rrset(name("zzz.example.com."), RType::A, None);
                z.replace_rrset(name("host-199.example.com."), RType::A, None);
            }),
            // Two changes far apart.
            Box::new(|z| {
                z.replace_rrset(name("host-010.example.com."), RType::A, None);
                z.insert(name("host-180.example.com."), 300, a(9));
            }),
        ];
        for (number, step) in steps.iter().enumerate() {
            let mut next = current.clone();
            step(&mut next);
            let (hash, next_cache) = content_hash_cached(format, &next, cache.as_ref());
            assert_eq!(hash, content_hash(format, &next), "step {number}");
            // Resuming from a cache of a later version, or of an unrelated zone, is right too.
            assert_eq!(
                content_hash_cached(format, &current, next_cache.as_ref()).0,
                content_hash(format, &current),
                "step {number}, backwards"
            );
            assert_eq!(
                content_hash_cached(format, &hosts(30), next_cache.as_ref()).0,
                content_hash(format, &hosts(30))
            );
            // A new serial, as each version gets: the cache follows it, and stays right.
            let stamped = crate::state::with_serial(next, 1000 + number as u32);
            let restamped = next_cache.map(|cache| cache.restamped(&stamped));
            assert!(restamped.as_ref().unwrap().follows_serial_of(&stamped));
            assert_eq!(
                content_hash_cached(format, &stamped, restamped.as_ref()).0,
                content_hash(format, &stamped)
            );
            current = stamped;
            cache = restamped;
        }
        // An SOA changed in more than its serial is not taken for the cached one.
        let mut other = current.clone();
        let origin = other.origin.clone();
        if let Some(set) = other.rrset_mut(&origin, RType::SOA) {
            for rdata in &mut set.rdatas {
                if let RData::Soa(soa) = rdata {
                    soa.refresh += 1;
                }
            }
        }
        let kept = cache.clone().map(|cache| cache.restamped(&other));
        assert!(!kept.as_ref().unwrap().follows_serial_of(&other));
        assert_eq!(
            content_hash_cached(format, &other, kept.as_ref()).0,
            content_hash(format, &other)
        );
        let mut elsewhere = Zone::new(name("example.net."), Class::IN);
        for (owner, rtype, rrset) in current.shared_rrsets() {
            let owner = Name::from_text(
                &owner.to_string().replace("example.com.", "example.net."),
                None,
            )
            .unwrap();
            elsewhere.replace_rrset(owner, rtype, Some(Rrset::clone(rrset)));
        }
        assert_eq!(
            content_hash_cached(format, &elsewhere, cache.as_ref()).0,
            content_hash(format, &elsewhere),
            "another origin's states are not reused"
        );
    }

    #[test]
    fn cached_hash_equals_the_full_hash_across_changes() {
        for format in [HashFormat::V1, HashFormat::V2] {
            cached_hash_equals_the_full_hash_across_changes_in(format);
        }
    }

    fn cached_hash_equals_the_full_hash_across_changes_in(format: HashFormat) {
        let mut current = zone(&base());
        let (first, mut cache) = content_hash_cached(format, &current, None);
        assert_eq!(first, content_hash(format, &current));
        let www = name("www.example.com.");
        type Step = Box<dyn Fn(&mut Zone)>;
        let steps: Vec<Step> = vec![
            // Changed in place (copy on write): a new allocation, re-encoded.
            Box::new(|z| {
                if let Some(set) = z.rrset_mut(&name("www.example.com."), RType::A) {
                    set.ttl = 60;
                }
            }),
            // Added, between existing owners.
            Box::new(|z| {
                z.insert(name("ftp.example.com."), 300, a(9));
            }),
            // Removed.
            Box::new(|z| {
                z.replace_rrset(name("mail.example.com."), RType::MX, None);
            }),
            // Only the serial: the hash ignores it.
            Box::new(|z| {
                if let Some(set) = z.rrset_mut(&name("example.com."), RType::SOA) {
                    set.rdatas = vec![soa(7)];
                }
            }),
            // The same RRset moved to another owner: a key the cache must not confuse.
            Box::new(move |z| {
                let moved = z.rrset(&www, RType::A).cloned();
                z.replace_rrset(name("web.example.com."), RType::A, moved);
                z.replace_rrset(www.clone(), RType::A, None);
            }),
        ];
        for step in steps {
            let mut next = current.clone();
            step(&mut next);
            let (hash, next_cache) = content_hash_cached(format, &next, cache.as_ref());
            assert_eq!(hash, content_hash(format, &next));
            // A stale cache of another zone gives the right answer too.
            assert_eq!(
                content_hash_cached(format, &current, next_cache.as_ref()).0,
                content_hash(format, &current)
            );
            current = next;
            cache = next_cache;
        }
        let mut other_class = zone(&base());
        other_class.class = Class::CH;
        assert_eq!(
            content_hash_cached(format, &other_class, cache.as_ref()).0,
            content_hash(format, &other_class)
        );
    }

    #[test]
    fn orders_owners_then_types_then_rdata() {
        let zone = zone(&base());
        let order: Vec<String> = canonical_records(&zone)
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.rtype(), r.rdata))
            .collect();
        let soa_text = soa(1).to_string();
        assert_eq!(
            order,
            [
                "example.com. NS ns1.example.com.".to_owned(),
                format!("example.com. SOA {soa_text}"),
                "mail.example.com. MX 10 mx.example.com.".to_owned(),
                "www.example.com. A 192.0.2.1".to_owned(),
                "www.example.com. A 192.0.2.2".to_owned(),
            ]
        );
    }

    #[test]
    fn canonical_rdata_order_is_octet_order_not_numeric_text() {
        // 10.0.0.9 < 9.0.0.10 as text is false, as octets true: the sort must use octets.
        let mut set = Rrset {
            ttl: 60,
            rdatas: vec![RData::A(Ipv4Addr::new(10, 0, 0, 9))],
        };
        set.rdatas.push(RData::A(Ipv4Addr::new(9, 0, 0, 10)));
        let sorted: Vec<String> = sorted_rdatas(&set)
            .iter()
            .map(|d| d.rdata.to_string())
            .collect();
        assert_eq!(sorted, ["9.0.0.10", "10.0.0.9"]);
        // A shorter RDATA that is a prefix sorts first (RFC 4034 §6.3).
        let txt = |text: &str| {
            let tokens = nebula_wire::text::tokenize(text).unwrap();
            RData::from_tokens(RType::TXT, &tokens, None).unwrap()
        };
        let set = Rrset {
            ttl: 60,
            rdatas: vec![txt("\"ab\""), txt("\"a\""), txt("\"a\" \"\"")],
        };
        let sorted: Vec<String> = sorted_rdatas(&set)
            .iter()
            .map(|d| d.rdata.to_string())
            .collect();
        assert_eq!(sorted, ["\"a\"", "\"a\" \"\"", "\"ab\""]);
    }

    #[test]
    fn records_are_written_with_encode_canonical() {
        let zone = zone(&base());
        let mut expected = Vec::new();
        for record in canonical_records(&zone) {
            expected = record.encode_canonical(expected);
        }
        assert_eq!(canonical_wire(&zone), expected);
    }

    #[test]
    fn hash_ignores_insertion_order_case_duplicates_and_serial() {
        for format in [HashFormat::V1, HashFormat::V2] {
            hash_ignores_insertion_order_case_duplicates_and_serial_in(format);
        }
    }

    fn hash_ignores_insertion_order_case_duplicates_and_serial_in(format: HashFormat) {
        let reference = content_hash(format, &zone(&base()));
        let mut reversed = base();
        reversed.reverse();
        assert_eq!(
            content_hash(format, &zone(&reversed)),
            reference,
            "insertion order"
        );

        let mut shouting = base();
        shouting[2].0 = "WWW.Example.COM.";
        shouting[1].2 = RData::Ns(name("NS1.EXAMPLE.com."));
        assert_eq!(
            content_hash(format, &zone(&shouting)),
            reference,
            "case of names"
        );

        let mut doubled = base();
        doubled.extend(base());
        assert_eq!(
            content_hash(format, &zone(&doubled)),
            reference,
            "duplicates"
        );
        // An RRset built by hand may hold duplicates the zone's insert would have refused.
        let mut by_hand = zone(&base());
        let www = name("www.example.com.");
        let rdatas = vec![a(1), a(2), a(1), a(2)];
        by_hand.replace_rrset(www, RType::A, Some(Rrset { ttl: 300, rdatas }));
        assert_eq!(
            content_hash(format, &by_hand),
            reference,
            "duplicates inside an RRset"
        );

        let mut restamped = base();
        restamped[0].2 = soa(2_024_010_199);
        assert_eq!(
            content_hash(format, &zone(&restamped)),
            reference,
            "SOA serial"
        );
        assert_ne!(
            canonical_wire(&zone(&restamped)),
            canonical_wire(&zone(&base()))
        );
        assert!(!same_content(&zone(&restamped), &zone(&base())));
    }

    #[test]
    fn hash_covers_data_ttl_class_origin_and_other_soa_fields() {
        for format in [HashFormat::V1, HashFormat::V2] {
            hash_covers_data_ttl_class_origin_and_other_soa_fields_in(format);
        }
    }

    fn hash_covers_data_ttl_class_origin_and_other_soa_fields_in(format: HashFormat) {
        let reference = content_hash(format, &zone(&base()));
        let mut changes: Vec<(&str, Zone)> = Vec::new();

        let mut data = base();
        data[2].2 = a(3);
        changes.push(("rdata", zone(&data)));

        let mut ttl = base();
        ttl[2].1 = 301;
        ttl[3].1 = 301;
        changes.push(("ttl", zone(&ttl)));

        let mut extra = base();
        extra.push(("ftp.example.com.", 300, a(9)));
        changes.push(("extra record", zone(&extra)));

        let mut refresh = base();
        if let RData::Soa(soa) = &mut refresh[0].2 {
            soa.refresh += 1;
        }
        changes.push(("SOA refresh", zone(&refresh)));

        let mut chaos = zone(&base());
        chaos.class = Class(3);
        changes.push(("class", chaos));

        let mut moved = zone(&base());
        moved.origin = name("example.net.");
        changes.push(("origin", moved));

        for (what, changed) in changes {
            assert_ne!(content_hash(format, &changed), reference, "{what}");
        }
    }

    #[test]
    fn empty_zone_hash_is_pinned() {
        // Pins the byte layout: changing it changes every stored version id, so it must be a
        // deliberate act (a new HashFormat and tag). The literals are coreutils' answers, so
        // they also pin the SHA-256 implementation:
        // printf 'nebuladns-zone-content-v1\0\x07example\x03com\x00\x00\x01' | sha256sum
        let empty = Zone::new(name("EXAMPLE.com."), Class::IN);
        assert_eq!(
            content_hash(HashFormat::V1, &empty).to_string(),
            "aa3f74ad75d6faece973fffa1082c02600319cf09d7fa3c6a7acbe572fea1e6d"
        );
        // printf 'nebuladns-zone-content-v2\0\x07example\x03com\x00\x00\x01' | sha256sum
        assert_eq!(
            content_hash(HashFormat::V2, &empty).to_string(),
            "a580df1a5bb4209c59c31602832e967c702f868f20cbd165879c3b65254134e5"
        );
    }

    #[test]
    fn format_2_hashes_each_rrset_then_the_digests() {
        // Computed outside the code (Python's hashlib): the RR is www.example.com. A IN 300
        // 192.0.2.1 in canonical form, d = sha256(RR), and the zone hash is
        // sha256("nebuladns-zone-content-v2\0" | \x07example\x03com\x00 | \x00\x01 | d).
        let one = zone(&[("www.example.com.", 300, a(1))]);
        assert_eq!(
            content_hash(HashFormat::V2, &one).to_string(),
            "9419de70489d1c0c6f309e64f64c4cf9cb5361e466227a210b09ae9386af140b"
        );
        let v1 = content_hash(HashFormat::V1, &one);
        assert_ne!(v1, content_hash(HashFormat::V2, &one));
        // A stored version is checked against its id in whichever format its zone uses.
        assert!(v1.is_hash_of(&one));
        assert!(content_hash(HashFormat::V2, &one).is_hash_of(&one));
        assert!(!v1.is_hash_of(&zone(&[("www.example.com.", 300, a(2))])));
        // A cache built in one format is never resumed in the other.
        let (_, cache) = content_hash_cached(HashFormat::V1, &one, None);
        assert_eq!(
            content_hash_cached(HashFormat::V2, &one, cache.as_ref()).0,
            content_hash(HashFormat::V2, &one)
        );
    }

    #[test]
    fn hash_formats_read_and_write_as_numbers() {
        assert_eq!(serde_json::to_string(&HashFormat::V2).unwrap(), "2");
        assert_eq!(
            serde_json::from_str::<HashFormat>("1").unwrap(),
            HashFormat::V1
        );
        let unknown = serde_json::from_str::<HashFormat>("3").unwrap_err();
        assert!(
            unknown.to_string().contains("format 3 is unknown"),
            "{unknown}"
        );
    }

    #[test]
    fn hash_text_round_trips() {
        let hash = content_hash(HashFormat::CURRENT, &zone(&base()));
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(text.parse::<ContentHash>().unwrap(), hash);
        assert_eq!(text.to_uppercase().parse::<ContentHash>().unwrap(), hash);
        assert_eq!(hash.short(), text[..SHORT_HASH_LEN]);
        for bad in [
            "",
            "abc",
            &text[..63],
            &format!("{text}0"),
            &format!("g{}", &text[1..]),
        ] {
            assert!(bad.parse::<ContentHash>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn normalize_makes_equal_content_equal_zones() {
        let mut reversed = base();
        reversed.reverse();
        assert_ne!(
            zone(&reversed),
            zone(&base()),
            "insertion order is visible to =="
        );
        assert_eq!(normalize(&zone(&reversed)), normalize(&zone(&base())));
        assert!(same_content(&zone(&reversed), &zone(&base())));
    }
}

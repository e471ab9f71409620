//! Compiled lookup snapshots: the immutable, query-ready form of a zone, and the [`Catalog`] of
//! all served zones that the data plane swaps atomically.
//!
//! A [`ZoneSnapshot`] indexes every node of a zone (owners and their empty non-terminal
//! ancestors, RFC 4592 §2.2.2) by lower-cased wire name in a hash map, so a lookup is a walk of
//! at most one hash probe per qname label, top-down from the apex, which decides the answer kind
//! of RFC 1034 §4.3.2: delegation, DNAME (RFC 6672), exact match, CNAME, wildcard (RFC 4592) or
//! name error. Lookups take the lower-cased qname from the caller's stack buffer and never
//! allocate; snapshots are never mutated after [`ZoneSnapshot::compile`].

use std::sync::Arc;

use nebula_wire::name::{label_offsets, MAX_NAME_LEN};
use nebula_wire::{Name, RData, RType};
use rustc_hash::FxHashMap;

use crate::diff::{diff, ZoneDiff};
use crate::zone::{Rrset, Zone};

/// One RRset of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRrset {
    pub rtype: RType,
    pub ttl: u32,
    pub rdatas: Rdatas,
}

/// An RRset's RDATA, shared with the zone version the snapshot was compiled from: compiling
/// copies none, and replacing a snapshot frees only what the new version changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdatas(Arc<Rrset>);

impl std::ops::Deref for Rdatas {
    type Target = [RData];

    fn deref(&self) -> &[RData] {
        &self.0.rdatas
    }
}

/// Everything at one owner name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The owner as written in the zone (case preserved, for referrals and glue).
    pub owner: Name,
    /// RRsets sorted by type; empty for an empty non-terminal.
    pub rrsets: Box<[SnapshotRrset]>,
    /// NS below the apex: a zone cut (RFC 1034 §4.2.1).
    pub is_delegation: bool,
}

impl Node {
    /// The node at `owner` holding `rrsets` (in any order).
    fn new(owner: Name, mut rrsets: Vec<SnapshotRrset>, is_apex: bool) -> Node {
        rrsets.sort_by_key(|s| s.rtype);
        let is_delegation = !is_apex && rrsets.iter().any(|s| s.rtype == RType::NS);
        Node {
            owner,
            rrsets: rrsets.into_boxed_slice(),
            is_delegation,
        }
    }

    pub fn rrset(&self, rtype: RType) -> Option<&SnapshotRrset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    pub fn is_empty_non_terminal(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// The serial and the negative-answer TTL (RFC 2308 §5) of the zone's apex SOA; zeros without one.
fn soa_numbers(zone: &Zone) -> (u32, u32) {
    match zone.rrset(&zone.origin, RType::SOA) {
        Some(set) => match set.rdatas.first() {
            Some(RData::Soa(soa)) => (soa.serial, soa.minimum.min(set.ttl)),
            _ => (0, 0),
        },
        None => (0, 0),
    }
}

/// The outcome of looking a name up in one zone (RFC 1034 §4.3.2 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'z> {
    /// The node exists (maybe by wildcard synthesis) and has the asked type.
    Answer {
        node: &'z Node,
        rrset: &'z SnapshotRrset,
        wildcard: bool,
    },
    /// The node has a CNAME and the query is for another type: restart at the target.
    Cname {
        node: &'z Node,
        rrset: &'z SnapshotRrset,
        wildcard: bool,
    },
    /// `ANY` at an existing node: the engine picks what to send (RFC 8482).
    Any { node: &'z Node, wildcard: bool },
    /// The node exists but has no RRset of the type (RFC 2308 §2.2 NODATA).
    NoData { node: &'z Node, wildcard: bool },
    /// The name is at or below a zone cut: refer to the child's servers.
    Referral {
        cut: &'z Node,
        ns: &'z SnapshotRrset,
    },
    /// The name is below a DNAME owner: substitute and synthesise a CNAME (RFC 6672 §3.2).
    Dname {
        node: &'z Node,
        rrset: &'z SnapshotRrset,
    },
    /// No such name and no wildcard covers it (RFC 2308 §2.1).
    NxDomain,
}

/// The query-ready form of one zone.
#[derive(Debug)]
pub struct ZoneSnapshot {
    origin: Name,
    origin_key: Box<[u8]>,
    /// Keys and nodes are shared with the snapshot this one was updated from
    /// ([`ZoneSnapshot::compile_next`]): the next version copies references, not nodes.
    nodes: FxHashMap<Arc<[u8]>, Arc<Node>>,
    serial: u32,
    /// The TTL of negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    negative_ttl: u32,
    /// The zone version compiled, when the caller shared it: the next version's compile starts
    /// from its differences to this one.
    source: Option<Arc<Zone>>,
}

impl ZoneSnapshot {
    /// Compiles a zone. The zone should have passed validation; without an apex SOA the snapshot
    /// still compiles (serial 0) so a caller can decide what to do with it.
    pub fn compile(zone: &Zone) -> ZoneSnapshot {
        let origin_key: Box<[u8]> = zone.origin.to_lowercase().as_wire().into();
        let mut grouped: FxHashMap<Arc<[u8]>, (Name, Vec<SnapshotRrset>)> = FxHashMap::default();
        for (owner, rtype, rrset) in zone.shared_rrsets() {
            let key: Arc<[u8]> = owner.to_lowercase().as_wire().into();
            let entry = grouped
                .entry(key)
                .or_insert_with(|| (owner.clone(), Vec::new()));
            entry.1.push(SnapshotRrset {
                rtype,
                ttl: rrset.ttl,
                rdatas: Rdatas(Arc::clone(rrset)),
            });
        }
        // Empty non-terminals: every ancestor between an owner and the apex exists as a node.
        let owners: Vec<Name> = grouped.values().map(|(name, _)| name.clone()).collect();
        for owner in owners {
            let mut current = owner.parent();
            while let Some(name) = current {
                if !name.is_subdomain_of(&zone.origin) {
                    break;
                }
                let key: Arc<[u8]> = name.to_lowercase().as_wire().into();
                if grouped.contains_key(&key) {
                    break;
                }
                current = name.parent();
                grouped.insert(key, (name, Vec::new()));
            }
        }
        let mut nodes = FxHashMap::with_capacity_and_hasher(grouped.len(), Default::default());
        for (key, (owner, rrsets)) in grouped {
            let is_apex = *key == *origin_key;
            nodes.insert(key, Arc::new(Node::new(owner, rrsets, is_apex)));
        }
        let (serial, negative_ttl) = soa_numbers(zone);
        ZoneSnapshot {
            origin: zone.origin.clone(),
            origin_key,
            nodes,
            serial,
            negative_ttl,
            source: None,
        }
    }

    /// Compiles a shared zone version, starting from `previous` (a snapshot of an earlier
    /// version of the same zone made by this function) when there is one: only the nodes whose
    /// RRsets differ between the two versions are rebuilt, and the others are shared. The result
    /// equals [`ZoneSnapshot::compile`]'s except in the letter case of owner names. An empty
    /// non-terminal's follows whichever descendant named it. A node whose RRsets are unchanged
    /// keeps its spelling even if a change re-spelled its owner: like the content hash and the
    /// diff, the snapshot does not count letter case alone as a change (RFC 4343: names compare
    /// without it).
    pub fn compile_next(zone: &Arc<Zone>, previous: Option<&ZoneSnapshot>) -> ZoneSnapshot {
        let base = previous.and_then(|p| {
            let source = p.source.as_ref()?;
            (source.origin == zone.origin && source.class == zone.class).then_some((p, source))
        });
        let mut snapshot = match base {
            Some((previous, source)) => {
                let changed = diff(source, zone);
                // Rebuilding most nodes one by one costs more than grouping them all at once.
                if changed.changes.len() > (previous.nodes.len() / 4).max(16) {
                    ZoneSnapshot::compile(zone)
                } else {
                    previous.updated(zone, &changed)
                }
            }
            None => ZoneSnapshot::compile(zone),
        };
        snapshot.source = Some(Arc::clone(zone));
        snapshot
    }

    /// This snapshot with the nodes at the owners `changed` names rebuilt from `zone`.
    fn updated(&self, zone: &Zone, changed: &ZoneDiff) -> ZoneSnapshot {
        let mut nodes = self.nodes.clone();
        let mut owners: Vec<&Name> = changed.changes.iter().map(|c| c.owner()).collect();
        owners.dedup();
        for owner in owners {
            let key: Arc<[u8]> = owner.to_lowercase().as_wire().into();
            // The owner as the zone spells it now (the first RRset's, as `compile` takes).
            let mut spelled = owner;
            let mut rrsets: Vec<SnapshotRrset> = Vec::new();
            for (name, rtype, rrset) in zone.shared_rrsets_at(owner) {
                if rrsets.is_empty() {
                    spelled = name;
                }
                rrsets.push(SnapshotRrset {
                    rtype,
                    ttl: rrset.ttl,
                    rdatas: Rdatas(Arc::clone(rrset)),
                });
            }
            if !rrsets.is_empty() || zone.has_descendants(owner) {
                let spelled = spelled.clone();
                let is_apex = *key == *self.origin_key;
                nodes.insert(key, Arc::new(Node::new(spelled, rrsets, is_apex)));
                let mut current = owner.parent();
                while let Some(name) = current {
                    let key: Arc<[u8]> = name.to_lowercase().as_wire().into();
                    if !name.is_subdomain_of(&zone.origin) || nodes.contains_key(&key) {
                        break;
                    }
                    current = name.parent();
                    nodes.insert(key, Arc::new(Node::new(name, Vec::new(), false)));
                }
            } else {
                nodes.remove(&key);
                // Empty non-terminals above it that nothing is below any more go too.
                let mut current = owner.parent();
                while let Some(name) = current {
                    let key = name.to_lowercase();
                    match nodes.get(key.as_wire()) {
                        Some(node) if node.rrsets.is_empty() && !zone.has_descendants(&name) => {
                            nodes.remove(key.as_wire());
                        }
                        _ => break,
                    }
                    current = name.parent();
                }
            }
        }
        let (serial, negative_ttl) = soa_numbers(zone);
        ZoneSnapshot {
            origin: zone.origin.clone(),
            origin_key: self.origin_key.clone(),
            nodes,
            serial,
            negative_ttl,
            source: None,
        }
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The zone's name, lower-cased, in wire form (the catalog key).
    pub fn origin_key(&self) -> &[u8] {
        &self.origin_key
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    pub fn negative_ttl(&self) -> u32 {
        self.negative_ttl
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node at a lower-cased wire name, occluded or not (glue lookups use this directly).
    /// Every node, in no particular order (a zone transfer streams them; RFC 5936 §2.2 asks
    /// only that the SOA come first and last).
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().map(|node| &**node)
    }

    pub fn node(&self, lower_wire: &[u8]) -> Option<&Node> {
        self.nodes.get(lower_wire).map(|node| &**node)
    }

    pub fn apex(&self) -> Option<&Node> {
        self.node(&self.origin_key)
    }

    /// Looks up a lower-cased wire qname that lies in this zone (the catalog guarantees it).
    pub fn lookup(&self, qname: &[u8], qtype: RType) -> Lookup<'_> {
        let mut offsets = [0u8; 128];
        let labels = label_offsets(qname, &mut offsets);
        let apex_pos = qname.len().saturating_sub(self.origin_key.len());
        // Label starts from the apex down to the qname itself: apex_pos, then each label left of it.
        let below = offsets[..labels]
            .iter()
            .rev()
            .map(|&o| usize::from(o))
            .filter(|&o| o < apex_pos);
        let mut encloser = match self.node(&qname[apex_pos..]) {
            Some(apex) => apex,
            None => return Lookup::NxDomain,
        };
        if apex_pos == 0 {
            return classify(encloser, qtype, false);
        }
        for pos in below {
            // A DNAME at an ancestor redirects everything below it (RFC 6672 §2.3).
            if let Some(dname) = encloser.rrset(RType::DNAME) {
                return Lookup::Dname {
                    node: encloser,
                    rrset: dname,
                };
            }
            let Some(node) = self.node(&qname[pos..]) else {
                return self.wildcard(encloser, qname, qtype);
            };
            if node.is_delegation && !(pos == 0 && qtype == RType::DS) {
                if let Some(ns) = node.rrset(RType::NS) {
                    return Lookup::Referral { cut: node, ns };
                }
            }
            if pos == 0 {
                return classify(node, qtype, false);
            }
            encloser = node;
        }
        Lookup::NxDomain
    }

    /// RFC 4592 §3.3.1: the closest encloser exists, the next name does not; look for `*.<encloser>`.
    fn wildcard(&self, encloser: &Node, qname: &[u8], qtype: RType) -> Lookup<'_> {
        let encloser_key_len = encloser.owner.wire_len();
        let suffix = &qname[qname.len() - encloser_key_len..];
        let mut key = [0u8; MAX_NAME_LEN + 2];
        key[0] = 1;
        key[1] = b'*';
        let total = 2 + suffix.len();
        if total > MAX_NAME_LEN {
            return Lookup::NxDomain;
        }
        key[2..total].copy_from_slice(suffix);
        match self.node(&key[..total]) {
            Some(source) => classify(source, qtype, true),
            None => Lookup::NxDomain,
        }
    }
}

/// What an existing node answers for `qtype`.
fn classify(node: &Node, qtype: RType, wildcard: bool) -> Lookup<'_> {
    if qtype == RType::ANY {
        return Lookup::Any { node, wildcard };
    }
    if let Some(rrset) = node.rrset(qtype) {
        return Lookup::Answer {
            node,
            rrset,
            wildcard,
        };
    }
    if let Some(cname) = node.rrset(RType::CNAME) {
        return Lookup::Cname {
            node,
            rrset: cname,
            wildcard,
        };
    }
    Lookup::NoData { node, wildcard }
}

/// All served zones, keyed by lower-cased origin. Immutable: a change builds a new catalog that
/// shares the unchanged zones and is swapped in whole.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    zones: FxHashMap<Box<[u8]>, Arc<ZoneSnapshot>>,
}

impl Catalog {
    pub fn new(zones: impl IntoIterator<Item = Arc<ZoneSnapshot>>) -> Catalog {
        let zones = zones
            .into_iter()
            .map(|z| (Box::<[u8]>::from(z.origin_key()), z))
            .collect();
        Catalog { zones }
    }

    /// A copy with `zone` added or replaced.
    pub fn with_zone(&self, zone: Arc<ZoneSnapshot>) -> Catalog {
        let mut zones = self.zones.clone();
        zones.insert(zone.origin_key().into(), zone);
        Catalog { zones }
    }

    /// A copy without the zone whose lower-cased origin is `origin_key`.
    pub fn without_zone(&self, origin_key: &[u8]) -> Catalog {
        let mut zones = self.zones.clone();
        zones.remove(origin_key);
        Catalog { zones }
    }

    /// The most specific zone containing a lower-cased wire qname (longest suffix match).
    pub fn find(&self, qname: &[u8]) -> Option<&ZoneSnapshot> {
        let mut pos = 0usize;
        while pos < qname.len() {
            if let Some(zone) = self.zones.get(&qname[pos..]) {
                return Some(zone);
            }
            let len = usize::from(qname[pos]);
            if len == 0 {
                break;
            }
            pos += len + 1;
        }
        None
    }

    pub fn get(&self, origin_key: &[u8]) -> Option<&Arc<ZoneSnapshot>> {
        self.zones.get(origin_key)
    }

    pub fn zones(&self) -> impl Iterator<Item = &Arc<ZoneSnapshot>> {
        self.zones.values()
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nebula_wire::text::tokenize;
    use nebula_wire::Class;

    /// Builds a zone from `owner type rdata` lines (owners relative to example.).
    fn zone(lines: &[&str]) -> Zone {
        let origin: Name = "example.".parse().unwrap();
        let mut zone = Zone::new(origin.clone(), Class::IN);
        for line in lines {
            let (owner, rest) = line.split_once(' ').unwrap();
            let (rtype, rdata) = rest.split_once(' ').unwrap();
            let owner = if owner == "@" {
                origin.clone()
            } else {
                Name::from_text(owner, Some(&origin)).unwrap()
            };
            let rtype = RType::from_text(rtype).unwrap();
            let rdata =
                RData::from_tokens(rtype, &tokenize(rdata).unwrap(), Some(&origin)).unwrap();
            zone.insert(owner, 3600, rdata);
        }
        zone
    }

    fn key(name: &str) -> Vec<u8> {
        name.parse::<Name>()
            .unwrap()
            .to_lowercase()
            .as_wire()
            .to_vec()
    }

    fn kind(l: Lookup<'_>) -> String {
        match l {
            Lookup::Answer {
                node,
                rrset,
                wildcard,
            } => format!("answer {} {} wc={wildcard}", node.owner, rrset.rtype),
            Lookup::Cname { node, wildcard, .. } => format!("cname {} wc={wildcard}", node.owner),
            Lookup::Any { node, .. } => format!("any {}", node.owner),
            Lookup::NoData { node, wildcard } => format!("nodata {} wc={wildcard}", node.owner),
            Lookup::Referral { cut, .. } => format!("referral {}", cut.owner),
            Lookup::Dname { node, .. } => format!("dname {}", node.owner),
            Lookup::NxDomain => "nxdomain".to_owned(),
        }
    }

    #[test]
    fn rfc1034_lookup_decisions() {
        let z = ZoneSnapshot::compile(&zone(&[
            "@ SOA ns.example. admin.example. 1 2 3 4 300",
            "@ NS ns.example.",
            "ns A 192.0.2.1",
            "www A 192.0.2.2",
            "alias CNAME www",
            "sub NS ns.sub",
            "ns.sub A 192.0.2.3",
            "sub DS 1 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
            "*.wild TXT \"w\"",
            "a.b.ent A 192.0.2.4",
            "dn DNAME example.net.",
        ]));
        let check = |name: &str, qtype: RType, want: &str| {
            assert_eq!(kind(z.lookup(&key(name), qtype)), want, "{name} {qtype}");
        };
        check("www.example.", RType::A, "answer www.example. A wc=false");
        check("WWW.Example.", RType::A, "answer www.example. A wc=false");
        check("www.example.", RType::AAAA, "nodata www.example. wc=false");
        check("alias.example.", RType::A, "cname alias.example. wc=false");
        check(
            "alias.example.",
            RType::CNAME,
            "answer alias.example. CNAME wc=false",
        );
        check("nope.example.", RType::A, "nxdomain");
        check("sub.example.", RType::A, "referral sub.example.");
        check("deep.ns.sub.example.", RType::A, "referral sub.example.");
        check("sub.example.", RType::DS, "answer sub.example. DS wc=false");
        check(
            "x.wild.example.",
            RType::TXT,
            "answer *.wild.example. TXT wc=true",
        );
        check(
            "x.y.wild.example.",
            RType::A,
            "nodata *.wild.example. wc=true",
        );
        check("ent.example.", RType::A, "nodata ent.example. wc=false");
        check("b.ent.example.", RType::A, "nodata b.ent.example. wc=false");
        check("x.dn.example.", RType::A, "dname dn.example.");
        check(
            "dn.example.",
            RType::DNAME,
            "answer dn.example. DNAME wc=false",
        );
        check("example.", RType::NS, "answer example. NS wc=false");
        check("example.", RType::ANY, "any example.");
        assert_eq!(z.serial(), 1);
        assert_eq!(z.negative_ttl(), 300);
    }

    #[test]
    fn wildcard_does_not_cover_existing_or_ent_names() {
        // RFC 4592 §2.2.2: an empty non-terminal blocks the wildcard.
        let z = ZoneSnapshot::compile(&zone(&[
            "@ SOA ns. admin. 1 2 3 4 5",
            "* A 192.0.2.9",
            "a.b A 192.0.2.1",
        ]));
        assert_eq!(
            kind(z.lookup(&key("b.example."), RType::A)),
            "nodata b.example. wc=false"
        );
        assert_eq!(kind(z.lookup(&key("c.b.example."), RType::A)), "nxdomain");
        assert_eq!(
            kind(z.lookup(&key("zz.example."), RType::A)),
            "answer *.example. A wc=true"
        );
    }

    #[test]
    fn catalog_picks_most_specific_zone() {
        let parent = Arc::new(ZoneSnapshot::compile(&zone(&[
            "@ SOA ns. admin. 1 2 3 4 5",
        ])));
        let mut child_zone = Zone::new("sub.example.".parse().unwrap(), Class::IN);
        child_zone.insert(
            "sub.example.".parse().unwrap(),
            60,
            RData::Ns("ns.sub.example.".parse().unwrap()),
        );
        let child = Arc::new(ZoneSnapshot::compile(&child_zone));
        let catalog = Catalog::new([parent, child]);
        assert_eq!(
            catalog
                .find(&key("a.sub.example."))
                .unwrap()
                .origin()
                .to_string(),
            "sub.example."
        );
        assert_eq!(
            catalog
                .find(&key("a.example."))
                .unwrap()
                .origin()
                .to_string(),
            "example."
        );
        assert!(catalog.find(&key("example.org.")).is_none());
        assert_eq!(catalog.without_zone(&key("sub.example.")).len(), 1);
    }

    /// A comparable picture of a snapshot: every node by key with its owner (lower-cased: see
    /// `compile_next` on letter case), RRsets and zone cut flag.
    type Picture = (Vec<(Vec<u8>, String, Vec<SnapshotRrset>, bool)>, u32, u32);

    fn picture(z: &ZoneSnapshot) -> Picture {
        let mut nodes: Vec<_> = z
            .nodes
            .iter()
            .map(|(key, node)| {
                (
                    key.to_vec(),
                    node.owner.to_lowercase().to_string(),
                    node.rrsets.to_vec(),
                    node.is_delegation,
                )
            })
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(&b.0));
        (nodes, z.serial, z.negative_ttl)
    }

    /// One step of a random edit: set (or with no data, delete) the RRset of a type at a name.
    fn arb_step() -> impl proptest::strategy::Strategy<Value = (usize, usize, Option<u8>)> {
        (
            0usize..OWNERS.len(),
            0usize..3,
            proptest::option::of(0u8..4),
        )
    }

    /// Names in a small tree, so that edits make and unmake empty non-terminals, zone cuts and
    /// glue, in both letter cases.
    const OWNERS: [&str; 9] = [
        "@", "a", "b.a", "c.b.a", "C.B.a", "x", "y.x", "z.y.x", "*.x",
    ];

    proptest::proptest! {
        #[test]
        fn compile_next_equals_a_full_compile(
            steps in proptest::collection::vec(proptest::collection::vec(arb_step(), 1..4), 1..40)
        ) {
            let origin: Name = "example.".parse().unwrap();
            let mut current = Arc::new(zone(&["@ SOA ns hostmaster 1 7200 3600 1209600 300"]));
            let mut snapshot = ZoneSnapshot::compile_next(&current, None);
            for (serial, edits) in steps.into_iter().enumerate() {
                let mut next = Zone::clone(&current);
                for (owner, kind, data) in edits {
                    let owner = match OWNERS[owner] {
                        "@" => origin.clone(),
                        relative => Name::from_text(relative, Some(&origin)).unwrap(),
                    };
                    let (rtype, text) = [
                        (RType::A, "192.0.2."),
                        (RType::NS, "ns"),
                        (RType::TXT, "t"),
                    ][kind];
                    let rrset = data.map(|d| {
                        let data = format!("{text}{d}");
                        let tokens = tokenize(&data).unwrap();
                        Rrset {
                            ttl: 60 + u32::from(d),
                            rdatas: vec![RData::from_tokens(rtype, &tokens, Some(&origin)).unwrap()],
                        }
                    });
                    next.replace_rrset(owner, rtype, rrset);
                }
                let soa = zone(&[&format!("@ SOA ns hostmaster {} 7200 3600 1209600 300", serial + 2)]);
                next.replace_rrset(origin.clone(), RType::SOA, soa.rrset(&origin, RType::SOA).cloned());
                let next = Arc::new(next);
                let updated = ZoneSnapshot::compile_next(&next, Some(&snapshot));
                proptest::prop_assert_eq!(picture(&updated), picture(&ZoneSnapshot::compile(&next)));
                proptest::prop_assert!(updated.source.as_ref().is_some_and(|s| Arc::ptr_eq(s, &next)));
                snapshot = updated;
                current = next;
            }
        }
    }

    #[test]
    fn compile_next_shares_unchanged_nodes() {
        let first = Arc::new(zone(&[
            "@ SOA ns hostmaster 1 7200 3600 1209600 300",
            "a A 192.0.2.1",
            "b A 192.0.2.2",
        ]));
        let before = ZoneSnapshot::compile_next(&first, None);
        let mut second = Zone::clone(&first);
        second.replace_rrset("b.example.".parse().unwrap(), RType::A, None);
        let after = ZoneSnapshot::compile_next(&Arc::new(second), Some(&before));
        let a = key("a.example.");
        assert!(Arc::ptr_eq(&before.nodes[&a[..]], &after.nodes[&a[..]]));
        assert!(after.node(&key("b.example.")).is_none());
    }
}

//! The zone model every format maps to: an origin, a class and RRsets keyed by owner and type,
//! kept in canonical order (RFC 4034 §6.1 owner order, then type number).
//!
//! A [`Zone`] holds data as given; [`crate::validate`] decides whether it is servable.
//! RRsets are shared (`Arc`) between a zone and its copies: a change clones the map of
//! references, not the records, and rewrites only the RRsets it touches (copy on write).
//! Records of one RRset share one TTL (RFC 2181 §5.2): adding a record with a different TTL
//! to an existing RRset is reported by the parsers, and the RRset keeps the first TTL.

use std::collections::{btree_map, BTreeMap};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

use nebula_wire::{Class, Name, RData, RType, Record};

/// The records sharing owner, class and type (RFC 2181 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrset {
    pub ttl: u32,
    /// Distinct RDATA in insertion order (RFC 2181 §5: an RRset has no duplicates).
    pub rdatas: Vec<RData>,
}

/// What happened when a record was added to a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    Added,
    /// The same RDATA was already in the RRset; nothing changed.
    Duplicate,
    /// Added, but the RRset already had another TTL, which it keeps.
    TtlMismatch {
        kept: u32,
    },
}

/// One zone's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub origin: Name,
    pub class: Class,
    rrsets: BTreeMap<(Name, RType), Arc<Rrset>>,
}

impl Zone {
    pub fn new(origin: Name, class: Class) -> Zone {
        Zone {
            origin,
            class,
            rrsets: BTreeMap::new(),
        }
    }

    /// Adds one record's data under `owner`.
    pub fn insert(&mut self, owner: Name, ttl: u32, rdata: RData) -> Insert {
        let rtype = rdata.rtype();
        match self.rrsets.get_mut(&(owner.clone(), rtype)) {
            None => {
                self.rrsets.insert(
                    (owner, rtype),
                    Arc::new(Rrset {
                        ttl,
                        rdatas: vec![rdata],
                    }),
                );
                Insert::Added
            }
            Some(set) => {
                let set = Arc::make_mut(set);
                if set.rdatas.contains(&rdata) {
                    return Insert::Duplicate;
                }
                set.rdatas.push(rdata);
                if set.ttl == ttl {
                    Insert::Added
                } else {
                    Insert::TtlMismatch { kept: set.ttl }
                }
            }
        }
    }

    /// Builds a zone from whole RRsets at once, for parsers of large zones: given in canonical
    /// order (RFC 4034 §6.1 owner order, then type) the map is built in one linear pass, where
    /// [`Zone::insert`] costs a tree descent per record. Any order is accepted; for a repeated
    /// owner and type the last RRset wins, and empty RRsets are dropped.
    pub fn from_rrsets(
        origin: Name,
        class: Class,
        rrsets: impl IntoIterator<Item = (Name, RType, Rrset)>,
    ) -> Zone {
        let rrsets = rrsets
            .into_iter()
            .filter(|(_, _, set)| !set.rdatas.is_empty())
            .map(|(owner, rtype, set)| ((owner, rtype), Arc::new(set)))
            .collect();
        Zone {
            origin,
            class,
            rrsets,
        }
    }

    /// Replaces (or with an empty RRset, removes) the RRset at `owner`/`rtype`.
    pub fn replace_rrset(&mut self, owner: Name, rtype: RType, rrset: Option<Rrset>) {
        match rrset {
            Some(set) if !set.rdatas.is_empty() => {
                self.rrsets.insert((owner, rtype), Arc::new(set));
            }
            _ => {
                self.rrsets.remove(&(owner, rtype));
            }
        }
    }

    /// The RRset at `owner`/`rtype` with its owner as the zone spells it: what
    /// [`Zone::restore`] puts back after a change is undone.
    pub fn entry(&self, owner: &Name, rtype: RType) -> Option<(Name, Arc<Rrset>)> {
        self.rrsets
            .get_key_value(&(owner.clone(), rtype))
            .map(|((name, _), set)| (name.clone(), Arc::clone(set)))
    }

    /// Puts back what [`Zone::entry`] saw at `owner`/`rtype` (None: no RRset), the owner's
    /// spelling included.
    pub fn restore(&mut self, owner: &Name, rtype: RType, entry: Option<(Name, Arc<Rrset>)>) {
        let key = (owner.clone(), rtype);
        self.rrsets.remove(&key);
        if let Some((name, set)) = entry {
            self.rrsets.insert((name, rtype), set);
        }
    }

    pub fn rrset(&self, owner: &Name, rtype: RType) -> Option<&Rrset> {
        self.shared_rrset(owner, rtype).map(|set| &**set)
    }

    /// The RRset at `owner`/`rtype` to change in place (copied first if another zone shares it).
    pub fn rrset_mut(&mut self, owner: &Name, rtype: RType) -> Option<&mut Rrset> {
        self.rrsets
            .get_mut(&(owner.clone(), rtype))
            .map(Arc::make_mut)
    }

    /// All RRsets in canonical order.
    pub fn rrsets(&self) -> impl Iterator<Item = (&Name, RType, &Rrset)> {
        self.rrsets
            .iter()
            .map(|((name, rtype), set)| (name, *rtype, &**set))
    }

    /// One RRset, as shared with copies of this zone.
    pub fn shared_rrset(&self, owner: &Name, rtype: RType) -> Option<&Arc<Rrset>> {
        // BTreeMap lookups need an owned key; RRset lookups are not on the query path.
        self.rrsets.get(&(owner.clone(), rtype))
    }

    /// All RRsets in canonical order, as shared with copies of this zone.
    pub fn shared_rrsets(&self) -> impl Iterator<Item = (&Name, RType, &Arc<Rrset>)> {
        self.rrsets
            .iter()
            .map(|((name, rtype), set)| (name, *rtype, set))
    }

    /// The RRsets at one owner name, in type order.
    pub fn rrsets_at<'a>(
        &'a self,
        owner: &'a Name,
    ) -> impl Iterator<Item = (RType, &'a Rrset)> + 'a {
        self.shared_rrsets_at(owner)
            .map(|(_, rtype, set)| (rtype, &**set))
    }

    /// [`Zone::rrsets_at`], as shared with copies of this zone, each with its owner as the zone
    /// spells it (names compare without regard to case).
    pub fn shared_rrsets_at<'a>(
        &'a self,
        owner: &'a Name,
    ) -> impl Iterator<Item = (&'a Name, RType, &'a Arc<Rrset>)> + 'a {
        self.at(owner)
            .map(|((name, rtype), set)| (name, *rtype, set))
    }

    fn at(&self, owner: &Name) -> btree_map::Range<'_, (Name, RType), Arc<Rrset>> {
        self.rrsets
            .range((owner.clone(), RType(0))..=(owner.clone(), RType(u16::MAX)))
    }

    /// Whether some RRset's owner lies strictly below `name`. In canonical order (RFC 4034
    /// §6.1) a name's descendants directly follow its own RRsets.
    pub fn has_descendants(&self, name: &Name) -> bool {
        self.rrsets
            .range((Excluded((name.clone(), RType(u16::MAX))), Unbounded))
            .next()
            .is_some_and(|((owner, _), _)| owner.is_subdomain_of(name))
    }

    /// Every record, RRset by RRset in canonical order.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.rrsets().flat_map(move |(name, _, set)| {
            set.rdatas.iter().map(move |rdata| Record {
                name: name.clone(),
                class: self.class,
                ttl: set.ttl,
                rdata: rdata.clone(),
            })
        })
    }

    pub fn rrset_count(&self) -> usize {
        self.rrsets.len()
    }

    pub fn record_count(&self) -> usize {
        self.rrsets.values().map(|s| s.rdatas.len()).sum()
    }

    /// The apex SOA, if there is exactly one.
    pub fn soa(&self) -> Option<&nebula_wire::rdata::Soa> {
        match self.rrset(&self.origin, RType::SOA)?.rdatas.as_slice() {
            [RData::Soa(soa)] => Some(soa),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn insert_reports_duplicates_and_ttl_mismatch() {
        let origin: Name = "example.com.".parse().unwrap();
        let www: Name = "www.example.com.".parse().unwrap();
        let mut zone = Zone::new(origin, Class::IN);
        let a = |n| RData::A(Ipv4Addr::new(192, 0, 2, n));
        assert_eq!(zone.insert(www.clone(), 300, a(1)), Insert::Added);
        assert_eq!(zone.insert(www.clone(), 300, a(1)), Insert::Duplicate);
        assert_eq!(
            zone.insert(www.clone(), 600, a(2)),
            Insert::TtlMismatch { kept: 300 }
        );
        assert_eq!(zone.record_count(), 2);
        assert_eq!(zone.rrsets_at(&www).count(), 1);
    }
}

//! Differences between two versions of a zone, RRset by RRset: what a deploy shows for review,
//! and the source of the IXFR journal (RFC 1995).
//!
//! Two RRsets are the same when their TTL and their canonical RDATA (RFC 4034 §6.2, §6.3) are:
//! insertion order, duplicates and the case of names that the canonical form lowers are not
//! changes. Unlike the [content hash](crate::canonical::content_hash), a diff sees the SOA
//! serial: a new serial is a changed SOA RRset, which is exactly what IXFR needs to carry.
//!
//! A diff is between two versions of one zone (same origin and class); [`ZoneDiff::apply`]
//! keeps the origin and class of the zone it is applied to.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use nebula_wire::{Class, Name, RType, Record};

use crate::canonical::sorted_rdatas;
use crate::zone::{Rrset, Zone};

/// One RRset that differs between the old and the new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RrsetChange {
    /// Only in the new version.
    Added {
        owner: Name,
        rtype: RType,
        new: Rrset,
    },
    /// Only in the old version.
    Removed {
        owner: Name,
        rtype: RType,
        old: Rrset,
    },
    /// In both, with another TTL or other records.
    Changed {
        owner: Name,
        rtype: RType,
        old: Rrset,
        new: Rrset,
    },
}

impl RrsetChange {
    pub fn owner(&self) -> &Name {
        match self {
            RrsetChange::Added { owner, .. }
            | RrsetChange::Removed { owner, .. }
            | RrsetChange::Changed { owner, .. } => owner,
        }
    }

    pub fn rtype(&self) -> RType {
        match self {
            RrsetChange::Added { rtype, .. }
            | RrsetChange::Removed { rtype, .. }
            | RrsetChange::Changed { rtype, .. } => *rtype,
        }
    }

    /// The RRset in the old version, if it existed.
    pub fn old_rrset(&self) -> Option<&Rrset> {
        match self {
            RrsetChange::Added { .. } => None,
            RrsetChange::Removed { old, .. } | RrsetChange::Changed { old, .. } => Some(old),
        }
    }

    /// The RRset in the new version, if it exists.
    pub fn new_rrset(&self) -> Option<&Rrset> {
        match self {
            RrsetChange::Removed { .. } => None,
            RrsetChange::Added { new, .. } | RrsetChange::Changed { new, .. } => Some(new),
        }
    }
}

/// The RRset changes from one zone version to the next, in canonical order (RFC 4034 §6.1
/// owner order, then type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDiff {
    /// The class of the new version, given to the records of [`ZoneDiff::to_ixfr`].
    pub class: Class,
    pub changes: Vec<RrsetChange>,
}

/// Compares two versions of a zone RRset by RRset. Linear in the size of both zones: their
/// RRsets are walked side by side in the canonical order both already keep.
pub fn diff(old: &Zone, new: &Zone) -> ZoneDiff {
    let mut changes = Vec::new();
    let mut old_sets = old.shared_rrsets().peekable();
    let mut new_sets = new.shared_rrsets().peekable();
    loop {
        // An RRset a copy shares with the original, at the same place in both: no change, and
        // no name ordering needed to see it.
        if let (Some((old_owner, old_type, old_set)), Some((new_owner, new_type, new_set))) =
            (old_sets.peek(), new_sets.peek())
        {
            if Arc::ptr_eq(old_set, new_set)
                && old_type == new_type
                && old_owner.as_wire() == new_owner.as_wire()
            {
                old_sets.next();
                new_sets.next();
                continue;
            }
        }
        let order = match (old_sets.peek(), new_sets.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((old_owner, old_type, _)), Some((new_owner, new_type, _))) => {
                old_owner.cmp(new_owner).then(old_type.cmp(new_type))
            }
        };
        match order {
            Ordering::Less => {
                if let Some((owner, rtype, set)) = old_sets.next() {
                    changes.push(RrsetChange::Removed {
                        owner: owner.clone(),
                        rtype,
                        old: Rrset::clone(set),
                    });
                }
            }
            Ordering::Greater => {
                if let Some((owner, rtype, set)) = new_sets.next() {
                    changes.push(RrsetChange::Added {
                        owner: owner.clone(),
                        rtype,
                        new: Rrset::clone(set),
                    });
                }
            }
            Ordering::Equal => {
                if let (Some((_, _, old_set)), Some((owner, rtype, new_set))) =
                    (old_sets.next(), new_sets.next())
                {
                    if !same_rrset(old_set, new_set) {
                        changes.push(RrsetChange::Changed {
                            owner: owner.clone(),
                            rtype,
                            old: Rrset::clone(old_set),
                            new: Rrset::clone(new_set),
                        });
                    }
                }
            }
        }
    }
    ZoneDiff {
        class: new.class,
        changes,
    }
}

/// What became of one RRset, [`diff`]'s way: `None` when it is the same (or absent) in both.
pub fn rrset_change(old: Option<&Rrset>, new: Option<&Rrset>) -> Option<ChangeKind> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(ChangeKind::Added),
        (Some(_), None) => Some(ChangeKind::Removed),
        (Some(old), Some(new)) => (!same_rrset(old, new)).then_some(ChangeKind::Changed),
    }
}

/// How an RRset differs between two versions (see [`RrsetChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// The one-line summary of [`ZoneDiff::summary`] for these counts of added, removed and changed
/// RRsets.
pub fn summary_of(added: usize, removed: usize, changed: usize) -> String {
    format!("+{added} \u{2212}{removed} ~{changed} RRsets")
}

/// Same TTL and same canonical RDATA, whatever the order, duplicates or name case.
fn same_rrset(a: &Rrset, b: &Rrset) -> bool {
    if a.ttl != b.ttl {
        return false;
    }
    // Most RRsets of two successive versions are untouched copies: equal as stored implies
    // equal in canonical form, without sorting either.
    if a.rdatas == b.rdatas {
        return true;
    }
    let a = sorted_rdatas(a);
    let b = sorted_rdatas(b);
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.wire == y.wire)
}

impl ZoneDiff {
    /// True when the versions hold the same data (the SOA serial included).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn added_count(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c, RrsetChange::Added { .. }))
            .count()
    }

    pub fn removed_count(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c, RrsetChange::Removed { .. }))
            .count()
    }

    pub fn changed_count(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c, RrsetChange::Changed { .. }))
            .count()
    }

    /// A one-line human summary, `+3 −1 ~2 RRsets`: added, removed (with a minus sign, U+2212)
    /// and changed RRsets. Also what [`fmt::Display`] prints.
    pub fn summary(&self) -> String {
        summary_of(
            self.added_count(),
            self.removed_count(),
            self.changed_count(),
        )
    }

    /// The diff as record-level deletions and additions, in the sense of an RFC 1995 §4
    /// difference sequence (`old SOA, deleted RRs, new SOA, added RRs`).
    ///
    /// - A removed RRset deletes all its records, an added one adds all of them.
    /// - A changed RRset with the same TTL deletes the records only the old version has and
    ///   adds those only the new version has (compared in canonical form).
    /// - A changed RRset with another TTL deletes every old record and adds every new one: a
    ///   TTL is a property of the RRset (RFC 2181 §5.2), and a secondary that saw only the
    ///   additions would keep the old TTL on the records left in place.
    ///
    /// SOA handling: when the SOA changed (as it does between two stamped versions: the serial
    /// differs), the old SOA is the first deleted record and the new SOA the first added one,
    /// so an IXFR responder writes `deleted` then `added` as one difference sequence as they
    /// are. When the SOA did not change, neither list holds a SOA; such a diff cannot be sent
    /// as IXFR (RFC 1995 keys on serials) until the version system stamps a new serial.
    /// Other records come in canonical order.
    pub fn to_ixfr(&self) -> (Vec<Record>, Vec<Record>) {
        let mut deleted = Vec::new();
        let mut added = Vec::new();
        for change in &self.changes {
            let owner = change.owner();
            let (deletes, adds) = (&mut Vec::new(), &mut Vec::new());
            let record = |ttl, rdata: &nebula_wire::RData| Record {
                name: owner.clone(),
                class: self.class,
                ttl,
                rdata: rdata.clone(),
            };
            match change {
                RrsetChange::Added { new, .. } => {
                    adds.extend(sorted_rdatas(new).iter().map(|d| record(new.ttl, d.rdata)));
                }
                RrsetChange::Removed { old, .. } => {
                    deletes.extend(sorted_rdatas(old).iter().map(|d| record(old.ttl, d.rdata)));
                }
                RrsetChange::Changed { old, new, .. } => {
                    let old_sorted = sorted_rdatas(old);
                    let new_sorted = sorted_rdatas(new);
                    let ttl_changed = old.ttl != new.ttl;
                    let in_new =
                        |wire: &Vec<u8>| new_sorted.binary_search_by(|d| d.wire.cmp(wire)).is_ok();
                    let in_old =
                        |wire: &Vec<u8>| old_sorted.binary_search_by(|d| d.wire.cmp(wire)).is_ok();
                    deletes.extend(
                        old_sorted
                            .iter()
                            .filter(|d| ttl_changed || !in_new(&d.wire))
                            .map(|d| record(old.ttl, d.rdata)),
                    );
                    adds.extend(
                        new_sorted
                            .iter()
                            .filter(|d| ttl_changed || !in_old(&d.wire))
                            .map(|d| record(new.ttl, d.rdata)),
                    );
                }
            }
            if change.rtype() == RType::SOA {
                // RFC 1995 §4: each half of a difference sequence starts with its SOA.
                deleted.splice(0..0, deletes.drain(..));
                added.splice(0..0, adds.drain(..));
            } else {
                deleted.append(deletes);
                added.append(adds);
            }
        }
        (deleted, added)
    }

    /// The zone with every change applied: changed and added RRsets replaced by their new
    /// version, removed ones dropped, everything else kept. `apply(diff(a, b), a)` holds the
    /// same data as `b` ([`crate::canonical::same_content`]). Applied to a zone other than the
    /// diff's old version, whole RRsets are still replaced; [`ZoneDiff::is_based_on`] tells
    /// whether the zone is that old version.
    pub fn apply(&self, zone: &Zone) -> Zone {
        let mut out = zone.clone();
        for change in &self.changes {
            out.replace_rrset(
                change.owner().clone(),
                change.rtype(),
                change.new_rrset().cloned(),
            );
        }
        out
    }

    /// True if `zone` holds, for every changed RRset, the old version this diff starts from
    /// (so applying it cannot silently overwrite a concurrent change).
    pub fn is_based_on(&self, zone: &Zone) -> bool {
        self.changes.iter().all(|change| {
            match (
                zone.rrset(change.owner(), change.rtype()),
                change.old_rrset(),
            ) {
                (None, None) => true,
                (Some(current), Some(old)) => same_rrset(current, old),
                _ => false,
            }
        })
    }
}

impl fmt::Display for ZoneDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::canonical::{normalize, same_content};
    use crate::fixtures::{a, name, soa, zone};
    use nebula_wire::RData;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    fn old_version() -> Zone {
        zone(&[
            ("example.com.", 3600, soa(1)),
            ("example.com.", 3600, RData::Ns(name("ns1.example.com."))),
            ("www.example.com.", 300, a(1)),
            ("www.example.com.", 300, a(2)),
            ("ftp.example.com.", 300, a(7)),
            ("mail.example.com.", 300, a(25)),
        ])
    }

    fn new_version() -> Zone {
        zone(&[
            ("example.com.", 3600, soa(2)),
            ("example.com.", 3600, RData::Ns(name("NS1.example.com."))),
            ("www.example.com.", 300, a(2)),
            ("www.example.com.", 300, a(3)),
            ("mail.example.com.", 600, a(25)),
            ("api.example.com.", 300, a(80)),
            ("api.example.com.", 300, RData::Aaaa(Ipv6Addr::LOCALHOST)),
        ])
    }

    fn lines(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.rtype(), r.rdata))
            .collect()
    }

    #[test]
    fn lists_rrset_changes_in_canonical_order() {
        let diff = diff(&old_version(), &new_version());
        let listed: Vec<String> = diff
            .changes
            .iter()
            .map(|c| {
                let kind = match c {
                    RrsetChange::Added { .. } => '+',
                    RrsetChange::Removed { .. } => '-',
                    RrsetChange::Changed { .. } => '~',
                };
                format!("{kind}{} {}", c.owner(), c.rtype())
            })
            .collect();
        // The NS differs only in case: no change.
        assert_eq!(
            listed,
            [
                "~example.com. SOA",
                "+api.example.com. A",
                "+api.example.com. AAAA",
                "-ftp.example.com. A",
                "~mail.example.com. A",
                "~www.example.com. A",
            ]
        );
        assert_eq!(diff.summary(), "+2 \u{2212}1 ~3 RRsets");
        assert_eq!(diff.to_string(), diff.summary());
    }

    #[test]
    fn ixfr_puts_soas_first_and_replaces_rrsets_whose_ttl_changed() {
        let (deleted, added) = diff(&old_version(), &new_version()).to_ixfr();
        let old_soa = format!("example.com. 3600 SOA {}", soa(1));
        let new_soa = format!("example.com. 3600 SOA {}", soa(2));
        assert_eq!(
            lines(&deleted),
            [
                old_soa.as_str(),
                "ftp.example.com. 300 A 192.0.2.7",
                "mail.example.com. 300 A 192.0.2.25",
                "www.example.com. 300 A 192.0.2.1",
            ]
        );
        assert_eq!(
            lines(&added),
            [
                new_soa.as_str(),
                "api.example.com. 300 A 192.0.2.80",
                "api.example.com. 300 AAAA ::1",
                "mail.example.com. 600 A 192.0.2.25",
                "www.example.com. 300 A 192.0.2.3",
            ]
        );
    }

    #[test]
    fn unchanged_soa_is_in_neither_list() {
        let mut new = old_version();
        new.insert(name("new.example.com."), 60, a(9));
        let (deleted, added) = diff(&old_version(), &new).to_ixfr();
        assert!(deleted.is_empty());
        assert_eq!(lines(&added), ["new.example.com. 60 A 192.0.2.9"]);
    }

    #[test]
    fn apply_and_base_check() {
        let (old, new) = (old_version(), new_version());
        let diff = diff(&old, &new);
        assert!(diff.is_based_on(&old));
        assert!(!diff.is_based_on(&new));
        let applied = diff.apply(&old);
        assert!(same_content(&applied, &new));
        assert_eq!(normalize(&applied), normalize(&new));
        assert!(super::diff(&applied, &new).is_empty());
    }

    /// Applies RFC 1995 record-level deletions then additions, the way a secondary would.
    fn apply_ixfr(zone: &Zone, deleted: &[Record], added: &[Record]) -> Zone {
        let mut out = zone.clone();
        for record in deleted {
            let rtype = record.rtype();
            let Some(mut set) = out.rrset(&record.name, rtype).cloned() else {
                continue;
            };
            let gone = record.rdata.to_canonical_wire();
            set.rdatas.retain(|d| d.to_canonical_wire() != gone);
            out.replace_rrset(record.name.clone(), rtype, Some(set));
        }
        for record in added {
            out.insert(record.name.clone(), record.ttl, record.rdata.clone());
        }
        out
    }

    // A small universe of owners, types and data so that random zones overlap a lot.
    fn arb_record() -> impl Strategy<Value = (String, u32, RData)> {
        let owner = prop_oneof![
            Just("@"),
            Just("www"),
            Just("WWW"),
            Just("mail"),
            Just("a.b"),
            Just("*.c")
        ];
        let rdata = prop_oneof![
            (0u8..4).prop_map(a),
            (0u16..3).prop_map(|n| RData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))),
            (0u16..3, prop_oneof![Just("mx1"), Just("MX1"), Just("mx2")]).prop_map(
                |(preference, host)| RData::Mx {
                    preference,
                    exchange: name(&format!("{host}.example.com."))
                }
            ),
            prop_oneof![Just("ns1"), Just("ns2")]
                .prop_map(|host| RData::Ns(name(&format!("{host}.example.net.")))),
        ];
        (owner, prop_oneof![Just(300u32), Just(600)], rdata).prop_map(|(owner, ttl, rdata)| {
            let owner = if owner == "@" {
                "example.com.".to_owned()
            } else {
                format!("{owner}.example.com.")
            };
            (owner, ttl, rdata)
        })
    }

    fn arb_zone() -> impl Strategy<Value = Zone> {
        (0u32..3, proptest::collection::vec(arb_record(), 0..24)).prop_map(|(serial, records)| {
            let mut zone = Zone::new(name("example.com."), Class::IN);
            zone.insert(name("example.com."), 3600, soa(serial));
            for (owner, ttl, rdata) in records {
                zone.insert(name(&owner), ttl, rdata);
            }
            zone
        })
    }

    proptest! {
        #[test]
        fn apply_of_diff_gives_the_new_version(a in arb_zone(), b in arb_zone()) {
            let diff = diff(&a, &b);
            let applied = diff.apply(&a);
            prop_assert_eq!(normalize(&applied), normalize(&b));
            prop_assert!(super::diff(&applied, &b).is_empty());
            prop_assert!(diff.is_based_on(&a));
            prop_assert_eq!(diff.is_empty(), same_content(&a, &b));
        }

        #[test]
        fn ixfr_of_diff_gives_the_new_version(a in arb_zone(), b in arb_zone()) {
            let (deleted, added) = diff(&a, &b).to_ixfr();
            prop_assert_eq!(normalize(&apply_ixfr(&a, &deleted, &added)), normalize(&b));
            let soa_changed = a.soa() != b.soa();
            prop_assert_eq!(deleted.first().is_some_and(|r| r.rtype() == RType::SOA), soa_changed);
            prop_assert_eq!(added.first().is_some_and(|r| r.rtype() == RType::SOA), soa_changed);
        }

        #[test]
        fn insertion_order_is_not_a_change(a in arb_zone()) {
            let mut reversed = Zone::new(a.origin.clone(), a.class);
            let records: Vec<Record> = a.records().collect();
            for record in records.into_iter().rev() {
                reversed.insert(record.name, record.ttl, record.rdata);
            }
            prop_assert!(diff(&a, &reversed).is_empty());
        }
    }
}

//! Whether a [`Zone`] is fit to serve: the checks `named-checkzone` makes, with messages that name
//! the record and the fix.
//!
//! | rule | severity | source |
//! |---|---|---|
//! | no SOA at the apex, or more than one | error | RFC 1035 §5.2 |
//! | SOA below the apex | error | RFC 1035 §5.2 |
//! | no NS at the apex | error | RFC 1035 §5.2 |
//! | CNAME beside other data (RRSIG and NSEC allowed) | error | RFC 1034 §3.6.2, RFC 2181 §10.1, RFC 4035 §2.5 |
//! | more than one CNAME, or more than one DNAME, at a name | error | RFC 2181 §10.1, RFC 6672 §2.4 |
//! | data below a DNAME | error ¹ | RFC 6672 §2.3 |
//! | data outside the zone | error ¹ | RFC 1034 §4.2 |
//! | TTL above 2^31 - 1 | error ¹ | RFC 2181 §8 |
//! | apex NS target that is a CNAME | error | RFC 2181 §10.3 (BIND refuses it too) |
//! | other NS, MX or SRV target that is a CNAME | warning | RFC 2181 §10.3 (BIND's default: warn) |
//! | in-zone NS target with no address (BIND refuses it too at the apex), or missing glue below a zone cut | error ¹ | RFC 1034 §4.2.1 |
//! | in-zone MX or SRV target with no address | warning | BIND's default |
//! | data below a zone cut that is not glue (occluded, never served) | warning | RFC 1034 §4.2.1 |
//! | records of one RRset with different TTLs | warning | RFC 2181 §5.2 (found by the parsers) |
//!
//! ¹ Stricter than `named-checkzone`, deliberately: BIND drops out-of-zone data with a warning,
//! loads a zone with data below a DNAME, serves a TTL above 2^31 - 1 as 0 and only warns about
//! name servers of a delegation without addresses. NebulaDNS refuses data it would silently not serve as
//! written, and a delegation that cannot be followed.
//!
//! Label and name lengths (RFC 1035 §2.3.4) cannot be wrong here: [`Name`] enforces them, so
//! the parsers report them. A target covered by a wildcard (RFC 4592) counts as having
//! addresses when the wildcard owner has them, as BIND's lookup does.

use std::collections::{HashMap, HashSet};

use nebula_wire::{Name, RData, RType};

use crate::error::{Diagnostic, Problem};
use crate::master::{Parsed, SourceMap};
use crate::zone::{Rrset, Zone};

/// The largest TTL RFC 2181 §8 allows.
pub const MAX_TTL: u32 = (1 << 31) - 1;

/// Checks a parsed zone: its parse warnings followed by [`validate`]'s findings.
pub fn check(parsed: &Parsed) -> Vec<Diagnostic> {
    let mut diagnostics = parsed.warnings.clone();
    diagnostics.extend(validate(&parsed.zone, Some(&parsed.sources)));
    diagnostics
}

/// True if any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Runs every rule on `zone`. `sources` (from the parser, for the zone as parsed) adds the file
/// and line of each RRset to the messages.
///
/// Linear in the zone's size: one pass in canonical order does the per-name rules and records
/// what each NS, MX and SRV target has, then the targets are checked from that table (no tree
/// lookups per target).
pub fn validate(zone: &Zone, sources: Option<&SourceMap>) -> Vec<Diagnostic> {
    let mut checker = Checker::new(zone, sources);
    checker.apex();
    checker.walk();
    checker.targets();
    checker.diagnostics
}

/// The errors [`validate`] finds in `new`, a changed copy of a zone `old`, provided `old` has
/// none and the change stays local; None when it may not (then validate `new` in full).
/// `touched` holds at least every RRset (owner and type) that differs between the two, and
/// `had_data` tells whether a touched owner held data in `old`.
///
/// A change stays local when every RRset it adds, removes or changes sits at a name that holds
/// data both before and after, and is of a type no rule reads from another name: not SOA or NS
/// (the apex, zone cuts, delegations), CNAME or DNAME (aliases, data below a DNAME), A or AAAA
/// (what NS targets have). Then whether each name exists, is a cut or a DNAME, or what any
/// target has, is as it was, so every rule about other names finds what it found in `old`:
/// nothing. The changed names were in the zone and not below a DNAME before (`old` has no
/// errors), and still are. What is left are the rules about the changed names' own RRsets
/// (CNAME beside other data, TTLs), which this checks. Warnings are not looked for.
pub fn local_errors(
    new: &Zone,
    touched: &[(Name, RType)],
    had_data: &dyn Fn(&Name) -> bool,
) -> Option<Vec<Diagnostic>> {
    let mut names: Vec<&Name> = Vec::with_capacity(touched.len());
    for (owner, rtype) in touched {
        let nonlocal = matches!(
            *rtype,
            RType::SOA | RType::NS | RType::CNAME | RType::DNAME | RType::A | RType::AAAA
        );
        if nonlocal || !had_data(owner) || new.rrsets_at(owner).next().is_none() {
            return None;
        }
        names.push(owner);
    }
    // A batch may touch one name many times; each is checked once.
    names.sort_unstable();
    names.dedup();
    let mut checker = Checker {
        zone: new,
        sources: None,
        diagnostics: Vec::new(),
        cuts: FastSet::default(),
        facts: FastMap::default(),
        pending: Vec::new(),
    };
    for name in names {
        let mut spelled = None;
        let group: Vec<(usize, RType, &Rrset)> = new
            .shared_rrsets_at(name)
            .map(|(owner, rtype, rrset)| {
                spelled = Some(owner);
                (0, rtype, &**rrset)
            })
            .collect();
        if let Some(owner) = spelled {
            checker.owner_rules(owner, &group);
        }
    }
    checker.diagnostics.retain(Diagnostic::is_error);
    Some(checker.diagnostics)
}

/// What a target name has, filled in by the walk.
#[derive(Debug, Clone, Copy, Default)]
struct TargetFacts {
    exists: bool,
    cname: bool,
    address: bool,
    /// Some NS RRset names it: its addresses below a zone cut are glue.
    ns_target: bool,
}

/// An NS, MX or SRV RRset whose targets are checked after the walk.
struct PendingTargets<'z> {
    index: usize,
    owner: &'z Name,
    rtype: RType,
    rrset: &'z Rrset,
}

type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;
type FastSet<K> = HashSet<K, rustc_hash::FxBuildHasher>;

struct Checker<'z> {
    zone: &'z Zone,
    sources: Option<&'z SourceMap>,
    diagnostics: Vec<Diagnostic>,
    /// Owners of NS RRsets below the apex: the zone cuts (RFC 1034 §4.2.1).
    cuts: FastSet<&'z Name>,
    /// Every in-zone NS, MX and SRV target.
    facts: FastMap<&'z Name, TargetFacts>,
    pending: Vec<PendingTargets<'z>>,
}

/// The name an NS, MX or SRV RDATA points at.
fn target_of(rdata: &RData) -> Option<&Name> {
    match rdata {
        RData::Ns(target) => Some(target),
        RData::Mx { exchange, .. } => Some(exchange),
        RData::Srv(srv) => Some(&srv.target),
        _ => None,
    }
}

impl<'z> Checker<'z> {
    fn new(zone: &'z Zone, sources: Option<&'z SourceMap>) -> Checker<'z> {
        let mut cuts = FastSet::default();
        // Sized up front: rehashing a large table of names costs more than the walk.
        let targets = zone
            .rrsets()
            .filter(|(_, rtype, _)| matches!(*rtype, RType::NS | RType::MX | RType::SRV))
            .map(|(_, _, rrset)| rrset.rdatas.len())
            .sum();
        let mut facts: FastMap<&'z Name, TargetFacts> =
            FastMap::with_capacity_and_hasher(targets, rustc_hash::FxBuildHasher);
        for (owner, rtype, rrset) in zone.rrsets() {
            if !matches!(rtype, RType::NS | RType::MX | RType::SRV)
                || !owner.is_subdomain_of(&zone.origin)
            {
                continue;
            }
            if rtype == RType::NS && *owner != zone.origin {
                cuts.insert(owner);
            }
            for target in rrset.rdatas.iter().filter_map(target_of) {
                if !target.is_root() && target.is_subdomain_of(&zone.origin) {
                    facts.entry(target).or_default().ns_target |= rtype == RType::NS;
                }
            }
        }
        Checker {
            zone,
            sources,
            diagnostics: Vec::new(),
            cuts,
            facts,
            pending: Vec::new(),
        }
    }

    fn push(
        &mut self,
        index: usize,
        problem: Problem,
        error: bool,
        owner: &Name,
        rtype: Option<RType>,
    ) {
        let diagnostic = if error {
            Diagnostic::error(problem)
        } else {
            Diagnostic::warning(problem)
        };
        let location = self.sources.and_then(|s| s.location(index));
        self.diagnostics
            .push(diagnostic.at(location).owner(owner, rtype));
    }

    /// SOA and NS at the apex (RFC 1035 §5.2).
    fn apex(&mut self) {
        let origin = &self.zone.origin;
        match self.zone.rrset(origin, RType::SOA) {
            None => self
                .diagnostics
                .push(Diagnostic::error(Problem::NoSoa).owner(origin, None)),
            Some(set) if set.rdatas.len() > 1 => {
                let index = self.index_of(origin, RType::SOA);
                self.push(
                    index,
                    Problem::MultipleSoa(set.rdatas.len()),
                    true,
                    origin,
                    Some(RType::SOA),
                );
            }
            Some(_) => {}
        }
        if self.zone.rrset(origin, RType::NS).is_none() {
            self.diagnostics
                .push(Diagnostic::error(Problem::NoApexNs).owner(origin, None));
        }
    }

    /// The position of an RRset in zone order (only for the few apex messages).
    fn index_of(&self, owner: &Name, rtype: RType) -> usize {
        self.zone
            .rrsets()
            .position(|(n, t, _)| n == owner && t == rtype)
            .unwrap_or(usize::MAX)
    }

    /// One pass over the RRsets in canonical order, an owner at a time. Canonical order puts
    /// every name right after its ancestors' data and before any name outside its subtree, so
    /// the enclosing cut or DNAME is a single "current" name.
    fn walk(&mut self) {
        let zone = self.zone;
        let origin = &zone.origin;
        let mut group: Vec<(usize, RType, &'z Rrset)> = Vec::new();
        let mut cut: Option<&'z Name> = None;
        let mut dname: Option<&'z Name> = None;
        let mut rrsets = zone.rrsets().enumerate().peekable();
        while let Some((index, (name, rtype, rrset))) = rrsets.next() {
            group.push((index, rtype, rrset));
            if rrsets.peek().is_some_and(|(_, (next, _, _))| *next == name) {
                continue;
            }
            // `group` holds every RRset at `name`.
            if cut.is_some_and(|c| !name.is_subdomain_of(c)) {
                cut = None;
            }
            if dname.is_some_and(|d| !name.is_subdomain_of(d)) {
                dname = None;
            }
            self.record_facts(name, &group);
            self.owner_rules(name, &group);
            let (first, _, _) = group[0];
            if !name.is_subdomain_of(origin) {
                self.push(
                    first,
                    Problem::OutOfZone {
                        origin: origin.clone(),
                    },
                    true,
                    name,
                    None,
                );
            } else if let Some(d) = dname {
                self.push(
                    first,
                    Problem::BelowDname { dname: d.clone() },
                    true,
                    name,
                    None,
                );
            } else {
                let is_cut = name != origin && group.iter().any(|&(_, t, _)| t == RType::NS);
                match cut {
                    Some(c) => self.occluded(name, c, &group),
                    None if is_cut => {
                        self.occluded(name, name, &group);
                        cut = Some(name);
                    }
                    None => {}
                }
                for &(index, rtype, rrset) in &group {
                    // Below a cut only the cut's own NS RRset is this zone's business.
                    let own = cut.is_none() || (cut == Some(name) && rtype == RType::NS);
                    if own && matches!(rtype, RType::NS | RType::MX | RType::SRV) {
                        self.pending.push(PendingTargets {
                            index,
                            owner: name,
                            rtype,
                            rrset,
                        });
                    }
                }
                if group.iter().any(|&(_, t, _)| t == RType::DNAME) {
                    dname = Some(name);
                }
            }
            group.clear();
        }
    }

    /// Notes what a target name has, if this name is a target.
    fn record_facts(&mut self, name: &'z Name, group: &[(usize, RType, &'z Rrset)]) {
        if let Some(facts) = self.facts.get_mut(name) {
            facts.exists = true;
            for &(_, rtype, _) in group {
                facts.cname |= rtype == RType::CNAME;
                facts.address |= matches!(rtype, RType::A | RType::AAAA);
            }
        }
    }

    /// Rules about the RRsets at one owner.
    fn owner_rules(&mut self, name: &'z Name, group: &[(usize, RType, &'z Rrset)]) {
        let origin = &self.zone.origin;
        let cname = group.iter().find(|&&(_, t, _)| t == RType::CNAME);
        if let Some(&(index, _, _)) = cname {
            let other = group
                .iter()
                .find(|&&(_, t, _)| !matches!(t, RType::CNAME | RType::RRSIG | RType::NSEC));
            if let Some(&(_, other, _)) = other {
                self.push(
                    index,
                    Problem::CnameAndOtherData { other },
                    true,
                    name,
                    Some(RType::CNAME),
                );
            }
        }
        for &(index, rtype, rrset) in group {
            if matches!(rtype, RType::CNAME | RType::DNAME) && rrset.rdatas.len() > 1 {
                let problem = Problem::MultipleSingleton {
                    rtype,
                    count: rrset.rdatas.len(),
                };
                self.push(index, problem, true, name, Some(rtype));
            }
            if rtype == RType::SOA && name != origin {
                self.push(index, Problem::SoaNotAtApex, true, name, Some(rtype));
            }
            if rrset.ttl > MAX_TTL {
                self.push(
                    index,
                    Problem::TtlTooLarge(rrset.ttl),
                    true,
                    name,
                    Some(rtype),
                );
            }
        }
    }

    /// Data at or below the zone cut `cut` that is not served: at the cut only NS, DS and their
    /// DNSSEC records are the parent's; below it only addresses of name servers (glue).
    fn occluded(&mut self, name: &'z Name, cut: &'z Name, group: &[(usize, RType, &'z Rrset)]) {
        let at_cut = name == cut;
        let glue_owner = self.facts.get(name).is_some_and(|f| f.ns_target);
        for &(index, rtype, _) in group {
            let served = match rtype {
                RType::NS | RType::DS | RType::NSEC | RType::RRSIG => at_cut,
                RType::A | RType::AAAA => glue_owner,
                _ => false,
            };
            if !served {
                self.push(
                    index,
                    Problem::Occluded { cut: cut.clone() },
                    false,
                    name,
                    Some(rtype),
                );
            }
        }
    }

    /// NS, MX and SRV targets inside the zone (RFC 1034 §4.2.1, RFC 2181 §10.3).
    fn targets(&mut self) {
        let origin = &self.zone.origin;
        for pending in std::mem::take(&mut self.pending) {
            let PendingTargets {
                index,
                owner,
                rtype,
                rrset,
            } = pending;
            for target in rrset.rdatas.iter().filter_map(target_of) {
                // "." is the null MX (RFC 7505) or "no service" SRV (RFC 2782).
                let Some(facts) = self.facts.get(target).copied() else {
                    continue;
                };
                if facts.cname {
                    // BIND refuses an apex name server that is an alias, and warns elsewhere.
                    let error = rtype == RType::NS && owner == origin;
                    let problem = Problem::TargetIsCname {
                        rtype,
                        target: target.clone(),
                    };
                    self.push(index, problem, error, owner, Some(rtype));
                } else if !facts.address && (facts.exists || !self.wildcard_has_address(target)) {
                    let problem = match (rtype, self.below_cut(target)) {
                        (RType::NS, Some(cut)) => Problem::MissingGlue {
                            target: target.clone(),
                            cut: cut.clone(),
                        },
                        _ => Problem::TargetHasNoAddress {
                            rtype,
                            target: target.clone(),
                        },
                    };
                    self.push(index, problem, rtype == RType::NS, owner, Some(rtype));
                }
            }
        }
    }

    /// The zone cut at or above `name` (below the apex), if any.
    fn below_cut(&self, name: &Name) -> Option<&'z Name> {
        let origin = &self.zone.origin;
        if self.cuts.is_empty() {
            return None;
        }
        let mut current = name.clone();
        while current != *origin && current.is_subdomain_of(origin) {
            if let Some(cut) = self.cuts.get(&current) {
                return Some(cut);
            }
            current = current.parent()?;
        }
        None
    }

    /// RFC 4592: a wildcard at an ancestor may synthesise a name that does not exist.
    fn wildcard_has_address(&self, name: &Name) -> bool {
        let origin = &self.zone.origin;
        let mut current = name.parent();
        while let Some(parent) = current {
            if !parent.is_subdomain_of(origin) {
                break;
            }
            if let Ok(wildcard) = parent.prepend_label(b"*") {
                if self
                    .zone
                    .rrsets_at(&wildcard)
                    .any(|(t, _)| matches!(t, RType::A | RType::AAAA))
                {
                    return true;
                }
            }
            if parent == *origin {
                break;
            }
            current = parent.parent();
        }
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::error::Severity;
    use crate::master::parse_str;

    const HEAD: &str =
        "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n";

    /// Parses `body` after a good SOA/NS head (unless it starts with `!`) and returns
    /// `line severity code` for every validation finding.
    fn check(body: &str) -> Vec<String> {
        let text = match body.strip_prefix('!') {
            Some(raw) => raw.to_owned(),
            None => format!("{HEAD}{body}"),
        };
        let origin: Name = "example.com.".parse().unwrap();
        let parsed = parse_str(&text, &origin, "t").unwrap_or_else(|e| panic!("{e}"));
        validate(&parsed.zone, Some(&parsed.sources))
            .iter()
            .map(|d| {
                let line = d
                    .location
                    .as_ref()
                    .and_then(|l| l.line())
                    .map_or("-".to_owned(), |l| l.to_string());
                let severity = if d.severity == Severity::Error {
                    "E"
                } else {
                    "W"
                };
                format!("{line} {severity} {}", d.problem.code())
            })
            .collect()
    }

    #[test]
    fn good_zone_has_no_findings() {
        let body = "www A 192.0.2.2\n  AAAA 2001:db8::2\n@ MX 10 www\n_sip._tcp SRV 0 0 5060 www\nalias CNAME www\n\
                    alias RRSIG CNAME 8 3 300 20300101000000 20200101000000 1 example.com. AAAA\n\
                    sub NS ns.sub\nns.sub A 192.0.2.5\nother NS ns.example.net.\n@ MX 0 .\n";
        assert_eq!(check(body), Vec::<String>::new());
    }

    #[test]
    fn apex_rules() {
        assert_eq!(
            check("!$TTL 1\n@ NS ns1\nns1 A 192.0.2.1\n"),
            ["- E no_soa"]
        );
        assert_eq!(
            check("!$TTL 1\n@ SOA ns1 hm 1 2 3 4 5\nns1 A 192.0.2.1\n"),
            ["- E no_apex_ns"]
        );
        assert_eq!(check("@ SOA ns2 hm 2 2 3 4 5\n"), ["2 E multiple_soa"]);
        assert_eq!(check("sub SOA ns2 hm 2 2 3 4 5\n"), ["5 E soa_not_at_apex"]);
    }

    #[test]
    fn cname_rules() {
        assert_eq!(
            check("www CNAME ns1\nwww A 192.0.2.9\n"),
            ["5 E cname_and_other_data"]
        );
        assert_eq!(
            check("www CNAME ns1\nwww CNAME ns2\n"),
            ["5 E multiple_singleton"]
        );
        assert_eq!(
            check("@ CNAME other.example.net.\n"),
            ["5 E cname_and_other_data"]
        );
        assert_eq!(
            check("www CNAME ns1\nwww NSEC ns1 CNAME NSEC\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn dname_rules() {
        assert_eq!(
            check("d DNAME example.net.\nd DNAME example.org.\n"),
            ["5 E multiple_singleton"]
        );
        assert_eq!(
            check("d DNAME example.net.\nd CNAME x\n"),
            ["6 E cname_and_other_data"]
        );
        assert_eq!(
            check("d DNAME example.net.\nx.d A 192.0.2.1\ny.x.d A 192.0.2.1\nz A 192.0.2.1\n"),
            ["6 E below_dname", "7 E below_dname"]
        );
    }

    #[test]
    fn out_of_zone_and_ttl() {
        assert_eq!(check("www.example.org. A 192.0.2.1\n"), ["5 E out_of_zone"]);
        assert_eq!(check("www 2147483648 A 192.0.2.1\n"), ["5 E ttl_too_large"]);
        assert_eq!(check("www 2147483647 A 192.0.2.1\n"), Vec::<String>::new());
    }

    #[test]
    fn target_rules() {
        assert_eq!(check("@ NS ns2\nns2 CNAME ns1\n"), ["3 E target_is_cname"]);
        assert_eq!(
            check("sub NS ns2\nns2 CNAME ns1\n"),
            ["5 W target_is_cname"]
        );
        assert_eq!(
            check("  MX 10 mail\nmail CNAME ns1\n"),
            ["5 W target_is_cname"]
        );
        assert_eq!(
            check("_s._tcp SRV 0 0 1 t\nt CNAME ns1\n"),
            ["5 W target_is_cname"]
        );
        assert_eq!(check("@ NS ns3\n"), ["3 E target_has_no_address"]);
        assert_eq!(check("  MX 10 nowhere\n"), ["5 W target_has_no_address"]);
        assert_eq!(check("sub NS ns.sub\n"), ["5 E missing_glue"]);
        assert_eq!(
            check("sub NS ns.other.example.com.\n"),
            ["5 E target_has_no_address"]
        );
        assert_eq!(
            check("@ NS ns9\n*.example.com. A 192.0.2.9\n"),
            Vec::<String>::new()
        );
        // Targets outside the zone are not checked.
        assert_eq!(check("  MX 10 mail.example.net.\n"), Vec::<String>::new());
    }

    #[test]
    fn occluded_data() {
        assert_eq!(
            check("sub NS ns.sub\nns.sub A 192.0.2.5\nwww.sub A 192.0.2.6\nsub A 192.0.2.7\nsub DS 1 8 2 abababababababababababababababababababababababababababababababab\nx.sub TXT hi\n"),
            ["8 W occluded", "7 W occluded", "10 W occluded"]
        );
    }

    /// Owners (relative to example.com.; "@" the apex) and what may be written at them: enough
    /// to make every rule fire (cuts, glue, wildcards, aliases, DNAMEs, targets).
    const OWNERS: [&str; 8] = ["@", "a", "b.a", "ns1", "*.w", "d", "x.d", "c"];
    const KINDS: [(RType, &str); 8] = [
        (RType::A, "192.0.2.9"),
        (RType::AAAA, "2001:db8::9"),
        (RType::TXT, "\"t\""),
        (RType::MX, "10 b.a"),
        (RType::NS, "x.d"),
        (RType::CNAME, "a"),
        (RType::DNAME, "example.net."),
        (RType::SRV, "1 1 53 ns1"),
    ];

    /// Writes (or with None removes) one RRset; returns its owner and type.
    fn edit(zone: &mut Zone, (owner, kind, ttl): (usize, usize, Option<u32>)) -> (Name, RType) {
        let origin: Name = "example.com.".parse().unwrap();
        let owner = match OWNERS[owner] {
            "@" => origin.clone(),
            relative => Name::from_text(relative, Some(&origin)).unwrap(),
        };
        let (rtype, text) = KINDS[kind];
        let rrset = ttl.map(|ttl| {
            let tokens = nebula_wire::text::tokenize(text).unwrap();
            Rrset {
                ttl,
                rdatas: vec![RData::from_tokens(rtype, &tokens, Some(&origin)).unwrap()],
            }
        });
        zone.replace_rrset(owner.clone(), rtype, rrset);
        (owner, rtype)
    }

    /// `local_errors`'s `had_data` for a changed copy of `old`.
    fn in_zone(old: &Zone) -> impl Fn(&Name) -> bool + '_ {
        |owner| old.rrsets_at(owner).next().is_some()
    }

    fn arb_edit() -> impl proptest::strategy::Strategy<Value = (usize, usize, Option<u32>)> {
        let ttl =
            proptest::prop_oneof![9 => 60u32..100, 1 => proptest::strategy::Just(MAX_TTL + 1)];
        (0..OWNERS.len(), 0..KINDS.len(), proptest::option::of(ttl))
    }

    proptest::proptest! {
        #[test]
        fn local_errors_agree_with_a_full_validation(
            setup in proptest::collection::vec(arb_edit(), 0..12),
            steps in proptest::collection::vec(proptest::collection::vec(arb_edit(), 1..3), 1..20),
        ) {
            let origin: Name = "example.com.".parse().unwrap();
            let mut old = parse_str(HEAD, &origin, "t").unwrap().zone;
            for step in setup {
                edit(&mut old, step);
            }
            for edits in steps {
                let mut new = old.clone();
                let touched: Vec<(Name, RType)> =
                    edits.into_iter().map(|step| edit(&mut new, step)).collect();
                let clean = !has_errors(&validate(&old, None));
                if let (true, Some(local)) = (clean, local_errors(&new, &touched, &in_zone(&old))) {
                    let full = validate(&new, None);
                    proptest::prop_assert_eq!(local.is_empty(), !has_errors(&full), "{:?}", full);
                }
                old = new;
            }
        }
    }

    #[test]
    fn a_text_change_at_a_name_with_data_is_local() {
        let origin: Name = "example.com.".parse().unwrap();
        let old = parse_str(
            &format!("{HEAD}www A 192.0.2.2\nwww TXT \"a\"\nalias CNAME www\n"),
            &origin,
            "t",
        )
        .unwrap()
        .zone;
        let mut new = old.clone();
        let touched = [edit(&mut new, (1, 2, Some(60)))];
        // "a" had no data before: not local.
        assert!(local_errors(&new, &touched, &in_zone(&old)).is_none());
        let www = Name::from_text("www", Some(&origin)).unwrap();
        let mut text = old.clone();
        let txt = parse_str(&format!("{HEAD}www TXT \"b\"\n"), &origin, "t")
            .unwrap()
            .zone;
        text.replace_rrset(
            www.clone(),
            RType::TXT,
            txt.rrset(&www, RType::TXT).cloned(),
        );
        let touched = [(www.clone(), RType::TXT)];
        assert_eq!(
            local_errors(&text, &touched, &in_zone(&old)),
            Some(Vec::new())
        );
        // Text beside the alias is local, and an error.
        let alias = Name::from_text("alias", Some(&origin)).unwrap();
        let mut beside = old.clone();
        beside.replace_rrset(
            alias.clone(),
            RType::TXT,
            txt.rrset(&www, RType::TXT).cloned(),
        );
        let errors = local_errors(&beside, &[(alias, RType::TXT)], &in_zone(&old)).unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        // An address change is not local: NS targets read it.
        let mut address = old.clone();
        address.replace_rrset(www.clone(), RType::A, None);
        assert!(local_errors(&address, &[(www, RType::A)], &in_zone(&old)).is_none());
    }
}

//! Runs: consecutive record changes to one zone by one author, from one log entry, applied one
//! after another to a working copy of the zone and made one version when the run ends
//! (ADR 0016). Each write keeps its own answer, audit entry and idempotency record; what a
//! version costs (content hash, diff, stored body, history row, head) is paid once per run.
//!
//! A write joins the open run when it is a record change to the run's zone by the run's author
//! that changes no RRset an earlier write of the run changed; otherwise the run ends first, so a
//! version is the union of disjoint changes and each write's summary is exactly its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use nebula_wire::{Name, RType};

use super::{apply_changes, check_servable, RecordChange, Rejection, Stamped};
use crate::canonical::same_rrset_content;
use crate::diff::{rrset_change, summary_of, ChangeKind};
use crate::validate::local_errors;
use crate::zone::{Rrset, Zone};

/// One RRset a change touched, as it was just before.
#[derive(Debug)]
pub(super) struct Touch {
    pub owner: Name,
    pub rtype: RType,
    /// Whether the owner held any data.
    pub had_data: bool,
    /// The RRset, with its owner as the zone spelled it (None: there was none).
    pub before: Option<(Name, Arc<Rrset>)>,
}

/// Puts back what `touches` saw, latest first.
pub(super) fn undo(zone: &mut Zone, touches: &[Touch]) {
    for touch in touches.iter().rev() {
        zone.restore(&touch.owner, touch.rtype, touch.before.clone());
    }
}

/// What one write of a run did.
#[derive(Debug)]
pub(super) enum Outcome {
    Rejected(Rejection),
    /// Nothing: its RRsets already were what it asked for. `after_change`: an earlier write
    /// of the run had changed something (then it saw the run's version, else the current one).
    Unchanged {
        after_change: bool,
    },
    /// Changed the zone; the summary counts its own RRsets and the SOA.
    Changed {
        summary: String,
    },
}

#[derive(Debug)]
pub(super) struct Member {
    pub stamped: Stamped,
    /// Its idempotency key and request digest.
    pub keyed: Option<(String, String)>,
    pub outcome: Outcome,
}

/// The write would change an RRset the run already changed: end the run, then start another.
pub(super) struct Overlap;

#[derive(Debug)]
pub(super) struct Run {
    pub key: String,
    pub origin: Name,
    pub author: String,
    /// The run's base version with every change of its members.
    pub zone: Zone,
    /// Whether `zone` is known to have no errors.
    pub checked: bool,
    /// The RRsets the members changed.
    pub changed: BTreeSet<(Name, RType)>,
    /// The stamp of the last member that changed something: the version's time.
    pub time_ms: u64,
    pub members: Vec<Member>,
}

impl Run {
    pub fn new(key: String, origin: Name, author: String, zone: Zone, checked: bool) -> Run {
        Run {
            key,
            origin,
            author,
            zone,
            checked,
            changed: BTreeSet::new(),
            time_ms: 0,
            members: Vec::new(),
        }
    }

    /// Whether a record change to zone `key` by `author` may join.
    pub fn takes(&self, key: &str, author: &str) -> bool {
        self.key == key && self.author == author
    }

    /// Applies one write's `changes` to the run's zone, all or nothing, checked as a write on
    /// its own would be. A run with no changes yet never overlaps.
    pub fn join(
        &mut self,
        stamped: &Stamped,
        changes: &[RecordChange],
        keyed: Option<(String, String)>,
    ) -> Result<(), Overlap> {
        let outcome = self.apply(stamped.time_ms, changes)?;
        self.members.push(Member {
            stamped: stamped.clone(),
            keyed,
            outcome,
        });
        Ok(())
    }

    fn apply(&mut self, time_ms: u64, changes: &[RecordChange]) -> Result<Outcome, Overlap> {
        let touches = match apply_changes(&mut self.zone, changes) {
            Ok(touches) => touches,
            Err(rejection) => return Ok(Outcome::Rejected(rejection)),
        };
        let (mut added, mut removed, mut changed) = (0, 0, 0);
        let mut sets: Vec<(Name, RType)> = Vec::new();
        // A write may touch an RRset more than once: its first touch saw it as it was.
        let mut seen = BTreeSet::new();
        for touch in &touches {
            if !seen.insert((&touch.owner, touch.rtype)) {
                continue;
            }
            let before = touch.before.as_ref().map(|(_, set)| &**set);
            let after = self.zone.rrset(&touch.owner, touch.rtype);
            let at = (&touch.owner, touch.rtype);
            if same_rrset_content(at, self.zone.class, before, after) {
                continue;
            }
            sets.push((touch.owner.clone(), touch.rtype));
            // The SOA is counted once below: every version moves its serial.
            if touch.rtype != RType::SOA {
                match rrset_change(before, after) {
                    Some(ChangeKind::Added) => added += 1,
                    Some(ChangeKind::Removed) => removed += 1,
                    Some(ChangeKind::Changed) | None => changed += 1,
                }
            }
        }
        if sets.is_empty() {
            undo(&mut self.zone, &touches);
            return Ok(Outcome::Unchanged {
                after_change: !self.changed.is_empty(),
            });
        }
        if sets.iter().any(|set| self.changed.contains(set)) {
            undo(&mut self.zone, &touches);
            return Err(Overlap);
        }
        // A local change to a zone known to be clean is checked at its names alone. Any finding
        // goes through the full check, whose message is what every node stores, whichever way
        // it got there.
        let touched: Vec<(Name, RType)> =
            touches.iter().map(|t| (t.owner.clone(), t.rtype)).collect();
        let mut had: BTreeMap<&Name, bool> = BTreeMap::new();
        for touch in &touches {
            had.entry(&touch.owner).or_insert(touch.had_data);
        }
        let had_data = |owner: &Name| had.get(owner).copied().unwrap_or(false);
        let clean = self.checked
            && local_errors(&self.zone, &touched, &had_data)
                .is_some_and(|errors| errors.is_empty());
        if !clean {
            if let Err(rejection) = check_servable(&self.zone) {
                undo(&mut self.zone, &touches);
                return Ok(Outcome::Rejected(rejection));
            }
        }
        self.checked = true;
        self.changed.extend(sets);
        self.time_ms = time_ms;
        Ok(Outcome::Changed {
            summary: summary_of(added, removed, changed + 1),
        })
    }
}

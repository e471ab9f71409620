//! The replicated state machine's domain half: zone versions, history, the audit log, API
//! tokens and idempotency records, kept in [`crate::db`] and changed only by [`Stamped`]
//! commands. Raft (in `nebula-raft`) decides the order; this module decides the effect, the
//! same on every node for the same command: no clocks, no randomness, no I/O but the database.
//!
//! Each applied command becomes one atomic [`Batch`]: the new content-addressed zone body, the
//! history row, the zone's head, the audit entry and the idempotency record, plus whatever the
//! caller adds (Raft's applied log id). A command that changes nothing makes no version; a
//! rejected command changes nothing but is still audited, since it reached the log.

use std::collections::BTreeMap;
use std::sync::Arc;

use nebula_wire::{Name, RData, RType};
use serde::{Deserialize, Serialize};

use crate::canonical::{content_hash_cached, HashCache, HashFormat};
use crate::db::{decode_json, Batch, Cf, Db, DbError};
use crate::deploys::{self, DeployRecord, PeerStatus, TransferNote};
use crate::diff::{diff, ZoneDiff};
use crate::format::{from_document, Data, RecordEntry, Ttl, ZoneDocument};
use crate::master;
use crate::meta::{self, MetaWrite, Secondary, TsigKeyRecord, Upstream};
pub use crate::meta::{list_tokens, read_token};
use crate::serial::{first_serial, next_serial, SerialPolicy};
use crate::sha256::Sha256;
use crate::validate::{has_errors, validate};
use crate::versions;
use crate::zone::{Rrset, Zone};

mod run;
use run::{Member, Run, Touch};

/// A command as the leader stamped it: the time (serials derive from it), who asked, the
/// client's idempotency key, and the content-hash format of a zone it creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped {
    pub time_ms: u64,
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The format a zone this command creates takes (the leader's [`HashFormat::CURRENT`]).
    /// Absent in commands logged before format 2 existed: they create format-1 zones, on a
    /// replay as when they were first applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_format: Option<HashFormat>,
    pub command: Command,
}

impl Stamped {
    /// `command` as the leader stamps it now.
    pub fn now(author: String, idempotency_key: Option<String>, command: Command) -> Stamped {
        Stamped {
            time_ms: now_ms(),
            author,
            idempotency_key,
            hash_format: Some(HashFormat::CURRENT),
            command,
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A change to the replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Create (`create_only`) or create-or-replace a zone from master-file text.
    PutZone {
        zone: String,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<SerialPolicy>,
        create_only: bool,
    },
    DeleteZone {
        zone: String,
    },
    /// Record changes applied together or not at all.
    ChangeRecords {
        zone: String,
        changes: Vec<RecordChange>,
    },
    /// A new version with an old version's content (a roll-forward with a higher serial).
    Rollback {
        zone: String,
        to_version: u64,
    },
    PutToken {
        token: TokenRecord,
    },
    RevokeToken {
        id: String,
    },
    /// Create a TSIG key, or (`rotate`) give an existing one a new secret.
    PutTsigKey {
        key: TsigKeyRecord,
        #[serde(default)]
        rotate: bool,
    },
    DeleteTsigKey {
        name: String,
    },
    /// Declare (or redeclare) a secondary server.
    PutSecondary {
        secondary: Secondary,
    },
    DeleteSecondary {
        name: String,
    },
    /// Make a zone a secondary of external primaries (or change its primaries).
    PutUpstream {
        upstream: Upstream,
    },
    /// Stop transferring a zone from its primaries (the zone itself stays until deleted).
    DeleteUpstream {
        zone: String,
    },
    /// Open deploys, or move them on (the verifier, once per pass for all of them).
    PutDeploys {
        deploys: Vec<DeployRecord>,
    },
    /// What the verifier observed of a secondary (not audited: bookkeeping).
    PutPeerStatus {
        status: PeerStatus,
    },
    /// A transfer a node served to a declared secondary (not audited: bookkeeping).
    RecordTransfer {
        note: TransferNote,
    },
}

impl Command {
    /// The zone the command is about, if any.
    pub fn zone(&self) -> Option<&str> {
        match self {
            Command::PutZone { zone, .. }
            | Command::DeleteZone { zone }
            | Command::ChangeRecords { zone, .. }
            | Command::Rollback { zone, .. } => Some(zone),
            Command::PutToken { .. }
            | Command::RevokeToken { .. }
            | Command::PutTsigKey { .. }
            | Command::DeleteTsigKey { .. }
            | Command::PutSecondary { .. }
            | Command::DeleteSecondary { .. }
            | Command::PutUpstream { .. }
            | Command::DeleteUpstream { .. }
            | Command::PutDeploys { .. }
            | Command::PutPeerStatus { .. }
            | Command::RecordTransfer { .. } => None,
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            Command::PutZone {
                create_only: true, ..
            } => "create_zone",
            Command::PutZone { .. } => "replace_zone",
            Command::DeleteZone { .. } => "delete_zone",
            Command::ChangeRecords { .. } => "change_records",
            Command::Rollback { .. } => "rollback",
            Command::PutToken { .. } => "create_token",
            Command::RevokeToken { .. } => "revoke_token",
            Command::PutTsigKey { rotate: false, .. } => "create_tsig_key",
            Command::PutTsigKey { rotate: true, .. } => "rotate_tsig_key",
            Command::DeleteTsigKey { .. } => "delete_tsig_key",
            Command::PutSecondary { .. } => "put_secondary",
            Command::DeleteSecondary { .. } => "delete_secondary",
            Command::PutUpstream { .. } => "put_upstream",
            Command::DeleteUpstream { .. } => "delete_upstream",
            Command::PutDeploys { .. } => "deploy",
            Command::PutPeerStatus { .. } => "peer_status",
            Command::RecordTransfer { .. } => "record_transfer",
        }
    }

    /// Whether applying it writes an audit entry: everything an operator or a deploy does, not
    /// the verifier's and the transfer servers' bookkeeping.
    pub fn audited(&self) -> bool {
        !matches!(
            self,
            Command::PutPeerStatus { .. } | Command::RecordTransfer { .. }
        )
    }
}

/// One RRset change in a [`Command::ChangeRecords`] batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordChange {
    pub action: ChangeAction,
    /// Owner: relative to the zone, `@`, or absolute with a trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// Required for a new RRset; an existing RRset keeps its TTL when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    /// RDATA in presentation form. `delete` without data removes the whole RRset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeAction {
    /// Add records to an RRset (creating it).
    Add,
    /// Remove the given records, or the whole RRset.
    Delete,
    /// Replace the RRset with exactly these records.
    Replace,
}

/// What a role may do; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

/// An API token as stored: never the secret, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub secret_sha256: String,
    pub role: Role,
    /// Zones the token may touch (lower-case, absolute); empty means every zone.
    #[serde(default)]
    pub zones: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// Where a zone is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneHead {
    pub name: String,
    pub version: u64,
    pub serial: u32,
    pub hash: String,
    pub policy: SerialPolicy,
    pub deleted: bool,
    pub updated_ms: u64,
    pub records: usize,
    /// How `hash` is computed: the format the zone was created with (1 when absent, as heads
    /// stored before format 2 are).
    #[serde(default)]
    pub hash_format: HashFormat,
}

/// One version in a zone's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: u64,
    pub serial: u32,
    /// The content hash (hex); empty for a deletion.
    pub hash: String,
    pub time_ms: u64,
    pub author: String,
    pub action: String,
    pub summary: String,
    pub parent: Option<u64>,
}

/// One entry of the hash-chained audit log: `hash = SHA-256(prev_hash || JSON of the entry
/// with an empty hash)`, so editing or dropping an entry breaks every later hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub time_ms: u64,
    pub author: String,
    pub action: String,
    pub zone: Option<String>,
    pub idempotency_key: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub version: Option<u64>,
    pub serial: Option<u32>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    fn chain_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(serde_json::to_vec(&unhashed).unwrap_or_default());
        data_encoding::HEXLOWER.encode(&hasher.finalize())
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new version (or token change) was committed.
    Applied,
    /// The content equals the current version: no new version.
    Unchanged,
    /// The idempotency key was seen before; this is the first attempt's result.
    Replayed,
    /// Not applied: what applying would do.
    DryRun,
    /// A Raft-internal entry (membership, blank); nothing for clients.
    Internal,
}

/// The answer to a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResult {
    pub outcome: Outcome,
    pub zone: Option<String>,
    pub version: Option<u64>,
    pub serial: Option<u32>,
    pub hash: Option<String>,
    pub summary: String,
    pub audit_seq: Option<u64>,
}

impl WriteResult {
    pub fn internal() -> WriteResult {
        WriteResult {
            outcome: Outcome::Internal,
            zone: None,
            version: None,
            serial: None,
            hash: None,
            summary: String::new(),
            audit_seq: None,
        }
    }
}

/// Why a command was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub kind: RejectKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    NotFound,
    Conflict,
    Invalid,
}

impl Rejection {
    fn new(kind: RejectKind, message: impl Into<String>) -> Rejection {
        Rejection {
            kind,
            message: message.into(),
        }
    }

    /// The answer for a command of a batch entry that was applied before this node restarted
    /// and is skipped on replay (nobody waits for it: its client was answered, or saw the
    /// leader fail).
    pub fn applied_before_restart() -> Rejection {
        Rejection::new(
            RejectKind::Conflict,
            "applied before this node restarted; see the zone history or the audit log",
        )
    }
}

pub type ApplyResult = Result<WriteResult, Rejection>;

/// A zone whose served data changed: the data plane recompiles it (or drops it: `zone` None).
#[derive(Debug, Clone)]
pub struct ZoneChange {
    pub origin: Name,
    pub zone: Option<Arc<Zone>>,
}

#[derive(Debug, Clone)]
struct Slot {
    head: ZoneHead,
    zone: Option<Arc<Zone>>,
    /// How many deltas the head's stored body sits on, once known (a full body of a large zone
    /// is not read just to learn that it is full).
    depth: Option<u32>,
    /// The hashed bytes of the zone's RRsets, once a change has hashed it: the next change
    /// encodes only what it touched.
    hashes: Option<HashCache>,
    /// Whether this process found no errors in `zone`: then a change whose effects stay at its
    /// own names needs only those checked (`validate::local_errors`).
    checked: bool,
}

/// The zone state machine over a database.
#[derive(Debug)]
pub struct ZoneStore {
    db: Arc<Db>,
    zones: BTreeMap<String, Slot>,
    audit_seq: u64,
    audit_hash: String,
    /// The configured secondaries, read on the first zone write after a meta command (only
    /// meta commands change them) instead of on every write.
    secondaries: Option<Vec<Secondary>>,
    /// Record changes applied but not yet made a version ([`ZoneStore::end_run`]).
    run: Option<Run>,
}

/// How the secondary-role refresher signs its writes (`secondary of <primary>`): the only author
/// that may change a zone taken from external primaries.
pub const UPSTREAM_AUTHOR: &str = "secondary of ";

/// The lower-case absolute text form used as a zone's key.
pub fn zone_key(name: &Name) -> String {
    name.to_lowercase().to_string()
}

/// Parses an API zone name (trailing dot optional) into its key and origin.
pub fn parse_zone_name(text: &str) -> Result<(String, Name), Rejection> {
    let name = Name::from_text(text, Some(&Name::root()))
        .map_err(|e| Rejection::new(RejectKind::Invalid, format!("zone name {text:?}: {e}")))?;
    Ok((zone_key(&name), name))
}

fn head_key(key: &str) -> Vec<u8> {
    format!("zone/{key}").into_bytes()
}

fn history_key(key: &str, version: u64) -> Vec<u8> {
    let mut out = key.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// Reads a zone's head.
pub fn read_head(db: &Db, key: &str) -> Result<Option<ZoneHead>, DbError> {
    db.get_json(Cf::State, &head_key(key))
}

/// Every zone head (deleted ones included), in key order.
pub fn list_heads(db: &Db) -> Result<Vec<ZoneHead>, DbError> {
    db.scan_prefix(Cf::State, b"zone/")?
        .into_iter()
        .map(|(k, v)| decode_json(Cf::State, &k, &v))
        .collect()
}

/// Up to `limit` history entries of a zone from `from_version` on.
pub fn read_history(
    db: &Db,
    key: &str,
    from_version: u64,
    limit: usize,
) -> Result<Vec<HistoryEntry>, DbError> {
    let end = history_key(key, u64::MAX);
    db.scan(
        Cf::History,
        &history_key(key, from_version),
        Some(&end),
        limit,
    )?
    .into_iter()
    .map(|(k, v)| decode_json(Cf::History, &k, &v))
    .collect()
}

/// A zone as it was at `version`, with that version's serial; None if there is no such
/// version or it is a deletion.
pub fn read_version(
    db: &Db,
    key: &str,
    version: u64,
) -> Result<Option<(HistoryEntry, Zone)>, DbError> {
    let Some(entry) = db.get_json::<HistoryEntry>(Cf::History, &history_key(key, version))? else {
        return Ok(None);
    };
    if entry.hash.is_empty() {
        return Ok(None);
    }
    let zone = load_body(db, key, &entry.hash, entry.serial)?;
    Ok(Some((entry, zone)))
}

/// Up to `limit` audit entries from sequence number `from` on.
pub fn read_audit(db: &Db, from: u64, limit: usize) -> Result<Vec<AuditEntry>, DbError> {
    db.scan(Cf::Audit, &from.to_be_bytes(), None, limit)?
        .into_iter()
        .map(|(k, v)| decode_json(Cf::Audit, &k, &v))
        .collect()
}

/// Checks the audit chain from the start; returns the number of entries, or the first
/// sequence number whose hash does not follow.
pub fn verify_audit(db: &Db) -> Result<Result<u64, u64>, DbError> {
    let mut prev = String::new();
    let mut count = 0;
    for (k, v) in db.scan(Cf::Audit, &[], None, usize::MAX)? {
        let entry: AuditEntry = decode_json(Cf::Audit, &k, &v)?;
        if entry.prev_hash != prev || entry.chain_hash() != entry.hash {
            return Ok(Err(entry.seq));
        }
        prev = entry.hash;
        count += 1;
    }
    Ok(Ok(count))
}

/// Whether a node id was ever a member and then removed (ids are never reused).
pub fn node_retired(db: &Db, id: u64) -> Result<bool, DbError> {
    Ok(db
        .get(Cf::State, format!("node/{id}").as_bytes())?
        .as_deref()
        == Some(b"\"removed\"".as_slice()))
}

/// Records cluster membership in `batch`: every id in `members` is a member; ids that were
/// members and are not any more become removed, for good.
pub fn record_membership(db: &Db, batch: &mut Batch<'_>, members: &[u64]) -> Result<(), DbError> {
    for (key, value) in db.scan_prefix(Cf::State, b"node/")? {
        let id = String::from_utf8_lossy(&key["node/".len()..])
            .parse::<u64>()
            .ok();
        if value == b"\"member\"" && id.is_some_and(|id| !members.contains(&id)) {
            batch.put(Cf::State, &key, b"\"removed\"")?;
        }
    }
    for id in members {
        batch.put(Cf::State, format!("node/{id}").as_bytes(), b"\"member\"")?;
    }
    Ok(())
}

fn load_body(db: &Db, key: &str, hash: &str, serial: u32) -> Result<Zone, DbError> {
    let (_, origin) = parse_zone_name(key).map_err(|e| DbError::Corrupt {
        what: format!("zone {key}"),
        message: e.message,
    })?;
    Ok(with_serial(versions::load(db, key, &origin, hash)?, serial))
}

/// `zone` with its SOA serial set to `serial`.
pub fn with_serial(mut zone: Zone, serial: u32) -> Zone {
    let origin = zone.origin.clone();
    if let Some(rrset) = zone.rrset_mut(&origin, RType::SOA) {
        for rdata in &mut rrset.rdatas {
            if let RData::Soa(soa) = rdata {
                soa.serial = serial;
            }
        }
    }
    zone
}

fn soa_serial(zone: &Zone) -> Option<u32> {
    zone.soa().map(|soa| soa.serial)
}

/// The content a zone command proposes, before [`ZoneStore::finish_plan`] makes it a version.
struct Planned {
    zone: Zone,
    policy: SerialPolicy,
    /// The serial the submitted text carries, if any.
    submitted: Option<u32>,
    action: &'static str,
    /// Whether `zone` was validated (a rollback's old content is not).
    checked: bool,
}

/// The answers [`ZoneStore::apply_into`] made final, in command order, and the zones whose
/// data changed.
#[derive(Debug, Default)]
pub struct Applied {
    pub results: Vec<ApplyResult>,
    pub changes: Vec<ZoneChange>,
}

fn missing(key: &str) -> Rejection {
    Rejection::new(RejectKind::NotFound, format!("zone {key} does not exist"))
}

/// What a zone command will do, computed without writing.
struct ZonePlan {
    key: String,
    origin: Name,
    head: ZoneHead,
    /// None: the zone is deleted.
    zone: Option<Zone>,
    action: &'static str,
    summary: String,
    unchanged: bool,
    /// What changed from the current version (absent for a new zone or a deletion).
    diff: Option<ZoneDiff>,
    hashes: Option<HashCache>,
    /// Whether the new zone was validated (a rollback's old content is not).
    checked: bool,
}

impl ZoneStore {
    /// Loads every zone's current version from the database.
    pub fn open(db: Arc<Db>) -> Result<ZoneStore, DbError> {
        let mut zones = BTreeMap::new();
        for head in list_heads(&db)? {
            let zone = if head.deleted {
                None
            } else {
                Some(Arc::new(load_body(
                    &db,
                    &head.name,
                    &head.hash,
                    head.serial,
                )?))
            };
            zones.insert(
                head.name.clone(),
                Slot {
                    head,
                    zone,
                    depth: None,
                    hashes: None,
                    checked: false,
                },
            );
        }
        let (audit_seq, audit_hash) = match db.last(Cf::Audit, None)? {
            None => (0, String::new()),
            Some((k, v)) => {
                let entry: AuditEntry = decode_json(Cf::Audit, &k, &v)?;
                (entry.seq, entry.hash)
            }
        };
        Ok(ZoneStore {
            db,
            zones,
            audit_seq,
            audit_hash,
            secondaries: None,
            run: None,
        })
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The zones being served, for building the data plane's catalog.
    pub fn served(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values().filter_map(|slot| slot.zone.as_ref())
    }

    /// Applies one command: one atomic batch with the caller's `extra` entries (Raft's
    /// applied log id). Returns the client's answer and the zones whose data changed.
    pub fn apply(
        &mut self,
        stamped: &Stamped,
        extra: &[(Cf, Vec<u8>, Vec<u8>)],
        durable: bool,
    ) -> Result<(ApplyResult, Vec<ZoneChange>), DbError> {
        let db = Arc::clone(&self.db);
        let mut batch = db.batch();
        let mut applied = self.apply_into(stamped, extra, &mut batch, false)?;
        db.write(batch, durable)?;
        let result = applied.results.pop().ok_or_else(|| DbError::Corrupt {
            what: "the state machine".to_owned(),
            message: "a command was applied without an answer".to_owned(),
        })?;
        Ok((result, applied.changes))
    }

    /// Whether [`ZoneStore::apply_into`] may put `stamped` into a batch holding other commands
    /// not yet written: it reads nothing from the database that such commands could have
    /// changed (zone data is read from memory), provided the commands of one batch use
    /// distinct idempotency keys. Meta commands (they read their state from the database) and
    /// rollbacks (they read an old version) are not.
    pub fn batchable(stamped: &Stamped) -> bool {
        matches!(
            stamped.command,
            Command::PutZone { .. } | Command::DeleteZone { .. } | Command::ChangeRecords { .. }
        )
    }

    /// [`ZoneStore::apply`] into the caller's `batch`, which the caller writes; the in-memory
    /// state moves on at once. See [`ZoneStore::batchable`] for what may share a batch.
    ///
    /// Returns the answers that are final, in command order. With `coalesce`, a record change
    /// may join the open run (module `run`) and be answered when the run ends: when a command
    /// that cannot join comes, or at [`ZoneStore::end_run`], which the caller must call before
    /// it writes `batch`.
    pub fn apply_into(
        &mut self,
        stamped: &Stamped,
        extra: &[(Cf, Vec<u8>, Vec<u8>)],
        batch: &mut Batch<'_>,
        coalesce: bool,
    ) -> Result<Applied, DbError> {
        for (cf, key, value) in extra {
            batch.put(*cf, key, value)?;
        }
        let mut applied = Applied::default();
        // Only a keyed request is compared with a later one: hashing the others is wasted work.
        let keyed = stamped
            .idempotency_key
            .as_ref()
            .map(|key| (key.clone(), command_digest(stamped)));
        if let Some((key, digest)) = &keyed {
            if let Some(record) = self
                .db
                .get_json::<IdempotencyRecord>(Cf::State, &idem_key(key))?
            {
                let result = if record.digest == *digest {
                    record.result.map(|mut r| {
                        r.outcome = Outcome::Replayed;
                        r
                    })
                } else {
                    Err(Rejection::new(
                        RejectKind::Conflict,
                        format!("Idempotency-Key {key:?} was already used for a different request; use a new key"),
                    ))
                };
                // Audited too: a replay or a refused reuse is something a client did.
                self.end_run(batch, &mut applied)?;
                self.audit(batch, stamped, &result)?;
                applied.results.push(result);
                return Ok(applied);
            }
        }
        if let Command::ChangeRecords { zone, changes } = &stamped.command {
            self.change_records(stamped, zone, changes, keyed, batch, &mut applied)?;
            if !coalesce {
                self.end_run(batch, &mut applied)?;
            }
            return Ok(applied);
        }
        self.end_run(batch, &mut applied)?;
        let result = match meta::plan(&self.db, &stamped.command, stamped.time_ms)? {
            Some(Err(rejection)) => Err(rejection),
            Some(Ok(plan)) => {
                self.secondaries = None;
                for write in &plan.writes {
                    match write {
                        MetaWrite::Put(key, value) => batch.put(Cf::State, key, value)?,
                        MetaWrite::Delete(key) => batch.delete(Cf::State, key)?,
                    }
                }
                Ok(meta_result(plan.summary))
            }
            None => match self.plan(stamped)? {
                Err(rejection) => Err(rejection),
                Ok(plan) => Ok(self.write_plan(
                    plan,
                    (stamped.time_ms, &stamped.author),
                    batch,
                    &mut applied.changes,
                )?),
            },
        };
        let result = self.conclude(batch, stamped, keyed, result)?;
        applied.results.push(result);
        Ok(applied)
    }

    /// Audits a command's answer and keeps it for its idempotency key.
    fn conclude(
        &mut self,
        batch: &mut Batch<'_>,
        stamped: &Stamped,
        keyed: Option<(String, String)>,
        result: ApplyResult,
    ) -> Result<ApplyResult, DbError> {
        let audit_seq = if stamped.command.audited() {
            Some(self.audit(batch, stamped, &result)?)
        } else {
            None
        };
        let result = result.map(|mut r| {
            r.audit_seq = audit_seq;
            r
        });
        if let Some((key, digest)) = keyed {
            let record = IdempotencyRecord {
                digest,
                result: result.clone(),
            };
            batch.put_json(Cf::State, &idem_key(&key), &record)?;
        }
        Ok(result)
    }

    /// A record change: joins the open run, or ends it and opens another (module `run`).
    fn change_records(
        &mut self,
        stamped: &Stamped,
        zone: &str,
        changes: &[RecordChange],
        keyed: Option<(String, String)>,
        batch: &mut Batch<'_>,
        applied: &mut Applied,
    ) -> Result<(), DbError> {
        let opened = match parse_zone_name(zone) {
            Ok((key, origin)) => {
                if let Some(run) = self.run.as_mut() {
                    if run.takes(&key, &stamped.author)
                        && run.join(stamped, changes, keyed.clone()).is_ok()
                    {
                        return Ok(());
                    }
                }
                self.end_run(batch, applied)?;
                self.open_run(key, origin, &stamped.author)?
            }
            Err(rejection) => Err(rejection),
        };
        match opened {
            Ok(mut run) => {
                if run.join(stamped, changes, keyed).is_err() {
                    return Err(DbError::Corrupt {
                        what: "the state machine".to_owned(),
                        message: "a record change overlapped an empty run".to_owned(),
                    });
                }
                self.run = Some(run);
            }
            Err(rejection) => {
                self.end_run(batch, applied)?;
                let result = self.conclude(batch, stamped, keyed, Err(rejection))?;
                applied.results.push(result);
            }
        }
        Ok(())
    }

    /// A run on zone `key`'s current version for `author`'s record changes, or why they are
    /// refused.
    fn open_run(
        &self,
        key: String,
        origin: Name,
        author: &str,
    ) -> Result<Result<Run, Rejection>, DbError> {
        if let Some(refusal) = self.upstream_refusal(&key, author)? {
            return Ok(Err(refusal));
        }
        let Some((slot, zone)) = self
            .current(&key)
            .and_then(|slot| slot.zone.as_ref().map(|zone| (slot, zone)))
        else {
            return Ok(Err(missing(&key)));
        };
        Ok(Ok(Run::new(
            key,
            origin,
            author.to_owned(),
            Zone::clone(zone),
            slot.checked,
        )))
    }

    /// Ends the open run, if any: writes its version (if it changed anything) into `batch`,
    /// then each member's audit entry and idempotency record, and adds their answers.
    pub fn end_run(&mut self, batch: &mut Batch<'_>, applied: &mut Applied) -> Result<(), DbError> {
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        let (time_ms, author) = (run.time_ms, run.author.clone());
        let (plan, members) = self.settle(run);
        if let Some(plan) = plan {
            self.write_plan(plan, (time_ms, &author), batch, &mut applied.changes)?;
        }
        for (member, result) in members {
            let result = self.conclude(batch, &member.stamped, member.keyed, result)?;
            applied.results.push(result);
        }
        Ok(())
    }

    /// The version a run makes (None when it changes nothing) and each member's answer.
    fn settle(&self, run: Run) -> (Option<ZonePlan>, Vec<(Member, ApplyResult)>) {
        let base = self.current(&run.key).map(|slot| slot.head.clone());
        let plan = match (&base, run.changed.is_empty()) {
            (Some(head), false) => {
                let planned = Planned {
                    zone: run.zone,
                    policy: head.policy,
                    submitted: None,
                    action: "change",
                    checked: run.checked,
                };
                Some(self.finish_plan(run.key.clone(), run.origin, run.time_ms, None, planned))
                    .filter(|plan| !plan.unchanged)
            }
            _ => None,
        };
        let answer = |head: Option<&ZoneHead>, outcome: Outcome, summary: String| {
            Ok(WriteResult {
                outcome,
                zone: Some(run.key.clone()),
                version: head.map(|h| h.version),
                serial: head.map(|h| h.serial),
                hash: head.map(|h| h.hash.clone()).filter(|h| !h.is_empty()),
                summary,
                audit_seq: None,
            })
        };
        let made = plan.as_ref().map(|plan| &plan.head);
        let members = run
            .members
            .into_iter()
            .map(|member| {
                let result = match &member.outcome {
                    run::Outcome::Rejected(rejection) => Err(rejection.clone()),
                    run::Outcome::Changed { summary } if made.is_some() => {
                        answer(made, Outcome::Applied, summary.clone())
                    }
                    run::Outcome::Unchanged { after_change: true } if made.is_some() => {
                        answer(made, Outcome::Unchanged, "no change".to_owned())
                    }
                    _ => answer(base.as_ref(), Outcome::Unchanged, "no change".to_owned()),
                };
                (member, result)
            })
            .collect();
        (plan, members)
    }

    /// What `stamped` would do, without writing anything (`?dry_run=true`).
    pub fn preview(&self, stamped: &Stamped) -> Result<ApplyResult, DbError> {
        if let Command::ChangeRecords { zone, changes } = &stamped.command {
            let mut run = match parse_zone_name(zone) {
                Ok((key, origin)) => match self.open_run(key, origin, &stamped.author)? {
                    Ok(run) => run,
                    Err(rejection) => return Ok(Err(rejection)),
                },
                Err(rejection) => return Ok(Err(rejection)),
            };
            // A run with no changes yet takes any write.
            let _ = run.join(stamped, changes, None);
            let (_, members) = self.settle(run);
            return Ok(match members.into_iter().next() {
                Some((_, result)) => result.map(dry),
                None => Err(Rejection::new(RejectKind::Invalid, "no change to preview")),
            });
        }
        Ok(
            match meta::plan(&self.db, &stamped.command, stamped.time_ms)? {
                Some(planned) => planned.map(|plan| dry(meta_result(plan.summary))),
                None => self.plan(stamped)?.map(|plan| dry(plan_result(&plan))),
            },
        )
    }

    /// Why `author` may not change zone `key`, if it is a secondary of external primaries.
    fn upstream_refusal(&self, key: &str, author: &str) -> Result<Option<Rejection>, DbError> {
        let Some(upstream) = meta::read_upstream(&self.db, key)? else {
            return Ok(None);
        };
        // Its primaries own it; only the refresher (authoring as their secondary) writes.
        if author.starts_with(UPSTREAM_AUTHOR) {
            return Ok(None);
        }
        Ok(Some(Rejection::new(
            RejectKind::Conflict,
            format!(
                "zone {key} is a secondary of {}; change it on its primary, or stop taking it from there first (DELETE /api/v1/upstreams/{key})",
                upstream
                    .primaries
                    .iter()
                    .map(|p| p.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )))
    }

    fn current(&self, key: &str) -> Option<&Slot> {
        self.zones.get(key)
    }

    fn plan(&self, stamped: &Stamped) -> Result<Result<ZonePlan, Rejection>, DbError> {
        let Some(zone_text) = stamped.command.zone() else {
            return Ok(Err(Rejection::new(
                RejectKind::Invalid,
                "not a zone command",
            )));
        };
        let (key, origin) = match parse_zone_name(zone_text) {
            Ok(parsed) => parsed,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let slot = self.current(&key);
        if let Some(refusal) = self.upstream_refusal(&key, &stamped.author)? {
            return Ok(Err(refusal));
        }
        let live = slot.and_then(|s| s.zone.as_deref());
        let time = stamped.time_ms;
        let planned = match &stamped.command {
            Command::PutZone {
                body,
                policy,
                create_only,
                ..
            } => {
                if *create_only && live.is_some() {
                    return Ok(Err(Rejection::new(
                        RejectKind::Conflict,
                        format!("zone {key} already exists; replace it with PUT or `nebulactl zone apply`"),
                    )));
                }
                let zone = match parse_body(body, &origin, &key) {
                    Ok(zone) => zone,
                    Err(rejection) => return Ok(Err(rejection)),
                };
                let policy = policy.or(slot.map(|s| s.head.policy)).unwrap_or_default();
                let submitted = soa_serial(&zone);
                Planned {
                    zone,
                    policy,
                    submitted,
                    action: if live.is_some() { "replace" } else { "create" },
                    checked: true,
                }
            }
            Command::Rollback { to_version, .. } => {
                let Some(slot) = slot else {
                    return Ok(Err(missing(&key)));
                };
                let Some((_, zone)) = read_version(&self.db, &key, *to_version)? else {
                    return Ok(Err(Rejection::new(
                        RejectKind::NotFound,
                        format!(
                            "zone {key} has no version {to_version} with content (see its history)"
                        ),
                    )));
                };
                Planned {
                    zone,
                    policy: slot.head.policy,
                    submitted: None,
                    action: "rollback",
                    checked: false,
                }
            }
            Command::DeleteZone { .. } => {
                let Some(slot) = slot.filter(|s| s.zone.is_some()) else {
                    return Ok(Err(missing(&key)));
                };
                let mut head = slot.head.clone();
                head.version += 1;
                head.deleted = true;
                head.hash = String::new();
                head.updated_ms = time;
                head.records = 0;
                return Ok(Ok(ZonePlan {
                    key,
                    origin,
                    head,
                    zone: None,
                    action: "delete",
                    summary: "zone deleted".to_owned(),
                    unchanged: false,
                    diff: None,
                    hashes: None,
                    checked: false,
                }));
            }
            // Record changes go through a run (`change_records`); `zone()` is None for every
            // other command: they never get here.
            _ => {
                return Ok(Err(Rejection::new(
                    RejectKind::Invalid,
                    "not a zone command",
                )))
            }
        };
        Ok(Ok(self.finish_plan(
            key,
            origin,
            time,
            stamped.hash_format,
            planned,
        )))
    }

    /// The version `planned` makes of zone `key` at leader time `time`: its content hash
    /// (the zone's format, or `new_format` for a new zone), serial, diff and head; `unchanged`
    /// when its content is the current version's.
    fn finish_plan(
        &self,
        key: String,
        origin: Name,
        time: u64,
        new_format: Option<HashFormat>,
        planned: Planned,
    ) -> ZonePlan {
        let Planned {
            zone: new_zone,
            policy,
            submitted,
            action,
            checked,
        } = planned;
        let slot = self.current(&key);
        let live = slot.and_then(|s| s.zone.as_deref());
        // A zone keeps its format; a new one (or one created again after a deletion) takes the
        // stamped one.
        let format = match (slot, live) {
            (Some(slot), Some(_)) => slot.head.hash_format,
            _ => new_format.unwrap_or_default(),
        };
        let (hash, hashes) =
            content_hash_cached(format, &new_zone, slot.and_then(|s| s.hashes.as_ref()));
        let hash = hash.to_string();
        if let (Some(slot), Some(current)) = (slot, live) {
            if slot.head.hash == hash {
                return ZonePlan {
                    key,
                    origin,
                    head: slot.head.clone(),
                    zone: Some(current.clone()),
                    action,
                    summary: "no change".to_owned(),
                    unchanged: true,
                    diff: None,
                    // The current version's cache stays; nothing is written.
                    hashes: None,
                    checked: false,
                };
            }
        }
        let serial = match slot {
            Some(slot) => next_serial(slot.head.serial, policy, time, submitted),
            None => first_serial(policy, time, submitted.unwrap_or(1)),
        };
        let new_zone = with_serial(new_zone, serial);
        let hashes = hashes.map(|cache| cache.restamped(&new_zone));
        let diff = live.map(|current| diff(current, &new_zone));
        let summary = match &diff {
            Some(diff) => diff.summary(),
            None => format!("{} records", new_zone.record_count()),
        };
        let head = ZoneHead {
            name: key.clone(),
            version: slot.map_or(1, |s| s.head.version + 1),
            serial,
            hash,
            policy,
            deleted: false,
            updated_ms: time,
            records: new_zone.record_count(),
            hash_format: format,
        };
        ZonePlan {
            key,
            origin,
            head,
            zone: Some(new_zone),
            action,
            summary,
            unchanged: false,
            diff,
            hashes,
            checked,
        }
    }

    fn write_plan(
        &mut self,
        plan: ZonePlan,
        (time_ms, author): (u64, &str),
        batch: &mut Batch<'_>,
        changes: &mut Vec<ZoneChange>,
    ) -> Result<WriteResult, DbError> {
        let result = plan_result(&plan);
        if plan.unchanged {
            return Ok(result);
        }
        let current = self.current(&plan.key);
        let parent = current.map(|slot| slot.head.version);
        let mut depth = None;
        if let Some(zone) = &plan.zone {
            let base = current
                .filter(|slot| !slot.head.deleted)
                .map(|slot| versions::Base {
                    hash: &slot.head.hash,
                    depth: slot.depth,
                });
            depth = versions::store(
                &self.db,
                batch,
                &plan.key,
                &plan.head.hash,
                zone,
                base.zip(plan.diff.as_ref()),
            )?;
        }
        let entry = HistoryEntry {
            version: plan.head.version,
            serial: plan.head.serial,
            hash: plan.head.hash.clone(),
            time_ms,
            author: author.to_owned(),
            action: plan.action.to_owned(),
            summary: plan.summary.clone(),
            parent,
        };
        batch.put_json(
            Cf::History,
            &history_key(&plan.key, plan.head.version),
            &entry,
        )?;
        batch.put_json(Cf::State, &head_key(&plan.key), &plan.head)?;
        if plan.zone.is_some() {
            // Safe in a shared batch: secondaries change only by meta commands, which never
            // share one (see `batchable`).
            if self.secondaries.is_none() {
                self.secondaries = Some(meta::list_secondaries(&self.db)?);
            }
            let watched = self
                .secondaries
                .iter()
                .flatten()
                .any(|s| s.takes(&plan.key));
            deploys::open_implicit(
                batch,
                &plan.key,
                plan.head.version,
                plan.head.serial,
                time_ms,
                watched,
            )?;
        }
        let zone = plan.zone.map(Arc::new);
        changes.push(ZoneChange {
            origin: plan.origin,
            zone: zone.clone(),
        });
        self.zones.insert(
            plan.key,
            Slot {
                head: plan.head,
                zone,
                depth,
                hashes: plan.hashes,
                checked: plan.checked,
            },
        );
        Ok(result)
    }

    fn audit(
        &mut self,
        batch: &mut Batch<'_>,
        stamped: &Stamped,
        result: &ApplyResult,
    ) -> Result<u64, DbError> {
        let seq = self.audit_seq + 1;
        let (outcome, detail, version, serial) = match result {
            Ok(r) => (
                match r.outcome {
                    Outcome::Unchanged => "unchanged",
                    Outcome::Replayed => "replayed",
                    _ => "applied",
                },
                r.summary.clone(),
                r.version,
                r.serial,
            ),
            Err(rejection) => ("rejected", rejection.message.clone(), None, None),
        };
        let mut entry = AuditEntry {
            seq,
            time_ms: stamped.time_ms,
            author: stamped.author.clone(),
            action: stamped.command.action().to_owned(),
            zone: stamped.command.zone().map(str::to_owned),
            idempotency_key: stamped.idempotency_key.clone(),
            outcome: outcome.to_owned(),
            detail,
            version,
            serial,
            prev_hash: self.audit_hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.chain_hash();
        batch.put_json(Cf::Audit, &seq.to_be_bytes(), &entry)?;
        self.audit_seq = seq;
        self.audit_hash = entry.hash;
        Ok(seq)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyRecord {
    digest: String,
    result: ApplyResult,
}

fn idem_key(key: &str) -> Vec<u8> {
    format!("idem/{key}").into_bytes()
}

/// Identifies a request for idempotency: the same key with another request is refused.
fn command_digest(stamped: &Stamped) -> String {
    let mut hasher = Sha256::new();
    hasher.update(stamped.author.as_bytes());
    hasher.update(serde_json::to_vec(&stamped.command).unwrap_or_default());
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

fn meta_result(summary: String) -> WriteResult {
    WriteResult {
        outcome: Outcome::Applied,
        summary,
        ..WriteResult::internal()
    }
}

fn dry(mut result: WriteResult) -> WriteResult {
    result.outcome = Outcome::DryRun;
    result
}

fn plan_result(plan: &ZonePlan) -> WriteResult {
    WriteResult {
        outcome: if plan.unchanged {
            Outcome::Unchanged
        } else {
            Outcome::Applied
        },
        zone: Some(plan.key.clone()),
        version: Some(plan.head.version),
        serial: Some(plan.head.serial),
        hash: (!plan.head.hash.is_empty()).then(|| plan.head.hash.clone()),
        summary: plan.summary.clone(),
        audit_seq: None,
    }
}

/// Parses and validates master-file text for `origin`.
pub fn parse_body(body: &str, origin: &Name, key: &str) -> Result<Zone, Rejection> {
    let parsed = master::parse_str(body, origin, key)
        .map_err(|e| Rejection::new(RejectKind::Invalid, e.to_string()))?;
    check_servable(&parsed.zone)?;
    Ok(parsed.zone)
}

fn check_servable(zone: &Zone) -> Result<(), Rejection> {
    let diagnostics = validate(zone, None);
    if has_errors(&diagnostics) {
        let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        return Err(Rejection::new(RejectKind::Invalid, messages.join("\n")));
    }
    Ok(())
}

/// Applies record changes to `zone` in place, all or nothing (a refused change leaves `zone` as
/// it was); returns what each change touched, as it was before.
fn apply_changes(zone: &mut Zone, changes: &[RecordChange]) -> Result<Vec<Touch>, Rejection> {
    let mut touches = Vec::with_capacity(changes.len());
    let applied = apply_each(zone, changes, &mut touches);
    if applied.is_err() {
        run::undo(zone, &touches);
    }
    applied.map(|()| touches)
}

fn apply_each(
    out: &mut Zone,
    changes: &[RecordChange],
    touches: &mut Vec<Touch>,
) -> Result<(), Rejection> {
    for (index, change) in changes.iter().enumerate() {
        let at = |message: String| {
            Rejection::new(
                RejectKind::Invalid,
                format!(
                    "change {} ({:?} {} {}): {message}",
                    index + 1,
                    change.action,
                    change.name,
                    change.rtype
                ),
            )
        };
        let rtype = RType::from_text(&change.rtype)
            .ok_or_else(|| at(format!("unknown type {:?}", change.rtype)))?;
        let owner = if change.name == "@" {
            out.origin.clone()
        } else {
            Name::from_text(&change.name, Some(&out.origin)).map_err(|e| at(e.to_string()))?
        };
        if !owner.is_subdomain_of(&out.origin) {
            return Err(at(format!("{owner} is not in zone {}", out.origin)));
        }
        let before = out.entry(&owner, rtype);
        let existing = before.as_ref().map(|(_, set)| Rrset::clone(set));
        touches.push(Touch {
            owner: owner.clone(),
            rtype,
            had_data: out.rrsets_at(&owner).next().is_some(),
            before,
        });
        let parsed = match &change.data {
            None => None,
            Some(data) => {
                let document = ZoneDocument {
                    name: out.origin.to_string(),
                    default_ttl: existing.as_ref().map(|set| Ttl::Seconds(set.ttl)),
                    class: None,
                    records: vec![RecordEntry {
                        name: owner.to_string(),
                        rtype: change.rtype.clone(),
                        ttl: change.ttl.clone(),
                        data: data.clone(),
                    }],
                };
                let parsed = from_document(&document, "change").map_err(|e| at(e.to_string()))?;
                parsed.zone.rrset(&owner, rtype).cloned()
            }
        };
        match (change.action, parsed) {
            (ChangeAction::Add, Some(new)) => {
                let mut set = existing.unwrap_or_else(|| new.clone());
                set.ttl = new.ttl;
                for rdata in new.rdatas {
                    if !set.rdatas.contains(&rdata) {
                        set.rdatas.push(rdata);
                    }
                }
                out.replace_rrset(owner, rtype, Some(set));
            }
            (ChangeAction::Replace, Some(new)) => {
                out.replace_rrset(owner, rtype, Some(new));
            }
            (ChangeAction::Add | ChangeAction::Replace, None) => {
                return Err(at("data is required".to_owned()));
            }
            (ChangeAction::Delete, None) => {
                if existing.is_none() {
                    return Err(at("there is no such RRset to delete".to_owned()));
                }
                out.replace_rrset(owner, rtype, None);
            }
            (ChangeAction::Delete, Some(gone)) => {
                let Some(mut set) = existing else {
                    return Err(at("there is no such RRset to delete".to_owned()));
                };
                for rdata in &gone.rdatas {
                    let before = set.rdatas.len();
                    set.rdatas.retain(|r| r != rdata);
                    if set.rdatas.len() == before {
                        return Err(at(format!("the RRset has no record {rdata}")));
                    }
                }
                out.replace_rrset(owner, rtype, Some(set));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::content_hash;
    use crate::deploys::DeployState;
    use crate::export::to_master_file;

    const ZONE: &str = "$TTL 300\n@ SOA ns1 hostmaster 5 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\n";
    const NOON: u64 = 1_795_694_400_000;

    fn stamped(command: Command, key: Option<&str>) -> Stamped {
        Stamped {
            time_ms: NOON,
            author: "test".to_owned(),
            idempotency_key: key.map(str::to_owned),
            hash_format: Some(HashFormat::CURRENT),
            command,
        }
    }

    fn put(body: &str) -> Command {
        Command::PutZone {
            zone: "Example.COM".to_owned(),
            body: body.to_owned(),
            policy: None,
            create_only: false,
        }
    }

    fn change(action: ChangeAction, name: &str, rtype: &str, data: Option<&str>) -> RecordChange {
        RecordChange {
            action,
            name: name.to_owned(),
            rtype: rtype.to_owned(),
            ttl: data.map(|_| Ttl::Seconds(300)),
            data: data.map(|d| Data::One(d.to_owned())),
        }
    }

    fn open() -> (tempfile::TempDir, ZoneStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path()).unwrap());
        (dir, ZoneStore::open(db).unwrap())
    }

    #[test]
    fn zones_keep_the_hash_format_they_were_created_with() {
        let (_dir, mut store) = open();
        // A command logged before format 2 existed carries none: its zone is format 1, on a
        // replay as when it was first applied, and stays so through later commands.
        let old = Stamped {
            hash_format: None,
            ..stamped(put(ZONE), None)
        };
        store.apply(&old, &[], false).unwrap().0.unwrap();
        let www = change(ChangeAction::Add, "www", "A", Some("192.0.2.11"));
        let batch = Command::ChangeRecords {
            zone: "example.com.".to_owned(),
            changes: vec![www],
        };
        store
            .apply(&stamped(batch, None), &[], false)
            .unwrap()
            .0
            .unwrap();
        let versions: Vec<_> = (1..=2)
            .map(|v| read_version(&store.db, "example.com.", v).unwrap().unwrap())
            .collect();
        for (entry, zone) in &versions {
            assert_eq!(entry.hash, content_hash(HashFormat::V1, zone).to_string());
        }
        let head = read_head(&store.db, "example.com.").unwrap().unwrap();
        assert_eq!(head.hash_format, HashFormat::V1);
        // Resubmitting the same content is still no change: compared in the zone's format.
        let same = Stamped {
            time_ms: NOON + 1,
            ..stamped(put(&to_master_file(&versions[1].1)), None)
        };
        let unchanged = store.apply(&same, &[], false).unwrap().0.unwrap();
        assert_eq!(unchanged.outcome, Outcome::Unchanged);
        // Deleted and created again, the zone takes the stamped (current) format.
        let delete = Command::DeleteZone {
            zone: "example.com.".to_owned(),
        };
        store
            .apply(&stamped(delete, None), &[], false)
            .unwrap()
            .0
            .unwrap();
        let again = store
            .apply(&stamped(put(ZONE), None), &[], false)
            .unwrap()
            .0
            .unwrap();
        let (entry, zone) = read_version(&store.db, "example.com.", again.version.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(entry.hash, content_hash(HashFormat::V2, &zone).to_string());
        // Reopened, the store reads the versions of both formats back.
        let reopened = ZoneStore::open(Arc::clone(&store.db)).unwrap();
        assert_eq!(reopened.served().count(), 1);
        assert!(read_version(&store.db, "example.com.", 2)
            .unwrap()
            .is_some());
    }

    #[test]
    fn versions_history_and_serials() {
        let (_dir, mut store) = open();
        let (first, changes) = store.apply(&stamped(put(ZONE), None), &[], false).unwrap();
        let first = first.unwrap();
        assert_eq!(
            (first.version, first.serial, first.outcome),
            (Some(1), Some(5), Outcome::Applied)
        );
        assert_eq!(changes.len(), 1);

        let (same, changes) = store.apply(&stamped(put(ZONE), None), &[], false).unwrap();
        assert_eq!(
            same.unwrap().outcome,
            Outcome::Unchanged,
            "same content makes no version"
        );
        assert!(changes.is_empty());

        let batch = Command::ChangeRecords {
            zone: "example.com.".to_owned(),
            changes: vec![
                change(ChangeAction::Add, "www", "A", Some("192.0.2.11")),
                change(ChangeAction::Delete, "ns1", "A", Some("192.0.2.1")),
                RecordChange {
                    ttl: Some(Ttl::Seconds(600)),
                    ..change(ChangeAction::Add, "ns1", "A", Some("192.0.2.2"))
                },
            ],
        };
        let second = store
            .apply(&stamped(batch, None), &[], false)
            .unwrap()
            .0
            .expect("batch applies");
        assert_eq!((second.version, second.serial), (Some(2), Some(6)));
        // The next change resumes its content hash after the apex: the cache follows the serial.
        let slot = store.current("example.com.").unwrap();
        let (Some(cache), Some(zone)) = (&slot.hashes, &slot.zone) else {
            panic!("the zone and its hash cache are kept");
        };
        assert!(cache.follows_serial_of(zone));

        let bad = Command::ChangeRecords {
            zone: "example.com.".to_owned(),
            changes: vec![
                change(ChangeAction::Add, "new", "A", Some("192.0.2.99")),
                change(ChangeAction::Delete, "missing", "A", None),
            ],
        };
        let rejected = store
            .apply(&stamped(bad, None), &[], false)
            .unwrap()
            .0
            .unwrap_err();
        assert_eq!(rejected.kind, RejectKind::Invalid);
        assert!(
            rejected.message.contains("change 2"),
            "{}",
            rejected.message
        );
        assert!(
            read_version(&store.db, "example.com.", 3)
                .unwrap()
                .is_none(),
            "a failed batch changes nothing"
        );

        let rollback = Command::Rollback {
            zone: "example.com.".to_owned(),
            to_version: 1,
        };
        let third = store
            .apply(&stamped(rollback, None), &[], false)
            .unwrap()
            .0
            .unwrap();
        assert_eq!(
            (third.version, third.serial),
            (Some(3), Some(7)),
            "rollback rolls forward"
        );
        assert_eq!(third.hash, first.hash, "with the old content");

        let history = read_history(&store.db, "example.com.", 0, 100).unwrap();
        let summary: Vec<_> = history
            .iter()
            .map(|h| (h.version, h.serial, h.parent, h.action.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, 5, None, "create"),
                (2, 6, Some(1), "change"),
                (3, 7, Some(2), "rollback")
            ]
        );

        // A reopened store (a restarted node) serves the same thing.
        let reopened = ZoneStore::open(store.db.clone()).unwrap();
        let zone = reopened.served().next().unwrap();
        assert_eq!(soa_serial(zone), Some(7));
        assert_eq!(verify_audit(&store.db).unwrap(), Ok(5));
    }

    #[test]
    fn idempotency_keys_replay_and_refuse_reuse() {
        let (_dir, mut store) = open();
        let first = store
            .apply(&stamped(put(ZONE), Some("k1")), &[], false)
            .unwrap()
            .0
            .unwrap();
        let again = store
            .apply(&stamped(put(ZONE), Some("k1")), &[], false)
            .unwrap()
            .0
            .unwrap();
        assert_eq!(again.outcome, Outcome::Replayed);
        assert_eq!(again.version, first.version);
        let other = store.apply(
            &stamped(
                Command::DeleteZone {
                    zone: "example.com".to_owned(),
                },
                Some("k1"),
            ),
            &[],
            false,
        );
        assert_eq!(other.unwrap().0.unwrap_err().kind, RejectKind::Conflict);
        assert!(!list_heads(&store.db).unwrap()[0].deleted);
    }

    #[test]
    fn a_version_no_secondary_takes_opens_its_deploy_verified() {
        let (_dir, mut store) = open();
        let deploy = |store: &ZoneStore, version: u64| {
            deploys::read_deploy(&store.db, &deploys::implicit_id("example.com.", version))
                .unwrap()
                .unwrap()
        };
        let apply = |store: &mut ZoneStore, command: Command| {
            store
                .apply(&stamped(command, None), &[], false)
                .unwrap()
                .0
                .unwrap();
        };
        let add = |owner: &str, address: &str| Command::ChangeRecords {
            zone: "example.com.".to_owned(),
            changes: vec![change(ChangeAction::Add, owner, "A", Some(address))],
        };
        apply(&mut store, put(ZONE));
        assert_eq!(deploy(&store, 1).state, DeployState::Verified);
        assert!(deploys::open_deploys(&store.db).unwrap().is_empty());

        // A secondary of another zone changes nothing; one that takes every zone does.
        for (name, zones) in [("other", vec!["example.net.".to_owned()]), ("all", vec![])] {
            let secondary = Secondary {
                name: name.to_owned(),
                address: "127.0.0.1:53".parse().unwrap(),
                zones,
                key: None,
                mode: Default::default(),
            };
            apply(&mut store, Command::PutSecondary { secondary });
        }
        apply(&mut store, add("new", "192.0.2.7"));
        assert_eq!(deploy(&store, 2).state, DeployState::Pending);
        let open: Vec<String> = deploys::open_deploys(&store.db)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(open, ["example.com.@2"]);

        // The store keeps the secondaries between writes: deleting one must reach the next.
        for name in ["other", "all"] {
            let name = name.to_owned();
            apply(&mut store, Command::DeleteSecondary { name });
        }
        apply(&mut store, add("newer", "192.0.2.8"));
        assert_eq!(deploy(&store, 3).state, DeployState::Verified);
    }

    #[test]
    fn delete_then_recreate_keeps_numbering_and_serials_growing() {
        let (_dir, mut store) = open();
        store
            .apply(&stamped(put(ZONE), None), &[], false)
            .unwrap()
            .0
            .unwrap();
        let deleted = store
            .apply(
                &stamped(
                    Command::DeleteZone {
                        zone: "example.com.".to_owned(),
                    },
                    None,
                ),
                &[],
                false,
            )
            .unwrap();
        assert_eq!(deleted.0.unwrap().version, Some(2));
        assert!(deleted.1[0].zone.is_none());
        let again = store
            .apply(&stamped(put(ZONE), None), &[], false)
            .unwrap()
            .0
            .unwrap();
        assert_eq!((again.version, again.serial), (Some(3), Some(6)));
    }

    #[test]
    fn dry_runs_write_nothing_and_bad_zones_are_refused() {
        let (_dir, mut store) = open();
        let preview = store.preview(&stamped(put(ZONE), None)).unwrap().unwrap();
        assert_eq!(preview.outcome, Outcome::DryRun);
        assert!(list_heads(&store.db).unwrap().is_empty());
        let bad = store
            .apply(
                &stamped(
                    put("@ SOA ns1 hostmaster 1 1 1 1 1\nwww CNAME a\nwww A 192.0.2.1\n"),
                    None,
                ),
                &[],
                false,
            )
            .unwrap();
        let rejection = bad.0.unwrap_err();
        assert_eq!(rejection.kind, RejectKind::Invalid);
        assert!(list_heads(&store.db).unwrap().is_empty());
        assert_eq!(read_audit(&store.db, 0, 10).unwrap()[0].outcome, "rejected");
    }
}

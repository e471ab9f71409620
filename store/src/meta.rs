//! Replicated records that are not zone data: API tokens, TSIG keys and declared secondaries
//! (their types in [`crate::records`]).
//!
//! Each command about them is planned here into the writes it makes (or the reason it is
//! refused), so applying and previewing (`?dry_run=true`) share one code path. Times come from
//! the leader's stamp, as everywhere in the state machine.

use serde::Serialize;

use crate::db::{decode_json, Cf, Db, DbError};
use crate::deploys;
pub use crate::records::{
    normal_name, PeerAddr, Secondary, SecondaryMode, TsigKeyRecord, Upstream, MIN_SECRET,
};
use crate::state::{parse_zone_name, Command, RejectKind, Rejection, TokenRecord};

fn token_key(id: &str) -> Vec<u8> {
    format!("token/{id}").into_bytes()
}

fn tsig_key(name: &str) -> Vec<u8> {
    format!("tsig/{name}").into_bytes()
}

fn secondary_key(name: &str) -> Vec<u8> {
    format!("secondary/{name}").into_bytes()
}

fn scan<T: serde::de::DeserializeOwned>(db: &Db, prefix: &[u8]) -> Result<Vec<T>, DbError> {
    db.scan_prefix(Cf::State, prefix)?
        .into_iter()
        .map(|(k, v)| decode_json(Cf::State, &k, &v))
        .collect()
}

pub fn read_token(db: &Db, id: &str) -> Result<Option<TokenRecord>, DbError> {
    db.get_json(Cf::State, &token_key(id))
}

pub fn list_tokens(db: &Db) -> Result<Vec<TokenRecord>, DbError> {
    scan(db, b"token/")
}

/// A TSIG key by name (any case, trailing dot optional).
pub fn read_tsig_key(db: &Db, name: &str) -> Result<Option<TsigKeyRecord>, DbError> {
    match normal_name(name) {
        Ok(name) => db.get_json(Cf::State, &tsig_key(&name)),
        Err(_) => Ok(None),
    }
}

pub fn list_tsig_keys(db: &Db) -> Result<Vec<TsigKeyRecord>, DbError> {
    scan(db, b"tsig/")
}

pub fn list_secondaries(db: &Db) -> Result<Vec<Secondary>, DbError> {
    scan(db, b"secondary/")
}

fn upstream_key(zone: &str) -> Vec<u8> {
    format!("upstream/{zone}").into_bytes()
}

/// A zone's external primaries, if it is taken from them.
pub fn read_upstream(db: &Db, zone: &str) -> Result<Option<Upstream>, DbError> {
    db.get_json(Cf::State, &upstream_key(zone))
}

/// The zones served as secondaries of external primaries.
pub fn list_upstreams(db: &Db) -> Result<Vec<Upstream>, DbError> {
    scan(db, b"upstream/")
}

/// One write a command makes in the state column family.
#[derive(Debug, Clone)]
pub enum MetaWrite {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// What a non-zone command does: the summary for its answer and its writes.
#[derive(Debug)]
pub struct MetaPlan {
    pub summary: String,
    pub writes: Vec<MetaWrite>,
}

fn put<T: Serialize>(key: Vec<u8>, value: &T) -> MetaWrite {
    MetaWrite::Put(key, serde_json::to_vec(value).unwrap_or_default())
}

fn invalid(message: String) -> Rejection {
    Rejection {
        kind: RejectKind::Invalid,
        message,
    }
}

fn not_found(message: String) -> Rejection {
    Rejection {
        kind: RejectKind::NotFound,
        message,
    }
}

fn conflict(message: String) -> Rejection {
    Rejection {
        kind: RejectKind::Conflict,
        message,
    }
}

/// Plans a command about tokens, TSIG keys or secondaries; None for zone commands.
pub fn plan(
    db: &Db,
    command: &Command,
    time_ms: u64,
) -> Result<Option<Result<MetaPlan, Rejection>>, DbError> {
    let plan = |summary: String, writes: Vec<MetaWrite>| Ok(Some(Ok(MetaPlan { summary, writes })));
    match command {
        Command::PutToken { token } => plan(
            format!("token {} ({:?})", token.id, token.role),
            vec![put(token_key(&token.id), token)],
        ),
        Command::RevokeToken { id } => match read_token(db, id)? {
            None => Ok(Some(Err(not_found(format!("no token with id {id}"))))),
            Some(_) => plan(
                format!("token {id} revoked"),
                vec![MetaWrite::Delete(token_key(id))],
            ),
        },
        Command::PutTsigKey { key, rotate } => {
            let mut record = key.clone();
            let name = match normal_name(&record.name) {
                Ok(name) => name,
                Err(e) => return Ok(Some(Err(invalid(format!("TSIG key name {e}"))))),
            };
            record.name = name;
            let parsed = match record.key() {
                Ok(parsed) => parsed,
                Err(message) => return Ok(Some(Err(invalid(message)))),
            };
            record.algorithm = parsed.algorithm.as_str().to_owned();
            let existing = read_tsig_key(db, &record.name)?;
            match (&existing, rotate) {
                (Some(_), false) => {
                    return Ok(Some(Err(conflict(format!(
                        "TSIG key {} already exists; rotate it (`nebulactl keys tsig rotate {}`) or delete it first",
                        record.name, record.name
                    )))))
                }
                (None, true) => {
                    return Ok(Some(Err(not_found(format!(
                        "no TSIG key {}; create it first",
                        record.name
                    )))))
                }
                (Some(old), true) => {
                    record.created_ms = old.created_ms;
                    record.rotated_ms = Some(time_ms);
                }
                (None, false) => {
                    record.created_ms = time_ms;
                    record.rotated_ms = None;
                }
            }
            let verb = if *rotate { "rotated" } else { "created" };
            plan(
                format!("TSIG key {} ({}) {verb}", record.name, record.algorithm),
                vec![put(tsig_key(&record.name), &record)],
            )
        }
        Command::DeleteTsigKey { name } => {
            let Some(record) = read_tsig_key(db, name)? else {
                return Ok(Some(Err(not_found(format!("no TSIG key {name}")))));
            };
            let users: Vec<String> = list_secondaries(db)?
                .into_iter()
                .filter(|s| {
                    s.key
                        .as_deref()
                        .is_some_and(|k| normal_name(k).is_ok_and(|k| k == record.name))
                })
                .map(|s| s.name)
                .collect();
            if !users.is_empty() {
                return Ok(Some(Err(conflict(format!(
                    "TSIG key {} is used by secondaries {}; change or delete them first",
                    record.name,
                    users.join(", ")
                )))));
            }
            plan(
                format!("TSIG key {} deleted", record.name),
                vec![MetaWrite::Delete(tsig_key(&record.name))],
            )
        }
        Command::PutSecondary { secondary } => {
            if let Err(message) = secondary.check() {
                return Ok(Some(Err(invalid(message))));
            }
            let mut record = secondary.clone();
            record.zones = record
                .zones
                .iter()
                .filter_map(|z| parse_zone_name(z).ok().map(|(key, _)| key))
                .collect();
            if let Some(key) = &record.key {
                match read_tsig_key(db, key)? {
                    None => {
                        return Ok(Some(Err(invalid(format!(
                            "secondary {}: no TSIG key {key}; create it first (`nebulactl keys tsig create {key}`)",
                            record.name
                        )))))
                    }
                    Some(found) => record.key = Some(found.name),
                }
            }
            plan(
                format!("secondary {} at {}", record.name, record.address.0),
                vec![put(secondary_key(&record.name), &record)],
            )
        }
        Command::DeleteSecondary { name } => {
            if db.get(Cf::State, &secondary_key(name))?.is_none() {
                return Ok(Some(Err(not_found(format!(
                    "no secondary {name} declared by API (secondaries from configuration files are changed there)"
                )))));
            }
            plan(
                format!("secondary {name} deleted"),
                vec![MetaWrite::Delete(secondary_key(name))],
            )
        }
        Command::PutDeploys { deploys: records } => {
            let mut writes = Vec::new();
            let mut states = Vec::new();
            for deploy in records {
                if let Some(existing) = deploys::read_deploy(db, &deploy.id)? {
                    if !existing.state.is_open() && existing.state != deploy.state {
                        return Ok(Some(Err(conflict(format!(
                            "deploy {} is already {}; open a new one",
                            deploy.id,
                            existing.state.as_str()
                        )))));
                    }
                }
                states.push(format!("{} {}", deploy.id, deploy.state.as_str()));
                writes.extend(deploys::put_deploy_writes(deploy).into_iter().map(
                    |(key, value)| match value {
                        Some(value) => MetaWrite::Put(key, value),
                        None => MetaWrite::Delete(key),
                    },
                ));
            }
            plan(format!("deploy {}", states.join(", ")), writes)
        }
        Command::PutUpstream { upstream } => {
            let mut record = upstream.clone();
            record.zone = match normal_name(&record.zone) {
                Ok(zone) => zone,
                Err(e) => return Ok(Some(Err(invalid(format!("zone {e}"))))),
            };
            if record.primaries.is_empty() {
                return Ok(Some(Err(invalid(format!(
                    "zone {}: name at least one primary address",
                    record.zone
                )))));
            }
            if let Some(key) = &record.key {
                match read_tsig_key(db, key)? {
                    None => {
                        return Ok(Some(Err(invalid(format!(
                            "zone {}: no TSIG key {key}; create it first",
                            record.zone
                        )))))
                    }
                    Some(found) => record.key = Some(found.name),
                }
            }
            let primaries: Vec<String> = record.primaries.iter().map(|p| p.0.to_string()).collect();
            plan(
                format!(
                    "zone {} transferred from {}",
                    record.zone,
                    primaries.join(", ")
                ),
                vec![put(upstream_key(&record.zone), &record)],
            )
        }
        Command::DeleteUpstream { zone } => {
            let key = normal_name(zone).unwrap_or_default();
            if db.get(Cf::State, &upstream_key(&key))?.is_none() {
                return Ok(Some(Err(not_found(format!(
                    "zone {zone} is not a secondary of external primaries"
                )))));
            }
            plan(
                format!("zone {key} no longer transferred from its primaries"),
                vec![MetaWrite::Delete(upstream_key(&key))],
            )
        }
        Command::PutPeerStatus { status } => {
            let (key, value) = deploys::put_peer_status_write(status);
            plan(
                format!("secondary {} observed", status.name),
                vec![MetaWrite::Put(key, value)],
            )
        }
        Command::RecordTransfer { note } => {
            let (key, value) = deploys::record_transfer_write(db, note)?;
            plan(
                format!("transfer to {}: {}", note.peer, note.result),
                vec![MetaWrite::Put(key, value)],
            )
        }
        Command::PutZone { .. }
        | Command::DeleteZone { .. }
        | Command::ChangeRecords { .. }
        | Command::Rollback { .. } => Ok(None),
    }
}

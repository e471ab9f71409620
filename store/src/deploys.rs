//! Deploys and what the propagation verifier knows about each secondary, replicated so that
//! every node answers the same and a new leader carries on where the old one stopped.
//!
//! Every new zone version opens a deploy (`<zone>@<version>`) in the same batch: pending, or
//! verified at once when no declared secondary takes the zone (there is nothing to wait for,
//! and the verifier would only close it a pass later, in a command of its own); an operator can
//! open another for the current version (`POST /api/v1/deploy`). The leader's
//! verifier moves open deploys to verifying, then verified or failed, and records per secondary
//! what it observed (`peer/<name>`); each node records the transfers it served to a declared
//! secondary (`transfer/<name>`). Open deploys are indexed under `deploy_open/` so the verifier
//! never scans closed ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::{Batch, Cf, Db, DbError};
pub use crate::records::TransferNote;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployState {
    Pending,
    Verifying,
    Verified,
    Failed,
}

impl DeployState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployState::Pending => "pending",
            DeployState::Verifying => "verifying",
            DeployState::Verified => "verified",
            DeployState::Failed => "failed",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, DeployState::Pending | DeployState::Verifying)
    }
}

/// One secondary's part in a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployPeer {
    pub name: String,
    pub required: bool,
    /// The serial it answered with, if it answered.
    pub observed_serial: Option<u32>,
    /// It serves the deploy's serial (or a newer one).
    pub ok: bool,
    /// Why not, when not: the wire error or the serial it serves, and the last failed transfer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub id: String,
    pub zone: String,
    pub version: u64,
    pub serial: u32,
    pub state: DeployState,
    pub created_ms: u64,
    /// How long the secondaries have to serve the serial.
    pub sla_seconds: u64,
    pub updated_ms: u64,
    #[serde(default)]
    pub peers: Vec<DeployPeer>,
    /// Why it failed, one line per required secondary that did not converge.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// The SLA of deploys opened by writes.
pub const DEFAULT_SLA_SECONDS: u64 = 60;

/// A secondary's software as its answers give it away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `bind`, `knot`, `nsd`, `powerdns`, `nebuladns` or `unknown`.
    pub software: String,
    /// The version it reports, or empty.
    pub version: String,
    /// Its `version.bind` CHAOS TXT answer, or how it refused.
    pub version_bind: String,
    /// Its `hostname.bind` (or `id.server`) answer.
    pub hostname: String,
    /// How it answers probes that servers answer differently: an EDNS version 1 query (RFC
    /// 6891 says BADVERS) and opcode STATUS (`edns1=BADVERS status=NOTIMP`).
    #[serde(default)]
    pub probes: String,
    pub checked_ms: u64,
}

/// What the verifier last saw of one zone on one secondary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub serial: Option<u32>,
    /// The wire error of the last SOA check (`timeout`, `connection refused`, `REFUSED`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    pub checked_ms: u64,
    /// Since when it has been behind our serial (0: it is not).
    #[serde(default)]
    pub behind_since_ms: u64,
}

/// What the verifier knows about a secondary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub name: String,
    #[serde(default)]
    pub fingerprint: Fingerprint,
    /// Per zone (lower-case, absolute).
    #[serde(default)]
    pub zones: BTreeMap<String, Observation>,
}

/// The last transfer that worked and the last that did not, per secondary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLog {
    pub last_success: Option<TransferNote>,
    pub last_failure: Option<TransferNote>,
}

fn deploy_key(id: &str) -> Vec<u8> {
    format!("deploy/{id}").into_bytes()
}

fn open_key(id: &str) -> Vec<u8> {
    format!("deploy_open/{id}").into_bytes()
}

fn peer_key(name: &str) -> Vec<u8> {
    format!("peer/{name}").into_bytes()
}

fn transfer_key(name: &str) -> Vec<u8> {
    format!("transfer/{name}").into_bytes()
}

pub fn read_deploy(db: &Db, id: &str) -> Result<Option<DeployRecord>, DbError> {
    db.get_json(Cf::State, &deploy_key(id))
}

/// Deploys still pending or verifying.
pub fn open_deploys(db: &Db) -> Result<Vec<DeployRecord>, DbError> {
    let mut out = Vec::new();
    for (key, _) in db.scan_prefix(Cf::State, b"deploy_open/")? {
        let id = String::from_utf8_lossy(&key[b"deploy_open/".len()..]).into_owned();
        if let Some(deploy) = read_deploy(db, &id)? {
            out.push(deploy);
        }
    }
    Ok(out)
}

/// The newest deploy of `zone`, if any: the one of its current version when there is one.
pub fn latest_deploy(db: &Db, zone: &str, version: u64) -> Result<Option<DeployRecord>, DbError> {
    read_deploy(db, &implicit_id(zone, version))
}

pub fn read_peer_status(db: &Db, name: &str) -> Result<Option<PeerStatus>, DbError> {
    db.get_json(Cf::State, &peer_key(name))
}

pub fn read_transfer_log(db: &Db, name: &str) -> Result<TransferLog, DbError> {
    Ok(db
        .get_json(Cf::State, &transfer_key(name))?
        .unwrap_or_default())
}

/// The id of the deploy a zone version opens.
pub fn implicit_id(zone: &str, version: u64) -> String {
    format!("{zone}@{version}")
}

/// Opens the deploy of a new zone version (in the version's batch): pending when a declared
/// secondary takes the zone (`watched`), else already verified.
pub fn open_implicit(
    batch: &mut Batch<'_>,
    zone: &str,
    version: u64,
    serial: u32,
    time_ms: u64,
    watched: bool,
) -> Result<(), DbError> {
    let deploy = DeployRecord {
        id: implicit_id(zone, version),
        zone: zone.to_owned(),
        version,
        serial,
        state: if watched {
            DeployState::Pending
        } else {
            DeployState::Verified
        },
        created_ms: time_ms,
        sla_seconds: DEFAULT_SLA_SECONDS,
        updated_ms: time_ms,
        peers: Vec::new(),
        reason: String::new(),
    };
    put_deploy_writes(&deploy)
        .into_iter()
        .try_for_each(|(key, value)| match value {
            Some(value) => batch.put(Cf::State, &key, &value),
            // A new deploy has no open-index entry to remove: no tombstone for every write.
            None => Ok(()),
        })
}

/// The writes that store `deploy` and keep the open index right: (key, Some(value)) puts,
/// (key, None) deletes.
pub fn put_deploy_writes(deploy: &DeployRecord) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let open = if deploy.state.is_open() {
        (open_key(&deploy.id), Some(Vec::new()))
    } else {
        (open_key(&deploy.id), None)
    };
    vec![
        (
            deploy_key(&deploy.id),
            Some(serde_json::to_vec(deploy).unwrap_or_default()),
        ),
        open,
    ]
}

pub fn put_peer_status_write(status: &PeerStatus) -> (Vec<u8>, Vec<u8>) {
    (
        peer_key(&status.name),
        serde_json::to_vec(status).unwrap_or_default(),
    )
}

/// Folds a transfer into the secondary's log.
pub fn record_transfer_write(db: &Db, note: &TransferNote) -> Result<(Vec<u8>, Vec<u8>), DbError> {
    let mut log = read_transfer_log(db, &note.peer)?;
    if note.result == "ok" {
        log.last_success = Some(note.clone());
    } else {
        log.last_failure = Some(note.clone());
    }
    Ok((
        transfer_key(&note.peer),
        serde_json::to_vec(&log).unwrap_or_default(),
    ))
}

//! Zone version bodies in the `zone_versions` column family, keyed by content hash (SOA serial
//! as zero, see [`crate::canonical`]).
//!
//! A body is stored once per distinct content, in one of two forms:
//!
//! - **full**: the version as a master file ([`crate::export`]), serial 0. Always starts with
//!   the `;` of its comment line.
//! - **delta**: a JSON object (so it starts with `{`) naming a `base` version by hash, the
//!   RRsets that differ from it (`set`, master-file text of their new form; `deleted`, owner
//!   and type of the removed ones) and its `depth`, the number of deltas down to a full body.
//!
//! Most changes touch a few RRsets of a large zone, so a delta keeps the bytes written per
//! change (to the WAL, the memtable, compactions and Raft snapshots) proportional to the change,
//! not to the zone. A chain is at most [`MAX_DEPTH`] deltas long, and a change that touches a
//! large part of the zone is stored full, so reading any version stays bounded. Reading a delta
//! checks the content hash of the result: a damaged chain is reported, never served.
//!
//! Every choice here depends only on the stored data and the change, so every node stores the
//! same bytes for the same applied entry. Bodies are never deleted, so a base always exists,
//! and a body is only written when its hash is new, so chains cannot form cycles.

use nebula_wire::{Name, RType};
use serde::{Deserialize, Serialize};

use crate::canonical::{unstamped, ContentHash};
use crate::db::{Batch, Cf, Db, DbError};
use crate::diff::ZoneDiff;
use crate::export::{to_master_file_hashed, write_body};
use crate::master;
use crate::zone::Zone;

/// The longest chain of deltas before a version is stored full again.
pub const MAX_DEPTH: u32 = 32;

#[derive(Debug, Serialize, Deserialize)]
struct Delta {
    base: String,
    depth: u32,
    /// Removed RRsets: absolute owner name and type mnemonic.
    deleted: Vec<(String, String)>,
    /// The added and changed RRsets in their new form, as master-file text.
    set: String,
}

fn corrupt(key: &str, hash: &str, message: impl Into<String>) -> DbError {
    DbError::Corrupt {
        what: format!("zone {key} version {hash}"),
        message: message.into(),
    }
}

fn hash_bytes(key: &str, hash: &str) -> Result<Vec<u8>, DbError> {
    data_encoding::HEXLOWER
        .decode(hash.as_bytes())
        .map_err(|e| corrupt(key, hash, format!("bad content hash: {e}")))
}

fn as_delta(key: &str, hash: &str, body: &[u8]) -> Result<Option<Delta>, DbError> {
    if body.first() != Some(&b'{') {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| corrupt(key, hash, format!("unreadable delta: {e}")))
}

/// The version a new one is made from: its content hash, and its chain depth if the caller
/// knows it (else it is read from the stored body).
#[derive(Debug, Clone, Copy)]
pub struct Base<'a> {
    pub hash: &'a str,
    pub depth: Option<u32>,
}

/// Stores the body of `zone` (content hash `hash`) in `batch`, unless that content is stored
/// already. `parent` is the version it was made from and the diff from it to `zone`, which lets
/// a small change be stored as a delta. Returns the new body's depth (0: full), or None when the
/// content was stored before.
pub fn store(
    db: &Db,
    batch: &mut Batch<'_>,
    key: &str,
    hash: &str,
    zone: &Zone,
    parent: Option<(Base<'_>, &ZoneDiff)>,
) -> Result<Option<u32>, DbError> {
    let hash_key = hash_bytes(key, hash)?;
    if db.get(Cf::Versions, &hash_key)?.is_some() {
        return Ok(None);
    }
    let delta = match parent {
        Some((base, diff)) if diff.changes.len().saturating_mul(2) <= zone.rrset_count() => {
            let depth = match base.depth {
                Some(depth) => depth,
                None => match db.get(Cf::Versions, &hash_bytes(key, base.hash)?)? {
                    None => return Err(corrupt(key, base.hash, "the content is missing")),
                    Some(body) => as_delta(key, base.hash, &body)?.map_or(0, |d| d.depth),
                },
            };
            (depth < MAX_DEPTH).then(|| delta(zone, base.hash, depth + 1, diff))
        }
        _ => None,
    };
    let (body, depth) = match delta {
        Some(delta) => (
            serde_json::to_vec(&delta).map_err(|e| corrupt(key, hash, e.to_string()))?,
            delta.depth,
        ),
        None => (
            to_master_file_hashed(&crate::state::with_serial(zone.clone(), 0), hash).into_bytes(),
            0,
        ),
    };
    batch.put(Cf::Versions, &hash_key, &body)?;
    Ok(Some(depth))
}

fn delta(zone: &Zone, base: &str, depth: u32, diff: &ZoneDiff) -> Delta {
    let mut set = Zone::new(zone.origin.clone(), zone.class);
    let mut deleted = Vec::new();
    for change in &diff.changes {
        match change.new_rrset() {
            Some(rrset) => {
                set.replace_rrset(
                    change.owner().clone(),
                    change.rtype(),
                    Some(unstamped(rrset.clone(), change.rtype())),
                );
            }
            None => deleted.push((change.owner().to_string(), change.rtype().to_string())),
        }
    }
    let mut text = Vec::new();
    // Writing to a Vec cannot fail, and every piece written is UTF-8 text.
    let _ = write_body(&set, &mut text);
    Delta {
        base: base.to_owned(),
        depth,
        deleted,
        set: String::from_utf8_lossy(&text).into_owned(),
    }
}

/// Reads the version of zone `key` (origin `origin`) with content hash `hash`, serial 0.
pub fn load(db: &Db, key: &str, origin: &Name, hash: &str) -> Result<Zone, DbError> {
    let mut chain = Vec::new();
    let mut at = hash.to_owned();
    let full = loop {
        let body = db
            .get(Cf::Versions, &hash_bytes(key, &at)?)?
            .ok_or_else(|| corrupt(key, &at, "the content is missing"))?;
        match as_delta(key, &at, &body)? {
            Some(delta) => {
                if chain.len() > MAX_DEPTH as usize {
                    return Err(corrupt(key, hash, "the delta chain is longer than allowed"));
                }
                at = delta.base.clone();
                chain.push(delta);
            }
            None => break body,
        }
    };
    let text = String::from_utf8(full).map_err(|e| corrupt(key, &at, e.to_string()))?;
    let mut zone = master::parse_str(&text, origin, key)
        .map_err(|e| corrupt(key, &at, e.to_string()))?
        .zone;
    if chain.is_empty() {
        return Ok(zone);
    }
    for delta in chain.iter().rev() {
        apply(&mut zone, delta).map_err(|message| corrupt(key, hash, message))?;
    }
    let expected = hash
        .parse::<ContentHash>()
        .map_err(|e| corrupt(key, hash, e.to_string()))?;
    if !expected.is_hash_of(&zone) {
        return Err(corrupt(
            key,
            hash,
            "its deltas do not rebuild the content the hash names",
        ));
    }
    Ok(zone)
}

fn apply(zone: &mut Zone, delta: &Delta) -> Result<(), String> {
    for (owner, rtype) in &delta.deleted {
        let owner = Name::from_text(owner, None).map_err(|e| format!("owner {owner:?}: {e}"))?;
        let rtype = RType::from_text(rtype).ok_or_else(|| format!("type {rtype:?}"))?;
        zone.replace_rrset(owner, rtype, None);
    }
    let set = master::parse_str(&delta.set, &zone.origin, "delta")
        .map_err(|e| e.to_string())?
        .zone;
    for (owner, rtype, rrset) in set.rrsets() {
        zone.replace_rrset(owner.clone(), rtype, Some(rrset.clone()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::canonical::{content_hash, HashFormat};
    use crate::diff::diff;

    const BASE: &str = "$TTL 300\n@ SOA ns1 hostmaster 7 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\na TXT \"one\"\nb TXT \"two\"\nc A 192.0.2.3\n";

    fn parse(text: &str) -> Zone {
        let origin = Name::from_text("example.com.", None).unwrap();
        master::parse_str(text, &origin, "test").unwrap().zone
    }

    fn put(db: &Db, format: HashFormat, zone: &Zone, parent: Option<(&str, &Zone)>) -> String {
        let hash = content_hash(format, zone).to_string();
        let diff = parent.map(|(_, old)| diff(old, zone));
        let mut batch = db.batch();
        // Depths unknown: read from the stored bodies (ZoneStore passes the ones it knows).
        let base = parent.map(|(hash, _)| Base { hash, depth: None });
        store(
            db,
            &mut batch,
            "example.com.",
            &hash,
            zone,
            base.zip(diff.as_ref()),
        )
        .unwrap();
        db.write(batch, false).unwrap();
        hash
    }

    fn body(db: &Db, hash: &str) -> Vec<u8> {
        db.get(Cf::Versions, &hash_bytes("k", hash).unwrap())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn small_changes_are_deltas_that_read_back_exactly() {
        // Zones of either format: a chain is checked against its id in the zone's format.
        for format in [HashFormat::V1, HashFormat::V2] {
            small_changes_are_deltas_that_read_back_exactly_in(format);
        }
    }

    fn small_changes_are_deltas_that_read_back_exactly_in(format: HashFormat) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let origin = Name::from_text("example.com.", None).unwrap();
        let mut zone = parse(BASE);
        let mut hash = put(&db, format, &zone, None);
        assert_eq!(body(&db, &hash)[0], b';', "the first version is full");
        let mut hashes = vec![(hash.clone(), zone.clone())];
        for i in 0..(MAX_DEPTH + 3) {
            let mut next = zone.clone();
            let owner = Name::from_text("a.example.com.", None).unwrap();
            let rdata = parse(&format!("a 300 TXT \"v{i}\"\n"))
                .rrset(&owner, RType::TXT)
                .unwrap()
                .clone();
            next.replace_rrset(owner, RType::TXT, Some(rdata));
            if i == 2 {
                let gone = Name::from_text("b.example.com.", None).unwrap();
                next.replace_rrset(gone, RType::TXT, None);
            }
            let next = crate::state::with_serial(next, 8 + i);
            hash = put(&db, format, &next, Some((&hash, &zone)));
            hashes.push((hash.clone(), next.clone()));
            zone = next;
        }
        assert_eq!(
            body(&db, &hashes[1].0)[0],
            b'{',
            "a one-RRset change is a delta"
        );
        let fulls = hashes
            .iter()
            .filter(|(h, _)| body(&db, h)[0] == b';')
            .count();
        assert_eq!(fulls, 2, "full again after {MAX_DEPTH} deltas");
        for (hash, zone) in &hashes {
            let loaded = load(&db, "example.com.", &origin, hash).unwrap();
            assert_eq!(
                content_hash(format, &loaded).to_string(),
                *hash,
                "version {hash} reads back"
            );
            assert_eq!(
                crate::state::with_serial(loaded, 0),
                crate::state::with_serial(zone.clone(), 0)
            );
        }
    }

    #[test]
    fn large_changes_are_full_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let origin = Name::from_text("example.com.", None).unwrap();
        let old = parse(BASE);
        let base = put(&db, HashFormat::CURRENT, &old, None);
        let new = parse("$TTL 300\n@ SOA ns1 hostmaster 7 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nx TXT \"1\"\ny TXT \"2\"\nz TXT \"3\"\n");
        let hash = put(&db, HashFormat::CURRENT, &new, Some((&base, &old)));
        assert_eq!(
            body(&db, &hash)[0],
            b';',
            "most RRsets changed: stored full"
        );

        let small = parse(&BASE.replace("192.0.2.3", "192.0.2.4"));
        // A depth the caller knows is used as given: at the limit, a small change is full too.
        let other = parse(&BASE.replace("192.0.2.3", "192.0.2.5"));
        let mut batch = db.batch();
        let known = Base {
            hash: &base,
            depth: Some(MAX_DEPTH),
        };
        let other_hash = content_hash(HashFormat::CURRENT, &other).to_string();
        let stored = store(
            &db,
            &mut batch,
            "k",
            &other_hash,
            &other,
            Some((known, &diff(&old, &other))),
        );
        assert_eq!(stored.unwrap(), Some(0));
        db.write(batch, false).unwrap();
        let small_hash = put(&db, HashFormat::CURRENT, &small, Some((&base, &old)));
        assert_eq!(body(&db, &small_hash)[0], b'{');
        // A damaged delta (the base changed under it) is refused, not served.
        let mut delta: Delta = serde_json::from_slice(&body(&db, &small_hash)).unwrap();
        delta.base = hash.clone();
        let mut batch = db.batch();
        batch
            .put(
                Cf::Versions,
                &hash_bytes("k", &small_hash).unwrap(),
                &serde_json::to_vec(&delta).unwrap(),
            )
            .unwrap();
        db.write(batch, false).unwrap();
        let err = load(&db, "example.com.", &origin, &small_hash).unwrap_err();
        assert!(err.to_string().contains("do not rebuild"), "{err}");
    }
}

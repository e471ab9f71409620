//! openraft's state machine (storage-v2 `RaftStateMachine`) over [`ZoneStore`]: each applied
//! command lands in an atomic RocksDB write (the zone change, its history and audit rows, and
//! the applied log id, or for a command inside a batch entry how far the entry got; zone writes
//! of one batch entry share a write), after which the changed zones are compiled and swapped
//! into the data plane's catalog. Snapshots are a dump of the state-machine column families.

use std::collections::HashSet;
use std::io::{self, Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use futures_util::TryStreamExt as _;
use nebula_store::db::{decode_json, Batch, Cf, Db, DbError};
use nebula_store::snapshot::{Catalog, ZoneSnapshot};
use nebula_store::state::{
    record_membership, Applied, ApplyResult, Rejection, Stamped, ZoneChange, ZoneStore,
};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};

use crate::log_store::{blocking, UnsavedCommit};
use crate::types::{
    Entry, LogId, NodeId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig,
};

const APPLIED: &[u8] = b"applied";
/// How many commands of a batch entry are applied: `[log id, count]`, written with each but
/// the last (whose write moves `applied` instead).
const APPLIED_PART: &[u8] = b"applied_part";
const MEMBERSHIP: &[u8] = b"membership";
/// Where snapshots lived before they moved to their own file (ADR 0004); removed on the next save.
const OLD_SNAPSHOT_KEYS: [&[u8]; 2] = [b"snapshot_meta", b"snapshot_data"];
/// The first bytes of a snapshot file; then the metadata's length (u32 big-endian), the
/// metadata (JSON) and the [`Db::dump`].
const SNAPSHOT_MAGIC: &[u8] = b"NEBSNAPF1";

/// The state machine, shared with the API (which reads it) through [`Shared`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
    /// The current snapshot: a file beside the database, replaced atomically (write, fsync,
    /// rename), so a snapshot of many megabytes never passes through the write-ahead log that
    /// every Raft append waits on.
    snapshot_path: PathBuf,
    /// The commit index the log store saved last: the next write here carries it.
    commit: Arc<UnsavedCommit>,
}

/// What the API and the node see of the state machine.
#[derive(Debug)]
pub struct Shared {
    pub db: Arc<Db>,
    pub store: RwLock<ZoneStore>,
    /// The catalog the DNS data plane serves.
    pub catalog: Arc<ArcSwap<Catalog>>,
    /// Snapshots received from a leader and installed (a follower that fell too far behind).
    pub snapshots_installed: AtomicU64,
}

fn io_err(e: &DbError) -> io::Error {
    io::Error::other(e.to_string())
}

fn encoding(log_id: &LogId, e: serde_json::Error) -> io::Error {
    io::Error::other(format!("applying entry {log_id}: encoding: {e}"))
}

impl StateMachine {
    /// Opens the state machine and puts every stored zone into the catalog.
    pub fn open(
        db: Arc<Db>,
        catalog: Arc<ArcSwap<Catalog>>,
        snapshot_path: PathBuf,
        commit: Arc<UnsavedCommit>,
    ) -> Result<StateMachine, DbError> {
        let store = ZoneStore::open(db.clone())?;
        let snapshots: Vec<Arc<ZoneSnapshot>> = store
            .served()
            .map(|z| Arc::new(ZoneSnapshot::compile_next(z, None)))
            .collect();
        catalog.rcu(|current| {
            let mut next = Catalog::clone(current);
            for snapshot in &snapshots {
                next = next.with_zone(snapshot.clone());
            }
            next
        });
        Ok(StateMachine {
            shared: Arc::new(Shared {
                db,
                store: RwLock::new(store),
                catalog,
                snapshots_installed: AtomicU64::new(0),
            }),
            snapshot_path,
            commit,
        })
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    fn read_applied(&self) -> Result<(Option<LogId>, StoredMembership), DbError> {
        let db = &self.shared.db;
        let applied = db.get_json::<Option<LogId>>(Cf::State, APPLIED)?.flatten();
        let membership = db.get_json(Cf::State, MEMBERSHIP)?.unwrap_or_default();
        Ok((applied, membership))
    }
}

/// An apply taking this long is logged: every writer of the entries, and the DNS answers of
/// the zones they change, waited for it.
const SLOW_APPLY: std::time::Duration = std::time::Duration::from_millis(20);
/// Committed entries carrying at least this many writes are applied off the runtime's thread.
const OFFLOAD_WRITES: usize = 4;

/// Swaps changed zones into the catalog: compiled outside the swap, installed in one step.
/// Returns the catalog it replaced, for the caller to drop when freeing it is off the critical
/// path (after the writers are answered).
pub(crate) fn publish(catalog: &ArcSwap<Catalog>, changes: &[ZoneChange]) -> Option<Arc<Catalog>> {
    if changes.is_empty() {
        return None;
    }
    // A batch of entries may change one zone many times: compile its last version only.
    let mut last: Vec<&ZoneChange> = Vec::new();
    for change in changes.iter().rev() {
        if !last.iter().any(|seen| seen.origin == change.origin) {
            last.push(change);
        }
    }
    // Each compile starts from the served snapshot of the zone: only changed names are rebuilt.
    let served = catalog.load();
    let compiled: Vec<(Vec<u8>, Option<Arc<ZoneSnapshot>>)> = last
        .into_iter()
        .map(|c| {
            let key = c.origin.to_lowercase().as_wire().to_vec();
            let previous = served.get(&key).map(|snapshot| &**snapshot);
            let snapshot = c
                .zone
                .as_ref()
                .map(|z| Arc::new(ZoneSnapshot::compile_next(z, previous)));
            (key, snapshot)
        })
        .collect();
    Some(catalog.rcu(|current| {
        let mut next = Catalog::clone(current);
        for (key, snapshot) in &compiled {
            next = match snapshot {
                Some(snapshot) => next.with_zone(snapshot.clone()),
                None => next.without_zone(key),
            };
        }
        next
    }))
}

impl StateMachine {
    /// Applies committed entries in order; the answer of each is one result per command. Also
    /// returns what was replaced (the previous catalog and zone versions), to be dropped after
    /// the answers are sent.
    fn apply_entries(&self, entries: Vec<Entry>) -> io::Result<(Vec<Vec<ApplyResult>>, Retired)> {
        let mut results = Vec::with_capacity(entries.len());
        let mut changes = Vec::new();
        {
            let db = self.shared.db.clone();
            let mut store = self.shared.store.write().map_err(|_| io_err(&poisoned()))?;
            let mut commit = self.commit.take();
            for entry in entries {
                let applied = serde_json::to_vec(&Some(&entry.log_id))
                    .map_err(|e| encoding(&entry.log_id, e))?;
                let mut extra = vec![(Cf::State, APPLIED.to_vec(), applied)];
                extra.extend(commit.take());
                match entry.payload {
                    EntryPayload::Blank => {
                        write_extra(&db, &extra, None).map_err(|e| io_err(&e))?;
                        results.push(Vec::new());
                    }
                    EntryPayload::Membership(membership) => {
                        let members: Vec<NodeId> = membership.nodes().map(|(id, _)| *id).collect();
                        let stored = StoredMembership::new(Some(entry.log_id), membership);
                        let bytes =
                            serde_json::to_vec(&stored).map_err(|e| encoding(&entry.log_id, e))?;
                        extra.push((Cf::State, MEMBERSHIP.to_vec(), bytes));
                        write_extra(&db, &extra, Some(&members)).map_err(|e| io_err(&e))?;
                        results.push(Vec::new());
                    }
                    EntryPayload::Normal(proposal) => {
                        let (commands, coalesce) = proposal.into_commands();
                        let last = commands.len().saturating_sub(1);
                        // A batch entry cut short by a crash resumes after the last command
                        // written (`applied_part`).
                        let done = if last > 0 {
                            applied_part(&db, &entry.log_id).map_err(|e| io_err(&e))?
                        } else {
                            0
                        };
                        let mut group = Group::new(&db, coalesce);
                        let mut entry_results = Vec::with_capacity(commands.len());
                        for (index, stamped) in commands.iter().enumerate() {
                            if index < done {
                                entry_results.push(Err(Rejection::applied_before_restart()));
                                continue;
                            }
                            let step = if index == last {
                                std::mem::take(&mut extra)
                            } else {
                                let bytes = serde_json::to_vec(&(&entry.log_id, index + 1))
                                    .map_err(|e| encoding(&entry.log_id, e))?;
                                vec![(Cf::State, APPLIED_PART.to_vec(), bytes)]
                            };
                            let applied = group
                                .apply(&mut store, stamped, step)
                                .map_err(|e| io_err(&e))?;
                            changes.extend(applied.changes);
                            entry_results.extend(applied.results);
                        }
                        let applied = group.flush(&mut store).map_err(|e| io_err(&e))?;
                        changes.extend(applied.changes);
                        entry_results.extend(applied.results);
                        results.push(entry_results);
                    }
                }
            }
        }
        let catalog = publish(&self.shared.catalog, &changes);
        Ok((results, (catalog, changes)))
    }
}

/// What an apply replaced (the previous catalog) and the zone versions it made; freeing them
/// can wait until the writers have their answers.
type Retired = (Option<Arc<Catalog>>, Vec<ZoneChange>);

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        self.read_applied().map_err(|e| io_err(&e))
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> io::Result<()>
    where
        Strm: futures_util::Stream<Item = io::Result<EntryResponder<TypeConfig>>>
            + Unpin
            + OptionalSend,
    {
        // Everything committed so far, applied in one go; answers go out once the changed
        // zones are in the catalog, so a caller's next query sees its write.
        let (entries, responders): (Vec<Entry>, Vec<_>) =
            entries.try_collect::<Vec<_>>().await?.into_iter().unzip();
        let (count, started) = (entries.len(), std::time::Instant::now());
        // A batch of many writes is long work: the runtime hands its other tasks (the API, the
        // Raft core, replication) to another thread meanwhile, so a node with one runtime
        // thread still uses a second core under load. A lone write applies inline, with no
        // hand-off to wait for.
        let writes: usize = entries
            .iter()
            .map(|entry| match &entry.payload {
                EntryPayload::Normal(proposal) => proposal.writes(),
                _ => 0,
            })
            .sum();
        let (results, retired) = if writes >= OFFLOAD_WRITES {
            blocking(|| self.apply_entries(entries))?
        } else {
            self.apply_entries(entries)?
        };
        let took = started.elapsed();
        if took >= SLOW_APPLY {
            tracing::warn!(
                ms = took.as_millis(),
                entries = count,
                "applying committed entries was slow, and their writers and DNS answers waited for it"
            );
        }
        for (responder, result) in responders.into_iter().zip(results) {
            if let Some(responder) = responder {
                responder.send(result);
            }
        }
        drop(retired);
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> io::Result<()> {
        let data = snapshot.into_inner();
        let failed = |e: &DbError| -> io::Error {
            io::Error::other(format!(
                "installing the snapshot up to {:?}: {e}",
                meta.last_log_id
            ))
        };
        let db = self.shared.db.clone();
        let mut store = self.shared.store.write().map_err(|_| io_err(&poisoned()))?;
        let before: Vec<ZoneChange> = store
            .served()
            .map(|z| ZoneChange {
                origin: z.origin.clone(),
                zone: None,
            })
            .collect();
        db.restore(&Cf::STATE_MACHINE, &data)
            .map_err(|e| failed(&e))?;
        save_snapshot(&db, &self.snapshot_path, meta, &data).map_err(|e| failed(&e))?;
        *store = ZoneStore::open(db.clone()).map_err(|e| failed(&e))?;
        let mut changes = before;
        changes.extend(store.served().map(|z| ZoneChange {
            origin: z.origin.clone(),
            zone: Some(z.clone()),
        }));
        drop(store);
        publish(&self.shared.catalog, &changes);
        self.shared
            .snapshots_installed
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(last_log_id = ?meta.last_log_id, "installed a snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let path = self.snapshot_path.clone();
        let loaded = tokio::task::spawn_blocking(move || load_snapshot(&path))
            .await
            .map_err(io::Error::other)?
            .map_err(|e| io_err(&e))?;
        Ok(loaded.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Cursor::new(data),
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        // One RocksDB snapshot gives the copy and the applied id it corresponds to, so applying
        // goes on while the copy is made (off the async workers: it reads every row).
        let db = self.shared.db.clone();
        let dump = tokio::task::spawn_blocking(move || {
            db.dump(
                &Cf::STATE_MACHINE,
                &[(Cf::State, APPLIED), (Cf::State, MEMBERSHIP)],
            )
        })
        .await
        .map_err(io::Error::other)?
        .map_err(|e| io_err(&e))?;
        let value = |i: usize| dump.values.get(i).cloned().flatten();
        let applied: Option<LogId> = match value(0) {
            None => None,
            Some(bytes) => {
                decode_json::<Option<LogId>>(Cf::State, APPLIED, &bytes).map_err(|e| io_err(&e))?
            }
        };
        let membership: StoredMembership = match value(1) {
            None => StoredMembership::default(),
            Some(bytes) => decode_json(Cf::State, MEMBERSHIP, &bytes).map_err(|e| io_err(&e))?,
        };
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
        };
        let (db, path, saved) = (
            self.shared.db.clone(),
            self.snapshot_path.clone(),
            meta.clone(),
        );
        let data = dump.data;
        let started = std::time::Instant::now();
        let data = tokio::task::spawn_blocking(move || {
            save_snapshot(&db, &path, &saved, &data).map(|()| data)
        })
        .await
        .map_err(io::Error::other)?
        .map_err(|e| io_err(&e))?;
        tracing::info!(
            index = meta.last_log_id.map(|id| id.index),
            bytes = data.len(),
            ms = started.elapsed().as_millis(),
            "snapshot saved"
        );
        Ok(Snapshot {
            meta,
            snapshot: Cursor::new(data),
        })
    }
}

fn snapshot_error(path: &Path, what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt {
        what: format!("snapshot file {}", path.display()),
        message: format!("{what}: {e}"),
    }
}

/// A snapshot file is written and synced this much at a time.
const SNAPSHOT_SYNC_CHUNK: usize = 1 << 20;

/// Writes the snapshot file atomically: a temporary file, fsynced, renamed over the old one,
/// and the directory fsynced so the rename survives power loss. The data is synced as it is
/// written, a chunk at a time: one sync of the whole file put tens of megabytes in the disk's
/// queue at once, in front of the Raft log's fsyncs, on every node at the same log index. With
/// a 64 MiB file on this machine's disk, a log fsync meanwhile took up to 18-34 ms written at
/// once, 1.3-5.7 ms in 1 MiB chunks (`bench/fsync_under_write.py`, bench/README).
fn save_snapshot(db: &Db, path: &Path, meta: &SnapshotMeta, data: &[u8]) -> Result<(), DbError> {
    let meta_json = serde_json::to_vec(meta).map_err(|e| snapshot_error(path, "encoding", e))?;
    let meta_len =
        u32::try_from(meta_json.len()).map_err(|e| snapshot_error(path, "metadata", e))?;
    let tmp = path.with_extension("tmp");
    let write = || -> io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(SNAPSHOT_MAGIC)?;
        file.write_all(&meta_len.to_be_bytes())?;
        file.write_all(&meta_json)?;
        for chunk in data.chunks(SNAPSHOT_SYNC_CHUNK) {
            file.write_all(chunk)?;
            file.sync_data()?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| snapshot_error(path, "writing", e))?;
    let mut batch = db.batch();
    for key in OLD_SNAPSHOT_KEYS {
        batch.delete(Cf::RaftMeta, key)?;
    }
    db.write(batch, false)
}

/// Reads the snapshot file, if there is one.
fn load_snapshot(path: &Path) -> Result<Option<(SnapshotMeta, Vec<u8>)>, DbError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(snapshot_error(path, "reading", e)),
    };
    let rest = bytes
        .strip_prefix(SNAPSHOT_MAGIC)
        .ok_or_else(|| snapshot_error(path, "format", "bad magic"))?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| snapshot_error(path, "format", "truncated"))?;
    let len = usize::try_from(u32::from_be_bytes(*len))
        .ok()
        .filter(|&len| len <= rest.len())
        .ok_or_else(|| snapshot_error(path, "format", "truncated metadata"))?;
    let (meta, data) = rest.split_at(len);
    let meta = serde_json::from_slice(meta).map_err(|e| snapshot_error(path, "metadata", e))?;
    Ok(Some((meta, data.to_vec())))
}

/// Consecutive commands of a batch entry written as one atomic RocksDB write where
/// [`ZoneStore::batchable`] allows (zone writes with distinct idempotency keys); any other
/// command is written alone, after the group before it. Each write carries the `applied_part`
/// (or `applied`) marker of its last command. With `coalesce` (a [`Proposal::Coalesced`]
/// entry), record changes in a group may share a version; the group's run ends before the
/// write.
///
/// [`Proposal::Coalesced`]: crate::types::Proposal::Coalesced
struct Group<'db> {
    db: &'db Db,
    coalesce: bool,
    batch: Option<Batch<'db>>,
    /// The marker of the last command in `batch`.
    marker: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    keys: HashSet<String>,
}

impl<'db> Group<'db> {
    fn new(db: &'db Db, coalesce: bool) -> Group<'db> {
        Group {
            db,
            coalesce,
            batch: None,
            marker: Vec::new(),
            keys: HashSet::new(),
        }
    }

    fn apply(
        &mut self,
        store: &mut ZoneStore,
        stamped: &Stamped,
        marker: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    ) -> Result<Applied, DbError> {
        if !ZoneStore::batchable(stamped) {
            let mut applied = self.flush(store)?;
            let (result, changes) = store.apply(stamped, &marker, false)?;
            applied.results.push(result);
            applied.changes.extend(changes);
            return Ok(applied);
        }
        let mut applied = Applied::default();
        if let Some(key) = &stamped.idempotency_key {
            // A repeated key must see the first one's record: start a new write.
            if self.keys.contains(key) {
                applied = self.flush(store)?;
            }
            self.keys.insert(key.clone());
        }
        let db = self.db;
        let batch = self.batch.get_or_insert_with(|| db.batch());
        self.marker = marker;
        let now = store.apply_into(stamped, &[], batch, self.coalesce)?;
        applied.results.extend(now.results);
        applied.changes.extend(now.changes);
        Ok(applied)
    }

    /// Ends the store's run and writes the group; returns the answers that made final.
    fn flush(&mut self, store: &mut ZoneStore) -> Result<Applied, DbError> {
        self.keys.clear();
        let mut applied = Applied::default();
        if let Some(mut batch) = self.batch.take() {
            store.end_run(&mut batch, &mut applied)?;
            for (cf, key, value) in self.marker.drain(..) {
                batch.put(cf, &key, &value)?;
            }
            self.db.write(batch, false)?;
        }
        Ok(applied)
    }
}

/// How many commands of the batch entry `log_id` were applied before a restart.
fn applied_part(db: &Db, log_id: &LogId) -> Result<usize, DbError> {
    Ok(
        match db.get_json::<(LogId, usize)>(Cf::State, APPLIED_PART)? {
            Some((id, done)) if id == *log_id => done,
            _ => 0,
        },
    )
}

fn write_extra(
    db: &Db,
    extra: &[(Cf, Vec<u8>, Vec<u8>)],
    members: Option<&[NodeId]>,
) -> Result<(), DbError> {
    let mut batch = db.batch();
    for (cf, key, value) in extra {
        batch.put(*cf, key, value)?;
    }
    if let Some(members) = members {
        record_membership(db, &mut batch, members)?;
    }
    db.write(batch, false)
}

fn poisoned() -> DbError {
    DbError::Corrupt {
        what: "state machine lock".to_owned(),
        message: "a thread panicked while holding it".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    fn stamped(value: serde_json::Value) -> Stamped {
        serde_json::from_value(value).unwrap()
    }

    fn change(name: &str, key: &str) -> Stamped {
        stamped(serde_json::json!({
            "time_ms": 1_000, "author": "test", "idempotency_key": key,
            "command": {"op": "change_records", "zone": "t.test.", "changes": [
                {"action": "add", "name": name, "type": "TXT", "ttl": 60, "data": "\"v\""}]}
        }))
    }

    /// c0 create, c1 change (key x), c2 the same change and key (a replay: must see c1's
    /// record), c3 a meta command (written alone), c4 a change (key y).
    fn batch() -> Vec<Stamped> {
        vec![
            stamped(serde_json::json!({
                "time_ms": 1_000, "author": "test",
                "command": {"op": "put_zone", "zone": "t.test.", "create_only": true,
                    "body": "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"}
            })),
            change("k1", "x"),
            change("k1", "x"),
            stamped(serde_json::json!({
                "time_ms": 1_000, "author": "test",
                "command": {"op": "revoke_token", "id": "no-such-token"}
            })),
            change("k2", "y"),
        ]
    }

    fn machine(dir: &Path) -> StateMachine {
        let db = Arc::new(Db::open(&dir.join("db")).unwrap());
        let catalog = Arc::new(ArcSwap::from_pointee(Catalog::default()));
        StateMachine::open(db, catalog, dir.join("db.snapshot"), Arc::default()).unwrap()
    }

    fn history(machine: &StateMachine) -> Vec<(u64, u32, String)> {
        nebula_store::state::read_history(&machine.shared.db, "t.test.", 1, 100)
            .unwrap()
            .into_iter()
            .map(|h| (h.version, h.serial, h.hash))
            .collect()
    }

    #[test]
    fn a_batch_entry_applies_in_order_and_resumes_after_a_crash() {
        let log_id = crate::types::tests::log_id(1, 7);
        let entry = || Entry {
            log_id,
            payload: EntryPayload::Normal(crate::types::Proposal::Batch(batch())),
        };

        let whole = tempfile::tempdir().unwrap();
        let first = machine(whole.path());
        let results = first.apply_entries(vec![entry()]).unwrap().0.remove(0);
        let outcomes: Vec<String> = results
            .iter()
            .map(|r| match r {
                Ok(w) => format!("{:?} {:?}", w.outcome, w.version),
                Err(e) => format!("rejected {:?}", e.kind),
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                "Applied Some(1)",
                "Applied Some(2)",
                "Replayed Some(2)",
                "rejected NotFound",
                "Applied Some(3)"
            ]
        );
        assert_eq!(first.read_applied().unwrap().0, Some(log_id));

        // The same entry on a node that crashed after writing c0..c2 (as the state machine
        // writes them: c0 and c1 together, then c2, each with how far the entry got).
        let cut = tempfile::tempdir().unwrap();
        {
            let db = Arc::new(Db::open(&cut.path().join("db")).unwrap());
            let mut store = ZoneStore::open(db.clone()).unwrap();
            let commands = batch();
            let marker = |done: usize| {
                [(
                    Cf::State,
                    APPLIED_PART.to_vec(),
                    serde_json::to_vec(&(log_id, done)).unwrap(),
                )]
            };
            let mut together = db.batch();
            for (command, done) in commands.iter().zip(1..=2) {
                let applied = store
                    .apply_into(command, &marker(done), &mut together, false)
                    .unwrap();
                assert!(applied.results.iter().all(Result::is_ok));
            }
            db.write(together, false).unwrap();
            let (result, _) = store.apply(&commands[2], &marker(3), false).unwrap();
            assert!(result.is_ok());
        }
        let second = machine(cut.path());
        let results = second.apply_entries(vec![entry()]).unwrap().0.remove(0);
        assert!(results[..3]
            .iter()
            .all(|r| r == &Err(Rejection::applied_before_restart())));
        assert_eq!(results[4].as_ref().map(|w| w.version), Ok(Some(3)));
        assert_eq!(history(&second), history(&first));
        assert_eq!(
            nebula_store::state::read_audit(&second.shared.db, 0, 100).unwrap(),
            nebula_store::state::read_audit(&first.shared.db, 0, 100).unwrap(),
            "the audit chain is the same as without the crash"
        );
    }

    #[tokio::test]
    async fn the_commit_index_is_written_with_the_next_apply() {
        use openraft::storage::RaftLogStorage;
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("db")).unwrap());
        let segments = dir.path().join("raft-log");
        let mut log = crate::log_store::LogStore::new(db.clone(), &segments).unwrap();
        let catalog = Arc::new(ArcSwap::from_pointee(Catalog::default()));
        let machine = StateMachine::open(
            db.clone(),
            catalog,
            dir.path().join("db.snapshot"),
            log.unsaved_commit(),
        )
        .unwrap();
        let committed = crate::types::tests::log_id(1, 3);
        log.save_committed(Some(committed)).await.unwrap();
        assert_eq!(log.read_committed().await.unwrap(), Some(committed));
        let on_disk = || {
            let mut fresh = crate::log_store::LogStore::new(db.clone(), &segments).unwrap();
            async move { fresh.read_committed().await.unwrap() }
        };
        assert_eq!(on_disk().await, None, "not written on its own");
        let blank = Entry {
            log_id: committed,
            payload: EntryPayload::Blank,
        };
        machine.apply_entries(vec![blank]).unwrap();
        assert_eq!(on_disk().await, Some(committed), "written with the apply");
        assert_eq!(machine.read_applied().unwrap().0, Some(committed));
    }

    #[test]
    fn a_coalesced_entry_makes_one_version_per_run() {
        let by = |author: &str, name: &str, data: &str| {
            stamped(serde_json::json!({
                "time_ms": 2_000, "author": author,
                "command": {"op": "change_records", "zone": "t.test.", "changes": [
                    {"action": "replace", "name": name, "type": "TXT", "ttl": 60, "data": data}]}
            }))
        };
        let mut keyed = by("test", "k2", "\"b\"");
        keyed.idempotency_key = Some("ka".to_owned());
        let mut alias = by("test", "k1", "k2");
        if let nebula_store::state::Command::ChangeRecords { changes, .. } = &mut alias.command {
            changes[0].rtype = "CNAME".to_owned();
        }
        let mut commands = vec![batch().remove(0)];
        commands.extend([
            by("test", "k1", "\"a\""),
            keyed,
            // A CNAME beside k1's text: refused alone, and undone.
            alias,
            // What k2 already is: no change, seen in the run's version.
            by("test", "k2", "\"b\""),
            // k1 again: the run ends first.
            by("test", "k1", "\"c\""),
            // Another author: another run.
            by("other", "k3", "\"d\""),
        ]);
        let mut missing = by("test", "k4", "\"e\"");
        if let nebula_store::state::Command::ChangeRecords { zone, .. } = &mut missing.command {
            *zone = "absent.test.".to_owned();
        }
        commands.push(missing);
        let entry = |proposal| Entry {
            log_id: crate::types::tests::log_id(1, 7),
            payload: EntryPayload::Normal(proposal),
        };
        let outcomes = |results: &[ApplyResult]| -> Vec<String> {
            results
                .iter()
                .map(|r| match r {
                    Ok(w) => format!("{:?} {:?} {}", w.outcome, w.version, w.summary),
                    Err(e) => format!("rejected {:?}", e.kind),
                })
                .collect()
        };
        let dir = tempfile::tempdir().unwrap();
        let coalesced = machine(dir.path());
        let proposal = crate::types::Proposal::Coalesced {
            writes: commands.clone(),
        };
        let results = coalesced.apply_entries(vec![entry(proposal)]).unwrap().0;
        assert_eq!(
            outcomes(&results[0]),
            [
                "Applied Some(1) 3 records",
                "Applied Some(2) +1 \u{2212}0 ~1 RRsets",
                "Applied Some(2) +1 \u{2212}0 ~1 RRsets",
                "rejected Invalid",
                "Unchanged Some(2) no change",
                "Applied Some(3) +0 \u{2212}0 ~2 RRsets",
                "Applied Some(4) +1 \u{2212}0 ~1 RRsets",
                "rejected NotFound",
            ]
        );
        let rows =
            nebula_store::state::read_history(&coalesced.shared.db, "t.test.", 1, 100).unwrap();
        let authors: Vec<(&str, &str)> = rows
            .iter()
            .map(|h| (h.author.as_str(), h.summary.as_str()))
            .collect();
        assert_eq!(
            authors,
            [
                ("test", "3 records"),
                ("test", "+2 \u{2212}0 ~1 RRsets"),
                ("test", "+0 \u{2212}0 ~2 RRsets"),
                ("other", "+1 \u{2212}0 ~1 RRsets"),
            ]
        );
        let audit = nebula_store::state::read_audit(&coalesced.shared.db, 0, 100).unwrap();
        let versions: Vec<Option<u64>> = audit.iter().map(|a| a.version).collect();
        assert_eq!(
            versions,
            [
                Some(1),
                Some(2),
                Some(2),
                None,
                Some(2),
                Some(3),
                Some(4),
                None
            ]
        );
        // The keyed write's record holds the run's version.
        let mut again = by("test", "k2", "\"b\"");
        again.idempotency_key = Some("ka".to_owned());
        let replay = Entry {
            log_id: crate::types::tests::log_id(1, 8),
            payload: EntryPayload::Normal(crate::types::Proposal::Coalesced {
                writes: vec![again.clone(), again],
            }),
        };
        let results = coalesced.apply_entries(vec![replay]).unwrap().0;
        assert_eq!(
            outcomes(&results[0]),
            [
                "Replayed Some(2) +1 \u{2212}0 ~1 RRsets",
                "Replayed Some(2) +1 \u{2212}0 ~1 RRsets"
            ]
        );

        // The same writes a version each (an entry logged before coalescing): the same content.
        let apart = tempfile::tempdir().unwrap();
        let separate = machine(apart.path());
        let results = separate
            .apply_entries(vec![entry(crate::types::Proposal::Batch(commands))])
            .unwrap()
            .0;
        let versions: Vec<Option<u64>> = results[0]
            .iter()
            .map(|r| r.as_ref().ok().and_then(|w| w.version))
            .collect();
        assert_eq!(
            versions,
            [
                Some(1),
                Some(2),
                Some(3),
                None,
                Some(3),
                Some(4),
                Some(5),
                None
            ]
        );
        let head = |m: &StateMachine| {
            nebula_store::state::read_head(&m.shared.db, "t.test.")
                .unwrap()
                .unwrap()
                .hash
        };
        assert_eq!(head(&coalesced), head(&separate));
    }

    #[test]
    fn snapshot_files_round_trip_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let path = dir.path().join("db.snapshot");
        assert!(
            load_snapshot(&path).unwrap().is_none(),
            "no file: no snapshot"
        );
        let meta = SnapshotMeta {
            last_log_id: Some(crate::types::tests::log_id(3, 9)),
            last_membership: StoredMembership::default(),
        };
        save_snapshot(&db, &path, &meta, b"abc").unwrap();
        let (loaded, data) = load_snapshot(&path).unwrap().unwrap();
        assert_eq!((loaded, data.as_slice()), (meta.clone(), b"abc".as_slice()));
        assert!(
            !path.with_extension("tmp").exists(),
            "the temporary file was renamed"
        );
        // Written and synced in chunks: a file of several, the last one partial, reads back whole.
        let large: Vec<u8> = (0..SNAPSHOT_SYNC_CHUNK * 2 + 7).map(|i| i as u8).collect();
        save_snapshot(&db, &path, &meta, &large).unwrap();
        assert_eq!(load_snapshot(&path).unwrap().unwrap().1, large);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..SNAPSHOT_MAGIC.len() + 6]).unwrap();
        let err = load_snapshot(&path).unwrap_err().to_string();
        assert!(err.contains("truncated metadata"), "{err}");
    }
}

//! openraft's log storage (`RaftLogStorage`): entries in segment files of their own
//! ([`crate::segments`], ADR 0009), vote/committed/purged in the node's RocksDB (`raft_meta`).
//!
//! Votes, truncations and purges are durable before the call returns. Appended entries are
//! written at once (so replication can read them) and made durable by the [`Syncer`] thread,
//! which fsyncs the segment and only then tells openraft they are stored: a node never
//! acknowledges a vote or an entry it could lose on power failure, and the leader's fsync
//! overlaps the followers' instead of preceding it. Appends that arrive during one fsync share
//! the next (group commit).
//!
//! The state machine's writes to RocksDB are not synced one by one: the log can replay them.
//! A purge syncs RocksDB's write-ahead log before it deletes the entries that led there.
//!
//! Data dirs made before segments kept the entries in RocksDB's `raft_log` column family; the
//! first start moves them into segments (written in a side directory, renamed into place, then
//! deleted from RocksDB), so a crash at any point leaves one whole copy.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use nebula_store::db::{Cf, Db, DbError};
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::segments::{decode, Segments};
use crate::types::{Entry, LogId, TypeConfig, Vote};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// At most this many entries, and this many bytes of them (as stored), stay in memory after
/// they are appended.
const TAIL_ENTRIES: usize = 1024;
const TAIL_BYTES: usize = 16 << 20;
/// An fsync of the log taking this long is logged: every write on this node waited for it.
const SLOW_FSYNC: std::time::Duration = std::time::Duration::from_millis(50);

/// The last entries appended, in index order without gaps, with their stored sizes.
#[derive(Debug, Default)]
struct Tail {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl Tail {
    /// The entries `start..end` if all of them are here.
    fn range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.0.log_id.index;
        let last = self.entries.back()?.0.log_id.index;
        if start < first || end > last + 1 || start >= end {
            return None;
        }
        let skip = usize::try_from(start - first).ok()?;
        let take = usize::try_from(end - start).ok()?;
        Some(
            self.entries
                .iter()
                .skip(skip)
                .take(take)
                .map(|(entry, _)| entry.clone())
                .collect(),
        )
    }

    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.entries.retain(|(entry, _)| keep(entry.log_id.index));
        self.bytes = self.entries.iter().map(|(_, size)| size).sum();
    }

    fn extend(&mut self, appended: Vec<(Entry, usize)>) {
        let follows = match (self.entries.back(), appended.first()) {
            (Some((last, _)), Some((first, _))) => first.log_id.index == last.log_id.index + 1,
            _ => true,
        };
        if !follows {
            self.entries.clear();
            self.bytes = 0;
        }
        for (entry, size) in appended {
            self.bytes += size;
            self.entries.push_back((entry, size));
        }
        while self.entries.len() > TAIL_ENTRIES || self.bytes > TAIL_BYTES {
            match self.entries.pop_front() {
                Some((_, size)) => self.bytes -= size,
                None => break,
            }
        }
    }
}

/// The commit index openraft saved last, not yet written. openraft applies what it commits
/// right after saving the index, so the state machine's next RocksDB write carries it
/// ([`UnsavedCommit::take`]): one write per commit instead of two. Unsynced either way (losing
/// it only means re-learning the index from the leader); a crash before that write leaves the
/// previous index, which is still one that was committed.
#[derive(Debug, Default)]
pub struct UnsavedCommit(Mutex<Option<Vec<u8>>>);

impl UnsavedCommit {
    /// The encoded index (a panic elsewhere cannot leave it half-written: it is replaced whole).
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The row to write with the next state machine write, if openraft saved an index since the
    /// last one.
    pub(crate) fn take(&self) -> Option<(Cf, Vec<u8>, Vec<u8>)> {
        let value = self.slot().take()?;
        Some((Cf::RaftMeta, COMMITTED.to_vec(), value))
    }

    fn put(&self, value: Vec<u8>) {
        *self.slot() = Some(value);
    }

    /// The unwritten index, if any (`Some(None)`: openraft saved "nothing committed").
    fn peek(&self) -> io::Result<Option<Option<LogId>>> {
        let unsaved = self.slot().clone();
        unsaved
            .map(|bytes| serde_json::from_slice(&bytes).map_err(io::Error::other))
            .transpose()
    }
}

/// The Raft log of one node.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Db>,
    /// The last entries appended: replication (twice on a three-node leader) and the state
    /// machine read each entry right after it is written, and take it from here instead of
    /// reading and decoding it from its segment again. Changed before the segments on truncate
    /// and purge, after them on append, so it never holds what they do not.
    tail: Arc<Mutex<Tail>>,
    /// The entries, durable once the syncer reports them (ADR 0009).
    segments: Arc<Segments>,
    syncer: Arc<Syncer>,
    commit: Arc<UnsavedCommit>,
}

/// The thread that makes appended entries durable: it waits for appends, fsyncs the active
/// segment once for all that arrived meanwhile, then reports each of them flushed.
#[derive(Debug)]
struct Syncer {
    queue: mpsc::Sender<IOFlushed<TypeConfig>>,
}

impl Syncer {
    fn spawn(segments: Arc<Segments>) -> io::Result<Syncer> {
        let (queue, pending) = mpsc::channel::<IOFlushed<TypeConfig>>();
        std::thread::Builder::new()
            .name("raft-wal-sync".to_owned())
            .spawn(move || {
                // Ends when the last log store handle is dropped.
                while let Ok(first) = pending.recv() {
                    let mut flushed = vec![first];
                    flushed.extend(pending.try_iter());
                    let started = std::time::Instant::now();
                    let result = segments.sync().map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "fsync of the Raft log failed");
                    }
                    let took = started.elapsed();
                    if took >= SLOW_FSYNC {
                        tracing::warn!(
                            ms = took.as_millis(),
                            appends = flushed.len(),
                            "a Raft log fsync was slow and writes waited for it: is something else writing to this disk, or is the volume throttled?"
                        );
                    }
                    for callback in flushed {
                        callback.io_completed(result.clone().map_err(io::Error::other));
                    }
                }
            })?;
        Ok(Syncer { queue })
    }

    /// Reports `callback` once everything written so far is durable.
    fn after_fsync(&self, callback: IOFlushed<TypeConfig>) -> io::Result<()> {
        self.queue
            .send(callback)
            .map_err(|_| io::Error::other("the Raft log's fsync thread has stopped"))
    }
}

impl LogStore {
    /// The log of the node whose RocksDB is `db`, its entries in the directory `dir`.
    pub fn new(db: Arc<Db>, dir: &Path) -> io::Result<LogStore> {
        let purged: Option<LogId> = db
            .get_json(Cf::RaftMeta, PURGED)
            .map_err(io::Error::other)?;
        let purged = purged.map(|id| id.index);
        if !dir.exists() {
            move_out_of_rocksdb(&db, dir, purged)?;
        }
        // Rows left by a move that was done but not yet cleaned up.
        if db
            .last(Cf::RaftLog, None)
            .map_err(io::Error::other)?
            .is_some()
        {
            delete_rocksdb_rows(&db)?;
        }
        let segments = Arc::new(Segments::open(dir, purged)?);
        Ok(LogStore {
            syncer: Arc::new(Syncer::spawn(segments.clone())?),
            segments,
            db,
            tail: Arc::default(),
            commit: Arc::default(),
        })
    }

    /// Where the commit index waits for the state machine's next write.
    pub fn unsaved_commit(&self) -> Arc<UnsavedCommit> {
        self.commit.clone()
    }

    fn cached(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry>> {
        self.tail.lock().ok()?.range(start, end?)
    }

    /// Keeps only the tail entries `keep` accepts (truncate, purge); on a poisoned lock the
    /// whole tail is dropped, never left stale.
    fn retain_tail(&self, keep: impl Fn(u64) -> bool) {
        match self.tail.lock() {
            Ok(mut tail) => tail.retain(keep),
            Err(poisoned) => *poisoned.into_inner() = Tail::default(),
        }
    }

    fn meta<T: DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        self.db
            .get_json(Cf::RaftMeta, key)
            .map_err(io::Error::other)
    }

    fn put_meta<T: Serialize>(&self, key: &[u8], value: &T, durable: bool) -> io::Result<()> {
        let mut batch = self.db.batch();
        batch
            .put_json(Cf::RaftMeta, key, value)
            .map_err(io::Error::other)?;
        write(&self.db, batch, durable).map_err(io::Error::other)
    }
}

/// Writes a batch; durable writes block this thread for the fsync without stalling the runtime.
pub(crate) fn write(
    db: &Db,
    batch: nebula_store::db::Batch<'_>,
    durable: bool,
) -> Result<(), DbError> {
    if durable {
        blocking(|| db.write(batch, true))
    } else {
        db.write(batch, false)
    }
}

/// Runs `work` (which waits for the disk, or computes for long) without stalling the other tasks
/// of a multi-threaded runtime.
pub(crate) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    if tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Moves a data dir's entries from RocksDB's `raft_log` column family (where they were before
/// segments) into segments in `dir`: written whole in a side directory, then renamed into
/// place. The rows are deleted afterwards (by the caller).
fn move_out_of_rocksdb(db: &Db, dir: &Path, purged: Option<u64>) -> io::Result<()> {
    let side = dir.with_extension("moving");
    if side.exists() {
        std::fs::remove_dir_all(&side)?;
    }
    let rows = db
        .scan(Cf::RaftLog, &index_key(0), None, usize::MAX)
        .map_err(io::Error::other)?;
    {
        let segments = Segments::open(&side, purged)?;
        let entries = rows
            .iter()
            .map(|(key, bytes)| {
                let index = <[u8; 8]>::try_from(key.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a Raft log row's key is not an index",
                        )
                    })?;
                decode(index, bytes).map(|entry| (entry, bytes.as_slice()))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let pairs: Vec<(&Entry, &[u8])> = entries
            .iter()
            .map(|(entry, bytes)| (entry, *bytes))
            .collect();
        segments.append(&pairs)?;
        segments.sync()?;
        if !rows.is_empty() {
            tracing::info!(entries = rows.len(), dir = %dir.display(), "moved the Raft log out of RocksDB into segment files");
        }
    }
    std::fs::rename(&side, dir)?;
    if let Some(parent) = dir.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

fn delete_rocksdb_rows(db: &Db) -> io::Result<()> {
    let mut batch = db.batch();
    batch
        .delete_range(Cf::RaftLog, &index_key(0), &index_key(u64::MAX))
        .map_err(io::Error::other)?;
    batch
        .delete(Cf::RaftLog, &index_key(u64::MAX))
        .map_err(io::Error::other)?;
    db.write(batch, true).map_err(io::Error::other)
}

fn bound_start(range: &impl RangeBounds<u64>) -> u64 {
    match range.start_bound() {
        Bound::Included(&i) => i,
        Bound::Excluded(&i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

fn bound_end(range: &impl RangeBounds<u64>) -> Option<u64> {
    match range.end_bound() {
        Bound::Included(&i) => i.checked_add(1),
        Bound::Excluded(&i) => Some(i),
        Bound::Unbounded => None,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = bound_start(&range);
        if let Some(entries) = self.cached(start, bound_end(&range)) {
            return Ok(entries);
        }
        self.segments.read(start, bound_end(&range))
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        self.meta(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let purged: Option<LogId> = self.meta(PURGED)?;
        let last = self.segments.last()?.or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        self.put_meta(VOTE, vote, true)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        // Written with the state machine's next write (`UnsavedCommit`).
        self.commit
            .put(serde_json::to_vec(&committed).map_err(io::Error::other)?);
        Ok(())
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        if let Some(unsaved) = self.commit.peek()? {
            return Ok(unsaved);
        }
        Ok(self.meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|entry| {
                let bytes = serde_json::to_vec(&entry).map_err(io::Error::other)?;
                Ok((entry, bytes))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let pairs: Vec<(&Entry, &[u8])> = encoded
            .iter()
            .map(|(entry, bytes)| (entry, bytes.as_slice()))
            .collect();
        // Written now (readable at once), durable when the syncer reports it.
        self.segments.append(&pairs)?;
        let appended = encoded
            .into_iter()
            .map(|(entry, bytes)| (entry, bytes.len()))
            .collect();
        if let Ok(mut tail) = self.tail.lock() {
            tail.extend(appended);
        }
        self.syncer.after_fsync(callback)
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> io::Result<()> {
        let from = last.map_or(0, |id| id.index.saturating_add(1));
        self.retain_tail(|index| index < from);
        blocking(|| self.segments.truncate(from, last))
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        self.retain_tail(|index| index > log_id.index);
        // Synced, so RocksDB's write-ahead log holds the state the purged entries led to
        // before they go.
        self.put_meta(PURGED, &log_id, true)?;
        blocking(|| self.segments.purge(log_id.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::EntryPayload;

    fn entry(index: u64) -> (Entry, usize) {
        let log_id = crate::types::tests::log_id(1, index);
        (
            Entry {
                log_id,
                payload: EntryPayload::Blank,
            },
            100,
        )
    }

    fn indexes(entries: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        entries.map(|e| e.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn a_log_kept_in_rocksdb_moves_into_segments_once_whole() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("db")).unwrap());
        let mut batch = db.batch();
        for index in 3..=7 {
            let bytes = serde_json::to_vec(&entry(index).0).unwrap();
            batch.put(Cf::RaftLog, &index_key(index), &bytes).unwrap();
        }
        batch
            .put_json(Cf::RaftMeta, PURGED, &crate::types::tests::log_id(1, 2))
            .unwrap();
        db.write(batch, true).unwrap();
        // A move that crashed halfway left a side directory: it is started over.
        let segments_dir = dir.path().join("raft-log");
        std::fs::create_dir_all(segments_dir.with_extension("moving")).unwrap();
        std::fs::write(
            segments_dir
                .with_extension("moving")
                .join("00000000000000000003.seg"),
            b"partial",
        )
        .unwrap();
        let store = LogStore::new(db.clone(), &segments_dir).unwrap();
        let held = |store: &LogStore| indexes(Some(store.segments.read(0, None).unwrap()));
        assert_eq!(held(&store), Some((3..=7).collect()));
        assert_eq!(db.last(Cf::RaftLog, None).unwrap(), None, "rows deleted");
        assert!(!segments_dir.with_extension("moving").exists());
        drop(store);
        // Reopened: read from the segments, nothing moved again.
        let store = LogStore::new(db, &segments_dir).unwrap();
        assert_eq!(held(&store), Some((3..=7).collect()));
        assert_eq!(store.segments.last().unwrap().map(|id| id.index), Some(7));
    }

    #[test]
    fn the_tail_answers_only_ranges_it_holds_and_follows_truncate_purge_and_gaps() {
        let mut tail = Tail::default();
        tail.extend((5..10).map(entry).collect());
        assert_eq!(indexes(tail.range(6, 9)), Some(vec![6, 7, 8]));
        assert_eq!(indexes(tail.range(5, 10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(tail.range(4, 7), None, "starts before the tail");
        assert_eq!(tail.range(8, 11), None, "ends after the tail");
        tail.retain(|i| i < 8); // truncate from 8
        assert_eq!(tail.range(7, 9), None);
        tail.extend(vec![entry(8)]);
        assert_eq!(indexes(tail.range(7, 9)), Some(vec![7, 8]));
        tail.retain(|i| i > 6); // purge up to 6
        assert_eq!(tail.range(6, 8), None);
        tail.extend(vec![entry(12)]); // a gap: start over
        assert_eq!(tail.range(7, 8), None);
        assert_eq!(indexes(tail.range(12, 13)), Some(vec![12]));
        tail.extend((13..13 + TAIL_ENTRIES as u64).map(entry).collect());
        assert_eq!(tail.entries.len(), TAIL_ENTRIES, "bounded by count");
        assert_eq!(tail.bytes, TAIL_ENTRIES * 100);
        let big = |i| (entry(i).0, TAIL_BYTES / 2 + 1);
        tail.extend(vec![
            big(13 + TAIL_ENTRIES as u64),
            big(14 + TAIL_ENTRIES as u64),
        ]);
        assert_eq!(tail.entries.len(), 1, "bounded by bytes");
    }
}

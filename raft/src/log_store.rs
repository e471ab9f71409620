//! openraft's log storage (`RaftLogStorage`) on the node's RocksDB: entries in the
//! `raft_log` column family keyed by big-endian index, vote/committed/purged in `raft_meta`.
//!
//! Votes, truncations and purges are written with `sync` before the call returns. Appended
//! entries are written at once (so replication can read them) and made durable by the
//! [`Syncer`] thread, which fsyncs the write-ahead log and only then tells openraft they are
//! stored: a node never acknowledges a vote or an entry it could lose on power failure, and the
//! leader's fsync overlaps the followers' instead of preceding it. Appends that arrive during
//! one fsync share the next (group commit).

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::{mpsc, Arc, Mutex};

use nebula_store::db::{Cf, Db, DbError};
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::types::{Entry, LogId, TypeConfig, Vote};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// At most this many entries, and this many bytes of them (as stored), stay in memory after
/// they are appended.
const TAIL_ENTRIES: usize = 1024;
const TAIL_BYTES: usize = 16 << 20;

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

/// The Raft log of one node.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Db>,
    /// The last entries appended: replication (twice on a three-node leader) and the state
    /// machine read each entry right after it is written, and take it from here instead of
    /// decoding it from the database again. Changed before the database on truncate and purge,
    /// after it on append, so it never holds what the database does not.
    tail: Arc<Mutex<Tail>>,
    syncer: Arc<Syncer>,
}

/// The thread that makes appended entries durable: it waits for appends, fsyncs the
/// write-ahead log once for all that arrived meanwhile, then reports each of them flushed.
#[derive(Debug)]
struct Syncer {
    queue: mpsc::Sender<IOFlushed<TypeConfig>>,
}

impl Syncer {
    fn spawn(db: Arc<Db>) -> io::Result<Syncer> {
        let (queue, pending) = mpsc::channel::<IOFlushed<TypeConfig>>();
        std::thread::Builder::new()
            .name("raft-wal-sync".to_owned())
            .spawn(move || {
                // Ends when the last log store handle is dropped.
                while let Ok(first) = pending.recv() {
                    let mut flushed = vec![first];
                    flushed.extend(pending.try_iter());
                    let result = db.sync_wal().map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "fsync of the Raft log failed");
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
    pub fn new(db: Arc<Db>) -> io::Result<LogStore> {
        Ok(LogStore {
            syncer: Arc::new(Syncer::spawn(db.clone())?),
            db,
            tail: Arc::default(),
        })
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
    if durable
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(|| db.write(batch, true))
    } else {
        db.write(batch, durable)
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
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

fn decode_entry(bytes: &[u8]) -> io::Result<Entry> {
    serde_json::from_slice(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("a Raft log entry: {e}")))
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
        let end = bound_end(&range).map(index_key);
        let rows = self
            .db
            .scan(
                Cf::RaftLog,
                &index_key(start),
                end.as_ref().map(|e| e.as_slice()),
                usize::MAX,
            )
            .map_err(io::Error::other)?;
        rows.iter().map(|(_, value)| decode_entry(value)).collect()
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        self.meta(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let purged: Option<LogId> = self.meta(PURGED)?;
        let last = match self.db.last(Cf::RaftLog, None).map_err(io::Error::other)? {
            None => purged,
            Some((_, value)) => Some(decode_entry(&value)?.log_id),
        };
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
        // Not synced: losing it only means re-learning the commit index from the leader.
        self.put_meta(COMMITTED, &committed, false)
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        Ok(self.meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = self.db.batch();
        let mut appended = Vec::new();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry).map_err(io::Error::other)?;
            batch
                .put(Cf::RaftLog, &index_key(entry.log_id.index), &bytes)
                .map_err(io::Error::other)?;
            appended.push((entry, bytes.len()));
        }
        // Written now (readable at once), durable when the syncer reports it.
        self.db.write(batch, false).map_err(io::Error::other)?;
        if let Ok(mut tail) = self.tail.lock() {
            tail.extend(appended);
        }
        self.syncer.after_fsync(callback)
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> io::Result<()> {
        let from = last.map_or(0, |id| id.index.saturating_add(1));
        self.retain_tail(|index| index < from);
        let mut batch = self.db.batch();
        batch
            .delete_range(Cf::RaftLog, &index_key(from), &index_key(u64::MAX))
            .map_err(io::Error::other)?;
        batch
            .delete(Cf::RaftLog, &index_key(u64::MAX))
            .map_err(io::Error::other)?;
        write(&self.db, batch, true).map_err(io::Error::other)
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        self.retain_tail(|index| index > log_id.index);
        let mut batch = self.db.batch();
        batch
            .put_json(Cf::RaftMeta, PURGED, &log_id)
            .map_err(io::Error::other)?;
        batch
            .delete_range(
                Cf::RaftLog,
                &index_key(0),
                &index_key(log_id.index.saturating_add(1)),
            )
            .map_err(io::Error::other)?;
        write(&self.db, batch, true).map_err(io::Error::other)
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

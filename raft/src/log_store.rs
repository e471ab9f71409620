//! openraft's log storage (storage-v2 `RaftLogStorage`) on the node's RocksDB: entries in the
//! `raft_log` column family keyed by big-endian index, vote/committed/purged in `raft_meta`.
//!
//! Votes and appended entries are written with `sync` before openraft is told they are
//! stored, so a node never acknowledges a vote or an entry it could lose on power failure.
//! The write runs under `block_in_place`, which lets the tokio runtime move other tasks off
//! this thread during the fsync; openraft batches whatever arrived meanwhile into the next
//! append, which gives group commit under load.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use nebula_store::db::{Cf, Db, DbError};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::types::{Entry, NodeId, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// The Raft log of one node.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Db>,
}

impl LogStore {
    pub fn new(db: Arc<Db>) -> LogStore {
        LogStore { db }
    }

    fn meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, DbError> {
        self.db.get_json(Cf::RaftMeta, key)
    }

    fn put_meta<T: Serialize>(&self, key: &[u8], value: &T, durable: bool) -> Result<(), DbError> {
        let mut batch = self.db.batch();
        batch.put_json(Cf::RaftMeta, key, value)?;
        write(&self.db, batch, durable)
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

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let start = bound_start(&range);
        let end = bound_end(&range).map(index_key);
        let rows = self
            .db
            .scan(
                Cf::RaftLog,
                &index_key(start),
                end.as_ref().map(|e| e.as_slice()),
                usize::MAX,
            )
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let mut entries = Vec::with_capacity(rows.len());
        for (_, value) in rows {
            let entry: Entry =
                serde_json::from_slice(&value).map_err(|e| StorageIOError::read_logs(&e))?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let purged: Option<LogId<NodeId>> = self
            .meta(PURGED)
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let last = match self
            .db
            .last(Cf::RaftLog, None)
            .map_err(|e| StorageIOError::read_logs(&e))?
        {
            None => purged,
            Some((_, value)) => {
                let entry: Entry =
                    serde_json::from_slice(&value).map_err(|e| StorageIOError::read_logs(&e))?;
                Some(entry.log_id)
            }
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.put_meta(VOTE, vote, true)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.meta(VOTE)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not synced: losing it only means re-learning the commit index from the leader.
        self.put_meta(COMMITTED, &committed, false)
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .meta::<Option<LogId<NodeId>>>(COMMITTED)
            .map_err(|e| StorageIOError::read(&e))?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = self.db.batch();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            batch
                .put(Cf::RaftLog, &index_key(entry.log_id.index), &bytes)
                .map_err(|e| StorageIOError::write_logs(&e))?;
        }
        let result = write(&self.db, batch, true);
        let io_result = result
            .as_ref()
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()));
        callback.log_io_completed(io_result);
        result.map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut batch = self.db.batch();
        batch
            .delete_range(Cf::RaftLog, &index_key(log_id.index), &index_key(u64::MAX))
            .map_err(|e| StorageIOError::write_logs(&e))?;
        batch
            .delete(Cf::RaftLog, &index_key(u64::MAX))
            .map_err(|e| StorageIOError::write_logs(&e))?;
        write(&self.db, batch, true).map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut batch = self.db.batch();
        batch
            .put_json(Cf::RaftMeta, PURGED, &log_id)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        batch
            .delete_range(
                Cf::RaftLog,
                &index_key(0),
                &index_key(log_id.index.saturating_add(1)),
            )
            .map_err(|e| StorageIOError::write_logs(&e))?;
        write(&self.db, batch, true).map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

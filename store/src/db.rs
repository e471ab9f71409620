//! The on-disk layout: one RocksDB instance per node with a column family per kind of data.
//!
//! | column family   | key                                   | value                          |
//! |-----------------|---------------------------------------|--------------------------------|
//! | `raft_log`      | log index, u64 big-endian             | empty: before ADR 0009 it held the Raft log, now in segment files |
//! | `raft_meta`     | `vote`, `committed`, `purged`, `snapshot` | Raft's own state (JSON)    |
//! | `zone_versions` | SHA-256 content hash (32 bytes)       | the zone as master-file text, serial 0 |
//! | `zone_history`  | zone key, 0x00, version u64 BE        | a [`crate::state::HistoryEntry`] |
//! | `audit`         | sequence u64 BE                       | a [`crate::state::AuditEntry`] |
//! | `applied_state` | `applied`, `membership`, `zone/…`, `idem/…`, `token/…`, `node/…`, `audit_head` | applied state (JSON) |
//!
//! Everything the state machine writes for one applied Raft entry goes into one [`Batch`] and
//! lands atomically. Writes Raft must not lose (vote, log) are synced; a synced write also
//! makes every earlier write durable, since all column families share one write-ahead log.
//! Keys sort big-endian so scans walk versions and audit entries in order.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

/// A key and its value, as scans return them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// One column family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cf {
    RaftLog,
    RaftMeta,
    Versions,
    History,
    Audit,
    State,
}

impl Cf {
    pub const ALL: [Cf; 6] = [
        Cf::RaftLog,
        Cf::RaftMeta,
        Cf::Versions,
        Cf::History,
        Cf::Audit,
        Cf::State,
    ];
    /// The column families a Raft snapshot carries: the state machine, not the log.
    pub const STATE_MACHINE: [Cf; 4] = [Cf::Versions, Cf::History, Cf::Audit, Cf::State];

    pub fn name(self) -> &'static str {
        match self {
            Cf::RaftLog => "raft_log",
            Cf::RaftMeta => "raft_meta",
            Cf::Versions => "zone_versions",
            Cf::History => "zone_history",
            Cf::Audit => "audit",
            Cf::State => "applied_state",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Cf::RaftLog => 0,
            Cf::RaftMeta => 1,
            Cf::Versions => 2,
            Cf::History => 3,
            Cf::Audit => 4,
            Cf::State => 5,
        }
    }

    fn from_tag(tag: u8) -> Option<Cf> {
        Cf::ALL.into_iter().find(|cf| cf.tag() == tag)
    }
}

/// Why the database could not be used.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot open the database in {path}: {message} (is another nebuladns using this data directory?)")]
    Open { path: String, message: String },
    #[error("database {operation} failed: {message}")]
    Io {
        operation: &'static str,
        message: String,
    },
    #[error("stored {what} is corrupt: {message}")]
    Corrupt { what: String, message: String },
}

fn io(operation: &'static str) -> impl FnOnce(rocksdb::Error) -> DbError {
    move |e| DbError::Io {
        operation,
        message: e.into_string(),
    }
}

/// The node's database.
pub struct Db {
    db: DB,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.db.path()).finish()
    }
}

/// Every column family's options. Applying a write reads keys that are mostly absent (the
/// content hash of a new version, a zone's upstream, an idempotency key): whole-key bloom
/// filters, in the memtable and in each table file, answer those without searching the
/// memtable's skiplist or reading table blocks.
fn cf_options() -> Options {
    let mut options = Options::default();
    options.set_memtable_prefix_bloom_ratio(0.02);
    options.set_memtable_whole_key_filtering(true);
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    options.set_block_based_table_factory(&table);
    options
}

impl Db {
    /// Opens (creating if needed) the database in `path` with every column family.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Fewer, larger files: the data is small next to a normal RocksDB workload.
        options.set_keep_log_file_num(4);
        // Reuse write-ahead-log files: a sync of a recycled file does not change its size, so
        // it needs no journal commit for the inode (most of a sync's cost on ext4).
        options.set_recycle_log_file_num(4);
        // Nothing here is synced per write any more (ADR 0009): have the kernel write the WAL
        // and tables out as they grow instead of in bursts every few seconds, which queued in
        // front of the Raft log's fsyncs.
        options.set_wal_bytes_per_sync(256 << 10);
        options.set_bytes_per_sync(1 << 20);
        let descriptors = Cf::ALL
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), cf_options()));
        let db =
            DB::open_cf_descriptors(&options, path, descriptors).map_err(|e| DbError::Open {
                path: path.display().to_string(),
                message: e.into_string(),
            })?;
        Ok(Db { db })
    }

    fn handle(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, DbError> {
        self.db
            .cf_handle(cf.name())
            .ok_or_else(|| DbError::Corrupt {
                what: "column family list".to_owned(),
                message: format!("{} is missing", cf.name()),
            })
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        self.db.get_cf(self.handle(cf)?, key).map_err(io("read"))
    }

    /// Reads and decodes a JSON value.
    pub fn get_json<T: DeserializeOwned>(&self, cf: Cf, key: &[u8]) -> Result<Option<T>, DbError> {
        match self.get(cf, key)? {
            None => Ok(None),
            Some(bytes) => decode_json(cf, key, &bytes).map(Some),
        }
    }

    /// Up to `limit` entries with keys in `[from, to)` in key order (`to` None: to the end).
    pub fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, DbError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.handle(cf)?,
            IteratorMode::From(from, Direction::Forward),
        ) {
            let (key, value) = item.map_err(io("scan"))?;
            if to.is_some_and(|end| key.as_ref() >= end) || out.len() >= limit {
                break;
            }
            out.push((key.into_vec(), value.into_vec()));
        }
        Ok(out)
    }

    /// Every entry whose key starts with `prefix`.
    pub fn scan_prefix(&self, cf: Cf, prefix: &[u8]) -> Result<Vec<KeyValue>, DbError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.handle(cf)?,
            IteratorMode::From(prefix, Direction::Forward),
        ) {
            let (key, value) = item.map_err(io("scan"))?;
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.into_vec(), value.into_vec()));
        }
        Ok(out)
    }

    /// The last entry of a column family at or below `at_most` (all of it when None).
    pub fn last(&self, cf: Cf, at_most: Option<&[u8]>) -> Result<Option<KeyValue>, DbError> {
        let mode = match at_most {
            Some(key) => IteratorMode::From(key, Direction::Reverse),
            None => IteratorMode::End,
        };
        match self.db.iterator_cf(self.handle(cf)?, mode).next() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(io("scan"))?;
                Ok(Some((key.into_vec(), value.into_vec())))
            }
        }
    }

    pub fn batch(&self) -> Batch<'_> {
        Batch {
            db: self,
            inner: WriteBatch::default(),
        }
    }

    /// Writes a batch atomically; `durable` syncs the write-ahead log before returning.
    pub fn write(&self, batch: Batch<'_>, durable: bool) -> Result<(), DbError> {
        let mut options = WriteOptions::default();
        options.set_sync(durable);
        self.db
            .write_opt(batch.inner, &options)
            .map_err(io("write"))
    }

    /// A consistent copy of the given column families (from one RocksDB snapshot) in the
    /// format [`Db::restore`] reads: `NEBSNAP1`, then per entry the family's tag (1 byte) and
    /// key and value, each with a u32 big-endian length. Also returns the values of `keys` as
    /// of the same snapshot, so a caller can say exactly which state the copy holds without
    /// keeping writers out while it is made.
    pub fn dump(&self, cfs: &[Cf], keys: &[(Cf, &[u8])]) -> Result<Dump, DbError> {
        let snapshot = self.db.snapshot();
        let mut values = Vec::with_capacity(keys.len());
        for &(cf, key) in keys {
            values.push(
                snapshot
                    .get_cf(self.handle(cf)?, key)
                    .map_err(io("snapshot"))?,
            );
        }
        let mut out = b"NEBSNAP1".to_vec();
        for &cf in cfs {
            for item in snapshot.iterator_cf(self.handle(cf)?, IteratorMode::Start) {
                let (key, value) = item.map_err(io("snapshot"))?;
                out.push(cf.tag());
                for part in [key.as_ref(), value.as_ref()] {
                    let len = u32::try_from(part.len()).map_err(|_| DbError::Corrupt {
                        what: cf.name().to_owned(),
                        message: "an entry is larger than 4 GiB".to_owned(),
                    })?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(part);
                }
            }
        }
        Ok(Dump { data: out, values })
    }

    /// Replaces the contents of `cfs` with a [`Db::dump`], atomically and durably.
    pub fn restore(&self, cfs: &[Cf], dump: &[u8]) -> Result<(), DbError> {
        let corrupt = |message: &str| DbError::Corrupt {
            what: "snapshot".to_owned(),
            message: message.to_owned(),
        };
        let mut rest = dump
            .strip_prefix(b"NEBSNAP1".as_slice())
            .ok_or_else(|| corrupt("bad magic"))?;
        let mut batch = self.batch();
        for &cf in cfs {
            for (key, _) in self.scan(cf, &[], None, usize::MAX)? {
                batch.delete(cf, &key)?;
            }
        }
        while let Some((&tag, tail)) = rest.split_first() {
            let cf = Cf::from_tag(tag)
                .filter(|cf| cfs.contains(cf))
                .ok_or_else(|| corrupt("unknown column family"))?;
            let (key, tail) = take_part(tail).ok_or_else(|| corrupt("truncated key"))?;
            let (value, tail) = take_part(tail).ok_or_else(|| corrupt("truncated value"))?;
            batch.put(cf, key, value)?;
            rest = tail;
        }
        self.write(batch, true)
    }

    /// Makes every write so far durable: syncs the write-ahead log.
    pub fn sync_wal(&self) -> Result<(), DbError> {
        self.db.flush_wal(true).map_err(io("sync"))
    }
}

fn take_part(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Decodes a stored JSON value, naming where it came from when it is corrupt.
/// What [`Db::dump`] returns: the copy, and the values of the keys asked for (None: absent).
#[derive(Debug)]
pub struct Dump {
    pub data: Vec<u8>,
    pub values: Vec<Option<Vec<u8>>>,
}

pub fn decode_json<T: DeserializeOwned>(cf: Cf, key: &[u8], bytes: &[u8]) -> Result<T, DbError> {
    serde_json::from_slice(bytes).map_err(|e| DbError::Corrupt {
        what: format!("{} key {}", cf.name(), String::from_utf8_lossy(key)),
        message: e.to_string(),
    })
}

/// Changes that land together.
pub struct Batch<'db> {
    db: &'db Db,
    inner: WriteBatch,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("len", &self.inner.len())
            .finish()
    }
}

impl Batch<'_> {
    pub fn put(&mut self, cf: Cf, key: &[u8], value: &[u8]) -> Result<(), DbError> {
        self.inner.put_cf(self.db.handle(cf)?, key, value);
        Ok(())
    }

    pub fn put_json<T: Serialize>(&mut self, cf: Cf, key: &[u8], value: &T) -> Result<(), DbError> {
        let bytes = serde_json::to_vec(value).map_err(|e| DbError::Corrupt {
            what: format!("{} value", cf.name()),
            message: e.to_string(),
        })?;
        self.put(cf, key, &bytes)
    }

    pub fn delete(&mut self, cf: Cf, key: &[u8]) -> Result<(), DbError> {
        self.inner.delete_cf(self.db.handle(cf)?, key);
        Ok(())
    }

    /// Deletes keys in `[from, to)`.
    pub fn delete_range(&mut self, cf: Cf, from: &[u8], to: &[u8]) -> Result<(), DbError> {
        self.inner.delete_range_cf(self.db.handle(cf)?, from, to);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_restore_round_trip_and_atomic_batches() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mut batch = db.batch();
        batch.put(Cf::History, b"a\0\0", b"one").unwrap();
        batch.put(Cf::State, b"applied", b"7").unwrap();
        batch
            .put(Cf::RaftLog, &1u64.to_be_bytes(), b"entry")
            .unwrap();
        db.write(batch, true).unwrap();
        let dump = db
            .dump(
                &Cf::STATE_MACHINE,
                &[(Cf::State, b"applied"), (Cf::State, b"none")],
            )
            .unwrap();
        assert_eq!(dump.values, vec![Some(b"7".to_vec()), None]);
        let dump = dump.data;

        let other_dir = tempfile::tempdir().unwrap();
        let other = Db::open(other_dir.path()).unwrap();
        let mut batch = other.batch();
        batch.put(Cf::State, b"stale", b"x").unwrap();
        other.write(batch, false).unwrap();
        other.restore(&Cf::STATE_MACHINE, &dump).unwrap();
        assert_eq!(
            other.get(Cf::State, b"applied").unwrap().as_deref(),
            Some(b"7".as_slice())
        );
        assert_eq!(
            other.get(Cf::State, b"stale").unwrap(),
            None,
            "restore replaces, not merges"
        );
        assert_eq!(
            other.get(Cf::RaftLog, &1u64.to_be_bytes()).unwrap(),
            None,
            "the log is not in a snapshot"
        );
        assert!(other
            .restore(&Cf::STATE_MACHINE, &dump[..dump.len() - 1])
            .is_err());
        assert_eq!(
            other.get(Cf::State, b"applied").unwrap().as_deref(),
            Some(b"7".as_slice()),
            "a bad dump changes nothing"
        );
    }

    #[test]
    fn scans_walk_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mut batch = db.batch();
        for i in [3u64, 1, 2, 10] {
            batch
                .put(Cf::Audit, &i.to_be_bytes(), &i.to_be_bytes())
                .unwrap();
        }
        db.write(batch, false).unwrap();
        let keys: Vec<u64> = db
            .scan(
                Cf::Audit,
                &2u64.to_be_bytes(),
                Some(&10u64.to_be_bytes()),
                10,
            )
            .unwrap()
            .into_iter()
            .map(|(k, _)| u64::from_be_bytes(k.try_into().unwrap()))
            .collect();
        assert_eq!(keys, [2, 3]);
        let (last, _) = db.last(Cf::Audit, None).unwrap().unwrap();
        assert_eq!(last, 10u64.to_be_bytes());
        let (below, _) = db
            .last(Cf::Audit, Some(&5u64.to_be_bytes()))
            .unwrap()
            .unwrap();
        assert_eq!(below, 3u64.to_be_bytes());
    }
}

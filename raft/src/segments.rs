//! The Raft log's entries in segment files of their own, beside the RocksDB that holds
//! everything else (ADR 0009).
//!
//! A segment is a file `<first index, 20 digits>.seg` sized up front ([`SEGMENT_BYTES`], or one
//! record if that is larger) and filled from the start with records:
//!
//! ```text
//! length u32 LE | crc32 u32 LE (of index and payload) | index u64 LE | payload (JSON entry)
//! ```
//!
//! Records are written in place of the zeros that the sizing left, so an fdatasync of an append
//! need not write the file's size (on ext4 an fsync of a growing file also writes its inode,
//! ~100 µs of every commit's critical path on the machine the benchmark runs on). Reading
//! back stops at the first record that is zero, torn or out of sequence; everything after it
//! is zeroed before new records are written there, so no stale record can ever follow a new
//! one. Truncation zeroes the removed records and deletes later segments; purging deletes whole
//! segments. Every change that removes records is durable before it returns.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::types::{Entry, LogId};

/// The size a new segment is given.
const SEGMENT_BYTES: u64 = 64 << 20;
const HEADER: usize = 16;
/// Zeroes are written in pieces of this size.
const ZERO_CHUNK: usize = 1 << 20;

/// Where an entry's record is.
#[derive(Debug, Clone, Copy)]
struct Position {
    /// The segment's first index (its name).
    segment: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug)]
struct Segment {
    first: u64,
    /// The index its next record must have.
    next: u64,
    file: Arc<File>,
    /// Bytes of records written; everything after is zero.
    end: u64,
    size: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Oldest first; the last is where appends go.
    segments: Vec<Segment>,
    /// The index of `positions[0]`.
    first: u64,
    positions: VecDeque<Position>,
    last: Option<LogId>,
}

/// The segment files of one node's log.
#[derive(Debug)]
pub(crate) struct Segments {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn crc(index: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&index.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends one record's bytes to `bytes`.
fn put_record(bytes: &mut Vec<u8>, index: u64, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len > 0)
        .ok_or_else(|| corrupt(format!("entry {index} has {} bytes", payload.len())))?;
    bytes.reserve(HEADER + payload.len());
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&crc(index, payload).to_le_bytes());
    bytes.extend_from_slice(&index.to_le_bytes());
    bytes.extend_from_slice(payload);
    Ok(())
}

/// Records of one append bound for the active segment, not yet written.
#[derive(Default)]
struct Staged {
    bytes: Vec<u8>,
    ids: Vec<(Position, LogId)>,
}

impl Staged {
    /// Writes the records to the active segment in one go; only then are they held.
    fn write(&mut self, inner: &mut Inner) -> io::Result<()> {
        let Some(last) = self.ids.last().map(|(_, id)| *id) else {
            return Ok(());
        };
        let segment = inner
            .segments
            .last_mut()
            .ok_or_else(|| io::Error::other("no segment to append to"))?;
        segment.file.write_all_at(&self.bytes, segment.end)?;
        segment.end += self.bytes.len() as u64;
        segment.next += self.ids.len() as u64;
        inner
            .positions
            .extend(self.ids.drain(..).map(|(position, _)| position));
        inner.last = Some(last);
        self.bytes.clear();
        Ok(())
    }
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An entry from its stored JSON, which must be entry `index`.
pub(crate) fn decode(index: u64, payload: &[u8]) -> io::Result<Entry> {
    let entry: Entry = serde_json::from_slice(payload)
        .map_err(|e| corrupt(format!("Raft log entry {index}: {e}")))?;
    if entry.log_id.index != index {
        return Err(corrupt(format!(
            "the record of entry {index} holds entry {}",
            entry.log_id.index
        )));
    }
    Ok(entry)
}

/// Writes zeros over `from..to` of `file`.
fn zero(file: &File, from: u64, to: u64) -> io::Result<()> {
    let zeros = vec![0u8; ZERO_CHUNK];
    let mut at = from;
    while at < to {
        let n = usize::try_from(to - at).map_or(ZERO_CHUNK, |left| left.min(ZERO_CHUNK));
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Where the valid records at the start of a segment are, and the end of the last one. Stops at
/// a zero length, a bad checksum, a short record or a break in sequence.
fn scan(file: &File, first: u64, size: u64) -> io::Result<(Vec<Position>, u64)> {
    let mut found = Vec::new();
    let mut offset = 0u64;
    let mut header = [0u8; HEADER];
    let mut payload = Vec::new();
    while offset + HEADER as u64 <= size {
        file.read_exact_at(&mut header, offset)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3, i @ ..] = header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let index = u64::from_le_bytes(i);
        let expected = first + found.len() as u64;
        if len == 0 || index != expected || offset + HEADER as u64 + u64::from(len) > size {
            break;
        }
        payload.resize(len as usize, 0);
        file.read_exact_at(&mut payload, offset + HEADER as u64)?;
        if crc(index, &payload) != u32::from_le_bytes([c0, c1, c2, c3]) {
            break;
        }
        found.push(Position {
            segment: first,
            offset,
            len,
        });
        offset += HEADER as u64 + u64::from(len);
    }
    Ok((found, offset))
}

/// True when `file` holds only zeros from `from` to `to`.
fn zero_after(file: &File, from: u64, to: u64) -> io::Result<bool> {
    let mut buffer = vec![0u8; ZERO_CHUNK];
    let mut at = from;
    while at < to {
        let n = usize::try_from(to - at).map_or(ZERO_CHUNK, |left| left.min(ZERO_CHUNK));
        file.read_exact_at(&mut buffer[..n], at)?;
        if buffer[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

impl Segments {
    /// Opens the log in `dir` (creating it), keeping the entries after `purged`: the last
    /// unbroken run of records. Anything after the last valid record is zeroed first.
    pub(crate) fn open(dir: &Path, purged: Option<u64>) -> io::Result<Segments> {
        fs::create_dir_all(dir)?;
        let mut names: Vec<u64> = Vec::new();
        for item in fs::read_dir(dir)? {
            let name = item?.file_name();
            let Some(first) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            names.push(first);
        }
        names.sort_unstable();
        let mut inner = Inner::default();
        let count = names.len();
        for (n, first) in names.into_iter().enumerate() {
            let path = segment_path(dir, first);
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let size = file.metadata()?.len();
            let (records, end) = scan(&file, first, size)?;
            // Only the segment appends went to can end in a torn write; the others were synced
            // whole before the next one began.
            if n + 1 == count && !zero_after(&file, end, size)? {
                tracing::warn!(segment = %path.display(), offset = end, "zeroing a torn or stale tail of the Raft log");
                zero(&file, end, size)?;
                file.sync_data()?;
            }
            let next = inner.first + inner.positions.len() as u64;
            if inner.positions.is_empty() || first != next {
                // A segment that does not continue the run before it begins a new run, which
                // is right only when everything before it was purged (a snapshot installed
                // past the end of the log); otherwise entries are missing.
                let restart = inner.positions.is_empty()
                    || purged.is_some_and(|p| first <= p.saturating_add(1));
                if !restart {
                    return Err(corrupt(format!(
                        "the Raft log in {} is damaged: entries {next} to {} are missing (segment {} ends early); restore this node from a snapshot of its peers (remove it from the cluster and add it back)",
                        dir.display(),
                        first.saturating_sub(1),
                        segment_path(dir, inner.segments.last().map_or(first, |s| s.first)).display()
                    )));
                }
                inner.positions.clear();
                inner.first = first;
            }
            let segment = Segment {
                first,
                next: first + records.len() as u64,
                file: Arc::new(file),
                end,
                size,
            };
            inner.positions.extend(records.iter().copied());
            inner.segments.push(segment);
        }
        let log = Segments {
            dir: dir.to_path_buf(),
            inner: Mutex::new(inner),
        };
        {
            let mut inner = log.lock()?;
            if let Some(purged) = purged {
                Self::drop_front(&mut inner, purged);
                if !inner.positions.is_empty() && inner.first > purged.saturating_add(1) {
                    return Err(corrupt(format!(
                        "the Raft log in {} is damaged: entries {} to {} are missing; restore this node from a snapshot of its peers (remove it from the cluster and add it back)",
                        dir.display(),
                        purged.saturating_add(1),
                        inner.first - 1
                    )));
                }
            }
            inner.last = match inner.positions.back().copied() {
                Some(position) => {
                    let index = inner.first + inner.positions.len() as u64 - 1;
                    let (file, position) = Self::locate(&inner, index, position)?;
                    Some(Self::read_at(&file, index, position)?.log_id)
                }
                None => None,
            };
        }
        Ok(log)
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| io::Error::other("the Raft log's lock is poisoned"))
    }

    /// The last entry's id, if any entry is held.
    pub(crate) fn last(&self) -> io::Result<Option<LogId>> {
        Ok(self.lock()?.last)
    }

    /// The file holding `position` and where in it.
    fn locate(inner: &Inner, index: u64, position: Position) -> io::Result<(Arc<File>, Position)> {
        let segment = inner
            .segments
            .iter()
            .find(|s| s.first == position.segment)
            .ok_or_else(|| corrupt(format!("entry {index}: its segment is gone")))?;
        Ok((Arc::clone(&segment.file), position))
    }

    fn read_at(file: &File, index: u64, position: Position) -> io::Result<Entry> {
        let mut payload = vec![0u8; position.len as usize];
        file.read_exact_at(&mut payload, position.offset + HEADER as u64)?;
        decode(index, &payload)
    }

    /// The entries `start..end` that are held (all of them after the first held one). The files
    /// are read without holding the lock, so appends go on meanwhile.
    pub(crate) fn read(&self, start: u64, end: Option<u64>) -> io::Result<Vec<Entry>> {
        let located = {
            let inner = self.lock()?;
            let held_end = inner.first + inner.positions.len() as u64;
            let end = end.map_or(held_end, |e| e.min(held_end));
            let start = start.max(inner.first);
            let mut located = Vec::new();
            for index in start..end {
                let slot = usize::try_from(index - inner.first).map_err(io::Error::other)?;
                if let Some(&position) = inner.positions.get(slot) {
                    located.push((index, Self::locate(&inner, index, position)?));
                }
            }
            located
        };
        located
            .iter()
            .map(|(index, (file, position))| Self::read_at(file, *index, *position))
            .collect()
    }

    /// Writes `entries` (with their encoded payloads) after the last one, one write per segment
    /// they land in; durable after [`Segments::sync`]. The first must follow the last held
    /// entry, unless none is held.
    pub(crate) fn append(&self, entries: &[(&Entry, &[u8])]) -> io::Result<()> {
        let Some((first_entry, _)) = entries.first() else {
            return Ok(());
        };
        let mut inner = self.lock()?;
        let next = inner.first + inner.positions.len() as u64;
        let first = first_entry.log_id.index;
        if inner.positions.is_empty() {
            inner.first = first;
        } else if first != next {
            return Err(io::Error::other(format!(
                "appending entry {first} to a log that ends before {next}"
            )));
        }
        let mut staged = Staged::default();
        for (entry, payload) in entries {
            let index = entry.log_id.index;
            let needed = (HEADER + payload.len()) as u64;
            let fits = inner.segments.last().is_some_and(|s| {
                s.next + staged.ids.len() as u64 == index
                    && s.end + staged.bytes.len() as u64 + needed <= s.size
            });
            if !fits {
                staged.write(&mut inner)?;
                self.start_segment(&mut inner, index, needed)?;
            }
            let segment = inner
                .segments
                .last()
                .ok_or_else(|| io::Error::other("no segment to append to"))?;
            let position = Position {
                segment: segment.first,
                offset: segment.end + staged.bytes.len() as u64,
                len: u32::try_from(payload.len()).map_err(io::Error::other)?,
            };
            put_record(&mut staged.bytes, index, payload)?;
            staged.ids.push((position, entry.log_id));
        }
        staged.write(&mut inner)
    }

    /// Closes the active segment (durably) and starts one named `first`, sized for `needed`.
    fn start_segment(&self, inner: &mut Inner, first: u64, needed: u64) -> io::Result<()> {
        if let Some(active) = inner.segments.last() {
            active.file.sync_data()?;
        }
        // An empty active segment that another first index replaces goes (it holds nothing).
        if inner.segments.last().is_some_and(|s| s.end == 0) {
            if let Some(empty) = inner.segments.pop() {
                fs::remove_file(segment_path(&self.dir, empty.first))?;
            }
        }
        let size = SEGMENT_BYTES.max(needed);
        let path = segment_path(&self.dir, first);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        file.set_len(size)?;
        file.sync_all()?;
        sync_dir(&self.dir)?;
        inner.segments.push(Segment {
            first,
            next: first,
            file: Arc::new(file),
            end: 0,
            size,
        });
        Ok(())
    }

    /// Makes everything appended so far durable (the caller's entries were written before).
    pub(crate) fn sync(&self) -> io::Result<()> {
        let active = self.lock()?.segments.last().map(|s| Arc::clone(&s.file));
        match active {
            Some(file) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// Removes the entries from `from` on, durably.
    pub(crate) fn truncate(&self, from: u64, last: Option<LogId>) -> io::Result<()> {
        let mut inner = self.lock()?;
        let held_end = inner.first + inner.positions.len() as u64;
        if from >= held_end {
            return Ok(());
        }
        let keep = usize::try_from(from.saturating_sub(inner.first)).map_err(io::Error::other)?;
        let cut = inner.positions.get(keep).copied();
        inner.positions.truncate(keep);
        inner.last = if inner.positions.is_empty() {
            None
        } else {
            last
        };
        let Some(cut) = cut else {
            return Ok(());
        };
        let mut removed = false;
        while inner.segments.last().is_some_and(|s| s.first > cut.segment) {
            if let Some(later) = inner.segments.pop() {
                fs::remove_file(segment_path(&self.dir, later.first))?;
                removed = true;
            }
        }
        if let Some(segment) = inner.segments.last_mut() {
            zero(&segment.file, cut.offset, segment.end)?;
            segment.file.sync_data()?;
            segment.end = cut.offset;
            segment.next = from.max(segment.first);
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Forgets the entries up to `upto` and deletes the segments holding only such entries.
    /// The caller makes the state they led to durable first.
    pub(crate) fn purge(&self, upto: u64) -> io::Result<()> {
        let mut inner = self.lock()?;
        Self::drop_front(&mut inner, upto);
        // A segment goes when the next one starts at or before `upto + 1` (all it holds is
        // purged); the active one stays.
        let mut removed = false;
        while inner.segments.len() > 1 && inner.segments[1].first <= upto.saturating_add(1) {
            let old = inner.segments.remove(0);
            fs::remove_file(segment_path(&self.dir, old.first))?;
            removed = true;
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn drop_front(inner: &mut Inner, upto: u64) {
        while inner.first <= upto && inner.positions.pop_front().is_some() {
            inner.first += 1;
        }
        if inner.positions.is_empty() {
            inner.first = inner.first.max(upto.saturating_add(1));
            inner.last = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::EntryPayload;

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: crate::types::tests::log_id(term, index),
            payload: EntryPayload::Blank,
        }
    }

    fn append(log: &Segments, entries: &[Entry]) {
        let encoded: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap())
            .collect();
        let pairs: Vec<(&Entry, &[u8])> = entries
            .iter()
            .zip(&encoded)
            .map(|(e, b)| (e, b.as_slice()))
            .collect();
        log.append(&pairs).unwrap();
        log.sync().unwrap();
    }

    fn held(log: &Segments) -> Vec<(u64, u64)> {
        log.read(0, None)
            .unwrap()
            .iter()
            .map(|e| (e.log_id.leader_id.term, e.log_id.index))
            .collect()
    }

    fn run(terms: std::ops::Range<u64>, term: u64) -> Vec<Entry> {
        terms.map(|i| entry(term, i)).collect()
    }

    #[test]
    fn entries_survive_reopening_and_truncation_leaves_no_stale_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = Segments::open(dir.path(), None).unwrap();
        assert!(log.lock().unwrap().segments.is_empty());
        append(&log, &run(1..11, 1));
        assert_eq!(log.read(4, Some(7)).unwrap().len(), 3);
        // A new leader overwrote 6..: the old 6..10 must never come back, even after shorter
        // new entries are written where they were.
        log.truncate(6, Some(crate::types::tests::log_id(1, 5)))
            .unwrap();
        append(&log, &run(6..8, 2));
        drop(log);
        let log = Segments::open(dir.path(), None).unwrap();
        let expected: Vec<(u64, u64)> = (1..6).map(|i| (1, i)).chain([(2, 6), (2, 7)]).collect();
        assert_eq!(held(&log), expected);
        assert_eq!(log.last().unwrap().map(|id| id.index), Some(7));
    }

    #[test]
    fn a_torn_tail_is_cut_and_zeroed_and_a_later_record_is_not_resurrected() {
        let dir = tempfile::tempdir().unwrap();
        let log = Segments::open(dir.path(), None).unwrap();
        append(&log, &run(1..6, 1));
        let (_, end_of_5) = {
            let inner = log.lock().unwrap();
            (inner.positions[3], inner.segments[0].end)
        };
        let cut_at = log.lock().unwrap().positions[3].offset; // entry 4's record
        drop(log);
        // Corrupt entry 4's payload: 4 and 5 are lost, 1..3 stay.
        let path = segment_path(dir.path(), 1);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"X", cut_at + HEADER as u64 + 1).unwrap();
        drop(file);
        let log = Segments::open(dir.path(), None).unwrap();
        assert_eq!(held(&log), (1..4).map(|i| (1, i)).collect::<Vec<_>>());
        let inner = log.lock().unwrap();
        assert!(zero_after(&inner.segments[0].file, cut_at, end_of_5).unwrap());
        drop(inner);
        // New entries 4.. continue after 3 and are read back after reopening.
        append(&log, &run(4..5, 2));
        drop(log);
        let log = Segments::open(dir.path(), None).unwrap();
        assert_eq!(held(&log).last(), Some(&(2, 4)));
        assert_eq!(held(&log).len(), 4);
    }

    #[test]
    fn segments_roll_over_purge_deletes_whole_ones_and_a_purge_past_the_end_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let log = Segments::open(dir.path(), None).unwrap();
        append(&log, &run(1..2, 1));
        {
            let mut inner = log.lock().unwrap();
            // Pretend the active segment is nearly full so the next entries roll over.
            let segment = inner.segments.last_mut().unwrap();
            segment.size = segment.end + 1;
        }
        append(&log, &run(2..5, 1));
        assert_eq!(log.lock().unwrap().segments.len(), 2);
        log.purge(1).unwrap();
        assert_eq!(
            log.lock().unwrap().segments.len(),
            1,
            "segment 1 held only entry 1"
        );
        assert!(!segment_path(dir.path(), 1).exists());
        assert_eq!(held(&log), (2..5).map(|i| (1, i)).collect::<Vec<_>>());
        // An append whose first record still fits and whose rest does not: the first is
        // written to the old segment before the new one starts.
        {
            let mut inner = log.lock().unwrap();
            let record = (HEADER + serde_json::to_vec(&entry(1, 5)).unwrap().len()) as u64;
            let segment = inner.segments.last_mut().unwrap();
            segment.size = segment.end + record;
        }
        append(&log, &run(5..8, 1));
        let firsts = |log: &Segments| -> Vec<u64> {
            log.lock()
                .unwrap()
                .segments
                .iter()
                .map(|s| s.first)
                .collect()
        };
        assert_eq!(firsts(&log), [2, 6]);
        drop(log);
        let log = Segments::open(dir.path(), Some(1)).unwrap();
        assert_eq!(held(&log), (2..8).map(|i| (1, i)).collect::<Vec<_>>());
        // A snapshot past the end: everything goes; the next entry starts a new run.
        log.purge(20).unwrap();
        assert!(held(&log).is_empty());
        assert_eq!(log.last().unwrap(), None);
        append(&log, &run(21..23, 3));
        drop(log);
        let log = Segments::open(dir.path(), Some(20)).unwrap();
        assert_eq!(held(&log), vec![(3, 21), (3, 22)]);
        // Purged entries are not served even if their segment still exists.
        let log = Segments::open(dir.path(), Some(21)).unwrap();
        assert_eq!(held(&log), vec![(3, 22)]);
    }
}

//! Byte-level reading and writing of DNS messages: bounds-checked integers, names with
//! compression (RFC 1035 §4.1.4) and the canonical RR form of RFC 4034 §6.2.
//!
//! The decoder is bounded on any input: every read checks its length first, and a compression
//! pointer must point strictly below the previous jump target, so pointer chains always end.

use crate::error::DecodeError;
use crate::name::{Name, NameBuf, MAX_LABEL_LEN, MAX_NAME_LEN};

/// A cursor over a whole message (names may point anywhere before the cursor).
///
/// Sequential reads stop at a limit (the end of the message, or of one record's RDATA for a
/// [`Reader::rdata`] sub-reader); compression pointers may still reach any earlier byte of the
/// message. A reader made by [`Reader::standalone`] refuses pointers altogether, for bytes that
/// have no message around them (RFC 3597 `\#` text, storage).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    limit: usize,
    pointers_allowed: bool,
}

impl<'a> Reader<'a> {
    pub fn new(msg: &'a [u8]) -> Reader<'a> {
        Reader {
            msg,
            pos: 0,
            limit: msg.len(),
            pointers_allowed: true,
        }
    }

    /// A reader over the same message, positioned at `pos`.
    pub fn at(msg: &'a [u8], pos: usize) -> Reader<'a> {
        Reader {
            msg,
            pos,
            limit: msg.len(),
            pointers_allowed: true,
        }
    }

    /// A reader over bytes that are not part of a message: any compression pointer is refused
    /// with [`DecodeError::PointerNotAllowed`], since it could only point into the bytes themselves.
    pub fn standalone(data: &'a [u8]) -> Reader<'a> {
        Reader {
            msg: data,
            pos: 0,
            limit: data.len(),
            pointers_allowed: false,
        }
    }

    /// A sub-reader over the next `len` bytes (one record's RDATA): sequential reads stop at its
    /// end, compression pointers still resolve against the whole message. The parent does not move.
    pub fn rdata(&self, len: usize) -> Result<Reader<'a>, DecodeError> {
        self.need(len)?;
        Ok(Reader {
            msg: self.msg,
            pos: self.pos,
            limit: self.pos + len,
            pointers_allowed: self.pointers_allowed,
        })
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left before the limit.
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.pos)
    }

    /// Everything up to the limit (the rest of an RDATA, e.g. a signature or a key).
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.msg.get(self.pos..self.limit).unwrap_or(&[]);
        self.pos = self.pos.max(self.limit);
        rest
    }

    pub fn message(&self) -> &'a [u8] {
        self.msg
    }

    pub(crate) fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        Ok(())
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        let v = self.msg[self.pos];
        self.pos += 1;
        Ok(v)
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        let v = u16::from_be_bytes([self.msg[self.pos], self.msg[self.pos + 1]]);
        self.pos += 2;
        Ok(v)
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        let b = &self.msg[self.pos..self.pos + 4];
        self.pos += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.need(n)?;
        let b = &self.msg[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.bytes(n).map(|_| ())
    }

    /// Decodes a possibly compressed name into `out` without allocating. `allow_pointers` says
    /// whether the field may be compressed at all (RFC 3597 §4); a standalone reader refuses
    /// pointers whatever the field.
    pub fn name_into(
        &mut self,
        out: &mut NameBuf,
        allow_pointers: bool,
    ) -> Result<(), DecodeError> {
        let allow_pointers = allow_pointers && self.pointers_allowed;
        out.clear();
        let mut pos = self.pos;
        let mut resume: Option<usize> = None;
        // Every jump must land strictly below the previous target: chains are finite.
        let mut bound = usize::MAX;
        loop {
            // Before the first jump the name lies in the field being read and must end before the
            // limit; after a jump it lies in earlier message data.
            let end_of_data = if resume.is_none() {
                self.limit
            } else {
                self.msg.len()
            };
            let data = self.msg.get(..end_of_data).unwrap_or(self.msg);
            let len = *data.get(pos).ok_or(DecodeError::Truncated {
                offset: pos,
                needed: 1,
            })?;
            match len & 0xC0 {
                0x00 => {
                    let len = usize::from(len);
                    if len == 0 {
                        if out.len() + 1 > MAX_NAME_LEN {
                            return Err(DecodeError::NameTooLong { offset: pos });
                        }
                        out.push(&[0]);
                        self.pos = resume.unwrap_or(pos + 1);
                        return Ok(());
                    }
                    if len > MAX_LABEL_LEN {
                        return Err(DecodeError::LabelTooLong { offset: pos, len });
                    }
                    let end = pos + 1 + len;
                    if end > data.len() {
                        return Err(DecodeError::Truncated {
                            offset: pos,
                            needed: end - data.len(),
                        });
                    }
                    // Leave room for the root label.
                    if out.len() + 1 + len + 1 > MAX_NAME_LEN {
                        return Err(DecodeError::NameTooLong { offset: pos });
                    }
                    out.push(&self.msg[pos..end]);
                    pos = end;
                }
                0xC0 => {
                    if !allow_pointers {
                        return Err(DecodeError::PointerNotAllowed { offset: pos });
                    }
                    let low = *data.get(pos + 1).ok_or(DecodeError::Truncated {
                        offset: pos,
                        needed: 1,
                    })?;
                    let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                    if target == pos {
                        return Err(DecodeError::PointerLoop { offset: pos });
                    }
                    if target > pos {
                        return Err(DecodeError::ForwardPointer {
                            offset: pos,
                            target,
                        });
                    }
                    if target >= bound {
                        return Err(DecodeError::PointerLoop { offset: pos });
                    }
                    bound = target;
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    pos = target;
                }
                other => {
                    return Err(DecodeError::BadLabelType {
                        offset: pos,
                        label_type: other,
                    })
                }
            }
        }
    }

    /// Decodes a possibly compressed name to an owned [`Name`].
    pub fn name(&mut self, allow_pointers: bool) -> Result<Name, DecodeError> {
        let mut buf = NameBuf::default();
        self.name_into(&mut buf, allow_pointers)?;
        Ok(buf.to_name())
    }
}

/// How a name inside a record is written (RFC 3597 §4, RFC 4034 §6.2, RFC 6840 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// RFC 1035 types (owner names, NS, CNAME, SOA, MX, PTR): compressed in messages, lowered in canonical form.
    Compressible,
    /// Never compressed, lowered in canonical form (SRV, NAPTR, DNAME, RRSIG signer).
    Lowered,
    /// Never compressed, never lowered (NSEC next name per RFC 6840 §5.1, SVCB target, TSIG algorithm).
    Verbatim,
}

/// Builds messages or canonical RR forms.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
    /// Lower-cased suffix hash → offset of a prior occurrence; `None` disables compression.
    compression: Option<CompressionTable>,
    canonical: bool,
}

impl Writer {
    /// A writer for a message, with name compression.
    pub fn message(capacity: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(capacity),
            compression: Some(CompressionTable::new()),
            canonical: false,
        }
    }

    /// A writer for the canonical form (no compression, names lowered where RFC 4034 §6.2 says).
    pub fn canonical(buf: Vec<u8>) -> Writer {
        Writer {
            buf,
            compression: None,
            canonical: true,
        }
    }

    /// A writer without compression that keeps case (RDATA as it appears on the wire uncompressed).
    pub fn plain(buf: Vec<u8>) -> Writer {
        Writer {
            buf,
            compression: None,
            canonical: false,
        }
    }

    /// Empties the writer for the next message, keeping its buffer and compression table
    /// allocations: a writer reused per worker builds responses without allocating.
    pub fn reset(&mut self) {
        self.buf.clear();
        if let Some(map) = self.compression.as_mut() {
            map.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Overwrites a u16 written earlier (lengths and counts known only afterwards).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// Truncates to `len` bytes (to drop a record that did not fit). Compression entries past
    /// `len` are forgotten too.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
        if let Some(table) = self.compression.as_mut() {
            table.retain_below(len);
        }
    }

    /// Writes a name in uncompressed wire form `wire`, compressing or lowering it as `kind` says.
    pub fn name(&mut self, wire: &[u8], kind: NameKind) {
        if self.canonical {
            if kind == NameKind::Verbatim {
                self.buf.extend_from_slice(wire);
            } else {
                self.buf.extend(wire.iter().map(u8::to_ascii_lowercase));
            }
            return;
        }
        let Some(map) = self.compression.as_mut() else {
            self.buf.extend_from_slice(wire);
            return;
        };
        let mut pos = 0usize;
        while pos < wire.len() && wire[pos] != 0 {
            let suffix = &wire[pos..];
            let hash = suffix_hash(suffix);
            if kind == NameKind::Compressible {
                if let Some(target) = map.get(hash) {
                    if name_at_equals(&self.buf, usize::from(target), suffix) {
                        self.buf.push(0xC0 | (target >> 8) as u8);
                        self.buf.push(target as u8);
                        return;
                    }
                }
            }
            let here = self.buf.len();
            if here < 0x4000 {
                map.insert_if_absent(hash, here as u16);
            }
            let len = usize::from(wire[pos]);
            self.buf.extend_from_slice(&wire[pos..pos + 1 + len]);
            pos += 1 + len;
        }
        self.buf.push(0);
    }
}

/// Suffix hash → offset of its first occurrence in the message being written.
///
/// Open addressing with linear probing; emptied in O(1) by bumping a generation number, so a
/// writer reused for every response keeps its table and never allocates once it has grown to
/// the size its messages need (it doubles at half load).
#[derive(Debug, Clone)]
struct CompressionTable {
    slots: Vec<Slot>,
    generation: u32,
    len: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    offset: u16,
    /// The slot is live only if this equals the table's generation.
    generation: u32,
}

impl CompressionTable {
    fn new() -> CompressionTable {
        CompressionTable {
            slots: vec![Slot::default(); 64],
            generation: 1,
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill(Slot::default());
            self.generation = 1;
        }
        self.len = 0;
    }

    fn get(&self, hash: u64) -> Option<u16> {
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let slot = self.slots[i];
            if slot.generation != self.generation {
                return None;
            }
            if slot.hash == hash {
                return Some(slot.offset);
            }
            i = (i + 1) & mask;
        }
    }

    fn insert_if_absent(&mut self, hash: u64, offset: u16) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let slot = &mut self.slots[i];
            if slot.generation != self.generation {
                *slot = Slot {
                    hash,
                    offset,
                    generation: self.generation,
                };
                self.len += 1;
                return;
            }
            if slot.hash == hash {
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn live(&self) -> Vec<(u64, u16)> {
        self.slots
            .iter()
            .filter(|s| s.generation == self.generation)
            .map(|s| (s.hash, s.offset))
            .collect()
    }

    fn grow(&mut self) {
        let live = self.live();
        self.slots = vec![Slot::default(); self.slots.len() * 2];
        self.generation = 1;
        self.len = 0;
        for (hash, offset) in live {
            self.insert_if_absent(hash, offset);
        }
    }

    /// Forgets entries at or after `len` (the writer dropped those bytes).
    fn retain_below(&mut self, len: usize) {
        let live = self.live();
        self.clear();
        for (hash, offset) in live.into_iter().filter(|&(_, o)| usize::from(o) < len) {
            self.insert_if_absent(hash, offset);
        }
    }
}

/// FNV-1a over the lower-cased bytes of a wire-form suffix.
fn suffix_hash(suffix: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in suffix {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// True if the (possibly compressed) name at `offset` in `buf` equals `suffix`, ignoring case.
fn name_at_equals(buf: &[u8], mut offset: usize, suffix: &[u8]) -> bool {
    let mut pos = 0usize;
    // Pointers written by this writer always go backwards; bound the walk anyway.
    for _ in 0..MAX_NAME_LEN {
        let Some(&len) = buf.get(offset) else {
            return false;
        };
        if len & 0xC0 == 0xC0 {
            let Some(&low) = buf.get(offset + 1) else {
                return false;
            };
            offset = (usize::from(len & 0x3F) << 8) | usize::from(low);
            continue;
        }
        let len = usize::from(len);
        if suffix.get(pos) != Some(&(len as u8)) {
            return false;
        }
        if len == 0 {
            return true;
        }
        let (Some(a), Some(b)) = (
            buf.get(offset + 1..offset + 1 + len),
            suffix.get(pos + 1..pos + 1 + len),
        ) else {
            return false;
        };
        if !a.eq_ignore_ascii_case(b) {
            return false;
        }
        offset += 1 + len;
        pos += 1 + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(msg: &[u8], at: usize) -> Result<Name, DecodeError> {
        Reader::at(msg, at).name(true)
    }

    #[test]
    fn follows_backward_pointers() {
        // "example.com." at 0, then "www" + pointer to 0 at 13.
        let mut msg = b"\x07example\x03com\x00".to_vec();
        msg.extend_from_slice(b"\x03www\xC0\x00");
        let n = decode(&msg, 13).unwrap();
        assert_eq!(n.to_string(), "www.example.com.");
    }

    #[test]
    fn rejects_pointer_loops_and_forward_pointers() {
        assert_eq!(
            decode(b"\xC0\x00", 0),
            Err(DecodeError::PointerLoop { offset: 0 })
        );
        assert_eq!(
            decode(b"\xC0\x02\x00", 0),
            Err(DecodeError::ForwardPointer {
                offset: 0,
                target: 2
            })
        );
        // 0: "a" then pointer at 2 -> 0 forms a loop through a label.
        assert!(matches!(
            decode(b"\x01a\xC0\x00", 2),
            Err(DecodeError::PointerLoop { .. })
        ));
        assert!(matches!(
            decode(b"\x40", 0),
            Err(DecodeError::BadLabelType { .. })
        ));
        assert!(matches!(
            decode(b"\x03ab", 0),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn rejects_names_over_255_octets() {
        let mut msg = Vec::new();
        for _ in 0..5 {
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
        }
        msg.push(0);
        assert!(matches!(
            decode(&msg, 0),
            Err(DecodeError::NameTooLong { .. })
        ));
    }

    #[test]
    fn compression_table_grows_resets_and_truncates() {
        let mut w = Writer::message(64);
        for round in 0..3 {
            w.reset();
            let mut starts = Vec::new();
            for i in 0..300 {
                starts.push(w.len());
                let name = Name::from_text(&format!("h{i}.zone{}.example.", i % 7), None).unwrap();
                w.name(name.as_wire(), NameKind::Compressible);
            }
            // Drop the last 100 names: later names must not point into the dropped bytes.
            w.truncate(starts[200]);
            let again = Name::from_text("h250.zone5.example.", None).unwrap();
            let at = w.len();
            w.name(again.as_wire(), NameKind::Compressible);
            let bytes = w.as_bytes().to_vec();
            for (i, &start) in starts[..200].iter().enumerate() {
                let expected =
                    Name::from_text(&format!("h{i}.zone{}.example.", i % 7), None).unwrap();
                assert_eq!(
                    Reader::at(&bytes, start).name(true).unwrap(),
                    expected,
                    "round {round} name {i}"
                );
            }
            assert_eq!(Reader::at(&bytes, at).name(true).unwrap(), again);
        }
    }

    #[test]
    fn compresses_case_insensitively() {
        let a = Name::from_text("www.Example.com.", None).unwrap();
        let b = Name::from_text("mail.EXAMPLE.COM.", None).unwrap();
        let mut w = Writer::message(64);
        w.name(a.as_wire(), NameKind::Compressible);
        w.name(b.as_wire(), NameKind::Compressible);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len(), 17 + 5 + 2);
        let mut r = Reader::at(&bytes, 17);
        assert_eq!(r.name(true).unwrap(), b);
        assert_eq!(r.position(), bytes.len());
    }
}

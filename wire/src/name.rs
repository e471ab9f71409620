//! Domain names (RFC 1035 §3.1): stored in uncompressed wire form, case preserved, compared without case.
//!
//! A name is at most 255 octets in wire form and each label at most 63 (RFC 1035 §2.3.4).
//! Equality and hashing ignore ASCII case (RFC 4343); [`Ord`] is the canonical DNSSEC order of
//! RFC 4034 §6.1 (labels compared right to left as lower-cased octet strings).
//!
//! [`Name`] owns its bytes on the heap (compact, for zone data); [`NameBuf`] holds them inline for
//! the query path, which must not allocate.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::TextError;

/// Longest name in wire form, including the root label (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// An owned domain name in uncompressed wire form: length-prefixed labels ending with the root label.
///
/// Immutable and shared: a clone is a reference count, not a copy, so zone versions, diffs and
/// transfers that repeat a name do not allocate for it.
#[derive(Clone)]
pub struct Name {
    wire: Arc<[u8]>,
}

/// A name held inline (no heap), used by the allocation-free query decoder.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Default for NameBuf {
    fn default() -> Self {
        let mut bytes = [0u8; MAX_NAME_LEN];
        bytes[0] = 0;
        NameBuf { bytes, len: 1 }
    }
}

impl NameBuf {
    /// Clears the buffer before a new name is written.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends raw wire bytes; the caller guarantees the 255-octet bound.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let start = usize::from(self.len);
        self.bytes[start..start + bytes.len()].copy_from_slice(bytes);
        self.len = (start + bytes.len()) as u8;
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// The name in uncompressed wire form.
    pub fn as_wire(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Copies the name to the heap.
    pub fn to_name(&self) -> Name {
        Name {
            wire: self.as_wire().into(),
        }
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({})", Displayed(self.as_wire()))
    }
}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Displayed(self.as_wire()).fmt(f)
    }
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name {
            wire: Arc::from(&[0u8][..]),
        }
    }

    /// Builds a name from uncompressed wire bytes, checking every bound.
    pub fn from_wire(wire: &[u8]) -> Result<Name, TextError> {
        validate_wire(wire).map_err(|_| TextError::NameTooLong(format!("{wire:?}")))?;
        Ok(Name { wire: wire.into() })
    }

    /// Parses presentation format (RFC 1035 §5.1): dots separate labels, `\.` and `\DDD` escape.
    /// A name without a trailing dot is relative and is completed with `origin`;
    /// without an origin a relative name is an error.
    pub fn from_text(text: &str, origin: Option<&Name>) -> Result<Name, TextError> {
        if text == "." {
            return Ok(Name::root());
        }
        if text.is_empty() {
            return Err(TextError::EmptyLabel(text.to_owned()));
        }
        let bytes = text.as_bytes();
        let mut wire: Vec<u8> = Vec::with_capacity(bytes.len() + 2);
        let mut label_start = 0usize;
        wire.push(0);
        let mut i = 0usize;
        let mut absolute = false;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    let label_len = wire.len() - label_start - 1;
                    if label_len == 0 {
                        return Err(TextError::EmptyLabel(text.to_owned()));
                    }
                    wire[label_start] = label_len as u8;
                    if i + 1 == bytes.len() {
                        absolute = true;
                    } else {
                        label_start = wire.len();
                        wire.push(0);
                    }
                    i += 1;
                    continue;
                }
                b'\\' => {
                    let (value, used) = parse_escape(&bytes[i + 1..])
                        .ok_or_else(|| TextError::BadEscape(text.to_owned()))?;
                    wire.push(value);
                    i += 1 + used;
                }
                _ => {
                    wire.push(c);
                    i += 1;
                }
            }
            if wire.len() - label_start - 1 > MAX_LABEL_LEN {
                return Err(TextError::LabelTooLong(text.to_owned()));
            }
        }
        if !absolute {
            let label_len = wire.len() - label_start - 1;
            wire[label_start] = label_len as u8;
            match origin {
                Some(origin) => wire.extend_from_slice(&origin.wire),
                None => return Err(TextError::RelativeName(text.to_owned())),
            }
        } else {
            wire.push(0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(TextError::NameTooLong(text.to_owned()));
        }
        Ok(Name { wire: wire.into() })
    }

    /// The name in uncompressed wire form, case preserved.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Length in wire form (at most 255).
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }

    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Labels from left to right, without the root label.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.wire }
    }

    /// Number of labels, not counting the root (RFC 4034 §3.1.3 "Labels" field semantics apart from wildcards).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// True for a name whose first label is `*` (RFC 4592 §2.1.1).
    pub fn is_wildcard(&self) -> bool {
        self.wire.len() >= 2 && self.wire[0] == 1 && self.wire[1] == b'*'
    }

    /// The name without its first label; the root has no parent.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = usize::from(self.wire[0]) + 1;
        Some(Name {
            wire: self.wire[skip..].into(),
        })
    }

    /// True if `self` equals `ancestor` or lies below it (case-insensitive).
    pub fn is_subdomain_of(&self, ancestor: &Name) -> bool {
        is_subdomain_wire(&self.wire, &ancestor.wire)
    }

    /// A copy with ASCII letters lowered: the canonical owner form of RFC 4034 §6.2.
    pub fn to_lowercase(&self) -> Name {
        if !self.wire.iter().any(u8::is_ascii_uppercase) {
            return self.clone();
        }
        Name {
            wire: self.wire.to_ascii_lowercase().into(),
        }
    }

    /// Prepends one label (for building wildcard or child names).
    pub fn prepend_label(&self, label: &[u8]) -> Result<Name, TextError> {
        if label.is_empty() {
            return Err(TextError::EmptyLabel(String::new()));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(TextError::LabelTooLong(
                String::from_utf8_lossy(label).into_owned(),
            ));
        }
        if self.wire.len() + label.len() + 1 > MAX_NAME_LEN {
            return Err(TextError::NameTooLong(
                String::from_utf8_lossy(label).into_owned(),
            ));
        }
        let mut wire = Vec::with_capacity(self.wire.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.wire);
        Ok(Name { wire: wire.into() })
    }

    /// Replaces the `old` suffix of this name by `new` (DNAME substitution, RFC 6672 §2.2).
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Result<Name, TextError> {
        if !self.is_subdomain_of(old) {
            return Err(TextError::RelativeName(self.to_string()));
        }
        let keep = self.wire.len() - old.wire.len();
        let total = keep + new.wire.len();
        if total > MAX_NAME_LEN {
            return Err(TextError::NameTooLong(self.to_string()));
        }
        let mut wire = Vec::with_capacity(total);
        wire.extend_from_slice(&self.wire[..keep]);
        wire.extend_from_slice(&new.wire);
        Ok(Name { wire: wire.into() })
    }

    /// Presentation form relative to `origin` when below it (`@` for the origin itself), absolute otherwise.
    pub fn to_relative_text(&self, origin: &Name) -> String {
        if self == origin {
            return "@".to_owned();
        }
        if self.is_subdomain_of(origin) && !origin.is_root() {
            let keep = self.wire.len() - origin.wire.len();
            let mut out = String::new();
            write_labels(&mut out, &self.wire[..keep]);
            return out;
        }
        self.to_string()
    }
}

/// Checks the structure of uncompressed wire bytes.
pub(crate) fn validate_wire(wire: &[u8]) -> Result<(), ()> {
    if wire.is_empty() || wire.len() > MAX_NAME_LEN {
        return Err(());
    }
    let mut pos = 0usize;
    loop {
        let len = usize::from(*wire.get(pos).ok_or(())?);
        if len > MAX_LABEL_LEN {
            return Err(());
        }
        if len == 0 {
            return if pos + 1 == wire.len() {
                Ok(())
            } else {
                Err(())
            };
        }
        pos += len + 1;
    }
}

/// Decodes `\DDD` or `\X` (the bytes after the backslash); returns the value and the bytes used.
pub(crate) fn parse_escape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        if rest.len() < 3 || !rest[1].is_ascii_digit() || !rest[2].is_ascii_digit() {
            return None;
        }
        let value = u32::from(first - b'0') * 100
            + u32::from(rest[1] - b'0') * 10
            + u32::from(rest[2] - b'0');
        let value = u8::try_from(value).ok()?;
        Some((value, 3))
    } else {
        Some((first, 1))
    }
}

/// True if wire name `name` equals or is below `ancestor`, ignoring case.
pub fn is_subdomain_wire(name: &[u8], ancestor: &[u8]) -> bool {
    if ancestor.len() > name.len() {
        return false;
    }
    let offset = name.len() - ancestor.len();
    // The suffix must start on a label boundary.
    let mut pos = 0usize;
    while pos < offset {
        pos += usize::from(name[pos]) + 1;
    }
    pos == offset && name[offset..].eq_ignore_ascii_case(ancestor)
}

/// Iterator over the labels of a name, left to right, without the root.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.wire.first()?);
        if len == 0 {
            return None;
        }
        let label = self.wire.get(1..1 + len)?;
        self.wire = &self.wire[1 + len..];
        Some(label)
    }
}

/// Canonical comparison of two wire names (RFC 4034 §6.1), without allocating.
pub(crate) fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let mut a_offsets = [0u8; 128];
    let mut b_offsets = [0u8; 128];
    let a_count = label_offsets(a, &mut a_offsets);
    let b_count = label_offsets(b, &mut b_offsets);
    let mut i = a_count;
    let mut j = b_count;
    while i > 0 && j > 0 {
        i -= 1;
        j -= 1;
        let la = label_at(a, a_offsets[i]);
        let lb = label_at(b, b_offsets[j]);
        let ord = la
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(lb.iter().map(u8::to_ascii_lowercase));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a_count.cmp(&b_count)
}

/// Start offsets of the labels of a wire name, left to right (at most 128, the most a 255-octet
/// name can hold); returns how many were written. Allocation-free, for the query path.
pub fn label_offsets(wire: &[u8], offsets: &mut [u8; 128]) -> usize {
    let mut count = 0usize;
    let mut pos = 0usize;
    while pos < wire.len() && wire[pos] != 0 && count < offsets.len() {
        offsets[count] = pos as u8;
        count += 1;
        pos += usize::from(wire[pos]) + 1;
    }
    count
}

fn label_at(wire: &[u8], offset: u8) -> &[u8] {
    let start = usize::from(offset);
    let len = usize::from(wire[start]);
    &wire[start + 1..start + 1 + len]
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        // Length octets are at most 63 and so never ASCII letters: folding the whole buffer is safe.
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}
impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.wire.len());
        for b in self.wire.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        canonical_cmp(&self.wire, &other.wire)
    }
}

/// Writes the labels of `wire` (up to its end or root) with presentation escapes, no trailing dot.
fn write_labels(out: &mut String, wire: &[u8]) {
    let mut first = true;
    for label in (Labels { wire }) {
        if !first {
            out.push('.');
        }
        first = false;
        for &b in label {
            push_escaped_name_byte(out, b);
        }
    }
}

/// Presentation escaping for a name octet, as BIND prints it.
fn push_escaped_name_byte(out: &mut String, b: u8) {
    match b {
        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
            out.push('\\');
            out.push(char::from(b));
        }
        0x21..=0x7e => out.push(char::from(b)),
        _ => {
            out.push('\\');
            out.push(char::from(b'0' + b / 100));
            out.push(char::from(b'0' + (b / 10) % 10));
            out.push(char::from(b'0' + b % 10));
        }
    }
}

/// Display adapter for wire bytes.
struct Displayed<'a>(&'a [u8]);

impl fmt::Display for Displayed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 1 {
            return f.write_str(".");
        }
        let mut out = String::with_capacity(self.0.len() + 1);
        write_labels(&mut out, self.0);
        out.push('.');
        f.write_str(&out)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Displayed(&self.wire).fmt(f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = TextError;
    /// Parses an absolute name; a missing trailing dot is accepted and taken as absolute.
    fn from_str(s: &str) -> Result<Name, TextError> {
        Name::from_text(s, Some(&Name::root()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    #[test]
    fn parses_and_prints_with_escapes() {
        let n = name("a\\.b.Example.COM.");
        assert_eq!(n.label_count(), 3);
        assert_eq!(n.to_string(), "a\\.b.Example.COM.");
        assert_eq!(name("\\032x.").to_string(), "\\032x.");
        assert_eq!(name("\\065.").to_string(), "A.");
        assert_eq!(Name::root().to_string(), ".");
    }

    #[test]
    fn compares_without_case() {
        assert_eq!(name("WWW.example.com."), name("www.EXAMPLE.com."));
        assert!(name("a.b.example.").is_subdomain_of(&name("EXAMPLE.")));
        assert!(!name("aexample.").is_subdomain_of(&name("example.")));
    }

    #[test]
    fn canonical_order_matches_rfc4034_example() {
        // RFC 4034 §6.1.
        let ordered = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let names: Vec<Name> = ordered.iter().map(|s| name(s)).collect();
        for pair in names.windows(2) {
            assert_eq!(
                pair[0].cmp(&pair[1]),
                Ordering::Less,
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn rejects_bad_names() {
        assert!(matches!(
            Name::from_text("a..b.", None),
            Err(TextError::EmptyLabel(_))
        ));
        let long = "a".repeat(64);
        assert!(matches!(
            Name::from_text(&format!("{long}."), None),
            Err(TextError::LabelTooLong(_))
        ));
        let many = "abcdefghi.".repeat(26);
        assert!(matches!(
            Name::from_text(&many, None),
            Err(TextError::NameTooLong(_))
        ));
        assert!(matches!(
            Name::from_text("rel", None),
            Err(TextError::RelativeName(_))
        ));
        assert!(matches!(
            Name::from_text("a\\25x.", None),
            Err(TextError::BadEscape(_))
        ));
    }

    #[test]
    fn relative_text() {
        let origin = name("example.com.");
        assert_eq!(name("www.example.com.").to_relative_text(&origin), "www");
        assert_eq!(origin.to_relative_text(&origin), "@");
        assert_eq!(
            name("www.example.org.").to_relative_text(&origin),
            "www.example.org."
        );
    }
}

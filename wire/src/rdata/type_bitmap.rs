//! The type bitmap of NSEC and NSEC3 (RFC 4034 §4.1.2, RFC 5155 §3.2.1): the set of types
//! present at a name, as windows of up to 256 types.
//!
//! ```text
//! | window number (8) | bitmap length 1..32 (8) | bitmap (MSB first: type window*256 + bit) |
//! ```
//!
//! Decoding accepts only the one canonical encoding of a set: windows strictly increasing,
//! lengths 1 to 32, no trailing zero octet (RFC 4034 §4.1.2 "MUST NOT" rules, which BIND also
//! enforces). So two bitmaps are equal exactly when their sets are equal.

use std::fmt;

use crate::codec::Writer;
use crate::error::{DecodeError, TextError};
use crate::rdata::bad_rdata;
use crate::text::Fields;
use crate::types::RType;

/// A set of record types in wire form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TypeBitmap {
    wire: Box<[u8]>,
}

impl TypeBitmap {
    /// The canonical bitmap of `types` (order and duplicates do not matter).
    pub fn from_types(types: impl IntoIterator<Item = RType>) -> TypeBitmap {
        let mut values: Vec<u16> = types.into_iter().map(|t| t.0).collect();
        values.sort_unstable();
        values.dedup();
        let mut wire = Vec::new();
        let mut index = 0usize;
        while index < values.len() {
            let window = values[index] >> 8;
            let mut bitmap = [0u8; 32];
            let mut used = 0usize;
            while index < values.len() && values[index] >> 8 == window {
                let low = usize::from(values[index] & 0xFF);
                bitmap[low / 8] |= 0x80 >> (low % 8);
                used = low / 8 + 1;
                index += 1;
            }
            wire.push(window as u8);
            wire.push(used as u8);
            wire.extend_from_slice(&bitmap[..used]);
        }
        TypeBitmap {
            wire: wire.into_boxed_slice(),
        }
    }

    /// The types in increasing numeric order.
    pub fn iter(&self) -> impl Iterator<Item = RType> + '_ {
        let mut windows: &[u8] = &self.wire;
        std::iter::from_fn(move || {
            let (&window, rest) = windows.split_first()?;
            let (&len, rest) = rest.split_first()?;
            let bitmap = rest.get(..usize::from(len))?;
            windows = &rest[usize::from(len)..];
            Some((window, bitmap))
        })
        .flat_map(|(window, bitmap)| {
            bitmap.iter().enumerate().flat_map(move |(octet, &bits)| {
                (0..8u16)
                    .filter(move |bit| bits & (0x80 >> bit) != 0)
                    .map(move |bit| RType((u16::from(window) << 8) | ((octet as u16) << 3) | bit))
            })
        })
    }

    pub fn contains(&self, rtype: RType) -> bool {
        self.iter().any(|t| t == rtype)
    }

    pub fn is_empty(&self) -> bool {
        self.wire.is_empty()
    }

    /// The windows as they appear on the wire.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Validates the windows of `bytes` (the rest of an NSEC or NSEC3 RDATA).
    pub(crate) fn decode(bytes: &[u8], rtype: RType) -> Result<TypeBitmap, DecodeError> {
        let mut pos = 0usize;
        let mut last_window: Option<u8> = None;
        while pos < bytes.len() {
            let (Some(&window), Some(&len)) = (bytes.get(pos), bytes.get(pos + 1)) else {
                return Err(bad_rdata(rtype, "type bitmap window header truncated"));
            };
            if last_window.is_some_and(|last| window <= last) {
                return Err(bad_rdata(rtype, "type bitmap windows out of order"));
            }
            let len = usize::from(len);
            if !(1..=32).contains(&len) {
                return Err(bad_rdata(rtype, "type bitmap window length not 1 to 32"));
            }
            let Some(bitmap) = bytes.get(pos + 2..pos + 2 + len) else {
                return Err(bad_rdata(rtype, "type bitmap window overruns RDATA"));
            };
            if bitmap[len - 1] == 0 {
                return Err(bad_rdata(rtype, "type bitmap window ends in a zero octet"));
            }
            last_window = Some(window);
            pos += 2 + len;
        }
        Ok(TypeBitmap { wire: bytes.into() })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.bytes(&self.wire);
    }

    /// The remaining tokens as type mnemonics or `TYPEnnn`.
    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<TypeBitmap, TextError> {
        let mut types = Vec::new();
        while !f.is_done() {
            let word = f.word("record type")?;
            types.push(
                RType::from_text(word).ok_or_else(|| TextError::UnknownType(word.to_owned()))?,
            );
        }
        Ok(TypeBitmap::from_types(types))
    }
}

impl FromIterator<RType> for TypeBitmap {
    fn from_iter<I: IntoIterator<Item = RType>>(iter: I) -> TypeBitmap {
        TypeBitmap::from_types(iter)
    }
}

impl fmt::Display for TypeBitmap {
    /// Space-separated mnemonics (`TYPEnnn` for types without one), as BIND prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rtype) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{rtype}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4034_example_bitmap() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let bitmap = TypeBitmap::from_types([
            RType::NSEC,
            RType(1234),
            RType::A,
            RType::MX,
            RType::RRSIG,
            RType::A,
        ]);
        let expected: &[u8] = &[
            0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
        ];
        assert_eq!(bitmap.as_wire(), expected);
        assert_eq!(bitmap.to_string(), "A MX RRSIG NSEC TYPE1234");
        assert!(bitmap.contains(RType(1234)) && !bitmap.contains(RType::NS));
        assert_eq!(TypeBitmap::decode(expected, RType::NSEC).unwrap(), bitmap);
    }

    #[test]
    fn refuses_non_canonical_windows() {
        for (bytes, reason) in [
            (&[0x00][..], "type bitmap window header truncated"),
            (
                &[0x01, 0x01, 0x40, 0x00, 0x01, 0x40][..],
                "type bitmap windows out of order",
            ),
            (&[0x00, 0x00][..], "type bitmap window length not 1 to 32"),
            (&[0x00, 0x21][..], "type bitmap window length not 1 to 32"),
            (&[0x00, 0x02, 0x40][..], "type bitmap window overruns RDATA"),
            (
                &[0x00, 0x02, 0x40, 0x00][..],
                "type bitmap window ends in a zero octet",
            ),
        ] {
            assert_eq!(
                TypeBitmap::decode(bytes, RType::NSEC),
                Err(bad_rdata(RType::NSEC, reason)),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn highest_type() {
        let bitmap = TypeBitmap::from_types([RType(65535), RType(0)]);
        assert_eq!(bitmap.iter().collect::<Vec<_>>(), [RType(0), RType(65535)]);
        assert_eq!(
            TypeBitmap::decode(bitmap.as_wire(), RType::NSEC3).unwrap(),
            bitmap
        );
    }
}

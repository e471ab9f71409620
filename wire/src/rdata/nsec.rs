//! NSEC RDATA (RFC 4034 §4.1): the next owner name in canonical order and the types present.
//!
//! ```text
//! | next domain name (uncompressed) ... | type bitmap ... |
//! ```
//!
//! The next name is never compressed (RFC 4034 §4.1.1) and, since RFC 6840 §5.1, keeps its case
//! in canonical form. The bitmap must not be empty (an NSEC always lists at least NSEC itself;
//! BIND refuses an empty one).

use std::fmt;

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::rdata::{bad_rdata, TypeBitmap};
use crate::text::Fields;
use crate::types::RType;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nsec {
    pub next: Name,
    pub types: TypeBitmap,
}

impl Nsec {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Nsec, DecodeError> {
        let next = r.name(false)?;
        let types = TypeBitmap::decode(r.rest(), RType::NSEC)?;
        if types.is_empty() {
            return Err(bad_rdata(RType::NSEC, "type bitmap is empty"));
        }
        Ok(Nsec { next, types })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.name(self.next.as_wire(), NameKind::Verbatim);
        self.types.encode(w);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Nsec, TextError> {
        let next = f.name("next domain name")?;
        let types = TypeBitmap::from_fields(f)?;
        if types.is_empty() {
            return Err(TextError::MissingField {
                rtype: "NSEC".into(),
                expected: "record type",
            });
        }
        Ok(Nsec { next, types })
    }
}

impl fmt::Display for Nsec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.next, self.types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_name_keeps_case_in_canonical_form() {
        let nsec = Nsec {
            next: Name::from_text("Host.Example.", None).unwrap(),
            types: TypeBitmap::from_types([RType::A]),
        };
        let mut w = Writer::canonical(Vec::new());
        nsec.encode(&mut w);
        assert_eq!(w.into_bytes(), b"\x04Host\x07Example\x00\x00\x01\x40");
    }

    #[test]
    fn refuses_pointers_and_empty_bitmaps() {
        assert_eq!(
            Nsec::decode(&mut Reader::new(b"\x00")),
            Err(bad_rdata(RType::NSEC, "type bitmap is empty"))
        );
        assert!(matches!(
            Nsec::decode(&mut Reader::at(b"\x00\xC0\x00\x00\x01\x40", 1)),
            Err(DecodeError::PointerNotAllowed { .. })
        ));
    }
}

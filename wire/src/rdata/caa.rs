//! CAA RDATA (RFC 8659 §4.1): which certification authorities may issue certificates for a name.
//!
//! ```text
//! +----------------+----------------+----------------+----------------+
//! |     Flags      |   Tag Length   |  Tag (Tag Length octets) ...    |
//! +----------------+----------------+----------------+----------------+
//! |  Value (the rest of the RDATA, no length of its own) ...          |
//! +----------------+----------------+----------------+----------------+
//! ```
//!
//! Presentation: `flags tag "value"`; the value is always printed quoted, as BIND does.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::rdata::bad_rdata;
use crate::text::{push_quoted, unescape, Fields};
use crate::types::RType;

/// One CAA property.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caa {
    /// Bit 0 (0x80) is Issuer Critical (RFC 8659 §4.1); the others are reserved.
    pub flags: u8,
    /// ASCII letters and digits only, 1 to 255 of them (RFC 8659 §4.1).
    tag: Box<str>,
    /// Meaning depends on the tag; `issue` and `issuewild` values are text (RFC 8659 §4.2).
    pub value: Box<[u8]>,
}

impl Caa {
    /// Builds a property, checking the tag (RFC 8659 §4.1: non-empty, letters and digits).
    pub fn new(flags: u8, tag: &str, value: impl Into<Box<[u8]>>) -> Result<Caa, TextError> {
        check_tag(tag.as_bytes()).map_err(|reason| TextError::InvalidRdata {
            rtype: "CAA".into(),
            reason,
        })?;
        Ok(Caa {
            flags,
            tag: tag.into(),
            value: value.into(),
        })
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The Issuer Critical flag: a CA that does not understand the tag must not issue.
    pub fn is_critical(&self) -> bool {
        self.flags & 0x80 != 0
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Caa, DecodeError> {
        let flags = r.u8()?;
        let tag_len = usize::from(r.u8()?);
        let tag = r.bytes(tag_len)?;
        check_tag(tag).map_err(|reason| bad_rdata(RType::CAA, reason))?;
        // Checked to be ASCII letters and digits just above.
        let tag = String::from_utf8_lossy(tag).into_owned().into_boxed_str();
        Ok(Caa {
            flags,
            tag,
            value: r.rest().into(),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(self.flags);
        w.u8(self.tag.len() as u8);
        w.bytes(self.tag.as_bytes());
        w.bytes(&self.value);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Caa, TextError> {
        let flags = f.u8("flags")?;
        let tag = f.word("tag")?;
        check_tag(tag.as_bytes()).map_err(|_| f.bad("tag of letters and digits", tag))?;
        // The value is one token, quoted or not, of any length (BIND's multitxt).
        let value = unescape(f.token("value")?.text)?;
        Ok(Caa {
            flags,
            tag: tag.into(),
            value: value.into_boxed_slice(),
        })
    }
}

fn check_tag(tag: &[u8]) -> Result<(), &'static str> {
    if tag.is_empty() {
        return Err("tag is empty");
    }
    if tag.len() > 255 {
        return Err("tag longer than 255 octets");
    }
    if !tag.iter().all(u8::is_ascii_alphanumeric) {
        return Err("tag has a character other than a letter or digit");
    }
    Ok(())
}

impl fmt::Display for Caa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{} {} ", self.flags, self.tag);
        push_quoted(&mut out, &self.value);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_refuses_bad_tags() {
        for (bytes, reason) in [
            (&b"\x00\x00issue"[..], "tag is empty"),
            (
                &b"\x00\x05is-ue"[..],
                "tag has a character other than a letter or digit",
            ),
        ] {
            let err = Caa::decode(&mut Reader::new(bytes)).unwrap_err();
            assert_eq!(
                err,
                DecodeError::BadRdata {
                    rtype: RType::CAA,
                    reason
                }
            );
        }
        assert!(matches!(
            Caa::decode(&mut Reader::new(b"\x00\x09issue")),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn value_may_be_empty() {
        let caa = Caa::decode(&mut Reader::new(b"\x80\x05issue")).unwrap();
        assert!(caa.is_critical());
        assert_eq!(caa.to_string(), "128 issue \"\"");
    }

    #[test]
    fn constructor_checks_the_tag() {
        assert!(Caa::new(0, "issue", b"ca.example".to_vec()).is_ok());
        assert!(matches!(
            Caa::new(0, "", Vec::new()),
            Err(TextError::InvalidRdata { .. })
        ));
        assert!(matches!(
            Caa::new(0, "a b", Vec::new()),
            Err(TextError::InvalidRdata { .. })
        ));
    }
}

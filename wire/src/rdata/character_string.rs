//! `<character-string>` (RFC 1035 §3.3): at most 255 octets behind a one-octet length.
//!
//! NAPTR flags, services and regexp, NSEC3 salts and hashes, and SVCB `alpn` identifiers all
//! have this framing. Holding them in a type that cannot exceed 255 octets means encoding never
//! writes a length octet that disagrees with the bytes after it.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::text::push_quoted;

/// Up to 255 arbitrary octets (not necessarily text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct CharString(Box<[u8]>);

impl CharString {
    /// The largest length a one-octet prefix can state.
    pub const MAX_LEN: usize = 255;

    /// Wraps `bytes`, refusing more than 255 octets.
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Result<CharString, TextError> {
        let bytes = bytes.into();
        if bytes.len() > Self::MAX_LEN {
            return Err(TextError::StringTooLong);
        }
        Ok(CharString(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads the length octet and that many octets.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<CharString, DecodeError> {
        let len = r.u8()?;
        Ok(CharString(r.bytes(usize::from(len))?.into()))
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        // The constructor bounds the length to 255.
        w.u8(self.0.len() as u8);
        w.bytes(&self.0);
    }
}

impl TryFrom<&[u8]> for CharString {
    type Error = TextError;
    fn try_from(bytes: &[u8]) -> Result<CharString, TextError> {
        CharString::new(bytes)
    }
}

impl TryFrom<&str> for CharString {
    type Error = TextError;
    fn try_from(text: &str) -> Result<CharString, TextError> {
        CharString::new(text.as_bytes())
    }
}

impl AsRef<[u8]> for CharString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for CharString {
    /// The quoted form BIND prints (`"` and `\` escaped, other non-printing octets as `\DDD`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(self.0.len() + 2);
        push_quoted(&mut out, &self.0);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_to_255_octets() {
        assert!(CharString::new(vec![0u8; 255]).is_ok());
        assert_eq!(
            CharString::new(vec![0u8; 256]),
            Err(TextError::StringTooLong)
        );
    }

    #[test]
    fn wire_round_trip() {
        let s = CharString::try_from("SIP+D2U").unwrap();
        let mut w = Writer::plain(Vec::new());
        s.encode(&mut w);
        let bytes = w.into_bytes();
        assert_eq!(bytes, b"\x07SIP+D2U");
        assert_eq!(CharString::decode(&mut Reader::new(&bytes)).unwrap(), s);
        assert!(CharString::decode(&mut Reader::new(b"\x08SIP+D2U")).is_err());
        assert_eq!(s.to_string(), "\"SIP+D2U\"");
    }
}

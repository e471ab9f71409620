//! DS and CDS RDATA (RFC 4034 §5.1, RFC 7344 §3.1): the digest of a child zone's key.
//!
//! ```text
//! | key tag (16) | algorithm (8) | digest type (8) | digest (the rest) ... |
//! ```
//!
//! Presentation: `tag algorithm type HEX`, the hex split every 56 characters as BIND prints it.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::rdata::bad_rdata;
use crate::rdata::dnskey::parse_algorithm;
use crate::text::{encode_hex, push_split, Fields};
use crate::types::RType;

/// A delegation signer; the same structure serves DS and CDS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ds {
    pub key_tag: u16,
    pub algorithm: u8,
    /// 1 SHA-1, 2 SHA-256, 3 GOST, 4 SHA-384 (IANA "DS RR Type Digest Algorithms").
    pub digest_type: u8,
    /// At least one octet; exactly the digest size for SHA-1, SHA-256 and SHA-384.
    pub digest: Box<[u8]>,
}

/// The digest lengths BIND enforces (SHA-1, SHA-256, SHA-384).
fn expected_len(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20),
        2 => Some(32),
        4 => Some(48),
        _ => None,
    }
}

/// Digest type mnemonics BIND accepts (its `DSDIGESTNAMES`).
const DIGEST_TYPES: [(&str, u8); 7] = [
    ("SHA-1", 1),
    ("SHA1", 1),
    ("SHA-256", 2),
    ("SHA256", 2),
    ("GOST", 3),
    ("SHA-384", 4),
    ("SHA384", 4),
];

impl Ds {
    pub(crate) fn decode(r: &mut Reader<'_>, rtype: RType) -> Result<Ds, DecodeError> {
        let key_tag = r.u16()?;
        let algorithm = r.u8()?;
        let digest_type = r.u8()?;
        let digest: Box<[u8]> = r.rest().into();
        if digest.is_empty() {
            return Err(bad_rdata(rtype, "digest is empty"));
        }
        if expected_len(digest_type).is_some_and(|len| len != digest.len()) {
            return Err(bad_rdata(
                rtype,
                "digest length does not match the digest type",
            ));
        }
        Ok(Ds {
            key_tag,
            algorithm,
            digest_type,
            digest,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.key_tag);
        w.u8(self.algorithm);
        w.u8(self.digest_type);
        w.bytes(&self.digest);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Ds, TextError> {
        let key_tag = f.u16("key tag")?;
        let algorithm = parse_algorithm(f)?;
        let word = f.word("digest type")?;
        let digest_type = match word.parse::<u8>() {
            Ok(n) => n,
            Err(_) => DIGEST_TYPES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(word))
                .map(|&(_, n)| n)
                .ok_or_else(|| f.bad("digest type number or mnemonic", word))?,
        };
        if f.is_done() {
            return Err(TextError::MissingField {
                rtype: f.rtype_label().into(),
                expected: "hexadecimal digest",
            });
        }
        let digest = f.rest_hex("hexadecimal digest")?;
        if expected_len(digest_type).is_some_and(|len| len != digest.len()) {
            return Err(f.invalid("digest length does not match the digest type"));
        }
        Ok(Ds {
            key_tag,
            algorithm,
            digest_type,
            digest: digest.into_boxed_slice(),
        })
    }
}

impl fmt::Display for Ds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{} {} {} ", self.key_tag, self.algorithm, self.digest_type);
        push_split(&mut out, &encode_hex(&self.digest));
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn parse(text: &str) -> Result<Ds, TextError> {
        let tokens = tokenize(text).unwrap();
        Ds::from_fields(&mut Fields::new("DS", &tokens, None))
    }

    #[test]
    fn known_digest_types_fix_the_length() {
        let ds = parse("60485 RSASHA1 SHA-1 2BB183AF5F22588179A53B0A98631FAD 1A292118").unwrap();
        assert_eq!((ds.algorithm, ds.digest_type, ds.digest.len()), (5, 1, 20));
        assert_eq!(
            ds.to_string(),
            "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
        );
        assert!(matches!(
            parse("1 8 2 ABCD"),
            Err(TextError::InvalidRdata { .. })
        ));
        // RFC 8078 §4 "delete" CDS: digest type 0, one zero octet.
        assert_eq!(parse("0 0 0 00").unwrap().digest.as_ref(), [0]);
        assert_eq!(
            Ds::decode(&mut Reader::new(&[0, 1, 8, 2, 0xAA]), RType::DS),
            Err(bad_rdata(
                RType::DS,
                "digest length does not match the digest type"
            ))
        );
        assert_eq!(
            Ds::decode(&mut Reader::new(&[0, 1, 8, 9]), RType::CDS),
            Err(bad_rdata(RType::CDS, "digest is empty"))
        );
    }
}

//! SSHFP RDATA (RFC 4255 §3.1): the fingerprint of an SSH host key.
//!
//! ```text
//! | algorithm (8) | fingerprint type (8) | fingerprint (the rest) ... |
//! ```
//!
//! Presentation: `algorithm type HEX`, the hex split every 56 characters as BIND prints it.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::rdata::bad_rdata;
use crate::text::{encode_hex, push_split, Fields};
use crate::types::RType;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sshfp {
    /// 1 RSA, 2 DSA, 3 ECDSA, 4 Ed25519 (IANA "SSHFP RR Types for public key algorithms").
    pub algorithm: u8,
    /// 1 SHA-1 (RFC 4255), 2 SHA-256 (RFC 6594).
    pub fingerprint_type: u8,
    pub fingerprint: Box<[u8]>,
}

impl Sshfp {
    /// The digest length a fingerprint type fixes, for the types BIND checks.
    fn expected_len(fingerprint_type: u8) -> Option<usize> {
        match fingerprint_type {
            1 => Some(20),
            2 => Some(32),
            _ => None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Sshfp, DecodeError> {
        let algorithm = r.u8()?;
        let fingerprint_type = r.u8()?;
        let fingerprint: Box<[u8]> = r.rest().into();
        if Self::expected_len(fingerprint_type).is_some_and(|len| len != fingerprint.len()) {
            return Err(bad_rdata(
                RType::SSHFP,
                "fingerprint length does not match its type",
            ));
        }
        Ok(Sshfp {
            algorithm,
            fingerprint_type,
            fingerprint,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(self.algorithm);
        w.u8(self.fingerprint_type);
        w.bytes(&self.fingerprint);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Sshfp, TextError> {
        let algorithm = f.u8("algorithm")?;
        let fingerprint_type = f.u8("fingerprint type")?;
        let fingerprint = f.rest_hex("hexadecimal fingerprint")?;
        if Self::expected_len(fingerprint_type).is_some_and(|len| len != fingerprint.len()) {
            return Err(f.invalid("fingerprint length does not match its type"));
        }
        Ok(Sshfp {
            algorithm,
            fingerprint_type,
            fingerprint: fingerprint.into_boxed_slice(),
        })
    }
}

impl fmt::Display for Sshfp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{} {}", self.algorithm, self.fingerprint_type);
        // BIND prints nothing after the type when the fingerprint is empty.
        if !self.fingerprint.is_empty() {
            out.push(' ');
            push_split(&mut out, &encode_hex(&self.fingerprint));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fingerprint_types_fix_the_length() {
        let mut sha1 = vec![4, 1];
        sha1.extend_from_slice(&[0xAB; 20]);
        assert!(Sshfp::decode(&mut Reader::new(&sha1)).is_ok());
        sha1.pop();
        assert_eq!(
            Sshfp::decode(&mut Reader::new(&sha1)),
            Err(bad_rdata(
                RType::SSHFP,
                "fingerprint length does not match its type"
            ))
        );
        // An unassigned type takes any length, even none.
        let other = Sshfp::decode(&mut Reader::new(&[4, 9])).unwrap();
        assert_eq!(other.to_string(), "4 9");
    }
}

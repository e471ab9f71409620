//! TLSA RDATA (RFC 6698 §2.1): a certificate association for DANE.
//!
//! ```text
//! | usage (8) | selector (8) | matching type (8) | certificate association data ... |
//! ```
//!
//! Presentation: `usage selector type HEX`, the hex split every 56 characters as BIND prints it.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::rdata::bad_rdata;
use crate::text::{encode_hex, push_split, Fields};
use crate::types::RType;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218).
    pub usage: u8,
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching_type: u8,
    /// At least one octet (BIND refuses an empty field).
    pub data: Box<[u8]>,
}

impl Tlsa {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Tlsa, DecodeError> {
        let usage = r.u8()?;
        let selector = r.u8()?;
        let matching_type = r.u8()?;
        let data: Box<[u8]> = r.rest().into();
        if data.is_empty() {
            return Err(bad_rdata(
                RType::TLSA,
                "certificate association data is empty",
            ));
        }
        Ok(Tlsa {
            usage,
            selector,
            matching_type,
            data,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(self.usage);
        w.u8(self.selector);
        w.u8(self.matching_type);
        w.bytes(&self.data);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Tlsa, TextError> {
        let usage = f.u8("certificate usage")?;
        let selector = f.u8("selector")?;
        let matching_type = f.u8("matching type")?;
        if f.is_done() {
            return Err(TextError::MissingField {
                rtype: "TLSA".into(),
                expected: "certificate association data",
            });
        }
        let data = f.rest_hex("hexadecimal certificate association data")?;
        Ok(Tlsa {
            usage,
            selector,
            matching_type,
            data: data.into_boxed_slice(),
        })
    }
}

impl fmt::Display for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{} {} {} ", self.usage, self.selector, self.matching_type);
        push_split(&mut out, &encode_hex(&self.data));
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_required() {
        assert_eq!(
            Tlsa::decode(&mut Reader::new(&[3, 1, 1])),
            Err(bad_rdata(
                RType::TLSA,
                "certificate association data is empty"
            ))
        );
        let tlsa = Tlsa::decode(&mut Reader::new(&[3, 1, 1, 0xAB])).unwrap();
        assert_eq!(tlsa.to_string(), "3 1 1 AB");
    }
}

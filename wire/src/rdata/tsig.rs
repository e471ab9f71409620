//! TSIG RDATA (RFC 8945 §4.2): a transaction signature's fields. Computing and checking the MAC
//! is the caller's job; this is only the format.
//!
//! ```text
//! | Algorithm Name (uncompressed) ...                          |
//! | Time Signed (48)                        | Fudge (16)       |
//! | MAC Size (16) | MAC ...                                    |
//! | Original ID (16) | Error (16) | Other Len (16) | Other Data |
//! ```
//!
//! The algorithm name is never compressed and keeps its case (RFC 8945 §4.2 and §4.3.3: it is
//! digested in canonical wire form, which BIND and this crate take as the name as sent).
//! Presentation follows BIND's `totext`: `algorithm time fudge mac-size MAC original-id error
//! other-len OTHER`, the error as a TSIG RCODE mnemonic (`BADSIG`, `BADTIME`, ...).

use std::fmt;

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::text::{encode_base64, push_split, push_split_width, Fields};
use crate::types::Rcode;

/// The largest Time Signed (48 bits).
pub const MAX_TIME_SIGNED: u64 = (1 << 48) - 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tsig {
    /// E.g. `hmac-sha256.` (RFC 8945 §6).
    pub algorithm: Name,
    /// Seconds since 1970, 48 bits on the wire: higher bits are dropped when encoding.
    pub time_signed: u64,
    /// Permitted clock error in seconds.
    pub fudge: u16,
    pub mac: Box<[u8]>,
    /// The message ID before any forwarder rewrote it.
    pub original_id: u16,
    /// An extended RCODE: BADSIG 16, BADKEY 17, BADTIME 18, BADTRUNC 22 (RFC 8945 §5.3).
    pub error: Rcode,
    /// With BADTIME, the server's time as 48 bits (RFC 8945 §5.2.3).
    pub other: Box<[u8]>,
}

impl Tsig {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Tsig, DecodeError> {
        let algorithm = r.name(false)?;
        let time_high = u64::from(r.u16()?);
        let time_low = u64::from(r.u32()?);
        let fudge = r.u16()?;
        let mac_len = usize::from(r.u16()?);
        let mac = r.bytes(mac_len)?.into();
        let original_id = r.u16()?;
        let error = Rcode(r.u16()?);
        let other_len = usize::from(r.u16()?);
        let other = r.bytes(other_len)?.into();
        Ok(Tsig {
            algorithm,
            time_signed: (time_high << 32) | time_low,
            fudge,
            mac,
            original_id,
            error,
            other,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.name(self.algorithm.as_wire(), NameKind::Verbatim);
        w.u16(((self.time_signed >> 32) & 0xFFFF) as u16);
        w.u32((self.time_signed & 0xFFFF_FFFF) as u32);
        w.u16(self.fudge);
        // Lengths above 65535 cannot fit a message; Message::encode refuses such a message.
        w.u16(self.mac.len() as u16);
        w.bytes(&self.mac);
        w.u16(self.original_id);
        w.u16(self.error.0);
        w.u16(self.other.len() as u16);
        w.bytes(&self.other);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Tsig, TextError> {
        let algorithm = f.name("algorithm name")?;
        let word = f.word("time signed")?;
        let time_signed = word
            .parse::<u64>()
            .ok()
            .filter(|&t| t <= MAX_TIME_SIGNED)
            .ok_or_else(|| f.bad("48-bit time signed", word))?;
        let fudge = f.u16("fudge")?;
        let mac_len = f.u16("MAC size")?;
        let mac = f
            .base64_exact("base64 MAC", usize::from(mac_len))?
            .into_boxed_slice();
        let original_id = f.u16("original ID")?;
        let word = f.word("error")?;
        let error = tsig_rcode_from_text(word).ok_or_else(|| f.bad("TSIG error", word))?;
        let other_len = f.u16("other length")?;
        let other = f
            .base64_exact("base64 other data", usize::from(other_len))?
            .into_boxed_slice();
        Ok(Tsig {
            algorithm,
            time_signed,
            fudge,
            mac,
            original_id,
            error,
            other,
        })
    }
}

/// BIND's names for TSIG errors: the RCODEs 0 to 15, then the TSIG-specific 16 to 22
/// (16 is BADSIG here, not BADVERS). Others print as numbers.
fn tsig_rcode_mnemonic(rcode: Rcode) -> Option<&'static str> {
    match rcode.0 {
        11 => Some("RESERVED11"),
        12 => Some("RESERVED12"),
        13 => Some("RESERVED13"),
        14 => Some("RESERVED14"),
        15 => Some("RESERVED15"),
        16 => Some("BADSIG"),
        0..=22 => rcode.mnemonic(),
        _ => None,
    }
}

fn tsig_rcode_from_text(text: &str) -> Option<Rcode> {
    if let Ok(n) = text.parse::<u16>() {
        return Some(Rcode(n));
    }
    // BIND prints RESERVEDnn but does not read it back; we read it, so that everything we
    // print parses to the same RDATA (proptest found the gap).
    (0..=22u16)
        .map(Rcode)
        .find(|&r| tsig_rcode_mnemonic(r).is_some_and(|m| m.eq_ignore_ascii_case(text)))
}

impl fmt::Display for Tsig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!(
            "{} {} {} {}",
            self.algorithm,
            self.time_signed,
            self.fudge,
            self.mac.len()
        );
        if !self.mac.is_empty() {
            out.push(' ');
            push_split(&mut out, &encode_base64(&self.mac));
        }
        out.push_str(&format!(" {} ", self.original_id));
        match tsig_rcode_mnemonic(self.error) {
            Some(name) => out.push_str(name),
            None => out.push_str(&self.error.0.to_string()),
        }
        out.push_str(&format!(" {}", self.other.len()));
        if !self.other.is_empty() {
            // BIND splits this field every 60 characters, not 56.
            out.push(' ');
            push_split_width(&mut out, &encode_base64(&self.other), 60);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn parse(text: &str) -> Result<Tsig, TextError> {
        let tokens = tokenize(text).unwrap();
        Tsig::from_fields(&mut Fields::new("TSIG", &tokens, None))
    }

    #[test]
    fn text_and_wire_round_trip() {
        let text = "hmac-sha256. 1700000000 300 32 pBxFXSZm6Xa1QXY3sl/xiR3MFAvjWUVBnZ4dhZTlXsc= 4660 BADTIME 6 AABlU/EA";
        let tsig = parse(text).unwrap();
        assert_eq!(tsig.error, Rcode::BADTIME);
        assert_eq!(tsig.to_string(), text);
        let mut w = Writer::plain(Vec::new());
        tsig.encode(&mut w);
        let bytes = w.into_bytes();
        assert_eq!(Tsig::decode(&mut Reader::new(&bytes)).unwrap(), tsig);
        assert_eq!(
            parse("hmac-md5.sig-alg.reg.int. 281474976710655 300 0 0 NOERROR 0")
                .unwrap()
                .time_signed,
            MAX_TIME_SIGNED
        );
        assert!(parse("hmac-sha256. 281474976710656 300 0 0 NOERROR 0").is_err());
        assert_eq!(
            parse("hmac-sha256. 1 300 0 0 23 0").unwrap().to_string(),
            "hmac-sha256. 1 300 0 0 23 0"
        );
    }

    #[test]
    fn algorithm_name_is_never_compressed() {
        assert!(matches!(
            Tsig::decode(&mut Reader::at(b"\x00\xC0\x00", 1)),
            Err(DecodeError::PointerNotAllowed { .. })
        ));
    }
}

//! The 12-octet message header (RFC 1035 §4.1.1, with AD/CD from RFC 4035 §3.2).
//!
//! ```text
//!   0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |
//! |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
//! |          QDCOUNT / ANCOUNT / NSCOUNT / ARCOUNT |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! ```

use crate::codec::{Reader, Writer};
use crate::error::DecodeError;
use crate::types::Opcode;

/// Header fields other than the four section counts, which the message derives from its sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    /// The reserved Z bit; must be zero on send, ignored on receipt (kept for exact round trips).
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// The low four bits of the response code; EDNS supplies the high eight.
    pub rcode: u8,
}

/// The section counts as they appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub qd: u16,
    pub an: u16,
    pub ns: u16,
    pub ar: u16,
}

impl Header {
    pub const LEN: usize = 12;

    pub fn opcode(&self) -> Opcode {
        Opcode(self.opcode)
    }

    /// The two flag octets.
    pub fn flags(&self) -> u16 {
        (u16::from(self.qr) << 15)
            | (u16::from(self.opcode & 0x0F) << 11)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | (u16::from(self.z) << 6)
            | (u16::from(self.ad) << 5)
            | (u16::from(self.cd) << 4)
            | u16::from(self.rcode & 0x0F)
    }

    pub fn from_flags(id: u16, flags: u16) -> Header {
        Header {
            id,
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0x0F) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            z: flags & 0x0040 != 0,
            ad: flags & 0x0020 != 0,
            cd: flags & 0x0010 != 0,
            rcode: (flags & 0x000F) as u8,
        }
    }

    /// Reads the header and the counts.
    pub fn decode(r: &mut Reader<'_>) -> Result<(Header, Counts), DecodeError> {
        let id = r.u16()?;
        let flags = r.u16()?;
        let counts = Counts {
            qd: r.u16()?,
            an: r.u16()?,
            ns: r.u16()?,
            ar: r.u16()?,
        };
        Ok((Header::from_flags(id, flags), counts))
    }

    pub fn encode(&self, counts: Counts, w: &mut Writer) {
        w.u16(self.id);
        w.u16(self.flags());
        w.u16(counts.qd);
        w.u16(counts.an);
        w.u16(counts.ns);
        w.u16(counts.ar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        for flags in [0u16, 0xFFFF, 0x8180, 0x0100, 0x7A5F] {
            assert_eq!(Header::from_flags(7, flags).flags(), flags);
        }
    }
}

//! RDATA of the RFC 1035 era and friends: A, AAAA (RFC 3596), names (NS, CNAME, PTR, DNAME
//! RFC 6672), SOA, MX, TXT, SRV (RFC 2782), and RFC 3597 opaque data.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::text::{push_quoted, Fields};
use crate::types::RType;

/// SOA RDATA (RFC 1035 §3.3.13): `mname rname serial refresh retry expire minimum`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308 §4).
    pub minimum: u32,
}

impl Soa {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Soa, DecodeError> {
        Ok(Soa {
            mname: r.name(true)?,
            rname: r.name(true)?,
            serial: r.u32()?,
            refresh: r.u32()?,
            retry: r.u32()?,
            expire: r.u32()?,
            minimum: r.u32()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.name(self.mname.as_wire(), NameKind::Compressible);
        w.name(self.rname.as_wire(), NameKind::Compressible);
        for v in [
            self.serial,
            self.refresh,
            self.retry,
            self.expire,
            self.minimum,
        ] {
            w.u32(v);
        }
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Soa, TextError> {
        Ok(Soa {
            mname: f.name("primary name server")?,
            rname: f.name("responsible mailbox")?,
            serial: f.u32("serial")?,
            refresh: f.ttl_like("refresh")?,
            retry: f.ttl_like("retry")?,
            expire: f.ttl_like("expire")?,
            minimum: f.ttl_like("minimum (negative TTL)")?,
        })
    }
}

impl fmt::Display for Soa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} {}",
            self.mname,
            self.rname,
            self.serial,
            self.refresh,
            self.retry,
            self.expire,
            self.minimum
        )
    }
}

/// SRV RDATA (RFC 2782): `priority weight port target`; the target is never compressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name,
}

impl Srv {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Srv, DecodeError> {
        Ok(Srv {
            priority: r.u16()?,
            weight: r.u16()?,
            port: r.u16()?,
            target: r.name(true)?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.priority);
        w.u16(self.weight);
        w.u16(self.port);
        w.name(self.target.as_wire(), NameKind::Lowered);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Srv, TextError> {
        Ok(Srv {
            priority: f.u16("priority")?,
            weight: f.u16("weight")?,
            port: f.u16("port")?,
            target: f.name("target")?,
        })
    }
}

impl fmt::Display for Srv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.priority, self.weight, self.port, self.target
        )
    }
}

/// TXT RDATA (RFC 1035 §3.3.14): one or more character strings, kept in wire form
/// (each string prefixed by its length) so a record costs one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Txt {
    wire: Box<[u8]>,
}

impl Txt {
    /// Builds TXT data from its strings; each must be at most 255 octets.
    pub fn from_strings<'s>(strings: impl IntoIterator<Item = &'s [u8]>) -> Result<Txt, TextError> {
        let mut wire = Vec::new();
        for s in strings {
            let len = u8::try_from(s.len()).map_err(|_| TextError::StringTooLong)?;
            wire.push(len);
            wire.extend_from_slice(s);
        }
        if wire.len() > usize::from(u16::MAX) {
            return Err(TextError::RdataTooLong {
                rtype: "TXT".into(),
                len: wire.len(),
            });
        }
        Ok(Txt {
            wire: wire.into_boxed_slice(),
        })
    }

    /// The character strings in order.
    pub fn strings(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest: &[u8] = &self.wire;
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let s = tail.get(..usize::from(len))?;
            rest = &tail[usize::from(len)..];
            Some(s)
        })
    }

    pub(crate) fn decode(r: &mut Reader<'_>, len: usize) -> Result<Txt, DecodeError> {
        let data = r.bytes(len)?;
        // Every string's length must stay inside the RDATA; an empty RDATA is not a TXT.
        let mut pos = 0usize;
        if data.is_empty() {
            return Err(DecodeError::BadRdata {
                rtype: RType::TXT,
                reason: "empty TXT RDATA",
            });
        }
        while pos < data.len() {
            pos += 1 + usize::from(data[pos]);
        }
        if pos != data.len() {
            return Err(DecodeError::BadRdata {
                rtype: RType::TXT,
                reason: "character string overruns RDATA",
            });
        }
        Ok(Txt { wire: data.into() })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.bytes(&self.wire);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Txt, TextError> {
        let mut strings = Vec::new();
        while !f.is_done() {
            strings.push(f.char_string("character string")?);
        }
        if strings.is_empty() {
            return Err(TextError::MissingField {
                rtype: "TXT".into(),
                expected: "character string",
            });
        }
        Txt::from_strings(strings.iter().map(Vec::as_slice))
    }
}

impl fmt::Display for Txt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(self.wire.len() + 8);
        for (i, s) in self.strings().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            push_quoted(&mut out, s);
        }
        f.write_str(&out)
    }
}

pub(crate) fn decode_a(r: &mut Reader<'_>) -> Result<Ipv4Addr, DecodeError> {
    let b = r.bytes(4)?;
    Ok(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

pub(crate) fn decode_aaaa(r: &mut Reader<'_>) -> Result<Ipv6Addr, DecodeError> {
    let b = r.bytes(16)?;
    let mut octets = [0u8; 16];
    octets.copy_from_slice(b);
    Ok(Ipv6Addr::from(octets))
}

pub(crate) fn parse_a(f: &mut Fields<'_, '_>) -> Result<Ipv4Addr, TextError> {
    let w = f.word("IPv4 address")?;
    // Rust's parser already rejects leading zeros and short forms such as `10.1`.
    w.parse().map_err(|_| f.bad("IPv4 address", w))
}

pub(crate) fn parse_aaaa(f: &mut Fields<'_, '_>) -> Result<Ipv6Addr, TextError> {
    let w = f.word("IPv6 address")?;
    w.parse().map_err(|_| f.bad("IPv6 address", w))
}

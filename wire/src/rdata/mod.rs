//! Record data (RDATA): one variant per supported type, every other type as RFC 3597 opaque bytes.
//!
//! Each type decodes from the wire (inside a message, so names may be compressed where RFC 3597 §4
//! allows), encodes (compressing only RFC 1035 types), prints in the presentation form `dig`
//! prints, and parses from presentation tokens, including the RFC 3597 §5 generic `\# len hex`.

mod basic;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use basic::{Soa, Srv, Txt};

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::text::{encode_hex, Fields, Token};
use crate::types::RType;

/// The data of one resource record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    Dname(Name),
    Soa(Box<Soa>),
    Mx { preference: u16, exchange: Name },
    Txt(Txt),
    Srv(Box<Srv>),
    /// Any type this crate has no structure for, kept byte for byte (RFC 3597).
    Unknown { rtype: RType, data: Box<[u8]> },
}

impl RData {
    /// The record type this data belongs to.
    pub fn rtype(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::AAAA,
            RData::Ns(_) => RType::NS,
            RData::Cname(_) => RType::CNAME,
            RData::Ptr(_) => RType::PTR,
            RData::Dname(_) => RType::DNAME,
            RData::Soa(_) => RType::SOA,
            RData::Mx { .. } => RType::MX,
            RData::Txt(_) => RType::TXT,
            RData::Srv(_) => RType::SRV,
            RData::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Decodes `rdlength` bytes of RDATA of type `rtype` at the reader's position.
    /// The reader spans the whole message so compressed names resolve.
    pub fn decode(rtype: RType, r: &mut Reader<'_>, rdlength: u16) -> Result<RData, DecodeError> {
        let start = r.position();
        let len = usize::from(rdlength);
        if r.remaining() < len {
            return Err(DecodeError::Truncated { offset: start, needed: len - r.remaining() });
        }
        let data = match rtype {
            RType::A => RData::A(basic::decode_a(r)?),
            RType::AAAA => RData::Aaaa(basic::decode_aaaa(r)?),
            RType::NS => RData::Ns(r.name(true)?),
            RType::CNAME => RData::Cname(r.name(true)?),
            RType::PTR => RData::Ptr(r.name(true)?),
            RType::DNAME => RData::Dname(r.name(true)?),
            RType::SOA => RData::Soa(Box::new(Soa::decode(r)?)),
            RType::MX => RData::Mx { preference: r.u16()?, exchange: r.name(true)? },
            RType::TXT => RData::Txt(Txt::decode(r, len)?),
            RType::SRV => RData::Srv(Box::new(Srv::decode(r)?)),
            _ => RData::Unknown { rtype, data: r.bytes(len)?.into() },
        };
        let used = r.position() - start;
        if used != len {
            return Err(DecodeError::RdataLengthMismatch { rtype, rdlength, used });
        }
        Ok(data)
    }

    /// Decodes standalone RDATA bytes (no message around them, so no compression pointers).
    pub fn decode_standalone(rtype: RType, data: &[u8]) -> Result<RData, DecodeError> {
        let rdlength = u16::try_from(data.len()).map_err(|_| DecodeError::MessageTooLong { len: data.len() })?;
        // A reader whose message is just the RDATA: any pointer would have to point inside it and
        // forward-or-loop checks reject the rest; explicit refusal keeps the error precise.
        let mut r = Reader::new(data);
        if contains_pointer_in_names(rtype, data) {
            return Err(DecodeError::PointerNotAllowed { offset: 0 });
        }
        RData::decode(rtype, &mut r, rdlength)
    }

    /// Writes the RDATA (without RDLENGTH).
    pub fn encode(&self, w: &mut Writer) {
        match self {
            RData::A(a) => w.bytes(&a.octets()),
            RData::Aaaa(a) => w.bytes(&a.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => w.name(n.as_wire(), NameKind::Compressible),
            RData::Dname(n) => w.name(n.as_wire(), NameKind::Lowered),
            RData::Soa(soa) => soa.encode(w),
            RData::Mx { preference, exchange } => {
                w.u16(*preference);
                w.name(exchange.as_wire(), NameKind::Compressible);
            }
            RData::Txt(txt) => txt.encode(w),
            RData::Srv(srv) => srv.encode(w),
            RData::Unknown { data, .. } => w.bytes(data),
        }
    }

    /// The uncompressed wire form with case preserved (what RFC 3597 `\#` text carries).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut w = Writer::plain(Vec::new());
        self.encode(&mut w);
        w.into_bytes()
    }

    /// The canonical wire form of RFC 4034 §6.2 (names lowered where that section says).
    pub fn to_canonical_wire(&self) -> Vec<u8> {
        let mut w = Writer::canonical(Vec::new());
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Parses presentation tokens for `rtype`; relative names are completed with `origin`.
    /// Accepts the RFC 3597 §5 generic form `\# <len> <hex>` for every type.
    pub fn from_tokens(rtype: RType, tokens: &[Token<'_>], origin: Option<&Name>) -> Result<RData, TextError> {
        if let Some(first) = tokens.first() {
            if first.text == "\\#" && !first.quoted {
                return RData::from_generic(rtype, &tokens[1..]);
            }
        }
        let label = rtype_label(rtype);
        let mut f = Fields::new(label, tokens, origin);
        let data = match rtype {
            RType::A => RData::A(basic::parse_a(&mut f)?),
            RType::AAAA => RData::Aaaa(basic::parse_aaaa(&mut f)?),
            RType::NS => RData::Ns(f.name("name server")?),
            RType::CNAME => RData::Cname(f.name("canonical name")?),
            RType::PTR => RData::Ptr(f.name("domain name")?),
            RType::DNAME => RData::Dname(f.name("target")?),
            RType::SOA => RData::Soa(Box::new(Soa::from_fields(&mut f)?)),
            RType::MX => RData::Mx { preference: f.u16("preference")?, exchange: f.name("exchange")? },
            RType::TXT => RData::Txt(Txt::from_fields(&mut f)?),
            RType::SRV => RData::Srv(Box::new(Srv::from_fields(&mut f)?)),
            _ if rtype.is_meta() => return Err(TextError::UnknownType(rtype.to_string())),
            // Types without a structured form here only have the generic form.
            _ => return Err(f.bad("\\# generic RDATA (RFC 3597)", tokens.first().map_or("", |t| t.text))),
        };
        f.finish()?;
        Ok(data)
    }

    /// `\# len hex...` → RDATA; known types are decoded into their structured form.
    fn from_generic(rtype: RType, tokens: &[Token<'_>]) -> Result<RData, TextError> {
        let label = rtype_label(rtype);
        let mut f = Fields::new(label, tokens, None);
        let len = f.u16("RDATA length after \\#")?;
        let data = if len == 0 { Vec::new() } else { f.rest_hex("hexadecimal RDATA")? };
        f.finish()?;
        if data.len() != usize::from(len) {
            return Err(f.bad("hex of the declared \\# length", &format!("{} octets for length {len}", data.len())));
        }
        if !is_structured(rtype) {
            return Ok(RData::Unknown { rtype, data: data.into_boxed_slice() });
        }
        RData::decode_standalone(rtype, &data)
            .map_err(|e| TextError::BadField { rtype: label.to_owned(), expected: "valid RDATA", found: e.to_string() })
    }

    /// Prints in generic form (RFC 3597 §5), as dig does for unknown types.
    pub fn to_generic_text(&self) -> String {
        let data = self.to_wire();
        if data.is_empty() {
            "\\# 0".to_owned()
        } else {
            format!("\\# {} {}", data.len(), encode_hex(&data))
        }
    }
}

/// True for the types with a structured variant (the rest are [`RData::Unknown`]).
fn is_structured(rtype: RType) -> bool {
    matches!(
        rtype,
        RType::A
            | RType::AAAA
            | RType::NS
            | RType::CNAME
            | RType::PTR
            | RType::DNAME
            | RType::SOA
            | RType::MX
            | RType::TXT
            | RType::SRV
    )
}

/// A static label for error messages.
fn rtype_label(rtype: RType) -> &'static str {
    rtype.mnemonic().unwrap_or("generic RDATA")
}

/// Standalone RDATA (from `\#` text or storage) must not contain compression pointers; the
/// message decoder would otherwise resolve them against the RDATA itself.
fn contains_pointer_in_names(rtype: RType, data: &[u8]) -> bool {
    let first_name_at = match rtype {
        RType::NS | RType::CNAME | RType::PTR | RType::DNAME | RType::SOA => Some(0),
        RType::MX => Some(2),
        RType::SRV => Some(6),
        _ => None,
    };
    first_name_at.is_some_and(|mut pos| {
        // Walk labels of the first name (and for SOA the second too).
        let names = if rtype == RType::SOA { 2 } else { 1 };
        for _ in 0..names {
            loop {
                match data.get(pos) {
                    Some(&0) => {
                        pos += 1;
                        break;
                    }
                    Some(&len) if len & 0xC0 != 0 => return true,
                    Some(&len) => pos += 1 + usize::from(len),
                    None => return false,
                }
            }
        }
        false
    })
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => write!(f, "{a}"),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => write!(f, "{n}"),
            RData::Soa(soa) => write!(f, "{soa}"),
            RData::Mx { preference, exchange } => write!(f, "{preference} {exchange}"),
            RData::Txt(txt) => write!(f, "{txt}"),
            RData::Srv(srv) => write!(f, "{srv}"),
            RData::Unknown { .. } => f.write_str(&self.to_generic_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn parse(rtype: RType, text: &str) -> Result<RData, TextError> {
        let origin = Name::from_text("example.com.", None).unwrap();
        RData::from_tokens(rtype, &tokenize(text).unwrap(), Some(&origin))
    }

    #[test]
    fn text_round_trips() {
        for (rtype, text) in [
            (RType::A, "192.0.2.1"),
            (RType::AAAA, "2001:db8::1"),
            (RType::NS, "ns1.example.com."),
            (RType::SOA, "ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"),
            (RType::MX, "10 mail.example.com."),
            (RType::TXT, r#""v=spf1 -all" "second \"q\"""#),
            (RType::SRV, "0 5 5060 sip.example.com."),
            (RType(65534), "\\# 3 ABCDEF"),
        ] {
            let data = parse(rtype, text).unwrap();
            assert_eq!(data.to_string(), text, "{rtype}");
            let wire = data.to_wire();
            assert_eq!(RData::decode_standalone(rtype, &wire).unwrap(), data);
        }
    }

    #[test]
    fn generic_form_of_known_type_is_structured() {
        assert_eq!(parse(RType::A, "\\# 4 C0000201").unwrap(), RData::A(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(parse(RType::A, "\\# 5 C0000201").is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(RType::MX, "ten mail").unwrap_err();
        assert_eq!(err.to_string(), "MX: expected preference, found \"ten\"");
        assert!(matches!(parse(RType::A, "192.0.2.1 extra"), Err(TextError::ExtraField { .. })));
        assert!(matches!(parse(RType::A, "192.0.2"), Err(TextError::BadField { .. })));
    }
}

//! Record data (RDATA): one variant per supported type, every other type as RFC 3597 opaque bytes.
//!
//! Each type decodes from the wire (inside a message, so names may be compressed where RFC 3597 §4
//! allows), encodes (compressing only RFC 1035 types), prints in the presentation form BIND
//! prints (`dig`, `named-compilezone -s full`: long base64 and hex split every 56 characters),
//! and parses from presentation tokens, including the RFC 3597 §5 generic `\# len hex`.
//!
//! Decoding is strict where BIND is: every refusal is a [`DecodeError::BadRdata`] naming the
//! rule, or [`DecodeError::RdataLengthMismatch`] when the fields do not fill RDLENGTH exactly.
//! Types whose names must not be compressed refuse pointers ([`DecodeError::PointerNotAllowed`]);
//! RDATA outside a message ([`RData::decode_standalone`]) refuses them all.
//!
//! | types | module | RFC |
//! |---|---|---|
//! | A AAAA NS CNAME PTR DNAME SOA MX TXT SRV | `basic` | 1035, 3596, 6672, 2782 |
//! | NAPTR | `naptr` | 3403 |
//! | CAA | `caa` | 8659 |
//! | SSHFP, TLSA | `sshfp`, `tlsa` | 4255, 6698 |
//! | DS CDS, DNSKEY CDNSKEY, RRSIG | `ds`, `dnskey`, `rrsig` | 4034, 7344 |
//! | NSEC, NSEC3 NSEC3PARAM (type bitmap in `type_bitmap`) | `nsec`, `nsec3` | 4034, 5155 |
//! | SVCB HTTPS | `svcb` | 9460 |
//! | OPT and its options | `edns` | 6891, 7830, 7871, 7873, 8914 |
//! | TSIG | `tsig` | 8945 |

mod basic;
mod caa;
mod character_string;
mod dnskey;
mod ds;
mod edns;
mod naptr;
mod nsec;
mod nsec3;
mod rrsig;
mod sshfp;
mod svcb;
mod tlsa;
mod tsig;
mod type_bitmap;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use basic::{Soa, Srv, Txt};
pub use caa::Caa;
pub use character_string::CharString;
pub use dnskey::Dnskey;
pub use ds::Ds;
pub use edns::{ClientSubnet, Cookie, Edns, EdnsOption, ExtendedError, Opt};
pub use naptr::{check_regexp, Naptr};
pub use nsec::Nsec;
pub use nsec3::{Nsec3, Nsec3Param};
pub use rrsig::{time_from_text, time_to_text, Rrsig};
pub use sshfp::Sshfp;
pub use svcb::{SvcParam, SvcParamKey, Svcb};
pub use tlsa::Tlsa;
pub use tsig::{Tsig, MAX_TIME_SIGNED};
pub use type_bitmap::TypeBitmap;

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::text::{encode_hex, ipv6_to_text, push_split, Fields, Token};
use crate::types::RType;

/// The data of one resource record. Payloads larger than 24 bytes are boxed so the enum stays
/// at 32 bytes: zones hold millions of these.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    Dname(Name),
    Soa(Box<Soa>),
    Mx {
        preference: u16,
        exchange: Name,
    },
    Txt(Txt),
    Srv(Box<Srv>),
    Naptr(Box<Naptr>),
    Ds(Ds),
    Cds(Ds),
    Sshfp(Sshfp),
    Rrsig(Box<Rrsig>),
    Nsec(Box<Nsec>),
    Dnskey(Dnskey),
    Cdnskey(Dnskey),
    Nsec3(Box<Nsec3>),
    Nsec3Param(Nsec3Param),
    Tlsa(Tlsa),
    Svcb(Box<Svcb>),
    Https(Box<Svcb>),
    Caa(Box<Caa>),
    /// EDNS options; the OPT record's class and TTL carry the rest (see [`Edns`]).
    Opt(Opt),
    Tsig(Box<Tsig>),
    /// Any type this crate has no structure for, kept byte for byte (RFC 3597).
    Unknown {
        rtype: RType,
        data: Box<[u8]>,
    },
}

/// A [`DecodeError::BadRdata`] for `rtype`.
pub(crate) fn bad_rdata(rtype: RType, reason: &'static str) -> DecodeError {
    DecodeError::BadRdata { rtype, reason }
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
            RData::Naptr(_) => RType::NAPTR,
            RData::Ds(_) => RType::DS,
            RData::Cds(_) => RType::CDS,
            RData::Sshfp(_) => RType::SSHFP,
            RData::Rrsig(_) => RType::RRSIG,
            RData::Nsec(_) => RType::NSEC,
            RData::Dnskey(_) => RType::DNSKEY,
            RData::Cdnskey(_) => RType::CDNSKEY,
            RData::Nsec3(_) => RType::NSEC3,
            RData::Nsec3Param(_) => RType::NSEC3PARAM,
            RData::Tlsa(_) => RType::TLSA,
            RData::Svcb(_) => RType::SVCB,
            RData::Https(_) => RType::HTTPS,
            RData::Caa(_) => RType::CAA,
            RData::Opt(_) => RType::OPT,
            RData::Tsig(_) => RType::TSIG,
            RData::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Decodes `rdlength` bytes of RDATA of type `rtype` at the reader's position.
    /// The reader spans the whole message so compressed names resolve; fields never read past
    /// RDLENGTH, and must fill it exactly.
    pub fn decode(rtype: RType, r: &mut Reader<'_>, rdlength: u16) -> Result<RData, DecodeError> {
        let start = r.position();
        let len = usize::from(rdlength);
        let mut body = r.rdata(len)?;
        let data = RData::decode_body(rtype, &mut body, len).map_err(|e| match e {
            // The message went on, only the RDATA ended: the fields need `needed` more octets
            // than RDLENGTH gives.
            DecodeError::Truncated { offset, needed }
                if offset >= start && start + len + needed <= r.message().len() =>
            {
                DecodeError::RdataLengthMismatch {
                    rtype,
                    rdlength,
                    used: len + needed,
                }
            }
            other => other,
        })?;
        let used = body.position() - start;
        if used != len {
            return Err(DecodeError::RdataLengthMismatch {
                rtype,
                rdlength,
                used,
            });
        }
        r.skip(len)?;
        Ok(data)
    }

    fn decode_body(rtype: RType, r: &mut Reader<'_>, len: usize) -> Result<RData, DecodeError> {
        Ok(match rtype {
            RType::A => RData::A(basic::decode_a(r)?),
            RType::AAAA => RData::Aaaa(basic::decode_aaaa(r)?),
            RType::NS => RData::Ns(r.name(true)?),
            RType::CNAME => RData::Cname(r.name(true)?),
            RType::PTR => RData::Ptr(r.name(true)?),
            RType::DNAME => RData::Dname(r.name(true)?),
            RType::SOA => RData::Soa(Box::new(Soa::decode(r)?)),
            RType::MX => RData::Mx {
                preference: r.u16()?,
                exchange: r.name(true)?,
            },
            RType::TXT => RData::Txt(Txt::decode(r, len)?),
            RType::SRV => RData::Srv(Box::new(Srv::decode(r)?)),
            RType::NAPTR => RData::Naptr(Box::new(Naptr::decode(r)?)),
            RType::DS => RData::Ds(Ds::decode(r, rtype)?),
            RType::CDS => RData::Cds(Ds::decode(r, rtype)?),
            RType::SSHFP => RData::Sshfp(Sshfp::decode(r)?),
            RType::RRSIG => RData::Rrsig(Box::new(Rrsig::decode(r)?)),
            RType::NSEC => RData::Nsec(Box::new(Nsec::decode(r)?)),
            RType::DNSKEY => RData::Dnskey(Dnskey::decode(r, rtype)?),
            RType::CDNSKEY => RData::Cdnskey(Dnskey::decode(r, rtype)?),
            RType::NSEC3 => RData::Nsec3(Box::new(Nsec3::decode(r)?)),
            RType::NSEC3PARAM => RData::Nsec3Param(Nsec3Param::decode(r)?),
            RType::TLSA => RData::Tlsa(Tlsa::decode(r)?),
            RType::SVCB => RData::Svcb(Box::new(Svcb::decode(r, rtype)?)),
            RType::HTTPS => RData::Https(Box::new(Svcb::decode(r, rtype)?)),
            RType::CAA => RData::Caa(Box::new(Caa::decode(r)?)),
            RType::OPT => RData::Opt(Opt::decode(r)?),
            RType::TSIG => RData::Tsig(Box::new(Tsig::decode(r)?)),
            _ => RData::Unknown {
                rtype,
                data: r.bytes(len)?.into(),
            },
        })
    }

    /// Decodes standalone RDATA bytes (no message around them, so no compression pointers).
    pub fn decode_standalone(rtype: RType, data: &[u8]) -> Result<RData, DecodeError> {
        let rdlength = u16::try_from(data.len())
            .map_err(|_| DecodeError::MessageTooLong { len: data.len() })?;
        RData::decode(rtype, &mut Reader::standalone(data), rdlength)
    }

    /// Writes the RDATA (without RDLENGTH).
    pub fn encode(&self, w: &mut Writer) {
        match self {
            RData::A(a) => w.bytes(&a.octets()),
            RData::Aaaa(a) => w.bytes(&a.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => {
                w.name(n.as_wire(), NameKind::Compressible)
            }
            RData::Dname(n) => w.name(n.as_wire(), NameKind::Lowered),
            RData::Soa(soa) => soa.encode(w),
            RData::Mx {
                preference,
                exchange,
            } => {
                w.u16(*preference);
                w.name(exchange.as_wire(), NameKind::Compressible);
            }
            RData::Txt(txt) => txt.encode(w),
            RData::Srv(srv) => srv.encode(w),
            RData::Naptr(naptr) => naptr.encode(w),
            RData::Ds(ds) | RData::Cds(ds) => ds.encode(w),
            RData::Sshfp(sshfp) => sshfp.encode(w),
            RData::Rrsig(rrsig) => rrsig.encode(w),
            RData::Nsec(nsec) => nsec.encode(w),
            RData::Dnskey(key) | RData::Cdnskey(key) => key.encode(w),
            RData::Nsec3(nsec3) => nsec3.encode(w),
            RData::Nsec3Param(param) => param.encode(w),
            RData::Tlsa(tlsa) => tlsa.encode(w),
            RData::Svcb(svcb) | RData::Https(svcb) => svcb.encode(w),
            RData::Caa(caa) => caa.encode(w),
            RData::Opt(opt) => opt.encode(w),
            RData::Tsig(tsig) => tsig.encode(w),
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
    pub fn from_tokens(
        rtype: RType,
        tokens: &[Token<'_>],
        origin: Option<&Name>,
    ) -> Result<RData, TextError> {
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
            RType::MX => RData::Mx {
                preference: f.u16("preference")?,
                exchange: f.name("exchange")?,
            },
            RType::TXT => RData::Txt(Txt::from_fields(&mut f)?),
            RType::SRV => RData::Srv(Box::new(Srv::from_fields(&mut f)?)),
            RType::NAPTR => RData::Naptr(Box::new(Naptr::from_fields(&mut f)?)),
            RType::DS => RData::Ds(Ds::from_fields(&mut f)?),
            RType::CDS => RData::Cds(Ds::from_fields(&mut f)?),
            RType::SSHFP => RData::Sshfp(Sshfp::from_fields(&mut f)?),
            RType::RRSIG => RData::Rrsig(Box::new(Rrsig::from_fields(&mut f)?)),
            RType::NSEC => RData::Nsec(Box::new(Nsec::from_fields(&mut f)?)),
            RType::DNSKEY => RData::Dnskey(Dnskey::from_fields(&mut f)?),
            RType::CDNSKEY => RData::Cdnskey(Dnskey::from_fields(&mut f)?),
            RType::NSEC3 => RData::Nsec3(Box::new(Nsec3::from_fields(&mut f)?)),
            RType::NSEC3PARAM => RData::Nsec3Param(Nsec3Param::from_fields(&mut f)?),
            RType::TLSA => RData::Tlsa(Tlsa::from_fields(&mut f)?),
            RType::SVCB => RData::Svcb(Box::new(Svcb::from_fields(&mut f)?)),
            RType::HTTPS => RData::Https(Box::new(Svcb::from_fields(&mut f)?)),
            RType::CAA => RData::Caa(Box::new(Caa::from_fields(&mut f)?)),
            // OPT and TSIG are not zone data; their text is BIND's `totext` form, for logs and tests.
            RType::OPT => RData::Opt(Opt::from_fields(&mut f)?),
            RType::TSIG => RData::Tsig(Box::new(Tsig::from_fields(&mut f)?)),
            _ if rtype.is_meta() => return Err(TextError::UnknownType(rtype.to_string())),
            // Types without a structured form here only have the generic form.
            _ => {
                return Err(f.bad(
                    "\\# generic RDATA (RFC 3597)",
                    tokens.first().map_or("", |t| t.text),
                ))
            }
        };
        f.finish()?;
        Ok(data)
    }

    /// `\# len hex...` → RDATA; known types are decoded into their structured form.
    fn from_generic(rtype: RType, tokens: &[Token<'_>]) -> Result<RData, TextError> {
        let label = rtype_label(rtype);
        let mut f = Fields::new(label, tokens, None);
        let len = f.u16("RDATA length after \\#")?;
        let data = if len == 0 {
            Vec::new()
        } else {
            f.rest_hex("hexadecimal RDATA")?
        };
        f.finish()?;
        if data.len() != usize::from(len) {
            return Err(f.bad(
                "hex of the declared \\# length",
                &format!("{} octets for length {len}", data.len()),
            ));
        }
        if !is_structured(rtype) {
            return Ok(RData::Unknown {
                rtype,
                data: data.into_boxed_slice(),
            });
        }
        RData::decode_standalone(rtype, &data).map_err(|e| TextError::BadField {
            rtype: label.to_owned(),
            expected: "valid RDATA",
            found: e.to_string(),
        })
    }

    /// Prints in generic form (RFC 3597 §5), as dig does for unknown types (hex split every
    /// 56 characters, upper case).
    pub fn to_generic_text(&self) -> String {
        let data = self.to_wire();
        let mut out = format!("\\# {}", data.len());
        if !data.is_empty() {
            out.push(' ');
            push_split(&mut out, &encode_hex(&data));
        }
        out
    }
}

/// True for the types with a structured variant (the rest are [`RData::Unknown`]).
pub fn is_structured(rtype: RType) -> bool {
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
            | RType::NAPTR
            | RType::DS
            | RType::CDS
            | RType::SSHFP
            | RType::RRSIG
            | RType::NSEC
            | RType::DNSKEY
            | RType::CDNSKEY
            | RType::NSEC3
            | RType::NSEC3PARAM
            | RType::TLSA
            | RType::SVCB
            | RType::HTTPS
            | RType::CAA
            | RType::OPT
            | RType::TSIG
    )
}

/// A static label for error messages.
fn rtype_label(rtype: RType) -> &'static str {
    rtype.mnemonic().unwrap_or("generic RDATA")
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => f.write_str(&ipv6_to_text(a)),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => write!(f, "{n}"),
            RData::Soa(soa) => write!(f, "{soa}"),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Txt(txt) => write!(f, "{txt}"),
            RData::Srv(srv) => write!(f, "{srv}"),
            RData::Naptr(naptr) => write!(f, "{naptr}"),
            RData::Ds(ds) | RData::Cds(ds) => write!(f, "{ds}"),
            RData::Sshfp(sshfp) => write!(f, "{sshfp}"),
            RData::Rrsig(rrsig) => write!(f, "{rrsig}"),
            RData::Nsec(nsec) => write!(f, "{nsec}"),
            RData::Dnskey(key) | RData::Cdnskey(key) => write!(f, "{key}"),
            RData::Nsec3(nsec3) => write!(f, "{nsec3}"),
            RData::Nsec3Param(param) => write!(f, "{param}"),
            RData::Tlsa(tlsa) => write!(f, "{tlsa}"),
            RData::Svcb(svcb) | RData::Https(svcb) => write!(f, "{svcb}"),
            RData::Caa(caa) => write!(f, "{caa}"),
            RData::Opt(opt) => write!(f, "{opt}"),
            RData::Tsig(tsig) => write!(f, "{tsig}"),
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
            (
                RType::SOA,
                "ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300",
            ),
            (RType::MX, "10 mail.example.com."),
            (RType::TXT, r#""v=spf1 -all" "second \"q\"""#),
            (RType::SRV, "0 5 5060 sip.example.com."),
            (
                RType::NAPTR,
                r#"100 10 "S" "SIP+D2U" "" _sip._udp.example.com."#,
            ),
            (
                RType::DS,
                "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
            ),
            (RType::CDS, "0 0 0 00"),
            (
                RType::SSHFP,
                "4 2 D9F4E5F5A7E2A6E5BE3FB0E3B1D7E30F7E3F2C4BB1A38D3C6C4D7F3E 2A9B8C7D",
            ),
            (
                RType::RRSIG,
                "A 13 3 300 20240101000000 20231201000000 12345 example.com. AAECAw==",
            ),
            (
                RType::NSEC,
                "b.example.com. A NS SOA RRSIG NSEC DNSKEY TYPE65280",
            ),
            (RType::DNSKEY, "256 3 13 AAECAwQFBgc="),
            (RType::CDNSKEY, "0 3 0 AA=="),
            (RType::NSEC3, "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S"),
            (RType::NSEC3PARAM, "1 0 10 AABBCCDD"),
            (RType::TLSA, "3 1 1 0C72AC70"),
            (RType::SVCB, "0 svc.example.net."),
            (RType::HTTPS, r#"1 . alpn="h3,h2" ipv6hint=2001:db8::1"#),
            (RType::CAA, r#"0 issue "ca.example.net; account=\"x\"""#),
            (RType::OPT, "10 8 AQIDBAUGBwg="),
            (RType::TSIG, "hmac-sha256. 1700000000 300 0 4660 NOERROR 0"),
            (RType(65534), "\\# 3 ABCDEF"),
            (RType(65535), "\\# 0"),
        ] {
            let data = parse(rtype, text).unwrap();
            assert_eq!(data.to_string(), text, "{rtype}");
            let wire = data.to_wire();
            assert_eq!(RData::decode_standalone(rtype, &wire).unwrap(), data);
        }
    }

    #[test]
    fn generic_form_of_known_type_is_structured() {
        assert_eq!(
            parse(RType::A, "\\# 4 C0000201").unwrap(),
            RData::A(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert!(parse(RType::A, "\\# 5 C0000201").is_err());
    }

    #[test]
    fn enum_stays_small() {
        assert!(size_of::<RData>() <= 32, "{}", size_of::<RData>());
    }

    #[test]
    fn standalone_rdata_refuses_every_pointer() {
        // MX whose exchange would point back at the preference.
        assert_eq!(
            RData::decode_standalone(RType::MX, b"\x00\x0A\xC0\x00"),
            Err(DecodeError::PointerNotAllowed { offset: 2 })
        );
        // The same name inside a message resolves.
        let msg = b"\x03com\x00\x00\x0A\xC0\x00";
        let mut r = Reader::at(msg, 5);
        let mx = RData::decode(RType::MX, &mut r, 4).unwrap();
        assert_eq!(mx.to_string(), "10 com.");
        // SOA's second name too.
        assert!(matches!(
            RData::decode_standalone(
                RType::SOA,
                b"\x00\xC0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
            ),
            Err(DecodeError::PointerNotAllowed { .. })
        ));
    }

    #[test]
    fn fields_never_read_past_rdlength() {
        // An A record claiming 3 octets, followed by more message: the field needs 4.
        let msg = [192, 0, 2, 1, 0, 0];
        let err = RData::decode(RType::A, &mut Reader::new(&msg), 3).unwrap_err();
        assert_eq!(
            err,
            DecodeError::RdataLengthMismatch {
                rtype: RType::A,
                rdlength: 3,
                used: 4
            }
        );
        // Leftover octets after the fields.
        let err = RData::decode(RType::A, &mut Reader::new(&msg), 5).unwrap_err();
        assert_eq!(
            err,
            DecodeError::RdataLengthMismatch {
                rtype: RType::A,
                rdlength: 5,
                used: 4
            }
        );
        // RDLENGTH beyond the message is a truncated message.
        assert!(matches!(
            RData::decode(RType::A, &mut Reader::new(&msg), 9),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn generic_text_splits_like_bind() {
        let data = RData::Unknown {
            rtype: RType(65280),
            data: (0u8..40).collect(),
        };
        assert_eq!(
            data.to_string(),
            "\\# 40 000102030405060708090A0B0C0D0E0F101112131415161718191A1B 1C1D1E1F2021222324252627"
        );
        assert_eq!(parse(RType(65280), &data.to_string()).unwrap(), data);
    }

    #[test]
    fn meta_types_other_than_opt_and_tsig_have_no_text() {
        assert_eq!(
            parse(RType::AXFR, "x"),
            Err(TextError::UnknownType("AXFR".into()))
        );
        assert_eq!(parse(RType::OPT, "").unwrap(), RData::Opt(Opt::default()));
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(RType::MX, "ten mail").unwrap_err();
        assert_eq!(err.to_string(), "MX: expected preference, found \"ten\"");
        assert!(matches!(
            parse(RType::A, "192.0.2.1 extra"),
            Err(TextError::ExtraField { .. })
        ));
        assert!(matches!(
            parse(RType::A, "192.0.2"),
            Err(TextError::BadField { .. })
        ));
    }
}

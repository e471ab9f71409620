//! EDNS (RFC 6891): the OPT pseudo-record's RDATA as a list of options, the options this server
//! acts on in structured form, and [`Edns`], the typed view of a message's OPT record.
//!
//! ```text
//! OPT RDATA:  | OPTION-CODE (16) | OPTION-LENGTH (16) | OPTION-DATA ... |   repeated
//! OPT record: owner `.`, CLASS = UDP payload size, TTL = | EXTENDED-RCODE (8) | VERSION (8) | DO | Z (15) |
//! ```
//!
//! Structured: COOKIE (RFC 7873 §4), CLIENT-SUBNET (RFC 7871 §6), PADDING (RFC 7830 §3) and
//! EXTENDED DNS ERROR (RFC 8914 §2). Every other option stays opaque. Options keep their order
//! and bytes, so any OPT RDATA that decodes re-encodes to exactly the same bytes. A structured
//! option that breaks its RFC's format is refused (FORMERR is the answer RFC 7873 §5.2.2 and
//! RFC 7871 §7.1.1 prescribe), with the same checks BIND applies.
//!
//! OPT has no presentation format (RFC 6891 §6.2). Its RDATA prints the way BIND's `totext`
//! prints it, `CODE LENGTH BASE64` per option, and parses back from that.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::message::Record;
use crate::name::Name;
use crate::rdata::{bad_rdata, RData};
use crate::text::{encode_base64, push_split, Fields};
use crate::types::{Class, RType};

/// A DNS cookie (RFC 7873 §4): 8 octets from the client, and 8 to 32 from the server once known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cookie {
    client: [u8; 8],
    server: Box<[u8]>,
}

impl Cookie {
    /// `server` must be empty (a client's first query) or 8 to 32 octets.
    pub fn new(client: [u8; 8], server: &[u8]) -> Result<Cookie, TextError> {
        if !server.is_empty() && !(8..=32).contains(&server.len()) {
            return Err(TextError::InvalidRdata {
                rtype: "OPT".into(),
                reason: "server cookie not 8 to 32 octets",
            });
        }
        Ok(Cookie {
            client,
            server: server.into(),
        })
    }

    pub fn client(&self) -> &[u8; 8] {
        &self.client
    }

    pub fn server(&self) -> &[u8] {
        &self.server
    }
}

/// EDNS Client Subnet (RFC 7871 §6): the client network a resolver asks on behalf of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientSubnet {
    family: u16,
    source_prefix: u8,
    scope_prefix: u8,
    /// Exactly `ceil(source_prefix / 8)` octets, bits past the prefix zero.
    address: Box<[u8]>,
}

impl ClientSubnet {
    /// Family 1 (IPv4) and 2 (IPv6) from IANA "Address Family Numbers"; 0 with both prefixes 0
    /// and no address is tolerated as BIND does.
    pub fn new(
        family: u16,
        source_prefix: u8,
        scope_prefix: u8,
        address: &[u8],
    ) -> Result<ClientSubnet, TextError> {
        check_client_subnet(family, source_prefix, scope_prefix, address).map_err(|reason| {
            TextError::InvalidRdata {
                rtype: "OPT".into(),
                reason,
            }
        })?;
        Ok(ClientSubnet {
            family,
            source_prefix,
            scope_prefix,
            address: address.into(),
        })
    }

    /// The subnet of `address` with `source_prefix` bits (longer prefixes are cut to the address
    /// length), as a resolver sends it.
    pub fn from_address(address: IpAddr, source_prefix: u8) -> ClientSubnet {
        let (family, octets, max): (u16, Vec<u8>, u8) = match address {
            IpAddr::V4(a) => (1, a.octets().to_vec(), 32),
            IpAddr::V6(a) => (2, a.octets().to_vec(), 128),
        };
        let prefix = source_prefix.min(max);
        let mut truncated: Vec<u8> = octets[..usize::from(prefix).div_ceil(8)].to_vec();
        if prefix % 8 != 0 {
            if let Some(last) = truncated.last_mut() {
                *last &= 0xFF << (8 - prefix % 8);
            }
        }
        ClientSubnet {
            family,
            source_prefix: prefix,
            scope_prefix: 0,
            address: truncated.into_boxed_slice(),
        }
    }

    pub fn family(&self) -> u16 {
        self.family
    }

    pub fn source_prefix(&self) -> u8 {
        self.source_prefix
    }

    /// Zero in queries; in responses, the prefix the answer is valid for.
    pub fn scope_prefix(&self) -> u8 {
        self.scope_prefix
    }

    /// The address octets as sent (only the prefix's octets).
    pub fn address_octets(&self) -> &[u8] {
        &self.address
    }

    /// The network address padded with zeros, for families 1 and 2.
    pub fn address(&self) -> Option<IpAddr> {
        match self.family {
            1 => {
                let mut octets = [0u8; 4];
                octets[..self.address.len()].copy_from_slice(&self.address);
                Some(IpAddr::V4(Ipv4Addr::from(octets)))
            }
            2 => {
                let mut octets = [0u8; 16];
                octets[..self.address.len()].copy_from_slice(&self.address);
                Some(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            _ => None,
        }
    }
}

/// The checks of RFC 7871 §6 that BIND applies on receipt.
fn check_client_subnet(
    family: u16,
    source: u8,
    scope: u8,
    address: &[u8],
) -> Result<(), &'static str> {
    let max = match family {
        0 if source == 0 && scope == 0 => 0,
        0 => return Err("CLIENT-SUBNET family 0 with a prefix"),
        1 => 32,
        2 => 128,
        _ => return Err("CLIENT-SUBNET family is not IPv4 or IPv6"),
    };
    if source > max || scope > max {
        return Err("CLIENT-SUBNET prefix longer than the address");
    }
    if address.len() != usize::from(source).div_ceil(8) {
        return Err("CLIENT-SUBNET address length does not match the source prefix");
    }
    if source % 8 != 0 {
        let mask = 0xFFu8 >> (source % 8);
        if address.last().is_some_and(|last| last & mask != 0) {
            return Err("CLIENT-SUBNET address has bits set beyond the source prefix");
        }
    }
    Ok(())
}

/// An Extended DNS Error (RFC 8914 §2): an INFO-CODE and optional UTF-8 text for humans.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtendedError {
    pub info_code: u16,
    extra_text: Box<str>,
}

impl ExtendedError {
    /// The text may be empty; it must not start with a byte order mark (RFC 5198, as BIND checks).
    pub fn new(info_code: u16, extra_text: &str) -> Result<ExtendedError, TextError> {
        if extra_text.starts_with('\u{FEFF}') {
            return Err(TextError::InvalidRdata {
                rtype: "OPT".into(),
                reason: "EXTRA-TEXT starts with a byte order mark",
            });
        }
        Ok(ExtendedError {
            info_code,
            extra_text: extra_text.into(),
        })
    }

    pub fn extra_text(&self) -> &str {
        &self.extra_text
    }
}

/// One EDNS option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EdnsOption {
    ClientSubnet(ClientSubnet),
    Cookie(Cookie),
    /// Padding octets (RFC 7830 §4: should be zero, must not be refused otherwise; kept as sent).
    Padding(Box<[u8]>),
    ExtendedError(ExtendedError),
    /// Any other option code, kept byte for byte. Codes 8, 10, 12 and 15 always decode to
    /// their own variant, so an `Unknown` with one of them does not survive a round trip.
    Unknown {
        code: u16,
        data: Box<[u8]>,
    },
}

impl EdnsOption {
    pub const CLIENT_SUBNET: u16 = 8;
    pub const COOKIE: u16 = 10;
    pub const PADDING: u16 = 12;
    pub const EXTENDED_ERROR: u16 = 15;

    pub fn code(&self) -> u16 {
        match self {
            EdnsOption::ClientSubnet(_) => Self::CLIENT_SUBNET,
            EdnsOption::Cookie(_) => Self::COOKIE,
            EdnsOption::Padding(_) => Self::PADDING,
            EdnsOption::ExtendedError(_) => Self::EXTENDED_ERROR,
            EdnsOption::Unknown { code, .. } => *code,
        }
    }

    /// Decodes OPTION-DATA of option `code`.
    pub fn decode(code: u16, data: &[u8]) -> Result<EdnsOption, &'static str> {
        Ok(match code {
            Self::CLIENT_SUBNET => {
                let [f0, f1, source, scope, address @ ..] = data else {
                    return Err("CLIENT-SUBNET option shorter than 4 octets");
                };
                let family = u16::from_be_bytes([*f0, *f1]);
                check_client_subnet(family, *source, *scope, address)?;
                EdnsOption::ClientSubnet(ClientSubnet {
                    family,
                    source_prefix: *source,
                    scope_prefix: *scope,
                    address: address.into(),
                })
            }
            Self::COOKIE => {
                // RFC 7873 §5.2.2: 8 octets, or 16 to 40.
                if data.len() != 8 && !(16..=40).contains(&data.len()) {
                    return Err("COOKIE length is not 8 or 16 to 40");
                }
                let mut client = [0u8; 8];
                client.copy_from_slice(&data[..8]);
                EdnsOption::Cookie(Cookie {
                    client,
                    server: data[8..].into(),
                })
            }
            Self::PADDING => EdnsOption::Padding(data.into()),
            Self::EXTENDED_ERROR => {
                let [c0, c1, text @ ..] = data else {
                    return Err("EXTENDED-ERROR option shorter than 2 octets");
                };
                let text = std::str::from_utf8(text).map_err(|_| "EXTRA-TEXT is not UTF-8")?;
                if text.starts_with('\u{FEFF}') {
                    return Err("EXTRA-TEXT starts with a byte order mark");
                }
                EdnsOption::ExtendedError(ExtendedError {
                    info_code: u16::from_be_bytes([*c0, *c1]),
                    extra_text: text.into(),
                })
            }
            _ => EdnsOption::Unknown {
                code,
                data: data.into(),
            },
        })
    }

    /// Writes OPTION-DATA (without code and length).
    fn encode_data(&self, w: &mut Writer) {
        match self {
            EdnsOption::ClientSubnet(ecs) => {
                w.u16(ecs.family);
                w.u8(ecs.source_prefix);
                w.u8(ecs.scope_prefix);
                w.bytes(&ecs.address);
            }
            EdnsOption::Cookie(cookie) => {
                w.bytes(&cookie.client);
                w.bytes(&cookie.server);
            }
            EdnsOption::Padding(data) | EdnsOption::Unknown { data, .. } => w.bytes(data),
            EdnsOption::ExtendedError(ede) => {
                w.u16(ede.info_code);
                w.bytes(ede.extra_text.as_bytes());
            }
        }
    }

    /// OPTION-DATA in wire form.
    pub fn data(&self) -> Vec<u8> {
        let mut w = Writer::plain(Vec::new());
        self.encode_data(&mut w);
        w.into_bytes()
    }
}

/// OPT RDATA: the options in the order they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Opt {
    pub options: Vec<EdnsOption>,
}

impl Opt {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Opt, DecodeError> {
        let mut options = Vec::new();
        while r.remaining() > 0 {
            if r.remaining() < 4 {
                return Err(bad_rdata(RType::OPT, "EDNS option header truncated"));
            }
            let code = r.u16()?;
            let len = usize::from(r.u16()?);
            if r.remaining() < len {
                return Err(bad_rdata(RType::OPT, "EDNS option overruns OPT RDATA"));
            }
            let data = r.bytes(len)?;
            options.push(
                EdnsOption::decode(code, data).map_err(|reason| bad_rdata(RType::OPT, reason))?,
            );
        }
        Ok(Opt { options })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        for option in &self.options {
            w.u16(option.code());
            let len_at = w.len();
            w.u16(0);
            option.encode_data(w);
            // An option longer than 65535 octets cannot fit a message; Message::encode refuses it.
            let len = w.len() - len_at - 2;
            w.patch_u16(len_at, len as u16);
        }
    }

    /// BIND's text: `CODE LENGTH BASE64` per option (no base64 when the length is 0).
    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Opt, TextError> {
        let mut options = Vec::new();
        while !f.is_done() {
            let code = f.u16("option code")?;
            let len = f.u16("option length")?;
            let data = f.base64_exact("base64 option data", usize::from(len))?;
            options.push(EdnsOption::decode(code, &data).map_err(|reason| f.invalid(reason))?);
        }
        Ok(Opt { options })
    }
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (i, option) in self.options.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let data = option.data();
            out.push_str(&format!("{} {}", option.code(), data.len()));
            if !data.is_empty() {
                out.push(' ');
                push_split(&mut out, &encode_base64(&data));
            }
        }
        f.write_str(&out)
    }
}

/// The EDNS values of a message, read from its OPT record (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns<'a> {
    /// The sender's UDP payload size (the OPT record's CLASS); values below 512 mean 512.
    pub udp_payload_size: u16,
    /// The upper eight bits of the twelve-bit RCODE.
    pub extended_rcode: u8,
    pub version: u8,
    /// DNSSEC OK (RFC 3225).
    pub dnssec_ok: bool,
    /// The other fifteen flag bits, zero unless defined (RFC 6891 §6.1.4); kept for round trips.
    pub z: u16,
    pub options: &'a [EdnsOption],
}

impl<'a> Edns<'a> {
    /// The view of an OPT record; `None` for any other record.
    pub fn from_record(record: &'a Record) -> Option<Edns<'a>> {
        let RData::Opt(opt) = &record.rdata else {
            return None;
        };
        let [extended_rcode, version, flags_high, flags_low] = record.ttl.to_be_bytes();
        let flags = u16::from_be_bytes([flags_high, flags_low]);
        Some(Edns {
            udp_payload_size: record.class.0,
            extended_rcode,
            version,
            dnssec_ok: flags & 0x8000 != 0,
            z: flags & 0x7FFF,
            options: &opt.options,
        })
    }

    /// The OPT record carrying these values (owner `.`).
    pub fn to_record(&self) -> Record {
        let flags = (u16::from(self.dnssec_ok) << 15) | (self.z & 0x7FFF);
        let [flags_high, flags_low] = flags.to_be_bytes();
        Record {
            name: Name::root(),
            class: Class(self.udp_payload_size),
            ttl: u32::from_be_bytes([self.extended_rcode, self.version, flags_high, flags_low]),
            rdata: RData::Opt(Opt {
                options: self.options.to_vec(),
            }),
        }
    }

    pub fn option(&self, code: u16) -> Option<&'a EdnsOption> {
        self.options.iter().find(|o| o.code() == code)
    }

    /// The first COOKIE option.
    pub fn cookie(&self) -> Option<&'a Cookie> {
        self.options.iter().find_map(|o| match o {
            EdnsOption::Cookie(cookie) => Some(cookie),
            _ => None,
        })
    }

    pub fn client_subnet(&self) -> Option<&'a ClientSubnet> {
        self.options.iter().find_map(|o| match o {
            EdnsOption::ClientSubnet(ecs) => Some(ecs),
            _ => None,
        })
    }

    /// Every EXTENDED DNS ERROR, in order (RFC 8914 §3 allows several).
    pub fn extended_errors(&self) -> impl Iterator<Item = &'a ExtendedError> + 'a {
        self.options.iter().filter_map(|o| match o {
            EdnsOption::ExtendedError(ede) => Some(ede),
            _ => None,
        })
    }

    /// The total length of PADDING options' data, if any.
    pub fn padding_len(&self) -> Option<usize> {
        let mut total = None;
        for option in self.options {
            if let EdnsOption::Padding(data) = option {
                *total.get_or_insert(0) += data.len();
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn decode(bytes: &[u8]) -> Result<Opt, DecodeError> {
        Opt::decode(&mut Reader::new(bytes))
    }

    fn encode(opt: &Opt) -> Vec<u8> {
        let mut w = Writer::plain(Vec::new());
        opt.encode(&mut w);
        w.into_bytes()
    }

    #[test]
    fn structured_options_round_trip_byte_for_byte() {
        let mut bytes = Vec::new();
        // COOKIE with client and server parts.
        bytes.extend_from_slice(&[0, 10, 0, 16]);
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        // CLIENT-SUBNET 192.0.2.0/24 scope 0.
        bytes.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]);
        // EDE 18 "Prohibited" with text.
        bytes.extend_from_slice(&[0, 15, 0, 4, 0, 18, b'n', b'o']);
        // PADDING with a non-zero octet, kept as sent.
        bytes.extend_from_slice(&[0, 12, 0, 3, 0, 0, 1]);
        // An unknown option.
        bytes.extend_from_slice(&[0xFD, 0xE9, 0, 1, 0x42]);
        let opt = decode(&bytes).unwrap();
        assert_eq!(encode(&opt), bytes);
        let record = Edns {
            udp_payload_size: 1232,
            extended_rcode: 0,
            version: 0,
            dnssec_ok: true,
            z: 0,
            options: &opt.options,
        }
        .to_record();
        let edns = Edns::from_record(&record).unwrap();
        assert_eq!(
            edns.cookie().unwrap().server(),
            &[9, 10, 11, 12, 13, 14, 15, 16]
        );
        assert_eq!(
            edns.client_subnet().unwrap().address(),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)))
        );
        assert_eq!(
            edns.extended_errors()
                .map(|e| (e.info_code, e.extra_text()))
                .collect::<Vec<_>>(),
            [(18, "no")]
        );
        assert_eq!(edns.padding_len(), Some(3));
        assert!(edns.dnssec_ok);
        assert_eq!(record.ttl, 0x0000_8000);
    }

    #[test]
    fn malformed_structured_options_are_refused() {
        for (bytes, reason) in [
            (
                &[0u8, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9][..],
                "COOKIE length is not 8 or 16 to 40",
            ),
            (
                &[0, 8, 0, 3, 0, 1, 0][..],
                "CLIENT-SUBNET option shorter than 4 octets",
            ),
            (
                &[0, 8, 0, 5, 0, 3, 8, 0, 1][..],
                "CLIENT-SUBNET family is not IPv4 or IPv6",
            ),
            (
                &[0, 8, 0, 5, 0, 1, 33, 0, 1][..],
                "CLIENT-SUBNET prefix longer than the address",
            ),
            (
                &[0, 8, 0, 6, 0, 1, 8, 0, 1, 2][..],
                "CLIENT-SUBNET address length does not match the source prefix",
            ),
            (
                &[0, 8, 0, 5, 0, 1, 7, 0, 1][..],
                "CLIENT-SUBNET address has bits set beyond the source prefix",
            ),
            (
                &[0, 15, 0, 1, 0][..],
                "EXTENDED-ERROR option shorter than 2 octets",
            ),
            (&[0, 15, 0, 3, 0, 1, 0xFF][..], "EXTRA-TEXT is not UTF-8"),
            (
                &[0, 15, 0, 5, 0, 1, 0xEF, 0xBB, 0xBF][..],
                "EXTRA-TEXT starts with a byte order mark",
            ),
            (&[0, 1, 0][..], "EDNS option header truncated"),
            (&[0, 1, 0, 2, 0][..], "EDNS option overruns OPT RDATA"),
        ] {
            assert_eq!(
                decode(bytes),
                Err(bad_rdata(RType::OPT, reason)),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn client_subnet_from_address_masks_the_prefix() {
        let ecs = ClientSubnet::from_address("2001:db8:ffff::1".parse().unwrap(), 36);
        assert_eq!(ecs.address_octets(), [0x20, 0x01, 0x0d, 0xb8, 0xf0]);
        assert!(
            ClientSubnet::new(ecs.family(), ecs.source_prefix(), 0, ecs.address_octets()).is_ok()
        );
        assert_eq!(
            ClientSubnet::from_address("192.0.2.77".parse().unwrap(), 40).source_prefix(),
            32
        );
    }

    #[test]
    fn text_as_bind_prints_it() {
        let opt = decode(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 0]).unwrap();
        assert_eq!(opt.to_string(), "10 8 AQIDBAUGBwg= 12 0");
        let text = opt.to_string();
        let tokens = tokenize(&text).unwrap();
        assert_eq!(
            Opt::from_fields(&mut Fields::new("OPT", &tokens, None)).unwrap(),
            opt
        );
    }
}

//! DNSKEY and CDNSKEY RDATA (RFC 4034 §2.1, RFC 7344 §3.2): a zone's public key.
//!
//! ```text
//! | flags (16) | protocol (8) = 3 | algorithm (8) | public key (the rest) ... |
//! ```
//!
//! Presentation: `flags protocol algorithm BASE64`, the base64 split every 56 characters as BIND
//! prints it (`dig`, `named-compilezone -s full`); any split is accepted when parsing.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::rdata::bad_rdata;
use crate::text::{encode_base64, push_split, Fields};
use crate::types::RType;

/// A public key; the same structure serves DNSKEY and CDNSKEY.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dnskey {
    /// Bit 7 (0x0100) Zone Key, bit 8 (0x0080) Revoked (RFC 5011), bit 15 (0x0001) Secure Entry Point.
    pub flags: u16,
    /// Always 3 for DNSSEC (RFC 4034 §2.1.2); other values are kept, not refused.
    pub protocol: u8,
    /// DNSSEC algorithm number (IANA registry, RFC 8624).
    pub algorithm: u8,
    /// At least one octet (BIND refuses an empty key).
    pub public_key: Box<[u8]>,
}

/// The algorithm number that marks a private algorithm whose key starts with a domain name
/// (RFC 4034 Appendix A.1.1).
const PRIVATE_DNS: u8 = 253;

impl Dnskey {
    pub const ZONE_KEY: u16 = 0x0100;
    pub const REVOKED: u16 = 0x0080;
    pub const SECURE_ENTRY_POINT: u16 = 0x0001;

    pub fn is_zone_key(&self) -> bool {
        self.flags & Self::ZONE_KEY != 0
    }

    pub fn is_secure_entry_point(&self) -> bool {
        self.flags & Self::SECURE_ENTRY_POINT != 0
    }

    pub fn is_revoked(&self) -> bool {
        self.flags & Self::REVOKED != 0
    }

    /// The key tag of RFC 4034 Appendix B, which RRSIG and DS records use to name this key.
    pub fn key_tag(&self) -> u16 {
        let mut rdata = Writer::plain(Vec::with_capacity(4 + self.public_key.len()));
        self.encode(&mut rdata);
        let rdata = rdata.into_bytes();
        if self.algorithm == 1 {
            // RSA/MD5 (Appendix B.1): bits 16..31 counted from the end of the modulus.
            let n = rdata.len();
            return if n >= 4 {
                u16::from_be_bytes([rdata[n - 3], rdata[n - 2]])
            } else {
                0
            };
        }
        let mut sum: u32 = 0;
        for (i, &b) in rdata.iter().enumerate() {
            sum += if i % 2 == 0 {
                u32::from(b) << 8
            } else {
                u32::from(b)
            };
        }
        sum += (sum >> 16) & 0xFFFF;
        (sum & 0xFFFF) as u16
    }

    pub(crate) fn decode(r: &mut Reader<'_>, rtype: RType) -> Result<Dnskey, DecodeError> {
        let flags = r.u16()?;
        let protocol = r.u8()?;
        let algorithm = r.u8()?;
        let public_key: Box<[u8]> = r.rest().into();
        if public_key.is_empty() {
            return Err(bad_rdata(rtype, "public key is empty"));
        }
        if algorithm == PRIVATE_DNS && Reader::standalone(&public_key).name(false).is_err() {
            return Err(bad_rdata(
                rtype,
                "PRIVATEDNS key does not start with a domain name",
            ));
        }
        Ok(Dnskey {
            flags,
            protocol,
            algorithm,
            public_key,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.flags);
        w.u8(self.protocol);
        w.u8(self.algorithm);
        w.bytes(&self.public_key);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Dnskey, TextError> {
        let flags = f.u16("flags")?;
        let protocol = f.u8("protocol")?;
        let algorithm = parse_algorithm(f)?;
        if f.is_done() {
            return Err(TextError::MissingField {
                rtype: f.rtype_label().into(),
                expected: "base64 public key",
            });
        }
        let public_key = f.rest_base64("base64 public key")?;
        if algorithm == PRIVATE_DNS && Reader::standalone(&public_key).name(false).is_err() {
            return Err(f.invalid("PRIVATEDNS key does not start with a domain name"));
        }
        Ok(Dnskey {
            flags,
            protocol,
            algorithm,
            public_key: public_key.into_boxed_slice(),
        })
    }
}

impl fmt::Display for Dnskey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{} {} {} ", self.flags, self.protocol, self.algorithm);
        push_split(&mut out, &encode_base64(&self.public_key));
        f.write_str(&out)
    }
}

/// DNSSEC algorithm mnemonics BIND accepts (its `SECALGNAMES`), case-insensitive.
const ALGORITHMS: [(&str, u8); 18] = [
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("NSEC3DSA", 6),
    ("NSEC3RSASHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECCGOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ECDSA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// A DNSSEC algorithm field (DNSKEY, DS, RRSIG): a number or a mnemonic; printed as a number.
pub(crate) fn parse_algorithm(f: &mut Fields<'_, '_>) -> Result<u8, TextError> {
    let word = f.word("algorithm")?;
    if let Ok(n) = word.parse::<u8>() {
        return Ok(n);
    }
    ALGORITHMS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, n)| n)
        .ok_or_else(|| f.bad("algorithm number or mnemonic", word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn parse(text: &str) -> Result<Dnskey, TextError> {
        let tokens = tokenize(text).unwrap();
        Dnskey::from_fields(&mut Fields::new("DNSKEY", &tokens, None))
    }

    #[test]
    fn key_tag_matches_bind() {
        // The key and tag BIND printed for it ("key id = 19036", the root KSK-2010).
        let key = parse(
            "257 3 RSASHA256 AwEAAagAIKlVZrpC6Ia7gEzahOR+9W29euxhJhVVLOyQbSEW0O8gcCjF FVQUTf6v58fLjwBd0YI0EzrAcQqBGCzh/RStIoO8g0NfnfL2MTJRkxoX bfDaUeVPQuYEhg37NZWAJQ9VnMVDxP/VHL496M/QZxkjf5/Efucp2gaD X6RS6CXpoY68LsvPVjR0ZSwzz1apAzvN9dlzEheX7ICJBBtuA6G3LQpz W5hOA2hzCTMjJPJ8LbqF6dsV6DoBQzgul0sGIcGOYl7OyQdXfZ57relS Qageu+ipAdTTJ25AsRTAoub8ONGcLmqrAmRLKBP1dfwhYB4N7knNnulq QxA+Uk1ihz0=",
        )
        .unwrap();
        assert_eq!(key.algorithm, 8);
        assert_eq!(key.key_tag(), 19036);
        assert!(key.is_zone_key() && key.is_secure_entry_point() && !key.is_revoked());
    }

    #[test]
    fn refuses_empty_keys() {
        assert_eq!(
            Dnskey::decode(&mut Reader::new(&[1, 0, 3, 8]), RType::DNSKEY),
            Err(bad_rdata(RType::DNSKEY, "public key is empty"))
        );
        assert!(matches!(
            parse("256 3 8"),
            Err(TextError::MissingField { .. })
        ));
        assert!(matches!(
            parse("256 3 NOSUCHALG AwEAAQ=="),
            Err(TextError::BadField { .. })
        ));
    }

    #[test]
    fn private_dns_keys_start_with_a_name() {
        assert!(Dnskey::decode(
            &mut Reader::new(b"\x01\x00\x03\xFD\x07example\x00\x01"),
            RType::DNSKEY
        )
        .is_ok());
        assert_eq!(
            Dnskey::decode(&mut Reader::new(b"\x01\x00\x03\xFD\x07exa"), RType::DNSKEY),
            Err(bad_rdata(
                RType::DNSKEY,
                "PRIVATEDNS key does not start with a domain name"
            ))
        );
    }
}

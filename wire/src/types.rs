//! Numeric code points with mnemonics: RR types, classes, opcodes and response codes.
//!
//! Values come from the IANA "Domain Name System (DNS) Parameters" registry. Unknown values stay
//! representable and print in the RFC 3597 §5 generic form (`TYPE65534`, `CLASS32`).

use std::fmt;

use crate::error::TextError;

macro_rules! code_point {
    ($(#[$meta:meta])* $ty:ident, $generic:literal, { $($(#[$cmeta:meta])* $name:ident = $value:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub u16);

        impl $ty {
            $($(#[$cmeta])* pub const $name: $ty = $ty($value);)*

            /// The mnemonic, if this value has one.
            pub fn mnemonic(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// Parses a mnemonic (any case) or the RFC 3597 generic form.
            pub fn from_text(text: &str) -> Option<$ty> {
                $(if text.eq_ignore_ascii_case($text) { return Some($ty($value)); })*
                let digits = text.get(..$generic.len()).filter(|p| p.eq_ignore_ascii_case($generic)).map(|_| &text[$generic.len()..])?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse::<u16>().ok().map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.mnemonic() {
                    Some(text) => f.write_str(text),
                    None => write!(f, concat!($generic, "{}"), self.0),
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

code_point!(
    /// A resource record type (RFC 1035 §3.2.2 and later registrations). The mnemonics are the
    /// ones BIND 9.18 knows, so type bitmaps (NSEC, NSEC3) print the same names `dig` prints;
    /// most of these types have no structured RDATA here and stay RFC 3597 opaque data.
    RType, "TYPE", {
    A = 1 => "A",
    NS = 2 => "NS",
    MD = 3 => "MD",
    MF = 4 => "MF",
    CNAME = 5 => "CNAME",
    SOA = 6 => "SOA",
    MB = 7 => "MB",
    MG = 8 => "MG",
    MR = 9 => "MR",
    NULL = 10 => "NULL",
    WKS = 11 => "WKS",
    PTR = 12 => "PTR",
    HINFO = 13 => "HINFO",
    MINFO = 14 => "MINFO",
    MX = 15 => "MX",
    TXT = 16 => "TXT",
    RP = 17 => "RP",
    AFSDB = 18 => "AFSDB",
    X25 = 19 => "X25",
    ISDN = 20 => "ISDN",
    RT = 21 => "RT",
    NSAP = 22 => "NSAP",
    NSAP_PTR = 23 => "NSAP-PTR",
    SIG = 24 => "SIG",
    KEY = 25 => "KEY",
    PX = 26 => "PX",
    GPOS = 27 => "GPOS",
    AAAA = 28 => "AAAA",
    LOC = 29 => "LOC",
    NXT = 30 => "NXT",
    EID = 31 => "EID",
    NIMLOC = 32 => "NIMLOC",
    SRV = 33 => "SRV",
    ATMA = 34 => "ATMA",
    NAPTR = 35 => "NAPTR",
    KX = 36 => "KX",
    CERT = 37 => "CERT",
    A6 = 38 => "A6",
    DNAME = 39 => "DNAME",
    SINK = 40 => "SINK",
    OPT = 41 => "OPT",
    APL = 42 => "APL",
    DS = 43 => "DS",
    SSHFP = 44 => "SSHFP",
    IPSECKEY = 45 => "IPSECKEY",
    RRSIG = 46 => "RRSIG",
    NSEC = 47 => "NSEC",
    DNSKEY = 48 => "DNSKEY",
    DHCID = 49 => "DHCID",
    NSEC3 = 50 => "NSEC3",
    NSEC3PARAM = 51 => "NSEC3PARAM",
    TLSA = 52 => "TLSA",
    SMIMEA = 53 => "SMIMEA",
    HIP = 55 => "HIP",
    NINFO = 56 => "NINFO",
    RKEY = 57 => "RKEY",
    TALINK = 58 => "TALINK",
    CDS = 59 => "CDS",
    CDNSKEY = 60 => "CDNSKEY",
    OPENPGPKEY = 61 => "OPENPGPKEY",
    CSYNC = 62 => "CSYNC",
    ZONEMD = 63 => "ZONEMD",
    SVCB = 64 => "SVCB",
    HTTPS = 65 => "HTTPS",
    DSYNC = 66 => "DSYNC",
    HHIT = 67 => "HHIT",
    BRID = 68 => "BRID",
    SPF = 99 => "SPF",
    UINFO = 100 => "UINFO",
    UID = 101 => "UID",
    GID = 102 => "GID",
    UNSPEC = 103 => "UNSPEC",
    NID = 104 => "NID",
    L32 = 105 => "L32",
    L64 = 106 => "L64",
    LP = 107 => "LP",
    EUI48 = 108 => "EUI48",
    EUI64 = 109 => "EUI64",
    TKEY = 249 => "TKEY",
    TSIG = 250 => "TSIG",
    IXFR = 251 => "IXFR",
    AXFR = 252 => "AXFR",
    MAILB = 253 => "MAILB",
    MAILA = 254 => "MAILA",
    ANY = 255 => "ANY",
    URI = 256 => "URI",
    CAA = 257 => "CAA",
    AVC = 258 => "AVC",
    DOA = 259 => "DOA",
    AMTRELAY = 260 => "AMTRELAY",
    RESINFO = 261 => "RESINFO",
    WALLET = 262 => "WALLET",
    TA = 32768 => "TA",
    DLV = 32769 => "DLV",
});

impl RType {
    /// Meta and query-only types (RFC 6895 §3.1) that never appear as zone data.
    pub fn is_meta(self) -> bool {
        matches!(self.0, 41 | 128..=255)
    }
}

code_point!(
    /// A class (RFC 1035 §3.2.4); in OPT records this field carries the UDP payload size instead.
    Class, "CLASS", {
    IN = 1 => "IN",
    CH = 3 => "CH",
    HS = 4 => "HS",
    NONE = 254 => "NONE",
    ANY = 255 => "ANY",
});

/// The 4-bit OPCODE of the header (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const QUERY: Opcode = Opcode(0);
    pub const IQUERY: Opcode = Opcode(1);
    pub const STATUS: Opcode = Opcode(2);
    pub const NOTIFY: Opcode = Opcode(4);
    pub const UPDATE: Opcode = Opcode(5);
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("QUERY"),
            1 => f.write_str("IQUERY"),
            2 => f.write_str("STATUS"),
            4 => f.write_str("NOTIFY"),
            5 => f.write_str("UPDATE"),
            other => write!(f, "RESERVED{other}"),
        }
    }
}

/// A response code: 4 bits in the header, extended to 12 bits by EDNS (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rcode(pub u16);

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
    pub const YXDOMAIN: Rcode = Rcode(6);
    pub const YXRRSET: Rcode = Rcode(7);
    pub const NXRRSET: Rcode = Rcode(8);
    pub const NOTAUTH: Rcode = Rcode(9);
    pub const NOTZONE: Rcode = Rcode(10);
    /// BADVERS in OPT, BADSIG in TSIG (RFC 6891, RFC 8945): the same number.
    pub const BADVERS: Rcode = Rcode(16);
    pub const BADSIG: Rcode = Rcode(16);
    pub const BADKEY: Rcode = Rcode(17);
    pub const BADTIME: Rcode = Rcode(18);
    pub const BADCOOKIE: Rcode = Rcode(23);

    /// The mnemonic dig prints.
    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            16 => "BADVERS",
            17 => "BADKEY",
            18 => "BADTIME",
            19 => "BADMODE",
            20 => "BADNAME",
            21 => "BADALG",
            22 => "BADTRUNC",
            23 => "BADCOOKIE",
            _ => return None,
        })
    }

    /// Parses a mnemonic or a number.
    pub fn from_text(text: &str) -> Result<Rcode, TextError> {
        if let Ok(n) = text.parse::<u16>() {
            return Ok(Rcode(n));
        }
        (0..=23u16)
            .map(Rcode)
            .find(|r| r.mnemonic().is_some_and(|m| m.eq_ignore_ascii_case(text)))
            .ok_or_else(|| TextError::BadField {
                rtype: "TSIG".into(),
                expected: "an RCODE",
                found: text.to_owned(),
            })
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "RESERVED{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_and_generic_forms() {
        assert_eq!(RType::from_text("aaaa"), Some(RType::AAAA));
        assert_eq!(RType::from_text("TYPE28"), Some(RType::AAAA));
        assert_eq!(RType::from_text("type65534"), Some(RType(65534)));
        assert_eq!(RType::from_text("TYPE"), None);
        assert_eq!(RType::from_text("TYPE65536"), None);
        assert_eq!(RType(65534).to_string(), "TYPE65534");
        assert_eq!(Class::from_text("CLASS3"), Some(Class::CH));
        assert_eq!(Class(32).to_string(), "CLASS32");
    }
}

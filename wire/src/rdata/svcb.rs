//! SVCB and HTTPS RDATA (RFC 9460 §2.2): service bindings with their parameters.
//!
//! ```text
//! | SvcPriority (16) | TargetName (uncompressed) ... |
//! | SvcParamKey (16) | SvcParamValue length (16) | SvcParamValue ... |   repeated, keys increasing
//! ```
//!
//! Every rule BIND 9.18 applies on receipt is applied here too (RFC 9460 §2.2, §7, §8): keys
//! strictly increasing, each known value well formed, every key listed in `mandatory` present,
//! `mandatory` not listing itself, `no-default-alpn` only with `alpn`. The target is never
//! compressed and keeps its case in canonical form (RFC 9460 §2.2).
//!
//! Presentation is what BIND 9.18 prints: `mandatory=alpn,port alpn="h2,h3" no-default-alpn
//! port=443 ipv4hint=192.0.2.1,192.0.2.2 ech=BASE64 ipv6hint=2001:db8::1 key65000="value"`.
//! Key 7 (`dohpath`, RFC 9461) is accepted by name but printed as `key7`, as BIND 9.18 does.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::rdata::{bad_rdata, CharString};
use crate::text::{encode_base64, push_ipv6, push_quoted, unescape, Fields};
use crate::types::RType;

/// A SvcParamKey (RFC 9460 §14.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SvcParamKey(pub u16);

impl SvcParamKey {
    pub const MANDATORY: SvcParamKey = SvcParamKey(0);
    pub const ALPN: SvcParamKey = SvcParamKey(1);
    pub const NO_DEFAULT_ALPN: SvcParamKey = SvcParamKey(2);
    pub const PORT: SvcParamKey = SvcParamKey(3);
    pub const IPV4HINT: SvcParamKey = SvcParamKey(4);
    pub const ECH: SvcParamKey = SvcParamKey(5);
    pub const IPV6HINT: SvcParamKey = SvcParamKey(6);
    /// `dohpath` (RFC 9461); BIND 9.18 prints it in the generic `key7` form.
    pub const DOHPATH: SvcParamKey = SvcParamKey(7);

    /// The name BIND 9.18 prints for the keys it structures (0 to 6).
    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "mandatory",
            1 => "alpn",
            2 => "no-default-alpn",
            3 => "port",
            4 => "ipv4hint",
            5 => "ech",
            6 => "ipv6hint",
            _ => return None,
        })
    }

    /// A key name, `dohpath`, or `keyNNNNN` (decimal, no leading zeros; RFC 9460 Appendix A).
    pub fn from_text(text: &str) -> Option<SvcParamKey> {
        if let Some(key) = (0..=6)
            .map(SvcParamKey)
            .find(|k| k.mnemonic() == Some(text))
        {
            return Some(key);
        }
        if text == "dohpath" {
            return Some(Self::DOHPATH);
        }
        let digits = text.strip_prefix("key")?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        digits.parse().ok().map(SvcParamKey)
    }
}

impl fmt::Display for SvcParamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(name) => f.write_str(name),
            None => write!(f, "key{}", self.0),
        }
    }
}

/// One SvcParam with its value decoded for the keys RFC 9460 defines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SvcParam {
    /// Keys a client must understand to use the record (RFC 9460 §8); never key 0 itself.
    Mandatory(Vec<SvcParamKey>),
    /// ALPN protocol identifiers, each non-empty (RFC 9460 §7.1).
    Alpn(Vec<CharString>),
    /// The default ALPN is not supported (RFC 9460 §7.1); needs `alpn`.
    NoDefaultAlpn,
    Port(u16),
    Ipv4Hint(Vec<Ipv4Addr>),
    /// An ECHConfigList (RFC 9460 §7.3), opaque here.
    Ech(Box<[u8]>),
    Ipv6Hint(Vec<Ipv6Addr>),
    /// Any other key (7 and up), value kept as bytes. Keys 0 to 6 always use their own variant.
    Unknown {
        key: SvcParamKey,
        value: Box<[u8]>,
    },
}

impl SvcParam {
    pub fn key(&self) -> SvcParamKey {
        match self {
            SvcParam::Mandatory(_) => SvcParamKey::MANDATORY,
            SvcParam::Alpn(_) => SvcParamKey::ALPN,
            SvcParam::NoDefaultAlpn => SvcParamKey::NO_DEFAULT_ALPN,
            SvcParam::Port(_) => SvcParamKey::PORT,
            SvcParam::Ipv4Hint(_) => SvcParamKey::IPV4HINT,
            SvcParam::Ech(_) => SvcParamKey::ECH,
            SvcParam::Ipv6Hint(_) => SvcParamKey::IPV6HINT,
            SvcParam::Unknown { key, .. } => *key,
        }
    }

    /// Decodes the value of `key` (RFC 9460 §7, §8), as BIND's `svcb_validate` checks it.
    fn decode_value(key: SvcParamKey, value: &[u8]) -> Result<SvcParam, &'static str> {
        Ok(match key {
            SvcParamKey::MANDATORY => {
                if value.is_empty() || value.len() % 2 != 0 {
                    return Err("mandatory value is not a non-empty list of keys");
                }
                let keys: Vec<SvcParamKey> = value
                    .chunks_exact(2)
                    .map(|pair| SvcParamKey(u16::from_be_bytes([pair[0], pair[1]])))
                    .collect();
                if keys.windows(2).any(|pair| pair[0] >= pair[1]) {
                    return Err("mandatory keys not in strictly increasing order");
                }
                SvcParam::Mandatory(keys)
            }
            SvcParamKey::ALPN => {
                if value.is_empty() {
                    return Err("alpn value is empty");
                }
                let mut ids = Vec::new();
                let mut r = Reader::standalone(value);
                while r.remaining() > 0 {
                    let id = CharString::decode(&mut r)
                        .map_err(|_| "alpn identifier overruns its value")?;
                    if id.is_empty() {
                        return Err("empty alpn identifier");
                    }
                    ids.push(id);
                }
                SvcParam::Alpn(ids)
            }
            SvcParamKey::NO_DEFAULT_ALPN => {
                if !value.is_empty() {
                    return Err("no-default-alpn has a value");
                }
                SvcParam::NoDefaultAlpn
            }
            SvcParamKey::PORT => match value {
                [high, low] => SvcParam::Port(u16::from_be_bytes([*high, *low])),
                _ => return Err("port value is not 2 octets"),
            },
            SvcParamKey::IPV4HINT => {
                if value.is_empty() || value.len() % 4 != 0 {
                    return Err("ipv4hint length is not a non-zero multiple of 4");
                }
                SvcParam::Ipv4Hint(
                    value
                        .chunks_exact(4)
                        .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
                        .collect(),
                )
            }
            SvcParamKey::ECH => SvcParam::Ech(value.into()),
            SvcParamKey::IPV6HINT => {
                if value.is_empty() || value.len() % 16 != 0 {
                    return Err("ipv6hint length is not a non-zero multiple of 16");
                }
                let addresses = value
                    .chunks_exact(16)
                    .map(|a| {
                        let mut octets = [0u8; 16];
                        octets.copy_from_slice(a);
                        Ipv6Addr::from(octets)
                    })
                    .collect();
                SvcParam::Ipv6Hint(addresses)
            }
            _ => SvcParam::Unknown {
                key,
                value: value.into(),
            },
        })
    }

    fn encode_value(&self, w: &mut Writer) {
        match self {
            SvcParam::Mandatory(keys) => keys.iter().for_each(|k| w.u16(k.0)),
            SvcParam::Alpn(ids) => ids.iter().for_each(|id| id.encode(w)),
            SvcParam::NoDefaultAlpn => {}
            SvcParam::Port(port) => w.u16(*port),
            SvcParam::Ipv4Hint(addresses) => addresses.iter().for_each(|a| w.bytes(&a.octets())),
            SvcParam::Ech(value) | SvcParam::Unknown { value, .. } => w.bytes(value),
            SvcParam::Ipv6Hint(addresses) => addresses.iter().for_each(|a| w.bytes(&a.octets())),
        }
    }

    /// The value in wire form, to check it (e.g. a hand-built `Unknown` for a known key) or measure it.
    fn value_wire(&self) -> Vec<u8> {
        let mut w = Writer::plain(Vec::new());
        self.encode_value(&mut w);
        w.into_bytes()
    }

    /// Parses `value` (the text after `key=`, escapes still in it) for `key`.
    fn from_text(key: SvcParamKey, value: Option<&str>) -> Result<SvcParam, &'static str> {
        let raw = value.unwrap_or("");
        let bytes = unescape(raw).map_err(|_| "bad escape in SvcParam value")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| "SvcParam value is not text");
        let list = |what: &'static str| -> Result<Vec<&str>, &'static str> {
            let text = text.map_err(|_| what)?;
            if text.is_empty() {
                return Err(what);
            }
            Ok(text.split(',').collect())
        };
        Ok(match key {
            SvcParamKey::MANDATORY => {
                let mut keys = Vec::new();
                for name in list("mandatory needs a list of keys")? {
                    keys.push(SvcParamKey::from_text(name).ok_or("unknown key in mandatory")?);
                }
                keys.sort_unstable();
                if keys.windows(2).any(|pair| pair[0] == pair[1]) {
                    return Err("duplicate key in mandatory");
                }
                SvcParam::Mandatory(keys)
            }
            SvcParamKey::ALPN => SvcParam::Alpn(split_alpn(&bytes)?),
            SvcParamKey::NO_DEFAULT_ALPN => {
                if !bytes.is_empty() {
                    return Err("no-default-alpn has a value");
                }
                SvcParam::NoDefaultAlpn
            }
            SvcParamKey::PORT => {
                let text = text.map_err(|_| "port is not a number")?;
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("port is not a number");
                }
                SvcParam::Port(text.parse().map_err(|_| "port above 65535")?)
            }
            SvcParamKey::IPV4HINT => SvcParam::Ipv4Hint(
                list("ipv4hint needs IPv4 addresses")?
                    .into_iter()
                    .map(|a| a.parse().map_err(|_| "ipv4hint has a bad IPv4 address"))
                    .collect::<Result<_, _>>()?,
            ),
            SvcParamKey::ECH => SvcParam::Ech(
                data_encoding::BASE64
                    .decode(&bytes)
                    .map_err(|_| "ech is not base64")?
                    .into_boxed_slice(),
            ),
            SvcParamKey::IPV6HINT => SvcParam::Ipv6Hint(
                list("ipv6hint needs IPv6 addresses")?
                    .into_iter()
                    .map(|a| a.parse().map_err(|_| "ipv6hint has a bad IPv6 address"))
                    .collect::<Result<_, _>>()?,
            ),
            _ => SvcParam::Unknown {
                key,
                value: bytes.into_boxed_slice(),
            },
        })
    }

    /// Appends ` key` or ` key=value` as BIND 9.18 prints it.
    fn push_text(&self, out: &mut String) {
        out.push(' ');
        out.push_str(&self.key().to_string());
        match self {
            SvcParam::NoDefaultAlpn => {}
            SvcParam::Ech(value) | SvcParam::Unknown { value, .. } if value.is_empty() => {}
            SvcParam::Mandatory(keys) => {
                out.push('=');
                let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
                out.push_str(&names.join(","));
            }
            SvcParam::Alpn(ids) => {
                out.push_str("=\"");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_alpn_id(out, id.as_bytes());
                }
                out.push('"');
            }
            SvcParam::Port(port) => out.push_str(&format!("={port}")),
            SvcParam::Ipv4Hint(addresses) => {
                let texts: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                out.push('=');
                out.push_str(&texts.join(","));
            }
            SvcParam::Ech(value) => {
                out.push('=');
                out.push_str(&encode_base64(value));
            }
            SvcParam::Ipv6Hint(addresses) => {
                out.push('=');
                for (i, a) in addresses.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_ipv6(out, a);
                }
            }
            SvcParam::Unknown { value, .. } => {
                out.push('=');
                push_quoted(out, value);
            }
        }
    }
}

/// One ALPN identifier inside BIND's quoted list: octets below `!` or above `~` as `\DDD`,
/// `"` as `\"`, and the two-level escapes of RFC 9460 Appendix A.1 for `,` (`\\,`) and `\` (`\\\\`).
fn push_alpn_id(out: &mut String, id: &[u8]) {
    for &b in id {
        match b {
            b',' => out.push_str("\\\\,"),
            b'\\' => out.push_str("\\\\\\\\"),
            b'"' => out.push_str("\\\""),
            0x21..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
}

/// Splits an unescaped `alpn` value at commas, a backslash escaping the next octet
/// (RFC 9460 Appendix A.1 "value-list"); identifiers must be non-empty and at most 255 octets.
fn split_alpn(bytes: &[u8]) -> Result<Vec<CharString>, &'static str> {
    let mut ids = Vec::new();
    let mut current = Vec::new();
    let mut escaped = false;
    for &b in bytes {
        if escaped {
            current.push(b);
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b',' {
            if current.is_empty() {
                return Err("empty alpn identifier");
            }
            ids.push(
                CharString::new(std::mem::take(&mut current))
                    .map_err(|_| "alpn identifier over 255 octets")?,
            );
        } else {
            current.push(b);
        }
    }
    if escaped {
        return Err("alpn value ends in a backslash");
    }
    if current.is_empty() {
        return Err("empty alpn identifier");
    }
    ids.push(CharString::new(current).map_err(|_| "alpn identifier over 255 octets")?);
    Ok(ids)
}

/// SVCB or HTTPS RDATA (the HTTPS type shares the format, RFC 9460 §9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Svcb {
    /// 0 is AliasMode (RFC 9460 §2.4.2), anything else ServiceMode with this priority.
    pub priority: u16,
    /// `.` means the owner name itself in ServiceMode (RFC 9460 §2.5).
    pub target: Name,
    /// Sorted by key, each key once; see [`Svcb::new`].
    params: Vec<SvcParam>,
}

impl Svcb {
    /// Builds the RDATA, sorting the parameters by key and checking the rules receivers apply:
    /// no key twice, values well formed, `mandatory` keys present and not key 0, `no-default-alpn`
    /// only with `alpn`, and keys 0 to 6 only in their own [`SvcParam`] variant.
    pub fn new(priority: u16, target: Name, mut params: Vec<SvcParam>) -> Result<Svcb, TextError> {
        let invalid = |reason| TextError::InvalidRdata {
            rtype: "SVCB".into(),
            reason,
        };
        params.sort_by_key(SvcParam::key);
        if params.windows(2).any(|pair| pair[0].key() == pair[1].key()) {
            return Err(invalid("SvcParamKey appears twice"));
        }
        for param in &params {
            // Re-decoding the value checks it and that the variant matches the key.
            let value = param.value_wire();
            if value.len() > usize::from(u16::MAX) {
                return Err(invalid("SvcParam value longer than 65535 octets"));
            }
            match SvcParam::decode_value(param.key(), &value) {
                Ok(ref decoded) if decoded == param => {}
                Ok(_) => return Err(invalid("keys 0 to 6 must use their own SvcParam variant")),
                Err(reason) => return Err(invalid(reason)),
            }
        }
        check_params(&params).map_err(invalid)?;
        Ok(Svcb {
            priority,
            target,
            params,
        })
    }

    /// The parameters in increasing key order.
    pub fn params(&self) -> &[SvcParam] {
        &self.params
    }

    pub fn param(&self, key: SvcParamKey) -> Option<&SvcParam> {
        self.params.iter().find(|p| p.key() == key)
    }

    /// AliasMode: the target is an alias for the owner; parameters are to be ignored (RFC 9460 §2.4.2).
    pub fn is_alias(&self) -> bool {
        self.priority == 0
    }

    pub(crate) fn decode(r: &mut Reader<'_>, rtype: RType) -> Result<Svcb, DecodeError> {
        let priority = r.u16()?;
        let target = r.name(false)?;
        let mut params: Vec<SvcParam> = Vec::new();
        while r.remaining() > 0 {
            let key = SvcParamKey(r.u16()?);
            if params.last().is_some_and(|last| last.key() >= key) {
                return Err(bad_rdata(
                    rtype,
                    "SvcParamKeys not in strictly increasing order",
                ));
            }
            let len = usize::from(r.u16()?);
            if r.remaining() < len {
                return Err(bad_rdata(rtype, "SvcParamValue overruns RDATA"));
            }
            let value = r.bytes(len)?;
            params.push(
                SvcParam::decode_value(key, value).map_err(|reason| bad_rdata(rtype, reason))?,
            );
        }
        check_params(&params).map_err(|reason| bad_rdata(rtype, reason))?;
        Ok(Svcb {
            priority,
            target,
            params,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.priority);
        w.name(self.target.as_wire(), NameKind::Verbatim);
        for param in &self.params {
            w.u16(param.key().0);
            let len_at = w.len();
            w.u16(0);
            param.encode_value(w);
            // `Svcb::new` and decoding bound each value to 65535 octets.
            let len = w.len() - len_at - 2;
            w.patch_u16(len_at, len as u16);
        }
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Svcb, TextError> {
        let priority = f.u16("SvcPriority")?;
        let target = f.name("TargetName")?;
        let mut params = Vec::new();
        while let Some(token) = f.peek() {
            f.token("SvcParam")?;
            if token.quoted {
                return Err(f.bad("key or key=value", token.text));
            }
            let (key_text, value) = match token.text.split_once('=') {
                None => (token.text, None),
                // `key="quoted value"` arrives as `key=` and a quoted token.
                Some((key, "")) => match f.peek() {
                    Some(next) if next.quoted => {
                        f.token("SvcParam value")?;
                        (key, Some(next.text))
                    }
                    _ => (key, Some("")),
                },
                Some((key, value)) => (key, Some(value)),
            };
            let key =
                SvcParamKey::from_text(key_text).ok_or_else(|| f.bad("SvcParamKey", key_text))?;
            params.push(SvcParam::from_text(key, value).map_err(|reason| f.invalid(reason))?);
        }
        Svcb::new(priority, target, params).map_err(|e| match e {
            TextError::InvalidRdata { reason, .. } => f.invalid(reason),
            other => other,
        })
    }
}

/// The rules across parameters (RFC 9460 §7.1.1, §8), on parameters sorted by key.
fn check_params(params: &[SvcParam]) -> Result<(), &'static str> {
    let present = |key: SvcParamKey| params.iter().any(|p| p.key() == key);
    if let Some(SvcParam::Mandatory(keys)) = params.first() {
        if keys.contains(&SvcParamKey::MANDATORY) {
            return Err("mandatory lists key 0 (mandatory itself)");
        }
        if !keys.iter().all(|&k| present(k)) {
            return Err("a mandatory key is missing from the SvcParams");
        }
    }
    if present(SvcParamKey::NO_DEFAULT_ALPN) && !present(SvcParamKey::ALPN) {
        return Err("no-default-alpn without alpn");
    }
    Ok(())
}

impl fmt::Display for Svcb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{} {}", self.priority, self.target);
        for param in &self.params {
            param.push_text(&mut out);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn parse(text: &str) -> Result<Svcb, TextError> {
        let tokens = tokenize(text).unwrap();
        let origin = Name::from_text("example.com.", None).unwrap();
        let mut f = Fields::new("SVCB", &tokens, Some(&origin));
        Svcb::from_fields(&mut f)
    }

    fn wire(svcb: &Svcb) -> Vec<u8> {
        let mut w = Writer::plain(Vec::new());
        svcb.encode(&mut w);
        w.into_bytes()
    }

    #[test]
    fn every_key_round_trips_through_text_and_wire() {
        let text = "1 svc.example.net. mandatory=alpn,port alpn=\"h2,h3\" no-default-alpn port=8443 \
                    ipv4hint=192.0.2.1,192.0.2.2 ech=AEj+DQBEAQAgACA= ipv6hint=2001:db8::1,::1.2.3.4 \
                    key65000=\"a\\\"b\" key65001";
        let svcb = parse(text).unwrap();
        assert_eq!(
            svcb.to_string(),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        let bytes = wire(&svcb);
        assert_eq!(
            Svcb::decode(&mut Reader::new(&bytes), RType::SVCB).unwrap(),
            svcb
        );
    }

    #[test]
    fn text_is_sorted_and_escaped_like_bind() {
        // Two ALPN ids, "h,x" and "a b": level-one escapes for the zone file, level two for commas.
        let svcb =
            parse(r#"16 . port=53 dohpath=/q{?dns} alpn="h\\,x,a\032b" mandatory=port"#).unwrap();
        let ids: Vec<&[u8]> = match svcb.param(SvcParamKey::ALPN) {
            Some(SvcParam::Alpn(ids)) => ids.iter().map(CharString::as_bytes).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(ids, [&b"h,x"[..], b"a b"]);
        assert_eq!(
            svcb.to_string(),
            r#"16 . mandatory=port alpn="h\\,x,a\032b" port=53 key7="/q{?dns}""#
        );
        assert_eq!(parse(&svcb.to_string()).unwrap(), svcb);
    }

    #[test]
    fn cross_parameter_rules() {
        for (text, reason) in [
            (
                "1 . mandatory=port",
                "a mandatory key is missing from the SvcParams",
            ),
            (
                "1 . mandatory=mandatory,port port=1",
                "mandatory lists key 0 (mandatory itself)",
            ),
            ("1 . no-default-alpn", "no-default-alpn without alpn"),
            ("1 . port=1 port=2", "SvcParamKey appears twice"),
            ("1 . alpn=h2,,h3", "empty alpn identifier"),
            ("1 . port=65536", "port above 65535"),
            ("1 . ipv4hint=", "ipv4hint needs IPv4 addresses"),
            (
                "1 . mandatory=alpn,alpn alpn=h2",
                "duplicate key in mandatory",
            ),
        ] {
            assert_eq!(
                parse(text),
                Err(TextError::InvalidRdata {
                    rtype: "SVCB".into(),
                    reason
                }),
                "{text}"
            );
        }
        assert!(matches!(
            parse("1 . key01=x"),
            Err(TextError::BadField { .. })
        ));
    }

    #[test]
    fn decode_applies_the_same_rules() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"\x00\x01\x00\x00\x03\x00\x02\x00\x35\x00\x01\x00\x03\x02h2",
                "SvcParamKeys not in strictly increasing order",
            ),
            (
                b"\x00\x01\x00\x00\x00\x00\x02\x00\x03",
                "a mandatory key is missing from the SvcParams",
            ),
            (
                b"\x00\x01\x00\x00\x03\x00\x01\x35",
                "port value is not 2 octets",
            ),
            (
                b"\x00\x01\x00\x00\x01\x00\x03\x03h2",
                "alpn identifier overruns its value",
            ),
            (
                b"\x00\x01\x00\x00\x02\x00\x00",
                "no-default-alpn without alpn",
            ),
        ];
        for (bytes, reason) in cases {
            assert_eq!(
                Svcb::decode(&mut Reader::new(bytes), RType::HTTPS),
                Err(bad_rdata(RType::HTTPS, reason))
            );
        }
        assert!(matches!(
            Svcb::decode(&mut Reader::new(b"\x00\x01\xC0\x00"), RType::SVCB),
            Err(DecodeError::PointerNotAllowed { .. })
        ));
    }

    #[test]
    fn constructor_refuses_generic_form_of_known_keys() {
        let root = Name::root();
        let generic_port = SvcParam::Unknown {
            key: SvcParamKey::PORT,
            value: Box::new([0, 53]),
        };
        assert!(matches!(
            Svcb::new(1, root.clone(), vec![generic_port]),
            Err(TextError::InvalidRdata { .. })
        ));
        let ok = Svcb::new(
            1,
            root,
            vec![
                SvcParam::Port(53),
                SvcParam::Alpn(vec![CharString::try_from("h3").unwrap()]),
            ],
        );
        assert_eq!(
            ok.unwrap().params()[0],
            SvcParam::Alpn(vec![CharString::try_from("h3").unwrap()])
        );
    }
}

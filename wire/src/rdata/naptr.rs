//! NAPTR RDATA (RFC 3403 §4.1): a rewrite rule of the Dynamic Delegation Discovery System.
//!
//! ```text
//! | ORDER (16) | PREFERENCE (16) | FLAGS <char-string> | SERVICES <char-string> |
//! | REGEXP <char-string> | REPLACEMENT <domain-name> |
//! ```
//!
//! The replacement is never compressed when sent and is lowered in canonical form (RFC 3597 §4,
//! RFC 4034 §6.2); a compressed one is still accepted on receipt, as RFC 3597 §4 recommends.

use std::fmt;

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::rdata::{bad_rdata, CharString};
use crate::text::Fields;
use crate::types::RType;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: CharString,
    pub services: CharString,
    /// Empty, or `delim ERE delim replacement delim flags` (RFC 3402 §3.2); see [`check_regexp`].
    pub regexp: CharString,
    pub replacement: Name,
}

impl Naptr {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Naptr, DecodeError> {
        let order = r.u16()?;
        let preference = r.u16()?;
        let flags = CharString::decode(r)?;
        let services = CharString::decode(r)?;
        let regexp = CharString::decode(r)?;
        check_regexp(regexp.as_bytes()).map_err(|reason| bad_rdata(RType::NAPTR, reason))?;
        Ok(Naptr {
            order,
            preference,
            flags,
            services,
            regexp,
            replacement: r.name(true)?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.order);
        w.u16(self.preference);
        self.flags.encode(w);
        self.services.encode(w);
        self.regexp.encode(w);
        w.name(self.replacement.as_wire(), NameKind::Lowered);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Naptr, TextError> {
        let order = f.u16("order")?;
        let preference = f.u16("preference")?;
        let flags = CharString::new(f.char_string("flags")?)?;
        let services = CharString::new(f.char_string("services")?)?;
        let regexp = CharString::new(f.char_string("regexp")?)?;
        check_regexp(regexp.as_bytes()).map_err(|reason| f.invalid(reason))?;
        Ok(Naptr {
            order,
            preference,
            flags,
            services,
            regexp,
            replacement: f.name("replacement")?,
        })
    }
}

/// Checks the shape of a NAPTR regexp field as BIND does (RFC 3402 §3.2): empty, or a delimiter
/// that is not a digit, backslash, `i` or NUL, then the ERE, the replacement and the flags (only
/// `i`) separated by two more unescaped delimiters; no NUL; back-references `\1`..`\9` only up
/// to the number of groups in the ERE. The ERE itself is not compiled: groups are counted as the
/// unescaped `(` outside bracket expressions.
pub fn check_regexp(regexp: &[u8]) -> Result<(), &'static str> {
    let Some((&delimiter, rest)) = regexp.split_first() else {
        return Ok(());
    };
    if delimiter.is_ascii_digit() || matches!(delimiter, b'\\' | b'i' | 0) {
        return Err("regexp delimiter is a digit, backslash, 'i' or NUL");
    }
    let mut in_replacement = false;
    let mut in_flags = false;
    let mut groups = 0u8;
    let mut highest_reference = 0u8;
    let mut in_bracket = false;
    let mut bracket_start = 0usize;
    let mut i = 0usize;
    while i < rest.len() {
        let c = rest[i];
        i += 1;
        if c == 0 {
            return Err("NUL in regexp");
        }
        if c == delimiter {
            if !in_replacement {
                in_replacement = true;
            } else if !in_flags {
                in_flags = true;
            } else {
                return Err("regexp has more than three delimiters");
            }
            continue;
        }
        if in_flags {
            if c != b'i' {
                return Err("regexp flag other than 'i'");
            }
            continue;
        }
        if c == b'\\' {
            let Some(&next) = rest.get(i) else {
                return Err("regexp ends in a backslash");
            };
            i += 1;
            if next == 0 {
                return Err("NUL in regexp");
            }
            if in_replacement && next.is_ascii_digit() {
                if next == b'0' {
                    return Err("regexp back-reference \\0");
                }
                highest_reference = highest_reference.max(next - b'0');
            }
            continue;
        }
        if in_replacement {
            continue;
        }
        // Inside the ERE: track bracket expressions, where `(` is literal.
        if in_bracket {
            // `]` right after `[` or `[^` is a literal member.
            if c == b']' && i - 1 > bracket_start {
                in_bracket = false;
            }
        } else if c == b'[' {
            in_bracket = true;
            bracket_start = if rest.get(i) == Some(&b'^') { i + 1 } else { i };
        } else if c == b'(' {
            groups = groups.saturating_add(1);
        }
    }
    if !in_flags {
        return Err("regexp needs three delimiters");
    }
    if highest_reference > groups {
        return Err("regexp back-reference to a missing group");
    }
    Ok(())
}

impl fmt::Display for Naptr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.order, self.preference, self.flags, self.services, self.regexp, self.replacement
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexp_shapes() {
        for ok in [
            "",
            "!^.*$!sip:info@example.com!",
            "!^(.*)$!\\1@example.com!i",
            "/[(]x/y/",
            "#a\\#b#c#",
        ] {
            assert_eq!(check_regexp(ok.as_bytes()), Ok(()), "{ok}");
        }
        for (bad, reason) in [
            (
                "1abc1d1",
                "regexp delimiter is a digit, backslash, 'i' or NUL",
            ),
            ("!abc!d", "regexp needs three delimiters"),
            ("!a!b!i!", "regexp has more than three delimiters"),
            ("!a!b!x", "regexp flag other than 'i'"),
            ("!a!\\1!", "regexp back-reference to a missing group"),
            ("!(a)!\\0!", "regexp back-reference \\0"),
            ("!a!b\\", "regexp ends in a backslash"),
        ] {
            assert_eq!(check_regexp(bad.as_bytes()), Err(reason), "{bad}");
        }
    }

    #[test]
    fn decode_checks_the_regexp() {
        let mut bytes = vec![0, 100, 0, 10, 1, b'u', 7];
        bytes.extend_from_slice(b"E2U+sip");
        bytes.extend_from_slice(b"\x03!a!");
        bytes.push(0);
        let err = Naptr::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(
            err,
            bad_rdata(RType::NAPTR, "regexp needs three delimiters")
        );
    }
}

//! RRSIG RDATA (RFC 4034 §3.1): a signature over one RRset.
//!
//! ```text
//! | type covered (16) | algorithm (8) | labels (8) |
//! | original TTL (32)                              |
//! | signature expiration (32)                      |
//! | signature inception (32)                       |
//! | key tag (16) | signer's name (uncompressed) ...  |
//! | signature (the rest) ...                       |
//! ```
//!
//! Presentation (RFC 4034 §3.2): times as `YYYYMMDDHHmmSS` in UTC, parsed from that form or
//! from a plain number of seconds; the signature in base64 split every 56 characters as BIND
//! prints it.
//!
//! Times are 32-bit serial numbers (RFC 4034 §3.1.5). BIND prints one as the date closest to its
//! own clock; this crate has no clock and prints the plain reading (1970 to 2106). The two
//! agree for every value within 68 years of now.

use std::fmt;

use crate::codec::{NameKind, Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::name::Name;
use crate::rdata::bad_rdata;
use crate::rdata::dnskey::parse_algorithm;
use crate::text::{encode_base64, push_split, Fields};
use crate::types::RType;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rrsig {
    pub type_covered: RType,
    pub algorithm: u8,
    /// Labels of the original owner name, not counting the root or a leading `*` (RFC 4034 §3.1.3).
    pub labels: u8,
    pub original_ttl: u32,
    /// Seconds since 1970 modulo 2^32 (RFC 4034 §3.1.5).
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    /// Never compressed (RFC 4034 §3.1.7), lowered in canonical form (RFC 4034 §6.2).
    pub signer: Name,
    /// At least one octet (BIND refuses an empty signature).
    pub signature: Box<[u8]>,
}

impl Rrsig {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Rrsig, DecodeError> {
        let type_covered = RType(r.u16()?);
        let algorithm = r.u8()?;
        let labels = r.u8()?;
        let original_ttl = r.u32()?;
        let expiration = r.u32()?;
        let inception = r.u32()?;
        let key_tag = r.u16()?;
        let signer = r.name(false)?;
        if signer.label_count() > usize::from(labels) {
            return Err(bad_rdata(
                RType::RRSIG,
                "signer has more labels than the Labels field",
            ));
        }
        let signature: Box<[u8]> = r.rest().into();
        if signature.is_empty() {
            return Err(bad_rdata(RType::RRSIG, "signature is empty"));
        }
        Ok(Rrsig {
            type_covered,
            algorithm,
            labels,
            original_ttl,
            expiration,
            inception,
            key_tag,
            signer,
            signature,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.type_covered.0);
        w.u8(self.algorithm);
        w.u8(self.labels);
        w.u32(self.original_ttl);
        w.u32(self.expiration);
        w.u32(self.inception);
        w.u16(self.key_tag);
        w.name(self.signer.as_wire(), NameKind::Lowered);
        w.bytes(&self.signature);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Rrsig, TextError> {
        let word = f.word("type covered")?;
        // BIND also takes a bare number here.
        let type_covered = RType::from_text(word)
            .or_else(|| word.parse::<u16>().ok().map(RType))
            .ok_or_else(|| TextError::UnknownType(word.to_owned()))?;
        let algorithm = parse_algorithm(f)?;
        let labels = f.u8("labels")?;
        let original_ttl = f.u32("original TTL")?;
        let expiration = signature_time(f, "signature expiration")?;
        let inception = signature_time(f, "signature inception")?;
        let key_tag = f.u16("key tag")?;
        let signer = f.name("signer's name")?;
        if signer.label_count() > usize::from(labels) {
            return Err(f.invalid("signer has more labels than the Labels field"));
        }
        if f.is_done() {
            return Err(TextError::MissingField {
                rtype: "RRSIG".into(),
                expected: "base64 signature",
            });
        }
        let signature = f.rest_base64("base64 signature")?.into_boxed_slice();
        Ok(Rrsig {
            type_covered,
            algorithm,
            labels,
            original_ttl,
            expiration,
            inception,
            key_tag,
            signer,
            signature,
        })
    }
}

impl fmt::Display for Rrsig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!(
            "{} {} {} {} {} {} {} {} ",
            self.type_covered,
            self.algorithm,
            self.labels,
            self.original_ttl,
            time_to_text(self.expiration),
            time_to_text(self.inception),
            self.key_tag,
            self.signer
        );
        push_split(&mut out, &encode_base64(&self.signature));
        f.write_str(&out)
    }
}

fn signature_time(f: &mut Fields<'_, '_>, expected: &'static str) -> Result<u32, TextError> {
    let word = f.word(expected)?;
    time_from_text(word).ok_or_else(|| f.bad("YYYYMMDDHHmmSS or seconds since 1970", word))
}

/// A 32-bit DNSSEC time as `YYYYMMDDHHmmSS` (UTC), reading it as seconds since 1970.
pub fn time_to_text(time: u32) -> String {
    let seconds = i64::from(time);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let in_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Parses a DNSSEC time the way BIND does: up to ten digits are seconds since 1970 (at most
/// 2^32 - 1); otherwise exactly fourteen digits `YYYYMMDDHHmmSS` (years 0 to 9999, second 60
/// allowed for leap seconds), reduced modulo 2^32 as RFC 4034 §3.1.5 serial arithmetic implies.
pub fn time_from_text(text: &str) -> Option<u32> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return None;
    }
    if text.len() <= 10 {
        return text.parse::<u32>().ok();
    }
    if text.len() != 14 {
        return None;
    }
    let field = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<i64>().ok());
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds.rem_euclid(1 << 32) as u32)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_both_ways() {
        for (seconds, text) in [
            (0u32, "19700101000000"),
            (951_782_400, "20000229000000"),
            (1_704_067_200, "20240101000000"),
            (u32::MAX, "21060207062815"),
        ] {
            assert_eq!(time_to_text(seconds), text);
            assert_eq!(time_from_text(text), Some(seconds));
            assert_eq!(time_from_text(&seconds.to_string()), Some(seconds));
        }
        // Beyond 2106 wraps (serial arithmetic), as in BIND.
        assert_eq!(time_from_text("21060207062816"), Some(0));
        assert_eq!(time_from_text("19691231235959"), Some(u32::MAX));
        for bad in [
            "20230229000000",
            "20241301000000",
            "20240101240000",
            "2024010100000",
            "4294967296",
            "-1",
            "",
        ] {
            assert_eq!(time_from_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn signer_labels_are_bounded_by_the_labels_field() {
        let mut bytes = vec![0, 1, 8, 1, 0, 0, 1, 44, 0, 0, 0, 2, 0, 0, 0, 1, 0, 7];
        bytes.extend_from_slice(b"\x07example\x03com\x00\xAA");
        assert_eq!(
            Rrsig::decode(&mut Reader::new(&bytes)),
            Err(bad_rdata(
                RType::RRSIG,
                "signer has more labels than the Labels field"
            ))
        );
        bytes[3] = 2;
        assert!(Rrsig::decode(&mut Reader::new(&bytes)).is_ok());
        bytes.pop();
        assert_eq!(
            Rrsig::decode(&mut Reader::new(&bytes)),
            Err(bad_rdata(RType::RRSIG, "signature is empty"))
        );
    }
}

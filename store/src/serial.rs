//! SOA serials for new zone versions: RFC 1982 serial-number arithmetic and the per-zone policy
//! that turns the leader-stamped time of a change into a candidate serial.
//!
//! The serial of a new version is `max(old + 1, policy(time))` where `max` compares in RFC 1982
//! arithmetic, so serials only ever grow in the sense secondaries use (RFC 1982 §3.2), even when
//! the leader's clock goes backwards or several changes land in one second or one day.

use nebula_wire::rdata::time_to_text;
use serde::{Deserialize, Serialize};

/// How a zone's serial follows time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SerialPolicy {
    /// Every version is the previous serial plus one.
    #[default]
    Increment,
    /// Seconds since 1970-01-01 UTC (at least previous + 1).
    Unixtime,
    /// `YYYYMMDDnn`, the date in UTC and a counter (at least previous + 1).
    Dateserial,
}

impl SerialPolicy {
    /// The serial this policy wants for a change stamped at `time_ms` (milliseconds since the
    /// Unix epoch); `None` for [`SerialPolicy::Increment`], which has no opinion.
    pub fn candidate(self, time_ms: u64) -> Option<u32> {
        let seconds = time_ms / 1000;
        match self {
            SerialPolicy::Increment => None,
            // Truncation is the RFC 1982 wrap: serials are 32-bit.
            SerialPolicy::Unixtime => Some((seconds & 0xffff_ffff) as u32),
            // YYYYMMDD from the RRSIG time format (RFC 4034 §3.2), which is YYYYMMDDHHmmSS.
            SerialPolicy::Dateserial => u32::try_from(seconds)
                .ok()
                .and_then(|seconds| time_to_text(seconds).get(..8)?.parse::<u32>().ok())
                .and_then(|date| date.checked_mul(100)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SerialPolicy::Increment => "increment",
            SerialPolicy::Unixtime => "unixtime",
            SerialPolicy::Dateserial => "dateserial",
        }
    }
}

/// `a > b` in RFC 1982 §3.2 serial-number arithmetic (SERIAL_BITS = 32). When the two are
/// exactly 2^31 apart the comparison is undefined; this returns false.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// The serial of the next version of a zone whose current serial is `old`: `old + 1`, or the
/// policy's candidate, or the operator's `submitted` serial, whichever is greatest in RFC 1982
/// order (candidates not above `old + 1` are ignored).
pub fn next_serial(old: u32, policy: SerialPolicy, time_ms: u64, submitted: Option<u32>) -> u32 {
    let mut next = old.wrapping_add(1);
    for candidate in [policy.candidate(time_ms), submitted].into_iter().flatten() {
        if serial_gt(candidate, next) && serial_gt(candidate, old) {
            next = candidate;
        }
    }
    next
}

/// The serial of a brand-new zone: the operator's serial unless the policy's is greater.
pub fn first_serial(policy: SerialPolicy, time_ms: u64, submitted: u32) -> u32 {
    match policy.candidate(time_ms) {
        Some(candidate) if serial_gt(candidate, submitted) => candidate,
        _ => submitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-26 12:00:00 UTC.
    const NOON: u64 = 1_795_694_400_000;

    #[test]
    fn rfc1982_comparison() {
        assert!(serial_gt(1, 0));
        assert!(serial_gt(0, u32::MAX), "0 follows 2^32-1 after the wrap");
        assert!(!serial_gt(u32::MAX, 0));
        assert!(!serial_gt(5, 5));
        assert!(
            !serial_gt(0x8000_0000, 0),
            "2^31 apart is undefined, never greater"
        );
    }

    #[test]
    fn policies() {
        let cases = [
            // (old, policy, submitted, expected)
            (7, SerialPolicy::Increment, None, 8),
            (u32::MAX, SerialPolicy::Increment, None, 0),
            (7, SerialPolicy::Unixtime, None, 1_795_694_400),
            (1_795_694_400, SerialPolicy::Unixtime, None, 1_795_694_401),
            (7, SerialPolicy::Dateserial, None, 2_026_112_600),
            (2_026_112_600, SerialPolicy::Dateserial, None, 2_026_112_601),
            (2_026_112_699, SerialPolicy::Dateserial, None, 2_026_112_700),
            (7, SerialPolicy::Increment, Some(100), 100),
            (100, SerialPolicy::Increment, Some(100), 101),
            (100, SerialPolicy::Increment, Some(3), 101),
        ];
        for (old, policy, submitted, expected) in cases {
            assert_eq!(
                next_serial(old, policy, NOON, submitted),
                expected,
                "{old} {policy:?} {submitted:?}"
            );
        }
    }

    #[test]
    fn first_serials() {
        assert_eq!(first_serial(SerialPolicy::Increment, NOON, 42), 42);
        assert_eq!(
            first_serial(SerialPolicy::Dateserial, NOON, 42),
            2_026_112_600
        );
        assert_eq!(
            first_serial(SerialPolicy::Dateserial, NOON, 2_030_010_100),
            2_030_010_100
        );
    }
}

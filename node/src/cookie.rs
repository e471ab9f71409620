//! DNS server cookies (RFC 7873), in the interoperable format of RFC 9018 §4:
//!
//! ```text
//! +---------+-----------------+------------------+-----------------------------+
//! | Version | Reserved (3)    | Timestamp (4)    | Hash (8)                    |
//! |   = 1   |   = 0           | seconds, u32 BE  | SipHash-2-4(secret, input)  |
//! +---------+-----------------+------------------+-----------------------------+
//! input = Client Cookie | Version | Reserved | Timestamp | Client-IP (4 or 16 octets)
//! ```
//!
//! A cluster shares the secret so any node accepts a cookie another node issued.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

/// Length of a server cookie in this format.
pub const SERVER_COOKIE_LEN: usize = 16;

/// A cookie older than this is refreshed (RFC 9018 §4.3: "half an hour").
const REFRESH_AFTER_SECONDS: u32 = 1800;
/// A cookie older than this, or further in the future than [`MAX_FUTURE_SECONDS`], is invalid (RFC 9018 §4.3).
const MAX_AGE_SECONDS: u32 = 3600;
const MAX_FUTURE_SECONDS: u32 = 300;

/// Issues and checks server cookies with one secret.
#[derive(Clone)]
pub struct CookieSecret {
    key: [u8; 16],
}

impl std::fmt::Debug for CookieSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieSecret(..)")
    }
}

/// What a received server cookie is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCheck {
    /// Only a client cookie was sent (the client's first contact).
    ClientOnly,
    /// Ours and fresh.
    Valid,
    /// Not ours, forged, expired or from another address.
    Invalid,
}

impl CookieSecret {
    pub fn new(key: [u8; 16]) -> CookieSecret {
        CookieSecret { key }
    }

    /// The server cookie for this client cookie and address at `now` (seconds since the epoch, mod 2^32).
    pub fn issue(
        &self,
        client_cookie: &[u8; 8],
        client: IpAddr,
        now: u32,
    ) -> [u8; SERVER_COOKIE_LEN] {
        let mut cookie = [0u8; SERVER_COOKIE_LEN];
        cookie[0] = 1;
        cookie[4..8].copy_from_slice(&now.to_be_bytes());
        let hash = self.hash(client_cookie, &cookie[..8], client);
        cookie[8..].copy_from_slice(&hash.to_le_bytes());
        cookie
    }

    /// Checks a received server cookie (RFC 9018 §4.3); `server` is empty when none was sent.
    pub fn check(
        &self,
        client_cookie: &[u8; 8],
        server: &[u8],
        client: IpAddr,
        now: u32,
    ) -> CookieCheck {
        if server.is_empty() {
            return CookieCheck::ClientOnly;
        }
        if server.len() != SERVER_COOKIE_LEN || server[0] != 1 {
            return CookieCheck::Invalid;
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        // Serial-number arithmetic on the 32-bit timestamp (RFC 1982), as RFC 9018 §4.3 asks.
        let age = now.wrapping_sub(stamp);
        let ahead = stamp.wrapping_sub(now);
        if age > MAX_AGE_SECONDS && ahead > MAX_FUTURE_SECONDS {
            return CookieCheck::Invalid;
        }
        let expected = self.hash(client_cookie, &server[..8], client).to_le_bytes();
        // Not secret-dependent timing worth protecting: the hash is public once sent; plain compare.
        if expected[..] == server[8..] {
            CookieCheck::Valid
        } else {
            CookieCheck::Invalid
        }
    }

    /// True if a valid cookie issued at its timestamp should be replaced by a fresh one.
    pub fn needs_refresh(server: &[u8], now: u32) -> bool {
        if server.len() < 8 {
            return true;
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        now.wrapping_sub(stamp) > REFRESH_AFTER_SECONDS
            && stamp.wrapping_sub(now) > MAX_FUTURE_SECONDS
    }

    fn hash(&self, client_cookie: &[u8; 8], header: &[u8], client: IpAddr) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(client_cookie);
        h.write(header);
        match client {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9018_appendix_a1_vector() {
        // RFC 9018 Appendix A.1: client cookie 2464c4abcf10c957, client 198.51.100.100,
        // secret e5e973e5a6b2a43f48e7dc849e37bfcf, timestamp 1559731985 → server cookie 010000005cf79f111f8130c3eee29480.
        let secret = CookieSecret::new([
            0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37,
            0xbf, 0xcf,
        ]);
        let client_cookie = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];
        let client: IpAddr = "198.51.100.100".parse().unwrap();
        let cookie = secret.issue(&client_cookie, client, 1_559_731_985);
        let hex: String = cookie.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "010000005cf79f111f8130c3eee29480");
        assert_eq!(
            secret.check(&client_cookie, &cookie, client, 1_559_731_990),
            CookieCheck::Valid
        );
        let other: IpAddr = "198.51.100.101".parse().unwrap();
        assert_eq!(
            secret.check(&client_cookie, &cookie, other, 1_559_731_990),
            CookieCheck::Invalid
        );
        assert_eq!(
            secret.check(&client_cookie, &cookie, client, 1_559_731_985 + 4000),
            CookieCheck::Invalid
        );
        assert_eq!(
            secret.check(&client_cookie, &[], client, 0),
            CookieCheck::ClientOnly
        );
    }
}

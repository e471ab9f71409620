//! The records of secondaries and TSIG keys as the state machine stores them and the
//! configuration declares them. Plain data: no database needed (the fuzz targets build the
//! configuration without one).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use nebula_wire::tsig::{Algorithm, Key};
use nebula_wire::Name;
use serde::{Deserialize, Serialize};

/// The lower-case absolute text form of a zone or key name, or why it is not a name.
pub fn normal_name(text: &str) -> Result<String, String> {
    Name::from_text(text, Some(&Name::root()))
        .map(|n| n.to_lowercase().to_string())
        .map_err(|e| format!("{text:?} is not a domain name such as \"example.com.\" ({e})"))
}

/// A TSIG key as stored: the secret too, since signing needs it (as BIND's and Knot's key files
/// hold it). The API shows the secret once, when it is created or rotated.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TsigKeyRecord {
    /// The key's name: lower-case, absolute (`transfer.example.com.`).
    pub name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    /// Base64.
    pub secret: String,
    /// Set by the state machine from the leader's stamp.
    #[serde(default)]
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_ms: Option<u64>,
}

impl fmt::Debug for TsigKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKeyRecord")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("created_ms", &self.created_ms)
            .field("rotated_ms", &self.rotated_ms)
            .finish_non_exhaustive()
    }
}

/// The smallest secret accepted: 128 bits.
pub const MIN_SECRET: usize = 16;

impl TsigKeyRecord {
    /// The key for signing and verifying, or what is wrong with the record.
    pub fn key(&self) -> Result<Key, String> {
        let name = Name::from_text(&self.name, Some(&Name::root()))
            .map_err(|e| format!("TSIG key name {:?}: {e}", self.name))?;
        let algorithm = Algorithm::from_text(&self.algorithm).ok_or_else(|| {
            format!(
                "TSIG key {}: algorithm {:?} is not one of hmac-sha256, hmac-sha384, hmac-sha512",
                self.name, self.algorithm
            )
        })?;
        let secret = data_encoding::BASE64
            .decode(self.secret.trim().as_bytes())
            .map_err(|e| format!("TSIG key {}: the secret is not base64 ({e})", self.name))?;
        if secret.len() < MIN_SECRET {
            return Err(format!(
                "TSIG key {}: the secret has {} octets; use at least {MIN_SECRET} (e.g. `openssl rand -base64 32`)",
                self.name,
                secret.len()
            ));
        }
        Ok(Key {
            name,
            algorithm,
            secret,
        })
    }
}

/// How much a secondary counts for a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecondaryMode {
    /// A deploy is verified only once this secondary serves the new serial.
    #[default]
    Required,
    /// Watched and reported, never blocks a deploy.
    BestEffort,
}

/// A secondary's DNS address: `192.0.2.53:53`, or a bare address for port 53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeerAddr(pub SocketAddr);

impl FromStr for PeerAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<PeerAddr, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(PeerAddr(addr));
        }
        text.parse::<IpAddr>()
            .map(|ip| PeerAddr(SocketAddr::new(ip, 53)))
            .map_err(|_| {
                format!("{text:?} is not an address such as \"192.0.2.53\", \"192.0.2.53:5300\" or \"[2001:db8::53]:53\"")
            })
    }
}

impl TryFrom<String> for PeerAddr {
    type Error = String;

    fn try_from(text: String) -> Result<PeerAddr, String> {
        text.parse()
    }
}

impl From<PeerAddr> for String {
    fn from(addr: PeerAddr) -> String {
        addr.0.to_string()
    }
}

/// A secondary server of our zones, from `[[secondary]]` in the configuration or the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secondary {
    /// A name for logs, the API and metrics (e.g. `bind-ams1`).
    pub name: String,
    /// Where its DNS server listens: NOTIFY (UDP) and SOA checks (TCP) go there.
    pub address: PeerAddr,
    /// The zones it serves from us (`example.com.`); empty: every zone.
    #[serde(default)]
    pub zones: Vec<String>,
    /// The TSIG key (by name) its transfers and our NOTIFYs are signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `required` (default) or `best-effort`.
    #[serde(default)]
    pub mode: SecondaryMode,
}

impl Secondary {
    /// Checks the name and the zone names; the key's existence is the state machine's concern.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 63
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !name_ok {
            return Err(format!(
                "secondary name {:?}: use 1 to 63 letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        for zone in &self.zones {
            normal_name(zone).map_err(|e| format!("secondary {}: zone {e}", self.name))?;
        }
        if let Some(key) = &self.key {
            Name::from_text(key, Some(&Name::root()))
                .map_err(|e| format!("secondary {}: key name {key:?}: {e}", self.name))?;
        }
        Ok(())
    }

    /// Whether it takes `zone` (a zone key: lower-case, absolute).
    pub fn takes(&self, zone: &str) -> bool {
        self.zones.is_empty()
            || self
                .zones
                .iter()
                .any(|z| normal_name(z).is_ok_and(|key| key == zone))
    }
}

/// One transfer served to a declared secondary, as the serving node saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferNote {
    pub peer: String,
    pub zone: String,
    /// The node that served (or refused) it.
    pub node: u64,
    pub time_ms: u64,
    /// `AXFR` or `IXFR`.
    pub kind: String,
    /// `ok`, or what went wrong (`badsig`, `refused`, `error`...).
    pub result: String,
    #[serde(default)]
    pub serial: Option<u32>,
    #[serde(default)]
    pub bytes: u64,
    /// The wire reason in words, for failures.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A zone this cluster serves as a secondary of external primaries (BIND, Knot, NSD,
/// PowerDNS): the leader transfers it from them and commits each version through Raft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// The zone (lower-case, absolute once stored).
    pub zone: String,
    /// Where to transfer it from, tried in order; NOTIFY is accepted from these addresses.
    pub primaries: Vec<PeerAddr>,
    /// The TSIG key (by name) transfers and NOTIFYs are signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

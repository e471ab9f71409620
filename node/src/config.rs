//! The node's configuration file (TOML): every key documented in [`Config::default_toml`],
//! unknown keys and bad values rejected with the key named, defaults that start a working
//! single node on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use nebula_store::records::Secondary;

use crate::transfer::{IpPrefix, Rule};

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config file {path}: {key}: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerSection,
    pub dns: DnsSection,
    pub http: HttpSection,
    pub metrics: MetricsSection,
    pub log: LogSection,
    pub chaos: ChaosSection,
    pub tracing: TracingSection,
    pub cluster: ClusterSection,
    pub transfer: TransferSection,
    pub propagation: PropagationSection,
    /// Secondaries of our zones: NOTIFY goes to them on every new version.
    #[serde(rename = "secondary")]
    pub secondaries: Vec<Secondary>,
    #[serde(rename = "zone")]
    pub zones: Vec<ZoneEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Where the node keeps its state; relative paths are relative to the working directory.
    pub data_dir: PathBuf,
    /// Threads of the async runtime: TCP and encrypted DNS, the API, Raft and its transport,
    /// zone transfers (the UDP data plane has its own `dns.udp_workers`). 0 means one per CPU
    /// core; nodes that share a machine do better with their share of its cores.
    pub runtime_threads: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSection {
    /// Addresses to serve DNS on, UDP and TCP each.
    pub listen: Vec<SocketAddr>,
    /// UDP worker threads per address; 0 means one per CPU core.
    pub udp_workers: usize,
    /// Largest UDP response sent to EDNS clients (RFC 6891 §6.2.5); 1232 avoids fragmentation.
    pub edns_payload: u16,
    /// Idle TCP connections are closed after this many milliseconds (RFC 7766 §6.2.3).
    pub tcp_idle_timeout_ms: u64,
    /// Open TCP connections in total.
    pub tcp_max_connections: usize,
    /// Open TCP connections from one client address.
    pub tcp_max_connections_per_client: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// The API (and later the UI), plus `/livez` and `/readyz`.
    pub listen: SocketAddr,
    /// Largest API request body; bigger ones get 413.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Prometheus `/metrics`.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `nebula_node=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosSection {
    /// Answer CHAOS TXT `version.bind`/`version.server`.
    pub version_enabled: bool,
    /// The version string; defaults to `NebulaDNS <version>`.
    pub version: Option<String>,
    /// Answer CHAOS TXT `hostname.bind`/`id.server`.
    pub hostname_enabled: bool,
    /// The identity string; defaults to the machine's host name.
    pub hostname: Option<String>,
}

/// OpenTelemetry trace export (OTLP over HTTP with protobuf). Spans cover start-up, shutdown,
/// zone loads and reloads and HTTP requests, never single DNS queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingSection {
    /// The collector's base URL, e.g. `http://127.0.0.1:4318`; spans go to `<url>/v1/traces`.
    /// Absent: nothing is exported.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute spans carry.
    pub service_name: String,
    /// The fraction of new traces kept, 0.0 to 1.0 (children follow their parent's decision).
    pub sample_ratio: f64,
}

/// The node's Raft group. Without peers the node is a one-node cluster of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// This node's id: unique in the cluster, never reused after the node is removed.
    pub node_id: u64,
    /// Node-to-node RPC listener. Port 0 picks a free port (fine for a lone node only).
    pub rpc_listen: SocketAddr,
    /// The RPC address other nodes use (default: `rpc_listen` as bound).
    pub advertise_rpc: Option<String>,
    /// The API address clients are sent to (default: `http.listen` as bound).
    pub advertise_api: Option<String>,
    /// The initial voters when a new cluster is bootstrapped (this node included); the lowest
    /// id initializes it. A node that is not listed waits to be added by `nebulactl cluster add`.
    pub peers: Vec<PeerEntry>,
    /// Snapshot the state machine after this many applied entries, plus 0-3 eighths of it by
    /// node id (node 1 an eighth, 2 a quarter...), so the nodes do not all snapshot at once.
    pub snapshot_threshold: u64,
    /// Log entries kept behind a snapshot, for followers that are briefly behind.
    pub keep_logs: u64,
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// A write not committed within this is answered 503 `outcome_unknown`.
    pub write_timeout_ms: u64,
    /// Deadline of node-to-node calls (forwarding, status).
    pub rpc_timeout_ms: u64,
}

/// One initial cluster member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    pub id: u64,
    /// Its node-to-node RPC address.
    pub rpc: String,
    /// Its HTTP API address.
    pub api: String,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            node_id: 1,
            rpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise_rpc: None,
            advertise_api: None,
            peers: Vec::new(),
            snapshot_threshold: 5000,
            keep_logs: 1000,
            heartbeat_ms: 100,
            election_timeout_min_ms: 600,
            election_timeout_max_ms: 1200,
            write_timeout_ms: 5000,
            rpc_timeout_ms: 2000,
        }
    }
}

/// The propagation verifier (it runs on the leader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PropagationSection {
    /// How often each secondary's SOA is checked while a deploy is open, in milliseconds
    /// (ten times less often otherwise).
    pub poll_ms: u64,
}

impl Default for PropagationSection {
    fn default() -> Self {
        PropagationSection { poll_ms: 1000 }
    }
}

/// Zone transfers out (AXFR, IXFR) over TCP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransferSection {
    /// Clients allowed to transfer zones: address prefixes. Default: loopback only.
    pub allow: Vec<IpPrefix>,
    /// Finer grants: zones, address prefixes and TSIG keys together.
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

impl Default for TransferSection {
    fn default() -> Self {
        TransferSection {
            allow: crate::transfer::loopback(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneFormat {
    Master,
    Toml,
    Json,
}

/// One served zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneEntry {
    /// The zone's origin, e.g. `example.com.`.
    pub name: String,
    /// The zone file; relative paths are relative to the config file's directory.
    pub file: PathBuf,
    /// `master`, `toml` or `json`; by default from the file extension (`.toml`, `.json`), else master.
    #[serde(default)]
    pub format: Option<ZoneFormat>,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            data_dir: PathBuf::from("./nebuladns-data"),
            runtime_threads: 0,
        }
    }
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 5353))],
            udp_workers: 0,
            edns_payload: 1232,
            tcp_idle_timeout_ms: 10_000,
            tcp_max_connections: 1024,
            tcp_max_connections_per_client: 64,
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 << 20,
        }
    }
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl Default for ChaosSection {
    fn default() -> Self {
        ChaosSection {
            version_enabled: true,
            version: None,
            hostname_enabled: true,
            hostname: None,
        }
    }
}

impl Default for TracingSection {
    fn default() -> Self {
        TracingSection {
            otlp_endpoint: None,
            service_name: "nebuladns".to_owned(),
            sample_ratio: 1.0,
        }
    }
}

/// The most threads a thread-count setting may ask for.
const MAX_THREADS: usize = 1024;

/// A thread-count setting's value: `n`, or one per CPU core when `n` is 0.
pub fn threads_or_cores(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(1, |cores| cores.get())
    } else {
        n
    }
}

impl Config {
    /// Reads and checks a config file; relative zone paths are resolved against its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for zone in &mut config.zones {
            if zone.file.is_relative() {
                zone.file = base.join(&zone.file);
            }
        }
        Ok(config)
    }

    /// Parses TOML text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.check(path)?;
        Ok(config)
    }

    /// Checks what the types cannot.
    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            problem,
        };
        if self.dns.listen.is_empty() {
            return Err(invalid(
                "dns.listen",
                "at least one address is needed, e.g. [\"127.0.0.1:53\"]".into(),
            ));
        }
        if self.dns.edns_payload < 512 {
            return Err(invalid(
                "dns.edns_payload",
                format!(
                    "{} is below the 512-octet minimum of RFC 6891 §6.2.5",
                    self.dns.edns_payload
                ),
            ));
        }
        for (key, threads) in [
            ("server.runtime_threads", self.server.runtime_threads),
            ("dns.udp_workers", self.dns.udp_workers),
        ] {
            if threads > MAX_THREADS {
                return Err(invalid(
                    key,
                    format!(
                        "{threads} threads is more than {MAX_THREADS}; use 0 for one per CPU core"
                    ),
                ));
            }
        }
        if self.dns.tcp_max_connections == 0 || self.dns.tcp_max_connections_per_client == 0 {
            return Err(invalid(
                "dns.tcp_max_connections",
                "connection limits must be at least 1".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for secondary in &self.secondaries {
            if !names.insert(secondary.name.as_str()) {
                return Err(invalid(
                    "secondary.name",
                    format!(
                        "{:?}: every [[secondary]] needs a name of its own",
                        secondary.name
                    ),
                ));
            }
            secondary
                .check()
                .map_err(|problem| invalid("secondary", problem))?;
        }
        for rule in &self.transfer.rules {
            for name in rule.zones.iter().chain(&rule.keys) {
                if nebula_wire::Name::from_text(name, Some(&nebula_wire::Name::root())).is_err() {
                    return Err(invalid(
                        "transfer.rule",
                        format!("{name:?} is not a domain name such as \"example.com.\""),
                    ));
                }
            }
        }
        if self.propagation.poll_ms < 100 {
            return Err(invalid(
                "propagation.poll_ms",
                format!(
                    "{} ms would flood the secondaries with SOA queries; use at least 100",
                    self.propagation.poll_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.tracing.sample_ratio) {
            return Err(invalid(
                "tracing.sample_ratio",
                format!(
                    "{} is outside 0.0 to 1.0 (the fraction of traces kept)",
                    self.tracing.sample_ratio
                ),
            ));
        }
        if let Some(endpoint) = &self.tracing.otlp_endpoint {
            // The exporter speaks plain HTTP (no TLS stack is linked in).
            if !endpoint.starts_with("http://") || endpoint.len() <= "http://".len() {
                return Err(invalid(
                    "tracing.otlp_endpoint",
                    format!("{endpoint:?} is not an http:// URL, e.g. \"http://127.0.0.1:4318\""),
                ));
            }
        }
        if self.tracing.service_name.is_empty() {
            return Err(invalid(
                "tracing.service_name",
                "the service name must not be empty".into(),
            ));
        }
        let cluster = &self.cluster;
        if cluster.heartbeat_ms == 0 || cluster.election_timeout_min_ms <= cluster.heartbeat_ms * 2
        {
            return Err(invalid(
                "cluster.election_timeout_min_ms",
                "must be more than twice cluster.heartbeat_ms (heartbeats must arrive before elections start)".into(),
            ));
        }
        if cluster.election_timeout_max_ms <= cluster.election_timeout_min_ms {
            return Err(invalid(
                "cluster.election_timeout_max_ms",
                "must be greater than cluster.election_timeout_min_ms".into(),
            ));
        }
        if cluster.snapshot_threshold == 0
            || cluster.write_timeout_ms == 0
            || cluster.rpc_timeout_ms == 0
        {
            return Err(invalid(
                "cluster",
                "snapshot_threshold, write_timeout_ms and rpc_timeout_ms must be at least 1".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, peer) in cluster.peers.iter().enumerate() {
            if !ids.insert(peer.id) {
                return Err(invalid(
                    &format!("cluster.peers[{i}].id"),
                    format!("node id {} is listed twice", peer.id),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, zone) in self.zones.iter().enumerate() {
            let name = zone.name.trim_end_matches('.').to_ascii_lowercase();
            if let Err(e) = zone.name.parse::<nebula_wire::Name>() {
                return Err(invalid(
                    &format!("zone[{i}].name"),
                    format!("{:?} is not a domain name: {e}", zone.name),
                ));
            }
            if !seen.insert(name) {
                return Err(invalid(
                    &format!("zone[{i}].name"),
                    format!("zone {:?} is declared twice", zone.name),
                ));
            }
        }
        Ok(())
    }

    /// The format of a zone entry: explicit, or by extension.
    pub fn zone_format(entry: &ZoneEntry) -> ZoneFormat {
        entry
            .format
            .unwrap_or_else(|| crate::check_zone::format_for_path(&entry.file))
    }

    /// The default configuration, commented, as `--print-default-config` shows it.
    pub fn default_toml() -> &'static str {
        DEFAULT_CONFIG
    }
}

const DEFAULT_CONFIG: &str = r#"# NebulaDNS node configuration. Every key is optional; these are the defaults.

[server]
# Where the node keeps its state (zones, keys, later the Raft log).
data_dir = "./nebuladns-data"
# Threads for TCP and encrypted DNS, the API, Raft and zone transfers (UDP has its own below);
# 0 = one per CPU core. Nodes that share a machine: give each its share of the cores.
runtime_threads = 0

[dns]
# Addresses to serve DNS on; each gets UDP and TCP.
listen = ["127.0.0.1:5353"]
# UDP worker threads per address (each with its own SO_REUSEPORT socket); 0 = one per CPU core.
udp_workers = 0
# Largest UDP response to EDNS clients; 1232 avoids IP fragmentation (DNS Flag Day 2020).
edns_payload = 1232
# RFC 7766: idle TCP connections are closed after this long.
tcp_idle_timeout_ms = 10000
# Open TCP connections, in total and per client address.
tcp_max_connections = 1024
tcp_max_connections_per_client = 64

[http]
# API, /livez and /readyz.
listen = "127.0.0.1:8080"
# Largest API request body (bytes); bigger ones get 413.
max_body_bytes = 67108864

[metrics]
# Prometheus /metrics.
listen = "127.0.0.1:9090"

[log]
# "text" or "json".
format = "text"
# A filter such as "info" or "nebula_node=debug,info".
level = "info"

[chaos]
# CHAOS TXT version.bind / version.server and hostname.bind / id.server.
version_enabled = true
# version = "NebulaDNS"
hostname_enabled = true
# hostname = "ns1"

[tracing]
# OpenTelemetry trace export over OTLP/HTTP (protobuf) to <otlp_endpoint>/v1/traces: spans for
# start-up, shutdown, zone loads and reloads and HTTP requests (never one per DNS query).
# Without an endpoint nothing is exported.
# otlp_endpoint = "http://127.0.0.1:4318"
service_name = "nebuladns"
# Fraction of traces kept, 0.0 to 1.0.
sample_ratio = 1.0

[cluster]
# This node's id: unique, never reused after removal.
node_id = 1
# Node-to-node RPC (gRPC). Port 0 picks a free port, which is fine for a one-node cluster;
# give a fixed port before adding nodes.
rpc_listen = "127.0.0.1:0"
# advertise_rpc = "10.0.0.1:7001"   # how other nodes reach this one (default: rpc_listen)
# advertise_api = "10.0.0.1:8080"   # how clients reach this node's API (default: http.listen)
# The initial voters of a new cluster, this node included; the lowest id bootstraps it.
# Without peers the node is a one-node cluster. A node not listed waits for
# `nebulactl cluster add`.
# peers = [
#   { id = 1, rpc = "10.0.0.1:7001", api = "10.0.0.1:8080" },
#   { id = 2, rpc = "10.0.0.2:7001", api = "10.0.0.2:8080" },
#   { id = 3, rpc = "10.0.0.3:7001", api = "10.0.0.3:8080" },
# ]
peers = []
# Snapshot after this many applied entries (each node adds 0-3 eighths of it by its id, so the
# nodes do not all snapshot at once); keep this many log entries behind a snapshot.
snapshot_threshold = 5000
keep_logs = 1000
heartbeat_ms = 100
election_timeout_min_ms = 600
election_timeout_max_ms = 1200
# A write not committed within this is answered 503 outcome_unknown (retry with the same
# Idempotency-Key).
write_timeout_ms = 5000
rpc_timeout_ms = 2000

[transfer]
# Who may transfer zones (AXFR; IXFR is answered with the whole zone) over TCP: address
# prefixes. Others get REFUSED. Add your secondaries, e.g. "192.0.2.53/32" or "2001:db8::/64".
allow = ["127.0.0.0/8", "::1/128"]
# Finer grants: a rule admits transfers of `zones` (all when empty) from `address` prefixes
# (anywhere when empty) signed with one of `keys` (TSIG keys made with `nebulactl keys tsig
# create`; unsigned too when empty). Declared secondaries below are admitted for their zones
# from their address, with their key when they have one.
# [[transfer.rule]]
# zones = ["example.com."]
# address = ["192.0.2.0/24"]
# keys = ["transfer.example.com."]

[propagation]
# How often the leader checks each secondary's SOA while a deploy is open (every write opens
# one; it is verified once every required secondary serves the new serial, failed after 60 s).
poll_ms = 1000

# Secondaries of our zones (more can be declared with `POST /api/v1/secondaries`): each gets
# NOTIFY (RFC 1996) for every new version of the zones it takes (all when `zones` is empty),
# signed with its TSIG `key` when it has one, and may transfer those zones from its address.
# `mode` is "required" (a deploy waits for it) or "best-effort".
# [[secondary]]
# name = "bind-1"
# address = "192.0.2.53"          # port 53; or "192.0.2.53:5300"
# zones = ["example.com."]
# key = "transfer.example.com."
# mode = "required"

# Zones served from files on this node only (read-only, outside Raft). Zones managed through
# the API are replicated. Without files or API zones, a new cluster starts with example.com.
# [[zone]]
# name = "example.com."
# file = "zones/example.com.zone"   # relative to this file
# format = "master"                  # or "toml", "json"; default by extension
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_text_is_the_default() {
        let parsed = Config::parse(DEFAULT_CONFIG, Path::new("default.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = Config::parse(
            "[dns]\nlisten = [\"127.0.0.1:53\"]\nlisen = 1\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = Config::parse("[dns]\nedns_payload = 100\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("dns.edns_payload"), "{err}");
        let err =
            Config::parse("[server]\nruntime_threads = 5000\n", Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string().contains("server.runtime_threads") && err.to_string().contains("1024"),
            "{err}"
        );
        let err = Config::parse("[http]\nlisten = \"nope\"\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err = Config::parse(
            "[[zone]]\nname = \"a.\"\nfile = \"x\"\n[[zone]]\nname = \"A\"\nfile = \"y\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("declared twice"), "{err}");
    }

    #[test]
    fn thread_counts_of_zero_mean_one_per_core() {
        let config = Config::parse("[server]\nruntime_threads = 1\n", Path::new("c.toml")).unwrap();
        assert_eq!(threads_or_cores(config.server.runtime_threads), 1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            threads_or_cores(Config::default().server.runtime_threads),
            cores
        );
    }

    #[test]
    fn transfer_and_secondaries_are_checked() {
        use nebula_store::records::SecondaryMode;
        let one = "[[secondary]]\nname = \"ns2\"\naddress = \"192.0.2.53\"\n";
        for (text, wanted) in [
            (format!("{one}{one}"), "secondary.name"),
            (
                format!("{one}zones = [\"bad..name\"]\n"),
                "zone \"bad..name\"",
            ),
            (format!("{one}mode = \"sometimes\"\n"), "unknown variant"),
            (
                "[[secondary]]\nname = \"a b\"\naddress = \"192.0.2.53\"\n".to_owned(),
                "letters, digits",
            ),
            (
                "[[secondary]]\nname = \"x\"\naddress = \"ns2.example\"\n".to_owned(),
                "is not an address",
            ),
            (
                "[[transfer.rule]]\nkeys = [\"bad..key\"]\n".to_owned(),
                "transfer.rule",
            ),
            (
                "[transfer]\nallow = [\"10.1.0.0/8\"]\n".to_owned(),
                "bits set past the /8",
            ),
        ] {
            let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
            assert!(err.to_string().contains(wanted), "{text}: {err}");
        }
        let config = Config::parse(one, Path::new("c.toml")).unwrap();
        assert_eq!(
            config.secondaries[0].address.0.port(),
            53,
            "port 53 by default"
        );
        assert_eq!(config.secondaries[0].mode, SecondaryMode::Required);
        assert!(
            config.secondaries[0].zones.is_empty(),
            "all zones by default"
        );
    }

    #[test]
    fn tracing_section_is_checked() {
        for (text, key) in [
            ("[tracing]\nsample_ratio = 1.5\n", "tracing.sample_ratio"),
            ("[tracing]\nsample_ratio = -0.1\n", "tracing.sample_ratio"),
            ("[tracing]\nsample_ratio = nan\n", "tracing.sample_ratio"),
            (
                "[tracing]\notlp_endpoint = \"127.0.0.1:4318\"\n",
                "tracing.otlp_endpoint",
            ),
            (
                "[tracing]\notlp_endpoint = \"https://c:4318\"\n",
                "tracing.otlp_endpoint",
            ),
            ("[tracing]\nservice_name = \"\"\n", "tracing.service_name"),
        ] {
            let err = Config::parse(text, Path::new("c.toml")).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        let config = Config::parse(
            "[tracing]\notlp_endpoint = \"http://127.0.0.1:4318\"\nsample_ratio = 0.25\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(
            config.tracing.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        assert_eq!(config.tracing.sample_ratio, 0.25);
        assert_eq!(config.tracing.service_name, "nebuladns");
    }
}

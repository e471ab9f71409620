//! Prometheus metrics, always on. Every series on the query path is registered at start-up and
//! held as a handle in a fixed table, so counting a query is one relaxed atomic add with no map
//! lookup and no lock. Label values are enums: never a qname, never a client address. The
//! transfer series name a declared secondary (or `other`) and a zone this node serves (or
//! `other`), so their number is bounded by configuration and data, never by traffic.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nebula_wire::{DecodeErrorKind, RType, Rcode};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::answer::{DropReason, Transport};

/// Query-type label values: the common types by name, the rest as `other`.
const QTYPES: [(RType, &str); 20] = [
    (RType::A, "A"),
    (RType::NS, "NS"),
    (RType::CNAME, "CNAME"),
    (RType::SOA, "SOA"),
    (RType::PTR, "PTR"),
    (RType::MX, "MX"),
    (RType::TXT, "TXT"),
    (RType::AAAA, "AAAA"),
    (RType::SRV, "SRV"),
    (RType::NAPTR, "NAPTR"),
    (RType::DS, "DS"),
    (RType::DNSKEY, "DNSKEY"),
    (RType::TLSA, "TLSA"),
    (RType::SVCB, "SVCB"),
    (RType::HTTPS, "HTTPS"),
    (RType::CAA, "CAA"),
    (RType::ANY, "ANY"),
    (RType::AXFR, "AXFR"),
    (RType::IXFR, "IXFR"),
    (RType(0), "other"),
];

const RCODES: [(Rcode, &str); 10] = [
    (Rcode::NOERROR, "NOERROR"),
    (Rcode::FORMERR, "FORMERR"),
    (Rcode::SERVFAIL, "SERVFAIL"),
    (Rcode::NXDOMAIN, "NXDOMAIN"),
    (Rcode::NOTIMP, "NOTIMP"),
    (Rcode::REFUSED, "REFUSED"),
    (Rcode::YXDOMAIN, "YXDOMAIN"),
    (Rcode::NOTAUTH, "NOTAUTH"),
    (Rcode::BADVERS, "BADVERS"),
    (Rcode(u16::MAX), "other"),
];

const PROTOS: [Transport; 2] = [Transport::Udp, Transport::Tcp];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    proto: &'static str,
    qtype: &'static str,
    rcode: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// A zone transfer. `peer` is a declared secondary's name or `other`, `zone` a zone this node
/// serves or `other`: bounded by configuration and data, never by traffic.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransferLabels {
    peer: String,
    zone: String,
    direction: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerZoneLabels {
    peer: String,
    zone: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZoneLabels {
    zone: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZonePeerLabels {
    zone: String,
    peer: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckErrorLabels {
    zone: String,
    peer: String,
    error: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerVersionLabels {
    peer: String,
    software: String,
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    udp_path: &'static str,
}

/// All metrics of a node.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Indexed by [proto][qtype][rcode].
    queries: Vec<Counter>,
    duration: LatencyHistogram,
    dropped: Vec<Counter>,
    formerr: Vec<Counter>,
    resident_memory: Gauge<i64, AtomicI64>,
    virtual_memory: Gauge<i64, AtomicI64>,
    zones_served: Gauge<i64, AtomicI64>,
    ready: Gauge<i64, AtomicI64>,
    reloads_failed: Counter<u64, AtomicU64>,
    raft: [Gauge<i64, AtomicI64>; 5],
    transfers: Family<TransferLabels, Counter>,
    transfer_success: Family<PeerZoneLabels, Gauge<i64, AtomicI64>>,
    propagation: Propagation,
}

/// The propagation verifier's view, replaced whole on every pass so that removed secondaries
/// and zones disappear from the output.
#[derive(Debug, Default)]
struct Propagation {
    peer_version: Family<PeerVersionLabels, Gauge<i64, AtomicI64>>,
    zone_serial: Family<ZoneLabels, Gauge<i64, AtomicI64>>,
    observed_serial: Family<ZonePeerLabels, Gauge<i64, AtomicI64>>,
    lag: Family<ZonePeerLabels, Gauge<f64, AtomicU64>>,
    converged: Family<ZoneLabels, Gauge<i64, AtomicI64>>,
    check_error: Family<CheckErrorLabels, Gauge<i64, AtomicI64>>,
}

/// One pass of the verifier, for [`Metrics::set_propagation`].
#[derive(Debug, Default)]
pub struct PropagationView {
    /// (peer, software, version)
    pub versions: Vec<(String, String, String)>,
    /// (zone, serial we serve)
    pub zones: Vec<(String, u32)>,
    /// (zone, peer, observed serial, lag seconds)
    pub observed: Vec<(String, String, Option<u32>, f64)>,
    /// (zone, converged)
    pub converged: Vec<(String, bool)>,
    /// (zone, peer, error class) of SOA checks that failed
    pub errors: Vec<(String, String, &'static str)>,
}

/// This node's Raft state as the metrics show it (read at scrape time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaftView {
    pub term: u64,
    pub leader: bool,
    pub has_quorum: bool,
    pub last_log_index: u64,
    pub applied_index: u64,
}

impl Metrics {
    pub fn new(udp_path: &'static str) -> Metrics {
        let mut registry = Registry::with_prefix("nebula");
        let query_family = Family::<QueryLabels, Counter>::default();
        let mut queries = Vec::with_capacity(PROTOS.len() * QTYPES.len() * RCODES.len());
        for proto in PROTOS {
            for (_, qtype) in QTYPES {
                for (_, rcode) in RCODES {
                    queries.push(
                        query_family
                            .get_or_create(&QueryLabels {
                                proto: proto.as_str(),
                                qtype,
                                rcode,
                            })
                            .clone(),
                    );
                }
            }
        }
        registry.register(
            "dns_queries",
            "DNS queries answered, by transport, query type and response code",
            query_family,
        );
        let duration = LatencyHistogram::default();
        registry.register_with_unit(
            "dns_query_duration",
            "Time from a query's arrival to its response being ready",
            Unit::Seconds,
            duration.clone(),
        );
        let dropped_family = Family::<ReasonLabels, Counter>::default();
        let dropped = DropReason::ALL
            .iter()
            .map(|r| {
                dropped_family
                    .get_or_create(&ReasonLabels { reason: r.as_str() })
                    .clone()
            })
            .collect();
        registry.register(
            "dns_dropped",
            "Packets dropped without a response, by reason",
            dropped_family,
        );
        let formerr_family = Family::<ReasonLabels, Counter>::default();
        let formerr = DecodeErrorKind::ALL
            .iter()
            .map(|k| {
                formerr_family
                    .get_or_create(&ReasonLabels { reason: k.as_str() })
                    .clone()
            })
            .collect();
        registry.register(
            "dns_formerr",
            "Queries answered FORMERR, by the decoding error",
            formerr_family,
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                udp_path,
            })
            .set(1);
        registry.register(
            "build_info",
            "Build information; the value is always 1",
            build,
        );
        let resident_memory = Gauge::<i64, AtomicI64>::default();
        registry.register_with_unit(
            "process_resident_memory",
            "Resident set size of the process",
            Unit::Bytes,
            resident_memory.clone(),
        );
        let virtual_memory = Gauge::<i64, AtomicI64>::default();
        registry.register_with_unit(
            "process_virtual_memory",
            "Virtual memory size of the process",
            Unit::Bytes,
            virtual_memory.clone(),
        );
        let zones_served = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "zones_served",
            "Zones in the catalog the data plane answers from",
            zones_served.clone(),
        );
        let ready = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "ready",
            "1 when listeners are bound and zones loaded",
            ready.clone(),
        );
        let reloads_failed = Counter::default();
        registry.register(
            "reload_failures",
            "Reloads refused because validation failed",
            reloads_failed.clone(),
        );
        let raft: [Gauge<i64, AtomicI64>; 5] = Default::default();
        for (gauge, (name, help)) in raft.iter().zip([
            ("raft_term", "The current Raft term"),
            ("raft_leader", "1 while this node is the Raft leader"),
            ("raft_has_quorum", "1 while this node reaches a majority through a leader (writes possible); 0: DNS serves the last committed data"),
            ("raft_last_log_index", "The last Raft log index on this node"),
            ("raft_applied_index", "The last Raft log index applied to this node's zones"),
        ]) {
            registry.register(name, help, gauge.clone());
        }
        let transfers = Family::<TransferLabels, Counter>::default();
        registry.register(
            "axfr_attempts",
            "Zone transfers (AXFR and IXFR), by peer, zone, direction and result",
            transfers.clone(),
        );
        let transfer_success = Family::<PeerZoneLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "axfr_last_success_timestamp_seconds",
            "When the last transfer of the zone with the peer succeeded (Unix time)",
            transfer_success.clone(),
        );
        let propagation = Propagation::default();
        registry.register(
            "peer_version_info",
            "A secondary's software and version as its answers give them away (always 1)",
            propagation.peer_version.clone(),
        );
        registry.register(
            "zone_current_soa_serial",
            "The SOA serial this node serves for the zone",
            propagation.zone_serial.clone(),
        );
        registry.register(
            "secondary_observed_soa_serial",
            "The SOA serial the secondary answered with at the last check",
            propagation.observed_serial.clone(),
        );
        registry.register(
            "zone_propagation_lag_seconds",
            "How long the secondary has been behind our serial (0 when it serves it)",
            propagation.lag.clone(),
        );
        registry.register(
            "zone_propagation_converged",
            "1 when every required secondary of the zone serves our serial",
            propagation.converged.clone(),
        );
        registry.register(
            "secondary_soa_check_error",
            "1 while the last SOA check of the zone on the secondary failed, by wire error (timeout, connection_refused, formerr, refused, notauth, badsig, badkey, badtime, servfail, not_authoritative, other)",
            propagation.check_error.clone(),
        );
        Metrics {
            propagation,
            registry,
            queries,
            duration,
            dropped,
            formerr,
            resident_memory,
            virtual_memory,
            zones_served,
            ready,
            reloads_failed,
            raft,
            transfers,
            transfer_success,
        }
    }

    /// Counts one transfer; `result` is `ok`, `refused`, `notauth`, `error`, or a TSIG failure
    /// (`badkey`, `badsig`, `badtime`, `badtrunc`, `formerr`, `unsigned`).
    pub fn count_transfer(
        &self,
        peer: &str,
        zone: &str,
        direction: &'static str,
        result: &'static str,
    ) {
        self.transfers
            .get_or_create(&TransferLabels {
                peer: peer.to_owned(),
                zone: zone.to_owned(),
                direction,
                result,
            })
            .inc();
        if result == "ok" {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            self.transfer_success
                .get_or_create(&PeerZoneLabels {
                    peer: peer.to_owned(),
                    zone: zone.to_owned(),
                })
                .set(now);
        }
    }

    /// Replaces the propagation series with one verifier pass.
    pub fn set_propagation(&self, view: &PropagationView) {
        let p = &self.propagation;
        p.peer_version.clear();
        for (peer, software, version) in &view.versions {
            p.peer_version
                .get_or_create(&PeerVersionLabels {
                    peer: peer.clone(),
                    software: software.clone(),
                    version: version.clone(),
                })
                .set(1);
        }
        p.zone_serial.clear();
        for (zone, serial) in &view.zones {
            p.zone_serial
                .get_or_create(&ZoneLabels { zone: zone.clone() })
                .set(i64::from(*serial));
        }
        p.observed_serial.clear();
        p.lag.clear();
        for (zone, peer, serial, lag) in &view.observed {
            let labels = ZonePeerLabels {
                zone: zone.clone(),
                peer: peer.clone(),
            };
            if let Some(serial) = serial {
                p.observed_serial
                    .get_or_create(&labels)
                    .set(i64::from(*serial));
            }
            p.lag.get_or_create(&labels).set(*lag);
        }
        p.check_error.clear();
        for (zone, peer, error) in &view.errors {
            p.check_error
                .get_or_create(&CheckErrorLabels {
                    zone: zone.clone(),
                    peer: peer.clone(),
                    error,
                })
                .set(1);
        }
        p.converged.clear();
        for (zone, converged) in &view.converged {
            p.converged
                .get_or_create(&ZoneLabels { zone: zone.clone() })
                .set(i64::from(*converged));
        }
    }

    pub fn set_raft(&self, view: RaftView) {
        let values = [
            view.term,
            u64::from(view.leader),
            u64::from(view.has_quorum),
            view.last_log_index,
            view.applied_index,
        ];
        for (gauge, value) in self.raft.iter().zip(values) {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Counts one answered query. Hot path: index arithmetic and one relaxed atomic add.
    pub fn count_query(&self, proto: Transport, qtype: RType, rcode: Rcode, elapsed: Duration) {
        let p = match proto {
            Transport::Udp => 0,
            Transport::Tcp => 1,
        };
        let q = QTYPES
            .iter()
            .position(|(t, _)| *t == qtype)
            .unwrap_or(QTYPES.len() - 1);
        let r = RCODES
            .iter()
            .position(|(c, _)| *c == rcode)
            .unwrap_or(RCODES.len() - 1);
        if let Some(counter) = self.queries.get((p * QTYPES.len() + q) * RCODES.len() + r) {
            counter.inc();
        }
        self.duration.observe(elapsed);
    }

    pub fn count_dropped(&self, reason: DropReason) {
        if let Some(i) = DropReason::ALL.iter().position(|r| *r == reason) {
            self.dropped[i].inc();
        }
    }

    pub fn count_formerr(&self, kind: DecodeErrorKind) {
        if let Some(i) = DecodeErrorKind::ALL.iter().position(|k| *k == kind) {
            self.formerr[i].inc();
        }
    }

    pub fn set_zones_served(&self, count: usize) {
        self.zones_served
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    pub fn count_reload_failure(&self) {
        self.reloads_failed.inc();
    }

    /// The text exposition, with process memory read fresh.
    pub fn render(&self) -> String {
        if let Some((rss, vsz)) = read_process_memory() {
            self.resident_memory.set(rss);
            self.virtual_memory.set(vsz);
        }
        let mut out = String::new();
        // Encoding into a String cannot fail except on fmt errors from our own label types.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Number of latency buckets: upper bounds 2^(10+i) ns, i.e. about 1 µs up to 1 s, then +Inf.
const LATENCY_BUCKETS: usize = 21;

/// A latency histogram made of relaxed atomics: recording is a bucket index from the bit length
/// of the nanoseconds and three atomic adds, with no lock (prometheus-client's histogram takes a
/// write lock per observation, which all workers would contend on).
#[derive(Debug, Default, Clone)]
pub struct LatencyHistogram {
    cells: Arc<HistogramCells>,
}

#[derive(Debug, Default)]
struct HistogramCells {
    /// Non-cumulative counts; the last bucket is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let cells = &self.cells;
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        // Bucket i holds values ≤ 2^(10+i) ns.
        let bits = 64 - nanos.saturating_sub(1).leading_zeros() as usize;
        let index = bits.saturating_sub(10).min(LATENCY_BUCKETS);
        cells.buckets[index].fetch_add(1, Ordering::Relaxed);
        cells.count.fetch_add(1, Ordering::Relaxed);
        cells.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn upper_bound_seconds(index: usize) -> f64 {
        if index >= LATENCY_BUCKETS {
            f64::MAX
        } else {
            (1u64 << (10 + index)) as f64 / 1e9
        }
    }
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let cells = &self.cells;
        let buckets: Vec<(f64, u64)> = cells
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (Self::upper_bound_seconds(i), b.load(Ordering::Relaxed)))
            .collect();
        let sum = cells.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(
            sum,
            cells.count.load(Ordering::Relaxed),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Resident and virtual size from `/proc/self/status` (Linux), in bytes.
fn read_process_memory() -> Option<(i64, i64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<i64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmSize:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_pre_registered_series() {
        let m = Metrics::new("recvmmsg");
        m.count_query(
            Transport::Udp,
            RType::A,
            Rcode::NOERROR,
            Duration::from_micros(20),
        );
        m.count_query(
            Transport::Tcp,
            RType(65000),
            Rcode::REFUSED,
            Duration::from_micros(20),
        );
        m.count_formerr(DecodeErrorKind::PointerLoop);
        let text = m.render();
        assert!(
            text.contains(
                "nebula_dns_queries_total{proto=\"udp\",qtype=\"A\",rcode=\"NOERROR\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains(
            "nebula_dns_queries_total{proto=\"tcp\",qtype=\"other\",rcode=\"REFUSED\"} 1"
        ));
        assert!(text.contains("nebula_dns_formerr_total{reason=\"pointer_loop\"} 1"));
        assert!(text.contains("nebula_dns_dropped_total{reason=\"response\"} 0"));
        assert!(text.contains("nebula_dns_query_duration_seconds_count 2"));
        // 20 µs lands in the ≤ 32.768 µs bucket (2^15 ns), cumulative from there on.
        assert!(
            text.contains("nebula_dns_query_duration_seconds_bucket{le=\"0.000016384\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("nebula_dns_query_duration_seconds_bucket{le=\"0.000032768\"} 2"),
            "{text}"
        );
        assert!(text.contains("nebula_dns_query_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("nebula_build_info{version="));
        assert!(text.contains("nebula_process_resident_memory_bytes"));
    }
}

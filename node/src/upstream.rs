//! The secondary role: zones transferred from external primaries (BIND, Knot, NSD, PowerDNS).
//!
//! The leader checks each such zone's SOA on its primaries at the zone's refresh interval (its
//! SOA refresh, or retry after a failure; bounded to 5 s - 1 h) and at once on a NOTIFY from one
//! of them (RFC 1996). When a primary has a newer serial (RFC 1982) the leader asks for IXFR
//! from the serial it serves (AXFR when it has none), checks every message's TSIG when the zone
//! has a key, applies the differences (or takes the whole zone) and commits the result through
//! Raft as one version carrying the primary's serial, so the whole cluster serves it.
//!
//! NOTIFY in ([`crate::notify::answer_notify`]) runs on the data plane: a NOTIFY for such a zone from one of
//! its primaries (signed with the zone's key, when it has one) is acknowledged and wakes the
//! refresher; anything else is REFUSED (NOTAUTH for a bad signature).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use nebula_raft::Cluster;
use nebula_store::records::Upstream;
use nebula_store::serial::{serial_gt, SerialPolicy};
use nebula_store::snapshot::Catalog;
use nebula_store::state::{Command, UPSTREAM_AUTHOR};
use nebula_wire::tsig::{Key, Stream};
use nebula_wire::{Class, Message, Name, RData, RType, Rcode, Record};
use tokio::sync::{mpsc, watch};

use crate::dns_client;
use crate::transfer::Policy;
use crate::tsig::{answer_error, unix_now, unix_timers};

/// Bounds of the refresh interval.
const MIN_REFRESH: Duration = Duration::from_secs(5);
const MAX_REFRESH: Duration = Duration::from_secs(3600);
/// How long a whole transfer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one SOA check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What the refresher needs.
#[derive(Debug, Clone)]
pub struct Refresher {
    pub cluster: Arc<Cluster>,
    pub policy: Arc<Policy>,
    pub catalog: Arc<ArcSwap<Catalog>>,
}

/// Per zone: when to look next, and the serial last taken (a primary may bump its serial
/// without changing content, which makes no new version here).
#[derive(Debug)]
struct Timer {
    next: Instant,
    taken: Option<u32>,
}

/// Runs until `stop` turns true; `kicks` carries zones (lower-case, absolute) a primary
/// notified.
pub async fn run(
    refresher: Refresher,
    mut kicks: mpsc::Receiver<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut timers: HashMap<String, Timer> = HashMap::new();
    loop {
        let mut kicked = Vec::new();
        while let Ok(zone) = kicks.try_recv() {
            kicked.push(zone);
        }
        if refresher.cluster.is_leader() {
            let upstreams = refresher.policy.peers.load().upstreams.clone();
            timers.retain(|zone, _| upstreams.iter().any(|u| u.zone == *zone));
            for upstream in &upstreams {
                let timer = timers.entry(upstream.zone.clone()).or_insert(Timer {
                    next: Instant::now(),
                    taken: None,
                });
                if timer.next > Instant::now() && !kicked.contains(&upstream.zone) {
                    continue;
                }
                let (outcome, wait) = refresher.refresh(upstream, timer.taken).await;
                match outcome {
                    Ok(Some(serial)) => timer.taken = Some(serial),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(zone = %upstream.zone, error = %e, "secondary zone not refreshed")
                    }
                }
                timer.next = Instant::now() + wait;
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            Some(zone) = kicks.recv() => kicked_again(&mut timers, zone),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// A NOTIFY that arrived while the refresher slept: due now.
fn kicked_again(timers: &mut HashMap<String, Timer>, zone: String) {
    if let Some(timer) = timers.get_mut(&zone) {
        timer.next = Instant::now();
    }
}

/// The refresh and retry intervals of a zone's SOA, bounded.
fn intervals(soa: Option<&RData>) -> (Duration, Duration) {
    let bound = |secs: u32| Duration::from_secs(u64::from(secs)).clamp(MIN_REFRESH, MAX_REFRESH);
    match soa {
        Some(RData::Soa(soa)) => (bound(soa.refresh), bound(soa.retry)),
        _ => (Duration::from_secs(60), Duration::from_secs(30)),
    }
}

impl Refresher {
    /// Checks one zone and transfers it when a primary has a newer serial; returns the serial
    /// taken (if any) and how long to wait before the next check.
    async fn refresh(
        &self,
        upstream: &Upstream,
        taken: Option<u32>,
    ) -> (Result<Option<u32>, String>, Duration) {
        let key = match &upstream.key {
            Some(name) => match self.policy.key(name) {
                Some(key) => Some(key),
                None => {
                    return (
                        Err(format!("the zone's TSIG key {name} does not exist")),
                        Duration::from_secs(30),
                    )
                }
            },
            None => None,
        };
        let Ok(origin) = Name::from_text(&upstream.zone, Some(&Name::root())) else {
            return (Err("bad zone name".to_owned()), MAX_REFRESH);
        };
        let served = self
            .catalog
            .load()
            .get(origin.to_lowercase().as_wire())
            .cloned();
        let ours = served.as_ref().map(|z| z.serial());
        let known = match (ours, taken) {
            (Some(a), Some(b)) if serial_gt(b, a) => Some(b),
            (a, b) => a.or(b),
        };
        let mut last_error = String::from("no primary");
        let mut retry = Duration::from_secs(30);
        for primary in &upstream.primaries {
            let primary = primary.0;
            let theirs = match dns_client::soa(primary, &origin, key.clone(), CHECK_TIMEOUT).await {
                Ok(soa) => soa,
                Err(e) => {
                    last_error = format!("{primary}: SOA check: {e}");
                    continue;
                }
            };
            let (refresh, retry_after) = intervals(Some(&theirs.rdata));
            retry = retry_after;
            let RData::Soa(soa) = &theirs.rdata else {
                continue;
            };
            if known.is_some_and(|known| !serial_gt(soa.serial, known)) {
                return (Ok(None), refresh);
            }
            let current = served.as_ref().map(|zone| {
                let mut records = Vec::new();
                for node in zone.nodes() {
                    for set in node.rrsets.iter() {
                        for rdata in set.rdatas.iter() {
                            records.push(Record::new(node.owner.clone(), set.ttl, rdata.clone()));
                        }
                    }
                }
                (zone.serial(), records)
            });
            match self.transfer(primary, &origin, key.clone(), current).await {
                Ok((records, kind, serial)) => {
                    let body: String = records.iter().map(|r| format!("{r}\n")).collect();
                    let command = Command::PutZone {
                        zone: upstream.zone.clone(),
                        body,
                        policy: Some(SerialPolicy::Increment),
                        create_only: false,
                    };
                    let author = format!("{UPSTREAM_AUTHOR}{primary}");
                    return match self.cluster.write(&author, None, command).await {
                        Ok(Ok(result)) => {
                            tracing::info!(zone = %upstream.zone, %primary, kind, serial, records = records.len(), version = ?result.version, "secondary zone transferred");
                            (Ok(Some(serial)), refresh)
                        }
                        Ok(Err(rejection)) => (
                            Err(format!(
                                "{primary}: the transferred zone was refused: {}",
                                rejection.message
                            )),
                            retry,
                        ),
                        Err(e) => (Err(format!("commit: {e}")), retry),
                    };
                }
                Err(e) => last_error = format!("{primary}: transfer: {e}"),
            }
        }
        (Err(last_error), retry)
    }

    /// IXFR from `current`'s serial (AXFR without one): the whole new zone, how it came and its
    /// serial.
    async fn transfer(
        &self,
        primary: SocketAddr,
        origin: &Name,
        key: Option<Key>,
        current: Option<(u32, Vec<Record>)>,
    ) -> Result<(Vec<Record>, &'static str, u32), String> {
        let qtype = if current.is_some() {
            RType::IXFR
        } else {
            RType::AXFR
        };
        let mut message = dns_client::query(origin, qtype, Class::IN);
        if let Some((serial, records)) = &current {
            // RFC 1995 §3: our SOA in the authority section.
            if let Some(soa) = records.iter().find(|r| r.rtype() == RType::SOA) {
                let mut soa = soa.clone();
                if let RData::Soa(data) = &mut soa.rdata {
                    data.serial = *serial;
                }
                message.authority.push(soa);
            }
        }
        let mut bytes = message.encode().map_err(|e| e.to_string())?;
        let mut verifier = key.map(|key| {
            let mut stream = Stream::request(key.clone());
            let mac = stream.sign(&mut bytes, unix_timers(), Rcode::NOERROR, &[]);
            Stream::after(key, &mac)
        });
        let records = tokio::time::timeout(TRANSFER_TIMEOUT, async {
            let mut stream = dns_client::connect(primary).await?;
            dns_client::write_framed(&mut stream, &bytes).await?;
            let mut records: Vec<Record> = Vec::new();
            loop {
                let reply = dns_client::read_framed(&mut stream).await?;
                if let Some(verifier) = &mut verifier {
                    verifier
                        .verify(&reply, unix_now())
                        .map_err(|e| format!("TSIG: {e}"))?;
                }
                let reply = Message::decode(&reply).map_err(|e| format!("undecodable: {e}"))?;
                if reply.header.rcode != 0 {
                    return Err(answer_error(&reply));
                }
                records.extend(reply.answers);
                if complete(&records) {
                    return Ok(records);
                }
            }
        })
        .await
        .map_err(|_| "timeout".to_owned())??;
        apply(records, current)
    }
}

/// The serial of a SOA record.
fn serial_of(record: &Record) -> Option<u32> {
    match &record.rdata {
        RData::Soa(soa) => Some(soa.serial),
        _ => None,
    }
}

/// Whether the records so far are a whole AXFR or IXFR answer.
fn complete(records: &[Record]) -> bool {
    let Some(new) = records.first().and_then(serial_of) else {
        return false;
    };
    if records.len() == 1 {
        return false;
    }
    let incremental = records.get(1).is_some_and(|r| r.rtype() == RType::SOA);
    let closing = records.iter().filter(|r| serial_of(r) == Some(new)).count();
    if incremental {
        // Opening, the last difference's new SOA, closing.
        closing >= 3 || (records.len() == 2 && closing == 2)
    } else {
        records.last().and_then(serial_of) == Some(new)
    }
}

/// The new zone from a transfer: the AXFR records, or `current` with the IXFR differences
/// applied in order.
fn apply(
    records: Vec<Record>,
    current: Option<(u32, Vec<Record>)>,
) -> Result<(Vec<Record>, &'static str, u32), String> {
    let new = records.first().and_then(serial_of).ok_or("no SOA first")?;
    let incremental = records.get(1).is_some_and(|r| r.rtype() == RType::SOA) && records.len() > 2;
    if !incremental {
        let mut zone = records;
        zone.pop();
        return Ok((zone, "AXFR", new));
    }
    let (_, mut zone) = current.ok_or("an incremental answer to an AXFR")?;
    let same = |a: &Record, b: &Record| a.name == b.name && a.rdata == b.rdata;
    // Sections alternate after the opening SOA: deletions led by an old SOA, additions led by
    // a new one; the closing SOA ends it. The first SOA starts deletions.
    let mut adding = true;
    for record in &records[1..records.len() - 1] {
        if record.rtype() == RType::SOA {
            adding = !adding;
            if adding {
                zone.retain(|r| r.rtype() != RType::SOA);
                zone.push(record.clone());
            }
            continue;
        }
        if adding {
            zone.push(record.clone());
        } else {
            zone.retain(|r| !same(r, record));
        }
    }
    Ok((zone, "IXFR", new))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(text: &str) -> Record {
        let origin = Name::from_text("up.test.", None).unwrap();
        let parsed = nebula_store::master::parse_str(text, &origin, "test").unwrap();
        let first = parsed.zone.records().next().unwrap();
        first
    }

    fn soa(serial: u32) -> Record {
        record(&format!(
            "@ 300 SOA ns1 hostmaster {serial} 3600 600 86400 300\n"
        ))
    }

    #[test]
    fn incremental_and_whole_answers_are_recognised_and_applied() {
        let a = record("a 300 A 192.0.2.1\n");
        let b = record("b 300 A 192.0.2.2\n");
        let c = record("c 300 A 192.0.2.3\n");
        let current = vec![soa(1), a.clone(), b.clone()];
        // Two differences, 1 → 2 (delete a, add c) and 2 → 3 (delete b).
        let ixfr = vec![
            soa(3),
            soa(1),
            a.clone(),
            soa(2),
            c.clone(),
            soa(2),
            b.clone(),
            soa(3),
            soa(3),
        ];
        for end in 1..ixfr.len() {
            assert!(
                !complete(&ixfr[..end]),
                "{end} records are not the whole answer"
            );
        }
        assert!(complete(&ixfr));
        let (zone, kind, serial) = apply(ixfr, Some((1, current))).unwrap();
        assert_eq!((kind, serial), ("IXFR", 3));
        assert_eq!(zone, vec![c.clone(), soa(3)]);

        let axfr = vec![soa(4), a.clone(), soa(4)];
        assert!(!complete(&axfr[..2]));
        assert!(complete(&axfr));
        let (zone, kind, serial) = apply(axfr, None).unwrap();
        assert_eq!((kind, serial, zone), ("AXFR", 4, vec![soa(4), a]));
        assert!(complete(&[soa(5), soa(5)]), "an up-to-date IXFR answer");
    }
}

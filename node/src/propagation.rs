//! The propagation verifier: is every secondary serving what we serve?
//!
//! On the leader, every `[propagation] poll_ms` it asks each declared secondary for the SOA of
//! each zone it takes (over TCP, signed with the secondary's TSIG key when it has one), and
//! fingerprints the secondary's software from its `version.bind` and `hostname.bind` CHAOS
//! answers (again every ten minutes). What it sees is committed through Raft only when it
//! changes (`peer/<name>`), so every node answers the API alike and a new leader carries on.
//!
//! Open deploys move on in one command per pass: pending → verifying at the first check, then
//! verified once every required secondary of the zone serves the deploy's serial (RFC 1982
//! order: a newer one counts), or failed when the SLA runs out, with each laggard's reason —
//! the wire error of the SOA check or the serial it serves, and the last transfer it failed.
//! Every node exports the propagation metrics from the replicated state.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use nebula_raft::Cluster;
use nebula_store::deploys::{
    open_deploys, read_peer_status, read_transfer_log, DeployPeer, DeployRecord, DeployState,
    Fingerprint, Observation, PeerStatus,
};
use nebula_store::records::{Secondary, SecondaryMode};
use nebula_store::serial::serial_gt;
use nebula_store::snapshot::Catalog;
use nebula_store::state::{now_ms, Command};
use nebula_wire::tsig::Key;
use nebula_wire::{Class, Edns, Message, Name, RData, RType};
use tokio::sync::watch;

use crate::dns_client;
use crate::metrics::{Metrics, PropagationView};
use crate::transfer::Policy;
use crate::tsig::answer_error;

/// How long one SOA check or fingerprint query may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a secondary's software is fingerprinted again.
const FINGERPRINT_EVERY_MS: u64 = 10 * 60 * 1000;
/// The author of the verifier's writes in the audit log.
const AUTHOR: &str = "propagation-verifier";

/// What the verifier needs.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub cluster: Arc<Cluster>,
    pub policy: Arc<Policy>,
    pub catalog: Arc<ArcSwap<Catalog>>,
    pub metrics: Arc<Metrics>,
    pub poll: Duration,
}

/// Runs until `stop` turns true.
pub async fn run(verifier: Verifier, mut stop: watch::Receiver<bool>) {
    let mut passes = 0u64;
    loop {
        passes += 1;
        // Idle, the secondaries are checked ten times less often. Only the leader looks for
        // open deploys: the scan walks every deploy closed since the last memtable flush.
        let due = || {
            passes % 10 == 1
                || open_deploys(verifier.cluster.db()).is_ok_and(|open| !open.is_empty())
        };
        if verifier.cluster.is_leader() && due() {
            if let Err(e) = verifier.pass().await {
                tracing::warn!(error = %e, "propagation check incomplete");
            }
        }
        verifier.export();
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(verifier.poll) => {}
        }
    }
}

/// The serial we serve for each zone (lower-case absolute name).
fn served(catalog: &Catalog) -> BTreeMap<String, u32> {
    catalog
        .zones()
        .map(|z| (z.origin().to_lowercase().to_string(), z.serial()))
        .collect()
}

impl Verifier {
    /// One pass on the leader: check, record what changed, move the open deploys on.
    async fn pass(&self) -> Result<(), String> {
        let db = self.cluster.db();
        // Fresh: a deploy is judged by the secondaries declared when it is checked.
        self.policy.peers.reload(db).map_err(|e| e.to_string())?;
        let peers = self.policy.peers.load();
        let served = served(&self.catalog.load());
        let now = now_ms();
        let mut statuses = BTreeMap::new();
        for secondary in &peers.list {
            let old = read_peer_status(db, &secondary.name)
                .map_err(|e| e.to_string())?
                .unwrap_or_else(|| PeerStatus {
                    name: secondary.name.clone(),
                    ..PeerStatus::default()
                });
            let mut status = old.clone();
            let key = secondary.key.as_deref().and_then(|k| self.policy.key(k));
            if status.fingerprint.checked_ms + FINGERPRINT_EVERY_MS <= now {
                status.fingerprint = fingerprint(secondary.address.0, now).await;
            }
            status
                .zones
                .retain(|zone, _| served.contains_key(zone) && secondary.takes(zone));
            for (zone, &ours) in &served {
                if !secondary.takes(zone) {
                    continue;
                }
                let checked = check_soa(secondary.address.0, zone, key.clone()).await;
                let previous = status.zones.get(zone).cloned().unwrap_or_default();
                let (serial, error) = match checked {
                    Ok(serial) => (Some(serial), String::new()),
                    Err(error) => (None, error),
                };
                let behind = serial.is_none_or(|s| serial_gt(ours, s));
                let behind_since_ms = match (behind, previous.behind_since_ms) {
                    (false, _) => 0,
                    (true, 0) => now,
                    (true, since) => since,
                };
                status.zones.insert(
                    zone.clone(),
                    Observation {
                        serial,
                        error,
                        // Only a change is committed: the check time moves with it.
                        checked_ms: if serial == previous.serial
                            && behind_since_ms == previous.behind_since_ms
                        {
                            previous.checked_ms
                        } else {
                            now
                        },
                        behind_since_ms,
                    },
                );
            }
            if status != old {
                self.write(Command::PutPeerStatus {
                    status: status.clone(),
                })
                .await?;
            }
            statuses.insert(secondary.name.clone(), status);
        }
        let moved = self.advance(&peers.list, &statuses, now)?;
        if !moved.is_empty() {
            self.write(Command::PutDeploys { deploys: moved }).await?;
        }
        Ok(())
    }

    /// The open deploys that change state in this pass, changed.
    fn advance(
        &self,
        secondaries: &[Secondary],
        statuses: &BTreeMap<String, PeerStatus>,
        now: u64,
    ) -> Result<Vec<DeployRecord>, String> {
        let db = self.cluster.db();
        let mut moved = Vec::new();
        for mut deploy in open_deploys(db).map_err(|e| e.to_string())? {
            let mut peers = Vec::new();
            for secondary in secondaries.iter().filter(|s| s.takes(&deploy.zone)) {
                let observed = statuses
                    .get(&secondary.name)
                    .and_then(|s| s.zones.get(&deploy.zone));
                let serial = observed.and_then(|o| o.serial);
                let ok = serial.is_some_and(|s| !serial_gt(deploy.serial, s));
                let reason = if ok {
                    String::new()
                } else {
                    let seen = match (serial, observed) {
                        (Some(s), _) => format!("serves serial {s}, not {}", deploy.serial),
                        (None, Some(o)) if !o.error.is_empty() => format!("SOA check: {}", o.error),
                        _ => "not checked yet".to_owned(),
                    };
                    let transfer = read_transfer_log(db, &secondary.name)
                        .ok()
                        .and_then(|log| log.last_failure)
                        .filter(|f| f.zone == deploy.zone && f.time_ms + 1000 >= deploy.created_ms)
                        .map(|f| {
                            format!(
                                "; last transfer from us failed: {} ({}) on node {}",
                                f.result.to_uppercase(),
                                f.reason,
                                f.node
                            )
                        })
                        .unwrap_or_default();
                    format!("{seen}{transfer}")
                };
                peers.push(DeployPeer {
                    name: secondary.name.clone(),
                    required: secondary.mode == SecondaryMode::Required,
                    observed_serial: serial,
                    ok,
                    reason,
                });
            }
            let converged = peers.iter().all(|p| p.ok || !p.required);
            let expired = now >= deploy.created_ms + deploy.sla_seconds * 1000;
            let state = if converged {
                DeployState::Verified
            } else if expired {
                DeployState::Failed
            } else {
                DeployState::Verifying
            };
            if state == deploy.state && peers == deploy.peers {
                continue;
            }
            deploy.reason = if state == DeployState::Failed {
                peers
                    .iter()
                    .filter(|p| p.required && !p.ok)
                    .map(|p| format!("{}: {}", p.name, p.reason))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                String::new()
            };
            deploy.state = state;
            deploy.peers = peers;
            deploy.updated_ms = now;
            moved.push(deploy);
        }
        Ok(moved)
    }

    async fn write(&self, command: Command) -> Result<(), String> {
        match self.cluster.write(AUTHOR, None, command).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(rejection)) => Err(rejection.message),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The metrics from the replicated state (on every node).
    fn export(&self) {
        let db = self.cluster.db();
        let peers = self.policy.peers.load();
        let served = served(&self.catalog.load());
        let now = now_ms();
        let mut view = PropagationView::default();
        let mut converged: BTreeMap<String, bool> = BTreeMap::new();
        for (zone, serial) in &served {
            view.zones.push((zone.clone(), *serial));
        }
        for secondary in &peers.list {
            let Ok(Some(status)) = read_peer_status(db, &secondary.name) else {
                continue;
            };
            if !status.fingerprint.software.is_empty() {
                view.versions.push((
                    secondary.name.clone(),
                    status.fingerprint.software.clone(),
                    status.fingerprint.version.clone(),
                ));
            }
            for (zone, observed) in &status.zones {
                let Some(&ours) = served.get(zone) else {
                    continue;
                };
                let ok = observed.serial.is_some_and(|s| !serial_gt(ours, s));
                let lag = if ok || observed.behind_since_ms == 0 {
                    0.0
                } else {
                    now.saturating_sub(observed.behind_since_ms) as f64 / 1000.0
                };
                view.observed
                    .push((zone.clone(), secondary.name.clone(), observed.serial, lag));
                if !observed.error.is_empty() {
                    view.errors.push((
                        zone.clone(),
                        secondary.name.clone(),
                        error_class(&observed.error),
                    ));
                }
                if secondary.mode == SecondaryMode::Required {
                    *converged.entry(zone.clone()).or_insert(true) &= ok;
                }
            }
        }
        for zone in served.keys() {
            view.converged
                .push((zone.clone(), converged.get(zone).copied().unwrap_or(true)));
        }
        self.metrics.set_propagation(&view);
    }
}

/// A bounded label for an SOA check error.
fn error_class(error: &str) -> &'static str {
    const CLASSES: [(&str, &str); 10] = [
        ("BADSIG", "badsig"),
        ("BADKEY", "badkey"),
        ("BADTIME", "badtime"),
        ("timeout", "timeout"),
        ("connection refused", "connection_refused"),
        ("FORMERR", "formerr"),
        ("REFUSED", "refused"),
        ("NOTAUTH", "notauth"),
        ("SERVFAIL", "servfail"),
        ("not authoritative", "not_authoritative"),
    ];
    CLASSES
        .iter()
        .find(|(needle, _)| error.contains(needle))
        .map_or("other", |(_, class)| class)
}

/// The SOA serial `to` serves for `zone`, or the wire reason it does not.
async fn check_soa(to: SocketAddr, zone: &str, key: Option<Key>) -> Result<u32, String> {
    let name = Name::from_text(zone, Some(&Name::root())).map_err(|e| e.to_string())?;
    match dns_client::soa(to, &name, key, CHECK_TIMEOUT).await?.rdata {
        RData::Soa(soa) => Ok(soa.serial),
        _ => Err("no SOA in the answer".to_owned()),
    }
}

/// A CHAOS TXT answer's text, or how it was refused.
async fn chaos_txt(to: SocketAddr, name: &str) -> String {
    let Ok(name) = Name::from_text(name, Some(&Name::root())) else {
        return String::new();
    };
    let Ok(query) = dns_client::query(&name, RType::TXT, Class::CH).encode() else {
        return String::new();
    };
    let reply = match dns_client::exchange(to, &query, CHECK_TIMEOUT).await {
        Ok(reply) => reply,
        Err(e) => return format!("({e})"),
    };
    let Ok(reply) = Message::decode(&reply) else {
        return "(undecodable)".to_owned();
    };
    if reply.header.rcode != 0 {
        return format!("({})", answer_error(&reply));
    }
    reply
        .answers
        .iter()
        .find_map(|r| match &r.rdata {
            RData::Txt(strings) => Some(
                strings
                    .strings()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| "(no TXT)".to_owned())
}

/// What the secondary's answers say about its software.
async fn fingerprint(to: SocketAddr, now: u64) -> Fingerprint {
    let version_bind = chaos_txt(to, "version.bind.").await;
    let mut hostname = chaos_txt(to, "hostname.bind.").await;
    if hostname.starts_with('(') {
        hostname = chaos_txt(to, "id.server.").await;
    }
    let (software, version) = classify(&version_bind);
    Fingerprint {
        software: software.to_owned(),
        version,
        version_bind,
        hostname,
        probes: probes(to).await,
        checked_ms: now,
    }
}

/// The answers to an EDNS version 1 query and to opcode STATUS, each as its RCODE (or the
/// failure), for telling servers apart when `version.bind` is hidden.
async fn probes(to: SocketAddr) -> String {
    let root = Name::root();
    let mut edns1 = dns_client::query(&root, RType::SOA, Class::IN);
    edns1.set_edns(&Edns {
        udp_payload_size: 1232,
        extended_rcode: 0,
        version: 1,
        dnssec_ok: false,
        z: 0,
        options: &[],
    });
    let mut status = dns_client::query(&root, RType::SOA, Class::IN);
    status.header.opcode = 2;
    let mut out = Vec::new();
    for (label, message) in [("edns1", edns1), ("status", status)] {
        let answer = match message.encode() {
            Err(e) => format!("({e})"),
            Ok(bytes) => match dns_client::exchange(to, &bytes, CHECK_TIMEOUT).await {
                Err(e) => format!("({e})"),
                Ok(reply) => Message::decode(&reply).map_or_else(
                    |_| "(undecodable)".to_owned(),
                    |reply| reply.rcode().to_string(),
                ),
            },
        };
        out.push(format!("{label}={answer}"));
    }
    out.join(" ")
}

/// Software and version from a `version.bind` text: `9.18.28-1~deb12u2-Debian` is BIND,
/// `Knot DNS 3.2.6`, `NSD 4.6.1`, `PowerDNS Authoritative Server 4.7.3`, `NebulaDNS 0.1.0`.
fn classify(text: &str) -> (&'static str, String) {
    let word = |prefix: &str| {
        text.strip_prefix(prefix)
            .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
    };
    if let Some(v) = word("Knot DNS ") {
        ("knot", v)
    } else if let Some(v) = word("NSD ") {
        ("nsd", v)
    } else if let Some(v) = text.find("PowerDNS").and_then(|_| {
        text.split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .map(str::to_owned)
    }) {
        ("powerdns", v)
    } else if let Some(v) = word("NebulaDNS ") {
        ("nebuladns", v)
    } else if text.starts_with("9.") {
        let version: String = text
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        ("bind", version)
    } else {
        ("unknown", String::new())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn version_texts_name_the_software() {
        for (text, software, version) in [
            ("9.18.28-1~deb12u2-Debian", "bind", "9.18.28"),
            ("Knot DNS 3.2.6", "knot", "3.2.6"),
            ("NSD 4.6.1", "nsd", "4.6.1"),
            (
                "PowerDNS Authoritative Server 4.7.3 (built ...)",
                "powerdns",
                "4.7.3",
            ),
            ("NebulaDNS 0.1.0", "nebuladns", "0.1.0"),
            ("(REFUSED)", "unknown", ""),
            ("none of your business", "unknown", ""),
        ] {
            assert_eq!(classify(text), (software, version.to_owned()), "{text}");
        }
    }
}

//! NOTIFY (RFC 1996) out, and in for the zones taken from external primaries ([`answer_notify`]).
//!
//! Out: tells the declared secondaries (`[[secondary]]` and the API's) that a zone has a new
//! version, so they ask for it at once instead of waiting for their refresh timer.
//!
//! A watcher compares every zone's serial in the catalog with the serial last announced (zones
//! present at start-up are announced too, as BIND and Knot do on load) and starts one sender per
//! secondary that takes the zone. A sender sends NOTIFY (opcode 4, AA, the zone's SOA in the
//! question and the answer, RFC 1996 §3.7) from its own UDP socket and resends after 1, 2, 4, 8
//! and 16 seconds until a response with the same id arrives (signed with TSIG when the secondary
//! has a key); it stops early when a newer version
//! replaced the one it announces, since that version has a sender of its own.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use nebula_store::records::{Secondary, TransferNote};
use nebula_store::snapshot::{Catalog, ZoneSnapshot};
use nebula_wire::tsig::{Key, Stream};
use nebula_wire::{Class, Header, Message, Question, RType, Rcode, Record};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::transfer::Policy;
use crate::tsig::{answer_error, authenticate, sign_answer, unix_now, unix_timers};

/// How often the watcher looks for new versions.
const WATCH_INTERVAL: Duration = Duration::from_millis(100);
/// How long each try waits for the response (RFC 1996 §3.6 leaves the schedule to the primary).
const RETRY_WAITS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
];

/// Watches `catalog` until `stop` turns true, notifying the secondaries of every new version.
/// `resend` takes zones (lower-case wire names) to announce again now (`POST
/// /api/v1/zones/{zone}/notify`).
pub async fn run(
    catalog: Arc<ArcSwap<Catalog>>,
    policy: Arc<Policy>,
    mut resend: mpsc::Receiver<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    let ids = Arc::new(AtomicU16::new(initial_id()));
    // Per zone and secondary, the serial last announced: a secondary declared later (by API)
    // hears of the current versions too.
    let mut announced: HashMap<(Vec<u8>, String), u32> = HashMap::new();
    loop {
        while let Ok(zone) = resend.try_recv() {
            announced.retain(|(z, _), _| *z != zone);
        }
        let current = catalog.load_full();
        let peers = policy.peers.load();
        for zone in current.zones() {
            let key = zone.origin_key();
            for secondary in peers.taking(key) {
                let seen = (key.to_vec(), secondary.name.clone());
                if announced.get(&seen) == Some(&zone.serial()) {
                    continue;
                }
                announced.insert(seen, zone.serial());
                let id = ids.fetch_add(1, Ordering::Relaxed);
                let signing = match &secondary.key {
                    None => None,
                    Some(name) => match policy.key(name) {
                        Some(key) => Some(key),
                        None => {
                            tracing::warn!(secondary = %secondary.name, key = %name, "NOTIFY not sent: the secondary's TSIG key does not exist");
                            continue;
                        }
                    },
                };
                tokio::spawn(send(
                    Arc::clone(&catalog),
                    Arc::clone(zone),
                    secondary.clone(),
                    signing,
                    id,
                    Arc::clone(&policy),
                ));
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
    }
}

/// Message ids start somewhere unpredictable so a restarted node does not repeat the last run's.
fn initial_id() -> u16 {
    let mut bytes = [0u8; 2];
    let _ = getrandom::fill(&mut bytes);
    u16::from_be_bytes(bytes)
}

fn notify_message(zone: &ZoneSnapshot, id: u16) -> Option<Vec<u8>> {
    let soa = zone.apex()?.rrset(RType::SOA)?;
    let message = Message {
        header: Header {
            id,
            opcode: 4,
            aa: true,
            ..Header::default()
        },
        questions: vec![Question {
            name: zone.origin().clone(),
            qtype: RType::SOA,
            qclass: Class::IN,
        }],
        answers: soa
            .rdatas
            .first()
            .map(|rdata| Record::new(zone.origin().clone(), soa.ttl, rdata.clone()))
            .into_iter()
            .collect(),
        authority: Vec::new(),
        additional: Vec::new(),
    };
    message.encode().ok()
}

/// Sends one NOTIFY until it is answered, replaced or given up.
async fn send(
    catalog: Arc<ArcSwap<Catalog>>,
    zone: Arc<ZoneSnapshot>,
    to: Secondary,
    key: Option<Key>,
    id: u16,
    policy: Arc<Policy>,
) {
    let origin = zone.origin().to_string();
    let serial = zone.serial();
    let address = to.address.0;
    let Some(mut packet) = notify_message(&zone, id) else {
        return;
    };
    if let Some(key) = key {
        // Signed once: the retries end well within the fudge.
        Stream::request(key).sign(&mut packet, unix_timers(), Rcode::NOERROR, &[]);
    }
    let socket = match bind_for(address).await {
        Ok(socket) => socket,
        Err(e) => {
            tracing::warn!(secondary = %to.name, zone = %origin, error = %e, "cannot send NOTIFY: no UDP socket");
            return;
        }
    };
    for (attempt, wait) in RETRY_WAITS.iter().enumerate() {
        let replaced = catalog
            .load()
            .get(zone.origin_key())
            .is_none_or(|now| now.serial() != serial);
        if replaced {
            return;
        }
        if let Err(e) = socket.send_to(&packet, address).await {
            tracing::debug!(secondary = %to.name, zone = %origin, error = %e, "NOTIFY not sent");
        } else if let Ok(Some(reply)) =
            tokio::time::timeout(*wait, response(&socket, address, id)).await
        {
            let rcode = reply.header.rcode;
            tracing::info!(secondary = %to.name, address = %address, zone = %origin, serial, tries = attempt + 1, rcode, "NOTIFY answered");
            if rcode != 0 {
                // The secondary refused it (a wrong key answers NOTAUTH/BADSIG): as telling as a
                // failed transfer.
                let error = answer_error(&reply);
                if let Some(notes) = policy.notes.get() {
                    notes(TransferNote {
                        peer: to.name.clone(),
                        zone: zone.origin().to_lowercase().to_string(),
                        node: 0,
                        time_ms: unix_now() * 1000,
                        kind: "NOTIFY".to_owned(),
                        result: error.to_lowercase().replace("notauth/", ""),
                        serial: Some(serial),
                        bytes: 0,
                        reason: format!("the secondary answered our NOTIFY with {error}"),
                    });
                }
            }
            return;
        }
    }
    tracing::warn!(
        secondary = %to.name,
        address = %address,
        zone = %origin,
        serial,
        tries = RETRY_WAITS.len(),
        "NOTIFY unanswered; the secondary will only see the change at its next SOA refresh"
    );
}

/// A UDP socket of the address family of `to`.
async fn bind_for(to: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    UdpSocket::bind((any, 0)).await
}

/// Waits for the response to NOTIFY `id` from `from`, or None when the socket
/// fails (the caller tries again).
async fn response(socket: &UdpSocket, from: SocketAddr, id: u16) -> Option<Message> {
    let mut buffer = [0u8; 1232];
    loop {
        let (len, sender) = socket.recv_from(&mut buffer).await.ok()?;
        if sender != from {
            continue;
        }
        if let Ok(reply) = Message::decode(&buffer[..len]) {
            if reply.header.qr && reply.header.opcode == 4 && reply.header.id == id {
                return Some(reply);
            }
        }
    }
}

/// Answers a NOTIFY (opcode 4) from the data plane: acknowledged (and the refresher woken) for
/// a zone we take from the sender; REFUSED otherwise.
pub fn answer_notify(packet: &[u8], client: IpAddr, policy: &Policy) -> Option<Vec<u8>> {
    let message = Message::decode(packet).ok()?;
    if message.header.qr {
        return None;
    }
    let question = message.questions.first()?;
    let zone = question.name.to_lowercase().to_string();
    let peers = policy.peers.load();
    let upstream = peers.upstreams.iter().find(|u| {
        u.zone == zone
            && u.primaries
                .iter()
                .any(|p| p.0.ip().to_canonical() == client.to_canonical())
    });
    let signed = message
        .additional
        .last()
        .is_some_and(|r| r.rtype() == RType::TSIG);
    let verified = signed && authenticate(packet, policy, unix_now()).is_ok();
    let rcode = match upstream {
        None => Rcode::REFUSED,
        Some(u) if u.key.is_some() && !verified => Rcode::NOTAUTH,
        Some(_) => {
            if let Some(kick) = policy.kicks.get() {
                kick(zone.clone());
            }
            Rcode::NOERROR
        }
    };
    tracing::info!(%client, zone, rcode = %rcode, "NOTIFY received");
    let reply = Message {
        header: Header {
            id: message.header.id,
            qr: true,
            opcode: 4,
            aa: rcode == Rcode::NOERROR,
            rcode: rcode.0 as u8,
            ..Header::default()
        },
        questions: message.questions.clone(),
        ..Message::default()
    };
    let mut bytes = reply.encode().ok()?;
    if signed {
        sign_answer(packet, &mut bytes, policy, usize::from(u16::MAX), client);
    }
    Some(bytes)
}

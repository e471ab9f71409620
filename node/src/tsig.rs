//! TSIG (RFC 8945) on the serving side: verifying a signed request against the replicated
//! keys, and signing the answer (every message of a transfer, or the one answer to a query) or
//! answering with the TSIG error (§5.2).
//!
//! The data plane calls [`sign_answer`] only for queries that carry a TSIG record (the answer
//! engine reports it), so unsigned queries pay nothing.

use nebula_wire::codec::Reader;
use nebula_wire::rdata::Tsig;
use nebula_wire::tsig::{self, Algorithm, Failure, Stream, Timers, DEFAULT_FUDGE};
use std::net::IpAddr;

use nebula_store::records::TransferNote;
use nebula_wire::{Header, Message, Name, QueryView, RData, Rcode};

use crate::transfer::Policy;

/// The current time for TSIG.
pub fn unix_now() -> u64 {
    u64::from(crate::udp::unix_now())
}

/// Timers for a signature made now.
pub fn unix_timers() -> Timers {
    Timers {
        time: unix_now(),
        fudge: DEFAULT_FUDGE,
    }
}

/// How the messages of an answer are signed.
pub(crate) enum Signing {
    None,
    /// Each message, continuing the request's MAC chain; `time` overrides the time signed (the
    /// request's, in a BADTIME answer).
    Chain {
        stream: Box<Stream>,
        time: Option<u64>,
        error: Rcode,
        other: Vec<u8>,
    },
    /// An unsigned TSIG record that carries an error (BADKEY, BADSIG: RFC 8945 §5.2).
    Error {
        key_name: Name,
        tsig: Tsig,
    },
}

impl Signing {
    /// Signs (or appends the error record to) one finished message.
    pub(crate) fn apply(&mut self, message: &mut Vec<u8>, now: u64) {
        match self {
            Signing::None => {}
            Signing::Chain {
                stream,
                time,
                error,
                other,
            } => {
                let timers = Timers {
                    time: time.unwrap_or(now),
                    fudge: DEFAULT_FUDGE,
                };
                stream.sign(message, timers, *error, other);
            }
            Signing::Error { key_name, tsig } => tsig::append_tsig(message, key_name, tsig),
        }
    }

    pub(crate) fn chain(stream: Stream) -> Signing {
        Signing::Chain {
            stream: Box::new(stream),
            time: None,
            error: Rcode::NOERROR,
            other: Vec::new(),
        }
    }
}

/// A request whose TSIG did not verify: the answer's signing, its RCODE and why, for the log.
pub(crate) struct Unauthenticated {
    /// The key the request names (unverified: for the log and metrics only).
    pub key_name: Option<Name>,
    pub signing: Signing,
    pub rcode: Rcode,
    pub why: String,
    pub failure: &'static str,
}

/// Verifies a signed request (RFC 8945 §5.2): the key must be known with the algorithm used,
/// the MAC must match and the time must be within the fudge. Returns the answer's signing and
/// the key's name.
pub(crate) fn authenticate(
    raw: &[u8],
    policy: &Policy,
    now: u64,
) -> Result<(Signing, Name), Box<Unauthenticated>> {
    let found = match tsig::find(raw) {
        Ok(Some(found)) => found,
        Ok(None) | Err(_) => {
            return Err(Box::new(Unauthenticated {
                key_name: None,
                signing: Signing::None,
                rcode: Rcode::FORMERR,
                why: "malformed TSIG record".to_owned(),
                failure: "formerr",
            }))
        }
    };
    let unsigned = |failure: Failure| {
        Box::new(Unauthenticated {
            key_name: Some(found.key_name.to_lowercase()),
            signing: Signing::Error {
                key_name: found.key_name.clone(),
                tsig: tsig::unsigned_error(&found, now, failure.tsig_error()),
            },
            rcode: failure.rcode(),
            why: format!("TSIG key {}: {failure}", found.key_name),
            failure: failure.label(),
        })
    };
    let key = policy
        .store
        .get()
        .and_then(|store| store.tsig_key(&found.key_name.to_lowercase()))
        .filter(|key| Algorithm::from_name(&found.tsig.algorithm) == Some(key.algorithm));
    let Some(key) = key else {
        return Err(unsigned(Failure::BadKey));
    };
    match Stream::request(key.clone()).verify(raw, now) {
        Ok(_) => Ok((
            Signing::chain(Stream::after(key, &found.tsig.mac)),
            found.key_name.to_lowercase(),
        )),
        Err(Failure::BadTime) => Err(Box::new(Unauthenticated {
            key_name: Some(found.key_name.to_lowercase()),
            signing: Signing::Chain {
                stream: Box::new(Stream::after(key, &found.tsig.mac)),
                time: Some(found.tsig.time_signed),
                error: Rcode::BADTIME,
                other: tsig::badtime_other(now).to_vec(),
            },
            rcode: Rcode::NOTAUTH,
            why: format!(
                "TSIG key {}: {} (signed at {}, here it is {now})",
                found.key_name,
                Failure::BadTime,
                found.tsig.time_signed
            ),
            failure: "badtime",
        })),
        Err(failure) => Err(unsigned(failure)),
    }
}

/// Signs `response`, the engine's answer to the TSIG-signed `query`, continuing the query's MAC
/// chain; a query that does not verify gets its TSIG error answer instead (the engine's answer
/// is dropped: RFC 8945 §5.2). An answer that the TSIG record would push past `limit` octets
/// (UDP) is cut to its question with TC set, then signed (RFC 8945 §5.3).
///
/// A declared secondary whose query fails verification is reported like a failed transfer:
/// that is how a secondary with the wrong key fails (its SOA query, before any transfer).
pub fn sign_answer(
    query: &[u8],
    response: &mut Vec<u8>,
    policy: &Policy,
    limit: usize,
    client: IpAddr,
) {
    const TSIG_ROOM: usize = 100;
    let now = unix_now();
    let (mut signing, rcode) = match authenticate(query, policy, now) {
        Ok((signing, _)) => (signing, None),
        Err(failed) => {
            tracing::info!(%client, rcode = %failed.rcode, "signed query refused: {}", failed.why);
            report_query_failure(query, policy, client, &failed, now);
            (failed.signing, Some(failed.rcode))
        }
    };
    let cut = rcode.is_some() || response.len() + TSIG_ROOM > limit;
    if cut {
        let Some(end) = question_end(response) else {
            return;
        };
        response.truncate(end);
        // Counts: the question only.
        if let Some(counts) = response.get_mut(6..12) {
            counts.fill(0);
        }
        if let Some(flags) = response.get_mut(2..4) {
            match rcode {
                Some(rcode) => {
                    flags[1] = (flags[1] & 0xF0) | (rcode.0 as u8 & 0x0F);
                    flags[0] &= !0x04; // not authoritative
                }
                None => flags[0] |= 0x02, // TC
            }
        }
    }
    signing.apply(response, now);
}

/// Notes a declared secondary's failed signed query for the propagation verifier.
fn report_query_failure(
    query: &[u8],
    policy: &Policy,
    client: IpAddr,
    failed: &Unauthenticated,
    now: u64,
) {
    let Some(notes) = policy.notes.get() else {
        return;
    };
    let peers = policy.peers.load();
    let Some(secondary) = peers.at(client, failed.key_name.as_ref()) else {
        return;
    };
    let Ok(view) = QueryView::parse(query) else {
        return;
    };
    let zone = view.qname.to_name().to_lowercase().to_string();
    notes(TransferNote {
        peer: secondary.name.clone(),
        zone,
        node: 0,
        time_ms: now * 1000,
        kind: view.qtype.to_string(),
        result: failed.failure.to_owned(),
        serial: None,
        bytes: 0,
        reason: failed.why.clone(),
    });
}

/// Where the question section of a message ends.
fn question_end(message: &[u8]) -> Option<usize> {
    let mut r = Reader::new(message);
    let (_, counts) = Header::decode(&mut r).ok()?;
    for _ in 0..counts.qd {
        r.name(true).ok()?;
        r.skip(4).ok()?;
    }
    Some(r.position())
}

/// The RCODE's name, with the TSIG error when the answer carries one (`NOTAUTH/BADSIG`).
pub fn answer_error(reply: &Message) -> String {
    let rcode = Rcode(u16::from(reply.header.rcode));
    let tsig = reply.additional.last().and_then(|r| match &r.rdata {
        RData::Tsig(t) if t.error != Rcode::NOERROR => Some(t.error),
        _ => None,
    });
    match tsig {
        Some(error) => format!("{rcode}/{}", tsig_error_name(error)),
        None => rcode.to_string(),
    }
}

fn tsig_error_name(error: Rcode) -> String {
    match error.0 {
        16 => "BADSIG".to_owned(),
        17 => "BADKEY".to_owned(),
        18 => "BADTIME".to_owned(),
        22 => "BADTRUNC".to_owned(),
        _ => error.to_string(),
    }
}

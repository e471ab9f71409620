//! The node as a DNS client over TCP: the propagation verifier's SOA checks and fingerprints,
//! and the secondary role's checks and transfers. Failures are wire reasons in words
//! (`timeout`, `connection refused`, `NOTAUTH/BADSIG`, ...), as the API shows them.

use std::net::SocketAddr;
use std::time::Duration;

use nebula_wire::tsig::{Key, Stream};
use nebula_wire::{Class, Header, Message, Name, Question, RType, Rcode, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::tsig::{answer_error, unix_timers};

/// A query with a random id.
pub fn query(name: &Name, qtype: RType, qclass: Class) -> Message {
    let mut id = [0u8; 2];
    let _ = getrandom::fill(&mut id);
    Message {
        header: Header {
            id: u16::from_be_bytes(id),
            ..Header::default()
        },
        questions: vec![Question {
            name: name.clone(),
            qtype,
            qclass,
        }],
        ..Message::default()
    }
}

/// Connects, naming a refusal as such.
pub async fn connect(to: SocketAddr) -> Result<TcpStream, String> {
    TcpStream::connect(to).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => format!("connect: {e}"),
    })
}

/// Writes one message with its two-octet length.
pub async fn write_framed(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    let len = u16::try_from(bytes.len()).map_err(|_| "message too long".to_owned())?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| format!("write: {e}"))
}

/// Reads one message.
pub async fn read_framed(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "connection closed without an answer".to_owned(),
            _ => format!("read: {e}"),
        })?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut message)
        .await
        .map_err(|e| format!("read: {e}"))?;
    Ok(message)
}

/// One query, one answer, within `timeout`.
pub async fn exchange(to: SocketAddr, query: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    tokio::time::timeout(timeout, async {
        let mut stream = connect(to).await?;
        write_framed(&mut stream, query).await?;
        read_framed(&mut stream).await
    })
    .await
    .map_err(|_| "timeout".to_owned())?
}

/// The SOA record `to` serves for `zone` (asked with TSIG when `key` is given), or the wire
/// reason it does not: an error RCODE (with the TSIG error), no AA, no SOA.
pub async fn soa(
    to: SocketAddr,
    zone: &Name,
    key: Option<Key>,
    timeout: Duration,
) -> Result<Record, String> {
    let mut bytes = query(zone, RType::SOA, Class::IN)
        .encode()
        .map_err(|e| e.to_string())?;
    if let Some(key) = key {
        Stream::request(key).sign(&mut bytes, unix_timers(), Rcode::NOERROR, &[]);
    }
    let reply = exchange(to, &bytes, timeout).await?;
    let reply = Message::decode(&reply).map_err(|e| format!("undecodable answer: {e}"))?;
    if reply.header.rcode != 0 {
        return Err(answer_error(&reply));
    }
    if !reply.header.aa {
        return Err("not authoritative for the zone (no AA)".to_owned());
    }
    reply
        .answers
        .into_iter()
        .find(|r| r.rtype() == RType::SOA && r.name == *zone)
        .ok_or_else(|| "no SOA in the answer".to_owned())
}

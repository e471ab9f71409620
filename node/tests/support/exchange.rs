//! Blocking DNS exchanges for tests: building a query [`Message`] (optionally with EDNS, the DO
//! bit and a client cookie), one UDP or TCP round trip, and a whole zone transfer over TCP read
//! until its closing SOA.
//!
//! Only `std::net`: the code under test is the codec, so the transport stays as plain as possible.
//! Every read is bounded by a deadline so a silent peer fails a test instead of hanging it.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use nebula_wire::{Class, DecodeOptions, Header, Message, Name, Question, RData, RType, Record};

/// How long one exchange may take before the test gives up on the peer.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound on the messages of one zone transfer, so a peer that never sends the closing SOA
/// cannot make a test read forever.
const MAX_TRANSFER_MESSAGES: usize = 100_000;

/// EDNS option code of DNS cookies (RFC 7873 §4).
const OPTION_COOKIE: u16 = 10;

/// What the OPT pseudo-record of a query carries (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The requestor's UDP payload size (RFC 6891 §6.2.3); 1232 is the DNS flag day 2020 value.
    pub udp_payload_size: u16,
    /// The DO bit (RFC 3225 §3): ask for DNSSEC records.
    pub dnssec_ok: bool,
    /// An 8-octet client cookie (RFC 7873 §4.1), sent without a server cookie.
    pub client_cookie: Option<[u8; 8]>,
}

impl Default for Edns {
    fn default() -> Self {
        Edns {
            udp_payload_size: 1232,
            dnssec_ok: false,
            client_cookie: None,
        }
    }
}

impl Edns {
    /// The OPT record (RFC 6891 §6.1.2): owner root, CLASS = payload size, TTL = extended RCODE,
    /// version 0 and flags. Built as opaque RDATA so it does not depend on how the codec models
    /// OPT: the bytes on the wire are the same.
    pub fn opt_record(&self) -> Record {
        let mut options = Vec::new();
        if let Some(cookie) = self.client_cookie {
            options.extend_from_slice(&OPTION_COOKIE.to_be_bytes());
            options.extend_from_slice(&8u16.to_be_bytes());
            options.extend_from_slice(&cookie);
        }
        let flags: u32 = if self.dnssec_ok { 0x8000 } else { 0 };
        Record {
            name: Name::root(),
            class: Class(self.udp_payload_size),
            ttl: flags,
            rdata: RData::Unknown {
                rtype: RType::OPT,
                data: options.into_boxed_slice(),
            },
        }
    }
}

/// A query for `qname`/`qtype` in class IN with exactly one question, RD clear (the peers are
/// authoritative), and an OPT record when `edns` is given.
pub fn query(id: u16, qname: &Name, qtype: RType, edns: Option<&Edns>) -> Message {
    Message {
        header: Header {
            id,
            ..Header::default()
        },
        questions: vec![Question {
            name: qname.clone(),
            qtype,
            qclass: Class::IN,
        }],
        answers: Vec::new(),
        authority: Vec::new(),
        additional: edns.map(Edns::opt_record).into_iter().collect(),
    }
}

/// The message ID of a packet, if it is long enough to have one.
fn message_id(packet: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.first()?, *packet.get(1)?]))
}

fn timed_out(what: &str, server: SocketAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no {what} from {server} in time"),
    )
}

/// Sends `query` in one UDP datagram and returns the first reply carrying the same message ID
/// (datagrams with another ID are stale replies and are skipped).
pub fn udp_exchange(server: SocketAddr, query: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::LOCALHOST, 0).into()
    } else {
        (Ipv6Addr::LOCALHOST, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    socket.send(query)?;
    let deadline = Instant::now() + timeout;
    let mut buffer = vec![0u8; 65_535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out("UDP reply", server));
        }
        socket.set_read_timeout(Some(left))?;
        let len = match socket.recv(&mut buffer) {
            Ok(len) => len,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out("UDP reply", server));
            }
            Err(e) => return Err(e),
        };
        let reply = &buffer[..len];
        if message_id(reply) == message_id(query) {
            return Ok(reply.to_vec());
        }
    }
}

/// Opens a TCP connection whose reads and writes time out at `timeout`.
pub fn connect_tcp(server: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&server, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes one message with its two-octet length prefix (RFC 1035 §4.2.2, RFC 7766 §8), in a
/// single write so the peer sees prefix and message together.
pub fn write_framed(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 65535 octets"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed)
}

/// Reads one length-prefixed message (RFC 1035 §4.2.2).
pub fn read_framed(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix)?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut message)?;
    Ok(message)
}

/// One query and one response over a fresh TCP connection.
pub fn tcp_exchange(server: SocketAddr, query: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let mut stream = connect_tcp(server, timeout)?;
    write_framed(&mut stream, query)?;
    read_framed(&mut stream)
}

/// A zone transfer (AXFR, RFC 5936 §2.2) over a fresh TCP connection: returns every response
/// message, up to and including the one with the closing SOA. A response with a non-zero RCODE
/// ends the transfer and is returned alone, so the caller sees a refusal as data.
///
/// The end is found by decoding each message leniently with the codec and counting SOA records
/// in the answer sections: the transfer is complete at the second one (RFC 5936 §2.2: the first
/// and last records are the zone's SOA).
pub fn tcp_transfer(
    server: SocketAddr,
    query: &[u8],
    timeout: Duration,
) -> io::Result<Vec<Vec<u8>>> {
    let mut stream = connect_tcp(server, timeout)?;
    write_framed(&mut stream, query)?;
    let deadline = Instant::now() + timeout;
    let lenient = DecodeOptions {
        allow_trailing_bytes: true,
        ..DecodeOptions::default()
    };
    let mut messages = Vec::new();
    let mut soa_seen = 0usize;
    while messages.len() < MAX_TRANSFER_MESSAGES {
        if Instant::now() > deadline {
            return Err(timed_out("end of zone transfer", server));
        }
        let bytes = read_framed(&mut stream)?;
        let message = Message::decode_with(&bytes, lenient).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("transfer message {}: {e}", messages.len()),
            )
        })?;
        messages.push(bytes);
        if message.header.rcode != 0 {
            return Ok(messages);
        }
        soa_seen += message
            .answers
            .iter()
            .filter(|r| r.rtype() == RType::SOA)
            .count();
        if soa_seen >= 2 {
            return Ok(messages);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "zone transfer without a closing SOA",
    ))
}

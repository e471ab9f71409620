//! Zone transfers (RFC 5936 AXFR, RFC 1995 IXFR) from a real `nebuladns` process, checked
//! message by message, and the interop matrix with real servers: BIND 9.18, Knot, NSD and
//! PowerDNS each transfer a zone of 100,000 records from us, without and with TSIG (every message
//! signed, checked by the tests' own TSIG code), serve exactly our records, and follow a
//! one-record change by IXFR after our NOTIFY; declared secondaries get our NOTIFY for every new
//! version; BIND and Knot serve as primaries of ours (with and without TSIG, NOTIFY in).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use nebula_wire::{DecodeOptions, Message, Name, RData, RType, Record};

use nebula_api::client::Body;
use support::exchange::{
    query, read_framed, tcp_transfer, udp_exchange, write_framed, EXCHANGE_TIMEOUT,
};
use support::nebula::Nebula;
use support::peers::{free_port, Peer, PeerKind, TempDir, ZoneConfig};
use support::tsig::{sign_request, ResponseVerifier, TsigKey};

const ORIGIN: &str = "xfr.test.";
const SERIAL: u32 = 2_026_112_601;
const HOSTS: usize = 90_000;
const TEXTS: usize = 9_997;
/// SOA, NS, the NS's address, the hosts and the texts: 100,000 (issue 5's interop zone size).
const RECORDS: usize = 3 + HOSTS + TEXTS;
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30);

/// A zone big enough to need many messages.
fn write_zone(dir: &Path) -> std::path::PathBuf {
    let mut text = format!(
        "$TTL 300\n@ SOA ns1 hostmaster {SERIAL} 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"
    );
    for i in 0..HOSTS {
        let _ = writeln!(
            text,
            "h{i} 600 A 10.{}.{}.{}",
            i / 65_536,
            (i / 256) % 256,
            i % 256
        );
    }
    for i in 0..TEXTS {
        let _ = writeln!(text, "t{i} TXT \"text number {i} of the transfer test\"");
    }
    let path = dir.join("xfr.test.zone");
    std::fs::write(&path, text).unwrap();
    path
}

/// A `nebuladns` serving the big zone (from a file in the returned directory), `extra` appended
/// to its configuration.
fn serve_big_zone(extra: &str) -> (TempDir, std::path::PathBuf, Nebula) {
    let dir = TempDir::new("xfr-zone").unwrap();
    let file = write_zone(dir.path());
    let server = Nebula::start_with(
        env!("CARGO_BIN_EXE_nebuladns"),
        &[ZoneConfig::primary(ORIGIN, &file)],
        extra,
    )
    .unwrap();
    (dir, file, server)
}

fn origin() -> Name {
    Name::from_text(ORIGIN, None).unwrap()
}

fn transfer_query(id: u16, qtype: RType) -> Vec<u8> {
    query(id, &origin(), qtype, None).encode().unwrap()
}

/// A record as comparable text: owner in lower case, then the rest as `dig` prints it.
fn key(record: &Record) -> String {
    let mut lower = record.clone();
    lower.name = record.name.to_lowercase();
    lower.to_string()
}

/// The records of a transfer, closing SOA removed, after checking its framing: every message
/// answers the query's id without error; with `ours`, also our own contract, stricter than
/// RFC 5936 §2.2.1 requires of peers (which may leave the question out after the first
/// message): every message authoritative and with the question.
fn check_transfer(messages: &[Vec<u8>], id: u16, qtype: RType, ours: bool) -> Vec<Record> {
    assert!(!messages.is_empty());
    let mut records = Vec::new();
    for (i, bytes) in messages.iter().enumerate() {
        let message = Message::decode(bytes).unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(message.header.id, id, "message {i}: the query's id");
        assert_eq!(message.header.rcode, 0, "message {i}: NOERROR");
        if !ours {
            records.extend(message.answers);
            continue;
        }
        assert!(
            message.header.qr && message.header.aa,
            "message {i}: QR and AA"
        );
        assert_eq!(message.header.rcode, 0, "message {i}: NOERROR");
        assert_eq!(
            message.questions.len(),
            1,
            "message {i}: QDCOUNT = 1 (RFC 5936 §2.2.1)"
        );
        assert_eq!(message.questions[0].name, origin());
        assert_eq!(message.questions[0].qtype, qtype);
        records.extend(message.answers);
    }
    assert_eq!(
        records.first().map(Record::rtype),
        Some(RType::SOA),
        "SOA first"
    );
    assert_eq!(
        records.last().map(Record::rtype),
        Some(RType::SOA),
        "SOA last"
    );
    assert_eq!(
        records.first(),
        records.last(),
        "the same SOA opens and closes"
    );
    records.pop();
    records
}

fn zone_keys(path: &Path) -> BTreeSet<String> {
    let parsed = nebula_store::master::parse_file(path, &origin()).unwrap();
    parsed.zone.records().map(|r| key(&r)).collect()
}

#[test]
fn axfr_and_ixfr_stream_the_whole_zone_in_many_messages() {
    let (_dir, file, server) = serve_big_zone("");
    let expected = zone_keys(&file);
    assert_eq!(expected.len(), RECORDS);

    for (id, qtype) in [(0x1234, RType::AXFR), (0x4321, RType::IXFR)] {
        let messages =
            tcp_transfer(server.dns(), &transfer_query(id, qtype), TRANSFER_TIMEOUT).unwrap();
        assert!(
            messages.len() > 10,
            "{qtype}: {} messages for {RECORDS} records: the zone is streamed in parts",
            messages.len()
        );
        assert!(messages.iter().all(|m| m.len() <= 65_535));
        let records = check_transfer(&messages, id, qtype, true);
        assert_eq!(records.len(), RECORDS, "{qtype}: every record once");
        let got: BTreeSet<String> = records.iter().map(key).collect();
        assert_eq!(got, expected, "{qtype}: exactly the zone's records");
    }

    // A zone we do not serve: NOTAUTH, one message, the question echoed.
    let other = Name::from_text("other.test.", None).unwrap();
    let bytes = query(7, &other, RType::AXFR, None).encode().unwrap();
    let messages = tcp_transfer(server.dns(), &bytes, TRANSFER_TIMEOUT).unwrap();
    let reply = Message::decode(&messages[0]).unwrap();
    assert_eq!((messages.len(), reply.header.rcode), (1, 9), "NOTAUTH");
    assert_eq!(reply.questions.len(), 1);

    // The connection stays usable after a transfer (RFC 7766 §6.2.1: several per connection).
    let mut stream = TcpStream::connect(server.dns()).unwrap();
    stream.set_read_timeout(Some(EXCHANGE_TIMEOUT)).unwrap();
    write_framed(&mut stream, &transfer_query(1, RType::AXFR)).unwrap();
    let mut soas = 0;
    while soas < 2 {
        let bytes = read_framed(&mut stream).unwrap();
        let message = Message::decode_with(&bytes, DecodeOptions::default()).unwrap();
        soas += message
            .answers
            .iter()
            .filter(|r| r.rtype() == RType::SOA)
            .count();
    }
    let soa = query(2, &origin(), RType::SOA, None).encode().unwrap();
    write_framed(&mut stream, &soa).unwrap();
    let reply = Message::decode(&read_framed(&mut stream).unwrap()).unwrap();
    assert_eq!((reply.header.id, reply.answers.len()), (2, 1));
}

/// Connects from `source` (any 127/8 address works on Linux loopback).
fn connect_from(source: [u8; 4], server: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect_timeout(&server.into(), EXCHANGE_TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(EXCHANGE_TIMEOUT))?;
    Ok(stream)
}

#[test]
fn transfers_are_refused_outside_the_allowed_prefixes() {
    let (_dir, _, server) = serve_big_zone("[transfer]\nallow = [\"127.0.0.2/32\"]\n");
    let mut denied = connect_from([127, 0, 0, 1], server.dns()).unwrap();
    write_framed(&mut denied, &transfer_query(5, RType::AXFR)).unwrap();
    let reply = Message::decode(&read_framed(&mut denied).unwrap()).unwrap();
    assert_eq!(reply.header.rcode, 5, "REFUSED from 127.0.0.1");
    assert!(reply.answers.is_empty());
    assert!(
        server.log().contains("no [transfer] allow prefix"),
        "{}",
        server.log()
    );
    let refused = "nebula_axfr_attempts_total{peer=\"other\",zone=\"xfr.test.\",direction=\"out\",result=\"refused\"} 1";
    let metrics = server.metrics_text().unwrap();
    assert!(metrics.contains(refused), "{refused} in:\n{metrics}");

    let mut allowed = connect_from([127, 0, 0, 2], server.dns()).unwrap();
    write_framed(&mut allowed, &transfer_query(6, RType::AXFR)).unwrap();
    let first = Message::decode(&read_framed(&mut allowed).unwrap()).unwrap();
    assert_eq!(
        (first.header.rcode, first.answers[0].rtype()),
        (0, RType::SOA)
    );
}

#[test]
fn bind_knot_and_nsd_transfer_the_zone_from_us() {
    let (_dir, _, server) = serve_big_zone("");
    let ours: BTreeSet<String> = check_transfer(
        &tcp_transfer(
            server.dns(),
            &transfer_query(9, RType::AXFR),
            TRANSFER_TIMEOUT,
        )
        .unwrap(),
        9,
        RType::AXFR,
        true,
    )
    .iter()
    .map(key)
    .collect();
    let ours = std::sync::Arc::new(ours);
    let peers: Vec<_> = PeerKind::ALL
        .into_iter()
        .map(|kind| {
            let zones = [ZoneConfig::secondary(ORIGIN, server.dns())];
            let ours = ours.clone();
            thread::spawn(move || -> Result<(), String> {
                let peer = Peer::start(kind, &zones).map_err(|e| format!("{kind:?}: {e}"))?;
                peer.wait_for_serial(ORIGIN, TRANSFER_TIMEOUT, |s| s == SERIAL)
                    .map_err(|e| format!("{kind:?} did not load the zone from us: {e}"))?;
                let messages =
                    tcp_transfer(peer.address(), &transfer_query(11, RType::AXFR), TRANSFER_TIMEOUT)
                        .map_err(|e| format!("{kind:?}: AXFR from it: {e}"))?;
                let theirs: BTreeSet<String> =
                    check_transfer(&messages, 11, RType::AXFR, false).iter().map(key).collect();
                if theirs == *ours {
                    Ok(())
                } else {
                    Err(format!(
                        "{kind:?} serves other records than we sent: {} only ours, {} only theirs (e.g. {:?})",
                        ours.difference(&theirs).count(),
                        theirs.difference(&ours).count(),
                        theirs.symmetric_difference(&ours).next()
                    ))
                }
            })
        })
        .collect();
    let failures: Vec<String> = peers
        .into_iter()
        .filter_map(|p| p.join().unwrap().err())
        .collect();
    assert!(
        failures.is_empty(),
        "{failures:#?}\nour log:\n{}",
        server.log()
    );
    assert_eq!(ours.len(), RECORDS);
}

/// An IXFR query from a client at `serial` (its SOA in the authority section, RFC 1995 §3).
fn ixfr_query(id: u16, zone: &Name, serial: u32) -> Vec<u8> {
    let mut message = query(id, zone, RType::IXFR, None);
    let soa = nebula_wire::rdata::Soa {
        mname: zone.clone(),
        rname: zone.clone(),
        serial,
        refresh: 0,
        retry: 0,
        expire: 0,
        minimum: 0,
    };
    message
        .authority
        .push(Record::new(zone.clone(), 0, RData::Soa(Box::new(soa))));
    message.encode().unwrap()
}

/// The records of every message `server` sends for `query` until it pauses (an IXFR answer
/// cannot be told complete by counting SOAs alone).
fn collect_answers(server: SocketAddr, query: &[u8]) -> Vec<Record> {
    let mut stream = TcpStream::connect(server).unwrap();
    write_framed(&mut stream, query).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut records = Vec::new();
    while let Ok(bytes) = read_framed(&mut stream) {
        let message = Message::decode(&bytes).unwrap();
        assert_eq!((message.header.rcode, message.questions.len()), (0, 1));
        records.extend(message.answers);
    }
    records
}

fn soa_serial(record: &Record) -> Option<u32> {
    match &record.rdata {
        RData::Soa(soa) => Some(soa.serial),
        _ => None,
    }
}

/// Changes www.example.com's A record through the API; returns the zone's new serial.
fn change_www(server: &Nebula, client: &nebula_api::client::Client, address: &str) -> u32 {
    let body = serde_json::json!({"changes": [{"action": "replace", "name": "www", "type": "A", "ttl": 3600, "data": address}]});
    let reply = client
        .request(
            "POST",
            "/api/v1/zones/example.com./records",
            Some(Body::Json(body)),
            &[],
        )
        .unwrap();
    assert!(
        reply.is_success(),
        "{} {}\n{}",
        reply.status,
        reply.body,
        server.log()
    );
    let result: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    u32::try_from(result["serial"].as_u64().unwrap()).unwrap()
}

fn notify(peer: SocketAddr, zone: &Name) {
    let mut message = query(0x6e6f, zone, RType::SOA, None);
    message.header.opcode = 4;
    message.header.aa = true;
    let reply = udp_exchange(peer, &message.encode().unwrap(), EXCHANGE_TIMEOUT).unwrap();
    assert_eq!(Message::decode(&reply).unwrap().header.opcode, 4);
}

#[test]
fn ixfr_sends_the_difference_from_the_clients_version() {
    let server = Nebula::start(env!("CARGO_BIN_EXE_nebuladns"), &[]).unwrap();
    let zone = Name::from_text("example.com.", None).unwrap();
    let client = api_client(&server);
    // The example zone is committed through Raft once the node leads; a first change proves it.
    let first = change_www(&server, &client, "192.0.2.81");
    let second = change_www(&server, &client, "192.0.2.82");
    assert!(second > first);

    let answer = collect_answers(server.dns(), &ixfr_query(3, &zone, first));
    let text: Vec<String> = answer.iter().map(key).collect();
    let serials: Vec<Option<u32>> = answer.iter().map(soa_serial).collect();
    assert_eq!(
        serials,
        vec![
            Some(second),
            Some(first),
            None,
            Some(second),
            None,
            Some(second)
        ],
        "{text:#?}"
    );
    assert!(
        text[2].contains("192.0.2.81") && text[4].contains("192.0.2.82"),
        "{text:#?}"
    );

    // Up to date: the SOA alone.
    let answer = collect_answers(server.dns(), &ixfr_query(4, &zone, second));
    assert_eq!(
        answer.iter().map(soa_serial).collect::<Vec<_>>(),
        vec![Some(second)]
    );
    // An older serial the history never had: the whole zone (RFC 1995 §4).
    let answer = collect_answers(
        server.dns(),
        &ixfr_query(5, &zone, first.wrapping_sub(1000)),
    );
    assert_eq!(
        answer.len(),
        14 + 1,
        "the example zone's 14 records and the closing SOA"
    );

    // Real secondaries load the zone, then follow a change by IXFR after our NOTIFY.
    let peers: Vec<Peer> = [PeerKind::Bind, PeerKind::Knot, PeerKind::Nsd]
        .into_iter()
        .map(|kind| {
            let peer = Peer::start(kind, &[ZoneConfig::secondary("example.com.", server.dns())])
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            peer.wait_for_serial("example.com.", TRANSFER_TIMEOUT, |s| s == second)
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            peer
        })
        .collect();
    let third = change_www(&server, &client, "192.0.2.83");
    for peer in &peers {
        notify(peer.address(), &zone);
        peer.wait_for_serial("example.com.", TRANSFER_TIMEOUT, |s| s == third)
            .unwrap_or_else(|e| {
                panic!(
                    "{:?} did not follow: {e}\nour log:\n{}",
                    peer.kind(),
                    server.log()
                )
            });
        // NSD answers from the new serial a moment before every server process has the data.
        let www = Name::from_text("www.example.com.", None).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let reply = udp_exchange(
                peer.address(),
                &query(8, &www, RType::A, None).encode().unwrap(),
                EXCHANGE_TIMEOUT,
            )
            .unwrap();
            let answers = Message::decode(&reply).unwrap().answers;
            if answers.iter().any(|r| r.to_string().contains("192.0.2.83")) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{:?} does not serve the new address: {answers:?}",
                peer.kind()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
    let incremental = server
        .log()
        .lines()
        .filter(|l| l.contains("zone transfer served") && l.contains("incremental"))
        .count();
    assert!(
        incremental > peers.len(),
        "our test's IXFR and one per peer travel as differences:\n{}",
        server.log()
    );
}

fn api_client(server: &Nebula) -> nebula_api::client::Client {
    let token = std::fs::read_to_string(server.dir().join("data/admin.token")).unwrap();
    nebula_api::client::Client::new(
        &format!("http://{}", server.http()),
        Some(token.trim().to_owned()),
        Duration::from_secs(10),
    )
}

#[test]
fn declared_secondaries_are_notified_of_every_new_version() {
    // The secondaries start first, pointed at the port we will take; until our NOTIFY they only
    // fail to reach us.
    let ours = SocketAddr::from(([127, 0, 0, 1], free_port().unwrap()));
    let peers: Vec<Peer> = PeerKind::ALL
        .into_iter()
        .map(|kind| {
            Peer::spawn(kind, &[ZoneConfig::secondary("example.com.", ours)])
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"))
        })
        .collect();
    let dir = TempDir::new("notify").unwrap();
    let mut config = format!(
        "[server]\ndata_dir = \"{}\"\n\n[dns]\nlisten = [\"{ours}\"]\nudp_workers = 1\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        dir.path().join("data").display()
    );
    for peer in &peers {
        let _ = write!(
            config,
            "\n[[secondary]]\nname = \"{:?}\"\naddress = \"{}\"\nzones = [\"example.com.\"]\n",
            peer.kind(),
            peer.address()
        );
    }
    let config_path = dir.path().join("nebuladns.toml");
    std::fs::write(&config_path, config).unwrap();
    let server = Nebula::launch(
        Path::new(env!("CARGO_BIN_EXE_nebuladns")),
        dir,
        &config_path,
    )
    .unwrap();
    for peer in &peers {
        peer.wait_for_zone("example.com.", TRANSFER_TIMEOUT)
            .unwrap_or_else(|e| panic!("{:?}: {e}\nour log:\n{}", peer.kind(), server.log()));
    }
    let next = change_www(&server, &api_client(&server), "192.0.2.84");
    for peer in &peers {
        peer.wait_for_serial("example.com.", TRANSFER_TIMEOUT, |s| s == next)
            .unwrap_or_else(|e| panic!("{:?}: {e}\nour log:\n{}", peer.kind(), server.log()));
    }
    // Transfers are counted per declared secondary (known by its address: the three share
    // 127.0.0.1 here, so all count under the first name) and served zone.
    let metrics = server.metrics_text().unwrap();
    let first = format!("{:?}", peers[0].kind());
    let ok = format!(
        "nebula_axfr_attempts_total{{peer=\"{first}\",zone=\"example.com.\",direction=\"out\",result=\"ok\"}} "
    );
    let transfers: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix(&ok))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        transfers >= 2 * peers.len(),
        "a first transfer and one after the change per secondary:\n{metrics}"
    );
    assert!(metrics.contains(&format!(
        "nebula_axfr_last_success_timestamp_seconds{{peer=\"{first}\",zone=\"example.com.\"}}"
    )));
    let answered = server
        .log()
        .lines()
        .filter(|l| l.contains("NOTIFY answered"))
        .count();
    assert!(
        answered >= 2 * peers.len(),
        "each secondary answered the NOTIFY of both versions:\n{}",
        server.log()
    );
}

/// Creates the replicated zone example.com. (file-zone servers do not seed it).
fn create_example_zone(client: &nebula_api::client::Client) {
    let created = client
        .request(
            "POST",
            "/api/v1/zones",
            Some(Body::Json(serde_json::json!({
                "name": "example.com.",
                "master": "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n",
            }))),
            &[],
        )
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A TSIG-signed transfer of `zone` from `server`, every message's MAC checked by the tests'
/// own TSIG code (independent of the server's).
fn signed_transfer(
    server: SocketAddr,
    key: &TsigKey,
    id: u16,
    zone: &Name,
    qtype: RType,
) -> Result<Vec<Vec<u8>>, String> {
    let request = sign_request(&query(id, zone, qtype, None), key, unix_now())?;
    let messages =
        tcp_transfer(server, &request.bytes, TRANSFER_TIMEOUT).map_err(|e| e.to_string())?;
    let mut verifier = ResponseVerifier::new(key, &request);
    for (i, message) in messages.iter().enumerate() {
        verifier
            .verify(message)
            .map_err(|e| format!("message {i} of {}: {e}", messages.len()))?;
    }
    Ok(messages)
}

/// The first answer to a signed transfer request: its RCODE and TSIG error.
fn signed_refusal(server: SocketAddr, request: &[u8]) -> (u8, Option<String>) {
    let messages = tcp_transfer(server, request, TRANSFER_TIMEOUT).unwrap();
    let reply = Message::decode(&messages[0]).unwrap();
    let tsig = reply
        .additional
        .last()
        .filter(|r| r.rtype() == RType::TSIG)
        .map(|r| r.rdata.to_string());
    (reply.header.rcode, tsig)
}

#[test]
fn tsig_signed_transfers_and_notify_with_bind_knot_and_nsd() {
    let kinds = [
        PeerKind::Bind,
        PeerKind::Knot,
        PeerKind::Nsd,
        PeerKind::PowerDns,
    ];
    let key_names: Vec<String> = kinds
        .iter()
        .map(|k| format!("{}-xfr.test.", k.label()))
        .collect();
    // Nothing unsigned: only the keys may transfer.
    let rule = format!("[transfer]\nallow = []\n\n[[transfer.rule]]\nkeys = {key_names:?}\n");
    let (_dir, file, server) = serve_big_zone(&rule);
    let client = api_client(&server);
    create_example_zone(&client);
    // Keys made by the API, which shows each secret once.
    let keys: Vec<TsigKey> = key_names
        .iter()
        .map(|name| {
            let reply = client
                .request(
                    "POST",
                    "/api/v1/tsig-keys",
                    Some(Body::Json(serde_json::json!({ "name": name }))),
                    &[],
                )
                .unwrap();
            assert_eq!(reply.status, 201, "{}", reply.body);
            let value: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(value["algorithm"], "hmac-sha256");
            let secret = data_encoding::BASE64
                .decode(value["secret"].as_str().unwrap().as_bytes())
                .unwrap();
            TsigKey::new(name, &secret)
        })
        .collect();
    let listed = client.get("/api/v1/tsig-keys").unwrap();
    assert!(
        listed.body.contains("bind-xfr.test.") && !listed.body.contains("secret"),
        "metadata only: {}",
        listed.body
    );

    // Unsigned: REFUSED. A wrong secret: NOTAUTH with BADSIG; an unknown key: BADKEY; both
    // with an unsigned TSIG record (RFC 8945 §5.2).
    let zone = origin();
    let unsigned = tcp_transfer(
        server.dns(),
        &transfer_query(20, RType::AXFR),
        TRANSFER_TIMEOUT,
    )
    .unwrap();
    assert_eq!(Message::decode(&unsigned[0]).unwrap().header.rcode, 5);
    let wrong = TsigKey::new(&key_names[0], b"not the secret the API made, not at all");
    let request = sign_request(&query(21, &zone, RType::AXFR, None), &wrong, unix_now()).unwrap();
    let (rcode, tsig) = signed_refusal(server.dns(), &request.bytes);
    assert_eq!(rcode, 9, "NOTAUTH");
    assert!(
        tsig.as_deref().is_some_and(|t| t.contains("BADSIG")),
        "{tsig:?}"
    );
    let unknown = TsigKey::new("nobody.test.", b"0123456789abcdef0123456789abcdef");
    let request = sign_request(&query(22, &zone, RType::AXFR, None), &unknown, unix_now()).unwrap();
    let (rcode, tsig) = signed_refusal(server.dns(), &request.bytes);
    assert_eq!(rcode, 9, "NOTAUTH");
    assert!(
        tsig.as_deref().is_some_and(|t| t.contains("BADKEY")),
        "{tsig:?}"
    );
    let skewed = sign_request(
        &query(23, &zone, RType::AXFR, None),
        &keys[0],
        unix_now() - 3600,
    )
    .unwrap();
    let (rcode, tsig) = signed_refusal(server.dns(), &skewed.bytes);
    assert_eq!(rcode, 9, "NOTAUTH");
    assert!(
        tsig.as_deref().is_some_and(|t| t.contains("BADTIME")),
        "{tsig:?}"
    );

    // Signed: the whole zone, every message signed (about 190 of them).
    let messages = signed_transfer(server.dns(), &keys[0], 24, &zone, RType::AXFR).unwrap();
    assert!(messages.len() > 10);
    let ours: BTreeSet<String> = check_transfer(&messages, 24, RType::AXFR, true)
        .iter()
        .map(key)
        .collect();
    assert_eq!(ours, zone_keys(&file));

    // BIND, Knot and NSD as secondaries with their keys, declared by API (NOTIFY, metrics).
    let peers: Vec<Peer> = kinds
        .iter()
        .zip(&keys)
        .map(|(&kind, key)| {
            let zones = [
                ZoneConfig::secondary(ORIGIN, server.dns()).with_key(key.clone()),
                ZoneConfig::secondary("example.com.", server.dns()).with_key(key.clone()),
            ];
            let peer = Peer::spawn(kind, &zones).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            let reply = client
                .request(
                    "POST",
                    "/api/v1/secondaries",
                    Some(Body::Json(serde_json::json!({
                        "name": kind.label(), "address": peer.address().to_string(),
                        "key": key.name, "zones": [ORIGIN, "example.com."],
                    }))),
                    &[],
                )
                .unwrap();
            assert_eq!(reply.status, 201, "{}", reply.body);
            peer
        })
        .collect();
    for peer in &peers {
        let kind = peer.kind();
        peer.wait_for_serial(ORIGIN, TRANSFER_TIMEOUT, |s| s == SERIAL)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}\nour log:\n{}", server.log()));
        peer.wait_for_zone("example.com.", TRANSFER_TIMEOUT)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}\nour log:\n{}", server.log()));
    }
    // A one-record change travels to each as a signed IXFR after our signed NOTIFY.
    let next = change_www(&server, &client, "192.0.2.85");
    for peer in &peers {
        peer.wait_for_serial("example.com.", TRANSFER_TIMEOUT, |s| s == next)
            .unwrap_or_else(|e| panic!("{:?}: {e}\nour log:\n{}", peer.kind(), server.log()));
    }
    // Each serves the big zone exactly as we sent it. Read only now: PowerDNS (SQLite) fails an
    // incoming transfer with "database is locked" while it is still serving this one, and
    // retries only at the zone's next refresh.
    for (peer, tsig_key) in peers.iter().zip(&keys) {
        let kind = peer.kind();
        let theirs: BTreeSet<String> = check_transfer(
            &signed_transfer(peer.address(), tsig_key, 25, &zone, RType::AXFR)
                .unwrap_or_else(|e| panic!("{kind:?}: {e}")),
            25,
            RType::AXFR,
            false,
        )
        .iter()
        .map(key)
        .collect();
        assert!(theirs == ours, "{kind:?} serves other records than we sent");
    }
    let log = server.log();
    for name in &key_names {
        assert!(
            log.lines().any(|l| l.contains("zone transfer served")
                && l.contains("incremental")
                && l.contains(name.as_str())),
            "an IXFR signed with {name}:\n{log}"
        );
    }
    // Each peer is counted under its own name: the key tells them apart on one address.
    let metrics = server.metrics_text().unwrap();
    for kind in kinds {
        let ok = format!(
            "nebula_axfr_attempts_total{{peer=\"{}\",zone=\"example.com.\",direction=\"out\",result=\"ok\"}}",
            kind.label()
        );
        assert!(metrics.contains(&ok), "{ok} in:\n{metrics}");
    }
    assert!(metrics.contains("result=\"badsig\"") && metrics.contains("result=\"badkey\""));
}

/// The SOA serial our server answers for `zone`, if it serves it.
fn our_serial(server: &Nebula, zone: &Name) -> Option<u32> {
    let reply = udp_exchange(
        server.dns(),
        &query(40, zone, RType::SOA, None).encode().unwrap(),
        EXCHANGE_TIMEOUT,
    )
    .ok()?;
    let reply = Message::decode(&reply).ok()?;
    reply.answers.iter().find_map(soa_serial)
}

fn primary_zone(origin: &str, serial: u32, extra: &str) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\n{extra}"
    )
}

#[test]
fn bind_and_knot_as_primaries_of_nebuladns() {
    let server = Nebula::start(env!("CARGO_BIN_EXE_nebuladns"), &[]).unwrap();
    let client = api_client(&server);
    let key = TsigKey::new("up-xfr.test.", b"a secret shared with the primaries, 32+");
    let imported = client
        .request(
            "POST",
            "/api/v1/tsig-keys",
            Some(Body::Json(serde_json::json!({
                "name": key.name, "secret": key.secret_base64(),
            }))),
            &[],
        )
        .unwrap();
    assert_eq!(imported.status, 201, "{}", imported.body);
    let dir = TempDir::new("primaries").unwrap();
    // BIND without a key, Knot with one; both notify us.
    let cases = [
        (PeerKind::Bind, "up-bind.test.", None),
        (PeerKind::Knot, "up-knot.test.", Some(key.clone())),
    ];
    let mut primaries = Vec::new();
    for (kind, origin, key) in &cases {
        let file = dir.path().join(format!("{origin}zone"));
        std::fs::write(&file, primary_zone(origin, 100, "")).unwrap();
        let mut zone = ZoneConfig::primary(origin, &file).with_notify(server.dns());
        if let Some(key) = key {
            zone = zone.with_key(key.clone());
        }
        let peer = Peer::start(*kind, &[zone]).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let reply = client
            .request(
                "POST",
                "/api/v1/upstreams",
                Some(Body::Json(serde_json::json!({
                    "zone": origin, "primaries": [peer.address().to_string()],
                    "key": key.as_ref().map(|k| k.name.clone()),
                }))),
                &[],
            )
            .unwrap();
        assert_eq!(reply.status, 201, "{}", reply.body);
        primaries.push((peer, *origin));
    }
    let wait_serial = |origin: &str, serial: u32| {
        let zone = Name::from_text(origin, None).unwrap();
        let deadline = std::time::Instant::now() + TRANSFER_TIMEOUT;
        while our_serial(&server, &zone) != Some(serial) {
            assert!(
                std::time::Instant::now() < deadline,
                "we do not serve {origin} at serial {serial}:\n{}",
                server.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    };
    for (_, origin) in &primaries {
        wait_serial(origin, 100);
    }
    // A change on each primary reaches us by its NOTIFY (a second later: BIND reloads a file
    // whose modification time is newer than its last load, to the second).
    thread::sleep(Duration::from_millis(1100));
    for (peer, origin) in &primaries {
        // The peer serves its own copy of the file.
        let copy = peer.dir().join(format!("{origin}zone"));
        std::fs::write(copy, primary_zone(origin, 101, "new A 192.0.2.77\n")).unwrap();
        peer.reload().unwrap();
    }
    for (peer, origin) in &primaries {
        let zone = Name::from_text(origin, None).unwrap();
        let deadline = std::time::Instant::now() + TRANSFER_TIMEOUT;
        while our_serial(&server, &zone) != Some(101) {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}'s change did not reach us:\n{}\nour log:\n{}",
                peer.kind(),
                peer.log(),
                server.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        let name = Name::from_text(&format!("new.{origin}"), None).unwrap();
        let reply = udp_exchange(
            server.dns(),
            &query(41, &name, RType::A, None).encode().unwrap(),
            EXCHANGE_TIMEOUT,
        )
        .unwrap();
        let answers = Message::decode(&reply).unwrap().answers;
        assert!(
            answers.iter().any(|r| r.to_string().contains("192.0.2.77")),
            "{:?}: {answers:?}",
            peer.kind()
        );
    }
    let log = server.log();
    assert!(
        log.lines()
            .filter(|l| l.contains("NOTIFY received"))
            .count()
            >= 2,
        "{log}"
    );
    assert!(
        log.lines()
            .filter(|l| l.contains("secondary zone transferred"))
            .count()
            >= 4,
        "{log}"
    );
    // BIND keeps the difference of a reloaded file: that change came as IXFR.
    assert!(
        log.lines().any(|l| l.contains("secondary zone transferred")
            && l.contains("zone=up-bind.test.")
            && l.contains("kind=\"IXFR\"")),
        "{log}"
    );
}

#[test]
fn powerdns_transfers_the_zone_and_follows_a_change_from_us() {
    // The 100,000-record zone (a file zone) and the replicated example zone, which changes.
    let (_dir, file, server) = serve_big_zone("");
    let client = api_client(&server);
    create_example_zone(&client);
    let pdns = Peer::start(
        PeerKind::PowerDns,
        &[
            ZoneConfig::secondary(ORIGIN, server.dns()),
            ZoneConfig::secondary("example.com.", server.dns()),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}\nour log:\n{}", server.log()));
    pdns.wait_for_serial(ORIGIN, TRANSFER_TIMEOUT, |s| s == SERIAL)
        .unwrap_or_else(|e| panic!("{e}\nour log:\n{}", server.log()));
    pdns.wait_for_zone("example.com.", TRANSFER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\nour log:\n{}", server.log()));
    let next = change_www(&server, &client, "192.0.2.86");
    notify(
        pdns.address(),
        &Name::from_text("example.com.", None).unwrap(),
    );
    pdns.wait_for_serial("example.com.", TRANSFER_TIMEOUT, |s| s == next)
        .unwrap_or_else(|e| panic!("{e}\nour log:\n{}", server.log()));
    // Read only now: PowerDNS (SQLite) fails an incoming transfer with "database is locked"
    // while it is still serving this one.
    let theirs: BTreeSet<String> = check_transfer(
        &tcp_transfer(
            pdns.address(),
            &transfer_query(31, RType::AXFR),
            TRANSFER_TIMEOUT,
        )
        .unwrap(),
        31,
        RType::AXFR,
        false,
    )
    .iter()
    .map(key)
    .collect();
    let ours = zone_keys(&file);
    assert!(
        theirs == ours,
        "PowerDNS serves other records than we sent: {} only ours, {} only theirs",
        ours.difference(&theirs).count(),
        theirs.difference(&ours).count()
    );
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("zone transfer served")
            && l.contains("zone=example.com.")
            && l.contains("incremental")),
        "the one-record change travels as IXFR:\n{log}"
    );
}

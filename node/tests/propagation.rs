//! The propagation gate, and the incident it exists for, replayed: required secondaries that
//! reject our transfers (a BIND with the wrong TSIG key; a peer that answers FORMERR) make the
//! deploy fail within its SLA, with each peer's fingerprint and wire error in the API, in
//! `nebulactl` and in the metrics; once the peers are fixed, the next deploy is verified.
//! Real BIND and Knot on loopback; the FORMERR peer is a fixture, since no real server can be
//! configured to answer that way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use nebula_api::client::{Body, Client};
use serde_json::{json, Value};
use support::nebula::{metric_value, nebulactl, Nebula};
use support::peers::{Peer, PeerKind, ZoneConfig};
use support::tsig::TsigKey;

const CTL: &str = env!("CARGO_BIN_EXE_nebulactl");
const ZONE: &str = "example.com.";
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30);

/// A DNS "server" on UDP and TCP that answers FORMERR to everything, like a broken middlebox
/// or a peer that cannot parse our messages.
fn formerr_peer() -> SocketAddr {
    // A port free on both UDP and TCP: a UDP port the kernel picks may be taken on TCP.
    let (udp, tcp) = (0..64)
        .find_map(|_| {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
            let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
            Some((udp, tcp))
        })
        .expect("no loopback port free on both UDP and TCP");
    let address = udp.local_addr().unwrap();
    let formerr = |query: &[u8]| -> Option<Vec<u8>> {
        let mut reply = query.get(..12)?.to_vec();
        reply[2] = 0x80 | (query[2] & 0x78); // QR, the opcode
        reply[3] = 1; // FORMERR
        reply[4..12].fill(0);
        Some(reply)
    };
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok((len, from)) = udp.recv_from(&mut buffer) {
            if let Some(reply) = formerr(&buffer[..len]) {
                let _ = udp.send_to(&reply, from);
            }
        }
    });
    thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in tcp.incoming().flatten() {
            let mut stream = stream;
            let mut len = [0u8; 2];
            while stream.read_exact(&mut len).is_ok() {
                let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if stream.read_exact(&mut query).is_err() {
                    break;
                }
                let Some(reply) = formerr(&query) else { break };
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if stream.write_all(&framed).is_err() {
                    break;
                }
            }
        }
    });
    address
}

fn api(server: &Nebula) -> Client {
    let token = std::fs::read_to_string(server.dir().join("data/admin.token")).unwrap();
    Client::new(
        &format!("http://{}", server.http()),
        Some(token.trim().to_owned()),
        Duration::from_secs(10),
    )
}

fn post(client: &Client, path: &str, body: Value) -> Value {
    let reply = client
        .request("POST", path, Some(Body::Json(body.clone())), &[])
        .unwrap();
    assert!(
        reply.is_success(),
        "{path} {body}: {} {}",
        reply.status,
        reply.body
    );
    serde_json::from_str(&reply.body).unwrap()
}

fn get(client: &Client, path: &str) -> Value {
    let reply = client.get(path).unwrap();
    assert!(
        reply.is_success(),
        "{path}: {} {}",
        reply.status,
        reply.body
    );
    serde_json::from_str(&reply.body).unwrap()
}

fn ctl(server: &Nebula, args: &[&str]) -> (i32, String, String) {
    nebulactl(
        CTL.as_ref(),
        server.http(),
        &server.dir().join("data"),
        args,
    )
}

/// `nebulactl deploy --zone example.com --wait-for-propagation --timeout <timeout>`.
fn deploy_and_wait(server: &Nebula, timeout: &str) -> (i32, String, String) {
    ctl(
        server,
        &[
            "deploy",
            "--zone",
            "example.com",
            "--wait-for-propagation",
            "--timeout",
            timeout,
        ],
    )
}

fn change_www(client: &Client, address: &str) -> u32 {
    let result = post(
        client,
        "/api/v1/zones/example.com./records",
        json!({"changes": [{"action": "replace", "name": "www", "type": "A", "ttl": 300, "data": address}]}),
    );
    u32::try_from(result["serial"].as_u64().unwrap()).unwrap()
}

/// Waits until `check` holds for the value at `path`.
fn wait_for(client: &Client, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TRANSFER_TIMEOUT;
    loop {
        let value = get(client, path);
        if check(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: {path} is {value:#}");
        thread::sleep(Duration::from_millis(200));
    }
}

fn declare(client: &Client, name: &str, address: SocketAddr, key: Option<&str>) {
    post(
        client,
        "/api/v1/secondaries",
        json!({"name": name, "address": address.to_string(), "key": key, "zones": [ZONE]}),
    );
}

#[test]
fn the_incident_fails_the_deploy_with_fingerprints_and_wire_errors_until_fixed() {
    let server = Nebula::start_with(
        env!("CARGO_BIN_EXE_nebuladns"),
        &[],
        "[transfer]\nallow = []\n\n[propagation]\npoll_ms = 200\n",
    )
    .unwrap();
    let client = api(&server);
    let first = change_www(&client, "192.0.2.90");
    // One key per secondary, made by the API.
    let mut keys = Vec::new();
    for name in ["bind-xfr.", "knot-xfr."] {
        let made = post(&client, "/api/v1/tsig-keys", json!({ "name": name }));
        let secret = data_encoding::BASE64
            .decode(made["secret"].as_str().unwrap().as_bytes())
            .unwrap();
        keys.push(TsigKey::new(name, &secret));
    }
    // Knot is healthy; BIND has the wrong secret for its key; "edge" answers FORMERR.
    let knot = Peer::spawn(
        PeerKind::Knot,
        &[ZoneConfig::secondary(ZONE, server.dns()).with_key(keys[1].clone())],
    )
    .unwrap();
    let wrong = TsigKey::new("bind-xfr.", b"the secret BIND was given by mistake");
    let bind = Peer::spawn(
        PeerKind::Bind,
        &[ZoneConfig::secondary(ZONE, server.dns()).with_key(wrong)],
    )
    .unwrap();
    let edge = formerr_peer();
    declare(&client, "knot", knot.address(), Some("knot-xfr."));
    declare(&client, "bind", bind.address(), Some("bind-xfr."));
    declare(&client, "edge", edge, None);
    knot.wait_for_serial(ZONE, TRANSFER_TIMEOUT, |s| s == first)
        .unwrap_or_else(|e| panic!("{e}\nour log:\n{}", server.log()));

    // The deploy of a new version fails within its SLA, naming each peer's problem.
    let next = change_www(&client, "192.0.2.91");
    let started = Instant::now();
    let (code, out, err) = deploy_and_wait(&server, "10s");
    assert_eq!(code, 8, "{out}{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "failed within the SLA"
    );
    assert!(err.contains("failed"), "{err}");
    assert!(
        err.contains("bind (required)") && err.contains("BADSIG"),
        "BIND's wire error: {err}"
    );
    assert!(
        err.contains("edge (required)") && err.contains("FORMERR"),
        "the FORMERR peer: {err}"
    );
    assert!(!err.contains("knot (required)"), "Knot converged: {err}");
    knot.wait_for_serial(ZONE, TRANSFER_TIMEOUT, |s| s == next)
        .unwrap();

    // The API: the implicit deploy of the write, each peer's fingerprint and errors.
    let version = get(&client, "/api/v1/zones/example.com./propagation")["version"]
        .as_u64()
        .unwrap();
    let propagation = get(&client, "/api/v1/zones/example.com./propagation");
    assert_eq!(propagation["converged"], false, "{propagation:#}");
    let peer = |name: &str| {
        propagation["secondaries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(peer("knot")["converged"], true, "{propagation:#}");
    assert_eq!(peer("knot")["software"], "knot");
    assert!(peer("edge")["error"].as_str().unwrap().contains("FORMERR"));
    assert!(peer("bind")["error"].as_str().unwrap().contains("BADSIG"));
    let bind_health = get(&client, "/api/v1/secondaries/bind/health");
    assert_eq!(
        bind_health["status"]["fingerprint"]["software"], "bind",
        "{bind_health:#}"
    );
    assert!(bind_health["status"]["fingerprint"]["version"]
        .as_str()
        .unwrap()
        .starts_with("9.18"));
    assert_eq!(
        bind_health["transfers"]["last_failure"]["result"], "badsig",
        "{bind_health:#}"
    );
    assert!(
        bind_health["status"]["fingerprint"]["probes"]
            .as_str()
            .unwrap()
            .contains("edns1=BADVERS"),
        "{bind_health:#}"
    );
    let edge_health = get(&client, "/api/v1/secondaries/edge/health");
    assert_eq!(edge_health["status"]["fingerprint"]["software"], "unknown");
    assert!(edge_health["status"]["fingerprint"]["version_bind"]
        .as_str()
        .unwrap()
        .contains("FORMERR"));
    let implicit = format!("/api/v1/deploys/example.com.@{version}");
    assert!(
        get(&client, &implicit)["state"] == "verifying",
        "the write's own deploy waits for its 60 s SLA"
    );

    // The CLI's health view and the metrics say the same.
    let (code, out, _) = ctl(&server, &["secondaries", "health"]);
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("BADSIG") && out.contains("FORMERR") && out.contains("knot"),
        "{out}"
    );
    let metrics = server.metrics_text().unwrap();
    for series in [
        "nebula_zone_propagation_converged{zone=\"example.com.\"}",
        "nebula_secondary_soa_check_error{zone=\"example.com.\",peer=\"bind\",error=\"badsig\"}",
        "nebula_secondary_soa_check_error{zone=\"example.com.\",peer=\"edge\",error=\"formerr\"}",
        "nebula_peer_version_info{peer=\"knot\",software=\"knot\"",
    ] {
        assert!(metrics.contains(series), "{series} in:\n{metrics}");
    }
    assert_eq!(
        metric_value(
            &metrics,
            "nebula_zone_propagation_converged{zone=\"example.com.\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            "nebula_secondary_observed_soa_serial{zone=\"example.com.\",peer=\"knot\"}"
        ),
        Some(f64::from(next))
    );
    assert!(
        metric_value(
            &metrics,
            "nebula_zone_propagation_lag_seconds{zone=\"example.com.\",peer=\"bind\"}"
        )
        .is_some_and(|lag| lag > 0.0),
        "{metrics}"
    );
    // Fixed: BIND gets the right secret (a new process: the operator restarted it), the edge
    // host is repaired (here: a real NSD takes its place). The next deploy is verified.
    drop(bind);
    let bind = Peer::spawn(
        PeerKind::Bind,
        &[ZoneConfig::secondary(ZONE, server.dns()).with_key(keys[0].clone())],
    )
    .unwrap();
    let nsd = Peer::spawn(PeerKind::Nsd, &[ZoneConfig::secondary(ZONE, server.dns())]).unwrap();
    declare(&client, "bind", bind.address(), Some("bind-xfr."));
    declare(&client, "edge", nsd.address(), None);
    let notified = post(&client, "/api/v1/zones/example.com./notify", json!({}));
    assert!(
        notified["secondaries"].as_array().unwrap().len() == 3,
        "{notified}"
    );
    let (code, out, err) = deploy_and_wait(&server, "30s");
    assert_eq!(code, 0, "{out}{err}\nour log:\n{}", server.log());
    assert!(out.contains("verified"), "{out}");
    wait_for(
        &client,
        "/api/v1/zones/example.com./propagation",
        "converged",
        |v| v["converged"] == true,
    );
    let (code, out, _) = ctl(&server, &["secondaries", "health"]);
    assert_eq!(code, 0, "{out}");
    let implicit = wait_for(&client, &implicit, "the write's deploy verified too", |v| {
        v["state"] == "verified"
    });
    assert_eq!(implicit["serial"], next);
}

#[test]
fn a_deploy_carries_on_across_a_leader_change() {
    use support::cluster::{TestCluster, TEST_ZONE};
    let mut cluster = TestCluster::start(
        env!("CARGO_BIN_EXE_nebuladns").as_ref(),
        3,
        "\n[propagation]\npoll_ms = 200\n",
    );
    let leader = cluster.wait_for_leader(Duration::from_secs(10));
    let other = (1..=3).find(|&id| id != leader).unwrap();
    let created = cluster.request(
        other,
        "PUT",
        "/api/v1/zones/dep.test.",
        Some(Body::Text(TEST_ZONE.to_owned())),
        &[],
    );
    assert!(created.is_success(), "{}", created.body);
    // A required secondary that is not up yet: the deploy of the next write stays verifying.
    let nowhere = SocketAddr::from(([127, 0, 0, 1], support::peers::free_port().unwrap()));
    let declared = cluster.request(
        other,
        "POST",
        "/api/v1/secondaries",
        Some(Body::Json(
            json!({"name": "nsd", "address": nowhere.to_string(), "zones": ["dep.test."]}),
        )),
        &[],
    );
    assert!(declared.is_success(), "{}", declared.body);
    let written = cluster.request(
        other,
        "POST",
        "/api/v1/zones/dep.test./records",
        Some(support::cluster::add_txt("t", "leader change")),
        &[],
    );
    assert!(written.is_success(), "{}", written.body);
    let written = written.json();
    let deploy = format!("/api/v1/deploys/dep.test.@{}", written["version"]);
    let client = cluster.client(other);
    let verifying = wait_for(&client, &deploy, "verifying under the first leader", |d| {
        d["state"] == "verifying"
            && d["peers"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("connection refused"))
    });
    assert_eq!(verifying["serial"], written["serial"]);

    // The leader dies; the secondary comes up (at its own address, redeclared).
    cluster.kill(leader);
    let survivor = other;
    cluster.wait_until(Duration::from_secs(10), "a new leader", |c| {
        c.leader_seen_by(survivor).is_some_and(|l| l != leader)
    });
    let nsd = Peer::spawn(
        PeerKind::Nsd,
        &[ZoneConfig::secondary(
            "dep.test.",
            cluster.node(survivor).dns,
        )],
    )
    .unwrap();
    let redeclared = cluster.request(
        survivor,
        "POST",
        "/api/v1/secondaries",
        Some(Body::Json(
            json!({"name": "nsd", "address": nsd.address().to_string(), "zones": ["dep.test."]}),
        )),
        &[],
    );
    assert!(redeclared.is_success(), "{}", redeclared.body);
    let verified = wait_for(&client, &deploy, "verified by the new leader", |d| {
        d["state"] == "verified"
    });
    assert_eq!(verified["peers"][0]["observed_serial"], written["serial"]);
    assert_eq!(
        verified["created_ms"], verifying["created_ms"],
        "the same deploy"
    );
}

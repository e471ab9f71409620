//! The `nebuladns` process as an operator meets it (issue 3): configuration errors that name the
//! key, `--print-default-config` and `--check-config`, a bad zone at start-up reported and not
//! served while the others are, reload by SIGHUP and by `POST /api/v1/reload` that keeps the
//! running version when validation fails, `/livez` `/readyz` `/metrics`, IPv6, and SIGTERM
//! draining TCP and exiting 0. Every test starts the real binary on loopback, port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap (house rules).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nebula_wire::{Message, Name, RData, RType, Rcode};
use support::exchange::{
    connect_tcp, query, read_framed, udp_exchange, write_framed, EXCHANGE_TIMEOUT,
};
use support::nebula::{http_request, Nebula};
use support::peers::{TempDir, ZoneConfig};

const BINARY: &str = env!("CARGO_BIN_EXE_nebuladns");

fn zone_text(origin: &str, serial: u32) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n"
    )
}

/// Asks `qname`/`qtype` over UDP and decodes the answer.
fn ask(server: SocketAddr, qname: &str, qtype: RType) -> Message {
    let name: Name = qname.parse().unwrap();
    let bytes = query(0x5151, &name, qtype, None).encode().unwrap();
    Message::decode(&udp_exchange(server, &bytes, EXCHANGE_TIMEOUT).unwrap()).unwrap()
}

fn serial(server: SocketAddr, zone: &str) -> Option<u32> {
    let response = ask(server, zone, RType::SOA);
    response.answers.iter().find_map(|r| match &r.rdata {
        RData::Soa(soa) => Some(soa.serial),
        _ => None,
    })
}

fn wait_for_serial(server: SocketAddr, zone: &str, want: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if serial(server, zone) == Some(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn config_errors_name_the_key_and_check_config_reports_zones() {
    let dir = TempDir::new("nebula-config").unwrap();
    let (code, default, _) = run(&["--print-default-config"]);
    assert_eq!(code, 0);
    assert!(
        default.contains("[dns]") && default.contains("listen = [\"127.0.0.1:5353\"]"),
        "{default}"
    );
    // The printed default is itself a valid configuration.
    let default_path = dir.path().join("default.toml");
    write(&default_path, &default);
    let (code, out, err) = run(&["--check-config", "--config", default_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");

    let typo = dir.path().join("typo.toml");
    write(
        &typo,
        "[dns]\nlisten = [\"127.0.0.1:0\"]\nudp_workerz = 2\n",
    );
    let (code, _, err) = run(&["--config", typo.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("udp_workerz"),
        "the error names the unknown key: {err}"
    );

    let bad_value = dir.path().join("bad-value.toml");
    write(&bad_value, "[dns]\nedns_payload = 100\n");
    let (code, _, err) = run(&["--check-config", "--config", bad_value.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("dns.edns_payload"), "{err}");

    write(&dir.path().join("good.zone"), &zone_text("good.test.", 1));
    write(
        &dir.path().join("bad.zone"),
        "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n  NS ns1\nns1 A 192.0.2.300\n",
    );
    let config = dir.path().join("zones.toml");
    write(
        &config,
        "[[zone]]\nname = \"good.test.\"\nfile = \"good.zone\"\n[[zone]]\nname = \"bad.test.\"\nfile = \"bad.zone\"\n",
    );
    let (code, out, _) = run(&["--check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("zone good.test.: OK"), "{out}");
    assert!(
        out.contains("bad.zone:4"),
        "the problem is named with its file and line: {out}"
    );
}

#[test]
fn bad_zone_at_start_is_reported_and_not_served_while_others_are() {
    let dir = TempDir::new("nebula-startup").unwrap();
    let good = dir.path().join("good.zone");
    let bad = dir.path().join("bad.zone");
    write(&good, &zone_text("good.test.", 7));
    write(
        &bad,
        "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\nwww CNAME a\nwww A 192.0.2.1\n",
    );
    let server = Nebula::start(
        BINARY,
        &[
            ZoneConfig::primary("good.test.", &good),
            ZoneConfig::primary("bad.test.", &bad),
        ],
    )
    .unwrap();
    assert_eq!(serial(server.dns(), "good.test."), Some(7));
    let refused = ask(server.dns(), "www.bad.test.", RType::A);
    assert_eq!(
        refused.rcode(),
        Rcode::REFUSED,
        "a zone that failed validation is not served"
    );
    let log = server.log();
    assert!(
        log.contains("bad.test.") && log.contains("bad.zone"),
        "the failure is logged with its file: {log}"
    );
    let (status, body) = http_request(server.http(), "GET", "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"zones\":1"), "{body}");
}

#[test]
fn reload_keeps_the_running_version_until_the_zone_validates() {
    let dir = TempDir::new("nebula-reload").unwrap();
    let file = dir.path().join("reload.zone");
    write(&file, &zone_text("reload.test.", 1));
    let server = Nebula::start(BINARY, &[ZoneConfig::primary("reload.test.", &file)]).unwrap();
    assert_eq!(serial(server.dns(), "reload.test."), Some(1));

    // A broken edit: the API refuses it, names the problem, and the old version stays.
    write(
        &file,
        &zone_text("reload.test.", 2).replace("192.0.2.80", "192.0.2.800"),
    );
    let (status, body) = http_request(server.http(), "POST", "/api/v1/reload").unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("reload.zone:6"),
        "the report names file and line: {body}"
    );
    assert_eq!(serial(server.dns(), "reload.test."), Some(1));
    let failures = server.metric("nebula_reload_failures_total").unwrap();
    assert_eq!(failures, Some(1.0));

    // Fixed: SIGHUP swaps it in.
    write(&file, &zone_text("reload.test.", 2));
    server.signal("HUP").unwrap();
    assert!(
        wait_for_serial(server.dns(), "reload.test.", 2),
        "SIGHUP reload"
    );

    // And the API reports success for the next edit.
    write(&file, &zone_text("reload.test.", 3));
    let (status, body) = http_request(server.http(), "POST", "/api/v1/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(serial(server.dns(), "reload.test."), Some(3));
}

#[test]
fn health_and_metrics_endpoints() {
    let dir = TempDir::new("nebula-health").unwrap();
    let file = dir.path().join("h.zone");
    write(&file, &zone_text("h.test.", 1));
    let server = Nebula::start(BINARY, &[ZoneConfig::primary("h.test.", &file)]).unwrap();
    let (status, body) = http_request(server.http(), "GET", "/livez").unwrap();
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, body) = http_request(server.http(), "GET", "/readyz").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"ready\":true"), "{body}");
    ask(server.dns(), "www.h.test.", RType::A);
    let text = server.metrics_text().unwrap();
    for series in [
        "nebula_dns_queries_total{proto=\"udp\",qtype=\"A\",rcode=\"NOERROR\"} 1",
        "nebula_dns_query_duration_seconds_count 1",
        "nebula_dns_dropped_total{reason=\"response\"} 0",
        "nebula_dns_formerr_total{reason=\"qdcount_mismatch\"} 0",
        "nebula_build_info{",
        "nebula_process_resident_memory_bytes ",
        "nebula_ready 1",
        "nebula_raft_leader 1",
        "nebula_raft_has_quorum 1",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    // Labels are enums or configured names (served zones): no query name ever appears.
    assert!(!text.contains("www.h.test"));
    assert!(text.contains("nebula_zone_current_soa_serial{zone=\"h.test.\"} 1"));
}

#[test]
fn sigterm_drains_tcp_and_exits_zero() {
    let dir = TempDir::new("nebula-term").unwrap();
    let file = dir.path().join("t.zone");
    write(&file, &zone_text("t.test.", 1));
    let mut server = Nebula::start(BINARY, &[ZoneConfig::primary("t.test.", &file)]).unwrap();
    let name: Name = "www.t.test.".parse().unwrap();
    let mut stream = connect_tcp(server.dns(), EXCHANGE_TIMEOUT).unwrap();
    // Pipelining: two queries written before either answer is read (RFC 7766 §6.2.1.1).
    write_framed(
        &mut stream,
        &query(1, &name, RType::A, None).encode().unwrap(),
    )
    .unwrap();
    write_framed(
        &mut stream,
        &query(2, &name, RType::AAAA, None).encode().unwrap(),
    )
    .unwrap();
    let first = Message::decode(&read_framed(&mut stream).unwrap()).unwrap();
    let second = Message::decode(&read_framed(&mut stream).unwrap()).unwrap();
    assert_eq!((first.header.id, second.header.id), (1, 2));
    server.signal("TERM").unwrap();
    let status = server
        .wait_for_exit(Duration::from_secs(8))
        .unwrap()
        .expect("exits after SIGTERM");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
}

/// A server started from a hand-written `[dns]` section (the other sections on loopback port 0)
/// serving one zone `name` with the text `zone`.
fn start_custom(prefix: &str, dns_section: &str, name: &str, zone: &str) -> Nebula {
    let dir = TempDir::new(prefix).unwrap();
    write(&dir.path().join("zone.file"), zone);
    let config = dir.path().join("config.toml");
    write(
        &config,
        &format!(
            "[server]\ndata_dir = \"{}\"\n[dns]\n{dns_section}\n[http]\nlisten = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[[zone]]\nname = \"{name}\"\nfile = \"zone.file\"\n",
            dir.path().join("data").display()
        ),
    );
    Nebula::launch(Path::new(BINARY), dir, &config).unwrap()
}

#[test]
fn serves_ipv6() {
    let server = start_custom(
        "nebula-ipv6",
        "listen = [\"[::1]:0\"]\nudp_workers = 1",
        "v6.test.",
        &zone_text("v6.test.", 4),
    );
    assert!(server.dns().is_ipv6());
    assert_eq!(serial(server.dns(), "v6.test."), Some(4));
}

/// RFC 7766 §6.2.2: a server limits connections per client and in total; a connection over the
/// limit is closed at once while the others keep working.
#[test]
fn tcp_connection_limits() {
    let server = start_custom(
        "nebula-tcp-limits",
        "listen = [\"127.0.0.1:0\"]\nudp_workers = 1\ntcp_max_connections = 3\ntcp_max_connections_per_client = 2\ntcp_idle_timeout_ms = 1500",
        "l.test.",
        &zone_text("l.test.", 1),
    );
    let name: Name = "www.l.test.".parse().unwrap();
    let asks = |stream: &mut std::net::TcpStream, id: u16| -> std::io::Result<Message> {
        write_framed(stream, &query(id, &name, RType::A, None).encode().unwrap())?;
        Ok(Message::decode(&read_framed(stream)?).unwrap())
    };
    let mut first = connect_tcp(server.dns(), EXCHANGE_TIMEOUT).unwrap();
    let mut second = connect_tcp(server.dns(), EXCHANGE_TIMEOUT).unwrap();
    assert_eq!(asks(&mut first, 1).unwrap().header.id, 1);
    assert_eq!(asks(&mut second, 2).unwrap().header.id, 2);
    let mut third = connect_tcp(server.dns(), EXCHANGE_TIMEOUT).unwrap();
    assert!(
        asks(&mut third, 3).is_err(),
        "a third connection from one client is closed"
    );
    assert_eq!(
        asks(&mut first, 4).unwrap().header.id,
        4,
        "the others keep working"
    );
    // Idle connections are closed after the timeout, which frees their slots.
    std::thread::sleep(Duration::from_millis(3000));
    assert!(
        asks(&mut first, 5).is_err(),
        "idle connection closed after 1.5 s"
    );
    let mut again = connect_tcp(server.dns(), EXCHANGE_TIMEOUT).unwrap();
    assert_eq!(asks(&mut again, 6).unwrap().header.id, 6);
}

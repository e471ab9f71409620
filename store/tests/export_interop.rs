//! The exported master file is read by the real peers: BIND's `named-checkzone` and Knot's
//! `kzonecheck` load it without error and count the same records.
//!
//! A peer that is not installed is reported on stderr and skipped (Debian packages
//! `bind9-utils` and `knot-dnssecutils` provide them); at least one must be present.
// Tests may unwrap and panic (house rules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use nebula_store::canonical::normalize;
use nebula_store::export::to_master_file;
use nebula_store::Zone;
use nebula_wire::text::tokenize;
use nebula_wire::{Class, Name, RData, RType};

fn sample() -> Zone {
    let origin = Name::from_text("example.com.", None).unwrap();
    let mut zone = Zone::new(origin.clone(), Class::IN);
    let records: &[(&str, u32, &str, &str)] = &[
        (
            "@",
            3600,
            "SOA",
            "ns1 hostmaster 2024010107 7200 3600 1209600 300",
        ),
        ("@", 3600, "NS", "ns1"),
        ("@", 3600, "NS", "ns2.example.net."),
        ("@", 300, "MX", "10 mail"),
        (
            "@",
            300,
            "TXT",
            r#""v=spf1 -all" "semi;colon" "quote\"d" "\255""#,
        ),
        ("ns1", 3600, "A", "192.0.2.53"),
        ("www", 300, "A", "192.0.2.1"),
        ("www", 300, "A", "192.0.2.2"),
        ("WWW", 300, "AAAA", "2001:db8::1"),
        ("mail", 300, "A", "192.0.2.25"),
        ("_sip._tcp", 300, "SRV", "0 5 5060 sip"),
        ("sip", 300, "A", "192.0.2.60"),
        ("alias", 300, "CNAME", "www"),
        ("sub", 86400, "NS", "ns1.sub"),
        ("ns1.sub", 86400, "A", "192.0.2.54"),
        ("*.wild", 60, "A", "192.0.2.99"),
        ("odd", 60, "TYPE65534", "\\# 3 ABCDEF"),
    ];
    for (owner, ttl, rtype, text) in records {
        let owner = if *owner == "@" {
            origin.clone()
        } else {
            Name::from_text(owner, Some(&origin)).unwrap()
        };
        let rtype = RType::from_text(rtype).unwrap();
        let rdata = RData::from_tokens(rtype, &tokenize(text).unwrap(), Some(&origin)).unwrap();
        zone.insert(owner, *ttl, rdata);
    }
    zone
}

fn write_export(zone: &Zone) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nebula-export-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("example.com.zone");
    std::fs::write(&path, to_master_file(zone)).unwrap();
    path
}

/// Reads `owner TTL class type RDATA` lines with absolute names (BIND's `-s full` output).
fn parse_full_lines(text: &str, origin: Name) -> Zone {
    let mut zone = Zone::new(origin, Class::IN);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let tokens = tokenize(line).unwrap();
        let owner = Name::from_text(tokens[0].text, None).unwrap();
        let ttl: u32 = tokens[1].text.parse().unwrap();
        assert_eq!(Class::from_text(tokens[2].text), Some(Class::IN), "{line}");
        let rtype = RType::from_text(tokens[3].text).unwrap();
        let rdata = RData::from_tokens(rtype, &tokens[4..], None).unwrap();
        zone.insert(owner, ttl, rdata);
    }
    zone
}

/// Runs a peer; `None` if it is not installed.
fn run(program: &str, args: &[&str]) -> Option<(bool, String)> {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Some((out.status.success(), text))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{program} not installed: skipped");
            None
        }
        Err(error) => panic!("running {program}: {error}"),
    }
}

#[test]
fn bind_and_knot_load_the_export() {
    let zone = sample();
    let path = write_export(&zone);
    let file = path.to_str().unwrap();
    let mut peers_run = 0;

    // -k fail / -n fail: names that BIND would only warn about are errors here.
    if let Some((ok, text)) = run(
        "named-checkzone",
        &["-k", "fail", "-n", "fail", "example.com", file],
    ) {
        assert!(
            ok,
            "named-checkzone refused the export:\n{text}\n{}",
            to_master_file(&zone)
        );
        assert!(text.contains("loaded serial 2024010107"), "{text}");
        peers_run += 1;
    }
    // named-compilezone prints the zone it loaded, one record per line (`-s full`): read back,
    // it must be our zone.
    if let Some((ok, text)) = run(
        "named-compilezone",
        &["-q", "-s", "full", "-o", "-", "example.com", file],
    ) {
        assert!(ok, "named-compilezone:\n{text}");
        let loaded = parse_full_lines(&text, zone.origin.clone());
        assert_eq!(
            normalize(&loaded),
            normalize(&zone),
            "BIND loaded other data:\n{text}"
        );
    }
    if let Some((ok, text)) = run("kzonecheck", &["-o", "example.com.", file]) {
        assert!(
            ok,
            "kzonecheck refused the export:\n{text}\n{}",
            to_master_file(&zone)
        );
        peers_run += 1;
    }
    assert!(
        peers_run > 0,
        "neither named-checkzone nor kzonecheck is installed"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

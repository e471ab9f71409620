//! Fuzz target: the whole packet handler of the data plane, `Responder::answer`, on arbitrary
//! bytes over UDP and TCP. It must never panic, and whatever it sends must be a well-formed
//! response: it decodes strictly, echoes the query's ID with QR set, and over UDP fits the size
//! the client may receive (512 octets, or its EDNS payload size up to ours; RFC 6891 §6.2.3).
#![no_main]

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use nebula_node::answer::{EngineConfig, Identity, Responder, Transport, DEFAULT_EDNS_PAYLOAD};
use nebula_node::cookie::CookieSecret;
use nebula_store::snapshot::{Catalog, ZoneSnapshot};
use nebula_wire::{Message, Name, QueryView};

/// The example zone plus the constructs with their own code paths.
const EXTRA: &str = "sub NS ns.sub\nns.sub A 192.0.2.99\ndn DNAME example.net.\n\
                     loop1 CNAME loop2\nloop2 CNAME loop1\nbig TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n";

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let origin: Name = "example.com.".parse().expect("origin");
        let text = format!("{}{EXTRA}", nebula_node::zones::EXAMPLE_ZONE);
        let parsed = nebula_store::master::parse_str(&text, &origin, "fuzz").expect("zone");
        Catalog::new([Arc::new(ZoneSnapshot::compile(&parsed.zone))])
    })
}

fuzz_target!(|data: &[u8]| {
    let mut responder = Responder::new(EngineConfig {
        identity: Identity { version: Some("fuzz".into()), hostname: Some("fuzz".into()) },
        cookie_secret: CookieSecret::new([3; 16]),
        edns_payload: DEFAULT_EDNS_PAYLOAD,
        transfer_allow: vec!["0.0.0.0/0".parse().expect("prefix")].into(),
    });
    let client: IpAddr = "192.0.2.7".parse().expect("address");
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        responder.answer(data, client, transport, catalog(), 1_700_000_000, &mut out);
        if out.is_empty() {
            continue;
        }
        let response = Message::decode(&out).unwrap_or_else(|e| panic!("our response does not decode: {e}"));
        assert!(response.header.qr, "QR set");
        assert_eq!(&out[..2], &data[..2], "ID echoed");
        if transport == Transport::Udp {
            let limit = match QueryView::parse(data).ok().and_then(|q| q.edns) {
                Some(edns) => usize::from(edns.udp_payload_size.clamp(512, DEFAULT_EDNS_PAYLOAD)),
                None => 512,
            };
            assert!(out.len() <= limit, "UDP response of {} octets over the limit {limit}", out.len());
        }
    }
});

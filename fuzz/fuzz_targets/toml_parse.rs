//! Fuzz target: the store's TOML zone format on arbitrary bytes never panics, and a zone it
//! accepts survives both its own writer (`to_toml` then `parse_toml`) and the master-file
//! export (`to_master_file` then `master::parse_str`) with the same data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nebula_store::canonical::canonical_wire;
use nebula_store::export::to_master_file;
use nebula_store::format::{parse_toml, to_toml};
use nebula_store::master::parse_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse_toml(text, "fuzz") else {
        return;
    };
    let zone = &parsed.zone;

    let toml = to_toml(zone);
    match parse_toml(&toml, "to_toml") {
        Ok(again) => assert!(
            again.zone.origin == zone.origin && canonical_wire(&again.zone) == canonical_wire(zone),
            "to_toml changed the zone\n--- input:\n{text}\n--- to_toml:\n{toml}"
        ),
        Err(errors) => {
            panic!("to_toml output does not parse back:\n{errors}\n--- to_toml:\n{toml}")
        }
    }

    let master = to_master_file(zone);
    match parse_str(&master, &zone.origin, "export") {
        Ok(again) => assert!(
            canonical_wire(&again.zone) == canonical_wire(zone),
            "master export changed the zone\n--- input:\n{text}\n--- export:\n{master}"
        ),
        Err(errors) => {
            panic!("master export does not parse back:\n{errors}\n--- export:\n{master}")
        }
    }
});

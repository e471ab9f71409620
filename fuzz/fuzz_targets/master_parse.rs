//! Fuzz target: the store's RFC 1035 master-file parser on arbitrary bytes never panics, and a
//! zone it accepts survives export and re-parse: `parse(export(zone))` holds the same data
//! (same canonical form, so the same content hash). Text without a file refuses `$INCLUDE`,
//! so the target reads no files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nebula_store::canonical::{canonical_wire, content_hash, HashFormat};
use nebula_store::export::to_master_file;
use nebula_store::master::parse_str;
use nebula_wire::Name;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(origin) = Name::from_text("example.com.", None) else {
        return;
    };
    let Ok(parsed) = parse_str(text, &origin, "fuzz") else {
        return;
    };
    let exported = to_master_file(&parsed.zone);
    let again = match parse_str(&exported, &origin, "export") {
        Ok(again) => again,
        Err(errors) => panic!("our export does not parse back:\n{errors}\n--- export:\n{exported}"),
    };
    assert!(
        canonical_wire(&again.zone) == canonical_wire(&parsed.zone)
            && again.zone.class == parsed.zone.class,
        "export changed the zone\n--- input:\n{text}\n--- export:\n{exported}"
    );
    for format in [HashFormat::V1, HashFormat::V2] {
        assert_eq!(content_hash(format, &again.zone), content_hash(format, &parsed.zone));
    }
});

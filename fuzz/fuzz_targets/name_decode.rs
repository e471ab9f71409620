//! Fuzz target: `Reader::name` with compression on arbitrary bytes. The first input byte picks
//! the start offset inside the rest. A decoded name is well formed (RFC 1035 §2.3.4 limits),
//! the allocation-free `name_into` agrees with it, and it survives both the wire round trip and
//! the presentation-format round trip (`Display` then `Name::from_text`) with case kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nebula_wire::codec::{NameKind, Reader, Writer};
use nebula_wire::{Name, NameBuf};

fuzz_target!(|data: &[u8]| {
    let Some((&start, message)) = data.split_first() else {
        return;
    };
    let start = usize::from(start) % message.len().max(1);

    let mut reader = Reader::at(message, start);
    let result = reader.name(true);
    let mut buffer = NameBuf::default();
    let inline = Reader::at(message, start).name_into(&mut buffer, true);
    assert_eq!(
        result.is_ok(),
        inline.is_ok(),
        "name and name_into disagree"
    );
    let Ok(name) = result else { return };
    assert_eq!(buffer.as_wire(), name.as_wire());
    assert!(name.wire_len() <= 255, "name longer than 255 octets");
    assert!(reader.position() <= message.len() && reader.position() > start);
    let checked = Name::from_wire(name.as_wire());
    assert!(
        checked.is_ok(),
        "decoded name is not valid wire form: {:?}",
        name.as_wire()
    );

    // Without pointers allowed, a name that used none decodes identically.
    if let Ok(plain) = Reader::at(message, start).name(false) {
        assert_eq!(plain.as_wire(), name.as_wire());
    }

    // Wire round trip through the compressing writer, twice (the second use is a pointer).
    let mut writer = Writer::message(64);
    writer.name(name.as_wire(), NameKind::Compressible);
    let second_at = writer.len();
    writer.name(name.as_wire(), NameKind::Compressible);
    let bytes = writer.into_bytes();
    for at in [0, second_at] {
        let again = Reader::at(&bytes, at).name(true);
        assert_eq!(
            again.as_ref().map(Name::as_wire).ok(),
            Some(name.as_wire()),
            "wire round trip at {at}"
        );
    }

    // Presentation round trip: what we print, we parse back to the same octets.
    let text = name.to_string();
    match Name::from_text(&text, None) {
        Ok(parsed) => assert_eq!(
            parsed.as_wire(),
            name.as_wire(),
            "text round trip of {text}"
        ),
        Err(error) => panic!("cannot parse our own text {text:?}: {error}"),
    }
});

//! Fuzz target: `Message::decode` on arbitrary bytes never panics, and a message it accepts
//! survives a round trip: encode (with compression) then decode gives an equal message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nebula_wire::{DecodeError, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::decode(data) else {
        return;
    };
    let bytes = match message.encode() {
        Ok(bytes) => bytes,
        // Our compressor may not find every suffix the peer's pointers reused (pointers into
        // opaque RDATA, for one), so a near-64 KiB input can re-encode longer than allowed.
        Err(DecodeError::MessageTooLong { .. }) => return,
        Err(error) => panic!("encode of a decoded message failed: {error}"),
    };
    let again = match Message::decode(&bytes) {
        Ok(again) => again,
        Err(error) => panic!("re-decode of our own encoding failed: {error}\n{message}"),
    };
    assert_eq!(again, message, "decode(encode(m)) != m");
    // Names compare without case. The compressor matches suffixes without case too (a design
    // choice of the codec: BIND 9.18 compresses case-sensitively instead), so an owner may come
    // back with the case of an earlier name; the first question name is written first and so
    // must keep its exact octets (DNS 0x20 clients compare them).
    if let (Some(first), Some(again_first)) = (message.questions.first(), again.questions.first()) {
        assert_eq!(
            first.name.as_wire(),
            again_first.name.as_wire(),
            "question name case changed"
        );
    }
});

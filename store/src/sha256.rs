//! SHA-256 for the store: content hashes, the audit chain, request digests.
//!
//! ring's implementation (BoringSSL's assembly, with AVX and SHA-extension paths) hashed ~1.7x
//! as fast as `sha2`'s portable code on the benchmark machine, which has no SHA extensions; every
//! applied write hashes part of its zone on every node (ADR 0012).

use std::fmt;

/// A SHA-256 computation under way. Cloning it saves its state: [`crate::canonical`] resumes
/// content hashes from saved states.
#[derive(Clone)]
pub struct Sha256(ring::digest::Context);

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        self.0.update(data.as_ref());
    }

    pub fn finalize(self) -> [u8; 32] {
        let mut out = [0; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256::new()
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256 { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::Sha256;

    fn hex(bytes: [u8; 32]) -> String {
        data_encoding::HEXLOWER.encode(&bytes)
    }

    #[test]
    fn fips_180_test_vectors_and_resumed_states() {
        assert_eq!(
            hex(Sha256::new().finalize()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut abc = Sha256::new();
        abc.update(b"abc");
        assert_eq!(
            hex(abc.finalize()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Fed in pieces across block boundaries, and resumed from a clone taken midway.
        let message = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let mut pieces = Sha256::new();
        pieces.update(&message[..7]);
        let saved = pieces.clone();
        pieces.update(&message[7..]);
        let mut resumed = saved;
        resumed.update(&message[7..]);
        let expected = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        assert_eq!(hex(pieces.finalize()), expected);
        assert_eq!(hex(resumed.finalize()), expected);
    }
}

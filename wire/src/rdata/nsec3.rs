//! NSEC3 and NSEC3PARAM RDATA (RFC 5155 §3.2 and §4.2): hashed authenticated denial.
//!
//! ```text
//! NSEC3:      | hash alg (8) | flags (8) | iterations (16) | salt length (8) | salt ... |
//!             | hash length (8) | next hashed owner name ... | type bitmap ... |
//! NSEC3PARAM: | hash alg (8) | flags (8) | iterations (16) | salt length (8) | salt ... |
//! ```
//!
//! Presentation (RFC 5155 §3.3, §4.3): the salt in hex or `-` when empty, the next hashed owner
//! in unpadded base32hex (RFC 4648 §7), upper case as BIND prints it.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, TextError};
use crate::rdata::{bad_rdata, CharString, TypeBitmap};
use crate::text::{encode_hex, Fields};
use crate::types::RType;

/// The only hash algorithm defined (RFC 5155 §11), whose digest is 20 octets.
const SHA1: u8 = 1;
/// BIND's bound on the hash length for other algorithms.
const MAX_HASH_LEN: usize = 155;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nsec3 {
    pub hash_algorithm: u8,
    /// Bit 7 (0x01) is Opt-Out (RFC 5155 §3.1.2.1).
    pub flags: u8,
    pub iterations: u16,
    pub salt: CharString,
    /// 1 to 155 octets; exactly 20 for SHA-1.
    pub next_hashed_owner: CharString,
    /// May be empty (an empty non-terminal, RFC 5155 §7.1).
    pub types: TypeBitmap,
}

/// The hash parameters of a zone (NSEC3PARAM).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nsec3Param {
    pub hash_algorithm: u8,
    /// Must be zero in a zone (RFC 5155 §4.1.2); other values are kept.
    pub flags: u8,
    pub iterations: u16,
    pub salt: CharString,
}

impl Nsec3 {
    pub const OPT_OUT: u8 = 0x01;

    pub fn is_opt_out(&self) -> bool {
        self.flags & Self::OPT_OUT != 0
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Nsec3, DecodeError> {
        let hash_algorithm = r.u8()?;
        let flags = r.u8()?;
        let iterations = r.u16()?;
        let salt = CharString::decode(r)?;
        let next_hashed_owner = CharString::decode(r)?;
        check_hash_len(hash_algorithm, next_hashed_owner.len())
            .map_err(|reason| bad_rdata(RType::NSEC3, reason))?;
        let types = TypeBitmap::decode(r.rest(), RType::NSEC3)?;
        Ok(Nsec3 {
            hash_algorithm,
            flags,
            iterations,
            salt,
            next_hashed_owner,
            types,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(self.hash_algorithm);
        w.u8(self.flags);
        w.u16(self.iterations);
        self.salt.encode(w);
        self.next_hashed_owner.encode(w);
        self.types.encode(w);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Nsec3, TextError> {
        let hash_algorithm = parse_hash_algorithm(f)?;
        let flags = f.u8("flags")?;
        let iterations = f.u16("iterations")?;
        let salt = parse_salt(f)?;
        let word = f.word("base32hex next hashed owner name")?;
        let next_hashed_owner = data_encoding::BASE32HEX_NOPAD
            .decode(word.to_ascii_uppercase().as_bytes())
            .ok()
            .and_then(|bytes| CharString::new(bytes).ok())
            .ok_or_else(|| f.bad("base32hex next hashed owner name", word))?;
        check_hash_len(hash_algorithm, next_hashed_owner.len())
            .map_err(|reason| f.invalid(reason))?;
        let types = TypeBitmap::from_fields(f)?;
        Ok(Nsec3 {
            hash_algorithm,
            flags,
            iterations,
            salt,
            next_hashed_owner,
            types,
        })
    }
}

impl Nsec3Param {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Nsec3Param, DecodeError> {
        Ok(Nsec3Param {
            hash_algorithm: r.u8()?,
            flags: r.u8()?,
            iterations: r.u16()?,
            salt: CharString::decode(r)?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(self.hash_algorithm);
        w.u8(self.flags);
        w.u16(self.iterations);
        self.salt.encode(w);
    }

    pub(crate) fn from_fields(f: &mut Fields<'_, '_>) -> Result<Nsec3Param, TextError> {
        Ok(Nsec3Param {
            hash_algorithm: parse_hash_algorithm(f)?,
            flags: f.u8("flags")?,
            iterations: f.u16("iterations")?,
            salt: parse_salt(f)?,
        })
    }
}

fn check_hash_len(hash_algorithm: u8, len: usize) -> Result<(), &'static str> {
    if hash_algorithm == SHA1 && len != 20 {
        return Err("SHA-1 next hashed owner name is not 20 octets");
    }
    if len == 0 {
        return Err("next hashed owner name is empty");
    }
    if len > MAX_HASH_LEN {
        return Err("next hashed owner name longer than 155 octets");
    }
    Ok(())
}

/// `1` or BIND's mnemonic `SHA-1`.
fn parse_hash_algorithm(f: &mut Fields<'_, '_>) -> Result<u8, TextError> {
    let word = f.word("hash algorithm")?;
    if word.eq_ignore_ascii_case("SHA-1") {
        return Ok(SHA1);
    }
    word.parse().map_err(|_| f.bad("hash algorithm", word))
}

/// `-` for no salt, else hex (RFC 5155 §3.3).
fn parse_salt(f: &mut Fields<'_, '_>) -> Result<CharString, TextError> {
    let word = f.word("salt")?;
    if word == "-" {
        return Ok(CharString::default());
    }
    crate::text::decode_hex(word)
        .filter(|bytes| !bytes.is_empty())
        .and_then(|bytes| CharString::new(bytes).ok())
        .ok_or_else(|| f.bad("hexadecimal salt or -", word))
}

fn push_salt(out: &mut String, salt: &CharString) {
    if salt.is_empty() {
        out.push('-');
    } else {
        out.push_str(&encode_hex(salt.as_bytes()));
    }
}

impl fmt::Display for Nsec3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!(
            "{} {} {} ",
            self.hash_algorithm, self.flags, self.iterations
        );
        push_salt(&mut out, &self.salt);
        out.push(' ');
        out.push_str(&data_encoding::BASE32HEX_NOPAD.encode(self.next_hashed_owner.as_bytes()));
        // BIND leaves no trailing space when the bitmap is empty.
        if !self.types.is_empty() {
            out.push(' ');
            out.push_str(&self.types.to_string());
        }
        f.write_str(&out)
    }
}

impl fmt::Display for Nsec3Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!(
            "{} {} {} ",
            self.hash_algorithm, self.flags, self.iterations
        );
        push_salt(&mut out, &self.salt);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    #[test]
    fn rfc5155_appendix_a_record() {
        let text = "1 1 12 AABBCCDD 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A RRSIG";
        let tokens = tokenize(text).unwrap();
        let nsec3 = Nsec3::from_fields(&mut Fields::new("NSEC3", &tokens, None)).unwrap();
        assert!(nsec3.is_opt_out());
        assert_eq!(nsec3.to_string(), text);
        // Lower-case base32hex is accepted too.
        let lower = text.to_ascii_lowercase();
        let tokens = tokenize(&lower).unwrap();
        assert_eq!(
            Nsec3::from_fields(&mut Fields::new("NSEC3", &tokens, None)).unwrap(),
            nsec3
        );
    }

    #[test]
    fn hash_length_rules() {
        // SHA-1 with a 19-octet hash.
        let mut bytes = vec![1, 0, 0, 0, 0, 19];
        bytes.extend_from_slice(&[0xAB; 19]);
        assert_eq!(
            Nsec3::decode(&mut Reader::new(&bytes)),
            Err(bad_rdata(
                RType::NSEC3,
                "SHA-1 next hashed owner name is not 20 octets"
            ))
        );
        assert_eq!(
            Nsec3::decode(&mut Reader::new(&[2, 0, 0, 0, 0, 0])),
            Err(bad_rdata(RType::NSEC3, "next hashed owner name is empty"))
        );
        // An unknown algorithm with an empty bitmap prints no trailing space.
        let nsec3 = Nsec3::decode(&mut Reader::new(&[2, 0, 0, 5, 0, 1, 0xFF])).unwrap();
        assert_eq!(nsec3.to_string(), "2 0 5 - VS");
    }

    #[test]
    fn empty_salt_is_a_dash() {
        let param = Nsec3Param::decode(&mut Reader::new(&[1, 0, 0, 0, 0])).unwrap();
        assert_eq!(param.to_string(), "1 0 0 -");
        let tokens = tokenize("1 0 0 -").unwrap();
        assert_eq!(
            Nsec3Param::from_fields(&mut Fields::new("NSEC3PARAM", &tokens, None)).unwrap(),
            param
        );
        let tokens = tokenize("1 0 0 ABC").unwrap();
        assert!(Nsec3Param::from_fields(&mut Fields::new("NSEC3PARAM", &tokens, None)).is_err());
    }
}

//! TSIG transaction signatures (RFC 8945): computing and checking the MAC of a message.
//!
//! The MAC of a request covers the message as sent without its TSIG record (ARCOUNT one less,
//! the ID the signer used) followed by the TSIG variables (§4.3.3): key name and algorithm in
//! canonical (lower-case, uncompressed) wire form, class ANY, TTL 0, time signed, fudge, error
//! and other data. A response's MAC is preceded by the request's MAC (two-octet length, then the
//! MAC). In a multi-message response (AXFR/IXFR, §5.3.1) every later MAC covers the previous MAC,
//! the messages since it and only the timers (time signed and fudge).
//!
//! [`Stream`] keeps that chain for a signer or a verifier; messages it is given without a TSIG
//! record (a peer may sign only every few) are carried into the next signed one. Comparison is
//! constant-time. Like the rest of the crate this module reads no clock: the caller passes the
//! time.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::codec::{NameKind, Reader, Writer};
use crate::error::DecodeError;
use crate::header::Header;
use crate::name::Name;
use crate::rdata::Tsig;
use crate::types::{Class, RType, Rcode};

/// The MAC algorithms NebulaDNS signs and verifies with (RFC 8945 §6: the mandatory
/// HMAC-SHA256 and the optional SHA-384/512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    /// The name as configuration files and `dig -y` write it: `hmac-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm's domain name in the TSIG record (`hmac-sha256.`).
    pub fn name(self) -> Name {
        // The three names are valid literals; the root is an unreachable fallback.
        Name::from_text(self.as_str(), Some(&Name::root())).unwrap_or_else(|_| Name::root())
    }

    /// `hmac-sha256`, with or without the final dot, in any case.
    pub fn from_text(text: &str) -> Option<Algorithm> {
        let text = text.strip_suffix('.').unwrap_or(text);
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(text))
    }

    pub fn from_name(name: &Name) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == *name)
    }

    /// The length of a full MAC in octets.
    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shared secret and its name.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    pub name: Name,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret, not even in a debug log.
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// An HMAC in progress.
#[derive(Clone)]
enum State {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl State {
    fn new(key: &Key) -> State {
        // HMAC takes keys of any length (long ones are hashed first), so these cannot fail;
        // the fallback of an empty key is never reached.
        match key.algorithm {
            Algorithm::HmacSha256 => {
                State::Sha256(Hmac::new_from_slice(&key.secret).unwrap_or_else(|_| {
                    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default())
                }))
            }
            Algorithm::HmacSha384 => {
                State::Sha384(Hmac::new_from_slice(&key.secret).unwrap_or_else(|_| {
                    <Hmac<Sha384> as hmac::digest::KeyInit>::new(&Default::default())
                }))
            }
            Algorithm::HmacSha512 => {
                State::Sha512(Hmac::new_from_slice(&key.secret).unwrap_or_else(|_| {
                    <Hmac<Sha512> as hmac::digest::KeyInit>::new(&Default::default())
                }))
            }
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            State::Sha256(m) => m.update(data),
            State::Sha384(m) => m.update(data),
            State::Sha512(m) => m.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            State::Sha256(m) => m.finalize().into_bytes().to_vec(),
            State::Sha384(m) => m.finalize().into_bytes().to_vec(),
            State::Sha512(m) => m.finalize().into_bytes().to_vec(),
        }
    }

    /// Constant-time comparison with a MAC that may be truncated (its leftmost octets).
    fn verify(self, mac: &[u8]) -> bool {
        match self {
            State::Sha256(m) => m.verify_truncated_left(mac).is_ok(),
            State::Sha384(m) => m.verify_truncated_left(mac).is_ok(),
            State::Sha512(m) => m.verify_truncated_left(mac).is_ok(),
        }
    }
}

/// The TSIG record at the end of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key_name: Name,
    pub tsig: Tsig,
    /// Where the TSIG record starts: the signed part of the message ends here.
    pub start: usize,
}

/// Finds the TSIG record of a message: the last additional record, if it is one. A TSIG
/// anywhere else is [`DecodeError::MisplacedTsig`].
pub fn find(message: &[u8]) -> Result<Option<Found>, DecodeError> {
    let mut r = Reader::new(message);
    let (_, counts) = Header::decode(&mut r)?;
    for _ in 0..counts.qd {
        r.name(true)?;
        r.skip(4)?;
    }
    let records = usize::from(counts.an) + usize::from(counts.ns) + usize::from(counts.ar);
    for index in 0..records {
        let start = r.position();
        let owner = r.name(true)?;
        let rtype = RType(r.u16()?);
        r.skip(6)?;
        let rdlength = usize::from(r.u16()?);
        if rtype == RType::TSIG {
            if index + 1 != records || counts.ar == 0 {
                return Err(DecodeError::MisplacedTsig);
            }
            let mut rdata = r.rdata(rdlength)?;
            let tsig = Tsig::decode(&mut rdata)?;
            return Ok(Some(Found {
                key_name: owner,
                tsig,
                start,
            }));
        }
        r.skip(rdlength)?;
    }
    Ok(None)
}

/// The signature fields a signer chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Seconds since 1970.
    pub time: u64,
    pub fudge: u16,
}

/// The fudge BIND, Knot and NSD use: five minutes.
pub const DEFAULT_FUDGE: u16 = 300;

/// Why a signed message was not accepted, as the TSIG error a server answers with (RFC 8945
/// §5.2), or a malformed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The key is not known here, or not with this algorithm: BADKEY.
    BadKey,
    /// The MAC does not match: BADSIG.
    BadSig,
    /// The time is outside the fudge: BADTIME.
    BadTime,
    /// A MAC shorter than the algorithm allows (RFC 8945 §5.2.2.1): BADTRUNC, or FORMERR when
    /// longer than the full MAC.
    BadTrunc,
    FormErr,
    /// A message that should have been signed was not.
    Unsigned,
}

impl Failure {
    /// The TSIG error field of the answer.
    pub fn tsig_error(&self) -> Rcode {
        match self {
            Failure::BadKey => Rcode::BADKEY,
            Failure::BadSig | Failure::Unsigned => Rcode::BADSIG,
            Failure::BadTime => Rcode::BADTIME,
            Failure::BadTrunc => Rcode(22),
            Failure::FormErr => Rcode::NOERROR,
        }
    }

    /// The header RCODE of the answer: NOTAUTH for TSIG errors (RFC 8945 §5.2), FORMERR for a
    /// malformed MAC length.
    pub fn rcode(&self) -> Rcode {
        match self {
            Failure::FormErr => Rcode::FORMERR,
            _ => Rcode::NOTAUTH,
        }
    }

    /// A stable lower-case label, for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Failure::BadKey => "badkey",
            Failure::BadSig => "badsig",
            Failure::BadTime => "badtime",
            Failure::BadTrunc => "badtrunc",
            Failure::FormErr => "formerr",
            Failure::Unsigned => "unsigned",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::BadKey => "BADKEY: the key is not known with this algorithm",
            Failure::BadSig => "BADSIG: the MAC does not match (wrong secret?)",
            Failure::BadTime => "BADTIME: the signature time is outside the fudge (clock skew?)",
            Failure::BadTrunc => "BADTRUNC: the MAC is truncated below what the algorithm allows",
            Failure::FormErr => "FORMERR: the MAC is longer than the algorithm's",
            Failure::Unsigned => "the message is not signed",
        })
    }
}

/// The chain of MACs of one exchange: a request and its (possibly many-message) response.
///
/// A signer calls [`Stream::sign`] for each message; a verifier calls [`Stream::verify`]. The
/// first message of a response is digested after the request's MAC ([`Stream::after`]); each
/// later one after the previous MAC, with the timers only.
#[derive(Clone)]
pub struct Stream {
    key: Key,
    /// The previous MAC; empty before the first message of a request.
    prior: Vec<u8>,
    /// Messages digested since the last signed one, when verifying a stream.
    pending: Option<State>,
    /// Whether the next MAC covers only the timers (a message after the first of a response).
    continued: bool,
    /// Unsigned messages since the last signed one, when verifying.
    unsigned: usize,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("key", &self.key)
            .field("continued", &self.continued)
            .finish_non_exhaustive()
    }
}

/// RFC 8945 §5.3.1: a verifier accepts at most 99 unsigned messages in a row.
const MAX_UNSIGNED: usize = 99;

impl Stream {
    /// The chain of a request (no prior MAC).
    pub fn request(key: Key) -> Stream {
        Stream {
            key,
            prior: Vec::new(),
            pending: None,
            continued: false,
            unsigned: 0,
        }
    }

    /// The chain of a response to a request whose MAC was `request_mac`.
    pub fn after(key: Key, request_mac: &[u8]) -> Stream {
        Stream {
            key,
            prior: request_mac.to_vec(),
            pending: None,
            continued: false,
            unsigned: 0,
        }
    }

    /// A new HMAC state holding the prior MAC, if any.
    fn start(&self) -> State {
        let mut state = State::new(&self.key);
        if !self.prior.is_empty() {
            // The MAC length prefix: MACs are at most 64 octets here.
            state.update(&(self.prior.len() as u16).to_be_bytes());
            state.update(&self.prior);
        }
        state
    }

    /// Digests the TSIG variables: everything (§4.3.3) for a first message, else the timers.
    fn variables(&self, state: &mut State, timers: Timers, error: Rcode, other: &[u8]) {
        if !self.continued {
            state.update(self.key.name.to_lowercase().as_wire());
            state.update(&Class::ANY.0.to_be_bytes());
            state.update(&0u32.to_be_bytes());
            state.update(self.key.algorithm.name().as_wire());
        }
        state.update(&time48(timers.time));
        state.update(&timers.fudge.to_be_bytes());
        if !self.continued {
            state.update(&error.0.to_be_bytes());
            state.update(&(other.len() as u16).to_be_bytes());
            state.update(other);
        }
    }

    /// Signs `message` (a whole DNS message without TSIG): appends the TSIG record, counts it in
    /// ARCOUNT and returns the MAC. `error`/`other` are the TSIG error fields (NOERROR and
    /// empty, except in a BADTIME answer).
    pub fn sign(
        &mut self,
        message: &mut Vec<u8>,
        timers: Timers,
        error: Rcode,
        other: &[u8],
    ) -> Vec<u8> {
        let mut state = self.pending.take().unwrap_or_else(|| self.start());
        state.update(message);
        self.variables(&mut state, timers, error, other);
        let mac = state.finalize();
        let id = message
            .get(..2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let tsig = Tsig {
            algorithm: self.key.algorithm.name(),
            time_signed: timers.time,
            fudge: timers.fudge,
            mac: mac.clone().into(),
            original_id: id,
            error,
            other: other.into(),
        };
        append_tsig(message, &self.key.name, &tsig);
        self.prior.clone_from(&mac);
        self.continued = true;
        mac
    }

    /// Checks one message of the exchange. A message without TSIG is digested into the next
    /// signed one (at most 99 in a row); returns whether this message was signed. `now` is the
    /// verifier's clock in seconds since 1970.
    pub fn verify(&mut self, message: &[u8], now: u64) -> Result<bool, Failure> {
        let found = find(message).map_err(|_| Failure::FormErr)?;
        let Some(found) = found else {
            if !self.continued {
                return Err(Failure::Unsigned);
            }
            let mut state = self.pending.take().unwrap_or_else(|| self.start());
            state.update(message);
            self.pending = Some(state);
            self.unsigned += 1;
            if self.unsigned > MAX_UNSIGNED {
                return Err(Failure::Unsigned);
            }
            return Ok(false);
        };
        let Found {
            key_name,
            tsig,
            start,
        } = found;
        if key_name != self.key.name
            || Algorithm::from_name(&tsig.algorithm) != Some(self.key.algorithm)
        {
            return Err(Failure::BadKey);
        }
        check_mac_len(self.key.algorithm, tsig.mac.len())?;
        let mut state = self.pending.take().unwrap_or_else(|| self.start());
        digest_unsigned(&mut state, message, start, tsig.original_id);
        self.variables(
            &mut state,
            Timers {
                time: tsig.time_signed,
                fudge: tsig.fudge,
            },
            tsig.error,
            &tsig.other,
        );
        if !state.verify(&tsig.mac) {
            return Err(Failure::BadSig);
        }
        self.prior = tsig.mac.to_vec();
        self.continued = true;
        self.unsigned = 0;
        if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
            return Err(Failure::BadTime);
        }
        Ok(true)
    }
}

/// The 48-bit time signed.
fn time48(time: u64) -> [u8; 6] {
    let bytes = time.to_be_bytes();
    [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// RFC 8945 §5.2.2.1: a MAC longer than the algorithm's is FORMERR; one shorter than half of
/// it or than 10 octets is BADTRUNC.
fn check_mac_len(algorithm: Algorithm, len: usize) -> Result<(), Failure> {
    let full = algorithm.mac_len();
    if len > full {
        Err(Failure::FormErr)
    } else if len < full / 2 || len < 10 {
        Err(Failure::BadTrunc)
    } else {
        Ok(())
    }
}

/// Digests `message[..start]` as it was before the TSIG record was added: the original ID and
/// ARCOUNT one less.
/// `start` is past the header ([`find`] decoded it).
fn digest_unsigned(state: &mut State, message: &[u8], start: usize, original_id: u16) {
    let (Some(middle), Some(arcount), Some(rest)) = (
        message.get(2..10),
        message.get(10..12),
        message.get(12..start),
    ) else {
        return;
    };
    let arcount = u16::from_be_bytes([arcount[0], arcount[1]]).saturating_sub(1);
    state.update(&original_id.to_be_bytes());
    state.update(middle);
    state.update(&arcount.to_be_bytes());
    state.update(rest);
}

/// Appends a TSIG record (owner `key_name`, class ANY, TTL 0) and counts it in ARCOUNT.
pub fn append_tsig(message: &mut Vec<u8>, key_name: &Name, tsig: &Tsig) {
    let mut w = Writer::plain(std::mem::take(message));
    w.name(key_name.as_wire(), NameKind::Verbatim);
    w.u16(RType::TSIG.0);
    w.u16(Class::ANY.0);
    w.u32(0);
    let length_at = w.len();
    w.u16(0);
    tsig.encode(&mut w);
    let rdlength = w.len() - length_at - 2;
    w.patch_u16(length_at, rdlength as u16);
    let arcount = w
        .as_bytes()
        .get(10..12)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    w.patch_u16(10, arcount.saturating_add(1));
    *message = w.into_bytes();
}

/// The unsigned TSIG record of an answer to a request that failed verification with BADKEY or
/// BADSIG (RFC 8945 §5.2: no MAC, since the key or the request cannot be trusted).
pub fn unsigned_error(request: &Found, time: u64, error: Rcode) -> Tsig {
    Tsig {
        algorithm: request.tsig.algorithm.clone(),
        time_signed: time,
        fudge: request.tsig.fudge,
        mac: Box::new([]),
        original_id: request.tsig.original_id,
        error,
        other: Box::new([]),
    }
}

/// The Other Data of a BADTIME answer: the server's time, 48 bits (RFC 8945 §5.2.3).
pub fn badtime_other(now: u64) -> [u8; 6] {
    time48(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, Question, Record};
    use crate::rdata::RData;

    fn key(algorithm: Algorithm, secret: &[u8]) -> Key {
        Key {
            name: Name::from_text("Transfer-Key.example.", None).unwrap(),
            algorithm,
            secret: secret.to_vec(),
        }
    }

    fn query(id: u16) -> Vec<u8> {
        let mut m = Message::default();
        m.header.id = id;
        m.questions.push(Question {
            name: Name::from_text("example.", None).unwrap(),
            qtype: RType::AXFR,
            qclass: Class::IN,
        });
        m.encode().unwrap()
    }

    fn answer(id: u16, n: u8) -> Vec<u8> {
        let mut m = Message::default();
        m.header.id = id;
        m.header.qr = true;
        m.answers.push(Record::new(
            Name::from_text("a.example.", None).unwrap(),
            300,
            RData::A([192, 0, 2, n].into()),
        ));
        m.encode().unwrap()
    }

    const NOW: Timers = Timers {
        time: 1_700_000_000,
        fudge: DEFAULT_FUDGE,
    };

    #[test]
    fn a_signed_exchange_verifies_and_damage_is_named() {
        for algorithm in Algorithm::ALL {
            let k = key(algorithm, b"0123456789abcdef0123456789abcdef");
            let mut request = query(77);
            let request_mac =
                Stream::request(k.clone()).sign(&mut request, NOW, Rcode::NOERROR, &[]);
            assert_eq!(request_mac.len(), algorithm.mac_len());
            let found = find(&request).unwrap().unwrap();
            assert_eq!(found.key_name, k.name);
            assert_eq!(Message::decode(&request).unwrap().additional.len(), 1);
            assert_eq!(
                Stream::request(k.clone()).verify(&request, NOW.time + 10),
                Ok(true)
            );

            // A three-message response: signed, unsigned (carried into the next), signed.
            let mut signer = Stream::after(k.clone(), &request_mac);
            let mut first = answer(77, 1);
            signer.sign(&mut first, NOW, Rcode::NOERROR, &[]);
            let middle = answer(77, 2);
            // The signer digests the unsigned message into the next MAC the way a verifier does.
            let mut state = signer.start();
            state.update(&middle);
            signer.pending = Some(state);
            let mut last = answer(77, 3);
            signer.sign(&mut last, NOW, Rcode::NOERROR, &[]);
            let mut verifier = Stream::after(k.clone(), &request_mac);
            assert_eq!(verifier.verify(&first, NOW.time), Ok(true));
            assert_eq!(verifier.verify(&middle, NOW.time), Ok(false));
            assert_eq!(verifier.verify(&last, NOW.time), Ok(true));

            // Out of order: the chain breaks.
            let mut verifier = Stream::after(k.clone(), &request_mac);
            assert_eq!(verifier.verify(&last, NOW.time), Err(Failure::BadSig));

            // Wrong secret, wrong key name, damaged message, clock skew, truncation.
            let wrong = key(algorithm, b"another secret entirely");
            assert_eq!(
                Stream::request(wrong).verify(&request, NOW.time),
                Err(Failure::BadSig)
            );
            let mut other_name = k.clone();
            other_name.name = Name::from_text("other.", None).unwrap();
            assert_eq!(
                Stream::request(other_name).verify(&request, NOW.time),
                Err(Failure::BadKey)
            );
            let mut damaged = request.clone();
            damaged[14] ^= 0x20; // the question name's case: part of the MAC
            assert_eq!(
                Stream::request(k.clone()).verify(&damaged, NOW.time),
                Err(Failure::BadSig)
            );
            assert_eq!(
                Stream::request(k.clone()).verify(&request, NOW.time + 301),
                Err(Failure::BadTime)
            );
            assert_eq!(
                Stream::request(k.clone()).verify(&query(1), NOW.time),
                Err(Failure::Unsigned)
            );
        }
    }

    #[test]
    fn truncated_macs_follow_rfc_8945() {
        assert_eq!(check_mac_len(Algorithm::HmacSha256, 32), Ok(()));
        assert_eq!(check_mac_len(Algorithm::HmacSha256, 16), Ok(()));
        assert_eq!(
            check_mac_len(Algorithm::HmacSha256, 15),
            Err(Failure::BadTrunc)
        );
        assert_eq!(
            check_mac_len(Algorithm::HmacSha256, 33),
            Err(Failure::FormErr)
        );
        assert_eq!(
            check_mac_len(Algorithm::HmacSha512, 31),
            Err(Failure::BadTrunc)
        );
    }

    /// RFC 4231 test case 2 (HMAC-SHA256, key "Jefe"): the HMAC itself is the standard one.
    #[test]
    fn hmac_matches_rfc_4231() {
        let mut state = State::new(&key(Algorithm::HmacSha256, b"Jefe"));
        state.update(b"what do ya want for nothing?");
        assert_eq!(
            data_encoding::HEXLOWER.encode(&state.finalize()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn algorithms_parse_from_config_and_wire_names() {
        assert_eq!(
            Algorithm::from_text("HMAC-SHA384."),
            Some(Algorithm::HmacSha384)
        );
        assert_eq!(Algorithm::from_text("hmac-md5"), None);
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(&a.name()), Some(a));
        }
    }
}

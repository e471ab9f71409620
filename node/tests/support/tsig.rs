//! TSIG (RFC 8945) for tests: a shared HMAC-SHA256 key, signing a request, and verifying the
//! MACs of a response stream (a zone transfer may leave messages unsigned between signed ones).
//!
//! This is test support, independent of the codec's own TSIG model: the TSIG RDATA is built and
//! read here byte by byte so a test can check the codec against it.

use std::fmt;

use nebula_wire::codec::Reader;
use nebula_wire::{Class, DecodeError, Header, Message, Name, RData, RType, Record};
use sha2::{Digest, Sha256};

/// The algorithm name of HMAC-SHA256 (RFC 8945 §6).
pub const HMAC_SHA256: &str = "hmac-sha256.";

/// Seconds of clock difference a peer may tolerate (RFC 8945 §10 recommends 300).
pub const FUDGE: u16 = 300;

/// A shared secret for HMAC-SHA256, the only algorithm the test peers are configured with.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key name, fully qualified (`transfer-key.`); peers match it without case.
    pub name: String,
    pub secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    /// Leaves the secret out of test output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// A key named `name` (a trailing dot is added if missing).
    pub fn new(name: &str, secret: &[u8]) -> TsigKey {
        let name = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        TsigKey {
            name,
            secret: secret.to_vec(),
        }
    }

    /// The secret as the base64 text server configurations expect (RFC 4648 §4).
    pub fn secret_base64(&self) -> String {
        data_encoding::BASE64.encode(&self.secret)
    }

    /// The key name as a domain name.
    pub fn owner(&self) -> Result<Name, String> {
        Name::from_text(&self.name, None).map_err(|e| format!("key name {:?}: {e}", self.name))
    }
}

/// HMAC (RFC 2104 §2) over SHA-256: `H((K ^ opad) || H((K ^ ipad) || data))` with the key padded
/// (or first hashed) to the 64-octet block size.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// The fields of a TSIG RDATA (RFC 8945 §4.2), read from its uncompressed wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigFields {
    pub algorithm: Name,
    /// Seconds since the epoch, 48 bits on the wire.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    /// An extended RCODE (BADSIG 16, BADKEY 17, BADTIME 18) or 0.
    pub error: u16,
    pub other: Vec<u8>,
}

impl TsigFields {
    /// Parses uncompressed TSIG RDATA; the algorithm name must not be compressed (RFC 8945 §4.2).
    pub fn parse(rdata: &[u8]) -> Result<TsigFields, String> {
        let mut r = Reader::new(rdata);
        let fields = (|| -> Result<TsigFields, DecodeError> {
            let algorithm = r.name(false)?;
            let high = u64::from(r.u16()?);
            let low = u64::from(r.u32()?);
            let fudge = r.u16()?;
            let mac_len = usize::from(r.u16()?);
            let mac = r.bytes(mac_len)?.to_vec();
            let original_id = r.u16()?;
            let error = r.u16()?;
            let other_len = usize::from(r.u16()?);
            let other = r.bytes(other_len)?.to_vec();
            Ok(TsigFields {
                algorithm,
                time_signed: (high << 32) | low,
                fudge,
                mac,
                original_id,
                error,
                other,
            })
        })()
        .map_err(|e| format!("TSIG RDATA: {e}"))?;
        if r.remaining() != 0 {
            return Err(format!(
                "TSIG RDATA: {} octets after the other data",
                r.remaining()
            ));
        }
        Ok(fields)
    }

    /// The uncompressed wire form (RFC 8945 §4.2).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = self.algorithm.to_lowercase().as_wire().to_vec();
        push_time(&mut out, self.time_signed);
        out.extend_from_slice(&self.fudge.to_be_bytes());
        push_sized(&mut out, &self.mac);
        out.extend_from_slice(&self.original_id.to_be_bytes());
        out.extend_from_slice(&self.error.to_be_bytes());
        push_sized(&mut out, &self.other);
        out
    }

    /// The TSIG variables digested after the message (RFC 8945 §4.3.3): key name, class ANY,
    /// TTL 0, algorithm, time, fudge, error and other data; names in canonical (lower-case,
    /// uncompressed) form.
    fn variables(&self, key_name: &Name) -> Vec<u8> {
        let mut out = key_name.to_lowercase().as_wire().to_vec();
        out.extend_from_slice(&Class::ANY.0.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(self.algorithm.to_lowercase().as_wire());
        push_time(&mut out, self.time_signed);
        out.extend_from_slice(&self.fudge.to_be_bytes());
        out.extend_from_slice(&self.error.to_be_bytes());
        push_sized(&mut out, &self.other);
        out
    }

    /// The timers alone (RFC 8945 §4.3.3), digested for the later messages of a stream.
    fn timers(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        push_time(&mut out, self.time_signed);
        out.extend_from_slice(&self.fudge.to_be_bytes());
        out
    }
}

/// A 16-bit length followed by the bytes (MAC and Other Data, RFC 8945 §4.2).
fn push_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn push_time(out: &mut Vec<u8>, seconds: u64) {
    out.extend_from_slice(&seconds.to_be_bytes()[2..]);
}

/// A request with its TSIG record appended, and the MAC a verifier of the response needs.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub bytes: Vec<u8>,
    pub mac: Vec<u8>,
}

/// Signs `message` (RFC 8945 §5.1): the MAC covers the message as encoded without the TSIG record,
/// then the TSIG variables; the TSIG record becomes the last additional record.
pub fn sign_request(
    message: &Message,
    key: &TsigKey,
    time_signed: u64,
) -> Result<SignedRequest, String> {
    let unsigned = message.encode().map_err(|e| e.to_string())?;
    let key_name = key.owner()?;
    let mut fields = TsigFields {
        algorithm: Name::from_text(HMAC_SHA256, None).map_err(|e| e.to_string())?,
        time_signed,
        fudge: FUDGE,
        mac: Vec::new(),
        original_id: message.header.id,
        error: 0,
        other: Vec::new(),
    };
    let mut digested = unsigned;
    digested.extend_from_slice(&fields.variables(&key_name));
    fields.mac = hmac_sha256(&key.secret, &digested).to_vec();
    let mut signed = message.clone();
    signed.additional.push(Record {
        name: key_name,
        class: Class::ANY,
        ttl: 0,
        rdata: RData::Unknown {
            rtype: RType::TSIG,
            data: fields.to_wire().into_boxed_slice(),
        },
    });
    let bytes = signed.encode().map_err(|e| e.to_string())?;
    Ok(SignedRequest {
        bytes,
        mac: fields.mac,
    })
}

/// Where the last record of a message starts, if the message has records; found by walking the
/// sections with the codec's reader.
fn last_record_offset(bytes: &[u8]) -> Result<Option<usize>, DecodeError> {
    let mut r = Reader::new(bytes);
    let (_, counts) = Header::decode(&mut r)?;
    for _ in 0..counts.qd {
        r.name(true)?;
        r.skip(4)?;
    }
    let mut last = None;
    let total = u32::from(counts.an) + u32::from(counts.ns) + u32::from(counts.ar);
    for _ in 0..total {
        last = Some(r.position());
        Record::decode(&mut r)?;
    }
    Ok(last)
}

/// Checks the MACs of the messages answering one signed request, in order (RFC 8945 §5.3).
/// The first message must be signed; later ones may be unsigned, and are then digested into
/// the next signed one (RFC 8945 §5.3.1).
#[derive(Debug)]
pub struct ResponseVerifier {
    key: TsigKey,
    prior_mac: Vec<u8>,
    /// Unsigned messages since the last signed one, concatenated.
    pending: Vec<u8>,
    first: bool,
    /// Messages whose MAC was checked.
    pub signed_messages: usize,
}

impl ResponseVerifier {
    pub fn new(key: &TsigKey, request: &SignedRequest) -> ResponseVerifier {
        ResponseVerifier {
            key: key.clone(),
            prior_mac: request.mac.clone(),
            pending: Vec::new(),
            first: true,
            signed_messages: 0,
        }
    }

    /// Verifies one response message; returns its TSIG fields, or `None` for an unsigned message
    /// (an error for the first one).
    pub fn verify(&mut self, bytes: &[u8]) -> Result<Option<TsigFields>, String> {
        let message = Message::decode(bytes).map_err(|e| e.to_string())?;
        let tsig = match message.additional.last() {
            Some(record) if record.rtype() == RType::TSIG => record,
            _ if self.first => return Err("the first response message is not signed".to_owned()),
            _ => {
                self.pending.extend_from_slice(bytes);
                return Ok(None);
            }
        };
        let key_name = self.key.owner()?;
        if tsig.name != key_name {
            return Err(format!(
                "signed with key {}, expected {key_name}",
                tsig.name
            ));
        }
        let fields = TsigFields::parse(&tsig.rdata.to_wire())?;
        if fields.error != 0 {
            return Err(format!("TSIG error {}", fields.error));
        }
        let tsig_at = last_record_offset(bytes)
            .map_err(|e| e.to_string())?
            .ok_or("no records")?;
        // The message as it was before signing: without the TSIG record, ARCOUNT one lower and
        // the original ID (RFC 8945 §4.3.1, §5.3).
        let mut unsigned = bytes[..tsig_at].to_vec();
        unsigned[..2].copy_from_slice(&fields.original_id.to_be_bytes());
        let arcount = u16::from_be_bytes([unsigned[10], unsigned[11]]).wrapping_sub(1);
        unsigned[10..12].copy_from_slice(&arcount.to_be_bytes());
        let mut digested = Vec::new();
        digested.extend_from_slice(
            &u16::try_from(self.prior_mac.len())
                .unwrap_or(0)
                .to_be_bytes(),
        );
        digested.extend_from_slice(&self.prior_mac);
        digested.append(&mut self.pending);
        digested.extend_from_slice(&unsigned);
        if self.first {
            digested.extend_from_slice(&fields.variables(&key_name));
        } else {
            digested.extend_from_slice(&fields.timers());
        }
        let expected = hmac_sha256(&self.key.secret, &digested);
        if fields.mac != expected {
            return Err(format!(
                "MAC mismatch on signed message {}",
                self.signed_messages
            ));
        }
        self.first = false;
        self.prior_mac = fields.mac.clone();
        self.signed_messages += 1;
        Ok(Some(fields))
    }
}

//! Whole DNS messages (RFC 1035 §4.1): header, question, answer, authority and additional
//! sections, decoded strictly by default, encoded with name compression.

use std::fmt;

use crate::codec::{NameKind, Reader, Writer};
use crate::error::DecodeError;
use crate::header::{Counts, Header};
use crate::name::Name;
use crate::rdata::{Edns, RData};
use crate::types::{Class, RType, Rcode};

/// One entry of the question section (RFC 1035 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    pub name: Name,
    pub qtype: RType,
    pub qclass: Class,
}

/// A resource record (RFC 1035 §4.1.3). The type is the RDATA's; for OPT the class and TTL
/// fields carry EDNS values (RFC 6891 §6.1.3) and are kept raw here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub name: Name,
    pub class: Class,
    pub ttl: u32,
    pub rdata: RData,
}

/// Appends one record from its parts with compression, for callers that hold the owner and
/// RDATA elsewhere (a zone snapshot streamed in a transfer) and should not copy them into a
/// [`Record`]. RDATA longer than 65535 octets cannot be built by this crate's constructors.
pub fn encode_record(w: &mut Writer, name: &Name, class: Class, ttl: u32, rdata: &RData) {
    w.name(name.as_wire(), NameKind::Compressible);
    w.u16(rdata.rtype().0);
    w.u16(class.0);
    w.u32(ttl);
    let len_at = w.len();
    w.u16(0);
    rdata.encode(w);
    let rdlength = w.len() - len_at - 2;
    w.patch_u16(len_at, rdlength as u16);
}

impl Record {
    pub fn new(name: Name, ttl: u32, rdata: RData) -> Record {
        Record {
            name,
            class: Class::IN,
            ttl,
            rdata,
        }
    }

    pub fn rtype(&self) -> RType {
        self.rdata.rtype()
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Record, DecodeError> {
        let name = r.name(true)?;
        let rtype = RType(r.u16()?);
        let class = Class(r.u16()?);
        let ttl = r.u32()?;
        let rdlength = r.u16()?;
        let rdata = RData::decode(rtype, r, rdlength)?;
        Ok(Record {
            name,
            class,
            ttl,
            rdata,
        })
    }

    /// Appends the record with compression. RDATA longer than 65535 octets cannot be built by
    /// this crate's constructors.
    pub fn encode(&self, w: &mut Writer) {
        encode_record(w, &self.name, self.class, self.ttl, &self.rdata);
    }

    /// The canonical form of RFC 4034 §6.2 with the given TTL: lower-cased owner, uncompressed RDATA.
    pub fn encode_canonical(&self, out: Vec<u8>) -> Vec<u8> {
        let mut w = Writer::canonical(out);
        self.encode(&mut w);
        w.into_bytes()
    }
}

impl fmt::Display for Record {
    /// One line as dig prints it: `owner TTL CLASS TYPE RDATA`, tab separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}",
            self.name,
            self.ttl,
            self.class,
            self.rtype(),
            self.rdata
        )
    }
}

/// Decoding strictness. The strict default is what a server applies to queries; the lenient
/// mode exists only for interoperability with peers known to pad messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    /// Require exactly this QDCOUNT (1 for queries and the first message of a zone transfer).
    pub expected_qdcount: Option<u16>,
    /// Accept bytes after the last record (some middleboxes pad UDP payloads). Off by default.
    pub allow_trailing_bytes: bool,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

impl Message {
    /// Strict decoding: no trailing bytes, any QDCOUNT.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        Message::decode_with(bytes, DecodeOptions::default())
    }

    pub fn decode_with(bytes: &[u8], options: DecodeOptions) -> Result<Message, DecodeError> {
        if bytes.len() > usize::from(u16::MAX) {
            return Err(DecodeError::MessageTooLong { len: bytes.len() });
        }
        let mut r = Reader::new(bytes);
        let (header, counts) = Header::decode(&mut r)?;
        if let Some(expected) = options.expected_qdcount {
            if counts.qd != expected {
                return Err(DecodeError::QdCountMismatch {
                    expected,
                    got: counts.qd,
                });
            }
        }
        // Counts come from the peer: never pre-allocate more than the bytes could hold.
        let mut questions = Vec::with_capacity(usize::from(counts.qd).min(r.remaining() / 5));
        for _ in 0..counts.qd {
            let name = r.name(true)?;
            questions.push(Question {
                name,
                qtype: RType(r.u16()?),
                qclass: Class(r.u16()?),
            });
        }
        let mut sections: [Vec<Record>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for (section, count) in sections.iter_mut().zip([counts.an, counts.ns, counts.ar]) {
            section.reserve(usize::from(count).min(r.remaining() / 11));
            for _ in 0..count {
                section.push(Record::decode(&mut r)?);
            }
        }
        let [answers, authority, additional] = sections;
        if r.remaining() > 0 && !options.allow_trailing_bytes {
            return Err(DecodeError::TrailingBytes {
                count: r.remaining(),
            });
        }
        let msg = Message {
            header,
            questions,
            answers,
            authority,
            additional,
        };
        msg.check_pseudo_records()?;
        Ok(msg)
    }

    /// RFC 6891 §6.1.1: at most one OPT, in the additional section, owned by the root.
    /// RFC 8945 §5.1: TSIG only as the last additional record.
    fn check_pseudo_records(&self) -> Result<(), DecodeError> {
        let misplaced_opt = self
            .answers
            .iter()
            .chain(&self.authority)
            .any(|r| r.rtype() == RType::OPT);
        let opts: Vec<&Record> = self
            .additional
            .iter()
            .filter(|r| r.rtype() == RType::OPT)
            .collect();
        if misplaced_opt || opts.len() > 1 || opts.iter().any(|r| !r.name.is_root()) {
            return Err(DecodeError::BadOpt);
        }
        let tsig_positions = self
            .answers
            .iter()
            .chain(&self.authority)
            .any(|r| r.rtype() == RType::TSIG)
            || self
                .additional
                .iter()
                .enumerate()
                .any(|(i, r)| r.rtype() == RType::TSIG && i + 1 != self.additional.len());
        if tsig_positions {
            return Err(DecodeError::MisplacedTsig);
        }
        Ok(())
    }

    /// Section counts derived from the sections.
    pub fn counts(&self) -> Counts {
        let c = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        Counts {
            qd: c(self.questions.len()),
            an: c(self.answers.len()),
            ns: c(self.authority.len()),
            ar: c(self.additional.len()),
        }
    }

    /// Encodes with name compression. Fails only if the result would exceed 65535 octets.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut w = Writer::message(512);
        self.header.encode(self.counts(), &mut w);
        for q in &self.questions {
            w.name(q.name.as_wire(), NameKind::Compressible);
            w.u16(q.qtype.0);
            w.u16(q.qclass.0);
        }
        for record in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            record.encode(&mut w);
        }
        if w.len() > usize::from(u16::MAX) {
            return Err(DecodeError::MessageTooLong { len: w.len() });
        }
        Ok(w.into_bytes())
    }

    /// The OPT record, if any.
    pub fn opt(&self) -> Option<&Record> {
        self.additional.iter().find(|r| r.rtype() == RType::OPT)
    }

    /// The EDNS values (RFC 6891 §6.1.3) of the OPT record: payload size, extended RCODE,
    /// version, DO and the options. `None` without EDNS.
    pub fn edns(&self) -> Option<Edns<'_>> {
        self.opt().and_then(Edns::from_record)
    }

    /// Replaces the OPT record, or adds one (before a TSIG, which must stay last, RFC 8945 §5.1).
    pub fn set_edns(&mut self, edns: &Edns<'_>) {
        let record = edns.to_record();
        self.additional.retain(|r| r.rtype() != RType::OPT);
        let at = match self.additional.last() {
            Some(last) if last.rtype() == RType::TSIG => self.additional.len() - 1,
            _ => self.additional.len(),
        };
        self.additional.insert(at, record);
    }

    /// The whole response code: the header's four bits, extended by the OPT record's eight
    /// (RFC 6891 §6.1.3), e.g. BADVERS (16) or BADCOOKIE (23).
    pub fn rcode(&self) -> Rcode {
        let extended = self.edns().map_or(0, |e| u16::from(e.extended_rcode));
        Rcode((extended << 4) | u16::from(self.header.rcode & 0x0F))
    }
}

impl fmt::Display for Message {
    /// A dig-like dump: header line, then each section.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(
            f,
            ";; opcode: {}, id: {}, rcode: {}",
            h.opcode(),
            h.id,
            h.rcode
        )?;
        writeln!(f, ";; QUESTION SECTION:")?;
        for q in &self.questions {
            writeln!(f, ";{}\t\t{}\t{}", q.name, q.qclass, q.qtype)?;
        }
        for (title, records) in [
            ("ANSWER", &self.answers),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            writeln!(f, ";; {title} SECTION:")?;
            for r in records {
                writeln!(f, "{r}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn name(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    fn sample() -> Message {
        Message {
            header: Header {
                id: 0xBEEF,
                qr: true,
                aa: true,
                rd: true,
                ..Header::default()
            },
            questions: vec![Question {
                name: name("www.example.com."),
                qtype: RType::A,
                qclass: Class::IN,
            }],
            answers: vec![Record::new(
                name("www.example.com."),
                300,
                RData::A(Ipv4Addr::new(192, 0, 2, 1)),
            )],
            authority: vec![Record::new(
                name("example.com."),
                300,
                RData::Ns(name("ns1.example.com.")),
            )],
            additional: vec![Record::new(
                name("ns1.example.com."),
                300,
                RData::A(Ipv4Addr::new(192, 0, 2, 53)),
            )],
        }
    }

    #[test]
    fn round_trips_with_compression() {
        let msg = sample();
        let bytes = msg.encode().unwrap();
        // Owners after the question are pointers: the message stays small.
        assert!(bytes.len() < 100, "{}", bytes.len());
        assert_eq!(Message::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn edns_view_and_extended_rcode() {
        use crate::rdata::EdnsOption;
        let mut msg = sample();
        assert!(msg.edns().is_none());
        assert_eq!(msg.rcode(), Rcode::NOERROR);
        let options = [EdnsOption::Padding(Box::new([0; 4]))];
        let edns = Edns {
            udp_payload_size: 1232,
            extended_rcode: 1,
            version: 0,
            dnssec_ok: true,
            z: 0,
            options: &options,
        };
        msg.set_edns(&edns);
        msg.set_edns(&edns);
        assert_eq!(
            msg.additional
                .iter()
                .filter(|r| r.rtype() == RType::OPT)
                .count(),
            1
        );
        msg.header.rcode = 7;
        // 0x17 = 23: BADCOOKIE.
        assert_eq!(msg.rcode(), Rcode::BADCOOKIE);
        let decoded = Message::decode(&msg.encode().unwrap()).unwrap();
        assert_eq!(decoded.edns(), Some(edns));
        assert_eq!(decoded, msg);
    }

    #[test]
    fn strict_mode_rejects_trailing_bytes_and_wrong_qdcount() {
        let mut bytes = sample().encode().unwrap();
        let opts = DecodeOptions {
            expected_qdcount: Some(1),
            ..DecodeOptions::default()
        };
        assert!(Message::decode_with(&bytes, opts).is_ok());
        bytes.push(0);
        assert_eq!(
            Message::decode(&bytes),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        let lenient = DecodeOptions {
            allow_trailing_bytes: true,
            ..DecodeOptions::default()
        };
        assert!(Message::decode_with(&bytes, lenient).is_ok());
        let mut zero_q = Message {
            questions: vec![],
            ..sample()
        };
        zero_q.header.id = 1;
        let bytes = zero_q.encode().unwrap();
        assert_eq!(
            Message::decode_with(&bytes, opts),
            Err(DecodeError::QdCountMismatch {
                expected: 1,
                got: 0
            })
        );
    }
}

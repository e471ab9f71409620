//! Allocation-free decoding of an incoming query: the header, the one question and the EDNS
//! values a server needs to answer (RFC 6891 OPT, RFC 7873 cookies), all held inline.
//!
//! This is the data plane's decoder. It applies the strict rules a server must: exactly one
//! question (`QdCountMismatch` otherwise), no trailing bytes, bounded name decoding, at most one
//! OPT owned by the root; everything else in the message is skipped without being materialised.

use crate::codec::Reader;
use crate::error::DecodeError;
use crate::header::{Counts, Header};
use crate::name::NameBuf;
use crate::types::{Class, RType};

/// EDNS option code of DNS cookies (RFC 7873 §4).
pub const OPTION_COOKIE: u16 = crate::rdata::EdnsOption::COOKIE;

/// A client and optional server cookie (RFC 7873 §4: 8 octets client, 8 to 32 octets server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieView {
    pub client: [u8; 8],
    server: [u8; 32],
    server_len: u8,
}

impl CookieView {
    pub fn server(&self) -> &[u8] {
        &self.server[..usize::from(self.server_len)]
    }
}

/// The OPT pseudo-record's values (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdnsView {
    pub udp_payload_size: u16,
    pub extended_rcode: u8,
    pub version: u8,
    /// The DO bit (RFC 3225).
    pub dnssec_ok: bool,
    /// A cookie option, if present and well formed; `malformed_cookie` says if one was not.
    pub cookie: Option<CookieView>,
    pub malformed_cookie: bool,
}

/// A decoded query, borrowed from nothing: it can live on the worker's stack.
#[derive(Debug, Clone, Copy)]
pub struct QueryView {
    pub header: Header,
    pub counts: Counts,
    pub qname: NameBuf,
    pub qtype: RType,
    pub qclass: Class,
    /// Byte range of the question section in the packet (for copying it into the response with case kept).
    pub question_end: usize,
    pub edns: Option<EdnsView>,
    /// True if the last additional record is a TSIG (RFC 8945); its verification is the caller's.
    pub has_tsig: bool,
}

impl QueryView {
    /// Decodes a query packet. Never allocates.
    pub fn parse(packet: &[u8]) -> Result<QueryView, DecodeError> {
        if packet.len() > usize::from(u16::MAX) {
            return Err(DecodeError::MessageTooLong { len: packet.len() });
        }
        let mut r = Reader::new(packet);
        let (header, counts) = Header::decode(&mut r)?;
        if counts.qd != 1 {
            return Err(DecodeError::QdCountMismatch {
                expected: 1,
                got: counts.qd,
            });
        }
        let mut qname = NameBuf::default();
        r.name_into(&mut qname, true)?;
        let qtype = RType(r.u16()?);
        let qclass = Class(r.u16()?);
        let question_end = r.position();
        let mut scratch = NameBuf::default();
        for _ in 0..u32::from(counts.an) + u32::from(counts.ns) {
            r.name_into(&mut scratch, true)?;
            let rtype = RType(r.u16()?);
            if rtype == RType::OPT {
                return Err(DecodeError::BadOpt);
            }
            // RFC 8945 §5.1: TSIG only as the last additional record (as Message::decode says).
            if rtype == RType::TSIG {
                return Err(DecodeError::MisplacedTsig);
            }
            r.skip(6)?;
            let rdlength = r.u16()?;
            r.skip(usize::from(rdlength))?;
        }
        let mut edns = None;
        let mut has_tsig = false;
        for _ in 0..counts.ar {
            if has_tsig {
                return Err(DecodeError::MisplacedTsig);
            }
            r.name_into(&mut scratch, true)?;
            let rtype = RType(r.u16()?);
            let class = r.u16()?;
            let ttl = r.u32()?;
            let rdlength = r.u16()?;
            let rdata = r.bytes(usize::from(rdlength))?;
            match rtype {
                RType::OPT => {
                    if edns.is_some() || scratch.as_wire() != [0] {
                        return Err(DecodeError::BadOpt);
                    }
                    edns = Some(parse_opt(class, ttl, rdata)?);
                }
                RType::TSIG => has_tsig = true,
                _ => {}
            }
        }
        if r.remaining() > 0 {
            return Err(DecodeError::TrailingBytes {
                count: r.remaining(),
            });
        }
        Ok(QueryView {
            header,
            counts,
            qname,
            qtype,
            qclass,
            question_end,
            edns,
            has_tsig,
        })
    }
}

fn parse_opt(class: u16, ttl: u32, rdata: &[u8]) -> Result<EdnsView, DecodeError> {
    let [extended_rcode, version, flags_hi, _] = ttl.to_be_bytes();
    let mut view = EdnsView {
        udp_payload_size: class,
        extended_rcode,
        version,
        dnssec_ok: flags_hi & 0x80 != 0,
        cookie: None,
        malformed_cookie: false,
    };
    let mut r = Reader::new(rdata);
    while r.remaining() > 0 {
        let code = r.u16().map_err(|_| opt_error())?;
        let len = r.u16().map_err(|_| opt_error())?;
        let data = r.bytes(usize::from(len)).map_err(|_| opt_error())?;
        if code == OPTION_COOKIE {
            // RFC 7873 §5.2.2: 8 octets, or 16 to 40 octets; anything else is FORMERR-worthy.
            let valid = data.len() == 8 || (16..=40).contains(&data.len());
            if !valid || view.cookie.is_some() {
                view.malformed_cookie = true;
                continue;
            }
            let mut client = [0u8; 8];
            client.copy_from_slice(&data[..8]);
            let mut server = [0u8; 32];
            server[..data.len() - 8].copy_from_slice(&data[8..]);
            view.cookie = Some(CookieView {
                client,
                server,
                server_len: (data.len() - 8) as u8,
            });
        }
    }
    Ok(view)
}

fn opt_error() -> DecodeError {
    DecodeError::BadRdata {
        rtype: RType::OPT,
        reason: "EDNS option overruns OPT RDATA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `www.Example.com. A` with an OPT (4096, DO) and a client cookie, as dig sends it.
    fn query() -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01");
        p.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8]);
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        p
    }

    #[test]
    fn parses_question_and_edns() {
        let q = QueryView::parse(&query()).unwrap();
        assert_eq!(q.header.id, 0x1234);
        assert!(q.header.rd);
        assert_eq!(q.qname.to_string(), "www.Example.com.");
        assert_eq!(q.qtype, RType::A);
        let edns = q.edns.unwrap();
        assert_eq!(edns.udp_payload_size, 4096);
        assert!(edns.dnssec_ok);
        assert_eq!(edns.cookie.unwrap().client, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(edns.cookie.unwrap().server().is_empty());
    }

    /// fuzz/regressions/query_view-tsig-in-authority.bin: a TSIG in the authority section was
    /// accepted here while `Message::decode` refused it.
    #[test]
    fn regression_tsig_in_authority() {
        let packet: &[u8] = &[
            0x40, 0x48, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0xfa, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0xf7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(
            QueryView::parse(packet).unwrap_err(),
            DecodeError::MisplacedTsig
        );
        // The full decoder refuses it too (here already for the empty TSIG RDATA).
        assert!(crate::Message::decode(packet).is_err());
    }

    #[test]
    fn rejects_what_a_server_must() {
        let mut p = query();
        p[5] = 2;
        assert_eq!(
            QueryView::parse(&p).unwrap_err(),
            DecodeError::QdCountMismatch {
                expected: 1,
                got: 2
            }
        );
        let mut p = query();
        p.push(0);
        assert_eq!(
            QueryView::parse(&p).unwrap_err(),
            DecodeError::TrailingBytes { count: 1 }
        );
        let p = query();
        for cut in 0..p.len() {
            assert!(QueryView::parse(&p[..cut]).is_err());
        }
    }
}

//! Benchmark support for NebulaDNS: the sample messages every wire benchmark and the
//! allocation test share.
//!
//! The samples are real traffic, captured by `fuzz/make_seeds.py` between `dig` 9.18 and BIND
//! 9.18 (they double as fuzz seeds), so the benchmarks measure what a server really receives
//! and sends, not a hand-made best case.
#![forbid(unsafe_code)]

/// `dig www.example.com A`: one question, an OPT record (RFC 6891) with a DNS cookie
/// (RFC 7873), 56 octets.
pub const TYPICAL_QUERY: &[u8] = include_bytes!("../../fuzz/seeds/message_decode/query_www_a");

/// BIND's answer to [`TYPICAL_QUERY`]: two A records whose owners are compression pointers to
/// the question (RFC 1035 §4.1.4), and an OPT with a server cookie, 104 octets.
pub const TYPICAL_RESPONSE: &[u8] =
    include_bytes!("../../fuzz/seeds/message_decode/response_www_a");

/// A referral (`host.sub.example.com A`, no recursion): two NS records in the authority
/// section and their glue in the additional section, heavily compressed, 157 octets.
pub const REFERRAL_RESPONSE: &[u8] =
    include_bytes!("../../fuzz/seeds/message_decode/response_referral");

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use nebula_wire::{Message, QueryView, RType};

    #[test]
    fn samples_are_what_their_names_say() {
        let query = Message::decode(TYPICAL_QUERY).unwrap();
        assert_eq!(query.questions.len(), 1);
        assert!(query.opt().is_some(), "query has EDNS");
        assert!(QueryView::parse(TYPICAL_QUERY)
            .unwrap()
            .edns
            .unwrap()
            .cookie
            .is_some());

        let response = Message::decode(TYPICAL_RESPONSE).unwrap();
        assert!(response.header.qr);
        assert_eq!(response.answers.len(), 2);
        assert!(response.answers.iter().all(|r| r.rtype() == RType::A));
        assert!(response.opt().is_some(), "response has EDNS");
        // Compression: the encoded form is far smaller than the names written out in full.
        assert!(response.encode().unwrap().len() <= TYPICAL_RESPONSE.len());

        let referral = Message::decode(REFERRAL_RESPONSE).unwrap();
        assert!(referral.answers.is_empty());
        assert_eq!(
            referral
                .authority
                .iter()
                .filter(|r| r.rtype() == RType::NS)
                .count(),
            2
        );
        assert!(referral.additional.len() >= 2);
    }
}

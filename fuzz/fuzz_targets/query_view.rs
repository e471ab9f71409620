//! Fuzz target: `QueryView::parse` (the allocation-free query decoder of the data plane) never
//! panics on arbitrary bytes, and agrees with the full decoder `Message::decode_with`
//! (QDCOUNT = 1) where the two should agree:
//!
//! - every structural rule both apply (QDCOUNT, trailing bytes, OPT placement RFC 6891 §6.1.1,
//!   TSIG placement RFC 8945 §5.1): if the full decoder refuses for one of these reasons, the
//!   view must refuse too;
//! - if the full decoder accepts, the view accepts (it only skips RDATA, it never needs more),
//!   except when the OPT options overrun the OPT RDATA, which only the view inspects;
//! - when both accept, they report the same header, question, EDNS and TSIG presence.
//!
//! The view may accept what the full decoder refuses for RDATA contents it does not decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nebula_wire::{DecodeError, DecodeOptions, Message, QueryView, RType};

fuzz_target!(|data: &[u8]| {
    let view = QueryView::parse(data);
    let options = DecodeOptions {
        expected_qdcount: Some(1),
        ..DecodeOptions::default()
    };
    let full = Message::decode_with(data, options);
    match (&view, &full) {
        (Ok(view), Ok(message)) => {
            assert_eq!(view.header, message.header);
            let question = &message.questions[0];
            assert_eq!(
                view.qname.as_wire(),
                question.name.as_wire(),
                "qname (case kept)"
            );
            assert_eq!(view.qtype, question.qtype);
            assert_eq!(view.qclass, question.qclass);
            assert_eq!(view.counts, message.counts());
            let opt = message.opt();
            assert_eq!(view.edns.is_some(), opt.is_some(), "EDNS presence");
            if let (Some(edns), Some(opt)) = (view.edns, opt) {
                assert_eq!(edns.udp_payload_size, opt.class.0);
                assert_eq!(edns.version, opt.ttl.to_be_bytes()[1]);
                assert_eq!(edns.extended_rcode, opt.ttl.to_be_bytes()[0]);
                assert_eq!(edns.dnssec_ok, opt.ttl & 0x8000 != 0);
            }
            let last_is_tsig = message
                .additional
                .last()
                .is_some_and(|r| r.rtype() == RType::TSIG);
            assert_eq!(view.has_tsig, last_is_tsig, "TSIG presence");
        }
        (Err(view_error), Ok(_)) => {
            let opt_options = matches!(
                view_error,
                DecodeError::BadRdata {
                    rtype: RType::OPT,
                    ..
                }
            );
            assert!(
                opt_options,
                "full decoder accepts what the view refuses: {view_error}"
            );
        }
        (Ok(_), Err(full_error)) => {
            let structural = matches!(
                full_error,
                DecodeError::QdCountMismatch { .. }
                    | DecodeError::TrailingBytes { .. }
                    | DecodeError::BadOpt
                    | DecodeError::MisplacedTsig
                    | DecodeError::MessageTooLong { .. }
            );
            assert!(
                !structural,
                "view accepts what the full decoder refuses: {full_error}"
            );
        }
        (Err(_), Err(_)) => {}
    }
});

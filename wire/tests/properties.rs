//! Property tests of the codec: messages made of arbitrary records of every type survive
//! encode → decode; every RDATA survives Display → tokenize → `from_tokens`; arbitrary and
//! mutated bytes never make the decoders panic; canonical name order is a total order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nebula_wire::rdata::{
    is_structured, Caa, CharString, ClientSubnet, Cookie, Dnskey, Ds, EdnsOption, ExtendedError,
    Naptr, Nsec, Nsec3, Nsec3Param, Opt, Rrsig, Soa, Srv, Sshfp, SvcParam, SvcParamKey, Svcb, Tlsa,
    Tsig, Txt, TypeBitmap, MAX_TIME_SIGNED,
};
use nebula_wire::text::tokenize;
use nebula_wire::{Class, Header, Message, Name, QueryView, Question, RData, RType, Rcode, Record};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Building blocks.

/// An octet, often one that presentation text must escape or that separates something.
fn octet() -> impl Strategy<Value = u8> {
    prop_oneof![
        2 => any::<u8>(),
        1 => prop::sample::select(b",\\\";()@$ .=\t\"#".to_vec()),
        1 => b'a'..=b'z',
    ]
}

fn tricky_bytes(range: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(octet(), range)
}

/// A label: mostly letters of both cases (so names share suffixes and differ only in case),
/// sometimes octets that need escapes in text.
fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-cA-C0-9-]{1,6}".prop_map(String::into_bytes),
        1 => tricky_bytes(1..8),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    prop::collection::vec(label(), 0..5).prop_map(|labels| {
        labels.iter().rev().fold(Name::root(), |name, label| {
            name.prepend_label(label).unwrap()
        })
    })
}

fn bytes(range: std::ops::Range<usize>) -> impl Strategy<Value = Box<[u8]>> {
    tricky_bytes(range).prop_map(Vec::into_boxed_slice)
}

fn char_string(range: std::ops::Range<usize>) -> impl Strategy<Value = CharString> {
    tricky_bytes(range).prop_map(|b| CharString::new(b).unwrap())
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    // Plenty of zero groups, so `::` and embedded IPv4 forms come up.
    prop::array::uniform8(prop_oneof![3 => Just(0u16), 1 => Just(0xffff), 2 => any::<u16>()])
        .prop_map(|s| Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]))
}

// ---------------------------------------------------------------------------------------------
// One strategy per RDATA type.

fn soa() -> impl Strategy<Value = RData> {
    (name(), name(), any::<[u32; 5]>()).prop_map(|(mname, rname, v)| {
        RData::Soa(Box::new(Soa {
            mname,
            rname,
            serial: v[0],
            refresh: v[1],
            retry: v[2],
            expire: v[3],
            minimum: v[4],
        }))
    })
}

fn txt() -> impl Strategy<Value = RData> {
    prop::collection::vec(tricky_bytes(0..40), 1..4).prop_map(|strings| {
        RData::Txt(Txt::from_strings(strings.iter().map(Vec::as_slice)).unwrap())
    })
}

fn naptr() -> impl Strategy<Value = RData> {
    let regexp = prop_oneof![
        Just(String::new()),
        ("[a-z.^$*]{0,8}", "[a-z@.:]{0,8}", prop::bool::ANY).prop_map(|(ere, replacement, i)| {
            format!("!{ere}!{replacement}!{}", if i { "i" } else { "" })
        }),
        Just("!^(.*)$!\\1@example.com!".to_owned()),
    ];
    (
        any::<u16>(),
        any::<u16>(),
        char_string(0..6),
        char_string(0..12),
        regexp,
        name(),
    )
        .prop_map(
            |(order, preference, flags, services, regexp, replacement)| {
                RData::Naptr(Box::new(Naptr {
                    order,
                    preference,
                    flags,
                    services,
                    regexp: CharString::try_from(regexp.as_str()).unwrap(),
                    replacement,
                }))
            },
        )
}

fn ds(cds: bool) -> impl Strategy<Value = RData> {
    let digest = prop_oneof![
        bytes(20..21).prop_map(|d| (1u8, d)),
        bytes(32..33).prop_map(|d| (2u8, d)),
        bytes(48..49).prop_map(|d| (4u8, d)),
        (prop_oneof![Just(0u8), Just(3), 5u8..=255], bytes(1..70)),
    ];
    (any::<u16>(), any::<u8>(), digest).prop_map(
        move |(key_tag, algorithm, (digest_type, digest))| {
            let ds = Ds {
                key_tag,
                algorithm,
                digest_type,
                digest,
            };
            if cds {
                RData::Cds(ds)
            } else {
                RData::Ds(ds)
            }
        },
    )
}

fn sshfp() -> impl Strategy<Value = RData> {
    let fingerprint = prop_oneof![
        bytes(20..21).prop_map(|f| (1u8, f)),
        bytes(32..33).prop_map(|f| (2u8, f)),
        (prop_oneof![Just(0u8), 3u8..=255], bytes(0..40)),
    ];
    (any::<u8>(), fingerprint).prop_map(|(algorithm, (fingerprint_type, fingerprint))| {
        RData::Sshfp(Sshfp {
            algorithm,
            fingerprint_type,
            fingerprint,
        })
    })
}

fn rrsig() -> impl Strategy<Value = RData> {
    (
        any::<u16>(),
        any::<u8>(),
        0u8..3,
        any::<[u32; 3]>(),
        any::<u16>(),
        name(),
        bytes(1..100),
    )
        .prop_map(
            |(covered, algorithm, extra_labels, v, key_tag, signer, signature)| {
                RData::Rrsig(Box::new(Rrsig {
                    type_covered: RType(covered),
                    algorithm,
                    labels: signer.label_count() as u8 + extra_labels,
                    original_ttl: v[0],
                    expiration: v[1],
                    inception: v[2],
                    key_tag,
                    signer,
                    signature,
                }))
            },
        )
}

fn type_bitmap(min: usize) -> impl Strategy<Value = TypeBitmap> {
    prop::collection::vec(
        prop_oneof![1u16..300, any::<u16>()].prop_map(RType),
        min..10,
    )
    .prop_map(TypeBitmap::from_types)
}

fn nsec() -> impl Strategy<Value = RData> {
    (name(), type_bitmap(1)).prop_map(|(next, types)| RData::Nsec(Box::new(Nsec { next, types })))
}

fn dnskey(cdnskey: bool) -> impl Strategy<Value = RData> {
    // Algorithm 253 (PRIVATEDNS) keys start with a name; the unit tests cover those.
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>().prop_filter("not PRIVATEDNS", |a| *a != 253),
        bytes(1..100),
    )
        .prop_map(move |(flags, protocol, algorithm, public_key)| {
            let key = Dnskey {
                flags,
                protocol,
                algorithm,
                public_key,
            };
            if cdnskey {
                RData::Cdnskey(key)
            } else {
                RData::Dnskey(key)
            }
        })
}

fn nsec3() -> impl Strategy<Value = RData> {
    let hash = prop_oneof![
        char_string(20..21).prop_map(|h| (1u8, h)),
        (2u8..=255, char_string(1..156))
    ];
    (
        any::<u8>(),
        any::<u16>(),
        char_string(0..20),
        hash,
        type_bitmap(0),
    )
        .prop_map(
            |(flags, iterations, salt, (hash_algorithm, next_hashed_owner), types)| {
                RData::Nsec3(Box::new(Nsec3 {
                    hash_algorithm,
                    flags,
                    iterations,
                    salt,
                    next_hashed_owner,
                    types,
                }))
            },
        )
}

fn nsec3param() -> impl Strategy<Value = RData> {
    (any::<u8>(), any::<u8>(), any::<u16>(), char_string(0..20)).prop_map(
        |(hash_algorithm, flags, iterations, salt)| {
            RData::Nsec3Param(Nsec3Param {
                hash_algorithm,
                flags,
                iterations,
                salt,
            })
        },
    )
}

fn tlsa() -> impl Strategy<Value = RData> {
    (any::<[u8; 3]>(), bytes(1..80)).prop_map(|(v, data)| {
        RData::Tlsa(Tlsa {
            usage: v[0],
            selector: v[1],
            matching_type: v[2],
            data,
        })
    })
}

/// SVCB/HTTPS with any subset of the parameters, made consistent (mandatory lists only keys
/// present, no-default-alpn only with alpn).
fn svcb(https: bool) -> impl Strategy<Value = RData> {
    let alpn = prop::option::of(prop::collection::vec(char_string(1..8), 1..4));
    let unknown = prop::collection::btree_map(7u16..=65535, bytes(0..12), 0..3);
    (
        any::<u16>(),
        name(),
        (alpn, any::<bool>(), prop::option::of(any::<u16>())),
        prop::option::of(prop::collection::vec(any::<[u8; 4]>(), 1..3)),
        prop::option::of(bytes(0..24)),
        prop::option::of(prop::collection::vec(ipv6(), 1..3)),
        unknown,
        any::<u8>(),
    )
        .prop_map(
            move |(
                priority,
                target,
                (alpn, no_default, port),
                v4,
                ech,
                v6,
                unknown,
                mandatory_mask,
            )| {
                let mut params = Vec::new();
                if let Some(ids) = alpn {
                    params.push(SvcParam::Alpn(ids));
                    if no_default {
                        params.push(SvcParam::NoDefaultAlpn);
                    }
                }
                if let Some(port) = port {
                    params.push(SvcParam::Port(port));
                }
                if let Some(v4) = v4 {
                    params.push(SvcParam::Ipv4Hint(
                        v4.into_iter().map(Ipv4Addr::from).collect(),
                    ));
                }
                if let Some(ech) = ech {
                    params.push(SvcParam::Ech(ech));
                }
                if let Some(v6) = v6 {
                    params.push(SvcParam::Ipv6Hint(v6));
                }
                for (key, value) in unknown {
                    params.push(SvcParam::Unknown {
                        key: SvcParamKey(key),
                        value,
                    });
                }
                let mut mandatory: Vec<SvcParamKey> = params
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mandatory_mask & (1 << (i % 8)) != 0)
                    .map(|(_, p)| p.key())
                    .collect();
                mandatory.sort();
                if !mandatory.is_empty() {
                    params.push(SvcParam::Mandatory(mandatory));
                }
                let svcb = Box::new(Svcb::new(priority, target, params).unwrap());
                if https {
                    RData::Https(svcb)
                } else {
                    RData::Svcb(svcb)
                }
            },
        )
}

fn caa() -> impl Strategy<Value = RData> {
    (any::<u8>(), "[a-zA-Z0-9]{1,15}", bytes(0..50))
        .prop_map(|(flags, tag, value)| RData::Caa(Box::new(Caa::new(flags, &tag, value).unwrap())))
}

fn edns_option() -> impl Strategy<Value = EdnsOption> {
    let address = prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        ipv6().prop_map(IpAddr::V6)
    ];
    prop_oneof![
        (any::<[u8; 8]>(), prop_oneof![bytes(0..1), bytes(8..33)])
            .prop_map(|(client, server)| EdnsOption::Cookie(Cookie::new(client, &server).unwrap())),
        (address, any::<u8>(), any::<u8>()).prop_map(|(address, prefix, scope)| {
            let subnet = ClientSubnet::from_address(address, prefix);
            let max = if address.is_ipv4() { 32 } else { 128 };
            let subnet = ClientSubnet::new(
                subnet.family(),
                subnet.source_prefix(),
                scope % (max + 1),
                subnet.address_octets(),
            );
            EdnsOption::ClientSubnet(subnet.unwrap())
        }),
        bytes(0..40).prop_map(EdnsOption::Padding),
        (any::<u16>(), "[ -~]{0,20}").prop_map(|(code, text)| EdnsOption::ExtendedError(
            ExtendedError::new(code, &text).unwrap()
        )),
        (
            any::<u16>().prop_filter("unstructured code", |c| ![8, 10, 12, 15].contains(c)),
            bytes(0..20)
        )
            .prop_map(|(code, data)| EdnsOption::Unknown { code, data }),
    ]
}

fn opt() -> impl Strategy<Value = RData> {
    prop::collection::vec(edns_option(), 0..5).prop_map(|options| RData::Opt(Opt { options }))
}

fn tsig() -> impl Strategy<Value = RData> {
    (
        name(),
        0..=MAX_TIME_SIGNED,
        any::<u16>(),
        bytes(0..64),
        any::<u16>(),
        any::<u16>(),
        bytes(0..8),
    )
        .prop_map(
            |(algorithm, time_signed, fudge, mac, original_id, error, other)| {
                RData::Tsig(Box::new(Tsig {
                    algorithm,
                    time_signed,
                    fudge,
                    mac,
                    original_id,
                    error: Rcode(error),
                    other,
                }))
            },
        )
}

fn unknown() -> impl Strategy<Value = RData> {
    (
        any::<u16>().prop_filter("no structure", |t| !is_structured(RType(*t))),
        bytes(0..80),
    )
        .prop_map(|(rtype, data)| RData::Unknown {
            rtype: RType(rtype),
            data,
        })
}

/// RDATA of every type that may appear anywhere in a message (not OPT or TSIG).
fn zone_rdata() -> impl Strategy<Value = RData> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| RData::A(Ipv4Addr::from(a))),
        ipv6().prop_map(RData::Aaaa),
        name().prop_map(RData::Ns),
        name().prop_map(RData::Cname),
        name().prop_map(RData::Ptr),
        name().prop_map(RData::Dname),
        soa(),
        (any::<u16>(), name()).prop_map(|(preference, exchange)| RData::Mx {
            preference,
            exchange
        }),
        txt(),
        (any::<[u16; 3]>(), name()).prop_map(|(v, target)| RData::Srv(Box::new(Srv {
            priority: v[0],
            weight: v[1],
            port: v[2],
            target
        }))),
        naptr(),
        ds(false),
        ds(true),
        sshfp(),
        rrsig(),
        nsec(),
        dnskey(false),
        dnskey(true),
        nsec3(),
        nsec3param(),
        tlsa(),
        svcb(false),
        svcb(true),
        caa(),
        unknown(),
    ]
}

/// RDATA of every type, pseudo-records included.
fn any_rdata() -> impl Strategy<Value = RData> {
    prop_oneof![8 => zone_rdata(), 1 => opt(), 1 => tsig()]
}

fn record() -> impl Strategy<Value = Record> {
    (name(), any::<u16>(), any::<u32>(), zone_rdata()).prop_map(|(name, class, ttl, rdata)| {
        Record {
            name,
            class: Class(class),
            ttl,
            rdata,
        }
    })
}

fn header() -> impl Strategy<Value = Header> {
    (any::<u16>(), any::<u16>()).prop_map(|(id, flags)| Header::from_flags(id, flags))
}

/// A message obeying the pseudo-record rules: at most one OPT (owner `.`, additional section),
/// TSIG only last.
fn message() -> impl Strategy<Value = Message> {
    let question =
        (name(), any::<u16>(), any::<u16>()).prop_map(|(name, qtype, qclass)| Question {
            name,
            qtype: RType(qtype),
            qclass: Class(qclass),
        });
    let sections = (
        prop::collection::vec(record(), 0..4),
        prop::collection::vec(record(), 0..4),
        prop::collection::vec(record(), 0..4),
    );
    let opt = prop::option::of((any::<u16>(), any::<u32>(), opt()));
    let tsig = prop::option::of((name(), tsig()));
    (
        header(),
        prop::collection::vec(question, 0..3),
        sections,
        opt,
        tsig,
    )
        .prop_map(
            |(header, questions, (answers, authority, mut additional), opt, tsig)| {
                if let Some((class, ttl, rdata)) = opt {
                    additional.push(Record {
                        name: Name::root(),
                        class: Class(class),
                        ttl,
                        rdata,
                    });
                }
                if let Some((name, rdata)) = tsig {
                    additional.push(Record {
                        name,
                        class: Class::ANY,
                        ttl: 0,
                        rdata,
                    });
                }
                Message {
                    header,
                    questions,
                    answers,
                    authority,
                    additional,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn messages_survive_encode_and_decode(msg in message()) {
        let bytes = msg.encode().unwrap();
        prop_assert_eq!(Message::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn rdata_survives_its_text(rdata in any_rdata()) {
        let rtype = rdata.rtype();
        let text = rdata.to_string();
        let tokens = tokenize(&text).unwrap();
        let parsed = RData::from_tokens(rtype, &tokens, None);
        prop_assert_eq!(parsed.as_ref(), Ok(&rdata), "text: {}", text);
        // And its RFC 3597 generic text, and its uncompressed wire form.
        let generic = rdata.to_generic_text();
        let generic_tokens = tokenize(&generic).unwrap();
        prop_assert_eq!(RData::from_tokens(rtype, &generic_tokens, None), Ok(rdata.clone()));
        prop_assert_eq!(RData::decode_standalone(rtype, &rdata.to_wire()), Ok(rdata.clone()));
    }

    #[test]
    fn canonical_wire_form_decodes_to_an_equal_rdata(rdata in any_rdata()) {
        // Lowering names where RFC 4034 §6.2 says changes case only; names compare without case.
        let rtype = rdata.rtype();
        prop_assert_eq!(RData::decode_standalone(rtype, &rdata.to_canonical_wire()), Ok(rdata.clone()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(msg) = Message::decode(&bytes) {
            // Whatever decodes also survives a round trip.
            prop_assert_eq!(Message::decode(&msg.encode().unwrap()).unwrap(), msg);
        }
        let _ = QueryView::parse(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        msg in message(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = msg.encode().unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        for candidate in [&bytes[..], &bytes[..keep]] {
            if let Ok(decoded) = Message::decode(candidate) {
                prop_assert_eq!(Message::decode(&decoded.encode().unwrap()).unwrap(), decoded);
            }
            let _ = QueryView::parse(candidate);
        }
    }

    #[test]
    fn rdata_bytes_never_panic(rtype in prop_oneof![any::<u16>(), 0u16..300], bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        let rtype = RType(rtype);
        if let Ok(rdata) = RData::decode_standalone(rtype, &bytes) {
            // Accepted RDATA is exactly what it re-encodes to (no pointers, one canonical form).
            prop_assert_eq!(rdata.to_wire(), bytes);
        }
    }
}

// Canonical order (RFC 4034 §6.1) over names drawn from a small alphabet, so that equal
// labels, equal names in other case and proper suffixes are common.
fn small_name() -> impl Strategy<Value = Name> {
    prop::collection::vec("[aAbB\\x00\\xff-]{1,2}", 0..4).prop_map(|labels| {
        labels.iter().rev().fold(Name::root(), |name, label| {
            name.prepend_label(label.as_bytes()).unwrap()
        })
    })
}

/// The order spelled out: labels right to left, each lowered, compared as octet strings.
fn reference_cmp(a: &Name, b: &Name) -> Ordering {
    let lowered = |n: &Name| -> Vec<Vec<u8>> {
        let mut labels: Vec<Vec<u8>> = n.labels().map(|l| l.to_ascii_lowercase()).collect();
        labels.reverse();
        labels
    };
    lowered(a).cmp(&lowered(b))
}

proptest! {
    #[test]
    fn canonical_order_is_antisymmetric(a in small_name(), b in small_name()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
        prop_assert_eq!(a.cmp(&b), reference_cmp(&a, &b));
    }

    #[test]
    fn canonical_order_is_transitive(a in small_name(), b in small_name(), c in small_name()) {
        for (x, y, z) in [(&a, &b, &c), (&a, &c, &b), (&b, &a, &c), (&b, &c, &a), (&c, &a, &b), (&c, &b, &a)] {
            if x <= y && y <= z {
                prop_assert!(x <= z, "{} <= {} <= {} but not {} <= {}", x, y, z, x, z);
            }
            if x < y && y < z {
                prop_assert!(x < z);
            }
        }
    }

    #[test]
    fn a_name_sorts_before_its_subdomains(parent in small_name(), label in "[a-z]{1,3}") {
        let child = parent.prepend_label(label.as_bytes()).unwrap();
        prop_assert!(parent < child);
        prop_assert!(child.is_subdomain_of(&parent));
    }
}

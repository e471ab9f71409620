//! Zones as TOML (written by hand) and JSON (the API's form): both map to the same [`Zone`].
//!
//! RDATA is presentation text, exactly as in a master file (RFC 1035 §5.1), parsed by
//! [`RData::from_tokens`]; names without a trailing dot are relative to the zone name, `@` is
//! the zone name itself. A record's `data` is one string, or a list of strings for several
//! records of one RRset. `ttl` is seconds (`300`) or BIND units (`"1h30m"`); without it the
//! zone's `default_ttl` applies. Unknown keys are errors that name the key.
//!
//! # TOML
//!
//! One `[zone]` table, then one `[[record]]` table per record (or per RRset, with a list):
//!
//! ```toml
//! [zone]
//! name = "example.com."
//! default_ttl = 3600          # optional; records without ttl need it
//! class = "IN"                # optional, IN by default
//!
//! [[record]]
//! name = "@"
//! type = "SOA"
//! data = "ns1 hostmaster 2024010101 7200 3600 1209600 300"
//!
//! [[record]]
//! name = "@"
//! type = "NS"
//! data = ["ns1", "ns2.example.net."]
//!
//! [[record]]
//! name = "ns1"
//! type = "A"
//! data = "192.0.2.1"
//!
//! [[record]]
//! name = "www"
//! type = "AAAA"
//! ttl = "5m"
//! data = "2001:db8::1"
//!
//! [[record]]
//! name = "@"
//! type = "TXT"
//! data = '"v=spf1 -all"'      # a TOML literal string keeps the RDATA's own quotes
//! ```
//!
//! # JSON
//!
//! The same fields, the zone's at the top level and the records under `records`:
//!
//! ```json
//! {"name": "example.com.", "default_ttl": 3600,
//!  "records": [{"name": "www", "type": "A", "ttl": 300, "data": "192.0.2.1"}]}
//! ```
//!
//! [`to_json`] writes a zone in this form (one record per entry, names relative to the zone,
//! every TTL explicit), and [`to_toml`] in the TOML form; both parse back to the same zone.
//!
//! Problems are reported like the master-file parser's: every one at once, each naming the
//! record (its index from 1, its name and type) and the fix.

use std::sync::Arc;

use nebula_wire::text::{parse_ttl, tokenize};
use nebula_wire::{Class, Name, RData, RType};
use serde::{Deserialize, Serialize};

use crate::error::{Diagnostic, Location, Problem, ZoneErrors};
use crate::master::{Options, Parsed, ZoneBuilder};
use crate::zone::Zone;

/// The JSON form of a zone (and the shape [`to_json`] writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneDocument {
    /// The zone's name (its origin), absolute.
    pub name: String,
    /// The TTL of records that give none (RFC 2308 §4 `$TTL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<Ttl>,
    /// The zone's class, `IN` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default)]
    pub records: Vec<RecordEntry>,
}

/// The TOML form: `[zone]` and `[[record]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDocument {
    zone: TomlZone,
    #[serde(default)]
    record: Vec<RecordEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlZone {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_ttl: Option<Ttl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class: Option<String>,
}

/// One record (or one RRset, when `data` is a list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// Owner name: relative to the zone, `@`, or absolute with a trailing dot.
    pub name: String,
    /// Type mnemonic or `TYPEnnn` (RFC 3597 §5).
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    pub data: Data,
}

/// A TTL: seconds, or text with BIND units (`"1h30m"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ttl {
    Seconds(u32),
    Text(String),
}

/// RDATA in presentation form: one record, or several of one RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Data {
    One(String),
    Many(Vec<String>),
}

/// Parses the TOML form; `source` names the document in messages.
pub fn parse_toml(text: &str, source: &str) -> Result<Parsed, ZoneErrors> {
    let document: TomlDocument = toml::from_str(text).map_err(|e| {
        let location = e.span().map(|span| {
            let (line, column) = line_and_column(text, span.start);
            Location::Line {
                file: source.into(),
                line,
                column,
            }
        });
        ZoneErrors::one(Diagnostic::error(Problem::Document(e.message().to_owned())).at(location))
    })?;
    let zone = document.zone;
    build(
        source,
        &zone.name,
        zone.default_ttl.as_ref(),
        zone.class.as_deref(),
        &document.record,
    )
}

/// Parses the JSON form; `source` names the document in messages.
pub fn parse_json(text: &str, source: &str) -> Result<Parsed, ZoneErrors> {
    let document: ZoneDocument = serde_json::from_str(text).map_err(|e| {
        let location = Location::Line {
            file: source.into(),
            line: u32::try_from(e.line()).unwrap_or(u32::MAX),
            column: u32::try_from(e.column()).unwrap_or(u32::MAX),
        };
        // serde_json appends " at line L column C", which the location already says.
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ZoneErrors::one(Diagnostic::error(Problem::Document(message)).at(Some(location)))
    })?;
    from_document(&document, source)
}

/// Builds a zone from an already deserialized JSON document (the API's request body).
pub fn from_document(document: &ZoneDocument, source: &str) -> Result<Parsed, ZoneErrors> {
    build(
        source,
        &document.name,
        document.default_ttl.as_ref(),
        document.class.as_deref(),
        &document.records,
    )
}

/// The JSON form of `zone`: one entry per record in canonical order, names relative to the zone.
pub fn to_json(zone: &Zone) -> String {
    // Serializing plain strings and integers cannot fail.
    serde_json::to_string(&to_document(zone)).unwrap_or_default()
}

/// The TOML form of `zone`.
pub fn to_toml(zone: &Zone) -> String {
    let document = to_document(zone);
    let toml = TomlDocument {
        zone: TomlZone {
            name: document.name,
            default_ttl: None,
            class: document.class,
        },
        record: document.records,
    };
    toml::to_string(&toml).unwrap_or_default()
}

/// The document form of `zone` (what [`to_json`] serializes).
pub fn to_document(zone: &Zone) -> ZoneDocument {
    let records = zone
        .rrsets()
        .flat_map(|(owner, rtype, rrset)| {
            let name = owner.to_relative_text(&zone.origin);
            rrset.rdatas.iter().map(move |rdata| RecordEntry {
                name: name.clone(),
                rtype: rtype.to_string(),
                ttl: Some(Ttl::Seconds(rrset.ttl)),
                data: Data::One(rdata.to_string()),
            })
        })
        .collect();
    ZoneDocument {
        name: zone.origin.to_string(),
        default_ttl: None,
        class: (zone.class != Class::IN).then(|| zone.class.to_string()),
        records,
    }
}

fn line_and_column(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(offset - line_start + 1).unwrap_or(u32::MAX),
    )
}

fn ttl_value(ttl: &Ttl) -> Option<u32> {
    match ttl {
        Ttl::Seconds(seconds) => Some(*seconds),
        Ttl::Text(text) => parse_ttl(text),
    }
}

fn ttl_text(ttl: &Ttl) -> String {
    match ttl {
        Ttl::Seconds(seconds) => seconds.to_string(),
        Ttl::Text(text) => text.clone(),
    }
}

/// Turns document records into a zone, collecting every problem.
fn build(
    source: &str,
    zone_name: &str,
    default_ttl: Option<&Ttl>,
    class: Option<&str>,
    entries: &[RecordEntry],
) -> Result<Parsed, ZoneErrors> {
    let file: Arc<str> = source.into();
    let whole = || Some(Location::File { file: file.clone() });
    let mut errors: Vec<Diagnostic> = Vec::new();
    let origin = match Name::from_text(zone_name, Some(&Name::root())) {
        Ok(origin) => origin,
        Err(e) => {
            return Err(ZoneErrors::one(
                Diagnostic::error(Problem::BadName(e)).at(whole()),
            ))
        }
    };
    let class = match class {
        None => Class::IN,
        Some(text) => match Class::from_text(text) {
            Some(class) => class,
            None => {
                let problem = Problem::Document(format!("unknown class {text:?}"));
                return Err(ZoneErrors::one(Diagnostic::error(problem).at(whole())));
            }
        },
    };
    let default_ttl = match default_ttl {
        None => None,
        Some(ttl) => match ttl_value(ttl) {
            Some(value) => Some(value),
            None => {
                return Err(ZoneErrors::one(
                    Diagnostic::error(Problem::BadTtl(ttl_text(ttl))).at(whole()),
                ))
            }
        },
    };
    let max_errors = Options::default().max_errors;
    let mut builder = ZoneBuilder::new(origin.clone(), class, true);
    let file_id = builder.add_file(file.clone());
    builder.reserve(entries.len());
    for (position, entry) in entries.iter().enumerate() {
        if errors.len() >= max_errors {
            errors.push(Diagnostic::error(Problem::TooManyErrors(errors.len())));
            break;
        }
        let index = u32::try_from(position + 1).unwrap_or(u32::MAX);
        let location = Some(Location::Record {
            file: file.clone(),
            index,
        });
        let values: &[String] = match &entry.data {
            Data::One(one) => std::slice::from_ref(one),
            Data::Many(many) => many,
        };
        let text = format!(
            "name={:?} type={:?} data={:?}",
            entry.name, entry.rtype, values
        );
        let fail = |problem: Problem, owner: Option<&Name>, rtype: Option<RType>| {
            let diagnostic = Diagnostic::error(problem)
                .at(location.clone())
                .record(Some(text.clone()));
            match owner {
                Some(owner) => diagnostic.owner(owner, rtype),
                None => diagnostic,
            }
        };
        let owner = if entry.name == "@" {
            Ok(origin.clone())
        } else {
            Name::from_text(&entry.name, Some(&origin))
        };
        let owner = match owner {
            Ok(owner) => owner,
            Err(e) => {
                errors.push(fail(Problem::BadName(e), None, None));
                continue;
            }
        };
        let Some(rtype) = RType::from_text(&entry.rtype) else {
            errors.push(fail(
                Problem::UnknownType(entry.rtype.clone()),
                Some(&owner),
                None,
            ));
            continue;
        };
        let ttl = match &entry.ttl {
            Some(ttl) => match ttl_value(ttl) {
                Some(value) => value,
                None => {
                    errors.push(fail(
                        Problem::BadTtl(ttl_text(ttl)),
                        Some(&owner),
                        Some(rtype),
                    ));
                    continue;
                }
            },
            None => match default_ttl {
                Some(value) => value,
                None => {
                    errors.push(fail(Problem::NoTtl, Some(&owner), Some(rtype)));
                    continue;
                }
            },
        };
        if values.is_empty() {
            errors.push(fail(
                Problem::Document("empty data list".to_owned()),
                Some(&owner),
                Some(rtype),
            ));
            continue;
        }
        let owner_id = builder.add_owner(&owner);
        for value in values {
            let rdata = tokenize(value)
                .and_then(|tokens| RData::from_tokens(rtype, &tokens, Some(&origin)));
            match rdata {
                Ok(rdata) => {
                    if !builder.push(owner_id, ttl, rdata, file_id, index) {
                        errors.push(fail(Problem::TooManyRecords, Some(&owner), Some(rtype)));
                    }
                }
                Err(e) => errors.push(fail(Problem::BadRdata(e), Some(&owner), Some(rtype))),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ZoneErrors {
            diagnostics: errors,
        });
    }
    let (zone, sources, warnings) = builder.finish();
    Ok(Parsed {
        zone,
        sources,
        warnings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::master::parse_str;

    const TOML: &str = r#"
[zone]
name = "example.com."
default_ttl = 3600

[[record]]
name = "@"
type = "SOA"
data = "ns1 hostmaster 2024010101 7200 3600 1209600 300"

[[record]]
name = "@"
type = "NS"
data = ["ns1", "ns2.example.net."]

[[record]]
name = "ns1"
type = "A"
data = "192.0.2.1"

[[record]]
name = "www"
type = "AAAA"
ttl = "5m"
data = "2001:db8::1"

[[record]]
name = "@"
type = "TXT"
data = '"v=spf1 -all"'
"#;

    const MASTER: &str = "$TTL 3600\n@ SOA ns1 hostmaster 2024010101 7200 3600 1209600 300\n  NS ns1\n  NS ns2.example.net.\n\
                          ns1 A 192.0.2.1\nwww 300 AAAA 2001:db8::1\n@ TXT \"v=spf1 -all\"\n";

    fn origin() -> Name {
        "example.com.".parse().unwrap()
    }

    #[test]
    fn toml_matches_master_file() {
        let from_toml = parse_toml(TOML, "z.toml").unwrap().zone;
        let from_master = parse_str(MASTER, &origin(), "z").unwrap().zone;
        assert_eq!(from_toml, from_master);
    }

    #[test]
    fn json_and_toml_round_trip() {
        let zone = parse_str(MASTER, &origin(), "z").unwrap().zone;
        let json = to_json(&zone);
        assert!(json.starts_with(r#"{"name":"example.com.","records":[{"name":"@","type":"NS","ttl":3600,"data":"ns1.example.com."}"#), "{json}");
        assert_eq!(parse_json(&json, "z.json").unwrap().zone, zone);
        assert_eq!(parse_toml(&to_toml(&zone), "z.toml").unwrap().zone, zone);
    }

    #[test]
    fn json_from_the_api_example() {
        let json = r#"{"name":"example.com.","default_ttl":3600,"records":[{"name":"www","type":"A","ttl":300,"data":"192.0.2.1"}]}"#;
        let parsed = parse_json(json, "api").unwrap();
        assert_eq!(
            parsed
                .zone
                .records()
                .map(|r| r.to_string())
                .collect::<Vec<_>>(),
            ["www.example.com.\t300\tIN\tA\t192.0.2.1"]
        );
        assert_eq!(
            parsed.sources.location(0).unwrap().to_string(),
            "api: record 1"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse_toml("[zone]\nname = \"example.com.\"\n[[record]]\nname = \"www\"\ntype = \"A\"\nttl = 1\nvalue = \"1\"\n", "z.toml")
            .unwrap_err();
        let d = &e.diagnostics[0];
        assert!(
            d.problem.to_string().contains("unknown field `value`"),
            "{d}"
        );
        assert_eq!(d.location.as_ref().and_then(Location::line), Some(7));
        let e = parse_json(r#"{"name":"example.com.","recods":[]}"#, "z.json").unwrap_err();
        let message = e.diagnostics[0].to_string();
        assert!(
            message.starts_with("z.json:1:") && message.contains("unknown field `recods`"),
            "{message}"
        );
    }

    #[test]
    fn record_errors_name_index_and_record() {
        let json = r#"{"name":"example.com.","records":[
            {"name":"a","type":"A","ttl":1,"data":"192.0.2.1"},
            {"name":"b","type":"A","ttl":1,"data":"1.2.3"},
            {"name":"c","type":"BOGUS","ttl":1,"data":"x"},
            {"name":"d","type":"A","data":"192.0.2.1"},
            {"name":"e..f","type":"A","ttl":1,"data":"192.0.2.1"},
            {"name":"g","type":"A","ttl":"1x","data":"192.0.2.1"}]}"#;
        let e = parse_json(json, "z.json").unwrap_err();
        let found: Vec<String> = e
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.location.as_ref().unwrap(), d.problem.code()))
            .collect();
        assert_eq!(
            found,
            [
                "z.json: record 2 bad_rdata",
                "z.json: record 3 unknown_type",
                "z.json: record 4 no_ttl",
                "z.json: record 5 bad_name",
                "z.json: record 6 bad_ttl",
            ]
        );
        assert_eq!(
            e.diagnostics[0].to_string(),
            "z.json: record 2: error: b.example.com./A: bad RDATA: A: expected IPv4 address, found \"1.2.3\""
        );
    }

    #[test]
    fn ttl_mismatch_is_a_warning() {
        let json = r#"{"name":"example.com.","records":[
            {"name":"a","type":"A","ttl":1,"data":"192.0.2.1"},
            {"name":"a","type":"A","ttl":2,"data":"192.0.2.2"}]}"#;
        let parsed = parse_json(json, "z.json").unwrap();
        assert_eq!(
            parsed.warnings[0].problem,
            Problem::TtlMismatch { kept: 1, found: 2 }
        );
        assert_eq!(
            parsed.warnings[0].location.as_ref().unwrap().to_string(),
            "z.json: record 2"
        );
    }
}

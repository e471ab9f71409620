//! The store's error type and the diagnostics built from it.
//!
//! [`Problem`] is the crate's one error enum: every way zone data can be wrong, from a byte the
//! master-file lexer cannot read to a CNAME beside other data. A [`Diagnostic`] is a problem with
//! what a person needs to fix it: a [`Severity`], a [`Location`] (file and line, or the index of a
//! record in a TOML or JSON document), the owner name and type when known, the record's source
//! text, and a hint ([`Problem::hint`]).
//!
//! Parsers keep going after a bad record, as `named-checkzone` does, and return every error at
//! once in [`ZoneErrors`] (up to a cap, see [`crate::master::Options::max_errors`]).

use std::fmt;
use std::sync::Arc;

use nebula_wire::{Class, Name, RType, TextError};
use thiserror::Error;

/// How bad a diagnostic is: an error stops the zone from loading, a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Where a problem is in the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A line of a master file; `column` counts bytes from 1, and is 0 when it is not known.
    Line {
        file: Arc<str>,
        line: u32,
        column: u32,
    },
    /// The `index`-th record (from 1) of a TOML or JSON document.
    Record { file: Arc<str>, index: u32 },
    /// A whole file (it could not be read, for example).
    File { file: Arc<str> },
}

impl Location {
    /// The file (or document) name.
    pub fn file(&self) -> &str {
        match self {
            Location::Line { file, .. }
            | Location::Record { file, .. }
            | Location::File { file } => file,
        }
    }

    /// The line, for master-file locations.
    pub fn line(&self) -> Option<u32> {
        match self {
            Location::Line { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for Location {
    /// `file:line:column` (or `file:line`), `file: record N`, `file`: the forms compilers and
    /// `named-checkzone` print, so editors and `grep` find them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line {
                file,
                line,
                column: 0,
            } => write!(f, "{file}:{line}"),
            Location::Line { file, line, column } => write!(f, "{file}:{line}:{column}"),
            Location::Record { file, index } => write!(f, "{file}: record {index}"),
            Location::File { file } => f.write_str(file),
        }
    }
}

/// Why an `$INCLUDE` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncludeRefusal {
    /// The path is absolute.
    AbsolutePath,
    /// The path climbs out of the zone file's directory with `..`.
    EscapesDirectory,
    /// The path resolves (through a symbolic link) to a file outside the zone file's directory.
    SymlinkEscapes,
    /// Includes nest deeper than the bound (an include loop, most likely).
    TooDeep,
    /// The text was given without a file, so there is no directory to include from.
    NoDirectory,
}

/// Everything that can be wrong with zone data: the crate's one error enum.
///
/// Variants carry what the message needs; the owner name and type of the record, when known,
/// live in the [`Diagnostic`] around the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    // ---- Files.
    /// A file could not be read (the zone file or an `$INCLUDE`d one).
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    /// A file is not UTF-8. Zone files are ASCII (RFC 1035 §5.1); other octets are written `\DDD`.
    #[error("invalid UTF-8 in the file (first bad byte 0x{byte:02x})")]
    NotUtf8 { byte: u8 },
    /// An `$INCLUDE` that is not allowed.
    #[error("$INCLUDE {path:?} refused: {}", include_refusal_text(*.refusal))]
    IncludeRefused {
        path: String,
        refusal: IncludeRefusal,
    },

    // ---- Master-file syntax (RFC 1035 §5.1).
    /// A `(` without its `)` before the end of the file.
    #[error("unbalanced parentheses: '(' is never closed")]
    UnclosedParenthesis,
    /// A `)` without a `(` before it.
    #[error("unbalanced parentheses: ')' without '('")]
    UnexpectedCloseParenthesis,
    /// A `"` without its closing `"` on the same line.
    #[error("unbalanced quotes: quoted string not closed on its line")]
    UnterminatedQuote,
    /// A `$` directive this parser does not know.
    #[error("unknown directive {0}")]
    UnknownDirective(String),
    /// A BIND extension this parser deliberately does not implement.
    #[error("unsupported directive {0}")]
    UnsupportedDirective(String),
    /// A directive with missing or extra arguments.
    #[error("{directive}: expected {expected}")]
    DirectiveArguments {
        directive: &'static str,
        expected: &'static str,
    },
    /// A record that starts with white space (inheriting the owner) before any owner was given.
    #[error("no current owner name: the first record needs an owner")]
    NoOwner,
    /// A record with no TTL, no `$TTL` before it, no earlier TTL, and not an SOA.
    #[error("no TTL specified")]
    NoTtl,
    /// Warning: no `$TTL` and no TTL before an SOA without one; BIND's rule takes the SOA
    /// minimum field as this record's TTL and as the default from here on.
    #[error("no TTL specified; using the SOA minimum {0} instead")]
    TtlFromSoaMinimum(u32),
    /// Warning: no `$TTL`, so a record without a TTL takes the previous record's (RFC 1035 §5.1).
    #[error("no TTL and no $TTL: using the previous record's TTL {0} (RFC 1035 §5.1 semantics)")]
    TtlFromPreviousRecord(u32),
    /// A TTL that is neither seconds nor BIND units (`1h30m`), or exceeds 32 bits.
    #[error("bad TTL {0:?}")]
    BadTtl(String),
    /// Two TTLs or two classes in one record.
    #[error("{0} given twice")]
    Repeated(&'static str),
    /// A record whose class is not the zone's.
    #[error("class {found} differs from the zone's class {zone}")]
    ClassMismatch { found: Class, zone: Class },
    /// A record type that is not known and not written `TYPEnnn` (RFC 3597 §5).
    #[error("unknown RR type {0:?}")]
    UnknownType(String),
    /// A record that ends before its type.
    #[error("missing record type")]
    MissingType,
    /// An owner name or `$ORIGIN` that is not a valid domain name.
    #[error("bad name: {0}")]
    BadName(TextError),
    /// RDATA that does not parse for its type.
    #[error("bad RDATA: {0}")]
    BadRdata(TextError),
    /// Quoted text where a name, TTL, class or type belongs.
    #[error("unexpected quoted string \"{0}\"")]
    UnexpectedQuoted(String),
    /// More records than one zone can hold (2^32 - 1).
    #[error("too many records for one zone")]
    TooManyRecords,
    /// The parser stopped after this many errors.
    #[error("too many errors ({0}); stopped")]
    TooManyErrors(usize),

    // ---- TOML and JSON documents.
    /// The document does not fit the format (syntax, unknown key, wrong value type).
    #[error("{0}")]
    Document(String),
    /// The document is for another zone than the one being checked or loaded.
    #[error("the document is for zone {found}, not {expected}")]
    WrongZone { expected: Name, found: Name },

    // ---- Zone contents (RFC 1034, RFC 2181, RFC 6672).
    /// More than one TTL in one RRset (RFC 2181 §5.2); the first is kept.
    #[error("TTL {found} differs from the RRset's TTL {kept}; {kept} is used")]
    TtlMismatch { kept: u32, found: u32 },
    /// A TTL above 2^31 - 1 (RFC 2181 §8).
    #[error("TTL {0} exceeds 2147483647 (RFC 2181 §8)")]
    TtlTooLarge(u32),
    /// No SOA record at the apex (RFC 1035 §5.2).
    #[error("the zone has no SOA record at its apex")]
    NoSoa,
    /// More than one SOA record (RFC 1035 §5.2: exactly one).
    #[error("the zone has {0} SOA records; it must have exactly one")]
    MultipleSoa(usize),
    /// An SOA record below the apex.
    #[error("SOA record not at the top of the zone")]
    SoaNotAtApex,
    /// No NS records at the apex (RFC 1035 §5.2).
    #[error("the zone has no NS records at its apex")]
    NoApexNs,
    /// A CNAME beside other data (RFC 1034 §3.6.2, RFC 2181 §10.1); RRSIG and NSEC are allowed.
    #[error("CNAME and other data: the name also has {other} records")]
    CnameAndOtherData { other: RType },
    /// More than one record in a singleton RRset (CNAME RFC 2181 §10.1, DNAME RFC 6672 §2.4).
    #[error("{count} {rtype} records at one name; only one is allowed")]
    MultipleSingleton { rtype: RType, count: usize },
    /// A name below a DNAME owner (RFC 6672 §2.3: such records MUST NOT exist).
    #[error("data below the DNAME at {dname} (RFC 6672 §2.3)")]
    BelowDname { dname: Name },
    /// A name outside the zone's origin.
    #[error("out-of-zone data: not at or below {origin}")]
    OutOfZone { origin: Name },
    /// An NS, MX or SRV target that is a CNAME (RFC 2181 §10.3).
    #[error("{rtype} target {target} is a CNAME (illegal, RFC 2181 §10.3)")]
    TargetIsCname { rtype: RType, target: Name },
    /// An in-zone NS, MX or SRV target with no A or AAAA record.
    #[error("{rtype} target {target} has no address records (A or AAAA)")]
    TargetHasNoAddress { rtype: RType, target: Name },
    /// A name server below a zone cut with no glue (RFC 1034 §4.2.1).
    #[error("NS target {target} is below the zone cut at {cut} and has no glue (A or AAAA)")]
    MissingGlue { target: Name, cut: Name },
    /// Data below a delegation that is not glue, never served (RFC 1034 §4.2.1).
    #[error(
        "occluded by the delegation at {cut}: not served (only glue belongs below a zone cut)"
    )]
    Occluded { cut: Name },
}

fn include_refusal_text(refusal: IncludeRefusal) -> &'static str {
    match refusal {
        IncludeRefusal::AbsolutePath => "absolute paths are not allowed",
        IncludeRefusal::EscapesDirectory => "the path leaves the zone file's directory",
        IncludeRefusal::SymlinkEscapes => "a symbolic link leads outside the zone file's directory",
        IncludeRefusal::TooDeep => "includes nest too deeply (an include loop?)",
        IncludeRefusal::NoDirectory => "text given without a file has no directory to include from",
    }
}

impl Problem {
    /// What to do about it, in one sentence.
    pub fn hint(&self) -> &'static str {
        match self {
            Problem::Read { .. } => "check the path and the file's permissions",
            Problem::NotUtf8 { .. } => "write octets outside ASCII as \\DDD escapes (RFC 1035 §5.1)",
            Problem::IncludeRefused { refusal, .. } => match refusal {
                IncludeRefusal::AbsolutePath
                | IncludeRefusal::EscapesDirectory
                | IncludeRefusal::SymlinkEscapes => {
                    "give a path relative to the zone file's directory, and keep included files inside it"
                }
                IncludeRefusal::TooDeep => "check whether an included file includes itself",
                IncludeRefusal::NoDirectory => "parse the zone from a file, or inline the included records",
            },
            Problem::UnclosedParenthesis => "close the '(' that opened this record",
            Problem::UnexpectedCloseParenthesis => "remove the ')' or add the '(' it closes",
            Problem::UnterminatedQuote => "close the string with '\"' on the same line; write a literal quote as \\\"",
            Problem::UnknownDirective(_) => "the directives are $ORIGIN, $TTL and $INCLUDE (RFC 1035 §5.1, RFC 2308 §4)",
            Problem::UnsupportedDirective(_) => "expand the directive into plain records",
            Problem::DirectiveArguments { .. } => "see RFC 1035 §5.1 for the directive's form",
            Problem::NoOwner => "start the first record in column 1 with its owner name (or @)",
            Problem::NoTtl => "add `$TTL <seconds>` at the top of the file, or give this record a TTL",
            Problem::TtlFromSoaMinimum(_) | Problem::TtlFromPreviousRecord(_) => {
                "add `$TTL <seconds>` at the top of the file (RFC 2308 §4)"
            }
            Problem::BadTtl(_) => "write seconds (3600) or units w, d, h, m, s (1h30m), at most 4294967295 s",
            Problem::Repeated(_) => "give at most one TTL and one class before the type",
            Problem::ClassMismatch { .. } => "records must have the zone's class (usually IN)",
            Problem::UnknownType(_) => "use a type mnemonic, or TYPEnnn with \\# generic RDATA (RFC 3597 §5)",
            Problem::MissingType => "write `owner [ttl] [class] type rdata`",
            Problem::BadName(_) => {
                "labels are at most 63 octets and names 255; escape special characters as \\. or \\DDD"
            }
            Problem::BadRdata(_) => {
                "fix the RDATA for this type, or write it in the generic form `\\# <length> <hex>` (RFC 3597 §5)"
            }
            Problem::UnexpectedQuoted(_) => "remove the quotes; only character strings are quoted",
            Problem::TooManyRecords => "split the data into several zones",
            Problem::TooManyErrors(_) => "fix the errors above and check again",
            Problem::Document(_) => "see the format description in the nebula-store `format` module",
            Problem::WrongZone { .. } => "check the zone name given on the command line and in the document",
            Problem::TtlMismatch { .. } => "give every record of an RRset the same TTL (RFC 2181 §5.2)",
            Problem::TtlTooLarge(_) => "use a TTL of at most 2147483647 seconds; one day (86400) is typical",
            Problem::NoSoa => "add an SOA record at the apex (@)",
            Problem::MultipleSoa(_) => "keep exactly one SOA record at the apex",
            Problem::SoaNotAtApex => "move the SOA to the apex (@), or make this name its own zone",
            Problem::NoApexNs => "add NS records at the apex (@) naming the zone's servers",
            Problem::CnameAndOtherData { .. } => {
                "a CNAME must be alone at its name: remove the other records or the CNAME"
            }
            Problem::MultipleSingleton { .. } => "keep one record of this type at this name",
            Problem::BelowDname { .. } => "remove the records below the DNAME; the DNAME redirects that subtree",
            Problem::OutOfZone { .. } => {
                "names without a trailing dot are relative to $ORIGIN; move this record to its own zone"
            }
            Problem::TargetIsCname { .. } => "point at the canonical name instead of the alias",
            Problem::TargetHasNoAddress { .. } => "add an A or AAAA record for the target, or fix the target name",
            Problem::MissingGlue { .. } => "add A or AAAA glue records for the name server below the zone cut",
            Problem::Occluded { .. } => {
                "remove the record, or serve it from the child zone; only glue belongs below a delegation"
            }
        }
    }

    /// A stable, machine-friendly name for the problem (for tests, metrics and API clients).
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Read { .. } => "read",
            Problem::NotUtf8 { .. } => "not_utf8",
            Problem::IncludeRefused { .. } => "include_refused",
            Problem::UnclosedParenthesis => "unclosed_parenthesis",
            Problem::UnexpectedCloseParenthesis => "unexpected_close_parenthesis",
            Problem::UnterminatedQuote => "unterminated_quote",
            Problem::UnknownDirective(_) => "unknown_directive",
            Problem::UnsupportedDirective(_) => "unsupported_directive",
            Problem::DirectiveArguments { .. } => "directive_arguments",
            Problem::NoOwner => "no_owner",
            Problem::NoTtl => "no_ttl",
            Problem::TtlFromSoaMinimum(_) => "ttl_from_soa_minimum",
            Problem::TtlFromPreviousRecord(_) => "ttl_from_previous_record",
            Problem::BadTtl(_) => "bad_ttl",
            Problem::Repeated(_) => "repeated",
            Problem::ClassMismatch { .. } => "class_mismatch",
            Problem::UnknownType(_) => "unknown_type",
            Problem::MissingType => "missing_type",
            Problem::BadName(_) => "bad_name",
            Problem::BadRdata(_) => "bad_rdata",
            Problem::UnexpectedQuoted(_) => "unexpected_quoted",
            Problem::TooManyRecords => "too_many_records",
            Problem::TooManyErrors(_) => "too_many_errors",
            Problem::Document(_) => "document",
            Problem::WrongZone { .. } => "wrong_zone",
            Problem::TtlMismatch { .. } => "ttl_mismatch",
            Problem::TtlTooLarge(_) => "ttl_too_large",
            Problem::NoSoa => "no_soa",
            Problem::MultipleSoa(_) => "multiple_soa",
            Problem::SoaNotAtApex => "soa_not_at_apex",
            Problem::NoApexNs => "no_apex_ns",
            Problem::CnameAndOtherData { .. } => "cname_and_other_data",
            Problem::MultipleSingleton { .. } => "multiple_singleton",
            Problem::BelowDname { .. } => "below_dname",
            Problem::OutOfZone { .. } => "out_of_zone",
            Problem::TargetIsCname { .. } => "target_is_cname",
            Problem::TargetHasNoAddress { .. } => "target_has_no_address",
            Problem::MissingGlue { .. } => "missing_glue",
            Problem::Occluded { .. } => "occluded",
        }
    }
}

/// A problem, how bad it is, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Option<Location>,
    /// The owner name of the record or RRset concerned, when known.
    pub owner: Option<Name>,
    /// The type of the record or RRset concerned, when known.
    pub rtype: Option<RType>,
    /// The record as written in the source (one line, shortened), when there is one.
    pub record: Option<String>,
    pub problem: Problem,
}

impl Diagnostic {
    pub fn error(problem: Problem) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            location: None,
            owner: None,
            rtype: None,
            record: None,
            problem,
        }
    }

    pub fn warning(problem: Problem) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(problem)
        }
    }

    pub fn at(mut self, location: Option<Location>) -> Diagnostic {
        self.location = location;
        self
    }

    pub fn owner(mut self, owner: &Name, rtype: Option<RType>) -> Diagnostic {
        self.owner = Some(owner.clone());
        self.rtype = rtype;
        self
    }

    pub fn record(mut self, text: Option<String>) -> Diagnostic {
        self.record = text;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `location: severity: owner/TYPE: message`. The record text and the hint are
    /// left to the caller ([`Diagnostic::record`], [`Problem::hint`]) so the line stays greppable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}: ", self.severity)?;
        match (&self.owner, self.rtype) {
            (Some(owner), Some(rtype)) => write!(f, "{owner}/{rtype}: ")?,
            (Some(owner), None) => write!(f, "{owner}: ")?,
            _ => {}
        }
        write!(f, "{}", self.problem)
    }
}

/// Every diagnostic of a zone that did not load: at least one error, and the warnings met on
/// the way, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} in zone data{}", plural(self.error_count(), "error"), first_error(self))]
pub struct ZoneErrors {
    pub diagnostics: Vec<Diagnostic>,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn first_error(errors: &ZoneErrors) -> String {
    errors
        .errors()
        .next()
        .map(|d| format!("; first: {d}"))
        .unwrap_or_default()
}

impl ZoneErrors {
    /// A single error.
    pub fn one(diagnostic: Diagnostic) -> ZoneErrors {
        ZoneErrors {
            diagnostics: vec![diagnostic],
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    #[test]
    fn diagnostic_line_is_greppable() {
        let owner: Name = "www.example.com.".parse().unwrap();
        let d = Diagnostic::error(Problem::MultipleSingleton {
            rtype: RType::CNAME,
            count: 2,
        })
        .at(Some(Location::Line {
            file: "db.example".into(),
            line: 7,
            column: 0,
        }))
        .owner(&owner, Some(RType::CNAME));
        assert_eq!(
            d.to_string(),
            "db.example:7: error: www.example.com./CNAME: 2 CNAME records at one name; only one is allowed"
        );
        let w = Diagnostic::warning(Problem::TtlMismatch {
            kept: 300,
            found: 600,
        })
        .at(Some(Location::Record {
            file: "zone.toml".into(),
            index: 3,
        }));
        assert_eq!(
            w.to_string(),
            "zone.toml: record 3: warning: TTL 600 differs from the RRset's TTL 300; 300 is used"
        );
    }

    #[test]
    fn zone_errors_summarise() {
        let errors = ZoneErrors {
            diagnostics: vec![
                Diagnostic::warning(Problem::NoApexNs),
                Diagnostic::error(Problem::NoSoa),
                Diagnostic::error(Problem::NoTtl),
            ],
        };
        assert_eq!(errors.error_count(), 2);
        assert_eq!(errors.warning_count(), 1);
        assert_eq!(
            errors.to_string(),
            "2 errors in zone data; first: error: the zone has no SOA record at its apex"
        );
    }

    #[test]
    fn every_problem_has_a_hint_and_code() {
        for p in [
            Problem::NoSoa,
            Problem::NoTtl,
            Problem::UnterminatedQuote,
            Problem::TtlTooLarge(u32::MAX),
        ] {
            assert!(!p.hint().is_empty());
            assert!(p
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}

//! RFC 1035 §5 master files ("zone files") into a [`Zone`], fast and with every error at once.
//!
//! Supported: `$ORIGIN`, `$TTL` (RFC 2308 §4), `$INCLUDE file [origin]`, relative names and `@`,
//! parentheses spanning lines, `;` comments, quoted strings, `\DDD` and `\X` escapes, an owner
//! inherited by a record that starts with white space, TTL and class in either order, TTL units
//! (`1h30m`, BIND's extension), and RFC 3597 §5 unknown types and classes (`TYPE65534`,
//! `CLASS1`, `\# 3 abcdef`). RDATA goes to [`RData::from_tokens`] whatever its type.
//!
//! # TTLs without `$TTL` (BIND's behaviour, chosen deliberately)
//!
//! A record's TTL is, in this order: its own; the `$TTL` in force; the previous record's TTL
//! (RFC 1035 §5.1 semantics, with a warning); for an SOA record when none of these exists, the
//! SOA minimum field, which then also becomes the default for the records after it (a warning,
//! as BIND's "no TTL specified; using SOA MINTTL instead"); otherwise the record is an error
//! ("no TTL specified"). `$TTL` and the last TTL carry across `$INCLUDE` boundaries as in BIND.
//!
//! # `$INCLUDE`
//!
//! Paths are relative to the directory of the zone file given to [`parse_file`] (BIND takes them
//! relative to its working directory, which `named-checkzone -w` sets; nested includes use the
//! same base). Absolute paths, `..` components that climb out of that directory and symbolic
//! links that lead out of it are refused with [`Problem::IncludeRefused`], and includes nest at
//! most [`Options::max_include_depth`] deep. The optional origin applies to the included file
//! only; afterwards the including file's origin and current owner are restored (RFC 1035 §5.1).
//! The included file starts with the including file's current owner, as in BIND.
//!
//! # Speed and memory
//!
//! Each file is read once into one string and lexed in one pass over its bytes. Tokens borrow
//! their text from that string, and one token vector is reused for every record, so lexing
//! allocates nothing per record; the allocations left are the owner name (only when it changes)
//! and the RDATA itself. Records are collected in a flat vector and sorted once into canonical
//! order (owners ranked by a precomputed byte key, see [`ZoneBuilder`]), so building the zone's
//! map is linear instead of a tree descent per record.
//!
//! # Errors
//!
//! Parsing goes on after a bad record, as `named-checkzone` does, and every error is returned
//! with its file, line and column, the record's text and a hint, up to
//! [`Options::max_errors`].

use std::collections::HashSet;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nebula_wire::text::{parse_ttl, Token};
use nebula_wire::{Class, Name, RData, RType};

use crate::error::{Diagnostic, IncludeRefusal, Location, Problem, Severity, ZoneErrors};
use crate::zone::{Rrset, Zone};

/// Knobs of the master-file parser.
#[derive(Debug, Clone)]
pub struct Options {
    /// The zone's class; records of another class are errors.
    pub class: Class,
    /// Stop after this many errors (at least 1).
    pub max_errors: usize,
    /// How deep `$INCLUDE`s may nest (the zone file itself is depth 0).
    pub max_include_depth: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            class: Class::IN,
            max_errors: 100,
            max_include_depth: 8,
        }
    }
}

/// A parsed zone with where its data came from and the warnings met on the way.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub zone: Zone,
    /// The source position of each RRset's first record, for validation messages.
    pub sources: SourceMap,
    /// Warnings (a parse with errors returns [`ZoneErrors`] instead).
    pub warnings: Vec<Diagnostic>,
}

/// Where each RRset of a parsed zone came from: a compact table in [`Zone::rrsets`] order.
///
/// It describes the zone as parsed; after the zone is changed the indices no longer match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    files: Vec<Arc<str>>,
    /// True when positions are record indices of a TOML or JSON document, not lines.
    by_record: bool,
    positions: Vec<Position>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    file: u32,
    /// A line number, or a record index (both from 1).
    line: u32,
}

impl SourceMap {
    /// Where the first record of the `index`-th RRset (counting in [`Zone::rrsets`] order) was.
    pub fn location(&self, index: usize) -> Option<Location> {
        let position = self.positions.get(index)?;
        let file = self.files.get(position.file as usize)?.clone();
        Some(if self.by_record {
            Location::Record {
                file,
                index: position.line,
            }
        } else {
            Location::Line {
                file,
                line: position.line,
                column: 0,
            }
        })
    }

    /// The number of RRsets described.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

/// Parses the master file at `path` for the zone `origin`; `$INCLUDE`s are read relative to
/// the file's directory.
pub fn parse_file(path: &Path, origin: &Name) -> Result<Parsed, ZoneErrors> {
    parse_file_with(path, origin, &Options::default())
}

/// [`parse_file`] with options.
pub fn parse_file_with(
    path: &Path,
    origin: &Name,
    options: &Options,
) -> Result<Parsed, ZoneErrors> {
    let display: Arc<str> = path.display().to_string().into();
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let root = fs::canonicalize(&dir)
        .ok()
        .map(|canonical| IncludeRoot { dir, canonical });
    let text = read_text(path, &display).map_err(|d| ZoneErrors::one(*d))?;
    let mut parser = Parser::new(origin, options, root);
    parser.run(&text, display);
    // The text is no longer needed: free it before the zone is built (peak memory).
    drop(text);
    parser.finish()
}

/// Parses master-file text for the zone `origin`; `source` names it in messages. Text without a
/// file has no directory, so `$INCLUDE` is refused.
pub fn parse_str(text: &str, origin: &Name, source: &str) -> Result<Parsed, ZoneErrors> {
    parse_str_with(text, origin, source, &Options::default())
}

/// [`parse_str`] with options.
pub fn parse_str_with(
    text: &str,
    origin: &Name,
    source: &str,
    options: &Options,
) -> Result<Parsed, ZoneErrors> {
    let mut parser = Parser::new(origin, options, None);
    parser.run(text, source.into());
    parser.finish()
}

/// Reads a whole file as UTF-8, or says where it is not.
fn read_text(path: &Path, display: &Arc<str>) -> Result<String, Box<Diagnostic>> {
    let bytes = fs::read(path).map_err(|e| {
        Box::new(
            Diagnostic::error(Problem::Read {
                path: display.to_string(),
                reason: e.to_string(),
            })
            .at(Some(Location::File {
                file: display.clone(),
            })),
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        Box::new(
            Diagnostic::error(Problem::NotUtf8 {
                byte: bytes.get(at).copied().unwrap_or(0),
            })
            .at(Some(Location::Line {
                file: display.clone(),
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(at - line_start + 1).unwrap_or(u32::MAX),
            })),
        )
    })
}

/// The directory `$INCLUDE` paths are taken from, as given (for messages) and resolved.
#[derive(Debug, Clone)]
struct IncludeRoot {
    dir: PathBuf,
    canonical: PathBuf,
}

/// Why an include path could not be opened.
enum IncludeFailure {
    Refused(IncludeRefusal),
    Missing(String),
}

/// Resolves an `$INCLUDE` path inside `root`: returns the path to read and the one to show.
fn resolve_include(root: &IncludeRoot, text: &str) -> Result<(PathBuf, PathBuf), IncludeFailure> {
    let path = Path::new(text);
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !relative.pop() {
                    return Err(IncludeFailure::Refused(IncludeRefusal::EscapesDirectory));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(IncludeFailure::Refused(IncludeRefusal::AbsolutePath));
            }
        }
    }
    let shown = root.dir.join(&relative);
    let resolved = fs::canonicalize(root.canonical.join(&relative))
        .map_err(|e| IncludeFailure::Missing(format!("{}: {e}", shown.display())))?;
    if !resolved.starts_with(&root.canonical) {
        return Err(IncludeFailure::Refused(IncludeRefusal::SymlinkEscapes));
    }
    Ok((resolved, shown))
}

// ---------------------------------------------------------------------------------------------
// Lexer (RFC 1035 §5.1).

/// Bytes that end an unquoted token.
static DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    let delimiters = *b" \t\r\n;()\"";
    let mut i = 0;
    while i < delimiters.len() {
        table[delimiters[i] as usize] = true;
        i += 1;
    }
    table
};

/// One record or directive: its tokens are in the caller's vectors.
#[derive(Debug)]
struct Entry {
    /// Byte range in the text, from the start of its first line to after its last newline.
    start: usize,
    end: usize,
    /// The line it starts on.
    line: u32,
    /// It starts with white space: the owner is the previous record's (RFC 1035 §5.1).
    inherited_owner: bool,
    /// A lexical error, and the byte offset it is at.
    error: Option<(Problem, usize)>,
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        // A byte order mark is not part of the first owner name.
        let pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            text,
            bytes: text.as_bytes(),
            pos,
            line: 1,
        }
    }

    /// Reads the next entry's tokens (and their byte offsets) into `tokens` and `starts`,
    /// skipping blank and comment-only lines. `None` at the end of the text.
    fn next_entry(
        &mut self,
        tokens: &mut Vec<Token<'a>>,
        starts: &mut Vec<usize>,
    ) -> Option<Entry> {
        let bytes = self.bytes;
        loop {
            if self.pos >= bytes.len() {
                return None;
            }
            tokens.clear();
            starts.clear();
            let start = self.pos;
            let line = self.line;
            let inherited_owner = matches!(bytes[start], b' ' | b'\t');
            let mut depth = 0u32;
            let mut opened_at = 0usize;
            let mut error: Option<(Problem, usize)> = None;
            loop {
                let Some(&c) = bytes.get(self.pos) else {
                    if depth > 0 && error.is_none() {
                        error = Some((Problem::UnclosedParenthesis, opened_at));
                    }
                    break;
                };
                match c {
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b';' => {
                        self.pos = bytes[self.pos..]
                            .iter()
                            .position(|&b| b == b'\n')
                            .map_or(bytes.len(), |p| self.pos + p);
                    }
                    b'(' => {
                        if depth == 0 {
                            opened_at = self.pos;
                        }
                        depth += 1;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            error.get_or_insert((Problem::UnexpectedCloseParenthesis, self.pos));
                        } else {
                            depth -= 1;
                        }
                        self.pos += 1;
                    }
                    b'"' => {
                        let open = self.pos;
                        let first = open + 1;
                        let mut end = first;
                        let closed = loop {
                            match bytes.get(end) {
                                None | Some(b'\n') => break false,
                                Some(b'"') => break true,
                                // An escape covers the next byte, but never the end of the line.
                                Some(b'\\') if bytes.get(end + 1).is_some_and(|&b| b != b'\n') => {
                                    end += 2
                                }
                                Some(_) => end += 1,
                            }
                        };
                        let end = end.min(bytes.len());
                        if !closed {
                            error.get_or_insert((Problem::UnterminatedQuote, open));
                        }
                        tokens.push(Token {
                            text: &self.text[first..end],
                            quoted: true,
                        });
                        starts.push(open);
                        self.pos = if closed { end + 1 } else { end };
                    }
                    _ => {
                        let first = self.pos;
                        let mut end = first;
                        while let Some(&b) = bytes.get(end) {
                            if b == b'\\' {
                                end += 1;
                                if bytes.get(end).is_some_and(|&b| b != b'\n') {
                                    end += 1;
                                }
                                continue;
                            }
                            if DELIMITER[usize::from(b)] {
                                break;
                            }
                            end += 1;
                        }
                        let end = end.min(bytes.len());
                        tokens.push(Token {
                            text: &self.text[first..end],
                            quoted: false,
                        });
                        starts.push(first);
                        self.pos = end;
                    }
                }
            }
            if tokens.is_empty() && error.is_none() {
                continue;
            }
            return Some(Entry {
                start,
                end: self.pos,
                line,
                inherited_owner,
                error,
            });
        }
    }
}

/// The line and column (from 1) of byte `offset`, which lies inside `entry`.
fn line_and_column(text: &str, entry: &Entry, offset: usize) -> (u32, u32) {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let from = entry.start.min(offset);
    let newlines = bytes[from..offset].iter().filter(|&&b| b == b'\n').count();
    let line_start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line = u64::from(entry.line) + newlines as u64;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(offset - line_start + 1).unwrap_or(u32::MAX),
    )
}

/// The entry's source text on one line, white space runs collapsed, at most 160 characters.
fn record_text(text: &str, entry: &Entry) -> String {
    const MAX_CHARS: usize = 160;
    let raw = text.get(entry.start..entry.end).unwrap_or("");
    let mut out = String::new();
    for word in raw.split_ascii_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if let Some((cut, _)) = out.char_indices().nth(MAX_CHARS) {
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// The common record types, matched without the generic lookup (this is the hot path).
fn record_type(text: &str) -> Option<RType> {
    Some(match text.as_bytes() {
        b"A" | b"a" => RType::A,
        b"AAAA" | b"aaaa" => RType::AAAA,
        b"NS" | b"ns" => RType::NS,
        b"CNAME" | b"cname" => RType::CNAME,
        b"MX" | b"mx" => RType::MX,
        b"TXT" | b"txt" => RType::TXT,
        b"SOA" | b"soa" => RType::SOA,
        b"PTR" | b"ptr" => RType::PTR,
        b"SRV" | b"srv" => RType::SRV,
        _ => return RType::from_text(text),
    })
}

fn record_class(text: &str) -> Option<Class> {
    if text.eq_ignore_ascii_case("IN") {
        return Some(Class::IN);
    }
    Class::from_text(text)
}

// ---------------------------------------------------------------------------------------------
// Parser.

/// The current owner of a file, for records that inherit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// No record has named an owner yet.
    Unset,
    /// The owner, by its id in the builder.
    Known(u32),
    /// The last owner name was bad: records inheriting it are checked but not kept.
    Bad,
}

/// Per-file state; `$INCLUDE` starts a new one and the including file's resumes after it.
struct FileState<'a> {
    file: u32,
    name: Arc<str>,
    text: &'a str,
    origin: Name,
    /// The owner id of `@` under the current origin, once used.
    apex_owner: Option<u32>,
    owner: Owner,
    /// The owner token last parsed, to skip re-parsing a repeated owner.
    owner_text: Option<&'a str>,
    depth: usize,
}

struct Parser {
    options: Options,
    root: Option<IncludeRoot>,
    builder: ZoneBuilder,
    diagnostics: Vec<Diagnostic>,
    errors: usize,
    stopped: bool,
    /// `$TTL` (RFC 2308 §4), or the SOA minimum when BIND's rule applied.
    default_ttl: Option<u32>,
    /// The last TTL given explicitly (RFC 1035 §5.1).
    last_ttl: Option<u32>,
    warned_previous_ttl: bool,
}

impl Parser {
    fn new(origin: &Name, options: &Options, root: Option<IncludeRoot>) -> Parser {
        Parser {
            options: Options {
                max_errors: options.max_errors.max(1),
                ..options.clone()
            },
            root,
            builder: ZoneBuilder::new(origin.clone(), options.class, false),
            diagnostics: Vec::new(),
            errors: 0,
            stopped: false,
            default_ttl: None,
            last_ttl: None,
            warned_previous_ttl: false,
        }
    }

    fn run(&mut self, text: &str, name: Arc<str>) {
        let file = self.builder.add_file(name.clone());
        let mut state = FileState {
            file,
            name,
            text,
            origin: self.builder.origin().clone(),
            apex_owner: None,
            owner: Owner::Unset,
            owner_text: None,
            depth: 0,
        };
        self.run_file(&mut state);
    }

    fn finish(self) -> Result<Parsed, ZoneErrors> {
        let mut diagnostics = self.diagnostics;
        if self.errors > 0 {
            return Err(ZoneErrors { diagnostics });
        }
        let (zone, sources, warnings) = self.builder.finish();
        diagnostics.extend(warnings);
        Ok(Parsed {
            zone,
            sources,
            warnings: diagnostics,
        })
    }

    fn run_file<'a>(&mut self, state: &mut FileState<'a>) {
        // About one record a line: reserving once avoids regrowing a huge vector.
        let lines = state.text.bytes().filter(|&b| b == b'\n').count();
        self.builder.reserve(lines);
        let mut lexer = Lexer::new(state.text);
        let mut tokens: Vec<Token<'a>> = Vec::with_capacity(16);
        let mut starts: Vec<usize> = Vec::with_capacity(16);
        while !self.stopped {
            let Some(entry) = lexer.next_entry(&mut tokens, &mut starts) else {
                break;
            };
            self.entry(state, &tokens, &starts, &entry);
        }
    }

    /// Records a diagnostic at byte `offset` of `entry`.
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        severity: Severity,
        state: &FileState<'_>,
        entry: &Entry,
        offset: usize,
        problem: Problem,
        owner: Option<u32>,
        rtype: Option<RType>,
    ) {
        if self.stopped {
            return;
        }
        let (line, column) = line_and_column(state.text, entry, offset);
        self.diagnostics.push(Diagnostic {
            severity,
            location: Some(Location::Line {
                file: state.name.clone(),
                line,
                column,
            }),
            owner: owner.and_then(|id| self.builder.owner_name(id)),
            rtype,
            record: Some(record_text(state.text, entry)),
            problem,
        });
        if severity == Severity::Error {
            self.errors += 1;
            if self.errors >= self.options.max_errors {
                self.diagnostics
                    .push(Diagnostic::error(Problem::TooManyErrors(self.errors)));
                self.stopped = true;
            }
        }
    }

    fn owned_error(
        &mut self,
        owner: Option<u32>,
        state: &FileState<'_>,
        entry: &Entry,
        offset: usize,
        problem: Problem,
    ) {
        self.report(Severity::Error, state, entry, offset, problem, owner, None);
    }

    fn error(&mut self, state: &FileState<'_>, entry: &Entry, offset: usize, problem: Problem) {
        self.report(Severity::Error, state, entry, offset, problem, None, None);
    }

    fn entry<'a>(
        &mut self,
        state: &mut FileState<'a>,
        tokens: &[Token<'a>],
        starts: &[usize],
        entry: &Entry,
    ) {
        if let Some((problem, offset)) = &entry.error {
            self.error(state, entry, *offset, problem.clone());
            return;
        }
        let Some(first) = tokens.first() else { return };
        if !entry.inherited_owner && !first.quoted && first.text.starts_with('$') {
            self.directive(state, tokens, starts, entry);
            return;
        }

        // Owner.
        let mut index = 0usize;
        let owner = if entry.inherited_owner {
            match state.owner {
                Owner::Known(id) => Some(id),
                Owner::Bad => None,
                Owner::Unset => {
                    self.error(state, entry, starts[0], Problem::NoOwner);
                    return;
                }
            }
        } else {
            index = 1;
            match self.owner_id(state, first.text) {
                Ok(id) => Some(id),
                Err(e) => {
                    self.error(state, entry, starts[0], Problem::BadName(e));
                    None
                }
            }
        };

        // TTL and class, in either order (RFC 1035 §5.1).
        let mut ttl: Option<u32> = None;
        let mut class: Option<Class> = None;
        while let Some(token) = tokens.get(index) {
            if token.quoted {
                break;
            }
            if token
                .text
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_digit)
            {
                if ttl.is_some() {
                    self.owned_error(owner, state, entry, starts[index], Problem::Repeated("TTL"));
                    return;
                }
                match parse_ttl(token.text) {
                    Some(value) => ttl = Some(value),
                    None => {
                        self.owned_error(
                            owner,
                            state,
                            entry,
                            starts[index],
                            Problem::BadTtl(token.text.to_owned()),
                        );
                        return;
                    }
                }
            } else if let Some(value) = record_class(token.text) {
                if class.is_some() {
                    self.owned_error(
                        owner,
                        state,
                        entry,
                        starts[index],
                        Problem::Repeated("class"),
                    );
                    return;
                }
                class = Some(value);
            } else {
                break;
            }
            index += 1;
        }

        // Type.
        let Some(type_token) = tokens.get(index) else {
            let at = starts.last().copied().unwrap_or(entry.start);
            self.report(
                Severity::Error,
                state,
                entry,
                at,
                Problem::MissingType,
                owner,
                None,
            );
            return;
        };
        if type_token.quoted {
            self.owned_error(
                owner,
                state,
                entry,
                starts[index],
                Problem::UnexpectedQuoted(type_token.text.to_owned()),
            );
            return;
        }
        let Some(rtype) = record_type(type_token.text) else {
            self.report(
                Severity::Error,
                state,
                entry,
                starts[index],
                Problem::UnknownType(type_token.text.to_owned()),
                owner,
                None,
            );
            return;
        };
        if let Some(class) = class.filter(|&c| c != self.options.class) {
            let problem = Problem::ClassMismatch {
                found: class,
                zone: self.options.class,
            };
            let at = starts[tokens
                .iter()
                .position(|t| record_class(t.text) == Some(class))
                .unwrap_or(0)];
            self.report(
                Severity::Error,
                state,
                entry,
                at,
                problem,
                owner,
                Some(rtype),
            );
            return;
        }

        // RDATA.
        let rdata_tokens = &tokens[index + 1..];
        let rdata = match RData::from_tokens(rtype, rdata_tokens, Some(&state.origin)) {
            Ok(rdata) => rdata,
            Err(e) => {
                let at = bad_token_offset(&e, rdata_tokens, &starts[index + 1..])
                    .unwrap_or(starts[index]);
                self.report(
                    Severity::Error,
                    state,
                    entry,
                    at,
                    Problem::BadRdata(e),
                    owner,
                    Some(rtype),
                );
                return;
            }
        };

        // TTL rules: see the module documentation.
        let ttl = match (ttl, self.default_ttl, self.last_ttl) {
            (Some(ttl), _, _) => {
                self.last_ttl = Some(ttl);
                ttl
            }
            (None, Some(default), _) => default,
            (None, None, Some(last)) => {
                if !self.warned_previous_ttl {
                    self.warned_previous_ttl = true;
                    let at = starts[0];
                    self.report(
                        Severity::Warning,
                        state,
                        entry,
                        at,
                        Problem::TtlFromPreviousRecord(last),
                        owner,
                        Some(rtype),
                    );
                }
                last
            }
            (None, None, None) => match &rdata {
                RData::Soa(soa) => {
                    let minimum = soa.minimum;
                    self.default_ttl = Some(minimum);
                    self.last_ttl = Some(minimum);
                    let at = starts[0];
                    self.report(
                        Severity::Warning,
                        state,
                        entry,
                        at,
                        Problem::TtlFromSoaMinimum(minimum),
                        owner,
                        Some(rtype),
                    );
                    minimum
                }
                _ => {
                    self.report(
                        Severity::Error,
                        state,
                        entry,
                        starts[0],
                        Problem::NoTtl,
                        owner,
                        Some(rtype),
                    );
                    return;
                }
            },
        };

        if let Some(owner) = owner {
            if !self.builder.push(owner, ttl, rdata, state.file, entry.line) {
                self.error(state, entry, starts[0], Problem::TooManyRecords);
                self.stopped = true;
            }
        }
    }

    /// The builder id of an owner token, parsing it only when it differs from the last one.
    fn owner_id<'a>(
        &mut self,
        state: &mut FileState<'a>,
        text: &'a str,
    ) -> Result<u32, nebula_wire::TextError> {
        if state.owner_text == Some(text) {
            if let Owner::Known(id) = state.owner {
                return Ok(id);
            }
        }
        let parsed = if text == "@" {
            match state.apex_owner {
                Some(id) => Ok(id),
                None => {
                    let id = self.builder.add_owner(&state.origin);
                    state.apex_owner = Some(id);
                    Ok(id)
                }
            }
        } else {
            Name::from_text(text, Some(&state.origin)).map(|name| self.builder.add_owner(&name))
        };
        match parsed {
            Ok(id) => {
                state.owner = Owner::Known(id);
                state.owner_text = Some(text);
                Ok(id)
            }
            Err(e) => {
                state.owner = Owner::Bad;
                state.owner_text = None;
                Err(e)
            }
        }
    }

    fn directive<'a>(
        &mut self,
        state: &mut FileState<'a>,
        tokens: &[Token<'a>],
        starts: &[usize],
        entry: &Entry,
    ) {
        let directive = tokens[0].text;
        let arguments = &tokens[1..];
        if directive.eq_ignore_ascii_case("$ORIGIN") {
            let [argument] = arguments else {
                let problem = Problem::DirectiveArguments {
                    directive: "$ORIGIN",
                    expected: "one domain name",
                };
                self.error(state, entry, starts[0], problem);
                return;
            };
            match directive_name(argument.text, &state.origin) {
                Ok(origin) => {
                    state.origin = origin;
                    state.apex_owner = None;
                    state.owner_text = None;
                }
                Err(e) => self.error(state, entry, starts[1], Problem::BadName(e)),
            }
        } else if directive.eq_ignore_ascii_case("$TTL") {
            let [argument] = arguments else {
                let problem = Problem::DirectiveArguments {
                    directive: "$TTL",
                    expected: "one TTL",
                };
                self.error(state, entry, starts[0], problem);
                return;
            };
            match parse_ttl(argument.text) {
                Some(ttl) => self.default_ttl = Some(ttl),
                None => self.error(
                    state,
                    entry,
                    starts[1],
                    Problem::BadTtl(argument.text.to_owned()),
                ),
            }
        } else if directive.eq_ignore_ascii_case("$INCLUDE") {
            match arguments {
                [path] => self.include(state, entry, starts[1], path.text, None),
                [path, origin] => {
                    let origin = match directive_name(origin.text, &state.origin) {
                        Ok(origin) => origin,
                        Err(e) => {
                            self.error(state, entry, starts[2], Problem::BadName(e));
                            return;
                        }
                    };
                    self.include(state, entry, starts[1], path.text, Some(origin));
                }
                _ => {
                    let problem = Problem::DirectiveArguments {
                        directive: "$INCLUDE",
                        expected: "a file name and an optional origin",
                    };
                    self.error(state, entry, starts[0], problem);
                }
            }
        } else if directive.eq_ignore_ascii_case("$GENERATE") {
            self.error(
                state,
                entry,
                starts[0],
                Problem::UnsupportedDirective(directive.to_owned()),
            );
        } else {
            self.error(
                state,
                entry,
                starts[0],
                Problem::UnknownDirective(directive.to_owned()),
            );
        }
    }

    fn include(
        &mut self,
        state: &FileState<'_>,
        entry: &Entry,
        at: usize,
        path: &str,
        origin: Option<Name>,
    ) {
        if state.depth >= self.options.max_include_depth {
            let problem = Problem::IncludeRefused {
                path: path.to_owned(),
                refusal: IncludeRefusal::TooDeep,
            };
            self.error(state, entry, at, problem);
            return;
        }
        let resolved = match &self.root {
            Some(root) => resolve_include(root, path),
            None => Err(IncludeFailure::Refused(IncludeRefusal::NoDirectory)),
        };
        let (resolved, shown) = match resolved {
            Ok(paths) => paths,
            Err(IncludeFailure::Refused(refusal)) => {
                self.error(
                    state,
                    entry,
                    at,
                    Problem::IncludeRefused {
                        path: path.to_owned(),
                        refusal,
                    },
                );
                return;
            }
            Err(IncludeFailure::Missing(reason)) => {
                self.error(
                    state,
                    entry,
                    at,
                    Problem::Read {
                        path: path.to_owned(),
                        reason,
                    },
                );
                return;
            }
        };
        let name: Arc<str> = shown.display().to_string().into();
        let text = match read_text(&resolved, &name) {
            Ok(text) => text,
            Err(diagnostic) => {
                // Not UTF-8: the location is inside the included file; a read error is here.
                if matches!(diagnostic.problem, Problem::NotUtf8 { .. }) {
                    self.diagnostics.push(*diagnostic);
                    self.errors += 1;
                } else {
                    self.error(state, entry, at, diagnostic.problem);
                }
                return;
            }
        };
        let file = self.builder.add_file(name.clone());
        let mut child = FileState {
            file,
            name,
            text: &text,
            origin: origin.unwrap_or_else(|| state.origin.clone()),
            apex_owner: None,
            owner: state.owner,
            owner_text: None,
            depth: state.depth + 1,
        };
        self.run_file(&mut child);
    }
}

/// A name argument of `$ORIGIN` or `$INCLUDE`, relative to the current origin.
fn directive_name(text: &str, origin: &Name) -> Result<Name, nebula_wire::TextError> {
    if text == "@" {
        return Ok(origin.clone());
    }
    Name::from_text(text, Some(origin))
}

/// The offset of the token an RDATA error names, when one matches.
fn bad_token_offset(
    error: &nebula_wire::TextError,
    tokens: &[Token<'_>],
    starts: &[usize],
) -> Option<usize> {
    use nebula_wire::TextError as E;
    let found = match error {
        E::BadField { found, .. } | E::ExtraField { found, .. } => found.as_str(),
        E::MissingField { .. } => return None,
        _ => return starts.first().copied(),
    };
    tokens
        .iter()
        .position(|t| t.text == found)
        .and_then(|i| starts.get(i).copied())
        .or_else(|| starts.first().copied())
}

// ---------------------------------------------------------------------------------------------
// Building the zone.

/// One record before the zone is built.
#[derive(Debug)]
struct Record {
    rdata: RData,
    /// Owner id (an index into the owner table), replaced by the owner's rank when sorting.
    owner: u32,
    ttl: u32,
    file: u32,
    line: u32,
    /// Input order, which RRsets keep (RFC 2181 §5 leaves it open; BIND keeps it too).
    seq: u32,
    rtype: RType,
}

/// Collects records from any input format and builds the [`Zone`] in one sort.
///
/// Owner names are kept once per change, as wire bytes in one arena (no allocation per name).
/// At the end each distinct owner gets a rank from a byte key whose plain comparison is
/// RFC 4034 §6.1 canonical order (labels right to left, each lowered and escaped so that a
/// shorter label sorts first), records are sorted by (rank, type, input order), and RRsets come
/// out in the order [`Zone::from_rrsets`] builds fastest.
#[derive(Debug)]
pub(crate) struct ZoneBuilder {
    origin: Name,
    class: Class,
    by_record: bool,
    files: Vec<Arc<str>>,
    /// Owner names in wire form, one after the other; `owner_ends[i]` is where owner `i` ends.
    owner_wire: Vec<u8>,
    owner_ends: Vec<usize>,
    records: Vec<Record>,
}

impl ZoneBuilder {
    /// `by_record`: positions are record indices of a document rather than lines.
    pub(crate) fn new(origin: Name, class: Class, by_record: bool) -> ZoneBuilder {
        ZoneBuilder {
            origin,
            class,
            by_record,
            files: Vec::new(),
            owner_wire: Vec::new(),
            owner_ends: Vec::new(),
            records: Vec::new(),
        }
    }

    pub(crate) fn origin(&self) -> &Name {
        &self.origin
    }

    pub(crate) fn add_file(&mut self, name: Arc<str>) -> u32 {
        self.files.push(name);
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    /// Room for about `additional` more records (a hint, to avoid regrowing a huge vector).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.records.reserve(additional);
    }

    /// Registers an owner name; ids are only valid for this builder.
    pub(crate) fn add_owner(&mut self, name: &Name) -> u32 {
        self.owner_wire.extend_from_slice(name.as_wire());
        self.owner_ends.push(self.owner_wire.len());
        u32::try_from(self.owner_ends.len() - 1).unwrap_or(u32::MAX)
    }

    fn owner_bytes(&self, id: u32) -> &[u8] {
        owner_slice(&self.owner_wire, &self.owner_ends, id as usize)
    }

    /// The owner with builder id `id`.
    pub(crate) fn owner_name(&self, id: u32) -> Option<Name> {
        Name::from_wire(self.owner_bytes(id)).ok()
    }

    /// Adds one record; false when the builder is full (2^32 - 1 records or owners).
    pub(crate) fn push(
        &mut self,
        owner: u32,
        ttl: u32,
        rdata: RData,
        file: u32,
        line: u32,
    ) -> bool {
        let Ok(seq) = u32::try_from(self.records.len()) else {
            return false;
        };
        if seq == u32::MAX || self.owner_ends.len() >= u32::MAX as usize {
            return false;
        }
        let rtype = rdata.rtype();
        self.records.push(Record {
            rdata,
            owner,
            ttl,
            file,
            line,
            seq,
            rtype,
        });
        true
    }

    /// Builds the zone, the source map in zone order and the TTL-mismatch warnings.
    pub(crate) fn finish(self) -> (Zone, SourceMap, Vec<Diagnostic>) {
        let ZoneBuilder {
            origin,
            class,
            by_record,
            files,
            owner_wire,
            owner_ends,
            mut records,
        } = self;
        let (rank_of, rank_owner) = rank_owners(&origin, &owner_wire, &owner_ends);
        for record in &mut records {
            record.owner = rank_of[record.owner as usize];
        }
        drop(rank_of);
        records.sort_unstable_by_key(|r| (r.owner, r.rtype.0, r.seq));

        let location = |file: u32, line: u32| -> Option<Location> {
            let file = files.get(file as usize)?.clone();
            Some(if by_record {
                Location::Record { file, index: line }
            } else {
                Location::Line {
                    file,
                    line,
                    column: 0,
                }
            })
        };

        // The element type matches what `Zone::from_rrsets` collects, so its map is built
        // in this vector's memory.
        let mut rrsets: Vec<(Name, RType, Rrset)> = Vec::new();
        let mut positions: Vec<Position> = Vec::new();
        let mut warnings = Vec::new();
        let mut iter = records.into_iter();
        let mut next = iter.next();
        let mut name_rank = u32::MAX;
        while let Some(first) = next {
            let (rank, rtype, ttl) = (first.owner, first.rtype, first.ttl);
            positions.push(Position {
                file: first.file,
                line: first.line,
            });
            let name = match rrsets.last() {
                Some((name, _, _)) if rank == name_rank => name.clone(),
                _ => {
                    name_rank = rank;
                    let index = rank_owner.get(rank as usize).map_or(0, |&i| i as usize);
                    // Every owner in the table came from a valid `Name`.
                    Name::from_wire(owner_slice(&owner_wire, &owner_ends, index))
                        .unwrap_or_else(|_| Name::root())
                }
            };
            let mut rdatas = vec![first.rdata];
            let mut seen: Option<HashSet<u64>> = None;
            next = iter.next();
            while let Some(record) = next.take_if(|r| r.owner == rank && r.rtype == rtype) {
                if !contains(&rdatas, &mut seen, &record.rdata) {
                    rdatas.push(record.rdata);
                    if record.ttl != ttl {
                        warnings.push(
                            Diagnostic::warning(Problem::TtlMismatch {
                                kept: ttl,
                                found: record.ttl,
                            })
                            .at(location(record.file, record.line))
                            .owner(&name, Some(rtype)),
                        );
                    }
                }
                next = iter.next();
            }
            rdatas.shrink_to_fit();
            rrsets.push((name, rtype, Rrset { ttl, rdatas }));
        }
        drop(iter);
        drop(owner_wire);
        drop(owner_ends);
        drop(rank_owner);
        let zone = Zone::from_rrsets(origin, class, rrsets);
        (
            zone,
            SourceMap {
                files,
                by_record,
                positions,
            },
            warnings,
        )
    }
}

fn owner_slice<'a>(wire: &'a [u8], ends: &[usize], index: usize) -> &'a [u8] {
    let start = if index == 0 {
        0
    } else {
        ends.get(index - 1).copied().unwrap_or(0)
    };
    let end = ends.get(index).copied().unwrap_or(start);
    wire.get(start..end).unwrap_or(&[])
}

/// Whether `rdatas` already holds `rdata` (RFC 2181 §5: an RRset has no duplicates). Small
/// RRsets are scanned; large ones keep a set of hashes so a huge RRset stays linear.
fn contains(rdatas: &[RData], seen: &mut Option<HashSet<u64>>, rdata: &RData) -> bool {
    const SCAN_LIMIT: usize = 16;
    if rdatas.len() < SCAN_LIMIT {
        return rdatas.contains(rdata);
    }
    let hash_of = |r: &RData| {
        let mut hasher = DefaultHasher::new();
        r.hash(&mut hasher);
        hasher.finish()
    };
    let set = seen.get_or_insert_with(|| rdatas.iter().map(hash_of).collect());
    if set.insert(hash_of(rdata)) {
        return false;
    }
    // The hash was seen: compare for real (a collision is possible, if unlikely).
    rdatas.contains(rdata)
}

/// Ranks owners (wire names in `wire`, ended at `ends`) in canonical order: returns each
/// owner's rank and, per rank, the index of the first owner with that name (equal names, in
/// any case, share a rank).
///
/// Keys are compared by a 64-bit prefix first, taken after the key of `origin` when every owner
/// is at or below it (the usual case: that part is the same for all), so most comparisons are
/// one integer comparison.
fn rank_owners(origin: &Name, wire: &[u8], ends: &[usize]) -> (Vec<u32>, Vec<u32>) {
    let count = ends.len();
    let mut keys: Vec<u8> = Vec::with_capacity(wire.len() + count);
    let mut key_ends: Vec<usize> = Vec::with_capacity(count);
    let mut origin_key = Vec::new();
    push_canonical_key(&mut origin_key, origin.as_wire());
    let mut all_below_origin = true;
    for index in 0..count {
        let start = keys.len();
        push_canonical_key(&mut keys, owner_slice(wire, ends, index));
        all_below_origin &= keys[start..].starts_with(&origin_key);
        key_ends.push(keys.len());
    }
    let skip = if all_below_origin {
        origin_key.len()
    } else {
        0
    };
    let key = |i: u32| -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { key_ends[i - 1] };
        &keys[start + skip..key_ends[i]]
    };
    let prefix = |i: u32| -> u64 {
        let mut bytes = [0u8; 8];
        let k = key(i);
        let n = k.len().min(8);
        bytes[..n].copy_from_slice(&k[..n]);
        u64::from_be_bytes(bytes)
    };
    let total = u32::try_from(count).unwrap_or(u32::MAX);
    let mut order: Vec<(u64, u32)> = (0..total).map(|i| (prefix(i), i)).collect();
    // A zero-padded prefix can tie with a longer key starting with zero bytes, so ties on the
    // prefix fall back to the whole key; ties on the key go to the earlier owner, so the first
    // spelling of a name is the one kept.
    order.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb).then_with(|| key(a).cmp(key(b))).then(a.cmp(&b))
    });
    let mut rank_of = vec![0u32; count];
    let mut rank_owner: Vec<u32> = Vec::new();
    let mut previous: Option<u32> = None;
    for &(_, i) in &order {
        if previous.is_none_or(|p| key(i) != key(p)) {
            rank_owner.push(i);
        }
        previous = Some(i);
        rank_of[i as usize] = u32::try_from(rank_owner.len() - 1).unwrap_or(u32::MAX);
    }
    (rank_of, rank_owner)
}

/// Appends a key whose byte order is the canonical name order of RFC 4034 §6.1: labels from the
/// root down, each lower-cased and ended by 0x00, with octets 0x00 and 0x01 written as 0x01 0x01
/// and 0x01 0x02 so the terminator sorts below every octet.
fn push_canonical_key(out: &mut Vec<u8>, wire: &[u8]) {
    let mut offsets = [0u8; 128];
    let mut count = 0usize;
    let mut pos = 0usize;
    while let Some(&len) = wire.get(pos) {
        if len == 0 || count == offsets.len() {
            break;
        }
        offsets[count] = u8::try_from(pos).unwrap_or(u8::MAX);
        count += 1;
        pos += usize::from(len) + 1;
    }
    for &offset in offsets[..count].iter().rev() {
        let start = usize::from(offset);
        let len = usize::from(wire[start]);
        for &b in wire.get(start + 1..start + 1 + len).unwrap_or(&[]) {
            let b = b.to_ascii_lowercase();
            if b <= 1 {
                out.push(1);
                out.push(b + 1);
            } else {
                out.push(b);
            }
        }
        out.push(0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    fn origin() -> Name {
        "example.com.".parse().unwrap()
    }

    /// Parses `text` and dumps the zone one record a line, as the golden files do.
    fn dump(text: &str) -> String {
        let parsed = parse_str(text, &origin(), "test.zone")
            .unwrap_or_else(|e| panic!("{e}\n{:#?}", e.diagnostics));
        parsed.zone.records().map(|r| format!("{r}\n")).collect()
    }

    /// Parses `text` expecting errors; returns `line:column code` for each error.
    fn errors(text: &str) -> Vec<String> {
        let errors = parse_str(text, &origin(), "test.zone").expect_err("expected errors");
        errors
            .errors()
            .map(|d| match &d.location {
                Some(Location::Line { line, column, .. }) => {
                    format!("{line}:{column} {}", d.problem.code())
                }
                _ => d.problem.code().to_owned(),
            })
            .collect()
    }

    const HEAD: &str = "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n";

    #[test]
    fn parses_relative_names_at_and_inherited_owner() {
        let text =
            format!("{HEAD}  NS ns1\nns1 A 192.0.2.1\n\tAAAA 2001:db8::1\nwww.sub 60 IN CNAME @\n");
        assert_eq!(
            dump(&text),
            "example.com.\t300\tIN\tNS\tns1.example.com.\n\
             example.com.\t300\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300\n\
             ns1.example.com.\t300\tIN\tA\t192.0.2.1\n\
             ns1.example.com.\t300\tIN\tAAAA\t2001:db8::1\n\
             www.sub.example.com.\t60\tIN\tCNAME\texample.com.\n"
        );
    }

    #[test]
    fn ttl_and_class_in_either_order_with_units() {
        let text = "$TTL 1h\na 1h30m IN A 192.0.2.1\nb IN 2w A 192.0.2.2\nc CLASS1 A 192.0.2.3\nd A 192.0.2.4\n";
        assert_eq!(
            dump(text),
            "a.example.com.\t5400\tIN\tA\t192.0.2.1\n\
             b.example.com.\t1209600\tIN\tA\t192.0.2.2\n\
             c.example.com.\t3600\tIN\tA\t192.0.2.3\n\
             d.example.com.\t3600\tIN\tA\t192.0.2.4\n"
        );
    }

    #[test]
    fn parentheses_comments_quotes_and_escapes() {
        let text = "$TTL 60\n\
                    @ IN SOA ns1 hostmaster ( 2024 ; serial\n 7200 3600\n\t1209600 300 ) ; done\n\
                    t TXT \"a b;c\" \"q\\\"\" plain\\032x \"(\"\n\
                    dot\\.ted A 192.0.2.1\n\
                    \\065bc A 192.0.2.2\n";
        assert_eq!(
            dump(text),
            "example.com.\t60\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024 7200 3600 1209600 300\n\
             Abc.example.com.\t60\tIN\tA\t192.0.2.2\n\
             dot\\.ted.example.com.\t60\tIN\tA\t192.0.2.1\n\
             t.example.com.\t60\tIN\tTXT\t\"a b;c\" \"q\\\"\" \"plain x\" \"(\"\n"
        );
    }

    #[test]
    fn origin_directive_and_generic_rdata() {
        let text = "$TTL 60\n$ORIGIN sub\nwww A 192.0.2.1\n$ORIGIN example.com.\n\
                    a CLASS1 TYPE1 \\# 4 C0000209\nb TYPE65534 \\# 3 abcdef\nc type65534 \\# 0\n";
        assert_eq!(
            dump(text),
            "a.example.com.\t60\tIN\tA\t192.0.2.9\n\
             b.example.com.\t60\tIN\tTYPE65534\t\\# 3 ABCDEF\n\
             c.example.com.\t60\tIN\tTYPE65534\t\\# 0\n\
             www.sub.example.com.\t60\tIN\tA\t192.0.2.1\n"
        );
    }

    #[test]
    fn ttl_rules_follow_bind() {
        // No $TTL: the SOA takes its minimum, which becomes the default.
        let parsed = parse_str(
            "@ SOA ns1 hostmaster 1 2 3 4 300\nwww 60 A 192.0.2.2\nftp A 192.0.2.3\n",
            &origin(),
            "t",
        )
        .unwrap();
        let ttls: Vec<u32> = parsed.zone.records().map(|r| r.ttl).collect();
        assert_eq!(ttls, [300, 300, 60]);
        assert_eq!(parsed.warnings[0].problem, Problem::TtlFromSoaMinimum(300));
        // No $TTL, explicit SOA TTL: later records take the previous record's TTL.
        let parsed = parse_str(
            "@ 100 SOA ns1 hostmaster 1 2 3 4 300\nwww 60 A 192.0.2.2\nftp A 192.0.2.3\n",
            &origin(),
            "t",
        )
        .unwrap();
        let ttls: Vec<u32> = parsed.zone.records().map(|r| r.ttl).collect();
        assert_eq!(ttls, [100, 60, 60]);
        assert_eq!(
            parsed.warnings[0].problem,
            Problem::TtlFromPreviousRecord(60)
        );
        // Nothing to take a TTL from.
        assert_eq!(errors("www A 192.0.2.1\n"), ["1:1 no_ttl"]);
    }

    #[test]
    fn rrsets_keep_the_first_ttl_and_drop_duplicates() {
        let parsed = parse_str(
            "$TTL 60\nwww A 192.0.2.1\nwww 120 A 192.0.2.2\nwww A 192.0.2.1\n",
            &origin(),
            "t",
        )
        .unwrap();
        assert_eq!(parsed.zone.record_count(), 2);
        let www: Name = "www.example.com.".parse().unwrap();
        assert_eq!(parsed.zone.rrset(&www, RType::A).unwrap().ttl, 60);
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(
            parsed.warnings[0].problem,
            Problem::TtlMismatch {
                kept: 60,
                found: 120
            }
        );
        assert_eq!(
            parsed.warnings[0]
                .location
                .as_ref()
                .and_then(Location::line),
            Some(3)
        );
    }

    #[test]
    fn source_map_points_at_first_record_of_each_rrset() {
        let parsed = parse_str(
            "$TTL 60\nb A 192.0.2.1\na A 192.0.2.2\nb A 192.0.2.3\n",
            &origin(),
            "z",
        )
        .unwrap();
        let lines: Vec<String> = (0..parsed.sources.len())
            .map(|i| parsed.sources.location(i).unwrap().to_string())
            .collect();
        assert_eq!(lines, ["z:3", "z:2"]);
    }

    #[test]
    fn canonical_order_and_case_merge() {
        let parsed = parse_str(
            "$TTL 60\nWWW A 192.0.2.1\nwww A 192.0.2.2\nz A 192.0.2.3\n\\001.z A 192.0.2.4\n*.z A 192.0.2.5\nexample.com. A 192.0.2.6\n",
            &origin(),
            "t",
        )
        .unwrap();
        let owners: Vec<String> = parsed
            .zone
            .rrsets()
            .map(|(n, _, _)| n.to_string())
            .collect();
        assert_eq!(
            owners,
            [
                "example.com.",
                "WWW.example.com.",
                "z.example.com.",
                "\\001.z.example.com.",
                "*.z.example.com."
            ]
        );
        let names: Vec<Name> = parsed.zone.rrsets().map(|(n, _, _)| n.clone()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn errors_have_lines_and_columns_and_parsing_goes_on() {
        let text = "$TTL 60\n\
                    www IN FOO 1\n\
                    mx IN MX ten mail\n\
                    a IN A 1.2.3\n\
                    b CH A 192.0.2.1\n\
                    c 1x A 192.0.2.1\n\
                    d 60 60 A 192.0.2.1\n\
                    e IN\n\
                    f A 192.0.2.1 extra\n\
                    ok A 192.0.2.1\n";
        assert_eq!(
            errors(text),
            [
                "2:8 unknown_type",
                "3:10 bad_rdata",
                "4:8 bad_rdata",
                "5:3 class_mismatch",
                "6:3 bad_ttl",
                "7:6 repeated",
                "8:3 missing_type",
                "9:15 bad_rdata",
            ]
        );
    }

    #[test]
    fn lexical_errors() {
        assert_eq!(
            errors("$TTL 60\na TXT \"open\nb A 192.0.2.1\n"),
            ["2:7 unterminated_quote"]
        );
        assert_eq!(
            errors("$TTL 60\n@ SOA ns1 hm ( 1 2 3 4 5\n"),
            ["2:14 unclosed_parenthesis"]
        );
        assert_eq!(
            errors("$TTL 60\na A 192.0.2.1 )\n"),
            ["2:15 unexpected_close_parenthesis"]
        );
        assert_eq!(errors("  A 192.0.2.1\n"), ["1:3 no_owner"]);
    }

    #[test]
    fn directive_errors() {
        assert_eq!(errors("$TTL abc\n"), ["1:6 bad_ttl"]);
        assert_eq!(errors("$TTL\n"), ["1:1 directive_arguments"]);
        assert_eq!(errors("$FOO bar\n"), ["1:1 unknown_directive"]);
        assert_eq!(
            errors("$GENERATE 1-10 h$ A 192.0.2.$\n"),
            ["1:1 unsupported_directive"]
        );
        assert_eq!(errors("$ORIGIN a..b\n"), ["1:9 bad_name"]);
        assert_eq!(errors("$INCLUDE other.zone\n"), ["1:10 include_refused"]);
    }

    #[test]
    fn bad_names() {
        let long = "a".repeat(64);
        assert_eq!(
            errors(&format!("$TTL 60\n{long} A 192.0.2.1\n")),
            ["2:1 bad_name"]
        );
        assert_eq!(errors("$TTL 60\na\\256 TXT x\n"), ["2:1 bad_name"]);
        let deep = "abcdefghi.".repeat(26);
        assert_eq!(
            errors(&format!("$TTL 60\n{deep} A 192.0.2.1\n")),
            ["2:1 bad_name"]
        );
        // Records inheriting a bad owner are checked, not kept, and cause no second error.
        assert_eq!(
            errors("$TTL 60\na..b A 192.0.2.1\n  A 192.0.2.2\n  A 1.2\n"),
            ["2:1 bad_name", "4:5 bad_rdata"]
        );
    }

    #[test]
    fn error_cap_stops_parsing() {
        let text = "x A bad\n".repeat(50);
        let options = Options {
            max_errors: 5,
            ..Options::default()
        };
        let e = parse_str_with(&format!("$TTL 1\n{text}"), &origin(), "t", &options).unwrap_err();
        assert_eq!(e.error_count(), 6);
        assert_eq!(
            e.diagnostics.last().unwrap().problem,
            Problem::TooManyErrors(5)
        );
    }

    #[test]
    fn diagnostics_carry_record_text_and_hint() {
        let e = parse_str("$TTL 60\nwww  IN   A ( 1.2.3\n )\n", &origin(), "db").unwrap_err();
        let d = &e.diagnostics[0];
        assert_eq!(d.record.as_deref(), Some("www IN A ( 1.2.3 )"));
        assert_eq!(d.to_string(), "db:2:15: error: www.example.com./A: bad RDATA: A: expected IPv4 address, found \"1.2.3\"");
        assert!(!d.problem.hint().is_empty());
    }

    #[test]
    fn canonical_keys_order_like_names() {
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\000.z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let keys: Vec<Vec<u8>> = names
            .iter()
            .map(|n| {
                let mut k = Vec::new();
                push_canonical_key(&mut k, Name::from_text(n, None).unwrap().as_wire());
                k
            })
            .collect();
        for (i, pair) in keys.windows(2).enumerate() {
            assert!(pair[0] < pair[1], "{} < {}", names[i], names[i + 1]);
        }
    }

    #[test]
    fn not_utf8_is_located_and_bom_is_skipped() {
        let dir = std::env::temp_dir().join(format!("nebula-master-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latin1.zone");
        fs::write(&path, b"$TTL 1\na TXT \"caf\xe9\"\n").unwrap();
        let e = parse_file(&path, &origin()).unwrap_err();
        let d = &e.diagnostics[0];
        assert_eq!(d.problem, Problem::NotUtf8 { byte: 0xe9 });
        assert_eq!(
            d.location.as_ref().unwrap().to_string(),
            format!("{}:2:11", path.display())
        );
        let parsed = parse_str("\u{feff}$TTL 1\na A 192.0.2.1\n", &origin(), "bom").unwrap();
        assert_eq!(parsed.zone.record_count(), 1);
    }

    proptest::proptest! {
        /// Any text, however broken, yields a zone or errors: never a panic, never a hang.
        #[test]
        fn arbitrary_text_never_panics(text in "[a-zA-Z0-9 \t\n;()\"\\.@$*#-]{0,300}") {
            let _ = parse_str(&text, &origin(), "fuzz");
        }

        #[test]
        fn arbitrary_records_never_panic(
            lines in proptest::collection::vec(
                "(@|[a-z*]{1,5}|) ([0-9]{1,4}[smhdw]?)? (IN|CH|CLASS1)? (A|AAAA|MX|TXT|SOA|NS|TYPE99|CNAME|FOO) [ -~]{0,40}",
                0..20,
            )
        ) {
            let _ = parse_str(&lines.join("\n"), &origin(), "fuzz");
        }
    }

    #[test]
    fn large_rrsets_deduplicate() {
        let mut text = String::from("$TTL 60\n");
        for i in 0..100 {
            text.push_str(&format!("big A 192.0.2.{i}\nbig A 192.0.2.{i}\n"));
        }
        let parsed = parse_str(&text, &origin(), "t").unwrap();
        assert_eq!(parsed.zone.record_count(), 100);
    }
}

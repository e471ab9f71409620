//! Presentation format helpers (RFC 1035 §5.1): RDATA tokens, character strings, and a cursor
//! that parses typed fields with errors naming the record type and the expected field.

use std::fmt::Write as _;
use std::net::Ipv6Addr;

use crate::error::TextError;
use crate::name::{parse_escape, Name};

/// One whitespace-separated RDATA token. Escapes are left in `text`; `quoted` tells whether it was
/// written in double quotes (which matters for `\#` and for character strings with spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub quoted: bool,
}

impl<'a> Token<'a> {
    pub fn bare(text: &'a str) -> Token<'a> {
        Token {
            text,
            quoted: false,
        }
    }
}

/// Splits single-line RDATA text into tokens (quotes group, `;` starts a comment, parentheses are
/// ignored). Zone files use the store's lexer instead, which also tracks lines and owners.
pub fn tokenize(line: &str) -> Result<Vec<Token<'_>>, TextError> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' => i += 1,
            b';' => break,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match bytes.get(j) {
                        None => return Err(TextError::UnterminatedQuote),
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                    }
                }
                let end = j.min(bytes.len());
                tokens.push(Token {
                    text: &line[start..end],
                    quoted: true,
                });
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b';' | b'"'
                    )
                {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let end = i.min(bytes.len());
                tokens.push(Token {
                    text: &line[start..end],
                    quoted: false,
                });
            }
        }
    }
    Ok(tokens)
}

/// Decodes a character string's escapes (`\DDD`, `\X`) into raw octets.
pub fn unescape(text: &str) -> Result<Vec<u8>, TextError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let (v, used) = parse_escape(&bytes[i + 1..])
                .ok_or_else(|| TextError::BadEscape(text.to_owned()))?;
            out.push(v);
            i += 1 + used;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Appends `bytes` as a quoted character string the way dig prints it: `"` and `\` escaped,
/// bytes outside printable ASCII as `\DDD`.
pub fn push_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

/// Reads typed RDATA fields from tokens; every error names the record type and what was expected.
#[derive(Debug)]
pub struct Fields<'t, 'a> {
    rtype: &'static str,
    tokens: &'t [Token<'a>],
    index: usize,
    origin: Option<&'t Name>,
}

impl<'t, 'a> Fields<'t, 'a> {
    pub fn new(rtype: &'static str, tokens: &'t [Token<'a>], origin: Option<&'t Name>) -> Self {
        Fields {
            rtype,
            tokens,
            index: 0,
            origin,
        }
    }

    pub fn bad(&self, expected: &'static str, found: &str) -> TextError {
        TextError::BadField {
            rtype: self.rtype.to_owned(),
            expected,
            found: found.to_owned(),
        }
    }

    /// The next token, or a `MissingField` error naming `expected`.
    pub fn token(&mut self, expected: &'static str) -> Result<Token<'a>, TextError> {
        let t = self
            .tokens
            .get(self.index)
            .copied()
            .ok_or_else(|| TextError::MissingField {
                rtype: self.rtype.to_owned(),
                expected,
            })?;
        self.index += 1;
        Ok(t)
    }

    /// The next unquoted token's text.
    pub fn word(&mut self, expected: &'static str) -> Result<&'a str, TextError> {
        let t = self.token(expected)?;
        if t.quoted {
            return Err(self.bad(expected, t.text));
        }
        Ok(t.text)
    }

    pub fn is_done(&self) -> bool {
        self.index >= self.tokens.len()
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'t [Token<'a>] {
        let rest = &self.tokens[self.index.min(self.tokens.len())..];
        self.index = self.tokens.len();
        rest
    }

    /// Errors if any token is left over.
    pub fn finish(&self) -> Result<(), TextError> {
        match self.tokens.get(self.index) {
            None => Ok(()),
            Some(t) => Err(TextError::ExtraField {
                rtype: self.rtype.to_owned(),
                found: t.text.to_owned(),
            }),
        }
    }

    pub fn u8(&mut self, expected: &'static str) -> Result<u8, TextError> {
        let w = self.word(expected)?;
        w.parse().map_err(|_| self.bad(expected, w))
    }

    pub fn u16(&mut self, expected: &'static str) -> Result<u16, TextError> {
        let w = self.word(expected)?;
        w.parse().map_err(|_| self.bad(expected, w))
    }

    pub fn u32(&mut self, expected: &'static str) -> Result<u32, TextError> {
        let w = self.word(expected)?;
        w.parse().map_err(|_| self.bad(expected, w))
    }

    /// A 32-bit time value that may use BIND's units (`1h30m`, `2w`), as in SOA timers.
    pub fn ttl_like(&mut self, expected: &'static str) -> Result<u32, TextError> {
        let w = self.word(expected)?;
        parse_ttl(w).ok_or_else(|| self.bad(expected, w))
    }

    /// A domain name, completed with the origin when relative.
    pub fn name(&mut self, expected: &'static str) -> Result<Name, TextError> {
        let w = self.word(expected)?;
        if w == "@" {
            return self
                .origin
                .cloned()
                .ok_or_else(|| TextError::RelativeName(w.to_owned()));
        }
        Name::from_text(w, self.origin)
    }

    /// One character string (RFC 1035 §3.3), quoted or not, at most 255 octets.
    pub fn char_string(&mut self, expected: &'static str) -> Result<Vec<u8>, TextError> {
        let t = self.token(expected)?;
        let bytes = unescape(t.text)?;
        if bytes.len() > 255 {
            return Err(TextError::StringTooLong);
        }
        Ok(bytes)
    }

    /// The remaining tokens joined and decoded as hexadecimal (whitespace allowed between groups).
    pub fn rest_hex(&mut self, expected: &'static str) -> Result<Vec<u8>, TextError> {
        let joined: String = self.rest().iter().map(|t| t.text).collect();
        decode_hex(&joined).ok_or_else(|| self.bad(expected, &joined))
    }

    /// The remaining tokens joined and decoded as base64 (RFC 4648 §4).
    pub fn rest_base64(&mut self, expected: &'static str) -> Result<Vec<u8>, TextError> {
        let joined: String = self.rest().iter().map(|t| t.text).collect();
        data_encoding::BASE64
            .decode(joined.as_bytes())
            .map_err(|_| self.bad(expected, &joined))
    }

    /// Exactly `len` octets of base64, possibly split over several tokens (a field whose length
    /// an earlier field gave, as TSIG's MAC). Zero octets read no token.
    pub fn base64_exact(
        &mut self,
        expected: &'static str,
        len: usize,
    ) -> Result<Vec<u8>, TextError> {
        let mut joined = String::new();
        // Four characters carry three octets; padding only shortens the last quantum.
        while joined.len() / 4 * 3 < len {
            let token = self.word(expected)?;
            joined.push_str(token);
        }
        let bytes = data_encoding::BASE64
            .decode(joined.as_bytes())
            .map_err(|_| self.bad(expected, &joined))?;
        if bytes.len() != len {
            return Err(self.bad(expected, &joined));
        }
        Ok(bytes)
    }

    /// One unquoted token decoded as hexadecimal (either case).
    pub fn hex_word(&mut self, expected: &'static str) -> Result<Vec<u8>, TextError> {
        let w = self.word(expected)?;
        decode_hex(w).ok_or_else(|| self.bad(expected, w))
    }

    /// The next token without consuming it.
    pub fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.index).copied()
    }

    /// The record type label used in errors.
    pub fn rtype_label(&self) -> &'static str {
        self.rtype
    }

    /// An error for a value that breaks a rule of the type as a whole.
    pub fn invalid(&self, reason: &'static str) -> TextError {
        TextError::InvalidRdata {
            rtype: self.rtype.to_owned(),
            reason,
        }
    }
}

/// Where BIND splits long base64 and hex fields into space-separated chunks, in `dig` output and
/// in `named-compilezone -s full` (its default text style).
pub const SPLIT_WIDTH: usize = 56;

/// Appends `encoded` (ASCII base64 or hex) in chunks of [`SPLIT_WIDTH`] separated by spaces.
pub fn push_split(out: &mut String, encoded: &str) {
    push_split_width(out, encoded, SPLIT_WIDTH);
}

/// Appends `encoded` (ASCII) in chunks of `width` characters separated by spaces.
pub fn push_split_width(out: &mut String, encoded: &str, width: usize) {
    let width = width.max(1);
    let mut rest = encoded;
    while rest.len() > width {
        let (chunk, tail) = rest.split_at(width);
        out.push_str(chunk);
        out.push(' ');
        rest = tail;
    }
    out.push_str(rest);
}

/// Encodes as base64 with padding (RFC 4648 §4), as DNSSEC keys and signatures are written.
pub fn encode_base64(bytes: &[u8]) -> String {
    data_encoding::BASE64.encode(bytes)
}

/// Formats an IPv6 address the way BIND prints it (its `inet_ntop`): the longest run of two or
/// more zero groups becomes `::`, and IPv4-compatible (`::a.b.c.d`) and IPv4-mapped
/// (`::ffff:a.b.c.d`) addresses end in dotted quad. Rust's own `Display` differs for the first.
pub fn push_ipv6(out: &mut String, address: &Ipv6Addr) {
    let words = address.segments();
    // The longest run of zero words (first one on ties), if at least two long.
    let (mut best_start, mut best_len) = (0usize, 0usize);
    let mut i = 0usize;
    while i < words.len() {
        if words[i] == 0 {
            let start = i;
            while i < words.len() && words[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_start = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_len = 0;
    }
    let mut i = 0usize;
    while i < words.len() {
        if best_len > 0 && i == best_start {
            out.push(':');
            i += best_len;
            if i == words.len() {
                out.push(':');
            }
            continue;
        }
        if i > 0 {
            out.push(':');
        }
        let embedded_v4 =
            i == 6 && best_start == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff));
        if embedded_v4 {
            let [.., a, b, c, d] = address.octets();
            let _ = write!(out, "{a}.{b}.{c}.{d}");
            return;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
}

/// [`push_ipv6`] into a new string.
pub fn ipv6_to_text(address: &Ipv6Addr) -> String {
    let mut out = String::with_capacity(39);
    push_ipv6(&mut out, address);
    out
}

/// Parses a TTL: plain seconds or BIND units (`w d h m s`, any case, e.g. `1h30m`).
pub fn parse_ttl(text: &str) -> Option<u32> {
    if let Ok(v) = text.parse::<u32>() {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut seen_digit = false;
    for c in text.bytes() {
        if c.is_ascii_digit() {
            current = current.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            seen_digit = true;
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        if !seen_digit {
            return None;
        }
        total = total.checked_add(current.checked_mul(unit)?)?;
        current = 0;
        seen_digit = false;
    }
    total = total.checked_add(current)?;
    u32::try_from(total).ok()
}

/// Decodes hex digits (either case). An empty string is valid and empty.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    data_encoding::HEXUPPER_PERMISSIVE
        .decode(text.as_bytes())
        .ok()
}

/// Encodes as upper-case hex, as BIND prints digests and fingerprints.
pub fn encode_hex(bytes: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_quotes_and_comments() {
        let t = tokenize(r#"10 "a b\" c" bare ( x ) ; comment"#).unwrap();
        let texts: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(texts, ["10", r#"a b\" c"#, "bare", "x"]);
        assert!(t[1].quoted && !t[2].quoted);
        assert_eq!(tokenize("\"open"), Err(TextError::UnterminatedQuote));
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("1W"), Some(604_800));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("4294967296"), None);
    }

    #[test]
    fn ipv6_as_bind_prints_it() {
        for (text, expected) in [
            ("::", "::"),
            ("::1", "::1"),
            ("::2", "::2"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1:0:0:0", "::1:0:0:0"),
            ("1::", "1::"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("fe80::", "fe80::"),
        ] {
            let address: Ipv6Addr = text.parse().unwrap();
            assert_eq!(ipv6_to_text(&address), expected, "{text}");
            assert_eq!(expected.parse::<Ipv6Addr>().unwrap(), address);
        }
    }

    #[test]
    fn splits_long_fields_like_bind() {
        let mut out = String::new();
        push_split(&mut out, &"A".repeat(120));
        assert_eq!(
            out,
            format!("{} {} {}", "A".repeat(56), "A".repeat(56), "A".repeat(8))
        );
        let mut exact = String::new();
        push_split(&mut exact, &"B".repeat(56));
        assert_eq!(exact, "B".repeat(56));
    }

    #[test]
    fn base64_of_declared_length_spans_tokens() {
        let tokens = tokenize("AAEC AwQF BgcI rest").unwrap();
        let mut f = Fields::new("TSIG", &tokens, None);
        assert_eq!(
            f.base64_exact("MAC", 9).unwrap(),
            (0u8..9).collect::<Vec<_>>()
        );
        assert_eq!(f.word("next").unwrap(), "rest");
        let tokens = tokenize("AAEC").unwrap();
        let mut f = Fields::new("TSIG", &tokens, None);
        assert!(f.base64_exact("MAC", 2).is_err());
    }

    #[test]
    fn quoting_round_trips() {
        let mut s = String::new();
        push_quoted(&mut s, b"a\"b\\c\x00\xff ");
        assert_eq!(s, r#""a\"b\\c\000\255 ""#);
        assert_eq!(unescape(&s[1..s.len() - 1]).unwrap(), b"a\"b\\c\x00\xff ");
    }
}

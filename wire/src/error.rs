//! Error kinds of the wire crate: one enum for decoding bytes, one for parsing presentation text.
//!
//! Each variant is something a caller can act on: a server turns a [`DecodeError`] into FORMERR and
//! counts it by [`DecodeError::kind`]; a zone loader reports a [`TextError`] with file and line.

use thiserror::Error;

/// Why a sequence of bytes is not an acceptable DNS message (RFC 1035 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the structure being read was complete.
    #[error("message truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    /// The question count is not what the context requires (a query or a zone transfer needs exactly one).
    #[error("QDCOUNT is {got}, expected {expected}")]
    QdCountMismatch { expected: u16, got: u16 },
    /// Bytes remain after the last section the header announced.
    #[error("{count} trailing bytes after the last record")]
    TrailingBytes { count: usize },
    /// A compression pointer leads back to itself (RFC 1035 §4.1.4 pointers must point to prior data).
    #[error("compression pointer loop at offset {offset}")]
    PointerLoop { offset: usize },
    /// A compression pointer points at or after its own position.
    #[error("forward compression pointer at offset {offset} to {target}")]
    ForwardPointer { offset: usize, target: usize },
    /// A compression pointer inside RDATA of a type that must not be compressed, or outside any message.
    #[error("compression pointer not allowed here (offset {offset})")]
    PointerNotAllowed { offset: usize },
    /// A label longer than 63 octets (RFC 1035 §2.3.4).
    #[error("label of {len} octets at offset {offset} exceeds 63")]
    LabelTooLong { offset: usize, len: usize },
    /// A name longer than 255 octets in wire form (RFC 1035 §2.3.4).
    #[error("name exceeds 255 octets at offset {offset}")]
    NameTooLong { offset: usize },
    /// Label type 0b01 or 0b10 (RFC 6891 §5 retired extended label types).
    #[error("unsupported label type 0x{label_type:02x} at offset {offset}")]
    BadLabelType { offset: usize, label_type: u8 },
    /// RDATA that breaks a rule of its type's format; `reason` names the rule (e.g. an SVCB
    /// `mandatory` key missing, a DS digest of the wrong length for its digest type).
    #[error("bad RDATA for {rtype}: {reason}")]
    BadRdata {
        rtype: crate::RType,
        reason: &'static str,
    },
    /// RDLENGTH points beyond the message, or the record's RDATA was not consumed exactly.
    #[error("RDLENGTH {rdlength} does not match RDATA of {rtype} (used {used})")]
    RdataLengthMismatch {
        rtype: crate::RType,
        rdlength: u16,
        used: usize,
    },
    /// More than one OPT record, or OPT outside the additional section, or with a non-root owner (RFC 6891 §6.1.1).
    #[error("misplaced or duplicate OPT record")]
    BadOpt,
    /// A TSIG record that is not the last record of the additional section (RFC 8945 §5.1).
    #[error("TSIG record is not the last record")]
    MisplacedTsig,
    /// A message longer than 65535 octets (the TCP length prefix limit).
    #[error("message of {len} bytes exceeds 65535")]
    MessageTooLong { len: usize },
}

/// A stable, label-friendly name for each decode error, used as the `reason` of FORMERR counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    Truncated,
    QdCountMismatch,
    TrailingBytes,
    PointerLoop,
    ForwardPointer,
    PointerNotAllowed,
    LabelTooLong,
    NameTooLong,
    BadLabelType,
    BadRdata,
    RdataLengthMismatch,
    BadOpt,
    MisplacedTsig,
    MessageTooLong,
}

impl DecodeErrorKind {
    /// All kinds, for pre-registering metric series.
    pub const ALL: [DecodeErrorKind; 14] = [
        Self::Truncated,
        Self::QdCountMismatch,
        Self::TrailingBytes,
        Self::PointerLoop,
        Self::ForwardPointer,
        Self::PointerNotAllowed,
        Self::LabelTooLong,
        Self::NameTooLong,
        Self::BadLabelType,
        Self::BadRdata,
        Self::RdataLengthMismatch,
        Self::BadOpt,
        Self::MisplacedTsig,
        Self::MessageTooLong,
    ];

    /// The snake_case name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::QdCountMismatch => "qdcount_mismatch",
            Self::TrailingBytes => "trailing_bytes",
            Self::PointerLoop => "pointer_loop",
            Self::ForwardPointer => "forward_pointer",
            Self::PointerNotAllowed => "pointer_not_allowed",
            Self::LabelTooLong => "label_too_long",
            Self::NameTooLong => "name_too_long",
            Self::BadLabelType => "bad_label_type",
            Self::BadRdata => "bad_rdata",
            Self::RdataLengthMismatch => "rdata_length_mismatch",
            Self::BadOpt => "bad_opt",
            Self::MisplacedTsig => "misplaced_tsig",
            Self::MessageTooLong => "message_too_long",
        }
    }
}

impl DecodeError {
    /// The kind of this error, without its details.
    pub fn kind(&self) -> DecodeErrorKind {
        match self {
            Self::Truncated { .. } => DecodeErrorKind::Truncated,
            Self::QdCountMismatch { .. } => DecodeErrorKind::QdCountMismatch,
            Self::TrailingBytes { .. } => DecodeErrorKind::TrailingBytes,
            Self::PointerLoop { .. } => DecodeErrorKind::PointerLoop,
            Self::ForwardPointer { .. } => DecodeErrorKind::ForwardPointer,
            Self::PointerNotAllowed { .. } => DecodeErrorKind::PointerNotAllowed,
            Self::LabelTooLong { .. } => DecodeErrorKind::LabelTooLong,
            Self::NameTooLong { .. } => DecodeErrorKind::NameTooLong,
            Self::BadLabelType { .. } => DecodeErrorKind::BadLabelType,
            Self::BadRdata { .. } => DecodeErrorKind::BadRdata,
            Self::RdataLengthMismatch { .. } => DecodeErrorKind::RdataLengthMismatch,
            Self::BadOpt => DecodeErrorKind::BadOpt,
            Self::MisplacedTsig => DecodeErrorKind::MisplacedTsig,
            Self::MessageTooLong { .. } => DecodeErrorKind::MessageTooLong,
        }
    }
}

/// Why a piece of presentation text (RFC 1035 §5.1) is not a valid name or RDATA.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    #[error("label longer than 63 octets in {0:?}")]
    LabelTooLong(String),
    #[error("name longer than 255 octets: {0:?}")]
    NameTooLong(String),
    #[error("empty label in {0:?}")]
    EmptyLabel(String),
    #[error("bad escape sequence in {0:?}")]
    BadEscape(String),
    #[error("relative name {0:?} with no origin to complete it")]
    RelativeName(String),
    #[error("unknown record type {0:?}")]
    UnknownType(String),
    #[error("unknown class {0:?}")]
    UnknownClass(String),
    #[error("{rtype}: expected {expected}, found {found:?}")]
    BadField {
        rtype: String,
        expected: &'static str,
        found: String,
    },
    #[error("{rtype}: missing {expected}")]
    MissingField {
        rtype: String,
        expected: &'static str,
    },
    #[error("{rtype}: unexpected extra text {found:?}")]
    ExtraField { rtype: String, found: String },
    #[error("{rtype}: RDATA too long ({len} octets, at most 65535)")]
    RdataTooLong { rtype: String, len: usize },
    /// The fields parse one by one but break a rule of the type as a whole (e.g. an SVCB
    /// `mandatory` key that is not present, RFC 9460 §8), or a value built in code breaks one.
    #[error("{rtype}: {reason}")]
    InvalidRdata { rtype: String, reason: &'static str },
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("character string longer than 255 octets")]
    StringTooLong,
}

//! The codec's two error types: one for parsing, one for emitting.

use core::fmt;

/// Why a datagram is not a well-formed CoAP message (RFC 7252 §3, §3.1, §4.1).
///
/// Every variant is a *message format error* in the RFC's sense, except
/// [`FormatError::Version`] (§3: messages with an unknown version number
/// MUST be silently ignored) and a [`FormatError::Truncated`] returned by
/// [`parse_header`](super::parse_header) (no Message ID to answer with).
///
/// The engine's use: if [`Message::parse`](super::Message::parse) fails,
/// call [`parse_header`](super::parse_header); if that succeeds and the type
/// is CON, reject with a Reset carrying the Message ID (§4.2), otherwise drop.
///
/// ```
/// use mpcoap::codec::{FormatError, Message};
/// // Version 2: to be ignored, not rejected.
/// assert_eq!(Message::parse(&[0x80, 0x01, 0x00, 0x01]).unwrap_err(), FormatError::Version);
/// // TKL 9 is reserved.
/// assert_eq!(Message::parse(&[0x49, 0x01, 0x00, 0x01]).unwrap_err(), FormatError::TokenLength);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatError {
    /// The version field is not 1 (§3). Not answered: silently ignored.
    Version,
    /// The Token Length field is 9 to 15 (§3: reserved, a format error).
    TokenLength,
    /// The datagram ends inside the header, the token, an option's extended
    /// delta or length, or an option's value.
    Truncated,
    /// An option header byte has delta nibble 15 but is not the payload
    /// marker 0xFF (§3.1).
    ReservedDelta,
    /// An option header byte has length nibble 15 but is not the payload
    /// marker 0xFF (§3.1).
    ReservedLength,
    /// The payload marker is the last byte: a zero-length payload (§3).
    EmptyPayload,
    /// Code 0.00 (Empty) with a token or with bytes after the Message ID (§4.1).
    EmptyMessage,
    /// The code class is reserved: 1, 6 or 7 (§12.1).
    ReservedClass,
    /// The sum of option deltas exceeds 65535 (§3.1).
    OptionNumber,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Version => "CoAP version is not 1",
            Self::TokenLength => "token length 9-15 is reserved",
            Self::Truncated => "datagram ends inside a field",
            Self::ReservedDelta => "option delta nibble 15 outside the payload marker",
            Self::ReservedLength => "option length nibble 15 outside the payload marker",
            Self::EmptyPayload => "payload marker followed by no payload",
            Self::EmptyMessage => "Empty message (0.00) with token or trailing bytes",
            Self::ReservedClass => "reserved code class (1, 6 or 7)",
            Self::OptionNumber => "option number past 65535",
        })
    }
}

impl core::error::Error for FormatError {}

// Lets nom's complete-input combinators report running out of input directly
// as our error type; our own checks return the specific variant.
impl<I> nom::error::ParseError<I> for FormatError {
    fn from_error_kind(_input: I, _kind: nom::error::ErrorKind) -> Self {
        Self::Truncated
    }

    fn append(_input: I, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Why a [`MessageRepr`](super::MessageRepr) cannot be emitted.
///
/// [`MessageRepr::emit`](super::MessageRepr::emit) refuses anything that
/// [`Message::parse`](super::Message::parse) would reject, so what it writes
/// always parses back.
///
/// ```
/// use mpcoap::codec::{Code, EncodeError, MessageRepr, MessageType};
/// let mut repr: MessageRepr = MessageRepr::new(MessageType::Con, Code::GET, 1);
/// repr.token = &[0; 9];
/// assert_eq!(repr.emit(&mut [0u8; 64]), Err(EncodeError::TokenTooLong));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncodeError {
    /// The output buffer is shorter than [`MessageRepr::buffer_len`](super::MessageRepr::buffer_len).
    BufferTooSmall,
    /// The token is longer than 8 bytes.
    TokenTooLong,
    /// More options than the representation's capacity.
    TooManyOptions,
    /// An option value is longer than 65804 bytes, the most §3.1 can encode.
    OptionTooLong,
    /// Code 0.00 (Empty) with a token, options or payload (§4.1).
    EmptyMessage,
    /// The code class is reserved: 1, 6 or 7.
    ReservedClass,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "output buffer too small",
            Self::TokenTooLong => "token longer than 8 bytes",
            Self::TooManyOptions => "too many options",
            Self::OptionTooLong => "option value longer than 65804 bytes",
            Self::EmptyMessage => "Empty message (0.00) with token, options or payload",
            Self::ReservedClass => "reserved code class (1, 6 or 7)",
        })
    }
}

impl core::error::Error for EncodeError {}

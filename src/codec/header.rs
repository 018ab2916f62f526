//! The fixed 4-byte header (RFC 7252 §3): version, type, token length, code,
//! Message ID.

use core::fmt;

use super::FormatError;

/// The only protocol version defined (§3).
pub const VERSION: u8 = 1;
/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = 4;
/// Longest token allowed (§3: TKL 9-15 are reserved).
pub const MAX_TOKEN_LEN: usize = 8;
/// The byte that separates options from the payload (§3).
pub const PAYLOAD_MARKER: u8 = 0xFF;

/// The message type (§3, §4).
///
/// ```
/// use mpcoap::codec::MessageType;
/// assert_eq!(MessageType::from_bits(2), MessageType::Ack);
/// assert_eq!(MessageType::Rst.bits(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// Confirmable (0): acknowledged, retransmitted until then.
    Con = 0,
    /// Non-confirmable (1).
    Non = 1,
    /// Acknowledgement (2).
    Ack = 2,
    /// Reset (3).
    Rst = 3,
}

impl MessageType {
    /// The type from its 2-bit field; higher bits are ignored.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Self::Con,
            1 => Self::Non,
            2 => Self::Ack,
            _ => Self::Rst,
        }
    }

    /// The 2-bit field value.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// A request method or response code: 3-bit class, 5-bit detail (§3, §12.1),
/// written `c.dd`.
///
/// ```
/// use mpcoap::codec::Code;
/// assert_eq!(Code::CONTENT, Code::new(2, 5));
/// assert_eq!(Code::CONTENT.0, 0x45);
/// assert_eq!((Code::NOT_FOUND.class(), Code::NOT_FOUND.detail()), (4, 4));
/// assert!(Code::GET.is_request() && Code::CHANGED.is_response());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u8);

impl Code {
    /// 0.00: the Empty message (§4.1).
    pub const EMPTY: Code = Code::new(0, 0);
    /// 0.01 GET.
    pub const GET: Code = Code::new(0, 1);
    /// 0.02 POST.
    pub const POST: Code = Code::new(0, 2);
    /// 0.03 PUT.
    pub const PUT: Code = Code::new(0, 3);
    /// 0.04 DELETE.
    pub const DELETE: Code = Code::new(0, 4);
    /// 2.01 Created.
    pub const CREATED: Code = Code::new(2, 1);
    /// 2.02 Deleted.
    pub const DELETED: Code = Code::new(2, 2);
    /// 2.03 Valid.
    pub const VALID: Code = Code::new(2, 3);
    /// 2.04 Changed.
    pub const CHANGED: Code = Code::new(2, 4);
    /// 2.05 Content.
    pub const CONTENT: Code = Code::new(2, 5);
    /// 2.31 Continue (RFC 7959).
    pub const CONTINUE: Code = Code::new(2, 31);
    /// 4.00 Bad Request.
    pub const BAD_REQUEST: Code = Code::new(4, 0);
    /// 4.01 Unauthorized.
    pub const UNAUTHORIZED: Code = Code::new(4, 1);
    /// 4.02 Bad Option.
    pub const BAD_OPTION: Code = Code::new(4, 2);
    /// 4.03 Forbidden.
    pub const FORBIDDEN: Code = Code::new(4, 3);
    /// 4.04 Not Found.
    pub const NOT_FOUND: Code = Code::new(4, 4);
    /// 4.05 Method Not Allowed.
    pub const METHOD_NOT_ALLOWED: Code = Code::new(4, 5);
    /// 4.06 Not Acceptable.
    pub const NOT_ACCEPTABLE: Code = Code::new(4, 6);
    /// 4.08 Request Entity Incomplete (RFC 7959).
    pub const REQUEST_ENTITY_INCOMPLETE: Code = Code::new(4, 8);
    /// 4.12 Precondition Failed.
    pub const PRECONDITION_FAILED: Code = Code::new(4, 12);
    /// 4.13 Request Entity Too Large.
    pub const REQUEST_ENTITY_TOO_LARGE: Code = Code::new(4, 13);
    /// 4.15 Unsupported Content-Format.
    pub const UNSUPPORTED_CONTENT_FORMAT: Code = Code::new(4, 15);
    /// 5.00 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: Code = Code::new(5, 0);
    /// 5.01 Not Implemented.
    pub const NOT_IMPLEMENTED: Code = Code::new(5, 1);
    /// 5.02 Bad Gateway.
    pub const BAD_GATEWAY: Code = Code::new(5, 2);
    /// 5.03 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: Code = Code::new(5, 3);
    /// 5.04 Gateway Timeout.
    pub const GATEWAY_TIMEOUT: Code = Code::new(5, 4);
    /// 5.05 Proxying Not Supported.
    pub const PROXYING_NOT_SUPPORTED: Code = Code::new(5, 5);

    /// `class.detail`; class is truncated to 3 bits and detail to 5.
    pub const fn new(class: u8, detail: u8) -> Code {
        Code(((class & 0x07) << 5) | (detail & 0x1f))
    }

    /// The class: 0 request, 2 success, 4 client error, 5 server error.
    pub const fn class(self) -> u8 {
        self.0 >> 5
    }

    /// The detail, 0 to 31.
    pub const fn detail(self) -> u8 {
        self.0 & 0x1f
    }

    /// Code 0.00, the Empty message.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A request method: class 0, detail not 0.
    pub const fn is_request(self) -> bool {
        self.class() == 0 && self.detail() != 0
    }

    /// A response: class 2 to 5 (§12.1 assigns 2.00-5.31 to responses;
    /// class 3 has no codes yet but is not reserved).
    pub const fn is_response(self) -> bool {
        matches!(self.class(), 2..=5)
    }

    /// Class 1, 6 or 7, reserved by §12.1: a message format error on receipt.
    pub const fn is_reserved(self) -> bool {
        matches!(self.class(), 1 | 6 | 7)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({self})")
    }
}

/// The fixed header of a message whose version is 1.
///
/// `token_len` is the raw TKL field (0 to 15): [`parse_header`] does not
/// judge it, so that a message with a bad TKL can still be rejected by
/// Message ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Message type.
    pub mtype: MessageType,
    /// Token Length field as received, 0 to 15.
    pub token_len: u8,
    /// Request method or response code.
    pub code: Code,
    /// Message ID.
    pub mid: u16,
}

/// Reads the fixed header, checking only its length and the version.
///
/// This is what the engine needs when [`Message::parse`](super::Message::parse)
/// fails: `Err(Truncated)` or `Err(Version)` mean "ignore silently", `Ok` means
/// a CON can be rejected with a Reset of the same Message ID (§4.2).
///
/// ```
/// use mpcoap::codec::{parse_header, Code, FormatError, MessageType};
/// let h = parse_header(&[0x44, 0x01, 0x12, 0x34, 0xaa]).unwrap();
/// assert_eq!((h.mtype, h.token_len, h.code, h.mid), (MessageType::Con, 4, Code::GET, 0x1234));
/// // A header with TKL 15 is still readable: the engine can send RST for MID 7.
/// assert_eq!(parse_header(&[0x4f, 0x01, 0x00, 0x07]).unwrap().mid, 7);
/// assert_eq!(parse_header(&[0x44, 0x01, 0x12]), Err(FormatError::Truncated));
/// assert_eq!(parse_header(&[0x04, 0x01, 0x12, 0x34]), Err(FormatError::Version));
/// ```
pub fn parse_header(datagram: &[u8]) -> Result<Header, FormatError> {
    match datagram {
        [first, code, mid_hi, mid_lo, ..] => {
            if first >> 6 != VERSION {
                return Err(FormatError::Version);
            }
            Ok(Header {
                mtype: MessageType::from_bits(first >> 4),
                token_len: first & 0x0f,
                code: Code(*code),
                mid: u16::from_be_bytes([*mid_hi, *mid_lo]),
            })
        }
        _ => Err(FormatError::Truncated),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let h = parse_header(&[0x7f, 0xa5, 0xff, 0xfe]).unwrap();
        assert_eq!(h.mtype, MessageType::Rst);
        assert_eq!(h.token_len, 15);
        assert_eq!(h.code, Code::new(5, 5));
        assert_eq!(h.mid, 0xfffe);
        assert_eq!(
            parse_header(&[0x50, 0, 0, 0]).unwrap().mtype,
            MessageType::Non
        );
        assert_eq!(
            parse_header(&[0x60, 0, 0, 0]).unwrap().mtype,
            MessageType::Ack
        );
    }

    #[test]
    fn header_version_and_length() {
        for v in [0u8, 2, 3] {
            assert_eq!(parse_header(&[v << 6, 0, 0, 0]), Err(FormatError::Version));
        }
        for n in 0..4 {
            assert_eq!(parse_header(&[0x40; 4][..n]), Err(FormatError::Truncated));
        }
    }

    #[test]
    fn code_classes() {
        assert_eq!(Code::PROXYING_NOT_SUPPORTED.0, 0xa5);
        assert_eq!(Code::UNSUPPORTED_CONTENT_FORMAT.0, 0x8f);
        assert_eq!(Code::CONTINUE.0, 0x5f);
        assert!(Code::EMPTY.is_empty() && !Code::EMPTY.is_request());
        for c in 0..=255u8 {
            let code = Code(c);
            assert_eq!(Code::new(code.class(), code.detail()), code);
            let kinds = [
                code.is_empty(),
                code.is_request(),
                code.is_response(),
                code.is_reserved(),
            ];
            assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{code}");
        }
        assert_eq!(format!("{}", Code::REQUEST_ENTITY_TOO_LARGE), "4.13");
        assert_eq!(format!("{:?}", Code::GET), "Code(0.01)");
    }
}

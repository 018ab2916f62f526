//! The CoAP wire format: parse one datagram, emit one datagram, the option
//! registry. No state, no allocation, no panics on any input.
//!
//! Implemented from RFC 7252:
//! - §3 message format: fixed header, token, options, payload marker;
//! - §3.1 option delta and length encoding (4-bit, 8-bit, 16-bit extended);
//! - §3.2 option value formats (empty, opaque, uint in minimal form, string);
//! - §4.1 Empty message rules; §4.2 format errors (the caller rejects);
//! - §5.4.1-§5.4.6 critical/elective, unsafe, NoCacheKey, length bounds
//!   (§5.4.3), repeatability (§5.4.5);
//! - §5.10 and §12.2 option registry, plus Observe (RFC 7641) and Block1,
//!   Block2, Size2 (RFC 7959); §12.1 code classes, §12.3 content formats.
//!
//! The shape follows smoltcp's wire modules: [`Message`] is a validated
//! zero-copy view over a datagram, [`MessageRepr`] a plain struct that
//! [`MessageRepr::emit`] writes into a caller's buffer.
//!
//! ```
//! use mpcoap::codec::{option, Code, Message, MessageRepr, MessageType};
//! let mut req: MessageRepr = MessageRepr::new(MessageType::Con, Code::GET, 0x1234);
//! req.token = &[1, 2, 3, 4];
//! req.push_bytes(option::URI_PATH, b"sensors")?;
//! req.push_bytes(option::URI_QUERY, b"unit=c")?;
//! req.push_bytes(option::URI_PATH, b"temp")?; // sorted on emit, after "sensors"
//! let mut buf = [0u8; 64];
//! let n = req.emit(&mut buf)?;
//! assert_eq!(n, 28);
//! let msg = Message::parse(&buf[..n]).unwrap();
//! let segs: Vec<_> = msg.options_numbered(option::URI_PATH).map(|o| o.value).collect();
//! assert_eq!(segs, [&b"sensors"[..], b"temp"]);
//! # Ok::<(), mpcoap::codec::EncodeError>(())
//! ```

#![forbid(unsafe_code)]

mod error;
#[cfg(test)]
mod fixtures;
mod header;
mod message;
pub mod option;
mod repr;

pub use error::{EncodeError, FormatError};
pub use header::{
    parse_header, Code, Header, MessageType, HEADER_LEN, MAX_TOKEN_LEN, PAYLOAD_MARKER, VERSION,
};
pub use message::{CoapOption, Message, Numbered, Options};
pub use repr::{MessageRepr, OptionRepr, OptionValue, MAX_OPTIONS, MAX_OPTION_LEN};

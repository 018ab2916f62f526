//! The zero-copy message view: [`Message::parse`] validates a whole datagram
//! once (RFC 7252 §3, §3.1, §4.1); the accessors then cannot fail.

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u8};
use nom::IResult;

use super::header::{parse_header, Header, MAX_TOKEN_LEN, PAYLOAD_MARKER};
use super::option;
use super::{Code, FormatError, MessageType};

/// One option instance inside a parsed message, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CoapOption<'a> {
    /// Option number (the running sum of deltas).
    pub number: u16,
    /// The value bytes as received.
    pub value: &'a [u8],
}

impl<'a> CoapOption<'a> {
    /// The value read as a uint (§3.2); see [`option::decode_uint`].
    pub fn uint(&self) -> u32 {
        option::decode_uint(self.value)
    }

    /// Whether the number is known and the length within its bounds
    /// (§5.4.3); see [`option::is_recognized`].
    pub fn is_recognized(&self) -> bool {
        option::is_recognized(self.number, self.value.len())
    }

    /// Whether the option is critical (§5.4.1).
    pub fn is_critical(&self) -> bool {
        option::is_critical(self.number)
    }
}

/// A validated CoAP message borrowed from its datagram.
///
/// ```
/// use mpcoap::codec::{option, Code, FormatError, Message, MessageType};
/// // CON GET, MID 0x1234, token 01020304, Uri-Path "sensors", "temp", Uri-Query "unit=c".
/// let bytes = [
///     0x44, 0x01, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04, 0xb7, b's', b'e', b'n', b's', b'o',
///     b'r', b's', 0x04, b't', b'e', b'm', b'p', 0x46, b'u', b'n', b'i', b't', b'=', b'c',
/// ];
/// let msg = Message::parse(&bytes).unwrap();
/// assert_eq!((msg.mtype(), msg.code(), msg.mid()), (MessageType::Con, Code::GET, 0x1234));
/// assert_eq!(msg.token(), &[1, 2, 3, 4]);
/// let path: Vec<&[u8]> = msg.options_numbered(option::URI_PATH).map(|o| o.value).collect();
/// assert_eq!(path, [&b"sensors"[..], &b"temp"[..]]);
/// assert!(msg.payload().is_empty());
///
/// // The same message cut inside the last option value.
/// assert_eq!(Message::parse(&bytes[..27]).unwrap_err(), FormatError::Truncated);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Message<'a> {
    header: Header,
    token: &'a [u8],
    options: &'a [u8],
    payload: &'a [u8],
}

type PResult<'a, T> = IResult<&'a [u8], T, FormatError>;

fn fail<T>(e: FormatError) -> Result<T, nom::Err<FormatError>> {
    Err(nom::Err::Error(e))
}

/// Reads the extended part of a delta or length nibble (§3.1).
#[inline(always)]
fn extended(input: &[u8], nibble: u8, reserved: FormatError) -> PResult<'_, u32> {
    match nibble {
        0..=12 => Ok((input, u32::from(nibble))),
        13 => be_u8(input).map(|(rest, v)| (rest, u32::from(v) + 13)),
        14 => be_u16(input).map(|(rest, v)| (rest, u32::from(v) + 269)),
        _ => fail(reserved),
    }
}

/// One option header and value, after the previous option numbered `prev`;
/// `Ok(None)` at the payload marker.
#[inline(always)]
fn option_entry(input: &[u8], prev: u16) -> PResult<'_, Option<CoapOption<'_>>> {
    let (rest, first) = be_u8(input)?;
    if first == PAYLOAD_MARKER {
        return Ok((rest, None));
    }
    let (rest, delta) = extended(rest, first >> 4, FormatError::ReservedDelta)?;
    let (rest, len) = extended(rest, first & 0x0f, FormatError::ReservedLength)?;
    let Ok(number) = u16::try_from(u32::from(prev) + delta) else {
        return fail(FormatError::OptionNumber);
    };
    let (rest, value) = take(len)(rest)?;
    Ok((rest, Some(CoapOption { number, value })))
}

fn unwrap_nom<T>(r: Result<T, nom::Err<FormatError>>) -> Result<T, FormatError> {
    r.map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => FormatError::Truncated,
    })
}

impl<'a> Message<'a> {
    /// Parses and validates a complete datagram.
    ///
    /// Checks, in order: header length and version, TKL, code class, the
    /// Empty-message rule, the token, then every option (reserved nibbles,
    /// extended fields, number overflow, value length) and the payload marker.
    /// Option *semantics* (unknown numbers, value lengths outside the table)
    /// are not format errors: see [`CoapOption::is_recognized`] and
    /// [`Message::critical_option_error`].
    ///
    /// ```
    /// use mpcoap::codec::{FormatError, Message};
    /// // Ping: an Empty CON.
    /// assert!(Message::parse(&[0x40, 0x00, 0xab, 0xcd]).is_ok());
    /// // Empty with a trailing byte.
    /// assert_eq!(Message::parse(&[0x40, 0x00, 0xab, 0xcd, 0xff]).unwrap_err(), FormatError::EmptyMessage);
    /// // Payload marker and nothing after it.
    /// assert_eq!(Message::parse(&[0x40, 0x01, 0, 1, 0xff]).unwrap_err(), FormatError::EmptyPayload);
    /// // Option byte 0xF1: delta nibble 15 without being the marker.
    /// assert_eq!(Message::parse(&[0x40, 0x01, 0, 1, 0xf1, 0]).unwrap_err(), FormatError::ReservedDelta);
    /// ```
    pub fn parse(datagram: &'a [u8]) -> Result<Message<'a>, FormatError> {
        let header = parse_header(datagram)?;
        let rest = datagram.get(super::HEADER_LEN..).unwrap_or_default();
        if usize::from(header.token_len) > MAX_TOKEN_LEN {
            return Err(FormatError::TokenLength);
        }
        if header.code.is_reserved() {
            return Err(FormatError::ReservedClass);
        }
        if header.code.is_empty() && !(header.token_len == 0 && rest.is_empty()) {
            return Err(FormatError::EmptyMessage);
        }
        let (rest, token) = unwrap_nom(take(header.token_len)(rest))?;
        let (options, payload) = Self::split_options(rest)?;
        Ok(Message {
            header,
            token,
            options,
            payload,
        })
    }

    /// Validates the option region; returns it (without the marker) and the payload.
    fn split_options(region: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), FormatError> {
        let mut rest = region;
        let mut number = 0u16;
        while !rest.is_empty() {
            let (after, entry) = unwrap_nom(option_entry(rest, number))?;
            match entry {
                Some(opt) => number = opt.number,
                None => {
                    if after.is_empty() {
                        return Err(FormatError::EmptyPayload);
                    }
                    let opts_len = region.len() - rest.len();
                    let opts = region.get(..opts_len).unwrap_or_default();
                    return Ok((opts, after));
                }
            }
            rest = after;
        }
        Ok((region, &[]))
    }

    /// The fixed header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Message type.
    pub fn mtype(&self) -> MessageType {
        self.header.mtype
    }

    /// Request method or response code.
    pub fn code(&self) -> Code {
        self.header.code
    }

    /// Message ID.
    pub fn mid(&self) -> u16 {
        self.header.mid
    }

    /// Token, 0 to 8 bytes.
    pub fn token(&self) -> &'a [u8] {
        self.token
    }

    /// The options in wire order (ascending numbers, repeats in order).
    pub fn options(&self) -> Options<'a> {
        Options {
            rest: self.options,
            number: 0,
        }
    }

    /// The first option numbered `number`.
    ///
    /// ```
    /// use mpcoap::codec::{option, Message};
    /// // ACK 2.05 with Content-Format 40 (one byte) and no payload.
    /// let msg = Message::parse(&[0x60, 0x45, 0, 9, 0xc1, 40]).unwrap();
    /// assert_eq!(msg.option(option::CONTENT_FORMAT).map(|o| o.uint()), Some(40));
    /// assert_eq!(msg.option(option::MAX_AGE), None);
    /// ```
    pub fn option(&self, number: u16) -> Option<CoapOption<'a>> {
        self.options_numbered(number).next()
    }

    /// Every instance of option `number`, in order (e.g. Uri-Path segments).
    pub fn options_numbered(&self, number: u16) -> Numbered<'a> {
        Numbered { options: self.options(), number }
    }

    /// The number of the first critical option that §5.4.1 says must cause
    /// rejection: unknown, value length outside its bounds (§5.4.3), or a
    /// repeat of a non-repeatable option (§5.4.5).
    ///
    /// ```
    /// use mpcoap::codec::Message;
    /// // GET with option 9 (critical, unassigned), empty value.
    /// assert_eq!(Message::parse(&[0x40, 0x01, 0, 1, 0x90]).unwrap().critical_option_error(), Some(9));
    /// // Option 10 is elective: ignored.
    /// assert_eq!(Message::parse(&[0x40, 0x01, 0, 1, 0xa0]).unwrap().critical_option_error(), None);
    /// ```
    pub fn critical_option_error(&self) -> Option<u16> {
        let mut prev: Option<u16> = None;
        for opt in self.options() {
            let repeat = prev == Some(opt.number) && !option::is_repeatable(opt.number);
            if opt.is_critical() && (repeat || !opt.is_recognized()) {
                return Some(opt.number);
            }
            prev = Some(opt.number);
        }
        None
    }

    /// The payload, empty if there is none.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The raw option region (between token and payload marker).
    pub fn options_bytes(&self) -> &'a [u8] {
        self.options
    }
}

/// Iterator over the options of a [`Message`]; never fails because the
/// region was validated by [`Message::parse`].
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    rest: &'a [u8],
    number: u16,
}

impl<'a> Iterator for Options<'a> {
    type Item = CoapOption<'a>;

    #[inline]
    fn next(&mut self) -> Option<CoapOption<'a>> {
        // Already validated: an error here cannot happen and ends the iteration.
        match option_entry(self.rest, self.number) {
            Ok((rest, Some(opt))) => {
                self.rest = rest;
                self.number = opt.number;
                Some(opt)
            }
            _ => {
                self.rest = &[];
                None
            }
        }
    }
}

impl core::iter::FusedIterator for Options<'_> {}

/// Iterator over the instances of one option number, from
/// [`Message::options_numbered`]. A plain loop rather than an adapter chain:
/// it is used in several places and stays one small function in firmware.
#[derive(Debug, Clone, Default)]
pub struct Numbered<'a> {
    options: Options<'a>,
    number: u16,
}

impl<'a> Iterator for Numbered<'a> {
    type Item = CoapOption<'a>;

    fn next(&mut self) -> Option<CoapOption<'a>> {
        // Options come in ascending order: skip the smaller numbers, stop
        // for good at the first larger one.
        loop {
            let opt = self.options.next()?;
            if opt.number == self.number {
                return Some(opt);
            }
            if opt.number > self.number {
                self.options.rest = &[];
                return None;
            }
        }
    }
}

impl core::iter::FusedIterator for Numbered<'_> {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::codec::option::*;
    use std::vec::Vec;

    fn err(bytes: &[u8]) -> FormatError {
        Message::parse(bytes).unwrap_err()
    }

    fn opts(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        Message::parse(bytes)
            .unwrap()
            .options()
            .map(|o| (o.number, o.value.to_vec()))
            .collect()
    }

    /// GET, MID 1, no token, then `rest`.
    fn get(rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0x40, 0x01, 0x00, 0x01];
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn version_must_be_1() {
        for first in [0x00u8, 0x80, 0xc0, 0x3f, 0xbf] {
            assert_eq!(err(&[first, 0x01, 0, 0]), FormatError::Version);
        }
        assert!(Message::parse(&[0x40, 0x01, 0, 0]).is_ok());
    }

    #[test]
    fn header_truncated() {
        for n in 0..4 {
            assert_eq!(err(&[0x40, 0x01, 0, 0][..n]), FormatError::Truncated);
        }
    }

    #[test]
    fn token_length_rules() {
        let token = [0xa0u8, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7];
        for tkl in 0..=8usize {
            let mut m = vec![0x40 | tkl as u8, 0x01, 0, 0];
            m.extend_from_slice(&token[..tkl]);
            let msg = Message::parse(&m).unwrap();
            assert_eq!(msg.token(), &token[..tkl]);
            assert!(msg.payload().is_empty() && msg.options().next().is_none());
            // One byte short of the token.
            if tkl > 0 {
                assert_eq!(err(&m[..m.len() - 1]), FormatError::Truncated);
            }
        }
        for tkl in 9..=15u8 {
            let mut m = vec![0x40 | tkl, 0x01, 0, 0];
            m.extend_from_slice(&[0; 15]);
            assert_eq!(err(&m), FormatError::TokenLength);
        }
    }

    #[test]
    fn code_classes() {
        for class in [1u8, 6, 7] {
            for detail in [0u8, 1, 31] {
                assert_eq!(
                    err(&[0x40, (class << 5) | detail, 0, 0]),
                    FormatError::ReservedClass
                );
            }
        }
        for class in [0u8, 2, 3, 4, 5] {
            assert!(Message::parse(&[0x60, (class << 5) | 1, 0, 0]).is_ok());
        }
    }

    #[test]
    fn empty_message_rules() {
        // Ping (CON), its RST, an empty ACK: all valid.
        for first in [0x40u8, 0x50, 0x60, 0x70] {
            let m = [first, 0x00, 0x12, 0x34];
            let msg = Message::parse(&m).unwrap();
            assert!(msg.code().is_empty());
            assert_eq!(msg.mid(), 0x1234);
        }
        // Token, option, payload marker, anything after the MID: format error.
        assert_eq!(err(&[0x41, 0x00, 0, 1, 0xaa]), FormatError::EmptyMessage);
        assert_eq!(err(&[0x41, 0x00, 0, 1]), FormatError::EmptyMessage);
        assert_eq!(err(&[0x40, 0x00, 0, 1, 0xb0]), FormatError::EmptyMessage);
        assert_eq!(
            err(&[0x40, 0x00, 0, 1, 0xff, 0x01]),
            FormatError::EmptyMessage
        );
        assert_eq!(err(&[0x70, 0x00, 0, 1, 0x00]), FormatError::EmptyMessage);
    }

    #[test]
    fn payload_marker_rules() {
        let m = get(&[0xff, b'h', b'i']);
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.payload(), b"hi");
        assert!(msg.options().next().is_none());
        assert_eq!(err(&get(&[0xff])), FormatError::EmptyPayload);
        assert_eq!(err(&get(&[0xb1, b'a', 0xff])), FormatError::EmptyPayload);
        // The payload may hold 0xff bytes and anything else.
        let m = get(&[0xb1, b'a', 0xff, 0xff, 0xf0, 0x0f]);
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.payload(), &[0xff, 0xf0, 0x0f]);
        assert_eq!(opts(&get(&[0xb1, b'a', 0xff, 0xff])), [(11, b"a".to_vec())]);
        // Token then payload directly.
        let msg = Message::parse(&[0x42, 0x02, 0, 1, 7, 8, 0xff, 0]).unwrap();
        assert_eq!((msg.token(), msg.payload()), (&[7u8, 8][..], &[0u8][..]));
    }

    #[test]
    fn reserved_nibbles() {
        for low in 0..=14u8 {
            assert_eq!(err(&get(&[0xf0 | low, 0, 0])), FormatError::ReservedDelta);
        }
        for high in 0..=14u8 {
            assert_eq!(
                err(&get(&[(high << 4) | 0x0f, 0, 0, 0])),
                FormatError::ReservedLength
            );
        }
        // After a valid option too.
        assert_eq!(err(&get(&[0xb0, 0x1f])), FormatError::ReservedLength);
    }

    #[test]
    fn extended_delta_boundaries() {
        // 12: nibble; 13: 13+0; 268: 13+255; 269: 14 + 0x0000.
        assert_eq!(opts(&get(&[0xc0])), [(12, vec![])]);
        assert_eq!(opts(&get(&[0xd0, 0x00])), [(13, vec![])]);
        assert_eq!(opts(&get(&[0xd0, 0xff])), [(268, vec![])]);
        assert_eq!(opts(&get(&[0xe0, 0x00, 0x00])), [(269, vec![])]);
        assert_eq!(opts(&get(&[0xe0, 0x01, 0x00])), [(525, vec![])]);
        // 65535 = 269 + 0xfef2: the last valid number.
        assert_eq!(opts(&get(&[0xe0, 0xfe, 0xf2])), [(65535, vec![])]);
        assert_eq!(err(&get(&[0xe0, 0xfe, 0xf3])), FormatError::OptionNumber);
        // Largest delta: 269 + 65535 = 65804.
        assert_eq!(err(&get(&[0xe0, 0xff, 0xff])), FormatError::OptionNumber);
        // Overflow by accumulation: 65535 then delta 1.
        assert_eq!(
            err(&get(&[0xe0, 0xfe, 0xf2, 0x10])),
            FormatError::OptionNumber
        );
        // 65535 then delta 0 (a repeat) is fine.
        assert_eq!(opts(&get(&[0xe0, 0xfe, 0xf2, 0x00])).len(), 2);
        // Missing extended bytes.
        assert_eq!(err(&get(&[0xd0])), FormatError::Truncated);
        assert_eq!(err(&get(&[0xe0, 0x00])), FormatError::Truncated);
    }

    #[test]
    fn extended_length_boundaries() {
        for len in [0usize, 1, 12, 13, 14, 268, 269, 270, 1034, 65804] {
            let mut m = get(&[]);
            match len {
                0..=12 => m.push(len as u8),
                13..=268 => m.extend_from_slice(&[0x0d, (len - 13) as u8]),
                _ => {
                    m.push(0x0e);
                    m.extend_from_slice(&((len - 269) as u16).to_be_bytes());
                }
            }
            let start = m.len();
            m.extend((0..len).map(|i| i as u8));
            let msg = Message::parse(&m).unwrap();
            let o: Vec<_> = msg.options().collect();
            assert_eq!(o.len(), 1);
            assert_eq!((o[0].number, o[0].value), (0, &m[start..]));
            if len > 0 {
                assert_eq!(err(&m[..m.len() - 1]), FormatError::Truncated, "{len}");
            }
        }
        assert_eq!(err(&get(&[0x0d])), FormatError::Truncated);
        assert_eq!(err(&get(&[0x0e, 0x01])), FormatError::Truncated);
    }

    #[test]
    fn options_in_wire_order() {
        // Uri-Path "a", "", "bc" (repeat with delta 0), Uri-Query "q".
        let m = get(&[0xb1, b'a', 0x00, 0x02, b'b', b'c', 0x41, b'q']);
        assert_eq!(
            opts(&m),
            [
                (11, b"a".to_vec()),
                (11, vec![]),
                (11, b"bc".to_vec()),
                (15, b"q".to_vec())
            ]
        );
        let msg = Message::parse(&m).unwrap();
        let path: Vec<_> = msg.options_numbered(URI_PATH).map(|o| o.value).collect();
        assert_eq!(path, [&b"a"[..], b"", b"bc"]);
        assert_eq!(msg.option(URI_QUERY).unwrap().value, b"q");
        assert!(msg.option(URI_HOST).is_none() && msg.option(60).is_none());
        assert_eq!(msg.options_bytes().len(), 8);
        assert_eq!(msg.critical_option_error(), None);
    }

    #[test]
    fn critical_options() {
        // Uri-Host twice: the repeat of a non-repeatable critical option.
        let m = get(&[0x31, b'a', 0x01, b'b']);
        assert_eq!(
            Message::parse(&m).unwrap().critical_option_error(),
            Some(URI_HOST)
        );
        // If-None-Match with a 1-byte value: bad length, critical.
        let m = get(&[0x51, 0x00]);
        assert_eq!(
            Message::parse(&m).unwrap().critical_option_error(),
            Some(IF_NONE_MATCH)
        );
        // Accept (17, critical) with 3 bytes.
        let m = get(&[0xd3, 0x04, 1, 2, 3]);
        assert_eq!(
            Message::parse(&m).unwrap().critical_option_error(),
            Some(ACCEPT)
        );
        // Max-Age (14, elective) with 5 bytes, ETag twice: ignorable.
        let m = get(&[0x41, 1, 0x01, 2, 0xa5, 1, 2, 3, 4, 5]);
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.critical_option_error(), None);
        assert!(!msg.option(MAX_AGE).unwrap().is_recognized());
        // Unknown critical 65535.
        let m = get(&[0xe0, 0xfe, 0xf2]);
        assert_eq!(
            Message::parse(&m).unwrap().critical_option_error(),
            Some(65535)
        );
    }

    #[test]
    fn header_accessors() {
        let m = [0x52, 0x45, 0xbe, 0xef, 9, 8, 0xff, b'x'];
        let msg = Message::parse(&m).unwrap();
        assert_eq!(msg.mtype(), MessageType::Non);
        assert_eq!(msg.code(), Code::CONTENT);
        assert_eq!(msg.mid(), 0xbeef);
        assert_eq!(msg.header(), parse_header(&m).unwrap());
    }
}

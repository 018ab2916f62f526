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
        Ok(Message { header, token, options, payload })
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
        Options { rest: self.options, number: 0 }
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
    pub fn options_numbered(&self, number: u16) -> impl Iterator<Item = CoapOption<'a>> + 'a {
        self.options()
            .skip_while(move |o| o.number < number)
            .take_while(move |o| o.number == number)
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
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
    number: u16,
}

impl<'a> Iterator for Options<'a> {
    type Item = CoapOption<'a>;

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

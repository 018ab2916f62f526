//! The owned-by-reference representation of a message and its encoder
//! (RFC 7252 §3, §3.1, §3.2).

use heapless::Vec;

use super::header::{HEADER_LEN, MAX_TOKEN_LEN, PAYLOAD_MARKER, VERSION};
use super::message::Message;
use super::option;
use super::{Code, EncodeError, MessageType};

/// Default capacity of [`MessageRepr::options`].
pub const MAX_OPTIONS: usize = 24;

/// Longest option value §3.1 can encode: 14 → 269 + 65535.
pub const MAX_OPTION_LEN: usize = 269 + 0xffff;

/// An option value to emit.
///
/// Equality compares the wire encoding, so `Uint(0) == Bytes(&[])` and
/// `Uint(60) == Bytes(&[60])`.
#[derive(Debug, Clone, Copy)]
pub enum OptionValue<'a> {
    /// Bytes written as they are (opaque, string, or a pre-encoded uint).
    Bytes(&'a [u8]),
    /// A uint, written in its minimal form (§3.2).
    Uint(u32),
}

impl<'a> OptionValue<'a> {
    /// Length of the encoded value.
    pub fn len(&self) -> usize {
        match self {
            Self::Bytes(b) => b.len(),
            Self::Uint(v) => option::uint_len(*v),
        }
    }

    /// Whether the encoded value is zero-length.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded value; `scratch` holds the bytes of a `Uint`.
    pub fn encoded<'s>(&'s self, scratch: &'s mut [u8; 4]) -> &'s [u8] {
        match self {
            Self::Bytes(b) => b,
            Self::Uint(v) => option::encode_uint(*v, scratch),
        }
    }
}

impl PartialEq for OptionValue<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
        self.encoded(&mut a) == other.encoded(&mut b)
    }
}

impl Eq for OptionValue<'_> {}

/// One option to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionRepr<'a> {
    /// Option number.
    pub number: u16,
    /// Value.
    pub value: OptionValue<'a>,
}

/// A message to emit, borrowing its token, option values and payload.
///
/// Options may be pushed in any order: [`emit`](MessageRepr::emit) writes
/// them sorted by number, keeping the push order of equal numbers (so
/// `Uri-Path` segments stay in sequence). `N` is the option capacity.
///
/// Equality is equality of the emitted bytes: options are compared in
/// emission order and values by their encoding.
///
/// ```
/// use mpcoap::codec::{option, Code, EncodeError, Message, MessageRepr, MessageType};
/// let mut repr: MessageRepr = MessageRepr::new(MessageType::Ack, Code::CONTENT, 0x1234);
/// repr.token = &[1, 2, 3, 4];
/// repr.push_uint(option::MAX_AGE, 60)?;
/// repr.push_uint(option::CONTENT_FORMAT, 0)?; // encoded as an empty value
/// repr.payload = b"21.5";
/// let mut buf = [0u8; 64];
/// let n = repr.emit(&mut buf)?;
/// assert_eq!(&buf[..n], &[0x64, 0x45, 0x12, 0x34, 1, 2, 3, 4, 0xc0, 0x21, 60, 0xff, b'2', b'1', b'.', b'5']);
/// assert_eq!(n, repr.buffer_len());
/// assert_eq!(MessageRepr::from_message(&Message::parse(&buf[..n]).unwrap())?, repr);
///
/// // Too small a buffer is an error, not a panic.
/// assert_eq!(repr.emit(&mut buf[..10]), Err(EncodeError::BufferTooSmall));
/// # Ok::<(), EncodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MessageRepr<'a, const N: usize = MAX_OPTIONS> {
    /// Message type.
    pub mtype: MessageType,
    /// Method or response code.
    pub code: Code,
    /// Message ID.
    pub mid: u16,
    /// Token, at most 8 bytes.
    pub token: &'a [u8],
    /// Options, in any order.
    pub options: Vec<OptionRepr<'a>, N>,
    /// Payload; the marker is written only when it is non-empty.
    pub payload: &'a [u8],
}

impl<'a, const N: usize> MessageRepr<'a, N> {
    /// A message without token, options or payload.
    pub fn new(mtype: MessageType, code: Code, mid: u16) -> Self {
        MessageRepr { mtype, code, mid, token: &[], options: Vec::new(), payload: &[] }
    }

    /// The representation of a parsed message (options as `Bytes`).
    ///
    /// Fails only with [`EncodeError::TooManyOptions`] when the message has
    /// more than `N` options.
    pub fn from_message(msg: &Message<'a>) -> Result<Self, EncodeError> {
        let mut repr = Self::new(msg.mtype(), msg.code(), msg.mid());
        repr.token = msg.token();
        repr.payload = msg.payload();
        for opt in msg.options() {
            repr.push_bytes(opt.number, opt.value)?;
        }
        Ok(repr)
    }

    /// Adds an option.
    pub fn push_option(&mut self, number: u16, value: OptionValue<'a>) -> Result<(), EncodeError> {
        self.options
            .push(OptionRepr { number, value })
            .map_err(|_| EncodeError::TooManyOptions)
    }

    /// Adds an option with a byte value (opaque or string).
    pub fn push_bytes(&mut self, number: u16, value: &'a [u8]) -> Result<(), EncodeError> {
        self.push_option(number, OptionValue::Bytes(value))
    }

    /// Adds a uint option, to be encoded minimally.
    pub fn push_uint(&mut self, number: u16, value: u32) -> Result<(), EncodeError> {
        self.push_option(number, OptionValue::Uint(value))
    }

    /// Whether the options are already in emission order.
    fn is_sorted(&self) -> bool {
        self.options.windows(2).all(|w| match w {
            [a, b] => a.number <= b.number,
            _ => true,
        })
    }

    /// The options in emission order: by number, then by push order
    /// (a stable sort without allocation; `N` is small).
    fn sorted(&self) -> impl Iterator<Item = &OptionRepr<'a>> + '_ {
        let sorted = self.is_sorted();
        let mut last: Option<(u16, usize)> = None;
        let mut i = 0;
        core::iter::from_fn(move || {
            if sorted {
                let o = self.options.get(i);
                i += 1;
                return o;
            }
            // Smallest (number, index) after the last one emitted.
            let next = self
                .options
                .iter()
                .enumerate()
                .map(|(idx, o)| (o.number, idx))
                .filter(|k| last.is_none_or(|l| *k > l))
                .min()?;
            last = Some(next);
            self.options.get(next.1)
        })
    }

    /// Exact number of bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let mut len = HEADER_LEN + self.token.len();
        let mut prev = 0u16;
        for opt in self.sorted() {
            let vlen = opt.value.len();
            len += 1 + ext_len(usize::from(opt.number - prev)) + ext_len(vlen) + vlen;
            prev = opt.number;
        }
        if !self.payload.is_empty() {
            len += 1 + self.payload.len();
        }
        len
    }

    /// Checks what the parser would reject.
    fn check(&self) -> Result<(), EncodeError> {
        if self.token.len() > MAX_TOKEN_LEN {
            return Err(EncodeError::TokenTooLong);
        }
        if self.code.is_reserved() {
            return Err(EncodeError::ReservedClass);
        }
        if self.code.is_empty()
            && !(self.token.is_empty() && self.options.is_empty() && self.payload.is_empty())
        {
            return Err(EncodeError::EmptyMessage);
        }
        if self.options.iter().any(|o| o.value.len() > MAX_OPTION_LEN) {
            return Err(EncodeError::OptionTooLong);
        }
        Ok(())
    }

    /// Writes the message into `buf` and returns its length.
    ///
    /// Never panics; on error `buf` may hold a partial message.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.check()?;
        let mut w = Writer { buf, pos: 0 };
        // TKL fits 4 bits: checked above.
        let tkl = self.token.len() as u8;
        w.put(&[(VERSION << 6) | (self.mtype.bits() << 4) | tkl, self.code.0])?;
        w.put(&self.mid.to_be_bytes())?;
        w.put(self.token)?;
        let mut prev = 0u16;
        let mut scratch = [0u8; 4];
        for opt in self.sorted() {
            let value = opt.value.encoded(&mut scratch);
            let (dn, dext, dlen) = nibble(usize::from(opt.number - prev));
            let (ln, lext, llen) = nibble(value.len());
            w.put(&[(dn << 4) | ln])?;
            w.put(dext.get(..dlen).unwrap_or_default())?;
            w.put(lext.get(..llen).unwrap_or_default())?;
            w.put(value)?;
            prev = opt.number;
        }
        if !self.payload.is_empty() {
            w.put(&[PAYLOAD_MARKER])?;
            w.put(self.payload)?;
        }
        Ok(w.pos)
    }
}

impl<const N: usize> PartialEq for MessageRepr<'_, N> {
    fn eq(&self, other: &Self) -> bool {
        self.mtype == other.mtype
            && self.code == other.code
            && self.mid == other.mid
            && self.token == other.token
            && self.payload == other.payload
            && self.options.len() == other.options.len()
            && self.sorted().eq(other.sorted())
    }
}

impl<const N: usize> Eq for MessageRepr<'_, N> {}

/// Extra bytes after the option header byte for a delta or length (§3.1).
const fn ext_len(v: usize) -> usize {
    match v {
        0..=12 => 0,
        13..=268 => 1,
        _ => 2,
    }
}

/// Nibble and extended bytes for a delta or length of at most `MAX_OPTION_LEN`.
fn nibble(v: usize) -> (u8, [u8; 2], usize) {
    match v {
        0..=12 => (v as u8, [0; 2], 0),
        13..=268 => (13, [(v - 13) as u8, 0], 1),
        _ => (14, ((v - 269) as u16).to_be_bytes(), 2),
    }
}

/// Bounds-checked cursor over the output buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos + bytes.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
}

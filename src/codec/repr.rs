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
        MessageRepr {
            mtype,
            code,
            mid,
            token: &[],
            options: Vec::new(),
            payload: &[],
        }
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
            len += 1 + ext_len(usize::from(opt.number.wrapping_sub(prev))) + ext_len(vlen) + vlen;
            prev = opt.number;
        }
        if !self.payload.is_empty() {
            len += 1 + self.payload.len();
        }
        len
    }

    /// Checks what the parser would reject (value lengths are checked
    /// while writing).
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
        let [mid_hi, mid_lo] = self.mid.to_be_bytes();
        w.put_fixed([
            (VERSION << 6) | (self.mtype.bits() << 4) | tkl,
            self.code.0,
            mid_hi,
            mid_lo,
        ])?;
        w.put(self.token)?;
        let mut prev = 0u16;
        if self.is_sorted() {
            // The common case: options pushed in order, no selection needed.
            for opt in self.options.iter() {
                w.option(prev, opt)?;
                prev = opt.number;
            }
        } else {
            for opt in self.sorted() {
                w.option(prev, opt)?;
                prev = opt.number;
            }
        }
        if !self.payload.is_empty() {
            w.put_fixed([PAYLOAD_MARKER])?;
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

/// Bounds-checked cursor over the output buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall)?;
        if bytes.len() <= 16 {
            // Short copies (most option values) are cheaper than a memcpy call.
            for (d, s) in dst.iter_mut().zip(bytes) {
                *d = *s;
            }
        } else {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
        Ok(())
    }

    /// A fixed-size write: one store instead of a loop.
    #[inline(always)]
    fn put_fixed<const K: usize>(&mut self, bytes: [u8; K]) -> Result<(), EncodeError> {
        let end = self.pos + K;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall)?
            .copy_from_slice(&bytes);
        self.pos = end;
        Ok(())
    }

    /// One option after option `prev`: header byte, extended delta and
    /// length (§3.1), value. Inlined on hosted targets, where the encoder's
    /// speed is measured (benches/codec.rs); out of line on bare-metal
    /// firmware targets, where one copy saves 466 bytes of flash.
    #[cfg_attr(target_os = "none", inline(never))]
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn option(&mut self, prev: u16, opt: &OptionRepr<'_>) -> Result<(), EncodeError> {
        let mut head = [0u8; 9];
        let mut n = 1;
        let delta = usize::from(opt.number.wrapping_sub(prev));
        let (value, uint_bytes) = match opt.value {
            OptionValue::Bytes(b) => (b, 0),
            OptionValue::Uint(_) => (&[][..], opt.value.len()),
        };
        let len = value.len() + uint_bytes;
        if len > MAX_OPTION_LEN {
            return Err(EncodeError::OptionTooLong);
        }
        let mut nibble = |v: usize, head: &mut [u8; 9]| -> u8 {
            match v {
                0..=12 => v as u8,
                13..=268 => {
                    if let Some(b) = head.get_mut(n) {
                        *b = (v - 13) as u8;
                    }
                    n += 1;
                    13
                }
                _ => {
                    let [hi, lo] = ((v - 269) as u16).to_be_bytes();
                    if let Some([h, l]) = head.get_mut(n..n + 2) {
                        (*h, *l) = (hi, lo);
                    }
                    n += 2;
                    14
                }
            }
        };
        let dn = nibble(delta, &mut head);
        let ln = nibble(len, &mut head);
        if let Some(first) = head.first_mut() {
            *first = (dn << 4) | ln;
        }
        if let OptionValue::Uint(v) = opt.value {
            let be = v.to_be_bytes();
            if let (Some(dst), Some(src)) =
                (head.get_mut(n..n + uint_bytes), be.get(4 - uint_bytes..))
            {
                dst.copy_from_slice(src);
            }
            n += uint_bytes;
        }
        self.put(head.get(..n).unwrap_or_default())?;
        if value.is_empty() {
            return Ok(());
        }
        self.put(value)
    }
}
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::codec::option::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn emit<const N: usize>(repr: &MessageRepr<'_, N>) -> Vec<u8> {
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf).unwrap();
        assert_eq!(n, buf.len());
        buf
    }

    fn get() -> MessageRepr<'static> {
        MessageRepr::new(MessageType::Con, Code::GET, 1)
    }

    #[test]
    fn reference_request_bytes() {
        let mut r = get();
        r.mid = 0x1234;
        r.token = &[1, 2, 3, 4];
        r.push_bytes(URI_QUERY, b"unit=c").unwrap();
        r.push_bytes(URI_PATH, b"sensors").unwrap();
        r.push_bytes(URI_PATH, b"temp").unwrap();
        let want = b"\x44\x01\x12\x34\x01\x02\x03\x04\xb7sensors\x04temp\x46unit=c";
        assert_eq!(emit(&r), want);
    }

    #[test]
    fn stable_sort_keeps_repeat_order() {
        let mut r = get();
        for (n, v) in [
            (15, "q1"),
            (11, "a"),
            (60, ""),
            (11, "b"),
            (15, "q2"),
            (11, "c"),
            (3, "h"),
        ] {
            r.push_bytes(n, v.as_bytes()).unwrap();
        }
        let bytes = emit(&r);
        let msg = Message::parse(&bytes).unwrap();
        let got: Vec<_> = msg.options().map(|o| (o.number, o.value)).collect();
        let want: [(u16, &[u8]); 7] = [
            (3, b"h"),
            (11, b"a"),
            (11, b"b"),
            (11, b"c"),
            (15, b"q1"),
            (15, b"q2"),
            (60, b""),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn delta_and_length_encodings() {
        // (number, value length) → expected option header bytes.
        let cases: [(u16, usize, &[u8]); 9] = [
            (12, 12, &[0xcc]),
            (13, 13, &[0xdd, 0, 0]),
            (268, 268, &[0xdd, 255, 255]),
            (269, 269, &[0xee, 0, 0, 0, 0]),
            (270, 1034, &[0xee, 0, 1, 0x02, 0xfd]),
            (65535, 0, &[0xe0, 0xfe, 0xf2]),
            (14, 65804, &[0xde, 1, 0xff, 0xff]),
            (0, 0, &[0x00]),
            (1, 1, &[0x11]),
        ];
        let value = vec![0x5a; 65804];
        for (number, len, head) in cases {
            let mut r = get();
            r.push_bytes(number, &value[..len]).unwrap();
            let bytes = emit(&r);
            assert_eq!(&bytes[4..4 + head.len()], head, "{number}/{len}");
            assert_eq!(bytes.len(), 4 + head.len() + len);
            let msg = Message::parse(&bytes).unwrap();
            let o = msg.option(number).unwrap();
            assert_eq!(o.value.len(), len);
        }
        let mut too_long = value.clone();
        too_long.push(0);
        let mut r = get();
        r.push_bytes(0, &value[..65804]).unwrap();
        r.push_bytes(1, &too_long).unwrap();
        assert_eq!(
            r.emit(&mut vec![0; 200_000]),
            Err(EncodeError::OptionTooLong)
        );
    }

    #[test]
    fn uint_values_are_minimal() {
        let mut r = get();
        r.push_uint(CONTENT_FORMAT, 0).unwrap();
        r.push_uint(MAX_AGE, 60).unwrap();
        r.push_uint(SIZE1, 0x0100_0000).unwrap();
        r.push_uint(SIZE2, 256).unwrap();
        assert_eq!(
            &emit(&r)[4..],
            &[0xc0, 0x21, 60, 0xd2, 1, 1, 0, 0xd4, 19, 1, 0, 0, 0]
        );
        assert_eq!(OptionValue::Uint(0), OptionValue::Bytes(&[]));
        assert_eq!(OptionValue::Uint(256), OptionValue::Bytes(&[1, 0]));
        assert_ne!(OptionValue::Uint(1), OptionValue::Bytes(&[0, 1]));
    }

    #[test]
    fn payload_marker_only_with_payload() {
        let mut r = get();
        assert_eq!(emit(&r), [0x40, 1, 0, 1]);
        r.payload = b"x";
        assert_eq!(emit(&r), [0x40, 1, 0, 1, 0xff, b'x']);
    }

    #[test]
    fn refuses_what_parse_rejects() {
        let mut r = get();
        r.token = &[0; 9];
        assert_eq!(r.emit(&mut [0; 64]), Err(EncodeError::TokenTooLong));
        let mut r = get();
        r.code = Code::new(7, 1);
        assert_eq!(r.emit(&mut [0; 64]), Err(EncodeError::ReservedClass));
        let mut r = get();
        r.code = Code::EMPTY;
        assert_eq!(emit(&r), [0x40, 0, 0, 1]);
        r.payload = b"x";
        assert_eq!(r.emit(&mut [0; 64]), Err(EncodeError::EmptyMessage));
        r.payload = b"";
        r.token = &[1];
        assert_eq!(r.emit(&mut [0; 64]), Err(EncodeError::EmptyMessage));
        r.token = &[];
        r.push_uint(URI_PORT, 0).unwrap();
        assert_eq!(r.emit(&mut [0; 64]), Err(EncodeError::EmptyMessage));
    }

    #[test]
    fn capacity_and_short_buffers() {
        let mut r: MessageRepr<'_, 2> = MessageRepr::new(MessageType::Non, Code::POST, 9);
        r.push_uint(URI_PATH, 1).unwrap();
        r.push_uint(URI_PATH, 2).unwrap();
        assert_eq!(r.push_uint(URI_PATH, 3), Err(EncodeError::TooManyOptions));
        r.token = &[1, 2];
        r.payload = b"abc";
        let full = emit(&r);
        for k in 0..full.len() {
            let mut buf = vec![0u8; k];
            assert_eq!(r.emit(&mut buf), Err(EncodeError::BufferTooSmall), "{k}");
        }
        // Room to spare: same bytes.
        let mut buf = [0u8; 64];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &full[..]);
    }

    #[test]
    fn from_message_capacity() {
        let bytes = [0x40, 1, 0, 1, 0x10, 0x00, 0x00];
        let msg = Message::parse(&bytes).unwrap();
        assert_eq!(
            MessageRepr::<2>::from_message(&msg).unwrap_err(),
            EncodeError::TooManyOptions
        );
        assert_eq!(
            MessageRepr::<3>::from_message(&msg).unwrap().options.len(),
            3
        );
    }

    #[test]
    fn equality_is_wire_equality() {
        let mut a = get();
        a.push_bytes(URI_PATH, b"x").unwrap();
        a.push_uint(CONTENT_FORMAT, 0).unwrap();
        let mut b = get();
        b.push_bytes(CONTENT_FORMAT, b"").unwrap();
        b.push_bytes(URI_PATH, b"x").unwrap();
        assert_eq!(a, b);
        b.push_bytes(URI_PATH, b"x").unwrap();
        assert_ne!(a, b);
    }

    // --- property tests -------------------------------------------------

    const PROP_N: usize = 32;

    #[derive(Debug, Clone)]
    struct Owned {
        mtype: u8,
        code: u8,
        mid: u16,
        token: Vec<u8>,
        options: Vec<(u16, Result<Vec<u8>, u32>)>,
        payload: Vec<u8>,
    }

    impl Owned {
        fn repr(&self) -> MessageRepr<'_, PROP_N> {
            let mut r = MessageRepr::new(
                MessageType::from_bits(self.mtype),
                Code(self.code),
                self.mid,
            );
            r.token = &self.token;
            r.payload = &self.payload;
            for (n, v) in &self.options {
                let value = match v {
                    Ok(b) => OptionValue::Bytes(b),
                    Err(u) => OptionValue::Uint(*u),
                };
                r.push_option(*n, value).unwrap();
            }
            r
        }
    }

    fn number() -> impl Strategy<Value = u16> {
        prop_oneof![0u16..=64, 250u16..=300, 65000u16..=65535, any::<u16>()]
    }

    fn value() -> impl Strategy<Value = Result<Vec<u8>, u32>> {
        // Long values (two-byte extended length) are rarer: they are slow to generate.
        prop_oneof![
            6 => proptest::collection::vec(any::<u8>(), 0..=14).prop_map(Ok),
            1 => proptest::collection::vec(any::<u8>(), 255..=300).prop_map(Ok),
            3 => any::<u32>().prop_map(Err),
            3 => (0u32..=300).prop_map(Err),
        ]
    }

    fn valid_message() -> impl Strategy<Value = Owned> {
        let code = prop_oneof![0u8..=31, 0x40u8..=0xbf];
        (
            0u8..4,
            code,
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..=8),
            proptest::collection::vec((number(), value()), 0..=PROP_N),
            proptest::collection::vec(any::<u8>(), 0..=40),
        )
            .prop_map(|(mtype, code, mid, token, options, payload)| {
                if code == 0 {
                    Owned {
                        mtype,
                        code,
                        mid,
                        token: vec![],
                        options: vec![],
                        payload: vec![],
                    }
                } else {
                    Owned {
                        mtype,
                        code,
                        mid,
                        token,
                        options,
                        payload,
                    }
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn parse_of_emit_is_identity(m in valid_message()) {
            let repr = m.repr();
            let bytes = emit(&repr);
            let msg = Message::parse(&bytes).unwrap();
            let back = MessageRepr::<PROP_N>::from_message(&msg).unwrap();
            prop_assert_eq!(&back, &repr);
            // Emission of a parsed message reproduces the datagram byte for byte.
            prop_assert_eq!(&emit(&back)[..], &bytes[..]);
            prop_assert_eq!(msg.token(), &m.token[..]);
            prop_assert_eq!(msg.payload(), &m.payload[..]);
        }

        #[test]
        fn parse_never_panics_and_valid_input_reemits_exactly(
            bytes in proptest::collection::vec(any::<u8>(), 0..80)
        ) {
            if let Ok(msg) = Message::parse(&bytes) {
                let repr = MessageRepr::<80>::from_message(&msg).unwrap();
                prop_assert_eq!(&emit(&repr)[..], &bytes[..]);
            }
        }

        #[test]
        fn mutated_valid_messages(m in valid_message(), pos in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = emit(&m.repr());
            let i = pos % bytes.len();
            bytes[i] = byte;
            // A mutation may break any rule (then it must only not panic);
            // a mutated length byte can turn a value into many options.
            if let Ok(msg) = Message::parse(&bytes) {
                if let Ok(repr) = MessageRepr::<256>::from_message(&msg) {
                    prop_assert_eq!(&emit(&repr)[..], &bytes[..]);
                }
            }
        }
    }
}

//! The option registry (RFC 7252 §5.10, §12.2; Observe RFC 7641; Block1,
//! Block2, Size2 RFC 7959) and the option-number properties of §5.4.6.
//!
//! ```
//! use mpcoap::codec::option::{self, OptionFormat};
//! let def = option::definition(option::URI_PATH).unwrap();
//! assert_eq!((def.name, def.format, def.max_len, def.repeatable), ("Uri-Path", OptionFormat::String, 255, true));
//! assert!(option::is_critical(option::URI_PATH) && option::is_unsafe(option::URI_PATH));
//! // A 3-byte Content-Format is not a Content-Format (§5.4.3): treated as unrecognised.
//! assert!(!option::is_recognized(option::CONTENT_FORMAT, 3));
//! ```

/// If-Match (1): opaque, 0-8 bytes, repeatable.
pub const IF_MATCH: u16 = 1;
/// Uri-Host (3): string, 1-255 bytes.
pub const URI_HOST: u16 = 3;
/// ETag (4): opaque, 1-8 bytes, repeatable.
pub const ETAG: u16 = 4;
/// If-None-Match (5): empty.
pub const IF_NONE_MATCH: u16 = 5;
/// Observe (6, RFC 7641): uint, 0-3 bytes.
pub const OBSERVE: u16 = 6;
/// Uri-Port (7): uint, 0-2 bytes.
pub const URI_PORT: u16 = 7;
/// Location-Path (8): string, 0-255 bytes, repeatable.
pub const LOCATION_PATH: u16 = 8;
/// Uri-Path (11): string, 0-255 bytes, repeatable.
pub const URI_PATH: u16 = 11;
/// Content-Format (12): uint, 0-2 bytes.
pub const CONTENT_FORMAT: u16 = 12;
/// Max-Age (14): uint, 0-4 bytes.
pub const MAX_AGE: u16 = 14;
/// Uri-Query (15): string, 0-255 bytes, repeatable.
pub const URI_QUERY: u16 = 15;
/// Accept (17): uint, 0-2 bytes.
pub const ACCEPT: u16 = 17;
/// Location-Query (20): string, 0-255 bytes, repeatable.
pub const LOCATION_QUERY: u16 = 20;
/// Block2 (23, RFC 7959): uint, 0-3 bytes.
pub const BLOCK2: u16 = 23;
/// Block1 (27, RFC 7959): uint, 0-3 bytes.
pub const BLOCK1: u16 = 27;
/// Size2 (28, RFC 7959): uint, 0-4 bytes.
pub const SIZE2: u16 = 28;
/// Proxy-Uri (35): string, 1-1034 bytes.
pub const PROXY_URI: u16 = 35;
/// Proxy-Scheme (39): string, 1-255 bytes.
pub const PROXY_SCHEME: u16 = 39;
/// Size1 (60): uint, 0-4 bytes.
pub const SIZE1: u16 = 60;

/// How an option value is to be read (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionFormat {
    /// Zero-length; the presence is the information.
    Empty,
    /// A sequence of bytes.
    Opaque,
    /// A non-negative integer, big-endian, in as few bytes as possible.
    Uint,
    /// UTF-8 text (Net-Unicode form, not judged here).
    String,
}

/// One row of the option registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionDef {
    /// Option number.
    pub number: u16,
    /// Name as written in the RFC.
    pub name: &'static str,
    /// Value format.
    pub format: OptionFormat,
    /// Shortest valid value, in bytes.
    pub min_len: u16,
    /// Longest valid value, in bytes.
    pub max_len: u16,
    /// Whether the option may occur more than once (§5.4.5).
    pub repeatable: bool,
}

const fn def(
    number: u16,
    name: &'static str,
    format: OptionFormat,
    min_len: u16,
    max_len: u16,
    repeatable: bool,
) -> OptionDef {
    OptionDef {
        number,
        name,
        format,
        min_len,
        max_len,
        repeatable,
    }
}

use OptionFormat::{Empty, Opaque, String as Str, Uint};

/// Every option this codec knows, sorted by number.
pub const TABLE: [OptionDef; 19] = [
    def(IF_MATCH, "If-Match", Opaque, 0, 8, true),
    def(URI_HOST, "Uri-Host", Str, 1, 255, false),
    def(ETAG, "ETag", Opaque, 1, 8, true),
    def(IF_NONE_MATCH, "If-None-Match", Empty, 0, 0, false),
    def(OBSERVE, "Observe", Uint, 0, 3, false),
    def(URI_PORT, "Uri-Port", Uint, 0, 2, false),
    def(LOCATION_PATH, "Location-Path", Str, 0, 255, true),
    def(URI_PATH, "Uri-Path", Str, 0, 255, true),
    def(CONTENT_FORMAT, "Content-Format", Uint, 0, 2, false),
    def(MAX_AGE, "Max-Age", Uint, 0, 4, false),
    def(URI_QUERY, "Uri-Query", Str, 0, 255, true),
    def(ACCEPT, "Accept", Uint, 0, 2, false),
    def(LOCATION_QUERY, "Location-Query", Str, 0, 255, true),
    def(BLOCK2, "Block2", Uint, 0, 3, false),
    def(BLOCK1, "Block1", Uint, 0, 3, false),
    def(SIZE2, "Size2", Uint, 0, 4, false),
    def(PROXY_URI, "Proxy-Uri", Str, 1, 1034, false),
    def(PROXY_SCHEME, "Proxy-Scheme", Str, 1, 255, false),
    def(SIZE1, "Size1", Uint, 0, 4, false),
];

/// The registry row for `number`, if this codec knows the option.
///
/// ```
/// use mpcoap::codec::option;
/// assert_eq!(option::definition(option::MAX_AGE).unwrap().max_len, 4);
/// assert!(option::definition(2).is_none());
/// ```
pub fn definition(number: u16) -> Option<&'static OptionDef> {
    TABLE.iter().find(|d| d.number == number)
}

/// Whether this instance of option `number` with a `len`-byte value is
/// recognised: the number is in [`TABLE`] and `len` is within its bounds.
///
/// §5.4.3: a value whose length is outside the defined range MUST be treated
/// like an unrecognised option, which is not a message format error; the
/// caller then applies §5.4.1 (critical → 4.02 / reject, elective → ignore).
///
/// ```
/// use mpcoap::codec::option;
/// assert!(option::is_recognized(option::ETAG, 8));
/// assert!(!option::is_recognized(option::ETAG, 0));
/// assert!(!option::is_recognized(option::ETAG, 9));
/// assert!(!option::is_recognized(9, 0)); // unassigned
/// ```
pub fn is_recognized(number: u16, len: usize) -> bool {
    let limits = limits(number);
    limits != 0 && usize::from((limits >> MIN_LEN_SHIFT) & 1) <= len && len <= usize::from(limits >> MAX_LEN_SHIFT)
}

/// Whether the option is repeatable; unknown options count as not.
pub fn is_repeatable(number: u16) -> bool {
    limits(number) & REPEATABLE != 0
}

/// The part of a [`TABLE`] row that parsing needs, for every option number
/// up to the largest in the table, indexed by number: `KNOWN`, `REPEATABLE`,
/// the minimum length (0 or 1) at bit `MIN_LEN_SHIFT` and the maximum
/// length from bit `MAX_LEN_SHIFT` on; 0 for numbers not in the table.
/// Every option of every message is checked against it, so it is one
/// look-up instead of a search of the table, and it stays small in
/// firmware (2 bytes per number, no names).
const LIMITS: [u16; LIMITS_LEN] = {
    let mut out = [0u16; LIMITS_LEN];
    let mut i = 0;
    while i < TABLE.len() {
        #[allow(clippy::indexing_slicing)] // const evaluation: out of range fails the build
        let d = &TABLE[i];
        assert!(d.min_len <= 1 && d.max_len < 1 << (16 - MAX_LEN_SHIFT), "option lengths do not fit LIMITS");
        #[allow(clippy::indexing_slicing)]
        {
            assert!(out[d.number as usize] == 0, "option number twice in TABLE");
            out[d.number as usize] = KNOWN
                | if d.repeatable { REPEATABLE } else { 0 }
                | (d.min_len << MIN_LEN_SHIFT)
                | (d.max_len << MAX_LEN_SHIFT);
        }
        i += 1;
    }
    out
};
const KNOWN: u16 = 1;
const REPEATABLE: u16 = 2;
const MIN_LEN_SHIFT: u16 = 2;
const MAX_LEN_SHIFT: u16 = 3;

/// One more than the largest option number in [`TABLE`].
const LIMITS_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < TABLE.len() {
        #[allow(clippy::indexing_slicing)]
        if TABLE[i].number as usize > max {
            max = TABLE[i].number as usize;
        }
        i += 1;
    }
    max + 1
};

/// The [`LIMITS`] word of `number` (0: not in the table). Out of line:
/// inlined, its bound costs the callers' loops a register.
#[inline(never)]
fn limits(number: u16) -> u16 {
    LIMITS.get(usize::from(number)).copied().unwrap_or(0)
}

/// Critical options (odd numbers) must be understood (§5.4.1).
pub const fn is_critical(number: u16) -> bool {
    number & 0x01 != 0
}

/// Elective is the opposite of critical (§5.4.1).
pub const fn is_elective(number: u16) -> bool {
    !is_critical(number)
}

/// Unsafe-to-forward options (bit 1 set, §5.4.2, §5.4.6).
pub const fn is_unsafe(number: u16) -> bool {
    number & 0x02 != 0
}

/// NoCacheKey options (bits 2-4 all set, §5.4.6); only meaningful when safe.
pub const fn is_no_cache_key(number: u16) -> bool {
    number & 0x1e == 0x1c
}

/// Reads a uint option value (§3.2): big-endian, an empty value is 0.
///
/// Values longer than 4 bytes keep their last 4 bytes (the caller has
/// already checked the length with [`is_recognized`] if it cares).
///
/// ```
/// use mpcoap::codec::option::decode_uint;
/// assert_eq!(decode_uint(&[]), 0);
/// assert_eq!(decode_uint(&[0x01, 0x00]), 256);
/// assert_eq!(decode_uint(&[0xff, 0xff, 0xff, 0xff]), u32::MAX);
/// ```
pub fn decode_uint(value: &[u8]) -> u32 {
    value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
}

/// Number of bytes of the minimal uint encoding of `value` (0 for 0).
///
/// ```
/// use mpcoap::codec::option::uint_len;
/// assert_eq!([uint_len(0), uint_len(255), uint_len(256), uint_len(1 << 24)], [0, 1, 2, 4]);
/// ```
pub const fn uint_len(value: u32) -> usize {
    (4 - value.leading_zeros() / 8) as usize
}

/// The minimal uint encoding of `value` (§3.2): the value's big-endian bytes
/// without leading zero bytes, so 0 is the empty value.
///
/// ```
/// use mpcoap::codec::option::encode_uint;
/// let mut buf = [0; 4];
/// assert_eq!(encode_uint(0, &mut buf), &[] as &[u8]);
/// assert_eq!(encode_uint(60, &mut buf), &[60]);
/// assert_eq!(encode_uint(0x1_0000, &mut buf), &[1, 0, 0]);
/// ```
pub fn encode_uint(value: u32, buf: &mut [u8; 4]) -> &[u8] {
    *buf = value.to_be_bytes();
    buf.get(4 - uint_len(value)..).unwrap_or_default()
}

/// A Block1/Block2 value (RFC 7959 §2.2): block number, more flag, size
/// exponent (block size `16 << szx`).
///
/// ```
/// use mpcoap::codec::option::Block;
/// let b = Block::from_uint(0x1a); // NUM 1, M 1, SZX 2
/// assert_eq!(b, Block { num: 1, more: true, szx: 2 });
/// assert_eq!(b.size(), 64);
/// assert_eq!(b.to_uint(), 0x1a);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// Block number, 0 to 2^20-1.
    pub num: u32,
    /// More blocks follow.
    pub more: bool,
    /// Size exponent, 0 to 7 (7 is reserved in RFC 7959).
    pub szx: u8,
}

impl Block {
    /// Splits a decoded uint value.
    pub const fn from_uint(value: u32) -> Block {
        Block {
            num: (value >> 4) & 0x000f_ffff,
            more: value & 0x08 != 0,
            szx: (value & 0x07) as u8,
        }
    }

    /// Packs into a uint value (fields are truncated to their widths).
    pub const fn to_uint(self) -> u32 {
        ((self.num & 0x000f_ffff) << 4) | ((self.more as u32) << 3) | (self.szx & 0x07) as u32
    }

    /// Block size in bytes, `16 << szx`.
    pub const fn size(self) -> usize {
        16 << (self.szx & 0x07)
    }
}

/// Content-Format numbers (§12.3) used by the module.
pub mod content_format {
    /// text/plain; charset=utf-8
    pub const TEXT_PLAIN: u16 = 0;
    /// application/link-format (RFC 6690)
    pub const LINK_FORMAT: u16 = 40;
    /// application/xml
    pub const XML: u16 = 41;
    /// application/octet-stream
    pub const OCTET_STREAM: u16 = 42;
    /// application/exi
    pub const EXI: u16 = 47;
    /// application/json
    pub const JSON: u16 = 50;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn limits_agree_with_table() {
        for number in 0..=u16::MAX {
            let d = definition(number);
            assert_eq!(is_repeatable(number), d.is_some_and(|d| d.repeatable), "{number}");
            for len in [0, 1, 2, 3, 4, 5, 8, 9, 255, 256, 1034, 1035, 70000] {
                let want = d.is_some_and(|d| usize::from(d.min_len) <= len && len <= usize::from(d.max_len));
                assert_eq!(is_recognized(number, len), want, "{number} {len}");
            }
        }
    }

    #[test]
    fn table_sorted_and_consistent() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].number < pair[1].number);
        }
        for d in &TABLE {
            assert!(d.min_len <= d.max_len);
            if d.format == OptionFormat::Uint {
                assert!(d.max_len <= 4, "{}", d.name);
            }
            assert_eq!(definition(d.number), Some(d));
        }
    }

    #[test]
    fn number_properties_match_rfc_table() {
        // §5.10 table columns C, U, N.
        assert!(is_critical(IF_MATCH) && !is_unsafe(IF_MATCH));
        assert!(is_critical(URI_HOST) && is_unsafe(URI_HOST));
        assert!(is_elective(ETAG) && !is_unsafe(ETAG) && !is_no_cache_key(ETAG));
        assert!(is_elective(MAX_AGE) && is_unsafe(MAX_AGE));
        assert!(is_elective(SIZE1) && is_no_cache_key(SIZE1));
        assert!(is_elective(SIZE2) && is_no_cache_key(SIZE2));
        assert!(is_critical(PROXY_URI) && is_unsafe(PROXY_URI));
        assert!(is_critical(BLOCK2) && is_unsafe(BLOCK2));
        assert!(!is_no_cache_key(URI_PATH));
    }

    #[test]
    fn recognition_by_length() {
        assert!(is_recognized(IF_NONE_MATCH, 0));
        assert!(!is_recognized(IF_NONE_MATCH, 1));
        assert!(is_recognized(PROXY_URI, 1034));
        assert!(!is_recognized(PROXY_URI, 1035));
        assert!(!is_recognized(URI_HOST, 0));
        assert!(is_recognized(URI_PATH, 0));
        assert!(!is_recognized(URI_PATH, 256));
        assert!(!is_recognized(65535, 0));
        assert!(is_repeatable(URI_QUERY) && !is_repeatable(URI_HOST) && !is_repeatable(2));
    }

    #[test]
    fn uint_minimal_encoding() {
        let mut buf = [0u8; 4];
        for (v, want) in [
            (0u32, &[][..]),
            (1, &[1][..]),
            (0xff, &[0xff][..]),
            (0x100, &[1, 0][..]),
            (0xffff, &[0xff, 0xff][..]),
            (0x1_0000, &[1, 0, 0][..]),
            (0xff_ffff, &[0xff, 0xff, 0xff][..]),
            (0x100_0000, &[1, 0, 0, 0][..]),
            (u32::MAX, &[0xff; 4][..]),
        ] {
            let enc = encode_uint(v, &mut buf);
            assert_eq!(enc, want, "{v}");
            assert_eq!(uint_len(v), want.len());
            assert_eq!(decode_uint(want), v);
        }
        // Non-minimal encodings decode to the same value.
        assert_eq!(decode_uint(&[0, 0, 5]), 5);
        assert_eq!(decode_uint(&[9, 0, 0, 0, 7]), 7);
    }

    #[test]
    fn block_fields() {
        assert_eq!(
            Block::from_uint(0),
            Block {
                num: 0,
                more: false,
                szx: 0
            }
        );
        let big = Block {
            num: 0xf_ffff,
            more: true,
            szx: 6,
        };
        assert_eq!(Block::from_uint(big.to_uint()), big);
        assert_eq!(big.size(), 1024);
    }
}

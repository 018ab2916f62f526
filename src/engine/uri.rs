//! Uris: the rules for stored resource uris, percent-encoding in the
//! link-format document, and splitting a client's `"a/b?x=1"`.
//!
//! Stored uris are *decoded* paths: `add_resource("a b/c")` is reached by the
//! Uri-Path options `a b` and `c` (option values are raw bytes, RFC 7252
//! §5.10.1, so nothing is decoded on the server side). A resource uri is
//! never percent-decoded, so `add_resource("a%20b")` is reached by the
//! Uri-Path `a%20b` (a client URI `a%2520b`). In `/.well-known/core` the
//! uri is percent-encoded (uppercase hex) where RFC 3986 requires it,
//! so the document is always a valid link-format.

/// Strips one leading `/`.
pub(crate) fn strip_slash(uri: &[u8]) -> &[u8] {
    match uri.split_first() {
        Some((b'/', rest)) => rest,
        _ => uri,
    }
}

/// The longest Uri-Path or Uri-Query option value (RFC 7252 §5.10).
pub(crate) const SEGMENT_MAX: usize = 255;

/// A resource uri (leading `/` already stripped) is non-empty UTF-8 whose
/// `/`-separated segments are each at most 255 bytes (one Uri-Path option).
pub(crate) fn valid_resource_uri(uri: &[u8]) -> bool {
    !uri.is_empty()
        && is_utf8(uri)
        && uri.split(|b| *b == b'/').all(|s| s.len() <= SEGMENT_MAX)
}

/// Whether `s` is valid UTF-8: the same answer as `core::str::from_utf8`,
/// in far less flash than core's validator and its 256-byte width table.
fn is_utf8(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        if b < 0x80 {
            continue;
        }
        // Continuation bytes to follow, and the range of the first one
        // (RFC 3629 §4: no overlong forms, no surrogates, nothing > U+10FFFF).
        let (n, lo, hi) = match b {
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf),
            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
            0xed => (2, 0x80, 0x9f),
            0xf0 => (3, 0x90, 0xbf),
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f),
            _ => return false,
        };
        for k in 0..n {
            let (lo, hi) = if k == 0 { (lo, hi) } else { (0x80, 0xbf) };
            match s.get(i + k) {
                Some(c) if (lo..=hi).contains(c) => {}
                _ => return false,
            }
        }
        i += n;
    }
    true
}

/// RFC 3986 pchar without `%` (which must be encoded), plus `/`.
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)
}

/// The percent-encoded form of one byte of a path: the byte itself, or
/// `%XX` (uppercase hex); the first `n` bytes of `(bytes, n)`.
pub(crate) fn encode_byte(b: u8) -> ([u8; 3], usize) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if is_path_char(b) {
        return ([b, 0, 0], 1);
    }
    let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
    let lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
    ([b'%', hi, lo], 3)
}

/// Calls `out` with the percent-encoded form of `path`, piece by piece
/// (the document writer's path, kept apart from [`encode_byte`]: routing it
/// through that cost the discovery benchmark about 120 instructions).
pub(crate) fn percent_encode(path: &[u8], mut out: impl FnMut(&[u8])) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in path {
        if is_path_char(b) {
            out(&[b]);
        } else {
            let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
            out(&[b'%', hi, lo]);
        }
    }
}

/// The percent-encoded form of `path`, byte by byte.
pub(crate) fn percent_encoded(path: &[u8]) -> impl Iterator<Item = u8> + '_ {
    path.iter().flat_map(|&b| {
        let (bytes, n) = encode_byte(b);
        bytes.into_iter().take(n)
    })
}

/// Length of [`percent_encode`]'s output.
#[cfg(test)]
pub(crate) fn percent_encoded_len(path: &[u8]) -> usize {
    path.iter().map(|b| if is_path_char(*b) { 1 } else { 3 }).sum()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the `%XX` escapes of `s`, passing each decoded byte to `out`;
/// returns the decoded length, or `None` at a bad escape.
pub(crate) fn percent_decode(s: &[u8], mut out: impl FnMut(u8)) -> Option<usize> {
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let byte = if b == b'%' {
            let hi = hex_value(*s.get(i + 1)?)?;
            let lo = hex_value(*s.get(i + 2)?)?;
            i += 3;
            hi << 4 | lo
        } else {
            i += 1;
            b
        };
        out(byte);
        n += 1;
    }
    Some(n)
}

/// A client uri split into its path and query parts (one leading `/` of the
/// path ignored). Each part is split further with [`path_segments`] and
/// [`query_args`].
pub(crate) fn split_request_uri(uri: &[u8]) -> (&[u8], &[u8]) {
    let uri = strip_slash(uri);
    match uri.iter().position(|b| *b == b'?') {
        Some(q) => (uri.get(..q).unwrap_or(&[]), uri.get(q + 1..).unwrap_or(&[])),
        None => (uri, &[]),
    }
}

/// The Uri-Path segments of a path part: none for an empty path.
pub(crate) fn path_segments(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let none = path.is_empty();
    path.split(|b| *b == b'/').filter(move |_| !none)
}

/// The Uri-Query arguments of a query part; empty arguments are skipped.
pub(crate) fn query_args(query: &[u8]) -> impl Iterator<Item = &[u8]> {
    query.split(|b| *b == b'&').filter(|a| !a.is_empty())
}

/// True if the Uri-Path option values, joined by `/`, equal `uri`. A
/// segment that itself holds a `/` never matches.
#[cfg(test)]
pub(crate) fn path_matches<'a>(segments: impl Iterator<Item = &'a [u8]> + Clone, uri: &[u8]) -> bool {
    segments.clone().all(|s| !s.contains(&b'/')) && joined_equal(segments, uri)
}

/// True if `segments` joined by `/` equal `uri`, for segments known to
/// hold no `/`. Out of line: paths of two or more segments are the rare
/// case, and inlined it would cost every comparison its registers.
#[inline(never)]
pub(crate) fn joined_equal<'a>(segments: impl Iterator<Item = &'a [u8]>, uri: &[u8]) -> bool {
    let mut rest = uri;
    let mut first = true;
    for seg in segments {
        if !first {
            match rest.split_first() {
                Some((b'/', r)) => rest = r,
                _ => return false,
            }
        }
        first = false;
        match rest.strip_prefix(seg) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::type_complexity)]
mod tests {
    use super::*;

    #[test]
    fn is_utf8_agrees_with_core() {
        let same = |b: &[u8]| assert_eq!(is_utf8(b), core::str::from_utf8(b).is_ok(), "{b:02x?}");
        // Every 1- and 2-byte input; 3- and 4-byte ones over boundary values.
        let edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
            0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                same(&[b'x', a, b]);
            }
            for b in edges {
                for c in edges {
                    same(&[a, b, c]);
                    for d in edges {
                        same(&[a, b, c, d]);
                        same(&[b'x', a, b, c, d]);
                    }
                }
            }
        }
        for s in ["", "a/b", "é", "€uro", "𝄞 clef", "\u{10ffff}", "\u{d7ff}\u{e000}"] {
            assert!(is_utf8(s.as_bytes()));
        }
        // Pseudo-random longer inputs, biased to UTF-8-like bytes.
        let mut x = 0x1234_5678u32;
        for _ in 0..200_000 {
            let mut buf = [0u8; 12];
            let len = (x % 13) as usize;
            for byte in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *byte = if x & 0x100 != 0 { edges[(x >> 9) as usize % edges.len()] } else { x as u8 };
            }
            same(&buf[..len]);
        }
    }

    #[test]
    fn resource_uri_rules() {
        assert_eq!(strip_slash(b"/a"), b"a");
        assert_eq!(strip_slash(b"//a"), b"/a");
        assert!(valid_resource_uri(b"a/b"));
        assert!(!valid_resource_uri(b""));
        assert!(!valid_resource_uri(b"\xff"));
        assert!(valid_resource_uri(&[b'x'; 255]));
        assert!(!valid_resource_uri(&[b'x'; 256]));
        let mut long = vec![b'x'; 255];
        long.push(b'/');
        long.extend_from_slice(&[b'y'; 255]);
        assert!(valid_resource_uri(&long));
    }

    #[test]
    fn encode() {
        let mut s = Vec::new();
        percent_encode("a b/c%é".as_bytes(), |p| s.extend_from_slice(p));
        assert_eq!(s, b"a%20b/c%25%C3%A9");
        assert_eq!(percent_encoded_len("a b/c%é".as_bytes()), s.len());
    }

    #[test]
    fn decode() {
        let mut out = Vec::new();
        assert_eq!(percent_decode(b"a%2Fb%7e", |b| out.push(b)), Some(4));
        assert_eq!(out, b"a/b~");
        assert_eq!(percent_decode(b"%2", |_| {}), None);
        assert_eq!(percent_decode(b"%zz", |_| {}), None);
        assert_eq!(percent_decode(b"x%", |_| {}), None);
    }

    #[test]
    fn split() {
        let (p, q) = split_request_uri(b"/a/b?x=1&&y=2");
        assert_eq!(p, b"a/b");
        assert_eq!(path_segments(p).collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(query_args(q).collect::<Vec<_>>(), [&b"x=1"[..], b"y=2"]);
        assert_eq!(path_segments(b"").count(), 0);
        assert_eq!(path_segments(b"a/").collect::<Vec<_>>(), [&b"a"[..], b""]);
        assert_eq!(split_request_uri(b"?q"), (&b""[..], &b"q"[..]));
    }

    #[test]
    fn matching() {
        let segs = |v: &'static [&'static [u8]]| v.iter().copied();
        assert!(path_matches(segs(&[b"a", b"b"]), b"a/b"));
        assert!(!path_matches(segs(&[b"a", b"b"]), b"a/bc"));
        assert!(!path_matches(segs(&[b"a"]), b"a/b"));
        assert!(!path_matches(segs(&[b"a/b"]), b"a"));
        assert!(!path_matches(segs(&[b"a/b"]), b"a/b"));
        assert!(path_matches(segs(&[b"a", b""]), b"a/"));
        assert!(path_matches(segs(&[]), b""));
        assert!(!path_matches(segs(&[]), b"a"));
        assert!(!path_matches(segs(&[b""]), b"a"));
    }
}

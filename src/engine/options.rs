//! The server's view of a request's options: one pass over them applying
//! RFC 7252 §5.4 and the contract's option table.
//!
//! - An unrecognised critical option (unknown number, value length outside
//!   its range, §5.4.3, or a repeat of a non-repeatable one, §5.4.5) rejects
//!   the request: 4.02 for CON, dropped for NON.
//! - An unrecognised elective option is ignored, and so is every instance
//!   of a recognised elective option whose length is out of range or that
//!   repeats a non-repeatable one (the first valid instance counts).
//!
//! Observe (6) is parsed here already (`observe`); the server decides what
//! to do with it. Block1/Block2/Size1/Size2 drive block-wise transfer
//! (`blockwise.rs`).
//! A new option gets a field here and a line in `scan`.

use crate::codec::option::{self, Block};
use crate::codec::{Message, Numbered, Options};

/// The options the server acts on, read from one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestOptions<'a> {
    pub(crate) content_format: Option<u16>,
    pub(crate) accept: Option<u16>,
    pub(crate) if_none_match: bool,
    pub(crate) has_if_match: bool,
    pub(crate) has_etag: bool,
    pub(crate) proxy: bool,
    /// Parsed, not acted on until Observe lands (served as a plain GET).
    #[allow(dead_code)]
    pub(crate) observe: Option<u32>,
    pub(crate) block1: Option<Block>,
    pub(crate) block2: Option<Block>,
    /// Size1 (a Block1 transfer's announced total).
    pub(crate) size1: Option<u32>,
    /// Size2 was asked for (RFC 7959 §4: sent as 0 in a request).
    pub(crate) size2: bool,
    /// The options from the first Uri-Path on (none: no Uri-Path).
    path: Options<'a>,
    /// What [`RequestPath`] needs, gathered by the scan: the first
    /// segment, the number of segments, their length joined by `/`
    /// (`None`: a segment holds a `/`, so the path matches no uri).
    path_first: &'a [u8],
    path_count: usize,
    path_len: Option<usize>,
}

/// A critical option the server does not understand (its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadOption(pub(crate) u16);

impl<'a> RequestOptions<'a> {
    /// One pass over the options: the first critical option that must
    /// cause rejection ([`Message::critical_option_error`]'s rule) is an
    /// error, else the options the server acts on.
    pub(crate) fn scan(msg: &Message<'a>) -> Result<RequestOptions<'a>, BadOption> {
        let mut o = RequestOptions { path_len: Some(0), ..RequestOptions::default() };
        let mut prev = None;
        let mut path = None;
        let mut rest = msg.options();
        loop {
            let here = rest.clone();
            let Some(opt) = rest.next() else { break };
            let repeat = prev == Some(opt.number) && !option::is_repeatable(opt.number);
            prev = Some(opt.number);
            let recognized = opt.is_recognized();
            if opt.is_critical() && (repeat || !recognized) {
                return Err(BadOption(opt.number));
            }
            if !recognized || repeat {
                continue; // elective: ignored
            }
            // Lengths are within range here, so the uints fit their types.
            match opt.number {
                option::URI_PATH => {
                    if path.is_none() {
                        path = Some(here);
                        o.path_first = opt.value;
                    }
                    o.path_count += 1;
                    // One `/` between segments; a segment holding one
                    // matches nothing.
                    let sep = usize::from(o.path_count > 1);
                    o.path_len = o.path_len.filter(|_| !opt.value.contains(&b'/')).map(|l| l + sep + opt.value.len());
                }
                option::CONTENT_FORMAT => o.content_format = Some(opt.uint() as u16),
                option::ACCEPT => o.accept = Some(opt.uint() as u16),
                option::IF_NONE_MATCH => o.if_none_match = true,
                option::IF_MATCH => o.has_if_match = true,
                option::ETAG => o.has_etag = true,
                option::PROXY_URI | option::PROXY_SCHEME => o.proxy = true,
                option::OBSERVE => o.observe = Some(opt.uint()),
                option::BLOCK1 => o.block1 = Some(Block::from_uint(opt.uint())),
                option::BLOCK2 => o.block2 = Some(Block::from_uint(opt.uint())),
                option::SIZE1 => o.size1 = Some(opt.uint()),
                option::SIZE2 => o.size2 = true,
                // Uri-Host, Uri-Port: one server, ignored. Uri-Query: read
                // by the callers. Max-Age and the rest: elective,
                // ignored in requests.
                _ => {}
            }
        }
        o.path = path.unwrap_or_default();
        Ok(o)
    }

    /// The Uri-Path segments, the same as `values(msg, URI_PATH)`: the scan
    /// accepted the request, so every Uri-Path (critical) is valid, and
    /// they follow one another from the first on. Starts there instead of
    /// walking the options before it again, once per resource tried.
    pub(crate) fn path(&self) -> Path<'a> {
        Path(self.path.clone())
    }

    /// The Uri-Path, ready to be compared with the uris of the resources.
    pub(crate) fn request_path(&self) -> RequestPath<'a> {
        RequestPath { segments: self.path(), first: self.path_first, count: self.path_count, len: self.path_len }
    }
}

/// A request's Uri-Path segments, ready to be compared with many uris: the
/// scan gathered the length of the uri they can equal, so most uris are
/// told apart by their length alone, and a path of one segment (the common
/// case) is compared without walking the options again.
#[derive(Debug, Clone)]
pub(crate) struct RequestPath<'a> {
    segments: Path<'a>,
    first: &'a [u8],
    count: usize,
    /// `None` if a segment holds a `/`: it would be indistinguishable from
    /// two, so the path matches nothing.
    len: Option<usize>,
}

impl RequestPath<'_> {
    /// True if the segments, joined by `/`, equal `uri`. Inlined: most
    /// calls end at the length check.
    #[inline]
    pub(crate) fn matches(&self, uri: &[u8]) -> bool {
        if self.len != Some(uri.len()) {
            return false;
        }
        if self.count == 1 {
            return self.first == uri;
        }
        super::uri::joined_equal(self.segments.clone(), uri)
    }
}

/// Iterator of [`RequestOptions::path`].
#[derive(Debug, Clone)]
pub(crate) struct Path<'a>(Options<'a>);

impl<'a> Iterator for Path<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let o = self.0.next()?;
        if o.number == option::URI_PATH {
            return Some(o.value);
        }
        self.0 = Options::default();
        None
    }
}

/// The values of every valid instance (length in range) of option `number`,
/// e.g. the Uri-Path segments.
pub(crate) fn values<'a>(msg: &Message<'a>, number: u16) -> Values<'a> {
    Values(msg.options_numbered(number))
}

/// Iterator of [`values`]: a named type, so every caller shares one `next`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values<'a>(Numbered<'a>);

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let o = self.0.next()?;
            if o.is_recognized() {
                return Some(o.value);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::codec::{option::*, Code, MessageType};
    use crate::engine::testutil::datagram;
    use crate::engine::uri::path_matches;

    const URIS: [&[u8]; 12] =
        [b"", b"r", b"a", b"b", b"/", b"a/", b"a/b", b"a/bc", b"a/b/c", b"a//b", b".well-known/core", b"temp"];

    #[test]
    fn request_path_agrees_with_the_uri_path_values() {
        let paths: [&[&[u8]]; 12] = [
            &[],
            &[b"r"],
            &[b"a", b"b"],
            &[b"a", b""],
            &[b""],
            &[b"", b""],
            &[b"a", b"", b"b"],
            &[b"a/b"],
            &[b"a", b"b/c"],
            &[b"a", b"b", b"c"],
            &[b".well-known", b"core"],
            &[b"/"],
        ];
        // Other options before, between (by number) and after the path.
        let around: [&[(u16, &[u8])]; 3] =
            [&[], &[(URI_HOST, b"h"), (URI_QUERY, b"q=1"), (ACCEPT, b"")], &[(2, b"x"), (CONTENT_FORMAT, b"\x28")]];
        for path in paths {
            for others in around {
                let mut opts: Vec<(u16, &[u8])> = path.iter().map(|p| (URI_PATH, *p)).collect();
                opts.extend_from_slice(others);
                let d = datagram(MessageType::Con, Code::GET, 1, b"t", &opts, b"");
                let msg = Message::parse(&d).unwrap();
                let scanned = RequestOptions::scan(&msg).unwrap();
                assert!(scanned.path().eq(values(&msg, URI_PATH)), "{path:?} {others:?}");
                let rp = scanned.request_path();
                for uri in URIS {
                    let want = path_matches(values(&msg, URI_PATH), uri);
                    assert_eq!(rp.matches(uri), want, "{path:?} {others:?} {uri:?}");
                }
            }
        }
    }

    #[test]
    fn scan_rejects_what_critical_option_error_names() {
        let cases: [&[(u16, &[u8])]; 8] = [
            &[(9, b"")],                                  // unknown critical
            &[(URI_HOST, b"a"), (URI_HOST, b"b")],        // non-repeatable critical, repeated
            &[(IF_MATCH, b"123456789")],                  // critical, too long
            &[(URI_PATH, b"a"), (URI_PATH, b"b")],        // repeatable: fine
            &[(CONTENT_FORMAT, b"123")],                  // elective, too long: ignored
            &[(ACCEPT, b""), (ACCEPT, b"\x01")],          // critical, not repeatable
            &[(CONTENT_FORMAT, b""), (CONTENT_FORMAT, b"\x01")], // elective repeat: ignored
            &[(10, b""), (URI_QUERY, b"x")],              // unknown elective: ignored
        ];
        for opts in cases {
            let d = datagram(MessageType::Con, Code::GET, 1, b"", opts, b"");
            let msg = Message::parse(&d).unwrap();
            let got = RequestOptions::scan(&msg).err().map(|BadOption(n)| n);
            assert_eq!(got, msg.critical_option_error(), "{opts:?}");
        }
        // The first instance of a repeated elective option counts.
        let d = datagram(MessageType::Con, Code::GET, 1, b"", &[(CONTENT_FORMAT, b""), (CONTENT_FORMAT, b"\x01")], b"");
        assert_eq!(RequestOptions::scan(&Message::parse(&d).unwrap()).unwrap().content_format, Some(0));
    }
}

//! `/.well-known/core` in CoRE Link Format (RFC 6690): the writer and the
//! query filter (§4.1).
//!
//! The document lists resources in the order added, each as `</uri>`
//! (percent-encoded where RFC 3986 requires), followed by `;name=value` for
//! each attribute in the order added, entries separated by `,`.
//!
//! Attribute values: a value that is an RFC 6690 `ptoken` is written as is,
//! except for `title`, which the RFC requires as a quoted-string; a value
//! that already is a well-formed quoted-string (Pycom's users added quotes
//! themselves) is written as is; anything else is written as a
//! quoted-string with `"`, `\` and control bytes escaped by `\` (a control
//! byte may not stand raw in a quoted-string, RFC 2616 §2.2).
//!
//! Filters (`?name=value`, from Uri-Query options): `href` compares with
//! the link target `/uri`, as written in the document (percent-encoded) or
//! decoded, since clients send either; any other name compares with that attribute's
//! values; `rt`, `if` and `rel` values are space-separated lists, any member
//! of which may match. A trailing `*` makes a prefix match. Quotes around
//! the filter value and around stored values are ignored. A query without
//! `=` asks for resources that have that attribute. Several queries must
//! all match.

use super::resources::{ResourceNode, Resources};
use super::uri::{percent_encode, percent_encoded};

/// RFC 6690 ptokenchar.
fn is_ptoken_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'()*+-./:<=>?@[]^_`{|}~".contains(&b)
}

fn is_ptoken(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|b| is_ptoken_char(*b))
}

/// Bytes that a quoted-string must escape with `\`: `"`, `\` and the
/// control bytes (CTL), which quoted-string text excludes.
fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f
}

/// True if `v` is `"..."` with every inner `"`, `\` and control byte escaped
/// by `\`.
fn is_quoted_string(v: &[u8]) -> bool {
    let inner = match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => return false,
    };
    let mut escaped = false;
    for &b in inner {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if needs_escape(b) {
            return false;
        }
    }
    !escaped
}

/// How a value is written.
#[derive(PartialEq, Eq, Clone, Copy)]
enum ValueForm {
    AsIs,
    Quote,
}

fn value_form(name: &[u8], value: &[u8]) -> ValueForm {
    if is_quoted_string(value) || (is_ptoken(value) && name != b"title") {
        ValueForm::AsIs
    } else {
        ValueForm::Quote
    }
}

/// A byte sink that counts everything and writes what fits: the whole
/// output ([`Out::new`]), or a window of it that starts `skip` bytes in
/// ([`Out::window`], a Block2 block of the document).
pub(crate) struct Out<'b> {
    buf: &'b mut [u8],
    /// Where the next byte goes in `buf`: the bytes produced so far minus
    /// `skip`, wrapping below zero while before the window.
    at: usize,
    skip: usize,
}

impl<'b> Out<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Out { buf, at: 0, skip: 0 }
    }

    /// Writes the bytes from `skip` on into `buf`, as many as fit.
    pub(crate) fn window(buf: &'b mut [u8], skip: usize) -> Self {
        Out { buf, at: 0usize.wrapping_sub(skip), skip }
    }

    /// Bytes before the window have a wrapped position, out of `buf`'s
    /// bounds. (Inlined everywhere it would cost about 1 KiB of flash and
    /// save about 330 instructions per discovery GET: flash is scarcer.)
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let at = self.at;
        self.at = at.wrapping_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(at..self.at) {
            dst.copy_from_slice(bytes);
        } else if !self.buf.is_empty() {
            // Not a dry run: they straddle the window's start or end.
            self.put_part(at, bytes);
        }
    }

    /// Writes the part of `bytes` (to go at `at`, wrapped when before the
    /// window) inside the window. Out of line: at most twice a block.
    #[inline(never)]
    fn put_part(&mut self, at: usize, bytes: &[u8]) {
        let (from, to) = if at > isize::MAX as usize { (0usize.wrapping_sub(at), 0) } else { (0, at) };
        let n = bytes.len().saturating_sub(from).min(self.buf.len().saturating_sub(to));
        if let (Some(dst), Some(src)) = (self.buf.get_mut(to..to + n), bytes.get(from..from + n)) {
            dst.copy_from_slice(src);
        }
    }

    /// Bytes produced (may exceed the buffer: then it was truncated).
    pub(crate) fn len(&self) -> usize {
        self.at.wrapping_add(self.skip)
    }

    /// Bytes the window holds.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

}

fn write_link(out: &mut Out<'_>, uri: &[u8]) {
    out.put(b"</");
    percent_encode(uri, |p| out.put(p));
    out.put(b">");
}

fn write_attribute(out: &mut Out<'_>, name: &[u8], value: &[u8]) {
    out.put(b";");
    out.put(name);
    out.put(b"=");
    match value_form(name, value) {
        ValueForm::AsIs => out.put(value),
        ValueForm::Quote => {
            out.put(b"\"");
            for &b in value {
                if needs_escape(b) {
                    out.put(b"\\");
                }
                out.put(&[b]);
            }
            out.put(b"\"");
        }
    }
}

/// Length of the unfiltered document.
#[cfg(test)]
pub(crate) fn document_len(res: &Resources) -> usize {
    let mut out = Out::new(&mut []);
    // No queries, as an empty Values: the same instantiation the server uses.
    write_document(res, super::options::Values::default(), &mut out);
    out.len()
}

/// Writes the resources that match every query; returns how many matched.
pub(crate) fn write_document<'q, Q>(res: &Resources, queries: Q, out: &mut Out<'_>) -> usize
where
    Q: Iterator<Item = &'q [u8]> + Clone,
{
    let mut matched = 0;
    for r in res.iter() {
        let uri = r.uri();
        if !queries.clone().all(|q| query_matches(r, uri, q)) {
            continue;
        }
        if matched > 0 {
            out.put(b",");
        }
        matched += 1;
        write_link(out, uri);
        if r.observable() {
            out.put(b";obs");
        }
        for (name, value) in r.attributes() {
            write_attribute(out, name, value);
        }
    }
    matched
}

/// Strips one pair of surrounding quotes.
fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// Compares a filter value (quotes already stripped; may end in `*`) with
/// `candidate`.
fn value_matches(filter: &[u8], candidate: &[u8]) -> bool {
    match filter.split_last() {
        Some((b'*', prefix)) => candidate.starts_with(prefix),
        _ => filter == candidate,
    }
}

/// A stored attribute value compared as its logical content: surrounding
/// quotes stripped, escapes of a quoted-string removed.
fn stored_matches(filter: &[u8], stored: &[u8]) -> bool {
    if !is_quoted_string(stored) {
        return value_matches(filter, stored);
    }
    let logical = unquote(stored).iter().scan(false, |escaped, &b| {
        if !*escaped && b == b'\\' {
            *escaped = true;
            Some(None)
        } else {
            *escaped = false;
            Some(Some(b))
        }
    });
    stream_matches(filter, logical.flatten())
}

/// [`value_matches`] against a candidate produced byte by byte (no buffer
/// needed for long values).
fn stream_matches(filter: &[u8], mut candidate: impl Iterator<Item = u8>) -> bool {
    let (prefix_only, want) = match filter.split_last() {
        Some((b'*', p)) => (true, p),
        _ => (false, filter),
    };
    let mut want = want.iter();
    loop {
        match (want.next(), candidate.next()) {
            (None, None) => return true,
            (None, Some(_)) => return prefix_only,
            (Some(_), None) => return false,
            (Some(a), Some(b)) if *a == b => {}
            _ => return false,
        }
    }
}

/// An `href` filter value (quotes stripped) against the link target
/// `"/" + uri`. RFC 6690 §4.1 compares the target as written in the
/// document (percent-encoded: `/a%20b`), but clients that percent-decode
/// query components before sending (libcoap's coap-client, aiocoap) send
/// the decoded form (`/a b`): either matches, `*` prefixes included.
/// Out of line: inlined, its encoder state deepened the stack of every
/// discovery request, with or without a query, by 32 bytes.
#[inline(never)]
fn href_matches(filter: &[u8], uri: &[u8]) -> bool {
    match filter.split_first() {
        Some((b'/', rest)) => value_matches(rest, uri) || stream_matches(rest, percent_encoded(uri)),
        _ => filter == b"*",
    }
}

fn query_matches(r: &ResourceNode, uri: &[u8], query: &[u8]) -> bool {
    let (name, filter) = match query.iter().position(|b| *b == b'=') {
        Some(i) => (query.get(..i).unwrap_or(&[]), Some(unquote(query.get(i + 1..).unwrap_or(&[])))),
        None => (query, None),
    };
    if name == b"href" {
        return filter.is_none_or(|f| href_matches(f, uri));
    }
    // `obs` has no value (RFC 7641 §6): `?obs` selects observable ones.
    if name == b"obs" && filter.is_none() && r.observable() {
        return true;
    }
    let list = matches!(name, b"rt" | b"if" | b"rel");
    r.attributes().filter(|(n, _)| *n == name).any(|(_, stored)| match filter {
        None => true,
        Some(f) if list => {
            stored_matches(f, stored)
                || unquote(stored).split(|b| *b == b' ').any(|member| value_matches(f, member))
        }
        Some(f) => stored_matches(f, stored),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::type_complexity)]
mod tests {
    use super::*;
    use crate::engine::testutil::Boxed;

    fn doc(e: &Boxed, queries: &[&[u8]]) -> (String, usize) {
        let mut buf = [0u8; 2048];
        let mut out = Out::new(&mut buf);
        let n = write_document(&e.resources, queries.iter().copied(), &mut out);
        let len = out.len();
        (String::from_utf8(buf[..len].to_vec()).unwrap(), n)
    }

    #[test]
    fn value_forms() {
        assert!(is_ptoken(b"abc/1.0"));
        assert!(!is_ptoken(b""));
        assert!(!is_ptoken(b"a b"));
        assert!(!is_ptoken(b"a\"b"));
        assert!(is_quoted_string(br#""x""#));
        assert!(is_quoted_string(br#""a\"b""#));
        assert!(!is_quoted_string(br#""a"b""#));
        assert!(!is_quoted_string(br#""a\""#));
        assert!(!is_quoted_string(b"\""));
    }

    #[test]
    fn document_order_and_quoting() {
        let mut e = Boxed::new(0, 1);
        let r1 = e.add_resource(b"resource1", None, None, b"0", false).unwrap();
        let r2 = e.add_resource(b"/resource2", None, None, b"0", false).unwrap();
        let r3 = e.add_resource(b"a b", None, None, b"0", false).unwrap();
        e.add_attribute(r1, b"title", b"resource1").unwrap();
        e.add_attribute(r1, b"ct", b"0").unwrap();
        e.add_attribute(r2, b"rt", b"temp sensor").unwrap();
        e.add_attribute(r2, b"title", br#""already""#).unwrap();
        e.add_attribute(r3, b"x", br#"say "hi" \o/"#).unwrap();
        e.add_attribute(r3, b"e", b"").unwrap();
        let (text, n) = doc(&e, &[]);
        assert_eq!(n, 3);
        assert_eq!(
            text,
            r#"</resource1>;title="resource1";ct=0,</resource2>;rt="temp sensor";title="already",</a%20b>;x="say \"hi\" \\o/";e="""#
        );
        assert_eq!(document_len(&e.resources), text.len());
    }

    #[test]
    fn control_bytes_are_escaped_inside_quotes() {
        let mut e = Boxed::new(0, 1);
        let r = e.add_resource(b"r", None, None, b"0", false).unwrap();
        e.add_attribute(r, b"a", b"x\0y\x7fz\n").unwrap();
        // Quotes around raw control bytes are not a well-formed quoted-string.
        e.add_attribute(r, b"b", b"\"\x01\"").unwrap();
        assert!(!is_quoted_string(b"\"\x01\""));
        let (text, _) = doc(&e, &[]);
        assert_eq!(text, "</r>;a=\"x\\\0y\\\x7fz\\\n\";b=\"\\\"\\\x01\\\"\"");
        assert_eq!(document_len(&e.resources), text.len());
        // The filter compares the unescaped value.
        let (_, n) = doc(&e, &[b"a=x\0y\x7fz\n"]);
        assert_eq!(n, 1);
    }

    #[test]
    fn filters() {
        let mut e = Boxed::new(0, 1);
        let a = e.add_resource(b"sensors/temp", None, None, b"0", false).unwrap();
        let b = e.add_resource(b"sensors/light", None, None, b"0", false).unwrap();
        let c = e.add_resource(b"actuators/led", None, None, b"0", false).unwrap();
        e.add_attribute(a, b"rt", b"temperature-c sensor").unwrap();
        e.add_attribute(a, b"title", b"Temp \"C\"").unwrap();
        e.add_attribute(b, b"rt", b"light-lux").unwrap();
        e.add_attribute(b, b"ct", b"0").unwrap();
        e.add_attribute(c, b"if", br#""core.a""#).unwrap();
        let names = |q: &[&[u8]]| doc(&e, q);
        assert_eq!(names(&[b"rt=light-lux"]).0, "</sensors/light>;rt=light-lux;ct=0");
        assert_eq!(names(&[b"rt=sensor"]).1, 1, "list member");
        assert_eq!(names(&[b"rt=temp*"]).1, 1);
        assert_eq!(names(&[b"rt=*"]).1, 2);
        assert_eq!(names(&[b"rt=\"light-lux\""]).1, 1, "quotes ignored");
        assert_eq!(names(&[b"if=core.a"]).1, 1, "stored quotes ignored");
        assert_eq!(names(&[b"title=Temp \"C\""]).1, 1, "escapes compared as content");
        assert_eq!(names(&[b"title=Temp*"]).1, 1);
        assert_eq!(names(&[b"title=Temp \"D\""]).1, 0);
        assert_eq!(names(&[b"href=/sensors/temp"]).1, 1);
        assert_eq!(names(&[b"href=/sensors/*"]).1, 2);
        assert_eq!(names(&[b"href=sensors/temp"]).1, 0);
        assert_eq!(names(&[b"ct=0"]).1, 1);
        assert_eq!(names(&[b"ct"]).1, 1, "has the attribute");
        assert_eq!(names(&[b"foo=bar"]).1, 0);
        assert_eq!(names(&[b"rt=*", b"ct=0"]).1, 1, "queries are ANDed");
        assert_eq!(names(&[b"rt=nothing"]), (String::new(), 0));
    }

    #[test]
    fn href_as_written_or_decoded() {
        let mut e = Boxed::new(0, 1);
        e.add_resource(b"a b", None, None, b"0", false).unwrap();
        e.add_resource(b"100%", None, None, b"0", false).unwrap();
        e.add_resource(b"x/y", None, None, b"0", false).unwrap();
        assert_eq!(doc(&e, &[]).0, "</a%20b>,</100%25>,</x/y>");
        let links = |q: &[u8]| doc(&e, &[q]).0;
        // As written in the document (RFC 6690 §4.1), and decoded, as
        // libcoap's coap-client and aiocoap send it.
        for q in [&b"href=/a%20b"[..], b"href=/a b", b"href=\"/a%20b\"", b"href=/a%20*", b"href=/a%2*", b"href=/a *"] {
            assert_eq!(links(q), "</a%20b>", "{}", String::from_utf8_lossy(q));
        }
        assert_eq!(links(b"href=/100%25"), "</100%25>");
        assert_eq!(links(b"href=/100%"), "</100%25>");
        assert_eq!(links(b"href=/a*"), "</a%20b>");
        assert_eq!(links(b"href=/a%2520b"), "");
        assert_eq!(links(b"href=/a%20c"), "");
        assert_eq!(links(b"href=/a%20"), "");
        assert_eq!(links(b"href=a%20b"), "");
    }
}

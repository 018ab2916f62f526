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
//! the link target `/uri`; any other name compares with that attribute's
//! values; `rt`, `if` and `rel` values are space-separated lists, any member
//! of which may match. A trailing `*` makes a prefix match. Quotes around
//! the filter value and around stored values are ignored. A query without
//! `=` asks for resources that have that attribute. Several queries must
//! all match.

use super::resources::Resources;
use super::uri::{percent_encode, percent_encoded_len};

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

/// A byte sink that counts everything and writes what fits.
pub(crate) struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Out<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Out { buf, len: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.len += bytes.len();
    }

    /// Bytes produced (may exceed the buffer: then it was truncated).
    pub(crate) fn len(&self) -> usize {
        self.len
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

/// Bytes `;name=value` takes in the document.
pub(crate) fn attribute_len(name: &[u8], value: &[u8]) -> usize {
    let repr = match value_form(name, value) {
        ValueForm::AsIs => value.len(),
        ValueForm::Quote => 2 + value.len() + value.iter().filter(|b| needs_escape(**b)).count(),
    };
    2 + name.len() + repr
}

/// Bytes that adding a resource `uri` adds to the document.
pub(crate) fn added_resource_len(res: &Resources, uri: &[u8]) -> usize {
    let separator = usize::from(res.iter().next().is_some());
    separator + 3 + percent_encoded_len(uri)
}

/// Length of the unfiltered document.
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
    for (h, r) in res.iter() {
        let uri = res.uri(r);
        if !queries.clone().all(|q| query_matches(res, h, uri, q)) {
            continue;
        }
        if matched > 0 {
            out.put(b",");
        }
        matched += 1;
        write_link(out, uri);
        for (name, value) in res.attributes(h) {
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
    // Unescape into a small window; long values are compared piecewise.
    let inner = unquote(stored);
    let mut logical = inner.iter().scan(false, |escaped, &b| {
        if !*escaped && b == b'\\' {
            *escaped = true;
            Some(None)
        } else {
            *escaped = false;
            Some(Some(b))
        }
    });
    let (prefix_only, want) = match filter.split_last() {
        Some((b'*', p)) => (true, p),
        _ => (false, filter),
    };
    let mut want = want.iter();
    loop {
        let next = logical.by_ref().flatten().next();
        match (want.next(), next) {
            (None, None) => return true,
            (None, Some(_)) => return prefix_only,
            (Some(_), None) => return false,
            (Some(a), Some(b)) if *a == b => {}
            _ => return false,
        }
    }
}

fn query_matches(res: &Resources, h: super::ResourceHandle, uri: &[u8], query: &[u8]) -> bool {
    let (name, filter) = match query.iter().position(|b| *b == b'=') {
        Some(i) => (query.get(..i).unwrap_or(&[]), Some(unquote(query.get(i + 1..).unwrap_or(&[])))),
        None => (query, None),
    };
    if name == b"href" {
        let Some(filter) = filter else { return true };
        // The link target is "/" + uri.
        return match filter.split_first() {
            Some((b'/', rest)) => value_matches(rest, uri),
            _ => filter == b"*",
        };
    }
    let list = matches!(name, b"rt" | b"if" | b"rel");
    res.attributes(h).filter(|(n, _)| *n == name).any(|(_, stored)| match filter {
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
}

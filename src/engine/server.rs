//! The server: method dispatch over the resource table (contract "Server
//! behaviour"), and writing the piggybacked or NON response.

use core::ptr::NonNull;

use super::blockwise::{block2_of, window};
use super::dedup::Replay;
use super::link_format::{self, Out};
use super::options::{self, BadOption, RequestOptions};
use super::resources::{etag_bytes, NodeRef, ResourceNode, WELL_KNOWN_CORE};
use super::{Endpoint, Engine, Error, Event, Instant, Methods, ResourceHandle};
use crate::capacity::{MESSAGE_MAX, RETRY_AFTER_S, SINGLE_VALUE_MAX};
use crate::codec::option::{self as opt, content_format, Block};
use crate::codec::{Code, Message, MessageRepr, MessageType, PAYLOAD_MARKER};

/// What goes after the options of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Empty,
    /// The reason phrase of the code (error responses).
    Reason,
    /// The value of this resource (found by this request: nothing has
    /// unlinked it since), or the block of it that `block2` names.
    Value(NodeRef),
    /// `/.well-known/core`, filtered by the request's Uri-Query options,
    /// or the block of it that `block2` names.
    Discovery,
}

/// A resource a remote DELETE removed: its handle and the caller's word.
pub(crate) type Deleted = Option<(ResourceHandle, usize)>;

/// A response before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) code: Code,
    pub(crate) etag: Option<u16>,
    pub(crate) content_format: Option<u16>,
    pub(crate) max_age: Option<u32>,
    pub(crate) size1: Option<u32>,
    /// Block2 and Block1 option values (RFC 7959), Size2.
    pub(crate) block2: Option<u32>,
    pub(crate) block1: Option<u32>,
    pub(crate) size2: Option<u32>,
    /// Observe (RFC 7641): a registration's answer or a notification.
    pub(crate) observe: Option<u32>,
    pub(crate) body: Body,
}

impl Answer {
    pub(crate) const fn new(code: Code, body: Body) -> Answer {
        Answer {
            code,
            etag: None,
            content_format: None,
            max_age: None,
            size1: None,
            block2: None,
            block1: None,
            size2: None,
            observe: None,
            body,
        }
    }

    /// An error response: the code and its reason phrase.
    const fn error(code: Code) -> Answer {
        Answer::new(code, Body::Reason)
    }

    /// The code alone: with its reason phrase if it is an error, else
    /// with no body.
    pub(crate) const fn plain(code: Code) -> Answer {
        Answer::new(code, if code.class() >= 4 { Body::Reason } else { Body::Empty })
    }

    /// 4.13 with Size1 = `room`, the largest payload that would be taken.
    pub(crate) fn too_large(room: usize) -> Answer {
        let mut a = Answer::error(Code::REQUEST_ENTITY_TOO_LARGE);
        a.size1 = Some(room as u32);
        a
    }

    /// 5.03 with Max-Age [`RETRY_AFTER_S`]: the storage a peer's request
    /// needs cannot be had now.
    pub(crate) fn retry_later() -> Answer {
        let mut a = Answer::error(Code::SERVICE_UNAVAILABLE);
        a.max_age = Some(RETRY_AFTER_S);
        a
    }

    /// The answer a dedup [`Replay::Response`] summary stands for.
    pub(crate) fn from_summary(code: u8, extra: u16) -> Answer {
        let code = Code(code);
        let mut a = Answer::plain(code);
        if code == Code::REQUEST_ENTITY_TOO_LARGE {
            a.size1 = Some(u32::from(extra));
        } else if code == Code::SERVICE_UNAVAILABLE {
            a.max_age = Some(u32::from(extra));
        } else if extra != 0 {
            a.etag = Some(extra);
        }
        a
    }

    /// The answer a dedup [`Replay::Block1`] summary stands for, to the
    /// duplicate `msg`: 2.31 or 2.04, its ETag, and the Block1 that the
    /// request (and so the duplicate) carries, echoed.
    pub(crate) fn from_block1_summary(code: u8, etag: u16, msg: &Message<'_>) -> Answer {
        let mut a = Answer::new(Code(code), Body::Empty);
        a.etag = (etag != 0).then_some(etag);
        a.block1 = options::values(msg, opt::BLOCK1).next().map(opt::decode_uint);
        a
    }

    /// The dedup summary of this answer to a non-GET request.
    fn summary(&self) -> Replay {
        if let (Some(_), true) = (self.block1, self.code.class() == 2) {
            return Replay::Block1 { code: self.code.0, etag: self.etag.unwrap_or(0) };
        }
        let extra = match (self.size1, self.etag, self.max_age) {
            (Some(s), _, _) => s as u16,
            (None, Some(e), _) => e,
            (None, None, Some(m)) if self.code == Code::SERVICE_UNAVAILABLE => m as u16,
            _ => 0,
        };
        Replay::Response { code: self.code.0, extra }
    }
}

/// RFC 7252 §5.9 reason phrases, the diagnostic payload of our errors.
pub(crate) fn reason(code: Code) -> &'static [u8] {
    match code {
        Code::BAD_REQUEST => b"Bad Request",
        Code::BAD_OPTION => b"Bad Option",
        Code::NOT_FOUND => b"Not Found",
        Code::METHOD_NOT_ALLOWED => b"Method Not Allowed",
        Code::NOT_ACCEPTABLE => b"Not Acceptable",
        Code::PRECONDITION_FAILED => b"Precondition Failed",
        Code::REQUEST_ENTITY_TOO_LARGE => b"Request Entity Too Large",
        Code::UNSUPPORTED_CONTENT_FORMAT => b"Unsupported Content-Format",
        Code::INTERNAL_SERVER_ERROR => b"Internal Server Error",
        Code::SERVICE_UNAVAILABLE => b"Service Unavailable",
        Code::PROXYING_NOT_SUPPORTED => b"Proxying Not Supported",
        _ => b"",
    }
}

fn method_flag(code: Code) -> Option<Methods> {
    match code {
        Code::GET => Some(Methods::GET),
        Code::PUT => Some(Methods::PUT),
        Code::POST => Some(Methods::POST),
        Code::DELETE => Some(Methods::DELETE),
        _ => None,
    }
}

impl Engine {
    /// Handles a CON or NON request: deduplication, dispatch, reply.
    /// [`Error::NeedStorage`] (a PUT or POST that needs a larger value
    /// block) before anything changed: the caller supplies and repeats.
    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        from: Endpoint,
        via_multicast: bool,
        msg: &Message<'_>,
        reply: &mut [u8],
    ) -> Result<(usize, Option<Event<'static>>), Error> {
        let con = msg.mtype() == MessageType::Con;
        let duplicate = self.dedup.lookup(now, from, msg.mid(), via_multicast);
        match duplicate {
            None => {}
            // A duplicate: answered from the cache, never applied again. A
            // CON GET is answered again below (GET changes nothing), with
            // the one call of `serve` that fresh requests take too.
            Some(Replay::RegenerateGet) if con && msg.code() == Code::GET => {}
            Some(Replay::RegenerateGet) => return Ok((0, None)),
            Some(Replay::Response { code, extra }) if con => {
                let a = Answer::from_summary(code, extra);
                return Ok((self.write_answer(&a, msg, reply), None));
            }
            Some(Replay::Block1 { code, etag }) if con => {
                let a = Answer::from_block1_summary(code, etag, msg);
                return Ok((self.write_answer(&a, msg, reply), None));
            }
            Some(replay) => return Ok((if con { self.write_replay(replay, msg.mid(), reply) } else { 0 }, None)),
        }
        // The answer is only borrowed from here on: moving it out of the
        // result costs a copy of the whole struct.
        let served = self.serve(msg, via_multicast, from, now);
        let (answer, deleted) = match &served {
            Ok(s) => s,
            Err(e) => return Err(*e),
        };
        let len = answer.as_ref().map_or(0, |a| self.write_answer(a, msg, reply));
        if duplicate.is_some() {
            return Ok((len, None));
        }
        let summary = match (con, answer) {
            (false, _) | (true, None) => Replay::Nothing,
            (true, Some(_)) if msg.code() == Code::GET => Replay::RegenerateGet,
            (true, Some(a)) => a.summary(),
        };
        self.dedup.insert(now, from, msg.mid(), con, via_multicast, summary);
        Ok((len, deleted.map(|(h, user)| Event::ResourceDeleted(h, user))))
    }

    /// Decides the answer to a fresh request and applies it; `None` means
    /// no reply. Also returns the resource a DELETE removed.
    ///
    /// Out of line, so that its frame is gone before the answer is written
    /// (the deepest stack is a discovery's, in `write_answer`).
    #[inline(never)]
    pub(crate) fn serve(
        &mut self,
        msg: &Message<'_>,
        via_multicast: bool,
        from: Endpoint,
        now: Instant,
    ) -> Result<(Option<Answer>, Deleted), Error> {
        let (mut answer, deleted) = self.dispatch(msg, via_multicast, from, now)?;
        // RFC 7252 §8.1: no error responses to multicast requests.
        if via_multicast && answer.as_ref().is_some_and(|a| a.code.class() >= 4) {
            answer = None;
        }
        Ok((answer, deleted))
    }

    fn dispatch(
        &mut self,
        msg: &Message<'_>,
        via_multicast: bool,
        from: Endpoint,
        now: Instant,
    ) -> Result<(Option<Answer>, Deleted), Error> {
        let con = msg.mtype() == MessageType::Con;
        let opts = match RequestOptions::scan(msg) {
            Ok(o) => o,
            // §5.4.1: 4.02 for CON; a NON one is rejected silently.
            Err(BadOption(_)) => return Ok((con.then_some(Answer::error(Code::BAD_OPTION)), None)),
        };
        if opts.proxy {
            return Ok((Some(Answer::error(Code::PROXYING_NOT_SUPPORTED)), None));
        }
        let Some(method) = method_flag(msg.code()) else {
            return Ok((Some(Answer::error(Code::METHOD_NOT_ALLOWED)), None));
        };
        let path = opts.request_path();
        if path.matches(WELL_KNOWN_CORE) {
            return Ok((self.discovery(msg, &opts, method, via_multicast), None));
        }
        let Some(found) = self.resources.find_by_path(&path) else {
            // §5.8.4: DELETE is idempotent, deleting nothing succeeds.
            let code = if method == Methods::DELETE { Code::DELETED } else { Code::NOT_FOUND };
            let body = if method == Methods::DELETE { Body::Empty } else { Body::Reason };
            return Ok((Some(Answer::new(code, body)), None));
        };
        // SAFETY: found just now; nothing below unlinks it before its last
        // use (DELETE reads what it needs first).
        let r = unsafe { found.get() };
        if !r.allows(method) {
            return Ok((Some(Answer::error(Code::METHOD_NOT_ALLOWED)), None));
        }
        match method {
            Methods::GET => {
                let mut a = get(msg, &opts, r, found);
                if let (Some(v), false) = (opts.observe, via_multicast) {
                    a.observe = self.observe_request(from, msg.token(), r, v, a.code)?;
                }
                Ok((Some(a), None))
            }
            Methods::DELETE => {
                let (h, user) = (r.handle(), r.user());
                let _ = self.remove_resource(h);
                Ok((Some(Answer::new(Code::DELETED, Body::Empty)), Some((h, user))))
            }
            _ => Ok((Some(self.store_request(msg, &opts, r, from, now)?), None)),
        }
    }

    /// A PUT or POST to `r`, whole or a Block1 block. Out of line, so that
    /// `serve`'s frame (on every request's path) does not hold what only
    /// a store needs.
    #[inline(never)]
    fn store_request(
        &mut self,
        msg: &Message<'_>,
        opts: &RequestOptions<'_>,
        r: &ResourceNode,
        from: Endpoint,
        now: Instant,
    ) -> Result<Answer, Error> {
        if let (Some(media), Some(cf)) = (r.media_type(), opts.content_format) {
            if media != cf {
                return Ok(Answer::error(Code::UNSUPPORTED_CONTENT_FORMAT));
            }
        }
        match opts.block1 {
            Some(b) => self.put_block(msg, opts, b, r, from, now),
            None => self.put_or_post(msg, &[], opts.if_none_match, opts.has_if_match, r, None),
        }
    }

    /// A PUT or POST of one message, or the last block of a Block1
    /// transfer whose earlier blocks brought `head` in block `spare`
    /// (Content-Format checked by the caller): checks, then the store of
    /// `head` and the payload (see [`Engine::store_value`]). A value that needs a new
    /// block asks for it ([`Error::NeedStorage`]) before anything changes;
    /// refused, the answer is 5.03 with Max-Age [`RETRY_AFTER_S`]. A value
    /// over the remote budget gets 4.13 with Size1 = the largest the
    /// resource takes now.
    ///
    /// The request's options come one by one, not as `&RequestOptions`: a
    /// reference would keep the whole struct in memory on every path.
    pub(crate) fn put_or_post(
        &mut self,
        msg: &Message<'_>,
        head: &[u8],
        if_none_match: bool,
        has_if_match: bool,
        r: &ResourceNode,
        spare: Option<NonNull<u8>>,
    ) -> Result<Answer, Error> {
        let room = self.remote_room(r);
        if head.len() + msg.payload().len() > room {
            return Ok(Answer::too_large(room));
        }
        if let Some(a) = self.preconditions(msg, if_none_match, has_if_match, r) {
            return Ok(a);
        }
        let h = r.handle();
        match self.store_value(h, head, msg.payload(), false, spare) {
            Ok(()) => {}
            Err(Error::NeedStorage) => return Err(Error::NeedStorage),
            Err(_) => return Ok(Answer::retry_later()),
        }
        let mut a = Answer::new(Code::CHANGED, Body::Empty);
        a.etag = self.resources.get(h).ok().and_then(ResourceNode::etag);
        Ok(a)
    }

    /// If-None-Match and If-Match of a PUT/POST to `r` (RFC 7252 §5.10.8):
    /// 4.12 when they fail.
    pub(crate) fn preconditions(
        &self,
        msg: &Message<'_>,
        if_none_match: bool,
        has_if_match: bool,
        r: &ResourceNode,
    ) -> Option<Answer> {
        if if_none_match {
            // The resource exists, so If-None-Match always fails.
            return Some(Answer::error(Code::PRECONDITION_FAILED));
        }
        if has_if_match {
            let mut buf = [0; 2];
            let current = r.etag().map(|e| etag_bytes(e, &mut buf));
            let pass = options::values(msg, opt::IF_MATCH).any(|v| v.is_empty() || Some(v) == current);
            if !pass {
                return Some(Answer::error(Code::PRECONDITION_FAILED));
            }
        }
        None
    }

    fn discovery(
        &self,
        msg: &Message<'_>,
        opts: &RequestOptions<'_>,
        method: Methods,
        via_multicast: bool,
    ) -> Option<Answer> {
        if method != Methods::GET {
            return Some(Answer::error(Code::METHOD_NOT_ALLOWED));
        }
        if opts.accept.is_some_and(|a| a != content_format::LINK_FORMAT) {
            return Some(Answer::error(Code::NOT_ACCEPTABLE));
        }
        let queries = options::values(msg, opt::URI_QUERY);
        let mut measure = Out::new(&mut []);
        let matched = link_format::write_document(&self.resources, queries, &mut measure);
        // RFC 7252 §8.2 / RFC 6690 §4.1: a multicast query that matches
        // nothing gets no response.
        if matched == 0 && via_multicast {
            return None;
        }
        // Header, token, Content-Format 40 (2 bytes), payload marker.
        let total = measure.len();
        let fits = total <= MESSAGE_MAX - (4 + msg.token().len() + 2 + 1);
        let mut a = Answer::new(Code::CONTENT, Body::Discovery);
        a.content_format = Some(content_format::LINK_FORMAT);
        match block2_of(opts.block2, total, fits) {
            Ok(None) => {}
            Ok(Some(b)) => {
                a.block2 = Some(b.to_uint());
                a.etag = Some(self.links_version());
                a.size2 = opts.size2.then_some(total as u32);
            }
            Err(code) => return Some(Answer::error(code)),
        }
        Some(a)
    }

    /// Writes `answer` to the request `msg` into `reply`: an ACK with the
    /// request's Message ID for CON, a NON with a new one for NON.
    pub(crate) fn write_answer(&mut self, answer: &Answer, msg: &Message<'_>, reply: &mut [u8]) -> usize {
        let (t, mid) = match msg.mtype() {
            MessageType::Con => (MessageType::Ack, msg.mid()),
            _ => (MessageType::Non, self.take_mid()),
        };
        let n = write_response(answer, t, mid, msg.token(), reply);
        if n == 0 || answer.body != Body::Discovery {
            return n;
        }
        let Some(rest) = reply.get_mut(n..) else { return 0 };
        let Some((marker, doc)) = rest.split_first_mut() else { return 0 };
        // A block: the document's bytes from the block's start, at most
        // the block's size of them.
        let (skip, doc) = match answer.block2 {
            Some(b) => {
                let b = Block::from_uint(b);
                let size = b.size().min(doc.len());
                (b.num as usize * b.size(), doc.get_mut(..size).unwrap_or_default())
            }
            None => (0, doc),
        };
        let mut out = Out::window(doc, skip);
        link_format::write_document(&self.resources, options::values(msg, opt::URI_QUERY), &mut out);
        match out.len().saturating_sub(skip) {
            0 => n,
            len if answer.block2.is_some() => {
                *marker = PAYLOAD_MARKER;
                n + 1 + len.min(out.capacity())
            }
            len if len <= out.capacity() => {
                *marker = PAYLOAD_MARKER;
                n + 1 + len
            }
            // Cannot happen: `discovery` measured it. Never send a
            // truncated document.
            _ => 0,
        }
    }

    /// An empty ACK or RST with `mid`, from a dedup entry.
    pub(crate) fn write_replay(&self, replay: Replay, mid: u16, reply: &mut [u8]) -> usize {
        let t = match replay {
            Replay::EmptyAck => MessageType::Ack,
            Replay::Reset => MessageType::Rst,
            _ => return 0,
        };
        write_empty(t, mid, reply)
    }
}

/// Writes `answer` as a message of type `t` with `mid` and `token` into
/// `reply`: everything but a discovery document's payload (which
/// [`Engine::write_answer`] adds). Returns its length, 0 if it does not fit.
pub(crate) fn write_response(answer: &Answer, t: MessageType, mid: u16, token: &[u8], reply: &mut [u8]) -> usize {
    let payload = match answer.body {
        Body::Reason => reason(answer.code),
        Body::Value(n) => {
            // SAFETY: the node was found by this request's `serve` (or,
            // for a notification, just now), and nothing unlinked it since
            // (only a DELETE does, and its answer has no body).
            let value = unsafe { n.get() }.value();
            match answer.block2 {
                Some(b) => {
                    let (start, end) = window(Block::from_uint(b), value.len());
                    value.get(start..end).unwrap_or_default()
                }
                None => value,
            }
        }
        Body::Empty | Body::Discovery => &[],
    };
    let mut etag_buf = [0; 2];
    let mut w = AnswerWriter { buf: reply, pos: 0, prev: 0 };
    let [mid_hi, mid_lo] = mid.to_be_bytes();
    // Version 1; the token is at most 8 bytes (parsed).
    let first = (1 << 6) | (t.bits() << 4) | (token.len() as u8 & 0x0f);
    let mut ok = w.put_byte(first) && w.put_byte(answer.code.0) && w.put_byte(mid_hi) && w.put_byte(mid_lo);
    ok &= w.put(token);
    if let Some(e) = answer.etag {
        ok &= w.option(opt::ETAG, etag_bytes(e, &mut etag_buf));
    }
    let uints = [(opt::OBSERVE, answer.observe), (opt::CONTENT_FORMAT, answer.content_format.map(u32::from)), (opt::MAX_AGE, answer.max_age)];
    for (number, value) in uints {
        ok &= w.uint(number, value);
    }
    // Block-wise and Size options, rare: one test for the common answer.
    if answer.block2.is_some() || answer.block1.is_some() || answer.size2.is_some() || answer.size1.is_some() {
        let rare = [
            (opt::BLOCK2, answer.block2),
            (opt::BLOCK1, answer.block1),
            (opt::SIZE2, answer.size2),
            (opt::SIZE1, answer.size1),
        ];
        for (number, value) in rare {
            ok &= w.uint(number, value);
        }
    }
    if !payload.is_empty() {
        ok &= w.put_byte(PAYLOAD_MARKER) && w.put(payload);
    }
    if !ok {
        return 0;
    }
    w.pos
}

/// Writes an answer's header, token, options and payload into the reply
/// buffer directly: an answer has at most four options, each added in
/// ascending order with a value of at most 4 bytes, so the general
/// [`MessageRepr`] (options collected, then sorted and encoded) is not
/// needed, and writing straight costs a fraction of its instructions.
struct AnswerWriter<'r> {
    buf: &'r mut [u8],
    pos: usize,
    /// Number of the last option written (options go in ascending order).
    prev: u16,
}

impl AnswerWriter<'_> {
    /// Appends `bytes`; false if they do not fit.
    fn put(&mut self, bytes: &[u8]) -> bool {
        let end = self.pos + bytes.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
                true
            }
            None => false,
        }
    }

    /// Appends one byte; false if it does not fit.
    fn put_byte(&mut self, b: u8) -> bool {
        match self.buf.get_mut(self.pos) {
            Some(dst) => {
                *dst = b;
                self.pos += 1;
                true
            }
            None => false,
        }
    }

    /// Appends option `number` (not below the previous one, at most 268
    /// above it) with `value` (at most 4 bytes); false if it does not fit.
    fn option(&mut self, number: u16, value: &[u8]) -> bool {
        let delta = number.wrapping_sub(self.prev);
        self.prev = number;
        debug_assert!(delta <= 268 && value.len() <= 4);
        let len = value.len() as u8;
        let ok = if delta < 13 {
            self.put_byte(((delta as u8) << 4) | len)
        } else {
            self.put_byte((13 << 4) | len) && self.put_byte((delta - 13) as u8)
        };
        ok && value.iter().all(|b| self.put_byte(*b))
    }

    /// Appends uint option `number` with `v`, minimally encoded, if any.
    fn uint(&mut self, number: u16, v: Option<u32>) -> bool {
        match v {
            Some(v) => {
                let be = v.to_be_bytes();
                self.option(number, be.get(4 - opt::uint_len(v)..).unwrap_or_default())
            }
            None => true,
        }
    }
}

/// A GET of resource `r` (found as `found`): the value whole, or the block
/// the request asks for (or the first, when the value does not fit one
/// message), which always carries an ETag (RFC 7959 §2.4).
/// Inlined into its one caller, so that the answer is built in place.
#[inline(always)]
fn get(msg: &Message<'_>, opts: &RequestOptions<'_>, r: &ResourceNode, found: NodeRef) -> Answer {
    let (accept, has_etag) = (opts.accept, opts.has_etag);
    if let (Some(media), Some(accept)) = (r.media_type(), accept) {
        if media != accept {
            return Answer::error(Code::NOT_ACCEPTABLE);
        }
    }
    let mut a = Answer::new(Code::CONTENT, Body::Value(found));
    a.etag = r.etag();
    a.content_format = r.media_type();
    a.max_age = r.max_age();
    let total = r.value().len();
    if total > SINGLE_VALUE_MAX || opts.block2.is_some() {
        match block2_of(opts.block2, total, total <= SINGLE_VALUE_MAX) {
            Ok(None) => {}
            Ok(Some(b)) => {
                a.block2 = Some(b.to_uint());
                a.etag = Some(r.etag_counter());
                a.size2 = opts.size2.then_some(total as u32);
            }
            Err(code) => return Answer::error(code),
        }
    }
    if let (Some(etag), true) = (r.etag(), has_etag) {
        let mut buf = [0; 2];
        let current = etag_bytes(etag, &mut buf);
        // ETags are opaque: compared byte for byte (§5.10.6).
        if options::values(msg, opt::ETAG).any(|v| v == current) {
            a.code = Code::VALID;
            a.body = Body::Empty;
            a.content_format = None;
            a.block2 = None;
            a.size2 = None;
        }
    }
    a
}

/// Writes an Empty message (ACK or RST) with `mid`.
pub(crate) fn write_empty(t: MessageType, mid: u16, reply: &mut [u8]) -> usize {
    let repr: MessageRepr<'_, 0> = MessageRepr::new(t, Code::EMPTY, mid);
    repr.emit(reply).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::type_complexity)]
mod tests {
    use super::*;
    use crate::capacity::{DEDUP_ENTRIES, DEDUP_NON_ENTRIES, VALUE_MAX};
    use crate::codec::option::*;
    use crate::engine::params::EXCHANGE_LIFETIME_MS;
    use crate::engine::testutil::*;
    use MessageType::{Ack, Con, Non};

    const CON: MessageType = Con;

    fn server() -> (Boxed, ResourceHandle) {
        let mut e = Boxed::new(0, 7);
        let h = e.add_resource(b"/temp", Some(0), Some(60), b"21.5", true).unwrap();
        e.set_methods(h, Methods::ALL, true).unwrap();
        (e, h)
    }

    fn req(t: MessageType, code: Code, mid: u16, path: &[&'static [u8]], extra: &[(u16, &'static [u8])], payload: &[u8]) -> Vec<u8> {
        let mut opts: Vec<(u16, &[u8])> = path.iter().map(|p| (URI_PATH, *p)).collect();
        opts.extend_from_slice(extra);
        datagram(t, code, mid, b"tok", &opts, payload)
    }

    fn ask(e: &mut Boxed, bytes: &[u8]) -> Reply {
        exchange(e, 1, PEER, false, bytes).0.expect("a reply")
    }

    /// `write_answer` writes what the general encoder (`MessageRepr`)
    /// writes for the same answer, byte for byte, for every combination
    /// of its options, and nothing when the buffer is too small.
    #[test]
    fn answers_are_written_as_the_general_encoder_writes_them() {
        let (mut e, _) = server();
        let (engine, _) = e.parts();
        let etags = [None, Some(5), Some(0x1234)];
        let formats = [None, Some(0), Some(40), Some(0x1234)];
        let ages = [None, Some(0), Some(60), Some(0x0102), Some(0x0102_0304)];
        let sizes = [None, Some(0), Some(1128)];
        let bodies = [Body::Empty, Body::Reason];
        // Block2, Block1 and Size2 (RFC 7959), together or not.
        let blocks = [(None, None, None), (Some(0x16), None, Some(10_000)), (None, Some(0x0e), None), (Some(0), Some(0x1234e), Some(0))];
        // Observe (RFC 7641): none, 0 (no bytes), 1, 3 bytes.
        let observes = [None, Some(0), Some(1), Some(0x00AB_CDEF)];
        for (t, token) in [(CON, &b""[..]), (CON, b"12345678"), (Non, b"tok")] {
            let d = datagram(t, Code::GET, 0x4242, token, &[(URI_PATH, b"x")], b"");
            let msg = Message::parse(&d).unwrap();
            let mut combos = Vec::new();
            for etag in etags {
                for cf in formats {
                    for age in ages {
                        for size1 in sizes {
                            for body in bodies {
                                for blk in blocks {
                                    combos.push((etag, cf, age, size1, body, blk, observes[combos.len() % observes.len()]));
                                }
                            }
                        }
                    }
                }
            }
            for (etag, cf, age, size1, body, (block2, block1, size2), observe) in combos {
                let code = if body == Body::Empty { Code::CHANGED } else { Code::NOT_FOUND };
                let a = Answer { code, etag, content_format: cf, max_age: age, size1, block2, block1, size2, observe, body };
                let mut got = [0u8; MESSAGE_MAX];
                let n = engine.write_answer(&a, &msg, &mut got);
                // The Message ID a NON answer took.
                let mid = u16::from_be_bytes([got[2], got[3]]);
                let mut etag_buf = [0; 2];
                let mut repr: MessageRepr<'_, 8> =
                    MessageRepr::new(if t == CON { Ack } else { Non }, code, if t == CON { 0x4242 } else { mid });
                repr.token = token;
                if let Some(e) = etag {
                    repr.push_bytes(ETAG, etag_bytes(e, &mut etag_buf)).unwrap();
                }
                let uints = [
                    (OBSERVE, observe),
                    (CONTENT_FORMAT, cf.map(u32::from)),
                    (MAX_AGE, age),
                    (BLOCK2, block2),
                    (BLOCK1, block1),
                    (SIZE2, size2),
                    (SIZE1, size1),
                ];
                for (number, v) in uints {
                    if let Some(v) = v {
                        repr.push_uint(number, v).unwrap();
                    }
                }
                repr.payload = match body {
                    Body::Reason => reason(code),
                    _ => &[],
                };
                let mut want = [0u8; MESSAGE_MAX];
                let m = repr.emit(&mut want).unwrap();
                assert_eq!(&got[..n], &want[..m], "{a:?} {t:?}");
                // One byte short: nothing is written.
                let mut short = [0u8; MESSAGE_MAX];
                assert_eq!(engine.write_answer(&a, &msg, &mut short[..m - 1]), 0, "{a:?}");
            }
        }
    }

    #[test]
    fn get_piggybacked_with_options_and_token() {
        let (mut e, _) = server();
        for token in [&b""[..], b"1", b"12345678"] {
            let d = datagram(CON, Code::GET, 0x100, token, &[(URI_PATH, b"temp")], b"");
            let r = ask(&mut e, &d);
            assert_eq!((r.t, r.code, r.mid), (Ack, Code::CONTENT, 0x100));
            assert_eq!(r.token, token);
            assert_eq!(r.payload, b"21.5");
            assert_eq!(r.options, vec![(ETAG, vec![1]), (CONTENT_FORMAT, vec![]), (MAX_AGE, vec![60])]);
            e.dedup.expire(Instant(EXCHANGE_LIFETIME_MS + 10)); // let the MID be reused
        }
    }

    #[test]
    fn non_request_gets_non_response_with_own_mid() {
        let (mut e, _) = server();
        let r = ask(&mut e, &req(Non, Code::GET, 0x200, &[b"temp"], &[], b""));
        assert_eq!((r.t, r.code), (Non, Code::CONTENT));
        assert_ne!(r.mid, 0x200);
        let r2 = ask(&mut e, &req(Non, Code::GET, 0x201, &[b"temp"], &[], b""));
        assert_eq!(r2.mid, r.mid.wrapping_add(1), "one Message ID counter");
    }

    #[test]
    fn method_rules() {
        let mut e = Boxed::new(0, 1);
        let h = e.add_resource(b"a", None, None, b"0", false).unwrap();
        let r = ask(&mut e, &req(CON, Code::GET, 1, &[b"a"], &[], b""));
        assert_eq!((r.code, r.payload.as_slice()), (Code::METHOD_NOT_ALLOWED, &b"Method Not Allowed"[..]));
        e.set_methods(h, Methods::GET, true).unwrap();
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 2, &[b"a"], &[], b"")).code, Code::CONTENT);
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 3, &[b"a"], &[], b"1")).code, Code::METHOD_NOT_ALLOWED);
        let r = ask(&mut e, &req(CON, Code::GET, 4, &[b"b"], &[], b""));
        assert_eq!((r.code, r.payload.as_slice()), (Code::NOT_FOUND, &b"Not Found"[..]));
        assert_eq!(ask(&mut e, &req(CON, Code::POST, 5, &[b"b"], &[], b"")).code, Code::NOT_FOUND);
        let r = ask(&mut e, &req(CON, Code::DELETE, 6, &[b"b"], &[], b""));
        assert_eq!((r.code, r.payload.len()), (Code::DELETED, 0));
        // FETCH (0.05) and other methods: 4.05.
        assert_eq!(ask(&mut e, &req(CON, Code(5), 7, &[b"a"], &[], b"")).code, Code::METHOD_NOT_ALLOWED);
        // Leading empty segment does not match "a".
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 8, &[b"", b"a"], &[], b"")).code, Code::NOT_FOUND);
        // Uri-Host and Uri-Port are accepted and ignored.
        let r = ask(&mut e, &req(CON, Code::GET, 9, &[b"a"], &[(URI_HOST, b"example"), (URI_PORT, &[22, 51])], b""));
        assert_eq!(r.code, Code::CONTENT);
    }

    #[test]
    fn delete_removes_and_reports() {
        let (mut e, h) = server();
        let (r, ev) = exchange(&mut e, 1, PEER, false, &req(CON, Code::DELETE, 1, &[b"temp"], &[], b""));
        assert_eq!(r.unwrap().code, Code::DELETED);
        assert_eq!(ev, Some(OwnedEvent::Deleted(h)));
        assert_eq!(e.resource_value(h), Err(crate::engine::Error::Stale));
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 2, &[b"temp"], &[], b"")).code, Code::NOT_FOUND);
        let (r, ev) = exchange(&mut e, 1, PEER, false, &req(CON, Code::DELETE, 3, &[b"temp"], &[], b""));
        assert_eq!((r.unwrap().code, ev), (Code::DELETED, None));
    }

    #[test]
    fn etag_validation_and_accept() {
        let (mut e, h) = server();
        let r = ask(&mut e, &req(CON, Code::GET, 1, &[b"temp"], &[(ETAG, &[1])], b""));
        assert_eq!((r.code, r.payload.len()), (Code::VALID, 0));
        assert_eq!(r.option(ETAG), Some(&[1u8][..]));
        assert_eq!(r.option(CONTENT_FORMAT), None);
        // Compared as opaque bytes: [0, 1] is not [1].
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 2, &[b"temp"], &[(ETAG, &[0, 1])], b"")).code, Code::CONTENT);
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 3, &[b"temp"], &[(ETAG, &[9]), (ETAG, &[1])], b"")).code, Code::VALID);
        for _ in 0..255 {
            e.set_resource_value(h, b"x").unwrap();
        }
        let r = ask(&mut e, &req(CON, Code::GET, 4, &[b"temp"], &[], b""));
        assert_eq!(r.option(ETAG), Some(&[1u8, 0][..]), "256 in two bytes");
        // Accept.
        let r = ask(&mut e, &req(CON, Code::GET, 5, &[b"temp"], &[(ACCEPT, &[50])], b""));
        assert_eq!((r.code, r.payload.as_slice()), (Code::NOT_ACCEPTABLE, &b"Not Acceptable"[..]));
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 6, &[b"temp"], &[(ACCEPT, &[])], b"")).code, Code::CONTENT);
        // No media type: Accept is not checked.
        let n = e.add_resource(b"n", None, None, b"", false).unwrap();
        e.set_methods(n, Methods::GET, true).unwrap();
        let r = ask(&mut e, &req(CON, Code::GET, 7, &[b"n"], &[(ACCEPT, &[50]), (ETAG, &[1])], b""));
        assert_eq!((r.code, r.options.len(), r.payload.len()), (Code::CONTENT, 0, 0));
        // Observe is elective: a plain GET.
        let r = ask(&mut e, &req(CON, Code::GET, 8, &[b"n"], &[(OBSERVE, &[])], b""));
        assert_eq!((r.code, r.option(OBSERVE)), (Code::CONTENT, None));
    }

    #[test]
    fn put_post_store_and_preconditions() {
        let (mut e, h) = server();
        let r = ask(&mut e, &req(CON, Code::PUT, 1, &[b"temp"], &[], b"22"));
        assert_eq!((r.code, r.option(ETAG), r.payload.len()), (Code::CHANGED, Some(&[2u8][..]), 0));
        assert_eq!(e.resource_value(h).unwrap(), b"22");
        let r = ask(&mut e, &req(CON, Code::POST, 2, &[b"temp"], &[(CONTENT_FORMAT, &[])], b"23"));
        assert_eq!((r.code, r.option(ETAG)), (Code::CHANGED, Some(&[3u8][..])));
        let r = ask(&mut e, &req(CON, Code::PUT, 3, &[b"temp"], &[], b""));
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(e.resource_value(h).unwrap(), b"", "empty payload stores an empty value");
        // Content-Format mismatch: 4.15, nothing stored.
        let r = ask(&mut e, &req(CON, Code::PUT, 4, &[b"temp"], &[(CONTENT_FORMAT, &[50])], b"x"));
        assert_eq!((r.code, r.payload.as_slice()), (Code::UNSUPPORTED_CONTENT_FORMAT, &b"Unsupported Content-Format"[..]));
        // If-Match: current (4), empty, other, several.
        let cases: [(&[(u16, &'static [u8])], Code); 5] = [
            (&[(IF_MATCH, &[4])], Code::CHANGED),
            (&[(IF_MATCH, &[])], Code::CHANGED),
            (&[(IF_MATCH, &[1])], Code::PRECONDITION_FAILED),
            (&[(IF_MATCH, &[1]), (IF_MATCH, &[6])], Code::CHANGED),
            (&[(IF_NONE_MATCH, &[])], Code::PRECONDITION_FAILED),
        ];
        for (i, (opts, code)) in cases.iter().enumerate() {
            let r = ask(&mut e, &req(CON, Code::PUT, 10 + i as u16, &[b"temp"], opts, b"v"));
            assert_eq!(r.code, *code, "case {i}");
        }
        assert_eq!(e.resources.get(h).unwrap().etag(), Some(7));
        // A resource without ETag: any non-empty If-Match fails.
        let n = e.add_resource(b"n", None, None, b"", false).unwrap();
        e.set_methods(n, Methods::ALL, true).unwrap();
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 20, &[b"n"], &[(IF_MATCH, &[1])], b"v")).code, Code::PRECONDITION_FAILED);
        let r = ask(&mut e, &req(CON, Code::PUT, 21, &[b"n"], &[(IF_MATCH, &[])], b"v"));
        assert_eq!((r.code, r.option(ETAG)), (Code::CHANGED, None));
        // No media type: any Content-Format is fine, and it never changes the type.
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 22, &[b"n"], &[(CONTENT_FORMAT, &[50])], b"v")).code, Code::CHANGED);
        assert_eq!(e.resources.get(n).unwrap().media_type(), None);
    }

    #[test]
    fn too_large_payload_gets_4_13_with_size1() {
        let (mut e, h) = server();
        // Over the room the remote budget leaves (10 bytes beyond the
        // application's 4): 4.13 with Size1 = that room, nothing stored.
        // (Over VALUE_MAX takes Block1: see blockwise.rs.)
        e.set_remote_budget(10);
        let big = vec![b'x'; SINGLE_VALUE_MAX];
        let r = ask(&mut e, &req(CON, Code::PUT, 1, &[b"temp"], &[], &big));
        assert_eq!(r.code, Code::REQUEST_ENTITY_TOO_LARGE);
        assert_eq!(r.option(SIZE1), Some(&[14u8][..]));
        assert_eq!(e.resource_value(h).unwrap(), b"21.5");
        e.set_remote_budget(crate::capacity::REMOTE_BUDGET);
        let r = ask(&mut e, &req(CON, Code::PUT, 2, &[b"temp"], &[], &big[..VALUE_MAX.min(100)]));
        assert_eq!(r.code, Code::CHANGED);
        // The largest value a response carries whole fits one with an
        // 8-byte token; a larger one is served block-wise.
        let r = ask(&mut e, &req(CON, Code::PUT, 3, &[b"temp"], &[], &big[..SINGLE_VALUE_MAX]));
        assert_eq!(r.code, Code::CHANGED);
        let d = datagram(CON, Code::GET, 4, b"12345678", &[(URI_PATH, b"temp")], b"");
        let r = ask(&mut e, &d);
        assert_eq!((r.code, r.payload.len(), r.option(BLOCK2)), (Code::CONTENT, SINGLE_VALUE_MAX, None));
    }

    #[test]
    fn remote_budget_bounds_what_peers_store() {
        let (mut e, h) = server();
        e.set_remote_budget(100);
        let big = [b'x'; 200];
        // "21.5" was stored by the application: a peer may store 4 + 100.
        let r = ask(&mut e, &req(CON, Code::PUT, 1, &[b"temp"], &[], &big[..105]));
        assert_eq!((r.code, r.option(SIZE1).map(crate::codec::option::decode_uint)), (Code::REQUEST_ENTITY_TOO_LARGE, Some(104)));
        assert_eq!(e.resource_value(h).unwrap(), b"21.5");
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 2, &[b"temp"], &[], &big[..104])).code, Code::CHANGED);
        assert_eq!(e.storage_stats().remote_bytes, 100);
        // Another resource: the budget is spent, only its own length fits.
        let o = e.add_resource(b"o", None, None, b"abc", false).unwrap();
        e.set_methods(o, Methods::ALL, true).unwrap();
        let r = ask(&mut e, &req(CON, Code::PUT, 3, &[b"o"], &[], &big[..4]));
        assert_eq!(r.option(SIZE1).map(crate::codec::option::decode_uint), Some(3));
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 4, &[b"o"], &[], &big[..3])).code, Code::CHANGED);
        // An application store resets the share; a DELETE gives it back.
        e.set_resource_value(h, b"1").unwrap();
        assert_eq!(e.storage_stats().remote_bytes, 0);
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 5, &[b"o"], &[], &big[..50])).code, Code::CHANGED);
        assert_eq!(e.storage_stats().remote_bytes, 47);
        assert_eq!(ask(&mut e, &req(CON, Code::DELETE, 6, &[b"o"], &[], b"")).code, Code::DELETED);
        assert_eq!(e.storage_stats().remote_bytes, 0);
    }

    #[test]
    fn a_value_the_heap_cannot_supply_gets_5_03() {
        let (mut e, h) = server();
        let long = [b'v'; 100];
        e.heap.fail_at = Some(e.heap.allocations() + 1);
        let r = ask(&mut e, &req(CON, Code::PUT, 1, &[b"temp"], &[], &long));
        assert_eq!((r.code, r.option(MAX_AGE)), (Code::SERVICE_UNAVAILABLE, Some(&[RETRY_AFTER_S as u8][..])));
        assert_eq!(e.resource_value(h).unwrap(), b"21.5");
        assert_eq!(e.resources.get(h).unwrap().etag(), Some(1));
        // A retransmission gets the same answer from the cache.
        let r = ask(&mut e, &req(CON, Code::PUT, 1, &[b"temp"], &[], &long));
        assert_eq!(r.code, Code::SERVICE_UNAVAILABLE);
        // The next PUT is served.
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 2, &[b"temp"], &[], &long)).code, Code::CHANGED);
        assert_eq!(e.resource_value(h).unwrap(), &long[..]);
    }

    #[test]
    fn discovery_longer_than_a_message_is_served_block_wise() {
        let mut e = Boxed::new(0, 1);
        for i in 0..60 {
            let h = e.add_resource(format!("sensors/{i:03}").as_bytes(), None, None, b"", false).unwrap();
            e.add_attribute(h, b"rt", if i == 7 { b"seven" } else { b"other" }).unwrap();
        }
        let whole = link_format::document_len(&e.resources);
        assert!(whole > MESSAGE_MAX);
        // No Block2 asked: block 0 of 1024 bytes, with an ETag; then the
        // client follows with the blocks it wants, in sizes it chooses.
        let path: [&[u8]; 2] = [b".well-known", b"core"];
        let r = ask(&mut e, &req(CON, Code::GET, 1, &path, &[], b""));
        assert_eq!((r.code, r.option(BLOCK2), r.payload.len()), (Code::CONTENT, Some(&[0x0e][..]), 1024));
        let etag = r.option(ETAG).unwrap().to_vec();
        let mut doc = r.payload.clone();
        let mut num = 1u32;
        loop {
            let b = (num << 4) | 6;
            let opt = if b > 0xff { b.to_be_bytes()[2..].to_vec() } else { vec![b as u8] };
            let d = datagram(CON, Code::GET, 10 + num as u16, b"t", &[(URI_PATH, b".well-known"), (URI_PATH, b"core"), (BLOCK2, &opt)], b"");
            let r = ask(&mut e, &d);
            assert_eq!(r.code, Code::CONTENT);
            assert_eq!(r.option(ETAG), Some(&etag[..]));
            doc.extend_from_slice(&r.payload);
            let got = Block::from_uint(crate::codec::option::decode_uint(r.option(BLOCK2).unwrap()));
            assert_eq!((got.num, got.szx), (num, 6));
            if !got.more {
                break;
            }
            num += 1;
        }
        let mut want = vec![0u8; whole];
        link_format::write_document(&e.resources, options::Values::default(), &mut Out::new(&mut want));
        assert_eq!(doc, want);
        // A filtered query whose answer fits one message goes whole.
        let r = ask(&mut e, &req(CON, Code::GET, 2, &path, &[(URI_QUERY, b"rt=seven")], b""));
        assert_eq!((r.code, r.payload.as_slice(), r.option(BLOCK2)), (Code::CONTENT, &b"</sensors/007>;rt=seven"[..], None));
        // Adding a resource changes the document's ETag.
        e.add_resource(b"more", None, None, b"", false).unwrap();
        let r = ask(&mut e, &req(CON, Code::GET, 3, &path, &[], b""));
        assert_ne!(r.option(ETAG), Some(&etag[..]));
    }

    #[test]
    fn option_rules() {
        let (mut e, _) = server();
        // Unknown critical option (9): 4.02 for CON, dropped for NON.
        let r = ask(&mut e, &req(CON, Code::GET, 1, &[b"temp"], &[(9, b"")], b""));
        assert_eq!((r.code, r.payload.as_slice()), (Code::BAD_OPTION, &b"Bad Option"[..]));
        assert_eq!(exchange(&mut e, 1, PEER, false, &req(Non, Code::GET, 2, &[b"temp"], &[(9, b"")], b"")).0, None);
        // Unknown elective (10) ignored; elective with bad length ignored.
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 3, &[b"temp"], &[(10, b"x")], b"")).code, Code::CONTENT);
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 4, &[b"temp"], &[(CONTENT_FORMAT, &[0, 0, 50])], b"1")).code, Code::CHANGED);
        // Critical with bad length (Accept, 3 bytes) and repeated (Accept twice): 4.02.
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 5, &[b"temp"], &[(ACCEPT, &[0, 0, 0])], b"")).code, Code::BAD_OPTION);
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 6, &[b"temp"], &[(ACCEPT, &[0]), (ACCEPT, &[0])], b"")).code, Code::BAD_OPTION);
        // Proxy-Uri / Proxy-Scheme: 5.05.
        let r = ask(&mut e, &req(CON, Code::GET, 7, &[], &[(PROXY_URI, b"coap://x/y")], b""));
        assert_eq!((r.code, r.payload.as_slice()), (Code::PROXYING_NOT_SUPPORTED, &b"Proxying Not Supported"[..]));
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 8, &[b"temp"], &[(PROXY_SCHEME, b"coap")], b"")).code, Code::PROXYING_NOT_SUPPORTED);
        // Block2 asked for a value that fits: block 0, M clear; a block
        // past the end: 4.02; SZX 7 (reserved): 4.00.
        let r = ask(&mut e, &req(CON, Code::GET, 9, &[b"temp"], &[(BLOCK2, &[0x02])], b""));
        assert_eq!((r.code, r.payload.as_slice(), r.option(BLOCK2)), (Code::CONTENT, &b"1"[..], Some(&[0x02][..])));
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 10, &[b"temp"], &[(BLOCK2, &[0x12])], b"")).code, Code::BAD_OPTION);
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 11, &[b"temp"], &[(BLOCK2, &[0x07])], b"")).code, Code::BAD_REQUEST);
        // Block1 block 0 without M: a whole PUT, Block1 echoed.
        let r = ask(&mut e, &req(CON, Code::PUT, 12, &[b"temp"], &[(BLOCK1, &[0x02])], b"x"));
        assert_eq!((r.code, r.option(BLOCK1)), (Code::CHANGED, Some(&[0x02][..])));
        // Size1 without Block1: elective, ignored.
        assert_eq!(ask(&mut e, &req(CON, Code::PUT, 13, &[b"temp"], &[(SIZE1, &[5])], b"2")).code, Code::CHANGED);
    }

    #[test]
    fn discovery() {
        let (mut e, h) = server();
        e.add_attribute(h, b"rt", b"temperature").unwrap();
        e.add_attribute(h, b"title", b"Temp").unwrap();
        let l = e.add_resource(b"light", None, None, b"0", false).unwrap();
        e.add_attribute(l, b"ct", b"0").unwrap();
        let wk: [&'static [u8]; 2] = [b".well-known", b"core"];
        let r = ask(&mut e, &req(CON, Code::GET, 1, &wk, &[], b""));
        assert_eq!((r.code, r.option(CONTENT_FORMAT)), (Code::CONTENT, Some(&[40u8][..])));
        assert_eq!(r.payload, br#"</temp>;rt=temperature;title="Temp",</light>;ct=0"#);
        let r = ask(&mut e, &req(CON, Code::GET, 2, &wk, &[(URI_QUERY, b"rt=temp*")], b""));
        assert_eq!(r.payload, br#"</temp>;rt=temperature;title="Temp""#);
        // Unicast, no match: 2.05 with an empty body.
        let r = ask(&mut e, &req(CON, Code::GET, 3, &wk, &[(URI_QUERY, b"rt=none")], b""));
        assert_eq!((r.code, r.payload.len(), r.option(CONTENT_FORMAT)), (Code::CONTENT, 0, Some(&[40u8][..])));
        // Multicast, no match: silence; with a match: answered.
        let d = req(Non, Code::GET, 4, &wk, &[(URI_QUERY, b"rt=none")], b"");
        assert_eq!(exchange(&mut e, 1, PEER, true, &d).0, None);
        let d = req(Non, Code::GET, 5, &wk, &[(URI_QUERY, b"ct=0")], b"");
        assert_eq!(exchange(&mut e, 1, PEER, true, &d).0.unwrap().payload, b"</light>;ct=0");
        // Other methods and Accept.
        assert_eq!(ask(&mut e, &req(CON, Code::POST, 6, &wk, &[], b"x")).code, Code::METHOD_NOT_ALLOWED);
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 7, &wk, &[(ACCEPT, &[0])], b"")).code, Code::NOT_ACCEPTABLE);
        assert_eq!(ask(&mut e, &req(CON, Code::GET, 8, &wk, &[(ACCEPT, &[40])], b"")).code, Code::CONTENT);
        // No resources at all: 2.05, empty.
        let mut empty = Boxed::new(0, 1);
        let r = ask(&mut empty, &req(CON, Code::GET, 9, &wk, &[], b""));
        assert_eq!((r.code, r.payload.len()), (Code::CONTENT, 0));
    }

    #[test]
    fn multicast_never_gets_errors() {
        let (mut e, _) = server();
        for (code, path) in [(Code::GET, &b"nope"[..]), (Code::PUT, b"temp")] {
            let d = datagram(Non, code, 1 + code.0 as u16, b"", &[(URI_PATH, path), (CONTENT_FORMAT, &[50])], b"x");
            assert_eq!(exchange(&mut e, 1, PEER, true, &d).0, None);
        }
        let d = req(Non, Code::GET, 9, &[b"temp"], &[], b"");
        assert_eq!(exchange(&mut e, 1, PEER, true, &d).0.unwrap().code, Code::CONTENT);
        // A CON error answered on unicast, then its duplicate via multicast
        // (one datagram seen by both sockets): no replayed error.
        let d = req(CON, Code::GET, 10, &[b"nope"], &[], b"");
        assert_eq!(exchange(&mut e, 1, PEER, false, &d).0.unwrap().code, Code::NOT_FOUND);
        assert_eq!(exchange(&mut e, 1, PEER, true, &d).0, None);
        // A stray CON response or a malformed CON via multicast: no RST.
        let stray = datagram(CON, Code::CONTENT, 11, b"", &[], b"");
        assert_eq!(exchange(&mut e, 1, PEER, true, &stray).0, None);
        assert_eq!(exchange(&mut e, 1, PEER, true, &[0x40, 0x01, 0, 12, 0xf1]).0, None);
    }

    #[test]
    fn a_datagram_seen_by_both_sockets_is_answered_once() {
        let (mut e, _) = server();
        // A CON sent to the group while the server socket is bound to
        // 0.0.0.0: the multicast copy is answered, the unicast copy of the
        // same datagram is not; a retransmission is answered once again.
        for (code, payload) in [(Code::GET, &b""[..]), (Code::PUT, b"31")] {
            let mid = 20 + code.0 as u16;
            let d = req(CON, code, mid, &[b"temp"], &[], payload);
            for _ in 0..2 {
                assert_eq!(exchange(&mut e, 1, PEER, true, &d).0.unwrap().mid, mid);
                assert_eq!(exchange(&mut e, 1, PEER, false, &d).0, None);
            }
        }
        // In the other order, the other way round.
        let d = req(CON, Code::GET, 30, &[b"temp"], &[], b"");
        for _ in 0..2 {
            assert_eq!(exchange(&mut e, 1, PEER, false, &d).0.unwrap().code, Code::CONTENT);
            assert_eq!(exchange(&mut e, 1, PEER, true, &d).0, None);
        }
    }

    #[test]
    fn dedup_replays_and_never_applies_twice() {
        let (mut e, h) = server();
        let put = req(CON, Code::PUT, 77, &[b"temp"], &[], b"30");
        let first = ask(&mut e, &put);
        e.set_resource_value(h, b"local").unwrap(); // ETag 3
        let again = ask(&mut e, &put);
        assert_eq!(first, again, "same reply, byte for byte");
        assert_eq!(e.resource_value(h).unwrap(), b"local", "not applied twice");
        assert_eq!(e.resources.get(h).unwrap().etag(), Some(3));
        // The same MID from another endpoint is a different message.
        let other = Endpoint { port: 40001, ..PEER };
        let r = exchange(&mut e, 1, other, false, &put).0.unwrap();
        assert_eq!(r.option(ETAG), Some(&[4u8][..]));
        // Errors are replayed with their diagnostic, 4.13 with its Size1.
        e.set_remote_budget(0);
        let too_big = req(CON, Code::PUT, 78, &[b"temp"], &[], &[0u8; 1000]);
        assert_eq!(ask(&mut e, &too_big), ask(&mut e, &too_big));
        // Duplicate NON: ignored, not applied.
        let non = req(Non, Code::POST, 79, &[b"temp"], &[], b"n");
        assert_eq!(ask(&mut e, &non).code, Code::CHANGED);
        e.set_resource_value(h, b"after").unwrap();
        assert_eq!(exchange(&mut e, 2, PEER, false, &non).0, None);
        assert_eq!(e.resource_value(h).unwrap(), b"after");
        // Duplicate DELETE: 2.02 again, no second event.
        let del = req(CON, Code::DELETE, 80, &[b"temp"], &[], b"");
        let (r1, ev1) = exchange(&mut e, 3, PEER, false, &del);
        let (r2, ev2) = exchange(&mut e, 4, PEER, false, &del);
        assert_eq!((r1, ev1.is_some(), ev2), (r2, true, None));
    }

    #[test]
    fn duplicate_get_is_regenerated() {
        let (mut e, h) = server();
        let get = req(CON, Code::GET, 5, &[b"temp"], &[], b"");
        assert_eq!(ask(&mut e, &get).payload, b"21.5");
        e.set_resource_value(h, b"22").unwrap();
        let r = ask(&mut e, &get);
        assert_eq!((r.mid, r.payload.as_slice()), (5, &b"22"[..]));
    }

    #[test]
    fn eviction_and_expiry_let_a_duplicate_through() {
        let (mut e, h) = server();
        let put = req(CON, Code::PUT, 1000, &[b"temp"], &[], b"p");
        ask(&mut e, &put);
        // Only CON traffic evicts a CON entry (the oldest one).
        for mid in 0..DEDUP_ENTRIES as u16 {
            ask(&mut e, &req(CON, Code::GET, mid, &[b"temp"], &[], b""));
        }
        assert_eq!(e.dedup_evictions(), 1);
        let r = ask(&mut e, &put);
        assert_eq!(r.option(ETAG), Some(&[3u8][..]), "evicted: applied again");
        // Expiry: after EXCHANGE_LIFETIME the MID is new again.
        let put2 = req(CON, Code::PUT, 2000, &[b"temp"], &[], b"q");
        exchange(&mut e, 10, PEER, false, &put2);
        let r = exchange(&mut e, 10 + EXCHANGE_LIFETIME_MS - 1, PEER, false, &put2).0.unwrap();
        assert_eq!(r.option(ETAG), Some(&[4u8][..]));
        let r = exchange(&mut e, 10 + EXCHANGE_LIFETIME_MS, PEER, false, &put2).0.unwrap();
        assert_eq!(r.option(ETAG), Some(&[5u8][..]));
        assert_eq!(e.resources.get(h).unwrap().etag(), Some(5));
    }

    #[test]
    fn non_flood_does_not_evict_a_con_put() {
        // Issue 10: peer A's conditional PUT succeeds but its ACK is lost;
        // another peer sends far more NON GETs than the cache holds; A's
        // retransmission gets the same 2.04 and is not applied again.
        let (mut e, h) = server();
        assert_eq!(e.resources.get(h).unwrap().etag(), Some(1));
        let put = req(CON, Code::PUT, 1000, &[b"temp"], &[(IF_MATCH, &[1])], b"p");
        let first = exchange(&mut e, 0, PEER, false, &put).0.unwrap();
        assert_eq!((first.code, first.option(ETAG)), (Code::CHANGED, Some(&[2u8][..])));
        let other = Endpoint { port: 40001, ..PEER };
        for mid in 0..(2 * (DEDUP_ENTRIES + DEDUP_NON_ENTRIES)) as u16 {
            let r = exchange(&mut e, 1, other, false, &req(Non, Code::GET, mid, &[b"temp"], &[], b"")).0.unwrap();
            assert_eq!(r.code, Code::CONTENT);
        }
        let again = exchange(&mut e, 2, PEER, false, &put).0.unwrap();
        assert_eq!(again, first, "the cached 2.04");
        assert_eq!(e.resources.get(h).unwrap().etag(), Some(2), "applied once");
        assert_eq!(e.resource_value(h).unwrap(), b"p");
    }

    #[test]
    fn format_errors() {
        let (mut e, _) = server();
        let rst = |e: &mut Boxed, bytes: &[u8]| exchange(e, 1, PEER, false, bytes).0;
        // Truncated option in a CON: RST with its MID.
        let r = rst(&mut e, &[0x40, 0x01, 0x12, 0x34, 0xb5, b't']).unwrap();
        assert_eq!((r.t, r.code, r.mid, r.token.len()), (MessageType::Rst, Code::EMPTY, 0x1234, 0));
        // The same in a NON, an ACK: dropped.
        assert_eq!(rst(&mut e, &[0x50, 0x01, 0x12, 0x35, 0xb5, b't']), None);
        assert_eq!(rst(&mut e, &[0x60, 0x45, 0x12, 0x36, 0xb5, b't']), None);
        // Version 2 / 0: ignored, even a CON.
        assert_eq!(rst(&mut e, &[0x80, 0x01, 0, 1]), None);
        assert_eq!(rst(&mut e, &[0x00, 0x01, 0, 1]), None);
        // Header too short: nothing to answer.
        assert_eq!(rst(&mut e, &[0x40, 0x01, 0]), None);
        // Empty CON with a token or bytes after the header, reserved class,
        // option delta past 65535, TKL 9: RST.
        for bad in [
            &[0x41, 0x00, 0, 2, 7][..],
            &[0x40, 0x00, 0, 3, 0xff],
            &[0x40, 0x20, 0, 4],
            &[0x40, 0x01, 0, 5, 0xe0, 0xff, 0x00, 0xe0, 0xff, 0x00],
            &[0x49, 0x01, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        ] {
            let r = rst(&mut e, bad).unwrap();
            assert_eq!((r.t, r.mid), (MessageType::Rst, u16::from_be_bytes([bad[2], bad[3]])));
        }
        // A request inside an ACK, an RST with a code, an Empty NON: dropped.
        assert_eq!(rst(&mut e, &datagram(Ack, Code::GET, 9, b"", &[], b"")), None);
        assert_eq!(rst(&mut e, &[0x70, 0x45, 0, 10]), None);
        assert_eq!(rst(&mut e, &[0x50, 0x00, 0, 11]), None);
        // A ping: RST; via multicast: nothing.
        assert_eq!(rst(&mut e, &[0x40, 0x00, 0, 12]).unwrap().t, MessageType::Rst);
        assert_eq!(exchange(&mut e, 1, PEER, true, &[0x40, 0x00, 0, 13]).0, None);
    }

    #[test]
    fn small_reply_buffer_is_an_error() {
        let (mut e, _) = server();
        let mut small = [0u8; 64];
        let d = req(CON, Code::PUT, 1, &[b"temp"], &[], b"v");
        assert_eq!(e.receive(Instant(0), PEER, false, &d, &mut small), Err(crate::engine::Error::Buffer));
        // Nothing happened: not even a dedup entry.
        assert_eq!(ask(&mut e, &d).option(ETAG), Some(&[2u8][..]));
    }
}

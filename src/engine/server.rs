//! The server: method dispatch over the resource table (contract "Server
//! behaviour"), and writing the piggybacked or NON response.

use super::dedup::Replay;
use super::link_format::{self, Out};
use super::options::{self, BadOption, RequestOptions};
use super::resources::{etag_bytes, WELL_KNOWN_CORE};
use super::uri::path_matches;
use super::{Endpoint, Engine, Event, Instant, Methods, ResourceHandle};
use crate::codec::option::{self as opt, content_format};
use crate::codec::{Code, Message, MessageRepr, MessageType, PAYLOAD_MARKER};

/// What goes after the options of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Empty,
    /// The reason phrase of the code (error responses).
    Reason,
    /// The value of this resource.
    Value(ResourceHandle),
    /// `/.well-known/core`, filtered by the request's Uri-Query options.
    Discovery,
}

/// A response before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) code: Code,
    pub(crate) etag: Option<u16>,
    pub(crate) content_format: Option<u16>,
    pub(crate) max_age: Option<u32>,
    pub(crate) size1: Option<u32>,
    pub(crate) body: Body,
}

impl Answer {
    pub(crate) const fn new(code: Code, body: Body) -> Answer {
        Answer { code, etag: None, content_format: None, max_age: None, size1: None, body }
    }

    /// An error response: the code and its reason phrase.
    const fn error(code: Code) -> Answer {
        Answer::new(code, Body::Reason)
    }

    /// The answer a dedup [`Replay::Response`] summary stands for.
    pub(crate) fn from_summary(code: u8, extra: u16) -> Answer {
        let code = Code(code);
        let mut a = Answer::new(code, if code.class() >= 4 { Body::Reason } else { Body::Empty });
        if code == Code::REQUEST_ENTITY_TOO_LARGE {
            a.size1 = Some(u32::from(extra));
        } else if extra != 0 {
            a.etag = Some(extra);
        }
        a
    }

    /// The dedup summary of this answer to a non-GET request.
    fn summary(&self) -> Replay {
        let extra = match (self.size1, self.etag) {
            (Some(s), _) => s as u16,
            (None, Some(e)) => e,
            (None, None) => 0,
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
    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        from: Endpoint,
        via_multicast: bool,
        msg: &Message<'_>,
        reply: &mut [u8],
    ) -> (usize, Option<Event<'static>>) {
        let con = msg.mtype() == MessageType::Con;
        match self.dedup.lookup(now, from, msg.mid()) {
            None => {}
            // A duplicate: answered from the cache, never applied again.
            Some(Replay::RegenerateGet) => {
                let answer = if con { self.answer_get_again(msg, via_multicast) } else { None };
                return (answer.map_or(0, |a| self.write_answer(&a, msg, reply)), None);
            }
            Some(Replay::Response { code, extra }) if con => {
                let a = Answer::from_summary(code, extra);
                return (self.write_answer(&a, msg, reply), None);
            }
            Some(replay) => return (if con { self.write_replay(replay, msg.mid(), reply) } else { 0 }, None),
        }
        let (answer, deleted) = self.serve(msg, via_multicast);
        let summary = match (con, answer) {
            (false, _) | (true, None) => Replay::Nothing,
            (true, Some(_)) if msg.code() == Code::GET => Replay::RegenerateGet,
            (true, Some(a)) => a.summary(),
        };
        self.dedup.insert(now, from, msg.mid(), summary);
        let len = answer.map_or(0, |a| self.write_answer(&a, msg, reply));
        (len, deleted.map(Event::ResourceDeleted))
    }

    /// A duplicate GET's answer, computed again (GET changes nothing).
    fn answer_get_again(&mut self, msg: &Message<'_>, via_multicast: bool) -> Option<Answer> {
        if msg.code() != Code::GET {
            return None;
        }
        self.serve(msg, via_multicast).0
    }

    /// Decides the answer to a fresh request and applies it; `None` means
    /// no reply. Also returns the resource a DELETE removed.
    pub(crate) fn serve(
        &mut self,
        msg: &Message<'_>,
        via_multicast: bool,
    ) -> (Option<Answer>, Option<ResourceHandle>) {
        let (answer, deleted) = self.dispatch(msg, via_multicast);
        // RFC 7252 §8.1: no error responses to multicast requests.
        let answer = answer.filter(|a| !(via_multicast && a.code.class() >= 4));
        (answer, deleted)
    }

    fn dispatch(&mut self, msg: &Message<'_>, via_multicast: bool) -> (Option<Answer>, Option<ResourceHandle>) {
        let con = msg.mtype() == MessageType::Con;
        let opts = match RequestOptions::scan(msg) {
            Ok(o) => o,
            // §5.4.1: 4.02 for CON; a NON one is rejected silently.
            Err(BadOption(_)) => return (con.then_some(Answer::error(Code::BAD_OPTION)), None),
        };
        if opts.proxy {
            return (Some(Answer::error(Code::PROXYING_NOT_SUPPORTED)), None);
        }
        // Until block-wise lands: Block2 block 0 gets the whole
        // representation; any other block request is not understood.
        if opts.block1.is_some() || opts.block2.is_some_and(|b| b.num != 0) {
            return (Some(Answer::error(Code::BAD_OPTION)), None);
        }
        let Some(method) = method_flag(msg.code()) else {
            return (Some(Answer::error(Code::METHOD_NOT_ALLOWED)), None);
        };
        let path = options::values(msg, opt::URI_PATH);
        if path_matches(path.clone(), WELL_KNOWN_CORE) {
            return (self.discovery(msg, &opts, method, via_multicast), None);
        }
        let Some(h) = self.resources.find_by_path(path) else {
            // §5.8.4: DELETE is idempotent, deleting nothing succeeds.
            let code = if method == Methods::DELETE { Code::DELETED } else { Code::NOT_FOUND };
            let body = if method == Methods::DELETE { Body::Empty } else { Body::Reason };
            return (Some(Answer::new(code, body)), None);
        };
        let Ok(r) = self.resources.get(h).copied() else {
            return (Some(Answer::error(Code::NOT_FOUND)), None);
        };
        if !r.allows(method) {
            return (Some(Answer::error(Code::METHOD_NOT_ALLOWED)), None);
        }
        match method {
            Methods::GET => (Some(self.get(msg, &opts, h)), None),
            Methods::DELETE => {
                let _ = self.resources_remove(h);
                (Some(Answer::new(Code::DELETED, Body::Empty)), Some(h))
            }
            _ => (Some(self.put_or_post(msg, &opts, h)), None),
        }
    }

    fn resources_remove(&mut self, h: ResourceHandle) -> Result<(), super::Error> {
        self.remove_resource(h)
    }

    fn get(&self, msg: &Message<'_>, opts: &RequestOptions, h: ResourceHandle) -> Answer {
        let Ok(r) = self.resources.get(h) else {
            return Answer::error(Code::NOT_FOUND);
        };
        if let (Some(media), Some(accept)) = (r.media_type(), opts.accept) {
            if media != accept {
                return Answer::error(Code::NOT_ACCEPTABLE);
            }
        }
        let mut a = Answer::new(Code::CONTENT, Body::Value(h));
        a.etag = r.etag();
        a.content_format = r.media_type();
        a.max_age = r.max_age();
        if let (Some(etag), true) = (r.etag(), opts.has_etag) {
            let mut buf = [0; 2];
            let current = etag_bytes(etag, &mut buf);
            // ETags are opaque: compared byte for byte (§5.10.6).
            if options::values(msg, opt::ETAG).any(|v| v == current) {
                a.code = Code::VALID;
                a.body = Body::Empty;
                a.content_format = None;
            }
        }
        a
    }

    fn put_or_post(&mut self, msg: &Message<'_>, opts: &RequestOptions, h: ResourceHandle) -> Answer {
        let Ok(r) = self.resources.get(h).copied() else {
            return Answer::error(Code::NOT_FOUND);
        };
        if let (Some(media), Some(cf)) = (r.media_type(), opts.content_format) {
            if media != cf {
                return Answer::error(Code::UNSUPPORTED_CONTENT_FORMAT);
            }
        }
        let room = self.resources.value_room(h);
        if msg.payload().len() > room {
            let mut a = Answer::error(Code::REQUEST_ENTITY_TOO_LARGE);
            a.size1 = Some(room as u32);
            return a;
        }
        if opts.if_none_match {
            // The resource exists, so If-None-Match always fails.
            return Answer::error(Code::PRECONDITION_FAILED);
        }
        if opts.has_if_match {
            let mut buf = [0; 2];
            let current = r.etag().map(|e| etag_bytes(e, &mut buf));
            let pass = options::values(msg, opt::IF_MATCH).any(|v| v.is_empty() || Some(v) == current);
            if !pass {
                return Answer::error(Code::PRECONDITION_FAILED);
            }
        }
        if self.resources.store_value(h, msg.payload()).is_err() {
            // Unreachable: the room was checked above.
            return Answer::error(Code::INTERNAL_SERVER_ERROR);
        }
        let mut a = Answer::new(Code::CHANGED, Body::Empty);
        a.etag = self.resources.get(h).ok().and_then(|r| r.etag());
        a
    }

    fn discovery(
        &self,
        msg: &Message<'_>,
        opts: &RequestOptions,
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
        let matched = link_format::write_document(&self.resources, queries, &mut Out::new(&mut []));
        // RFC 7252 §8.2 / RFC 6690 §4.1: a multicast query that matches
        // nothing gets no response.
        if matched == 0 && via_multicast {
            return None;
        }
        let mut a = Answer::new(Code::CONTENT, Body::Discovery);
        a.content_format = Some(content_format::LINK_FORMAT);
        Some(a)
    }

    /// Writes `answer` to the request `msg` into `reply`: an ACK with the
    /// request's Message ID for CON, a NON with a new one for NON.
    pub(crate) fn write_answer(&mut self, answer: &Answer, msg: &Message<'_>, reply: &mut [u8]) -> usize {
        let (t, mid) = match msg.mtype() {
            MessageType::Con => (MessageType::Ack, msg.mid()),
            _ => (MessageType::Non, self.take_mid()),
        };
        let mut etag_buf = [0; 2];
        let mut repr: MessageRepr<'_, 4> = MessageRepr::new(t, answer.code, mid);
        repr.token = msg.token();
        let pushed = [
            answer.etag.map(|e| repr.push_bytes(opt::ETAG, etag_bytes(e, &mut etag_buf))),
            answer.content_format.map(|cf| repr.push_uint(opt::CONTENT_FORMAT, u32::from(cf))),
            answer.max_age.map(|m| repr.push_uint(opt::MAX_AGE, m)),
            answer.size1.map(|s| repr.push_uint(opt::SIZE1, s)),
        ];
        if pushed.iter().flatten().any(|r| r.is_err()) {
            return 0;
        }
        repr.payload = match answer.body {
            Body::Reason => reason(answer.code),
            Body::Value(h) => self.resources.get(h).map(|r| self.resources.value(r)).unwrap_or(&[]),
            Body::Empty | Body::Discovery => &[],
        };
        let Ok(n) = repr.emit(reply) else { return 0 };
        if answer.body != Body::Discovery {
            return n;
        }
        let Some(rest) = reply.get_mut(n..) else { return 0 };
        let Some((marker, doc)) = rest.split_first_mut() else { return 0 };
        let mut out = Out::new(doc);
        link_format::write_document(&self.resources, options::values(msg, opt::URI_QUERY), &mut out);
        match out.len() {
            0 => n,
            len if len <= doc.len() => {
                *marker = PAYLOAD_MARKER;
                n + 1 + len
            }
            // Cannot happen: the capacities keep the document within one
            // message. Never send a truncated one.
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

/// Writes an Empty message (ACK or RST) with `mid`.
pub(crate) fn write_empty(t: MessageType, mid: u16, reply: &mut [u8]) -> usize {
    let repr: MessageRepr<'_, 0> = MessageRepr::new(t, Code::EMPTY, mid);
    repr.emit(reply).unwrap_or(0)
}

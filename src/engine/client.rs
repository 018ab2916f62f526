//! The client: sessions, request building, the request queue (NSTART=1 per
//! destination endpoint, across sessions), retransmission with exponential
//! back-off, response matching.
//!
//! A request's life: `Queued` (encoded, waiting until no other CON to its
//! destination endpoint awaits an ACK, whichever session sent it) →
//! `Outstanding` (sent, retransmitted on time) → either done (piggybacked
//! response, RST or give-up: one event) or `Waiting` (acknowledged without
//! a response: an empty ACK, or an ACK whose token is not ours; the bytes
//! are freed and the request waits up to EXCHANGE_LIFETIME for its separate
//! response, matched by token and endpoint). A `Waiting` request no longer
//! counts for NSTART (RFC 7252 §4.7: it is not outstanding), so the next
//! request to that endpoint may go. A GET that registered an observation
//! and got a notification becomes `Observing` (`client/observe.rs`).

use core::mem::size_of;

mod block;
mod observe;

use block::{BLOCK1_SEND, KIND, MAY_FETCH, XFER};
pub(crate) use observe::number;
use observe::{CANCELLED, ESTABLISHED, REGISTERS};

/// [`block::block1_szx`], for the tests.
#[cfg(test)]
pub(crate) fn block1_szx_for_tests(prefix: usize) -> Option<u8> {
    block::block1_szx(prefix)
}

use super::params::{EXCHANGE_LIFETIME_MS, MAX_RETRANSMIT};
use super::store::{block_size, unlinked, Link, List, Node};
use super::uri::{path_segments, percent_decode, query_args, split_request_uri, SEGMENT_MAX};
use super::{Endpoint, Engine, Error, Event, Instant, Methods, Request, Response, SessionHandle, TYPE_TIMEOUT};
use crate::capacity::{MESSAGE_MAX, VALUE_MAX};
use crate::codec::{option, Code, Message, MessageType, MAX_TOKEN_LEN, PAYLOAD_MARKER};

/// A session's block.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct SessionNode {
    next: Link,
    /// The caller's word (the shim's Python object).
    user: usize,
    id: u32,
    addr: [u8; 4],
    port: u16,
}

// SAFETY: repr(C), `next` first; all-zero is valid.
unsafe impl Node for SessionNode {}

impl SessionNode {
    fn peer(&self) -> Endpoint {
        Endpoint { addr: self.addr, port: self.port }
    }
}

const QUEUED: u8 = 1;
const OUTSTANDING: u8 = 2;
const WAITING: u8 = 3;
/// An observation (RFC 7641) between notifications: no timer, matched by
/// token and endpoint, its encoding kept (Block2 and `cancel_observe`).
const OBSERVING: u8 = 4;

/// A request's block; its encoded CON is a block of its own, given back
/// once the request is acknowledged.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RequestNode {
    next: Link,
    /// The encoded CON (`bytes_cap` bytes), none once acknowledged.
    bytes: Link,
    session: u32,
    /// Next retransmission, give-up, or end of the wait for a separate
    /// response.
    deadline: u32,
    /// The current retransmission timeout (doubles each time).
    timeout: u32,
    /// Observe (`client/observe.rs`): the last fresh notification's number
    /// (bits 0-23) and the flags `ESTABLISHED` and `CANCELLED`. In what
    /// was the GC block's slack on 32-bit ports (44 -> 48 bytes).
    seq: u32,
    bytes_len: u16,
    bytes_cap: u16,
    mid: u16,
    /// The session's peer, copied (sessions never change peer).
    port: u16,
    addr: [u8; 4],
    state: u8,
    retransmits: u8,
    token_len: u8,
    /// Bits 0-1: 0, or `BLOCK1_SEND` / `BLOCK2_FETCH`: `bytes` then holds
    /// an `Xfer` header, the request's encoding up to its options, and the
    /// transfer's data (`client/block.rs`); bit 2 `MAY_FETCH`; bit 3
    /// `REGISTERS` (it registers an observation); bits 4-7 the last option's
    /// number. In what was the node's padding byte.
    xfer: u8,
    token: [u8; 8],
}

// SAFETY: repr(C), `next` first; all-zero is valid.
unsafe impl Node for RequestNode {}

impl RequestNode {
    fn token(&self) -> &[u8] {
        self.token.get(..usize::from(self.token_len)).unwrap_or(&[])
    }
    fn peer(&self) -> Endpoint {
        Endpoint { addr: self.addr, port: self.port }
    }
    /// Whether `token` is the one this request's current CON carries: its
    /// own, or for the block requests of an observation the fetch token
    /// (`block::FETCH_FLIP`).
    fn answered_by(&self, token: &[u8]) -> bool {
        let flip = block::fetch_flip(self);
        token.first().map(|b| b ^ flip) == self.token().first().copied() && token.get(1..) == self.token().get(1..)
    }
    /// The encoded CON of a plain request (empty for a transfer).
    fn encoded(&self) -> &[u8] {
        match self.bytes {
            // SAFETY: the bytes block holds `bytes_cap >= bytes_len` bytes.
            Some(b) => unsafe { core::slice::from_raw_parts(b.as_ptr(), usize::from(self.bytes_len)) },
            None => &[],
        }
    }
}

/// What a response does for the client (see [`Engine::on_piggybacked`]).
pub(crate) enum Matched<'m> {
    /// It answers none of our requests.
    No,
    /// Storage for it was refused: ignore it as if lost (no ACK, no RST).
    Ignore,
    /// It answers one, which goes on (its next block): acknowledge it,
    /// report nothing.
    Quiet,
    /// It answers one: acknowledge it and report this.
    Event(Response<'m>),
    /// As `Event`, but the token to report is the engine's event token
    /// (an observation's, its fetch's blocks having another).
    Fetched(Response<'m>),
}

/// Sessions and requests (in the order queued).
pub(crate) struct Client {
    sessions: List<SessionNode>,
    requests: List<RequestNode>,
}

impl Client {
    fn session(&self, h: SessionHandle) -> Result<&SessionNode, Error> {
        self.sessions.iter().find(|s| s.id == h.raw() && h.raw() != 0).ok_or(Error::Stale)
    }

    /// True if a CON to `peer` awaits its ACK, from any session (NSTART =
    /// 1 per destination endpoint, RFC 7252 §4.7).
    fn has_outstanding_to(&self, peer: Endpoint) -> bool {
        self.requests.iter().any(|p| p.state == OUTSTANDING && p.peer() == peer)
    }

    /// True if queued request `p` may be sent now.
    fn may_send(&self, p: &RequestNode) -> bool {
        !self.has_outstanding_to(p.peer())
    }

    /// Whether `p` is the outstanding CON that a response or RST from
    /// `from` with `mid` answers.
    fn answers_mid(p: &RequestNode, from: Endpoint, mid: u16) -> bool {
        p.state == OUTSTANDING && p.mid == mid && p.peer() == from
    }
}

#[cfg(any(test, feature = "std"))]
impl Client {
    /// Copies of the sessions and the requests (see `snapshot.rs`).
    pub(crate) fn states(&self) -> (std::vec::Vec<super::snapshot::SessionState>, std::vec::Vec<super::snapshot::RequestState>) {
        use super::snapshot::{RequestState, SessionState};
        let sessions = self
            .sessions
            .iter()
            .map(|s| SessionState { id: s.id, user: s.user, peer: s.peer(), at: s as *const SessionNode as usize })
            .collect();
        let requests = self
            .requests
            .iter()
            .map(|p| RequestState {
                session: p.session,
                mid: p.mid,
                peer: p.peer(),
                state: p.state,
                deadline: p.deadline,
                timeout: p.timeout,
                retransmits: p.retransmits,
                token: p.token().to_vec(),
                bytes: p.encoded().to_vec(),
                bytes_cap: p.bytes_cap,
                at: p as *const RequestNode as usize,
                bytes_at: p.bytes.map_or(0, |b| b.as_ptr() as usize),
            })
            .collect();
        (sessions, requests)
    }
}

/// Writes option headers and values, tracking the previous number.
struct OptionWriter<'o, 'b> {
    out: &'o mut super::link_format::Out<'b>,
    prev: u16,
}

/// RFC 7252 §3.1 nibble and extended bytes for a delta or length.
fn nibble(v: usize) -> (u8, [u8; 2], usize) {
    match v {
        0..=12 => (v as u8, [0; 2], 0),
        13..=268 => (13, [(v - 13) as u8, 0], 1),
        _ => (14, ((v - 269) as u16).to_be_bytes(), 2),
    }
}

impl OptionWriter<'_, '_> {
    fn header(&mut self, number: u16, len: usize) {
        let (dn, dext, dl) = nibble(usize::from(number - self.prev));
        let (ln, lext, ll) = nibble(len);
        self.out.put(&[dn << 4 | ln]);
        self.out.put(dext.get(..dl).unwrap_or(&[]));
        self.out.put(lext.get(..ll).unwrap_or(&[]));
        self.prev = number;
    }

    /// An option whose value is `%XX`-decoded from `raw`.
    fn decoded(&mut self, number: u16, raw: &[u8]) -> Result<(), Error> {
        let len = percent_decode(raw, |_| {}).ok_or(Error::Uri)?;
        if len > SEGMENT_MAX {
            return Err(Error::Uri);
        }
        self.header(number, len);
        percent_decode(raw, |b| self.out.put(&[b]));
        Ok(())
    }
}

/// Encodes the CON request into `out` (which counts what does not fit);
/// returns the number of its last option (0: none).
fn encode_request(out: &mut super::link_format::Out<'_>, mid: u16, req: &Request<'_>, token: &[u8]) -> Result<u8, Error> {
    let code = match req.method {
        Methods::GET => Code::GET,
        Methods::POST => Code::POST,
        Methods::PUT => Code::PUT,
        Methods::DELETE => Code::DELETE,
        _ => return Err(Error::Method),
    };
    let tkl = token.len() as u8;
    out.put(&[0x40 | (MessageType::Con.bits() << 4) | tkl, code.0]);
    out.put(&mid.to_be_bytes());
    out.put(token);
    let mut last = 0;
    if req.include_options {
        // Never Uri-Host (the destination is an IP literal) nor Uri-Port
        // (always the destination port), §6.4.
        let (path, query) = split_request_uri(req.uri);
        let mut w = OptionWriter { out, prev: 0 };
        if req.observe {
            // Observe 0 (register), always the first option: the
            // deregistration rewrites it in place (`client/observe.rs`).
            w.header(option::OBSERVE, 0);
        }
        for seg in path_segments(path) {
            w.decoded(option::URI_PATH, seg)?;
        }
        if let Some(cf) = req.content_format {
            let mut buf = [0; 4];
            let v = option::encode_uint(u32::from(cf), &mut buf);
            w.header(option::CONTENT_FORMAT, v.len());
            w.out.put(v);
        }
        for arg in query_args(query) {
            w.decoded(option::URI_QUERY, arg)?;
        }
        last = w.prev as u8;
    }
    if !req.payload.is_empty() {
        out.put(&[PAYLOAD_MARKER]);
        out.put(req.payload);
    }
    Ok(last)
}

impl Engine {
    /// Releases a request's blocks (its bytes, if still held, and its node).
    fn release_request(&mut self, block: core::ptr::NonNull<u8>, p: &RequestNode) {
        if let Some(b) = p.bytes {
            self.store.release(b, usize::from(p.bytes_cap));
        }
        self.store.release(block, block_size(size_of::<RequestNode>()));
    }

    /// Unlinks request node `at` (a live node of the list) and releases its
    /// blocks. One out-of-line copy for its callers.
    #[inline(never)]
    fn take_node(&mut self, at: *const RequestNode) {
        self.take_request(|q| core::ptr::eq(q, at));
    }

    /// Unlinks the first request `pred` accepts, releases its blocks, and
    /// returns a copy of it.
    fn take_request(&mut self, pred: impl FnMut(&RequestNode) -> bool) -> Option<RequestNode> {
        let block = self.client.requests.unlink(pred)?;
        let p: RequestNode = unlinked(block);
        self.release_request(block, &p);
        Some(p)
    }

    /// Creates a client session to `peer` (`new_client_session`). Several
    /// sessions may share a peer. Storage: one block
    /// ([`Error::NeedStorage`] / [`Error::NoMemory`]).
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Endpoint, Engine, Error, Heap, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let mut heap = Heap::default();
    /// let peer = Endpoint { addr: [127, 0, 0, 1], port: 5683 };
    /// let a = heap.run(engine, |e| e.new_session(peer))?;
    /// let b = heap.run(engine, |e| e.new_session(peer))?;
    /// assert_ne!(a, b);
    /// assert_eq!(engine.session_peer(a)?, peer);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new_session(&mut self, peer: Endpoint) -> Result<SessionHandle, Error> {
        self.new_session_with_user(peer, 0)
    }

    /// [`Engine::new_session`], storing the caller's word `user` with the
    /// session (see [`Engine::session_user`]).
    pub fn new_session_with_user(&mut self, peer: Endpoint, user: usize) -> Result<SessionHandle, Error> {
        let mut r = self.store.reserve(&[size_of::<SessionNode>()])?;
        let Some((block, _)) = r.take(0) else { return Err(Error::NoMemory) };
        let id = loop {
            let id = self.next_id;
            self.next_id = id.wrapping_add(1);
            if id != 0 && !self.client.sessions.iter().any(|s| s.id == id) {
                break id;
            }
        };
        self.client.sessions.append(block, |n| {
            n.user = user;
            n.id = id;
            n.addr = peer.addr;
            n.port = peer.port;
        });
        Ok(SessionHandle::from_raw(id))
    }

    /// The session's peer (`get_details`).
    pub fn session_peer(&self, h: SessionHandle) -> Result<Endpoint, Error> {
        self.client.session(h).map(SessionNode::peer)
    }

    /// The caller's word stored with session `h`.
    pub fn session_user(&self, h: SessionHandle) -> Result<usize, Error> {
        self.client.session(h).map(|s| s.user)
    }

    /// The word of the `index`-th session in the order created.
    pub fn session_user_at(&self, index: usize) -> Option<usize> {
        self.client.sessions.iter().nth(index).map(|s| s.user)
    }

    /// The word of the `index`-th session to `peer`, in the order created.
    pub fn session_user_to(&self, peer: Endpoint, index: usize) -> Option<usize> {
        self.client.sessions.iter().filter(|s| s.peer() == peer).nth(index).map(|s| s.user)
    }

    /// Removes a session; its queued and outstanding requests are dropped
    /// silently (no events). Its storage is given back.
    pub fn remove_session(&mut self, h: SessionHandle) -> Result<(), Error> {
        self.client.session(h)?;
        let id = h.raw();
        while self.take_request(|p| p.session == id).is_some() {}
        if let Some(block) = self.client.sessions.unlink(|s| s.id == id) {
            self.store.release(block, block_size(size_of::<SessionNode>()));
        }
        Ok(())
    }

    /// Cancels the request of session `h` that carries `token` (the oldest,
    /// if several do), queued or sent: it is dropped silently (no event,
    /// no more retransmissions) and its storage is given back. A late
    /// response to it then matches nothing (a CON one is answered with
    /// RST). `Ok(false)` if the session has no such request,
    /// [`Error::Stale`] if the session is gone.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Endpoint, Engine, Error, Heap, Instant, Methods, Request};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// let s = heap.run(engine, |e| e.new_session(Endpoint { addr: [10, 0, 0, 1], port: 5683 }))?;
    /// let req = Request { token: b"t", ..Request::new(Methods::GET) };
    /// heap.run(engine, |e| e.send_request(s, &req, Instant(0)))?;
    /// assert_eq!(engine.poll_timeout(Instant(0)), Some(0));
    /// assert_eq!(engine.cancel_request(s, b"t"), Ok(true));
    /// assert_eq!(engine.poll_timeout(Instant(0)), None);
    /// assert_eq!(engine.cancel_request(s, b"t"), Ok(false));
    /// # heap.collect(engine);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn cancel_request(&mut self, h: SessionHandle, token: &[u8]) -> Result<bool, Error> {
        self.cancel(h, token, None)
    }

    /// Removes the oldest resource or, when none is left, the oldest
    /// session, and returns the word it was added with; `None` when nothing
    /// is left (`deinit`).
    pub fn take_user(&mut self) -> Option<usize> {
        if let Some(r) = self.resources.iter().next() {
            let (h, user) = (r.handle(), r.user());
            let _ = self.remove_resource(h);
            return Some(user);
        }
        let Some(s) = self.client.sessions.first() else {
            // Nothing else is left (`deinit`): observers whose resource
            // went meanwhile go too, without their 4.04.
            self.drop_observers(&mut |_| true);
            return None;
        };
        let (id, user) = (s.id, s.user);
        let _ = self.remove_session(SessionHandle::from_raw(id));
        Some(user)
    }

    /// Queues a confirmable request and returns its Message ID. It is sent
    /// by [`Engine::poll_transmit`] once no other CON to the same endpoint
    /// awaits an ACK, from any session (NSTART = 1, RFC 7252 §4.7).
    /// Storage: the request's node and its encoded bytes.
    ///
    /// Errors, in the order checked: [`Error::Stale`], [`Error::Method`],
    /// [`Error::Token`], [`Error::Uri`], [`Error::PayloadTooLarge`] (more
    /// than [`MESSAGE_MAX`] bytes), then [`Error::NeedStorage`] /
    /// [`Error::NoMemory`].
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Endpoint, Engine, Error, Heap, Instant, Methods, Request};
    /// use mpcoap::codec::{option, Message};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// let peer = Endpoint { addr: [10, 0, 0, 1], port: 5683 };
    /// let s = heap.run(engine, |e| e.new_session(peer))?;
    /// let req = Request { uri: b"/a/b%20c?x=1&y=2", token: b"tk", ..Request::new(Methods::GET) };
    /// let mid = heap.run(engine, |e| e.send_request(s, &req, Instant(0)))?;
    /// let mut buf = [0u8; mpcoap::capacity::MESSAGE_MAX];
    /// let (to, n) = engine.poll_transmit(Instant(0), &mut buf)?.unwrap();
    /// let msg = Message::parse(&buf[..n]).unwrap();
    /// assert_eq!((to, msg.mid(), msg.token()), (peer, mid, &b"tk"[..]));
    /// let path: Vec<&[u8]> = msg.options_numbered(option::URI_PATH).map(|o| o.value).collect();
    /// assert_eq!(path, [&b"a"[..], b"b c"]);
    /// assert_eq!(msg.options_numbered(option::URI_QUERY).count(), 2);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn send_request(&mut self, h: SessionHandle, req: &Request<'_>, now: Instant) -> Result<u16, Error> {
        let s = self.client.session(h)?;
        let (peer, session) = (s.peer(), s.id);
        if !req.method.is_single() {
            return Err(Error::Method);
        }
        if req.token.len() > MAX_TOKEN_LEN {
            return Err(Error::Token);
        }
        // An observation with no token gets a random one.
        let observe = req.observe;
        let random = if observe { self.rng.next_u32().to_be_bytes() } else { [0; 4] };
        let token = if observe && req.token.is_empty() { &random[..] } else { req.token };
        // Dry run: validates the uri and measures.
        let mut count = super::link_format::Out::new(&mut []);
        let last_opt = encode_request(&mut count, 0, req, token)?;
        let len = count.len();
        // Larger than one message: sent with Block1, the whole encoding
        // kept behind a transfer header (`client/block.rs`).
        let (szx, at) = if len <= MESSAGE_MAX {
            (None, 0)
        } else if req.payload.is_empty() || req.payload.len() > VALUE_MAX {
            return Err(Error::PayloadTooLarge);
        } else {
            (Some(block::block1_szx(len - req.payload.len() - 1).ok_or(Error::PayloadTooLarge)?), XFER)
        };
        // An observation keeps a byte for its deregistration (Observe 1).
        let mut r = self.store.reserve(&[size_of::<RequestNode>(), at + len + usize::from(observe)])?;
        let (Some((node_block, _)), Some((bytes, cap))) = (r.take(0), r.take(1)) else {
            // Never happens: both were planned (a request is never empty).
            return Err(Error::NoMemory);
        };
        let mid = self.take_mid();
        // SAFETY: `bytes` is a fresh block of `cap >= len` bytes.
        let mut out = super::link_format::Out::new(unsafe { core::slice::from_raw_parts_mut(bytes.as_ptr().add(at), len) });
        // Cannot fail: the dry run passed with the same request.
        let _ = encode_request(&mut out, mid, req, token);
        if let Some(szx) = szx {
            block::start_block1(bytes, len - req.payload.len() - 1, req.payload.len(), szx);
        }
        let mut tok = [0; 8];
        if let Some(t) = tok.get_mut(..token.len()) {
            t.copy_from_slice(token);
        }
        self.client.requests.append(node_block, |n| {
            n.bytes = Some(bytes);
            n.session = session;
            n.deadline = now.0;
            n.bytes_len = if szx.is_some() { 0 } else { len as u16 };
            n.bytes_cap = cap as u16;
            n.xfer = last_opt << 4
                | match szx {
                    Some(_) => BLOCK1_SEND,
                    None if req.method == Methods::GET && req.payload.is_empty() => {
                        MAY_FETCH | if observe { REGISTERS } else { 0 }
                    }
                    None => 0,
                };
            n.mid = mid;
            n.port = peer.port;
            n.addr = peer.addr;
            n.state = QUEUED;
            n.token_len = token.len() as u8;
            n.token = tok;
        });
        Ok(mid)
    }

    /// The next datagram to send now: the oldest queued request whose
    /// destination has no CON awaiting an ACK (NSTART = 1 per endpoint,
    /// across sessions), or a retransmission that is due; then Observe
    /// notifications (RFC 7641, `observe.rs`), which go from the server's
    /// socket. Call until it returns `Ok(None)`. [`Error::Buffer`] if `buf` is shorter than
    /// [`MESSAGE_MAX`].
    ///
    /// Retransmission (RFC 7252 §4.2): the first timeout is random in
    /// [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR] = [2, 3] s and doubles
    /// after each of the MAX_RETRANSMIT = 4 retransmissions; when the last
    /// timeout expires, [`Engine::poll_event`] reports the give-up.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Result<Option<(Endpoint, usize)>, Error> {
        if buf.len() < MESSAGE_MAX {
            return Err(Error::Buffer);
        }
        let client = &self.client;
        let due = client.requests.iter().enumerate().find(|(_, p)| match p.state {
            QUEUED => client.may_send(p),
            OUTSTANDING => Instant(p.deadline).is_reached_by(now) && p.retransmits < MAX_RETRANSMIT,
            _ => false,
        });
        let Some((i, p)) = due else { return self.poll_notify(now, buf) };
        let (state, old_timeout) = (p.state, p.timeout);
        let timeout = if state == QUEUED {
            let ack_timeout = self.ack_timeout_ms();
            // ACK_RANDOM_FACTOR 1.5: up to half of ACK_TIMEOUT on top.
            ack_timeout + self.rng.below_or_eq(ack_timeout / 2)
        } else {
            old_timeout.saturating_mul(2)
        };
        let mut k = 0;
        let Some(q) = self.client.requests.find_mut(|_| {
            k += 1;
            k == i + 1
        }) else {
            return Ok(None);
        };
        let len = if q.xfer & KIND == 0 {
            let bytes = q.encoded();
            let Some(dst) = buf.get_mut(..bytes.len()) else { return Ok(None) };
            dst.copy_from_slice(bytes);
            bytes.len()
        } else {
            block::write_request(q, buf)
        };
        if q.state == OUTSTANDING {
            q.retransmits += 1;
        }
        q.state = OUTSTANDING;
        q.timeout = timeout;
        q.deadline = now.add_ms(timeout).0;
        Ok(Some((q.peer(), len)))
    }

    /// Events that arise from time passing: a request that gave up (after
    /// MAX_RETRANSMIT, or waiting EXCHANGE_LIFETIME for a separate
    /// response) is reported with code 0, type [`TYPE_TIMEOUT`], its
    /// Message ID and token. Call until it returns `None`. The request's
    /// storage is given back. A deregistration (`cancel_observe`) that gives
    /// up ends silently, and that call returns `None` even if more events
    /// are due ([`Engine::poll_timeout`] then says 0).
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// use mpcoap::engine::{Endpoint, Engine, Error, Event, Heap, Instant, Methods, Request, TYPE_TIMEOUT};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// # let mut heap = Heap::default();
    /// // A peer that never answers: 1 transmission, 4 retransmissions, give-up.
    /// let s = heap.run(engine, |e| e.new_session(Endpoint { addr: [10, 0, 0, 1], port: 5683 }))?;
    /// let req = Request { token: b"t", ..Request::new(Methods::GET) };
    /// let mid = heap.run(engine, |e| e.send_request(s, &req, Instant(0)))?;
    /// let mut buf = [0u8; mpcoap::capacity::MESSAGE_MAX];
    /// let (mut now, mut sent) = (Instant(0), 0);
    /// let gave_up = loop {
    ///     while engine.poll_transmit(now, &mut buf)?.is_some() {
    ///         sent += 1;
    ///     }
    ///     if let Some(Event::Response(r)) = engine.poll_event(now) {
    ///         break (r.code, r.message_type, r.mid, r.token.to_vec());
    ///     }
    ///     now = now.add_ms(engine.poll_timeout(now).unwrap());
    /// };
    /// assert_eq!(gave_up, (0, TYPE_TIMEOUT, mid, b"t".to_vec()));
    /// assert_eq!(sent, 5);
    /// assert!((62_000..=93_000).contains(&now.0));
    /// assert_eq!(engine.poll_timeout(now), None);
    /// # heap.collect(engine);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn poll_event(&mut self, now: Instant) -> Option<Event<'_>> {
        self.expire_transfers(now);
        let p = self.take_request(|p| {
            Instant(p.deadline).is_reached_by(now)
                && (p.state == WAITING || (p.state == OUTSTANDING && p.retransmits >= MAX_RETRANSMIT))
        })?;
        if p.seq & CANCELLED != 0 {
            // A deregistration (`cancel_observe`) ends silently. (`None`
            // before the last event: the next call reports the rest, and
            // `poll_timeout` says it is due.)
            return None;
        }
        Some(self.request_event(&p, TYPE_TIMEOUT))
    }

    /// Milliseconds until [`Engine::poll_transmit`] or
    /// [`Engine::poll_event`] next has something to do: `Some(0)` if now,
    /// `None` if nothing is pending. See [`Engine::poll_event`] for an
    /// example of the loop that drives an engine.
    pub fn poll_timeout(&self, now: Instant) -> Option<u32> {
        let requests = self
            .client
            .requests
            .iter()
            .filter_map(|p| match p.state {
                QUEUED if self.client.may_send(p) => Some(0),
                OUTSTANDING | WAITING => Some(now.ms_until(Instant(p.deadline)).max(0) as u32),
                _ => None,
            })
            .min();
        // A Block1 transfer to expire (its storage given back by
        // `poll_event`).
        let requests = match (requests, self.transfers.next_expiry(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A notification to send ([`Engine::poll_notify`]).
        match (requests, self.observers.next_due(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// An RST/give-up event for request `p`; the token is kept in the
    /// engine so the event can borrow it.
    fn request_event(&mut self, p: &RequestNode, message_type: u8) -> Event<'_> {
        self.set_event_token(p.token());
        Event::Response(Response {
            session: SessionHandle::from_raw(p.session),
            code: 0,
            message_type,
            mid: p.mid,
            token: self.event_token(),
            payload: &[],
        })
    }

    /// Marks the request acknowledged without a response: its bytes are
    /// given back (no more retransmissions) and it waits up to
    /// EXCHANGE_LIFETIME for a separate response. A GET keeps its bytes
    /// (a Block2 answer continues from them), and so does a transfer.
    fn acknowledge(&mut self, from: Endpoint, mid: u16, now: Instant) {
        let Some(p) = self.client.requests.find_mut(|p| Client::answers_mid(p, from, mid)) else { return };
        let keep = p.xfer & (KIND | MAY_FETCH) != 0;
        let bytes = if keep { None } else { p.bytes.take().map(|b| (b, usize::from(p.bytes_cap))) };
        if !keep {
            p.bytes_len = 0;
            p.bytes_cap = 0;
        }
        p.state = WAITING;
        p.deadline = now.add_ms(EXCHANGE_LIFETIME_MS).0;
        if let Some((b, cap)) = bytes {
            self.store.release(b, cap);
        }
    }

    /// An empty ACK: our CON arrived; wait for the separate response.
    pub(crate) fn on_empty_ack(&mut self, now: Instant, from: Endpoint, mid: u16) {
        self.acknowledge(from, mid, now);
    }

    /// An ACK with a code (a piggybacked response) from `from`. Matched by
    /// Message ID and endpoint (§4.2) and, to be the response, by token too
    /// (§5.3.2). Returns the request's session when it is the response (the
    /// request is then done). An ACK whose token is not the request's
    /// acknowledges the CON but answers nothing: handled like an empty ACK,
    /// and the request waits for a separate response. A block of a
    /// transfer moves it on (`client/block.rs`). [`Error::NeedStorage`]
    /// before anything changed.
    pub(crate) fn on_piggybacked<'m>(&mut self, now: Instant, from: Endpoint, msg: &Message<'m>) -> Result<Matched<'m>, Error> {
        let mid = msg.mid();
        let Some(p) = self.client.requests.find_mut(|p| Client::answers_mid(p, from, mid)) else {
            return Ok(Matched::No);
        };
        if !p.answered_by(msg.token()) {
            self.acknowledge(from, mid, now);
            return Ok(Matched::No);
        }
        let at: *mut RequestNode = p;
        self.on_response(now, at, msg)
    }

    /// An RST: if it rejects our outstanding CON, report it (type 3).
    pub(crate) fn on_reset(&mut self, from: Endpoint, mid: u16) -> Option<Event<'_>> {
        let p = self.take_request(|p| Client::answers_mid(p, from, mid))?;
        if p.seq & CANCELLED != 0 {
            return None;
        }
        Some(self.request_event(&p, MessageType::Rst.bits()))
    }

    /// A separate (CON/NON) response, matched by token and endpoint; see
    /// [`Engine::on_piggybacked`].
    pub(crate) fn match_separate<'m>(&mut self, now: Instant, from: Endpoint, msg: &Message<'m>) -> Result<Matched<'m>, Error> {
        let token = msg.token();
        let Some(p) = self
            .client
            .requests
            // An observation matches in any state (fetching a notification's
            // blocks, the next one may come before the fetch's GET left).
            .find_mut(|p| (p.state != QUEUED || p.seq & ESTABLISHED != 0) && p.token() == token && p.peer() == from)
        else {
            return Ok(Matched::No);
        };
        let at: *mut RequestNode = p;
        self.on_response(now, at, msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::type_complexity)]
mod tests {
    use super::*;
    use crate::codec::option::*;
    use crate::engine::testutil::*;
    use MessageType::{Ack, Con, Non, Rst};

    const SERVER: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5683 };

    #[test]
    fn next_is_the_first_field() {
        assert_eq!(core::mem::offset_of!(SessionNode, next), 0);
        assert_eq!(core::mem::offset_of!(RequestNode, next), 0);
    }

    fn client() -> (Boxed, SessionHandle) {
        let mut e = Boxed::new(1000, 99);
        let s = e.new_session(SERVER).unwrap();
        (e, s)
    }

    fn transmit(e: &mut Boxed, now: u32) -> Option<(Endpoint, Reply)> {
        let mut buf = [0u8; MESSAGE_MAX];
        e.poll_transmit(Instant(now), &mut buf).unwrap().map(|(to, n)| (to, Reply::parse(&buf[..n])))
    }

    fn get(uri: &'static [u8], token: &'static [u8]) -> Request<'static> {
        Request { uri, token, ..Request::new(Methods::GET) }
    }

    fn event(e: &mut Boxed, now: u32) -> Option<OwnedEvent> {
        e.poll_event(Instant(now)).map(OwnedEvent::from)
    }

    #[test]
    fn request_building() {
        let (mut e, s) = client();
        let cases: [(Request<'static>, Vec<(u16, Vec<u8>)>); 6] = [
            (get(b"a/b?x=1&y=2", b""), vec![(URI_PATH, b"a".to_vec()), (URI_PATH, b"b".to_vec()), (URI_QUERY, b"x=1".to_vec()), (URI_QUERY, b"y=2".to_vec())]),
            (get(b"/%41%2fb/c%20d", b""), vec![(URI_PATH, b"A/b".to_vec()), (URI_PATH, b"c d".to_vec())]),
            (get(b"", b""), vec![]),
            (get(b"/", b""), vec![]),
            (Request { content_format: Some(0), ..get(b"x", b"") }, vec![(URI_PATH, b"x".to_vec()), (CONTENT_FORMAT, vec![])]),
            (Request { content_format: Some(50), include_options: false, payload: b"p", ..get(b"a/b?q", b"tk") }, vec![]),
        ];
        for (i, (req, options)) in cases.iter().enumerate() {
            let mid = e.send_request(s, req, Instant(0)).unwrap();
            let (to, r) = transmit(&mut e, 0).unwrap();
            assert_eq!((to, r.t, r.code, r.mid), (SERVER, Con, Code::GET, mid), "case {i}");
            assert_eq!(&r.options, options, "case {i}");
            assert_eq!(r.token, req.token);
            assert_eq!(r.payload, req.payload);
            // Acknowledge, so the next one may go (NSTART = 1).
            let ack = datagram(Ack, Code::CONTENT, mid, req.token, &[], b"");
            exchange(&mut e, 0, SERVER, false, &ack);
        }
        // Methods map to codes.
        for (m, code) in [(Methods::PUT, Code::PUT), (Methods::POST, Code::POST), (Methods::DELETE, Code::DELETE)] {
            let mid = e.send_request(s, &Request::new(m), Instant(0)).unwrap();
            assert_eq!(transmit(&mut e, 0).unwrap().1.code, code);
            exchange(&mut e, 0, SERVER, false, &datagram(Ack, Code::CHANGED, mid, b"", &[], b""));
        }
    }

    #[test]
    fn request_errors_change_nothing() {
        let (mut e, s) = client();
        let bad = |e: &mut Boxed, r: &Request<'_>| e.send_request(s, r, Instant(0)).unwrap_err();
        assert_eq!(bad(&mut e, &Request::new(Methods(3))), Error::Method);
        assert_eq!(bad(&mut e, &Request::new(Methods(0))), Error::Method);
        assert_eq!(bad(&mut e, &get(b"a", b"123456789")), Error::Token);
        assert_eq!(bad(&mut e, &get(b"a%4", b"")), Error::Uri);
        assert_eq!(bad(&mut e, &get(b"a%zz", b"")), Error::Uri);
        let long = [b'x'; 256];
        assert_eq!(bad(&mut e, &Request { uri: &long, ..Request::new(Methods::GET) }), Error::Uri);
        // Over VALUE_MAX: refused (up to it, sent block-wise).
        let payload = [0u8; crate::capacity::VALUE_MAX + 1];
        assert_eq!(bad(&mut e, &Request { payload: &payload, ..Request::new(Methods::PUT) }), Error::PayloadTooLarge);
        // Options alone longer than a message: refused.
        let seg = [b'x'; 255];
        let long_uri = [&seg[..], b"/", &seg, b"/", &seg, b"/", &seg, b"/", &seg].concat();
        assert_eq!(bad(&mut e, &Request { uri: &long_uri, ..Request::new(Methods::GET) }), Error::PayloadTooLarge);
        assert_eq!(bad(&mut e, &Request { uri: &long_uri, payload: b"x", ..Request::new(Methods::PUT) }), Error::PayloadTooLarge);
        // Exactly one message is fine: 4 header + 1 marker.
        let fits = Request { payload: &payload[..MESSAGE_MAX - 5], ..Request::new(Methods::PUT) };
        e.send_request(s, &fits, Instant(0)).unwrap();
        // Storage refused (either block): NoMemory, nothing queued, no
        // Message ID taken.
        for fail in 1..=2 {
            let mid = e.next_mid;
            e.heap.fail_at = Some(e.heap.allocations() + fail);
            assert_eq!(bad(&mut e, &get(b"a", b"")), Error::NoMemory);
            assert_eq!((e.client.requests.iter().count(), e.next_mid), (1, mid));
        }
        e.collect();
        assert_eq!(e.heap.live_blocks(), 3, "the session, and the request with its bytes");
        let stale = SessionHandle::from_raw(0);
        assert_eq!(e.send_request(stale, &get(b"a", b""), Instant(0)), Err(Error::Stale));
        assert_eq!(transmit(&mut e, 0).unwrap().1.payload.len(), MESSAGE_MAX - 5);
    }

    #[test]
    fn any_number_of_requests_queue_and_go_in_order() {
        let (mut e, s) = client();
        let mids: Vec<u16> = (0..200).map(|_| e.send_request(s, &get(b"a", b""), Instant(0)).unwrap()).collect();
        for (i, mid) in mids.iter().enumerate() {
            let (_, r) = transmit(&mut e, i as u32).unwrap();
            assert_eq!(r.mid, *mid);
            assert!(transmit(&mut e, i as u32).is_none(), "NSTART = 1");
            exchange(&mut e, i as u32, SERVER, false, &datagram(Ack, Code::CONTENT, *mid, b"", &[], b""));
        }
        e.collect();
        assert_eq!(e.heap.live_blocks(), 1, "only the session is left");
    }

    #[test]
    fn cancelled_request_is_forgotten() {
        let (mut e, s) = client();
        let s2 = e.new_session(SERVER).unwrap();
        let m1 = e.send_request(s, &get(b"1", b"a"), Instant(0)).unwrap();
        let m2 = e.send_request(s2, &get(b"2", b"b"), Instant(0)).unwrap();
        assert_eq!(transmit(&mut e, 0).unwrap().1.mid, m1);
        assert_eq!(e.cancel_request(s2, b"a"), Ok(false), "another session's token");
        assert_eq!(e.cancel_request(s, b"a"), Ok(true));
        // Its NSTART slot is free, and it is never retransmitted nor given up.
        assert_eq!(transmit(&mut e, 0).unwrap().1.mid, m2);
        assert_eq!(e.cancel_request(s2, b"b"), Ok(true), "an outstanding one too");
        assert_eq!(e.poll_timeout(Instant(0)), None);
        assert!(transmit(&mut e, 100_000).is_none());
        assert!(event(&mut e, 100_000).is_none());
        // Late responses match nothing: a CON one gets RST, an ACK nothing.
        let (r, ev) = exchange(&mut e, 10, SERVER, false, &datagram(Con, Code::CONTENT, 0x7000, b"a", &[], b"late"));
        assert_eq!((r.unwrap().t, ev), (Rst, None));
        let (r, ev) = exchange(&mut e, 10, SERVER, false, &datagram(Ack, Code::CONTENT, m2, b"b", &[], b""));
        assert!(r.is_none() && ev.is_none());
        // A queued (unsent) one, and a stale session.
        e.send_request(s, &get(b"3", b""), Instant(20)).unwrap();
        assert_eq!(e.cancel_request(s, b""), Ok(true));
        assert_eq!(e.poll_timeout(Instant(20)), None);
        e.remove_session(s2).unwrap();
        assert_eq!(e.cancel_request(s2, b"b"), Err(Error::Stale));
        e.collect();
        assert_eq!(e.heap.live_blocks(), 1, "only the session is left");
    }

    #[test]
    fn sessions_have_no_table_limit() {
        let mut e = Boxed::new(0, 1);
        let hs: Vec<_> = (0..100).map(|_| e.new_session(SERVER).unwrap()).collect();
        e.remove_session(hs[3]).unwrap();
        assert_eq!(e.session_peer(hs[3]), Err(Error::Stale));
        let again = e.new_session(SERVER).unwrap();
        assert_ne!(again, hs[3]);
        assert_eq!(e.remove_session(hs[3]), Err(Error::Stale));
    }

    #[test]
    fn nstart_one_per_endpoint_across_sessions() {
        let (mut e, s) = client();
        let s2 = e.new_session(SERVER).unwrap();
        let other = Endpoint { port: 5684, ..SERVER };
        let s3 = e.new_session(other).unwrap();
        let m1 = e.send_request(s, &get(b"1", b"a"), Instant(0)).unwrap();
        let m2 = e.send_request(s2, &get(b"2", b"b"), Instant(0)).unwrap();
        let m3 = e.send_request(s, &get(b"3", b"c"), Instant(0)).unwrap();
        let m4 = e.send_request(s3, &get(b"4", b"d"), Instant(0)).unwrap();
        assert_eq!((m2, m3, m4), (m1.wrapping_add(1), m1.wrapping_add(2), m1.wrapping_add(3)), "one MID counter");
        assert_eq!(transmit(&mut e, 0).unwrap().1.mid, m1);
        let (to, r) = transmit(&mut e, 0).unwrap();
        assert_eq!((to, r.mid), (other, m4), "another endpoint may send");
        assert!(transmit(&mut e, 0).is_none(), "m2 (another session, same endpoint) waits for m1's ACK");
        let t = e.poll_timeout(Instant(0)).unwrap();
        assert!(t >= crate::engine::params::ACK_TIMEOUT_MS, "only retransmissions are due, in {t} ms");
        // An empty ACK ends m1's NSTART slot: the oldest queued one goes.
        exchange(&mut e, 10, SERVER, false, &datagram(Ack, Code::EMPTY, m1, b"", &[], b""));
        assert_eq!(transmit(&mut e, 10).unwrap().1.mid, m2);
        assert!(transmit(&mut e, 10).is_none(), "m3 waits for m2");
        // A piggybacked response ends m2's: m3 goes.
        let (_, ev) = exchange(&mut e, 20, SERVER, false, &datagram(Ack, Code::CONTENT, m2, b"b", &[], b""));
        assert!(ev.is_some());
        assert_eq!(transmit(&mut e, 20).unwrap().1.mid, m3);
        // Removing the session of an outstanding request frees the slot.
        let m5 = e.send_request(s2, &get(b"5", b"e"), Instant(30)).unwrap();
        assert!(transmit(&mut e, 30).is_none());
        e.remove_session(s).unwrap();
        assert_eq!(e.poll_timeout(Instant(30)), Some(0));
        assert_eq!(transmit(&mut e, 30).unwrap().1.mid, m5);
    }

    #[test]
    fn retransmission_backoff_and_give_up_across_the_wrap() {
        let (mut e, s) = client();
        let t0 = u32::MAX - 5_000; // the clock wraps during the exchange
        let mid = e.send_request(s, &get(b"x", b"tok"), Instant(t0)).unwrap();
        assert_eq!(e.poll_timeout(Instant(t0)), Some(0));
        let first = transmit(&mut e, t0).unwrap().1;
        let timeout = e.poll_timeout(Instant(t0)).unwrap();
        assert!((2000..=3000).contains(&timeout), "initial timeout {timeout}");
        let mut now = t0;
        let mut expected = timeout;
        for n in 1..=4 {
            assert!(transmit(&mut e, now.wrapping_add(expected - 1)).is_none());
            assert_eq!(e.poll_timeout(Instant(now.wrapping_add(expected - 1))), Some(1));
            now = now.wrapping_add(expected);
            let again = transmit(&mut e, now).unwrap().1;
            assert_eq!(again, first, "retransmission {n} is the same message");
            assert!(event(&mut e, now).is_none());
            expected *= 2;
            assert_eq!(e.poll_timeout(Instant(now)), Some(expected));
        }
        assert!(now < t0, "crossed the wrap");
        // After the 4th retransmission's timeout: give up, one event.
        assert!(event(&mut e, now.wrapping_add(expected - 1)).is_none());
        now = now.wrapping_add(expected);
        assert!(transmit(&mut e, now).is_none(), "no 5th retransmission");
        assert_eq!(
            event(&mut e, now),
            Some(OwnedEvent::Response { session: s, code: 0, t: crate::engine::TYPE_TIMEOUT, mid, token: b"tok".to_vec(), payload: vec![] })
        );
        assert!(event(&mut e, now).is_none());
        assert_eq!(e.poll_timeout(Instant(now)), None);
        // Total wait: between 2+4+8+16+32 = 62 s and 93 s.
        let total = Instant(t0).ms_until(Instant(now));
        assert!((62_000..=93_000).contains(&total), "{total}");
    }

    #[test]
    fn shortened_ack_timeout_scales_the_whole_back_off() {
        let (mut e, s) = client();
        assert_eq!(e.set_ack_timeout_ms(100), 100);
        let mid = e.send_request(s, &get(b"x", b""), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        let mut timeout = e.poll_timeout(Instant(0)).unwrap();
        assert!((100..=150).contains(&timeout), "initial timeout {timeout}");
        let mut now = 0;
        for _ in 0..4 {
            now += timeout;
            assert!(transmit(&mut e, now).is_some());
            timeout *= 2;
        }
        now += timeout;
        assert!(matches!(event(&mut e, now), Some(OwnedEvent::Response { mid: m, t: crate::engine::TYPE_TIMEOUT, .. }) if m == mid));
        assert!((3_100..=4_650).contains(&now), "gave up after {now} ms");
        // Back to the shipped value for the next request.
        assert_eq!(e.set_ack_timeout_ms(0), crate::engine::params::ACK_TIMEOUT_MS);
        e.send_request(s, &get(b"x", b""), Instant(now)).unwrap();
        transmit(&mut e, now).unwrap();
        assert!(e.poll_timeout(Instant(now)).unwrap() >= crate::engine::params::ACK_TIMEOUT_MS);
    }

    #[test]
    fn late_polling_bases_the_next_timeout_on_now() {
        let (mut e, s) = client();
        e.send_request(s, &get(b"x", b""), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        let t = e.poll_timeout(Instant(0)).unwrap();
        let late = t + 10_000;
        assert!(transmit(&mut e, late).is_some());
        assert_eq!(e.poll_timeout(Instant(late)), Some(2 * t));
    }

    #[test]
    fn piggybacked_response_once() {
        let (mut e, s) = client();
        let mid = e.send_request(s, &get(b"x", b"t1"), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        let ack = datagram(Ack, Code::CONTENT, mid, b"t1", &[(CONTENT_FORMAT, &[])], b"hi");
        let (reply, ev) = exchange(&mut e, 5, SERVER, false, &ack);
        assert_eq!(reply, None);
        assert_eq!(ev, Some(OwnedEvent::Response { session: s, code: 69, t: 2, mid, token: b"t1".to_vec(), payload: b"hi".to_vec() }));
        // A duplicate ACK, or one from another endpoint: nothing.
        assert_eq!(exchange(&mut e, 6, SERVER, false, &ack), (None, None));
        assert_eq!(e.poll_timeout(Instant(6)), None, "no more retransmissions");
        // A response without payload is delivered too.
        let mid = e.send_request(s, &Request::new(Methods::DELETE), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        let other = Endpoint { port: 9999, ..SERVER };
        let ack = datagram(Ack, Code::DELETED, mid, b"", &[], b"");
        assert_eq!(exchange(&mut e, 7, other, false, &ack), (None, None));
        assert!(exchange(&mut e, 7, SERVER, false, &ack).1.is_some());
    }

    #[test]
    fn ack_with_another_token_only_acknowledges() {
        let (mut e, s) = client();
        let mid = e.send_request(s, &get(b"x", b"t1"), Instant(0)).unwrap();
        let next = e.send_request(s, &get(b"y", b"t2"), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        // Right Message ID, foreign token (§5.3.2): not our response.
        let foreign = datagram(Ack, Code::CONTENT, mid, b"zz", &[], b"not yours");
        assert_eq!(exchange(&mut e, 5, SERVER, false, &foreign), (None, None));
        // It acknowledged the CON (§4.2): its bytes are freed (no more
        // retransmissions) and the next request to the endpoint may go.
        assert_eq!(e.client.requests.first().unwrap().state, WAITING);
        assert_eq!(transmit(&mut e, 5).unwrap().1.mid, next);
        // An empty token is not the request's token either.
        exchange(&mut e, 6, SERVER, false, &datagram(Ack, Code::CONTENT, next, b"", &[], b"x"));
        assert_eq!(e.client.requests.iter().map(|p| p.state).collect::<Vec<_>>(), [WAITING, WAITING]);
        assert!(transmit(&mut e, 60_000).is_none(), "nothing is retransmitted");
        // A GET keeps its encoding (a Block2 answer continues from it).
        assert!(e.client.requests.iter().all(|p| p.encoded().get(1) == Some(&Code::GET.0)));
        // The right ACK after it: too late, ignored (a duplicate).
        let right = datagram(Ack, Code::CONTENT, mid, b"t1", &[], b"late ack");
        assert_eq!(exchange(&mut e, 7, SERVER, false, &right), (None, None));
        // The separate response is delivered.
        let sep = datagram(Con, Code::CONTENT, 0x5151, b"t1", &[], b"mine");
        let (r, ev) = exchange(&mut e, 8, SERVER, false, &sep);
        assert_eq!(r.unwrap().t, Ack);
        assert_eq!(ev, Some(OwnedEvent::Response { session: s, code: 69, t: 0, mid: 0x5151, token: b"t1".to_vec(), payload: b"mine".to_vec() }));
        // Without one, the other request gives up after EXCHANGE_LIFETIME.
        assert_eq!(e.poll_timeout(Instant(6)), Some(EXCHANGE_LIFETIME_MS));
        assert!(event(&mut e, 5 + EXCHANGE_LIFETIME_MS).is_none());
        let ev = event(&mut e, 6 + EXCHANGE_LIFETIME_MS).unwrap();
        assert_eq!(ev, OwnedEvent::Response { session: s, code: 0, t: TYPE_TIMEOUT, mid: next, token: b"t2".to_vec(), payload: vec![] });
    }

    #[test]
    fn responses_with_unrecognised_critical_options_are_rejected() {
        let (mut e, s) = client();
        let mid = e.send_request(s, &get(b"x", b"c1"), Instant(0)).unwrap();
        let first = transmit(&mut e, 0).unwrap().1;
        let timeout = e.poll_timeout(Instant(0)).unwrap();
        // Option 9 is critical and unknown; a Block2 (23) of 4 bytes is out
        // of range (§5.4.3); Uri-Host (3) twice is a repeat (§5.4.5).
        let bad: [&[(u16, &[u8])]; 3] = [&[(9, b"x")], &[(BLOCK2, &[0, 0, 0, 6])], &[(URI_HOST, b"a"), (URI_HOST, b"b")]];
        for (i, options) in bad.into_iter().enumerate() {
            let i = i as u16;
            // A piggybacked ACK: ignored, not even an acknowledgement.
            let ack = datagram(Ack, Code::CONTENT, mid, b"c1", options, b"bad");
            assert_eq!(exchange(&mut e, 5, SERVER, false, &ack), (None, None), "{options:?}");
            assert_eq!(e.poll_timeout(Instant(5)), Some(timeout - 5), "still outstanding");
            // A CON separate response: RST, also for its duplicate.
            let con = datagram(Con, Code::CONTENT, 0x4200 + i, b"c1", options, b"bad");
            for _ in 0..2 {
                let (r, ev) = exchange(&mut e, 6, SERVER, false, &con);
                let r = r.unwrap();
                assert_eq!((r.t, r.code, r.mid, ev), (Rst, Code::EMPTY, 0x4200 + i, None), "{options:?}");
            }
            // A NON one: dropped.
            let non = datagram(Non, Code::CONTENT, 0x4300 + i, b"c1", options, b"bad");
            assert_eq!(exchange(&mut e, 7, SERVER, false, &non), (None, None), "{options:?}");
        }
        // The CON is retransmitted, and a valid ACK to it is the response.
        assert_eq!(transmit(&mut e, timeout).unwrap().1, first);
        let ok = datagram(Ack, Code::CONTENT, mid, b"c1", &[], b"good");
        let (_, ev) = exchange(&mut e, timeout + 1, SERVER, false, &ok);
        assert_eq!(ev, Some(OwnedEvent::Response { session: s, code: 69, t: 2, mid, token: b"c1".to_vec(), payload: b"good".to_vec() }));

        // Recognised options are accepted: Block2 (a last block 0 is
        // delivered as is), Size2, and any elective one, known or not.
        let fine: [&[(u16, &[u8])]; 3] = [&[(BLOCK2, &[0x02]), (SIZE2, &[4, 0])], &[(OBSERVE, &[1]), (258, b"")], &[(BLOCK1, &[0x06])]];
        for options in fine {
            let mid = e.send_request(s, &get(b"x", b"ok"), Instant(100)).unwrap();
            transmit(&mut e, 100).unwrap();
            let ack = datagram(Ack, Code::CONTENT, mid, b"ok", options, b"block 0");
            let ev = exchange(&mut e, 101, SERVER, false, &ack).1;
            assert!(matches!(ev, Some(OwnedEvent::Response { t: 2, ref payload, .. }) if payload == b"block 0"), "{options:?}");
        }

        // A request whose every answer is rejected gives up on time.
        let mid = e.send_request(s, &get(b"x", b"g"), Instant(200)).unwrap();
        let mut now = 200;
        let mut sent = 0;
        let gave_up = loop {
            while let Some((_, r)) = transmit(&mut e, now) {
                sent += 1;
                let ack = datagram(Ack, Code::CONTENT, r.mid, b"g", &[(9, b"")], b"bad");
                assert_eq!(exchange(&mut e, now, SERVER, false, &ack), (None, None));
            }
            if let Some(ev) = event(&mut e, now) {
                break ev;
            }
            now += e.poll_timeout(Instant(now)).unwrap();
        };
        assert_eq!(gave_up, OwnedEvent::Response { session: s, code: 0, t: TYPE_TIMEOUT, mid, token: b"g".to_vec(), payload: vec![] });
        assert_eq!(sent, 1 + MAX_RETRANSMIT);
        assert!((62_000..=93_000).contains(&(now - 200)), "{now}");
    }

    #[test]
    fn separate_response_acked_and_delivered_once() {
        let (mut e, s) = client();
        let mid = e.send_request(s, &get(b"x", b"sep"), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        // Empty ACK: no event, no more retransmissions.
        let (r, ev) = exchange(&mut e, 100, SERVER, false, &datagram(Ack, Code::EMPTY, mid, b"", &[], b""));
        assert_eq!((r, ev), (None, None));
        assert!(transmit(&mut e, 60_000).is_none());
        // The separate response (CON, the server's own MID): ACK + event.
        let sep = datagram(Con, Code::CONTENT, 0x5555, b"sep", &[], b"late");
        let (r, ev) = exchange(&mut e, 200, SERVER, false, &sep);
        let r = r.unwrap();
        assert_eq!((r.t, r.code, r.mid, r.token.len()), (Ack, Code::EMPTY, 0x5555, 0));
        assert_eq!(ev, Some(OwnedEvent::Response { session: s, code: 69, t: 0, mid: 0x5555, token: b"sep".to_vec(), payload: b"late".to_vec() }));
        // Its retransmission (our ACK was lost): ACKed again, not delivered.
        let (r, ev) = exchange(&mut e, 300, SERVER, false, &sep);
        assert_eq!((r.unwrap().t, ev), (Ack, None));
        // A NON separate response: delivered, not ACKed; its duplicate ignored.
        let mid = e.send_request(s, &get(b"y", b"non"), Instant(400)).unwrap();
        transmit(&mut e, 400).unwrap();
        exchange(&mut e, 401, SERVER, false, &datagram(Ack, Code::EMPTY, mid, b"", &[], b""));
        let non = datagram(Non, Code::CONTENT, 0x6666, b"non", &[], b"n");
        let (r, ev) = exchange(&mut e, 402, SERVER, false, &non);
        assert_eq!((r, ev.is_some()), (None, true));
        assert_eq!(exchange(&mut e, 403, SERVER, false, &non), (None, None));
    }

    #[test]
    fn separate_response_before_the_ack() {
        let (mut e, s) = client();
        e.send_request(s, &get(b"x", b"q"), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        let sep = datagram(Con, Code::CONTENT, 0x7777, b"q", &[], b"v");
        let (r, ev) = exchange(&mut e, 10, SERVER, false, &sep);
        assert_eq!((r.unwrap().t, ev.is_some()), (Ack, true));
        assert_eq!(e.poll_timeout(Instant(10)), None, "request done, no retransmission");
    }

    #[test]
    fn unmatched_responses() {
        let (mut e, _) = client();
        let con = datagram(Con, Code::CONTENT, 0x1111, b"zz", &[], b"x");
        let (r, ev) = exchange(&mut e, 0, SERVER, false, &con);
        let r = r.unwrap();
        assert_eq!((r.t, r.mid, ev), (Rst, 0x1111, None));
        // Its duplicate gets the same RST.
        assert_eq!(exchange(&mut e, 1, SERVER, false, &con).0.unwrap().t, Rst);
        assert_eq!(exchange(&mut e, 0, SERVER, false, &datagram(Non, Code::CONTENT, 0x1112, b"zz", &[], b"x")), (None, None));
        assert_eq!(exchange(&mut e, 0, SERVER, false, &datagram(Ack, Code::CONTENT, 0x1113, b"zz", &[], b"x")), (None, None));
        assert_eq!(exchange(&mut e, 0, SERVER, false, &[0x70, 0, 0x11, 0x14]), (None, None));
    }

    #[test]
    fn reset_reports_type_3() {
        let (mut e, s) = client();
        let mid = e.send_request(s, &get(b"x", b"rr"), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        let rst = datagram(Rst, Code::EMPTY, mid, b"", &[], b"");
        let (r, ev) = exchange(&mut e, 5, SERVER, false, &rst);
        assert_eq!(r, None);
        assert_eq!(ev, Some(OwnedEvent::Response { session: s, code: 0, t: 3, mid, token: b"rr".to_vec(), payload: vec![] }));
        assert_eq!(exchange(&mut e, 6, SERVER, false, &rst), (None, None));
        assert_eq!(e.poll_timeout(Instant(6)), None);
    }

    #[test]
    fn waiting_for_a_separate_response_gives_up() {
        let (mut e, s) = client();
        let mid = e.send_request(s, &get(b"x", b""), Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        exchange(&mut e, 10, SERVER, false, &datagram(Ack, Code::EMPTY, mid, b"", &[], b""));
        assert_eq!(e.poll_timeout(Instant(10)), Some(EXCHANGE_LIFETIME_MS));
        assert!(event(&mut e, 9 + EXCHANGE_LIFETIME_MS).is_none());
        let ev = event(&mut e, 10 + EXCHANGE_LIFETIME_MS).unwrap();
        assert!(matches!(ev, OwnedEvent::Response { t: TYPE_TIMEOUT, code: 0, mid: m, .. } if m == mid));
    }

    #[test]
    fn removing_a_session_drops_its_requests_silently() {
        let (mut e, s) = client();
        let s2 = e.new_session(SERVER).unwrap();
        e.send_request(s, &get(b"a", b""), Instant(0)).unwrap();
        e.send_request(s, &get(b"b", b""), Instant(0)).unwrap();
        let keep = e.send_request(s2, &Request { payload: b"keep", ..Request::new(Methods::PUT) }, Instant(0)).unwrap();
        transmit(&mut e, 0).unwrap();
        e.remove_session(s).unwrap();
        assert_eq!(e.client.requests.iter().map(|p| p.bytes_len).collect::<Vec<_>>(), [4 + 1 + 4]);
        let (_, r) = transmit(&mut e, 0).unwrap();
        assert_eq!((r.mid, r.payload.as_slice()), (keep, &b"keep"[..]));
        for t in [3_000, 100_000, 1_000_000] {
            while transmit(&mut e, t).is_some() {}
            while let Some(ev) = event(&mut e, t) {
                assert!(matches!(ev, OwnedEvent::Response { session, .. } if session == s2));
            }
        }
    }
}

//! The client: sessions, request building, the request queue (NSTART=1 per
//! session), retransmission with exponential back-off, response matching.
//!
//! A request's life: `Queued` (encoded, waiting for its session's previous
//! CON to be acknowledged) → `Outstanding` (sent, retransmitted on time)
//! → either done (piggybacked response, RST or give-up: one event) or
//! `Waiting` (an empty ACK came; the bytes are freed and the request waits
//! up to EXCHANGE_LIFETIME for its separate response, matched by token and
//! endpoint). A `Waiting` request no longer counts for NSTART (RFC 7252
//! §4.7: it is not outstanding), so the session's next request may go.

use super::arena::{Arena, Span};
use super::params::{ACK_RANDOM_EXTRA_MS, ACK_TIMEOUT_MS, EXCHANGE_LIFETIME_MS, MAX_RETRANSMIT};
use super::uri::{path_segments, percent_decode, query_args, split_request_uri, SEGMENT_MAX};
use super::{Endpoint, Engine, Error, Event, Instant, Methods, Request, Response, SessionHandle, TYPE_TIMEOUT};
use crate::capacity::{MESSAGE_MAX, REQUESTS_MAX, REQUEST_BYTES, SESSIONS_MAX};
use crate::codec::{option, Code, MessageType, MAX_TOKEN_LEN, PAYLOAD_MARKER};

#[derive(Debug, Clone, Copy, Default)]
struct Session {
    addr: [u8; 4],
    port: u16,
    generation: u16,
    in_use: bool,
}

impl Session {
    fn peer(&self) -> Endpoint {
        Endpoint { addr: self.addr, port: self.port }
    }
}

const QUEUED: u8 = 1;
const OUTSTANDING: u8 = 2;
const WAITING: u8 = 3;

#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    session: u8,
    state: u8,
    retransmits: u8,
    token_len: u8,
    token: [u8; 8],
    mid: u16,
    bytes: Span,
    /// Next retransmission, give-up, or end of the wait for a separate
    /// response.
    deadline: u32,
    /// The current retransmission timeout (doubles each time).
    timeout: u32,
}

impl Pending {
    fn token(&self) -> &[u8] {
        self.token.get(..usize::from(self.token_len)).unwrap_or(&[])
    }
}

pub(crate) struct Client {
    sessions: [Session; SESSIONS_MAX],
    /// Requests in the order they were queued (the first `count`).
    requests: [Pending; REQUESTS_MAX],
    count: u8,
    bytes: Arena<REQUEST_BYTES>,
}

impl Client {
    fn session(&self, h: SessionHandle) -> Result<&Session, Error> {
        match self.sessions.get(h.slot()) {
            Some(s) if s.in_use && s.generation == h.generation() => Ok(s),
            _ => Err(Error::Stale),
        }
    }

    fn handle(&self, slot: u8) -> SessionHandle {
        let generation = self.sessions.get(usize::from(slot)).map_or(0, |s| s.generation);
        SessionHandle::new(usize::from(slot), generation)
    }

    fn peer_of(&self, p: &Pending) -> Option<Endpoint> {
        self.sessions.get(usize::from(p.session)).map(Session::peer)
    }

    fn live(&self) -> &[Pending] {
        self.requests.get(..usize::from(self.count)).unwrap_or(&[])
    }

    fn remove(&mut self, i: usize) -> Option<Pending> {
        let n = usize::from(self.count);
        let p = *self.requests.get(i).filter(|_| i < n)?;
        self.bytes.remove(p.bytes);
        for other in self.requests.iter_mut() {
            other.bytes = other.bytes.after_removal_of(p.bytes);
        }
        self.requests.copy_within(i + 1..n, i);
        self.count -= 1;
        Some(p)
    }

    /// Frees the bytes of request `i` (no more retransmissions needed).
    fn free_bytes(&mut self, i: usize) {
        let Some(span) = self.requests.get(i).map(|p| p.bytes) else { return };
        self.bytes.remove(span);
        for other in self.requests.iter_mut() {
            other.bytes = other.bytes.after_removal_of(span);
        }
        if let Some(p) = self.requests.get_mut(i) {
            p.bytes = Span::EMPTY;
        }
    }

    /// True if session `slot` has a CON awaiting its ACK (NSTART = 1).
    fn has_outstanding(&self, slot: u8) -> bool {
        self.live().iter().any(|p| p.session == slot && p.state == OUTSTANDING)
    }

    /// The index of the request that a response or RST from `from` with
    /// `mid` answers: an outstanding CON with that Message ID.
    fn by_mid(&self, from: Endpoint, mid: u16) -> Option<usize> {
        self.live()
            .iter()
            .position(|p| p.state == OUTSTANDING && p.mid == mid && self.peer_of(p) == Some(from))
    }

    /// The request a separate response from `from` with `token` answers.
    fn by_token(&self, from: Endpoint, token: &[u8]) -> Option<usize> {
        self.live().iter().position(|p| {
            matches!(p.state, OUTSTANDING | WAITING) && p.token() == token && self.peer_of(p) == Some(from)
        })
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

/// Encodes the CON request into `out` (which counts what does not fit).
fn encode_request(out: &mut super::link_format::Out<'_>, mid: u16, req: &Request<'_>) -> Result<(), Error> {
    let code = match req.method {
        Methods::GET => Code::GET,
        Methods::POST => Code::POST,
        Methods::PUT => Code::PUT,
        Methods::DELETE => Code::DELETE,
        _ => return Err(Error::Method),
    };
    let tkl = req.token.len() as u8;
    out.put(&[0x40 | (MessageType::Con.bits() << 4) | tkl, code.0]);
    out.put(&mid.to_be_bytes());
    out.put(req.token);
    if req.include_options {
        // Never Uri-Host (the destination is an IP literal) nor Uri-Port
        // (always the destination port), §6.4.
        let (path, query) = split_request_uri(req.uri);
        let mut w = OptionWriter { out, prev: 0 };
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
    }
    if !req.payload.is_empty() {
        out.put(&[PAYLOAD_MARKER]);
        out.put(req.payload);
    }
    Ok(())
}

impl Engine {
    /// Creates a client session to `peer` (`new_client_session`). Several
    /// sessions may share a peer. [`Error::SessionsFull`] when the table is
    /// full.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Endpoint, Engine, Error, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let peer = Endpoint { addr: [127, 0, 0, 1], port: 5683 };
    /// let a = engine.new_session(peer)?;
    /// let b = engine.new_session(peer)?;
    /// assert_ne!(a, b);
    /// assert_eq!(engine.session_peer(a)?, peer);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new_session(&mut self, peer: Endpoint) -> Result<SessionHandle, Error> {
        let (slot, s) = self
            .client
            .sessions
            .iter_mut()
            .enumerate()
            .find(|(_, s)| !s.in_use)
            .ok_or(Error::SessionsFull)?;
        let generation = match s.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
        *s = Session { addr: peer.addr, port: peer.port, generation, in_use: true };
        Ok(SessionHandle::new(slot, generation))
    }

    /// The session's peer (`get_details`).
    pub fn session_peer(&self, h: SessionHandle) -> Result<Endpoint, Error> {
        self.client.session(h).map(Session::peer)
    }

    /// Removes a session; its queued and outstanding requests are dropped
    /// silently (no events).
    pub fn remove_session(&mut self, h: SessionHandle) -> Result<(), Error> {
        self.client.session(h)?;
        let slot = h.slot() as u8;
        let mut i = 0;
        while i < usize::from(self.client.count) {
            if self.client.requests.get(i).is_some_and(|p| p.session == slot) {
                self.client.remove(i);
            } else {
                i += 1;
            }
        }
        if let Some(s) = self.client.sessions.get_mut(h.slot()) {
            s.in_use = false;
        }
        Ok(())
    }

    /// Queues a confirmable request and returns its Message ID. It is sent
    /// by [`Engine::poll_transmit`] once the session has no other CON
    /// awaiting an ACK (NSTART = 1).
    ///
    /// Errors, in the order checked: [`Error::Stale`], [`Error::Method`],
    /// [`Error::Token`], [`Error::Uri`], [`Error::PayloadTooLarge`] (more
    /// than [`MESSAGE_MAX`] bytes), [`Error::QueueFull`] (the queue or its
    /// byte storage is full).
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{Endpoint, Engine, Error, Instant, Methods, Request};
    /// use mpcoap::codec::{option, Message};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// let peer = Endpoint { addr: [10, 0, 0, 1], port: 5683 };
    /// let s = engine.new_session(peer)?;
    /// let req = Request { uri: b"/a/b%20c?x=1&y=2", token: b"tk", ..Request::new(Methods::GET) };
    /// let mid = engine.send_request(s, &req, Instant(0))?;
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
        self.client.session(h)?;
        if !req.method.is_single() {
            return Err(Error::Method);
        }
        if req.token.len() > MAX_TOKEN_LEN {
            return Err(Error::Token);
        }
        // Dry run: validates the uri and measures.
        let mut count = super::link_format::Out::new(&mut []);
        encode_request(&mut count, 0, req)?;
        let len = count.len();
        if len > MESSAGE_MAX {
            return Err(Error::PayloadTooLarge);
        }
        let n = usize::from(self.client.count);
        if n >= REQUESTS_MAX || len > self.client.bytes.free() {
            return Err(Error::QueueFull);
        }
        let mid = self.take_mid();
        // Reserve the bytes, then encode into them.
        let span = self.client.bytes.reserve(len).ok_or(Error::QueueFull)?;
        let mut out = super::link_format::Out::new(self.client.bytes.get_mut(span));
        encode_request(&mut out, mid, req)?;
        let mut token = [0; 8];
        if let Some(t) = token.get_mut(..req.token.len()) {
            t.copy_from_slice(req.token);
        }
        if let Some(p) = self.client.requests.get_mut(n) {
            *p = Pending {
                session: h.slot() as u8,
                state: QUEUED,
                retransmits: 0,
                token_len: req.token.len() as u8,
                token,
                mid,
                bytes: span,
                deadline: now.0,
                timeout: 0,
            };
            self.client.count += 1;
        }
        Ok(mid)
    }

    /// The next datagram to send now: a queued request whose session may
    /// send (NSTART = 1), or a retransmission that is due. Call until it
    /// returns `Ok(None)`. [`Error::Buffer`] if `buf` is shorter than
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
        for i in 0..usize::from(self.client.count) {
            let Some(p) = self.client.requests.get(i).copied() else { break };
            let send = match p.state {
                QUEUED => !self.client.has_outstanding(p.session),
                OUTSTANDING => Instant(p.deadline).is_reached_by(now) && p.retransmits < MAX_RETRANSMIT,
                _ => false,
            };
            if !send {
                continue;
            }
            let timeout = if p.state == QUEUED {
                ACK_TIMEOUT_MS + self.rng.below_or_eq(ACK_RANDOM_EXTRA_MS)
            } else {
                p.timeout.saturating_mul(2)
            };
            let Some(peer) = self.client.peer_of(&p) else { continue };
            let bytes = self.client.bytes.get(p.bytes);
            let Some(dst) = buf.get_mut(..bytes.len()) else { continue };
            dst.copy_from_slice(bytes);
            if let Some(q) = self.client.requests.get_mut(i) {
                if q.state == OUTSTANDING {
                    q.retransmits += 1;
                }
                q.state = OUTSTANDING;
                q.timeout = timeout;
                q.deadline = now.add_ms(timeout).0;
            }
            return Ok(Some((peer, bytes.len())));
        }
        Ok(None)
    }

    /// Events that arise from time passing: a request that gave up (after
    /// MAX_RETRANSMIT, or waiting EXCHANGE_LIFETIME for a separate
    /// response) is reported with code 0, type [`TYPE_TIMEOUT`], its
    /// Message ID and token. Call until it returns `None`.
    pub fn poll_event(&mut self, now: Instant) -> Option<Event<'_>> {
        let i = self.client.live().iter().position(|p| {
            Instant(p.deadline).is_reached_by(now)
                && (p.state == WAITING || (p.state == OUTSTANDING && p.retransmits >= MAX_RETRANSMIT))
        })?;
        let p = self.client.remove(i)?;
        Some(self.request_event(&p, TYPE_TIMEOUT))
    }

    /// Milliseconds until [`Engine::poll_transmit`] or
    /// [`Engine::poll_event`] next has something to do: `Some(0)` if now,
    /// `None` if nothing is pending.
    pub fn poll_timeout(&self, now: Instant) -> Option<u32> {
        self.client
            .live()
            .iter()
            .filter_map(|p| match p.state {
                QUEUED if !self.client.has_outstanding(p.session) => Some(0),
                OUTSTANDING | WAITING => Some(now.ms_until(Instant(p.deadline)).max(0) as u32),
                _ => None,
            })
            .min()
    }

    /// An RST/give-up event for request `p`; the token is kept in the
    /// engine so the event can borrow it.
    fn request_event(&mut self, p: &Pending, message_type: u8) -> Event<'_> {
        self.set_event_token(p.token());
        let session = self.client.handle(p.session);
        Event::Response(Response {
            session,
            code: 0,
            message_type,
            mid: p.mid,
            token: self.event_token(),
            payload: &[],
        })
    }

    /// An empty ACK: our CON arrived; wait for the separate response.
    pub(crate) fn on_empty_ack(&mut self, now: Instant, from: Endpoint, mid: u16) {
        if let Some(i) = self.client.by_mid(from, mid) {
            self.client.free_bytes(i);
            if let Some(p) = self.client.requests.get_mut(i) {
                p.state = WAITING;
                p.deadline = now.add_ms(EXCHANGE_LIFETIME_MS).0;
            }
        }
    }

    /// An RST: if it rejects our outstanding CON, report it (type 3).
    pub(crate) fn on_reset(&mut self, from: Endpoint, mid: u16) -> Option<Event<'_>> {
        let i = self.client.by_mid(from, mid)?;
        let p = self.client.remove(i)?;
        Some(self.request_event(&p, MessageType::Rst.bits()))
    }

    /// A piggybacked (ACK) or separate (CON/NON) response. Returns the
    /// request's session if it answers one of ours (the request is then
    /// done), `None` if it matches nothing.
    pub(crate) fn match_response(
        &mut self,
        from: Endpoint,
        t: MessageType,
        mid: u16,
        token: &[u8],
    ) -> Option<SessionHandle> {
        let i = match t {
            MessageType::Ack => self.client.by_mid(from, mid),
            _ => self.client.by_token(from, token),
        }?;
        let p = self.client.remove(i)?;
        Some(self.client.handle(p.session))
    }
}

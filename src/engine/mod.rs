//! The CoAP engine: message layer, server and client, in one [`Engine`]
//! value of fixed size.
//!
//! It is pure: datagrams and a clock reading ([`Instant`]) go in, datagrams
//! and [`Event`]s come out. It never touches a socket. All state lives in
//! the [`Engine`], which is initialised in place in memory the caller
//! provides ([`Engine::init_in_place`]), so no multi-KiB value is ever built
//! on the stack.
//!
//! - Message layer (RFC 7252 §4): one Message ID counter with a random
//!   start, piggybacked responses for CON requests, NON responses for NON
//!   requests, RST for an empty CON (ping) and for CON messages with a
//!   format error, a deduplication cache (§4.5), retransmission of our CON
//!   requests with exponential back-off (§4.2).
//! - Server: the resource table, method dispatch, ETag, preconditions, and
//!   `/.well-known/core` in CoRE link format (RFC 6690) with query filters.
//! - Client: sessions, request building, NSTART=1 per destination endpoint
//!   (across sessions) with a bounded queue, response matching by Message
//!   ID and token (piggybacked) or token (separate), rejection of responses
//!   with unrecognised critical options (§5.4.1).
//!
//! `docs/engine.md` explains the design decisions; `src/capacity.rs` holds
//! every capacity.
//!
//! ```
//! use core::mem::MaybeUninit;
//! use mpcoap::codec::{option, Code, Message, MessageRepr, MessageType};
//! use mpcoap::engine::{Endpoint, Engine, Heap, Instant, Methods};
//!
//! let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
//! let engine = Engine::init_in_place(&mut slot, Instant(0), 42);
//! // The engine never allocates: a call that needs storage asks for it
//! // (Error::NeedStorage), and Heap::run supplies it and repeats the call,
//! // as the C shim does with MicroPython's heap.
//! let mut heap = Heap::default();
//! let temp = heap.run(engine, |e| e.add_resource(b"/temp", Some(0), None, b"21.5", false))?;
//! engine.set_methods(temp, Methods::GET, true)?;
//!
//! // A client's GET /temp, CON, Message ID 7, token "t".
//! let mut req: MessageRepr = MessageRepr::new(MessageType::Con, Code::GET, 7);
//! req.token = b"t";
//! req.push_bytes(option::URI_PATH, b"temp").unwrap();
//! let mut datagram = [0u8; 64];
//! let n = req.emit(&mut datagram).unwrap();
//!
//! let client = Endpoint { addr: [192, 168, 1, 20], port: 40000 };
//! let mut reply = [0u8; mpcoap::capacity::MESSAGE_MAX];
//! let received = engine.receive(Instant(5), client, false, &datagram[..n], &mut reply)?;
//! let ack = Message::parse(&reply[..received.reply_len]).unwrap();
//! assert_eq!((ack.mtype(), ack.code(), ack.mid()), (MessageType::Ack, Code::CONTENT, 7));
//! assert_eq!((ack.token(), ack.payload()), (&b"t"[..], &b"21.5"[..]));
//! # Ok::<(), mpcoap::engine::Error>(())
//! ```

mod blockwise;
mod client;
mod dedup;
mod link_format;
mod message;
mod observe;
mod options;
mod resources;
mod rng;
mod server;
#[cfg(any(test, feature = "std"))]
pub mod snapshot;
mod store;
mod time;
mod uri;

#[cfg(test)]
mod tests_blockwise_client;
#[cfg(test)]
mod tests_e2e;
#[cfg(test)]
mod tests_observe;
#[cfg(test)]
mod tests_observe_client;
#[cfg(test)]
mod tests_storage;

use core::fmt;
use core::mem::MaybeUninit;

pub use store::StorageStats;
#[cfg(any(test, feature = "std"))]
pub use store::Heap;
pub use time::Instant;

use client::Client;
use dedup::Dedup;
use resources::Resources;
use rng::Rng;

/// RFC 7252 §4.8 transmission parameters, in milliseconds.
pub mod params {
    /// ACK_TIMEOUT: the first retransmission timeout, before jitter. The
    /// shipped value; host tests may shorten it per engine with
    /// [`Engine::set_ack_timeout_ms`](super::Engine::set_ack_timeout_ms).
    pub const ACK_TIMEOUT_MS: u32 = 2000;
    /// ACK_RANDOM_FACTOR 1.5, as the largest jitter added to ACK_TIMEOUT.
    pub const ACK_RANDOM_EXTRA_MS: u32 = ACK_TIMEOUT_MS / 2;
    /// MAX_RETRANSMIT: retransmissions before giving up.
    pub const MAX_RETRANSMIT: u8 = 4;
    /// EXCHANGE_LIFETIME (§4.8.2): how long a deduplication entry lives,
    /// and how long an acknowledged request waits for its separate response.
    pub const EXCHANGE_LIFETIME_MS: u32 = 247_000;
}

/// The `type` reported for a request that gave up after MAX_RETRANSMIT
/// (`Coap.TIMEOUT`, `MPCOAP_TYPE_TIMEOUT`): outside the 2-bit type range.
pub const TYPE_TIMEOUT: u8 = 255;

/// A UDP peer: IPv4 address (network order) and port.
///
/// ```
/// use mpcoap::engine::Endpoint;
/// let ep = Endpoint { addr: [127, 0, 0, 1], port: 5683 };
/// assert_eq!(ep, Endpoint { addr: [127, 0, 0, 1], port: 5683 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Endpoint {
    /// IPv4 address, most significant byte first.
    pub addr: [u8; 4],
    /// UDP port.
    pub port: u16,
}

/// A resource: a number (never 0) that no other live resource has, taken
/// from a counter, so a handle to a removed resource is detected
/// ([`Error::Stale`]).
///
/// ```
/// # use core::mem::MaybeUninit;
/// # use mpcoap::engine::{Engine, Error, Instant};
/// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
/// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
/// # let mut heap = mpcoap::engine::Heap::default();
/// let h = heap.run(engine, |e| e.add_resource(b"a", None, None, b"0", false))?;
/// assert_eq!(ResourceHandle::from_raw(h.raw()), h);
/// engine.remove_resource(h)?;
/// assert_eq!(engine.resource_value(h), Err(Error::Stale));
/// # use mpcoap::engine::ResourceHandle;
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceHandle(u32);

impl ResourceHandle {
    /// The number the C side stores (`uint32_t handle`). Never 0.
    pub const fn raw(self) -> u32 {
        self.0
    }
    /// A handle from [`ResourceHandle::raw`]; invalid numbers give
    /// [`Error::Stale`] when used.
    pub const fn from_raw(raw: u32) -> Self {
        ResourceHandle(raw)
    }
}

/// A client session: a number, like [`ResourceHandle`].
///
/// ```
/// # use core::mem::MaybeUninit;
/// # use mpcoap::engine::{Endpoint, Engine, Error, Instant, SessionHandle};
/// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
/// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
/// # let mut heap = mpcoap::engine::Heap::default();
/// let s = heap.run(engine, |e| e.new_session(Endpoint { addr: [127, 0, 0, 1], port: 5683 }))?;
/// assert_eq!(SessionHandle::from_raw(s.raw()), s);
/// engine.remove_session(s)?;
/// assert_eq!(engine.remove_session(s), Err(Error::Stale));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionHandle(u32);

impl SessionHandle {
    /// The number the C side stores. Never 0.
    pub const fn raw(self) -> u32 {
        self.0
    }
    /// A handle from [`SessionHandle::raw`].
    pub const fn from_raw(raw: u32) -> Self {
        SessionHandle(raw)
    }
}

/// Pycom's method bit flags (`REQUEST_GET` = 1, `PUT` = 2, `POST` = 4,
/// `DELETE` = 8); not CoAP codes.
///
/// ```
/// use mpcoap::engine::Methods;
/// let both = Methods(Methods::GET.0 | Methods::PUT.0);
/// assert!(both.contains(Methods::GET) && !both.contains(Methods::POST));
/// assert!(Methods::DELETE.is_single() && !both.is_single());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Methods(pub u32);

impl Methods {
    /// `REQUEST_GET`.
    pub const GET: Methods = Methods(1);
    /// `REQUEST_PUT`.
    pub const PUT: Methods = Methods(2);
    /// `REQUEST_POST`.
    pub const POST: Methods = Methods(4);
    /// `REQUEST_DELETE`.
    pub const DELETE: Methods = Methods(8);
    /// All four.
    pub const ALL: Methods = Methods(15);

    /// True if every bit of `other` is set here.
    pub const fn contains(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }
    /// True if exactly one of the four flags is set and nothing else.
    pub const fn is_single(self) -> bool {
        matches!(self.0, 1 | 2 | 4 | 8)
    }
}

/// A request for [`Engine::send_request`] (Pycom's `send_request`).
///
/// ```
/// use mpcoap::engine::{Methods, Request};
/// let req = Request { uri: b"a/b?x=1", token: b"\x01", ..Request::new(Methods::GET) };
/// assert!(req.include_options && req.payload.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Exactly one of the [`Methods`] flags.
    pub method: Methods,
    /// `"a/b?x=1&y=2"`: Uri-Path `a`, `b`, Uri-Query `x=1`, `y=2`. One
    /// leading `/` is ignored, `%XX` is decoded in each segment and query
    /// argument; empty sends no Uri-Path.
    pub uri: &'a [u8],
    /// Content-Format option, if any.
    pub content_format: Option<u16>,
    /// The payload (may be empty).
    pub payload: &'a [u8],
    /// The token, 0 to 8 bytes.
    pub token: &'a [u8],
    /// `false` sends no option at all (token and payload still go).
    pub include_options: bool,
    /// A GET that registers an observation (RFC 7641): Observe 0 goes
    /// first among the options, an empty token is replaced by 4 random
    /// bytes, and every fresh notification is reported until
    /// [`Engine::cancel_observe`]. Only for a GET with options (the shim
    /// checks): on another method it sends Observe 0 and registers nothing.
    pub observe: bool,
}

impl<'a> Request<'a> {
    /// A request with no uri, payload, token or Content-Format, with options.
    pub const fn new(method: Methods) -> Request<'a> {
        Request {
            method,
            uri: b"",
            content_format: None,
            payload: b"",
            token: b"",
            include_options: true,
            observe: false,
        }
    }
}

/// Something the caller must pass on to Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A response to one of our requests, or its RST or give-up.
    Response(Response<'a>),
    /// A remote DELETE removed this resource (its handle is now stale);
    /// with the word it was added with.
    ResourceDeleted(ResourceHandle, usize),
}

/// What the response handler is called with: `cb(code, id, type, token,
/// payload)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The session whose request this answers.
    pub session: SessionHandle,
    /// Raw code byte (2.05 is 69); 0 for RST and give-up.
    pub code: u8,
    /// Message type 0..3 of the received message, or [`TYPE_TIMEOUT`].
    pub message_type: u8,
    /// Message ID of the received message; our request's for RST/give-up.
    pub mid: u16,
    /// The token (of our request for RST and give-up).
    pub token: &'a [u8],
    /// The payload; empty for RST and give-up.
    pub payload: &'a [u8],
}

/// The outcome of [`Engine::receive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// Bytes written to the `reply` buffer, to be sent back to the sender;
    /// 0 for no reply.
    pub reply_len: usize,
    /// An event for the caller, if the datagram produced one.
    pub event: Option<Event<'a>>,
}

/// Everything that can go wrong in a call to the engine. A call that
/// returns an error has changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The uri is empty (after one leading `/`), not UTF-8, has a segment
    /// over 255 bytes, or (requests) a bad `%XX` escape.
    Uri,
    /// A resource with this uri already exists (or the uri is reserved:
    /// `.well-known/core`).
    Exists,
    /// The value is larger than [`VALUE_MAX`](crate::capacity::VALUE_MAX).
    ValueTooLarge,
    /// The attribute name is empty, longer than 255 bytes or not an RFC 6690
    /// `parmname` (letters, digits and the RFC 5987 attr-chars other than
    /// `*`, `'` and `%`), or the value is longer than 65535 bytes.
    Attribute,
    /// The handle refers to a removed resource or session.
    Stale,
    /// The request's method is not exactly one [`Methods`] flag.
    Method,
    /// A method mask has bits outside the four [`Methods`] flags.
    Operation,
    /// The token is longer than 8 bytes.
    Token,
    /// The request's payload is larger than
    /// [`VALUE_MAX`](crate::capacity::VALUE_MAX) (a payload up to it that
    /// does not fit one message is sent block-wise), or its options alone
    /// leave no room for a block.
    PayloadTooLarge,
    /// The caller's buffer is shorter than [`MESSAGE_MAX`](crate::capacity::MESSAGE_MAX),
    /// or a block granted is not what was asked for.
    Buffer,
    /// Not an error: the call needs a block of
    /// [`Engine::storage_need`] bytes. Nothing changed; grant it
    /// ([`Engine::storage_grant`]) and repeat the call.
    NeedStorage,
    /// The storage the call needs was refused ([`Engine::storage_refuse`]).
    NoMemory,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Uri => "uri is empty, not UTF-8, has a segment over 255 bytes or a bad %XX",
            Error::Exists => "resource already exists or cannot be created",
            Error::ValueTooLarge => "value is larger than one response can carry",
            Error::Attribute => "attribute name must be 1-255 RFC 6690 token characters, its value at most 65535 bytes",
            Error::Stale => "the object was removed",
            Error::Method => "method must be exactly one REQUEST_* constant",
            Error::Operation => "operation has bits outside REQUEST_*",
            Error::Token => "token is longer than 8 bytes",
            Error::PayloadTooLarge => "payload is larger than VALUE_MAX, or the options leave no room for a block",
            Error::Buffer => "buffer is shorter than one message, or not the block asked for",
            Error::NeedStorage => "storage needed: grant it and repeat the call",
            Error::NoMemory => "the storage this call needs could not be supplied",
        })
    }
}

impl core::error::Error for Error {}

/// The whole state of the CoAP endpoint: resources, sessions, requests,
/// deduplication cache, clock-driven timers. Of fixed size: what the
/// application and peers add lives in blocks the caller grants (see
/// [`Error::NeedStorage`] and `store.rs`), linked from here.
///
/// Every field is an integer, a `bool`, an `Option<NonNull<_>>`, or an
/// array or struct of those, so all-zero bytes are a valid (empty)
/// `Engine`; [`Engine::init_in_place`] relies on it.
pub struct Engine {
    rng: Rng,
    next_mid: u16,
    /// Next resource or session handle number.
    next_id: u32,
    store: store::Store,
    /// Token of the last RST/give-up event; events borrow it.
    event_token: [u8; 8],
    event_token_len: u8,
    /// ACK_TIMEOUT in force; 0 (all-zero init) means [`params::ACK_TIMEOUT_MS`].
    ack_timeout_ms: u32,
    resources: Resources,
    /// Changes with every resource added or removed and every attribute
    /// added: the ETag of a discovery document served block-wise.
    links_version: u16,
    /// Block1 transfers in progress (`blockwise.rs`).
    transfers: blockwise::Transfers,
    /// Observers of observable resources (`observe.rs`).
    observers: observe::Observers,
    dedup: Dedup,
    client: Client,
}

impl Engine {
    /// Initialises an engine in `slot` and returns it. `seed` seeds the
    /// PRNG for the first Message ID and the retransmission jitter: pass
    /// something unpredictable (e.g. a hardware random number).
    ///
    /// No `Engine`-sized temporary is built: the memory is zeroed in place.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use mpcoap::engine::{Engine, Instant};
    /// let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// let engine = Engine::init_in_place(&mut slot, Instant(1000), 0xC0FFEE);
    /// assert_eq!(engine.poll_timeout(Instant(1000)), None);
    /// ```
    pub fn init_in_place(slot: &mut MaybeUninit<Engine>, now: Instant, seed: u32) -> &mut Engine {
        // SAFETY: `slot` is valid for writes of one `Engine`. Every field of
        // `Engine` (recursively) is an integer, a bool, an
        // `Option<NonNull<_>>` (all-zero is `None`) or an array of those,
        // for which the all-zero bit pattern is a valid value, so after
        // zeroing the memory it holds an initialised `Engine`.
        let engine = unsafe {
            slot.as_mut_ptr().write_bytes(0, 1);
            slot.assume_init_mut()
        };
        engine.rng = Rng::new(seed, now.0);
        // RFC 7252 §4.4: the first Message ID is randomised.
        engine.next_mid = engine.rng.next_u32() as u16;
        engine.next_id = 1;
        engine.store.remote_budget = crate::capacity::REMOTE_BUDGET;
        engine
    }

    /// A fresh Message ID (one counter for the whole engine, §4.4).
    fn take_mid(&mut self) -> u16 {
        let mid = self.next_mid;
        self.next_mid = mid.wrapping_add(1);
        mid
    }

    /// Shortens ACK_TIMEOUT for requests sent from now on (their first
    /// timeout, and so the whole back-off and the give-up, scale with it;
    /// ACK_RANDOM_FACTOR and MAX_RETRANSMIT stay). A knob for host tests
    /// that wait on protocol timers: `0`, or anything above the shipped
    /// [`params::ACK_TIMEOUT_MS`], restores the shipped value. Returns the
    /// ACK_TIMEOUT now in force.
    ///
    /// ```
    /// # use core::mem::MaybeUninit;
    /// # use mpcoap::engine::{params, Engine, Instant};
    /// # let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    /// # let engine = Engine::init_in_place(&mut slot, Instant(0), 1);
    /// assert_eq!(engine.set_ack_timeout_ms(100), 100);
    /// assert_eq!(engine.set_ack_timeout_ms(0), params::ACK_TIMEOUT_MS);
    /// assert_eq!(engine.set_ack_timeout_ms(u32::MAX), params::ACK_TIMEOUT_MS);
    /// ```
    pub fn set_ack_timeout_ms(&mut self, ms: u32) -> u32 {
        self.ack_timeout_ms = if ms < params::ACK_TIMEOUT_MS { ms } else { 0 };
        self.ack_timeout_ms()
    }

    /// ACK_TIMEOUT in force (see [`Engine::set_ack_timeout_ms`]).
    pub(crate) fn ack_timeout_ms(&self) -> u32 {
        match self.ack_timeout_ms {
            0 => params::ACK_TIMEOUT_MS,
            ms => ms,
        }
    }

    /// How many deduplication entries were evicted before they expired
    /// (a duplicate arriving after that would be handled again); a sign
    /// that [`DEDUP_ENTRIES`](crate::capacity::DEDUP_ENTRIES) is too small
    /// for the traffic.
    pub fn dedup_evictions(&self) -> u32 {
        self.dedup.evicted_live()
    }

    /// The ETag of a discovery document served block-wise (never 0).
    pub(crate) fn links_version(&self) -> u16 {
        self.links_version.max(1)
    }

    /// Notes a change of the discovery document.
    pub(crate) fn links_changed(&mut self) {
        self.links_version = self.links_version.wrapping_add(1).max(1);
    }

    fn set_event_token(&mut self, token: &[u8]) {
        let n = token.len().min(8);
        if let (Some(dst), Some(src)) = (self.event_token.get_mut(..n), token.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.event_token_len = n as u8;
    }

    fn event_token(&self) -> &[u8] {
        self.event_token.get(..usize::from(self.event_token_len)).unwrap_or(&[])
    }
}

/// Test helpers shared by the unit tests of every engine file.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, dead_code)]
pub(crate) mod testutil {
    use super::*;
    use crate::capacity::MESSAGE_MAX;
    use crate::codec::{Code, Message, MessageRepr, MessageType};
    use std::boxed::Box;
    use std::vec::Vec;

    /// An engine on the heap with a [`Heap`] that supplies its storage.
    /// The methods named like the engine's that can ask for storage are
    /// wrapped here (inherent methods win over `Deref`), so tests call
    /// them as on a bare engine.
    pub(crate) struct Boxed {
        engine: Box<MaybeUninit<Engine>>,
        pub(crate) heap: Heap,
    }

    impl Boxed {
        pub(crate) fn new(now: u32, seed: u32) -> Boxed {
            let mut b = Boxed { engine: Box::new(MaybeUninit::uninit()), heap: Heap::default() };
            Engine::init_in_place(&mut b.engine, Instant(now), seed);
            b
        }

        /// The engine and the heap, borrowed apart.
        pub(crate) fn parts(&mut self) -> (&mut Engine, &mut Heap) {
            // SAFETY: initialised by `Boxed::new`.
            (unsafe { self.engine.assume_init_mut() }, &mut self.heap)
        }

        /// Frees what the engine released.
        pub(crate) fn collect(&mut self) {
            let (e, h) = self.parts();
            h.collect(e);
        }

        pub(crate) fn add_resource(
            &mut self,
            uri: &[u8],
            media_type: Option<u16>,
            max_age: Option<u32>,
            value: &[u8],
            etag: bool,
        ) -> Result<ResourceHandle, Error> {
            let (e, h) = self.parts();
            h.run(e, |e| e.add_resource(uri, media_type, max_age, value, etag))
        }

        pub(crate) fn set_resource_value(&mut self, r: ResourceHandle, value: &[u8]) -> Result<(), Error> {
            let (e, h) = self.parts();
            h.run(e, |e| e.set_resource_value(r, value))
        }

        pub(crate) fn add_attribute(&mut self, r: ResourceHandle, name: &[u8], value: &[u8]) -> Result<(), Error> {
            let (e, h) = self.parts();
            h.run(e, |e| e.add_attribute(r, name, value))
        }

        pub(crate) fn new_session(&mut self, peer: Endpoint) -> Result<SessionHandle, Error> {
            let (e, h) = self.parts();
            h.run(e, |e| e.new_session(peer))
        }

        pub(crate) fn send_request(&mut self, s: SessionHandle, req: &Request<'_>, now: Instant) -> Result<u16, Error> {
            let (e, h) = self.parts();
            h.run(e, |e| e.send_request(s, req, now))
        }

        pub(crate) fn cancel_observe(&mut self, s: SessionHandle, token: &[u8], now: Instant) -> Result<bool, Error> {
            let (e, h) = self.parts();
            h.run(e, |e| e.cancel_observe(s, token, now))
        }

        pub(crate) fn receive<'a>(
            &'a mut self,
            now: Instant,
            from: Endpoint,
            via_multicast: bool,
            datagram: &'a [u8],
            reply: &mut [u8],
        ) -> Result<Received<'a>, Error> {
            let (e, h) = self.parts();
            h.receive(e, now, from, via_multicast, datagram, reply)
        }
    }

    impl core::ops::Deref for Boxed {
        type Target = Engine;
        fn deref(&self) -> &Engine {
            // SAFETY: initialised by `Boxed::new`.
            unsafe { self.engine.assume_init_ref() }
        }
    }

    impl core::ops::DerefMut for Boxed {
        fn deref_mut(&mut self) -> &mut Engine {
            // SAFETY: initialised by `Boxed::new`.
            unsafe { self.engine.assume_init_mut() }
        }
    }

    pub(crate) const PEER: Endpoint = Endpoint { addr: [10, 0, 0, 2], port: 40000 };

    /// Builds a datagram with the codec.
    pub(crate) fn datagram(
        t: MessageType,
        code: Code,
        mid: u16,
        token: &[u8],
        options: &[(u16, &[u8])],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut repr: MessageRepr = MessageRepr::new(t, code, mid);
        repr.token = token;
        for (n, v) in options {
            repr.push_bytes(*n, v).unwrap();
        }
        repr.payload = payload;
        let mut buf = [0u8; MESSAGE_MAX * 4];
        let n = repr.emit(&mut buf).unwrap();
        buf[..n].to_vec()
    }

    /// Owned copy of a parsed reply, for assertions.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Reply {
        pub(crate) t: MessageType,
        pub(crate) code: Code,
        pub(crate) mid: u16,
        pub(crate) token: Vec<u8>,
        pub(crate) options: Vec<(u16, Vec<u8>)>,
        pub(crate) payload: Vec<u8>,
    }

    impl Reply {
        pub(crate) fn parse(bytes: &[u8]) -> Reply {
            let m = Message::parse(bytes).unwrap();
            Reply {
                t: m.mtype(),
                code: m.code(),
                mid: m.mid(),
                token: m.token().to_vec(),
                options: m.options().map(|o| (o.number, o.value.to_vec())).collect(),
                payload: m.payload().to_vec(),
            }
        }
        pub(crate) fn option(&self, n: u16) -> Option<&[u8]> {
            self.options.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_slice())
        }
    }

    /// Runs one datagram through `engine`; returns the parsed reply (if
    /// any) and the event, copied.
    pub(crate) fn exchange(
        engine: &mut Boxed,
        now: u32,
        from: Endpoint,
        multicast: bool,
        bytes: &[u8],
    ) -> (Option<Reply>, Option<OwnedEvent>) {
        let mut reply = [0u8; MESSAGE_MAX];
        let r = engine.receive(Instant(now), from, multicast, bytes, &mut reply).unwrap();
        let parsed = (r.reply_len > 0).then(|| Reply::parse(&reply[..r.reply_len]));
        (parsed, r.event.map(OwnedEvent::from))
    }

    /// An [`Event`] with owned bytes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum OwnedEvent {
        Response { session: SessionHandle, code: u8, t: u8, mid: u16, token: Vec<u8>, payload: Vec<u8> },
        Deleted(ResourceHandle),
    }

    impl From<Event<'_>> for OwnedEvent {
        fn from(e: Event<'_>) -> Self {
            match e {
                Event::Response(r) => OwnedEvent::Response {
                    session: r.session,
                    code: r.code,
                    t: r.message_type,
                    mid: r.mid,
                    token: r.token.to_vec(),
                    payload: r.payload.to_vec(),
                },
                Event::ResourceDeleted(h, _) => OwnedEvent::Deleted(h),
            }
        }
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn engine_size() {
        use core::mem::size_of;
        std::println!(
            "Engine {} = resources {} + dedup {} + client {} + store {} + rest",
            size_of::<super::Engine>(),
            size_of::<super::Resources>(),
            size_of::<super::Dedup>(),
            size_of::<super::Client>(),
            size_of::<super::store::Store>()
        );
        assert!(size_of::<super::Engine>() <= crate::capacity::ENGINE_BUDGET);
    }
}

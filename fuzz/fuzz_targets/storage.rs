//! Storage growing and shrinking under allocation failure: operations of
//! the application and datagrams of peers, each with a fault schedule,
//! on an `Engine` whose storage comes from `engine::Heap`.
//!
//! Input framing: records of 6 bytes `[op, fail, a, b, c, d]` (a shorter
//! tail is ignored). `fail` = 0: no allocation fails; else the `fail`-th
//! allocation made during this operation is refused. `n` below is the
//! number of resources (sessions, transmitted requests) and `cd` the
//! little-endian u16 of `c, d`. `op` % 13:
//!
//! - 0 add resource: uri `NAMES[a % 8]`, value of `cd % (VALUE_MAX + 2)`
//!   bytes (one too many: ValueTooLarge) starting at byte `b`; `b` bit 0
//!   a Content-Format, bit 1 a Max-Age, bit 2 ETags; then methods `b >> 4`.
//! - 1 remove resource `a % n`.
//! - 2 set value of resource `a % n`: `cd % (VALUE_MAX + 2)` bytes from `b`.
//! - 3 add attribute to resource `a % n`: name `ATTRS[b % 4]` (the last
//!   is invalid), value of `cd % 1024` bytes.
//! - 4 new session to `PEERS[a % 4]`.
//! - 5 remove session `a % n`.
//! - 6 send request on session `a % n`: method `1 << (b % 4)`, token of
//!   `(b >> 2) % 10` bytes (9: too long), payload of `cd % (MESSAGE_MAX +
//!   16)` bytes (longer than a message: a Block1 transfer block).
//! - 7 a request datagram: `a` bits 0-1 the peer, bit 2 NON (else CON),
//!   bits 3-4 GET/PUT/POST/DELETE, bit 5 via multicast; to resource
//!   `b % (n + 2)` (`n`: `/.well-known/core`, `n + 1`: none); PUT and POST
//!   carry `cd % (SINGLE_VALUE_MAX + 64)` bytes. A fresh Message ID each time.
//! - 8 a peer answers transmitted request `a % n` (the last 16 kept):
//!   `b % 5`: piggybacked 2.05 (right token), ACK with another token,
//!   empty ACK, RST, separate CON 2.05.
//! - 9 the clock moves `cd` × 16 ms; then poll_transmit and poll_event
//!   until they are done.
//! - 10 remote budget: `a` × 8 bytes, or (`b` bit 0) `REMOTE_BUDGET`.
//! - 11 `take_user` (what `deinit` does, one item).
//! - 12 a Block1 block (RFC 7959) from `PEERS[a % 4]` to resource `b % n`,
//!   PUT (POST with `a` bit 2): SZX `(a >> 3) & 7` (7 is reserved); M
//!   unless `a` bit 6; NUM the next one the model's transfer expects, or
//!   `cd >> 10` with `a` bit 7; a payload of the block's size (one byte
//!   short with `cd` bit 9, which is wrong), the last block
//!   `cd % (size + 1)` bytes. The model follows the transfer (2.31, restart at NUM 0, 4.13
//!   drops it) and, at the 2.04, checks the value the engine stored.
//!
//! The clock starts 20 s before the 32-bit wrap.
//!
//! Checks after every operation: (a) an operation whose allocation was
//! refused fails with NoMemory (a peer's PUT/POST gets 5.03 with Max-Age,
//! unless via multicast), except a value that shrinks, which is then
//! stored in its block with no block changed, and a Block1 transfer's last
//! block, whose value then takes the transfer's own block; operations that only release never allocate, and
//! none makes more than `PLAN_MAX` allocations; NoMemory never comes
//! without a refusal; (b) after a refusal nothing observable changed
//! (`Engine::snapshot`, taken before every operation whose fail schedule
//! can hit; for a datagram, apart from the dedup cache and the Message ID
//! of a NON reply); (c) the engine holds exactly the blocks the heap has
//! live; (d) after an operation that freed a block, no word of the engine
//! or of any live block points into a freed (quarantined) block; the
//! resources and sessions are those of a model, and the values are what
//! the application and peers stored; `remote_bytes` equals the model's
//! Σ max(0, value − the application's value) and, when a peer made it
//! grow, stays within the budget. At the end, removing everything gives
//! every block back.
#![no_main]

use core::mem::{size_of, MaybeUninit};
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use mpcoap::capacity::{MESSAGE_MAX, REMOTE_BUDGET, RETRY_AFTER_S, SINGLE_VALUE_MAX, VALUE_MAX};
use mpcoap::codec::option::{encode_uint, Block, BLOCK1, MAX_AGE, URI_PATH};
use mpcoap::codec::{Code, Message, MessageRepr, MessageType};
use mpcoap::engine::snapshot::Snapshot;
use mpcoap::engine::{Endpoint, Engine, Error, Event, Heap, Instant, Methods, Request, ResourceHandle, SessionHandle};

const PEERS: [Endpoint; 4] = [
    Endpoint { addr: [10, 0, 0, 1], port: 5683 },
    Endpoint { addr: [10, 0, 0, 1], port: 40000 },
    Endpoint { addr: [10, 0, 0, 9], port: 5683 },
    Endpoint { addr: [192, 168, 1, 7], port: 61616 },
];
const NAMES: [&[u8]; 8] = [b"a", b"b", b"c/d", b"e/f/g", b"temp", b"a-rather-long-resource-name", b"x", b"c/d/e"];
const ATTRS: [&[u8]; 4] = [b"rt", b"if", b"title", b"bad name"];
const WORD: usize = size_of::<usize>();
/// Most allocations one operation makes (the engine's `PLAN_MAX`).
const PLAN_MAX: u8 = 2;

fn bytes(first: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| first.wrapping_add(i as u8)).collect()
}

struct Fuzz<'e> {
    e: &'e mut Engine,
    heap: Heap,
    now: Instant,
    mid: u16,
    /// The resources, in the order added.
    resources: Vec<Res>,
    /// The sessions' handle numbers, in the order created.
    sessions: Vec<u32>,
    /// Requests transmitted: destination, Message ID, token.
    sent: Vec<(Endpoint, u16, Vec<u8>)>,
    /// Freed blocks seen so far, by address, and the range they span.
    freed: BTreeMap<usize, usize>,
    freed_seen: usize,
    freed_span: (usize, usize),
    /// Block1 transfers as the peers sent them: (peer, resource, method)
    /// to the bytes the engine acknowledged with 2.31.
    transfers: BTreeMap<(usize, u32, u8), Vec<u8>>,
}

/// A resource of the model.
struct Res {
    id: u32,
    uri: &'static [u8],
    value: Vec<u8>,
    /// The length the application stored last.
    app_len: usize,
}

/// What an operation is, for the checks.
#[derive(PartialEq, Eq)]
enum Kind {
    /// An application call that may ask for storage.
    Call,
    /// A request datagram (a PUT or POST may ask for storage).
    Datagram { store: bool, multicast: bool },
    /// A Block1 block (may ask for storage; its last block gives blocks
    /// back even when the smaller value block is refused).
    Block,
    /// Releases only: never asks.
    Release,
}

impl Fuzz<'_> {
    fn resource(&self, i: u8) -> Option<ResourceHandle> {
        let n = self.resources.len();
        (n > 0).then(|| ResourceHandle::from_raw(self.resources[usize::from(i) % n].id))
    }

    fn res_mut(&mut self, h: ResourceHandle) -> &mut Res {
        self.resources.iter_mut().find(|r| r.id == h.raw()).unwrap()
    }

    fn session(&self, i: u8) -> Option<SessionHandle> {
        let n = self.sessions.len();
        (n > 0).then(|| SessionHandle::from_raw(self.sessions[usize::from(i) % n]))
    }

    fn drain(&mut self) {
        let mut buf = [0u8; MESSAGE_MAX];
        while let Some((to, len)) = self.e.poll_transmit(self.now, &mut buf).unwrap() {
            let m = Message::parse(&buf[..len]).expect("valid request");
            if !self.sent.iter().any(|(p, mid, _)| *p == to && *mid == m.mid()) {
                self.sent.push((to, m.mid(), m.token().to_vec()));
                if self.sent.len() > 16 {
                    self.sent.remove(0);
                }
            }
        }
        while let Some(ev) = self.e.poll_event(self.now) {
            assert!(matches!(ev, Event::Response(r) if r.code == 0));
        }
        let _ = self.e.poll_timeout(self.now);
    }

    /// Runs one operation; returns its kind, the call's result (calls
    /// only) and the reply to a datagram.
    fn op(&mut self, rec: [u8; 6]) -> (Kind, Option<Result<(), Error>>, Option<Vec<u8>>) {
        let [op, _, a, b, c, d] = rec;
        let cd = usize::from(u16::from_le_bytes([c, d]));
        let (e, h) = (&mut *self.e, &mut self.heap);
        match op % 13 {
            0 => {
                let value = bytes(b, cd % (VALUE_MAX + 2));
                let uri = NAMES[usize::from(a) % NAMES.len()];
                let r = h.run(e, |e| {
                    e.add_resource(uri, (b & 1 != 0).then_some(0), (b & 2 != 0).then_some(60), &value, b & 4 != 0)
                });
                if let Ok(r) = r {
                    e.set_methods(r, Methods(u32::from(b >> 4)), true).unwrap();
                    self.resources.push(Res { id: r.raw(), uri, app_len: value.len(), value });
                }
                (Kind::Call, Some(r.map(|_| ())), None)
            }
            1 => {
                let Some(r) = self.resource(a) else { return (Kind::Release, None, None) };
                self.e.remove_resource(r).unwrap();
                self.resources.retain(|x| x.id != r.raw());
                (Kind::Release, None, None)
            }
            2 => {
                let Some(r) = self.resource(a) else { return (Kind::Call, None, None) };
                let value = bytes(b, cd % (VALUE_MAX + 2));
                let res = self.heap.run(self.e, |e| e.set_resource_value(r, &value));
                if res.is_ok() {
                    let m = self.res_mut(r);
                    m.app_len = value.len();
                    m.value = value;
                }
                (Kind::Call, Some(res), None)
            }
            3 => {
                let Some(r) = self.resource(a) else { return (Kind::Call, None, None) };
                let value = bytes(b'v', cd % 1024);
                let name = ATTRS[usize::from(b) % ATTRS.len()];
                (Kind::Call, Some(self.heap.run(self.e, |e| e.add_attribute(r, name, &value))), None)
            }
            4 => {
                let peer = PEERS[usize::from(a) % PEERS.len()];
                let r = h.run(e, |e| e.new_session(peer));
                if let Ok(x) = r {
                    self.sessions.push(x.raw());
                }
                (Kind::Call, Some(r.map(|_| ())), None)
            }
            5 => {
                if let Some(ses) = self.session(a) {
                    self.e.remove_session(ses).unwrap();
                    self.sessions.retain(|x| *x != ses.raw());
                }
                (Kind::Release, None, None)
            }
            6 => {
                let Some(ses) = self.session(a) else { return (Kind::Call, None, None) };
                let token = bytes(self.mid as u8, usize::from(b >> 2) % 10);
                let payload = bytes(b, cd % (MESSAGE_MAX + 16));
                let req = Request { uri: b"x/y?q=1", token: &token, payload: &payload, ..Request::new(Methods(1 << (b % 4))) };
                let now = self.now;
                (Kind::Call, Some(self.heap.run(self.e, |e| e.send_request(ses, &req, now)).map(|_| ())), None)
            }
            7 => self.datagram(a, b, cd),
            12 => self.block(a, b, cd),
            8 => {
                self.answer(a, b);
                (Kind::Release, None, None)
            }
            9 => {
                self.now = self.now.add_ms(cd as u32 * 16);
                self.drain();
                (Kind::Release, None, None)
            }
            10 => {
                self.e.set_remote_budget(if b & 1 != 0 { REMOTE_BUDGET } else { u32::from(a) * 8 });
                (Kind::Release, None, None)
            }
            _ => {
                if self.resources.is_empty() {
                    if !self.sessions.is_empty() {
                        self.sessions.remove(0);
                    }
                } else {
                    self.resources.remove(0);
                }
                self.e.take_user();
                (Kind::Release, None, None)
            }
        }
    }

    fn datagram(&mut self, a: u8, b: u8, cd: usize) -> (Kind, Option<Result<(), Error>>, Option<Vec<u8>>) {
        let from = PEERS[usize::from(a & 3)];
        let t = if a & 4 != 0 { MessageType::Non } else { MessageType::Con };
        let code = [Code::GET, Code::PUT, Code::POST, Code::DELETE][usize::from((a >> 3) & 3)];
        let multicast = a & 0x20 != 0;
        let store = code == Code::PUT || code == Code::POST;
        let n = self.resources.len();
        let target = usize::from(b) % (n + 2);
        let uri: &[u8] = match target {
            i if i < n => self.resources[i].uri,
            i if i == n => b".well-known/core",
            _ => b"nope",
        };
        let payload = if store { bytes(b, cd % (SINGLE_VALUE_MAX + 64)) } else { Vec::new() };
        self.mid = self.mid.wrapping_add(1);
        let mut repr: MessageRepr = MessageRepr::new(t, code, self.mid);
        repr.token = b"tk";
        for seg in uri.split(|c| *c == b'/') {
            repr.push_bytes(URI_PATH, seg).unwrap();
        }
        repr.payload = &payload;
        let mut dg = [0u8; 2 * MESSAGE_MAX];
        let len = repr.emit(&mut dg).unwrap();
        let mut reply = [0u8; MESSAGE_MAX];
        let r = self.heap.receive(self.e, self.now, from, multicast, &dg[..len], &mut reply).unwrap();
        let deleted = match r.event {
            Some(Event::ResourceDeleted(h, _)) => Some(h),
            _ => None,
        };
        let out = reply[..r.reply_len].to_vec();
        if let Some(h) = deleted {
            assert_eq!(code, Code::DELETE);
            self.resources.retain(|x| x.id != h.raw());
        }
        if !out.is_empty() {
            let m = Message::parse(&out).expect("valid reply");
            if store && m.code() == Code::CHANGED && target < n {
                self.resources[target].value = payload.clone();
            }
        }
        (Kind::Datagram { store, multicast }, None, Some(out))
    }

    fn block(&mut self, a: u8, b: u8, cd: usize) -> (Kind, Option<Result<(), Error>>, Option<Vec<u8>>) {
        let n = self.resources.len();
        if n == 0 {
            return (Kind::Release, None, None);
        }
        let peer = usize::from(a & 3);
        let code = if a & 4 != 0 { Code::POST } else { Code::PUT };
        let szx = (a >> 3) & 7;
        let size = 16usize << szx;
        let more = a & 0x40 == 0;
        let target = usize::from(b) % n;
        let key = (peer, self.resources[target].id, code.0);
        let have = self.transfers.get(&key).map_or(0, Vec::len);
        let num = if a & 0x80 != 0 { (cd >> 10) as u32 } else { (have / size) as u32 };
        let len = match (more, cd & 0x200 != 0) {
            (true, false) => size,
            (true, true) => size - 1,
            (false, _) => cd % (size + 1),
        };
        let payload = bytes(b ^ num as u8, len.min(MESSAGE_MAX - 64));
        self.mid = self.mid.wrapping_add(1);
        let mut repr: MessageRepr = MessageRepr::new(MessageType::Con, code, self.mid);
        repr.token = b"bk";
        for seg in self.resources[target].uri.split(|c| *c == b'/') {
            repr.push_bytes(URI_PATH, seg).unwrap();
        }
        repr.push_uint(BLOCK1, Block { num, more, szx }.to_uint()).unwrap();
        repr.payload = &payload;
        let mut dg = [0u8; 2 * MESSAGE_MAX];
        let len = repr.emit(&mut dg).unwrap();
        let mut reply = [0u8; MESSAGE_MAX];
        let r = self.heap.receive(self.e, self.now, PEERS[peer], false, &dg[..len], &mut reply).unwrap();
        assert!(r.event.is_none());
        let out = reply[..r.reply_len].to_vec();
        let m = Message::parse(&out).expect("a CON gets a valid reply");
        let offset = num as usize * size;
        match m.code() {
            Code::CONTINUE => {
                let buf = self.transfers.entry(key).or_default();
                if num == 0 {
                    buf.clear();
                }
                if offset == buf.len() {
                    buf.extend_from_slice(&payload);
                }
            }
            Code::CHANGED => {
                let mut value = self.transfers.remove(&key).unwrap_or_default();
                if num == 0 {
                    value.clear();
                }
                assert_eq!(offset, value.len(), "the engine applied a transfer with a gap");
                value.extend_from_slice(&payload);
                let h = ResourceHandle::from_raw(key.1);
                assert_eq!(self.e.resource_value(h).unwrap(), &value[..], "the value a Block1 transfer stored");
                self.resources[target].value = value;
            }
            Code::REQUEST_ENTITY_TOO_LARGE if num != 0 || more => {
                self.transfers.remove(&key);
            }
            _ => {}
        }
        (Kind::Block, None, Some(out))
    }

    /// A peer answers one of our transmitted requests.
    fn answer(&mut self, a: u8, b: u8) {
        if self.sent.is_empty() {
            return;
        }
        let (peer, mid, token) = self.sent[usize::from(a) % self.sent.len()].clone();
        self.mid = self.mid.wrapping_add(1);
        let (t, code, m, tok): (_, _, _, &[u8]) = match b % 5 {
            0 => (MessageType::Ack, Code::CONTENT, mid, &token),
            1 => (MessageType::Ack, Code::CONTENT, mid, b"other-tk"),
            2 => (MessageType::Ack, Code::EMPTY, mid, b""),
            3 => (MessageType::Rst, Code::EMPTY, mid, b""),
            _ => (MessageType::Con, Code::CONTENT, self.mid, &token),
        };
        let mut repr: MessageRepr = MessageRepr::new(t, code, m);
        repr.token = tok;
        repr.payload = if code == Code::EMPTY { b"" } else { b"answer" };
        let mut dg = [0u8; MESSAGE_MAX];
        let len = repr.emit(&mut dg).unwrap();
        let mut reply = [0u8; MESSAGE_MAX];
        self.heap.receive(self.e, self.now, peer, false, &dg[..len], &mut reply).unwrap();
    }

    /// Takes in the blocks freed since the last call; true if any.
    fn update_freed(&mut self) -> bool {
        let seen = self.freed_seen;
        for (a, n) in self.heap.freed().skip(self.freed_seen) {
            self.freed.insert(a, n);
            self.freed_seen += 1;
            self.freed_span = (self.freed_span.0.min(a), self.freed_span.1.max(a + n));
        }
        self.freed_seen != seen
    }

    fn into_freed(&self, w: usize) -> bool {
        // Most words (text, values, lengths) are far from any heap address.
        let (lo, hi) = self.freed_span;
        (lo..hi).contains(&w) && self.freed.range(..=w).next_back().is_some_and(|(a, n)| w < a + n)
    }

    fn scan(&self, at: usize, words: usize, what: &str) {
        for i in 0..words {
            // SAFETY: `at` is the engine or a live block of at least
            // `words` words, zeroed when made.
            let w = unsafe { (at as *const usize).add(i).read() };
            assert!(!self.into_freed(w), "(d) word {i} of {what} at {at:#x} points into a freed block: {w:#x}");
        }
    }

    /// (c), (d), the model, and the remote budget's use.
    fn check(&mut self) {
        let stats = self.e.storage_stats();
        assert_eq!((stats.blocks as usize, stats.bytes as usize), (self.heap.live_blocks(), self.heap.live_bytes()), "(c)");
        // A word can point into a freed block only once the block is freed:
        // scan after the operations that freed something.
        if self.update_freed() {
            let engine: *const Engine = &*self.e;
            self.scan(engine as usize, size_of::<Engine>() / WORD, "the engine");
            for (a, n) in self.heap.live() {
                self.scan(a, n / WORD, "a block");
            }
        }
        let n = self.resources.len();
        assert!(self.e.resource_user_at(n).is_none() && (n == 0 || self.e.resource_user_at(n - 1).is_some()), "resources");
        for r in &self.resources {
            let h = ResourceHandle::from_raw(r.id);
            assert_eq!(self.e.resource_value(h), Ok(&r.value[..]), "the value is not what was stored");
        }
        let n = self.sessions.len();
        assert!(self.e.session_user_at(n).is_none() && (n == 0 || self.e.session_user_at(n - 1).is_some()), "sessions");
        let remote: usize = self.resources.iter().map(|r| r.value.len().saturating_sub(r.app_len)).sum();
        assert_eq!(stats.remote_bytes as usize, remote, "remote_bytes is not the sum of the shares");
    }
}

fn run(data: &[u8]) {
    let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    let now = Instant(u32::MAX - 20_000);
    let e = Engine::init_in_place(&mut slot, now, 0x5eed);
    let mut f = Fuzz { e, heap: Heap::default(), now, mid: 0, resources: Vec::new(), sessions: Vec::new(), sent: Vec::new(), freed: BTreeMap::new(), freed_seen: 0, freed_span: (usize::MAX, 0), transfers: BTreeMap::new() };
    for rec in data.chunks_exact(6) {
        let rec: [u8; 6] = rec.try_into().unwrap();
        let fail = rec[1];
        f.heap.fail_at = (fail != 0).then(|| f.heap.allocations() + u64::from(fail));
        let before: Option<Snapshot> = (1..=PLAN_MAX).contains(&fail).then(|| f.e.snapshot());
        let remote_before = f.e.storage_stats().remote_bytes;
        let (kind, result, reply) = f.op(rec);
        f.heap.collect(f.e);
        let refused = fail != 0 && f.heap.fail_at.is_none();
        f.heap.fail_at = None;
        // A value that shrinks is stored in its block when the smaller block
        // is refused (giving memory back never fails): the store succeeds
        // and no block changes.
        let stores = rec[0] % 13 == 2 || matches!(kind, Kind::Datagram { store: true, .. } | Kind::Block);
        let succeeded = match (&kind, &result, &reply) {
            (Kind::Call, Some(r), _) => r.is_ok(),
            (Kind::Datagram { .. } | Kind::Block, _, Some(out)) => Message::parse(out).is_ok_and(|m| m.code() == Code::CHANGED),
            _ => false,
        };
        if let Some(r) = result {
            if !(refused && stores && r.is_ok()) {
                assert_eq!(r == Err(Error::NoMemory), refused, "(a) NoMemory if and only if refused: {r:?}");
            }
        }
        if refused && stores && succeeded && kind == Kind::Block {
            // The last block, its value block refused: the transfer's own
            // block became the value (the old value given back); the model
            // checked the value.
            assert!(before.is_some(), "more allocations than PLAN_MAX in one operation");
        } else if refused && stores && succeeded {
            let before = before.expect("more allocations than PLAN_MAX in one operation");
            let after = f.e.snapshot();
            assert_eq!((after.stats.blocks, after.stats.bytes), (before.stats.blocks, before.stats.bytes), "a refused store changed blocks");
        } else if refused {
            let before = before.expect("more allocations than PLAN_MAX in one operation");
            let after = f.e.snapshot();
            match kind {
                Kind::Release => panic!("an operation that only releases allocated"),
                Kind::Call => assert_eq!(after, before, "(b)"),
                Kind::Block | Kind::Datagram { .. } => {
                    let (store, multicast) = match kind {
                        Kind::Datagram { store, multicast } => (store, multicast),
                        _ => (true, false),
                    };
                    assert!(store, "only a PUT or POST asks for storage");
                    let reply = reply.unwrap();
                    if multicast {
                        assert!(reply.is_empty());
                    } else {
                        let m = Message::parse(&reply).unwrap();
                        assert_eq!(m.code(), Code::SERVICE_UNAVAILABLE, "(a)");
                        let mut buf = [0; 4];
                        let max_age = m.options_numbered(MAX_AGE).next().map(|o| o.value);
                        assert_eq!(max_age, Some(encode_uint(RETRY_AFTER_S, &mut buf)), "(a)");
                    }
                    let mask = |s: &Snapshot| Snapshot { dedup: Vec::new(), dedup_evictions: 0, next_mid: 0, ..s.clone() };
                    assert_eq!(mask(&after), mask(&before), "(b)");
                }
            }
        }
        if let Kind::Datagram { .. } | Kind::Block = kind {
            let stats = f.e.storage_stats();
            if stats.remote_bytes > remote_before {
                assert!(stats.remote_bytes <= stats.remote_budget, "a peer grew the remote use beyond the budget");
            }
        }
        f.check();
    }
    // Removing everything gives every block back.
    while f.e.take_user().is_some() {}
    f.heap.collect(f.e);
    let s = f.e.storage_stats();
    assert_eq!((s.blocks, s.bytes, s.remote_bytes), (0, 0, 0));
    assert_eq!(f.heap.live_blocks(), 0, "a block leaked");
    f.resources.clear();
    f.sessions.clear();
    f.check();
}

fuzz_target!(|data: &[u8]| run(data));

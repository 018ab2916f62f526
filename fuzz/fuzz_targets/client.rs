//! The client's block-wise transfers (RFC 7959) and observations (RFC
//! 7641) against a hostile server: a client with requests in flight (GETs
//! that turn into Block2 fetches, PUT/POSTs with payloads up to
//! `VALUE_MAX + 1` bytes, sent with Block1, GETs that observe) is fed
//! answers built from the requests it transmits, with inconsistent
//! NUM/SZX/M, changing ETags, endless chains, short blocks, error codes,
//! hostile Observe numbers (wrapping, repeated, going back), separate and
//! duplicate responses, and raw datagrams, while allocations fail on
//! demand and observations are cancelled. Storage comes from
//! `engine::Heap`.
//!
//! Input framing: records of 6 bytes `[op, a, b, c, d, e]` (a shorter tail
//! is ignored); `cd` is the little-endian u16 of `c, d`. `op % 6`:
//!
//! - 0 send a request: GET when `a` bit 0 is clear, else PUT (POST with bit
//!   1), payload `cd % (VALUE_MAX + 2)` bytes; token `TOKENS[b % 4]` (two
//!   requests may share one); uri `URIS[e % 3]`. A GET with `a` bit 2
//!   observes, with the token [`OBS`] (observations share it, and only
//!   they have it).
//! - 1 answer transmitted request `a % n` (the last 8 kept): `b % 4` the
//!   message (piggybacked ACK, empty ACK then CON response, NON response,
//!   CON response); code `CODES[c % 8]`; Block2 (`e` bits 0-1: none, the
//!   block asked for, that NUM + `d % 4`, NUM `d`), M from `e` bit 2, SZX
//!   the asked one or `d % 8` with `e` bit 3; a Block1 echo of the request
//!   (another NUM with `e` bit 4, a smaller SZX with bit 5); ETag
//!   `ETAGS[(e >> 6)]` (3: none); Size2 `cd << 2` with `a` bit 7; Observe
//!   with `a` bit 6: `OBSERVES[b >> 2 & 7]`, or the 24 bits `c, d, e` when
//!   that is `None`; payload a full block, or `d` bytes with `c` bit 7.
//!   Payload bytes follow [`pattern`] from the block's offset.
//! - 2 the clock moves `cd` × 8 ms; poll_transmit/poll_event until done.
//! - 3 raw datagram from the server: the next `a` bytes of the input.
//! - 4 the `b % 4 + 1`-th allocation from now fails; with `a` bit 0,
//!   cancel the request with `TOKENS[b % 4]`; with `a` bit 1, remove the
//!   session and open a new one; with `a` bit 2, `cancel_observe` on
//!   [`OBS`] (the clock moves `cd` ms first, to cross the 128 s rule).
//! - 5 a late duplicate: the last answer sent again.
//!
//! Checks, beyond "never panics": every transmitted datagram parses and
//! fits one message and carries one of our tokens; each request queued
//! gets at most one event (an observation: any number, until cancelled),
//! and a session removed, a request cancelled or an observation cancelled
//! gets none; a deregistration carries Observe 1; an event's payload is at most `VALUE_MAX`, and a reassembled
//! one (longer than a message) of answers built here holds [`pattern`] at
//! every offset; NoMemory only when an allocation was refused; the engine
//! holds exactly the blocks the heap has live after every operation; at
//! the end, removing the session gives every block back.
#![no_main]

use core::mem::MaybeUninit;

use libfuzzer_sys::fuzz_target;
use mpcoap::capacity::{MESSAGE_MAX, VALUE_MAX};
use mpcoap::codec::option::{encode_uint, Block, BLOCK1, BLOCK2, ETAG, SIZE2};
use mpcoap::codec::{Code, Message, MessageRepr, MessageType};
use mpcoap::engine::{Endpoint, Engine, Error, Event, Heap, Instant, Methods, Request, SessionHandle};

const SERVER: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5683 };
const TOKENS: [&[u8]; 4] = [b"", b"a", b"bb", b"a"];
/// The token of every observation.
const OBS: &[u8] = b"ob";
const URIS: [&[u8]; 3] = [b"r", b"a/very/long/path/to/a/resource?with=query&and=more", b""];
const CODES: [Code; 8] = [
    Code::CONTENT,
    Code::CONTENT,
    Code::CONTINUE,
    Code::CHANGED,
    Code::REQUEST_ENTITY_INCOMPLETE,
    Code::REQUEST_ENTITY_TOO_LARGE,
    Code::INTERNAL_SERVER_ERROR,
    Code::CREATED,
];
const ETAGS: [&[u8]; 3] = [b"A", b"B", b"\x01\x02\x03\x04\x05\x06\x07\x08"];
/// Observe numbers: the edges of the 24-bit space and of §3.4's window.
const OBSERVES: [Option<u32>; 8] = [Some(0), Some(1), Some(0x7F_FFFF), Some(0x80_0000), Some(0xFF_FFFF), Some(0x100_0000), None, None];

/// The byte at `offset` of every representation the scripted server sends.
fn pattern(offset: usize) -> u8 {
    (offset as u8).wrapping_mul(13) ^ (offset >> 8) as u8
}

/// A transmitted request, as the server saw it.
#[derive(Clone)]
struct Sent {
    mid: u16,
    token: Vec<u8>,
    block1: Option<Block>,
    block2: Option<Block>,
}

struct Fuzz<'e> {
    e: &'e mut Engine,
    heap: Heap,
    now: Instant,
    session: SessionHandle,
    sent: Vec<Sent>,
    /// Requests queued and not yet answered by an event (by token), and
    /// whether each observes (then it may have any number of events).
    pending: Vec<(Vec<u8>, bool)>,
    mid: u16,
    last: Vec<u8>,
    raw: bool,
}

fn uint(v: u32) -> Vec<u8> {
    let mut b = [0; 4];
    encode_uint(v, &mut b).to_vec()
}

impl Fuzz<'_> {
    fn check_storage(&mut self) {
        self.heap.collect(self.e);
        assert_eq!(self.e.storage_stats().blocks as usize, self.heap.live_blocks());
    }

    fn event(&mut self, ev: Event<'_>) {
        let Event::Response(r) = ev else { panic!("a client-only engine reported a resource") };
        assert_eq!(r.session, self.session);
        assert!(r.payload.len() <= VALUE_MAX);
        let i = self.pending.iter().position(|t| t.0.as_slice() == r.token).expect("an event for a request that has had one");
        if !self.pending[i].1 {
            self.pending.remove(i);
        }
        if r.payload.len() > MESSAGE_MAX && !self.raw {
            assert!(r.payload.iter().enumerate().all(|(i, b)| *b == pattern(i)), "reassembled bytes out of place");
        }
    }

    fn receive(&mut self, d: &[u8]) {
        let mut reply = [0u8; MESSAGE_MAX];
        let heap = &mut self.heap;
        let r = heap.receive(self.e, self.now, SERVER, false, d, &mut reply).expect("receive never fails");
        if r.reply_len > 0 {
            // (A raw datagram may be a request: the engine serves it too.)
            let m = Message::parse(&reply[..r.reply_len]).expect("a reply parses");
            assert!(m.mtype() != MessageType::Con);
        }
        if let Some(ev) = r.event {
            let owned = match ev {
                Event::Response(r) => (r.session, r.code, r.message_type, r.mid, r.token.to_vec(), r.payload.to_vec()),
                Event::ResourceDeleted(..) => panic!("resource event"),
            };
            let (session, code, message_type, mid, token, payload) = owned;
            let resp = mpcoap::engine::Response { session, code, message_type, mid, token: &token, payload: &payload };
            self.event(Event::Response(resp));
        }
        self.last = d.to_vec();
        self.check_storage();
    }

    fn drain(&mut self) {
        let mut buf = [0u8; MESSAGE_MAX];
        loop {
            let mut any = false;
            while let Some((to, n)) = self.e.poll_transmit(self.now, &mut buf).unwrap() {
                any = true;
                assert_eq!(to, SERVER);
                let m = Message::parse(&buf[..n]).expect("a transmitted request parses");
                assert!(m.code().is_request() && m.mtype() == MessageType::Con);
                // (An observation's block requests carry its token with the
                // first byte flipped.)
                assert!(TOKENS.contains(&m.token()) || m.token() == OBS || m.token() == [OBS[0] ^ 0x80, OBS[1]]);
                if let Some(o) = m.option(mpcoap::codec::option::OBSERVE) {
                    assert!(m.code() == Code::GET && o.uint() <= 1);
                }
                let block = |num| m.option(num).map(|o| Block::from_uint(o.uint()));
                let s = Sent { mid: m.mid(), token: m.token().to_vec(), block1: block(BLOCK1), block2: block(BLOCK2) };
                if let Some(b) = s.block1 {
                    let off = b.num as usize * b.size();
                    assert!(b.szx <= 6 && off + m.payload().len() <= VALUE_MAX && (!b.more || m.payload().len() == b.size()));
                }
                self.sent.push(s);
                if self.sent.len() > 8 {
                    self.sent.remove(0);
                }
            }
            while let Some(ev) = self.e.poll_event(self.now) {
                any = true;
                let Event::Response(r) = ev else { panic!() };
                let (token, len) = (r.token.to_vec(), r.payload.len());
                assert!(len <= VALUE_MAX);
                let i = self.pending.iter().position(|t| t.0 == token).expect("one event per request");
                if !self.pending[i].1 {
                    self.pending.remove(i);
                }
            }
            self.heap.collect(self.e);
            if !any {
                break;
            }
        }
        self.check_storage();
    }

    fn answer(&mut self, r: &[u8]) {
        let [a, b, c, d, e] = [r[1], r[2], r[3], r[4], r[5]];
        if self.sent.is_empty() {
            return;
        }
        let s = self.sent[usize::from(a) % self.sent.len()].clone();
        let code = CODES[usize::from(c % 8)];
        let mut opts: Vec<(u16, Vec<u8>)> = vec![];
        if e >> 6 < 3 {
            opts.push((ETAG, ETAGS[usize::from(e >> 6)].to_vec()));
        }
        let asked = s.block2.unwrap_or(Block { num: 0, more: false, szx: 6 });
        let szx = if e & 8 != 0 { d % 8 } else { asked.szx };
        let size = 16usize << szx;
        let num = match e & 3 {
            0 => None,
            1 => Some((asked.num as usize * asked.size() / size) as u32),
            2 => Some(asked.num + u32::from(d % 4)),
            _ => Some(u32::from(d)),
        };
        let offset = num.map_or(0, |n| n as usize * size);
        if let Some(num) = num {
            opts.push((BLOCK2, uint(Block { num, more: e & 4 != 0, szx }.to_uint())));
        }
        if let Some(b1) = s.block1 {
            let num = if e & 16 != 0 { b1.num.wrapping_add(1) } else { b1.num };
            let szx = if e & 32 != 0 { b1.szx.saturating_sub(2) } else { b1.szx };
            opts.push((BLOCK1, uint(Block { num, more: b1.more, szx }.to_uint())));
        }
        if a & 0x80 != 0 {
            opts.push((SIZE2, uint(u32::from(c) | u32::from(d) << 8 << 2)));
        }
        if a & 0x40 != 0 {
            let v = OBSERVES[usize::from(b >> 2 & 7)].unwrap_or(u32::from(c) << 16 | u32::from(d) << 8 | u32::from(e));
            opts.push((mpcoap::codec::option::OBSERVE, uint(v)));
        }
        opts.sort_by_key(|o| o.0);
        let len = if c & 0x80 != 0 { usize::from(d) } else { size };
        let payload: Vec<u8> = (offset..offset + len).map(pattern).collect();
        let (t, mid) = match b % 4 {
            0 => (MessageType::Ack, s.mid),
            1 => {
                let empty = [0x60, 0, (s.mid >> 8) as u8, s.mid as u8];
                self.receive(&empty);
                (MessageType::Con, self.next_mid())
            }
            2 => (MessageType::Non, self.next_mid()),
            _ => (MessageType::Con, self.next_mid()),
        };
        let mut repr: MessageRepr<'_, 8> = MessageRepr::new(t, code, mid);
        repr.token = &s.token;
        for (n, v) in &opts {
            repr.push_bytes(*n, v).unwrap();
        }
        repr.payload = &payload;
        let mut buf = vec![0u8; MESSAGE_MAX * 4];
        let n = repr.emit(&mut buf).unwrap();
        // Longer than a message: the engine reads it as oversize and drops it.
        self.receive(&buf[..n]);
    }

    fn next_mid(&mut self) -> u16 {
        self.mid = self.mid.wrapping_add(1);
        self.mid
    }
}

fuzz_target!(|data: &[u8]| {
    let mut slot = Box::new(MaybeUninit::<Engine>::uninit());
    let start = Instant(u32::MAX - 20_000);
    let e = Engine::init_in_place(&mut slot, start, 0xb10c);
    e.set_ack_timeout_ms(50);
    let mut heap = Heap::default();
    let session = heap.run(e, |e| e.new_session(SERVER)).unwrap();
    let mut f = Fuzz {
        e,
        heap,
        now: start,
        session,
        sent: vec![],
        pending: vec![],
        mid: 0x4000,
        last: vec![],
        raw: false,
    };
    let mut rest = data;
    while let [op, a, b, c, d, e, tail @ ..] = rest {
        rest = tail;
        let cd = usize::from(*c) | usize::from(*d) << 8;
        match op % 6 {
            0 => {
                let method = match a & 3 {
                    0 | 2 => Methods::GET,
                    1 => Methods::PUT,
                    _ => Methods::POST,
                };
                let len = if method == Methods::GET { 0 } else { cd % (VALUE_MAX + 2) };
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let observe = method == Methods::GET && a & 4 != 0;
                let token = if observe { OBS } else { TOKENS[usize::from(b % 4)] };
                let req = Request { uri: URIS[usize::from(e % 3)], token, payload: &payload, observe, ..Request::new(method) };
                let now = f.now;
                let armed = f.heap.fail_at.is_some();
                match f.heap.run(f.e, |e| e.send_request(f.session, &req, now)) {
                    Ok(_) => f.pending.push((token.to_vec(), observe)),
                    Err(Error::PayloadTooLarge) => assert!(len > VALUE_MAX),
                    Err(Error::NoMemory) => assert!(armed && f.heap.fail_at.is_none(), "NoMemory without a refusal"),
                    Err(other) => panic!("{other:?}"),
                }
                f.check_storage();
            }
            1 => f.answer(&[*op, *a, *b, *c, *d, *e]),
            2 => {
                f.now = f.now.add_ms(cd as u32 * 8);
                f.drain();
            }
            3 => {
                let n = usize::from(*a).min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                f.raw = true;
                f.receive(raw);
            }
            4 => {
                f.heap.fail_at = Some(f.heap.allocations() + u64::from(b % 4) + 1);
                if a & 1 != 0 {
                    let token = TOKENS[usize::from(b % 4)];
                    if f.e.cancel_request(f.session, token).unwrap() {
                        let i = f.pending.iter().position(|t| t.0.as_slice() == token).unwrap();
                        f.pending.remove(i);
                    }
                }
                if a & 4 != 0 {
                    f.now = f.now.add_ms(cd as u32);
                    let now = f.now;
                    let armed = f.heap.fail_at.is_some();
                    match f.heap.run(f.e, |e| e.cancel_observe(f.session, OBS, now)) {
                        Ok(true) => {
                            let i = f.pending.iter().position(|t| t.0.as_slice() == OBS).expect("an observation");
                            f.pending.remove(i);
                        }
                        Ok(false) => {}
                        Err(Error::NoMemory) => assert!(armed && f.heap.fail_at.is_none(), "NoMemory without a refusal"),
                        Err(other) => panic!("{other:?}"),
                    }
                }
                if a & 2 != 0 {
                    f.e.remove_session(f.session).unwrap();
                    f.pending.clear();
                    f.heap.fail_at = None;
                    f.session = f.heap.run(f.e, |e| e.new_session(SERVER)).unwrap();
                }
                f.check_storage();
            }
            _ => {
                let last = core::mem::take(&mut f.last);
                f.receive(&last);
            }
        }
    }
    // Everything still pending gives up in the end, with one event each.
    f.heap.fail_at = None;
    f.drain();
    for _ in 0..100_000 {
        let Some(t) = f.e.poll_timeout(f.now) else { break };
        f.now = f.now.add_ms(t.max(1));
        f.drain();
    }
    // (An observation has no timer: it stays until the session goes.)
    assert!(f.pending.iter().all(|t| t.1), "requests without an event");
    f.e.remove_session(f.session).unwrap();
    f.check_storage();
    assert_eq!((f.e.storage_stats().blocks, f.heap.live_blocks()), (0, 0));
});

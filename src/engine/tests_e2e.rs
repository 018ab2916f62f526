//! End to end: a server `Engine` and a client `Engine` talking through an
//! in-memory network that loses, delays and duplicates datagrams, on a
//! clock that wraps at 2^32 during the run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::vec::Vec;

use super::testutil::{Boxed, OwnedEvent};
use super::{Endpoint, Instant, Methods, Request, SessionHandle, TYPE_TIMEOUT};
use crate::capacity::MESSAGE_MAX;
use crate::codec::{option, Code, Message, MessageType};

const SERVER: Endpoint = Endpoint { addr: [192, 168, 0, 1], port: 5683 };
const CLIENT: Endpoint = Endpoint { addr: [192, 168, 0, 2], port: 49152 };

struct InFlight {
    at: u32,
    from: Endpoint,
    to: Endpoint,
    bytes: Vec<u8>,
}

struct Sim {
    now: u32,
    rng: u64,
    loss_pct: u64,
    dup_pct: u64,
    net: Vec<InFlight>,
    server: Boxed,
    client: Boxed,
    /// Message IDs of POST requests that reached the server at least once.
    posts_delivered: HashSet<u16>,
    events: Vec<OwnedEvent>,
    datagrams: usize,
}

impl Sim {
    fn new(start: u32, seed: u64, loss_pct: u64, dup_pct: u64) -> Sim {
        Sim {
            now: start,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            loss_pct,
            dup_pct,
            net: Vec::new(),
            server: Boxed::new(start, seed as u32),
            client: Boxed::new(start, (seed >> 7) as u32 ^ 0xABCD),
            posts_delivered: HashSet::new(),
            events: Vec::new(),
            datagrams: 0,
        }
    }

    fn rand(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    fn send(&mut self, from: Endpoint, to: Endpoint, bytes: &[u8]) {
        self.datagrams += 1;
        if self.rand(100) < self.loss_pct {
            return;
        }
        let at = self.now.wrapping_add(1 + self.rand(20) as u32);
        self.net.push(InFlight { at, from, to, bytes: bytes.to_vec() });
        if self.rand(100) < self.dup_pct {
            // A late copy: may arrive after later requests.
            let at = self.now.wrapping_add(1 + self.rand(5000) as u32);
            self.net.push(InFlight { at, from, to, bytes: bytes.to_vec() });
        }
    }

    /// Runs the client's timers and sends, then moves the clock to the
    /// next thing that happens and delivers what is due. False when idle.
    fn step(&mut self) -> bool {
        let mut buf = [0u8; MESSAGE_MAX];
        while let Some((to, n)) = self.client.poll_transmit(Instant(self.now), &mut buf).unwrap() {
            let bytes = buf[..n].to_vec();
            self.send(CLIENT, to, &bytes);
        }
        while let Some(ev) = self.client.poll_event(Instant(self.now)) {
            self.events.push(OwnedEvent::from(ev));
        }
        let now = Instant(self.now);
        let next_net = self.net.iter().map(|d| now.ms_until(Instant(d.at)).max(0) as u32).min();
        let next_timer = self.client.poll_timeout(now);
        let Some(wait) = [next_net, next_timer].into_iter().flatten().min() else { return false };
        self.now = self.now.wrapping_add(wait);
        let now = Instant(self.now);
        let (due, later): (Vec<_>, Vec<_>) = self.net.drain(..).partition(|d| Instant(d.at).is_reached_by(now));
        self.net = later;
        for d in due {
            let mut reply = [0u8; MESSAGE_MAX];
            if d.to == SERVER {
                let m = Message::parse(&d.bytes).unwrap();
                if m.code() == Code::POST {
                    self.posts_delivered.insert(m.mid());
                }
                let r = self.server.receive(now, d.from, false, &d.bytes, &mut reply).unwrap();
                assert!(r.event.is_none());
                let len = r.reply_len;
                if len > 0 {
                    self.send(SERVER, d.from, &reply[..len]);
                }
            } else {
                let r = self.client.receive(now, d.from, false, &d.bytes, &mut reply).unwrap();
                let len = r.reply_len;
                if let Some(ev) = r.event {
                    self.events.push(OwnedEvent::from(ev));
                }
                if len > 0 {
                    self.send(CLIENT, d.from, &reply[..len]);
                }
            }
        }
        true
    }
}

/// Many POSTs and GETs from two sessions over a lossy, duplicating
/// network: every request gets exactly one event, and every POST that
/// reached the server was applied exactly once (the ETag counts them).
fn lossy_run(seed: u64, loss_pct: u64, dup_pct: u64) {
    let start = u32::MAX - 30_000;
    let mut sim = Sim::new(start, seed, loss_pct, dup_pct);
    let h = sim.server.add_resource(b"counter", Some(0), None, b"start", true).unwrap();
    sim.server.set_methods(h, Methods::ALL, true).unwrap();
    let sessions: Vec<SessionHandle> = (0..2).map(|_| sim.client.new_session(SERVER).unwrap()).collect();

    const TOTAL: usize = 80;
    let mut sent: HashMap<u16, (usize, bool)> = HashMap::new(); // mid -> (index, is_post)
    let mut issued = 0;
    let mut seen_events = 0;
    let mut steps = 0;
    loop {
        // Keep up to 3 requests per session queued.
        while issued < TOTAL && sent.len() - seen_events < 6 {
            let is_post = issued % 3 != 2;
            let payload = format!("v{issued}");
            let token = (issued as u32).to_be_bytes();
            let req = Request {
                uri: b"/counter",
                payload: if is_post { payload.as_bytes() } else { b"" },
                token: &token,
                ..Request::new(if is_post { Methods::POST } else { Methods::GET })
            };
            let mid = sim.client.send_request(sessions[issued % 2], &req, Instant(sim.now)).unwrap();
            assert!(sent.insert(mid, (issued, is_post)).is_none());
            issued += 1;
        }
        if !sim.step() {
            break;
        }
        seen_events = sim.events.len();
        steps += 1;
        assert!(steps < 1_000_000, "no progress");
    }
    assert_eq!(issued, TOTAL);
    assert!(sim.net.is_empty());

    // Exactly one event per request, for the right session.
    let mut answered = HashSet::new();
    let mut timeouts = 0;
    for ev in &sim.events {
        let OwnedEvent::Response { session, code, t, mid, token, payload } = ev else { panic!("{ev:?}") };
        let key = u32::from_be_bytes(token.as_slice().try_into().unwrap()) as usize;
        let (&req_mid, &(index, is_post)) = sent.iter().find(|(_, (i, _))| *i == key).unwrap();
        assert!(answered.insert(index), "request {index} reported twice");
        assert_eq!(*session, sessions[index % 2]);
        if *t == TYPE_TIMEOUT {
            assert_eq!((*code, *mid), (0, req_mid));
            timeouts += 1;
            continue;
        }
        assert_eq!(*t, 2, "piggybacked");
        assert_eq!(*mid, req_mid);
        if is_post {
            assert_eq!(*code, Code::CHANGED.0);
        } else {
            assert_eq!(*code, Code::CONTENT.0);
            assert!(payload == b"start" || payload.starts_with(b"v"));
        }
    }
    assert_eq!(answered.len(), TOTAL);
    // Each POST that reached the server bumped the ETag exactly once.
    let r = sim.server.resources.get(h).unwrap();
    assert_eq!(u32::from(r.etag().unwrap()), 1 + sim.posts_delivered.len() as u32, "seed {seed}");
    assert!(Instant(sim.now).ms_since(Instant(start)) > 30_000 && sim.now < start, "the clock wrapped");
    std::println!(
        "seed {seed}: {} datagrams, {timeouts} timeouts, {} POSTs applied, {} dedup evictions, ended at {}",
        sim.datagrams,
        sim.posts_delivered.len(),
        sim.server.dedup_evictions(),
        sim.now
    );
}

#[test]
fn lossy_duplicating_network_across_the_clock_wrap() {
    for seed in 1..=8 {
        lossy_run(seed, 20, 25);
    }
}

#[test]
fn clean_network_has_no_timeouts() {
    let mut sim = Sim::new(u32::MAX - 100, 3, 0, 0);
    let h = sim.server.add_resource(b"a/b", None, Some(5), b"x", false).unwrap();
    sim.server.set_methods(h, Methods::GET, true).unwrap();
    let s = sim.client.new_session(SERVER).unwrap();
    let mid = sim.client.send_request(s, &Request { uri: b"a/b", token: b"k", ..Request::new(Methods::GET) }, Instant(sim.now)).unwrap();
    let d = sim.client.send_request(s, &Request { uri: b".well-known/core", ..Request::new(Methods::GET) }, Instant(sim.now)).unwrap();
    while sim.step() {}
    assert_eq!(sim.events.len(), 2);
    assert_eq!(
        sim.events[0],
        OwnedEvent::Response { session: s, code: 69, t: 2, mid, token: b"k".to_vec(), payload: b"x".to_vec() }
    );
    let OwnedEvent::Response { mid: m2, payload, .. } = &sim.events[1] else { panic!() };
    assert_eq!((*m2, payload.as_slice()), (d, &b"</a/b>"[..]));
    assert_eq!(sim.datagrams, 4);
}

#[test]
fn server_down_gives_up_and_rst_is_reported() {
    // Everything lost: the request gives up with one TIMEOUT event.
    let mut sim = Sim::new(0, 5, 100, 0);
    let s = sim.client.new_session(SERVER).unwrap();
    let mid = sim.client.send_request(s, &Request::new(Methods::GET), Instant(0)).unwrap();
    while sim.step() {}
    assert_eq!(sim.datagrams, 5, "1 transmission + 4 retransmissions");
    assert!(matches!(&sim.events[..], [OwnedEvent::Response { t: TYPE_TIMEOUT, mid: m, .. }] if *m == mid));
    // A response sent to a client that has forgotten the request: the
    // client RSTs it (and the server engine ignores the RST).
    let mut sim = Sim::new(0, 6, 0, 0);
    let stray = super::testutil::datagram(MessageType::Con, Code::CONTENT, 9, b"x", &[(option::CONTENT_FORMAT, &[])], b"?");
    sim.send(SERVER, CLIENT, &stray);
    while sim.step() {}
    assert_eq!(sim.datagrams, 2);
    assert!(sim.events.is_empty());
}

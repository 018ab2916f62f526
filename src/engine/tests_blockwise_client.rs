//! Block-wise transfer on the client side (`client/block.rs`): the
//! engine's client against a scripted server (real datagrams, built and
//! parsed with the codec), checking what the handler gets, what goes on
//! the wire, and that every block comes back to the heap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::vec;
use std::vec::Vec;

use super::testutil::{datagram, exchange, Boxed, OwnedEvent, Reply};
use super::{Endpoint, Error, Instant, Methods, Request, SessionHandle, TYPE_TIMEOUT};
use crate::capacity::{BLOCK_SZX, MESSAGE_MAX, VALUE_MAX};
use crate::codec::option::{decode_uint, Block, BLOCK1, BLOCK2, ETAG, SIZE2, URI_PATH};
use crate::codec::{Code, MessageType};

const SERVER: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5683 };

fn client() -> (Boxed, SessionHandle) {
    let mut e = Boxed::new(0, 7);
    e.set_ack_timeout_ms(100);
    let s = e.new_session(SERVER).unwrap();
    (e, s)
}

fn value(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

fn uint(v: u32) -> Vec<u8> {
    let mut b = [0; 4];
    crate::codec::option::encode_uint(v, &mut b).to_vec()
}

fn block_of(r: &Reply, n: u16) -> Option<Block> {
    r.option(n).map(|v| Block::from_uint(decode_uint(v)))
}

/// What the scripted server does with the n-th request it receives.
enum Answer {
    /// A piggybacked ACK with this code, options and payload.
    Ack(Code, Vec<(u16, Vec<u8>)>, Vec<u8>),
    /// An empty ACK, then a CON separate response.
    Separate(Code, Vec<(u16, Vec<u8>)>, Vec<u8>),
    /// Nothing (lost).
    Lose,
}

/// Drives the client until nothing is pending; returns the events and the
/// requests sent.
fn run(e: &mut Boxed, mut server: impl FnMut(&Reply, usize) -> Answer) -> (Vec<OwnedEvent>, Vec<Reply>) {
    let (mut events, mut sent) = (vec![], vec![]);
    let mut now = 0u32;
    let mut sep_mid = 0x7000u16;
    for _ in 0..100_000 {
        let mut buf = [0u8; MESSAGE_MAX];
        while let Some((to, n)) = e.poll_transmit(Instant(now), &mut buf).unwrap() {
            assert_eq!(to, SERVER);
            assert!(n <= MESSAGE_MAX);
            let r = Reply::parse(&buf[..n]);
            sent.push(r.clone());
            let answer = server(&r, sent.len() - 1);
            let mut deliver = |d: Vec<u8>, events: &mut Vec<OwnedEvent>| {
                if let (_, Some(ev)) = exchange(e, now, SERVER, false, &d) {
                    events.push(ev);
                }
            };
            match answer {
                Answer::Ack(code, opts, payload) => {
                    let o: Vec<(u16, &[u8])> = opts.iter().map(|(n, v)| (*n, v.as_slice())).collect();
                    deliver(datagram(MessageType::Ack, code, r.mid, &r.token, &o, &payload), &mut events);
                }
                Answer::Separate(code, opts, payload) => {
                    deliver(datagram(MessageType::Ack, Code::EMPTY, r.mid, b"", &[], b""), &mut events);
                    let o: Vec<(u16, &[u8])> = opts.iter().map(|(n, v)| (*n, v.as_slice())).collect();
                    sep_mid += 1;
                    let d = datagram(MessageType::Con, code, sep_mid, &r.token, &o, &payload);
                    deliver(d.clone(), &mut events);
                    // Its duplicate: acknowledged again, never delivered twice.
                    deliver(d, &mut events);
                }
                Answer::Lose => {}
            }
        }
        while let Some(ev) = e.poll_event(Instant(now)) {
            events.push(OwnedEvent::from(ev));
        }
        match e.poll_timeout(Instant(now)) {
            None => break,
            Some(t) => now += t.max(1),
        }
    }
    e.collect();
    (events, sent)
}

/// A Block2 server for `value`: answers the block asked for (block 0 of
/// BLOCK_SZX when none is), in at most `szx_max`, with `etag`.
fn block2(r: &Reply, value: &[u8], szx_max: u8, etag: &[u8]) -> Answer {
    let asked = block_of(r, BLOCK2).unwrap_or(Block { num: 0, more: false, szx: BLOCK_SZX });
    let szx = asked.szx.min(szx_max);
    let size = 16usize << szx;
    let num = asked.num as usize * asked.size() / size;
    let start = (num * size).min(value.len());
    let end = (start + size).min(value.len());
    let b = Block { num: num as u32, more: end < value.len(), szx };
    let mut opts = vec![(ETAG, etag.to_vec()), (BLOCK2, uint(b.to_uint()))];
    if num == 0 {
        opts.push((SIZE2, uint(value.len() as u32)));
    }
    Answer::Ack(Code::CONTENT, opts, value[start..end].to_vec())
}

/// Only the session's block is left, and the heap agrees.
fn only_session_left(e: &mut Boxed) {
    e.collect();
    assert_eq!(e.storage_stats().blocks, 1, "{:?}", e.storage_stats());
    assert_eq!(e.heap.live_blocks(), 1);
}

fn response(ev: &OwnedEvent) -> (u8, u8, &[u8]) {
    match ev {
        OwnedEvent::Response { code, t, payload, .. } => (*code, *t, payload),
        other => panic!("{other:?}"),
    }
}

#[test]
fn block2_fetch_delivered_once_with_the_request_options() {
    for separate in [false, true] {
        let (mut e, s) = client();
        let v = value(5000, 1);
        let req = Request { uri: b"big/r?q=1", token: b"tk", ..Request::new(Methods::GET) };
        e.send_request(s, &req, Instant(0)).unwrap();
        let (events, sent) = run(&mut e, |r, _| match block2(r, &v, BLOCK_SZX, b"e1") {
            Answer::Ack(c, o, p) if separate => Answer::Separate(c, o, p),
            a => a,
        });
        assert_eq!(events.len(), 1, "{events:?}");
        let OwnedEvent::Response { session, code, token, payload, .. } = &events[0] else { panic!() };
        assert_eq!((*session, *code, token.as_slice()), (s, Code::CONTENT.0, &b"tk"[..]));
        assert!(payload == &v, "payload differs");
        // 5 blocks of 1024; each request after the first asks for the next.
        assert_eq!(sent.len(), 5);
        assert_eq!(block_of(&sent[0], BLOCK2), None);
        for (i, r) in sent.iter().enumerate().skip(1) {
            assert_eq!(block_of(r, BLOCK2), Some(Block { num: i as u32, more: false, szx: BLOCK_SZX }));
            assert_eq!((r.code, r.token.as_slice()), (Code::GET, &b"tk"[..]));
            let others: Vec<_> = r.options.iter().filter(|(n, _)| *n != BLOCK2).cloned().collect();
            assert_eq!(others, sent[0].options, "the request's own options");
            assert_ne!(r.mid, sent[i - 1].mid);
        }
        only_session_left(&mut e);
    }
}

#[test]
fn block2_honours_the_servers_smaller_size() {
    let (mut e, s) = client();
    let v = value(1500, 2);
    e.send_request(s, &Request { uri: b"r", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    let (events, sent) = run(&mut e, |r, _| block2(r, &v, 4, b""));
    assert_eq!(events.len(), 1);
    assert!(response(&events[0]).2 == v.as_slice());
    assert_eq!(sent.len(), 1500usize.div_ceil(256));
    assert!(sent.iter().skip(1).all(|r| block_of(r, BLOCK2).unwrap().szx == 4));
    // Late: the server switches to smaller blocks mid-way; the next NUM
    // counts the bytes received.
    let v = value(4000, 3);
    e.send_request(s, &Request { uri: b"r", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    let (events, sent) = run(&mut e, |r, i| block2(r, &v, if i < 2 { 6 } else { 5 }, b"x"));
    assert_eq!(events.len(), 1);
    assert!(response(&events[0]).2 == v.as_slice());
    assert_eq!(block_of(&sent[2], BLOCK2), Some(Block { num: 2, more: false, szx: 6 }));
    assert_eq!(block_of(&sent[3], BLOCK2), Some(Block { num: 5, more: false, szx: 5 }));
    only_session_left(&mut e);
}

#[test]
fn block2_etag_change_restarts_once_then_gives_up() {
    // One change: restart from block 0, deliver the new representation.
    let (mut e, s) = client();
    let (old, new) = (value(3000, 4), value(3000, 5));
    e.send_request(s, &Request { uri: b"r", token: b"t", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    let (events, sent) = run(&mut e, |r, i| if i < 2 { block2(r, &old, 6, b"A") } else { block2(r, &new, 6, b"B") });
    assert_eq!(events.len(), 1);
    assert!(response(&events[0]).2 == new.as_slice());
    let nums: Vec<_> = sent.iter().map(|r| block_of(r, BLOCK2).map_or(0, |b| b.num)).collect();
    assert_eq!(nums, [0, 1, 2, 0, 1, 2]);
    only_session_left(&mut e);
    // A second change: the give-up event, once.
    e.send_request(s, &Request { uri: b"r", token: b"t", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    let (events, _) = run(&mut e, |r, i| block2(r, &old, 6, &[i as u8]));
    assert_eq!(events.len(), 1);
    assert_eq!(response(&events[0]), (0, TYPE_TIMEOUT, &[][..]));
    only_session_left(&mut e);
}

#[test]
fn block2_hostile_answers_give_up_cleanly() {
    type Hostile = fn(&Reply, usize, &[u8]) -> Answer;
    let cases: [(&str, Hostile); 6] = [
        ("wrong NUM", |r, i, v| match (i, block2(r, v, 6, b"")) {
            (1, Answer::Ack(c, _, p)) => Answer::Ack(c, vec![(BLOCK2, uint(Block { num: 3, more: true, szx: 6 }.to_uint()))], p),
            (_, a) => a,
        }),
        ("SZX 7", |_, _, _| Answer::Ack(Code::CONTENT, vec![(BLOCK2, uint(0x0f))], vec![0; 1024])),
        ("M=1 short block", |r, i, v| match (i, block2(r, v, 6, b"")) {
            (1, Answer::Ack(c, o, p)) => Answer::Ack(c, o, p[..100].to_vec()),
            (_, a) => a,
        }),
        ("M forever", |r, _, _| {
            let num = block_of(r, BLOCK2).map_or(0, |b| b.num);
            Answer::Ack(Code::CONTENT, vec![(BLOCK2, uint(Block { num, more: true, szx: 6 }.to_uint()))], vec![1; 1024])
        }),
        ("over VALUE_MAX", |r, _, _| {
            let num = block_of(r, BLOCK2).map_or(0, |b| b.num);
            let more = (num as usize + 1) * 1024 <= VALUE_MAX;
            Answer::Ack(Code::CONTENT, vec![(BLOCK2, uint(Block { num, more, szx: 6 }.to_uint()))], vec![2; if more { 1024 } else { 1 }])
        }),
        ("Block2 vanishes", |r, i, v| if i == 2 { Answer::Ack(Code::CONTENT, vec![], b"whole?".to_vec()) } else { block2(r, v, 6, b"") }),
    ];
    let v = value(4000, 6);
    for (name, hostile) in cases {
        let (mut e, s) = client();
        e.send_request(s, &Request { uri: b"r", token: b"h", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
        let (events, sent) = run(&mut e, |r, i| hostile(r, i, &v));
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        assert_eq!(response(&events[0]), (0, TYPE_TIMEOUT, &[][..]), "{name}");
        assert!(sent.len() <= VALUE_MAX / 1024 + 1, "{name}: {} requests", sent.len());
        only_session_left(&mut e);
    }
    // An error answer mid-way ends the fetch and is delivered as is; a
    // late duplicate of a block we have is ignored.
    let (mut e, s) = client();
    e.send_request(s, &Request { uri: b"r", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    let (events, _) = run(&mut e, |r, i| match i {
        2 => Answer::Ack(Code::NOT_FOUND, vec![], b"gone".to_vec()),
        _ => block2(r, &v, 6, b""),
    });
    assert_eq!(events.len(), 1);
    assert_eq!(response(&events[0]), (Code::NOT_FOUND.0, MessageType::Ack.bits(), &b"gone"[..]));
    only_session_left(&mut e);
}

#[test]
fn block2_late_duplicate_block_is_ignored() {
    let (mut e, s) = client();
    let v = value(3000, 9);
    e.send_request(s, &Request { uri: b"r", token: b"d", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    let mut buf = [0u8; MESSAGE_MAX];
    let mut now = 0;
    let mut block0 = None;
    let mut events = vec![];
    while events.is_empty() {
        let Some((_, n)) = e.poll_transmit(Instant(now), &mut buf).unwrap() else {
            now += e.poll_timeout(Instant(now)).unwrap().max(1);
            continue;
        };
        let r = Reply::parse(&buf[..n]);
        let Answer::Ack(c, o, p) = block2(&r, &v, 6, b"") else { panic!() };
        let o: Vec<(u16, &[u8])> = o.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        // Sent as separate NON responses; block 0's comes twice, late.
        let d = datagram(MessageType::Non, c, 0x100 + r.mid, &r.token, &o, &p);
        match &block0 {
            None => block0 = Some(datagram(MessageType::Non, c, 0x900, &r.token, &o, &p)),
            Some(d) => assert_eq!(exchange(&mut e, now, SERVER, false, d), (None, None)),
        }
        events.extend(exchange(&mut e, now, SERVER, false, &d).1);
    }
    assert_eq!(events.len(), 1);
    assert!(response(&events[0]).2 == v.as_slice());
    assert_eq!(e.poll_event(Instant(now + 1_000_000)).map(OwnedEvent::from), None);
    only_session_left(&mut e);
}

/// A Block1 server: reassembles, answers 2.31 (with `szx_of(i)` as the
/// size it wants) and 2.04 at the end.
fn block1_server<'a>(got: &'a mut Vec<u8>, szx_of: impl Fn(usize) -> u8 + 'a) -> impl FnMut(&Reply, usize) -> Answer + 'a {
    move |r, i| {
        let b = block_of(r, BLOCK1).expect("Block1 on every block");
        assert_eq!(b.num as usize * b.size(), got.len(), "block {i} starts where the last ended");
        assert!(r.payload.len() == b.size() || !b.more);
        got.extend_from_slice(&r.payload);
        if b.more {
            let echo = Block { szx: b.szx.min(szx_of(i)), ..b };
            Answer::Ack(Code::CONTINUE, vec![(BLOCK1, uint(echo.to_uint()))], vec![])
        } else {
            Answer::Ack(Code::CHANGED, vec![(BLOCK1, uint(b.to_uint()))], b"done".to_vec())
        }
    }
}

#[test]
fn block1_send_moves_on_at_each_continue_and_follows_a_smaller_size() {
    let (mut e, s) = client();
    let v = value(5000, 10);
    let req = Request { uri: b"up/load", token: b"u", payload: &v, content_format: Some(42), ..Request::new(Methods::PUT) };
    e.send_request(s, &req, Instant(0)).unwrap();
    let mut got = vec![];
    let (events, sent) = run(&mut e, block1_server(&mut got, |i| if i < 2 { 6 } else { 4 }));
    assert!(got == v, "reassembled payload differs");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(response(&events[0]), (Code::CHANGED.0, MessageType::Ack.bits(), &b"done"[..]));
    // Blocks 0, 1, 2 of 1024, then 256-byte blocks from byte 3072 on.
    assert_eq!(block_of(&sent[2], BLOCK1), Some(Block { num: 2, more: true, szx: 6 }));
    assert_eq!(block_of(&sent[3], BLOCK1), Some(Block { num: 12, more: true, szx: 4 }));
    assert_eq!(sent.len(), 3 + (5000 - 3072usize).div_ceil(256));
    for r in &sent {
        assert_eq!((r.code, r.token.as_slice(), r.option(URI_PATH)), (Code::PUT, &b"u"[..], Some(&b"up"[..])));
        assert!(r.option(crate::codec::option::CONTENT_FORMAT).is_some());
    }
    only_session_left(&mut e);
}

#[test]
fn block1_limits_and_errors() {
    let (mut e, s) = client();
    // Up to VALUE_MAX is accepted; one more is refused, changing nothing.
    let v = value(VALUE_MAX, 11);
    let put = |p| Request { uri: b"u", payload: p, ..Request::new(Methods::POST) };
    let over = value(VALUE_MAX + 1, 0);
    assert_eq!(e.send_request(s, &put(&over), Instant(0)), Err(Error::PayloadTooLarge));
    only_session_left(&mut e);
    e.send_request(s, &put(&v), Instant(0)).unwrap();
    let mut got = vec![];
    let (events, sent) = run(&mut e, block1_server(&mut got, |_| 6));
    assert!(got == v);
    assert_eq!((events.len(), sent.len()), (1, VALUE_MAX / 1024));
    only_session_left(&mut e);
    // An error answer ends the transfer and is delivered as is.
    for code in [Code::REQUEST_ENTITY_INCOMPLETE, Code::REQUEST_ENTITY_TOO_LARGE, Code::CHANGED] {
        e.send_request(s, &put(&v[..3000]), Instant(0)).unwrap();
        let (events, sent) = run(&mut e, |r, i| match i {
            1 => Answer::Ack(code, vec![], b"no".to_vec()),
            _ => Answer::Ack(Code::CONTINUE, vec![(BLOCK1, r.option(BLOCK1).unwrap().to_vec())], vec![]),
        });
        assert_eq!((events.len(), sent.len()), (1, 2));
        assert_eq!(response(&events[0]), (code.0, MessageType::Ack.bits(), &b"no"[..]));
        only_session_left(&mut e);
    }
    // A 2.31 that echoes another block, or continues past the end: give up.
    for bad in [|_: &Reply| uint(Block { num: 5, more: true, szx: 6 }.to_uint()), |r: &Reply| r.option(BLOCK1).unwrap().to_vec()] {
        e.send_request(s, &put(&v[..2000]), Instant(0)).unwrap();
        let (events, _) = run(&mut e, |r, _| Answer::Ack(Code::CONTINUE, vec![(BLOCK1, bad(r))], vec![]));
        assert_eq!(events.len(), 1);
        assert_eq!(response(&events[0]), (0, TYPE_TIMEOUT, &[][..]));
        only_session_left(&mut e);
    }
    // A block lost for good: the give-up event after its retransmissions.
    e.send_request(s, &put(&v[..2000]), Instant(0)).unwrap();
    let (events, sent) = run(&mut e, |r, i| match i {
        0 => Answer::Ack(Code::CONTINUE, vec![(BLOCK1, r.option(BLOCK1).unwrap().to_vec())], vec![]),
        _ => Answer::Lose,
    });
    assert_eq!((events.len(), sent.len()), (1, 1 + 5));
    assert_eq!(response(&events[0]).1, TYPE_TIMEOUT);
    only_session_left(&mut e);
}

#[test]
fn removing_or_cancelling_mid_transfer_gives_everything_back() {
    for cancel in [false, true] {
        let (mut e, s) = client();
        let v = value(6000, 12);
        e.send_request(s, &Request { uri: b"r", token: b"c", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
        e.send_request(s, &Request { uri: b"w", token: b"w", payload: &v, ..Request::new(Methods::PUT) }, Instant(0)).unwrap();
        let (events, sent) = run(&mut e, |r, i| match (i, r.code) {
            (0 | 1, Code::GET) => block2(r, &v, 6, b""),
            (_, Code::PUT) if i < 4 => Answer::Ack(Code::CONTINUE, vec![(BLOCK1, r.option(BLOCK1).unwrap().to_vec())], vec![]),
            _ => Answer::Lose,
        });
        // Stopped by the give-ups; now both again, stopped half-way.
        assert!(sent.len() >= 4 && events.len() == 2);
        e.send_request(s, &Request { uri: b"r", token: b"c", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
        let mut buf = [0u8; MESSAGE_MAX];
        let (_, n) = e.poll_transmit(Instant(0), &mut buf).unwrap().unwrap();
        let r = Reply::parse(&buf[..n]);
        let Answer::Ack(c, o, p) = block2(&r, &v, 6, b"") else { panic!() };
        let o: Vec<(u16, &[u8])> = o.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        assert_eq!(exchange(&mut e, 0, SERVER, false, &datagram(MessageType::Ack, c, r.mid, b"c", &o, &p)), (None, None));
        e.collect();
        assert!(e.storage_stats().blocks >= 3, "a transfer block is held");
        if cancel {
            assert_eq!(e.cancel_request(s, b"c"), Ok(true));
            only_session_left(&mut e);
        } else {
            e.remove_session(s).unwrap();
            e.collect();
            assert_eq!((e.storage_stats().blocks, e.heap.live_blocks()), (0, 0));
        }
    }
}

/// Refuses the k-th allocation of the whole run, for every k: a refused
/// send_request changes nothing; a refused block in `receive` ignores the
/// datagram (as if lost), so the transfer still completes, once.
#[test]
fn allocation_failure_at_every_point_changes_nothing() {
    let v = value(4000, 13);
    let scenario = |fail: Option<u64>| {
        let (mut e, s) = client();
        let base = e.heap.allocations();
        e.heap.fail_at = fail.map(|k| base + k);
        let get = Request { uri: b"r", token: b"g", ..Request::new(Methods::GET) };
        let put = Request { uri: b"w", token: b"p", payload: &v, ..Request::new(Methods::PUT) };
        let mut queued = 0;
        for req in [&get, &put] {
            match e.send_request(s, req, Instant(0)) {
                Ok(_) => queued += 1,
                Err(err) => {
                    assert_eq!(err, Error::NoMemory);
                    e.collect();
                    assert_eq!(e.storage_stats().blocks as usize, 1 + 2 * queued, "nothing changed");
                }
            }
        }
        let mut got = vec![];
        let mut b1 = block1_server(&mut got, |_| 6);
        let (events, _) = run(&mut e, |r, i| if r.code == Code::GET { block2(r, &v, 6, b"") } else { b1(r, i) });
        only_session_left(&mut e);
        (queued, events, e.heap.allocations() - base)
    };
    let (queued, events, total) = scenario(None);
    assert_eq!(queued, 2);
    assert_eq!(events.len(), 2);
    assert!(total >= 4, "{total}");
    for k in 1..=total {
        let (queued, events, _) = scenario(Some(k));
        assert_eq!(events.len(), queued, "k={k}: one event per request queued");
        for ev in &events {
            let (code, _, payload) = response(ev);
            assert!(code == Code::CHANGED.0 || (code == Code::CONTENT.0 && payload == v.as_slice()), "k={k}: {code}");
        }
    }
}

#[test]
fn block1_size_fits_one_message() {
    use super::client::block1_szx_for_tests as szx;
    for prefix in 0..MESSAGE_MAX + 10 {
        let want = (0..=BLOCK_SZX).rev().find(|z| prefix + 6 + (16usize << z) <= MESSAGE_MAX);
        assert_eq!(szx(prefix), want, "{prefix}");
    }
}

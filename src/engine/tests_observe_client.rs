//! Observe (RFC 7641), client side: registration, fresh and stale
//! notifications, the ways an observation ends, deregistration, and
//! notifications fetched block-wise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::vec::Vec;

use super::testutil::{datagram, exchange, Boxed, OwnedEvent, Reply};
use super::{Endpoint, Instant, Methods, Request, SessionHandle, TYPE_TIMEOUT};
use crate::capacity::MESSAGE_MAX;
use crate::codec::option::{self, decode_uint, encode_uint, Block};
use crate::codec::{Code, MessageType};
use MessageType::{Ack, Con, Non, Rst};

const SERVER: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5683 };

fn client() -> (Boxed, SessionHandle) {
    let mut e = Boxed::new(1000, 7);
    let s = e.new_session(SERVER).unwrap();
    (e, s)
}

fn transmit(e: &mut Boxed, now: u32) -> Option<Reply> {
    let mut buf = [0u8; MESSAGE_MAX];
    e.poll_transmit(Instant(now), &mut buf).unwrap().map(|(to, n)| {
        assert_eq!(to, SERVER);
        Reply::parse(&buf[..n])
    })
}

fn observe_req(token: &'static [u8]) -> Request<'static> {
    Request { uri: b"/sensors/temp?u=c", token, observe: true, ..Request::new(Methods::GET) }
}

/// A response of type `t` with Observe `seq` (None: without), from SERVER.
fn notice(t: MessageType, code: Code, mid: u16, token: &[u8], seq: Option<u32>, extra: &[(u16, &[u8])], payload: &[u8]) -> Vec<u8> {
    let mut buf = [0; 4];
    let mut opts: Vec<(u16, &[u8])> = Vec::new();
    if let Some(v) = seq {
        opts.push((option::OBSERVE, encode_uint(v, &mut buf)));
    }
    opts.extend_from_slice(extra);
    opts.sort_by_key(|(n, _)| *n);
    datagram(t, code, mid, token, &opts, payload)
}

fn delivered(ev: Option<OwnedEvent>) -> Option<Vec<u8>> {
    match ev {
        Some(OwnedEvent::Response { code: 69, payload, .. }) => Some(payload),
        None => None,
        other => panic!("unexpected event {other:?}"),
    }
}

/// Sends the registration "ob" and answers it (piggybacked, Observe 5,
/// "a") at t=10.
fn observing() -> (Boxed, SessionHandle, u16) {
    let (mut e, s) = client();
    let mid = e.send_request(s, &observe_req(b"ob"), Instant(0)).unwrap();
    let r = transmit(&mut e, 0).unwrap();
    assert_eq!((r.t, r.code, r.mid, r.token.as_slice()), (Con, Code::GET, mid, &b"ob"[..]));
    // Observe 0 (the empty uint) first, then the request's own options.
    let numbers: Vec<u16> = r.options.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [option::OBSERVE, option::URI_PATH, option::URI_PATH, option::URI_QUERY]);
    assert_eq!(r.option(option::OBSERVE), Some(&[][..]));
    let ack = notice(Ack, Code::CONTENT, mid, b"ob", Some(5), &[], b"a");
    let (reply, ev) = exchange(&mut e, 10, SERVER, false, &ack);
    assert_eq!((reply, delivered(ev)), (None, Some(b"a".to_vec())));
    assert_eq!(e.poll_timeout(Instant(10)), None, "an observation has no timer");
    (e, s, mid)
}

#[test]
fn fresh_notifications_are_reported_stale_ones_acknowledged_and_dropped() {
    let (mut e, s, _) = observing();
    // CON: ACKed and reported, with the notification's own Message ID.
    let (r, ev) = exchange(&mut e, 20, SERVER, false, &notice(Con, Code::CONTENT, 0x100, b"ob", Some(6), &[], b"b"));
    assert_eq!(r.map(|r| (r.t, r.mid)), Some((Ack, 0x100)));
    assert_eq!(ev, Some(OwnedEvent::Response { session: s, code: 69, t: 0, mid: 0x100, token: b"ob".to_vec(), payload: b"b".to_vec() }));
    // Its duplicate: ACKed again, not reported.
    let (r, ev) = exchange(&mut e, 21, SERVER, false, &notice(Con, Code::CONTENT, 0x100, b"ob", Some(6), &[], b"b"));
    assert_eq!((r.map(|r| r.t), ev), (Some(Ack), None));
    // NON: reported, not acknowledged.
    let (r, ev) = exchange(&mut e, 30, SERVER, false, &notice(Non, Code::CONTENT, 0x101, b"ob", Some(8), &[], b"c"));
    assert_eq!((r, delivered(ev)), (None, Some(b"c".to_vec())));
    // Reordered (7 after 8), or the same number again: stale, dropped; a
    // CON one is still acknowledged.
    for (t, mid, seq) in [(Non, 0x102, 7), (Con, 0x103, 7), (Con, 0x104, 8)] {
        let (r, ev) = exchange(&mut e, 40, SERVER, false, &notice(t, Code::CONTENT, mid, b"ob", Some(seq), &[], b"old"));
        assert_eq!(ev, None, "{seq}");
        assert_eq!(r.map(|r| r.t), (t == Con).then_some(Ack));
    }
}

#[test]
fn serial_arithmetic_across_the_wrap_and_the_128_second_rule() {
    let (mut e, _, _) = observing();
    let mut mid = 0x200;
    let mut send = |e: &mut Boxed, now: u32, seq: u32| {
        mid += 1;
        delivered(exchange(e, now, SERVER, false, &notice(Non, Code::CONTENT, mid, b"ob", Some(seq), &[], b"n")).1).is_some()
    };
    // From 5: 5 + 2^23 - 1 is newer, 5 + 2^23 is not.
    assert!(!send(&mut e, 20, 5 + (1 << 23)));
    assert!(send(&mut e, 20, 5 + (1 << 23) - 1));
    // Up to the top and over the wrap.
    assert!(send(&mut e, 21, 0xFF_FFF0));
    assert!(send(&mut e, 22, 0xFF_FFFF));
    assert!(send(&mut e, 23, 3), "3 follows 0xFFFFFF");
    assert!(!send(&mut e, 24, 0xFF_FFFE), "and 0xFFFFFE is older than 3");
    // More than 128 s after the last one reported: fresh whatever its number.
    assert!(!send(&mut e, 23 + 128_000, 2));
    assert!(send(&mut e, 24 + 128_000, 2));
}

#[test]
fn an_answer_without_observe_is_a_plain_response() {
    let (mut e, s) = client();
    let before = e.heap.live_blocks();
    let mid = e.send_request(s, &observe_req(b"pl"), Instant(0)).unwrap();
    transmit(&mut e, 0).unwrap();
    let (_, ev) = exchange(&mut e, 5, SERVER, false, &notice(Ack, Code::CONTENT, mid, b"pl", None, &[], b"once"));
    assert_eq!(delivered(ev), Some(b"once".to_vec()));
    e.collect();
    assert_eq!(e.heap.live_blocks(), before, "the request is done");
    // A later notification on that token matches nothing: RST.
    let (r, ev) = exchange(&mut e, 6, SERVER, false, &notice(Con, Code::CONTENT, 0x300, b"pl", Some(1), &[], b"x"));
    assert_eq!((r.map(|r| r.t), ev), (Some(Rst), None));
    // An error answer to the registration: reported, done.
    let mid = e.send_request(s, &observe_req(b"er"), Instant(10)).unwrap();
    transmit(&mut e, 10).unwrap();
    let (_, ev) = exchange(&mut e, 11, SERVER, false, &notice(Ack, Code::NOT_FOUND, mid, b"er", Some(1), &[], b""));
    assert!(matches!(ev, Some(OwnedEvent::Response { code: 132, .. })));
    e.collect();
    assert_eq!(e.heap.live_blocks(), before);
}

#[test]
fn an_error_or_a_notification_without_observe_ends_the_observation() {
    for (code, seq) in [(Code::NOT_FOUND, Some(9)), (Code::CONTENT, None)] {
        let (mut e, _, _) = observing();
        let before = e.heap.live_blocks();
        let (r, ev) = exchange(&mut e, 20, SERVER, false, &notice(Con, code, 0x400, b"ob", seq, &[], b"end"));
        assert_eq!(r.map(|r| r.t), Some(Ack));
        assert!(matches!(ev, Some(OwnedEvent::Response { code: c, ref payload, .. }) if c == code.0 && payload == b"end"));
        e.collect();
        assert_eq!(e.heap.live_blocks(), before - 2, "the node and its encoding are given back");
        let (r, ev) = exchange(&mut e, 21, SERVER, false, &notice(Con, Code::CONTENT, 0x401, b"ob", Some(10), &[], b"x"));
        assert_eq!((r.map(|r| r.t), ev), (Some(Rst), None));
    }
}

#[test]
fn an_empty_token_is_replaced_by_a_random_one() {
    let (mut e, s) = client();
    e.send_request(s, &observe_req(b""), Instant(0)).unwrap();
    let r = transmit(&mut e, 0).unwrap();
    assert_eq!(r.token.len(), 4);
    // Not for a plain GET.
    let mid = e.send_request(s, &Request { uri: b"x", ..Request::new(Methods::GET) }, Instant(0)).unwrap();
    exchange(&mut e, 1, SERVER, false, &notice(Ack, Code::EMPTY, r.mid, b"", None, &[], b""));
    let sent = transmit(&mut e, 1).unwrap();
    assert_eq!((sent.mid, sent.token.len(), sent.option(option::OBSERVE)), (mid, 0, None));
}

#[test]
fn cancel_observe_sends_observe_1_and_then_nothing_is_reported() {
    let (mut e, s, reg_mid) = observing();
    let before = e.heap.live_blocks();
    assert_eq!(e.cancel_observe(s, b"zz", Instant(20)), Ok(false), "no such token");
    let (_, ev) = exchange(&mut e, 20, SERVER, false, &notice(Non, Code::CONTENT, 0x500, b"ob", Some(6), &[], b"still"));
    assert_eq!(delivered(ev), Some(b"still".to_vec()));
    // It needs no storage: the registration's encoding is rewritten.
    let allocations = e.heap.allocations();
    assert_eq!(e.cancel_observe(s, b"ob", Instant(30)), Ok(true));
    assert_eq!(e.heap.allocations(), allocations);
    assert_eq!(e.cancel_observe(s, b"ob", Instant(30)), Ok(false), "once");
    let r = transmit(&mut e, 30).unwrap();
    assert_eq!((r.t, r.code, r.token.as_slice()), (Con, Code::GET, &b"ob"[..]));
    assert_ne!(r.mid, reg_mid);
    assert_eq!(r.option(option::OBSERVE), Some(&[1][..]));
    let rest: Vec<(u16, Vec<u8>)> = r.options[1..].to_vec();
    assert_eq!(rest, [(option::URI_PATH, b"sensors".to_vec()), (option::URI_PATH, b"temp".to_vec()), (option::URI_QUERY, b"u=c".to_vec())]);
    // Notifications meanwhile: RST, CON or NON, never reported.
    for (t, mid) in [(Con, 0x501), (Non, 0x502)] {
        let (rep, ev) = exchange(&mut e, 31, SERVER, false, &notice(t, Code::CONTENT, mid, b"ob", Some(7), &[], b"late"));
        assert_eq!((rep.map(|x| (x.t, x.mid)), ev), (Some((Rst, mid)), None));
    }
    // Its answer (no Observe): nothing reported, the node is gone.
    let (rep, ev) = exchange(&mut e, 32, SERVER, false, &notice(Ack, Code::CONTENT, r.mid, b"ob", None, &[], b"v"));
    assert_eq!((rep, ev), (None, None));
    e.collect();
    assert_eq!(e.heap.live_blocks(), before - 2);
    assert_eq!(e.poll_timeout(Instant(32)), None);
    let (rep, _) = exchange(&mut e, 33, SERVER, false, &notice(Con, Code::CONTENT, 0x503, b"ob", Some(8), &[], b"later"));
    assert_eq!(rep.map(|x| x.t), Some(Rst));
}

#[test]
fn a_deregistration_that_is_never_answered_or_reset_ends_silently() {
    for reset in [false, true] {
        let (mut e, s, _) = observing();
        e.cancel_observe(s, b"ob", Instant(20)).unwrap();
        let mut now = 20;
        let mut sent = 0;
        loop {
            while let Some(r) = transmit(&mut e, now) {
                sent += 1;
                if reset {
                    let (_, ev) = exchange(&mut e, now, SERVER, false, &datagram(Rst, Code::EMPTY, r.mid, b"", &[], b""));
                    assert_eq!(ev, None);
                }
            }
            assert_eq!(e.poll_event(Instant(now)).map(OwnedEvent::from), None);
            match e.poll_timeout(Instant(now)) {
                Some(t) => now += t,
                None => break,
            }
        }
        assert_eq!(sent, if reset { 1 } else { 5 });
        e.collect();
        assert_eq!(e.heap.live_blocks(), 1, "only the session is left");
    }
}

#[test]
fn cancelling_a_registration_not_yet_answered_drops_it() {
    let (mut e, s) = client();
    e.send_request(s, &observe_req(b"nr"), Instant(0)).unwrap();
    transmit(&mut e, 0).unwrap();
    assert_eq!(e.cancel_observe(s, b"nr", Instant(5)), Ok(true));
    assert_eq!(e.poll_timeout(Instant(5)), None);
    e.collect();
    assert_eq!(e.heap.live_blocks(), 1);
    // The server registered it meanwhile: its notification gets RST.
    let (r, ev) = exchange(&mut e, 6, SERVER, false, &notice(Non, Code::CONTENT, 0x600, b"nr", Some(1), &[], b"x"));
    assert_eq!((r.map(|r| r.t), ev), (Some(Rst), None));
    // A plain request's token is no observation.
    e.send_request(s, &Request { token: b"pg", ..Request::new(Methods::GET) }, Instant(7)).unwrap();
    assert_eq!(e.cancel_observe(s, b"pg", Instant(7)), Ok(false));
    e.remove_session(s).unwrap();
    assert_eq!(e.cancel_observe(s, b"nr", Instant(7)), Err(super::Error::Stale));
}

/// Block2 with 16-byte blocks (SZX 0).
fn block2(num: u32, more: bool) -> Vec<u8> {
    let mut buf = [0; 4];
    encode_uint(Block { num, more, szx: 0 }.to_uint(), &mut buf).to_vec()
}

#[test]
fn notifications_larger_than_a_message_are_fetched_and_reported_whole() {
    let (mut e, s) = client();
    let body: Vec<u8> = (0..40u8).collect();
    let mid = e.send_request(s, &observe_req(b"bw"), Instant(0)).unwrap();
    transmit(&mut e, 0).unwrap();
    let etag: &[u8] = b"e1";
    let b0 = block2(0, true);
    let first = notice(Ack, Code::CONTENT, mid, b"bw", Some(3), &[(option::BLOCK2, &b0), (option::ETAG, etag)], &body[..16]);
    assert_eq!(exchange(&mut e, 1, SERVER, false, &first), (None, None));
    // The rest is fetched with plain GETs: the registration's options but
    // Observe (RFC 7959 §2.4), and Block2, on the fetch token (the first
    // byte flipped).
    let mut now = 2;
    let fetch = |e: &mut Boxed, now: u32, body: &[u8], etag: &[u8], seq: Option<u32>| -> Option<OwnedEvent> {
        let mut last = None;
        for num in 1..=2u32 {
            let r = transmit(e, now).unwrap();
            assert_eq!((r.code, r.token.as_slice()), (Code::GET, &[b'b' ^ 0x80, b'w'][..]));
            let numbers: Vec<u16> = r.options.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, [option::URI_PATH, option::URI_PATH, option::URI_QUERY, option::BLOCK2]);
            assert_eq!(Block::from_uint(decode_uint(r.option(option::BLOCK2).unwrap())), Block { num, more: false, szx: 0 });
            let more = num < 2;
            let part = &body[16 * num as usize..(16 * (num as usize + 1)).min(body.len())];
            let b = block2(num, more);
            let ack = notice(Ack, Code::CONTENT, r.mid, &r.token, seq, &[(option::BLOCK2, &b), (option::ETAG, etag)], part);
            last = exchange(e, now, SERVER, false, &ack).1;
            assert_eq!(last.is_some(), !more);
        }
        // Reported with the observation's token, not the fetch token.
        assert!(matches!(&last, Some(OwnedEvent::Response { token, .. }) if token == b"bw"), "{last:?}");
        last
    };
    assert_eq!(delivered(fetch(&mut e, now, &body, etag, Some(3))), Some(body.clone()));
    assert_eq!(e.poll_timeout(Instant(now)), None);
    // The next notification, large too: ACKed, fetched, reported once.
    now = 100;
    let body2: Vec<u8> = (100..140u8).collect();
    let n = notice(Con, Code::CONTENT, 0x700, b"bw", Some(4), &[(option::BLOCK2, &b0), (option::ETAG, b"e2")], &body2[..16]);
    let (r, ev) = exchange(&mut e, now, SERVER, false, &n);
    assert_eq!((r.map(|r| r.t), ev), (Some(Ack), None));
    // A newer notification during the fetch: ACKed, ignored.
    let newer = notice(Con, Code::CONTENT, 0x701, b"bw", Some(5), &[], b"small");
    let (r, ev) = exchange(&mut e, now, SERVER, false, &newer);
    assert_eq!((r.map(|r| r.t), ev), (Some(Ack), None));
    assert_eq!(delivered(fetch(&mut e, now, &body2, b"e2", None)), Some(body2.clone()));
    // A small one after it: reported as it is; a stale large one: dropped.
    let (_, ev) = exchange(&mut e, now + 1, SERVER, false, &notice(Non, Code::CONTENT, 0x702, b"bw", Some(6), &[], b"small"));
    assert_eq!(delivered(ev), Some(b"small".to_vec()));
    let stale = notice(Non, Code::CONTENT, 0x703, b"bw", Some(4), &[(option::BLOCK2, &b0), (option::ETAG, b"e2")], &body2[..16]);
    assert_eq!(exchange(&mut e, now + 2, SERVER, false, &stale), (None, None));
    assert!(transmit(&mut e, now + 2).is_none(), "nothing fetched for it");
    // The deregistration is built from the transfer block's prefix, and
    // asks for block 0.
    assert_eq!(e.cancel_observe(s, b"bw", Instant(now + 3)), Ok(true));
    let r = transmit(&mut e, now + 3).unwrap();
    assert_eq!((r.option(option::OBSERVE), r.option(option::BLOCK2)), (Some(&[1][..]), Some(&[][..])));
    let uri: Vec<&[u8]> = r.options.iter().filter(|(n, _)| *n != option::OBSERVE && *n != option::BLOCK2).map(|(_, v)| v.as_slice()).collect();
    assert_eq!(uri, [&b"sensors"[..], b"temp", b"u=c"]);
    let (_, ev) = exchange(&mut e, now + 4, SERVER, false, &notice(Ack, Code::CONTENT, r.mid, b"bw", None, &[(option::BLOCK2, &b0)], &body2[..16]));
    assert_eq!(ev, None);
    assert!(transmit(&mut e, now + 4).is_none(), "a deregistration's answer is not fetched");
    e.collect();
    assert_eq!(e.heap.live_blocks(), 1);
}

#[test]
fn removing_the_session_or_giving_up_a_fetch_frees_the_observation() {
    let (mut e, s, _) = observing();
    e.remove_session(s).unwrap();
    e.collect();
    assert_eq!(e.heap.live_blocks(), 0);
    // A fetch that fails (another block size than announced): give-up
    // event, and the observation ends.
    let (mut e, s, _) = observing();
    let b0 = block2(0, true);
    let n = notice(Non, Code::CONTENT, 0x800, b"ob", Some(6), &[(option::BLOCK2, &b0)], &[7; 16]);
    assert_eq!(exchange(&mut e, 20, SERVER, false, &n), (None, None));
    let r = transmit(&mut e, 20).unwrap();
    let bad = block2(3, false);
    let (_, ev) = exchange(&mut e, 21, SERVER, false, &notice(Ack, Code::CONTENT, r.mid, &r.token, None, &[(option::BLOCK2, &bad)], b"x"));
    assert!(matches!(ev, Some(OwnedEvent::Response { t: TYPE_TIMEOUT, session, .. }) if session == s));
    e.collect();
    assert_eq!(e.heap.live_blocks(), 1);
}

#[test]
fn a_fetch_without_observe_keeps_every_other_option() {
    // The option after Observe 0: none, Uri-Path (delta 5 -> 11),
    // Content-Format (6 -> 12), Uri-Query (9 -> 15, an extended delta).
    let cases: [(&[u8], Option<u16>, Vec<u16>); 4] = [
        (b"", None, vec![]),
        (b"p/q", None, vec![option::URI_PATH, option::URI_PATH]),
        (b"", Some(0), vec![option::CONTENT_FORMAT]),
        (b"?a=1&b=2", None, vec![option::URI_QUERY, option::URI_QUERY]),
    ];
    for (uri, cf, want) in cases {
        let (mut e, s) = client();
        let req = Request { uri, content_format: cf, ..observe_req(b"fx") };
        let mid = e.send_request(s, &req, Instant(0)).unwrap();
        let reg = transmit(&mut e, 0).unwrap();
        assert_eq!(reg.options[0], (option::OBSERVE, vec![]));
        let b0 = block2(0, true);
        let first = notice(Ack, Code::CONTENT, mid, b"fx", Some(1), &[(option::BLOCK2, &b0)], &[5; 16]);
        exchange(&mut e, 1, SERVER, false, &first);
        let r = transmit(&mut e, 1).unwrap();
        let mut expect: Vec<(u16, Vec<u8>)> = reg.options[1..].to_vec();
        expect.push((option::BLOCK2, block2(1, false)));
        assert_eq!(r.options, expect, "{uri:?} {cf:?}");
        assert_eq!(r.options.iter().map(|(n, _)| *n).filter(|n| *n != option::BLOCK2).collect::<Vec<_>>(), want);
        // And the deregistration still carries Observe 1 and the rest.
        let last = notice(Ack, Code::CONTENT, r.mid, &r.token, None, &[(option::BLOCK2, &block2(1, false))], b"end");
        assert!(exchange(&mut e, 2, SERVER, false, &last).1.is_some());
        assert_eq!(e.cancel_observe(s, b"fx", Instant(3)), Ok(true));
        let d = transmit(&mut e, 3).unwrap();
        assert_eq!(d.options[0], (option::OBSERVE, vec![1]));
        assert_eq!(d.options[1..d.options.len() - 1], reg.options[1..], "{uri:?} {cf:?}");
    }
}

#[test]
fn cancelling_again_drops_the_new_registration_not_the_deregistration() {
    // (Found by the client fuzz target: the second cancel took the oldest
    // request with the token, the deregistration in flight.)
    let (mut e, s, _) = observing();
    assert_eq!(e.cancel_observe(s, b"ob", Instant(20)), Ok(true));
    let dereg = transmit(&mut e, 20).unwrap();
    assert_eq!(dereg.option(option::OBSERVE), Some(&[1][..]));
    e.send_request(s, &observe_req(b"ob"), Instant(21)).unwrap();
    assert_eq!(e.cancel_observe(s, b"ob", Instant(22)), Ok(true));
    // The deregistration goes on (retransmitted); the new registration
    // never goes.
    let t = e.poll_timeout(Instant(22)).unwrap();
    let again = transmit(&mut e, 22 + t).unwrap();
    assert_eq!((again.mid, again.option(option::OBSERVE)), (dereg.mid, Some(&[1][..])));
    let (_, ev) = exchange(&mut e, 23 + t, SERVER, false, &notice(Ack, Code::CONTENT, dereg.mid, b"ob", None, &[], b"v"));
    assert_eq!(ev, None);
    assert!(transmit(&mut e, 23 + t).is_none());
    e.collect();
    assert_eq!(e.heap.live_blocks(), 1);
}

#[test]
fn cancelling_during_a_fetch_still_deregisters() {
    let (mut e, s, _) = observing();
    let b0 = block2(0, true);
    let n = notice(Non, Code::CONTENT, 0x900, b"ob", Some(6), &[(option::BLOCK2, &b0)], &[7; 16]);
    assert_eq!(exchange(&mut e, 20, SERVER, false, &n), (None, None));
    let fetch = transmit(&mut e, 20).unwrap();
    assert_eq!(fetch.token, [b'o' ^ 0x80, b'b']);
    assert_eq!(e.cancel_observe(s, b"ob", Instant(21)), Ok(true));
    let d = transmit(&mut e, 21).unwrap();
    assert_eq!((d.token.as_slice(), d.option(option::OBSERVE)), (&b"ob"[..], Some(&[1][..])));
    assert_ne!(d.mid, fetch.mid);
    // The fetch's late answer matches nothing; the deregistration's ends it.
    let late = notice(Ack, Code::CONTENT, fetch.mid, &fetch.token, None, &[(option::BLOCK2, &block2(1, false))], b"x");
    assert_eq!(exchange(&mut e, 22, SERVER, false, &late), (None, None));
    let ack = notice(Ack, Code::CONTENT, d.mid, b"ob", None, &[], b"v");
    assert_eq!(exchange(&mut e, 23, SERVER, false, &ack), (None, None));
    assert!(transmit(&mut e, 23).is_none());
    e.collect();
    assert_eq!(e.heap.live_blocks(), 1);
}

#[test]
fn duplicates_of_notifications_get_the_same_answer_never_an_ack_to_a_non() {
    let (mut e, _, _) = observing();
    let (r, _) = exchange(&mut e, 20, SERVER, false, &notice(Con, Code::CONTENT, 0xA00, b"ob", Some(6), &[], b"x"));
    assert_eq!(r.map(|r| r.t), Some(Ack));
    // A NON that repeats that Message ID is a duplicate to the dedup cache:
    // nothing (an empty ACK to a NON would be wrong), nothing reported.
    assert_eq!(exchange(&mut e, 21, SERVER, false, &notice(Non, Code::CONTENT, 0xA00, b"ob", Some(7), &[], b"y")), (None, None));
    // A NON notification nobody observes: RST, and RST again for its
    // duplicate.
    for _ in 0..2 {
        let (r, ev) = exchange(&mut e, 22, SERVER, false, &notice(Non, Code::CONTENT, 0xA01, b"zz", Some(1), &[], b"z"));
        assert_eq!((r.map(|r| (r.t, r.mid)), ev), (Some((Rst, 0xA01)), None));
    }
    // A NON response without Observe that matches nothing: silence.
    assert_eq!(exchange(&mut e, 23, SERVER, false, &notice(Non, Code::CONTENT, 0xA02, b"zz", None, &[], b"z")), (None, None));
}

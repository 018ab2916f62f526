//! Observe (RFC 7641), server side: registration, notifications and their
//! pacing, the ways an observation ends, and the storage it holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::vec::Vec;

use super::observe::OBSERVER_BYTES;
use super::testutil::{datagram, exchange, Boxed, Reply, PEER};
use super::{params, Endpoint, Instant, Methods, ResourceHandle};
use crate::capacity::{MESSAGE_MAX, OBSERVE_CON_EVERY_MS, OBSERVE_NON_MAX};
use crate::codec::option::{self, decode_uint};
use crate::codec::{Code, MessageType};
use MessageType::{Ack, Con, Non, Rst};

const OTHER: Endpoint = Endpoint { addr: [10, 0, 0, 3], port: 40001 };

fn server() -> (Boxed, ResourceHandle) {
    let mut e = Boxed::new(0, 11);
    let h = e.add_resource(b"obs", Some(0), Some(30), b"v0", true).unwrap();
    e.set_methods(h, Methods(Methods::GET.0 | Methods::PUT.0), true).unwrap();
    e.set_observable(h, true).unwrap();
    (e, h)
}

/// A CON GET of `/obs` with `observe` (None: no option).
fn get(e: &mut Boxed, now: u32, from: Endpoint, mid: u16, token: &[u8], observe: Option<u32>) -> Reply {
    let mut buf = [0; 4];
    let mut opts: Vec<(u16, &[u8])> = std::vec![(option::URI_PATH, b"obs")];
    if let Some(v) = observe {
        opts.push((option::OBSERVE, option::encode_uint(v, &mut buf)));
    }
    let d = datagram(Con, Code::GET, mid, token, &opts, b"");
    exchange(e, now, from, false, &d).0.expect("a reply")
}

fn observe_of(r: &Reply) -> Option<u32> {
    r.option(option::OBSERVE).map(decode_uint)
}

/// The next notification due at `now`.
fn notification(e: &mut Boxed, now: u32) -> Option<(Endpoint, Reply)> {
    let mut buf = [0; MESSAGE_MAX];
    let r = e.poll_notify(Instant(now), &mut buf).unwrap();
    e.collect();
    r.map(|(to, n)| (to, Reply::parse(&buf[..n])))
}

fn empty(t: MessageType, mid: u16) -> Vec<u8> {
    datagram(t, Code::EMPTY, mid, b"", &[], b"")
}

/// Registers PEER with token "t1" at time 0; returns the first Observe.
fn registered() -> (Boxed, ResourceHandle, u32) {
    let (mut e, h) = server();
    let r = get(&mut e, 0, PEER, 1, b"t1", Some(0));
    assert_eq!((r.t, r.code, r.payload.as_slice()), (Ack, Code::CONTENT, &b"v0"[..]));
    let first = observe_of(&r).expect("the answer carries Observe");
    assert_eq!(e.observer_count(h), Ok(1));
    (e, h, first)
}

#[test]
fn a_get_with_observe_0_registers_and_the_answer_says_so() {
    let (mut e, h, first) = registered();
    assert!(first < 1 << 24);
    assert_eq!(e.storage_stats().remote_bytes as usize, OBSERVER_BYTES);
    // Not observable, or without the option, or Observe 1: no Observe.
    let plain = e.add_resource(b"plain", None, None, b"p", false).unwrap();
    e.set_methods(plain, Methods::GET, true).unwrap();
    let mut buf = [0; 4];
    let d = datagram(Con, Code::GET, 2, b"t2", &[(option::URI_PATH, b"plain"), (option::OBSERVE, option::encode_uint(0, &mut buf))], b"");
    let r = exchange(&mut e, 0, PEER, false, &d).0.unwrap();
    assert_eq!((r.code, observe_of(&r)), (Code::CONTENT, None));
    assert_eq!(observe_of(&get(&mut e, 0, OTHER, 3, b"t3", None)), None);
    assert_eq!(e.observer_count(h), Ok(1));
    // The same endpoint and token again: the entry is updated, not doubled
    // (a retransmitted registration too), and the number moves on.
    let again = get(&mut e, 0, PEER, 4, b"t1", Some(0));
    assert_eq!(observe_of(&again), Some(first + 1));
    let dup = get(&mut e, 0, PEER, 4, b"t1", Some(0));
    assert_eq!(dup.mid, 4);
    assert_eq!(e.observer_count(h), Ok(1));
    // Another token of the same client is another observation.
    get(&mut e, 0, PEER, 5, b"t4", Some(0));
    assert_eq!(e.observer_count(h), Ok(2));
    // Observe 1 ends it; the answer is a plain GET.
    let r = get(&mut e, 0, PEER, 6, b"t4", Some(1));
    assert_eq!((r.code, observe_of(&r)), (Code::CONTENT, None));
    assert_eq!(e.observer_count(h), Ok(1));
    // A multicast GET never registers.
    let d = datagram(Non, Code::GET, 7, b"m", &[(option::URI_PATH, b"obs"), (option::OBSERVE, b"")], b"");
    let r = exchange(&mut e, 0, OTHER, true, &d).0.unwrap();
    assert_eq!(observe_of(&r), None);
    assert_eq!(e.observer_count(h), Ok(1));
}

#[test]
fn discovery_shows_obs_and_filters_on_it() {
    let (mut e, _) = server();
    let other = e.add_resource(b"other", None, None, b"", false).unwrap();
    e.set_methods(other, Methods::GET, true).unwrap();
    let wkc = |e: &mut Boxed, q: Option<&'static [u8]>| {
        let mut opts: Vec<(u16, &[u8])> = std::vec![(option::URI_PATH, b".well-known"), (option::URI_PATH, b"core")];
        if let Some(q) = q {
            opts.push((option::URI_QUERY, q));
        }
        let d = datagram(Con, Code::GET, 9, b"", &opts, b"");
        std::string::String::from_utf8(exchange(e, 0, PEER, false, &d).0.unwrap().payload).unwrap()
    };
    assert_eq!(wkc(&mut e, None), "</obs>;obs,</other>");
    assert_eq!(wkc(&mut e, Some(b"obs")), "</obs>;obs");
}

#[test]
fn a_change_notifies_con_first_then_non_paced_by_the_round_trip() {
    let (mut e, h, first) = registered();
    assert_eq!(e.poll_timeout(Instant(0)), None, "nothing to send before a change");
    e.set_resource_value(h, b"v1").unwrap();
    assert_eq!(e.poll_timeout(Instant(0)), Some(0));
    // No round-trip estimate yet: CON.
    let (to, n) = notification(&mut e, 0).unwrap();
    assert_eq!((to, n.t, n.code, n.token.as_slice(), n.payload.as_slice()), (PEER, Con, Code::CONTENT, &b"t1"[..], &b"v1"[..]));
    assert_eq!(observe_of(&n), Some(first + 1));
    assert_eq!(n.option(option::ETAG), Some(&[2][..]));
    assert_eq!(n.option(option::MAX_AGE), Some(&[30][..]));
    assert!(notification(&mut e, 0).is_none());
    // Two changes while it is in flight: nothing until the ACK, then the
    // newest state, once.
    e.set_resource_value(h, b"v2").unwrap();
    e.set_resource_value(h, b"v3").unwrap();
    assert!(notification(&mut e, 100).is_none());
    assert_eq!(exchange(&mut e, 120, PEER, false, &empty(Ack, n.mid)), (None, None));
    let (_, n2) = notification(&mut e, 120).unwrap();
    // An estimate now (120 ms): NON, with a new number.
    assert_eq!((n2.t, n2.payload.as_slice(), observe_of(&n2)), (Non, &b"v3"[..], Some(first + 2)));
    assert!(notification(&mut e, 120).is_none());
    // The next NON waits one round trip.
    e.set_resource_value(h, b"v4").unwrap();
    assert_eq!(e.poll_timeout(Instant(130)), Some(110));
    assert!(notification(&mut e, 200).is_none());
    let (_, n3) = notification(&mut e, 240).unwrap();
    assert_eq!((n3.t, n3.payload.as_slice()), (Non, &b"v4"[..]));
    // After OBSERVE_NON_MAX NON ones in a row, a CON.
    let mut now = 240;
    let mut types = Vec::new();
    for i in 0..OBSERVE_NON_MAX {
        now += 1000;
        e.set_resource_value(h, &[b'a' + i]).unwrap();
        let (_, n) = notification(&mut e, now).unwrap();
        types.push(n.t);
        if n.t == Con {
            exchange(&mut e, now + 100, PEER, false, &empty(Ack, n.mid));
        }
    }
    // Two NON ones went above; then the rest of the row, a CON, a NON.
    let mut want = std::vec![Non; usize::from(OBSERVE_NON_MAX) - 2];
    want.extend([Con, Non]);
    assert_eq!(types, want, "{OBSERVE_NON_MAX} NON in a row, then CON");
    // And a CON when the last CON is a day old.
    now += OBSERVE_CON_EVERY_MS;
    e.set_resource_value(h, b"day").unwrap();
    assert_eq!(notification(&mut e, now).unwrap().1.t, Con);
}

#[test]
fn a_peers_put_notifies_and_a_value_larger_than_a_message_goes_as_block_0() {
    let (mut e, h, _) = registered();
    let put = datagram(Con, Code::PUT, 20, b"w", &[(option::URI_PATH, b"obs")], b"put");
    assert_eq!(exchange(&mut e, 0, OTHER, false, &put).0.unwrap().code, Code::CHANGED);
    let (_, n) = notification(&mut e, 0).unwrap();
    assert_eq!(n.payload, b"put");
    exchange(&mut e, 10, PEER, false, &empty(Ack, n.mid));
    let big = std::vec![7u8; 3000];
    e.set_resource_value(h, &big).unwrap();
    let (_, n) = notification(&mut e, 20).unwrap();
    let b = option::Block::from_uint(decode_uint(n.option(option::BLOCK2).unwrap()));
    assert_eq!((b.num, b.more, b.size()), (0, true, 1024));
    assert_eq!(n.payload, big[..1024]);
    assert!(n.option(option::ETAG).is_some());
}

#[test]
fn retransmissions_keep_the_message_then_the_observer_is_dropped() {
    let (mut e, h, _) = registered();
    e.set_resource_value(h, b"v1").unwrap();
    let (_, first) = notification(&mut e, 0).unwrap();
    let mut now = 0;
    let mut sent = std::vec![first.clone()];
    while let Some(wait) = e.poll_timeout(Instant(now)) {
        now += wait;
        if let Some((_, n)) = notification(&mut e, now) {
            sent.push(n);
        }
        if sent.len() == 3 {
            // A change during the back-off: a new message in place of
            // the retransmission.
            e.set_resource_value(h, b"v2").unwrap();
        }
    }
    assert_eq!(sent.len(), 1 + usize::from(params::MAX_RETRANSMIT));
    assert!(sent.iter().all(|n| n.t == Con));
    assert_eq!((sent[1].mid, sent[1].payload.as_slice()), (first.mid, &b"v1"[..]), "a retransmission");
    assert_eq!(observe_of(&sent[1]), observe_of(&first));
    let changed = &sent[3];
    assert_ne!(changed.mid, first.mid);
    assert_eq!(changed.payload, b"v2");
    assert_eq!(observe_of(changed), Some(observe_of(&first).unwrap() + 1));
    assert_eq!(sent[4].mid, changed.mid);
    assert!((62_000..=93_000).contains(&now), "{now}");
    assert_eq!(e.observer_count(h), Ok(0), "never acknowledged: dropped");
    e.collect();
    assert_eq!(e.storage_stats().remote_bytes, 0);
}

#[test]
fn an_rst_ends_the_observation() {
    let (mut e, h, _) = registered();
    get(&mut e, 0, OTHER, 2, b"o", Some(0));
    e.set_resource_value(h, b"v1").unwrap();
    let (to1, n1) = notification(&mut e, 0).unwrap();
    let (to2, n2) = notification(&mut e, 0).unwrap();
    assert_eq!((to1, to2), (PEER, OTHER));
    // An RST from the wrong peer, or with another Message ID: nothing.
    exchange(&mut e, 5, OTHER, false, &empty(Rst, n1.mid));
    exchange(&mut e, 5, PEER, false, &empty(Rst, n1.mid.wrapping_add(100)));
    assert_eq!(e.observer_count(h), Ok(2));
    exchange(&mut e, 5, PEER, false, &empty(Rst, n1.mid));
    assert_eq!(e.observer_count(h), Ok(1));
    exchange(&mut e, 5, OTHER, false, &empty(Ack, n2.mid));
    e.set_resource_value(h, b"v2").unwrap();
    assert_eq!(notification(&mut e, 10).unwrap().0, OTHER);
    assert!(notification(&mut e, 10).is_none());
    e.collect();
    assert_eq!(e.storage_stats().remote_bytes as usize, OBSERVER_BYTES);
}

#[test]
fn removing_the_resource_sends_4_04_and_gives_the_storage_back() {
    let (mut e, h, _) = registered();
    let blocks = e.storage_stats().blocks;
    e.remove_resource(h).unwrap();
    assert_eq!(e.poll_timeout(Instant(0)), Some(0));
    let (to, n) = notification(&mut e, 0).unwrap();
    assert_eq!((to, n.t, n.code, n.token.as_slice(), observe_of(&n)), (PEER, Non, Code::NOT_FOUND, &b"t1"[..], None));
    assert!(notification(&mut e, 0).is_none());
    let s = e.storage_stats();
    assert_eq!((s.remote_bytes, s.blocks), (0, 0), "{blocks} blocks before");
    // Turning observability off ends observations silently.
    let (mut e, h, _) = registered();
    e.set_observable(h, false).unwrap();
    assert_eq!(e.observer_count(h), Ok(0));
    assert!(notification(&mut e, 0).is_none());
    // deinit (take_user until nothing is left) frees observers too.
    let (mut e, _, _) = registered();
    while e.take_user().is_some() {}
    e.collect();
    assert_eq!(e.storage_stats().blocks, 0);
}

#[test]
fn over_the_remote_budget_a_registration_is_a_plain_get() {
    let (mut e, h) = server();
    e.set_remote_budget((2 * OBSERVER_BYTES) as u32);
    for (i, tok) in [b"a", b"b"].iter().enumerate() {
        assert!(observe_of(&get(&mut e, 0, PEER, i as u16, *tok, Some(0))).is_some());
    }
    let r = get(&mut e, 0, PEER, 9, b"c", Some(0));
    assert_eq!((r.code, r.payload.as_slice(), observe_of(&r)), (Code::CONTENT, &b"v0"[..], None));
    assert_eq!(e.observer_count(h), Ok(2));
    // One leaves, another may come.
    get(&mut e, 0, PEER, 10, b"a", Some(1));
    assert!(observe_of(&get(&mut e, 0, PEER, 11, b"c", Some(0))).is_some());
}

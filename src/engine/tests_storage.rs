//! Allocation failure at every point where the engine asks for storage
//! (docs/proposals/memory.md §6): for each operation that can ask, count
//! the allocations G of a clean run on a populated engine; then, for each
//! k in 1..=G, on a fresh populated engine, refuse the k-th allocation and
//! check that
//!
//! - (a) the call fails with [`Error::NoMemory`] (a peer's PUT gets 5.03
//!   with Max-Age instead; a value that shrinks is stored in its block);
//! - (b) nothing observable changed ([`Snapshot`]; for the PUT, apart from
//!   its deduplication entry);
//! - (c) every block the engine holds is one the heap has live, and the
//!   other way round: a block granted for the refused call came back;
//! - (d) no word of the engine or of a live block points into a freed
//!   (quarantined) block: a conservative GC would keep it alive, and a
//!   use would be a use after free;
//!
//! and that the engine still works: the same call succeeds afterwards, and
//! removing everything gives every block back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use core::mem::size_of;
use std::vec::Vec;

use super::snapshot::Snapshot;
use super::testutil::{datagram, exchange, Boxed, Reply};
use super::{Endpoint, Engine, Error, Instant, Methods, Request, ResourceHandle, SessionHandle};
use crate::capacity::{MESSAGE_MAX, RETRY_AFTER_S, SHRINK_SLACK};
use crate::codec::option::{self, encode_uint};
use crate::codec::{Code, MessageType};

const WORD: usize = size_of::<usize>();
const SERVER: Endpoint = Endpoint { addr: [10, 0, 0, 1], port: 5683 };
const PEER_A: Endpoint = Endpoint { addr: [10, 0, 0, 2], port: 40000 };
const PEER_B: Endpoint = Endpoint { addr: [10, 0, 0, 3], port: 40001 };
const PEER_C: Endpoint = Endpoint { addr: [192, 168, 1, 7], port: 61616 };
/// The clock while populating and during the operations: no dedup entry
/// expires in between.
const NOW: u32 = 1_000;

/// An engine with a few resources with attributes, a session with one
/// request outstanding and one queued, and dedup entries from peers, one
/// of whom stored a value larger than the application's (remote share).
struct Populated {
    e: Boxed,
    temp: ResourceHandle,
    big: ResourceHandle,
    session: SessionHandle,
}

const BIG_APP: usize = 300;
const BIG_REMOTE: usize = 350;

fn populated() -> Populated {
    let mut e = Boxed::new(NOW, 0x5eed);
    let temp = e.add_resource(b"/temp", Some(0), Some(60), b"21.5", true).unwrap();
    e.set_methods(temp, Methods::ALL, true).unwrap();
    e.add_attribute(temp, b"rt", b"temperature-c").unwrap();
    e.add_attribute(temp, b"title", b"Temperature").unwrap();
    e.set_observable(temp, true).unwrap();
    let big = e.add_resource(b"a/big", None, None, &[7; BIG_APP], false).unwrap();
    e.set_methods(big, Methods(Methods::GET.0 | Methods::PUT.0), true).unwrap();
    e.add_attribute(big, b"if", b"core.s").unwrap();
    let empty = e.add_resource(b"empty", Some(50), None, b"", true).unwrap();
    e.set_methods(empty, Methods::GET, true).unwrap();
    let session = e.new_session(SERVER).unwrap();
    let get = Request { uri: b"sensors/x?q=1", token: b"fz", ..Request::new(Methods::GET) };
    e.send_request(session, &get, Instant(NOW)).unwrap();
    let put = Request { uri: b"act", token: b"p2", payload: b"on", ..Request::new(Methods::PUT) };
    e.send_request(session, &put, Instant(NOW)).unwrap();
    // The first goes out (outstanding, with its timers); the second waits
    // behind it (NSTART).
    let mut buf = [0; MESSAGE_MAX];
    assert!(e.poll_transmit(Instant(NOW), &mut buf).unwrap().is_some());
    assert!(e.poll_transmit(Instant(NOW), &mut buf).unwrap().is_none());
    // Dedup entries, and a peer's value beyond the application's.
    let path = |p: &'static [u8]| [(option::URI_PATH, p)];
    let get_temp = datagram(MessageType::Con, Code::GET, 1, b"a", &path(b"temp"), b"");
    let get_empty = datagram(MessageType::Non, Code::GET, 2, b"b", &path(b"empty"), b"");
    let put_big = datagram(MessageType::Con, Code::PUT, 3, b"c", &[(option::URI_PATH, b"a"), (option::URI_PATH, b"big")], &[9; BIG_REMOTE]);
    assert_eq!(exchange(&mut e, NOW, PEER_A, false, &get_temp).0.unwrap().code, Code::CONTENT);
    assert_eq!(exchange(&mut e, NOW, PEER_B, false, &get_empty).0.unwrap().code, Code::CONTENT);
    assert_eq!(exchange(&mut e, NOW, PEER_A, false, &put_big).0.unwrap().code, Code::CHANGED);
    e.collect();
    let s = e.snapshot();
    assert_eq!(s.stats.remote_bytes as usize, BIG_REMOTE - BIG_APP);
    assert_eq!(s.dedup.len(), 3);
    assert_eq!(s.requests.len(), 2);
    check_heap(&e);
    Populated { e, temp, big, session }
}

/// The operations that can ask for storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    AddEmpty,
    AddWithValue,
    Grow,
    ShrinkBeyondSlack,
    SameLengthInPlace,
    AddAttribute,
    NewSession,
    SendRequest,
    /// A peer's PUT that needs a larger value block.
    ReceivePut,
    /// A peer's GET with Observe 0: a new observer.
    ReceiveObserve,
}

/// The Message ID of the peer's PUT.
const PUT_MID: u16 = 0x7e57;

impl Op {
    const ALL: [Op; 10] = [
        Op::AddEmpty,
        Op::AddWithValue,
        Op::Grow,
        Op::ShrinkBeyondSlack,
        Op::SameLengthInPlace,
        Op::AddAttribute,
        Op::NewSession,
        Op::SendRequest,
        Op::ReceivePut,
        Op::ReceiveObserve,
    ];

    /// Runs the operation with storage supplied by the heap; a receive
    /// gives its reply.
    fn run(self, p: &mut Populated, mid: u16) -> Result<Option<Reply>, Error> {
        let e = &mut p.e;
        let r = match self {
            Op::AddEmpty => e.add_resource(b"new", None, None, b"", false).map(|_| None),
            Op::AddWithValue => e.add_resource(b"new/v", Some(0), Some(5), &[1; 100], true).map(|_| None),
            Op::Grow => e.set_resource_value(p.temp, &[2; 200]).map(|_| None),
            Op::ShrinkBeyondSlack => {
                const { assert!(10 + SHRINK_SLACK < BIG_REMOTE) };
                e.set_resource_value(p.big, &[3; 10]).map(|_| None)
            }
            Op::SameLengthInPlace => e.set_resource_value(p.temp, b"22.5").map(|_| None),
            Op::AddAttribute => e.add_attribute(p.big, b"sz", b"1234").map(|_| None),
            Op::NewSession => e.new_session(PEER_C).map(|_| None),
            Op::SendRequest => {
                let req = Request { uri: b"a/b?x=1", token: b"tk", payload: b"hello", ..Request::new(Methods::POST) };
                e.send_request(p.session, &req, Instant(NOW)).map(|_| None)
            }
            Op::ReceivePut => {
                let put = datagram(MessageType::Con, Code::PUT, mid, b"put", &[(option::URI_PATH, b"temp")], &[4; 200]);
                Ok(exchange(e, NOW, PEER_C, false, &put).0)
            }
            Op::ReceiveObserve => {
                let get = datagram(MessageType::Con, Code::GET, mid, b"ob", &[(option::URI_PATH, b"temp"), (option::OBSERVE, b"")], b"");
                Ok(exchange(e, NOW, PEER_C, false, &get).0)
            }
        };
        e.collect();
        r
    }

    /// Allocations a clean run makes (checked, so a change shows here).
    fn expected_allocations(self) -> u64 {
        match self {
            Op::AddWithValue | Op::SendRequest => 2,
            Op::SameLengthInPlace => 0,
            _ => 1,
        }
    }
}

/// (c) and (d): the engine holds exactly the blocks the heap has live, and
/// no word of the engine or of a live block points into a freed block.
fn check_heap(e: &Boxed) {
    let stats = e.storage_stats();
    assert_eq!(e.heap.live_bytes(), stats.bytes as usize, "(c) a granted block did not come back");
    assert_eq!(e.heap.live_blocks(), stats.blocks as usize, "(c)");
    let mut freed: Vec<(usize, usize)> = e.heap.freed().collect();
    freed.sort_unstable();
    let into_freed = |w: usize| {
        let i = freed.partition_point(|(a, _)| *a <= w);
        i > 0 && w < freed[i - 1].0 + freed[i - 1].1
    };
    let engine: &Engine = e;
    let engine = (engine as *const Engine).cast::<usize>();
    for i in 0..size_of::<Engine>() / WORD {
        // SAFETY: within the engine, which is word-aligned and was zeroed
        // whole before use (padding included).
        let w = unsafe { engine.add(i).read() };
        assert!(!into_freed(w), "(d) engine word {i} points into a freed block: {w:#x}");
    }
    for (a, n) in e.heap.live() {
        for i in 0..n / WORD {
            // SAFETY: a live block of `n` bytes, 16-aligned, zeroed when
            // allocated.
            let w = unsafe { (a as *const usize).add(i).read() };
            assert!(!into_freed(w), "(d) word {i} of the block at {a:#x} points into a freed block: {w:#x}");
        }
    }
}

/// Removes everything and checks that every block came back.
fn remove_everything(e: &mut Boxed) {
    while e.take_user().is_some() {}
    e.collect();
    let stats = e.storage_stats();
    assert_eq!((stats.blocks, stats.bytes, stats.remote_bytes), (0, 0, 0));
    assert_eq!(e.heap.live_blocks(), 0, "a block leaked");
    check_heap(e);
}

/// `after` equals `before` but for the dedup entry of the refused PUT.
fn unchanged_but_the_put_entry(before: &Snapshot, after: &Snapshot) {
    let mut a = after.clone();
    let entry: Vec<_> = a.dedup.iter().filter(|d| d.peer == PEER_C && d.mid == PUT_MID).copied().collect();
    assert_eq!(entry.len(), 1, "the refused PUT is deduplicated");
    assert_eq!(entry[0].code, Code::SERVICE_UNAVAILABLE.0);
    a.dedup.retain(|d| !(d.peer == PEER_C && d.mid == PUT_MID));
    assert_eq!(&a, before, "(b)");
}

#[test]
fn every_allocation_of_every_operation_can_fail() {
    for op in Op::ALL {
        // A clean run counts the allocations.
        let mut p = populated();
        let before = p.e.heap.allocations();
        let r = op.run(&mut p, PUT_MID).unwrap();
        let g = p.e.heap.allocations() - before;
        assert_eq!(g, op.expected_allocations(), "{op:?}");
        if op == Op::ReceivePut {
            assert_eq!(r.as_ref().unwrap().code, Code::CHANGED);
        }
        if op == Op::ReceiveObserve {
            assert!(r.unwrap().option(option::OBSERVE).is_some(), "registered");
            assert_eq!(p.e.snapshot().observers.len(), 1);
        }
        check_heap(&p.e);
        remove_everything(&mut p.e);

        // No allocation to refuse: the operation does not ask.
        if g == 0 {
            let mut p = populated();
            p.e.heap.fail_at = Some(p.e.heap.allocations() + 1);
            op.run(&mut p, PUT_MID).unwrap();
            assert_eq!(p.e.heap.fail_at, Some(p.e.heap.allocations() + 1), "{op:?} asked for storage");
        }

        for k in 1..=g {
            let mut p = populated();
            let before = p.e.snapshot();
            p.e.heap.fail_at = Some(p.e.heap.allocations() + k);
            let r = op.run(&mut p, PUT_MID);
            assert_eq!(p.e.heap.fail_at, None, "{op:?} k={k}: the allocation was not made");
            let after = p.e.snapshot();
            if op == Op::ReceivePut {
                // (a) 5.03 with Max-Age, to the PUT's Message ID.
                let reply = r.unwrap().unwrap();
                assert_eq!((reply.t, reply.code, reply.mid), (MessageType::Ack, Code::SERVICE_UNAVAILABLE, PUT_MID));
                let mut buf = [0; 4];
                assert_eq!(reply.option(option::MAX_AGE), Some(encode_uint(RETRY_AFTER_S, &mut buf)));
                unchanged_but_the_put_entry(&before, &after);
            } else if op == Op::ReceiveObserve {
                // (a) declined: a plain 2.05, without Observe.
                let reply = r.unwrap().unwrap();
                assert_eq!((reply.code, reply.option(option::OBSERVE)), (Code::CONTENT, None));
                let mut a = after.clone();
                a.dedup.retain(|d| !(d.peer == PEER_C && d.mid == PUT_MID));
                assert_eq!(a, before, "(b) {op:?}");
            } else if op == Op::ShrinkBeyondSlack {
                // Giving memory back never fails: refused its smaller block,
                // the value is stored in the block it has.
                assert_eq!(r, Ok(None), "{op:?} k={k}");
                let i = before.resources.iter().position(|x| x.id == p.big.raw()).unwrap();
                let (old, new) = (&before.resources[i], &after.resources[i]);
                assert_eq!((&new.value[..], new.value_at, new.value_cap), (&[3; 10][..], old.value_at, old.value_cap));
                assert_eq!(after.stats.remote_bytes, 0);
                let mut a = after.clone();
                a.resources[i] = old.clone();
                a.stats.remote_bytes = before.stats.remote_bytes;
                assert_eq!(a, before, "(b) {op:?} k={k}: only the value changed");
            } else {
                assert_eq!(r, Err(Error::NoMemory), "(a) {op:?} k={k}");
                assert_eq!(after, before, "(b) {op:?} k={k}");
            }
            check_heap(&p.e);

            // The engine still works: the same call succeeds now (a peer
            // retries with a new Message ID; the old one gets the cached
            // 5.03).
            let r = op.run(&mut p, PUT_MID + 1).unwrap();
            if op == Op::ReceivePut {
                assert_eq!(r.as_ref().unwrap().code, Code::CHANGED);
            }
            if op == Op::ReceiveObserve {
                assert!(r.unwrap().option(option::OBSERVE).is_some(), "registered after the refusal");
            }
            check_heap(&p.e);
            remove_everything(&mut p.e);
        }
    }
}

#[test]
fn removing_everything_gives_every_block_back() {
    let mut p = populated();
    // Grow and shrink through the application and a peer first.
    p.e.set_resource_value(p.big, &[1; 1000]).unwrap();
    p.e.set_resource_value(p.big, b"").unwrap();
    p.e.set_resource_value(p.temp, &[1; 64]).unwrap();
    p.e.collect();
    check_heap(&p.e);
    let s = p.e.snapshot();
    assert_eq!(s.stats.remote_bytes as usize, s.remote_bytes());
    assert_eq!(s.remote_bytes(), 0, "the application's stores reset the remote share");
    remove_everything(&mut p.e);
    assert_eq!(p.e.snapshot().resources, []);
    assert_eq!(p.e.snapshot().sessions, []);
    assert_eq!(p.e.snapshot().requests, []);
}

#[test]
fn a_remote_delete_gives_back_the_peers_share() {
    let mut p = populated();
    p.e.set_methods(p.big, Methods::DELETE, true).unwrap();
    let del = datagram(MessageType::Con, Code::DELETE, 9, b"d", &[(option::URI_PATH, b"a"), (option::URI_PATH, b"big")], b"");
    assert_eq!(exchange(&mut p.e, NOW, PEER_B, false, &del).0.unwrap().code, Code::DELETED);
    p.e.collect();
    assert_eq!(p.e.storage_stats().remote_bytes, 0);
    check_heap(&p.e);
    remove_everything(&mut p.e);
}

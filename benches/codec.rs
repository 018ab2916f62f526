//! Codec benchmark: this crate's codec against coap-lite, on the same two
//! reference messages, in one run, with heap allocations counted.
//!
//! Run with `cargo bench --bench codec` (release profile). Output: one row per
//! operation with median ns/op for both codecs, the ratio, and allocations
//! per operation (a counting global allocator wraps the system one).
//!
//! Operations:
//! - decode: bytes → a value whose options and payload have all been visited
//!   (`Message::parse` + `options()`; `Packet::from_bytes` + `options()`);
//! - encode: a prepared representation → bytes (`MessageRepr::emit` into a
//!   stack buffer; `Packet::to_bytes`).

// A benchmark program: failing loudly on a broken invariant is what we want.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use coap_lite::Packet;
use mpcoap::codec::{option, Code, Message, MessageRepr, MessageType};

/// Counts allocation calls (alloc, alloc_zeroed, realloc) made by this process.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to `System`, which upholds the
// GlobalAlloc contract; the counter has no effect on the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// CON GET, MID 0x1234, token 01020304, Uri-Path "sensors", "temp", Uri-Query "unit=c".
const REQUEST: &[u8] = b"\x44\x01\x12\x34\x01\x02\x03\x04\xb7sensors\x04temp\x46unit=c";
/// 20-byte payload of the reference response.
const PAYLOAD: &[u8] = b"21.5 degrees Celsius";
/// ACK 2.05, MID 0x1234, token 01020304, Content-Format 0, Max-Age 60, PAYLOAD.
const RESPONSE: &[u8] = b"\x64\x45\x12\x34\x01\x02\x03\x04\xc0\x21\x3c\xff21.5 degrees Celsius";

fn request_repr() -> MessageRepr<'static> {
    let mut r = MessageRepr::new(MessageType::Con, Code::GET, 0x1234);
    r.token = &[1, 2, 3, 4];
    r.push_bytes(option::URI_PATH, b"sensors").unwrap();
    r.push_bytes(option::URI_PATH, b"temp").unwrap();
    r.push_bytes(option::URI_QUERY, b"unit=c").unwrap();
    r
}

fn response_repr() -> MessageRepr<'static> {
    let mut r = MessageRepr::new(MessageType::Ack, Code::CONTENT, 0x1234);
    r.token = &[1, 2, 3, 4];
    r.payload = PAYLOAD;
    r.push_uint(option::CONTENT_FORMAT, 0).unwrap();
    r.push_uint(option::MAX_AGE, 60).unwrap();
    r
}

/// Visits everything a decoder produced, so neither side can skip work.
fn ours_decode(bytes: &[u8]) -> usize {
    match Message::parse(bytes) {
        Ok(m) => {
            let mut acc = m.token().len() + m.payload().len() + usize::from(m.mid());
            for o in m.options() {
                acc += usize::from(o.number) + o.value.len();
            }
            acc
        }
        Err(_) => 0,
    }
}

fn lite_decode(bytes: &[u8]) -> usize {
    match Packet::from_bytes(bytes) {
        Ok(p) => {
            let mut acc = p.get_token().len() + p.payload.len() + usize::from(p.header.message_id);
            for (n, values) in p.options() {
                for v in values {
                    acc += usize::from(*n) + v.len();
                }
            }
            acc
        }
        Err(_) => 0,
    }
}

fn ours_encode(repr: &MessageRepr<'_>) -> usize {
    let mut buf = [0u8; 64];
    let n = repr.emit(&mut buf).unwrap_or(0);
    black_box(&buf);
    n
}

fn lite_encode(p: &Packet) -> usize {
    p.to_bytes().map(|v| v.len()).unwrap_or(0)
}

struct Measure {
    min_ns: f64,
    median_ns: f64,
    allocs_per_op: f64,
}

/// Iterations per sample so that one sample takes about 2 ms.
fn calibrate(op: &mut impl FnMut() -> usize) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(op());
        }
        if t.elapsed().as_micros() >= 2000 {
            return iters;
        }
        iters *= 2;
    }
}

/// Times one sample of `iters` calls; returns ns/op and allocations made.
fn sample(op: &mut impl FnMut() -> usize, iters: u64) -> (f64, usize) {
    let a0 = ALLOCS.load(Relaxed);
    let t = Instant::now();
    for _ in 0..iters {
        black_box(op());
    }
    let dt = t.elapsed();
    (
        dt.as_secs_f64() * 1e9 / iters as f64,
        ALLOCS.load(Relaxed) - a0,
    )
}

/// Times both operations with their samples interleaved (A, B, A, B, ...),
/// so that load from other processes hits both alike. 201 samples each; the
/// minimum is the least disturbed estimate, the median is shown beside it.
fn compare(mut ours: impl FnMut() -> usize, mut lite: impl FnMut() -> usize) -> (Measure, Measure) {
    const SAMPLES: usize = 201;
    let (ia, ib) = (calibrate(&mut ours), calibrate(&mut lite));
    let (mut ta, mut tb) = (Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES));
    let (mut aa, mut ab) = (0usize, 0usize);
    for _ in 0..SAMPLES {
        let (t, a) = sample(&mut ours, ia);
        ta.push(t);
        aa += a;
        let (t, a) = sample(&mut lite, ib);
        tb.push(t);
        ab += a;
    }
    let stats = |mut v: Vec<f64>, allocs: usize, iters: u64| {
        v.sort_by(f64::total_cmp);
        Measure {
            min_ns: v[0],
            median_ns: v[v.len() / 2],
            allocs_per_op: allocs as f64 / (iters as f64 * SAMPLES as f64),
        }
    };
    (stats(ta, aa, ia), stats(tb, ab, ib))
}

fn main() {
    // Both codecs must agree with the reference bytes before anything is timed.
    let (req, resp) = (request_repr(), response_repr());
    let mut buf = [0u8; 64];
    for (repr, want) in [(&req, REQUEST), (&resp, RESPONSE)] {
        let n = repr.emit(&mut buf).expect("emit");
        assert_eq!(
            &buf[..n],
            want,
            "mpcoap encoding differs from the reference"
        );
    }
    assert_eq!(REQUEST.len(), 28);
    assert_eq!(RESPONSE.len(), 32);
    let lite_req = Packet::from_bytes(REQUEST).expect("coap-lite parses the request");
    let lite_resp = Packet::from_bytes(RESPONSE).expect("coap-lite parses the response");
    assert_eq!(lite_req.to_bytes().expect("encode"), REQUEST);
    assert_eq!(lite_resp.to_bytes().expect("encode"), RESPONSE);
    assert_eq!(ours_decode(REQUEST), lite_decode(REQUEST));
    assert_eq!(ours_decode(RESPONSE), lite_decode(RESPONSE));

    println!("codec benchmark: mpcoap vs coap-lite 0.13.3, ns/op (min / median of 201 interleaved samples)");
    println!(
        "{:<16} {:>17} {:>17} {:>11} {:>14} {:>16}",
        "operation", "mpcoap", "coap-lite", "ratio(min)", "mpcoap allocs", "coap-lite allocs"
    );
    let rows: [(&str, (Measure, Measure)); 4] = [
        (
            "decode request",
            compare(
                || ours_decode(black_box(REQUEST)),
                || lite_decode(black_box(REQUEST)),
            ),
        ),
        (
            "decode response",
            compare(
                || ours_decode(black_box(RESPONSE)),
                || lite_decode(black_box(RESPONSE)),
            ),
        ),
        (
            "encode request",
            compare(
                || ours_encode(black_box(&req)),
                || lite_encode(black_box(&lite_req)),
            ),
        ),
        (
            "encode response",
            compare(
                || ours_encode(black_box(&resp)),
                || lite_encode(black_box(&lite_resp)),
            ),
        ),
    ];
    let mut worst = f64::INFINITY;
    for (name, (ours, lite)) in &rows {
        let ratio = lite.min_ns / ours.min_ns;
        worst = worst.min(ratio);
        println!(
            "{:<16} {:>7.1} / {:>7.1} {:>7.1} / {:>7.1} {:>10.1}x {:>14.2} {:>16.2}",
            name,
            ours.min_ns,
            ours.median_ns,
            lite.min_ns,
            lite.median_ns,
            ratio,
            ours.allocs_per_op,
            lite.allocs_per_op
        );
        assert_eq!(ours.allocs_per_op, 0.0, "{name}: mpcoap allocated");
    }
    println!("slowest ratio: {worst:.1}x (target >= 4x)");
}

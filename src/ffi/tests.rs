//! The C ABI driven as the shim drives it: raw pointers, lengths, status
//! codes, against the real engine. `cargo test --features micropython`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::*;

struct Block(Box<MaybeUninit<Engine>>, Vec<(usize, usize)>);

const NEED: i32 = sys::MPCOAP_NEED_STORAGE;
const ALIGN: usize = 16;

impl Block {
    fn new() -> Self {
        let mut b = Block(Box::new(MaybeUninit::uninit()), Vec::new());
        // SAFETY: the block is exactly one Engine, aligned, and ours.
        assert_eq!(unsafe { mpcoap_engine_init(b.ptr(), mpcoap_engine_size(), 0, 42, 8192) }, OK);
        b
    }
    fn ptr(&mut self) -> *mut c_void {
        self.0.as_mut_ptr().cast()
    }

    /// Runs `call` as the shim does: while it asks for storage, allocate
    /// and grant (or refuse when `refuse` says so), repeat; then free what
    /// the engine gave back. Freed blocks are kept (so no address is
    /// reused) and released when the test ends.
    fn supplied(&mut self, refuse: bool, mut call: impl FnMut(*mut c_void) -> i32) -> i32 {
        let eng = self.ptr();
        let mut s = call(eng);
        while s == NEED {
            // SAFETY: a valid engine block throughout.
            unsafe {
                let n = mpcoap_storage_need(eng);
                if refuse {
                    mpcoap_storage_refuse(eng);
                } else {
                    let layout = std::alloc::Layout::from_size_align(n, ALIGN).unwrap();
                    let p = std::alloc::alloc_zeroed(layout);
                    assert_eq!(mpcoap_storage_grant(eng, p.cast(), n), OK);
                    self.1.push((p as usize, n));
                }
            }
            s = call(eng);
        }
        let mut n = 0;
        // SAFETY: a valid engine block and out pointer.
        while !unsafe { mpcoap_storage_take(eng, &mut n) }.is_null() {}
        s
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        for (p, n) in self.1.drain(..) {
            // SAFETY: allocated in `supplied` with this layout, freed once.
            unsafe { std::alloc::dealloc(p as *mut u8, std::alloc::Layout::from_size_align(n, ALIGN).unwrap()) };
        }
    }
}

const LOCAL: mpcoap_endpoint_t = mpcoap_endpoint_t { addr: [127, 0, 0, 1], port: 40000 };

fn add(b: &mut Block, uri: &[u8], media_type: i32, max_age: i64, value: &[u8]) -> Result<u32, i32> {
    let mut h = 0u32;
    // SAFETY: valid block, slices and out pointer.
    let s = b.supplied(false, |eng| unsafe {
        mpcoap_resource_add(eng, uri.as_ptr(), uri.len(), media_type, max_age, value.as_ptr(), value.len(), false, 7, &mut h)
    });
    if s == OK {
        Ok(h)
    } else {
        Err(s)
    }
}

fn find(b: &mut Block, uri: &[u8]) -> Result<u32, i32> {
    let (mut h, mut user) = (0u32, 0usize);
    // SAFETY: valid block, slice and out pointers.
    let s = unsafe { mpcoap_resource_find(b.ptr(), uri.as_ptr(), uri.len(), &mut h, &mut user) };
    if s == OK {
        assert_eq!(user, 7, "the user word comes back");
        Ok(h)
    } else {
        Err(s)
    }
}

fn value(b: &mut Block, h: u32) -> Result<Vec<u8>, i32> {
    let (mut p, mut n) = (ptr::null(), 0usize);
    // SAFETY: valid block and out pointers; the value is copied at once.
    let s = unsafe { mpcoap_resource_value(b.ptr(), h, &mut p, &mut n) };
    if s != OK {
        return Err(s);
    }
    // SAFETY: the engine returned a pointer into the block, valid until the next call.
    Ok(unsafe { core::slice::from_raw_parts(p, n) }.to_vec())
}

fn receive(b: &mut Block, from: &mpcoap_endpoint_t, data: &[u8]) -> (i32, Vec<u8>, mpcoap_event_t) {
    let mut reply = [0u8; capacity::MESSAGE_MAX];
    let mut len = usize::MAX;
    let mut ev = empty_event();
    // SAFETY: valid block, endpoint, slices and out pointers.
    let s = b.supplied(false, |eng| unsafe {
        mpcoap_engine_receive(eng, 10, from, false, data.as_ptr(), data.len(), reply.as_mut_ptr(), reply.len(), &mut len, &mut ev)
    });
    let out = if s >= 0 { reply.get(..len).unwrap_or_default().to_vec() } else { Vec::new() };
    (s, out, ev)
}

#[test]
fn init_checks_the_block() {
    let mut b = Block(Box::new(MaybeUninit::uninit()), Vec::new());
    let size = mpcoap_engine_size();
    assert!(size > 0 && mpcoap_engine_align().is_power_of_two());
    // SAFETY: each call gets either a bad block (rejected before any write)
    // or the real one.
    unsafe {
        assert_eq!(mpcoap_engine_init(ptr::null_mut(), size, 0, 1, 0), ERR_MEMORY);
        assert_eq!(mpcoap_engine_init(b.ptr(), size - 1, 0, 1, 0), ERR_MEMORY);
        if mpcoap_engine_align() > 1 {
            assert_eq!(mpcoap_engine_init(b.ptr().cast::<u8>().add(1).cast(), size - 1, 0, 1, 0), ERR_MEMORY);
        }
        assert_eq!(mpcoap_engine_init(b.ptr(), size, 0, 1, 0), OK);
        assert_eq!(mpcoap_engine_next_timeout(b.ptr(), 0), -1);
        assert_eq!(mpcoap_engine_next_timeout(ptr::null_mut(), 0), ERR_MEMORY);
        assert_eq!(mpcoap_resource_remove(ptr::null_mut(), 1), ERR_MEMORY);
        // The host tests' knob: shortens, and 0 or more restores the default.
        assert_eq!(mpcoap_engine_set_ack_timeout(ptr::null_mut(), 100), ERR_MEMORY);
        assert_eq!(mpcoap_engine_set_ack_timeout(b.ptr(), 100), 100);
        let shipped = crate::engine::params::ACK_TIMEOUT_MS as i32;
        assert_eq!(mpcoap_engine_set_ack_timeout(b.ptr(), 0), shipped);
        assert_eq!(mpcoap_engine_set_ack_timeout(b.ptr(), u32::MAX), shipped);
    }
}

#[test]
fn resources_round_trip() {
    let mut b = Block::new();
    let h = add(&mut b, b"/a/b", -1, -1, b"v1").expect("added");
    assert_eq!(find(&mut b, b"a/b"), Ok(h));
    assert_eq!(value(&mut b, h).as_deref(), Ok(&b"v1"[..]));
    // SAFETY: valid block and slice.
    assert_eq!(b.supplied(false, |eng| unsafe { mpcoap_resource_set_value(eng, h, b"two".as_ptr(), 3) }), OK);
    assert_eq!(value(&mut b, h).as_deref(), Ok(&b"two"[..]));
    // NULL with length 0 is an empty value.
    // SAFETY: null with len 0 is allowed by the header.
    assert_eq!(b.supplied(false, |eng| unsafe { mpcoap_resource_set_value(eng, h, ptr::null(), 0) }), OK);
    assert_eq!(value(&mut b, h).as_deref(), Ok(&b""[..]));
    assert_eq!(add(&mut b, b"a/b", -1, -1, b""), Err(sys::MPCOAP_ERR_EXISTS));
    // SAFETY: valid block and slices.
    unsafe {
        assert_eq!(b.supplied(false, |eng| mpcoap_resource_add_attribute(eng, h, b"rt".as_ptr(), 2, b"x".as_ptr(), 1)), OK);
        assert_eq!(mpcoap_resource_add_attribute(b.ptr(), h, b"r t".as_ptr(), 3, b"x".as_ptr(), 1), ERR_ATTRIBUTE);
        assert_eq!(mpcoap_resource_add_attribute(b.ptr(), h, ptr::null(), 2, b"x".as_ptr(), 1), ERR_ATTRIBUTE);
        assert_eq!(mpcoap_resource_set_methods(b.ptr(), h, 16, true), sys::MPCOAP_ERR_OPERATION);
        assert_eq!(mpcoap_resource_set_methods(b.ptr(), h, 15, true), OK);
        assert_eq!(mpcoap_resource_remove(b.ptr(), h), OK);
        assert_eq!(mpcoap_resource_remove(b.ptr(), h), sys::MPCOAP_ERR_STALE);
    }
    assert_eq!(value(&mut b, h), Err(sys::MPCOAP_ERR_STALE));
    assert_eq!(find(&mut b, b"a/b"), Err(ERR_NOT_FOUND));
}

#[test]
fn argument_checks_change_nothing() {
    let mut b = Block::new();
    assert_eq!(add(&mut b, b"m", -2, -1, b""), Err(ERR_MEDIA_TYPE));
    assert_eq!(add(&mut b, b"m", 65536, -1, b""), Err(ERR_MEDIA_TYPE));
    assert_eq!(add(&mut b, b"m", -1, -2, b""), Err(ERR_MAX_AGE));
    assert_eq!(add(&mut b, b"m", -1, 1 << 32, b""), Err(ERR_MAX_AGE));
    assert_eq!(add(&mut b, b"", -1, -1, b""), Err(ERR_URI));
    assert_eq!(add(&mut b, &[0xff], -1, -1, b""), Err(ERR_URI));
    let big = vec![b'x'; capacity::VALUE_MAX + 1];
    assert_eq!(add(&mut b, b"m", -1, -1, &big), Err(sys::MPCOAP_ERR_VALUE_TOO_LARGE));
    // SAFETY: each call has a null pointer where a length says there is data,
    // or a null out pointer: rejected before anything is read or written.
    unsafe {
        let mut h = 0;
        assert_eq!(mpcoap_resource_add(b.ptr(), ptr::null(), 1, -1, -1, ptr::null(), 0, false, 0, &mut h), ERR_URI);
        assert_eq!(mpcoap_resource_add(b.ptr(), b"m".as_ptr(), 1, -1, -1, ptr::null(), 1, false, 0, &mut h), ERR_BUFFER);
        assert_eq!(mpcoap_resource_add(b.ptr(), b"m".as_ptr(), 1, -1, -1, ptr::null(), 0, false, 0, ptr::null_mut()), ERR_BUFFER);
    }
    assert_eq!(find(&mut b, b"m"), Err(ERR_NOT_FOUND));
    assert!(add(&mut b, b"m", 65535, u32::MAX as i64, &[b'x'; capacity::VALUE_MAX]).is_ok());
}

#[test]
fn server_answers_a_get_directly() {
    let mut b = Block::new();
    let h = add(&mut b, b"a", 0, -1, b"hi").expect("added");
    // SAFETY: valid block.
    assert_eq!(unsafe { mpcoap_resource_set_methods(b.ptr(), h, sys::MPCOAP_REQUEST_GET, true) }, OK);
    // CON GET /a, MID 0x1234, token AB.
    let (s, reply, ev) = receive(&mut b, &LOCAL, &[0x41, 0x01, 0x12, 0x34, 0xAB, 0xB1, b'a']);
    assert_eq!(s, 0);
    assert_eq!(ev.kind, sys::MPCOAP_EVENT_NONE);
    // Piggybacked ACK 2.05, same MID and token, Content-Format 0, payload "hi".
    assert_eq!(reply, [0x61, 0x45, 0x12, 0x34, 0xAB, 0xC0, 0xFF, b'h', b'i']);
    // A remote DELETE removes the resource and says so.
    // SAFETY: valid block.
    assert_eq!(unsafe { mpcoap_resource_set_methods(b.ptr(), h, sys::MPCOAP_REQUEST_DELETE, true) }, OK);
    let (s, reply, ev) = receive(&mut b, &LOCAL, &[0x40, 0x04, 0x12, 0x35, 0xB1, b'a']);
    assert_eq!(s, 1);
    assert_eq!((ev.kind, ev.handle, ev.user), (sys::MPCOAP_EVENT_RESOURCE_DELETED, h, 7));
    assert_eq!(reply.get(..4), Some(&[0x60, 0x42, 0x12, 0x35][..]));
    assert_eq!(value(&mut b, h), Err(sys::MPCOAP_ERR_STALE));
    // A reply buffer below one message is refused without doing anything.
    let mut small = [0u8; 16];
    let (mut len, mut ev) = (0usize, empty_event());
    let d = [0x41u8, 0x01, 0x12, 0x36, 0xAB, 0xB1, b'a'];
    // SAFETY: valid pointers; the capacity passed is the real one.
    let s = unsafe {
        mpcoap_engine_receive(b.ptr(), 10, &LOCAL, false, d.as_ptr(), d.len(), small.as_mut_ptr(), small.len(), &mut len, &mut ev)
    };
    assert_eq!(s, ERR_BUFFER);
}

#[test]
fn client_request_response_and_timeout() {
    let mut b = Block::new();
    let peer = mpcoap_endpoint_t { addr: [127, 0, 0, 1], port: 5683 };
    let mut sh = 0u32;
    // SAFETY: valid block, endpoint and out pointer.
    assert_eq!(b.supplied(false, |eng| unsafe { mpcoap_session_new(eng, &peer, 9, &mut sh) }), OK);
    let mut req = mpcoap_request_t {
        method: 3,
        uri: b"x?q=1".as_ptr(),
        uri_len: 5,
        content_format: -1,
        payload: ptr::null(),
        payload_len: 0,
        token: b"\x07\x08".as_ptr(),
        token_len: 2,
        include_options: true,
        observe: false,
    };
    let mut mid = 0u16;
    // SAFETY: valid block, request (its slices live in statics) and out pointer.
    unsafe {
        assert_eq!(mpcoap_session_request(b.ptr(), sh, 0, &req, &mut mid), sys::MPCOAP_ERR_METHOD);
        req.method = sys::MPCOAP_REQUEST_GET;
        req.token_len = 9;
        req.token = b"123456789".as_ptr();
        assert_eq!(mpcoap_session_request(b.ptr(), sh, 0, &req, &mut mid), ERR_TOKEN);
        req.token = b"\x07\x08".as_ptr();
        req.token_len = 2;
        req.content_format = 70000;
        assert_eq!(mpcoap_session_request(b.ptr(), sh, 0, &req, &mut mid), ERR_MEDIA_TYPE);
        req.content_format = -1;
        assert_eq!(mpcoap_engine_next_timeout(b.ptr(), 0), -1);
        assert_eq!(b.supplied(false, |eng| mpcoap_session_request(eng, sh, 0, &req, &mut mid)), OK);
    }
    let mut buf = [0u8; capacity::MESSAGE_MAX];
    let mut dest = mpcoap_endpoint_t { addr: [0; 4], port: 0 };
    // SAFETY: valid block, buffer and out pointer.
    let n = unsafe { mpcoap_engine_poll_transmit(b.ptr(), 0, buf.as_mut_ptr(), buf.len(), &mut dest) };
    assert!(n > 0);
    assert_eq!((dest.addr, dest.port), (peer.addr, peer.port));
    let [m0, m1] = mid.to_be_bytes();
    assert_eq!(buf.get(..6), Some(&[0x42, 0x01, m0, m1, 0x07, 0x08][..]));
    // SAFETY: valid block and pointers.
    unsafe {
        assert_eq!(mpcoap_engine_poll_transmit(b.ptr(), 0, buf.as_mut_ptr(), buf.len(), &mut dest), 0);
        let t = mpcoap_engine_next_timeout(b.ptr(), 0);
        assert!((2000..=3000).contains(&t), "{t}");
    }
    // Piggybacked 2.05 "ok" from the peer.
    let (s, reply, ev) = receive(&mut b, &peer, &[0x62, 0x45, m0, m1, 0x07, 0x08, 0xFF, b'o', b'k']);
    assert_eq!(s, 1);
    assert!(reply.is_empty());
    assert_eq!((ev.kind, ev.handle, ev.user, ev.code, ev.type_, ev.mid), (sys::MPCOAP_EVENT_RESPONSE, sh, 9, 69, 2, mid));
    // SAFETY: the event's slices point into the datagram, still alive here.
    let (tok, pay) = unsafe {
        (core::slice::from_raw_parts(ev.token, ev.token_len), core::slice::from_raw_parts(ev.payload, ev.payload_len))
    };
    assert_eq!((tok, pay), (&[7u8, 8][..], &b"ok"[..]));

    // A request nobody answers gives up after MAX_RETRANSMIT with a TIMEOUT event.
    // SAFETY: valid block, request and pointers.
    unsafe {
        assert_eq!(b.supplied(false, |eng| mpcoap_session_request(eng, sh, 0, &req, &mut mid)), OK);
        let mut ev = empty_event();
        let mut now = 0u32;
        let mut sent = 0;
        for _ in 0..1000 {
            while mpcoap_engine_poll_transmit(b.ptr(), now, buf.as_mut_ptr(), buf.len(), &mut dest) > 0 {
                sent += 1;
            }
            if mpcoap_engine_poll_event(b.ptr(), now, &mut ev) == 1 {
                break;
            }
            let t = mpcoap_engine_next_timeout(b.ptr(), now);
            assert!(t >= 0);
            now += t.max(1) as u32;
        }
        assert_eq!(sent, 5);
        assert_eq!((ev.kind, ev.type_, ev.code, ev.mid), (sys::MPCOAP_EVENT_RESPONSE, sys::MPCOAP_TYPE_TIMEOUT as u8, 0, mid));
        // A cancelled request: found once, then gone, nothing left due.
        assert_eq!(b.supplied(false, |eng| mpcoap_session_request(eng, sh, now, &req, &mut mid)), OK);
        assert_eq!(mpcoap_session_cancel(b.ptr(), sh, now, false, req.token, req.token_len), 1);
        assert_eq!(mpcoap_session_cancel(b.ptr(), sh, now, false, req.token, req.token_len), 0);
        assert_eq!(mpcoap_engine_next_timeout(b.ptr(), now), -1);
        // No observation with that token.
        assert_eq!(mpcoap_session_cancel(b.ptr(), sh, now, true, req.token, req.token_len), 0);
        assert_eq!(mpcoap_session_cancel(b.ptr(), sh, now, true, core::ptr::null(), 1), sys::MPCOAP_ERR_TOKEN);
        assert_eq!(mpcoap_session_remove(b.ptr(), sh), OK);
        assert_eq!(mpcoap_session_cancel(b.ptr(), sh, now, false, req.token, req.token_len), sys::MPCOAP_ERR_STALE);
        assert_eq!(mpcoap_session_remove(b.ptr(), sh), sys::MPCOAP_ERR_STALE);
        assert_eq!(mpcoap_session_request(b.ptr(), sh, 0, &req, &mut mid), sys::MPCOAP_ERR_STALE);
    }
}

#[test]
fn value_max_matches_capacity() {
    assert_eq!(mpcoap_value_max(), capacity::VALUE_MAX);
}

#[test]
fn storage_protocol() {
    let mut b = Block::new();
    let eng = b.ptr();
    let mut h = 0u32;
    let add = |eng, h: &mut u32| unsafe {
        mpcoap_resource_add(eng, b"s".as_ptr(), 1, -1, -1, b"value".as_ptr(), 5, false, 1, h)
    };
    // SAFETY: a valid block; bad grants are rejected before use.
    unsafe {
        // Nothing asked for yet: a grant is refused, the caller keeps it.
        let mut spare = [0usize; 8];
        assert_eq!(mpcoap_storage_grant(eng, spare.as_mut_ptr().cast(), 16), ERR_MEMORY);
        assert_eq!(add(eng, &mut h), NEED);
        let n = mpcoap_storage_need(eng);
        assert!(n >= mpcoap_engine_size().min(16));
        assert_eq!(mpcoap_storage_grant(eng, ptr::null_mut(), n), ERR_MEMORY);
        assert_eq!(mpcoap_storage_grant(eng, spare.as_mut_ptr().cast::<u8>().add(1).cast(), n), ERR_MEMORY);
        assert_eq!(mpcoap_storage_grant(eng, spare.as_mut_ptr().cast(), n + 8), ERR_MEMORY);
        // Refused: the call fails with NO_MEMORY and changes nothing.
        mpcoap_storage_refuse(eng);
        assert_eq!(add(eng, &mut h), sys::MPCOAP_ERR_NO_MEMORY);
        assert_eq!(mpcoap_status_kind(sys::MPCOAP_ERR_NO_MEMORY), sys::MPCOAP_KIND_MEMORY as i32);
        let mut size = 0;
        assert!(mpcoap_storage_take(eng, &mut size).is_null());
        let mut stats = mpcoap_storage_stats_t { blocks: 9, bytes: 9, remote_bytes: 9, remote_budget: 0 };
        mpcoap_storage_stats(eng, &mut stats);
        assert_eq!((stats.blocks, stats.bytes, stats.remote_bytes, stats.remote_budget), (0, 0, 0, 8192));
    }
    assert_eq!(find(&mut b, b"s"), Err(ERR_NOT_FOUND));
    // Supplied, it works; the second block (the value) was asked for too.
    assert_eq!(b.supplied(false, |eng| add(eng, &mut h)), OK);
    assert_eq!(b.1.len(), 2);
    // A refusal after the first block was granted gives that block back.
    let mut h2 = 0u32;
    let mut calls = 0;
    let eng = b.ptr();
    // SAFETY: a valid block.
    unsafe {
        let add2 = |eng, h: &mut u32| mpcoap_resource_add(eng, b"t".as_ptr(), 1, -1, -1, b"v".as_ptr(), 1, false, 2, h);
        let mut s = add2(eng, &mut h2);
        let mut granted = Vec::new();
        while s == NEED {
            calls += 1;
            let n = mpcoap_storage_need(eng);
            if calls == 1 {
                let layout = std::alloc::Layout::from_size_align(n, ALIGN).unwrap();
                let p = std::alloc::alloc_zeroed(layout);
                assert_eq!(mpcoap_storage_grant(eng, p.cast(), n), OK);
                granted.push((p as usize, n));
            } else {
                mpcoap_storage_refuse(eng);
            }
            s = add2(eng, &mut h2);
        }
        assert_eq!(s, sys::MPCOAP_ERR_NO_MEMORY);
        let mut size = 0;
        let back = mpcoap_storage_take(eng, &mut size);
        assert_eq!((back as usize, size), granted[0]);
        assert!(mpcoap_storage_take(eng, &mut size).is_null());
        b.1.extend(granted);
    }
    assert_eq!(find(&mut b, b"t"), Err(ERR_NOT_FOUND));
    // Users: index order, then take_user empties everything.
    assert_eq!(b.supplied(false, |eng| unsafe { mpcoap_session_new(eng, &LOCAL, 3, &mut h2) }), OK);
    let eng = b.ptr();
    // SAFETY: a valid block and out pointers.
    unsafe {
        assert_eq!((mpcoap_resource_user(eng, 0), mpcoap_resource_user(eng, 1)), (1, 0));
        assert_eq!((mpcoap_session_user(eng, 0), mpcoap_session_user(eng, 1)), (3, 0));
        let other = mpcoap_endpoint_t { addr: [127, 0, 0, 1], port: 40001 };
        assert_eq!((mpcoap_session_user_to(eng, &LOCAL, 0), mpcoap_session_user_to(eng, &LOCAL, 1)), (3, 0));
        assert_eq!(mpcoap_session_user_to(eng, &other, 0), 0);
        let mut u = 0usize;
        assert_eq!((mpcoap_engine_take_user(eng, &mut u), u), (1, 1));
        assert_eq!((mpcoap_engine_take_user(eng, &mut u), u), (1, 3));
        assert_eq!(mpcoap_engine_take_user(eng, &mut u), 0);
        let mut n = 0;
        let mut freed = 0;
        while !mpcoap_storage_take(eng, &mut n).is_null() {
            freed += 1;
        }
        assert_eq!(freed, 3, "resource, its value, the session");
        let mut stats = mpcoap_storage_stats_t { blocks: 9, bytes: 9, remote_bytes: 9, remote_budget: 0 };
        mpcoap_storage_stats(eng, &mut stats);
        assert_eq!((stats.blocks, stats.bytes), (0, 0));
    }
}

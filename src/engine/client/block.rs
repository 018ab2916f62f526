//! Block-wise transfer on the client side (RFC 7959).
//!
//! Only requests that need it pay for it: their encoded-bytes block
//! becomes a transfer block, `[Xfer][prefix][0xFF][data]`, where `prefix`
//! is the request's encoding up to its options (header, token, options) and
//! `data` the payload being sent (Block1) or the representation received
//! so far (Block2). Each block's request is written from it at transmit
//! time: the prefix with the current Message ID, the Block option (after
//! every option the client writes: Block1 27 and Block2 23 come after
//! Uri-Query 15), and for Block1 the block's slice of the payload. The
//! request node itself only gains a byte (`xfer`) that fits its padding.
//!
//! - **Block1**: a payload that does not fit one message (up to
//!   [`VALUE_MAX`]) is sent in blocks of [`BLOCK_SZX`] (smaller if the
//!   options leave no room), one CON at a time with the request's token,
//!   moving on at each 2.31 Continue that echoes the block; a 2.31 with a
//!   smaller SZX sets the size of the blocks that follow (the next NUM
//!   counts the bytes already sent). Any other answer ends the transfer and
//!   is delivered as is.
//! - **Block2**: a 2.xx answer to a GET that carries Block2 with M=1 is
//!   fetched to its end (GET with the request's options and Block2 for the
//!   next NUM, in the size the server used), reassembled, and delivered
//!   once with the last block's code, type, Message ID and token. If the
//!   ETag changes between blocks, the fetch restarts from block 0 once; a
//!   second change, an inconsistent block (NUM, SZX 7, an M=1 block that
//!   is not full) or a total over [`VALUE_MAX`] gives up with the
//!   give-up event ([`TYPE_TIMEOUT`]). An error answer mid-way is
//!   delivered as is. A block already received (a late duplicate) is
//!   acknowledged and ignored.
//! - Storage for a larger buffer is asked for with the need-n-bytes
//!   protocol before anything changes; refused, the datagram is ignored as
//!   if lost (our CON is retransmitted, a CON response not acknowledged).
//!   The finished buffer is released without clearing its data, so the
//!   event's payload stays readable until the caller takes it back.

use core::mem::size_of;
use core::ptr::NonNull;

use super::observe::{self, CANCELLED, ESTABLISHED, REGISTERS};
use super::{Matched, OptionWriter, RequestNode, OBSERVING, QUEUED};
use crate::capacity::{BLOCK_SZX, MESSAGE_MAX, VALUE_MAX};
use crate::codec::option::{self, Block, BLOCK1, BLOCK2, ETAG, SIZE2};
use crate::engine::link_format::Out;
use crate::codec::{Code, Message, PAYLOAD_MARKER};
use crate::engine::store::block_size;
use crate::engine::{Engine, Error, Instant, Response, SessionHandle, TYPE_TIMEOUT};

/// `RequestNode::xfer`, bits 0-1 (`KIND`): a Block1 transfer (sending the
/// payload).
pub(super) const BLOCK1_SEND: u8 = 1;
/// `RequestNode::xfer`, bits 0-1: a Block2 transfer (fetching the
/// representation).
pub(super) const BLOCK2_FETCH: u8 = 2;
/// `RequestNode::xfer`, bits 0-1: the transfer kind (0: a plain request).
pub(super) const KIND: u8 = 3;
/// `RequestNode::xfer`, bit 2: a plain GET without payload, which keeps its
/// encoding when acknowledged (a Block2 answer continues from it, as its
/// prefix). Bits 4-7 hold the number of the request's last option (0:
/// none; at most Uri-Query, 15), after which the Block option goes.
pub(super) const MAY_FETCH: u8 = 4;

/// The header of a transfer block.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Xfer {
    /// Block1: the payload's length; Block2: the data area's capacity.
    total: u16,
    /// Block1: where the block in flight starts; Block2: bytes received.
    done: u16,
    prefix_len: u16,
    /// The size exponent of the next block.
    szx: u8,
    /// A Block2 fetch restarted once already (the ETag changed).
    restarted: u8,
    etag_len: u8,
    etag: [u8; 8],
}

/// Bytes before the prefix: the header in whole words (at least two, so
/// that a released transfer block keeps its data readable).
pub(super) const XFER: usize = block_size(size_of::<Xfer>());

/// The most a Block1 or Block2 option and the payload marker add to the
/// prefix: option header 1, extended delta 1, value 3; marker 1.
const BLOCK_OVERHEAD: usize = 6;

/// What a response does to its request.
pub(super) enum Step {
    /// Deliver it as is; the request is done.
    Deliver,
    /// The next block was queued (or a stale block ignored): nothing to
    /// report.
    Quiet,
    /// The transfer fails: the request is done with the give-up event.
    GiveUp,
    /// The whole representation (`len` bytes at the pointer) was received;
    /// the request is gone, its block released (data kept).
    Done(NonNull<u8>, usize),
}

/// The largest block size exponent whose Block1 request fits one message
/// after `prefix` bytes of header, token and options.
pub(super) fn block1_szx(prefix: usize) -> Option<u8> {
    (0..=BLOCK_SZX).rev().find(|szx| prefix + BLOCK_OVERHEAD + (16usize << szx) <= MESSAGE_MAX)
}

/// The header of transfer block `b`.
fn header<'b>(b: NonNull<u8>) -> &'b mut Xfer {
    // SAFETY: `b` is a live transfer block (a request's `bytes` with
    // `xfer != 0`, or a fresh block being made one), word-aligned, of at
    // least `XFER` bytes, owned by the engine, which is borrowed mutably
    // by every caller; all-zero is a valid `Xfer`.
    unsafe { &mut *b.as_ptr().cast::<Xfer>() }
}

/// `n` bytes of block `b` from `at`.
///
/// # Safety
/// `b` holds at least `at + n` bytes and nothing else refers to them.
unsafe fn bytes<'b>(b: NonNull<u8>, at: usize, n: usize) -> &'b mut [u8] {
    // SAFETY: the caller's promise.
    unsafe { core::slice::from_raw_parts_mut(b.as_ptr().add(at), n) }
}

/// Makes `block` a Block1 transfer block: the request's whole encoding
/// (`prefix` bytes, the marker, `total` bytes of payload) is already at
/// [`XFER`]; the blocks are of `szx`.
pub(super) fn start_block1(block: NonNull<u8>, prefix: usize, total: usize, szx: u8) {
    let x = header(block);
    x.total = total as u16;
    x.prefix_len = prefix as u16;
    x.szx = szx;
}

/// Makes observation `q`'s registration its deregistration with Message ID
/// `mid`: Observe 0 (the empty option right after the token) becomes
/// Observe 1, one byte longer. A plain encoding has the byte to spare
/// (`send_request` kept it); a transfer's prefix grows into its marker, and
/// its data area, no longer needed, shrinks by one.
pub(super) fn deregister(q: &mut RequestNode, mid: u16) {
    let Some(b) = q.bytes else { return };
    let (start, len) = if q.xfer & KIND != 0 {
        let x = header(b);
        x.total = x.total.saturating_sub(1);
        x.prefix_len += 1;
        (XFER, x.prefix_len)
    } else {
        q.bytes_len += 1;
        (0, q.bytes_len)
    };
    let at = 4 + usize::from(q.token_len);
    // SAFETY: the block holds `start + len` bytes (see above).
    let e = unsafe { bytes(b, start, usize::from(len)) };
    if let Some(tail) = e.get_mut(at..) {
        if let Some(n) = tail.len().checked_sub(2) {
            tail.copy_within(1..1 + n, 2);
        }
        if let Some(opt) = tail.get_mut(..2) {
            opt.copy_from_slice(&[0x61, 1]);
        }
    }
    if let Some(m) = e.get_mut(2..4) {
        m.copy_from_slice(&mid.to_be_bytes());
    }
}

/// The first token byte of an observation's block requests is flipped
/// with this: they are new requests (RFC 7959 §2.4), and a server may take
/// a plain GET on the observation's own token for the end of it (aiocoap
/// does).
const FETCH_FLIP: u8 = 0x80;

/// What the first token byte of `q`'s CON is flipped with: [`FETCH_FLIP`]
/// for the block requests of an observation's fetch, else 0.
pub(super) fn fetch_flip(q: &RequestNode) -> u8 {
    if q.xfer & REGISTERS != 0 && q.seq & CANCELLED == 0 && q.xfer & KIND != 0 {
        FETCH_FLIP
    } else {
        0
    }
}

/// Writes the request for the current block of transfer `q` into `buf`
/// (at least [`MESSAGE_MAX`] bytes); returns its length.
pub(super) fn write_request(q: &RequestNode, buf: &mut [u8]) -> usize {
    let Some(b) = q.bytes else { return 0 };
    let x = *header(b);
    let (prefix_len, total, done) = (usize::from(x.prefix_len), usize::from(x.total), usize::from(x.done));
    let size = 16usize << x.szx;
    // SAFETY: the block holds the header, the prefix, the marker and the
    // data area (`total` bytes).
    let (prefix, data) = unsafe { (bytes(b, XFER, prefix_len), bytes(b, XFER + prefix_len + 1, total)) };
    let (number, payload) = match q.xfer & KIND {
        BLOCK1_SEND => (BLOCK1, data.get(done..total.min(done + size)).unwrap_or(&[])),
        _ => (BLOCK2, &[][..]),
    };
    let more = q.xfer & KIND == BLOCK1_SEND && done + payload.len() < total;
    let block = Block { num: (done >> (x.szx + 4)) as u32, more, szx: x.szx };
    let mut prev = u16::from(q.xfer >> 4);
    let len = {
        let mut out = Out::new(buf);
        let at = 4 + usize::from(q.token_len);
        match (prefix.get(..at), prefix.get(at + 1..)) {
            // An observation fetching a notification's blocks: plain GETs
            // (RFC 7959 §2.4: Observe on the first request only) on the
            // fetch token, so the prefix's Observe 0, its first option, is
            // left out and the next option's delta (at most 15 - 6, never
            // extended) counts from 0.
            (Some(head), Some(rest)) if fetch_flip(q) != 0 => {
                out.put(head.get(..4).unwrap_or_default());
                if let Some((&t0, t)) = head.get(4..).and_then(<[u8]>::split_first) {
                    out.put(&[t0 ^ FETCH_FLIP]);
                    out.put(t);
                }
                if let Some((&h, tail)) = rest.split_first() {
                    let d = (h >> 4) + 6;
                    if d <= 12 {
                        out.put(&[d << 4 | h & 15]);
                    } else {
                        out.put(&[13 << 4 | h & 15, d - 13]);
                    }
                    out.put(tail);
                } else {
                    prev = 0;
                }
            }
            _ => out.put(prefix),
        }
        let mut w = OptionWriter { out: &mut out, prev };
        let mut v = [0; 4];
        let v = option::encode_uint(block.to_uint(), &mut v);
        w.header(number, v.len());
        w.out.put(v);
        if !payload.is_empty() {
            out.put(&[PAYLOAD_MARKER]);
            out.put(payload);
        }
        out.len()
    };
    if let Some(m) = buf.get_mut(2..4) {
        m.copy_from_slice(&q.mid.to_be_bytes());
    }
    len.min(buf.len())
}

impl Engine {
    /// Response `msg` answers request `at` (matched by the caller). See the
    /// module docs; [`Error::NeedStorage`] before anything changed.
    /// `at` is a live node of the request list, found with `find_mut` by
    /// the caller, which changed nothing since.
    pub(super) fn on_response<'m>(&mut self, now: Instant, at: *mut RequestNode, msg: &Message<'m>) -> Result<Matched<'m>, Error> {
        // SAFETY: `at` is a live node (see above), read before anything
        // changes the list.
        let p = unsafe { &*at };
        let (session, our_mid) = (p.session, p.mid);
        let seq = match observe::step(p, now, msg) {
            Ok(seq) => seq,
            Err(m) => return Ok(m),
        };
        if seq & CANCELLED != 0 {
            // The answer to a deregistration: it ends silently.
            self.take_node(at);
            return Ok(Matched::Quiet);
        }
        let observing = seq & ESTABLISHED != 0;
        // A block request of an observation's fetch: the event carries the
        // observation's token, not the fetch token of the last block.
        let flip = fetch_flip(p);
        if flip != 0 {
            self.set_event_token(p.token());
        }
        let step = match self.block_step(now, at, msg, observing) {
            Err(Error::NoMemory) => return Ok(Matched::Ignore),
            r => r?,
        };
        // SAFETY: `at` is still linked (only the steps below unlink it).
        unsafe { (*at).seq = seq };
        let (code, message_type, mid, payload) = match step {
            Step::Quiet => return Ok(Matched::Quiet),
            Step::Deliver => (msg.code().0, msg.mtype().bits(), msg.mid(), msg.payload()),
            Step::GiveUp => (0, TYPE_TIMEOUT, our_mid, &[][..]),
            // SAFETY: `len` bytes of a block released without clearing its
            // data: readable until the caller takes it back with
            // `storage_take`, which it cannot do while the event (which
            // borrows the engine in `receive`) lives.
            Step::Done(data, len) => {
                (msg.code().0, msg.mtype().bits(), msg.mid(), unsafe { core::slice::from_raw_parts(data.as_ptr(), len) })
            }
        };
        if observing && code / 32 == 2 && matches!(step, Step::Deliver | Step::Done(..)) {
            // SAFETY: as above.
            let q = unsafe { &mut *at };
            q.state = OBSERVING;
            q.deadline = now.0;
        } else {
            // The request is done (a finished fetch no longer holds its
            // block).
            self.take_node(at);
        }
        let session = SessionHandle::from_raw(session);
        let r = Response { session, code, message_type, mid, token: msg.token(), payload };
        Ok(if flip != 0 { Matched::Fetched(r) } else { Matched::Event(r) })
    }

    /// Queues the next block of transfer `at` (a fresh Message ID, the
    /// retransmission state reset) after `f` updated its header.
    fn next_block(&mut self, now: Instant, at: *mut RequestNode, f: impl FnOnce(&mut Xfer)) -> Step {
        let mid = self.take_mid();
        // SAFETY: `at` is a live node of the list (`on_response`), still
        // linked, reached through `&mut self`.
        let q = unsafe { &mut *at };
        if let Some(b) = q.bytes {
            f(header(b));
        }
        q.mid = mid;
        q.state = QUEUED;
        q.retransmits = 0;
        q.deadline = now.0;
        Step::Quiet
    }

    /// `observing`: the request is an observation, which keeps its
    /// transfer block when a fetch ends (`client/observe.rs`).
    fn block_step(&mut self, now: Instant, at: *mut RequestNode, msg: &Message<'_>, observing: bool) -> Result<Step, Error> {
        // SAFETY: `at` is a live node (`on_response`); what is read here is
        // copied before anything changes it.
        let (flags, held, enc) = unsafe { ((*at).xfer, (*at).bytes, (*at).encoded()) };
        let xfer_kind = flags & KIND;
        let code = msg.code();
        // One pass over the options (Block1, Block2, the first ETag, Size2).
        let (mut block1, mut block2, mut etag, mut size2) = (None, None, None, 0);
        for o in msg.options() {
            match o.number {
                BLOCK1 => block1 = Some(Block::from_uint(o.uint())),
                BLOCK2 => block2 = Some(Block::from_uint(o.uint())),
                ETAG if etag.is_none() => etag = Some(o.value),
                SIZE2 => size2 = o.uint() as usize,
                _ => {}
            }
        }
        let xfer = held.filter(|_| xfer_kind != 0).map(|b| *header(b));
        if xfer_kind == BLOCK1_SEND {
            let Some(x) = xfer else { return Ok(Step::Deliver) };
            if code != Code::CONTINUE {
                return Ok(Step::Deliver);
            }
            let size = 16usize << x.szx;
            let (done, next) = (usize::from(x.done), usize::from(x.done) + size);
            return Ok(match block1 {
                Some(r) if r.num as usize == done >> (x.szx + 4) && r.szx <= x.szx && next < usize::from(x.total) => {
                    self.next_block(now, at, |x| {
                        x.done = next as u16;
                        x.szx = r.szx;
                    })
                }
                _ => Step::GiveUp,
            });
        }
        if code.class() != 2 {
            return Ok(Step::Deliver);
        }
        let Some(b2) = block2 else {
            // Mid-way, a response without Block2 fails the fetch; before
            // block 0 (restarted, or an observation's next notification)
            // it is the whole representation.
            return Ok(match xfer {
                Some(x) if x.done > 0 => Step::GiveUp,
                _ => Step::Deliver,
            });
        };
        let x = match xfer {
            Some(x) => x,
            None if b2.num == 0 && !b2.more => return Ok(Step::Deliver),
            None => {
                // The first block: only a GET is continued, from the
                // encoding it kept.
                if flags & MAY_FETCH == 0 || enc.len() + BLOCK_OVERHEAD > MESSAGE_MAX {
                    return Ok(Step::Deliver);
                }
                Xfer {
                    total: 0,
                    done: 0,
                    prefix_len: enc.len() as u16,
                    szx: b2.szx,
                    restarted: 0,
                    etag_len: 0,
                    etag: [0; 8],
                }
            }
        };
        let payload = msg.payload();
        let done = usize::from(x.done);
        let etag = etag.unwrap_or(&[]);
        let etag = etag.get(..8).unwrap_or(etag);
        let size = b2.size();
        let offset = b2.num as usize * size;
        if done > 0 && offset < done {
            // A block we have (a late duplicate): nothing to do.
            return Ok(Step::Quiet);
        }
        if done > 0 && etag != x.etag.get(..usize::from(x.etag_len)).unwrap_or(&[]) {
            if x.restarted != 0 {
                return Ok(Step::GiveUp);
            }
            return Ok(self.next_block(now, at, |x| {
                x.done = 0;
                x.restarted = 1;
            }));
        }
        let end = done + payload.len();
        if b2.szx > BLOCK_SZX || offset != done || payload.len() > size || (b2.more && payload.len() != size) || end > VALUE_MAX {
            return Ok(Step::GiveUp);
        }
        // Storage: a transfer block when the data area is too small (at
        // least doubled, or the announced Size2; exactly the total at the
        // last block).
        let cap = usize::from(x.total);
        let data_at = XFER + usize::from(x.prefix_len) + 1;
        let grow = if end <= cap {
            0
        } else if !b2.more {
            end
        } else {
            (end + size).max(2 * cap).max(size2).min(VALUE_MAX)
        };
        let mut reserved = self.store.reserve(&[if grow > 0 { data_at + grow } else { 0 }])?;
        // Commit: nothing below fails.
        // SAFETY: as in `next_block`.
        let q = unsafe { &mut *at };
        let mut old = None;
        if let Some((nb, nsize)) = reserved.take(0) {
            if let Some(ob) = q.bytes {
                // SAFETY: distinct blocks; the old one holds the header,
                // prefix, marker and `done` bytes of data (a transfer
                // block), or the request's encoding, whose first
                // `prefix_len` bytes go after the new header; the new one
                // holds `data_at + grow > data_at + done` bytes.
                unsafe {
                    if q.xfer & KIND == 0 {
                        core::ptr::copy_nonoverlapping(ob.as_ptr(), nb.as_ptr().add(XFER), usize::from(x.prefix_len));
                        *header(nb) = x;
                    } else {
                        core::ptr::copy_nonoverlapping(ob.as_ptr(), nb.as_ptr(), data_at + done);
                    }
                }
                old = Some((ob, usize::from(q.bytes_cap)));
            }
            header(nb).total = grow as u16;
            q.bytes = Some(nb);
            q.bytes_cap = nsize as u16;
            q.bytes_len = 0;
            q.xfer = q.xfer & !KIND | BLOCK2_FETCH;
        }
        let Some(b) = q.bytes else { return Ok(Step::GiveUp) };
        // SAFETY: the data area holds `total >= end` bytes (a larger block
        // was planned when it did not); `payload` is the datagram's.
        unsafe { bytes(b, data_at + done, payload.len()) }.copy_from_slice(payload);
        let h = header(b);
        h.done = end as u16;
        h.szx = b2.szx;
        if done == 0 {
            h.etag_len = etag.len() as u8;
            if let Some(dst) = h.etag.get_mut(..etag.len()) {
                dst.copy_from_slice(etag);
            }
        }
        let cap = usize::from(q.bytes_cap);
        if let Some((ob, osize)) = old {
            self.store.release(ob, osize);
        }
        if b2.more {
            return Ok(self.next_block(now, at, |_| {}));
        }
        // The last block: its block is released with its data kept for the
        // event, and the caller takes the request; an observation keeps it
        // for its next notification.
        if observing {
            h.done = 0;
            h.restarted = 0;
        } else {
            q.bytes = None;
            self.store.release_keep(b, cap);
        }
        // SAFETY: the data area starts at `data_at` within the block.
        Ok(Step::Done(unsafe { NonNull::new_unchecked(b.as_ptr().add(data_at)) }, end))
    }
}

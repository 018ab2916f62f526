//! Block-wise transfer on the server side (RFC 7959).
//!
//! - **Block2** (answers larger than one message): stateless. A GET whose
//!   representation (a value, or `/.well-known/core`) does not fit one
//!   message, or that asks for a block, is answered with the block the
//!   request names, in the size the request names (early and late
//!   negotiation are the same rule: block NUM of SZX starts at byte
//!   `NUM << (SZX + 4)`), and [`BLOCK_SZX`] when it names none. Every Block2
//!   answer carries an ETag (the resource's counter, kept even when its
//!   ETags are off; the discovery document's version), so a client notices
//!   a representation that changed between blocks.
//! - **Block1** (PUT/POST payloads larger than one message): a
//!   [`TransferNode`] per transfer in progress, keyed by peer, resource and
//!   method, at the start of a block of its own that holds the bytes
//!   received so far after it (grown by at least doubling). Each block must
//!   start where the last one ended (4.08 otherwise). The last one is
//!   stored as a PUT/POST of the whole would be: the received bytes and its
//!   payload copied into a value block of their size, in the one step that
//!   changes the value, so the value changes once, atomically, and a
//!   failed or abandoned transfer changes nothing. At most
//!   [`TRANSFERS_MAX`] transfers, whose blocks count against the remote
//!   budget, each dropped [`TRANSFER_LIFETIME_MS`] after its last block.

use core::ptr::NonNull;

use super::options::RequestOptions;
use super::resources::ResourceNode;
use super::server::{Answer, Body};
use super::store::{block_size, unlinked, Link, List, Node};
use super::{Endpoint, Engine, Error, Instant};
use crate::capacity::{BLOCK_SZX, SHRINK_SLACK, TRANSFERS_MAX, TRANSFER_LIFETIME_MS};
use crate::codec::option::Block;
use crate::codec::{Code, Message};

/// The Block2 of an answer whose representation is `total` bytes: `None`
/// when it goes whole (the request asked for no block and it `fits` one
/// message); else the block the request asked for, or block 0 of
/// [`BLOCK_SZX`]. 4.00 for the reserved SZX 7 (RFC 7959 §2.2), 4.02 for a
/// block that starts past the end.
pub(crate) fn block2_of(asked: Option<Block>, total: usize, fits: bool) -> Result<Option<Block>, Code> {
    let b = match asked {
        None if fits => return Ok(None),
        None => Block { num: 0, more: false, szx: BLOCK_SZX },
        Some(b) if b.szx > BLOCK_SZX => return Err(Code::BAD_REQUEST),
        Some(b) => b,
    };
    // NUM < 2^20 and a size of at most 1024: below 2^30.
    let offset = b.num as usize * b.size();
    if offset >= total && offset > 0 {
        return Err(Code::BAD_OPTION);
    }
    Ok(Some(Block { num: b.num, more: offset + b.size() < total, szx: b.szx }))
}

/// The byte range of `total` that block `b` covers.
pub(crate) fn window(b: Block, total: usize) -> (usize, usize) {
    let start = (b.num as usize * b.size()).min(total);
    (start, (start + b.size()).min(total))
}

/// Who writes a Block1 transfer: peer, resource and method. A second
/// transfer to one resource from another peer (or with another method) is
/// another transfer.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    resource: u32,
    addr: [u8; 4],
    port: u16,
    method: u8,
}

/// A Block1 transfer in progress, at the start of a block of its own; the
/// `len` bytes received so far follow it, [`HEADER`] bytes in.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TransferNode {
    next: Link,
    /// Size of the block (this node and the bytes after it).
    size: u32,
    len: u32,
    /// When its last block arrived (ms).
    last: u32,
    key: Key,
}

// SAFETY: `#[repr(C)]` with `next` first; all-zero is a valid node (no
// link, zero integers).
unsafe impl Node for TransferNode {}

/// Where the received bytes start in a transfer's block (a whole number
/// of words: `size_of` of a `repr(C)` struct with a pointer).
const HEADER: usize = core::mem::size_of::<TransferNode>();

impl TransferNode {
    fn expired(&self, now: Instant) -> bool {
        now.ms_since(Instant(self.last)) >= TRANSFER_LIFETIME_MS
    }

    /// A copy of its state (see `snapshot.rs`).
    #[cfg(any(test, feature = "std"))]
    pub(crate) fn state(&self) -> super::snapshot::TransferState {
        // SAFETY: a node of the list sits at the start of its block, whose
        // `size >= HEADER + len` bytes hold the received ones after it.
        let received = unsafe { core::slice::from_raw_parts((self as *const Self).cast::<u8>().add(HEADER), self.len as usize) };
        super::snapshot::TransferState {
            peer: Endpoint { addr: self.key.addr, port: self.key.port },
            resource: self.key.resource,
            method: self.key.method,
            received: received.to_vec(),
            cap: self.size,
            last: self.last,
        }
    }
}

/// Which transfers [`Engine::drop_transfers`] drops.
#[derive(Clone, Copy)]
pub(crate) enum Which {
    /// The one of this peer, resource and method.
    Of(Key),
    /// Every transfer to this resource (it is being removed).
    Resource(u32),
    /// Those that received no block for [`TRANSFER_LIFETIME_MS`].
    Expired(Instant),
    /// The one in this block.
    Block(NonNull<u8>),
}

/// The transfers in progress (all-zero: none).
pub(crate) struct Transfers {
    list: List<TransferNode>,
}

impl Transfers {
    /// Bytes of the blocks of every transfer.
    fn bytes(&self) -> usize {
        self.list.iter().map(|t| t.size as usize).sum()
    }

    /// When the next transfer expires (ms from `now`), if any.
    pub(crate) fn next_expiry(&self, now: Instant) -> Option<u32> {
        self.list
            .iter()
            .map(|t| now.ms_until(Instant(t.last).add_ms(TRANSFER_LIFETIME_MS)).max(0) as u32)
            .min()
    }

    #[cfg(any(test, feature = "std"))]
    pub(crate) fn states(&self) -> std::vec::Vec<super::snapshot::TransferState> {
        self.list.iter().map(TransferNode::state).collect()
    }
}

impl Engine {
    /// Unlinks the first transfer `which` names: its block and the block's
    /// size. One copy for every caller.
    #[inline(never)]
    pub(crate) fn take_transfer(&mut self, which: Which) -> Option<(NonNull<u8>, usize)> {
        let p = self.transfers.list.unlink(|t| match which {
            Which::Of(k) => t.key == k,
            Which::Resource(id) => t.key.resource == id,
            Which::Expired(now) => t.expired(now),
            Which::Block(b) => core::ptr::eq((t as *const TransferNode).cast::<u8>(), b.as_ptr()),
        })?;
        let t: TransferNode = unlinked(p);
        Some((p, t.size as usize))
    }

    /// Unlinks the transfer in block `b` if the block holds `len` bytes:
    /// the spare of `store_value`.
    pub(crate) fn take_spare(&mut self, b: NonNull<u8>, len: usize) -> Option<(NonNull<u8>, usize)> {
        let size = spare_size(b);
        if len > size {
            return None;
        }
        self.take_transfer(Which::Block(b))
    }

    /// Drops the transfers `which` names, giving their blocks back.
    pub(crate) fn drop_transfers(&mut self, which: Which) {
        while let Some((p, size)) = self.take_transfer(which) {
            self.store.release(p, size);
        }
    }

    /// Drops the transfers that received nothing for
    /// [`TRANSFER_LIFETIME_MS`].
    pub(crate) fn expire_transfers(&mut self, now: Instant) {
        if self.transfers.list.first().is_some() {
            self.drop_transfers(Which::Expired(now));
        }
    }

    /// A PUT or POST with Block1 `b` to resource `r`, whose method and
    /// Content-Format the caller has checked. See the module docs.
    /// [`Error::NeedStorage`] when the transfer needs a larger block, or
    /// its last block a value block; refused, the answer is 5.03 and the
    /// transfer is as it was. Expired transfers are dropped first (what
    /// the timer does anyway), so they count as gone.
    pub(crate) fn put_block(
        &mut self,
        msg: &Message<'_>,
        opts: &RequestOptions<'_>,
        b: Block,
        r: &ResourceNode,
        from: Endpoint,
        now: Instant,
    ) -> Result<Answer, Error> {
        let payload = msg.payload();
        // RFC 7959 §2.2/§2.3: SZX 7 is reserved; a block with M set is
        // exactly the block size, the last one at most that.
        if b.szx > BLOCK_SZX || payload.len() > b.size() || (b.more && payload.len() != b.size()) {
            return Ok(Answer::plain(Code::BAD_REQUEST));
        }
        self.expire_transfers(now);
        let key = Key { resource: r.handle().raw(), addr: from.addr, port: from.port, method: msg.code().0 };
        let found = self.transfers.list.find_block(|t| t.key == key);
        // SAFETY: `found` is a live node of the list; read before anything
        // changes the list.
        let (have, size) = found.map_or((0, 0), |p| unsafe {
            let t = &*p.as_ptr().cast::<TransferNode>();
            (t.len as usize, t.size as usize)
        });
        let offset = b.num as usize * b.size();
        let end = offset + payload.len();
        let room = self.remote_room_but(r, self.transfers.bytes() - size);
        let size1 = if b.num == 0 { opts.size1.map_or(0, |s| s as usize) } else { 0 };
        if end > room || size1 > room {
            self.drop_transfers(Which::Of(key));
            return Ok(Answer::too_large(room));
        }
        if b.num != 0 {
            // A block of a transfer we do not have (never started, expired,
            // or dropped), one that skips ahead, or one that overlaps the
            // end of what we have: 4.08. A retransmission of a block we
            // have (its dedup entry gone): answered again, not applied again.
            let continues = offset == have || (offset < have && end <= have && b.more);
            if found.is_none() || !continues {
                return Ok(Answer::plain(Code::REQUEST_ENTITY_INCOMPLETE));
            }
            if offset < have {
                return Ok(continue_answer(b));
            }
        }
        if !b.more {
            // The last block, or the only one: the value is the bytes
            // received before it and its payload, stored as a PUT/POST of
            // the whole (preconditions, a value block of its size; when the
            // heap has none, the transfer's own block, see `store_value`).
            // SAFETY: the block holds `have >= offset` received bytes after
            // the node (`offset` is 0, or `have`); the store moves them or
            // copies them before anything else writes to the block.
            let head = found.map_or(&[][..], |p| unsafe { core::slice::from_raw_parts(p.as_ptr().add(HEADER), offset) });
            let mut a = self.put_or_post(msg, head, opts.if_none_match, opts.has_if_match, r, found)?;
            // Refused (5.03), the transfer waits for this block again.
            if a.code != Code::SERVICE_UNAVAILABLE {
                self.drop_transfers(Which::Of(key));
            }
            if a.code.class() == 2 {
                a.block1 = Some(b.to_uint());
            }
            return Ok(a);
        }
        if found.is_none() && self.transfers.list.iter().count() >= TRANSFERS_MAX {
            return Ok(Answer::retry_later());
        }
        // Storage: a larger block when this one does not fit (at least
        // doubling, or the announced Size1, within the room left).
        let cap = size.saturating_sub(HEADER);
        let mut grown = None;
        if end > cap {
            let want = end.max(size1).max(2 * cap).max(4 * b.size()).min(room);
            match self.store.reserve(&[block_size(HEADER + want)]) {
                Ok(mut reserved) => grown = reserved.take(0),
                Err(Error::NeedStorage) => return Err(Error::NeedStorage),
                Err(_) => return Ok(Answer::retry_later()),
            }
        }
        // Commit: nothing below fails.
        let block = match (grown, found) {
            (Some((block, size)), old) => {
                if let Some(old) = old {
                    // The node and the bytes before this block move to the
                    // new block (a restart keeps none of them).
                    // SAFETY: two live, distinct blocks; `old` holds
                    // `HEADER + have` bytes, `block` at least `HEADER + end`.
                    unsafe { core::ptr::copy_nonoverlapping(old.as_ptr(), block.as_ptr(), HEADER + have.min(offset)) };
                    self.drop_transfers(Which::Of(key));
                }
                self.transfers.list.append(block, |t| {
                    t.key = key;
                    t.size = size as u32;
                    t.len = t.len.min(offset as u32);
                });
                block
            }
            (None, Some(p)) => p,
            // Never happens: a new transfer has no room (`end` > 0).
            (None, None) => return Ok(Answer::plain(Code::INTERNAL_SERVER_ERROR)),
        };
        // SAFETY: `block` holds the node and `size - HEADER >= end` bytes
        // after it; `payload` is the datagram's, another buffer. What a
        // restarted, shorter transfer leaves after `end` is cleared (the GC
        // scans the block).
        unsafe {
            let t = block.as_ptr().cast::<TransferNode>();
            let data = block.as_ptr().add(HEADER);
            core::ptr::copy_nonoverlapping(payload.as_ptr(), data.add(offset), payload.len());
            let len = (*t).len as usize;
            if end < len {
                data.add(end).write_bytes(0, len - end);
            }
            (*t).len = end as u32;
            (*t).last = now.0;
        }
        Ok(continue_answer(b))
    }
}

/// The size of the block of the transfer in block `b` (`store_value`'s
/// spare).
fn spare_size(b: NonNull<u8>) -> usize {
    // SAFETY: `b` is the block of a live transfer (its caller found it).
    unsafe { (*b.as_ptr().cast::<TransferNode>()).size as usize }
}

/// Whether the transfer in block `b` holds a value of `len` bytes with at
/// most [`SHRINK_SLACK`] to spare once its node is set aside (a Size1
/// announced the value's size): `store_value` then makes it the value
/// without asking for a block of the value's size.
pub(crate) fn snug(b: NonNull<u8>, len: usize) -> bool {
    let size = spare_size(b);
    len <= size && size < block_size(len) + HEADER + SHRINK_SLACK
}

/// 2.31 Continue for block `b` (RFC 7959 §2.3: the server echoes the block
/// it received; it could ask for a smaller size here, ours takes any).
fn continue_answer(b: Block) -> Answer {
    let mut a = Answer::new(Code::CONTINUE, Body::Empty);
    a.block1 = Some(Block { num: b.num, more: true, szx: b.szx }.to_uint());
    a
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::capacity::{RETRY_AFTER_S, SINGLE_VALUE_MAX, VALUE_MAX};
    use crate::codec::option::{decode_uint, BLOCK1, BLOCK2, ETAG, SIZE1, SIZE2, URI_PATH};
    use crate::codec::MessageType::{self, Ack, Con};
    use crate::engine::testutil::*;
    use crate::engine::{Methods, ResourceHandle};

    fn server(value: &[u8], etag: bool) -> (Boxed, ResourceHandle) {
        let mut e = Boxed::new(0, 7);
        let h = e.add_resource(b"big", None, None, value, etag).unwrap();
        e.set_methods(h, Methods::ALL, true).unwrap();
        (e, h)
    }

    /// A value whose every 16-byte block differs from every other.
    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i / 16 % 251) as u8 ^ (i % 16) as u8).collect()
    }

    fn block_opt(b: Block) -> Vec<u8> {
        let v = b.to_uint();
        v.to_be_bytes()[4 - crate::codec::option::uint_len(v)..].to_vec()
    }

    fn block_of(r: &Reply, n: u16) -> Option<Block> {
        r.option(n).map(|v| Block::from_uint(decode_uint(v)))
    }

    #[allow(clippy::too_many_arguments)]
    fn ask(e: &mut Boxed, now: u32, from: Endpoint, t: MessageType, code: Code, mid: u16, opts: &[(u16, &[u8])], payload: &[u8]) -> Reply {
        let mut all: Vec<(u16, &[u8])> = vec![(URI_PATH, b"big")];
        all.extend_from_slice(opts);
        all.sort_by_key(|o| o.0);
        let d = datagram(t, code, mid, b"tk", &all, payload);
        exchange(e, now, from, false, &d).0.expect("a reply")
    }

    /// Fetches the whole value in blocks of `szx`, as a client does.
    fn fetch(e: &mut Boxed, szx: u8, mid: &mut u16) -> (Vec<u8>, Vec<Vec<u8>>) {
        let (mut body, mut etags, mut num) = (Vec::new(), Vec::new(), 0);
        loop {
            *mid += 1;
            let b = block_opt(Block { num, more: false, szx });
            let r = ask(e, 0, PEER, Con, Code::GET, *mid, &[(BLOCK2, &b)], b"");
            assert_eq!((r.t, r.code), (Ack, Code::CONTENT));
            let got = block_of(&r, BLOCK2).unwrap();
            assert_eq!((got.num, got.szx), (num, szx));
            assert!(r.payload.len() == got.size() || !got.more);
            etags.push(r.option(ETAG).expect("every block has an ETag").to_vec());
            body.extend_from_slice(&r.payload);
            if !got.more {
                return (body, etags);
            }
            num += 1;
        }
    }

    #[test]
    fn block2_serves_a_large_value_in_every_size() {
        let value = pattern(10_000);
        let (mut e, _) = server(&value, false);
        // No Block2 asked: block 0 of 1024 bytes, M set, an ETag although
        // the resource's ETags are off.
        let r = ask(&mut e, 0, PEER, Con, Code::GET, 1, &[], b"");
        assert_eq!(block_of(&r, BLOCK2), Some(Block { num: 0, more: true, szx: BLOCK_SZX }));
        assert_eq!(r.payload, value[..1024]);
        assert!(r.option(ETAG).is_some());
        let mut mid = 10;
        for szx in [0, 2, 4, 6] {
            let (body, etags) = fetch(&mut e, szx, &mut mid);
            assert_eq!(body, value, "szx {szx}");
            assert!(etags.windows(2).all(|w| w[0] == w[1]));
        }
        // Late negotiation: after a first block of 1024, block 16 of 64
        // bytes is the bytes 1024..1088.
        let b = block_opt(Block { num: 16, more: false, szx: 2 });
        let r = ask(&mut e, 0, PEER, Con, Code::GET, 99, &[(BLOCK2, &b)], b"");
        assert_eq!((block_of(&r, BLOCK2), &r.payload[..]), (Some(Block { num: 16, more: true, szx: 2 }), &value[1024..1088]));
        // Size2 when asked, the last block short, past the end 4.02.
        let b = block_opt(Block { num: 9, more: false, szx: 6 });
        let r = ask(&mut e, 0, PEER, Con, Code::GET, 100, &[(BLOCK2, &b), (SIZE2, &[])], b"");
        assert_eq!((r.option(SIZE2).map(decode_uint), r.payload.len()), (Some(10_000), 10_000 - 9 * 1024));
        assert_eq!(block_of(&r, BLOCK2).map(|b| b.more), Some(false));
        let b = block_opt(Block { num: 10, more: false, szx: 6 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::GET, 101, &[(BLOCK2, &b)], b"").code, Code::BAD_OPTION);
    }

    #[test]
    fn block2_etag_changes_with_the_value() {
        let (mut e, h) = server(&pattern(3000), true);
        let r = ask(&mut e, 0, PEER, Con, Code::GET, 1, &[], b"");
        let first = r.option(ETAG).unwrap().to_vec();
        e.set_resource_value(h, &pattern(2999)).unwrap();
        let b = block_opt(Block { num: 1, more: false, szx: 6 });
        let r = ask(&mut e, 0, PEER, Con, Code::GET, 2, &[(BLOCK2, &b)], b"");
        assert_ne!(r.option(ETAG).unwrap(), &first[..]);
        // Up to SINGLE_VALUE_MAX goes whole, without Block2.
        e.set_resource_value(h, &pattern(SINGLE_VALUE_MAX)).unwrap();
        let r = ask(&mut e, 0, PEER, Con, Code::GET, 3, &[], b"");
        assert_eq!((r.payload.len(), r.option(BLOCK2)), (SINGLE_VALUE_MAX, None));
    }

    /// PUTs `value` in blocks of `szx` from `from`, checking each answer.
    fn put(e: &mut Boxed, from: Endpoint, value: &[u8], szx: u8, mid: &mut u16) -> Reply {
        let size = 16usize << szx;
        let n = value.len().div_ceil(size);
        for num in 0..n {
            *mid += 1;
            let more = num + 1 < n;
            let b = block_opt(Block { num: num as u32, more, szx });
            let chunk = &value[num * size..((num + 1) * size).min(value.len())];
            let r = ask(e, 0, from, Con, Code::PUT, *mid, &[(BLOCK1, &b)], chunk);
            if !more {
                return r;
            }
            assert_eq!((r.code, block_of(&r, BLOCK1)), (Code::CONTINUE, Some(Block { num: num as u32, more: true, szx })));
        }
        unreachable!()
    }

    fn check_heap(e: &Boxed) {
        let stats = e.storage_stats();
        assert_eq!(e.heap.live_blocks(), stats.blocks as usize);
    }

    #[test]
    fn block1_reassembles_and_applies_once_at_the_end() {
        let value = pattern(10_000);
        let (mut e, h) = server(b"old", true);
        e.set_remote_budget(VALUE_MAX as u32);
        let etag = e.snapshot().resources[0].etag;
        let mut mid = 0;
        // Until the last block, the value is the old one.
        let b = block_opt(Block { num: 0, more: true, szx: 2 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 500, &[(BLOCK1, &b)], &value[..64]).code, Code::CONTINUE);
        assert_eq!(e.resource_value(h).unwrap(), b"old");
        for szx in [2, 0, 6] {
            let r = put(&mut e, PEER, &value, szx, &mut mid);
            let n = value.len().div_ceil(16 << szx) as u32 - 1;
            assert_eq!((r.code, block_of(&r, BLOCK1)), (Code::CHANGED, Some(Block { num: n, more: false, szx })));
            assert_eq!(e.resource_value(h).unwrap(), &value[..]);
            assert!(e.snapshot().transfers.is_empty());
        }
        // Three stores, three ETags.
        assert_eq!(e.snapshot().resources[0].etag, etag + 3);
        e.collect();
        check_heap(&e);
        // The value's block is its size, not the transfer's buffer.
        assert!((e.snapshot().resources[0].value_cap as usize) < value.len() + 64);
    }

    #[test]
    fn block1_rejects_gaps_and_totals_over_the_limits() {
        let value = pattern(4000);
        let (mut e, h) = server(b"old", false);
        // NUM > 0 with no transfer: 4.08.
        let b = block_opt(Block { num: 3, more: true, szx: 2 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 1, &[(BLOCK1, &b)], &value[..64]).code, Code::REQUEST_ENTITY_INCOMPLETE);
        // A gap: 4.08, the transfer kept; the missing block continues it.
        let b0 = block_opt(Block { num: 0, more: true, szx: 2 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 2, &[(BLOCK1, &b0)], &value[..64]).code, Code::CONTINUE);
        let b2 = block_opt(Block { num: 2, more: true, szx: 2 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 3, &[(BLOCK1, &b2)], &value[128..192]).code, Code::REQUEST_ENTITY_INCOMPLETE);
        let b1 = block_opt(Block { num: 1, more: true, szx: 2 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 4, &[(BLOCK1, &b1)], &value[64..128]).code, Code::CONTINUE);
        // A block with M set but short: 4.00.
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 5, &[(BLOCK1, &b2)], &value[128..150]).code, Code::BAD_REQUEST);
        // A retransmission of block 1 under a new Message ID (its dedup
        // entry gone): 2.31 again, nothing applied twice.
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 6, &[(BLOCK1, &b1)], &value[64..128]).code, Code::CONTINUE);
        assert_eq!(e.snapshot().transfers[0].received, value[..128]);
        // A duplicate (same Message ID): the same 2.31, from the cache.
        let again = ask(&mut e, 0, PEER, Con, Code::PUT, 4, &[(BLOCK1, &b1)], &value[64..128]);
        assert_eq!((again.code, block_of(&again, BLOCK1)), (Code::CONTINUE, Some(Block { num: 1, more: true, szx: 2 })));
        // Size1 over the room: 4.13 at once, the transfer dropped.
        let big = (VALUE_MAX as u32 + 1).to_be_bytes();
        let r = ask(&mut e, 0, PEER, Con, Code::PUT, 7, &[(BLOCK1, &b0), (SIZE1, &big[1..])], &value[..64]);
        assert_eq!(r.code, Code::REQUEST_ENTITY_TOO_LARGE);
        assert_eq!(r.option(SIZE1).map(decode_uint), Some(crate::capacity::REMOTE_BUDGET + 3));
        assert!(e.snapshot().transfers.is_empty());
        // Blocks beyond VALUE_MAX (budget unlimited): 4.13 with Size1 = VALUE_MAX.
        e.set_remote_budget(u32::MAX);
        let mut mid = 100;
        let r = put(&mut e, PEER, &pattern(VALUE_MAX + 1), 6, &mut mid);
        assert_eq!((r.code, r.option(SIZE1).map(decode_uint)), (Code::REQUEST_ENTITY_TOO_LARGE, Some(VALUE_MAX as u32)));
        assert_eq!(e.resource_value(h).unwrap(), b"old");
        // Exactly VALUE_MAX: stored.
        let r = put(&mut e, PEER, &pattern(VALUE_MAX), 6, &mut mid);
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(e.resource_value(h).unwrap().len(), VALUE_MAX);
        e.collect();
        check_heap(&e);
    }

    #[test]
    fn a_duplicate_last_block_gets_the_same_answer() {
        let (mut e, h) = server(b"old", true);
        let b0 = block_opt(Block { num: 0, more: true, szx: 2 });
        let b1 = block_opt(Block { num: 1, more: false, szx: 2 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 1, &[(BLOCK1, &b0)], &[1; 64]).code, Code::CONTINUE);
        let first = ask(&mut e, 0, PEER, Con, Code::PUT, 2, &[(BLOCK1, &b1)], &[2; 5]);
        assert_eq!((first.code, first.option(ETAG)), (Code::CHANGED, Some(&[2u8][..])));
        e.set_resource_value(h, b"later").unwrap();
        let again = ask(&mut e, 0, PEER, Con, Code::PUT, 2, &[(BLOCK1, &b1)], &[2; 5]);
        assert_eq!(again, first, "the same answer, ETag and Block1 included");
        assert_eq!(e.resource_value(h).unwrap(), b"later", "not applied again");
    }

    #[test]
    fn another_transfer_does_not_lower_value_max() {
        // The budget has room for both: the other transfer's bytes come
        // off the budget, not off VALUE_MAX.
        let (mut e, h) = server(b"", false);
        let other = e.add_resource(b"other", None, None, b"", false).unwrap();
        e.set_methods(other, Methods::ALL, true).unwrap();
        e.set_remote_budget(8 * VALUE_MAX as u32);
        let b0 = block_opt(Block { num: 0, more: true, szx: 6 });
        let d = datagram(Con, Code::PUT, 1, b"o", &[(URI_PATH, b"other"), (BLOCK1, &b0)], &[7; 1024]);
        assert_eq!(exchange(&mut e, 0, PEER, false, &d).0.unwrap().code, Code::CONTINUE);
        let mut mid = 10;
        let r = put(&mut e, Endpoint { port: 40001, ..PEER }, &pattern(VALUE_MAX), 6, &mut mid);
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(e.resource_value(h).unwrap(), &pattern(VALUE_MAX)[..]);
    }

    #[test]
    fn two_peers_write_one_resource_without_mixing() {
        let (mut e, h) = server(b"", false);
        let other = Endpoint { port: 40001, ..PEER };
        let (a, b) = (vec![b'a'; 3000], vec![b'b'; 2000]);
        let (ba0, bb0) = (block_opt(Block { num: 0, more: true, szx: 6 }), block_opt(Block { num: 0, more: true, szx: 6 }));
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 1, &[(BLOCK1, &ba0)], &a[..1024]).code, Code::CONTINUE);
        assert_eq!(ask(&mut e, 0, other, Con, Code::PUT, 1, &[(BLOCK1, &bb0)], &b[..1024]).code, Code::CONTINUE);
        let b1 = block_opt(Block { num: 1, more: false, szx: 6 });
        assert_eq!(ask(&mut e, 0, other, Con, Code::PUT, 2, &[(BLOCK1, &b1)], &b[1024..]).code, Code::CHANGED);
        assert_eq!(e.resource_value(h).unwrap(), &b[..]);
        let a1 = block_opt(Block { num: 1, more: true, szx: 6 });
        let a2 = block_opt(Block { num: 2, more: false, szx: 6 });
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 2, &[(BLOCK1, &a1)], &a[1024..2048]).code, Code::CONTINUE);
        assert_eq!(ask(&mut e, 0, PEER, Con, Code::PUT, 3, &[(BLOCK1, &a2)], &a[2048..]).code, Code::CHANGED);
        assert_eq!(e.resource_value(h).unwrap(), &a[..]);
    }

    #[test]
    fn transfers_are_bounded_and_expire() {
        let (mut e, h) = server(b"", false);
        let b0 = block_opt(Block { num: 0, more: true, szx: 4 });
        for i in 0..TRANSFERS_MAX {
            let from = Endpoint { port: 41000 + i as u16, ..PEER };
            assert_eq!(ask(&mut e, 0, from, Con, Code::PUT, 1, &[(BLOCK1, &b0)], &[1; 256]).code, Code::CONTINUE);
        }
        let r = ask(&mut e, 0, PEER, Con, Code::PUT, 1, &[(BLOCK1, &b0)], &[1; 256]);
        assert_eq!((r.code, r.option(crate::codec::option::MAX_AGE).map(decode_uint)), (Code::SERVICE_UNAVAILABLE, Some(RETRY_AFTER_S)));
        // They count against the remote budget.
        assert!(e.snapshot().transfers.iter().map(|t| t.cap).sum::<u32>() >= (TRANSFERS_MAX * 256) as u32);
        // The timer: poll_timeout names the expiry, poll_event drops them
        // and gives their storage back; their next block gets 4.08.
        assert_eq!(e.poll_timeout(Instant(0)), Some(TRANSFER_LIFETIME_MS));
        assert_eq!(e.poll_event(Instant(TRANSFER_LIFETIME_MS - 1)), None);
        assert_eq!(e.snapshot().transfers.len(), TRANSFERS_MAX);
        assert_eq!(e.poll_event(Instant(TRANSFER_LIFETIME_MS)), None);
        assert!(e.snapshot().transfers.is_empty());
        assert_eq!(e.poll_timeout(Instant(TRANSFER_LIFETIME_MS)), None);
        e.collect();
        check_heap(&e);
        let b1 = block_opt(Block { num: 1, more: false, szx: 4 });
        let from = Endpoint { port: 41000, ..PEER };
        assert_eq!(ask(&mut e, TRANSFER_LIFETIME_MS, from, Con, Code::PUT, 2, &[(BLOCK1, &b1)], &[2; 10]).code, Code::REQUEST_ENTITY_INCOMPLETE);
        // Removing the resource drops its transfers.
        assert_eq!(ask(&mut e, TRANSFER_LIFETIME_MS, from, Con, Code::PUT, 3, &[(BLOCK1, &b0)], &[1; 256]).code, Code::CONTINUE);
        e.remove_resource(h).unwrap();
        assert!(e.snapshot().transfers.is_empty());
    }

    #[test]
    fn a_transfer_sized_by_size1_becomes_the_value_without_a_new_block() {
        // Size1 sizes the transfer's block for the whole value: its last
        // block needs no value block (no allocation, nothing copied but the
        // move over the node); without Size1 the value gets a block of its
        // size.
        let value = pattern(5000);
        for size1 in [true, false] {
            let (mut e, h) = server(b"old", false);
            let mut allocations_at_last = 0;
            for num in 0..5u32 {
                let more = num < 4;
                let b = block_opt(Block { num, more, szx: 6 });
                let total = (value.len() as u32).to_be_bytes();
                let mut opts = vec![(BLOCK1, &b[..])];
                if num == 0 && size1 {
                    opts.push((SIZE1, &total[2..]));
                }
                let chunk = &value[num as usize * 1024..((num as usize + 1) * 1024).min(value.len())];
                let before = e.heap.allocations();
                let r = ask(&mut e, 0, PEER, Con, Code::PUT, 10 + num as u16, &opts, chunk);
                assert_eq!(r.code, if more { Code::CONTINUE } else { Code::CHANGED });
                allocations_at_last = e.heap.allocations() - before;
            }
            assert_eq!(e.resource_value(h).unwrap(), &value[..]);
            let cap = e.snapshot().resources[0].value_cap as usize;
            if size1 {
                assert_eq!((allocations_at_last, cap), (0, block_size(HEADER + 5000)));
            } else {
                assert_eq!((allocations_at_last, cap), (1, 5000));
            }
            e.collect();
            check_heap(&e);
        }
    }

    #[test]
    fn a_refused_block_changes_nothing_but_the_last_may_take_the_transfers_block() {
        // 5000 bytes: the last block does not fit the transfer's 4 KiB; 4000
        // bytes: it does.
        for total in [5000, 4000] {
            let value = pattern(total);
            let n = total.div_ceil(1024);
            // The first allocation of block `target` refused (blocks that
            // allocate nothing refuse nothing).
            for target in 0..n {
                let (mut e, h) = server(b"old", false);
                let (mut mid, mut num, mut tried) = (0, 0, false);
                while num < n {
                    mid += 1;
                    let more = num + 1 < n;
                    let b = block_opt(Block { num: num as u32, more, szx: 6 });
                    let chunk = &value[num * 1024..((num + 1) * 1024).min(total)];
                    e.collect();
                    let before = e.snapshot();
                    let refuse = num == target && !tried;
                    tried |= refuse;
                    if refuse {
                        e.heap.fail_at = Some(e.heap.allocations() + 1);
                    }
                    let r = ask(&mut e, 0, PEER, Con, Code::PUT, mid, &[(BLOCK1, &b)], chunk);
                    let refused = refuse && e.heap.fail_at.is_none();
                    e.heap.fail_at = None;
                    e.collect();
                    check_heap(&e);
                    if refused && (more || total > 4096) {
                        // 5.03 with Max-Age, the engine as before that block
                        // but for the dedup entry; the block sent again
                        // (new Message ID) goes on.
                        assert_eq!(r.code, Code::SERVICE_UNAVAILABLE, "{total} {target}");
                        let mut after = e.snapshot();
                        after.dedup = before.dedup.clone();
                        after.next_mid = before.next_mid;
                        assert_eq!(after, before, "{total} {target}");
                        continue;
                    }
                    assert_eq!(r.code, if more { Code::CONTINUE } else { Code::CHANGED }, "{total} {target}");
                    if refused {
                        // No block for the value: the transfer's own block
                        // (node and bytes) became it, nothing allocated.
                        let cap = before.transfers[0].cap;
                        assert_eq!(e.snapshot().resources[0].value_cap, cap);
                    }
                    num += 1;
                }
                assert_eq!(e.resource_value(h).unwrap(), &value[..], "{total} {target}");
                assert!(e.snapshot().transfers.is_empty());
            }
        }
    }
}

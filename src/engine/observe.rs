//! Observe (RFC 7641), server side: the observers of observable resources
//! and their notifications.
//!
//! - **Registration.** A GET with Observe 0 of a resource marked
//!   observable ([`Engine::set_observable`]), answered 2.05 (or 2.03), adds
//!   an [`ObserverNode`] keyed by the client's endpoint and token (§4.1: an
//!   entry with the same endpoint and token is updated, never doubled),
//!   and the answer carries Observe. Each observer is a block of its own
//!   that counts against the remote budget; when the heap or the budget
//!   refuses it, the GET is answered as a plain GET, without Observe (the
//!   server may decline, §4.1). A GET with Observe 1 removes the entry.
//! - **Notifications.** A change of the value (the application's, a PUT,
//!   a POST, the last block of a Block1 transfer) marks the resource's
//!   observers; [`Engine::poll_notify`] builds each notification from the
//!   current value when it is sent, so the newest state always wins. A
//!   notification is CON while there is no round-trip estimate for the
//!   observer, after [`OBSERVE_NON_MAX`] NON ones in a row and when the
//!   last CON is [`OBSERVE_CON_EVERY_MS`] old; NON otherwise, and then at
//!   most one per smoothed round-trip time (§4.5.1). At most one CON is in
//!   flight per observer (§4.5.2): a change meanwhile is sent when it is
//!   acknowledged, or in its place when it is due for retransmission (a
//!   new Message ID and Observe number, the back-off carried on).
//! - **Ending.** An RST to a notification, a CON notification that is
//!   never acknowledged (MAX_RETRANSMIT), a GET with Observe 1 on the
//!   token, and the removal of the resource (the observer first gets a
//!   NON 4.04 with its token, §3.2) end an observation and give its
//!   storage back.

use super::params::MAX_RETRANSMIT;
use super::resources::{NodeRef, ResourceNode};
use super::server::{write_response, Answer, Body};
use super::store::{block_size, unlinked, Link, List, Node};
use super::{Endpoint, Engine, Error, Instant};
use crate::capacity::{MESSAGE_MAX, OBSERVE_CON_EVERY_MS, OBSERVE_NON_MAX};
use crate::codec::{Code, MessageType};

/// Changed since the last notification.
const DIRTY: u8 = 1;
/// A CON notification awaits its ACK.
const IN_FLIGHT: u8 = 2;
/// The resource is gone: one 4.04 to send, then the node goes.
const GONE: u8 = 4;
/// The CON in flight was retransmitted (no RTT sample from its ACK).
const RETRANSMITTED: u8 = 8;
/// A notification was sent (`mid` is one of ours).
const SENT: u8 = 16;

/// Observe numbers are 24 bits (§3.4).
const SEQ_MASK: u32 = 0x00FF_FFFF;

/// One registration: `token` of `addr:port` observes resource `resource`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct ObserverNode {
    next: Link,
    resource: u32,
    /// The Observe number of the next notification.
    seq: u32,
    /// The CON in flight: when it is due for retransmission; else, NON
    /// pacing: when the next notification may go.
    deadline: u32,
    /// The CON in flight's current retransmission timeout.
    timeout: u32,
    /// When the CON in flight was first sent (its RTT sample).
    sent: u32,
    /// When the last CON was sent.
    last_con: u32,
    /// Smoothed round-trip time in ms; 0 = no estimate yet.
    srtt: u32,
    addr: [u8; 4],
    port: u16,
    /// Message ID of the last notification (its ACK or RST matches it).
    mid: u16,
    token: [u8; 8],
    token_len: u8,
    state: u8,
    tries: u8,
    /// NON notifications since the last CON.
    non_in_row: u8,
}

// SAFETY: `#[repr(C)]` with `next` first; all-zero is a valid node.
unsafe impl Node for ObserverNode {}

/// Bytes an observer holds (and counts against the remote budget).
pub(crate) const OBSERVER_BYTES: usize = block_size(core::mem::size_of::<ObserverNode>());

impl ObserverNode {
    fn peer(&self) -> Endpoint {
        Endpoint { addr: self.addr, port: self.port }
    }

    fn token(&self) -> &[u8] {
        self.token.get(..usize::from(self.token_len)).unwrap_or(&[])
    }

    fn is(&self, from: Endpoint, token: &[u8]) -> bool {
        self.addr == from.addr && self.port == from.port && self.token() == token
    }

    /// Milliseconds from `now` until it has something to send (0: now),
    /// `None` if nothing.
    fn due_in(&self, now: Instant) -> Option<u32> {
        let wait = now.ms_until(Instant(self.deadline)).max(0) as u32;
        if self.state & GONE != 0 {
            Some(0)
        } else if self.state & IN_FLIGHT != 0 {
            Some(wait)
        } else if self.state & DIRTY != 0 {
            // A NON waits for its pacing; a CON goes at once.
            Some(if self.wants_con(now) { 0 } else { wait })
        } else {
            None
        }
    }

    /// The next notification must be CON.
    fn wants_con(&self, now: Instant) -> bool {
        self.srtt == 0 || self.non_in_row >= OBSERVE_NON_MAX || now.ms_since(Instant(self.last_con)) >= OBSERVE_CON_EVERY_MS
    }

    /// A copy of its state (see `snapshot.rs`).
    #[cfg(any(test, feature = "std"))]
    pub(crate) fn state(&self) -> super::snapshot::ObserverState {
        super::snapshot::ObserverState {
            peer: self.peer(),
            token: self.token().to_vec(),
            resource: self.resource,
            seq: self.seq,
            state: self.state,
        }
    }
}

/// The observers (all-zero: none).
pub(crate) struct Observers {
    list: List<ObserverNode>,
}

impl Observers {
    /// Milliseconds until [`Engine::poll_notify`] has something to send.
    pub(crate) fn next_due(&self, now: Instant) -> Option<u32> {
        self.list.iter().filter_map(|o| o.due_in(now)).min()
    }

    /// How many observe resource `id` (all resources: `None`).
    pub(crate) fn count(&self, id: Option<u32>) -> usize {
        self.list.iter().filter(|o| id.is_none_or(|id| o.resource == id)).count()
    }

    #[cfg(any(test, feature = "std"))]
    pub(crate) fn states(&self) -> std::vec::Vec<super::snapshot::ObserverState> {
        self.list.iter().map(ObserverNode::state).collect()
    }
}

impl Engine {
    /// Marks resource `h` observable or not: an observable resource shows
    /// `obs` in `/.well-known/core`, and a GET with Observe 0 registers the
    /// client. Turning it off ends its observations silently.
    pub fn set_observable(&mut self, h: super::ResourceHandle, on: bool) -> Result<(), Error> {
        self.resources.get_mut(h)?.set_observable(on);
        if !on {
            let id = h.raw();
            self.drop_observers(&mut |o| o.resource == id);
        }
        self.links_changed();
        Ok(())
    }

    /// How many clients observe resource `h`.
    pub fn observer_count(&self, h: super::ResourceHandle) -> Result<usize, Error> {
        self.resources.get(h)?;
        Ok(self.observers.count(Some(h.raw())))
    }

    /// The Observe option of a GET of `r` (value `observe`) from `from`
    /// with `token`, answered `code`: registers, updates or removes the
    /// entry. Returns the Observe number the answer carries, `None` for a
    /// plain answer. [`Error::NeedStorage`] before anything changed when a
    /// new entry needs its block.
    pub(crate) fn observe_request(
        &mut self,
        from: Endpoint,
        token: &[u8],
        r: &ResourceNode,
        observe: u32,
        code: Code,
    ) -> Result<Option<u32>, Error> {
        let id = r.handle().raw();
        if observe == 1 {
            self.drop_observers(&mut |o| o.is(from, token));
            return Ok(None);
        }
        if observe != 0 || !r.observable() || !(code == Code::CONTENT || code == Code::VALID) {
            return Ok(None);
        }
        if let Some(o) = self.observers.list.find_mut(|o| o.is(from, token)) {
            // §4.1: the same endpoint and token: the entry is updated.
            o.resource = id;
            o.state &= !(DIRTY | GONE);
            let seq = o.seq;
            o.seq = (seq + 1) & SEQ_MASK;
            return Ok(Some(seq));
        }
        if self.store.remote_used as usize + OBSERVER_BYTES > self.store.remote_budget as usize {
            return Ok(None);
        }
        let mut reserved = match self.store.reserve(&[OBSERVER_BYTES]) {
            Ok(r) => r,
            Err(Error::NeedStorage) => return Err(Error::NeedStorage),
            // The heap has no room: a plain GET.
            Err(_) => return Ok(None),
        };
        let Some((block, _)) = reserved.take(0) else { return Ok(None) };
        let seq = self.next_observe_seq();
        self.observers.list.append(block, |o| {
            o.resource = id;
            o.addr = from.addr;
            o.port = from.port;
            o.token_len = token.len().min(8) as u8;
            if let Some(dst) = o.token.get_mut(..token.len()) {
                dst.copy_from_slice(token);
            }
            o.seq = (seq + 1) & SEQ_MASK;
        });
        self.store.remote_used += OBSERVER_BYTES as u32;
        Ok(Some(seq))
    }

    /// A first Observe number: any will do (§3.4 compares numbers of one
    /// registration only); from the engine's RNG, so that a client that
    /// registers again does not see the numbers start over low.
    fn next_observe_seq(&mut self) -> u32 {
        self.rng.next_u32() & (SEQ_MASK >> 1)
    }

    /// The value of resource `id` changed: its observers get notified.
    pub(crate) fn observed_changed(&mut self, id: u32) {
        self.observers.list.for_each_mut(|o| {
            if o.resource == id {
                o.state |= DIRTY;
            }
        });
    }

    /// Resource `id` was removed: each of its observers gets a 4.04 and goes.
    pub(crate) fn observed_gone(&mut self, id: u32) {
        self.observers.list.for_each_mut(|o| {
            if o.resource == id {
                o.state = GONE;
            }
        });
    }

    /// Drops the observers that `pred` selects, giving their storage back.
    /// One copy for every caller (`pred` is a reference): flash counts.
    #[inline(never)]
    pub(crate) fn drop_observers(&mut self, pred: &mut dyn FnMut(&ObserverNode) -> bool) {
        while let Some(p) = self.observers.list.unlink(&mut *pred) {
            let _: ObserverNode = unlinked(p);
            self.store.release(p, OBSERVER_BYTES);
            self.store.remote_used = self.store.remote_used.saturating_sub(OBSERVER_BYTES as u32);
        }
    }

    /// An ACK from `from` with `mid`: true if it acknowledges a CON
    /// notification (which then ends its flight and, if it was not
    /// retransmitted, gives a round-trip sample).
    pub(crate) fn observer_acked(&mut self, now: Instant, from: Endpoint, mid: u16) -> bool {
        let Some(o) = self
            .observers
            .list
            .find_mut(|o| o.state & IN_FLIGHT != 0 && o.mid == mid && o.addr == from.addr && o.port == from.port)
        else {
            return false;
        };
        if o.state & RETRANSMITTED == 0 {
            let sample = now.ms_since(Instant(o.sent)).max(1);
            o.srtt = if o.srtt == 0 { sample } else { (7 * (o.srtt / 8)).saturating_add(sample / 8).max(1) };
        }
        o.state &= !(IN_FLIGHT | RETRANSMITTED);
        o.deadline = now.0;
        true
    }

    /// An RST from `from` with `mid`: true if it rejects a notification
    /// (§3.6: the observation ends).
    pub(crate) fn observer_reset(&mut self, from: Endpoint, mid: u16) -> bool {
        let mut found = false;
        self.drop_observers(&mut |o| {
            let hit = !found && o.state & SENT != 0 && o.mid == mid && o.addr == from.addr && o.port == from.port;
            found |= hit;
            hit
        });
        found
    }

    /// The next notification to send now, written into `buf`, with its
    /// destination; `Ok(None)` when none is due. [`Engine::poll_transmit`]
    /// returns these once no request is due. [`Error::Buffer`] if `buf` is
    /// shorter than [`MESSAGE_MAX`].
    pub(crate) fn poll_notify(&mut self, now: Instant, buf: &mut [u8]) -> Result<Option<(Endpoint, usize)>, Error> {
        if buf.len() < MESSAGE_MAX {
            return Err(Error::Buffer);
        }
        loop {
            let Some(o) = self.observers.list.iter().find(|o| o.due_in(now) == Some(0)) else { return Ok(None) };
            let node = o as *const ObserverNode;
            let (peer, token, token_len) = (o.peer(), o.token, o.token_len);
            let gone = o.state & GONE != 0;
            let given_up = o.state & IN_FLIGHT != 0 && o.tries >= MAX_RETRANSMIT;
            if !gone && !given_up {
                return Ok(self.notify(now, buf));
            }
            self.drop_observers(&mut |n| core::ptr::eq(n, node));
            if gone {
                // §3.2: a 4.04 ends the observation of a removed resource.
                let mid = self.take_mid();
                let token = token.get(..usize::from(token_len)).unwrap_or(&[]);
                let len = write_response(&Answer::plain(Code::NOT_FOUND), MessageType::Non, mid, token, buf);
                return Ok((len > 0).then_some((peer, len)));
            }
            // Never acknowledged: the client is gone (§4.5); the next one.
        }
    }

    /// Sends the notification of the first due observer (not gone, not
    /// given up): a retransmission, or a new CON or NON.
    fn notify(&mut self, now: Instant, buf: &mut [u8]) -> Option<(Endpoint, usize)> {
        let ack_timeout = self.ack_timeout_ms();
        let jitter = self.rng.below_or_eq(ack_timeout / 2);
        let fresh_mid = self.take_mid();
        let o = self.observers.list.find_mut(|o| o.due_in(now) == Some(0))?;
        let in_flight = o.state & IN_FLIGHT != 0;
        let dirty = o.state & DIRTY != 0;
        let con = in_flight || o.wants_con(now);
        // A retransmission of an unchanged state keeps its Message ID and
        // Observe number (the client deduplicates it); a change takes new
        // ones, and the back-off carries on (§4.5.2).
        let (mid, seq) = if in_flight && !dirty {
            (o.mid, o.seq.wrapping_sub(1) & SEQ_MASK)
        } else {
            let seq = o.seq;
            o.seq = (seq + 1) & SEQ_MASK;
            (fresh_mid, seq)
        };
        o.mid = mid;
        o.state = (o.state & !DIRTY) | SENT;
        if con {
            if in_flight {
                o.tries += 1;
                o.timeout = o.timeout.saturating_mul(2);
                o.state |= RETRANSMITTED;
            } else {
                o.tries = 0;
                o.timeout = ack_timeout + jitter;
                o.sent = now.0;
                o.last_con = now.0;
                o.non_in_row = 0;
                o.state |= IN_FLIGHT;
            }
            o.deadline = now.add_ms(o.timeout).0;
        } else {
            o.non_in_row = o.non_in_row.saturating_add(1);
            o.deadline = now.add_ms(o.srtt).0;
        }
        let (peer, resource) = (o.peer(), o.resource);
        let (token, token_len) = (o.token, o.token_len);
        let token = token.get(..usize::from(token_len)).unwrap_or(&[]);
        let t = if con { MessageType::Con } else { MessageType::Non };
        let answer = match self.resources.find_ref(resource) {
            Some((node, r)) => notification(r, node, seq),
            None => Answer::plain(Code::NOT_FOUND),
        };
        let len = write_response(&answer, t, mid, token, buf);
        (len > 0).then_some((peer, len))
    }
}

/// A notification of `r` (found as `node`) with Observe `seq`: what a GET
/// gets, or its first block when the value does not fit one message.
fn notification(r: &ResourceNode, node: NodeRef, seq: u32) -> Answer {
    let mut a = Answer::new(Code::CONTENT, Body::Value(node));
    a.etag = r.etag();
    a.content_format = r.media_type();
    a.max_age = r.max_age();
    a.observe = Some(seq);
    let total = r.value().len();
    if total > crate::capacity::SINGLE_VALUE_MAX {
        if let Ok(Some(b)) = super::blockwise::block2_of(None, total, false) {
            a.block2 = Some(b.to_uint());
            a.etag = Some(r.etag_counter());
        }
    }
    a
}

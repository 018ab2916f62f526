//! Observe on the client side (RFC 7641): a GET sent with `observe`
//! registers, and its request node becomes the observation.
//!
//! - **Registration.** The request carries Observe 0 as its first option
//!   (`REGISTERS` in `RequestNode::xfer`). The first 2.xx answer that carries
//!   Observe establishes the observation (`ESTABLISHED` in `seq`): it is
//!   reported like any response, and the node stays, `OBSERVING`, with
//!   its encoding (the prefix of Block2 fetches and of the
//!   deregistration). An answer without Observe is a plain response: the
//!   request is done (§3.1: the server declined).
//! - **Notifications** are CON or NON responses with the registration's
//!   token, matched by token and endpoint (`match_separate`). A 2.xx one
//!   with Observe is reported when fresh (§3.4: its number is newer than
//!   the last one reported, in 24-bit serial arithmetic, or 128 s have
//!   passed since), ignored otherwise; a CON one is acknowledged either
//!   way. A notification with Block2 is fetched to its end by
//!   `client/block.rs` (with plain GETs: the registration's Observe 0 is
//!   left out, RFC 7959 §2.4, and the first token byte is flipped, so they
//!   are new requests; repeating Observe 0 made aiocoap restart its
//!   numbering, and a plain GET on the observation's token ended the
//!   observation there) and reported once, whole;
//!   a newer notification that arrives meanwhile is acknowledged and
//!   ignored. A notification that is not 2.xx, or has no Observe, is
//!   reported and ends the observation (§3.2).
//! - **Deregistration** ([`Engine::cancel_observe`]): the node is sent
//!   again as a GET with Observe 1 on the same token (its encoding
//!   rewritten in place, a new Message ID, the back-off of any request; a
//!   node that fetched a notification block-wise sends it as its transfer's
//!   prefix, asking for block 0) and marked `CANCELLED`: its answer ends
//!   it silently, and so do an RST or a give-up. A notification that
//!   arrives meanwhile or later matches nothing: a CON or NON one gets
//!   RST (§3.6), which ends the observation at the server too.

use super::{Matched, RequestNode, OBSERVING, QUEUED};
use crate::codec::{option, Message, MessageType};
use crate::engine::{Engine, Error, Instant, SessionHandle};

/// `RequestNode::xfer`, bit 3: the request registers an observation.
pub(super) const REGISTERS: u8 = 8;
/// `RequestNode::seq`: the registration was answered with Observe.
pub(super) const ESTABLISHED: u32 = 1 << 30;
/// `RequestNode::seq`: the request is a deregistration; it ends silently.
pub(super) const CANCELLED: u32 = 1 << 31;
/// `RequestNode::seq`: the last reported notification's number.
const NUMBER: u32 = 0xFF_FFFF;
/// §3.4: a notification this much later than the last one is fresh
/// whatever its number.
const FRESH_AFTER_MS: u32 = 128_000;

/// The Observe number of `msg`, if it carries one.
pub(crate) fn number(msg: &Message<'_>) -> Option<u32> {
    msg.options().find(|o| o.number == option::OBSERVE).map(|o| o.uint() & NUMBER)
}

/// RFC 7641 §3.4: whether a notification numbered `v2` arriving at `now`
/// is newer than the one numbered `v1` reported at `t1`.
fn fresh(v1: u32, v2: u32, t1: Instant, now: Instant) -> bool {
    let d = v2.wrapping_sub(v1) & NUMBER;
    (d != 0 && d < 1 << 23) || now.ms_since(t1) > FRESH_AFTER_MS
}

/// What response `msg` is to request `p` as far as Observe goes: `Ok` with
/// the node's `seq` word once the response is taken (`ESTABLISHED` set:
/// the node stays, as an observation; `CANCELLED` set: the answer to a
/// deregistration, which ends it silently), or `Err` with the answer to
/// give at once (a stale notification, or a newer one during a fetch:
/// `Quiet`; a notification after a deregistration: `No`, so RST).
pub(super) fn step(p: &RequestNode, now: Instant, msg: &Message<'_>) -> Result<u32, Matched<'static>> {
    if p.seq == 0 && p.xfer & REGISTERS == 0 {
        // A plain request: its answer's options need no second look.
        return Ok(0);
    }
    let n = number(msg);
    // A notification, as opposed to the answer to a request of ours: a
    // CON or NON response that carries Observe.
    let notification = n.is_some() && msg.mtype() != MessageType::Ack;
    if p.seq & CANCELLED != 0 {
        return if notification { Err(Matched::No) } else { Ok(p.seq) };
    }
    let obs = n.filter(|_| msg.code().class() == 2);
    if p.seq & ESTABLISHED == 0 {
        // The registration's answer (or a plain request's).
        return Ok(match obs {
            Some(v) if p.xfer & REGISTERS != 0 => ESTABLISHED | v,
            _ => p.seq,
        });
    }
    if p.state != OBSERVING {
        // The blocks of a notification are being fetched.
        return if notification { Err(Matched::Quiet) } else { Ok(p.seq) };
    }
    match obs {
        Some(v) if fresh(p.seq & NUMBER, v, Instant(p.deadline), now) => Ok(ESTABLISHED | v),
        Some(_) => Err(Matched::Quiet),
        // Not 2.xx, or no Observe: reported, and the observation ends.
        None => Ok(0),
    }
}

impl Engine {
    /// Ends the observation of session `h` that carries `token`
    /// (`session.cancel_observe`): a GET with Observe 1 on that token goes
    /// (RFC 7641 §3.6), and nothing more is reported for it; notifications
    /// that still arrive get RST. A fetch of a notification's blocks in
    /// progress is abandoned. A registration not yet answered is dropped
    /// like [`Engine::cancel_request`] (a notification that follows
    /// gets RST). `Ok(false)` if the session has no observation with that
    /// token, [`Error::Stale`] if the session is gone. No storage: the
    /// registration's encoding becomes the deregistration in place (one
    /// byte more, kept for it by `send_request`).
    pub fn cancel_observe(&mut self, h: SessionHandle, token: &[u8], now: Instant) -> Result<bool, Error> {
        self.cancel(h, token, Some(now))
    }

    /// [`Engine::cancel_request`] (`observe` None: the oldest request with
    /// the token) and [`Engine::cancel_observe`] (the observation, or the
    /// registration, with the token) in one body, so that dropping a
    /// request is one copy of the code.
    #[inline(never)]
    pub(super) fn cancel(&mut self, h: SessionHandle, token: &[u8], observe: Option<Instant>) -> Result<bool, Error> {
        self.client.session(h)?;
        let id = h.raw();
        let ours = |p: &RequestNode| {
            p.session == id && p.token() == token && (observe.is_none() || p.xfer & REGISTERS != 0 && p.seq & CANCELLED == 0)
        };
        let mid = self.next_mid;
        let Some(q) = self.client.requests.find_mut(ours) else { return Ok(false) };
        match observe {
            // An observation, also while it fetches a notification's
            // blocks (that fetch is abandoned: a late answer to it matches
            // no Message ID any more).
            Some(now) if q.seq & ESTABLISHED != 0 => {
                self.next_mid = mid.wrapping_add(1);
                super::block::deregister(q, mid);
                q.seq |= CANCELLED;
                q.mid = mid;
                q.state = QUEUED;
                q.retransmits = 0;
                q.deadline = now.0;
            }
            _ => {
                let at: *const RequestNode = q;
                self.take_node(at);
            }
        }
        Ok(true)
    }
}

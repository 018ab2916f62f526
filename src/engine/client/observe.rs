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
//!   `client/block.rs` (the fetch's GETs repeat the registration, which
//!   the server takes as the same entry, §4.1) and reported once, whole;
//!   a newer notification that arrives meanwhile is acknowledged and
//!   ignored. A notification that is not 2.xx, or has no Observe, is
//!   reported and ends the observation (§3.2).
//! - **Deregistration** ([`Engine::cancel_observe`]): the node is sent
//!   again as a GET with Observe 1 on the same token (a new Message ID,
//!   the back-off of any request) and marked `CANCELLED`: its answer ends
//!   it silently, and so do an RST or a give-up. A notification that
//!   arrives meanwhile or later matches nothing: a CON or NON one gets
//!   RST (§3.6), which ends the observation at the server too.

use super::{Matched, RequestNode, OBSERVING, QUEUED};
use crate::codec::{option, Message, MessageType};
use crate::engine::link_format::Out;
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
fn number(msg: &Message<'_>) -> Option<u32> {
    msg.options().find(|o| o.number == option::OBSERVE).map(|o| o.uint() & NUMBER)
}

/// RFC 7641 §3.4: whether a notification numbered `v2` arriving at `now`
/// is newer than the one numbered `v1` reported at `t1`.
fn fresh(v1: u32, v2: u32, t1: Instant, now: Instant) -> bool {
    let d = v2.wrapping_sub(v1) & NUMBER;
    (d != 0 && d < 1 << 23) || now.ms_since(t1) > FRESH_AFTER_MS
}

/// A notification, as opposed to the answer to a request of ours: a CON or
/// NON response that carries Observe.
pub(super) fn is_notification(msg: &Message<'_>) -> bool {
    msg.mtype() != MessageType::Ack && number(msg).is_some()
}

/// What response `msg` is to request `p` as far as Observe goes: `Ok` with
/// the node's `seq` word once the response is taken (`ESTABLISHED` set:
/// the node stays, as an observation), or `Err` with the answer to give
/// at once (a stale notification, or a newer one during a fetch: `Quiet`).
/// A deregistration (`CANCELLED`) is the caller's.
pub(super) fn step(p: &RequestNode, now: Instant, msg: &Message<'_>) -> Result<u32, Matched<'static>> {
    let obs = number(msg).filter(|_| msg.code().class() == 2);
    if p.seq & ESTABLISHED == 0 {
        // The registration's answer (or a plain request's).
        return Ok(match obs {
            Some(v) if p.xfer & REGISTERS != 0 => ESTABLISHED | v,
            _ => p.seq,
        });
    }
    if p.state != OBSERVING {
        // The blocks of a notification are being fetched.
        return if is_notification(msg) { Err(Matched::Quiet) } else { Ok(p.seq) };
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
    /// that still arrive get RST. A registration not yet answered is
    /// dropped like [`Engine::cancel_request`] (a notification that follows
    /// gets RST). `Ok(false)` if the session has no observation with that
    /// token, [`Error::Stale`] if the session is gone. Storage: the
    /// deregistration's encoding ([`Error::NeedStorage`] /
    /// [`Error::NoMemory`] before anything changed).
    pub fn cancel_observe(&mut self, h: SessionHandle, token: &[u8], now: Instant) -> Result<bool, Error> {
        self.client.session(h)?;
        let id = h.raw();
        let ours = |p: &RequestNode| p.session == id && p.token() == token && p.xfer & REGISTERS != 0 && p.seq & CANCELLED == 0;
        let Some(p) = self.client.requests.iter().find(|p| ours(p)) else { return Ok(false) };
        if p.state != OBSERVING {
            return Ok(self.take_request(ours).is_some());
        }
        // The registration's encoding, with Observe 0 (one byte, the first
        // option after the token) made Observe 1 (two).
        let at = 4 + token.len();
        let len = super::block::prefix(p).len() + 1;
        let mut r = self.store.reserve(&[len])?;
        let Some((nb, cap)) = r.take(0) else { return Err(Error::NoMemory) };
        let mid = self.take_mid();
        let Some(q) = self.client.requests.find_mut(ours) else { return Err(Error::NoMemory) };
        let prefix = super::block::prefix(q);
        // SAFETY: `nb` is a fresh block of `cap >= len` bytes, distinct
        // from the node's own.
        let mut out = Out::new(unsafe { core::slice::from_raw_parts_mut(nb.as_ptr(), len) });
        out.put(prefix.get(..2).unwrap_or_default());
        out.put(&mid.to_be_bytes());
        out.put(prefix.get(4..at).unwrap_or_default());
        out.put(&[0x61, 1]);
        out.put(prefix.get(at + 1..).unwrap_or_default());
        let old = q.bytes.replace(nb).map(|b| (b, usize::from(q.bytes_cap)));
        q.bytes_len = len as u16;
        q.bytes_cap = cap as u16;
        // A plain request now: no transfer, no Block2, no registration.
        q.xfer &= 0xf0;
        q.seq |= CANCELLED;
        q.mid = mid;
        q.state = QUEUED;
        q.retransmits = 0;
        q.deadline = now.0;
        if let Some((b, size)) = old {
            self.store.release(b, size);
        }
        Ok(true)
    }
}
